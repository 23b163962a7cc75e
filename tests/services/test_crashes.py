"""Crash at every step of every saga, restart from the stores, recover: nothing breaks.

For each operation (accept-and-pay, start picking, ship, refund of a
cancellation, refund of an after-sales case that passed inspection), each
fault point (before and after every store commit and every adapter call)
and a few seeds, the
operation runs on a SQLite file until the injected fault, then the process
"restarts": a new unit of work on the same file, new desk and sagas, and
`recover`. The stores must then hold no partial write, no leaked hold and
no lost outbox message, and the fake provider, carrier and warehouse must
have acted at most once per key; after the caller retries the operation, it must be
done, exactly once.
"""

from __future__ import annotations

import contextlib
import json
import random
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import Self

import attrs
import pendulum
import pytest

from orderkit.adapters.sqlite import SqliteUnitOfWork
from orderkit.dedupe import Fingerprinter, IdempotencyKey
from orderkit.errors import CallTimedOut
from orderkit.integrations import ChannelOrder
from orderkit.inventory import Balance, Hold, HoldState
from orderkit.money import Money
from orderkit.orders import (
    Address,
    AfterSalesCase,
    AuditRecord,
    Buyer,
    Cancelled,
    CaseState,
    Order,
    OrderLine,
    OrderPlaced,
    OrderStatus,
    OutboxMessage,
    ReturnLine,
    approve_case,
    inspect_return,
    order_stream,
    receive_return,
    request_return,
)
from orderkit.ports import (
    AuditLog,
    CursorStore,
    DetectorStore,
    Inbox,
    KeyStore,
    LedgerStore,
    LimitStore,
    OrderStore,
    Outbox,
    UnitOfWork,
)
from orderkit.pricing import ApprovalTiers, Quote
from orderkit.services import (
    AlreadyDone,
    Captured,
    Checkout,
    DeskPolicy,
    Dispatched,
    Ledger,
    OrderDesk,
    Refunded,
    Refunds,
    Shipping,
    Stalled,
    recover,
)
from orderkit.testing import FrozenClock
from orderkit.testing.fakes import FakeCarrier, FakePayments, FakeWarehouse
from orderkit.testing.faults import Fault, FaultPlan, faulty


T0 = pendulum.datetime(2026, 11, 11, 0, 0)
SECRET = b"crash-tests-secret-0123456789"
CH = "douyin"
ORDER = "DY-3001"
PAYMENT = "alipay-3001"
SHIPMENT = "SHIP-DY-3001-1"
STREAM = order_stream(CH, ORDER)
TASK = f"pick:{STREAM}:HZ-1"
SKUS = ("RETRO-CLOCK", "JADE-TEAPOT", "SILK-FAN")
SEEDS = (1, 2, 3)
STOCK = 10
CRASHES = (Fault.TIMEOUT_BEFORE, Fault.REPLY_LOST)  # before / after the call
CASE = "AS-3001"
TIERS = ApprovalTiers.of((Money("100.00", "CNY"), "store_manager"), (None, "finance"))


class FaultyUnit:
    """A unit of work whose `commit` goes through a fault plan.

    `TIMEOUT_BEFORE` fails before the commit (nothing is written),
    `REPLY_LOST` after it (everything is written, and the caller never
    hears): the two sides of a crash at a commit.
    """

    def __init__(self, inner: SqliteUnitOfWork, plan: FaultPlan) -> None:
        self._inner = inner
        self._plan = plan

    @property
    def orders(self) -> OrderStore:
        return self._inner.orders

    @property
    def audit(self) -> AuditLog:
        return self._inner.audit

    @property
    def outbox(self) -> Outbox:
        return self._inner.outbox

    @property
    def inbox(self) -> Inbox:
        return self._inner.inbox

    @property
    def ledger(self) -> LedgerStore:
        return self._inner.ledger

    @property
    def keys(self) -> KeyStore:
        return self._inner.keys

    @property
    def limits(self) -> LimitStore:
        return self._inner.limits

    @property
    def detector(self) -> DetectorStore:
        return self._inner.detector

    @property
    def cursors(self) -> CursorStore:
        return self._inner.cursors

    def __enter__(self) -> Self:
        self._inner.__enter__()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._inner.__exit__(exc_type, exc, tb)

    def commit(self) -> None:
        self._plan.run("uow.commit", self._inner.commit)

    def rollback(self) -> None:
        self._inner.rollback()


