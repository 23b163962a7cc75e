"""Contract suites: the tests every implementation of a port must pass.

Subclass the contract of a port (`LedgerStoreContract` for a `LedgerStore`,
`KeyStoreContract` for a `KeyStore`) in your test suite, say how to make a
store, and pytest runs every rule of the port against it, exactly as orderkit
runs them against its own stores:

```python
from orderkit.testing.contracts import LedgerStoreContract

class TestMyLedgerStore(LedgerStoreContract):
    def make_store(self):
        return MyLedgerStore(dsn=...)
```

Needs the `testing` extra (`pip install 'orderkit[testing]'`).

.. versionadded:: 0.1.0
"""

from __future__ import annotations

import abc
import concurrent.futures
import datetime as dt
import multiprocessing
import multiprocessing.queues
import threading
import uuid
from collections.abc import Callable, Sequence
from typing import Any, Protocol

import pendulum
import pytest
from hypothesis import settings
from hypothesis.stateful import run_state_machine_as_test

from orderkit.dedupe._claims import Claimed, InProgress, Outcome, Replay
from orderkit.errors import (
    ConcurrencyConflict,
    HoldNotLive,
    IdempotencyConflict,
    InsufficientStock,
    InvalidQuantity,
    NaiveDatetime,
    StoreError,
    UnknownHold,
    UnknownLocation,
    UnknownSku,
    ValidationError,
)
from orderkit.inventory import (
    Backorder,
    Balance,
    Delist,
    HoldState,
    HoldWrite,
    MovementKind,
    Plan,
    Preorder,
    Relist,
    Shortage,
)
from orderkit.ports import KeyStore, LedgerStore
from orderkit.services import Idempotency, Ledger
from orderkit.testing._clock import FrozenClock
from orderkit.testing._ledger_machine import ledger_machine


__all__ = ["KeyStoreContract", "LedgerStoreContract"]

_START = pendulum.datetime(2026, 11, 11, 0, 0)
_WEIRD = [
    "SKU-'quoted'",
    'SKU-"double"',
    "SKU; DROP TABLE balances; --",
    "SKU-100%_off",
    "SKU-🎁",
    "礼盒-北京",
    "Robert'); --",
]


def _race_worker(
    factory: Callable[[], LedgerStore], sku: str, attempts: int, start: dt.datetime
) -> int:
    """Try to reserve one unit `attempts` times; return how many succeeded."""
    ledger = Ledger(factory(), FrozenClock(start))
    granted = 0
    for i in range(attempts):
        try:
            ledger.reserve(f"racer-{uuid.uuid4().hex}-{i}", [(sku, "W1", 1)])
        except InsufficientStock:
            continue
        granted += 1
    return granted


