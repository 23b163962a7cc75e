"""Sample orders, audit records, channel pulls and backends for the service tests.

The stuck-order monitor and the health score read the same kinds of orders:
one tea order in any status, its audit trail, and what a channel says of it.
The desk and saga tests run each case on every backend.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pendulum

from orderkit.adapters.memory import MemoryUnitOfWork
from orderkit.adapters.sqlite import SqliteUnitOfWork
from orderkit.calendar import CN, SlaPolicy
from orderkit.dedupe import Fingerprinter, IdempotencyKey
from orderkit.integrations import ChannelOrder
from orderkit.money import Money
from orderkit.orders import (
    Address,
    AuditRecord,
    Buyer,
    Order,
    OrderEvent,
    OrderLine,
    OrderPlaced,
    OrderStatus,
    Payment,
    Shipment,
    ShipmentLine,
)
from orderkit.ports import Clock, UnitOfWork
from orderkit.pricing import Quote
from orderkit.services import DeskPolicy, Ledger, OrderDesk


# Singles' Day 2026, 10:00 in Shanghai: a Wednesday, a business day.
T0 = pendulum.datetime(2026, 11, 11, 2, 0)
S = OrderStatus
SLA = SlaPolicy(CN, "Asia/Shanghai", business_days=1, cutoff=dt.time(16))
TEA = OrderLine("L1", "LONGJING-250G", 2, Money("199.00", "CNY"), "西湖龙井 250g")
SHIPPED_STATUSES = (S.SHIPPED, S.IN_TRANSIT, S.DELIVERED, S.COMPLETED)


def cny(amount: str) -> Money:
    """`amount` in Chinese yuan."""
    return Money(amount, "CNY")


def backend(kind: str, path: Path) -> Iterator[UnitOfWork]:
    """An empty unit of work, "memory" or "sqlite" at `path`; closed afterwards."""
    if kind == "memory":
        yield MemoryUnitOfWork()
        return
    sqlite = SqliteUnitOfWork(path)
    yield sqlite
    sqlite.close()


def awaiting_payment(
    placed: OrderPlaced,
    *,
    stated: Money | None = None,
    events: tuple[OrderEvent, ...] = (),
) -> ChannelOrder:
    """`placed` as its channel reports it before payment, priced at its lines."""
    return ChannelOrder(
        placed=placed,
        quote=Quote(placed.order_id, placed.channel, placed.lines, stated_total=stated),
        status=OrderStatus.PENDING_PAYMENT,
        channel_status="WAIT_BUYER_PAY",
        events=events,
    )


def order(
    order_id: str,
    status: OrderStatus = S.PAID,
    *,
    channel: str = "douyin",
    paid_at: pendulum.DateTime | None = T0,
    shipped_at: pendulum.DateTime | None = None,
    pay_by: pendulum.DateTime | None = None,
) -> Order:
    paying = status not in {S.PENDING_PAYMENT, S.CLOSED} and paid_at is not None
    shipping = status in {*SHIPPED_STATUSES, S.PARTIALLY_SHIPPED}
    parcel_status = {
        S.IN_TRANSIT: "in_transit",
        S.DELIVERED: "delivered",
        S.COMPLETED: "delivered",
    }.get(status, "shipped")
    parcel = Shipment(
        "P1",
        [ShipmentLine("L1", 1 if status is S.PARTIALLY_SHIPPED else 2)],
        "SF",
        "SF1400123456789",
        shipped_at or T0.add(hours=3),
        parcel_status,
    )
    return Order(
        order_id=order_id,
        channel=channel,
        buyer=Buyer("buyer-小林"),
        address=Address("CN", "浙江省", "杭州市", "西湖区", "龙井路 1 号"),
        lines=[TEA],
        placed_at=T0.subtract(minutes=5),
        status=status,
        pay_by=pay_by,
        payments=[Payment(f"WX-{order_id}", Money("398.00", "CNY"), paid_at)]
        if paying and paid_at is not None
        else [],
        shipments=[parcel] if shipping else [],
    )


def record(
    order_id: str,
    version: int,
    from_status: OrderStatus | None,
    to_status: OrderStatus,
    at: pendulum.DateTime,
) -> AuditRecord:
    return AuditRecord(
        order_id=order_id,
        version=version,
        from_status=from_status,
        to_status=to_status,
        event_type="Event",
        key=IdempotencyKey("douyin", "order/update", order_id, f"e{version}"),
        actor="douyin-webhook",
        source="douyin",
        occurred_at=at,
        recorded_at=at,
    )


def pulled(our: Order, status: OrderStatus, **changes: object) -> ChannelOrder:
    placed = OrderPlaced(
        key=IdempotencyKey(our.channel, "order/create", our.order_id, "1"),
        occurred_at=our.placed_at,
        order_id=our.order_id,
        channel=our.channel,
        buyer=our.buyer,
        address=our.address,
        lines=our.lines,
    )
    return ChannelOrder(
        placed=placed,
        quote=Quote(order_id=our.order_id, channel=our.channel, lines=our.lines),
        status=status,
        channel_status=str(status),
        **changes,  # type: ignore[arg-type]
    )


def sh1_desk(unit: UnitOfWork, clock: Clock, *skus: str, units: int = 5) -> OrderDesk:
    """A desk selling from SH-1, where `units` of each of `skus` came in."""
    with unit as uow:
        ledger = Ledger(uow.ledger, clock)
        for sku in skus:
            ledger.receive(sku, "SH-1", units)
        uow.commit()
    return OrderDesk(
        unit, clock, DeskPolicy(locations=["SH-1"]), Fingerprinter.for_tests()
    )
