"""The Ledger service: the issue's acceptance scenarios, retries, and audit."""

from __future__ import annotations

import concurrent.futures
import contextlib
import datetime as dt
import json
import sqlite3
from collections.abc import Iterable
from typing import Any

import pendulum
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from orderkit.adapters.memory import MemoryLedgerStore, MemoryUnitOfWork
from orderkit.adapters.sqlite import SqliteLedgerStore
from orderkit.errors import (
    ConcurrencyConflict,
    HoldNotLive,
    IdempotencyConflict,
    InsufficientStock,
    InvalidQuantity,
    ValidationError,
)
from orderkit.inventory import (
    Backorder,
    Balance,
    Delist,
    HoldState,
    Plan,
    Receipt,
    Relist,
    RoutingStrategy,
    Shortage,
    StockSignal,
    route,
)
from orderkit.ports import LedgerStore
from orderkit.services import DeskPolicy, Ledger
from orderkit.testing import FrozenClock
from orderkit.testing.contracts import LedgerStoreContract


T0 = pendulum.datetime(2026, 11, 11, 0, 0)
SKU = "GIFTBOX-MIDAUTUMN"


@pytest.fixture
def store() -> MemoryLedgerStore:
    return MemoryLedgerStore()


@pytest.fixture
def ledger(store: MemoryLedgerStore) -> Ledger:
    return Ledger(store, FrozenClock(T0))


class TestTwoWarehouses:
    """W1 holds 4 and W2 holds 3; routing by most stock, then reserving the route."""

    @pytest.fixture(autouse=True)
    def stock(self, ledger: Ledger) -> None:
        ledger.receive(SKU, "W1", 4)
        ledger.receive(SKU, "W2", 3)

    def reserve_routed(self, ledger: Ledger, owner: str, quantity: int) -> Receipt:
        chosen = route(
            {SKU: quantity},
            ledger.balances(sku=SKU),
            locations=["W1", "W2"],
            strategy=RoutingStrategy.MOST_STOCK,
        )
        return ledger.reserve(owner, chosen.lines)

    def test_an_order_for_5_takes_4_from_w1_and_1_from_w2(self, ledger: Ledger) -> None:
        receipt = self.reserve_routed(ledger, "order-5", 5)
        assert [(h.location, h.quantity) for h in receipt.holds] == [
            ("W1", 4),
            ("W2", 1),
        ]

    def test_with_allocations_an_order_for_3_takes_2_and_1(
        self, ledger: Ledger
    ) -> None:
        for location, quantity in (("W1", 2), ("W2", 1)):
            hold = ledger.reserve("paid-earlier", [(SKU, location, quantity)]).holds[0]
            ledger.commit(hold.hold_id)
        assert [b.available for b in ledger.balances(sku=SKU)] == [2, 2]
        receipt = self.reserve_routed(ledger, "order-3", 3)
        assert [(h.location, h.quantity) for h in receipt.holds] == [
            ("W1", 2),
            ("W2", 1),
        ]

    def test_an_order_for_6_fails_and_changes_nothing(
        self, ledger: Ledger, store: MemoryLedgerStore
    ) -> None:
        for location, quantity in (("W1", 2), ("W2", 1)):
            hold = ledger.reserve("paid-earlier", [(SKU, location, quantity)]).holds[0]
            ledger.commit(hold.hold_id)
        before = LedgerStoreContract.snapshot(store)
        with pytest.raises(InsufficientStock) as error:
            self.reserve_routed(ledger, "order-6", 6)
        assert error.value.shortages == (Shortage(SKU, None, 6, 4),)
        assert LedgerStoreContract.snapshot(store) == before


class TestFewestShipments:
    """10 units from A(3), B(4), C(7), D(3) by distance: two shipments, not three."""

    def test_two_shipments_from_the_ledgers_balances(self, ledger: Ledger) -> None:
        for location, quantity in (("A", 3), ("B", 4), ("C", 7), ("D", 3)):
            ledger.receive(SKU, location, quantity)
        chosen = route(
            {SKU: 10},
            ledger.balances(sku=SKU),
            distances={"A": 1, "B": 2, "C": 3, "D": 4},
        )
        assert chosen.shipments == 2
        assert set(chosen.locations) != {"A", "B", "D"}
        receipt = ledger.reserve("order-10", chosen.lines)
        assert sum(h.quantity for h in receipt.holds) == 10


