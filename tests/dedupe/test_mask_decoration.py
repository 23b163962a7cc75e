"""Mask characters that hide nothing are decoration, not a masked value.

A platform masks a number or an address by putting its marks in place of
characters (`138****8000`, `建国路**号`), and such a value counts as absent.
A buyer on a free-text storefront types the same marks beside a whole number
or street (`"13800138000 *"`, `"科苑路15号3栋1201室 **请放快递柜**"`): read as
masked, that switched off the phone and address limits and fingerprints of
the order, so one person could order again and again under a one-per-phone,
one-per-address rule.
"""

from __future__ import annotations

import datetime as dt

import pendulum
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from orderkit.adapters.memory import MemoryUnitOfWork
from orderkit.dedupe import (
    Fingerprint,
    Fingerprinter,
    FingerprintKind,
    normalize_address,
    normalize_phone,
)
from orderkit.money import Money
from orderkit.orders import Address, Buyer, Order, OrderLine
from orderkit.pricing import LimitRule, LimitScope
from orderkit.services import (
    Accepted,
    DeskPolicy,
    Ledger,
    OrderDesk,
    RefusalReason,
    Refused,
)
from orderkit.testing import FrozenClock, channel_order


MOBILE = "+8613800138000"
STREET = "科苑路15号3栋1201室"
NANSHAN = ("广东省", "深圳市", "南山区")
NANSHAN_KEY = "CN:广东深圳南山科苑路15号3栋1201"


def nanshan(street: str) -> Address:
    return Address("CN", *NANSHAN, street)


# --------------------------------------------------------------------------
# Phones


class TestDecoratedPhones:
    """A whole number with marks beside it, or among its digits, is the number."""

    @pytest.mark.parametrize(
        "written",
        [
            "13800138000 *",
            "*13800138000",
            "138*00138000",
            "138 0013 8000 xx",
            "13800138000XX",
            "13800138000 \u2022",
            "＊13800138000",  # noqa: RUF001 - a full-width asterisk
            "+86 138 0013 8000 **",
            "(+86) 138-0013-8000 *",
        ],
    )
    @pytest.mark.parametrize("lenient", [False, True])
    def test_is_the_number(self, written: str, lenient: bool) -> None:
        assert normalize_phone(written, lenient=lenient) == MOBILE

    @pytest.mark.parametrize(
        ("written", "number"),
        [
            ("13800138000转1234 *", f"{MOBILE};ext=1234"),
            ("13800138000 ext 12", f"{MOBILE};ext=12"),
            ("13800138000 ext 12 xx", f"{MOBILE};ext=12"),
            ("13800138000 x12 *", f"{MOBILE};ext=12"),
            ("*13800138000-1234", f"{MOBILE};ext=1234"),
        ],
    )
    def test_keeps_its_extension(self, written: str, number: str) -> None:
        assert normalize_phone(written) == number

    def test_a_mobile_extension_is_dropped_as_without_marks(self) -> None:
        written = "13800138000-1 *"
        assert normalize_phone(written, mobile_extensions=False) == MOBILE


class TestMaskedPhonesStayMasked:
    """Marks in place of digits leave no valid number: the value is absent."""

    @pytest.mark.parametrize(
        "masked",
        [
            "138****8000",
            "138＊＊＊＊8000",  # noqa: RUF001 - full-width asterisks
            "138\u2022\u2022\u2022\u20228000",
            "138\u25cf\u25cf\u25cf\u25cf8000",
            "138\u00d7\u00d7\u00d7\u00d78000",
            "138\u2217\u2217\u2217\u22178000",
            "138xxxx8000",
            "138XXXX8000",
            "+86 138****8000",
            "1380013800*",
            "138****8000转12",
            # A relay number's extension masked: buyers of the shared number
            # are told apart by it alone.
            "13800138000转12**",
            "13800138000转**",
            "13800138000-****",
            "+1 415 555 2671-****",
            "13800138000 ext 1**2",
            "010-8888****",
            "0755-2888****",
            "****",
            "* xx",
            "abc*",
        ],
    )
    @pytest.mark.parametrize("lenient", [False, True])
    def test_gives_none_never_an_error(self, masked: str, lenient: bool) -> None:
        assert normalize_phone(masked, lenient=lenient) is None


mobiles = st.builds(
    "1{}{:09d}".format,
    st.sampled_from("3456789"),
    st.integers(0, 10**9 - 1),
).filter(lambda number: bool(normalize_phone(number, lenient=True)))
# The marks of addresses; phones' are these, the multiplication sign and xx.
address_masks = st.sampled_from(["*", "＊", "\u2022", "\u25cf", "\u2217"])  # noqa: RUF001
mask_characters = address_masks | st.just("\u00d7")
# Marks apart from the words, as a buyer types them: with a space (or
# punctuation) between them and the text on either end.
address_decorations = st.one_of(
    st.builds(
        " {} ".format,
        st.builds("".join, st.lists(address_masks, min_size=1, max_size=3)),
    ),
    st.sampled_from([" * ", " ** ", " (*) "]),
)
decorations = address_decorations | st.sampled_from(["xx", "XXX", " xx", "\u00d7"])


