"""One desk, storefronts in two countries: where each ships from, what each promises.

A US storefront ships from Los Angeles and promises on the US calendar;
the Chinese channels ship from Shenzhen and Shanghai and promise on
China's. `DeskPolicy.channel_locations` and `channel_sla` (and
`StuckRules.channel_sla`) say so per channel; a channel without an entry
keeps the desk's own.
"""

from __future__ import annotations

import datetime as dt
import json

import pendulum
import pytest
from tests.services._samples import awaiting_payment, order

from orderkit.calendar import CN, US_FEDERAL, SlaPolicy
from orderkit.dedupe import Fingerprinter, IdempotencyKey
from orderkit.errors import StructureError, ValidationError
from orderkit.inventory import HoldState
from orderkit.money import Money
from orderkit.orders import Address, Buyer, OrderLine, OrderPlaced, OrderStatus
from orderkit.ports import UnitOfWork
from orderkit.serialization import make_converter
from orderkit.services import (
    Accepted,
    DeskPolicy,
    Ledger,
    OrderDesk,
    Refused,
    StuckReason,
    StuckRules,
    stuck_orders,
)
from orderkit.testing import FrozenClock


T0 = pendulum.datetime(2026, 11, 20, 18, 0)  # Friday 10:00 in Los Angeles
LOCATIONS = ["SZ-1", "SH-1", "LA-1"]
US_SLA = SlaPolicy(US_FEDERAL, "America/Los_Angeles", business_days=1)
CN_SLA = SlaPolicy(CN, "Asia/Shanghai", business_days=1)
POLICY = DeskPolicy(
    locations=LOCATIONS,
    channel_locations={"shopify": ["LA-1"]},
    sla=CN_SLA,
    channel_sla={"shopify": US_SLA},
)


def _fan_order(channel: str, order_id: str, quantity: int) -> OrderPlaced:
    return OrderPlaced(
        order_id=order_id,
        key=IdempotencyKey(channel, "orders/create", order_id, "1"),
        occurred_at=T0,
        channel=channel,
        buyer=Buyer(f"{channel}-buyer-{order_id}"),
        address=Address("US", "CA", "Los Angeles", street="100 Main St"),
        lines=[OrderLine("L1", "DESK-FAN", quantity, Money("39.00", "USD"))],
    )


def _desk(unit: UnitOfWork, clock: FrozenClock, stock: dict[str, int]) -> OrderDesk:
    with unit as uow:
        ledger = Ledger(uow.ledger, clock)
        for location, units in stock.items():
            ledger.receive("DESK-FAN", location, units)
        uow.commit()
    return OrderDesk(unit, clock, POLICY, Fingerprinter.for_tests())


def _reserved(unit: UnitOfWork, order_id: str, channel: str) -> dict[str, int]:
    with unit as uow:
        holds = uow.ledger.holds(owner=f"order:{channel}:{order_id}")
    return {h.location: h.quantity for h in holds if h.state is HoldState.LIVE}


def test_a_channel_ships_from_its_own_locations(unit: UnitOfWork) -> None:
    clock = FrozenClock(T0)
    desk = _desk(unit, clock, {"SZ-1": 10, "SH-1": 10, "LA-1": 10})

    us = desk.accept(awaiting_payment(_fan_order("shopify", "SP-1", 2)))
    cn = desk.accept(awaiting_payment(_fan_order("douyin", "DY-1", 3)))

    assert isinstance(us, Accepted)
    assert isinstance(cn, Accepted)
    assert _reserved(unit, "SP-1", "shopify") == {"LA-1": 2}
    assert _reserved(unit, "DY-1", "douyin") == {"SZ-1": 3}


def test_stock_elsewhere_does_not_ship_a_channels_order(unit: UnitOfWork) -> None:
    clock = FrozenClock(T0)
    desk = _desk(unit, clock, {"SZ-1": 10, "LA-1": 1})

    outcome = desk.accept(awaiting_payment(_fan_order("shopify", "SP-2", 2)))

    assert isinstance(outcome, Refused)
    assert outcome.reason == "out_of_stock"
    assert _reserved(unit, "SP-2", "shopify") == {}


def test_a_channel_without_an_entry_keeps_the_desks_own() -> None:
    assert POLICY.locations_for("douyin") == tuple(LOCATIONS)
    assert POLICY.locations_for("shopify") == ("LA-1",)
    assert POLICY.sla_for("douyin") is CN_SLA
    assert POLICY.sla_for("shopify") is US_SLA
    assert DeskPolicy(locations=["SZ-1"]).sla_for("shopify") is None


# Paid Friday 2 October 2026, 10:00 in Los Angeles: China's National Day week.
PAID = pendulum.datetime(2026, 10, 2, 17, 0)


def test_the_picking_queue_ranks_by_the_channels_promise() -> None:
    us = order("SP-9", OrderStatus.PAID, channel="shopify", paid_at=PAID)
    cn = order("DY-9", OrderStatus.PAID, channel="douyin", paid_at=PAID)
    us_due = US_SLA.ship_by(PAID).due
    cn_due = CN_SLA.ship_by(PAID).due
    assert us_due < cn_due  # the US's next business day; China is on holiday

    assert POLICY.picking_priority(us)[0] == us_due
    assert POLICY.picking_priority(cn)[0] == cn_due


