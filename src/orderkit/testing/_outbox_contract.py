"""The outbox contract: every rule of `Outbox` and `Inbox` as tests."""

from __future__ import annotations

import abc
import datetime as dt
import functools
import random
from collections.abc import Callable
from typing import Any

import pytest

from orderkit.errors import ConcurrencyConflict, StoreError, ValidationError
from orderkit.orders._messages import MAX_STREAM_LENGTH, OutboxMessage, order_stream
from orderkit.ports import Inbox, Outbox
from orderkit.testing._contract_base import START, Barrier, StoreContract
from orderkit.testing._contract_base import WEIRD_NAMES as _WEIRD


_LEASE = dt.timedelta(seconds=30)
_TICK = dt.timedelta(microseconds=1)
_DY1 = order_stream("douyin", "DY-1001")
_DY2 = order_stream("douyin", "DY-1002")
_TB1 = order_stream("taobao", "TB-88")


def _message(
    message_id: str, stream: str = _DY1, topic: str = "milestone"
) -> OutboxMessage:
    payload = f'{{"message":"{message_id}"}}'.encode()
    return OutboxMessage(
        message_id=message_id,
        stream=stream,
        topic=topic,
        payload=payload,
        created_at=START,
    )


def _ids(messages: object) -> list[str]:
    return [m.message_id for m in messages]  # type: ignore[attr-defined]


def _seen_race(message_id: str, factory: Callable[[], Inbox], barrier: Barrier) -> bool:
    """Deliver `message_id` to one consumer once, at the start; say if it was seen."""
    inbox = factory()
    barrier.wait(timeout=120)
    return inbox.seen("notifier", message_id, now=START)


def _claim_race(
    relay: str, limit: int, factory: Callable[[], Outbox], barrier: Barrier
) -> list[tuple[str, str]]:
    """Claim once, at the contract's start; return `(message_id, stream)` pairs."""
    outbox = factory()
    barrier.wait(timeout=120)
    claimed = outbox.claim(relay=relay, now=START, lease=_LEASE, limit=limit)
    return [(m.message_id, m.stream) for m in claimed]


