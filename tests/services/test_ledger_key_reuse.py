"""A ledger key names one request: a retry replays, another request is refused."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator

import pytest
from tests.services._samples import TEA as SAMPLE_TEA
from tests.services._samples import awaiting_payment, sh1_desk

from orderkit.dedupe import IdempotencyKey
from orderkit.errors import ConcurrencyConflict, IdempotencyConflict, InsufficientStock
from orderkit.inventory import HoldState, Receipt, StockLine
from orderkit.orders import Address, Buyer, OrderPlaced
from orderkit.ports import UnitOfWork
from orderkit.services import Ledger
from orderkit.testing import FrozenClock


TEA, MUG = "TEA", "MUG"


@pytest.fixture
def ledger(unit: UnitOfWork, clock: FrozenClock) -> Iterator[Ledger]:
    """A ledger over the unit's store (memory, SQLite), with TEA 10 at SH."""
    with unit as uow:
        made = Ledger(uow.ledger, clock, outbox=uow.outbox)
        made.receive(TEA, "SH", 10)
        made.receive(MUG, "SH", 10)
        yield made
        uow.commit()


def _refused(call: Callable[[], object], key: str) -> None:
    with pytest.raises(IdempotencyConflict) as caught:
        call()
    assert key == caught.value.key


def _replays(first: Receipt, again: Receipt) -> None:
    assert again.replayed
    assert (first.key, first.movements) == (again.key, again.movements)


class TestGoodsIn:
    """receive, restock, adjust and transfer: kind, SKU, location, quantity."""

    def test_another_sku_location_or_quantity_is_refused(self, ledger: Ledger) -> None:
        ledger.receive(TEA, "SH", 10, key="PO-1")
        for call in (
            lambda: ledger.receive(MUG, "SH", 10, key="PO-1"),
            lambda: ledger.receive(TEA, "GZ", 10, key="PO-1"),
            lambda: ledger.receive(TEA, "SH", 3, key="PO-1"),
            lambda: ledger.restock(TEA, "SH", 10, key="PO-1"),
            lambda: ledger.adjust(TEA, "SH", delta=10, key="PO-1"),
            lambda: ledger.transfer(TEA, "SH", "GZ", 4, key="PO-1"),
            lambda: ledger.reserve("cart", [(TEA, "SH", 1)], key="PO-1"),
        ):
            _refused(call, "PO-1")
        # Nothing was written by the refused calls: MUG stayed at 10, no GZ.
        assert ledger.balance(MUG, "SH").on_hand == 10
        assert ledger.balance(TEA, "SH").on_hand == 20
        assert [b.location for b in ledger.balances(sku=TEA)] == ["SH"]

    def test_the_same_call_replays_whatever_the_reason(self, ledger: Ledger) -> None:
        first = ledger.receive(TEA, "SH", 10, reason="PO", key="PO-1")
        _replays(first, ledger.receive(TEA, "SH", 10, reason="again", key="PO-1"))
        first = ledger.restock(MUG, "SH", 2, key="RMA-1")
        _replays(first, ledger.restock(MUG, "SH", 2, key="RMA-1"))

    def test_a_stocktake_retried_after_the_shelf_moved_replays(
        self, ledger: Ledger
    ) -> None:
        first = ledger.adjust(TEA, "SH", counted=7, key="count-1")
        ledger.receive(TEA, "SH", 5)
        _replays(first, ledger.adjust(TEA, "SH", counted=7, key="count-1"))
        _refused(lambda: ledger.adjust(TEA, "SH", counted=8, key="count-1"), "count-1")
        _refused(lambda: ledger.adjust(TEA, "SH", delta=-3, key="count-1"), "count-1")
        assert ledger.balance(TEA, "SH").on_hand == 12

    def test_a_transfer_is_its_source_and_target(self, ledger: Ledger) -> None:
        first = ledger.transfer(TEA, "SH", "GZ", 4, key="move-1")
        _replays(first, ledger.transfer(TEA, "SH", "GZ", 4, key="move-1"))
        _refused(lambda: ledger.transfer(TEA, "GZ", "SH", 4, key="move-1"), "move-1")
        _refused(lambda: ledger.transfer(TEA, "SH", "BJ", 4, key="move-1"), "move-1")
        _refused(lambda: ledger.transfer(MUG, "SH", "GZ", 4, key="move-1"), "move-1")

    def test_a_retry_replays_even_when_it_would_fail_now(self, ledger: Ledger) -> None:
        first = ledger.transfer(TEA, "SH", "GZ", 10, key="move-all")
        with pytest.raises(InsufficientStock):
            ledger.transfer(TEA, "SH", "GZ", 10)
        _replays(first, ledger.transfer(TEA, "SH", "GZ", 10, key="move-all"))


