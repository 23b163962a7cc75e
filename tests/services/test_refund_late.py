"""A refund sent under a saga another process ended meanwhile is in the books.

Two recoverers resume one refund saga. The second ends it without sending
(it finds the case settled by hand, or the payment ledger refusing) while
the first one's call is at the provider and goes through: the money left,
so the order's payment ledger shows it when it allows it, the order waits
for a person either way, and nothing is ever recorded twice. The race is
staged with a provider that runs the other process while it is asked.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Self, cast

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tests.services._refund_samples import (
    CH,
    ID,
    T0,
    Meanwhile,
    PassingOn,
    buyer_cancelled,
    capture_all,
    captured_ledger,
    case_key,
    case_refund_due,
    desk_over,
    incoming,
    passed_case,
    stocked_desk,
    stored,
)
from tests.services._samples import cny

from orderkit.adapters.memory import MemoryUnitOfWork
from orderkit.adapters.sqlite import SqliteUnitOfWork
from orderkit.dedupe import IdempotencyKey
from orderkit.errors import ConcurrencyConflict, RefundExceedsCapture
from orderkit.orders import AfterSalesCase, AuditRecord, CaseState, Order, refund_case
from orderkit.ports import UnitOfWork
from orderkit.pricing import RefundState
from orderkit.services import (
    RefundDeclined,
    Refunded,
    Refunds,
    reconcile_payments,
)
from orderkit.testing import FrozenClock
from orderkit.testing.fakes import FakePayments


FINANCE = {"actor": "finance.zhang", "source": "erp"}
Units = tuple[UnitOfWork, UnitOfWork]


@pytest.fixture(params=["memory", "sqlite"])
def units(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Units]:
    """Two processes' units of work over one backend (two connections to a file)."""
    if request.param == "memory":
        unit = MemoryUnitOfWork()
        yield unit, unit
        return
    first = SqliteUnitOfWork(tmp_path / "race.db")
    second = SqliteUnitOfWork(tmp_path / "race.db")
    yield first, second
    first.close()
    second.close()


def records(unit: UnitOfWork) -> list[AuditRecord]:
    with unit as uow:
        return list(uow.audit.records(CH, ID))


def late_notes(unit: UnitOfWork) -> list[str]:
    """What each `RefundSentLate` record says was sent."""
    return [
        change.new
        for record in records(unit)
        if record.event_type == "RefundSentLate"
        for change in record.changes
        if change.field == "refund.sent"
    ]


