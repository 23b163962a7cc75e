"""WeChat Pay and Alipay CSV bills, read into settlement lines."""

from __future__ import annotations

import codecs
from collections.abc import Callable
from pathlib import Path

import pendulum
import pytest

from orderkit.adapters.statements import (
    MalformedRow,
    StatementRead,
    read_alipay_bill,
    read_wechat_bill,
)
from orderkit.errors import ConfigurationError, StructureError, ValidationError
from orderkit.integrations import SettlementLine, TransactionKind
from orderkit.money import Money
from orderkit.orders import Address, Buyer, Order, OrderLine, OrderStatus, Payment
from orderkit.pricing import PaymentLedger
from orderkit.services import DiscrepancyKind, reconcile_payments


FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "statements"
WECHAT = (FIXTURES / "wechat-bill-sample.csv").read_bytes()
ALIPAY = (FIXTURES / "alipay-bill-sample.csv").read_bytes()
T0 = pendulum.datetime(2026, 3, 1)


def cny(amount: str) -> Money:
    return Money(amount, "CNY")


def edited(data: bytes, old: str, new: str) -> bytes:
    """A variant of a GBK bill with one piece of text replaced."""
    text = data.decode("gbk")
    assert old in text
    return text.replace(old, new, 1).encode("gbk")


class TestWeChatSample:
    """The sample bill reads into its four transactions."""

    def test_lines(self) -> None:
        read = read_wechat_bill(WECHAT)
        assert read.provider == "wechat"
        assert read.rejected == ()
        assert [
            (x.kind, x.transaction_id, x.amount, x.order_id) for x in read.lines
        ] == [
            (
                TransactionKind.SALE,
                "4200002001202603011234567890",
                cny("199.00"),
                "DY-1001",
            ),
            (
                TransactionKind.SALE,
                "4200002001202603011234567891",
                cny("848.00"),
                "DY-1002",
            ),
            (TransactionKind.REFUND, "RF-DY-1001-1", cny("59.00"), "DY-1001"),
            (
                TransactionKind.SALE,
                "4200002001202603011234567892",
                cny("66.60"),
                "DY-1003",
            ),
        ]

    def test_each_line_has_its_line_in_the_file(self) -> None:
        read = read_wechat_bill(WECHAT)
        lines = WECHAT.decode("gbk").splitlines()
        assert len(read.numbers) == len(read.lines)
        for number, line in zip(read.numbers, read.lines, strict=True):
            assert line.transaction_id in lines[number - 1]

    def test_numbers_are_one_per_line_or_none(self) -> None:
        lines = read_wechat_bill(WECHAT).lines
        assert StatementRead(provider="csv", lines=lines).numbers == ()
        with pytest.raises(ValidationError) as caught:
            StatementRead(provider="csv", lines=lines, numbers=[5])
        assert caught.value.field == "numbers"
        with pytest.raises(ValidationError) as caught:
            StatementRead(provider="csv", lines=lines[:1], numbers=[0])
        assert caught.value.field == "numbers[0]"

    def test_fees_keep_their_sign(self) -> None:
        fees = [x.fee for x in read_wechat_bill(WECHAT).lines]
        assert fees == [cny("1.19"), cny("5.09"), cny("-0.35"), cny("0.40")]

    def test_times_are_shanghai_local(self) -> None:
        last = read_wechat_bill(WECHAT).lines[-1]
        # 23:41:37 on 1 March in Shanghai is 15:41:37 UTC the same day.
        assert last.settled_at == pendulum.datetime(2026, 3, 1, 15, 41, 37)

    def test_another_zone_can_be_named(self) -> None:
        first = read_wechat_bill(WECHAT, zone="UTC").lines[0]
        assert first.settled_at == pendulum.datetime(2026, 3, 1, 9, 12, 45)

    @pytest.mark.parametrize("read", [read_wechat_bill, read_alipay_bill])
    @pytest.mark.parametrize("bill", [WECHAT, ALIPAY, b""])
    def test_a_bad_zone_is_refused_before_any_row_is_read(
        self, read: Callable[..., StatementRead], bill: bytes
    ) -> None:
        with pytest.raises(ConfigurationError) as caught:
            read(bill, zone="Mars/Olympus_Mons")

        assert "zone" == caught.value.setting

    def test_utf8_with_a_bom_reads_the_same(self) -> None:
        utf8 = codecs.BOM_UTF8 + WECHAT.decode("gbk").encode("utf-8")
        assert read_wechat_bill(utf8) == read_wechat_bill(WECHAT)

    @pytest.mark.parametrize(
        ("read", "bill"), [(read_wechat_bill, WECHAT), (read_alipay_bill, ALIPAY)]
    )
    def test_utf8_without_a_bom_reads_the_same(
        self, read: Callable[..., StatementRead], bill: bytes
    ) -> None:
        # As a bill opened and saved again by an editor that writes UTF-8.
        assert read(bill.decode("gbk").encode("utf-8")) == read(bill)

    def test_lf_line_ends_read_the_same(self) -> None:
        assert read_wechat_bill(WECHAT.replace(b"\r\n", b"\n")) == read_wechat_bill(
            WECHAT
        )

    def test_a_revoked_payment_is_a_void(self) -> None:
        data = edited(WECHAT, "`SUCCESS,`ICBC_DEBIT", "`REVOKED,`ICBC_DEBIT")
        assert read_wechat_bill(data).lines[1].kind is TransactionKind.VOID


