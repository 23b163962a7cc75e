"""Orders against settlement statements, and stock counts against the ledger."""

from __future__ import annotations

import csv
import io
from decimal import Decimal

import attrs
import pendulum
import pytest
from hypothesis import given
from hypothesis import strategies as st

from orderkit.calendar import DayWindow
from orderkit.dedupe import IdempotencyKey
from orderkit.errors import NaiveDatetime, ValidationError
from orderkit.integrations import SettlementLine, TransactionKind
from orderkit.inventory import Balance, Movement, MovementKind
from orderkit.money import Money
from orderkit.orders import (
    Address,
    Buyer,
    Order,
    OrderLine,
    OrderPlaced,
    OrderStatus,
    Payment,
    PaymentCaptured,
    apply_all,
)
from orderkit.pricing import PaymentLedger
from orderkit.services import (
    Discrepancy,
    DiscrepancyKind,
    Reconciliation,
    StockCount,
    StockDifference,
    reconcile_payments,
    reconcile_stock,
)


T0 = pendulum.datetime(2026, 3, 1, 1, 0)  # 09:00 in Shanghai
K = DiscrepancyKind


def cny(amount: str) -> Money:
    return Money(amount, "CNY")


def order(
    order_id: str,
    *,
    payments: tuple[Payment, ...] = (),
    ledger: PaymentLedger | None = None,
    total: str = "199.00",
) -> Order:
    return Order(
        order_id=order_id,
        channel="douyin",
        buyer=Buyer(f"buyer-{order_id}"),
        address=Address("CN", "浙江省", "杭州市", "西湖区", "龙井路 1 号"),
        lines=[OrderLine("L1", "LONGJING-250G", 1, cny(total), "西湖龙井 250g")],
        placed_at=T0,
        status=OrderStatus.PAID,
        payments=payments,
        payment_ledger=ledger,
    )


def paid(order_id: str, payment_id: str, amount: str = "199.00") -> Order:
    return order(order_id, payments=(Payment(payment_id, cny(amount), T0),))


def line(
    transaction_id: str,
    amount: Money | str,
    *,
    order_id: str | None,
    kind: TransactionKind = TransactionKind.SALE,
) -> SettlementLine:
    money = amount if isinstance(amount, Money) else cny(amount)
    return SettlementLine(
        transaction_id=transaction_id,
        kind=kind,
        amount=money,
        fee=Money.zero(money.currency),
        settled_at=T0.add(hours=1),
        order_id=order_id,
    )


def refunded_ledger() -> PaymentLedger:
    """DY-2001: 848.00 captured, 59.00 refunded, 30.00 pending, 10.00 failed."""
    ledger = PaymentLedger("DY-2001", "CNY").authorise("WX-2001", cny("848.00"), T0)
    ledger = ledger.capture("WX-2001", cny("848.00"), T0)
    ledger = ledger.request_refund("RF-1", "WX-2001", cny("59.00"), "破损", T0)
    ledger = ledger.settle_refund("RF-1", T0.add(hours=2))
    ledger = ledger.request_refund("RF-2", "WX-2001", cny("30.00"), "少发", T0)
    ledger = ledger.request_refund("RF-3", "WX-2001", cny("10.00"), "差价", T0)
    return ledger.fail_refund("RF-3", T0.add(hours=2))


def kinds(report: Reconciliation) -> list[DiscrepancyKind]:
    return [d.kind for d in report.discrepancies]


