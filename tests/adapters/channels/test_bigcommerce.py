"""A BigCommerce store's recorded V2 orders list, read by the reference adapter."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pendulum
import pytest

from orderkit.adapters.channels.bigcommerce import BigCommercePayloads
from orderkit.adapters.memory import MemoryUnitOfWork
from orderkit.dedupe import Fingerprinter, IdempotencyKey
from orderkit.errors import (
    EmptyOrder,
    InvalidMoney,
    NaiveDatetime,
    StructureError,
    UnknownCurrency,
    UnknownStatus,
    ValidationError,
)
from orderkit.integrations import ChannelOrder, load_json
from orderkit.money import Money
from orderkit.orders import Cancelled, Closed, OrderStatus
from orderkit.ports import ChannelPayloads
from orderkit.pricing import AmountOff, PricingPolicy, TotalsPolicy, validate
from orderkit.services import Accepted, DeskPolicy, Ledger, OrderDesk
from orderkit.testing import FrozenClock
from orderkit.testing.contracts import ChannelContract, Sample


FIXTURES = Path(__file__).resolve().parents[2] / "fixtures/channels/bigcommerce"
RECORDED = FIXTURES / "orders-v2-list-recorded-2013.json"
LIST = "v2/orders"
ONE = "v2/orders/{id}"

# What GET /v2/orders/100/products would return, written by the orderkit team
# from BigCommerce's documented order product fields: three units (the
# order's items_total) adding up to its subtotal_ex_tax of 158.95. The second
# is a custom product: no catalogue product, no SKU.
PRODUCTS: list[dict[str, Any]] = [
    {
        "id": 11,
        "order_id": 100,
        "product_id": 32,
        "variant_id": 53,
        "order_address_id": 1,
        "name": "Canvas Tote",
        "sku": "TOTE-NAT",
        "type": "physical",
        "base_price": "50.0000",
        "price_ex_tax": "50.0000",
        "price_inc_tax": "50.0000",
        "price_tax": "0.0000",
        "base_total": "100.0000",
        "total_ex_tax": "100.0000",
        "total_inc_tax": "100.0000",
        "total_tax": "0.0000",
        "quantity": 2,
        "is_refunded": False,
        "quantity_refunded": 0,
        "refund_amount": "0.0000",
        "quantity_shipped": 0,
        "parent_order_product_id": None,
        "is_bundled_product": False,
        "applied_discounts": [],
        "product_options": [],
    },
    {
        "id": 12,
        "order_id": 100,
        "product_id": 0,
        "variant_id": 0,
        "order_address_id": 1,
        "name": "Engraving service",
        "sku": "",
        "type": "physical",
        "base_price": "58.9500",
        "price_ex_tax": "58.9500",
        "price_inc_tax": "58.9500",
        "price_tax": "0.0000",
        "base_total": "58.9500",
        "total_ex_tax": "58.9500",
        "total_inc_tax": "58.9500",
        "total_tax": "0.0000",
        "quantity": 1,
        "is_refunded": False,
        "quantity_refunded": 0,
        "refund_amount": "0.0000",
        "quantity_shipped": 0,
        "parent_order_product_id": None,
        "is_bundled_product": False,
        "applied_discounts": [],
        "product_options": [],
    },
]


def recorded() -> Any:
    """The recorded list as BigCommerce sent it (products behind a link)."""
    return load_json(RECORDED.read_bytes())


def merged() -> Any:
    """The recorded list with order 100's products merged in, as a host would."""
    body = recorded()
    body[0]["products"] = copy.deepcopy(PRODUCTS)
    return body


def text(body: Any) -> str:
    """JSON text in BigCommerce's compact style."""
    return json.dumps(body, separators=(",", ":"))


def order(changed: dict[str, Any] | None = None) -> ChannelOrder:
    """Order 100 with its products merged in and some of its fields changed."""
    [body] = merged()
    body.update(changed or {})
    [record] = BigCommercePayloads().parse(body, topic=ONE)
    assert isinstance(record, ChannelOrder)
    return record


