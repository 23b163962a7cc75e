"""`orderkit simulate`: the summary, its determinism, workers, and checks that bite."""

from __future__ import annotations

import functools
import json
import os
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any, Self, cast

import attrs
import pendulum
import pytest

from orderkit.adapters.memory import MemoryUnitOfWork
from orderkit.cli import _main, _sweeps, _workers, main
from orderkit.cli._plans import Rates
from orderkit.cli._run import Settings, simulate
from orderkit.cli._summary import KEYS, failed
from orderkit.cli._world import World
from orderkit.integrations import TransactionKind
from orderkit.inventory import Balance, Plan, Receipt
from orderkit.money import Money
from orderkit.ports import LedgerStore, UnitOfWork


REQUIRED = {
    "orders_generated",
    "accepted",
    "duplicates_absorbed",
    "suspected_duplicates",
    "held_for_pricing",
    "refused_by_limits",
    "oversold",
    "holds_expired",
    "shipped",
    "stuck_flagged",
    "refunds_over_captured",
    "invariant_violations",
    "elapsed_s",
    "orders_per_s",
}
TIMINGS = {"elapsed_s", "orders_per_s"}
T0 = pendulum.datetime(2026, 11, 10, 12)


def run_json(capsys: pytest.CaptureFixture[str], *args: str) -> dict[str, Any]:
    code = main(["simulate", "--json", *args])
    out, err = capsys.readouterr()
    assert err == ""
    summary: dict[str, Any] = json.loads(out)
    summary["exit"] = code
    return summary


@pytest.fixture(scope="module")
def small() -> dict[str, object]:
    """One small day in memory, shared by the tests that only read it."""
    return simulate(Settings(orders=400, seed=11, db=":memory:"))


class TestSummary:
    def test_has_every_key_the_issue_asks_for(self, small: dict[str, object]) -> None:
        assert REQUIRED <= set(small)
        assert [key for key, _ in KEYS] == list(small)[: len(KEYS)]

    def test_the_figures_that_must_be_zero_are(self, small: dict[str, object]) -> None:
        must = {"oversold", "refunds_over_captured", "invariant_violations", "errors"}
        assert {key: small[key] for key in must} == dict.fromkeys(must, 0)
        assert small["violations"] == []
        assert not failed(small)

    def test_the_books_match_the_provider(self, small: dict[str, object]) -> None:
        """Every capture and refund sent is on the provider's statements, matched."""
        assert small["payment_discrepancies"] == 0
        sent = cast("int", small["paid"]) + cast("int", small["refunds"])
        assert cast("int", small["payments_reconciled"]) >= sent > 0

    def test_every_kind_of_traffic_happened(self, small: dict[str, object]) -> None:
        for key in (
            "accepted",
            "duplicates_absorbed",
            "held_for_pricing",
            "refused_by_limits",
            "refused_out_of_stock",
            "holds_expired",
            "paid",
            "shipped",
            "delivered",
            "circuit_opened",
            "circuit_closed",
            "returns_requested",
            "refunds",
            "price_changes_requested",
            "us_day_missed_by_utc8_dates",
        ):
            assert cast("int", small[key]) > 0, key

    def test_every_order_has_one_intake_outcome(self, small: dict[str, object]) -> None:
        decided = sum(
            cast("int", small[key])
            for key in (
                "accepted",
                "held_for_review",
                "refused_by_limits",
                "refused_out_of_stock",
            )
        )
        assert decided == small["orders_generated"] == 400
        by_channel = cast("dict[str, int]", small["by_channel"])
        assert sum(by_channel.values()) == 400

    def test_json_on_stdout_and_nothing_else(
        self, capsys: pytest.CaptureFixture[str]
    ) -> None:
        summary = run_json(capsys, "--orders", "60", "--db", ":memory:")
        assert summary["exit"] == 0
        assert summary["orders_generated"] == 60

    def test_table_on_a_terminal(self, capsys: pytest.CaptureFixture[str]) -> None:
        code = main(["simulate", "--orders", "60", "--db", ":memory:"])
        out, err = capsys.readouterr()
        assert code == 0
        assert "oversold" in out
        assert "every invariant holds" in out
        assert err == ""  # not a terminal: no progress bar


def day(seed: int) -> dict[str, object]:
    summary = simulate(Settings(orders=250, seed=seed, db=":memory:"))
    return {k: v for k, v in summary.items() if k not in TIMINGS}