class TestACaseSettledByHandMeanwhile:
    """The case's refund went out while another process ended its saga unsent."""

    @staticmethod
    def inspected(
        units: Units, clock: FrozenClock, payments: FakePayments
    ) -> AfterSalesCase:
        unit, _ = units
        case_refund_due(unit, clock, payments)
        assert stored(unit).saga is not None
        return passed_case()  # the case `case_refund_due` recorded

    @staticmethod
    def other_process(
        unit: UnitOfWork,
        clock: FrozenClock,
        payments: FakePayments,
        case: AfterSalesCase,
    ) -> Callable[[], None]:
        """Finance refunds the case by hand, then a second recoverer runs."""

        def run() -> None:
            desk = desk_over(unit, clock)
            ledger = (stored(unit).payment_ledger or captured_ledger()).request_refund(
                "RF-HAND-1", "alipay-77", case.refund_amount, "by hand", T0
            )
            key = IdempotencyKey("erp", "ledger", ID, "1")
            desk.amend(CH, ID, ledger, key=key, **FINANCE)
            by_hand = refund_case(case, "RF-HAND-1", T0.add(days=8))
            key = IdempotencyKey("erp", "case", ID, "2")
            desk.amend(CH, ID, by_hand, key=key, **FINANCE)
            assert Refunds(unit, clock, payments).resume(CH, ID) is None

        return run

    @classmethod
    def settled_meanwhile(
        cls,
        units: Units,
        clock: FrozenClock,
        payments: FakePayments,
        *,
        provider: FakePayments | None = None,
    ) -> Meanwhile:
        """`provider` (or `payments`), settling the inspected case by hand meanwhile."""
        case = cls.inspected(units, clock, payments)
        _, second = units
        settle = cls.other_process(second, clock, payments, case)
        return Meanwhile(payments if provider is None else provider, settle)

    def test_the_refund_that_went_out_is_in_the_ledger_and_a_person_sees_both(
        self, units: Units, clock: FrozenClock, payments: FakePayments
    ) -> None:
        first, _ = units
        racing = self.settled_meanwhile(units, clock, payments)

        outcome = Refunds(first, clock, racing).resume(CH, ID)

        assert isinstance(outcome, Refunded)
        assert payments.effects[case_key()] == 1
        order = stored(first)
        assert outcome.order == order
        ledger = order.payment_ledger
        assert ledger is not None
        sent = ledger.refund(case_key())
        assert (sent.amount, sent.state) == (cny("288.00"), RefundState.REFUNDED)
        assert ledger.refund("RF-HAND-1").state is RefundState.PENDING
        assert ledger.refunded + ledger.pending <= ledger.captured
        (kept,) = order.after_sales
        assert (kept.state, kept.refund_id) == (CaseState.REFUNDED, "RF-HAND-1")
        assert (order.saga, order.review) == (None, ("refund",))
        (note,) = late_notes(first)
        assert note.endswith(
            f"288.00 CNY to alipay-77 under {case_key()} sent after its saga "
            "ended, recorded"
        )
        last = records(first)[-1]
        assert last.key == IdempotencyKey("orderkit", "refund.late", ID, case_key())
        # Nothing is left to send, and nothing more is written.
        assert Refunds(first, clock, payments).send_due() == ()
        assert Refunds(first, clock, payments).resume(CH, ID) is None
        assert stored(first) == order
        assert payments.calls[case_key()] == 1

    def test_the_refund_recorded_late_keeps_the_providers_id_and_reconciles(
        self, units: Units, clock: FrozenClock, payments: FakePayments
    ) -> None:
        first, _ = units
        racing = self.settled_meanwhile(units, clock, payments)

        outcome = Refunds(first, clock, racing).resume(CH, ID)

        assert isinstance(outcome, Refunded)
        ledger = stored(first).payment_ledger
        assert ledger is not None
        given = outcome.transaction.transaction_id
        assert ledger.refund(case_key()).provider_id == given
        report = reconcile_payments([stored(first)], payments.statement(T0.date()))
        # The refund finance recorded by hand is pending, so not missed; the
        # one sent late is matched by the id the provider gave it.
        assert [] == [(d.kind.value, d.transaction_id) for d in report.discrepancies]
        assert given in {line.transaction_id for line in payments.statement(T0.date())}

    def test_a_refund_the_provider_declined_is_not_said_to_be_sent(
        self, units: Units, clock: FrozenClock, payments: FakePayments
    ) -> None:
        first, _ = units
        declining = FakePayments(clock, refunds_declined=["alipay-77"])
        racing = self.settled_meanwhile(units, clock, payments, provider=declining)

        outcome = Refunds(first, clock, racing).resume(CH, ID)

        # No money moved: the saga's end (nothing sent) stands as the truth.
        assert isinstance(outcome, RefundDeclined)
        assert late_notes(first) == []
        order = stored(first)
        assert order.review == ("refund",)
        ledger = order.payment_ledger
        assert ledger is not None
        assert all(r.refund_id != case_key() for r in ledger.refunds)

    def test_a_refund_the_other_process_recorded_is_not_recorded_again(
        self, units: Units, clock: FrozenClock, payments: FakePayments
    ) -> None:
        """A regression guard: the other process sent and recorded it itself."""
        self.inspected(units, clock, payments)
        first, second = units

        def other() -> None:
            assert isinstance(Refunds(second, clock, payments).resume(CH, ID), Refunded)

        done = records(first)
        outcome = Refunds(first, clock, Meanwhile(payments, other)).resume(CH, ID)

        assert isinstance(outcome, Refunded)
        order = stored(first)
        assert outcome.order == order
        ledger = order.payment_ledger
        assert ledger is not None
        assert ledger.refunded == cny("288.00")
        assert order.review == ()
        # The other process's records only: PaymentsRecorded, the case, the end.
        assert [r.event_type for r in records(first)[len(done) :]] == [
            "PaymentsRecorded",
            "AfterSalesRecorded",
            "SagaEnded",
        ]
        assert payments.effects[case_key()] == 1


