"""Movements: the append-only ledger that every balance is the sum of."""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Iterable
from typing import Final, final

import attrs
import pendulum

from orderkit._time import to_utc
from orderkit._validate import (
    MAX_NAME_LENGTH,
    count,
    instance_of,
    optional_name,
    signed_int,
    stored_text,
    text,
)
from orderkit.errors import InvalidQuantity, ValidationError
from orderkit.inventory._stock import Balance


def _at(value: dt.datetime) -> pendulum.DateTime:
    return to_utc(value, "at")


def _optional_count(value: int | None) -> int | None:
    if value is not None:
        count("counted")(None, None, value)
    return value


@final
class MovementKind(enum.StrEnum):
    """Why stock moved.

    .. versionadded:: 0.1.0
    """

    RECEIVE = "receive"
    """Goods in: on hand up."""
    ADJUST = "adjust"
    """A correction or stocktake: on hand set or moved by the difference."""
    HOLD = "hold"
    """A hold placed: reserved up."""
    RELEASE = "release"
    """A hold released, in whole or the part not committed: reserved down."""
    EXPIRE = "expire"
    """A hold's TTL passed: reserved down."""
    COMMIT = "commit"
    """Held units committed to a paid order: reserved down, allocated up."""
    SHIP = "ship"
    """Allocated units left the building: on hand and allocated down."""
    UNALLOCATE = "unallocate"
    """Allocated units of an order cancelled before shipping: allocated down."""
    RESTOCK = "restock"
    """Returned goods back in stock after inspection: on hand up."""
    TRANSFER = "transfer"
    """Stock moved between locations: on hand down at one, up at the other."""


EXPIRY_KEY_PREFIX: Final = "expire:"
"""The ledger's own keys: a hold's expiry is keyed `expire:<hold_id>`."""


def check_operation_key(field: str, key: str) -> None:
    """Refuse an operation key in the ledger's own namespace for expiries.

    Raises:
        ValidationError: `key` starts with `EXPIRY_KEY_PREFIX`.
    """
    if key.startswith(EXPIRY_KEY_PREFIX):
        raise ValidationError(
            field, key, f"starts with {EXPIRY_KEY_PREFIX!r}, kept for expiries"
        )


@final
@attrs.frozen(slots=True, kw_only=True)
class Movement:
    """One immutable change to one balance.

    Attributes:
        key: The idempotency key of the operation that wrote it (a hold's
            expiry has the key `expire:<hold_id>`).
        index: Its position within that operation; `(key, index)` is unique
            in a store.
        kind: Why stock moved.
        sku: The SKU.
        location: Where.
        on_hand: Change to on hand (signed).
        reserved: Change to reserved (signed).
        allocated: Change to allocated (signed).
        at: When the store applied it (UTC).
        reason: Free text for people: a PO number, "damaged", "stocktake"
            (no NUL, which PostgreSQL's text cannot hold).
        actor: Who caused it.
        hold_id: The hold it resolves or places, if any.
        counted: For a stocktake, the counted on-hand figure.
        seq: The store's sequence number: 0 until stored, then increasing.

    .. versionadded:: 0.1.0
    """

    key: str = attrs.field(validator=text("key"))
    index: int = attrs.field(default=0, validator=count("index"))
    kind: MovementKind = attrs.field(validator=instance_of("kind", MovementKind))
    sku: str = attrs.field(validator=text("sku", MAX_NAME_LENGTH))
    location: str = attrs.field(validator=text("location", MAX_NAME_LENGTH))
    on_hand: int = attrs.field(default=0, validator=signed_int("on_hand"))
    reserved: int = attrs.field(default=0, validator=signed_int("reserved"))
    allocated: int = attrs.field(default=0, validator=signed_int("allocated"))
    at: pendulum.DateTime = attrs.field(converter=_at)
    reason: str = attrs.field(default="", validator=stored_text("reason"))
    actor: str = attrs.field(default="system", validator=text("actor"))
    hold_id: str | None = attrs.field(default=None, validator=optional_name("hold_id"))
    counted: int | None = attrs.field(default=None, converter=_optional_count)
    seq: int = attrs.field(default=0, validator=count("seq"))


_FIGURES = ("on_hand", "reserved", "allocated")


def movement_sums(
    movements: Iterable[Movement],
) -> dict[tuple[str, str], tuple[int, int, int]]:
    """Sum `(on_hand, reserved, allocated)` per `(sku, location)`, unchecked.

    Lost movements make sums below zero; `Ledger.audit` reports them as such.
    """
    sums: dict[tuple[str, str], list[int]] = {}
    for m in movements:
        row = sums.setdefault((m.sku, m.location), [0, 0, 0])
        row[0] += m.on_hand
        row[1] += m.reserved
        row[2] += m.allocated
    return {key: (row[0], row[1], row[2]) for key, row in sums.items()}


def replay(movements: Iterable[Movement]) -> dict[tuple[str, str], Balance]:
    """Rebuild balances from movements, keyed by `(sku, location)`.

    Compare the result with a store's balances to audit it: once the due
    holds are swept, they are equal in `on_hand`, `reserved` and `allocated`
    for every key (`safety_stock` is a setting, not a movement, and comes
    back as 0). Before, a hold past its expiry still counts as reserved
    here, until a sweep writes its `EXPIRE` movement, while the store's
    balances count it expired from its deadline. `Ledger.audit` sweeps,
    then compares, and reports a store whose movements sum below zero
    instead of raising.

    Only each balance's sums are bounded, not the figures on the way there:
    a store checks a balance once all of a plan's movements are applied, so
    a plan may pass below zero between two of its own movements.

    Raises:
        InvalidQuantity: The movements of a balance sum to a figure below
            zero (field `balance[<sku>, <location>].<figure>`): they are not
            a consistent ledger (one was lost, say).
    """
    found = {}
    for (sku, location), figures in movement_sums(movements).items():
        for name, value in zip(_FIGURES, figures, strict=True):
            if value < 0:
                raise InvalidQuantity(
                    f"balance[{sku!r}, {location!r}].{name}",
                    value,
                    "the movements sum below zero",
                )
        found[sku, location] = Balance(sku, location, *figures)
    return found
