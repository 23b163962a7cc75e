import datetime as dt

import attrs
import pytest

from orderkit.errors import (
    CurrencyMismatch,
    IllegalTransition,
    UnknownPayment,
    UnknownSerial,
    ValidationError,
)
from orderkit.inventory._stock import StockLine
from orderkit.money import Money
from orderkit.orders import (
    CASE_TRANSITIONS,
    Address,
    AfterSalesCase,
    Buyer,
    CaseAction,
    CaseState,
    Order,
    OrderLine,
    OrderStatus,
    Payment,
    ReturnLine,
    approve_case,
    inspect_return,
    receive_return,
    refund_case,
    reject_case,
    request_return,
    resolve_case,
)
from orderkit.pricing import ApprovalTiers, PaymentLedger


T0 = dt.datetime(2025, 1, 20, 9, 30, tzinfo=dt.UTC)  # the week before Spring Festival


def at(hours: int) -> dt.datetime:
    return T0 + dt.timedelta(hours=hours)


def cny(amount: str) -> Money:
    return Money(amount, "CNY")


TIERS = ApprovalTiers.of(
    (cny("100.00"), "store_manager"),
    (cny("500.00"), "regional_director"),
    (None, "finance"),
)
SHIPPED = {
    "L1": frozenset({"DJI-MINI4-0001", "DJI-MINI4-0002"}),
    "L2": frozenset(),
}


def case_for(refund_amount: str = "4788.00") -> AfterSalesCase:
    """Two DJI drones and a spare battery sent back to the Shenzhen warehouse."""
    return request_return(
        case_id="AS-7001",
        order_id="DY-20250118-42",
        payment_id="alipay-2088-555",
        lines=[
            ReturnLine("L1", "DJI-MINI4", 2),
            ReturnLine("L2", "DJI-BATT", 1),
        ],
        refund_amount=cny(refund_amount),
        reason="七天无理由退货",
        requester="buyer:wang.fang",
        return_to="SZ-Nanshan",
        at=T0,
    )


def received(refund_amount: str = "4788.00") -> AfterSalesCase:
    case = approve_case(case_for(refund_amount), "fin.chen", "finance", TIERS, at(1))
    serials = {"L1": ["DJI-MINI4-0001", "DJI-MINI4-0002"]}
    return receive_return(case, serials, SHIPPED, at(48))


class TestHappyPath:
    """Requested, approved, received, inspected, refunded, resolved."""

    def test_full_case(self) -> None:
        case = received()
        assert CaseState.RECEIVED == case.state
        assert frozenset({"DJI-MINI4-0001", "DJI-MINI4-0002"}) == case.lines[0].serials
        outcome = inspect_return(case, passed=True, at=at(50), note="seals intact")
        assert (
            StockLine("DJI-MINI4", "SZ-Nanshan", 2),
            StockLine("DJI-BATT", "SZ-Nanshan", 1),
        ) == outcome.restock
        assert (
            "aftersales:order:douyin:DY-20250118-42:case:AS-7001:restock:0",
            "aftersales:order:douyin:DY-20250118-42:case:AS-7001:restock:1",
        ) == outcome.restock_keys("douyin")
        done = resolve_case(refund_case(outcome.case, "RF-AS-7001", at(51)), at(52))
        assert CaseState.RESOLVED == done.state
        assert "RF-AS-7001" == done.refund_id
        assert [
            "request",
            "approve",
            "receive",
            "inspect",
            "refund",
            "resolve",
        ] == [s.action for s in done.steps]
        assert "fin.chen" == done.steps[1].actor

    def test_refund_repeat_is_a_no_op(self) -> None:
        case = inspect_return(received(), passed=True, at=at(50)).case
        once = refund_case(case, "RF-1", at(51))
        assert once is refund_case(once, "RF-1", at(52))
        with pytest.raises(IllegalTransition):
            refund_case(once, "RF-2", at(52))

    def test_refund_repeat_after_resolve_is_a_no_op(self) -> None:
        case = inspect_return(received(), passed=True, at=at(50)).case
        done = resolve_case(refund_case(case, "RF-1", at(51)), at(52))
        assert done is refund_case(done, "RF-1", at(53))
        with pytest.raises(IllegalTransition):
            refund_case(done, "RF-2", at(53))

    def test_inputs_are_never_mutated(self) -> None:
        case = case_for()
        approve_case(case, "fin.chen", "finance", TIERS, at(1))
        assert CaseState.REQUESTED == case.state
        assert 1 == len(case.steps)


