"""CircuitBreaker: open after repeated failures, refuse fast, probe half-open."""

from __future__ import annotations

import datetime as dt
import itertools
import random

import pendulum
import pytest
from hypothesis import given
from hypothesis import strategies as st

from orderkit.errors import (
    CallTimedOut,
    CircuitOpen,
    IdempotencyConflict,
    TransientError,
    ValidationError,
)
from orderkit.services import (
    DEFAULT_BREAKER_COOL_DOWN,
    BreakerState,
    CircuitBreaker,
    RetryPolicy,
    retry,
)
from orderkit.testing import FrozenClock


T0 = pendulum.datetime(2026, 11, 11, 1, tz="UTC")
COOL_DOWN = dt.timedelta(seconds=30)
CLOSED, OPEN, HALF_OPEN = BreakerState.CLOSED, BreakerState.OPEN, BreakerState.HALF_OPEN

Change = tuple[str, BreakerState, BreakerState]


class Carrier:
    """A carrier's label API: answers, or fails with a 503, as the test says."""

    def __init__(self) -> None:
        self.calls = 0
        self.down = False

    def label(self) -> str:
        self.calls += 1
        if self.down:
            raise TransientError("sf-express.labels.create", "503 Service Unavailable")
        return f"SF{1_000_000 + self.calls}"


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(T0)


@pytest.fixture
def carrier() -> Carrier:
    return Carrier()


@pytest.fixture
def changes() -> list[Change]:
    return []


@pytest.fixture
def breaker(clock: FrozenClock, changes: list[Change]) -> CircuitBreaker:
    return CircuitBreaker(
        "sf-express",
        clock=clock,
        cool_down=COOL_DOWN,
        on_change=lambda *change: changes.append(change),
    )


def fail(breaker: CircuitBreaker, carrier: Carrier, times: int) -> None:
    carrier.down = True
    for _ in range(times):
        with pytest.raises(TransientError):
            breaker.call(carrier.label)


def trip_and_wait(
    breaker: CircuitBreaker, carrier: Carrier, clock: FrozenClock, **wait: float
) -> None:
    """Open the breaker with five failures in a row, then move the clock by `wait`."""
    fail(breaker, carrier, 5)
    clock.advance(**wait)


def transitions(*states: BreakerState) -> list[Change]:
    """The changes sf-express reports as it walks through `states` in turn."""
    return [("sf-express", old, new) for old, new in itertools.pairwise(states)]


class TestClosed:
    """Closed: calls go through; consecutive transient failures are counted."""

    def test_starts_closed_and_passes_results(
        self, breaker: CircuitBreaker, carrier: Carrier, changes: list[Change]
    ) -> None:
        assert CLOSED is breaker.state
        assert "SF1000001" == breaker.call(carrier.label)
        assert "sf-express" == breaker.name
        assert [] == changes

    def test_four_failures_keep_it_closed(
        self, breaker: CircuitBreaker, carrier: Carrier
    ) -> None:
        fail(breaker, carrier, 4)
        assert CLOSED is breaker.state

    def test_a_success_resets_the_count(
        self, breaker: CircuitBreaker, carrier: Carrier
    ) -> None:
        fail(breaker, carrier, 4)
        carrier.down = False
        breaker.call(carrier.label)
        fail(breaker, carrier, 4)
        assert CLOSED is breaker.state

    def test_other_errors_pass_through_without_counting(
        self, breaker: CircuitBreaker, carrier: Carrier
    ) -> None:
        conflict = IdempotencyConflict("sf-express:label:DY-1001")

        def refused() -> str:
            raise conflict

        fail(breaker, carrier, 4)
        for _ in range(10):
            with pytest.raises(IdempotencyConflict) as caught:
                breaker.call(refused)
            assert conflict is caught.value
        assert CLOSED is breaker.state
        # Neither counted nor reset: the fifth transient failure opens it.
        fail(breaker, carrier, 1)
        assert OPEN is breaker.state


