"""The anomaly report over manual price changes."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pendulum
import pytest

from orderkit.errors import CurrencyMismatch, ValidationError
from orderkit.money import Money
from orderkit.pricing import (
    WEEKDAYS,
    Anomaly,
    AnomalyKind,
    ApprovalTiers,
    Decided,
    PriceChange,
    anomalies,
    approve,
    request_change,
)


TIERS = ApprovalTiers.of(
    (Money("100.00", "CNY"), "store_manager"),
    (Money("500.00", "CNY"), "regional_director"),
    (None, "finance"),
)
USD_TIERS = ApprovalTiers.of(
    (Money("100.00", "USD"), "store_manager"),
    (Money("500.00", "USD"), "regional_director"),
    (None, "finance"),
)
# Wednesday 11 November 2026, 10:30 in Shanghai (UTC+8, no DST).
WED_MORNING = pendulum.datetime(2026, 11, 11, 2, 30)
LIST = {"TEA-SET-YIXING-6P": Money("399.00", "CNY")}


def change(
    change_id: str,
    at: pendulum.DateTime,
    *,
    requester: str = "clerk.zhang",
    new: str = "359.00",
    currency: str = "CNY",
) -> PriceChange:
    return request_change(
        TIERS if currency == "CNY" else USD_TIERS,
        change_id=change_id,
        order_id=f"O-{change_id}",
        line_id="L1",
        sku="TEA-SET-YIXING-6P",
        quantity=1,
        old_unit_price=Money("399.00", currency),
        new_unit_price=Money(new, currency),
        reason="price match with the Tmall flagship store",
        requester=requester,
        evidence="screenshot://tmall/8841.png",
        requested_at=at,
        ttl=dt.timedelta(days=1),
    )


def report(changes: list[PriceChange], **rules: object) -> list[Anomaly]:
    settings: dict[str, object] = {
        "zone": "Asia/Shanghai",
        "max_per_actor": 3,
        "window": dt.timedelta(hours=1),
        "max_deviation": Decimal("0.30"),
        "list_prices": LIST,
    }
    settings.update(rules)
    return anomalies(changes, **settings)  # type: ignore[arg-type]


def of_kind(found: list[Anomaly], kind: AnomalyKind) -> list[Anomaly]:
    return [a for a in found if a.kind is kind]


class TestQuietDay:
    """Ordinary changes in working hours, near list price, report nothing."""

    def test_nothing_to_report(self) -> None:
        changes = [
            change("PC-1", WED_MORNING),
            change("PC-2", WED_MORNING.add(hours=2), requester="clerk.wang"),
        ]
        assert report(changes) == []

    def test_no_changes(self) -> None:
        assert report([]) == []


class TestManyByOneActor:
    """More than max_per_actor requests by one actor in a sliding window."""

    def test_burst_reported_once_with_every_change(self) -> None:
        burst = [change(f"PC-{i}", WED_MORNING.add(minutes=3 * i)) for i in range(5)]
        calm = [
            change(f"PC-W{i}", WED_MORNING.add(minutes=i), requester="clerk.wang")
            for i in range(3)
        ]
        found = of_kind(report(burst + calm), AnomalyKind.MANY_BY_ONE_ACTOR)
        assert len(found) == 1
        assert found[0].actor == "clerk.zhang"
        assert found[0].change_ids == ("PC-0", "PC-1", "PC-2", "PC-3", "PC-4")

    def test_window_is_half_open(self) -> None:
        # Four changes, but the fourth is exactly one hour after the first.
        spread = [
            change("PC-0", WED_MORNING),
            change("PC-1", WED_MORNING.add(minutes=20)),
            change("PC-2", WED_MORNING.add(minutes=40)),
            change("PC-3", WED_MORNING.add(hours=1)),
        ]
        assert of_kind(report(spread), AnomalyKind.MANY_BY_ONE_ACTOR) == []
        found = of_kind(
            report(spread, window=dt.timedelta(hours=1, seconds=1)),
            AnomalyKind.MANY_BY_ONE_ACTOR,
        )
        assert [a.change_ids for a in found] == [("PC-0", "PC-1", "PC-2", "PC-3")]

    def test_one_login_however_spelled_is_one_actor(self) -> None:
        full_width = "".join(chr(ord(c) + 0xFEE0) for c in "CLERK") + ".zhang"
        logins = ["clerk.zhang", "Clerk.Zhang", " clerk.zhang", full_width]
        burst = [
            change(f"PC-{i}", WED_MORNING.add(minutes=i), requester=login)
            for i, login in enumerate(logins)
        ]
        found = of_kind(report(burst), AnomalyKind.MANY_BY_ONE_ACTOR)
        assert [(a.actor, len(a.change_ids)) for a in found] == [("clerk.zhang", 4)]

    def test_two_separate_bursts(self) -> None:
        morning = [change(f"PC-A{i}", WED_MORNING.add(minutes=i)) for i in range(4)]
        afternoon = [
            change(f"PC-B{i}", WED_MORNING.add(hours=4, minutes=i)) for i in range(4)
        ]
        found = of_kind(report(afternoon + morning), AnomalyKind.MANY_BY_ONE_ACTOR)
        assert [a.change_ids[0] for a in found] == ["PC-A0", "PC-B0"]

    def test_bursts_of_two_actors_come_in_the_order_of_the_changes(self) -> None:
        # Zhang asks first (a lone change), so his afternoon burst used to be
        # reported before Wang's earlier one: actor by actor.
        lone = [change("PC-Z0", WED_MORNING)]
        zhang = [
            change(f"PC-Z{i}", WED_MORNING.add(hours=5, minutes=i))
            for i in (1, 2, 3, 4)
        ]
        wang = [
            change(
                f"PC-W{i}", WED_MORNING.add(hours=1, minutes=i), requester="clerk.wang"
            )
            for i in range(4)
        ]
        found = of_kind(report(lone + zhang + wang), AnomalyKind.MANY_BY_ONE_ACTOR)
        assert [(a.actor, a.change_ids[0]) for a in found] == [
            ("clerk.wang", "PC-W0"),
            ("clerk.zhang", "PC-Z1"),
        ]

    def test_bursts_starting_together_come_in_change_id_order(self) -> None:
        ids = {"clerk.zhang": "PC-B", "clerk.wang": "PC-A"}
        changes = [
            change(f"{prefix}{i}", WED_MORNING.add(minutes=i), requester=who)
            for who, prefix in ids.items()
            for i in range(4)
        ]
        found = of_kind(report(changes), AnomalyKind.MANY_BY_ONE_ACTOR)
        assert [a.change_ids[0] for a in found] == ["PC-A0", "PC-B0"]


class TestOutsideWorkingHours:
    """Working hours are wall-clock hours in the store's zone, DST included."""

    @pytest.mark.parametrize(
        ("utc", "flagged"),
        [
            (pendulum.datetime(2026, 11, 11, 0, 59), True),  # 08:59 Shanghai
            (pendulum.datetime(2026, 11, 11, 1, 0), False),  # 09:00
            (pendulum.datetime(2026, 11, 11, 9, 59), False),  # 17:59
            (pendulum.datetime(2026, 11, 11, 10, 0), True),  # 18:00
            (pendulum.datetime(2026, 11, 10, 16, 30), True),  # 00:30 Wednesday
            (pendulum.datetime(2026, 11, 13, 17, 0), True),  # Saturday 01:00
            (pendulum.datetime(2026, 11, 13, 1, 0), False),  # Friday 09:00
        ],
    )
    def test_shanghai_store(self, utc: pendulum.DateTime, flagged: bool) -> None:
        found = of_kind(
            report([change("PC-1", utc)]), AnomalyKind.OUTSIDE_WORKING_HOURS
        )
        assert bool(found) is flagged

    def test_detail_shows_local_time(self) -> None:
        night = pendulum.datetime(2026, 11, 10, 16, 30)
        [found] = report([change("PC-1", night)])
        assert found.kind is AnomalyKind.OUTSIDE_WORKING_HOURS
        assert found.change_ids == ("PC-1",)
        assert "2026-11-11T00:30:00+08:00" in found.detail
        assert "Asia/Shanghai" in found.detail

    def test_new_york_across_spring_forward(self) -> None:
        # 13:30 UTC is 08:30 EST on Friday 6 March, 09:30 EDT on Monday 9 March.
        before = change("PC-F", pendulum.datetime(2026, 3, 6, 13, 30), currency="USD")
        after = change("PC-M", pendulum.datetime(2026, 3, 9, 13, 30), currency="USD")
        found = of_kind(
            report([before, after], zone="America/New_York", list_prices={}),
            AnomalyKind.OUTSIDE_WORKING_HOURS,
        )
        assert [a.change_ids for a in found] == [("PC-F",)]

    def test_new_york_across_fall_back(self) -> None:
        # 13:30 UTC is 09:30 EDT on Friday 30 October, 08:30 EST on Monday 2 Nov.
        before = change("PC-F", pendulum.datetime(2026, 10, 30, 13, 30), currency="USD")
        after = change("PC-M", pendulum.datetime(2026, 11, 2, 13, 30), currency="USD")
        found = of_kind(
            report([before, after], zone="America/New_York", list_prices={}),
            AnomalyKind.OUTSIDE_WORKING_HOURS,
        )
        assert [a.change_ids for a in found] == [("PC-M",)]

    def test_late_approval_names_the_approver(self) -> None:
        pending = change("PC-1", WED_MORNING)
        late = WED_MORNING.add(hours=12)  # 22:30 in Shanghai
        outcome = approve(
            pending, TIERS, approver="mgr.li", role="store_manager", now=late
        )
        assert isinstance(outcome, Decided)
        [found] = report([outcome.change])
        assert found.actor == "mgr.li"
        assert found.detail.startswith("approved at")

    def test_custom_hours_and_workdays(self) -> None:
        saturday = pendulum.datetime(2026, 11, 14, 2, 0)  # Saturday 10:00 Shanghai
        found = report(
            [change("PC-1", saturday)],
            working_hours=(10, 22),
            workdays=WEEKDAYS | {5},
        )
        assert found == []


