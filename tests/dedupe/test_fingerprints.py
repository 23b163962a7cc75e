"""Fingerprints: versioned, keyed hashes that say which parts of two orders match."""

import datetime as dt
import hashlib
import json
import random
import secrets
from collections.abc import Sequence

import pendulum
import pytest
from hypothesis import given
from hypothesis import strategies as st

from orderkit.adapters.memory import MemoryDetectorStore
from orderkit.dedupe import (
    FINGERPRINT_VERSION,
    Fingerprint,
    Fingerprinter,
    FingerprintKind,
    normalize_address,
    sku_multiset,
)
from orderkit.dedupe._fingerprints import canonical
from orderkit.errors import ConfigurationError, ValidationError
from orderkit.money import Money
from orderkit.orders import Address, Buyer, Order, OrderLine
from orderkit.services import DuplicateDetector
from orderkit.testing import FrozenClock


PHONE = FingerprintKind.PHONE_SKUS
ADDRESS = FingerprintKind.ADDRESS_SKUS
BUYER = FingerprintKind.BUYER_SKUS
PLACED_AT = pendulum.datetime(2024, 11, 11, 20, 15, tz="Asia/Shanghai")
GUOMAO = Address(
    "CN",
    province="北京市",
    city="北京市",
    district="朝阳区",
    street="建国路88号国贸大厦B座1203",
    recipient="王芳",
    phone="13800138000",
)
GIFT_SET = (("MOONCAKE-GIFT-SET", 1), ("JADE-TEAPOT", 2))
FOR_TESTS = Fingerprinter.for_tests()


def order(
    *,
    order_id: str = "DY-6920001",
    channel: str = "douyin",
    buyer_id: str = "dy_4417",
    phone: str | None = "+86 138-0013-8000",
    address: Address = GUOMAO,
    lines: Sequence[tuple[str, int]] = GIFT_SET,
) -> Order:
    return Order(
        order_id=order_id,
        channel=channel,
        buyer=Buyer(buyer_id, "王芳", phone),
        address=address,
        lines=[
            OrderLine(f"L{i}", sku, quantity, Money("268.00", "CNY"))
            for i, (sku, quantity) in enumerate(lines, start=1)
        ],
        placed_at=PLACED_AT,
    )


def by_kind(
    fingerprints: Sequence[Fingerprint],
) -> dict[FingerprintKind, list[Fingerprint]]:
    found: dict[FingerprintKind, list[Fingerprint]] = {}
    for fingerprint in fingerprints:
        found.setdefault(fingerprint.kind, []).append(fingerprint)
    return found


class TestFingerprint:
    """A fingerprint is a value with a stable stored form."""

    DIGEST = "0123456789abcdef0123456789abcdef"

    def test_stored_form(self) -> None:
        fingerprint = Fingerprint("phone+skus", 1, self.DIGEST)
        assert f"v1:phone+skus:{self.DIGEST}" == str(fingerprint)
        assert PHONE is fingerprint.kind

    def test_parse_reads_the_stored_form_back(self) -> None:
        for fingerprint in FOR_TESTS.fingerprints(order()):
            again = Fingerprint.parse(str(fingerprint))
            assert fingerprint == again
            assert hash(fingerprint) == hash(again)

    @pytest.mark.parametrize(
        "text",
        [
            "",
            "phone+skus:0123456789abcdef",
            "v1:phone+skus",
            "v1:phone+skus:0123456789ABCDEF",
            "v1:phone+skus:0123456789abcdef:extra",
            "v1:email+skus:0123456789abcdef",
            "v0:phone+skus:0123456789abcdef",
        ],
    )
    def test_parse_refuses_anything_else(self, text: str) -> None:
        with pytest.raises(ValidationError):
            Fingerprint.parse(text)

    @pytest.mark.parametrize(
        ("kind", "version", "digest", "field"),
        [
            ("email+skus", 1, DIGEST, "kind"),
            ("phone+skus", 0, DIGEST, "version"),
            ("phone+skus", True, DIGEST, "version"),
            ("phone+skus", 1, "abc", "digest"),
            ("phone+skus", 1, "g" * 32, "digest"),
        ],
    )
    def test_fields_are_checked(
        self, kind: str, version: int, digest: str, field: str
    ) -> None:
        with pytest.raises(ValidationError) as caught:
            Fingerprint(kind, version, digest)
        assert field == caught.value.field

    def test_kinds_compare_with_their_strings(self) -> None:
        assert "address+skus" == ADDRESS
        assert {"phone+skus", "address+skus", "buyer+skus"} == set(FingerprintKind)