@given(mobiles, decorations, decorations, st.booleans(), st.booleans())
def test_marks_around_a_number_never_change_it(
    mobile: str, front: str, back: str, before: bool, after: bool
) -> None:
    written = f"{front if before else ''}{mobile}{back if after else ''}"
    assert normalize_phone(written) == f"+86{mobile}"


@given(mobiles, st.data(), mask_characters)
def test_marks_over_digits_after_the_prefix_give_none(
    mobile: str, data: st.DataObject, mask: str
) -> None:
    # Platforms show a mobile's first three digits (its carrier's prefix) and
    # hide some after them: what is left is never a valid number.
    start = data.draw(st.integers(3, 10), label="start")
    length = data.draw(st.integers(1, 11 - start), label="length")
    written = mobile[:start] + mask * length + mobile[start + length :]
    assert normalize_phone(written) is None
    assert normalize_phone(written.replace(mask * length, "x" * max(length, 2))) is None


@given(
    st.text(alphabet="0123456789 +-()#转xX*\u2022abc", max_size=30).filter(
        lambda text: "*" in text or "\u2022" in text or "xx" in text.casefold()
    )
)
def test_masks_are_never_a_refusal(text: str) -> None:
    # A number if the marks hid nothing, else masked: InvalidPhone never.
    found = normalize_phone(text)
    assert found is None or found.startswith("+")


# --------------------------------------------------------------------------
# Addresses


class TestDecoratedAddresses:
    """Marks apart from a street's words are decoration."""

    @pytest.mark.parametrize(
        "street",
        [
            f"{STREET} *",
            f"* {STREET}",
            f"** {STREET}",
            f"{STREET} ＊＊",  # noqa: RUF001 - full-width asterisks
            f"{STREET} \u2022\u2022",
            f"{STREET} (**)",
            "科苑路15号 * 3栋1201室",
        ],
    )
    def test_key_as_without_them(self, street: str) -> None:
        assert normalize_address(nanshan(street)) == NANSHAN_KEY

    def test_a_note_in_stars_apart_from_it_keys_as_the_note(self) -> None:
        # The note's own words stay in the key, as they do unstarred.
        noted = normalize_address(nanshan(f"{STREET} ** 请放快递柜 **"))
        assert noted is not None
        assert noted == normalize_address(nanshan(f"{STREET} 请放快递柜"))

    def test_us_streets(self) -> None:
        plain = Address("US", "CA", "San Francisco", "", "1 Market St Apt 5")
        for street in (
            "1 Market St Apt 5 **",
            "* 1 Market St Apt 5",
            "1 Market St * Apt 5",
        ):
            decorated = Address("US", "CA", "San Francisco", "", street)
            assert normalize_address(decorated) == normalize_address(plain)

    @pytest.mark.parametrize(
        "district", ["南山区 *", "* 南山区", "南山区 (**)", "南山区 \u2022"]
    )
    def test_a_name_with_marks_apart_from_it(self, district: str) -> None:
        address = Address("CN", "广东省", "深圳市", district, STREET)
        assert normalize_address(address) == NANSHAN_KEY


class TestMaskedAddressesStayMasked:
    """Marks in place of characters make the address absent, as before."""

    @pytest.mark.parametrize(
        "address",
        [
            Address("CN", "北京市", "北京市", "朝阳区", "建国路**号"),
            Address("CN", street="北京市朝阳区建国路＊＊号"),  # noqa: RUF001
            Address("CN", "浙江省", "杭州市", "西湖区", "文***路1号"),
            Address("CN", "上海", "上海市", "浦东新区", "世纪大道\u2022\u2022号"),
            nanshan("科苑路15号*3栋1201室"),
            # Platforms mask a street from its end too: a buyer's mark typed
            # against the last word cannot be told from one.
            Address("CN", "浙江省", "杭州市", "余杭区", "文一西路***"),
            Address("CN", "浙江省", "杭州市", "余杭区", "文一西路\u2022\u2022\u2022"),
            nanshan(f"{STREET}*"),
            nanshan(f"*{STREET}"),
            nanshan(f"{STREET} **请放快递柜**"),
            nanshan("**"),
            nanshan(" * "),
            Address("CN", "北京市", "", "朝\u2022\u2022", "建国路88号"),
            Address("CN", "北京市", "", "**区", "建国路88号"),
            Address("CN", "**", "", "", "建国路88号"),
            Address("US", "CA", "San Francisco", "", "1 Market St Apt 5**7"),
        ],
    )
    def test_gives_none(self, address: Address) -> None:
        assert normalize_address(address) is None


streets = st.sampled_from(
    [STREET, "建国路88号国贸大厦B座1203", "北京市朝阳区建国路88号", "人民路1号", "a室"]
)
word_characters = st.sampled_from(list("路号栋室1a文京"))


