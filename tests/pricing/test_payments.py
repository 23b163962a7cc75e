import datetime as dt
from collections.abc import Callable
from decimal import Decimal

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from orderkit.errors import (
    CaptureExceedsAuthorisation,
    CurrencyMismatch,
    IdempotencyConflict,
    NaiveDatetime,
    RefundExceedsCapture,
    RefundNotPending,
    UnknownPayment,
    UnknownRefund,
    ValidationError,
)
from orderkit.money import Money
from orderkit.pricing import (
    Override,
    OverrideKind,
    PaymentLedger,
    PaymentRecord,
    Refund,
    RefundLine,
    RefundState,
)


T0 = dt.datetime(2024, 11, 11, 0, 5, tzinfo=dt.UTC)  # Singles' Day, just after midnight
T1 = T0 + dt.timedelta(hours=1)
T2 = T0 + dt.timedelta(days=3)


def cny(amount: str) -> Money:
    return Money(amount, "CNY")


@pytest.fixture
def paid() -> PaymentLedger:
    """A 1,299.00 yuan rice cooker: 1,000 by Alipay, 299 by a WeChat red packet."""
    return (
        PaymentLedger("TB-20241111-0007", "CNY")
        .authorise("alipay-2088-001", cny("1000.00"), T0)
        .capture("alipay-2088-001", cny("1000.00"), T0)
        .authorise("wxpay-4200-777", cny("299.00"), T0)
        .capture("wxpay-4200-777", cny("299.00"), T0)
    )


class TestCapture:
    """Captures never exceed what is authorised and not captured yet."""

    def test_totals_after_two_payments(self, paid: PaymentLedger) -> None:
        assert cny("1299.00") == paid.authorised
        assert cny("1299.00") == paid.captured
        assert cny("1299.00") == paid.refundable

    def test_partial_captures_with_their_own_ids(self) -> None:
        ledger = (
            PaymentLedger("JD-88", "CNY")
            .authorise("card-1", cny("500.00"), T0)
            .capture("card-1", cny("200.00"), T0, capture_id="cap-a")
            .capture("card-1", cny("300.00"), T1, capture_id="cap-b")
        )
        assert cny("500.00") == ledger.totals("card-1").captured

    def test_capture_above_authorisation_is_refused(self) -> None:
        ledger = PaymentLedger("JD-88", "CNY").authorise("card-1", cny("500.00"), T0)
        ledger = ledger.capture("card-1", cny("450.00"), T0, capture_id="cap-a")
        with pytest.raises(CaptureExceedsAuthorisation) as caught:
            ledger.capture("card-1", cny("50.01"), T1, capture_id="cap-b")
        assert ("amount", cny("50.01")) == (caught.value.field, caught.value.value)

    def test_capture_of_unknown_payment(self) -> None:
        with pytest.raises(UnknownPayment) as caught:
            PaymentLedger("JD-88", "CNY").capture("ghost", cny("1.00"), T0)
        assert "payment_id" == caught.value.field

    def test_repeat_is_a_no_op_and_a_different_repeat_conflicts(
        self, paid: PaymentLedger
    ) -> None:
        assert paid is paid.capture("alipay-2088-001", cny("1000.00"), T1)
        assert paid is paid.authorise("alipay-2088-001", cny("1000.00"), T1)
        with pytest.raises(IdempotencyConflict):
            paid.authorise("alipay-2088-001", cny("999.00"), T1)
        with pytest.raises(IdempotencyConflict):
            paid.capture(
                "wxpay-4200-777", cny("1.00"), T1, capture_id="alipay-2088-001"
            )


