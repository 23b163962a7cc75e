"""The in-memory key store: Stripe's idempotency contract in a dict."""

from __future__ import annotations

import copy
import datetime as dt
import functools
import secrets
import threading
from collections.abc import Callable
from typing import cast, final

import pendulum

from orderkit._time import plus
from orderkit.adapters._memory_journal import Journal, Journaled, pop, push
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
from orderkit.errors import ConcurrencyConflict, IdempotencyConflict


@final
class MemoryKeyStore(Journaled):
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
        check_key(key)
        check_request_hash(request_hash)
        at = check_now(now)
        until = plus(at, check_duration("lease", lease))
        with self._lock:
            journal = self._journal
            record = self._keys.get(key)
            if record is None:
                if journal is not None:
                    journal.item(self._keys, key)
                record = self._keys[key] = _KeyRecord(request_hash, until)
            elif record.request_hash != request_hash:
                raise IdempotencyConflict(key)
            elif record.outcome is not None:
                return Replay(key, record.outcome)
            elif at < record.until:
                return InProgress(key, record.until)
            else:
                if journal is not None:
                    journal.record(record.saved())
                record.take_over(until)
            push(journal, self._ended, (until, key))
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
            journal = self._journal
            if journal is not None:
                journal.record(record.saved())
            record.outcome = outcome
            record.completed_at = at
            push(journal, self._ended, (at, key))

    def abandon(self, key: str, token: str) -> bool:
        """Delete the unfinished claim `token` holds; say whether it did."""
        check_key(key)
        check_token(token)
        with self._lock:
            record = self._keys.get(key)
            if record is None or record.token != token or record.outcome is not None:
                return False
            if self._journal is not None:
                self._journal.item(self._keys, key)
            del self._keys[key]
            return True

    def prune(self, now: dt.datetime, *, retention: dt.timedelta) -> int:
        """Delete keys that ended `retention` before `now`; return how many."""
        cutoff = plus(check_now(now), -check_duration("retention", retention))
        pruned = 0
        with self._lock:
            journal = self._journal
            while self._ended and self._ended[0][0] <= cutoff:
                ended, key = pop(journal, self._ended)
                record = self._keys.get(key)
                if record is not None and record.ended() == ended:
                    if journal is not None:
                        journal.item(self._keys, key)
                    del self._keys[key]
                    pruned += 1
        return pruned

    def _snapshot(self) -> object:
        """A copy of the store's data, for `MemoryUnitOfWork` to roll back to."""
        with self._lock:
            return copy.deepcopy((self._keys, self._ended))

    def _restore(self, snapshot: object) -> None:
        """Put back the data `_snapshot` copied; the snapshot stays reusable."""
        state = copy.deepcopy(
            cast(
                "tuple[dict[str, _KeyRecord], list[tuple[pendulum.DateTime, str]]]",
                snapshot,
            )
        )
        with self._lock:
            self._keys, self._ended = state


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

    def saved(self) -> Callable[[], None]:
        """What puts the record's fields back as they are now."""
        return functools.partial(
            self._put_back,
            (self.token, self.until, self.attempt, self.outcome, self.completed_at),
        )

    def _put_back(
        self,
        fields: tuple[
            str, pendulum.DateTime, int, Outcome | None, pendulum.DateTime | None
        ],
    ) -> None:
        (self.token, self.until, self.attempt, self.outcome, self.completed_at) = fields

    def take_over(self, until: pendulum.DateTime) -> None:
        self.token = secrets.token_urlsafe(16)
        self.until = until
        self.attempt += 1

    def ended(self) -> pendulum.DateTime:
        """When the key's completion, or else its lease, ended."""
        return self.until if self.completed_at is None else self.completed_at
