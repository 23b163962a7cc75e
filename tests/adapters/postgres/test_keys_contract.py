"""The PostgreSQL key store runs the key store contract, and what only it does.

Each store lives in a schema of its own; racers are processes, each opening
its own store on the schema's DSN.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Callable, Iterator

import pendulum
import psycopg
import pytest
from tests.adapters.postgres._stores import OneSchemaPerStore

from orderkit.adapters._postgres_keys import PostgresKeyStore
from orderkit.dedupe._claims import Claimed, InProgress, Outcome, Replay
from orderkit.errors import IdempotencyConflict, StoreError
from orderkit.services import Idempotency
from orderkit.testing import FrozenClock
from orderkit.testing._contract_base import Barrier
from orderkit.testing.contracts import KeyStoreContract


T0 = pendulum.datetime(2026, 11, 11, 0, 0)
KEY = "douyin:payment:DY-1001:evt-7781"
HASH = "6d0eb1fc958f31f103bc750926d365baa98e67921de10991715f2837aa3e4406"
LEASE = dt.timedelta(seconds=30)
PICKED = Outcome(succeeded=True, body=b'{"order":"DY-1001","status":"picking"}')
VICTIM = "orderkit_keys"


# --------------------------------------------------------------------------
# The contract


class TestPostgresKeys(OneSchemaPerStore[PostgresKeyStore], KeyStoreContract):
    """PostgresKeyStore: racers are processes, each with its own store."""

    store_class = PostgresKeyStore
    victim = VICTIM

    def test_racers_for_a_lapsed_claim_take_it_over_once(
        self, store: PostgresKeyStore, clock: FrozenClock
    ) -> None:
        """Past the lease, exactly one racer takes each key over, at attempt 2."""
        keys = [f"lapsed-{i}" for i in range(self.race_keys)]
        for key in keys:
            self.claimed(store, key, clock.now().subtract(minutes=1), HASH)
        # Every racer walks the keys in the same order: they collide on each.
        racer = functools.partial(_take_over, keys, clock.now())
        found = self._race(store, [racer] * self.race_workers)
        assert sorted(key for took in found for key in took) == sorted(keys)
        with psycopg.connect(self.dsns[id(store)]) as conn:
            attempts = conn.execute(
                "SELECT min(attempt), max(attempt) FROM orderkit_keys"
            ).fetchone()
        assert attempts == (2, 2)


def _take_over(
    keys: list[str],
    now: dt.datetime,
    factory: Callable[[], PostgresKeyStore],
    barrier: Barrier,
) -> list[str]:
    """Claim every key at `now`; return the keys this racer was granted."""
    store = factory()
    barrier.wait(timeout=120)
    took = [
        key
        for key in keys
        if isinstance(store.claim(key, HASH, now=now, lease=LEASE), Claimed)
    ]
    store.close()
    return took


# --------------------------------------------------------------------------
# What only PostgreSQL does


def test_a_key_schema_from_a_newer_orderkit_is_refused(pg_dsn: str) -> None:
    PostgresKeyStore(pg_dsn).close()
    with psycopg.connect(pg_dsn, autocommit=True) as conn:
        conn.execute(
            "UPDATE orderkit_meta SET value = 99 WHERE name = 'keys_schema_version'"
        )
    with pytest.raises(StoreError, match="key schema version 99 is newer"):
        PostgresKeyStore(pg_dsn)


def test_a_closed_store_raises_store_error(pg_dsn: str) -> None:
    store = PostgresKeyStore(pg_dsn)
    store.close()
    store.close()
    with pytest.raises(StoreError, match="closed"):
        store.claim(KEY, HASH, now=T0, lease=LEASE)


class TestJoinedSession:
    """Inside a host's transaction, claims commit or roll back with the host."""

    @pytest.fixture
    def conn(self, pg_dsn: str) -> Iterator[psycopg.Connection[tuple[object, ...]]]:
        PostgresKeyStore(pg_dsn).close()  # the schema, committed
        with psycopg.connect(pg_dsn, autocommit=True) as conn:
            yield conn

    def test_the_host_rolling_back_frees_the_key(
        self, conn: psycopg.Connection[tuple[object, ...]], pg_dsn: str
    ) -> None:
        conn.execute("BEGIN")
        store = PostgresKeyStore(conn)
        claim = store.claim(KEY, HASH, now=T0, lease=LEASE)
        assert isinstance(claim, Claimed)
        store.complete(KEY, claim.token, PICKED, now=T0)
        # The store neither committed nor rolled back.
        assert conn.info.transaction_status is psycopg.pq.TransactionStatus.INTRANS
        conn.execute("ROLLBACK")
        with PostgresKeyStore(pg_dsn) as other:
            fresh = other.claim(KEY, "another-request", now=T0, lease=LEASE)
            assert isinstance(fresh, Claimed)

    def test_the_host_committing_keeps_the_outcome(
        self, conn: psycopg.Connection[tuple[object, ...]], pg_dsn: str
    ) -> None:
        conn.execute("CREATE TABLE picks (order_id text)")
        conn.execute("BEGIN")
        once = Idempotency(PostgresKeyStore(conn), FrozenClock(T0))

        def pick() -> Outcome:
            conn.execute("INSERT INTO picks VALUES ('DY-1001')")
            return PICKED

        assert not once.run(KEY, HASH, pick).replayed
        conn.execute("COMMIT")
        with PostgresKeyStore(pg_dsn) as other:
            assert other.claim(KEY, HASH, now=T0, lease=LEASE) == Replay(KEY, PICKED)
        assert conn.execute("SELECT count(*) FROM picks").fetchone() == (1,)

    def test_a_conflict_leaves_the_hosts_writes_intact(
        self, conn: psycopg.Connection[tuple[object, ...]]
    ) -> None:
        store = PostgresKeyStore(conn)
        claim = store.claim(KEY, HASH, now=T0, lease=LEASE)
        assert isinstance(claim, Claimed)
        conn.execute("CREATE TABLE notes (text text)")
        conn.execute("BEGIN")
        conn.execute("INSERT INTO notes VALUES ('kept')")
        with pytest.raises(IdempotencyConflict):
            store.claim(KEY, "another-request", now=T0, lease=LEASE)
        assert conn.info.transaction_status is psycopg.pq.TransactionStatus.INTRANS
        conn.execute("COMMIT")
        assert conn.execute("SELECT text FROM notes").fetchall() == [("kept",)]
        again = store.claim(KEY, HASH, now=T0, lease=LEASE)
        assert again == InProgress(KEY, T0.add(seconds=30))

    def test_first_use_inside_a_transaction_creates_the_schema_there(
        self, pg_dsn: str
    ) -> None:
        with psycopg.connect(pg_dsn, autocommit=True) as conn:
            conn.execute("BEGIN")
            PostgresKeyStore(conn).claim(KEY, HASH, now=T0, lease=LEASE)
            conn.execute("ROLLBACK")
            found = conn.execute("SELECT to_regclass('orderkit_keys')").fetchone()
        assert found == (None,)
