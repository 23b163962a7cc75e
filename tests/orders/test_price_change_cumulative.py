"""Approval tiers hold a line's whole move since intake, not each change alone.

A store manager who may approve 100.00 must not take a line from 89.00 to
0.00 x 6 (534.00) in nine approved steps of 60.00: `record_price_change`
(and so `OrderDesk.amend`) refuses the step whose line has moved past the
approver's tier since the order was taken in, and `role_needed` says so
before anyone approves.
"""

from __future__ import annotations

import datetime as dt

import attrs
import pendulum
import pytest
from hypothesis import given
from hypothesis import strategies as st

from orderkit.adapters.memory import MemoryUnitOfWork
from orderkit.dedupe import Fingerprinter, IdempotencyKey
from orderkit.errors import ValidationError
from orderkit.money import Money
from orderkit.orders import (
    Address,
    Buyer,
    Order,
    OrderLine,
    Recorded,
    Unchanged,
    record_price_change,
)
from orderkit.pricing import (
    ApprovalTier,
    ApprovalTiers,
    ChangeState,
    PriceChange,
    approve,
    request_change,
    role_needed,
)
from orderkit.serialization import make_converter
from orderkit.services import DeskPolicy, Ledger, OrderDesk
from orderkit.testing import FrozenClock, channel_order


T0 = pendulum.datetime(2026, 11, 11, 2, 30)
TIERS = ApprovalTiers.of(
    (Money("100.00", "CNY"), "store_manager"),
    (Money("500.00", "CNY"), "regional_director"),
    (None, "finance"),
)
STEPS = ("79.00", "69.00", "59.00", "49.00", "39.00", "29.00", "19.00", "9.00", "0.00")
"""The trial's nine steps of 10.00 a cup, 60.00 each on six cups."""


def cny(amount: str) -> Money:
    return Money(amount, "CNY")


def an_order(price: str = "89.00", quantity: int = 6) -> Order:
    return Order(
        order_id="TB-1",
        channel="taobao",
        buyer=Buyer("tb-7"),
        address=Address("CN", "浙江省", "杭州市"),
        lines=[OrderLine("L1", "CUP", quantity, cny(price))],
        placed_at=pendulum.datetime(2026, 11, 11, 2, 0),
    )


def ask(
    change_id: str, old: str, new: str, *, order_id: str = "TB-1", quantity: int = 6
) -> PriceChange:
    return request_change(
        TIERS,
        change_id=change_id,
        order_id=order_id,
        line_id="L1",
        sku="CUP",
        quantity=quantity,
        old_unit_price=cny(old),
        new_unit_price=cny(new),
        reason="price match",
        requester="clerk.zhang",
        evidence="ticket://1",
        requested_at=T0,
        ttl=dt.timedelta(hours=24),
    )


def approved(change: PriceChange, role: str) -> PriceChange:
    return approve(change, TIERS, approver=f"{role}.li", role=role, now=T0).change


def key(change: PriceChange) -> IdempotencyKey:
    # By the change and its state: its request and its decision are two steps.
    return IdempotencyKey(
        "bo", "price_change", "TB-1", f"{change.change_id}:{change.state}"
    )


def record(order: Order, change: PriceChange) -> Order:
    outcome = record_price_change(
        order,
        change,
        key=key(change),
        actor="mgr",
        source="bo",
        now=T0.add(minutes=1),
    )
    assert isinstance(outcome, Recorded)
    return outcome.order


def step(order: Order, change_id: str, new: str, role: str) -> Order:
    old = str(order.line("L1").unit_price.amount)
    return record(order, approved(ask(change_id, old, new), role))


