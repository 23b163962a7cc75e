"""The order aggregate: what was bought, by whom, how far it has come, and its parts."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import final

import attrs
import pendulum

from orderkit._time import to_utc
from orderkit._validate import (
    as_tuple,
    instance_of,
    optional_text,
    positive_int,
    text,
)
from orderkit.dedupe import IdempotencyKey
from orderkit.errors import (
    CurrencyMismatch,
    OrderMismatch,
    UnknownPayment,
    ValidationError,
)
from orderkit.money import Money
from orderkit.orders._aftersales import AfterSalesCase, CaseAction, ReturnLine
from orderkit.orders._events import EVENT_TYPES, Event, OrderEvent
from orderkit.orders._model import (
    Address,
    Buyer,
    OrderLine,
    Payment,
    Shipment,
    _order_lines,
    _pay_by,
    check_lines,
)
from orderkit.orders._payments import PaymentLedger, RefundLine
from orderkit.orders._price_changes import PriceChange
from orderkit.orders._saga import Saga
from orderkit.orders._status import OrderStatus, ShipmentStatus


def _placed_at(value: dt.datetime) -> pendulum.DateTime:
    return to_utc(value, "placed_at")


def _payments(value: Iterable[Payment]) -> tuple[Payment, ...]:
    return as_tuple(value, "payments", Payment)


def _shipments(value: Iterable[Shipment]) -> tuple[Shipment, ...]:
    return as_tuple(value, "shipments", Shipment)


def _payment_ledger(value: PaymentLedger | None) -> PaymentLedger | None:
    if value is None or type(value) is PaymentLedger:
        return value
    raise ValidationError("payment_ledger", value, "must be a PaymentLedger or None")


def _after_sales(value: Iterable[AfterSalesCase]) -> tuple[AfterSalesCase, ...]:
    return as_tuple(value, "after_sales", AfterSalesCase)


def _price_changes(value: Iterable[PriceChange]) -> tuple[PriceChange, ...]:
    return as_tuple(value, "price_changes", PriceChange)


def _address_changed_at(value: dt.datetime | None) -> pendulum.DateTime | None:
    return None if value is None else to_utc(value, "address_changed_at")


def _parked(value: Iterable[OrderEvent]) -> tuple[OrderEvent, ...]:
    events = as_tuple(value, "parked", Event)
    for i, event in enumerate(events):
        if type(event) not in EVENT_TYPES:
            raise ValidationError(f"parked[{i}]", event, "must be an order event")
    return events  # type: ignore[return-value]  # each is one of EVENT_TYPES


def _review(value: Iterable[str]) -> tuple[str, ...]:
    reasons = as_tuple(value, "review", str)
    for i, reason in enumerate(reasons):
        text(f"review[{i}]")(None, None, reason)
    return reasons


def _cancelled_units(value: Iterable[RefundLine]) -> tuple[RefundLine, ...]:
    return as_tuple(value, "cancelled_units", RefundLine)


def _keys(value: Iterable[IdempotencyKey]) -> frozenset[IdempotencyKey]:
    if isinstance(value, frozenset) and all(
        isinstance(key, IdempotencyKey) for key in value
    ):
        return value
    return frozenset(as_tuple(value, "applied_keys", IdempotencyKey))


@final
@attrs.frozen(slots=True)
class Order:
    """The order aggregate: what was bought, by whom, and how far it has come.

    Orders are immutable; `orderkit.orders.apply` returns a new one with
    `version` one higher for every event that changed it. Build a new order
    by applying an `OrderPlaced` event to `None`; construct `Order` directly
    only to load one you stored.

    Attributes:
        order_id: The order's id, unique per channel.
        channel: The sales channel it was placed on (`"douyin"`).
        buyer: Who placed it.
        address: Where it ships.
        lines: What was ordered, at least one line, all in one currency.
        placed_at: When the buyer placed it (UTC).
        status: Where it stands.
        version: How many events have changed it; stores compare it to
            detect concurrent writers.
        pay_by: When an unpaid order may be closed, if the channel sets it.
        payments: Money captured for it.
        shipments: Parcels shipped for it.
        cancel_reason: Why it was cancelled or closed, if it was.
        applied_keys: Idempotency keys of every event applied to it.
        address_changed_at: When the address last changed at its source; an
            older change arriving later is stale.
        payment_ledger: The merchant's ledger of the order's money
            (authorisations, captures, refunds, overrides), once one is kept;
            `payments` are the captures the channel reported, which move the
            status.
        after_sales: Its after-sales cases, in the order they were opened.
        price_changes: Its manual price-change requests, decided or not.
        parked: Events that arrived before their predecessor (`Early`),
            kept with the order to be applied again after the next event
            that applies.
        review: Why the order waits for a person before it goes on
            (`"pricing"`, `"duplicate"`); empty when it does not.
        saga: The multi-step use case in flight on it, and its step; `None`
            when there is none.
        cancelled_units: Units a refund paid back before any parcel carried
            them (a channel's refund of units not shipped yet): no parcel
            will carry them, and the order has shipped in full once the rest
            has. At most one entry per line, of at most the units of the
            line not shipped; `restock` is not read. A parcel that carries
            such units all the same takes them off (they left the
            warehouse). Empty when none were.

    Raises:
        EmptyOrder: There are no lines.
        CurrencyMismatch: Lines or payments are in different currencies.
        ValidationError: A field has the wrong type; line, payment or
            shipment ids repeat; shipments carry unknown lines or more units
            than ordered; cancelled units name an unknown line, repeat one,
            or are more than its units not shipped; the status contradicts
            the payments, shipments and cancelled units (a `shipped` order
            without parcels); or a payment
            ledger, case or price change belongs to another order, repeats
            an id, or names a line or refund the order does not have; or a
            case names a serial another case received on its line, or a
            refund that another case names.
        UnknownPayment: A case names a payment that is neither in
            `payments` nor in the payment ledger.

    .. versionadded:: 0.1.0
    """

    order_id: str = attrs.field(validator=text("order_id"))
    channel: str = attrs.field(validator=text("channel"))
    buyer: Buyer = attrs.field(validator=instance_of("buyer", Buyer))
    address: Address = attrs.field(validator=instance_of("address", Address))
    lines: tuple[OrderLine, ...] = attrs.field(converter=_order_lines)
    placed_at: pendulum.DateTime = attrs.field(converter=_placed_at)
    status: OrderStatus = attrs.field(
        default=OrderStatus.PENDING_PAYMENT, converter=OrderStatus
    )
    version: int = attrs.field(default=1, validator=positive_int("version"))
    pay_by: pendulum.DateTime | None = attrs.field(default=None, converter=_pay_by)
    payments: tuple[Payment, ...] = attrs.field(default=(), converter=_payments)
    shipments: tuple[Shipment, ...] = attrs.field(default=(), converter=_shipments)
    cancel_reason: str | None = attrs.field(
        default=None, validator=optional_text("cancel_reason")
    )
    # Shown as a count: an order's keys grow with every event, and would
    # bury the rest of a printed order.
    applied_keys: frozenset[IdempotencyKey] = attrs.field(
        default=frozenset(), converter=_keys, repr=lambda keys: f"<{len(keys)} keys>"
    )
    address_changed_at: pendulum.DateTime | None = attrs.field(
        default=None, converter=_address_changed_at
    )
    payment_ledger: PaymentLedger | None = attrs.field(
        default=None, converter=_payment_ledger
    )
    after_sales: tuple[AfterSalesCase, ...] = attrs.field(
        default=(), converter=_after_sales
    )
    price_changes: tuple[PriceChange, ...] = attrs.field(
        default=(), converter=_price_changes
    )
    parked: tuple[OrderEvent, ...] = attrs.field(default=(), converter=_parked)
    review: tuple[str, ...] = attrs.field(default=(), converter=_review)
    saga: Saga | None = attrs.field(
        default=None, validator=attrs.validators.optional(instance_of("saga", Saga))
    )
    cancelled_units: tuple[RefundLine, ...] = attrs.field(
        default=(), converter=_cancelled_units
    )

    def __attrs_post_init__(self) -> None:
        check_lines(self.lines)
        _check_payments(self)
        _check_shipments(self)
        check_parts(self)
        for i, event in enumerate(self.parked):
            if event.order_id != self.order_id:
                raise ValidationError(
                    f"parked[{i}].order_id", event.order_id, "is another order"
                )

    @property
    def currency(self) -> str:
        """The ISO 4217 code the order is priced in."""
        return self.lines[0].unit_price.currency.code

    def line(self, line_id: str) -> OrderLine:
        """Return the line with this id.

        Raises:
            ValidationError: No line has this id.
        """
        for line in self.lines:
            if line.line_id == line_id:
                return line
        raise ValidationError(
            "line_id", line_id, f"order {self.order_id!r} has no such line"
        )

    def shipment(self, shipment_id: str) -> Shipment | None:
        """Return the shipment with this id, or `None` if there is none yet."""
        for shipment in self.shipments:
            if shipment.shipment_id == shipment_id:
                return shipment
        return None


_UNSHIPPED = frozenset(
    {
        OrderStatus.PENDING_PAYMENT,
        OrderStatus.PAID,
        OrderStatus.PICKING,
        OrderStatus.CANCELLED,
        OrderStatus.CLOSED,
    }
)
_PARCEL_STATUS = {
    ShipmentStatus.SHIPPED: OrderStatus.SHIPPED,
    ShipmentStatus.IN_TRANSIT: OrderStatus.IN_TRANSIT,
    ShipmentStatus.DELIVERED: OrderStatus.DELIVERED,
}
_PARCEL_RANK = {s: n for n, s in enumerate(ShipmentStatus)}


def _check_payments(order: Order) -> None:
    seen: set[str] = set()
    for i, payment in enumerate(order.payments):
        if payment.payment_id in seen:
            raise ValidationError(
                f"payments[{i}].payment_id", payment.payment_id, "repeats a payment"
            )
        seen.add(payment.payment_id)
        if payment.amount.currency.code != order.currency:
            raise CurrencyMismatch(
                f"payments[{i}].amount", payment.amount.currency.code, order.currency
            )
    if order.payments and order.status is OrderStatus.PENDING_PAYMENT:
        raise ValidationError("status", order.status, "a paid order is not pending")


def _check_shipments(order: Order) -> None:
    status = order.status
    shipped = _units_shipped(order) if order.shipments else {}
    cancelled = _check_cancelled(order, shipped) if order.cancelled_units else {}
    if not order.shipments:
        problem = None if status in _UNSHIPPED else "at least one shipment"
    elif status in _UNSHIPPED:
        problem = "no shipment before shipping"
    elif any(
        shipped[line.line_id] + cancelled.get(line.line_id, 0) < line.quantity
        for line in order.lines
        if line.stocked
    ):
        # Unstocked lines (a gift card, a fee) need no parcel to have shipped,
        # nor do units refunded before they shipped.
        partial = status is OrderStatus.PARTIALLY_SHIPPED
        problem = None if partial else "every unit shipped"
    else:
        slowest = min((s.status for s in order.shipments), key=_PARCEL_RANK.__getitem__)
        derived = _PARCEL_STATUS[slowest]
        done = status is OrderStatus.COMPLETED and derived is OrderStatus.DELIVERED
        problem = None if done or derived is status else f"status {derived}"
    if problem is not None:
        raise ValidationError(
            "status", status, f"contradicts the shipments: needs {problem}"
        )


def _check_cancelled(order: Order, shipped: dict[str, int]) -> dict[str, int]:
    """The order's cancelled units by line id, refused if they do not fit it.

    One entry per line, of at most the line's units no parcel carried.
    """
    ordered = {line.line_id: line.quantity for line in order.lines}
    cancelled: dict[str, int] = {}
    for i, part in enumerate(order.cancelled_units):
        field = f"cancelled_units[{i}]"
        line_id = part.line_id
        if line_id not in ordered:
            raise ValidationError(f"{field}.line_id", line_id, "no such line")
        if line_id in cancelled:
            raise ValidationError(f"{field}.line_id", line_id, "repeats a line")
        left = ordered[line_id] - shipped.get(line_id, 0)
        if part.quantity > left:
            raise ValidationError(
                f"{field}.quantity",
                part.quantity,
                f"line {line_id!r} has {left} units not shipped",
            )
        cancelled[line_id] = part.quantity
    return cancelled


def _units_shipped(order: Order) -> dict[str, int]:
    ordered = {line.line_id: line.quantity for line in order.lines}
    shipped = dict.fromkeys(ordered, 0)
    seen: set[str] = set()
    for i, shipment in enumerate(order.shipments):
        if shipment.shipment_id in seen:
            raise ValidationError(
                f"shipments[{i}].shipment_id",
                shipment.shipment_id,
                "repeats a shipment",
            )
        seen.add(shipment.shipment_id)
        for j, part in enumerate(shipment.lines):
            field = f"shipments[{i}].lines[{j}]"
            if part.line_id not in ordered:
                raise ValidationError(f"{field}.line_id", part.line_id, "no such line")
            shipped[part.line_id] += part.quantity
            if shipped[part.line_id] > ordered[part.line_id]:
                raise ValidationError(
                    f"{field}.quantity", part.quantity, "more units than ordered"
                )
    return shipped


def check_parts(order: Order) -> None:
    """Refuse a payment ledger, case or price change that does not fit the order.

    A case must name a payment of the order (`UnknownPayment`), never
    receive a serial another case received on the same line (only a case
    whose history has its receive step received its serials), and, once
    refunded, name a refund of the payment ledger for its payment and
    amount that no other case names. (That the refund has not failed is
    `record_case`'s check: a refund may fail after its case was recorded,
    and the ledger must still be able to say so.)
    """
    ledger = order.payment_ledger
    if ledger is not None:
        if ledger.order_id != order.order_id:
            raise OrderMismatch(
                order.order_id, ledger.order_id, "payment_ledger.order_id"
            )
        if ledger.currency != order.currency:
            raise CurrencyMismatch(
                "payment_ledger.currency", ledger.currency, order.currency
            )
    lines = {line.line_id: line for line in order.lines}
    _check_cases(order, lines, ledger)
    seen: set[str] = set()
    for i, change in enumerate(order.price_changes):
        field = f"price_changes[{i}]"
        _check_part(order, field, change.order_id, change.change_id, seen)
        _check_money(order, f"{field}.new_unit_price", change.new_unit_price)
        _check_line(lines, field, change.line_id, change.sku)


def _check_cases(
    order: Order, lines: dict[str, OrderLine], ledger: PaymentLedger | None
) -> None:
    payments = {p.payment_id for p in order.payments}
    if ledger is not None:
        payments.update(p.payment_id for p in ledger.payments)
    seen: set[str] = set()
    received: dict[tuple[str, str], str] = {}
    refunded: dict[str, str] = {}
    for i, case in enumerate(order.after_sales):
        field = f"after_sales[{i}]"
        _check_part(order, field, case.order_id, case.case_id, seen)
        _check_money(order, f"{field}.refund_amount", case.refund_amount)
        if case.payment_id not in payments:
            raise UnknownPayment(
                f"{field}.payment_id",
                case.payment_id,
                f"order {order.order_id!r} has no such payment",
            )
        # A unit that failed inspection went back to the buyer: it may come
        # back in a later case. Serials without a receive step (older
        # versions stored them from request_return) were never received.
        holds_units = _received(case) and case.inspection_passed is not False
        for j, part in enumerate(case.lines):
            _check_line(lines, f"{field}.lines[{j}]", part.line_id, part.sku)
            if part.quantity > lines[part.line_id].quantity:
                raise ValidationError(
                    f"{field}.lines[{j}].quantity",
                    part.quantity,
                    "more units than ordered",
                )
            if holds_units:
                _check_serials(case, f"{field}.lines[{j}].serials", part, received)
        if case.refund_id is not None:
            _check_refund(case, case.refund_id, f"{field}.refund_id", ledger, refunded)


def _received(case: AfterSalesCase) -> bool:
    """Whether the case's history has its receive step: its serials came back."""
    return any(step.action == CaseAction.RECEIVE for step in case.steps)


def _check_part(
    order: Order, field: str, order_id: str, part_id: str, seen: set[str]
) -> None:
    if order_id != order.order_id:
        raise OrderMismatch(order.order_id, order_id, f"{field}.order_id")
    if part_id in seen:
        raise ValidationError(field, part_id, "repeats an earlier id")
    seen.add(part_id)


def _check_money(order: Order, field: str, amount: Money) -> None:
    if amount.currency.code != order.currency:
        raise CurrencyMismatch(field, amount.currency.code, order.currency)


def _check_line(
    lines: dict[str, OrderLine], field: str, line_id: str, sku: str
) -> None:
    line = lines.get(line_id)
    if line is None:
        raise ValidationError(f"{field}.line_id", line_id, "no such line")
    if line.sku != sku:
        raise ValidationError(f"{field}.sku", sku, f"line {line_id!r} is {line.sku!r}")


def _check_serials(
    case: AfterSalesCase,
    field: str,
    part: ReturnLine,
    received: dict[tuple[str, str], str],
) -> None:
    """Refuse a serial of the line that an earlier case received already.

    One shipped unit comes back once: received by two cases it would be
    restocked and refunded twice.
    """
    for serial in sorted(part.serials):
        other = received.setdefault((part.line_id, serial), case.case_id)
        if other != case.case_id:
            raise ValidationError(
                field,
                serial,
                f"case {other!r} received it on line {part.line_id!r} already",
            )


def _check_refund(
    case: AfterSalesCase,
    refund_id: str,
    field: str,
    ledger: PaymentLedger | None,
    refunded: dict[str, str],
) -> None:
    """Refuse a case's refund that is not its own."""
    refunds = () if ledger is None else ledger.refunds
    refund = next((r for r in refunds if r.refund_id == refund_id), None)
    other = refunded.setdefault(refund_id, case.case_id)
    if refund is None:
        problem = "the payment ledger has no such refund"
    elif refund.payment_id != case.payment_id:
        problem = f"refunds payment {refund.payment_id!r}, not {case.payment_id!r}"
    elif refund.amount != case.refund_amount:
        problem = f"refunds {refund.amount}, not the case's {case.refund_amount}"
    elif other != case.case_id:
        problem = f"case {other!r} is refunded by it already"
    else:
        return
    raise ValidationError(field, refund_id, problem)
