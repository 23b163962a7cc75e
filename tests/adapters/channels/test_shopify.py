"""Shopify's own sample payloads, read by the reference adapter."""

from __future__ import annotations

import copy
import json
from decimal import Decimal
from pathlib import Path
from typing import Any, Final

import pendulum
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from orderkit.adapters.channels.shopify import ShopifyPayloads
from orderkit.adapters.memory import MemoryUnitOfWork
from orderkit.dedupe import Fingerprinter, IdempotencyKey
from orderkit.errors import (
    CurrencyMismatch,
    EmptyOrder,
    StructureError,
    UnknownStatus,
    ValidationError,
)
from orderkit.integrations import (
    ChannelOrder,
    ChannelRefund,
    ChannelTransaction,
    RefundLine,
    TransactionKind,
    load_json,
)
from orderkit.money import Money
from orderkit.orders import (
    Applied,
    Cancelled,
    OrderStatus,
    PaymentCaptured,
    Recorded,
    ShipmentLine,
    Shipped,
    Stale,
    Unchanged,
    apply_all,
)
from orderkit.ports import ChannelPayloads
from orderkit.pricing import (
    AmountOff,
    PricingPolicy,
    TotalsPolicy,
)
from orderkit.services import Accepted, AlreadyAccepted, DeskPolicy, Ledger, OrderDesk
from orderkit.testing import FrozenClock
from orderkit.testing.contracts import ChannelContract, Sample
from orderkit.testing.strategies import check_channel_order


FIXTURES = Path(__file__).resolve().parents[2] / "fixtures/channels/shopify"
ORDER = FIXTURES / "order-3-line-items-discount-shipping.json"
REFUND = FIXTURES / "refund-2-line-items-restock.json"
TRANSACTIONS = FIXTURES / "transactions-list.json"
ORDERS_PAGE = FIXTURES / "orders-list-presentment-money-nonascii.json"


def usd(amount: str) -> Money:
    return Money(amount, "USD")


def payload(path: Path) -> Any:
    return load_json(path.read_bytes())


def fulfilled() -> Any:
    """The fixture order, paid, its one fulfilment a success with UPS."""
    # Plain json: the only JSON number the adapter does not read is a tax rate.
    body = json.loads(ORDER.read_text(encoding="utf-8"))
    body["order"]["financial_status"] = "paid"
    body["order"]["fulfillment_status"] = "partial"
    parcel = body["order"]["fulfillments"][0]
    parcel["status"] = "success"
    parcel["tracking_company"] = "UPS"
    return body


def order(changed: dict[str, Any] | None = None) -> ChannelOrder:
    """The fixture order, with some of its fields changed."""
    body = payload(ORDER)
    body["order"].update(changed or {})
    [record] = ShopifyPayloads().parse(body, topic="orders/updated")
    assert isinstance(record, ChannelOrder)
    return record


class TestShopifyContract(ChannelContract):
    """ShopifyPayloads follows the channel contract on every Shopify fixture."""

    def make_channel(self) -> ChannelPayloads:
        return ShopifyPayloads(currency="USD")

    def samples(self) -> list[Sample]:
        one = payload(TRANSACTIONS)[0]
        return [
            *(
                Sample.from_file(ORDER, topic, stated_total_differs=True)
                for topic in ("orders/create", "orders/paid")
            ),
            Sample.from_file(REFUND, "refunds/create"),
            Sample.from_file(TRANSACTIONS, "transactions/list"),
            Sample(
                "one-transaction",
                "order_transactions/create",
                json.dumps(one),
            ),
            Sample(
                "fulfilled-with-ups",
                "orders/fulfilled",
                json.dumps(fulfilled()),
                stated_total_differs=True,
            ),
            # Shopify's own page fixture has no line_items: not an order.
            Sample.from_file(ORDERS_PAGE, "orders/list", StructureError),
        ]

    def with_status(self, payload: Any, topic: str, status: str) -> Any | None:
        if topic.startswith("orders/") and topic != "orders/list":
            payload["order"]["financial_status"] = status
            return payload
        if topic == "transactions/list":
            payload[0]["status"] = status
            return payload
        return None


class TestFulfilments:
    """A fulfilment Shopify says succeeded, with a carrier, is a shipment."""

    def test_picking_and_the_parcel(self) -> None:
        [record] = ShopifyPayloads().parse(fulfilled(), topic="orders/fulfilled")
        assert isinstance(record, ChannelOrder)
        kinds = [type(event).__name__ for event in record.events]
        assert kinds == ["PaymentCaptured", "PickingStarted", "Shipped"]
        shipped = record.events[-1]
        assert isinstance(shipped, Shipped)
        assert (shipped.shipment_id, shipped.carrier, shipped.tracking_number) == (
            "255858046",
            "UPS",
            "1Z2345",
        )
        assert shipped.lines == (ShipmentLine("466157049", 1),)
        assert shipped.occurred_at == pendulum.datetime(2014, 1, 22, 20, 58, 27)
        assert record.status is OrderStatus.PARTIALLY_SHIPPED

    @pytest.mark.parametrize(
        "change",
        [{"status": "failure"}, {"tracking_company": None}, {"tracking_number": ""}],
    )
    def test_no_shipment_without_success_and_acknowledgement(
        self, change: dict[str, Any]
    ) -> None:
        body = fulfilled()
        body["order"]["fulfillments"][0].update(change)
        [record] = ShopifyPayloads().parse(body, topic="orders/fulfilled")
        assert isinstance(record, ChannelOrder)
        assert [type(e).__name__ for e in record.events] == ["PaymentCaptured"]

    def test_a_refused_parcel_names_the_fulfilment(self) -> None:
        body = fulfilled()
        body["order"]["fulfillments"][0]["line_items"] = []

        # Shipped refuses it at `lines`; the error keeps its class.
        with pytest.raises(EmptyOrder) as caught:
            ShopifyPayloads().parse(body, topic="orders/fulfilled")

        assert "order.fulfillments[0]" == caught.value.field
        assert str(caught.value).startswith("order.fulfillments[0]: ")
        assert isinstance(caught.value.__cause__, EmptyOrder)
        assert "lines" == caught.value.__cause__.field


