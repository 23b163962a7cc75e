"""The PostgreSQL ledger's one-call path: one round trip, and the engine's results.

Most plans are applied by one call of `orderkit_ledger_apply`; the rest go
through the shared engine. A story of every kind of plan runs twice, once
as the store applies it and once with the one call switched off, and both
must return the same receipts and errors and leave the same tables.
"""

from __future__ import annotations

import datetime as dt
import tempfile
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import attrs
import pendulum
import psycopg
import pytest
from psycopg import pq
from tests.adapters.postgres._stores import until_someone_waits_for_a_lock

from orderkit.adapters import _postgres_ledger_fast as fast
from orderkit.adapters._postgres_ledger import PostgresLedgerStore
from orderkit.errors import IdempotencyConflict, InsufficientStock, OrderkitError
from orderkit.inventory import (
    Backorder,
    Check,
    Hold,
    HoldState,
    HoldWrite,
    Measure,
    Movement,
    MovementKind,
    Plan,
    Preorder,
    Receipt,
    StockLine,
)
from orderkit.inventory import _planning as planning
from orderkit.services import Ledger
from orderkit.testing import FrozenClock
from orderkit.testing.contracts import LedgerStoreContract


START = pendulum.datetime(2026, 11, 11, 9, 0)
TTL = dt.timedelta(minutes=15)


def _round_trips(store: PostgresLedgerStore, call: Callable[[], object]) -> int:
    """How many times the server answered "ready" while `call` ran."""
    conn = store._session._conn
    assert conn is not None
    with tempfile.TemporaryFile() as trace:
        conn.pgconn.trace(trace.fileno())
        conn.pgconn.set_trace_flags(pq.Trace.SUPPRESS_TIMESTAMPS)
        try:
            call()
        finally:
            conn.pgconn.untrace()
        trace.seek(0)
        lines = trace.read().decode().splitlines()
    return sum(1 for line in lines if "\tReadyForQuery" in line)


@pytest.fixture
def store(pg_dsn: str) -> Iterator[PostgresLedgerStore]:
    with PostgresLedgerStore(pg_dsn) as opened:
        yield opened


def test_a_reservation_is_one_round_trip(store: PostgresLedgerStore) -> None:
    ledger = Ledger(store, FrozenClock(START))
    ledger.receive("TEA-01", "W1", 5)
    ledger.receive("MUG-02", "W1", 5)
    lines = [StockLine("TEA-01", "W1", 1), StockLine("MUG-02", "W1", 2)]
    assert _round_trips(store, lambda: ledger.reserve("cart-1", lines)) == 1
    assert _round_trips(store, lambda: ledger.receive("TEA-01", "W1", 1)) == 1
    assert _round_trips(store, lambda: ledger.balance("TEA-01", "W1")) == 1


def _row_version(store: PostgresLedgerStore, sku: str) -> tuple[Any, ...]:
    """Where the balance's current row version is, and which transaction wrote it."""
    conn = store._session._conn
    assert conn is not None
    found = conn.execute(
        "SELECT ctid::text, xmin::text FROM orderkit_balances WHERE sku = %s", (sku,)
    ).fetchone()
    assert found is not None
    return tuple(found)


def test_a_refusal_is_one_round_trip_and_writes_nothing(
    store: PostgresLedgerStore,
) -> None:
    ledger = Ledger(store, FrozenClock(START))
    ledger.receive("TEA-01", "W1", 1)
    before = LedgerStoreContract.snapshot(store)
    version = _row_version(store, "TEA-01")

    def refused() -> None:
        with pytest.raises(OrderkitError, match="requested 2, available 1"):
            ledger.reserve("cart-1", [StockLine("TEA-01", "W1", 2)])

    assert _round_trips(store, refused) == 1
    assert LedgerStoreContract.snapshot(store) == before
    # Not even a row version written and taken back: a flash sale refuses
    # thousands a second on its hottest rows.
    assert _row_version(store, "TEA-01") == version


