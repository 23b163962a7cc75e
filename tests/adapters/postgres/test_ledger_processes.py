"""Several OS processes on one PostgreSQL ledger: random programs, then every invariant.

For 2 and 4 processes, 20 seeded runs each: every process runs a random
program of reserve, extend, release, commit, ship and expiry sweeps on three
hot SKUs with 5 units each, with its own clock (the clocks disagree by
seconds, as hosts' do). After each run the ledger is checked against the
database and against its movements: replay rebuilds the balances, no figure
is negative, nothing is oversold, reserved is exactly the live holds, on hand
is exactly what was received minus what shipped, and no hold was resolved
twice. A broken variant of the store (its row locks removed, in this file
only) must be caught overselling, which shows the checks can fail.
"""

from __future__ import annotations

import collections
import contextlib
import datetime as dt
import functools
import itertools
import multiprocessing
import random
from collections.abc import Callable, Iterator
from typing import Any

import attrs
import pytest

from orderkit.adapters._postgres_ledger_rows import PostgresRows
from orderkit.adapters.postgres import PostgresLedgerStore
from orderkit.errors import (
    ConcurrencyConflict,
    HoldNotLive,
    InsufficientStock,
    OrderkitError,
)
from orderkit.inventory import HoldState, Movement, StockLine
from orderkit.ports import LedgerStore
from orderkit.services import Ledger
from orderkit.testing import FrozenClock


SKUS = ("HOT-A", "HOT-B", "HOT-C")
STOCK = 5
LOCATION = "WH-SH"
RUNS = 20
OPERATIONS = 2_000
START = dt.datetime(2026, 11, 11, tzinfo=dt.UTC)
TTL = dt.timedelta(seconds=20)


class _UnlockedRows(PostgresRows):
    """Reads the balances without `FOR UPDATE`: the condition's guard removed."""

    locking = False


class BrokenLedgerStore(PostgresLedgerStore):
    """The store with its row locks removed, to show the soak sees oversell."""

    rows_class = _UnlockedRows


@attrs.define
class Report:
    """What one process did in one run."""

    operations: int = 0
    granted: int = 0
    refused: int = 0
    shipped: int = 0
    conflicts: int = 0
    resolved: list[str] = attrs.Factory(list)
    retries: int = 0
    errors: list[str] = attrs.Factory(list)
    ended_at: dt.datetime = START


def _program(  # noqa: C901, PLR0912, PLR0915 - one random program, read top to bottom
    make_store: Callable[[], LedgerStore],
    seed: int,
    worker: int,
    operations: int,
    barrier: Any,
) -> Report:
    rng = random.Random(seed * 1_000 + worker)  # noqa: S311 - a reproducible program
    store = make_store()
    clock = FrozenClock(START + dt.timedelta(seconds=rng.randint(0, 3)))
    ledger = Ledger(store, clock, hold_ttl=TTL)
    actor = f"w{worker}"
    report = Report()
    live: list[str] = []
    committed: list[tuple[str, StockLine]] = []
    barrier.wait(timeout=120)
    for number in range(operations):
        clock.sleep(rng.choice((0, 0, 1, 2, 5)))
        action = rng.choices(
            ("reserve", "extend", "release", "commit", "ship", "sweep"),
            weights=(8, 1, 2, 3, 2, 1),
        )[0]
        report.operations += 1
        try:
            if action == "reserve" or (
                not live and action in {"extend", "release", "commit"}
            ):
                skus = rng.sample(SKUS, rng.choice((1, 1, 2)))
                lines = [
                    StockLine(sku, LOCATION, rng.choice((1, 1, 2))) for sku in skus
                ]
                try:
                    receipt = ledger.reserve(
                        f"{actor}-cart-{number}", lines, actor=actor
                    )
                except InsufficientStock:
                    report.refused += 1
                    continue
                report.granted += sum(line.quantity for line in lines)
                live.extend(hold.hold_id for hold in receipt.holds)
            elif action == "extend":
                with contextlib.suppress(HoldNotLive):
                    ledger.extend(rng.choice(live))
            elif action == "release":
                hold_id = live.pop(rng.randrange(len(live)))
                resolution = ledger.release(hold_id, actor=actor)
                if resolution.changed:
                    report.resolved.append(hold_id)
            elif action == "commit":
                hold_id = live.pop(rng.randrange(len(live)))
                try:
                    resolution = ledger.commit(hold_id, actor=actor)
                except HoldNotLive:
                    continue
                if resolution.changed:
                    report.resolved.append(hold_id)
                    hold = resolution.hold
                    committed.append(
                        (hold.owner, StockLine(hold.sku, hold.location, hold.quantity))
                    )
            elif action == "ship" and committed:
                owner, line = committed.pop(rng.randrange(len(committed)))
                ledger.ship(owner, [line], actor=actor)
                report.shipped += line.quantity
            else:
                report.resolved.extend(
                    m.hold_id for m in ledger.expire_due() if m.hold_id is not None
                )
        except ConcurrencyConflict:
            report.conflicts += 1
        except OrderkitError as exc:  # a broken store's symptom; counted, never hidden
            report.errors.append(f"{action}: {exc!r}")
    report.retries = int(getattr(store, "retries", 0))
    report.ended_at = clock.now()
    close = getattr(store, "close", None)
    if callable(close):
        close()
    return report


