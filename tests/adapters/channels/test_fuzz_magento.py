"""MagentoPayloads under attack: Adobe's samples, mutated every way we can think of.

Every input either maps onto valid records (the order is placed, its events
apply, its quote prices, it survives the serializer) or raises a subclass of
`OrderkitError`. Anything else is a crash and fails the test. Each test
counts what it saw in the run's fuzz tallies: accepted, refused by error
type, and crashes (0).
"""

from __future__ import annotations

import copy
import datetime as dt
import json
from collections import Counter
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any, Final

import pendulum
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from orderkit.adapters.channels.magento import MagentoPayloads
from orderkit.errors import OrderkitError
from orderkit.integrations import (
    ChannelOrder,
    ChannelRecord,
    ChannelTransaction,
    load_json,
)
from orderkit.orders import Applied, Order, apply_all
from orderkit.pricing import price
from orderkit.serialization import make_converter


FIXTURES = Path(__file__).resolve().parents[2] / "fixtures/channels/magento"
SAMPLES: Final = {
    MagentoPayloads.ORDER_TOPIC: load_json(
        (FIXTURES / "order-rest-v1-get-admin.json").read_bytes()
    ),
    MagentoPayloads.INVOICE_TOPIC: load_json(
        (FIXTURES / "invoice-rest-v1-get.json").read_bytes()
    ),
}
CHANNEL = MagentoPayloads()
CONVERTER = make_converter()
FAR_FUTURE = pendulum.datetime(2100, 1, 1)

Where = tuple[str | int, ...]
DROP: Final = object()


class Raw(str):
    """A JSON token written as is: `NaN`, `Infinity`, `1e3`."""

    __slots__ = ()


def dump(value: object) -> str:
    """JSON text of a mutated payload: Decimals exact, raw tokens as written."""
    if isinstance(value, Raw):
        return str(value)
    if isinstance(value, dict):
        fields = (f"{json.dumps(k)}: {dump(v)}" for k, v in value.items())
        return "{" + ", ".join(fields) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(dump(item) for item in value) + "]"
    if isinstance(value, Decimal):
        return str(value)
    return json.dumps(value, ensure_ascii=False)


def paths(value: object, at: Where = ()) -> Iterator[Where]:
    """Every place inside a payload that holds a value, outermost first."""
    children: Iterator[tuple[str | int, object]]
    if isinstance(value, dict):
        children = iter(value.items())
    elif isinstance(value, list):
        children = enumerate(value)
    else:
        return
    for key, child in children:
        yield (*at, key)
        yield from paths(child, (*at, key))


def container(payload: Any, path: Where) -> Any:
    for key in path[:-1]:
        payload = payload[key]
    return payload


# Fields the adapter reads, or may read when present: mutations aim at them
# half the time, since the rest of a Magento payload is ignored by design.
READ = frozenset(
    {
        "entity_id",
        "increment_id",
        "order_id",
        "state",
        "status",
        "order_currency_code",
        "created_at",
        "updated_at",
        "items",
        "item_id",
        "parent_item_id",
        "product_type",
        "sku",
        "qty_ordered",
        "price",
        "name",
        "billing_address",
        "customer_id",
        "customer_email",
        "customer_firstname",
        "customer_lastname",
        "extension_attributes",
        "shipping_assignments",
        "shipping",
        "address",
        "country_id",
        "street",
        "region",
        "city",
        "postcode",
        "firstname",
        "lastname",
        "telephone",
        "is_virtual",
        "shipping_amount",
        "shipping_discount_amount",
        "discount_amount",
        "tax_amount",
        "discount_tax_compensation_amount",
        "shipping_discount_tax_compensation_amount",
        "grand_total",
    }
)
# Optional fields the samples leave out, which a mutation may add.
ABSENT = (
    "total_paid",
    "discount_description",
    "coupon_code",
    "is_virtual",
    "customer_id",
)


def full_width(text: str) -> str:
    """The text with its ASCII digits in their full-width forms (\uff10...)."""
    return text.translate({ord(d): ord(d) + 0xFEE0 for d in "0123456789"})


NASTY: Final[list[object]] = [
    # quantities and amounts
    0,
    -1,
    1_000_001,
    10**30,
    2**53 + 1,
    2**64,
    Decimal("1.5"),
    Decimal("19.999"),
    Decimal("0.001"),
    Decimal("-0"),
    Decimal("-16.00"),
    Decimal("1E+3"),
    Decimal("1E+400"),
    Decimal("1E-400"),
    "1e3",
    "22.00",
    "-5",
    "--5",
    Raw("NaN"),
    Raw("Infinity"),
    Raw("-Infinity"),
    Raw("1e3"),
    Raw("1E999999"),
    Raw("-0.0"),
    # currencies
    "USD",
    "usd",
    "XYZ",
    "BTC",
    "XAU",
    "JPY",
    "KWD",
    # times
    "2017-08-21 22:22:19",
    "2017-08-21T22:22:19Z",
    "2017-08-21T22:22:19+05:30",
    "2017-02-30 22:22:19",
    "2017-08-21 24:00:00",
    "0001-01-01 00:00:00",
    "0001-01-01T00:00:00+05:00",
    "9999-12-31T23:59:59-12:00",
    "Mon, 21 Aug 2017 22:22:19 -0000",
    "Mon, 21 Aug 2017 22:22:19 +0000",
    "2017-08-21 22:22:19\x00",
    # states, types, flags
    "new",
    "processing",
    "complete",
    "canceled",
    "closed",
    "holded",
    "payment_review",
    "pending_payment",
    "bundle",
    "configurable",
    "simple",
    1,
    2,
    3,
    True,
    False,
    None,
    # text, ids, phones, countries
    "",
    " ",
    "\x00",
    "line\nbreak",
    Raw('"\\ud800"'),
    "🦄",
    "x" * 300,
    "x" * 10_001,
    full_width("123"),
    full_width("512-555-1111"),
    "+86 138****8000",
    "555-0100",
    "+1 512 555 1111 ext 12",
    "AQ",
    "us",
    "U1",
    "CN",
    # shapes
    [],
    {},
    ["123 Oak Ave", 5],
    {"v": 1},
]


