"""Read values out of a channel's JSON payload: exact money, explicit time, paths.

Every reader takes the value and its `path` in the payload
(`line_items[2].price`) and raises a `ValidationError` naming that path, so a
bad payload is refused with the place to look. Nothing here guesses: a naive
time needs the zone the channel documents, a number that is not an exact
decimal is refused, and an unknown status is reported.
"""

from __future__ import annotations

import datetime as dt
import email.utils
import json
import re
import zoneinfo
from collections.abc import Mapping
from decimal import Decimal
from typing import Any, Final

import pendulum
import phonenumbers

from orderkit._time import not_a_place
from orderkit.dedupe import normalize_phone
from orderkit.errors import (
    ConfigurationError,
    InvalidMoney,
    InvalidQuantity,
    NaiveDatetime,
    StructureError,
    UnknownStatus,
    ValidationError,
)
from orderkit.money import Currency, Money


__all__ = [
    "MAX_QUANTITY",
    "load_json",
    "read_id",
    "read_instant",
    "read_list",
    "read_money",
    "read_object",
    "read_phone",
    "read_quantity",
    "read_status",
    "read_text",
]

MAX_QUANTITY: Final = 1_000_000
"""The most units one line may order: more is a typo or an attack."""

_MAX_TEXT: Final = 10_000
# How channels write amounts: ASCII digits and at most one point; no sign,
# exponent, digit separator or full-width digit.
_DECIMAL_TEXT: Final = re.compile(r"[0-9]+(?:\.[0-9]+)?", re.ASCII)
_PHONE_REGIONS: Final = frozenset(phonenumbers.SUPPORTED_REGIONS)
_MAX_DIGITS: Final = len(str(MAX_QUANTITY))
# Digits text is read as an integer up to; Python refuses past 4,300.
_MAX_INT_TEXT: Final = 4000
# 10000-01-01T00:00:00Z, in Unix seconds.
_YEAR_10000: Final = 253_402_300_800


def load_json(data: str | bytes) -> Any:  # noqa: ANN401 - JSON is any shape
    """Parse JSON as a channel sent it, keeping every number exact.

    Numbers with a fraction or exponent become `Decimal` (never `float`);
    `NaN`, `Infinity` and an object with a repeated key are refused.

    Raises:
        StructureError: The text is not JSON, or one of the above, or
            `data` is not text or bytes (JSON decoded already, say).
    """
    if not isinstance(data, str | bytes | bytearray):
        raise StructureError(
            "payload", data, "must be JSON text (str or bytes), not decoded", "JSON"
        )
    try:
        return json.loads(
            data,
            parse_float=Decimal,
            parse_constant=_refuse_constant,
            object_pairs_hook=_unique_keys,
        )
    except (ValueError, RecursionError) as error:
        if isinstance(error, StructureError):
            raise
        raise StructureError("payload", _clip(data), str(error), "JSON") from error


def _refuse_constant(name: str) -> object:
    raise StructureError("payload", name, "NaN and Infinity are not numbers", "JSON")


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise StructureError(
                key, value, "the key appears twice in one object", "JSON"
            )
        result[key] = value
    return result


def _clip(data: str | bytes) -> str | bytes:
    return data[:80]


def read_object(value: object, *, path: str) -> Mapping[str, Any]:
    """A JSON object, to read fields from.

    Raises:
        StructureError: The value is not an object.
    """
    if not isinstance(value, dict):
        raise StructureError(path, value, "must be a JSON object", "object")
    return value


def read_list(value: object, *, path: str, required: bool = True) -> list[Any]:
    """A JSON array; `[]` for a missing optional one (`None`).

    Raises:
        StructureError: The value is not an array (or is missing where
            required).
    """
    if value is None and not required:
        return []
    if not isinstance(value, list):
        raise StructureError(path, value, "must be a JSON array", "array")
    return value


