"""A refund orderkit sent is known by the provider's id too, and reconciles by it.

`Refunds.send_due` asks the provider under the saga's key and records the
refund in the order's payment ledger under that key; a real provider's
statement (Stripe's `re_...`, a WeChat Pay refund id) lists it under the id
the provider gave it. The ledger keeps that id (`Refund.provider_id`), and
`reconcile_payments` matches a statement line by either id, counting the
refund once whichever it lists.
"""

from __future__ import annotations

from collections.abc import Sequence

import attrs
import pendulum
import pytest
from hypothesis import given
from hypothesis import strategies as st
from tests.services._refund_samples import (
    CH,
    ID,
    T0,
    PassingOn,
    case_key,
    case_refund_due,
    desk_over,
    paid_twice_then_cancelled,
    stored,
)
from tests.services._samples import cny

from orderkit.dedupe import IdempotencyKey
from orderkit.errors import IdempotencyConflict, ValidationError
from orderkit.integrations import (
    ChannelRefund,
    ChannelTransaction,
    SettlementLine,
    TransactionKind,
)
from orderkit.money import Money
from orderkit.orders import (
    Address,
    Buyer,
    Order,
    OrderLine,
    OrderStatus,
    Unchanged,
)
from orderkit.ports import UnitOfWork
from orderkit.pricing import PaymentLedger, RefundState
from orderkit.services import (
    DiscrepancyKind,
    Reconciliation,
    RefundDeclined,
    Refunded,
    Refunds,
    reconcile_payments,
)
from orderkit.testing import FrozenClock
from orderkit.testing.fakes import FakePayments


K = DiscrepancyKind


def settled(
    transaction_id: str, amount: Money, kind: TransactionKind
) -> SettlementLine:
    """A statement line as a provider lists it: by its own id, naming no order."""
    return SettlementLine(
        transaction_id=transaction_id,
        kind=kind,
        amount=amount,
        fee=Money.zero(amount.currency),
        settled_at=T0.add(days=8),
    )


def case_statement(*, refund_ids: Sequence[str]) -> list[SettlementLine]:
    """alipay-77's 576.00 captured; AS-1's 288.00 listed under each of `refund_ids`."""
    return [
        settled("alipay-77", cny("576.00"), TransactionKind.CAPTURE),
        *(settled(r, cny("288.00"), TransactionKind.REFUND) for r in refund_ids),
    ]


def problems(report: Reconciliation) -> list[tuple[str, str | None]]:
    return [(d.kind.value, d.transaction_id) for d in report.discrepancies]


def case_refunded(
    unit: UnitOfWork, clock: FrozenClock, payments: FakePayments
) -> Refunded:
    """DY-2001 paid 576.00 on alipay-77, shipped; AS-1's 288.00 sent back."""
    case_refund_due(unit, clock, payments)
    (outcome,) = Refunds(unit, clock, payments).send_due()
    assert isinstance(outcome, Refunded)
    return outcome


class TestTheChannelRestatingARefundTheDeskSent:
    """A channel whose payments are the provider names the refund by its id."""

    def restated(self, transaction_id: str, amount: str) -> ChannelRefund:
        return ChannelRefund(
            refund_id=transaction_id,
            order_id=ID,
            key=IdempotencyKey(CH, "refund.webhook", ID, transaction_id),
            amount=cny(amount),
            created_at=T0.add(days=8),
            payment_id="alipay-77",
        )

    def test_it_is_the_same_refund_and_changes_nothing(
        self, unit: UnitOfWork, clock: FrozenClock, payments: FakePayments
    ) -> None:
        outcome = case_refunded(unit, clock, payments)
        before = stored(unit)
        restated = self.restated(outcome.transaction.transaction_id, "288.00")

        result = desk_over(unit, clock).record_refund(CH, ID, restated)

        assert isinstance(result, Unchanged)
        assert before == stored(unit)

    def test_another_amount_under_its_id_is_a_conflict(
        self, unit: UnitOfWork, clock: FrozenClock, payments: FakePayments
    ) -> None:
        outcome = case_refunded(unit, clock, payments)
        before = stored(unit)
        restated = self.restated(outcome.transaction.transaction_id, "100.00")

        with pytest.raises(IdempotencyConflict):
            desk_over(unit, clock).record_refund(CH, ID, restated)
        assert before == stored(unit)


