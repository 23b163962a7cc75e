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
from typing import Any, cast, final

import attrs
import pendulum

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
