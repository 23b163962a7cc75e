from __future__ import annotations

import copy
import datetime as dt
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import attrs
import pendulum
import pytest

from orderkit import IdempotencyKey, Money
from orderkit.errors import (
    CurrencyMismatch,
    EmptyOrder,
    IllegalTransition,
    InvalidMoney,
    InvalidQuantity,
    NaiveDatetime,
    OrderkitError,
    OrderMismatch,
    UnknownCurrency,
    UnknownStatus,
    ValidationError,
)
from orderkit.orders import (
    EVENT_TYPES,
    MILESTONES,
    TRANSITIONS,
    Address,
    AddressChanged,
    Applied,
    Buyer,
    Cancelled,
    Closed,
    Completed,
    Delivered,
    Duplicate,
    Early,
    Event,
    InTransit,
    Order,
    OrderEvent,
    OrderLine,
    OrderPlaced,
    OrderStatus,
    Outcome,
    PaymentCaptured,
    PickingStarted,
    RefundDue,
    ShipmentLine,
    ShipmentStatus,
    Shipped,
    Stale,
    Verdict,
    apply,
    apply_all,
    milestone,
)


PLACED_AT = pendulum.datetime(2026, 11, 11, 0, 5, tz="Asia/Shanghai")
NOW = pendulum.datetime(2026, 11, 20, tz="UTC")
ORDER_ID = "DY-1001"
S = OrderStatus


def key(kind: str, ref: str = "1") -> IdempotencyKey:
    return IdempotencyKey("douyin", kind, ORDER_ID, ref)


def at(minutes: int) -> pendulum.DateTime:
    return PLACED_AT.add(minutes=minutes)


def placed(**overrides: Any) -> OrderPlaced:
    fields: dict[str, Any] = {
        "order_id": ORDER_ID,
        "key": key("order.created"),
        "occurred_at": PLACED_AT,
        "channel": "douyin",
        "buyer": Buyer("buyer-42", "王小明", "138****8000"),
        "address": Address(
            "CN", "北京市", "北京市", "朝阳区", "建国路 88 号", "100022"
        ),
        "lines": (
            OrderLine("L1", "RETRO-CLOCK", 2, Money("199.00", "CNY")),
            OrderLine("L2", "VELVET-LAMP", 1, Money("89.50", "CNY")),
        ),
        "pay_by": at(30),
    }
    fields.update(overrides)
    return OrderPlaced(**fields)


def paid(payment_id: str = "PAY-1", minutes: int = 1) -> PaymentCaptured:
    return PaymentCaptured(
        order_id=ORDER_ID,
        key=key("order.paid", payment_id),
        occurred_at=at(minutes),
        payment_id=payment_id,
        amount=Money("487.50", "CNY"),
    )


def picking() -> PickingStarted:
    return PickingStarted(order_id=ORDER_ID, key=key("wms.picking"), occurred_at=at(60))


def shipped(sid: str, *parts: tuple[str, int], minutes: int = 120) -> Shipped:
    return Shipped(
        order_id=ORDER_ID,
        key=key("wms.shipped", sid),
        occurred_at=at(minutes),
        shipment_id=sid,
        lines=[ShipmentLine(line, qty) for line, qty in parts],
        carrier="SF",
        tracking_number=f"SF-{sid}",
    )


def in_transit(sid: str) -> InTransit:
    return InTransit(
        order_id=ORDER_ID,
        key=key("sf.transit", sid),
        occurred_at=at(300),
        shipment_id=sid,
    )


def delivered(sid: str) -> Delivered:
    return Delivered(
        order_id=ORDER_ID,
        key=key("sf.delivered", sid),
        occurred_at=at(2000),
        shipment_id=sid,
    )


def completed() -> Completed:
    return Completed(
        order_id=ORDER_ID, key=key("order.completed"), occurred_at=at(20000)
    )


def cancelled(ref: str = "1") -> Cancelled:
    return Cancelled(
        order_id=ORDER_ID,
        key=key("order.cancelled", ref),
        occurred_at=at(10),
        reason="buyer changed their mind",
        actor="buyer-42",
    )


