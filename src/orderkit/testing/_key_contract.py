"""The key store contract: every rule of `KeyStore` (Stripe's idempotency) as tests."""

from __future__ import annotations

import datetime as dt
import functools
import uuid
from collections.abc import Callable, Sequence
from typing import Any

import pendulum
import pytest

from orderkit.dedupe import Claimed, InProgress, Outcome, Replay
from orderkit.errors import (
    ConcurrencyConflict,
    IdempotencyConflict,
    NaiveDatetime,
    StoreError,
    ValidationError,
)
from orderkit.ports import KeyStore
from orderkit.services import Idempotency
from orderkit.testing._clock import FrozenClock
from orderkit.testing._contract_base import START as _START
from orderkit.testing._contract_base import WEIRD_NAMES as _WEIRD
from orderkit.testing._contract_base import Barrier, StoreContract


_KEY = "douyin:payment:DY-1001:evt-7781"
_HASH = "sha256-of-the-canonical-event"
_OTHER_HASH = "sha256-of-another-event"
_LEASE = dt.timedelta(seconds=30)
_PAID = Outcome(succeeded=True, body=b'{"order":"DY-1001","status":"paid"}')
_DECLINED = Outcome(succeeded=False, body=b'{"error":"card_declined","code":402}')
_BODIES = [
    b"",
    bytes(range(256)),
    "支付成功 🎁\r\n".encode(),
    b"\x00\xff\xfe{not json",
    bytes(range(256)) * 1024,
]


def _claim_race(
    keys: Sequence[str],
    start: dt.datetime,
    factory: Callable[[], KeyStore],
    barrier: Barrier,
) -> list[tuple[str, str]]:
    """Claim every key once, completing every other key won; say what each got."""
    store = factory()
    barrier.wait(timeout=120)
    found = []
    for key in keys:
        claim = store.claim(key, _HASH, now=start, lease=_LEASE)
        if isinstance(claim, Claimed):
            if int(key.rpartition("-")[2]) % 2 == 0:
                store.complete(key, claim.token, _won(key), now=start)
            found.append((key, "claimed"))
        elif isinstance(claim, Replay):
            found.append((key, "replay" if claim.outcome == _won(key) else "wrong"))
        else:
            found.append((key, "in_progress"))
    return found


def _won(key: str) -> Outcome:
    return Outcome(succeeded=True, body=f"won {key}".encode())