class TestALedgerRefusingMeanwhile:
    """A cancellation's refund went out while another process found it refused."""

    @staticmethod
    def cancelled(units: Units, clock: FrozenClock, payments: FakePayments) -> None:
        unit, _ = units
        desk = stocked_desk(unit, clock)
        desk.accept(incoming())
        key = IdempotencyKey("erp", "ledger", ID, "1")
        desk.amend(CH, ID, captured_ledger(), key=key, **FINANCE)
        capture_all(unit, clock, desk, payments)
        desk.record(CH, ID, buyer_cancelled())

    @staticmethod
    def by_hand(unit: UnitOfWork, clock: FrozenClock) -> None:
        """Finance asks 100.00 back by hand: the ledger holds 476.00 more."""
        ledger = stored(unit).payment_ledger
        assert ledger is not None
        pending = ledger.request_refund(
            "RF-HAND-1", "alipay-77", cny("100.00"), "goodwill", T0
        )
        key = IdempotencyKey("erp", "ledger", ID, "2")
        desk_over(unit, clock).amend(CH, ID, pending, key=key, **FINANCE)

    def test_money_the_ledger_cannot_hold_is_said_and_left_to_a_person(
        self, units: Units, clock: FrozenClock, payments: FakePayments
    ) -> None:
        self.cancelled(units, clock, payments)
        first, second = units
        refused: list[RefundExceedsCapture] = []

        def other() -> None:
            self.by_hand(second, clock)
            with pytest.raises(RefundExceedsCapture) as caught:
                Refunds(second, clock, payments).resume(CH, ID)
            refused.append(caught.value)

        before = stored(first)
        outcome = Refunds(first, clock, Meanwhile(payments, other)).resume(CH, ID)

        assert isinstance(outcome, Refunded)
        assert len(refused) == 1
        assert payments.captured("alipay-77") == cny("0.00")  # the 576.00 left
        order = stored(first)
        assert outcome.order == order
        assert (order.saga, order.review) == (None, ("refund",))
        ledger = order.payment_ledger
        assert ledger is not None
        assert [r.refund_id for r in ledger.refunds] == ["RF-HAND-1"]
        (note,) = late_notes(first)
        saga = before.saga
        assert saga is not None
        said = f"576.00 CNY to alipay-77 under {saga.key} sent after its saga ended"
        assert f"succeeded; {said}, not recorded: amount:" in note

    def test_a_third_process_says_it_once(
        self, units: Units, clock: FrozenClock, payments: FakePayments
    ) -> None:
        self.cancelled(units, clock, payments)
        first, second = units

        def ends_it() -> None:
            self.by_hand(second, clock)
            with pytest.raises(RefundExceedsCapture):
                Refunds(second, clock, payments).resume(CH, ID)

        def third() -> None:
            racing = Meanwhile(payments, ends_it)
            assert isinstance(Refunds(second, clock, racing).resume(CH, ID), Refunded)

        outcome = Refunds(first, clock, Meanwhile(payments, third)).resume(CH, ID)

        assert isinstance(outcome, Refunded)
        assert len(late_notes(first)) == 1
        assert outcome.order == stored(first)


