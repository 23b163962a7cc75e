"""The checks at the end of a run, against the stores themselves.

Nothing here trusts the workers' counts: it reads the database the run
left behind. The ledger's movements are replayed (`Ledger.audit`) and must
give the stored balances; no balance may hold more than is on hand (the
SKUs sell under `NoOversell`); no order's refunds may exceed its captures;
every order's audit trail must tell the story of its status, one version
after the other, each record once, each move one the lifecycle allows; holds
must belong to orders that still need them; abusers must hold no stock; and
the payment provider may hold no money the orders do not record as paid and
not refunded; and the orders' captures and refunds must be the provider's,
line for line, on its statements of the run's days (`reconcile_payments`).
An order the store cannot read back is a violation too, not a crash.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Final, final

import attrs
import pendulum

from orderkit.calendar import DayWindow
from orderkit.cli import _catalog as catalog
from orderkit.cli._plans import OrderPlan
from orderkit.cli._world import SimClock
from orderkit.errors import OrderkitError, RefundExceedsCapture
from orderkit.integrations import SettlementLine
from orderkit.inventory import Hold, HoldState, NoOversell
from orderkit.orders import (
    TRANSITIONS,
    AuditRecord,
    Order,
    OrderStatus,
    Verdict,
    order_stream,
)
from orderkit.ports import UnitOfWork
from orderkit.pricing import RefundState
from orderkit.services import Ledger, reconcile_payments


_PAGE: Final = 500
_SHOWN: Final = 20
_S = OrderStatus
# Statuses whose order may hold stock: live (unpaid) or committed (paid).
_HOLDING: Final = frozenset({_S.PENDING_PAYMENT})
_COMMITTED: Final = frozenset({_S.PAID, _S.PICKING, _S.PARTIALLY_SHIPPED})
_SHIPPED: Final = frozenset({_S.SHIPPED, _S.IN_TRANSIT, _S.DELIVERED, _S.COMPLETED})
# Where an order's shipments can take it: forward only, one parcel at a time.
_FORWARD: Final = (
    _S.PENDING_PAYMENT,
    _S.PAID,
    _S.PICKING,
    _S.PARTIALLY_SHIPPED,
    _S.SHIPPED,
    _S.IN_TRANSIT,
    _S.DELIVERED,
    _S.COMPLETED,
)


def _moves() -> frozenset[tuple[OrderStatus, OrderStatus]]:
    """Every status move the lifecycle's table allows (a status to itself aside)."""
    moves = set()
    for (status, _event), cell in TRANSITIONS.items():
        if isinstance(cell, OrderStatus):
            moves.add((status, cell))
        elif cell is Verdict.BY_SHIPMENTS:
            later = _FORWARD[_FORWARD.index(status) + 1 :]
            moves.update((status, to) for to in later if to is not _S.COMPLETED)
    return frozenset(moves)


_MOVES: Final = _moves()
# A saga's records: each half may come again once the other came between.
_SAGA_HALVES: Final = {"SagaStarted": "SagaEnded", "SagaEnded": "SagaStarted"}


@final
@attrs.define
class Findings:
    """What the stores say at the end, and every invariant they break."""

    oversold: int = 0
    refunds_over_captured: int = 0
    holds_expired: int = 0
    shipped: int = 0
    delivered: int = 0
    sagas_in_flight: int = 0
    units_to_abusers: int = 0
    us_day_orders: int = 0
    us_day_missed_by_utc8_dates: int = 0
    payments_reconciled: int = 0
    payment_discrepancies: int = 0
    violations: list[str] = attrs.field(factory=list)
    count: int = 0

    def violate(self, what: str) -> None:
        """Record a broken invariant (the first few are kept in words)."""
        self.count += 1
        if len(self.violations) < _SHOWN:
            self.violations.append(what)


