"""The law functions: good stores pass, each kind of broken store is named.

`check_ledger_laws` and `check_order_store_laws` are what a host runs
against its own stores, with or without pytest. They must pass orderkit's
memory and SQLite stores, and they must catch a store that breaks a law,
naming that law: each broken store below breaks one, the way a real
implementation would get it wrong. The contract suites must fail the same
broken stores (the last section).
"""

from __future__ import annotations

import itertools
import pickle
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, cast

import attrs
import pendulum
import pytest
from hypothesis import Phase, given, settings
from hypothesis.stateful import run_state_machine_as_test

from orderkit.adapters.memory import (
    MemoryLedgerStore,
    MemoryOrderStore,
    MemoryUnitOfWork,
)
from orderkit.adapters.sqlite import SqliteLedgerStore, SqliteOrderStore
from orderkit.errors import ConcurrencyConflict, ValidationError
from orderkit.inventory import Hold, Movement, MovementKind, Plan, Receipt
from orderkit.orders import Order, OrderStatus
from orderkit.ports import LedgerStore, OrderStore, UnitOfWork
from orderkit.serialization import make_converter
from orderkit.services import Ledger
from orderkit.testing import (
    LawBroken,
    LedgerAction,
    LedgerLaw,
    LedgerOperation,
    OrderStoreLaw,
    check_ledger_laws,
    check_order_store_laws,
)
from orderkit.testing import strategies as ost
from orderkit.testing._clock import FrozenClock
from orderkit.testing._contract_base import START
from orderkit.testing._ledger_machine import ledger_machine
from orderkit.testing.contracts import (
    LedgerStoreContract,
    OrderStoreContract,
    UnitOfWorkContract,
)


# --------------------------------------------------------------------------
# Stores that keep the laws


@pytest.fixture
def sqlite_files(tmp_path: Path) -> Callable[[], Path]:
    """A factory of fresh database paths, one per run."""
    numbers = itertools.count()
    return lambda: tmp_path / f"run-{next(numbers)}.db"


class TestGoodStores:
    """orderkit's own stores keep every law, in memory and on SQLite."""

    def test_memory_ledger_store(self) -> None:
        check_ledger_laws(MemoryLedgerStore)

    def test_sqlite_ledger_store_in_memory(self) -> None:
        check_ledger_laws(lambda: SqliteLedgerStore(":memory:"), runs=8)

    def test_sqlite_ledger_store_on_a_file(
        self, sqlite_files: Callable[[], Path]
    ) -> None:
        check_ledger_laws(lambda: SqliteLedgerStore(sqlite_files()), runs=3)

    def test_memory_order_store(self) -> None:
        check_order_store_laws(MemoryOrderStore)

    def test_sqlite_order_store(self) -> None:
        def make() -> SqliteOrderStore:
            return SqliteOrderStore(":memory:", converter=make_converter())

        check_order_store_laws(make, runs=4)

    @settings(max_examples=30)
    @given(ost.ledger_operations())
    def test_drawn_steps_on_the_memory_store(
        self, steps: list[LedgerOperation]
    ) -> None:
        check_ledger_laws(MemoryLedgerStore, operations=steps)


# --------------------------------------------------------------------------
# Ledger stores that break a law


class _Wrapped:
    """A memory ledger store behind a wrapper that gets one thing wrong."""

    def __init__(self) -> None:
        self.inner = MemoryLedgerStore()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


class DoublesReceipts(_Wrapped):
    """Counts goods in twice, in the balance and in the movement alike."""

    def apply(self, plan: Plan) -> Receipt:
        doubled = tuple(
            attrs.evolve(m, on_hand=m.on_hand * 2)
            if m.kind is MovementKind.RECEIVE
            else m
            for m in plan.movements
        )
        return self.inner.apply(attrs.evolve(plan, movements=doubled))


class SkipsChecks(_Wrapped):
    """Writes plans without evaluating their stock checks."""

    def apply(self, plan: Plan) -> Receipt:
        return self.inner.apply(attrs.evolve(plan, checks=()))


class LosesAMovement(_Wrapped):
    """Lists every movement but the first."""

    def movements(self, *, after: int = 0, limit: int = 1000) -> Sequence[Movement]:
        found = self.inner.movements(after=after, limit=limit)
        return [m for m in found if m.seq != 1]


