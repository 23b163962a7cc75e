from __future__ import annotations

import copy
import datetime as dt
import itertools
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
    Rejected,
    ShipmentLine,
    ShipmentStatus,
    Shipped,
    Stale,
    Verdict,
    apply,
    apply_all,
    milestone,
)
from orderkit.pricing import PaymentLedger


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
# "=" applied, status unchanged; a status name: applied, moved there;
# "+refund": and the money captured is due back (RefundDue).
_EXPECTED = """
pending_payment   stale paid    early   early   early   early  early  cancelled closed =
paid              stale =       picking early   early   early  early  cancelled+refund stale =
picking           stale =       stale   partially_shipped early early early cancelled+refund stale =
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
        case RefundDue(order=new):
            return "refund" if new.status == order.status else f"{new.status}+refund"
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
                assert spec.removesuffix("+refund") in {str(cell), "="}, cell_key
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

    def test_capture_after_cancel_owes_only_what_its_ledger_has_not_refunded(
        self,
    ) -> None:
        """The provider's notices (capture, then refund) came before the channel's."""
        order = apply_all(None, [placed(), cancelled()], now=NOW).order
        assert order is not None
        ledger = (
            PaymentLedger(ORDER_ID, "CNY")
            .authorise("PAY-1", Money("487.50", "CNY"), at(1))
            .capture("PAY-1", Money("487.50", "CNY"), at(1))
            .request_refund("RF-1", "PAY-1", Money("400.00", "CNY"), "twice", at(2))
        )
        partly = attrs.evolve(order, payment_ledger=ledger)
        fully = attrs.evolve(
            order,
            payment_ledger=ledger.request_refund(
                "RF-2", "PAY-1", Money("87.50", "CNY"), "twice", at(2)
            ),
        )

        owed = apply(partly, paid(), now=NOW)
        nothing = apply(fully, paid(), now=NOW)

        assert isinstance(owed, RefundDue)
        assert Money("87.50", "CNY") == owed.amount
        assert type(nothing) is Applied
        assert (S.CANCELLED, 1) == (nothing.order.status, len(nothing.order.payments))

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

    @pytest.mark.parametrize("field", ["street", "recipient", "phone"])
    def test_text_no_store_can_hold(self, field: str) -> None:
        # A lone surrogate (JSON's "\ud800") is a str no encoder writes.
        with pytest.raises(ValidationError) as info:
            Address("CN", **{field: "建国路\ud800"})

        assert field == info.value.field

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


class TestRefundsAreOwedExactlyOnce:
    """Money captured for an order that will not ship is flagged once, either way."""

    def test_cancel_after_payment_is_a_refund_due(self) -> None:
        batch = apply_all(None, [placed(), paid(), cancelled()], now=NOW)

        refunds = [o for o in batch.outcomes if isinstance(o, RefundDue)]
        assert [Money("487.50", "CNY")] == [r.amount for r in refunds]
        assert batch.order is not None
        assert S.CANCELLED == batch.order.status

    def test_payment_after_cancel_is_a_refund_due(self) -> None:
        batch = apply_all(None, [placed(), cancelled(), paid()], now=NOW)

        refunds = [o for o in batch.outcomes if isinstance(o, RefundDue)]
        assert [Money("487.50", "CNY")] == [r.amount for r in refunds]

    def test_cancel_before_payment_owes_nothing(self) -> None:
        batch = apply_all(None, [placed(), cancelled()], now=NOW)

        assert not any(isinstance(o, RefundDue) for o in batch.outcomes)


class TestApplyAll:
    """apply_all parks, retries and reports every event, and never loses the batch."""

    def test_parked_events_are_tried_first(self) -> None:
        order = order_in(S.PAID)

        batch = apply_all(order, [], now=NOW, parked=[picking()])

        assert batch.order is not None
        assert S.PICKING == batch.order.status
        assert () == batch.parked

    def test_a_parked_event_that_became_illegal_is_rejected_not_raised(self) -> None:
        batch = apply_all(None, [placed(), picking(), cancelled()], now=NOW)

        assert batch.order is not None
        assert S.CANCELLED == batch.order.status
        (rejected,) = [o for o in batch.outcomes if isinstance(o, Rejected)]
        assert isinstance(rejected.error, IllegalTransition)
        assert rejected.event == picking()
        assert () == batch.parked

    def test_a_bad_event_does_not_lose_the_rest_of_the_batch(self) -> None:
        bad = shipped("S1", ("L9", 1))
        events: list[OrderEvent] = [placed(), paid(), picking(), bad]
        events.append(shipped("S2", ("L1", 2)))

        batch = apply_all(None, events, now=NOW)

        assert batch.order is not None
        assert S.PARTIALLY_SHIPPED == batch.order.status
        (rejected,) = [o for o in batch.outcomes if isinstance(o, Rejected)]
        assert isinstance(rejected.error, ValidationError)
        assert "lines[0].line_id" == rejected.error.field

    def test_naive_now_is_refused_up_front(self) -> None:
        with pytest.raises(NaiveDatetime):
            apply_all(None, [placed()], now=dt.datetime(2026, 11, 20))  # noqa: DTZ001

    def test_parcels_are_kept_in_the_order_they_shipped_not_arrived(self) -> None:
        early = shipped("S2", ("L2", 1), minutes=100)
        later = shipped("S1", ("L1", 2), minutes=200)

        batch = apply_all(None, [placed(), paid(), picking(), later, early], now=NOW)

        assert batch.order is not None
        assert ["S2", "S1"] == [s.shipment_id for s in batch.order.shipments]


class TestAddressChanges:
    """The latest address change wins, whatever order the changes arrive in."""

    @staticmethod
    def change(city: str, minutes: int) -> AddressChanged:
        return AddressChanged(
            order_id=ORDER_ID,
            key=key("order.address", city),
            occurred_at=at(minutes),
            address=Address("CN", "广东省", city),
        )

    def test_an_older_change_arriving_later_is_stale(self) -> None:
        newer, older = self.change("深圳市", 20), self.change("广州市", 10)

        batch = apply_all(None, [placed(), newer, older], now=NOW)

        assert batch.order is not None
        assert "深圳市" == batch.order.address.city
        assert isinstance(batch.outcomes[-1], Stale)

    def test_both_arrival_orders_end_at_the_latest_address(self) -> None:
        a, b = self.change("深圳市", 20), self.change("广州市", 10)

        one = apply_all(None, [placed(), a, b], now=NOW).order
        other = apply_all(None, [placed(), b, a], now=NOW).order

        assert one is not None
        assert other is not None
        assert one.address == other.address

    @pytest.mark.parametrize("cities", [("深圳市", "广州市"), ("广州市", "深圳市")])
    def test_two_changes_at_one_instant_end_alike_in_either_order(
        self, cities: tuple[str, str]
    ) -> None:
        first, second = (self.change(city, 20) for city in cities)

        batch = apply_all(None, [placed(), first, second], now=NOW)

        assert batch.order is not None
        assert "深圳市" == batch.order.address.city  # the one that sorts last
        last_arrived = batch.outcomes[-1]
        # Arriving second, the one that sorts first changes nothing.
        assert isinstance(last_arrived, Stale if cities[1] == "广州市" else Applied)

    def test_a_phone_only_change_is_recorded_with_both_numbers(self) -> None:
        order = order_in(S.PAID)
        event = AddressChanged(
            order_id=ORDER_ID,
            key=key("order.address", "phone"),
            occurred_at=at(5),
            address=attrs.evolve(order.address, phone="13912345678"),
        )

        (record,) = applied(apply(order, event, now=NOW)).records

        (change,) = record.changes
        assert "13912345678" not in change.old
        assert "13912345678" in change.new


class TestAuditTrail:
    """The trail is a gap-free sequence tied to the order's versions."""

    def test_records_carry_the_version_they_produced(self) -> None:
        batch = apply_all(None, _HAPPY, now=NOW)

        assert list(range(1, len(_HAPPY) + 1)) == [r.version for r in batch.records]

    def test_each_record_starts_where_the_previous_one_ended(self) -> None:
        records = apply_all(None, _HAPPY, now=NOW).records

        for before, after in itertools.pairwise(records):
            assert before.to_status == after.from_status

    def test_picking_location_is_recorded(self) -> None:
        event = PickingStarted(
            order_id=ORDER_ID,
            key=key("wms.picking"),
            occurred_at=at(60),
            location="WH-BJ-01",
        )

        (record,) = applied(apply(order_in(S.PAID), event, now=NOW)).records

        assert [("location", "", "WH-BJ-01")] == [
            (c.field, c.old, c.new) for c in record.changes
        ]