class TestSalami:
    def test_the_step_that_crosses_the_tier_is_refused(self) -> None:
        order = step(an_order(), "PC-1", STEPS[0], "store_manager")
        change = approved(ask("PC-2", STEPS[0], STEPS[1]), "store_manager")
        assert change.amount == cny("60.00")  # within the tier alone
        with pytest.raises(ValidationError) as caught:
            record(order, change)
        assert caught.value.field == "role"
        assert caught.value.value == "store_manager"
        assert "120.00 CNY" in str(caught.value)
        assert "100.00 CNY" in str(caught.value)

    def test_the_nine_steps_stop_at_the_second(self) -> None:
        order, price, done = an_order(), "89.00", 0
        for n, new in enumerate(STEPS, 1):
            change = approved(ask(f"PC-{n}", price, new), "store_manager")
            try:
                order = record(order, change)
            except ValidationError:
                break
            price, done = new, n
        assert done == 1
        assert order.line("L1").unit_price == cny("79.00")

    def test_a_single_change_within_the_tier_is_recorded(self) -> None:
        order = step(an_order(), "PC-1", "72.34", "store_manager")
        assert order.line("L1").unit_price == cny("72.34")  # 99.96 moved

    def test_steps_up_to_the_tier_exactly_are_recorded(self) -> None:
        order = step(an_order(), "PC-1", "79.00", "store_manager")
        order = step(order, "PC-2", "72.34", "store_manager")
        assert order.line("L1").unit_price == cny("72.34")

    def test_finance_approves_the_whole_move(self) -> None:
        order = an_order()
        for n, new in enumerate(STEPS, 1):
            order = step(order, f"PC-{n}", new, "finance")
        assert order.line("L1").unit_price == cny("0.00")

    def test_a_director_approves_up_to_their_tier(self) -> None:
        order = an_order()
        for n, new in enumerate(STEPS[:5], 1):  # 300.00 in all
            order = step(order, f"PC-{n}", new, "regional_director")
        assert order.line("L1").unit_price == cny("39.00")
        with pytest.raises(ValidationError) as caught:
            step(order, "PC-9", "0.00", "regional_director")  # 534.00
        assert caught.value.field == "role"

    def test_a_manager_may_not_cut_further_after_a_director(self) -> None:
        order = step(an_order(), "PC-1", "69.00", "regional_director")
        with pytest.raises(ValidationError):
            step(order, "PC-2", "68.00", "store_manager")  # 6.00 alone, 126.00 in all

    def test_a_pending_request_is_stored_as_it_is(self) -> None:
        order = step(an_order(), "PC-1", "79.00", "store_manager")
        order = record(order, ask("PC-2", "79.00", "69.00"))
        assert order.price_changes[-1].state is ChangeState.PENDING

    def test_the_approval_of_a_stored_request_is_held_too(self) -> None:
        order = step(an_order(), "PC-1", "79.00", "store_manager")
        pending = ask("PC-2", "79.00", "69.00")
        order = record(order, pending)
        with pytest.raises(ValidationError):
            record(order, approved(pending, "store_manager"))
        assert record(order, approved(pending, "regional_director")).line(
            "L1"
        ).unit_price == cny("69.00")


class TestRaises:
    def test_a_raise_back_offsets_a_cut(self) -> None:
        order = step(an_order(), "PC-1", "79.00", "store_manager")
        order = step(order, "PC-2", "89.00", "store_manager")
        order = step(order, "PC-3", "79.00", "store_manager")
        assert order.line("L1").unit_price == cny("79.00")

    def test_a_partial_raise_back_needs_its_own_amount_only(self) -> None:
        order = step(an_order(), "PC-1", "39.00", "regional_director")
        order = step(order, "PC-2", "49.00", "store_manager")  # 60.00 back
        assert order.line("L1").unit_price == cny("49.00")
        with pytest.raises(ValidationError):
            step(order, "PC-3", "44.00", "store_manager")  # 270.00 below intake

    def test_raises_add_up_too(self) -> None:
        order = step(an_order(), "PC-1", "99.00", "store_manager")
        with pytest.raises(ValidationError):
            step(order, "PC-2", "109.00", "store_manager")  # 120.00 above intake

    def test_a_change_across_the_intake_price_needs_its_own_amount(self) -> None:
        order = step(an_order(), "PC-1", "99.00", "store_manager")
        with pytest.raises(ValidationError) as caught:
            approved(ask("PC-2", "99.00", "79.00"), "store_manager")  # 120.00
        assert caught.value.field == "role"
        order = step(order, "PC-2", "79.00", "regional_director")
        assert order.line("L1").unit_price == cny("79.00")