class CachesHolds(_Wrapped):
    """Reads holds through a cache that is never invalidated."""

    def __init__(self) -> None:
        super().__init__()
        self.cache: dict[str, Hold | None] = {}

    def hold(self, hold_id: str) -> Hold | None:
        if hold_id not in self.cache:
            self.cache[hold_id] = self.inner.hold(hold_id)
        return self.cache[hold_id]


class SweepsEarly(_Wrapped):
    """Expires holds a day before they are due."""

    def expire_due(
        self, now: pendulum.DateTime, *, limit: int | None = None
    ) -> Sequence[Movement]:
        return self.inner.expire_due(now.add(days=1), limit=limit)


class KeepsOldExpiry(_Wrapped):
    """Acknowledges an extension but writes the hold with its old expiry."""

    def apply(self, plan: Plan) -> Receipt:
        writes = tuple(
            attrs.evolve(w, new=attrs.evolve(w.new, expires_at=w.expected.expires_at))
            if w.expected is not None and w.expected.state is w.new.state
            else w
            for w in plan.holds
        )
        return self.inner.apply(attrs.evolve(plan, holds=writes))


class PagesFromTheStart(_Wrapped):
    """Lists the movements from the first, whatever page was asked for."""

    def movements(self, *, after: int = 0, limit: int = 1000) -> Sequence[Movement]:  # noqa: ARG002
        return self.inner.movements(limit=limit)


class ForgetsKeys(_Wrapped):
    """Keeps no receipts, so a repeated key writes again."""

    def apply(self, plan: Plan) -> Receipt:
        return self.inner.apply(attrs.evolve(plan, remember=False))

    def receipt(self, key: str) -> Receipt | None:  # noqa: ARG002 - the port's
        return None


class ForgetsOldKeys(_Wrapped):
    """Keeps only its 3 latest receipts: a late retry writes again."""

    def __init__(self) -> None:
        super().__init__()
        self.keys: list[str] = []

    def apply(self, plan: Plan) -> Receipt:
        if plan.remember and self.inner.receipt(plan.key) is None:
            self.keys.append(plan.key)
            if len(self.keys) > 3:
                self.inner._s.receipts.pop(self.keys.pop(0), None)
        return self.inner.apply(plan)


class ListsHoldsBadly(_Wrapped):
    """Lists holds through a lookup that fails once there are some."""

    def holds(self, **filters: Any) -> Sequence[Hold]:
        found = self.inner.holds(**filters)
        if found:
            raise KeyError(found[0].hold_id)
        return found


class SkipsChecksLate(_Wrapped):
    """Skips the stock checks from its 80th plan on: past the default steps."""

    def __init__(self) -> None:
        super().__init__()
        self.plans = 0

    def apply(self, plan: Plan) -> Receipt:
        self.plans += 1
        if self.plans >= 80:
            plan = attrs.evolve(plan, checks=())
        return self.inner.apply(plan)


def _broken(make: Callable[[], object]) -> Callable[[], LedgerStore]:
    return lambda: cast("LedgerStore", make())


def _hint_raises(command: str, **names: object) -> LawBroken:
    """Run the "to run it again" command exactly as printed; return its error."""
    with pytest.raises(LawBroken) as caught:
        eval(command, names)  # noqa: S307 - our own hint, as a user would paste it
    return caught.value


def _ledger_law_broken(make: Callable[[], object], **kwargs: Any) -> LawBroken:
    with pytest.raises(LawBroken) as caught:
        check_ledger_laws(_broken(make), **kwargs)
    return caught.value


