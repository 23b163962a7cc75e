"""The ledger store contract: every rule of `LedgerStore` as tests."""

from __future__ import annotations

import datetime as dt
import functools
import random
import uuid
from collections.abc import Callable
from typing import Any

import attrs
import pendulum
import pytest
from hypothesis import settings
from hypothesis.stateful import run_state_machine_as_test

from orderkit._time import LAST
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
    Movement,
    MovementKind,
    Plan,
    Preorder,
    Relist,
    Shortage,
)
from orderkit.ports import LedgerStore
from orderkit.services import Ledger
from orderkit.testing._clock import FrozenClock
from orderkit.testing._contract_base import START as _START
from orderkit.testing._contract_base import WEIRD_NAMES as _WEIRD
from orderkit.testing._contract_base import Barrier, StoreContract, lenient
from orderkit.testing._ledger_machine import ledger_machine


def _wide(length: int, seed: int) -> str:
    """`length` printable characters of 4 UTF-8 bytes each, in no repeating pattern.

    Rare CJK ideographs (Extension B), drawn from a fixed seed: random
    enough that no database compresses them under its index row limit.
    """
    draw = random.Random(seed)  # noqa: S311 - test data, not secrecy
    return "".join(chr(draw.randint(0x20000, 0x2A6DF)) for _ in range(length))


def _race_worker(
    sku: str,
    attempts: int,
    start: dt.datetime,
    factory: Callable[[], LedgerStore],
    barrier: Barrier,
) -> int:
    """Try to reserve one unit `attempts` times; return how many succeeded."""
    ledger = Ledger(factory(), FrozenClock(start))
    barrier.wait(timeout=120)
    granted = 0
    for i in range(attempts):
        try:
            ledger.reserve(f"racer-{uuid.uuid4().hex}-{i}", [(sku, "W1", 1)])
        except InsufficientStock:
            continue
        granted += 1
    return granted


