"""The Idempotency service: run once, replay the first outcome, and incident 1."""

from __future__ import annotations

import collections
import concurrent.futures
import datetime as dt
import json
import random
import threading
import time
import uuid
from collections.abc import Callable
from typing import Any

import attrs
import pendulum
import pytest

from orderkit.adapters.memory import MemoryKeyStore
from orderkit.dedupe import Claimed, IdempotencyKey, Outcome, request_hash
from orderkit.errors import (
    ConcurrencyConflict,
    IdempotencyConflict,
    KeyInProgress,
    StoreError,
    ValidationError,
)
from orderkit.money import Money
from orderkit.orders import PaymentCaptured
from orderkit.services import (
    DEFAULT_KEY_LEASE,
    DEFAULT_KEY_RETENTION,
    Idempotency,
    Reply,
)
from orderkit.testing import FrozenClock


T0 = pendulum.datetime(2026, 11, 11, 0, 0)
KEY = IdempotencyKey("douyin", "payment", "DY-1001", "evt-7781")
HASH = "6d0eb1fc958f31f103bc750926d365baa98e67921de10991715f2837aa3e4406"
PICKED = Outcome(succeeded=True, body=b'{"order":"DY-1001","status":"picking"}')
DECLINED = Outcome(succeeded=False, body=b'{"error":"card_declined"}\xff\x00')


@pytest.fixture
def store() -> MemoryKeyStore:
    return MemoryKeyStore()


@pytest.fixture
def once(store: MemoryKeyStore, clock: FrozenClock) -> Idempotency:
    return Idempotency(store, clock)


class Counted:
    """A request that counts its runs and returns a fixed outcome."""

    def __init__(self, outcome: Outcome = PICKED) -> None:
        self.outcome = outcome
        self.runs = 0

    def __call__(self) -> Outcome:
        self.runs += 1
        return self.outcome


def is_free(store: MemoryKeyStore, key: str) -> bool:
    """Nothing stored under `key`: a claim for any request is granted."""
    probe = store.claim(
        key, uuid.uuid4().hex, now=T0.add(years=1), lease=DEFAULT_KEY_LEASE
    )
    return isinstance(probe, Claimed) and probe.attempt == 1


class TestRunOnce:
    """The first run executes; every repeat replays its outcome."""

    def test_the_second_delivery_replays_the_first_outcome(
        self, once: Idempotency
    ) -> None:
        pick = Counted()
        first = once.run(KEY, HASH, pick)
        again = once.run(KEY, HASH, pick)
        assert first == Reply(PICKED, replayed=False)
        assert again == Reply(PICKED, replayed=True)
        assert pick.runs == 1

    def test_a_key_and_its_text_are_one_key(self, once: Idempotency) -> None:
        pick = Counted()
        once.run(KEY, HASH, pick)
        assert once.run(str(KEY), HASH, pick).replayed
        assert pick.runs == 1

    def test_a_failure_is_replayed_byte_for_byte(self, once: Idempotency) -> None:
        charge = Counted(DECLINED)
        first = once.run(KEY, HASH, charge)
        again = once.run(KEY, HASH, charge)
        assert again.outcome.body == DECLINED.body
        assert not again.outcome.succeeded
        assert (first.replayed, again.replayed, charge.runs) == (False, True, 1)

    def test_another_request_under_the_key_conflicts(self, once: Idempotency) -> None:
        pick = Counted()
        once.run(KEY, HASH, pick)
        with pytest.raises(IdempotencyConflict) as error:
            once.run(KEY, "another-hash", pick)
        assert error.value.key == str(KEY)
        assert pick.runs == 1

    def test_defaults_cover_a_crash_and_a_week_of_retries(self) -> None:
        assert (DEFAULT_KEY_LEASE, DEFAULT_KEY_RETENTION) == (
            dt.timedelta(seconds=30),
            dt.timedelta(days=7),
        )