def usd(amount: str) -> Money:
    return Money(amount, "USD")


class TestBigCommerceContract(ChannelContract):
    """The channel contract: the recorded list refused, merged products read."""

    def make_channel(self) -> ChannelPayloads:
        return BigCommercePayloads()

    def samples(self) -> list[Sample]:
        return [
            Sample.from_file(RECORDED, LIST, refused=StructureError),
            # BigCommerce states no capture: `paid` is ahead of the events.
            Sample(
                "orders-v2-list-with-products",
                LIST,
                text(merged()),
                status_ahead_of_events=True,
            ),
            Sample(
                "order-v2-with-products",
                ONE,
                text(merged()[0]),
                status_ahead_of_events=True,
            ),
        ]

    def with_status(self, payload: Any, topic: str, status: str) -> Any | None:
        (payload[0] if topic == LIST else payload)["status_id"] = status
        return payload


class TestRecordedList:
    """The list as recorded: its lines are a sub-resource link, so it is refused."""

    def test_the_link_is_refused_naming_the_path(self) -> None:
        with pytest.raises(StructureError) as caught:
            BigCommercePayloads().parse(recorded(), topic=LIST)

        assert "[0].products" == caught.value.field
        assert "/orders/100/products" in caught.value.problem

    def test_missing_products_are_refused(self) -> None:
        [body] = recorded()
        del body["products"]

        with pytest.raises(StructureError) as caught:
            BigCommercePayloads().parse(body, topic=ONE)

        assert "products" == caught.value.field

    def test_no_products_is_an_empty_order(self) -> None:
        body = recorded()
        body[0]["products"] = []

        with pytest.raises(EmptyOrder) as caught:
            BigCommercePayloads().parse(body, topic=LIST)

        assert "[0].products" == caught.value.field

    def test_an_empty_list_states_no_order(self) -> None:
        with pytest.raises(StructureError):
            BigCommercePayloads().parse([], topic=LIST)


