"""`check_desk_laws`: good units pass, each kind of broken unit is named.

A host runs `check_desk_laws` against its own unit of work (its order
store, audit log, outbox and ledger on its own database). orderkit's
memory and SQLite units must pass it, and it must catch a unit that gets
one thing wrong, naming the law: each broken unit below wraps a memory
unit and breaks one store the way a real backend could.
"""

from __future__ import annotations

import functools
import itertools
from collections.abc import Callable, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any, Self, cast

import attrs
import pytest
from hypothesis import given, settings
from tests.testing._desk_steps import CHANNEL_EDITS, PRICE_CHANGES

from orderkit.adapters.memory import MemoryUnitOfWork
from orderkit.adapters.sqlite import SqliteUnitOfWork
from orderkit.errors import ValidationError
from orderkit.inventory import Hold, MovementKind, Plan, Receipt
from orderkit.orders import AuditRecord, CaseState, Order, OrderStatus
from orderkit.orders._messages import OutboxMessage
from orderkit.ports import UnitOfWork
from orderkit.pricing import ChangeState
from orderkit.testing import (
    DeskAction,
    DeskLaw,
    DeskOperation,
    LawBroken,
    check_desk_laws,
)
from orderkit.testing import strategies as ost


# Runs per unit, after the suite's hypothesis profile: 5 in CI, 10 by
# default, 100 for a soak (`HYPOTHESIS_PROFILE=thorough`).
RUNS = max(4, settings().max_examples // 10)
# Drawn lists of steps per unit: 10 in CI, 20 by default.
EXAMPLES = max(10, settings().max_examples // 5)
D = DeskOperation
A = DeskAction


# --------------------------------------------------------------------------
# Units that keep the laws


class TestGoodUnits:
    """orderkit's own units keep every law, in memory and on SQLite."""

    def test_memory_unit(self) -> None:
        check_desk_laws(MemoryUnitOfWork, runs=RUNS)

    def test_sqlite_unit_in_memory(self) -> None:
        check_desk_laws(lambda: SqliteUnitOfWork(":memory:"), runs=RUNS)

    def test_sqlite_unit_on_a_file(self, tmp_path: Path) -> None:
        numbers = itertools.count()

        def make() -> SqliteUnitOfWork:
            return SqliteUnitOfWork(tmp_path / f"run-{next(numbers)}.db")

        check_desk_laws(make, runs=max(1, RUNS // 2), seed=100)

    def test_each_run_closes_its_unit(self) -> None:
        made: list[_Closing] = []

        def make() -> UnitOfWork:
            made.append(_Closing())
            return cast("UnitOfWork", made[-1])

        check_desk_laws(make, runs=2, steps=5)

        assert [unit.closed for unit in made] == [True, True]

    def test_given_steps(self) -> None:
        check_desk_laws(MemoryUnitOfWork, operations=_DUPLICATE_HELD)

    def test_money_back_steps_and_their_retries(self) -> None:
        # Steps done so far: goods in, accept, pay, pick, ship, the case
        # (#5), the channel's refund (#6): the retries repeat those two.
        steps = [
            *_CASE_REFUNDED,
            D.on(A.CHANNEL_REFUND),
            D.on(A.REPEAT, 5),
            D.on(A.REPEAT, 6),
        ]
        check_desk_laws(lambda: SqliteUnitOfWork(":memory:"), operations=steps)

    def test_a_retry_the_reference_changes_on(self) -> None:
        # The second refund is beyond the payment: the order is held; a
        # person releases it; the same refund again holds it again, in the
        # reference too, so the unit must do the same.
        steps = [
            D.receive("TEA", "W1", 5),
            D.accept("douyin", "DY-1", "buyer-1", [("TEA", 1)], paid=True),
            D.on(A.CHANNEL_REFUND),
            D.on(A.CHANNEL_REFUND),
            D.on(A.RELEASE),
            D.on(A.REPEAT, 3),
        ]
        check_desk_laws(lambda: SqliteUnitOfWork(":memory:"), operations=steps)

    def test_price_change_steps_and_their_retries(self, tmp_path: Path) -> None:
        path = tmp_path / "run.db"
        check_desk_laws(lambda: SqliteUnitOfWork(path), operations=PRICE_CHANGES)

        # The run closed its unit; what it left is read back from the file.
        unit = SqliteUnitOfWork(path)
        try:
            with unit as uow:
                changes = {
                    order.order_id: [
                        (c.line_id, c.state, c.required_role)
                        for c in order.price_changes
                    ]
                    for order in uow.orders.orders(limit=10)
                }
                trail = [r.event_type for r in uow.audit.records("douyin", "DY-2")]
        finally:
            unit.close()
        assert changes == {
            "DY-1": [("L1", ChangeState.APPROVED, "support")],
            "DY-2": [
                ("L1", ChangeState.APPROVED, "store_manager"),
                ("L2", ChangeState.REJECTED, "finance"),
                ("L1", ChangeState.EXPIRED, "store_manager"),
            ],
        }
        assert trail.count("PriceChanged") == 1
        assert trail.count("PriceChangeRecorded") == 5

    def test_a_pending_change_on_an_order_cancelled_since(self) -> None:
        # Its approval is refused (the same typed error on both desks, and
        # nothing written); it is rejected instead; no new one is asked.
        steps = [
            D.receive("MUG", "W1", 5),
            D.accept("douyin", "DY-1", "buyer-1", [("MUG", 2)]),
            D.on(A.PRICE_CHANGE),
            D.on(A.CANCEL),
            D.on(A.APPROVE_PRICE_CHANGE),
            D.on(A.REJECT_PRICE_CHANGE),
            D.on(A.PRICE_CHANGE),
        ]
        check_desk_laws(lambda: SqliteUnitOfWork(":memory:"), operations=steps)

    def test_an_order_paid_twice_and_its_retry(self) -> None:
        check_desk_laws(lambda: SqliteUnitOfWork(":memory:"), operations=_PAID_TWICE)

    def test_orders_edited_on_their_channel(self) -> None:
        made: list[MemoryUnitOfWork] = []

        def make() -> MemoryUnitOfWork:
            made.append(MemoryUnitOfWork())
            return made[-1]

        check_desk_laws(make, operations=CHANNEL_EDITS)
        check_desk_laws(lambda: SqliteUnitOfWork(":memory:"), operations=CHANNEL_EDITS)

        picked, cancelled = sorted(_orders(made[0]), key=lambda o: o.channel)
        assert (picked.status, picked.review) == (OrderStatus.PICKING, ())
        assert (cancelled.status, cancelled.review) == (OrderStatus.CANCELLED, ())
        with made[0] as uow:
            told = [
                (c.field, c.old, c.new)
                for order in (picked, cancelled)
                for r in uow.audit.records(order.channel, order.order_id)
                if r.event_type == "HeldForReview" and r.source == order.channel
                for c in r.changes
            ]
        assert told == [
            ("review", "", "edited"),
            ("lines[L1].unit_price", "30.00 CNY", "24.00 CNY"),
            ("review", "", "edited"),
            ("lines[L1].unit_price", "30.00 CNY", "24.00 CNY"),
        ]

    def test_drawn_runs_send_money_back(self) -> None:
        made: list[MemoryUnitOfWork] = []

        def make() -> MemoryUnitOfWork:
            made.append(MemoryUnitOfWork())
            return made[-1]

        check_desk_laws(make, runs=4)

        stored = [o for unit in made for o in _orders(unit)]
        cases = [c for o in stored for c in o.after_sales]
        refunds = [
            r.refund_id
            for o in stored
            if o.payment_ledger is not None
            for r in o.payment_ledger.refunds
        ]
        assert any(c.state is CaseState.REFUNDED for c in cases)
        assert any(c.state is CaseState.INSPECTED for c in cases)
        assert any(":case:" in r for r in refunds)
        assert any(r.startswith("CR-") for r in refunds)

    def test_drawn_runs_change_prices(self) -> None:
        made: list[MemoryUnitOfWork] = []

        def make() -> MemoryUnitOfWork:
            made.append(MemoryUnitOfWork())
            return made[-1]

        # Four runs whose draws meet every end of a price change.
        check_desk_laws(make, seed=3, runs=4)

        changes = [c for unit in made for o in _orders(unit) for c in o.price_changes]
        ends = {
            (c.state, c.required_role == "support")
            for c in changes
            if c.state is not ChangeState.PENDING
        }
        assert ends >= {
            (ChangeState.APPROVED, True),  # within the agent's tier, at once
            (ChangeState.APPROVED, False),  # by a manager, later
            (ChangeState.REJECTED, False),
            (ChangeState.EXPIRED, False),
        }


class TestDrawnByHypothesis:
    """`desk_operations` draws steps a unit runs, and shrinks a failure."""

    @settings(max_examples=EXAMPLES)
    @given(ost.desk_operations())
    def test_memory_unit(self, steps: list[DeskOperation]) -> None:
        check_desk_laws(MemoryUnitOfWork, operations=steps)

    @settings(max_examples=EXAMPLES)
    @given(ost.desk_operations(max_size=25))
    def test_sqlite_unit(self, steps: list[DeskOperation]) -> None:
        check_desk_laws(lambda: SqliteUnitOfWork(":memory:"), operations=steps)

    @settings(max_examples=EXAMPLES)
    @given(ost.desk_operations(max_size=12))
    def test_goods_come_in_first(self, steps: list[DeskOperation]) -> None:
        assert 1 <= len(steps) <= 12
        assert steps[0].action is A.RECEIVE


def _orders(unit: UnitOfWork) -> Sequence[Order]:
    with unit as uow:
        return uow.orders.orders(limit=1000)


# --------------------------------------------------------------------------
# Units that break a law


class _Store:
    """A store of a memory unit, every call passed on."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


class _Unit:
    """A memory unit of work; subclasses wrap one of its stores."""

    def __init__(self) -> None:
        self.inner = MemoryUnitOfWork()

    def __enter__(self) -> Self:
        self.inner.__enter__()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.inner.__exit__(exc_type, exc, tb)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


class _Closing(_Unit):
    """A good unit that says whether it was closed."""

    closed = False

    def close(self) -> None:
        self.closed = True


class _SkipsPayments(_Store):
    def append(self, channel: str, records: Sequence[AuditRecord]) -> None:
        self.inner.append(
            channel, [r for r in records if r.event_type != "PaymentCaptured"]
        )


class DropsPaymentRecords(_Unit):
    """Its audit log skips the records of payments (a filter on event types)."""

    @property
    def audit(self) -> Any:
        return _SkipsPayments(self.inner.audit)


class _LosesReview(_Store):
    def save(self, order: Order, expected_version: int | None) -> None:
        self.inner.save(attrs.evolve(order, review=()), expected_version)


class LosesReview(_Unit):
    """Its order store saves orders without their review reasons (a column left out)."""

    @property
    def orders(self) -> Any:
        return _LosesReview(self.inner.orders)


class _HidesCancelled(_Store):
    def get(self, channel: str, order_id: str) -> Order | None:
        found: Order | None = self.inner.get(channel, order_id)
        return None if found and found.status is OrderStatus.CANCELLED else found

    def orders(self, **query: Any) -> Sequence[Order]:
        page = self.inner.orders(**query)
        return [o for o in page if o.status is not OrderStatus.CANCELLED]


class HidesCancelled(_Unit):
    """Its order store reads cancelled orders as deleted (a soft-delete filter)."""

    @property
    def orders(self) -> Any:
        return _HidesCancelled(self.inner.orders)


class _NoRefunds(_Store):
    def add(self, messages: Sequence[OutboxMessage]) -> None:
        self.inner.add([m for m in messages if m.topic != "refund"])


class DropsRefundMessages(_Unit):
    """Its outbox drops the messages of a topic it was not told of."""

    @property
    def outbox(self) -> Any:
        return _NoRefunds(self.inner.outbox)


class _ListsLiveHolds(_Store):
    def holds(self, **query: Any) -> Sequence[Hold]:
        if query.get("state") is not None:
            return self.inner.holds(**query)  # type: ignore[no-any-return]
        return [h for h in self.inner.holds(**query) if h.resolved_at is None]


class ForgetsResolvedHolds(_Unit):
    """Its ledger lists only live holds when asked for all of them."""

    @property
    def ledger(self) -> Any:
        return _ListsLiveHolds(self.inner.ledger)


class _CommitsTwice(_Store):
    def apply(self, plan: Plan) -> Receipt:
        kept = tuple(
            attrs.evolve(m, reserved=0) if m.kind is MovementKind.COMMIT else m
            for m in plan.movements
        )
        return self.inner.apply(attrs.evolve(plan, movements=kept))  # type: ignore[no-any-return]


class Oversells(_Unit):
    """Its ledger commits a hold without taking its units out of reserved."""

    @property
    def ledger(self) -> Any:
        return _CommitsTwice(self.inner.ledger)


class _AppliesAgain(_Store):
    def apply(self, plan: Plan) -> Receipt:
        if self.inner.receipt(plan.key) is not None:
            plan = attrs.evolve(plan, key=f"{plan.key}+again")
        return self.inner.apply(plan)  # type: ignore[no-any-return]


class IgnoresKeys(_Unit):
    """Its ledger applies a plan again under a key it has applied."""

    @property
    def ledger(self) -> Any:
        return _AppliesAgain(self.inner.ledger)


class _NoReviewColumn(_Store):
    def save(self, order: Order, expected_version: int | None) -> None:
        if order.review:
            raise KeyError("review")
        self.inner.save(order, expected_version)


class CrashesOnHeldOrders(_Unit):
    """Its order store's row mapper raises `KeyError` on an order held for review."""

    @property
    def orders(self) -> Any:
        return _NoReviewColumn(self.inner.orders)


class _NoQueue(_Store):
    def pending(self, *, limit: int = 1000) -> Sequence[object]:
        return self.inner.pending(limit=limit)[:0]  # type: ignore[no-any-return]


class EmptyReviewQueue(_Unit):
    """Its detector's review queue lists nothing."""

    @property
    def detector(self) -> Any:
        return _NoQueue(self.inner.detector)


class _LosesCases(_Store):
    def save(self, order: Order, expected_version: int | None) -> None:
        self.inner.save(attrs.evolve(order, after_sales=()), expected_version)


class LosesCases(_Unit):
    """Its order store saves orders without their after-sales cases."""

    @property
    def orders(self) -> Any:
        return _LosesCases(self.inner.orders)


class _SkipsCases(_Store):
    def append(self, channel: str, records: Sequence[AuditRecord]) -> None:
        self.inner.append(
            channel, [r for r in records if r.event_type != "AfterSalesRecorded"]
        )


class DropsCaseRecords(_Unit):
    """Its audit log skips the records of after-sales cases."""

    @property
    def audit(self) -> Any:
        return _SkipsCases(self.inner.audit)


class _FirstLedger(_Store):
    def save(self, order: Order, expected_version: int | None) -> None:
        stored = self.inner.get(order.channel, order.order_id)
        if stored is not None and stored.payment_ledger is not None:
            order = attrs.evolve(order, payment_ledger=stored.payment_ledger)
        self.inner.save(order, expected_version)


class KeepsFirstPaymentLedger(_Unit):
    """Its order store writes an order's payment ledger once, never updating it."""

    @property
    def orders(self) -> Any:
        return _FirstLedger(self.inner.orders)


class _LosesPriceChanges(_Store):
    def save(self, order: Order, expected_version: int | None) -> None:
        self.inner.save(attrs.evolve(order, price_changes=()), expected_version)


class LosesPriceChanges(_Unit):
    """Its order store saves repriced lines, but not the price changes behind them."""

    @property
    def orders(self) -> Any:
        return _LosesPriceChanges(self.inner.orders)


class _SkipsPriceChanges(_Store):
    def append(self, channel: str, records: Sequence[AuditRecord]) -> None:
        self.inner.append(
            channel, [r for r in records if not r.event_type.startswith("PriceChange")]
        )


class DropsPriceChangeRecords(_Unit):
    """Its audit log skips the records of price changes, requested or applied."""

    @property
    def audit(self) -> Any:
        return _SkipsPriceChanges(self.inner.audit)


# TEA x1 a tenth off moves 3.00, the agent's own tier: applied at once.
# MUG x2 moves 9.00: pending, for the store manager.
_APPLIED_AT_ONCE = [
    D.receive("TEA", "W1", 5),
    D.accept("douyin", "DY-1", "buyer-1", [("TEA", 1)]),
    D.on(A.PRICE_CHANGE),
]
_PRICE_APPROVED = [
    D.receive("MUG", "W1", 5),
    D.accept("douyin", "DY-1", "buyer-1", [("MUG", 2)]),
    D.on(A.PRICE_CHANGE),
    D.on(A.APPROVE_PRICE_CHANGE),
]
_DUPLICATE_HELD = [
    D.receive("TEA", "W1", 5),
    D.accept("douyin", "DY-1", "buyer-1", [("TEA", 1)]),
    D.accept("shopify", "SH-2", "buyer-1", [("TEA", 1)]),
]
_PAID_THEN_CANCELLED = [
    D.receive("TEA", "W1", 5),
    D.accept("douyin", "DY-1", "buyer-1", [("TEA", 2)]),
    D.on(A.PAY),
    D.on(A.CANCEL),
]
_CASE_REFUNDED = [
    D.receive("TEA", "W1", 5),
    D.accept("douyin", "DY-1", "buyer-1", [("TEA", 2)]),
    D.on(A.PAY),
    D.on(A.PICK),
    D.on(A.SHIP),
    D.on(A.CASE),
    D.timer(A.REFUND),
]
_CHANNEL_REFUNDS = [
    D.receive("TEA", "W1", 5),
    D.accept("douyin", "DY-1", "buyer-1", [("TEA", 2)], paid=True),
    D.on(A.CHANNEL_REFUND),
    D.on(A.CHANNEL_REFUND),
]

# Paid by the channel, then a second payment: the order waits for a person,
# is released, is cancelled and sends back all it holds.
_PAID_TWICE = [
    D.receive("TEA", "W1", 5),
    D.accept("douyin", "DY-1", "buyer-1", [("TEA", 2)], paid=True),
    D.on(A.NOTICE_PAID_AGAIN),
    D.on(A.REPEAT, 2),
    D.on(A.RELEASE),
    D.on(A.CANCEL),
    D.timer(A.REFUND),
]


def _broken(
    unit: Callable[[], UnitOfWork], operations: Sequence[DeskOperation] | None = None
) -> LawBroken:
    check = (
        functools.partial(check_desk_laws, unit, runs=3)
        if operations is None
        else functools.partial(check_desk_laws, unit, operations=operations)
    )
    with pytest.raises(LawBroken) as caught:
        check()
    return caught.value


class TestBrokenUnits:
    """Each broken unit breaks the law it breaks, whether steps are drawn or given."""

    @pytest.mark.parametrize(
        ("unit", "law", "operations"),
        [
            (DropsPaymentRecords, DeskLaw.AUDIT, _PAID_THEN_CANCELLED),
            (LosesReview, DeskLaw.ORDERS, _DUPLICATE_HELD),
            # The second payment's "overpaid" is what it loses here.
            (LosesReview, DeskLaw.ORDERS, _PAID_TWICE),
            (HidesCancelled, DeskLaw.FORWARD_ONLY, _PAID_THEN_CANCELLED),
            (DropsRefundMessages, DeskLaw.OUTBOX, _PAID_THEN_CANCELLED),
            (ForgetsResolvedHolds, DeskLaw.STOCK, _PAID_THEN_CANCELLED),
            (EmptyReviewQueue, DeskLaw.REVIEW, _DUPLICATE_HELD),
            (CrashesOnHeldOrders, DeskLaw.ANSWERS, _DUPLICATE_HELD),
            (
                Oversells,
                DeskLaw.NO_OVERSELL,
                [
                    D.receive("MUG", "W1", 2),
                    D.accept("douyin", "DY-1", "buyer-1", [("MUG", 2)]),
                    D.on(A.PAY),
                ],
            ),
            (
                IgnoresKeys,
                DeskLaw.IDEMPOTENT_STEPS,
                [D.receive("TEA", "W1", 5), D.on(A.REPEAT)],
            ),
            (LosesCases, DeskLaw.ORDERS, _CASE_REFUNDED),
            (DropsCaseRecords, DeskLaw.AUDIT, _CASE_REFUNDED),
            (KeepsFirstPaymentLedger, DeskLaw.ORDERS, _CHANNEL_REFUNDS),
            (LosesPriceChanges, DeskLaw.ORDERS, _APPLIED_AT_ONCE),
            (LosesPriceChanges, DeskLaw.ORDERS, _PRICE_APPROVED),
            (DropsPriceChangeRecords, DeskLaw.AUDIT, _APPLIED_AT_ONCE),
            (DropsPriceChangeRecords, DeskLaw.AUDIT, _PRICE_APPROVED),
        ],
    )
    def test_given_steps(
        self,
        unit: Callable[[], UnitOfWork],
        law: DeskLaw,
        operations: list[DeskOperation],
    ) -> None:
        broken = _broken(unit, operations)

        assert broken.law is law
        assert broken.seed is None
        # Each step as given, a step on an order naming it: "pay #0 (douyin:DY-1)".
        assert len(broken.steps) <= len(operations)
        assert all(map(str.startswith, broken.steps, map(str, operations)))
        assert f"law {str(law)!r} broken at step {len(broken.steps)}:" in str(broken)

    @pytest.mark.parametrize(
        ("unit", "laws"),
        [
            (DropsPaymentRecords, {DeskLaw.AUDIT}),
            (LosesReview, {DeskLaw.ORDERS}),
            (HidesCancelled, {DeskLaw.FORWARD_ONLY}),
            (DropsRefundMessages, {DeskLaw.OUTBOX}),
            (ForgetsResolvedHolds, {DeskLaw.STOCK}),
            (EmptyReviewQueue, {DeskLaw.REVIEW}),
            (CrashesOnHeldOrders, {DeskLaw.ANSWERS}),
            # While stock is left over, the units a commit keeps reserved
            # show first in the sellable figure the channels are told.
            (Oversells, {DeskLaw.NO_OVERSELL, DeskLaw.OUTBOX}),
            (IgnoresKeys, {DeskLaw.IDEMPOTENT_STEPS}),
            (LosesCases, {DeskLaw.ORDERS}),
            (DropsCaseRecords, {DeskLaw.AUDIT}),
            # A refund its stale ledger refuses may show first in the answer
            # of the saga that sends it (stalled, where the reference's ended).
            (KeepsFirstPaymentLedger, {DeskLaw.ORDERS, DeskLaw.ANSWERS}),
            (LosesPriceChanges, {DeskLaw.ORDERS}),
            (DropsPriceChangeRecords, {DeskLaw.AUDIT}),
        ],
    )
    def test_drawn_steps(
        self, unit: Callable[[], UnitOfWork], laws: set[DeskLaw]
    ) -> None:
        assert _broken(unit).law in laws


class TestArguments:
    """Bad arguments and steps are refused with `ValidationError`, naming them."""

    @pytest.mark.parametrize(
        ("call", "field"),
        [
            (lambda: check_desk_laws(MemoryUnitOfWork, runs=0), "runs"),
            (lambda: check_desk_laws(MemoryUnitOfWork, steps=0), "steps"),
            (lambda: check_desk_laws("unit"), "make_unit"),  # type: ignore[arg-type]
            (
                lambda: check_desk_laws(MemoryUnitOfWork, operations=["pay"]),  # type: ignore[list-item]
                "operations[0]",
            ),
            (lambda: D.receive("TEA", "W9", 1), "location"),
            (lambda: D.receive("SPOON", "W1", 1), "sku"),
            pytest.param(
                lambda: D.accept("douyin", "DY-1", "b", [("TEA", True)]),
                "lines[0]",
                id="a-bool-quantity",
            ),
            pytest.param(lambda: D.on(A.RECEIVE), "action", id="on-not-an-order-step"),
            pytest.param(lambda: D.timer(A.PAY), "action", id="timer-not-a-timer"),
            pytest.param(
                lambda: check_desk_laws(MemoryUnitOfWork, operations=[], runs=0),
                "runs",
                id="runs-with-steps-given",
            ),
            (lambda: D.receive("TEA", "W1", 0), "quantity"),
            (lambda: D.accept("douyin", "DY-1", "b", [("SPOON", 1)]), "lines[0]"),
            (lambda: D.accept("douyin", "DY-1", "b", []), "lines"),
            (lambda: D.on(A.PAY, -1), "pick"),
            (lambda: D.on("bogus"), "action"),
            (lambda: D.wait(0), "minutes"),
        ],
    )
    def test_refused(self, call: Callable[[], object], field: str) -> None:
        with pytest.raises(ValidationError) as caught:
            call()

        assert caught.value.field == field

    def test_steps_read_as_what_they_do(self) -> None:
        assert [str(op) for op in _PAID_THEN_CANCELLED] == [
            "receive TEA@W1 5",
            "accept douyin:DY-1 from buyer-1: TEA 2",
            "pay #0",
            "cancel #0",
        ]
        assert [str(op) for op in _CASE_REFUNDED[-2:]] == [
            "case #0",
            "send the refunds due",
        ]
        assert str(D.on(A.CHANNEL_REFUND, 3)) == "channel refund #3"
        assert str(D.on(A.EXPIRE_PRICE_CHANGE, 2)) == "expire price change #2"

    def test_a_price_step_reads_as_what_it_did(self) -> None:
        # Which change, which line, from what price to what, whose tier.
        with pytest.raises(LawBroken) as caught:
            check_desk_laws(LosesPriceChanges, operations=_PRICE_APPROVED)

        assert caught.value.steps[-1] == (
            "price change #0 (douyin:DY-1: PC-1 L1 45.00 CNY -> 40.50 CNY,"
            " store_manager: pending)"
        )
