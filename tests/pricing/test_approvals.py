"""Manual price changes: tier tables, routing, approve / reject / expire, audit."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import attrs
import pendulum
import pytest
from hypothesis import given
from hypothesis import strategies as st

from orderkit.errors import (
    CurrencyMismatch,
    InvalidMoney,
    NaiveDatetime,
    ValidationError,
)
from orderkit.money import Money
from orderkit.pricing import (
    AlreadyDecided,
    ApprovalTier,
    ApprovalTiers,
    ChangeState,
    Decided,
    PriceChange,
    PriceChanged,
    approve,
    expire,
    reject,
    request_change,
)


T0 = pendulum.datetime(2026, 11, 11, 2, 30)  # 10:30 in Shanghai, Singles' Day
MANAGER, DIRECTOR, FINANCE = "store_manager", "regional_director", "finance"
TIERS = ApprovalTiers.of(
    (Money("100.00", "CNY"), MANAGER),
    (Money("500.00", "CNY"), DIRECTOR),
    (None, FINANCE),
)


def cny(amount: str) -> Money:
    return Money(amount, "CNY")


def change(**overrides: object) -> PriceChange:
    """A clerk's request to cut a tea set from 399.00 to 359.00 (one unit)."""
    fields: dict[str, object] = {
        "change_id": "PC-0001",
        "order_id": "TB-20261111-8841",
        "line_id": "L1",
        "sku": "TEA-SET-YIXING-6P",
        "quantity": 1,
        "old_unit_price": cny("399.00"),
        "new_unit_price": cny("359.00"),
        "reason": "buyer found a scratch on the lid in the live stream",
        "requester": "clerk.zhang",
        "evidence": "ticket://CS-77120",
        "requested_at": T0,
        "ttl": dt.timedelta(hours=24),
    }
    fields.update(overrides)
    return request_change(TIERS, **fields)  # type: ignore[arg-type]


def decided(outcome: Decided | AlreadyDecided) -> Decided:
    assert isinstance(outcome, Decided)
    return outcome


