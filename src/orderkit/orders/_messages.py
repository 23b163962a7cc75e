"""Outbox messages: what a state change tells the world, written with the change."""

from __future__ import annotations

import datetime as dt
import hashlib
from typing import Final, final

import attrs
import pendulum

from orderkit._fast import builder
from orderkit._time import to_utc
from orderkit._validate import Validator
from orderkit.errors import ValidationError


MAX_STREAM_LENGTH: Final = 1024
"""The longest stream name an outbox keeps, in characters.

.. versionadded:: 0.1.0
"""

_MAX_ID_LENGTH = 255


def _created_at(value: dt.datetime) -> pendulum.DateTime:
    return to_utc(value, "created_at")


def _key_text(field: str, longest: int) -> Validator:
    """An attrs validator: printable text of 1 to `longest` characters."""

    def check(_instance: object, _attribute: object, value: object) -> None:
        if not isinstance(value, str) or not value or value.isspace():
            raise ValidationError(field, value, "must be a non-empty string")
        if len(value) > longest:
            raise ValidationError(field, value, f"must be at most {longest} characters")
        # Lone surrogates are not printable either: no store could write them.
        if not value.isprintable():
            raise ValidationError(field, value, "must not contain control characters")

    return check


def _bytes(field: str) -> Validator:
    """An attrs validator: exactly `bytes` (not `bytearray`, not `str`)."""

    def check(_instance: object, _attribute: object, value: object) -> None:
        if type(value) is not bytes:
            raise ValidationError(field, value, "must be bytes")

    return check


def _escape(part: str) -> str:
    # Percent-escape the separator so that ("a:b", "c") and ("a", "b:c") differ.
    return part.replace("%", "%25").replace(":", "%3A")


def order_stream(channel: str, order_id: str) -> str:
    """Return the stream of an order's messages: `order:<channel>:<order_id>`.

    `:` and `%` in a part are percent-escaped, so two orders never share a
    stream. A name longer than `MAX_STREAM_LENGTH` keeps its head and ends
    in the SHA-256 of the full name, so it stays unique and stable.

    Raises:
        ValidationError: `channel` or `order_id` is not printable text.

    .. versionadded:: 0.1.0
    """
    _check_channel(None, None, channel)
    _check_order_id(None, None, order_id)
    return _stream(channel, order_id)


def known_order_stream(channel: str, order_id: str) -> str:
    """`order_stream` of the channel and id of an `Order`, which checked them.

    An order's channel and id are non-blank printable text already: only
    their length, which an order does not bound, is left to check, and a
    part too long goes through `order_stream` to be refused as it refuses it.
    """
    if len(channel) > MAX_STREAM_LENGTH or len(order_id) > MAX_STREAM_LENGTH:
        return order_stream(channel, order_id)
    return _stream(channel, order_id)


def _stream(channel: str, order_id: str) -> str:
    full = f"order:{_escape(channel)}:{_escape(order_id)}"
    if len(full) <= MAX_STREAM_LENGTH:
        return full
    digest = hashlib.sha256(full.encode("utf-8", "surrogatepass")).hexdigest()
    return f"{full[:256]}:sha256={digest}"


_check_channel: Final = _key_text("channel", MAX_STREAM_LENGTH)
_check_order_id: Final = _key_text("order_id", MAX_STREAM_LENGTH)


def fit_id(text: str, longest: int = _MAX_ID_LENGTH) -> str:
    """`text` as an id of at most `longest` characters, the same on every call.

    An id built from names the stores take (SKUs and order ids of up to
    255 characters, keys of up to 4,096) may be longer than a message id
    may be: such an id keeps its head and ends in the SHA-256 of the whole,
    as a long `order_stream` does. An id that fits is `text` itself.
    """
    if len(text) <= longest:
        return text
    digest = hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()
    return f"{text[: longest - _HASHED]}:sha256={digest}"


_HASHED: Final = len(":sha256=") + 64


@final
@attrs.frozen(slots=True, kw_only=True)
class OutboxMessage:
    """One message a state change must send, kept in the outbox until it is.

    Write it in the same transaction as the change it reports (an
    `orderkit.ports.Outbox` joined to the unit of work): the change and the
    message are committed together or not at all. A relay publishes it
    afterwards, at least once; a consumer drops repeats by `message_id`
    (`orderkit.ports.Inbox`).

    Attributes:
        message_id: Unique per message, the same on every delivery: build
            it from what caused it (the desk's milestone for an order paid
            is `"milestone:order:douyin:DY-1:paid"`), so that a
            retried change adds nothing new.
        stream: What orders delivery: the messages of one stream are
            published in the order they were added, each only after the one
            before it was sent. An order's messages use
            `order_stream(channel, order_id)`; a SKU's stock updates, say,
            `"sku:RETRO-CLOCK"`. Printable text of 1 to
            `MAX_STREAM_LENGTH` characters.
        topic: What kind of message it is, for the publisher to route
            (`"milestone"`, `"sellable"`).
        payload: The message body, as bytes (usually JSON from
            `orderkit.serialization`); stores keep it verbatim.
        created_at: When the change happened (UTC).

    Raises:
        ValidationError: A field is empty, too long, holds control
            characters, or has the wrong type.
        NaiveDatetime: `created_at` is naive.

    .. versionadded:: 0.1.0
    """

    message_id: str = attrs.field(validator=_key_text("message_id", _MAX_ID_LENGTH))
    stream: str = attrs.field(validator=_key_text("stream", MAX_STREAM_LENGTH))
    topic: str = attrs.field(validator=_key_text("topic", _MAX_ID_LENGTH))
    payload: bytes = attrs.field(validator=_bytes("payload"))
    created_at: pendulum.DateTime = attrs.field(converter=_created_at)


_build_message: Final = builder(OutboxMessage)


def made_message(
    message_id: str,
    stream: str,
    topic: str,
    payload: bytes,
    created_at: dt.datetime,
) -> OutboxMessage:
    """An `OutboxMessage` orderkit made of checked parts, without checking them again.

    For orderkit's own messages only, never a caller's fields: `message_id`
    through `fit_id`, `stream` from `order_stream`, `topic` a constant, and
    every text they join printable and non-blank, checked where it came
    from; `payload` is bytes it encoded. The constructor would build the
    same message: only `created_at`, from a host's clock, is converted as it
    converts it.
    """
    return _build_message(message_id, stream, topic, payload, _created_at(created_at))