class TestRefusals:
    """A request refused before it ran stores nothing, and its key stays free."""

    def test_a_validation_error_in_the_call_stores_nothing(
        self, once: Idempotency
    ) -> None:
        def refuse() -> Outcome:
            raise ValidationError("amount", "-199.00", "must be more than zero")

        with pytest.raises(ValidationError) as error:
            once.run(KEY, "hash-of-the-bad-request", refuse)
        assert error.value.field == "amount"
        pick = Counted()
        assert not once.run(KEY, HASH, pick).replayed  # no conflict: nothing kept
        assert pick.runs == 1

    def test_a_failing_abandon_never_hides_the_refusal(
        self, store: MemoryKeyStore, clock: FrozenClock
    ) -> None:
        class AbandonFails:
            """The store, with a storage failure injected into `abandon`."""

            def __init__(self, inner: MemoryKeyStore) -> None:
                self.claim = inner.claim
                self.complete = inner.complete
                self.prune = inner.prune

            def abandon(self, key: str, token: str) -> bool:
                raise StoreError(
                    "sqlite", "abandon", f"disk I/O error ({key}, {token})"
                )

        def refuse() -> Outcome:
            raise ValidationError("amount", "-199.00", "must be more than zero")

        once = Idempotency(AbandonFails(store), clock)
        with pytest.raises(ValidationError) as error:
            once.run(KEY, HASH, refuse)
        assert "kept until its lease" in "".join(error.value.__notes__)
        with pytest.raises(KeyInProgress):  # the claim ends with its lease
            once.run(KEY, HASH, Counted())

    def test_a_call_returning_no_outcome_keeps_its_claim_until_the_lease(
        self, once: Idempotency, clock: FrozenClock
    ) -> None:
        # The call ran (and may have charged a card) before it returned the
        # wrong thing: a retry must not run it again while the lease holds.
        bogus: Callable[[], Any] = lambda: b"picked"  # noqa: E731 - a deliberately wrong call
        with pytest.raises(ValidationError) as error:
            once.run(KEY, HASH, bogus)
        assert error.value.field == "outcome"
        again = Counted()
        with pytest.raises(KeyInProgress):
            once.run(KEY, HASH, again)
        assert again.runs == 0
        clock.advance(seconds=31)
        assert not once.run(KEY, HASH, again).replayed
        assert again.runs == 1

    @pytest.mark.parametrize(
        ("key", "request_hash_", "field"),
        [
            pytest.param("k" * 256, HASH, "key", id="256-chars"),
            pytest.param("", HASH, "key", id="empty-key"),
            pytest.param(7781, HASH, "key", id="int-key"),
            pytest.param(str(KEY), "", "request_hash", id="empty-hash"),
        ],
    )
    def test_bad_input_names_the_field_and_runs_nothing(
        self,
        once: Idempotency,
        store: MemoryKeyStore,
        key: Any,
        request_hash_: str,
        field: str,
    ) -> None:
        pick = Counted()
        with pytest.raises(ValidationError) as error:
            once.run(key, request_hash_, pick)
        assert error.value.field == field
        assert pick.runs == 0
        assert is_free(store, str(KEY))
        assert is_free(store, "k" * 255)

    def test_a_255_character_key_is_fine(self, once: Idempotency) -> None:
        pick = Counted()
        once.run("礼" * 255, HASH, pick)
        assert once.run("礼" * 255, HASH, pick).replayed

    @pytest.mark.parametrize(
        ("setting", "value"),
        [
            ("lease", dt.timedelta(0)),
            ("lease", dt.timedelta(seconds=-30)),
            ("retention", dt.timedelta(0)),
            ("retention", 7),
        ],
    )
    def test_bad_settings_are_refused(
        self, store: MemoryKeyStore, clock: FrozenClock, setting: str, value: Any
    ) -> None:
        with pytest.raises(ValidationError) as error:
            Idempotency(store, clock, **{setting: value})
        assert error.value.field == setting


class TestInProgress:
    """A duplicate that arrives while the first run is going runs nothing."""

    def test_a_duplicate_during_the_run_is_told_to_retry(
        self, once: Idempotency
    ) -> None:
        seen: list[KeyInProgress] = []

        def pick() -> Outcome:
            with pytest.raises(KeyInProgress) as error:
                once.run(KEY, HASH, Counted())
            seen.append(error.value)
            return PICKED

        assert not once.run(KEY, HASH, pick).replayed
        (error,) = seen
        assert (error.key, error.until) == (str(KEY), T0.add(seconds=30))
        assert str(KEY) in str(error)
        assert "2026-11-11T00:00:30" in str(error)
        assert once.run(KEY, HASH, Counted()).replayed

    def test_threads_racing_one_key_run_it_once(self, once: Idempotency) -> None:
        started, release = threading.Event(), threading.Event()
        runs = collections.Counter[str]()

        def slow_pick() -> Outcome:
            runs["pick"] += 1
            started.set()
            release.wait(timeout=10)
            return PICKED

        def deliver() -> str:
            try:
                return "replayed" if once.run(KEY, HASH, slow_pick).replayed else "ran"
            except KeyInProgress:
                return "in progress"

        with concurrent.futures.ThreadPoolExecutor(8) as pool:
            first = pool.submit(deliver)
            started.wait(timeout=10)
            duplicates = [pool.submit(deliver) for _ in range(16)]
            told = [d.result() for d in duplicates]
            release.set()
            assert first.result() == "ran"
        assert told == ["in progress"] * 16
        assert runs == {"pick": 1}

    def test_an_interrupted_run_keeps_the_key_until_its_lease_ends(
        self, once: Idempotency, clock: FrozenClock
    ) -> None:
        def interrupted() -> Outcome:
            raise KeyboardInterrupt

        with pytest.raises(KeyboardInterrupt):
            once.run(KEY, HASH, interrupted)
        with pytest.raises(KeyInProgress):
            once.run(KEY, HASH, Counted())
        clock.advance(seconds=30)
        assert not once.run(KEY, HASH, Counted()).replayed