class TestRefunds:
    """Refunds, pending included, stay within what each payment captured."""

    def test_pending_then_settled(self, paid: PaymentLedger) -> None:
        ledger = paid.request_refund(
            "RF-1", "wxpay-4200-777", cny("99.00"), "lid dented", T1
        )
        assert (cny("0.00"), cny("99.00")) == (ledger.refunded, ledger.pending)
        ledger = ledger.settle_refund("RF-1", T2)
        assert (cny("99.00"), cny("0.00")) == (ledger.refunded, ledger.pending)
        assert RefundState.REFUNDED == ledger.refund("RF-1").state
        assert cny("1200.00") == ledger.refundable

    def test_failed_refund_frees_its_amount(self, paid: PaymentLedger) -> None:
        ledger = paid.request_refund("RF-1", "wxpay-4200-777", cny("299.00"), "x", T1)
        assert cny("0.00") == ledger.totals("wxpay-4200-777").refundable
        ledger = ledger.fail_refund("RF-1", T2)
        assert cny("299.00") == ledger.totals("wxpay-4200-777").refundable

    def test_cap_is_per_payment_pending_included(self, paid: PaymentLedger) -> None:
        ledger = paid.request_refund("RF-1", "wxpay-4200-777", cny("200.00"), "x", T1)
        with pytest.raises(RefundExceedsCapture) as caught:
            ledger.request_refund("RF-2", "wxpay-4200-777", cny("100.00"), "x", T1)
        assert ("amount", cny("100.00")) == (caught.value.field, caught.value.value)
        assert "99.00 CNY" in str(caught.value)

    def test_refund_without_payment_reference(self, paid: PaymentLedger) -> None:
        with pytest.raises(ValidationError) as caught:
            paid.request_refund("RF-1", "", cny("10.00"), "no ref", T1)
        assert ("payment_id", "") == (caught.value.field, caught.value.value)
        with pytest.raises(UnknownPayment):
            paid.request_refund("RF-1", "unionpay-9", cny("10.00"), "x", T1)

    def test_settled_cannot_fail_and_failed_cannot_settle(
        self, paid: PaymentLedger
    ) -> None:
        ledger = paid.request_refund("RF-1", "alipay-2088-001", cny("5.00"), "x", T1)
        settled = ledger.settle_refund("RF-1", T2)
        assert settled is settled.settle_refund("RF-1", T2)
        with pytest.raises(RefundNotPending):
            settled.fail_refund("RF-1", T2)
        failed = ledger.fail_refund("RF-1", T2)
        with pytest.raises(RefundNotPending):
            failed.settle_refund("RF-1", T2)

    def test_unknown_refund_and_decision_before_request(
        self, paid: PaymentLedger
    ) -> None:
        with pytest.raises(UnknownRefund):
            paid.settle_refund("RF-404", T1)
        ledger = paid.request_refund("RF-1", "alipay-2088-001", cny("5.00"), "x", T1)
        with pytest.raises(ValidationError) as caught:
            ledger.settle_refund("RF-1", T0)
        assert "at" == caught.value.field

    def test_refund_id_is_idempotent(self, paid: PaymentLedger) -> None:
        ledger = paid.request_refund("RF-1", "alipay-2088-001", cny("5.00"), "x", T1)
        assert ledger is ledger.request_refund(
            "RF-1", "alipay-2088-001", cny("5.00"), "x", T2
        )
        with pytest.raises(IdempotencyConflict):
            ledger.request_refund("RF-1", "alipay-2088-001", cny("6.00"), "x", T1)

    def test_a_refund_keeps_the_units_it_pays_back(self, paid: PaymentLedger) -> None:
        units = [RefundLine("L1", 1, restock=True)]
        ledger = paid.request_refund(
            "RF-1", "alipay-2088-001", cny("5.00"), "x", T1, lines=units
        )
        assert (RefundLine("L1", 1, restock=True),) == ledger.refund("RF-1").lines
        again = ledger.request_refund(
            "RF-1", "alipay-2088-001", cny("5.00"), "x", T2, lines=units
        )
        assert ledger is again
        with pytest.raises(IdempotencyConflict):
            ledger.request_refund(
                "RF-1",
                "alipay-2088-001",
                cny("5.00"),
                "x",
                T1,
                lines=[RefundLine("L1", 2)],
            )


