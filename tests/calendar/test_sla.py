"""SLA deadlines: cut-offs, National Day, make-up Saturdays, business hours."""

from __future__ import annotations

import datetime as dt

import pendulum
import pytest
from hypothesis import given
from hypothesis import strategies as st

from orderkit.calendar import (
    CN,
    US_FEDERAL,
    DayWindow,
    Deadline,
    SlaPolicy,
    TableCalendar,
    day_of,
)
from orderkit.errors import CalendarDataMissing, NaiveDatetime, ValidationError


SHANGHAI = "Asia/Shanghai"
TWO_DAYS = SlaPolicy(CN, SHANGHAI, cutoff=dt.time(16), business_days=2)
FORTY_EIGHT_HOURS = SlaPolicy(CN, SHANGHAI, cutoff=dt.time(16), business_hours=48)


def shanghai(
    year: int, month: int, day: int, hour: int = 0, minute: int = 0
) -> pendulum.DateTime:
    return pendulum.datetime(year, month, day, hour, minute, tz=SHANGHAI)


class TestNationalDay2026:
    """The issue's example: the holiday week and the make-up Saturday."""

    def test_paid_after_the_cut_off_is_due_on_the_make_up_saturday(self) -> None:
        deadline = TWO_DAYS.ship_by(shanghai(2026, 9, 30, 17))
        assert dt.date(2026, 10, 8) == deadline.received
        assert dt.date(2026, 10, 10) == deadline.day

    def test_paid_before_the_cut_off_is_due_on_friday(self) -> None:
        deadline = TWO_DAYS.ship_by(shanghai(2026, 9, 30, 15))
        assert dt.date(2026, 9, 30) == deadline.received
        assert dt.date(2026, 10, 9) == deadline.day

    def test_due_is_the_end_of_the_day_in_the_stores_zone(self) -> None:
        deadline = TWO_DAYS.ship_by(shanghai(2026, 9, 30, 17))
        assert shanghai(2026, 10, 11) == deadline.due
        assert DayWindow(dt.date(2026, 10, 10), SHANGHAI).end == deadline.due

    def test_the_cut_off_itself_is_late(self) -> None:
        assert dt.date(2026, 10, 10) == TWO_DAYS.ship_by(shanghai(2026, 9, 30, 16)).day

    def test_the_instant_counts_not_the_zone_it_is_written_in(self) -> None:
        in_new_york = pendulum.datetime(2026, 9, 30, 5, tz="America/New_York")
        assert dt.date(2026, 10, 10) == TWO_DAYS.ship_by(in_new_york).day

    def test_shipping_on_the_saturday_is_on_time(self) -> None:
        deadline = TWO_DAYS.ship_by(shanghai(2026, 9, 30, 17))
        assert deadline.is_met_by(shanghai(2026, 10, 10, 23, 59))
        assert not deadline.is_met_by(shanghai(2026, 10, 11))

    def test_paid_during_the_holiday_counts_from_the_eighth(self) -> None:
        deadline = TWO_DAYS.ship_by(shanghai(2026, 10, 3, 9))
        assert dt.date(2026, 10, 8) == deadline.received
        assert dt.date(2026, 10, 10) == deadline.day


class TestSpringFestival:
    """A promise spans the nine days off and lands on the next workdays."""

    def test_paid_on_new_years_eve_eve(self) -> None:
        deadline = TWO_DAYS.ship_by(shanghai(2026, 2, 13, 10))  # Friday
        assert dt.date(2026, 2, 24) == deadline.day  # Sat 14th worked, 15-23 off

    def test_same_day_shipping(self) -> None:
        same_day = SlaPolicy(CN, SHANGHAI, cutoff=dt.time(16), business_days=0)
        assert dt.date(2026, 2, 14) == same_day.ship_by(shanghai(2026, 2, 14, 11)).day
        assert dt.date(2026, 2, 24) == same_day.ship_by(shanghai(2026, 2, 14, 17)).day


