"""WooCommerce's documented REST v3 examples, read by the reference adapter."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pendulum
import pytest

from orderkit.adapters.channels.woocommerce import WooCommercePayloads
from orderkit.adapters.memory import MemoryUnitOfWork
from orderkit.dedupe import Fingerprinter, IdempotencyKey
from orderkit.errors import (
    ConfigurationError,
    EmptyOrder,
    InvalidMoney,
    InvalidQuantity,
    StructureError,
    UnknownStatus,
    ValidationError,
)
from orderkit.integrations import ChannelOrder, ChannelRefund, RefundLine, load_json
from orderkit.money import Money
from orderkit.orders import Cancelled, OrderStatus, PaymentCaptured, Unchanged
from orderkit.ports import ChannelPayloads
from orderkit.pricing import AmountOff, PricingPolicy, TotalsPolicy, validate
from orderkit.services import Accepted, AlreadyAccepted, DeskPolicy, Ledger, OrderDesk
from orderkit.testing import FrozenClock
from orderkit.testing.contracts import ChannelContract, Sample


FIXTURES = Path(__file__).resolve().parents[2] / "fixtures/channels/woocommerce"
ORDER = FIXTURES / "order-v3-retrieve-2-line-items-shipping-tax.json"
BATCH = FIXTURES / "orders-v3-batch-create-update-delete.json"
REFUNDS = FIXTURES / "refunds-v3-list.json"


def usd(amount: str) -> Money:
    return Money(amount, "USD")


def payload(path: Path) -> Any:
    return load_json(path.read_bytes())


def order(changed: dict[str, Any] | None = None) -> ChannelOrder:
    """Order 727 from the docs, with some of its fields changed."""
    body = payload(ORDER)
    body.update(changed or {})
    [record] = WooCommercePayloads().parse(body, topic="order.updated")
    assert isinstance(record, ChannelOrder)
    return record


def refunds(body: Any = None) -> list[ChannelRefund]:
    records = WooCommercePayloads(currency="USD").parse(
        payload(REFUNDS) if body is None else body, topic="orders/refunds"
    )
    assert all(isinstance(r, ChannelRefund) for r in records)
    return [r for r in records if isinstance(r, ChannelRefund)]


class TestWooCommerceContract(ChannelContract):
    """WooCommercePayloads follows the channel contract on every WooCommerce fixture."""

    def make_channel(self) -> ChannelPayloads:
        return WooCommercePayloads(currency="USD")

    def samples(self) -> list[Sample]:
        return [
            *(
                Sample.from_file(ORDER, topic)
                for topic in ("order.created", "order.updated", "orders/retrieve")
            ),
            # WooCommerce states no parcel: `completed` is ahead of the events.
            Sample.from_file(BATCH, "orders/batch", status_ahead_of_events=True),
            Sample.from_file(REFUNDS, "orders/refunds"),
        ]

    def with_status(self, payload: Any, topic: str, status: str) -> Any | None:
        if topic == "orders/batch":
            payload["update"][0]["status"] = status
            return payload
        if topic.startswith("order"):
            if topic == "orders/refunds":
                return None
            payload["status"] = status
            return payload
        return None


class TestOrder:
    """Order 727: two lines, flat-rate shipping, California tax, paid by transfer."""

    def test_ids_and_times(self) -> None:
        record = order()

        assert ("727", "woocommerce") == (record.order_id, record.channel)
        # date_created_gmt, read as UTC; date_created is the shop's local time.
        assert pendulum.datetime(2017, 3, 22, 19, 28, 2) == record.placed.occurred_at
        assert pendulum.datetime(2017, 3, 22, 19, 28, 8) == record.updated_at

    def test_lines(self) -> None:
        lines = order().placed.lines

        assert [
            ("315", "woocommerce-product-93", 2, usd("3.00"), "Woo Single #1"),
            (
                "316",
                "Bar3",
                1,
                usd("12.00"),
                "Ship Your Idea \N{EN DASH} Color: Black, Size: M Test",
            ),
        ] == [(x.line_id, x.sku, x.quantity, x.unit_price, x.title) for x in lines]

    def test_money_adds_up(self) -> None:
        quote = order().quote

        assert (usd("10.00"), usd("1.35"), usd("29.35")) == (
            quote.shipping,
            quote.tax,
            quote.stated_total,
        )
        result = validate(quote, PricingPolicy(totals=TotalsPolicy.REJECT))
        assert result.ok
        assert usd("29.35") == result.accepted_total

    def test_guest_buyer_and_address(self) -> None:
        placed = order().placed

        assert ("guest:john.doe@example.com", "John Doe") == (
            placed.buyer.buyer_id,
            placed.buyer.name,
        )
        assert ("US", "CA", "San Francisco", "969 Market", "94103", "John Doe") == (
            placed.address.country,
            placed.address.province,
            placed.address.city,
            placed.address.street,
            placed.address.postcode,
            placed.address.recipient,
        )

    def test_processing_is_paid(self) -> None:
        record = order()

        [event] = record.events
        assert (OrderStatus.PAID, "processing") == (
            record.status,
            record.channel_status,
        )
        assert isinstance(event, PaymentCaptured)
        assert (usd("29.35"), "order-727") == (event.amount, event.payment_id)
        assert pendulum.datetime(2017, 3, 22, 19, 28, 8) == event.occurred_at
        assert (
            IdempotencyKey(
                "woocommerce", "order.paid", "727", "2017-03-22T19:28:08+00:00"
            )
            == event.key
        )

    def test_the_gateway_transaction_id_is_the_payment(self) -> None:
        [event] = order({"transaction_id": "ch_3Ox2"}).events

        assert isinstance(event, PaymentCaptured)
        assert "ch_3Ox2" == event.payment_id

    def test_a_transaction_id_with_a_line_break_names_its_path(self) -> None:
        with pytest.raises(ValidationError) as caught:
            order({"transaction_id": "ch_1\n2"})

        assert "transaction_id" == caught.value.field

    def test_no_line_items_names_the_path(self) -> None:
        with pytest.raises(EmptyOrder) as caught:
            order({"line_items": []})

        assert "line_items" == caught.value.field

    def test_a_refusal_of_the_canonical_order_names_the_order(self) -> None:
        # A guest's buyer id is made of the e-mail; the tab in it is refused
        # by Buyer (at `buyer_id`), reported at the order: the whole payload.
        body = payload(ORDER)
        body["customer_id"] = 0
        body["billing"]["email"] = "a\tb@example.com"

        with pytest.raises(ValidationError) as caught:
            WooCommercePayloads().parse(body, topic="order.created")

        assert "payload" == caught.value.field
        assert isinstance(caught.value.__cause__, ValidationError)
        assert "buyer_id" == caught.value.__cause__.field

    def test_key_is_the_version(self) -> None:
        assert (
            IdempotencyKey(
                "woocommerce", "order.placed", "727", "2017-03-22T19:28:08+00:00"
            )
            == order().placed.key
        )

    def test_a_coupon_is_an_order_offer(self) -> None:
        coupon = {"id": 330, "code": "spring10", "discount": "3.00"}

        quote = order({"coupon_lines": [coupon], "total": "26.35"}).quote

        assert (AmountOff("spring10", usd("3.00")),) == quote.offers
        assert validate(quote, PricingPolicy(totals=TotalsPolicy.REJECT)).ok

    def test_four_decimal_strings_are_exact(self) -> None:
        body = payload(ORDER)
        body["line_items"][0]["subtotal"] = "6.0000"

        [record] = WooCommercePayloads().parse(body, topic="order.created")

        assert isinstance(record, ChannelOrder)
        assert usd("3.00") == record.placed.lines[0].unit_price

    def test_a_subtotal_that_does_not_split_is_refused(self) -> None:
        body = payload(ORDER)
        body["line_items"][0]["subtotal"] = "6.01"

        with pytest.raises(InvalidMoney) as caught:
            WooCommercePayloads().parse(body, topic="order.created")

        assert "line_items[0].subtotal" == caught.value.field

    def test_a_naive_local_time_is_never_read(self) -> None:
        body = payload(ORDER)
        del body["date_created_gmt"]

        with pytest.raises(ValidationError) as caught:
            WooCommercePayloads().parse(body, topic="order.created")

        assert "date_created_gmt" == caught.value.field


class TestStatus:
    """The documented table; what has no honest canonical status is reported."""

    @pytest.mark.parametrize(
        ("status", "expected"),
        [
            ("pending", OrderStatus.PENDING_PAYMENT),
            ("on-hold", OrderStatus.PENDING_PAYMENT),
            ("failed", OrderStatus.PENDING_PAYMENT),
            ("processing", OrderStatus.PAID),
            ("completed", OrderStatus.COMPLETED),
            ("cancelled", OrderStatus.CANCELLED),
        ],
    )
    def test_table(self, status: str, expected: OrderStatus) -> None:
        assert expected == order({"status": status}).status

    def test_awaiting_payment_captures_nothing(self) -> None:
        assert () == order({"status": "on-hold"}).events

    def test_cancelled_after_payment(self) -> None:
        events = order({"status": "cancelled"}).events

        assert [PaymentCaptured, Cancelled] == [type(e) for e in events]
        assert pendulum.datetime(2017, 3, 22, 19, 28, 8) == events[1].occurred_at

    @pytest.mark.parametrize(
        "status", ["refunded", "trash", "checkout-draft", "shipped"]
    )
    def test_reported(self, status: str) -> None:
        with pytest.raises(UnknownStatus) as caught:
            order({"status": status})

        assert ("status", status) == (caught.value.field, caught.value.value)


class TestBatch:
    """The batch response: two created, one updated; the deleted one is skipped."""

    def test_orders(self) -> None:
        records = WooCommercePayloads().parse(payload(BATCH), topic="orders/batch")

        assert [
            ("728", OrderStatus.PENDING_PAYMENT, usd("62.25")),
            ("729", OrderStatus.PAID, usd("54.40")),
            ("727", OrderStatus.COMPLETED, usd("29.35")),
        ] == [
            (r.order_id, r.status, r.quote.stated_total)
            for r in records
            if isinstance(r, ChannelOrder)
        ]

    def test_a_variation_without_sku(self) -> None:
        [_, paid, _] = WooCommercePayloads().parse(payload(BATCH), topic="orders/batch")

        assert isinstance(paid, ChannelOrder)
        assert "woocommerce-variation-24" == paid.placed.lines[1].sku

    def test_a_failed_write_is_skipped(self) -> None:
        body = payload(BATCH)
        body["create"][0] = {"id": 0, "error": {"code": "woocommerce_rest_invalid"}}

        records = WooCommercePayloads().parse(body, topic="orders/batch")

        assert ["729", "727"] == [
            r.order_id for r in records if isinstance(r, ChannelOrder)
        ]

    def test_only_deletions_state_nothing(self) -> None:
        body = {"delete": payload(BATCH)["delete"]}

        with pytest.raises(StructureError):
            WooCommercePayloads().parse(body, topic="orders/batch")

    def test_an_error_names_the_path_inside_the_batch(self) -> None:
        body = payload(BATCH)
        body["update"][0]["line_items"][1]["quantity"] = "1e3"

        with pytest.raises(InvalidQuantity) as caught:
            WooCommercePayloads().parse(body, topic="orders/batch")

        assert "update[0].line_items[1].quantity" == caught.value.field

    def test_a_repeated_line_id_names_its_path_inside_the_batch(self) -> None:
        body = payload(BATCH)
        lines = body["create"][1]["line_items"]
        lines[1]["id"] = lines[0]["id"]

        with pytest.raises(ValidationError) as caught:
            WooCommercePayloads().parse(body, topic="orders/batch")

        assert "create[1].line_items[1].id" == caught.value.field


class TestRefunds:
    """Refunds 726 (money only) and 724 (one album) of order 723."""

    def test_refunds(self) -> None:
        money_only, album = refunds()

        assert [
            ("726", "723", usd("10.00"), ()),
            ("724", "723", usd("9.00"), (RefundLine("311", 1),)),
        ] == [(r.refund_id, r.order_id, r.amount, r.lines) for r in (money_only, album)]
        assert pendulum.datetime(2017, 3, 21, 20, 7, 11) == money_only.created_at
        assert IdempotencyKey("woocommerce", "refund", "723", "726") == money_only.key

    def test_the_currency_must_be_configured(self) -> None:
        with pytest.raises(ConfigurationError):
            WooCommercePayloads().parse(payload(REFUNDS), topic="orders/refunds")

    def test_a_positive_refund_quantity_is_refused(self) -> None:
        body = payload(REFUNDS)
        body[1]["line_items"][0]["quantity"] = 1

        with pytest.raises(InvalidQuantity) as caught:
            refunds(body)

        assert "[1].line_items[0].quantity" == caught.value.field

    @pytest.mark.parametrize(
        "href",
        [
            "https://example.com/wp-json/wc/v3/products/9",
            "http://[abc/wp-json/wc/v3/orders/723",  # not a URL at all
        ],
    )
    def test_the_order_comes_from_the_up_link(self, href: str) -> None:
        body = payload(REFUNDS)
        body[0]["_links"]["up"][0]["href"] = href

        with pytest.raises(ValidationError) as caught:
            refunds(body)

        assert "[0]._links.up[0].href" == caught.value.field


def _desk_with_stock(record: ChannelOrder) -> tuple[OrderDesk, MemoryUnitOfWork]:
    """An in-memory desk with ten of each of `record`'s SKUs at W1."""
    clock = FrozenClock(pendulum.datetime(2026, 11, 11))
    unit = MemoryUnitOfWork()
    with unit as uow:
        for line in record.placed.lines:
            Ledger(uow.ledger, clock).receive(line.sku, "W1", 10)
        uow.commit()
    secret = Fingerprinter(b"a-secret-of-16-bytes")
    return OrderDesk(unit, clock, DeskPolicy(locations=["W1"]), secret), unit