class TestAgreement:
    """Statements that say what the orders say reconcile cleanly."""

    def test_payments_match_by_transaction_id(self) -> None:
        orders = [paid("DY-1001", "WX-1"), paid("DY-1002", "WX-2", "848.00")]
        statement = [
            line("WX-2", "848.00", order_id="DY-1002"),
            line("WX-1", "199.00", order_id="DY-1001"),
        ]
        report = reconcile_payments(orders, statement)
        assert report.ok
        assert (report.matched, report.expected, report.settled) == (2, 2, 2)

    def test_ledger_captures_and_settled_refunds_are_expected(self) -> None:
        orders = [order("DY-2001", ledger=refunded_ledger(), total="848.00")]
        statement = [
            line("WX-2001", "848.00", order_id="DY-2001"),
            line("RF-1", "59.00", order_id="DY-2001", kind=TransactionKind.REFUND),
        ]
        report = reconcile_payments(orders, statement)
        assert report.ok
        assert report.matched == 2

    def test_a_pending_refund_matches_when_present(self) -> None:
        orders = [order("DY-2001", ledger=refunded_ledger(), total="848.00")]
        statement = [
            line("WX-2001", "848.00", order_id="DY-2001"),
            line("RF-1", "59.00", order_id="DY-2001", kind=TransactionKind.REFUND),
            line("RF-2", "30.00", order_id="DY-2001", kind=TransactionKind.REFUND),
        ]
        report = reconcile_payments(orders, statement)
        assert report.ok
        assert (report.matched, report.expected) == (3, 3)

    def test_authorisations_and_voids_are_only_counted(self) -> None:
        statement = [
            line("WX-1", "199.00", order_id="DY-1001"),
            line("AU-9", "5.00", order_id="DY-9", kind=TransactionKind.AUTHORISATION),
            line("AU-9", "5.00", order_id="DY-9", kind=TransactionKind.VOID),
        ]
        report = reconcile_payments([paid("DY-1001", "WX-1")], statement)
        assert report.ok
        assert (report.settled, report.skipped) == (1, 2)

    def test_a_statement_without_order_ids_still_matches(self) -> None:
        report = reconcile_payments(
            [paid("DY-1001", "WX-1")], [line("WX-1", "199.00", order_id=None)]
        )
        assert report.ok

    def test_payments_a_ledger_does_not_keep_are_expected_as_captures(
        self,
    ) -> None:
        """A ledger made for one payment's refund: the other is still a capture."""
        ledger = PaymentLedger("DY-2002", "CNY").authorise("WX-1", cny("300.00"), T0)
        ledger = ledger.capture("WX-1", cny("300.00"), T0, capture_id="CAP-1")
        ledger = ledger.request_refund("RF-1", "WX-1", cny("50.00"), "少发", T0)
        ledger = ledger.settle_refund("RF-1", T0.add(hours=1))
        payments = (
            Payment("WX-1", cny("300.00"), T0),
            Payment("WX-2", cny("276.00"), T0.add(minutes=1)),
        )
        orders = [order("DY-2002", payments=payments, ledger=ledger, total="576.00")]
        statement = [
            line("CAP-1", "300.00", order_id="DY-2002"),
            line("WX-2", "276.00", order_id="DY-2002"),
            line("RF-1", "50.00", order_id="DY-2002", kind=TransactionKind.REFUND),
        ]

        report = reconcile_payments(orders, statement)
        missing = reconcile_payments(orders, [statement[0], statement[2]])

        assert report.ok
        # The payment the ledger keeps is its capture, never twice.
        assert (report.matched, report.expected) == (3, 3)
        assert [(d.kind, d.transaction_id) for d in missing.discrepancies] == [
            (K.MISSING_IN_STATEMENT, "WX-2")
        ]

    def test_a_host_ledger_under_the_providers_ids_is_expected_once(self) -> None:
        """The order knows the payment as `order-DY-9`, the host's ledger as `pi_77`."""
        ledger = PaymentLedger("DY-9", "CNY").authorise("pi_77", cny("199.00"), T0)
        ledger = ledger.capture("pi_77", cny("199.00"), T0, capture_id="ch_77")
        payments = (Payment("order-DY-9", cny("199.00"), T0),)
        orders = [order("DY-9", payments=payments, ledger=ledger)]

        report = reconcile_payments(orders, [line("ch_77", "199.00", order_id="DY-9")])

        assert report.ok
        assert (report.matched, report.expected) == (1, 1)