@attrs.frozen
class Scenario:
    """One seed's order: which SKUs, how many, at what price."""

    lines: tuple[OrderLine, ...]

    @classmethod
    def of(cls, seed: int) -> Scenario:
        rng = random.Random(seed)  # noqa: S311 - test data, not secrecy
        skus = rng.sample(SKUS, rng.randint(1, len(SKUS)))
        return cls(
            tuple(
                OrderLine(
                    f"L{i}", sku, rng.randint(1, 3), cny(f"{rng.randint(9, 399)}.90")
                )
                for i, sku in enumerate(skus, 1)
            )
        )

    @property
    def total(self) -> Money:
        return sum((line.amount for line in self.lines[1:]), self.lines[0].amount)

    def received(self) -> AfterSalesCase:
        """One unit of the first line, back at the warehouse."""
        first = self.lines[0]
        case = request_return(
            case_id=CASE,
            order_id=ORDER,
            payment_id=PAYMENT,
            lines=[ReturnLine(first.line_id, first.sku, 1)],
            refund_amount=first.unit_price,
            reason="七天无理由退货",
            requester="buyer:buyer-9",
            return_to="HZ-1",
            at=T0.add(days=3),
        )
        case = approve_case(case, "mgr.li", "finance", TIERS, T0.add(days=4))
        return receive_return(case, {}, {}, T0.add(days=6))

    def incoming(self) -> ChannelOrder:
        placed = OrderPlaced(
            order_id=ORDER,
            key=IdempotencyKey(CH, "trade.created", ORDER, "1"),
            occurred_at=T0,
            channel=CH,
            buyer=Buyer("buyer-9", "王芳", phone="+8613700137000"),
            address=Address("CN", "浙江省", "杭州市", "西湖区", "文三路 90 号"),
            lines=self.lines,
        )
        return ChannelOrder(
            placed=placed,
            quote=Quote(ORDER, CH, placed.lines),
            status=OrderStatus.PENDING_PAYMENT,
            channel_status="WAIT_BUYER_PAY",
        )


def cny(amount: str) -> Money:
    return Money(amount, "CNY")


@attrs.define
class Process:
    """One process's objects over the database file; the fakes outlive it."""

    sqlite: SqliteUnitOfWork
    unit: UnitOfWork
    desk: OrderDesk
    checkout: Checkout
    shipping: Shipping
    refunds: Refunds
    warehouse: FakeWarehouse

    @classmethod
    def start(
        cls,
        path: Path,
        clock: FrozenClock,
        payments: FakePayments,
        carrier: FakeCarrier,
        plan: FaultPlan,
        *,
        warehouse: FakeWarehouse,
    ) -> Process:
        sqlite = SqliteUnitOfWork(path)
        unit = FaultyUnit(sqlite, plan)
        desk = OrderDesk(
            unit, clock, DeskPolicy(locations=["HZ-1"]), Fingerprinter(SECRET)
        )
        pay = faulty(payments, plan, methods=["capture", "refund"])
        ship = faulty(carrier, plan, methods=["create_label"])
        return cls(
            sqlite,
            unit,
            desk,
            Checkout(unit, clock, desk, pay),
            Shipping(unit, clock, desk, ship),
            Refunds(unit, clock, pay),
            faulty(warehouse, plan, methods=["create_pick_task"]),
        )


def accept_and_pay(p: Process, scenario: Scenario) -> None:
    p.desk.accept(scenario.incoming())
    outcome = p.checkout.pay(CH, ORDER, PAYMENT, scenario.total)
    assert isinstance(outcome, Captured | AlreadyDone)


