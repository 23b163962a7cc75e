"""MagentoPayloads: Adobe's own sample order and invoice, read exactly.

The fixtures are the REST V1 responses printed in Adobe's Commerce web API
tutorials (tests/fixtures/SOURCES.md). The fuzz test is in
`test_fuzz_magento.py`.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any

import pendulum
import pytest

from orderkit.adapters.channels.magento import MagentoPayloads
from orderkit.dedupe import IdempotencyKey
from orderkit.errors import (
    EmptyOrder,
    InvalidMoney,
    InvalidQuantity,
    NaiveDatetime,
    StructureError,
    UnknownCurrency,
    UnknownStatus,
    ValidationError,
)
from orderkit.integrations import (
    ChannelOrder,
    ChannelTransaction,
    TransactionKind,
    load_json,
)
from orderkit.money import Money
from orderkit.orders import (
    Address,
    Buyer,
    Cancelled,
    OrderLine,
    OrderStatus,
    PaymentCaptured,
    apply_all,
)
from orderkit.ports import ChannelPayloads
from orderkit.pricing import AmountOff, PricingPolicy, price, validate
from orderkit.testing.contracts import ChannelContract, Sample


FIXTURES = Path(__file__).resolve().parents[2] / "fixtures/channels/magento"
ORDER = FIXTURES / "order-rest-v1-get-admin.json"
INVOICE = FIXTURES / "invoice-rest-v1-get.json"
ORDERS = MagentoPayloads.ORDER_TOPIC
INVOICES = MagentoPayloads.INVOICE_TOPIC
FAR_FUTURE = pendulum.datetime(2100, 1, 1)


def usd(amount: str) -> Money:
    return Money(amount, "USD")


def full_width(text: str) -> str:
    """The text with its ASCII digits in their full-width forms (\uff10...)."""
    return text.translate({ord(d): ord(d) + 0xFEE0 for d in "0123456789"})


def order_payload() -> Any:
    return load_json(ORDER.read_bytes())


def invoice_payload() -> Any:
    return load_json(INVOICE.read_bytes())


def read_order(payload: Any, channel: MagentoPayloads | None = None) -> ChannelOrder:
    (record,) = (channel or MagentoPayloads()).parse(payload, topic=ORDERS)
    assert isinstance(record, ChannelOrder)
    return record


def read_invoice(payload: Any) -> Sequence[ChannelTransaction]:
    records = MagentoPayloads().parse(payload, topic=INVOICES)
    assert all(isinstance(record, ChannelTransaction) for record in records)
    return [r for r in records if isinstance(r, ChannelTransaction)]


def refused(payload: Any, topic: str = ORDERS) -> ValidationError:
    with pytest.raises(ValidationError) as caught:
        MagentoPayloads().parse(payload, topic=topic)
    return caught.value


class TestMagentoContract(ChannelContract):
    """Adobe's sample order and invoice pass the channel contract."""

    def make_channel(self) -> ChannelPayloads:
        return MagentoPayloads()

    def samples(self) -> Sequence[Sample]:
        return [Sample.from_file(ORDER, ORDERS), Sample.from_file(INVOICE, INVOICES)]

    def with_status(self, payload: Any, topic: str, status: str) -> Any:  # noqa: ARG002 - one rule for both topics
        # Orders and invoices both say where they stand in `state`.
        payload["state"] = status
        return payload


class TestTopics:
    """The adapter reads orders and invoices under the REST resource names."""

    def test_the_topics_are_the_rest_resources(self) -> None:
        assert MagentoPayloads().topics == frozenset({"V1/orders", "V1/invoices"})

    def test_the_channel_is_magento_unless_a_store_is_named(self) -> None:
        assert MagentoPayloads().channel == "magento"
        record = read_order(order_payload(), MagentoPayloads("magento-eu"))
        assert record.channel == "magento-eu"
        assert record.placed.key.channel == "magento-eu"

    def test_a_blank_channel_name_is_refused(self) -> None:
        with pytest.raises(ValidationError) as caught:
            MagentoPayloads(" ")
        assert caught.value.field == "channel"

    def test_an_order_read_as_an_invoice_is_refused_with_a_path(self) -> None:
        # The order has no order_id: it is not an invoice.
        assert refused(order_payload(), INVOICES).field == "order_id"


