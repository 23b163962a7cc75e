"""Business calendars: which dates are working days, from tables of data.

A calendar answers one question, "is this date a business day?", and refuses
to answer for a year its data does not cover: holidays are decided by
governments year by year, so a guess would be a wrong promise to a buyer.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from typing import Protocol, final, runtime_checkable

import attrs

from orderkit._validate import Validator, text
from orderkit.calendar._windows import check_day
from orderkit.errors import CalendarDataMissing, ValidationError


__all__ = [
    "BusinessCalendar",
    "TableCalendar",
    "add_business_days",
    "next_business_day",
]


_SATURDAY_SUNDAY = frozenset({5, 6})
# A search for the next business day gives up after this many days: a
# calendar with none in a year is broken, not busy.
_SEARCH_LIMIT = 366


@runtime_checkable
class BusinessCalendar(Protocol):
    """Which dates are business (working) days; pure, no I/O.

    An implementation answers for the years its data covers and raises
    `CalendarDataMissing` for any other, never guessing. `TableCalendar` is
    the one orderkit ships; a host may implement this protocol over its own
    source (a shop's own closing days, a carrier's schedule).

    .. versionadded:: 0.1.0
    """

    @property
    def name(self) -> str:
        """The calendar's name, as errors report it (`"CN"`)."""
        ...

    def is_business_day(self, day: dt.date) -> bool:
        """Whether `day` is a working day.

        Raises:
            CalendarDataMissing: The calendar's data does not cover `day`'s
                year.
            ValidationError: `day` is not a date.
        """
        ...


def _year(field: str) -> Validator:
    def check(_instance: object, _attribute: object, value: object) -> None:
        if not isinstance(value, int) or isinstance(value, bool):
            raise ValidationError(field, value, "must be an int year")
        if not dt.MINYEAR <= value <= dt.MAXYEAR:
            raise ValidationError(
                field, value, f"must be a year from {dt.MINYEAR} to {dt.MAXYEAR}"
            )

    return check


def _weekend(value: Iterable[int]) -> frozenset[int]:
    raw: object = value  # checked as what it is, not what it claims to be
    if isinstance(raw, str | bytes | Mapping) or not isinstance(raw, Iterable):
        raise ValidationError("weekend", value, "must be a set of weekday numbers")
    days: set[int] = set()
    for day in tuple(raw):  # read once: a generator gives its days only once
        if not isinstance(day, int) or isinstance(day, bool) or not 0 <= day <= 6:
            raise ValidationError(
                "weekend", value, "weekday numbers run from 0 (Monday) to 6 (Sunday)"
            )
        days.add(day)
    if len(days) == 7:
        raise ValidationError("weekend", value, "leaves no working weekday")
    return frozenset(days)


def _dated(field: str, value: Mapping[dt.date, str]) -> tuple[tuple[dt.date, str], ...]:
    raw: object = value  # checked as what it is, not what it claims to be
    if not isinstance(raw, Mapping):
        raise ValidationError(field, value, "must be a mapping of date to name")
    rows: list[tuple[dt.date, str]] = []
    for key, name in raw.items():
        day = check_day(key, f"{field}[{key!r}]")
        where = f"{field}[{day.isoformat()}]"
        if not isinstance(name, str) or not name.strip() or not name.isprintable():
            raise ValidationError(where, name, "must be a non-empty, printable name")
        rows.append((day, name))
    return tuple(sorted(rows))


def _holidays(value: Mapping[dt.date, str]) -> tuple[tuple[dt.date, str], ...]:
    return _dated("holidays", value)


def _workdays(value: Mapping[dt.date, str]) -> tuple[tuple[dt.date, str], ...]:
    return _dated("workdays", value)


def _count(rows: tuple[tuple[dt.date, str], ...]) -> str:
    # A bundled table holds a hundred dates: a repr says how many, not which.
    return f"<{len(rows)} dates>"


