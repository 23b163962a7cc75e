"""The brief's flash-sale incidents, replayed end to end through the order desk."""

from __future__ import annotations

import datetime as dt
import json
import random
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pendulum
import pytest

from orderkit.adapters.sqlite import SqliteUnitOfWork
from orderkit.dedupe import Fingerprinter, IdempotencyKey
from orderkit.integrations import ChannelOrder
from orderkit.money import Money
from orderkit.orders import Address, Buyer, OrderLine, OrderPlaced, OutboxMessage
from orderkit.pricing import (
    AmountOff,
    LimitRule,
    LimitScope,
    Offer,
    PercentOff,
    PriceFloor,
    PricingPolicy,
    Quote,
)
from orderkit.services import (
    Accepted,
    DeskPolicy,
    Held,
    Ledger,
    OrderDesk,
    RefusalReason,
    Refused,
    relay,
)
from orderkit.testing import FrozenClock


GIFT_BOX = "MOONCAKE-GIFTBOX-8"
LIST_PRICE = Money("199.00", "CNY")
FLASH = PercentOff("FLASH40", 40)
STORE_COUPON = AmountOff("STORE50", Money("50.00", "CNY"))
START = pendulum.datetime(2026, 9, 20, 2, 0)  # 10:00 in Shanghai, six hours of sale
SECRET = b"incident-replay-secret-0001"


@pytest.fixture
def unit(tmp_path: Path) -> Iterator[SqliteUnitOfWork]:
    """The embedded default: one SQLite file."""
    sqlite = SqliteUnitOfWork(tmp_path / "sale.db")
    yield sqlite
    sqlite.close()


def order(
    n: int, buyer: str, offers: list[Offer], *, channel: str = "tmall"
) -> ChannelOrder:
    """One mooncake gift box, ordered by `buyer` with `offers` claimed."""
    order_id = f"TM-{n:05d}"
    placed = OrderPlaced(
        order_id=order_id,
        key=IdempotencyKey(channel, "trade.created", order_id, "1"),
        occurred_at=START.add(seconds=n),
        channel=channel,
        buyer=Buyer(buyer),
        address=Address("CN", "浙江省", "杭州市", "西湖区", f"{buyer} 的家"),
        lines=[OrderLine("L1", GIFT_BOX, 1, LIST_PRICE, "广式月饼礼盒")],
    )
    return ChannelOrder(
        placed=placed,
        quote=Quote(order_id, channel, placed.lines, offers),
        status="pending_payment",
        channel_status="WAIT_BUYER_PAY",
    )


def receive(unit: SqliteUnitOfWork, clock: FrozenClock, quantity: int) -> None:
    with unit as uow:
        Ledger(uow.ledger, clock).receive(GIFT_BOX, "HZ-1", quantity)
        uow.commit()


class TestCouponStacking:
    """Incident 2: 15,385 orders for 50 gift boxes, 12,000 of them abusive."""

    def test_abusers_get_nothing_and_the_first_fifty_buyers_get_a_box(
        self, unit: SqliteUnitOfWork
    ) -> None:
        orders = [
            (f"bulk-{buyer:03d}", True) for buyer in range(300) for _ in range(40)
        ] + [(f"buyer-{n:04d}", False) for n in range(3385)]
        random.Random(20260920).shuffle(orders)  # noqa: S311 - a reproducible order
        clock = FrozenClock(START)
        receive(unit, clock, 50)
        desk = OrderDesk(
            unit,
            clock,
            DeskPolicy(
                locations=["HZ-1"],
                pricing=PricingPolicy(
                    floors=[PriceFloor(GIFT_BOX, Money("120.00", "CNY"))]
                ),
                limits=[LimitRule(LimitScope.BUYER, 5, dt.timedelta(days=1))],
                pay_window=dt.timedelta(hours=12),
            ),
            Fingerprinter(SECRET),
        )
        outcomes: Counter[str] = Counter()
        abusive_orders = {
            f"order:tmall:TM-{n:05d}" for n, (_, a) in enumerate(orders) if a
        }
        for n, (buyer, abusive) in enumerate(orders):
            clock.set(START.add(seconds=n))  # 15,385 orders within six hours
            offers: list[Offer] = [FLASH, STORE_COUPON] if abusive else []
            outcome = desk.accept(order(n, buyer, offers))
            with unit as uow:
                available = (
                    Ledger(uow.ledger, clock).balance(GIFT_BOX, "HZ-1").available
                )
            assert available >= 0
            if isinstance(outcome, Refused):
                outcomes[
                    f"refused {outcome.reason} {'abuser' if abusive else 'buyer'}"
                ] += 1
            elif isinstance(outcome, Held):
                assert "pricing" in outcome.order.review
                outcomes[f"held {'abuser' if abusive else 'buyer'}"] += 1
            else:
                assert isinstance(outcome, Accepted)
                outcomes[f"accepted {'abuser' if abusive else 'buyer'}"] += 1
        assert outcomes == {
            f"refused {RefusalReason.LIMITS} abuser": 10_500,
            "held abuser": 1_500,
            "accepted buyer": 50,
            f"refused {RefusalReason.OUT_OF_STOCK} buyer": 3_335,
        }
        with unit as uow:
            ledger = Ledger(uow.ledger, clock)
            box = ledger.balance(GIFT_BOX, "HZ-1")
            owners = {hold.owner for hold in ledger.holds()}
        assert (box.on_hand, box.reserved, box.available) == (50, 50, 0)
        assert len(owners) == 50
        assert not owners & abusive_orders


class _Channel:
    """A channel's own view of what it may sell, corrected by sellable pushes."""

    def __init__(self, name: str, view: int) -> None:
        self.name = name
        self.view = view
        self.sold = 0

    def sell(self) -> bool:
        if self.view <= 0:
            return False
        self.view -= 1  # a channel counts its own sales at once
        self.sold += 1
        return True

    def push(self, message: OutboxMessage) -> None:
        if message.topic == "sellable":
            self.view = json.loads(message.payload)["sellable"]


class TestSyncDrift:
    """Incident 3: two channels sell one stock; without pushes they oversell."""

    @pytest.mark.parametrize("pushes", [True, False])
    def test_sellable_pushes_stop_overselling(
        self, unit: SqliteUnitOfWork, *, pushes: bool
    ) -> None:
        clock = FrozenClock(START)
        receive(unit, clock, 50)
        desk = OrderDesk(
            unit, clock, DeskPolicy(locations=["HZ-1"]), Fingerprinter(SECRET)
        )
        channels = [_Channel("tmall", 50), _Channel("douyin", 50)]
        oversold = 0
        for n in range(200):
            clock.set(START.add(seconds=n))
            channel = channels[n % 2]
            if not channel.sell():
                continue
            outcome = desk.accept(order(n, f"buyer-{n}", [], channel=channel.name))
            if isinstance(outcome, Refused):
                oversold += 1  # the channel took money for stock that is gone
            if pushes:

                def publish(message: OutboxMessage) -> None:
                    for each in channels:
                        each.push(message)

                with unit as uow:
                    relay(uow.outbox, publish, clock=clock, name="relay-1")
                    uow.commit()
        sold = sum(channel.sold for channel in channels)
        if pushes:
            assert (oversold, sold) == (0, 50)
        else:
            assert (oversold, sold) == (50, 100)