def start_picking(p: Process, _scenario: Scenario) -> None:
    with p.unit as uow:
        order = uow.orders.get(CH, ORDER)
    assert order is not None
    # What a caller's retry finds once `recover` has finished the pick.
    if order.status is not OrderStatus.PICKING:
        picked = p.desk.start_picking(CH, ORDER, p.warehouse)
        assert picked.order.status is OrderStatus.PICKING


def ship(p: Process, _scenario: Scenario) -> None:
    outcome = p.shipping.ship(CH, ORDER, SHIPMENT)
    assert isinstance(outcome, Dispatched | AlreadyDone)


def refund(p: Process, _scenario: Scenario) -> None:
    cancel = Cancelled(
        order_id=ORDER,
        key=IdempotencyKey(CH, "trade.cancel", ORDER, "1"),
        occurred_at=T0.add(hours=1),
        reason="买家取消 / the buyer cancelled",
    )
    p.desk.record(CH, ORDER, cancel)
    for outcome in p.refunds.send_due():
        if isinstance(outcome, Stalled):
            raise outcome.error
        assert isinstance(outcome, Refunded)


def return_received(p: Process, scenario: Scenario) -> None:
    p.desk.amend(
        CH,
        ORDER,
        scenario.received(),
        key=IdempotencyKey("erp", "aftersales", CASE, "received"),
        actor="warehouse.chen",
        source="erp",
    )


def aftersales_refund(p: Process, scenario: Scenario) -> None:
    inspected = inspect_return(scenario.received(), passed=True, at=T0.add(days=7))
    p.desk.amend(
        CH,
        ORDER,
        inspected.case,
        key=IdempotencyKey("erp", "aftersales", CASE, "inspected"),
        actor="warehouse.chen",
        source="erp",
    )
    for outcome in p.refunds.send_due():
        if isinstance(outcome, Stalled):
            raise outcome.error
        assert isinstance(outcome, Refunded)


Operation = Callable[[Process, Scenario], None]
# Each operation, what runs before it (without faults), and where it ends.
OPERATIONS: dict[str, tuple[tuple[Operation, ...], Operation, OrderStatus]] = {
    "accept-and-pay": ((), accept_and_pay, OrderStatus.PAID),
    "pick": ((accept_and_pay,), start_picking, OrderStatus.PICKING),
    "ship": ((accept_and_pay,), ship, OrderStatus.SHIPPED),
    "refund": ((accept_and_pay,), refund, OrderStatus.CANCELLED),
    "after-sales refund": (
        (accept_and_pay, ship, return_received),
        aftersales_refund,
        OrderStatus.SHIPPED,
    ),
}


@attrs.define
class World:
    """The database file, the clock and the outside world for one run."""

    path: Path
    scenario: Scenario
    clock: FrozenClock = attrs.field(factory=lambda: FrozenClock(T0))
    payments: FakePayments = attrs.field(init=False)
    carrier: FakeCarrier = attrs.field(init=False)
    warehouse: FakeWarehouse = attrs.field(init=False)

    def __attrs_post_init__(self) -> None:
        self.payments = FakePayments(self.clock)
        self.carrier = FakeCarrier(self.clock)
        self.warehouse = FakeWarehouse(self.clock)

    def process(self, plan: FaultPlan | None = None) -> Process:
        return Process.start(
            self.path,
            self.clock,
            self.payments,
            self.carrier,
            plan or FaultPlan(),
            warehouse=self.warehouse,
        )

    def prepare(self, before: tuple[Operation, ...]) -> None:
        p = self.process()
        with p.unit as uow:
            ledger = Ledger(uow.ledger, self.clock)
            for sku in SKUS:
                ledger.receive(sku, "HZ-1", STOCK)
            uow.commit()
        for step in before:
            step(p, self.scenario)
        p.sqlite.close()


