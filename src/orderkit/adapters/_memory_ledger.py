"""The in-memory ledger store: heaps of expiries, an owner index, no I/O."""

from __future__ import annotations

import bisect
import copy
import heapq
import itertools
import threading
from collections.abc import Iterable, Sequence
from typing import cast, final

import pendulum

from orderkit._time import to_utc
from orderkit.adapters import _ledger_engine as engine
from orderkit.adapters._memory_journal import (
    ABSENT,
    Journal,
    Journaled,
    child,
    pop,
    push,
    put,
)
from orderkit.inventory import (
    Balance,
    Hold,
    HoldState,
    Movement,
    MovementKind,
    NoOversell,
    Plan,
    Receipt,
    StockPolicy,
)


_Entry = tuple[pendulum.DateTime, str]
_NO_POLICY = NoOversell()
_balance = engine.build_balance


@final
class MemoryLedgerStore(Journaled):
    """A `LedgerStore` in a dict, safe to share between threads.

    Holds are indexed by expiry, per balance and overall, so that expiring
    them costs O(expired) however many are live. Nothing survives the
    process.

    .. versionadded:: 0.1.0
    """

    def __init__(self) -> None:
        """Create an empty store."""
        self._lock = threading.Lock()
        self._s = _State()
        self._journal: Journal | None = None

    def apply(self, plan: Plan) -> Receipt:
        """Apply `plan` all or nothing (see `orderkit.ports.LedgerStore`)."""
        with self._lock:
            if self._owned:
                self._in_unit("apply")
            try:
                return engine.apply_plan(self._s, plan)
            except BaseException:
                self._s.restore()
                raise

    def expire_due(
        self, now: pendulum.DateTime, *, limit: int | None = None
    ) -> Sequence[Movement]:
        """Expire live holds due by `now`, oldest first, at the store's time."""
        now = to_utc(now, "now")
        with self._lock:
            if self._owned:
                self._in_unit("expire_due")
            try:
                return engine.expire_due(
                    self._s, now, lambda at: self._s.pop_due(at, limit)
                )
            except BaseException:
                self._s.restore()
                raise

    def balances(
        self,
        now: pendulum.DateTime,
        *,
        sku: str | None = None,
        location: str | None = None,
    ) -> Sequence[Balance]:
        """Return balances as of `now`, due holds counted as expired."""
        now = to_utc(now, "now")
        with self._lock:
            if self._owned:
                self._in_unit("balances")
            s = self._s
            mark = s.high_water_
            at = now if mark is None or now >= mark else mark
            found = []
            figures = s.figures_
            due_by_row = s.due_by_row
            # Built without re-validation, as the SQL stores build theirs:
            # the engine checked every figure it wrote (the ledger checks a
            # safety stock), and the lapsed units are some of the reserved.
            for row in s.rows(sku, location):
                on_hand, reserved, allocated, safety = figures[row]
                heap = due_by_row.get(row)
                # A heap's root is its earliest expiry: none due, none lapsed.
                if heap and heap[0][0] <= at:
                    reserved -= s.lapsed(heap, at)
                found.append(
                    _balance(row[0], row[1], on_hand, reserved, allocated, safety)
                )
            return found

    def due_holds(self, at: pendulum.DateTime) -> Sequence[Hold]:
        """Return the live holds due by `at`, soonest due first.

        The optional `due_holds` of the `LedgerStore` port: what a sweep at
        `at` expires.
        """
        at = to_utc(at, "at")
        with self._lock:
            if self._owned:
                self._in_unit("due_holds")
            due = [
                h
                for h in self._s.holds_.values()
                if h.state is HoldState.LIVE and h.expires_at <= at
            ]
        return sorted(due, key=lambda h: (h.expires_at, h.hold_id))

    def high_water(self) -> pendulum.DateTime | None:
        """The latest time this store has worked at, `None` before a write.

        The optional `high_water` of the `LedgerStore` port.
        """
        with self._lock:
            if self._owned:
                self._in_unit("high_water")
            return self._s.high_water_

    def receipt(self, key: str) -> Receipt | None:
        """Return the first receipt of `key`, marked replayed, or `None`."""
        with self._lock:
            if self._owned:
                self._in_unit("receipt")
            first = self._s.receipts.get(key)
        return None if first is None else engine.copy_receipt(first, replayed=True)

    def hold(self, hold_id: str) -> Hold | None:
        """Return the hold as stored."""
        with self._lock:
            if self._owned:
                self._in_unit("hold")
            return self._s.holds_.get(hold_id)

    def holds(
        self,
        *,
        owner: str | None = None,
        sku: str | None = None,
        state: HoldState | None = None,
    ) -> Sequence[Hold]:
        """Return holds as stored, filtered, oldest first."""
        with self._lock:
            if self._owned:
                self._in_unit("holds")
            found = [
                h
                for h in self._s.holds_.values()
                if (owner is None or h.owner == owner)
                and (sku is None or h.sku == sku)
                and (state is None or h.state is state)
            ]
        return sorted(found, key=lambda h: (h.placed_at, h.hold_id))

    def movements(
        self,
        *,
        after: int = 0,
        limit: int = 1000,
        sku: str | None = None,
        location: str | None = None,
    ) -> Sequence[Movement]:
        """Return up to `limit` movements with `seq > after`, filtered, in order.

        A filtered read goes through an index of sequence numbers per
        balance, brought up to date by the read itself: `apply` never pays
        for it, and a store nobody reads filtered never builds it.
        """
        with self._lock:
            if self._owned:
                self._in_unit("movements")
            start = max(after, 0)
            if sku is None and location is None:
                logged = self._s.movements_[start : start + max(limit, 0)]
                found = list(enumerate(logged, start + 1))
            else:
                found = self._s.filtered(start, max(limit, 0), sku, location)
        return [
            entry if type(entry) is Movement else _unpacked(entry, seq)
            for seq, entry in found
        ]

    def policy(self, sku: str) -> StockPolicy:
        """Return the SKU's stock policy."""
        if self._owned:
            self._in_unit("policy")
        return self._s.policies.get(sku, _NO_POLICY)

    def set_policy(self, sku: str, policy: StockPolicy) -> None:
        """Set the SKU's stock policy."""
        with self._lock:
            if self._owned:
                self._in_unit("set_policy")
            if self._journal is not None:
                self._journal.item(self._s.policies, sku)
            self._s.policies[sku] = policy

    def set_safety_stock(self, sku: str, location: str, quantity: int) -> None:
        """Set the safety stock of one balance."""
        with self._lock:
            if self._owned:
                self._in_unit("set_safety_stock")
            journal = self._journal
            s = self._s
            figures = s.figures_.get((sku, location))
            if figures is None:
                if journal is not None:
                    journal.item(s.figures_, (sku, location))
                figures = s.figures_[sku, location] = [0, 0, 0, 0]
            if journal is not None:
                journal.record(figures.__setitem__, 3, figures[3])
                journal.added(s.skus, sku)
                journal.added(s.locations, location)
            figures[3] = quantity
            s.skus.add(sku)
            s.locations.add(location)

    def _begin(self, journal: Journal | None = None) -> None:
        super()._begin(journal)
        self._s.journal = self._journal

    def _end(self) -> None:
        super()._end()
        self._s.journal = None

    def _snapshot(self) -> object:
        """A copy of the store's data, for `MemoryUnitOfWork` to roll back to."""
        with self._lock:
            # The journal is not data: the copy has none.
            return copy.deepcopy(self._s, {id(self._s.journal): None})

    def _restore(self, snapshot: object) -> None:
        """Put back the data `_snapshot` copied; the snapshot stays reusable."""
        state = copy.deepcopy(cast("_State", snapshot))
        with self._lock:
            state.journal = self._s.journal
            self._s = state


