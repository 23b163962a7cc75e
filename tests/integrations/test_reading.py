"""Exact readers for channel payloads: every refusal names the payload path."""

from __future__ import annotations

from decimal import Decimal
from typing import ClassVar

import pendulum
import pytest
from hypothesis import given
from hypothesis import strategies as st

from orderkit.errors import (
    ConfigurationError,
    InvalidMoney,
    InvalidQuantity,
    NaiveDatetime,
    StructureError,
    UnknownCurrency,
    UnknownStatus,
    ValidationError,
)
from orderkit.integrations import (
    MAX_QUANTITY,
    load_json,
    read_id,
    read_instant,
    read_list,
    read_minor_money,
    read_money,
    read_object,
    read_phone,
    read_quantity,
    read_signed_money,
    read_status,
    read_text,
    read_unix,
)
from orderkit.money import Money


class TestLoadJson:
    """Numbers stay exact; NaN, Infinity and repeated keys are refused."""

    def test_fractions_are_decimals_and_integers_stay_exact(self) -> None:
        data = load_json('{"price": 158.9500, "id": 9007199254740993}')
        assert data == {"price": Decimal("158.9500"), "id": 9007199254740993}
        assert type(data["price"]) is Decimal

    @pytest.mark.parametrize("text", ['{"a": NaN}', '{"a": Infinity}', "[-Infinity]"])
    def test_nan_and_infinity(self, text: str) -> None:
        with pytest.raises(StructureError):
            load_json(text)

    def test_a_repeated_key(self) -> None:
        with pytest.raises(StructureError) as caught:
            load_json('{"total_price": "409.94", "total_price": "0.01"}')
        assert caught.value.field == "total_price"

    @pytest.mark.parametrize("text", ["", "{", b"\xff\xfe", "[1,]"])
    def test_not_json(self, text: str | bytes) -> None:
        with pytest.raises(StructureError) as caught:
            load_json(text)
        assert caught.value.field == "payload"

    def test_deep_nesting_is_a_typed_error(self) -> None:
        with pytest.raises(StructureError):
            load_json("[" * 100_000 + "]" * 100_000)


class TestMoney:
    """Decimal text or exact numbers, never floats, at the currency's places."""

    @pytest.mark.parametrize(
        ("value", "expected"),
        [
            ("199.00", "199.00"),
            ("158.9500", "158.95"),
            (Decimal("12.5"), "12.50"),
            (3, "3.00"),
            (" 10.00 ", "10.00"),
        ],
    )
    def test_exact_values(self, value: object, expected: str) -> None:
        assert read_money(value, "USD", path="total_price") == Money(expected, "USD")

    @pytest.mark.parametrize(
        "value",
        [
            199.0,
            True,
            None,
            "",
            "12,30",
            "1e400",
            "NaN",
            "Infinity",
            "\uff11\uff12.\uff10\uff10",
            [],
            "-1",
        ],
    )
    def test_refused(self, value: object) -> None:
        with pytest.raises(InvalidMoney) as caught:
            read_money(value, "USD", path="line_items[2].price")
        assert caught.value.field == "line_items[2].price"

    @pytest.mark.parametrize("value", ["1_000.00", "-0.00", "+1.00", "1e3", "1.", ".5"])
    def test_only_plain_decimal_text(self, value: str) -> None:
        with pytest.raises(InvalidMoney):
            read_money(value, "USD", path="total_price")

    def test_negative_zero_as_a_number(self) -> None:
        with pytest.raises(InvalidMoney):
            read_money(Decimal("-0.00"), "USD", path="total_price")

    def test_more_places_than_the_currency_has(self) -> None:
        with pytest.raises(InvalidMoney) as caught:
            read_money("1.005", "USD", path="total_tax")
        assert caught.value.field == "total_tax"
        assert read_money("100", "JPY", path="p") == Money("100", "JPY")
        with pytest.raises(InvalidMoney):
            read_money("100.5", "JPY", path="p")

    def test_unknown_currency(self) -> None:
        with pytest.raises(UnknownCurrency):
            read_money("1.00", "XYZ", path="p")

    @given(st.decimals(min_value=0, max_value=10**9, places=2))
    def test_text_and_number_agree(self, amount: Decimal) -> None:
        as_text = read_money(str(amount), "CNY", path="p")
        assert as_text == read_money(amount, "CNY", path="p")
        assert as_text.amount == amount


