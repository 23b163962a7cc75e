"""Plans for each ledger operation: pure functions of what was read and asked.

`orderkit.services.Ledger` validates its arguments, reads what a plan
depends on, and calls these; a store applies the result atomically.
"""

from __future__ import annotations

from collections.abc import Iterable

import attrs
import pendulum

from orderkit._fast import builder, copier
from orderkit._validate import MAX_INT
from orderkit.errors import HoldNotLive, InsufficientStock, InvalidQuantity
from orderkit.inventory._holds import Hold, HoldState
from orderkit.inventory._movements import Movement, MovementKind
from orderkit.inventory._plans import Check, HoldWrite, Measure, Plan
from orderkit.inventory._stock import Shortage, StockLine


_hold = builder(Hold)
_copy_hold = copier(Hold)
_hold_write = builder(HoldWrite)
_movement = builder(Movement)
_check = builder(Check)
_plan = builder(Plan)


@attrs.frozen(slots=True)
class Stamp:
    """Who does an operation, when, why, and under which idempotency key."""

    key: str
    now: pendulum.DateTime
    reason: str = ""
    actor: str = "system"
    remember: bool = True


def merge_lines(lines: Iterable[StockLine]) -> dict[tuple[str, str], int]:
    """Sum the quantities of lines for the same SKU and location, keeping order.

    Raises:
        InvalidQuantity: A sum exceeds 2**63 - 1.
    """
    demand: dict[tuple[str, str], int] = {}
    for line in lines:
        row = (line.sku, line.location)
        total = demand[row] = demand.get(row, 0) + line.quantity
        if total > MAX_INT:
            raise InvalidQuantity("quantity", total, "the lines sum beyond 2**63 - 1")
    return demand


def receive(
    stamp: Stamp,
    kind: MovementKind,
    line: StockLine,
) -> Plan:
    """Goods in (`RECEIVE`, or `RESTOCK` for inspected returns): on hand up."""
    movement = Movement(
        key=stamp.key,
        kind=kind,
        sku=line.sku,
        location=line.location,
        on_hand=line.quantity,
        at=stamp.now,
        reason=stamp.reason,
        actor=stamp.actor,
    )
    return Plan(
        key=stamp.key, now=stamp.now, remember=stamp.remember, movements=(movement,)
    )


def adjust(
    stamp: Stamp,
    sku: str,
    location: str,
    *,
    delta: int | None,
    counted: int | None,
) -> Plan:
    """A correction by `delta`, or a stocktake that sets on hand to `counted`.

    A negative `delta` is checked twice: on hand stays at or above zero, and
    available at or above the policy's floor, as for a reservation, since
    held and committed units are promised to buyers. A stocktake is not
    checked: it records the shelf as it is, even when that leaves available
    below the floor.
    """
    movement = Movement(
        key=stamp.key,
        kind=MovementKind.ADJUST,
        sku=sku,
        location=location,
        on_hand=delta or 0,
        counted=counted,
        at=stamp.now,
        reason=stamp.reason,
        actor=stamp.actor,
    )
    checks: tuple[Check, ...] = ()
    if delta is not None and delta < 0:
        checks = (
            Check(sku, location, -delta, Measure.ON_HAND, 0),
            Check(sku, location, -delta, Measure.AVAILABLE, None),
        )
    return Plan(
        key=stamp.key,
        now=stamp.now,
        remember=stamp.remember,
        movements=(movement,),
        checks=checks,
    )


def sweep(stamp: Stamp, sku: str, location: str) -> Plan:
    """Expire the balance's due holds, and nothing else.

    A store expires the due holds of every balance a plan touches before
    anything else (`LedgerStore.apply`, step 1); this plan's one check, on
    hand at or above zero, always holds and makes it touch the balance.
    """
    check = Check(sku, location, 0, Measure.ON_HAND, 0)
    return Plan(key=stamp.key, now=stamp.now, remember=stamp.remember, checks=(check,))