def _refunds_owed(unit: MemoryUnitOfWork) -> list[str]:
    """The amounts of the desk's `refund` messages."""
    with unit as uow:
        messages = uow.outbox.unsent()
    return [json.loads(m.payload)["amount"] for m in messages if m.topic == "refund"]


class TestStores:
    """Each store its own channel name: stores number their orders alike."""

    def test_the_default_channel_is_woocommerce(self) -> None:
        record = order()

        assert "woocommerce" == WooCommercePayloads().channel == record.channel
        assert "woocommerce" == record.placed.key.channel == record.quote.channel

    def test_two_stores_order_727_are_two_orders(self) -> None:
        body = payload(ORDER)
        # Another store's order 727: another buyer, another day.
        other = payload(ORDER)
        other["billing"].update(first_name="Li", last_name="Na", email="li@example.cn")
        other["shipping"].update(first_name="Li", last_name="Na", country="CN")
        other["date_created_gmt"] = "2017-03-25T08:00:00"
        [first] = WooCommercePayloads(channel="woo-us").parse(
            body, topic="order.created"
        )
        [second] = WooCommercePayloads(channel="woo-cn").parse(
            other, topic="order.created"
        )
        assert isinstance(first, ChannelOrder)
        assert isinstance(second, ChannelOrder)
        desk, _ = _desk_with_stock(first)

        assert isinstance(desk.accept(first), Accepted)
        taken = desk.accept(second)

        assert isinstance(taken, Accepted)
        assert ("woo-cn", "727") == (taken.order.channel, taken.order.order_id)

    def test_the_store_names_every_key(self) -> None:
        body = payload(ORDER)
        body["status"] = "cancelled"
        [record] = WooCommercePayloads(channel="woo-cn").parse(
            body, topic="order.updated"
        )
        [refund, *_] = WooCommercePayloads(currency="USD", channel="woo-cn").parse(
            payload(REFUNDS), topic="orders/refunds"
        )
        assert isinstance(record, ChannelOrder)
        assert isinstance(refund, ChannelRefund)

        keys = [record.placed.key, *(event.key for event in record.events), refund.key]
        assert {"woo-cn"} == {k.channel for k in keys}
        assert "woo-cn" == record.quote.channel

    @pytest.mark.parametrize("name", ["", "  ", "woo\ncn", 7, None])
    def test_a_channel_that_is_no_name_is_refused(self, name: object) -> None:
        with pytest.raises(ValidationError) as caught:
            WooCommercePayloads(channel=name)  # type: ignore[arg-type]

        assert ("channel", name) == (caught.value.field, caught.value.value)


