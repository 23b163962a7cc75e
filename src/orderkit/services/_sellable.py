"""Outbox messages, and the one every change of a sellable figure sends."""

from __future__ import annotations

import functools
import json
from collections.abc import Iterable
from json.encoder import encode_basestring

import pendulum

from orderkit.orders import MAX_STREAM_LENGTH, OutboxMessage
from orderkit.orders._messages import fit_id, made_message
from orderkit.ports import LedgerStore
from orderkit.services._balance_reads import balances_by_sku


# One encoder for every body: `json.dumps` given any option builds a new
# `JSONEncoder` per call. The same options, so the same bytes.
_encode = json.JSONEncoder(ensure_ascii=False, sort_keys=True).encode


def outbox_message(
    message_id: str, stream: str, topic: str, payload: object, now: pendulum.DateTime
) -> OutboxMessage:
    """A message with a JSON body (sorted keys, UTF-8, Chinese kept as is)."""
    body = _encode(payload).encode()
    return OutboxMessage(
        message_id=message_id, stream=stream, topic=topic, payload=body, created_at=now
    )


def sellable_stream(sku: str) -> str:
    """The stream of the SKU's `sellable` messages: one per SKU, in order."""
    return f"sku:{sku}"


def sellable_sku(stream: str) -> str:
    """The SKU whose `sellable` messages go on `stream`: `sellable_stream` undone."""
    return stream.removeprefix("sku:")


def sellable_messages(
    ledger: LedgerStore,
    skus: Iterable[str],
    cause: str,
    now: pendulum.DateTime,
    *,
    created_at: pendulum.DateTime | None = None,
) -> list[OutboxMessage]:
    """What every channel may sell now of `skus` (brief incident 3).

    One `sellable` message per SKU and change, on the SKU's own stream
    (`sku:<sku>`), so channels get a SKU's updates in order; `cause` names the
    change (a receipt's key) and keeps the message id the same on a retry.
    The body is `{"locations": {location: figure}, "sellable": total, "sku":
    sku}`: the SKU's sellable stock as of `now` at each location where it
    has a balance, and their sum; a channel that ships from some of them
    sums those. A SKU with no balance gets no message. Each message is
    dated `created_at` (`now` by default).
    """
    at = now if created_at is None else created_at
    messages = []
    for sku, balances in balances_by_sku(ledger, now, sorted(set(skus))).items():
        if not balances:
            continue
        # Every change of stock sends these (the order desk's every order):
        # a SKU at one location, as most are, has nothing to sort.
        if len(balances) == 1:
            (one,) = balances
            by_location = [(one.location, one.sellable())]
        else:
            by_location = sorted([(b.location, b.sellable()) for b in balances])
        messages.append(_sellable_message(sku, by_location, cause, at))
    return messages


@functools.lru_cache(maxsize=4096)
def _sku_parts(sku: str) -> tuple[str, str, bool]:
    """A SKU's JSON string, its stream, and whether the stream is one a message takes.

    Worked out once per SKU, not on every message: a busy SKU is told of on
    every order. Bounded, as a catalogue is not.
    """
    stream = sellable_stream(sku)
    fits = stream.isprintable() and len(stream) <= MAX_STREAM_LENGTH
    return encode_basestring(sku), stream, fits


def _sellable_message(
    sku: str,
    by_location: list[tuple[str, int]],
    cause: str,
    now: pendulum.DateTime,
) -> OutboxMessage:
    """`outbox_message` of a SKU's sellable figures, without the encoder's cost.

    Every change of a sellable figure sends one per SKU it moved (a commit
    or a shipment of committed units moves none). `by_location` is in
    location order. The body is built as `json.dumps(..., ensure_ascii=False,
    sort_keys=True)` writes it: its keys sorted, its separators, and its own
    string escapes.
    """
    if len(by_location) == 1:
        # One location, as most SKUs have: no join, no sum.
        ((place, total),) = by_location
        figures = f"{encode_basestring(place)}: {total}"
    else:
        figures = ", ".join([f"{encode_basestring(at)}: {n}" for at, n in by_location])
        total = sum([n for _, n in by_location])
    encoded, stream, stream_fits = _sku_parts(sku)
    body = (
        f'{{"locations": {{{figures}}}, "sellable": {total}, "sku": {encoded}}}'
    ).encode()
    message_id = fit_id(f"sellable:{sku}:{cause}")
    # What the constructor would check of the parts that vary (both start
    # with a name, so neither is blank; the id fits): a SKU or a cause it
    # would refuse goes to it, to be refused as it refuses them.
    if stream_fits and message_id.isprintable():
        return made_message(message_id, stream, "sellable", body, now)
    return OutboxMessage(
        message_id=message_id,
        stream=stream,
        topic="sellable",
        payload=body,
        created_at=now,
    )