class TestBrokenLedgerStores:
    """Each broken store is caught, and the error names the law it broke."""

    @pytest.mark.parametrize(
        ("store", "law"),
        [
            (DoublesReceipts, LedgerLaw.CONSERVATION),
            (SkipsChecks, LedgerLaw.NO_OVERSELL),
            (LosesAMovement, LedgerLaw.REPLAY),
            (CachesHolds, LedgerLaw.HOLDS_RESOLVE_ONCE),
            (SweepsEarly, LedgerLaw.HOLDS_RESOLVE_ONCE),
            (KeepsOldExpiry, LedgerLaw.HOLDS_RESOLVE_ONCE),
            (ForgetsKeys, LedgerLaw.IDEMPOTENT_KEYS),
            (ForgetsOldKeys, LedgerLaw.IDEMPOTENT_KEYS),
            (PagesFromTheStart, LedgerLaw.REPLAY),  # broken, not looped forever
        ],
    )
    def test_the_broken_law_is_named(
        self, store: Callable[[], object], law: LedgerLaw
    ) -> None:
        error = _ledger_law_broken(store)
        assert law == error.law
        assert f"law '{law}' broken" in str(error)

    def test_the_error_is_an_assertion_error_that_pickles(self) -> None:
        error = _ledger_law_broken(ForgetsKeys)
        assert isinstance(error, AssertionError)
        again = pickle.loads(pickle.dumps(error))  # noqa: S301 - our own bytes
        assert (error.law, error.seed, error.steps, str(error)) == (
            again.law,
            again.seed,
            again.steps,
            str(again),
        )

    def test_the_report_lists_the_steps_and_how_to_run_them_again(self) -> None:
        error = _ledger_law_broken(SkipsChecks)
        assert error.seed is not None
        assert error.steps
        assert f"1. {error.steps[0]}" in str(error)
        assert f"seed={error.seed}, runs=1" in str(error)

    def test_the_seed_it_names_repeats_the_failure(self) -> None:
        first = _ledger_law_broken(SweepsEarly, seed=5)
        assert first.seed is not None
        again = _ledger_law_broken(SweepsEarly, seed=first.seed, runs=1)
        assert (first.law, first.detail, first.steps) == (
            again.law,
            again.detail,
            again.steps,
        )

    def test_the_printed_command_repeats_a_failure_past_the_default_steps(
        self,
    ) -> None:
        first = _ledger_law_broken(SkipsChecksLate, steps=150)
        assert "steps=150" in str(first)
        again = _hint_raises(
            str(first).rsplit("to run it again: ", 1)[1],
            check_ledger_laws=check_ledger_laws,
            make_store=_broken(SkipsChecksLate),
        )
        assert (first.law, first.detail, first.steps) == (
            again.law,
            again.detail,
            again.steps,
        )

    def test_a_repeat_says_which_step_it_repeats(self) -> None:
        steps = [LedgerOperation.receive("TEA", "W1", 2), LedgerOperation.repeat(5)]
        error = _ledger_law_broken(ForgetsKeys, operations=steps)
        assert LedgerLaw.IDEMPOTENT_KEYS == error.law
        assert (
            "receive TEA@W1 2",
            "repeat step #5 (step 1: receive TEA@W1 2)",
        ) == error.steps

    def test_a_store_error_while_checking_is_a_broken_law(self) -> None:
        steps = [
            LedgerOperation.receive("TEA", "W1", 2),
            LedgerOperation.reserve("cart-1", [("TEA", "W1", 1)]),
        ]
        error = _ledger_law_broken(ListsHoldsBadly, operations=steps)
        assert LedgerLaw.NO_OVERSELL == error.law
        assert "raised KeyError(" in error.detail
        assert isinstance(error.__cause__, KeyError)

    def test_steps_given_are_run_as_given(self) -> None:
        steps = [
            LedgerOperation.receive("TEA", "W1", 2),
            LedgerOperation.reserve("cart-1", [("TEA", "W1", 3)]),
        ]
        error = _ledger_law_broken(SkipsChecks, operations=steps)
        assert LedgerLaw.NO_OVERSELL == error.law
        assert error.seed is None
        assert ("receive TEA@W1 2", "reserve cart-1: TEA@W1 3") == error.steps
        assert "TEA@W1 had 2 available" in error.detail

    def test_an_extension_not_kept_is_caught_at_once(self) -> None:
        # No later step looks past the old expiry: only the hold itself shows it.
        steps = [
            LedgerOperation.receive("TEA", "W1", 2),
            LedgerOperation.reserve("cart-1", [("TEA", "W1", 1)]),
            LedgerOperation.extend(0, 30),
        ]
        error = _ledger_law_broken(KeepsOldExpiry, operations=steps)
        assert LedgerLaw.HOLDS_RESOLVE_ONCE == error.law
        assert 3 == len(error.steps)
        assert "expires at 2026-11-11T00:15:00+00:00" in error.detail
        assert "until 2026-11-11T00:30:00+00:00" in error.detail

    def test_a_store_that_refuses_what_it_has_breaks_no_oversell(self) -> None:
        class Stingy(_Wrapped):
            def apply(self, plan: Plan) -> Receipt:
                if plan.checks:
                    raise ValidationError("plan", plan, "refused")
                return self.inner.apply(plan)

        steps = [
            LedgerOperation.receive("TEA", "W1", 5),
            LedgerOperation.reserve("cart-1", [("TEA", "W1", 1)]),
        ]
        error = _ledger_law_broken(Stingy, operations=steps)
        assert LedgerLaw.NO_OVERSELL == error.law
        assert isinstance(error.__cause__, ValidationError)

    def test_a_store_closes_after_its_run(self) -> None:
        closed: list[bool] = []

        class Closing(_Wrapped):
            def close(self) -> None:
                closed.append(True)

        check_ledger_laws(_broken(Closing), runs=3, steps=5)
        assert [True, True, True] == closed


