"""The kit's strategies for what arrives from outside: orders, deliveries, steps."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import attrs
import pendulum
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from orderkit.adapters.memory import MemoryUnitOfWork
from orderkit.dedupe import Fingerprinter
from orderkit.errors import NaiveDatetime, ValidationError
from orderkit.integrations import ChannelOrder
from orderkit.money import Money
from orderkit.orders import Duplicate, OrderStatus, PaymentCaptured, apply_all
from orderkit.pricing import PricingPolicy, validate
from orderkit.services import Accepted, DeskPolicy, Ledger, OrderDesk
from orderkit.testing import FrozenClock, LedgerAction, LedgerOperation, channel_order
from orderkit.testing import strategies as ost


NOW = pendulum.datetime(2031, 1, 1, tz="UTC")


class TestChannelOrders:
    """Orders as an adapter reads them: they apply, price and go through a desk."""

    @settings(max_examples=30)
    @given(ost.channel_orders())
    def test_every_order_is_one_orderkit_takes(self, order: ChannelOrder) -> None:
        ost.check_channel_order(order)
        # The stated total is what the lines cost: the strict policy agrees.
        assert validate(order.quote, PricingPolicy()).ok

    def test_one_id_on_two_channels_is_two_orders_not_duplicates(
        self,
        orderkit_desk: OrderDesk,
        orderkit_stock: Callable[[str, int], object],
    ) -> None:
        orderkit_stock("TEA", 10)
        for channel in ("douyin", "taobao"):
            sample = channel_order([("TEA", 1, "10.00")], channel=channel)
            outcome = orderkit_desk.accept(sample)
            assert isinstance(outcome, Accepted), outcome

    def test_an_order_whose_quote_does_not_validate_fails_the_check(self) -> None:
        record = channel_order([("JADE-TEAPOT", 1, "88.00")])
        # The channel states its total in another currency: held under any policy.
        quote = attrs.evolve(record.quote, stated_total=Money("88.00", "USD"))
        with pytest.raises(AssertionError, match="does not validate"):
            ost.check_channel_order(attrs.evolve(record, quote=quote))

    @settings(max_examples=10)
    @given(
        ost.channel_orders(
            channel="shopify",
            currency="USD",
            skus=["MUG"],
            unit_prices=st.just(Money("9.99", "USD")),
            paid=True,
        )
    )
    def test_the_options_shape_the_orders(self, order: ChannelOrder) -> None:
        assert "shopify" == order.placed.channel
        assert [("MUG", Money("9.99", "USD"))] == [
            (line.sku, line.unit_price) for line in order.placed.lines
        ]
        assert OrderStatus.PAID is order.status
        (paid,) = order.events
        assert isinstance(paid, PaymentCaptured)
        assert order.quote.stated_total == paid.amount

    @settings(max_examples=10)
    @given(ost.channel_orders(paid=False))
    def test_unpaid_orders_have_no_payment(self, order: ChannelOrder) -> None:
        assert OrderStatus.PENDING_PAYMENT is order.status
        assert () == order.events

    @settings(max_examples=15)
    @given(ost.channel_orders(skus=["RETRO-CLOCK", "JADE-TEAPOT"]))
    def test_a_desk_with_stock_accepts_them(self, order: ChannelOrder) -> None:
        clock = FrozenClock(order.placed.occurred_at)
        unit = MemoryUnitOfWork()
        with unit as uow:
            ledger = Ledger(uow.ledger, clock)
            for sku in ("RETRO-CLOCK", "JADE-TEAPOT"):
                ledger.receive(sku, "WH-1", 10)
            uow.commit()
        desk = OrderDesk(
            unit, clock, DeskPolicy(locations=["WH-1"]), Fingerprinter.for_tests()
        )
        assert isinstance(desk.accept(order), Accepted)

    def test_for_type_knows_them(self) -> None:
        @settings(max_examples=5)
        @given(ost.for_type(ChannelOrder))
        def drawn(order: ChannelOrder) -> None:
            assert isinstance(order, ChannelOrder)

        drawn()


class TestChannelOrder:
    """One order in a line, for a test that needs that very order."""

    def test_lines_prices_and_payment(self) -> None:
        order = channel_order(
            [("JADE-TEAPOT", 2, "88.00"), ("MUG", 1, Money("9.50", "CNY"))],
            order_id="DY-7",
            paid=True,
        )
        ost.check_channel_order(order)
        assert [("L1", "JADE-TEAPOT", 2), ("L2", "MUG", 1)] == [
            (line.line_id, line.sku, line.quantity) for line in order.placed.lines
        ]
        (paid,) = order.events
        assert isinstance(paid, PaymentCaptured)
        assert Money("185.50", "CNY") == paid.amount == order.quote.stated_total

    def test_two_samples_are_not_duplicates_of_each_other(self) -> None:
        clock = FrozenClock()
        unit = MemoryUnitOfWork()
        with unit as uow:
            Ledger(uow.ledger, clock).receive("MUG", "WH-1", 5)
            uow.commit()
        desk = OrderDesk(
            unit, clock, DeskPolicy(locations=["WH-1"]), Fingerprinter.for_tests()
        )
        for order_id in ("DY-1", "DY-2"):
            placed = desk.accept(channel_order([("MUG", 1, "9.50")], order_id=order_id))
            assert isinstance(placed, Accepted)

    @pytest.mark.parametrize(
        ("lines", "field"),
        [([], "lines"), ([("MUG", "1", "9.50")], "lines[0]")],
    )
    def test_lines_it_cannot_read_are_refused(
        self, lines: list[Any], field: str
    ) -> None:
        with pytest.raises(ValidationError) as caught:
            channel_order(lines)
        assert field == caught.value.field


class TestEventStreams:
    """Deliveries with repeats and in any order end in the order of the stream."""

    @settings(max_examples=40)
    @given(ost.event_streams())
    def test_delivered_converges_on_the_stream(self, stream: ost.EventStream) -> None:
        in_order = apply_all(None, stream.events, now=NOW)
        delivered = apply_all(None, stream.delivered, now=NOW)
        assert in_order.order == delivered.order
        duplicates = [o for o in delivered.outcomes if isinstance(o, Duplicate)]
        assert stream.repeats == len(duplicates)

    @settings(max_examples=20)
    @given(ost.event_streams(reorder=False), ost.event_streams(duplicates=False))
    def test_each_kind_of_disorder_can_be_turned_off(
        self, retried: ost.EventStream, shuffled: ost.EventStream
    ) -> None:
        # Retried in place: the first deliveries keep the stream's order.
        assert list(retried.events) == list(dict.fromkeys(retried.delivered))
        # Shuffled only: each event comes once.
        assert 0 == shuffled.repeats
        assert sorted(map(str, (e.key for e in shuffled.events))) == sorted(
            map(str, (e.key for e in shuffled.delivered))
        )

    def test_some_deliveries_repeat_and_some_come_out_of_order(self) -> None:
        seen = {"repeat": False, "reordered": False}

        @settings(max_examples=40, database=None)
        @given(ost.event_streams(order_id="DY-7"))
        def look(stream: ost.EventStream) -> None:
            assert {"DY-7"} == {e.order_id for e in stream.delivered}
            seen["repeat"] |= stream.repeats > 0
            firsts = list(dict.fromkeys(stream.delivered))
            seen["reordered"] |= firsts != list(stream.events)

        look()
        assert {"repeat": True, "reordered": True} == seen

    @settings(max_examples=100, database=None)
    @given(ost.event_streams())
    def test_every_stream_repeats_and_reorders_what_it_can(
        self, stream: ost.EventStream
    ) -> None:
        assert stream.repeats >= 1
        if len(stream.events) > 1:
            assert list(stream.events) != list(dict.fromkeys(stream.delivered))

    @settings(max_examples=50, database=None)
    @given(ost.event_streams(reorder=False), ost.event_streams(duplicates=False))
    def test_each_kind_of_disorder_alone_is_there_every_time(
        self, retried: ost.EventStream, shuffled: ost.EventStream
    ) -> None:
        assert retried.repeats >= 1
        if len(shuffled.events) > 1:
            assert list(shuffled.events) != list(shuffled.delivered)


class TestLifecycles:
    """Streams reach every stage, and mostly the later ones."""

    def test_a_lone_placement_is_rare(self) -> None:
        lengths: list[int] = []

        # One fixed draw: the share of lone placements in a run of 200 swings
        # from 0.5% to 23% between runs (12 runs: mean 12%, one in eight as
        # promised), so a random run crossed the quarter now and then.
        @settings(max_examples=200, database=None, derandomize=True)
        @given(ost.lifecycles())
        def look(stream: list[object]) -> None:
            lengths.append(len(stream))

        look()
        # One stage in eight is placement alone: a quarter leaves room.
        assert lengths.count(1) < len(lengths) / 4, sorted(lengths)
        assert max(lengths) >= 5


class TestInstants:
    """UTC instants within the bounds, whatever zone the bounds are in."""

    LOW = pendulum.datetime(2026, 11, 11, tz="Asia/Shanghai")
    HIGH = pendulum.datetime(2026, 11, 12, tz="America/New_York")

    @settings(max_examples=100, database=None)
    @given(ost.instants(min_value=LOW, max_value=HIGH))
    def test_bounds_in_other_zones_give_utc_instants_between_them(
        self, instant: pendulum.DateTime
    ) -> None:
        assert isinstance(instant, pendulum.DateTime)
        assert instant.tzinfo is pendulum.UTC
        assert self.LOW <= instant <= self.HIGH

    @pytest.mark.parametrize("field", ["min_value", "max_value"], ids=str)
    def test_a_naive_bound_is_refused(self, field: str) -> None:
        naive = dt.datetime(2026, 11, 11)  # noqa: DTZ001 - the mistake under test
        with pytest.raises(NaiveDatetime) as caught:
            ost.instants(**{field: naive})
        assert (field, naive) == (caught.value.field, caught.value.value)

    def test_bounds_the_wrong_way_round_are_refused(self) -> None:
        with pytest.raises(ValidationError) as caught:
            ost.instants(self.HIGH, self.LOW)
        assert "max_value" == caught.value.field


class TestLedgerOperations:
    """Drawn steps start with goods in and make sense to the law runner."""

    @settings(max_examples=20)
    @given(ost.ledger_operations(max_size=12))
    def test_steps_start_with_goods_in(self, steps: list[LedgerOperation]) -> None:
        assert LedgerAction.RECEIVE is steps[0].action
        assert 1 <= len(steps) <= 12
        assert all(isinstance(step, LedgerOperation) for step in steps)
