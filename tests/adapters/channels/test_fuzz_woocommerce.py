"""WooCommerce's documented payloads, mutated: each maps or raises orderkit's error."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

from hypothesis import given, settings

from orderkit.adapters.channels.woocommerce import WooCommercePayloads
from orderkit.errors import OrderkitError
from orderkit.integrations import ChannelOrder, load_json
from orderkit.testing.strategies import check_channel_order, payload_mutations


FIXTURES = Path(__file__).resolve().parents[2] / "fixtures/channels/woocommerce"
SAMPLES = [
    (FIXTURES / "order-v3-retrieve-2-line-items-shipping-tax.json", "order.updated"),
    (FIXTURES / "orders-v3-batch-create-update-delete.json", "orders/batch"),
    (FIXTURES / "refunds-v3-list.json", "orders/refunds"),
]
TEXTS = [(path.read_text(encoding="utf-8"), topic) for path, topic in SAMPLES]
# The fields the adapter reads: mutated more often than the rest.
READ = frozenset(
    {
        "id",
        "customer_id",
        "product_id",
        "variation_id",
        "quantity",
        "subtotal",
        "price",
        "total",
        "total_tax",
        "discount",
        "amount",
        "currency",
        "status",
        "date_created",
        "date_created_gmt",
        "date_modified_gmt",
        "date_paid_gmt",
        "transaction_id",
        "prices_include_tax",
        "sku",
        "name",
        "code",
        "phone",
        "email",
        "country",
        "billing",
        "shipping",
        "line_items",
        "shipping_lines",
        "coupon_lines",
        "meta_data",
        "key",
        "value",
        "href",
        "up",
        "_links",
        "create",
        "update",
        "error",
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
            records = WooCommercePayloads(currency="USD").parse(tree, topic=topic)
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
