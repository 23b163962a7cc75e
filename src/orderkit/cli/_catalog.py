"""The simulated business: its channels, goods, warehouses and rules, as data.

A tea and gifts brand sells on Taobao and its own Magento shop in China, a
Shopify store in the US and a WooCommerce shop in Germany. Three SKUs go on
flash sale at midnight Shanghai time (Singles' Day, 2026-11-11); the US
store's business day of 2026-11-10 (US Eastern) crosses that midnight.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from types import MappingProxyType
from typing import Final, final

import attrs
import pendulum

from orderkit.calendar import CN, US_FEDERAL, SlaPolicy
from orderkit.inventory import RoutingStrategy
from orderkit.money import Money
from orderkit.pricing import (
    ApprovalTiers,
    LimitRule,
    LimitScope,
    PriceFloor,
    PricingPolicy,
)
from orderkit.services import DeskPolicy, StuckRules


SPAN_START: Final = pendulum.datetime(2026, 11, 10, 12)
"""When the simulated day starts: 20:00 in Shanghai, 07:00 in New York."""
SPAN: Final = dt.timedelta(hours=20)
FLASH_START: Final = pendulum.datetime(2026, 11, 10, 16)
"""Midnight in Shanghai: Singles' Day begins and the flash sale opens."""
FLASH_LENGTH: Final = dt.timedelta(hours=2)
US_ZONE: Final = "America/New_York"
US_DAY: Final = dt.date(2026, 11, 10)
"""The US store's business day that the day report covers."""
OFFICE_ZONE: Final = "Asia/Shanghai"
PAY_WINDOW: Final = dt.timedelta(minutes=30)
DUPLICATE_WINDOW: Final = dt.timedelta(hours=1)

FLASH_PERCENT: Final = 30
"""The flash sale's discount on hot SKUs, in percent: above every floor."""
STACKED_COUPON: Final = "STORE80"
"""The store-wide coupon abusers stack on the flash discount: below the floors."""


@final
@attrs.frozen(slots=True)
class Channel:
    """One sales channel: its name, money, region and share of the traffic."""

    name: str
    currency: str
    region: str
    share: float
    carrier: str


CHANNELS: Final = (
    Channel("taobao", "CNY", "CN", 0.45, "SF"),
    Channel("magento", "CNY", "CN", 0.20, "SF"),
    Channel("shopify", "USD", "US", 0.20, "UPS"),
    Channel("woocommerce", "EUR", "EU", 0.15, "DHL"),
)
CHANNEL_BY_NAME: Final = MappingProxyType({c.name: c for c in CHANNELS})
REGIONS: Final = ("CN", "US", "EU")

WAREHOUSES: Final[Mapping[str, tuple[str, ...]]] = MappingProxyType(
    {
        "CN": ("SH-PUDONG", "BJ-DAXING", "GZ-BAIYUN"),
        "US": ("NJ-EDISON", "CA-ONTARIO"),
        "EU": ("DE-LEIPZIG", "NL-VENLO"),
    }
)


@final
@attrs.frozen(slots=True)
class Sku:
    """A product: its code, titles, list prices by currency and floor."""

    code: str
    title_zh: str
    title_en: str
    prices: Mapping[str, str]
    floors: Mapping[str, str] = attrs.field(factory=dict)
    regions: tuple[str, ...] = REGIONS

    def price(self, currency: str) -> Money:
        """The list price in `currency`."""
        return Money(self.prices[currency], currency)

    def title(self, currency: str) -> str:
        """The title a channel in `currency` shows."""
        return self.title_zh if currency == "CNY" else self.title_en


HOT: Final = (
    Sku(
        "MOONCAKE-GIFTBOX-8",
        "广式月饼礼盒 8枚装",
        "Cantonese mooncake gift box (8)",
        {"CNY": "199.00"},
        {"CNY": "110.00"},
        ("CN",),
    ),
    Sku(
        "TEA-LJ-250G",
        "西湖龙井 明前特级 250克 礼盒装",
        "West Lake Longjing tea, 250 g",
        {"CNY": "168.00"},
        {"CNY": "95.00"},
        ("CN",),
    ),
    Sku(
        "AIRFRYER-5L",
        "空气炸锅 5升",
        "Air fryer, 5 l",
        {"CNY": "399.00", "USD": "59.99", "EUR": "54.99"},
        {"CNY": "220.00", "USD": "33.00", "EUR": "30.00"},
    ),
)
"""The flash sale's SKUs: scarce stock, price floors, per-buyer limits."""