class TestACaseRefundSentBySendDue:
    """The provider's id for the refund is stored with the order."""

    def test_it_reconciles_clean_against_a_statement_under_the_providers_id(
        self, unit: UnitOfWork, clock: FrozenClock, payments: FakePayments
    ) -> None:
        outcome = case_refunded(unit, clock, payments)
        given_id = outcome.transaction.transaction_id
        assert given_id != case_key()
        statement = case_statement(refund_ids=[given_id])

        report = reconcile_payments([stored(unit)], statement)

        assert [] == problems(report)
        assert (2, 2) == (report.matched, report.expected)

    def test_the_ledger_keeps_both_ids_as_stored(
        self, unit: UnitOfWork, clock: FrozenClock, payments: FakePayments
    ) -> None:
        outcome = case_refunded(unit, clock, payments)
        ledger = stored(unit).payment_ledger
        assert ledger is not None
        refund = ledger.refund(case_key())
        assert refund.provider_id == outcome.transaction.transaction_id
        assert refund.state is RefundState.REFUNDED
        assert stored(unit).after_sales[0].refund_id == case_key()

    def test_the_fake_providers_own_statement_reconciles_clean(
        self, unit: UnitOfWork, clock: FrozenClock, payments: FakePayments
    ) -> None:
        outcome = case_refunded(unit, clock, payments)
        statement = payments.statement(clock.now().date())
        assert outcome.transaction.transaction_id in {
            line.transaction_id for line in statement
        }

        report = reconcile_payments([stored(unit)], statement)

        assert [] == problems(report)
        assert (2, 2) == (report.matched, report.expected)

    def test_a_statement_under_the_key_still_matches(
        self, unit: UnitOfWork, clock: FrozenClock, payments: FakePayments
    ) -> None:
        """A bill that lists the merchant's refund number (商户退款单号)."""
        case_refunded(unit, clock, payments)
        statement = case_statement(refund_ids=[case_key()])
        report = reconcile_payments([stored(unit)], statement)
        assert [] == problems(report)
        assert (2, 2) == (report.matched, report.expected)

    def test_listed_under_both_ids_it_is_one_refund_listed_twice(
        self, unit: UnitOfWork, clock: FrozenClock, payments: FakePayments
    ) -> None:
        outcome = case_refunded(unit, clock, payments)
        given_id = outcome.transaction.transaction_id
        statement = case_statement(refund_ids=[given_id, case_key()])

        report = reconcile_payments([stored(unit)], statement)

        assert [("duplicate_refund", case_key())] == problems(report)
        assert given_id in report.discrepancies[0].detail
        assert (2, 2) == (report.matched, report.expected)

    def test_missing_it_is_reported_once_naming_both_ids(
        self, unit: UnitOfWork, clock: FrozenClock, payments: FakePayments
    ) -> None:
        outcome = case_refunded(unit, clock, payments)
        statement = case_statement(refund_ids=[])

        report = reconcile_payments([stored(unit)], statement)

        assert [("missing_in_statement", case_key())] == problems(report)
        assert outcome.transaction.transaction_id in report.discrepancies[0].detail
        assert (1, 2) == (report.matched, report.expected)


