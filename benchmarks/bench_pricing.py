"""pricing.validate: `validate` of a 10-line order with three stacked offers.

One operation is one order validated: three offers applied under a stacking
policy (a percent off three SKUs, an amount off the order split over every
line, free shipping), ten price floors checked, quantity limits checked and
the channel's stated total compared. Baseline:

- ``floor``: the same arithmetic hand-written over `Decimal` and plain
  tuples: the gross per line, the same largest-remainder split, the same
  floors and the same total comparison, with no value objects, no policy
  and no violation records: the least code that computes the same answer.
  Goal: `validate` within 3x of it.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

from _harness import Figure
from orderkit.money import Money
from orderkit.orders import OrderLine
from orderkit.pricing import (
    AmountOff,
    FreeShipping,
    Offer,
    PercentOff,
    PriceFloor,
    PricingPolicy,
    Quote,
    StackingPolicy,
    validate,
)


ORDERS_PER_CALL = 20
SKUS = [f"SKU-{i:02d}" for i in range(10)]
PRICES = [Decimal(f"{19 + 17 * i}.90") for i in range(10)]
QUANTITIES = [1 + i % 3 for i in range(10)]
FLOORS = [p * Decimal("0.5") for p in PRICES]
PERCENT_SKUS = frozenset(SKUS[:3])
SHIPPING = Decimal("12.00")
COUPON = Decimal("30.00")
PERCENT = Decimal(15)


def _cny(amount: Decimal) -> Money:
    return Money.rounded(amount, "CNY")


LINES = [
    OrderLine(f"L{i}", sku, qty, _cny(price))
    for i, (sku, qty, price) in enumerate(zip(SKUS, QUANTITIES, PRICES, strict=True))
]
OFFERS: list[Offer] = [
    PercentOff("SPRING15", PERCENT, PERCENT_SKUS),
    AmountOff("STORE30", _cny(COUPON)),
    FreeShipping("FREESHIP"),
]
POLICY = PricingPolicy(
    stacking=StackingPolicy(max_stacked=3, line_cap=Decimal(60)),
    floors=[PriceFloor(s, _cny(f)) for s, f in zip(SKUS, FLOORS, strict=True)],
    max_line_quantity=10,
    max_order_quantity=50,
)
_UNSTATED = Quote("DY-1", "douyin", LINES, OFFERS, shipping=_cny(SHIPPING))
_TOTAL = validate(_UNSTATED, POLICY).totals.total
QUOTE = Quote(
    "DY-1", "douyin", LINES, OFFERS, shipping=_cny(SHIPPING), stated_total=_TOTAL
)
assert validate(QUOTE, POLICY).ok


def run_validate() -> None:
    for _ in range(ORDERS_PER_CALL):
        validate(QUOTE, POLICY)


# The floor --------------------------------------------------------------------

CENT = Decimal("0.01")
STATED = _TOTAL.amount


def _split(total: int, weights: list[int]) -> list[int]:
    whole = sum(weights)
    parts = [total * w // whole for w in weights]
    rems = [total * w % whole for w in weights]
    for i in sorted(range(len(parts)), key=lambda i: (-rems[i], i))[
        : total - sum(parts)
    ]:
        parts[i] += 1
    return parts


def floor_validate() -> tuple[bool, list[str]]:
    nets = [p * q for p, q in zip(PRICES, QUANTITIES, strict=True)]
    # 30.00 off the order first (amounts before percentages), split by line.
    parts = _split(int(COUPON * 100), [int(n * 100) for n in nets])
    nets = [n - Decimal(p) / 100 for n, p in zip(nets, parts, strict=True)]
    # 15% off three SKUs, split over them by net amount.
    targets = [i for i, s in enumerate(SKUS) if s in PERCENT_SKUS]
    base = sum(nets[i] for i in targets)
    off = (base * PERCENT / 100).quantize(CENT, rounding=ROUND_HALF_UP)
    weights = [int(nets[i] * 100) for i in targets]
    for i, part in zip(targets, _split(int(off * 100), weights), strict=True):
        nets[i] -= Decimal(part) / 100
    problems = [
        s
        for s, n, q, f in zip(SKUS, nets, QUANTITIES, FLOORS, strict=True)
        if n < f * q
    ]
    total = sum(nets)  # free shipping: nothing added
    if total != STATED:
        problems.append("total")
    return not problems, problems


assert floor_validate() == (True, [])


def run_floor() -> None:
    for _ in range(ORDERS_PER_CALL):
        floor_validate()


FIGURES = [
    Figure(
        name="pricing.validate",
        unit="orders/s",
        run=run_validate,
        ops_per_call=ORDERS_PER_CALL,
        baselines={"floor": run_floor},
        description=(
            "validate a 10-line order with three stacked offers, ten floors and"
            " a stated total (goal: within 3x of floor)"
        ),
    )
]