class TestOrderLines:
    """Nine item rows become four lines: every sellable thing exactly once."""

    def test_one_line_per_top_level_row_in_payload_order(self) -> None:
        lines = read_order(order_payload()).placed.lines
        assert lines == (
            OrderLine("3", "WS12-M-Orange", 1, usd("22"), "Radiant Tee-M-Orange"),
            OrderLine(
                "4",
                "240-LV08",
                1,
                usd("18"),
                "Advanced Pilates & Yoga (Strength)",
                stocked=False,  # a downloadable product
            ),
            OrderLine(
                "5",
                "24-WG080-24-WG084-24-WG088-24-WG082-blue-24-WG086",
                1,
                usd("68"),
                "Sprite Yoga Companion Kit",
            ),
            OrderLine("10", "MH01-S-Gray", 1, usd("52"), "Chaz Kangeroo Hoodie"),
        )

    def test_quantities_and_amounts_reconcile_with_magentos_own_figures(
        self,
    ) -> None:
        payload = order_payload()
        lines = read_order(payload).placed.lines
        assert sum(line.quantity for line in lines) == payload["total_qty_ordered"]
        goods = sum((line.amount for line in lines), usd("0"))
        assert goods == usd("160") == Money(payload["subtotal"], "USD")

    def test_naive_summing_of_every_row_would_count_the_bundle_twice(self) -> None:
        payload = order_payload()
        every_row = sum(
            item["price"] * item["qty_ordered"] for item in payload["items"]
        )
        # 22 + 18 + 68 (+ 27 + 5 + 17 + 19 inside it) + 52 (+ 0): 228, not 160.
        assert every_row == 228
        assert every_row != payload["subtotal"]

    def test_a_configurable_line_takes_its_childs_sku(self) -> None:
        payload = order_payload()
        payload["items"][8]["sku"] = "MH01-S-Gray-CHILD"
        line = read_order(payload).placed.lines[3]
        assert (line.line_id, line.sku, line.unit_price) == (
            "10",
            "MH01-S-Gray-CHILD",
            usd("52"),
        )

    def test_bundle_components_are_never_lines(self) -> None:
        skus = {line.sku for line in read_order(order_payload()).placed.lines}
        assert skus.isdisjoint({"24-WG082-blue", "24-WG084", "24-WG086", "24-WG088"})

    def test_a_child_of_a_missing_parent_is_refused(self) -> None:
        payload = order_payload()
        payload["items"][3]["parent_item_id"] = 99
        error = refused(payload)
        assert (error.field, error.value) == ("items[3].parent_item_id", "99")

    def test_a_child_of_a_simple_product_is_refused(self) -> None:
        payload = order_payload()
        payload["items"][3]["parent_item_id"] = 3
        assert refused(payload).field == "items[3].parent_item_id"

    def test_a_configurable_product_needs_exactly_one_child(self) -> None:
        payload = order_payload()
        payload["items"][4]["parent_item_id"] = 10
        error = refused(payload)
        assert (error.field, error.value) == ("items[7]", 2)
        del payload["items"][4]["parent_item_id"]
        payload["items"][8]["parent_item_id"] = None
        assert refused(payload).field == "items[7]"

    def test_an_order_without_items_is_refused(self) -> None:
        payload = order_payload()
        payload["items"] = []
        error = refused(payload)
        assert (type(error), error.field) == (EmptyOrder, "items")

    def test_a_repeated_item_id_is_refused(self) -> None:
        payload = order_payload()
        payload["items"].append(copy.deepcopy(payload["items"][0]))
        assert refused(payload).field == "items[9].item_id"

    @pytest.mark.parametrize(
        ("value", "error"),
        [
            (0, InvalidQuantity),
            (-1, InvalidQuantity),
            (Decimal("1.5"), InvalidQuantity),
            ("1e3", InvalidQuantity),
            (full_width("1"), InvalidQuantity),
            (1_000_001, InvalidQuantity),
            (None, InvalidQuantity),
        ],
    )
    def test_a_quantity_that_is_not_whole_units_is_refused_with_its_path(
        self, value: object, error: type[ValidationError]
    ) -> None:
        payload = order_payload()
        payload["items"][7]["qty_ordered"] = value
        assert type(refused(payload)) is error
        assert refused(payload).field == "items[7].qty_ordered"

    @pytest.mark.parametrize(
        "value", [Decimal("22.001"), -22, "22", "twenty-two", None, True]
    )
    def test_a_price_that_is_not_exact_money_is_refused_with_its_path(
        self, value: object
    ) -> None:
        payload = order_payload()
        payload["items"][0]["price"] = value
        if value == "22":
            # Decimal text is exact money too.
            assert read_order(payload).placed.lines[0].unit_price == usd("22")
            return
        error = refused(payload)
        assert (type(error), error.field) == (InvalidMoney, "items[0].price")

    def test_a_float_price_never_gets_in(self) -> None:
        payload = order_payload()
        payload["items"][0]["price"] = 22.0
        assert type(refused(payload)) is InvalidMoney


