"""Every policy a host configures reads back equal from what the converter writes.

A desk's policies live in configuration (TOML, JSON, a settings module) and
are built with `make_converter()`: `DeskPolicy`, `StuckRules`, `SlaPolicy`,
the business calendar inside it, the pricing and limit rules, the health and
retry rules, and the stock policies of SKUs. For each, any valid policy
written and read again (as data and as JSON, on the fast and the detailed
converter) is the policy it was.
"""

import datetime as dt
import math
from decimal import Decimal
from typing import Any

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from orderkit.calendar import CN, US_FEDERAL, SlaPolicy, TableCalendar
from orderkit.errors import ValidationError
from orderkit.inventory import Backorder, NoOversell, Preorder, RoutingStrategy
from orderkit.money import Money
from orderkit.orders import OrderStatus
from orderkit.pricing import (
    ApprovalTiers,
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
    HealthWeights,
    PickingKey,
    RetryPolicy,
    StuckRules,
)
from orderkit.testing import strategies as ost


CONVERTERS = {
    "fast": make_converter(),
    "detailed": make_converter(detailed=True),
}

# Text a policy accepts where it names something: a location, a SKU, a
# channel, a calendar.
NAMES = st.text(
    st.characters(categories=["L", "N", "P", "S"]), min_size=1, max_size=12
) | st.sampled_from(["SH-1", "Taobao Global", "仓库 1"])
DURATIONS = st.timedeltas(
    min_value=dt.timedelta(microseconds=1), max_value=dt.timedelta(days=3650)
)
ZONES = st.sampled_from(["Asia/Shanghai", "America/New_York", "Europe/London", "UTC"])


def _subsets(items: list[Any]) -> st.SearchStrategy[frozenset[Any]]:
    return st.frozensets(st.sampled_from(items), max_size=len(items))


@st.composite
def table_calendars(draw: st.DrawFn) -> TableCalendar:
    first = draw(st.integers(2000, 2040))
    last = first + draw(st.integers(0, 2))
    weekend = draw(st.frozensets(st.integers(0, 6), max_size=6))
    days = st.dates(dt.date(first, 1, 1), dt.date(last, 12, 31))
    holidays = draw(st.dictionaries(days, NAMES, max_size=6))
    # Make-up working days fall on the weekend, and never on a holiday.
    weekend_days = [
        day
        for day in (dt.date(first, 1, 1) + dt.timedelta(n) for n in range(1100))
        if day.year <= last and day.weekday() in weekend and day not in holidays
    ]
    workdays = draw(
        st.dictionaries(st.sampled_from(weekend_days), NAMES, max_size=3)
        if weekend_days
        else st.just({})
    )
    return TableCalendar(
        draw(NAMES),
        first_year=first,
        last_year=last,
        weekend=weekend,
        holidays=holidays,
        workdays=workdays,
    )


CALENDARS = st.sampled_from([CN, US_FEDERAL]) | table_calendars()


@st.composite
def sla_policies(draw: st.DrawFn) -> SlaPolicy:
    promise: dict[str, int] = draw(
        st.fixed_dictionaries({"business_days": st.integers(0, 366)})
        | st.fixed_dictionaries({"business_hours": st.integers(1, 8784)})
    )
    return SlaPolicy(
        draw(CALENDARS),
        draw(ZONES),
        cutoff=draw(st.none() | st.times()),
        **promise,
    )


PERCENTS = st.decimals(0, 100, places=2)


@st.composite
def stacking_policies(draw: st.DrawFn) -> StackingPolicy:
    kinds = list(OfferKind)
    pairs = st.tuples(st.sampled_from(kinds), st.sampled_from(kinds))
    return StackingPolicy(
        order=draw(st.permutations(kinds)),
        exclusive=draw(_subsets(kinds)),
        # A kind paired with itself is a set of one: the case to write right.
        combinable=draw(st.none() | st.lists(pairs, max_size=5)),
        max_stacked=draw(st.none() | st.integers(1, 9)),
        line_cap=draw(st.none() | PERCENTS),
        order_cap=draw(st.none() | PERCENTS),
        max_per_issuer=draw(st.none() | st.integers(1, 9)),
    )


