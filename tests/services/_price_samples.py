"""A price change on DY-1001's two jade teapots (88.00 each), approved at once.

For the tests of an order `orderkit.testing.channel_order` makes, whose
line L1 is the teapots: a change requested, then recorded on the order
approved by the store manager.
"""

from __future__ import annotations

import datetime as dt

from orderkit.dedupe import IdempotencyKey
from orderkit.money import Money
from orderkit.pricing import ApprovalTiers, PriceChange, approve, request_change
from orderkit.services import OrderDesk
from orderkit.testing import FrozenClock


TIERS = ApprovalTiers.of((Money("100.00", "CNY"), "store_manager"), (None, "finance"))


def teapot_change(
    clock: FrozenClock, new_price: str, *, requester: str = "douyin"
) -> PriceChange:
    """A request to move the teapots' unit price from 88.00 to `new_price`."""
    return request_change(
        TIERS,
        change_id=f"PC-{new_price}",
        order_id="DY-1001",
        line_id="L1",
        sku="JADE-TEAPOT",
        quantity=2,
        old_unit_price=Money("88.00", "CNY"),
        new_unit_price=Money(new_price, "CNY"),
        reason="改价 on the Douyin back office",
        requester=requester,
        evidence="douyin://order/DY-1001",
        requested_at=clock.now(),
        ttl=dt.timedelta(hours=24),
    )


def amended(desk: OrderDesk, clock: FrozenClock, change: PriceChange) -> None:
    """`change` recorded on the order, approved by the store manager."""
    approved = approve(
        change, TIERS, approver="mgr.wang", role="store_manager", now=clock.now()
    ).change
    key = IdempotencyKey("desk", "price_change", "DY-1001", change.change_id)
    desk.amend("douyin", "DY-1001", approved, key=key, actor="mgr.wang", source="desk")