def _orders(
    unit: UnitOfWork, planned: Iterable[tuple[str, str]], found: Findings
) -> Iterator[tuple[Order, Sequence[AuditRecord]]]:
    """Every order with its audit trail, a page per unit of work.

    Once a page cannot be read (an order whose document breaks the domain's
    rules), the rest are read one by one, by the ids the run planned, and
    each order that cannot be read is a violation.
    """
    after: tuple[str, str] | None = None
    while True:
        with unit as uow:
            try:
                page = uow.orders.orders(after=after, limit=_PAGE)
            except OrderkitError:
                break
            trails = [uow.audit.records(o.channel, o.order_id) for o in page]
        yield from zip(page, trails, strict=True)
        if len(page) < _PAGE:
            return
        after = (page[-1].channel, page[-1].order_id)
    for ref in sorted(r for r in set(planned) if after is None or r > after):
        with unit as uow:
            try:
                order = uow.orders.get(*ref)
            except OrderkitError as error:
                # The payment ledger refuses refunds beyond the captures when
                # the order is read: counted as what it is, besides.
                if RefundExceedsCapture in {type(error), type(error.__cause__)}:
                    found.refunds_over_captured += 1
                found.violate(f"store: {ref[0]}:{ref[1]} cannot be read: {error}")
                continue
            if order is None:
                continue
            trail = uow.audit.records(*ref)
        yield order, trail


def check(  # noqa: PLR0913 - the stores, the plans and what the outside saw
    unit: UnitOfWork,
    plans: Iterable[OrderPlan],
    now: pendulum.DateTime,
    *,
    sellable: Mapping[str, int],
    provider_holds: Mapping[str, int] | None = None,
    statement: Sequence[SettlementLine] | None = None,
) -> Findings:
    """Check every invariant against the stores at simulated time `now`.

    `sellable` is what the channels were last told they may sell of each
    SKU, through the outbox: it must be what the ledger says now.
    `provider_holds` is what the payment provider holds of each payment id
    (captured less refunded, in minor units): no more than the orders
    record of it, paid and not refunded (not checked when `None`).
    `statement` is the provider's settlement lines of every day of the run:
    the orders' captures and refunds must reconcile with it, line for line
    (not checked when `None`).
    """
    plans = list(plans)
    found = Findings()
    clock = SimClock(now)
    _check_ledger(unit, clock, sellable, found)
    abusers = {order_stream(p.channel, p.order_id) for p in plans if p.kind == "abuser"}
    status: dict[str, OrderStatus] = {}
    window = DayWindow(catalog.US_DAY, catalog.US_ZONE)
    planned = [(p.channel, p.order_id) for p in plans]
    recorded: dict[str, int] = {}
    paid: list[Order] = []
    for order, records in _orders(unit, planned, found):
        status[order_stream(order.channel, order.order_id)] = order.status
        _check_order(order, records, found)
        _count_kept(order, recorded)
        if statement is not None and (order.payments or order.payment_ledger):
            # Only orders that record money have anything to reconcile.
            paid.append(order)
        if order.channel == "shopify" and order.placed_at in window:
            found.us_day_orders += 1
            office_day = order.placed_at.in_timezone(catalog.OFFICE_ZONE).date()
            found.us_day_missed_by_utc8_dates += office_day != catalog.US_DAY
    with unit as uow:
        _check_holds(uow.ledger.holds(), status, abusers, found)
        found.holds_expired = len(uow.ledger.holds(state=HoldState.EXPIRED))
    if provider_holds is not None:
        _check_provider(provider_holds, recorded, found)
    if statement is not None:
        _reconcile(paid, statement, found)
    return found


def _reconcile(
    orders: Sequence[Order], statement: Sequence[SettlementLine], found: Findings
) -> None:
    """The orders' captures and refunds are the provider's, and no more.

    Each difference `reconcile_payments` finds is a violation: money the
    provider moved that no order records, or that an order records and
    the provider never moved, or moved otherwise.
    """
    try:
        report = reconcile_payments(orders, statement)
    except OrderkitError as error:
        # Two orders claim one capture: the books cannot be read as one.
        found.payment_discrepancies += 1
        found.violate(f"reconciliation: not done: {error}")
        return
    found.payments_reconciled = report.matched
    found.payment_discrepancies = len(report.discrepancies)
    for d in report.discrepancies:
        order = "" if d.order_id is None else f" of order {d.order_id}"
        found.violate(f"reconciliation: {d.kind} {d.transaction_id}{order}: {d.detail}")