def read_phone(value: object, *, path: str, region: str) -> str | None:
    """A phone number in E.164 when it is one; otherwise the text as sent.

    Platforms mask buyers' numbers (`138****8000`) and test stores use
    numbers no carrier issues (`555-625-1199`): neither is a reason to
    refuse an order, so both are kept as the channel sent them, for people
    to read; matching (`orderkit.dedupe`) treats them as absent.

    Args:
        value: The number as sent, or `None`/`""` for none.
        path: Where it is in the payload.
        region: The channel's home region, for numbers without a country code.

    Raises:
        ValidationError: Not text, or text that cannot be shown (control
            characters, too long).
    """
    if value is None or value == "":
        return None
    text = read_text(value, path=path)
    if len(text) > 64 or not text.isprintable():
        raise ValidationError(path, value, "is not a phone number")
    if region not in _PHONE_REGIONS:
        # A territory with no numbering plan (AQ, BV, PN): keep it as sent.
        return text
    phone = normalize_phone(text, region, field=path, lenient=True)
    return phone or text


def read_text(value: object, *, path: str, required: bool = True) -> str:
    """Text as sent, stripped; `""` for a missing optional value.

    Raises:
        ValidationError: Not a string, too long, or empty where required.
    """
    if value is None and not required:
        return ""
    if not isinstance(value, str):
        raise ValidationError(path, value, "must be text")
    text = value.strip()
    if len(text) > _MAX_TEXT:
        raise ValidationError(path, value, f"is longer than {_MAX_TEXT} characters")
    if not _is_unicode(text):
        raise ValidationError(path, value, "holds a lone surrogate: not Unicode text")
    if required and not text:
        raise ValidationError(path, value, "must not be empty")
    return text


def _is_unicode(text: str) -> bool:
    # JSON's "\ud800" escapes decode to lone surrogates that no encoder,
    # and so no store or serializer, accepts.
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


# An id, as text, is at most 255 characters: so is an integer one.
_LONGEST_ID: Final = 10**255


def read_id(value: object, *, path: str) -> str:
    """A channel's id, given as a JSON integer or a string, as text.

    Integers stay exact however large (Python reads them without a float).

    Raises:
        ValidationError: Not a non-negative integer or a non-empty printable
            string.
    """
    if type(value) is int and 0 <= value < _LONGEST_ID:
        return str(value)
    if isinstance(value, str) and value.strip() and value.isprintable():
        if len(value) > 255:
            raise ValidationError(path, value, "is longer than 255 characters")
        return value.strip()
    raise ValidationError(path, value, "must be an id: a non-negative integer or text")


def read_money(value: object, currency: Currency | str, *, path: str) -> Money:
    """Money from decimal text (`"199.00"`, `"158.9500"`) or an exact JSON number.

    A JSON number must have been parsed exactly (`load_json` gives `Decimal`
    or `int`); a `float` is refused, as are more decimal places than the
    currency has (trailing zeros aside) and negative amounts.

    Raises:
        InvalidMoney: The value is not an exact, non-negative amount.
        UnknownCurrency: The currency is not an ISO 4217 code.
    """
    if isinstance(value, bool) or not isinstance(value, str | int | Decimal):
        raise InvalidMoney(path, value, "must be decimal text or an exact number")
    if isinstance(value, str):
        text = value.strip()
        if not _DECIMAL_TEXT.fullmatch(text):
            if text[:1] == "-" and _DECIMAL_TEXT.fullmatch(text[1:]):
                raise InvalidMoney(path, value, "must not be negative")
            raise InvalidMoney(path, value, "must be decimal text such as 199.00")
        amount = Decimal(text)
    else:
        amount = Decimal(value)
    if not amount.is_finite():
        raise InvalidMoney(path, value, "must be a finite amount")
    if amount.is_signed():
        raise InvalidMoney(path, value, "must not be negative")
    try:
        return Money(amount, currency)
    except InvalidMoney as error:
        raise InvalidMoney(path, value, error.problem) from None


def read_minor_money(value: object, currency: Currency | str, *, path: str) -> Money:
    """Money from a whole number of the currency's minor units (fen, cents).

    Many channels (Douyin, Pinduoduo, WeChat Pay) write `12900` for 129.00
    CNY: a JSON integer, or ASCII digits as text. A fraction, even `12900.0`,
    is refused, as are negative amounts: a count of fen has none.

    Raises:
        InvalidMoney: The value is not a whole, non-negative number of
            minor units, or has more digits than an amount may.
        UnknownCurrency: The currency is not an ISO 4217 code.

    .. versionadded:: 0.1.0
    """
    if type(value) is int:
        minor = value
    elif isinstance(value, str) and value.isascii() and value.isdigit():
        # Bounded before int(): `from_minor` refuses so many digits anyway.
        minor = int(value) if len(value) <= _MAX_INT_TEXT else -1
    else:
        raise InvalidMoney(path, value, "must be a whole number of minor units")
    if minor < 0:
        too_long = type(value) is not int
        problem = "has too many digits" if too_long else "must not be negative"
        raise InvalidMoney(path, value, problem)
    try:
        return Money.from_minor(minor, currency)
    except InvalidMoney as error:
        raise InvalidMoney(path, value, error.problem) from None