class LedgerStoreContract(abc.ABC):
    """Every rule of `orderkit.ports.LedgerStore`, as tests over `make_store()`.

    Subclass it in a test module (its name must start with `Test` for
    pytest to collect it) and implement `make_store`. Each test gets a
    fresh, empty store. Override `connect` when the store can be opened
    again from another process (the race then runs across processes), and
    `break_store` when the backend can be made to fail (error translation
    is then checked).

    .. versionadded:: 0.1.0
    """

    race_workers: int = 4
    """Threads or processes racing for the last units."""
    race_attempts: int = 50
    """Reservation attempts per racer."""

    @abc.abstractmethod
    def make_store(self) -> LedgerStore:
        """Return a new, empty store."""

    def connect(self, store: LedgerStore) -> Callable[[], LedgerStore] | None:  # noqa: ARG002 - a hook for subclasses
        """Return a picklable factory opening `store` again in another process.

        `None` (the default) races threads on `store` itself.
        """
        return None

    def break_store(self, store: LedgerStore) -> bool:  # noqa: ARG002 - a hook for subclasses
        """Make the backend fail on its next write (drop a table, revoke rights).

        Return False (the default) when the store has no backend to break.
        """
        return False

    # fixtures

    @pytest.fixture
    def clock(self) -> FrozenClock:
        """A clock at 2026-11-11T00:00Z, the start of a flash sale."""
        return FrozenClock(_START)

    @pytest.fixture
    def store(self) -> LedgerStore:
        """A fresh store from `make_store`."""
        return self.make_store()

    @pytest.fixture
    def ledger(self, store: LedgerStore, clock: FrozenClock) -> Ledger:
        """A ledger over the store, with 15-minute holds."""
        return Ledger(store, clock)

    # helpers

    @staticmethod
    def snapshot(store: LedgerStore) -> tuple[Any, ...]:
        """Everything a store holds, to assert that a failure changed nothing."""
        far = _START.add(years=100)
        return (
            tuple(store.balances(_START)),
            tuple(store.balances(far)),
            tuple(store.holds()),
            tuple(store.movements(limit=100_000)),
        )

    # receiving and reading

    def test_receive_raises_on_hand_and_creates_the_balance(
        self, ledger: Ledger
    ) -> None:
        """Goods in raise on hand; a new SKU and location get a balance."""
        ledger.receive("TEA-01", "W1", 12, reason="PO-7781")
        ledger.receive("TEA-01", "W1", 3)
        assert ledger.balance("TEA-01", "W1") == Balance("TEA-01", "W1", 15)
        movements = ledger.movements()
        assert [m.kind for m in movements] == [MovementKind.RECEIVE] * 2
        assert movements[0].reason == "PO-7781"
        assert [m.seq for m in movements] == sorted({m.seq for m in movements})

    def test_unknown_sku_and_location_are_refused_by_name(self, ledger: Ledger) -> None:
        """Reserving stock that was never stocked names the SKU or location."""
        ledger.receive("TEA-01", "W1", 5)
        with pytest.raises(UnknownSku) as sku:
            ledger.reserve("cart-1", [("MUG-99", "W1", 1)])
        assert (sku.value.field, sku.value.value) == ("sku", "MUG-99")
        with pytest.raises(UnknownLocation) as where:
            ledger.reserve("cart-1", [("TEA-01", "W9", 1)])
        assert (where.value.field, where.value.value) == ("location", "W9")
        with pytest.raises(UnknownSku):
            ledger.balance("MUG-99", "W1")

    def test_movements_page_in_order(self, ledger: Ledger) -> None:
        """Movements come back in sequence order, `limit` at a time after `after`."""
        for i in range(7):
            ledger.receive(f"SKU-{i}", "W1", i + 1)
        first = ledger.movements(limit=3)
        rest = ledger.movements(after=first[-1].seq, limit=100)
        assert [m.sku for m in (*first, *rest)] == [f"SKU-{i}" for i in range(7)]
        assert len(first) == 3  # the page size asked for

    def test_weird_names_round_trip_verbatim(self, ledger: Ledger) -> None:
        """Quotes, semicolons, percent signs, emoji and Chinese are data, not code."""
        for name in _WEIRD:
            ledger.receive(name, name, 2, reason=name, actor=name)
            receipt = ledger.reserve(name, [(name, name, 1)], key=f"k-{name}")
            assert receipt.holds[0].owner == name
        for name in _WEIRD:
            assert ledger.balance(name, name) == Balance(name, name, 2, 1)
            (hold,) = ledger.holds(owner=name)
            assert (hold.sku, hold.location, hold.hold_id) == (
                name,
                name,
                f"k-{name}/0",
            )
        reasons = {m.reason for m in ledger.movements(limit=1000)}
        assert set(_WEIRD) <= reasons

    # reservations

    def test_reservation_is_all_or_nothing_and_lists_every_short_line(
        self, ledger: Ledger, store: LedgerStore
    ) -> None:
        """One short line refuses the whole reservation; the error lists each."""
        ledger.receive("TEA-01", "W1", 5)
        ledger.receive("MUG-02", "W1", 1)
        ledger.receive("CUP-03", "W2", 4)
        before = self.snapshot(store)
        with pytest.raises(InsufficientStock) as error:
            ledger.reserve(
                "cart-1",
                [("TEA-01", "W1", 6), ("MUG-02", "W1", 2), ("CUP-03", "W2", 4)],
            )
        assert error.value.shortages == (
            Shortage("TEA-01", "W1", 6, 5),
            Shortage("MUG-02", "W1", 2, 1),
        )
        assert self.snapshot(store) == before

    def test_demand_for_one_balance_is_summed_before_checking(
        self, ledger: Ledger, store: LedgerStore
    ) -> None:
        """Two lines of 3 against 5 units are 6 units: refused as one line."""
        ledger.receive("TEA-01", "W1", 5)
        before = self.snapshot(store)
        with pytest.raises(InsufficientStock) as error:
            ledger.reserve("cart-1", [("TEA-01", "W1", 3), ("TEA-01", "W1", 3)])
        assert error.value.shortages == (Shortage("TEA-01", "W1", 6, 5),)
        assert self.snapshot(store) == before
        receipt = ledger.reserve("cart-1", [("TEA-01", "W1", 2), ("TEA-01", "W1", 3)])
        assert [h.quantity for h in receipt.holds] == [5]

    def test_another_carts_live_hold_blocks_until_its_ttl_passes(
        self, ledger: Ledger, clock: FrozenClock
    ) -> None:
        """The last units are held; after the TTL the same request succeeds, unswept."""
        ledger.receive("TEA-01", "W1", 2)
        ledger.reserve("cart-1", [("TEA-01", "W1", 2)], ttl=dt.timedelta(minutes=15))
        with pytest.raises(InsufficientStock) as error:
            ledger.reserve("cart-2", [("TEA-01", "W1", 1)])
        assert error.value.shortages == (Shortage("TEA-01", "W1", 1, 0),)
        clock.advance(minutes=15)
        assert ledger.balance("TEA-01", "W1").available == 2  # both units back
        receipt = ledger.reserve("cart-2", [("TEA-01", "W1", 1)])
        assert receipt.holds[0].owner == "cart-2"
        expired = [m for m in receipt.movements if m.kind is MovementKind.EXPIRE]
        assert [m.reserved for m in expired] == [-2]

    def test_a_clock_stepping_back_never_revives_an_expired_hold(
        self, ledger: Ledger, clock: FrozenClock
    ) -> None:
        """Once a store has seen a hold expire, an earlier clock cannot revive it."""
        ledger.receive("TEA-01", "W1", 1)
        hold = ledger.reserve("cart-1", [("TEA-01", "W1", 1)]).holds[0]
        clock.advance(minutes=20)
        ledger.reserve("cart-2", [("TEA-01", "W1", 1)])
        clock.advance(minutes=-20)
        with pytest.raises(HoldNotLive) as error:
            ledger.commit(hold.hold_id)
        assert error.value.state == "expired"
        assert ledger.hold(hold.hold_id).state is HoldState.EXPIRED

    def test_an_owner_never_competes_with_its_own_hold(self, ledger: Ledger) -> None:
        """Reserving again replaces the owner's hold there, never blocked by it."""
        ledger.receive("TEA-01", "W1", 3)
        first = ledger.reserve("cart-1", [("TEA-01", "W1", 3)]).holds[0]
        again = ledger.reserve("cart-1", [("TEA-01", "W1", 2)])
        assert [h.quantity for h in again.holds] == [2, 3]
        assert again.holds[1].hold_id == first.hold_id
        assert again.holds[1].state is HoldState.RELEASED
        assert ledger.balance("TEA-01", "W1").reserved == 2  # the new hold only
        with pytest.raises(InsufficientStock):
            ledger.reserve("cart-2", [("TEA-01", "W1", 2)])

    def test_extend_keeps_a_live_hold_and_refuses_a_dead_one(
        self, ledger: Ledger, clock: FrozenClock
    ) -> None:
        """Extending moves expiry on, never back; an expired hold cannot be extended."""
        ledger.receive("TEA-01", "W1", 1)
        hold = ledger.reserve("cart-1", [("TEA-01", "W1", 1)]).holds[0]
        clock.advance(minutes=10)
        extended = ledger.extend(hold.hold_id, dt.timedelta(minutes=15))
        assert extended.expires_at == clock.now().add(minutes=15)
        assert ledger.extend(hold.hold_id, dt.timedelta(minutes=1)) == extended
        clock.advance(minutes=16)
        with pytest.raises(InsufficientStock):
            ledger.reserve("cart-2", [("TEA-01", "W1", 2)])
        clock.advance(minutes=10)
        with pytest.raises(HoldNotLive):
            ledger.extend(hold.hold_id)

    # commit, release, ship

    def test_a_hold_of_5_committed_for_3_leaves_available_up_by_2(
        self, ledger: Ledger
    ) -> None:
        """Committing part of a hold returns the rest to available."""
        ledger.receive("TEA-01", "W1", 10)
        hold = ledger.reserve("order-1", [("TEA-01", "W1", 5)]).holds[0]
        held = ledger.balance("TEA-01", "W1").available
        outcome = ledger.commit(hold.hold_id, 3)
        after = ledger.balance("TEA-01", "W1")
        assert after.available == held + 2
        assert (after.reserved, after.allocated) == (0, 3)
        assert outcome.changed
        assert (outcome.hold.state, outcome.hold.committed) == (HoldState.COMMITTED, 3)

    def test_a_hold_resolves_exactly_once(self, ledger: Ledger) -> None:
        """Committing or releasing twice is a no-op that says so."""
        ledger.receive("TEA-01", "W1", 4)
        paid, dropped = (
            ledger.reserve(owner, [("TEA-01", "W1", 2)]).holds[0]
            for owner in ("order-1", "cart-2")
        )
        assert ledger.commit(paid.hold_id).changed
        assert ledger.release(dropped.hold_id).changed
        again = ledger.commit(paid.hold_id)
        assert (again.changed, again.hold.state) == (False, HoldState.COMMITTED)
        assert not ledger.release(dropped.hold_id).changed
        assert not ledger.release(paid.hold_id).changed
        with pytest.raises(HoldNotLive):
            ledger.commit(dropped.hold_id)
        assert ledger.balance("TEA-01", "W1") == Balance("TEA-01", "W1", 4, 0, 2)
        assert ledger.audit() == ()

    def test_bad_commits_are_refused_and_change_nothing(
        self, ledger: Ledger, store: LedgerStore
    ) -> None:
        """An unknown hold, or more than the hold, is a typed error naming it."""
        ledger.receive("TEA-01", "W1", 4)
        hold = ledger.reserve("order-1", [("TEA-01", "W1", 2)]).holds[0]
        before = self.snapshot(store)
        with pytest.raises(InvalidQuantity) as error:
            ledger.commit(hold.hold_id, 3)
        assert (error.value.field, error.value.value) == ("quantity", 3)
        with pytest.raises(UnknownHold) as unknown:
            ledger.commit("no-such-hold")
        assert unknown.value.value == "no-such-hold"
        with pytest.raises(UnknownHold):
            ledger.release("no-such-hold")
        for quantity in (0, -1, 1.5, "2", True):
            with pytest.raises(InvalidQuantity):
                ledger.commit(hold.hold_id, quantity)  # type: ignore[arg-type]
        assert self.snapshot(store) == before

    def test_shipping_takes_on_hand_and_allocated(self, ledger: Ledger) -> None:
        """Shipping committed units lowers on hand and allocated alike."""
        ledger.receive("TEA-01", "W1", 5)
        hold = ledger.reserve("order-1", [("TEA-01", "W1", 3)]).holds[0]
        ledger.commit(hold.hold_id)
        ledger.ship("order-1", [("TEA-01", "W1", 2)])
        assert ledger.balance("TEA-01", "W1") == Balance("TEA-01", "W1", 3, 0, 1)
        assert ledger.hold(hold.hold_id).shipped == 2  # shipped so far

    def test_shipping_more_than_allocated_fails_atomically(
        self, ledger: Ledger, store: LedgerStore
    ) -> None:
        """Saleor's test_decrease_stock_insufficient_stock: refused, nothing moves."""
        ledger.receive("TEA-01", "W1", 5)
        ledger.receive("MUG-02", "W1", 5)
        for sku in ("TEA-01", "MUG-02"):
            hold = ledger.reserve("order-1", [(sku, "W1", 2)]).holds[0]
            ledger.commit(hold.hold_id)
        before = self.snapshot(store)
        with pytest.raises(InsufficientStock) as error:
            ledger.ship("order-1", [("TEA-01", "W1", 2), ("MUG-02", "W1", 3)])
        assert error.value.shortages == (Shortage("MUG-02", "W1", 3, 2, "allocated"),)
        assert self.snapshot(store) == before

    def test_shipping_from_too_little_on_hand_fails_atomically(
        self, ledger: Ledger, store: LedgerStore
    ) -> None:
        """A stocktake found fewer units than were sold: shipping them is refused."""
        ledger.receive("TEA-01", "W1", 5)
        hold = ledger.reserve("order-1", [("TEA-01", "W1", 4)]).holds[0]
        ledger.commit(hold.hold_id)
        ledger.adjust("TEA-01", "W1", counted=3, reason="stocktake")
        before = self.snapshot(store)
        with pytest.raises(InsufficientStock) as error:
            ledger.ship("order-1", [("TEA-01", "W1", 4)])
        assert error.value.shortages == (Shortage("TEA-01", "W1", 4, 3, "on_hand"),)
        assert self.snapshot(store) == before

    # stock policies, safety stock, adjustments

    def test_no_oversell_is_the_default(self, ledger: Ledger) -> None:
        """Without a policy, available never goes below zero."""
        ledger.receive("TEA-01", "W1", 2)
        with pytest.raises(InsufficientStock):
            ledger.reserve("cart-1", [("TEA-01", "W1", 3)])

    def test_backorder_sells_up_to_its_limit(self, ledger: Ledger) -> None:
        """A backorder limit of 3 lets available fall to -3, not -4."""
        ledger.receive("TEA-01", "W1", 2)
        ledger.set_policy("TEA-01", Backorder(3))
        ledger.reserve("cart-1", [("TEA-01", "W1", 5)])
        assert ledger.balance("TEA-01", "W1").available == -3  # the limit
        with pytest.raises(InsufficientStock) as error:
            ledger.reserve("cart-2", [("TEA-01", "W1", 1)])
        assert error.value.shortages == (Shortage("TEA-01", "W1", 1, 0),)

    def test_preorder_takes_its_cap_until_it_closes(
        self, ledger: Ledger, clock: FrozenClock
    ) -> None:
        """Pre-orders up to the cap before the end date; none after it."""
        ledger.receive("BOOK-9", "W1", 0 + 1)
        ledger.adjust("BOOK-9", "W1", counted=0)
        ledger.set_policy("BOOK-9", Preorder(cap=2, ends_at=_START.add(days=1)))
        ledger.reserve("cart-1", [("BOOK-9", "W1", 2)], ttl=dt.timedelta(days=3))
        with pytest.raises(InsufficientStock):
            ledger.reserve("cart-2", [("BOOK-9", "W1", 1)])
        clock.advance(days=1)
        ledger.receive("BOOK-9", "W1", 3)
        with pytest.raises(InsufficientStock):
            ledger.reserve("cart-2", [("BOOK-9", "W1", 2)])
        ledger.reserve("cart-2", [("BOOK-9", "W1", 1)])

    def test_crossing_safety_stock_signals_delist_then_relist(
        self, ledger: Ledger
    ) -> None:
        """Sellable stock hitting zero returns a Delist; coming back, a Relist."""
        ledger.receive("TEA-01", "W1", 5)
        ledger.set_safety_stock("TEA-01", "W1", 2)
        assert ledger.balance("TEA-01", "W1").sellable() == 3  # 5 - 2
        assert ledger.reserve("cart-1", [("TEA-01", "W1", 2)]).signals == ()
        hold = ledger.reserve("cart-2", [("TEA-01", "W1", 1)]).holds[0]
        assert ledger.balance("TEA-01", "W1").sellable() == 0
        release = ledger.release(hold.hold_id).receipt
        assert release is not None
        assert release.signals == (Relist("TEA-01", "W1", 3, 2),)
        receipt = ledger.reserve("cart-3", [("TEA-01", "W1", 1)])
        assert receipt.signals == (Delist("TEA-01", "W1", 2, 2),)

    def test_stocktake_sets_on_hand_and_records_the_difference(
        self, ledger: Ledger
    ) -> None:
        """A count of 7 against 10 on hand records -3, and the count."""
        ledger.receive("TEA-01", "W1", 10)
        receipt = ledger.adjust("TEA-01", "W1", counted=7, reason="stocktake")
        (movement,) = receipt.movements
        assert (movement.kind, movement.on_hand, movement.counted) == (
            MovementKind.ADJUST,
            -3,
            7,
        )
        assert ledger.balance("TEA-01", "W1").on_hand == 7  # the count
        ledger.adjust("TEA-01", "W1", delta=-2, reason="damaged")
        with pytest.raises(InsufficientStock):
            ledger.adjust("TEA-01", "W1", delta=-6, reason="damaged")
        assert ledger.balance("TEA-01", "W1").on_hand == 5  # 7 - 2

    def test_transfer_moves_available_units_only(self, ledger: Ledger) -> None:
        """A transfer moves on hand between locations and never oversells the source."""
        ledger.receive("TEA-01", "W1", 5)
        ledger.reserve("cart-1", [("TEA-01", "W1", 3)])
        with pytest.raises(InsufficientStock):
            ledger.transfer("TEA-01", "W1", "SHOP-1", 3)
        ledger.transfer("TEA-01", "W1", "SHOP-1", 2)
        assert ledger.balance("TEA-01", "W1") == Balance("TEA-01", "W1", 3, 3)
        assert ledger.balance("TEA-01", "SHOP-1") == Balance("TEA-01", "SHOP-1", 2)

    def test_restock_returns_inspected_goods(self, ledger: Ledger) -> None:
        """A restock raises on hand with its own movement kind."""
        ledger.receive("TEA-01", "W1", 1)
        receipt = ledger.restock("TEA-01", "W1", 1, reason="RMA-12 inspected")
        assert receipt.movements[0].kind is MovementKind.RESTOCK
        assert ledger.balance("TEA-01", "W1").on_hand == 2  # 1 + 1

    # idempotency, expiry sweep, replay

    def test_a_repeated_key_returns_the_first_receipt_and_writes_nothing(
        self, ledger: Ledger, store: LedgerStore
    ) -> None:
        """The same key twice: one hold, one movement, the same receipt."""
        ledger.receive("TEA-01", "W1", 5)
        first = ledger.reserve("cart-1", [("TEA-01", "W1", 2)], key="cb-7781")
        before = self.snapshot(store)
        again = ledger.reserve("cart-1", [("TEA-01", "W1", 2)], key="cb-7781")
        assert again.replayed
        assert not first.replayed
        assert (again.key, again.movements, again.holds, again.balances) == (
            first.key,
            first.movements,
            first.holds,
            first.balances,
        )
        assert self.snapshot(store) == before

    def test_movement_keys_are_unique_per_operation(self, ledger: Ledger) -> None:
        """Each movement has a distinct (key, index), expiries included."""
        ledger.receive("TEA-01", "W1", 5)
        ledger.reserve("cart-1", [("TEA-01", "W1", 2), ("TEA-01", "W1", 1)])
        hold = ledger.reserve("order-2", [("TEA-01", "W1", 2)]).holds[0]
        ledger.commit(hold.hold_id, 1)
        keys = [(m.key, m.index) for m in ledger.movements()]
        assert len(keys) == len(set(keys))

    def test_expire_due_sweeps_only_the_due_holds(
        self, ledger: Ledger, clock: FrozenClock
    ) -> None:
        """A sweep expires what is due, once; later sweeps find nothing."""
        ledger.receive("TEA-01", "W1", 10)
        short = [
            ledger.reserve(f"cart-{i}", [("TEA-01", "W1", 1)]).holds[0]
            for i in range(3)
        ]
        ledger.reserve("cart-long", [("TEA-01", "W1", 1)], ttl=dt.timedelta(hours=2))
        clock.advance(minutes=30)
        swept = ledger.expire_due()
        assert sorted(m.hold_id or "" for m in swept) == sorted(
            h.hold_id for h in short
        )
        assert all(m.kind is MovementKind.EXPIRE for m in swept)
        assert ledger.expire_due() == []
        assert [h.state for h in ledger.holds(state=HoldState.LIVE)] == [HoldState.LIVE]
        assert ledger.balance("TEA-01", "W1").reserved == 1

    def test_replaying_the_movements_rebuilds_the_balances(
        self, ledger: Ledger, clock: FrozenClock
    ) -> None:
        """After a mix of every operation, `audit()` finds nothing to report."""
        ledger.receive("TEA-01", "W1", 10)
        ledger.receive("TEA-01", "W2", 4)
        a = ledger.reserve("order-1", [("TEA-01", "W1", 5), ("TEA-01", "W2", 1)])
        ledger.commit(a.holds[0].hold_id, 3)
        ledger.reserve("cart-2", [("TEA-01", "W1", 2)])
        ledger.ship("order-1", [("TEA-01", "W1", 2)])
        ledger.adjust("TEA-01", "W2", counted=6)
        ledger.transfer("TEA-01", "W2", "W1", 2)
        clock.advance(hours=1)
        assert ledger.audit() == ()

    # the port itself

    def test_compare_and_set_refuses_a_hold_that_moved(
        self, ledger: Ledger, store: LedgerStore, clock: FrozenClock
    ) -> None:
        """A write whose expected hold differs from the stored one changes nothing."""
        ledger.receive("TEA-01", "W1", 5)
        hold = ledger.reserve("order-1", [("TEA-01", "W1", 2)]).holds[0]
        ledger.extend(hold.hold_id, dt.timedelta(hours=1))
        before = self.snapshot(store)
        stale = Plan(
            key="stale-write",
            now=clock.now(),
            holds=[HoldWrite(hold, hold)],
        )
        with pytest.raises(ConcurrencyConflict):
            store.apply(stale)
        assert self.snapshot(store) == before

    def test_a_figure_never_falls_below_zero(
        self, ledger: Ledger, store: LedgerStore, clock: FrozenClock
    ) -> None:
        """A plan that would make reserved negative is refused whole."""
        ledger.receive("TEA-01", "W1", 5)
        before = self.snapshot(store)
        from orderkit.inventory import Movement  # noqa: PLC0415 - this test only

        bad = Plan(
            key="bad-plan",
            now=clock.now(),
            movements=[
                Movement(
                    key="bad-plan",
                    kind=MovementKind.RELEASE,
                    sku="TEA-01",
                    location="W1",
                    reserved=-1,
                    at=clock.now(),
                )
            ],
        )
        with pytest.raises(InvalidQuantity):
            store.apply(bad)
        assert self.snapshot(store) == before

    @pytest.mark.parametrize(
        ("call", "field"),
        [
            pytest.param(lambda led: led.receive("T", "W1", 0), "quantity", id="zero"),
            pytest.param(lambda led: led.receive("T", "W1", -2), "quantity", id="neg"),
            pytest.param(
                lambda led: led.receive("T", "W1", 1.0), "quantity", id="float"
            ),
            pytest.param(lambda led: led.receive("", "W1", 1), "sku", id="empty-sku"),
            pytest.param(lambda led: led.receive("T", "", 1), "location", id="no-loc"),
            pytest.param(
                lambda led: led.reserve("c", [("T", "W1", 1)], ttl=dt.timedelta(0)),
                "ttl",
                id="zero-ttl",
            ),
            pytest.param(
                lambda led: led.reserve("c", [("T", "W1", 1)], ttl=dt.timedelta(-1)),
                "ttl",
                id="negative-ttl",
            ),
            pytest.param(lambda led: led.reserve("c", []), "lines", id="no-lines"),
            pytest.param(
                lambda led: led.reserve("", [("T", "W1", 1)]), "owner", id="owner"
            ),
            pytest.param(lambda led: led.hold("nope"), "hold_id", id="unknown-hold"),
            pytest.param(
                lambda led: led.adjust("T", "W1"), "delta", id="no-adjustment"
            ),
        ],
    )
    def test_bad_input_is_a_typed_error_and_changes_nothing(
        self,
        ledger: Ledger,
        store: LedgerStore,
        call: Callable[[Ledger], object],
        field: str,
    ) -> None:
        """Each bad argument raises a ValidationError naming its field."""
        ledger.receive("T", "W1", 3)
        before = self.snapshot(store)
        with pytest.raises(ValidationError) as error:
            call(ledger)
        assert error.value.field == field
        assert self.snapshot(store) == before

    def test_driver_failures_become_store_errors(
        self, ledger: Ledger, store: LedgerStore
    ) -> None:
        """A failing backend raises StoreError with the driver's error as cause."""
        ledger.receive("TEA-01", "W1", 5)
        if not self.break_store(store):
            pytest.skip("this store has no backend that can fail")
        with pytest.raises(StoreError) as error:
            ledger.reserve("cart-1", [("TEA-01", "W1", 1)])
        assert error.value.__cause__ is not None

    # concurrency and the model

    def test_racers_for_the_last_units_get_exactly_the_stock(
        self, ledger: Ledger, store: LedgerStore
    ) -> None:
        """Several racers reserving one unit at a time never get more than there is."""
        stock = self.race_workers * self.race_attempts // 3
        ledger.receive("HOT-1", "W1", stock)
        factory = self.connect(store)
        if factory is None:
            with concurrent.futures.ThreadPoolExecutor(self.race_workers) as pool:
                granted = list(
                    pool.map(
                        _race_worker,
                        [lambda: store] * self.race_workers,
                        ["HOT-1"] * self.race_workers,
                        [self.race_attempts] * self.race_workers,
                        [_START] * self.race_workers,
                    )
                )
        else:
            context = multiprocessing.get_context("spawn")
            with concurrent.futures.ProcessPoolExecutor(
                self.race_workers, mp_context=context
            ) as pool:
                granted = list(
                    pool.map(
                        _race_worker,
                        [factory] * self.race_workers,
                        ["HOT-1"] * self.race_workers,
                        [self.race_attempts] * self.race_workers,
                        [_START] * self.race_workers,
                    )
                )
        assert sum(granted) == stock
        assert ledger.balance("HOT-1", "W1").available == 0
        assert ledger.audit() == ()

    def test_the_ledger_behaves_like_a_plain_dict_model(self) -> None:
        """Random operations against a dict model: conservation, no oversell, replay."""
        machine = ledger_machine(self.make_store)
        run_state_machine_as_test(
            machine,
            settings=settings(stateful_step_count=min(_steps(), 30)),
        )


