"""Bad input across the public API: a typed error naming the field, never a crash.

A sweep of every public constructor and function with wrong values found
these escaping as `TypeError`, `OverflowError`, `decimal.InvalidOperation`,
or as an `OrderkitError` naming another field; each is pinned here.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path
from typing import Any

import pendulum
import pytest

from orderkit import pricing
from orderkit.adapters.memory import MemoryLedgerStore, MemoryUnitOfWork
from orderkit.adapters.sqlite import SqliteLedgerStore
from orderkit.calendar import day_of, yesterday
from orderkit.dedupe import IdempotencyKey
from orderkit.errors import InvalidQuantity, TransientError, ValidationError
from orderkit.integrations import read_id
from orderkit.inventory import Movement, MovementKind
from orderkit.money import Money
from orderkit.orders import AuditRecord, CaseState, CaseStep, ReturnLine, Saga
from orderkit.pricing import (
    ApprovalTiers,
    PaymentRecord,
    Refund,
    request_change,
)
from orderkit.services import (
    DeskPolicy,
    Ledger,
    RetryPolicy,
    StuckRules,
    recover,
    retry,
)
from orderkit.testing import FrozenClock


T0 = pendulum.datetime(2026, 11, 11)
NAIVE = dt.datetime(2026, 1, 1)  # noqa: DTZ001 - the bad input itself


class TestLedger:
    def test_stock_beyond_64_bits_is_refused_and_the_balance_stays_readable(
        self,
    ) -> None:
        ledger = Ledger(MemoryLedgerStore(), FrozenClock(T0))
        ledger.receive("SKU", "W1", 2**63 - 1)

        with pytest.raises(InvalidQuantity) as caught:
            ledger.receive("SKU", "W1", 1)

        assert caught.value.field == "balance['SKU', 'W1'].on_hand"
        assert ledger.balance("SKU", "W1").on_hand == 2**63 - 1

    @pytest.mark.parametrize("kind", ["memory", "sqlite"])
    def test_a_reason_with_a_lone_surrogate_names_reason(
        self, kind: str, tmp_path: Path
    ) -> None:
        store = (
            MemoryLedgerStore()
            if kind == "memory"
            else SqliteLedgerStore(tmp_path / "l.db")
        )
        ledger = Ledger(store, FrozenClock(T0))

        with pytest.raises(ValidationError) as caught:
            ledger.receive("SKU", "W1", 1, reason="\ud800")

        assert caught.value.field == "reason"
        assert ledger.balances() == []

    def test_a_movement_refuses_such_a_reason_too(self) -> None:
        with pytest.raises(ValidationError) as caught:
            Movement(
                key="k",
                kind=MovementKind.RECEIVE,
                sku="S",
                location="W1",
                at=T0,
                on_hand=1,
                reason="\ud800",
            )
        assert caught.value.field == "reason"

    def test_a_transfer_names_its_bad_source(self) -> None:
        ledger = Ledger(MemoryLedgerStore(), FrozenClock(T0))
        with pytest.raises(ValidationError) as caught:
            ledger.transfer("SKU", "", "W2", 1)
        assert caught.value.field == "source"

    def test_a_bad_hold_ttl_names_hold_ttl(self) -> None:
        with pytest.raises(ValidationError) as caught:
            Ledger(MemoryLedgerStore(), FrozenClock(T0), hold_ttl=dt.timedelta(0))
        assert caught.value.field == "hold_ttl"


class TestServices:
    @pytest.mark.parametrize("page", ["100", None, Decimal("NaN"), 1.5, True, 10**400])
    def test_recover_names_a_bad_page(self, page: Any) -> None:
        with pytest.raises(ValidationError) as caught:
            recover(MemoryUnitOfWork(), page=page)
        assert caught.value.field == "page"

    @pytest.mark.parametrize("field", ["base", "cap"])
    def test_a_retry_policy_of_more_seconds_than_a_float_holds(
        self, field: str
    ) -> None:
        with pytest.raises(ValidationError) as caught:
            RetryPolicy(**{field: 10**400})
        assert caught.value.field == field

    def test_a_retry_hint_no_float_holds_is_no_hint(self) -> None:
        def call() -> None:
            raise TransientError("carrier", "busy", retry_after=10**400)

        with pytest.raises(TransientError):
            retry(call, clock=FrozenClock())

    def test_a_desk_policy_names_its_bad_routing(self) -> None:
        with pytest.raises(ValidationError) as caught:
            DeskPolicy(locations=["W1"], routing="fastest")
        assert caught.value.field == "routing"

    def test_stuck_rules_name_a_bad_status(self) -> None:
        with pytest.raises(ValidationError) as caught:
            StuckRules(limits={"nope": dt.timedelta(hours=1)})
        assert caught.value.field == "limits['nope']"


class TestOrders:
    def test_a_case_step_before_must_be_a_state(self) -> None:
        with pytest.raises(ValidationError) as caught:
            CaseStep(
                action="approve",
                before="requested",  # type: ignore[arg-type]
                after=CaseState.APPROVED,
                actor="a",
                at=T0,
            )
        assert caught.value.field == "before"

    def test_saga_parts_must_be_a_sequence(self) -> None:
        with pytest.raises(ValidationError) as caught:
            Saga(name="checkout", step="s", key="k", started_at=T0, parts=None)  # type: ignore[arg-type]
        assert caught.value.field == "parts"

    @pytest.mark.parametrize("payment_id", ["\ud800", "\x00", "   ", ""])
    def test_a_saga_part_names_its_payment_as_every_id(self, payment_id: str) -> None:
        """An id no store can hold is refused here, not when the order is saved."""
        with pytest.raises(ValidationError) as caught:
            Saga(
                name="refund",
                step="sent",
                key="k",
                started_at=T0,
                parts=((payment_id, Money("1.00", "CNY")),),
            )
        assert caught.value.field == "parts[0][0]"

    def test_a_serial_must_be_text(self) -> None:
        with pytest.raises(ValidationError) as caught:
            ReturnLine("L1", "SKU", 1, [["SN1"]])  # type: ignore[list-item]
        assert caught.value.field == "serials"

    @pytest.mark.parametrize("field", ["from_status", "to_status"])
    def test_an_audit_record_names_its_bad_status(self, field: str) -> None:
        statuses = {"from_status": "paid", "to_status": "paid", field: "nope"}
        with pytest.raises(ValidationError) as caught:
            AuditRecord(
                order_id="o",
                version=1,
                event_type="x",
                key=IdempotencyKey("douyin", "x", "o", "1"),
                actor="a",
                source="s",
                occurred_at=T0,
                recorded_at=T0,
                **statuses,  # type: ignore[arg-type]
            )
        assert caught.value.field == field


class TestPricing:
    def test_a_price_change_lapsing_after_the_last_instant(self) -> None:
        tiers = ApprovalTiers.of((None, "store_manager"))
        with pytest.raises(ValidationError) as caught:
            request_change(
                tiers,
                change_id="c1",
                order_id="o",
                line_id="L1",
                sku="S",
                quantity=1,
                old_unit_price=Money("199", "CNY"),
                new_unit_price=Money("179", "CNY"),
                reason="r",
                requester="q",
                evidence="e",
                requested_at=T0,
                ttl=dt.timedelta(days=999_999_999),
            )
        assert caught.value.field == "ttl"

    @pytest.mark.parametrize(
        ("kind", "value"), [("AmountOff", Money("1", "CNY")), ("PercentOff", "10")]
    )
    def test_an_offer_sku_must_be_text(self, kind: str, value: object) -> None:
        with pytest.raises(ValidationError) as caught:
            getattr(pricing, kind)("C", value, [["SKU-1"]])
        assert caught.value.field == "skus"

    def test_a_refund_names_its_naive_requested_at(self) -> None:
        with pytest.raises(ValidationError) as caught:
            Refund("r1", "p1", Money("5", "CNY"), "dent", NAIVE)
        assert caught.value.field == "requested_at"

    def test_a_payment_names_its_naive_authorised_at(self) -> None:
        with pytest.raises(ValidationError) as caught:
            PaymentRecord("p1", Money("100", "CNY"), NAIVE)
        assert caught.value.field == "authorised_at"


class TestCalendarAndReading:
    @pytest.mark.parametrize(
        ("instant", "zone"),
        [
            (pendulum.datetime(9999, 12, 31, 23), "Asia/Shanghai"),
            (pendulum.datetime(1, 1, 1, 0), "America/New_York"),
        ],
    )
    def test_an_instant_with_no_day_in_the_zone(
        self, instant: pendulum.DateTime, zone: str
    ) -> None:
        with pytest.raises(ValidationError) as caught:
            day_of(instant, zone)
        assert caught.value.field == "instant"

    def test_yesterday_names_a_naive_now(self) -> None:
        with pytest.raises(ValidationError) as caught:
            yesterday(NAIVE, "Asia/Shanghai")
        assert caught.value.field == "now"

    def test_an_integer_id_longer_than_an_id_may_be(self) -> None:
        with pytest.raises(ValidationError) as caught:
            read_id(10**5000, path="id")
        assert caught.value.field == "id"
