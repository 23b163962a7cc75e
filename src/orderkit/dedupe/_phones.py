"""Phone numbers to E.164; masked numbers count as absent."""

from __future__ import annotations

import enum
import functools
import re
import unicodedata
from typing import Final, Literal, final, overload

import attrs
import phonenumbers

from orderkit.dedupe._text import clean
from orderkit.errors import ConfigurationError, InvalidPhone


@final
class NotAPhone(enum.Enum):
    """The type of `NOT_A_PHONE`, what lenient normalisation gives for junk.

    Its one member is falsy, so `if phone:` skips it as it skips `None`:
    a number that is not a phone is never hashed and never matched.

    .. versionadded:: 0.1.0
    """

    NOT_A_PHONE = "not a valid phone"

    def __bool__(self) -> Literal[False]:
        return False

    def __repr__(self) -> str:
        return "NOT_A_PHONE"


NOT_A_PHONE: Final = NotAPhone.NOT_A_PHONE
"""What `normalize_phone(..., lenient=True)` returns for an invalid number.

.. versionadded:: 0.1.0
"""

# A bound on the text parsed (and on the cache's keys): the longest real
# number with an extension and separators is far shorter.
_MAX_LENGTH = 64
# About 150 bytes an entry: a few megabytes hold every buyer of a big sale
# day's window, and phonenumbers.parse costs tens of microseconds a miss.
_CACHE_SIZE = 32_768
_REGIONS: Final = frozenset(phonenumbers.SUPPORTED_REGIONS)

# How Chinese platforms mask a number (138****8000, 138••••8000, 138xxxx8000);
# the full-width asterisk is folded to "*" before this is applied. Buyers
# type the same marks beside whole numbers: `_unmasked` tells them apart.
_MASK = re.compile("[*\u2022\u25cf\u00d7\u2217]|x{2,}")
# An extension after a marker: phonenumbers' own (ext, x, #, ",") and the
# Chinese ones (转 "transfer", 分机 "extension"). Privacy relay numbers on
# Chinese platforms are shared by many buyers and told apart only by it.
# A mask directly beside a digit, and the first run of digits.
_MASKED_DIGIT = re.compile(rf"\d(?:{_MASK.pattern})|(?:{_MASK.pattern})\d")
_FIRST_DIGITS = re.compile(r"\d+")
# Separators people write inside numbers: spaces, dashes of every width
# (the katakana long vowel mark stands in for one in Japan), dots, slashes
# and parentheses (as in "(+86) 138 0013 8000").
_SEPARATOR = r"[\s\-\u2010-\u2015\u2212\u30fc./()]"
# Marks inside a number's digits (138****8000, 138-****-8000, (212) ***-0100):
# a digit on both sides, with only separators and marks between. A platform
# puts marks in place of digits there, and what is left can read as another,
# shorter number in a region whose numbers vary in length (1388000 in DE).
_INNER_MASK = re.compile(
    rf"(?<=\d){_SEPARATOR}*(?:{_MASK.pattern})(?:{_SEPARATOR}|{_MASK.pattern})*(?=\d)"
)
# An extension's marker (or a dash) after digits, and masks in its place. Not
# a bare "x": "13800138000 xxx" is a buyer's marks, not "x" and a masked "xx".
_MASKED_EXTENSION = re.compile(
    r"\d\s*(?:extension|ext\.?|#|,|;ext=|转|分机号?|[-_])\s*[:.]?\s*"
    rf"(?:{_MASK.pattern})"
)
_EXTENSION = re.compile(
    r"(?P<number>.*?\d)\s*(?:extension|ext\.?|x|#|,|;ext=|转|分机号?)"
    r"\s*[:.]?\s*(?P<ext>\d{1,7})\s*"
)
# "13800138000-1234": a dash before an extension, tried only when the whole
# does not read as a valid number.
_DASH_EXTENSION = re.compile(r"(?P<number>.*\d)\s*[-_]\s*(?P<ext>\d{1,7})\s*")
_SEPARATORS = re.compile(f"{_SEPARATOR}+")
_DIALLED = re.compile(r"\+?\d+")
# ASCII digits and separators only: `clean` leaves such text as it is, and
# it holds no mask and no extension.
_PLAIN = re.compile(r"[0-9+ ()./-]+")
# E.164 numbers have at most 15 digits; "0086" and a trunk "0" add three.
_MAX_DIGITS = 18


