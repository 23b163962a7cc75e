"""Phone numbers and their keys, shared by the phone-mark tests."""

from __future__ import annotations

import datetime as dt

import pendulum
import phonenumbers
from hypothesis import assume
from hypothesis import strategies as st

from orderkit.dedupe import Fingerprinter, FingerprintKind
from orderkit.money import Money
from orderkit.orders import Address, Buyer, Order, OrderLine
from orderkit.pricing import LimitRule, LimitScope, PurchaseContext, limit_keys


def order(n: int, phone: str, country: str) -> Order:
    return Order(
        order_id=f"SH-{n}",
        channel="shopify",
        buyer=Buyer(f"guest-{n}", "王芳", phone),
        address=Address(country, street=f"Street {n}"),
        lines=[OrderLine("L1", "SECKILL-1", 1, Money("9.90", "CNY"))],
        placed_at=pendulum.datetime(2026, 11, 11, tz="Asia/Shanghai"),
    )


def phone_keys(phone: str, region: str) -> set[str]:
    """The phone fingerprints and phone limit keys of an order with `phone`."""
    fingerprinter = Fingerprinter.for_tests(relay_channels=set())
    found = order(0, phone, region)
    fingerprints = {
        str(f)
        for f in fingerprinter.fingerprints(found, region=region)
        if f.kind is FingerprintKind.PHONE_SKUS
    }
    rule = LimitRule(LimitScope.PHONE, 1, dt.timedelta(days=1))
    context = PurchaseContext.of(found, region=region)
    return fingerprints | {key.key for key in limit_keys([rule], context)}


_TYPES = [
    phonenumbers.PhoneNumberType.MOBILE,
    phonenumbers.PhoneNumberType.FIXED_LINE,
    phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE,
]
_EXAMPLES = sorted(
    {
        phonenumbers.format_number(example, phonenumbers.PhoneNumberFormat.E164)
        for region in phonenumbers.SUPPORTED_REGIONS
        for kind in _TYPES
        if (example := phonenumbers.example_number_for_type(region, kind)) is not None
        and phonenumbers.is_valid_number(example)
    }
)
mobiles = st.builds(
    "+861{}{:09d}".format,
    st.sampled_from("3456789"),
    st.integers(0, 10**9 - 1),
)
regions = st.sampled_from(sorted(phonenumbers.SUPPORTED_REGIONS))
marks = st.sampled_from(["*", "＊", "\u2022", "\u25cf", "\u00d7", "\u2217"])  # noqa: RUF001


@st.composite
def valid_numbers(draw: st.DrawFn) -> str:
    """A valid number in E.164: an example number with its end redrawn."""
    base = draw(st.sampled_from(_EXAMPLES) | mobiles)
    tail = draw(st.integers(0, 4))
    digits = draw(st.text(alphabet="0123456789", min_size=tail, max_size=tail))
    number = base[: len(base) - tail] + digits
    assume(phonenumbers.is_valid_number(phonenumbers.parse(number)))
    return number


def fills_to_a_number(marked: str, mark: str, region: str) -> bool:
    """Whether one digit in place of every mark gives a valid number.

    Asked of phonenumbers alone: where it does, as in a region whose numbers
    vary in length (`030 • 1234567` in DE may be a masked `030?1234567`), the
    marks may stand for digits, and a masked reading is right.
    """
    for digit in "0123456789":
        try:
            filled = phonenumbers.parse(marked.replace(mark, digit), region)
        except phonenumbers.NumberParseException:
            continue
        if phonenumbers.is_valid_number(filled):
            return True
    return False
