"""The order desk: the use cases a host calls, composed over one unit of work.

Every use case opens the unit of work, reads what it needs, decides with
the pure core (lifecycle, pricing, limits, dedupe, ledger math), writes the
order, its audit records, its stock movements and its outbox messages, and
commits once: a use case that fails leaves every store as it was.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from typing import Final, final

import pendulum

from orderkit._fast import copier
from orderkit._time import plus
from orderkit.dedupe import Fingerprinter, IdempotencyKey
from orderkit.errors import (
    IllegalTransition,
    InsufficientStock,
    UnknownOrder,
    ValidationError,
)
from orderkit.integrations import ChannelOrder
from orderkit.inventory import Hold, HoldState, StockLine, route
from orderkit.orders import (
    Applied,
    AuditRecord,
    Cancelled,
    Closed,
    FieldChange,
    Order,
    OrderEvent,
    OrderStatus,
    PaymentCaptured,
    RefundDue,
    Shipped,
    apply_all,
    order_stream,
)
from orderkit.ports import Clock, UnitOfWork
from orderkit.pricing import Exceeded, PurchaseContext, validate
from orderkit.services._desk_notes import (
    order_messages,
    parked_record,
    refund_saga,
    review_record,
    sellable_messages,
)
from orderkit.services._duplicates import DuplicateDetector
from orderkit.services._intake import (
    Accepted,
    AlreadyAccepted,
    DeskPolicy,
    EventRecorded,
    Held,
    Intake,
    RefusalReason,
    Refused,
)
from orderkit.services._ledger import Ledger
from orderkit.services._limits import PurchaseLimits


_S = OrderStatus
# Statuses in which the order's stock is held (unpaid) or committed (paid).
_HOLDING: Final = frozenset({_S.PENDING_PAYMENT})
_COMMITTED: Final = frozenset({_S.PAID, _S.PICKING, _S.PARTIALLY_SHIPPED})
_evolve_order: Final = copier(Order)
# A hold must last a moment even when the payment deadline has passed.
_SHORTEST_HOLD: Final = dt.timedelta(seconds=1)


def owner_of(order: Order) -> str:
    """The owner of an order's holds in the ledger: its stream name."""
    return order_stream(order.channel, order.order_id)


