"""Days in an explicit IANA zone as half-open windows of instants.

A day in a zone is `[start, end)`: `start` is the first instant whose wall
clock in the zone shows that date, `end` the first instant of the next date.
Consecutive days therefore tile time with no gap and no overlap, whatever the
zone does at a DST change (a 23-hour or 25-hour day, Lord Howe's 30-minute
shift, or Santiago's clocks jumping over midnight itself).
"""

from __future__ import annotations

import datetime as dt
import functools
from typing import final

import attrs
import pendulum
from pendulum.tz.exceptions import InvalidTimezone

from orderkit._time import not_a_place, to_utc
from orderkit.errors import NaiveDatetime, ValidationError


__all__ = ["DayWindow", "check_day", "day_of", "yesterday", "zone_info"]


_ONE_DAY = dt.timedelta(days=1)


_TICK = dt.timedelta(microseconds=1)


def zone_info(zone: object, field: str = "zone") -> pendulum.Timezone:
    """Return the IANA zone named `zone`.

    Raises:
        ValidationError: `zone` is not a string naming an IANA zone; fixed
            offsets (`+08:00`) and the host's `localtime` are refused too.
    """
    if not isinstance(zone, str):
        raise ValidationError(field, zone, "must be an IANA zone name (Asia/Shanghai)")
    if not_a_place(zone):
        raise ValidationError(field, zone, "is not an IANA zone of a place")
    try:
        return _timezone(zone)
    except (InvalidTimezone, ValueError, OSError):  # OSError: a folder (`Asia`)
        raise ValidationError(
            field, zone, "is not an IANA time zone (as 'Asia/Shanghai')"
        ) from None


@functools.lru_cache(maxsize=256)
def _timezone(name: str) -> pendulum.Timezone:
    # pendulum reads the zone's file on every call, and an SLA asks for its
    # zones several times per order. A failed lookup raises, uncached.
    return pendulum.timezone(name)


def check_day(day: object, field: str) -> dt.date:
    """Return `day` as a plain `datetime.date`; refuse datetimes and the rest.

    A subclass (`pendulum.Date`) comes back as a plain date, so results
    compare, hash and print alike whatever the caller passed.

    Raises:
        ValidationError: `day` is not a `datetime.date`, or is a datetime.
    """
    if not isinstance(day, dt.date) or isinstance(day, dt.datetime):
        raise ValidationError(field, day, "must be a datetime.date (not a datetime)")
    return dt.date(day.year, day.month, day.day)


def wall_instant(
    day: dt.date, time: dt.time, tz: pendulum.Timezone, field: str
) -> pendulum.DateTime:
    """The first instant whose wall clock in `tz` reads `time` or later on `day`.

    A wall time skipped by a DST change maps to the instant right after the
    gap (the change itself), a repeated one to its first occurrence.

    Raises:
        ValidationError: The instant lies beyond the range of datetimes.
    """
    wall = dt.datetime.combine(day, time)
    first = wall.replace(tzinfo=tz, fold=0)
    instant = to_utc(first, field)
    second = wall.replace(tzinfo=tz, fold=1)
    if second.utcoffset() == first.utcoffset():
        return instant
    earlier = to_utc(second, field)
    if earlier >= instant:
        return instant  # repeated: fold 0 is its first occurrence
    # Skipped: fold 0 reads it with the offset before the change, fold 1 with
    # the one after; the change lies between the two, found to the tick.
    before = first.utcoffset()
    low, high = earlier, instant  # the offset at `low` is `before`, at `high` not
    while high - low > _TICK:
        middle = low + (high - low) / 2
        if dt.datetime.astimezone(middle, tz).utcoffset() == before:
            low = middle
        else:
            high = middle
    return to_utc(high, field)


def _midnight(day: dt.date, tz: pendulum.Timezone, field: str) -> pendulum.DateTime:
    return wall_instant(day, dt.time(0), tz, field)


def _next(day: dt.date, field: str) -> dt.date:
    try:
        return day + _ONE_DAY
    except OverflowError:
        raise ValidationError(field, day, "is the last date there is") from None


def _day(value: dt.date) -> dt.date:
    return check_day(value, "day")


