"""Marks inside a number's digits hide digits, whatever the region.

A platform masks a number by putting its marks in place of digits
(`138****8000`). Read without the marks, what is left can be a valid number
in a region whose numbers vary in length: `138****8000` read in region DE
gave `"+491388000"`, so a Chinese buyer's masked phone became a German one
(WooCommerce and Shopify read phones in the address country's region), and
every buyer whose masked phone reads `138****8000` shared one phone key in
duplicate detection and purchase limits. Marks at a number's ends, or apart
from it, are a buyer's decoration as before (`test_mask_decoration.py`).
"""

from __future__ import annotations

import itertools

import phonenumbers
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st
from tests.dedupe._phone_numbers import (
    fills_to_a_number,
    marks,
    phone_keys,
    regions,
    valid_numbers,
)

from orderkit.dedupe import normalize_phone
from orderkit.integrations import read_phone


MASKED = [
    "138****8000",
    "138-****-8000",
    "+86 138****8000",
    "(212) ***-0100",
    "138 **** 8000",
    "138xxxx8000",
    "138＊＊＊＊8000",  # noqa: RUF001 - full-width asterisks
    "138\u2022\u2022\u2022\u20228000",
    "+1 (212) ***-0100",
    "+44 20 7946 **18",
]
REGIONS = ["CN", "DE", "US", "AT", "GB", "FR", "JP"]


@pytest.mark.parametrize("region", REGIONS)
@pytest.mark.parametrize("masked", MASKED)
class TestInnerMarksMask:
    def test_normalize_phone_gives_none(self, masked: str, region: str) -> None:
        assert normalize_phone(masked, region) is None
        assert normalize_phone(masked, region, lenient=True) is None

    def test_read_phone_keeps_the_text(self, masked: str, region: str) -> None:
        assert read_phone(masked, path="phone", region=region) == masked


def test_the_finding() -> None:
    # A Chinese mobile masked by the platform, read in a German address's
    # region, was the German number +491388000.
    assert read_phone("138****8000", path="p", region="DE") == "138****8000"
    assert normalize_phone("138****8000", "AT", lenient=True) is None


@pytest.mark.parametrize(
    ("written", "region", "number"),
    [
        # Decoration at the ends or apart from the digits, as before.
        ("+86 138 0013 8000 *", "DE", "+8613800138000"),
        ("13800138000 *", "CN", "+8613800138000"),
        ("* +1 212 555 0100", "DE", "+12125550100"),
        ("+1 212 555 0100 xx", "CN", "+12125550100"),
        # One stray mark no digit could stand for: twelve digits with it.
        ("138*00138000", "CN", "+8613800138000"),
    ],
)
def test_decoration_stays_the_number(written: str, region: str, number: str) -> None:
    assert normalize_phone(written, region) == number


@pytest.mark.parametrize("region", REGIONS)
def test_masked_phones_have_no_keys(region: str) -> None:
    assert phone_keys("13800138000", region) or region != "CN"
    for masked in MASKED:
        assert phone_keys(masked, region) == set(), masked


# --------------------------------------------------------------------------
# Properties

_FORMATS = [
    phonenumbers.PhoneNumberFormat.E164,
    phonenumbers.PhoneNumberFormat.INTERNATIONAL,
    phonenumbers.PhoneNumberFormat.NATIONAL,
]


@st.composite
def written_in(draw: st.DrawFn, number: str) -> tuple[str, str]:
    """`number` as written, and a region it reads as that number in."""
    parsed = phonenumbers.parse(number)
    form = draw(st.sampled_from(_FORMATS))
    own = phonenumbers.region_code_for_number(parsed)
    national = form is phonenumbers.PhoneNumberFormat.NATIONAL
    region = own if national and own is not None else draw(regions)
    written = phonenumbers.format_number(parsed, form)
    assume(normalize_phone(written, region, lenient=True) == number)
    return written, region


def inner_digits(written: str) -> list[int]:
    """Where the digits of `written` are, but its first and its last."""
    return [i for i, c in enumerate(written) if c.isdigit()][1:-1]


@st.composite
def masked_at(draw: st.DrawFn, written: str) -> tuple[str, list[int]]:
    """`written` with 1+ inner digits replaced, one mark for each digit."""
    inner = inner_digits(written)
    assume(inner)
    if draw(st.booleans(), label="one run"):
        start = draw(st.integers(0, len(inner) - 1), label="start")
        length = draw(st.integers(1, len(inner) - start), label="length")
        hidden = inner[start : start + length]
    else:
        hidden = sorted(draw(st.sets(st.sampled_from(inner), min_size=1)))
    mark = draw(marks)
    text = "".join(mark if i in hidden else c for i, c in enumerate(written))
    # Platforms' "xx" marks stand in for a run of two digits or more.
    run = len(hidden) >= 2 and hidden == list(range(hidden[0], hidden[-1] + 1))
    if run and draw(st.booleans(), label="as x"):
        text = text.replace(mark * len(hidden), "x" * len(hidden))
    return text, hidden


def promised_masked(written: str, hidden: list[int], masked: str, region: str) -> bool:
    """Whether the rule promises `masked` is masked (docs/concepts/dedupe.md).

    Two marks or more in one gap between digits always mask, and so does a
    lone mark (its own digit fills it back). Several gaps of one mark each
    are read as separators when no one digit in place of every mark gives
    a valid number (`212•555•0100`): a mask whose hidden digits differ and
    leave a valid shorter number is then read as that one, the documented
    gap of the rule (about 1 in 1,000 placements of two such marks).
    """
    if len(hidden) < 2:
        return True
    apart = all(
        any(c.isdigit() for c in written[a + 1 : b])
        for a, b in itertools.pairwise(hidden)
    )
    return not apart or fills_to_a_number(masked, masked[hidden[0]], region)


@given(valid_numbers(), st.data())
def test_inner_digits_masked_give_no_phone_in_any_region(
    number: str, data: st.DataObject
) -> None:
    written, region = data.draw(written_in(number), label="written")
    masked, hidden = data.draw(masked_at(written), label="masked")
    assume(promised_masked(written, hidden, masked, region))
    assert normalize_phone(masked, region) is None
    assert normalize_phone(masked, region, lenient=True) is None
    # And a second time, from the cache.
    assert normalize_phone(masked, region) is None
    assert read_phone(masked, path="phone", region=region) == masked


@given(valid_numbers(), st.data())
def test_numbers_sharing_a_masked_form_never_match(
    number: str, data: st.DataObject
) -> None:
    written, region = data.draw(written_in(number), label="written")
    masked, hidden = data.draw(masked_at(written), label="masked")
    assume(promised_masked(written, hidden, masked, region))
    # Another valid number with other digits where the marks are.
    other = list(written)
    for i in hidden:
        other[i] = data.draw(st.sampled_from("0123456789"), label=f"digit {i}")
    other_written = "".join(other)
    other_number = normalize_phone(other_written, region, lenient=True)
    assume(isinstance(other_number, str) and other_number != number)
    assert phone_keys(written, region) != phone_keys(other_written, region)
    assert phone_keys(masked, region) == set()
