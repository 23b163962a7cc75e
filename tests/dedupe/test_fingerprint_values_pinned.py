"""Fingerprint values are pinned: a stored fingerprint must keep matching.

Hosts store fingerprints (detector stores, SQLite and PostgreSQL rows), so
no change to how they are computed may change one by a single bit. The
digests below were computed by the fingerprinter before its hashing was
restructured for speed; every fingerprinter, every region and every kind of
part (phones with extensions, masked and junk ones, traditional and
structured addresses, folded and escaped SKUs) is held to them.
"""

from __future__ import annotations

from typing import Any

import pendulum
import pytest
from hypothesis import given, reject, settings
from hypothesis import strategies as st

from orderkit.dedupe import Fingerprinter
from orderkit.dedupe._matches import buyer_phone
from orderkit.errors import OrderkitError, ValidationError
from orderkit.money import Money
from orderkit.orders import Address, Buyer, Order, OrderLine


PRICE = Money("9.90", "CNY")
PLACED = pendulum.datetime(2026, 11, 11, 0, 5, tz="Asia/Shanghai")
FINGERPRINTERS = {
    "default": Fingerprinter.for_tests(),
    "relay": Fingerprinter.for_tests(relay_channels={"Taobao", "douyin"}),
    "us": Fingerprinter.for_tests(
        region="US", channel_regions={"douyin": "CN", "TMALL": "HK"}
    ),
}

# (channel, buyer id, buyer phone, (country, province, city, district,
# street), address phone, [(sku, quantity), ...])
CASES = [
    (
        "douyin",
        "dy_0000001",
        "+8613800000000",
        ("CN", "广东省", "深圳市", "南山区", "科技园路0号"),
        None,
        [("SKU-0094", 2), ("SKU-0024", 3), ("SKU-0250", 1)],
    ),
    (
        "douyin",
        "dy_0000002",
        "13800138000转12",
        ("CN", "北京", "北京市", "朝阳区", "建国路88号1201室"),
        "13900139000",
        [("sku-1", 1), ("SKU-1", 2)],
    ),
    (
        " Shopify ",
        " b 2 ",
        "(415) 555-0100",
        ("US", "California", "San Francisco", "", "1 Market Street #5"),
        "+1 415 555 0100",
        [("Jade  Teapot", 1)],
    ),
    (
        "TMALL",
        "买家",
        "138****8000",
        ("CN", "", "", "", "北京市朝阳区建国路88号"),
        None,
        [("\uff33\uff2b\uff35\uff0d\uff11", 4), ("Ä-ß", 1)],
    ),
    (
        "taobao",
        "tb_1",
        "0086 138 0013 8000",
        ("HK", "香港特別行政區", "", "九龍", "彌敦道1號"),
        "8613800138000",
        [("A" * 200, 1), ('b"q\\', 2)],
    ),
    (
        "jd",
        "jd_1",
        "not a phone",
        ("CN", "上海", "上海市", "浦东新区", "世纪大道**号"),
        "  ",
        [("x", 9), ("z", 1), ("y", 5)],
    ),
    (
        "pdd",
        "pdd_1",
        None,
        ("CN", "广西壮族自治区", "南宁市", "青秀区", "民族大道1号"),
        "+8613800138000-1",
        [("SKU-\u00e9", 1)],
    ),
    (
        "douyin",
        "dy_3",
        "+86 138-0013-8000 ext 7",
        ("CN", "吉林", "吉林市", "船营区", "北京路1号"),
        "+86 138-0013-8000",
        [("sku 1", 1), ("SKU  1", 1)],
    ),
    (
        "Douyin",
        "dy_4",
        "+44 20 7946 0958",
        ("GB", "", "London", "", "10 Downing St"),
        None,
        [("🍵", 3)],
    ),
]

