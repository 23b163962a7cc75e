"""The contract suites check every listing after updates, not after first saves only.

Each broken store here wraps a memory store and keeps what a listing filters
or sorts by as it was first written, the way an SQL store whose UPDATE
forgets a column does: an order's status or placed instant, a message's
state, a key's end. The suites' tests are called directly on them, as pytest
would call them, and on the correct memory stores, which pass.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

import pendulum
import pytest

from orderkit._time import before_or_first
from orderkit.adapters.memory import (
    MemoryInbox,
    MemoryKeyStore,
    MemoryOrderStore,
    MemoryOutbox,
)
from orderkit.dedupe import Claim, Claimed, Outcome
from orderkit.dedupe._claims import check_duration, check_now
from orderkit.orders import Order, OrderStatus
from orderkit.orders._messages import OutboxMessage
from orderkit.ports import Inbox, KeyStore, OrderStore, Outbox
from orderkit.testing import FrozenClock, LawBroken, check_order_store_laws
from orderkit.testing._contract_base import START
from orderkit.testing.contracts import (
    KeyStoreContract,
    OrderStoreContract,
    OutboxContract,
)


_EVERY = 1_000_000


class _Wrapped:
    """A memory store, every call passed on."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


class _StatusAtInsert(_Wrapped):
    """Lists an order under the status it was first saved in."""

    def __init__(self, inner: Any) -> None:
        super().__init__(inner)
        self.first: dict[tuple[str, str], OrderStatus] = {}

    def save(self, order: Order, expected_version: int | None) -> None:
        self.inner.save(order, expected_version)
        if expected_version is None:
            self.first[order.channel, order.order_id] = order.status

    def orders(
        self,
        *,
        status: OrderStatus | None = None,
        after: tuple[str, str] | None = None,
        limit: int = 100,
    ) -> Sequence[Order]:
        page: Sequence[Order] = self.inner.orders(
            status=status, after=after, limit=limit
        )
        if status is None:
            return page
        every = self.inner.orders(after=after, limit=_EVERY)
        return [o for o in every if self.first[o.channel, o.order_id] is status][:limit]


class _PlacedAtInsert(_Wrapped):
    """Lists an order by the placed instant it was first saved with."""

    def __init__(self, inner: Any) -> None:
        super().__init__(inner)
        self.first: dict[tuple[str, str], pendulum.DateTime] = {}

    def save(self, order: Order, expected_version: int | None) -> None:
        self.inner.save(order, expected_version)
        if expected_version is None:
            self.first[order.channel, order.order_id] = order.placed_at

    def placed_between(
        self,
        start: dt.datetime,
        end: dt.datetime,
        *,
        after: Order | None = None,
        limit: int = 100,
    ) -> Sequence[Order]:
        self.inner.placed_between(start, end, after=after, limit=limit)

        def key(order: Order) -> tuple[dt.datetime, str, str]:
            return (
                self.first[order.channel, order.order_id],
                order.channel,
                order.order_id,
            )

        listed = sorted(
            (
                o
                for o in self.inner.orders(limit=_EVERY)
                if start <= self.first[o.channel, o.order_id] < end
            ),
            key=key,
        )
        return [o for o in listed if after is None or key(o) > key(after)][:limit]


class _UnsentUntilClaimed(_Wrapped):
    """Lists as unsent only the messages never claimed."""

    def __init__(self, inner: Any) -> None:
        super().__init__(inner)
        self.claimed: set[OutboxMessage] = set()

    def claim(
        self, *, relay: str, now: dt.datetime, lease: dt.timedelta, limit: int = 100
    ) -> Sequence[OutboxMessage]:
        leased: Sequence[OutboxMessage] = self.inner.claim(
            relay=relay, now=now, lease=lease, limit=limit
        )
        self.claimed.update(leased)
        return leased

    def unsent(self, *, limit: int = 1000) -> Sequence[OutboxMessage]:
        self.inner.unsent(limit=limit)
        every = self.inner.unsent(limit=_EVERY)
        return [m for m in every if m not in self.claimed][:limit]


