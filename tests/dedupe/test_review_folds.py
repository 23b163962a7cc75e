"""What a review of duplicate detection found one buyer could write two ways.

One mobile with made-up extensions, a US state by its name or its code, a
street suffix spelled out, a Chinese address in traditional characters, with
its room's 室 or without, or without its province: each is one buyer, one
door, and must give one key, while another house or unit number never does.
"""

from __future__ import annotations

import datetime as dt

import pendulum
import pytest
from hypothesis import given
from hypothesis import strategies as st

from orderkit.adapters.memory import MemoryDetectorStore
from orderkit.dedupe import (
    Fingerprinter,
    FingerprintKind,
    normalize_address,
    normalize_phone,
)
from orderkit.errors import ConfigurationError, OrderkitError
from orderkit.money import Money
from orderkit.orders import Address, Buyer, Order, OrderLine
from orderkit.services import DuplicateDetector
from orderkit.testing import FrozenClock


PLACED_AT = pendulum.datetime(2024, 9, 14, 12, 0)
ONE_MOBILE = ("13800138000", "138-0013-8000-1", "138 0013 8000 #2", "13800138000转3")


def order(order_id: str, channel: str, phone: str, street: str) -> Order:
    return Order(
        order_id=order_id,
        channel=channel,
        buyer=Buyer(f"b-{order_id}", "王芳", phone),
        address=Address("CN", street=street),
        lines=[OrderLine("L1", "MOONCAKE", 1, Money("398.00", "CNY"))],
        placed_at=PLACED_AT,
    )


def phone_print(fingerprinter: Fingerprinter, channel: str, phone: str) -> str:
    prints = fingerprinter.fingerprints(order("1", channel, phone, "建国路1号"))
    (found,) = (f for f in prints if f.kind is FingerprintKind.PHONE_SKUS)
    return str(found)


class TestRelayChannels:
    """Extensions tell relay numbers apart only on the channels that relay."""

    def test_one_mobile_with_made_up_extensions_is_one_phone(self) -> None:
        fingerprinter = Fingerprinter.for_tests(relay_channels={"douyin"})
        prints = {phone_print(fingerprinter, "mini_program", p) for p in ONE_MOBILE}
        assert len(prints) == 1

    def test_relay_channels_keep_extensions(self) -> None:
        fingerprinter = Fingerprinter.for_tests(relay_channels={"douyin"})
        prints = {phone_print(fingerprinter, "douyin", p) for p in ONE_MOBILE}
        assert len(prints) == len(ONE_MOBILE)
        assert fingerprinter.keeps_mobile_extensions("douyin")
        assert not fingerprinter.keeps_mobile_extensions("mini_program")

    def test_a_relay_channel_named_in_another_case_still_relays(self) -> None:
        """Two buyers behind one relay number stay two, however the name is cased."""
        fingerprinter = Fingerprinter.for_tests(relay_channels={" Douyin"})
        assert fingerprinter.keeps_mobile_extensions("DOUYIN")
        prints = {phone_print(fingerprinter, "douyin ", p) for p in ONE_MOBILE}
        assert len(prints) == len(ONE_MOBILE)

    def test_by_default_every_channel_relays(self) -> None:
        fingerprinter = Fingerprinter.for_tests()
        assert fingerprinter.keeps_mobile_extensions("mini_program")
        prints = {phone_print(fingerprinter, "mini_program", p) for p in ONE_MOBILE}
        assert len(prints) == len(ONE_MOBILE)

    def test_a_landline_keeps_its_extension_everywhere(self) -> None:
        fingerprinter = Fingerprinter.for_tests(relay_channels=())
        plain = phone_print(fingerprinter, "mini_program", "010-8888 8888")
        extended = phone_print(fingerprinter, "mini_program", "010-8888 8888 转12")
        assert plain != extended

    @pytest.mark.parametrize(
        "channels", ["douyin", b"douyin", 7, [1]], ids=["str", "bytes", "int", "ints"]
    )
    def test_relay_channels_must_be_names(self, channels: object) -> None:
        with pytest.raises(ConfigurationError, match="relay_channels"):
            Fingerprinter.for_tests(relay_channels=channels)  # type: ignore[arg-type]

    def test_the_buyer_index_joins_the_extended_mobile(self) -> None:
        detector = DuplicateDetector(
            dt.timedelta(hours=1),
            MemoryDetectorStore(),
            Fingerprinter.for_tests(relay_channels={"douyin"}),
            FrozenClock(PLACED_AT),
        )
        detector.check(order("MP-1", "mini_program", "138-0013-8000-1", "甲路1号"))
        found = detector.orders_of_buyer("13800138000")
        assert [(s.channel, s.order_id) for s in found] == [("mini_program", "MP-1")]


