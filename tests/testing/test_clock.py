"""FrozenClock: the Clock port, standing still until a test moves it."""

import datetime as dt

import pendulum
import pytest
from hypothesis import given
from hypothesis import strategies as st

from orderkit.errors import NaiveDatetime
from orderkit.ports import Clock
from orderkit.testing import FrozenClock


# Singles' Day, 09:00 in Shanghai: when DY-1001 was placed.
SINGLES_DAY = pendulum.datetime(2026, 11, 11, 1, tz="UTC")
SHANGHAI_MORNING = pendulum.datetime(2026, 11, 11, 9, tz="Asia/Shanghai")


def _read(clock: Clock) -> pendulum.DateTime:
    # Typed against the port: mypy checks that FrozenClock satisfies it.
    clock.sleep(0)
    return clock.now()


class TestStart:
    """The clock starts at the instant given, in UTC; 2026-01-01Z by default."""

    def test_default_start(self) -> None:
        expected = pendulum.datetime(2026, 1, 1, tz="UTC")
        assert expected == FrozenClock().now()

    def test_starts_at_the_given_instant_in_utc(self) -> None:
        now = FrozenClock(SHANGHAI_MORNING).now()
        expected = SINGLES_DAY
        assert expected == now
        assert now.tzinfo is pendulum.UTC

    def test_accepts_a_stdlib_aware_start(self) -> None:
        start = dt.datetime(2026, 11, 11, 9, tzinfo=dt.timezone(dt.timedelta(hours=8)))
        now = FrozenClock(start).now()
        assert start == now
        assert now.tzinfo is pendulum.UTC

    def test_refuses_a_naive_start(self) -> None:
        naive = dt.datetime(2026, 11, 11, 9)  # noqa: DTZ001 - naive on purpose
        with pytest.raises(NaiveDatetime) as caught:
            FrozenClock(naive)
        field = "start"
        assert field == caught.value.field
        assert naive is caught.value.value

    def test_stands_still(self) -> None:
        clock = FrozenClock(SINGLES_DAY)
        first = clock.now()
        assert first == clock.now()


class TestSleep:
    """`sleep` advances the clock instead of waiting, and records the wait."""

    def test_sleep_advances_and_records(self) -> None:
        start = SINGLES_DAY
        clock = FrozenClock(start)
        clock.sleep(1.5)
        clock.sleep(30)
        assert start.add(seconds=31, microseconds=500_000) == clock.now()
        expected = [1.5, 30]
        assert expected == clock.slept

    def test_sleep_zero_records_and_stays(self) -> None:
        start = SINGLES_DAY
        clock = FrozenClock(start)
        clock.sleep(0)
        assert start == clock.now()
        expected = [0]
        assert expected == clock.slept

    @pytest.mark.parametrize("seconds", [-1, -0.001])
    def test_negative_sleep_is_refused_and_changes_nothing(
        self, seconds: float
    ) -> None:
        start = SINGLES_DAY
        clock = FrozenClock(start)
        with pytest.raises(ValueError, match="negative"):
            clock.sleep(seconds)
        assert start == clock.now()
        assert not clock.slept

    @given(st.lists(st.integers(min_value=0, max_value=10**7)))
    def test_elapsed_time_is_the_sum_of_the_sleeps(self, millis: list[int]) -> None:
        start = SINGLES_DAY
        clock = FrozenClock(start)
        for ms in millis:
            clock.sleep(ms / 1000)
        assert start.add(microseconds=1000 * sum(millis)) == clock.now()
        assert [ms / 1000 for ms in millis] == clock.slept


class TestMoving:
    """`advance` and `set` move the clock, forwards or backwards."""

    def test_advance_returns_and_sets_the_new_instant(self) -> None:
        clock = FrozenClock(SINGLES_DAY)
        moved = clock.advance(minutes=15)
        expected = pendulum.datetime(2026, 11, 11, 1, 15, tz="UTC")
        assert expected == moved
        assert moved == clock.now()

    def test_advance_by_several_units(self) -> None:
        start = SINGLES_DAY
        clock = FrozenClock(start)
        moved = clock.advance(days=1, hours=2, seconds=3)
        assert start.add(days=1, hours=2, seconds=3) == moved

    def test_advance_backwards(self) -> None:
        start = SINGLES_DAY
        clock = FrozenClock(start)
        assert start.subtract(hours=1) == clock.advance(hours=-1)

    def test_set_goes_backwards_too(self) -> None:
        clock = FrozenClock(SINGLES_DAY)
        earlier = pendulum.datetime(2026, 11, 10, 23, 59, tz="UTC")
        clock.set(earlier)
        assert earlier == clock.now()

    def test_set_converts_to_utc(self) -> None:
        clock = FrozenClock()
        clock.set(SHANGHAI_MORNING)
        expected = SINGLES_DAY
        assert expected == clock.now()
        assert clock.now().tzinfo is pendulum.UTC

    def test_set_refuses_a_naive_instant_and_stays(self) -> None:
        start = SINGLES_DAY
        clock = FrozenClock(start)
        with pytest.raises(NaiveDatetime) as caught:
            clock.set(dt.datetime(2026, 11, 11, 9))  # noqa: DTZ001 - naive on purpose
        field = "instant"
        assert field == caught.value.field
        assert start == clock.now()


class TestClockPort:
    """FrozenClock satisfies the Clock port."""

    def test_used_as_a_clock(self) -> None:
        now = _read(FrozenClock(SHANGHAI_MORNING))
        expected = SINGLES_DAY
        assert expected == now
        assert now.tzinfo is pendulum.UTC
        assert dt.timedelta(0) == now.utcoffset()


class TestSleepRefusesNonsense:
    """A duration that is not a finite number is refused, and the clock stays."""

    @pytest.mark.parametrize("seconds", [float("nan"), float("inf")])
    def test_not_finite(self, seconds: float) -> None:
        clock = FrozenClock()
        before = clock.now()

        with pytest.raises(ValueError, match="finite"):
            clock.sleep(seconds)

        assert before == clock.now()
        assert [] == clock.slept


class TestSleepRecordsOnlyWhatItDid:
    """A sleep is recorded only when the clock moved by it."""

    @pytest.mark.parametrize("seconds", [1e300, 1e12])
    def test_past_the_last_datetime_is_refused_and_changes_nothing(
        self, seconds: float
    ) -> None:
        clock = FrozenClock(SINGLES_DAY)
        with pytest.raises(ValueError, match="9999"):
            clock.sleep(seconds)
        assert SINGLES_DAY == clock.now()
        assert [] == clock.slept

    def test_a_sleep_under_a_microsecond_moves_the_clock_one(self) -> None:
        clock = FrozenClock(SINGLES_DAY)
        clock.sleep(4e-7)
        assert SINGLES_DAY.add(microseconds=1) == clock.now()
        assert [4e-7] == clock.slept

    def test_a_loop_sleeping_until_a_deadline_gets_there(self) -> None:
        clock = FrozenClock(SINGLES_DAY)
        deadline = SINGLES_DAY.add(microseconds=1)
        for _ in range(3):
            if clock.now() >= deadline:
                break
            clock.sleep(1e-9)
        assert clock.now() >= deadline
