"""The PostgreSQL ledger's reads: each one statement, its own transaction.

`PostgresLedgerStore` inherits them. Every read is a single statement, so on
an autocommit connection outside any transaction it runs alone, one round
trip (see `Session.transact`); inside a host's transaction it joins it and
sees the host's uncommitted writes.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Final, TypeVar

import pendulum

from orderkit._time import to_utc
from orderkit.adapters import _ledger_engine as engine
from orderkit.adapters._ledger_rows import (
    due_query,
    holds_query,
    read_hold,
    read_movement,
    read_policy,
    wanted_skus,
)
from orderkit.adapters._micros import from_us, to_us
from orderkit.adapters._postgres_ledger_tables import (
    BALANCES,
    BALANCES_BY,
    BALANCES_END,
    HOLD_BY_ID,
    MARK,
    MOVEMENTS_AFTER,
    MOVEMENTS_AT,
    MOVEMENTS_OF_ROW,
    MOVEMENTS_OF_SKU,
    POLICY,
    RECEIPT,
    load_receipt,
)
from orderkit.adapters._postgres_session import Cursor, SessionStore, store_error
from orderkit.inventory import Balance, Hold, HoldState, Movement, Receipt, StockPolicy


T = TypeVar("T")
# Values the driver cannot send (a lone surrogate in text) fail before the
# server sees them; they are storage failures all the same.
UNSENDABLE: Final = (UnicodeEncodeError,)
_DUE_HOLDS: Final = due_query("%s")
_BALANCES_OF: Final = f"{BALANCES} WHERE b.sku = ANY(%(skus)s::text[]){BALANCES_END}"


class LedgerReads(SessionStore):
    """The reads of `PostgresLedgerStore` (see there)."""

    def balances(
        self,
        now: pendulum.DateTime,
        *,
        sku: str | None = None,
        location: str | None = None,
    ) -> Sequence[Balance]:
        """Return balances as of `now`, due holds counted as expired, by SKU.

        Raises:
            StoreError: PostgreSQL failed.
        """
        at = to_us(to_utc(now, "now"))
        query = BALANCES + BALANCES_BY[sku is not None, location is not None]
        values = {"now": at, "sku": sku, "location": location}
        return self._read(
            "balances",
            lambda cur: [
                engine.build_balance(*row)
                for row in cur.execute(query + BALANCES_END, values)
            ],
        )

    def balances_of(
        self, now: pendulum.DateTime, skus: Iterable[str]
    ) -> Sequence[Balance]:
        """Return the balances of every SKU in `skus` as of `now`, in one read.

        The optional `balances_of` of the `LedgerStore` port: what
        `balances(now, sku=...)` returns for each SKU, by SKU then location.

        Raises:
            ValidationError: `skus` is not a sequence of text.
            StoreError: PostgreSQL failed.
        """
        values = {"now": to_us(to_utc(now, "now")), "skus": wanted_skus(skus)}
        return self._read(
            "balances_of",
            lambda cur: [
                engine.build_balance(*row) for row in cur.execute(_BALANCES_OF, values)
            ],
        )

    def due_holds(self, at: pendulum.DateTime) -> Sequence[Hold]:
        """Return the live holds due by `at`, soonest due first.

        The optional `due_holds` of the `LedgerStore` port: what a sweep at
        `at` expires, read through the index of live holds by expiry.

        Raises:
            StoreError: PostgreSQL failed.
        """
        values = (to_us(to_utc(at, "at")),)
        return self._read(
            "due_holds",
            lambda cur: [read_hold(row) for row in cur.execute(_DUE_HOLDS, values)],
        )

    def high_water(self) -> pendulum.DateTime | None:
        """The latest time this store has worked at, `None` before a write.

        The optional `high_water` of the `LedgerStore` port.

        Raises:
            StoreError: PostgreSQL failed.
        """

        def work(cur: Cursor) -> pendulum.DateTime | None:
            row = cur.execute(f"SELECT {MARK}").fetchone()
            return None if row is None or row[0] is None else from_us(row[0])

        return self._read("high_water", work)

    def receipt(self, key: str) -> Receipt | None:
        """Return the first receipt of `key`, marked replayed, or `None`.

        Raises:
            StoreError: PostgreSQL failed.
        """

        def work(cur: Cursor) -> Receipt | None:
            row = cur.execute(RECEIPT, {"key": key}).fetchone()
            if row is None:
                return None
            return engine.copy_receipt(load_receipt(*row), replayed=True)

        return self._read("receipt", work)

    def hold(self, hold_id: str) -> Hold | None:
        """Return the hold as stored, or `None`.

        Raises:
            StoreError: PostgreSQL failed.
        """

        def work(cur: Cursor) -> Hold | None:
            row = cur.execute(HOLD_BY_ID, (hold_id,)).fetchone()
            return None if row is None else read_hold(row)

        return self._read("hold", work)

    def holds(
        self,
        *,
        owner: str | None = None,
        sku: str | None = None,
        state: HoldState | None = None,
    ) -> Sequence[Hold]:
        """Return holds as stored, filtered, oldest first.

        Raises:
            StoreError: PostgreSQL failed.
        """
        query, values = holds_query("%s", owner, sku, state)
        return self._read(
            "holds", lambda cur: [read_hold(row) for row in cur.execute(query, values)]
        )

    def movements(
        self,
        *,
        after: int = 0,
        limit: int = 1000,
        sku: str | None = None,
        location: str | None = None,
    ) -> Sequence[Movement]:
        """Return up to `limit` movements with `seq > after`, filtered, in order.

        One balance's movements (`sku` and `location`) are read through the
        primary key, (sku, location, seq); a SKU's, through it once per
        location; a location's alone, along the index of seqs.

        Raises:
            StoreError: PostgreSQL failed.
        """
        if limit <= 0:
            return []
        query: str
        values: Sequence[object] | dict[str, object]
        if sku is None:
            query, values = (
                (MOVEMENTS_AFTER, (after, limit))
                if location is None
                else (MOVEMENTS_AT, (location, after, limit))
            )
        elif location is None:
            query = MOVEMENTS_OF_SKU
            values = {"sku": sku, "after": after, "limit": limit}
        else:
            query, values = MOVEMENTS_OF_ROW, (sku, location, after, limit)
        return self._read(
            "movements",
            lambda cur: [read_movement(row) for row in cur.execute(query, values)],
        )

    def policy(self, sku: str) -> StockPolicy:
        """Return the SKU's stock policy (`NoOversell()` unless one was set).

        Raises:
            StoreError: PostgreSQL failed.
        """
        return self._read(
            "policy", lambda cur: read_policy(cur.execute(POLICY, (sku,)).fetchone())
        )

    def _read(self, operation: str, work: Callable[[Cursor], T]) -> T:
        try:
            return self._session.transact(operation, work, single=True)
        except UNSENDABLE as exc:
            raise store_error(operation, exc) from exc
