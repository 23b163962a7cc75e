"""capture_event: a capture transaction read as the payment the desk records.

Magento's orders state no capture; its invoices are the captures, read as
`ChannelTransaction`s. Unrecorded, a Magento order that came in paid waits
as unpaid and `close_unpaid` closes it, its stock freed and its money
forgotten. Fed through `capture_event` and `OrderDesk.record`, the invoice
pays it, once however often it is read, under the id a statement of the
invoices lists.
"""

from __future__ import annotations

import doctest
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pendulum
import pytest
from tests.services._samples import backend

import orderkit.integrations._captures as captures_module
from orderkit.adapters.channels import MagentoPayloads
from orderkit.dedupe import Fingerprinter, IdempotencyKey
from orderkit.errors import UnknownOrder, ValidationError
from orderkit.integrations import (
    ChannelOrder,
    ChannelTransaction,
    SettlementLine,
    TransactionKind,
    capture_event,
    load_json,
)
from orderkit.money import Money
from orderkit.orders import Applied, Duplicate, OrderStatus, PaymentCaptured
from orderkit.ports import UnitOfWork
from orderkit.services import (
    DeskPolicy,
    Ledger,
    OrderDesk,
    reconcile_payments,
    status_drift,
)
from orderkit.testing import FrozenClock


FIXTURES = Path(__file__).resolve().parents[1] / "fixtures/channels/magento"
ORDER = FIXTURES / "order-rest-v1-get-admin.json"
INVOICE = FIXTURES / "invoice-rest-v1-get.json"
AT = pendulum.datetime(2026, 11, 11, 13, 5)
NOW = pendulum.datetime(2026, 11, 11, 14, 0)
LOCATION = "NYC-1"


def usd(amount: str) -> Money:
    return Money(amount, "USD")


def transaction(
    kind: TransactionKind = TransactionKind.CAPTURE, *, succeeded: bool = True
) -> ChannelTransaction:
    return ChannelTransaction(
        transaction_id="tx-9",
        order_id="1001",
        key=IdempotencyKey("magento-eu", "sales_order_invoice_pay", "9", "000000009"),
        kind=kind,
        amount=usd("165.00"),
        succeeded=succeeded,
        created_at=AT,
        parent_id="auth-1" if kind is TransactionKind.CAPTURE else None,
    )


# ---------------------------------------------------------------------------
# The function


class TestCaptureEvent:
    @pytest.mark.parametrize("kind", [TransactionKind.CAPTURE, TransactionKind.SALE])
    def test_a_succeeded_capture_or_sale_is_the_payment(
        self, kind: TransactionKind
    ) -> None:
        paid = transaction(kind)
        event = capture_event(paid)
        assert event == PaymentCaptured(
            order_id="1001",
            key=paid.key,
            occurred_at=AT,
            payment_id="tx-9",
            amount=usd("165.00"),
        )
        # The channel reported it: the key's channel is its source.
        assert (event.source, event.actor) == ("magento-eu", "system")

    def test_the_key_is_the_transactions_own_on_every_read(self) -> None:
        first, again = capture_event(transaction()), capture_event(transaction())
        assert first is not None
        assert again is not None
        assert first.key == again.key == transaction().key

    @pytest.mark.parametrize(
        "kind",
        [TransactionKind.AUTHORISATION, TransactionKind.VOID, TransactionKind.REFUND],
    )
    @pytest.mark.parametrize("succeeded", [True, False])
    def test_no_other_kind_is_a_capture(
        self, kind: TransactionKind, succeeded: bool
    ) -> None:
        assert capture_event(transaction(kind, succeeded=succeeded)) is None

    @pytest.mark.parametrize("kind", [TransactionKind.CAPTURE, TransactionKind.SALE])
    def test_a_failed_capture_took_no_money(self, kind: TransactionKind) -> None:
        assert capture_event(transaction(kind, succeeded=False)) is None

    @pytest.mark.parametrize("value", [None, "tx-9", {"kind": "capture"}])
    def test_anything_but_a_transaction_is_refused(self, value: object) -> None:
        with pytest.raises(ValidationError) as refused:
            capture_event(value)  # type: ignore[arg-type]
        assert refused.value.field == "transaction"

    def test_the_docstring_example_runs(self) -> None:
        finder = doctest.DocTestFinder()
        runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS)
        (test,) = finder.find(
            capture_event, "capture_event", globs=vars(captures_module).copy()
        )
        assert test.examples
        runner.run(test)
        assert runner.summarize(verbose=False).failed == 0


class TestMagentoInvoices:
    def test_a_paid_invoice_is_its_orders_payment(self) -> None:
        (paid,) = MagentoPayloads("magento-eu").parse(invoice(), topic="V1/invoices")
        assert isinstance(paid, ChannelTransaction)
        event = capture_event(paid)
        assert event is not None
        assert (event.order_id, event.payment_id, event.amount) == (
            "3",
            "3",
            usd("165"),
        )
        assert event.key == IdempotencyKey(
            "magento-eu", "sales_order_invoice_pay", "3", "000000003"
        )
        assert event.occurred_at == paid.created_at

    def test_a_canceled_invoice_pays_nothing(self) -> None:
        (failed,) = MagentoPayloads().parse(invoice(state=3), topic="V1/invoices")
        assert isinstance(failed, ChannelTransaction)
        assert capture_event(failed) is None