def read_unix(value: object, *, path: str) -> pendulum.DateTime:
    """An instant in UTC from whole Unix seconds, a JSON integer or digits.

    Seconds since 1970-01-01T00:00:00Z, as Douyin or Pinduoduo write a
    time: no zone to name. Milliseconds are refused, not read as a time in
    the year 50,000: a value must fall before the year 10000.

    Raises:
        ValidationError: The value is not whole seconds from 1 to the end
            of the year 9999.

    .. versionadded:: 0.1.0
    """
    if type(value) is int:
        seconds = value
    elif isinstance(value, str) and value.isascii() and value.isdigit():
        seconds = int(value) if len(value) <= _MAX_INT_TEXT else 0
    else:
        raise ValidationError(path, value, "must be a time in whole Unix seconds")
    if not 0 < seconds < _YEAR_10000:
        raise ValidationError(
            path,
            value,
            "must be Unix seconds after 1970 and before the year 10000"
            " (not milliseconds)",
        )
    return pendulum.from_timestamp(seconds, tz="UTC")


def read_signed_money(value: object, currency: Currency | str, *, path: str) -> Money:
    """`read_money` of text that may be written negative (`"-0.06"`).

    Settlement statements write a refund's fee that way. An error names the
    text as written, sign included. A zero written negative (`"-0.00"`) is
    zero.

    Raises:
        InvalidMoney: Not text (a JSON number or `null` too: statements
            write amounts as text), or the text after the sign is not an
            exact amount.
        UnknownCurrency: The currency is not an ISO 4217 code.

    .. versionadded:: 0.1.0
    """
    if not isinstance(value, str):
        raise InvalidMoney(path, value, "must be decimal text such as -0.06")
    if not value.startswith("-"):
        return read_money(value, currency, path=path)
    try:
        amount = read_money(value[1:], currency, path=path)
    except InvalidMoney as error:
        raise InvalidMoney(path, value, error.problem) from None
    # Negated, zero would be -0.00: a sign that means nothing.
    return -amount if amount.amount else amount


def read_quantity(value: object, *, path: str) -> int:
    """A positive whole number of units, as a JSON integer or ASCII digits.

    A JSON number written with a fraction, even `2.0`, is refused: every
    channel documents quantities as integers, so a fraction means a bug.

    Raises:
        InvalidQuantity: Zero, negative, fractional, an exponent (`"1e3"`),
            full-width digits, or more than `MAX_QUANTITY`.
    """
    if type(value) is int:
        quantity = value
    # Digits past MAX_QUANTITY's are refused below anyway; bounding the text
    # first keeps int() away from its limit on very long digit strings.
    elif isinstance(value, str) and value.isascii() and value.isdigit():
        quantity = int(value) if len(value) <= _MAX_DIGITS else MAX_QUANTITY + 1
    else:
        raise InvalidQuantity(path, value, "must be a whole number of units")
    if not 0 < quantity <= MAX_QUANTITY:
        raise InvalidQuantity(path, value, f"must be between 1 and {MAX_QUANTITY}")
    return quantity