def closed() -> Closed:
    return Closed(order_id=ORDER_ID, key=key("order.closed"), occurred_at=at(31))


def address_changed() -> AddressChanged:
    return AddressChanged(
        order_id=ORDER_ID,
        key=key("order.address"),
        occurred_at=at(5),
        address=Address("CN", "广东省", "深圳市", "南山区", "科技园 1 号"),
        actor="support-7",
        source="backoffice",
    )


_HAPPY: list[OrderEvent] = [
    placed(),
    paid(),
    picking(),
    shipped("S1", ("L1", 2)),
    shipped("S2", ("L2", 1), minutes=130),
    in_transit("S1"),
    in_transit("S2"),
    delivered("S1"),
    delivered("S2"),
    completed(),
]
_PATHS: dict[OrderStatus, list[OrderEvent]] = {
    S.PENDING_PAYMENT: _HAPPY[:1],
    S.PAID: _HAPPY[:2],
    S.PICKING: _HAPPY[:3],
    S.PARTIALLY_SHIPPED: _HAPPY[:4],
    S.SHIPPED: _HAPPY[:5],
    S.IN_TRANSIT: _HAPPY[:7],
    S.DELIVERED: _HAPPY[:9],
    S.COMPLETED: _HAPPY[:10],
    S.CANCELLED: [placed(), paid(), cancelled()],
    S.CLOSED: [placed(), closed()],
}


def order_in(status: OrderStatus) -> Order:
    batch = apply_all(None, _PATHS[status], now=NOW)
    assert batch.order is not None
    assert status == batch.order.status
    return batch.order


def applied(outcome: Outcome) -> Applied:
    assert isinstance(outcome, Applied), outcome
    return outcome


def fresh(event: OrderEvent) -> OrderEvent:
    """The same event under a key no order has seen: a re-send with a new event id."""
    k = event.key
    return attrs.evolve(
        event, key=IdempotencyKey(k.channel, k.event_type, k.object_id, "new")
    )


# One probe event per event class: the natural next event of that kind, with a
# key no order has seen. The expected table below is the lifecycle's spec,
# written out by hand and independently of orderkit.orders.TRANSITIONS.
PROBES: dict[type[Event], Callable[[], OrderEvent]] = {
    OrderPlaced: lambda: placed(key=key("order.created", "again")),
    PaymentCaptured: lambda: paid("PAY-2", minutes=40),
    PickingStarted: picking,
    Shipped: lambda: shipped("S9", ("L2", 1), minutes=140),
    InTransit: lambda: in_transit("S1"),
    Delivered: lambda: delivered("S1"),
    Completed: completed,
    Cancelled: lambda: cancelled("probe"),
    Closed: closed,
    AddressChanged: address_changed,
}
_COLUMNS = (
    "placed paid picking shipped transit delivered completed cancel close address"
)
# "=" applied, status unchanged; a status name: applied, moved there.
_EXPECTED = """
pending_payment   stale paid    early   early   early   early  early  cancelled closed =
paid              stale =       picking early   early   early  early  cancelled stale  =
picking           stale =       stale   partially_shipped early early early cancelled stale =
partially_shipped stale =       stale   shipped =       early  early  illegal   stale  illegal
shipped           stale =       stale   illegal =       early  early  illegal   stale  illegal
in_transit        stale =       stale   illegal stale   =      early  illegal   stale  illegal
delivered         stale =       stale   illegal stale   stale  completed illegal stale illegal
completed         stale =       stale   illegal stale   stale  stale  illegal   stale  illegal
cancelled         stale refund  illegal illegal illegal illegal illegal stale   stale  illegal
closed            stale refund  illegal illegal illegal illegal illegal stale   stale  illegal
"""  # noqa: E501 - one row per status reads better than wrapped rows


def _expected_table() -> dict[tuple[OrderStatus, type[Event]], str]:
    table = {}
    for row in _EXPECTED.strip().splitlines():
        status, *cells = row.split()
        assert len(_COLUMNS.split()) == len(cells), row
        for event_type, cell in zip(PROBES, cells, strict=True):
            table[OrderStatus(status), event_type] = cell
    return table


