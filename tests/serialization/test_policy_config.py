"""Policies written by hand, as a host keeps them in a file, and bad ones refused.

The shape is the one the converter writes: enums as their values, durations
as ISO 8601 (`"PT30M"`), money as `{amount, currency}`, a cut-off as a wall
clock (`"16:00"`), a business calendar by the name of one orderkit ships or
as a table of ISO dates. A value that does not fit raises `StructureError`
naming the path to it and the value, with the domain's error as its cause.
"""

import datetime as dt
import tomllib
from decimal import Decimal
from typing import Any

import attrs
import pytest

from orderkit.calendar import CN, SlaPolicy, TableCalendar
from orderkit.errors import (
    InvalidOffer,
    NaiveDatetime,
    StructureError,
    UnknownStatus,
    ValidationError,
)
from orderkit.inventory import Preorder, RoutingStrategy
from orderkit.money import Money
from orderkit.orders import OrderStatus
from orderkit.pricing import (
    LimitRule,
    LimitScope,
    OfferKind,
    PriceFloor,
    PricingPolicy,
    StackingPolicy,
    TotalsPolicy,
)
from orderkit.serialization import Converter, make_converter
from orderkit.services import (
    DeskPolicy,
    HealthRules,
    PickingKey,
    RetryPolicy,
    StuckRules,
)


CONVERTERS = {
    "fast": make_converter(),
    "detailed": make_converter(detailed=True),
}

SLA = {"calendar": "CN", "zone": "Asia/Shanghai", "cutoff": "16:00", "business_days": 1}
ACME = {
    "name": "ACME",
    "first_year": 2026,
    "last_year": 2026,
    "holidays": {"2026-10-01": "National Day", "2026-10-02": "National Day"},
    "workdays": {"2026-10-10": "National Day"},
}

DESK_TOML = """
locations = ["SH-1", "BJ-2"]
routing = "most_stock"
pay_window = "PT45M"
duplicate_window = "P2D"
picking_order = ["tier", "ship_by"]

[pricing]
totals = "accept_channel"
max_line_quantity = 10
floors = [{ sku = "TEA-1", price = { amount = "9.90", currency = "CNY" } }]

[pricing.stacking]
exclusive = ["fixed_price"]
combinable = [["percent", "amount"], ["percent", "percent"]]
line_cap = "50"

[channel_pricing.taobao]
max_order_quantity = 20

[[limits]]
scope = "ip"
limit = 3
window = "P1D"
distinct = "buyer"

[sla]
zone = "Asia/Shanghai"
cutoff = 16:00:00
business_hours = 24

[sla.calendar]
name = "ACME"
first_year = 2026
last_year = 2026
weekend = [6]

[sla.calendar.holidays]
2026-10-01 = "National Day"
"""


def test_a_desk_policy_reads_from_toml() -> None:
    data = tomllib.loads(DESK_TOML)
    policy = make_converter().structure(data, DeskPolicy)
    assert policy == DeskPolicy(
        locations=["SH-1", "BJ-2"],
        routing=RoutingStrategy.MOST_STOCK,
        pay_window=dt.timedelta(minutes=45),
        duplicate_window=dt.timedelta(days=2),
        picking_order=[PickingKey.TIER, PickingKey.SHIP_BY],
        pricing=PricingPolicy(
            totals=TotalsPolicy.ACCEPT_CHANNEL,
            max_line_quantity=10,
            floors=[PriceFloor("TEA-1", Money("9.90", "CNY"))],
            stacking=StackingPolicy(
                exclusive=[OfferKind.FIXED_PRICE],
                combinable=[("percent", "amount"), ("percent", "percent")],
                line_cap=Decimal(50),
            ),
        ),
        channel_pricing={"taobao": PricingPolicy(max_order_quantity=20)},
        limits=[
            LimitRule(LimitScope.IP, 3, dt.timedelta(days=1), distinct=LimitScope.BUYER)
        ],
        sla=SlaPolicy(
            TableCalendar(
                "ACME",
                first_year=2026,
                last_year=2026,
                weekend=[6],
                holidays={dt.date(2026, 10, 1): "National Day"},
            ),
            "Asia/Shanghai",
            cutoff=dt.time(16),
            business_hours=24,
        ),
    )