class TestOverrides:
    """An explicit, recorded override is the only way past the cap."""

    def test_goodwill_allows_a_refund_beyond_capture(self, paid: PaymentLedger) -> None:
        full = paid.request_refund("RF-1", "wxpay-4200-777", cny("299.00"), "x", T1)
        with pytest.raises(RefundExceedsCapture):
            full.request_refund("RF-2", "wxpay-4200-777", cny("20.00"), "late", T1)
        ledger = full.override(
            "OV-1",
            OverrideKind.GOODWILL,
            "wxpay-4200-777",
            cny("20.00"),
            actor="finance.zhang",
            reason="courier lost the parcel for 9 days",
            at=T1,
        )
        ledger = ledger.request_refund(
            "RF-2", "wxpay-4200-777", cny("20.00"), "late", T1
        )
        assert cny("319.00") == ledger.totals("wxpay-4200-777").pending
        assert cny("20.00") == ledger.allowance
        assert OverrideKind.GOODWILL == ledger.overrides[0].kind
        assert "finance.zhang" == ledger.overrides[0].actor

    def test_override_is_idempotent(self, paid: PaymentLedger) -> None:
        def chargeback(amount: str) -> PaymentLedger:
            return paid.override(
                "OV-1",
                OverrideKind.CHARGEBACK,
                "alipay-2088-001",
                cny(amount),
                actor="risk.li",
                reason="dispute 2024-556",
                at=T1,
            )

        once = chargeback("30.00")
        assert once is once.override(
            "OV-1",
            OverrideKind.CHARGEBACK,
            "alipay-2088-001",
            cny("30.00"),
            actor="risk.li",
            reason="dispute 2024-556",
            at=T2,
        )
        with pytest.raises(IdempotencyConflict):
            once.override(
                "OV-1",
                OverrideKind.GOODWILL,
                "alipay-2088-001",
                cny("30.00"),
                actor="risk.li",
                reason="dispute 2024-556",
                at=T1,
            )