@final
@attrs.frozen(slots=True)
class _Refused:
    problem: str


@overload
def normalize_phone(
    raw: str | None,
    region: str = "CN",
    *,
    field: str = "phone",
    lenient: Literal[False] = False,
    mobile_extensions: bool = True,
) -> str | None: ...


@overload
def normalize_phone(
    raw: str | None,
    region: str = "CN",
    *,
    field: str = "phone",
    lenient: Literal[True],
    mobile_extensions: bool = True,
) -> str | NotAPhone | None: ...


@overload
def normalize_phone(
    raw: str | None,
    region: str = "CN",
    *,
    field: str = "phone",
    lenient: bool,
    mobile_extensions: bool = True,
) -> str | NotAPhone | None: ...


def normalize_phone(
    raw: object,
    region: str = "CN",
    *,
    field: str = "phone",
    lenient: bool = False,
    mobile_extensions: bool = True,
) -> str | NotAPhone | None:
    """Read a phone number as written by a buyer or a channel, in E.164.

    Full-width digits, plus signs and dashes are accepted, and so are the
    international forms of a number: with `+86`, with the `0086` dialling
    prefix, and with `86` and no plus where the rest is a valid national
    number (phonenumbers reads a leading country code that way), as well as
    the national form in `region`. All give `"+8613800138000"`.

    A masked number (`"138****8000"`, `"138••••8000"`, `"138xxxx8000"`, as
    Chinese platforms deliver them) counts as absent: it gives `None` and is
    never hashed or matched. Text with mask characters (`*` in either width,
    `•`, `●`, the multiplication sign, the asterisk operator, or two or more
    `x`) is read without them: if the rest is a valid number, the marks hid
    nothing and it is the number (`"13800138000 *"`, `"*13800138000"` and
    `"138 0013 8000 xx"`, as buyers type them on free-text storefronts, are
    `"+8613800138000"`); if it is not, the number is masked and gives `None`
    (`"1380013800*"` too), never `InvalidPhone`. Two marks or more together
    inside the digits (`"138****8000"`, `"138-****-8000"`, `"(212) ***-0100"`)
    stand in for digits and mask the number in every region, even where what
    they leave reads as another, shorter number (`"1388000"` in `DE`). Single
    marks between digit groups mask it if the same digit in place of each
    gives a valid number, and are otherwise a buyer's separators or typo
    (`"212•555•0100"` in `US` is `"+12125550100"`, `"138*00138000"` is
    `"+8613800138000"`).

    An extension (`"13800138000转1234"`, `"... ext 12"`, `"13800138000-1234"`)
    is kept after the number as `"+8613800138000;ext=1234"`, in ASCII digits
    whatever digits it was written in (`"转١٢٣٤"` too), because platforms'
    privacy relay numbers are shared by many buyers and told apart only by it.
    Where no relay numbers come from, `mobile_extensions=False` drops the
    extension of a mobile number (phonenumbers' type `MOBILE`), so that
    `"13800138000-1"` is the buyer's own `"+8613800138000"`; a landline's
    extension stays (`"+861088888888;ext=12"`), as it is a real extension,
    and so does one of a US or Canadian number, which phonenumbers cannot
    tell from a landline (an office's extensions are different people).

    Results are cached (a bounded LRU cache), since parsing costs tens of
    microseconds.

    Args:
        raw: The number as sent; `None` when the channel sent none.
        region: ISO 3166-1 alpha-2 region for numbers without a country code,
            usually the channel's home region.
        field: The name of the field, for errors.
        lenient: Return `NOT_A_PHONE` for an invalid number instead of raising.
        mobile_extensions: Keep the extension of a mobile number (the
            default); `False` drops it, as for a channel that sends no
            privacy relay numbers (`Fingerprinter.keeps_mobile_extensions`).

    Returns:
        The number in E.164 (with `;ext=` and the extension if it has one),
        `None` for a masked (its marks hide digits) or absent number, or
        `NOT_A_PHONE` for an invalid one in lenient mode.

    Raises:
        InvalidPhone: `raw` is not a valid phone number (empty, letters, too
            many digits, not a number in use, control characters), unless
            `lenient`.
        ConfigurationError: `region` is not a region phonenumbers knows.

    .. versionadded:: 0.1.0
    """
    if not _is_region(region):
        raise ConfigurationError(
            "region", f"{region!r} is not a region phonenumbers knows", value=region
        )
    result = read_in(raw, region)
    if isinstance(result, _Refused):
        if lenient:
            return NOT_A_PHONE
        raise InvalidPhone(field, raw, result.problem)
    if not mobile_extensions and result is not None and ";ext=" in result:
        return _without_mobile_extension(result)
    return result


