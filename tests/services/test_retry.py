"""retry and RetryPolicy: capped exponential backoff with jitter, on the Clock port."""

from __future__ import annotations

import math
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
from orderkit.services import RetryPolicy, retry
from orderkit.testing import FrozenClock


T0 = pendulum.datetime(2026, 11, 11, 1, tz="UTC")
OPERATION = "shopify.orders.list"


def rate_limited(retry_after: float | None = None) -> TransientError:
    return TransientError(OPERATION, "429 Too Many Requests", retry_after=retry_after)


class Flaky:
    """A call to a channel that fails with the given errors, then answers."""

    def __init__(self, *errors: BaseException, answer: str = "page-1") -> None:
        self.errors = list(errors)
        self.answer = answer
        self.attempts = 0

    def __call__(self) -> str:
        self.attempts += 1
        if self.errors:
            raise self.errors.pop(0)
        return self.answer


def seeded(seed: int) -> random.Random:
    return random.Random(seed)  # noqa: S311 - repeatable jitter, not a secret


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(T0)


class TestSuccess:
    """A call that answers is called once and nothing waits."""

    def test_first_try(self, clock: FrozenClock) -> None:
        call = Flaky()
        assert "page-1" == retry(call, clock=clock)
        assert 1 == call.attempts
        assert [] == clock.slept

    def test_answers_after_two_transient_failures(self, clock: FrozenClock) -> None:
        call = Flaky(rate_limited(), CallTimedOut(OPERATION, "no reply in 10 s"))
        assert "page-1" == retry(call, clock=clock, rng=seeded(1))
        assert 3 == call.attempts
        assert 2 == len(clock.slept)
        assert T0.add(microseconds=round(sum(clock.slept) * 1e6)) == clock.now()


class TestGivingUp:
    """Retries run out after `retries`; the last TransientError is raised."""

    def test_default_is_one_attempt_and_three_retries(self, clock: FrozenClock) -> None:
        errors = [rate_limited() for _ in range(5)]
        call = Flaky(*errors)
        with pytest.raises(TransientError) as caught:
            retry(call, clock=clock, rng=seeded(7))
        assert 4 == call.attempts
        assert 3 == len(clock.slept)
        assert errors[3] is caught.value
        assert ["retry: gave up after 4 attempt(s)"] == caught.value.__notes__

    def test_zero_retries_tries_once(self, clock: FrozenClock) -> None:
        call = Flaky(rate_limited())
        with pytest.raises(TransientError):
            retry(call, clock=clock, policy=RetryPolicy(retries=0))
        assert 1 == call.attempts
        assert [] == clock.slept

    @pytest.mark.parametrize(
        "error",
        [
            IdempotencyConflict("douyin:payment:DY-1001:evt-7781"),
            CircuitOpen("shopify", T0),
            KeyError("DY-1001"),
        ],
    )
    def test_other_errors_propagate_at_once(
        self, clock: FrozenClock, error: Exception
    ) -> None:
        call = Flaky(error)
        with pytest.raises(type(error)) as caught:
            retry(call, clock=clock)
        assert error is caught.value
        assert 1 == call.attempts
        assert [] == clock.slept


