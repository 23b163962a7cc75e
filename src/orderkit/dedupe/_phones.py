"""Phone numbers to E.164; masked numbers count as absent."""

from __future__ import annotations

import enum
import functools
import re
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
# the full-width asterisk is folded to "*" before this is applied.
_MASK = re.compile("[*\u2022\u25cf\u00d7\u2217]|x{2,}")
# An extension after a marker: phonenumbers' own (ext, x, #, ",") and the
# Chinese ones (转 "transfer", 分机 "extension"). Privacy relay numbers on
# Chinese platforms are shared by many buyers and told apart only by it.
_EXTENSION = re.compile(
    r"(?P<number>.*?\d)\s*(?:extension|ext\.?|x|#|,|;ext=|转|分机号?)"
    r"\s*[:.]?\s*(?P<ext>\d{1,7})\s*"
)
# "13800138000-1234": a dash before an extension, tried only when the whole
# does not read as a valid number.
_DASH_EXTENSION = re.compile(r"(?P<number>.*\d)\s*[-_]\s*(?P<ext>\d{1,7})\s*")
# Separators people write inside numbers: spaces, dashes of every width
# (the katakana long vowel mark stands in for one in Japan), dots, slashes
# and parentheses (as in "(+86) 138 0013 8000").
_SEPARATORS = re.compile(r"[\s\-\u2010-\u2015\u2212\u30fc./()]+")
_DIALLED = re.compile(r"\+?\d+")
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
) -> str | None: ...


@overload
def normalize_phone(
    raw: str | None,
    region: str = "CN",
    *,
    field: str = "phone",
    lenient: Literal[True],
) -> str | NotAPhone | None: ...


@overload
def normalize_phone(
    raw: str | None,
    region: str = "CN",
    *,
    field: str = "phone",
    lenient: bool,
) -> str | NotAPhone | None: ...


def normalize_phone(
    raw: object,
    region: str = "CN",
    *,
    field: str = "phone",
    lenient: bool = False,
) -> str | NotAPhone | None:
    """Read a phone number as written by a buyer or a channel, in E.164.

    Full-width digits, plus signs and dashes are accepted, and so are the
    international forms of a number: with `+86`, with the `0086` dialling
    prefix, and with `86` and no plus where the rest is a valid national
    number (phonenumbers reads a leading country code that way), as well as
    the national form in `region`. All give `"+8613800138000"`.

    A masked number (`"138****8000"`, as Chinese platforms deliver them)
    counts as absent: it gives `None` and is never hashed or matched. An
    extension (`"13800138000转1234"`, `"... ext 12"`, `"13800138000-1234"`)
    is kept after the number as `"+8613800138000;ext=1234"`, because
    platforms' privacy relay numbers are shared by many buyers and told apart
    only by it.

    Results are cached (a bounded LRU cache), since parsing costs tens of
    microseconds.

    Args:
        raw: The number as sent; `None` when the channel sent none.
        region: ISO 3166-1 alpha-2 region for numbers without a country code,
            usually the channel's home region.
        field: The name of the field, for errors.
        lenient: Return `NOT_A_PHONE` for an invalid number instead of raising.

    Returns:
        The number in E.164 (with `;ext=` and the extension if it has one),
        `None` for a masked or absent number, or `NOT_A_PHONE` for an invalid
        one in lenient mode.

    Raises:
        InvalidPhone: `raw` is not a valid phone number (empty, letters, too
            many digits, not a number in use, control characters), unless
            `lenient`.
        ConfigurationError: `region` is not a region phonenumbers knows.

    .. versionadded:: 0.1.0
    """
    if region not in _REGIONS:
        raise ConfigurationError(
            "region", f"{region!r} is not a region phonenumbers knows"
        )
    if raw is None:
        return None
    if not isinstance(raw, str):
        result: str | _Refused | None = _Refused("must be a string or None")
    elif len(raw) > _MAX_LENGTH:
        result = _Refused(f"is longer than {_MAX_LENGTH} characters")
    else:
        result = _read(raw, region)
    if isinstance(result, _Refused):
        if lenient:
            return NOT_A_PHONE
        raise InvalidPhone(field, raw, result.problem)
    return result


@functools.lru_cache(maxsize=_CACHE_SIZE)
def _read(raw: str, region: str) -> str | _Refused | None:
    try:
        text = clean(raw, "phone", InvalidPhone).strip()
    except InvalidPhone as error:
        return _Refused(error.problem)
    if not text:
        return _Refused("is empty")
    if _MASK.search(text):
        return None
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
    e164 = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    return f"{e164};ext={extension}" if extension else e164


def _parse(text: str, region: str) -> phonenumbers.PhoneNumber | _Refused:
    if any(char.isalpha() for char in text):
        # phonenumbers would read "1-800-FLOWERS" as digits; a buyer's number
        # with letters in it is junk, not a vanity number.
        return _Refused("contains letters")
    dialled = _SEPARATORS.sub("", text)
    if not _DIALLED.fullmatch(dialled):
        return _Refused("contains characters that are not part of a phone number")
    if len(dialled.lstrip("+")) > _MAX_DIGITS:
        return _Refused("has more digits than any phone number")
    try:
        number = phonenumbers.parse(dialled, region)
    except phonenumbers.NumberParseException:
        return _Refused("is not a phone number")
    if not phonenumbers.is_valid_number(number):
        return _Refused(f"is not a valid phone number (read with region {region})")
    return number