def violations(world: World, *, done: OrderStatus | None) -> Counter[str]:
    """What the stores and the fakes break; `done`: the status it must end in."""
    found: Counter[str] = Counter()
    p = world.process()
    with p.unit as uow:
        order = uow.orders.get(CH, ORDER)
        records = list(uow.audit.records(CH, ORDER))
        messages = {m.message_id: m for m in uow.outbox.unsent(limit=10_000)}
        holds = list(uow.ledger.holds(owner=STREAM))
        balances = {
            b.sku: b
            for sku in SKUS
            for b in uow.ledger.balances(world.clock.now(), sku=sku)
        }
    p.sqlite.close()
    if order is None:
        found["partial write"] += bool(records or holds)
        found["not finished"] += done is not None
        return found
    # Every stored version has its audit record, and no record runs ahead.
    found["partial write"] += [r.version for r in records] != list(
        range(1, order.version + 1)
    )
    found["hold leaked"] += _holds_leaked(order, holds, balances)
    found["effect twice"] += _effects_twice(world, order)
    found["message lost"] += _messages_lost(order, records, messages, balances)
    found["saga left"] += order.saga is not None
    # Picking, the warehouse has the order's one task: all its stock is at HZ-1.
    picking = order.status is OrderStatus.PICKING
    found["not finished"] += picking and set(world.warehouse.tasks) != {TASK}
    if done is not None:
        found["not finished"] += order.status is not done
        found["not finished"] += any(
            c.inspection_passed and c.state is not CaseState.REFUNDED
            for c in order.after_sales
        )
    return found


def _restocked(order: Order) -> Counter[str]:
    """Units back on hand: every case whose inspection passed restocked its lines."""
    back = Counter[str]()
    for case in order.after_sales:
        if case.inspection_passed:
            for line in case.lines:
                back[line.sku] += line.quantity
    return back


def _holds_leaked(order: Order, holds: list[Hold], balances: dict[str, Balance]) -> int:
    wanted = Counter[str]()
    for line in order.lines:
        wanted[line.sku] += line.quantity
    back = _restocked(order)
    live = Counter[str]()
    unshipped = Counter[str]()
    shipped = Counter[str]()
    for hold in holds:
        if hold.state is HoldState.LIVE:
            live[hold.sku] += hold.quantity
        unshipped[hold.sku] += hold.committed - hold.shipped
        shipped[hold.sku] += hold.shipped
    status = order.status
    if status is OrderStatus.PENDING_PAYMENT:
        expected = (wanted, Counter[str](), Counter[str]())
    elif status in {OrderStatus.PAID, OrderStatus.PICKING}:
        expected = (Counter[str](), wanted, Counter[str]())
    elif status is OrderStatus.SHIPPED:
        expected = (Counter[str](), Counter[str](), wanted)
    else:  # cancelled or closed: everything given back
        expected = (Counter[str](), Counter[str](), Counter[str]())
    leaked = (live, unshipped, shipped) != expected
    for sku in SKUS:
        b = balances[sku]
        leaked |= (b.reserved, b.allocated, b.on_hand) != (
            expected[0][sku],
            expected[1][sku],
            STOCK - expected[2][sku] + back[sku],
        )
    return int(leaked)


def _effects_twice(world: World, order: Order) -> int:
    twice = any(n > 1 for n in world.payments.effects.values())
    twice |= any(n > 1 for n in world.carrier.effects.values())
    # One capture key and at most one refund key and one label per order.
    twice |= sum(world.payments.effects.values()) > 2
    twice |= len(world.carrier.labels) > 1
    twice |= any(n > 1 for n in world.warehouse.effects.values())
    # The money the provider holds is what the order says it should.
    held = world.payments.captured(PAYMENT)
    if order.status in {OrderStatus.CANCELLED, OrderStatus.CLOSED}:
        twice |= held not in {None, cny("0.00")} and order.saga is None
    elif order.payments:
        ledger = order.payment_ledger
        refunded = cny("0.00") if ledger is None else ledger.refunded
        twice |= held != order.payments[0].amount - refunded
    return int(twice)