class TestDeterminism:
    def test_the_same_seed_gives_the_same_day(self) -> None:
        first = day(5)
        assert day(5) == first
        assert day(6) != first


class TestWorkers:
    def test_two_processes_on_one_file_oversell_nothing(
        self, capsys: pytest.CaptureFixture[str], tmp_path: Path
    ) -> None:
        db = str(tmp_path / "day.db")
        summary = run_json(
            capsys, "--orders", "300", "--workers", "2", "--seed", "3", "--db", db
        )
        assert summary["exit"] == 0
        assert summary["workers"] == 2
        assert (summary["oversold"], summary["invariant_violations"]) == (0, 0)
        assert summary["errors"] == 0
        intake = ("accepted", "held_for_review", "refused_by_limits")
        decided = sum(summary[k] for k in intake) + summary["refused_out_of_stock"]
        assert decided == summary["orders_generated"] == 300
        assert summary["shipped"] == summary["delivered"] > 0
        # Both workers' statements: one worker's alone would miss the other's.
        assert summary["payment_discrepancies"] == 0
        sent = summary["paid"] + summary["refunds"]
        assert summary["payments_reconciled"] >= sent > 0

    def test_two_workers_providers_never_give_the_same_id(self) -> None:
        """Each worker's provider numbers from 1; the orders they share keep both."""
        unit = MemoryUnitOfWork()
        given: list[str] = []
        for worker in (0, 1):
            world = World(unit, seed=3, worker=worker, rates=Rates(), tally=Counter())
            world.end_outage()
            world.psp.capture("alipay-1", Money("10.00", "CNY"), key=f"c{worker}")
            refund = world.psp.refund(
                "alipay-1", Money("4.00", "CNY"), key=f"r{worker}", reason="cancel"
            )
            given.append(refund.transaction_id)
            given.extend(
                line.transaction_id
                for line in world.psp.statement(T0.date())
                if line.kind is TransactionKind.REFUND
            )
        assert given[0] == given[1]
        assert given[2] == given[3]
        assert given[0] != given[2]

    def test_a_database_with_orders_is_refused(
        self, capsys: pytest.CaptureFixture[str], tmp_path: Path
    ) -> None:
        db = str(tmp_path / "used.db")
        assert main(["simulate", "--orders", "20", "--db", db, "--json"]) == 0
        capsys.readouterr()
        assert main(["simulate", "--orders", "20", "--db", db]) == 2
        out, err = capsys.readouterr()
        assert out == ""
        assert err.count("\n") == 1
        assert "holds orders already" in err

    def test_each_worker_recovers_its_own_sagas(
        self, capsys: pytest.CaptureFixture[str], tmp_path: Path
    ) -> None:
        """Every worker has a fake provider and carriers of its own."""
        db = str(tmp_path / "day.db")
        summary = run_json(
            capsys,
            *("--orders", "80", "--workers", "2", "--db", db),
            *("--payment-timeout-rate", "1", "--carrier-timeout-rate", "1"),
        )
        assert (summary["exit"], summary["sagas_in_flight"]) == (0, 0)
        assert summary["refunds"] > 0