class TestEveryKind:
    """Each kind of difference is found and named."""

    def test_missing_in_statement(self) -> None:
        report = reconcile_payments([paid("DY-1001", "WX-1")], [])
        assert report.discrepancies == (
            Discrepancy(
                kind=K.MISSING_IN_STATEMENT,
                order_id="DY-1001",
                transaction_id="WX-1",
                expected=cny("199.00"),
                detail="the order records this capture; the statement lacks it",
            ),
        )

    def test_failed_refund_is_not_expected_and_pending_not_missed(self) -> None:
        orders = [order("DY-2001", ledger=refunded_ledger(), total="848.00")]
        report = reconcile_payments(
            orders, [line("WX-2001", "848.00", order_id="DY-2001")]
        )
        assert [(d.kind, d.transaction_id) for d in report.discrepancies] == [
            (K.MISSING_IN_STATEMENT, "RF-1")
        ]

    @pytest.mark.parametrize("order_id", ["DY-2001", None])
    def test_a_failed_refund_the_statement_paid_is_named_so(
        self, order_id: str | None
    ) -> None:
        orders = [order("DY-2001", ledger=refunded_ledger(), total="848.00")]
        statement = [
            line("WX-2001", "848.00", order_id="DY-2001"),
            line("RF-1", "59.00", order_id="DY-2001", kind=TransactionKind.REFUND),
            line("RF-3", "10.00", order_id=order_id, kind=TransactionKind.REFUND),
        ]

        report = reconcile_payments(orders, statement)

        # Still a difference, but finance looks for a refund paid after all.
        assert report.discrepancies == (
            Discrepancy(
                kind=K.MISSING_IN_ORDERS,
                order_id=order_id,
                transaction_id="RF-3",
                actual=cny("10.00"),
                detail="a refund the order records as failed; the statement"
                " shows it paid",
            ),
        )

    def test_missing_in_orders(self) -> None:
        report = reconcile_payments([], [line("WX-7", "66.60", order_id="DY-1003")])
        assert kinds(report) == [K.MISSING_IN_ORDERS]
        assert report.discrepancies[0].actual == cny("66.60")

    def test_amount_mismatch(self) -> None:
        report = reconcile_payments(
            [paid("DY-1001", "WX-1")], [line("WX-1", "190.00", order_id="DY-1001")]
        )
        (found,) = report.discrepancies
        assert found.kind is K.AMOUNT_MISMATCH
        assert (found.expected, found.actual) == (cny("199.00"), cny("190.00"))
        assert report.matched == 0

    def test_currency_mismatch(self) -> None:
        report = reconcile_payments(
            [paid("DY-1001", "WX-1")],
            [line("WX-1", Money("199.00", "HKD"), order_id="DY-1001")],
        )
        assert kinds(report) == [K.CURRENCY_MISMATCH]

    def test_order_mismatch(self) -> None:
        report = reconcile_payments(
            [paid("DY-1001", "WX-1")], [line("WX-1", "199.00", order_id="DY-1002")]
        )
        assert kinds(report) == [K.ORDER_MISMATCH]
        assert report.discrepancies[0].order_id == "DY-1001"

    def test_duplicate_capture_as_a_repeated_line(self) -> None:
        again = line("WX-1", "199.00", order_id="DY-1001")
        report = reconcile_payments([paid("DY-1001", "WX-1")], [again, again])
        assert kinds(report) == [K.DUPLICATE_CAPTURE]
        assert report.matched == 1

    def test_duplicate_capture_as_a_second_charge(self) -> None:
        # A retried payment callback charged the buyer twice.
        statement = [
            line("WX-2", "199.00", order_id="DY-1001"),
            line("WX-1", "199.00", order_id="DY-1001"),
        ]
        report = reconcile_payments([paid("DY-1001", "WX-1")], statement)
        assert [(d.kind, d.transaction_id) for d in report.discrepancies] == [
            (K.DUPLICATE_CAPTURE, "WX-2")
        ]

    def test_an_unknown_capture_is_no_duplicate_while_a_recorded_one_is_absent(
        self,
    ) -> None:
        # Paid in two parts; the statement settles one, and a capture the
        # orders do not know: it may be the other one under another id.
        parts = (Payment("WX-1", cny("99.00"), T0), Payment("WX-2", cny("100.00"), T0))
        two = order("DY-1001", payments=parts)
        statement = [
            line("WX-1", "99.00", order_id="DY-1001"),
            line("WX-9", "100.00", order_id="DY-1001"),
        ]
        report = reconcile_payments([two], statement)
        assert sorted((d.kind, d.transaction_id) for d in report.discrepancies) == [
            (K.MISSING_IN_ORDERS, "WX-9"),
            (K.MISSING_IN_STATEMENT, "WX-2"),
        ]

    def test_duplicate_refund(self) -> None:
        refund = line("RF-1", "59.00", order_id="DY-2001", kind=TransactionKind.REFUND)
        statement = [line("WX-2001", "848.00", order_id="DY-2001"), refund, refund]
        orders = [order("DY-2001", ledger=refunded_ledger(), total="848.00")]
        assert kinds(reconcile_payments(orders, statement)) == [K.DUPLICATE_REFUND]

    def test_refund_without_payment(self) -> None:
        refund = line("RF-9", "59.00", order_id="DY-404", kind=TransactionKind.REFUND)
        report = reconcile_payments([order("DY-404")], [refund])
        assert kinds(report) == [K.REFUND_WITHOUT_PAYMENT]

    def test_a_refund_line_naming_no_order_is_missing_in_orders(self) -> None:
        """A provider that lists refunds without the order cannot say it was unpaid."""
        statement = [
            line("WX-5", "99.00", order_id="DY-5"),
            line("RF-9", "9.00", order_id=None, kind=TransactionKind.REFUND),
        ]
        report = reconcile_payments([paid("DY-5", "WX-5", "99.00")], statement)
        assert [
            (d.kind, d.transaction_id, d.order_id) for d in report.discrepancies
        ] == [(K.MISSING_IN_ORDERS, "RF-9", None)]
        assert "no order records" in report.discrepancies[0].detail

    def test_refund_of_a_statement_payment_is_only_missing_in_orders(self) -> None:
        statement = [
            line("RF-9", "9.00", order_id="DY-5", kind=TransactionKind.REFUND),
            line("WX-5", "99.00", order_id="DY-5"),
        ]
        report = reconcile_payments([], statement)
        assert kinds(report) == [K.MISSING_IN_ORDERS, K.MISSING_IN_ORDERS]

    def test_malformed_rows_come_first_and_the_rest_still_reconciles(self) -> None:
        @attrs.frozen
        class Row:
            line: int
            field: str
            problem: str

        rejected = [
            Row(9, "", "has 3 cells"),
            Row(6, "应结订单金额", "is not a number"),
        ]
        report = reconcile_payments(
            [paid("DY-1001", "WX-1"), paid("DY-1002", "WX-2")],
            [line("WX-1", "199.00", order_id="DY-1001")],
            rejected=rejected,
        )
        assert [(d.kind, d.line, d.detail) for d in report.discrepancies[:2]] == [
            (K.MALFORMED_ROW, 6, "应结订单金额: is not a number"),
            (K.MALFORMED_ROW, 9, "has 3 cells"),
        ]
        assert kinds(report)[2:] == [K.MISSING_IN_STATEMENT]
        assert report.matched == 1

    def test_of_kind(self) -> None:
        report = reconcile_payments([paid("DY-1001", "WX-1")], [])
        assert report.of_kind("missing_in_statement") == report.discrepancies
        assert report.of_kind(K.AMOUNT_MISMATCH) == ()