class TestOrder:
    """The order fixture: #1001, three iPods, authorised and not yet shipped."""

    def test_ids_and_times(self) -> None:
        record = order()

        assert ("450789469", "shopify") == (record.order_id, record.channel)
        assert pendulum.datetime(2008, 1, 10, 16) == record.placed.occurred_at
        assert pendulum.datetime(2008, 1, 10, 16) == record.updated_at

    def test_lines(self) -> None:
        lines = order().placed.lines

        assert [
            ("466157049", "IPOD2008GREEN", 1, usd("199.00"), "IPod Nano - 8gb - green"),
            ("518995019", "IPOD2008RED", 1, usd("199.00"), "IPod Nano - 8gb - red"),
            ("703073504", "IPOD2008BLACK", 1, usd("199.00"), "IPod Nano - 8gb - black"),
        ] == [(x.line_id, x.sku, x.quantity, x.unit_price, x.title) for x in lines]

    def test_money(self) -> None:
        quote = order().quote

        assert (AmountOff("TENOFF", usd("10.00")),) == quote.offers
        assert (usd("0.00"), usd("11.94"), usd("409.94")) == (
            quote.shipping,
            quote.tax,
            quote.stated_total,
        )
        assert not quote.taxes_included

    def test_a_shipping_code_comes_off_shipping_not_the_goods(self) -> None:
        quote = order(
            {
                "discount_codes": [
                    {"code": "TENOFF", "amount": "10.00", "type": "fixed_amount"},
                    {"code": "FREESHIP", "amount": "12.00", "type": "shipping"},
                ],
                "shipping_lines": [
                    {"code": "Standard", "price": "8.00", "title": "Standard"},
                    {"code": "Express", "price": "6.00", "title": "Express"},
                ],
            }
        ).quote

        assert (AmountOff("TENOFF", usd("10.00")),) == quote.offers
        assert usd("2.00") == quote.shipping  # 8.00 + 6.00 - 12.00

    def test_a_shipping_code_above_the_shipping_leaves_it_free(self) -> None:
        quote = order(
            {
                "discount_codes": [
                    {"code": "FREESHIP", "amount": "10.00", "type": "shipping"}
                ],
                "shipping_lines": [{"code": "Std", "price": "6.00", "title": "Std"}],
            }
        ).quote

        assert () == quote.offers
        assert usd("0.00") == quote.shipping

    def test_buyer_and_address(self) -> None:
        placed = order().placed

        assert ("207119551", "Bob Norman", "bob.norman@hostmail.com") == (
            placed.buyer.buyer_id,
            placed.buyer.name,
            placed.buyer.email,
        )
        address = placed.address
        assert ("US", "Kentucky", "Louisville", "Chestnut Street 92", "40202") == (
            address.country,
            address.province,
            address.city,
            address.street,
            address.postcode,
        )
        # 555 numbers are issued to no one: kept as sent, for people to read.
        assert "555-625-1199" == address.phone == placed.buyer.phone

    def test_authorised_is_not_paid(self) -> None:
        record = order()

        assert OrderStatus.PENDING_PAYMENT == record.status
        assert "authorized/unfulfilled" == record.channel_status
        assert () == record.events

    def test_key_is_the_version(self) -> None:
        assert (
            IdempotencyKey(
                "shopify", "order.placed", "450789469", "2008-01-10T16:00:00+00:00"
            )
            == order().placed.key
        )

    def test_the_webhook_body_is_the_bare_order(self) -> None:
        bare = payload(ORDER)["order"]

        [record] = ShopifyPayloads().parse(bare, topic="orders/create")

        assert order() == record

    def test_an_error_names_the_payload_path(self) -> None:
        body = payload(ORDER)
        body["order"]["line_items"][2]["price"] = "199.001"

        with pytest.raises(ValidationError) as caught:
            ShopifyPayloads().parse(body, topic="orders/create")

        assert "order.line_items[2].price" == caught.value.field

    def test_no_line_items_names_the_payload_path(self) -> None:
        body = payload(ORDER)
        body["order"]["line_items"] = []

        with pytest.raises(EmptyOrder) as caught:
            ShopifyPayloads().parse(body, topic="orders/create")

        assert "order.line_items" == caught.value.field

    def test_a_repeated_line_id_names_its_path_in_the_page(self) -> None:
        first = payload(ORDER)["order"]
        second = copy.deepcopy(first)
        second["id"] = 2
        second["line_items"][2]["id"] = second["line_items"][0]["id"]

        with pytest.raises(ValidationError) as caught:
            ShopifyPayloads().parse({"orders": [first, second]}, topic="orders/list")

        assert "orders[1].line_items[2].id" == caught.value.field

    def test_a_refusal_of_the_canonical_order_names_the_order(self) -> None:
        # A guest's buyer id is made of the e-mail; the tab in it is refused
        # by Buyer (at `buyer_id`), reported at the order.
        body = payload(ORDER)
        body["order"].update(customer=None, email="a\tb@example.com")

        with pytest.raises(ValidationError) as caught:
            ShopifyPayloads().parse(body, topic="orders/create")

        assert "order" == caught.value.field
        assert isinstance(caught.value.__cause__, ValidationError)
        assert "buyer_id" == caught.value.__cause__.field


class TestStatus:
    """The documented table: financial, fulfilment, cancelled and closed."""

    @pytest.mark.parametrize(
        ("financial", "fulfilment", "expected"),
        [
            ("pending", None, OrderStatus.PENDING_PAYMENT),
            ("partially_paid", None, OrderStatus.PENDING_PAYMENT),
            ("paid", None, OrderStatus.PAID),
            ("refunded", None, OrderStatus.PAID),
            ("paid", "partial", OrderStatus.PARTIALLY_SHIPPED),
            ("paid", "fulfilled", OrderStatus.SHIPPED),
        ],
    )
    def test_table(self, financial: str, fulfilment: str | None, expected: str) -> None:
        changed = {"financial_status": financial, "fulfillment_status": fulfilment}

        assert expected == order(changed).status

    def test_paid_captures_the_total(self) -> None:
        record = order({"financial_status": "paid"})

        [event] = record.events
        assert isinstance(event, PaymentCaptured)
        assert (usd("409.94"), "order-450789469") == (event.amount, event.payment_id)
        assert (
            IdempotencyKey(
                "shopify", "order.paid", "450789469", "2008-01-10T16:00:00+00:00"
            )
            == event.key
        )

    def test_paid_again_after_an_edit_is_the_same_capture(self) -> None:
        first = order({"financial_status": "paid"})
        edited = order(
            {"financial_status": "paid", "updated_at": "2008-01-11T09:00:00Z"}
        )

        assert first.events == edited.events
        assert first.placed.key != edited.placed.key

    def test_cancelled_wins(self) -> None:
        record = order(
            {
                "financial_status": "voided",
                "cancelled_at": "2008-01-10T12:30:00-05:00",
                "cancel_reason": "customer",
            }
        )

        [event] = record.events
        assert OrderStatus.CANCELLED == record.status
        assert isinstance(event, Cancelled)
        assert "cancelled in Shopify: customer" == event.reason
        assert pendulum.datetime(2008, 1, 10, 17, 30) == event.occurred_at

    def test_a_cancel_reason_with_a_line_break_names_its_path(self) -> None:
        body = payload(ORDER)
        body["order"].update(
            cancelled_at="2008-01-10T12:30:00-05:00", cancel_reason="other\nx"
        )

        with pytest.raises(ValidationError) as caught:
            ShopifyPayloads().parse(body, topic="orders/cancelled")

        assert "order.cancel_reason" == caught.value.field

    def test_archived_fulfilled_and_paid_is_completed(self) -> None:
        changed = {
            "financial_status": "paid",
            "fulfillment_status": "fulfilled",
            "closed_at": "2008-02-01T10:00:00-05:00",
        }

        assert OrderStatus.COMPLETED == order(changed).status

    @pytest.mark.parametrize(
        ("changed", "path"),
        [
            ({"financial_status": "voided"}, "order.financial_status"),
            ({"fulfillment_status": "restocked"}, "order.fulfillment_status"),
            ({"financial_status": "expired"}, "order.financial_status"),
        ],
    )
    def test_no_honest_mapping_is_reported(
        self, changed: dict[str, Any], path: str
    ) -> None:
        with pytest.raises(UnknownStatus) as caught:
            order(changed)

        assert path == caught.value.field


class TestRefund:
    """The refund fixture: two iPods back on the shelf, 209.00 returned."""

    def test_refund(self) -> None:
        [refund] = ShopifyPayloads().parse(payload(REFUND), topic="refunds/create")

        assert isinstance(refund, ChannelRefund)
        assert ("509562969", "450789469", usd("209.00")) == (
            refund.refund_id,
            refund.order_id,
            refund.amount,
        )
        assert (
            RefundLine("703073504", 1, restock=True),
            RefundLine("466157049", 1, restock=True),
        ) == refund.lines
        assert pendulum.datetime(2016, 6, 20, 17, 35, 6) == refund.created_at
        assert "it broke during shipping" == refund.reason
        assert refund.payment_id is None
        assert (
            IdempotencyKey("shopify", "refund", "450789469", "509562969") == refund.key
        )

    def test_the_parent_transaction_is_the_payment(self) -> None:
        body = payload(REFUND)
        body["refund"]["transactions"][0]["parent_id"] = 389404469

        [refund] = ShopifyPayloads().parse(body, topic="refunds/create")

        assert isinstance(refund, ChannelRefund)
        assert "389404469" == refund.payment_id

    def test_per_line_restock_type_wins(self) -> None:
        body = payload(REFUND)
        body["refund"]["refund_line_items"][0]["restock_type"] = "no_restock"

        [refund] = ShopifyPayloads().parse(body, topic="refunds/create")

        assert isinstance(refund, ChannelRefund)
        assert [False, True] == [line.restock for line in refund.lines]

    def test_a_refund_that_moved_no_money_states_nothing(self) -> None:
        body = payload(REFUND)
        body["refund"]["transactions"][0]["status"] = "failure"

        assert () == ShopifyPayloads().parse(body, topic="refunds/create")