class TestFlashSaleInMemory:
    """12,000 one-unit attempts from 4 threads against 50 units: exactly 50 granted."""

    def test_exactly_the_stock_is_granted(self, ledger: Ledger) -> None:
        ledger.receive(SKU, "W1", 50)

        def attempts(worker: int) -> int:
            granted = 0
            for i in range(3000):
                try:
                    ledger.reserve(f"buyer-{worker}-{i}", [(SKU, "W1", 1)])
                except InsufficientStock:
                    continue
                granted += 1
            return granted

        with concurrent.futures.ThreadPoolExecutor(4) as pool:
            granted = sum(pool.map(attempts, range(4)))
        assert granted == 50
        balance = ledger.balance(SKU, "W1")
        assert (balance.available, balance.reserved) == (0, 50)
        assert len(ledger.holds(sku=SKU)) == 50
        assert ledger.audit() == ()


class _Conflicting:
    """A store that reports a concurrent change on the first `times` writes."""

    def __init__(self, store: LedgerStore, times: int) -> None:
        self.store = store
        self.times = times
        self.calls = 0

    def apply(self, plan: Plan) -> Receipt:
        self.calls += 1
        if self.calls <= self.times:
            raise ConcurrencyConflict("hold:simulated")
        return self.store.apply(plan)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.store, name)


class TestRetries:
    """A compare-and-set that loses a race is planned again from a fresh read."""

    @pytest.mark.parametrize("times", [1, 4])
    def test_commit_retries_then_succeeds(self, times: int) -> None:
        inner = MemoryLedgerStore()
        Ledger(inner, FrozenClock(T0)).receive(SKU, "W1", 3)
        hold = Ledger(inner, FrozenClock(T0)).reserve("o", [(SKU, "W1", 2)]).holds[0]
        flaky = _Conflicting(inner, times)
        outcome = Ledger(flaky, FrozenClock(T0)).commit(hold.hold_id)
        assert outcome.changed
        assert flaky.calls == times + 1

    def test_gives_up_after_five_conflicts(self) -> None:
        inner = MemoryLedgerStore()
        Ledger(inner, FrozenClock(T0)).receive(SKU, "W1", 3)
        hold = Ledger(inner, FrozenClock(T0)).reserve("o", [(SKU, "W1", 2)]).holds[0]
        flaky = _Conflicting(inner, 5)
        with pytest.raises(ConcurrencyConflict) as error:
            Ledger(flaky, FrozenClock(T0)).release(hold.hold_id)
        assert error.value.what == f"hold:{hold.hold_id}"
        assert inner.hold(hold.hold_id) == hold


class TestAudit:
    """`audit()` reports balances that the movements do not add up to."""

    def test_a_tampered_balance_is_reported(
        self, ledger: Ledger, store: MemoryLedgerStore
    ) -> None:
        ledger.receive(SKU, "W1", 5)
        store._s.figures_[SKU, "W1"][0] = 7
        ((stored, replayed),) = ledger.audit()
        assert (stored.on_hand, replayed.on_hand) == (7, 5)

    def test_a_hold_falling_due_during_the_audit_is_no_mismatch(
        self, store: MemoryLedgerStore
    ) -> None:
        class Ticking:
            """A real clock: every reading a second after the last."""

            def __init__(self) -> None:
                self.at = T0

            def now(self) -> pendulum.DateTime:
                self.at = self.at.add(seconds=1)
                return self.at

            def sleep(self, seconds: float) -> None:
                self.at = self.at.add(seconds=seconds)

        ledger = Ledger(store, Ticking())
        ledger.receive(SKU, "W1", 5)  # at T0 + 1 s
        ledger.reserve("cart", [(SKU, "W1", 2)], ttl=dt.timedelta(seconds=2))
        # Due at T0 + 4 s: the audit's next reading, after one at T0 + 3 s.
        assert ledger.audit() == ()


