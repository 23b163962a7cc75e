"""Channel payloads, mutated: the fuzzing orderkit runs on its channel adapters.

`payload_mutations` breaks and mutates an adapter's own sample payloads;
`check_channel_order` checks what the adapter made of one; `NASTY_VALUES` are
the hostile values the mutations put where the adapter reads.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Collection, Iterator, Sequence
from decimal import Decimal
from typing import Any

import pendulum
from hypothesis import strategies as st

from orderkit.errors import OrderkitError
from orderkit.integrations import ChannelOrder, load_json
from orderkit.orders import (
    Applied,
    Order,
    Outcome,
    RefundDue,
    Rejected,
    Shipped,
    Stale,
    apply_all,
)
from orderkit.orders._parcels import unstocked_alone
from orderkit.pricing import PricingPolicy, validate
from orderkit.serialization import make_converter


NASTY_VALUES: tuple[Any, ...] = (
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
    "-Infinity",
    "199.999",
    "199.00000001",
    "158.9550",
    "158.95000001",
    "1E+400",
    "99999999999999999999999999999.0000",
    "XXX",  # ISO 4217 "no currency": a code, but of nothing to pay with
    "http://[abc/orders/1",  # urlsplit refuses the host
    "usd",
    "EUR",
    "ZZZ",
    "",
    " ",
    "\uff11\uff12\uff13",  # full-width 123
    "\uff11\uff19\uff19.\uff10\uff10",  # full-width 199.00
    "+86 138 0013 8000",
    "Ship &ndash; &#0; &bogus;",
    "138****8000",
    "+1 (555) 0100 ext. 9",
    "(650) 253-0000",
    "2008-01-10T11:00:00",
    "2017-03-22T16:28:02",
    "2017-03-22T19:28:02-03:00",
    "2008-02-30T11:00:00-05:00",
    "0001-01-01T00:00:00+05:00",
    "9999-12-31T23:59:59-05:00",
    "2017-03-22T25:61:00Z",
    "2013-03-24T23:07:53Z",
    "2013-03-24 23:07:53",
    "24 Mar 2013",
    "Sun, 24 Mar 2013 23:07:53 +0000",
    "Sun, 24 Mar 2013 23:07:53 -0000",
    "Sun, 24 Mar 2013 23:07:53 EST",
    "Sun, 24 Mar 2013 23:07:53 CEST",
    "Sun, 31 Feb 2013 23:07:53 +0000",
    "Mon, 01 Jan 0001 00:00:00 +0500",
    "Fri, 31 Dec 9999 23:59:59 -0500",
    "x" * 300,
    "长" * 10_001,
    "a\nb",
    "\x00",
    [],
    {},
    [1],
    {"id": 1},
    {"url": "https://example.com/x", "resource": "/orders/1/products"},
)
"""Hostile JSON values: edge numbers, numeric and currency look-alikes, odd
phone numbers, impossible, naive and out-of-range dates (ISO 8601 and RFC 2822),
huge and control-character text, and containers where scalars belong.