class TestReservations:
    """reserve: its owner and its lines, summed per SKU and location."""

    def test_the_same_lines_in_another_order_replay(self, ledger: Ledger) -> None:
        first = ledger.reserve("cart-1", [(TEA, "SH", 2), (MUG, "SH", 1)], key="r-1")
        again = ledger.reserve(
            "cart-1",
            [(MUG, "SH", 1), (TEA, "SH", 1), (TEA, "SH", 1)],
            ttl=dt.timedelta(hours=1),
            key="r-1",
        )
        _replays(first, again)

    def test_another_owner_or_line_is_refused(self, ledger: Ledger) -> None:
        ledger.reserve("cart-1", [(TEA, "SH", 2)], key="r-1")
        for call in (
            lambda: ledger.reserve("cart-2", [(TEA, "SH", 2)], key="r-1"),
            lambda: ledger.reserve("cart-1", [(TEA, "SH", 3)], key="r-1"),
            lambda: ledger.reserve("cart-1", [(MUG, "SH", 2)], key="r-1"),
            lambda: ledger.reserve(
                "cart-1", [(TEA, "SH", 2), (MUG, "SH", 1)], key="r-1"
            ),
            lambda: ledger.receive(TEA, "SH", 2, key="r-1"),
        ):
            _refused(call, "r-1")
        assert [h.owner for h in ledger.holds(state=HoldState.LIVE)] == ["cart-1"]

    def test_replacing_the_owners_holds_is_still_the_same_request(
        self, ledger: Ledger
    ) -> None:
        ledger.reserve("cart-1", [(TEA, "SH", 2)])
        first = ledger.reserve("cart-1", [(TEA, "SH", 3)], key="r-2")
        _replays(first, ledger.reserve("cart-1", [(TEA, "SH", 3)], key="r-2"))

    def test_the_desks_retry_may_be_routed_elsewhere(self, ledger: Ledger) -> None:
        ledger.receive(TEA, "GZ", 5)
        ttl = dt.timedelta(minutes=30)
        first = ledger._reserve_made(
            "order:shop:1", [StockLine(TEA, "SH", 10)], ttl, "order 1", "o1:hold:1"
        )
        # The first hold took SH: the same order version now routes to GZ.
        again = ledger._reserve_made(
            "order:shop:1",
            [StockLine(TEA, "GZ", 5), StockLine(TEA, "SH", 5)],
            ttl,
            "order 1",
            "o1:hold:1",
        )
        _replays(first, again)
        for owner, lines in (
            ("order:shop:2", [StockLine(TEA, "SH", 10)]),
            ("order:shop:1", [StockLine(TEA, "SH", 9)]),
            ("order:shop:1", [StockLine(MUG, "SH", 10)]),
        ):
            with pytest.raises(IdempotencyConflict):
                ledger._reserve_made(owner, lines, ttl, "order 1", "o1:hold:1")


class TestHolds:
    """commit, release and extend: the hold, and what became of it."""

    @pytest.fixture
    def hold_id(self, ledger: Ledger) -> str:
        return ledger.reserve("cart-1", [(TEA, "SH", 3)]).holds[0].hold_id

    def test_commit_retried_replays_even_once_committed(
        self, ledger: Ledger, hold_id: str
    ) -> None:
        first = ledger.commit(hold_id, 2, key="pay-1")
        again = ledger.commit(hold_id, 2, key="pay-1")
        assert (first.changed, again.changed) == (True, False)
        assert again.receipt is not None
        assert again.receipt.replayed

    def test_a_full_commit_is_the_holds_quantity(
        self, ledger: Ledger, hold_id: str
    ) -> None:
        ledger.commit(hold_id, key="pay-1")
        assert not ledger.commit(hold_id, 3, key="pay-1").changed
        _refused(lambda: ledger.commit(hold_id, 2, key="pay-1"), "pay-1")

    def test_another_quantity_or_operation_is_refused(
        self, ledger: Ledger, hold_id: str
    ) -> None:
        ledger.commit(hold_id, 2, key="pay-1")
        for call in (
            lambda: ledger.commit(hold_id, key="pay-1"),
            lambda: ledger.commit(hold_id, 1, key="pay-1"),
            lambda: ledger.release(hold_id, key="pay-1"),
            lambda: ledger.extend(hold_id, key="pay-1"),
            lambda: ledger.ship("cart-1", [(TEA, "SH", 2)], key="pay-1"),
        ):
            _refused(call, "pay-1")

    def test_release_and_extend_are_their_own(
        self, ledger: Ledger, hold_id: str
    ) -> None:
        other = ledger.reserve("cart-2", [(MUG, "SH", 1)]).holds[0].hold_id
        ledger.extend(other, dt.timedelta(hours=1), key="keep-1")
        assert ledger.extend(other, dt.timedelta(hours=2), key="keep-1").hold_id == (
            other
        )
        ledger.release(hold_id, key="drop-1")
        assert not ledger.release(hold_id, key="drop-1").changed
        _refused(lambda: ledger.commit(hold_id, key="drop-1"), "drop-1")
        _refused(lambda: ledger.extend(hold_id, key="drop-1"), "drop-1")
        _refused(lambda: ledger.release(other, key="keep-1"), "keep-1")
        _refused(lambda: ledger.commit(other, key="keep-1"), "keep-1")

    def test_extending_a_hold_the_first_extend_expired_is_refused(
        self, ledger: Ledger, clock: FrozenClock
    ) -> None:
        # The first extend swept the balance: hold b, due, is in its receipt.
        b = ledger.reserve("cart-b", [(TEA, "SH", 1)], ttl=dt.timedelta(minutes=1))
        a = ledger.reserve("cart-a", [(TEA, "SH", 2)], ttl=dt.timedelta(minutes=30))
        clock.sleep(120)
        ledger.extend(a.holds[0].hold_id, dt.timedelta(hours=1), key="keep-1")
        late = b.holds[0].hold_id
        _refused(
            lambda: ledger.extend(late, dt.timedelta(hours=1), key="keep-1"), "keep-1"
        )