class TestSecret:
    """Fingerprints are keyed with the host's secret, never with a default."""

    @pytest.mark.parametrize(
        ("secret", "problem"),
        [
            (b"", "at least 16 bytes, got 0"),
            (b"too-short-secret"[:15], "at least 16 bytes, got 15"),
            (b"x" * 65, "at most 64 bytes"),
            ("a string, not bytes!", "must be bytes, not str"),
            (None, "must be bytes, not NoneType"),
            (b"orderkit tests: NOT a secret", "public test key"),
        ],
    )
    def test_a_bad_secret_is_a_configuration_error(
        self, secret: bytes, problem: str
    ) -> None:
        with pytest.raises(ConfigurationError, match=problem) as caught:
            Fingerprinter(secret)
        assert "secret" == caught.value.setting

    @pytest.mark.parametrize("size", [16, 32, 64])
    def test_16_to_64_bytes_are_accepted(self, size: int) -> None:
        Fingerprinter(secrets.token_bytes(size))

    def test_the_repr_never_shows_the_secret(self) -> None:
        secret = b"s3cr3t-s3cr3t-s3cr3t"
        shown = repr(Fingerprinter(secret, region="CN"))
        assert "s3cr3t" not in shown
        assert "Fingerprinter(region='CN', secret=<hidden>)" == shown
        assert "public test key" in repr(FOR_TESTS)

    def test_another_secret_gives_other_digests(self) -> None:
        ours = FOR_TESTS.fingerprints(order())
        theirs = Fingerprinter(secrets.token_bytes(32)).fingerprints(order())
        assert [f.kind for f in ours] == [f.kind for f in theirs]
        assert not {f.digest for f in ours} & {f.digest for f in theirs}

    def test_a_known_buyer_cannot_be_recomputed_without_the_key(self) -> None:
        stored = by_kind(FOR_TESTS.fingerprints(order()))[PHONE][0].digest
        skus = sku_multiset(order().lines)
        # An attacker who knows the algorithm and guesses the right number
        # still cannot confirm it: unkeyed, or keyed with any other key, the
        # digest differs.
        document = canonical(PHONE, skus, phone="+8613800138000")
        unkeyed = hashlib.blake2b(document, digest_size=16).hexdigest()
        wrong_key = hashlib.blake2b(
            document, key=b"a guess at the key", digest_size=16
        ).hexdigest()
        assert stored not in {unkeyed, wrong_key}
        # Trying every number near it without the key finds nothing either.
        guesses = {
            hashlib.blake2b(
                canonical(PHONE, skus, phone=f"+86138001{n:05d}"), digest_size=16
            ).hexdigest()
            for n in range(37_900, 38_100)
        }
        assert stored not in guesses
        # With the key, the same document gives the stored digest.
        keyed = hashlib.blake2b(
            document, key=b"orderkit tests: NOT a secret", digest_size=16
        ).hexdigest()
        assert stored == keyed


