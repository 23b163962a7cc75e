"""ledger: the inventory ledger (`Ledger`) over its stores, beside hand-written floors.

Memory store, one operation = one reservation resolved:

- ``ledger.memory.reserve_commit@N`` / ``ledger.memory.reserve_release@N``
  (N = 1e3, 1e5, 1e6 SKUs, all received beforehand at one location with
  plenty of stock): ``Ledger.reserve`` of one unit of a random SKU (a
  ``StockLine`` built per call, as a caller does), then ``commit`` (or
  ``release``) of that hold, through ``Ledger`` over ``MemoryLedgerStore``.
  The SKUs are drawn from 262,144 random picks made in setup, so at 1e6 the
  work touches memory all over the store. Setup, untimed, runs once per N
  (commit and release share it, and grow it: the store keeps every hold,
  movement and receipt) and receives the stock in plans of 10,000 movements
  through ``MemoryLedgerStore.apply``. The clock moves on past the hold TTL
  after every call (100 operations), as time passes between batches, so the
  stale expiry entries that resolved holds leave behind are swept as they
  fall due and a figure does not depend on how long it ran.
- ``ledger.memory.scaling.reserve_commit`` / ``...reserve_release``: the
  slowdown from 1e3 to 1e6 SKUs (rate at 1e3 / rate at 1e6) of the ledger
  beside the floor's own slowdown in the same run; the ratio is floor
  slowdown / ledger slowdown (goal: at least 0.8, i.e. the ledger slows down
  at most 1.25x as much as the floor).
- ``ledger.memory.bytes_per_hold`` (lower is better): memory retained
  (tracemalloc) per outstanding hold after 20,000 reservations, one per
  cart, of random SKUs among 1,000 in a fresh store: the hold, its
  movement, its receipt, expiry entries, idempotency keys, the cart's name.
- ``ledger.memory.expire_sweep``: ``Ledger.expire_due`` sweeping 500,000 due
  holds out of 1,000,000 live ones (half placed with a 5-minute TTL, half
  with 60 minutes; 10 holds per SKU over 100,000 SKUs), in holds expired per
  second; ``...expire_sweep.seconds`` is the time of that one sweep. With
  ``--quick``, a tenth of those sizes (100,000 live, 50,000 due). One
  sweep each, garbage collector off, as the timed figures are.

The ``floor`` of the memory figures is the least code doing the same job: a
dict of ``[on_hand, reserved, allocated]`` per SKU, a dict of holds
``id -> (sku, quantity, expires_at)`` with integer ids, a ``heapq`` of
``(expires_at, id)``; reserve checks ``available >= quantity``, commit moves
reserved to allocated, release returns it, a sweep pops due entries (skipping
holds resolved meanwhile). No validation, no movements, no receipts, no
idempotency.

A second baseline, ``least_ledger``, shows where the goal stands: the least a
ledger can do that keeps what issue #3 asks of each operation, run by the
same loop as orderkit's (``reserve(owner, [StockLine(...)])``, then
``commit`` or ``release`` of ``receipt.holds[0].hold_id``). The floor's
dicts and heap, plus: the owner checked to be text; a key drawn per
operation as ``Ledger`` draws its keys; a hold object (slots, mutable) with
its id, owner, line, expiry and state; one movement tuple (key, kind, line,
time, reason, actor) appended to a log per operation; a resolved hold kept,
so that resolving it again is a no-op that says so. One line per
reservation only, no policy, no receipt beyond the hold, no sweep, no undo.

SQLite store (needs ``orderkit.adapters.sqlite``; skipped before it lands):

- ``ledger.sqlite.reserve``: one reservation per transaction, ``Ledger``
  over ``SqliteLedgerStore`` on a file in a temporary directory;
- ``ledger.sqlite.reserve_batch``: ``SqliteLedgerStore.apply_many`` of 100
  reservation plans, built as ``Ledger.reserve`` builds them
  (``orderkit.inventory._planning.reserve``), plan building included.

Their baseline ``raw_sqlite`` is ``sqlite3`` doing the same conditional
update, ``UPDATE stock SET reserved = reserved + ? WHERE sku = ? AND on_hand -
reserved - allocated >= ?`` (one per ``BEGIN IMMEDIATE ... COMMIT``, or 100
in one transaction for the batch) on a file with the store's pragmas
(``use_wal``: WAL, ``synchronous=NORMAL``, 1 KiB pages, a 16,000-page
WAL). Both pick random SKUs among
1,000; each reservation is for a new cart, and the clock stands still, so
the holds stay live and the store's tables grow as the figure runs (as a
busy store's do). Each figure starts from fresh files. Commit and release
are not measured on SQLite.

Both have a second baseline, ``least_sqlite``: the least any ledger that
keeps its holds in SQLite must write, to show where the goal stands. It is
raw ``sqlite3`` doing the same conditional update plus one ``INSERT`` per
reservation into a table of holds that is also their movement log (owner,
line, placed and expiry instants, key, reason, actor; the rowid is the
hold's id) with the one index that sweeping expired holds in O(expired)
needs (on the expiry), the key drawn as ``Ledger`` draws its keys, on its
own file with the same pragmas and transactions. No hold-id or owner index,
no receipt, no separate movement, no planning. Its rate against
``raw_sqlite``'s is the best ratio any such store could reach.
"""

