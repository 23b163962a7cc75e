"""Holds: stock set aside for an owner until it is committed, released or expires."""

from __future__ import annotations

import datetime as dt
import enum
from typing import final

import attrs
import pendulum

from orderkit._time import to_utc
from orderkit._validate import (
    MAX_NAME_LENGTH,
    MAX_OWNER_LENGTH,
    count,
    instance_of,
    positive_int,
    text,
)


def _placed_at(value: dt.datetime) -> pendulum.DateTime:
    return to_utc(value, "placed_at")


def _expires_at(value: dt.datetime) -> pendulum.DateTime:
    return to_utc(value, "expires_at")


def _resolved_at(value: dt.datetime | None) -> pendulum.DateTime | None:
    return None if value is None else to_utc(value, "resolved_at")


@final
class HoldState(enum.StrEnum):
    """Where a hold stands. Only `LIVE` holds count as reserved.

    A hold leaves `LIVE` exactly once, to one of the other three.

    .. versionadded:: 0.1.0
    """

    LIVE = "live"
    COMMITTED = "committed"
    RELEASED = "released"
    EXPIRED = "expired"


@final
@attrs.frozen(slots=True, kw_only=True)
class Hold:
    """Units of one SKU at one location, set aside for an owner.

    Attributes:
        hold_id: The hold's id.
        owner: The cart or order holding the units (1 to 1024 characters,
            as an order's stream). An owner's own holds never block it when
            it reserves again.
        sku: The SKU (1 to 255 characters).
        location: Where the units are (1 to 255 characters).
        quantity: Units held.
        placed_at: When the hold was placed (UTC).
        expires_at: When it stops counting as reserved (UTC, exclusive).
        state: `LIVE` until committed, released or expired.
        committed: Units committed to the owner's order (state `COMMITTED`).
        shipped: Committed units shipped so far.
        resolved_at: When the hold left `LIVE`; `None` while live.

    .. versionadded:: 0.1.0
    """

    hold_id: str = attrs.field(validator=text("hold_id"))
    owner: str = attrs.field(validator=text("owner", MAX_OWNER_LENGTH))
    sku: str = attrs.field(validator=text("sku", MAX_NAME_LENGTH))
    location: str = attrs.field(validator=text("location", MAX_NAME_LENGTH))
    quantity: int = attrs.field(validator=positive_int("quantity"))
    placed_at: pendulum.DateTime = attrs.field(converter=_placed_at)
    expires_at: pendulum.DateTime = attrs.field(converter=_expires_at)
    state: HoldState = attrs.field(
        default=HoldState.LIVE, validator=instance_of("state", HoldState)
    )
    committed: int = attrs.field(default=0, validator=count("committed"))
    shipped: int = attrs.field(default=0, validator=count("shipped"))
    resolved_at: pendulum.DateTime | None = attrs.field(
        default=None, converter=_resolved_at
    )

    def is_live(self, at: pendulum.DateTime) -> bool:
        """Whether the hold still counts as reserved at `at`."""
        return self.state is HoldState.LIVE and at < self.expires_at

    @property
    def unshipped(self) -> int:
        """Committed units not shipped yet: the hold's part of `allocated`."""
        return self.committed - self.shipped