class TestTransactions:
    """The transactions fixture: the 409.94 authorisation, dated before the order."""

    def test_authorisation(self) -> None:
        channel = ShopifyPayloads(currency="USD")

        [transaction] = channel.parse(payload(TRANSACTIONS), topic="transactions/list")

        assert isinstance(transaction, ChannelTransaction)
        assert (
            "389404469",
            "450789469",
            TransactionKind.AUTHORISATION,
            usd("409.94"),
            True,
            None,
        ) == (
            transaction.transaction_id,
            transaction.order_id,
            transaction.kind,
            transaction.amount,
            transaction.succeeded,
            transaction.parent_id,
        )
        assert pendulum.datetime(2005, 8, 1, 15, 57, 11) == transaction.created_at
        assert (
            IdempotencyKey("shopify", "transaction", "450789469", "389404469/success")
            == transaction.key
        )

    def test_no_currency_anywhere_is_refused(self) -> None:
        with pytest.raises(ValidationError) as caught:
            ShopifyPayloads().parse(payload(TRANSACTIONS), topic="transactions/list")

        assert "[0].currency" == caught.value.field

    @pytest.mark.parametrize(
        ("kind", "expected"),
        [
            ("capture", TransactionKind.CAPTURE),
            ("sale", TransactionKind.SALE),
            ("refund", TransactionKind.REFUND),
            ("void", TransactionKind.VOID),
        ],
    )
    def test_kinds(self, kind: str, expected: TransactionKind) -> None:
        body = copy.deepcopy(payload(TRANSACTIONS))
        body[0].update(kind=kind, currency="USD")

        [transaction] = ShopifyPayloads().parse(body, topic="transactions/list")

        assert isinstance(transaction, ChannelTransaction)
        assert expected == transaction.kind

    def test_cash_change_is_not_a_payment(self) -> None:
        body = payload(TRANSACTIONS)
        body[0].update(kind="change", currency="USD")

        with pytest.raises(UnknownStatus, match=r"\[0\]\.kind"):
            ShopifyPayloads().parse(body, topic="transactions/list")


class TestOrdersPage:
    """Shopify's orders page fixture has no line items: refused, naming where."""

    def test_refused(self) -> None:
        with pytest.raises(StructureError) as caught:
            ShopifyPayloads().parse(payload(ORDERS_PAGE), topic="orders/list")

        assert "orders[0].line_items" == caught.value.field


def _refund(amount: str, status: str = "success", **changed: object) -> Any:
    """One refund of the fixture order, as Shopify embeds it in the order."""
    transaction = {
        "id": 179259969,
        "order_id": 450789469,
        "kind": "refund",
        "status": status,
        "amount": amount,
        "currency": "USD",
        "created_at": "2008-01-11T10:00:00-05:00",
        "parent_id": 389404469,
        **changed,
    }
    return {"id": 509562969, "order_id": 450789469, "transactions": [transaction]}


def _cancelled(financial: str, refunds: list[Any]) -> dict[str, Any]:
    """The fixture order cancelled (Shopify's "Cancel order"), nothing shipped."""
    return {
        "financial_status": financial,
        "cancelled_at": "2008-01-11T11:00:00-05:00",
        "cancel_reason": "customer",
        "fulfillments": [],
        "refunds": refunds,
    }


def _taken_in(record: ChannelOrder) -> tuple[Accepted, list[str]]:
    """`record` accepted by an in-memory desk, and the refunds it owes."""
    taken, _, unit = _desk_with(record)
    return taken, _owed(unit)


def _desk_with(record: ChannelOrder) -> tuple[Accepted, OrderDesk, MemoryUnitOfWork]:
    """An in-memory desk stocked for `record`, which it has accepted."""
    clock = FrozenClock(pendulum.datetime(2026, 11, 11))
    unit = MemoryUnitOfWork()
    with unit as uow:
        for line in record.placed.lines:
            Ledger(uow.ledger, clock).receive(line.sku, "W1", 10)
        uow.commit()
    # The fixture's stated total is not its lines': take Shopify's.
    pricing = PricingPolicy(totals=TotalsPolicy.ACCEPT_CHANNEL)
    policy = DeskPolicy(locations=["W1"], pricing=pricing)
    desk = OrderDesk(unit, clock, policy, Fingerprinter(b"a-secret-of-16-bytes"))
    taken = desk.accept(record)
    assert isinstance(taken, Accepted)
    return taken, desk, unit


def _owed(unit: MemoryUnitOfWork) -> list[str]:
    """The amounts of the refund messages waiting in the outbox."""
    with unit as uow:
        messages = uow.outbox.unsent()
    return [json.loads(m.payload)["amount"] for m in messages if m.topic == "refund"]