from __future__ import annotations

import atexit
import datetime as dt
import functools
import gc
import heapq
import importlib
import random
import secrets
import shutil
import sqlite3
import tempfile
import time
import tracemalloc
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pendulum

from _harness import Computed, Context, Figure
from orderkit.adapters._sqlite_session import use_wal
from orderkit.adapters.memory import MemoryLedgerStore
from orderkit.dedupe._tokens import draw_token
from orderkit.inventory import (
    HoldState,
    Movement,
    MovementKind,
    Plan,
    Receipt,
    StockLine,
)
from orderkit.inventory import _planning as planning
from orderkit.ports import LedgerStore
from orderkit.services import Ledger
from orderkit.testing import FrozenClock


LOCATION = "WH-1"
STOCK = 10**12
TTL = dt.timedelta(minutes=15)
PAST_TTL = TTL + dt.timedelta(seconds=1)
OPS_PER_CALL = 100
PICKS = 1 << 18
RECEIVE_CHUNK = 10_000
SIZES = {"1e3": 1_000, "1e5": 100_000, "1e6": 1_000_000}
OWNERS = [f"cart-{n}" for n in range(1024)]

BYTES_HOLDS = 20_000
BYTES_SKUS = 1_000

SWEEP_LIVE = 1_000_000
SWEEP_LIVE_QUICK = 100_000
SWEEP_HOLDS_PER_SKU = 10
SWEEP_LINES = 1_000
SWEEP_SHORT = dt.timedelta(minutes=5)
SWEEP_LONG = dt.timedelta(minutes=60)

SQLITE_MODULE = "orderkit.adapters.sqlite"
SQLITE_SKUS = 1_000
SQLITE_OPS = 20
SQLITE_BATCH = 100


def _skus(n: int) -> list[str]:
    return [f"SKU-{i:07d}" for i in range(n)]


def _picks(skus: Sequence[str], seed: int, count: int) -> list[str]:
    """Reproducible random picks among `skus`."""
    return random.Random(seed).choices(skus, k=count)  # noqa: S311 - not a secret


def _receive_all(
    store: LedgerStore, skus: Sequence[str], now: pendulum.DateTime
) -> None:
    """Receive `STOCK` of every SKU through the store, in large plans."""
    for start in range(0, len(skus), RECEIVE_CHUNK):
        key = f"receive-{start}"
        movements = [
            Movement(
                key=key,
                index=i,
                kind=MovementKind.RECEIVE,
                sku=sku,
                location=LOCATION,
                on_hand=STOCK,
                at=now,
            )
            for i, sku in enumerate(skus[start : start + RECEIVE_CHUNK])
        ]
        store.apply(Plan(key=key, now=now, movements=movements))


