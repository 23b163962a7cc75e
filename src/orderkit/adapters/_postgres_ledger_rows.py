"""The ledger engine's reads and its one write, in SQL, for the PostgreSQL store.

PostgreSQL runs writers side by side (READ COMMITTED), so the plan's
balances are locked before the engine reads anything: one
`SELECT ... FOR UPDATE` over every balance the plan touches, one by one in
(sku, location) order, so that two plans sharing balances wait for each
other, never for each other in a circle. A balance the plan would create
is inserted first (`INSERT ... ON CONFLICT DO NOTHING`: of two plans
creating it, the second waits for the first and then locks its row).
Everything else is read after the lock, by a statement with a snapshot of
its own: a plan that waited sees the receipt, holds and high-water mark of
the one it waited for. Holds change only under their balance's lock, so
the holds read are the holds written over.

The store applies most plans in one call instead (`_postgres_ledger_fast`);
the plans the call leaves come here, four round trips: BEGIN, the lock and
every read (`orderkit_ledger_read`), the write (`orderkit_ledger_write`),
COMMIT.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from typing import Any, ClassVar, Final

import pendulum
from psycopg import pq

from orderkit.adapters import _ledger_engine as engine
from orderkit.adapters._ledger_rows import (
    NO_POLICY,
    encode_receipt,
    hold_row,
    movement_row,
    read_hold,
    read_policy,
)
from orderkit.adapters._micros import from_us, to_us
from orderkit.adapters._postgres_ledger_tables import (
    DROP_BALANCES,
    DUE_ROWS,
    HOLD_BY_ID,
    LOCATION_KNOWN,
    LOCK,
    POLICY,
    READ,
    SKU_KNOWN,
    WRITE,
    load_receipt,
)
from orderkit.adapters._postgres_session import Cursor
from orderkit.inventory import Hold, HoldState, Movement, Plan, Receipt, StockPolicy


_SAVEPOINT: Final = "SAVEPOINT orderkit_plan"
_RELEASE: Final = "RELEASE SAVEPOINT orderkit_plan"
_UNDO: Final = "ROLLBACK TO SAVEPOINT orderkit_plan"
_EMPTY: Final = (0, 0, 0, 0)


class PostgresRows:
    """The engine's reads and one write, inside the store's transaction.

    Given a plan, the first read locks (and if need be creates) every
    balance the plan touches and reads all the engine will ask about them.
    Given none, it is an expiry sweep at `now`: it finds the balances of
    the first `limit` due holds, locks them, and reads their due holds.

    With `undoable`, the rows open a savepoint before their first statement
    and release it after the write: `undo()` then takes back everything
    they did (created balances included) and the transaction goes on.

    Movement numbers come from a sequence, so they are unique and
    increasing but not adjacent: `next_seq()` numbers the engine's
    movements 1, 2, ... and the write gives each its stored number;
    `renumber()` and `written` carry those into what the store returns.

    **A seam for tests only.** `locking` says whether the balances are
    locked before they are read, here and in the store's one call
    (`_postgres_ledger_fast`). A subclass that sets it to False reads them
    unlocked: two processes then both sell the last unit, which is how a
    concurrency test proves that it can see an oversell. Never ship one.
    """

    locking: ClassVar[bool] = True
    """Lock the balances before reading; False in a deliberately broken test variant."""

    def __init__(
        self,
        cur: Cursor,
        plan: Plan | None,
        *,
        now: pendulum.DateTime | None = None,
        limit: int | None = None,
        undoable: bool = False,
    ) -> None:
        self._cur = cur
        self._plan = plan
        self._now = plan.now if plan is not None else now
        self._limit = limit
        self._undoable = undoable
        self._open = False
        self._started = False
        self._mark: int | None = None
        self._receipt: Receipt | None = None
        self._figures: dict[engine.Row, engine.Figures | None] = {}
        self._loaded: dict[engine.Row, Sequence[int]] = {}
        self._created: set[engine.Row] = set()
        self._holds: dict[str, Hold | None] = {}
        self._live: dict[str, Hold] = {}
        self._policies: dict[str, StockPolicy] = {}
        self._numbered: dict[int, Movement] = {}
        self.written: list[Movement] = []
        """The movements written, with their stored numbers."""

    # what the engine reads

    def receipt(self, key: str) -> Receipt | None:  # noqa: ARG002 - read with the lock
        self._start()
        if self._receipt is not None and self._created:
            # A replay writes nothing: the balances the read created for the
            # plan go again, or an unknown SKU would be known from now on.
            self._cur.execute(DROP_BALANCES, (_json(sorted(self._created)),))
            self._created.clear()
        return self._receipt

    def high_water(self) -> pendulum.DateTime | None:
        self._start()
        return None if self._mark is None else from_us(self._mark)

    def next_seq(self) -> int:
        return 1  # numbers within the plan; `write` gives the stored ones

    def figures(self, sku: str, location: str) -> engine.Figures | None:
        row = (sku, location)
        if row not in self._figures:
            # The engine asks only about balances locked first; should that
            # change, lock this one now rather than read it bare.
            self._call([row], read=False)
        return self._figures[row]

    def sku_known(self, sku: str) -> bool:
        # Balances this plan created are not known stock: they go if it fails.
        mine = [loc for s, loc in self._created if s == sku]
        return self._cur.execute(SKU_KNOWN, (sku, mine)).fetchone() is not None

    def location_known(self, location: str) -> bool:
        mine = [s for s, loc in self._created if loc == location]
        found = self._cur.execute(LOCATION_KNOWN, (location, mine)).fetchone()
        return found is not None

    def due_holds(self, row: engine.Row, at: pendulum.DateTime) -> Iterable[Hold]:
        due = [
            h
            for h in self._live.values()
            if (h.sku, h.location) == row and h.expires_at <= at
        ]
        due.sort(key=_due_order)
        return due

    def owner_holds(self, owner: str, row: engine.Row) -> Iterable[Hold]:
        if self._plan is None or owner != self._plan.supersede:
            return []  # the engine asks only about the plan's own owner
        owned = [
            h
            for h in self._live.values()
            if h.owner == owner and (h.sku, h.location) == row
        ]
        owned.sort(key=_placed_order)
        return owned

    def hold(self, hold_id: str) -> Hold | None:
        if hold_id not in self._holds:
            found = self._cur.execute(HOLD_BY_ID, (hold_id,)).fetchone()
            self._holds[hold_id] = None if found is None else read_hold(found)
        return self._holds[hold_id]

    def policy(self, sku: str) -> StockPolicy:
        if sku not in self._policies:
            found = self._cur.execute(POLICY, (sku,)).fetchone()
            self._policies[sku] = read_policy(found)
        return self._policies[sku]

    def due(self, at: pendulum.DateTime) -> list[Hold]:
        """The sweep's holds due by `at`, as they fell due, at most `limit`."""
        self._start()
        due = [h for h in self._live.values() if h.expires_at <= at]
        due.sort(key=_due_order)
        return due if self._limit is None else due[: self._limit]

    # the savepoint

    def undo(self) -> bool:
        """Take back what these rows did; say whether the transaction goes on."""
        if self._open:
            self._cur.execute(_UNDO)
            self._cur.execute(_RELEASE)
            self._open = False
            return True
        status = self._cur.connection.info.transaction_status
        return status != pq.TransactionStatus.INERROR

    def done(self) -> None:
        """Keep what these rows did (release their savepoint, if open)."""
        if self._open:
            self._cur.execute(_RELEASE)
            self._open = False

    # reading under the lock

    def lock(self, rows: Iterable[engine.Row]) -> bool:
        """Lock the existing balances among `rows`, in key order.

        Returns:
            Whether every one of `rows` exists.
        """
        ordered = sorted(set(rows))
        if not ordered or not self.locking:
            return True
        found = self._cur.execute(LOCK, (_json(ordered),)).fetchone()
        return found is not None and int(found[0]) == len(ordered)

    def _start(self) -> None:
        if self._started:
            return
        self._started = True
        if self._undoable:
            self._cur.execute(_SAVEPOINT)
            self._open = True
        plan = self._plan
        if plan is None:
            self._start_sweep()
            return
        self._call(
            list(plan.touched()),
            read=True,
            key=plan.key if plan.remember else None,
            owner=plan.supersede,
            ids=[w.new.hold_id for w in plan.holds],
        )
        for w in plan.holds:
            self._holds.setdefault(w.new.hold_id, None)

    def _start_sweep(self) -> None:
        assert self._now is not None  # noqa: S101 - a sweep is given its time
        query = {"now": to_us(self._now), "limit": self._limit}
        found = self._cur.execute(DUE_ROWS, query).fetchone()
        assert found is not None  # noqa: S101 - an aggregate: one row
        self._mark, skus, locations = found
        if skus:
            self._call(list(zip(skus, locations, strict=True)), read=True)

    def _call(
        self,
        rows: list[engine.Row],
        *,
        read: bool,
        key: str | None = None,
        owner: str | None = None,
        ids: Sequence[str] = (),
    ) -> None:
        """Lock `rows` in key order (creating those missing), then read the rest.

        Every plan locks in the one order of (sku, location) by code point,
        so two plans sharing balances never wait for each other in a circle.
        """
        assert self._now is not None  # noqa: S101 - plans and sweeps have a time
        ordered = sorted(set(rows))
        policies = sorted({sku for sku, _ in ordered}) if read else []
        query = {
            "touched": _json(ordered),
            "lock": self.locking,
            "read": read,
            "now": to_us(self._now),
            "key": key,
            "owner": owner,
            "ids": _json(ids),
            "policies": _json(policies),
        }
        for found in self._cur.execute(READ, query):
            tag = found[0]
            if tag == 4:
                self._take(found[1], found[2], found[5:8], found[9])
            elif tag == 5:
                self._created.add((found[1], found[2]))
            elif tag == 0:
                body, self._mark, seqs = found[1], found[6], found[12]
                if body is not None:
                    self._receipt = load_receipt(body, seqs)
            elif tag == 3:
                self._policies[found[3]] = read_policy((found[8], found[5], found[7]))
            else:
                hold = read_hold(found[1:12])
                self._holds[hold.hold_id] = hold
                if tag == 1 and hold.state is HoldState.LIVE:
                    self._live[hold.hold_id] = hold
        for row in ordered:
            self._figures.setdefault(row, None)
        for sku in policies:
            self._policies.setdefault(sku, NO_POLICY)

    def _take(
        self, sku: str, location: str, figures: Sequence[int], safety: int
    ) -> None:
        row = (sku, location)
        self._loaded[row] = [*figures, safety]
        self._figures[row] = None if row in self._created else [*figures, safety]

    # the one write

    def write(
        self,
        high_water: pendulum.DateTime,
        figures: dict[engine.Row, engine.Figures],
        holds: list[Hold],
        movements: list[Movement],
        receipt: Receipt | None,
    ) -> None:
        mark = to_us(high_water)
        values: dict[str, object] = {
            "count": len(movements),
            "mark": None if mark == self._mark else mark,
            "key": None if receipt is None else receipt.key,
            # The body numbers the movements 1, 2, ...: the numbers the
            # engine gave them; `seqs` maps them to the stored ones.
            "body": None if receipt is None else encode_receipt(receipt),
        }
        changed = [
            (*row, *new[:3])
            for row, new in figures.items()
            if new[:3] != list(self._loaded.get(row, _EMPTY)[:3])
        ]
        new = [hold_row(h) for h in holds if self._holds.get(h.hold_id) is None]
        stored = [
            (h.sku, h.location, h.hold_id, *hold_row(h)[6:])
            for h in holds
            if self._holds.get(h.hold_id) is not None
        ]
        values |= {
            "balances": _json(changed),
            "dropped": _json([row for row in self._created if row not in figures]),
            "new_holds": _json(new),
            "holds": _json(stored),
            "movements": _json([movement_row(m)[:13] for m in movements]),
        }
        found = self._cur.execute(WRITE, values).fetchone()
        assert found is not None  # noqa: S101 - one row, always
        self.written = [
            engine.copy_movement(m, seq=seq)
            for m, seq in zip(movements, found[0], strict=True)
        ]
        self._numbered = {
            m.seq: n for m, n in zip(movements, self.written, strict=True)
        }
        if self._open:
            self._cur.execute(_RELEASE)
            self._open = False

    def renumber(self, receipt: Receipt) -> Receipt:
        """`receipt` with the stored numbers of the movements written."""
        if not self._numbered:
            return receipt
        return engine.copy_receipt(
            receipt, movements=tuple(self._numbered[m.seq] for m in receipt.movements)
        )


_ENCODER: Final = json.JSONEncoder(separators=(",", ":"))


def _json(rows: Sequence[Sequence[Any]]) -> str:
    """Rows as the JSON array of arrays the statements take apart."""
    return _ENCODER.encode(rows)


def _touched(rows: Sequence[engine.Row]) -> dict[str, str]:
    """Balances as the `touched` parameter of the statements."""
    return {"touched": _json(rows)}


def _due_order(hold: Hold) -> tuple[pendulum.DateTime, str]:
    """Due holds in the order they fell due; ties by id, as in the memory store."""
    return hold.expires_at, hold.hold_id


def _placed_order(hold: Hold) -> tuple[pendulum.DateTime, str]:
    return hold.placed_at, hold.hold_id