@final
@attrs.frozen(slots=True)
class TableCalendar:
    """A business calendar from plain data: weekend, holidays, make-up days.

    A date is a business day when it is an extra working day, or when it is
    neither a weekend day nor a holiday. Extra working days are China's 调休
    make-up workdays: weekend days worked to bridge a holiday, such as
    Saturday 2026-10-10 after National Day. The table is checked whole when
    it is built, so a calendar either exists complete or not at all.

    Attributes:
        name: The calendar's name, as errors report it (`"CN"`).
        first_year: The first year the data covers.
        last_year: The last year the data covers, inclusive.
        weekend: The weekday numbers of the weekend, Monday being 0 as in
            `datetime.date.weekday()`; Saturday and Sunday by default.
        holidays: `(date, name)` pairs of days off, sorted by date; given as a
            mapping of date to name. A holiday on a weekend day is allowed
            (China counts them in a holiday's run).
        workdays: `(date, name)` pairs of extra working days on weekend days,
            sorted by date; given as a mapping of date to the name of the
            holiday they make up for.

    Raises:
        ValidationError: A field of the wrong type, `last_year` before
            `first_year`, a weekend of all seven days, a date outside the
            covered years, a date both a holiday and a working day, or an
            extra working day that is not a weekend day (`field` names the
            entry, as in `workdays[2026-10-10]`).

    .. versionadded:: 0.1.0
    """

    name: str = attrs.field(validator=text("name"))
    first_year: int = attrs.field(kw_only=True, validator=_year("first_year"))
    last_year: int = attrs.field(kw_only=True, validator=_year("last_year"))
    weekend: frozenset[int] = attrs.field(
        kw_only=True, default=_SATURDAY_SUNDAY, converter=_weekend
    )
    holidays: tuple[tuple[dt.date, str], ...] = attrs.field(
        kw_only=True, factory=dict, converter=_holidays, repr=_count
    )
    workdays: tuple[tuple[dt.date, str], ...] = attrs.field(
        kw_only=True, factory=dict, converter=_workdays, repr=_count
    )
    _off: frozenset[dt.date] = attrs.field(init=False, eq=False, hash=False, repr=False)
    _on: frozenset[dt.date] = attrs.field(init=False, eq=False, hash=False, repr=False)

    def __attrs_post_init__(self) -> None:
        if self.last_year < self.first_year:
            raise ValidationError(
                "last_year",
                self.last_year,
                f"must not be before first_year ({self.first_year})",
            )
        for field, rows in (("holidays", self.holidays), ("workdays", self.workdays)):
            for day, _ in rows:
                if not self.first_year <= day.year <= self.last_year:
                    raise ValidationError(
                        f"{field}[{day.isoformat()}]",
                        day,
                        f"lies outside the covered years "
                        f"{self.first_year}-{self.last_year}",
                    )
        off = frozenset(day for day, _ in self.holidays)
        for day, _ in self.workdays:
            if day in off:
                raise ValidationError(
                    f"workdays[{day.isoformat()}]",
                    day,
                    "is also a holiday; a date is either a day off or a working day",
                )
            if day.weekday() not in self.weekend:
                raise ValidationError(
                    f"workdays[{day.isoformat()}]",
                    day,
                    "is not a weekend day, so it is a working day already",
                )
        object.__setattr__(self, "_off", off)
        object.__setattr__(self, "_on", frozenset(day for day, _ in self.workdays))

    def covers(self, year: int) -> bool:
        """Whether the data covers `year`."""
        return self.first_year <= year <= self.last_year

    def extended(
        self,
        *,
        last_year: int,
        holidays: Mapping[dt.date, str] | None = None,
        workdays: Mapping[dt.date, str] | None = None,
    ) -> TableCalendar:
        """This calendar with the years after `self.last_year` up to `last_year`.

        The way to add a year as soon as it is announced (China's State
        Council publishes the next year's holidays and 调休 make-up workdays
        late in the year), without copying the years already here:
        `CN.extended(last_year=2027, holidays={...}, workdays={...})`.
        Every date given lies in the added years: the covered years stay as
        they are (a table built whole changes those).

        Raises:
            ValidationError: `last_year` is not after `self.last_year`, a
                date lies outside the added years, or the table the result
                would be is refused (as `TableCalendar` refuses it).
        """
        year: object = last_year  # checked as what it is, not what it claims
        if not isinstance(year, int) or year <= self.last_year:
            raise ValidationError(
                "last_year", last_year, f"must be after {self.last_year}"
            )
        added: dict[str, dict[dt.date, str]] = {}
        for field, given in (("holidays", holidays), ("workdays", workdays)):
            if given is not None and not isinstance(given, Mapping):
                raise ValidationError(field, given, "must map dates to names")
            added[field] = dict(given or {})
        for field, rows in added.items():
            for day in rows:
                # Anything but a date is the table's to refuse, by its path.
                found: object = day
                if isinstance(found, dt.date) and found.year <= self.last_year:
                    raise ValidationError(
                        f"{field}[{day.isoformat()}]",
                        day,
                        f"lies in a year the calendar covers already"
                        f" ({self.first_year}-{self.last_year})",
                    )
        return TableCalendar(
            self.name,
            first_year=self.first_year,
            last_year=last_year,
            weekend=self.weekend,
            holidays={**dict(self.holidays), **added["holidays"]},
            workdays={**dict(self.workdays), **added["workdays"]},
        )

    def _check(self, day: object) -> dt.date:
        checked = check_day(day, "day")
        if not self.covers(checked.year):
            raise CalendarDataMissing(self.name, checked.year)
        return checked

    def is_business_day(self, day: dt.date) -> bool:
        """Whether `day` is a working day.

        Raises:
            CalendarDataMissing: `day`'s year is outside the covered years.
            ValidationError: `day` is not a date.
        """
        checked = self._check(day)
        if checked in self._on:
            return True
        return checked not in self._off and checked.weekday() not in self.weekend

    def holiday_name(self, day: dt.date) -> str | None:
        """The name of the holiday on `day`, or `None` if it is not one.

        Raises:
            CalendarDataMissing: `day`'s year is outside the covered years.
            ValidationError: `day` is not a date.
        """
        checked = self._check(day)
        return dict(self.holidays).get(checked)