class TestRefusedInput:
    """Wrong types and impossible values get a typed error, never a crash."""

    def test_not_an_event_before_the_order_exists(self) -> None:
        with pytest.raises(ValidationError) as info:
            apply(None, "garbage", now=NOW)  # type: ignore[arg-type]

        assert "event" == info.value.field

    def test_not_an_order(self) -> None:
        with pytest.raises(ValidationError) as info:
            apply({}, picking(), now=NOW)  # type: ignore[arg-type]

        assert "order" == info.value.field

    def test_key_of_the_wrong_type(self) -> None:
        with pytest.raises(ValidationError) as info:
            PickingStarted(order_id=ORDER_ID, key="k", occurred_at=at(1))  # type: ignore[arg-type]

        assert "key" == info.value.field

    @pytest.mark.parametrize("lines", [None, "L1", 5, {"L1": 1}])
    def test_lines_that_are_not_a_sequence(self, lines: object) -> None:
        with pytest.raises(ValidationError) as info:
            placed(lines=lines)

        assert ("lines", lines) == (info.value.field, info.value.value)

    # Zero is a free order's capture (TestFreeOrders); below zero is no capture.
    @pytest.mark.parametrize("amount", ["-0.01", "-1.00"])
    def test_a_capture_must_not_be_negative(self, amount: str) -> None:
        with pytest.raises(ValidationError) as info:
            PaymentCaptured(
                order_id=ORDER_ID,
                key=key("order.paid"),
                occurred_at=at(1),
                payment_id="PAY-1",
                amount=Money(amount, "CNY"),
            )

        assert "amount" == info.value.field

    def test_a_price_must_not_be_negative(self) -> None:
        with pytest.raises(ValidationError) as info:
            OrderLine("L1", "RETRO-CLOCK", 1, Money("-1.00", "CNY"))

        assert "unit_price" == info.value.field

    def test_a_gift_line_may_be_free(self) -> None:
        line = OrderLine("L3", "GIFT-BAG", 1, Money("0.00", "CNY"))

        assert Money("0.00", "CNY") == line.amount

    def test_placed_event_refuses_mixed_currencies_when_built(self) -> None:
        lines = (
            OrderLine("L1", "RETRO-CLOCK", 1, Money("199.00", "CNY")),
            OrderLine("L2", "VELVET-LAMP", 1, Money("12.00", "USD")),
        )

        with pytest.raises(CurrencyMismatch):
            placed(lines=lines)

    def test_location_must_be_text(self) -> None:
        with pytest.raises(ValidationError) as info:
            PickingStarted(
                order_id=ORDER_ID,
                key=key("wms.picking"),
                occurred_at=at(1),
                location=5,  # type: ignore[arg-type]
            )

        assert "location" == info.value.field


