"""Where orders, their audit trail and their messages live, in one unit of work."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from types import TracebackType
from typing import Protocol, Self, runtime_checkable

from orderkit.orders import AuditRecord, Order, OrderStatus
from orderkit.orders._messages import OutboxMessage
from orderkit.ports._stores import (
    CursorStore,
    DetectorStore,
    KeyStore,
    LedgerStore,
    LimitStore,
)


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
    Optionally, `waiting(after=, limit=)` lists alike the stored orders that
    wait for something (`orderkit.orders.waits`: a saga in flight, a person,
    an inspected case's refund): `recover`, `Refunds.send_due` and
    `stuck_from_stores` read those alone from a store that has it, and every
    order from one without. It lists every order saved that waits, and none
    saved that does not; it may also list an order stored before the store
    kept the mark (orderkit's SQL stores, after an upgrade, for a document
    they could not read as orderkit's), never miss one: callers check
    `waits`. orderkit's SQL stores keep `waits(order)` beside each order
    they save, with an index.
    Optionally too, `placed_between(start, end, after=, limit=)` lists the
    stored orders placed in `[start, end)` (`start <= order.placed_at <
    end`), soonest placed first, those of one instant by channel then order
    id; `after` is the `Order` the previous page ended with, and the page
    holds those that sort after it. `health_from_stores` reads a window's
    orders through it (with `AuditLog.recorded_between` and `waiting()`)
    from a store that has it, and every order from one without. orderkit's
    stores keep the placed instant beside each order, with an index. A
    naive `start` or `end` raises `NaiveDatetime`; an `end` not after
    `start`, or an `after` that is not an `Order`, `ValidationError`.

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
    - Optionally, `recorded_between(start, end, after=, limit=)` returns
      the records recorded in `[start, end)` (`start <= record.recorded_at
      < end`), each as a `(channel, record)` pair, soonest recorded first,
      then by channel, order id and version; `after` is the pair the
      previous page ended with, and the page holds those that sort after
      it, at most `limit`. `health_from_stores` finds the orders a window
      changed through it. orderkit's logs keep the instant beside each
      record, with an index. A naive `start` or `end` raises
      `NaiveDatetime`; an `end` not after `start`, or a bad `after` or
      `limit`, `ValidationError`.
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


@runtime_checkable
class StreamLocks(Protocol):
    """**Protocol:** an `Outbox` that lets a caller take streams' turns early.

    An outbox shared by concurrent transactions (PostgreSQL's) hands each
    stream's messages their order by a lock per stream, held until the
    transaction ends. A caller whose message reports a figure it reads
    first (the ledger's `sellable` messages) takes the stream's lock before
    reading: a concurrent change then commits either before the read, and
    is seen, or after the message, and sends its own later one; so the
    stream's last message always tells the figure as it ended. An outbox
    whose transactions never overlap needs no such lock: the memory
    outbox's `lock_streams` only checks its argument, and the SQLite one
    does without.

    Contract: `lock_streams(streams)` takes, in the caller's transaction,
    the locks that `add` takes for messages of those streams, and holds
    them until the transaction ends.

    A standalone outbox, whose `add` commits on its own apart from the
    store's change (the SQLite and PostgreSQL reference outboxes given a
    path, a DSN or a pool), holds no lock across the change: it says so
    with an optional `commits_alone()` returning true, and the ledger then
    reads its figure again after each message and tells it again if it
    moved. An outbox without `commits_alone` is taken to share the store's
    transaction.

    .. versionadded:: 0.1.0
    """

    def lock_streams(self, streams: Sequence[str]) -> None:
        """Take the streams' locks in the caller's transaction, until it ends."""
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
      unit: use them only inside the `with` block, in its thread. A store
      kept past its unit, or called from another thread while a unit is
      open, raises `StoreError` and writes nothing.
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
