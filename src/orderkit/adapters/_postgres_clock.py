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
    """The server's clock as this process sees it: the offset from its own.

    A time is checked against the local clock plus the offset, measured
    when the store opens (`measure`) and again once a minute old, or when
    a time looks too far ahead (so a host whose clock was stepped since is
    not refused on a stale offset). A caller's time is the `Clock` it was
    given, which need not be the local clock: a test's frozen clock in the
    future is refused all the same, unless the store's limit is `None`.
    """

    def __init__(self, limit: dt.timedelta | None) -> None:
        self._limit = None if limit is None else limit.total_seconds()
        self._offset = 0.0
        self._measured = -_FRESH_FOR  # monotonic seconds; never, yet

    @property
    def limited(self) -> bool:
        """Whether a time is checked at all."""
        return self._limit is not None

    def measure(self, server_time: Callable[[], float]) -> float:
        """Read the server's clock and keep its offset; return it (epoch seconds)."""
        before = time.time()
        server = server_time()
        after = time.time()
        self._offset = server - (before + after) / 2
        self._measured = time.monotonic()
        return server

    def check(self, now: pendulum.DateTime, server_time: Callable[[], float]) -> None:
        """Raise `ClockAhead` when `now` runs further ahead than the limit.

        `server_time` reads the server's clock (`SERVER_TIME`); it is
        called only when the offset is stale or `now` looks too far ahead.
        """
        if self._limit is None:
            return
        stamp = now.timestamp()
        fresh = time.monotonic() - self._measured < _FRESH_FOR
        if fresh and stamp - (time.time() + self._offset) <= self._limit:
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