class TestTierTable:
    """A tier table covers zero to infinity, one currency, no gap, no overlap."""

    def test_roles_in_order_of_authority(self) -> None:
        assert TIERS.roles == (MANAGER, DIRECTOR, FINANCE)
        assert TIERS.currency == "CNY"
        assert TIERS.rank(FINANCE) == 2

    def test_one_open_tier_covers_everything(self) -> None:
        tiers = ApprovalTiers([ApprovalTier(FINANCE, None)])
        assert tiers.role_for(Money("1000000", "USD")) == FINANCE
        assert tiers.currency is None

    def test_empty_table_refused(self) -> None:
        with pytest.raises(ValidationError) as caught:
            ApprovalTiers([])
        assert caught.value.field == "tiers"

    def test_missing_open_tier_is_a_gap_at_the_top(self) -> None:
        with pytest.raises(ValidationError) as caught:
            ApprovalTiers.of((cny("100"), MANAGER), (cny("500"), DIRECTOR))
        assert caught.value.field == "tiers[1].up_to"
        assert caught.value.value == cny("500")
        assert "no approver" in str(caught.value)

    def test_open_tier_before_the_last_overlaps(self) -> None:
        with pytest.raises(ValidationError) as caught:
            ApprovalTiers.of((cny("100"), MANAGER), (None, FINANCE), (None, "ceo"))
        assert caught.value.field == "tiers[1].up_to"

    @pytest.mark.parametrize("bound", ["100.00", "99.99"])
    def test_bounds_not_increasing_overlap(self, bound: str) -> None:
        with pytest.raises(ValidationError) as caught:
            ApprovalTiers.of(
                (cny("100"), MANAGER), (cny(bound), DIRECTOR), (None, FINANCE)
            )
        assert caught.value.field == "tiers[1].up_to"
        assert "overlaps" in str(caught.value)

    def test_ranges_with_a_gap_refused(self) -> None:
        with pytest.raises(ValidationError) as caught:
            ApprovalTiers(
                [
                    ApprovalTier(MANAGER, cny("100"), starts_at=cny("0")),
                    ApprovalTier(DIRECTOR, cny("500"), starts_at=cny("150.00")),
                    ApprovalTier(FINANCE, None, starts_at=cny("500.01")),
                ]
            )
        assert caught.value.field == "tiers[1].starts_at"
        assert caught.value.value == cny("150.00")
        assert "gap" in str(caught.value)

    def test_ranges_with_an_overlap_refused(self) -> None:
        with pytest.raises(ValidationError) as caught:
            ApprovalTiers(
                [
                    ApprovalTier(MANAGER, cny("100"), starts_at=cny("0")),
                    ApprovalTier(DIRECTOR, cny("500"), starts_at=cny("100.00")),
                    ApprovalTier(FINANCE, None),
                ]
            )
        assert caught.value.field == "tiers[1].starts_at"
        assert "overlaps" in str(caught.value)

    def test_first_range_must_start_at_zero(self) -> None:
        with pytest.raises(ValidationError) as caught:
            ApprovalTiers(
                [
                    ApprovalTier(MANAGER, cny("100"), starts_at=cny("0.01")),
                    ApprovalTier(FINANCE, None),
                ]
            )
        assert caught.value.field == "tiers[0].starts_at"

    def test_contiguous_ranges_accepted(self) -> None:
        tiers = ApprovalTiers(
            [
                ApprovalTier(MANAGER, cny("100"), starts_at=cny("0")),
                ApprovalTier(DIRECTOR, cny("500"), starts_at=cny("100.01")),
                ApprovalTier(FINANCE, None, starts_at=cny("500.01")),
            ]
        )
        assert tiers.role_for(cny("100.01")) == DIRECTOR

    def test_mixed_currencies_refused(self) -> None:
        with pytest.raises(CurrencyMismatch) as caught:
            ApprovalTiers.of(
                (cny("100"), MANAGER), (Money("500", "USD"), DIRECTOR), (None, FINANCE)
            )
        assert caught.value.field == "tiers[1].up_to"
        assert caught.value.value == "USD"

    def test_negative_bound_refused(self) -> None:
        with pytest.raises(ValidationError) as caught:
            ApprovalTiers.of((cny("-1"), MANAGER), (None, FINANCE))
        assert caught.value.field == "tiers[0].up_to"

    def test_repeated_role_refused(self) -> None:
        with pytest.raises(ValidationError) as caught:
            ApprovalTiers.of((cny("100"), MANAGER), (None, MANAGER))
        assert caught.value.field == "tiers[1].role"

    def test_float_bound_refused(self) -> None:
        with pytest.raises(ValidationError) as caught:
            ApprovalTier(MANAGER, 100.0)  # type: ignore[arg-type]
        assert caught.value.field == "up_to"

    def test_float_amount_refused_by_money(self) -> None:
        with pytest.raises(InvalidMoney):
            cny(100.0)  # type: ignore[arg-type]

    def test_not_a_tier_refused(self) -> None:
        with pytest.raises(ValidationError) as caught:
            ApprovalTiers([(cny("100"), MANAGER)])  # type: ignore[list-item]
        assert caught.value.field == "tiers[0]"


