"""BigCommerce's recorded V2 orders, mutated: each maps or raises orderkit's error."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

from hypothesis import given, settings

from orderkit.adapters.channels.bigcommerce import BigCommercePayloads
from orderkit.errors import OrderkitError
from orderkit.integrations import ChannelOrder, load_json
from orderkit.testing.strategies import check_channel_order, payload_mutations


FIXTURES = Path(__file__).resolve().parents[2] / "fixtures/channels/bigcommerce"
RECORDED = (FIXTURES / "orders-v2-list-recorded-2013.json").read_text(encoding="utf-8")
# The products of order 100 as GET /v2/orders/100/products would list them
# (written from BigCommerce's documented fields; see test_bigcommerce.py).
PRODUCTS = [
    {
        "id": 11,
        "product_id": 32,
        "variant_id": 53,
        "name": "Canvas Tote",
        "sku": "TOTE-NAT",
        "base_price": "50.0000",
        "price_ex_tax": "50.0000",
        "price_inc_tax": "50.0000",
        "quantity": 2,
    },
    {
        "id": 12,
        "product_id": 0,
        "variant_id": 0,
        "name": "Engraving service",
        "sku": "",
        "base_price": "58.9500",
        "price_ex_tax": "58.9500",
        "price_inc_tax": "58.9500",
        "quantity": 1,
    },
]


def _merged() -> list[Any]:
    body = load_json(RECORDED)
    body[0]["products"] = PRODUCTS
    return list(body)


def _compact(body: Any) -> str:
    return json.dumps(body, separators=(",", ":"))


TEXTS = [
    (RECORDED, "v2/orders"),
    (_compact(_merged()), "v2/orders"),
    (_compact(_merged()[0]), "v2/orders/{id}"),
]
# The fields the adapter reads: mutated more often than the rest.
READ = frozenset(
    {
        "id",
        "customer_id",
        "date_created",
        "date_modified",
        "status_id",
        "status",
        "is_deleted",
        "currency_code",
        "default_currency_code",
        "shipping_cost_ex_tax",
        "handling_cost_ex_tax",
        "total_tax",
        "total_inc_tax",
        "discount_amount",
        "coupon_discount",
        "billing_address",
        "first_name",
        "last_name",
        "street_1",
        "street_2",
        "city",
        "state",
        "zip",
        "country_iso2",
        "phone",
        "email",
        "products",
        "resource",
        "product_id",
        "variant_id",
        "sku",
        "name",
        "quantity",
        "price_ex_tax",
    }
)


class TestFuzz:
    """Mutated BigCommerce payloads map onto valid records or raise an OrderkitError."""

    # Five times the profile's examples: one parse costs well under a millisecond.
    @settings(max_examples=5 * settings().max_examples)
    @given(case=payload_mutations(TEXTS, read=READ))
    def test_maps_or_refuses(
        self, case: tuple[Any, str], fuzz_tally: Counter[str]
    ) -> None:
        payload, topic = case
        try:
            tree = load_json(payload) if isinstance(payload, str) else payload
            records = BigCommercePayloads().parse(tree, topic=topic)
        except OrderkitError as error:
            fuzz_tally[f"refused: {type(error).__name__}"] += 1
            return
        except Exception:
            fuzz_tally["crashes"] += 1
            raise
        fuzz_tally["accepted"] += 1
        for record in records:
            assert isinstance(record, ChannelOrder)
            check_channel_order(record)
