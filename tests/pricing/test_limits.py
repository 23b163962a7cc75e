"""Purchase limits: the keys an order consumes, and incident 2's abusive buyers."""

from __future__ import annotations

import datetime as dt
import random
import time
from pathlib import Path

import pendulum
import pytest

from orderkit.adapters.memory import MemoryLimitStore
from orderkit.adapters.sqlite import SqliteLimitStore
from orderkit.dedupe import IdempotencyKey
from orderkit.errors import InvalidAddress, InvalidPhone, ValidationError
from orderkit.money import Money
from orderkit.orders import Address, Applied, Buyer, OrderLine, OrderPlaced, apply
from orderkit.ports import LimitStore
from orderkit.pricing import (
    Exceeded,
    Granted,
    LimitKey,
    LimitRule,
    LimitScope,
    PurchaseContext,
    limit_keys,
)
from orderkit.services import PurchaseLimits
from orderkit.testing import FrozenClock


DAY = dt.timedelta(days=1)
HOUR = dt.timedelta(hours=1)
SALE = pendulum.datetime(2026, 11, 11, 0, 0)
GUOMAO = Address("CN", "北京市", "北京市", "朝阳区", "建国路88号")
S = LimitScope


def keys(*rules: LimitRule, **context: object) -> list[tuple[str, str | None]]:
    found = limit_keys(rules, PurchaseContext(**context))  # type: ignore[arg-type]
    return [(key.key, key.member) for key in found]


class TestKeyPicking:
    """Each rule that applies names one counter; the rest are skipped."""

    def test_one_key_per_scope_with_the_rules_limit_and_window(self) -> None:
        rules = [
            LimitRule(S.BUYER, 5, DAY),
            LimitRule(S.IP, 20, HOUR),
            LimitRule(S.DEVICE, 10, DAY),
        ]
        found = limit_keys(
            rules,
            PurchaseContext(
                buyer_id="dy-8848", channel="douyin", ip="203.0.113.7", device="7F3A"
            ),
        )
        assert found == (
            LimitKey("buyer:dy-8848|channel:douyin", 5, DAY),
            LimitKey("ip:203.0.113.7", 20, HOUR),
            LimitKey("device:7F3A", 10, DAY),
        )

    def test_phones_are_normalised_so_every_spelling_is_one_buyer(self) -> None:
        rule = LimitRule(S.PHONE, 5, DAY)
        spellings = ["13800138000", "+86 138 0013 8000", "0086-138-0013-8000"]
        assert {keys(rule, phone=p)[0][0] for p in spellings} == {
            "phone:+8613800138000"
        }

    def test_masked_and_absent_parts_are_skipped(self) -> None:
        rules = [
            LimitRule(S.PHONE, 5, DAY),
            LimitRule(S.ADDRESS, 5, DAY),
            LimitRule(S.IP, 5, DAY),
            LimitRule(S.BUYER, 5, DAY),
        ]
        masked = Address("CN", "北京市", "北京市", "朝阳区", "建国路**号")
        assert keys(*rules, phone="138****8000", address=masked) == []

    def test_addresses_are_normalised(self) -> None:
        rule = LimitRule(S.ADDRESS, 3, DAY)
        short = Address("CN", "北京", "北京", "朝阳区", "建国路 88 号")
        assert keys(rule, address=GUOMAO) == keys(rule, address=short)
        assert keys(rule, address=GUOMAO)[0][0].startswith("address:CN:")

    def test_distinct_rules_count_members_on_their_own_key(self) -> None:
        accounts = LimitRule(S.IP, 3, DAY, distinct=S.BUYER)
        orders = LimitRule(S.IP, 50, DAY)
        assert keys(accounts, orders, buyer_id="B1", ip="203.0.113.7") == [
            ("ip:203.0.113.7|distinct:buyer", "buyer:B1"),
            ("ip:203.0.113.7", None),
        ]
        assert keys(accounts, ip="203.0.113.7") == []

    def test_sku_and_promotion_rules_apply_only_to_their_orders(self) -> None:
        gift = LimitRule(S.BUYER, 1, DAY, sku="GIFT-SET")
        promo = LimitRule(S.BUYER, 2, DAY, promotion="1111-coupon")
        assert keys(gift, promo, buyer_id="B1", skus=("gift-set ", "LAMP")) == [
            ("buyer:B1|sku:gift-set", None)
        ]
        assert keys(gift, promo, buyer_id="B1", promotion="1111-coupon") == [
            ("buyer:B1|promotion:1111-coupon", None)
        ]

    def test_separators_in_values_cannot_forge_a_part(self) -> None:
        rule = LimitRule(S.BUYER, 5, DAY)
        forged = keys(rule, buyer_id="B1|channel:douyin")
        honest = keys(rule, buyer_id="B1", channel="douyin")
        assert forged != honest
        assert forged == [("buyer:B1\\|channel:douyin", None)]

    def test_long_values_are_hashed_to_fit(self) -> None:
        found = keys(LimitRule(S.DEVICE, 5, DAY), device="d" * 255)
        assert found[0][0].startswith("device#sha256:")
        assert len(found[0][0]) <= 255

    def test_a_context_from_an_order(self) -> None:
        placed = OrderPlaced(
            order_id="DY-1001",
            key=IdempotencyKey("douyin", "order.created", "DY-1001", "1"),
            occurred_at=SALE,
            channel="douyin",
            buyer=Buyer("dy-8848", "王小明", "13800138000"),
            address=GUOMAO,
            lines=(OrderLine("L1", "RETRO-CLOCK", 1, Money("19.90", "CNY")),),
        )
        outcome = apply(None, placed, now=SALE)
        assert isinstance(outcome, Applied)
        context = PurchaseContext.of(outcome.order, ip="203.0.113.7")
        assert context.buyer_id == "dy-8848"
        assert context.skus == ("RETRO-CLOCK",)
        rules = [LimitRule(S.BUYER, 5, DAY), LimitRule(S.PHONE, 5, DAY)]
        assert [k.key for k in limit_keys(rules, context)] == [
            "buyer:dy-8848|channel:douyin",
            "phone:+8613800138000",
        ]

    def test_a_context_reads_a_national_number_in_the_region_given(self) -> None:
        placed = OrderPlaced(
            order_id="1001",
            key=IdempotencyKey("shopify", "orders/create", "1001", "1"),
            occurred_at=SALE,
            channel="shopify",
            buyer=Buyer("gid-7", "Ada Lovelace", "(502) 555-0143"),
            address=Address("US", province="Kentucky", street="Chestnut Street 92"),
            lines=(OrderLine("L1", "RETRO-CLOCK", 1, Money("19.90", "USD")),),
        )
        outcome = apply(None, placed, now=SALE)
        assert isinstance(outcome, Applied)
        context = PurchaseContext.of(outcome.order, region="US")
        assert context.region == "US"
        [key] = limit_keys([LimitRule(S.PHONE, 5, DAY)], context)
        assert key.key == "phone:+15025550143"
        with pytest.raises(ValidationError) as error:
            PurchaseContext.of(outcome.order, region="USA")
        assert error.value.field == "region"

    def test_a_context_from_an_order_with_a_long_buyer_id(self) -> None:
        # Shopify's customer ids are URLs; an order takes any length.
        long_id = "gid://shopify/Customer/" + "7" * 240
        placed = OrderPlaced(
            order_id="SH-1",
            key=IdempotencyKey("shopify", "orders/create", "SH-1", "1"),
            occurred_at=SALE,
            channel="shopify",
            buyer=Buyer(long_id, "Li Lei", "13800138000"),
            address=GUOMAO,
            lines=(OrderLine("L1", "RETRO-CLOCK", 1, Money("19.90", "CNY")),),
        )
        outcome = apply(None, placed, now=SALE)
        assert isinstance(outcome, Applied)

        context = PurchaseContext.of(outcome.order)

        assert context.buyer_id == long_id
        [key] = limit_keys([LimitRule(S.BUYER, 5, DAY)], context)
        assert key.key.startswith("buyer#sha256:")


