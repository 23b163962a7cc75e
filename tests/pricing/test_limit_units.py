"""Limits that count units: 限购2件, "at most 2 of SKU-X per buyer per day".

A rule on orders let one order of 100 units through a "2 per buyer" limit
(the bulk-buyer incident): `LimitRule(..., units=True)` counts the units an
order holds instead, each key weighing them (`LimitKey.weight`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import attrs
import pendulum
import pytest
from hypothesis import given
from hypothesis import strategies as st
from tests.services._samples import awaiting_payment, cny

from orderkit.adapters.memory import MemoryLimitStore, MemoryUnitOfWork
from orderkit.dedupe import Fingerprinter, IdempotencyKey
from orderkit.errors import StructureError, ValidationError
from orderkit.integrations import ChannelOrder
from orderkit.orders import (
    Address,
    Buyer,
    Order,
    OrderLine,
    OrderPlaced,
    OrderStatus,
    PaymentCaptured,
)
from orderkit.pricing import (
    Exceeded,
    Granted,
    LimitKey,
    LimitRule,
    LimitScope,
    Overage,
    PurchaseContext,
    limit_keys,
)
from orderkit.pricing._limits import check_keys, counts_units
from orderkit.serialization import make_converter
from orderkit.services import (
    Accepted,
    DeskPolicy,
    Held,
    Ledger,
    OrderDesk,
    PurchaseLimits,
    RefusalReason,
    Refused,
)
from orderkit.testing import FrozenClock


DAY = dt.timedelta(days=1)
T0 = pendulum.datetime(2026, 11, 11, 2, 0)  # 10:00 in Shanghai
CH = "douyin"
X = "SKU-X"
# 限购2件: two units of SKU-X per buyer per calendar day in Shanghai.
TWO_OF_X = LimitRule(
    LimitScope.BUYER, 2, DAY, sku=X, units=True, day_in="Asia/Shanghai"
)
BUYER_X = "buyer:B1|channel:douyin|sku:sku-x|units"


def context(*lines: tuple[str, int], buyer: str = "B1") -> PurchaseContext:
    return PurchaseContext(
        buyer_id=buyer,
        channel=CH,
        skus=[sku for sku, _ in lines],
        quantities=[quantity for _, quantity in lines],
    )


# --------------------------------------------------------------------------
# The rule and the key


class TestRule:
    def test_units_is_false_by_default_and_keyword_only(self) -> None:
        assert LimitRule(LimitScope.BUYER, 2, DAY).units is False
        assert "units" in {f.name for f in attrs.fields(LimitRule) if f.kw_only}

    @pytest.mark.parametrize("value", [1, "yes", None])
    def test_units_must_be_a_bool(self, value: object) -> None:
        with pytest.raises(ValidationError) as error:
            LimitRule(LimitScope.BUYER, 2, DAY, units=value)  # type: ignore[arg-type]
        assert error.value.field == "units"
        assert error.value.value == value

    def test_units_with_distinct_is_refused(self) -> None:
        with pytest.raises(ValidationError) as error:
            LimitRule(LimitScope.IP, 3, DAY, distinct=LimitScope.BUYER, units=True)
        assert error.value.field == "units"

    @pytest.mark.parametrize("weight", [0, -1, True, 2.0, 2**63, "2"])
    def test_a_weight_is_a_positive_int(self, weight: object) -> None:
        with pytest.raises(ValidationError) as error:
            LimitKey("k", 5, DAY, weight=weight)  # type: ignore[arg-type]
        assert error.value.field == "weight"
        assert error.value.value == weight

    def test_a_member_has_no_weight(self) -> None:
        with pytest.raises(ValidationError) as error:
            LimitKey("ip:1|distinct:buyer", 5, DAY, member="buyer:B1", weight=2)
        assert (error.value.field, error.value.value) == ("weight", 2)
        assert LimitKey("k", 5, DAY, member="buyer:B1", weight=1).weight == 1

    def test_a_key_named_twice_with_two_weights_is_refused(self) -> None:
        day, week = LimitKey("k", 5, DAY, weight=2), LimitKey("k", 9, 7 * DAY)
        with pytest.raises(ValidationError) as error:
            check_keys([day, week])
        assert error.value.field == "keys[1]"
        same = LimitKey("k", 9, 7 * DAY, weight=2)
        assert check_keys([day, same]) == (day, same)


class TestKeys:
    def test_a_units_key_weighs_the_units_of_its_sku_folded(self) -> None:
        keys = limit_keys([TWO_OF_X], context((X, 2), ("TEA", 5), ("sku-x", 1)), now=T0)
        assert [(k.key, k.weight) for k in keys] == [(BUYER_X, 3)]
        assert counts_units(keys[0])

    def test_without_sku_every_unit_counts(self) -> None:
        rule = LimitRule(LimitScope.BUYER, 10, DAY, units=True)
        (key,) = limit_keys([rule], context((X, 2), ("TEA", 5)))
        assert (key.key, key.weight) == ("buyer:B1|channel:douyin|units", 7)

    def test_with_a_promotion_every_unit_under_it_counts(self) -> None:
        rule = LimitRule(LimitScope.BUYER, 10, DAY, promotion="双11", units=True)
        under = attrs.evolve(context((X, 2), ("TEA", 5)), promotion="双11")
        (key,) = limit_keys([rule], under)
        assert (key.key, key.weight) == (
            "buyer:B1|channel:douyin|promotion:双11|units",
            7,
        )
        assert limit_keys([rule], context((X, 2))) == ()

    def test_an_order_without_the_sku_or_any_unit_is_not_counted(self) -> None:
        assert limit_keys([TWO_OF_X], context(("TEA", 5)), now=T0) == ()
        every = LimitRule(LimitScope.BUYER, 10, DAY, units=True)
        assert limit_keys([every], PurchaseContext(buyer_id="B1")) == ()

    def test_a_context_without_quantities_holds_one_unit_per_sku(self) -> None:
        listed = PurchaseContext(buyer_id="B1", channel=CH, skus=(X, X, "TEA"))
        (key,) = limit_keys([TWO_OF_X], listed, now=T0)
        assert key.weight == 2

    def test_orders_and_units_rules_count_apart(self) -> None:
        orders = LimitRule(LimitScope.BUYER, 3, DAY, sku=X)
        keys = limit_keys([orders, TWO_OF_X], context((X, 2)), now=T0)
        assert [(k.key, k.weight) for k in keys] == [
            ("buyer:B1|channel:douyin|sku:sku-x", 1),
            (BUYER_X, 2),
        ]
        assert not counts_units(keys[0])

    def test_a_hashed_units_key_keeps_its_mark(self) -> None:
        (key,) = limit_keys([TWO_OF_X], context((X, 1), buyer="买" * 300), now=T0)
        assert key.key.startswith("buyer#sha256:")
        assert key.key.endswith("|units")
        assert len(key.key) <= 255
        assert counts_units(key)

    def test_an_escaped_bar_units_is_no_mark(self) -> None:
        rule = LimitRule(LimitScope.BUYER, 2, DAY, promotion="a|units")
        (key,) = limit_keys([rule], attrs.evolve(context((X, 1)), promotion="a|units"))
        assert key.key.endswith("\\|units")
        assert not counts_units(key)

    def test_of_reads_the_line_quantities(self) -> None:
        order = placed("DY-1", [(X, 2), ("TEA", 4)])
        built = PurchaseContext.of(_order_of(order), ip="203.0.113.7", promotion="双11")
        slow = PurchaseContext.of(_order_of(order, buyer_id="b" * 300))
        assert built.quantities == slow.quantities == (2, 4)
        assert built.skus == (X, "TEA")

    @pytest.mark.parametrize(
        ("quantities", "field"),
        [
            ((1,), "quantities"),
            ((1, 0), "quantities[1]"),
            ((True, 1), "quantities[0]"),
            ("12", "quantities"),
        ],
    )
    def test_quantities_are_checked(self, quantities: object, field: str) -> None:
        with pytest.raises(ValidationError) as error:
            PurchaseContext(skus=(X, "TEA"), quantities=quantities)  # type: ignore[arg-type]
        assert error.value.field == field


class TestConfiguration:
    def test_units_is_written_and_read_back(self) -> None:
        converter = make_converter()
        plain = LimitRule(LimitScope.BUYER, 5, DAY)
        assert b'"units":false' in converter.dumps(plain)
        assert b'"units":true' in converter.dumps(TWO_OF_X)
        for rule in (plain, TWO_OF_X):
            assert converter.loads(converter.dumps(rule), LimitRule) == rule

    def test_a_document_without_units_loads(self) -> None:
        old = b'{"scope":"buyer","limit":5,"window":"P1D","sku":"SKU-X"}'
        rule = make_converter().loads(old, LimitRule)
        assert rule == LimitRule(LimitScope.BUYER, 5, DAY, sku=X)

    def test_units_is_not_coerced(self) -> None:
        data = {"scope": "buyer", "limit": 5, "window": "P1D", "units": 1}
        with pytest.raises(StructureError) as error:
            make_converter().structure(data, LimitRule)
        assert error.value.field == "units"

    def test_a_context_keeps_its_quantities(self) -> None:
        converter = make_converter()
        built = context((X, 2), ("TEA", 5))
        assert converter.loads(converter.dumps(built), PurchaseContext) == built


# --------------------------------------------------------------------------
# Over a store


def limits(*rules: LimitRule) -> tuple[PurchaseLimits, FrozenClock]:
    clock = FrozenClock(T0)
    return PurchaseLimits(rules or (TWO_OF_X,), MemoryLimitStore(), clock), clock


class TestPurchaseLimits:
    def test_two_units_a_day_of_any_order_size(self) -> None:
        service, clock = limits()
        three = service.check(context((X, 3)), use_id="DY-1")
        assert isinstance(three, Exceeded)
        (over,) = three.over
        assert (over.key.key, over.key.weight, over.count) == (BUYER_X, 3, 0)
        assert service.check(context((X, 1)), use_id="DY-2") == Granted()
        assert service.check(context((X, 1)), use_id="DY-3") == Granted()
        third = service.check(context((X, 1)), use_id="DY-4")
        assert isinstance(third, Exceeded)
        assert third.over[0].count == 2
        # Another buyer, and other SKUs, are not counted.
        assert service.check(context((X, 2), buyer="B2")) == Granted()
        assert service.check(context(("TEA", 9))) == Granted()
        # The next day in Shanghai starts at 16:00 UTC.
        clock.set(pendulum.datetime(2026, 11, 11, 16, 0))
        assert service.check(context((X, 2)), use_id="DY-4") == Granted()

    def test_one_unit_fits_where_two_do_not(self) -> None:
        service, _ = limits()
        assert service.check(context((X, 1))) == Granted()
        assert isinstance(service.check(context((X, 2))), Exceeded)
        assert service.check(context((X, 1))) == Granted()

    def test_a_recorded_order_counts_its_units(self) -> None:
        service, _ = limits()
        assert service.record(context((X, 5)), use_id="DY-1") == Granted()
        refused = service.check(context((X, 1)))
        assert isinstance(refused, Exceeded)
        assert refused.over[0].count == 5

    def test_a_refused_units_rule_counts_nothing_for_the_others(self) -> None:
        per_order = LimitRule(LimitScope.BUYER, 1, DAY)
        service, _ = limits(TWO_OF_X, per_order)
        refused = service.check(context((X, 3)))
        assert isinstance(refused, Exceeded)
        assert refused.keys == (BUYER_X,)
        assert service.check(context((X, 2))) == Granted()

    @given(
        quantities=st.lists(st.integers(1, 5), max_size=25),
        limit=st.integers(1, 6),
        hours=st.lists(st.integers(0, 30), max_size=25),
    )
    def test_granted_units_never_exceed_the_limit_in_a_window(
        self, quantities: Sequence[int], limit: int, hours: Sequence[int]
    ) -> None:
        """Random orders, random sizes, a sliding day: never more than `limit`."""
        rule = LimitRule(LimitScope.BUYER, limit, DAY, sku=X, units=True)
        service, clock = limits(rule)
        granted: list[tuple[pendulum.DateTime, int]] = []
        for n, quantity in enumerate(quantities):
            clock.advance(hours=hours[n] if n < len(hours) else 1)
            now = clock.now()
            in_window = sum(q for at, q in granted if now - DAY < at)
            decision = service.check(context((X, quantity), ("TEA", 3)))
            fits = in_window + quantity <= limit
            assert isinstance(decision, Granted) is fits
            if fits:
                granted.append((now, quantity))
            else:
                assert isinstance(decision, Exceeded)
                assert decision.over[0].count == in_window
        for at, _ in granted:
            window = [q for other, q in granted if at - DAY < other <= at]
            assert sum(window) <= limit


# --------------------------------------------------------------------------
# At the desk


SECRET = b"units-limit-secret-0123456789"


def placed(order_id: str, lines: Sequence[tuple[str, int]]) -> OrderPlaced:
    return OrderPlaced(
        order_id=order_id,
        key=IdempotencyKey(CH, "trade.created", order_id, "1"),
        occurred_at=T0.add(minutes=int(order_id.rpartition("-")[2])),
        channel=CH,
        buyer=Buyer("B1", "李雷", phone=None),
        address=Address("CN", "上海市", "上海市", "徐汇区", f"漕溪北路 {order_id} 号"),
        lines=[
            OrderLine(f"L{n}", sku, quantity, cny("10.00"))
            for n, (sku, quantity) in enumerate(lines, 1)
        ],
    )


def _order_of(event: OrderPlaced, *, buyer_id: str = "B1") -> Order:
    return Order(
        order_id=event.order_id,
        channel=event.channel,
        buyer=attrs.evolve(event.buyer, buyer_id=buyer_id),
        address=event.address,
        lines=event.lines,
        placed_at=event.occurred_at,
    )


def notice(order_id: str, quantity: int, *, paid: bool = False) -> ChannelOrder:
    event = placed(order_id, [(X, quantity)])
    if not paid:
        return awaiting_payment(event)
    capture = PaymentCaptured(
        order_id=order_id,
        key=IdempotencyKey(CH, "trade.paid", order_id, "1"),
        occurred_at=event.occurred_at.add(seconds=30),
        payment_id=f"alipay-{order_id}",
        amount=cny(f"{10 * quantity}.00"),
    )
    base = awaiting_payment(event, events=(capture,))
    return attrs.evolve(base, status=OrderStatus.PAID, channel_status="WAIT_SEND")


def desk() -> OrderDesk:
    unit, clock = MemoryUnitOfWork(), FrozenClock(T0.add(hours=1))
    with unit as uow:
        Ledger(uow.ledger, clock).receive(X, "SH-1", 100, key="in-1")
        uow.commit()
    # Each order here is the buyer's next, not a duplicate of the last.
    policy = DeskPolicy(
        locations=["SH-1"], limits=[TWO_OF_X], duplicate_window=dt.timedelta(seconds=1)
    )
    return OrderDesk(unit, clock, policy, Fingerprinter(SECRET))


class TestDesk:
    def test_an_unpaid_order_of_three_units_is_refused(self) -> None:
        refused = desk().accept(notice("DY-1", 3))
        assert isinstance(refused, Refused)
        assert refused.reason is RefusalReason.LIMITS
        assert refused.overages == (Overage(LimitKey(BUYER_X, 2, _day(), weight=3), 0),)

    def test_one_then_one_then_a_third_unit_refused(self) -> None:
        front = desk()
        assert isinstance(front.accept(notice("DY-1", 1)), Accepted)
        assert isinstance(front.accept(notice("DY-2", 1)), Accepted)
        refused = front.accept(notice("DY-3", 1))
        assert isinstance(refused, Refused)
        assert refused.overages[0].count == 2

    def test_a_paid_order_over_it_is_held_saying_units(self) -> None:
        front = desk()
        assert isinstance(front.accept(notice("DY-1", 1)), Accepted)
        held = front.accept(notice("DY-2", 3, paid=True))
        assert isinstance(held, Held)
        assert held.order.review == ("limits",)
        assert f"{BUYER_X}: 1 of 2 units taken, 3 more ordered" in held.detail

    def test_a_released_order_counts_its_units(self) -> None:
        front = desk()
        assert isinstance(front.accept(notice("DY-1", 5, paid=True)), Held)
        front.release(CH, "DY-1", actor="ops.wu")
        refused = front.accept(notice("DY-2", 1))
        assert isinstance(refused, Refused)
        assert refused.overages[0].count == 5


def _day() -> dt.timedelta:
    """The day's window at the desk's clock: since 00:00 in Shanghai."""
    return dt.timedelta(hours=11, microseconds=1)
