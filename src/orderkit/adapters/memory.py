"""In-memory stores: the reference semantics of every port, for tests and demos.

.. versionadded:: 0.1.0
"""

from __future__ import annotations

import bisect
import datetime as dt
import heapq
import itertools
import operator
import secrets
import threading
from collections.abc import Iterable, Sequence
from typing import final

import attrs
import pendulum

from orderkit._time import plus
from orderkit.adapters import _ledger_engine as engine
from orderkit.dedupe import (
    Match,
    ReviewState,
    Screening,
    Sighting,
    Suspicion,
)
from orderkit.dedupe._claims import (
    Claim,
    Claimed,
    InProgress,
    Outcome,
    Replay,
    check_duration,
    check_key,
    check_now,
    check_outcome,
    check_request_hash,
    check_token,
)
from orderkit.dedupe._fingerprints import Fingerprint
from orderkit.dedupe._matches import (
    check_before,
    check_decision,
    check_fingerprints,
    check_limit,
    check_phone,
    check_sighting,
    check_text,
    check_window,
    decided_otherwise,
    group_matches,
    no_suspicion,
    window_around,
)
from orderkit.errors import ConcurrencyConflict, IdempotencyConflict, ValidationError
from orderkit.inventory import (
    Balance,
    Hold,
    HoldState,
    Movement,
    NoOversell,
    Plan,
    Receipt,
    StockPolicy,
)


__all__ = ["MemoryDetectorStore", "MemoryKeyStore", "MemoryLedgerStore"]

_Entry = tuple[pendulum.DateTime, str]
_NO_POLICY = NoOversell()


@final
class MemoryLedgerStore:
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

    def apply(self, plan: Plan) -> Receipt:
        """Apply `plan` all or nothing (see `orderkit.ports.LedgerStore`)."""
        with self._lock:
            try:
                return engine.apply_plan(self._s, plan)
            except BaseException:
                self._s.restore()
                raise

    def expire_due(
        self, now: pendulum.DateTime, *, limit: int | None = None
    ) -> Sequence[Movement]:
        """Expire live holds due by `now` (or the store's later time)."""
        with self._lock:
            return engine.expire_due(
                self._s, now, lambda at: self._s.pop_due(at, limit)
            )

    def balances(
        self,
        now: pendulum.DateTime,
        *,
        sku: str | None = None,
        location: str | None = None,
    ) -> Sequence[Balance]:
        """Return balances as of `now`, due holds counted as expired."""
        with self._lock:
            at = now if self._s.high_water_ is None else max(now, self._s.high_water_)
            found = []
            for (s, loc), (on_hand, reserved, allocated, safety) in sorted(
                self._s.figures_.items()
            ):
                if (sku is None or s == sku) and (location is None or loc == location):
                    lapsed = sum(
                        self._s.holds_[hold_id].quantity
                        for expires_at, hold_id in self._s.due_by_row.get((s, loc), ())
                        if expires_at <= at and self._s.is_entry(expires_at, hold_id)
                    )
                    found.append(
                        Balance(s, loc, on_hand, reserved - lapsed, allocated, safety)
                    )
            return found

    def hold(self, hold_id: str) -> Hold | None:
        """Return the hold as stored."""
        with self._lock:
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
            found = [
                h
                for h in self._s.holds_.values()
                if (owner is None or h.owner == owner)
                and (sku is None or h.sku == sku)
                and (state is None or h.state is state)
            ]
        return sorted(found, key=lambda h: (h.placed_at, h.hold_id))

    def movements(self, *, after: int = 0, limit: int = 1000) -> Sequence[Movement]:
        """Return up to `limit` movements with `seq > after`."""
        with self._lock:
            return self._s.movements_[max(after, 0) : max(after, 0) + max(limit, 0)]

    def policy(self, sku: str) -> StockPolicy:
        """Return the SKU's stock policy."""
        return self._s.policies.get(sku, _NO_POLICY)

    def set_policy(self, sku: str, policy: StockPolicy) -> None:
        """Set the SKU's stock policy."""
        with self._lock:
            self._s.policies[sku] = policy

    def set_safety_stock(self, sku: str, location: str, quantity: int) -> None:
        """Set the safety stock of one balance."""
        with self._lock:
            figures = self._s.figures_.setdefault((sku, location), [0, 0, 0, 0])
            figures[3] = quantity
            self._s.skus.add(sku)
            self._s.locations.add(location)