class TestKeyReuse:
    """A key reused for another kind of call is a conflict, not a crash."""

    def test_release_under_a_receive_key(self, ledger: Ledger) -> None:
        ledger.receive(SKU, "W1", 2, key="po-1")
        hold = ledger.reserve("cart", [(SKU, "W1", 1)]).holds[0]
        with pytest.raises(IdempotencyConflict) as error:
            ledger.release(hold.hold_id, key="po-1")
        assert error.value.key == "po-1"
        assert ledger.hold(hold.hold_id).state is HoldState.LIVE


class TestArguments:
    """Arguments the service checks itself, before any store is touched."""

    @pytest.mark.parametrize(
        "lines",
        [
            pytest.param("SKU,W1,1", id="string"),
            pytest.param([(SKU, "W1")], id="pair"),
            pytest.param([[SKU, "W1", 1]], id="list"),
            pytest.param(42, id="number"),
        ],
    )
    def test_lines_must_be_stock_lines(self, ledger: Ledger, lines: Any) -> None:
        ledger.receive(SKU, "W1", 1)
        with pytest.raises(ValidationError) as error:
            ledger.reserve("cart", lines)
        assert error.value.field.startswith("lines")

    def test_a_ttl_ending_after_the_last_datetime_is_refused(
        self, ledger: Ledger
    ) -> None:
        ledger.receive(SKU, "W1", 1)
        with pytest.raises(ValidationError) as error:
            ledger.reserve("cart", [(SKU, "W1", 1)], ttl=dt.timedelta.max)
        assert error.value.field == "ttl"
        hold = ledger.reserve("cart", [(SKU, "W1", 1)]).holds[0]
        with pytest.raises(ValidationError) as error:
            ledger.extend(hold.hold_id, dt.timedelta.max)
        assert error.value.field == "ttl"

    def test_transfer_to_itself_is_refused(self, ledger: Ledger) -> None:
        ledger.receive(SKU, "W1", 1)
        with pytest.raises(ValidationError) as error:
            ledger.transfer(SKU, "W1", "W1", 1)
        assert error.value.field == "target"

    def test_policy_must_be_a_policy(self, ledger: Ledger) -> None:
        with pytest.raises(ValidationError) as error:
            ledger.set_policy(SKU, "backorder")  # type: ignore[arg-type]
        assert error.value.field == "policy"

    def test_paging_arguments(self, ledger: Ledger) -> None:
        for after, limit in ((-1, 10), (0, 0)):
            with pytest.raises(ValidationError):
                ledger.movements(after=after, limit=limit)

    def test_balance_of_a_known_pair_never_stocked_is_zero(
        self, ledger: Ledger
    ) -> None:
        ledger.receive(SKU, "W1", 1)
        ledger.receive("MUG", "W2", 1)
        assert ledger.balance(SKU, "W2") == Balance(SKU, "W2")