def _count_kept(order: Order, recorded: dict[str, int]) -> None:
    """Add what the order records kept of each payment: paid, less refunded."""
    for payment in order.payments:
        kept = recorded.get(payment.payment_id, 0) + payment.amount.minor
        recorded[payment.payment_id] = kept
    if order.payment_ledger is not None:
        for refund in order.payment_ledger.refunds:
            if refund.state is RefundState.REFUNDED:
                kept = recorded.get(refund.payment_id, 0) - refund.amount.minor
                recorded[refund.payment_id] = kept


def _check_provider(
    holds: Mapping[str, int], recorded: Mapping[str, int], found: Findings
) -> None:
    """The provider keeps no money that no order records as kept.

    A capture whose reply was lost, on an order closed meanwhile, is money
    taken from a buyer for nothing until the recovery refunds it. (The
    other way round is no violation: a channel may report a payment taken
    outside this provider.)
    """
    for payment, held in sorted(holds.items()):
        kept = recorded.get(payment, 0)
        if held > kept:
            found.violate(
                f"provider: holds {held} (minor units) of payment {payment},"
                f" the orders record {kept} of it kept"
            )


def _check_ledger(
    unit: UnitOfWork, clock: SimClock, told: Mapping[str, int], found: Findings
) -> None:
    with unit as uow:
        ledger = Ledger(uow.ledger, clock)
        try:
            differences = ledger.audit()
        except OrderkitError as error:
            found.violate(f"ledger: the movements do not replay: {error}")
            differences = ()
        uow.commit()
        for stored, replayed in differences:
            found.violate(
                f"ledger: {stored.sku}@{stored.location} stores "
                f"{_figures(stored.on_hand, stored.reserved, stored.allocated)}, "
                "its movements replay to "
                f"{_figures(replayed.on_hand, replayed.reserved, replayed.allocated)}"
            )
        balances = ledger.balances()
        sellable: dict[str, int] = {}
        for balance in balances:
            sellable[balance.sku] = sellable.get(balance.sku, 0) + balance.sellable()
        for sku in sorted(sellable.keys() | told.keys()):
            units = sellable.get(sku)
            if told.get(sku) != units:
                found.violate(
                    f"sync: channels were told {told.get(sku)} of {sku} sellable,"
                    f" the ledger has {units}"
                )
        for balance in balances:
            if balance.available >= 0:
                continue
            if not isinstance(uow.ledger.policy(balance.sku), NoOversell):
                continue
            found.oversold += -balance.available
            found.violate(
                f"oversold: {balance.sku}@{balance.location} holds "
                f"{balance.reserved + balance.allocated} of {balance.on_hand} on hand"
            )


def _figures(on_hand: int, reserved: int, allocated: int) -> str:
    return f"on hand {on_hand}, reserved {reserved}, allocated {allocated}"


def _check_order(order: Order, records: Sequence[AuditRecord], found: Findings) -> None:
    ref = f"{order.channel}:{order.order_id}"
    found.shipped += bool(order.shipments)
    found.delivered += order.status in {_S.DELIVERED, _S.COMPLETED}
    found.sagas_in_flight += order.saga is not None
    if not records or records[0].event_type != "OrderPlaced":
        found.violate(f"audit: {ref} has no OrderPlaced record first")
        return
    _check_trail(order, records, ref, found)
    _check_shipped(order, ref, found)
    ledger = order.payment_ledger
    if ledger is None:
        return
    totals = ledger.totals()
    if totals.refunded + totals.pending > totals.captured + totals.allowance:
        found.refunds_over_captured += 1
        found.violate(
            f"refunds: {ref} refunded {totals.refunded} (+{totals.pending} pending) "
            f"of {totals.captured} captured"
        )
    paid = sum((p.amount.minor for p in order.payments), 0)
    if totals.captured.minor > paid:
        found.violate(f"payments: {ref} ledger captured more than the order was paid")