class TestOpening:
    """The fifth consecutive failure opens it; then calls are refused unmade."""

    def test_opens_at_five_and_reports_it(
        self, breaker: CircuitBreaker, carrier: Carrier, changes: list[Change]
    ) -> None:
        fail(breaker, carrier, 5)
        assert OPEN is breaker.state
        assert [("sf-express", CLOSED, OPEN)] == changes

    def test_timeouts_count_as_failures(self, clock: FrozenClock) -> None:
        breaker = CircuitBreaker("payments", clock=clock, threshold=2)

        def timed_out() -> None:
            raise CallTimedOut("alipay.capture", "no reply in 10 s")

        for _ in range(2):
            with pytest.raises(CallTimedOut):
                breaker.call(timed_out)
        assert OPEN is breaker.state

    def test_refuses_without_calling_until_the_cool_down(
        self, breaker: CircuitBreaker, carrier: Carrier, clock: FrozenClock
    ) -> None:
        fail(breaker, carrier, 5)
        carrier.down = False
        calls = carrier.calls
        clock.advance(seconds=29, microseconds=999_999)
        with pytest.raises(CircuitOpen) as caught:
            breaker.call(carrier.label)
        assert calls == carrier.calls
        assert "sf-express" == caught.value.name
        assert T0.add(seconds=30) == caught.value.until

    def test_threshold_is_configurable(
        self, clock: FrozenClock, carrier: Carrier
    ) -> None:
        breaker = CircuitBreaker("sf-express", clock=clock, threshold=1)
        fail(breaker, carrier, 1)
        assert OPEN is breaker.state


class TestHalfOpen:
    """After the cool-down one trial goes through; it closes or re-opens it."""

    def test_turns_half_open_after_the_cool_down(
        self,
        breaker: CircuitBreaker,
        carrier: Carrier,
        clock: FrozenClock,
        changes: list[Change],
    ) -> None:
        trip_and_wait(breaker, carrier, clock, seconds=30)
        assert HALF_OPEN is breaker.state
        assert transitions(CLOSED, OPEN, HALF_OPEN) == changes

    def test_a_successful_trial_closes_it(
        self,
        breaker: CircuitBreaker,
        carrier: Carrier,
        clock: FrozenClock,
        changes: list[Change],
    ) -> None:
        trip_and_wait(breaker, carrier, clock, seconds=30)
        carrier.down = False
        assert "SF1000006" == breaker.call(carrier.label)
        assert CLOSED is breaker.state
        assert transitions(CLOSED, OPEN, HALF_OPEN, CLOSED) == changes
        # Closed afresh: four failures do not open it again.
        fail(breaker, carrier, 4)
        assert CLOSED is breaker.state

    def test_a_failed_trial_reopens_it_for_another_cool_down(
        self,
        breaker: CircuitBreaker,
        carrier: Carrier,
        clock: FrozenClock,
        changes: list[Change],
    ) -> None:
        trip_and_wait(breaker, carrier, clock, seconds=45)
        fail(breaker, carrier, 1)
        assert 6 == carrier.calls
        assert OPEN is breaker.state
        with pytest.raises(CircuitOpen) as caught:
            breaker.call(carrier.label)
        assert T0.add(seconds=75) == caught.value.until
        assert 6 == carrier.calls
        assert transitions(CLOSED, OPEN, HALF_OPEN, OPEN) == changes

    def test_only_one_trial_at_a_time(
        self, breaker: CircuitBreaker, carrier: Carrier, clock: FrozenClock
    ) -> None:
        trip_and_wait(breaker, carrier, clock, seconds=30)
        carrier.down = False
        refused: list[CircuitOpen] = []

        def trial() -> str:
            # A second caller arrives while the trial is still running.
            try:
                breaker.call(carrier.label)
            except CircuitOpen as error:
                refused.append(error)
            return carrier.label()

        breaker.call(trial)
        assert 1 == len(refused)
        assert 1 == carrier.calls - 5
        assert CLOSED is breaker.state

    def test_a_trial_ending_in_another_error_leaves_it_half_open(
        self,
        breaker: CircuitBreaker,
        carrier: Carrier,
        clock: FrozenClock,
        changes: list[Change],
    ) -> None:
        trip_and_wait(breaker, carrier, clock, seconds=30)

        def bad_request() -> str:
            raise ValidationError("tracking_number", "", "must not be empty")

        with pytest.raises(ValidationError):
            breaker.call(bad_request)
        assert HALF_OPEN is breaker.state
        carrier.down = False
        breaker.call(carrier.label)
        assert CLOSED is breaker.state
        assert 3 == len(changes)

    def test_a_hook_failing_on_half_open_does_not_keep_it_shut(
        self, clock: FrozenClock, carrier: Carrier
    ) -> None:
        """The alert hook fails once as the breaker half-opens; the next call tries."""
        failing = [True]

        def alert(_name: str, _old: BreakerState, new: BreakerState) -> None:
            if new is HALF_OPEN and failing.pop():
                raise TimeoutError("the alert webhook timed out")

        breaker = CircuitBreaker(
            "sf-express", clock=clock, cool_down=COOL_DOWN, on_change=alert
        )
        trip_and_wait(breaker, carrier, clock, seconds=30)
        carrier.down = False
        with pytest.raises(TimeoutError):
            breaker.call(carrier.label)
        breaker.call(carrier.label)  # the trial, not CircuitOpen for ever
        assert CLOSED is breaker.state

    def test_half_opens_on_the_next_call_without_reading_state(
        self,
        breaker: CircuitBreaker,
        carrier: Carrier,
        clock: FrozenClock,
        changes: list[Change],
    ) -> None:
        trip_and_wait(breaker, carrier, clock, minutes=10)
        carrier.down = False
        breaker.call(carrier.label)
        assert [CLOSED, OPEN, HALF_OPEN, CLOSED] == [
            changes[0][1],
            *(new for _, _, new in changes),
        ]

    def test_a_clock_stepping_back_keeps_it_open(
        self, breaker: CircuitBreaker, carrier: Carrier, clock: FrozenClock
    ) -> None:
        trip_and_wait(breaker, carrier, clock, hours=-1)
        clock.advance(seconds=45)
        assert OPEN is breaker.state