@given(streets, address_decorations, st.booleans())
def test_marks_at_an_end_never_change_the_key(
    street: str, marks: str, front: bool
) -> None:
    decorated = f"{marks}{street}" if front else f"{street}{marks}"
    assert normalize_address(nanshan(decorated)) == normalize_address(nanshan(street))
    # And a second time, from the caches.
    assert normalize_address(nanshan(decorated)) == normalize_address(nanshan(street))


@given(
    st.text(alphabet="科苑路15号栋室 ", max_size=6),
    word_characters,
    st.builds("".join, st.lists(address_masks, min_size=1, max_size=4)),
    word_characters,
    st.text(alphabet="科苑路15号栋室 ", max_size=6),
)
def test_marks_between_characters_always_mask(
    head: str, before: str, marks: str, after: str, tail: str
) -> None:
    street = f"{head}{before}{marks}{after}{tail}"
    assume(street.strip())
    assert normalize_address(nanshan(street)) is None


# --------------------------------------------------------------------------
# Fingerprints and the desk


def order(order_id: str, phone: str, street: str) -> Order:
    return Order(
        order_id=order_id,
        channel="shopify",
        buyer=Buyer(f"guest-{order_id}", "王芳", phone),
        address=nanshan(street),
        lines=[OrderLine("L1", "SECKILL-1", 1, Money("9.90", "CNY"))],
        placed_at=pendulum.datetime(2026, 11, 11, tz="Asia/Shanghai"),
    )


def test_decorated_values_keep_their_fingerprints() -> None:
    fingerprinter = Fingerprinter.for_tests(relay_channels=set())
    kinds = {FingerprintKind.PHONE_SKUS, FingerprintKind.ADDRESS_SKUS}

    def matched(found: Order) -> set[Fingerprint]:
        return {f for f in fingerprinter.fingerprints(found) if f.kind in kinds}

    plain = matched(order("SH-0", "13800138000", STREET))
    assert {f.kind for f in plain} == kinds
    assert matched(order("SH-1", "13800138000 *", f"{STREET} *")) == plain
    assert matched(order("SH-2", "*13800138000", f"* {STREET}")) == plain
    assert matched(order("SH-3", "138 0013 8000 xx", f"{STREET} **")) == plain


DAY = dt.timedelta(days=1)


def desk(*scopes: LimitScope) -> OrderDesk:
    clock = FrozenClock(pendulum.datetime(2026, 11, 11, 0, 0, 5, tz="Asia/Shanghai"))
    unit = MemoryUnitOfWork()
    with unit as uow:
        Ledger(uow.ledger, clock).receive("SECKILL-1", "SZ-1", 100)
        uow.commit()
    rules = [
        LimitRule(scope, 1, DAY, sku="SECKILL-1", day_in="Asia/Shanghai")
        for scope in scopes
    ]
    policy = DeskPolicy(locations=["SZ-1"], limits=rules)
    return OrderDesk(unit, clock, policy, Fingerprinter.for_tests(relay_channels=set()))


def accept(on: OrderDesk, n: int, phone: str, street: str) -> object:
    return on.accept(
        channel_order(
            [("SECKILL-1", 1, "9.90")],
            order_id=f"SH-{n}",
            channel="shopify",
            buyer=Buyer(f"guest-{n}", "王芳", phone),
            address=nanshan(street),
        )
    )


def refused_for_limits(outcome: object) -> bool:
    return isinstance(outcome, Refused) and outcome.reason is RefusalReason.LIMITS


def test_one_buyer_cannot_order_again_by_decorating_the_phone_and_street() -> None:
    # The trial's flash sale: one per phone and one per address a day.
    on = desk(LimitScope.PHONE, LimitScope.ADDRESS)
    tries = [
        ("13800138000", f"{STREET} *"),
        ("13800138000 *", f"{STREET}*"),
        ("*13800138000", f"*{STREET}"),
        ("138 0013 8000 xx", f"{STREET} **请放快递柜**"),
    ]
    assert isinstance(accept(on, 0, "13800138000", STREET), Accepted)
    outcomes = [accept(on, n, *pair) for n, pair in enumerate(tries, start=1)]
    assert all(map(refused_for_limits, outcomes)), outcomes


def test_the_phone_limit_alone_sees_a_decorated_phone() -> None:
    on = desk(LimitScope.PHONE)
    assert isinstance(accept(on, 0, "13800138000", "人民路1号"), Accepted)
    for n, phone in enumerate(["13800138000 *", "*13800138000", "138 0013 8000 xx"]):
        assert refused_for_limits(accept(on, n + 1, phone, f"人民路{n + 2}号"))


def test_the_address_limit_alone_sees_a_decorated_street() -> None:
    on = desk(LimitScope.ADDRESS)
    assert isinstance(accept(on, 0, "13900139000", STREET), Accepted)
    phones = ["13700137000", "13600136000", "13500135000", "13300133000"]
    streets = [f"{STREET} *", f"* {STREET}", f"{STREET} (*)", f"{STREET} ＊＊"]  # noqa: RUF001
    for n, (phone, street) in enumerate(zip(phones, streets, strict=True)):
        assert refused_for_limits(accept(on, n + 1, phone, street)), street
