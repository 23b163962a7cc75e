"""A "per day" limit that resets at the shop's midnight: `LimitRule.day_in`.

A user trial: "1 per customer per day" on a Black Friday TV, as a sliding 24
hours, refused at 00:10 on Friday a buyer who bought at 23:50 on
Thanksgiving; the same at Shanghai's midnight on 11.11. With `day_in` the
rule counts the calendar day in the shop's zone, 23 or 25 hours long at a
DST change.
"""

from __future__ import annotations

import datetime as dt
import tomllib
import zoneinfo
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import Any

import pendulum
import pytest
from hypothesis import given
from hypothesis import strategies as st

from orderkit.adapters.memory import MemoryLimitStore
from orderkit.adapters.sqlite import SqliteLimitStore
from orderkit.calendar import DayWindow
from orderkit.errors import NaiveDatetime, StructureError, ValidationError
from orderkit.ports import LimitStore
from orderkit.pricing import (
    Exceeded,
    Granted,
    LimitRule,
    LimitScope,
    PurchaseContext,
    limit_keys,
)
from orderkit.serialization import make_converter
from orderkit.services import DeskPolicy, PurchaseLimits
from orderkit.testing import FrozenClock


DAY = dt.timedelta(days=1)
TICK = dt.timedelta(microseconds=1)
LA = "America/Los_Angeles"
SHANGHAI = "Asia/Shanghai"
TV = PurchaseContext(buyer_id="bf-42", channel="shopify", skus=("DEAL-TV",))


def one_a_day(zone: str, limit: int = 1) -> LimitRule:
    return LimitRule(LimitScope.BUYER, limit, DAY, sku="DEAL-TV", day_in=zone)


def local(zone: str, *parts: int) -> pendulum.DateTime:
    """The wall clock's year, month, day[, hour[, minute]] in `zone`."""
    year, month, day, hour, minute = (*parts, 0, 0)[:5]
    return pendulum.datetime(year, month, day, hour, minute, tz=zone)


@contextmanager
def memory() -> Iterator[LimitStore]:
    yield MemoryLimitStore()


@contextmanager
def sqlite() -> Iterator[LimitStore]:
    with SqliteLimitStore(":memory:") as store:
        yield store


STORES: dict[str, Callable[[], AbstractContextManager[LimitStore]]] = {
    "memory": memory,
    "sqlite": sqlite,
}
stores = pytest.mark.parametrize("opened", STORES.values(), ids=STORES)


def verdicts(
    store: LimitStore, rules: list[LimitRule], at: list[dt.datetime]
) -> list[str]:
    clock = FrozenClock(at[0])
    limits = PurchaseLimits(rules, store, clock)
    found = []
    for instant in at:
        clock.set(instant)
        found.append(type(limits.check(TV)).__name__)
    return found


class TestTheTrial:
    @stores
    def test_thanksgiving_2350_then_black_friday_0010_in_los_angeles(
        self, opened: Callable[[], AbstractContextManager[LimitStore]]
    ) -> None:
        with opened() as store:
            assert verdicts(
                store,
                [one_a_day(LA)],
                [
                    local(LA, 2026, 11, 26, 23, 50),
                    local(LA, 2026, 11, 26, 23, 55),
                    local(LA, 2026, 11, 27, 0, 10),
                    local(LA, 2026, 11, 27, 23, 59),
                ],
            ) == ["Granted", "Exceeded", "Granted", "Exceeded"]

    @stores
    def test_shanghai_midnight_on_11_11(
        self, opened: Callable[[], AbstractContextManager[LimitStore]]
    ) -> None:
        with opened() as store:
            assert verdicts(
                store,
                [one_a_day(SHANGHAI)],
                [
                    local(SHANGHAI, 2026, 11, 10, 23, 50),
                    local(SHANGHAI, 2026, 11, 11, 0, 10),
                    local(SHANGHAI, 2026, 11, 11, 0, 20),
                ],
            ) == ["Granted", "Granted", "Exceeded"]