def transfer(
    stamp: Stamp,
    line: StockLine,
    to: str,
) -> Plan:
    """Move available units from `line.location` to `to`, never oversold."""
    out, into = (
        Movement(
            key=stamp.key,
            index=i,
            kind=MovementKind.TRANSFER,
            sku=line.sku,
            location=location,
            on_hand=sign * line.quantity,
            at=stamp.now,
            reason=stamp.reason,
            actor=stamp.actor,
        )
        for i, (location, sign) in enumerate(((line.location, -1), (to, 1)))
    )
    check = Check(line.sku, line.location, line.quantity, Measure.AVAILABLE, 0)
    return Plan(
        key=stamp.key,
        now=stamp.now,
        remember=stamp.remember,
        movements=(out, into),
        checks=(check,),
    )


def reserve(
    stamp: Stamp,
    owner: str,
    lines: Iterable[StockLine],
    expires_at: pendulum.DateTime,
) -> Plan:
    """Hold every line for `owner`, all or nothing, replacing its own holds.

    Lines for the same SKU and location become one hold of their sum, and
    one check against the SKU's policy.
    """
    movements: list[Movement] = []
    writes: list[HoldWrite] = []
    checks: list[Check] = []
    key, now = stamp.key, stamp.now
    # Built without re-validation: every part was validated on the way in
    # (StockLine, Stamp), and reserving is the ledger's hottest path.
    for i, ((sku, location), quantity) in enumerate(merge_lines(lines).items()):
        hold_id = f"{key}/{i}"
        # fmt: off
        hold = _hold(
            hold_id, owner, sku, location, quantity, now, expires_at,
            HoldState.LIVE, 0, 0, None,
        )
        writes.append(_hold_write(None, hold))
        movements.append(_movement(
            key, i, MovementKind.HOLD, sku, location, 0, quantity, 0, now,
            stamp.reason, stamp.actor, hold_id, None, 0,
        ))
        checks.append(_check(sku, location, quantity, Measure.AVAILABLE, None))
        # fmt: on
    return _plan(
        key, now, tuple(movements), tuple(writes), tuple(checks), owner, stamp.remember
    )


def _require_live(hold: Hold) -> None:
    if hold.state is not HoldState.LIVE:
        raise HoldNotLive(hold.hold_id, hold.state.value)


def extend(stamp: Stamp, hold: Hold, expires_at: pendulum.DateTime) -> Plan:
    """Move a live hold's expiry to `expires_at` (never earlier than it was)."""
    _require_live(hold)
    if not hold.is_live(stamp.now):
        raise HoldNotLive(hold.hold_id, HoldState.EXPIRED.value)
    new = attrs.evolve(hold, expires_at=max(expires_at, hold.expires_at))
    return Plan(
        key=stamp.key,
        now=stamp.now,
        remember=stamp.remember,
        holds=(HoldWrite(hold, new),),
    )


def release(stamp: Stamp, hold: Hold) -> Plan | None:
    """Release a live hold; `None` when it was resolved already (a no-op)."""
    if hold.state is not HoldState.LIVE:
        return None
    return _resolve(stamp, hold, 0)


def commit(
    stamp: Stamp,
    hold: Hold,
    quantity: int | None,
) -> Plan | None:
    """Commit `quantity` of a hold (all by default); the rest returns to available.

    Returns `None` when the hold was committed already (a no-op).

    Raises:
        HoldNotLive: The hold was released or expired.
        InvalidQuantity: `quantity` exceeds the hold, whatever its state.
    """
    taken = hold.quantity if quantity is None else quantity
    # Checked before the no-op: a retry asking for more than the hold is a
    # caller's mistake whatever became of the hold.
    if taken > hold.quantity:
        raise InvalidQuantity(
            "quantity", taken, f"exceeds hold {hold.hold_id!r} of {hold.quantity}"
        )
    if hold.state is HoldState.COMMITTED:
        return None
    _require_live(hold)
    return _resolve(stamp, hold, taken)