class TestLeases:
    """A crashed run's claim is taken over after its lease; completed runs never."""

    def test_a_crashed_claim_is_taken_over_after_the_lease(
        self, once: Idempotency, store: MemoryKeyStore, clock: FrozenClock
    ) -> None:
        crashed = store.claim(str(KEY), HASH, now=clock.now(), lease=DEFAULT_KEY_LEASE)
        assert isinstance(crashed, Claimed)
        clock.advance(seconds=29)
        pick = Counted()
        with pytest.raises(KeyInProgress):
            once.run(KEY, HASH, pick)
        clock.advance(seconds=1)
        assert once.run(KEY, HASH, pick) == Reply(PICKED, replayed=False)
        with pytest.raises(ConcurrencyConflict):
            store.complete(str(KEY), crashed.token, DECLINED, now=clock.now())
        assert once.run(KEY, HASH, pick).outcome == PICKED
        assert pick.runs == 1

    def test_what_completed_is_never_run_again(
        self, once: Idempotency, clock: FrozenClock
    ) -> None:
        pick = Counted()
        once.run(KEY, HASH, pick)
        clock.advance(days=6, hours=23)
        assert once.run(KEY, HASH, pick).replayed
        assert pick.runs == 1

    def test_a_run_that_outlasts_its_lease_loses_the_key(
        self, store: MemoryKeyStore, clock: FrozenClock
    ) -> None:
        once = Idempotency(store, clock, lease=dt.timedelta(seconds=5))
        taken: list[Claimed] = []

        def too_slow() -> Outcome:
            clock.advance(seconds=6)
            claim = store.claim(
                str(KEY), HASH, now=clock.now(), lease=DEFAULT_KEY_LEASE
            )
            assert isinstance(claim, Claimed)
            taken.append(claim)
            return PICKED

        with pytest.raises(ConcurrencyConflict):
            once.run(KEY, HASH, too_slow)
        assert taken[0].attempt == 2
        store.complete(str(KEY), taken[0].token, DECLINED, now=clock.now())
        assert once.run(KEY, HASH, Counted()) == Reply(DECLINED, replayed=True)


class TestRetention:
    """Keys are kept for the configured retention, then pruned."""

    def test_prune_uses_the_configured_retention(
        self, store: MemoryKeyStore, clock: FrozenClock
    ) -> None:
        once = Idempotency(store, clock, retention=dt.timedelta(days=3))
        once.run(KEY, HASH, Counted())
        clock.advance(days=2, hours=23)
        assert once.prune() == 0
        assert once.run(KEY, HASH, Counted()).replayed
        clock.advance(hours=1)
        assert once.prune() == 1
        pick = Counted()
        assert not once.run(KEY, "a-new-request", pick).replayed
        assert pick.runs == 1


# --------------------------------------------------------------------------
# Incident 1: a platform re-sent "payment succeeded" during network jitter.

ORDERS = 12_000
RESENDS = 47
SEVEN_MINUTES = dt.timedelta(minutes=7)


@attrs.frozen
class Storm:
    """The callbacks of the incident, in the order they arrived."""

    events: list[PaymentCaptured]
    deliveries: list[dict[str, Any]]
    resent: frozenset[str]


def _event_fields(i: int) -> dict[str, Any]:
    order_id = f"DY-{100_000 + i}"
    return {
        "order_id": order_id,
        "key": IdempotencyKey("douyin", "payment", order_id, f"evt-{7_000_000 + i}"),
        "occurred_at": T0.add(microseconds=i * 30_000),
        "payment_id": f"PAY-{880_000 + i}",
        "amount": Money(f"{99 + i % 400}.{i % 100:02d}", "CNY"),
    }