def _messages_lost(
    order: Order,
    records: list[AuditRecord],
    messages: dict[str, OutboxMessage],
    balances: dict[str, Balance],
) -> int:
    lost = False
    for record in records:
        if record.from_status is not record.to_status:
            lost |= f"milestone:{STREAM}:{record.to_status}" not in messages
        if record.event_type == "Cancelled" and order.payments:
            lost |= f"refund:{STREAM}:{record.version}" not in messages
    for case in order.after_sales:
        if case.inspection_passed:
            lost |= f"refund:{STREAM}:case:{case.case_id}" not in messages
    # The channels' last word on each SKU is what the ledger holds now.
    last: dict[str, int] = {}
    for message in messages.values():  # in the order they were added
        if message.topic == "sellable":
            body = json.loads(message.payload)
            last[body["sku"]] = body["sellable"]
    for line in order.lines:
        lost |= last.get(line.sku) != balances[line.sku].sellable()
    return int(lost)


def crash_points(tmp_path: Path, name: str, seed: int) -> int:
    """How many fault points the operation has: its commits and adapter calls."""
    before, operation, _ = OPERATIONS[name]
    world = World(tmp_path / f"trace-{name}-{seed}.db", Scenario.of(seed))
    world.prepare(before)
    plan = FaultPlan()
    p = world.process(plan)
    operation(p, world.scenario)
    p.sqlite.close()
    return len(plan.calls)


def run_crash(
    tmp_path: Path, name: str, seed: int, call: int, fault: Fault
) -> Counter[str]:
    """Crash at one point, restart, recover, check; retry, check it is done."""
    before, operation, done = OPERATIONS[name]
    world = World(tmp_path / f"{name}-{seed}-{call}-{fault}.db", Scenario.of(seed))
    world.prepare(before)
    plan = FaultPlan(script=[Fault.NONE] * call + [fault])
    p = world.process(plan)
    found: Counter[str] = Counter()
    with contextlib.suppress(CallTimedOut):  # the crash the plan injected
        operation(p, world.scenario)
    found["fault missed"] += len(plan.injected) != 1
    p.sqlite.close()  # the crash: whatever was not committed is gone
    world.clock.advance(seconds=30)
    restarted = world.process()
    recovery = recover(
        restarted.unit,
        checkout=restarted.checkout,
        shipping=restarted.shipping,
        refunds=restarted.refunds,
        desk=restarted.desk,
        warehouse=restarted.warehouse,
    )
    restarted.sqlite.close()
    found["saga left"] += len(recovery.stalled)
    found += violations(world, done=None)
    # The caller heard of a failure, so it tries again: it must finish once.
    retry = world.process()
    operation(retry, world.scenario)
    retry.sqlite.close()
    found += violations(world, done=done)
    return found


class TestCrashMatrix:
    """Every operation, crashed at every fault point, recovers whole."""

    @pytest.mark.parametrize("name", list(OPERATIONS))
    def test_crash_at_every_point(
        self, tmp_path: Path, name: str, crash_tally: Counter[str]
    ) -> None:
        found: Counter[str] = Counter()
        crash_tally["seeds"] = len(SEEDS)
        for seed in SEEDS:
            calls = crash_points(tmp_path, name, seed)
            if seed == SEEDS[0]:
                crash_tally[f"points:{name}"] = 2 * calls
            for call in range(calls):
                for fault in CRASHES:
                    found += run_crash(tmp_path, name, seed, call, fault)
                    crash_tally["runs"] += 1
        crash_tally.update(found)
        assert found == Counter()

    def test_the_matrix_reaches_commits_and_adapter_calls(self, tmp_path: Path) -> None:
        world = World(tmp_path / "reach.db", Scenario.of(SEEDS[0]))
        world.prepare((accept_and_pay,))
        plan = FaultPlan()
        p = world.process(plan)
        ship(p, world.scenario)
        p.sqlite.close()
        assert [c.operation for c in plan.calls] == [
            "uow.commit",  # the saga's step, before the carrier is asked
            "FakeCarrier.create_label",
            "uow.commit",  # PickingStarted
            "uow.commit",  # Shipped
            "uow.commit",  # the saga ends
        ]


