"""Days as half-open windows in an explicit zone: tiling across DST, incident 5."""

from __future__ import annotations

import datetime as dt
import functools
import zoneinfo

import pendulum
import pytest
from hypothesis import given
from hypothesis import strategies as st

from orderkit.calendar import DayWindow, day_of, yesterday
from orderkit.errors import NaiveDatetime, OrderkitError, ValidationError


UTC = dt.UTC
ZONES = ("America/New_York", "Asia/Shanghai", "Europe/London", "Australia/Lord_Howe")
FIRST, LAST = dt.date(2020, 1, 1), dt.date(2030, 12, 31)


@functools.cache
def transitions(zone: str) -> tuple[dt.datetime, ...]:
    """Every instant in 2020-2030 at which `zone` changes its UTC offset."""
    tz = zoneinfo.ZoneInfo(zone)
    found = []
    at = dt.datetime.combine(FIRST, dt.time(), UTC)
    step = dt.timedelta(hours=6)
    while at.date() <= LAST:
        later = at + step
        if at.astimezone(tz).utcoffset() != later.astimezone(tz).utcoffset():
            low, high = at, later
            while high - low > dt.timedelta(minutes=1):
                mid = low + (high - low) / 2
                same = mid.astimezone(tz).utcoffset() == low.astimezone(tz).utcoffset()
                low, high = (mid, high) if same else (low, mid)
            found.append(high)
        at = later
    return tuple(found)


@st.composite
def near_transitions(draw: st.DrawFn) -> tuple[str, dt.datetime]:
    """A zone and an instant within 36 hours of one of its DST changes."""
    zone = draw(st.sampled_from(ZONES))
    anchors = transitions(zone) or (dt.datetime(2026, 6, 1, tzinfo=UTC),)
    anchor = draw(st.sampled_from(anchors))
    seconds = draw(st.integers(-36 * 3600, 36 * 3600))
    micros = draw(st.sampled_from((0, 1, 999_999)))
    return zone, anchor + dt.timedelta(seconds=seconds, microseconds=micros)


any_instant = st.datetimes(
    # hypothesis takes naive bounds and attaches the zones itself.
    min_value=dt.datetime(2020, 1, 1),  # noqa: DTZ001
    max_value=dt.datetime(2030, 12, 31),  # noqa: DTZ001
    timezones=st.just(UTC),
)
NAIVE = dt.datetime(2026, 3, 8, 0, 30)  # noqa: DTZ001 - naive on purpose


class TestTransitionsFound:
    """The DST changes the properties aim at are really there."""

    def test_ten_years_of_changes_in_the_dst_zones(self) -> None:
        assert len(transitions("America/New_York")) == 22
        assert len(transitions("Europe/London")) == 22
        assert len(transitions("Australia/Lord_Howe")) == 22

    def test_shanghai_keeps_one_offset(self) -> None:
        assert transitions("Asia/Shanghai") == ()


class TestTiling:
    """Every instant lies in exactly one day; consecutive days share a boundary."""

    @given(near_transitions())
    def test_an_instant_near_a_dst_change_lies_in_exactly_one_day(
        self, case: tuple[str, dt.datetime]
    ) -> None:
        zone, instant = case
        window = day_of(instant, zone)
        nearby = [window.day + dt.timedelta(days=n) for n in range(-2, 3)]
        holding = [d for d in nearby if instant in DayWindow(d, zone)]
        assert [window.day] == holding
        assert window.start <= instant < window.end

    @given(st.sampled_from(ZONES), any_instant)
    def test_any_instant_lies_in_exactly_one_day(
        self, zone: str, instant: dt.datetime
    ) -> None:
        window = day_of(instant, zone)
        assert instant in window
        assert instant not in window.preceding()
        assert instant not in window.following()

    @given(near_transitions())
    def test_the_day_is_the_wall_date_in_the_zone(
        self, case: tuple[str, dt.datetime]
    ) -> None:
        zone, instant = case
        assert (
            day_of(instant, zone).day
            == instant.astimezone(zoneinfo.ZoneInfo(zone)).date()
        )

    @given(near_transitions())
    def test_neighbours_meet_with_no_gap_and_no_overlap(
        self, case: tuple[str, dt.datetime]
    ) -> None:
        zone, instant = case
        window = day_of(instant, zone)
        assert window.preceding().end == window.start
        assert window.following().start == window.end
        assert window.start < window.end

    @pytest.mark.parametrize("zone", [*ZONES, "America/Santiago"])
    def test_ten_years_of_days_tile(self, zone: str) -> None:
        window = DayWindow(FIRST, zone)
        lengths = set()
        while window.day < LAST:
            following = window.following()
            assert following.start == window.end
            lengths.add(window.duration)
            window = following
        hours = {d / dt.timedelta(hours=1) for d in lengths}
        expected = {
            "Asia/Shanghai": {24.0},
            "Australia/Lord_Howe": {23.5, 24.0, 24.5},
        }.get(zone, {23.0, 24.0, 25.0})
        assert expected == hours


