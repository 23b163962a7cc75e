"""Stuck orders, unpaid orders due to close, and status drift against channels."""

from __future__ import annotations

import datetime as dt

import attrs
import pendulum
import pytest
from hypothesis import given
from hypothesis import strategies as st
from tests.services._samples import (
    SHIPPED_STATUSES,
    SLA,
    T0,
    S,
    order,
    pulled,
    record,
)

from orderkit.errors import NaiveDatetime, OrderMismatch, UnknownStatus, ValidationError
from orderkit.money import Money
from orderkit.orders import (
    Order,
    OrderStatus,
    Payment,
    Saga,
)
from orderkit.services import (
    DEFAULT_STUCK_LIMITS,
    DeskPolicy,
    DriftKind,
    DueToClose,
    StatusDrift,
    StuckOrder,
    StuckReason,
    StuckRules,
    due_to_close,
    status_changed_at,
    status_drift,
    stuck_orders,
)


class TestStuckRules:
    """Limits are data: validated, frozen, with the brief's paid limit by default."""

    def test_default_is_thirty_minutes_to_picking(self) -> None:
        assert StuckRules().limits == {S.PAID: dt.timedelta(minutes=30)}
        assert StuckRules().limits == DEFAULT_STUCK_LIMITS

    def test_status_strings_are_read(self) -> None:
        rules = StuckRules(limits={"picking": dt.timedelta(hours=4)})
        assert rules.limits == {S.PICKING: dt.timedelta(hours=4)}

    @pytest.mark.parametrize(
        "limit", [dt.timedelta(0), dt.timedelta(minutes=-5), 30, "30m"]
    )
    def test_a_limit_must_be_a_positive_timedelta(self, limit: object) -> None:
        with pytest.raises(ValidationError) as caught:
            StuckRules(limits={S.PAID: limit})  # type: ignore[dict-item]
        assert caught.value.field == "limits[paid]"

    def test_terminal_statuses_are_refused(self) -> None:
        with pytest.raises(ValidationError, match="terminal"):
            StuckRules(limits={S.COMPLETED: dt.timedelta(days=7)})

    def test_unknown_status_is_refused(self) -> None:
        with pytest.raises(UnknownStatus):
            StuckRules(limits={"waiting_for_godot": dt.timedelta(days=1)})

    def test_sla_must_be_a_policy(self) -> None:
        with pytest.raises(ValidationError) as caught:
            StuckRules(sla="1 business day")  # type: ignore[arg-type]
        assert caught.value.field == "sla"

    def test_limits_cannot_be_changed_afterwards(self) -> None:
        rules = StuckRules()
        with pytest.raises(TypeError):
            rules.limits[S.PICKING] = dt.timedelta(hours=1)  # type: ignore[index]
        with pytest.raises(attrs.exceptions.FrozenInstanceError):
            rules.sla = SLA  # type: ignore[misc]


class TestStatusChangedAt:
    """The audit trail says when an order entered its current status."""

    def test_the_record_that_moved_it_there(self) -> None:
        paid = order("DY-1001")
        trail = [
            record("DY-1001", 1, None, S.PENDING_PAYMENT, T0.subtract(minutes=5)),
            record("DY-1001", 2, S.PENDING_PAYMENT, S.PAID, T0),
            record("DY-1001", 3, S.PAID, S.PAID, T0.add(minutes=20)),  # address edit
        ]
        assert status_changed_at(paid, reversed(trail)) == T0

    def test_without_a_trail_it_counts_from_placement(self) -> None:
        paid = order("DY-1001")
        assert status_changed_at(paid, []) == paid.placed_at

    def test_a_record_of_another_order_is_refused(self) -> None:
        with pytest.raises(OrderMismatch):
            status_changed_at(order("DY-1001"), [record("DY-9", 2, None, S.PAID, T0)])