class _State:
    """The store's data, read and written by the engine under the store's lock."""

    def __init__(self) -> None:
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
        self.movements_: list[Movement] = []
        self.receipts: dict[str, Receipt] = {}
        self.policies: dict[str, StockPolicy] = {}
        self.high_water_: pendulum.DateTime | None = None
        # Entries popped while a plan runs; pushed back if it fails.
        self.popped: list[tuple[engine.Row, _Entry]] = []

    def receipt(self, key: str) -> Receipt | None:
        return self.receipts.get(key)

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
            entry = heapq.heappop(heap)
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
        self.high_water_ = high_water
        for row, values in figures.items():
            self.figures_[row] = values
            self.skus.add(row[0])
            self.locations.add(row[1])
        for hold in holds:
            old = self.holds_.get(hold.hold_id)
            self.holds_[hold.hold_id] = hold
            row = (hold.sku, hold.location)
            moved = old is None or old.expires_at != hold.expires_at
            if hold.state is HoldState.LIVE and moved:
                entry = (hold.expires_at, hold.hold_id)
                heapq.heappush(self.due_by_row.setdefault(row, []), entry)
                heapq.heappush(self.due, entry)
            if old is None and hold.state is HoldState.LIVE:
                self._remember_owner(hold)
            elif old is not None and old.state is HoldState.LIVE:
                if hold.state is not HoldState.LIVE:
                    self._forget_owner(hold)
                if moved or hold.state is not HoldState.LIVE:
                    self._went_stale(row)
        self.movements_.extend(movements)
        if receipt is not None:
            self.receipts[receipt.key] = receipt
        self.popped.clear()

    def _remember_owner(self, hold: Hold) -> None:
        ids = self.owner_live.get(hold.owner)
        if ids is None:
            self.owner_live[hold.owner] = hold.hold_id
        elif isinstance(ids, str):
            self.owner_live[hold.owner] = [ids, hold.hold_id]
        else:
            ids.append(hold.hold_id)

    def _forget_owner(self, hold: Hold) -> None:
        ids = self.owner_live[hold.owner]
        if isinstance(ids, str):
            del self.owner_live[hold.owner]
            return
        ids.remove(hold.hold_id)
        if len(ids) == 1:
            self.owner_live[hold.owner] = ids[0]

    def _went_stale(self, row: engine.Row) -> None:
        stale = self.stale_by_row[row] = self.stale_by_row.get(row, 0) + 1
        heap = self.due_by_row[row]
        if stale > len(heap) // 2:
            heap[:] = [e for e in heap if self.is_entry(*e)]
            heapq.heapify(heap)
            self.stale_by_row[row] = 0
        self.stale += 1
        if self.stale > len(self.due) // 2:
            self.due[:] = [e for e in self.due if self.is_entry(*e)]
            heapq.heapify(self.due)
            self.stale = 0

    def is_entry(self, expires_at: pendulum.DateTime, hold_id: str) -> bool:
        """Whether a heap entry still stands for a live hold (lazy deletion)."""
        hold = self.holds_[hold_id]
        return hold.state is HoldState.LIVE and hold.expires_at == expires_at

    def pop_due(self, at: pendulum.DateTime, limit: int | None) -> list[Hold]:
        found: list[Hold] = []
        while self.due and self.due[0][0] <= at:
            if limit is not None and len(found) >= limit:
                break
            entry = heapq.heappop(self.due)
            if self.is_entry(*entry):
                found.append(self.holds_[entry[1]])
        return found

    def hold(self, hold_id: str) -> Hold | None:
        return self.holds_.get(hold_id)

    def policy(self, sku: str) -> StockPolicy:
        return self.policies.get(sku, _NO_POLICY)

    def restore(self) -> None:
        """Undo the heap pops of a plan that failed."""
        for row, entry in self.popped:
            heapq.heappush(self.due_by_row[row], entry)
        self.popped.clear()