class TestSellablePushes:
    """With an outbox, every stock change tells the channels what they may sell."""

    def test_goods_in_stocktake_hold_and_sweep(self) -> None:
        unit = MemoryUnitOfWork()
        clock = FrozenClock(pendulum.datetime(2026, 11, 11))
        with unit as uow:
            ledger = Ledger(uow.ledger, clock, outbox=uow.outbox)
            ledger.receive("TEA-01", "W1", 10, key="grn-1")
            ledger.receive("TEA-01", "W2", 5, key="grn-2")
            ledger.adjust("TEA-01", "W2", counted=4, key="count-1")
            ledger.reserve("order-1", [("TEA-01", "W1", 3)], key="hold-1")
            ledger.receive("TEA-01", "W1", 10, key="grn-1")  # a retry: nothing new
            clock.advance(hours=1)
            ledger.expire_due()
            uow.commit()
        with unit as uow:
            sent = [
                json.loads(m.payload)["sellable"]
                for m in uow.outbox.unsent()
                if m.stream == "sku:TEA-01"
            ]
        assert sent == [10, 15, 14, 11, 14]

    def test_a_commit_and_a_shipment_tell_nothing_they_change_no_figure(
        self,
    ) -> None:
        """A payment and its parcel repeat no figure; cancelling gives units back."""
        unit = MemoryUnitOfWork()
        clock = FrozenClock(pendulum.datetime(2026, 11, 11))
        with unit as uow:
            ledger = Ledger(uow.ledger, clock, outbox=uow.outbox)
            ledger.receive("TEA-01", "W1", 10, key="grn-1")
            held = ledger.reserve("order-1", [("TEA-01", "W1", 3)], key="hold-1")
            ledger.commit(held.holds[0].hold_id, key="paid-1")
            ledger.ship("order-1", [("TEA-01", "W1", 1)], key="parcel-1")
            ledger.unallocate("order-1", [("TEA-01", "W1", 2)], key="cancel-1")
            uow.commit()
        with unit as uow:
            sent = [
                (m.message_id.split(":")[-1], json.loads(m.payload)["sellable"])
                for m in uow.outbox.unsent()
            ]
        assert sent == [("grn-1", 10), ("hold-1", 7), ("cancel-1", 9)]

    def test_a_safety_stock_change_tells_the_channels(self) -> None:
        unit = MemoryUnitOfWork()
        clock = FrozenClock(pendulum.datetime(2026, 11, 11))
        with unit as uow:
            ledger = Ledger(uow.ledger, clock, outbox=uow.outbox)
            ledger.receive("TEA-01", "W1", 3, key="grn-1")
            ledger.set_safety_stock("TEA-01", "W1", 3)
            ledger.set_safety_stock("TEA-01", "W1", 4)  # still nothing for sale
            ledger.set_safety_stock("TEA-01", "W1", 1)
            uow.commit()
        with unit as uow:
            sent = [json.loads(m.payload)["sellable"] for m in uow.outbox.unsent()]
        assert sent == [3, 0, 2]

    @pytest.mark.parametrize("minutes_apart", [0, 1])
    def test_a_safety_stock_set_back_to_an_earlier_figure_tells_them_again(
        self, minutes_apart: int
    ) -> None:
        unit = MemoryUnitOfWork()
        clock = FrozenClock(pendulum.datetime(2026, 11, 11))
        for figure in (5, 3, 5):
            with unit as uow:
                ledger = Ledger(uow.ledger, clock, outbox=uow.outbox)
                if figure == 5 and not uow.outbox.unsent():
                    ledger.receive("TEA-01", "W1", 10, key="grn-1")
                ledger.set_safety_stock("TEA-01", "W1", figure)
                uow.commit()
            clock.advance(minutes=minutes_apart)
        with unit as uow:
            sent = [json.loads(m.payload)["sellable"] for m in uow.outbox.unsent()]
        assert sent == [10, 5, 7, 5]

    @pytest.mark.parametrize(("safety", "sent"), [(3, [10, 0, 7]), (0, [10, 0, 10])])
    def test_a_safety_stock_over_a_lapsed_hold_tells_one_figure(
        self, safety: int, sent: list[int]
    ) -> None:
        """The lapse and the new safety stock: one message, never units kept back."""
        unit = MemoryUnitOfWork()
        clock = FrozenClock(pendulum.datetime(2026, 11, 11))
        with unit as uow:
            ledger = Ledger(uow.ledger, clock, outbox=uow.outbox)
            ledger.receive("TEA-01", "W1", 10, key="grn-1")
            ledger.reserve("cart-1", [("TEA-01", "W1", 10)], key="hold-1")
            uow.commit()
        clock.advance(minutes=16)  # the hold lapses, not swept yet
        with unit as uow:
            ledger = Ledger(uow.ledger, clock, outbox=uow.outbox)
            ledger.set_safety_stock("TEA-01", "W1", safety)
            uow.commit()
        with unit as uow:
            told = [json.loads(m.payload)["sellable"] for m in uow.outbox.unsent()]
        assert told == sent

    def test_without_an_outbox_nothing_is_written(self) -> None:
        unit = MemoryUnitOfWork()
        clock = FrozenClock(pendulum.datetime(2026, 11, 11))
        with unit as uow:
            Ledger(uow.ledger, clock).receive("TEA-01", "W1", 10)
            uow.commit()
        with unit as uow:
            assert uow.outbox.unsent() == []