class TestRefundedAlready:
    """The capture is the whole total; none when all went back before shipping."""

    def test_cancelled_and_refunded_in_full_owes_nothing(self) -> None:
        record = order(_cancelled("refunded", [_refund("409.94")]))

        assert [Cancelled] == [type(event) for event in record.events]
        taken, owed = _taken_in(record)
        assert OrderStatus.CANCELLED == taken.order.status
        assert [] == owed

    def test_refunded_owes_nothing_even_without_its_refunds(self) -> None:
        # financial_status "refunded" says all of it went back.
        record = order(_cancelled("refunded", []))

        assert [Cancelled] == [type(event) for event in record.events]

    def test_partly_refunded_states_the_whole_capture(self) -> None:
        # What was refunded comes off through the payment ledger, whichever
        # notice the desk saw first: the capture is the same either way.
        record = order(
            {"financial_status": "partially_refunded", "refunds": [_refund("100.00")]}
        )

        [paid] = record.events
        assert isinstance(paid, PaymentCaptured)
        assert usd("409.94") == paid.amount

    def test_a_refund_recorded_in_the_ledger_is_owed_back_once(self) -> None:
        """The host records Shopify's refunds before the cancellation, as told."""
        record = order(
            {"financial_status": "partially_refunded", "refunds": [_refund("100.00")]}
        )
        taken, desk, unit = _desk_with(record)
        # Taken in with its refund in the payment ledger.
        ledger = taken.order.payment_ledger
        assert ledger is not None
        assert usd("100.00") == ledger.refunded

        cancelled = order(_cancelled("partially_refunded", [_refund("100.00")]))
        assert isinstance(desk.accept(cancelled), AlreadyAccepted)
        for refund in cancelled.refunds:
            recorded = desk.record_refund("shopify", "450789469", refund)
            assert isinstance(recorded, Unchanged)
        for event in cancelled.events:
            desk.record("shopify", "450789469", event)

        assert ["309.94"] == _owed(unit)

    def test_paid_then_refunded_in_full_and_cancelled_owes_nothing(self) -> None:
        record = order({"financial_status": "paid"})
        _, desk, unit = _desk_with(record)
        later = order(_cancelled("refunded", [_refund("409.94")]))

        # No capture stated (Shopify holds none of it), but its refunds are.
        assert [Cancelled] == [type(event) for event in later.events]
        assert [usd("409.94")] == [refund.amount for refund in later.refunds]
        assert isinstance(desk.accept(later), AlreadyAccepted)
        for refund in later.refunds:
            desk.record_refund("shopify", "450789469", refund)
        for event in later.events:
            desk.record("shopify", "450789469", event)

        assert [] == _owed(unit)

    def test_refunded_in_full_and_not_cancelled_is_not_paid_to_ship(self) -> None:
        record = order({"financial_status": "refunded", "refunds": [_refund("409.94")]})

        assert () == record.events
        taken, owed = _taken_in(record)
        # Never picked; status_drift reports it, close_unpaid closes it.
        assert OrderStatus.PENDING_PAYMENT == taken.order.status
        assert () == taken.order.payments
        assert [] == owed

    def test_refunded_in_full_after_shipping_keeps_its_capture(self) -> None:
        body = fulfilled()
        body["order"].update(
            financial_status="refunded", fulfillment_status="fulfilled"
        )
        [record] = ShopifyPayloads().parse(body, topic="orders/updated")
        assert isinstance(record, ChannelOrder)

        paid = [e for e in record.events if isinstance(e, PaymentCaptured)]
        assert [usd("409.94")] == [e.amount for e in paid]

    def test_the_order_states_its_refunds(self) -> None:
        record = order(
            {"financial_status": "partially_refunded", "refunds": [_refund("100.00")]}
        )

        [refund] = record.refunds
        assert ("509562969", usd("100.00"), "389404469") == (
            refund.refund_id,
            refund.amount,
            refund.payment_id,
        )
        # The same key as the refunds/create webhook's: one refund.
        assert (
            IdempotencyKey("shopify", "refund", "450789469", "509562969") == refund.key
        )
        # The refund lists no time of its own: its money went back then.
        assert pendulum.datetime(2008, 1, 11, 15) == refund.created_at

    def test_a_cancelled_partly_refunded_order_owes_only_the_rest(self) -> None:
        record = order(_cancelled("partially_refunded", [_refund("100.00")]))

        taken, desk, unit = _desk_with(record)

        assert OrderStatus.CANCELLED == taken.order.status
        assert ["309.94"] == _owed(unit)
        # The refunds/create webhook of the same refund is recorded once.
        body = payload(REFUND)
        body["refund"]["transactions"][0].update(amount="100.00", parent_id=389404469)
        [webhook] = ShopifyPayloads().parse(body, topic="refunds/create")
        assert isinstance(webhook, ChannelRefund)
        # Changed on purpose: the order's copy here lists no units, the
        # webhook's does, and they are given to the refund; its money is not
        # recorded again, and a second delivery changes nothing.
        assert isinstance(desk.record_refund("shopify", "450789469", webhook), Recorded)
        assert isinstance(
            desk.record_refund("shopify", "450789469", webhook), Unchanged
        )
        assert ["309.94"] == _owed(unit)
        with unit as uow:
            stored = uow.orders.get("shopify", "450789469")
        assert stored is not None
        ledger = stored.payment_ledger
        assert ledger is not None
        assert [("509562969", Money("100.00", "USD"), webhook.lines)] == [
            (r.refund_id, r.amount, r.lines) for r in ledger.refunds
        ]

    def test_a_refund_after_intake_comes_off_the_cancellation(self) -> None:
        record = order({"financial_status": "paid"})
        _, desk, unit = _desk_with(record)
        body = payload(REFUND)
        body["refund"]["transactions"][0].update(amount="100.00", parent_id=389404469)
        [webhook] = ShopifyPayloads().parse(body, topic="refunds/create")
        assert isinstance(webhook, ChannelRefund)

        desk.record_refund("shopify", "450789469", webhook)
        cancelled = order(_cancelled("partially_refunded", [_refund("100.00")]))
        for event in cancelled.events:
            desk.record("shopify", "450789469", event)

        assert ["309.94"] == _owed(unit)

    def test_refunded_in_full_and_not_cancelled_states_only_its_refunds(
        self,
    ) -> None:
        record = order({"financial_status": "refunded", "refunds": [_refund("409.94")]})

        # For an order the desk holds paid; a new one has nothing to refund.
        assert [usd("409.94")] == [refund.amount for refund in record.refunds]
        assert () == record.events
        taken, owed = _taken_in(record)
        assert (OrderStatus.PENDING_PAYMENT, None) == (
            taken.order.status,
            taken.order.payment_ledger,
        )
        assert [] == owed

    def test_partially_refunded_without_its_refunds_is_read(self) -> None:
        [paid] = order({"financial_status": "partially_refunded"}).events
        assert isinstance(paid, PaymentCaptured)
        assert usd("409.94") == paid.amount


def _bag(shop: str, presentment: str) -> dict[str, Any]:
    """A Shopify money bag: dollars in the shop, euros for the buyer."""
    return {
        "shop_money": {"amount": shop, "currency_code": "USD"},
        "presentment_money": {"amount": presentment, "currency_code": "EUR"},
    }


def _red_ipod_returned() -> dict[str, Any]:
    """The fixture's red iPod as a refund line, in both currencies (0.90 EUR/USD)."""
    return {
        "id": 104689539,
        "quantity": 1,
        "line_item_id": 518995019,
        "location_id": 40642626,
        "restock_type": "cancel",
        "subtotal": Decimal("199.00"),
        "total_tax": Decimal("3.98"),
        "subtotal_set": _bag("199.00", "179.10"),
        "total_tax_set": _bag("3.98", "3.58"),
    }


def _adjustment(kind: str, shop: str, presentment: str) -> dict[str, Any]:
    """An order adjustment of a refund; Shopify writes money sent back negative."""
    return {
        "id": 1030976842,
        "order_id": 450789469,
        "refund_id": 509562969,
        "amount": shop,
        "tax_amount": "0.00",
        "kind": kind,
        "reason": kind.replace("_", " ").capitalize(),
        "amount_set": _bag(shop, presentment),
        "tax_amount_set": _bag("0.00", "0.00"),
    }


def _in_euros(
    amount: str,
    lines: list[dict[str, Any]] | None = None,
    adjustments: list[dict[str, Any]] | None = None,
) -> Any:
    """A refund of the fixture order paid back in euros, parts in both currencies."""
    refund = _refund(amount, currency="EUR")
    refund.update(
        refund_line_items=lines or [],
        order_adjustments=adjustments or [],
        duties=[],
        refund_shipping_lines=[],
    )
    return refund


# 90.00 EUR sent back with no line: Shopify states it as a refund discrepancy.
_NINETY_EUROS: Final = _adjustment("refund_discrepancy", "-100.00", "-90.00")


def _partly_refunded_in_euros(refunds: list[Any]) -> ChannelOrder:
    return order(
        {
            "financial_status": "partially_refunded",
            "presentment_currency": "EUR",
            "refunds": refunds,
        }
    )


def _webhook(refund: Any) -> Any:
    """`refund` as the refunds/create webhook sends it: with its own time."""
    return {"refund": {**refund, "created_at": "2008-01-11T10:00:00-05:00"}}