@final
class OrderDesk:
    """The use cases over one backend: intake, events, timers and the queue.

    Args:
        unit: The backend's unit of work; every use case runs in one unit.
        clock: Where the time comes from.
        policy: How the desk decides (locations, pricing, limits...).
        fingerprinter: How orders are compared for duplicates.

    .. versionadded:: 0.1.0
    """

    def __init__(
        self,
        unit: UnitOfWork,
        clock: Clock,
        policy: DeskPolicy,
        fingerprinter: Fingerprinter,
    ) -> None:
        """Create the desk over `unit`."""
        if not isinstance(policy, DeskPolicy):
            raise ValidationError("policy", policy, "must be a DeskPolicy")
        self._unit = unit
        self._clock = clock
        self._policy = policy
        self._fingerprinter = fingerprinter

    # ------------------------------------------------------------------
    # Intake

    def accept(
        self,
        incoming: ChannelOrder,
        *,
        ip: str | None = None,
        device: str | None = None,
        promotion: str | None = None,
    ) -> Intake:
        """Take a channel's order in: check it, hold its stock, and store it.

        The pipeline, in order: an order the desk holds already is
        `AlreadyAccepted`; the duplicate screen records it (a suspected
        duplicate is held for review); purchase limits refuse it when a
        limit is reached; a pricing violation holds it for review; otherwise
        its lines are routed to locations and their stock held (until the
        payment deadline, or committed if it is paid already), and a shortage
        refuses it. Refused orders leave nothing behind; held ones are stored
        without stock, waiting for `release`.

        Args:
            incoming: The order as its channel adapter read it.
            ip: The IP address the buyer ordered from, for limits.
            device: The buyer's device id, for limits.
            promotion: The promotion the order uses, for limits.

        Returns:
            `Accepted`, `Held`, `AlreadyAccepted` or `Refused`.

        Raises:
            ValidationError: `incoming` is not a `ChannelOrder`.
            StoreError: A store failed; nothing was recorded.
        """
        if not isinstance(incoming, ChannelOrder):
            raise ValidationError("incoming", incoming, "must be a ChannelOrder")
        with self._unit as uow:
            found = uow.orders.get(incoming.channel, incoming.order_id)
            if found is not None:
                return AlreadyAccepted(found)
            now = self._clock.now()
            batch = apply_all(None, [incoming.placed, *incoming.events], now=now)
            order = batch.order
            assert order is not None  # noqa: S101 - OrderPlaced always places
            records = list(batch.records)
            screening = DuplicateDetector(
                self._policy.duplicate_window,
                uow.detector,
                self._fingerprinter,
                self._clock,
            ).check(order)
            context = PurchaseContext.of(
                order, ip=ip, device=device, promotion=promotion
            )
            decision = PurchaseLimits(
                self._policy.limits, uow.limits, self._clock
            ).check(context, use_id=owner_of(order))
            if isinstance(decision, Exceeded):
                return Refused(
                    order.channel,
                    order.order_id,
                    RefusalReason.LIMITS,
                    overages=decision.over,
                )
            review: list[str] = []
            details: list[str] = []
            if screening.suspected:
                review.append("duplicate")
                details.append(
                    "疑似重复 / suspected duplicate of "
                    + ", ".join(f"{m.channel}:{m.order_id}" for m in screening.matches)
                )
            pricing = validate(incoming.quote, self._policy.pricing_for(order.channel))
            if not pricing.ok:
                review.append("pricing")
                details.append(pricing.hold_reason or "pricing")
            if review:
                held = _evolve_order(
                    order, review=tuple(review), version=order.version + 1
                )
                records.append(review_record(held, now, tuple(review)))
                order = held
            else:
                try:
                    self._hold_stock(uow, order, now)
                except InsufficientStock as error:
                    return Refused(
                        order.channel,
                        order.order_id,
                        RefusalReason.OUT_OF_STOCK,
                        shortages=error.shortages,
                    )
            self._store(uow, None, order, records, now)
            uow.commit()
        if review:
            return Held(order, tuple(records), "; ".join(details))
        return Accepted(order, tuple(records))

    def release(self, channel: str, order_id: str, *, actor: str) -> Accepted:
        """Let a held order go on, after a person reviewed it: hold its stock.

        Raises:
            UnknownOrder: The desk has no such order.
            IllegalTransition: The order is not held for review.
            InsufficientStock: Its lines cannot be filled now; nothing changed.
        """
        with self._unit as uow:
            order = self._order(uow, channel, order_id)
            if not order.review:
                raise IllegalTransition(
                    order_id, order.status, "release", "the order is not held"
                )
            now = self._clock.now()
            self._hold_stock(uow, order, now)
            released = _evolve_order(order, review=(), version=order.version + 1)
            record = AuditRecord(
                order_id=order_id,
                version=released.version,
                from_status=order.status,
                to_status=order.status,
                event_type="Released",
                key=IdempotencyKey(
                    "orderkit", "release", order_id, str(released.version)
                ),
                actor=actor,
                source="orderkit",
                occurred_at=now,
                recorded_at=now,
                changes=(FieldChange("review", ", ".join(order.review), ""),),
            )
            self._store(uow, order, released, [record], now)
            uow.commit()
        return Accepted(released, (record,))

    # ------------------------------------------------------------------
    # Events

    def record(self, channel: str, order_id: str, event: OrderEvent) -> EventRecorded:
        """Apply an event from a channel, warehouse or carrier, with its effects.

        Early events are parked with the order and applied after the next
        event that applies. A payment commits the order's held stock; a
        shipment takes its units out of the ledger; a cancellation or close
        releases held stock and gives back committed, unshipped units. Money
        owed back (`RefundDue`) goes to the outbox as a `refund` message.

        Raises:
            UnknownOrder: The desk has no such order.
            StoreError: A store failed; nothing was recorded.
        """
        with self._unit as uow:
            order = self._order(uow, channel, order_id)
            if any(parked.key == event.key for parked in order.parked):
                return EventRecorded(order, (), order.parked)
            now = self._clock.now()
            batch = apply_all(order, [event], parked=order.parked, now=now)
            assert batch.order is not None  # noqa: S101 - it started with an order
            new, records = batch.order, list(batch.records)
            for parked in batch.parked:
                if parked not in order.parked:
                    new = _evolve_order(new, version=new.version + 1)
                    records.append(parked_record(new, parked, now))
            new = _evolve_order(new, parked=batch.parked)
            if new == order:
                return EventRecorded(order, batch.outcomes, batch.parked)
            refunds = []
            for outcome in batch.outcomes:
                if isinstance(outcome, Applied | RefundDue):
                    self._stock_effects(uow, outcome.order, outcome.event, now)
                if isinstance(outcome, RefundDue):
                    refunds.append(outcome)
            if refunds and new.saga is None:
                # The refund is owed exactly once: a saga sends it (see Refunds).
                new = _evolve_order(new, saga=refund_saga(new, refunds[0], now))
            self._store(uow, order, new, records, now, refunds=refunds)
            uow.commit()
        return EventRecorded(new, batch.outcomes, batch.parked, tuple(refunds))

    def close_unpaid(self, *, limit: int = 100) -> tuple[EventRecorded, ...]:
        """Close unpaid orders past their payment deadline; their stock goes back.

        An order without a deadline from its channel may wait `pay_window`
        from when it was placed.

        Returns:
            What closing each order did, at most `limit` orders.
        """
        now = self._clock.now()
        with self._unit as uow:
            unpaid = uow.orders.orders(status=_S.PENDING_PAYMENT, limit=limit)
        closed = []
        for order in unpaid:
            deadline = order.pay_by or plus(order.placed_at, self._policy.pay_window)
            if deadline > now:
                continue
            event = Closed(
                order_id=order.order_id,
                key=IdempotencyKey("orderkit", "closed", order.order_id, "unpaid"),
                occurred_at=deadline,
                reason="未在付款期限内付款 / not paid by the deadline",
            )
            closed.append(self.record(order.channel, order.order_id, event))
        return tuple(closed)

    def picking_queue(self, *, limit: int = 100) -> tuple[Order, ...]:
        """Paid orders waiting for picking, most urgent first.

        Ordered by promised ship-by time (the SLA from the first payment,
        or the payment itself), then customer tier (higher first), then order
        value (higher first), then when the order was placed. Orders held for
        review wait outside the queue.
        """
        with self._unit as uow:
            paid = [
                o
                for o in uow.orders.orders(status=_S.PAID, limit=10_000)
                if not o.review
            ]
        return tuple(sorted(paid, key=self._priority)[:limit])

    # ------------------------------------------------------------------
    # Helpers

    def _priority(self, order: Order) -> tuple[object, ...]:
        paid_at = order.payments[0].captured_at if order.payments else order.placed_at
        sla = self._policy.sla
        due = paid_at if sla is None else sla.ship_by(paid_at).due
        value = sum(line.amount.amount for line in order.lines)
        return (due, -self._policy.tier(order), -value, order.placed_at, order.order_id)

    @staticmethod
    def _order(uow: UnitOfWork, channel: str, order_id: str) -> Order:
        order = uow.orders.get(channel, order_id)
        if order is None:
            raise UnknownOrder(channel, order_id)
        return order

    def _ledger(self, uow: UnitOfWork) -> Ledger:
        return Ledger(uow.ledger, self._clock, hold_ttl=self._policy.pay_window)

    def _hold_stock(
        self, uow: UnitOfWork, order: Order, now: pendulum.DateTime
    ) -> None:
        """Route the order's lines and hold them; commit them if it is paid."""
        if order.status not in _HOLDING | _COMMITTED:
            return
        demand: dict[str, int] = {}
        for line in order.lines:
            demand[line.sku] = demand.get(line.sku, 0) + line.quantity
        balances = [
            balance for sku in demand for balance in uow.ledger.balances(now, sku=sku)
        ]
        chosen = route(
            demand,
            balances,
            locations=self._policy.locations,
            strategy=self._policy.routing,
        )
        deadline = order.pay_by or plus(now, self._policy.pay_window)
        ledger = self._ledger(uow)
        receipt = ledger.reserve(
            owner_of(order),
            chosen.lines,
            ttl=max(deadline - now, _SHORTEST_HOLD),
            reason=f"order {order.order_id}",
            key=f"{owner_of(order)}:hold:{order.version}",
        )
        if order.status in _COMMITTED:
            for hold in receipt.holds:
                if hold.state is HoldState.LIVE:
                    ledger.commit(hold.hold_id, reason="paid")

    def _stock_effects(
        self, uow: UnitOfWork, order: Order, event: OrderEvent, now: pendulum.DateTime
    ) -> None:
        ledger = self._ledger(uow)
        owner = owner_of(order)
        holds = uow.ledger.holds(owner=owner)
        if isinstance(event, PaymentCaptured):
            live = [h for h in holds if h.is_live(now)]
            for hold in live:
                ledger.commit(
                    hold.hold_id, reason="paid", key=f"{event.key}:{hold.hold_id}"
                )
            if not live and not any(h.state is HoldState.COMMITTED for h in holds):
                # The hold lapsed before the money came: hold the stock again.
                self._hold_stock(uow, order, now)
        elif isinstance(event, Shipped):
            skus = {line.line_id: line.sku for line in order.lines}
            wanted = [(skus[part.line_id], part.quantity) for part in event.lines]
            lines = _from_holds(holds, wanted)
            ledger.ship(
                owner, lines, reason=f"shipment {event.shipment_id}", key=str(event.key)
            )
        elif isinstance(event, Cancelled | Closed):
            for hold in holds:
                if hold.state is HoldState.LIVE:
                    ledger.release(hold.hold_id, reason=type(event).__name__.lower())
            committed = [h for h in holds if h.state is HoldState.COMMITTED]
            back = [
                StockLine(h.sku, h.location, h.unshipped)
                for h in committed
                if h.unshipped
            ]
            if back:
                ledger.unallocate(
                    owner, back, reason="cancelled", key=f"{event.key}:back"
                )

    def _store(  # noqa: PLR0913 - the unit, the change, and what it sends
        self,
        uow: UnitOfWork,
        old: Order | None,
        new: Order,
        records: Sequence[AuditRecord],
        now: pendulum.DateTime,
        *,
        refunds: Sequence[RefundDue] = (),
    ) -> None:
        uow.orders.save(new, None if old is None else old.version)
        uow.audit.append(new.channel, records)
        messages = [
            *order_messages(old, new, refunds, now),
            *sellable_messages(uow.ledger, new, now),
        ]
        if messages:
            uow.outbox.add(messages)


def _from_holds(
    holds: Iterable[Hold], wanted: Iterable[tuple[str, int]]
) -> list[StockLine]:
    """Where each shipped SKU's units were committed, oldest holds first.

    A SKU shipped beyond what was committed is asked of its first location
    (or none), so that the ledger refuses it with the shortage.
    """
    left: dict[tuple[str, str], int] = {}
    for hold in holds:
        if hold.state is HoldState.COMMITTED:
            row = (hold.sku, hold.location)
            left[row] = left.get(row, 0) + hold.unshipped
    lines: list[StockLine] = []
    for sku, quantity in wanted:
        rows = [row for row in left if row[0] == sku]
        need = quantity
        for row in rows:
            taken = min(left[row], need)
            if taken:
                left[row] -= taken
                need -= taken
                lines.append(StockLine(sku, row[1], taken))
        if need:
            lines.append(StockLine(sku, rows[0][1] if rows else "-", need))
    return lines