class TestBusinessHours:
    """Business hours run on business days only, midnight to midnight."""

    def test_before_the_cut_off_the_clock_starts_at_payment(self) -> None:
        deadline = FORTY_EIGHT_HOURS.ship_by(shanghai(2026, 9, 30, 15))
        assert shanghai(2026, 10, 9, 15) == deadline.due
        assert dt.date(2026, 10, 9) == deadline.day

    def test_after_the_cut_off_the_clock_starts_on_the_next_business_day(
        self,
    ) -> None:
        deadline = FORTY_EIGHT_HOURS.ship_by(shanghai(2026, 9, 30, 17))
        assert shanghai(2026, 10, 10) == deadline.due
        assert dt.date(2026, 10, 9) == deadline.day

    def test_without_a_cut_off_the_evening_counts(self) -> None:
        policy = SlaPolicy(CN, SHANGHAI, business_hours=8)
        assert shanghai(2026, 10, 8, 1) == policy.ship_by(shanghai(2026, 9, 30, 17)).due

    def test_hours_are_elapsed_across_a_dst_change(self) -> None:
        policy = SlaPolicy(US_FEDERAL, "America/New_York", business_hours=24)
        paid = pendulum.datetime(2026, 3, 6, 12, tz="America/New_York")  # Friday
        # Friday noon to midnight is 12 hours; Monday supplies the rest. The
        # 23-hour Sunday of the DST change is a weekend day and does not count.
        expected = pendulum.datetime(2026, 3, 9, 12, tz="America/New_York")
        assert expected == policy.ship_by(paid).due

    @given(st.integers(0, 24 * 60 - 1), st.integers(1, 60))
    def test_more_hours_never_come_due_sooner(self, minute: int, hours: int) -> None:
        paid = shanghai(2026, 9, 28) + dt.timedelta(minutes=minute)
        shorter = SlaPolicy(CN, SHANGHAI, cutoff=dt.time(16), business_hours=hours)
        longer = SlaPolicy(CN, SHANGHAI, cutoff=dt.time(16), business_hours=hours + 1)
        assert shorter.ship_by(paid).due < longer.ship_by(paid).due


class TestProperties:
    """Deadlines land on business days after payment, monotone in time."""

    @given(
        st.integers(0, 300 * 24 * 60),
        st.integers(0, 10),
        st.sampled_from([None, dt.time(0), dt.time(16), dt.time(23, 59)]),
    )
    def test_the_due_day_is_a_business_day_not_before_payment(
        self, minutes: int, days: int, cutoff: dt.time | None
    ) -> None:
        paid = shanghai(2026, 1, 1) + dt.timedelta(minutes=minutes)
        deadline = SlaPolicy(CN, SHANGHAI, cutoff=cutoff, business_days=days).ship_by(
            paid
        )
        assert CN.is_business_day(deadline.day)
        assert CN.is_business_day(deadline.received)
        assert deadline.received >= day_of(paid, SHANGHAI).day
        assert deadline.due > paid

    @given(st.integers(0, 300 * 24 * 60), st.integers(1, 120))
    def test_paying_later_is_never_due_sooner(self, minutes: int, later: int) -> None:
        paid = shanghai(2026, 1, 1) + dt.timedelta(minutes=minutes)
        first = TWO_DAYS.ship_by(paid)
        second = TWO_DAYS.ship_by(paid + dt.timedelta(minutes=later))
        assert first.due <= second.due


class TestDaylightSaving:
    """A cut-off the clocks skip falls at the change, right after the gap."""

    def test_paid_after_a_skipped_cut_off_counts_from_the_next_day(self) -> None:
        every_day = TableCalendar(
            "Every day", first_year=2026, last_year=2026, weekend={2}
        )
        policy = SlaPolicy(
            every_day, "America/New_York", cutoff=dt.time(2, 30), business_days=0
        )
        # 2026-03-08: New York skips 02:00-03:00; the cut-off falls at 03:00 EDT.
        before = pendulum.datetime(2026, 3, 8, 1, 59, tz="America/New_York")
        after = pendulum.datetime(2026, 3, 8, 3, 15, tz="America/New_York")
        assert policy.ship_by(before).received == dt.date(2026, 3, 8)
        assert policy.ship_by(after).received == dt.date(2026, 3, 9)

    def test_a_day_whose_midnight_was_skipped_starts_after_the_gap(self) -> None:
        # Toronto, 1919: the clocks went from 23:30 on 30 March to 00:30 on the 31st.
        window = DayWindow(dt.date(1919, 3, 31), "America/Toronto")
        assert window.start == pendulum.datetime(1919, 3, 31, 4, 30)
        assert DayWindow(dt.date(1919, 3, 30), "America/Toronto").end == window.start