def _observe(order: Order, event: OrderEvent) -> str:
    try:
        outcome = apply(order, event, now=NOW)
    except IllegalTransition:
        return "illegal"
    match outcome:
        case Applied(order=new):
            return "=" if new.status == order.status else str(new.status)
        case RefundDue():
            return "refund"
        case Stale():
            return "stale"
        case Early():
            return "early"
        case Duplicate():
            return "duplicate"
    raise AssertionError(outcome)  # pragma: no cover


class TestTransitionTable:
    """Every (status, event) pair does what the lifecycle's spec says."""

    @pytest.mark.parametrize("status", list(OrderStatus))
    @pytest.mark.parametrize("event_type", list(PROBES))
    def test_apply_follows_the_spec(
        self, status: OrderStatus, event_type: type[Event]
    ) -> None:
        order = order_in(status)
        expected = _expected_table()[status, event_type]

        assert expected == _observe(order, fresh(PROBES[event_type]()))

    def test_table_has_one_cell_per_status_and_event(self) -> None:
        expected = {(s, e) for s in OrderStatus for e in EVENT_TYPES}

        assert expected == set(TRANSITIONS)

    def test_table_cells_agree_with_the_spec(self) -> None:
        """Where the table names a status, the spec moves there; verdicts match."""
        words = {
            Verdict.STALE: "stale",
            Verdict.EARLY: "early",
            Verdict.ILLEGAL: "illegal",
            Verdict.REFUND_DUE: "refund",
            Verdict.KEEP: "=",
        }
        for cell_key, cell in TRANSITIONS.items():
            spec = _expected_table()[cell_key]
            if isinstance(cell, OrderStatus):
                assert spec in {str(cell), "="}, cell_key
            elif cell is Verdict.BY_SHIPMENTS:
                assert spec not in {"illegal", "refund"}, cell_key
            else:
                assert words[cell] == spec, cell_key

    def test_every_event_class_has_a_probe(self) -> None:
        assert set(EVENT_TYPES) == set(PROBES)


def _candidates(order: Order) -> list[OrderEvent]:
    """Every event that could plausibly come next, with fresh keys."""
    events: list[OrderEvent] = [
        paid("PAY-X", minutes=40),
        picking(),
        completed(),
        cancelled("reach"),
        closed(),
        address_changed(),
    ]
    for n, parts in enumerate([[("L1", 2)], [("L2", 1)], [("L1", 2), ("L2", 1)]]):
        events.append(shipped(f"R{n}", *parts))
    for shipment in order.shipments:
        events += [in_transit(shipment.shipment_id), delivered(shipment.shipment_id)]
    return events


def _reachable(start: Order) -> dict[OrderStatus, Order]:
    def signature(order: Order) -> tuple[object, ...]:
        return (order.status, tuple((s.shipment_id, s.status) for s in order.shipments))

    seen: dict[tuple[object, ...], Order] = {signature(start): start}
    frontier = [start]
    while frontier:
        order = frontier.pop()
        for event in _candidates(order):
            try:
                outcome = apply(order, event, now=NOW)
            except IllegalTransition:
                continue
            if isinstance(outcome, Applied | RefundDue):
                sig = signature(outcome.order)
                if sig not in seen:
                    seen[sig] = outcome.order
                    frontier.append(outcome.order)
    return {order.status: order for order in seen.values()}


class TestReachability:
    """The lifecycle has no dead ends and no unreachable statuses."""

    def test_every_status_is_reachable_from_pending_payment(self) -> None:
        reached = _reachable(order_in(S.PENDING_PAYMENT))

        assert set(OrderStatus) == set(reached)

    def test_every_non_terminal_status_can_reach_a_terminal_one(self) -> None:
        for status in OrderStatus:
            if status.is_terminal:
                continue
            reached = _reachable(order_in(status))
            assert any(s.is_terminal for s in reached), status

    def test_terminal_statuses_are_completed_cancelled_and_closed(self) -> None:
        expected = {S.COMPLETED, S.CANCELLED, S.CLOSED}

        assert expected == {s for s in OrderStatus if s.is_terminal}


