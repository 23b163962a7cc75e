"""A clock that tests control."""

from __future__ import annotations

import datetime as dt
import math
from typing import final

import pendulum

from orderkit._time import to_utc


_EPOCH = pendulum.datetime(2026, 1, 1, tz="UTC")


@final
class FrozenClock:
    """The `Clock` port, standing still until a test moves it.

    `sleep()` advances the clock instead of waiting, so code that retries
    with backoff runs instantly in tests and its waits can be asserted.

    Args:
        start: The first instant (timezone-aware); 2026-01-01T00:00Z if omitted.

    Raises:
        NaiveDatetime: `start` has no UTC offset.

    .. versionadded:: 0.1.0
    """

    def __init__(self, start: dt.datetime = _EPOCH) -> None:
        self._now = to_utc(start, "start")
        self.slept: list[float] = []
        """Every duration passed to `sleep`, in order."""

    def now(self) -> pendulum.DateTime:
        """Return the frozen instant."""
        return self._now

    def sleep(self, seconds: float) -> None:
        """Advance the clock by `seconds` and remember the wait.

        The clock counts whole microseconds: `seconds` is rounded to the
        nearest one, but a positive sleep moves the clock by at least one,
        so code that sleeps until a deadline always gets there. A refused
        duration leaves the clock and `slept` as they were.

        Raises:
            ValueError: `seconds` is negative, not finite, or would move the
                clock past the last instant a datetime can hold.
        """
        if not math.isfinite(seconds) or seconds < 0:
            msg = f"cannot sleep {seconds!r} s: give a finite, non-negative duration"
            raise ValueError(msg)
        micros = round(seconds * 1_000_000)
        if seconds > 0:
            micros = max(micros, 1)
        try:
            later = self._now.add(microseconds=micros)
        except OverflowError:
            msg = f"cannot sleep {seconds!r} s: the clock would pass the year 9999"
            raise ValueError(msg) from None
        self.slept.append(seconds)
        self._now = later

    def advance(self, **duration: float) -> pendulum.DateTime:
        """Move the clock on (`advance(minutes=15)`); return the new instant.

        Accepts `pendulum.DateTime.add` keywords: `days`, `hours`, `minutes`,
        `seconds`, `microseconds`. A negative duration moves it back, to test
        code against a wall clock that is corrected backwards.
        """
        self._now = self._now.add(**duration)  # type: ignore[arg-type]
        return self._now

    def set(self, instant: dt.datetime) -> None:
        """Jump to an instant (timezone-aware), forwards or backwards.

        Raises:
            NaiveDatetime: `instant` has no UTC offset.
        """
        self._now = to_utc(instant, "instant")