@contextmanager
def _gc_off() -> Iterator[None]:
    was_enabled = gc.isenabled()
    gc.collect()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


# The floor ------------------------------------------------------------------


class Floor:
    """The least a ledger can do: balances, holds and expiries in dicts and a heap."""

    def __init__(self, skus: Sequence[str], stock: int) -> None:
        self.balances = {sku: [stock, 0, 0] for sku in skus}
        self.holds: dict[int, tuple[str, int, float]] = {}
        self.expiries: list[tuple[float, int]] = []
        self.last_id = 0
        self.now = 0.0

    def reserve(self, sku: str, quantity: int, ttl: float) -> int:
        balance = self.balances[sku]
        if balance[0] - balance[1] - balance[2] < quantity:
            raise ValueError(sku)
        balance[1] += quantity
        self.last_id += 1
        hold_id = self.last_id
        expires_at = self.now + ttl
        self.holds[hold_id] = (sku, quantity, expires_at)
        heapq.heappush(self.expiries, (expires_at, hold_id))
        return hold_id

    def commit(self, hold_id: int) -> None:
        sku, quantity, _ = self.holds.pop(hold_id)
        balance = self.balances[sku]
        balance[1] -= quantity
        balance[2] += quantity

    def release(self, hold_id: int) -> None:
        sku, quantity, _ = self.holds.pop(hold_id)
        self.balances[sku][1] -= quantity

    def expire_due(self) -> int:
        expiries, holds, balances = self.expiries, self.holds, self.balances
        expired = 0
        while expiries and expiries[0][0] <= self.now:
            hold = holds.pop(heapq.heappop(expiries)[1], None)
            if hold is not None:
                balances[hold[0]][1] -= hold[1]
                expired += 1
        return expired


FLOOR_TTL = TTL.total_seconds()
FLOOR_PAST_TTL = PAST_TTL.total_seconds()


# The least ledger ------------------------------------------------------------


class _LeastHold:
    __slots__ = (
        "expires_at",
        "hold_id",
        "location",
        "owner",
        "quantity",
        "sku",
        "state",
    )
    expires_at: float
    hold_id: str
    location: str
    owner: str
    quantity: int
    sku: str
    state: HoldState


class _LeastReceipt:
    __slots__ = ("holds", "key")
    holds: tuple[_LeastHold, ...]
    key: str