class TestRefundedAlready:
    """The capture is the whole total; none for a cancelled order refunded in full."""

    def test_a_partly_refunded_order_states_the_whole_capture(self) -> None:
        # The refund comes off through the payment ledger (`orders/refunds`),
        # whichever notice the desk saw first: the capture is the same.
        record = order(
            {"status": "cancelled", "refunds": [{"id": 726, "total": "-10.00"}]}
        )
        paid, _ = record.events
        assert isinstance(paid, PaymentCaptured)
        assert usd("29.35") == paid.amount

    def test_a_cancelled_order_refunded_in_full_owes_nothing(self) -> None:
        record = order(
            {
                "status": "cancelled",
                "refunds": [
                    {"id": 726, "total": "-20.00"},
                    {"id": 728, "total": "-9.35"},
                ],
            }
        )

        assert [Cancelled] == [type(e) for e in record.events]
        desk, unit = _desk_with_stock(record)
        taken = desk.accept(record)
        assert isinstance(taken, Accepted)
        assert OrderStatus.CANCELLED == taken.order.status
        assert [] == _refunds_owed(unit)

    def test_a_completed_order_refunded_in_full_keeps_its_capture(self) -> None:
        # Its goods left: the desk never cancels it, so it owes nothing back.
        record = order(
            {"status": "completed", "refunds": [{"id": 726, "total": "-29.35"}]}
        )

        [paid] = record.events
        assert isinstance(paid, PaymentCaptured)
        assert usd("29.35") == paid.amount

    def test_a_refund_written_positive_is_refused(self) -> None:
        with pytest.raises(InvalidMoney) as caught:
            order({"refunds": [{"id": 726, "total": "10.00"}]})

        assert "refunds[0].total" == caught.value.field

    def test_the_order_states_its_refunds(self) -> None:
        record = order(
            {
                "status": "cancelled",
                "refunds": [
                    {"id": 726, "reason": "one short", "total": "-10.00"},
                    {"id": 724, "total": "-0.00"},
                ],
            }
        )

        # The refund that moved no money is left out.
        [refund] = record.refunds
        assert ("726", "727", usd("10.00"), None, "one short") == (
            refund.refund_id,
            refund.order_id,
            refund.amount,
            refund.payment_id,
            refund.reason,
        )
        assert IdempotencyKey("woocommerce", "refund", "727", "726") == refund.key
        assert record.updated_at == refund.created_at

    def test_a_cancelled_partly_refunded_order_owes_only_the_rest(self) -> None:
        record = order(
            {"status": "cancelled", "refunds": [{"id": 726, "total": "-10.00"}]}
        )
        desk, unit = _desk_with_stock(record)

        taken = desk.accept(record)

        assert isinstance(taken, Accepted)
        assert ["19.35"] == _refunds_owed(unit)
        # The refund list states the same refund: recorded once.
        body = payload(REFUNDS)[:1]
        body[0]["_links"]["up"][0]["href"] = (
            "https://example.com/wp-json/wc/v3/orders/727"
        )
        [listed] = refunds(body)
        again = desk.record_refund("woocommerce", "727", listed)
        assert isinstance(again, Unchanged)

    def test_an_order_refunded_in_full_and_cancelled_states_only_its_refunds(
        self,
    ) -> None:
        record = order(
            {"status": "cancelled", "refunds": [{"id": 726, "total": "-29.35"}]}
        )

        # No capture: the shop holds none of it. Its refunds are for an
        # order the desk holds paid; a new one has nothing to refund.
        assert [Cancelled] == [type(e) for e in record.events]
        assert [usd("29.35")] == [refund.amount for refund in record.refunds]
        desk, unit = _desk_with_stock(record)
        taken = desk.accept(record)
        assert isinstance(taken, Accepted)
        assert taken.order.payment_ledger is None
        assert [] == _refunds_owed(unit)

    def test_paid_then_cancelled_and_refunded_in_full_owes_nothing(self) -> None:
        first = order({})
        desk, unit = _desk_with_stock(first)
        assert isinstance(desk.accept(first), Accepted)
        later = order(
            {
                "status": "cancelled",
                "date_modified_gmt": "2017-03-25T10:00:00",
                "refunds": [
                    {"id": 726, "total": "-20.00"},
                    {"id": 728, "total": "-9.35"},
                ],
            }
        )

        assert isinstance(desk.accept(later), AlreadyAccepted)
        for refund in later.refunds:
            desk.record_refund("woocommerce", "727", refund)
        for event in later.events:
            desk.record("woocommerce", "727", event)

        assert [] == _refunds_owed(unit)

    def test_a_paid_order_taken_in_partly_refunded_owes_only_the_rest(self) -> None:
        first = order({"refunds": [{"id": 726, "total": "-10.00"}]})
        desk, unit = _desk_with_stock(first)
        taken = desk.accept(first)
        assert isinstance(taken, Accepted)
        assert OrderStatus.PAID == taken.order.status
        later = order(
            {
                "status": "cancelled",
                "date_modified_gmt": "2017-03-25T10:00:00",
                "refunds": [{"id": 726, "total": "-10.00"}],
            }
        )

        assert isinstance(desk.accept(later), AlreadyAccepted)
        for refund in later.refunds:
            assert isinstance(
                desk.record_refund("woocommerce", "727", refund), Unchanged
            )
        for event in later.events:
            desk.record("woocommerce", "727", event)

        assert ["19.35"] == _refunds_owed(unit)


