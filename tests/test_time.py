"""Instants: any aware datetime comes back as a UTC pendulum.DateTime."""

import datetime as dt
import zoneinfo
from typing import Any

import pendulum
import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from orderkit._time import plus, to_utc
from orderkit.errors import NaiveDatetime, ValidationError
from orderkit.testing.strategies import instants


# Singles' Day: the DY-1001 order was placed at 09:00 in Shanghai.
PLACED_UTC = dt.datetime(2026, 11, 11, 1, 0, tzinfo=dt.UTC)

NEW_YORK = "America/New_York"

# (zone, the UTC instant its offset changes): spring forward and fall back,
# on both sides of UTC, and a half-hour change.
DST_CHANGES = [
    (NEW_YORK, dt.datetime(2026, 3, 8, 7, tzinfo=dt.UTC)),
    (NEW_YORK, dt.datetime(2026, 11, 1, 6, tzinfo=dt.UTC)),
    ("Europe/Berlin", dt.datetime(2026, 3, 29, 1, tzinfo=dt.UTC)),
    ("Europe/Berlin", dt.datetime(2026, 10, 25, 1, tzinfo=dt.UTC)),
    ("Australia/Lord_Howe", dt.datetime(2026, 4, 4, 15, tzinfo=dt.UTC)),
    ("Australia/Lord_Howe", dt.datetime(2026, 10, 3, 15, 30, tzinfo=dt.UTC)),
]

_HALF_DAY_US = 12 * 3600 * 10**6


class _NoOffset(dt.tzinfo):
    """A tzinfo that does not know its offset: the datetime is naive."""

    def utcoffset(self, _value: dt.datetime | None) -> None:
        return None

    def dst(self, _value: dt.datetime | None) -> None:
        return None

    def tzname(self, _value: dt.datetime | None) -> None:
        return None


def _assert_utc(expected: dt.datetime, actual: pendulum.DateTime) -> None:
    assert expected == actual
    assert isinstance(actual, pendulum.DateTime)
    assert actual.tzinfo is pendulum.UTC


class TestAwareDatetimes:
    """Aware datetimes in any zone come back as the same instant, in UTC."""

    @pytest.mark.parametrize(
        "value",
        [
            pytest.param(
                pendulum.datetime(2026, 11, 11, 1, tz="UTC"), id="pendulum-utc"
            ),
            pytest.param(
                pendulum.datetime(2026, 11, 11, 9, tz="Asia/Shanghai"),
                id="pendulum-shanghai",
            ),
            pytest.param(
                pendulum.datetime(2026, 11, 10, 20, tz=NEW_YORK), id="pendulum-new-york"
            ),
            pytest.param(
                pendulum.datetime(
                    2026, 11, 11, 6, 30, tz=pendulum.FixedTimezone(19800)
                ),
                id="pendulum-fixed-+05:30",
            ),
            pytest.param(dt.datetime(2026, 11, 11, 1, tzinfo=dt.UTC), id="stdlib-utc"),
            pytest.param(
                dt.datetime(2026, 11, 11, 9, tzinfo=dt.timezone(dt.timedelta(hours=8))),
                id="stdlib-fixed-+08:00",
            ),
            pytest.param(
                dt.datetime(
                    2026,
                    11,
                    10,
                    21,
                    30,
                    tzinfo=dt.timezone(-dt.timedelta(hours=3, minutes=30)),
                ),
                id="stdlib-fixed--03:30",
            ),
            pytest.param(
                dt.datetime(2026, 11, 11, 9, tzinfo=zoneinfo.ZoneInfo("Asia/Shanghai")),
                id="zoneinfo-shanghai",
            ),
        ],
    )
    def test_same_instant_in_utc(self, value: dt.datetime) -> None:
        _assert_utc(PLACED_UTC, to_utc(value, "placed_at"))

    @pytest.mark.parametrize(
        "instant",
        [
            dt.datetime(2026, 3, 8, 4, 30, tzinfo=dt.UTC) + dt.timedelta(minutes=30 * n)
            for n in range(11)
        ],
        ids=lambda d: d.strftime("%H:%MZ"),
    )
    @pytest.mark.parametrize("library", ["zoneinfo", "pendulum"])
    def test_new_york_spring_forward(self, library: str, instant: dt.datetime) -> None:
        value = (
            instant.astimezone(zoneinfo.ZoneInfo(NEW_YORK))
            if library == "zoneinfo"
            else pendulum.instance(instant).in_timezone(NEW_YORK)
        )
        _assert_utc(instant, to_utc(value, "placed_at"))

    @pytest.mark.parametrize(
        "instant",
        [
            dt.datetime(2026, 11, 1, 3, 30, tzinfo=dt.UTC)
            + dt.timedelta(minutes=30 * n)
            for n in range(11)
        ],
        ids=lambda d: d.strftime("%H:%MZ"),
    )
    @pytest.mark.parametrize("library", ["zoneinfo", "pendulum"])
    def test_new_york_fall_back(self, library: str, instant: dt.datetime) -> None:
        value = (
            instant.astimezone(zoneinfo.ZoneInfo(NEW_YORK))
            if library == "zoneinfo"
            else pendulum.instance(instant).in_timezone(NEW_YORK)
        )
        _assert_utc(instant, to_utc(value, "placed_at"))

    @pytest.mark.parametrize(
        ("fold", "expected"),
        [
            (0, dt.datetime(2026, 11, 1, 5, 30, tzinfo=dt.UTC)),
            (1, dt.datetime(2026, 11, 1, 6, 30, tzinfo=dt.UTC)),
        ],
    )
    def test_the_repeated_hour_follows_fold(
        self, fold: int, expected: dt.datetime
    ) -> None:
        # 01:30 happens twice in New York on 2026-11-01: EDT, then EST.
        value = dt.datetime(
            2026, 11, 1, 1, 30, tzinfo=zoneinfo.ZoneInfo(NEW_YORK), fold=fold
        )
        _assert_utc(expected, to_utc(value, "placed_at"))

    @given(
        st.sampled_from(DST_CHANGES),
        st.integers(min_value=-_HALF_DAY_US, max_value=_HALF_DAY_US),
        st.sampled_from(["zoneinfo", "pendulum"]),
    )
    @example(DST_CHANGES[0], -90 * 60 * 10**6, "pendulum")
    def test_any_instant_near_a_dst_change(
        self, change: tuple[str, dt.datetime], offset_us: int, library: str
    ) -> None:
        zone, at = change
        instant = at + dt.timedelta(microseconds=offset_us)
        value = (
            instant.astimezone(zoneinfo.ZoneInfo(zone))
            if library == "zoneinfo"
            else pendulum.instance(instant).in_timezone(zone)
        )
        _assert_utc(instant, to_utc(value, "placed_at"))

    @given(st.datetimes(timezones=st.timezones(), allow_imaginary=False))
    def test_any_aware_stdlib_datetime(self, value: dt.datetime) -> None:
        # Compared with astimezone(UTC), not with `value` itself: by PEP 495 a
        # datetime in a repeated hour never equals one in another zone.
        _assert_utc(value.astimezone(dt.UTC), to_utc(value, "placed_at"))

    @given(instants(), st.timezone_keys())
    # The second 1:00 of a DST fall-back night (fold=1), found by CI.
    @example(pendulum.datetime(2028, 11, 5, 4), "America/Thule")
    def test_any_aware_pendulum_datetime(
        self, instant: pendulum.DateTime, zone: str
    ) -> None:
        value = instant.in_timezone(zone)
        # Not `instant == value`: by PEP 495 an instant in a repeated hour
        # (fold=1) never equals one in another zone, although both are the
        # same point in time.
        assert value.timestamp() == instant.timestamp()
        _assert_utc(instant, to_utc(value, "placed_at"))

    @given(instants())
    def test_utc_comes_back_unchanged(self, instant: pendulum.DateTime) -> None:
        actual = to_utc(instant, "placed_at")
        _assert_utc(instant, actual)
        assert actual == to_utc(actual, "placed_at")


