"""Seeded traffic: every order of the day and its plan, drawn up front.

`plan_day(orders, seed, rates)` draws one `OrderPlan` per order from one
`random.Random(seed)`, in the order the orders are placed, so the same
arguments give the same day in every process: each worker draws the whole
day and drives its own share.
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Sequence
from decimal import ROUND_HALF_UP, Decimal
from typing import Final

import attrs
import pendulum

from orderkit.cli import _catalog as catalog
from orderkit.cli._people import person
from orderkit.cli._plans import OrderPlan, PlanLine, Rates, Repricing, Return
from orderkit.money import Money


_CN_CHANNELS: Final = ("taobao", "magento")
_ABUSER_ORDERS: Final = 40
"""Orders per abuser account, as in the brief's incident (12,000 by 300)."""
_PEAK: Final = dt.timedelta(minutes=25)
"""The flash sale's rush: orders thin out exponentially after midnight."""


def _minutes(rng: random.Random, low: float, high: float) -> dt.timedelta:
    return dt.timedelta(seconds=round(rng.uniform(low, high) * 60))


def _share(money: Money, percent: int) -> Money:
    minor = (Decimal(money.minor) * percent / 100).quantize(1, ROUND_HALF_UP)
    return Money.from_minor(int(minor), money.currency)


@attrs.define
class _Drawer:
    """Draws the plans in placing order, remembering what mirrors need."""

    rng: random.Random
    rates: Rates
    abusers: int
    counters: dict[str, int] = attrs.field(factory=dict)
    recent: dict[str, OrderPlan] = attrs.field(factory=dict)

    def order_id(self, channel: str) -> str:
        n = self.counters.get(channel, 0) + 1
        self.counters[channel] = n
        return {
            "taobao": f"{3_100_000_000_000_000 + n * 7}",
            "magento": f"{10_000 + n}",
            "shopify": f"{5_500_000_000_000 + n * 3}",
            "woocommerce": f"{80_000 + n}",
        }[channel]

    def plan(
        self, index: int, at: pendulum.DateTime, channel: str, kind: str
    ) -> OrderPlan:
        rng = self.rng
        order_id = self.order_id(channel)
        currency = catalog.CHANNEL_BY_NAME[channel].currency
        mirrored = self.recent.get(_other(channel)) if kind == "mirror" else None
        if kind == "mirror" and (
            mirrored is None or at - mirrored.placed_at > catalog.DUPLICATE_WINDOW
        ):
            kind, mirrored = "regular", None
        account = rng.randrange(self.abusers)
        buyer = person(
            rng, channel, index, abuser=account if kind == "abuser" else None
        )
        if mirrored is not None:
            buyer = attrs.evolve(mirrored.buyer, buyer_id=buyer.buyer_id)
        lines = mirrored.lines if mirrored is not None else self.lines(kind, currency)
        discounts = self.discounts(kind, lines, currency)
        plan = OrderPlan(
            index=index,
            channel=channel,
            order_id=order_id,
            placed_at=at,
            lines=lines,
            buyer=buyer,
            discounts=discounts,
            shipping=_shipping(currency, _subtotal(lines, currency)),
            tax=Money.zero(currency),
            device=f"dev-bulk-{account:03d}"
            if kind == "abuser"
            else f"dev-{index:07d}",
            ip=f"203.0.113.{account % 250 + 1}"
            if kind == "abuser"
            else f"10.{index >> 16 & 255}.{index >> 8 & 255}.{index & 255}",
            kind=kind,
            payment_ref=f"{channel[:2]}{index:09d}",
        )
        plan = attrs.evolve(plan, tax=_tax(currency, plan.subtotal, discounts))
        if kind != "abuser":
            plan = self.lifecycle(plan)
        if kind == "regular" and channel in _CN_CHANNELS:
            self.recent[channel] = plan
        return plan

    def lines(self, kind: str, currency: str) -> tuple[PlanLine, ...]:
        rng = self.rng
        region = "CN" if currency == "CNY" else "US" if currency == "USD" else "EU"
        chosen: list[tuple[catalog.Sku, int]] = []
        if kind in {"flash", "abuser"}:
            hot = [s for s in catalog.HOT if region in s.regions]
            if kind == "abuser":
                hot = [s for s in hot if s.code != "AIRFRYER-5L"] or hot
            quantity = 2 if kind == "flash" and rng.random() < 0.15 else 1
            chosen.append((rng.choice(hot), quantity))
        if kind != "abuser" and (kind != "flash" or rng.random() < 0.3):
            count = 1 + (rng.random() < 0.4) + (rng.random() < 0.15)
            chosen.extend(
                (sku, 1 + (rng.random() < 0.3) + (rng.random() < 0.1))
                for sku in rng.sample(catalog.REGULAR, count)
            )
        return tuple(
            PlanLine(sku.code, quantity, sku.price(currency), sku.title(currency))
            for sku, quantity in chosen
        )

    def discounts(
        self, kind: str, lines: Sequence[PlanLine], currency: str
    ) -> tuple[tuple[str, Money], ...]:
        hot = {sku.code for sku in catalog.HOT}
        found: list[tuple[str, Money]] = []
        flash = Money.zero(currency)
        for line in lines:
            if line.sku in hot:
                flash += _share(line.unit_price * line.quantity, catalog.FLASH_PERCENT)
        if kind in {"flash", "abuser"} and flash.amount:
            found.append((f"FLASH{catalog.FLASH_PERCENT}", flash))
        if kind == "abuser":
            found.append((catalog.STACKED_COUPON, Money("80.00", currency)))
        return tuple(found)

    def lifecycle(self, plan: OrderPlan) -> OrderPlan:
        rng, rates = self.rng, self.rates
        abandoned = rng.random() < rates.abandon
        pay_after = None if abandoned else _minutes(rng, 1, 14)
        repricing = None
        if (
            plan.channel == "taobao"
            and plan.kind == "regular"
            and pay_after is not None
            and rng.random() < rates.price_change
        ):
            repricing = _repricing(rng, plan.lines[0])
            pay_after = max(pay_after, dt.timedelta(minutes=6))
        returning = None
        if rng.random() < rates.returns:
            at = rng.randrange(len(plan.lines))
            returning = Return(
                line=at,
                quantity=rng.randint(1, plan.lines[at].quantity),
                passed=rng.random() < 0.85,
                over_claim=rng.random() < 0.2,
                after=_minutes(rng, 60, 24 * 60),
            )
        if plan.kind == "mirror" and pay_after is not None:
            # The reviewer decides first: a held order is not paid.
            pay_after = max(pay_after, dt.timedelta(minutes=6))
        late = rng.random() < rates.reorder
        return attrs.evolve(
            plan,
            pay_after=pay_after,
            # An order webhook that comes after its payment notice; not for
            # orders a person must look at before payment.
            create_late=late and repricing is None and plan.kind != "mirror",
            create_twice=rng.random() < rates.duplicate,
            pay_twice=rng.random() < rates.duplicate,
            repricing=repricing,
            release_on_review=rng.random() < 0.3,
            cancel_after=_minutes(rng, 1, 4) if rng.random() < rates.cancel else None,
            pick_after=_minutes(rng, 6, 25),
            pick_lost=rng.random() < rates.lost_pick,
            ship_after=_minutes(rng, 20, 120),
            transit_after=_minutes(rng, 120, 480),
            deliver_after=_minutes(rng, 360, 1800),
            scans_twice=rng.random() < rates.duplicate,
            scans_reordered=rng.random() < rates.reorder,
            returning=returning,
        )