@st.composite
def pricing_policies(draw: st.DrawFn) -> PricingPolicy:
    skus = draw(st.lists(NAMES, unique=True, max_size=3))
    currency = draw(ost.currencies())
    floors = [PriceFloor(sku, draw(ost.money(currency, min_minor=0))) for sku in skus]
    return PricingPolicy(
        stacking=draw(stacking_policies()),
        floors=floors,
        totals=draw(st.sampled_from(TotalsPolicy)),
        max_line_quantity=draw(st.none() | st.integers(1, 999)),
        max_order_quantity=draw(st.none() | st.integers(1, 999)),
    )


@st.composite
def limit_rules(draw: st.DrawFn) -> LimitRule:
    scope = draw(st.sampled_from(LimitScope))
    others = [s for s in LimitScope if s is not scope]
    # A calendar day is one day long.
    day_in = draw(st.none() | st.sampled_from(["Asia/Shanghai", "America/New_York"]))
    return LimitRule(
        scope,
        draw(st.integers(1, 2**63 - 1)),
        dt.timedelta(days=1) if day_in else draw(DURATIONS),
        distinct=draw(st.none() | st.sampled_from(others)),
        sku=draw(st.none() | NAMES),
        promotion=draw(st.none() | NAMES),
        day_in=day_in,
    )


@st.composite
def desk_policies(draw: st.DrawFn) -> DeskPolicy:
    return DeskPolicy(
        locations=draw(st.lists(NAMES, min_size=1, max_size=3)),
        routing=draw(
            st.sampled_from(
                [RoutingStrategy.LOCATION_ORDER, RoutingStrategy.MOST_STOCK]
            )
        ),
        pricing=draw(pricing_policies()),
        channel_pricing=draw(st.dictionaries(NAMES, pricing_policies(), max_size=2)),
        limits=draw(st.lists(limit_rules(), max_size=3)),
        duplicate_window=draw(DURATIONS),
        pay_window=draw(DURATIONS),
        sla=draw(st.none() | sla_policies()),
        picking_order=draw(
            st.permutations(list(PickingKey)).flatmap(
                lambda keys: st.integers(0, len(keys)).map(lambda n: keys[:n])
            )
        ),
    )


@st.composite
def stuck_rules(draw: st.DrawFn) -> StuckRules:
    waiting = [s for s in OrderStatus if not s.is_terminal]
    return StuckRules(
        limits=draw(st.dictionaries(st.sampled_from(waiting), DURATIONS, max_size=4)),
        sla=draw(st.none() | sla_policies()),
        saga_limit=draw(st.none() | DURATIONS),
        review_limit=draw(st.none() | DURATIONS),
    )


@st.composite
def health_rules(draw: st.DrawFn) -> HealthRules:
    start = draw(st.integers(0, 23))
    return HealthRules(
        max_sync_lag=draw(DURATIONS),
        working_hours=(start, draw(st.integers(start + 1, 24))),
        workdays=draw(_subsets(list(range(7)))),
        max_changes_per_actor=draw(st.integers(1, 10_000)),
        burst_window=draw(DURATIONS),
    )


@st.composite
def health_weights(draw: st.DrawFn) -> HealthWeights:
    # Hundredths that sum to exactly one.
    cuts = sorted(draw(st.lists(st.integers(0, 100), min_size=4, max_size=4)))
    parts = [b - a for a, b in zip([0, *cuts], [*cuts, 100], strict=True)]
    names = [f.name for f in attrs.fields(HealthWeights)]
    return HealthWeights(
        **{n: Decimal(p).scaleb(-2) for n, p in zip(names, parts, strict=True)}
    )


@st.composite
def retry_policies(draw: st.DrawFn) -> RetryPolicy:
    base = draw(st.floats(1e-6, 1e6) | st.integers(1, 10**6))
    cap = draw(
        st.just(base) | st.floats(base, 1e7) | st.integers(math.ceil(base), 10**7)
    )
    return RetryPolicy(retries=draw(st.integers(0, 20)), base=base, cap=cap)