@final
@attrs.frozen(slots=True)
class DayWindow:
    """One calendar day in an IANA zone: the instants `[start, end)`.

    `start` is the first instant on `day` in `zone` and `end` the first
    instant of the day after, both in UTC; so the window of a day and the
    window of the next one share a boundary and nothing else. A DST change
    makes a day 23 or 25 hours long (23.5 or 24.5 on Lord Howe Island), never
    leaves a gap.

    Attributes:
        day: The date, as the wall clocks in `zone` show it.
        zone: The IANA zone name (`"America/New_York"`).
        start: The first instant of the day, UTC, inclusive.
        end: The first instant of the next day, UTC, exclusive.

    Raises:
        ValidationError: `day` is not a date, `zone` is not an IANA zone, or
            the day lies beyond the range of datetimes.

    .. versionadded:: 0.1.0
    """

    day: dt.date = attrs.field(converter=_day)
    zone: str = attrs.field(validator=lambda _i, _a, v: zone_info(v))
    start: pendulum.DateTime = attrs.field(init=False)
    end: pendulum.DateTime = attrs.field(init=False)

    def __attrs_post_init__(self) -> None:
        tz = zone_info(self.zone)
        object.__setattr__(self, "start", _midnight(self.day, tz, "day"))
        object.__setattr__(self, "end", _midnight(_next(self.day, "day"), tz, "day"))

    @property
    def duration(self) -> dt.timedelta:
        """How long the day lasts: 24 hours, or 23 or 25 across a DST change."""
        elapsed: dt.timedelta = dt.datetime.__sub__(self.end, self.start)
        return elapsed

    def following(self) -> DayWindow:
        """The window of the next day, which starts where this one ends.

        Raises:
            ValidationError: The next day lies beyond the range of datetimes.
        """
        return DayWindow(_next(self.day, "day"), self.zone)

    def preceding(self) -> DayWindow:
        """The window of the day before, which ends where this one starts.

        Raises:
            ValidationError: The day before lies beyond the range of datetimes.
        """
        try:
            before = self.day - _ONE_DAY
        except OverflowError:
            raise ValidationError(
                "day", self.day, "is the first date there is"
            ) from None
        return DayWindow(before, self.zone)

    def __contains__(self, instant: object) -> bool:
        """Whether `instant` lies in `[start, end)`.

        Raises:
            NaiveDatetime: `instant` has no UTC offset.
        """
        if not isinstance(instant, dt.datetime):
            raise NaiveDatetime("instant", instant)
        at = to_utc(instant, "instant")
        return self.start <= at < self.end


def day_of(instant: dt.datetime, zone: str) -> DayWindow:
    """The day in `zone` that holds `instant`, as its window.

    The instant may be given in any zone (an office in Shanghai asking about
    a store in New York); only the instant matters. The day is the one whose
    window holds the instant, so `instant in day_of(instant, zone)` always.

    Args:
        instant: A timezone-aware datetime.
        zone: The IANA zone whose days count (the store's, not the caller's).

    Returns:
        The window `[start, end)` of that day.

    Raises:
        NaiveDatetime: `instant` has no UTC offset.
        ValidationError: `zone` is not an IANA zone, or `instant` has no day
            in it (the first or the last date of the calendar).

    .. versionadded:: 0.1.0
    """
    return _day_of(to_utc(instant, "instant"), zone, "instant")


def _day_of(at: pendulum.DateTime, zone: str, field: str) -> DayWindow:
    tz = zone_info(zone)
    try:
        local = dt.datetime.astimezone(at, tz)
    except OverflowError:
        raise ValidationError(
            field, at, f"has no day in {zone}: past the first or last date"
        ) from None
    window = DayWindow(dt.date(local.year, local.month, local.day), zone)
    # Where a zone turns its clocks back over midnight, the wall date of an
    # instant in the repeated hour disagrees with the windows; they decide.
    if at < window.start:
        return window.preceding()
    if at >= window.end:
        return window.following()
    return window


def yesterday(now: dt.datetime, zone: str) -> DayWindow:
    """The day before the one holding `now`, in `zone`: "yesterday's orders".

    Run from an office in UTC+8 for a store in `America/New_York`, this is
    the store's yesterday, 00:00 to 24:00 US Eastern, so orders paid between
    00:00 and 01:00 Eastern fall in it (brief, incident 5).

    Args:
        now: The current instant, timezone-aware, in any zone.
        zone: The IANA zone of the store whose yesterday is wanted.

    Returns:
        The window `[start, end)` of the store's previous day.

    Raises:
        NaiveDatetime: `now` has no UTC offset.
        ValidationError: `zone` is not an IANA zone.

    .. versionadded:: 0.1.0
    """
    return _day_of(to_utc(now, "now"), zone, "now").preceding()