@attrs.define
class Tally:
    """The figures of every run of one process count."""

    runs: int = 0
    operations: int = 0
    interleavings: int = 0
    granted: int = 0
    refused: int = 0
    shipped: int = 0
    oversold: int = 0
    double_resolved: int = 0
    conflicts: int = 0
    retries: int = 0
    problems: list[str] = attrs.Factory(list)


def _check_run(  # noqa: C901, PLR0912, PLR0915 - every invariant, one after another
    dsn: str, reports: list[Report], tally: Tally
) -> None:
    """Every invariant against the database and the movements; counted into `tally`.

    Checked with a sound store at the latest time any process reached, so
    that the holds still live then are exactly the ones that count.
    """
    at = max(r.ended_at for r in reports)
    store = PostgresLedgerStore(dsn)
    ledger = Ledger(store, FrozenClock(at))
    problems = tally.problems
    # Oversell is counted from the holds, not the balance rows: a store that
    # loses updates keeps its rows tidy while handing out more than it has.
    live = collections.Counter[tuple[str, str]]()
    promised = collections.Counter[tuple[str, str]]()
    left = collections.Counter[tuple[str, str]]()
    for sku in SKUS:
        left[sku, LOCATION] = STOCK
    for hold in ledger.holds():
        row = (hold.sku, hold.location)
        left[row] -= hold.shipped
        if hold.state is HoldState.LIVE and hold.expires_at > at:
            live[row] += hold.quantity
            promised[row] += hold.quantity
        elif hold.state is HoldState.COMMITTED:
            promised[row] += hold.committed - hold.shipped
    shipped = sum(r.shipped for r in reports)
    if sum(left.values()) != STOCK * len(SKUS) - shipped:
        problems.append(f"the holds shipped other than the programs did ({shipped})")
    tally.oversold += sum(1 for row, units in promised.items() if units > left[row])
    for balance in ledger.balances():
        if balance.available < 0:
            tally.oversold += 1
        if min(balance.on_hand, balance.reserved, balance.allocated) < 0:
            problems.append(f"a figure below zero: {balance}")
        if balance.reserved != live[balance.sku, balance.location]:
            problems.append(f"reserved is not the live holds: {balance}")
        if balance.on_hand != left[balance.sku, balance.location]:
            problems.append(f"on hand is not received minus shipped: {balance}")
    try:
        if differences := ledger.audit():
            problems.append(f"replay differs from the balances: {differences}")
    except OrderkitError as exc:  # a corrupted ledger may not even sweep
        problems.append(f"the audit failed: {exc!r}")
    problems.extend(error for r in reports for error in r.errors)
    resolutions = collections.Counter(h for r in reports for h in r.resolved)
    tally.double_resolved += sum(1 for times in resolutions.values() if times > 1)
    movements: list[Movement] = []
    after = 0
    while page := ledger.movements(after=after, limit=1000):
        movements.extend(page)
        after = page[-1].seq
    actors = [m.actor for m in movements if m.actor.startswith("w")]
    tally.interleavings += sum(1 for a, b in itertools.pairwise(actors) if a != b)
    tally.runs += 1
    tally.operations += sum(r.operations for r in reports)
    tally.granted += sum(r.granted for r in reports)
    tally.refused += sum(r.refused for r in reports)
    tally.shipped += shipped
    tally.conflicts += sum(r.conflicts for r in reports)
    tally.retries += sum(r.retries for r in reports)
    store.close()


def _stock(make_store: Callable[[], LedgerStore]) -> None:
    store = make_store()
    ledger = Ledger(store, FrozenClock(START))
    for sku in SKUS:
        ledger.receive(sku, LOCATION, STOCK)
    close = getattr(store, "close", None)
    if callable(close):
        close()


