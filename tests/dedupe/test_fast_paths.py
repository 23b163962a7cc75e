"""Fast paths give exactly what the plain code they skip would give.

Fingerprints are persisted by users, so every shortcut on the way to one
(the phone numbers read without phonenumbers, the text folded without its
checks, the documents hashed from prepared starts) is held here against the
plain definition it replaces, byte for byte.
"""

from __future__ import annotations

import hashlib
from typing import Any

import pendulum
import pytest
from hypothesis import given, reject, settings
from hypothesis import strategies as st

from orderkit.dedupe import (
    Fingerprinter,
    FingerprintKind,
    _phones,
    normalize_address,
    normalize_phone,
    sku_multiset,
)
from orderkit.dedupe._fingerprints import FINGERPRINT_VERSION, canonical
from orderkit.dedupe._matches import check_fingerprints
from orderkit.errors import InvalidAddress, OrderkitError, ValidationError
from orderkit.money import Money
from orderkit.orders import Address, Buyer, Order, OrderLine


FOR_TESTS = Fingerprinter.for_tests()
TEST_KEY = b"orderkit tests: NOT a secret"
PRICE = Money("9.90", "CNY")
PLACED = pendulum.datetime(2026, 11, 11, 0, 5, tz="Asia/Shanghai")
MOBILE = "13800138000"


def full_width(text: str) -> str:
    """The text as a Chinese input method in full-width mode types it."""
    return "".join(chr(ord(c) + 0xFEE0) for c in text)


def outcome(call: Any, *args: Any) -> object:
    """What a call returns, or the type, field and message of what it raises."""
    try:
        return call(*args)
    except OrderkitError as error:
        return (type(error), getattr(error, "field", None), str(error))


def slow_fingerprints(order: Order, region: str = "CN") -> list[str]:
    """Fingerprints as documented: `canonical` documents, keyed BLAKE2b."""
    skus = sku_multiset(order.lines)
    documents: list[tuple[FingerprintKind, bytes]] = []
    phones: list[str] = []
    for raw in (order.buyer.phone, order.address.phone):
        if raw is None or not raw.strip():
            continue
        phone = normalize_phone(raw, region, lenient=True)
        if isinstance(phone, str) and phone not in phones:
            phones.append(phone)
            kind = FingerprintKind.PHONE_SKUS
            documents.append((kind, canonical(kind, skus, phone=phone)))
    try:
        address = normalize_address(order.address)
    except InvalidAddress:
        address = None
    if address is not None:
        kind = FingerprintKind.ADDRESS_SKUS
        documents.append((kind, canonical(kind, skus, address=address)))
    kind = FingerprintKind.BUYER_SKUS
    buyer = {
        "channel": order.channel.strip().casefold(),
        "buyer_id": order.buyer.buyer_id.strip(),
    }
    documents.append((kind, canonical(kind, skus, **buyer)))
    return [
        f"v{FINGERPRINT_VERSION}:{kind.value}:"
        + hashlib.blake2b(document, key=TEST_KEY, digest_size=16).hexdigest()
        for kind, document in documents
    ]


def written(digits: str, form: int) -> str:
    """A Chinese mobile number in one of the ways channels send it."""
    a, b, c = digits[:3], digits[3:7], digits[7:]
    forms = (
        digits,
        f"+86{digits}",
        f"+86 {a}-{b}-{c}",
        f"0086 {a} {b} {c}",
        f"86{digits}",
        f"({a}) {b}.{c}",
        f"+86{full_width(digits[:3])}{digits[3:]}",
        f" {digits}转12",
    )
    return forms[form % len(forms)]


mobiles = st.builds(
    lambda head, rest: f"1{head}{rest:08d}",
    st.sampled_from(["30", "38", "45", "62", "70", "74", "79", "92", "99", "11"]),
    st.integers(0, 10**8 - 1),
)
phone_texts = st.one_of(
    st.builds(written, mobiles, st.integers(0, 7)),
    st.text(alphabet="0123456789+-() .*x#转\uff18\uff16", max_size=20),
    st.text(max_size=12),
)
phones = st.one_of(st.none(), phone_texts)
parts = st.one_of(
    st.sampled_from(
        ["北京市", "北京", "广东省", "广东", "内蒙古自治区", "吉林", "深圳市", "市辖区"]
    ),
    st.sampled_from(["朝阳区", "南山区", "苏州市昆山市", "", " ", "Kentucky"]),
    st.text(alphabet="北京市省区路号 1\uff12-_.Aa\u3000\u200b\t*", max_size=12),
    st.text(max_size=8),
)
skus = st.one_of(
    st.sampled_from(
        ["SKU-1", "sku-1 ", full_width("SKU-1"), "Jade  Teapot", " ", "A" * 200]
    ),
    st.text(max_size=6),
)


