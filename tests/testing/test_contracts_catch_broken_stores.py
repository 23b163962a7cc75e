"""The contract suites fail stores that break their port, and pass correct ones.

Each broken store here wraps a memory store and breaks one rule of its port
the way a real backend could (a LIMIT before a WHERE, a use id scoped to its
keys, a locale collation, a commit failing after the writes). The suites'
tests are called directly on them, as pytest would call them; a correct
store returning tuples (the ports type their lists as `Sequence`) passes.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import attrs
import pytest

from orderkit.adapters.memory import (
    MemoryInbox,
    MemoryLedgerStore,
    MemoryLimitStore,
    MemoryOrderStore,
    MemoryOutbox,
)
from orderkit.errors import StoreError
from orderkit.orders import Order, OrderStatus
from orderkit.ports import Inbox, LedgerStore, LimitStore, OrderStore, Outbox
from orderkit.services import Ledger
from orderkit.testing import FrozenClock, LawBroken, check_order_store_laws
from orderkit.testing._contract_base import START
from orderkit.testing.contracts import (
    LedgerStoreContract,
    LimitStoreContract,
    OrderStoreContract,
    OutboxContract,
)


class _Wrapped:
    """A memory store, every call passed on."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


class _LimitBeforeStatus(_Wrapped):
    """Takes `limit` orders, then filters them by status: short pages."""

    def orders(
        self,
        *,
        status: OrderStatus | None = None,
        after: tuple[str, str] | None = None,
        limit: int = 100,
    ) -> Sequence[Order]:
        page = self.inner.orders(after=after, limit=limit)
        return [o for o in page if status is None or o.status is status]


class _CaseInsensitive(_Wrapped):
    """Lists ids compared case-insensitively, as a locale collation does."""

    def orders(
        self,
        *,
        status: OrderStatus | None = None,
        after: tuple[str, str] | None = None,
        limit: int = 100,
    ) -> Sequence[Order]:
        def key(channel: str, order_id: str) -> tuple[str, ...]:
            return (channel.casefold(), order_id.casefold(), channel, order_id)

        rows = sorted(
            self.inner.orders(limit=10_000), key=lambda o: key(o.channel, o.order_id)
        )
        return [
            o
            for o in rows
            if (after is None or key(o.channel, o.order_id) > key(*after))
            and (status is None or o.status is status)
        ][:limit]


class _UseIdPerKeys(_Wrapped):
    """Remembers a use id per set of keys, not per call."""

    def consume(self, keys: Any, *, now: Any, use_id: str | None = None) -> Any:
        if use_id is not None:
            use_id = f"{use_id}#{len(keys)}"
        return self.inner.consume(keys, now=now, use_id=use_id)


class _WritesThenFails(_Wrapped):
    """Applies the whole plan, then reports its commit failed."""

    broken = False

    def apply(self, plan: Any) -> Any:
        receipt = self.inner.apply(plan)
        if self.broken:
            driver = RuntimeError("connection reset during COMMIT")
            raise StoreError("shop", "apply", str(driver)) from driver
        return receipt


class _Tuples(_Wrapped):
    """A correct store whose lists come back as tuples."""

    def __getattr__(self, name: str) -> Any:
        value = getattr(self.inner, name)
        if not callable(value) or name.startswith("_"):
            return value
        return lambda *args, **kwargs: _tupled(value(*args, **kwargs))


def _tupled(value: object) -> object:
    return tuple(value) if isinstance(value, list) else value


class _Orders(OrderStoreContract):
    def make_store(self) -> OrderStore:
        return MemoryOrderStore()


class _Limits(LimitStoreContract):
    def make_store(self) -> LimitStore:
        return MemoryLimitStore()


class _Ledgers(LedgerStoreContract):
    def make_store(self) -> LedgerStore:
        return MemoryLedgerStore()

    def break_store(self, store: object) -> bool:
        if not isinstance(store, _WritesThenFails):
            return False
        store.broken = True
        return True