class TestEndingAnOrderPaidTwice:
    """One refund per payment, each under its own provider id."""

    def test_each_part_keeps_its_own_providers_id_and_reconciles(
        self, unit: UnitOfWork, clock: FrozenClock, payments: FakePayments
    ) -> None:
        paid_twice_then_cancelled(unit, clock, payments)

        (outcome,) = Refunds(unit, clock, payments).send_due()

        assert isinstance(outcome, Refunded)
        ledger = stored(unit).payment_ledger
        assert ledger is not None
        given = {
            t.parent_id: t.transaction_id
            for t in payments.transactions
            if t.kind is TransactionKind.REFUND
        }
        assert given == {r.payment_id: r.provider_id for r in ledger.refunds}
        assert len(set(given.values())) == 2
        report = reconcile_payments([stored(unit)], payments.statement(T0.date()))
        assert [] == problems(report)
        assert (4, 4) == (report.matched, report.expected)

    def test_a_declined_part_keeps_its_id_and_is_named_when_paid_after_all(
        self, unit: UnitOfWork, clock: FrozenClock
    ) -> None:
        payments = FakePayments(clock, refunds_declined=["alipay-77"])
        paid_twice_then_cancelled(unit, clock, payments)

        (outcome,) = Refunds(unit, clock, payments).send_due()

        assert isinstance(outcome, RefundDeclined)
        declined = outcome.transaction.transaction_id
        ledger = stored(unit).payment_ledger
        assert ledger is not None
        (failed,) = [r for r in ledger.refunds if r.state is RefundState.FAILED]
        assert failed.provider_id == declined
        # The provider's bill says the refund it declined went out after all.
        statement = [
            *payments.statement(T0.date()),
            settled(declined, cny("300.00"), TransactionKind.REFUND),
        ]
        report = reconcile_payments([stored(unit)], statement)
        ((kind, tid),) = problems(report)
        assert (kind, tid) == ("missing_in_orders", declined)
        assert "failed" in report.discrepancies[0].detail


class Answering(PassingOn):
    """A provider whose refunds answer with the transaction id `answer` gives."""

    def __init__(self, inner: FakePayments, answer: dict[str, str]) -> None:
        super().__init__(inner)
        self.answer = answer

    def refund(
        self, payment_id: str, amount: Money, *, key: str, reason: str
    ) -> ChannelTransaction:
        sent = super().refund(payment_id, amount, key=key, reason=reason)
        return attrs.evolve(sent, transaction_id=self.answer.get(payment_id, key))


class TestAnIdThatNamesNoRefundAlone:
    """The money left whatever the provider called it: such an id is not kept."""

    @pytest.mark.parametrize(
        "answer",
        [
            pytest.param({}, id="the-key-itself"),
            pytest.param({"alipay-77": "alipay-77", "wx-2": "wx-2"}, id="payment-id"),
            pytest.param({"alipay-77": "RF-9", "wx-2": "RF-9"}, id="same-for-both"),
        ],
    )
    def test_it_is_dropped_and_the_refund_recorded_all_the_same(
        self,
        unit: UnitOfWork,
        clock: FrozenClock,
        payments: FakePayments,
        answer: dict[str, str],
    ) -> None:
        paid_twice_then_cancelled(unit, clock, payments)

        (outcome,) = Refunds(unit, clock, Answering(payments, answer)).send_due()

        assert isinstance(outcome, Refunded)
        order = stored(unit)
        assert order.saga is None
        assert order.review == ()
        ledger = order.payment_ledger
        assert ledger is not None
        assert ledger.refunded == cny("576.00")
        kept = [r.provider_id for r in ledger.refunds]
        # Two parts answered with one id: the first keeps it, the second not.
        assert kept == (["RF-9", None] if "RF-9" in answer.values() else [None, None])


# --------------------------------------------------------------------------
# The payment ledger


PAID_AT = pendulum.datetime(2026, 3, 1, 1)


def captured(order_id: str = "DY-1", payment_id: str = "WX-1") -> PaymentLedger:
    return (
        PaymentLedger(order_id, "CNY")
        .authorise(payment_id, cny("100.00"), PAID_AT)
        .capture(payment_id, cny("100.00"), PAID_AT)
    )