class TestRoleNeeded:
    def test_alone_it_is_the_changes_own_role(self) -> None:
        change = ask("PC-1", "89.00", "79.00")
        assert role_needed(an_order(), change, TIERS) == "store_manager"

    def test_with_earlier_steps_it_is_the_whole_moves_role(self) -> None:
        order = step(an_order(), "PC-1", "79.00", "store_manager")
        change = ask("PC-2", "79.00", "69.00")
        assert change.required_role == "store_manager"
        assert role_needed(order, change, TIERS) == "regional_director"
        order = step(order, "PC-2", "69.00", "regional_director")
        assert role_needed(order, ask("PC-3", "69.00", "0.00"), TIERS) == "finance"

    def test_never_below_the_requests_role(self) -> None:
        change = attrs.evolve(ask("PC-1", "89.00", "88.00"), required_role="finance")
        assert role_needed(an_order(), change, TIERS) == "finance"

    def test_an_unknown_line(self) -> None:
        change = attrs.evolve(ask("PC-1", "89.00", "79.00"), line_id="L9")
        with pytest.raises(ValidationError) as caught:
            role_needed(an_order(), change, TIERS)
        assert caught.value.field == "line_id"


class TestApproverTier:
    def test_approve_keeps_the_approvers_tier(self) -> None:
        change = approved(ask("PC-1", "89.00", "79.00"), "regional_director")
        assert change.approver_tier == ApprovalTier("regional_director", cny("500.00"))
        top = approved(ask("PC-2", "89.00", "79.00"), "finance")
        assert top.approver_tier == ApprovalTier("finance", None)

    def test_only_an_approved_change_has_one(self) -> None:
        with pytest.raises(ValidationError) as caught:
            attrs.evolve(
                ask("PC-1", "89.00", "79.00"),
                approver_tier=ApprovalTier("finance", None),
            )
        assert caught.value.field == "approver_tier"

    def test_recording_holds_the_tier_the_change_carries(self) -> None:
        pending = ask("PC-1", "89.00", "79.00")
        order = record(an_order(), pending)
        change = attrs.evolve(
            approved(pending, "store_manager"),
            approver_tier=ApprovalTier("finance", None),
        )
        # Recording it checks the tier it carries: finance may move anything.
        assert record(order, change).line("L1").unit_price == cny("79.00")

    def test_a_change_built_approved_is_not_held_to_a_tier(self) -> None:
        # No tier checks a change built approved; nothing is known of it.
        order = step(an_order(), "PC-1", "79.00", "store_manager")
        built = attrs.evolve(
            ask("PC-2", "79.00", "0.00"),
            state=ChangeState.APPROVED,
            decided_by="someone",
            decided_at=T0,
        )
        assert record(order, built).line("L1").unit_price == cny("0.00")


class TestDesk:
    def test_a_refused_change_leaves_the_store_as_it_was(self) -> None:
        clock = FrozenClock(pendulum.datetime(2026, 11, 11, 2, 0))
        unit = MemoryUnitOfWork()
        with unit as uow:
            _ = Ledger(uow.ledger, clock).receive("CUP", "HZ-1", 50)
            uow.commit()
        desk = OrderDesk(
            unit, clock, DeskPolicy(locations=["HZ-1"]), Fingerprinter.for_tests()
        )
        desk.accept(channel_order([("CUP", 6, "89.00")], order_id="DY-1"))

        def amend(change: PriceChange) -> Recorded | Unchanged:
            return desk.amend(
                "douyin",
                "DY-1",
                change,
                key=IdempotencyKey("bo", "price_change", "DY-1", change.change_id),
                actor="mgr",
                source="bo",
            )

        def ask_desk(change_id: str, old: str, new: str) -> PriceChange:
            change = ask(change_id, old, new, order_id="DY-1")
            return attrs.evolve(
                change, requested_at=clock.now(), expires_at=clock.now().add(hours=1)
            )

        def approve_now(change: PriceChange) -> PriceChange:
            return approve(
                change, TIERS, approver="mgr.li", role="store_manager", now=clock.now()
            ).change

        assert isinstance(
            amend(approve_now(ask_desk("PC-1", "89.00", "79.00"))), Recorded
        )
        with unit as uow:
            before = uow.orders.get("douyin", "DY-1")
            trail = uow.audit.records("douyin", "DY-1")
        with pytest.raises(ValidationError) as caught:
            amend(approve_now(ask_desk("PC-2", "79.00", "69.00")))
        assert caught.value.field == "role"
        with unit as uow:
            assert uow.orders.get("douyin", "DY-1") == before
            assert uow.audit.records("douyin", "DY-1") == trail
        assert before is not None
        assert before.line("L1").unit_price == cny("79.00")