def _steps() -> int:
    profile = settings.default
    return 50 if profile is None else profile.stateful_step_count


# --------------------------------------------------------------------------
# KeyStore

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


class _Barrier(Protocol):
    """`threading.Barrier` and `multiprocessing`'s alike."""

    def wait(self, timeout: float | None = None) -> int: ...


def _claim_race(
    factory: Callable[[], KeyStore],
    keys: Sequence[str],
    start: dt.datetime,
    barrier: _Barrier,
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


def _claim_race_process(
    factory: Callable[[], KeyStore],
    keys: Sequence[str],
    start: dt.datetime,
    barrier: _Barrier,
    results: multiprocessing.queues.Queue[list[tuple[str, str]]],
) -> None:
    results.put(_claim_race(factory, keys, start, barrier))


def _won(key: str) -> Outcome:
    return Outcome(succeeded=True, body=f"won {key}".encode())


class KeyStoreContract(abc.ABC):
    """Every rule of `orderkit.ports.KeyStore`, as tests over `make_store()`.

    Subclass it in a test module (its name must start with `Test` for
    pytest to collect it) and implement `make_store`. Each test gets a
    fresh, empty store. Override `connect` when the store can be opened
    again from another process (the race then runs across processes), and
    `break_store` when the backend can be made to fail (error translation
    is then checked).

    .. versionadded:: 0.1.0
    """

    race_workers: int = 4
    """Threads or processes claiming the same keys at once."""
    race_keys: int = 200
    """Keys every racer claims, each in its own order."""

    @abc.abstractmethod
    def make_store(self) -> KeyStore:
        """Return a new, empty store."""

    def connect(self, store: KeyStore) -> Callable[[], KeyStore] | None:  # noqa: ARG002 - a hook for subclasses
        """Return a picklable factory opening `store` again in another process.

        `None` (the default) races threads on `store` itself.
        """
        return None

    def break_store(self, store: KeyStore) -> bool:  # noqa: ARG002 - a hook for subclasses
        """Make the backend fail on its next write (drop a table, revoke rights).

        Return False (the default) when the store has no backend to break.
        """
        return False

    # fixtures

    @pytest.fixture
    def clock(self) -> FrozenClock:
        """A clock at 2026-11-11T00:00Z, when the payment callbacks pour in."""
        return FrozenClock(_START)

    @pytest.fixture
    def store(self) -> KeyStore:
        """A fresh store from `make_store`."""
        return self.make_store()

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
        factory = self.connect(store)
        if factory is None:
            barrier = threading.Barrier(self.race_workers)
            with concurrent.futures.ThreadPoolExecutor(self.race_workers) as pool:
                found = list(
                    pool.map(
                        lambda order: _claim_race(
                            lambda: store, order, clock.now(), barrier
                        ),
                        orders,
                    )
                )
        else:
            found = self._race_processes(factory, orders, clock.now())
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

    def _race_processes(
        self,
        factory: Callable[[], KeyStore],
        orders: list[list[str]],
        start: pendulum.DateTime,
    ) -> list[list[tuple[str, str]]]:
        context = multiprocessing.get_context("spawn")
        barrier = context.Barrier(len(orders))
        results = context.Queue()
        racers = [
            context.Process(
                target=_claim_race_process,
                args=(factory, order, start, barrier, results),
            )
            for order in orders
        ]
        for racer in racers:
            racer.start()
        try:
            found = [results.get(timeout=180) for _ in racers]
        finally:
            for racer in racers:
                racer.join(timeout=60)
        assert [racer.exitcode for racer in racers] == [0] * len(racers)
        return found