class TestDstDays:
    """A day across a DST change is as long as the clocks make it."""

    def test_new_york_spring_forward_is_23_hours(self) -> None:
        window = DayWindow(dt.date(2026, 3, 8), "America/New_York")
        assert dt.timedelta(hours=23) == window.duration
        assert pendulum.datetime(2026, 3, 8, 5) == window.start

    def test_london_fall_back_is_25_hours(self) -> None:
        window = DayWindow(dt.date(2026, 10, 25), "Europe/London")
        assert dt.timedelta(hours=25) == window.duration

    def test_lord_howe_moves_half_an_hour(self) -> None:
        window = DayWindow(dt.date(2026, 4, 5), "Australia/Lord_Howe")
        assert dt.timedelta(hours=24, minutes=30) == window.duration

    def test_santiago_skips_midnight_so_the_day_starts_at_one(self) -> None:
        window = DayWindow(dt.date(2025, 9, 7), "America/Santiago")
        local = window.start.in_tz("America/Santiago")
        assert (local.hour, local.minute) == (1, 0)
        assert dt.timedelta(hours=23) == window.duration

    def test_santiago_repeats_the_hour_before_midnight(self) -> None:
        window = DayWindow(dt.date(2026, 4, 4), "America/Santiago")
        assert dt.timedelta(hours=25) == window.duration
        repeated = pendulum.datetime(2026, 4, 5, 3, 30)  # 23:30, the second time
        assert dt.date(2026, 4, 4) == day_of(repeated, "America/Santiago").day


class TestYesterdaysOrders:
    """Incident 5: a UTC+8 office asks for a US store's yesterday."""

    STORE = "America/New_York"
    # Monday 2026-03-09, 14:00 in Shanghai: 02:00 on Monday in New York.
    OFFICE_NOW = pendulum.datetime(2026, 3, 9, 14, tz="Asia/Shanghai")

    def test_the_window_is_the_stores_day_not_the_offices(self) -> None:
        window = yesterday(self.OFFICE_NOW, self.STORE)
        assert dt.date(2026, 3, 8) == window.day
        assert pendulum.datetime(2026, 3, 8, tz=self.STORE) == window.start
        assert pendulum.datetime(2026, 3, 9, tz=self.STORE) == window.end

    @pytest.mark.parametrize("minute", [0, 1, 30, 59])
    def test_orders_paid_between_midnight_and_one_eastern_are_in(
        self, minute: int
    ) -> None:
        paid = pendulum.datetime(2026, 3, 8, 0, minute, tz=self.STORE)
        assert paid in yesterday(self.OFFICE_NOW, self.STORE)

    def test_the_offices_window_for_that_date_is_not_the_stores_day(self) -> None:
        office_day = DayWindow(dt.date(2026, 3, 8), "Asia/Shanghai")
        evening = pendulum.datetime(2026, 3, 8, 20, tz=self.STORE)
        previous_evening = pendulum.datetime(2026, 3, 7, 20, tz=self.STORE)
        assert evening not in office_day
        assert previous_evening in office_day
        assert evening in yesterday(self.OFFICE_NOW, self.STORE)
        assert previous_evening not in yesterday(self.OFFICE_NOW, self.STORE)

    def test_the_next_midnight_belongs_to_today(self) -> None:
        midnight = pendulum.datetime(2026, 3, 9, tz=self.STORE)
        assert midnight not in yesterday(self.OFFICE_NOW, self.STORE)
        assert midnight in day_of(self.OFFICE_NOW, self.STORE)

    @given(st.integers(0, 23 * 60 + 59))
    def test_every_office_minute_of_a_store_day_gives_the_same_yesterday(
        self, minute: int
    ) -> None:
        today = DayWindow(dt.date(2026, 1, 15), self.STORE)
        now = (today.start + dt.timedelta(minutes=minute)).in_tz("Asia/Shanghai")
        assert dt.date(2026, 1, 14) == yesterday(now, self.STORE).day


class TestBadInput:
    """Naive datetimes, unknown zones and non-dates are typed errors."""

    def test_a_naive_instant_is_refused(self) -> None:
        with pytest.raises(NaiveDatetime) as caught:
            day_of(NAIVE, "America/New_York")
        assert "instant" == caught.value.field

    def test_a_naive_now_is_refused(self) -> None:
        with pytest.raises(NaiveDatetime):
            yesterday(NAIVE, "America/New_York")

    def test_a_naive_datetime_is_never_in_a_window(self) -> None:
        window = DayWindow(dt.date(2026, 3, 8), "America/New_York")
        with pytest.raises(NaiveDatetime):
            _ = NAIVE in window

    @pytest.mark.parametrize(
        "zone",
        [
            "Mars/Olympus_Mons",
            "+08:00",
            "asia/shanghai",
            "",
            "localtime",
            "posix/Factory",
            8,
            "Asia",
        ],
    )
    def test_an_unknown_zone_is_refused(self, zone: object) -> None:
        with pytest.raises(ValidationError) as caught:
            DayWindow(dt.date(2026, 3, 8), zone)  # type: ignore[arg-type]
        assert ("zone", zone) == (caught.value.field, caught.value.value)

    def test_day_of_refuses_an_unknown_zone(self) -> None:
        with pytest.raises(ValidationError, match="IANA"):
            day_of(pendulum.datetime(2026, 3, 8), "US/Nowhere")

    @pytest.mark.parametrize(
        "day", [dt.datetime(2026, 3, 8, tzinfo=UTC), "2026-03-08", None]
    )
    def test_a_day_must_be_a_date(self, day: object) -> None:
        with pytest.raises(ValidationError) as caught:
            DayWindow(day, "UTC")  # type: ignore[arg-type]
        assert "day" == caught.value.field

    def test_the_last_date_there_is_has_no_end(self) -> None:
        with pytest.raises(OrderkitError):
            DayWindow(dt.date.max, "Asia/Shanghai")

    def test_a_pendulum_date_becomes_a_plain_date(self) -> None:
        window = DayWindow(pendulum.date(2026, 3, 8), "UTC")
        assert type(window.day) is dt.date