def read_instant(
    value: object, *, path: str, zone: str | None = None
) -> pendulum.DateTime:
    """An instant in UTC from ISO 8601 or RFC 2822 text with a date and a time.

    Text with an offset (`2008-01-10T11:00:00-05:00`, `Z`, `+0000`) is exact.
    Text without one is local time in `zone`, the zone the channel's
    documentation names (`"UTC"` for a `_gmt` field, `"Asia/Shanghai"` for
    Taobao); without `zone` it is refused, and so is a local time that a
    daylight-saving change makes ambiguous or impossible in `zone`.

    Raises:
        NaiveDatetime: The text has no offset and no `zone` was given.
        ValidationError: Not text; a date without a time; an RFC 2822 zone
            name the standard does not define (UT, GMT and the old US names
            such as EST are); RFC 2822 text with more after its zone than
            one comment (`"+0000 (UTC)"`); not a possible date and time.
        ConfigurationError: `zone` is not an IANA zone.
    """
    if not isinstance(value, str) or not value.strip() or not value.isprintable():
        raise ValidationError(path, value, "must be a date and time as text")
    text = value.strip()
    try:
        parsed = dt.datetime.fromisoformat(text)
    except ValueError:
        parsed = _rfc2822(text, path)
    else:
        if ":" not in text:
            raise ValidationError(path, value, "is a date without a time of day")
    if parsed.tzinfo is None:
        if zone is None:
            raise NaiveDatetime(path, value)
        parsed = _localised(parsed, zone, path, value)
    try:
        return pendulum.instance(parsed).in_timezone("UTC")
    except OverflowError:
        # 0001-01-01 east of UTC, or 9999-12-31 west of it, has no UTC instant.
        raise ValidationError(
            path, value, "is outside the years 1 to 9999 in UTC"
        ) from None


def zone_named(zone: str) -> zoneinfo.ZoneInfo:
    """The IANA zone `zone`, as `read_instant` reads local times in it.

    Raises:
        ConfigurationError: `zone` is not an IANA zone of a place (the
            host's `localtime` would read one payload as other instants on
            other hosts).
    """
    # str(): a value of another type goes on to ZoneInfo's own refusal.
    if not_a_place(str(zone)):
        raise ConfigurationError(
            "zone", f"{zone!r} is not an IANA zone of a place", value=zone
        )
    try:
        return zoneinfo.ZoneInfo(zone)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, TypeError, OSError):
        raise ConfigurationError(
            "zone", f"{zone!r} is not an IANA zone", value=zone
        ) from None


def _localised(naive: dt.datetime, zone: str, path: str, value: object) -> dt.datetime:
    tz = zone_named(zone)
    early, late = naive.replace(tzinfo=tz, fold=0), naive.replace(tzinfo=tz, fold=1)
    if early.utcoffset() != late.utcoffset():
        # The hour a clock repeats or skips: which instant it meant is a guess.
        raise ValidationError(
            path,
            value,
            f"is ambiguous or impossible in {zone} (a daylight-saving change)",
        )
    return early


# RFC 5322 3.3's date-time, with one trailing comment ("+0000 (UTC)"):
# parsedate itself reads what it can and drops the rest, so that
# "... +0800 -0500" would read as +0800 and trailing junk be ignored.
_RFC2822: Final = re.compile(
    r"\s*(?:[A-Za-z]{3}\s*,\s*)?\d{1,2}\s+[A-Za-z]{3}\s+\d{2,4}"
    r"\s+\d{1,2}:\d{2}(?::\d{2})?\s+(?:[+-]\d{4}|[A-Za-z]{1,5})"
    r"(?:\s*\([^()]*\))?\s*",
    re.ASCII,
)


def _rfc2822(text: str, path: str) -> dt.datetime:
    try:
        parsed = (
            email.utils.parsedate_to_datetime(text)
            if _RFC2822.fullmatch(text)
            else None
        )
    except (TypeError, ValueError, IndexError, OverflowError):
        parsed = None
    if parsed is None:
        raise ValidationError(path, text, "is not an ISO 8601 or RFC 2822 time")
    if parsed.tzinfo is None:
        if text.endswith("-0000"):
            # RFC 5322 3.3: -0000 is Universal Time, written by a system whose
            # own zone is unknown; parsedate leaves it naive all the same.
            return parsed.replace(tzinfo=dt.UTC)
        # parsedate reads zone names it does not know as no zone at all.
        raise ValidationError(
            path, text, "names a zone other than UT, GMT or an offset"
        )
    return parsed


def read_status(value: object, statuses: Mapping[str, Any], *, path: str) -> Any:  # noqa: ANN401 - whatever the mapping maps to
    """Look a channel's status up in its documented table; never guess.

    A status the channel sends as a JSON integer is looked up as its text.

    Raises:
        UnknownStatus: The status is not in the table (`field` is `path`).
    """
    # Some channels number their states (Magento's invoice state 2).
    name = str(value) if type(value) is int else value
    if not isinstance(name, str) or name not in statuses:
        known = ", ".join(sorted(statuses))
        raise UnknownStatus(
            path, value, f"is not a status the channel documents ({known})"
        )
    return statuses[name]
