"""Business calendars from tables: lookups, refusals and the bundled tables."""

from __future__ import annotations

import datetime as dt
from types import MappingProxyType
from typing import ClassVar

import chinese_calendar  # type: ignore[import-untyped]
import holidays
import pytest
from hypothesis import given
from hypothesis import strategies as st

from orderkit.calendar import (
    CN,
    US_FEDERAL,
    BusinessCalendar,
    TableCalendar,
    add_business_days,
    next_business_day,
)
from orderkit.errors import CalendarDataMissing, OrderkitError, ValidationError


def every_day(first_year: int, last_year: int) -> list[dt.date]:
    start, end = dt.date(first_year, 1, 1), dt.date(last_year, 12, 31)
    return [start + dt.timedelta(days=n) for n in range((end - start).days + 1)]


SHOP = TableCalendar(
    "Lantern Street tea shop",
    first_year=2026,
    last_year=2026,
    holidays={dt.date(2026, 2, 17): "Spring Festival", dt.date(2026, 2, 21): "Sat"},
    workdays={dt.date(2026, 2, 28): "Spring Festival"},
)


class TestTableCalendar:
    """Weekends, holidays and make-up workdays decide a business day."""

    def test_a_plain_tuesday_is_a_business_day(self) -> None:
        assert SHOP.is_business_day(dt.date(2026, 2, 10))

    def test_a_weekend_day_is_not(self) -> None:
        assert not SHOP.is_business_day(dt.date(2026, 2, 8))

    def test_a_holiday_on_a_weekday_is_not(self) -> None:
        assert not SHOP.is_business_day(dt.date(2026, 2, 17))
        assert "Spring Festival" == SHOP.holiday_name(dt.date(2026, 2, 17))

    def test_a_make_up_saturday_is(self) -> None:
        assert SHOP.is_business_day(dt.date(2026, 2, 28))
        assert SHOP.holiday_name(dt.date(2026, 2, 28)) is None

    def test_a_custom_weekend(self) -> None:
        friday_off = TableCalendar("Gulf", first_year=2026, last_year=2026, weekend={4})
        assert not friday_off.is_business_day(dt.date(2026, 2, 13))
        assert friday_off.is_business_day(dt.date(2026, 2, 14))

    def test_a_weekend_given_as_a_generator(self) -> None:
        weekend = TableCalendar(
            "Config", first_year=2026, last_year=2026, weekend=(d for d in (5, 6))
        )
        assert weekend.weekend == frozenset({5, 6})
        assert not weekend.is_business_day(dt.date(2026, 3, 7))  # a Saturday

    def test_it_is_a_business_calendar(self) -> None:
        assert isinstance(SHOP, BusinessCalendar)
        assert isinstance(CN, BusinessCalendar)

    def test_equal_tables_make_equal_calendars(self) -> None:
        again = TableCalendar(
            "Lantern Street tea shop",
            first_year=2026,
            last_year=2026,
            holidays=dict(SHOP.holidays),
            workdays=dict(SHOP.workdays),
        )
        assert SHOP == again
        assert hash(SHOP) == hash(again)

    def test_the_repr_counts_the_dates(self) -> None:
        assert "holidays=<2 dates>" in repr(SHOP)


class TestNeverGuesses:
    """A year outside the data raises CalendarDataMissing, naming it."""

    @pytest.mark.parametrize("day", [dt.date(2025, 12, 31), dt.date(2027, 1, 1)])
    def test_outside_the_covered_years(self, day: dt.date) -> None:
        with pytest.raises(CalendarDataMissing) as caught:
            SHOP.is_business_day(day)
        assert ("Lantern Street tea shop", day.year) == (
            caught.value.calendar,
            caught.value.year,
        )

    def test_the_bundled_tables_stop_at_their_last_year(self) -> None:
        with pytest.raises(CalendarDataMissing, match="2027"):
            CN.is_business_day(dt.date(2027, 1, 4))
        with pytest.raises(CalendarDataMissing, match="2023"):
            US_FEDERAL.is_business_day(dt.date(2023, 12, 29))

    def test_counting_past_the_data_raises(self) -> None:
        with pytest.raises(CalendarDataMissing):
            add_business_days(CN, dt.date(2026, 12, 30), 3)

    def test_it_is_a_lookup_error(self) -> None:
        with pytest.raises(LookupError):
            CN.holiday_name(dt.date(2031, 10, 1))