def test_a_dropped_connection_is_reopened_before_the_call(
    pg_dsn: str, store: PostgresLedgerStore
) -> None:
    ledger = Ledger(store, FrozenClock(START))
    ledger.receive("TEA-01", "W1", 5)
    conn = store._session._conn
    assert conn is not None
    pid = conn.info.backend_pid
    with psycopg.connect(pg_dsn, autocommit=True) as admin:
        admin.execute("SELECT pg_terminate_backend(%s)", (pid,))
        deadline = time.monotonic() + 30
        while (
            time.monotonic() < deadline
            and admin.execute(
                "SELECT 1 FROM pg_stat_activity WHERE pid = %s", (pid,)
            ).fetchone()
        ):
            time.sleep(0.01)
    # Gone before the call: it finds out from the socket and reconnects.
    receipt = ledger.reserve("cart-1", [StockLine("TEA-01", "W1", 2)])
    assert receipt.balances[0].reserved == 2
    assert store._session._conn is not conn


def test_a_connection_idle_for_long_is_tried_by_a_begin_first(
    store: PostgresLedgerStore,
) -> None:
    """A network may drop an idle connection unheard: a BEGIN finds out, not the call.

    The BEGIN fails harmlessly and the store reconnects; the call itself,
    once sent, may have been applied, so it is never sent twice.
    """
    ledger = Ledger(store, FrozenClock(START))
    ledger.receive("TEA-01", "W1", 5)
    conn = store._session._conn
    assert conn is not None
    store._session._used[conn] -= 60.0
    lines = [StockLine("TEA-01", "W1", 1)]
    assert _round_trips(store, lambda: ledger.reserve("cart-1", lines)) == 3
    assert _round_trips(store, lambda: ledger.reserve("cart-2", lines)) == 1


def test_a_database_of_version_1_gets_the_function(pg_dsn: str) -> None:
    with PostgresLedgerStore(pg_dsn) as store:
        Ledger(store, FrozenClock(START)).receive("TEA-01", "W1", 5)
    with psycopg.connect(pg_dsn, autocommit=True) as admin:
        admin.execute("DROP FUNCTION orderkit_ledger_apply")
        admin.execute("DROP FUNCTION orderkit_ledger_hold")
        admin.execute(
            "UPDATE orderkit_meta SET value = 1 WHERE name = 'schema_version'"
        )
    with PostgresLedgerStore(pg_dsn) as store:
        ledger = Ledger(store, FrozenClock(START))
        assert (
            _round_trips(store, lambda: ledger.reserve("cart-1", [("TEA-01", "W1", 1)]))
            == 1
        )
    with psycopg.connect(pg_dsn) as admin:
        found = admin.execute(
            "SELECT value FROM orderkit_meta WHERE name = 'schema_version'"
        ).fetchone()
    assert found == (6,)  # every step after the first, up to today's


def test_a_database_of_version_2_gets_the_function_again(pg_dsn: str) -> None:
    with PostgresLedgerStore(pg_dsn) as store:
        Ledger(store, FrozenClock(START)).receive("TEA-01", "W1", 5)
    with psycopg.connect(pg_dsn, autocommit=True) as admin:
        # An earlier body, as a stand-in: it leaves every plan to the engine.
        admin.execute(
            "CREATE OR REPLACE FUNCTION orderkit_ledger_apply(p_lock boolean,"
            " p_key text, p_remember boolean, p_now bigint, p_owner text,"
            " p_plan jsonb, OUT r_status integer, OUT r_at bigint,"
            " OUT r_seqs bigint[], OUT r_body text, OUT r_figures bigint[])"
            " LANGUAGE sql AS $$ SELECT 3, NULL::bigint, NULL::bigint[],"
            " NULL::text, NULL::bigint[] $$"
        )
        admin.execute(
            "UPDATE orderkit_meta SET value = 2 WHERE name = 'schema_version'"
        )
    with PostgresLedgerStore(pg_dsn) as store:
        ledger = Ledger(store, FrozenClock(START))
        lines = [("TEA-01", "W1", 1)]
        assert _round_trips(store, lambda: ledger.reserve("cart-1", lines)) == 1


# --------------------------------------------------------------------------
# The same story, with and without the one call


def _outcome(call: Callable[[], object]) -> object:
    try:
        return call()
    except OrderkitError as exc:
        return (type(exc).__name__, str(exc))