class LedgerStoreContract(StoreContract[LedgerStore]):
    """Every rule of `orderkit.ports.LedgerStore`, as tests over `make_store()`.

    Subclass it in a test module (its name must start with `Test` for
    pytest to collect it) and implement `make_store`; the hooks `connect`,
    `break_store` and `dispose` are described on `StoreContract`.

    .. versionadded:: 0.1.0
    """

    race_attempts: int = 50
    """Reservation attempts per racer."""

    @pytest.fixture
    def ledger(self, store: LedgerStore, clock: FrozenClock) -> Ledger:
        """A ledger over the store, with 15-minute holds."""
        return Ledger(store, clock)

    # helpers

    @staticmethod
    def snapshot(store: LedgerStore) -> tuple[Any, ...]:
        """Everything a store holds, to assert that a failure changed nothing."""
        return tuple(read() for read in _readings(store))

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

    def test_movements_filtered_by_sku_location_or_both_are_the_log_filtered(
        self, ledger: Ledger
    ) -> None:
        """A SKU's, a location's or one balance's movements: the log's, in order.

        Names are compared exactly (no case folding); a SKU or location with
        no movements reads as nothing, as `balances` and `holds` do.
        """
        _stock_cards(ledger)
        log = list(ledger.movements())
        for sku, location in [
            ("TEA-01", None),
            ("TEA-01", "W1"),
            ("TEA-01", "W2"),
            ("MUG-02", "W2"),
            (None, "W1"),
            (None, "W2"),
            ("tea-01", None),
            ("NONE-00", None),
            ("TEA-01", "W9"),
            (None, "W9"),
        ]:
            expected = [
                m
                for m in log
                if sku in {None, m.sku} and location in {None, m.location}
            ]
            found = ledger.movements(sku=sku, location=location)
            assert list(found) == expected, (sku, location)
        kinds = [m.kind for m in ledger.movements(sku="TEA-01", location="W2")]
        assert kinds == [
            MovementKind.RECEIVE,
            MovementKind.TRANSFER,
            MovementKind.HOLD,
            MovementKind.RELEASE,
        ]

    def test_a_filtered_history_pages_as_the_whole_one_does(
        self, ledger: Ledger
    ) -> None:
        """Paged by `seq` with a small `limit`, a filter reads its subsequence exactly.

        Whatever `after` is: the seq of another balance's movement, or one
        past every movement.
        """
        _stock_cards(ledger)
        log = list(ledger.movements())
        for sku, location in [("TEA-01", None), ("TEA-01", "W1"), (None, "W2")]:
            expected = [
                m
                for m in log
                if sku in {None, m.sku} and location in {None, m.location}
            ]
            for limit in (1, 2, 3):
                paged: list[Movement] = []
                after = 0
                while page := ledger.movements(
                    after=after, limit=limit, sku=sku, location=location
                ):
                    assert len(page) <= limit
                    paged.extend(page)
                    after = page[-1].seq
                assert paged == expected, (sku, location, limit)
            for after in (log[0].seq, log[len(log) // 2].seq, log[-1].seq):
                rest = ledger.movements(after=after, sku=sku, location=location)
                assert list(rest) == [m for m in expected if m.seq > after]

    @pytest.mark.parametrize("field", ["sku", "location"])
    @pytest.mark.parametrize(
        "value",
        [7, b"TEA-01", ["TEA-01"], "", "  ", "TEA\x00", "T" * 256],
        ids=["int", "bytes", "list", "empty", "blank", "nul", "long"],
    )
    def test_a_bad_movements_filter_is_refused_by_name(
        self, ledger: Ledger, field: str, value: object
    ) -> None:
        """A filter that is no name raises `ValidationError` naming it and its value."""
        ledger.receive("TEA-01", "W1", 1)
        with pytest.raises(ValidationError) as error:
            ledger.movements(**{field: value})  # type: ignore[arg-type]
        assert (error.value.field, error.value.value) == (field, value)

    def test_the_log_reads_back_what_every_receipt_returned(
        self, ledger: Ledger, clock: FrozenClock
    ) -> None:
        """`movements()` gives back each movement exactly as its receipt did.

        Hold movements of every shape: keys with slashes, a caller's reason
        and actor, several lines, an owner replacing its own holds, a clock
        that stepped back, holds later committed, released or expired.
        """
        ledger.receive("TEA-01", "W1", 50)
        ledger.receive("MUG-02", "W1", 50)
        written = list(ledger.movements())
        two_lines = [("TEA-01", "W1", 1), ("MUG-02", "W1", 2)]
        receipts = [
            ledger.reserve("cart-1", [("TEA-01", "W1", 2)]),
            ledger.reserve("cart-2", two_lines, key="order/7/1"),
            ledger.reserve("cart-3", [("MUG-02", "W1", 1)], reason="VIP", actor="ops"),
            ledger.reserve("cart-1", two_lines, key="again-1"),
        ]
        clock.advance(minutes=-5)
        receipts.append(ledger.reserve("cart-4", [("TEA-01", "W1", 3)], key="9"))
        for resolved in (
            ledger.commit(receipts[1].holds[0].hold_id),
            ledger.release(receipts[2].holds[0].hold_id),
        ):
            assert resolved.receipt is not None
            receipts.append(resolved.receipt)
        for receipt in receipts:
            written.extend(receipt.movements)
        clock.advance(hours=1)
        written.extend(ledger.expire_due())
        assert list(ledger.movements()) == written
        assert [m.seq for m in written] == list(range(1, len(written) + 1))
        middle = ledger.movements(after=3, limit=4)
        assert list(middle) == written[3:7]

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

    def test_names_as_long_as_allowed_round_trip(self, ledger: Ledger) -> None:
        """SKUs and locations of 255 characters, owners of 1024, 4 bytes each in UTF-8.

        What one store keeps, every store keeps: no index of a database may
        refuse a name the ledger accepts.
        """
        sku, location, other = _wide(255, 1), _wide(255, 2), _wide(255, 3)
        owner = _wide(1024, 4)
        ledger.receive(sku, location, 5, reason=_wide(300, 5))
        ledger.receive(sku, other, 5)
        first = ledger.reserve(owner, [(sku, location, 2), (sku, other, 1)])
        assert len(first.holds) == 2
        # Again: the owner's own hold there is found (by owner) and replaced.
        again = ledger.reserve(owner, [(sku, location, 3)], key=_wide(100, 6))
        assert {h.state for h in again.holds} == {HoldState.LIVE, HoldState.RELEASED}
        live = ledger.holds(owner=owner, state=HoldState.LIVE)
        assert sorted((h.location, h.quantity) for h in live) == sorted(
            [(location, 3), (other, 1)]
        )
        (new,) = (h for h in again.holds if h.state is HoldState.LIVE)
        assert ledger.hold(new.hold_id) == new
        ledger.commit(new.hold_id)
        assert ledger.balance(sku, location) == Balance(sku, location, 5, 0, 3)
        assert ledger.balance(sku, other) == Balance(sku, other, 5, 1, 0)
        assert ledger.audit() == ()

    def test_keys_as_long_as_allowed_reserve_replay_commit_and_release(
        self, ledger: Ledger, store: LedgerStore
    ) -> None:
        """Keys of 4096 characters on names of 255, 4 bytes each in UTF-8.

        A hold's id is its key and a number: with its SKU and location, 18 KB
        that no index of a database may refuse, on every path of a plan (one
        line, several, and a stored hold's commit and release).
        """
        sku, location, other = _wide(255, 11), _wide(255, 12), _wide(255, 13)
        one, two, paid, freed = (_wide(4096, seed) for seed in range(14, 18))
        ledger.receive(sku, location, 5, key=_wide(4096, 18))
        ledger.receive(sku, other, 5)
        single = ledger.reserve("cart-1", [(sku, location, 2)], key=one)
        double = ledger.reserve(
            "cart-2", [(sku, location, 1), (sku, other, 1)], key=two
        )
        assert [h.hold_id for h in single.holds] == [f"{one}/0"]
        assert sorted(h.hold_id for h in double.holds) == [f"{two}/0", f"{two}/1"]
        before = self.snapshot(store)
        for first, lines, owner in (
            (single, [(sku, location, 2)], "cart-1"),
            (double, [(sku, location, 1), (sku, other, 1)], "cart-2"),
        ):
            again = ledger.reserve(owner, lines, key=first.key)
            assert again.replayed
            assert (again.movements, again.holds) == (first.movements, first.holds)
            assert store.receipt(first.key) == again
        assert self.snapshot(store) == before
        (held,) = single.holds
        assert ledger.hold(held.hold_id) == held
        committed = ledger.commit(held.hold_id, key=paid)
        assert committed.hold.state is HoldState.COMMITTED
        assert ledger.commit(held.hold_id, key=paid).receipt == store.receipt(paid)
        released = [
            ledger.release(hold.hold_id, key=key)
            for hold, key in zip(double.holds, (freed, _wide(4096, 19)), strict=True)
        ]
        assert {r.hold.state for r in released} == {HoldState.RELEASED}
        assert ledger.balance(sku, location) == Balance(sku, location, 5, 0, 2)
        assert ledger.balance(sku, other) == Balance(sku, other, 5, 0, 0)
        assert {h.state for h in ledger.holds()} == {
            HoldState.COMMITTED,
            HoldState.RELEASED,
        }
        assert ledger.audit() == ()

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

    def test_unallocating_gives_unshipped_units_back(self, ledger: Ledger) -> None:
        """An order cancelled after payment: allocated down, available up."""
        ledger.receive("TEA-01", "W1", 5)
        hold = ledger.reserve("order-1", [("TEA-01", "W1", 4)]).holds[0]
        ledger.commit(hold.hold_id)
        ledger.ship("order-1", [("TEA-01", "W1", 1)])
        ledger.unallocate("order-1", [("TEA-01", "W1", 3)], reason="cancelled")
        assert ledger.balance("TEA-01", "W1") == Balance("TEA-01", "W1", 4, 0, 0)
        assert ledger.balance("TEA-01", "W1").available == 4
        kept = ledger.hold(hold.hold_id)
        assert (kept.committed, kept.shipped) == (1, 1)

    def test_unallocating_more_than_unshipped_fails_atomically(
        self, ledger: Ledger, store: LedgerStore
    ) -> None:
        """Shipped units cannot be given back; nothing moves."""
        ledger.receive("TEA-01", "W1", 5)
        hold = ledger.reserve("order-1", [("TEA-01", "W1", 3)]).holds[0]
        ledger.commit(hold.hold_id)
        ledger.ship("order-1", [("TEA-01", "W1", 2)])
        before = self.snapshot(store)
        with pytest.raises(InsufficientStock) as error:
            ledger.unallocate("order-1", [("TEA-01", "W1", 2)])
        assert error.value.shortages == (Shortage("TEA-01", "W1", 2, 1, "allocated"),)
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

    def test_a_sweep_says_which_balances_came_back_to_sale(
        self, ledger: Ledger, clock: FrozenClock
    ) -> None:
        """The holds it expires free stock: their balances' Relists come with it."""
        ledger.receive("TEA-01", "W1", 1)
        ledger.receive("MUG-02", "W1", 5)
        held = ledger.reserve("cart-1", [("TEA-01", "W1", 1), ("MUG-02", "W1", 1)])
        assert held.signals == (Delist("TEA-01", "W1", 0, 0),)
        clock.advance(minutes=20)
        swept = ledger.expire_due()
        assert sorted(m.sku for m in swept) == ["MUG-02", "TEA-01"]
        assert swept.signals == (Relist("TEA-01", "W1", 1, 0),)
        assert ledger.expire_due().signals == ()

    def test_safety_stock_says_when_sale_stops_and_starts_again(
        self, ledger: Ledger
    ) -> None:
        """Raising it to all there is delists; lowering it again relists."""
        ledger.receive("TEA-01", "W1", 3)
        assert ledger.set_safety_stock("TEA-01", "W1", 3) == Delist(
            "TEA-01", "W1", 3, 3
        )
        assert ledger.set_safety_stock("TEA-01", "W1", 4) is None
        assert ledger.set_safety_stock("TEA-01", "W1", 1) == Relist(
            "TEA-01", "W1", 3, 1
        )
        assert ledger.set_safety_stock("TEA-01", "W1", 0) is None
        assert ledger.set_safety_stock("NEW-09", "W1", 2) is None

    def test_shipping_keeps_when_the_hold_was_committed(
        self, ledger: Ledger, clock: FrozenClock
    ) -> None:
        """A clock behind the store's moves on what it writes, not history."""
        ledger.receive("TEA-01", "W1", 5)
        hold = ledger.reserve("order-1", [("TEA-01", "W1", 2)]).holds[0]
        committed = ledger.commit(hold.hold_id).hold
        clock.advance(minutes=10)
        ledger.receive("MUG-02", "W1", 1)  # the store's time moves on
        clock.advance(minutes=-5)
        ledger.ship("order-1", [("TEA-01", "W1", 1)])
        shipped = ledger.hold(hold.hold_id)
        assert shipped.shipped == 1
        assert shipped.resolved_at == committed.resolved_at == _START

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

    def test_a_repeated_key_for_new_stock_creates_no_balance(
        self, ledger: Ledger, store: LedgerStore
    ) -> None:
        """A replay writes nothing, not even the empty balance of a new SKU.

        The store replays the key's first receipt; the ledger refuses the
        other request it was asked for under that key.
        """
        ledger.receive("TEA-01", "W1", 5, key="grn-1")
        before = self.snapshot(store)
        with pytest.raises(IdempotencyConflict):
            ledger.receive("NEW-09", "W9", 3, key="grn-1")
        assert self.snapshot(store) == before
        assert [(b.sku, b.location) for b in ledger.balances()] == [("TEA-01", "W1")]
        with pytest.raises(UnknownSku):
            ledger.reserve("cart-1", [("NEW-09", "W9", 1)])

    def test_a_key_retried_after_many_others_still_replays(
        self, ledger: Ledger, store: LedgerStore
    ) -> None:
        """A retry that comes late, after other keyed plans, replays all the same.

        A store that keeps only its latest receipts would apply it twice.
        """
        first = ledger.receive("TEA-01", "W1", 5, key="grn-1")
        for n in range(10):
            ledger.receive("MUG-02", "W1", 1, key=f"grn-{n + 2}")
        before = self.snapshot(store)
        again = ledger.receive("TEA-01", "W1", 5, key="grn-1")
        assert again.replayed
        assert again.movements == first.movements
        assert self.snapshot(store) == before

    def test_the_ledgers_own_keys_for_expiries_are_refused_to_callers(
        self, ledger: Ledger, store: LedgerStore
    ) -> None:
        """`expire:<hold_id>` keys a hold's expiry; no operation may take it."""
        ledger.receive("TEA-01", "W1", 5)
        before = self.snapshot(store)
        with pytest.raises(ValidationError) as error:
            ledger.receive("TEA-01", "W1", 1, key="expire:cart-7/0")
        assert error.value.field == "key"
        with pytest.raises(ValidationError):
            Plan(key="expire:cart-7/0", now=_START)
        assert self.snapshot(store) == before

    def test_a_resolved_hold_is_never_written_live_again(
        self, ledger: Ledger, store: LedgerStore
    ) -> None:
        """A hold leaves live once: a plan that revives one is refused."""
        ledger.receive("TEA-01", "W1", 10)
        hold = ledger.reserve("cart-1", [("TEA-01", "W1", 2)]).holds[0]
        ledger.release(hold.hold_id)
        released = store.hold(hold.hold_id)
        assert released is not None
        revived = attrs.evolve(released, state=HoldState.LIVE, resolved_at=None)
        before = self.snapshot(store)
        with pytest.raises(ValidationError) as error:
            store.apply(
                Plan(key="revive", now=_START, holds=[HoldWrite(released, revived)])
            )
        assert error.value.field == f"holds[{hold.hold_id!r}].state"
        assert self.snapshot(store) == before

    def test_a_naive_now_is_refused_and_changes_nothing(
        self, ledger: Ledger, store: LedgerStore
    ) -> None:
        """Times are UTC instants: a naive one is refused, the store unharmed."""
        ledger.receive("TEA-01", "W1", 5)
        before = self.snapshot(store)
        naive = dt.datetime(2026, 11, 11, 12, 0)  # noqa: DTZ001 - naive on purpose
        with pytest.raises(NaiveDatetime):
            store.expire_due(naive)  # type: ignore[arg-type]
        with pytest.raises(NaiveDatetime):
            store.balances(naive)  # type: ignore[arg-type]
        assert self.snapshot(store) == before
        ledger.reserve("cart-1", [("TEA-01", "W1", 1)])

    def test_a_sweep_at_an_instant_in_another_zone_keeps_every_time_in_utc(
        self, ledger: Ledger, store: LedgerStore
    ) -> None:
        """A zoned `now` is the same instant in UTC; no zone leaks into the store."""
        ledger.receive("TEA-01", "W1", 5)
        short = dt.timedelta(minutes=1)
        hold = ledger.reserve("cart-1", [("TEA-01", "W1", 2)], ttl=short).holds[0]
        shanghai = _START.add(minutes=5).in_timezone("Asia/Shanghai")
        (swept,) = store.expire_due(shanghai)
        assert swept.at == _START.add(minutes=5)
        assert swept.at.tzinfo is pendulum.UTC
        expired = store.hold(hold.hold_id)
        assert expired is not None
        assert expired.resolved_at is not None
        assert expired.resolved_at.tzinfo is pendulum.UTC

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
        assert list(ledger.expire_due()) == []
        assert [h.state for h in ledger.holds(state=HoldState.LIVE)] == [HoldState.LIVE]
        assert ledger.balance("TEA-01", "W1").reserved == 1

    def test_a_sweep_with_a_limit_expires_at_most_that_many(
        self, store: LedgerStore, ledger: Ledger, clock: FrozenClock
    ) -> None:
        """`expire_due(limit=)` writes at most `limit`; the next sweep the rest."""
        ledger.receive("TEA-01", "W1", 10)
        for i in range(3):
            ledger.reserve(f"cart-{i}", [("TEA-01", "W1", 1)])
        clock.advance(minutes=30)
        first = store.expire_due(clock.now(), limit=2)
        assert len(first) == 2
        assert len(store.holds(state=HoldState.LIVE)) == 1
        rest = store.expire_due(clock.now(), limit=2)
        assert len(rest) == 1
        assert list(store.holds(state=HoldState.LIVE)) == []
        assert ledger.balance("TEA-01", "W1").reserved == 0

    def test_holds_are_listed_oldest_first_and_filtered(
        self, ledger: Ledger, clock: FrozenClock
    ) -> None:
        """`holds()` is oldest first, and each filter keeps only its holds."""
        ledger.receive("TEA-01", "W1", 10)
        ledger.receive("MUG-02", "W1", 10)
        placed = []
        for i, sku in enumerate(["TEA-01", "MUG-02", "TEA-01"]):
            placed.append(ledger.reserve(f"cart-{i}", [(sku, "W1", 1)]).holds[0])
            clock.advance(minutes=1)
        assert [h.hold_id for h in ledger.holds()] == [h.hold_id for h in placed]
        assert [h.hold_id for h in ledger.holds(sku="TEA-01")] == [
            placed[0].hold_id,
            placed[2].hold_id,
        ]
        assert [h.hold_id for h in ledger.holds(owner="cart-1")] == [placed[1].hold_id]
        ledger.release(placed[0].hold_id)
        assert [h.hold_id for h in ledger.holds(state=HoldState.LIVE)] == [
            placed[1].hold_id,
            placed[2].hold_id,
        ]

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

    # time, retries and failures

    def test_the_high_water_mark_keeps_an_unswept_hold_expired(
        self, ledger: Ledger, clock: FrozenClock
    ) -> None:
        """Due by the store's latest time, a hold stays expired as time goes back."""
        ledger.receive("TEA-01", "W1", 1)
        ledger.receive("MUG-02", "W2", 1)
        hold = ledger.reserve("cart-1", [("TEA-01", "W1", 1)]).holds[0]
        clock.advance(minutes=20)
        ledger.receive("MUG-02", "W2", 1)  # another balance: the hold stays unswept
        clock.advance(minutes=-20)
        with pytest.raises(HoldNotLive) as error:
            ledger.commit(hold.hold_id)
        assert error.value.state == "expired"
        assert ledger.balance("TEA-01", "W1").available == 1

    def test_a_sweep_and_an_audit_behind_the_stores_time_agree_with_it(
        self, ledger: Ledger, store: LedgerStore, clock: FrozenClock
    ) -> None:
        """A store that tells its time (`high_water()`) is swept and audited at it."""
        if getattr(store, "high_water", None) is None:
            pytest.skip("this store does not tell its time (high_water)")
        ledger.receive("TEA-01", "W1", 1)
        ledger.receive("MUG-02", "W2", 1)
        hold = ledger.reserve("cart-1", [("TEA-01", "W1", 1)]).holds[0]
        clock.advance(minutes=20)
        ledger.receive("MUG-02", "W2", 1)  # another balance: the hold stays unswept
        assert store.high_water() == clock.now()  # type: ignore[attr-defined]
        clock.advance(minutes=-10)
        assert ledger.audit() == ()
        assert ledger.hold(hold.hold_id).state is HoldState.EXPIRED
        assert ledger.expire_due() == []

    def test_balances_of_skus_are_each_skus_balances(
        self, ledger: Ledger, store: LedgerStore, clock: FrozenClock
    ) -> None:
        """A store that reads several SKUs at once (`balances_of`) reads each as one.

        The balances of every SKU named (each once, however often named; a
        SKU without balances adds none), as of `now`, by SKU then location;
        text in place of a sequence is refused.
        """
        balances_of = getattr(store, "balances_of", None)
        if balances_of is None:
            pytest.skip("this store does not read several SKUs at once")
        ledger.receive("TEA-01", "W2", 5)
        ledger.receive("TEA-01", "W1", 3)
        ledger.receive("MUG-02", "W1", 4)
        ledger.receive("CUP-03", "W1", 2)
        ledger.reserve("cart-1", [("TEA-01", "W1", 2), ("MUG-02", "W1", 1)])
        now = clock.now()
        wanted = ["TEA-01", "NONE-00", "MUG-02", "TEA-01"]
        expected = [
            b for sku in sorted(set(wanted)) for b in store.balances(now, sku=sku)
        ]
        assert balances_of(now, wanted) == expected
        assert [(b.sku, b.location) for b in expected] == [
            ("MUG-02", "W1"),
            ("TEA-01", "W1"),
            ("TEA-01", "W2"),
        ]
        # Lapsed holds count as expired, as `balances` counts them.
        assert balances_of(now.add(hours=1), ["TEA-01"]) == list(
            store.balances(now.add(hours=1), sku="TEA-01")
        )
        assert balances_of(now, []) == []
        with pytest.raises(ValidationError) as error:
            balances_of(now, "TEA-01")
        assert error.value.field == "skus"

    def test_due_holds_are_the_holds_a_sweep_expires(
        self, ledger: Ledger, store: LedgerStore, clock: FrozenClock
    ) -> None:
        """A store that lists due holds (`due_holds(at)`) lists what a sweep expires.

        Live holds only (not committed, not released), due by `at`, soonest
        due first; a sweep at that time expires exactly those.
        """
        due_holds = getattr(store, "due_holds", None)
        if due_holds is None:
            pytest.skip("this store does not list due holds (due_holds)")
        ledger.receive("TEA-01", "W1", 5)
        ledger.receive("MUG-02", "W2", 5)
        first = ledger.reserve("cart-1", [("TEA-01", "W1", 1)]).holds[0]
        clock.advance(minutes=5)
        both = ledger.reserve("cart-2", [("MUG-02", "W2", 1), ("TEA-01", "W1", 1)])
        paid = ledger.reserve("cart-3", [("MUG-02", "W2", 1)]).holds[0]
        ledger.commit(paid.hold_id)
        left = ledger.reserve("cart-4", [("TEA-01", "W1", 1)]).holds[0]
        ledger.release(left.hold_id)
        assert due_holds(clock.now()) == []
        assert due_holds(first.expires_at) == [first]
        due = sorted([first, *both.holds], key=lambda h: (h.expires_at, h.hold_id))
        at = due[-1].expires_at
        assert due_holds(at) == due
        clock.advance(minutes=15)
        assert clock.now() == at
        swept = ledger.expire_due()
        assert sorted(m.hold_id or "" for m in swept) == sorted(h.hold_id for h in due)
        assert due_holds(at) == []

    def test_a_hold_placed_while_the_clock_is_behind_is_not_born_expired(
        self, ledger: Ledger, clock: FrozenClock
    ) -> None:
        """Holds are stamped at the store's time, so a full TTL is held."""
        ledger.receive("TEA-01", "W1", 1)
        clock.advance(minutes=30)
        ledger.receive("MUG-02", "W1", 1)
        clock.advance(minutes=-30)
        hold = ledger.reserve("cart-1", [("TEA-01", "W1", 1)]).holds[0]
        assert hold.placed_at == _START.add(minutes=30)
        assert hold.expires_at == _START.add(minutes=45)
        with pytest.raises(InsufficientStock):
            ledger.reserve("cart-2", [("TEA-01", "W1", 1)])
        assert ledger.commit(hold.hold_id).changed

    def test_a_hold_until_the_end_of_time_placed_while_behind_ends_there(
        self, ledger: Ledger, store: LedgerStore, clock: FrozenClock
    ) -> None:
        """Moved on to the store's time, an expiry at the end of time stays."""
        ledger.receive("TEA-01", "W1", 1)
        clock.advance(minutes=30)
        ledger.receive("MUG-02", "W1", 1)
        clock.advance(minutes=-30)
        # Ten minutes before the end of time, from the plan's time; moved on
        # by the thirty minutes the store is ahead, it would end after it.
        # (A stdlib difference: pendulum's `-` rounds so long a span.)
        forever = dt.datetime.__sub__(LAST, _START) - dt.timedelta(minutes=10)
        hold = ledger.reserve("cart-1", [("TEA-01", "W1", 1)], ttl=forever).holds[0]
        assert hold.expires_at == LAST
        assert [h.expires_at for h in store.holds()] == [LAST]
        assert ledger.commit(hold.hold_id).changed

    def test_a_refused_plan_leaves_no_receipt_and_no_later_time(
        self, ledger: Ledger, clock: FrozenClock
    ) -> None:
        """Refused: its key is free again, and its later time was not kept."""
        ledger.receive("TEA-01", "W1", 1)
        ledger.receive("MUG-02", "W2", 1)
        hold = ledger.reserve("cart-1", [("TEA-01", "W1", 1)]).holds[0]
        clock.advance(minutes=20)
        with pytest.raises(InsufficientStock):
            ledger.reserve("cart-2", [("MUG-02", "W2", 2)], key="try-1")
        clock.advance(minutes=-15)
        assert ledger.commit(hold.hold_id).changed  # 00:05: still live
        ledger.receive("MUG-02", "W2", 1)
        again = ledger.reserve("cart-2", [("MUG-02", "W2", 2)], key="try-1")
        assert not again.replayed

    def test_a_failed_plan_leaves_due_holds_to_expire_later(
        self, ledger: Ledger, clock: FrozenClock
    ) -> None:
        """A plan that expired a hold and then failed does not lose that expiry."""
        ledger.receive("TEA-01", "W1", 2)
        ledger.reserve("cart-1", [("TEA-01", "W1", 2)])
        clock.advance(minutes=15)
        with pytest.raises(InsufficientStock):
            ledger.reserve("cart-2", [("TEA-01", "W1", 3)])
        assert ledger.balance("TEA-01", "W1").available == 2  # both back
        ledger.reserve("cart-3", [("TEA-01", "W1", 2)])
        assert list(ledger.expire_due()) == []

    def test_retries_under_the_same_key_replay_the_first_receipt(
        self, ledger: Ledger, store: LedgerStore
    ) -> None:
        """Commit and ship retried under their keys replay, even if planning fails."""
        ledger.receive("TEA-01", "W1", 5)
        hold = ledger.reserve("order-1", [("TEA-01", "W1", 2)]).holds[0]
        first = ledger.commit(hold.hold_id, key="pay-1")
        again = ledger.commit(hold.hold_id, key="pay-1")
        assert (again.changed, again.receipt) == (
            False,
            store.receipt("pay-1"),
        )
        assert again.receipt is not None
        assert first.receipt is not None
        assert again.receipt.movements == first.receipt.movements
        shipped = ledger.ship("order-1", [("TEA-01", "W1", 2)], key="ship-1")
        before = self.snapshot(store)
        retry = ledger.ship("order-1", [("TEA-01", "W1", 2)], key="ship-1")
        assert retry.replayed
        assert retry.movements == shipped.movements
        assert self.snapshot(store) == before
        assert store.receipt("never-used") is None

    def test_releasing_an_unswept_expired_hold_reports_it_expired(
        self, ledger: Ledger, clock: FrozenClock
    ) -> None:
        """Past its expiry a hold is expired, swept or not."""
        ledger.receive("TEA-01", "W1", 1)
        hold = ledger.reserve("cart-1", [("TEA-01", "W1", 1)]).holds[0]
        clock.advance(minutes=16)
        outcome = ledger.release(hold.hold_id)
        assert (outcome.changed, outcome.hold.state) == (False, HoldState.EXPIRED)

    def test_a_hold_write_changes_only_what_may_change(
        self, ledger: Ledger, store: LedgerStore, clock: FrozenClock
    ) -> None:
        """Owner, SKU, location and quantity are fixed; expiry never moves earlier."""
        ledger.receive("TEA-01", "W1", 5)
        hold = ledger.reserve("cart-1", [("TEA-01", "W1", 2)]).holds[0]
        before = self.snapshot(store)
        for change in (
            {"owner": "order-9"},
            {"quantity": 1},
            {"expires_at": hold.expires_at.subtract(minutes=1)},
        ):
            bad = Plan(
                key=f"bad-{next(iter(change))}",
                now=clock.now(),
                holds=[HoldWrite(hold, attrs.evolve(hold, **change))],
            )
            with pytest.raises(ValidationError):
                store.apply(bad)
        assert self.snapshot(store) == before

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
            pytest.param(
                lambda led: led.receive("T" * 256, "W1", 1), "sku", id="long-sku"
            ),
            pytest.param(
                lambda led: led.receive("T", "W" * 256, 1), "location", id="long-loc"
            ),
            pytest.param(
                lambda led: led.transfer("T", "W1", "W" * 256, 1),
                "target",
                id="long-target",
            ),
            pytest.param(
                lambda led: led.reserve("c" * 1025, [("T", "W1", 1)]),
                "owner",
                id="long-owner",
            ),
            pytest.param(
                lambda led: led.receive("T", "W1", 1, key="k" * 4097),
                "key",
                id="long-key",
            ),
            pytest.param(
                lambda led: led.receive("T", "W1", 1, reason="count\x00fix"),
                "reason",
                id="nul-reason",
            ),
            pytest.param(
                lambda led: led.adjust("T", "W1", counted=1, reason="stock\x00take"),
                "reason",
                id="nul-reason-stocktake",
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
        """A failing backend raises StoreError with the driver's error as cause.

        If the broken store can still be read, the failed plan left nothing
        behind: a commit that fails after the writes must roll them back.
        """
        ledger.receive("TEA-01", "W1", 5)
        readings = _readings(store)
        before = [read() for read in readings]
        if not self.break_store(store):
            pytest.skip("this store has no backend that can fail")
        with pytest.raises(StoreError) as error:
            ledger.reserve("cart-1", [("TEA-01", "W1", 1)])
        assert error.value.__cause__ is not None
        for read, was in zip(readings, before, strict=True):
            try:
                now = read()
            except StoreError:
                continue  # broken too (a dropped table): nothing to compare
            assert now == was

    # concurrency and the model

    def test_racers_for_the_last_units_get_exactly_the_stock(
        self, ledger: Ledger, store: LedgerStore
    ) -> None:
        """Several racers reserving one unit at a time never get more than there is."""
        stock = self.race_workers * self.race_attempts // 3
        ledger.receive("HOT-1", "W1", stock)
        racer = functools.partial(_race_worker, "HOT-1", self.race_attempts, _START)
        granted = self._race(store, [racer] * self.race_workers)
        assert sum(granted) == stock
        assert ledger.balance("HOT-1", "W1").available == 0
        assert ledger.audit() == ()

    def test_the_ledger_behaves_like_a_plain_dict_model(self) -> None:
        """Random operations against a dict model: conservation, no oversell, replay."""
        machine = ledger_machine(self.make_store, self.dispose)
        run_state_machine_as_test(
            machine,
            settings=lenient(stateful_step_count=min(_steps(), 30)),
        )


def _readings(store: LedgerStore) -> tuple[Callable[[], tuple[Any, ...]], ...]:
    """Each part of what a store holds, read on its own.

    Apart, so that a store broken in one part (a table dropped) still shows
    whether a failed write changed the others.
    """
    far = _START.add(years=100)
    return (
        lambda: tuple(store.balances(_START)),
        lambda: tuple(store.balances(far)),
        lambda: tuple(store.holds()),
        lambda: tuple(store.movements(limit=100_000)),
    )


def _stock_cards(ledger: Ledger) -> None:
    """Two SKUs at two locations, their movements interleaved in the log."""
    ledger.receive("TEA-01", "W1", 10)
    ledger.receive("MUG-02", "W1", 4)
    ledger.receive("TEA-01", "W2", 3)
    ledger.receive("MUG-02", "W2", 6)
    ledger.transfer("TEA-01", "W1", "W2", 2)
    hold = ledger.reserve("cart-1", [("TEA-01", "W2", 1), ("MUG-02", "W1", 1)])
    ledger.reserve("cart-2", [("MUG-02", "W2", 2), ("TEA-01", "W1", 3)])
    ledger.release(hold.holds[0].hold_id)
    ledger.receive("MUG-02", "W1", 1)


def _steps() -> int:
    profile = settings.default
    return 50 if profile is None else profile.stateful_step_count


# --------------------------------------------------------------------------
# KeyStore
