"""Workers: real OS processes driving their share of the day over one database.

Simulated time advances in ticks of five minutes. At each tick every worker
runs its steps due before the tick, then all wait at a barrier; worker 0
runs the back office's timers (expire, close, relay, monitor) while the
others wait at a second barrier; then all skip to the next tick that has
work. So the workers' clocks stay within one tick of each other (a hold
never expires early because another worker ran ahead), while within a tick
they write to the database at the same time, as real servers do.

No process is left waiting for one that is gone: the parent breaks the
barrier when a worker ends without a report, and a worker whose parent is
gone breaks it too, stops, and ends at once if stopping takes long.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import math
import multiprocessing as mp
import os
import queue
import signal
import threading
import time
from collections import Counter
from collections.abc import Callable
from multiprocessing.sharedctypes import Synchronized, SynchronizedArray
from typing import Any, Final, Protocol, final

import attrs
import pendulum

from orderkit.cli import _catalog as catalog
from orderkit.cli._backends import Database
from orderkit.cli._plans import Rates
from orderkit.cli._series import Recorded
from orderkit.cli._simulation import Driver
from orderkit.cli._sweeps import Sweeper, recover_sagas
from orderkit.cli._traffic import plan_day
from orderkit.cli._world import World
from orderkit.integrations import SettlementLine, TransactionKind
from orderkit.ports import UnitOfWork


TICK: Final = dt.timedelta(minutes=5)
_LAST_SWEEP: Final = dt.timedelta(hours=1)
"""How long after the last step the final sweep runs: past every deadline."""
_POLL: Final = 0.1
_JOIN: Final = 5.0
"""How long the parent waits for workers that reported to end."""
_STOP: Final = 1.0
"""How long the parent waits for workers told to stop before ending them."""
_GRACE: Final = 5.0
"""How long a worker whose parent is gone may take to stop before it ends."""

Progress = Callable[[int, pendulum.DateTime], None]
"""Told how many orders a worker has taken in, and its simulated time."""


@final
@attrs.frozen(slots=True)
class Job:
    """What every worker needs to draw and drive the same day."""

    target: str
    orders: int
    seed: int
    rates: Rates
    workers: int


@final
@attrs.frozen(slots=True)
class Report:
    """What a worker saw: counts, a few errors, its outside's checks, its series.

    `statement` is its fake provider's statements of every day of the run,
    one after the other.
    """

    tally: dict[str, int]
    errors: tuple[str, ...]
    refunds_over_captured: int
    effects_twice: int
    provider_holds: dict[str, int]
    ended_at: pendulum.DateTime
    sellable: dict[str, int]
    recorded: Recorded
    statement: tuple[SettlementLine, ...]


class Sync(Protocol):
    """How workers wait for each other at a tick."""

    def exchange(self, worker: int, next_at: pendulum.DateTime | None) -> list[float]:
        """Say when this worker's next step is due; hear everyone's."""
        ...

    def swept(self) -> None:
        """Wait until worker 0 has run the timers."""
        ...


@final
class Alone:
    """The `Sync` of a single worker: nobody to wait for."""

    def exchange(self, worker: int, next_at: pendulum.DateTime | None) -> list[float]:
        """Hear only this worker."""
        del worker
        return [math.inf if next_at is None else next_at.timestamp()]

    def swept(self) -> None:
        """Nothing to wait for."""


@final
class Shared:
    """The `Sync` of worker processes: a barrier and one slot per worker."""

    def __init__(self, barrier: Any, slots: SynchronizedArray[float]) -> None:  # noqa: ANN401 - multiprocessing's Barrier has no public type
        """Wait at `barrier`; say when the next step is due in `slots`."""
        self._barrier = barrier
        self._slots = slots

    def exchange(self, worker: int, next_at: pendulum.DateTime | None) -> list[float]:
        """Publish, wait for all, then read: nobody writes until `swept`."""
        self._slots[worker] = math.inf if next_at is None else next_at.timestamp()
        self._barrier.wait()
        return list(self._slots[:])

    def swept(self) -> None:
        """Wait at the barrier."""
        self._barrier.wait()


def _tick_after(instant: float) -> pendulum.DateTime:
    start = catalog.SPAN_START.timestamp()
    ticks = math.floor((instant - start) / TICK.total_seconds()) + 1
    return catalog.SPAN_START + TICK * ticks


def run_worker(
    job: Job, worker: int, unit: UnitOfWork, sync: Sync, progress: Progress
) -> Report:
    """Draw the day and drive this worker's share of it to the end."""
    tally: Counter[str] = Counter()
    world = World(unit, seed=job.seed, worker=worker, rates=job.rates, tally=tally)
    plans = plan_day(job.orders, job.seed, job.rates)
    driver = Driver(world, plans, worker=worker, workers=job.workers)
    sweeper = Sweeper(world) if worker == 0 else None
    tick = catalog.SPAN_START + TICK
    while True:
        driver.run_until(tick)
        progress(driver.arrived, world.clock.now())
        due = sync.exchange(worker, driver.next_at())
        if sweeper is not None:
            sweeper.sweep(tick)
        sync.swept()
        if min(due) == math.inf:
            break
        tick = _tick_after(min(due))
    # The end of the day, one worker at a time: worker 0 first runs every
    # timer (the unpaid orders close), then each worker recovers the sagas
    # of its own orders through its own fake provider and carriers.
    end = tick + _LAST_SWEEP
    for turn in range(job.workers):
        if turn == worker:
            if sweeper is not None:
                sweeper.sweep(end, final=True)
            world.clock.move_to(end)
            recover_sagas(world)
        sync.swept()
    if sweeper is not None:
        # Relay what the recoveries wrote, so the channels hear of it.
        sweeper.sweep(end, final=True)
    world.count_faults()
    return Report(
        tally=dict(tally),
        errors=tuple(driver.errors),
        refunds_over_captured=_over_captured(world),
        provider_holds=_holds(world),
        effects_twice=sum(
            count > 1
            for counter in (
                world.psp.effects,
                *(c.effects for c in world.carriers.values()),
            )
            for count in counter.values()
        ),
        ended_at=world.clock.now(),
        sellable={} if sweeper is None else dict(sweeper.sellable),
        recorded=driver.recorder.recorded,
        statement=_statement(world),
    )