class TestHappyPath:
    """An order goes from placed to completed with one audit record per event."""

    def test_statuses_and_audit_trail(self) -> None:
        batch = apply_all(None, _HAPPY, now=NOW)

        expected = [
            (None, S.PENDING_PAYMENT, "OrderPlaced"),
            (S.PENDING_PAYMENT, S.PAID, "PaymentCaptured"),
            (S.PAID, S.PICKING, "PickingStarted"),
            (S.PICKING, S.PARTIALLY_SHIPPED, "Shipped"),
            (S.PARTIALLY_SHIPPED, S.SHIPPED, "Shipped"),
            (S.SHIPPED, S.SHIPPED, "InTransit"),
            (S.SHIPPED, S.IN_TRANSIT, "InTransit"),
            (S.IN_TRANSIT, S.IN_TRANSIT, "Delivered"),
            (S.IN_TRANSIT, S.DELIVERED, "Delivered"),
            (S.DELIVERED, S.COMPLETED, "Completed"),
        ]
        assert expected == [
            (r.from_status, r.to_status, r.event_type) for r in batch.records
        ]
        assert batch.order is not None
        assert len(_HAPPY) == batch.order.version
        assert () == batch.parked

    def test_audit_record_carries_who_what_when_and_where_from(self) -> None:
        order = order_in(S.PAID)
        event = address_changed()

        (record,) = applied(apply(order, event, now=NOW)).records

        assert ORDER_ID == record.order_id
        assert event.key == record.key
        assert "support-7" == record.actor
        assert "backoffice" == record.source
        assert at(5) == record.occurred_at
        assert pendulum.UTC is record.occurred_at.tzinfo
        assert NOW == record.recorded_at
        ((change),) = record.changes
        assert "address" == change.field
        assert "北京市" in change.old
        assert "深圳市" in change.new

    def test_source_defaults_to_the_channel_of_the_key(self) -> None:
        assert "douyin" == picking().source

    def test_shipped_needs_a_tracking_number(self) -> None:
        with pytest.raises(ValidationError) as info:
            Shipped(
                order_id=ORDER_ID,
                key=key("wms.shipped"),
                occurred_at=at(1),
                shipment_id="S1",
                lines=[ShipmentLine("L1", 1)],
                carrier="SF",
                tracking_number="",
            )

        assert "tracking_number" == info.value.field

    def test_order_is_shipped_only_when_every_unit_has(self) -> None:
        order = order_in(S.PICKING)

        half = applied(apply(order, shipped("S1", ("L1", 1)), now=NOW)).order
        rest = applied(apply(half, shipped("S2", ("L1", 1), ("L2", 1)), now=NOW)).order

        assert S.PARTIALLY_SHIPPED == half.status
        assert S.SHIPPED == rest.status
        assert ["S1", "S2"] == [s.shipment_id for s in rest.shipments]

    def test_milestones_follow_the_status(self) -> None:
        labels = {
            S.PENDING_PAYMENT: ("已提交", "Submitted"),
            S.PAID: ("已支付", "Paid"),
            S.PICKING: ("备货中", "Preparing"),
            S.SHIPPED: ("已发货", "Shipped"),
            S.IN_TRANSIT: ("运输中", "In transit"),
            S.COMPLETED: ("已完成", "Completed"),
            S.CANCELLED: ("已取消", "Cancelled"),
            S.CLOSED: ("已关闭", "Closed"),
        }

        for status, (zh, en) in labels.items():
            assert (zh, en) == (milestone(status).zh, milestone(status).en)
            assert zh == milestone(status.value).label("zh")
        assert set(OrderStatus) == set(MILESTONES)