def test_the_monitor_judges_each_channel_by_its_promise() -> None:
    us = order("SP-9", OrderStatus.PAID, channel="shopify", paid_at=PAID)
    cn = order("DY-9", OrderStatus.PAID, channel="douyin", paid_at=PAID)
    rules = StuckRules(limits={}, sla=CN_SLA, channel_sla={"shopify": US_SLA})
    now = pendulum.datetime(2026, 10, 7, 17, 0)  # Wednesday, still a holiday in China

    stuck = stuck_orders([us, cn], now=now, rules=rules)

    assert [(s.order_id, s.reason) for s in stuck] == [
        ("SP-9", StuckReason.PAST_SHIP_BY)
    ]
    assert stuck[0].deadline == US_SLA.ship_by(PAID).due
    assert rules.sla_for("douyin") is CN_SLA


@pytest.mark.parametrize(
    ("channel_locations", "field", "value"),
    [
        ({"shopify": ["LA-9"]}, "channel_locations['shopify'][0]", "LA-9"),
        ({"shopify": []}, "channel_locations['shopify']", ()),
        ({"shopify": {"LA-1"}}, "channel_locations['shopify']", {"LA-1"}),
        (["LA-1"], "channel_locations", ["LA-1"]),
    ],
    ids=["not-a-desk-location", "empty", "a-set", "not-a-mapping"],
)
def test_bad_channel_locations_are_refused_by_name(
    channel_locations: object, field: str, value: object
) -> None:
    with pytest.raises(ValidationError) as refused:
        DeskPolicy(locations=LOCATIONS, channel_locations=channel_locations)  # type: ignore[arg-type]
    assert refused.value.field == field
    assert refused.value.value == value


def test_a_bad_channel_sla_is_refused_by_name() -> None:
    with pytest.raises(ValidationError) as refused:
        StuckRules(channel_sla={"shopify": "US"})  # type: ignore[dict-item]
    assert refused.value.field == "channel_sla['shopify']"
    with pytest.raises(ValidationError) as refused:
        DeskPolicy(locations=LOCATIONS, channel_sla={"shopify": 2})  # type: ignore[dict-item]
    assert refused.value.field == "channel_sla['shopify']"


def test_configuration_reads_and_writes_the_channel_settings() -> None:
    converter = make_converter()
    document = {
        "locations": LOCATIONS,
        "channel_locations": {"shopify": ["LA-1"]},
        "sla": {"calendar": "CN", "zone": "Asia/Shanghai", "business_days": 1},
        "channel_sla": {
            # The calendar's own name, as errors and reports show it.
            "shopify": {
                "calendar": "US",
                "zone": "America/Los_Angeles",
                "business_days": 1,
            }
        },
    }

    policy = converter.structure(document, DeskPolicy)

    assert policy == POLICY
    assert converter.structure(converter.unstructure(policy), DeskPolicy) == policy
    stuck = converter.structure({"channel_sla": document["channel_sla"]}, StuckRules)
    assert stuck.sla_for("shopify") == US_SLA


def test_configuration_names_a_location_no_desk_has() -> None:
    document = {"locations": ["SZ-1"], "channel_locations": {"shopify": ["LA-1"]}}
    with pytest.raises(StructureError) as refused:
        make_converter().structure(document, DeskPolicy)
    assert "channel_locations['shopify'][0]" in str(refused.value)
    assert "'LA-1'" in str(refused.value)


def test_a_us_order_is_due_before_chinas_holiday_ends() -> None:
    # The reason a desk needs both: one promise for both would be 3 days off.
    assert CN_SLA.ship_by(PAID).due - US_SLA.ship_by(PAID).due > dt.timedelta(days=3)


def _told(unit: UnitOfWork, sku: str) -> list[dict[str, object]]:
    with unit as uow:
        sent = [m for m in uow.outbox.unsent(limit=10_000) if m.topic == "sellable"]
    return [json.loads(m.payload) for m in sent if m.stream == f"sku:{sku}"]


def test_a_channel_is_told_what_its_own_locations_can_sell(
    unit: UnitOfWork,
) -> None:
    # Units in quarantine (returns awaiting inspection) are no channel's to sell.
    clock = FrozenClock(T0)
    with unit as uow:
        ledger = Ledger(uow.ledger, clock)
        ledger.receive("DESK-FAN", "QUARANTINE", 5)
        ledger.receive("DESK-FAN", "LA-1", 4)
        ledger.receive("DESK-FAN", "SZ-1", 2)
        uow.commit()
    desk = OrderDesk(unit, clock, POLICY, Fingerprinter.for_tests())

    outcome = desk.accept(awaiting_payment(_fan_order("shopify", "SP-3", 3)))

    assert isinstance(outcome, Accepted)
    (body,) = _told(unit, "DESK-FAN")
    figures = body["locations"]
    assert figures == {"LA-1": 1, "QUARANTINE": 5, "SZ-1": 2}
    assert body["sellable"] == 8
    assert isinstance(figures, dict)

    def told(channel: str) -> int:
        return sum(figures.get(at, 0) for at in POLICY.locations_for(channel))

    assert (told("shopify"), told("douyin")) == (1, 3)