def attempt(order: Order, change: PriceChange, role: str) -> tuple[Order, str | None]:
    """`change` approved in `role` and recorded; or the order, and the field refused."""
    try:
        return record(order, approved(change, role)), None
    except ValidationError as refused:
        return order, refused.field


@given(
    intake=st.integers(min_value=1, max_value=20_000),
    quantity=st.integers(min_value=1, max_value=12),
    moves=st.lists(
        st.integers(min_value=-3_000, max_value=3_000).filter(bool),
        min_size=1,
        max_size=12,
    ),
    role=st.sampled_from(["store_manager", "regional_director"]),
)
def test_one_roles_approvals_never_move_a_line_past_its_tier(
    intake: int, quantity: int, moves: list[int], role: str
) -> None:
    """Whatever the steps (cuts, raises), the line stays within the role's tier."""
    start = Money.from_minor(intake, "CNY")
    order = an_order(str(start.amount), quantity)
    limit = TIERS.tiers[TIERS.rank(role)].up_to
    assert limit is not None
    for n, move in enumerate(moves):
        old = order.line("L1").unit_price
        new = max(old + Money.from_minor(move, "CNY"), cny("0.00"))
        if new == old:
            continue
        change = ask(f"PC-{n}", str(old.amount), str(new.amount), quantity=quantity)
        order, refused = attempt(order, change, role)
        assert refused in {None, "role"}
        assert abs(order.line("L1").unit_price - start) * quantity <= limit


@given(
    quantity=st.integers(min_value=1, max_value=12),
    cuts=st.lists(st.integers(min_value=1, max_value=3_000), min_size=1, max_size=12),
    role=st.sampled_from(["store_manager", "regional_director"]),
)
def test_cuts_by_one_role_never_add_up_past_its_tier(
    quantity: int, cuts: list[int], role: str
) -> None:
    """A chain of cuts: the total cut stays within the role's tier."""
    order = an_order("89.00", quantity)
    limit = TIERS.tiers[TIERS.rank(role)].up_to
    assert limit is not None
    for n, cut in enumerate(cuts):
        old = order.line("L1").unit_price
        new = old - Money.from_minor(cut, "CNY")
        if new.amount < 0:
            break
        change = ask(f"PC-{n}", str(old.amount), str(new.amount), quantity=quantity)
        order, refused = attempt(order, change, role)
        # Refused exactly when the whole cut would pass the tier.
        assert refused == ("role" if (cny("89.00") - new) * quantity > limit else None)
        assert (cny("89.00") - order.line("L1").unit_price) * quantity <= limit


def test_the_approver_tier_is_written_only_when_set() -> None:
    # A document of a change from before `approver_tier` reads as it did, and
    # a change without one is written as it was: no key, not a null.
    converter = make_converter()
    pending = ask("PC-1", "89.00", "79.00")
    document = converter.unstructure(pending)
    assert "approver_tier" not in document
    assert converter.structure(document, PriceChange) == pending

    decided = approved(pending, "store_manager")
    written = converter.unstructure(decided)
    assert written["approver_tier"]["role"] == "store_manager"
    assert converter.structure(written, PriceChange) == decided