class TestRouting:
    """Upper bounds are inclusive: 100.00 is the manager's, 100.01 is not."""

    @pytest.mark.parametrize(
        ("amount", "role"),
        [
            ("0.00", MANAGER),
            ("0.01", MANAGER),
            ("100.00", MANAGER),
            ("100.01", DIRECTOR),
            ("500.00", DIRECTOR),
            ("500.01", FINANCE),
            ("98000.00", FINANCE),
        ],
    )
    def test_boundaries(self, amount: str, role: str) -> None:
        assert TIERS.role_for(cny(amount)) == role

    def test_other_currency_refused(self) -> None:
        with pytest.raises(CurrencyMismatch) as caught:
            TIERS.role_for(Money("50", "USD"))
        assert caught.value.field == "amount"

    def test_negative_amount_refused(self) -> None:
        with pytest.raises(ValidationError) as caught:
            TIERS.role_for(cny("-0.01"))
        assert caught.value.field == "amount"

    def test_not_money_refused(self) -> None:
        with pytest.raises(ValidationError):
            TIERS.role_for(Decimal(5))  # type: ignore[arg-type]

    def test_unknown_role_has_no_rank(self) -> None:
        with pytest.raises(ValidationError) as caught:
            TIERS.rank("intern")
        assert caught.value.field == "role"

    @given(st.integers(min_value=0, max_value=10**12))
    def test_every_amount_routes_to_exactly_one_tier(self, minor: int) -> None:
        amount = Money.from_minor(minor, "CNY")
        holding = [
            tier
            for i, tier in enumerate(TIERS.tiers)
            if (tier.up_to is None or amount <= tier.up_to)
            and (i == 0 or amount > TIERS.tiers[i - 1].up_to)  # type: ignore[operator]
        ]
        assert len(holding) == 1
        assert TIERS.role_for(amount) == holding[0].role

    @given(
        st.integers(min_value=0, max_value=10**9),
        st.integers(min_value=0, max_value=10**9),
    )
    def test_routing_is_monotonic(self, a: int, b: int) -> None:
        low, high = sorted((a, b))
        role_low = TIERS.role_for(Money.from_minor(low, "CNY"))
        role_high = TIERS.role_for(Money.from_minor(high, "CNY"))
        assert TIERS.rank(role_low) <= TIERS.rank(role_high)


class TestRequest:
    """A request routes the absolute change of the line total."""

    def test_small_cut_goes_to_the_store_manager(self) -> None:
        pending = change()
        assert pending.state is ChangeState.PENDING
        assert pending.delta == cny("-40.00")
        assert pending.amount == cny("40.00")
        assert pending.required_role == MANAGER
        assert pending.expires_at == T0.add(hours=24)

    def test_quantity_multiplies_the_amount(self) -> None:
        # 6 cups x 20.00 off = 120.00: over the manager's 100.
        pending = change(
            quantity=6, old_unit_price=cny("89.00"), new_unit_price=cny("69.00")
        )
        assert pending.amount == cny("120.00")
        assert pending.required_role == DIRECTOR

    def test_raise_routes_like_a_cut(self) -> None:
        pending = change(new_unit_price=cny("999.00"))
        assert pending.delta == cny("600.00")
        assert pending.required_role == FINANCE

    def test_negative_price_refused(self) -> None:
        with pytest.raises(ValidationError) as caught:
            change(new_unit_price=cny("-1.00"))
        assert caught.value.field == "new_unit_price"

    def test_float_price_refused(self) -> None:
        with pytest.raises(ValidationError) as caught:
            change(new_unit_price=359.0)
        assert caught.value.field == "new_unit_price"

    def test_mixed_currencies_refused(self) -> None:
        with pytest.raises(CurrencyMismatch) as caught:
            change(new_unit_price=Money("50.00", "USD"))
        assert caught.value.field == "new_unit_price"

    def test_prices_in_another_currency_than_the_tiers_refused(self) -> None:
        with pytest.raises(CurrencyMismatch):
            change(
                old_unit_price=Money("60.00", "USD"),
                new_unit_price=Money("50.00", "USD"),
            )

    def test_no_change_refused(self) -> None:
        with pytest.raises(ValidationError) as caught:
            change(new_unit_price=cny("399.00"))
        assert caught.value.field == "new_unit_price"

    @pytest.mark.parametrize("ttl", [dt.timedelta(0), dt.timedelta(hours=-1), 3600])
    def test_ttl_must_be_positive_timedelta(self, ttl: object) -> None:
        with pytest.raises(ValidationError) as caught:
            change(ttl=ttl)
        assert caught.value.field == "ttl"

    def test_naive_time_refused(self) -> None:
        with pytest.raises(NaiveDatetime):
            change(requested_at=dt.datetime(2026, 11, 11, 10, 30))  # noqa: DTZ001

    @pytest.mark.parametrize("field", ["reason", "requester", "evidence", "sku"])
    def test_blank_text_refused(self, field: str) -> None:
        with pytest.raises(ValidationError) as caught:
            change(**{field: "  "})
        assert caught.value.field == field

    def test_zero_quantity_refused(self) -> None:
        with pytest.raises(ValidationError) as caught:
            change(quantity=0)
        assert caught.value.field == "quantity"