class TestIndefiniteOutcomes:
    """A call that did its work and then timed out is retried under its key."""

    def paying(self, tmp_path: Path, script: list[Fault]) -> tuple[World, Process]:
        world = World(tmp_path / "indefinite.db", Scenario.of(7))
        world.prepare(())
        clean = world.process()
        clean.desk.accept(world.scenario.incoming())
        clean.sqlite.close()
        return world, world.process(FaultPlan(script=script))

    def test_a_commit_that_lands_then_times_out_is_not_redone(
        self, tmp_path: Path
    ) -> None:
        # Calls: saga commit, capture, PaymentCaptured commit, saga-end commit.
        world, p = self.paying(
            tmp_path, [Fault.NONE, Fault.NONE, Fault.NONE, Fault.REPLY_LOST]
        )
        with pytest.raises(CallTimedOut):
            p.checkout.pay(CH, ORDER, PAYMENT, world.scenario.total)
        again = p.checkout.pay(CH, ORDER, PAYMENT, world.scenario.total)
        assert isinstance(again, AlreadyDone)
        assert again.order.status is OrderStatus.PAID
        assert again.order.saga is None
        assert list(world.payments.effects.values()) == [1]
        p.sqlite.close()
        assert violations(world, done=OrderStatus.PAID) == Counter()

    def test_a_saga_step_that_lands_then_times_out_is_resumed(
        self, tmp_path: Path
    ) -> None:
        world, p = self.paying(tmp_path, [Fault.REPLY_LOST])
        with pytest.raises(CallTimedOut):
            p.checkout.pay(CH, ORDER, PAYMENT, world.scenario.total)
        assert not world.payments.calls
        again = p.checkout.pay(CH, ORDER, PAYMENT, world.scenario.total)
        assert isinstance(again, Captured)
        assert list(world.payments.effects.values()) == [1]
        p.sqlite.close()

    def test_a_capture_that_lands_then_times_out_is_never_reported_done_early(
        self, tmp_path: Path
    ) -> None:
        world, p = self.paying(tmp_path, [Fault.NONE, Fault.REPLY_LOST])
        with pytest.raises(CallTimedOut):
            p.checkout.pay(CH, ORDER, PAYMENT, world.scenario.total)
        with p.unit as uow:
            order = uow.orders.get(CH, ORDER)
        assert order is not None
        # The money moved, but the order does not say so until it is recorded.
        assert world.payments.captured(PAYMENT) == world.scenario.total
        assert order.status is OrderStatus.PENDING_PAYMENT
        assert order.saga is not None
        again = p.checkout.pay(CH, ORDER, PAYMENT, world.scenario.total)
        assert isinstance(again, Captured)
        assert again.transaction == world.payments.transactions[0]
        assert world.payments.calls == {again.transaction.key.event_id: 2}
        assert list(world.payments.effects.values()) == [1]
        p.sqlite.close()
        assert violations(world, done=OrderStatus.PAID) == Counter()

    def test_a_capture_that_timed_out_before_it_ran_runs_once(
        self, tmp_path: Path
    ) -> None:
        world, p = self.paying(tmp_path, [Fault.NONE, Fault.TIMEOUT_BEFORE])
        with pytest.raises(CallTimedOut):
            p.checkout.pay(CH, ORDER, PAYMENT, world.scenario.total)
        assert world.payments.captured(PAYMENT) is None
        again = p.checkout.pay(CH, ORDER, PAYMENT, world.scenario.total)
        assert isinstance(again, Captured)
        assert list(world.payments.effects.values()) == [1]
        p.sqlite.close()