class TestTheBoundary:
    @stores
    def test_a_use_at_midnight_is_the_new_days_one_before_it_is_not(
        self, opened: Callable[[], AbstractContextManager[LimitStore]]
    ) -> None:
        midnight = local(LA, 2026, 11, 27)
        with opened() as store:
            assert verdicts(
                store,
                [one_a_day(LA)],
                [midnight - TICK, midnight, midnight + TICK],
            ) == ["Granted", "Granted", "Exceeded"]

    def test_at_midnight_the_window_is_one_microsecond(self) -> None:
        midnight = local(SHANGHAI, 2026, 11, 11)
        (key,) = limit_keys([one_a_day(SHANGHAI)], TV, now=midnight)
        assert key.window == TICK

    def test_the_window_reaches_back_to_local_midnight(self) -> None:
        now = local(LA, 2026, 11, 27, 0, 10)
        (key,) = limit_keys([one_a_day(LA)], TV, now=now)
        assert key.window == dt.timedelta(minutes=10) + TICK
        assert key.limit == 1
        assert key.key == "buyer:bf-42|channel:shopify|sku:deal-tv"


class TestDaylightSaving:
    @stores
    def test_a_25_hour_day_counts_its_first_use_at_its_last_microsecond(
        self, opened: Callable[[], AbstractContextManager[LimitStore]]
    ) -> None:
        # Los Angeles turns its clocks back on 1 November 2026.
        first = local(LA, 2026, 11, 1)
        last = local(LA, 2026, 11, 2) - TICK
        assert last - first == dt.timedelta(hours=25) - TICK
        with opened() as store:
            assert verdicts(store, [one_a_day(LA)], [first, last]) == [
                "Granted",
                "Exceeded",
            ]

    @stores
    def test_a_23_hour_day_ends_at_its_midnight(
        self, opened: Callable[[], AbstractContextManager[LimitStore]]
    ) -> None:
        # Los Angeles moves its clocks on on 8 March 2026: 23 hours later
        # is the next day, though not 24 hours later.
        first = local(LA, 2026, 3, 8)
        with opened() as store:
            assert verdicts(
                store,
                [one_a_day(LA)],
                [first, first.add(hours=23) - TICK, first.add(hours=23)],
            ) == ["Granted", "Exceeded", "Granted"]

    def test_a_day_that_skips_its_midnight_starts_at_the_change(self) -> None:
        # Santiago moves its clocks from 00:00 to 01:00 on 6 September 2026:
        # Sunday starts at the change, shown as 01:00.
        change = DayWindow(dt.date(2026, 9, 6), "America/Santiago").start
        assert change.in_tz("America/Santiago").hour == 1
        (key,) = limit_keys(
            [one_a_day("America/Santiago")], TV, now=change.add(minutes=5)
        )
        assert key.window == dt.timedelta(minutes=5) + TICK


class TestTwoRulesOnOneKey:
    def test_a_day_and_a_sliding_24_hours_check_their_own_windows(self) -> None:
        rules = [
            one_a_day(LA),
            LimitRule(LimitScope.BUYER, 2, DAY, sku="DEAL-TV"),
        ]
        clock = FrozenClock(local(LA, 2026, 11, 26, 23, 50))
        limits = PurchaseLimits(rules, MemoryLimitStore(), clock)
        assert limits.check(TV) == Granted()
        clock.set(local(LA, 2026, 11, 27, 0, 10))
        assert limits.check(TV) == Granted()
        clock.set(local(LA, 2026, 11, 27, 12, 0))
        refused = limits.check(TV)
        assert isinstance(refused, Exceeded)
        # One counter, two windows: Friday's use alone, the last 24 hours' two.
        assert [(o.key.window, o.count) for o in refused.over] == [
            (dt.timedelta(hours=12) + TICK, 1),
            (DAY, 2),
        ]
        clock.set(local(LA, 2026, 11, 28, 0, 5))
        # Friday is over, and 23:50 on Thursday has slid out.
        assert limits.check(TV) == Granted()

    def test_two_zones_measure_two_days(self) -> None:
        now = local(SHANGHAI, 2026, 11, 11, 0, 30)
        la, shanghai = limit_keys([one_a_day(LA), one_a_day(SHANGHAI)], TV, now=now)
        assert shanghai.window == dt.timedelta(minutes=30) + TICK
        assert la.window == dt.timedelta(hours=8, minutes=30) + TICK


