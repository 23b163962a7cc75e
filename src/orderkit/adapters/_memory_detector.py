"""The in-memory detector store: fingerprints by time, and the review queue."""

from __future__ import annotations

import bisect
import copy
import datetime as dt
import heapq
import itertools
import operator
import threading
from collections.abc import Sequence
from typing import Any, Final, cast, final

import attrs
import pendulum

from orderkit._fast import builder
from orderkit.adapters._memory_journal import Journal, Journaled, pop, push
from orderkit.dedupe import (
    Match,
    ReviewState,
    Screening,
    Sighting,
    Suspicion,
)
from orderkit.dedupe._claims import (
    check_now,
    check_text,
)
from orderkit.dedupe._fingerprints import Fingerprint
from orderkit.dedupe._matches import (
    check_before,
    check_decision,
    check_fingerprints,
    check_limit,
    check_phone,
    check_sighting,
    check_window,
    decided_otherwise,
    group_matches,
    no_suspicion,
    window_around,
)
from orderkit.errors import ValidationError


_Order = tuple[str, str]
"""An order as the detector knows it: `(channel, order_id)`."""
_Seen = tuple[pendulum.DateTime, int, _Order]
"""An order in a fingerprint's index: `(placed_at, seq, order)`."""
_PLACED_AT = operator.itemgetter(0)
# Screenings made here hold checked parts; Screening has no validators.
_new_screening: Final = builder(Screening)


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
class MemoryDetectorStore(Journaled):
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
        self._journal: Journal | None = None
        # A rollback put an order back in `_pending` out of queue order.
        self._disordered = False

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
        span = check_window(window)
        flagged_at = check_now(now)
        with self._lock:
            if self._owned:
                self._in_unit("record")
            if key in self._orders:
                return self._screening(key)
            found: list[tuple[str, str, pendulum.DateTime, str]] = []
            by_fingerprint = self._by_fingerprint
            bounds = None
            for text in texts:
                index = by_fingerprint.get(text)
                if index is None:
                    continue
                if bounds is None:
                    # Only now: most orders are new, and no index holds them.
                    bounds = window_around(at, span)
                earliest, latest = bounds
                start = bisect.bisect_left(index, earliest, key=_PLACED_AT)
                end = bisect.bisect_right(index, latest, key=_PLACED_AT)
                found.extend(
                    (*other, when, text) for when, _, other in index[start:end]
                )
            matches = group_matches(found) if found else ()
            journal = self._journal
            self._index(key, _Recorded(next(self._seq), at, texts, number), journal)
            suspicion = None
            if matches:
                suspicion = Suspicion(*key, at, matches, flagged_at)
                if journal is not None:
                    journal.item(self._suspicions, key)
                    journal.item(self._pending, key)
                self._suspicions[key] = suspicion
                self._pending[key] = None
            return _new_screening(*key, matches, suspicion)

    def _index(self, key: _Order, recorded: _Recorded, journal: Journal | None) -> None:
        """Store a new order and index it: the writes of `record`.

        With a unit open, one journal record undoes them all (`_unindex`):
        replayed newest first, it finds the stores exactly as this left them.
        """
        self._orders[key] = recorded
        entry = (recorded.placed_at, recorded.seq, key)
        by_fingerprint = self._by_fingerprint
        for text in recorded.fingerprints:
            index = by_fingerprint.get(text)
            if index is None:
                by_fingerprint[text] = [entry]
            elif entry > index[-1]:
                # Sorted by (placed_at, seq): the usual, latest order goes last.
                index.append(entry)
            else:
                bisect.insort_right(index, entry)
        heap = self._by_placed_at
        heapq.heappush(heap, entry)
        if recorded.phone is not None:
            orders = self._by_phone.get(recorded.phone)
            if orders is None:
                self._by_phone[recorded.phone] = {key: None}
            else:
                orders[key] = None
        if journal is not None:
            journal.record(self._unindex, entry, recorded)

    def _unindex(self, entry: _Seen, recorded: _Recorded) -> None:
        """Undo `_index` on the stores exactly as it left them (a rollback)."""
        key = entry[2]
        del self._orders[key]
        by_fingerprint = self._by_fingerprint
        for text in recorded.fingerprints:
            index = by_fingerprint[text]
            if len(index) == 1:
                del by_fingerprint[text]
            else:
                del index[bisect.bisect_left(index, entry)]
        _unpush(self._by_placed_at, entry)
        if recorded.phone is not None:
            orders = self._by_phone[recorded.phone]
            if len(orders) == 1:
                del self._by_phone[recorded.phone]
            else:
                del orders[key]

    def pending(self, *, limit: int = 1000) -> Sequence[Suspicion]:
        """Return up to `limit` pending suspicions, oldest first."""
        check_limit(limit)
        with self._lock:
            if self._owned:
                self._in_unit("pending")
            queued = [self._suspicions[key] for key in self._pending]
        # A stable sort: equal flagging times keep the order they were queued.
        queued.sort(key=lambda s: s.flagged_at)
        return queued[:limit]

    def suspicion(self, channel: str, order_id: str) -> Suspicion | None:
        """Return the order's suspicion, or `None`."""
        key = (check_text("channel", channel), check_text("order_id", order_id))
        with self._lock:
            if self._owned:
                self._in_unit("suspicion")
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
            if self._owned:
                self._in_unit("resolve")
            suspicion = self._suspicions.get(key)
            if suspicion is None:
                raise no_suspicion(*key)
            if suspicion.state is ReviewState.PENDING:
                suspicion = attrs.evolve(
                    suspicion, state=decision, actor=who, resolved_at=at
                )
                if self._journal is not None:
                    self._journal.item(self._suspicions, key)
                    self._journal.record(self._requeue, key)
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
            if self._owned:
                self._in_unit("orders_of_buyer")
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
            if self._owned:
                self._in_unit("prune")
            journal = self._journal
            heap = self._by_placed_at
            while heap and heap[0][0] < cutoff:
                entry = pop(journal, heap)
                if entry[2] in self._pending:
                    kept.append(entry)
                else:
                    self._forget(entry, journal)
                    pruned += 1
            for entry in kept:
                push(journal, heap, entry)
        return pruned

    _STATE = (
        "_orders",
        "_by_fingerprint",
        "_by_phone",
        "_suspicions",
        "_pending",
        "_by_placed_at",
    )

    def _snapshot(self) -> object:
        """A copy of the store's data, for `MemoryUnitOfWork` to roll back to."""
        # `_seq` only orders what is recorded: a gap after a rollback is harmless.
        with self._lock:
            return copy.deepcopy({name: getattr(self, name) for name in self._STATE})

    def _restore(self, snapshot: object) -> None:
        """Put back the data `_snapshot` copied; the snapshot stays reusable."""
        state = copy.deepcopy(cast("dict[str, Any]", snapshot))
        with self._lock:
            for name in self._STATE:
                setattr(self, name, state[name])

    def _requeue(self, key: _Order) -> None:
        """Undo `resolve` taking an order off the queue (a rollback)."""
        if self._pending and self._seq_of(next(reversed(self._pending))) > (
            self._seq_of(key)
        ):
            self._disordered = True
        self._pending[key] = None

    def _seq_of(self, key: _Order) -> int:
        return self._orders[key].seq

    def _rolled_back(self) -> None:
        # Pending orders are queued in the order recorded: put back in place.
        if self._disordered:
            ordered = sorted(self._pending, key=self._seq_of)
            self._pending.clear()
            self._pending.update(dict.fromkeys(ordered))
            self._disordered = False

    def _screening(self, key: _Order) -> Screening:
        suspicion = self._suspicions.get(key)
        matches: tuple[Match, ...] = () if suspicion is None else suspicion.matches
        return Screening(*key, matches, suspicion)

    def _forget(self, entry: _Seen, journal: Journal | None) -> None:
        key = entry[2]
        if journal is not None:
            journal.item(self._orders, key)
            journal.item(self._suspicions, key)
        recorded = self._orders.pop(key)
        self._suspicions.pop(key, None)
        for text in recorded.fingerprints:
            seen = self._by_fingerprint[text]
            where = bisect.bisect_left(seen, entry)
            if journal is not None:
                journal.record(seen.insert, where, entry)
            del seen[where]
            if not seen:
                if journal is not None:
                    journal.item(self._by_fingerprint, text)
                del self._by_fingerprint[text]
        if recorded.phone is not None:
            orders = self._by_phone[recorded.phone]
            if journal is not None:
                journal.item(orders, key)
            del orders[key]
            if not orders:
                if journal is not None:
                    journal.item(self._by_phone, recorded.phone)
                del self._by_phone[recorded.phone]


def _unpush(heap: list[_Seen], entry: _Seen) -> None:
    """Undo `heapq.heappush(heap, entry)`, back to the very layout before it.

    The push put `entry` in a new leaf and moved it up its path to the root,
    each parent it passed one step down: move them back up, then drop the
    leaf. In the usual case (a later order) it never moved.
    """
    path = [len(heap) - 1]
    while heap[path[-1]] is not entry:
        if not path[-1]:  # pragma: no cover - replayed out of order
            msg = "the heap changed since the push"
            raise AssertionError(msg)
        path.append((path[-1] - 1) >> 1)
    for i in range(len(path) - 1, 0, -1):
        heap[path[i]] = heap[path[i - 1]]
    heap.pop()
