"""The order-health score: weights as data, exact measures, missing ones said."""

from __future__ import annotations

import csv
import datetime as dt
import decimal
import io
from decimal import Decimal

import pendulum
import pytest
from hypothesis import given
from hypothesis import strategies as st
from tests.services._samples import (
    SLA,
    T0,
    S,
    order,
    pulled,
    record,
)

from orderkit.errors import InvalidQuantity, NaiveDatetime, ValidationError
from orderkit.inventory import Balance
from orderkit.money import Money
from orderkit.orders import (
    AuditRecord,
    Order,
    OrderStatus,
)
from orderkit.pricing import AnomalyKind, ChangeState, PriceChange
from orderkit.services import (
    HealthMeasure,
    HealthReport,
    HealthWeights,
    StockCount,
    StuckReason,
    StuckRules,
    health_report,
    reconcile_stock,
    stuck_orders,
)
from orderkit.services._health import _fulfilment


M = HealthMeasure
ZONE = "Asia/Shanghai"


def synced(order_id: str, lag_minutes: int) -> AuditRecord:
    late = record(order_id, 2, S.PENDING_PAYMENT, S.PAID, T0)
    return AuditRecord(
        order_id=late.order_id,
        version=late.version,
        from_status=late.from_status,
        to_status=late.to_status,
        event_type="PaymentCaptured",
        key=late.key,
        actor=late.actor,
        source=late.source,
        occurred_at=T0,
        recorded_at=T0.add(minutes=lag_minutes),
    )


def change(
    change_id: str,
    state: ChangeState,
    *,
    at: pendulum.DateTime = T0,
    requester: str = "客服-小王",
) -> PriceChange:
    decided = state in {ChangeState.APPROVED, ChangeState.REJECTED}
    return PriceChange(
        change_id=change_id,
        order_id="DY-1001",
        line_id="L1",
        sku="LONGJING-250G",
        quantity=2,
        old_unit_price=Money("199.00", "CNY"),
        new_unit_price=Money("179.00", "CNY"),
        reason="buyer's tin arrived dented",
        requester=requester,
        evidence="ticket-8812",
        requested_at=at,
        expires_at=at.add(hours=24),
        required_role="store_manager",
        state=state,
        decided_by="店长-陈" if decided else None,
        decided_at=None if state is ChangeState.PENDING else at.add(hours=1),
    )


def with_changes(base: Order, *changes: PriceChange) -> Order:
    return Order(
        order_id=base.order_id,
        channel=base.channel,
        buyer=base.buyer,
        address=base.address,
        lines=base.lines,
        placed_at=base.placed_at,
        status=base.status,
        payments=base.payments,
        shipments=base.shipments,
        price_changes=changes,
    )


def weights(**parts: str) -> HealthWeights:
    return HealthWeights(**{k: Decimal(v) for k, v in parts.items()})


class TestHealthWeights:
    """Weights are non-negative Decimals that sum to exactly one."""

    def test_the_brief_weights_by_default(self) -> None:
        default = HealthWeights()
        assert [default.of(m) for m in M] == [
            Decimal("0.30"),
            Decimal("0.25"),
            Decimal("0.20"),
            Decimal("0.15"),
            Decimal("0.10"),
        ]

    def test_a_negative_weight_is_named(self) -> None:
        with pytest.raises(ValidationError) as caught:
            weights(
                status_sync="0.45", complaint_rate="-0.15", on_time_fulfilment="0.25"
            )
        assert caught.value.field == "complaint_rate"

    @pytest.mark.parametrize("bad", [0.3, 1, "0.30", Decimal("NaN"), True])
    def test_a_weight_must_be_a_finite_decimal(self, bad: object) -> None:
        with pytest.raises(ValidationError) as caught:
            HealthWeights(status_sync=bad)  # type: ignore[arg-type]
        assert caught.value.field == "status_sync"

    def test_weights_must_sum_to_one(self) -> None:
        with pytest.raises(ValidationError) as caught:
            weights(status_sync="0.40")
        assert (caught.value.field, caught.value.value) == ("weights", Decimal("1.10"))

    def test_the_sum_is_exact_whatever_the_callers_decimal_context(self) -> None:
        with decimal.localcontext() as local:
            local.prec = 3
            with pytest.raises(ValidationError) as caught:
                weights(status_sync="0.30004")
        assert caught.value.value == Decimal("1.00004")