class TestQuantity:
    """Whole positive units, as JSON integers or ASCII digits."""

    @pytest.mark.parametrize(
        ("value", "expected"), [(1, 1), ("3", 3), (MAX_QUANTITY, MAX_QUANTITY)]
    )
    def test_accepted(self, value: object, expected: int) -> None:
        assert read_quantity(value, path="num") == expected

    @pytest.mark.parametrize(
        "value",
        [
            0,
            -1,
            MAX_QUANTITY + 1,
            1.5,
            Decimal("2.0"),
            "1e3",
            "\uff12",
            "",
            None,
            True,
            "1.0",
        ],
    )
    def test_refused(self, value: object) -> None:
        with pytest.raises(InvalidQuantity) as caught:
            read_quantity(value, path="orders.order[0].num")
        assert caught.value.field == "orders.order[0].num"

    def test_a_digit_string_longer_than_python_converts(self) -> None:
        with pytest.raises(InvalidQuantity):
            read_quantity("9" * 5000, path="num")


class TestInstant:
    """Offsets are exact; naive time needs the channel's documented zone."""

    def test_iso_with_offset(self) -> None:
        at = read_instant("2008-01-10T11:00:00-05:00", path="created_at")
        assert at == pendulum.datetime(2008, 1, 10, 16, 0)
        assert at.timezone_name == "UTC"

    def test_rfc_2822(self) -> None:
        at = read_instant("Sun, 24 Mar 2013 23:07:53 +0000", path="date_created")
        assert at == pendulum.datetime(2013, 3, 24, 23, 7, 53)

    def test_rfc_2822_beyond_any_year(self) -> None:
        with pytest.raises(ValidationError) as caught:
            read_instant("1 Jan 99999999999999999999 00:00:00 +0000", path="完成时间")
        assert caught.value.field == "完成时间"

    def test_rfc_2822_with_a_comment(self) -> None:
        at = read_instant("Sun, 24 Mar 2013 23:07:53 +0000 (UTC)", path="t")
        assert at == pendulum.datetime(2013, 3, 24, 23, 7, 53)

    @pytest.mark.parametrize(
        "text",
        [
            "Sun, 24 Mar 2013 23:07:53 +0000 garbage",
            "Sun, 24 Mar 2013 23:07:53 +0800 -0500",
            "Sun, 24 Mar 2013 23:07:53",
            "24 Mar 2013",
        ],
        ids=["trailing-text", "two-zones", "no-zone", "no-time"],
    )
    def test_rfc_2822_read_whole_or_refused(self, text: str) -> None:
        # The parser reads what it can and drops the rest: "+0800 -0500"
        # would read as +0800, a guess at which zone was meant.
        with pytest.raises(ValidationError) as caught:
            read_instant(text, path="date_created")
        assert caught.value.field == "date_created"

    def test_rfc_2822_minus_zero_is_universal_time_in_any_zone(self) -> None:
        # RFC 5322 3.3: -0000 is UT from a system whose own zone is unknown.
        text = "Sun, 24 Mar 2013 23:07:53 -0000"
        for zone in (None, "Asia/Shanghai"):
            at = read_instant(text, path="date_created", zone=zone)
            assert at == pendulum.datetime(2013, 3, 24, 23, 7, 53)

    def test_naive_in_the_documented_zone(self) -> None:
        at = read_instant("2026-11-11 00:00:05", path="created", zone="Asia/Shanghai")
        assert at == pendulum.datetime(2026, 11, 10, 16, 0, 5)
        gmt = read_instant("2017-03-22T16:28:08", path="date_created_gmt", zone="UTC")
        assert gmt == pendulum.datetime(2017, 3, 22, 16, 28, 8)

    @pytest.mark.parametrize("value", ["2017-08-21 22:22:19", "2017-08-21T22:22:19"])
    def test_naive_without_a_zone(self, value: str) -> None:
        with pytest.raises(NaiveDatetime) as caught:
            read_instant(value, path="created_at")
        assert caught.value.field == "created_at"

    @pytest.mark.parametrize(
        "value",
        ["2026-02-30T00:00:00Z", "yesterday", "", 1700000000, None, "2026-13-01 00:00"],
    )
    def test_impossible_or_not_text(self, value: object) -> None:
        with pytest.raises(ValidationError) as caught:
            read_instant(value, path="pay_time", zone="Asia/Shanghai")
        assert caught.value.field == "pay_time"

    @pytest.mark.parametrize(
        ("value", "zone"),
        [
            ("0001-01-01T00:00:00+14:00", None),
            ("9999-12-31T23:59:59-14:00", None),
            ("0001-01-01 00:00:00", "Asia/Shanghai"),
        ],
    )
    def test_no_utc_instant_at_the_calendar_edge(
        self, value: str, zone: str | None
    ) -> None:
        with pytest.raises(ValidationError) as caught:
            read_instant(value, path="created", zone=zone)
        assert caught.value.field == "created"

    @pytest.mark.parametrize(
        "value",
        ["2017-08-21", "20170821", "Mon, 10 Jan 2008 11:00:00 XYZ"],
    )
    def test_no_time_of_day_or_an_unknown_zone_name(self, value: str) -> None:
        with pytest.raises(ValidationError) as caught:
            read_instant(value, path="created_at", zone="UTC")
        assert caught.value.field == "created_at"

    @pytest.mark.parametrize(
        "value",
        ["2026-11-01 01:30:00", "2026-03-08 02:30:00"],  # repeated, then skipped
    )
    def test_a_local_time_a_dst_change_makes_a_guess(self, value: str) -> None:
        with pytest.raises(ValidationError, match="ambiguous or impossible"):
            read_instant(value, path="created", zone="America/New_York")

    # "Asia": a folder; the others are in the database but no place's zone.
    @pytest.mark.parametrize(
        "zone",
        [
            "Asia/Beijing",
            "Asia",
            "localtime",
            "posixrules",
            "Factory",
            "posix/Factory",
            "right/Factory",
        ],
    )
    def test_a_zone_that_does_not_exist(self, zone: str) -> None:
        with pytest.raises(ConfigurationError) as caught:
            read_instant("2026-11-11 00:00:00", path="created", zone=zone)
        assert caught.value.setting == "zone"

    def test_control_characters(self) -> None:
        with pytest.raises(ValidationError):
            read_instant("2017-08-21 22:22:19\x00", path="created_at", zone="UTC")

    def test_a_zone_never_overrides_an_offset(self) -> None:
        at = read_instant(
            "2026-11-11T00:00:00+08:00", path="p", zone="America/New_York"
        )
        assert at == pendulum.datetime(2026, 11, 10, 16, 0)