class TestLedgerArguments:
    """Bad arguments are refused before any store is made."""

    @pytest.mark.parametrize(
        ("kwargs", "field"),
        [
            ({"runs": 0}, "runs"),
            ({"steps": -1}, "steps"),
            ({"seed": "7"}, "seed"),
            ({"operations": ["receive TEA"]}, "operations[0]"),
        ],
    )
    def test_refused(self, kwargs: dict[str, Any], field: str) -> None:
        with pytest.raises(ValidationError) as caught:
            check_ledger_laws(MemoryLedgerStore, **kwargs)
        assert field == caught.value.field

    def test_make_store_must_be_callable(self) -> None:
        with pytest.raises(ValidationError, match="make_store"):
            check_ledger_laws(MemoryLedgerStore())  # type: ignore[arg-type]

    @pytest.mark.parametrize(
        ("build", "field"),
        [
            pytest.param(lambda: LedgerOperation.receive("T", "W1", 0), "quantity"),
            pytest.param(
                lambda: LedgerOperation.transfer("T", "W1", "W1", 1), "target"
            ),
            pytest.param(lambda: LedgerOperation.reserve("c", []), "lines"),
            pytest.param(
                lambda: LedgerOperation.reserve("c", [("T", "W1", 0)]),
                "lines[0]",
                id="no-units",
            ),
            pytest.param(
                lambda: LedgerOperation.reserve("c", [("T", 1)]),  # type: ignore[list-item]
                "lines[0]",
                id="not-a-line",
            ),
            pytest.param(lambda: LedgerOperation.extend(0, 0), "minutes"),
            pytest.param(lambda: LedgerOperation.release(-1), "pick"),
            pytest.param(lambda: LedgerOperation(action="fly"), "action"),
        ],
    )
    def test_a_step_that_makes_no_sense_is_refused(
        self, build: Callable[[], LedgerOperation], field: str
    ) -> None:
        with pytest.raises(ValidationError) as caught:
            build()
        assert field == caught.value.field

    def test_steps_read_as_text(self) -> None:
        steps = [
            LedgerOperation.transfer("TEA", "W1", "W2", 3),
            LedgerOperation.commit(4, 2),
            LedgerOperation.commit(4),
            LedgerOperation(action=LedgerAction.SHIP, pick=1, quantity=2),
            LedgerOperation.wait(20),
            LedgerOperation.repeat(3),
        ]
        assert [
            "transfer TEA W1->W2 3",
            "commit hold #4 2",
            "commit hold #4",
            "ship committed #1 2",
            "wait 20 min",
            "repeat step #3",
        ] == [str(step) for step in steps]


# --------------------------------------------------------------------------
# Order stores that break a law


class _Orders:
    """A memory order store behind a wrapper that gets one thing wrong."""

    def __init__(self) -> None:
        self.inner = MemoryOrderStore()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