class TestOrder:
    """Order 100 with products merged in: read as the recorded store stated it."""

    def test_ids_and_rfc_2822_times_in_utc(self) -> None:
        [record] = BigCommercePayloads().parse(merged(), topic=LIST)

        assert isinstance(record, ChannelOrder)
        assert ("100", "bigcommerce") == (record.order_id, record.channel)
        assert pendulum.datetime(2013, 3, 24, 23, 7, 53) == record.placed.occurred_at
        assert pendulum.datetime(2013, 3, 24, 23, 7, 53) == record.updated_at

    def test_minus_zero_is_universal_time(self) -> None:
        # RFC 5322 3.3: -0000 is UT, from a system whose own zone is unknown.
        record = order({"date_created": "Sun, 24 Mar 2013 23:07:53 -0000"})

        assert pendulum.datetime(2013, 3, 24, 23, 7, 53) == record.placed.occurred_at

    def test_an_offset_is_converted_to_utc(self) -> None:
        record = order({"date_modified": "Tue, 26 Mar 2013 09:30:00 +1100"})

        assert pendulum.datetime(2013, 3, 25, 22, 30) == record.updated_at
        assert "2013-03-25T22:30:00+00:00" == record.placed.key.event_id

    @pytest.mark.parametrize(
        ("when", "error"),
        [
            ("2013-03-24 23:07:53", NaiveDatetime),
            ("Sun, 24 Mar 2013 23:07:53 CEST", ValidationError),
            ("Sun, 31 Feb 2013 23:07:53 +0000", ValidationError),
            ("", ValidationError),
        ],
    )
    def test_a_time_without_an_exact_instant_is_refused(
        self, when: str, error: type[ValidationError]
    ) -> None:
        with pytest.raises(error) as caught:
            order({"date_created": when})

        assert "date_created" == caught.value.field

    def test_lines(self) -> None:
        lines = order().placed.lines

        assert [
            ("11", "TOTE-NAT", 2, usd("50.00"), "Canvas Tote"),
            ("12", "bigcommerce-line-12", 1, usd("58.95"), "Engraving service"),
        ] == [(x.line_id, x.sku, x.quantity, x.unit_price, x.title) for x in lines]

    def test_a_line_without_sku_is_known_by_its_variant(self) -> None:
        products = copy.deepcopy(PRODUCTS)
        products[0]["sku"] = ""

        lines = order({"products": products}).placed.lines

        assert "bigcommerce-variant-53" == lines[0].sku

    def test_money_adds_up(self) -> None:
        quote = order().quote

        assert (usd("0.00"), usd("0.00"), usd("158.95"), ()) == (
            quote.shipping,
            quote.tax,
            quote.stated_total,
            quote.offers,
        )
        result = validate(quote, PricingPolicy(totals=TotalsPolicy.REJECT))
        assert result.ok
        assert usd("158.95") == result.accepted_total

    def test_shipping_handling_tax_and_discounts(self) -> None:
        quote = order(
            {
                "shipping_cost_ex_tax": "10.0000",
                "handling_cost_ex_tax": "2.5000",
                "total_tax": "13.0000",
                "discount_amount": "5.0000",
                "coupon_discount": "8.9500",
                "total_inc_tax": "170.5000",
            }
        ).quote

        assert (
            AmountOff("discount_amount", usd("5.00")),
            AmountOff("coupon_discount", usd("8.95")),
        ) == quote.offers
        assert (usd("12.50"), usd("13.00")) == (quote.shipping, quote.tax)
        assert validate(quote, PricingPolicy(totals=TotalsPolicy.REJECT)).ok

    @pytest.mark.parametrize("field", ["total_inc_tax", "total_tax", "coupon_discount"])
    def test_a_fourth_decimal_is_refused_for_usd(self, field: str) -> None:
        with pytest.raises(InvalidMoney) as caught:
            order({field: "1.2345"})

        assert field == caught.value.field

    def test_a_line_price_error_names_its_path(self) -> None:
        body = merged()
        body[0]["products"][1]["price_ex_tax"] = "-58.9500"

        with pytest.raises(InvalidMoney) as caught:
            BigCommercePayloads().parse(body, topic=LIST)

        assert "[0].products[1].price_ex_tax" == caught.value.field

    def test_a_repeated_product_id_names_its_path(self) -> None:
        body = merged()
        body[0]["products"][1]["id"] = body[0]["products"][0]["id"]

        with pytest.raises(ValidationError) as caught:
            BigCommercePayloads().parse(body, topic=LIST)

        assert "[0].products[1].id" == caught.value.field

    def test_a_refusal_of_the_canonical_order_names_the_order(self) -> None:
        # A guest's buyer id is made of the e-mail; the tab in it is refused
        # by Buyer (at `buyer_id`), reported at the order in the list.
        body = merged()
        body[0]["customer_id"] = 0
        body[0]["billing_address"]["email"] = "a\tb@example.com"

        with pytest.raises(ValidationError) as caught:
            BigCommercePayloads().parse(body, topic=LIST)

        assert "[0]" == caught.value.field
        assert str(caught.value).startswith("[0]: ")
        assert isinstance(caught.value.__cause__, ValidationError)
        assert "buyer_id" == caught.value.__cause__.field

    def test_two_currencies_are_refused(self) -> None:
        with pytest.raises(ValidationError) as caught:
            order({"currency_code": "EUR"})

        assert "currency_code" == caught.value.field

    def test_an_unknown_currency_is_refused(self) -> None:
        with pytest.raises(UnknownCurrency) as caught:
            order({"default_currency_code": "XYZ"})

        assert "default_currency_code" == caught.value.field

    def test_buyer_and_billing_address(self) -> None:
        placed = order().placed

        assert ("1", "", None, "test.customer@foobar.xyz.com") == (
            placed.buyer.buyer_id,
            placed.buyer.name,
            placed.buyer.phone,
            placed.buyer.email,
        )
        # The recorded store left name and street empty: kept empty.
        assert ("US", "Florida", "", "", "94041", "") == (
            placed.address.country,
            placed.address.province,
            placed.address.city,
            placed.address.street,
            placed.address.postcode,
            placed.address.recipient,
        )

    def test_a_guest_and_a_phone_read_with_the_country(self) -> None:
        [body] = merged()
        body["customer_id"] = 0
        body["billing_address"].update(
            {"first_name": "Ada", "last_name": "Lovelace", "phone": "(650) 253-0000"}
        )
        body["billing_address"]["street_1"] = "1 Main St"

        [record] = BigCommercePayloads().parse(body, topic=ONE)

        assert isinstance(record, ChannelOrder)
        buyer, address = record.placed.buyer, record.placed.address
        assert ("guest:test.customer@foobar.xyz.com", "Ada Lovelace") == (
            buyer.buyer_id,
            buyer.name,
        )
        assert ("+16502530000", "1 Main St", "Ada Lovelace") == (
            address.phone,
            address.street,
            address.recipient,
        )

    def test_keys_are_stable_on_redelivery(self) -> None:
        [first] = BigCommercePayloads().parse(merged(), topic=LIST)
        resent = load_json(json.dumps(merged(), indent=2, sort_keys=True))
        [again] = BigCommercePayloads().parse(resent, topic=LIST)

        assert isinstance(first, ChannelOrder)
        assert isinstance(again, ChannelOrder)
        assert (
            IdempotencyKey(
                "bigcommerce", "order.placed", "100", "2013-03-24T23:07:53+00:00"
            )
            == first.placed.key
            == again.placed.key
        )


