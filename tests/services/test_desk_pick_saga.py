"""Picking as a saga: pick tasks sent to a warehouse are never forgotten.

`OrderDesk.start_picking` stores a `pick` saga naming the order's tasks
before the warehouse hears of them. A task whose reply was lost, or sent
before a crash, may be picked: a cancellation recorded while the saga is in
flight holds the order for a person to void the tasks, and a retry or
`recover` sends the same tasks again and finishes.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Callable
from typing import Any

import attrs
import pendulum
import pytest
from tests.services._samples import awaiting_payment, cny

from orderkit.dedupe import Fingerprinter, IdempotencyKey
from orderkit.errors import (
    CircuitOpen,
    ConfigurationError,
    IdempotencyConflict,
    IllegalTransition,
    OrderkitError,
    TransientError,
    UnknownLocation,
)
from orderkit.integrations import PickTask, WarehouseConfirmation
from orderkit.orders import (
    Address,
    Buyer,
    Cancelled,
    Order,
    OrderLine,
    OrderPlaced,
    OrderStatus,
    PaymentCaptured,
    PickingStarted,
    Saga,
)
from orderkit.ports import UnitOfWork
from orderkit.serialization import make_converter
from orderkit.services import (
    DeskPolicy,
    EventRecorded,
    Ledger,
    OrderDesk,
    Refunded,
    Refunds,
    Shipping,
    StuckReason,
    health_from_stores,
    recover,
    status_changed_at,
    stuck_orders,
)
from orderkit.testing import FrozenClock
from orderkit.testing.fakes import FakeCarrier, FakePayments, FakeWarehouse


T0 = pendulum.datetime(2026, 11, 11, 0, 0)
SECRET = b"pick-saga-tests-secret-0123456789"
TASK = "pick:order:douyin:DY-1001:BJ-1"


def key(kind: str) -> IdempotencyKey:
    return IdempotencyKey("douyin", kind, "DY-1001", "1")


def placed() -> OrderPlaced:
    return OrderPlaced(
        order_id="DY-1001",
        key=key("trade.created"),
        occurred_at=T0,
        channel="douyin",
        buyer=Buyer("buyer-42", "李雷", phone="+8613800138000"),
        address=Address("CN", "北京市", "北京市", "朝阳区", "建国路 1 号"),
        lines=[OrderLine("L1", "RETRO-CLOCK", 2, cny("199.00"))],
    )


def paid() -> PaymentCaptured:
    return PaymentCaptured(
        order_id="DY-1001",
        key=key("trade.paid"),
        occurred_at=T0.add(minutes=5),
        payment_id="alipay-DY-1001",
        amount=cny("398.00"),
    )


def cancelled() -> Cancelled:
    return Cancelled(
        order_id="DY-1001",
        key=key("trade.cancelled"),
        occurred_at=T0.add(hours=1),
        reason="buyer changed their mind",
    )


@pytest.fixture
def desk(unit: UnitOfWork, clock: FrozenClock) -> OrderDesk:
    """A desk with DY-1001 paid, its two clocks committed at BJ-1."""
    with unit as uow:
        Ledger(uow.ledger, clock).receive("RETRO-CLOCK", "BJ-1", 10)
        uow.commit()
    the_desk = OrderDesk(
        unit, clock, DeskPolicy(locations=["BJ-1"]), Fingerprinter(SECRET)
    )
    the_desk.accept(awaiting_payment(placed(), events=(paid(),)))
    return the_desk


class _Crash(Exception):
    """The process dies: no OrderkitError, nothing handles it."""


class _Warehouse:
    """The fake warehouse, with something happening around its calls.

    `before` runs before each call reaches the warehouse; `landed` once the
    warehouse took the task, before the desk hears back (a lost reply, a
    crash), on the first call only.
    """

    def __init__(
        self,
        clock: FrozenClock,
        *,
        before: Callable[[], object] | None = None,
        landed: Callable[[], object] | None = None,
    ) -> None:
        self.fake = FakeWarehouse(clock)
        self._before = before
        self._landed = landed

    @property
    def effects(self) -> Counter[str]:
        return self.fake.effects

    @property
    def calls(self) -> Counter[str]:
        return self.fake.calls

    def create_pick_task(self, task: PickTask) -> str:
        if self._before is not None:
            self._before()
        created = self.fake.create_pick_task(task)
        landed, self._landed = self._landed, None
        if landed is not None:
            landed()
        return created

    def parse_confirmation(self, payload: Any) -> WarehouseConfirmation:
        return self.fake.parse_confirmation(payload)


def _lose_reply() -> None:
    raise TransientError("wms.create_pick_task", "504 reply lost")


def _die() -> None:
    raise _Crash


def lost_reply(clock: FrozenClock) -> _Warehouse:
    """A warehouse that takes the first task and loses its reply."""
    return _Warehouse(clock, landed=_lose_reply)


def crashing(clock: FrozenClock) -> _Warehouse:
    """A warehouse that takes the first task, then the process dies."""
    return _Warehouse(clock, landed=_die)


def stored(unit: UnitOfWork) -> Order:
    with unit as uow:
        order = uow.orders.get("douyin", "DY-1001")
    assert order is not None
    return order


def stuck(unit: UnitOfWork, now: pendulum.DateTime) -> list[tuple[StuckReason, str]]:
    with unit as uow:
        orders = list(uow.orders.orders())
        changed = {
            (o.channel, o.order_id): status_changed_at(
                o, uow.audit.records(o.channel, o.order_id)
            )
            for o in orders
        }
    found = stuck_orders(orders, now=now, changed_at=changed)
    return [(s.reason, s.detail) for s in found]


class TestCancelledWhileTasksMayExist:
    """The bug: a lost reply, then a cancellation, and nobody knew of the task."""

    def test_the_cancellation_holds_the_order_for_a_person_naming_the_task(
        self, unit: UnitOfWork, clock: FrozenClock, desk: OrderDesk
    ) -> None:
        wms = lost_reply(clock)
        with pytest.raises(TransientError):
            desk.start_picking("douyin", "DY-1001", wms)
        assert wms.effects == {TASK: 1}  # the warehouse has the task

        clock.advance(minutes=10)
        desk.record("douyin", "DY-1001", cancelled())

        order = stored(unit)
        assert order.status is OrderStatus.CANCELLED
        assert order.review == ("pick",)
        with unit as uow:
            records = list(uow.audit.records("douyin", "DY-1001"))
        ended = [r for r in records if r.event_type == "SagaEnded"]
        (result,) = [c.new for c in ended[-1].changes if c.field == "saga.result"]
        assert TASK in result
        # The retry sends nothing for a cancelled order, and says why.
        with pytest.raises(IllegalTransition, match="void") as caught:
            desk.start_picking("douyin", "DY-1001", wms)
        assert not caught.value.retry
        assert wms.calls == {TASK: 1}

    def test_the_money_still_goes_back(
        self, unit: UnitOfWork, clock: FrozenClock, desk: OrderDesk
    ) -> None:
        with pytest.raises(TransientError):
            desk.start_picking("douyin", "DY-1001", lost_reply(clock))
        recorded = desk.record("douyin", "DY-1001", cancelled())

        assert [r.amount for r in recorded.refund_due] == [cny("398.00")]
        saga = stored(unit).saga
        assert saga is not None
        assert (saga.name, saga.amount) == ("refund", cny("398.00"))
        payments = FakePayments(clock)
        payments.capture("alipay-DY-1001", cny("398.00"), key="capture-1")
        (sent,) = Refunds(unit, clock, payments).send_due()
        assert isinstance(sent, Refunded)
        assert sent.order.review == ("pick",)
        # Refunded, it still waits for a person, whom the monitor tells.
        assert stuck(unit, clock.now().add(days=2)) == [
            (StuckReason.AWAITING_REVIEW, "pick")
        ]

    def test_a_cancellation_overtaking_the_calls_holds_it_too(
        self, unit: UnitOfWork, clock: FrozenClock, desk: OrderDesk
    ) -> None:
        def cancel() -> None:
            desk.record("douyin", "DY-1001", cancelled())

        cancelling = _Warehouse(clock, before=cancel)
        with pytest.raises(IllegalTransition, match=TASK):
            desk.start_picking("douyin", "DY-1001", cancelling)
        assert cancelling.effects == {TASK: 1}

        order = stored(unit)
        assert (order.status, order.review) == (OrderStatus.CANCELLED, ("pick",))
        assert order.saga is not None
        assert order.saga.name == "refund"


class TestRetried:
    """A retry, or `recover`, sends the same tasks and finishes."""

    def test_the_saga_names_the_tasks_before_the_warehouse_hears_of_them(
        self, unit: UnitOfWork, clock: FrozenClock, desk: OrderDesk
    ) -> None:
        seen: list[Saga | None] = []

        def watch() -> None:
            seen.append(stored(unit).saga)

        started = desk.start_picking(
            "douyin", "DY-1001", _Warehouse(clock, before=watch)
        )

        (saga,) = seen
        assert saga is not None
        assert (saga.name, saga.tasks) == ("pick", (TASK,))
        assert started.order.status is OrderStatus.PICKING
        assert started.order.saga is None
        assert stored(unit) == started.order

    def test_a_retry_resends_the_same_task_and_finishes(
        self, unit: UnitOfWork, clock: FrozenClock, desk: OrderDesk
    ) -> None:
        wms = lost_reply(clock)
        with pytest.raises(TransientError):
            desk.start_picking("douyin", "DY-1001", wms)
        saga = stored(unit).saga
        assert saga is not None
        assert (saga.name, saga.tasks) == ("pick", (TASK,))
        # Waiting for the retry in the picking queue: the host's next pick
        # from the queue resumes it.
        assert [o.order_id for o in desk.picking_queue()] == ["DY-1001"]

        retried = desk.start_picking("douyin", "DY-1001", wms)

        assert retried.order.status is OrderStatus.PICKING
        assert retried.order.saga is None
        assert retried.order.review == ()
        assert (wms.calls, wms.effects) == ({TASK: 2}, {TASK: 1})

    def test_recover_finishes_a_pick_cut_short_by_a_crash(
        self, unit: UnitOfWork, clock: FrozenClock, desk: OrderDesk
    ) -> None:
        wms = crashing(clock)
        with pytest.raises(_Crash):
            desk.start_picking("douyin", "DY-1001", wms)

        recovery = recover(unit, desk=desk, warehouse=wms)

        (finished,) = recovery.finished
        assert isinstance(finished, EventRecorded)
        assert finished.order.status is OrderStatus.PICKING
        assert recovery.stalled == ()
        assert stored(unit).saga is None
        assert wms.effects == {TASK: 1}
        assert recover(unit, desk=desk, warehouse=wms).finished == ()

    def test_recover_after_a_crash_and_a_cancellation_sends_the_refund_only(
        self, unit: UnitOfWork, clock: FrozenClock, desk: OrderDesk
    ) -> None:
        wms = crashing(clock)
        with pytest.raises(_Crash):
            desk.start_picking("douyin", "DY-1001", wms)
        desk.record("douyin", "DY-1001", cancelled())
        payments = FakePayments(clock)
        payments.capture("alipay-DY-1001", cny("398.00"), key="capture-1")

        recovery = recover(
            unit, desk=desk, warehouse=wms, refunds=Refunds(unit, clock, payments)
        )

        (finished,) = recovery.finished
        assert isinstance(finished, Refunded)
        order = stored(unit)
        assert (order.status, order.review) == (OrderStatus.CANCELLED, ("pick",))
        assert wms.calls == {TASK: 1}

    def test_recover_without_a_warehouse_leaves_the_pick_stalled(
        self, unit: UnitOfWork, clock: FrozenClock, desk: OrderDesk
    ) -> None:
        with pytest.raises(TransientError):
            desk.start_picking("douyin", "DY-1001", lost_reply(clock))

        recovery = recover(unit, desk=desk)

        (stalled,) = recovery.stalled
        assert isinstance(stalled.error, ConfigurationError)
        assert stalled.saga.name == "pick"

    def test_the_warehouse_reporting_picking_first_ends_the_saga(
        self, clock: FrozenClock, desk: OrderDesk
    ) -> None:
        with pytest.raises(TransientError):
            desk.start_picking("douyin", "DY-1001", lost_reply(clock))
        notice = PickingStarted(
            order_id="DY-1001", key=key("wms.picking"), occurred_at=T0.add(hours=2)
        )

        recorded = desk.record("douyin", "DY-1001", notice)

        assert recorded.order.status is OrderStatus.PICKING
        assert (recorded.order.saga, recorded.order.review) == (None, ())


class TestWatched:
    """A pick saga left in flight is flagged as every other saga."""

    def test_an_old_pick_saga_is_a_stalled_saga(
        self, unit: UnitOfWork, clock: FrozenClock, desk: OrderDesk
    ) -> None:
        with pytest.raises(TransientError):
            desk.start_picking("douyin", "DY-1001", lost_reply(clock))

        later = clock.now().add(minutes=16)

        assert stuck(unit, later) == [
            (StuckReason.SAGA_STALLED, "pick/requested pick:order:douyin:DY-1001")
        ]

    def test_the_health_report_counts_it_stuck(
        self, unit: UnitOfWork, clock: FrozenClock, desk: OrderDesk
    ) -> None:
        with pytest.raises(TransientError):
            desk.start_picking("douyin", "DY-1001", lost_reply(clock))
        clock.advance(minutes=16)

        window = (T0, T0.add(days=1))
        report = health_from_stores(unit, clock, window=window, zone="Asia/Shanghai")

        assert [(s.order_id, s.reason, s.detail) for s in report.stuck] == [
            (
                "DY-1001",
                StuckReason.SAGA_STALLED,
                "pick/requested pick:order:douyin:DY-1001",
            )
        ]
        assert report.stuck_rate == 1

    def test_another_saga_in_flight_refuses_picking(
        self, unit: UnitOfWork, clock: FrozenClock, desk: OrderDesk
    ) -> None:
        order = stored(unit)
        saga = Saga(name="ship", step="requested", key="S1", started_at=T0)
        with unit as uow:
            shipping = attrs.evolve(order, saga=saga, version=order.version + 1)
            uow.orders.save(shipping, order.version)
            uow.commit()
        wms = FakeWarehouse(clock)

        with pytest.raises(IllegalTransition, match="ship saga is in flight") as caught:
            desk.start_picking("douyin", "DY-1001", wms)
        assert caught.value.retry  # for now only: once the saga ends, it may pick
        assert wms.calls == {}


class _Refusing:
    """A warehouse that answers every task with `error`: its no, or a failure."""

    def __init__(self, error: OrderkitError) -> None:
        self.error = error
        self.calls: Counter[str] = Counter()

    def create_pick_task(self, task: PickTask) -> str:
        self.calls[task.task_id] += 1
        raise self.error

    def parse_confirmation(self, payload: Any) -> WarehouseConfirmation:
        raise NotImplementedError


def held_records(unit: UnitOfWork) -> list[dict[str, str]]:
    with unit as uow:
        records = list(uow.audit.records("douyin", "DY-1001"))
    return [
        {c.field: c.new for c in r.changes}
        for r in records
        if r.event_type in {"SagaEnded", "HeldForReview"}
    ]


class TestHostPickingFromTheQueue:
    """A host that picks from the queue, and calls `recover` without a warehouse."""

    def test_the_order_is_picked_and_shipped_after_a_lost_reply(
        self, unit: UnitOfWork, clock: FrozenClock, desk: OrderDesk
    ) -> None:
        wms = lost_reply(clock)
        with pytest.raises(TransientError):
            desk.start_picking("douyin", "DY-1001", wms)
        (stalled,) = recover(unit).stalled  # the old way: no desk, no warehouse
        assert isinstance(stalled.error, ConfigurationError)

        for order in desk.picking_queue():  # the host's next tick
            desk.start_picking(order.channel, order.order_id, wms)

        assert stored(unit).status is OrderStatus.PICKING
        assert wms.effects == {TASK: 1}
        shipping = Shipping(unit, clock, desk, FakeCarrier(clock))
        shipped = shipping.ship("douyin", "DY-1001", "S-1")
        assert shipped.order.status is OrderStatus.SHIPPED

    def test_another_saga_in_flight_keeps_the_order_out_of_the_queue(
        self, unit: UnitOfWork, desk: OrderDesk
    ) -> None:
        order = stored(unit)
        saga = Saga(name="ship", step="requested", key="S1", started_at=T0)
        with unit as uow:
            shipping = attrs.evolve(order, saga=saga, version=order.version + 1)
            uow.orders.save(shipping, order.version)
            uow.commit()

        assert desk.picking_queue() == ()


class TestRefusedByTheWarehouse:
    """The warehouse's no ends the saga for a person; a failure keeps it."""

    @pytest.mark.parametrize(
        "refusal", [UnknownLocation("BJ-1"), IdempotencyConflict(f"task:{TASK}")]
    )
    def test_a_refusal_ends_the_saga_and_holds_the_order_naming_the_task(
        self,
        unit: UnitOfWork,
        clock: FrozenClock,
        desk: OrderDesk,
        refusal: OrderkitError,
    ) -> None:
        wms = _Refusing(refusal)

        with pytest.raises(IllegalTransition, match=f"void {TASK}") as raised:
            desk.start_picking("douyin", "DY-1001", wms)

        assert raised.value.__cause__ is refusal
        order = stored(unit)
        assert (order.status, order.saga, order.review) == (
            OrderStatus.PAID,
            None,
            ("pick",),
        )
        assert TASK in held_records(unit)[-1]["saga.result"]
        # Nothing left for recover to send again, day after day.
        clock.advance(days=1)
        recovery = recover(unit, desk=desk, warehouse=wms)
        assert (recovery.finished, recovery.stalled) == ((), ())
        assert wms.calls == {TASK: 1}

    def test_a_person_releases_it_and_it_is_picked_elsewhere(
        self, clock: FrozenClock, desk: OrderDesk
    ) -> None:
        with pytest.raises(IllegalTransition):
            desk.start_picking("douyin", "DY-1001", _Refusing(UnknownLocation("BJ-1")))

        desk.release("douyin", "DY-1001", actor="ops")
        wms = FakeWarehouse(clock)
        picked = desk.start_picking("douyin", "DY-1001", wms)

        assert picked.order.status is OrderStatus.PICKING
        assert wms.effects == {TASK: 1}

    @pytest.mark.parametrize(
        "failure",
        [
            CircuitOpen("wms", T0.add(minutes=1)),
            TransientError("wms.create_pick_task", "503"),
        ],
    )
    def test_a_failure_to_retry_keeps_the_saga(
        self,
        unit: UnitOfWork,
        clock: FrozenClock,
        desk: OrderDesk,
        failure: OrderkitError,
    ) -> None:
        with pytest.raises(type(failure)):
            desk.start_picking("douyin", "DY-1001", _Refusing(failure))

        order = stored(unit)
        assert order.review == ()
        assert order.saga is not None
        assert (order.saga.name, order.saga.tasks) == ("pick", (TASK,))
        retried = desk.start_picking("douyin", "DY-1001", FakeWarehouse(clock))
        assert retried.order.status is OrderStatus.PICKING


