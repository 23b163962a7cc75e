"""lifecycle.apply: orderkit's pure `apply` over the full happy path.

One operation is one event applied, audit record included. The path is ten
events: placed, paid, picking, two parcels shipped, each in transit and
delivered, completed. Baselines run the same ten transitions:

- ``floor``: a hand-written dict transition table, a frozen attrs order
  holding the same thirteen fields as orderkit's, evolved per event with
  ``attrs.evolve``, and a frozen attrs audit record with the same ten fields
  per transition; no idempotency, no shipments, no validation: the least a
  library keeping the same data can do.
- ``transitions``: the `transitions` library, one shared `Machine` with each
  order added as a model (the cheaper of its two documented uses), the same
  audit record written in an ``after_state_change`` callback.
- ``transitions_per_order``: the same, with a `Machine` built per order, as
  its README's first example does: the per-order machine objects that
  orderkit's table-as-data design avoids.
"""

from __future__ import annotations

from typing import Any

import attrs
import pendulum

from _harness import Figure
from orderkit import IdempotencyKey, Money
from orderkit.orders import (
    Address,
    Buyer,
    Completed,
    Delivered,
    InTransit,
    OrderEvent,
    OrderLine,
    OrderPlaced,
    PaymentCaptured,
    PickingStarted,
    ShipmentLine,
    Shipped,
    apply,
)


ORDERS_PER_CALL = 50
NOW = pendulum.datetime(2026, 11, 20, tz="UTC")
T0 = pendulum.datetime(2026, 11, 11, tz="UTC")
STEPS = [
    ("placed", "pending_payment"),
    ("paid", "paid"),
    ("picking", "picking"),
    ("shipped_1", "partially_shipped"),
    ("shipped_2", "shipped"),
    ("transit_1", "shipped"),
    ("transit_2", "in_transit"),
    ("delivered_1", "in_transit"),
    ("delivered_2", "delivered"),
    ("completed", "completed"),
]
OPS_PER_CALL = ORDERS_PER_CALL * len(STEPS)


def _happy_path(order_id: str) -> list[OrderEvent]:
    def key(kind: str) -> IdempotencyKey:
        return IdempotencyKey("douyin", kind, order_id, "1")

    common: dict[str, Any] = {"order_id": order_id, "occurred_at": T0}
    parcel: dict[str, Any] = {"carrier": "SF", "tracking_number": "SF1"}
    return [
        OrderPlaced(
            key=key("created"),
            channel="douyin",
            buyer=Buyer("buyer-42"),
            address=Address("CN", "北京市", "北京市"),
            lines=[
                OrderLine("L1", "RETRO-CLOCK", 2, Money("199.00", "CNY")),
                OrderLine("L2", "VELVET-LAMP", 1, Money("89.50", "CNY")),
            ],
            **common,
        ),
        PaymentCaptured(
            key=key("paid"), payment_id="P1", amount=Money("487.50", "CNY"), **common
        ),
        PickingStarted(key=key("picking"), **common),
        Shipped(
            key=key("shipped-1"),
            shipment_id="S1",
            lines=[ShipmentLine("L1", 2)],
            **parcel,
            **common,
        ),
        Shipped(
            key=key("shipped-2"),
            shipment_id="S2",
            lines=[ShipmentLine("L2", 1)],
            **parcel,
            **common,
        ),
        InTransit(key=key("transit-1"), shipment_id="S1", **common),
        InTransit(key=key("transit-2"), shipment_id="S2", **common),
        Delivered(key=key("delivered-1"), shipment_id="S1", **common),
        Delivered(key=key("delivered-2"), shipment_id="S2", **common),
        Completed(key=key("completed"), **common),
    ]


_STREAMS = [_happy_path(f"DY-{n}") for n in range(ORDERS_PER_CALL)]


def run_orderkit() -> None:
    for stream in _STREAMS:
        order = None
        for event in stream:
            order = apply(order, event, now=NOW).order


# The floor ------------------------------------------------------------------