class _PrunedByFirstClaim(_Wrapped):
    """Prunes a key by its first claim: its instant once completed, else its lease.

    As a table whose `ended` column an UPDATE forgets: completing a key
    or taking it over leaves the instant the first claim wrote.
    """

    def __init__(self, inner: MemoryKeyStore) -> None:
        super().__init__(inner)
        self.first: dict[str, tuple[dt.datetime, dt.datetime]] = {}
        self.completed: set[str] = set()

    def claim(
        self, key: str, request_hash: str, *, now: dt.datetime, lease: dt.timedelta
    ) -> Claim:
        claim: Claim = self.inner.claim(key, request_hash, now=now, lease=lease)
        if isinstance(claim, Claimed):
            self.first.setdefault(key, (now, claim.until))
        return claim

    def complete(
        self, key: str, token: str, outcome: Outcome, *, now: dt.datetime
    ) -> None:
        self.inner.complete(key, token, outcome, now=now)
        self.completed.add(key)

    def abandon(self, key: str, token: str) -> bool:
        done: bool = self.inner.abandon(key, token)
        if done:
            self.first.pop(key, None)
        return done

    def prune(self, now: dt.datetime, *, retention: dt.timedelta) -> int:
        cutoff = before_or_first(check_now(now), check_duration("retention", retention))
        gone = [
            key
            for key, (at, until) in self.first.items()
            if (at if key in self.completed else until) <= cutoff
        ]
        for key in gone:
            del self.first[key]
            self.completed.discard(key)
            del self.inner._keys[key]
        return len(gone)


class _Orders(OrderStoreContract):
    def make_store(self) -> OrderStore:
        return MemoryOrderStore()


class _StaleStatusOrders(OrderStoreContract):
    def make_store(self) -> OrderStore:
        return _orders(_StatusAtInsert(MemoryOrderStore()))


class _Outboxes(OutboxContract):
    def make_store(self) -> Outbox:
        return MemoryOutbox()

    def make_inbox(self) -> Inbox:
        return MemoryInbox()


class _Keys(KeyStoreContract):
    def make_store(self) -> KeyStore:
        return MemoryKeyStore()


def _orders(store: object) -> OrderStore:
    return store  # type: ignore[return-value]


@pytest.mark.parametrize(
    "test",
    [
        "test_an_update_moves_an_order_between_status_listings",
        "test_pages_of_a_status_follow_updates",
    ],
)
def test_a_status_kept_from_the_first_save_fails_the_order_contract(
    test: str,
) -> None:
    getattr(_Orders(), test)(MemoryOrderStore())
    with pytest.raises(AssertionError):
        getattr(_Orders(), test)(_orders(_StatusAtInsert(MemoryOrderStore())))


def test_drawn_orders_updated_catch_a_status_kept_from_the_first_save() -> None:
    _Orders().test_status_listings_follow_any_order_updated()
    with pytest.raises(AssertionError):
        _StaleStatusOrders().test_status_listings_follow_any_order_updated()


def test_a_status_kept_from_the_first_save_breaks_the_laws() -> None:
    with pytest.raises(LawBroken):
        check_order_store_laws(lambda: _orders(_StatusAtInsert(MemoryOrderStore())))


def test_a_placed_instant_kept_from_the_first_save_fails_the_order_contract() -> None:
    suite = _Orders()
    suite.test_an_order_moves_with_its_placed_instant(MemoryOrderStore())
    broken = _orders(_PlacedAtInsert(MemoryOrderStore()))
    with pytest.raises(AssertionError):
        suite.test_an_order_moves_with_its_placed_instant(broken)


def test_unsent_hiding_claimed_messages_fails_the_outbox_contract() -> None:
    suite = _Outboxes()
    suite.test_unsent_lists_leased_messages_until_they_are_sent(MemoryOutbox())
    broken: Any = _UnsentUntilClaimed(MemoryOutbox())
    with pytest.raises(AssertionError):
        suite.test_unsent_lists_leased_messages_until_they_are_sent(broken)


@pytest.mark.parametrize(
    "test",
    [
        "test_prune_counts_retention_from_a_completion_after_the_claim",
        "test_prune_counts_retention_from_the_lease_of_a_takeover",
    ],
)
def test_a_key_pruned_by_its_first_claim_fails_the_key_contract(test: str) -> None:
    getattr(_Keys(), test)(MemoryKeyStore(), FrozenClock(START))
    broken: Any = _PrunedByFirstClaim(MemoryKeyStore())
    with pytest.raises(AssertionError):
        getattr(_Keys(), test)(broken, FrozenClock(START))
