"""Plans: everything one ledger operation writes, for a store to apply atomically."""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Iterable
from typing import final

import attrs
import pendulum

from orderkit._time import to_utc
from orderkit._validate import (
    MAX_NAME_LENGTH,
    MAX_OWNER_LENGTH,
    as_tuple,
    count,
    instance_of,
    optional_name,
    text,
)
from orderkit.errors import InvalidQuantity
from orderkit.inventory._holds import Hold
from orderkit.inventory._movements import Movement, check_operation_key
from orderkit.inventory._signals import Delist, Relist, StockSignal
from orderkit.inventory._stock import Balance


@final
class Measure(enum.StrEnum):
    """The balance figure a `Check` bounds.

    .. versionadded:: 0.1.0
    """

    AVAILABLE = "available"
    ON_HAND = "on_hand"
    ALLOCATED = "allocated"


def _optional_minimum(value: object) -> int | None:
    if value is None or (isinstance(value, int) and not isinstance(value, bool)):
        return value
    raise InvalidQuantity("minimum", value, "must be an integer or None")


@final
@attrs.frozen(slots=True)
class Check:
    """A bound one balance must meet once the plan's movements are applied.

    Attributes:
        sku: The SKU.
        location: The location.
        requested: What the plan takes from this balance, for the error report.
        measure: Which figure is bounded.
        minimum: The lowest value allowed; `None` means the floor of the SKU's
            stock policy at the plan's time (0 unless it backorders).

    .. versionadded:: 0.1.0
    """

    sku: str = attrs.field(validator=text("sku", MAX_NAME_LENGTH))
    location: str = attrs.field(validator=text("location", MAX_NAME_LENGTH))
    requested: int = attrs.field(validator=count("requested"))
    measure: Measure = attrs.field(
        default=Measure.AVAILABLE, validator=instance_of("measure", Measure)
    )
    minimum: int | None = attrs.field(default=None, converter=_optional_minimum)


@final
@attrs.frozen(slots=True)
class HoldWrite:
    """A compare-and-set of one hold.

    Attributes:
        expected: The hold as the plan read it; `None` for a new hold.
        new: The hold to store in its place.

    .. versionadded:: 0.1.0
    """

    expected: Hold | None = attrs.field(
        validator=attrs.validators.optional(instance_of("expected", Hold))
    )
    new: Hold = attrs.field(validator=instance_of("new", Hold))


def _now(value: dt.datetime) -> pendulum.DateTime:
    return to_utc(value, "now")


def _at(value: dt.datetime) -> pendulum.DateTime:
    return to_utc(value, "at")


def _movements(value: Iterable[Movement]) -> tuple[Movement, ...]:
    return as_tuple(value, "movements", Movement)


def _hold_writes(value: Iterable[HoldWrite]) -> tuple[HoldWrite, ...]:
    return as_tuple(value, "holds", HoldWrite)


def _checks(value: Iterable[Check]) -> tuple[Check, ...]:
    return as_tuple(value, "checks", Check)


def _holds(value: Iterable[Hold]) -> tuple[Hold, ...]:
    return as_tuple(value, "holds", Hold)


def _balances(value: Iterable[Balance]) -> tuple[Balance, ...]:
    return as_tuple(value, "balances", Balance)


def _operation_key(_: object, __: object, key: str) -> None:
    check_operation_key("key", key)


