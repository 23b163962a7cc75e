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
from collections.abc import Iterable, Sequence
from typing import final

import attrs
import pendulum

from orderkit._time import to_utc
from orderkit._validate import (
    as_tuple,
    instance_of,
    optional_text,
    plain_text,
    positive_money,
    text,
)
from orderkit.dedupe import IdempotencyKey
from orderkit.errors import (
    CurrencyMismatch,
    OrderMismatch,
    RefundExceedsCapture,
    ValidationError,
)
from orderkit.money import Money
from orderkit.orders import OrderEvent, OrderPlaced, OrderStatus, PaymentCaptured
from orderkit.orders._payments import refund_lines
from orderkit.pricing import Quote, RefundLine


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


def _order_refunds(value: Iterable[ChannelRefund]) -> tuple[ChannelRefund, ...]:
    return as_tuple(value, "refunds", ChannelRefund)


@final
@attrs.frozen(slots=True, kw_only=True)
class ChannelOrder:
    """One order as a channel reports it, mapped onto the canonical model.

    Attributes:
        placed: The event that creates the order: ids, buyer, address
            (phone normalised), lines, and when it was placed.
        quote: What the channel says about money: offers, shipping, tax and
            the total it charged, for `orderkit.pricing.validate`.
        status: The channel's status mapped onto the canonical lifecycle,
            for people and for `orderkit.services.status_drift`: the desk
            applies `events`, never `status` (`OrderDesk.accept` takes an
            order in at the status its placement and events reach). It may
            be ahead of the events, the channel knowing of facts it states
            no event for (a capture BigCommerce lists among its
            transactions, a parcel with no tracking number yet, a FieldMap
            status with no event mapped), or behind them (a notice still
            awaiting payment that states the capture); `status_drift`
            reports the difference once the order is stored: map an event
            for each status that should move the order.
        channel_status: The channel's own status text, as sent
            (`"authorized/unfulfilled"`), for people and for reconciliation.
        events: Later events the payload states (paid, cancelled, shipped),
            each under its own idempotency key, oldest first.
        updated_at: When the channel last changed the order (UTC), if it
            says: pulls resume from it.
        refunds: The money the channel sent back already, as the payload
            states it, whether or not the payload states a capture. When
            `events` capture money, each refund comes off one of those
            captures, the one it names, else the order's only capture (a
            channel may name the provider's transaction instead, or none),
            and `OrderDesk.accept` records them as it takes the order in.
            When they capture none (an order refunded in full before
            goods left, or one the payload no longer states paid), the
            refunds are for `OrderDesk.record_refund` on an order the desk
            has already, which places them on the payments it recorded;
            `accept` (and `OrderDesk.update`, for an order with no payment)
            parks them in the order's audit trail, and the first capture
            to reach the order places them before it applies: the notice
            of the capture may come later, and must owe back only what the
            channel still holds.

    Raises:
        OrderMismatch: The quote, an event or a refund is for another order
            (the quote's `field` is `order_id`, or `quote.channel` for a
            quote of another channel).
        CurrencyMismatch: A refund is in another currency than the order.
        RefundExceedsCapture: The refunds of a stated capture add up to more
            than it took (`field` is the first refund beyond it,
            `refunds[2].amount`).
        ValidationError: A field has the wrong type, the quote's lines
            are not the order's, a refund id repeats, or the order states
            captures and a refund comes off none of them
            (`refunds[0].payment_id`).

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
    refunds: tuple[ChannelRefund, ...] = attrs.field(
        default=(), converter=_order_refunds
    )

    def __attrs_post_init__(self) -> None:
        order_id = self.placed.order_id
        if self.quote.order_id != order_id:
            raise OrderMismatch(order_id, self.quote.order_id)
        if self.quote.channel != self.placed.channel:
            # An order id is unique within its channel only: another
            # channel's quote of the same id prices another order.
            raise OrderMismatch(order_id, self.quote.channel, "quote.channel")
        if self.quote.lines != self.placed.lines:
            raise ValidationError(
                "quote.lines", self.quote.lines, "are not the order's"
            )
        for event in self.events:
            if event.order_id != order_id:
                raise OrderMismatch(order_id, event.order_id)
        self._check_refunds()

    def _check_refunds(self) -> None:
        """Refuse refunds the desk could not take off the captures stated.

        Refunds of an order that states no capture are checked for the
        order, currency and id only: the desk places them on the payments
        it recorded (`OrderDesk.record_refund`).
        """
        if not self.refunds:
            return
        order_id, currency = self.placed.order_id, self.quote.currency.code
        captures = stated_captures(self.events, currency)
        left = {payment_id: amount for payment_id, amount, _ in captures}
        seen: set[str] = set()
        for i, refund in enumerate(self.refunds):
            if refund.order_id != order_id:
                raise OrderMismatch(order_id, refund.order_id, f"refunds[{i}].order_id")
            if refund.amount.currency.code != currency:
                raise CurrencyMismatch(
                    f"refunds[{i}].amount", refund.amount.currency.code, currency
                )
            if refund.refund_id in seen:
                raise ValidationError(
                    f"refunds[{i}].refund_id", refund.refund_id, "repeats a refund"
                )
            seen.add(refund.refund_id)
            if not left:
                continue
            payment_id = refund_payment(refund, tuple(left))
            if payment_id is None:
                raise ValidationError(
                    f"refunds[{i}].payment_id",
                    refund.payment_id,
                    f"names none of the {len(left)} captures the order states",
                )
            if refund.amount > left[payment_id]:
                raise RefundExceedsCapture(
                    f"refunds[{i}].amount",
                    refund.amount,
                    f"capture {payment_id!r} has {left[payment_id]} not refunded",
                )
            left[payment_id] -= refund.amount

    @property
    def order_id(self) -> str:
        """The channel's order id."""
        return self.placed.order_id

    @property
    def channel(self) -> str:
        """The channel's name."""
        return self.placed.channel