class TestBadInput:
    """Bad rules and contexts raise typed errors naming the field."""

    @pytest.mark.parametrize(
        ("fields", "field"),
        [
            ({"scope": S.BUYER, "limit": 0, "window": DAY}, "limit"),
            ({"scope": S.BUYER, "limit": 5, "window": dt.timedelta(0)}, "window"),
            ({"scope": S.IP, "limit": 3, "window": DAY, "distinct": S.IP}, "distinct"),
            (
                {"scope": S.IP, "limit": 3, "window": DAY, "distinct": "buyer"},
                "distinct",
            ),
            ({"scope": S.BUYER, "limit": 1, "window": DAY, "sku": ""}, "sku"),
        ],
    )
    def test_a_bad_rule_names_its_field(
        self, fields: dict[str, object], field: str
    ) -> None:
        with pytest.raises(ValidationError) as error:
            LimitRule(**fields)  # type: ignore[arg-type]
        assert error.value.field == field

    def test_an_unknown_scope_is_refused(self) -> None:
        with pytest.raises(ValidationError) as error:
            LimitRule("cookie", 5, DAY)
        assert (error.value.field, error.value.value) == ("scope", "cookie")
        assert "buyer" in error.value.problem

    def test_a_junk_phone_and_a_blank_street_name_their_fields(self) -> None:
        with pytest.raises(InvalidPhone) as phone:
            keys(LimitRule(S.PHONE, 5, DAY), phone="call me maybe")
        assert phone.value.field == "phone"
        with pytest.raises(InvalidAddress) as address:
            keys(LimitRule(S.ADDRESS, 5, DAY), address=Address("CN", street="  "))
        assert address.value.field == "address.street"

    def test_bad_context_parts(self) -> None:
        with pytest.raises(ValidationError) as error:
            PurchaseContext(ip="")
        assert error.value.field == "ip"
        with pytest.raises(ValidationError) as error:
            PurchaseContext(skus="GIFT-SET")
        assert error.value.field == "skus"
        with pytest.raises(ValidationError) as error:
            PurchaseContext(address="北京市朝阳区建国路88号")  # type: ignore[arg-type]
        assert error.value.field == "address"
        with pytest.raises(ValidationError) as error:
            PurchaseContext(phone=13800138000)  # type: ignore[arg-type]
        assert error.value.field == "phone"
        with pytest.raises(ValidationError) as error:
            limit_keys([LimitRule(S.BUYER, 5, DAY), "5/day"], PurchaseContext())  # type: ignore[list-item]
        assert error.value.field == "rules[1]"
        with pytest.raises(ValidationError) as error:
            LimitKey("ip:203.0.113.7|distinct:buyer", 3, DAY, member="b" * 256)
        assert error.value.field == "member"
        with pytest.raises(ValidationError) as error:
            PurchaseContext(phone="13800138000", region="China")
        assert (error.value.field, error.value.value) == ("region", "China")

    def test_prune_keeps_a_use_id_for_its_retention_not_only_the_window(
        self,
    ) -> None:
        store, clock = MemoryLimitStore(), FrozenClock(SALE)
        limits = PurchaseLimits(
            [LimitRule(S.BUYER, 1, dt.timedelta(minutes=10))], store, clock
        )
        buyer = PurchaseContext(buyer_id="B1", channel="shopify")
        assert limits.check(buyer, use_id="shopify:1001") == Granted()
        clock.advance(minutes=15)

        limits.prune()

        # The channel retries the same order: a replay, not a second use.
        assert limits.check(buyer, use_id="shopify:1001") == Granted(replayed=True)
        clock.advance(days=8)
        assert limits.prune() == 1

    def test_the_service_refuses_a_bad_retention(self) -> None:
        with pytest.raises(ValidationError) as error:
            PurchaseLimits(
                [], MemoryLimitStore(), FrozenClock(SALE), retention=dt.timedelta(0)
            )
        assert error.value.field == "retention"

    def test_the_service_refuses_bad_rules_and_use_ids(self) -> None:
        store, clock = MemoryLimitStore(), FrozenClock(SALE)
        with pytest.raises(ValidationError) as error:
            PurchaseLimits(["5/day"], store, clock)  # type: ignore[list-item]
        assert error.value.field == "rules[0]"
        limits = PurchaseLimits([LimitRule(S.BUYER, 1, DAY)], store, clock)
        with pytest.raises(ValidationError) as error:
            limits.check(PurchaseContext(buyer_id="B1"), use_id="")
        assert error.value.field == "use_id"
        assert limits.check(PurchaseContext(buyer_id="B1")) == Granted()