class TestBackoff:
    """Waits grow exponentially to the cap, jittered between half and all."""

    def test_ceilings_double_up_to_the_cap(self) -> None:
        policy = RetryPolicy(retries=8, base=0.5, cap=10.0)
        expected = [0.5, 1.0, 2.0, 4.0, 8.0, 10.0, 10.0, 10.0]
        assert expected == [policy.ceiling(n) for n in range(1, 9)]

    def test_huge_retry_numbers_stay_at_the_cap(self) -> None:
        policy = RetryPolicy()
        assert 30.0 == policy.ceiling(5000)

    def test_waits_lie_between_half_and_all_of_the_ceiling(
        self, clock: FrozenClock
    ) -> None:
        policy = RetryPolicy(retries=6, base=1.0, cap=8.0)
        call = Flaky(*(rate_limited() for _ in range(7)))
        with pytest.raises(TransientError):
            retry(call, clock=clock, policy=policy, rng=seeded(2026))
        assert 7 == call.attempts
        for n, wait in enumerate(clock.slept, start=1):
            ceiling = policy.ceiling(n)
            assert ceiling / 2 <= wait <= ceiling

    def test_same_seed_same_waits(self) -> None:
        runs = []
        for _ in range(2):
            clock = FrozenClock(T0)
            with pytest.raises(TransientError):
                retry(
                    Flaky(*(rate_limited() for _ in range(4))),
                    clock=clock,
                    rng=seeded(11),
                )
            runs.append(clock.slept)
        assert runs[0] == runs[1]

    def test_jitter_spreads_callers_that_failed_together(self) -> None:
        first_waits = set()
        for seed in range(20):
            clock = FrozenClock(T0)
            retry(Flaky(rate_limited()), clock=clock, rng=seeded(seed))
            first_waits.update(clock.slept)
        assert 20 == len(first_waits)

    def test_without_an_rng_waits_stay_in_bounds(self, clock: FrozenClock) -> None:
        retry(Flaky(rate_limited()), clock=clock)
        [wait] = clock.slept
        assert 0.1 <= wait <= 0.2


class TestRetryAfter:
    """A Retry-After hint is waited for, unless it is longer than the cap."""

    def test_waits_at_least_the_hint(self, clock: FrozenClock) -> None:
        call = Flaky(rate_limited(retry_after=12.5))
        assert "page-1" == retry(call, clock=clock, rng=seeded(3))
        assert [12.5] == clock.slept
        assert T0.add(seconds=12, microseconds=500_000) == clock.now()

    def test_backoff_wins_when_longer_than_the_hint(self, clock: FrozenClock) -> None:
        policy = RetryPolicy(base=4.0)
        call = Flaky(rate_limited(retry_after=0.001))
        retry(call, clock=clock, policy=policy, rng=seeded(3))
        [wait] = clock.slept
        assert 2.0 <= wait <= 4.0

    def test_a_hint_beyond_the_cap_is_raised_at_once(self, clock: FrozenClock) -> None:
        error = rate_limited(retry_after=3600)
        call = Flaky(error)
        with pytest.raises(TransientError) as caught:
            retry(call, clock=clock)
        assert error is caught.value
        assert 3600 == caught.value.retry_after
        assert 1 == call.attempts
        assert [] == clock.slept
        assert "longer than the cap of 30.0 s" in caught.value.__notes__[0]

    def test_a_hint_equal_to_the_cap_is_waited_for(self, clock: FrozenClock) -> None:
        retry(Flaky(rate_limited(retry_after=30)), clock=clock)
        assert [30.0] == clock.slept

    @pytest.mark.parametrize("garbage", [-5.0, math.nan, math.inf])
    def test_garbage_hints_are_ignored(
        self, clock: FrozenClock, garbage: float
    ) -> None:
        retry(Flaky(rate_limited(retry_after=garbage)), clock=clock)
        [wait] = clock.slept
        assert 0.1 <= wait <= 0.2


class TestOnRetry:
    """`on_retry` hears of each retry before its wait: number, error, seconds."""

    def test_reports_each_retry(self, clock: FrozenClock) -> None:
        errors = [rate_limited(), rate_limited(retry_after=5)]
        heard: list[tuple[int, TransientError, float]] = []
        retry(
            Flaky(*errors),
            clock=clock,
            rng=seeded(5),
            on_retry=lambda n, error, wait: heard.append((n, error, wait)),
        )
        assert [1, 2] == [n for n, _, _ in heard]
        assert errors == [error for _, error, _ in heard]
        assert clock.slept == [wait for _, _, wait in heard]

    def test_silent_when_nothing_is_retried(self, clock: FrozenClock) -> None:
        heard: list[int] = []
        retry(Flaky(), clock=clock, on_retry=lambda n, _e, _w: heard.append(n))
        assert [] == heard


