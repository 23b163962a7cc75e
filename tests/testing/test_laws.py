"""The law functions: good stores pass, each kind of broken store is named.

`check_ledger_laws` and `check_order_store_laws` are what a host runs
against its own stores, with or without pytest. They must pass orderkit's
memory and SQLite stores, and they must catch a store that breaks a law,
naming that law: each broken store below breaks one, the way a real
implementation would get it wrong.
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
from hypothesis import given, settings

from orderkit.adapters.memory import MemoryLedgerStore, MemoryOrderStore
from orderkit.adapters.sqlite import SqliteLedgerStore, SqliteOrderStore
from orderkit.errors import ValidationError
from orderkit.inventory import Hold, Movement, MovementKind, Plan, Receipt
from orderkit.orders import Order, OrderStatus
from orderkit.ports import LedgerStore, OrderStore
from orderkit.serialization import make_converter
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


def _broken(make: Callable[[], object]) -> Callable[[], LedgerStore]:
    return lambda: cast("LedgerStore", make())


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
            (ForgetsKeys, LedgerLaw.IDEMPOTENT_KEYS),
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


class TestBrokenOrderStores:
    """Each broken order store is caught, and the error names the law."""

    @pytest.mark.parametrize(
        ("store", "law"),
        [
            (LastWriterWins, OrderStoreLaw.COMPARE_AND_SET),
            (SameVersionAgain, OrderStoreLaw.FORWARD_ONLY),
            (VersionsBackwards, OrderStoreLaw.FORWARD_ONLY),
            (DropsTheReason, OrderStoreLaw.ROUND_TRIP),
            (ListsByIdOnly, OrderStoreLaw.LISTING),
            (IgnoresAfter, OrderStoreLaw.LISTING),  # broken, not looped forever
        ],
    )
    def test_the_broken_law_is_named(
        self, store: Callable[[], object], law: OrderStoreLaw
    ) -> None:
        with pytest.raises(LawBroken) as caught:
            check_order_store_laws(lambda: cast("OrderStore", store()))
        assert law == caught.value.law
        assert "check_order_store_laws(make_store, seed=" in str(caught.value)

    def test_bad_arguments_are_refused(self) -> None:
        with pytest.raises(ValidationError) as caught:
            check_order_store_laws(MemoryOrderStore, steps=0)
        assert "steps" == caught.value.field