def _free(status: str = "processing") -> ChannelOrder:
    """Order 727 made free by a 100% coupon, shipped free and untaxed."""
    body = payload(ORDER)
    body.update(
        status=status,
        coupon_lines=[{"id": 1, "code": "free100", "discount": "24.00"}],
        total_tax="0.00",
        total="0.00",
    )
    for shipping in body["shipping_lines"]:
        shipping["total"] = "0.00"
    [record] = WooCommercePayloads().parse(body, topic="order.updated")
    assert isinstance(record, ChannelOrder)
    return record


class TestFreeOrders:
    """A free order WooCommerce marks paid states a capture of zero, and no other."""

    def test_a_free_paid_order_states_a_capture_of_zero(self) -> None:
        record = _free()

        [paid] = record.events
        assert isinstance(paid, PaymentCaptured)
        assert (usd("0.00"), "order-727") == (paid.amount, paid.payment_id)
        assert OrderStatus.PAID == record.status
        desk, unit = _desk_with_stock(record)
        taken = desk.accept(record)
        assert isinstance(taken, Accepted)
        assert (OrderStatus.PAID, ()) == (taken.order.status, taken.order.payments)
        assert [] == _refunds_owed(unit)

    def test_a_free_order_awaiting_payment_states_no_capture(self) -> None:
        assert () == _free("on-hold").events

    def test_a_free_order_cancelled_owes_nothing(self) -> None:
        record = _free("cancelled")

        assert [PaymentCaptured, Cancelled] == [type(e) for e in record.events]
        desk, unit = _desk_with_stock(record)
        taken = desk.accept(record)
        assert isinstance(taken, Accepted)
        assert OrderStatus.CANCELLED == taken.order.status
        assert [] == _refunds_owed(unit)


