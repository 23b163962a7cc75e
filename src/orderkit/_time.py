"""Instants: timezone-aware datetimes in, UTC `pendulum.DateTime` out."""

from __future__ import annotations

import datetime as dt
from typing import Final

import pendulum

from orderkit.errors import NaiveDatetime, ValidationError


_NOT_A_PLACE: Final = frozenset({"localtime", "posixrules", "Factory"})


def not_a_place(zone: str) -> bool:
    """Whether `zone` names no place's zone, though the tz database holds it.

    `localtime` is whatever zone the host is set to, the others are build
    artefacts, also under the database's `posix/` and `right/` copies: a time
    read in one would mean another instant on another host.
    """
    return zone.rpartition("/")[2] in _NOT_A_PLACE


def to_utc(value: dt.datetime, field: str) -> pendulum.DateTime:
    """Return `value` as a UTC `pendulum.DateTime`; refuse naive datetimes.

    Raises:
        NaiveDatetime: `value` has no UTC offset, or is not a datetime.
        ValidationError: `value` lies beyond the range of datetimes in UTC.
    """
    if isinstance(value, pendulum.DateTime) and value.tzinfo is pendulum.UTC:
        return value
    if not isinstance(value, dt.datetime):
        raise NaiveDatetime(field, value)
    offset = value.utcoffset()
    if offset is None:
        raise NaiveDatetime(field, value)
    # Wall-clock arithmetic on a naive stdlib datetime: `-` on an aware
    # pendulum.DateTime adds exact time and re-localises, which shifts the
    # wall clock by an hour when a DST change lies within the offset.
    try:
        utc = dt.datetime.combine(value.date(), value.time()) - offset
    except OverflowError:
        raise ValidationError(field, value, "is out of range in UTC") from None
    return pendulum.DateTime(
        utc.year,
        utc.month,
        utc.day,
        utc.hour,
        utc.minute,
        utc.second,
        utc.microsecond,
        tzinfo=pendulum.UTC,
    )


def plus(instant: pendulum.DateTime, elapsed: dt.timedelta) -> pendulum.DateTime:
    """Return the UTC `instant` moved by `elapsed`, exactly.

    `datetime`'s own addition: in UTC there is no wall clock to re-localise,
    and it is some 18x faster than pendulum's calendar-aware `+`. The result
    keeps the pendulum type and the UTC zone.
    """
    moved: pendulum.DateTime = dt.datetime.__add__(instant, elapsed)
    return moved


LAST: pendulum.DateTime = pendulum.DateTime(
    9999, 12, 31, 23, 59, 59, 999_999, tzinfo=pendulum.UTC
)
"""The last instant a datetime holds."""
FIRST: pendulum.DateTime = pendulum.DateTime(1, 1, 1, tzinfo=pendulum.UTC)
"""The first instant a datetime holds."""


def before_or_first(
    instant: pendulum.DateTime, elapsed: dt.timedelta
) -> pendulum.DateTime:
    """`elapsed` before `instant`, or `FIRST` when that lies before it.

    For the start of a window or a cutoff: nothing lies before `FIRST`.
    """
    try:
        return plus(instant, -elapsed)
    except OverflowError:
        return FIRST


def plus_or_last(
    instant: pendulum.DateTime, elapsed: dt.timedelta
) -> pendulum.DateTime:
    """`plus`, or `LAST` when the sum lies beyond it: for an expiry, never."""
    try:
        return plus(instant, elapsed)
    except OverflowError:
        return LAST


def ending(
    instant: pendulum.DateTime, elapsed: dt.timedelta, field: str
) -> pendulum.DateTime:
    """`plus`, refusing a sum beyond `LAST` as a bad `field`.

    Raises:
        ValidationError: `instant + elapsed` lies beyond the last datetime.
    """
    try:
        return plus(instant, elapsed)
    except OverflowError:
        raise ValidationError(
            field, elapsed, "ends after the last instant a datetime holds"
        ) from None