@final
class MemoryKeyStore:
    """A `KeyStore` in a dict, safe to share between threads.

    Keys are indexed by when their lease or completion ended, so `prune`
    costs O(pruned) however many keys are kept. Nothing survives the
    process.

    .. versionadded:: 0.1.0
    """

    def __init__(self) -> None:
        """Create an empty store."""
        self._lock = threading.Lock()
        self._keys: dict[str, _KeyRecord] = {}
        # (ended, key): a claim's lease end, or a key's completion. Entries
        # of keys that moved on since are skipped when popped (lazy deletion).
        self._ended: list[tuple[pendulum.DateTime, str]] = []

    def claim(
        self,
        key: str,
        request_hash: str,
        *,
        now: dt.datetime,
        lease: dt.timedelta,
    ) -> Claim:
        """Claim `key` (see `orderkit.ports.KeyStore`)."""
        check_key(key)
        check_request_hash(request_hash)
        at = check_now(now)
        until = plus(at, check_duration("lease", lease))
        with self._lock:
            record = self._keys.get(key)
            if record is None:
                record = self._keys[key] = _KeyRecord(request_hash, until)
            elif record.request_hash != request_hash:
                raise IdempotencyConflict(key)
            elif record.outcome is not None:
                return Replay(key, record.outcome)
            elif at < record.until:
                return InProgress(key, record.until)
            else:
                record.take_over(until)
            heapq.heappush(self._ended, (until, key))
            return Claimed(key, record.token, until, record.attempt)

    def complete(
        self, key: str, token: str, outcome: Outcome, *, now: dt.datetime
    ) -> None:
        """Store the first outcome of the claim `token` holds."""
        check_key(key)
        check_token(token)
        check_outcome(outcome)
        at = check_now(now)
        with self._lock:
            record = self._keys.get(key)
            if record is None or record.token != token:
                raise ConcurrencyConflict(f"idempotency key:{key}")
            if record.outcome is not None:
                if record.outcome != outcome:
                    raise ConcurrencyConflict(f"idempotency key:{key}")
                return
            record.outcome = outcome
            record.completed_at = at
            heapq.heappush(self._ended, (at, key))

    def abandon(self, key: str, token: str) -> bool:
        """Delete the unfinished claim `token` holds; say whether it did."""
        check_key(key)
        check_token(token)
        with self._lock:
            record = self._keys.get(key)
            if record is None or record.token != token or record.outcome is not None:
                return False
            del self._keys[key]
            return True

    def prune(self, now: dt.datetime, *, retention: dt.timedelta) -> int:
        """Delete keys that ended `retention` before `now`; return how many."""
        cutoff = plus(check_now(now), -check_duration("retention", retention))
        pruned = 0
        with self._lock:
            while self._ended and self._ended[0][0] <= cutoff:
                ended, key = heapq.heappop(self._ended)
                record = self._keys.get(key)
                if record is not None and record.ended() == ended:
                    del self._keys[key]
                    pruned += 1
        return pruned


class _KeyRecord:
    """One key as the memory store keeps it, changed under the store's lock."""

    __slots__ = ("attempt", "completed_at", "outcome", "request_hash", "token", "until")

    def __init__(self, request_hash: str, until: pendulum.DateTime) -> None:
        self.request_hash = request_hash
        self.token = secrets.token_urlsafe(16)
        self.until = until
        self.attempt = 1
        self.outcome: Outcome | None = None
        self.completed_at: pendulum.DateTime | None = None

    def take_over(self, until: pendulum.DateTime) -> None:
        self.token = secrets.token_urlsafe(16)
        self.until = until
        self.attempt += 1

    def ended(self) -> pendulum.DateTime:
        """When the key's completion, or else its lease, ended."""
        return self.until if self.completed_at is None else self.completed_at


_Order = tuple[str, str]
"""An order as the detector knows it: `(channel, order_id)`."""
_Seen = tuple[pendulum.DateTime, int, _Order]
"""An order in a fingerprint's index: `(placed_at, seq, order)`."""
_PLACED_AT = operator.itemgetter(0)


class _Recorded:
    """One order the detector store has recorded."""

    __slots__ = ("fingerprints", "phone", "placed_at", "seq")

    def __init__(
        self,
        seq: int,
        placed_at: pendulum.DateTime,
        fingerprints: tuple[str, ...],
        phone: str | None,
    ) -> None:
        self.seq = seq
        self.placed_at = placed_at
        self.fingerprints = fingerprints
        self.phone = phone


