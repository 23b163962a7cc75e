"""The pure ledger: balances, policies, holds, movements, plans, replay, signals."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import pendulum
import pytest
from hypothesis import given
from hypothesis import strategies as st

from orderkit.errors import (
    HoldNotLive,
    InsufficientStock,
    InvalidQuantity,
    NaiveDatetime,
    ValidationError,
)
from orderkit.inventory import (
    Backorder,
    Balance,
    Check,
    Delist,
    Hold,
    HoldState,
    Measure,
    Movement,
    MovementKind,
    NoOversell,
    Plan,
    Preorder,
    Receipt,
    Relist,
    Shortage,
    StockLine,
    replay,
)
from orderkit.inventory import _planning as planning


T0 = pendulum.datetime(2026, 11, 11, 0, 0)
TEA = "TEA-LONGJING-250G"


def stamp(key: str = "op-1") -> planning.Stamp:
    return planning.Stamp(key, T0, "flash sale", "checkout")


def hold(**changes: object) -> Hold:
    fields: dict[str, object] = {
        "hold_id": "op-0/0",
        "owner": "cart-7",
        "sku": TEA,
        "location": "W1",
        "quantity": 5,
        "placed_at": T0,
        "expires_at": T0.add(minutes=15),
    }
    fields.update(changes)
    return Hold(**fields)  # type: ignore[arg-type]


class TestBalance:
    """available = on_hand - reserved - allocated; sellable never below zero."""

    def test_available_and_sellable(self) -> None:
        balance = Balance(
            TEA, "W1", on_hand=10, reserved=3, allocated=2, safety_stock=4
        )
        assert balance.available == 5
        assert balance.sellable() == 1
        assert balance.sellable(channel_buffer=3) == 0

    @given(
        st.integers(0, 100),
        st.integers(0, 100),
        st.integers(0, 100),
        st.integers(0, 20),
    )
    def test_sellable_is_available_less_safety_but_never_negative(
        self, on_hand: int, reserved: int, allocated: int, safety: int
    ) -> None:
        balance = Balance(TEA, "W1", on_hand, reserved, allocated, safety)
        assert balance.available == on_hand - reserved - allocated
        assert balance.sellable() == max(0, balance.available - safety)

    @pytest.mark.parametrize(
        "field", ["on_hand", "reserved", "allocated", "safety_stock"]
    )
    @pytest.mark.parametrize("value", [-1, 1.5, True, "3"])
    def test_figures_are_counts(self, field: str, value: object) -> None:
        with pytest.raises(InvalidQuantity) as error:
            Balance(TEA, "W1", **{field: value})  # type: ignore[arg-type]
        assert (error.value.field, error.value.value) == (field, value)


class TestStockLine:
    """A line names a SKU, a location and a positive quantity."""

    @pytest.mark.parametrize(
        ("args", "field"),
        [
            ((TEA, "W1", 0), "quantity"),
            ((TEA, "W1", -3), "quantity"),
            ((TEA, "W1", 2.0), "quantity"),
            ((TEA, "W1", 2**63), "quantity"),
            (("", "W1", 1), "sku"),
            ((TEA, "  ", 1), "location"),
            ((TEA, "W1\n", 1), "location"),
            ((None, "W1", 1), "sku"),
        ],
    )
    def test_bad_lines_name_the_field(
        self, args: tuple[object, object, object], field: str
    ) -> None:
        with pytest.raises(ValidationError) as error:
            StockLine(*args)  # type: ignore[arg-type]
        assert error.value.field == field


class TestPolicies:
    """Each policy says how far below zero available may go, and when."""

    def test_floors(self) -> None:
        assert NoOversell().floor(T0) == 0
        assert Backorder(4).floor(T0) == -4
        preorder = Preorder(cap=50, ends_at=T0.add(days=7))
        assert preorder.floor(T0) == -50
        assert preorder.floor(T0.add(days=7)) == 0

    def test_bad_policies_are_refused(self) -> None:
        with pytest.raises(InvalidQuantity):
            Backorder(0)
        with pytest.raises(InvalidQuantity):
            Preorder(cap=-1, ends_at=T0)
        with pytest.raises(NaiveDatetime):
            Preorder(cap=5, ends_at=dt.datetime(2026, 12, 1))  # noqa: DTZ001 - naive on purpose


class TestHold:
    """A hold is live until resolved or past its expiry."""

    def test_is_live_until_expiry_exclusive(self) -> None:
        h = hold()
        assert h.is_live(T0.add(minutes=14, seconds=59))
        assert not h.is_live(T0.add(minutes=15))

    def test_resolved_is_never_live(self) -> None:
        assert not hold(state=HoldState.RELEASED, resolved_at=T0).is_live(T0)

    def test_unshipped(self) -> None:
        assert hold(state=HoldState.COMMITTED, committed=4, shipped=1).unshipped == 3

    def test_naive_times_are_refused(self) -> None:
        with pytest.raises(NaiveDatetime) as error:
            hold(expires_at=dt.datetime(2026, 11, 11))  # noqa: DTZ001 - naive on purpose
        assert error.value.field == "expires_at"


class TestShortage:
    """The error lists every short line, readably."""

    def test_message_lists_each_line(self) -> None:
        error = InsufficientStock(
            [Shortage(TEA, "W1", 6, 4), Shortage("MUG", None, 2, 0, "allocated")]
        )
        assert str(error) == (
            "insufficient stock: 'TEA-LONGJING-250G' at 'W1': requested 6, "
            "available 4; 'MUG' at all locations: requested 2, allocated 0"
        )
        assert isinstance(error, ValueError)


def movement(
    kind: MovementKind, *, on_hand: int = 0, reserved: int = 0, allocated: int = 0
) -> Movement:
    return Movement(
        key="k",
        kind=kind,
        sku=TEA,
        location="W1",
        at=T0,
        on_hand=on_hand,
        reserved=reserved,
        allocated=allocated,
    )


class TestReplay:
    """Balances are the sums of the movements."""

    def test_sums_per_balance(self) -> None:
        movements = [
            movement(MovementKind.RECEIVE, on_hand=10),
            movement(MovementKind.HOLD, reserved=4),
            movement(MovementKind.COMMIT, reserved=-3, allocated=3),
            movement(MovementKind.RELEASE, reserved=-1),
            movement(MovementKind.SHIP, on_hand=-2, allocated=-2),
        ]
        assert replay(movements) == {(TEA, "W1"): Balance(TEA, "W1", 8, 0, 1)}

    def test_an_inconsistent_ledger_is_loud(self) -> None:
        with pytest.raises(InvalidQuantity):
            replay([movement(MovementKind.SHIP, on_hand=-1, allocated=-1)])

    def test_a_sum_below_zero_names_the_balance_and_figure(self) -> None:
        with pytest.raises(InvalidQuantity) as error:
            replay([movement(MovementKind.COMMIT, reserved=-2, allocated=2)])
        assert (error.value.field, error.value.value) == (
            f"balance[{TEA!r}, 'W1'].reserved",
            -2,
        )

    def test_only_the_sums_are_bounded(self) -> None:
        # A store checks a balance once a plan's movements are all applied:
        # one plan may take a figure below zero and back.
        movements = [
            movement(MovementKind.ADJUST, on_hand=-2),
            movement(MovementKind.RECEIVE, on_hand=5),
        ]
        assert replay(movements) == {(TEA, "W1"): Balance(TEA, "W1", 3)}


class TestSignals:
    """A receipt says when sellable stock hit zero or came back."""

    @pytest.mark.parametrize(
        ("reserved", "after", "expected"),
        [
            (3, Balance(TEA, "W1", 5, 3, 0, 2), (Delist(TEA, "W1", 2, 2),)),
            (-1, Balance(TEA, "W1", 5, 2, 0, 2), (Relist(TEA, "W1", 3, 2),)),
            (1, Balance(TEA, "W1", 9, 1, 0, 2), ()),
            (1, Balance(TEA, "W1", 5, 4, 0, 2), ()),
        ],
    )
    def test_crossing_zero_sellable(
        self, reserved: int, after: Balance, expected: tuple[object, ...]
    ) -> None:
        receipt = Receipt(
            key="k",
            at=T0,
            movements=[movement(MovementKind.HOLD, reserved=reserved)],
            balances=[after],
        )
        assert receipt.signals == expected


class TestPlanning:
    """Each operation becomes a plan; invalid requests never reach a store."""

    def test_reserve_merges_lines_and_checks_each_balance(self) -> None:
        plan = planning.reserve(
            stamp(),
            "cart-7",
            [
                StockLine(TEA, "W1", 2),
                StockLine("MUG", "W1", 1),
                StockLine(TEA, "W1", 3),
            ],
            T0.add(minutes=15),
        )
        assert [(w.new.sku, w.new.quantity, w.new.hold_id) for w in plan.holds] == [
            (TEA, 5, "op-1/0"),
            ("MUG", 1, "op-1/1"),
        ]
        assert plan.checks == (Check(TEA, "W1", 5), Check("MUG", "W1", 1))
        assert plan.supersede == "cart-7"
        assert [(m.index, m.reserved) for m in plan.movements] == [(0, 5), (1, 1)]
        assert plan.touched() == ((TEA, "W1"), ("MUG", "W1"))

    def test_commit_in_part_releases_the_rest(self) -> None:
        plan = planning.commit(stamp(), hold(), 3)
        assert plan is not None
        assert [(m.kind, m.reserved, m.allocated) for m in plan.movements] == [
            (MovementKind.COMMIT, -3, 3),
            (MovementKind.RELEASE, -2, 0),
        ]
        (write,) = plan.holds
        assert (write.new.state, write.new.committed) == (HoldState.COMMITTED, 3)

    def test_resolved_holds_plan_nothing_or_refuse(self) -> None:
        committed = hold(state=HoldState.COMMITTED, committed=5, resolved_at=T0)
        released = hold(state=HoldState.RELEASED, resolved_at=T0)
        assert planning.commit(stamp(), committed, None) is None
        assert planning.release(stamp(), released) is None
        with pytest.raises(HoldNotLive) as error:
            planning.commit(stamp(), released, None)
        assert error.value.state == "released"
        with pytest.raises(InvalidQuantity):
            planning.commit(stamp(), hold(), 6)

    def test_extend_never_shortens(self) -> None:
        plan = planning.extend(stamp(), hold(), T0.add(minutes=5))
        assert plan.holds[0].new.expires_at == T0.add(minutes=15)
        with pytest.raises(HoldNotLive):
            planning.extend(
                planning.Stamp("k", T0.add(hours=1)), hold(), T0.add(hours=2)
            )

    def test_ship_takes_oldest_commits_first(self) -> None:
        older = hold(
            hold_id="a", state=HoldState.COMMITTED, committed=2, resolved_at=T0
        )
        newer = hold(
            hold_id="b",
            placed_at=T0.add(minutes=1),
            state=HoldState.COMMITTED,
            committed=3,
            resolved_at=T0,
        )
        plan = planning.ship(stamp(), [StockLine(TEA, "W1", 4)], [newer, older])
        assert [(w.new.hold_id, w.new.shipped) for w in plan.holds] == [
            ("a", 2),
            ("b", 2),
        ]
        with pytest.raises(InsufficientStock) as error:
            planning.ship(stamp(), [StockLine(TEA, "W1", 6)], [newer, older])
        assert error.value.shortages == (Shortage(TEA, "W1", 6, 5, "allocated"),)

    def test_a_negative_delta_keeps_available_at_the_policy_floor(self) -> None:
        loss = planning.adjust(stamp(), TEA, "W1", delta=-2, counted=None)
        assert Check(TEA, "W1", 2, Measure.AVAILABLE, None) in loss.checks
        gain = planning.adjust(stamp(), TEA, "W1", delta=2, counted=None)
        assert gain.checks == ()

    def test_commit_beyond_a_committed_hold_is_invalid(self) -> None:
        done = hold(state=HoldState.COMMITTED, committed=5, resolved_at=T0)
        assert planning.commit(stamp(), done, 5) is None
        with pytest.raises(InvalidQuantity) as error:
            planning.commit(stamp(), done, 6)
        assert error.value.field == "quantity"

    def test_stocktake_carries_the_count_and_a_negative_delta_is_checked(
        self,
    ) -> None:
        count = planning.adjust(stamp(), TEA, "W1", delta=None, counted=7)
        assert (count.movements[0].counted, count.checks) == (7, ())
        loss = planning.adjust(stamp(), TEA, "W1", delta=-2, counted=None)
        # On hand stays whole, and units promised to holds stay promised: a
        # correction does not take available below the policy's floor.
        assert loss.checks == (
            Check(TEA, "W1", 2, Measure.ON_HAND, 0),
            Check(TEA, "W1", 2, Measure.AVAILABLE, None),
        )


class TestPlanValues:
    """Plans and their parts refuse malformed content by field."""

    @pytest.mark.parametrize(
        ("build", "field"),
        [
            (lambda: Plan(key="", now=T0), "key"),
            (lambda: Plan(key="k", now=dt.datetime(2026, 1, 1)), "now"),  # noqa: DTZ001 - naive on purpose
            (lambda: Plan(key="k", now=T0, movements=["x"]), "movements[0]"),  # type: ignore[list-item]
            (lambda: Check(TEA, "W1", 1, minimum=1.5), "minimum"),
            (lambda: Check(TEA, "W1", -1), "requested"),
        ],
    )
    def test_bad_parts(self, build: Callable[[], object], field: str) -> None:
        with pytest.raises(ValidationError) as error:
            build()
        assert error.value.field == field