class _State:
    """The store's data, read and written by the engine under the store's lock."""

    def __init__(self) -> None:
        # A row's SKU and location are among `skus` and `locations` while
        # the row is in `figures_`.
        self.figures_: dict[engine.Row, engine.Figures] = {}
        self.skus: set[str] = set()
        self.locations: set[str] = set()
        self.holds_: dict[str, Hold] = {}
        self.due_by_row: dict[engine.Row, list[_Entry]] = {}
        self.due: list[_Entry] = []
        # Resolved or extended holds leave stale heap entries behind; a heap
        # is rebuilt once half of it is stale, so scans stay O(live).
        self.stale_by_row: dict[engine.Row, int] = {}
        self.stale = 0
        # Live hold ids per owner: an owner reserving again finds its own
        # holds without scanning every live hold on a busy balance. Most
        # owners hold one line: a bare id then, a list only for several.
        self.owner_live: dict[str, str | list[str]] = {}
        # The log of movements, a movement's seq its position + 1. A hold's
        # own hold movement is logged as the hold (see `_packed`).
        self.movements_: list[Movement | Hold] = []
        # The seqs of `movements_[:indexed]`, by SKU then location, in order:
        # built by filtered reads, never by writes (the hot path).
        self.seqs: dict[str, dict[str, list[int]]] = {}
        self.indexed = 0
        self.receipts: dict[str, Receipt] = {}
        self.policies: dict[str, StockPolicy] = {}
        self.high_water_: pendulum.DateTime | None = None
        # Entries popped while a plan runs; pushed back if it fails.
        self.popped: list[tuple[engine.Row, _Entry]] = []
        self.popped_due: list[_Entry] = []
        # The store's journal while a unit is open (`popped` needs none: it
        # is empty again when each call returns).
        self.journal: Journal | None = None

    def receipt(self, key: str) -> Receipt | None:
        return self.receipts.get(key)

    def rows(self, sku: str | None, location: str | None) -> list[engine.Row]:
        """The balances' rows of `sku` and `location` (`None`: any), sorted.

        A SKU's rows are found among the locations, not among every row:
        routing asks for one SKU at a time, and a store has far fewer
        locations than SKUs.
        """
        if sku is not None and location is not None:
            return [(sku, location)] if (sku, location) in self.figures_ else []
        if sku is not None:
            rows = self.figures_
            if len(self.locations) == 1:
                # A store of one location, as many are: nothing to sort.
                (at,) = self.locations
                return [(sku, at)] if (sku, at) in rows else []
            return [(sku, at) for at in sorted(self.locations) if (sku, at) in rows]
        return sorted(
            row for row in self.figures_ if location is None or row[1] == location
        )

    def high_water(self) -> pendulum.DateTime | None:
        return self.high_water_

    def figures(self, sku: str, location: str) -> engine.Figures | None:
        return self.figures_.get((sku, location))

    def sku_known(self, sku: str) -> bool:
        return sku in self.skus

    def location_known(self, location: str) -> bool:
        return location in self.locations

    def due_holds(self, row: engine.Row, at: pendulum.DateTime) -> Iterable[Hold]:
        heap = self.due_by_row.get(row)
        found = []
        while heap and heap[0][0] <= at:
            entry = pop(self.journal, heap)
            if self.is_entry(*entry):
                self.popped.append((row, entry))
                found.append(self.holds_[entry[1]])
        return found

    def owner_holds(self, owner: str, row: engine.Row) -> Iterable[Hold]:
        ids = self.owner_live.get(owner, ())
        found = []
        for hold_id in (ids,) if isinstance(ids, str) else ids:
            hold = self.holds_[hold_id]
            if (hold.sku, hold.location) == row:
                found.append(hold)
        return found

    def next_seq(self) -> int:
        return len(self.movements_) + 1

    def write(
        self,
        high_water: pendulum.DateTime,
        figures: dict[engine.Row, engine.Figures],
        holds: list[Hold],
        movements: list[Movement],
        receipt: Receipt | None,
    ) -> None:
        journal = self.journal
        stored = self.figures_
        # A stored row's SKU and location are known: only new rows add any.
        new = [row for row in figures if row not in stored]
        if journal is not None:
            # One record undoes the whole write but for its holds, which
            # journal their own writes (a hold moves heaps and owner lists).
            journal.record(
                self._unwrite,
                self.high_water_,
                [(row, stored.get(row, ABSENT)) for row in figures],
                [sku for sku, _ in new if sku not in self.skus],
                [at for _, at in new if at not in self.locations],
                len(self.movements_),
                None
                if receipt is None
                else (receipt.key, self.receipts.get(receipt.key, ABSENT)),
            )
        self.high_water_ = high_water
        stored.update(figures)
        for sku, at in new:
            self.skus.add(sku)
            self.locations.add(at)
        for hold in holds:
            self._write_hold(hold, journal)
        self.movements_.extend([_packed(m, self.holds_) for m in movements])
        if receipt is not None:
            self.receipts[receipt.key] = receipt
        self.popped.clear()
        self.popped_due.clear()

    def _unwrite(  # noqa: PLR0913, PLR0917 - what one write changed, in order
        self,
        high_water: pendulum.DateTime | None,
        figures: list[tuple[engine.Row, engine.Figures]],
        skus: list[str],
        locations: list[str],
        logged: int,
        receipt: tuple[str, Receipt] | None,
    ) -> None:
        """Undo `write` but for its holds (a rollback): the old values it kept."""
        self.high_water_ = high_water
        for row, old in figures:
            put(self.figures_, row, old)
        self.skus.difference_update(skus)
        self.locations.difference_update(locations)
        self._unindex(logged)
        del self.movements_[logged:]
        if receipt is not None:
            put(self.receipts, *receipt)

    def filtered(
        self, after: int, limit: int, sku: str | None, location: str | None
    ) -> list[tuple[int, Movement | Hold]]:
        """Up to `limit` of the movements of `sku` at `location` after `after`.

        `None` stands for any. A SKU's movements at each location are in
        order already: merged, and only `limit` of each read.
        """
        self._index()
        if sku is not None:
            by_location = self.seqs.get(sku, {})
            if location is not None:
                found = by_location.get(location)
                runs = [] if found is None else [found]
            else:
                runs = list(by_location.values())
        else:
            runs = [
                found
                for by_location in self.seqs.values()
                if (found := by_location.get(cast("str", location))) is not None
            ]
        picked = [
            run[(i := bisect.bisect_right(run, after)) : i + limit] for run in runs
        ]
        merged = picked[0] if len(picked) == 1 else heapq.merge(*picked)
        logged = self.movements_
        return [(seq, logged[seq - 1]) for seq in itertools.islice(merged, limit)]

    def _index(self) -> None:
        """Bring the index of seqs up to the log's end."""
        logged = self.movements_
        seqs = self.seqs
        for seq in range(self.indexed + 1, len(logged) + 1):
            entry = logged[seq - 1]
            by_location = seqs.get(entry.sku)
            if by_location is None:
                by_location = seqs[entry.sku] = {}
            run = by_location.get(entry.location)
            if run is None:
                by_location[entry.location] = [seq]
            else:
                run.append(seq)
        self.indexed = len(logged)

    def _unindex(self, logged: int) -> None:
        """Take the movements after the first `logged` out of the index.

        A read inside a unit of work may index movements the unit then
        rolls back: each was the last of its run.
        """
        for seq in range(self.indexed, logged, -1):
            entry = self.movements_[seq - 1]
            by_location = self.seqs[entry.sku]
            run = by_location[entry.location]
            run.pop()
            if not run:
                del by_location[entry.location]
                if not by_location:
                    del self.seqs[entry.sku]
        self.indexed = min(self.indexed, logged)

    def _write_hold(self, hold: Hold, journal: Journal | None) -> None:
        old = self.holds_.get(hold.hold_id)
        if journal is not None:
            journal.item(self.holds_, hold.hold_id)
        self.holds_[hold.hold_id] = hold
        row = (hold.sku, hold.location)
        moved = old is None or old.expires_at != hold.expires_at
        if hold.state is HoldState.LIVE and moved:
            entry = (hold.expires_at, hold.hold_id)
            push(journal, child(journal, self.due_by_row, row, list), entry)
            push(journal, self.due, entry)
        if old is None and hold.state is HoldState.LIVE:
            self._remember_owner(hold)
        elif old is not None and old.state is HoldState.LIVE:
            if hold.state is not HoldState.LIVE:
                self._forget_owner(hold)
            if moved or hold.state is not HoldState.LIVE:
                self._went_stale(row)

    def _remember_owner(self, hold: Hold) -> None:
        journal = self.journal
        ids = self.owner_live.get(hold.owner)
        if ids is None or isinstance(ids, str):
            if journal is not None:
                journal.item(self.owner_live, hold.owner)
            self.owner_live[hold.owner] = (
                hold.hold_id if ids is None else [ids, hold.hold_id]
            )
        else:
            if journal is not None:
                journal.length(ids)
            ids.append(hold.hold_id)

    def _forget_owner(self, hold: Hold) -> None:
        journal = self.journal
        ids = self.owner_live[hold.owner]
        if journal is not None:
            journal.item(self.owner_live, hold.owner)
        if isinstance(ids, str):
            del self.owner_live[hold.owner]
            return
        where = ids.index(hold.hold_id)
        if journal is not None:
            journal.record(ids.insert, where, hold.hold_id)
        del ids[where]
        if len(ids) == 1:
            self.owner_live[hold.owner] = ids[0]

    def _went_stale(self, row: engine.Row) -> None:
        journal = self.journal
        if journal is not None:
            journal.item(self.stale_by_row, row)
            journal.attr(self, "stale")
        stale = self.stale_by_row[row] = self.stale_by_row.get(row, 0) + 1
        heap = self.due_by_row[row]
        if stale > len(heap) // 2:
            # O(len(heap)), as the rebuild is: once per len(heap) // 2 calls.
            if journal is not None:
                journal.whole(heap)
            heap[:] = [e for e in heap if self.is_entry(*e)]
            heapq.heapify(heap)
            self.stale_by_row[row] = 0
        self.stale += 1
        if self.stale > len(self.due) // 2:
            if journal is not None:
                journal.whole(self.due)
            self.due[:] = [e for e in self.due if self.is_entry(*e)]
            heapq.heapify(self.due)
            self.stale = 0

    def lapsed(self, heap: list[_Entry], at: pendulum.DateTime) -> int:
        """The units of the live holds of a row's `heap` due by `at`, not yet expired.

        Walks only the heap's entries due by `at` (a subtree whose root is
        not due holds none), not every live hold of the row: a hot SKU's
        balance is read on every order.
        """
        total = 0
        size = len(heap)
        stack = [0]
        while stack:
            index = stack.pop()
            expires_at, hold_id = heap[index]
            if expires_at > at:
                continue
            if self.is_entry(expires_at, hold_id):
                total += self.holds_[hold_id].quantity
            child = 2 * index + 1
            stack.extend(c for c in (child, child + 1) if c < size)
        return total

    def is_entry(self, expires_at: pendulum.DateTime, hold_id: str) -> bool:
        """Whether a heap entry still stands for a live hold (lazy deletion)."""
        hold = self.holds_[hold_id]
        return hold.state is HoldState.LIVE and hold.expires_at == expires_at

    def pop_due(self, at: pendulum.DateTime, limit: int | None) -> list[Hold]:
        found: list[Hold] = []
        while self.due and self.due[0][0] <= at:
            if limit is not None and len(found) >= limit:
                break
            entry = pop(self.journal, self.due)
            if self.is_entry(*entry):
                self.popped_due.append(entry)
                found.append(self.holds_[entry[1]])
        return found

    def hold(self, hold_id: str) -> Hold | None:
        return self.holds_.get(hold_id)

    def policy(self, sku: str) -> StockPolicy:
        return self.policies.get(sku, _NO_POLICY)

    def restore(self) -> None:
        """Undo the heap pops of a plan or sweep that failed."""
        for row, entry in self.popped:
            push(self.journal, self.due_by_row[row], entry)
        for entry in self.popped_due:
            push(self.journal, self.due, entry)
        self.popped.clear()
        self.popped_due.clear()