class TestTheOutageEnds:
    """Every provider call times out, half of them after the money moved."""

    RATES = Rates(payment_timeout=1.0, carrier_timeout=1.0)

    def test_the_money_of_closed_orders_goes_back(self) -> None:
        summary = simulate(Settings(orders=60, seed=1, db=":memory:", rates=self.RATES))
        assert not failed(summary), summary["violations"]
        assert summary["paid"] == 0
        assert cast("int", summary["closed_unpaid"]) > 0
        assert summary["sagas_in_flight"] == 0
        assert cast("int", summary["refunds"]) > 0

    def test_money_kept_fails_the_run(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setattr(_workers, "recover_sagas", lambda _world: None)
        summary = simulate(Settings(orders=60, seed=1, db=":memory:", rates=self.RATES))
        assert failed(summary)
        assert cast("int", summary["sagas_in_flight"]) > 0
        violations = cast("list[str]", summary["violations"])
        assert any(v.startswith("provider: holds") for v in violations), violations


@pytest.mark.skipif(
    not os.environ.get("ORDERKIT_PG_DSN"), reason="ORDERKIT_PG_DSN is not set"
)
def test_postgresql(capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("orderkit.adapters.postgres")
    psycopg = pytest.importorskip("psycopg")
    schema = f"orderkit_cli_{os.getpid()}"
    dsn = os.environ["ORDERKIT_PG_DSN"]
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    try:
        joiner = "&" if "?" in dsn else "?"
        target = f"{dsn}{joiner}options=-csearch_path%3D{schema}"
        summary = run_json(capsys, "--orders", "150", "--workers", "2", "--db", target)
        assert (summary["exit"], summary["oversold"]) == (0, 0)
    finally:
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA "{schema}" CASCADE')


class TestTheBooksMustMatch:
    def test_a_refund_the_stores_do_not_know_fails_the_run(
        self, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """The provider sends money back that no order records."""
        recover = _sweeps.recover_sagas

        def recover_then_refund(world: World) -> None:
            recover(world)
            held = _workers._holds(world)
            capture = next(t for t in world.psp.transactions if t.order_id in held)
            cent = Money("0.01", capture.amount.currency)
            world.psp.refund(capture.order_id, cent, key="stray", reason="not ours")

        monkeypatch.setattr(_workers, "recover_sagas", recover_then_refund)
        summary = run_json(capsys, "--orders", "60", "--db", ":memory:")
        assert summary["exit"] == 1
        assert summary["payment_discrepancies"] == 1
        assert summary["invariant_violations"] == 1
        (said,) = summary["violations"]
        assert said.startswith("reconciliation: missing_in_orders w0-ref-")

    def test_the_table_names_the_figure_that_failed(
        self, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """A capture the provider took that the stores never recorded."""
        recover = _sweeps.recover_sagas

        def recover_then_capture(world: World) -> None:
            recover(world)
            world.psp.capture("taobao:stray", Money("5.00", "CNY"), key="stray")

        monkeypatch.setattr(_workers, "recover_sagas", recover_then_capture)
        code = main(["simulate", "--orders", "60", "--db", ":memory:"])
        out, _ = capsys.readouterr()
        assert code == 1
        (row,) = [r for r in out.splitlines() if "payment_discrepancies" in r]
        assert row.split()[1] == "1"
        assert row.endswith("FAILED")
        assert "- reconciliation: missing_in_orders taobao:stray" in out


# ----------------------------------------------------------------------
# A ledger that forgets to check: the invariants must catch it


class _Unchecked:
    """A ledger store that skips every stock check and shows stock as received.

    It is the brief's incident 3 in a store: a stale view of the stock
    (routing believes every unit is there) and no atomic check behind it.
    """

    def __init__(self, inner: LedgerStore) -> None:
        self._inner = inner

    def apply(self, plan: Plan) -> Receipt:
        return self._inner.apply(attrs.evolve(plan, checks=()))

    def balances(
        self,
        now: pendulum.DateTime,
        *,
        sku: str | None = None,
        location: str | None = None,
    ) -> Sequence[Balance]:
        found = self._inner.balances(now, sku=sku, location=location)
        return [attrs.evolve(b, reserved=0, allocated=0) for b in found]

    def balances_of(
        self, now: pendulum.DateTime, skus: Iterable[str]
    ) -> Sequence[Balance]:
        # The same stale view when the desk reads several SKUs at once.
        found = self._inner.balances_of(now, skus)  # type: ignore[attr-defined]
        return [attrs.evolve(b, reserved=0, allocated=0) for b in found]

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


class _BrokenUnit:
    """The real unit of work, with the unchecked ledger in place of its own."""

    def __init__(self, inner: UnitOfWork) -> None:
        self._inner = inner

    def __enter__(self) -> Self:
        self._inner.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self._inner.__exit__(*exc)  # type: ignore[arg-type]

    @property
    def ledger(self) -> LedgerStore:
        return cast("LedgerStore", _Unchecked(self._inner.ledger))

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


def broken(unit: UnitOfWork) -> UnitOfWork:
    return cast("UnitOfWork", _BrokenUnit(unit))


class TestTheChecksCanFail:
    def test_an_unchecked_ledger_oversells_and_the_run_fails(
        self, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
    ) -> None:
        run: Callable[..., dict[str, object]] = functools.partial(simulate, wrap=broken)
        monkeypatch.setattr(_main, "simulate", run)
        summary = run_json(
            capsys, "--orders", "400", "--seed", "11", "--db", ":memory:"
        )
        assert summary["oversold"] > 0
        assert summary["invariant_violations"] > 0
        assert any(v.startswith("oversold:") for v in summary["violations"])
        assert summary["exit"] == 1