class TestDailyBills:
    """A bill covers one day: what was made on other days is not missed."""

    DAY_2 = DayWindow(
        T0.add(days=1).in_timezone("Asia/Shanghai").date(), "Asia/Shanghai"
    )

    def refunded_next_day(self) -> Order:
        ledger = PaymentLedger("DY-3001", "CNY").authorise("WX-3001", cny("199.00"), T0)
        ledger = ledger.capture("WX-3001", cny("199.00"), T0)
        ledger = ledger.request_refund("RF-9", "WX-3001", cny("59.00"), "破损", T0)
        ledger = ledger.settle_refund("RF-9", T0.add(days=1))
        return order("DY-3001", ledger=ledger)

    def refund_line(self) -> SettlementLine:
        return line("RF-9", "59.00", order_id="DY-3001", kind=TransactionKind.REFUND)

    def test_a_refund_settled_days_after_its_capture(self) -> None:
        report = reconcile_payments(
            [self.refunded_next_day()], [self.refund_line()], period=self.DAY_2
        )
        assert report.ok, report.discrepancies
        assert (report.matched, report.expected) == (1, 1)

    def test_without_a_period_every_capture_is_required(self) -> None:
        report = reconcile_payments([self.refunded_next_day()], [self.refund_line()])
        assert kinds(report) == [K.MISSING_IN_STATEMENT]

    def test_what_the_day_made_must_still_be_there(self) -> None:
        day_1 = (T0.subtract(hours=1), T0.add(hours=23))
        report = reconcile_payments([self.refunded_next_day()], [], period=day_1)
        assert [(d.kind, d.transaction_id) for d in report.discrepancies] == [
            (K.MISSING_IN_STATEMENT, "WX-3001")
        ]

    def test_a_capture_settled_after_midnight_is_matched(self) -> None:
        late = line("WX-3001", "199.00", order_id="DY-3001")
        report = reconcile_payments(
            [self.refunded_next_day()], [late, self.refund_line()], period=self.DAY_2
        )
        assert report.ok
        assert report.matched == 2

    @pytest.mark.parametrize(
        "period",
        [
            (T0, T0),
            (T0.add(hours=1), T0),
            (T0.naive(), T0.add(days=1).naive()),
            "2026-03-02",
        ],
    )
    def test_a_period_that_is_none(self, period: object) -> None:
        with pytest.raises(ValidationError) as caught:
            reconcile_payments([], [], period=period)  # type: ignore[arg-type]
        assert caught.value.field.startswith("period")