class TestStatus:
    """status_id through the documented table; the rest is reported with a reason."""

    @pytest.mark.parametrize(
        ("status_id", "expected"),
        [
            (1, OrderStatus.PENDING_PAYMENT),
            (7, OrderStatus.PENDING_PAYMENT),
            (11, OrderStatus.PAID),
            (8, OrderStatus.PICKING),
            (9, OrderStatus.PICKING),
            (3, OrderStatus.PARTIALLY_SHIPPED),
            (2, OrderStatus.SHIPPED),
            (10, OrderStatus.COMPLETED),
            (5, OrderStatus.CANCELLED),
            (6, OrderStatus.CLOSED),
        ],
    )
    def test_table(self, status_id: int, expected: OrderStatus) -> None:
        assert expected == order({"status_id": status_id}).status

    def test_the_recorded_status(self) -> None:
        record = order()

        assert (OrderStatus.PAID, "Awaiting Fulfillment", ()) == (
            record.status,
            record.channel_status,
            record.events,
        )

    def test_cancelled_has_its_event(self) -> None:
        [event] = order({"status_id": 5, "status": "Cancelled"}).events

        assert isinstance(event, Cancelled)
        assert pendulum.datetime(2013, 3, 24, 23, 7, 53) == event.occurred_at
        assert (
            IdempotencyKey(
                "bigcommerce", "order.cancelled", "100", "2013-03-24T23:07:53+00:00"
            )
            == event.key
        )

    def test_declined_closes_it(self) -> None:
        [event] = order({"status_id": 6, "status": "Declined"}).events

        assert isinstance(event, Closed)
        assert "order.closed" == event.key.event_type

    def test_without_a_name_the_id_is_the_channel_status(self) -> None:
        assert "11" == order({"status": ""}).channel_status

    @pytest.mark.parametrize("status_id", [0, 4, 12, 13, 14, 15, -1, "Shipped", None])
    def test_reported(self, status_id: object) -> None:
        with pytest.raises(UnknownStatus) as caught:
            order({"status_id": status_id})

        assert ("status_id", status_id) == (caught.value.field, caught.value.value)

    def test_an_archived_order_is_reported(self) -> None:
        with pytest.raises(UnknownStatus) as caught:
            order({"is_deleted": True})

        assert "is_deleted" == caught.value.field


