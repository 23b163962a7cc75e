"""Shopify's real payloads, mutated: every input maps or raises orderkit's error."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

from hypothesis import given, settings

from orderkit.adapters.channels.shopify import ShopifyPayloads
from orderkit.errors import OrderkitError
from orderkit.integrations import ChannelOrder, load_json
from orderkit.testing.strategies import check_channel_order, payload_mutations


FIXTURES = Path(__file__).resolve().parents[2] / "fixtures/channels/shopify"
SAMPLES = [
    (FIXTURES / "order-3-line-items-discount-shipping.json", "orders/updated"),
    (FIXTURES / "refund-2-line-items-restock.json", "refunds/create"),
    (FIXTURES / "transactions-list.json", "transactions/list"),
    (FIXTURES / "orders-list-presentment-money-nonascii.json", "orders/list"),
]
TEXTS = [(path.read_text(encoding="utf-8"), topic) for path, topic in SAMPLES]
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
    }
)


class TestFuzz:
    """Mutated real payloads map onto valid records or raise an OrderkitError."""

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
