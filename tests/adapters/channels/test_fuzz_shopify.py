"""Shopify's real payloads, mutated: every input maps or raises orderkit's error."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

from hypothesis import given, settings

from orderkit.adapters.channels.shopify import ShopifyPayloads
from orderkit.errors import OrderkitError
from orderkit.integrations import ChannelOrder, ChannelRefund, load_json
from orderkit.money import Money
from orderkit.testing.strategies import check_channel_order, payload_mutations


FIXTURES = Path(__file__).resolve().parents[2] / "fixtures/channels/shopify"
SAMPLES = [
    (FIXTURES / "order-3-line-items-discount-shipping.json", "orders/updated"),
    (FIXTURES / "refund-2-line-items-restock.json", "refunds/create"),
    (FIXTURES / "transactions-list.json", "transactions/list"),
    (FIXTURES / "orders-list-presentment-money-nonascii.json", "orders/list"),
]


def _bag(shop: str, presentment: str) -> dict[str, Any]:
    return {
        "shop_money": {"amount": shop, "currency_code": "USD"},
        "presentment_money": {"amount": presentment, "currency_code": "EUR"},
    }


def _in_euros() -> str:
    """Shopify's refund fixture paid back in euros by a multi-currency shop.

    Its prices hold their tax (20%), and it refunds shipping with its tax
    and a fee: every part a refund in the buyer's currency is read from.
    """
    body = json.loads(SAMPLES[1][0].read_text(encoding="utf-8"))
    refund = body["refund"]
    for item in refund["refund_line_items"]:
        item["subtotal_set"] = _bag("199.00", "179.10")
        item["total_tax_set"] = _bag("33.17", "29.85")
    refund["order_adjustments"] = [
        {
            "id": 1030976842,
            "order_id": 450789469,
            "refund_id": 509562969,
            "amount": "-10.00",
            "tax_amount": "-1.67",
            "kind": "shipping_refund",
            "reason": "Shipping refund",
            "amount_set": _bag("-10.00", "-9.00"),
            "tax_amount_set": _bag("-1.67", "-1.50"),
        }
    ]
    refund["refund_shipping_lines"] = [
        {
            "id": 623176827,
            "shipping_line_id": 369256396,
            "subtotal_amount_set": _bag("10.00", "9.00"),
            "tax_amount_set": _bag("1.67", "1.50"),
        }
    ]
    refund["duties"] = [{"duty_id": 1, "amount_set": _bag("5.00", "4.50")}]
    refund["additional_fees"] = [{"id": 1040000001}]
    refund["total_additional_fees_set"] = _bag("2.58", "2.32")
    # 2 x 179.10 + 9.00 + 4.50 + 2.32
    refund["transactions"][0].update(amount="374.02", currency="EUR")
    return json.dumps(body)


TEXTS = [
    *((path.read_text(encoding="utf-8"), topic) for path, topic in SAMPLES),
    (_in_euros(), "refunds/create"),
]
# The fields the adapter reads: mutated more often than the rest.
READ = frozenset(
    {
        "id",
        "order_id",
        "line_item_id",
        "variant_id",
        "parent_id",
        "quantity",
        "price",
        "amount",
        "total_price",
        "total_tax",
        "currency",
        "created_at",
        "updated_at",
        "processed_at",
        "cancelled_at",
        "closed_at",
        "financial_status",
        "fulfillment_status",
        "status",
        "kind",
        "sku",
        "code",
        "phone",
        "country_code",
        "email",
        "taxes_included",
        "restock",
        "line_items",
        "discount_codes",
        "shipping_lines",
        "shipping_address",
        "customer",
        "transactions",
        "refund_line_items",
        # A refund in the buyer's currency, read in the shop's from its parts.
        "subtotal_set",
        "total_tax_set",
        "order_adjustments",
        "amount_set",
        "tax_amount_set",
        "refund_shipping_lines",
        "subtotal_amount_set",
        "duties",
        "additional_fees",
        "total_additional_fees_set",
        "shop_money",
        "presentment_money",
        "currency_code",
    }
)


class TestFuzz:
    """Mutated real payloads map onto valid records or raise an OrderkitError."""

    def test_the_refund_in_euros_reads(self) -> None:
        # Mutations start from a sample that reads, not one refused already.
        text, topic = TEXTS[-1]
        [refund] = ShopifyPayloads(currency="USD").parse(load_json(text), topic=topic)

        assert isinstance(refund, ChannelRefund)
        # 2 x 199.00 + 10.00 + 5.00 + 2.58: each tax once, inside its part.
        assert Money("415.58", "USD") == refund.amount

    # Five times the profile's examples: one parse costs about a millisecond.
    @settings(max_examples=5 * settings().max_examples)
    @given(case=payload_mutations(TEXTS, read=READ))
    def test_maps_or_refuses(
        self, case: tuple[Any, str], fuzz_tally: Counter[str]
    ) -> None:
        payload, topic = case
        try:
            tree = load_json(payload) if isinstance(payload, str) else payload
            records = ShopifyPayloads(currency="USD").parse(tree, topic=topic)
        except OrderkitError as error:
            fuzz_tally[f"refused: {type(error).__name__}"] += 1
            return
        except Exception:
            fuzz_tally["crashes"] += 1
            raise
        fuzz_tally["accepted"] += 1
        for record in records:
            if isinstance(record, ChannelOrder):
                check_channel_order(record)