class TestRejection:
    """A rejected case ends; nothing follows it."""

    def test_reject(self) -> None:
        case = reject_case(case_for(), "cs.liu", "used beyond 7 days", at(2))
        assert CaseState.REJECTED == case.state
        assert "used beyond 7 days" == case.steps[-1].note
        with pytest.raises(IllegalTransition) as caught:
            approve_case(case, "fin.chen", "finance", TIERS, at(3))
        assert "rejected" == caught.value.status
        assert (case.case_id, "approve") == (caught.value.case_id, caught.value.event)
        # The message speaks of the case and its state, not of an order status.
        expected = (
            f"case {case.case_id!r} of order {case.order_id!r} in state 'rejected'"
        )
        assert str(caught.value).startswith(expected)

    def test_reject_needs_a_reason(self) -> None:
        with pytest.raises(ValidationError) as caught:
            reject_case(case_for(), "cs.liu", "", at(2))
        assert "reason" == caught.value.field


class TestInspection:
    """Only a passed inspection restocks, and only it can be refunded."""

    def test_failed_inspection_never_restocks(self) -> None:
        outcome = inspect_return(
            received(), passed=False, at=at(50), note="water damage"
        )
        assert () == outcome.restock
        assert () == outcome.restock_keys("douyin")
        assert outcome.case.inspection_passed is False
        with pytest.raises(IllegalTransition) as caught:
            refund_case(outcome.case, "RF-1", at(51))
        assert "inspection failed" in caught.value.reason
        assert CaseState.RESOLVED == resolve_case(outcome.case, at(51)).state

    def test_passed_inspection_must_refund_before_resolving(self) -> None:
        outcome = inspect_return(received(), passed=True, at=at(50))
        with pytest.raises(IllegalTransition):
            resolve_case(outcome.case, at(51))

    def test_resolving_before_the_refund_says_where_a_saga_refund_is(self) -> None:
        """A host holding the case from before `Refunds` ran is told to read it back."""
        outcome = inspect_return(received(), passed=True, at=at(50))
        with pytest.raises(IllegalTransition) as caught:
            resolve_case(outcome.case, at(51))
        assert "refund the case first" in caught.value.reason
        assert "the case the order holds now" in caught.value.reason

    def test_inspect_before_receipt_is_illegal(self) -> None:
        case = approve_case(case_for(), "fin.chen", "finance", TIERS, at(1))
        with pytest.raises(IllegalTransition):
            inspect_return(case, passed=True, at=at(2))

    def test_verdict_must_be_a_bool(self) -> None:
        with pytest.raises(ValidationError) as caught:
            inspect_return(received(), passed="yes", at=at(50))  # type: ignore[arg-type]
        assert "passed" == caught.value.field


class TestSerials:
    """Returned serial numbers must be ones shipped on that line."""

    def approved(self) -> AfterSalesCase:
        return approve_case(case_for(), "fin.chen", "finance", TIERS, at(1))

    def test_swapped_unit_is_refused(self) -> None:
        serials = {"L1": ["DJI-MINI4-0001", "DJI-MINI4-9999"]}
        with pytest.raises(UnknownSerial) as caught:
            receive_return(self.approved(), serials, SHIPPED, at(48))
        assert ("serials[L1]", "DJI-MINI4-9999") == (
            caught.value.field,
            caught.value.value,
        )

    def test_missing_serial_is_refused(self) -> None:
        with pytest.raises(ValidationError) as caught:
            receive_return(self.approved(), {"L1": ["DJI-MINI4-0001"]}, SHIPPED, at(48))
        assert "serials[L1]" == caught.value.field

    def test_serial_on_a_line_shipped_without_serials(self) -> None:
        serials = {
            "L1": ["DJI-MINI4-0001", "DJI-MINI4-0002"],
            "L2": ["BATT-1"],
        }
        with pytest.raises(UnknownSerial):
            receive_return(self.approved(), serials, SHIPPED, at(48))

    def test_serials_are_not_taken_before_the_goods_come_back(self) -> None:
        # They would count as received: the unit could never come back in
        # the case that really receives it.
        with pytest.raises(ValidationError) as caught:
            request_return(
                case_id="AS-7001",
                order_id="DY-20250118-42",
                payment_id="alipay-2088-555",
                lines=[
                    ReturnLine("L2", "DJI-BATT", 1),
                    ReturnLine("L1", "DJI-MINI4", 1, frozenset({"DJI-MINI4-0001"})),
                ],
                refund_amount=cny("2199.00"),
                reason="七天无理由退货",
                requester="buyer:wang.fang",
                return_to="SZ-Nanshan",
                at=T0,
            )
        assert (caught.value.field, caught.value.value) == (
            "lines[1].serials",
            ["DJI-MINI4-0001"],
        )

    def test_line_not_in_case(self) -> None:
        with pytest.raises(ValidationError) as caught:
            receive_return(self.approved(), {"L9": ["X"]}, SHIPPED, at(48))
        assert "serials[L9]" == caught.value.field