class TestMoney:
    """The quote prices to Magento's grand_total, exactly."""

    def test_the_sample_reconciles_with_subtotal_and_grand_total(self) -> None:
        quote = read_order(order_payload()).quote
        totals = price(quote)
        assert totals.goods == usd("160")
        assert totals.shipping == usd("5")
        assert totals.tax == usd("0")
        assert totals.total == quote.stated_total == usd("165")
        assert validate(quote, PricingPolicy()).ok

    def test_rule_ids_with_no_discount_are_no_offer(self) -> None:
        payload = order_payload()
        assert payload["applied_rule_ids"] == "1"
        assert payload["discount_amount"] == 0
        assert read_order(payload).quote.offers == ()

    def test_a_discount_of_minus_zero_is_no_offer(self) -> None:
        payload = order_payload()
        payload["discount_amount"] = Decimal("-0.0")  # as PHP may write 0 off
        assert read_order(payload).quote.offers == ()

    def test_a_negative_discount_amount_is_an_amount_off(self) -> None:
        payload = order_payload()
        payload |= {
            "discount_amount": Decimal("-16.00"),
            "discount_description": "YOGA10",
            "grand_total": 149,
        }
        quote = read_order(payload).quote
        assert quote.offers == (AmountOff("YOGA10", usd("16")),)
        assert price(quote).total == usd("149")
        assert validate(quote, PricingPolicy()).ok

    def test_a_shipping_discount_inside_the_discount_comes_off_shipping(
        self,
    ) -> None:
        payload = order_payload()
        payload |= {
            "discount_amount": -21,
            "shipping_discount_amount": 5,
            "grand_total": 144,
        }
        quote = read_order(payload).quote
        assert quote.shipping == usd("0")
        assert quote.offers == (AmountOff("rules 1", usd("16")),)
        assert price(quote).total == usd("144")
        assert validate(quote, PricingPolicy()).ok

    def test_tax_and_its_discount_compensation_are_added(self) -> None:
        payload = order_payload()
        payload |= {
            "tax_amount": Decimal("13.20"),
            "discount_tax_compensation_amount": Decimal("0.40"),
            "grand_total": Decimal("178.60"),
        }
        quote = read_order(payload).quote
        assert quote.tax == usd("13.60")
        assert not quote.taxes_included
        assert validate(quote, PricingPolicy()).ok

    def test_a_positive_discount_amount_is_refused_not_flipped(self) -> None:
        payload = order_payload()
        payload["discount_amount"] = 10
        error = refused(payload)
        assert (type(error), error.field) == (InvalidMoney, "discount_amount")

    def test_a_shipping_discount_outside_the_discount_is_refused(self) -> None:
        payload = order_payload()
        payload["shipping_discount_amount"] = 5
        assert refused(payload).field == "discount_amount"

    def test_a_stated_total_that_does_not_add_up_is_reported_by_validate(
        self,
    ) -> None:
        payload = order_payload()
        payload["grand_total"] = 170
        validation = validate(read_order(payload).quote, PricingPolicy())
        assert [v.path for v in validation.violations] == ["stated_total"]

    def test_a_missing_grand_total_is_refused(self) -> None:
        payload = order_payload()
        del payload["grand_total"]
        assert refused(payload).field == "grand_total"

    @pytest.mark.parametrize("code", ["XYZ", "usd", "BTC", ""])
    def test_an_unknown_currency_is_refused_with_its_path(self, code: str) -> None:
        payload = order_payload()
        payload["order_currency_code"] = code
        assert refused(payload).field == "order_currency_code"
        if code:
            assert type(refused(payload)) is UnknownCurrency

    def test_amounts_are_in_the_order_currency_not_the_base_currency(self) -> None:
        payload = order_payload()
        payload |= {"order_currency_code": "EUR", "base_currency_code": "USD"}
        quote = read_order(payload).quote
        assert quote.currency.code == "EUR"
        assert quote.stated_total == Money("165", "EUR")


