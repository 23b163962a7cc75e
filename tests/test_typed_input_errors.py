"""Typed errors and consistent settings for wrong or odd input to dedupe and orders.

Public dedupe functions given the wrong type raised `AttributeError` or
`TypeError`; `Address("ZZ")` was accepted; `channel_regions` was matched
case-sensitively while `relay_channels` was not; and a login ending in an
ideographic space was refused as holding "control characters".
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pendulum
import pytest

from orderkit.adapters.memory import MemoryDetectorStore
from orderkit.adapters.sqlite import SqliteUnitOfWork
from orderkit.dedupe import (
    Fingerprint,
    Fingerprinter,
    FingerprintKind,
    normalize_address,
    normalize_phone,
    sku_multiset,
)
from orderkit.errors import ConfigurationError, InvalidAddress, ValidationError
from orderkit.money import Money
from orderkit.orders import Address, Buyer, Order, OrderLine
from orderkit.pricing import ApprovalTiers, approve, request_change
from orderkit.services import DuplicateDetector
from orderkit.testing import FrozenClock


PLACED_AT = pendulum.datetime(2026, 11, 11, 2, 30)
US_PHONE = "(502) 555-0143"


def cny(amount: str) -> Money:
    return Money(amount, "CNY")


def order(channel: str, phone: str = US_PHONE, order_id: str = "SO-1") -> Order:
    return Order(
        order_id=order_id,
        channel=channel,
        buyer=Buyer("b-1", "Ann", phone),
        address=Address("US", street="1 Main St", city="Louisville"),
        lines=[OrderLine("L1", "SECKILL-1", 1, Money("10.00", "USD"))],
        placed_at=PLACED_AT,
    )


class _Line:
    """Something shaped like an order line, with a quantity that is not one."""

    sku = "TEA"
    quantity = "2"


class TestDedupeRefusesWrongTypesTyped:
    """Every public dedupe entry names the field and the value it refuses."""

    @pytest.mark.parametrize("region", [["CN"], None, 86])
    def test_normalize_phone_with_a_region_that_is_no_text(
        self, region: object
    ) -> None:
        with pytest.raises(ConfigurationError) as caught:
            normalize_phone("13800138000", region)  # type: ignore[call-overload]
        assert caught.value.setting == "region"

    @pytest.mark.parametrize(
        "value",
        ["北京市朝阳区建国路88号", None, {"country": "CN", "street": "x"}],
        ids=["str", "none", "dict"],
    )
    def test_normalize_address_of_a_non_address(self, value: object) -> None:
        with pytest.raises(InvalidAddress) as caught:
            normalize_address(value)  # type: ignore[arg-type]
        assert caught.value.field == "address"
        assert caught.value.value == value
        assert "orderkit.orders.Address" in str(caught.value)

    def test_normalize_address_names_the_callers_field(self) -> None:
        with pytest.raises(InvalidAddress) as caught:
            normalize_address("x", field="order.address")  # type: ignore[arg-type]
        assert caught.value.field == "order.address"

    def test_an_address_still_normalises(self) -> None:
        address = Address("CN", "北京市", "北京市", "朝阳区", "建国路88号")
        assert normalize_address(address) == "CN:北京朝阳建国路88号"

    @pytest.mark.parametrize("value", ["TB-1", None], ids=["str", "none"])
    def test_fingerprints_of_a_non_order(self, value: object) -> None:
        with pytest.raises(ValidationError) as caught:
            Fingerprinter.for_tests().fingerprints(value)  # type: ignore[arg-type]
        assert (caught.value.field, caught.value.value) == ("order", value)

    @pytest.mark.parametrize("channel", [7, ["shopify"], None])
    def test_channel_lookups_of_a_non_string(self, channel: object) -> None:
        fingerprinter = Fingerprinter.for_tests(relay_channels={"douyin"})
        for lookup in (fingerprinter.region_of, fingerprinter.keeps_mobile_extensions):
            with pytest.raises(ValidationError) as caught:
                lookup(channel)  # type: ignore[arg-type]
            assert (caught.value.field, caught.value.value) == ("channel", channel)

    def test_a_region_that_is_not_text(self) -> None:
        with pytest.raises(ConfigurationError, match="region"):
            Fingerprinter.for_tests(region=["CN"])  # type: ignore[arg-type]
        with pytest.raises(ConfigurationError, match="region"):
            Fingerprinter.for_tests().fingerprints(order("shopify"), region=["US"])  # type: ignore[arg-type]

    @pytest.mark.parametrize(
        "regions",
        [["shopify"], "shopify", {7: "US"}, {"shopify": ["US"]}],
        ids=["list", "str", "int-key", "list-region"],
    )
    def test_channel_regions_of_the_wrong_shape(self, regions: object) -> None:
        with pytest.raises(ConfigurationError, match="channel_regions"):
            Fingerprinter.for_tests(channel_regions=regions)  # type: ignore[arg-type]

    @pytest.mark.parametrize("text", [7, None, b"v3:phone+skus:" + b"a" * 32])
    def test_parse_of_a_non_string(self, text: object) -> None:
        with pytest.raises(ValidationError) as caught:
            Fingerprint.parse(text)  # type: ignore[arg-type]
        assert (caught.value.field, caught.value.value) == ("fingerprint", text)

    def test_parse_still_reads_a_fingerprint(self) -> None:
        stored = f"v3:phone+skus:{'a' * 32}"
        assert str(Fingerprint.parse(stored)) == stored

    @pytest.mark.parametrize(
        ("lines", "field"),
        [
            (None, "lines"),
            ("TEA", "lines"),
            (OrderLine("L1", "TEA", 1, cny("1.00")), "lines"),
            ([1], "lines[0]"),
            ([_Line()], "lines[0].quantity"),
        ],
        ids=["none", "str", "one-line", "not-a-line", "quantity-str"],
    )
    def test_sku_multiset_of_the_wrong_types(self, lines: object, field: str) -> None:
        with pytest.raises(ValidationError) as caught:
            sku_multiset(lines)  # type: ignore[arg-type]
        assert caught.value.field == field

    def test_sku_multiset_still_counts(self) -> None:
        lines = [
            OrderLine("L1", "RETRO-CLOCK", 1, cny("1.00")),
            OrderLine("L2", "retro-clock", 2, cny("1.00")),
        ]
        assert sku_multiset(lines) == (("retro-clock", 3),)


class TestAddressCountry:
    """A country is two upper-case letters; any such code is taken and read back.

    Refusing codes ISO 3166-1 has not assigned ("ZZ", "EU") would leave the
    orders earlier versions stored with them unreadable, and one such order
    would stop every listing of the store: the shape is the check.
    """

    @pytest.mark.parametrize(
        "country",
        ["CN", "US", "DE", "JP", "HK", "MO", "TW", "AQ", "PN", "UM", "XK", "AC", "TA"],
    )
    def test_a_region_in_use_is_accepted(self, country: str) -> None:
        assert Address(country, street="1 Main St").country == country

    def test_the_shape_is_checked(self) -> None:
        with pytest.raises(ValidationError, match="ISO 3166-1 alpha-2"):
            Address("cn", street="x")

    @pytest.mark.parametrize("country", ["UK", "EU"])
    def test_a_stored_order_with_any_code_reads_back(
        self, country: str, tmp_path: Path
    ) -> None:
        order = Order(
            order_id="EB-1",
            channel="ebay",
            buyer=Buyer("b1"),
            address=Address(country, street="1 Main St"),
            lines=[OrderLine("L1", "TEA", 1, Money("1.00", "CNY"))],
            placed_at=PLACED_AT,
        )
        unit = SqliteUnitOfWork(tmp_path / "orders.db")
        try:
            with unit as uow:
                uow.orders.save(order, None)
                uow.commit()
            with unit as uow:
                assert uow.orders.get("ebay", "EB-1") == order
                assert [o.order_id for o in uow.orders.orders()] == ["EB-1"]
        finally:
            unit.close()


class TestChannelRegionsFoldTheChannel:
    """`channel_regions` compares channel names as `relay_channels` does."""

    @pytest.mark.parametrize("channel", ["Shopify", "SHOPIFY", " shopify "])
    def test_a_channel_in_another_case_is_read_in_its_region(
        self, channel: str
    ) -> None:
        fingerprinter = Fingerprinter.for_tests(channel_regions={"shopify": "US"})
        assert fingerprinter.region_of(channel) == "US"
        expected = Fingerprinter.for_tests(channel_regions={"shopify": "US"})
        assert (
            fingerprinter.fingerprints(order(channel))[0]
            == (expected.fingerprints(order("shopify"))[0])
        )

    def test_a_setting_named_in_another_case(self) -> None:
        fingerprinter = Fingerprinter.for_tests(channel_regions={"Shopify ": "US"})
        assert fingerprinter.region_of("shopify") == "US"
        prints = fingerprinter.fingerprints(order("shopify"))
        assert prints[0].kind is FingerprintKind.PHONE_SKUS

    def test_one_channel_named_twice_with_two_regions_is_refused(self) -> None:
        with pytest.raises(ConfigurationError, match="channel_regions"):
            Fingerprinter.for_tests(channel_regions={"shopify": "US", "Shopify": "CA"})

    def test_one_channel_named_twice_with_one_region_is_one_setting(self) -> None:
        fingerprinter = Fingerprinter.for_tests(
            channel_regions={"shopify": "US", "Shopify": "US"}
        )
        assert fingerprinter.region_of("SHOPIFY") == "US"

    def test_the_buyer_index_reads_the_channel_folded(self) -> None:
        detector = DuplicateDetector(
            dt.timedelta(hours=1),
            MemoryDetectorStore(),
            Fingerprinter.for_tests(channel_regions={"shopify": "US"}),
            FrozenClock(PLACED_AT),
        )
        detector.check(order("Shopify"))
        found = detector.orders_of_buyer("+15025550143")
        assert [(s.channel, s.order_id) for s in found] == [("Shopify", "SO-1")]


class TestWhitespaceIsNotAControlCharacter:
    """A refused login's message says what the character is."""

    def test_an_approver_ending_in_an_ideographic_space(self) -> None:
        tiers = ApprovalTiers.of((cny("100.00"), "store_manager"), (None, "finance"))
        request = request_change(
            tiers,
            change_id="PC-1",
            order_id="TB-1",
            line_id="L1",
            sku="CUP",
            quantity=1,
            old_unit_price=cny("89.00"),
            new_unit_price=cny("88.00"),
            reason="price match",
            requester="clerk.zhang",
            evidence="ticket://1",
            requested_at=PLACED_AT,
            ttl=dt.timedelta(hours=24),
        )
        login = "mgr.li\u3000"
        with pytest.raises(ValidationError) as caught:
            approve(request, tiers, approver=login, role="finance", now=PLACED_AT)
        assert (caught.value.field, caught.value.value) == ("approver", login)
        message = str(caught.value)
        assert "control" not in message
        assert "whitespace other than a plain space" in message
        assert "U+3000 IDEOGRAPHIC SPACE at the end" in message

    @pytest.mark.parametrize(
        ("value", "said"),
        [
            ("b-1\u3000", "whitespace other than a plain space: U+3000"),
            ("\u00a0b-1", "whitespace other than a plain space: U+00A0"),
            ("b-\u20281", "whitespace other than a plain space: U+2028"),
            ("b-1\u200b", "invisible formatting characters: U+200B"),
            ("b\u00ad-1", "invisible formatting characters: U+00AD"),
            ("b-1\x07", "control characters: U+0007 at the end"),
            ("b-1\n", "control characters: U+000A at the end"),
            ("b-1\ue000", "private-use characters: U+E000"),
        ],
        ids=[
            "ideographic",
            "nbsp",
            "line-sep",
            "zwsp",
            "soft-hyphen",
            "bell",
            "lf",
            "pua",
        ],
    )
    def test_each_kind_is_named(self, value: str, said: str) -> None:
        with pytest.raises(ValidationError) as caught:
            Buyer(value)
        assert (caught.value.field, caught.value.value) == ("buyer_id", value)
        assert said in str(caught.value)

    def test_where_it_is(self) -> None:
        with pytest.raises(ValidationError, match="at the start"):
            Buyer("\u3000b-1")
        with pytest.raises(ValidationError, match="after 'b'"):
            Buyer("b\u3000-1")