class TestMeasures:
    """Each measure follows its documented formula."""

    def test_status_sync_counts_changes_within_the_lag(self) -> None:
        trail = [synced("DY-1", 2), synced("DY-2", 10), synced("DY-3", 47)]
        # An address edit (paid to paid) is not a status change.
        trail.append(record("DY-1", 3, S.PAID, S.PAID, T0.add(hours=5)))
        report = health_report([], now=T0, zone=ZONE, records=trail)
        sync = report.component(M.STATUS_SYNC)
        assert (sync.numerator, sync.denominator) == (2, 3)
        assert sync.value == Decimal("0.6667")
        assert sync.formula == "timely_changes / status_changes"

    def test_inventory_accuracy_counts_agreeing_counts(self) -> None:
        counts = [
            StockCount("PUER-357G", "WH-HZ", 36, T0),
            StockCount("LONGJING-250G", "WH-HZ", 120, T0),
        ]
        balances = [
            Balance("PUER-357G", "WH-HZ", on_hand=38),
            Balance("LONGJING-250G", "WH-HZ", on_hand=120),
        ]
        stock = reconcile_stock(counts, balances, [])
        report = health_report([], now=T0, zone=ZONE, stock=stock)
        assert report.component(M.INVENTORY_ACCURACY).value == Decimal("0.5000")

    def test_stock_csv_never_hands_a_spreadsheet_a_formula(self) -> None:
        counts = [StockCount("=HYPERLINK(1)", "@WH", 36, T0)]
        balances = [Balance("=HYPERLINK(1)", "@WH", on_hand=38)]
        rows = list(
            csv.reader(io.StringIO(reconcile_stock(counts, balances, []).to_csv()))
        )
        assert rows[1][:2] == ["'=HYPERLINK(1)", "'@WH"]
        assert rows[1][5] == "-2"  # a number stays a number

    def test_change_approval_leaves_changes_in_progress_out(self) -> None:
        now = T0.add(hours=30)
        paid = with_changes(
            order("DY-1001"),
            change("PC-1", ChangeState.APPROVED),
            change("PC-2", ChangeState.REJECTED),
            change("PC-3", ChangeState.EXPIRED),
            change("PC-4", ChangeState.PENDING),  # expired at T0+24h, unswept
            change("PC-5", ChangeState.PENDING, at=T0.add(hours=29)),  # in progress
        )
        report = health_report([paid], now=now, zone=ZONE)
        approval = report.component(M.CHANGE_APPROVAL)
        assert (approval.numerator, approval.denominator) == (2, 4)

    def test_complaints_are_inverted_and_capped(self) -> None:
        orders = [order(f"DY-{n}") for n in range(4)]
        one = health_report(orders, now=T0, zone=ZONE, complaints=1)
        many = health_report(orders, now=T0, zone=ZONE, complaints=9)
        assert one.component(M.COMPLAINT_RATE).value == Decimal("0.7500")
        assert many.component(M.COMPLAINT_RATE).value == Decimal(0)

    def test_negative_complaints_are_refused(self) -> None:
        with pytest.raises(InvalidQuantity):
            health_report([], now=T0, zone=ZONE, complaints=-1)

    @pytest.mark.parametrize("zone", ["localtime", "Asia", "Mars/Olympus_Mons"])
    def test_a_zone_that_is_no_place_is_refused(self, zone: str) -> None:
        # The host's own zone would judge working hours by the server's clock.
        with pytest.raises(ValidationError) as caught:
            health_report([], now=T0, zone=zone)
        assert ("zone", zone) == (caught.value.field, caught.value.value)

    @pytest.mark.parametrize("promised", [[("douyin", "DY-1")], []])
    def test_a_ship_by_that_is_not_a_mapping_is_named(self, promised: object) -> None:
        with pytest.raises(ValidationError) as caught:
            health_report([], now=T0, zone=ZONE, ship_by=promised)  # type: ignore[arg-type]
        assert (caught.value.field, caught.value.value) == ("ship_by", promised)

    def test_fulfilment_counts_late_unshipped_orders_as_late(self) -> None:
        due = SLA.ship_by(T0).due
        orders = [
            order("DY-1", S.SHIPPED, shipped_at=due.subtract(hours=1)),
            order("DY-2", S.DELIVERED, shipped_at=due.add(hours=1)),
            order("DY-3", S.PICKING),  # past due at `now`
            order("DY-4", S.CANCELLED),
        ]
        report = health_report(
            orders,
            now=due.add(hours=2),
            zone=ZONE,
            stuck_rules=StuckRules(sla=SLA),
        )
        on_time = report.component(M.ON_TIME_FULFILMENT)
        assert (on_time.numerator, on_time.denominator) == (1, 3)

    def test_a_promise_the_calendar_cannot_count_is_on_neither_side(self) -> None:
        due = SLA.ship_by(T0).due
        at_year_end = pendulum.datetime(2026, 12, 31, 10, tz="Asia/Shanghai")
        orders = [
            order("DY-1", S.SHIPPED, shipped_at=due.subtract(hours=1)),
            # Its business day after 31 December is 2027's: no table yet.
            order("DY-2", S.PICKING, paid_at=at_year_end),
            # Shipped, so not stuck: only the report's list names it.
            order(
                "DY-3",
                S.SHIPPED,
                paid_at=at_year_end,
                shipped_at=pendulum.datetime(2027, 1, 4),
            ),
            order("DY-4", S.CANCELLED, paid_at=at_year_end),
        ]
        report = health_report(
            orders,
            now=pendulum.datetime(2027, 1, 6),
            zone=ZONE,
            stuck_rules=StuckRules(sla=SLA),
        )

        on_time = report.component(M.ON_TIME_FULFILMENT)
        assert (on_time.numerator, on_time.denominator) == (1, 1)
        assert [(s.order_id, s.reason) for s in report.stuck] == [
            ("DY-2", StuckReason.NO_SHIP_BY)
        ]
        assert report.ship_by_uncounted == (("douyin", "DY-2"), ("douyin", "DY-3"))

    def test_every_promise_counted_names_none(self) -> None:
        report = health_report(
            [order("DY-1", S.PICKING)],
            now=T0,
            zone=ZONE,
            stuck_rules=StuckRules(sla=SLA),
        )
        assert report.ship_by_uncounted == ()