class TestTime:
    """Magento's naive times are UTC, as Magento stores them."""

    def test_created_and_updated_are_utc_instants(self) -> None:
        record = read_order(order_payload())
        assert record.placed.occurred_at == pendulum.datetime(2017, 8, 21, 22, 22, 19)
        assert record.updated_at == pendulum.datetime(2017, 8, 21, 22, 22, 20)
        assert record.placed.occurred_at.timezone_name == "UTC"

    def test_a_time_with_an_offset_is_read_exactly(self) -> None:
        payload = order_payload()
        payload["created_at"] = "2017-08-22T06:22:19+08:00"
        placed_at = read_order(payload).placed.occurred_at
        assert placed_at == pendulum.datetime(2017, 8, 21, 22, 22, 19)

    @pytest.mark.parametrize(
        "value",
        [
            "2017-02-30 22:22:19",
            "2017-08-21 25:00:00",
            "yesterday",
            "",
            1503354139,
            "0001-01-01T00:00:00+05:00",
            "9999-12-31T23:59:59-12:00",
        ],
    )
    def test_an_impossible_time_is_refused_with_its_path(self, value: object) -> None:
        payload = order_payload()
        payload["created_at"] = value
        error = refused(payload)
        assert error.field == "created_at"
        assert not isinstance(error, NaiveDatetime)


class TestStatus:
    """Magento's state maps onto the lifecycle by a table, or is reported."""

    @pytest.mark.parametrize(
        ("state", "status", "expected"),
        [
            ("new", "pending", OrderStatus.PENDING_PAYMENT),
            ("pending_payment", "pending_payment", OrderStatus.PENDING_PAYMENT),
            ("processing", "processing", OrderStatus.PENDING_PAYMENT),
            ("complete", "complete", OrderStatus.SHIPPED),
            ("canceled", "canceled", OrderStatus.CANCELLED),
        ],
    )
    def test_the_state_table(
        self, state: str, status: str, expected: OrderStatus
    ) -> None:
        payload = order_payload()
        payload |= {"state": state, "status": status}
        record = read_order(payload)
        assert record.status is expected
        assert record.channel_status == f"{state}/{status}"

    def test_processing_is_paid_once_magento_says_money_was_paid(self) -> None:
        payload = order_payload()
        payload |= {"state": "processing", "total_paid": 165}
        assert read_order(payload).status is OrderStatus.PAID

    def test_the_order_states_no_payment_event_invoices_do(self) -> None:
        payload = order_payload()
        payload |= {"state": "complete", "total_paid": 165}
        record = read_order(payload)
        assert not any(isinstance(e, PaymentCaptured) for e in record.events)
        assert record.events == ()

    def test_a_canceled_order_is_cancelled_when_applied(self) -> None:
        payload = order_payload()
        payload |= {"state": "canceled", "status": "canceled"}
        record = read_order(payload)
        (event,) = record.events
        assert isinstance(event, Cancelled)
        assert event.key == IdempotencyKey(
            "magento", "order_cancel_after", "3", "000000003"
        )
        assert event.occurred_at == record.updated_at
        batch = apply_all(None, [record.placed, *record.events], now=FAR_FUTURE)
        assert batch.order is not None
        assert batch.order.status is OrderStatus.CANCELLED

    @pytest.mark.parametrize("state", ["closed", "holded", "payment_review"])
    def test_documented_states_without_a_canonical_one_are_reported(
        self, state: str
    ) -> None:
        payload = order_payload()
        payload["state"] = state
        error = refused(payload)
        assert (type(error), error.field, error.value) == (
            UnknownStatus,
            "state",
            state,
        )

    @pytest.mark.parametrize("state", ["pending", "Processing", "", None, 1])
    def test_a_status_label_or_anything_else_as_state_is_reported(
        self, state: object
    ) -> None:
        payload = order_payload()
        payload["state"] = state
        assert type(refused(payload)) is UnknownStatus

    def test_a_store_defined_status_label_is_kept_not_judged(self) -> None:
        payload = order_payload()
        payload["status"] = "awaiting_bank_transfer"
        record = read_order(payload)
        assert record.status is OrderStatus.PENDING_PAYMENT
        assert record.channel_status == "new/awaiting_bank_transfer"


