"""The coupon-stacking incident (brief, incident 2), replayed without stock."""

from __future__ import annotations

import datetime as dt
import random

import pendulum

from orderkit.adapters.memory import MemoryLimitStore
from orderkit.money import Money
from orderkit.orders import OrderLine
from orderkit.pricing import (
    AmountOff,
    Exceeded,
    LimitRule,
    LimitScope,
    Offer,
    PercentOff,
    PriceFloor,
    PricingPolicy,
    PurchaseContext,
    Quote,
    ViolationCode,
    validate,
)
from orderkit.services import PurchaseLimits
from orderkit.testing import FrozenClock


GIFT_BOX = "MOONCAKE-GIFTBOX-8"
LIST_PRICE = Money("199.00", "CNY")
FLASH = PercentOff("FLASH40", 40)
STORE_COUPON = AmountOff("STORE50", Money("50.00", "CNY"))
START = pendulum.datetime(2026, 9, 20, 2, 0)  # 10:00 in Shanghai, six hours of sale


class TestCouponStackingIncident:
    """15,385 orders; 12,000 from 300 abusive buyers stacking coupons below cost."""

    def test_floors_and_limits_stop_the_abuse_and_let_real_buyers_through(
        self,
    ) -> None:
        orders = [
            (f"bulk-{buyer:03d}", True) for buyer in range(300) for _ in range(40)
        ] + [(f"buyer-{n:04d}", False) for n in range(3385)]
        random.Random(20260920).shuffle(orders)  # noqa: S311 - a reproducible order, not a secret
        clock = FrozenClock(START)
        limits = PurchaseLimits(
            [LimitRule(LimitScope.BUYER, 5, dt.timedelta(days=1))],
            MemoryLimitStore(),
            clock,
        )
        policy = PricingPolicy(floors=[PriceFloor(GIFT_BOX, Money("120.00", "CNY"))])
        below_floor = over_limit = ordinary_passed = 0
        for n, (buyer, abusive) in enumerate(orders):
            clock.set(START.add(seconds=n))  # 15,385 orders within six hours
            line = OrderLine("L1", GIFT_BOX, 1, LIST_PRICE, "广式月饼礼盒")
            offers: list[Offer] = [FLASH, STORE_COUPON] if abusive else []
            quote = Quote(f"TM-{n:05d}", "tmall", [line], offers)
            checked = validate(quote, policy)
            floor = any(v.code is ViolationCode.BELOW_FLOOR for v in checked.violations)
            limited = isinstance(
                limits.check(PurchaseContext(buyer_id=buyer, channel="tmall")),
                Exceeded,
            )
            below_floor += floor
            over_limit += limited
            if not abusive:
                ordinary_passed += checked.ok and not limited
        assert (below_floor, over_limit, ordinary_passed) == (12_000, 10_500, 3_385)