@st.composite
def approval_tiers(draw: st.DrawFn) -> ApprovalTiers:
    currency = draw(st.sampled_from(["CNY", "USD", "JPY"]))
    bounds = draw(st.lists(st.integers(0, 10**6), unique=True, max_size=3))
    roles = draw(st.lists(NAMES, unique=True, min_size=len(bounds) + 1))
    rows = [
        (Money(b, currency), role)
        for b, role in zip(sorted(bounds), roles, strict=False)
    ]
    return ApprovalTiers.of(*rows, (None, roles[len(bounds)]))


STOCK_POLICIES = (
    st.just(NoOversell())
    | st.builds(Backorder, st.integers(1, 10**6))
    | st.builds(Preorder, st.integers(1, 10**6), ost.instants())
)

POLICIES = {
    "DeskPolicy": desk_policies(),
    "StuckRules": stuck_rules(),
    "SlaPolicy": sla_policies(),
    "TableCalendar": table_calendars(),
    "PricingPolicy": pricing_policies(),
    "StackingPolicy": stacking_policies(),
    "LimitRule": limit_rules(),
    "ApprovalTiers": approval_tiers(),
    "HealthRules": health_rules(),
    "HealthWeights": health_weights(),
    "RetryPolicy": retry_policies(),
    "stock policy": STOCK_POLICIES,
}


@pytest.mark.parametrize("converter", CONVERTERS.values(), ids=CONVERTERS)
@pytest.mark.parametrize("strategy", POLICIES.values(), ids=POLICIES)
@given(data=st.data())
def test_a_policy_reads_back_equal(
    converter: Converter, strategy: st.SearchStrategy[Any], data: st.DataObject
) -> None:
    policy = data.draw(strategy)
    cls = type(policy)
    assert converter.structure(converter.unstructure(policy), cls) == policy
    assert converter.loads(converter.dumps(policy), cls) == policy


@given(desk_policies())
def test_a_desk_policy_is_written_without_its_default_tier(policy: DeskPolicy) -> None:
    data = make_converter().unstructure(policy)
    assert "tier" not in data
    assert set(data) == {f.name for f in attrs.fields(DeskPolicy)} - {"tier"}


def _vip_first(_order: object) -> int:
    return 1


@pytest.mark.parametrize("converter", CONVERTERS.values(), ids=CONVERTERS)
def test_a_desk_policy_with_its_own_tier_is_refused_not_written_without_it(
    converter: Converter,
) -> None:
    policy = DeskPolicy(locations=["SH-1"], tier=_vip_first)
    with pytest.raises(ValidationError) as caught:
        converter.unstructure(policy)
    assert (caught.value.field, caught.value.value) == ("tier", _vip_first)
    with pytest.raises(ValidationError) as caught:
        converter.dumps(policy)
    assert caught.value.field == "tier"


def test_a_tier_set_in_code_after_reading_stays() -> None:
    converter = make_converter()
    policy = converter.structure({"locations": ["SH-1"]}, DeskPolicy)
    assert attrs.evolve(policy, tier=_vip_first).tier is _vip_first


def test_a_bundled_calendar_is_written_by_name() -> None:
    converter = make_converter()
    policy = SlaPolicy(US_FEDERAL, "America/New_York", business_days=2)
    assert converter.unstructure(policy)["calendar"] == "US_FEDERAL"
    assert converter.structure(converter.unstructure(policy), SlaPolicy).calendar is (
        US_FEDERAL
    )


def test_a_bundled_calendar_with_a_year_added_is_written_as_that_year() -> None:
    converter = make_converter()
    cn = CN.extended(
        last_year=2027,
        holidays={dt.date(2027, 1, 1): "New Year's Day"},
        workdays={dt.date(2027, 2, 6): "Spring Festival"},
    )
    policy = SlaPolicy(cn, "Asia/Shanghai", business_days=1)

    written = converter.unstructure(policy)["calendar"]

    assert written == {
        "extends": "CN",
        "last_year": 2027,
        "holidays": {"2027-01-01": "New Year's Day"},
        "workdays": {"2027-02-06": "Spring Festival"},
    }
    assert converter.structure(converter.unstructure(policy), SlaPolicy) == policy
    assert converter.loads(converter.dumps(policy), SlaPolicy) == policy