class TestTheLedger:
    """`request_refund(..., provider_id=)` keeps the provider's id, checked."""

    def test_it_is_kept_and_a_repeat_without_it_is_the_same_refund(self) -> None:
        ledger = captured().request_refund(
            "RF-1", "WX-1", cny("10.00"), "退货", PAID_AT, provider_id="re_3Nx1"
        )
        assert ledger.refund("RF-1").provider_id == "re_3Nx1"
        for again in (None, "re_3Nx1"):
            assert ledger is ledger.request_refund(
                "RF-1", "WX-1", cny("10.00"), "退货", PAID_AT, provider_id=again
            )
        settled = ledger.settle_refund("RF-1", PAID_AT)
        assert settled.refund("RF-1").provider_id == "re_3Nx1"

    def test_another_providers_id_for_the_same_refund_is_a_conflict(self) -> None:
        ledger = captured().request_refund(
            "RF-1", "WX-1", cny("10.00"), "退货", PAID_AT, provider_id="re_3Nx1"
        )
        with pytest.raises(IdempotencyConflict):
            ledger.request_refund(
                "RF-1", "WX-1", cny("10.00"), "退货", PAID_AT, provider_id="re_OTHER"
            )
        plain = captured().request_refund("RF-1", "WX-1", cny("10.00"), "退货", PAID_AT)
        with pytest.raises(IdempotencyConflict):
            plain.request_refund(
                "RF-1", "WX-1", cny("10.00"), "退货", PAID_AT, provider_id="re_3Nx1"
            )

    @pytest.mark.parametrize("given_id", ["RF-1", "re_3Nx1"])
    def test_an_id_another_refund_holds_is_refused(self, given_id: str) -> None:
        ledger = captured().request_refund(
            "RF-1", "WX-1", cny("10.00"), "退货", PAID_AT, provider_id="re_3Nx1"
        )
        with pytest.raises(ValidationError) as caught:
            ledger.request_refund(
                "RF-2", "WX-1", cny("5.00"), "差价", PAID_AT, provider_id=given_id
            )
        assert ("provider_id", given_id) == (caught.value.field, caught.value.value)
        assert len(ledger.refunds) == 1

    def test_a_stored_ledger_with_one_id_for_two_refunds_is_refused(self) -> None:
        ledger = captured()
        first = ledger.request_refund(
            "RF-1", "WX-1", cny("10.00"), "退货", PAID_AT, provider_id="re_3Nx1"
        ).refunds[0]
        second = attrs.evolve(first, refund_id="RF-2")
        with pytest.raises(ValidationError) as caught:
            attrs.evolve(ledger, refunds=[first, second])
        assert "refunds[1].provider_id" == caught.value.field

    @pytest.mark.parametrize("bad", ["", "  ", "re\n1", 7])
    def test_a_provider_id_must_be_printable_text(self, bad: object) -> None:
        with pytest.raises(ValidationError) as caught:
            captured().request_refund(
                "RF-1",
                "WX-1",
                cny("10.00"),
                "退货",
                PAID_AT,
                provider_id=bad,  # type: ignore[arg-type]
            )
        assert "provider_id" == caught.value.field

    def test_its_own_id_is_allowed(self) -> None:
        """A provider that answers with the merchant's refund number."""
        ledger = captured().request_refund(
            "RF-1", "WX-1", cny("10.00"), "退货", PAID_AT, provider_id="RF-1"
        )
        assert ledger.refund("RF-1").provider_id == "RF-1"
        refund = ledger.refund("RF-1")
        assert attrs.evolve(ledger, refunds=[refund]) == ledger


# --------------------------------------------------------------------------
# Reconciliation never counts a refund twice


def shop_order(order_id: str, ledger: PaymentLedger) -> Order:
    return Order(
        order_id=order_id,
        channel="douyin",
        buyer=Buyer(f"buyer-{order_id}"),
        address=Address("CN", "浙江省", "杭州市"),
        lines=[OrderLine("L1", "LONGJING-250G", 1, cny("100.00"))],
        placed_at=PAID_AT,
        status=OrderStatus.PAID,
        payments=(),
        payment_ledger=ledger,
    )


# How a statement lists a refund: under its own id, the provider's, or both.
OWN, PROVIDERS, BOTH = "own", "providers", "both"