# ---------------------------------------------------------------------------
# The trial's flow: a Magento order that comes in paid


def order_payload() -> Any:
    order = load_json(ORDER.read_bytes())
    order.update(
        state="processing",
        status="processing",
        total_paid=165,
        base_total_paid=165,
        created_at="2026-11-11 13:00:00",
        updated_at="2026-11-11 13:05:00",
    )
    return order


def invoice(**changed: object) -> Any:
    payload = load_json(INVOICE.read_bytes())
    payload.update(created_at="2026-11-11 13:05:00", **changed)
    return payload


def read_order() -> ChannelOrder:
    (record,) = MagentoPayloads().parse(order_payload(), topic="V1/orders")
    assert isinstance(record, ChannelOrder)
    return record


def read_invoice() -> PaymentCaptured:
    (record,) = MagentoPayloads().parse(invoice(), topic="V1/invoices")
    assert isinstance(record, ChannelTransaction)
    event = capture_event(record)
    assert event is not None
    return event


@pytest.fixture(params=["memory", "sqlite"])
def unit(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[UnitOfWork]:
    yield from backend(request.param, tmp_path / "backend.db")


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(NOW)


@pytest.fixture
def desk(unit: UnitOfWork, clock: FrozenClock) -> OrderDesk:
    with unit as uow:
        ledger = Ledger(uow.ledger, clock)
        for line in read_order().placed.lines:
            ledger.receive(line.sku, LOCATION, 5)
        uow.commit()
    policy = DeskPolicy(locations=[LOCATION])
    return OrderDesk(unit, clock, policy, Fingerprinter(b"a-secret-of-16-bytes"))


def held(unit: UnitOfWork, clock: FrozenClock) -> dict[str, tuple[int, int]]:
    """Each SKU's (reserved, allocated) units at the location."""
    with unit as uow:
        ledger = Ledger(uow.ledger, clock)
        balances = {
            line.sku: ledger.balance(line.sku, LOCATION)
            for line in read_order().placed.lines
        }
    return {sku: (b.reserved, b.allocated) for sku, b in balances.items()}


class TestMagentoOrderPaidByItsInvoice:
    def test_the_order_alone_awaits_payment(self, desk: OrderDesk) -> None:
        """Why the invoice must be fed: the order states no capture."""
        order = read_order()
        assert order.status is OrderStatus.PAID
        desk.accept(order)
        stored = desk.order("magento", "3")
        assert stored.status is OrderStatus.PENDING_PAYMENT
        (drift,) = status_drift([stored], [order])
        assert drift.theirs is OrderStatus.PAID

    def test_an_invoice_before_its_order_is_for_later(self, desk: OrderDesk) -> None:
        event = read_invoice()
        with pytest.raises(UnknownOrder):
            desk.record("magento", event.order_id, event)

    def test_its_invoice_pays_it_once_and_close_unpaid_passes_it(
        self, desk: OrderDesk, unit: UnitOfWork, clock: FrozenClock
    ) -> None:
        order = read_order()
        desk.accept(order)
        event = read_invoice()
        done = desk.record("magento", event.order_id, event)
        assert [type(o) for o in done.outcomes] == [Applied]
        paid = desk.order("magento", "3")
        assert paid.status is OrderStatus.PAID
        assert [(p.payment_id, p.amount) for p in paid.payments] == [("3", usd("165"))]
        assert not status_drift([paid], [order])
        stock = held(unit, clock)
        # Every stocked line's units are committed to the paid order.
        assert stock == {
            line.sku: (0, line.quantity if line.stocked else 0)
            for line in order.placed.lines
        }

        again = desk.record("magento", event.order_id, read_invoice())
        assert [type(o) for o in again.outcomes] == [Duplicate]
        assert desk.order("magento", "3") == paid

        clock.advance(days=3)
        assert desk.close_unpaid() == ()
        assert desk.order("magento", "3") == paid
        assert held(unit, clock) == stock

    def test_an_invoice_statement_reconciles_with_it(self, desk: OrderDesk) -> None:
        desk.accept(read_order())
        event = read_invoice()
        desk.record("magento", event.order_id, event)
        desk.record("magento", event.order_id, read_invoice())
        line = SettlementLine(
            transaction_id="3",
            kind=TransactionKind.CAPTURE,
            amount=usd("165.00"),
            fee=usd("0"),
            settled_at=pendulum.datetime(2026, 11, 12),
            order_id="3",
        )
        report = reconcile_payments([desk.order("magento", "3")], [line])
        assert report.ok, report.discrepancies
        assert (report.matched, report.expected, report.settled) == (1, 1, 1)

    def test_unfed_it_is_closed_unpaid(
        self, desk: OrderDesk, clock: FrozenClock
    ) -> None:
        """What the adapter's docstring warns of: the money is forgotten."""
        desk.accept(read_order())
        clock.advance(days=3)
        (closed,) = desk.close_unpaid()
        assert closed.order.status is OrderStatus.CLOSED
        assert closed.order.payments == ()