class TestStuckOrders:
    """Orders waiting past their status limit or ship-by deadline are flagged."""

    def test_paid_but_not_picking_after_thirty_minutes(self) -> None:
        orders = [order("DY-1001"), order("DY-1002")]
        changed = {("douyin", "DY-1001"): T0, ("douyin", "DY-1002"): T0.add(minutes=5)}

        found = stuck_orders(orders, now=T0.add(minutes=31), changed_at=changed)

        assert found == [
            StuckOrder(
                "douyin",
                "DY-1001",
                S.PAID,
                T0,
                dt.timedelta(minutes=31),
                StuckReason.STATUS_LIMIT,
                T0.add(minutes=30),
            )
        ]
        assert found[0].overdue == dt.timedelta(minutes=1)

    def test_the_limit_is_half_open(self) -> None:
        changed = {("douyin", "DY-1001"): T0}
        at_limit = stuck_orders(
            [order("DY-1001")], now=T0.add(minutes=30), changed_at=changed
        )
        just_before = stuck_orders(
            [order("DY-1001")],
            now=T0.add(minutes=30).subtract(microseconds=1),
            changed_at=changed,
        )
        assert [s.order_id for s in at_limit] == ["DY-1001"]
        assert just_before == []

    def test_picking_past_the_sla_deadline(self) -> None:
        # Paid 10:00 Wednesday, one business day: due end of Thursday in Shanghai.
        picking = order("DY-2001", S.PICKING)
        rules = StuckRules(sla=SLA)
        due = pendulum.datetime(2026, 11, 12, 16, 0)  # midnight Friday, Shanghai

        before = stuck_orders([picking], now=due.subtract(seconds=1), rules=rules)
        after = stuck_orders([picking], now=due, rules=rules)

        assert before == []
        (stuck,) = after
        assert (stuck.reason, stuck.deadline) == (StuckReason.PAST_SHIP_BY, due)

    def test_a_given_ship_by_instant_overrides_the_sla(self) -> None:
        picking = order("DY-2001", S.PICKING)
        promised = {("douyin", "DY-2001"): T0.add(hours=2)}
        found = stuck_orders(
            [picking], now=T0.add(hours=2), rules=StuckRules(sla=SLA), ship_by=promised
        )
        assert [(s.reason, s.deadline) for s in found] == [
            (StuckReason.PAST_SHIP_BY, T0.add(hours=2))
        ]

    def test_the_picking_queue_counts_ship_by_from_the_first_capture_too(
        self,
    ) -> None:
        # The later capture's notice came first: payments are in arrival
        # order, and both the queue and the monitor count from the earliest.
        early = pendulum.datetime(2026, 11, 11, 15, 55, tz="Asia/Shanghai")
        late = early.add(minutes=10)  # after the 16:00 cut-off: a day later
        paid_twice = attrs.evolve(
            order("DY-2001", paid_at=early),
            payments=(
                Payment("WX-2", Money("100.00", "CNY"), late),
                Payment("WX-1", Money("298.00", "CNY"), early),
            ),
        )
        due = SLA.ship_by(early).due
        (stuck,) = stuck_orders([paid_twice], now=due, rules=StuckRules(sla=SLA))
        queued = DeskPolicy(locations=["HZ-1"], sla=SLA).picking_priority(paid_twice)

        assert (stuck.reason, stuck.deadline) == (StuckReason.PAST_SHIP_BY, due)
        assert queued[0] == due

    def test_a_free_order_counts_ship_by_from_when_it_was_placed(self) -> None:
        # Paid by a zero capture, which records no payment: as the queue does.
        free = attrs.evolve(order("DY-2001", S.PICKING), payments=())
        due = SLA.ship_by(free.placed_at).due
        (stuck,) = stuck_orders([free], now=due, rules=StuckRules(sla=SLA))
        queued = DeskPolicy(locations=["HZ-1"], sla=SLA).picking_priority(free)

        assert (stuck.reason, stuck.deadline) == (StuckReason.PAST_SHIP_BY, due)
        assert queued[0] == due

    def test_a_promise_the_calendar_cannot_count_is_flagged_not_fatal(
        self,
    ) -> None:
        # Paid 30 December: three business days count into 2027, a year the
        # bundled calendar has no holidays for until they are announced.
        at_year_end = pendulum.datetime(2026, 12, 30, 10, tz="Asia/Shanghai")
        waiting = order("DY-2001", S.PICKING, paid_at=at_year_end)
        late = order("DY-2002", S.PICKING)
        sla = attrs.evolve(SLA, business_days=3)
        now = pendulum.datetime(2026, 12, 30, 6)

        found = stuck_orders([waiting, late], now=now, rules=StuckRules(sla=sla))

        # The scan goes on: the other order's broken promise is still seen.
        assert [(s.order_id, s.reason) for s in found] == [
            ("DY-2002", StuckReason.PAST_SHIP_BY),
            ("DY-2001", StuckReason.NO_SHIP_BY),
        ]
        flagged = found[1]
        assert flagged.deadline == at_year_end
        assert "2027" in flagged.detail
        assert "'CN'" in flagged.detail

    def test_such_an_order_s_other_reasons_still_show(self) -> None:
        # Paid after the cut-off on 31 December: its ship-by counts into 2027.
        paid = pendulum.datetime(2026, 12, 31, 10, 0)
        saga = Saga(name="pick", step="requested", key="k-1", started_at=paid)
        stalled = attrs.evolve(order("DY-9", paid_at=paid), saga=saga)
        now = paid.add(hours=6)
        changed = {("douyin", "DY-9"): paid}

        (stuck,) = stuck_orders(
            [stalled], now=now, rules=StuckRules(sla=SLA), changed_at=changed
        )

        assert stuck.reason is StuckReason.SAGA_STALLED
        assert stuck.detail == (
            "pick/requested k-1; calendar 'CN' has no data for 2027;"
            " add that year's table"
        )

    def test_the_picking_queue_ranks_such_an_order_as_due_when_paid(self) -> None:
        at_year_end = pendulum.datetime(2026, 12, 30, 10, tz="Asia/Shanghai")
        waiting = order("DY-2001", S.PAID, paid_at=at_year_end)
        policy = DeskPolicy(locations=["HZ-1"], sla=attrs.evolve(SLA, business_days=3))

        assert policy.picking_priority(waiting)[0] == at_year_end

    def test_picking_without_sla_or_promise_is_not_judged(self) -> None:
        assert stuck_orders([order("DY-2001", S.PICKING)], now=T0.add(days=30)) == []

    def test_a_broken_promise_wins_over_a_status_limit(self) -> None:
        paid = order("DY-1001")
        found = stuck_orders(
            [paid],
            now=T0.add(hours=3),
            ship_by={("douyin", "DY-1001"): T0.add(hours=2)},
            changed_at={("douyin", "DY-1001"): T0},
        )
        assert [s.reason for s in found] == [StuckReason.PAST_SHIP_BY]

    def test_terminal_and_shipped_orders_are_never_past_ship_by(self) -> None:
        orders = [
            order("DY-3001", S.SHIPPED),
            order("DY-3002", S.COMPLETED),
            order("DY-3003", S.CANCELLED),
        ]
        found = stuck_orders(orders, now=T0.add(days=30), rules=StuckRules(sla=SLA))
        assert found == []

    def test_longest_overdue_first(self) -> None:
        orders = [order("DY-1002"), order("DY-1001"), order("JD-77", channel="jd")]
        changed = {
            ("douyin", "DY-1002"): T0.add(minutes=10),
            ("douyin", "DY-1001"): T0,
            ("jd", "JD-77"): T0.add(minutes=5),
        }
        found = stuck_orders(orders, now=T0.add(hours=1), changed_at=changed)
        assert [s.order_id for s in found] == ["DY-1001", "JD-77", "DY-1002"]

    def test_a_change_recorded_after_now_has_no_negative_age(self) -> None:
        found = stuck_orders(
            [order("DY-1001", S.PICKING)],
            now=T0,
            ship_by={("douyin", "DY-1001"): T0.subtract(hours=1)},
            changed_at={("douyin", "DY-1001"): T0.add(minutes=1)},
        )
        assert [s.age for s in found] == [dt.timedelta(0)]

    def test_a_change_recorded_after_now_counts_as_now_for_overdue(self) -> None:
        (found,) = stuck_orders(
            [order("DY-1001", S.PICKING)],
            now=T0,
            ship_by={("douyin", "DY-1001"): T0.subtract(hours=1)},
            changed_at={("douyin", "DY-1001"): T0.add(minutes=10)},
        )
        assert (found.since, found.overdue) == (T0, dt.timedelta(hours=1))

    def test_naive_now_is_refused(self) -> None:
        with pytest.raises(NaiveDatetime):
            stuck_orders([order("DY-1001")], now=dt.datetime(2026, 11, 11, 10))  # noqa: DTZ001

    def test_naive_instant_in_a_mapping_is_refused(self) -> None:
        naive = dt.datetime(2026, 11, 11, 10)  # noqa: DTZ001
        with pytest.raises(NaiveDatetime) as caught:
            stuck_orders(
                [order("DY-1001")], now=T0, changed_at={("douyin", "DY-1001"): naive}
            )
        assert caught.value.field == "changed_at[('douyin', 'DY-1001')]"

    def test_an_order_given_twice_is_refused(self) -> None:
        with pytest.raises(ValidationError, match="repeats"):
            stuck_orders([order("DY-1001"), order("DY-1001")], now=T0)

    @given(
        minutes=st.integers(min_value=0, max_value=60 * 24 * 10),
        status=st.sampled_from(
            [S.PAID, S.PICKING, S.PARTIALLY_SHIPPED, *SHIPPED_STATUSES]
        ),
    )
    def test_stuck_exactly_when_a_deadline_has_passed(
        self, minutes: int, status: OrderStatus
    ) -> None:
        now = T0.add(minutes=minutes)
        one = order("DY-1001", status)
        found = stuck_orders(
            [one],
            now=now,
            rules=StuckRules(sla=SLA),
            changed_at={("douyin", "DY-1001"): T0},
        )
        due = SLA.ship_by(T0).due
        awaiting = status in {S.PAID, S.PICKING, S.PARTIALLY_SHIPPED}
        expected = awaiting and (now >= due or (status is S.PAID and minutes >= 30))
        assert bool(found) == expected
        for stuck in found:
            assert stuck.age >= dt.timedelta(0)
            assert stuck.deadline <= now