class _Outboxes(OutboxContract):
    def make_store(self) -> Outbox:
        return MemoryOutbox()

    def make_inbox(self) -> Inbox:
        return MemoryInbox()


def _orders(store: object) -> OrderStore:
    return store  # type: ignore[return-value]


def test_pages_of_a_status_cut_before_the_filter_fail_the_order_contract() -> None:
    suite = _Orders()
    suite.test_orders_of_a_status_page_through_every_one(_orders(MemoryOrderStore()))
    broken = _orders(_LimitBeforeStatus(MemoryOrderStore()))
    with pytest.raises(AssertionError):
        suite.test_orders_of_a_status_page_through_every_one(broken)


def test_a_case_insensitive_listing_fails_the_contract_and_the_laws() -> None:
    suite = _Orders()
    suite.test_orders_are_listed_by_channel_then_id(_orders(MemoryOrderStore()))
    broken = _orders(_CaseInsensitive(MemoryOrderStore()))
    with pytest.raises(AssertionError):
        suite.test_orders_are_listed_by_channel_then_id(broken)
    check_order_store_laws(MemoryOrderStore)
    with pytest.raises(LawBroken):
        check_order_store_laws(lambda: _orders(_CaseInsensitive(MemoryOrderStore())))


def test_a_use_id_scoped_to_its_keys_fails_the_limit_contract() -> None:
    suite = _Limits()
    suite.test_a_granted_use_id_replays_whatever_its_keys(
        MemoryLimitStore(), FrozenClock(START)
    )
    broken: Any = _UseIdPerKeys(MemoryLimitStore())
    with pytest.raises(AssertionError):
        suite.test_a_granted_use_id_replays_whatever_its_keys(
            broken, FrozenClock(START)
        )


def test_a_failed_commit_that_kept_its_writes_fails_the_ledger_contract() -> None:
    suite = _Ledgers()
    store: Any = _WritesThenFails(MemoryLedgerStore())
    with pytest.raises(AssertionError):
        suite.test_driver_failures_become_store_errors(
            Ledger(store, FrozenClock(START)), store
        )


def test_stores_returning_tuples_pass_the_contracts() -> None:
    orders: Any = _Tuples(MemoryOrderStore())
    _Orders().test_orders_are_listed_by_status(orders)
    outboxes = _Outboxes()
    for test in (
        outboxes.test_a_relay_dying_holding_a_lease,
        outboxes.test_a_stream_goes_in_order,
        outboxes.test_a_late_mark_counts_while_no_one_took_over,
        outboxes.test_a_sent_message_is_never_claimed,
    ):
        outbox: Any = _Tuples(MemoryOutbox())
        test(outbox)
    ledgers = _Ledgers()
    store: Any = _Tuples(MemoryLedgerStore())
    clock = FrozenClock(START)
    ledgers.test_a_sweep_with_a_limit_expires_at_most_that_many(
        store, Ledger(store, clock), clock
    )
    store = _Tuples(MemoryLedgerStore())
    clock = FrozenClock(START)
    ledgers.test_expire_due_sweeps_only_the_due_holds(Ledger(store, clock), clock)


class _ForgetsTasks(_Wrapped):
    """Reads a saga back without the ids of the pick tasks it sent."""

    def get(self, channel: str, order_id: str) -> Order | None:
        order: Order | None = self.inner.get(channel, order_id)
        if order is None or order.saga is None:
            return order
        return attrs.evolve(order, saga=attrs.evolve(order.saga, tasks=()))


class _TaskLosingOrders(OrderStoreContract):
    def make_store(self) -> OrderStore:
        return _orders(_ForgetsTasks(MemoryOrderStore()))


def test_a_store_that_loses_a_pick_sagas_tasks_fails_the_contract() -> None:
    _Orders().test_any_order_reads_back_equal()
    with pytest.raises(AssertionError):
        _TaskLosingOrders().test_any_order_reads_back_equal()