# What the fingerprinter gave for CASES before the change: per
# fingerprinter, each case's fingerprints and its buyer phone (`buyer_phone`);
# under `name@GB`, the fingerprints read in region GB.
PINNED: dict[str, list[Any]] = {
    "default": [
        (
            (
                "v3:phone+skus:599f7adf3d3f524cdbe074dc60b596fa",
                "v3:address+skus:bb0901a6a23dea93714b34d2ca18b416",
                "v3:buyer+skus:fdb713ab3030ab5633978b14d9ecd828",
            ),
            "+8613800000000",
        ),
        (
            (
                "v3:phone+skus:a98ba82cc4bddf45d2dd4c32aaf5c933",
                "v3:phone+skus:1bcc859326ac83350d98ee4ba91bd14c",
                "v3:address+skus:55121eafffc78cf1c304ebf86eaadd55",
                "v3:buyer+skus:f5debdd909e3b9fc6dc219c921c798f0",
            ),
            "+8613800138000;ext=12",
        ),
        (
            (
                "v3:phone+skus:68ced1d85e562d4f2f3579471f3386c9",
                "v3:phone+skus:3c9e09be5a8a28e423a64ba38c323687",
                "v3:address+skus:259b58be379c7f8f557072f1839c78ba",
                "v3:buyer+skus:2322ccb39daaeae727259fc8f9016df2",
            ),
            "+864155550100",
        ),
        (
            (
                "v3:address+skus:52cde6b6a2bb7e61cafea058b7920c06",
                "v3:buyer+skus:608d0c3436ac317c5c211c3e98089aa4",
            ),
            None,
        ),
        (
            (
                "v3:phone+skus:404ba0412ba9c42137c7cade91b30e8e",
                "v3:address+skus:5936b71c6f3b7076c3d5161d0e473399",
                "v3:buyer+skus:2a2ba2304b5c2e4e0872ff82bb459320",
            ),
            "+8613800138000",
        ),
        (("v3:buyer+skus:a3df18953a5f028d54a2b0e071ceba8c",), None),
        (
            (
                "v3:phone+skus:0df8f627ec54b405a2ac86a63237585d",
                "v3:address+skus:c9b3ec7baa925f771183d6b1c0692323",
                "v3:buyer+skus:2c312d554ca30526088a2efc07942de3",
            ),
            None,
        ),
        (
            (
                "v3:phone+skus:a0e601247918e81898a8560307b7e6e6",
                "v3:phone+skus:fe1150860b1f05f8f0710752c139810a",
                "v3:address+skus:19259d8130dd4dac89795301a270aae8",
                "v3:buyer+skus:b48930a019ff64020ecaa43ffad4ca60",
            ),
            "+8613800138000;ext=7",
        ),
        (
            (
                "v3:phone+skus:9716a0d058f7c62057ddaa315da95605",
                "v3:address+skus:6de256b5c9981643a1e37d687946f70f",
                "v3:buyer+skus:56a4fc92ed21f84bbfc7a986e4fa965f",
            ),
            "+442079460958",
        ),
    ],
    "default@GB": [
        (
            "v3:phone+skus:599f7adf3d3f524cdbe074dc60b596fa",
            "v3:address+skus:bb0901a6a23dea93714b34d2ca18b416",
            "v3:buyer+skus:fdb713ab3030ab5633978b14d9ecd828",
        ),
        (
            "v3:address+skus:55121eafffc78cf1c304ebf86eaadd55",
            "v3:buyer+skus:f5debdd909e3b9fc6dc219c921c798f0",
        ),
        (
            "v3:phone+skus:3c9e09be5a8a28e423a64ba38c323687",
            "v3:address+skus:259b58be379c7f8f557072f1839c78ba",
            "v3:buyer+skus:2322ccb39daaeae727259fc8f9016df2",
        ),
        (
            "v3:address+skus:52cde6b6a2bb7e61cafea058b7920c06",
            "v3:buyer+skus:608d0c3436ac317c5c211c3e98089aa4",
        ),
        (
            "v3:phone+skus:404ba0412ba9c42137c7cade91b30e8e",
            "v3:address+skus:5936b71c6f3b7076c3d5161d0e473399",
            "v3:buyer+skus:2a2ba2304b5c2e4e0872ff82bb459320",
        ),
        ("v3:buyer+skus:a3df18953a5f028d54a2b0e071ceba8c",),
        (
            "v3:phone+skus:0df8f627ec54b405a2ac86a63237585d",
            "v3:address+skus:c9b3ec7baa925f771183d6b1c0692323",
            "v3:buyer+skus:2c312d554ca30526088a2efc07942de3",
        ),
        (
            "v3:phone+skus:a0e601247918e81898a8560307b7e6e6",
            "v3:phone+skus:fe1150860b1f05f8f0710752c139810a",
            "v3:address+skus:19259d8130dd4dac89795301a270aae8",
            "v3:buyer+skus:b48930a019ff64020ecaa43ffad4ca60",
        ),
        (
            "v3:phone+skus:9716a0d058f7c62057ddaa315da95605",
            "v3:address+skus:6de256b5c9981643a1e37d687946f70f",
            "v3:buyer+skus:56a4fc92ed21f84bbfc7a986e4fa965f",
        ),
    ],
    "relay": [
        (
            (
                "v3:phone+skus:599f7adf3d3f524cdbe074dc60b596fa",
                "v3:address+skus:bb0901a6a23dea93714b34d2ca18b416",
                "v3:buyer+skus:fdb713ab3030ab5633978b14d9ecd828",
            ),
            "+8613800000000",
        ),
        (
            (
                "v3:phone+skus:a98ba82cc4bddf45d2dd4c32aaf5c933",
                "v3:phone+skus:1bcc859326ac83350d98ee4ba91bd14c",
                "v3:address+skus:55121eafffc78cf1c304ebf86eaadd55",
                "v3:buyer+skus:f5debdd909e3b9fc6dc219c921c798f0",
            ),
            "+8613800138000;ext=12",
        ),
        (
            (
                "v3:phone+skus:68ced1d85e562d4f2f3579471f3386c9",
                "v3:phone+skus:3c9e09be5a8a28e423a64ba38c323687",
                "v3:address+skus:259b58be379c7f8f557072f1839c78ba",
                "v3:buyer+skus:2322ccb39daaeae727259fc8f9016df2",
            ),
            "+864155550100",
        ),
        (
            (
                "v3:address+skus:52cde6b6a2bb7e61cafea058b7920c06",
                "v3:buyer+skus:608d0c3436ac317c5c211c3e98089aa4",
            ),
            None,
        ),
        (
            (
                "v3:phone+skus:404ba0412ba9c42137c7cade91b30e8e",
                "v3:address+skus:5936b71c6f3b7076c3d5161d0e473399",
                "v3:buyer+skus:2a2ba2304b5c2e4e0872ff82bb459320",
            ),
            "+8613800138000",
        ),
        (("v3:buyer+skus:a3df18953a5f028d54a2b0e071ceba8c",), None),
        (
            (
                "v3:phone+skus:617688c26f66a2a6cecd0128aa8025e6",
                "v3:address+skus:c9b3ec7baa925f771183d6b1c0692323",
                "v3:buyer+skus:2c312d554ca30526088a2efc07942de3",
            ),
            None,
        ),
        (
            (
                "v3:phone+skus:a0e601247918e81898a8560307b7e6e6",
                "v3:phone+skus:fe1150860b1f05f8f0710752c139810a",
                "v3:address+skus:19259d8130dd4dac89795301a270aae8",
                "v3:buyer+skus:b48930a019ff64020ecaa43ffad4ca60",
            ),
            "+8613800138000;ext=7",
        ),
        (
            (
                "v3:phone+skus:9716a0d058f7c62057ddaa315da95605",
                "v3:address+skus:6de256b5c9981643a1e37d687946f70f",
                "v3:buyer+skus:56a4fc92ed21f84bbfc7a986e4fa965f",
            ),
            "+442079460958",
        ),
    ],
    "relay@GB": [
        (
            "v3:phone+skus:599f7adf3d3f524cdbe074dc60b596fa",
            "v3:address+skus:bb0901a6a23dea93714b34d2ca18b416",
            "v3:buyer+skus:fdb713ab3030ab5633978b14d9ecd828",
        ),
        (
            "v3:address+skus:55121eafffc78cf1c304ebf86eaadd55",
            "v3:buyer+skus:f5debdd909e3b9fc6dc219c921c798f0",
        ),
        (
            "v3:phone+skus:3c9e09be5a8a28e423a64ba38c323687",
            "v3:address+skus:259b58be379c7f8f557072f1839c78ba",
            "v3:buyer+skus:2322ccb39daaeae727259fc8f9016df2",
        ),
        (
            "v3:address+skus:52cde6b6a2bb7e61cafea058b7920c06",
            "v3:buyer+skus:608d0c3436ac317c5c211c3e98089aa4",
        ),
        (
            "v3:phone+skus:404ba0412ba9c42137c7cade91b30e8e",
            "v3:address+skus:5936b71c6f3b7076c3d5161d0e473399",
            "v3:buyer+skus:2a2ba2304b5c2e4e0872ff82bb459320",
        ),
        ("v3:buyer+skus:a3df18953a5f028d54a2b0e071ceba8c",),
        (
            "v3:phone+skus:617688c26f66a2a6cecd0128aa8025e6",
            "v3:address+skus:c9b3ec7baa925f771183d6b1c0692323",
            "v3:buyer+skus:2c312d554ca30526088a2efc07942de3",
        ),
        (
            "v3:phone+skus:a0e601247918e81898a8560307b7e6e6",
            "v3:phone+skus:fe1150860b1f05f8f0710752c139810a",
            "v3:address+skus:19259d8130dd4dac89795301a270aae8",
            "v3:buyer+skus:b48930a019ff64020ecaa43ffad4ca60",
        ),
        (
            "v3:phone+skus:9716a0d058f7c62057ddaa315da95605",
            "v3:address+skus:6de256b5c9981643a1e37d687946f70f",
            "v3:buyer+skus:56a4fc92ed21f84bbfc7a986e4fa965f",
        ),
    ],
    "us": [
        (
            (
                "v3:phone+skus:599f7adf3d3f524cdbe074dc60b596fa",
                "v3:address+skus:bb0901a6a23dea93714b34d2ca18b416",
                "v3:buyer+skus:fdb713ab3030ab5633978b14d9ecd828",
            ),
            "+8613800000000",
        ),
        (
            (
                "v3:phone+skus:a98ba82cc4bddf45d2dd4c32aaf5c933",
                "v3:phone+skus:1bcc859326ac83350d98ee4ba91bd14c",
                "v3:address+skus:55121eafffc78cf1c304ebf86eaadd55",
                "v3:buyer+skus:f5debdd909e3b9fc6dc219c921c798f0",
            ),
            "+8613800138000;ext=12",
        ),
        (
            (
                "v3:phone+skus:3c9e09be5a8a28e423a64ba38c323687",
                "v3:address+skus:259b58be379c7f8f557072f1839c78ba",
                "v3:buyer+skus:2322ccb39daaeae727259fc8f9016df2",
            ),
            "+14155550100",
        ),
        (
            (
                "v3:address+skus:52cde6b6a2bb7e61cafea058b7920c06",
                "v3:buyer+skus:608d0c3436ac317c5c211c3e98089aa4",
            ),
            None,
        ),
        (
            (
                "v3:address+skus:5936b71c6f3b7076c3d5161d0e473399",
                "v3:buyer+skus:2a2ba2304b5c2e4e0872ff82bb459320",
            ),
            None,
        ),
        (("v3:buyer+skus:a3df18953a5f028d54a2b0e071ceba8c",), None),
        (
            (
                "v3:phone+skus:0df8f627ec54b405a2ac86a63237585d",
                "v3:address+skus:c9b3ec7baa925f771183d6b1c0692323",
                "v3:buyer+skus:2c312d554ca30526088a2efc07942de3",
            ),
            None,
        ),
        (
            (
                "v3:phone+skus:a0e601247918e81898a8560307b7e6e6",
                "v3:phone+skus:fe1150860b1f05f8f0710752c139810a",
                "v3:address+skus:19259d8130dd4dac89795301a270aae8",
                "v3:buyer+skus:b48930a019ff64020ecaa43ffad4ca60",
            ),
            "+8613800138000;ext=7",
        ),
        (
            (
                "v3:phone+skus:9716a0d058f7c62057ddaa315da95605",
                "v3:address+skus:6de256b5c9981643a1e37d687946f70f",
                "v3:buyer+skus:56a4fc92ed21f84bbfc7a986e4fa965f",
            ),
            "+442079460958",
        ),
    ],
    "us@GB": [
        (
            "v3:phone+skus:599f7adf3d3f524cdbe074dc60b596fa",
            "v3:address+skus:bb0901a6a23dea93714b34d2ca18b416",
            "v3:buyer+skus:fdb713ab3030ab5633978b14d9ecd828",
        ),
        (
            "v3:address+skus:55121eafffc78cf1c304ebf86eaadd55",
            "v3:buyer+skus:f5debdd909e3b9fc6dc219c921c798f0",
        ),
        (
            "v3:phone+skus:3c9e09be5a8a28e423a64ba38c323687",
            "v3:address+skus:259b58be379c7f8f557072f1839c78ba",
            "v3:buyer+skus:2322ccb39daaeae727259fc8f9016df2",
        ),
        (
            "v3:address+skus:52cde6b6a2bb7e61cafea058b7920c06",
            "v3:buyer+skus:608d0c3436ac317c5c211c3e98089aa4",
        ),
        (
            "v3:phone+skus:404ba0412ba9c42137c7cade91b30e8e",
            "v3:address+skus:5936b71c6f3b7076c3d5161d0e473399",
            "v3:buyer+skus:2a2ba2304b5c2e4e0872ff82bb459320",
        ),
        ("v3:buyer+skus:a3df18953a5f028d54a2b0e071ceba8c",),
        (
            "v3:phone+skus:0df8f627ec54b405a2ac86a63237585d",
            "v3:address+skus:c9b3ec7baa925f771183d6b1c0692323",
            "v3:buyer+skus:2c312d554ca30526088a2efc07942de3",
        ),
        (
            "v3:phone+skus:a0e601247918e81898a8560307b7e6e6",
            "v3:phone+skus:fe1150860b1f05f8f0710752c139810a",
            "v3:address+skus:19259d8130dd4dac89795301a270aae8",
            "v3:buyer+skus:b48930a019ff64020ecaa43ffad4ca60",
        ),
        (
            "v3:phone+skus:9716a0d058f7c62057ddaa315da95605",
            "v3:address+skus:6de256b5c9981643a1e37d687946f70f",
            "v3:buyer+skus:56a4fc92ed21f84bbfc7a986e4fa965f",
        ),
    ],
}