def _subtotal(lines: Sequence[PlanLine], currency: str) -> Money:
    total = Money.zero(currency)
    for line in lines:
        total += line.unit_price * line.quantity
    return total


def _other(channel: str) -> str:
    return "magento" if channel == "taobao" else "taobao"


def _repricing(rng: random.Random, line: PlanLine) -> Repricing:
    cut = rng.choice((5, 10, 20, 35))
    new = Money.from_minor(
        (line.unit_price.minor * (100 - cut) // 100) // 100 * 100,
        line.unit_price.currency,
    )
    reasons = ("老客户优惠", "赠品缺货补偿", "直播间议价", "包装破损折价")
    return Repricing(
        new_unit_price=new,
        approve=rng.random() < 0.8,
        requester=f"cs-agent-{rng.randrange(12):02d}",
        reason=rng.choice(reasons),
    )


def _shipping(currency: str, subtotal: Money) -> Money:
    threshold, fee = {
        "CNY": ("99.00", "10.00"),
        "USD": ("50.00", "5.99"),
        "EUR": ("40.00", "4.90"),
    }[currency]
    if subtotal >= Money(threshold, currency):
        return Money.zero(currency)
    return Money(fee, currency)


def _tax(
    currency: str, subtotal: Money, discounts: Sequence[tuple[str, Money]]
) -> Money:
    # Sales tax in New York, VAT in Germany; Chinese list prices include VAT.
    percent = {"USD": Decimal("8.875"), "EUR": Decimal(19)}.get(currency)
    if percent is None:
        return Money.zero(currency)
    base = subtotal.minor - sum(amount.minor for _, amount in discounts)
    minor = (Decimal(base) * percent / 100).quantize(1, ROUND_HALF_UP)
    return Money.from_minor(int(minor), currency)


def plan_day(orders: int, seed: int, rates: Rates) -> tuple[OrderPlan, ...]:
    """Draw the day's orders, in the order they are placed.

    Args:
        orders: How many orders the channels send.
        seed: Seeds every draw: the same seed gives the same day.
        rates: How often each kind of trouble happens.

    Returns:
        One plan per order, `index` counting from 0 in placing order.
    """
    rng = random.Random(seed)  # noqa: S311 - a reproducible day, not secrecy
    skeletons: list[tuple[pendulum.DateTime, str, str]] = []
    shares = [c.share for c in catalog.CHANNELS]
    names = [c.name for c in catalog.CHANNELS]
    for _ in range(orders):
        if rng.random() < rates.flash:
            kind = "abuser" if rng.random() < rates.abuser else "flash"
            last = catalog.FLASH_LENGTH.total_seconds() - 1
            rush = min(rng.expovariate(1 / _PEAK.total_seconds()), last)
            at = catalog.FLASH_START.add(seconds=round(rush))
            cn_share = [0.7, 0.3] if kind == "abuser" else None
            channel = (
                rng.choices(_CN_CHANNELS, cn_share)[0]
                if cn_share
                else rng.choices(names, shares)[0]
            )
        else:
            channel = rng.choices(names, shares)[0]
            mirror = channel in _CN_CHANNELS and rng.random() < rates.cross_duplicate
            kind = "mirror" if mirror else "regular"
            span = catalog.SPAN.total_seconds()
            at = catalog.SPAN_START.add(seconds=round(rng.uniform(0, span)))
        skeletons.append((at, channel, kind))
    skeletons.sort(key=lambda s: s[0])
    abuser_orders = sum(kind == "abuser" for _, _, kind in skeletons)
    drawer = _Drawer(rng, rates, max(1, round(abuser_orders / _ABUSER_ORDERS)))
    return tuple(
        drawer.plan(index, at, channel, kind)
        for index, (at, channel, kind) in enumerate(skeletons)
    )