class TestTwoRegions:
    """Each region's desk and warehouse pick its own locations only."""

    @pytest.fixture
    def south(self, unit: UnitOfWork, clock: FrozenClock) -> OrderDesk:
        """A second desk, at SH-1, with DY-2002 paid and committed there."""
        with unit as uow:
            Ledger(uow.ledger, clock).receive("RETRO-CLOCK", "SH-1", 10)
            uow.commit()
        the_desk = OrderDesk(
            unit, clock, DeskPolicy(locations=["SH-1"]), Fingerprinter(SECRET)
        )
        order = attrs.evolve(
            placed(),
            order_id="DY-2002",
            buyer=Buyer("buyer-7", "韩梅梅", phone="+8613900139000"),
            address=Address("CN", "上海市", "上海市", "浦东新区", "世纪大道 1 号"),
        )
        payment = attrs.evolve(paid(), order_id="DY-2002")
        the_desk.accept(awaiting_payment(order, events=(payment,)))
        return the_desk

    def test_recover_resumes_a_pick_saga_with_its_own_region_only(
        self, unit: UnitOfWork, clock: FrozenClock, desk: OrderDesk, south: OrderDesk
    ) -> None:
        with pytest.raises(TransientError):
            south.start_picking(
                "douyin", "DY-2002", _Refusing(TransientError("wms", "503"))
            )
        north_wms, south_wms = FakeWarehouse(clock), FakeWarehouse(clock)

        north = recover(unit, desk=desk, warehouse=north_wms)

        (stalled,) = north.stalled
        assert isinstance(stalled.error, ConfigurationError)
        assert "SH-1" in str(stalled.error)
        assert north_wms.calls == {}
        assert stalled.saga.name == "pick"
        (finished,) = recover(unit, desk=south, warehouse=south_wms).finished
        assert isinstance(finished, EventRecorded)
        assert finished.order.status is OrderStatus.PICKING
        assert list(south_wms.effects) == ["pick:order:douyin:DY-2002:SH-1"]

    @pytest.mark.usefixtures("south")
    def test_another_regions_desk_refuses_to_start_picking(
        self, unit: UnitOfWork, clock: FrozenClock, desk: OrderDesk
    ) -> None:
        wms = FakeWarehouse(clock)
        with unit as uow:
            before = uow.orders.get("douyin", "DY-2002")

        with pytest.raises(ConfigurationError, match="SH-1"):
            desk.start_picking("douyin", "DY-2002", wms)

        with unit as uow:
            assert uow.orders.get("douyin", "DY-2002") == before
        assert wms.calls == {}