class TestFarFromListPrice:
    """|new - list| / list above the ratio is reported; unknown SKUs are not."""

    def test_deep_cut_reported(self) -> None:
        found = report([change("PC-1", WED_MORNING, new="199.00")])
        [far] = of_kind(found, AnomalyKind.FAR_FROM_LIST_PRICE)
        assert far.change_ids == ("PC-1",)
        assert "50.1%" in far.detail

    def test_exactly_at_the_limit_is_fine(self) -> None:
        prices = {"TEA-SET-YIXING-6P": Money("100.00", "CNY")}
        found = report([change("PC-1", WED_MORNING, new="130.00")], list_prices=prices)
        assert found == []

    def test_sku_without_list_price_skipped(self) -> None:
        assert report([change("PC-1", WED_MORNING, new="1.00")], list_prices={}) == []

    def test_list_price_in_another_currency_refused(self) -> None:
        prices = {"TEA-SET-YIXING-6P": Money("55.00", "USD")}
        with pytest.raises(CurrencyMismatch) as caught:
            report([change("PC-1", WED_MORNING)], list_prices=prices)
        assert caught.value.field == "list_prices['TEA-SET-YIXING-6P']"

    def test_zero_list_price_refused(self) -> None:
        prices = {"TEA-SET-YIXING-6P": Money("0.00", "CNY")}
        with pytest.raises(ValidationError) as caught:
            report([change("PC-1", WED_MORNING)], list_prices=prices)
        assert caught.value.field == "list_prices['TEA-SET-YIXING-6P']"