class TestScore:
    """The score is the weighted mean of present measures, renormalised."""

    def test_missing_complaints_are_said_and_renormalised(self) -> None:
        trail = [synced("DY-1", 1)]  # sync: 1
        report = health_report([], now=T0, zone=ZONE, records=trail)
        assert report.score == Decimal("100.00")
        assert M.COMPLAINT_RATE in report.missing
        assert report.component(M.COMPLAINT_RATE).missing
        assert report.component(M.STATUS_SYNC).effective_weight == Decimal(1)

    def test_a_mixed_day(self) -> None:
        trail = [synced("DY-1", 1), synced("DY-2", 30)]  # sync: 1/2
        orders = [order("DY-1"), order("DY-2")]
        report = health_report(
            orders, now=T0, zone=ZONE, records=trail, complaints=0
        )  # complaints: 1
        # (0.30 * 1/2 + 0.15 * 1) / 0.45 = 2/3
        assert report.score == Decimal("66.67")
        assert report.missing == (
            M.INVENTORY_ACCURACY,
            M.CHANGE_APPROVAL,
            M.ON_TIME_FULFILMENT,
        )

    def test_nothing_to_measure_gives_no_score(self) -> None:
        report = health_report([], now=T0, zone=ZONE)
        assert report.score is None
        assert report.missing == tuple(M)

    def test_naive_now_is_refused(self) -> None:
        with pytest.raises(NaiveDatetime):
            health_report([], now=dt.datetime(2026, 11, 11), zone=ZONE)  # noqa: DTZ001

    @given(
        sync=st.tuples(st.integers(0, 50), st.integers(0, 50)),
        complaints=st.none() | st.integers(0, 30),
        orders=st.integers(0, 6),
    )
    def test_the_score_is_within_0_and_100(
        self, sync: tuple[int, int], complaints: int | None, orders: int
    ) -> None:
        timely, slow = sync
        trail = [synced(f"A{n}", 1) for n in range(timely)]
        trail += [synced(f"B{n}", 60) for n in range(slow)]
        report = _report(trail, complaints, orders)
        if report.score is not None:
            assert Decimal(0) <= report.score <= Decimal(100)
        assert all(
            c.value is None or Decimal(0) <= c.value <= 1 for c in report.components
        )

    @given(
        cuts=st.lists(st.integers(0, 100), min_size=3, max_size=3).map(sorted),
        missing=st.integers(1, 99),
        timely=st.integers(0, 20),
        slow=st.integers(0, 20),
    )
    def test_renormalising_equals_scaled_weights(
        self, cuts: list[int], missing: int, timely: int, slow: int
    ) -> None:
        # Percentages of the four present measures, summing to 100; held back
        # by the complaint share, they are exact Decimals summing to 1 with it.
        parts = [b - a for a, b in zip([0, *cuts], [*cuts, 100], strict=True)]
        held = HealthWeights(
            status_sync=Decimal(parts[0] * (100 - missing)) / 10000,
            inventory_accuracy=Decimal(parts[1] * (100 - missing)) / 10000,
            change_approval=Decimal(parts[2] * (100 - missing)) / 10000,
            complaint_rate=Decimal(missing) / 100,
            on_time_fulfilment=Decimal(parts[3] * (100 - missing)) / 10000,
        )
        scaled = HealthWeights(
            status_sync=Decimal(parts[0]) / 100,
            inventory_accuracy=Decimal(parts[1]) / 100,
            change_approval=Decimal(parts[2]) / 100,
            complaint_rate=Decimal(0),
            on_time_fulfilment=Decimal(parts[3]) / 100,
        )
        trail = [synced(f"A{n}", 1) for n in range(timely)]
        trail += [synced(f"B{n}", 60) for n in range(slow)]
        orders = [order("DY-1", S.SHIPPED, shipped_at=T0.add(hours=1))]
        kw = {
            "now": T0,
            "zone": ZONE,
            "records": trail,
            "stuck_rules": StuckRules(sla=SLA),
        }
        a = health_report(orders, weights=held, **kw)  # type: ignore[arg-type]
        b = health_report(orders, weights=scaled, **kw)  # type: ignore[arg-type]
        assert M.COMPLAINT_RATE in a.missing
        assert a.score == b.score