class TestPinnedDigests:
    """Digests are stable across processes, machines and Python versions."""

    def test_the_guomao_order(self) -> None:
        assert [
            "v3:phone+skus:de264e3eaf19f599e5560189b697b745",
            "v3:address+skus:ab4ebbbab8f266106d1a77dde26358b7",
            "v3:buyer+skus:52d26ba5b914edafda376e5a1d3d22a1",
        ] == [str(f) for f in FOR_TESTS.fingerprints(order())]

    def test_a_shopify_order_abroad(self) -> None:
        abroad = order(
            channel="shopify",
            buyer_id="207119551",
            phone="+16136120707",
            address=Address(
                "US",
                province="Kentucky",
                city="Louisville",
                street="Chestnut Street 92",
            ),
            lines=[("IPOD2008BLACK", 1)],
        )
        assert [
            "v3:phone+skus:6c5f652ef5a876a74c1eb0679e510088",
            "v3:address+skus:ae2a753e08c649fcf5005c9eef4ded96",
            "v3:buyer+skus:cc5cce77f4e05916c4f0172516bc51c2",
        ] == [str(f) for f in FOR_TESTS.fingerprints(abroad, region="US")]

    def test_the_guomao_address_key(self) -> None:
        # What the pinned address digest hashes, so a change shows up here
        # first, with a readable diff.
        assert "CN:北京朝阳建国路88号国贸大厦b座1203" == normalize_address(GUOMAO)

    def test_the_canonical_encoding(self) -> None:
        document = canonical(PHONE, (("jade-teapot", 2),), phone="+8613800138000")
        assert (
            b'{"kind":"phone+skus","phone":"+8613800138000",'
            b'"skus":[["jade-teapot",2]],"v":3}'
        ) == document

    @given(
        st.lists(
            st.tuples(st.text(), st.integers(min_value=1, max_value=2**63 - 1)),
            max_size=4,
        ),
        st.sampled_from(list(FingerprintKind)),
        st.dictionaries(st.sampled_from(["phone", "address", "channel"]), st.text()),
    )
    def test_the_encoding_is_plain_sorted_json(
        self,
        skus: list[tuple[str, int]],
        kind: FingerprintKind,
        parts: dict[str, str],
    ) -> None:
        document = {"kind": kind.value, "skus": skus, "v": 3, **parts}
        expected = json.dumps(
            document, ensure_ascii=True, sort_keys=True, separators=(",", ":")
        )
        assert expected.encode("ascii") == canonical(kind, tuple(skus), **parts)

    def test_the_version(self) -> None:
        # 3 since address keys fold US state names, USPS words, traditional
        # unit characters and a room's final 室, and read a missing province
        # from its city (2: combining marks and unassigned characters stay in
        # address words, which version 1 read as separators).
        assert 3 == FINGERPRINT_VERSION

    def test_vowel_signs_and_rare_characters_stay_in_address_words(self) -> None:
        def key(street: str, country: str = "IN") -> str:
            found = normalize_address(Address(country, city="Delhi", street=street))
            assert found is not None
            return found

        assert key("कमला नगर, 12") != key("कमल नगर, 12")
        assert key("1 ซอยกิน", "TH") != key("1 ซอยกัน", "TH")
        assert key("桃源\U00031350村1号", "CN") != key("桃源村1号", "CN")