class TestMobileExtensions:
    """`normalize_phone(..., mobile_extensions=False)` drops mobiles' only."""

    @pytest.mark.parametrize(
        ("raw", "region", "expected"),
        [
            ("138-0013-8000-1", "CN", "+8613800138000"),
            ("138 0013 8000 #2", "CN", "+8613800138000"),
            ("13800138000转3", "CN", "+8613800138000"),
            # A US number may be an office's: its extensions are people.
            ("+1 212 736 5000 ext 101", "US", "+12127365000;ext=101"),
            ("010-8888 8888 转12", "CN", "+861088888888;ext=12"),
        ],
        ids=["dash", "hash", "zhuan", "us-office-extension-kept", "landline"],
    )
    def test_dropped_for_mobiles(self, raw: str, region: str, expected: str) -> None:
        assert normalize_phone(raw, region, mobile_extensions=False) == expected
        kept = normalize_phone(raw, region)  # by default
        assert kept is not None
        assert kept.startswith(expected)


class TestNorthAmericanAddresses:
    """State names and codes, USPS words and their abbreviations agree."""

    @pytest.mark.parametrize(
        ("country", "name", "code"),
        [
            ("US", "California", "CA"),
            ("US", "New York", "NY"),
            ("US", "District of Columbia", "DC"),
            ("US", "West Virginia", "WV"),
            ("CA", "Ontario", "ON"),
            ("CA", "British Columbia", "BC"),
            ("CA", "Québec", "QC"),
        ],
        ids=["ca", "ny", "dc", "wv", "on", "bc", "qc"],
    )
    def test_a_state_name_is_its_code(self, country: str, name: str, code: str) -> None:
        named = Address(country, name, "Springfield", "", "1 Main St")
        coded = Address(country, code, "Springfield", "", "1 Main St")
        in_one_line = Address(country, street=f"1 Main St, Springfield, {name}")
        assert normalize_address(named) == normalize_address(coded)
        assert normalize_address(in_one_line) == normalize_address(coded)

    @pytest.mark.parametrize(
        ("long", "short"),
        [
            ("1 Market Street, Apartment 5", "1 Market St Apt 5"),
            ("1 Market Street #5", "1 Market St Apt 5"),
            ("1 Market St Unit 5", "1 Market St Apt. 5"),
            ("1 Market St Apt #5", "1 market st apt5"),
            ("9 Ocean Avenue Suite 200", "9 Ocean Ave Ste 200"),
            ("2 Mill Road", "2 Mill Rd"),
            ("3 Sunset Boulevard", "3 Sunset Blvd"),
            ("4 Lake Drive", "4 Lake Dr"),
            ("5 Elm Lane", "5 Elm Ln"),
            ("6 Royal Court", "6 Royal Ct"),
        ],
        ids=["apartment", "hash", "unit", "apt-hash", "suite", "road", "blvd",
             "drive", "lane", "court"],
    )  # fmt: skip
    def test_usps_words_fold(self, long: str, short: str) -> None:
        assert normalize_address(
            Address("US", "California", "San Francisco", "", long)
        ) == normalize_address(Address("US", "CA", "San Francisco", "", short))

    @given(
        st.sampled_from(
            ["Street", "St", "Avenue", "Road", "Suite", "Apt", "Unit", "#"]
        ),
        st.integers(0, 99_999),
        st.integers(0, 9_999),
        st.data(),
    )
    def test_another_house_or_unit_number_is_another_key(
        self, word: str, house: int, unit: int, data: st.DataObject
    ) -> None:
        street = f"{house} Market {word} {unit}"
        digits = [i for i, c in enumerate(street) if c.isdigit()]
        i = data.draw(st.sampled_from(digits))
        other = data.draw(st.sampled_from([d for d in "0123456789" if d != street[i]]))
        changed = street[:i] + other + street[i + 1 :]
        state = data.draw(st.sampled_from(["California", "CA", ""]))
        key = normalize_address(Address("US", state, "San Francisco", "", street))
        assert key != normalize_address(
            Address("US", state, "San Francisco", "", changed)
        )
        # While the state's name and its code, and the words, agree.
        short = street.replace("Street", "St").replace("Avenue", "Ave")
        assert key == normalize_address(
            Address("US", state and "CA", "San Francisco", "", short)
        )


