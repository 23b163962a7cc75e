"""The Ledger service: the issue's acceptance scenarios, retries, and audit."""

from __future__ import annotations

import concurrent.futures
import datetime as dt
import json
from typing import Any

import pendulum
import pytest

from orderkit.adapters.memory import MemoryLedgerStore, MemoryUnitOfWork
from orderkit.errors import (
    ConcurrencyConflict,
    IdempotencyConflict,
    InsufficientStock,
    ValidationError,
)
from orderkit.inventory import (
    Balance,
    HoldState,
    Plan,
    Receipt,
    RoutingStrategy,
    Shortage,
    route,
)
from orderkit.ports import LedgerStore
from orderkit.services import Ledger
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

    def test_without_an_outbox_nothing_is_written(self) -> None:
        unit = MemoryUnitOfWork()
        clock = FrozenClock(pendulum.datetime(2026, 11, 11))
        with unit as uow:
            Ledger(uow.ledger, clock).receive("TEA-01", "W1", 10)
            uow.commit()
        with unit as uow:
            assert uow.outbox.unsent() == []
