"""Take one order through its lifecycle and print every audit record.

The events arrive the way real channels deliver them: the payment callback is
re-sent during network jitter (a duplicate), the carrier reports a delivery
before the parcel was scanned in transit (early: parked, applied later), and a
late "in transit" scan arrives after delivery (stale). orderkit applies each
event once, in the right order, and status never moves backwards.

Run it with:  python examples/order_lifecycle.py
"""

from __future__ import annotations

import pendulum

from orderkit import IdempotencyKey, Money
from orderkit.orders import (
    Address,
    Applied,
    Buyer,
    Completed,
    Delivered,
    Duplicate,
    Early,
    InTransit,
    Order,
    OrderEvent,
    OrderLine,
    OrderPlaced,
    PaymentCaptured,
    PickingStarted,
    ShipmentLine,
    Shipped,
    Stale,
    apply,
    milestone,
)
from orderkit.testing import FrozenClock


ORDER_ID = "DY-1001"
BEIJING = "Asia/Shanghai"


def key(kind: str, event_id: str) -> IdempotencyKey:
    """The parts a channel repeats on every re-send of one event."""
    return IdempotencyKey("douyin", kind, ORDER_ID, event_id)


def events(placed_at: pendulum.DateTime) -> list[OrderEvent]:
    """The events as they arrive, re-sends and all."""
    common = {"order_id": ORDER_ID}
    paid = PaymentCaptured(
        key=key("trade.paid", "evt-7001"),
        occurred_at=placed_at.add(minutes=2),
        payment_id="ALIPAY-2026111100001",
        amount=Money("487.50", "CNY"),
        **common,
    )
    in_transit = InTransit(
        key=key("logistics.transit", "SF1001"),
        occurred_at=placed_at.add(hours=6),
        shipment_id="SF1001",
        source="sf-express",
        **common,
    )
    return [
        OrderPlaced(
            key=key("trade.created", "evt-7000"),
            occurred_at=placed_at,
            channel="douyin",
            buyer=Buyer("buyer-42", "王小明", "138****8000"),
            address=Address(
                "CN", "北京市", "北京市", "朝阳区", "建国路 88 号", "100022"
            ),
            lines=[
                OrderLine("L1", "RETRO-CLOCK", 2, Money("199.00", "CNY")),
                OrderLine("L2", "VELVET-LAMP", 1, Money("89.50", "CNY")),
            ],
            pay_by=placed_at.add(minutes=30),
            actor="buyer-42",
            **common,
        ),
        paid,
        paid,  # the payment callback, re-sent during network jitter
        PickingStarted(
            key=key("wms.picking", "W-88"),
            occurred_at=placed_at.add(hours=1),
            location="WH-BJ-01",
            source="wms",
            **common,
        ),
        Shipped(
            key=key("wms.shipped", "SF1001"),
            occurred_at=placed_at.add(hours=3),
            shipment_id="SF1001",
            lines=[ShipmentLine("L1", 2), ShipmentLine("L2", 1)],
            carrier="SF",
            tracking_number="SF1400028120888",
            source="wms",
            **common,
        ),
        # The carrier's delivery callback overtakes its transit scan.
        Delivered(
            key=key("logistics.delivered", "SF1001"),
            occurred_at=placed_at.add(days=1),
            shipment_id="SF1001",
            source="sf-express",
            **common,
        ),
        in_transit,
        # A second tracking feed reports the transit scan again, a day late.
        InTransit(
            key=key("logistics.transit", "SF1001-kuaidi100"),
            occurred_at=placed_at.add(hours=6),
            shipment_id="SF1001",
            source="kuaidi100",
            **common,
        ),
        Completed(
            key=key("trade.completed", "evt-7090"),
            occurred_at=placed_at.add(days=8),
            actor="buyer-42",
            **common,
        ),
    ]


def main() -> None:
    """Apply every event as it arrives, parking early ones, and print the trail."""
    clock = FrozenClock(pendulum.datetime(2026, 11, 11, 0, 5, tz=BEIJING))
    order: Order | None = None
    parked: list[OrderEvent] = []
    for event in events(clock.now()):
        clock.advance(seconds=1)
        arrivals = [event]
        while arrivals:
            current = arrivals.pop(0)
            outcome = apply(order, current, now=clock.now())
            name = type(current).__name__
            match outcome:
                case Applied(order=new, records=records):
                    order = new
                    for r in records:
                        moved = f"{r.from_status or '-':>17} -> {r.to_status:<12}"
                        when = f"{r.occurred_at.in_tz(BEIJING):%Y-%m-%d %H:%M}"
                        print(
                            f"applied    {r.event_type:<16} {moved} "
                            f"by {r.actor}@{r.source} at {when} key={r.key}"
                        )
                    arrivals, parked = parked + arrivals, []
                case Duplicate():
                    print(f"duplicate  {name:<16} key={current.key} (nothing changed)")
                case Stale(reason=reason):
                    print(f"stale      {name:<16} {reason} (nothing changed)")
                case Early(reason=reason):
                    print(f"early      {name:<16} {reason}: parked")
                    parked.append(current)
                case _:
                    print(f"{type(outcome).__name__:<10} {name}")
    if order is None:
        raise SystemExit("the order was never placed")
    shown = milestone(order.status)
    print(f"\n{order.order_id}: {order.status} ({shown.zh} / {shown.en})")
    print(f"version {order.version}, {len(order.applied_keys)} events applied")


if __name__ == "__main__":
    main()