@pytest.fixture(scope="module")
def pools() -> Iterator[dict[int, Any]]:
    """A pool of spawned processes per process count, reused by every run."""
    context = multiprocessing.get_context("spawn")
    made: dict[int, Any] = {}
    manager = context.Manager()
    made[0] = manager
    try:
        for processes in (2, 4):
            made[processes] = context.Pool(processes)
        yield made
    finally:
        for key, pool in made.items():
            if key:
                pool.terminate()
        manager.shutdown()


def _soak(
    store_class: Callable[[str], LedgerStore],
    pg_schemas: Callable[[], str],
    pools: dict[int, Any],
    processes: int,
    runs: int,
) -> Tally:
    tally = Tally()
    per_process = -(-OPERATIONS // (RUNS * processes))
    for seed in range(runs):
        dsn = pg_schemas()
        make_store = functools.partial(store_class, dsn)
        _stock(make_store)
        barrier = pools[0].Barrier(processes)
        pending = [
            pools[processes].apply_async(
                _program, (make_store, seed, worker, per_process, barrier)
            )
            for worker in range(processes)
        ]
        reports = [p.get(timeout=300) for p in pending]
        _check_run(dsn, reports, tally)
    return tally


@pytest.mark.parametrize("processes", [2, 4])
def test_processes_never_oversell_and_resolve_each_hold_once(
    processes: int,
    pg_schemas: Callable[[], str],
    pools: dict[int, Any],
    pg_figures: list[str],
) -> None:
    tally = _soak(PostgresLedgerStore, pg_schemas, pools, processes, RUNS)
    pg_figures.append(
        f"postgres ledger, {processes} processes x {tally.runs} runs:"
        f" {tally.operations} operations, {tally.interleavings} interleavings,"
        f" {tally.granted} units granted, {tally.refused} refused,"
        f" {tally.shipped} shipped, oversell = {tally.oversold},"
        f" double-resolved holds = {tally.double_resolved},"
        f" retries = {tally.retries}, conflicts raised = {tally.conflicts}"
    )
    assert tally.operations >= OPERATIONS
    assert tally.interleavings > 0
    assert tally.refused > 0, "the programs never ran the stock out"
    assert tally.problems == []
    assert tally.oversold == 0
    assert tally.double_resolved == 0


def test_the_soak_catches_a_store_without_its_row_locks(
    pg_schemas: Callable[[], str],
    pools: dict[int, Any],
    pg_figures: list[str],
) -> None:
    tally = _soak(BrokenLedgerStore, pg_schemas, pools, 4, 5)
    pg_figures.append(
        f"postgres ledger without row locks, 4 processes x {tally.runs} runs:"
        f" oversell = {tally.oversold}, problems = {len(tally.problems)}"
    )
    assert tally.oversold > 0


FLASH_ORDERS = 12_000
FLASH_STOCK = 50


def _flash_buyer(dsn: str, worker: int, orders: int, barrier: Any) -> int:
    """Reserve one unit per order for `orders` carts; return the units granted."""
    store = PostgresLedgerStore(dsn)
    ledger = Ledger(store, FrozenClock(START), hold_ttl=dt.timedelta(hours=1))
    granted = 0
    barrier.wait(timeout=120)
    for number in range(orders):
        try:
            ledger.reserve(
                f"w{worker}-order-{number}", [StockLine("FLASH", LOCATION, 1)]
            )
        except InsufficientStock:
            continue
        granted += 1
    store.close()
    return granted


def test_a_flash_sale_from_four_processes_grants_exactly_the_stock(
    pg_dsn: str, pools: dict[int, Any], pg_figures: list[str]
) -> None:
    with PostgresLedgerStore(pg_dsn) as store:
        Ledger(store, FrozenClock(START)).receive("FLASH", LOCATION, FLASH_STOCK)
    barrier = pools[0].Barrier(4)
    pending = [
        pools[4].apply_async(_flash_buyer, (pg_dsn, worker, FLASH_ORDERS // 4, barrier))
        for worker in range(4)
    ]
    granted = [p.get(timeout=600) for p in pending]
    with PostgresLedgerStore(pg_dsn) as store:
        ledger = Ledger(store, FrozenClock(START))
        balance = ledger.balance("FLASH", LOCATION)
        held = sum(h.quantity for h in ledger.holds(state=HoldState.LIVE))
    pg_figures.append(
        f"postgres flash sale: {FLASH_ORDERS} orders from 4 processes against"
        f" {FLASH_STOCK} units: {sum(granted)} granted {granted},"
        f" {FLASH_ORDERS - sum(granted)} refused"
    )
    assert sum(granted) == FLASH_STOCK
    assert held == FLASH_STOCK
    assert (balance.on_hand, balance.reserved, balance.available) == (
        FLASH_STOCK,
        FLASH_STOCK,
        0,
    )