class Least:
    """The least a ledger can do that keeps what issue #3 asks of each operation."""

    def __init__(
        self, skus: Sequence[str], stock: int, location: str = LOCATION
    ) -> None:
        self.balances = {(sku, location): [stock, 0, 0] for sku in skus}
        self.holds: dict[str, _LeastHold] = {}
        self.log: list[tuple[object, ...]] = []
        self.expiries: list[tuple[float, str]] = []
        self.now = 0.0

    def reserve(self, owner: str, lines: Sequence[StockLine]) -> _LeastReceipt:
        if type(owner) is not str or not owner:
            raise ValueError(owner)
        (line,) = lines
        sku, location, quantity = line.sku, line.location, line.quantity
        balance = self.balances[sku, location]
        if balance[0] - balance[1] - balance[2] < quantity:
            raise ValueError(sku)
        balance[1] += quantity
        key = draw_token()
        hold = _LeastHold()
        hold.hold_id = hold_id = key + "/0"
        hold.owner = owner
        hold.sku = sku
        hold.location = location
        hold.quantity = quantity
        hold.expires_at = expires_at = self.now + FLOOR_TTL
        hold.state = HoldState.LIVE
        self.holds[hold_id] = hold
        self.log.append((key, "hold", sku, location, quantity, self.now, "", "system"))
        heapq.heappush(self.expiries, (expires_at, hold_id))
        receipt = _LeastReceipt()
        receipt.key = key
        receipt.holds = (hold,)
        return receipt

    def reserve_all(
        self, owner: str, location: str, lines: Sequence[tuple[str, int]]
    ) -> _LeastReceipt:
        """Several lines, all or nothing: one key, a hold and a movement per line.

        Demand for one SKU is not summed: the lines' SKUs are distinct.
        """
        if type(owner) is not str or not owner:
            raise ValueError(owner)
        balances = self.balances
        rows = [balances[sku, location] for sku, _ in lines]
        for (sku, quantity), balance in zip(lines, rows, strict=True):
            if balance[0] - balance[1] - balance[2] < quantity:
                raise ValueError(sku)
        key = draw_token()
        now = self.now
        expires_at = now + FLOOR_TTL
        holds = []
        for n, ((sku, quantity), balance) in enumerate(zip(lines, rows, strict=True)):
            balance[1] += quantity
            hold = _LeastHold()
            hold.hold_id = hold_id = f"{key}/{n}"
            hold.owner = owner
            hold.sku = sku
            hold.location = location
            hold.quantity = quantity
            hold.expires_at = expires_at
            hold.state = HoldState.LIVE
            self.holds[hold_id] = hold
            self.log.append((key, "hold", sku, location, quantity, now, "", "system"))
            heapq.heappush(self.expiries, (expires_at, hold_id))
            holds.append(hold)
        receipt = _LeastReceipt()
        receipt.key = key
        receipt.holds = tuple(holds)
        return receipt

    def commit(self, hold_id: str) -> bool:
        return self._resolve(hold_id, HoldState.COMMITTED, "commit")

    def release(self, hold_id: str) -> bool:
        return self._resolve(hold_id, HoldState.RELEASED, "release")

    def _resolve(self, hold_id: str, state: HoldState, kind: str) -> bool:
        hold = self.holds[hold_id]
        if hold.state is not HoldState.LIVE:
            return False  # resolved before: a no-op that says so
        hold.state = state
        quantity = hold.quantity
        balance = self.balances[hold.sku, hold.location]
        balance[1] -= quantity
        if state is HoldState.COMMITTED:
            balance[2] += quantity
        key = draw_token()
        self.log.append(
            (key, kind, hold.sku, hold.location, quantity, self.now, "", "system")
        )
        return True


# reserve, then commit or release, at N SKUs --------------------------------


class _Stocked:
    """A ledger and a floor holding the same N SKUs, and random picks among them."""

    def __init__(self, n: int) -> None:
        skus = _skus(n)
        self.n = n
        self.clock = FrozenClock()
        self.store = MemoryLedgerStore()
        _receive_all(self.store, skus, self.clock.now())
        self.ledger = Ledger(self.store, self.clock, hold_ttl=TTL)
        self.floor = Floor(skus, STOCK)
        self.least = Least(skus, STOCK)
        self.picks = _picks(skus, n, PICKS)
        self.ledger_at = 0
        self.floor_at = 0
        self.least_at = 0


_stocked: list[_Stocked] = []


def _stock(n: int) -> None:
    if _stocked and _stocked[0].n == n:
        return
    _stocked.clear()  # one N at a time: drop the last one's memory first
    gc.collect()
    _stocked.append(_Stocked(n))


def _drop_stocked() -> None:
    _stocked.clear()
    gc.collect()


def _current(n: int) -> _Stocked:
    state = _stocked[0]
    assert state.n == n, "the figure's setup did not run"
    return state


def _reserve_resolve(ledger: Any, picks: list[str], start: int, *, commit: bool) -> int:
    """`OPS_PER_CALL` reservations through `ledger`, each hold then resolved.

    `ledger` is orderkit's `Ledger` or `Least`: the same calls, as a caller
    makes them. Returns where the next call starts.
    """
    reserve = ledger.reserve
    resolve = ledger.commit if commit else ledger.release
    for i in range(start, start + OPS_PER_CALL):
        receipt = reserve(
            OWNERS[i & 1023], [StockLine(picks[i & (PICKS - 1)], LOCATION, 1)]
        )
        resolve(receipt.holds[0].hold_id)
    return start + OPS_PER_CALL


