"""Hypothesis strategies for orderkit's value types, events and event streams.

Use them to property-test your own rules on top of orderkit:

```python
from hypothesis import given
from orderkit.testing import strategies as ost

@given(ost.orders())
def test_my_rule_never_crashes(order):
    my_rule(order)
```

For what arrives from outside: `channel_orders` (orders as an adapter reads
them, for `OrderDesk.accept` and your pricing rules), `event_streams` (one
order's events delivered twice and out of order), `ledger_operations`
(steps for `orderkit.testing.check_ledger_laws`) and `desk_operations`
(steps for `orderkit.testing.check_desk_laws`).

To fuzz a channel adapter with its own sample payloads, draw them broken and
mutated from `payload_mutations` and check each accepted order with
`check_channel_order`.

Needs the `testing` extra (`pip install 'orderkit[testing]'`).

.. versionadded:: 0.1.0
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import pendulum

from orderkit.testing._extra import testing_extra_missing


try:
    from hypothesis import strategies as st
except ModuleNotFoundError as missing:  # without the `testing` extra
    raise testing_extra_missing("orderkit.testing.strategies", missing) from None


from orderkit.dedupe import IdempotencyKey
from orderkit.integrations import ChannelOrder
from orderkit.money import Currency, Money
from orderkit.orders import (
    Address,
    AddressChanged,
    AfterSalesCase,
    Applied,
    AuditRecord,
    Buyer,
    Cancelled,
    CaseStep,
    Closed,
    Completed,
    Delivered,
    Duplicate,
    Early,
    Event,
    FieldChange,
    Inspected,
    InTransit,
    Milestone,
    Order,
    OrderEvent,
    OrderLine,
    OrderPlaced,
    OrderStatus,
    OutboxMessage,
    Payment,
    PaymentCaptured,
    PickingStarted,
    Recorded,
    RefundDue,
    ReturnLine,
    Saga,
    Shipment,
    ShipmentLine,
    ShipmentStatus,
    Shipped,
    Stale,
    Unchanged,
    apply,
    apply_all,
    approve_case,
    inspect_return,
    receive_return,
    record_case,
    record_payments,
    record_price_change,
    request_return,
)
from orderkit.orders._status import ENDED
from orderkit.pricing import ApprovalTiers, ChangeState, PaymentLedger, PriceChange
from orderkit.testing._payload_fuzz import (
    NASTY_VALUES,
    check_channel_order,
    payload_mutations,
)
from orderkit.testing._scenario_strategies import (
    EventStream,
    channel_orders,
    desk_operations,
    event_streams,
    ledger_operations,
)
from orderkit.testing._value_strategies import ID as _ID
from orderkit.testing._value_strategies import TEXT as _TEXT
from orderkit.testing._value_strategies import (
    addresses,
    buyers,
    currencies,
    idempotency_keys,
    instants,
    lifecycles,
    money,
    order_lines,
)
from orderkit.testing._value_strategies import unique_lines as _unique_lines


__all__ = [
    "EventStream",
    "NASTY_VALUES",
    "addresses",
    "after_sales_cases",
    "audit_records",
    "buyers",
    "channel_orders",
    "check_channel_order",
    "currencies",
    "desk_operations",
    "event_streams",
    "events",
    "for_type",
    "idempotency_keys",
    "instants",
    "ledger_operations",
    "lifecycles",
    "money",
    "order_lines",
    "orders",
    "payload_mutations",
    "return_lines",
]

T = TypeVar("T")


def orders() -> st.SearchStrategy[Order]:
    """Orders in every status, each one reachable through `apply`.

    Built by applying a `lifecycles()` stream (in any currency), sometimes
    ended by a cancellation or a close where the lifecycle allows one, and
    sometimes given a payment ledger, an after-sales case and a price change
    (pending or applied) through the `record_*` functions, so every order is
    one a store could really hold. About one line in four is unstocked
    (`OrderLine.stocked` false: a gift card, a fee), which a parcel may
    carry or leave out.

    .. versionadded:: 0.1.0
    """

    @st.composite
    def build(draw: st.DrawFn) -> Order:
        currency = draw(currencies())
        start = draw(instants(max_value=_STARTS_UNTIL))
        stream = draw(
            lifecycles(
                order_id=draw(_ID), currency=currency, start=start, unstocked=True
            )
        )
        order = apply_all(None, stream, now=start.add(days=30)).order
        assert order is not None  # noqa: S101 - lifecycles() always places the order
        ending = draw(st.sampled_from([None, Cancelled, Closed]))
        if ending is not None and (ending, order.status) in _ENDINGS:
            key = IdempotencyKey("douyin", ending.__name__, order.order_id, "end")
            event = ending(
                order_id=order.order_id,
                key=key,
                occurred_at=start.add(days=1),
                reason="buyer changed their mind",
            )
            outcome = apply(order, event, now=start.add(days=30))
            assert isinstance(outcome, Applied | RefundDue)  # noqa: S101
            order = outcome.order
        return _with_parts(draw, order, start.add(days=2))

    return build()


def _with_parts(draw: st.DrawFn, order: Order, at: pendulum.DateTime) -> Order:
    """Sometimes a payment ledger, a case and a price change, recorded."""
    line = order.lines[0]
    money = line.unit_price
    parts: list[PaymentLedger | AfterSalesCase | PriceChange] = []
    # A case goes back to a payment the order has: one paid, or the ledger's.
    payment = order.payments[0].payment_id if order.payments else None
    if draw(st.booleans()):
        total = sum((each.amount for each in order.lines), Money.zero(money.currency))
        ledger = PaymentLedger(order.order_id, order.currency)
        if total.amount > 0:
            ledger = ledger.authorise("PAY-1", total, at).capture("PAY-1", total, at)
            payment = "PAY-1"
        parts.append(ledger)
    if payment is not None and draw(st.booleans()):
        refund = Money.from_minor(draw(st.integers(1, 10**6)), money.currency)
        returned = ReturnLine(
            line.line_id, line.sku, draw(st.integers(1, line.quantity))
        )
        parts.append(
            request_return(
                case_id="AS-1",
                order_id=order.order_id,
                payment_id=payment,
                lines=[returned],
                refund_amount=refund,
                reason="七天无理由退货",
                requester="buyer",
                return_to="WH-1",
                at=at,
            )
        )
    if draw(st.booleans()):
        approved = order.status not in ENDED
        approved = approved and draw(st.booleans())
        parts.append(
            PriceChange(
                change_id="PC-1",
                order_id=order.order_id,
                line_id=line.line_id,
                sku=line.sku,
                quantity=line.quantity,
                old_unit_price=line.unit_price,
                new_unit_price=line.unit_price + Money.from_minor(1, money.currency),
                reason="price match",
                requester="clerk",
                evidence="ticket://1",
                requested_at=at,
                expires_at=at.add(days=1),
                required_role="finance",
                state=ChangeState.APPROVED if approved else ChangeState.PENDING,
                decided_by="finance:li.na" if approved else None,
                decided_at=at if approved else None,
            )
        )
    for n, part in enumerate(parts):
        key = IdempotencyKey("back-office", "part", order.order_id, str(n))
        record = _RECORDERS[type(part)]
        outcome = record(order, part, key=key, actor="clerk", source="erp", now=at)
        assert isinstance(outcome, Recorded)  # noqa: S101 - every part is new
        order = outcome.order
    return order


_RECORDERS: dict[type, Callable[..., Recorded | Unchanged]] = {
    PaymentLedger: record_payments,
    AfterSalesCase: record_case,
    PriceChange: record_price_change,
}


_ENDINGS: set[tuple[type[Event], OrderStatus]] = {
    (Cancelled, OrderStatus.PENDING_PAYMENT),
    (Cancelled, OrderStatus.PAID),
    (Cancelled, OrderStatus.PICKING),
    (Closed, OrderStatus.PENDING_PAYMENT),
}


def _payments(currency: Currency | str) -> st.SearchStrategy[Payment]:
    return st.builds(Payment, _ID, money(currency, min_minor=1), instants())


def _shipments(lines: list[OrderLine]) -> st.SearchStrategy[Shipment]:
    parts = st.lists(
        st.sampled_from(lines).map(
            lambda line: ShipmentLine(line.line_id, line.quantity)
        ),
        min_size=1,
        max_size=3,
    )
    return st.builds(
        Shipment,
        _ID,
        parts,
        st.sampled_from(["SF", "YTO", "UPS"]),
        _ID,
        instants(),
        st.sampled_from(ShipmentStatus),
    )


def _event_fields() -> dict[str, st.SearchStrategy[Any]]:
    return {
        "order_id": _ID,
        "key": idempotency_keys(),
        "occurred_at": instants(),
        "actor": _ID,
        "source": _ID,
    }


def _event_strategies() -> dict[type[Event], st.SearchStrategy[Any]]:
    common = _event_fields()
    parcel = st.lists(
        st.builds(ShipmentLine, _ID, st.integers(1, 9)), min_size=1, max_size=3
    )
    return {
        OrderPlaced: st.builds(
            OrderPlaced,
            channel=_ID,
            buyer=buyers(),
            address=addresses(),
            lines=_unique_lines(),
            pay_by=st.none() | instants(),
            **common,
        ),
        PaymentCaptured: st.builds(
            PaymentCaptured,
            payment_id=_ID,
            amount=money("CNY", min_minor=1),
            **common,
        ),
        PickingStarted: st.builds(PickingStarted, location=st.none() | _ID, **common),
        Shipped: st.builds(
            Shipped,
            shipment_id=_ID,
            lines=parcel,
            carrier=_ID,
            tracking_number=_ID,
            **common,
        ),
        InTransit: st.builds(InTransit, shipment_id=_ID, **common),
        Delivered: st.builds(Delivered, shipment_id=_ID, **common),
        Completed: st.builds(Completed, **common),
        Cancelled: st.builds(Cancelled, reason=_ID, **common),
        Closed: st.builds(Closed, reason=_ID, **common),
        AddressChanged: st.builds(AddressChanged, address=addresses(), **common),
    }


def events() -> st.SearchStrategy[OrderEvent]:
    """Any single order event, with arbitrary (not lifecycle-consistent) fields.

    For streams that make sense together, use `lifecycles()`.

    .. versionadded:: 0.1.0
    """
    return st.one_of(*_event_strategies().values())


def audit_records() -> st.SearchStrategy[AuditRecord]:
    """Audit records, as an audit log would load them.

    .. versionadded:: 0.1.0
    """
    return st.builds(
        AuditRecord,
        order_id=_ID,
        version=st.integers(min_value=1, max_value=1000),
        from_status=st.none() | st.sampled_from(OrderStatus),
        to_status=st.sampled_from(OrderStatus),
        event_type=st.sampled_from([cls.__name__ for cls in _EVENT_CLASSES]),
        key=idempotency_keys(),
        actor=_ID,
        source=_ID,
        occurred_at=instants(),
        recorded_at=instants(),
        changes=st.lists(st.builds(FieldChange, _ID, _TEXT, _TEXT), max_size=2),
    )


# The latest start of `orders()`: its events stay well inside `instants()`.
_STARTS_UNTIL = pendulum.datetime(2090, 1, 1, tz="UTC")
_EVENT_CLASSES = (OrderPlaced, PaymentCaptured, Shipped, Cancelled)


def return_lines() -> st.SearchStrategy[ReturnLine]:
    """A line of an after-sales case, with up to three serial numbers.

    .. versionadded:: 0.1.0
    """
    return st.builds(
        ReturnLine, _ID, _ID, st.integers(1, 5), st.frozensets(_ID, max_size=3)
    )


# Who approves which refund in generated cases: finance approves any amount.
_REFUND_TIERS = ApprovalTiers.of(
    (Money("100.00", "CNY"), "store_manager"), (None, "finance")
)


@st.composite
def _case_lines(draw: st.DrawFn) -> list[ReturnLine]:
    """Lines as shipped: one serial per unit, or none (unserialised goods)."""
    lines = []
    for i in range(draw(st.integers(1, 3))):
        quantity = draw(st.integers(1, 3))
        serials = draw(
            st.just([])
            | st.lists(_ID, min_size=quantity, max_size=quantity, unique=True)
        )
        lines.append(ReturnLine(f"L{i + 1}", draw(_ID), quantity, frozenset(serials)))
    return lines


@st.composite
def _case(draw: st.DrawFn, stage: int) -> AfterSalesCase:
    lines = draw(_case_lines())
    t = draw(instants())
    # Now and then a refund without a return (仅退款): nothing comes back.
    returns_goods = draw(st.sampled_from((True, True, True, False)))
    case = request_return(
        case_id=draw(_ID),
        order_id=draw(_ID),
        payment_id=draw(_ID),
        # Serials come with the goods: receive_return records them below.
        lines=[ReturnLine(r.line_id, r.sku, r.quantity) for r in lines],
        refund_amount=draw(money("CNY", min_minor=1, max_minor=10**7)),
        reason=draw(_ID),
        requester=f"buyer:{draw(_ID)}",
        return_to=draw(_ID),
        at=t,
        returns_goods=returns_goods,
    )
    if stage >= 1:
        case = approve_case(case, "finance:li.na", "finance", _REFUND_TIERS, t)
    if stage >= 2:
        returned = [r for r in lines if r.serials and returns_goods]
        serials = {r.line_id: sorted(r.serials) for r in returned}
        shipped = {r.line_id: r.serials for r in lines if r.serials}
        case = receive_return(case, serials, shipped, t)
    return case


def after_sales_cases() -> st.SearchStrategy[AfterSalesCase]:
    """An after-sales case, as requested, approved or received.

    About one in four is a refund without a return (`returns_goods` false),
    received with no serial numbers.

    .. versionadded:: 0.1.0
    """
    return st.integers(0, 2).flatmap(_case)


def _inspected() -> st.SearchStrategy[Inspected]:
    return st.builds(
        lambda case, passed: inspect_return(case, passed=passed, at=case.requested_at),
        _case(2),
        st.booleans(),
    )


_TYPES: dict[type[Any], Callable[[], st.SearchStrategy[Any]]] = {
    Currency: currencies,
    Money: money,
    IdempotencyKey: idempotency_keys,
    Buyer: buyers,
    Address: addresses,
    OrderLine: order_lines,
    Order: orders,
    ChannelOrder: channel_orders,
    AuditRecord: audit_records,
    Payment: lambda: _payments("CNY"),
    ShipmentLine: lambda: st.builds(ShipmentLine, _ID, st.integers(1, 99)),
    Shipment: lambda: _unique_lines().flatmap(_shipments),
    FieldChange: lambda: st.builds(FieldChange, _ID, _TEXT, _TEXT),
    Milestone: lambda: st.builds(Milestone, _ID, _TEXT, _TEXT),
    Applied: lambda: st.builds(
        Applied, orders(), st.lists(audit_records(), max_size=2).map(tuple), events()
    ),
    Duplicate: lambda: st.builds(Duplicate, orders(), events()),
    Stale: lambda: st.builds(Stale, orders(), events(), _TEXT),
    Early: lambda: st.builds(Early, st.none() | orders(), events(), _TEXT),
    Recorded: lambda: st.builds(Recorded, orders(), audit_records()),
    Saga: lambda: st.builds(
        Saga,
        name=_ID,
        step=_ID,
        key=_ID,
        started_at=instants(),
        amount=st.none() | money("CNY"),
        reference=st.none() | _ID,
    ),
    OutboxMessage: lambda: st.builds(
        OutboxMessage,
        message_id=_ID,
        stream=_ID,
        topic=_ID,
        payload=st.binary(max_size=64),
        created_at=instants(),
    ),
    Unchanged: lambda: st.builds(Unchanged, orders(), _TEXT),
    ReturnLine: return_lines,
    AfterSalesCase: after_sales_cases,
    CaseStep: lambda: after_sales_cases().map(lambda case: case.steps[-1]),
    Inspected: _inspected,
    RefundDue: lambda: st.builds(
        RefundDue,
        orders(),
        st.lists(audit_records(), max_size=2).map(tuple),
        events(),
        money("CNY"),
    ),
}


def for_type(cls: type[T]) -> st.SearchStrategy[T]:
    """A strategy for an order's value types, its events and its outcomes.

    Covers `Money` and `Currency`, the order aggregate and its parts
    (`Order`, `OrderLine`, `Buyer`, `Address`, `Payment`, `Shipment`,
    `AfterSalesCase`, `Saga`, ...), audit records, outbox messages, the
    lifecycle's outcomes, `ChannelOrder`, and every event class. Inventory,
    pricing and dedupe values have no strategy here yet.

    Raises:
        LookupError: orderkit has no strategy for `cls`.

    .. versionadded:: 0.1.0
    """
    if cls in _TYPES:
        strategy: st.SearchStrategy[T] = _TYPES[cls]()
        return strategy
    by_event = _event_strategies()
    if cls in by_event:
        event_strategy: st.SearchStrategy[T] = by_event[cls]  # type: ignore[index]
        return event_strategy
    msg = f"orderkit.testing.strategies has no strategy for {cls!r}"
    raise LookupError(msg)