class TestPresentmentCurrency:
    """A multi-currency shop pays refunds back in the buyer's currency."""

    def test_a_refund_in_euros_is_read_in_the_shops_dollars(self) -> None:
        record = _partly_refunded_in_euros(
            [_in_euros("182.68", lines=[_red_ipod_returned()])]
        )

        [refund] = record.refunds
        # 199.00 + 3.98 in the shop's money: what the EUR 182.68 was worth
        # at the rate the order was priced at.
        assert (usd("202.98"), "389404469") == (refund.amount, refund.payment_id)
        assert (RefundLine("518995019", 1, restock=True),) == refund.lines
        assert (
            IdempotencyKey("shopify", "refund", "450789469", "509562969") == refund.key
        )

    def test_a_shipping_refund_comes_with_it(self) -> None:
        shipping = _adjustment("shipping_refund", "-10.00", "-9.00")

        record = _partly_refunded_in_euros(
            [_in_euros("191.68", [_red_ipod_returned()], [shipping])]
        )

        assert [usd("212.98")] == [refund.amount for refund in record.refunds]

    def test_a_refund_of_an_amount_alone_is_read_from_its_adjustment(self) -> None:
        record = _partly_refunded_in_euros(
            [_in_euros("90.00", adjustments=[_NINETY_EUROS])]
        )

        assert [usd("100.00")] == [refund.amount for refund in record.refunds]

    def test_less_than_the_lines_worth_keeps_the_rest_back(self) -> None:
        # The line's 182.68 less a positive discrepancy: 150.00 went back.
        kept = _adjustment("refund_discrepancy", "36.31", "32.68")

        record = _partly_refunded_in_euros(
            [_in_euros("150.00", [_red_ipod_returned()], [kept])]
        )

        assert [usd("166.67")] == [refund.amount for refund in record.refunds]

    def test_shipping_lines_count_where_no_adjustment_says_shipping(self) -> None:
        # Since API 2024-10 the webhook states shipping refunds this way only.
        refund = _in_euros("191.68", lines=[_red_ipod_returned()])
        refund["refund_shipping_lines"] = [
            {
                "id": 623176827,
                "shipping_line_id": 369256396,
                "subtotal_amount_set": _bag("10.00", "9.00"),
            }
        ]
        both = copy.deepcopy(refund)
        both["order_adjustments"] = [_adjustment("shipping_refund", "-10.00", "-9.00")]

        # The REST API states both: the same shipping, counted once.
        record = _partly_refunded_in_euros([refund])
        assert [usd("212.98")] == [r.amount for r in record.refunds]
        record = _partly_refunded_in_euros([both])
        assert [usd("212.98")] == [r.amount for r in record.refunds]

    def test_duties_and_exact_json_numbers_are_read(self) -> None:
        refund = _in_euros("200.68", lines=[_red_ipod_returned()])
        duty = _bag("20.00", "18.00")
        duty["shop_money"]["amount"] = Decimal(20)
        duty["presentment_money"]["amount"] = Decimal("18.0")
        refund["duties"] = [{"duty_id": 1, "amount_set": duty}]

        record = _partly_refunded_in_euros([refund])

        assert [usd("222.98")] == [r.amount for r in record.refunds]

    def test_refunds_in_both_currencies_are_both_stated(self) -> None:
        in_dollars = {**_refund("5.00"), "id": 509562970}

        record = _partly_refunded_in_euros(
            [_in_euros("90.00", adjustments=[_NINETY_EUROS]), in_dollars]
        )

        assert [usd("100.00"), usd("5.00")] == [r.amount for r in record.refunds]

    @pytest.mark.parametrize(
        ("amount", "how"),
        [
            pytest.param("185.00", "no-parts-add-up", id="parts-short-of-the-money"),
            pytest.param("90.00", "no-parts", id="no-parts-at-all"),
        ],
    )
    def test_a_refund_that_cannot_be_read_exactly_is_refused(
        self, amount: str, how: str
    ) -> None:
        lines = [_red_ipod_returned()] if how == "no-parts-add-up" else None
        body = payload(ORDER)
        body["order"].update(
            financial_status="partially_refunded",
            presentment_currency="EUR",
            refunds=[_in_euros(amount, lines=lines)],
        )

        with pytest.raises(CurrencyMismatch) as caught:
            ShopifyPayloads().parse(body, topic="orders/updated")

        error = caught.value
        assert ("order.refunds[0].transactions[0].currency", "EUR", "USD") == (
            error.field,
            error.value,
            error.expected,
        )
        assert "OrderDesk.record_refund" in error.problem
        assert "in USD" in error.problem

    def test_a_missing_part_is_named(self) -> None:
        line = _red_ipod_returned()
        del line["total_tax_set"]

        with pytest.raises(CurrencyMismatch) as caught:
            _partly_refunded_in_euros([_in_euros("182.68", lines=[line])])

        assert "order.refunds[0].refund_line_items[0].total_tax_set" == (
            caught.value.field
        )
        assert "OrderDesk.record_refund" in caught.value.problem

    def test_a_part_in_a_third_currency_is_named(self) -> None:
        line = _red_ipod_returned()
        line["subtotal_set"]["presentment_money"]["currency_code"] = "GBP"

        with pytest.raises(CurrencyMismatch) as caught:
            _partly_refunded_in_euros([_in_euros("182.68", lines=[line])])

        money_at = "order.refunds[0].refund_line_items[0].subtotal_set"
        assert (f"{money_at}.presentment_money.currency_code", "GBP") == (
            caught.value.field,
            caught.value.value,
        )

    def test_refund_transactions_in_two_currencies_are_refused(self) -> None:
        refund = _in_euros("90.00", adjustments=[_NINETY_EUROS])
        dollars = {**refund["transactions"][0], "id": 179259970, "currency": "USD"}
        refund["transactions"].append(dollars)

        with pytest.raises(CurrencyMismatch) as caught:
            _partly_refunded_in_euros([refund])

        assert ("order.refunds[0].transactions[1].currency", "USD", "EUR") == (
            caught.value.field,
            caught.value.value,
            caught.value.expected,
        )

    @given(
        lines=st.lists(
            st.tuples(st.integers(1, 10**4), st.integers(1, 10**4)),
            min_size=1,
            max_size=4,
        ),
        adjustments=st.lists(
            st.tuples(st.integers(-(10**4), 10**4), st.integers(-(10**4), 10**4)),
            max_size=3,
        ),
        off=st.integers(-100, 100),
    )
    def test_read_only_when_the_parts_add_up_to_the_money(
        self,
        lines: list[tuple[int, int]],
        adjustments: list[tuple[int, int]],
        off: int,
    ) -> None:
        def cents(value: int) -> str:
            return str(Decimal(value).scaleb(-2))

        parts = [
            {**_red_ipod_returned(), "subtotal_set": _bag(cents(s), cents(p))}
            for s, p in lines
        ]
        for part in parts:
            part["total_tax_set"] = _bag("0.00", "0.00")
        shop = sum(s for s, _ in lines) - sum(s for s, _ in adjustments)
        sent = sum(p for _, p in lines) - sum(p for _, p in adjustments)
        # Within the 409.94 captured: the order refuses more.
        assume(0 < shop <= 40994 and sent + off > 0)
        refund = _in_euros(
            cents(sent + off),
            parts,
            [
                _adjustment("refund_discrepancy", cents(s), cents(p))
                for s, p in adjustments
            ],
        )

        if off:
            with pytest.raises(CurrencyMismatch, match=r"OrderDesk\.record_refund"):
                _partly_refunded_in_euros([refund])
        else:
            [read] = _partly_refunded_in_euros([refund]).refunds
            assert Money(cents(shop), "USD") == read.amount

    def test_the_refund_webhook_is_read_the_same(self) -> None:
        body = _webhook(_in_euros("182.68", lines=[_red_ipod_returned()]))

        # With or without the shop's currency: the parts state it.
        for channel in (ShopifyPayloads(), ShopifyPayloads(currency="USD")):
            [refund] = channel.parse(copy.deepcopy(body), topic="refunds/create")
            assert isinstance(refund, ChannelRefund)
            assert usd("202.98") == refund.amount

    def test_a_refund_webhook_that_cannot_be_read_exactly_is_refused(self) -> None:
        body = _webhook(_refund("90.00", currency="EUR"))

        with pytest.raises(CurrencyMismatch) as caught:
            ShopifyPayloads(currency="USD").parse(body, topic="refunds/create")

        assert ("refund.transactions[0].currency", "EUR") == (
            caught.value.field,
            caught.value.value,
        )

    def test_a_cancelled_order_refunded_in_euros_owes_only_the_rest(self) -> None:
        refund = _in_euros("90.00", adjustments=[_NINETY_EUROS])
        cancelled = order(
            dict(_cancelled("partially_refunded", [refund]), presentment_currency="EUR")
        )

        taken, desk, unit = _desk_with(cancelled)

        assert OrderStatus.CANCELLED == taken.order.status
        assert ["309.94"] == _owed(unit)
        # The refunds/create webhook of the same refund is recorded once.
        [webhook] = ShopifyPayloads().parse(_webhook(refund), topic="refunds/create")
        assert isinstance(webhook, ChannelRefund)
        assert isinstance(
            desk.record_refund("shopify", "450789469", webhook), Unchanged
        )
        assert ["309.94"] == _owed(unit)

    def test_partly_refunded_in_euros_then_cancelled_owes_only_the_rest(
        self,
    ) -> None:
        # The money review's case: 90 EUR (100 USD) went back, then Shopify
        # cancels the order.
        refund = _in_euros("90.00", adjustments=[_NINETY_EUROS])
        taken, desk, unit = _desk_with(_partly_refunded_in_euros([refund]))
        ledger = taken.order.payment_ledger
        assert ledger is not None
        assert usd("100.00") == ledger.refunded

        cancelled = order(
            dict(_cancelled("partially_refunded", [refund]), presentment_currency="EUR")
        )
        assert isinstance(desk.accept(cancelled), AlreadyAccepted)
        desk.update(cancelled)

        assert ["309.94"] == _owed(unit)