class TestApprovalTiers:
    """Refund approval is routed by amount, as price changes are."""

    @pytest.mark.parametrize(
        ("amount", "required"),
        [
            ("99.00", "store_manager"),
            ("100.00", "store_manager"),
            ("100.01", "regional_director"),
            ("4788.00", "finance"),
        ],
    )
    def test_routing(self, amount: str, required: str) -> None:
        case = approve_case(case_for(amount), "fin.chen", "finance", TIERS, at(1))
        assert required == case.required_role

    def test_too_junior_a_role_is_refused(self) -> None:
        with pytest.raises(ValidationError) as caught:
            approve_case(case_for("499.00"), "mgr.zhao", "store_manager", TIERS, at(1))
        assert ("role", "store_manager") == (caught.value.field, caught.value.value)

    def test_requester_cannot_approve(self) -> None:
        with pytest.raises(ValidationError) as caught:
            approve_case(case_for("9.90"), "buyer:wang.fang", "finance", TIERS, at(1))
        assert "approver" == caught.value.field

    def test_currency_must_match_the_tiers(self) -> None:
        case = request_return(
            case_id="AS-1",
            order_id="SHOP-1",
            payment_id="stripe-ch_1",
            lines=[ReturnLine("L1", "MUG", 1)],
            refund_amount=Money("12.00", "USD"),
            reason="chipped",
            requester="buyer:amy",
            return_to="LA-1",
            at=T0,
        )
        with pytest.raises(CurrencyMismatch):
            approve_case(case, "fin.chen", "finance", TIERS, at(1))


class TestTransitions:
    """The machine is a complete table; illegal steps raise and change nothing."""

    def test_every_pair_has_a_cell(self) -> None:
        assert len(CaseState) * len(CaseAction) == len(CASE_TRANSITIONS)

    def test_terminal_states(self) -> None:
        for state in (CaseState.REJECTED, CaseState.RESOLVED):
            assert all(CASE_TRANSITIONS[state, a] is None for a in CaseAction)

    def test_receive_before_approval(self) -> None:
        with pytest.raises(IllegalTransition) as caught:
            receive_return(case_for(), {}, SHIPPED, at(1))
        assert "requested" == caught.value.status
        assert "DY-20250118-42" == caught.value.order_id

    def test_refund_before_inspection(self) -> None:
        with pytest.raises(IllegalTransition):
            refund_case(received(), "RF-1", at(49))

    def test_approved_case_never_returned_resolves_without_refund(self) -> None:
        case = approve_case(case_for(), "fin.chen", "finance", TIERS, at(1))
        assert CaseState.RESOLVED == resolve_case(case, at(24 * 15)).state

    def test_time_never_runs_backwards(self) -> None:
        with pytest.raises(ValidationError) as caught:
            approve_case(case_for(), "fin.chen", "finance", TIERS, at(-1))
        assert "at" == caught.value.field


class TestBadInput:
    """A case without a payment reference, lines or a positive refund is refused."""

    @pytest.mark.parametrize(
        ("field", "value"),
        [
            ("payment_id", ""),
            ("refund_amount", 12.5),
            ("refund_amount", Money("-1.00", "CNY")),
            ("lines", []),
        ],
    )
    def test_refused(self, field: str, value: object) -> None:
        kwargs: dict[str, object] = {
            "case_id": "AS-1",
            "order_id": "O-1",
            "payment_id": "pay-1",
            "lines": [ReturnLine("L1", "SKU", 1)],
            "refund_amount": cny("1.00"),
            "reason": "r",
            "requester": "b",
            "return_to": "W1",
            "at": T0,
            field: value,
        }
        with pytest.raises(ValidationError) as caught:
            request_return(**kwargs)  # type: ignore[arg-type]
        assert field == caught.value.field

    @pytest.mark.parametrize(
        ("field", "value"),
        [
            ("required_role", ""),
            ("required_role", 3),
            ("refund_id", "\n"),
            ("refund_id", b"RF-1"),
            ("inspection_passed", "yes"),
        ],
    )
    def test_a_case_refuses_what_it_could_not_store(
        self, field: str, value: object
    ) -> None:
        with pytest.raises(ValidationError) as caught:
            attrs.evolve(case_for(), **{field: value})  # type: ignore[arg-type]
        assert field == caught.value.field


PAYMENT = "alipay-2088-555"