.. versionadded:: 0.1.0
"""

# A key with a scalar value and the comma after it, in compact or indented JSON.
_PAIR = re.compile(
    r'"(?:[^"\\]|\\.)*"\s*:\s*'
    r'(?:-?\d[\d.eE+-]*|"(?:[^"\\]|\\.)*"|true|false|null)\s*,'
)
# A number that is the value of a key.
_NUMBER = re.compile(r'":\s*(-?\d[\d.eE+-]*)')
# Six in eight texts stay whole; the rest get a repeated key or a NaN.
_EDITS = ("none",) * 6 + ("duplicate-key", "nan-number")
_MOMENT = pendulum.datetime(2100, 1, 1)
_CONVERTER = make_converter()


def _locations(value: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:  # noqa: ANN401 - JSON is any shape
    """Every place in the tree a value sits, as a path of keys and indexes."""
    if isinstance(value, dict):
        items: Any = value.items()
    elif isinstance(value, list):
        items = enumerate(value)
    else:
        return
    for key, item in items:
        yield (*path, key)
        yield from _locations(item, (*path, key))


def _broken(draw: st.DrawFn, text: str) -> str:
    """The text, or (two times in eight) with a key repeated or a NaN number."""
    edit = draw(st.sampled_from(_EDITS))
    if edit == "duplicate-key":
        pairs = list(_PAIR.finditer(text))
        if pairs:
            found = draw(st.sampled_from(pairs))
            return text[: found.end()] + found.group() + text[found.end() :]
    elif edit == "nan-number":
        numbers = list(_NUMBER.finditer(text))
        if numbers:
            found = draw(st.sampled_from(numbers))
            word = draw(st.sampled_from(["NaN", "Infinity", "-Infinity"]))
            return text[: found.start(1)] + word + text[found.end(1) :]
    return text


def _mutate(draw: st.DrawFn, tree: Any, read: Collection[str]) -> None:  # noqa: ANN401 - JSON is any shape
    """Drop a key or put a hostile value somewhere in the tree, up to twice."""
    for _ in range(draw(st.integers(0, 2))):
        places = list(_locations(tree))
        if not places:
            return
        focused = [p for p in places if p[-1] in read]
        focus: bool = draw(st.booleans())
        if focused and focus:
            places = focused
        where = draw(st.sampled_from(places))
        parent = tree
        for step in where[:-1]:
            parent = parent[step]
        if draw(st.booleans()) and isinstance(parent, dict):
            del parent[where[-1]]
        else:
            parent[where[-1]] = copy.deepcopy(
                draw(
                    st.sampled_from(NASTY_VALUES) | st.integers() | st.text(max_size=12)
                )
            )


def payload_mutations(
    samples: Sequence[tuple[str | bytes, str]], *, read: Collection[str] = ()
) -> st.SearchStrategy[tuple[Any, str]]:
    """A channel's sample payloads, broken or mutated, each with its topic.

    Each sample is a payload's JSON text and the topic it arrived under. A
    drawn payload is either the text, broken (a key repeated, a number made
    `NaN` or `Infinity`) so that `orderkit.integrations.load_json` refuses it,
    or the decoded tree with up to two mutations: a key dropped, or a value
    replaced by one of `NASTY_VALUES`, an integer or a short text. Paths that
    end in a key of ``read`` (the fields your adapter reads) are chosen half
    the time. Broken text keeps the sample's type (`str` or `bytes`).

    Feed each payload to your adapter (decoding text with `load_json`): it
    must map the payload or raise an `orderkit.errors.OrderkitError`, and
    every `ChannelOrder` it returns should pass `check_channel_order`.

    Raises:
        ValueError: No samples were given.

    .. versionadded:: 0.1.0
    """
    if not samples:
        raise ValueError("payload_mutations needs at least one sample payload")
    keys = frozenset(read)

    @st.composite
    def mutated(draw: st.DrawFn) -> tuple[Any, str]:
        data, topic = draw(st.sampled_from(samples))
        raw = isinstance(data, bytes)
        text = _broken(draw, data.decode("utf-8") if isinstance(data, bytes) else data)
        try:
            tree = load_json(text)
        except OrderkitError:
            return (text.encode("utf-8") if raw else text), topic
        _mutate(draw, tree, keys)
        return tree, topic

    return mutated()


def took(outcome: Outcome | Rejected) -> bool:
    """Whether a channel's own event left the order as it should.

    `Applied` or `RefundDue`, or a `Stale` parcel of unstocked lines alone
    once every stocked unit has shipped (a channel states it; nothing
    changes).
    """
    if isinstance(outcome, Applied | RefundDue):
        return True
    event = outcome.event
    return (
        isinstance(outcome, Stale)
        and isinstance(event, Shipped)
        and outcome.order.shipment(event.shipment_id) is None
        and unstocked_alone(outcome.order, event)
    )


def check_channel_order(
    record: ChannelOrder, *, refused_events_ok: bool = False
) -> None:
    """Check that an order an adapter accepted is one orderkit can work with.

    Its placement and events apply in order, each as `Applied` or `RefundDue`
    (or `Stale`, a parcel of unstocked lines alone after the last stocked
    unit: a gift card sent on its own);
    the order they make survives a round trip through
    `orderkit.serialization.make_converter()`; and its quote passes
    `orderkit.pricing.validate` with `PricingPolicy(totals="accept_channel")`.
    Add checks of your own in your test.

    With `refused_events_ok=True`, an event the lifecycle refuses (a parcel
    of more units than ordered: `Rejected`) passes too, as it does at the
    desk: `OrderDesk.accept` takes the order in and holds it for a person
    (`review` `"event"`, or `"payment"` for a capture), rather than the
    whole notice being refused. The placement must still place the order.

    Raises:
        AssertionError: One of the above does not hold.
        OrderkitError: The quote cannot even be priced (a malformed quote).

    .. versionadded:: 0.1.0
    """
    batch = apply_all(None, [record.placed, *record.events], now=_MOMENT)
    if batch.order is None:
        raise AssertionError(f"{record.placed!r} placed no order")
    refused = [
        o
        for o in batch.outcomes
        if not (took(o) or (refused_events_ok and isinstance(o, Rejected)))
    ]
    if refused:
        raise AssertionError(
            f"events of {batch.order.order_id!r} did not apply: {refused}"
        )
    stored = _CONVERTER.loads(_CONVERTER.dumps(batch.order), Order)
    if stored != batch.order:
        raise AssertionError(
            f"{batch.order.order_id!r} changed in a round trip: {stored}"
        )
    verdict = validate(record.quote, PricingPolicy(totals="accept_channel"))
    if not verdict.ok:
        raise AssertionError(
            f"the quote of {record.placed.order_id!r} does not validate:"
            f" {verdict.violations}"
        )
