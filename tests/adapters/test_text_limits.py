"""Long text on PostgreSQL: the indexes hold every name the validators accept.

A btree row holds at most 2704 bytes. The ledger's owner index and the
outbox's stream index are hashed since schema versions 5 and 2, and the
ledger's holds and receipts keyed by digests of their ids and keys since
version 6; these tests upgrade a database of the versions before, and check
that the hot queries still read the indexes. The rules every store keeps
(names up to their limits round trip, longer ones and NUL are
`ValidationError`) are cases of the shared contracts in `orderkit.testing`.
"""

from __future__ import annotations

import os
import random
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import quote

import pendulum
import psycopg
import pytest

from orderkit.adapters._micros import to_us
from orderkit.adapters._postgres_ledger_tables import DUE_ROWS, LEDGER
from orderkit.adapters.postgres import PostgresLedgerStore, PostgresOutbox
from orderkit.inventory import HoldState
from orderkit.orders import MAX_STREAM_LENGTH, OutboxMessage
from orderkit.services import Ledger
from orderkit.testing import FrozenClock


DSN = os.environ.get("ORDERKIT_PG_DSN", "")
pytestmark = pytest.mark.skipif(not DSN, reason="ORDERKIT_PG_DSN is not set")
START = pendulum.datetime(2026, 11, 11)


def _wide(length: int, seed: int) -> str:
    """Printable characters of 4 UTF-8 bytes each, too random to compress."""
    draw = random.Random(seed)  # noqa: S311 - test data, not secrecy
    return "".join(chr(draw.randint(0x20000, 0x2A6DF)) for _ in range(length))


