"""The in-memory outbox and inbox, and the argument checks every backend shares."""

from __future__ import annotations

import datetime as dt
import itertools
import threading
from collections.abc import Sequence
from typing import cast, final

import pendulum

from orderkit._time import plus, to_utc
from orderkit._validate import as_tuple, is_sequence, positive_int
from orderkit.adapters._memory_journal import Journal, Journaled
from orderkit.dedupe._claims import check_duration, check_text
from orderkit.errors import ConcurrencyConflict, ValidationError
from orderkit.orders._messages import OutboxMessage


def check_messages(messages: object) -> list[OutboxMessage]:
    """Return `messages` as a list once each is an `OutboxMessage`.

    Raises:
        ValidationError: Naming `messages` or `messages[i]`.
    """
    if not is_sequence(messages):
        raise ValidationError(
            "messages", messages, "must be a sequence of OutboxMessage"
        )
    for i, message in enumerate(messages):
        if type(message) is not OutboxMessage:
            raise ValidationError(f"messages[{i}]", message, "must be an OutboxMessage")
    return list(messages)


def new_messages(
    messages: Sequence[OutboxMessage], stored: dict[str, OutboxMessage]
) -> list[OutboxMessage]:
    """The messages not stored yet, in the order given, each once.

    `stored` maps the ids already stored (and only those the call names
    need be there) to their messages.

    Raises:
        ConcurrencyConflict: A message differs from the one stored (or given
            earlier in the call) under its id.
    """
    fresh: dict[str, OutboxMessage] = {}
    for message in messages:
        known = fresh.get(message.message_id) or stored.get(message.message_id)
        if known is None:
            fresh[message.message_id] = message
        elif known != message:
            raise ConcurrencyConflict(f"message:{message.message_id}")
    return list(fresh.values())


def check_claim(
    relay: object, now: object, lease: object, limit: object
) -> tuple[str, pendulum.DateTime, pendulum.DateTime, int]:
    """Return the relay, `now`, the lease's end and the limit once valid.

    Raises:
        ValidationError: Naming `relay`, `lease` or `limit`.
        NaiveDatetime: `now` is naive.
    """
    name = check_text("relay", relay)
    at = to_utc(cast("dt.datetime", now), "now")
    span = check_duration("lease", lease)
    positive_int("limit")(None, None, limit)
    try:
        until = plus(at, span)
    except OverflowError:
        raise ValidationError("lease", lease, "ends beyond the year 9999") from None
    return name, at, until, cast("int", limit)


def check_mark(
    message_ids: object, relay: object, now: object
) -> tuple[list[str], str, pendulum.DateTime]:
    """Return the arguments of `mark_sent` once valid.

    Raises:
        ValidationError: Naming `message_ids`, `message_ids[i]` or `relay`.
        NaiveDatetime: `now` is naive.
    """
    if not is_sequence(message_ids):
        raise ValidationError(
            "message_ids", message_ids, "must be a sequence of message ids"
        )
    ids = [check_text(f"message_ids[{i}]", m) for i, m in enumerate(message_ids)]
    return (
        list(dict.fromkeys(ids)),
        check_text("relay", relay),
        to_utc(cast("dt.datetime", now), "now"),
    )


def check_limit(limit: object) -> int:
    """Return `limit` once it is a positive integer.

    Raises:
        InvalidQuantity: Naming `limit`.
    """
    positive_int("limit")(None, None, limit)
    return cast("int", limit)


def check_seen(
    consumer: object, message_id: object, now: object
) -> tuple[str, str, pendulum.DateTime]:
    """Return the arguments of `Inbox.seen` once valid.

    Raises:
        ValidationError: Naming `consumer` or `message_id`.
        NaiveDatetime: `now` is naive.
    """
    return (
        check_text("consumer", consumer),
        check_text("message_id", message_id),
        to_utc(cast("dt.datetime", now), "now"),
    )


def check_before(before: object) -> pendulum.DateTime:
    """Return `before` in UTC.

    Raises:
        NaiveDatetime: `before` is naive.
    """
    return to_utc(cast("dt.datetime", before), "before")


def _lease_back(
    entry: _Entry, relay: str | None, until: pendulum.DateTime | None
) -> None:
    entry.relay, entry.until = relay, until


