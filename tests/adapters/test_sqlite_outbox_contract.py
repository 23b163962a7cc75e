"""The SQLite outbox and inbox run the outbox contract, and what only SQLite does.

The contract runs twice: on a file, where racing relays are processes each
with its own outbox, and in `:memory:`, where they are threads sharing it.
"""

from __future__ import annotations

import datetime as dt
import functools
import itertools
import sqlite3
from collections.abc import Callable, Iterator
from pathlib import Path

import attrs
import pendulum
import pytest

from orderkit.adapters._sqlite_outbox import _CLAIMABLE
from orderkit.adapters.sqlite import SqliteInbox, SqliteOutbox
from orderkit.errors import ConcurrencyConflict, StoreError
from orderkit.orders import OutboxMessage, order_stream
from orderkit.testing.contracts import OutboxContract


VICTIM = "orderkit_outbox"
T0 = pendulum.datetime(2026, 11, 11)
_9S = dt.timedelta(seconds=9)


class _Hooks:
    """Closes every store a test opened."""

    @pytest.fixture(autouse=True)
    def _opened(self) -> Iterator[None]:
        self.opened: list[SqliteOutbox | SqliteInbox] = []
        yield
        for store in self.opened:
            store.close()

    def open(self, target: str | Path) -> SqliteOutbox:
        store = SqliteOutbox(target)
        self.opened.append(store)
        return store

    def make_inbox(self) -> SqliteInbox:
        inbox = SqliteInbox(":memory:")
        self.opened.append(inbox)
        return inbox


class TestSqliteOutboxFile(_Hooks, OutboxContract):
    """SqliteOutbox on a file: racing relays are processes, each with its own."""

    @pytest.fixture(autouse=True)
    def _files(self, tmp_path: Path) -> None:
        self.directory = tmp_path
        self.numbers = itertools.count()
        self.paths: dict[int, Path] = {}

    def make_store(self) -> SqliteOutbox:
        path = self.directory / f"outbox-{next(self.numbers)}.db"
        store = self.open(path)
        self.paths[id(store)] = path
        return store

    def connect(self, store: object) -> Callable[[], SqliteOutbox]:
        return functools.partial(SqliteOutbox, self.paths[id(store)])

    def make_inbox(self) -> SqliteInbox:
        path = self.directory / f"inbox-{next(self.numbers)}.db"
        inbox = SqliteInbox(path)
        self.opened.append(inbox)
        self.paths[id(inbox)] = path
        return inbox

    def connect_inbox(self, inbox: object) -> Callable[[], SqliteInbox]:
        return functools.partial(SqliteInbox, self.paths[id(inbox)])

    def break_store(self, store: object) -> bool:
        with sqlite3.connect(self.paths[id(store)]) as other:
            other.execute(f"DROP TABLE {VICTIM}")
        other.close()
        return True


class TestSqliteOutboxMemory(_Hooks, OutboxContract):
    """SqliteOutbox in `:memory:`: racing relays are threads sharing it."""

    def make_store(self) -> SqliteOutbox:
        return self.open(":memory:")

    def break_store(self, store: object) -> bool:
        assert isinstance(store, SqliteOutbox)
        store._session.conn.execute(f"DROP TABLE {VICTIM}")
        return True


# --------------------------------------------------------------------------
# What only SQLite does


def _message(message_id: str) -> OutboxMessage:
    return OutboxMessage(
        message_id=message_id,
        stream=order_stream("douyin", "DY-1"),
        topic="milestone",
        payload=b"{}",
        created_at=T0,
    )


class TestQueue:
    """The queue reads through partial indexes, in short transactions."""

    def test_a_claim_is_one_short_transaction(self, tmp_path: Path) -> None:
        with SqliteOutbox(tmp_path / "outbox.db") as outbox:
            outbox.add([_message("m1"), _message("m2")])
            statements: list[str] = []
            outbox._session.conn.set_trace_callback(statements.append)
            claimed = outbox.claim(relay="r", now=T0, lease=dt.timedelta(seconds=9))
        assert [m.message_id for m in claimed] == ["m1", "m2"]
        assert statements[0] == "BEGIN IMMEDIATE"
        assert statements[-1] == "COMMIT"
        assert statements.count("BEGIN IMMEDIATE") == 1

    def test_adding_reads_what_is_stored_in_one_query(self, tmp_path: Path) -> None:
        # One statement per message made the desk's every order slower.
        with SqliteOutbox(tmp_path / "outbox.db") as outbox:
            outbox.add([_message("m1")])
            statements: list[str] = []
            outbox._session.conn.set_trace_callback(statements.append)
            outbox.add([_message("m1"), _message("m2"), _message("m3")])
            assert [
                m.message_id for m in outbox.claim(relay="r", now=T0, lease=_9S)
            ] == [
                "m1",
                "m2",
                "m3",
            ]
        assert 1 == sum("FROM orderkit_outbox WHERE" in s for s in statements[:3])

    def test_a_long_batch_is_read_in_chunks(self, tmp_path: Path) -> None:
        # More ids than SQLite before 3.32 takes as parameters of one query.
        ids = [f"m{i}" for i in range(1_200)]
        with SqliteOutbox(tmp_path / "outbox.db") as outbox:
            outbox.add([_message(i) for i in ids[::2]])
            outbox.add([_message(i) for i in ids])
            changed = attrs.evolve(_message("m1100"), payload=b"[]")
            with pytest.raises(ConcurrencyConflict):
                outbox.add([*map(_message, ids[:1_100]), changed])
            claimed = outbox.claim(relay="r", now=T0, lease=_9S, limit=2_000)
        assert ids[::2] + ids[1::2] == [m.message_id for m in claimed]

    def test_the_claim_reads_the_partial_indexes(self, tmp_path: Path) -> None:
        with SqliteOutbox(tmp_path / "outbox.db") as outbox:
            outbox.add([_message("m1")])
            plan = outbox._session.conn.execute(
                f"EXPLAIN QUERY PLAN {_CLAIMABLE}", (0, 10)
            ).fetchall()
        details = " | ".join(row[-1] for row in plan)
        assert "orderkit_outbox_queue" in details
        assert "orderkit_outbox_streams" in details

    def test_a_schema_from_a_newer_orderkit_is_refused(self, tmp_path: Path) -> None:
        path = tmp_path / "outbox.db"
        SqliteOutbox(path).close()
        with sqlite3.connect(path) as conn:
            conn.execute(
                "UPDATE orderkit_meta SET value = 99"
                " WHERE name = 'outbox_schema_version'"
            )
        conn.close()
        with pytest.raises(StoreError, match="outbox schema version 99 is newer"):
            SqliteOutbox(path)

    def test_a_closed_outbox_raises_store_error(self, tmp_path: Path) -> None:
        outbox = SqliteOutbox(tmp_path / "outbox.db")
        outbox.close()
        with pytest.raises(StoreError) as error:
            outbox.add([_message("m1")])
        assert isinstance(error.value.__cause__, sqlite3.Error)