class TestStoredOrders:
    """An Order built directly (loaded from a store) must be one apply could produce."""

    def test_a_shipped_order_needs_its_parcels(self) -> None:
        order = order_in(S.SHIPPED)

        with pytest.raises(ValidationError) as info:
            attrs.evolve(order, shipments=())

        assert ("status", S.SHIPPED) == (info.value.field, info.value.value)

    def test_status_must_match_the_slowest_parcel(self) -> None:
        order = order_in(S.IN_TRANSIT)

        with pytest.raises(ValidationError, match="contradicts the shipments"):
            attrs.evolve(order, status=S.DELIVERED)

    def test_parcels_may_not_carry_unknown_lines(self) -> None:
        order = order_in(S.SHIPPED)
        stray = attrs.evolve(order.shipments[0], lines=[ShipmentLine("L9", 1)])

        with pytest.raises(ValidationError) as info:
            attrs.evolve(order, shipments=(stray, order.shipments[1]))

        assert "shipments[0].lines[0].line_id" == info.value.field

    def test_payments_must_be_payments_in_the_order_currency(self) -> None:
        order = order_in(S.PAID)
        dollars = attrs.evolve(order.payments[0], amount=Money("1.00", "USD"))

        with pytest.raises(ValidationError):
            attrs.evolve(order, payments=[1])  # type: ignore[list-item]
        with pytest.raises(CurrencyMismatch):
            attrs.evolve(order, payments=[dollars])

    def test_applied_keys_must_be_keys(self) -> None:
        with pytest.raises(ValidationError) as info:
            attrs.evolve(order_in(S.PAID), applied_keys=["x"])  # type: ignore[list-item]

        assert "applied_keys[0]" == info.value.field