class _Entry:
    """One stored message and where it stands."""

    __slots__ = ("message", "relay", "sent_at", "seq", "until")

    def __init__(self, seq: int, message: OutboxMessage) -> None:
        self.seq = seq
        self.message = message
        self.relay: str | None = None
        self.until: pendulum.DateTime | None = None
        self.sent_at: pendulum.DateTime | None = None

    def copy(self) -> _Entry:
        twin = _Entry(self.seq, self.message)
        twin.relay, twin.until, twin.sent_at = self.relay, self.until, self.sent_at
        return twin


@final
class MemoryOutbox(Journaled):
    """An `Outbox` in a dict, safe to share between threads.

    Each call holds one lock, so racing relays are served one at a time. A
    claim walks the unsent messages oldest first until it has `limit`:
    O(unsent) at worst. Nothing survives the process.

    .. versionadded:: 0.1.0
    """

    def __init__(self) -> None:
        """Create an empty outbox."""
        self._lock = threading.Lock()
        self._seq = itertools.count(1)
        self._entries: dict[str, _Entry] = {}
        # Unsent messages by sequence: dicts keep insertion order, which is
        # sequence order, so a claim walks them oldest first.
        self._unsent: dict[int, _Entry] = {}
        self._journal: Journal | None = None
        # A rollback put a message back in `_unsent` out of sequence order.
        self._disordered = False

    def lock_streams(self, streams: Sequence[str]) -> None:
        """Check `streams` and do nothing else (`orderkit.ports.StreamLocks`).

        The store's own lock lets one transaction at a time change it, so a
        stream's turn is always the caller's already.

        Raises:
            ValidationError: `streams` is not a sequence of text.
            StoreError: The outbox is a unit of work's, and its unit is not
                open in this thread.
        """
        as_tuple(streams, "streams", str)
        if self._owned:
            self._in_unit("lock_streams")

    def add(self, messages: Sequence[OutboxMessage]) -> None:
        """Store the messages in order, skipping those stored; all or nothing.

        See `orderkit.ports.Outbox`.

        Raises:
            ValidationError: Bad messages; nothing was stored.
            ConcurrencyConflict: A message differs from the one stored under
                its id; nothing was stored.
        """
        checked = check_messages(messages)
        with self._lock:
            if self._owned:
                self._in_unit("add")
            stored = {
                m.message_id: e.message
                for m in checked
                if (e := self._entries.get(m.message_id)) is not None
            }
            added = [_Entry(next(self._seq), m) for m in new_messages(checked, stored)]
            for entry in added:
                self._entries[entry.message.message_id] = entry
                self._unsent[entry.seq] = entry
            if self._journal is not None and added:
                self._journal.record(self._unadd, added)

    def claim(
        self, *, relay: str, now: dt.datetime, lease: dt.timedelta, limit: int = 100
    ) -> Sequence[OutboxMessage]:
        """Lease up to `limit` claimable messages to `relay`, oldest first.

        See `orderkit.ports.Outbox`.

        Raises:
            ValidationError: Bad relay, lease or limit.
            NaiveDatetime: `now` is naive.
        """
        name, at, until, most = check_claim(relay, now, lease, limit)
        with self._lock:
            if self._owned:
                self._in_unit("claim")
            blocked: set[str] = set()
            taken: list[_Entry] = []
            for entry in self._unsent.values():
                stream = entry.message.stream
                if stream in blocked:
                    continue
                if entry.until is not None and entry.until > at:
                    # Leased and live: nothing after it in its stream may go.
                    blocked.add(stream)
                    continue
                taken.append(entry)
                if len(taken) == most:
                    break
            journal = self._journal
            for entry in taken:
                if journal is not None:
                    journal.record(_lease_back, entry, entry.relay, entry.until)
                entry.relay, entry.until = name, until
            return [entry.message for entry in taken]

    def mark_sent(
        self, message_ids: Sequence[str], *, relay: str, now: dt.datetime
    ) -> int:
        """Mark sent the messages `relay` holds; return how many were marked.

        See `orderkit.ports.Outbox`.

        Raises:
            ValidationError: Bad ids or relay.
            NaiveDatetime: `now` is naive.
        """
        ids, name, at = check_mark(message_ids, relay, now)
        marked = 0
        with self._lock:
            if self._owned:
                self._in_unit("mark_sent")
            for message_id in ids:
                entry = self._entries.get(message_id)
                if entry is None or entry.sent_at is not None or entry.relay != name:
                    continue
                if self._journal is not None:
                    self._journal.record(self._unsend, entry)
                entry.sent_at = at
                del self._unsent[entry.seq]
                marked += 1
        return marked

    def unsent(self, *, limit: int = 1000) -> Sequence[OutboxMessage]:
        """Return up to `limit` unsent messages, oldest first.

        Raises:
            InvalidQuantity: `limit` is not a positive integer.
        """
        most = check_limit(limit)
        with self._lock:
            if self._owned:
                self._in_unit("unsent")
            return [
                entry.message for entry in itertools.islice(self._unsent.values(), most)
            ]

    def prune(self, before: dt.datetime) -> int:
        """Delete the messages sent before `before`; return how many.

        Raises:
            NaiveDatetime: `before` is naive.
        """
        cutoff = check_before(before)
        with self._lock:
            if self._owned:
                self._in_unit("prune")
            gone = [
                message_id
                for message_id, entry in self._entries.items()
                if entry.sent_at is not None and entry.sent_at < cutoff
            ]
            journal = self._journal
            for message_id in gone:
                if journal is not None:
                    journal.item(self._entries, message_id)
                del self._entries[message_id]
        return len(gone)

    def _snapshot(self) -> object:
        """A copy of the outbox, for `MemoryUnitOfWork` to roll back to."""
        with self._lock:
            return {message_id: e.copy() for message_id, e in self._entries.items()}

    def _unadd(self, added: list[_Entry]) -> None:
        """Undo `add` of the entries `added`, each new to the outbox (a rollback)."""
        for entry in added:
            del self._entries[entry.message.message_id]
            del self._unsent[entry.seq]

    def _unsend(self, entry: _Entry) -> None:
        """Undo `mark_sent` of one message (a rollback)."""
        entry.sent_at = None
        if self._unsent and next(reversed(self._unsent)) > entry.seq:
            self._disordered = True
        self._unsent[entry.seq] = entry

    def _rolled_back(self) -> None:
        # Messages put back unsent go back in their place: O(unsent), once.
        if self._disordered:
            ordered = sorted(self._unsent.items())
            self._unsent.clear()
            self._unsent.update(ordered)
            self._disordered = False

    def _restore(self, snapshot: object) -> None:
        """Put back the outbox `_snapshot` copied; the snapshot stays reusable."""
        saved = cast("dict[str, _Entry]", snapshot)
        entries = {message_id: e.copy() for message_id, e in saved.items()}
        unsent = sorted(
            (e for e in entries.values() if e.sent_at is None), key=lambda e: e.seq
        )
        with self._lock:
            self._entries = entries
            self._unsent = {e.seq: e for e in unsent}