def order(n: int) -> Order:
    channel, buyer_id, phone, address, address_phone, lines = CASES[n]
    country, province, city, district, street = address
    return Order(
        order_id=f"O-{n}",
        channel=channel,
        buyer=Buyer(buyer_id, "n", phone),
        address=Address(
            country,
            province=province,
            city=city,
            district=district,
            street=street,
            phone=address_phone,
        ),
        lines=[
            OrderLine(f"L{i}", sku, quantity, PRICE)
            for i, (sku, quantity) in enumerate(lines, start=1)
        ],
        placed_at=PLACED,
    )


CASE_IDS = [f"{name}-{n}" for name in FINGERPRINTERS for n in range(len(CASES))]


@pytest.mark.parametrize(
    ("name", "n"),
    [(name, n) for name in FINGERPRINTERS for n in range(len(CASES))],
    ids=CASE_IDS,
)
class TestPinnedValues:
    def test_the_fingerprints_are_the_pinned_ones(self, name: str, n: int) -> None:
        found = FINGERPRINTERS[name].fingerprints(order(n))
        assert tuple(str(f) for f in found) == PINNED[name][n][0]

    def test_in_a_given_region_too(self, name: str, n: int) -> None:
        found = FINGERPRINTERS[name].fingerprints(order(n), region="GB")
        assert tuple(str(f) for f in found) == PINNED[f"{name}@GB"][n]

    def test_the_buyer_phone_is_the_pinned_one(self, name: str, n: int) -> None:
        assert buyer_phone(FINGERPRINTERS[name], order(n)) == PINNED[name][n][1]

    def test_the_detector_reads_both_in_one_pass(self, name: str, n: int) -> None:
        fingerprints, phone = FINGERPRINTERS[name]._screen(order(n))
        assert tuple(str(f) for f in fingerprints) == PINNED[name][n][0]
        assert phone == PINNED[name][n][1]