# The floor keeps the same data as orderkit (an order with the same thirteen
# fields, a record with the same ten), with none of the guarantees.
@attrs.frozen(slots=True)
class _FloorOrder:
    order_id: str
    channel: str
    buyer: object
    address: object
    lines: tuple[object, ...]
    placed_at: pendulum.DateTime
    status: str
    version: int
    pay_by: pendulum.DateTime | None
    payments: tuple[object, ...]
    shipments: tuple[object, ...]
    cancel_reason: str | None
    applied_keys: frozenset[object]


@attrs.frozen(slots=True)
class _FloorRecord:
    order_id: str
    from_status: str
    to_status: str
    event_type: str
    key: object
    actor: str
    source: str
    occurred_at: pendulum.DateTime
    recorded_at: pendulum.DateTime
    changes: tuple[object, ...] = ()


_FLOOR_TABLE = {
    (before, event): after
    for (event, after), (_, before) in zip(
        STEPS, [(None, "new"), *STEPS[:-1]], strict=True
    )
}
_FLOOR_EVENTS = [event for event, _ in STEPS]


def run_floor() -> None:
    for stream in _STREAMS:
        placed = stream[0]
        assert isinstance(placed, OrderPlaced)
        order = _FloorOrder(
            placed.order_id,
            placed.channel,
            placed.buyer,
            placed.address,
            placed.lines,
            placed.occurred_at,
            "new",
            0,
            None,
            (),
            (),
            None,
            frozenset(),
        )
        records = []
        for name, event in zip(_FLOOR_EVENTS, stream, strict=True):
            after = _FLOOR_TABLE[order.status, name]
            records.append(
                _FloorRecord(
                    order.order_id,
                    order.status,
                    after,
                    name,
                    event.key,
                    event.actor,
                    event.source,
                    event.occurred_at,
                    NOW,
                )
            )
            order = attrs.evolve(order, status=after, version=order.version + 1)


# The transitions library ----------------------------------------------------


def _transitions_runner(*, per_order: bool) -> Any:
    from transitions import Machine  # noqa: PLC0415 - a dev-only baseline

    class _Model:
        def __init__(self, order_id: str) -> None:
            self.order_id = order_id
            self.records: list[_FloorRecord] = []

    states = ["new", *sorted({after for _, after in STEPS})]
    table = [
        {"trigger": event, "source": before, "dest": after}
        for (event, after), (_, before) in zip(
            STEPS, [(None, "new"), *STEPS[:-1]], strict=True
        )
    ]

    def make_machine(model: object) -> Any:
        return Machine(
            model=model,
            states=states,
            transitions=table,
            initial="new",
            auto_transitions=False,
            after_state_change="audit",
            send_event=True,
        )

    machine = make_machine(None)

    def audit(self: _Model, event_data: Any) -> None:
        t = event_data.transition
        event = event_data.kwargs["event"]
        self.records.append(
            _FloorRecord(
                self.order_id,
                t.source,
                t.dest,
                event_data.event.name,
                event.key,
                event.actor,
                event.source,
                event.occurred_at,
                NOW,
            )
        )

    _Model.audit = audit  # type: ignore[attr-defined]

    def run() -> None:
        for stream in _STREAMS:
            model = _Model(stream[0].order_id)
            if per_order:
                make_machine(model)
            else:
                machine.add_model(model)
            for name, event in zip(_FLOOR_EVENTS, stream, strict=True):
                getattr(model, name)(event=event)
            if not per_order:
                machine.remove_model(model)

    return run


def _baselines() -> dict[str, Any]:
    baselines: dict[str, Any] = {"floor": run_floor}
    try:
        baselines["transitions"] = _transitions_runner(per_order=False)
        baselines["transitions_per_order"] = _transitions_runner(per_order=True)
    except ImportError:  # pragma: no cover - transitions is a dev dependency
        pass
    return baselines


FIGURES = [
    Figure(
        name="lifecycle.apply",
        unit="events/s",
        run=run_orderkit,
        ops_per_call=OPS_PER_CALL,
        baselines=_baselines(),
        description="apply() over the happy path with audit records",
    )
]