@final
class MemoryInbox(Journaled):
    """An `Inbox` in a dict, safe to share between threads.

    .. versionadded:: 0.1.0
    """

    def __init__(self) -> None:
        """Create an empty inbox."""
        self._lock = threading.Lock()
        self._seen: dict[tuple[str, str], pendulum.DateTime] = {}
        self._journal: Journal | None = None

    def seen(self, consumer: str, message_id: str, *, now: dt.datetime) -> bool:
        """Say whether `consumer` had the message; record it if not.

        See `orderkit.ports.Inbox`.

        Raises:
            ValidationError: Bad consumer or message id.
            NaiveDatetime: `now` is naive.
        """
        name, message, at = check_seen(consumer, message_id, now)
        with self._lock:
            if self._owned:
                self._in_unit("seen")
            if (name, message) in self._seen:
                return True
            if self._journal is not None:
                self._journal.item(self._seen, (name, message))
            self._seen[name, message] = at
            return False

    def prune(self, before: dt.datetime) -> int:
        """Forget deliveries recorded before `before`; return how many.

        Raises:
            NaiveDatetime: `before` is naive.
        """
        cutoff = check_before(before)
        with self._lock:
            if self._owned:
                self._in_unit("prune")
            kept = {key: at for key, at in self._seen.items() if at >= cutoff}
            pruned = len(self._seen) - len(kept)
            if self._journal is not None:
                self._journal.attr(self, "_seen")
            self._seen = kept
        return pruned

    def _snapshot(self) -> object:
        """A copy of the inbox, for `MemoryUnitOfWork` to roll back to."""
        with self._lock:
            return dict(self._seen)

    def _restore(self, snapshot: object) -> None:
        """Put back the inbox `_snapshot` copied; the snapshot stays reusable."""
        state = dict(cast("dict[tuple[str, str], pendulum.DateTime]", snapshot))
        with self._lock:
            self._seen = state