class LastWriterWins(_Orders):
    """Saves over whatever is stored, whatever version it expected."""

    def save(self, order: Order, expected_version: int | None) -> None:  # noqa: ARG002
        stored = self.inner.get(order.channel, order.order_id)
        self.inner.save(order, None if stored is None else stored.version)


class SameVersionAgain(_Orders):
    """Takes an update that keeps the version without a word, and drops it."""

    def save(self, order: Order, expected_version: int | None) -> None:
        if expected_version is not None and order.version == expected_version:
            return
        self.inner.save(order, expected_version)


class VersionsBackwards(_Orders):
    """Refuses an update that repeats the version, but lands one going back."""

    def save(self, order: Order, expected_version: int | None) -> None:
        if expected_version is not None and order.version < expected_version:
            landed = attrs.evolve(order, version=expected_version + 1)
            self.inner.save(landed, expected_version)
            return
        self.inner.save(order, expected_version)


class DropsTheReason(_Orders):
    """Stores a cancelled order without its reason."""

    def save(self, order: Order, expected_version: int | None) -> None:
        self.inner.save(attrs.evolve(order, cancel_reason=None), expected_version)


class ListsByIdOnly(_Orders):
    """Lists orders by id, forgetting that the channel comes first."""

    def orders(
        self,
        *,
        status: OrderStatus | None = None,
        after: tuple[str, str] | None = None,
        limit: int = 100,
    ) -> Sequence[Order]:
        found = self.inner.orders(status=status, limit=10_000)
        ranked = sorted(found, key=lambda o: (o.order_id, o.channel))
        if after is not None:
            ranked = [o for o in ranked if (o.order_id, o.channel) > after[::-1]]
        return ranked[:limit]


class IgnoresAfter(_Orders):
    """Lists from the first order, whatever page was asked for."""

    def orders(
        self,
        *,
        status: OrderStatus | None = None,
        after: tuple[str, str] | None = None,  # noqa: ARG002 - the port's
        limit: int = 100,
    ) -> Sequence[Order]:
        return self.inner.orders(status=status, limit=limit)


class ColumnsOnly(_Orders):
    """Keeps the columns it knows: the order's parts and desk fields are dropped."""

    def save(self, order: Order, expected_version: int | None) -> None:
        kept = attrs.evolve(
            order,
            review=(),
            saga=None,
            pay_by=None,
            address_changed_at=None,
            price_changes=(),
            after_sales=(),
            payment_ledger=None,
        )
        self.inner.save(kept, expected_version)


class DuplicateAsKeyError(_Orders):
    """Reports an order it holds already with its driver's KeyError."""

    def save(self, order: Order, expected_version: int | None) -> None:
        try:
            self.inner.save(order, expected_version)
        except ConcurrencyConflict:
            if expected_version is None:
                raise KeyError(f"{order.channel}:{order.order_id}") from None
            raise


class LastWriterWinsLate(LastWriterWins):
    """Saves over whatever is stored from its 45th save on: past the default steps."""

    def __init__(self) -> None:
        super().__init__()
        self.saves = 0

    def save(self, order: Order, expected_version: int | None) -> None:
        self.saves += 1
        if self.saves >= 45:
            super().save(order, expected_version)
        else:
            self.inner.save(order, expected_version)


def _order_law_broken(make: Callable[[], object], **kwargs: Any) -> LawBroken:
    with pytest.raises(LawBroken) as caught:
        check_order_store_laws(lambda: cast("OrderStore", make()), **kwargs)
    return caught.value