def _tax_included_line() -> dict[str, Any]:
    """The red iPod refunded by a shop whose prices hold their tax (20% VAT).

    Its `subtotal` is the price paid, tax in it; `total_tax` is that tax.
    """
    return {
        **_red_ipod_returned(),
        "subtotal": Decimal("199.00"),
        "total_tax": Decimal("33.17"),
        "subtotal_set": _bag("199.00", "179.10"),
        "total_tax_set": _bag("33.17", "29.85"),
    }


def _taxed(adjustment: dict[str, Any], shop: str, presentment: str) -> dict[str, Any]:
    """`adjustment` with a tax of its own."""
    return {**adjustment, "tax_amount": shop, "tax_amount_set": _bag(shop, presentment)}


def _stuck() -> Any:
    """The money review's refund: 185.00 EUR, of which its parts list 182.68."""
    return _in_euros("185.00", lines=[_red_ipod_returned()])


def _cancelled_in_euros(refund: Any) -> Any:
    """The fixture order cancelled after `refund` went back in euros."""
    body = payload(ORDER)
    body["order"].update(
        _cancelled("partially_refunded", [refund]), presentment_currency="EUR"
    )
    return body


# What the host recorded by hand for _stuck(), from Shopify's payout report.
_RECORDED: Final = {"509562969": Money("205.56", "USD")}


class TestPresentmentTaxAndFees:
    """Prices with their tax in them, refunded fees, shipping with its tax."""

    def test_a_refund_whose_prices_hold_their_tax_is_read_exactly(self) -> None:
        # Most EU shops: the 179.10 EUR paid back is the line's subtotal,
        # its 29.85 EUR of tax in it, not on top of it.
        refund = _in_euros("179.10", lines=[_tax_included_line()])
        record = order(
            {
                "financial_status": "partially_refunded",
                "presentment_currency": "EUR",
                "taxes_included": True,
                "refunds": [refund],
            }
        )

        assert [usd("199.00")] == [r.amount for r in record.refunds]
        # The webhook does not carry the order's taxes_included: the same.
        [webhook] = ShopifyPayloads().parse(_webhook(refund), topic="refunds/create")
        assert isinstance(webhook, ChannelRefund)
        assert usd("199.00") == webhook.amount

    def test_refunded_additional_fees_are_read(self) -> None:
        refund = _stuck()
        # The 2.32 EUR its lines do not list: a fee, refunded with them.
        refund["additional_fees"] = [{"id": 1040000001}]
        refund["total_additional_fees_set"] = _bag("2.58", "2.32")

        [read] = _partly_refunded_in_euros([refund]).refunds

        assert usd("205.56") == read.amount

    def test_fees_listed_without_their_total_are_named(self) -> None:
        refund = _stuck()
        refund["additional_fees"] = [{"id": 1040000001}]

        with pytest.raises(CurrencyMismatch) as caught:
            _partly_refunded_in_euros([refund])

        assert "order.refunds[0].total_additional_fees_set" == caught.value.field
        assert "refund_amounts['509562969']" in caught.value.problem

    @pytest.mark.parametrize(
        ("lines", "shipping", "sent", "expected"),
        [
            pytest.param(
                [_red_ipod_returned()],
                _taxed(
                    _adjustment("shipping_refund", "-10.00", "-9.00"), "-0.60", "-0.54"
                ),
                "192.22",
                "213.58",
                id="adjustment-tax-on-top",
            ),
            pytest.param(
                [_tax_included_line()],
                _taxed(
                    _adjustment("shipping_refund", "-10.00", "-9.00"), "-1.67", "-1.50"
                ),
                "188.10",
                "209.00",
                id="adjustment-tax-inside",
            ),
            pytest.param(
                [_tax_included_line()],
                {
                    "id": 623176827,
                    "shipping_line_id": 369256396,
                    "subtotal_amount_set": _bag("10.00", "9.00"),
                    "tax_amount_set": _bag("1.67", "1.50"),
                },
                "188.10",
                "209.00",
                id="shipping-line-tax-inside",
            ),
        ],
    )
    def test_refunded_shipping_is_read_with_its_tax_once(
        self,
        lines: list[dict[str, Any]],
        shipping: dict[str, Any],
        sent: str,
        expected: str,
    ) -> None:
        refund = _in_euros(sent, lines=lines)
        if "kind" in shipping:
            refund["order_adjustments"] = [shipping]
        else:
            refund["refund_shipping_lines"] = [shipping]

        [read] = _partly_refunded_in_euros([refund]).refunds

        assert usd(expected) == read.amount

    def test_two_readings_that_add_up_but_differ_are_refused(self) -> None:
        # A tax of 0.01 USD that is 0.00 EUR: added or included, the parts
        # add up to the 179.10 EUR sent back, and the shop's money differs.
        line = {**_red_ipod_returned(), "total_tax_set": _bag("0.01", "0.00")}
        line["subtotal_set"] = _bag("199.00", "179.10")

        with pytest.raises(CurrencyMismatch) as caught:
            _partly_refunded_in_euros([_in_euros("179.10", lines=[line])])

        assert "order.refunds[0].transactions[0].currency" == caught.value.field
        assert "199.00 USD and 199.01 USD" in caught.value.problem

    @given(
        lines=st.lists(
            st.tuples(
                st.integers(1, 5000),
                st.integers(1, 5000),
                st.integers(1, 1000),
                st.integers(1, 1000),
            ),
            min_size=1,
            max_size=4,
        ),
        included=st.booleans(),
    )
    def test_lines_are_read_with_their_tax_added_or_included(
        self, lines: list[tuple[int, int, int, int]], included: bool
    ) -> None:
        """Whichever way the shop prices, the refund is its lines' worth once."""

        def cents(value: int) -> str:
            return str(Decimal(value).scaleb(-2))

        parts = [
            {
                **_red_ipod_returned(),
                "subtotal_set": _bag(cents(s), cents(p)),
                "total_tax_set": _bag(cents(ts), cents(tp)),
            }
            for s, p, ts, tp in lines
        ]
        shop = sum(s + (0 if included else ts) for s, _, ts, _ in lines)
        sent = sum(p + (0 if included else tp) for _, p, _, tp in lines)

        [read] = _partly_refunded_in_euros([_in_euros(cents(sent), parts)]).refunds

        assert Money(cents(shop), "USD") == read.amount