class TestPolicyValidation:
    """A bad policy is refused with a ValidationError naming field and value."""

    def test_defaults(self) -> None:
        assert RetryPolicy(retries=3, base=0.2, cap=30.0) == RetryPolicy()

    @pytest.mark.parametrize(
        ("kwargs", "field", "value"),
        [
            ({"retries": -1}, "retries", -1),
            ({"retries": 2.0}, "retries", 2.0),
            ({"retries": True}, "retries", True),
            ({"base": 0}, "base", 0),
            ({"base": -0.2}, "base", -0.2),
            ({"base": math.inf}, "base", math.inf),
            ({"base": "0.2"}, "base", "0.2"),
            ({"cap": math.inf}, "cap", math.inf),
            ({"cap": 0.1}, "cap", 0.1),
        ],
    )
    def test_refused(
        self, kwargs: dict[str, object], field: str, value: object
    ) -> None:
        with pytest.raises(ValidationError) as caught:
            RetryPolicy(**kwargs)  # type: ignore[arg-type]
        assert field == caught.value.field
        assert value is caught.value.value or value == caught.value.value

    def test_nan_base_refused(self) -> None:
        with pytest.raises(ValidationError) as caught:
            RetryPolicy(base=math.nan)
        assert "base" == caught.value.field

    def test_retry_refuses_a_policy_that_is_not_one(self, clock: FrozenClock) -> None:
        call = Flaky()
        with pytest.raises(ValidationError) as caught:
            retry(call, clock=clock, policy=3)  # type: ignore[arg-type]
        assert "policy" == caught.value.field
        assert 0 == call.attempts

    @pytest.mark.parametrize("n", [0, -1, True])
    def test_ceiling_refuses_a_bad_retry_number(self, n: int) -> None:
        with pytest.raises(ValidationError) as caught:
            RetryPolicy().ceiling(n)
        assert "n" == caught.value.field


policies = st.builds(
    lambda retries, base, extra: RetryPolicy(
        retries=retries, base=base, cap=base + extra
    ),
    st.integers(min_value=0, max_value=12),
    st.floats(min_value=0.001, max_value=5),
    st.floats(min_value=0, max_value=60),
)


class TestProperties:
    """For any policy and failures: bounded attempts, and waits within bounds."""

    @given(
        policy=policies,
        failures=st.integers(min_value=0, max_value=20),
        hints=st.lists(
            st.none() | st.floats(min_value=0, max_value=120), min_size=1, max_size=4
        ),
        seed=st.integers(),
    )
    def test_attempts_and_waits_are_bounded(
        self,
        policy: RetryPolicy,
        failures: int,
        hints: list[float | None],
        seed: int,
    ) -> None:
        retries = policy.retries
        clock = FrozenClock(T0)
        call = Flaky(*(rate_limited(hints[i % len(hints)]) for i in range(failures)))
        try:
            assert "page-1" == retry(call, clock=clock, policy=policy, rng=seeded(seed))
            succeeded = True
        except TransientError:
            succeeded = False
        assert call.attempts <= retries + 1
        assert len(clock.slept) == call.attempts - 1
        assert all(wait <= policy.cap for wait in clock.slept)
        for n, wait in enumerate(clock.slept, start=1):
            hint = hints[(n - 1) % len(hints)]
            assert wait >= policy.ceiling(n) / 2
            assert hint is None or wait >= hint
        if succeeded:
            assert failures + 1 == call.attempts
        else:
            # Out of retries, or asked to wait longer than the cap.
            last_hint = hints[(call.attempts - 1) % len(hints)]
            too_long = last_hint is not None and last_hint > policy.cap
            assert call.attempts == retries + 1 or too_long
