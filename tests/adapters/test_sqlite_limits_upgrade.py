"""A limit file of schema version 1 opens, its uses weighing 1 each."""

from __future__ import annotations

import datetime as dt
import sqlite3
from pathlib import Path

import pendulum

from orderkit.adapters._micros import to_us
from orderkit.adapters._sqlite_limits import _COUNT, LIMITS_SCHEMA_VERSION
from orderkit.adapters.sqlite import SqliteLimitStore
from orderkit.pricing import Exceeded, Granted, LimitKey, Overage


T0 = pendulum.datetime(2026, 11, 11, 0, 0)
DAY = dt.timedelta(days=1)
BUYER = "buyer:B1|channel:douyin|sku:sku-x|units"
IP = "ip:203.0.113.7|distinct:buyer"

# What orderkit wrote at limit schema version 1, statement for statement.
_VERSION_1 = (
    "CREATE TABLE orderkit_meta (name TEXT PRIMARY KEY, value INTEGER NOT NULL)",
    (
        "CREATE TABLE orderkit_limit_uses ("
        " key TEXT NOT NULL, at INTEGER NOT NULL, member TEXT)"
    ),
    "CREATE INDEX orderkit_limit_uses_window ON orderkit_limit_uses (key, at, member)",
    "CREATE INDEX orderkit_limit_uses_at ON orderkit_limit_uses (at)",
    (
        "CREATE TABLE orderkit_limit_use_ids ("
        " use_id TEXT PRIMARY KEY, at INTEGER NOT NULL) WITHOUT ROWID"
    ),
    "CREATE INDEX orderkit_limit_use_ids_at ON orderkit_limit_use_ids (at)",
    "INSERT INTO orderkit_meta (name, value) VALUES ('limits_schema_version', 1)",
)


def _version_1_file(path: Path) -> None:
    """A file as orderkit left it at version 1: two uses of BUYER, one IP member."""
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        for statement in _VERSION_1:
            conn.execute(statement)
        at = to_us(T0)
        conn.executemany(
            "INSERT INTO orderkit_limit_uses (key, at, member) VALUES (?, ?, ?)",
            [(BUYER, at, None), (BUYER, at, None), (IP, at, "buyer:B1")],
        )
        conn.execute(
            "INSERT INTO orderkit_limit_use_ids (use_id, at) VALUES ('DY-1', ?)", (at,)
        )
    finally:
        conn.close()


def test_a_version_1_file_is_upgraded_and_its_uses_weigh_one(tmp_path: Path) -> None:
    path = tmp_path / "orderkit.db"
    _version_1_file(path)
    now = T0.add(hours=1)
    with SqliteLimitStore(path) as store:
        # Two old uses of weight 1: 3 units fit in 5, a fourth does not.
        three = LimitKey(BUYER, 5, DAY, weight=3)
        assert store.consume([three], now=now) == Granted()
        one = LimitKey(BUYER, 5, DAY)
        assert store.consume([one], now=now) == Exceeded((Overage(one, 5),))
        # The old member and use id are kept.
        known = LimitKey(IP, 1, DAY, member="buyer:B1")
        assert store.consume([known], now=now) == Granted()
        assert store.consume([one], now=now, use_id="DY-1") == Granted(replayed=True)
    conn = sqlite3.connect(path)
    try:
        version = conn.execute(
            "SELECT value FROM orderkit_meta WHERE name = 'limits_schema_version'"
        ).fetchone()
        weights = conn.execute(
            "SELECT weight FROM orderkit_limit_uses WHERE key = ? ORDER BY rowid",
            (BUYER,),
        ).fetchall()
        plan = conn.execute(f"EXPLAIN QUERY PLAN {_COUNT}", (BUYER, 0, None)).fetchall()
    finally:
        conn.close()
    assert version == (LIMITS_SCHEMA_VERSION,) == (2,)
    assert weights == [(1,), (1,), (3,)]
    # The upgraded index carries the weights: a count still reads it alone.
    details = " | ".join(row[-1] for row in plan)
    assert "USING COVERING INDEX orderkit_limit_uses_window (key=? AND at>?)" in (
        details
    )


def test_an_upgraded_file_opens_again_unchanged(tmp_path: Path) -> None:
    path = tmp_path / "orderkit.db"
    _version_1_file(path)
    SqliteLimitStore(path).close()
    with SqliteLimitStore(path) as store:
        key = LimitKey(BUYER, 3, DAY, weight=2)
        assert store.consume([key], now=T0) == Exceeded((Overage(key, 2),))
