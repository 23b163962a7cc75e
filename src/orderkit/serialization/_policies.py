"""Hooks for policies kept as configuration: calendars, functions, offer pairs.

A host keeps its desk's policies in a file and reads them with the converter,
so each part of a policy has a shape a person can write: a business calendar
is the name of one orderkit ships or a table whose holidays map ISO dates to
names, a stacking policy's combinable kinds are pairs, and a field holding a
function (`DeskPolicy.tier`) is never data: it is left out while it holds
its default and refused otherwise, both ways.
"""

from __future__ import annotations

import collections.abc
import datetime as dt
from collections.abc import Mapping
from typing import Final, NoReturn

import cattrs

from orderkit.calendar import CN, US_FEDERAL, BusinessCalendar, TableCalendar
from orderkit.errors import StructureError, ValidationError
from orderkit.pricing import OfferKind
from orderkit.serialization._paths import type_name
from orderkit.serialization._values import unstructure_date
from orderkit.serialization._wire import (
    Data,
    StructureHook,
    TypeForm,
    UnstructureHook,
    origin_of,
    own,
)


# --------------------------------------------------------------------------
# Business calendars

BUNDLED_CALENDARS: Final[Mapping[str, TableCalendar]] = {
    "CN": CN,
    "US_FEDERAL": US_FEDERAL,
}
"""The calendars orderkit ships, by their names in `orderkit.calendar`."""

_BUNDLED_NAMES: Final = ", ".join(repr(name) for name in BUNDLED_CALENDARS)
# A calendar's own name (`US_FEDERAL.name` is "US") is what errors and
# reports show, so a configuration may name it that way too.
_BUNDLED: Final = {
    **{calendar.name: calendar for calendar in BUNDLED_CALENDARS.values()},
    **BUNDLED_CALENDARS,
}
_DATED: Final = tuple[tuple[dt.date, str], ...]


def is_business_calendar(t: TypeForm) -> bool:
    # Asked by identity: a runtime protocol in functools.singledispatch would
    # be asked `issubclass` for every class the converter looks up.
    return t is BusinessCalendar


_EXTENSION_KEYS: Final = frozenset({"extends", "last_year", "holidays", "workdays"})


def calendar_structure_hook(
    _t: TypeForm, converter: cattrs.BaseConverter
) -> StructureHook:
    table_hook = converter.get_structure_hook(TableCalendar)
    dated_hook = converter.get_structure_hook(_DATED)
    year_hook = converter.get_structure_hook(int)

    def extended(value: Mapping[str, Data]) -> TableCalendar:
        """A bundled calendar with the years after its own, as one adds 2027."""
        base = _BUNDLED.get(value["extends"])
        if base is None:
            problem = f"is not a calendar orderkit ships ({_BUNDLED_NAMES})"
            raise StructureError("extends", value["extends"], problem, "str")
        extra = sorted(set(value) - _EXTENSION_KEYS)
        if extra:
            # The rest is the base's: a name or weekend here would be a
            # second, silent answer to what the base says.
            problem = "is not read beside extends (last_year, holidays, workdays)"
            raise StructureError(extra[0], value[extra[0]], problem, "TableCalendar")
        if "last_year" not in value:
            raise StructureError("last_year", None, "is needed with extends", "int")
        parts = {
            name: _at(name, dated_hook, value[name], _DATED)
            for name in ("holidays", "workdays")
            if name in value
        }
        last_year = _at("last_year", year_hook, value["last_year"], int)
        return base.extended(last_year=last_year, **parts)

    def structure_calendar(value: Data, _: TypeForm) -> Data:
        if isinstance(value, str):
            try:
                return _BUNDLED[value]
            except KeyError:
                problem = (
                    f"is not a calendar orderkit ships ({_BUNDLED_NAMES});"
                    " give your own as a table"
                )
                raise StructureError("", value, problem, "BusinessCalendar") from None
        if isinstance(value, Mapping):
            if "extends" in value:
                return extended(value)
            return table_hook(value, TableCalendar)
        problem = (
            f"must name a calendar orderkit ships ({_BUNDLED_NAMES}) or be a table"
            " (an object with name, first_year, last_year, holidays...)"
        )
        raise StructureError("", value, problem, "BusinessCalendar")

    return own(structure_calendar)


def _at(field: str, hook: StructureHook, value: Data, t: TypeForm) -> Data:
    """`hook(value, t)`, its refusal moved under `field` (`holidays[2027-01-01]`)."""
    try:
        return hook(value, t)
    except StructureError as error:
        inner = error.field
        joined = f"{field}{'' if inner.startswith('[') else '.'}{inner}"
        path = joined if inner else field
        problem, name = error.problem, error.type_name
        raise StructureError(path, error.value, problem, name) from None