def _check_trail(
    order: Order, records: Sequence[AuditRecord], ref: str, found: Findings
) -> None:
    """The trail tells the order's story: one version after another, each event once."""
    if records[0].version != 1:
        found.violate(f"audit: {ref} starts at version {records[0].version}")
    for before, after in itertools.pairwise(records):
        if after.version != before.version + 1:
            found.violate(
                f"audit: {ref} version {after.version} after {before.version}"
            )
        if after.from_status is not before.to_status:
            found.violate(
                f"audit: {ref} v{after.version} starts at {after.from_status}, "
                f"the record before ended at {before.to_status}"
            )
        move = (before.to_status, after.to_status)
        if move[0] is not move[1] and move not in _MOVES:
            found.violate(
                f"audit: {ref} v{after.version} moves {move[0]} -> {move[1]},"
                " which the lifecycle never does"
            )
    _check_once(records, ref, found)
    if records[-1].to_status is not order.status:
        found.violate(
            f"audit: {ref} is {order.status}, its trail ends at {records[-1].to_status}"
        )
    if records[-1].version != order.version:
        found.violate(
            f"audit: {ref} is at version {order.version},"
            f" its trail ends at {records[-1].version}"
        )


def _check_once(records: Sequence[AuditRecord], ref: str, found: Findings) -> None:
    """Each record once; a saga may begin again under its key once it ended.

    An event, an amendment or a note of the desk applied a second time is a
    double execution, whatever its type. A capture declined and asked again
    under the same payment id begins its saga again, under the same key, and
    ends it again: a saga's start (or end) may repeat after its end (or
    start), never twice in a row.
    """
    seen: set[tuple[str, str]] = set()
    for record in records:
        saga = record.event_type in _SAGA_HALVES
        # A saga's two records name its key alike (event_id), not their kind.
        applied = (record.event_type, record.key.event_id if saga else str(record.key))
        if applied in seen:
            found.violate(f"audit: {ref} applied {applied[0]} {applied[1]} twice")
        seen.add(applied)
        if saga:
            seen.discard((_SAGA_HALVES[record.event_type], applied[1]))


def _check_shipped(order: Order, ref: str, found: Findings) -> None:
    """Every stocked unit of a shipped order left once: none twice, none missing.

    An unstocked line (a gift card) may ride along, never beyond its quantity.
    """
    if order.status not in _SHIPPED:
        return
    sent: dict[str, int] = {}
    for shipment in order.shipments:
        for part in shipment.lines:
            sent[part.line_id] = sent.get(part.line_id, 0) + part.quantity
    stocked = {line.line_id: line.quantity for line in order.lines if line.stocked}
    riding = {line.line_id: line.quantity for line in order.lines if not line.stocked}
    carried = {line_id: n for line_id, n in sent.items() if line_id in stocked}
    rode_well = all(
        n <= riding.get(line_id, 0)
        for line_id, n in sent.items()
        if line_id not in stocked
    )
    if carried != stocked or not rode_well:
        found.violate(f"shipping: {ref} ordered {stocked}, its parcels carry {sent}")


def _check_holds(
    holds: Iterable[Hold],
    status: dict[str, OrderStatus],
    abusers: set[str],
    found: Findings,
) -> None:
    for hold in holds:
        owner, state = hold.owner, status.get(hold.owner)
        if owner in abusers and hold.committed:
            found.units_to_abusers += hold.committed
            found.violate(f"abuse: {owner} got {hold.committed} units")
        if hold.state is HoldState.LIVE and state not in _HOLDING:
            found.violate(f"holds: {owner} ({state}) keeps a live hold {hold.hold_id}")
        if (
            hold.state is HoldState.COMMITTED
            and hold.unshipped
            and (state not in _COMMITTED)
        ):
            found.violate(
                f"holds: {owner} ({state}) keeps {hold.unshipped} units"
                " committed and unshipped"
            )