class TestWhichPartsMatch:
    """Each part an order has gives one fingerprint, so a match names the part."""

    def test_a_complete_order_has_all_three_kinds(self) -> None:
        kinds = [f.kind for f in FOR_TESTS.fingerprints(order())]
        assert [PHONE, ADDRESS, BUYER] == kinds

    def test_brief_scenario_douyin_and_mini_program(self) -> None:
        # The same buyer orders the gift set on Douyin and in the
        # mini-program: other order, channel and account, the phone and the
        # address written differently.
        douyin = order(
            phone="+86 138-0013-8000",
            address=Address("CN", street="北京市朝阳区建国路88号国贸大厦B座1203"),
        )
        mini_program = order(
            order_id="MP-20241111-0042",
            channel="mini_program",
            buyer_id="wx_oX3kd92",
            phone="13800138000",
            address=Address(
                "CN",
                province="北京",
                district="朝阳区",
                street="建国路88号国贸大厦B座1203",
            ),
            lines=[("jade-teapot", 1), ("mooncake-gift-set", 1), ("JADE-TEAPOT", 1)],
        )
        shared = set(FOR_TESTS.fingerprints(douyin)) & set(
            FOR_TESTS.fingerprints(mini_program)
        )
        assert {PHONE, ADDRESS} == {f.kind for f in shared}

    def test_brief_scenario_with_the_number_masked_by_douyin(self) -> None:
        # Douyin usually masks the number: the address alone still matches.
        douyin = order(
            phone="138****8000",
            address=Address("CN", street="北京市朝阳区建国路88号国贸大厦B座1203"),
        )
        mini_program = order(
            channel="mini_program",
            buyer_id="wx_oX3kd92",
            phone="13800138000",
            address=Address(
                "CN",
                province="北京市",
                city="市辖区",
                district="朝阳区",
                street="建国路88号 国贸大厦 B座 1203",
            ),
        )
        shared = set(FOR_TESTS.fingerprints(douyin)) & set(
            FOR_TESTS.fingerprints(mini_program)
        )
        assert {ADDRESS} == {f.kind for f in shared}

    @pytest.mark.parametrize(
        "phone",
        [None, "", "   ", "138****8000", "138＊＊＊＊8000", "10086", "abc"],  # noqa: RUF001
    )
    def test_an_absent_masked_or_invalid_phone_gives_none(
        self, phone: str | None
    ) -> None:
        masked_recipient = Address(
            "CN", street="北京市朝阳区建国路88号", phone="138****8000"
        )
        kinds = [
            f.kind
            for f in FOR_TESTS.fingerprints(
                order(phone=phone, address=masked_recipient)
            )
        ]
        assert [ADDRESS, BUYER] == kinds

    def test_two_masked_phones_never_match(self) -> None:
        one = order(phone="138****8000", address=Address("CN", street="人民路1号"))
        other = order(phone="138****8000", address=Address("CN", street="人民路2号"))
        shared = set(FOR_TESTS.fingerprints(one)) & set(FOR_TESTS.fingerprints(other))
        assert {BUYER} == {f.kind for f in shared}

    def test_the_recipients_phone_counts_too(self) -> None:
        gift = order(
            phone="13900139000",
            address=Address(
                "CN", street="上海市浦东新区世纪大道100号", phone="13800138000"
            ),
        )
        phones = by_kind(FOR_TESTS.fingerprints(gift))[PHONE]
        assert 2 == len(phones)
        buyer_only = order(
            phone="13800138000", address=Address("CN", street="人民路1号")
        )
        assert by_kind(FOR_TESTS.fingerprints(buyer_only))[PHONE][0] in phones

    def test_one_number_twice_gives_one_phone_fingerprint(self) -> None:
        assert 1 == len(by_kind(FOR_TESTS.fingerprints(order()))[PHONE])

    @pytest.mark.parametrize(
        "address",
        [
            Address("CN", street="建国路**号", province="北京市"),
            Address("CN", street="   ", province="北京市"),
            Address("CN", street="建国路88号", district="朝阳区\x07"),
        ],
    )
    def test_a_masked_or_blank_address_gives_none(self, address: Address) -> None:
        kinds = [f.kind for f in FOR_TESTS.fingerprints(order(address=address))]
        assert [PHONE, BUYER] == kinds

    def test_a_street_repeating_the_district_matches_the_address(self) -> None:
        # Incident 6: typing the district again before the door made the
        # address fingerprint miss, so a duplicate to that door went unflagged.
        plain = Address("CN", "广东省", "深圳市", "南山区", "科技园1号")
        repeated = Address("CN", "广东省", "深圳市", "南山区", "南山区科技园1号")
        assert (
            by_kind(FOR_TESTS.fingerprints(order(address=plain)))[ADDRESS]
            == by_kind(FOR_TESTS.fingerprints(order(address=repeated)))[ADDRESS]
        )

    def test_buyer_ids_are_per_channel(self) -> None:
        douyin = by_kind(FOR_TESTS.fingerprints(order(channel="douyin")))[BUYER]
        youzan = by_kind(FOR_TESTS.fingerprints(order(channel="youzan")))[BUYER]
        assert douyin != youzan

    def test_parts_never_run_into_each_other(self) -> None:
        one = order(channel="shop", buyer_id="1-23")
        other = order(channel="shop1", buyer_id="-23")
        assert (
            by_kind(FOR_TESTS.fingerprints(one))[BUYER]
            != by_kind(FOR_TESTS.fingerprints(other))[BUYER]
        )


class TestRegions:
    """Phones are read in the channel's region unless the caller says otherwise."""

    US_ORDER = order(
        channel="shopify",
        phone="(502) 555-0143",
        address=Address("US", street="1 Main St"),
    )

    def test_the_default_region_reads_a_us_number_as_junk(self) -> None:
        kinds = {f.kind for f in FOR_TESTS.fingerprints(self.US_ORDER)}
        assert PHONE not in kinds

    def test_a_region_per_channel(self) -> None:
        per_channel = Fingerprinter.for_tests(channel_regions={"shopify": "US"})
        explicit = FOR_TESTS.fingerprints(self.US_ORDER, region="US")
        assert explicit == per_channel.fingerprints(self.US_ORDER)
        assert PHONE in {f.kind for f in explicit}

    @pytest.mark.parametrize(
        ("kwargs", "setting"),
        [
            ({"region": "XX"}, "region"),
            ({"channel_regions": {"shopify": "usa"}}, "channel_regions['shopify']"),
        ],
    )
    def test_an_unknown_region_is_a_configuration_error(
        self, kwargs: dict[str, object], setting: str
    ) -> None:
        with pytest.raises(ConfigurationError) as caught:
            Fingerprinter(secrets.token_bytes(32), **kwargs)  # type: ignore[arg-type]
        assert setting == caught.value.setting

    def test_an_unknown_region_per_call(self) -> None:
        with pytest.raises(ConfigurationError):
            FOR_TESTS.fingerprints(order(), region="XX")