def paid_nothing(payment_id: str = "FREE-1", minutes: int = 1) -> PaymentCaptured:
    """A free order's capture: the channel says paid, and nothing was taken."""
    return PaymentCaptured(
        order_id=ORDER_ID,
        key=key("order.paid", payment_id),
        occurred_at=at(minutes),
        payment_id=payment_id,
        amount=Money("0.00", "CNY"),
    )


class TestFreeOrders:
    """A capture of zero pays a free order, records no payment and owes nothing."""

    def test_a_zero_capture_pays_an_unpaid_order_without_a_payment(self) -> None:
        order = applied(apply(None, placed(), now=NOW)).order

        outcome = applied(apply(order, paid_nothing(), now=NOW))

        assert S.PAID == outcome.order.status
        assert () == outcome.order.payments
        (record,) = outcome.records
        assert (S.PENDING_PAYMENT, S.PAID, "PaymentCaptured") == (
            record.from_status,
            record.to_status,
            record.event_type,
        )
        assert [("zero_capture[FREE-1]", "", "0.00 CNY")] == [
            (c.field, c.old, c.new) for c in record.changes
        ]
        assert key("order.paid", "FREE-1") in outcome.order.applied_keys

    def test_a_free_order_paid_is_picked_and_shipped(self) -> None:
        batch = apply_all(
            None,
            [
                placed(),
                paid_nothing(),
                picking(),
                shipped("S1", ("L1", 2)),
                shipped("S2", ("L2", 1), minutes=130),
            ],
            now=NOW,
        )

        assert batch.order is not None
        assert S.SHIPPED == batch.order.status
        assert all(isinstance(o, Applied) for o in batch.outcomes)

    def test_a_zero_capture_delivered_again_is_a_duplicate(self) -> None:
        order = apply_all(None, [placed(), paid_nothing()], now=NOW).order
        assert order is not None

        assert isinstance(apply(order, paid_nothing(), now=NOW), Duplicate)

    @pytest.mark.parametrize(
        "status",
        [S.PAID, S.PICKING, S.SHIPPED, S.COMPLETED, S.CANCELLED, S.CLOSED],
    )
    def test_a_zero_capture_past_payment_changes_nothing(self, status: S) -> None:
        order = order_in(status)

        outcome = apply(order, paid_nothing("FREE-9", minutes=40), now=NOW)

        # Stale, not RefundDue: nothing was captured, so nothing is owed.
        assert isinstance(outcome, Stale)
        assert order is outcome.order

    def test_cancelling_a_free_order_paid_owes_nothing(self) -> None:
        batch = apply_all(None, [placed(), paid_nothing(), cancelled()], now=NOW)

        assert batch.order is not None
        assert (S.CANCELLED, ()) == (batch.order.status, batch.order.payments)
        assert not any(isinstance(o, RefundDue) for o in batch.outcomes)

    def test_a_zero_capture_in_another_currency_is_refused(self) -> None:
        order = order_in(S.PENDING_PAYMENT)
        dollars = attrs.evolve(paid_nothing(), amount=Money("0.00", "USD"))

        with pytest.raises(CurrencyMismatch) as info:
            apply(order, dollars, now=NOW)

        assert ("amount", "USD") == (info.value.field, info.value.value)