def cn(street: str, province: str = "", city: str = "", district: str = "") -> Address:
    return Address("CN", province, city, district, street)


class TestChineseAddresses:
    """Traditional unit characters, rooms and left-out provinces."""

    def test_traditional_unit_characters_are_simplified(self) -> None:
        simplified = Address("HK", "香港", "", "九龙", "弥敦道100号5楼A室")
        traditional = Address("HK", "香港特別行政區", "", "九龙", "弥敦道100號5樓A室")
        assert normalize_address(simplified) == normalize_address(traditional)
        assert normalize_address(
            cn("科技园南区1号楼3单元501", "广东省", "深圳市", "南山区")
        ) == normalize_address(
            cn("科技園南區1號樓3單元501", "广东省", "深圳市", "南山區")
        )

    def test_a_room_reads_the_same_without_its_shi(self) -> None:
        head = ("北京市", "北京市", "朝阳区")
        assert normalize_address(cn("建国路88号A座1201室", *head)) == normalize_address(
            cn("建国路88号A座1201", *head)
        )
        assert normalize_address(cn("建国路88号A座1室201", *head)) != normalize_address(
            cn("建国路88号A座1201", *head)
        )

    @pytest.mark.parametrize(
        ("province", "city"),
        [("广东省", "深圳市"), ("吉林省", "吉林市"), ("江西省", "景德镇市"),
         ("江苏省", "镇江市"), ("新疆维吾尔自治区", "乌鲁木齐市"),
         ("内蒙古", "包头市")],
        ids=["shenzhen", "jilin", "jingdezhen", "zhenjiang", "urumqi", "baotou"],
    )  # fmt: skip
    def test_a_left_out_province_is_read_from_the_city(
        self, province: str, city: str
    ) -> None:
        whole = normalize_address(cn("人民路1号", province, city, "某某区"))
        assert whole == normalize_address(cn(f"{city}某某区人民路1号"))
        assert whole == normalize_address(cn("人民路1号", "", city, "某某区"))

    def test_a_city_does_not_merge_with_its_province_alone(self) -> None:
        assert normalize_address(cn("吉林市船营区解放路1号")) != normalize_address(
            cn("解放路1号", "吉林省", "", "船营区")
        )
        assert normalize_address(cn("吉林市船营区解放路1号")) == normalize_address(
            cn("解放路1号", "吉林省", "吉林市", "船营区")
        )
        # A road named after a city (南京路, in Shanghai) names no province.
        assert normalize_address(cn("南京路1号")) == "CN:南京路1号"

    def test_a_county_level_city_repeated_in_the_street(self) -> None:
        head = ("江苏省", "苏州市", "昆山市")
        plain = normalize_address(cn("玉山镇人民路1号", *head))
        assert plain == normalize_address(cn("昆山市玉山镇人民路1号", *head))
        assert plain == normalize_address(cn("苏州市昆山市玉山镇人民路1号", *head))
        # 昆山市场 is a market in 昆山, not 昆山市 and 场.
        assert normalize_address(cn("昆山市场1号", *head)) != normalize_address(
            cn("场1号", *head)
        )

    @given(
        st.sampled_from(
            [
                ("广东省", "深圳市", "南山区"),
                ("", "深圳市", "南山区"),
                ("江苏省", "苏州市", "昆山市"),
                ("香港特別行政區", "", "九龍"),
                ("", "", ""),
            ]
        ),
        st.lists(
            st.sampled_from(list("号號楼樓区區单單元室门門层層座市场路0123456789a -#")),
            min_size=2,
            max_size=20,
        ).map("".join),
        st.data(),
    )
    def test_another_digit_is_another_key(
        self, head: tuple[str, str, str], street: str, data: st.DataObject
    ) -> None:
        digits = [i for i, c in enumerate(street) if c.isdigit()]
        if not digits:
            return
        i = data.draw(st.sampled_from(digits))
        other = data.draw(st.sampled_from([d for d in "0123456789" if d != street[i]]))
        changed = street[:i] + other + street[i + 1 :]
        country = "HK" if head[0].startswith("香港") else "CN"
        try:
            key = normalize_address(Address(country, *head, street))
        except OrderkitError:
            return
        assert key != normalize_address(Address(country, *head, changed))
        # While traditional and simplified, and a final 室 or none, agree.
        simplified = street.translate(str.maketrans("號樓區單門層", "号楼区单门层"))
        assert key == normalize_address(Address(country, *head, simplified))
        assert normalize_address(
            Address(country, *head, street + "1室")
        ) == normalize_address(Address(country, *head, street + "1"))
