"""Hooks for single values: money, instants, enums, text and numbers.

Each reads only what the wire format allows (no coercion of strings and
integers, no JSON floats for money) and builds the value by its constructor.
"""

from __future__ import annotations

import base64
import datetime as dt
import enum
import re
from decimal import Decimal
from typing import Final

import pendulum

from orderkit._time import to_utc
from orderkit.errors import (
    InvalidMoney,
    NaiveDatetime,
    OrderkitError,
    StructureError,
    ValidationError,
)
from orderkit.money import Currency, Money
from orderkit.money import _as_decimal as as_decimal
from orderkit.serialization._paths import shape_error
from orderkit.serialization._wire import TAG, Data, TypeForm, own


_UTC: Final = pendulum.UTC


def unstructure_decimal(value: Decimal) -> str:
    return format(value, "f")


@own
def structure_decimal(value: Data, _: TypeForm) -> Decimal:
    # Money's own rule for amounts: plain decimal strings, ints, finite Decimals.
    try:
        return as_decimal(value, "")
    except InvalidMoney as error:
        problem = "must be a decimal string such as '12.30'"
        raise StructureError("", value, problem, "Decimal") from error


def unstructure_bytes(value: bytes) -> str:
    # JSON has no bytes: standard base64 text, as most JSON APIs write it.
    return base64.b64encode(value).decode("ascii")


@own
def structure_bytes(value: Data, _: TypeForm) -> bytes:
    if isinstance(value, str):
        try:
            return base64.b64decode(value.encode("ascii"), validate=True)
        except (ValueError, UnicodeEncodeError):
            pass
    raise StructureError("", value, "must be base64 text", "bytes")


def unstructure_money(value: Money) -> dict[str, str]:
    return {"amount": str(value.amount), "currency": value.currency.code}


@own
def structure_money(value: Data, _: TypeForm) -> Money:
    try:
        amount, currency = value["amount"], value["currency"]
    except (KeyError, TypeError, IndexError):
        raise shape_error(value, ("amount", "currency"), "Money") from None
    return Money(amount, currency)


@own
def structure_currency(value: Data, _: TypeForm) -> Currency:
    try:
        return Currency(value)
    except ValidationError as error:
        raise StructureError("", value, error.problem, "Currency") from error


# Two digits for each number below 100: indexing is several times faster than
# formatting, and every field but the year and the fraction is below 100.
_TWO_DIGITS: Final = tuple(f"{n:02d}" for n in range(100))


def unstructure_instant(value: dt.datetime) -> str:
    if value.tzinfo is not _UTC:
        value = to_utc(value, "")
    # Faster than isoformat(), which asks pendulum's tzinfo for the offset.
    two = _TWO_DIGITS
    year = value.year
    text = (
        f"{year if year >= 1000 else f'{year:04d}'}-{two[value.month]}-"
        f"{two[value.day]}T{two[value.hour]}:{two[value.minute]}:{two[value.second]}"
    )
    micro = value.microsecond
    return f"{text}.{micro:06d}Z" if micro else f"{text}Z"


@own
def structure_instant(value: Data, _: TypeForm) -> pendulum.DateTime:
    if isinstance(value, str):
        try:
            # About 15 times faster than pendulum.parse.
            parsed = dt.datetime.fromisoformat(value)
        except ValueError:
            problem = "is not an ISO 8601 timestamp"
            raise StructureError("", value, problem, "DateTime") from None
    elif isinstance(value, dt.datetime):
        parsed = value
    else:
        problem = "must be an ISO 8601 timestamp string"
        raise StructureError("", value, problem, "DateTime")
    if parsed.tzinfo is dt.UTC:  # what fromisoformat gives for Z and +00:00
        return pendulum.DateTime(
            parsed.year,
            parsed.month,
            parsed.day,
            parsed.hour,
            parsed.minute,
            parsed.second,
            parsed.microsecond,
            tzinfo=_UTC,
        )
    if parsed.utcoffset() is None:
        raise NaiveDatetime("", value)
    return to_utc(parsed, "")


def unstructure_date(value: dt.date) -> str:
    return f"{value.year:04d}-{value.month:02d}-{value.day:02d}"


_DATE: Final = re.compile(r"\d{4}-\d{2}-\d{2}", re.ASCII)


@own
def structure_date(value: Data, _: TypeForm) -> dt.date:
    # Only the extended calendar form: what `unstructure_date` writes, and
    # not the week or basic forms `date.fromisoformat` also takes.
    if isinstance(value, str) and _DATE.fullmatch(value):
        try:
            return dt.date.fromisoformat(value)
        except ValueError:
            pass
    elif isinstance(value, dt.date) and not isinstance(value, dt.datetime):
        return dt.date(value.year, value.month, value.day)
    problem = "must be an ISO 8601 date such as '2026-11-11'"
    raise StructureError("", value, problem, "date")