def test_a_table_that_only_looks_extended_is_written_whole() -> None:
    # A date added to a year CN covers: no extension of CN, so written whole.
    cn = TableCalendar(
        "CN",
        first_year=2024,
        last_year=2027,
        holidays={**dict(CN.holidays), dt.date(2026, 12, 31): "Eve"},
        workdays=dict(CN.workdays),
    )
    converter = make_converter()
    policy = SlaPolicy(cn, "Asia/Shanghai", business_days=1)

    assert "extends" not in converter.unstructure(policy)["calendar"]
    assert converter.structure(converter.unstructure(policy), SlaPolicy) == policy


@pytest.mark.parametrize(
    ("calendar", "field"),
    [
        ({"extends": "JP", "last_year": 2027}, "calendar.extends"),
        ({"extends": "CN"}, "calendar.last_year"),
        ({"extends": "CN", "last_year": 2027, "name": "X"}, "calendar.name"),
        (
            {"extends": "CN", "last_year": 2027, "holidays": {"2026-12-31": "Eve"}},
            "calendar.holidays[2026-12-31]",
        ),
        (
            {"extends": "CN", "last_year": 2027, "holidays": {"2027-13-01": "x"}},
            "calendar.holidays[2027-13-01]",
        ),
        ({"extends": "CN", "last_year": "2027"}, "calendar.last_year"),
    ],
)
def test_an_extension_it_cannot_read_is_refused_by_path(
    calendar: dict[str, Any], field: str
) -> None:
    data = {"calendar": calendar, "zone": "Asia/Shanghai", "business_days": 1}

    with pytest.raises(ValidationError) as caught:
        make_converter().structure(data, SlaPolicy)

    assert field == caught.value.field


def test_a_table_calendar_is_written_as_its_table() -> None:
    calendar = TableCalendar(
        "ACME",
        first_year=2026,
        last_year=2026,
        holidays={dt.date(2026, 10, 2): "National Day", dt.date(2026, 10, 1): "Day"},
        workdays={dt.date(2026, 10, 10): "National Day"},
    )
    assert make_converter().unstructure(calendar) == {
        "name": "ACME",
        "first_year": 2026,
        "last_year": 2026,
        "weekend": [5, 6],
        "holidays": {"2026-10-01": "Day", "2026-10-02": "National Day"},
        "workdays": {"2026-10-10": "National Day"},
    }


def test_a_kind_that_stacks_with_itself_is_written_as_a_pair() -> None:
    policy = StackingPolicy(combinable=[("percent", "percent"), ("amount", "percent")])
    assert make_converter().unstructure(policy)["combinable"] == [
        ["amount", "percent"],
        ["percent", "percent"],
    ]


def test_a_cutoff_is_written_to_the_minute_when_it_is_one() -> None:
    converter = make_converter()
    at = {
        dt.time(16): "16:00",
        dt.time(9, 5, 30): "09:05:30",
        dt.time(9, 5, 0, 500): "09:05:00.000500",
    }
    for cutoff, text in at.items():
        policy = SlaPolicy(CN, "Asia/Shanghai", cutoff=cutoff, business_days=1)
        assert converter.unstructure(policy)["cutoff"] == text


@attrs.frozen
class _ShopCalendar:
    """A host's own calendar: a `BusinessCalendar`, but not a table."""

    name: str = "shop"

    def is_business_day(self, day: dt.date) -> bool:
        return day.weekday() != 6


def test_a_calendar_of_the_hosts_own_class_is_refused_not_written() -> None:
    policy = StuckRules(sla=SlaPolicy(_ShopCalendar(), "UTC", business_days=1))
    with pytest.raises(ValidationError) as caught:
        make_converter().dumps(policy)
    assert (caught.value.field, caught.value.value) == ("calendar", _ShopCalendar())