@pytest.fixture(params=["memory", "sqlite"])
def any_store(request: pytest.FixtureRequest, tmp_path: Any) -> LedgerStore:
    if request.param == "memory":
        return MemoryLedgerStore()
    return SqliteLedgerStore(str(tmp_path / "ledger.db"))


class TestSafetyStockAfterALapsedHold:
    """A hold past its expiry, not swept yet: each crossing is signalled once."""

    def test_the_relist_comes_from_the_safety_change_and_the_sweep_is_quiet(
        self, any_store: LedgerStore
    ) -> None:
        clock = FrozenClock(T0)
        ledger = Ledger(any_store, clock)
        ledger.receive("TEA", "W1", 2)
        ledger.set_safety_stock("TEA", "W1", 1)
        hold = ledger.reserve("cart-1", [("TEA", "W1", 1)]).holds[0]
        clock.advance(minutes=16)
        assert ledger.set_safety_stock("TEA", "W1", 0) == Relist("TEA", "W1", 2, 0)
        assert ledger.hold(hold.hold_id).state is HoldState.EXPIRED
        assert ledger.expire_due().signals == ()
        assert ledger.receive("TEA", "W1", 1).signals == ()

    def test_a_delist_and_a_relist_not_two_of_each(
        self, any_store: LedgerStore
    ) -> None:
        clock = FrozenClock(T0)
        ledger = Ledger(any_store, clock)
        ledger.receive("TEA", "W1", 1)
        told: list[StockSignal | None] = list(
            ledger.reserve("cart-1", [("TEA", "W1", 1)]).signals
        )
        clock.advance(minutes=16)
        told.append(ledger.set_safety_stock("TEA", "W1", 1))  # sellable 0 -> 0
        told.append(ledger.set_safety_stock("TEA", "W1", 0))  # sellable 0 -> 1
        told.extend(ledger.expire_due().signals)
        assert told == [
            Delist("TEA", "W1", 0, 0),
            None,
            Relist("TEA", "W1", 1, 0),
        ]

    def test_a_lapsed_hold_on_another_balance_is_left_to_the_sweep(self) -> None:
        clock = FrozenClock(T0)
        ledger = Ledger(MemoryLedgerStore(), clock)
        ledger.receive("TEA", "W1", 1)
        ledger.receive("TEA", "W2", 1)
        ledger.reserve("cart-1", [("TEA", "W2", 1)])
        clock.advance(minutes=16)
        assert ledger.set_safety_stock("TEA", "W1", 0) is None
        assert ledger.expire_due().signals == (Relist("TEA", "W2", 1, 0),)


_ROWS = [("A", "W1"), ("A", "W2")]
_STEPS = st.one_of(
    st.tuples(st.just("receive"), st.sampled_from(_ROWS), st.integers(1, 3)),
    st.tuples(
        st.just("reserve"),
        st.sampled_from(["c1", "c2"]),
        st.sampled_from(_ROWS),
        st.integers(1, 3),
    ),
    st.tuples(st.just("commit"), st.integers(0, 20)),
    st.tuples(st.just("release"), st.integers(0, 20)),
    st.tuples(st.just("tick"), st.integers(1, 20)),
    st.tuples(st.just("sweep")),
    st.tuples(st.just("count"), st.sampled_from(_ROWS), st.integers(0, 4)),
    st.tuples(st.just("safety"), st.sampled_from(_ROWS), st.integers(0, 2)),
)