def unstructure_duration(value: dt.timedelta) -> str:
    # ISO 8601, in the units a timedelta has: days, then the day's time.
    sign = "-" if value < dt.timedelta(0) else ""
    value = abs(value)
    minutes, seconds = divmod(value.seconds, 60)
    hours, minutes = divmod(minutes, 60)
    time = "".join(f"{n}{unit}" for n, unit in ((hours, "H"), (minutes, "M")) if n)
    if value.microseconds:
        time += f"{seconds}.{value.microseconds:06d}".rstrip("0") + "S"
    elif seconds:
        time += f"{seconds}S"
    days = f"{value.days}D" if value.days else ""
    if not (days or time):
        return "PT0S"
    return f"{sign}P{days}{'T' if time else ''}{time}"


_DURATION: Final = re.compile(
    r"(-)?P(?:(\d+)W)?(?:(\d+)D)?"
    r"(?:T(?=\d)(?:(\d+)H)?(?:(\d+)M)?(?:(\d+)(?:[.,](\d{1,6}))?S)?)?",
    re.ASCII,
)


@own
def structure_duration(value: Data, _: TypeForm) -> dt.timedelta:
    # Years and months have no fixed length: a duration in them is refused.
    if isinstance(value, dt.timedelta):
        return value
    found = _DURATION.fullmatch(value) if isinstance(value, str) else None
    if found is not None and value not in ("P", "-P"):
        sign, weeks, days, hours, minutes, seconds, fraction = found.groups()
        try:
            duration = dt.timedelta(
                weeks=int(weeks or 0),
                days=int(days or 0),
                hours=int(hours or 0),
                minutes=int(minutes or 0),
                seconds=int(seconds or 0),
                microseconds=int((fraction or "").ljust(6, "0")),
            )
        except OverflowError:
            problem = "is longer than a duration can be"
            raise StructureError("", value, problem, "timedelta") from None
        return -duration if sign else duration
    problem = (
        "must be an ISO 8601 duration in weeks, days, hours, minutes and"
        " seconds, such as 'PT30M' or 'P1D'"
    )
    raise StructureError("", value, problem, "timedelta")


def unstructure_time(value: dt.time) -> str:
    # A wall-clock time of day (a cut-off), to the minute when it is one.
    if value.second or value.microsecond:
        return value.isoformat()
    return f"{value.hour:02d}:{value.minute:02d}"


_TIME: Final = re.compile(r"\d{2}:\d{2}(?::\d{2}(?:\.\d{1,6})?)?", re.ASCII)


@own
def structure_time(value: Data, _: TypeForm) -> dt.time:
    # Only a wall clock: an offset has no place where the zone is given apart
    # (an SLA's `zone`), and TOML's local time arrives as a `time` already.
    if isinstance(value, str) and _TIME.fullmatch(value):
        try:
            return dt.time.fromisoformat(value)
        except ValueError:
            pass
    elif isinstance(value, dt.time):
        return value
    problem = (
        "must be a wall-clock time such as '16:00' or '16:00:30', without an offset"
    )
    raise StructureError("", value, problem, "time")


@own
def structure_float(value: Data, _: TypeForm) -> Data:
    # JSON and TOML numbers only: a string is not coerced (as for int), and
    # the constructor judges the number.
    if isinstance(value, int | float) and not isinstance(value, bool):
        return value
    raise StructureError("", value, "must be a number", "float")


def unstructure_error(value: OrderkitError) -> dict[str, str]:
    return {TAG: type(value).__name__, "message": str(value)}


@own
def structure_orderkit_error(value: Data, _: TypeForm) -> OrderkitError:
    # An exception carries arbitrary values and compares by identity: it is
    # written for people to read, and never read back.
    problem = "is an error report, which is written but never read back"
    raise StructureError("", value, problem, "OrderkitError")


def unstructure_enum(value: enum.Enum) -> Data:
    return value._value_


@own
def structure_enum(value: Data, cl: type[enum.Enum]) -> enum.Enum:
    try:
        return cl._value2member_map_[value]
    except (KeyError, TypeError):
        pass
    try:
        return cl(value)  # aliases, _missing_, and the enum's own error
    except ValueError as error:
        if isinstance(error, ValidationError):
            problem = error.problem
        else:
            problem = f"must be one of {', '.join(repr(m.value) for m in cl)}"
        raise StructureError("", value, problem, cl.__name__) from error


@own
def structure_str(value: Data, cl: TypeForm) -> Data:
    # Registered for str, so it also sees str subclasses such as StrEnums.
    if issubclass(cl, enum.Enum):
        return structure_enum(value, cl)
    if isinstance(value, str):
        return value if cl is str else cl(value)
    raise StructureError("", value, "must be a string", cl.__name__)


@own
def structure_int(value: Data, cl: TypeForm) -> Data:
    # Registered for int, so it also sees bool and IntEnums.
    if cl is bool:
        if isinstance(value, bool):
            return value
        raise StructureError("", value, "must be true or false", "bool")
    if issubclass(cl, enum.Enum):
        return structure_enum(value, cl)
    if isinstance(value, int) and not isinstance(value, bool):
        return value if cl is int else cl(value)
    raise StructureError("", value, "must be an integer", cl.__name__)
