"""SystemClock: the Clock port over the operating system's clock."""

import datetime as dt

import pendulum
import pytest

from orderkit.adapters import SystemClock
from orderkit.ports import Clock


# Far wider than any scheduling hiccup: this checks the zone, not speed.
_TOLERANCE = dt.timedelta(seconds=5)


def _read(clock: Clock) -> pendulum.DateTime:
    # Typed against the port: mypy checks that SystemClock satisfies it.
    return clock.now()


class TestNow:
    """`now()` is an aware UTC pendulum.DateTime close to the system time."""

    def test_now_is_aware_utc(self) -> None:
        now = SystemClock().now()
        assert isinstance(now, pendulum.DateTime)
        assert dt.timedelta(0) == now.utcoffset()
        expected = "UTC"
        assert expected == now.timezone_name

    def test_now_is_the_system_time(self) -> None:
        before = dt.datetime.now(dt.UTC)
        now = _read(SystemClock())
        after = dt.datetime.now(dt.UTC)
        assert before - _TOLERANCE <= now <= after + _TOLERANCE


class TestSleep:
    """`sleep` waits; a negative duration is refused."""

    def test_sleep_zero_returns(self) -> None:
        clock = SystemClock()
        before = clock.now()
        clock.sleep(0)
        assert before <= clock.now() + _TOLERANCE

    @pytest.mark.parametrize("seconds", [-1, -0.001])
    def test_negative_sleep_is_refused(self, seconds: float) -> None:
        with pytest.raises(ValueError, match="negative"):
            SystemClock().sleep(seconds)