class TestSignalsTellEveryCrossingOnce:
    """A channel that follows every signal always shows what is sellable."""

    @settings(max_examples=300, deadline=None)
    @given(steps=st.lists(_STEPS, max_size=30))
    def test_any_run(self, steps: list[tuple[Any, ...]]) -> None:  # noqa: C901 - one branch per step
        clock = FrozenClock(T0)
        ledger = Ledger(MemoryLedgerStore(), clock)
        listed = {}
        for sku, location in _ROWS:
            ledger.receive(sku, location, 1)
            listed[sku, location] = True
        holds: list[str] = []

        def tell(signals: Iterable[StockSignal | None]) -> None:
            for signal in signals:
                if signal is None:
                    continue
                row = (signal.sku, signal.location)
                # A Delist for a listing that is down, or a Relist for one
                # that is up, says the channel missed a crossing.
                assert listed[row] is isinstance(signal, Delist), (signal, steps)
                listed[row] = isinstance(signal, Relist)

        for step in steps:
            kind = step[0]
            try:
                if kind == "receive":
                    tell(ledger.receive(step[1][0], step[1][1], step[2]).signals)
                elif kind == "reserve":
                    receipt = ledger.reserve(step[1], [(*step[2], step[3])])
                    holds.append(receipt.holds[0].hold_id)
                    tell(receipt.signals)
                elif kind in ("commit", "release") and holds:
                    hold_id = holds[step[1] % len(holds)]
                    done = (
                        ledger.commit(hold_id)
                        if kind == "commit"
                        else ledger.release(hold_id)
                    )
                    tell(done.receipt.signals if done.receipt else ())
                elif kind == "tick":
                    clock.advance(minutes=step[1])
                elif kind == "sweep":
                    tell(ledger.expire_due().signals)
                elif kind == "count":
                    tell(ledger.adjust(*step[1], counted=step[2]).signals)
                elif kind == "safety":
                    sku, location = step[1]
                    tell([ledger.set_safety_stock(sku, location, step[2])])
            except (InsufficientStock, HoldNotLive):
                pass
        tell(ledger.expire_due().signals)
        for balance in ledger.balances():
            row = (balance.sku, balance.location)
            assert listed[row] is (balance.sellable() > 0), (balance, steps)


class TestAuditOfALostMovement:
    """A store whose movements lost one is reported, not raised on."""

    def test_a_lost_receipt_is_a_mismatch(self, tmp_path: Any) -> None:
        path = str(tmp_path / "ledger.db")
        ledger = Ledger(SqliteLedgerStore(path), FrozenClock(T0))
        ledger.receive(SKU, "W1", 5)
        ledger.adjust(SKU, "W1", delta=-2)
        ledger.receive(SKU, "W2", 1)
        with contextlib.closing(sqlite3.connect(path)) as db:
            db.execute("DELETE FROM orderkit_movements WHERE kind = 'receive'")
            db.commit()
        found = ledger.audit()
        assert [
            (stored.location, stored.on_hand, replayed.on_hand)
            for stored, replayed in found
        ] == [("W1", 3, -2), ("W2", 1, 0)]


class TestCommitArguments:
    """`commit` refuses a quantity beyond the hold, however often it is called."""

    def test_more_than_the_hold_after_it_was_committed(self, ledger: Ledger) -> None:
        ledger.receive(SKU, "W1", 5)
        hold = ledger.reserve("order-1", [(SKU, "W1", 3)]).holds[0]
        assert ledger.commit(hold.hold_id, 2).changed
        with pytest.raises(InvalidQuantity) as error:
            ledger.commit(hold.hold_id, 4)
        assert (error.value.field, error.value.value) == ("quantity", 4)
        again = ledger.commit(hold.hold_id, 3)  # a retry within the hold
        assert (again.changed, again.hold.committed) == (False, 2)


class TestReadFilters:
    """The filters of `holds` and `balances` are checked like every argument."""

    @pytest.mark.parametrize(
        ("filters", "field"),
        [
            pytest.param({"state": "live"}, "state", id="state-as-text"),
            pytest.param({"state": 1}, "state", id="state-as-number"),
            pytest.param({"sku": 5}, "sku", id="sku-number"),
            pytest.param({"sku": ""}, "sku", id="sku-empty"),
            pytest.param({"owner": "a\x00b"}, "owner", id="owner-nul"),
        ],
    )
    def test_holds(
        self, any_store: LedgerStore, filters: dict[str, Any], field: str
    ) -> None:
        ledger = Ledger(any_store, FrozenClock(T0))
        ledger.receive(SKU, "W1", 5)
        ledger.reserve("order-1", [(SKU, "W1", 3)])
        with pytest.raises(ValidationError) as error:
            ledger.holds(**filters)
        assert error.value.field == field
        assert len(ledger.holds(state=HoldState.LIVE, sku=SKU, owner="order-1")) == 1

    @pytest.mark.parametrize(
        ("filters", "field"),
        [
            pytest.param({"sku": 5}, "sku", id="sku-number"),
            pytest.param({"location": ""}, "location", id="location-empty"),
            pytest.param({"location": "x" * 256}, "location", id="location-long"),
        ],
    )
    def test_balances(
        self, any_store: LedgerStore, filters: dict[str, Any], field: str
    ) -> None:
        ledger = Ledger(any_store, FrozenClock(T0))
        ledger.receive(SKU, "W1", 5)
        with pytest.raises(ValidationError) as error:
            ledger.balances(**filters)
        assert error.value.field == field


