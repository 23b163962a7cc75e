"""WooCommerce's documented payloads, mutated: each maps or raises orderkit's error."""

from __future__ import annotations

import copy
import re
from collections import Counter
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pendulum
from hypothesis import given, settings
from hypothesis import strategies as st

from orderkit.adapters.channels.woocommerce import WooCommercePayloads
from orderkit.errors import OrderkitError
from orderkit.integrations import ChannelOrder, load_json
from orderkit.orders import Applied, Order, RefundDue, apply_all
from orderkit.pricing import PricingPolicy, validate
from orderkit.serialization import make_converter


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
NASTY: list[Any] = [
    None,
    True,
    0,
    -1,
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
    "-Infinity",
    "199.999",
    "199.00000001",
    "1E+400",
    "XXX",
    "http://[abc/orders/1",  # urlsplit refuses the host
    "usd",
    "ZZZ",
    "",
    " ",
    "\uff11\uff12\uff13",  # full-width 123
    "\uff11\uff19\uff19.\uff10\uff10",  # full-width 199.00
    "+86 138 0013 8000",
    "Ship &ndash; &#0; &bogus;",
    "138****8000",
    "+1 (555) 0100 ext. 9",
    "2017-03-22T16:28:02",
    "2017-03-22T19:28:02-03:00",
    "2008-02-30T11:00:00-05:00",
    "0001-01-01T00:00:00+05:00",
    "9999-12-31T23:59:59-05:00",
    "2017-03-22T25:61:00Z",
    "x" * 300,
    "长" * 10_001,
    "a\nb",
    "\x00",
    [],
    {},
    [1],
    {"id": 1},
]
NAIVE_MOMENT = pendulum.datetime(2100, 1, 1)
CONVERTER = make_converter()


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
def mutated(draw: st.DrawFn) -> tuple[str, Any]:
    """A fixture, its JSON text sometimes broken, its tree mutated up to twice."""
    text, topic = draw(st.sampled_from(TEXTS))
    lines = text.split("\n")
    edit = draw(st.sampled_from(["none"] * 6 + ["duplicate-key", "nan-number"]))
    if edit == "duplicate-key":
        i = draw(st.sampled_from([i for i, x in enumerate(lines) if x.endswith(",")]))
        lines.insert(i, lines[i])
    elif edit == "nan-number":
        numbers = [i for i, x in enumerate(lines) if re.search(r": -?\d", x)]
        i = draw(st.sampled_from(numbers))
        word = draw(st.sampled_from(["NaN", "Infinity", "-Infinity"]))
        lines[i] = re.sub(r": -?[\d.]+", f": {word}", lines[i], count=1)
    text = "\n".join(lines)
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
    batch = apply_all(None, [record.placed, *record.events], now=NAIVE_MOMENT)
    assert batch.order is not None
    assert all(isinstance(o, Applied | RefundDue) for o in batch.outcomes)
    assert CONVERTER.loads(CONVERTER.dumps(batch.order), Order) == batch.order
    validate(record.quote, PricingPolicy(totals="accept_channel"))


class TestFuzz:
    """Mutated real payloads map onto valid records or raise an OrderkitError."""

    # Five times the profile's examples: one parse costs about a millisecond.
    @settings(max_examples=5 * settings().max_examples)
    @given(case=mutated())
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
                check_order(record)