class TestTheClock:
    def test_check_reads_the_clock_once_for_the_keys_and_the_store(self) -> None:
        class Ticking:
            def __init__(self, start: pendulum.DateTime) -> None:
                self._frozen = FrozenClock(start)

            def now(self) -> pendulum.DateTime:
                at = self._frozen.now()
                self._frozen.advance(minutes=30)
                return at

            def sleep(self, seconds: float) -> None:
                self._frozen.sleep(seconds)

        # Read twice, the check would measure Thursday and count at 00:10
        # on Friday: a window of 24 hours reaching back into Thursday.
        clock = Ticking(local(LA, 2026, 11, 26, 23, 50))
        limits = PurchaseLimits([one_a_day(LA)], MemoryLimitStore(), clock)
        assert limits.check(TV) == Granted()
        assert limits.check(TV) == Granted()  # 00:20 Friday: a new day

    def test_limit_keys_needs_now_for_a_day_rule(self) -> None:
        with pytest.raises(ValidationError) as caught:
            limit_keys([LimitRule(LimitScope.IP, 1, DAY), one_a_day(LA)], TV)
        assert (caught.value.field, caught.value.value) == ("now", None)

    def test_now_must_be_aware(self) -> None:
        with pytest.raises(NaiveDatetime):
            limit_keys([one_a_day(LA)], TV, now=dt.datetime(2026, 11, 27))  # noqa: DTZ001


class TestPrune:
    @stores
    def test_prune_keeps_the_whole_25_hour_day(
        self, opened: Callable[[], AbstractContextManager[LimitStore]]
    ) -> None:
        first = local(LA, 2026, 11, 1)
        clock = FrozenClock(first)
        with opened() as store:
            limits = PurchaseLimits(
                [one_a_day(LA)], store, clock, retention=dt.timedelta(minutes=1)
            )
            assert limits.check(TV) == Granted()
            clock.set(local(LA, 2026, 11, 2) - TICK)
            assert limits.prune() == 0
            assert isinstance(limits.check(TV), Exceeded)

    @stores
    def test_prune_keeps_a_day_at_least(
        self, opened: Callable[[], AbstractContextManager[LimitStore]]
    ) -> None:
        clock = FrozenClock(local(LA, 2026, 11, 26, 23, 50))
        with opened() as store:
            limits = PurchaseLimits(
                [one_a_day(LA)], store, clock, retention=dt.timedelta(minutes=1)
            )
            assert limits.check(TV) == Granted()
            clock.set(local(LA, 2026, 11, 27, 0, 10))
            assert limits.prune() == 0
            clock.set(local(LA, 2026, 11, 27, 23, 51))
            assert limits.prune() == 1


class TestTheRule:
    @pytest.mark.parametrize(
        "zone", ["Mars/Olympus", "+08:00", "localtime", "", 8, "Asia"]
    )
    def test_day_in_must_name_an_iana_zone(self, zone: object) -> None:
        with pytest.raises(ValidationError) as caught:
            LimitRule(LimitScope.BUYER, 1, DAY, day_in=zone)  # type: ignore[arg-type]
        assert (caught.value.field, caught.value.value) == ("day_in", zone)

    @pytest.mark.parametrize(
        "window", [dt.timedelta(hours=24, microseconds=1), dt.timedelta(days=7)]
    )
    def test_a_calendar_day_is_one_day(self, window: dt.timedelta) -> None:
        with pytest.raises(ValidationError) as caught:
            LimitRule(LimitScope.BUYER, 1, window, day_in=LA)
        assert (caught.value.field, caught.value.value) == ("window", window)

    def test_day_in_is_keyword_only_and_absent_by_default(self) -> None:
        assert LimitRule(LimitScope.BUYER, 1, DAY).day_in is None
        assert one_a_day(LA) != LimitRule(LimitScope.BUYER, 1, DAY, sku="DEAL-TV")


DESK_TOML = """
locations = ["SH-1"]

[[limits]]
scope = "buyer"
limit = 1
window = "P1D"
sku = "DEAL-TV"
day_in = "America/Los_Angeles"

[[limits]]
scope = "ip"
limit = 3
window = "P1D"
distinct = "buyer"
"""


