"""The I/O ports a host application implements, as `typing.Protocol`s.

orderkit's core never does I/O: services receive these ports as arguments.
Reference implementations live in `orderkit.adapters`; fakes for tests in
`orderkit.testing`.

.. versionadded:: 0.1.0
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from types import TracebackType
from typing import Any, Protocol, Self

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
from orderkit.integrations import (
    ChannelPage,
    ChannelRecord,
    ChannelTransaction,
    Label,
    Message,
    PickTask,
    SettlementLine,
    TrackingEvent,
    WarehouseConfirmation,
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
from orderkit.money import Money
from orderkit.orders import Address, AuditRecord, Order, OrderStatus, Shipment
from orderkit.orders._messages import OutboxMessage
from orderkit.pricing import LimitDecision, LimitKey


__all__ = [
    "AuditLog",
    "Carrier",
    "Channel",
    "ChannelPayloads",
    "Clock",
    "CursorStore",
    "DetectorStore",
    "Inbox",
    "KeyStore",
    "LedgerStore",
    "LimitStore",
    "Notifier",
    "OrderStore",
    "Outbox",
    "Payments",
    "UnitOfWork",
    "Warehouse",
]


class Clock(Protocol):
    """**Protocol:** where services read the time, and how they wait.

    Contract:

    - `now()` returns a timezone-aware UTC `pendulum.DateTime`; never a naive
      datetime. Successive calls may step backwards (a wall clock being
      corrected): callers that need monotonic time keep their own high-water
      mark.
    - `sleep(seconds)` waits at least that long; a test clock advances its
      time instead, so retries and timeouts are tested without real sleeps.
      Negative durations are refused with `ValueError`.

    .. versionadded:: 0.1.0
    """

    def now(self) -> pendulum.DateTime:
        """Return the current instant, in UTC."""
        ...

    def sleep(self, seconds: float) -> None:
        """Wait `seconds` (a test clock advances instead)."""
        ...


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
      never revives an expired hold.
    - **Order of work**, all inside one transaction: (1) expire every live
      hold with `expires_at <= at` on the balances the plan touches
      (`EXPIRE` movements keyed `expire:<hold_id>`); (2) when
      `plan.supersede` names an owner, release its live holds on those
      balances (`RELEASE` movements under the plan's key); (3) apply each
      hold write as a compare-and-set; (4) apply the movements in order,
      an `ADJUST` with `counted` moving on hand to that figure; (5)
      evaluate every check; (6) write everything and the receipt.
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
      would fall below zero; `StoreError` for storage failures, with the
      driver's error as its cause.

    Reads see committed data, and a store that joined a host's open
    transaction also sees that transaction's own writes. Balances from
    `balances` count a live hold past its expiry as expired, whether or not
    it has been swept.

    .. versionadded:: 0.1.0
    """

    def apply(self, plan: Plan) -> Receipt:
        """Apply `plan` all or nothing; see the class docstring."""
        ...

    def expire_due(
        self, now: pendulum.DateTime, *, limit: int | None = None
    ) -> Sequence[Movement]:
        """Expire live holds due by `max(now, mark)`, in O(expired).

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

    def movements(self, *, after: int = 0, limit: int = 1000) -> Sequence[Movement]:
        """Return up to `limit` movements with `seq > after`, in order."""
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

    A use is `(key, member, at)`. Within a key's window at `now`, the uses
    with `now - window < at` (later ones included: a clock stepping back
    never frees room), its **count** is the number of those uses without a
    member plus the number of distinct members among the others.

    Contract of `consume(keys, now=, use_id=)`, one atomic check-and-count:

    - **Check.** Each `LimitKey` is checked against its own `limit` and
      `window`: it passes when its count is below `limit`, or when it has a
      `member` that is already among its window's members (a known account
      on an IP adds nothing).
    - **All or nothing.** When every key passes, one use at `now` is
      recorded for each distinct `(key, member)` pair of the call (a key
      named twice, by two rules with different windows, is used once) and
      `Granted()` is returned. Otherwise nothing is recorded and `Exceeded`
      lists an `Overage` (the key, its count) for every key that failed, in
      the order given.
    - **Idempotency.** With a `use_id`, a call whose use id was granted
      before returns `Granted(replayed=True)` and records nothing, whatever
      its keys; an exceeded call records nothing, its use id included, so
      retrying it checks again.
    - **Isolation.** Concurrent calls behave as if run one at a time, also
      across processes for stores shared by them: however many racers
      consume one key with limit `n`, exactly `n` are granted per window.
    - **Verbatim keys.** Keys and members are compared as given, case,
      quotes, SQL and emoji included.

    `prune(before)` deletes every use, and every use id, recorded at an
    instant before `before`, and returns how many uses it deleted. Pass
    `now` minus the longest window (and at least the retry horizon of use
    ids): a pruned use no longer counts, and a pruned use id is new again.

    - **Validation.** `keys` a non-empty sequence of `LimitKey` (else
      `ValidationError` naming `keys` or `keys[i]`); `use_id` `None` or
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
        """Check every key and record one use of each, all or nothing."""
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


class ChannelPayloads(Protocol):
    """**Protocol:** a channel's payloads read into canonical records.

    The pure half of a channel: what a reference adapter in
    `orderkit.adapters.channels` implements, and what
    `orderkit.testing.contracts.ChannelContract` checks.

    Contract of `parse(payload, topic=)`:

    - `payload` is the decoded JSON (`orderkit.integrations.load_json`
      keeps its numbers exact); `topic` names its kind, one of `topics`
      (Shopify's webhook topics such as `"orders/create"`).
    - It returns every record the payload states, in payload order:
      `ChannelOrder`s, `ChannelRefund`s, `ChannelTransaction`s.
    - **Deterministic.** The same payload gives equal records; a re-delivery
      gives the same idempotency keys, built from the payload's own ids and
      versions, never from the time of parsing or a delivery id.
    - **Never guesses.** An unknown status raises `UnknownStatus`; a naive
      time is read in the zone the channel documents, or refused.
    - **Errors.** Any payload it cannot map raises a subclass of
      `OrderkitError` (a `ValidationError` naming the payload path), never
      another exception, and returns nothing partial. An unknown topic
      raises `ValidationError` naming `topic`.

    .. versionadded:: 0.1.0
    """

    @property
    def channel(self) -> str:
        """The channel's name, the `channel` of every key and order."""
        ...

    @property
    def topics(self) -> frozenset[str]:
        """The payload kinds `parse` reads."""
        ...

    def parse(self, payload: Any, *, topic: str) -> Sequence[ChannelRecord]:  # noqa: ANN401 - decoded JSON
        """Read one payload into canonical records."""
        ...


class Channel(ChannelPayloads, Protocol):
    """**Protocol:** a sales channel: its payloads, its feed, and what goes back.

    A host implements the I/O over the channel's API; `parse` is usually a
    reference adapter's.

    Contract:

    - `pull(cursor, limit=)` returns the page after `cursor` (`None`: from
      the start), at most `limit` records, with the next page's cursor, or
      `None` after the last page. Pulling the same cursor again returns the
      same records or later versions of them. Store the cursor in a
      `CursorStore` only after the page's records are durable.
    - `push_shipment(order_id, shipment)` tells the channel a parcel left,
      with its carrier and tracking number; `push_stock(sku, sellable)` sets
      what the channel may sell. Both are idempotent: pushing the same
      value twice is harmless.
    - **Errors.** A failure that may pass on retry raises `TransientError`
      (`CallTimedOut` when the call may have run); anything else a subclass
      of `OrderkitError`. Wrap calls in `orderkit.services.retry` and a
      `CircuitBreaker`.

    .. versionadded:: 0.1.0
    """

    def pull(self, cursor: str | None, *, limit: int) -> ChannelPage:
        """Return the page after `cursor`, with the next page's cursor."""
        ...

    def push_shipment(self, order_id: str, shipment: Shipment) -> None:
        """Tell the channel a parcel left, with its tracking number."""
        ...

    def push_stock(self, sku: str, sellable: int) -> None:
        """Set how many units of `sku` the channel may sell."""
        ...


class Warehouse(Protocol):
    """**Protocol:** a warehouse management system (WMS).

    Contract:

    - `create_pick_task(task)` hands the warehouse a task and returns the
      warehouse's own id for it. **Idempotent** by `task.task_id`: sending
      the same task again returns the same id and creates nothing.
    - `parse_confirmation(payload)` reads one confirmation the warehouse
      sent (picked, packed, shipped) into a `WarehouseConfirmation`; a
      `SHIPPED` one carries the carrier and tracking number. Confirmations
      may arrive twice or out of order: their keys tell re-sends apart, and
      the order lifecycle orders them.
    - **Errors.** A payload it cannot read raises a `ValidationError` naming
      the payload path; calls to the warehouse fail as below.
    - **Errors.** A failure that may pass on retry raises `TransientError`
      (`CallTimedOut` when the call may have run: retry it only under the
      same key); a refusal raises another subclass of `OrderkitError`.

    .. versionadded:: 0.1.0
    """

    def create_pick_task(self, task: PickTask) -> str:
        """Hand the warehouse a pick task; return its id for the task."""
        ...

    def parse_confirmation(self, payload: Any) -> WarehouseConfirmation:  # noqa: ANN401 - decoded JSON
        """Read one confirmation the warehouse sent."""
        ...


class Carrier(Protocol):
    """**Protocol:** a parcel carrier: labels out, tracking scans in.

    Contract:

    - `create_label(shipment_id, address, parcels=1)` books a pickup and
      returns the `Label`. **Idempotent** by `shipment_id`: asking again
      returns the same label and tracking number.
    - `tracking(tracking_number)` returns the parcel's scans, oldest first,
      each normalised onto `TrackingStatus` (in transit, out for delivery,
      delivered, exception) with the carrier's own code kept. A carrier
      code it cannot map is reported (`UnknownStatus`), never guessed.
    - **Errors.** A failure that may pass on retry raises `TransientError`
      (`CallTimedOut` when the call may have run: retry it only under the
      same key); a refusal raises another subclass of `OrderkitError`.

    .. versionadded:: 0.1.0
    """

    def create_label(
        self, shipment_id: str, address: Address, *, parcels: int = 1
    ) -> Label:
        """Book the shipment with the carrier and return its label."""
        ...

    def tracking(self, tracking_number: str) -> Sequence[TrackingEvent]:
        """Return the parcel's scans, oldest first, normalised."""
        ...


class Payments(Protocol):
    """**Protocol:** a payment provider: captures, refunds, statements.

    Contract:

    - `capture(payment_id, amount, key=)` takes money from an authorisation;
      `refund(payment_id, amount, key=, reason=)` sends money back against a
      capture. Both return the provider's `ChannelTransaction` (failed ones
      included, `succeeded=False`) and are **idempotent** by `key`: the same
      key returns the first transaction and moves no money again.
      Amounts never exceed what the order's `PaymentLedger` allows: check
      there first.
    - `statement(day)` returns the settlement lines of one day, in the
      provider's zone, for reconciliation; a day not settled yet returns
      what is settled so far.
    - **Errors.** A failure that may pass on retry raises `TransientError`
      (`CallTimedOut` when the call may have run: retry it only under the
      same key); a refusal raises another subclass of `OrderkitError`.

    .. versionadded:: 0.1.0
    """

    def capture(
        self, payment_id: str, amount: Money, *, key: str
    ) -> ChannelTransaction:
        """Capture `amount` of the authorisation `payment_id`."""
        ...

    def refund(
        self, payment_id: str, amount: Money, *, key: str, reason: str
    ) -> ChannelTransaction:
        """Send `amount` back against the payment `payment_id`."""
        ...

    def statement(self, day: dt.date) -> Sequence[SettlementLine]:
        """Return the settlement lines of `day`."""
        ...


class Notifier(Protocol):
    """**Protocol:** messages to buyers through a provider's templates (SMS, WeChat).

    Contract:

    - `send(message)` delivers the template with its parameters to the
      recipient. **Idempotent** by `message.key`: a message whose key was
      sent before is not sent again (buyers are never told twice).
    - A recipient the provider refuses (an invalid or unsubscribed number)
      raises a `ValidationError` naming `recipient`: do not retry it.
    - **Errors.** A failure that may pass on retry raises `TransientError`
      (`CallTimedOut` when the call may have run: retry it only under the
      same key); a refusal raises another subclass of `OrderkitError`.

    .. versionadded:: 0.1.0
    """

    def send(self, message: Message) -> None:
        """Send the message once per key."""
        ...


class OrderStore(Protocol):
    """**Protocol:** where orders live, each as one versioned document.

    An order is known by `(channel, order.order_id)`: ids are unique only
    within a channel. The store keeps the whole `Order` (its payments,
    shipments, cases and whatever fields it gains) and reads back an equal
    one. Run `orderkit.testing.contracts.OrderStoreContract` against any
    implementation: it checks every rule below.

    Contract of `save(order, expected_version)`, one atomic compare-and-set
    (optimistic concurrency, as cosmicpython's `version_number`):

    - **New.** `expected_version=None` stores a new order; when the store
      already holds one with that channel and id, it raises
      `ConcurrencyConflict` and changes nothing.
    - **Update.** An integer stores `order` in place of the stored one only
      while the stored version is `expected_version`; otherwise (the order
      moved, or there is none) it raises `ConcurrencyConflict` (`what` is
      `order:<channel>:<order_id>`) and changes nothing. Re-read and retry.
    - **Forward only.** An update's `order.version` must be greater than
      `expected_version`, else `ValidationError` naming `order.version`: a
      version never repeats, so two writers never both expect it.
    - **Isolation.** Concurrent saves behave as if run one at a time, also
      across processes for stores shared by them: of racers saving with
      the same expected version, exactly one wins.

    `get(channel, order_id)` returns the stored order, or `None`.
    `orders(status=, after=, limit=)` lists stored orders for monitoring,
    ordered by channel then order id (as code points), those after the
    `(channel, order_id)` given, at most `limit`, optionally of one status.

    - **Verbatim.** Channels and ids are compared as given.
    - **Validation.** `order` an `Order`; `expected_version` `None` or a
      positive integer; `channel` and `order_id` printable text of 1 to 255
      characters; `limit` a positive integer; `status` `None` or an
      `OrderStatus`. Otherwise `ValidationError` naming the argument, and
      nothing is written.
    - **Errors.** `StoreError` for storage failures, with the driver's
      error as its cause; nothing is written.

    .. versionadded:: 0.1.0
    """

    def get(self, channel: str, order_id: str) -> Order | None:
        """Return the stored order, or `None`."""
        ...

    def save(self, order: Order, expected_version: int | None) -> None:
        """Store `order` if the stored version is `expected_version`; see the class."""
        ...

    def orders(
        self,
        *,
        status: OrderStatus | None = None,
        after: tuple[str, str] | None = None,
        limit: int = 100,
    ) -> Sequence[Order]:
        """List orders by channel and id, after `after`, at most `limit`."""
        ...


class AuditLog(Protocol):
    """**Protocol:** the audit trail: every applied change of every order.

    An order's records are known by `(channel, record.order_id,
    record.version)`; `AuditRecord` does not carry the channel, so the
    caller names it. Run `orderkit.testing.contracts.UnitOfWorkContract`
    against a unit of work to check the log with the rest of the stores.

    Contract:

    - `append(channel, records)` stores the records, all or nothing.
      **Idempotent** per `(channel, order_id, version)`: a record equal to
      the one stored under its key is skipped; a different one raises
      `ConcurrencyConflict` (`what` is
      `audit:<channel>:<order_id>:<version>`) and nothing of the call is
      stored.
    - `records(channel, order_id)` returns the order's records in version
      order; none for an order without records.
    - **Validation.** `records` a sequence of `AuditRecord`s (else
      `ValidationError` naming `records` or `records[i]`); `channel` and
      `order_id` printable text of 1 to 255 characters.
    - **Errors.** `StoreError` for storage failures, with the driver's
      error as its cause; nothing is stored.

    .. versionadded:: 0.1.0
    """

    def append(self, channel: str, records: Sequence[AuditRecord]) -> None:
        """Store the records of orders on `channel`, skipping those stored."""
        ...

    def records(self, channel: str, order_id: str) -> Sequence[AuditRecord]:
        """Return the order's records in version order."""
        ...


class Outbox(Protocol):
    """**Protocol:** messages written with a state change, sent after it commits.

    The transactional outbox: a service adds a message in the same
    transaction as the change it reports (the unit of work's `outbox`), so
    both commit or neither does; a relay (`orderkit.services.relay`) then
    claims messages, publishes them, and marks them sent. Delivery is at
    least once: a relay that dies after publishing and before marking
    publishes again, so consumers drop repeats (`Inbox`). Run
    `orderkit.testing.contracts.OutboxContract` against any implementation.

    Contract:

    - `add(messages)` stores the messages in the caller's transaction, in
      the order given, after every message added before. **Idempotent** by
      `message_id`: a message equal to one stored (sent or not, until
      pruned) is skipped; a different message under a stored id raises
      `ConcurrencyConflict` (`what` is `message:<message_id>`) and nothing
      of the call is stored.
    - `claim(relay=, now=, lease=, limit=)` leases up to `limit` unsent
      messages to `relay` until `now + lease` and returns them oldest first.
      A message is claimable when it is not leased or its lease ended by
      `now`. **In order per stream:** a message is never handed out while
      an earlier message of its stream is unsent and under a live lease
      (to any relay, the caller included), so the messages of one stream
      are published one relay at a time, in order. **Isolation:** of
      relays claiming at once, also across processes, no message goes to
      two of them while its lease lives.
    - `mark_sent(message_ids, relay=, now=)` marks sent, at `now`, each
      unsent message leased to `relay` (even past its lease, while no other
      relay has claimed it since) and returns how many it marked. Ids of
      messages sent already, leased to another relay or unknown are left
      alone; marking again is harmless.
    - `unsent(limit=)` returns up to `limit` unsent messages, oldest first,
      leased or not: for monitoring.
    - `prune(before)` deletes the messages sent before `before` and
      returns how many; an id pruned may be added again as new.
    - **Validation.** `messages` a sequence of `OutboxMessage`s (else
      `ValidationError` naming `messages` or `messages[i]`); `relay` and
      message ids printable text of 1 to 255 characters; `lease` a positive
      `timedelta`; `limit` a positive integer; times timezone-aware
      (`NaiveDatetime`). Refused input writes nothing.
    - **Errors.** `StoreError` for storage failures, with the driver's
      error as its cause; nothing is written.

    Times are compared as given: a clock stepping back makes a lease last
    longer, never shorter.

    .. versionadded:: 0.1.0
    """

    def add(self, messages: Sequence[OutboxMessage]) -> None:
        """Store the messages in the caller's transaction, in order."""
        ...

    def claim(
        self, *, relay: str, now: dt.datetime, lease: dt.timedelta, limit: int = 100
    ) -> Sequence[OutboxMessage]:
        """Lease up to `limit` claimable messages to `relay`, oldest first."""
        ...

    def mark_sent(
        self, message_ids: Sequence[str], *, relay: str, now: dt.datetime
    ) -> int:
        """Mark sent the messages `relay` holds; return how many were marked."""
        ...

    def unsent(self, *, limit: int = 1000) -> Sequence[OutboxMessage]:
        """Return up to `limit` unsent messages, oldest first."""
        ...

    def prune(self, before: dt.datetime) -> int:
        """Delete the messages sent before `before`; return how many."""
        ...


class Inbox(Protocol):
    """**Protocol:** the consumer's side of at-least-once delivery: repeats dropped.

    A consumer asks `seen(consumer, message_id, now=)` before acting on a
    message, in the same transaction as its own writes (the unit of work's
    `inbox`): the first delivery is recorded and returns `False` (act on
    it); every later delivery returns `True` (drop it). Should the
    consumer's transaction roll back, so does the record, and the next
    delivery is a first one again. Run
    `orderkit.testing.contracts.OutboxContract` to check it with an outbox.

    Contract:

    - `seen` is one atomic check-and-record per `(consumer, message_id)`;
      consumers are apart: one consumer's deliveries never count for
      another. Of racers delivering one message to one consumer, also
      across processes, exactly one gets `False`.
    - `prune(before)` forgets deliveries recorded before `before` and
      returns how many; keep them longer than any redelivery can come.
    - **Validation.** `consumer` and `message_id` printable text of 1 to
      255 characters; times timezone-aware (`NaiveDatetime`).
    - **Errors.** `StoreError` for storage failures, with the driver's
      error as its cause; nothing is recorded.

    .. versionadded:: 0.1.0
    """

    def seen(self, consumer: str, message_id: str, *, now: dt.datetime) -> bool:
        """Say whether `consumer` had the message; record it if not."""
        ...

    def prune(self, before: dt.datetime) -> int:
        """Forget deliveries recorded before `before`; return how many."""
        ...


class UnitOfWork(Protocol):
    """**Protocol:** one transaction over every store of a backend.

    cosmicpython's unit of work. `with uow:` opens a session (a connection,
    a transaction) and hands every store the same one, so the stores join
    its transaction; `uow.commit()` commits everything written since the
    unit opened (or since the last commit) all at once; leaving the block
    without committing, or with an exception, rolls it back. Run
    `orderkit.testing.contracts.UnitOfWorkContract` against any
    implementation.

    Contract:

    - **All or nothing.** What the stores wrote in a unit becomes visible to
      others together, at `commit`, or never.
    - **Isolation.** Nothing of an open unit is visible outside it. Units
      run as if one at a time: a backend may make a second unit wait for
      the first, also across processes.
    - **Read your writes.** Inside the unit, every store sees what the
      unit wrote.
    - **Several commits.** After `commit` the unit goes on: later writes
      are committed by a later `commit`, or rolled back on leaving.
      `rollback()` undoes what was written since the last commit.
    - **One at a time.** A unit of work object runs one unit at a time:
      threads sharing one wait their turn; entering it again from inside
      its own unit raises `StoreError`. Its stores belong to the open
      unit: use them only inside the `with` block.
    - **Errors.** `StoreError` for storage failures (the unit is rolled
      back), and for using the stores when no unit is open; the stores'
      own errors otherwise. A store call that raises writes nothing, and
      the unit goes on.

    .. versionadded:: 0.1.0
    """

    @property
    def orders(self) -> OrderStore:
        """The unit's orders."""
        ...

    @property
    def audit(self) -> AuditLog:
        """The unit's audit trail."""
        ...

    @property
    def outbox(self) -> Outbox:
        """The unit's outbox."""
        ...

    @property
    def inbox(self) -> Inbox:
        """The unit's inbox, for consumers on the same backend."""
        ...

    @property
    def ledger(self) -> LedgerStore:
        """The unit's inventory ledger."""
        ...

    @property
    def keys(self) -> KeyStore:
        """The unit's idempotency keys."""
        ...

    @property
    def limits(self) -> LimitStore:
        """The unit's purchase-limit counts."""
        ...

    @property
    def detector(self) -> DetectorStore:
        """The unit's duplicate-detector records and review queue."""
        ...

    @property
    def cursors(self) -> CursorStore:
        """The unit's feed cursors."""
        ...

    def __enter__(self) -> Self:
        """Open a unit: a session every store joins."""
        ...

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Roll back what was not committed and close the session."""
        ...

    def commit(self) -> None:
        """Commit everything written since the unit opened or last committed."""
        ...

    def rollback(self) -> None:
        """Undo everything written since the unit opened or last committed."""
        ...
