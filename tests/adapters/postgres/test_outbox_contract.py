"""The PostgreSQL outbox and inbox run the outbox contract, and what only they do.

Each store lives in a schema of its own; racing relays are processes, each
opening its own outbox on the schema's DSN.
"""

from __future__ import annotations

import datetime as dt
import functools
import multiprocessing
import os
import threading
import time
from collections.abc import Callable, Iterator

import pendulum
import psycopg
import pytest

from orderkit.adapters._postgres_outbox import (
    _CANDIDATES,
    _LEASE,
    PostgresInbox,
    PostgresOutbox,
)
from orderkit.errors import StoreError
from orderkit.orders import OutboxMessage, order_stream
from orderkit.testing._contract_base import Barrier
from orderkit.testing.contracts import OutboxContract


VICTIM = "orderkit_outbox"
T0 = pendulum.datetime(2026, 11, 11)
LEASE = dt.timedelta(seconds=30)


class TestPostgresOutbox(OutboxContract):
    """PostgresOutbox: racing relays are processes, each with its own outbox."""

    @pytest.fixture(autouse=True)
    def _schemas(self, pg_schemas: Callable[[], str]) -> Iterator[None]:
        self.schemas = pg_schemas
        self.dsns: dict[int, str] = {}
        self.opened: list[PostgresOutbox | PostgresInbox] = []
        yield
        for store in self.opened:
            store.close()

    def make_store(self) -> PostgresOutbox:
        dsn = self.schemas()
        store = PostgresOutbox(dsn)
        self.opened.append(store)
        self.dsns[id(store)] = dsn
        return store

    def make_inbox(self) -> PostgresInbox:
        dsn = self.schemas()
        inbox = PostgresInbox(dsn)
        self.opened.append(inbox)
        self.dsns[id(inbox)] = dsn
        return inbox

    def connect_inbox(self, inbox: object) -> Callable[[], PostgresInbox]:
        return functools.partial(PostgresInbox, self.dsns[id(inbox)])

    def connect(self, store: object) -> Callable[[], PostgresOutbox]:
        return functools.partial(PostgresOutbox, self.dsns[id(store)])

    def break_store(self, store: object) -> bool:
        # Another connection drops the table behind the store's back.
        with psycopg.connect(self.dsns[id(store)], autocommit=True) as other:
            other.execute(f"DROP TABLE {VICTIM}")
        return True

    # Races of the contract's kind, on what only PostgreSQL does.

    def test_two_relays_in_two_processes_publish_each_once_in_order(
        self, store: PostgresOutbox
    ) -> None:
        """200 messages in 20 streams: each published once, each stream in order."""
        streams = [order_stream("douyin", f"DY-{n}") for n in range(20)]
        messages = [_message(f"m{i:03}", streams[i % 20]) for i in range(200)]
        store.add(messages)
        dsn = self.dsns[id(store)]
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute(
                "CREATE TABLE published (n bigint GENERATED ALWAYS AS IDENTITY,"
                " message_id text NOT NULL, relay text NOT NULL)"
            )
        racers = [functools.partial(_relay, dsn, f"relay-{i}") for i in range(2)]
        counts = self._race(store, racers)
        with psycopg.connect(dsn) as conn:
            rows = conn.execute(
                "SELECT message_id, relay FROM published ORDER BY n"
            ).fetchall()
        published = [message_id for message_id, _ in rows]
        assert sorted(published) == [m.message_id for m in messages]
        stream_of = {m.message_id: m.stream for m in messages}
        by_stream: dict[str, list[str]] = {}
        for message_id in published:
            by_stream.setdefault(stream_of[message_id], []).append(message_id)
        assert all(sent == sorted(sent) for sent in by_stream.values()), by_stream
        assert sum(counts) == len(messages)  # every mark counted, none twice

    def test_racing_deliveries_of_a_message_are_new_once(
        self, store: PostgresOutbox
    ) -> None:
        """Of four consumers' processes delivering one message, one records it."""
        dsn = self.dsns[id(store)]
        PostgresInbox(dsn).close()
        seen = self._race(store, [functools.partial(_deliver, dsn)] * 4)
        assert sorted(seen) == [False, True, True, True]