class TestExtended:
    """A year added as soon as it is announced, without copying the others."""

    NEW_YEAR: ClassVar = MappingProxyType({dt.date(2027, 1, 1): "New Year's Day"})
    MAKE_UP: ClassVar = MappingProxyType({dt.date(2027, 2, 6): "Spring Festival"})

    def test_the_added_year_counts_and_the_others_stay(self) -> None:
        cn = CN.extended(last_year=2027, holidays=self.NEW_YEAR, workdays=self.MAKE_UP)

        assert (cn.first_year, cn.last_year, cn.name) == (2024, 2027, "CN")
        assert not cn.is_business_day(dt.date(2027, 1, 1))
        assert cn.is_business_day(dt.date(2027, 2, 6))  # a Saturday worked
        assert add_business_days(cn, dt.date(2026, 12, 30), 3) == dt.date(2027, 1, 5)
        for day in (dt.date(2026, 10, 1), dt.date(2026, 10, 10), dt.date(2025, 6, 3)):
            assert cn.is_business_day(day) == CN.is_business_day(day)

    def test_it_is_the_table_built_whole(self) -> None:
        whole = TableCalendar(
            "CN",
            first_year=2024,
            last_year=2027,
            holidays={**dict(CN.holidays), **self.NEW_YEAR},
            workdays={**dict(CN.workdays), **self.MAKE_UP},
        )
        extended = CN.extended(
            last_year=2027, holidays=self.NEW_YEAR, workdays=self.MAKE_UP
        )

        assert extended == whole

    @pytest.mark.parametrize(
        ("changes", "field"),
        [
            ({"last_year": 2026}, "last_year"),
            ({"last_year": "2027"}, "last_year"),
            (
                {"last_year": 2027, "holidays": {dt.date(2026, 12, 31): "Eve"}},
                "holidays[2026-12-31]",
            ),
            (
                {"last_year": 2027, "holidays": {dt.date(2028, 1, 1): "Too far"}},
                "holidays[2028-01-01]",
            ),
            (
                {"last_year": 2027, "workdays": {dt.date(2027, 1, 4): "Monday"}},
                "workdays[2027-01-04]",
            ),
            ({"last_year": 2027, "holidays": [(dt.date(2027, 1, 1), "x")]}, "holidays"),
        ],
    )
    def test_what_it_cannot_add_is_refused(
        self, changes: dict[str, object], field: str
    ) -> None:
        with pytest.raises(ValidationError) as caught:
            CN.extended(**changes)  # type: ignore[arg-type]

        assert field == caught.value.field
        # The covered years stay as they were: the table is not changed.
        assert CN.last_year == 2026