class TestWhateverRaces:
    """Any number of recoverers and whatever ends the saga: the books are right."""

    @settings(max_examples=25, deadline=None)
    @given(
        racers=st.integers(min_value=1, max_value=3),
        ending=st.sampled_from(["settled by hand", "sent by another", "nothing"]),
    )
    def test_money_that_left_is_in_the_ledger_once_or_the_order_waits(
        self, racers: int, ending: str
    ) -> None:
        unit = MemoryUnitOfWork()
        clock = FrozenClock(T0)
        payments = FakePayments(clock)
        units = (unit, unit)
        case = TestACaseSettledByHandMeanwhile.inspected(units, clock, payments)
        settle = TestACaseSettledByHandMeanwhile.other_process(
            unit, clock, payments, case
        )

        def innermost() -> None:
            if ending == "settled by hand":
                settle()
            elif ending == "sent by another":
                Refunds(unit, clock, payments).resume(CH, ID)

        run = innermost
        for _ in range(racers - 1):
            inner = run

            def run(inner: Callable[[], None] = inner) -> None:
                Refunds(unit, clock, Meanwhile(payments, inner)).resume(CH, ID)

        Refunds(unit, clock, Meanwhile(payments, run)).resume(CH, ID)

        order = stored(unit)
        ledger = order.payment_ledger
        assert ledger is not None
        assert order.saga is None
        assert payments.effects[case_key()] == 1
        # The provider refunded it once: the ledger shows it, once.
        sent = ledger.refund(case_key())
        assert (sent.amount, sent.state) == (cny("288.00"), RefundState.REFUNDED)
        assert ledger.refunded + ledger.pending <= ledger.captured
        assert len(late_notes(unit)) <= 1
        # Settled by hand as well: a person checks the buyer is not paid twice.
        assert (order.review == ("refund",)) == (ending == "settled by hand")


class _LostRace:
    """`unit` whose first order saved while `armed` conflicts, as a lost race does.

    With `cause`, the conflict is the driver's (a deadlock), chained as
    `__cause__`, which reading again would only meet again.
    """

    def __init__(self, unit: UnitOfWork, *, cause: Exception | None = None) -> None:
        self._unit = unit
        self._cause = cause
        self.armed = False
        self.conflicts = 0

    def __enter__(self) -> Self:
        self._uow = self._unit.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self._unit.__exit__(*exc)  # type: ignore[arg-type]

    def __getattr__(self, name: str) -> object:
        return getattr(self._uow, name)

    @property
    def orders(self) -> object:
        race = self
        orders = self._uow.orders

        class Orders:
            def __getattr__(self, name: str) -> object:
                return getattr(orders, name)

            def save(self, order: Order, expected: int | None) -> None:
                if race.armed:
                    race.armed = False
                    race.conflicts += 1
                    conflict = ConcurrencyConflict(f"order:{CH}:{ID}")
                    raise conflict from race._cause
                orders.save(order, expected)

        return Orders()


class _Arming(PassingOn):
    """A payment provider that arms `race` as its refund is asked."""

    def __init__(self, inner: FakePayments, race: _LostRace) -> None:
        super().__init__(inner)
        self._race = race

    def asked(self) -> None:
        self._race.armed = True


class TestAConflictWhileRecording:
    """The refund left: a write that lost a race is read again, not given up."""

    def test_the_refund_is_recorded_on_the_next_read(
        self, clock: FrozenClock, payments: FakePayments
    ) -> None:
        unit = MemoryUnitOfWork()
        TestALedgerRefusingMeanwhile.cancelled((unit, unit), clock, payments)
        race = _LostRace(unit)

        outcome = Refunds(
            cast("UnitOfWork", race), clock, _Arming(payments, race)
        ).resume(CH, ID)

        assert isinstance(outcome, Refunded)
        assert race.conflicts == 1
        order = stored(unit)
        assert outcome.order == order
        ledger = order.payment_ledger
        assert ledger is not None
        assert ledger.refunded == cny("576.00")
        assert order.saga is None

    def test_a_conflict_the_driver_reported_is_raised(
        self, clock: FrozenClock, payments: FakePayments
    ) -> None:
        """A regression guard: the saga stays, for a retry under the same key."""
        unit = MemoryUnitOfWork()
        TestALedgerRefusingMeanwhile.cancelled((unit, unit), clock, payments)
        race = _LostRace(unit, cause=RuntimeError("deadlock detected"))

        with pytest.raises(ConcurrencyConflict):
            Refunds(cast("UnitOfWork", race), clock, _Arming(payments, race)).resume(
                CH, ID
            )

        assert stored(unit).saga is not None
        (sent,) = Refunds(unit, clock, payments).send_due()
        assert isinstance(sent, Refunded)
        assert payments.captured("alipay-77") == cny("0.00")
        assert max(payments.effects.values()) == 1