class TestBadInput:
    """Bad policies and naive payments are typed errors."""

    def test_a_naive_payment_is_refused(self) -> None:
        naive = dt.datetime(2026, 9, 30, 17)  # noqa: DTZ001 - naive on purpose
        with pytest.raises(NaiveDatetime) as caught:
            TWO_DAYS.ship_by(naive)
        assert "paid_at" == caught.value.field

    def test_a_naive_shipment_is_refused(self) -> None:
        naive = dt.datetime(2026, 10, 9, 12)  # noqa: DTZ001 - naive on purpose
        deadline = TWO_DAYS.ship_by(shanghai(2026, 9, 30, 15))
        with pytest.raises(NaiveDatetime):
            deadline.is_met_by(naive)

    def test_paid_beyond_the_data_is_missing_data(self) -> None:
        with pytest.raises(CalendarDataMissing) as caught:
            TWO_DAYS.ship_by(shanghai(2026, 12, 31, 17))
        assert ("CN", 2027) == (caught.value.calendar, caught.value.year)

    def test_an_unknown_zone(self) -> None:
        with pytest.raises(ValidationError) as caught:
            SlaPolicy(CN, "Asia/Beijing", business_days=2)
        assert ("zone", "Asia/Beijing") == (caught.value.field, caught.value.value)

    @pytest.mark.parametrize(
        "cutoff", ["16:00", 16, dt.time(16, tzinfo=dt.UTC), dt.timedelta(hours=16)]
    )
    def test_a_bad_cut_off(self, cutoff: object) -> None:
        with pytest.raises(ValidationError) as caught:
            SlaPolicy(CN, SHANGHAI, cutoff=cutoff, business_days=2)  # type: ignore[arg-type]
        assert "cutoff" == caught.value.field

    @pytest.mark.parametrize(
        ("field", "value"),
        [
            ("business_days", -1),
            ("business_days", 2.0),
            ("business_days", True),
            ("business_days", 367),
            ("business_hours", 0),
            ("business_hours", "48"),
            ("business_hours", 8785),
        ],
    )
    def test_a_bad_promise(self, field: str, value: object) -> None:
        with pytest.raises(ValidationError) as caught:
            SlaPolicy(CN, SHANGHAI, **{field: value})  # type: ignore[arg-type]
        assert field == caught.value.field

    @pytest.mark.parametrize(
        "promises", [{}, {"business_days": 2, "business_hours": 48}]
    )
    def test_exactly_one_promise(self, promises: dict[str, int]) -> None:
        with pytest.raises(ValidationError, match="exactly one"):
            SlaPolicy(CN, SHANGHAI, **promises)  # type: ignore[arg-type]

    @pytest.mark.parametrize(
        ("field", "changes"),
        [
            ("due", {"due": dt.datetime(2026, 1, 7)}),  # noqa: DTZ001 - naive on purpose
            ("received", {"received": "2026-01-05"}),
            ("day", {"day": dt.datetime(2026, 1, 6, tzinfo=dt.UTC)}),
            ("zone", {"zone": "Asia"}),
        ],
    )
    def test_a_bad_deadline(self, field: str, changes: dict[str, object]) -> None:
        given = {
            "received": dt.date(2026, 1, 5),
            "day": dt.date(2026, 1, 6),
            "due": pendulum.datetime(2026, 1, 6, 16),
            "zone": SHANGHAI,
        } | changes
        with pytest.raises(ValidationError) as caught:
            Deadline(**given)  # type: ignore[arg-type]
        assert field == caught.value.field

    def test_not_a_calendar(self) -> None:
        with pytest.raises(ValidationError) as caught:
            SlaPolicy("CN", SHANGHAI, business_days=2)  # type: ignore[arg-type]
        assert "calendar" == caught.value.field

    def test_a_deadline_is_a_plain_value(self) -> None:
        deadline = TWO_DAYS.ship_by(shanghai(2026, 9, 30, 15))
        assert deadline == Deadline(
            dt.date(2026, 9, 30), dt.date(2026, 10, 9), deadline.due, SHANGHAI
        )
