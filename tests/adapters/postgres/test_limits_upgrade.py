"""PostgreSQL limit tables of schema version 1 are upgraded; old uses weigh 1."""

from __future__ import annotations

import datetime as dt

import attrs
import pendulum
import psycopg

from orderkit.adapters._micros import to_us
from orderkit.adapters._postgres_limits import _COUNT, LIMITS
from orderkit.adapters._postgres_session import Session
from orderkit.adapters.postgres import PostgresLimitStore
from orderkit.pricing import Exceeded, Granted, LimitKey, Overage


T0 = pendulum.datetime(2026, 11, 11, 0, 0)
DAY = dt.timedelta(days=1)
BUYER = "buyer:B1|channel:douyin|sku:sku-x|units"
IP = "ip:203.0.113.7|distinct:buyer"


def _version_1(dsn: str) -> None:
    """The tables as orderkit made them at version 1, holding old uses."""
    Session(
        dsn, attrs.evolve(LIMITS, migrations=LIMITS.migrations[:1]), attempts=1
    ).close()
    at = to_us(T0)
    with psycopg.connect(dsn) as conn:
        conn.cursor().executemany(
            "INSERT INTO orderkit_limit_uses (key, at, member) VALUES (%s, %s, %s)",
            [(BUYER, at, None), (BUYER, at, None), (IP, at, "buyer:B1")],
        )
        conn.execute(
            "INSERT INTO orderkit_limit_use_ids (use_id, at) VALUES ('DY-1', %s)",
            (at,),
        )


def test_version_1_tables_are_upgraded_and_their_uses_weigh_one(pg_dsn: str) -> None:
    _version_1(pg_dsn)
    now = T0.add(hours=1)
    with PostgresLimitStore(pg_dsn) as store:
        three = LimitKey(BUYER, 5, DAY, weight=3)
        assert store.consume([three], now=now) == Granted()
        one = LimitKey(BUYER, 5, DAY)
        assert store.consume([one], now=now) == Exceeded((Overage(one, 5),))
        known = LimitKey(IP, 1, DAY, member="buyer:B1")
        assert store.consume([known], now=now) == Granted()
        assert store.consume([one], now=now, use_id="DY-1") == Granted(replayed=True)
    with psycopg.connect(pg_dsn) as conn:
        version = conn.execute(
            "SELECT value FROM orderkit_meta WHERE name = 'limits_schema_version'"
        ).fetchone()
        weights = conn.execute(
            "SELECT weight FROM orderkit_limit_uses WHERE key = %s ORDER BY id",
            (BUYER,),
        ).fetchall()
        index = conn.execute(
            "SELECT pg_get_indexdef('orderkit_limit_uses_pkey'::regclass)"
        ).fetchone()
    assert version == (len(LIMITS.migrations),) == (2,)
    assert weights == [(1,), (1,), (3,)]
    # The primary key carries the weights, so a count can read it alone.
    assert index is not None
    assert index[0].endswith("(key, at, id) INCLUDE (member, weight)")


def test_a_new_store_counts_weights_from_the_primary_key_alone(pg_dsn: str) -> None:
    with PostgresLimitStore(pg_dsn) as store:
        for i in range(50):
            store.consume([LimitKey(f"buyer:B{i}", 9, DAY)], now=T0)
    with psycopg.connect(pg_dsn) as conn:
        conn.execute("SET enable_seqscan = off")
        plan = conn.execute("EXPLAIN " + _COUNT, (["buyer:B1"], [0], [None])).fetchall()
        index = conn.execute(
            "SELECT pg_get_indexdef('orderkit_limit_uses_pkey'::regclass)"
        ).fetchone()
    # A new store's primary key carries the weights as an upgraded one's does.
    assert index is not None
    assert index[0].endswith("(key, at, id) INCLUDE (member, weight)")
    text = "\n".join(row[0] for row in plan)
    assert "Index Only Scan using orderkit_limit_uses_pkey" in text, text