class TestText:
    """Ids, text, objects and arrays: the wrong type names its path."""

    def test_ids_as_numbers_or_text(self) -> None:
        assert read_id(9007199254740993, path="id") == "9007199254740993"
        assert read_id(" 1001 ", path="id") == "1001"

    @pytest.mark.parametrize(
        "value", [-1, 1.0, True, None, "", " ", "a\x00b", "x" * 256]
    )
    def test_bad_ids(self, value: object) -> None:
        with pytest.raises(ValidationError) as caught:
            read_id(value, path="line_items[0].id")
        assert caught.value.field == "line_items[0].id"

    def test_text(self) -> None:
        assert read_text(" 复古闹钟 ", path="title") == "复古闹钟"
        assert read_text(None, path="note", required=False) == ""
        with pytest.raises(ValidationError):
            read_text("  ", path="title")
        with pytest.raises(ValidationError):
            read_text(5, path="title")

    def test_a_lone_surrogate_is_not_text(self) -> None:
        with pytest.raises(ValidationError) as caught:
            read_text(load_json('"\\ud800 旺旺"'), path="buyer_nick")
        assert caught.value.field == "buyer_nick"

    def test_objects_and_lists(self) -> None:
        assert read_object({"a": 1}, path="order") == {"a": 1}
        assert read_list(None, path="refunds", required=False) == []
        with pytest.raises(StructureError) as caught:
            read_object([], path="order")
        assert caught.value.field == "order"
        with pytest.raises(StructureError):
            read_list({}, path="line_items")