class TestBadInput:
    """Bad input is a typed error naming the field and value; nothing recorded."""

    @pytest.mark.parametrize(
        ("amount", "error"),
        [
            (12.5, ValidationError),
            (Money("12.50", "USD"), CurrencyMismatch),
            (Money("-1.00", "CNY"), ValidationError),
            (Money("0.00", "CNY"), ValidationError),
        ],
    )
    def test_amounts(
        self, paid: PaymentLedger, amount: object, error: type[Exception]
    ) -> None:
        with pytest.raises(error) as caught:
            paid.request_refund("RF-1", "alipay-2088-001", amount, "x", T1)  # type: ignore[arg-type]
        assert isinstance(caught.value, ValidationError)
        assert "amount" == caught.value.field
        assert () == paid.refunds

    def test_naive_time(self, paid: PaymentLedger) -> None:
        with pytest.raises(ValidationError):
            paid.request_refund(
                "RF-1",
                "alipay-2088-001",
                cny("1.00"),
                "x",
                dt.datetime(2024, 11, 11),  # noqa: DTZ001 - naive on purpose
            )

    @pytest.mark.parametrize(
        "operation",
        [
            lambda ledger, at: ledger.authorise("unionpay-1", cny("1.00"), at),
            lambda ledger, at: ledger.capture("alipay-2088-001", cny("1.00"), at),
            lambda ledger, at: ledger.request_refund(
                "RF-1", "alipay-2088-001", cny("1.00"), "x", at
            ),
            lambda ledger, at: ledger.override(
                "OV-1",
                OverrideKind.GOODWILL,
                "alipay-2088-001",
                cny("1.00"),
                actor="cs.li",
                reason="late delivery",
                at=at,
            ),
        ],
        ids=["authorise", "capture", "request_refund", "override"],
    )
    def test_a_naive_time_names_the_argument(
        self,
        paid: PaymentLedger,
        operation: Callable[[PaymentLedger, dt.datetime], PaymentLedger],
    ) -> None:
        naive = dt.datetime(2024, 11, 11, 8)  # noqa: DTZ001 - naive on purpose
        with pytest.raises(NaiveDatetime) as caught:
            operation(paid, naive)
        # Every operation calls its time `at`: the error names what was passed.
        assert (caught.value.field, caught.value.value) == ("at", naive)

    @pytest.mark.parametrize(
        ("state", "decided_at"),
        [
            (RefundState.REFUNDED, None),
            (RefundState.FAILED, None),
            (RefundState.PENDING, T0),
            (RefundState.REFUNDED, T0 - dt.timedelta(days=3)),
        ],
    )
    def test_a_refund_decided_as_it_cannot_be(
        self, state: RefundState, decided_at: dt.datetime | None
    ) -> None:
        with pytest.raises(ValidationError) as caught:
            Refund("r1", "p1", cny("1.00"), "x", T0, state, decided_at)
        assert "decided_at" == caught.value.field

    def test_stored_parts_that_break_the_cap_are_refused(self) -> None:
        payment = PaymentRecord("p1", cny("10.00"), T0)
        refund = Refund("r1", "p1", cny("1.00"), "x", T0)
        with pytest.raises(RefundExceedsCapture):
            PaymentLedger("O-1", "CNY", (payment,), (refund,))
        with pytest.raises(UnknownPayment) as caught:
            PaymentLedger("O-1", "CNY", (), (refund,))
        assert "refunds[0].payment_id" == caught.value.field
        override = Override(
            "o1", OverrideKind.GOODWILL, "p1", cny("1.00"), "a", "b", T0
        )
        ledger = PaymentLedger("O-1", "CNY", (payment,), (refund,), (override,))
        assert cny("0.00") == ledger.refundable

    def test_mixed_currency_in_stored_parts(self) -> None:
        payment = PaymentRecord("p1", Money("10.00", "USD"), T0)
        with pytest.raises(CurrencyMismatch) as caught:
            PaymentLedger("O-1", "CNY", (payment,))
        assert "payments[0].authorised" == caught.value.field


# --------------------------------------------------------------------------
# Stateful: random operations never break refunded + pending <= captured


PAYMENT_IDS = ("alipay-1", "wxpay-2", "unionpay-3")
AMOUNTS = st.integers(min_value=1, max_value=5_000).map(
    lambda fen: Money(Decimal(fen).scaleb(-2), "CNY")
)