class TestWeChatRefundStates:
    """Only a refund WeChat Pay settled is read as money sent back."""

    @pytest.mark.parametrize("state", ["PROCESSING", "REFUNDCLOSE", "CHANGE"])
    def test_an_unsettled_refund_is_shown_not_matched(self, state: str) -> None:
        read = read_wechat_bill(
            edited(WECHAT, "`ORIGINAL,`SUCCESS", f"`ORIGINAL,`{state}")
        )
        (row,) = read.rejected
        assert (row.line, row.field, row.value) == (7, "退款状态", state)
        assert "only a SUCCESS refund is settled money" in row.problem
        assert [line.kind for line in read.lines] == [TransactionKind.SALE] * 3
        report = reconcile_payments(sample_orders(), read.lines, rejected=read.rejected)
        kinds = [(d.kind, d.line) for d in report.discrepancies]
        assert (DiscrepancyKind.MALFORMED_ROW, 7) in kinds

    def test_an_unknown_refund_state_is_named(self) -> None:
        read = read_wechat_bill(edited(WECHAT, "`ORIGINAL,`SUCCESS", "`ORIGINAL,`DONE"))
        (row,) = read.rejected
        assert (row.field, row.value) == ("退款状态", "DONE")
        assert "is not a refund state WeChat Pay uses" in row.problem

    def test_a_blank_refund_state_reads_as_before(self) -> None:
        read = read_wechat_bill(edited(WECHAT, "`ORIGINAL,`SUCCESS", "`ORIGINAL,`"))
        assert read == read_wechat_bill(WECHAT)


class TestAlipaySample:
    """The sample bill reads into two trades and a refund."""

    def test_lines(self) -> None:
        read = read_alipay_bill(ALIPAY)
        assert read.rejected == ()
        assert read.lines[2] == SettlementLine(
            transaction_id="RF20260301000001",
            kind=TransactionKind.REFUND,
            amount=cny("100.00"),
            fee=cny("-0.60"),
            settled_at=pendulum.datetime(2026, 3, 1, 10, 2, 20),
            order_id="TB-20260301-0001",
        )
        assert [(x.transaction_id, x.amount) for x in read.lines[:2]] == [
            ("2026030122001456781234567890", cny("399.00")),
            ("2026030122001456781234567891", cny("128.50")),
        ]

    def test_a_trade_written_negative_is_malformed(self) -> None:
        data = edited(ALIPAY, "128.50\t,128.50", "-128.50\t,128.50")
        read = read_alipay_bill(data)
        (row,) = read.rejected
        assert (row.line, row.value) == (7, "-128.50")
        assert row.problem == "a sale row must not be negative"
        assert len(read.lines) == 2

    def test_a_refund_written_positive_is_malformed(self) -> None:
        data = edited(ALIPAY, "-100.00\t,-100.00", "100.00\t,-100.00")
        (row,) = read_alipay_bill(data).rejected
        assert (row.line, row.problem) == (8, "a refund row must not be positive")

    def test_a_refund_without_its_request_number_is_malformed(self) -> None:
        data = edited(ALIPAY, "RF20260301000001", "")
        (row,) = read_alipay_bill(data).rejected
        assert (row.line, row.problem) == (8, "must not be empty")