def outcome(call: Any) -> object:
    """What a call returns, or the type, field and message of what it raises."""
    try:
        return call()
    except OrderkitError as error:
        return (type(error), getattr(error, "field", None), str(error))


phones = st.one_of(
    st.none(),
    st.sampled_from(
        ["13800138000", "+86 138-0013-8000", "13800138000转12", "138****8000", " "]
    ),
    st.text(alphabet="0123456789+-() #转x", max_size=20),
    st.text(max_size=8),
)


# SKUs an order line takes (no blank, control, format, unassigned or
# private-use characters), so that few drawn orders are rejected and the
# health check never fails for it: the SKU's own refusals are tested with
# OrderLine.
skus = st.text(
    alphabet=st.characters(
        blacklist_categories=("Cc", "Cf", "Cn", "Co", "Cs", "Zl", "Zp", "Zs")
    ),
    min_size=1,
    max_size=4,
)


@st.composite
def orders(draw: st.DrawFn) -> Order:
    try:
        return Order(
            order_id="O-1",
            channel=draw(st.sampled_from(["douyin", " Taobao ", "TMALL"])),
            buyer=Buyer(draw(st.sampled_from(["b1", " b 2 "])), "n", draw(phones)),
            address=Address(
                draw(st.sampled_from(["CN", "US"])),
                province=draw(st.sampled_from(["北京", "广东省", ""])),
                street=draw(st.sampled_from(["建国路88号", "1 Main St", "**", " "])),
                phone=draw(phones),
            ),
            lines=[OrderLine("L1", draw(skus), 1, PRICE)],
            placed_at=PLACED,
        )
    except ValidationError:
        reject()


@settings(max_examples=300)
@given(orders(), st.sampled_from(sorted(FINGERPRINTERS)))
def test_one_pass_reads_what_the_two_reads_give(order: Order, name: str) -> None:
    fingerprinter = FINGERPRINTERS[name]
    both = outcome(lambda: fingerprinter._screen(order))
    assert both == outcome(
        lambda: (fingerprinter.fingerprints(order), buyer_phone(fingerprinter, order))
    )
