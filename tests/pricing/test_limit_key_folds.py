"""One buyer's phone and one IP address written two ways consume one counter."""

from __future__ import annotations

import datetime as dt

import pendulum
import pytest
from hypothesis import given
from hypothesis import strategies as st

from orderkit.adapters.memory import MemoryLimitStore
from orderkit.errors import ValidationError
from orderkit.money import Money
from orderkit.orders import Address, Buyer, Order, OrderLine
from orderkit.pricing import LimitRule, LimitScope, PurchaseContext, limit_keys
from orderkit.services import PurchaseLimits
from orderkit.testing import FrozenClock


DAY = dt.timedelta(days=1)
PHONE_RULE = [LimitRule(LimitScope.PHONE, 1, DAY)]
IP_RULE = [LimitRule(LimitScope.IP, 1, DAY)]
ONE_MOBILE = ("13800138000", "138-0013-8000-1", "138 0013 8000 #2", "13800138000转3")


def limits(rules: list[LimitRule]) -> PurchaseLimits:
    return PurchaseLimits(
        rules, MemoryLimitStore(), FrozenClock(pendulum.datetime(2026, 11, 11))
    )


def key(rules: list[LimitRule], context: PurchaseContext) -> str:
    (found,) = limit_keys(rules, context)
    return found.key


class TestPhoneExtensions:
    def test_made_up_extensions_do_not_dodge_the_phone_limit(self) -> None:
        checker = limits(PHONE_RULE)
        decisions = [
            type(checker.check(PurchaseContext(phone=p, mobile_extensions=False)))
            for p in ONE_MOBILE
        ]
        assert [d.__name__ for d in decisions] == [
            "Granted", "Exceeded", "Exceeded", "Exceeded",
        ]  # fmt: skip

    def test_relay_numbers_keep_their_extensions_by_default(self) -> None:
        found = {key(PHONE_RULE, PurchaseContext(phone=p)) for p in ONE_MOBILE}
        assert len(found) == len(ONE_MOBILE)
        assert PurchaseContext(phone="1").mobile_extensions is True

    def test_a_landline_extension_stays(self) -> None:
        context = PurchaseContext(phone="010-8888 8888 转12", mobile_extensions=False)
        assert key(PHONE_RULE, context) == "phone:+861088888888;ext=12"

    def test_the_context_of_an_order_carries_it(self) -> None:
        order = Order(
            order_id="MP-1",
            channel="mini_program",
            buyer=Buyer("wx_1", "王芳", "13800138000转3"),
            address=Address("CN", street="北京市朝阳区建国路88号"),
            lines=[OrderLine("L1", "MOONCAKE", 1, Money("398.00", "CNY"))],
            placed_at=pendulum.datetime(2026, 11, 11),
        )
        context = PurchaseContext.of(order, mobile_extensions=False)
        assert context.mobile_extensions is False
        assert key(PHONE_RULE, context) == "phone:+8613800138000"

    @pytest.mark.parametrize("value", [0, 1, None, "no"], ids=["0", "1", "none", "str"])
    def test_the_flag_is_a_bool(self, value: object) -> None:
        with pytest.raises(ValidationError, match="mobile_extensions"):
            PurchaseContext(phone="13800138000", mobile_extensions=value)  # type: ignore[arg-type]


class TestIpForms:
    @pytest.mark.parametrize(
        ("written", "expected"),
        [
            ("2001:DB8::1", "ip:2001:db8::1"),
            ("2001:0db8:0:0:0:0:0:1", "ip:2001:db8::1"),
            (" 2001:db8::1 ", "ip:2001:db8::1"),
            ("::ffff:203.0.113.7", "ip:203.0.113.7"),
            ("::FFFF:cb00:7107", "ip:203.0.113.7"),
            ("203.0.113.7", "ip:203.0.113.7"),
            ("edge-7", "ip:edge-7"),
        ],
        ids=["upper", "long", "spaced", "mapped", "mapped-hex", "v4", "not-an-ip"],
    )
    def test_one_address_one_key(self, written: str, expected: str) -> None:
        assert key(IP_RULE, PurchaseContext(ip=written)) == expected
        assert key(IP_RULE, PurchaseContext(ip="2001:DB8::1")) == "ip:2001:db8::1"

    def test_spellings_of_one_address_share_the_limit(self) -> None:
        checker = limits(IP_RULE)
        spellings = ["2001:db8::1", "2001:DB8::1", "2001:0db8:0:0:0:0:0:1"]
        decisions = [type(checker.check(PurchaseContext(ip=ip))) for ip in spellings]
        assert [d.__name__ for d in decisions] == ["Granted", "Exceeded", "Exceeded"]

    @given(st.ip_addresses())
    def test_every_spelling_is_the_compressed_form(self, address: object) -> None:
        text = str(address)
        exploded = getattr(address, "exploded", text)
        assert key(IP_RULE, PurchaseContext(ip=exploded.upper())) == key(
            IP_RULE, PurchaseContext(ip=text)
        )