def _relay(
    dsn: str, name: str, factory: Callable[[], PostgresOutbox], barrier: Barrier
) -> int:
    """Claim, publish (a row in `published`), mark sent, until the queue is empty."""
    outbox = factory()
    published = 0
    with psycopg.connect(dsn, autocommit=True) as broker:
        barrier.wait(timeout=120)
        while outbox.unsent(limit=1):
            claimed = outbox.claim(relay=name, now=T0, lease=LEASE, limit=7)
            if not claimed:
                time.sleep(0.001)
                continue
            for message in claimed:
                broker.execute(
                    "INSERT INTO published (message_id, relay) VALUES (%s, %s)",
                    (message.message_id, name),
                )
            marked = outbox.mark_sent(_ids(claimed), relay=name, now=T0)
            assert marked == len(claimed)
            published += marked
    outbox.close()
    return published


def _deliver(dsn: str, _factory: object, barrier: Barrier) -> bool:
    with PostgresInbox(dsn) as inbox:
        barrier.wait(timeout=120)
        return inbox.seen("notifier", "m1", now=T0)


# --------------------------------------------------------------------------
# What only PostgreSQL does


def _message(
    message_id: str, stream: str = order_stream("douyin", "DY-1")
) -> OutboxMessage:
    return OutboxMessage(
        message_id=message_id,
        stream=stream,
        topic="milestone",
        payload=b"{}",
        created_at=T0,
    )


def _ids(messages: object) -> list[str]:
    return [m.message_id for m in messages]  # type: ignore[attr-defined]


class TestClaims:
    """Claims skip rows other transactions hold, and never split a stream."""

    def test_a_row_another_claim_holds_is_skipped_with_its_stream(
        self, pg_dsn: str
    ) -> None:
        """The racing relay's uncommitted lease: its stream waits, others go."""
        dy, tb = order_stream("douyin", "DY-1"), order_stream("taobao", "TB-1")
        with PostgresOutbox(pg_dsn) as outbox:
            outbox.add([_message("m1", dy), _message("m2", dy), _message("m3", tb)])
            with psycopg.connect(pg_dsn) as racer:
                # Another relay mid-claim: m1 locked, its lease not committed.
                racer.execute(
                    "SELECT 1 FROM orderkit_outbox WHERE message_id = 'm1' FOR UPDATE"
                )
                claimed = outbox.claim(relay="relay-2", now=T0, lease=LEASE)
                assert _ids(claimed) == ["m3"]
                racer.rollback()
            assert _ids(outbox.claim(relay="relay-1", now=T0, lease=LEASE)) == [
                "m1",
                "m2",
            ]

    def test_a_claim_does_not_wait_for_a_locked_row(self, pg_dsn: str) -> None:
        with PostgresOutbox(pg_dsn) as outbox:
            outbox.add([_message("m1"), _message("m2", order_stream("jd", "J-1"))])
            with psycopg.connect(pg_dsn) as racer:
                racer.execute("SELECT 1 FROM orderkit_outbox FOR UPDATE")
                started = time.monotonic()
                assert outbox.claim(relay="relay-2", now=T0, lease=LEASE) == []
                assert time.monotonic() - started < 5

    def test_the_claim_reads_the_partial_indexes(self, pg_dsn: str) -> None:
        streams = [order_stream("douyin", f"DY-{n}") for n in range(50)]
        with PostgresOutbox(pg_dsn) as outbox:
            outbox.add([_message(f"m{i}", streams[i % 50]) for i in range(1000)])
            outbox.claim(relay="r", now=T0, lease=LEASE)
        values = {"now": 0, "limit": 10, "relay": "r", "until": 1, "picked": [1]}
        with psycopg.connect(pg_dsn) as conn:
            conn.execute("ANALYZE orderkit_outbox")
            for query in (_CANDIDATES, _LEASE):
                rows = conn.execute(f"EXPLAIN {query}", values).fetchall()
                plan = " ".join(row[0] for row in rows)
                assert "orderkit_outbox_queue" in plan
                assert "orderkit_outbox_streams" in plan

    def test_a_relay_process_dying_holding_a_lease(self, pg_dsn: str) -> None:
        """Its lease runs out; another relay takes its messages over, in order."""
        with PostgresOutbox(pg_dsn) as outbox:
            outbox.add([_message("m1"), _message("m2")])
        context = multiprocessing.get_context("spawn")
        dying = context.Process(target=_claim_and_die, args=(pg_dsn,))
        dying.start()
        dying.join(60)
        assert dying.exitcode == 3
        with PostgresOutbox(pg_dsn) as outbox:
            before = T0 + LEASE - dt.timedelta(microseconds=1)
            assert outbox.claim(relay="relay-2", now=before, lease=LEASE) == []
            taken = outbox.claim(relay="relay-2", now=T0 + LEASE, lease=LEASE)
            assert _ids(taken) == ["m1", "m2"]
            assert outbox.mark_sent(["m1", "m2"], relay="dead", now=T0 + LEASE) == 0
            assert outbox.mark_sent(["m1", "m2"], relay="relay-2", now=T0 + LEASE) == 2