@final
@attrs.frozen(slots=True, kw_only=True)
class ChannelRefund:
    """Money a channel sent back for an order.

    The channel paid it back itself: `OrderDesk.record_refund` records it
    in the order's payment ledger, so that ending the order owes back only
    the rest.

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
    lines: tuple[RefundLine, ...] = attrs.field(default=(), converter=refund_lines)
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


def refund_payment(refund: ChannelRefund, payment_ids: Sequence[str]) -> str | None:
    """The payment a channel's refund comes off, among the order's `payment_ids`.

    The one it names when the order has it; else the order's only payment:
    a channel may name the provider's transaction where the order knows
    the capture under its own id (Shopify's refunds name the capture
    transaction, its orders `order-<id>`), or name none (WooCommerce).
    `None` when the order has no payment, or several and the refund names
    none of them: it cannot be placed without a guess.
    """
    if refund.payment_id in payment_ids:
        return refund.payment_id
    if len(payment_ids) == 1:
        return payment_ids[0]
    return None


def stated_captures(
    events: Iterable[OrderEvent], currency: str
) -> tuple[tuple[str, Money, pendulum.DateTime], ...]:
    """The money `events` capture in `currency`: payment id, amount and time.

    The first capture of each payment, as the lifecycle keeps it (a later
    one of the same payment is stale for the same amount, and refused for
    another, the order then waiting for a person); a zero capture takes
    nothing.
    """
    captures: dict[str, tuple[str, Money, pendulum.DateTime]] = {}
    for event in events:
        if (
            isinstance(event, PaymentCaptured)
            and event.amount.amount > 0
            and event.amount.currency.code == currency
            and event.payment_id not in captures
        ):
            captures[event.payment_id] = (
                event.payment_id,
                event.amount,
                event.occurred_at,
            )
    return tuple(captures.values())


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
