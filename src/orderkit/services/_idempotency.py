"""Idempotent requests over a key store: run once, replay the first outcome."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import final

import attrs

from orderkit._time import to_utc
from orderkit.dedupe import IdempotencyKey
from orderkit.dedupe._claims import (
    Claimed,
    InProgress,
    Outcome,
    check_duration,
    check_key,
    check_outcome,
    check_request_hash,
)
from orderkit.errors import KeyInProgress, StoreError
from orderkit.ports import Clock, KeyStore


DEFAULT_KEY_LEASE = dt.timedelta(seconds=30)
"""How long a run holds its key before another may take it over."""

DEFAULT_KEY_RETENTION = dt.timedelta(days=7)
"""How long a completed key is kept: longer than any channel retries a callback."""


@final
@attrs.frozen(slots=True)
class Reply:
    """What a request returned, now or the first time.

    Attributes:
        outcome: The request's outcome, byte for byte what the first run
            returned.
        replayed: True when the request had run before and nothing ran now.

    .. versionadded:: 0.1.0
    """

    outcome: Outcome
    replayed: bool


@final
class Idempotency:
    """Runs each request at most once per key, and replays its first outcome.

    Stripe's contract over any `orderkit.ports.KeyStore`: the same key with
    the same request hash returns the stored first outcome, whether it
    succeeded or failed; the same key with another hash raises
    `IdempotencyConflict`; a duplicate that arrives while the first run is
    still going raises `KeyInProgress` and runs nothing.

    Args:
        store: Where the keys live.
        clock: Where the time comes from.
        lease: How long a run holds its key. Choose it longer than the
            slowest run: a run still going when its lease ends may be taken
            over and run a second time.
        retention: How long `prune` keeps a completed key; at least as long
            as the channel goes on retrying.

    Raises:
        ValidationError: `lease` or `retention` is not a positive timedelta.

    .. versionadded:: 0.1.0
    """

    def __init__(
        self,
        store: KeyStore,
        clock: Clock,
        *,
        lease: dt.timedelta = DEFAULT_KEY_LEASE,
        retention: dt.timedelta = DEFAULT_KEY_RETENTION,
    ) -> None:
        """Create the service over `store`, reading the time from `clock`."""
        self._store = store
        self._clock = clock
        self._lease = check_duration("lease", lease)
        self._retention = check_duration("retention", retention)

    def run(
        self,
        key: str | IdempotencyKey,
        request_hash: str,
        call: Callable[[], Outcome],
    ) -> Reply:
        """Run `call` once for `key`, or return the outcome it returned before.

        `call` returns an `Outcome` for a request that ran, successful or
        not: it is stored and every repeat gets it back. `call` raises for a
        request refused before anything took effect (bad input): the claim
        is abandoned, nothing is stored, and the exception propagates, so a
        corrected request may use the key. A `call` that raises after some
        effect must make that effect idempotent itself (a ledger plan under
        the same key, say), since a retry runs it again.

        Args:
            key: The request's idempotency key (`str(key)` is stored).
            request_hash: The hash of the canonical request
                (`request_hash(event)`), never of the raw payload.
            call: Runs the request.

        Returns:
            The outcome, and whether it was replayed.

        Raises:
            IdempotencyConflict: The key was used for another request hash.
            KeyInProgress: Another run holds the key; retry after `until`.
            ConcurrencyConflict: This run outlasted its lease and another run
                took the key over; its outcome was not stored.
            ValidationError: A bad key (empty, control characters, longer
                than 255 characters) or request hash; nothing was stored.
                Or `call` returned something other than an `Outcome`: the
                claim is kept until its lease ends, since the call may
                have taken effect.
            StoreError: The store failed. If completing failed, the claim
                stays until its lease ends and a retry then runs again:
                complete in the transaction of the run's own writes (a
                store joining the host's session) to rule that out.
        """
        text = str(key) if isinstance(key, IdempotencyKey) else check_key(key)
        check_request_hash(request_hash)
        claim = self._store.claim(
            text, request_hash, now=self._now(), lease=self._lease
        )
        if isinstance(claim, InProgress):
            raise KeyInProgress(claim.key, claim.until)
        if not isinstance(claim, Claimed):
            return Reply(claim.outcome, replayed=True)
        try:
            result = call()
        except Exception as exc:
            # Refused before it took effect: nothing to replay. A
            # BaseException (an interrupt) leaves the claim to its lease, as
            # a crash would, since the run may have taken effect.
            try:
                self._store.abandon(text, claim.token)
            except StoreError as failed:
                # The caller needs the refusal more than the storage failure;
                # the claim then ends with its lease.
                exc.add_note(
                    f"the claim on {text!r} was kept until its lease: {failed}"
                )
            raise
        # Checked after the call, outside the abandon: a call that took effect
        # and then returned the wrong thing keeps its claim until the lease
        # ends, so a retry cannot run it a second time meanwhile.
        outcome = check_outcome(result)
        self._store.complete(text, claim.token, outcome, now=self._now())
        return Reply(outcome, replayed=False)

    def prune(self) -> int:
        """Delete the keys kept past the retention; return how many."""
        return self._store.prune(self._now(), retention=self._retention)

    def _now(self) -> dt.datetime:
        return to_utc(self._clock.now(), "clock.now()")