class TestRefundIdsPerOrder:
    """Alipay's refund request number is unique only within its trade."""

    @staticmethod
    def refunded(order_id: str) -> Order:
        ledger = PaymentLedger(order_id, "CNY").authorise(
            f"T-{order_id}", cny("199.00"), T0
        )
        ledger = ledger.capture(f"T-{order_id}", cny("199.00"), T0)
        ledger = ledger.request_refund("1", f"T-{order_id}", cny("59.00"), "破损", T0)
        return order(order_id, ledger=ledger.settle_refund("1", T0.add(hours=2)))

    def statement(self, *refund_orders: str | None) -> list[SettlementLine]:
        captures = [line(f"T-{oid}", "199.00", order_id=oid) for oid in ("A", "B")]
        refunds = [
            line("1", "59.00", order_id=oid, kind=TransactionKind.REFUND)
            for oid in refund_orders
        ]
        return captures + refunds

    def test_two_orders_with_refund_one_reconcile(self) -> None:
        orders = [self.refunded("A"), self.refunded("B")]
        report = reconcile_payments(orders, self.statement("A", "B"))
        assert report.ok, report.discrepancies
        assert report.matched == 4

    def test_a_refund_line_naming_no_order_matches_when_one_order_has_it(self) -> None:
        anonymous = line("1", "59.00", order_id=None, kind=TransactionKind.REFUND)
        report = reconcile_payments(
            [self.refunded("A")], [line("T-A", "199.00", order_id="A"), anonymous]
        )
        assert report.ok, report.discrepancies

    @pytest.mark.parametrize("b_first", [False, True])
    def test_a_line_naming_its_order_exactly_is_matched_whatever_the_order(
        self, b_first: bool
    ) -> None:
        """B's refund "1" failed: B's line is B's, never a second one of A's."""
        failed = PaymentLedger("B", "CNY").authorise("T-B", cny("199.00"), T0)
        failed = failed.capture("T-B", cny("199.00"), T0)
        failed = failed.request_refund("1", "T-B", cny("59.00"), "破损", T0)
        orders = [
            self.refunded("A"),
            order("B", ledger=failed.fail_refund("1", T0.add(hours=2))),
        ]
        refund_lines = self.statement("A", "B")[2:]
        if b_first:
            refund_lines.reverse()
        report = reconcile_payments(orders, self.statement()[:2] + refund_lines)
        assert [(d.kind, d.order_id) for d in report.discrepancies] == [
            (K.MISSING_IN_ORDERS, "B")
        ]
        assert report.matched == 3

    def test_a_refund_listed_twice_for_one_order_is_a_duplicate(self) -> None:
        orders = [self.refunded("A"), self.refunded("B")]
        report = reconcile_payments(orders, self.statement("A", "B", "A"))
        assert kinds(report) == [K.DUPLICATE_REFUND]

    @pytest.mark.parametrize("anonymous_first", [False, True])
    def test_a_refund_listed_again_naming_no_order_is_a_duplicate(
        self, anonymous_first: bool
    ) -> None:
        named = line("1", "59.00", order_id="A", kind=TransactionKind.REFUND)
        anonymous = attrs.evolve(named, order_id=None)  # an empty order cell
        refunds = [anonymous, named] if anonymous_first else [named, anonymous]
        statement = [line("T-A", "199.00", order_id="A"), *refunds]
        report = reconcile_payments([self.refunded("A")], statement)
        assert kinds(report) == [K.DUPLICATE_REFUND]
        assert report.matched == 2

    def test_a_refund_of_that_number_naming_another_order_is_not_a_repeat(
        self,
    ) -> None:
        # Alipay numbers refunds per trade: C's refund "1" is not A's again.
        statement = [
            line("T-A", "199.00", order_id="A"),
            line("1", "59.00", order_id="A", kind=TransactionKind.REFUND),
            line("1", "59.00", order_id="C", kind=TransactionKind.REFUND),
        ]
        report = reconcile_payments([self.refunded("A")], statement)
        assert [(d.kind, d.order_id) for d in report.discrepancies] == [
            (K.REFUND_WITHOUT_PAYMENT, "C")
        ]

    def test_a_refund_naming_another_order_is_an_order_mismatch(self) -> None:
        report = reconcile_payments(
            [self.refunded("A"), paid("B", "T-B")], self.statement("B")
        )
        assert K.ORDER_MISMATCH in kinds(report)


class TestBadInput:
    """Bad arguments are typed errors; nothing is reported half."""

    def test_two_orders_with_one_transaction(self) -> None:
        with pytest.raises(ValidationError, match="repeats a capture of order"):
            reconcile_payments([paid("DY-1", "WX-1"), paid("DY-2", "WX-1")], [])

    def test_lines_must_be_settlement_lines(self) -> None:
        with pytest.raises(ValidationError) as caught:
            reconcile_payments([], [{"transaction_id": "WX-1"}])  # type: ignore[list-item]
        assert caught.value.field == "lines[0]"

    def test_rejected_rows_must_have_a_line(self) -> None:
        with pytest.raises(ValidationError) as caught:
            reconcile_payments([], [], rejected=["row 3"])  # type: ignore[list-item]
        assert caught.value.field == "rejected[0]"

    def test_rejected_rows_must_name_their_field(self) -> None:
        @attrs.frozen
        class Row:
            line: int
            problem: str

        with pytest.raises(ValidationError) as caught:
            reconcile_payments([], [], rejected=[Row(3, "bad")])  # type: ignore[list-item]
        assert caught.value.field == "rejected[0]"

    def test_rejected_must_be_rows(self) -> None:
        with pytest.raises(ValidationError) as caught:
            reconcile_payments([], [], rejected=None)  # type: ignore[arg-type]
        assert caught.value.field == "rejected"

    def test_an_unknown_discrepancy_kind(self) -> None:
        with pytest.raises(ValidationError) as caught:
            Reconciliation(discrepancies=[], matched=0, expected=0, settled=0).of_kind(
                "missing"
            )
        assert caught.value.value == "missing"


