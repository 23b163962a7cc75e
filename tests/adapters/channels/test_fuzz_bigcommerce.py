"""BigCommerce's recorded V2 orders, mutated: each maps or raises orderkit's error."""

from __future__ import annotations

import copy
import json
import re
from collections import Counter
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pendulum
from hypothesis import given, settings
from hypothesis import strategies as st

from orderkit.adapters.channels.bigcommerce import BigCommercePayloads
from orderkit.errors import OrderkitError
from orderkit.integrations import ChannelOrder, load_json
from orderkit.orders import Applied, Order, RefundDue, apply_all
from orderkit.pricing import PricingPolicy, validate
from orderkit.serialization import make_converter


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
NASTY: list[Any] = [
    None,
    True,
    False,
    0,
    -1,
    15,
    2**53 + 1,
    2**64,
    10**30,
    Decimal("1.5"),
    Decimal("1E+3"),
    "0",
    "-1",
    "0.5",
    "1e3",
    "NaN",
    "Infinity",
    "158.9550",
    "158.95000001",
    "1E+400",
    "99999999999999999999999999999.0000",
    "XXX",
    "usd",
    "EUR",
    "ZZZ",
    "",
    " ",
    "\uff11\uff12\uff13",  # full-width 123
    "+86 138 0013 8000",
    "138****8000",
    "(650) 253-0000",
    "Sun, 24 Mar 2013 23:07:53 +0000",
    "Sun, 24 Mar 2013 23:07:53 -0000",
    "Sun, 24 Mar 2013 23:07:53 EST",
    "Sun, 24 Mar 2013 23:07:53 CEST",
    "Sun, 31 Feb 2013 23:07:53 +0000",
    "Mon, 01 Jan 0001 00:00:00 +0500",
    "Fri, 31 Dec 9999 23:59:59 -0500",
    "24 Mar 2013",
    "2013-03-24 23:07:53",
    "2013-03-24T23:07:53Z",
    "x" * 300,
    "长" * 10_001,
    "a\nb",
    "\x00",
    [],
    {},
    [1],
    {"id": 1},
    {"url": "https://example.com/x", "resource": "/orders/1/products"},
]
MOMENT = pendulum.datetime(2100, 1, 1)
CONVERTER = make_converter()
# A key and its value in compact JSON, up to the comma after it.
PAIR = re.compile(r'"\w+":(?:-?\d+|"[^"]*"|true|false|null),')
NUMBER = re.compile(r'(?<=":)-?\d+(?=[,}])')


def locations(value: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    """Every place in the tree a value sits, as a path of keys and indexes."""
    if isinstance(value, dict):
        items: Any = value.items()
    elif isinstance(value, list):
        items = enumerate(value)
    else:
        return
    for key, item in items:
        yield (*path, key)
        yield from locations(item, (*path, key))


@st.composite
def mutated(draw: st.DrawFn) -> tuple[Any, str]:
    """A payload, its JSON text sometimes broken, its tree mutated up to twice."""
    text, topic = draw(st.sampled_from(TEXTS))
    edit = draw(st.sampled_from(["none"] * 6 + ["duplicate-key", "nan-number"]))
    if edit == "duplicate-key":
        found = draw(st.sampled_from(list(PAIR.finditer(text))))
        text = text[: found.end()] + found.group() + text[found.end() :]
    elif edit == "nan-number":
        found = draw(st.sampled_from(list(NUMBER.finditer(text))))
        word = draw(st.sampled_from(["NaN", "Infinity", "-Infinity"]))
        text = text[: found.start()] + word + text[found.end() :]
    try:
        tree = load_json(text)
    except OrderkitError:
        return text, topic
    for _ in range(draw(st.integers(0, 2))):
        places = list(locations(tree))
        read = [p for p in places if p[-1] in READ]
        if not places:
            break
        focus: bool = draw(st.booleans())
        if read and focus:
            places = read
        where = draw(st.sampled_from(places))
        parent = tree
        for step in where[:-1]:
            parent = parent[step]
        if draw(st.booleans()) and isinstance(parent, dict):
            del parent[where[-1]]
        else:
            parent[where[-1]] = copy.deepcopy(
                draw(st.sampled_from(NASTY) | st.integers() | st.text(max_size=12))
            )
    return tree, topic


def check_order(record: ChannelOrder) -> None:
    """An accepted order can be placed, moved by its events, priced and stored."""
    batch = apply_all(None, [record.placed, *record.events], now=MOMENT)
    assert batch.order is not None
    assert all(isinstance(o, Applied | RefundDue) for o in batch.outcomes)
    assert CONVERTER.loads(CONVERTER.dumps(batch.order), Order) == batch.order
    validate(record.quote, PricingPolicy(totals="accept_channel"))


class TestFuzz:
    """Mutated BigCommerce payloads map onto valid records or raise an OrderkitError."""

    # Five times the profile's examples: one parse costs well under a millisecond.
    @settings(max_examples=5 * settings().max_examples)
    @given(case=mutated())
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
            check_order(record)
