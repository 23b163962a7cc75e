"""What the outside world reports, in canonical form: orders, refunds, payments.

A channel adapter turns a payload into these records; the order desk applies
them. Each record carries an `IdempotencyKey` built from the part of the
payload that is the same on every re-send (the channel's object id and its
own version or event id, never a delivery attempt id), so a re-delivered
webhook is recognised as the same fact.
"""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Iterable
from typing import final

import attrs
import pendulum

from orderkit._time import to_utc
from orderkit._validate import (
    as_tuple,
    instance_of,
    optional_text,
    plain_text,
    positive_int,
    positive_money,
    text,
)
from orderkit.dedupe import IdempotencyKey
from orderkit.errors import OrderMismatch, ValidationError
from orderkit.money import Money
from orderkit.orders import OrderEvent, OrderPlaced, OrderStatus
from orderkit.pricing import Quote


__all__ = [
    "ChannelOrder",
    "ChannelPage",
    "ChannelRecord",
    "ChannelRefund",
    "ChannelTransaction",
    "RefundLine",
    "TransactionKind",
]


def _updated_at(value: dt.datetime | None) -> pendulum.DateTime | None:
    return None if value is None else to_utc(value, "updated_at")


def _created_at(value: dt.datetime) -> pendulum.DateTime:
    return to_utc(value, "created_at")


def _events(value: Iterable[OrderEvent]) -> tuple[OrderEvent, ...]:
    events: list[OrderEvent] = []
    for i, event in enumerate(as_tuple(value, "events", object)):
        if not isinstance(event, OrderEvent):
            raise ValidationError(f"events[{i}]", event, "must be an order event")
        events.append(event)
    return tuple(events)


@final
@attrs.frozen(slots=True, kw_only=True)
class ChannelOrder:
    """One order as a channel reports it, mapped onto the canonical model.

    Attributes:
        placed: The event that creates the order: ids, buyer, address
            (phone normalised), lines, and when it was placed.
        quote: What the channel says about money: offers, shipping, tax and
            the total it charged, for `orderkit.pricing.validate`.
        status: The channel's status mapped onto the canonical lifecycle.
        channel_status: The channel's own status text, as sent
            (`"authorized/unfulfilled"`), for people and for reconciliation.
        events: Later events the payload states (paid, cancelled, shipped),
            each under its own idempotency key, oldest first.
        updated_at: When the channel last changed the order (UTC), if it
            says: pulls resume from it.

    Raises:
        OrderMismatch: The quote or an event is for another order.
        ValidationError: A field has the wrong type, or the quote's lines
            are not the order's.

    .. versionadded:: 0.1.0
    """

    placed: OrderPlaced = attrs.field(validator=instance_of("placed", OrderPlaced))
    quote: Quote = attrs.field(validator=instance_of("quote", Quote))
    status: OrderStatus = attrs.field(converter=OrderStatus)
    channel_status: str = attrs.field(validator=plain_text("channel_status"))
    events: tuple[OrderEvent, ...] = attrs.field(default=(), converter=_events)
    updated_at: pendulum.DateTime | None = attrs.field(
        default=None, converter=_updated_at
    )

    def __attrs_post_init__(self) -> None:
        order_id = self.placed.order_id
        if self.quote.order_id != order_id:
            raise OrderMismatch(order_id, self.quote.order_id)
        if self.quote.lines != self.placed.lines:
            raise ValidationError(
                "quote.lines", self.quote.lines, "are not the order's"
            )
        for event in self.events:
            if event.order_id != order_id:
                raise OrderMismatch(order_id, event.order_id)

    @property
    def order_id(self) -> str:
        """The channel's order id."""
        return self.placed.order_id

    @property
    def channel(self) -> str:
        """The channel's name."""
        return self.placed.channel


@final
@attrs.frozen(slots=True)
class RefundLine:
    """Units of one order line a refund covers.

    Attributes:
        line_id: The order line.
        quantity: Units refunded.
        restock: Whether the channel put them back on sale.

    .. versionadded:: 0.1.0
    """

    line_id: str = attrs.field(validator=text("line_id"))
    quantity: int = attrs.field(validator=positive_int("quantity"))
    restock: bool = attrs.field(default=False, validator=instance_of("restock", bool))