class TestApprove:
    """Approval needs a high enough role and someone other than the requester."""

    def test_manager_approves_and_gets_the_record(self) -> None:
        pending = change()
        at = T0.add(minutes=12)
        outcome = decided(
            approve(pending, TIERS, approver="mgr.li", role=MANAGER, now=at)
        )
        assert outcome.change.state is ChangeState.APPROVED
        assert outcome.change.decided_by == "mgr.li"
        assert outcome.change.decided_at == at
        assert outcome.record == PriceChanged(
            change_id="PC-0001",
            order_id="TB-20261111-8841",
            line_id="L1",
            old_unit_price=cny("399.00"),
            new_unit_price=cny("359.00"),
            quantity=1,
            actor="clerk.zhang",
            approver="mgr.li",
            approver_role=MANAGER,
            at=at,
            reason="buyer found a scratch on the lid in the live stream",
            evidence="ticket://CS-77120",
        )

    def test_higher_role_may_approve_a_lower_amount(self) -> None:
        outcome = decided(
            approve(change(), TIERS, approver="cfo.wu", role=FINANCE, now=T0)
        )
        assert outcome.change.state is ChangeState.APPROVED

    def test_insufficient_role_refused(self) -> None:
        big = change(new_unit_price=cny("99.00"))  # 300.00 off
        with pytest.raises(ValidationError) as caught:
            approve(big, TIERS, approver="mgr.li", role=MANAGER, now=T0)
        assert caught.value.field == "role"
        assert "regional_director" in str(caught.value)

    def test_unknown_role_refused(self) -> None:
        with pytest.raises(ValidationError) as caught:
            approve(change(), TIERS, approver="temp.01", role="intern", now=T0)
        assert caught.value.field == "role"

    @pytest.mark.parametrize("who", ["clerk.zhang", " Clerk.Zhang "])
    def test_self_approval_refused(self, who: str) -> None:
        with pytest.raises(ValidationError) as caught:
            approve(change(), TIERS, approver=who, role=FINANCE, now=T0)
        assert caught.value.field == "approver"

    def test_approving_twice_is_a_no_op_that_says_so(self) -> None:
        first = decided(
            approve(change(), TIERS, approver="mgr.li", role=MANAGER, now=T0)
        )
        again = approve(
            first.change, TIERS, approver="mgr.li", role=MANAGER, now=T0.add(hours=1)
        )
        assert again == AlreadyDecided(first.change)

    def test_approving_a_rejected_change_refused(self) -> None:
        rejected = decided(
            reject(change(), TIERS, approver="mgr.li", role=MANAGER, now=T0)
        )
        with pytest.raises(ValidationError) as caught:
            approve(rejected.change, TIERS, approver="dir.chen", role=DIRECTOR, now=T0)
        assert caught.value.field == "state"
        assert caught.value.value == ChangeState.REJECTED

    def test_approving_past_expiry_refused_even_without_a_sweep(self) -> None:
        with pytest.raises(ValidationError) as caught:
            approve(
                change(), TIERS, approver="mgr.li", role=MANAGER, now=T0.add(hours=24)
            )
        assert caught.value.field == "now"

    def test_approving_before_the_request_refused(self) -> None:
        with pytest.raises(ValidationError) as caught:
            approve(
                change(), TIERS, approver="mgr.li", role=MANAGER, now=T0.add(hours=-1)
            )
        assert caught.value.field == "now"

    def test_naive_now_refused(self) -> None:
        with pytest.raises(NaiveDatetime):
            approve(
                change(),
                TIERS,
                approver="mgr.li",
                role=MANAGER,
                now=dt.datetime(2026, 11, 11, 11, 0),  # noqa: DTZ001
            )