def _is_region(value: object) -> bool:
    # `object`: a caller's list or None is refused, not hashed.
    return isinstance(value, str) and value in _REGIONS


def read_in(raw: object, region: str) -> str | _Refused | None:
    """What `normalize_phone` reads of `raw` in `region`, which it knows.

    For callers that checked their region once (a fingerprinter's, the
    limits'): `normalize_phone` without its region's check, its mode and
    its extension rule, a refusal returned rather than raised.
    """
    if raw is None:
        return None
    if not isinstance(raw, str):
        return _Refused("must be a string or None")
    if len(raw) > _MAX_LENGTH:
        return _Refused(f"is longer than {_MAX_LENGTH} characters")
    return _read(raw, region)


def _without_mobile_extension(phone: str) -> str:
    """`phone`, an E.164 number, without its extension if it is a mobile's."""
    number = phone.partition(";ext=")[0]
    return number if _is_mobile(number) else phone


@functools.lru_cache(maxsize=_CACHE_SIZE // 8)
def _is_mobile(number: str) -> bool:
    """Whether `number`, in E.164 without extension, is a mobile number.

    phonenumbers cannot tell a US or Canadian mobile from a landline
    (`FIXED_LINE_OR_MOBILE`): such numbers keep their extensions, since an
    office's extensions are different people.
    """
    # Most extensions dropped are Chinese mobiles': no parse for them.
    chinese = _CN is not None and len(number) == 14 and number.startswith("+86")
    if chinese and _CN is not None and _CN[1].fullmatch(number[3:]):
        return True
    kind = phonenumbers.number_type(phonenumbers.parse(number))
    return kind in _MOBILE_TYPES


_MOBILE_TYPES: Final = frozenset({phonenumbers.PhoneNumberType.MOBILE})


@functools.lru_cache(maxsize=_CACHE_SIZE)
def _read(raw: str, region: str) -> str | _Refused | None:
    if _PLAIN.fullmatch(raw):
        # Text that `clean`, the masks and the extensions leave alone: only
        # `_parse` would act on it, and a mobile number is read as it reads it.
        fast = _mobile(_SEPARATORS.sub("", raw), region)
        if fast is not None:
            return fast
    return _read_text(raw, region)


def _read_text(raw: str, region: str) -> str | _Refused | None:
    try:
        text = clean(raw, "phone", InvalidPhone).strip()
    except InvalidPhone as error:
        return _Refused(error.problem)
    if not text:
        return _Refused("is empty")
    if _MASK.search(text):
        return _unmasked(text, region)
    return _read_clean(text, region)


def _unmasked(text: str, region: str) -> str | None:
    """The number in `text`, which holds masks, if they hid none of it; else None.

    Buyers on free-text storefronts type a stray `*` or `xx` next to a whole
    number (`"13800138000 *"`); a platform's mask (`138****8000`) stands in
    for digits. So the masks go, and the rest is the number if it reads as
    a valid one and no marks stand inside its digits (`_hides_digits`):
    otherwise the value is masked (`None`), never refused for the masks.
    """
    rest = _MASK.sub("", text).strip()
    if not rest:
        return None
    number = _read_clean(rest, region)
    if not isinstance(number, str):
        return None
    if _INNER_MASK.search(text) and _hides_digits(text, region):
        return None
    # A mask beside a digit after the number's first digits may stand in for
    # an extension's (13800138000转12**): buyers of a shared relay number are
    # told apart by it alone, so the value is masked.
    if ";ext=" in number:
        first = _FIRST_DIGITS.search(text)
        if first is not None and _MASKED_DIGIT.search(text, first.end() - 1):
            return None
    elif _MASKED_EXTENSION.search(text):
        # Every digit of the extension masked (13800138000-****): the rest
        # reads as the bare number, which the relay's buyers all share.
        return None
    return number


def _hides_digits(text: str, region: str) -> bool:
    """Whether the marks inside the digits of `text` may stand in for digits.

    Buyers type one mark between digit groups as a separator (`212•555•0100`,
    `06•12•34•56•78`, `138*00138000`), so a gap with two marks or more
    (`138****8000`, `(212) ***-0100`, `+44 20 7946 **18`) hides digits without
    a parse: the region cannot judge it, since what a platform masked may be
    another country's number (a Chinese mobile read in `DE`). Gaps of one
    mark hide digits if one digit in place of every such mark gives a valid
    number, and are separators if none does. It parses at most ten numbers,
    and only for text whose number read valid without its marks.
    """
    marks: list[int] = []
    for gap in _INNER_MASK.finditer(text):
        found = [
            gap.start() + at
            for mark in _MASK.finditer(gap[0])
            for at in range(mark.start(), mark.end())
        ]
        if len(found) > 1:
            return True
        marks.extend(found)
    chars = list(text)
    for digit in "0123456789":
        for at in marks:
            chars[at] = digit
        filled = _MASK.sub("", "".join(chars)).strip()
        if isinstance(_read_clean(filled, region), str):
            return True
    return False


def _read_clean(text: str, region: str) -> str | _Refused:
    """The number in `text`, cleaned, stripped, not empty and without masks."""
    extension = ""
    match = _EXTENSION.fullmatch(text)
    if match:
        text, extension = match["number"], match["ext"]
    number = _parse(text, region)
    if isinstance(number, _Refused) and not extension:
        match = _DASH_EXTENSION.fullmatch(text)
        head = _parse(match["number"], region) if match else number
        if match and not isinstance(head, _Refused):
            number, extension = head, match["ext"]
    if isinstance(number, _Refused):
        return number
    if not extension:
        return number
    # `\d` matches every script's digits, and NFKC folds only the full-width
    # ones: "转١٢٣٤" is extension 1234, in the E.164 form stores check.
    return f"{number};ext={''.join(str(unicodedata.digit(c)) for c in extension)}"


def _parse(text: str, region: str) -> str | _Refused:
    """The number in `text` in E.164, without its extension."""
    dialled = _SEPARATORS.sub("", text)
    # Letters among the separators removed: the katakana long-vowel mark
    # (ー) is a letter to `isalpha`, and a dash in Japanese numbers.
    if any(char.isalpha() for char in dialled):
        # phonenumbers would read "1-800-FLOWERS" as digits; a buyer's number
        # with letters in it is junk, not a vanity number.
        return _Refused("contains letters")
    if not _DIALLED.fullmatch(dialled):
        return _Refused("contains characters that are not part of a phone number")
    if len(dialled.lstrip("+")) > _MAX_DIGITS:
        return _Refused("has more digits than any phone number")
    fast = _mobile(dialled, region)
    if fast is not None:
        return fast
    return _library(dialled, region)


def _library(dialled: str, region: str) -> str | _Refused:
    """What phonenumbers reads in `dialled`: digits with an optional plus."""
    try:
        number = phonenumbers.parse(dialled, region)
    except phonenumbers.NumberParseException:
        return _Refused("is not a phone number")
    if not phonenumbers.is_valid_number(number):
        return _Refused(f"is not a valid phone number (read with region {region})")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def _mobile(dialled: str, region: str) -> str | None:
    """`dialled` in E.164 if it is a Chinese mobile number, else None (not known).

    Gives what `_library` gives, without its tens of microseconds, for the
    forms Chinese channels send: `+86`, `0086` (dialled from China), `86` and
    the national number (in region CN), each followed by a mobile number.
    Every step phonenumbers would take differently on other digits (an
    international or national prefix it would strip, a `86` it would keep)
    is checked against its own metadata, and gives None: the caller then
    asks phonenumbers.
    """
    if _CN is None:  # pragma: no cover - phonenumbers' metadata changed shape
        return None
    general, mobile, idd, national_prefix = _CN
    national = _national(dialled, region, general, idd)
    if (
        national is not None
        and len(national) == _CN_MOBILE
        and national.isascii()
        and national.isdigit()
        and mobile.fullmatch(national)
        and general.fullmatch(national)
        and not national_prefix.match(national)
    ):
        return "+86" + national
    return None


def _national(
    dialled: str, region: str, general: re.Pattern[str], idd: re.Pattern[str]
) -> str | None:
    """What follows the country code 86 where phonenumbers would read one.

    None where it would not, or might not: the caller asks phonenumbers.
    """
    if dialled.startswith("+86"):
        return dialled[3:]
    if region != "CN":
        return None
    if dialled.startswith("0086"):
        found = idd.match(dialled)
        return dialled[4:] if found is not None and found.end() == len("00") else None
    if idd.match(dialled):
        return None
    if dialled.startswith("86"):
        # phonenumbers drops this 86 only when what follows reads better.
        dropped = len(dialled) == _CN_PREFIXED and not general.fullmatch(dialled)
        return dialled[2:] if dropped else None
    return dialled


def _china() -> tuple[re.Pattern[str], ...] | None:
    """The patterns `_mobile` reads with, if the metadata is as it expects."""
    metadata = phonenumbers.PhoneMetadata.metadata_for_region("CN")
    general = None if metadata is None else metadata.general_desc
    mobile = None if metadata is None else metadata.mobile
    if (
        metadata is None
        or general is None
        or mobile is None
        or general.national_number_pattern is None
        or mobile.national_number_pattern is None
        or metadata.country_code != _CN_CODE
        or phonenumbers.COUNTRY_CODE_TO_REGION_CODE.get(_CN_CODE) != ("CN",)
        # "+86...": no one-digit country code may start with 8.
        or 8 in phonenumbers.COUNTRY_CODE_TO_REGION_CODE
        or metadata.international_prefix is None
        or metadata.national_prefix_for_parsing is None
    ):
        return None  # pragma: no cover
    for desc in (general, mobile):
        if desc.possible_length and _CN_MOBILE not in desc.possible_length:
            return None  # pragma: no cover
    return (
        re.compile(general.national_number_pattern),
        re.compile(mobile.national_number_pattern),
        re.compile(metadata.international_prefix),
        re.compile(metadata.national_prefix_for_parsing),
    )


_CN_CODE = 86
_CN_MOBILE = 11  # digits of a Chinese mobile number
_CN_PREFIXED = 13  # and with 86 before it
_CN: Final = _china()