def _hold(hold_id: str, owner: str, sku: str, quantity: int) -> Hold:
    return Hold(
        hold_id=hold_id,
        owner=owner,
        sku=sku,
        location="W1",
        quantity=quantity,
        placed_at=START,
        expires_at=START.add(minutes=15),
        state=HoldState.LIVE,
    )


def _movement(key: str, index: int, kind: MovementKind, **figures: Any) -> Movement:
    return Movement(
        key=key,
        index=index,
        kind=kind,
        sku=figures.pop("sku", "TEA-01"),
        location="W1",
        at=figures.pop("at", START),
        **figures,
    )


def _story(store: PostgresLedgerStore) -> list[object]:  # noqa: PLR0915 - one story
    """Every kind of plan, in an order that meets every branch of the call."""
    clock = FrozenClock(START)
    ledger = Ledger(store, clock, hold_ttl=TTL)
    behind = Ledger(store, FrozenClock(START.subtract(seconds=30)), hold_ttl=TTL)
    out: list[object] = []

    def do(call: Callable[[], object]) -> None:
        out.append(_outcome(call))

    do(lambda: ledger.receive("TEA-01", "W1", 10, key="r1"))  # a new balance
    do(lambda: ledger.receive("TEA-01", "W1", 5, key="r2", reason="pallet"))
    do(lambda: ledger.receive("MUG-02", "W1", 10, key="r3"))
    do(lambda: ledger.receive("CUP-03", "W2", 1, key="r4"))
    do(lambda: ledger.set_safety_stock("TEA-01", "W1", 2))
    lines = [("MUG-02", "W1", 1), ("TEA-01", "W1", 2), ("MUG-02", "W1", 1)]
    do(lambda: ledger.reserve("cart-1", lines, key="k1"))
    do(lambda: ledger.reserve("cart-1", lines, key="k1"))  # replayed
    do(lambda: ledger.reserve("cart-2", [("MUG-02", "W1", 2)], key="k2"))
    do(lambda: ledger.reserve("cart-2", [("MUG-02", "W1", 2)], key="k2"))  # replayed
    do(lambda: ledger.reserve("cart-3", [("MUG-02", "W1", 1)], key="k3"))
    do(
        lambda: ledger.reserve(
            "cart-3", [("MUG-02", "W1", 50), ("TEA-01", "W1", 99)], key="k4"
        )
    )  # short on both lines
    do(lambda: ledger.reserve("cart-4", [("NONE-9", "W1", 1)], key="k5"))
    do(lambda: ledger.reserve("cart-4", [("TEA-01", "W9", 1)], key="k6"))
    do(lambda: ledger.reserve("cart-3", [("MUG-02", "W1", 2)], key="k7"))  # supersede
    do(lambda: ledger.set_policy("CUP-03", Backorder(3)))
    do(lambda: ledger.reserve("cart-5", [("CUP-03", "W2", 3)], key="k8"))
    do(
        lambda: ledger.reserve("cart-6", [("CUP-03", "W2", 2)], key="k9")
    )  # past the limit
    do(lambda: ledger.set_policy("CUP-03", Preorder(1, START.add(minutes=1))))
    do(lambda: ledger.reserve("cart-7", [("CUP-03", "W2", 1)], key="k10"))
    do(lambda: ledger.set_policy("CUP-03", Preorder(5, START)))  # closed right now
    do(lambda: ledger.reserve("cart-7", [("CUP-03", "W2", 1)], key="k10b"))
    do(lambda: behind.reserve("cart-8", [("TEA-01", "W1", 1)], key="k11"))  # late
    forgotten = planning.reserve(
        planning.Stamp("k11b", START.subtract(seconds=30), remember=False),
        "cart-8b",
        [StockLine("TEA-01", "W1", 1)],
        START.add(minutes=14, seconds=30),  # due with the others, once late
    )
    do(lambda: store.apply(forgotten))  # late, and its receipt not kept
    do(lambda: behind.receive("MUG-02", "W1", 1, key="r6"))  # late, no hold
    do(lambda: ledger.transfer("TEA-01", "W1", "W2", 2, key="t1"))  # creates W2
    do(lambda: ledger.transfer("TEA-01", "W1", "W2", 1, key="t2"))
    do(lambda: ledger.adjust("TEA-01", "W1", delta=-1, key="a1"))
    do(lambda: ledger.adjust("TEA-01", "W1", counted=9, key="a2"))  # a stocktake
    do(lambda: ledger.adjust("MUG-02", "W1", delta=-20, key="a3"))
    do(lambda: ledger.commit("k2/0", key="c1"))
    # Available counts what is allocated: 11 on hand, 4 reserved, 2 allocated.
    do(lambda: ledger.reserve("cart-13", [("MUG-02", "W1", 6)], key="k15"))
    do(lambda: ledger.ship("cart-2", [StockLine("MUG-02", "W1", 2)], key="s1"))
    # Quantities as large as the validators allow: short, not an overflow.
    most = 2**63 - 1
    do(lambda: ledger.reserve("cart-14", [("TEA-01", "W1", most)], key="k16"))
    do(lambda: ledger.transfer("TEA-01", "W2", "W1", most, key="t3"))
    # Plans no `Ledger` makes: a check on a balance not moved, a movement
    # under another key, a bound on allocated; later a hold id already
    # taken, a figure below zero, a new hold born resolved.
    now = clock.now()
    do(
        lambda: store.apply(
            Plan(
                key="p1",
                now=now,
                movements=(
                    _movement("p1", 0, MovementKind.RECEIVE, on_hand=1, at=now),
                    _movement("other", 7, MovementKind.RECEIVE, on_hand=1),
                ),
                checks=(Check("CUP-03", "W2", 1, Measure.ON_HAND, 1),),
            )
        )
    )
    do(
        lambda: store.apply(
            Plan(
                key="p4",
                now=now,
                movements=(_movement("p4", 0, MovementKind.RECEIVE, on_hand=1),),
                checks=(Check("MUG-02", "W1", 1, Measure.ALLOCATED, 1),),
            )
        )
    )
    clock.advance(minutes=15)  # the first holds fall due this very instant
    do(lambda: ledger.reserve("cart-9", [("TEA-01", "W1", 1)], key="k12"))
    clock.advance(minutes=5)
    do(lambda: ledger.reserve("cart-10", [("TEA-01", "W1", 1)], key="k13"))
    # Its time is behind the store's, which the call above moved on.
    do(lambda: behind.reserve("cart-12", [("TEA-01", "W2", 1)], key="k14"))
    taken = _hold("k13/0", "cart-11", "TEA-01", 1)
    do(
        lambda: store.apply(
            Plan(key="p2", now=now, holds=(HoldWrite(None, taken),), remember=False)
        )
    )
    do(
        lambda: store.apply(
            Plan(
                key="p3",
                now=now,
                movements=(_movement("p3", 0, MovementKind.HOLD, reserved=-50),),
            )
        )
    )
    resolved = attrs.evolve(
        _hold("p5/0", "cart-14", "TEA-01", 1),
        location="W2",
        state=HoldState.RELEASED,
        resolved_at=START.add(minutes=1),
    )
    do(lambda: store.apply(Plan(key="p5", now=now, holds=(HoldWrite(None, resolved),))))
    # A hold id taken by a plan no Ledger makes, then asked for under its key
    # and short: the taken id is the answer, not the shortage.
    gone = attrs.evolve(
        _hold("k17/0", "cart-15", "MUG-02", 1),
        state=HoldState.RELEASED,
        resolved_at=START,
    )
    do(lambda: store.apply(Plan(key="p6", now=now, holds=(HoldWrite(None, gone),))))
    do(lambda: ledger.reserve("cart-16", [("MUG-02", "W1", 10**6)], key="k17"))
    do(lambda: ledger.receive("TEA-01", "W1", 2**40, key="r5"))
    out.append(LedgerStoreContract.snapshot(store))
    out.extend(store.receipt(key) for key in ("k1", "k11", "r6", "p1", "p5"))
    return out


