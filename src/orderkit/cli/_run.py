"""One simulation from start to end: open the database, stock it, run, check.

`simulate(settings)` is the whole of `orderkit simulate` without the
command line: it returns the summary as a dict, which `_summary` prints.
"""

from __future__ import annotations

import contextlib
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import final

import attrs

from orderkit.cli import _catalog as catalog
from orderkit.cli._backends import MEMORY, Database, describe, file_in, is_dsn
from orderkit.cli._invariants import check
from orderkit.cli._plans import Rates
from orderkit.cli._report import write_report
from orderkit.cli._series import LedgerSeries, Recorded, read_ledger
from orderkit.cli._summary import summarize
from orderkit.cli._traffic import plan_day
from orderkit.cli._workers import Job, Progress, run_here, run_processes
from orderkit.cli._world import SimClock
from orderkit.cli._writable import write_problem
from orderkit.ports import UnitOfWork
from orderkit.services import Ledger


class UsageError(Exception):
    """The options cannot work together (exit code 2)."""


@final
@attrs.frozen(slots=True, kw_only=True)
class Settings:
    """What `orderkit simulate` was asked to do."""

    orders: int
    seed: int
    workers: int = 1
    db: str | None = None
    rates: Rates = attrs.field(factory=Rates)
    report: str | None = None


def _ignore(_arrived: int, _now: object) -> None:
    return None


def _unheard(_summary: dict[str, object]) -> None:
    return None


@contextlib.contextmanager
def _target(db: str | None) -> Iterator[str]:
    if db is not None:
        yield db
        return
    with tempfile.TemporaryDirectory(prefix="orderkit-simulate-") as directory:
        yield file_in(directory)


def simulate(
    settings: Settings,
    *,
    progress: Progress = _ignore,
    wrap: Callable[[UnitOfWork], UnitOfWork] | None = None,
    summarized: Callable[[dict[str, object]], None] = _unheard,
) -> dict[str, object]:
    """Run the simulation `settings` describe and check the stores after it.

    Args:
        settings: The options.
        progress: Told how far the day has come, as it goes.
        wrap: Wraps the worker's unit of work (one worker only): a test
            swaps in a broken store to prove the checks can fail.
        summarized: Given the summary as soon as it is made, before the
            report is written: the command line prints it then.

    Returns:
        The summary (see `orderkit.cli._summary.KEYS`). With
        `settings.report`, the HTML report is written there too, whether
        the invariants hold or not.

    Raises:
        UsageError: The database holds orders or stock already, an in-memory
            database was asked of several workers, or the report's path
            cannot be written (no such directory, not writable, the
            database's own file).
        OrderkitError: The database cannot be opened or written.
        RuntimeError: A worker process failed.
        OSError: The report cannot be written.
    """
    if settings.report is not None:
        _check_report(settings.report, settings.db)
    started = time.perf_counter()
    ledger: LedgerSeries | None = None
    with _target(settings.db) as target:
        database = Database(target)
        try:
            if settings.workers > 1 and not database.shareable:
                raise UsageError(
                    "--db :memory: lives in one process; use a file with --workers"
                )
            unit = database.open()
            _refuse_used(unit, target)
            _stock(unit, settings.orders)
            job = Job(
                target, settings.orders, settings.seed, settings.rates, settings.workers
            )
            if settings.workers == 1:
                worker_unit = unit if wrap is None else wrap(unit)
                reports = run_here(job, worker_unit, progress)
            else:
                if wrap is not None:
                    raise UsageError("a wrapped store runs with one worker only")
                reports = run_processes(job, progress)
            elapsed = time.perf_counter() - started
            plans = plan_day(settings.orders, settings.seed, settings.rates)
            ended = max(r.ended_at for r in reports)
            holds: dict[str, int] = {}
            for report in reports:
                # Each payment was asked of one worker's provider only.
                holds.update(report.provider_holds)
            # One provider, seen through each worker's fake: their ids differ
            # (see World), so their statements together are the provider's,
            # and they reconcile against the orders of every worker at once.
            statement = [line for report in reports for line in report.statement]
            findings = check(
                unit,
                plans,
                ended,
                sellable=reports[0].sellable,
                provider_holds=holds,
                statement=statement,
            )
            if settings.report is not None:
                ledger = read_ledger(unit)
        finally:
            database.close()
    tally: Counter[str] = Counter()
    for report in reports:
        tally.update(report.tally)
    summary = summarize(
        orders=settings.orders,
        seed=settings.seed,
        workers=settings.workers,
        db=describe(settings.db),
        tally=tally,
        reports=reports,
        findings=findings,
        elapsed=elapsed,
    )
    summarized(summary)
    if settings.report is not None and ledger is not None:
        recorded = Recorded()
        for report in reports:
            recorded.merge(report.recorded)
        write_report(settings.report, summary, recorded, ledger)
    return summary


def _check_report(path: str, db: str | None) -> None:
    """Refuse a report path that cannot be written before the run, not after."""
    target = Path(path)
    if db is not None and db != MEMORY and not is_dsn(db) and _same_file(target, db):
        raise UsageError(
            f"--report {path} is the database --db {db} (or one of its files);"
            " give the report another name"
        )
    problem = write_problem(path)
    if problem is not None:
        raise UsageError(f"--report {path} {problem}")


def _same_file(report: Path, db: str) -> bool:
    """Whether `report` is the SQLite file `db`, or its journal, WAL or shm."""
    for suffix in ("", "-wal", "-shm", "-journal"):
        name = Path(db + suffix)
        if report.resolve() == name.resolve():
            return True
        with contextlib.suppress(OSError):
            if report.samefile(name):  # a hard link, say
                return True
    return False


def _refuse_used(unit: UnitOfWork, target: str) -> None:
    """Refuse a database a run wrote to: its day would not be this seed's.

    A run writes its opening stock first, in one unit, then its orders: a
    database with stock movements and no orders is a run stopped before its
    first order, and its stock (of another size, perhaps) would stand in
    for this run's, whose receipts share its keys.
    """
    with unit as uow:
        if uow.orders.orders(limit=1):
            held = "orders"
        elif uow.ledger.movements(limit=1):
            held = "stock"
        else:
            return
    raise UsageError(
        f"--db {describe(target)} holds {held} already; give a new file"
        " or an empty database"
    )


def _stock(unit: UnitOfWork, orders: int) -> None:
    """Receive the opening stock, once: the keys make a second call a no-op."""
    clock = SimClock(catalog.SPAN_START.subtract(hours=1))
    with unit as uow:
        ledger = Ledger(uow.ledger, clock, outbox=uow.outbox)
        for sku, location, units in catalog.stock_plan(orders):
            ledger.receive(
                sku,
                location,
                units,
                reason="opening stock",
                key=f"opening:{sku}:{location}",
            )
        uow.commit()