def in_flight(name: str, started_at: pendulum.DateTime, key: str) -> Saga:
    return Saga(name=name, step="requested", key=key, started_at=started_at)


class TestWaitingOnSomething:
    """A saga left in flight or a reason for a person is flagged, ended or not."""

    def test_a_saga_left_in_flight_is_flagged_after_its_limit(self) -> None:
        shipping = attrs.evolve(
            order("DY-1001"), saga=in_flight("ship", T0, "SHIP-DY-1001-1")
        )
        changed = {("douyin", "DY-1001"): T0}
        rules = StuckRules(limits={S.PICKING: dt.timedelta(hours=1)})
        early = stuck_orders(
            [shipping], now=T0.add(minutes=15).subtract(seconds=1), rules=rules
        )
        assert early == []
        (stuck,) = stuck_orders(
            [shipping], now=T0.add(minutes=20), rules=rules, changed_at=changed
        )
        assert stuck == StuckOrder(
            "douyin",
            "DY-1001",
            S.PAID,
            T0,
            dt.timedelta(minutes=20),
            StuckReason.SAGA_STALLED,
            T0.add(minutes=15),
            "ship/requested SHIP-DY-1001-1",
        )
        assert stuck.overdue == dt.timedelta(minutes=5)

    def test_an_ended_order_that_still_owes_a_refund_is_flagged(self) -> None:
        key = "refund:order:douyin:DY-3003:4"
        owing = attrs.evolve(
            order("DY-3003", S.CANCELLED), saga=in_flight("refund", T0, key)
        )
        settled = order("DY-3004", S.CANCELLED)
        found = stuck_orders([owing, settled], now=T0.add(hours=1))
        assert [(s.order_id, s.reason, s.detail) for s in found] == [
            ("DY-3003", StuckReason.SAGA_STALLED, f"refund/requested {key}")
        ]

    def test_a_reason_for_a_person_is_flagged_after_its_limit(self) -> None:
        waiting = attrs.evolve(
            order("DY-3003", S.CANCELLED), review=("label", "refund")
        )
        changed = {("douyin", "DY-3003"): T0}
        before = stuck_orders([waiting], now=T0.add(minutes=59), changed_at=changed)
        (stuck,) = stuck_orders([waiting], now=T0.add(hours=2), changed_at=changed)
        assert before == []
        assert (stuck.reason, stuck.deadline, stuck.detail) == (
            StuckReason.AWAITING_REVIEW,
            T0.add(hours=1),
            "label, refund",
        )

    def test_a_broken_promise_then_a_saga_then_a_person_then_a_status(
        self,
    ) -> None:
        paid = order("DY-1001")
        both = attrs.evolve(paid, saga=in_flight("ship", T0, "S1"), review=("carrier",))
        held = attrs.evolve(paid, review=("pricing",))
        now = T0.add(hours=3)
        changed = {("douyin", "DY-1001"): T0}
        late = {("douyin", "DY-1001"): T0.add(hours=2)}

        def reason(one: Order, **given: object) -> StuckReason:
            (stuck,) = stuck_orders([one], now=now, changed_at=changed, **given)  # type: ignore[arg-type]
            return stuck.reason

        assert reason(both, ship_by=late) is StuckReason.PAST_SHIP_BY
        assert reason(both) is StuckReason.SAGA_STALLED
        assert reason(held) is StuckReason.AWAITING_REVIEW
        assert reason(paid) is StuckReason.STATUS_LIMIT

    def test_the_checks_can_be_turned_off(self) -> None:
        waiting = attrs.evolve(
            order("DY-3003", S.CANCELLED),
            saga=in_flight("refund", T0, "R1"),
            review=("refund",),
        )
        rules = StuckRules(saga_limit=None, review_limit=None)
        assert stuck_orders([waiting], now=T0.add(days=3), rules=rules) == []

    @pytest.mark.parametrize("field", ["saga_limit", "review_limit"])
    @pytest.mark.parametrize("limit", [dt.timedelta(0), dt.timedelta(-1), 15])
    def test_a_limit_is_a_positive_timedelta(self, field: str, limit: object) -> None:
        with pytest.raises(ValidationError) as caught:
            StuckRules(**{field: limit})  # type: ignore[arg-type]
        assert caught.value.field == field