HAND_WRITTEN: dict[str, tuple[Any, object]] = {
    "desk policy with its locations alone": (
        {"locations": ["SH-1"]},
        DeskPolicy(locations=["SH-1"]),
    ),
    "stuck rules": (
        {
            "limits": {"paid": "PT30M", "picking": "PT4H"},
            "sla": SLA,
            "saga_limit": None,
            "review_limit": "PT2H",
        },
        StuckRules(
            limits={
                OrderStatus.PAID: dt.timedelta(minutes=30),
                OrderStatus.PICKING: dt.timedelta(hours=4),
            },
            sla=SlaPolicy(CN, "Asia/Shanghai", cutoff=dt.time(16), business_days=1),
            saga_limit=None,
            review_limit=dt.timedelta(hours=2),
        ),
    ),
    "default stuck rules": ({}, StuckRules()),
    "sla on a table calendar": (
        {**SLA, "calendar": ACME, "cutoff": "09:30:15"},
        SlaPolicy(
            TableCalendar(
                "ACME",
                first_year=2026,
                last_year=2026,
                holidays={
                    dt.date(2026, 10, 1): "National Day",
                    dt.date(2026, 10, 2): "National Day",
                },
                workdays={dt.date(2026, 10, 10): "National Day"},
            ),
            "Asia/Shanghai",
            cutoff=dt.time(9, 30, 15),
            business_days=1,
        ),
    ),
    "health rules": (
        {"working_hours": [8, 20], "workdays": [0, 1, 2, 3, 4, 5]},
        HealthRules(working_hours=(8, 20), workdays=frozenset(range(6))),
    ),
    "retry policy": (
        {"retries": 5, "base": 0.5, "cap": 10},
        RetryPolicy(5, 0.5, 10),
    ),
}


@pytest.mark.parametrize("converter", CONVERTERS.values(), ids=CONVERTERS)
@pytest.mark.parametrize(("data", "expected"), HAND_WRITTEN.values(), ids=HAND_WRITTEN)
def test_a_policy_reads_from_a_hand_written_dict(
    converter: Converter, data: Any, expected: object
) -> None:
    assert converter.structure(data, type(expected)) == expected


def test_an_sla_names_a_bundled_calendar() -> None:
    assert make_converter().structure(SLA, SlaPolicy).calendar is CN


def _desk(**fields: Any) -> dict[str, Any]:
    return {"locations": ["SH-1"], **fields}


# (data, type, path, value, the domain error behind the report or None)
BAD: dict[str, tuple[Any, type, str, Any, type[Exception] | None]] = {
    "unknown routing": (
        _desk(routing="closest"),
        DeskPolicy,
        "routing",
        "closest",
        ValueError,
    ),
    "routing by distance": (
        _desk(routing="nearest"),
        DeskPolicy,
        "routing",
        RoutingStrategy.NEAREST,
        ValidationError,
    ),
    "unknown picking key": (
        _desk(picking_order=["tier", "speed"]),
        DeskPolicy,
        "picking_order[1]",
        "speed",
        ValueError,
    ),
    "unknown totals policy": (
        _desk(channel_pricing={"taobao": {"totals": "ignore"}}),
        DeskPolicy,
        "channel_pricing.taobao.totals",
        "ignore",
        ValueError,
    ),
    "unknown limit scope": (
        _desk(limits=[{"scope": "email", "limit": 3, "window": "P1D"}]),
        DeskPolicy,
        "limits[0].scope",
        "email",
        ValidationError,
    ),
    "unknown offer kind": (
        {"combinable": [["percent", "coupon"]]},
        StackingPolicy,
        "combinable[0][1]",
        "coupon",
        ValueError,
    ),
    "three kinds as a pair": (
        {"combinable": [["percent", "amount", "percent"]]},
        StackingPolicy,
        "combinable[0]",
        (OfferKind.PERCENT, OfferKind.AMOUNT, OfferKind.PERCENT),
        InvalidOffer,
    ),
    "unknown status": (
        {"limits": {"lost": "PT1H"}},
        StuckRules,
        "limits.lost",
        "lost",
        UnknownStatus,
    ),
    "terminal status": (
        {"limits": {"closed": "PT1H"}},
        StuckRules,
        "limits[closed]",
        dt.timedelta(hours=1),
        ValidationError,
    ),
    "limits not a table": (
        {"limits": ["paid"]},
        StuckRules,
        "limits",
        ["paid"],
        None,
    ),
    "negative pay window": (
        _desk(pay_window="-PT30M"),
        DeskPolicy,
        "pay_window",
        dt.timedelta(minutes=-30),
        ValidationError,
    ),
    "negative status limit": (
        {"limits": {"paid": "-PT30M"}},
        StuckRules,
        "limits[paid]",
        dt.timedelta(minutes=-30),
        ValidationError,
    ),
    "negative saga limit": (
        {"saga_limit": "-PT1M"},
        StuckRules,
        "saga_limit",
        dt.timedelta(minutes=-1),
        ValidationError,
    ),
    "duration in months": (
        _desk(duplicate_window="P1M"),
        DeskPolicy,
        "duplicate_window",
        "P1M",
        None,
    ),
    "duration as minutes": (
        {"saga_limit": 15},
        StuckRules,
        "saga_limit",
        15,
        None,
    ),
    "naive instant": (
        {"cap": 5, "ends_at": "2026-12-01T00:00:00"},
        Preorder,
        "ends_at",
        "2026-12-01T00:00:00",
        NaiveDatetime,
    ),
    "naive instant from toml": (
        tomllib.loads("cap = 5\nends_at = 2026-12-01T00:00:00\n"),
        Preorder,
        "ends_at",
        dt.datetime(2026, 12, 1),  # noqa: DTZ001 - the naive value refused
        NaiveDatetime,
    ),
    "cut-off with an offset": (
        {**SLA, "cutoff": "16:00+08:00"},
        SlaPolicy,
        "cutoff",
        "16:00+08:00",
        None,
    ),
    "cut-off as an hour": (
        {**SLA, "cutoff": 16},
        SlaPolicy,
        "cutoff",
        16,
        None,
    ),
    "unknown calendar": (
        _desk(sla={**SLA, "calendar": "HK"}),
        DeskPolicy,
        "sla.calendar",
        "HK",
        None,
    ),
    "calendar of another shape": (
        {**SLA, "calendar": ["CN"]},
        SlaPolicy,
        "calendar",
        ["CN"],
        None,
    ),
    "holiday that is not a date": (
        {**SLA, "calendar": {**ACME, "holidays": {"2026-10-32": "National Day"}}},
        SlaPolicy,
        "calendar.holidays[2026-10-32]",
        "2026-10-32",
        None,
    ),
    "holidays as a list": (
        {**SLA, "calendar": {**ACME, "holidays": ["2026-10-01"]}},
        SlaPolicy,
        "calendar.holidays",
        ["2026-10-01"],
        None,
    ),
    "holiday outside the years": (
        {**SLA, "calendar": {**ACME, "holidays": {"2027-01-01": "New Year"}}},
        SlaPolicy,
        "calendar.holidays[2027-01-01]",
        dt.date(2027, 1, 1),
        ValidationError,
    ),
    "make-up workday on a weekday": (
        {**SLA, "calendar": {**ACME, "workdays": {"2026-10-09": "National Day"}}},
        SlaPolicy,
        "calendar.workdays[2026-10-09]",
        dt.date(2026, 10, 9),
        ValidationError,
    ),
    "calendar without its years": (
        {**SLA, "calendar": {"name": "ACME"}},
        SlaPolicy,
        "calendar.first_year",
        attrs.NOTHING,
        None,
    ),
    "two promises": (
        {**SLA, "business_hours": 8},
        SlaPolicy,
        "business_days",
        (1, 8),
        ValidationError,
    ),
    "a tier from data": (
        _desk(tier="vip"),
        DeskPolicy,
        "tier",
        "vip",
        None,
    ),
    "seconds as text": (
        {"base": "0.5"},
        RetryPolicy,
        "base",
        "0.5",
        None,
    ),
    "seconds as true": (
        {"cap": True},
        RetryPolicy,
        "cap",
        True,
        None,
    ),
    "working hours as text": (
        {"working_hours": ["9", 18]},
        HealthRules,
        "working_hours[0]",
        "9",
        None,
    ),
}