class TestWithRetry:
    """Inside retry, every attempt counts and an open breaker ends the retries."""

    def test_open_breaker_stops_retrying(
        self, breaker: CircuitBreaker, carrier: Carrier, clock: FrozenClock
    ) -> None:
        carrier.down = True
        policy = RetryPolicy(retries=10)
        with pytest.raises(CircuitOpen):
            retry(
                lambda: breaker.call(carrier.label),
                clock=clock,
                policy=policy,
                rng=random.Random(6),  # noqa: S311 - repeatable jitter
            )
        # Five failures open it; the sixth attempt is refused unmade.
        assert 5 == carrier.calls
        assert 5 == len(clock.slept)


class TestValidation:
    """Bad settings are refused, naming the field."""

    def test_default_cool_down(self, clock: FrozenClock, carrier: Carrier) -> None:
        breaker = CircuitBreaker("sf-express", clock=clock)
        fail(breaker, carrier, 5)
        with pytest.raises(CircuitOpen) as caught:
            breaker.call(carrier.label)
        assert T0 + DEFAULT_BREAKER_COOL_DOWN == caught.value.until
        assert dt.timedelta(seconds=30) == DEFAULT_BREAKER_COOL_DOWN

    @pytest.mark.parametrize(
        ("kwargs", "field"),
        [
            ({"name": ""}, "name"),
            ({"name": 7}, "name"),
            ({"threshold": 0}, "threshold"),
            ({"threshold": 2.5}, "threshold"),
            ({"threshold": True}, "threshold"),
            ({"cool_down": dt.timedelta(0)}, "cool_down"),
            ({"cool_down": 30}, "cool_down"),
            ({"cool_down": dt.timedelta.max}, "cool_down"),
        ],
    )
    def test_refused(
        self, clock: FrozenClock, kwargs: dict[str, object], field: str
    ) -> None:
        settings: dict[str, object] = {"name": "sf-express", **kwargs}
        with pytest.raises(ValidationError) as caught:
            CircuitBreaker(clock=clock, **settings)  # type: ignore[arg-type]
        assert field == caught.value.field
        assert settings[field] == caught.value.value


class TestProperties:
    """For any run of outcomes and clock moves, the breaker keeps its promises."""

    @given(
        threshold=st.integers(min_value=1, max_value=6),
        steps=st.lists(
            st.tuples(st.booleans(), st.integers(min_value=0, max_value=20)),
            max_size=60,
        ),
    )
    def test_never_calls_while_open_before_the_cool_down(
        self, threshold: int, steps: list[tuple[bool, int]]
    ) -> None:
        clock = FrozenClock(T0)
        changes: list[Change] = []
        opened: list[pendulum.DateTime] = []

        def on_change(name: str, old: BreakerState, new: BreakerState) -> None:
            changes.append((name, old, new))
            if new is OPEN:
                opened.append(clock.now())

        breaker = CircuitBreaker(
            "sf-express",
            clock=clock,
            threshold=threshold,
            cool_down=COOL_DOWN,
            on_change=on_change,
        )
        carrier = Carrier()
        for down, seconds in steps:
            clock.advance(seconds=seconds)
            carrier.down = down
            calls = carrier.calls
            was_open = breaker.state is OPEN
            refused: CircuitOpen | None = None
            try:
                breaker.call(carrier.label)
            except CircuitOpen as error:
                refused = error
            except TransientError:
                pass
            if was_open:
                assert refused is not None
                assert calls == carrier.calls
                assert opened[-1] + COOL_DOWN == refused.until
                assert clock.now() < refused.until
            else:
                assert refused is None
                assert calls + 1 == carrier.calls
        # Every change starts where the previous one ended, from closed.
        states = [CLOSED, *(new for _, _, new in changes)]
        assert states[:-1] == [old for _, old, _ in changes]
        assert all(old is not new for _, old, new in changes)
        assert states[-1] is breaker.state