class TestRefused:
    """Naive datetimes and non-datetimes raise NaiveDatetime naming the field."""

    @pytest.mark.parametrize(
        "value",
        [
            pytest.param(dt.datetime(2026, 11, 11, 9), id="stdlib-naive"),  # noqa: DTZ001 - naive on purpose
            pytest.param(pendulum.naive(2026, 11, 11, 9), id="pendulum-naive"),
            pytest.param(
                dt.datetime(2026, 11, 11, 9, tzinfo=_NoOffset()),
                id="tzinfo-without-offset",
            ),
            pytest.param(dt.date(2026, 11, 11), id="date"),
            pytest.param(pendulum.date(2026, 11, 11), id="pendulum-date"),
            pytest.param("2026-11-11T09:00:00+08:00", id="iso-string"),
            pytest.param(1_793_667_600, id="timestamp"),
            pytest.param(None, id="None"),
        ],
    )
    def test_refused(self, value: Any) -> None:
        field = "placed_at"
        with pytest.raises(NaiveDatetime) as caught:
            to_utc(value, field)
        assert field == caught.value.field
        assert value is caught.value.value
        assert field in str(caught.value)

    def test_naive_datetime_is_a_type_error_and_a_value_error(self) -> None:
        naive = dt.datetime(2026, 11, 11, 9)  # noqa: DTZ001 - naive on purpose
        with pytest.raises(TypeError):
            to_utc(naive, "occurred_at")
        with pytest.raises(ValueError, match="occurred_at"):
            to_utc(naive, "occurred_at")

    @given(st.datetimes())
    def test_any_naive_datetime_is_refused(self, value: dt.datetime) -> None:
        with pytest.raises(NaiveDatetime):
            to_utc(value, "pay_by")


class TestOutOfRange:
    """An aware datetime with no UTC equivalent is refused with a typed error."""

    def test_the_last_day_west_of_utc(self) -> None:
        late = dt.datetime.max.replace(tzinfo=dt.timezone(dt.timedelta(hours=-5)))

        with pytest.raises(ValidationError) as caught:
            to_utc(late, "occurred_at")

        assert ("occurred_at", late) == (caught.value.field, caught.value.value)


class TestPlus:
    """`plus` moves a UTC instant exactly as pendulum's `+` does, only faster."""

    @given(
        instants(),
        st.timedeltas(
            min_value=dt.timedelta(days=-3650), max_value=dt.timedelta(days=3650)
        ),
    )
    def test_same_as_pendulum(
        self, instant: pendulum.DateTime, elapsed: dt.timedelta
    ) -> None:
        moved = plus(instant, elapsed)
        assert moved == instant + elapsed
        assert type(moved) is pendulum.DateTime
        assert moved.tzinfo is pendulum.UTC