class TestAllocation:
    """ship and unallocate: the owner, and its lines per SKU and location."""

    @pytest.fixture(autouse=True)
    def committed(self, ledger: Ledger) -> None:
        receipt = ledger.reserve("order-1", [(TEA, "SH", 3), (MUG, "SH", 2)])
        for hold in receipt.holds:
            ledger.commit(hold.hold_id)

    def test_a_shipment_retried_after_it_left_replays(self, ledger: Ledger) -> None:
        first = ledger.ship("order-1", [(TEA, "SH", 3)], key="parcel-1")
        _replays(first, ledger.ship("order-1", [(TEA, "SH", 3)], key="parcel-1"))
        assert ledger.balance(TEA, "SH").on_hand == 7

    def test_another_owner_line_or_operation_is_refused(self, ledger: Ledger) -> None:
        ledger.ship("order-1", [(TEA, "SH", 2)], key="parcel-1")
        for call in (
            lambda: ledger.ship("order-2", [(TEA, "SH", 2)], key="parcel-1"),
            lambda: ledger.ship("order-1", [(TEA, "SH", 1)], key="parcel-1"),
            lambda: ledger.ship("order-1", [(MUG, "SH", 2)], key="parcel-1"),
            lambda: ledger.unallocate("order-1", [(TEA, "SH", 2)], key="parcel-1"),
        ):
            _refused(call, "parcel-1")
        first = ledger.unallocate("order-1", [(MUG, "SH", 2)], key="cancel-1")
        _replays(
            first,
            ledger.unallocate(
                "order-1", [(MUG, "SH", 1), (MUG, "SH", 1)], key="cancel-1"
            ),
        )
        _refused(
            lambda: ledger.ship("order-1", [(MUG, "SH", 2)], key="cancel-1"), "cancel-1"
        )


class TestTheDesk:
    """The order desk's reservation under a key another delivery took."""

    def test_a_delivery_racing_with_other_lines_is_a_conflict(
        self, unit: UnitOfWork, clock: FrozenClock
    ) -> None:
        # Another process took the order in as it was (one unit) and held
        # it under the key this delivery (two units) asks with.
        desk = sh1_desk(unit, clock, SAMPLE_TEA.sku)
        owner = "order:douyin:DY-7"
        with unit as uow:
            Ledger(uow.ledger, clock).reserve(
                owner, [(SAMPLE_TEA.sku, "SH-1", 1)], key=f"{owner}:hold:1"
            )
            uow.commit()
        placed = OrderPlaced(
            order_id="DY-7",
            key=IdempotencyKey("douyin", "trade.created", "DY-7", "2"),
            occurred_at=clock.now(),
            channel="douyin",
            buyer=Buyer("buyer-7"),
            address=Address("CN", "浙江省", "杭州市", "西湖区", "龙井路 1 号"),
            lines=[SAMPLE_TEA],
        )

        # Documented for a racing delivery: call again, and it is answered
        # `AlreadyAccepted` once the other process's order is stored.
        with pytest.raises(ConcurrencyConflict):
            desk.accept(awaiting_payment(placed))
        with unit as uow:
            assert uow.orders.get("douyin", "DY-7") is None
            held = [h.quantity for h in uow.ledger.holds(owner=owner)]
        assert held == [1]
