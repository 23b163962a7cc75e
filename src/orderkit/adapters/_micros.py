"""Instants as integer microseconds since the epoch: exact both ways.

Every SQL store keeps times this way, so that no driver's or server's time
zone handling touches them and ordering is integer ordering.
"""

from __future__ import annotations

import datetime as dt

import pendulum


_EPOCH = pendulum.DateTime(1970, 1, 1, tzinfo=pendulum.UTC)
_EPOCH_ORDINAL = _EPOCH.toordinal()
_add = dt.datetime.__add__


# The last instant `to_us` converted, with its microseconds: a write
# converts one instant several times in a row (a plan's time is its hold's
# placing and its movement's time). One tuple, replaced whole, so that no
# thread reads one instant with another's microseconds; it keeps its instant
# alive, so no other object can take that instant's identity. It starts
# with an object no caller has, so that nothing but an instant gets past.
_last: list[tuple[object, int]] = [(object(), 0)]


def to_us(value: pendulum.DateTime) -> int:
    """Microseconds since the epoch, exactly (fields, not a float timestamp)."""
    last = _last[0]
    if last[0] is value:
        return last[1]
    found = (
        (value.toordinal() - _EPOCH_ORDINAL) * 86_400
        + value.hour * 3_600
        + value.minute * 60
        + value.second
    ) * 1_000_000 + value.microsecond
    _last[0] = (value, found)
    return found


def from_us(value: int) -> pendulum.DateTime:
    """The UTC instant `value` microseconds after the epoch."""
    # The stdlib `+` keeps the pendulum subclass and its UTC tzinfo, and is
    # exact on integers; pendulum's own `+` is several times slower.
    found: pendulum.DateTime = _add(_EPOCH, dt.timedelta(microseconds=value))
    return found