def calendar_unstructure_hook(
    _t: TypeForm, converter: cattrs.BaseConverter
) -> UnstructureHook:
    table_hook = converter.get_unstructure_hook(TableCalendar)

    def unstructure_calendar(value: Data) -> Data:
        if isinstance(value, TableCalendar):
            # Equal to a bundled one, it is written by name: a file then
            # says "CN", and reads back the very table.
            for name, bundled in BUNDLED_CALENDARS.items():
                if value == bundled:
                    return name
                # A bundled one with later years: written as what was added.
                extension = _extension(value, name, bundled)
                if extension is not None:
                    return extension
            return table_hook(value)
        problem = (
            "is not a TableCalendar, so it cannot be written as data: use a"
            " TableCalendar, or register your own hooks for BusinessCalendar"
        )
        raise ValidationError("calendar", value, problem)

    return unstructure_calendar


def _extension(
    value: TableCalendar, name: str, bundled: TableCalendar
) -> dict[str, Data] | None:
    """`value` as `{"extends": name, ...}` when it is `bundled` with later years."""
    base = (bundled.name, bundled.first_year, bundled.weekend)
    if (value.name, value.first_year, value.weekend) != base:
        return None
    if value.last_year <= bundled.last_year:
        return None
    parts: dict[str, Data] = {"extends": name, "last_year": value.last_year}
    for field in ("holidays", "workdays"):
        rows, before = getattr(value, field), getattr(bundled, field)
        # Rows are sorted by date: the added years' come after the base's.
        added = rows[len(before) :]
        if rows[: len(before)] != before or any(
            day.year <= bundled.last_year for day, _ in added
        ):
            return None
        parts[field] = unstructure_dated(added)
    return parts


def is_dated_names(t: TypeForm) -> bool:
    """A table of `(date, name)` rows, such as a calendar's holidays."""
    return bool(t == _DATED)


def dated_structure_hook(
    _t: TypeForm, converter: cattrs.BaseConverter
) -> StructureHook:
    day_hook = converter.get_structure_hook(dt.date)

    def structure_dated(value: Data, _: TypeForm) -> Data:
        # Read as the constructor takes it: a mapping of date to name, whose
        # names the constructor checks (and reports as `holidays[date]`).
        if not isinstance(value, Mapping):
            problem = (
                "must be an object from ISO 8601 date to name, such as"
                " {'2026-10-01': 'National Day'}"
            )
            raise StructureError("", value, problem, "dates")
        rows: dict[dt.date, Data] = {}
        for key, name in value.items():
            try:
                day = day_hook(key, dt.date)
            except StructureError as error:
                raise StructureError(f"[{key}]", key, error.problem, "date") from None
            rows[day] = name
        return rows

    return own(structure_dated)


def unstructure_dated(value: Data) -> dict[str, Data]:
    return {unstructure_date(day): name for day, name in value}


# --------------------------------------------------------------------------
# Functions


_FUNCTION: Final = (
    "is a function, which data cannot hold: leave it out of the data, and set"
    " it in code once the value is read (attrs.evolve(value, field=...))"
)


def is_function_type(t: TypeForm) -> bool:
    return t is collections.abc.Callable or origin_of(t) is collections.abc.Callable


@own
def structure_function(value: Data, t: TypeForm) -> NoReturn:
    raise StructureError("", value, _FUNCTION, type_name(t))


def refuse_function(field: str, value: object) -> NoReturn:
    """Refuse to write a function that is not its field's default."""
    problem = (
        "is a function other than its default, which data cannot hold: write"
        " the value with the default, and set the function again in code"
    )
    raise ValidationError(field, value, problem)


# --------------------------------------------------------------------------
# Pairs of offer kinds

_PAIRS: Final = frozenset[frozenset[OfferKind]]
_PAIR_LIST: Final = tuple[tuple[OfferKind, ...], ...]


def is_offer_pairs(t: TypeForm) -> bool:
    """`StackingPolicy.combinable`: a set of pairs, one of a kind with itself."""
    return bool(t == _PAIRS)


def pairs_structure_hook(
    _t: TypeForm, converter: cattrs.BaseConverter
) -> StructureHook:
    # Lists of kinds: the constructor makes the pairs, and refuses a list
    # that is not one (`combinable[1]`).
    hook: StructureHook = converter.get_structure_hook(_PAIR_LIST)
    return hook


def unstructure_pairs(value: Data) -> list[list[str]]:
    # A kind that stacks with itself is a set of one: written as the pair
    # it was given as, so that it reads back.
    pairs = []
    for pair in value:
        kinds = sorted(kind._value_ for kind in pair)
        pairs.append(kinds * 2 if len(kinds) == 1 else kinds)
    return sorted(pairs)