def _ledger_cycle(n: int, *, commit: bool) -> Callable[[], None]:
    def run() -> None:
        state = _current(n)
        state.ledger_at = _reserve_resolve(
            state.ledger, state.picks, state.ledger_at, commit=commit
        )
        state.clock.advance(seconds=PAST_TTL.total_seconds())

    run.__name__ = f"ledger_{'commit' if commit else 'release'}_{n}"
    return run


def _least_cycle(n: int, *, commit: bool) -> Callable[[], None]:
    def run() -> None:
        state = _current(n)
        state.least_at = _reserve_resolve(
            state.least, state.picks, state.least_at, commit=commit
        )
        state.least.now += FLOOR_PAST_TTL

    run.__name__ = f"least_{'commit' if commit else 'release'}_{n}"
    return run


def _floor_cycle(n: int, *, commit: bool) -> Callable[[], None]:
    def run() -> None:
        state = _current(n)
        floor = state.floor
        reserve = floor.reserve
        resolve = floor.commit if commit else floor.release
        picks = state.picks
        start = state.floor_at
        for i in range(start, start + OPS_PER_CALL):
            resolve(reserve(picks[i & (PICKS - 1)], 1, FLOOR_TTL))
        state.floor_at = start + OPS_PER_CALL
        floor.now += FLOOR_PAST_TTL

    run.__name__ = f"floor_{'commit' if commit else 'release'}_{n}"
    return run


def _cycle_figures() -> list[Figure]:
    figures = []
    for label, n in SIZES.items():
        for op, commit in (("reserve_commit", True), ("reserve_release", False)):
            figures.append(
                Figure(
                    name=f"ledger.memory.{op}@{label}",
                    unit="ops/s",
                    run=_ledger_cycle(n, commit=commit),
                    ops_per_call=OPS_PER_CALL,
                    baselines={
                        "floor": _floor_cycle(n, commit=commit),
                        "least_ledger": _least_cycle(n, commit=commit),
                    },
                    description=(
                        f"reserve one unit of a random SKU among {n:,}, then "
                        f"{op.partition('_')[2]} the hold (goal: within 5x of floor)"
                    ),
                    setup=functools.partial(_stock, n),
                )
            )
    return figures


def _slowdown(op: str, baseline: str | None) -> Callable[[Context], float]:
    def slowdown(context: Context) -> float:
        small = context.value(f"ledger.memory.{op}@1e3", baseline)
        large = context.value(f"ledger.memory.{op}@1e6", baseline)
        return small / large

    return slowdown


def _scaling_figures() -> list[Computed]:
    return [
        Computed(
            name=f"ledger.memory.scaling.{op}",
            unit="x slower",
            run=_slowdown(op, None),
            baselines={"floor": _slowdown(op, "floor")},
            lower_is_better=True,
            description=(
                f"{op} rate at 1e3 SKUs / rate at 1e6 SKUs; ratio = floor slowdown"
                " / ledger slowdown (goal: at least 0.8)"
            ),
        )
        for op in ("reserve_commit", "reserve_release")
    ]


# bytes per outstanding hold --------------------------------------------------


@contextmanager
def _traced() -> Iterator[Callable[[], int]]:
    """Trace allocations; yield a function returning the bytes traced now."""
    gc.collect()
    tracemalloc.start()
    try:

        def current() -> int:
            gc.collect()
            return tracemalloc.get_traced_memory()[0]

        yield current
    finally:
        tracemalloc.stop()