class TestMalformedRows:
    """A bad row is reported with its line number; the others still read."""

    def test_an_amount_that_is_not_a_number(self) -> None:
        read = read_wechat_bill(edited(WECHAT, "`848.00,", "`84.8.00,"))
        assert read.rejected == (
            MalformedRow(
                line=6,
                field="应结订单金额",
                value="84.8.00",
                problem="must be decimal text such as 199.00",
            ),
        )
        assert [x.order_id for x in read.lines] == ["DY-1001", "DY-1001", "DY-1003"]

    def test_a_bad_negative_fee_is_named_as_written(self) -> None:
        read = read_wechat_bill(edited(WECHAT, ",`-0.35,", ",`--0.35,"))
        (row,) = read.rejected
        assert (row.line, row.field, row.value) == (7, "手续费", "--0.35")

    def test_a_row_with_a_missing_cell(self) -> None:
        read = read_wechat_bill(edited(WECHAT, ",`66.60,`0.00,`", ",`66.60,`0.00"))
        (row,) = read.rejected
        assert (row.line, row.field) == (8, "")
        assert row.problem == "has 26 cells, the header 27"

    def test_a_cell_too_long_for_the_csv_module(self) -> None:
        data = WECHAT.replace(b"`DY-1003", b"`DY-1003" + b"x" * 200_000)
        read = read_wechat_bill(data)
        (row,) = read.rejected
        assert (row.line, row.problem) == (8, "is not CSV: a cell is too long")
        assert len(row.value) == 200
        assert len(read.lines) == 3

    def test_bytes_that_are_not_gbk(self) -> None:
        data = WECHAT.replace(b"`DY-1003", b"`DY-\xff\xff1003")
        read = read_wechat_bill(data)
        (row,) = read.rejected
        assert (row.line, row.problem) == (8, "is not GBK text")
        assert len(read.lines) == 3

    def test_an_unknown_status_and_a_bad_time(self) -> None:
        data = edited(WECHAT, "`REFUND", "`CLOSED")
        data = edited(data, "`2026-03-01 23:41:37", "`2026-02-30 23:41:37")
        read = read_wechat_bill(data)
        assert [(r.line, r.field) for r in read.rejected] == [
            (7, "交易状态"),
            (8, "交易时间"),
        ]

    def test_an_unknown_currency(self) -> None:
        (row,) = read_wechat_bill(edited(WECHAT, "`CNY", "`RMB")).rejected
        assert (row.line, row.field, row.value) == (5, "货币种类", "RMB")

    def test_the_rest_still_reconciles(self) -> None:
        read = read_wechat_bill(edited(WECHAT, "`848.00,", "`84.8.00,"))
        report = reconcile_payments(sample_orders(), read.lines, rejected=read.rejected)
        assert [(d.kind, d.line, d.transaction_id) for d in report.discrepancies] == [
            (DiscrepancyKind.MALFORMED_ROW, 6, None),
            (
                DiscrepancyKind.MISSING_IN_STATEMENT,
                None,
                "4200002001202603011234567891",
            ),
        ]
        assert report.matched == 3