class TestCounting:
    """next_business_day and add_business_days skip days off."""

    def test_national_day_is_skipped(self) -> None:
        assert dt.date(2026, 10, 8) == next_business_day(CN, dt.date(2026, 9, 30))

    def test_the_make_up_saturday_counts(self) -> None:
        assert dt.date(2026, 10, 10) == add_business_days(CN, dt.date(2026, 10, 8), 2)

    def test_zero_days_is_the_day_itself(self) -> None:
        assert dt.date(2026, 10, 3) == add_business_days(CN, dt.date(2026, 10, 3), 0)

    def test_thanksgiving_is_skipped(self) -> None:
        wednesday = dt.date(2026, 11, 25)
        assert dt.date(2026, 11, 27) == next_business_day(US_FEDERAL, wednesday)

    @given(st.dates(dt.date(2024, 1, 1), dt.date(2026, 11, 30)), st.integers(0, 15))
    def test_the_result_is_a_business_day_after_the_start(
        self, day: dt.date, days: int
    ) -> None:
        result = add_business_days(CN, day, days)
        between = [
            d
            for d in (day + dt.timedelta(n) for n in range(1, (result - day).days + 1))
            if CN.is_business_day(d)
        ]
        assert days == len(between)
        assert days == 0 or CN.is_business_day(result)

    @pytest.mark.parametrize("days", [-1, 1.5, True, "2"])
    def test_a_bad_count_is_refused(self, days: object) -> None:
        with pytest.raises(ValidationError) as caught:
            add_business_days(CN, dt.date(2026, 5, 6), days)  # type: ignore[arg-type]
        assert "days" == caught.value.field

    def test_a_calendar_with_no_business_days_is_refused(self) -> None:
        class Closed:
            name = "closed for good"

            def is_business_day(self, day: dt.date) -> bool:
                return day is None

        with pytest.raises(ValidationError, match="no business day"):
            next_business_day(Closed(), dt.date(2026, 1, 1))

    def test_not_a_calendar_is_refused(self) -> None:
        with pytest.raises(ValidationError) as caught:
            next_business_day("CN", dt.date(2026, 1, 1))  # type: ignore[arg-type]
        assert "calendar" == caught.value.field


def build(**changes: object) -> TableCalendar:
    fields: dict[str, object] = {
        "first_year": 2026,
        "last_year": 2026,
        "holidays": {dt.date(2026, 10, 1): "National Day"},
        "workdays": {dt.date(2026, 10, 10): "National Day"},
    }
    fields.update(changes)
    return TableCalendar("CN draft", **fields)  # type: ignore[arg-type]


class TestBadTables:
    """A table with a contradiction is refused whole, naming the entry."""

    def test_a_date_both_a_holiday_and_a_workday(self) -> None:
        with pytest.raises(ValidationError, match="either a day off") as caught:
            build(
                holidays={dt.date(2026, 10, 10): "National Day"},
                workdays={dt.date(2026, 10, 10): "National Day"},
            )
        assert "workdays[2026-10-10]" == caught.value.field

    @pytest.mark.parametrize("table", ["holidays", "workdays"])
    def test_a_date_outside_the_covered_years(self, table: str) -> None:
        stray = dt.date(2027, 2, 6) if table == "workdays" else dt.date(2027, 2, 8)
        with pytest.raises(ValidationError, match="outside the covered") as caught:
            build(**{table: {stray: "Spring Festival"}})
        assert f"{table}[{stray.isoformat()}]" == caught.value.field

    def test_a_make_up_day_on_a_weekday(self) -> None:
        with pytest.raises(ValidationError, match="working day already") as caught:
            build(workdays={dt.date(2026, 10, 9): "National Day"})
        assert "workdays[2026-10-09]" == caught.value.field

    def test_years_in_the_wrong_order(self) -> None:
        with pytest.raises(ValidationError) as caught:
            build(first_year=2026, last_year=2025, holidays={}, workdays={})
        assert ("last_year", 2025) == (caught.value.field, caught.value.value)

    @pytest.mark.parametrize("year", ["2026", 2026.0, True, 0, 10_000])
    def test_a_bad_year(self, year: object) -> None:
        with pytest.raises(ValidationError) as caught:
            build(first_year=year)
        assert "first_year" == caught.value.field

    @pytest.mark.parametrize(
        "weekend", [{7}, {-1}, "56", {5.0}, {True}, set(range(7)), 5]
    )
    def test_a_bad_weekend(self, weekend: object) -> None:
        with pytest.raises(ValidationError) as caught:
            build(weekend=weekend, workdays={})
        assert "weekend" == caught.value.field

    @pytest.mark.parametrize(
        ("holidays", "field"),
        [
            (
                {dt.datetime(2026, 10, 1, tzinfo=dt.UTC): "National Day"},
                "holidays[datetime",
            ),
            ({"2026-10-01": "National Day"}, "holidays['2026-10-01']"),
            ({dt.date(2026, 10, 1): ""}, "holidays[2026-10-01]"),
            ({dt.date(2026, 10, 1): "National\nDay"}, "holidays[2026-10-01]"),
            ({dt.date(2026, 10, 1): 1001}, "holidays[2026-10-01]"),
            ([dt.date(2026, 10, 1)], "holidays"),
        ],
    )
    def test_a_bad_holiday_entry(self, holidays: object, field: str) -> None:
        with pytest.raises(ValidationError) as caught:
            build(holidays=holidays)
        assert caught.value.field.startswith(field)

    def test_a_bad_name(self) -> None:
        with pytest.raises(ValidationError) as caught:
            TableCalendar("  ", first_year=2026, last_year=2026)
        assert "name" == caught.value.field

    def test_every_refusal_is_an_orderkit_error(self) -> None:
        with pytest.raises(OrderkitError):
            build(workdays={dt.date(2026, 10, 1): "National Day"})

    @pytest.mark.parametrize("day", [dt.datetime(2026, 10, 1, tzinfo=dt.UTC), "2026"])
    def test_asking_about_a_non_date(self, day: object) -> None:
        with pytest.raises(ValidationError) as caught:
            CN.is_business_day(day)  # type: ignore[arg-type]
        assert "day" == caught.value.field