class TestDeskLocationsAreOrdered:
    """The desk's locations rank them, so they must come in the caller's order."""

    @pytest.mark.parametrize(
        "locations",
        [
            pytest.param({"W1", "W2"}, id="set"),
            pytest.param(frozenset({"W1", "W2"}), id="frozenset"),
            pytest.param({"W1": 0, "W2": 1}.keys(), id="dict-keys"),
        ],
    )
    def test_an_unordered_collection_is_refused(self, locations: Any) -> None:
        with pytest.raises(ValidationError) as error:
            DeskPolicy(locations=locations)
        assert error.value.field == "locations"
        assert DeskPolicy(locations=("W1", "W2")).locations == ("W1", "W2")


class TestCorrections:
    """A correction keeps what is promised to buyers; a stocktake records the shelf."""

    def test_a_correction_below_what_is_promised_is_refused(
        self, ledger: Ledger
    ) -> None:
        ledger.receive(SKU, "W1", 5)
        hold = ledger.reserve("order-1", [(SKU, "W1", 5)]).holds[0]
        with pytest.raises(InsufficientStock) as error:
            ledger.adjust(SKU, "W1", delta=-3, reason="damaged")
        assert error.value.shortages == (Shortage(SKU, "W1", 3, 0, "available"),)
        assert ledger.balance(SKU, "W1") == Balance(SKU, "W1", 5, 5, 0)
        ledger.release(hold.hold_id)
        ledger.adjust(SKU, "W1", delta=-3, reason="damaged")
        assert ledger.balance(SKU, "W1").available == 2

    def test_a_correction_may_reach_a_backorder_floor(self, ledger: Ledger) -> None:
        ledger.set_policy(SKU, Backorder(2))
        ledger.receive(SKU, "W1", 5)
        ledger.reserve("order-1", [(SKU, "W1", 4)])
        ledger.adjust(SKU, "W1", delta=-3)  # available 1 -> -2: the floor
        assert ledger.balance(SKU, "W1").available == -2
        with pytest.raises(InsufficientStock):
            ledger.adjust(SKU, "W1", delta=-1)

    def test_a_stocktake_below_what_is_promised_is_recorded_and_delists(
        self, ledger: Ledger
    ) -> None:
        ledger.receive(SKU, "W1", 6)
        ledger.reserve("order-1", [(SKU, "W1", 5)])
        receipt = ledger.adjust(SKU, "W1", counted=2, reason="stocktake")
        assert receipt.signals == (Delist(SKU, "W1", -3, 0),)
        assert ledger.balance(SKU, "W1").available == -3
        with pytest.raises(InsufficientStock):
            ledger.reserve("cart-2", [(SKU, "W1", 1)])
        # Sellable was zero already: the next count says nothing more.
        assert ledger.adjust(SKU, "W1", counted=1).signals == ()
        assert ledger.receive(SKU, "W1", 5).signals == (Relist(SKU, "W1", 1, 0),)