class TestApprovalRoutesTheAmount:
    """`approve` and `reject` need the amount's role, whatever role a change carries."""

    def test_a_change_built_with_a_low_role_needs_its_amount_s_role(self) -> None:
        # 100 cups from 89.00 to 0.00 move 8,900.00: finance's to approve.
        built = PriceChange(
            change_id="PC-0002",
            order_id="TB-20261111-8841",
            line_id="L1",
            sku="CUP-CELADON-200ML",
            quantity=100,
            old_unit_price=cny("89.00"),
            new_unit_price=cny("0.00"),
            reason="read back from a document",
            requester="clerk.zhang",
            evidence="ticket://CS-77121",
            requested_at=T0,
            expires_at=T0.add(hours=24),
            required_role=MANAGER,
        )
        for decide in (approve, reject):
            with pytest.raises(ValidationError) as caught:
                decide(built, TIERS, approver="mgr.li", role=MANAGER, now=T0)
            assert (caught.value.field, caught.value.value) == ("role", MANAGER)
            assert "'finance'" in str(caught.value)
        outcome = decided(
            approve(built, TIERS, approver="cfo.wu", role=FINANCE, now=T0)
        )
        assert outcome.record is not None
        assert outcome.record.approver_role == FINANCE

    def test_a_request_evolved_to_move_more_keeps_no_small_route(self) -> None:
        small = change()  # 40.00 off: the store manager's
        assert small.required_role == MANAGER
        big = attrs.evolve(small, quantity=1000, new_unit_price=cny("0.00"))
        with pytest.raises(ValidationError) as caught:
            approve(big, TIERS, approver="mgr.li", role=MANAGER, now=T0)
        assert caught.value.field == "role"
        with pytest.raises(ValidationError):
            approve(big, TIERS, approver="dir.chen", role=DIRECTOR, now=T0)

    def test_a_stored_role_above_the_amount_s_still_binds(self) -> None:
        # Routed under a stricter table, or by a person: never lowered here.
        strict = attrs.evolve(change(), required_role=DIRECTOR)
        with pytest.raises(ValidationError) as caught:
            approve(strict, TIERS, approver="mgr.li", role=MANAGER, now=T0)
        assert caught.value.field == "role"
        assert "'regional_director'" in str(caught.value)

    def test_tiers_in_another_currency_refused(self) -> None:
        dollars = ApprovalTiers.of((Money("100.00", "USD"), MANAGER), (None, FINANCE))
        with pytest.raises(CurrencyMismatch):
            approve(change(), dollars, approver="cfo.wu", role=FINANCE, now=T0)


