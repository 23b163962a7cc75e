"""Stores the stock, keys, duplicate screen, limits and cursors live in."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Protocol

import pendulum

from orderkit.dedupe import (
    Claim,
    Fingerprint,
    Outcome,
    ReviewState,
    Screening,
    Sighting,
    Suspicion,
)
from orderkit.inventory import (
    Balance,
    Hold,
    HoldState,
    Movement,
    Plan,
    Receipt,
    StockPolicy,
)
from orderkit.pricing import Granted, LimitDecision, LimitKey


class KeyStore(Protocol):
    """**Protocol:** where idempotency keys live: Stripe's contract, per key.

    `orderkit.services.Idempotency` drives it: claim the key, run the
    request, then `complete` it with the outcome, or `abandon` it when the
    request was refused before it ran. Run
    `orderkit.testing.contracts.KeyStoreContract` against any
    implementation: it checks every rule below.

    Contract of `claim(key, request_hash, now=, lease=)`, one atomic step:

    - **First claim.** An unknown key is claimed for the caller until
      `now + lease`: `Claimed` with a fresh token and `attempt=1`.
    - **Replay.** A completed key with the same request hash returns
      `Replay` with the stored first outcome, byte for byte, whether it
      succeeded or failed; nothing is written.
    - **In progress.** A claimed key with the same hash whose lease runs past
      `now` returns `InProgress` with the lease's end: a concurrent duplicate
      never runs a second time.
    - **Takeover.** A claimed key with the same hash whose lease ended by
      `now` (its holder crashed, or is too slow) is claimed anew: `Claimed`
      with a new token, `attempt` one higher, the old token void. A
      completed key is never taken over.
    - **Conflict.** A known key with another request hash raises
      `IdempotencyConflict`, whether completed, in progress or past its
      lease; nothing is written.

    `complete(key, token, outcome, now=)` stores the first outcome while
    `token` holds the claim (even past its lease, if no one took it over);
    completing again with that token and an equal outcome does nothing; any
    other token, an unknown key, or another outcome for a completed key
    raise `ConcurrencyConflict` and change nothing.

    `abandon(key, token)` deletes the claim while `token` holds it and the
    key has not completed, as if it had never been claimed, and returns
    True; otherwise it changes nothing and returns False.

    `prune(now, retention=)` deletes each completed key once `retention` has
    passed since its completion, and each claim whose lease ended
    `retention` before `now`; it returns how many keys it deleted.

    - **Atomicity and isolation.** Each call is atomic; concurrent calls
      behave as if run one at a time, also across processes for stores
      shared by them: of many racers claiming one key, exactly one gets
      `Claimed`.
    - **Validation.** `key`, `request_hash` and `token` are printable text
      of 1 to 255 characters, else `ValidationError` naming the field (`key`,
      ...); `now` is timezone-aware (`NaiveDatetime`); `lease` and
      `retention` are positive `timedelta`s and `outcome` an `Outcome`
      (`ValidationError`). Refused input writes nothing.
    - **Errors.** `StoreError` for storage failures, with the driver's
      error as its cause.

    Times are compared as given: a clock stepping back only makes a lease
    last longer, never makes a completed key claimable.

    .. versionadded:: 0.1.0
    """

    def claim(
        self,
        key: str,
        request_hash: str,
        *,
        now: dt.datetime,
        lease: dt.timedelta,
    ) -> Claim:
        """Claim `key` for a request hashing to `request_hash`; see the class."""
        ...

    def complete(
        self, key: str, token: str, outcome: Outcome, *, now: dt.datetime
    ) -> None:
        """Store the first outcome of the claim `token` holds on `key`."""
        ...

    def abandon(self, key: str, token: str) -> bool:
        """Delete the unfinished claim `token` holds on `key`; say if it did."""
        ...

    def prune(self, now: dt.datetime, *, retention: dt.timedelta) -> int:
        """Delete keys completed (or leases ended) `retention` before `now`."""
        ...


class LedgerStore(Protocol):
    """**Protocol:** where the inventory ledger lives; applies plans atomically.

    `orderkit.services.Ledger` turns every operation into an
    `orderkit.inventory.Plan`; the store's one write is `apply`. Run
    `orderkit.testing.contracts.LedgerStoreContract` against any
    implementation: it checks every rule below.

    Contract of `apply(plan)`:

    - **Idempotency.** A plan whose key the store has applied before returns
      the first `Receipt` again (with `replayed=True`) and writes nothing.
    - **Time.** The store keeps a high-water mark of the times it has seen
      and works at `at = max(plan.now, mark)`, so a clock stepping back
      never revives an expired hold. When `at` is after `plan.now`, the
      times the plan derived from its `now` move on by the difference, so
      that a hold is never born expired: a new hold's `placed_at` and
      `expires_at`, a written hold's changed `expires_at` (one at the end of
      time stays there), and a resolution the write makes (`resolved_at`
      before `at` becomes `at`). Reads and sweeps refuse a naive `now`
      (`NaiveDatetime`) and change nothing.
    - **Order of work**, all inside one transaction: (1) expire every live
      hold with `expires_at <= at` on the balances the plan touches
      (`EXPIRE` movements keyed `expire:<hold_id>`); (2) when
      `plan.supersede` names an owner, release its live holds on those
      balances (`RELEASE` movements under the plan's key); (3) apply each
      hold write as a compare-and-set; (4) apply the movements in order,
      an `ADJUST` with `counted` moving on hand to that figure; (5)
      evaluate every check; (6) write everything and the receipt.
    - **Hold writes.** A write of a hold the store has (`expected` given)
      may change only its state, expiry, commitment and shipping. Another
      owner, SKU, location, quantity or `placed_at`, a hold written live
      again once it left live, or an expiry moved earlier raise
      `ValidationError` naming the hold's field (`holds['h-1'].expires_at`).
    - **Atomicity.** Any failure writes nothing at all.
    - **Isolation.** Concurrent `apply` calls behave as if run one at a
      time, also across processes for stores that are shared by them.
    - **Errors.** `InsufficientStock` listing every failed check, with
      `available` as what the request could have taken (the figure before
      the plan, minus the bound); `HoldNotLive` when a write expected a
      live hold that has expired by `at`; `ConcurrencyConflict` when a
      hold differs from what the write expected; `UnknownSku` /
      `UnknownLocation` when a movement other than `RECEIVE`, `ADJUST`,
      `RESTOCK` or an incoming `TRANSFER`, or a check, names a SKU or a
      location with no balance anywhere; `InvalidQuantity` when a figure
      would fall below zero (or above 2**63 - 1) and no check failed: the
      checks of step (5) are evaluated on the figures as step (4) left
      them, below zero or not, and a failed check wins, so shipping more
      than is on hand raises `InsufficientStock`; `ValidationError` for a
      hold write that breaks the rule above; `StoreError` for storage
      failures, with the driver's error as its cause.

    Reads see committed data, and a store that joined a host's open
    transaction also sees that transaction's own writes. Balances from
    `balances` count a live hold past its expiry as expired, whether or not
    it has been swept.

    Optionally, `high_water()` returns the mark (`None` before the first
    write), as the reference stores do: `Ledger.expire_due` and
    `Ledger.audit` then sweep at the store's time, so that a caller whose
    clock is behind another's still sweeps every hold the reads count as
    expired, and an audit finds the two sides agree. Without it they go by
    the caller's clock.

    Optionally, `due_holds(at)` returns the live holds due by `at`, soonest
    due first, as the reference stores do through their index of live holds
    by expiry: `Ledger.expire_due` with an outbox that takes streams' turns
    then reads only the due holds to take theirs, where it would otherwise
    read every live hold. Optionally too, `balances_of(now, skus)` returns
    the balances of every SKU in `skus` in one read, by SKU then location,
    as `balances(now, sku=...)` returns each SKU's: the order desk routes an
    order and tells channels what they may sell with one read, where it
    would otherwise read each SKU in turn. A wrapper that changes what
    `balances` returns and hands other names to the store it wraps must
    change `balances_of` alike, or hide it.

    .. versionadded:: 0.1.0
    """

    def apply(self, plan: Plan) -> Receipt:
        """Apply `plan` all or nothing; see the class docstring."""
        ...

    def expire_due(
        self, now: pendulum.DateTime, *, limit: int | None = None
    ) -> Sequence[Movement]:
        """Expire live holds due by `now`, in O(expired), at the store's time.

        The movements are written at `max(now, mark)`, as every write is; the
        holds expired are those due by `now`, the holds whose streams the
        caller took first (`Ledger.expire_due` passes the store's time when
        the store tells it, see `high_water` above). A hold due by the mark
        only already counts as expired, and a later sweep writes it.
        Returns the `EXPIRE` movements written, at most `limit` of them.
        """
        ...

    def balances(
        self,
        now: pendulum.DateTime,
        *,
        sku: str | None = None,
        location: str | None = None,
    ) -> Sequence[Balance]:
        """Return the balances, filtered by SKU and location, as of `now`."""
        ...

    def receipt(self, key: str) -> Receipt | None:
        """Return the receipt of the plan applied under `key` (`replayed=True`).

        `None` when no plan with that key was applied, or when it was applied
        with `remember=False`.
        """
        ...

    def hold(self, hold_id: str) -> Hold | None:
        """Return the hold as stored, or `None` when there is no such hold."""
        ...

    def holds(
        self,
        *,
        owner: str | None = None,
        sku: str | None = None,
        state: HoldState | None = None,
    ) -> Sequence[Hold]:
        """Return holds as stored, filtered, oldest first."""
        ...

    def movements(
        self,
        *,
        after: int = 0,
        limit: int = 1000,
        sku: str | None = None,
        location: str | None = None,
    ) -> Sequence[Movement]:
        """Return up to `limit` movements with `seq > after`, filtered, in order.

        With `sku`, only that SKU's movements; with `location`, only those
        at that location (of every SKU, unless `sku` is given too). Names
        are compared exactly as stored, and a filter that matches nothing
        returns an empty list. A filtered history pages by `seq` as the
        whole one does: its pages are the filtered subsequence of the log.
        `Ledger.movements` passes the filters only when a caller filters, so
        a store written before them keeps serving unfiltered reads.
        """
        ...

    def policy(self, sku: str) -> StockPolicy:
        """Return the SKU's stock policy (`NoOversell()` unless one was set)."""
        ...

    def set_policy(self, sku: str, policy: StockPolicy) -> None:
        """Set the SKU's stock policy for every location."""
        ...

    def set_safety_stock(self, sku: str, location: str, quantity: int) -> None:
        """Set the safety stock of one balance (created empty if new)."""
        ...


class DetectorStore(Protocol):
    """**Protocol:** where the duplicate detector keeps what it has seen, and its queue.

    `orderkit.services.DuplicateDetector` drives it: it fingerprints each
    order and `record`s it; an order that shares a fingerprint with one seen
    before, placed within the window, is queued for review as a suspected
    duplicate. Run `orderkit.testing.contracts.DetectorStoreContract`
    against any implementation: it checks every rule below.

    Orders are known by `(channel, order_id)`: ids are unique only within a
    channel, so the same id on two channels is two orders.

    Contract of `record(sighting, fingerprints, phone=, window=, now=)`,
    one atomic step, where `sighting` says which order and when it was
    placed:

    - **Matching.** The matches are the orders recorded before this one
      that share at least one fingerprint (compared by stored form,
      `str(fingerprint)`, so only like versions match) and whose `placed_at`
      lies within `window` of this one's, in either direction, the bound
      included: an order placed earlier but recorded later still matches.
      One `Match` per order, with the kinds of every fingerprint shared, in
      `FingerprintKind` order; matches ordered by `placed_at`, then channel
      and order id.
    - **Queueing.** When there are matches, a `PENDING` `Suspicion` with
      them, flagged at `now`, is stored in the same transaction as the
      order: a recorded suspect is always in the queue, never dropped.
    - **Isolation.** The look-up and the insert are one transaction, and
      concurrent calls behave as if run one at a time, also across
      processes for stores shared by them: of two orders recorded at once
      that share a fingerprint, exactly one matches the other.
    - **Idempotency.** Recording a `(channel, order_id)` that is stored
      returns its first result again, with its suspicion as it stands now
      (perhaps resolved), and writes nothing: the first recording stands,
      even if the fingerprints, the phone or `placed_at` differ.
    - **Buyer index.** `phone` (the buyer's, in E.164, or `None`) is kept
      with the order; `orders_of_buyer(phone)` returns the orders recorded
      with it, from every channel, as `Sighting`s ordered by `placed_at`,
      then channel and id. The store holds phone numbers: personal data,
      deleted by `prune` with their orders.

    Contract of the review queue:

    - `pending(limit=)` returns up to `limit` pending suspicions, oldest
      first: by `flagged_at`, then in the order they were queued.
    - `suspicion(channel, order_id)` returns the order's suspicion, pending
      or resolved, or `None`.
    - `resolve(channel, order_id, state, actor=, now=)` resolves a pending
      suspicion exactly once, to `RELEASED` (not a duplicate; the order
      proceeds) or `REJECTED` (a duplicate; the host cancels it), recording
      `actor` and `now`, and returns it. Resolving again to the same state
      is a no-op that returns the suspicion as first resolved (first actor,
      first time). Resolving to the other state raises
      `ConcurrencyConflict` (`what` is `suspicion:<channel>:<order_id>`);
      an order without a suspicion raises `ValidationError` naming
      `order_id`. Both change nothing.

    `prune(before)` deletes every order placed before `before`, with its
    fingerprints, phone and suspicion, unless the suspicion is pending:
    orders awaiting review are kept whole. It returns how many orders it
    deleted. A pruned order no longer matches, and recording it again is
    a first recording.

    - **Validation.** `sighting` is a `Sighting`; `channel`, `order_id` and
      `actor` are printable text of 1 to 255 characters; `fingerprints` a
      sequence of `Fingerprint` (empty allowed: nothing can match); `phone`
      `None` (in `record`) or E.164; `window` a positive `timedelta` of at
      most 100 years; `state` `RELEASED` or `REJECTED`; `limit` a positive
      integer; every time timezone-aware (`NaiveDatetime`). Otherwise
      `ValidationError` naming the field, and nothing is written.
    - **Errors.** `StoreError` for storage failures, with the driver's
      error as its cause.

    .. versionadded:: 0.1.0
    """

    def record(
        self,
        sighting: Sighting,
        fingerprints: Sequence[Fingerprint],
        *,
        phone: str | None,
        window: dt.timedelta,
        now: dt.datetime,
    ) -> Screening:
        """Record an order and match it, queueing it if it matched; see the class."""
        ...

    def pending(self, *, limit: int = 1000) -> Sequence[Suspicion]:
        """Return up to `limit` pending suspicions, oldest first."""
        ...

    def suspicion(self, channel: str, order_id: str) -> Suspicion | None:
        """Return the order's suspicion, pending or resolved, or `None`."""
        ...

    def resolve(
        self,
        channel: str,
        order_id: str,
        state: ReviewState,
        *,
        actor: str,
        now: dt.datetime,
    ) -> Suspicion:
        """Resolve the order's pending suspicion exactly once; see the class."""
        ...

    def orders_of_buyer(self, phone: str) -> Sequence[Sighting]:
        """Return the orders recorded with this E.164 phone, oldest first."""
        ...

    def prune(self, before: dt.datetime) -> int:
        """Delete orders placed before `before`, unless pending; return how many."""
        ...


class LimitStore(Protocol):
    """**Protocol:** where purchase limits count uses, over sliding windows.

    `orderkit.services.PurchaseLimits` drives it: `orderkit.pricing.limit_keys`
    picks the keys an order consumes (`buyer:B1`, `ip:203.0.113.7`), and the
    store counts. Run `orderkit.testing.contracts.LimitStoreContract` against
    any implementation: it checks every rule below.

    A use is `(key, member, at, weight)`: a `LimitKey`'s `weight` is 1
    for an order, the units ordered for a units rule (`LimitRule.units`),
    and always 1 with a member. Within a key's window at `now`, the uses
    with `now - window < at` (later ones included: a clock stepping back
    never frees room), its **count** is the sum of the weights of those
    uses without a member plus the number of distinct members among the
    others.

    Contract of `consume(keys, now=, use_id=)`, one atomic check-and-count:

    - **Check.** Each `LimitKey` is checked against its own `limit` and
      `window`: it passes when `count + weight <= limit` (for weight 1:
      its count is below `limit`), or when it has a `member` that is
      already among its window's members (a known account on an IP adds
      nothing). A use whose weight alone exceeds `limit` never passes.
    - **All or nothing.** When every key passes, one use at `now` is
      recorded for each distinct `(key, member)` pair of the call, with its
      key's weight (a key named twice, by two rules with different windows,
      is used once, and must have the same weight each time), and
      `Granted()` is returned. Otherwise nothing is recorded and `Exceeded`
      lists an `Overage` (the key, its count before the call) for every key
      that failed, in the order given.
    - **Idempotency.** With a `use_id`, a call whose use id was granted
      (or recorded by `record`) before returns `Granted(replayed=True)` and
      records nothing, whatever its keys; an exceeded call records nothing,
      its use id included, so retrying it checks again.
    - **Isolation.** Concurrent calls behave as if run one at a time, also
      across processes for stores shared by them: however many racers
      consume one key with limit `n`, exactly `n` are granted per window.
    - **Verbatim keys.** Keys and members are compared as given, case,
      quotes, SQL and emoji included.

    Contract of `record(keys, now=, use_id=)`, for a use a person allowed
    over the limits (`OrderDesk.release` of an order held for `"limits"`):

    - **Unchecked.** One use at `now` is recorded for each distinct
      `(key, member)` pair, with its weight as given, as a granted `consume`
      records them, whatever the counts; `Granted()` is returned. The uses
      count against later calls as any others.
    - **Idempotency.** With a `use_id` granted or recorded before, it
      returns `Granted(replayed=True)` and records nothing; the use id is
      recorded with the uses, so a later `consume` or `record` with it
      replays too. **Isolation**, **verbatim keys**, validation and errors
      as for `consume`.

    `prune(before)` deletes every use, and every use id, recorded at an
    instant before `before`, and returns how many uses it deleted. Pass
    `now` minus the longest window (and at least the retry horizon of use
    ids): a pruned use no longer counts, and a pruned use id is new again.

    - **Validation.** `keys` a non-empty sequence of `LimitKey` (else
      `ValidationError` naming `keys` or `keys[i]`, `keys[i]` also for a key
      naming an earlier one's `key` and `member` with another weight:
      `orderkit.pricing.limit_keys` never gives such keys); `use_id` `None` or
      printable text of 1 to 255 characters (`use_id`); every time
      timezone-aware (`NaiveDatetime` naming `now` or `before`). Refused
      input records nothing.
    - **Errors.** `StoreError` for storage failures, with the driver's
      error as its cause; nothing is recorded.

    .. versionadded:: 0.1.0
    """

    def consume(
        self,
        keys: Sequence[LimitKey],
        *,
        now: dt.datetime,
        use_id: str | None = None,
    ) -> LimitDecision:
        """Check every key and record one use of each, with its weight, or none."""
        ...

    def record(
        self,
        keys: Sequence[LimitKey],
        *,
        now: dt.datetime,
        use_id: str | None = None,
    ) -> Granted:
        """Record one use of each key, with its weight, unchecked, once per use id."""
        ...

    def prune(self, before: dt.datetime) -> int:
        """Delete uses recorded before `before`; return how many."""
        ...


class CursorStore(Protocol):
    """**Protocol:** where pulls remember how far they have read each feed.

    A feed is named by the host (`"shopify:orders"`). Its cursor is the
    channel's opaque text for "the next page starts here". A puller reads the
    cursor, pulls a page, makes the page's records durable, and only then
    advances the cursor: a crash in between pulls the page again, and the
    records' idempotency keys make that harmless. Run
    `orderkit.testing.contracts.CursorStoreContract` against any
    implementation.

    Contract:

    - `get(feed)` returns the feed's cursor, or `None` for a feed never
      advanced.
    - `advance(feed, expected, cursor)` is a compare-and-set: when the
      feed's cursor is `expected` (`None` for a new feed) it becomes
      `cursor` and `True` is returned; otherwise nothing changes and `False`
      is returned, so two pullers of one feed never both move it. Advancing
      to the cursor it already has is `True` and changes nothing (a retried
      call).
    - **Isolation.** Concurrent `advance` calls behave as if run one at a
      time, also across processes for stores shared by them.
    - **Verbatim.** Feeds and cursors are compared as given.
    - **Validation.** `feed` and `cursor` printable text of 1 to 255 and
      1 to 4096 characters, `expected` `None` or such text (else
      `ValidationError` naming the argument); refused input changes nothing.
    - **Errors.** `StoreError` for storage failures, with the driver's
      error as its cause; nothing changes.

    .. versionadded:: 0.1.0
    """

    def get(self, feed: str) -> str | None:
        """Return the feed's cursor, or `None` if it was never advanced."""
        ...

    def advance(self, feed: str, expected: str | None, cursor: str) -> bool:
        """Move the feed from `expected` to `cursor`; `False` if it moved."""
        ...