class TestBundledChina:
    """The CN table agrees with chinesecalendar and holidays, day by day."""

    DAYS = every_day(CN.first_year, CN.last_year)

    def test_it_covers_2025_and_2026(self) -> None:
        assert CN.covers(2025)
        assert CN.covers(2026)

    def test_business_days_agree_with_chinesecalendar(self) -> None:
        disagree = [
            d
            for d in self.DAYS
            if CN.is_business_day(d) != chinese_calendar.is_workday(d)
        ]
        assert [] == disagree

    def test_the_tables_agree_with_chinesecalendar(self) -> None:
        years = range(CN.first_year, CN.last_year + 1)
        theirs_off = {d for d in chinese_calendar.holidays if d.year in years}
        theirs_on = {d for d in chinese_calendar.workdays if d.year in years}
        assert theirs_off == {d for d, _ in CN.holidays}
        assert theirs_on == {d for d, _ in CN.workdays}

    def test_business_days_agree_with_holidays(self) -> None:
        theirs = holidays.country_holidays(
            "CN", years=range(CN.first_year, CN.last_year + 1)
        )
        disagree = [
            d for d in self.DAYS if CN.is_business_day(d) != theirs.is_working_day(d)
        ]
        assert [] == disagree

    def test_national_day_2026(self) -> None:
        week = [dt.date(2026, 10, d) for d in range(1, 8)]
        assert not any(CN.is_business_day(d) for d in week)
        assert CN.is_business_day(dt.date(2026, 9, 20))  # a Sunday, worked
        assert CN.is_business_day(dt.date(2026, 10, 10))  # a Saturday, worked
        assert "National Day" == CN.holiday_name(dt.date(2026, 10, 1))


class TestBundledUnitedStates:
    """The US federal table agrees with holidays (public, observed dates)."""

    DAYS = every_day(US_FEDERAL.first_year, US_FEDERAL.last_year)

    def test_holiday_dates_agree(self) -> None:
        theirs = holidays.country_holidays(
            "US", years=range(US_FEDERAL.first_year, US_FEDERAL.last_year + 1)
        )
        assert set(theirs) == {d for d, _ in US_FEDERAL.holidays}

    def test_business_days_agree(self) -> None:
        theirs = holidays.country_holidays(
            "US", years=range(US_FEDERAL.first_year, US_FEDERAL.last_year + 1)
        )
        disagree = [
            d
            for d in self.DAYS
            if US_FEDERAL.is_business_day(d) != theirs.is_working_day(d)
        ]
        assert [] == disagree

    def test_independence_day_2026_is_observed_on_friday(self) -> None:
        assert not US_FEDERAL.is_business_day(dt.date(2026, 7, 3))
        assert US_FEDERAL.is_business_day(dt.date(2026, 7, 2))