class PaymentLedgerMachine(RuleBasedStateMachine):
    """Captures, refunds, settlements, failures and overrides against a dict model."""

    def __init__(self) -> None:
        super().__init__()
        self.ledger = PaymentLedger("DY-2024-0618", "CNY")
        # payment id -> {"authorised", "captured", "allowance"} in fen
        self.model: dict[str, dict[str, int]] = {}
        # refund id -> (payment id, fen, state)
        self.refunds: dict[str, tuple[str, int, str]] = {}
        self.count = 0

    def _next(self, prefix: str) -> str:
        self.count += 1
        return f"{prefix}-{self.count}"

    def _used(self, payment_id: str) -> int:
        return sum(
            fen
            for pid, fen, state in self.refunds.values()
            if pid == payment_id and state != "failed"
        )

    @rule(payment_id=st.sampled_from(PAYMENT_IDS), amount=AMOUNTS)
    def authorise(self, payment_id: str, amount: Money) -> None:
        if payment_id in self.model:
            same = self.model[payment_id]["authorised"] == amount.minor
            if same:
                assert self.ledger is self.ledger.authorise(payment_id, amount, T0)
            else:
                with pytest.raises(IdempotencyConflict):
                    self.ledger.authorise(payment_id, amount, T0)
            return
        self.ledger = self.ledger.authorise(payment_id, amount, T0)
        self.model[payment_id] = {"authorised": amount.minor, "captured": 0}
        self.model[payment_id]["allowance"] = 0

    @rule(payment_id=st.sampled_from(PAYMENT_IDS), amount=AMOUNTS)
    def capture(self, payment_id: str, amount: Money) -> None:
        capture_id = self._next("cap")
        row = self.model.get(payment_id)
        if row is None:
            with pytest.raises(UnknownPayment):
                self.ledger.capture(payment_id, amount, T0, capture_id=capture_id)
        elif row["captured"] + amount.minor > row["authorised"]:
            with pytest.raises(CaptureExceedsAuthorisation):
                self.ledger.capture(payment_id, amount, T0, capture_id=capture_id)
        else:
            self.ledger = self.ledger.capture(
                payment_id, amount, T0, capture_id=capture_id
            )
            row["captured"] += amount.minor

    @rule(payment_id=st.sampled_from(PAYMENT_IDS), amount=AMOUNTS)
    def request_refund(self, payment_id: str, amount: Money) -> None:
        refund_id = self._next("rf")
        row = self.model.get(payment_id)
        if row is None:
            with pytest.raises(UnknownPayment):
                self.ledger.request_refund(refund_id, payment_id, amount, "x", T1)
            return
        cap = row["captured"] + row["allowance"]
        if self._used(payment_id) + amount.minor > cap:
            with pytest.raises(RefundExceedsCapture):
                self.ledger.request_refund(refund_id, payment_id, amount, "x", T1)
            return
        self.ledger = self.ledger.request_refund(refund_id, payment_id, amount, "x", T1)
        self.refunds[refund_id] = (payment_id, amount.minor, "pending")

    @rule(data=st.data(), settle=st.booleans())
    def decide(self, data: st.DataObject, settle: bool) -> None:
        if not self.refunds:
            return
        refund_id = data.draw(st.sampled_from(sorted(self.refunds)))
        payment_id, fen, state = self.refunds[refund_id]
        target = "refunded" if settle else "failed"
        step = self.ledger.settle_refund if settle else self.ledger.fail_refund
        if state == "pending":
            self.ledger = step(refund_id, T2)
            self.refunds[refund_id] = (payment_id, fen, target)
        elif state == target:
            assert self.ledger is step(refund_id, T2)
        else:
            with pytest.raises(RefundNotPending):
                step(refund_id, T2)

    @rule(payment_id=st.sampled_from(PAYMENT_IDS), amount=AMOUNTS)
    def override(self, payment_id: str, amount: Money) -> None:
        if payment_id not in self.model:
            return
        self.ledger = self.ledger.override(
            self._next("ov"),
            OverrideKind.CHARGEBACK,
            payment_id,
            amount,
            actor="risk.wang",
            reason="dispute",
            at=T1,
        )
        self.model[payment_id]["allowance"] += amount.minor

    @invariant()
    def cap_holds_per_payment_and_in_total(self) -> None:
        for payment_id, row in self.model.items():
            totals = self.ledger.totals(payment_id)
            refunded = sum(
                f
                for p, f, s in self.refunds.values()
                if p == payment_id and s == "refunded"
            )
            pending = sum(
                f
                for p, f, s in self.refunds.values()
                if p == payment_id and s == "pending"
            )
            assert (refunded, pending) == (totals.refunded.minor, totals.pending.minor)
            assert row["captured"] == totals.captured.minor
            assert row["allowance"] == totals.allowance.minor
            assert refunded + pending <= row["captured"] + row["allowance"]
            assert row["captured"] <= row["authorised"]
        total = self.ledger.totals()
        assert total.refunded + total.pending <= total.captured + total.allowance
        assert total.captured <= total.authorised
        if not self.ledger.overrides:
            assert total.refunded + total.pending <= total.captured


TestPaymentLedgerMachine = PaymentLedgerMachine.TestCase
TestPaymentLedgerMachine.__doc__ = "The payment ledger's cap holds under any sequence."
TestPaymentLedgerMachine.settings = settings(max_examples=40, stateful_step_count=25)