# --------------------------------------------------------------------------
# Incident 2: 12,000 abusive orders in six hours


ABUSIVE_BUYERS = 300
ORDERS_EACH = 40
ORDINARY = 3_385


def flash_sale(store: LimitStore) -> tuple[int, int, int]:
    """Replay the sale; return (abusive granted, exceeded, ordinary granted)."""
    clock = FrozenClock(SALE)
    limits = PurchaseLimits(
        [LimitRule(S.BUYER, 5, DAY), LimitRule(S.PHONE, 5, DAY)], store, clock
    )
    # The bulk buyers write their phones three ways: only normalised do
    # they count as one buyer.
    spellings = ("1390000{:04d}", "+86 139 0000 {:04d}", "0086-139-0000-{:04d}")
    orders = [
        (f"bulk-{b:03d}", spellings[n % 3].format(b))
        for b in range(ABUSIVE_BUYERS)
        for n in range(ORDERS_EACH)
    ]
    orders += [(f"shopper-{i:04d}", f"1370000{i:04d}") for i in range(ORDINARY)]
    random.Random(2).shuffle(orders)  # noqa: S311 - a fixed order, not a secret
    step = dt.timedelta(hours=6) / len(orders)
    granted = exceeded = ordinary = 0
    for i, (buyer, phone) in enumerate(orders):
        clock.set(SALE + i * step)
        decision = limits.check(
            PurchaseContext(buyer_id=buyer, channel="douyin", phone=phone),
            use_id=f"douyin:DY-{i}",
        )
        if isinstance(decision, Exceeded):
            exceeded += 1
        elif buyer.startswith("shopper"):
            ordinary += 1
        else:
            granted += 1
    return granted, exceeded, ordinary


class TestIncident2:
    """300 buyers x 40 orders, limit 5 a day: 10,500 refused, shoppers unharmed."""

    def test_on_the_memory_store(self) -> None:
        started = time.perf_counter()
        assert flash_sale(MemoryLimitStore()) == (1_500, 10_500, 3_385)
        assert time.perf_counter() - started < 3

    def test_on_a_sqlite_file(self, tmp_path: Path) -> None:
        started = time.perf_counter()
        with SqliteLimitStore(tmp_path / "limits.db") as store:
            assert flash_sale(store) == (1_500, 10_500, 3_385)
        assert time.perf_counter() - started < 10