class TestRefundAmounts:
    """A refund recorded by hand is read at its recorded amount."""

    def test_the_stuck_order_reads_once_its_refund_is_recorded(self) -> None:
        # Paid in dollars, then 185.00 EUR went back that the parts cannot
        # account for, then Shopify cancelled the order.
        taken, desk, unit = _desk_with(order({"financial_status": "paid"}))
        assert OrderStatus.PAID == taken.order.status
        with pytest.raises(CurrencyMismatch, match="refund_amounts") as caught:
            ShopifyPayloads().parse(_webhook(_stuck()), topic="refunds/create")
        assert "OrderDesk.record_refund in USD" in caught.value.problem
        # The host records it as the error says, from the payout report...
        by_hand = ChannelRefund(
            refund_id="509562969",
            order_id="450789469",
            key=IdempotencyKey("shopify", "refund", "450789469", "509562969"),
            amount=_RECORDED["509562969"],
            created_at=pendulum.datetime(2008, 1, 11, 15),
        )
        desk.record_refund("shopify", "450789469", by_hand)
        # ...and gives the adapter its amount: the cancellation now reads.
        shopify = ShopifyPayloads(refund_amounts=_RECORDED)
        [cancelled] = shopify.parse(
            _cancelled_in_euros(_stuck()), topic="orders/cancelled"
        )
        assert isinstance(cancelled, ChannelOrder)
        [refund] = cancelled.refunds
        assert (usd("205.56"), by_hand.key) == (refund.amount, refund.key)

        assert isinstance(desk.accept(cancelled), AlreadyAccepted)
        for refund in cancelled.refunds:
            # Changed on purpose: the units the order's copy names are given
            # to the refund recorded by hand; its money is not recorded again.
            assert isinstance(
                desk.record_refund("shopify", "450789469", refund), Recorded
            )
            assert isinstance(
                desk.record_refund("shopify", "450789469", refund), Unchanged
            )
        desk.update(cancelled)

        # 409.94 captured, 205.56 of it already back: only the rest is owed.
        assert ["204.38"] == _owed(unit)

    def test_a_recorded_amount_the_parts_contradict_is_refused(self) -> None:
        """A typing error loses to what Shopify states exactly, and a match reads."""
        refund = _webhook(_in_euros("182.68", lines=[_red_ipod_returned()]))
        refund_id = str(refund["refund"]["id"])
        typo = ShopifyPayloads(refund_amounts={refund_id: usd("2029.80")})
        with pytest.raises(ValidationError) as caught:
            typo.parse(refund, topic="refunds/create")
        assert caught.value.field == f"refund_amounts[{refund_id!r}]"
        assert "202.98 USD" in caught.value.problem
        same = ShopifyPayloads(refund_amounts={refund_id: usd("202.98")})
        [read] = same.parse(refund, topic="refunds/create")
        assert isinstance(read, ChannelRefund)
        assert usd("202.98") == read.amount

    def test_the_refund_webhook_reads_at_the_recorded_amount(self) -> None:
        for currency in (None, "USD"):
            shopify = ShopifyPayloads(currency=currency, refund_amounts=_RECORDED)
            [refund] = shopify.parse(_webhook(_stuck()), topic="refunds/create")
            assert isinstance(refund, ChannelRefund)
            assert usd("205.56") == refund.amount

    def test_an_id_is_taken_as_text(self) -> None:
        shopify = ShopifyPayloads(refund_amounts={509562969: usd("205.56")})  # type: ignore[dict-item]

        assert {"509562969": usd("205.56")} == dict(shopify.refund_amounts)

    @pytest.mark.parametrize(
        ("given", "kind", "field"),
        [
            pytest.param([], ValidationError, "refund_amounts", id="not-a-mapping"),
            pytest.param(
                {"509562969": "205.56"},
                ValidationError,
                "refund_amounts['509562969']",
                id="not-money",
            ),
            pytest.param(
                {"509562969": usd("0.00")},
                ValidationError,
                "refund_amounts['509562969']",
                id="zero",
            ),
            pytest.param(
                {"509562969": usd("-205.56")},
                ValidationError,
                "refund_amounts['509562969']",
                id="negative",
            ),
            pytest.param(
                {"509562969": Money("185.00", "EUR")},
                CurrencyMismatch,
                "refund_amounts['509562969']",
                id="not-the-shops-currency",
            ),
            pytest.param(
                {" ": usd("205.56")}, ValidationError, "refund_amounts[' ']", id="no-id"
            ),
            pytest.param(
                {"509562969": usd("205.56"), 509562969: usd("205.56")},
                ValidationError,
                "refund_amounts[509562969]",
                id="one-refund-twice",
            ),
        ],
    )
    def test_bad_refund_amounts_are_refused(
        self, given: Any, kind: type[ValidationError], field: str
    ) -> None:
        with pytest.raises(kind) as caught:
            ShopifyPayloads(currency="USD", refund_amounts=given)

        assert (type(caught.value), field) == (kind, caught.value.field)

    def test_an_amount_not_in_the_orders_currency_is_refused(self) -> None:
        # No shop currency given: the order's own is checked when read.
        shopify = ShopifyPayloads(refund_amounts={"509562969": Money("185", "EUR")})

        with pytest.raises(CurrencyMismatch) as caught:
            shopify.parse(_cancelled_in_euros(_stuck()), topic="orders/cancelled")

        assert ("refund_amounts['509562969']", "USD") == (
            caught.value.field,
            caught.value.expected,
        )

    def test_an_amount_shopify_states_otherwise_is_refused(self) -> None:
        # Paid back in dollars, Shopify's figure is exact: a typing error.
        shopify = ShopifyPayloads(refund_amounts={"509562969": usd("99.00")})
        body = payload(ORDER)
        body["order"].update(_cancelled("partially_refunded", [_refund("100.00")]))

        with pytest.raises(ValidationError) as caught:
            shopify.parse(body, topic="orders/cancelled")

        assert "refund_amounts['509562969']" == caught.value.field
        assert "100.00 USD" in caught.value.problem

    def test_the_same_amount_in_the_shops_currency_reads(self) -> None:
        shopify = ShopifyPayloads(refund_amounts={"509562969": usd("100.00")})
        body = payload(ORDER)
        body["order"].update(_cancelled("partially_refunded", [_refund("100.00")]))

        [record] = shopify.parse(body, topic="orders/cancelled")

        assert isinstance(record, ChannelOrder)
        assert [usd("100.00")] == [refund.amount for refund in record.refunds]


def _free(financial: str = "paid") -> dict[str, Any]:
    """The fixture order made free by a 100% code (Shopify states the money off)."""
    return {
        "financial_status": financial,
        "fulfillments": [],
        "discount_codes": [
            {"code": "FREE100", "amount": "597.00", "type": "percentage"}
        ],
        "total_tax": "0.00",
        "total_price": "0.00",
    }


class TestFreeOrders:
    """A free order Shopify says is paid states a capture of zero, and no other."""

    def test_a_free_paid_order_states_a_capture_of_zero(self) -> None:
        record = order(_free())

        [paid] = record.events
        assert isinstance(paid, PaymentCaptured)
        assert (usd("0.00"), "order-450789469") == (paid.amount, paid.payment_id)
        assert "order.paid" == paid.key.event_type
        assert OrderStatus.PAID == record.status
        taken, owed = _taken_in(record)
        assert (OrderStatus.PAID, ()) == (taken.order.status, taken.order.payments)
        assert [] == owed

    @pytest.mark.parametrize("financial", ["pending", "authorized"])
    def test_a_free_order_not_paid_states_no_capture(self, financial: str) -> None:
        record = order(_free(financial))

        assert () == record.events
        assert OrderStatus.PENDING_PAYMENT == record.status

    def test_a_free_order_cancelled_owes_nothing(self) -> None:
        record = order({**_free(), **_cancelled("paid", [])})

        assert [PaymentCaptured, Cancelled] == [type(e) for e in record.events]
        taken, owed = _taken_in(record)
        assert OrderStatus.CANCELLED == taken.order.status
        assert [] == owed


def _gift_card_first(**item: object) -> dict[str, Any]:
    """The fixture's first line item with some of its fields changed."""
    body = payload(ORDER)["order"]
    first = {**body["line_items"][0], **item}
    return {"line_items": [first, *body["line_items"][1:]]}