class TestUnstockedProducts:
    """Virtual and downloadable products, named by the host, hold no stock."""

    def test_every_line_is_stocked_by_default(self) -> None:
        assert [True, True] == [line.stocked for line in order().placed.lines]

    @pytest.mark.parametrize(
        ("unstocked", "stocked"),
        [
            pytest.param({93}, [False, True], id="a-product"),
            pytest.param({23}, [True, False], id="a-variation"),
            pytest.param({22}, [True, False], id="a-variation-s-parent-product"),
            pytest.param({24, 999}, [True, True], id="other-products"),
        ],
    )
    def test_a_line_of_a_named_product_or_variation_is_unstocked(
        self, unstocked: set[int], stocked: list[bool]
    ) -> None:
        shop = WooCommercePayloads(unstocked_products=unstocked)
        [record] = shop.parse(payload(ORDER), topic="order.updated")
        assert isinstance(record, ChannelOrder)

        assert stocked == [line.stocked for line in record.placed.lines]

    def test_a_batch_reads_them_too(self) -> None:
        body = payload(BATCH)
        shop = WooCommercePayloads(unstocked_products=[93])
        plain = WooCommercePayloads().parse(body, topic="orders/batch")
        marked = shop.parse(body, topic="orders/batch")

        def kinds(records: object) -> list[tuple[str, bool]]:
            assert isinstance(records, tuple)
            return [
                (line.sku, line.stocked)
                for record in records
                if isinstance(record, ChannelOrder)
                for line in record.placed.lines
            ]

        assert all(stocked for _, stocked in kinds(plain))
        assert {"woocommerce-product-93"} == {
            sku for sku, stocked in kinds(marked) if not stocked
        }

    def test_the_desk_holds_no_stock_for_a_download(self) -> None:
        shop = WooCommercePayloads(unstocked_products=[93])
        [record] = shop.parse(payload(ORDER), topic="order.updated")
        assert isinstance(record, ChannelOrder)
        clock = FrozenClock(pendulum.datetime(2026, 11, 11))
        unit = MemoryUnitOfWork()
        with unit as uow:
            # Stock of the stocked line only: a download has none to hold.
            Ledger(uow.ledger, clock).receive("Bar3", "W1", 10)
            uow.commit()
        secret = Fingerprinter(b"a-secret-of-16-bytes")
        desk = OrderDesk(unit, clock, DeskPolicy(locations=["W1"]), secret)

        taken = desk.accept(record)

        assert isinstance(taken, Accepted)
        with unit as uow:
            held = {(hold.sku, hold.quantity) for hold in uow.ledger.holds()}
        assert {("Bar3", 1)} == held

    @pytest.mark.parametrize(
        ("given", "named"),
        [
            pytest.param("93", "93", id="text"),
            pytest.param(93, 93, id="one-id"),
            pytest.param({93, "94"}, "94", id="an-id-as-text"),
            pytest.param([0], 0, id="zero"),
            pytest.param([True], True, id="a-bool"),
        ],
    )
    def test_ids_that_are_not_product_ids_are_refused(
        self, given: object, named: object
    ) -> None:
        with pytest.raises(ValidationError) as caught:
            WooCommercePayloads(unstocked_products=given)  # type: ignore[arg-type]

        assert ("unstocked_products", named) == (
            caught.value.field,
            caught.value.value,
        )
        assert type(caught.value.value) is type(named)