class TestPhone:
    """E.164 when it is a number; masked and unissued numbers kept as sent."""

    def test_normalised(self) -> None:
        assert read_phone("138 0013 8000", path="receiver_mobile", region="CN") == (
            "+8613800138000"
        )

    def test_masked_and_test_numbers_are_kept(self) -> None:
        assert read_phone("138****8000", path="p", region="CN") == "138****8000"
        assert read_phone("555-625-1199", path="p", region="US") == "555-625-1199"
        assert read_phone("", path="p", region="US") is None
        assert read_phone(None, path="p", region="US") is None

    def test_a_territory_without_a_numbering_plan(self) -> None:
        assert read_phone("+64 3 555 0100", path="p", region="PN") == "+64 3 555 0100"

    @pytest.mark.parametrize("value", [13800138000, "138\x000013", "1" * 65])
    def test_refused(self, value: object) -> None:
        with pytest.raises(ValidationError) as caught:
            read_phone(value, path="shipping_address.phone", region="CN")
        assert caught.value.field == "shipping_address.phone"


class TestStatus:
    """A status outside the channel's table is reported, never guessed."""

    TABLE: ClassVar = {
        "WAIT_BUYER_PAY": "pending_payment",
        "TRADE_FINISHED": "completed",
    }

    def test_known(self) -> None:
        assert read_status("TRADE_FINISHED", self.TABLE, path="status") == "completed"

    def test_numbered_states(self) -> None:
        table = {"1": "open", "2": "paid"}
        assert read_status(2, table, path="state") == "paid"
        with pytest.raises(UnknownStatus) as caught:
            read_status(4, table, path="state")
        assert caught.value.value == 4
        with pytest.raises(UnknownStatus):
            read_status(value=True, statuses=table, path="state")

    @pytest.mark.parametrize(
        "value", ["trade_finished", "TRADE_NO_CREATE_PAY", None, 1]
    )
    def test_unknown(self, value: object) -> None:
        with pytest.raises(UnknownStatus) as caught:
            read_status(value, self.TABLE, path="status")
        assert caught.value.field == "status"
        assert "WAIT_BUYER_PAY" in str(caught.value)


class TestWrongTypes:
    """A value of the wrong type is refused with a typed error naming it."""

    @pytest.mark.parametrize("data", [{"id": 1}, [1], None, 7, Decimal("1.5")])
    def test_load_json_of_what_is_not_text(self, data: object) -> None:
        with pytest.raises(StructureError) as caught:
            load_json(data)  # type: ignore[arg-type]
        assert ("payload", "JSON") == (caught.value.field, caught.value.type_name)

    @pytest.mark.parametrize("value", [Decimal("-0.06"), -6, None, 0.06, True])
    def test_signed_money_that_is_not_text(self, value: object) -> None:
        with pytest.raises(InvalidMoney) as caught:
            read_signed_money(value, "CNY", path="fee")
        assert ("fee", value) == (caught.value.field, caught.value.value)