class TestNotABill:
    """What is not a whole bill is refused as a whole, with a typed error."""

    def test_no_column_header(self) -> None:
        with pytest.raises(StructureError) as caught:
            read_wechat_bill(ALIPAY)
        assert caught.value.field == "header"

    def test_a_bill_cut_short(self) -> None:
        cut = WECHAT[: WECHAT.index("总交易单数".encode("gbk"))]
        with pytest.raises(StructureError, match="cut short"):
            read_wechat_bill(cut)

    def test_an_alipay_bill_cut_short(self) -> None:
        cut = ALIPAY[: ALIPAY.index("业务明细列表结束".encode("gbk"))]
        with pytest.raises(StructureError, match="cut short"):
            read_alipay_bill(cut)

    def test_a_missing_column(self) -> None:
        with pytest.raises(StructureError, match="手续费") as caught:
            read_wechat_bill(edited(WECHAT, ",手续费,", ",服务费,"))
        assert caught.value.field == "line 4"

    def test_a_wechat_column_named_twice(self) -> None:
        # Read by name, one of the two columns would be dropped unseen.
        with pytest.raises(StructureError, match="应结订单金额 twice") as caught:
            read_wechat_bill(edited(WECHAT, ",订单金额,", ",应结订单金额,"))
        assert caught.value.field == "line 4"

    def test_an_alipay_column_named_twice(self) -> None:
        received, amount = "商家实收\uff08元\uff09", "订单金额\uff08元\uff09"
        with pytest.raises(StructureError, match="twice") as caught:
            read_alipay_bill(edited(ALIPAY, f",{received},", f",{amount},"))
        assert caught.value.field == "line 5"
        assert amount in caught.value.problem

    def test_text_instead_of_bytes(self) -> None:
        with pytest.raises(StructureError):
            read_alipay_bill(ALIPAY.decode("gbk"))  # type: ignore[arg-type]

    def test_statement_read_holds_lines_only(self) -> None:
        with pytest.raises(ValueError, match="lines"):
            StatementRead(provider="wechat", lines=["not a line"])  # type: ignore[list-item]


def sample_orders() -> list[Order]:
    """The orders behind the WeChat sample bill."""

    def order(order_id: str, total: str, **parts: object) -> Order:
        return Order(
            order_id=order_id,
            channel="douyin",
            buyer=Buyer(f"buyer-{order_id}"),
            address=Address("CN", "浙江省", "杭州市"),
            lines=[OrderLine("L1", "TEA", 1, cny(total))],
            placed_at=T0,
            status=OrderStatus.PAID,
            **parts,  # type: ignore[arg-type]
        )

    ledger = PaymentLedger("DY-1001", "CNY").authorise(
        "4200002001202603011234567890", cny("199.00"), T0
    )
    ledger = ledger.capture("4200002001202603011234567890", cny("199.00"), T0)
    ledger = ledger.request_refund(
        "RF-DY-1001-1", "4200002001202603011234567890", cny("59.00"), "破损", T0
    )
    ledger = ledger.settle_refund("RF-DY-1001-1", T0.add(hours=6))
    return [
        order("DY-1001", "199.00", payment_ledger=ledger),
        order(
            "DY-1002",
            "848.00",
            payments=[Payment("4200002001202603011234567891", cny("848.00"), T0)],
        ),
        order(
            "DY-1003",
            "66.60",
            payments=[Payment("4200002001202603011234567892", cny("66.60"), T0)],
        ),
    ]


class TestEndToEnd:
    """A bill against the orders behind it, and the report as CSV."""

    def test_the_sample_reconciles(self) -> None:
        report = reconcile_payments(sample_orders(), read_wechat_bill(WECHAT).lines)
        assert report.ok
        assert report.matched == 4

    def test_a_double_charge_shows_in_the_csv(self) -> None:
        data = edited(
            WECHAT,
            "`4200002001202603011234567892,`DY-1003",
            "`4200002001202603011234567899,`DY-1002",
        )
        read = read_wechat_bill(data)
        report = reconcile_payments(sample_orders(), read.lines, rejected=read.rejected)
        assert report.to_csv().splitlines()[1:] == [
            (
                "duplicate_capture,DY-1002,4200002001202603011234567899,,,66.60,CNY,,"
                "\"a second sale for order 'DY-1002', whose recorded captures the "
                'statement settles already"'
            ),
            (
                "missing_in_statement,DY-1003,4200002001202603011234567892,66.60,"
                "CNY,,,,the order records this capture; the statement lacks it"
            ),
        ]