class TestStores:
    """Each store its own channel name: every store's first order is 100."""

    def test_the_default_channel_is_bigcommerce(self) -> None:
        record = order()

        assert "bigcommerce" == BigCommercePayloads().channel == record.channel
        assert "bigcommerce" == record.placed.key.channel == record.quote.channel

    def test_two_stores_order_100_are_two_orders(self) -> None:
        [body] = merged()
        # Another store's order 100: another buyer.
        other = copy.deepcopy(body)
        other["billing_address"].update(email="li.na@example.cn", first_name="Li")
        [first] = BigCommercePayloads("bigcommerce-us").parse(body, topic=ONE)
        [second] = BigCommercePayloads(channel="bigcommerce-uk").parse(other, topic=ONE)
        assert isinstance(first, ChannelOrder)
        assert isinstance(second, ChannelOrder)
        clock = FrozenClock(pendulum.datetime(2026, 11, 11))
        unit = MemoryUnitOfWork()
        with unit as uow:
            for line in first.placed.lines:
                Ledger(uow.ledger, clock).receive(line.sku, "W1", 10)
            uow.commit()
        secret = Fingerprinter(b"a-secret-of-16-bytes")
        desk = OrderDesk(unit, clock, DeskPolicy(locations=["W1"]), secret)

        assert isinstance(desk.accept(first), Accepted)
        taken = desk.accept(second)

        assert isinstance(taken, Accepted)
        assert ("bigcommerce-uk", "100") == (taken.order.channel, taken.order.order_id)

    def test_the_store_names_every_key(self) -> None:
        [body] = merged()
        body["status_id"] = 5
        [record] = BigCommercePayloads("bigcommerce-uk").parse(body, topic=ONE)
        assert isinstance(record, ChannelOrder)

        keys = [record.placed.key, *(event.key for event in record.events)]
        assert 2 == len(keys)
        assert {"bigcommerce-uk"} == {k.channel for k in keys}
        assert "bigcommerce-uk" == record.quote.channel

    @pytest.mark.parametrize("name", ["", "  ", "bc\tuk", 7, None])
    def test_a_channel_that_is_no_name_is_refused(self, name: object) -> None:
        with pytest.raises(ValidationError) as caught:
            BigCommercePayloads(name)  # type: ignore[arg-type]

        assert ("channel", name) == (caught.value.field, caught.value.value)


class TestUnstockedLines:
    """A digital product is a line with no stock behind it."""

    def test_physical_products_are_stocked(self) -> None:
        lines = order().placed.lines
        assert [line.stocked for line in lines] == [True, True]

    @pytest.mark.parametrize("kind", ["digital", "giftcertificate"])
    def test_a_digital_product_is_unstocked(self, kind: str) -> None:
        products = copy.deepcopy(PRODUCTS)
        products[1]["type"] = kind
        lines = order({"products": products}).placed.lines
        assert [(line.line_id, line.stocked) for line in lines] == [
            ("11", True),
            ("12", False),
        ]

    def test_a_product_without_a_type_is_stocked(self) -> None:
        products = copy.deepcopy(PRODUCTS)
        del products[0]["type"]
        assert order({"products": products}).placed.lines[0].stocked is True

    @pytest.mark.parametrize("kind", ["Digital", "", 1, []])
    def test_another_type_is_refused_with_its_path(self, kind: object) -> None:
        [body] = merged()
        body["products"][1]["type"] = kind
        with pytest.raises(ValidationError) as caught:
            BigCommercePayloads().parse(body, topic=ONE)
        assert ("products[1].type", kind) == (caught.value.field, caught.value.value)

    def test_a_desk_takes_a_digital_product_in_without_its_stock(self) -> None:
        products = copy.deepcopy(PRODUCTS)
        products[1]["type"] = "digital"
        record = order({"products": products})
        clock = FrozenClock(record.placed.occurred_at)
        unit = MemoryUnitOfWork()
        with unit as uow:
            Ledger(uow.ledger, clock).receive("TOTE-NAT", "W1", 10)
            uow.commit()
        secret = Fingerprinter(b"a-secret-of-16-bytes")
        desk = OrderDesk(unit, clock, DeskPolicy(locations=["W1"]), secret)

        assert isinstance(desk.accept(record), Accepted)
        with unit as uow:
            assert {h.sku for h in uow.ledger.holds()} == {"TOTE-NAT"}