def _check_calendar(calendar: object) -> BusinessCalendar:
    if not isinstance(calendar, BusinessCalendar):
        raise ValidationError("calendar", calendar, "must be a BusinessCalendar")
    return calendar


def next_business_day(calendar: BusinessCalendar, day: dt.date) -> dt.date:
    """The first business day after `day` (never `day` itself).

    Raises:
        CalendarDataMissing: The search reaches a year the calendar does not
            cover.
        ValidationError: `day` is not a date, `calendar` is not a
            `BusinessCalendar`, or it has no business day within a year.

    .. versionadded:: 0.1.0
    """
    _check_calendar(calendar)
    check_day(day, "day")
    candidate = day
    for _ in range(_SEARCH_LIMIT):
        try:
            candidate += dt.timedelta(days=1)
        except OverflowError:
            raise ValidationError("day", day, "is the last date there is") from None
        if calendar.is_business_day(candidate):
            return candidate
    raise ValidationError(
        "calendar",
        calendar.name,
        f"has no business day within {_SEARCH_LIMIT} days after {day.isoformat()}",
    )


def add_business_days(calendar: BusinessCalendar, day: dt.date, days: int) -> dt.date:
    """The business day `days` business days after `day`; `day` for zero.

    Args:
        calendar: Which dates are business days.
        day: The date to count from; it need not be a business day itself.
        days: How many business days to move forward, zero or more.

    Raises:
        CalendarDataMissing: The count reaches a year the calendar does not
            cover.
        ValidationError: `days` is negative or not an int, `day` is not a
            date, or the calendar has no business day within a year.

    .. versionadded:: 0.1.0
    """
    count: object = days  # checked as what it is, not what it claims to be
    if not isinstance(count, int) or isinstance(count, bool) or count < 0:
        raise ValidationError("days", days, "must be an int, zero or more")
    for _ in range(count):
        day = next_business_day(calendar, day)
    return check_day(day, "day")