class TestCancelledOncePicking:
    """Picking started, then cancelled: the warehouse has the tasks."""

    def test_the_order_waits_for_a_person_naming_the_task(
        self, unit: UnitOfWork, clock: FrozenClock, desk: OrderDesk
    ) -> None:
        desk.start_picking("douyin", "DY-1001", FakeWarehouse(clock))

        recorded = desk.record("douyin", "DY-1001", cancelled())

        assert recorded.order.status is OrderStatus.CANCELLED
        assert recorded.order.review == ("pick",)
        assert stored(unit) == recorded.order
        assert held_records(unit)[-1]["pick"] == f"void {TASK}"

    def test_its_money_still_goes_back(
        self, unit: UnitOfWork, clock: FrozenClock, desk: OrderDesk
    ) -> None:
        desk.start_picking("douyin", "DY-1001", FakeWarehouse(clock))

        recorded = desk.record("douyin", "DY-1001", cancelled())

        assert [r.amount for r in recorded.refund_due] == [cny("398.00")]
        payments = FakePayments(clock)
        payments.capture("alipay-DY-1001", cny("398.00"), key="capture-1")
        (sent,) = Refunds(unit, clock, payments).send_due()
        assert isinstance(sent, Refunded)
        assert sent.order.review == ("pick",)


def test_a_stored_saga_without_tasks_reads_as_before() -> None:
    converter = make_converter()
    saga = Saga(
        name="refund",
        step="requested",
        key="refund:order:douyin:DY-1001:3",
        started_at=T0,
        amount=cny("398.00"),
        reference="PAY-1",
    )
    written = converter.unstructure(saga)
    written.pop("tasks", None)  # a document stored before sagas named tasks
    assert converter.structure(written, Saga) == saga


def test_a_pick_saga_keeps_its_tasks_in_the_store() -> None:
    converter = make_converter()
    saga = Saga(
        name="pick",
        step="requested",
        key="pick:order:douyin:DY-1001",
        started_at=T0 + dt.timedelta(minutes=1),
        tasks=[TASK],
    )
    assert converter.loads(converter.dumps(saga), Saga) == saga