class TestRules:
    """Bad rules are refused with the field named, before anything is reported."""

    @pytest.mark.parametrize(
        ("field", "value"),
        [
            ("zone", "Mars/Olympus_Mons"),
            ("zone", 8),
            ("zone", "America"),  # a folder of the zone database
            ("zone", "localtime"),  # the host's zone, no store's
            ("max_per_actor", 0),
            ("max_per_actor", True),
            ("window", dt.timedelta(0)),
            ("window", 3600),
            ("max_deviation", 0.3),
            ("max_deviation", Decimal("-0.1")),
            ("max_deviation", Decimal("NaN")),
            ("working_hours", (18, 9)),
            ("working_hours", (9, 25)),
            ("working_hours", (9.0, 18)),
            ("workdays", frozenset({7})),
            ("workdays", [0, 1]),
        ],
    )
    def test_bad_rule(self, field: str, value: object) -> None:
        with pytest.raises(ValidationError) as caught:
            report([change("PC-1", WED_MORNING)], **{field: value})
        assert caught.value.field == field

    def test_not_a_change_refused(self) -> None:
        with pytest.raises(ValidationError) as caught:
            anomalies(
                ["PC-1"],  # type: ignore[list-item]
                zone="Asia/Shanghai",
                max_per_actor=3,
                window=dt.timedelta(hours=1),
                max_deviation=Decimal("0.3"),
                list_prices=LIST,
            )
        assert caught.value.field == "changes[0]"