@final
@attrs.frozen(slots=True, kw_only=True)
class Plan:
    """Conditional movements that a `LedgerStore` applies all or nothing.

    Attributes:
        key: The operation's idempotency key: applying a plan with a key the
            store has seen returns the first receipt and writes nothing.
            Keys starting with `expire:` are the ledger's own (expiries).
        now: The caller's time; the store uses the later of it and the
            latest time it has seen.
        movements: Balance changes, in order. An `ADJUST` movement with
            `counted` set moves on hand to that figure, whatever it is then.
        holds: Compare-and-set writes of holds.
        checks: Bounds every touched balance must meet afterwards.
        supersede: An owner whose live holds on the touched balances are
            released first, so that it never competes with itself.
        remember: Keep the receipt, to return it when the key comes again.
            False when the caller guarantees the key is new and never
            repeated (the `Ledger` draws 128 random bits when not given a
            key): nothing can replay it, so the store may skip storing it.

    .. versionadded:: 0.1.0
    """

    key: str = attrs.field(validator=[text("key"), _operation_key])
    now: pendulum.DateTime = attrs.field(converter=_now)
    movements: tuple[Movement, ...] = attrs.field(default=(), converter=_movements)
    holds: tuple[HoldWrite, ...] = attrs.field(default=(), converter=_hold_writes)
    checks: tuple[Check, ...] = attrs.field(default=(), converter=_checks)
    supersede: str | None = attrs.field(
        default=None, validator=optional_name("supersede", MAX_OWNER_LENGTH)
    )
    remember: bool = attrs.field(default=True, validator=instance_of("remember", bool))

    def touched(self) -> tuple[tuple[str, str], ...]:
        """Every `(sku, location)` the plan reads or writes, in first-seen order."""
        rows: dict[tuple[str, str], None] = {}
        for m in self.movements:
            rows[m.sku, m.location] = None
        for w in self.holds:
            rows[w.new.sku, w.new.location] = None
        for c in self.checks:
            rows[c.sku, c.location] = None
        return tuple(rows)


@final
@attrs.frozen(slots=True, kw_only=True)
class Receipt:
    """What a store did with a plan.

    Attributes:
        key: The plan's key.
        at: The time the store applied it at (never before an earlier plan's).
        movements: Every movement written, with its sequence number: holds
            the store expired or superseded first, then the plan's own.
        holds: Every hold written, as stored: the plan's own first, then
            those the store expired or superseded.
        balances: Each touched balance after the plan.
        replayed: True when the key had been applied before and this is the
            first receipt, returned again without writing.

    .. versionadded:: 0.1.0
    """

    key: str = attrs.field(validator=text("key"))
    at: pendulum.DateTime = attrs.field(converter=_at)
    movements: tuple[Movement, ...] = attrs.field(default=(), converter=_movements)
    holds: tuple[Hold, ...] = attrs.field(default=(), converter=_holds)
    balances: tuple[Balance, ...] = attrs.field(default=(), converter=_balances)
    replayed: bool = attrs.field(default=False, validator=instance_of("replayed", bool))

    @property
    def signals(self) -> tuple[StockSignal, ...]:
        """A `Delist` or `Relist` per balance whose sellable stock hit or left zero."""
        return signals_of(self.movements, self.balances)


def signals_of(
    movements: Iterable[Movement], balances: Iterable[Balance]
) -> tuple[StockSignal, ...]:
    """A `Delist` or `Relist` per balance whose sellable stock hit or left zero.

    `balances` are the figures after `movements`, which moved them there.
    """
    moved: dict[tuple[str, str], int] = {}
    for m in movements:
        row = (m.sku, m.location)
        moved[row] = moved.get(row, 0) + m.on_hand - m.reserved - m.allocated
    found = (
        crossing(b, b.available - b.safety_stock - moved.get((b.sku, b.location), 0))
        for b in balances
    )
    return tuple(signal for signal in found if signal is not None)


def crossing(balance: Balance, before: int) -> StockSignal | None:
    """`Delist` or `Relist` when the balance's `available - safety_stock` crossed zero.

    `before` is what that figure was; `balance` has it now.
    """
    b = balance
    after = b.available - b.safety_stock
    if before > 0 >= after:
        return Delist(b.sku, b.location, b.available, b.safety_stock)
    if after > 0 >= before:
        return Relist(b.sku, b.location, b.available, b.safety_stock)
    return None


@final
class Swept(list[Movement]):
    """What an expiry sweep wrote: its `EXPIRE` movements, as a list of them.

    Attributes:
        signals: A `Relist` per balance the expired holds brought back to
            sale (as a `Receipt`'s `signals` say for a plan).

    .. versionadded:: 0.1.0
    """

    signals: tuple[StockSignal, ...]

    def __init__(
        self, movements: Iterable[Movement] = (), signals: Iterable[StockSignal] = ()
    ) -> None:
        """The sweep's movements, and the signals they raised."""
        super().__init__(movements)
        self.signals = tuple(signals)