@st.composite
def refunded_orders(draw: st.DrawFn) -> tuple[list[Order], list[str]]:
    """Orders each paid 100.00, with refunds, some known by a provider id.

    Provider ids are drawn from a small pool, so that one order's provider
    id is often another order's refund id or provider id (as two providers'
    counters would give): a refund's ids are its order's alone. Each order
    is paid on `WX-<order id>`. Returns the orders and, for each refund in
    order, how a statement lists it.
    """
    pool = st.sampled_from(["RF-0-1", "RF-1-2", "re_1", "re_2", "re_3"])
    orders, listings = [], []
    for n in range(draw(st.integers(1, 4))):
        oid = f"DY-{n}"
        ledger = captured(oid, f"WX-{oid}")
        for r in range(draw(st.integers(0, 3))):
            refund_id = f"RF-{n}-{r + 1}"
            provider_id = draw(st.none() | pool)
            taken = {x.provider_id for x in ledger.refunds}
            if provider_id in taken or str(provider_id).startswith(f"RF-{n}-"):
                provider_id = None
            ledger = ledger.request_refund(
                refund_id,
                f"WX-{oid}",
                cny("1.00"),
                "退货",
                PAID_AT,
                provider_id=provider_id,
            ).settle_refund(refund_id, PAID_AT)
            listings.append(
                OWN
                if provider_id is None
                else draw(st.sampled_from([OWN, PROVIDERS, BOTH]))
            )
        orders.append(shop_order(oid, ledger))
    return orders, listings


def refund_lines(orders: list[Order], listings: list[str]) -> list[SettlementLine]:
    lines = []
    refunds = [
        (o.order_id, r)
        for o in orders
        if o.payment_ledger is not None
        for r in o.payment_ledger.refunds
    ]
    for (order_id, refund), listing in zip(refunds, listings, strict=True):
        listed: dict[str, list[str | None]] = {
            OWN: [refund.refund_id],
            PROVIDERS: [refund.provider_id],
            BOTH: [refund.provider_id, refund.refund_id],
        }
        ids = listed[listing]
        lines += [
            attrs.evolve(
                settled(str(tid), refund.amount, TransactionKind.REFUND),
                order_id=order_id,
            )
            for tid in ids
        ]
    return lines


class TestNeverCountedTwice:
    """Each refund is matched once, under whichever of its ids it is listed."""

    @given(refunded_orders(), st.randoms(use_true_random=False))
    def test_every_refund_matches_once_and_a_second_listing_is_a_duplicate(
        self, drawn: tuple[list[Order], list[str]], rng: object
    ) -> None:
        orders, listings = drawn
        captures = [
            settled(f"WX-{o.order_id}", cny("100.00"), TransactionKind.CAPTURE)
            for o in orders
        ]
        statement = [*captures, *refund_lines(orders, listings)]
        rng.shuffle(statement)  # type: ignore[attr-defined]

        report = reconcile_payments(orders, statement)

        refunds = len(listings)
        twice = listings.count(BOTH)
        assert report.matched == report.expected == len(orders) + refunds
        assert [K.DUPLICATE_REFUND] * twice == [d.kind for d in report.discrepancies]
        assert report.matched + twice == report.settled == len(statement)

    @given(refunded_orders(), st.data())
    def test_a_refund_left_off_is_missed_once(
        self, drawn: tuple[list[Order], list[str]], data: st.DataObject
    ) -> None:
        orders, listings = drawn
        lines = refund_lines(orders, listings)
        refunds = [
            (o.order_id, r)
            for o in orders
            if o.payment_ledger is not None
            for r in o.payment_ledger.refunds
        ]
        if not refunds:
            return
        i = data.draw(st.integers(0, len(refunds) - 1))
        order_id, gone = refunds[i]
        ids = {gone.refund_id, gone.provider_id}
        kept = [
            line
            for line in lines
            if not (line.order_id == order_id and line.transaction_id in ids)
        ]

        report = reconcile_payments(orders, kept)

        missing = [
            (d.order_id, d.transaction_id)
            for d in report.of_kind(K.MISSING_IN_STATEMENT)
        ]
        # Every capture is missing (no capture lines here), and this refund.
        refund_missing = [m for m in missing if not str(m[1]).startswith("WX-")]
        assert [(order_id, gone.refund_id)] == refund_missing
        twice = [x for n, x in enumerate(listings) if n != i].count(BOTH)
        assert len(report.of_kind(K.DUPLICATE_REFUND)) == twice
        assert report.matched == len(refunds) - 1