class KeyStoreContract(StoreContract[KeyStore]):
    """Every rule of `orderkit.ports.KeyStore`, as tests over `make_store()`.

    Subclass it in a test module (its name must start with `Test` for
    pytest to collect it) and implement `make_store`; the hooks `connect`,
    `break_store` and `dispose` are described on `StoreContract`.

    .. versionadded:: 0.1.0
    """

    race_keys: int = 200
    """Keys every racer claims, each in its own order."""

    # helpers

    @staticmethod
    def claimed(
        store: KeyStore, key: str, now: dt.datetime, request_hash: str = _HASH
    ) -> Claimed:
        """Claim `key` for a request and insist it was granted."""
        claim = store.claim(key, request_hash, now=now, lease=_LEASE)
        assert isinstance(claim, Claimed), claim
        return claim

    @staticmethod
    def is_free(store: KeyStore, key: str, now: dt.datetime) -> bool:
        """Whether nothing is stored under `key`: a claim for any request wins.

        Claims the key for a throwaway request, then abandons that claim.
        """
        try:
            probe = store.claim(key, f"probe-{uuid.uuid4().hex}", now=now, lease=_LEASE)
        except IdempotencyConflict:
            return False
        if not isinstance(probe, Claimed) or probe.attempt != 1:
            return False
        assert store.abandon(key, probe.token)
        return True

    def assert_empty(self, store: KeyStore, now: dt.datetime) -> None:
        """Assert that nothing is stored under the keys the bad input named."""
        for key in (_KEY, "k" * 255, "礼" * 255):
            assert self.is_free(store, key, now), key

    # claiming, completing, replaying

    def test_a_first_claim_is_granted_with_a_lease(
        self, store: KeyStore, clock: FrozenClock
    ) -> None:
        """An unknown key is the caller's until now + lease, at attempt 1."""
        claim = store.claim(_KEY, _HASH, now=clock.now(), lease=_LEASE)
        assert isinstance(claim, Claimed)
        assert (claim.key, claim.until, claim.attempt) == (
            _KEY,
            clock.now().add(seconds=30),
            1,
        )
        assert claim.token

    def test_a_completed_key_replays_its_first_outcome(
        self, store: KeyStore, clock: FrozenClock
    ) -> None:
        """Same key, same hash after completion: the stored outcome, nothing to run."""
        claim = self.claimed(store, _KEY, clock.now())
        store.complete(_KEY, claim.token, _PAID, now=clock.now())
        clock.advance(minutes=7)
        for _ in range(3):
            again = store.claim(_KEY, _HASH, now=clock.now(), lease=_LEASE)
            assert again == Replay(_KEY, _PAID)

    @pytest.mark.parametrize(
        "body", _BODIES, ids=["empty", "bytes", "utf8", "junk", "256k"]
    )
    @pytest.mark.parametrize("succeeded", [True, False], ids=["success", "failure"])
    def test_replays_are_byte_identical_for_successes_and_failures(
        self,
        store: KeyStore,
        clock: FrozenClock,
        body: bytes,
        succeeded: bool,  # noqa: FBT001 - a pytest parameter
    ) -> None:
        """Whatever the first outcome held, a replay hands back the same bytes."""
        first = Outcome(succeeded=succeeded, body=body)
        claim = self.claimed(store, _KEY, clock.now())
        store.complete(_KEY, claim.token, first, now=clock.now())
        replay = store.claim(_KEY, _HASH, now=clock.now(), lease=_LEASE)
        assert isinstance(replay, Replay)
        assert type(replay.outcome.body) is bytes
        assert replay.outcome.body == body
        assert replay.outcome.succeeded is succeeded

    def test_a_declined_payment_is_replayed_not_retried(
        self, store: KeyStore, clock: FrozenClock
    ) -> None:
        """A failure the request reached is its outcome: replayed like a success."""
        claim = self.claimed(store, _KEY, clock.now())
        store.complete(_KEY, claim.token, _DECLINED, now=clock.now())
        replay = store.claim(_KEY, _HASH, now=clock.now(), lease=_LEASE)
        assert replay == Replay(_KEY, _DECLINED)

    def test_keys_are_independent_and_weird_ones_are_data(
        self, store: KeyStore, clock: FrozenClock
    ) -> None:
        """Quotes, SQL, emoji, case and 255 CJK characters: each its own key."""
        keys = [
            *_WEIRD,
            "DY-1001",
            "dy-1001",
            "DY-1001 ",
            "100%_off:a%3Ab",
            "礼" * 255,
            "k" * 255,
        ]
        tokens = {key: self.claimed(store, key, clock.now()).token for key in keys}
        for key in keys:
            outcome = Outcome(succeeded=True, body=key.encode())
            store.complete(key, tokens[key], outcome, now=clock.now())
        for key in keys:
            replay = store.claim(key, _HASH, now=clock.now(), lease=_LEASE)
            assert replay == Replay(key, Outcome(succeeded=True, body=key.encode()))

    def test_times_in_any_zone_are_instants(self, store: KeyStore) -> None:
        """A `now` at UTC+8 is the same instant; the lease ends in UTC."""
        beijing = pendulum.datetime(2026, 11, 11, 8, 0, tz="Asia/Shanghai")
        claim = self.claimed(store, _KEY, beijing)
        assert claim.until == _START.add(seconds=30)
        assert claim.until.utcoffset() == dt.timedelta(0)

    def test_instants_at_the_ends_of_time(self, store: KeyStore) -> None:
        """A lease past the last instant is refused; pruning near the first is none."""
        late = pendulum.datetime(9999, 12, 31, 23, 30)
        with pytest.raises(ValidationError) as error:
            store.claim(_KEY, _HASH, now=late, lease=dt.timedelta(hours=1))
        assert error.value.field == "lease"
        early = pendulum.datetime(1, 1, 1, 0, 1)
        assert store.prune(early, retention=dt.timedelta(days=7)) == 0

    # conflicts

    def test_another_request_under_a_completed_key_conflicts(
        self, store: KeyStore, clock: FrozenClock
    ) -> None:
        """Same key, different hash: IdempotencyConflict naming the key."""
        claim = self.claimed(store, _KEY, clock.now())
        store.complete(_KEY, claim.token, _PAID, now=clock.now())
        with pytest.raises(IdempotencyConflict) as error:
            store.claim(_KEY, _OTHER_HASH, now=clock.now(), lease=_LEASE)
        assert error.value.key == _KEY
        assert store.claim(_KEY, _HASH, now=clock.now(), lease=_LEASE) == Replay(
            _KEY, _PAID
        )

    def test_another_request_conflicts_in_progress_and_past_the_lease(
        self, store: KeyStore, clock: FrozenClock
    ) -> None:
        """The conflict holds while the key is claimed, and after its lease too."""
        claim = self.claimed(store, _KEY, clock.now())
        with pytest.raises(IdempotencyConflict):
            store.claim(_KEY, _OTHER_HASH, now=clock.now(), lease=_LEASE)
        clock.advance(minutes=5)
        with pytest.raises(IdempotencyConflict):
            store.claim(_KEY, _OTHER_HASH, now=clock.now(), lease=_LEASE)
        # The conflicts wrote nothing: the claim still holds, and completes.
        store.complete(_KEY, claim.token, _PAID, now=clock.now())
        assert store.claim(_KEY, _HASH, now=clock.now(), lease=_LEASE) == Replay(
            _KEY, _PAID
        )

    # in progress, leases, takeover

    def test_a_concurrent_duplicate_is_told_in_progress(
        self, store: KeyStore, clock: FrozenClock
    ) -> None:
        """Within the lease a duplicate gets InProgress with the lease's end."""
        claim = self.claimed(store, _KEY, clock.now())
        clock.advance(seconds=29)
        for _ in range(3):
            again = store.claim(_KEY, _HASH, now=clock.now(), lease=_LEASE)
            assert again == InProgress(_KEY, claim.until)

    def test_a_claim_past_its_lease_is_taken_over_once(
        self, store: KeyStore, clock: FrozenClock
    ) -> None:
        """The crashed holder's token is void; the new holder's outcome is kept."""
        crashed = self.claimed(store, _KEY, clock.now())
        clock.advance(seconds=30)
        took = self.claimed(store, _KEY, clock.now())
        assert took.token != crashed.token
        assert (took.attempt, took.until) == (2, clock.now().add(seconds=30))
        clock.advance(seconds=1)
        late = store.claim(_KEY, _HASH, now=clock.now(), lease=_LEASE)
        assert late == InProgress(_KEY, took.until)
        with pytest.raises(ConcurrencyConflict):
            store.complete(_KEY, crashed.token, _DECLINED, now=clock.now())
        assert not store.abandon(_KEY, crashed.token)
        store.complete(_KEY, took.token, _PAID, now=clock.now())
        with pytest.raises(ConcurrencyConflict):
            store.complete(_KEY, crashed.token, _DECLINED, now=clock.now())
        assert store.claim(_KEY, _HASH, now=clock.now(), lease=_LEASE) == Replay(
            _KEY, _PAID
        )

    def test_a_slow_holder_completes_if_no_one_took_over(
        self, store: KeyStore, clock: FrozenClock
    ) -> None:
        """Past its lease, a claim still holds until someone takes it over."""
        claim = self.claimed(store, _KEY, clock.now())
        clock.advance(seconds=45)
        store.complete(_KEY, claim.token, _PAID, now=clock.now())
        assert store.claim(_KEY, _HASH, now=clock.now(), lease=_LEASE) == Replay(
            _KEY, _PAID
        )

    def test_a_completed_key_is_never_taken_over(
        self, store: KeyStore, clock: FrozenClock
    ) -> None:
        """However long after, what completed is replayed, never run again."""
        claim = self.claimed(store, _KEY, clock.now())
        store.complete(_KEY, claim.token, _PAID, now=clock.now())
        clock.advance(days=365)
        assert store.claim(_KEY, _HASH, now=clock.now(), lease=_LEASE) == Replay(
            _KEY, _PAID
        )

    # complete and abandon

    def test_completing_twice_keeps_the_first_outcome(
        self, store: KeyStore, clock: FrozenClock
    ) -> None:
        """The same outcome again is a no-op; another outcome is refused."""
        claim = self.claimed(store, _KEY, clock.now())
        store.complete(_KEY, claim.token, _PAID, now=clock.now())
        store.complete(_KEY, claim.token, _PAID, now=clock.now())
        with pytest.raises(ConcurrencyConflict):
            store.complete(_KEY, claim.token, _DECLINED, now=clock.now())
        assert store.claim(_KEY, _HASH, now=clock.now(), lease=_LEASE) == Replay(
            _KEY, _PAID
        )

    def test_completing_without_the_claim_is_refused(
        self, store: KeyStore, clock: FrozenClock
    ) -> None:
        """An unknown key or a wrong token: ConcurrencyConflict, nothing stored."""
        with pytest.raises(ConcurrencyConflict):
            store.complete(_KEY, "no-such-token", _PAID, now=clock.now())
        assert self.is_free(store, _KEY, clock.now())
        claim = self.claimed(store, _KEY, clock.now())
        with pytest.raises(ConcurrencyConflict):
            store.complete(_KEY, "someone-elses-token", _PAID, now=clock.now())
        again = store.claim(_KEY, _HASH, now=clock.now(), lease=_LEASE)
        assert again == InProgress(_KEY, claim.until)

    def test_abandoning_leaves_nothing_behind(
        self, store: KeyStore, clock: FrozenClock
    ) -> None:
        """A request refused before it ran frees its key for any request."""
        claim = self.claimed(store, _KEY, clock.now())
        assert store.abandon(_KEY, claim.token)
        assert not store.abandon(_KEY, claim.token)
        fresh = self.claimed(store, _KEY, clock.now(), request_hash=_OTHER_HASH)
        assert fresh.attempt == 1

    def test_abandon_needs_the_claim_and_spares_outcomes(
        self, store: KeyStore, clock: FrozenClock
    ) -> None:
        """A wrong token abandons nothing; a completed key cannot be abandoned."""
        claim = self.claimed(store, _KEY, clock.now())
        assert not store.abandon(_KEY, "someone-elses-token")
        assert not store.abandon("never-claimed", "no-such-token")
        again = store.claim(_KEY, _HASH, now=clock.now(), lease=_LEASE)
        assert again == InProgress(_KEY, claim.until)
        store.complete(_KEY, claim.token, _PAID, now=clock.now())
        assert not store.abandon(_KEY, claim.token)
        assert store.claim(_KEY, _HASH, now=clock.now(), lease=_LEASE) == Replay(
            _KEY, _PAID
        )

    # retention

    def test_prune_deletes_what_retention_no_longer_covers(
        self, store: KeyStore, clock: FrozenClock
    ) -> None:
        """Completed keys go `retention` after completion; dead claims after lease."""
        week = dt.timedelta(days=7)
        early = self.claimed(store, "early", clock.now())
        store.complete("early", early.token, _PAID, now=clock.now())
        self.claimed(store, "crashed", clock.now())
        clock.advance(days=2)
        late = self.claimed(store, "late", clock.now())
        store.complete("late", late.token, _PAID, now=clock.now())
        clock.advance(days=5)
        live = self.claimed(store, "live", clock.now())
        assert store.prune(clock.now(), retention=week) == 1  # early, at 7 days
        for key, claim in (("late", Replay("late", _PAID)), ("live", None)):
            again = store.claim(key, _HASH, now=clock.now(), lease=_LEASE)
            assert again == (claim or InProgress(key, live.until))
        clock.advance(seconds=30)
        assert store.prune(clock.now(), retention=week) == 1  # crashed, lease + 7 d
        clock.advance(days=2)
        assert store.prune(clock.now(), retention=week) == 1  # late
        assert store.prune(clock.now(), retention=week) == 0
        for key in ("early", "crashed", "late"):
            assert self.is_free(store, key, clock.now())
        assert not self.is_free(store, "live", clock.now())

    def test_prune_counts_retention_from_a_completion_after_the_claim(
        self, store: KeyStore, clock: FrozenClock
    ) -> None:
        """A key completed a day after its claim goes `retention` after that day.

        A store that keeps when each key ends, to prune by it (a column, an
        index), writes it on completion too, not on the first claim alone.
        """
        week = dt.timedelta(days=7)
        slow = self.claimed(store, "slow", clock.now())
        clock.advance(days=1)
        store.complete("slow", slow.token, _PAID, now=clock.now())
        clock.advance(days=6, minutes=1)
        assert store.prune(clock.now(), retention=week) == 0
        again = store.claim("slow", _HASH, now=clock.now(), lease=_LEASE)
        assert again == Replay("slow", _PAID)
        clock.advance(days=1)
        assert store.prune(clock.now(), retention=week) == 1
        assert self.is_free(store, "slow", clock.now())

    def test_prune_counts_retention_from_the_lease_of_a_takeover(
        self, store: KeyStore, clock: FrozenClock
    ) -> None:
        """A claim taken over goes `retention` after the new lease ends.

        A store that keeps when each lease ends, to prune by it, writes it
        on a takeover too, not on the first claim alone.
        """
        week = dt.timedelta(days=7)
        self.claimed(store, "retried", clock.now())
        clock.advance(days=1)
        taken = self.claimed(store, "retried", clock.now())
        assert taken.attempt == 2
        clock.advance(days=6, minutes=1)
        assert store.prune(clock.now(), retention=week) == 0
        assert not self.is_free(store, "retried", clock.now())
        store.complete("retried", taken.token, _PAID, now=clock.now())
        again = store.claim("retried", _HASH, now=clock.now(), lease=_LEASE)
        assert again == Replay("retried", _PAID)

    def test_prune_keeps_everything_within_retention(
        self, store: KeyStore, clock: FrozenClock
    ) -> None:
        """Nothing younger than the retention goes, whatever its state."""
        for i in range(20):
            claim = self.claimed(store, f"DY-{i}", clock.now())
            if i % 2:
                store.complete(f"DY-{i}", claim.token, _PAID, now=clock.now())
        clock.advance(days=6)
        assert store.prune(clock.now(), retention=dt.timedelta(days=7)) == 0
        again = store.claim("DY-1", _HASH, now=clock.now(), lease=_LEASE)
        assert again == Replay("DY-1", _PAID)

    # bad input

    @pytest.mark.parametrize(
        ("claim", "field"),
        [
            pytest.param(("", _HASH, _LEASE), "key", id="empty-key"),
            pytest.param(("   ", _HASH, _LEASE), "key", id="blank-key"),
            pytest.param(("k" * 256, _HASH, _LEASE), "key", id="256-chars"),
            pytest.param(("礼" * 256, _HASH, _LEASE), "key", id="256-cjk"),
            pytest.param(("a\nb", _HASH, _LEASE), "key", id="control-char"),
            pytest.param((7781, _HASH, _LEASE), "key", id="int-key"),
            pytest.param((_KEY, "", _LEASE), "request_hash", id="empty-hash"),
            pytest.param((_KEY, None, _LEASE), "request_hash", id="none-hash"),
            pytest.param((_KEY, "h" * 256, _LEASE), "request_hash", id="long-hash"),
            pytest.param((_KEY, _HASH, dt.timedelta(0)), "lease", id="zero-lease"),
            pytest.param((_KEY, _HASH, -_LEASE), "lease", id="negative-lease"),
            pytest.param((_KEY, _HASH, 30), "lease", id="int-lease"),
        ],
    )
    def test_a_bad_claim_names_its_field_and_stores_nothing(
        self,
        store: KeyStore,
        clock: FrozenClock,
        claim: tuple[Any, Any, Any],
        field: str,
    ) -> None:
        """Keys over 255 characters, empty hashes, no lease: typed errors."""
        key, request_hash, lease = claim
        with pytest.raises(ValidationError) as error:
            store.claim(key, request_hash, now=clock.now(), lease=lease)
        assert error.value.field == field
        self.assert_empty(store, clock.now())

    @pytest.mark.parametrize(
        ("call", "field"),
        [
            pytest.param(
                lambda s, t: s.complete(_KEY, "t", b"paid", now=t),
                "outcome",
                id="bytes-outcome",
            ),
            pytest.param(
                lambda s, t: s.complete(_KEY, "", _PAID, now=t), "token", id="no-token"
            ),
            pytest.param(
                lambda s, t: s.complete("k" * 256, "t", _PAID, now=t),
                "key",
                id="long-key-complete",
            ),
            pytest.param(
                lambda s, _: s.abandon("k" * 256, "t"), "key", id="long-key-abandon"
            ),
            pytest.param(
                lambda s, _: s.abandon(_KEY, None), "token", id="none-token-abandon"
            ),
            pytest.param(
                lambda s, t: s.prune(t, retention=dt.timedelta(0)),
                "retention",
                id="zero-retention",
            ),
            pytest.param(
                lambda s, t: s.claim(_KEY, _HASH, now=t.naive(), lease=_LEASE),
                "now",
                id="naive-claim",
            ),
            pytest.param(
                lambda s, t: s.complete(_KEY, "t", _PAID, now=t.naive()),
                "now",
                id="naive-complete",
            ),
            pytest.param(
                lambda s, t: s.prune(t.naive(), retention=_LEASE),
                "now",
                id="naive-prune",
            ),
        ],
    )
    def test_other_bad_input_names_its_field_and_changes_nothing(
        self,
        store: KeyStore,
        clock: FrozenClock,
        call: Callable[[Any, pendulum.DateTime], object],
        field: str,
    ) -> None:
        """Each bad argument raises a ValidationError naming its field."""
        with pytest.raises(ValidationError) as error:
            call(store, clock.now())
        assert error.value.field == field
        if field == "now":
            assert isinstance(error.value, NaiveDatetime)
        self.assert_empty(store, clock.now())

    def test_driver_failures_become_store_errors(
        self, store: KeyStore, clock: FrozenClock
    ) -> None:
        """A failing backend raises StoreError with the driver's error as cause."""
        self.claimed(store, "before", clock.now())
        if not self.break_store(store):
            pytest.skip("this store has no backend that can fail")
        with pytest.raises(StoreError) as error:
            store.claim(_KEY, _HASH, now=clock.now(), lease=_LEASE)
        assert error.value.__cause__ is not None

    # the service over the store

    def test_the_service_runs_each_request_once(
        self, store: KeyStore, clock: FrozenClock
    ) -> None:
        """The Idempotency service: one run, then replays; a refusal stores nothing."""
        once = Idempotency(store, clock)
        runs: list[str] = []

        def pick() -> Outcome:
            runs.append("DY-1001")
            return _PAID

        def refuse() -> Outcome:
            raise ValidationError("amount", "-5", "must be more than zero")

        with pytest.raises(ValidationError):
            once.run(_KEY, _OTHER_HASH, refuse)
        replies = [once.run(_KEY, _HASH, pick) for _ in range(3)]
        assert runs == ["DY-1001"]
        assert [r.replayed for r in replies] == [False, True, True]
        assert {r.outcome for r in replies} == {_PAID}

    # concurrency

    def test_racers_for_one_key_get_exactly_one_claim(
        self, store: KeyStore, clock: FrozenClock
    ) -> None:
        """Racers claiming the same keys at once: one Claimed per key, never two."""
        keys = [f"race-{i}" for i in range(self.race_keys)]
        # Each racer walks the keys from another place, so every pair meets.
        orders = [
            keys[i * len(keys) // self.race_workers :]
            + keys[: i * len(keys) // self.race_workers]
            for i in range(self.race_workers)
        ]
        found = self._race(
            store,
            [functools.partial(_claim_race, order, clock.now()) for order in orders],
        )
        got: dict[str, list[str]] = {key: [] for key in keys}
        for racer in found:
            for key, what in racer:
                got[key].append(what)
        for key, whats in got.items():
            assert len(whats) == self.race_workers, key
            assert whats.count("claimed") == 1, (key, whats)
            assert set(whats) <= {"claimed", "in_progress", "replay"}, (key, whats)
        for i, key in enumerate(keys):
            after = store.claim(key, _HASH, now=clock.now(), lease=_LEASE)
            assert isinstance(after, Replay if i % 2 == 0 else InProgress), key