class TestIdempotency:
    """Events delivered twice, late or early change nothing."""

    def test_same_key_twice_is_a_duplicate_and_changes_nothing(self) -> None:
        order = order_in(S.PAID)

        outcome = apply(order, paid(), now=NOW)

        assert isinstance(outcome, Duplicate)
        assert order is outcome.order

    def test_resent_capture_of_the_same_payment_is_stale_not_a_second_payment(
        self,
    ) -> None:
        order = order_in(S.PICKING)
        resent = PaymentCaptured(
            order_id=ORDER_ID,
            key=key("order.paid", "retry-with-new-event-id"),
            occurred_at=at(2),
            payment_id="PAY-1",
            amount=Money("487.50", "CNY"),
        )

        outcome = apply(order, resent, now=NOW)

        assert isinstance(outcome, Stale)
        assert 1 == len(outcome.order.payments)

    def test_late_in_transit_after_delivered_is_stale(self) -> None:
        order = order_in(S.DELIVERED)

        outcome = apply(order, fresh(in_transit("S2")), now=NOW)

        assert isinstance(outcome, Stale)
        assert S.DELIVERED == outcome.order.status

    def test_delivered_before_shipped_is_early_then_applies_when_parked(self) -> None:
        early = delivered("S1")
        order = order_in(S.PICKING)

        assert isinstance(apply(order, early, now=NOW), Early)

        batch = apply_all(
            order, [shipped("S1", ("L1", 2)), in_transit("S1")], now=NOW, parked=[early]
        )

        assert () == batch.parked
        assert batch.order is not None
        assert ShipmentStatus.DELIVERED == batch.order.shipments[0].status

    def test_an_event_before_the_order_exists_is_early(self) -> None:
        outcome = apply(None, paid(), now=NOW)

        assert isinstance(outcome, Early)
        assert outcome.order is None

    def test_capture_after_cancel_is_a_refund_due_exactly_once(self) -> None:
        order = apply_all(None, [placed(), cancelled()], now=NOW).order
        assert order is not None

        first = apply(order, paid(), now=NOW)
        assert isinstance(first, RefundDue)
        again = apply(first.order, paid(), now=NOW)
        resent = apply(first.order, paid_again_with_new_key(), now=NOW)

        assert Money("487.50", "CNY") == first.amount
        assert S.CANCELLED == first.order.status
        assert isinstance(again, Duplicate)
        assert isinstance(resent, Stale)

    def test_closed_timer_after_payment_is_stale(self) -> None:
        order = order_in(S.PAID)

        assert isinstance(apply(order, closed(), now=NOW), Stale)


def paid_again_with_new_key() -> PaymentCaptured:
    return PaymentCaptured(
        order_id=ORDER_ID,
        key=key("order.paid", "PAY-1-retry"),
        occurred_at=at(1),
        payment_id="PAY-1",
        amount=Money("487.50", "CNY"),
    )


class TestIllegal:
    """Events that contradict the order raise IllegalTransition and change nothing."""

    def test_cancel_after_shipping_names_order_status_and_event(self) -> None:
        order = order_in(S.PARTIALLY_SHIPPED)
        before = copy.deepcopy(order)

        with pytest.raises(IllegalTransition) as info:
            apply(order, cancelled(), now=NOW)

        assert (ORDER_ID, "partially_shipped", "Cancelled") == (
            info.value.order_id,
            info.value.status,
            info.value.event,
        )
        assert "after-sales" in str(info.value)
        assert before == order

    def test_shipping_more_units_than_ordered_is_illegal(self) -> None:
        order = order_in(S.PICKING)

        with pytest.raises(IllegalTransition, match="would ship 3 units of 2"):
            apply(order, shipped("S1", ("L1", 3)), now=NOW)

    def test_shipping_an_unknown_line_names_the_line(self) -> None:
        order = order_in(S.PICKING)

        with pytest.raises(ValidationError) as info:
            apply(order, shipped("S1", ("L1", 1), ("L7", 1)), now=NOW)

        assert ("lines[1].line_id", "L7") == (info.value.field, info.value.value)

    def test_closing_before_the_payment_deadline_is_illegal(self) -> None:
        order = order_in(S.PENDING_PAYMENT)
        early_close = Closed(
            order_id=ORDER_ID, key=key("order.closed"), occurred_at=at(29)
        )

        with pytest.raises(IllegalTransition, match="deadline"):
            apply(order, early_close, now=NOW)

    def test_payment_in_another_currency_is_refused(self) -> None:
        order = order_in(S.PENDING_PAYMENT)
        dollars = PaymentCaptured(
            order_id=ORDER_ID,
            key=key("order.paid"),
            occurred_at=at(1),
            payment_id="PAY-1",
            amount=Money("68.00", "USD"),
        )

        with pytest.raises(CurrencyMismatch) as info:
            apply(order, dollars, now=NOW)

        assert ("amount", "USD", "CNY") == (
            info.value.field,
            info.value.value,
            info.value.expected,
        )