class _WatchedStreams:
    """An outbox's stream locks, and the store's sweep, written down in turn."""

    def __init__(
        self,
        store: LedgerStore,
        *,
        tells_its_time: bool = True,
        lists_due_holds: bool = True,
    ) -> None:
        self.store = store
        self.tells_its_time = tells_its_time
        self.lists_due_holds = lists_due_holds
        self.taken: list[str] = []
        self.swept_unlocked: list[str] = []
        self.listed: list[HoldState | None] = []

    def lock_streams(self, streams: Iterable[str]) -> None:
        self.taken.extend(streams)

    def add(self, messages: Iterable[Any]) -> None:
        list(messages)

    def expire_due(self, now: pendulum.DateTime, *, limit: int | None = None) -> Any:
        swept = self.store.expire_due(now, limit=limit)
        self.swept_unlocked.extend(
            m.sku for m in swept if f"sku:{m.sku}" not in self.taken
        )
        return swept

    def holds(self, *, state: HoldState | None = None, **filters: Any) -> Any:
        self.listed.append(state)
        return self.store.holds(state=state, **filters)

    def __getattr__(self, name: str) -> Any:
        if name == "high_water" and not self.tells_its_time:
            raise AttributeError(name)  # a host's store that does not tell it
        if name == "due_holds" and not self.lists_due_holds:
            raise AttributeError(name)  # nor list the holds due
        return getattr(self.store, name)


def _behind_the_store(
    store: LedgerStore, clock: FrozenClock, **watched: bool
) -> tuple[Ledger, _WatchedStreams, str]:
    """A hold due by the store's time (another process wrote later), not the clock's."""
    spy = _WatchedStreams(store, **watched)
    ledger = Ledger(spy, clock, outbox=spy)
    ledger.receive("TEA", "W1", 1)
    ledger.receive("MUG", "W1", 1)
    ttl = dt.timedelta(minutes=10)
    hold = ledger.reserve("cart-1", [("TEA", "W1", 1)], ttl=ttl).holds[0]
    clock.advance(minutes=20)
    ledger.receive("MUG", "W1", 1)  # another process's write: the store's time
    clock.advance(minutes=-15)  # this process's clock is behind it
    return ledger, spy, hold.hold_id


class TestSweepBehindTheStoresTime:
    """A sweep by a clock behind the store's takes every stream it sweeps first."""

    def test_the_sweep_goes_by_the_stores_time_streams_first(
        self, any_store: LedgerStore
    ) -> None:
        ledger, spy, hold_id = _behind_the_store(any_store, FrozenClock(T0))

        swept = ledger.expire_due()

        assert [m.hold_id for m in swept] == [hold_id]
        assert spy.swept_unlocked == []
        assert ledger.hold(hold_id).state is HoldState.EXPIRED

    def test_a_store_that_lists_due_holds_is_not_read_whole(
        self, any_store: LedgerStore
    ) -> None:
        ledger, spy, hold_id = _behind_the_store(any_store, FrozenClock(T0))
        spy.listed.clear()

        swept = ledger.expire_due()

        assert [m.hold_id for m in swept] == [hold_id]
        assert spy.swept_unlocked == []
        assert spy.listed == []

    def test_a_store_that_does_not_list_due_holds_is_swept_streams_first(
        self, any_store: LedgerStore
    ) -> None:
        ledger, spy, hold_id = _behind_the_store(
            any_store, FrozenClock(T0), lists_due_holds=False
        )

        swept = ledger.expire_due()

        assert [m.hold_id for m in swept] == [hold_id]
        assert spy.swept_unlocked == []
        assert HoldState.LIVE in spy.listed

    def test_a_store_that_does_not_tell_its_time_is_swept_by_the_clock(
        self, any_store: LedgerStore
    ) -> None:
        ledger, spy, hold_id = _behind_the_store(
            any_store, FrozenClock(T0), tells_its_time=False
        )

        assert list(ledger.expire_due()) == []
        assert spy.swept_unlocked == []
        # Due by the store's time, the hold blocks nobody before it is swept.
        assert ledger.balance("TEA", "W1").available == 1
        assert ledger.reserve("cart-2", [("TEA", "W1", 1)]).holds[0].owner == "cart-2"
        assert ledger.hold(hold_id).state is HoldState.EXPIRED

    def test_an_audit_behind_the_stores_time_finds_nothing(
        self, any_store: LedgerStore
    ) -> None:
        ledger, _, _ = _behind_the_store(any_store, FrozenClock(T0))

        assert ledger.audit() == ()
