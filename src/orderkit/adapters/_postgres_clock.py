"""How far a caller's time runs ahead of the PostgreSQL server's clock."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable
from typing import Final

import pendulum

from orderkit.errors import ClockAhead, ConfigurationError


DEFAULT_AHEAD: Final = dt.timedelta(minutes=5)
"""How far ahead of the server a caller's time may run, by default."""

SERVER_TIME: Final = "SELECT extract(epoch FROM clock_timestamp())::float8"
"""The server's clock, in seconds since the epoch."""

# The offset is read again after this many seconds: a host's clock may be
# stepped (NTP) while the process runs.
_FRESH_FOR: Final = 60.0


def ahead_limit(value: object) -> dt.timedelta | None:
    """`value` as a store's `max_clock_ahead`: a timedelta of at least zero, or `None`.

    Raises:
        ConfigurationError: Anything else.
    """
    if value is None:
        return None
    if not isinstance(value, dt.timedelta) or value < dt.timedelta(0):
        raise ConfigurationError(
            "max_clock_ahead",
            "must be a timedelta of at least zero, or None",
            value=value,
        )
    return value


class ServerClock:
    """The server's clock as this process sees it, carried on the monotonic clock.

    A time is checked against the server's time read when the store opened
    (`measure`) plus the monotonic seconds since, so a host whose own clock
    is stepped (NTP) meanwhile is judged by the server's time all the same:
    its first write hours ahead is refused. The reading is taken again once
    a minute old (drift), and before a time is refused. A caller's time is
    the `Clock` it was given, which need not be the local clock: a test's
    frozen clock in the future is refused all the same, unless the store's
    limit is `None`.
    """

    def __init__(self, limit: dt.timedelta | None) -> None:
        self._limit = None if limit is None else limit.total_seconds()
        self._server = 0.0  # the server's time at the last reading
        self._measured = -_FRESH_FOR  # monotonic seconds then; never, yet

    @property
    def limited(self) -> bool:
        """Whether a time is checked at all."""
        return self._limit is not None

    def measure(self, server_time: Callable[[], float]) -> float:
        """Read the server's clock and keep it; return it (epoch seconds)."""
        before = time.monotonic()
        server = server_time()
        after = time.monotonic()
        # The reading was taken somewhere in the round trip: its middle.
        self._server, self._measured = server, (before + after) / 2
        return server

    def check(self, now: pendulum.DateTime, server_time: Callable[[], float]) -> None:
        """Raise `ClockAhead` when `now` runs further ahead than the limit.

        `server_time` reads the server's clock (`SERVER_TIME`); it is
        called only when the last reading is a minute old or `now` looks
        too far ahead.
        """
        if self._limit is None:
            return
        stamp = now.timestamp()
        since = time.monotonic() - self._measured
        if since < _FRESH_FOR and stamp - (self._server + since) <= self._limit:
            return
        ahead = stamp - self.measure(server_time)
        if ahead > self._limit:
            raise ClockAhead(
                "now",
                now,
                f"runs {dt.timedelta(seconds=round(ahead))} ahead of the database"
                f" server's clock, more than max_clock_ahead"
                f" ({dt.timedelta(seconds=self._limit)}): its holds would expire"
                " every other host's early. Set the host's clock right (NTP);"
                " a store used with a test clock takes max_clock_ahead=None",
            )
