"""The memory key store runs the key store contract, as a host's store would."""

import datetime as dt
from zoneinfo import ZoneInfo

import pendulum

from orderkit.adapters.memory import MemoryKeyStore, MemoryUnitOfWork
from orderkit.dedupe import Claimed, InProgress, Outcome
from orderkit.ports import KeyStore
from orderkit.testing.contracts import KeyStoreContract


class TestMemoryKeyStore(KeyStoreContract):
    """MemoryKeyStore: the reference semantics; racers are threads."""

    def make_store(self) -> KeyStore:
        return MemoryKeyStore()


T0 = pendulum.datetime(2026, 11, 11, 0, 0)
LEASE = dt.timedelta(seconds=30)
DONE = Outcome(succeeded=True, body=b"done")


class TestMemoryKeyStoreInside:
    """What the contract cannot see: the index `prune` reads, units, tokens."""

    def test_prune_finds_keys_claimed_or_completed_since_it_last_ran(self) -> None:
        store = MemoryKeyStore()
        assert 0 == store.prune(T0, retention=LEASE)
        claims = [store.claim(f"k{n}", "h", now=T0, lease=LEASE) for n in range(4)]
        done = claims[0]
        assert isinstance(done, Claimed)
        store.complete("k0", done.token, DONE, now=T0.add(minutes=5))
        # k1..k3's leases ended at T0 + 30 s; k0 completed at T0 + 5 min.
        assert 3 == store.prune(T0.add(minutes=1), retention=LEASE)
        assert 0 == store.prune(T0.add(minutes=5), retention=LEASE)
        assert 1 == store.prune(T0.add(minutes=6), retention=LEASE)
        assert isinstance(store.claim("k0", "h2", now=T0, lease=LEASE), Claimed)

    def test_a_unit_rolled_back_takes_its_claims_and_prunes_back(self) -> None:
        uow = MemoryUnitOfWork()
        with uow:
            uow.keys.claim("kept", "h", now=T0, lease=LEASE)
            uow.commit()
        with uow:
            uow.keys.claim("dropped", "h", now=T0, lease=LEASE)
            assert 2 == uow.keys.prune(T0.add(minutes=1), retention=LEASE)
        with uow:
            assert uow.keys.claim("kept", "h", now=T0, lease=LEASE) == InProgress(
                "kept", T0.add(seconds=30)
            )
            free = uow.keys.claim("dropped", "other", now=T0, lease=LEASE)
            assert isinstance(free, Claimed)
            assert 1 == free.attempt
            assert 2 == uow.keys.prune(T0.add(minutes=1), retention=LEASE)

    def test_any_aware_now_and_any_timedelta_lease_claim_alike(self) -> None:
        store = MemoryKeyStore()
        beijing = dt.datetime(2026, 11, 11, 8, 0, tzinfo=ZoneInfo("Asia/Shanghai"))
        claims = [
            store.claim("a", "h", now=T0, lease=LEASE),
            store.claim("b", "h", now=beijing, lease=pendulum.duration(seconds=30)),
        ]
        for claim in claims:
            assert isinstance(claim, Claimed)
            assert claim.until == T0.add(seconds=30)
            assert type(claim.until) is pendulum.DateTime

    def test_every_grant_draws_a_fresh_token(self) -> None:
        """A key claimed again after its lease gets a new token, never the last one."""
        store = MemoryKeyStore()
        first = store.claim("k", "h", now=T0, lease=LEASE)
        again = store.claim("k", "h", now=T0.add(minutes=1), lease=LEASE)
        assert isinstance(first, Claimed)
        assert isinstance(again, Claimed)
        assert first.token != again.token
        assert all(len(t.token) == 22 for t in (first, again))  # token_urlsafe(16)