class TestBadInput:
    """Bad input raises a typed error naming the field and the value."""

    def test_event_for_another_order(self) -> None:
        order = order_in(S.PAID)
        stray = PickingStarted(
            order_id="DY-9999", key=key("wms.picking"), occurred_at=at(1)
        )

        with pytest.raises(OrderMismatch) as info:
            apply(order, stray, now=NOW)

        assert ("order_id", "DY-9999", ORDER_ID) == (
            info.value.field,
            info.value.value,
            info.value.order_id,
        )

    def test_naive_now(self) -> None:
        with pytest.raises(NaiveDatetime) as info:
            apply(order_in(S.PAID), picking(), now=dt.datetime(2026, 11, 20))  # noqa: DTZ001

        assert "now" == info.value.field

    def test_naive_occurred_at(self) -> None:
        naive = dt.datetime(2026, 11, 11, 0, 30)  # noqa: DTZ001

        with pytest.raises(NaiveDatetime) as info:
            PickingStarted(order_id=ORDER_ID, key=key("wms.picking"), occurred_at=naive)

        assert ("occurred_at", naive) == (info.value.field, info.value.value)

    def test_float_price(self) -> None:
        with pytest.raises(InvalidMoney) as info:
            OrderLine("L1", "RETRO-CLOCK", 1, Money(199.0, "CNY"))  # type: ignore[arg-type]

        assert ("amount", 199.0) == (info.value.field, info.value.value)

    def test_unknown_currency(self) -> None:
        with pytest.raises(UnknownCurrency) as info:
            Money("199.00", "RMB")

        assert ("currency", "RMB") == (info.value.field, info.value.value)

    @pytest.mark.parametrize("quantity", [0, -1, True, 1.5, "2"])
    def test_quantity_must_be_a_positive_integer(self, quantity: object) -> None:
        with pytest.raises(InvalidQuantity) as info:
            OrderLine("L1", "RETRO-CLOCK", quantity, Money("1", "CNY"))  # type: ignore[arg-type]

        assert ("quantity", quantity) == (info.value.field, info.value.value)

    def test_empty_order(self) -> None:
        with pytest.raises(EmptyOrder) as info:
            apply(None, placed(lines=()), now=NOW)

        assert "lines" == info.value.field

    def test_lines_in_two_currencies(self) -> None:
        lines = (
            OrderLine("L1", "RETRO-CLOCK", 1, Money("199.00", "CNY")),
            OrderLine("L2", "VELVET-LAMP", 1, Money("12.00", "USD")),
        )

        with pytest.raises(CurrencyMismatch) as info:
            apply(None, placed(lines=lines), now=NOW)

        assert "lines[1].unit_price" == info.value.field

    def test_unknown_status_string(self) -> None:
        with pytest.raises(UnknownStatus) as info:
            OrderStatus("shipping")

        assert ("status", "shipping") == (info.value.field, info.value.value)
        assert isinstance(info.value, LookupError)

    def test_repeated_line_ids(self) -> None:
        line = OrderLine("L1", "RETRO-CLOCK", 1, Money("1", "CNY"))

        with pytest.raises(ValidationError) as info:
            apply(None, placed(lines=(line, line)), now=NOW)

        assert "lines[1].line_id" == info.value.field

    def test_not_an_event(self) -> None:
        with pytest.raises(ValidationError) as info:
            apply(order_in(S.PAID), "PaymentCaptured", now=NOW)  # type: ignore[arg-type]

        assert "event" == info.value.field

    def test_every_error_is_an_orderkit_error(self) -> None:
        with pytest.raises(OrderkitError):
            Money(Decimal("NaN"), "CNY")