def paid_order(**changes: object) -> Order:
    """DY-20250118-42: the two drones and the battery, paid by Alipay."""
    order = Order(
        order_id="DY-20250118-42",
        channel="douyin",
        buyer=Buyer("buyer:wang.fang"),
        address=Address("CN", "广东省", "深圳市", "南山区", "科技园 1 号"),
        lines=[
            OrderLine("L1", "DJI-MINI4", 2, cny("2199.00")),
            OrderLine("L2", "DJI-BATT", 1, cny("390.00")),
        ],
        placed_at=T0,
        status=OrderStatus.PAID,
        payments=[Payment(PAYMENT, cny("4788.00"), T0)],
    )
    return attrs.evolve(order, **changes)  # type: ignore[arg-type]


def battery_back(case_id: str) -> AfterSalesCase:
    """Only the spare battery back (it has no serial number), inspection passed."""
    case = attrs.evolve(
        case_for("390.00"), case_id=case_id, lines=[ReturnLine("L2", "DJI-BATT", 1)]
    )
    case = approve_case(case, "fin.chen", "finance", TIERS, at(1))
    case = receive_return(case, {}, SHIPPED, at(48))
    return inspect_return(case, passed=True, at=at(50)).case


def drone_0002_again(
    *, approved_at: dt.datetime, received_at: dt.datetime
) -> AfterSalesCase:
    """A second case, AS-7002, bringing back the drone DJI-MINI4-0002."""
    case = attrs.evolve(
        case_for("2199.00"), case_id="AS-7002", lines=[ReturnLine("L1", "DJI-MINI4", 1)]
    )
    case = approve_case(case, "fin.chen", "finance", TIERS, approved_at)
    return receive_return(case, {"L1": ["DJI-MINI4-0002"]}, SHIPPED, received_at)


def refunded_ledger(*refund_ids: str) -> PaymentLedger:
    """The order's capture, and a 390.00 refund requested under each id."""
    ledger = (
        PaymentLedger("DY-20250118-42", "CNY")
        .authorise(PAYMENT, cny("4788.00"), T0)
        .capture(PAYMENT, cny("4788.00"), T0)
    )
    for refund_id in refund_ids:
        ledger = ledger.request_refund(refund_id, PAYMENT, cny("390.00"), "r", at(51))
    return ledger


class TestOnTheOrder:
    """The order refuses a case that does not fit its payments or other cases."""

    def test_a_payment_the_order_never_had_is_refused(self) -> None:
        typo = attrs.evolve(battery_back("AS-1"), payment_id="alipay-2088-556")
        with pytest.raises(UnknownPayment) as caught:
            paid_order(after_sales=[typo])
        assert ("after_sales[0].payment_id", "alipay-2088-556") == (
            caught.value.field,
            caught.value.value,
        )
        # A payment only the payment ledger knows of is the order's too.
        ledger = refunded_ledger().authorise("wxpay-1", cny("1.00"), T0)
        by_wechat = attrs.evolve(typo, payment_id="wxpay-1")
        order = paid_order(payment_ledger=ledger, after_sales=[by_wechat])
        assert (by_wechat,) == order.after_sales

    def test_a_serial_another_case_received_is_refused(self) -> None:
        both = inspect_return(received(), passed=True, at=at(50)).case
        again = drone_0002_again(approved_at=at(1), received_at=at(49))
        with pytest.raises(ValidationError) as caught:
            paid_order(after_sales=[both, again])
        assert ("after_sales[1].lines[0].serials", "DJI-MINI4-0002") == (
            caught.value.field,
            caught.value.value,
        )
        assert "'AS-7001'" in caught.value.problem

    def test_a_unit_that_failed_inspection_may_come_back_in_a_later_case(
        self,
    ) -> None:
        # It went back to the buyer: neither restocked nor refunded.
        failed = inspect_return(received(), passed=False, at=at(50)).case
        again = drone_0002_again(approved_at=at(60), received_at=at(61))

        order = paid_order(after_sales=[failed, again])

        assert [c.case_id for c in order.after_sales] == ["AS-7001", "AS-7002"]

    def test_a_refund_that_fails_after_its_case_is_still_recorded(self) -> None:
        # The ledger must be able to say the money did not go out; that a
        # case is not recorded refunded by a failed refund is record_case's.
        ledger = refunded_ledger("RF-1").fail_refund("RF-1", at(52))
        case = refund_case(battery_back("AS-1"), "RF-1", at(51))
        order = paid_order(payment_ledger=ledger, after_sales=[case])
        assert order.after_sales == (case,)

    def test_two_cases_cannot_name_one_refund(self) -> None:
        first = refund_case(battery_back("AS-1"), "RF-1", at(51))
        second = refund_case(battery_back("AS-2"), "RF-1", at(51))
        with pytest.raises(ValidationError) as caught:
            paid_order(
                payment_ledger=refunded_ledger("RF-1"), after_sales=[first, second]
            )
        assert ("after_sales[1].refund_id", "RF-1") == (
            caught.value.field,
            caught.value.value,
        )
        assert "'AS-1'" in caught.value.problem