def _claim_and_die(dsn: str) -> None:
    outbox = PostgresOutbox(dsn)
    assert len(outbox.claim(relay="dead", now=T0, lease=LEASE)) == 2
    os._exit(3)


class TestAdding:
    """Adding joins the host's transaction and keeps a stream's order."""

    def test_the_host_rolling_back_forgets_the_messages(self, pg_dsn: str) -> None:
        PostgresOutbox(pg_dsn).close()
        with psycopg.connect(pg_dsn, autocommit=True) as conn:
            joined = PostgresOutbox(conn)
            with conn.transaction(force_rollback=True):
                joined.add([_message("m1")])
                assert _ids(joined.unsent()) == ["m1"]
            assert joined.unsent() == []

    def test_an_open_add_holds_back_later_adds_to_its_stream(self, pg_dsn: str) -> None:
        """A later message of a stream cannot commit before an earlier one."""
        other_stream = order_stream("taobao", "TB-1")
        with (
            PostgresOutbox(pg_dsn) as outbox,
            PostgresOutbox(pg_dsn) as third,
            psycopg.connect(pg_dsn, autocommit=True) as conn,
        ):
            host = PostgresOutbox(conn)
            # Its tables checked outside the host's transaction, once.
            assert host.unsent() == []
            done: list[str] = []

            def add_later() -> None:
                outbox.add([_message("m2")])
                done.append("m2")

            with conn.transaction():
                host.add([_message("m1")])
                later = threading.Thread(target=add_later)
                later.start()
                later.join(0.5)
                assert later.is_alive()
                third.add([_message("m9", other_stream)])
            later.join(30)
            assert done == ["m2"]
            assert _ids(outbox.unsent()) == ["m1", "m9", "m2"]

    def test_a_message_id_on_another_stream_conflicts(self, pg_dsn: str) -> None:
        with PostgresOutbox(pg_dsn) as outbox:
            outbox.add([_message("m1")])
            with pytest.raises(Exception, match="message:m1"):
                outbox.add([_message("m1", order_stream("jd", "J-1"))])

    def test_a_schema_from_a_newer_orderkit_is_refused(self, pg_dsn: str) -> None:
        PostgresOutbox(pg_dsn).close()
        with psycopg.connect(pg_dsn, autocommit=True) as conn:
            conn.execute(
                "UPDATE orderkit_meta SET value = 99"
                " WHERE name = 'outbox_schema_version'"
            )
        with pytest.raises(StoreError, match="outbox schema version 99 is newer"):
            PostgresOutbox(pg_dsn)

    def test_times_are_the_callers_microseconds(self, pg_dsn: str) -> None:
        at = T0.add(microseconds=7)
        with PostgresOutbox(pg_dsn) as outbox:
            outbox.add([_message("m1")])
            outbox.claim(relay="r", now=at, lease=LEASE)
            outbox.mark_sent(["m1"], relay="r", now=at)
        with psycopg.connect(pg_dsn) as conn:
            row = conn.execute(
                "SELECT created_at, leased_until, sent_at FROM orderkit_outbox"
            ).fetchone()
        micros = 1_794_355_200_000_000  # 2026-11-11T00:00Z
        assert row == (micros, micros + 7 + 30_000_000, micros + 7)


class TestInbox:
    """A delivery is recorded with the host's writes, or not at all."""

    def test_a_delivery_rolls_back_with_the_host(self, pg_dsn: str) -> None:
        PostgresInbox(pg_dsn).close()
        with psycopg.connect(pg_dsn, autocommit=True) as conn:
            joined = PostgresInbox(conn)
            with conn.transaction(force_rollback=True):
                assert joined.seen("notifier", "m1", now=T0) is False
                assert joined.seen("notifier", "m1", now=T0) is True
            assert joined.seen("notifier", "m1", now=T0) is False
