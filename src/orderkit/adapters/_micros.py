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


def to_us(value: pendulum.DateTime) -> int:
    """Microseconds since the epoch, exactly (fields, not a float timestamp)."""
    return (
        (value.toordinal() - _EPOCH_ORDINAL) * 86_400
        + value.hour * 3_600
        + value.minute * 60
        + value.second
    ) * 1_000_000 + value.microsecond


def from_us(value: int) -> pendulum.DateTime:
    """The UTC instant `value` microseconds after the epoch."""
    # The stdlib `+` keeps the pendulum subclass and its UTC tzinfo, and is
    # exact on integers; pendulum's own `+` is several times slower.
    found: pendulum.DateTime = _add(_EPOCH, dt.timedelta(microseconds=value))
    return found