@st.composite
def orders(draw: st.DrawFn) -> Order:
    try:
        return Order(
            order_id="O-1",
            channel=draw(st.sampled_from(["douyin", " Shopify ", "TMALL"])),
            buyer=Buyer(
                draw(st.sampled_from(["b1", " b 2 ", "买家"])), "n", draw(phones)
            ),
            address=Address(
                draw(st.sampled_from(["CN", "HK", "US"])),
                province=draw(parts),
                city=draw(parts),
                district=draw(parts),
                street=draw(parts),
                phone=draw(phones),
            ),
            lines=[
                OrderLine(f"L{i}", draw(skus), draw(st.integers(1, 3)), PRICE)
                for i in range(draw(st.integers(1, 3)))
            ],
            placed_at=PLACED,
        )
    except ValidationError:
        reject()


class TestFingerprints:
    """The fingerprinter's prepared hashing gives the documented digests."""

    @settings(max_examples=400)
    @given(orders(), st.sampled_from(["CN", "US"]))
    def test_every_order_gives_the_documented_digests(
        self, order: Order, region: str
    ) -> None:
        fast = outcome(
            lambda: [str(f) for f in FOR_TESTS.fingerprints(order, region=region)]
        )
        assert fast == outcome(slow_fingerprints, order, region)

    def test_a_phone_too_long_to_parse_is_read_as_normalize_phone_reads_it(
        self,
    ) -> None:
        long = order_with_phone(MOBILE + " " * 70)
        assert [str(f) for f in FOR_TESTS.fingerprints(long)] == slow_fingerprints(long)


def order_with_phone(phone: str) -> Order:
    return Order(
        order_id="O-1",
        channel="douyin",
        buyer=Buyer("b1", "n", phone),
        address=Address("CN", province="北京", street="建国路88号"),
        lines=[OrderLine("L1", "SKU-1", 1, PRICE)],
        placed_at=PLACED,
    )


class TestMobileShortcut:
    """Chinese mobile numbers read without phonenumbers read as it reads them."""

    @pytest.mark.parametrize("region", ["CN", "US"])
    def test_every_four_digit_prefix(self, region: str) -> None:
        answered = 0
        for prefix in range(1000, 2000):
            national = f"{prefix}{prefix * 7919 % 10**7:07d}"
            for dialled in (
                national,
                f"+86{national}",
                f"0086{national}",
                f"86{national}",
            ):
                fast = _phones._mobile(dialled, region)
                if fast is not None:
                    answered += 1
                    assert fast == _phones._library(dialled, region), dialled
        assert answered > 100  # the shortcut is in use

    @given(
        st.sampled_from(["", "+", "+86", "86", "0086", "00", "+860", "1"]),
        st.one_of(mobiles, st.text(alphabet="0123456789", min_size=1, max_size=16)),
        st.sampled_from(["CN", "CN", "US", "HK"]),
    )
    def test_any_digits_either_read_the_same_or_go_to_phonenumbers(
        self, prefix: str, digits: str, region: str
    ) -> None:
        dialled = prefix + digits
        fast = _phones._mobile(dialled, region)
        assert fast is None or fast == _phones._library(dialled, region)

    @pytest.mark.parametrize(
        "dialled", ["+8613800138000", "008613800138000", "8613800138000", MOBILE]
    )
    def test_the_common_forms_take_the_shortcut(self, dialled: str) -> None:
        assert "+8613800138000" == _phones._mobile(dialled, "CN")

    @given(phone_texts)
    def test_plain_text_reads_as_the_full_reading_reads_it(self, raw: str) -> None:
        for region in ("CN", "US"):
            assert _phones._read.__wrapped__(raw, region) == _phones._read_text(
                raw, region
            )


class TestStoredFingerprints:
    """`check_fingerprints` takes a tuple first, and checks it as any sequence."""

    def test_a_tuple_is_checked_item_by_item(self) -> None:
        found = FOR_TESTS.fingerprints(order_with_phone(MOBILE))
        assert check_fingerprints(found) == tuple(str(f) for f in found)
        assert check_fingerprints([*found, *found]) == check_fingerprints(found)
        with pytest.raises(ValidationError) as raised:
            check_fingerprints((*found, str(found[0])))
        assert raised.value.field == f"fingerprints[{len(found)}]"

    @pytest.mark.parametrize(
        "value",
        ["abc", b"abc", 42, {"a": 1}.keys()],
        ids=["str", "bytes", "int", "keys"],
    )
    def test_anything_else_is_refused_whole(self, value: object) -> None:
        with pytest.raises(ValidationError) as raised:
            check_fingerprints(value)
        assert raised.value.field == "fingerprints"