# code | Chinese title | English title | CNY | USD | EUR
_EVERYDAY: Final = """
CUP-GLASS-350 | 双层玻璃茶杯 350毫升 | Double-wall glass cup | 59.90 | 8.99 | 7.99
TRAY-BAMBOO-S | 竹制茶盘 小号 | Bamboo tea tray, small | 25.00 | 4.99 | 4.49
SILK-SCARF-90 | 真丝围巾 90厘米 | Silk scarf, 90 cm | 268.00 | 39.00 | 35.00
PANDA-PLUSH-30 | 熊猫毛绒玩具 30厘米 | Panda plush, 30 cm | 89.00 | 14.99 | 12.99
CHOPSTICKS-SET | 红木筷子 10双装 | Rosewood chopsticks (10) | 128.00 | 19.99 | 17.99
TEAPOT-YIXING | 宜兴紫砂壶 | Yixing clay teapot | 688.00 | 99.00 | 89.00
KETTLE-1-7L | 电热水壶 1.7升 | Electric kettle, 1.7 l | 159.00 | 24.99 | 22.99
POWERBANK-20K | 充电宝 20000毫安 | Power bank, 20000 mAh | 149.00 | 21.99 | 19.99
SOCKS-5PK | 纯棉袜子 5双装 | Cotton socks (5 pairs) | 39.90 | 6.99 | 5.99
NOTEBOOK-A5 | 笔记本 A5 | Notebook, A5 | 19.90 | 3.49 | 2.99
"""


def _everyday(table: str) -> tuple[Sku, ...]:
    skus = []
    for row in table.strip().splitlines():
        code, zh, en, cny, usd, eur = (cell.strip() for cell in row.split("|"))
        skus.append(Sku(code, zh, en, {"CNY": cny, "USD": usd, "EUR": eur}))
    return tuple(skus)


REGULAR: Final = _everyday(_EVERYDAY)
"""Everyday SKUs, stocked deeply: they sell without shortages."""


def stock_plan(orders: int) -> list[tuple[str, str, int]]:
    """The goods received before the day starts: `(sku, location, units)`.

    Hot SKUs get a fraction of their demand, so the sale sells out and the
    ledger must refuse; everyday SKUs get more than can sell.
    """
    plan: list[tuple[str, str, int]] = []
    for sku in HOT:
        for region in sku.regions:
            units = max(4, orders // 60) if region == "CN" else max(2, orders // 400)
            plan += [(sku.code, where, units) for where in WAREHOUSES[region]]
    deep = max(60, orders)
    for sku in REGULAR:
        for region in sku.regions:
            plan += [(sku.code, where, deep) for where in WAREHOUSES[region]]
    return plan


# ----------------------------------------------------------------------
# Rules


def _tiers(currency: str, manager: str, director: str) -> ApprovalTiers:
    return ApprovalTiers.of(
        (Money(manager, currency), "store_manager"),
        (Money(director, currency), "regional_director"),
        (None, "finance"),
    )


TIERS: Final[Mapping[str, ApprovalTiers]] = MappingProxyType(
    {
        "CNY": _tiers("CNY", "100.00", "500.00"),
        "USD": _tiers("USD", "15.00", "75.00"),
        "EUR": _tiers("EUR", "13.00", "65.00"),
    }
)
"""Who approves a price change or refund of an amount, per currency."""

_DAY = dt.timedelta(days=1)
LIMITS: Final = (
    *(LimitRule(LimitScope.BUYER, 2, _DAY, sku=sku.code) for sku in HOT),
    LimitRule(LimitScope.DEVICE, 8, _DAY),
)
"""At most two of each hot SKU per buyer a day, eight orders per device."""

STUCK_RULES: Final = StuckRules(
    limits={"paid": dt.timedelta(minutes=30), "picking": dt.timedelta(hours=4)}
)
"""Paid but not picking after 30 minutes, or picking for 4 hours: stuck."""


def _pricing(currency: str) -> PricingPolicy:
    floors = [
        PriceFloor(sku.code, Money(sku.floors[currency], currency))
        for sku in HOT
        if currency in sku.floors
    ]
    return PricingPolicy(floors=floors, max_order_quantity=12)


def desk_policy(region: str) -> DeskPolicy:
    """The order desk of a region: its warehouses first, its channels' rules."""
    sla = {
        "CN": SlaPolicy(CN, "Asia/Shanghai", cutoff=dt.time(16), business_days=2),
        "US": SlaPolicy(US_FEDERAL, US_ZONE, cutoff=dt.time(14), business_days=1),
    }.get(region)
    return DeskPolicy(
        locations=WAREHOUSES[region],
        routing=RoutingStrategy.MOST_STOCK,
        channel_pricing={c.name: _pricing(c.currency) for c in CHANNELS},
        limits=LIMITS,
        duplicate_window=DUPLICATE_WINDOW,
        pay_window=PAY_WINDOW,
        sla=sla,
    )