HEADER = (
    "kind,order_id,transaction_id,expected_amount,expected_currency,"
    "statement_amount,statement_currency,line,detail"
)


class TestCsv:
    """The report as CSV: stable columns, one row per discrepancy."""

    def test_pinned(self) -> None:
        report = reconcile_payments(
            [paid("DY-1001", "WX-1"), paid("DY-1002", "WX-2")],
            [line("WX-1", "190.00", order_id="DY-1001")],
        )
        assert report.to_csv() == (
            "kind,order_id,transaction_id,expected_amount,expected_currency,"
            "statement_amount,statement_currency,line,detail\r\n"
            "amount_mismatch,DY-1001,WX-1,199.00,CNY,190.00,CNY,,"
            '"the order records 199.00 CNY, the statement 190.00 CNY"\r\n'
            "missing_in_statement,DY-1002,WX-2,199.00,CNY,,,,"
            "the order records this capture; the statement lacks it\r\n"
        )

    @pytest.mark.parametrize(
        ("written", "cell"),
        [
            (
                '=HYPERLINK("https://evil.example")',
                '\'=HYPERLINK("https://evil.example")',
            ),
            ("@SUM(1+1)", "'@SUM(1+1)"),
            ("+86-1", "'+86-1"),
            ("-1+1", "'-1+1"),
            ("\tWX-1", "'\tWX-1"),
            ("\rWX-1", "'\rWX-1"),
            ("-42", "-42"),  # a plain number is no formula
            ("WX=1", "WX=1"),
        ],
    )
    def test_a_cell_a_spreadsheet_would_run_is_written_as_text(
        self, written: str, cell: str
    ) -> None:
        found = Discrepancy(
            kind=K.AMOUNT_MISMATCH,
            order_id=written,
            transaction_id=written,
            expected=cny("-12.00"),
            actual=cny("-12.50"),
            detail=written,
        )
        report = Reconciliation(discrepancies=[found], matched=0, expected=1, settled=1)
        (row,) = list(csv.reader(io.StringIO(report.to_csv(), newline="")))[1:]
        assert row == [
            "amount_mismatch",
            cell,
            cell,
            "-12.00",
            "CNY",
            "-12.50",
            "CNY",
            "",
            cell,
        ]

    def test_empty_report_is_the_header(self) -> None:
        report = reconcile_payments([], [])
        assert report.to_csv().splitlines() == [HEADER]


# --------------------------------------------------------------------------
# Properties