class OutboxContract(StoreContract[Outbox]):
    """Every rule of `orderkit.ports.Outbox` and `Inbox`, over `make_store()`.

    Subclass it in a test module (its name must start with `Test` for
    pytest to collect it), implement `make_store` (an outbox) and
    `make_inbox` (an inbox, perhaps on the same backend); the hooks
    `connect`, `break_store` and `dispose` are described on `StoreContract`.

    .. versionadded:: 0.1.0
    """

    @abc.abstractmethod
    def make_inbox(self) -> Inbox:
        """Return a new, empty inbox (disposed of with `dispose`)."""

    @pytest.fixture
    def inbox(self) -> Any:  # noqa: ANN401 - the subclass's own inbox type
        """A fresh inbox from `make_inbox`, disposed of after the test."""
        inbox = self.make_inbox()
        yield inbox
        self.dispose(inbox)  # type: ignore[arg-type]

    # adding

    def test_added_messages_wait_in_order(self, store: Outbox) -> None:
        """Unsent messages read back oldest first, verbatim."""
        messages = [_message("m1"), _message("m2", _TB1), _message("m3")]
        store.add(messages[:2])
        store.add(messages[2:])
        assert list(store.unsent()) == messages
        assert _ids(store.unsent(limit=2)) == ["m1", "m2"]

    def test_adding_again_is_harmless(self, store: Outbox) -> None:
        """A retried change re-adds its messages: nothing new is stored."""
        store.add([_message("m1"), _message("m2")])
        store.add([_message("m2"), _message("m1"), _message("m3")])
        assert _ids(store.unsent()) == ["m1", "m2", "m3"]

    def test_a_different_message_under_a_stored_id_conflicts(
        self, store: Outbox
    ) -> None:
        """Two changes naming one message: the call is refused whole."""
        store.add([_message("m1")])
        with pytest.raises(ConcurrencyConflict) as error:
            store.add([_message("m2"), _message("m1", topic="sellable")])
        assert error.value.what == "message:m1"
        assert _ids(store.unsent()) == ["m1"]

    def test_weird_ids_and_streams_are_data(self, store: Outbox) -> None:
        """Quotes, SQL, emoji and Chinese keep their messages apart."""
        messages = [_message(name, stream=name) for name in _WEIRD]
        store.add(messages)
        assert list(store.unsent()) == messages
        claimed = store.claim(relay="relay-1", now=START, lease=_LEASE)
        assert list(claimed) == messages

    def test_streams_as_long_as_allowed_keep_their_order(self, store: Outbox) -> None:
        """Streams of `MAX_STREAM_LENGTH` characters of 4 UTF-8 bytes each.

        Two of them differing in their last character only are two streams:
        a lease on one never holds the other back.
        """
        draw = random.Random(5)  # noqa: S311 - test data, not secrecy
        head = "sku:" + "".join(
            chr(draw.randint(0x20000, 0x2A6DF)) for _ in range(MAX_STREAM_LENGTH - 5)
        )
        first, second = head + "A", head + "B"
        messages = [
            _message("m1", stream=first),
            _message("m2", stream=second),
            _message("m3", stream=first),
        ]
        store.add(messages)
        assert list(store.unsent()) == messages
        assert _ids(store.claim(relay="relay-1", now=START, lease=_LEASE, limit=1)) == [
            "m1"
        ]
        assert _ids(store.claim(relay="relay-2", now=START, lease=_LEASE)) == ["m2"]
        assert store.mark_sent(["m1"], relay="relay-1", now=START) == 1
        assert _ids(store.claim(relay="relay-2", now=START, lease=_LEASE)) == ["m3"]

    # claiming

    def test_a_claim_leases_oldest_first(self, store: Outbox) -> None:
        """Claimed messages are not handed out again while the lease lives."""
        store.add([_message("m1"), _message("m2", _TB1), _message("m3", _DY2)])
        first = store.claim(relay="relay-1", now=START, lease=_LEASE, limit=2)
        assert _ids(first) == ["m1", "m2"]
        second = store.claim(relay="relay-2", now=START, lease=_LEASE)
        assert _ids(second) == ["m3"]
        assert (
            _ids(store.claim(relay="relay-3", now=START + _LEASE - _TICK, lease=_LEASE))
            == []
        )

    def test_a_stream_goes_in_order(self, store: Outbox) -> None:
        """A later message waits while an earlier one of its stream is leased."""
        store.add([_message("m1"), _message("m2"), _message("m3", _TB1)])
        assert _ids(store.claim(relay="relay-1", now=START, lease=_LEASE, limit=1)) == [
            "m1"
        ]
        # m2 must wait for m1; the other stream goes on.
        assert _ids(store.claim(relay="relay-2", now=START, lease=_LEASE)) == ["m3"]
        assert _ids(store.claim(relay="relay-1", now=START, lease=_LEASE)) == []
        assert store.mark_sent(["m1"], relay="relay-1", now=START) == 1
        assert _ids(store.claim(relay="relay-2", now=START, lease=_LEASE)) == ["m2"]

    def test_a_relay_dying_holding_a_lease(self, store: Outbox) -> None:
        """The messages come back when the lease ends, in order, to another relay."""
        store.add([_message("m1"), _message("m2"), _message("m3", _TB1)])
        assert len(store.claim(relay="relay-1", now=START, lease=_LEASE)) == 3
        # relay-1 dies here, holding everything.
        assert (
            _ids(store.claim(relay="relay-2", now=START + _LEASE - _TICK, lease=_LEASE))
            == []
        )
        later = START + _LEASE
        assert _ids(store.claim(relay="relay-2", now=later, lease=_LEASE)) == [
            "m1",
            "m2",
            "m3",
        ]
        # relay-1 comes back to life: its marks no longer count.
        assert store.mark_sent(["m1", "m2"], relay="relay-1", now=later) == 0
        assert store.mark_sent(["m1", "m2", "m3"], relay="relay-2", now=later) == 3
        assert _ids(store.unsent()) == []

    def test_a_late_mark_counts_while_no_one_took_over(self, store: Outbox) -> None:
        """A slow relay's publishing stands if its lease ended but none reclaimed."""
        store.add([_message("m1")])
        store.claim(relay="relay-1", now=START, lease=_LEASE)
        assert store.mark_sent(["m1"], relay="relay-1", now=START + 2 * _LEASE) == 1
        assert (
            _ids(store.claim(relay="relay-2", now=START + 3 * _LEASE, lease=_LEASE))
            == []
        )

    def test_marking_is_harmless_to_repeat(self, store: Outbox) -> None:
        """Sent, unknown or unclaimed ids are left alone."""
        store.add([_message("m1"), _message("m2", _TB1)])
        store.claim(relay="relay-1", now=START, lease=_LEASE, limit=1)
        assert store.mark_sent(["m1", "m1"], relay="relay-1", now=START) == 1
        assert store.mark_sent(["m1", "m2", "ghost"], relay="relay-1", now=START) == 0
        assert _ids(store.unsent()) == ["m2"]

    def test_unsent_lists_leased_messages_until_they_are_sent(
        self, store: Outbox
    ) -> None:
        """Claimed or not, a message is unsent until marked; then it is not.

        A store that keeps each message's state beside it (a column, an
        index) to list the unsent ones writes it on every claim and mark,
        not when the message is added alone.
        """
        messages = [_message("m1"), _message("m2", _TB1), _message("m3", _DY2)]
        store.add(messages)
        store.claim(relay="relay-1", now=START, lease=_LEASE, limit=2)
        assert list(store.unsent()) == messages
        assert store.mark_sent(["m2"], relay="relay-1", now=START) == 1
        assert _ids(store.unsent()) == ["m1", "m3"]
        assert _ids(store.unsent(limit=1)) == ["m1"]
        later = START + _LEASE
        assert _ids(store.claim(relay="relay-2", now=later, lease=_LEASE)) == [
            "m1",
            "m3",
        ]
        assert _ids(store.unsent()) == ["m1", "m3"]
        assert store.mark_sent(["m1", "m3"], relay="relay-2", now=later) == 2
        assert list(store.unsent()) == []

    def test_a_sent_message_is_never_claimed(self, store: Outbox) -> None:
        """Once sent, a message is out of the queue for good."""
        store.add([_message("m1")])
        store.claim(relay="relay-1", now=START, lease=_LEASE)
        store.mark_sent(["m1"], relay="relay-1", now=START)
        store.add([_message("m1")])
        assert (
            _ids(store.claim(relay="relay-1", now=START + 9 * _LEASE, lease=_LEASE))
            == []
        )

    # pruning

    def test_prune_deletes_only_what_was_sent_before(self, store: Outbox) -> None:
        """Unsent and recently sent messages stay; a pruned id is new again."""
        store.add([_message("m1"), _message("m2", _TB1), _message("m3", _DY2)])
        store.claim(relay="relay-1", now=START, lease=_LEASE, limit=2)
        store.mark_sent(["m1"], relay="relay-1", now=START)
        store.mark_sent(["m2"], relay="relay-1", now=START + _LEASE)
        assert store.prune(START + _TICK) == 1
        assert store.prune(START + _TICK) == 0
        assert _ids(store.unsent()) == ["m3"]
        store.add([_message("m1", topic="resent")])
        assert _ids(store.unsent()) == ["m3", "m1"]

    # at least once, and the inbox

    def test_at_least_once_with_the_inbox_dropping_repeats(
        self, store: Outbox, inbox: Inbox
    ) -> None:
        """A relay dies after publishing; the redelivery is dropped by the consumer."""
        store.add([_message("m1"), _message("m2")])
        acted: list[str] = []

        def deliver(message: OutboxMessage, now: dt.datetime) -> None:
            if not inbox.seen("notifier", message.message_id, now=now):
                acted.append(message.message_id)

        for message in store.claim(relay="relay-1", now=START, lease=_LEASE, limit=1):
            deliver(message, START)
        # relay-1 dies before marking m1 sent.
        later = START + _LEASE
        claimed = store.claim(relay="relay-2", now=later, lease=_LEASE)
        assert _ids(claimed) == ["m1", "m2"]
        for message in claimed:
            deliver(message, later)
        store.mark_sent(_ids(claimed), relay="relay-2", now=later)
        assert acted == ["m1", "m2"]
        assert _ids(store.unsent()) == []

    def test_the_inbox_keeps_consumers_apart(self, inbox: Inbox) -> None:
        """One consumer's deliveries never count for another."""
        assert inbox.seen("notifier", "m1", now=START) is False
        assert inbox.seen("notifier", "m1", now=START) is True
        assert inbox.seen("warehouse", "m1", now=START) is False
        for name in _WEIRD:
            assert inbox.seen(name, name, now=START) is False
            assert inbox.seen(name, name, now=START) is True

    def connect_inbox(self, inbox: Inbox) -> Callable[[], Inbox] | None:  # noqa: ARG002 - a hook for subclasses
        """Return a picklable factory opening `inbox` again in another process.

        `None` (the default) races threads on `inbox` itself.
        """
        return None

    def test_racers_delivering_one_message_get_exactly_one_false(
        self, inbox: Inbox
    ) -> None:
        """Of racers delivering one message to one consumer, exactly one acts."""
        for round_ in range(3):
            racers = [
                functools.partial(_seen_race, f"m{round_}")
                for _ in range(self.race_workers)
            ]
            seen = self._race_with(inbox, racers, self.connect_inbox(inbox))
            assert sorted(seen) == [False] + [True] * (self.race_workers - 1), seen

    def test_the_inbox_forgets_what_it_prunes(self, inbox: Inbox) -> None:
        """Deliveries recorded before the cutoff are forgotten; later ones kept."""
        inbox.seen("notifier", "m1", now=START)
        inbox.seen("notifier", "m2", now=START + _LEASE)
        assert inbox.prune(START + _TICK) == 1
        assert inbox.seen("notifier", "m1", now=START + _LEASE) is False
        assert inbox.seen("notifier", "m2", now=START + _LEASE) is True

    @pytest.mark.parametrize(
        ("consumer", "message_id", "now", "field"),
        [
            ("", "m1", START, "consumer"),
            ("notifier", "\n", START, "message_id"),
            ("notifier", "m" * 256, START, "message_id"),
            ("notifier", "m1", dt.datetime(2026, 11, 11), "now"),  # noqa: DTZ001 - naive
        ],
    )
    def test_the_inbox_names_bad_input_and_records_nothing(
        self, inbox: Inbox, consumer: str, message_id: str, now: dt.datetime, field: str
    ) -> None:
        """Bad text or a naive time is a typed error, and no delivery is recorded."""
        with pytest.raises(ValidationError) as error:
            inbox.seen(consumer, message_id, now=now)
        assert error.value.field == field
        assert inbox.prune(START.add(years=1)) == 0

    # bad input

    @pytest.mark.parametrize(
        ("call", "field"),
        [
            pytest.param(lambda s: s.add(_message("m2")), "messages", id="one-message"),
            pytest.param(lambda s: s.add(["m2"]), "messages[0]", id="not-message"),
            pytest.param(
                lambda s: s.add([_message("m2"), None]), "messages[1]", id="none"
            ),
            pytest.param(
                lambda s: s.claim(relay="", now=START, lease=_LEASE),
                "relay",
                id="relay",
            ),
            pytest.param(
                lambda s: s.claim(relay="r", now=START.naive(), lease=_LEASE),
                "now",
                id="naive-now",
            ),
            pytest.param(
                lambda s: s.claim(relay="r", now=START, lease=dt.timedelta(0)),
                "lease",
                id="zero-lease",
            ),
            pytest.param(
                lambda s: s.claim(relay="r", now=START, lease=30), "lease", id="int"
            ),
            pytest.param(
                lambda s: s.claim(relay="r", now=START, lease=_LEASE, limit=0),
                "limit",
                id="zero-limit",
            ),
            pytest.param(
                lambda s: s.mark_sent("m1", relay="r", now=START),
                "message_ids",
                id="str-ids",
            ),
            pytest.param(
                lambda s: s.mark_sent([""], relay="r", now=START),
                "message_ids[0]",
                id="empty-id",
            ),
            pytest.param(
                lambda s: s.mark_sent(["m1"], relay="r\n", now=START),
                "relay",
                id="control-relay",
            ),
            pytest.param(lambda s: s.unsent(limit=-1), "limit", id="unsent-limit"),
            pytest.param(lambda s: s.prune(START.naive()), "before", id="naive"),
        ],
    )
    def test_bad_input_names_its_argument_and_changes_nothing(
        self,
        store: Outbox,
        call: Callable[[Any], object],
        field: str,
    ) -> None:
        """Each bad argument raises a ValidationError naming it; nothing changes."""
        store.add([_message("m1")])
        with pytest.raises(ValidationError) as error:
            call(store)
        assert error.value.field == field
        assert _ids(store.unsent()) == ["m1"]
        assert _ids(store.claim(relay="relay-1", now=START, lease=_LEASE)) == ["m1"]

    def test_messages_refuse_bad_fields(self) -> None:
        """An outbox message validates itself, naming the field."""
        good: dict[str, Any] = {
            "message_id": "m1",
            "stream": _DY1,
            "topic": "milestone",
            "payload": b"{}",
            "created_at": START,
        }
        for field, value in [
            ("message_id", ""),
            ("message_id", "m" * 256),
            ("stream", "s\x00"),
            ("topic", 7),
            ("payload", "{}"),
            ("created_at", START.naive()),
        ]:
            with pytest.raises(ValidationError) as error:
                OutboxMessage(**{**good, field: value})
            assert error.value.field == field

    def test_driver_failures_become_store_errors(self, store: Outbox) -> None:
        """A failing backend raises StoreError with the driver's error as cause."""
        store.add([_message("m1")])
        if not self.break_store(store):
            pytest.skip("this store has no backend that can fail")
        with pytest.raises(StoreError) as error:
            store.claim(relay="relay-1", now=START, lease=_LEASE)
        assert error.value.__cause__ is not None
        with pytest.raises(StoreError) as error:
            store.add([_message("m2")])
        assert error.value.__cause__ is not None

    # concurrency

    def test_racing_relays_never_share_a_message_or_a_stream(
        self, store: Outbox
    ) -> None:
        """Relays claiming at once: each message to one relay, each stream too."""
        streams = [order_stream("douyin", f"DY-{n}") for n in range(4)]
        store.add(
            [
                _message(f"m{i}", streams[i % len(streams)])
                for i in range(4 * self.race_workers)
            ]
        )
        racers = [
            functools.partial(_claim_race, f"relay-{i}", 3)
            for i in range(self.race_workers)
        ]
        results = self._race(store, racers)
        claimed = [message_id for result in results for message_id, _ in result]
        assert len(claimed) == len(set(claimed)), results
        owners: dict[str, int] = {}
        for n, result in enumerate(results):
            for _, stream in result:
                assert owners.setdefault(stream, n) == n, results
        # Each relay took the oldest messages it could, in order.
        for result in results:
            numbers = [int(message_id[1:]) for message_id, _ in result]
            assert numbers == sorted(numbers)