class TestKeys:
    """Keys come from ids every re-send repeats, never from updated_at."""

    def test_the_placement_key(self) -> None:
        key = read_order(order_payload()).placed.key
        assert key == IdempotencyKey(
            "magento", "sales_order_place_after", "3", "000000003"
        )

    def test_a_later_change_of_updated_at_keeps_the_key(self) -> None:
        payload = order_payload()
        first = read_order(payload).placed.key
        payload["updated_at"] = "2017-09-01 08:00:00"
        assert read_order(payload).placed.key == first

    def test_an_id_above_two_to_the_53_stays_exact(self) -> None:
        payload = order_payload()
        payload["entity_id"] = 2**53 + 1
        record = read_order(payload)
        assert record.order_id == "9007199254740993"
        assert record.placed.key.object_id == "9007199254740993"


class TestBuyerAndAddress:
    """Buyer from the customer fields, address from the shipping assignment."""

    def test_the_sample_buyer_and_address(self) -> None:
        placed = read_order(order_payload()).placed
        assert placed.buyer == Buyer(
            "3", "Jane Doe", "+15125551111", "jdoe@example.com"
        )
        assert placed.address == Address(
            country="US",
            province="New York",
            city="Purchase",
            street="123 Oak Ave",
            postcode="10577",
            recipient="Jane Doe",
            phone="+15125551111",
        )
        assert placed.actor == "3"

    def test_a_guest_is_known_by_email(self) -> None:
        payload = order_payload()
        payload |= {"customer_id": None, "customer_is_guest": 1}
        assert read_order(payload).placed.buyer.buyer_id == "guest:jdoe@example.com"

    def test_the_shipping_address_is_the_assignments_not_the_billing(self) -> None:
        payload = order_payload()
        address = payload["extension_attributes"]["shipping_assignments"][0]
        address["shipping"]["address"] |= {
            "city": "Austin",
            "street": ["500 Congress Ave", "Suite 2"],
        }
        placed = read_order(payload).placed
        assert (placed.address.city, placed.address.street) == (
            "Austin",
            "500 Congress Ave, Suite 2",
        )

    def test_a_virtual_order_without_shipping_has_the_billing_address(self) -> None:
        payload = order_payload()
        payload["is_virtual"] = 1
        del payload["extension_attributes"]
        assert read_order(payload).placed.address.city == "Purchase"

    def test_an_order_that_ships_needs_a_shipping_address(self) -> None:
        payload = order_payload()
        del payload["extension_attributes"]
        error = refused(payload)
        assert error.field == (
            "extension_attributes.shipping_assignments[0].shipping.address"
        )

    def test_a_phone_that_is_no_number_is_kept_as_sent(self) -> None:
        payload = order_payload()
        payload["billing_address"]["telephone"] = "555-0100"
        assert read_order(payload).placed.buyer.phone == "555-0100"

    def test_full_width_digits_in_a_phone_are_read(self) -> None:
        payload = order_payload()
        payload["billing_address"]["telephone"] = full_width("512-555-1111")
        assert read_order(payload).placed.buyer.phone == "+15125551111"

    def test_a_lower_case_country_is_read_upper_case(self) -> None:
        payload = order_payload()
        address = payload["extension_attributes"]["shipping_assignments"][0]
        address["shipping"]["address"]["country_id"] = "us"
        assert read_order(payload).placed.address.country == "US"

    @pytest.mark.parametrize("country", ["USA", "U1", "", None])
    def test_a_country_that_is_not_iso_alpha_2_is_refused(
        self, country: object
    ) -> None:
        payload = order_payload()
        address = payload["extension_attributes"]["shipping_assignments"][0]
        address["shipping"]["address"]["country_id"] = country
        assert refused(payload).field == (
            "extension_attributes.shipping_assignments[0].shipping.address.country_id"
        )

    def test_a_territory_without_a_numbering_plan_keeps_the_phone(self) -> None:
        payload = order_payload()
        address = payload["extension_attributes"]["shipping_assignments"][0]
        address["shipping"]["address"]["country_id"] = "AQ"
        assert read_order(payload).placed.address.phone == "512-555-1111"