def _unpacked(hold: Hold, seq: int) -> Movement:
    """The movement that placed `hold`, numbered `seq`."""
    key, _, index = hold.hold_id.rpartition("/")
    return engine.build_movement(
        key, int(index), MovementKind.HOLD, hold.sku, hold.location, 0,
        hold.quantity, 0, hold.placed_at, "", "system", hold.hold_id, None, seq,
    )  # fmt: skip


def _packed(movement: Movement, holds: dict[str, Hold]) -> Movement | Hold:
    """`movement`, or the hold it placed when `_unpacked` gives it back exactly.

    A live hold then costs its hold alone, not a hold and a movement that
    repeats it: a flash sale keeps millions of them outstanding.
    """
    if movement.kind is not MovementKind.HOLD or movement.hold_id is None:
        return movement
    hold = holds.get(movement.hold_id)
    if hold is None:
        return movement
    key, _, index = hold.hold_id.rpartition("/")
    if not index.isdecimal():
        return movement
    # `_unpacked(hold, movement.seq) == movement`, field by field, without
    # building the movement: its kind, hold id and seq agree already.
    m = movement
    if (
        m.key, m.index, m.sku, m.location, m.on_hand, m.reserved, m.allocated,
        m.at, m.reason, m.actor, m.counted,
    ) == (
        key, int(index), hold.sku, hold.location, 0, hold.quantity, 0,
        hold.placed_at, "", "system", None,
    ):  # fmt: skip
        return hold
    return movement