class TestUnstockedLines:
    """Gift cards, items that need no shipping and custom items hold no stock."""

    def test_the_fixture_lines_are_stocked(self) -> None:
        assert [True, True, True] == [line.stocked for line in order().placed.lines]

    @pytest.mark.parametrize(
        "item",
        [
            {"gift_card": True},
            {"requires_shipping": False},
            {"variant_id": None, "sku": ""},
        ],
    )
    def test_a_line_with_no_stock_behind_it(self, item: dict[str, Any]) -> None:
        lines = order(_gift_card_first(**item)).placed.lines

        assert [False, True, True] == [line.stocked for line in lines]

    def test_a_deleted_product_with_a_sku_stays_stocked(self) -> None:
        lines = order(_gift_card_first(variant_id=None)).placed.lines

        assert ("IPOD2008GREEN", True) == (lines[0].sku, lines[0].stocked)

    def test_a_custom_item_keeps_its_made_up_sku(self) -> None:
        lines = order(_gift_card_first(variant_id=None, sku=None)).placed.lines

        assert ("shopify-line-466157049", False) == (lines[0].sku, lines[0].stocked)

    def test_a_flag_that_is_not_a_boolean_is_named(self) -> None:
        with pytest.raises(ValidationError) as caught:
            order(_gift_card_first(gift_card="yes"))

        assert "order.line_items[0].gift_card" == caught.value.field

    def test_a_parcel_of_unstocked_lines_alone_waits_for_the_goods(self) -> None:
        # The shop posted the gift card first: the goods are still to pick.
        body = fulfilled()
        body["order"]["line_items"][0]["gift_card"] = True
        [record] = ShopifyPayloads().parse(body, topic="orders/fulfilled")

        assert isinstance(record, ChannelOrder)
        assert ["PaymentCaptured"] == [type(e).__name__ for e in record.events]
        taken, desk, _ = _desk_with(record)
        assert OrderStatus.PAID == taken.order.status
        assert [taken.order] == list(desk.picking_queue())
        check_channel_order(record)

    def test_a_gift_card_sent_after_the_goods_changes_nothing(self) -> None:
        record = self.goods_then_gift_card(gift_card=True)

        shipped = [e.shipment_id for e in record.events if isinstance(e, Shipped)]
        assert ["900001", "900002"] == shipped
        outcomes = apply_all(
            None, [record.placed, *record.events], now=pendulum.datetime(2026, 11, 11)
        ).outcomes
        assert [Applied] * 4 + [Stale] == [type(o) for o in outcomes]
        taken, desk, _ = _desk_with(record)
        assert OrderStatus.SHIPPED == taken.order.status == record.status
        assert ["900001"] == [s.shipment_id for s in taken.order.shipments]
        for event in record.events:
            assert () == desk.record("shopify", "450789469", event).rejected
        check_channel_order(record)

    def test_an_order_stored_before_its_gift_card_was_unstocked_ships(self) -> None:
        # Stored by a release that read every line stocked: the goods' parcel
        # left it partly shipped, waiting for the gift card's.
        stored = self.goods_then_gift_card(gift_card=None, with_gift_parcel=False)
        taken, desk, unit = _desk_with(stored)
        assert [True, True, True] == [line.stocked for line in taken.order.lines]
        assert OrderStatus.PARTIALLY_SHIPPED == taken.order.status

        now = self.goods_then_gift_card(gift_card=True)
        assert isinstance(desk.accept(now), AlreadyAccepted)
        for event in now.events:
            assert () == desk.record("shopify", "450789469", event).rejected
        with unit as uow:
            order = uow.orders.get("shopify", "450789469")
        assert order is not None
        assert OrderStatus.SHIPPED == order.status
        assert ["900001", "900002"] == [s.shipment_id for s in order.shipments]

    @staticmethod
    def goods_then_gift_card(
        *, gift_card: bool | None, with_gift_parcel: bool = True
    ) -> ChannelOrder:
        """The fixture paid, its goods sent, then its gift card on its own."""
        body = fulfilled()
        items = body["order"]["line_items"]
        if gift_card is not None:
            items[0]["gift_card"] = gift_card
        goods = {
            "id": 900001,
            "status": "success",
            "tracking_company": "UPS",
            "tracking_number": "1ZGOODS",
            "created_at": "2015-01-10T10:00:00Z",
            "line_items": [{"id": item["id"], "quantity": 1} for item in items[1:]],
        }
        gift = {
            **goods,
            "id": 900002,
            "tracking_number": "1ZGIFT",
            "created_at": "2015-01-11T10:00:00Z",
            "line_items": [{"id": items[0]["id"], "quantity": 1}],
        }
        body["order"]["fulfillments"] = [goods, gift] if with_gift_parcel else [goods]
        if with_gift_parcel:
            body["order"]["fulfillment_status"] = "fulfilled"
        [record] = ShopifyPayloads().parse(body, topic="orders/fulfilled")
        assert isinstance(record, ChannelOrder)
        return record

    def test_an_order_of_unstocked_lines_alone_ships_with_them(self) -> None:
        body = fulfilled()
        for item in body["order"]["line_items"]:
            item["gift_card"] = True
        [record] = ShopifyPayloads().parse(body, topic="orders/fulfilled")

        assert isinstance(record, ChannelOrder)
        assert ["PaymentCaptured", "PickingStarted", "Shipped"] == [
            type(e).__name__ for e in record.events
        ]

    def test_unstocked_lines_alone_in_two_parcels_ship_with_the_first(
        self,
    ) -> None:
        body = fulfilled()
        for item in body["order"]["line_items"]:
            item["gift_card"] = True
        first = body["order"]["fulfillments"][0]
        first["line_items"] = [{"id": first["line_items"][0]["id"], "quantity": 1}]
        later = {
            **first,
            "id": first["id"] + 1,
            "created_at": "2015-01-11T10:00:00Z",
            "line_items": [{"id": body["order"]["line_items"][1]["id"], "quantity": 1}],
        }
        body["order"]["fulfillments"].append(later)
        [record] = ShopifyPayloads().parse(body, topic="orders/fulfilled")

        assert isinstance(record, ChannelOrder)
        shipped = [e for e in record.events if isinstance(e, Shipped)]
        assert [str(first["id"]), str(later["id"])] == [e.shipment_id for e in shipped]
        outcomes = apply_all(
            None, [record.placed, *record.events], now=pendulum.datetime(2026, 11, 11)
        ).outcomes
        assert [Applied] * 4 + [Stale] == [type(o) for o in outcomes]
        taken, desk, _ = _desk_with(record)
        assert OrderStatus.SHIPPED == taken.order.status
        for event in record.events:
            assert () == desk.record("shopify", "450789469", event).rejected
        check_channel_order(record)

    def test_the_desk_holds_stock_for_the_stocked_lines_only(self) -> None:
        record = order(_gift_card_first(gift_card=True))
        taken, _, unit = _desk_with(record)

        gift, *goods = record.placed.lines
        with unit as uow:
            ledger = Ledger(uow.ledger, FrozenClock(pendulum.datetime(2026, 11, 11)))
            assert 10 == ledger.balance(gift.sku, "W1").available
            for line in goods:
                assert 10 - line.quantity == ledger.balance(line.sku, "W1").available
        assert OrderStatus.PENDING_PAYMENT == taken.order.status


class TestPartlyFulfilledWithUnstockedLines:
    """Shopify stays `partial` while a service waits: the goods have shipped."""

    def body(self, *, all_goods: bool) -> Any:
        body = fulfilled()
        items = body["order"]["line_items"]
        for item in items[1:]:
            item["requires_shipping"] = False  # services, fulfilled by hand
        if not all_goods:
            items[0]["quantity"] = 2  # the parcel carries one of them
        parcel = body["order"]["fulfillments"][0]
        parcel["line_items"] = [{"id": items[0]["id"], "quantity": 1}]
        return body

    def test_every_stocked_unit_sent_reads_as_shipped(self) -> None:
        [record] = ShopifyPayloads().parse(
            self.body(all_goods=True), topic="orders/fulfilled"
        )

        assert isinstance(record, ChannelOrder)
        assert OrderStatus.SHIPPED == record.status
        check_channel_order(record)

    def test_stocked_units_still_to_send_read_as_partly_shipped(self) -> None:
        [record] = ShopifyPayloads().parse(
            self.body(all_goods=False), topic="orders/fulfilled"
        )

        assert isinstance(record, ChannelOrder)
        assert OrderStatus.PARTIALLY_SHIPPED == record.status