def _refund_lines(value: Iterable[RefundLine]) -> tuple[RefundLine, ...]:
    return as_tuple(value, "lines", RefundLine)


@final
@attrs.frozen(slots=True, kw_only=True)
class ChannelRefund:
    """Money a channel sent back for an order.

    Attributes:
        refund_id: The channel's refund id.
        order_id: The order.
        key: What makes a re-delivery the same refund.
        amount: The money sent back, above zero.
        created_at: When the channel made it (UTC).
        lines: The units it covers (none for a refund of money only).
        payment_id: The payment transaction the money goes back to, if the
            channel says.
        reason: The reason given, if any.

    .. versionadded:: 0.1.0
    """

    refund_id: str = attrs.field(validator=text("refund_id"))
    order_id: str = attrs.field(validator=text("order_id"))
    key: IdempotencyKey = attrs.field(validator=instance_of("key", IdempotencyKey))
    amount: Money = attrs.field(validator=positive_money("amount"))
    created_at: pendulum.DateTime = attrs.field(converter=_created_at)
    lines: tuple[RefundLine, ...] = attrs.field(default=(), converter=_refund_lines)
    payment_id: str | None = attrs.field(
        default=None, validator=optional_text("payment_id")
    )
    reason: str = attrs.field(default="", validator=plain_text("reason"))


@final
class TransactionKind(enum.StrEnum):
    """What a payment transaction did.

    .. versionadded:: 0.1.0
    """

    @classmethod
    def _missing_(cls, value: object) -> TransactionKind:
        known = ", ".join(kind.value for kind in cls)
        raise ValidationError("kind", value, f"is not a transaction kind ({known})")

    AUTHORISATION = "authorisation"
    """Money set aside, not taken yet."""
    CAPTURE = "capture"
    """Money taken from an authorisation."""
    SALE = "sale"
    """Authorised and captured at once."""
    REFUND = "refund"
    """Money sent back against a capture or sale."""
    VOID = "void"
    """An authorisation released."""


@final
@attrs.frozen(slots=True, kw_only=True)
class ChannelTransaction:
    """One payment transaction a channel or provider reports.

    Attributes:
        transaction_id: The provider's id.
        order_id: The order.
        key: What makes a re-delivery the same transaction.
        kind: Authorisation, capture, sale, refund or void.
        amount: The amount, above zero.
        succeeded: Whether it went through (a failed one moves no money).
        created_at: When the provider made it (UTC).
        parent_id: The transaction it acts on (the authorisation a capture
            takes from, the capture a refund returns), if any.

    .. versionadded:: 0.1.0
    """

    transaction_id: str = attrs.field(validator=text("transaction_id"))
    order_id: str = attrs.field(validator=text("order_id"))
    key: IdempotencyKey = attrs.field(validator=instance_of("key", IdempotencyKey))
    kind: TransactionKind = attrs.field(converter=TransactionKind)
    amount: Money = attrs.field(validator=positive_money("amount"))
    succeeded: bool = attrs.field(validator=instance_of("succeeded", bool))
    created_at: pendulum.DateTime = attrs.field(converter=_created_at)
    parent_id: str | None = attrs.field(
        default=None, validator=optional_text("parent_id")
    )


ChannelRecord = ChannelOrder | ChannelRefund | ChannelTransaction
"""Anything a channel adapter parses a payload into."""


def _records(value: Iterable[ChannelRecord]) -> tuple[ChannelRecord, ...]:
    records: list[ChannelRecord] = []
    for i, record in enumerate(as_tuple(value, "records", object)):
        if not isinstance(record, ChannelOrder | ChannelRefund | ChannelTransaction):
            raise ValidationError(f"records[{i}]", record, "must be a channel record")
        records.append(record)
    return tuple(records)


@final
@attrs.frozen(slots=True, kw_only=True)
class ChannelPage:
    """One page of a pull: its records and where the next page starts.

    Attributes:
        records: The records, in the channel's order.
        cursor: The cursor of the next page; `None` when this was the last.

    .. versionadded:: 0.1.0
    """

    records: tuple[ChannelRecord, ...] = attrs.field(converter=_records)
    cursor: str | None = attrs.field(default=None, validator=optional_text("cursor"))