@st.composite
def shop(draw: st.DrawFn) -> list[Order]:
    """Orders with unique transaction ids: plain payments or a ledger."""
    count = draw(st.integers(1, 6))
    orders = []
    for n in range(count):
        minor = draw(st.integers(100, 10**7))
        total = Money.from_minor(minor, "CNY")
        oid = f"DY-{n}"
        if draw(st.booleans()):
            orders.append(paid(oid, f"WX-{n}", str(total.amount)))
            continue
        ledger = PaymentLedger(oid, "CNY").authorise(f"WX-{n}", total, T0)
        parts = draw(st.integers(1, 3))
        taken = [minor // parts] * (parts - 1)
        taken.append(minor - sum(taken))
        for p, part in enumerate(taken):
            ledger = ledger.capture(
                f"WX-{n}", Money.from_minor(part, "CNY"), T0, capture_id=f"CP-{n}-{p}"
            )
        if draw(st.booleans()):
            refund = Money.from_minor(draw(st.integers(1, minor)), "CNY")
            ledger = ledger.request_refund(f"RF-{n}", f"WX-{n}", refund, "退货", T0)
            ledger = ledger.settle_refund(f"RF-{n}", T0)
        orders.append(order(oid, ledger=ledger, total=str(total.amount)))
    return orders


def statement_of(orders: list[Order]) -> list[SettlementLine]:
    lines = []
    for o in orders:
        if o.payment_ledger is None:
            lines += [
                line(p.payment_id, p.amount, order_id=o.order_id) for p in o.payments
            ]
            continue
        for p in o.payment_ledger.payments:
            lines += [
                line(
                    c.capture_id,
                    c.amount,
                    order_id=o.order_id,
                    kind=TransactionKind.CAPTURE,
                )
                for c in p.captures
            ]
        lines += [
            line(
                r.refund_id, r.amount, order_id=o.order_id, kind=TransactionKind.REFUND
            )
            for r in o.payment_ledger.refunds
        ]
    return lines


class TestProperties:
    """A statement made from the orders agrees; one change, one discrepancy."""

    @given(shop(), st.randoms(use_true_random=False))
    def test_own_statement_reconciles(self, orders: list[Order], rng: object) -> None:
        statement = statement_of(orders)
        rng.shuffle(statement)  # type: ignore[attr-defined]
        report = reconcile_payments(orders, statement)
        assert report.ok
        assert report.matched == report.expected == len(statement)

    @given(shop(), st.data())
    def test_one_line_removed(self, orders: list[Order], data: st.DataObject) -> None:
        statement = statement_of(orders)
        gone = statement.pop(data.draw(st.integers(0, len(statement) - 1)))
        report = reconcile_payments(orders, statement)
        assert [(d.kind, d.transaction_id) for d in report.discrepancies] == [
            (K.MISSING_IN_STATEMENT, gone.transaction_id)
        ]

    @given(shop(), st.data())
    def test_one_amount_altered(self, orders: list[Order], data: st.DataObject) -> None:
        statement = statement_of(orders)
        i = data.draw(st.integers(0, len(statement) - 1))
        cents = data.draw(st.integers(1, 500))
        was = statement[i]
        statement[i] = attrs.evolve(
            was, amount=was.amount + Money.from_minor(cents, "CNY")
        )
        report = reconcile_payments(orders, statement)
        (found,) = report.discrepancies
        assert (found.kind, found.transaction_id) == (
            K.AMOUNT_MISMATCH,
            was.transaction_id,
        )
        assert found.actual is not None
        assert found.expected is not None
        assert found.actual.amount - found.expected.amount == Decimal(cents) / 100

    @given(shop(), st.data())
    def test_one_line_repeated(self, orders: list[Order], data: st.DataObject) -> None:
        statement = statement_of(orders)
        again = data.draw(st.sampled_from(statement))
        report = reconcile_payments(orders, [*statement, again])
        expected = (
            K.DUPLICATE_REFUND
            if again.kind is TransactionKind.REFUND
            else K.DUPLICATE_CAPTURE
        )
        assert kinds(report) == [expected]


# --------------------------------------------------------------------------
# Stock counts


def moved(
    key: str,
    kind: MovementKind,
    on_hand: int,
    hours: float,
    *,
    sku: str = "LONGJING-250G",
    location: str = "WH-HZ",
    seq: int = 0,
    counted: int | None = None,
) -> Movement:
    return Movement(
        key=key,
        kind=kind,
        sku=sku,
        location=location,
        on_hand=on_hand,
        at=T0.add(minutes=int(hours * 60)),
        counted=counted,
        seq=seq,
    )


HISTORY = [
    moved("po:PO-77", MovementKind.RECEIVE, 120, 0, seq=1),
    moved("stocktake:2026-03-01", MovementKind.ADJUST, -2, 1, seq=2, counted=118),
    moved("ship:DY-1001", MovementKind.SHIP, -1, 2, seq=3),
    moved("po:PO-78", MovementKind.RECEIVE, 24, 3, seq=4),
    moved("ship:DY-1002", MovementKind.SHIP, -3, 4, seq=5),
    # Reserving moves no units on the shelf: never an explanation.
    Movement(
        key="hold:DY-1003",
        kind=MovementKind.HOLD,
        sku="LONGJING-250G",
        location="WH-HZ",
        reserved=1,
        at=T0.add(hours=5),
        seq=6,
    ),
    # Shipped after the warehouse counted: not in the count.
    moved("ship:DY-1004", MovementKind.SHIP, -5, 8, seq=7),
]
ON_HAND = 120 - 2 - 1 + 24 - 3 - 5  # 133 now; 138 when counted at T0 + 6h


class TestStockCounts:
    """Counts against the ledger, with the movements since the last stocktake."""

    def balances(self) -> list[Balance]:
        return [
            Balance("LONGJING-250G", "WH-HZ", on_hand=ON_HAND, reserved=1),
            Balance("PUER-357G", "WH-HZ", on_hand=40),
        ]

    def test_a_count_that_agrees(self) -> None:
        count = StockCount("LONGJING-250G", "WH-HZ", 138, T0.add(hours=6))
        report = reconcile_stock([count], self.balances(), HISTORY)
        assert report.ok
        assert report.agreed == 1

    def test_a_shortfall_with_its_movements(self) -> None:
        count = StockCount("LONGJING-250G", "WH-HZ", 135, T0.add(hours=6))
        report = reconcile_stock([count], self.balances(), reversed(HISTORY))
        assert report.differences == (
            StockDifference(
                sku="LONGJING-250G",
                location="WH-HZ",
                counted=135,
                on_hand=138,
                counted_at=T0.add(hours=6),
                since=T0.add(hours=1),
                movements=HISTORY[2:5],
            ),
        )
        assert report.differences[0].difference == -3

    def test_since_overrides_the_last_stocktake(self) -> None:
        count = StockCount("LONGJING-250G", "WH-HZ", 140, T0.add(hours=6))
        report = reconcile_stock(
            [count], self.balances(), HISTORY, since=T0.add(hours=3)
        )
        (difference,) = report.differences
        assert difference.movements == (HISTORY[4],)
        assert difference.since == T0.add(hours=3)

    def test_no_stocktake_means_every_movement(self) -> None:
        count = StockCount("LONGJING-250G", "WH-HZ", 0, T0.add(hours=6))
        report = reconcile_stock([count], self.balances(), HISTORY[2:])
        (difference,) = report.differences
        assert difference.since is None
        assert difference.movements == (HISTORY[2], HISTORY[3], HISTORY[4])

    def test_a_sku_the_ledger_never_stocked(self) -> None:
        count = StockCount("TIEGUANYIN-500G", "WH-HZ", 6, T0.add(hours=6))
        report = reconcile_stock([count], self.balances(), HISTORY)
        (difference,) = report.differences
        assert (difference.on_hand, difference.difference) == (0, 6)
        assert difference.movements == ()

    def test_uncounted_balances_are_not_reported(self) -> None:
        report = reconcile_stock([], self.balances(), HISTORY)
        assert report.ok
        assert report.agreed == 0

    def test_csv(self) -> None:
        count = StockCount("LONGJING-250G", "WH-HZ", 135, T0.add(hours=6))
        report = reconcile_stock([count], self.balances(), HISTORY)
        assert report.to_csv() == (
            "sku,location,counted_at,counted,on_hand,difference,since,movements\r\n"
            "LONGJING-250G,WH-HZ,2026-03-01T07:00:00+00:00,135,138,-3,"
            "2026-03-01T02:00:00+00:00,"
            "ship:DY-1001#0 ship -1; po:PO-78#0 receive +24; ship:DY-1002#0 ship -3"
            "\r\n"
        )

    def test_counting_a_place_twice_is_refused(self) -> None:
        count = StockCount("LONGJING-250G", "WH-HZ", 135, T0.add(hours=6))
        with pytest.raises(ValidationError) as caught:
            reconcile_stock([count, count], self.balances(), HISTORY)
        assert caught.value.field == "counts[1]"

    def test_movements_of_another_ledger_are_refused(self) -> None:
        count = StockCount("PUER-357G", "WH-HZ", 40, T0)
        later = moved("po:PO-99", MovementKind.RECEIVE, 90, 2, sku="PUER-357G")
        with pytest.raises(ValidationError, match="not this ledger's"):
            reconcile_stock([count], self.balances(), [later])

    def test_naive_times_are_refused(self) -> None:
        with pytest.raises(NaiveDatetime):
            StockCount("PUER-357G", "WH-HZ", 40, T0.naive())
        with pytest.raises(NaiveDatetime):
            reconcile_stock([], [], [], since=T0.naive())


class TestFreeOrders:
    """A free order paid with a capture of zero took no money: no line is due."""

    def test_a_free_order_paid_expects_no_statement_line(self) -> None:
        free = order("DY-3001", total="0.00")
        placed = OrderPlaced(
            order_id="DY-3001",
            key=IdempotencyKey("douyin", "trade.created", "DY-3001", "1"),
            occurred_at=T0,
            channel="douyin",
            buyer=free.buyer,
            address=free.address,
            lines=free.lines,
        )
        captured = PaymentCaptured(
            order_id="DY-3001",
            key=IdempotencyKey("douyin", "trade.paid", "DY-3001", "1"),
            occurred_at=T0.add(minutes=1),
            payment_id="WX-FREE",
            amount=cny("0.00"),
        )
        batch = apply_all(None, [placed, captured], now=T0.add(minutes=2))
        assert batch.order is not None
        assert OrderStatus.PAID == batch.order.status

        report = reconcile_payments(
            [batch.order, paid("DY-1001", "WX-1")],
            [line("WX-1", "199.00", order_id="DY-1001")],
        )

        assert report.ok
        assert (report.matched, report.expected) == (1, 1)