class TestDueToClose:
    """Unpaid orders past their payment deadline are reported for closing."""

    def test_unpaid_past_pay_by(self) -> None:
        pay_by = T0.add(minutes=15)
        orders = [
            order("DY-4001", S.PENDING_PAYMENT, pay_by=pay_by),
            order("DY-4002", S.PENDING_PAYMENT, pay_by=T0.add(hours=1)),
            order("DY-4003", S.PENDING_PAYMENT),  # no deadline: never due
            order("DY-4004", S.PAID, pay_by=pay_by),  # paid in time
        ]
        found = due_to_close(orders, now=T0.add(minutes=20))
        assert found == [
            DueToClose("douyin", "DY-4001", pay_by, dt.timedelta(minutes=5))
        ]

    def test_at_the_deadline_it_is_due(self) -> None:
        unpaid = order("DY-4001", S.PENDING_PAYMENT, pay_by=T0)
        assert [d.overdue for d in due_to_close([unpaid], now=T0)] == [dt.timedelta(0)]

    def test_earliest_deadline_first(self) -> None:
        orders = [
            order("DY-4002", S.PENDING_PAYMENT, pay_by=T0.add(minutes=10)),
            order("DY-4001", S.PENDING_PAYMENT, pay_by=T0),
        ]
        found = due_to_close(orders, now=T0.add(hours=1))
        assert [d.order_id for d in found] == ["DY-4001", "DY-4002"]

    def test_naive_now_is_refused(self) -> None:
        with pytest.raises(NaiveDatetime):
            due_to_close([], now=dt.datetime(2026, 11, 11))  # noqa: DTZ001

    def test_the_desks_pay_window_judges_an_order_without_a_deadline(self) -> None:
        """As `OrderDesk.close_unpaid` does: placed, then `pay_window` to pay."""
        window = dt.timedelta(minutes=30)
        no_deadline = order("DY-4003", S.PENDING_PAYMENT)
        its_own = order("DY-4004", S.PENDING_PAYMENT, pay_by=T0.add(hours=2))
        placed = no_deadline.placed_at
        early = placed.add(minutes=29)
        assert due_to_close([no_deadline], now=early, pay_window=window) == []
        assert due_to_close([no_deadline], now=placed.add(days=9)) == []  # no window
        assert due_to_close(
            [no_deadline, its_own], now=placed.add(minutes=31), pay_window=window
        ) == [
            DueToClose(
                "douyin", "DY-4003", placed.add(minutes=30), dt.timedelta(minutes=1)
            )
        ]

    def test_every_pay_window_the_desk_takes_is_taken(self) -> None:
        policy = DeskPolicy(locations=["BJ-1"], pay_window=dt.timedelta(days=365 * 150))
        unpaid = order("DY-4003", S.PENDING_PAYMENT)
        assert due_to_close([unpaid], now=T0, pay_window=policy.pay_window) == []

    @pytest.mark.parametrize(
        "window",
        [dt.timedelta(0), dt.timedelta(minutes=-1), 30],
        ids=["zero", "negative", "not-a-timedelta"],
    )
    def test_a_pay_window_that_is_no_duration_is_refused(self, window: object) -> None:
        with pytest.raises(ValidationError) as caught:
            due_to_close([], now=T0, pay_window=window)  # type: ignore[arg-type]
        assert caught.value.field == "pay_window"