@pytest.mark.parametrize("converter", CONVERTERS.values(), ids=CONVERTERS)
@pytest.mark.parametrize(
    ("data", "cls", "path", "value", "cause"), BAD.values(), ids=BAD
)
def test_bad_config_names_the_path_and_the_value(
    converter: Converter,
    *,
    data: Any,
    cls: type,
    path: str,
    value: Any,
    cause: type[Exception] | None,
) -> None:
    with pytest.raises(StructureError) as caught:
        converter.structure(data, cls)
    assert (caught.value.field, caught.value.value) == (path, value)
    assert caught.value.type_name == cls.__name__
    if cause is None:
        assert caught.value.__cause__ is None
    else:
        assert isinstance(caught.value.__cause__, cause)


def test_an_unknown_key_is_ignored_as_everywhere_else() -> None:
    # The converter's rule for every class: a newer writer's keys do not
    # stop an older reader.
    policy = make_converter().structure(_desk(pay_windw="PT1H"), DeskPolicy)
    assert policy == DeskPolicy(locations=["SH-1"])


@pytest.mark.parametrize(
    ("data", "path"),
    [
        (_desk(pay_windw="PT1H"), ""),
        (_desk(sla={**SLA, "cut_off": "16:00"}), "sla"),
        (_desk(sla={**SLA, "calendar": {**ACME, "holiday": {}}}), "sla.calendar"),
        (
            _desk(channel_pricing={"taobao": {"total": "reject"}}),
            "channel_pricing.taobao",
        ),
    ],
    ids=["top", "sla", "calendar", "channel pricing"],
)
def test_a_strict_converter_refuses_a_misspelt_key(data: Any, path: str) -> None:
    strict = make_converter().copy(forbid_extra_keys=True)
    with pytest.raises(StructureError) as caught:
        strict.structure(data, DeskPolicy)
    assert caught.value.field == path
    assert "Extra fields" in caught.value.problem