@contextmanager
def _schema() -> Iterator[str]:
    """A DSN whose search_path is a new, empty schema, dropped afterwards."""
    schema = f"orderkit_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(DSN, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    joiner = "&" if "?" in DSN else "?"
    try:
        yield f"{DSN}{joiner}options={quote(f'-csearch_path={schema}')}"
    finally:
        with psycopg.connect(DSN, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA "{schema}" CASCADE')


@pytest.fixture
def dsn() -> Iterator[str]:
    """A DSN whose search_path is a new, empty schema, dropped afterwards."""
    with _schema() as made:
        yield made


def _index(dsn: str, name: str) -> str:
    with psycopg.connect(dsn) as conn:
        row = conn.execute(
            "SELECT indexdef FROM pg_indexes"
            " WHERE schemaname = current_schema() AND indexname = %s",
            (name,),
        ).fetchone()
    assert row is not None
    return str(row[0])


def _versions(dsn: str) -> dict[str, int]:
    with psycopg.connect(dsn) as conn:
        rows = conn.execute("SELECT name, value FROM orderkit_meta").fetchall()
    return {name: int(value) for name, value in rows}


# The ledger's tables at version 5 and the columns each keeps (generated
# ones left out: the server computes them).
_VERSION_5_ROWS = {
    "orderkit_marks": "backend, high_water",
    "orderkit_balances": "sku, location, on_hand, reserved, allocated, safety_stock",
    "orderkit_holds": (
        "sku, location, hold_id, owner, quantity, placed_at, expires_at, state,"
        " committed, shipped, resolved_at"
    ),
    "orderkit_movements": (
        "sku, location, seq, key, idx, kind, on_hand, reserved, allocated, at,"
        " reason, actor, hold_id, counted"
    ),
    "orderkit_receipts": "key, body, seqs",
    "orderkit_policies": "sku, kind, quantity, ends_at",
}


def _at_version_5(dsn: str, rows_from: str) -> None:
    """Make the ledger's tables of version 5 in `dsn`, with `rows_from`'s rows.

    The tables are made by the steps that made them then (a step never
    changes once released), and filled with what a store wrote.
    """
    with psycopg.connect(rows_from) as source:
        (schema,) = source.execute("SELECT current_schema()").fetchone() or ("",)
    with psycopg.connect(dsn) as conn:
        for migration in LEDGER.migrations[:5]:
            for statement in migration:
                conn.execute(statement)
        conn.execute(
            "CREATE TABLE orderkit_meta (name text PRIMARY KEY, value integer NOT NULL)"
        )
        conn.execute("INSERT INTO orderkit_meta VALUES ('schema_version', 5)")
        for table, columns in _VERSION_5_ROWS.items():
            conn.execute(
                f"INSERT INTO {table} ({columns})"  # noqa: S608 - constants only
                f' SELECT {columns} FROM "{schema}".{table}'
            )
        conn.execute(
            "SELECT setval('orderkit_movements_seq', max(seq)) FROM orderkit_movements"
        )


def test_a_ledger_of_version_4_gets_an_owner_index_of_any_owner(dsn: str) -> None:
    with PostgresLedgerStore(dsn) as store:
        ledger = Ledger(store, FrozenClock(START))
        ledger.receive("TEA-01", "W1", 5)
        ledger.reserve("cart-1", [("TEA-01", "W1", 1)])
    with psycopg.connect(dsn, autocommit=True) as admin:
        # Version 4's index, as a database made before version 5 has it.
        admin.execute("DROP INDEX orderkit_holds_owner")
        admin.execute(
            "CREATE INDEX orderkit_holds_owner ON orderkit_holds (owner, sku, location)"
        )
        admin.execute(
            "UPDATE orderkit_meta SET value = 4 WHERE name = 'schema_version'"
        )
    owner = _wide(1024, 1)
    sku, location = _wide(255, 2), _wide(255, 3)
    with PostgresLedgerStore(dsn) as store:
        ledger = Ledger(store, FrozenClock(START))
        ledger.receive(sku, location, 5)
        ledger.reserve(owner, [(sku, location, 2)])
        ledger.reserve(owner, [(sku, location, 3)])  # replaces its own hold
        (live,) = ledger.holds(owner=owner, state=HoldState.LIVE)
        assert live.quantity == 3
        (kept,) = ledger.holds(owner="cart-1")
        assert (kept.sku, kept.quantity) == ("TEA-01", 1)
    assert "USING hash (owner)" in _index(dsn, "orderkit_holds_owner")
    assert _versions(dsn)["schema_version"] == 6


def test_an_outbox_of_version_1_gets_a_stream_index_of_any_stream(dsn: str) -> None:
    def message(message_id: str, stream: str) -> OutboxMessage:
        return OutboxMessage(
            message_id=message_id,
            stream=stream,
            topic="t",
            payload=b"{}",
            created_at=START,
        )

    with PostgresOutbox(dsn) as outbox:
        outbox.add([message("m1", "sku:TEA-01")])
    with psycopg.connect(dsn, autocommit=True) as admin:
        admin.execute("DROP INDEX orderkit_outbox_streams")
        admin.execute(
            "CREATE INDEX orderkit_outbox_streams ON orderkit_outbox (stream, seq)"
            " INCLUDE (leased_until) WHERE sent_at IS NULL"
        )
        admin.execute(
            "UPDATE orderkit_meta SET value = 1 WHERE name = 'outbox_schema_version'"
        )
    stream = "sku:" + _wide(MAX_STREAM_LENGTH - 4, 4)
    with PostgresOutbox(dsn) as outbox:
        outbox.add([message("m2", stream), message("m3", stream)])
        lease = pendulum.duration(seconds=30)
        claimed = outbox.claim(relay="r", now=START, lease=lease, limit=2)
        assert [m.message_id for m in claimed] == ["m1", "m2"]
        assert outbox.claim(relay="other", now=START, lease=lease) == []
    assert "hashtextextended(stream" in _index(dsn, "orderkit_outbox_streams")
    assert _versions(dsn)["outbox_schema_version"] == 2


def test_the_owner_look_ups_read_the_owner_index(dsn: str) -> None:
    """The reservation's question, "does this owner hold here?", stays an index read."""
    with PostgresLedgerStore(dsn) as store:
        ledger = Ledger(store, FrozenClock(START))
        ledger.receive("HOT", "W1", 10_000)
        for i in range(2000):
            ledger.reserve(f"cart-{i}", [("HOT", "W1", 1)])
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("ANALYZE")
        conn.execute("SET plan_cache_mode = force_generic_plan")
        for query in (
            # `orderkit_ledger_hold` and `orderkit_ledger_apply`
            (
                "SELECT 1 FROM (SELECT h.sku, h.location, h.state FROM orderkit_holds"
                " AS h WHERE h.owner = $1 OFFSET 0) AS own WHERE own.sku = $2"
                " AND own.location = $3 AND own.state = 'live'"
            ),
            # `orderkit_ledger_read`, by touched balance
            (
                "SELECT hold_id FROM orderkit_holds WHERE sku = $2 AND location = $3"
                " AND owner = $1"
            ),
        ):
            conn.execute(f"PREPARE look_up (text, text, text) AS {query}")
            rows = conn.execute(
                "EXPLAIN EXECUTE look_up ('cart-7', 'HOT', 'W1')"
            ).fetchall()
            conn.execute("DEALLOCATE look_up")
            assert "orderkit_holds_owner" in " ".join(row[0] for row in rows)


def test_a_ledger_of_version_5_gets_keys_of_any_length(dsn: str) -> None:
    """Receipts and holds written at version 5 are found and replayed after it."""
    key = "cart-1-checkout"
    with _schema() as written:
        with PostgresLedgerStore(written) as store:
            ledger = Ledger(store, FrozenClock(START))
            ledger.receive("TEA-01", "W1", 5)
            first = ledger.reserve("cart-1", [("TEA-01", "W1", 2)], key=key)
            kept = ledger.reserve("cart-2", [("TEA-01", "W1", 1)], key="cart-2-k")
        _at_version_5(dsn, written)
    sku, location, long_key = _wide(255, 7), _wide(255, 8), _wide(4096, 9)
    with PostgresLedgerStore(dsn) as store:
        ledger = Ledger(store, FrozenClock(START))
        again = ledger.reserve("cart-1", [("TEA-01", "W1", 2)], key=key)
        assert again.replayed
        assert (again.movements, again.holds) == (first.movements, first.holds)
        (held,) = first.holds
        assert ledger.commit(held.hold_id).hold.state is HoldState.COMMITTED
        assert ledger.hold(kept.holds[0].hold_id) == kept.holds[0]
        ledger.receive(sku, location, 5)
        (new,) = ledger.reserve("cart-3", [(sku, location, 2)], key=long_key).holds
        assert ledger.reserve("cart-3", [(sku, location, 2)], key=long_key).replayed
        assert ledger.release(new.hold_id).hold.state is HoldState.RELEASED
        assert ledger.balance("TEA-01", "W1").allocated == 2
        assert ledger.audit() == ()
    assert _versions(dsn)["schema_version"] == 6
    assert "USING hash (hold_id)" in _index(dsn, "orderkit_holds_id")


def test_the_key_look_ups_read_the_indexes(dsn: str) -> None:
    """A receipt by its key, a hold by its id, and due holds stay index reads."""
    clock = FrozenClock(START)
    with PostgresLedgerStore(dsn) as store:
        ledger = Ledger(store, clock)
        ledger.receive("HOT", "W1", 10_000)
        for i in range(2000):
            ledger.reserve(f"cart-{i}", [("HOT", "W1", 1)], key=f"k-{i}")
            clock.advance(seconds=1)
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("ANALYZE")
        conn.execute("SET plan_cache_mode = force_generic_plan")
        for index, query in (
            # Every function's and `receipt()`'s look-up of a key's receipt
            (
                ["orderkit_receipts_pkey"],
                (
                    "SELECT r.body FROM orderkit_receipts AS r"
                    " WHERE r.key_digest = md5($1)::uuid AND r.key = $1"
                ),
            ),
            # `HOLD_BY_ID`, and the functions' "is this id taken?"
            (
                ["orderkit_holds_id"],
                "SELECT 1 FROM orderkit_holds AS h WHERE h.hold_id = $1",
            ),
            # `orderkit_ledger_write`'s update of a stored hold: either key
            (
                ["orderkit_holds_pkey", "orderkit_holds_id"],
                (
                    "UPDATE orderkit_holds SET state = 'released' WHERE sku = $2"
                    " AND location = $3 AND hold_digest = md5($1)::uuid"
                    " AND hold_id = $1"
                ),
            ),
        ):
            conn.execute(f"PREPARE look_up (text, text, text) AS {query}")
            rows = conn.execute("EXPLAIN EXECUTE look_up ('k-7/0', 'HOT', 'W1')")
            plan = " ".join(row[0] for row in rows.fetchall())
            conn.execute("DEALLOCATE look_up")
            assert any(f"Index Scan using {name} " in plan for name in index), plan
        with conn.cursor() as cur:
            # All due, the first 10 by (expiry, id): read in expiry order, ids
            # sorted among holds due at one instant, and no further.
            due = {"now": to_us(clock.advance(days=1)), "limit": 10}
            cur.execute(f"EXPLAIN {DUE_ROWS}", due)
            plan = " ".join(row[0] for row in cur.fetchall())
        assert "Incremental Sort" in plan, plan
        assert "Index Scan using orderkit_holds_live_due " in plan, plan