class TestInvoices:
    """A paid invoice is one capture of its grand total, keyed by its id."""

    def test_the_sample_invoice_is_a_capture(self) -> None:
        (capture,) = read_invoice(invoice_payload())
        assert capture == ChannelTransaction(
            transaction_id="3",
            order_id="3",
            key=IdempotencyKey("magento", "sales_order_invoice_pay", "3", "000000003"),
            kind=TransactionKind.CAPTURE,
            amount=usd("165"),
            succeeded=True,
            created_at=pendulum.datetime(2017, 8, 21, 22, 36, 2),
        )

    def test_the_capture_is_for_the_sample_order(self) -> None:
        (capture,) = read_invoice(invoice_payload())
        order = read_order(order_payload())
        assert capture.order_id == order.order_id
        assert capture.amount == order.quote.stated_total

    def test_a_canceled_invoice_is_a_capture_that_did_not_go_through(self) -> None:
        payload = invoice_payload()
        payload["state"] = 3
        (capture,) = read_invoice(payload)
        assert not capture.succeeded
        assert capture.key.event_type == "sales_order_invoice_cancel"

    def test_an_open_invoice_moved_no_money_and_gives_no_record(self) -> None:
        payload = invoice_payload()
        payload["state"] = 1
        assert read_invoice(payload) == []

    def test_an_open_invoice_is_still_read_in_full(self) -> None:
        payload = invoice_payload()
        payload |= {"state": 1, "grand_total": "a lot"}
        assert refused(payload, INVOICES).field == "grand_total"

    def test_a_state_written_as_text_reads_as_its_number(self) -> None:
        payload = invoice_payload()
        expected = read_invoice(payload)
        payload["state"] = "2"
        assert read_invoice(payload) == expected

    @pytest.mark.parametrize("state", [0, 4, "paid", None, True])
    def test_an_unknown_invoice_state_is_reported(self, state: object) -> None:
        payload = invoice_payload()
        payload["state"] = state
        error = refused(payload, INVOICES)
        assert (type(error), error.field) == (UnknownStatus, "state")

    def test_a_later_change_of_updated_at_keeps_the_key(self) -> None:
        payload = invoice_payload()
        (first,) = read_invoice(payload)
        payload["updated_at"] = "2017-09-01 08:00:00"
        (again,) = read_invoice(payload)
        assert again.key == first.key


class TestJsonText:
    """What load_json refuses never reaches the adapter."""

    @pytest.mark.parametrize(
        "text",
        [
            '{"entity_id": 3, "entity_id": 4}',
            '{"grand_total": NaN}',
            '{"grand_total": Infinity}',
            '{"grand_total": 165',
        ],
    )
    def test_text_that_is_not_exact_json_is_refused(self, text: str) -> None:
        with pytest.raises(StructureError):
            load_json(text)


class TestUnstockedLines:
    """Virtual, downloadable and gift card rows are lines with no stock."""

    def test_the_samples_downloadable_row_is_unstocked(self) -> None:
        lines = read_order(order_payload()).placed.lines
        assert [(line.line_id, line.stocked) for line in lines] == [
            ("3", True),
            ("4", False),
            ("5", True),
            ("10", True),
        ]

    @pytest.mark.parametrize("kind", ["virtual", "downloadable", "giftcard"])
    def test_a_product_type_without_stock_is_unstocked(self, kind: str) -> None:
        payload = order_payload()
        payload["items"][0] |= {"product_type": kind, "is_virtual": 0}
        (line, *_) = read_order(payload).placed.lines
        assert (line.sku, line.stocked) == ("WS12-M-Orange", False)

    def test_a_virtual_row_of_any_type_is_unstocked(self) -> None:
        payload = order_payload()
        payload["items"][0]["is_virtual"] = 1
        (line, *_) = read_order(payload).placed.lines
        assert line.stocked is False

    def test_a_row_without_the_flag_is_stocked(self) -> None:
        payload = order_payload()
        del payload["items"][0]["is_virtual"]
        (line, *_) = read_order(payload).placed.lines
        assert line.stocked is True

    @pytest.mark.parametrize("flag", ["1", True, 2])
    def test_a_flag_that_is_not_0_or_1_is_refused_with_its_path(
        self, flag: object
    ) -> None:
        payload = order_payload()
        payload["items"][1]["is_virtual"] = flag
        assert refused(payload).field == "items[1].is_virtual"