# Strategies for the properties: lines of a few SKUs in any quantity.
SKUS = ["JADE-TEAPOT", "MOONCAKE-GIFT-SET", "VELVET-LAMP", "TEAK-STOOL"]
line_lists = st.lists(
    st.tuples(st.sampled_from(SKUS), st.integers(min_value=1, max_value=20)),
    min_size=1,
    max_size=4,
)


class TestProperties:
    """Fingerprints depend on what was ordered, never on how lines are laid out."""

    @given(line_lists, st.randoms(use_true_random=False))
    def test_reordered_lines_give_equal_fingerprints(
        self, lines: list[tuple[str, int]], rng: random.Random
    ) -> None:
        shuffled = list(lines)
        rng.shuffle(shuffled)
        assert FOR_TESTS.fingerprints(order(lines=lines)) == FOR_TESTS.fingerprints(
            order(lines=shuffled)
        )

    @given(line_lists, st.data())
    def test_split_lines_give_equal_fingerprints(
        self, lines: list[tuple[str, int]], data: st.DataObject
    ) -> None:
        split: list[tuple[str, int]] = []
        for sku, quantity in lines:
            first = data.draw(st.integers(min_value=0, max_value=quantity - 1))
            split += (
                [(sku, quantity - first), (sku.lower(), first)]
                if first
                else [(sku, quantity)]
            )
        assert FOR_TESTS.fingerprints(order(lines=lines)) == FOR_TESTS.fingerprints(
            order(lines=split)
        )

    @given(line_lists, st.integers(min_value=0, max_value=3))
    def test_another_quantity_changes_every_fingerprint(
        self, lines: list[tuple[str, int]], which: int
    ) -> None:
        index = which % len(lines)
        sku, quantity = lines[index]
        more = [*lines[:index], (sku, quantity + 1), *lines[index + 1 :]]
        before = FOR_TESTS.fingerprints(order(lines=lines))
        after = FOR_TESTS.fingerprints(order(lines=more))
        assert [f.kind for f in before] == [f.kind for f in after]
        assert all(b != a for b, a in zip(before, after, strict=True))


class TestOneDoorOneAddressFingerprint:
    """Structured parts written with or without their suffixes match."""

    def test_a_city_without_its_suffix_before_a_district_starting_with_it(
        self,
    ) -> None:
        # 青岛 / 市南区 and 青岛市 / 市南区 are one door: the duplicate screen
        # and the address purchase limit see one address.
        def qingdao(city: str, street: str) -> Address:
            return Address(
                "CN", province="山东省", city=city, district="市南区", street=street
            )

        first = by_kind(
            FOR_TESTS.fingerprints(order(address=qingdao("青岛市", "香港中路10号")))
        )
        for address in (
            qingdao("青岛", "香港中路10号"),
            qingdao("青岛", "山东 青岛 市南区 香港中路10号"),
        ):
            again = by_kind(FOR_TESTS.fingerprints(order(address=address)))
            assert first[ADDRESS] == again[ADDRESS]

    def test_the_detector_checks_an_extension_in_other_digits(self) -> None:
        # The extension of 转١٢٣٤ is stored as 1234, which stores accept.
        detector = DuplicateDetector(
            dt.timedelta(hours=1),
            MemoryDetectorStore(),
            FOR_TESTS,
            FrozenClock(PLACED_AT),
        )
        relay = "17012345678\u8f6c\u0661\u0662\u0663\u0664"
        assert not detector.check(order(phone=relay)).suspected
        assert detector.check(
            order(order_id="DY-2", phone="17012345678转1234")
        ).suspected