def _statement(world: World) -> tuple[SettlementLine, ...]:
    """The provider's statements of every day its clock was in, first to last.

    The provider cuts its days in UTC, and the day runs past midnight UTC
    (evening in New York, morning in Shanghai): a statement of the first
    day alone would miss the night's money.
    """
    first = catalog.SPAN_START.in_timezone("UTC").date()
    last = world.clock.now().in_timezone("UTC").date()
    days = (first + dt.timedelta(days=n) for n in range((last - first).days + 1))
    return tuple(line for day in days for line in world.psp.statement(day))


def _over_captured(world: World) -> int:
    """Payments the provider refunded more of than it captured."""
    moved: dict[str, list[int]] = {}
    for transaction in world.psp.transactions:
        if transaction.succeeded and transaction.parent_id is not None:
            sums = moved.setdefault(transaction.parent_id, [0, 0])
            refund = transaction.kind is TransactionKind.REFUND
            sums[1 if refund else 0] += transaction.amount.minor
    return sum(refunded > captured for captured, refunded in moved.values())


def _holds(world: World) -> dict[str, int]:
    """What the provider holds of each payment: captured less refunded (minor units)."""
    held: dict[str, int] = {}
    for transaction in world.psp.transactions:
        if transaction.succeeded and transaction.parent_id is not None:
            sign = -1 if transaction.kind is TransactionKind.REFUND else 1
            payment = transaction.parent_id
            held[payment] = held.get(payment, 0) + sign * transaction.amount.minor
    return {payment: minor for payment, minor in held.items() if minor}


class _Orphaned(Exception):
    """The parent process is gone: nobody will read this worker's report."""


def _watch_parent(barrier: Any, results: Any, orphaned: threading.Event) -> None:  # noqa: ANN401 - multiprocessing's Barrier and Queue have no public type
    """Wait for the parent to die; then stop the worker, or end it at last."""
    parent = mp.parent_process()
    if parent is None:
        return
    parent.join()  # returns once the parent has ended
    # Nobody reads the queue now: exiting must not wait to flush it.
    results.cancel_join_thread()
    orphaned.set()
    with contextlib.suppress(Exception):
        barrier.abort()
    time.sleep(_GRACE)
    os._exit(1)  # stuck (a lock, a full pipe): nobody is left to tell


