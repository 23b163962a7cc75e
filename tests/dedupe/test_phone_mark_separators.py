"""One mark between a number's digit groups is a separator, not a mask.

Buyers type bullets, asterisks or multiplication signs between the groups
of a number they write in full (`212•555•0100`, `06•12•34•56•78`). Since
marks inside a number's digits were taken to hide digits in every region
(`test_inner_phone_masks.py`), such a number read as masked: the order lost
its phone fingerprint and its phone limit keys (the buyer got past a
one-per-phone rule), it no longer matched stored orders keyed on its E.164
form, and `normalize_phone(..., lenient=True)` gave `None` rather than the
number. Counting each mark as one digit tells the two apart: a platform's
marks stand in for digits, so some digits in their place give a valid
number; a buyer's separators add to the digits, so none does.
"""

from __future__ import annotations

import phonenumbers
import pytest
from hypothesis import assume, given, note
from hypothesis import strategies as st
from tests.dedupe._phone_numbers import (
    fills_to_a_number,
    marks,
    order,
    phone_keys,
    regions,
    valid_numbers,
)

from orderkit.dedupe import Fingerprinter, FingerprintKind, normalize_phone
from orderkit.integrations import read_phone


SEPARATED = [
    ("212•555•0100", "US", "+12125550100"),
    ("212 • 555 • 0100", "US", "+12125550100"),
    ("212*555*0100", "US", "+12125550100"),
    ("+1 212•555•0100", "DE", "+12125550100"),
    ("138•0013•8000", "CN", "+8613800138000"),
    ("138 ● 0013 ● 8000", "CN", "+8613800138000"),
    ("+86•138•0013•8000", "CN", "+8613800138000"),
    ("06•12•34•56•78", "FR", "+33612345678"),
    ("090×1234×5678", "JP", "+819012345678"),  # noqa: RUF001 - multiplication sign
    ("03●1234●5678", "JP", "+81312345678"),
    ("020*7946*0958", "GB", "+442079460958"),
    ("020\u22177946\u22170958", "GB", "+442079460958"),  # asterisk operator
    ("020＊7946＊0958", "GB", "+442079460958"),  # noqa: RUF001 - full-width asterisks
]


@pytest.mark.parametrize(("written", "region", "number"), SEPARATED)
def test_separated_number_reads_as_the_number(
    written: str, region: str, number: str
) -> None:
    assert normalize_phone(written, region) == number
    assert normalize_phone(written, region, lenient=True) == number
    # And a second time, from the cache.
    assert normalize_phone(written, region) == number
    assert read_phone(written, path="phone", region=region) == number


@pytest.mark.parametrize(("written", "region", "number"), SEPARATED)
def test_separated_number_has_the_numbers_keys(
    written: str, region: str, number: str
) -> None:
    keys = phone_keys(number, region)
    assert keys
    assert phone_keys(written, region) == keys


@pytest.mark.parametrize("region", ["CN", "DE", "US", None])
def test_a_platforms_mask_stays_masked(region: str | None) -> None:
    fingerprinter = Fingerprinter.for_tests(relay_channels=set())
    found = order(1, "138****8000", region or "CN")
    assert not [
        f
        for f in fingerprinter.fingerprints(found, region=region)
        if f.kind is FingerprintKind.PHONE_SKUS
    ]
    if region is not None:
        assert normalize_phone("138****8000", region) is None
        assert normalize_phone("138****8000", region, lenient=True) is None


@pytest.mark.parametrize(
    ("masked", "region"),
    [
        ("138-****-8000", "DE"),
        ("+86 138****8000", "DE"),
        ("(212) ***-0100", "AT"),
        ("(212) ***-0100", "US"),
        ("+44 20 7946 **18", "GB"),
        ("138xxxx8000", "DE"),
        # One mark that a digit could replace to give a valid number.
        ("1380013*000", "CN"),
        ("(212) 555-01*0", "US"),
    ],
)
def test_marks_in_place_of_digits_mask(masked: str, region: str) -> None:
    assert normalize_phone(masked, region) is None


def test_a_stray_mark_no_digit_fills_is_a_typo() -> None:
    assert normalize_phone("138*00138000", "CN") == "+8613800138000"


# --------------------------------------------------------------------------
# Property

_FORMATS = [
    phonenumbers.PhoneNumberFormat.INTERNATIONAL,
    phonenumbers.PhoneNumberFormat.NATIONAL,
]


def groups(written: str) -> list[str]:
    """The runs of `written` between its digit groups' separators."""
    return [group for group in written.replace("-", " ").split(" ") if group]


@given(valid_numbers(), st.data())
def test_a_mark_between_digit_groups_is_a_separator(
    number: str, data: st.DataObject
) -> None:
    parsed = phonenumbers.parse(number)
    form = data.draw(st.sampled_from(_FORMATS), label="form")
    own = phonenumbers.region_code_for_number(parsed)
    national = form is phonenumbers.PhoneNumberFormat.NATIONAL
    region = own if national and own is not None else data.draw(regions)
    written = phonenumbers.format_number(parsed, form)
    assume(normalize_phone(written, region, lenient=True) == number)
    parts = groups(written)
    # Between two groups that end and start in a digit: inside the digits.
    assume(len(parts) >= 2)
    assume(all(p[-1].isdigit() for p in parts[:-1]))
    assume(all(p[0].isdigit() for p in parts[1:]))
    mark = data.draw(marks, label="mark")
    spaced = data.draw(st.booleans(), label="spaced")
    marked = (f" {mark} " if spaced else mark).join(parts)
    note(f"marked: {marked!r} in {region}")
    assume(not fills_to_a_number(marked, mark, region))
    assert normalize_phone(marked, region) == number
    assert normalize_phone(marked, region, lenient=True) == number
    assert read_phone(marked, path="phone", region=region) == number
