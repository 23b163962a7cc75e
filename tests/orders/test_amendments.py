"""The order's own parts: payment ledger, after-sales cases, price changes.

They are fields of `Order`, checked against it, stored with it (serialised
with it), and recorded one version at a time with an audit record.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, TypedDict

import attrs
import pendulum
import pytest
from hypothesis import given

from orderkit.dedupe import IdempotencyKey
from orderkit.errors import (
    CurrencyMismatch,
    IllegalTransition,
    OrderMismatch,
    ValidationError,
)
from orderkit.money import Money
from orderkit.orders import Address as OrderAddress
from orderkit.orders import (
    AfterSalesCase,
    Buyer,
    CaseState,
    CaseStep,
    FieldChange,
    Order,
    OrderLine,
    OrderStatus,
    Payment,
    Recorded,
    ReturnLine,
    Unchanged,
    approve_case,
    inspect_return,
    receive_return,
    record_case,
    record_payments,
    record_price_change,
    refund_case,
    reject_case,
    request_return,
    resolve_case,
)
from orderkit.pricing import (
    ApprovalTiers,
    Decided,
    PaymentLedger,
    PriceChange,
    approve,
    reject,
    request_change,
)
from orderkit.serialization import make_converter
from orderkit.testing import strategies as ost


T0 = pendulum.datetime(2026, 11, 11, 2, 30)  # Singles' Day, 10:30 in Shanghai
ORDER_ID = "TB-20261111-8841"
TIERS = ApprovalTiers.of(
    (Money("100.00", "CNY"), "store_manager"),
    (Money("500.00", "CNY"), "regional_director"),
    (None, "finance"),
)
CONVERTER = make_converter()


def cny(amount: str) -> Money:
    return Money(amount, "CNY")


def key(n: int) -> IdempotencyKey:
    return IdempotencyKey("back-office", "amend", ORDER_ID, f"op-{n}")


def paid_order(**changes: object) -> Order:
    """Two Yixing tea sets and a tin of Longjing, paid in full (848.00)."""
    order = Order(
        order_id=ORDER_ID,
        channel="taobao",
        buyer=Buyer("tb-buyer-7"),
        address=OrderAddress("CN", "浙江省", "杭州市", "西湖区", "龙井路 1 号"),
        lines=[
            OrderLine("L1", "TEA-SET-YIXING-6P", 2, cny("399.00")),
            OrderLine("L2", "LONGJING-250G", 1, cny("50.00")),
        ],
        placed_at=T0,
        status=OrderStatus.PAID,
        version=2,
        payments=[Payment("alipay-1", cny("848.00"), T0)],
    )
    return attrs.evolve(order, **changes)  # type: ignore[arg-type]


def captured() -> PaymentLedger:
    ledger = PaymentLedger(ORDER_ID, "CNY").authorise("alipay-1", cny("848.00"), T0)
    return ledger.capture("alipay-1", cny("848.00"), T0)


def price_cut() -> PriceChange:
    """A clerk cuts one tea set from 399.00 to 359.00: 80.00 on two units."""
    return request_change(
        TIERS,
        change_id="PC-0001",
        order_id=ORDER_ID,
        line_id="L1",
        sku="TEA-SET-YIXING-6P",
        quantity=2,
        old_unit_price=cny("399.00"),
        new_unit_price=cny("359.00"),
        reason="buyer found a scratch on the lid in the live stream",
        requester="clerk.zhang",
        evidence="ticket://CS-77120",
        requested_at=T0,
        ttl=dt.timedelta(hours=24),
    )


def approved_cut() -> PriceChange:
    outcome = approve(
        price_cut(), TIERS, approver="mgr.li", role="store_manager", now=T0.add(hours=1)
    )
    assert isinstance(outcome, Decided)
    return outcome.change


def a_return() -> AfterSalesCase:
    return request_return(
        case_id="AS-1",
        order_id=ORDER_ID,
        payment_id="alipay-1",
        lines=[ReturnLine("L2", "LONGJING-250G", 1)],
        refund_amount=cny("50.00"),
        reason="七天无理由退货",
        requester="buyer:tb-buyer-7",
        return_to="HZ-Xihu",
        at=T0.add(days=3),
    )


def recorded(outcome: Recorded | Unchanged) -> Recorded:
    assert isinstance(outcome, Recorded), outcome
    return outcome


class Stamp(TypedDict):
    key: IdempotencyKey
    actor: str
    source: str
    now: dt.datetime


def stamp(n: int) -> Stamp:
    return {"key": key(n), "actor": "ops.wu", "source": "erp", "now": T0.add(days=9)}


class TestFieldsOfTheOrder:
    """Ledger, cases and price changes belong to the order they name."""

    def test_empty_by_default(self) -> None:
        order = paid_order()
        assert order.payment_ledger is None
        assert order.after_sales == ()
        assert order.price_changes == ()

    def test_a_ledger_of_another_order(self) -> None:
        with pytest.raises(OrderMismatch) as caught:
            paid_order(payment_ledger=PaymentLedger("TB-OTHER", "CNY"))
        assert (caught.value.field, caught.value.value) == (
            "payment_ledger.order_id",
            "TB-OTHER",
        )

    def test_a_ledger_in_another_currency(self) -> None:
        with pytest.raises(CurrencyMismatch) as caught:
            paid_order(payment_ledger=PaymentLedger(ORDER_ID, "USD"))
        assert caught.value.field == "payment_ledger.currency"

    def test_not_a_ledger(self) -> None:
        with pytest.raises(ValidationError) as caught:
            paid_order(payment_ledger={"order_id": ORDER_ID})
        assert caught.value.field == "payment_ledger"

    def test_a_case_for_an_unknown_line(self) -> None:
        case = attrs.evolve(a_return(), lines=[ReturnLine("L9", "LONGJING-250G", 1)])
        with pytest.raises(ValidationError) as caught:
            paid_order(after_sales=[case])
        assert (caught.value.field, caught.value.value) == (
            "after_sales[0].lines[0].line_id",
            "L9",
        )

    def test_a_case_for_another_sku(self) -> None:
        case = attrs.evolve(a_return(), lines=[ReturnLine("L2", "BILUOCHUN", 1)])
        with pytest.raises(ValidationError) as caught:
            paid_order(after_sales=[case])
        assert caught.value.field == "after_sales[0].lines[0].sku"

    def test_a_case_returning_more_than_ordered(self) -> None:
        case = attrs.evolve(a_return(), lines=[ReturnLine("L2", "LONGJING-250G", 2)])
        with pytest.raises(ValidationError) as caught:
            paid_order(after_sales=[case])
        assert caught.value.field == "after_sales[0].lines[0].quantity"

    def test_two_cases_with_one_id(self) -> None:
        with pytest.raises(ValidationError) as caught:
            paid_order(after_sales=[a_return(), a_return()])
        assert (caught.value.field, caught.value.value) == ("after_sales[1]", "AS-1")

    def test_a_case_refund_in_another_currency(self) -> None:
        case = attrs.evolve(a_return(), refund_amount=Money("7.00", "USD"))
        with pytest.raises(CurrencyMismatch) as caught:
            paid_order(after_sales=[case])
        assert caught.value.field == "after_sales[0].refund_amount"

    def test_a_refunded_case_needs_its_refund_in_the_ledger(self) -> None:
        case = attrs.evolve(a_return(), refund_id="RF-1")
        with pytest.raises(ValidationError) as caught:
            paid_order(payment_ledger=captured(), after_sales=[case])
        assert (caught.value.field, caught.value.value) == (
            "after_sales[0].refund_id",
            "RF-1",
        )

    def test_the_refund_must_match_the_case(self) -> None:
        ledger = captured().request_refund(
            "RF-1", "alipay-1", cny("40.00"), "return", T0
        )
        case = attrs.evolve(a_return(), refund_id="RF-1")
        with pytest.raises(ValidationError, match=r"not the case's 50\.00 CNY"):
            paid_order(payment_ledger=ledger, after_sales=[case])

    def test_a_price_change_of_another_order(self) -> None:
        with pytest.raises(OrderMismatch) as caught:
            paid_order(price_changes=[attrs.evolve(price_cut(), order_id="TB-X")])
        assert (caught.value.field, caught.value.value) == (
            "price_changes[0].order_id",
            "TB-X",
        )

    def test_a_case_of_another_order(self) -> None:
        with pytest.raises(OrderMismatch) as caught:
            paid_order(after_sales=[attrs.evolve(a_return(), order_id="TB-X")])
        assert caught.value.field == "after_sales[0].order_id"

    def test_a_note_that_cannot_be_stored(self) -> None:
        with pytest.raises(ValidationError) as caught:
            attrs.evolve(price_cut(), note="half \ud800")
        assert caught.value.field == "note"

    def test_a_price_change_of_an_unknown_line(self) -> None:
        with pytest.raises(ValidationError) as caught:
            paid_order(price_changes=[attrs.evolve(price_cut(), line_id="L7")])
        assert caught.value.field == "price_changes[0].line_id"


class TestStoredWithTheOrder:
    """The parts travel with the order through the converter, both ways."""

    def test_round_trip(self) -> None:
        ledger = captured().request_refund(
            "RF-1", "alipay-1", cny("50.00"), "return", T0
        )
        case = attrs.evolve(a_return(), refund_id="RF-1")
        order = paid_order(
            payment_ledger=ledger, after_sales=[case], price_changes=[price_cut()]
        )
        data = CONVERTER.dumps(order)
        assert CONVERTER.loads(data, Order) == order

    @given(ost.orders())
    def test_any_order_round_trips(self, order: Order) -> None:
        assert CONVERTER.loads(CONVERTER.dumps(order), Order) == order


class TestPriceChange:
    """A request is stored pending; its approval sets the price, once."""

    def test_pending_request(self) -> None:
        outcome = recorded(record_price_change(paid_order(), price_cut(), **stamp(1)))
        assert outcome.order.price_changes == (price_cut(),)
        assert outcome.order.line("L1").unit_price == cny("399.00")
        assert outcome.order.version == 3
        assert key(1) in outcome.order.applied_keys
        assert outcome.record.event_type == "PriceChangeRecorded"
        assert outcome.record.changes == (
            FieldChange("price_changes[PC-0001].state", "", "pending"),
        )

    def test_a_change_for_fewer_units_than_the_line_has_is_refused(self) -> None:
        # Routed by 1 unit (40.00), it would reprice both (80.00): a lower
        # tier would approve moving more than it may.
        fewer = attrs.evolve(price_cut(), quantity=1)
        order = recorded(record_price_change(paid_order(), fewer, **stamp(1)))
        decided = approve(
            fewer, TIERS, approver="mgr.li", role="store_manager", now=T0.add(hours=1)
        )
        assert isinstance(decided, Decided)
        with pytest.raises(ValidationError) as caught:
            record_price_change(order.order, decided.change, **stamp(2))
        assert caught.value.field == "price_changes[PC-0001].quantity"

    def test_approval_is_applied_with_a_full_audit_record(self) -> None:
        order = recorded(record_price_change(paid_order(), price_cut(), **stamp(1)))
        outcome = recorded(record_price_change(order.order, approved_cut(), **stamp(2)))
        assert outcome.order.line("L1").unit_price == cny("359.00")
        assert outcome.order.price_changes == (approved_cut(),)
        record = outcome.record
        assert (record.event_type, record.version, record.actor) == (
            "PriceChanged",
            4,
            "ops.wu",
        )
        assert record.from_status == record.to_status == OrderStatus.PAID
        assert record.occurred_at == T0.add(hours=1)
        assert record.recorded_at == T0.add(days=9)
        assert record.changes == (
            FieldChange("lines[L1].unit_price", "399.00 CNY", "359.00 CNY"),
            FieldChange("price_changes[PC-0001].state", "pending", "approved"),
            FieldChange("price_changes[PC-0001].requester", "", "clerk.zhang"),
            FieldChange("price_changes[PC-0001].approver", "", "mgr.li"),
            FieldChange(
                "price_changes[PC-0001].reason",
                "",
                "buyer found a scratch on the lid in the live stream",
            ),
        )

    def test_an_approval_recorded_first_is_applied_too(self) -> None:
        outcome = recorded(
            record_price_change(paid_order(), approved_cut(), **stamp(1))
        )
        assert outcome.order.line("L1").unit_price == cny("359.00")

    def test_applied_twice_changes_nothing(self) -> None:
        once = recorded(record_price_change(paid_order(), approved_cut(), **stamp(1)))
        again = record_price_change(once.order, approved_cut(), **stamp(1))
        assert again == Unchanged(once.order, f"key {key(1)} was applied before")
        other_key = record_price_change(once.order, approved_cut(), **stamp(2))
        assert isinstance(other_key, Unchanged)
        assert other_key.order is once.order

    def test_a_decided_change_stays_decided(self) -> None:
        order = recorded(record_price_change(paid_order(), approved_cut(), **stamp(1)))
        with pytest.raises(IllegalTransition, match="approved already"):
            record_price_change(order.order, price_cut(), **stamp(2))

    def test_a_rejection_leaves_the_price(self) -> None:
        order = recorded(record_price_change(paid_order(), price_cut(), **stamp(1)))
        rejected = reject(
            price_cut(), TIERS, approver="mgr.li", role="store_manager", now=T0
        )
        assert isinstance(rejected, Decided)
        outcome = recorded(
            record_price_change(order.order, rejected.change, **stamp(2))
        )
        assert outcome.order.line("L1").unit_price == cny("399.00")
        assert outcome.record.event_type == "PriceChangeRecorded"

    def test_another_request_under_the_same_id(self) -> None:
        order = recorded(record_price_change(paid_order(), price_cut(), **stamp(1)))
        other = attrs.evolve(approved_cut(), reason="a different story")
        with pytest.raises(ValidationError) as caught:
            record_price_change(order.order, other, **stamp(2))
        assert caught.value.field == "change_id"

    def test_the_line_price_moved_since_the_request(self) -> None:
        order = paid_order()
        moved = attrs.evolve(
            order,
            lines=[
                attrs.evolve(order.lines[0], unit_price=cny("389.00")),
                order.lines[1],
            ],
        )
        with pytest.raises(ValidationError) as caught:
            record_price_change(moved, approved_cut(), **stamp(1))
        assert caught.value.field == "price_changes[PC-0001].old_unit_price"

    def test_not_on_a_cancelled_order(self) -> None:
        order = paid_order(status=OrderStatus.CANCELLED)
        with pytest.raises(IllegalTransition, match="cancelled"):
            record_price_change(order, approved_cut(), **stamp(1))

    def test_bad_stamp(self) -> None:
        with pytest.raises(ValidationError) as caught:
            record_price_change(
                paid_order(), price_cut(), key=key(1), actor=" ", source="erp", now=T0
            )
        assert caught.value.field == "actor"

    def test_naive_now(self) -> None:
        with pytest.raises(ValidationError) as caught:
            record_price_change(
                paid_order(),
                price_cut(),
                key=key(1),
                actor="ops.wu",
                source="erp",
                now=dt.datetime(2026, 11, 20),  # noqa: DTZ001 - naive on purpose
            )
        assert caught.value.field == "now"


class TestPayments:
    """The ledger only grows; the audit record lists the figures that moved."""

    def test_first_ledger(self) -> None:
        outcome = recorded(record_payments(paid_order(), captured(), **stamp(1)))
        assert outcome.order.payment_ledger == captured()
        assert outcome.record.event_type == "PaymentsRecorded"
        assert outcome.record.changes == (
            FieldChange("payment_ledger.authorised", "", "848.00 CNY"),
            FieldChange("payment_ledger.captured", "", "848.00 CNY"),
            FieldChange("payment_ledger.refunded", "", "0.00 CNY"),
            FieldChange("payment_ledger.pending", "", "0.00 CNY"),
            FieldChange("payment_ledger.allowance", "", "0.00 CNY"),
        )

    def test_a_refund_settles(self) -> None:
        pending = captured().request_refund(
            "RF-1", "alipay-1", cny("50.00"), "return", T0
        )
        settled = pending.settle_refund("RF-1", T0.add(days=1))
        order = recorded(record_payments(paid_order(), pending, **stamp(1))).order
        outcome = recorded(record_payments(order, settled, **stamp(2)))
        assert outcome.record.changes == (
            FieldChange("payment_ledger.refunded", "0.00 CNY", "50.00 CNY"),
            FieldChange("payment_ledger.pending", "50.00 CNY", "0.00 CNY"),
        )

    def test_a_settled_refund_is_not_reopened(self) -> None:
        pending = captured().request_refund(
            "RF-1", "alipay-1", cny("50.00"), "return", T0
        )
        settled = pending.settle_refund("RF-1", T0.add(days=1))
        order = recorded(record_payments(paid_order(), settled, **stamp(1))).order
        with pytest.raises(IllegalTransition, match="reopened"):
            record_payments(order, pending, **stamp(2))

    def test_a_capture_is_never_dropped(self) -> None:
        order = recorded(record_payments(paid_order(), captured(), **stamp(1))).order
        authorised = PaymentLedger(ORDER_ID, "CNY").authorise(
            "alipay-1", cny("848.00"), T0
        )
        with pytest.raises(IllegalTransition, match="capture"):
            record_payments(order, authorised, **stamp(2))
        assert order.payment_ledger == captured()

    def test_the_same_ledger_again(self) -> None:
        order = recorded(record_payments(paid_order(), captured(), **stamp(1))).order
        assert isinstance(record_payments(order, captured(), **stamp(2)), Unchanged)

    def test_a_ledger_in_another_currency_is_a_currency_mismatch(self) -> None:
        order = recorded(record_payments(paid_order(), captured(), **stamp(1))).order
        usd = PaymentLedger(ORDER_ID, "USD").authorise(
            "alipay-1", Money("848.00", "USD"), T0
        )

        with pytest.raises(CurrencyMismatch) as caught:
            record_payments(order, usd, **stamp(2))

        assert (caught.value.field, caught.value.value, caught.value.expected) == (
            "payment_ledger.currency",
            "USD",
            "CNY",
        )

    def test_a_ledger_of_another_order_is_an_order_mismatch(self) -> None:
        order = recorded(record_payments(paid_order(), captured(), **stamp(1))).order
        other = PaymentLedger("TB-OTHER", "CNY").authorise(
            "alipay-1", cny("848.00"), T0
        )

        with pytest.raises(OrderMismatch) as caught:
            record_payments(order, other, **stamp(2))

        assert (caught.value.field, caught.value.value) == (
            "payment_ledger.order_id",
            "TB-OTHER",
        )


class TestAfterSales:
    """A case joins the order, then its steps; the refund is the ledger's."""

    def test_the_whole_case_on_the_order(self) -> None:
        order = recorded(record_payments(paid_order(), captured(), **stamp(1))).order
        case = a_return()
        order = recorded(record_case(order, case, **stamp(2))).order
        case = approve_case(case, "mgr.li", "store_manager", TIERS, T0.add(days=4))
        case = receive_return(case, {}, {}, T0.add(days=6))
        case = inspect_return(case, passed=True, at=T0.add(days=7)).case
        outcome = recorded(record_case(order, case, **stamp(3)))
        assert outcome.record.changes == (
            FieldChange("after_sales[AS-1].state", "requested", "inspected"),
        )
        order = outcome.order
        refunded = refund_case(case, "RF-1", T0.add(days=7))
        with pytest.raises(ValidationError) as caught:
            record_case(order, refunded, **stamp(4))
        assert caught.value.field == "after_sales[0].refund_id"
        assert order.payment_ledger is not None
        ledger = order.payment_ledger.request_refund(
            "RF-1", "alipay-1", cny("50.00"), "return AS-1", T0.add(days=7)
        )
        order = recorded(record_payments(order, ledger, **stamp(5))).order
        order = recorded(record_case(order, refunded, **stamp(4))).order
        done = resolve_case(refunded, T0.add(days=8))
        order = recorded(record_case(order, done, **stamp(6))).order
        assert order.after_sales == (done,)
        assert order.version == 8
        assert CONVERTER.loads(CONVERTER.dumps(order), Order) == order

    def test_history_is_never_rewritten(self) -> None:
        later = T0.add(days=4)
        case = approve_case(a_return(), "mgr.li", "store_manager", TIERS, later)
        order = recorded(record_case(paid_order(), case, **stamp(1))).order
        other = approve_case(a_return(), "mgr.wu", "store_manager", TIERS, later)
        with pytest.raises(IllegalTransition, match="history"):
            record_case(order, other, **stamp(2))
        with pytest.raises(IllegalTransition, match="history"):
            record_case(order, a_return(), **stamp(3))

    def test_not_a_case(self) -> None:
        with pytest.raises(ValidationError) as caught:
            record_case(paid_order(), price_cut(), **stamp(1))  # type: ignore[arg-type]
        assert caught.value.field == "case"