def ledger_bytes_per_hold(_context: Context) -> float:
    _drop_stocked()
    skus = _skus(BYTES_SKUS)
    clock = FrozenClock()
    store = MemoryLedgerStore()
    _receive_all(store, skus, clock.now())
    ledger = Ledger(store, clock, hold_ttl=TTL)
    picks = _picks(skus, 1, BYTES_HOLDS)
    with _traced() as traced:
        before = traced()
        for i, sku in enumerate(picks):
            ledger.reserve(f"cart-{i}", [StockLine(sku, LOCATION, 1)])
        retained = traced() - before
    assert len(store.holds(state=HoldState.LIVE)) == BYTES_HOLDS
    return retained / BYTES_HOLDS


def floor_bytes_per_hold(_context: Context) -> float:
    skus = _skus(BYTES_SKUS)
    floor = Floor(skus, STOCK)
    picks = _picks(skus, 1, BYTES_HOLDS)
    with _traced() as traced:
        before = traced()
        for sku in picks:
            floor.reserve(sku, 1, FLOOR_TTL)
        retained = traced() - before
    assert len(floor.holds) == BYTES_HOLDS
    return retained / BYTES_HOLDS


# the expiry sweep ------------------------------------------------------------


def _sweep_size(context: Context) -> tuple[int, int]:
    """Live holds and the due ones among them, a tenth in a quick run."""
    live = SWEEP_LIVE_QUICK if context.budget.quick else SWEEP_LIVE
    return live, live // 2