def _report(trail: list[AuditRecord], complaints: int | None, n: int) -> HealthReport:
    orders = [order(f"DY-{i}") for i in range(n)]
    return health_report(
        orders, now=T0, zone=ZONE, records=trail, complaints=complaints
    )


class TestFigures:
    """Backlog, stuck rate, consistency and anomalous operations beside the score."""

    def test_backlog_and_stuck_rate(self) -> None:
        orders = [
            order("DY-1", S.PAID),
            order("DY-2", S.PICKING),
            order("DY-3", S.SHIPPED),
            order("DY-4", S.PENDING_PAYMENT),
            order("DY-5", S.CANCELLED),
        ]
        changed = {("douyin", o.order_id): T0 for o in orders}
        report = health_report(
            orders, now=T0.add(hours=1), zone=ZONE, changed_at=changed
        )
        assert report.backlog_rate == Decimal("0.6667")  # 2 of paid, picking, shipped
        assert report.stuck_rate == Decimal("0.2500")  # DY-1 of 4 open orders
        assert [s.order_id for s in report.stuck] == ["DY-1"]

    def test_consistency_index(self) -> None:
        ours = [order("DY-1", S.PICKING), order("DY-2", S.PAID), order("DY-3", S.PAID)]
        pulls = [pulled(ours[0], S.SHIPPED), pulled(ours[1], S.PAID)]
        report = health_report(ours, now=T0, zone=ZONE, channel_orders=pulls)
        assert report.consistency_index == Decimal("0.5000")
        assert [d.order_id for d in report.drift] == ["DY-1"]

    def test_bulk_edits_at_night_are_anomalous(self) -> None:
        night = pendulum.datetime(2026, 11, 11, 15, 0)  # 23:00 in Shanghai
        edits = [
            change(f"PC-{n}", ChangeState.PENDING, at=night.add(minutes=n))
            for n in range(3)
        ]
        day_edit = change("PC-9", ChangeState.PENDING, at=T0, requester="客服-小李")
        paid = with_changes(order("DY-1001"), *edits, day_edit)
        report = health_report([paid], now=night.add(hours=1), zone=ZONE)
        kinds = sorted({a.kind for a in report.anomalies})
        assert kinds == [AnomalyKind.OUTSIDE_WORKING_HOURS]
        assert report.anomalous_operations == 3


class TestNeverStuckAndOnTime:
    """An order past its ship-by deadline is never counted on time."""

    @given(
        status=st.sampled_from([S.PAID, S.PICKING, S.SHIPPED, S.DELIVERED]),
        ship_hours=st.integers(1, 80),
        now_hours=st.integers(0, 120),
    )
    def test_stuck_past_ship_by_is_not_on_time(
        self, status: OrderStatus, ship_hours: int, now_hours: int
    ) -> None:
        one = order("DY-1", status, shipped_at=T0.add(hours=ship_hours))
        now = T0.add(hours=now_hours)
        rules = StuckRules(sla=SLA)
        stuck = stuck_orders([one], now=now, rules=rules)
        on_time, late, _ = _fulfilment([one], now, rules, {})
        past_due = [s for s in stuck if s.reason is StuckReason.PAST_SHIP_BY]
        assert not (past_due and on_time)
        assert not (on_time & late)