def test_the_one_call_and_the_engine_tell_the_same_story(
    pg_schemas: Callable[[], str], monkeypatch: pytest.MonkeyPatch
) -> None:
    with PostgresLedgerStore(pg_schemas()) as one_call:
        told = _story(one_call)
    monkeypatch.setattr(fast, "prepare", lambda *_args, **_kwargs: None)
    with PostgresLedgerStore(pg_schemas()) as engine_only:
        expected = _story(engine_only)
    assert len(told) == len(expected)
    for step, (got, want) in enumerate(zip(told, expected, strict=True)):
        assert got == want, f"step {step}"


def test_the_story_meets_every_answer_of_the_call(
    pg_dsn: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Applied, replayed, short and left to the engine: each happens above."""
    seen: set[str] = set()
    run = fast.OneCall.run

    def spied(call: fast.OneCall, cur: Any) -> Receipt | None:
        try:
            receipt = run(call, cur)
        except InsufficientStock:
            seen.add("short")
            raise
        if receipt is None:
            seen.add("engine")
        else:
            seen.add("replayed" if receipt.replayed else "applied")
        return receipt

    monkeypatch.setattr(fast.OneCall, "run", spied)
    with PostgresLedgerStore(pg_dsn) as store:
        _story(store)
    assert seen == {"applied", "replayed", "short", "engine"}


def test_the_story_meets_every_answer_of_the_one_line_call(
    pg_dsn: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`orderkit_ledger_hold`, too: applied, replayed, short and left to the other."""
    seen: set[str] = set()
    run = fast.OneCall.run

    def spied(call: fast.OneCall, cur: Any) -> Receipt | None:
        one_line = call._statement == fast.HOLD
        try:
            receipt = run(call, cur)
        except InsufficientStock:
            seen.add("short" if one_line else "other")
            raise
        if not one_line:
            seen.add("other")
        elif receipt is None:
            seen.add("engine")
        else:
            seen.add("replayed" if receipt.replayed else "applied")
        return receipt

    monkeypatch.setattr(fast.OneCall, "run", spied)
    with PostgresLedgerStore(pg_dsn) as store:
        _story(store)
    assert seen == {"applied", "replayed", "short", "engine", "other"}


def _raced(
    pg_dsn: str, stock: int, owners: tuple[str, str], quantity: int
) -> tuple[Receipt, Receipt, int]:
    """Two reservations under key K: the second sent while the first's unit is open.

    Returns the first's receipt, the second's, and the units reserved after.
    """
    lines = [StockLine("TEA-01", "W1", quantity)]
    with PostgresLedgerStore(pg_dsn) as second:
        Ledger(second, FrozenClock(START)).receive("TEA-01", "W1", stock)
        with psycopg.connect(pg_dsn) as host:
            # A host's open transaction, holding the balance's lock.
            host.execute("SELECT 1")
            first = Ledger(PostgresLedgerStore(host), FrozenClock(START))
            original = first.reserve(owners[0], lines, key="K")
            with ThreadPoolExecutor(1) as pool:
                waiting = pool.submit(
                    Ledger(second, FrozenClock(START)).reserve,
                    owners[1],
                    lines,
                    key="K",
                )
                assert until_someone_waits_for_a_lock(pg_dsn)
                host.commit()
                again = waiting.result(timeout=30)
        reserved = Ledger(second, FrozenClock(START)).balance("TEA-01", "W1").reserved
    return original, again, reserved


def test_a_key_committed_while_the_one_line_call_waited_is_replayed(
    pg_dsn: str,
) -> None:
    """The same reservation twice at once: the second waits, then replays the first.

    It looked for the key's receipt before it waited for the balance, when
    the first had not committed yet: it must not reserve a second time.
    """
    original, again, reserved = _raced(pg_dsn, 5, ("cart-1", "cart-1"), 2)
    assert again == attrs.evolve(original, replayed=True)
    assert reserved == 2


def test_a_key_that_took_the_last_unit_while_the_call_waited_is_replayed(
    pg_dsn: str,
) -> None:
    """The second call under the key finds no stock left: its first plan took it."""
    original, again, reserved = _raced(pg_dsn, 1, ("cart-A", "cart-A"), 1)
    assert again == attrs.evolve(original, replayed=True)
    assert reserved == 1


def test_a_key_another_owner_took_while_the_call_waited_is_refused(
    pg_dsn: str,
) -> None:
    """Judged by its key before its stock: another request, not a shortage."""
    with pytest.raises(IdempotencyConflict) as refused:
        _raced(pg_dsn, 1, ("cart-A", "cart-B"), 1)
    assert refused.value.key == "K"