class TestBrokenOrderStores:
    """Each broken order store is caught, and the error names the law."""

    @pytest.mark.parametrize(
        ("store", "law"),
        [
            (LastWriterWins, OrderStoreLaw.COMPARE_AND_SET),
            (SameVersionAgain, OrderStoreLaw.FORWARD_ONLY),
            (VersionsBackwards, OrderStoreLaw.FORWARD_ONLY),
            (DropsTheReason, OrderStoreLaw.ROUND_TRIP),
            (ColumnsOnly, OrderStoreLaw.ROUND_TRIP),
            (DuplicateAsKeyError, OrderStoreLaw.COMPARE_AND_SET),
            (ListsByIdOnly, OrderStoreLaw.LISTING),
            (IgnoresAfter, OrderStoreLaw.LISTING),  # broken, not looped forever
        ],
    )
    def test_the_broken_law_is_named(
        self, store: Callable[[], object], law: OrderStoreLaw
    ) -> None:
        error = _order_law_broken(store)
        assert law == error.law
        assert "check_order_store_laws(make_store, seed=" in str(error)

    def test_a_store_error_is_a_broken_law_with_its_cause(self) -> None:
        error = _order_law_broken(DuplicateAsKeyError)
        assert "expecting None raised KeyError(" in error.detail
        assert isinstance(error.__cause__, KeyError)

    def test_a_lost_part_is_named(self) -> None:
        error = _order_law_broken(ColumnsOnly)
        assert "differs in " in error.detail

    def test_the_printed_command_repeats_a_failure_past_the_default_steps(
        self,
    ) -> None:
        first = _order_law_broken(LastWriterWinsLate, steps=80)
        assert "steps=80" in str(first)
        again = _hint_raises(
            str(first).rsplit("to run it again: ", 1)[1],
            check_order_store_laws=check_order_store_laws,
            make_store=LastWriterWinsLate,
        )
        assert (first.law, first.detail, first.steps) == (
            again.law,
            again.detail,
            again.steps,
        )

    def test_bad_arguments_are_refused(self) -> None:
        with pytest.raises(ValidationError) as caught:
            check_order_store_laws(MemoryOrderStore, steps=0)
        assert "steps" == caught.value.field


# --------------------------------------------------------------------------
# The contract suites fail the same broken stores


class _LedgerContract(LedgerStoreContract):
    def __init__(self, make: Callable[[], object]) -> None:
        self.make = make

    def make_store(self) -> LedgerStore:
        return cast("LedgerStore", self.make())


class _OrderContract(OrderStoreContract):
    def __init__(self, make: Callable[[], object]) -> None:
        self.make = make

    def make_store(self) -> OrderStore:
        return cast("OrderStore", self.make())


class WipesOnRollback(MemoryUnitOfWork):  # type: ignore[misc]  # final: a double
    """A rollback that undid anything also empties one store, committed rows too."""

    def __init__(self, victim: str) -> None:
        super().__init__()
        self.victim = victim

    def _put_back(self) -> None:
        journals = [getattr(store, "_journal", None) for store in self._all]
        undid = any(journal is not None and journal.undo for journal in journals)
        super()._put_back()
        if undid:
            store = getattr(self, f"_{self.victim}")
            store._restore(type(store)()._snapshot())


class _UnitContract(UnitOfWorkContract):
    def __init__(self, victim: str) -> None:
        self.victim = victim

    def make_store(self) -> UnitOfWork:
        return cast("UnitOfWork", WipesOnRollback(self.victim))


class TestContractsFailBrokenStores:
    """Each contract suite has a test that fails the broken store."""

    def test_a_key_retried_late_is_checked(self) -> None:
        contract = _LedgerContract(ForgetsOldKeys)
        store = contract.make_store()
        with pytest.raises(AssertionError):
            contract.test_a_key_retried_after_many_others_still_replays(
                Ledger(store, FrozenClock(START)), store
            )

    def test_the_state_machine_retries_keys_late(self) -> None:
        # Generation only: a shrunk failure is not what this test is after.
        quick = settings(
            max_examples=100,
            stateful_step_count=30,
            phases=[Phase.generate],
            database=None,
            derandomize=True,
        )
        with pytest.raises(AssertionError):
            run_state_machine_as_test(ledger_machine(ForgetsOldKeys), settings=quick)

    def test_every_part_of_an_order_is_read_back(self) -> None:
        with pytest.raises(AssertionError, match=r"payment_ledger|saga"):
            _OrderContract(ColumnsOnly).test_any_order_reads_back_equal()

    @pytest.mark.parametrize(
        "victim",
        ["audit", "outbox", "inbox", "ledger", "keys", "limits", "detector", "cursors"],
    )
    def test_a_rollback_that_loses_a_commit_is_caught(self, victim: str) -> None:
        contract = _UnitContract(victim)
        with pytest.raises(AssertionError):
            contract.test_undoing_a_unit_keeps_what_was_committed_before(
                contract.make_store()
            )