def retyped(value: object) -> list[object]:
    """The same value in other JSON types."""
    return [str(value), [value], {"value": value}, value is None]


@st.composite
def mutated(draw: st.DrawFn, topic: str) -> str:
    """A sample with one to four mutations, as JSON text."""
    payload = copy.deepcopy(SAMPLES[topic])
    for _ in range(draw(st.integers(1, 4), label="mutations")):
        every = list(paths(payload))
        aimed = [p for p in every if p[-1] in READ]
        aim = draw(st.booleans(), label="aim at a field the adapter reads")
        pool = aimed if aimed and aim else every
        if not pool:
            break
        where = draw(st.sampled_from(pool), label="path")
        parent = container(payload, where)
        key = where[-1]
        operation = draw(
            st.sampled_from(["drop", "nasty", "retype", "any", "add", "repeat"])
        )
        if operation == "drop":
            del parent[key]
        elif operation == "nasty":
            parent[key] = draw(st.sampled_from(NASTY))
        elif operation == "retype":
            parent[key] = draw(st.sampled_from(retyped(parent[key])))
        elif operation == "any":
            parent[key] = draw(
                st.one_of(
                    st.integers(),
                    st.decimals(allow_nan=False, allow_infinity=False),
                    st.text(max_size=30),
                )
            )
        elif operation == "add":
            payload[draw(st.sampled_from(ABSENT))] = draw(st.sampled_from(NASTY))
        elif isinstance(parent, list):
            parent.append(copy.deepcopy(parent[int(key)]))
    text = dump(payload)
    if draw(st.integers(0, 9)) == 0:
        # A repeated key, which json.loads would silently resolve to the last.
        first = draw(st.sampled_from(sorted(SAMPLES[topic])))
        text = text.replace("{", "{" + json.dumps(first) + ": 1, ", 1)
    return text


def check(given: str | object, topic: str, tally: Counter[str]) -> None:
    """Read one payload (JSON text or decoded); count the outcome; fail on a crash."""
    try:
        payload = load_json(given) if isinstance(given, str) else given
        records = CHANNEL.parse(payload, topic=topic)
    except OrderkitError as error:
        tally[f"refused: {type(error).__name__}"] += 1
        return
    except Exception as error:  # noqa: BLE001 - a crash is what we count
        tally["crashes"] += 1
        shown = given if isinstance(given, str) else dump(given)
        pytest.fail(f"{type(error).__name__}: {error} reading {shown[:2000]!r}")
    tally["accepted"] += 1
    for record in records:
        check_record(record)


def check_record(record: ChannelRecord) -> None:
    """An accepted record is a valid one: it applies, prices and round-trips."""
    if isinstance(record, ChannelOrder):
        batch = apply_all(None, [record.placed, *record.events], now=FAR_FUTURE)
        assert batch.order is not None
        assert all(isinstance(o, Applied) for o in batch.outcomes)
        assert CONVERTER.loads(CONVERTER.dumps(batch.order), Order) == batch.order
        price(record.quote)
        instants = [record.placed.occurred_at, record.updated_at]
        instants += [event.occurred_at for event in record.events]
    else:
        assert isinstance(record, ChannelTransaction)
        instants = [record.created_at]
    for instant in instants:
        assert isinstance(instant, pendulum.DateTime)
        assert instant.utcoffset() == dt.timedelta(0)


def report(name: str, tally: Counter[str], fuzz_tally: Counter[str]) -> None:
    fuzz_tally.update({f"{name} {key}": count for key, count in tally.items()})
    fuzz_tally["crashes"] += tally["crashes"]


class TestEveryFieldAlone:
    """Each field of each sample dropped, nulled or retyped, one at a time."""

    @pytest.mark.parametrize("topic", sorted(SAMPLES))
    def test_maps_or_raises_an_orderkit_error(
        self, topic: str, fuzz_tally: Counter[str]
    ) -> None:
        tally: Counter[str] = Counter()
        # Changed in place and put back after each read: a deep copy per case
        # would cost more than the read. The values are JSON types already.
        payload = copy.deepcopy(SAMPLES[topic])
        for where in list(paths(payload)):
            parent = container(payload, where)
            key = where[-1]
            original = parent[key]
            for value in [DROP, None, *retyped(original)]:
                if value is DROP:
                    del parent[key]
                else:
                    parent[key] = value
                check(payload, topic, tally)
                if isinstance(parent, list) and value is DROP:
                    parent.insert(int(key), original)
                else:
                    parent[key] = original
        assert payload == SAMPLES[topic]
        report(f"{topic} every field alone:", tally, fuzz_tally)
        assert tally["crashes"] == 0
        assert tally["accepted"] > 0


class TestMutations:
    """Random mutations of the samples, several at a time."""

    @pytest.mark.parametrize("topic", sorted(SAMPLES))
    def test_maps_or_raises_an_orderkit_error(
        self, topic: str, fuzz_tally: Counter[str]
    ) -> None:
        tally: Counter[str] = Counter()

        # Three times the profile's examples: each is a cheap read.
        @settings(max_examples=3 * settings().max_examples)
        @given(text=mutated(topic))
        def run(text: str) -> None:
            check(text, topic, tally)

        run()
        report(f"{topic} random mutations:", tally, fuzz_tally)
        assert tally["crashes"] == 0