def _work(  # noqa: PLR0913, PLR0917 - each shared object is its own argument
    job: Job,
    worker: int,
    barrier: Any,  # noqa: ANN401 - multiprocessing's Barrier has no public type
    slots: SynchronizedArray[float],
    counts: SynchronizedArray[int],
    clock: Synchronized[float],
    results: Any,  # noqa: ANN401 - a multiprocessing queue
) -> None:
    """A worker process: drive its share, then put its report on `results`."""
    orphaned = threading.Event()
    threading.Thread(
        target=_watch_parent,
        args=(barrier, results, orphaned),
        name="orderkit-parent-watch",
        daemon=True,
    ).start()

    def told(arrived: int, now: pendulum.DateTime) -> None:
        if orphaned.is_set():
            raise _Orphaned("the parent process is gone")
        counts[worker] = arrived
        if worker == 0:
            clock.value = now.timestamp()

    try:
        database = Database(job.target)
        try:
            unit = database.open()
            report = run_worker(job, worker, unit, Shared(barrier, slots), told)
        finally:
            database.close()
    except BaseException as error:  # noqa: BLE001 - reported to the parent, whatever it is
        barrier.abort()
        results.put((worker, None, f"worker {worker}: {type(error).__name__}: {error}"))
        return
    results.put((worker, report, None))


def run_processes(job: Job, progress: Progress) -> list[Report]:
    """Run `job.workers` worker processes to the end; their reports, in order.

    Raises:
        RuntimeError: A worker failed; the message says which and why.
    """
    context = mp.get_context("spawn")
    barrier = context.Barrier(job.workers)
    slots = context.Array("d", job.workers)
    counts = context.Array("q", job.workers)
    clock = context.Value("d", catalog.SPAN_START.timestamp())
    results = context.Queue()
    processes = [
        context.Process(
            target=_work,
            args=(job, worker, barrier, slots, counts, clock, results),
            name=f"orderkit-simulate-{worker}",
        )
        for worker in range(job.workers)
    ]
    for process in processes:
        process.start()
    reports: dict[int, Report] = {}
    failures: list[str] = []
    heard: set[int] = set()
    try:
        while len(heard) < job.workers:
            try:
                worker, report, failure = results.get(timeout=_POLL)
            except queue.Empty:
                progress(sum(counts[:]), pendulum.from_timestamp(clock.value))
                dead = _dead(processes, heard, results)
                if dead:
                    # The others would wait for the dead at the barrier.
                    barrier.abort()
                    heard.update(dead)
                    failures.extend(dead.values())
                continue
            heard.add(worker)
            if failure is not None:
                failures.append(failure)
            else:
                reports[worker] = report
    finally:
        _end(processes, barrier, early=len(reports) < job.workers)
    if failures:
        # A worker that failed breaks the barrier for the others: its own
        # message says why, theirs only that the barrier broke.
        failures.sort(key=lambda f: "BrokenBarrierError" in f)
        raise RuntimeError(failures[0])
    return [reports[w] for w in range(job.workers)]


def _dead(processes: list[Any], heard: set[int], results: Any) -> dict[int, str]:  # noqa: ANN401 - a multiprocessing queue
    """The workers that ended without a report, each with its failure."""
    ended = {
        worker: process.exitcode
        for worker, process in enumerate(processes)
        if worker not in heard and process.exitcode is not None
    }
    if not ended or not results.empty():
        # A worker flushes its report before it ends: read that first.
        return {}
    return {
        worker: f"worker {worker} ended without a report ({_exit_code(code)})"
        for worker, code in ended.items()
    }


def _exit_code(code: int) -> str:
    if code < 0:
        with contextlib.suppress(ValueError):
            return f"exit code {code}, killed by {signal.Signals(-code).name}"
    return f"exit code {code}"


def _end(processes: list[Any], barrier: Any, *, early: bool) -> None:  # noqa: ANN401 - multiprocessing's Barrier has no public type
    """Wait for the workers to end; end those that do not.

    When the parent stops early (a failure, Ctrl-C, SIGTERM), the workers
    still running are told to stop at their next tick, then terminated.
    """
    if early:
        barrier.abort()
    deadline = time.monotonic() + (_STOP if early else _JOIN)
    for process in processes:
        process.join(timeout=max(deadline - time.monotonic(), 0))
    for process in processes:
        if process.is_alive():
            process.terminate()
    for process in processes:
        process.join(timeout=_STOP)
        if process.is_alive():
            process.kill()
            process.join()


def run_here(job: Job, unit: UnitOfWork, progress: Progress) -> list[Report]:
    """Run the single worker in this process, over `unit`."""
    return [run_worker(job, 0, unit, Alone(), progress)]