class TestADecisionHoldsItsRules:
    """A decided change is a decision `approve` or `reject` could have made."""

    @pytest.mark.parametrize("state", [ChangeState.APPROVED, ChangeState.REJECTED])
    @pytest.mark.parametrize(
        "who",
        [
            "clerk.zhang",
            " Clerk.Zhang ",
            "".join(chr(ord(c) + 0xFEE0) for c in "CLERK") + ".zhang",  # full width
            "clerk\u2024zhang",  # a one-dot leader
        ],
    )
    def test_the_requester_never_decides(self, state: ChangeState, who: str) -> None:
        with pytest.raises(ValidationError) as caught:
            attrs.evolve(
                change(), state=state, decided_by=who, decided_at=T0.add(minutes=5)
            )
        assert caught.value.field == "decided_by"

    @pytest.mark.parametrize("state", [ChangeState.APPROVED, ChangeState.REJECTED])
    @pytest.mark.parametrize("after", [dt.timedelta(hours=24), dt.timedelta(days=3)])
    def test_not_at_or_after_expiry(
        self, state: ChangeState, after: dt.timedelta
    ) -> None:
        with pytest.raises(ValidationError) as caught:
            attrs.evolve(
                change(), state=state, decided_by="mgr.li", decided_at=T0 + after
            )
        assert caught.value.field == "decided_at"

    def test_not_before_the_request(self) -> None:
        with pytest.raises(ValidationError) as caught:
            attrs.evolve(
                change(),
                state=ChangeState.APPROVED,
                decided_by="mgr.li",
                decided_at=T0.add(seconds=-1),
            )
        assert caught.value.field == "decided_at"

    def test_the_last_instant_before_expiry_is_in_time(self) -> None:
        pending = change()
        last = pending.expires_at.add(microseconds=-1)
        approved = attrs.evolve(
            pending, state=ChangeState.APPROVED, decided_by="mgr.li", decided_at=last
        )
        assert approved.decided_at == last


class TestRejectAndExpire:
    """A change leaves pending once: rejected, or expired when its time is up."""

    def test_reject_keeps_the_note_and_no_record(self) -> None:
        outcome = decided(
            reject(
                change(),
                TIERS,
                approver="mgr.li",
                role=MANAGER,
                now=T0,
                note="no photo of the scratch",
            )
        )
        assert outcome.change.state is ChangeState.REJECTED
        assert outcome.change.note == "no photo of the scratch"
        assert outcome.record is None

    def test_reject_twice_is_a_no_op(self) -> None:
        first = decided(
            reject(change(), TIERS, approver="mgr.li", role=MANAGER, now=T0)
        )
        again = reject(first.change, TIERS, approver="mgr.li", role=MANAGER, now=T0)
        assert isinstance(again, AlreadyDecided)

    def test_requester_cannot_reject_either(self) -> None:
        with pytest.raises(ValidationError):
            reject(change(), TIERS, approver="clerk.zhang", role=MANAGER, now=T0)

    def test_rejecting_an_approved_change_refused(self) -> None:
        approved = decided(
            approve(change(), TIERS, approver="mgr.li", role=MANAGER, now=T0)
        )
        with pytest.raises(ValidationError) as caught:
            reject(approved.change, TIERS, approver="dir.chen", role=DIRECTOR, now=T0)
        assert caught.value.field == "state"

    def test_expire_when_due(self) -> None:
        pending = change()
        outcome = decided(expire(pending, T0.add(hours=30)))
        assert outcome.change.state is ChangeState.EXPIRED
        assert outcome.change.decided_at == pending.expires_at
        assert outcome.change.decided_by is None
        assert isinstance(expire(outcome.change, T0.add(hours=31)), AlreadyDecided)

    def test_expire_before_due_refused(self) -> None:
        with pytest.raises(ValidationError) as caught:
            expire(change(), T0.add(hours=23, minutes=59))
        assert caught.value.field == "now"

    def test_expiring_an_approved_change_refused(self) -> None:
        approved = decided(
            approve(change(), TIERS, approver="mgr.li", role=MANAGER, now=T0)
        )
        with pytest.raises(ValidationError) as caught:
            expire(approved.change, T0.add(days=2))
        assert caught.value.field == "state"

    def test_expired_change_cannot_be_approved(self) -> None:
        expired = decided(expire(change(), T0.add(days=2)))
        with pytest.raises(ValidationError) as caught:
            approve(expired.change, TIERS, approver="mgr.li", role=MANAGER, now=T0)
        assert caught.value.field == "state"

    def test_inconsistent_state_refused(self) -> None:
        pending = change()
        with pytest.raises(ValidationError) as caught:
            attrs.evolve(pending, state=ChangeState.APPROVED)
        assert caught.value.field == "decided_at"
