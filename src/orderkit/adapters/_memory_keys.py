"""The in-memory key store: Stripe's idempotency contract in a dict."""

from __future__ import annotations

import copy
import datetime as dt
import threading
from typing import Final, cast, final

import pendulum

from orderkit._fast import builder
from orderkit._time import before_or_first, ending
from orderkit.adapters._memory_journal import Journal, Journaled, pop, push
from orderkit.dedupe._claims import (
    MAX_DURATION,
    MAX_KEY_LENGTH,
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
from orderkit.dedupe._tokens import draw_token
from orderkit.errors import ConcurrencyConflict, IdempotencyConflict


@final
class MemoryKeyStore(Journaled):
    """A `KeyStore` in a dict, safe to share between threads.

    Keys are indexed by when their lease or completion ended, so `prune`
    costs O(pruned) however many keys are kept (plus O(log n) for each
    claim or completion since it last ran, which it indexes). Nothing
    survives the process.

    .. versionadded:: 0.1.0
    """

    def __init__(self) -> None:
        """Create an empty store."""
        self._lock = threading.Lock()
        self._keys: dict[str, _Record] = {}
        # (ended, key): a claim's lease end, or a key's completion, as a heap.
        # Entries of keys that moved on since are skipped when popped (lazy
        # deletion).
        self._ended: list[tuple[pendulum.DateTime, str]] = []
        # Entries made since the last prune, pushed onto `_ended` by the next
        # one: an append costs less than a push, and only prune reads them.
        self._ending: list[tuple[pendulum.DateTime, str]] = []
        self._journal: Journal | None = None

    def claim(
        self,
        key: str,
        request_hash: str,
        *,
        now: dt.datetime,
        lease: dt.timedelta,
    ) -> Claim:
        """Claim `key` (see `orderkit.ports.KeyStore`)."""
        # The checks' common cases inline (the calls cost more than a claim
        # of a new key); anything else goes through the checks themselves.
        if not (
            type(key) is str
            and 0 < len(key) <= MAX_KEY_LENGTH
            and key.isprintable()
            and not key.isspace()
        ):
            check_key(key)
        if not (
            type(request_hash) is str
            and 0 < len(request_hash) <= MAX_KEY_LENGTH
            and request_hash.isprintable()
            and not request_hash.isspace()
        ):
            check_request_hash(request_hash)
        at = now if type(now) is _DateTime and now.tzinfo is _UTC else check_now(now)
        if not (type(lease) is _timedelta and _NO_TIME < lease <= MAX_DURATION):
            check_duration("lease", lease)
        try:
            until: pendulum.DateTime = _add(at, lease)  # `plus`, without the call
        except OverflowError:
            until = ending(at, lease, "lease")  # raises, naming the lease
        with self._lock:
            if self._owned:
                self._in_unit("claim")
            record = self._keys.get(key)
            if record is not None:
                return self._claim_known(key, record, request_hash, at, until)
            token = draw_token()
            journal = self._journal
            if journal is not None:
                journal.item(self._keys, key)
                journal.length(self._ending)
            self._keys[key] = (request_hash, token, until, 1, None, None)
            self._ending.append((until, key))
            return _claimed(key, token, until, 1)

    def _claim_known(
        self,
        key: str,
        record: _Record,
        request_hash: str,
        at: pendulum.DateTime,
        until: pendulum.DateTime,
    ) -> Claim:
        """A claim of a key the store holds; under the lock."""
        stored, _, held_until, attempt, outcome, _ = record
        if stored != request_hash:
            raise IdempotencyConflict(key)
        if outcome is not None:
            return Replay(key, outcome)
        if at < held_until:
            return InProgress(key, held_until)
        # The lease ran out: a takeover.
        token = draw_token()
        self._write(key, (request_hash, token, until, attempt + 1, None, None), until)
        return _claimed(key, token, until, attempt + 1)

    def complete(
        self, key: str, token: str, outcome: Outcome, *, now: dt.datetime
    ) -> None:
        """Store the first outcome of the claim `token` holds."""
        check_key(key)
        check_token(token)
        check_outcome(outcome)
        at = check_now(now)
        with self._lock:
            if self._owned:
                self._in_unit("complete")
            record = self._keys.get(key)
            if record is None or record[1] != token:
                raise ConcurrencyConflict(f"idempotency key:{key}")
            request_hash, _, until, attempt, stored, _ = record
            if stored is not None:
                if stored != outcome:
                    raise ConcurrencyConflict(f"idempotency key:{key}")
                return
            self._write(key, (request_hash, token, until, attempt, outcome, at), at)

    def abandon(self, key: str, token: str) -> bool:
        """Delete the unfinished claim `token` holds; say whether it did."""
        check_key(key)
        check_token(token)
        with self._lock:
            if self._owned:
                self._in_unit("abandon")
            record = self._keys.get(key)
            if record is None or record[1] != token or record[4] is not None:
                return False
            if self._journal is not None:
                self._journal.item(self._keys, key)
            del self._keys[key]
            return True

    def prune(self, now: dt.datetime, *, retention: dt.timedelta) -> int:
        """Delete keys that ended `retention` before `now`; return how many."""
        cutoff = before_or_first(check_now(now), check_duration("retention", retention))
        pruned = 0
        with self._lock:
            if self._owned:
                self._in_unit("prune")
            journal = self._journal
            if self._ending:
                if journal is not None:
                    journal.whole(self._ending)
                for item in self._ending:
                    push(journal, self._ended, item)
                self._ending.clear()
            while self._ended and self._ended[0][0] <= cutoff:
                ended, key = pop(journal, self._ended)
                record = self._keys.get(key)
                if record is not None and _ended_at(record) == ended:
                    if journal is not None:
                        journal.item(self._keys, key)
                    del self._keys[key]
                    pruned += 1
        return pruned

    def _write(self, key: str, record: _Record, ended: pendulum.DateTime) -> None:
        """Replace the record of a known `key`, which ended (or ends) `ended`."""
        journal = self._journal
        if journal is not None:
            journal.item(self._keys, key)
            journal.length(self._ending)
        self._keys[key] = record
        self._ending.append((ended, key))

    def _snapshot(self) -> object:
        """A copy of the store's data, for `MemoryUnitOfWork` to roll back to."""
        with self._lock:
            return copy.deepcopy((self._keys, self._ended, self._ending))

    def _restore(self, snapshot: object) -> None:
        """Put back the data `_snapshot` copied; the snapshot stays reusable."""
        state = copy.deepcopy(
            cast(
                "tuple[dict[str, _Record], list[tuple[pendulum.DateTime, str]],"
                " list[tuple[pendulum.DateTime, str]]]",
                snapshot,
            )
        )
        with self._lock:
            self._keys, self._ended, self._ending = state


# One key as the memory store keeps it: (request_hash, token, until, attempt,
# outcome, completed_at). A change replaces the tuple, so that undoing it
# (`Journal.item`) puts the old one back.
_Record = tuple[
    str, str, pendulum.DateTime, int, Outcome | None, pendulum.DateTime | None
]


def _ended_at(record: _Record) -> pendulum.DateTime:
    """When the key's completion, or else its lease, ended."""
    completed_at = record[5]
    return record[2] if completed_at is None else completed_at


_DateTime: Final = pendulum.DateTime
_UTC: Final = pendulum.UTC
_timedelta: Final = dt.timedelta
_NO_TIME: Final = dt.timedelta(0)
_add: Final = dt.datetime.__add__
# Claims made here have a checked key, a fresh token and a lease's end.
_claimed: Final = builder(Claimed)
