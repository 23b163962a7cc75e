"""The simulated traffic: seeded plans, and payloads each adapter reads back."""

from __future__ import annotations

import json
from collections import Counter

import pytest

from orderkit.cli import _catalog as catalog
from orderkit.cli import _payloads as payloads
from orderkit.cli._adapters import parsers
from orderkit.cli._plans import OrderPlan, Rates
from orderkit.cli._traffic import plan_day
from orderkit.integrations import ChannelOrder, ChannelTransaction, load_json
from orderkit.orders import Cancelled, PaymentCaptured
from orderkit.pricing import ViolationCode, validate


PLANS = plan_day(600, 9, Rates())
READERS = parsers()


def read(plan: OrderPlan, text: str, topic: str) -> ChannelOrder:
    records = READERS[plan.channel].parse(load_json(text), topic=topic)
    (found,) = (r for r in records if isinstance(r, ChannelOrder))
    return found


def test_the_same_seed_draws_the_same_day() -> None:
    assert plan_day(600, 9, Rates()) == PLANS
    assert plan_day(600, 10, Rates()) != PLANS


def test_every_kind_and_channel_is_drawn() -> None:
    assert set(Counter(p.kind for p in PLANS)) == {
        "regular",
        "flash",
        "abuser",
        "mirror",
    }
    assert set(Counter(p.channel for p in PLANS)) == set(catalog.CHANNEL_BY_NAME)
    assert [p.placed_at for p in PLANS] == sorted(p.placed_at for p in PLANS)


def test_a_rate_of_zero_turns_its_trouble_off() -> None:
    calm = plan_day(300, 9, Rates(flash=0, abandon=0, duplicate=0, returns=0))
    assert {p.kind for p in calm} <= {"regular", "mirror"}
    assert all(p.paid_at is not None for p in calm)
    assert not any(p.create_twice or p.pay_twice or p.returning for p in calm)


@pytest.mark.parametrize("channel", sorted(catalog.CHANNEL_BY_NAME))
def test_each_adapter_reads_the_order_it_was_sent(channel: str) -> None:
    for plan in [p for p in PLANS if p.channel == channel][:40]:
        order = read(plan, payloads.created(plan), payloads.TOPICS[channel][0])
        assert order.placed.occurred_at == plan.placed_at
        assert [line.sku for line in order.placed.lines] == [
            line.sku for line in plan.lines
        ]
        assert order.quote.stated_total == plan.total
        policy = catalog.desk_policy("CN").pricing_for(channel)
        codes = {v.code for v in validate(order.quote, policy).violations}
        assert codes == (
            {ViolationCode.BELOW_FLOOR} if plan.kind == "abuser" else set()
        )


def test_times_are_written_in_each_platforms_own_way() -> None:
    def first(channel: str) -> dict[str, object]:
        plan = next(p for p in PLANS if p.channel == channel)
        body: dict[str, object] = json.loads(payloads.created(plan))
        return body

    assert str(first("shopify")["created_at"]).endswith("-05:00")
    trade = first("taobao")["trade_fullinfo_get_response"]
    assert isinstance(trade, dict)
    assert "+" not in trade["trade"]["created"]  # naive Beijing time
    assert first("woocommerce")["date_created_gmt"]


@pytest.mark.parametrize("channel", sorted(catalog.CHANNEL_BY_NAME))
def test_payment_and_cancellation_notices_state_them(channel: str) -> None:
    plan = next(p for p in PLANS if p.channel == channel and p.paid_at is not None)
    assert plan.paid_at is not None
    records = READERS[channel].parse(
        load_json(payloads.paid(plan, plan.paid_at)), topic=payloads.TOPICS[channel][1]
    )
    amounts = [r.amount for r in records if isinstance(r, ChannelTransaction)] + [
        e.amount
        for r in records
        if isinstance(r, ChannelOrder)
        for e in r.events
        if isinstance(e, PaymentCaptured)
    ]
    assert amounts == [plan.paid_total]
    later = plan.paid_at.add(minutes=3)
    cancelled = read(
        plan, payloads.cancelled(plan, later), payloads.CANCEL_TOPICS[channel]
    )
    assert any(isinstance(e, Cancelled) for e in cancelled.events)