class TestStatusDrift:
    """Our statuses against what channel pulls report, stage by stage."""

    def test_channel_says_shipped_we_say_awaiting_shipment(self) -> None:
        ours = order("DY-5001", S.PICKING)
        found = status_drift([ours], [pulled(ours, S.SHIPPED)])
        assert found == [
            StatusDrift(
                "douyin", "DY-5001", S.PICKING, S.SHIPPED, DriftKind.CHANNEL_AHEAD
            )
        ]

    def test_our_tracking_number_never_reached_the_channel(self) -> None:
        ours = order("DY-5002", S.SHIPPED)
        (drift,) = status_drift([ours], [pulled(ours, S.PAID)])
        assert drift.kind is DriftKind.CHANNEL_BEHIND

    def test_one_side_cancelled(self) -> None:
        ours = order("DY-5003", S.PAID)
        (drift,) = status_drift([ours], [pulled(ours, S.CANCELLED)])
        assert drift.kind is DriftKind.CONFLICT

    @pytest.mark.parametrize(
        ("mine", "theirs"),
        [
            (S.PICKING, S.PAID),
            (S.IN_TRANSIT, S.SHIPPED),
            (S.CLOSED, S.CANCELLED),
            (S.DELIVERED, S.DELIVERED),
        ],
    )
    def test_the_same_stage_is_no_drift(
        self, mine: OrderStatus, theirs: OrderStatus
    ) -> None:
        ours = order("DY-5004", mine)
        assert status_drift([ours], [pulled(ours, theirs)]) == []

    def test_orders_on_one_side_only_are_left_out(self) -> None:
        ours = order("DY-5005", S.PAID)
        stranger = order("DY-5006", S.PAID)
        assert status_drift([ours], [pulled(stranger, S.SHIPPED)]) == []

    def test_the_same_order_id_on_another_channel_is_another_order(self) -> None:
        ours = order("10086", S.PAID, channel="douyin")
        theirs = order("10086", S.PAID, channel="jd")
        assert status_drift([ours], [pulled(theirs, S.SHIPPED)]) == []

    def test_the_latest_pull_counts(self) -> None:
        ours = order("DY-5007", S.SHIPPED)
        older = pulled(ours, S.PAID, updated_at=T0)
        newer = pulled(ours, S.SHIPPED, updated_at=T0.add(hours=3))
        assert status_drift([ours], [newer, older]) == []
        assert status_drift([ours], [older, newer]) == []

    @given(
        mine=st.sampled_from([s for s in S if s is not S.PENDING_PAYMENT]),
        theirs=st.sampled_from(S),
    )
    def test_drift_is_symmetric_in_kind(
        self, mine: OrderStatus, theirs: OrderStatus
    ) -> None:
        ours = order("DY-5008", mine)
        mirrored = order(
            "DY-5008", theirs if theirs is not S.PENDING_PAYMENT else S.PAID
        )
        forward = status_drift([ours], [pulled(ours, theirs)])
        if theirs is S.PENDING_PAYMENT:
            assert [d.kind for d in forward] in (
                [DriftKind.CHANNEL_BEHIND],
                [DriftKind.CONFLICT],
            )
            return
        backward = status_drift([mirrored], [pulled(mirrored, mine)])
        flip = {
            DriftKind.CHANNEL_AHEAD: DriftKind.CHANNEL_BEHIND,
            DriftKind.CHANNEL_BEHIND: DriftKind.CHANNEL_AHEAD,
            DriftKind.CONFLICT: DriftKind.CONFLICT,
        }
        assert [flip[d.kind] for d in forward] == [d.kind for d in backward]
        if mine is theirs:
            assert forward == []