class TestConfiguration:
    def test_a_desk_policy_reads_day_in_from_toml(self) -> None:
        for converter in (
            make_converter(),
            make_converter().copy(forbid_extra_keys=True),
        ):
            policy = converter.structure(tomllib.loads(DESK_TOML), DeskPolicy)
            assert policy.limits == (
                one_a_day(LA),
                LimitRule(LimitScope.IP, 3, DAY, distinct=LimitScope.BUYER),
            )

    def test_day_in_round_trips_through_json(self) -> None:
        converter = make_converter()
        policy = DeskPolicy(locations=["SH-1"], limits=[one_a_day(SHANGHAI)])
        data = converter.unstructure(policy)
        assert data["limits"][0]["day_in"] == SHANGHAI
        assert converter.loads(converter.dumps(policy), DeskPolicy) == policy

    @pytest.mark.parametrize(
        ("rule", "path", "value"),
        [
            (
                {"scope": "buyer", "limit": 1, "window": "P1D", "day_in": "PST"},
                "limits[0].day_in",
                "PST",
            ),
            (
                {"scope": "buyer", "limit": 1, "window": "PT24H1S", "day_in": LA},
                "limits[0].window",
                dt.timedelta(hours=24, seconds=1),
            ),
        ],
    )
    def test_a_bad_day_names_the_path(self, rule: Any, path: str, value: Any) -> None:
        with pytest.raises(StructureError) as caught:
            make_converter().structure(
                {"locations": ["SH-1"], "limits": [rule]}, DeskPolicy
            )
        assert (caught.value.field, caught.value.value) == (path, value)


# --------------------------------------------------------------------------
# The property: the count is the uses of now's calendar day, and only those.

ZONES = (
    LA,
    SHANGHAI,
    "America/Santiago",  # skips midnight in spring, repeats 23:00 in autumn
    "Australia/Lord_Howe",  # a 30-minute change
    "Europe/London",
    "Pacific/Chatham",  # +12:45
    "America/St_Johns",  # -03:30
)


def _changes(zone: str) -> list[dt.date]:
    # The days a zone's offset differs at the start of and the day after:
    # found with the standard library, not with the code under test.
    tz = zoneinfo.ZoneInfo(zone)
    days = []
    day = dt.date(2026, 1, 1)
    while day.year == 2026:
        after = day + DAY
        start = dt.datetime(day.year, day.month, day.day, 12, tzinfo=tz)
        end = dt.datetime(after.year, after.month, after.day, 12, tzinfo=tz)
        if start.utcoffset() != end.utcoffset():
            days += [day, after]
        day = after
    return days


CHANGE_DAYS = sorted({day for zone in ZONES for day in _changes(zone)})
DAYS = st.dates(dt.date(2000, 1, 1), dt.date(2035, 12, 31)) | st.sampled_from(
    CHANGE_DAYS
)


@st.composite
def moments(draw: st.DrawFn) -> tuple[str, pendulum.DateTime, list[pendulum.DateTime]]:
    """A zone, an instant in it, and uses before it, some at its day's edges."""
    zone = draw(st.sampled_from(ZONES))
    today = DayWindow(draw(DAYS), zone)
    length = today.end - today.start
    now = today.start + draw(st.timedeltas(dt.timedelta(0), length - TICK))
    edges = [today.start - TICK, today.start, today.start + TICK]
    edges += [today.preceding().start, today.preceding().start - TICK]
    back = st.timedeltas(dt.timedelta(0), dt.timedelta(hours=50))
    uses = draw(
        st.lists(st.sampled_from(edges) | back.map(lambda ago: now - ago), max_size=8)
    )
    return zone, now, [use for use in uses if use <= now]


def _local_date(instant: dt.datetime, zone: str) -> dt.date:
    return instant.astimezone(zoneinfo.ZoneInfo(zone)).date()


@stores
@given(moment=moments())
def test_the_count_is_the_uses_since_local_midnight(
    opened: Callable[[], AbstractContextManager[LimitStore]],
    moment: tuple[str, pendulum.DateTime, list[pendulum.DateTime]],
) -> None:
    zone, now, uses = moment
    clock = FrozenClock(now)
    with opened() as store:
        limits = PurchaseLimits([one_a_day(zone)], store, clock)
        for use in uses:
            clock.set(use)
            limits.record(TV)
        clock.set(now)
        decision = limits.check(TV)
    # None of these zones turns its clocks back across midnight, so the
    # wall clock's date tells the day of every instant.
    today = _local_date(now, zone)
    expected = sum(1 for use in uses if _local_date(use, zone) == today)
    if expected == 0:
        assert decision == Granted()
    else:
        assert isinstance(decision, Exceeded)
        assert decision.over[0].count == expected