def ledger_expire_sweep(context: Context) -> float:
    _drop_stocked()
    live, due = _sweep_size(context)
    skus = _skus(live // SWEEP_HOLDS_PER_SKU)
    clock = FrozenClock()
    store = MemoryLedgerStore()
    _receive_all(store, skus, clock.now())
    ledger = Ledger(store, clock, hold_ttl=TTL)
    # One hold per SKU per reservation of SWEEP_LINES lines; the rounds
    # alternate short and long TTLs, so every SKU has half of each.
    calls = 0
    for round_ in range(SWEEP_HOLDS_PER_SKU):
        ttl = SWEEP_SHORT if round_ % 2 == 0 else SWEEP_LONG
        for start in range(0, len(skus), SWEEP_LINES):
            lines = [
                StockLine(s, LOCATION, 1) for s in skus[start : start + SWEEP_LINES]
            ]
            ledger.reserve(f"sweep-{calls}", lines, ttl=ttl)
            calls += 1
    clock.advance(minutes=30)
    with _gc_off():
        start_s = time.perf_counter()
        expired = ledger.expire_due()
        elapsed = time.perf_counter() - start_s
    assert len(expired) == due, (len(expired), due)
    return due / elapsed


def floor_expire_sweep(context: Context) -> float:
    live, due = _sweep_size(context)
    skus = _skus(live // SWEEP_HOLDS_PER_SKU)
    floor = Floor(skus, STOCK)
    short, long = SWEEP_SHORT.total_seconds(), SWEEP_LONG.total_seconds()
    for round_ in range(SWEEP_HOLDS_PER_SKU):
        ttl = short if round_ % 2 == 0 else long
        for sku in skus:
            floor.reserve(sku, 1, ttl)
    floor.now += 30 * 60
    with _gc_off():
        start_s = time.perf_counter()
        expired = floor.expire_due()
        elapsed = time.perf_counter() - start_s
    assert expired == due, (expired, due)
    return due / elapsed


def _sweep_seconds(baseline: str | None) -> Callable[[Context], float]:
    def seconds(context: Context) -> float:
        _, due = _sweep_size(context)
        return due / context.value("ledger.memory.expire_sweep", baseline)

    return seconds


# SQLite ----------------------------------------------------------------------


def _raw_stock(path: Path, skus: Sequence[str]) -> sqlite3.Connection:
    """A raw stock table of `skus` in a new file with the store's pragmas."""
    raw = sqlite3.connect(path, isolation_level=None)
    use_wal(raw, 5.0)  # the stores' own pragmas
    raw.execute(
        "CREATE TABLE stock (sku TEXT PRIMARY KEY, on_hand INTEGER NOT NULL,"
        " reserved INTEGER NOT NULL, allocated INTEGER NOT NULL)"
    )
    raw.execute("BEGIN IMMEDIATE")
    raw.executemany("INSERT INTO stock VALUES (?, ?, 0, 0)", [(s, STOCK) for s in skus])
    raw.execute("COMMIT")
    return raw


class _Sqlite:
    """A `SqliteLedgerStore` and raw tables with the same SKUs, in a temp dir."""

    def __init__(self) -> None:
        module: Any = importlib.import_module(SQLITE_MODULE)
        self.directory = Path(tempfile.mkdtemp(prefix="orderkit-bench-"))
        skus = _skus(SQLITE_SKUS)
        self.clock = FrozenClock()
        self.store: Any = module.SqliteLedgerStore(self.directory / "ledger.db")
        _receive_all(self.store, skus, self.clock.now())
        self.ledger = Ledger(self.store, self.clock, hold_ttl=TTL)
        self.raw = _raw_stock(self.directory / "raw.db", skus)
        self.least = _raw_stock(self.directory / "least.db", skus)
        self.least.execute(LEAST_TABLE)
        self.least.execute(LEAST_INDEX)
        self.placed_us = round(self.clock.now().timestamp() * 1e6)
        self.expires_us = round((self.clock.now() + TTL).timestamp() * 1e6)
        self.picks = _picks(skus, 3, PICKS)
        self.at = 0
        self.owners = 0

    def next_picks(self, count: int) -> list[str]:
        start = self.at
        self.at += count
        return [self.picks[i & (PICKS - 1)] for i in range(start, start + count)]

    def next_owner(self) -> str:
        self.owners += 1
        return f"cart-{self.owners}"

    def close(self) -> None:
        self.raw.close()
        self.least.close()
        close = getattr(self.store, "close", None)
        if callable(close):
            close()
        shutil.rmtree(self.directory, ignore_errors=True)


_sqlite: list[_Sqlite] = []


def _close_sqlite() -> None:
    while _sqlite:
        _sqlite.pop().close()


def _open_sqlite() -> None:
    """A fresh store and raw table per figure, so that no figure's tables
    depend on which figures ran before it."""
    _drop_stocked()
    _close_sqlite()
    _sqlite.append(_Sqlite())


atexit.register(_close_sqlite)


RAW_UPDATE = (
    "UPDATE stock SET reserved = reserved + ? "
    "WHERE sku = ? AND on_hand - reserved - allocated >= ?"
)

# The least a store that keeps its holds in SQLite writes besides the update:
# one row per hold that is also the hold's movement (issue #3: a movement has
# a reason, an actor, a time and an idempotency key; the rowid is the hold's
# id), and the index on expiry that sweeping in O(expired) needs.
LEAST_TABLE = (
    "CREATE TABLE holds (owner TEXT NOT NULL, sku TEXT NOT NULL,"
    " location TEXT NOT NULL, quantity INTEGER NOT NULL,"
    " placed_us INTEGER NOT NULL, expires_us INTEGER NOT NULL,"
    " key TEXT NOT NULL, reason TEXT NOT NULL, actor TEXT NOT NULL)"
)
LEAST_INDEX = "CREATE INDEX holds_by_expiry ON holds (expires_us)"
LEAST_INSERT = "INSERT INTO holds VALUES (?, ?, ?, ?, ?, ?, ?, '', 'system')"


def sqlite_reserve() -> None:
    bench = _sqlite[0]
    for sku in bench.next_picks(SQLITE_OPS):
        bench.ledger.reserve(bench.next_owner(), [StockLine(sku, LOCATION, 1)])


def raw_sqlite_reserve() -> None:
    bench = _sqlite[0]
    execute = bench.raw.execute
    for sku in bench.next_picks(SQLITE_OPS):
        execute("BEGIN IMMEDIATE")
        if execute(RAW_UPDATE, (1, sku, 1)).rowcount != 1:
            raise ValueError(sku)
        execute("COMMIT")


def least_sqlite_reserve() -> None:
    bench = _sqlite[0]
    execute = bench.least.execute
    for sku in bench.next_picks(SQLITE_OPS):
        execute("BEGIN IMMEDIATE")
        _least_hold(execute, bench, sku)
        execute("COMMIT")


def _least_hold(
    execute: Callable[..., sqlite3.Cursor], bench: _Sqlite, sku: str
) -> None:
    if execute(RAW_UPDATE, (1, sku, 1)).rowcount != 1:
        raise ValueError(sku)
    # fmt: off
    execute(LEAST_INSERT, (
        bench.next_owner(), sku, LOCATION, 1, bench.placed_us, bench.expires_us,
        secrets.token_urlsafe(16),  # as Ledger draws keys
    ))
    # fmt: on


def sqlite_reserve_batch() -> None:
    bench = _sqlite[0]
    now = bench.clock.now()
    expires_at = now + TTL
    plans = [
        planning.reserve(
            planning.Stamp(secrets.token_urlsafe(16), now),  # as Ledger draws keys
            bench.next_owner(),
            [StockLine(sku, LOCATION, 1)],
            expires_at,
        )
        for sku in bench.next_picks(SQLITE_BATCH)
    ]
    for result in bench.store.apply_many(plans):
        if not isinstance(result, Receipt):
            raise result


def raw_sqlite_reserve_batch() -> None:
    bench = _sqlite[0]
    execute = bench.raw.execute
    execute("BEGIN IMMEDIATE")
    for sku in bench.next_picks(SQLITE_BATCH):
        if execute(RAW_UPDATE, (1, sku, 1)).rowcount != 1:
            raise ValueError(sku)
    execute("COMMIT")


def least_sqlite_reserve_batch() -> None:
    bench = _sqlite[0]
    execute = bench.least.execute
    execute("BEGIN IMMEDIATE")
    for sku in bench.next_picks(SQLITE_BATCH):
        _least_hold(execute, bench, sku)
    execute("COMMIT")


FIGURES: list[Figure | Computed] = [
    *_cycle_figures(),
    *_scaling_figures(),
    Computed(
        name="ledger.memory.bytes_per_hold",
        unit="bytes",
        run=ledger_bytes_per_hold,
        baselines={"floor": floor_bytes_per_hold},
        lower_is_better=True,
        description=(
            f"tracemalloc: bytes retained per outstanding hold after {BYTES_HOLDS:,}"
            " reservations in a fresh store (goal: under 600)"
        ),
    ),
    Computed(
        name="ledger.memory.expire_sweep",
        unit="holds/s",
        run=ledger_expire_sweep,
        baselines={"floor": floor_expire_sweep},
        description="expire_due over 500,000 due of 1,000,000 live (quick: a tenth)",
    ),
    Computed(
        name="ledger.memory.expire_sweep.seconds",
        unit="s",
        run=_sweep_seconds(None),
        baselines={"floor": _sweep_seconds("floor")},
        lower_is_better=True,
        description="the time of that one sweep",
    ),
    Figure(
        name="ledger.sqlite.reserve",
        unit="ops/s",
        run=sqlite_reserve,
        ops_per_call=SQLITE_OPS,
        baselines={
            "raw_sqlite": raw_sqlite_reserve,
            "least_sqlite": least_sqlite_reserve,
        },
        requires=(SQLITE_MODULE,),
        description="one reservation per transaction (goal: half the raw rate)",
        setup=_open_sqlite,
    ),
    Figure(
        name="ledger.sqlite.reserve_batch",
        unit="ops/s",
        run=sqlite_reserve_batch,
        ops_per_call=SQLITE_BATCH,
        baselines={
            "raw_sqlite": raw_sqlite_reserve_batch,
            "least_sqlite": least_sqlite_reserve_batch,
        },
        requires=(SQLITE_MODULE,),
        description=(
            f"apply_many of {SQLITE_BATCH} reservation plans (goal: half the raw rate)"
        ),
        setup=_open_sqlite,
    ),
]