class TestSignedMoney:
    """Amounts written negative, as statements write a refund's fee."""

    @pytest.mark.parametrize(
        ("text", "amount"),
        [("-0.06", "-0.06"), ("0.06", "0.06"), ("-0.00", "0.00"), ("-0", "0.00")],
    )
    def test_read(self, text: str, amount: str) -> None:
        money = read_signed_money(text, "CNY", path="fee")
        assert Money(amount, "CNY") == money
        assert str(Money(amount, "CNY")) == str(money)

    def test_a_negative_zero_is_zero(self) -> None:
        money = read_signed_money("-0.00", "CNY", path="fee")
        assert not money.amount.is_signed()
        assert "0.00 CNY" == str(money)

    @pytest.mark.parametrize("text", ["-", "--1", "-1e3", "-0.001"])
    def test_refused(self, text: str) -> None:
        with pytest.raises(InvalidMoney) as caught:
            read_signed_money(text, "CNY", path="fee")
        assert ("fee", text) == (caught.value.field, caught.value.value)


def _short_id(value: object) -> str:
    return repr(value)[:20]


class TestMinorMoney:
    """Whole fen or cents, as JSON integers or ASCII digits."""

    @pytest.mark.parametrize(
        ("value", "currency", "expected"),
        [
            (12900, "CNY", Money("129.00", "CNY")),
            ("12900", "CNY", Money("129.00", "CNY")),
            (0, "CNY", Money("0.00", "CNY")),
            (1, "USD", Money("0.01", "USD")),
            (500, "JPY", Money("500", "JPY")),
            ("000995", "KWD", Money("0.995", "KWD")),
        ],
    )
    def test_accepted(self, value: object, currency: str, expected: Money) -> None:
        assert read_minor_money(value, currency, path="price") == expected

    @given(st.integers(min_value=0, max_value=10**26))
    def test_it_is_the_amount_in_minor_units(self, fen: int) -> None:
        assert read_minor_money(fen, "CNY", path="price").minor == fen
        assert read_minor_money(str(fen), "CNY", path="price").minor == fen

    @pytest.mark.parametrize(
        "value",
        [
            -1,
            1.5,
            Decimal("12900.0"),
            Decimal(12900),
            "1e3",
            "-5",
            "\uff12",
            "",
            None,
            True,
            "129.00",
            10**40,
            "9" * 5000,
        ],
        ids=_short_id,
    )
    def test_refused(self, value: object) -> None:
        with pytest.raises(InvalidMoney) as caught:
            read_minor_money(value, "CNY", path="order.items[0].price")
        assert (caught.value.field, caught.value.value) == (
            "order.items[0].price",
            value,
        )

    def test_an_unknown_currency_is_named(self) -> None:
        with pytest.raises(UnknownCurrency):
            read_minor_money(100, "XYZ", path="price")


class TestUnix:
    """Whole Unix seconds, as JSON integers or ASCII digits, read in UTC."""

    def test_seconds_are_an_instant_in_utc(self) -> None:
        # 11 November 2025 23:59:59 in Shanghai.
        read = read_unix(1762876799, path="created")
        assert read == pendulum.datetime(2025, 11, 11, 15, 59, 59)
        assert read.timezone_name == "UTC"
        assert read_unix("1762876799", path="created") == read

    @pytest.mark.parametrize(
        "value",
        [
            0,
            -5,
            1762876799000,
            253_402_300_800,
            1.5,
            Decimal(5),
            "",
            "1.5",
            "-5",
            None,
            True,
            "9" * 5000,
        ],
        ids=_short_id,
    )
    def test_refused(self, value: object) -> None:
        with pytest.raises(ValidationError) as caught:
            read_unix(value, path="order.created")
        assert (caught.value.field, caught.value.value) == ("order.created", value)

    def test_the_last_second_before_the_year_10000(self) -> None:
        last = read_unix(253_402_300_799, path="t")
        assert last == pendulum.datetime(9999, 12, 31, 23, 59, 59)