def _resolve(stamp: Stamp, hold: Hold, committed: int) -> Plan:
    state = HoldState.COMMITTED if committed else HoldState.RELEASED
    new = _copy_hold(hold, state=state, committed=committed, resolved_at=stamp.now)
    parts = (
        (MovementKind.COMMIT, committed, committed),
        (MovementKind.RELEASE, hold.quantity - committed, 0),
    )
    # fmt: off
    movements = tuple(
        _movement(
            stamp.key, i, kind, hold.sku, hold.location, 0, -quantity, allocated,
            stamp.now, stamp.reason, stamp.actor, hold.hold_id, None, 0,
        )
        for i, (kind, quantity, allocated) in enumerate(parts)
        if quantity
    )
    # fmt: on
    return _plan(
        stamp.key,
        stamp.now,
        movements,
        (_hold_write(hold, new),),
        (),
        None,
        stamp.remember,
    )


def ship(
    stamp: Stamp,
    lines: Iterable[StockLine],
    committed: Iterable[Hold],
) -> Plan:
    """Ship lines out of the owner's committed holds, oldest first.

    Args:
        stamp: The plan's key and time, and who ships why.
        lines: What leaves, per SKU and location.
        committed: The owner's committed holds.

    Raises:
        InsufficientStock: A line asks for more than the owner has committed
            and not shipped at its location (`measure="allocated"`); every
            such line is listed.
    """
    return _out_of_allocation(stamp, lines, committed, MovementKind.SHIP)


def unallocate(
    stamp: Stamp,
    lines: Iterable[StockLine],
    committed: Iterable[Hold],
) -> Plan:
    """Return lines of the owner's committed, unshipped units to available.

    For an order cancelled after payment and before its parcels left: the
    units stay on hand and are sellable again. The owner's newest committed
    holds give their units back first, so what ships is what was held first.

    Raises:
        InsufficientStock: A line asks for more than the owner has committed
            and not shipped at its location (`measure="allocated"`).
    """
    return _out_of_allocation(stamp, lines, committed, MovementKind.UNALLOCATE)


def _out_of_allocation(
    stamp: Stamp,
    lines: Iterable[StockLine],
    committed: Iterable[Hold],
    kind: MovementKind,
) -> Plan:
    """Take lines out of the owner's allocation: shipped, or given back."""
    shipping = kind is MovementKind.SHIP
    demand = merge_lines(lines)
    by_row: dict[tuple[str, str], list[Hold]] = {}
    for hold in sorted(
        committed, key=lambda h: (h.placed_at, h.hold_id), reverse=not shipping
    ):
        if hold.unshipped:
            by_row.setdefault((hold.sku, hold.location), []).append(hold)
    shortages = [
        Shortage(sku, location, quantity, have, "allocated")
        for (sku, location), quantity in demand.items()
        if (have := sum(h.unshipped for h in by_row.get((sku, location), ())))
        < quantity
    ]
    if shortages:
        raise InsufficientStock(shortages)
    movements: list[Movement] = []
    writes: list[HoldWrite] = []
    checks: list[Check] = []
    for i, ((sku, location), quantity) in enumerate(demand.items()):
        left = quantity
        for hold in by_row[sku, location]:
            taken = min(left, hold.unshipped)
            new = (
                attrs.evolve(hold, shipped=hold.shipped + taken)
                if shipping
                else attrs.evolve(hold, committed=hold.committed - taken)
            )
            writes.append(HoldWrite(hold, new))
            left -= taken
            if not left:
                break
        movements.append(
            Movement(
                key=stamp.key,
                index=i,
                kind=kind,
                sku=sku,
                location=location,
                on_hand=-quantity if shipping else 0,
                allocated=-quantity,
                at=stamp.now,
                reason=stamp.reason,
                actor=stamp.actor,
            )
        )
        if shipping:
            checks.append(Check(sku, location, quantity, Measure.ON_HAND, 0))
        checks.append(Check(sku, location, quantity, Measure.ALLOCATED, 0))
    return Plan(
        key=stamp.key,
        now=stamp.now,
        movements=movements,
        holds=writes,
        checks=checks,
        remember=stamp.remember,
    )