class TestACaseIsOneItsFunctionsMade:
    """A case is recorded only as its own functions could have made it."""

    def approved(self) -> tuple[Order, AfterSalesCase]:
        order = recorded(record_payments(paid_order(), captured(), **stamp(1))).order
        case = approve_case(
            a_return(), "mgr.li", "store_manager", TIERS, T0.add(days=4)
        )
        return recorded(record_case(order, case, **stamp(2))).order, case

    def test_what_was_approved_cannot_change_afterwards(self) -> None:
        order, case = self.approved()
        raised = attrs.evolve(case, refund_amount=cny("576.00"))
        received = receive_return(raised, {}, {}, T0.add(days=6))

        with pytest.raises(ValidationError) as caught:
            record_case(order, received, **stamp(3))

        assert caught.value.field == "after_sales[AS-1]"

    @pytest.mark.parametrize(
        ("field", "value"),
        [
            ("payment_id", "wx-2"),  # a payment the order has too
            ("return_to", "HZ-Binjiang"),
            ("reason", "另一个理由"),
            ("requester", "buyer:someone-else"),
            ("requested_at", T0.add(days=1)),
        ],
    )
    def test_nor_anything_else_the_case_was_opened_with(
        self, field: str, value: object
    ) -> None:
        order, case = self.approved()
        order = attrs.evolve(
            order, payments=(*order.payments, Payment("wx-2", cny("1.00"), T0))
        )
        new_values: dict[str, Any] = {field: value}
        changed = attrs.evolve(case, **new_values)

        with pytest.raises(ValidationError) as caught:
            record_case(order, changed, **stamp(3))

        assert caught.value.field == "after_sales[AS-1]"

    def test_a_state_set_without_its_steps_is_refused(self) -> None:
        skipped = attrs.evolve(
            a_return(), state=CaseState.INSPECTED, inspection_passed=True
        )

        with pytest.raises(IllegalTransition, match="history"):
            record_case(paid_order(), skipped, **stamp(1))

    def test_a_state_moved_back_is_refused(self) -> None:
        order, case = self.approved()
        received = receive_return(case, {}, {}, T0.add(days=6))
        order = recorded(record_case(order, received, **stamp(3))).order
        back = attrs.evolve(received, state=CaseState.APPROVED)

        with pytest.raises(IllegalTransition, match="history"):
            record_case(order, back, **stamp(4))

    def test_a_step_the_machine_does_not_have_is_refused(self) -> None:
        case = a_return()
        jump = CaseStep(
            "refund", CaseState.REQUESTED, CaseState.REFUNDED, "ops", T0.add(days=4)
        )
        forged = attrs.evolve(
            case, state=CaseState.REFUNDED, refund_id="RF-1", steps=(*case.steps, jump)
        )

        with pytest.raises(IllegalTransition, match="history steps from requested"):
            record_case(paid_order(), forged, **stamp(1))

    @pytest.mark.parametrize(
        ("mark", "value"),
        [("required_role", None), ("inspection_passed", None), ("refund_id", "RF-9")],
    )
    def test_each_step_leaves_its_mark_and_only_it(
        self, mark: str, value: object
    ) -> None:
        order, case = self.approved()
        received = receive_return(case, {}, {}, T0.add(days=6))
        inspected = inspect_return(received, passed=True, at=T0.add(days=7)).case

        marked: dict[str, Any] = {mark: value}
        with pytest.raises(IllegalTransition, match=mark):
            record_case(order, attrs.evolve(inspected, **marked), **stamp(3))

    def test_a_verdict_recorded_is_never_changed(self) -> None:
        order, case = self.approved()
        received = receive_return(case, {}, {}, T0.add(days=6))
        failed = inspect_return(received, passed=False, at=T0.add(days=7)).case
        order = recorded(record_case(order, failed, **stamp(3))).order
        passed = attrs.evolve(failed, inspection_passed=True)

        with pytest.raises(IllegalTransition, match="inspection_passed"):
            record_case(order, passed, **stamp(4))

    def test_a_case_is_not_recorded_refunded_by_a_failed_refund(self) -> None:
        order, case = self.approved()
        received = receive_return(case, {}, {}, T0.add(days=6))
        inspected = inspect_return(received, passed=True, at=T0.add(days=7)).case
        order = recorded(record_case(order, inspected, **stamp(3))).order
        assert order.payment_ledger is not None
        ledger = order.payment_ledger.request_refund(
            "RF-1", "alipay-1", cny("50.00"), "return AS-1", T0.add(days=7)
        ).fail_refund("RF-1", T0.add(days=7, hours=1))
        order = recorded(record_payments(order, ledger, **stamp(4))).order
        before = order

        with pytest.raises(ValidationError) as caught:
            record_case(
                order, refund_case(inspected, "RF-1", T0.add(days=8)), **stamp(5)
            )

        assert (caught.value.field, caught.value.value) == (
            "after_sales[0].refund_id",
            "RF-1",
        )
        assert "failed" in str(caught.value)
        assert order == before

    def test_approved_by_its_own_requester_is_refused(self) -> None:
        case = a_return()
        step = CaseStep(
            "approve",
            CaseState.REQUESTED,
            CaseState.APPROVED,
            " Buyer:TB-Buyer-7",  # the requester, spelled otherwise
            T0.add(days=4),
        )
        forged = attrs.evolve(
            case,
            state=CaseState.APPROVED,
            required_role="store_manager",
            steps=(*case.steps, step),
        )

        with pytest.raises(IllegalTransition, match="own requester"):
            record_case(paid_order(), forged, **stamp(1))

    def test_a_passed_case_resolved_without_its_refund_is_refused(self) -> None:
        order, case = self.approved()
        received = receive_return(case, {}, {}, T0.add(days=6))
        passed = inspect_return(received, passed=True, at=T0.add(days=7)).case
        step = CaseStep(
            "resolve", CaseState.INSPECTED, CaseState.RESOLVED, "ops", T0.add(days=8)
        )
        forged = attrs.evolve(
            passed, state=CaseState.RESOLVED, steps=(*passed.steps, step)
        )

        with pytest.raises(IllegalTransition, match="without a refund"):
            record_case(order, forged, **stamp(3))

    def test_a_step_before_the_one_it_follows_is_refused(self) -> None:
        case = a_return()
        step = CaseStep(
            "approve", CaseState.REQUESTED, CaseState.APPROVED, "mgr.li", T0
        )
        forged = attrs.evolve(
            case,
            state=CaseState.APPROVED,
            required_role="store_manager",
            steps=(*case.steps, step),
        )

        with pytest.raises(IllegalTransition, match="before the step it follows"):
            record_case(paid_order(), forged, **stamp(1))

    def test_the_cases_its_functions_make_are_all_recorded(self) -> None:
        order, case = self.approved()
        received = receive_return(case, {}, {}, T0.add(days=6))
        inspected = inspect_return(received, passed=False, at=T0.add(days=7)).case
        for n, each in enumerate(
            [received, inspected, resolve_case(inspected, T0.add(days=8))]
        ):
            order = recorded(record_case(order, each, **stamp(3 + n))).order
        assert order.after_sales[0].state is CaseState.RESOLVED