@final
class MemoryDetectorStore:
    """A `DetectorStore` in dicts, safe to share between threads.

    Each fingerprint keeps its orders sorted by `placed_at`, so matching
    an order costs a binary search per fingerprint plus the orders inside
    the window. Nothing survives the process.

    .. versionadded:: 0.1.0
    """

    def __init__(self) -> None:
        """Create an empty store."""
        self._lock = threading.Lock()
        self._seq = itertools.count(1)
        self._orders: dict[_Order, _Recorded] = {}
        self._by_fingerprint: dict[str, list[_Seen]] = {}
        self._by_phone: dict[str, dict[_Order, None]] = {}
        self._suspicions: dict[_Order, Suspicion] = {}
        # Pending orders in the order they were queued (dicts keep it).
        self._pending: dict[_Order, None] = {}
        # (placed_at, seq, order) of every order, for prune.
        self._by_placed_at: list[_Seen] = []

    def record(
        self,
        sighting: Sighting,
        fingerprints: Sequence[Fingerprint],
        *,
        phone: str | None,
        window: dt.timedelta,
        now: dt.datetime,
    ) -> Screening:
        """Record an order and match it (see `orderkit.ports.DetectorStore`)."""
        seen = check_sighting(sighting)
        key, at = (seen.channel, seen.order_id), seen.placed_at
        texts = check_fingerprints(fingerprints)
        number = check_phone(phone)
        earliest, latest = window_around(at, check_window(window))
        flagged_at = check_now(now)
        with self._lock:
            if key in self._orders:
                return self._screening(key)
            found: list[tuple[str, str, pendulum.DateTime, str]] = []
            for text in texts:
                index = self._by_fingerprint.get(text, [])
                start = bisect.bisect_left(index, earliest, key=_PLACED_AT)
                end = bisect.bisect_right(index, latest, key=_PLACED_AT)
                found.extend(
                    (*other, when, text) for when, _, other in index[start:end]
                )
            matches = group_matches(found)
            seq = next(self._seq)
            self._orders[key] = _Recorded(seq, at, texts, number)
            entry = (at, seq, key)
            for text in texts:
                # Sorted by (placed_at, seq): a later order goes after equal times.
                bisect.insort(self._by_fingerprint.setdefault(text, []), entry)
            heapq.heappush(self._by_placed_at, entry)
            if number is not None:
                self._by_phone.setdefault(number, {})[key] = None
            suspicion = None
            if matches:
                suspicion = Suspicion(*key, at, matches, flagged_at)
                self._suspicions[key] = suspicion
                self._pending[key] = None
            return Screening(*key, matches, suspicion)

    def pending(self, *, limit: int = 1000) -> Sequence[Suspicion]:
        """Return up to `limit` pending suspicions, oldest first."""
        check_limit(limit)
        with self._lock:
            queued = [self._suspicions[key] for key in self._pending]
        # A stable sort: equal flagging times keep the order they were queued.
        queued.sort(key=lambda s: s.flagged_at)
        return queued[:limit]

    def suspicion(self, channel: str, order_id: str) -> Suspicion | None:
        """Return the order's suspicion, or `None`."""
        key = (check_text("channel", channel), check_text("order_id", order_id))
        with self._lock:
            return self._suspicions.get(key)

    def resolve(
        self,
        channel: str,
        order_id: str,
        state: ReviewState,
        *,
        actor: str,
        now: dt.datetime,
    ) -> Suspicion:
        """Resolve the order's pending suspicion exactly once."""
        key = (check_text("channel", channel), check_text("order_id", order_id))
        decision = check_decision(state)
        who = check_text("actor", actor)
        at = check_now(now)
        with self._lock:
            suspicion = self._suspicions.get(key)
            if suspicion is None:
                raise no_suspicion(*key)
            if suspicion.state is ReviewState.PENDING:
                suspicion = attrs.evolve(
                    suspicion, state=decision, actor=who, resolved_at=at
                )
                self._suspicions[key] = suspicion
                del self._pending[key]
            elif suspicion.state is not decision:
                raise decided_otherwise(*key)
            return suspicion

    def orders_of_buyer(self, phone: str) -> Sequence[Sighting]:
        """Return the orders recorded with this E.164 phone, oldest first."""
        if check_phone(phone) is None:
            raise ValidationError("phone", phone, "must be E.164, not None")
        with self._lock:
            found = [
                Sighting(*key, self._orders[key].placed_at)
                for key in self._by_phone.get(phone, ())
            ]
        found.sort(key=lambda s: (s.placed_at, s.channel, s.order_id))
        return found

    def prune(self, before: dt.datetime) -> int:
        """Delete orders placed before `before`, unless pending; return how many."""
        cutoff = check_before(before)
        pruned = 0
        kept: list[_Seen] = []
        with self._lock:
            heap = self._by_placed_at
            while heap and heap[0][0] < cutoff:
                entry = heapq.heappop(heap)
                if entry[2] in self._pending:
                    kept.append(entry)
                else:
                    self._forget(entry)
                    pruned += 1
            for entry in kept:
                heapq.heappush(heap, entry)
        return pruned

    def _screening(self, key: _Order) -> Screening:
        suspicion = self._suspicions.get(key)
        matches: tuple[Match, ...] = () if suspicion is None else suspicion.matches
        return Screening(*key, matches, suspicion)

    def _forget(self, entry: _Seen) -> None:
        key = entry[2]
        recorded = self._orders.pop(key)
        for text in recorded.fingerprints:
            seen = self._by_fingerprint[text]
            del seen[bisect.bisect_left(seen, entry)]
            if not seen:
                del self._by_fingerprint[text]
        if recorded.phone is not None:
            orders = self._by_phone[recorded.phone]
            del orders[key]
            if not orders:
                del self._by_phone[recorded.phone]
        self._suspicions.pop(key, None)