def _envelope(event: PaymentCaptured, received_at: pendulum.DateTime) -> dict[str, Any]:
    return {"delivery_id": uuid.uuid4().hex, "received_at": received_at, "event": event}


@pytest.fixture(scope="module")
def storm() -> Storm:
    rng = random.Random(1111)  # noqa: S311 - a reproducible test, not a secret
    events = [PaymentCaptured(**_event_fields(i)) for i in range(ORDERS)]
    deliveries = [_envelope(e, T0) for e in events]
    resent = rng.sample(range(ORDERS), RESENDS)
    for i in resent:
        # Parsed again from the re-sent JSON: fields in another order, a new
        # envelope; the same canonical event.
        again = PaymentCaptured(**dict(reversed(_event_fields(i).items())))
        at = rng.randrange(i + 1, len(deliveries) + 1)
        deliveries.insert(at, _envelope(again, T0))
    step = SEVEN_MINUTES / len(deliveries)
    for n, delivery in enumerate(deliveries):
        delivery["received_at"] = T0 + step * n
    return Storm(events, deliveries, frozenset(events[i].order_id for i in resent))


class PaymentWebhook:
    """The host's handler: dedupe by the event's key, hash the canonical event."""

    def __init__(self, once: Idempotency) -> None:
        self.once = once
        self.picks = collections.Counter[str]()
        self._lock = threading.Lock()

    def __call__(self, delivery: dict[str, Any]) -> Reply:
        event: PaymentCaptured = delivery["event"]

        def start_picking() -> Outcome:
            with self._lock:
                self.picks[event.order_id] += 1
            body = {
                "order_id": event.order_id,
                "status": "picking",
                "delivery_id": delivery["delivery_id"],
            }
            return Outcome(succeeded=True, body=json.dumps(body).encode())

        return self.once.run(event.key, request_hash(event), start_picking)


class TestPaymentCallbackStorm:
    """12,047 callbacks in seven minutes for 12,000 orders, 47 of them re-sends."""

    def test_each_order_is_picked_once_and_resends_are_absorbed(
        self, storm: Storm, store: MemoryKeyStore, clock: FrozenClock
    ) -> None:
        assert len(storm.deliveries) == ORDERS + RESENDS
        webhook = PaymentWebhook(Idempotency(store, clock))
        first: dict[str, Reply] = {}
        replays: list[tuple[str, Reply]] = []
        for delivery in storm.deliveries:
            clock.set(delivery["received_at"])
            reply = webhook(delivery)
            order_id = delivery["event"].order_id
            if reply.replayed:
                replays.append((order_id, reply))
            else:
                first[order_id] = reply
        assert clock.now() - T0 < SEVEN_MINUTES
        assert len(first) == ORDERS  # 12,000 applied
        assert len(replays) == RESENDS  # 47 duplicates absorbed
        assert set(webhook.picks.values()) == {1}  # nothing executed twice
        assert sum(webhook.picks.values()) == ORDERS
        assert {order_id for order_id, _ in replays} == storm.resent
        for order_id, reply in replays:
            assert reply.outcome == first[order_id].outcome  # the first body, bytes

    def test_a_resend_with_a_changed_amount_conflicts(
        self, storm: Storm, store: MemoryKeyStore, clock: FrozenClock
    ) -> None:
        webhook = PaymentWebhook(Idempotency(store, clock))
        for delivery in storm.deliveries[:100]:
            webhook(delivery)
        original = storm.deliveries[0]["event"]
        tampered = attrs.evolve(original, amount=original.amount * 10)
        with pytest.raises(IdempotencyConflict) as error:
            webhook(_envelope(tampered, clock.now()))
        assert error.value.key == str(original.key)
        assert webhook.picks[original.order_id] == 1

    def test_a_pool_of_webhook_workers_picks_each_order_once(
        self, storm: Storm, store: MemoryKeyStore, clock: FrozenClock
    ) -> None:
        webhook = PaymentWebhook(Idempotency(store, clock))

        def deliver(delivery: dict[str, Any]) -> bool:
            # The channel retries a 409 "in progress" until it gets a reply.
            for _ in range(1000):
                try:
                    return webhook(delivery).replayed
                except KeyInProgress:
                    time.sleep(0.001)
            raise AssertionError(delivery)

        with concurrent.futures.ThreadPoolExecutor(4) as pool:
            replayed = list(pool.map(deliver, storm.deliveries, chunksize=64))
        assert replayed.count(True) == RESENDS
        assert sum(webhook.picks.values()) == ORDERS
        assert set(webhook.picks.values()) == {1}