def with_serials(case: AfterSalesCase, *serials: str) -> AfterSalesCase:
    """`case` with serials on its line though it never received anything.

    Older versions' `request_return` kept serials passed to it: stored
    orders may hold such cases.
    """
    line = attrs.evolve(case.lines[0], serials=frozenset(serials))
    return attrs.evolve(case, lines=[line])


def approved_as(case_id: str) -> AfterSalesCase:
    case = attrs.evolve(a_return(), case_id=case_id)
    return approve_case(case, "mgr.li", "store_manager", TIERS, T0.add(days=4))


def tin_back(case: AfterSalesCase, serial: str = "LJ-0001") -> AfterSalesCase:
    """The tin of Longjing received back, serial `serial` as shipped."""
    return receive_return(case, {"L2": [serial]}, {"L2": [serial]}, T0.add(days=6))


class TestCaseSerials:
    """A case's serials are what its receive step recorded: they came back."""

    def test_serials_without_a_receive_step_are_refused(self) -> None:
        order = recorded(record_case(paid_order(), approved_as("AS-1"), **stamp(1)))
        before = order.order

        for n, case_id in enumerate(["AS-1", "AS-2"]):  # moved on, and new
            forged = with_serials(approved_as(case_id), "LJ-0001")
            with pytest.raises(IllegalTransition, match=r"lines\[L2\]\.serials"):
                record_case(before, forged, **stamp(2 + n))

        assert before.after_sales == (approved_as("AS-1"),)

    @pytest.mark.parametrize("serials", [(), ("LJ-0001",)])
    def test_serials_received_are_never_changed(self, serials: tuple[str, ...]) -> None:
        case = approved_as("AS-1")
        received = receive_return(
            case, {"L2": serials}, {"L2": serials}, T0.add(days=6)
        )
        order = recorded(record_case(paid_order(), received, **stamp(1))).order
        inspected = inspect_return(received, passed=True, at=T0.add(days=7)).case

        with pytest.raises(IllegalTransition, match=r"lines\[L2\]\.serials"):
            record_case(order, with_serials(inspected, "LJ-0002"), **stamp(2))

    def test_a_case_stored_with_serials_it_never_received_blocks_nothing(
        self,
    ) -> None:
        stale = with_serials(a_return(), "LJ-0001")
        # An order stored by an older version still loads.
        order = paid_order(after_sales=[stale])
        assert CONVERTER.loads(CONVERTER.dumps(order), Order) == order

        # Another case that really receives the tin is recorded.
        order = recorded(record_case(order, approved_as("AS-2"), **stamp(1))).order
        real = tin_back(approved_as("AS-2"))
        order = recorded(record_case(order, real, **stamp(2))).order
        assert order.after_sales == (stale, real)

        # The stale case moves on: rejected as it is, or received for real.
        later = T0.add(days=4)
        rejected = reject_case(stale, "mgr.li", "sent the tin in AS-2", later)
        outcome = recorded(record_case(order, rejected, **stamp(3)))
        assert outcome.order.after_sales[0] == rejected
        approved = approve_case(stale, "mgr.li", "store_manager", TIERS, later)
        with pytest.raises(ValidationError, match="received it"):
            record_case(order, tin_back(approved), **stamp(4))
        again = tin_back(approved, "LJ-0002")
        outcome = recorded(record_case(order, again, **stamp(5)))
        assert outcome.order.after_sales[0] == again
