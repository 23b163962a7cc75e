"""Shopify's order, refund and transaction payloads, read into canonical records.

`ShopifyPayloads` implements `orderkit.ports.ChannelPayloads` for the Admin
REST API and its webhooks. It is checked with Shopify's own sample payloads
(`Shopify/shopify_python_api` test fixtures) by
`orderkit.testing.contracts.ChannelContract`.

.. versionadded:: 0.1.0
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from decimal import Decimal
from itertools import product
from types import MappingProxyType
from typing import Any, Final, NamedTuple, final

import attrs
import pendulum

from orderkit.adapters.channels._common import (
    Unmapped,
    amount_offers,
    built,
    guest_id,
    join,
    key,
    mapped,
    objects,
    optional_currency,
    person,
    read_country,
    read_currency,
    read_flag,
    read_label,
    read_line_id,
    read_optional_id,
    read_optional_when,
    read_positive_money,
    require_lines,
    shipping_total,
    stamp,
)
from orderkit.adapters.channels._shopify_events import order_events
from orderkit.errors import (
    CurrencyMismatch,
    EmptyOrder,
    StructureError,
    ValidationError,
)
from orderkit.integrations import (
    ChannelOrder,
    ChannelRecord,
    ChannelRefund,
    ChannelTransaction,
    RefundLine,
    TransactionKind,
    WebhookVerifier,
    read_id,
    read_instant,
    read_list,
    read_money,
    read_object,
    read_phone,
    read_quantity,
    read_signed_money,
    read_status,
    read_text,
)
from orderkit.money import Currency, Money
from orderkit.orders import (
    Address,
    Buyer,
    OrderEvent,
    OrderLine,
    OrderPlaced,
    OrderStatus,
    Shipped,
)
from orderkit.pricing import AmountOff, Quote


__all__ = ["ShopifyPayloads"]

_CHANNEL: Final = "shopify"

_ORDER_TOPICS: Final = frozenset(
    {
        "orders/create",
        "orders/updated",
        "orders/paid",
        "orders/cancelled",
        "orders/fulfilled",
        "orders/partially_fulfilled",
    }
)
_ORDERS_PAGE: Final = "orders/list"
_REFUND: Final = "refunds/create"
_TRANSACTION: Final = "order_transactions/create"
_TRANSACTIONS_PAGE: Final = "transactions/list"
_TOPICS: Final = _ORDER_TOPICS | {
    _ORDERS_PAGE,
    _REFUND,
    _TRANSACTION,
    _TRANSACTIONS_PAGE,
}

_S = OrderStatus

# financial_status: what the buyer's money did. "authorized" is money set
# aside on the card, not taken: the order still awaits payment (canonical
# "paid" means captured). Refunded orders were paid first: their capture is
# stated whole, unless all of it went back before anything left (_captured).
_FINANCIAL: Final[Mapping[str, OrderStatus | Unmapped]] = {
    "pending": _S.PENDING_PAYMENT,
    "authorized": _S.PENDING_PAYMENT,
    "partially_paid": _S.PENDING_PAYMENT,
    "paid": _S.PAID,
    "partially_refunded": _S.PAID,
    "refunded": _S.PAID,
    "voided": Unmapped(
        "a voided authorisation on an order that is not cancelled has no"
        " canonical status: the order can neither be paid nor shipped"
    ),
}
_CAPTURED: Final = frozenset({"paid", "partially_refunded", "refunded"})
# Statuses at which goods have left: the desk can no longer cancel the order.
_GONE: Final = frozenset({_S.PARTIALLY_SHIPPED, _S.SHIPPED, _S.COMPLETED})

# fulfillment_status: null means unfulfilled; None here means "the financial
# status decides".
_FULFILMENT: Final[Mapping[str, OrderStatus | Unmapped | None]] = {
    "unfulfilled": None,
    "partial": _S.PARTIALLY_SHIPPED,
    "fulfilled": _S.SHIPPED,
    "restocked": Unmapped(
        "restocked items on an order that is not cancelled have no canonical"
        " status: read the order's refunds"
    ),
}

_KINDS: Final[Mapping[str, TransactionKind]] = {
    "authorization": TransactionKind.AUTHORISATION,
    "capture": TransactionKind.CAPTURE,
    "sale": TransactionKind.SALE,
    "refund": TransactionKind.REFUND,
    "void": TransactionKind.VOID,
}
# A pending transaction has moved no money yet; its key carries the status,
# so the later "success" of the same transaction is a new fact, not a clash.
_OUTCOMES: Final[Mapping[str, bool]] = {
    "success": True,
    "pending": False,
    "failure": False,
    "error": False,
}
_RESTOCK_TYPES: Final[Mapping[str, bool]] = {
    "no_restock": False,
    "cancel": True,
    "return": True,
    "legacy_restock": True,
}


def _refund_amounts(value: Mapping[str, Money]) -> Mapping[str, Money]:
    """`refund_amounts` checked, keyed by the refund ids as text."""
    if not isinstance(value, Mapping):
        raise ValidationError(
            "refund_amounts", value, "must map Shopify refund ids to Money"
        )
    amounts: dict[str, Money] = {}
    for refund_id, amount in value.items():
        field = f"refund_amounts[{refund_id!r}]"
        stated = read_id(refund_id, path=field)
        if not isinstance(amount, Money):
            raise ValidationError(field, amount, "must be a Money")
        if amount.amount <= 0:
            raise ValidationError(field, amount, "must be more than zero")
        if stated in amounts:
            raise ValidationError(field, amount, f"names refund {stated} twice")
        amounts[stated] = amount
    return MappingProxyType(amounts)


def _in_shop_currency(
    instance: ShopifyPayloads, _attribute: object, value: Mapping[str, Money]
) -> None:
    """Refuse a refund amount in another currency than the shop's, when known."""
    if instance.currency is None:
        return
    for refund_id, amount in value.items():
        if amount.currency != instance.currency:
            raise CurrencyMismatch(
                f"refund_amounts[{refund_id!r}]", amount, instance.currency.code
            )


@final
@attrs.frozen(slots=True, kw_only=True)
class ShopifyPayloads:
    """Shopify's payloads read into canonical records (channel `"shopify"`).

    Topics:

    - `orders/create`, `orders/updated`, `orders/paid`, `orders/cancelled`,
      `orders/fulfilled`, `orders/partially_fulfilled`: one order, as the
      webhook sends it (the bare order object) or as the REST API returns it
      (`{"order": {...}}`); gives one `ChannelOrder`. The topic does not
      change the reading: every one of them carries the whole order.
    - `orders/list`: a page of `GET orders.json` (`{"orders": [...]}`).
    - `refunds/create`: one refund (bare or `{"refund": {...}}`); gives a
      `ChannelRefund` for the money its successful `refund` transactions
      sent back, in the shop's currency (see "Refunds in the buyer's
      currency"), or nothing when it moved no money (a restock only, or an
      order edit's removal: see "Order edits"): give it to
      `OrderDesk.record_refund`.
    - `order_transactions/create`: one transaction, bare or wrapped.
    - `transactions/list`: a page of transactions, a JSON array or
      `{"transactions": [...]}`, at least one.

    Orders:

    - Lines: `line_items[i]` id, quantity (what is left of it once the
      order was edited: see "Order edits"), `price` (the unit price in the
      shop's `currency`), `sku`; a line without a SKU (custom items) is
      known by `shopify-variant-<variant_id>`, or `shopify-line-<id>`. A
      gift card (`gift_card`), an item that needs no shipping
      (`requires_shipping` false: a download, a service) and a custom item
      (no `sku`, no `variant_id`) are unstocked lines (`OrderLine.stocked`
      false).
    - Money: each of `discount_codes` is an `AmountOff` of its stated
      `amount` off the whole order (Shopify states the money taken, also for
      percentage codes), except a code of `type` `shipping`, whose amount
      comes off shipping; `shipping_lines` prices are summed into shipping,
      less those codes (never below zero);
      `total_tax` is the tax, `taxes_included` says whether prices hold it;
      `total_price` is the stated total. Automatic discounts without a code
      are not read: `orderkit.pricing.validate` reports them as a mismatch.
    - Buyer: `customer` (its id, name and phone; else the order's or the
      billing address's phone), else a guest named by the order's e-mail;
      address: `shipping_address`, else `billing_address` for orders that
      ship nothing; phones read with the address's
      `country_code` as the region.
    - Time: ISO 8601 with an offset, converted to UTC.
    - Status, in this order of precedence:

      | payload | canonical |
      |---|---|
      | `cancelled_at` set | cancelled |
      | `fulfilled`, paid, and `closed_at` set (archived) | completed |
      | `fulfillment_status` `fulfilled` | shipped |
      | `fulfillment_status` `partial`, every stocked unit sent | shipped |
      | `fulfillment_status` `partial` | partially_shipped |
      | `financial_status` `paid`, `partially_refunded`, `refunded` | paid |
      | `financial_status` `pending`, `authorized`, `partially_paid` | pending_payment |
      | `financial_status` `voided`, or `restocked` | `UnknownStatus` |

      The last row has no honest canonical status, so it is reported
      with the reason; any other value raises `UnknownStatus` too. `closed_at` alone is
      Shopify's archiving, not canonical closure of an unpaid order, so it
      changes nothing else.
    - Events: `PaymentCaptured` of `total_price` when `financial_status`
      says the money was captured (`authorized` is not a capture; a free
      order's is zero: see below), dated `processed_at` (else
      `created_at`), the only stable time the payload gives; the payment is
      `order-<id>` because the order names no transaction
      (`transactions/list` has the provider's ids). The capture is the
      whole total even when part was refunded (`partially_refunded`), the
      same on every notice: the desk takes refunds off what ending the
      order owes through the order's payment ledger. The order's `refunds`
      that moved money are its `ChannelOrder.refunds`, in the shop's
      currency, with or without a capture, each read as `refunds/create`
      reads it (same key, `payment_id` the parent transaction; one without
      its own `created_at` is dated by its last refund transaction).
      `OrderDesk.accept` records them off the capture; record them (and
      each `refunds/create`) with `OrderDesk.record_refund` before the
      events of an order the desk holds (answered `AlreadyAccepted`). An
      order refunded in full (`refunded`) before any goods left states no
      capture, only its refunds (for an order the desk holds paid): Shopify
      holds none of it, so cancelled it owes nothing back, and not
      cancelled the desk keeps it awaiting payment, never picks it,
      `status_drift` reports it (Shopify ahead) and `close_unpaid` closes
      it at its deadline unless Shopify cancels it first; once a capture
      reaches it (or it was paid before), the desk holds it for a person
      (`review` gains `"refunded"`) and does not pick it. Refunded in full
      after goods left (partially shipped, shipped, completed), it states
      the capture and its refunds: its parcels apply only to a paid order,
      and a shipped order is never cancelled. `Cancelled`
      at `cancelled_at` with the `cancel_reason`. Each of `fulfillments`
      whose `status` is `success` and that names a `tracking_company` and a
      `tracking_number` (the carrier's acknowledgement) is a `Shipped` of
      its `line_items` at its `created_at`, the fulfilment id as the
      shipment id; the earliest of them carrying stocked units also states
      `PickingStarted` at the same time (a parcel leaves only once picked).
      Other fulfilments (pending, cancelled, no tracking yet) state
      nothing. A fulfilment of unstocked lines alone (a gift card sent on
      its own) is stated once one carrying stocked units is, or when the
      order has none (before, it would move a paid order past picking with
      its goods on the shelf); after the last stocked unit the lifecycle
      finds it `Stale`.
    - Free orders: an order whose `total_price` is zero (a 100% discount,
      free samples) and whose `financial_status` is `paid` states a
      `PaymentCaptured` of zero, dated and keyed as any capture: the desk
      takes it in paid, commits its stock and picks it, `close_unpaid`
      leaves it alone, and cancelling it owes nothing back. A zero capture
      is stated for no other order: a free order not marked paid is
      awaiting payment as Shopify says.

    Order edits: an order edited in Shopify's admin (or by an app, through
    GraphQL's `orderEdit...` mutations) keeps each line's `quantity` at
    what was bought; since Admin API 2024-01 each line item also states
    `current_quantity`, the units ordered less those removed or refunded
    since, and a line set to zero stays listed at zero. Where a line states
    it, what the order reads is what the buyer now gets: the line's
    quantity is its `current_quantity`, plus the units the order's money
    refunds (its `ChannelOrder.refunds`) name, which the desk cancels
    itself when it records them (`Order.cancelled_units`): read out of the
    line too, they would be taken off twice. Never more than `quantity`,
    nor fewer than the line's successful fulfilments carried (an edit
    removes only units not yet fulfilled); a line with nothing left is not
    among the order's lines (`OrderLine` holds one unit or more), and an
    order with none left is refused (`EmptyOrder` at `line_items`).
    `OrderDesk.update` then sees another quantity or a dropped line and
    holds the order as `"edited"`; a first `accept` takes in only what is
    left. The removal also shows as a refund that moves no money
    (`refund_line_items` of `restock_type` `cancel`, no transactions): it
    states no `ChannelRefund` (there is no money to record), and the
    quantity is how the desk learns of it. Money Shopify later sends back
    for the edit is a refund of its own. An edited order (a line read
    below its `quantity`) is priced at its `current_total_price` and
    `current_total_tax`, and its discount codes off the goods give up what
    `current_total_discounts` is below `total_discounts` (the share of the
    discount that went with the removed units; the last code first, none
    below zero), so that the pricing check of a first `accept` compares
    the current lines with the current total; its capture stays
    `total_price`, what the buyer paid. An order also refunded with money
    for some units is priced the same way, while its lines keep the
    refunded units: the check may then hold it for a person (`"pricing"`).
    An order whose lines state no `current_quantity` (older API versions),
    or state it at `quantity`, reads as before.

    Refunds in the buyer's currency: a multi-currency shop pays a refund
    back in the order's `presentment_currency`, and its transactions state
    only that money. Such a refund is read in the shop's currency from its
    parts, each stated in both (`shop_money`, `presentment_money`): its
    `refund_line_items` (`subtotal_set`, `total_tax_set`), its
    `refund_shipping_lines` (`subtotal_amount_set`, and `tax_amount_set`
    when stated) unless an order adjustment of kind `shipping_refund`
    states that shipping, its `duties` (`amount_set`) and its refunded
    fees (`total_additional_fees_set`), less its `order_adjustments`
    (`amount_set`, `tax_amount_set`: Shopify writes a shipping refund or a
    refunded bare amount negative, money kept back positive). Whether a
    part's amount holds its tax is not stated with it (where the order's
    prices include tax, `taxes_included`, a line's `subtotal` does, and
    the `refunds/create` webhook does not carry that flag), so the lines,
    the shipping and the other adjustments are each read both ways, tax
    added to the amount and tax included in it: at most eight readings.
    Only when the readings that add up, in presentment money, to exactly
    what its successful refund transactions sent back all give the same
    sum in shop money, at the rates Shopify priced the order at, is that
    sum the refund's amount. Otherwise (a part missing or in a third
    currency, fees listed without their total, money the parts do not
    list, two readings that add up but differ in the shop's money, a
    payload older than API 2019-10) the refund is not guessed at and never
    left out: reading it raises `CurrencyMismatch` at the refund's first
    successful transaction's `currency`, or at the part at fault. Its
    message says what to do: record the refund by hand with
    `OrderDesk.record_refund`, a `ChannelRefund` in the shop's currency
    under the refund's key (below), and give the same amount in
    `refund_amounts` under the refund's id. Until then an order payload
    listing the refund is refused as a whole, on every notice: read
    without the refund, a cancellation would owe back money Shopify
    already returned. With it, the refund is read at that amount, its
    parts unread, in order payloads and in `refunds/create` alike. A
    `refunds/create` payload with no part stating both currencies, read
    without a shop `currency`, is read in its transactions' currency
    (`OrderDesk.record_refund` refuses it when that is not the order's).

    Keys (the same on every re-send): placed is
    `(shopify, order.placed, <id>, <updated_at>)`, so a re-delivered version
    is a duplicate and an edited one a new, stale fact; paid is
    `(…, order.paid, <id>, <processed_at>)`; cancelled
    `(…, order.cancelled, <id>, <cancelled_at>)`; shipped
    `(…, fulfillment, <id>, <fulfilment id>)`; picking
    `(…, order.picking, <id>, <id of the earliest such fulfilment>)`; a refund
    `(…, refund, <order_id>, <refund_id>)`; a transaction
    `(…, transaction, <order_id>, <id>/<status>)`.

    Attributes:
        currency: The shop's currency, for payloads that state none (the
            transactions list); payloads that state one use theirs.
        refund_amounts: Refund id (as text; an integer is taken as its
            digits) to that refund's amount in the shop's currency, as you
            recorded it by hand (from Shopify's admin or payout report)
            for a refund paid in the buyer's currency that cannot be read
            exactly (see above). Used instead of the refund's parts, which
            must not contradict it: where they read exactly it must be
            their amount, and for a refund paid in the shop's currency it
            must be what Shopify states. Money sent back on the refund
            after you recorded it is not seen: raise its entry and record
            the refund again (`OrderDesk.record_refund` grows the refund
            the ledger settled under its id to the larger amount, under
            the same key; a smaller one changes nothing). Without a
            shop `currency`, a `refunds/create` amount in another currency
            is read as given, and `OrderDesk.record_refund` refuses it. It
            names a refund that moved money: one that moved
            none states no `ChannelRefund` either way.

    Raises:
        UnknownCurrency: `currency` is not an ISO 4217 code.
        ValidationError: `refund_amounts` is not a mapping of refund ids to
            amounts above zero (`field` is `refund_amounts[<id>]` for an
            entry); `CurrencyMismatch` when an amount is not in `currency`.

    .. versionadded:: 0.1.0
    """

    currency: Currency | None = attrs.field(default=None, converter=optional_currency)
    refund_amounts: Mapping[str, Money] = attrs.field(
        factory=dict, converter=_refund_amounts, validator=_in_shop_currency
    )

    @property
    def channel(self) -> str:
        """`"shopify"`."""
        return _CHANNEL

    @property
    def topics(self) -> frozenset[str]:
        """The order, order page, refund and transaction topics listed above."""
        return _TOPICS

    @staticmethod
    def webhook_verifier(secret: str | bytes) -> WebhookVerifier:
        """The check of Shopify's webhook signature, keyed by `secret`.

        Shopify signs each webhook's raw body with HMAC-SHA256, keyed by the
        app's client secret (or, for a webhook made in the store's admin,
        the signing secret shown there), and sends it base64-encoded in
        `X-Shopify-Hmac-Sha256`. Call `verify(body, headers)` before
        `parse`.

        Raises:
            ValidationError: `secret` is empty or not text or bytes.
        """
        return WebhookVerifier("X-Shopify-Hmac-Sha256", secret)

    def parse(self, payload: Any, *, topic: str) -> tuple[ChannelRecord, ...]:  # noqa: ANN401 - decoded JSON
        """Read one payload into canonical records, in payload order.

        Args:
            payload: The decoded JSON (`orderkit.integrations.load_json`).
            topic: One of `topics`.

        Returns:
            The records the payload states.

        Raises:
            ValidationError: The topic is unknown (`field` is `"topic"`), or
                a value cannot be read (`field` is its payload path), or
                an amount in `refund_amounts` is not what Shopify states
                for a refund paid in that currency (`field` is
                `refund_amounts[<id>]`); subclasses say more
                (`UnknownStatus`, `InvalidMoney`...).
            CurrencyMismatch: A refund paid in the buyer's currency whose
                amount in the shop's currency cannot be read exactly (see
                "Refunds in the buyer's currency"): record it by hand and
                give its amount in `refund_amounts`; or an amount in
                `refund_amounts` not in the order's currency.
        """
        if topic in _ORDER_TOPICS:
            order, at = _unwrap(payload, "order")
            return (self._order(order, at),)
        if topic == _ORDERS_PAGE:
            items = read_object(payload, path="payload").get("orders")
            _non_empty(items, path="orders")
            return tuple(
                self._order(item, item_at)
                for item_at, item in objects(items, path="orders")
            )
        if topic == _REFUND:
            refund, at = _unwrap(payload, "refund")
            return self._refund(refund, at)
        if topic == _TRANSACTION:
            transaction, at = _unwrap(payload, "transaction")
            return (self._transaction(transaction, at),)
        if topic == _TRANSACTIONS_PAGE:
            return self._transactions(payload)
        known = ", ".join(sorted(_TOPICS))
        raise ValidationError(
            "topic", topic, f"is not a Shopify topic read here ({known})"
        )

    # ------------------------------------------------------------------
    # Orders

    def _order(self, order: Mapping[str, Any], at: str) -> ChannelOrder:
        order_id = read_id(order.get("id"), path=join(at, "id"))
        currency = read_currency(order.get("currency"), path=join(at, "currency"))
        status = _status(order, at)
        created = read_instant(order.get("created_at"), path=join(at, "created_at"))
        updated = read_instant(order.get("updated_at"), path=join(at, "updated_at"))
        bought = _lines(order, at, currency)
        # An order that states what is left of its lines (API 2024-01 on)
        # reads as edited ("Order edits"): its refunds first, as the units
        # its money refunds name stay its lines (the desk cancels those).
        refunds = self._refunds(order, at, currency) if _states_current(order) else None
        lines = bought if refunds is None else _current_lines(order, at, bought)
        edited = lines != bought
        address = _address(order, at)
        # built(): a refusal by the canonical classes names this order's
        # path, not their own attributes.
        placed = built(
            at,
            OrderPlaced,
            order_id=order_id,
            key=key(_CHANNEL, "order.placed", order_id, stamp(updated)),
            occurred_at=created,
            channel=_CHANNEL,
            buyer=_buyer(order, at, order_id, address.country),
            address=address,
            lines=lines,
        )
        total = read_money(
            order.get("total_price"), currency, path=join(at, "total_price")
        )
        quote = built(
            at,
            Quote,
            order_id,
            _CHANNEL,
            lines,
            _goods_offers(order, at, currency, edited=edited),
            shipping=_shipping(order, at, currency),
            tax=_figure(order, at, currency, "total_tax", edited=edited),
            stated_total=_figure(order, at, currency, "total_price", edited=edited)
            if edited
            else total,
            taxes_included=read_flag(
                order.get("taxes_included"), path=join(at, "taxes_included")
            ),
        )
        captured = self._captured(order, total, status)
        events = order_events(order, at, order_id, created, captured, lines=lines)
        return built(
            at,
            ChannelOrder,
            placed=placed,
            quote=quote,
            status=_shipped_in_full(status, lines, events),
            channel_status=_channel_status(order),
            events=events,
            updated_at=updated,
            # Stated with or without a capture: an order the desk holds paid
            # needs them for `record_refund` even when Shopify states none.
            refunds=self._refunds(order, at, currency) if refunds is None else refunds,
        )

    def _captured(
        self, order: Mapping[str, Any], total: Money, status: OrderStatus
    ) -> Money | None:
        """The capture the order states, or `None`: see the class docstring."""
        financial = order.get("financial_status")
        if not total.amount:
            # A free order (a 100% discount): Shopify marks it paid with
            # nothing captured, and the zero capture moves it to paid.
            return total if financial == "paid" else None
        if financial not in _CAPTURED:
            return None
        if financial == "refunded" and status not in _GONE:
            # Refunded in full before anything left: Shopify holds none of
            # it, so a cancellation owes nothing back and nothing is picked
            # (stated paid, the order would be picked, refunds or not).
            return None
        # The whole capture, however much was refunded since: the desk
        # takes refunds off what it owes from the order's payment ledger,
        # which must see every refund against the same capture.
        return total

    # ------------------------------------------------------------------
    # Refunds and transactions

    def _refunds(
        self, order: Mapping[str, Any], at: str, currency: Currency
    ) -> tuple[ChannelRefund, ...]:
        """The order's `refunds` that moved money, in payload order, in `currency`.

        A refund paid in the buyer's presentment currency is read in the
        shop's from its parts (see `_shop_money`), or refused.
        """
        refunds = []
        for item_at, item in objects(
            order.get("refunds"), path=join(at, "refunds"), required=False
        ):
            for refund in self._refund(item, item_at, embedded=True, shop=currency):
                assert isinstance(refund, ChannelRefund)  # noqa: S101 - _refund's only record
                refunds.append(refund)
        return tuple(refunds)

    def _refund(
        self,
        refund: Mapping[str, Any],
        at: str,
        *,
        embedded: bool = False,
        shop: Currency | None = None,
    ) -> tuple[ChannelRecord, ...]:
        refund_id = read_id(refund.get("id"), path=join(at, "id"))
        order_id = read_id(refund.get("order_id"), path=join(at, "order_id"))
        stated = refund.get("created_at")
        created = (
            None
            if embedded and stated is None
            else read_instant(stated, path=join(at, "created_at"))
        )
        reason = read_text(refund.get("note"), path=join(at, "note"), required=False)
        restock = read_flag(refund.get("restock"), path=join(at, "restock"))
        lines = []
        for item_at, item in objects(
            refund.get("refund_line_items"),
            path=join(at, "refund_line_items"),
            required=False,
        ):
            lines.append(
                RefundLine(
                    read_id(item.get("line_item_id"), path=f"{item_at}.line_item_id"),
                    read_quantity(item.get("quantity"), path=f"{item_at}.quantity"),
                    _restock(item, item_at, default=restock),
                )
            )
        shop = shop or self.currency
        amount: Money | None = None
        # Where the money's currency is stated: what an unreadable amount
        # in the shop's currency is reported at.
        currency_at = ""
        # A successful refund transaction in another currency than the
        # first: its money cannot be added up.
        mixed: CurrencyMismatch | None = None
        # When the last of its money went back: the time of a refund an
        # order lists without its own.
        went: pendulum.DateTime | None = None
        parents: set[str] = set()
        for item_at, item in objects(
            refund.get("transactions"), path=join(at, "transactions"), required=False
        ):
            transaction = self._transaction(item, item_at)
            if transaction.kind is TransactionKind.REFUND and transaction.succeeded:
                if amount is None:
                    amount, currency_at = transaction.amount, join(item_at, "currency")
                elif transaction.amount.currency != amount.currency:
                    mixed = mixed or _unreadable(
                        _Refusal(join(item_at, "currency"), refund_id, shop),
                        transaction.amount.currency.code,
                        amount.currency,
                        f"is {transaction.amount.currency.code}, not the"
                        f" {amount.currency.code} of the refund's first"
                        " successful refund transaction",
                    )
                else:
                    amount += transaction.amount
                if transaction.parent_id is not None:
                    parents.add(transaction.parent_id)
                went = max(went or transaction.created_at, transaction.created_at)
        if amount is None or went is None:
            # Nothing went back (a restock only, or every attempt failed):
            # no money fact to report.
            return ()
        if refund_id in self.refund_amounts:
            refusal = _Refusal(currency_at, refund_id, shop)
            amount = self._recorded(
                refund_id,
                amount,
                shop,
                mixed=mixed is not None,
                parts=functools.partial(_readable, refund, at, amount, refusal),
            )
        elif mixed is not None:
            raise mixed
        else:
            amount = _shop_money(
                refund, at, amount, _Refusal(currency_at, refund_id, shop)
            )
        return (
            built(
                at,
                ChannelRefund,
                refund_id=refund_id,
                order_id=order_id,
                key=key(_CHANNEL, "refund", order_id, refund_id),
                amount=amount,
                created_at=went if created is None else created,
                lines=lines,
                payment_id=parents.pop() if len(parents) == 1 else None,
                reason=reason,
            ),
        )

    def _recorded(
        self,
        refund_id: str,
        paid: Money,
        shop: Currency | None,
        *,
        mixed: bool,
        parts: Callable[[], Money | None],
    ) -> Money:
        """The refund's amount in the shop's currency as the host recorded it.

        Raises:
            CurrencyMismatch: It is not in the shop's currency (the order's).
            ValidationError: Shopify states another amount for it: its
                money in that currency, or its parts read exactly in it.
        """
        stated = self.refund_amounts[refund_id]
        field = f"refund_amounts[{refund_id!r}]"
        if shop is not None and stated.currency != shop:
            raise CurrencyMismatch(field, stated, shop.code)
        if not mixed and paid.currency == stated.currency and paid != stated:
            # Shopify's own figure in the same currency: a hand-written one
            # that differs is a typing error, not a rate.
            raise ValidationError(
                field,
                stated,
                f"is not the {paid} the refund's successful refund transactions"
                " sent back",
            )
        if not mixed and paid.currency != stated.currency:
            _check_recorded(refund_id, stated, parts())
        return stated

    def _transactions(self, payload: Any) -> tuple[ChannelRecord, ...]:  # noqa: ANN401 - decoded JSON
        at, items = "", payload
        if not isinstance(payload, list):
            at, items = "transactions", read_object(payload, path="payload").get(at)
        _non_empty(items, path=at or "payload")
        return tuple(
            self._transaction(item, item_at)
            for item_at, item in objects(items, path=at)
        )

    def _transaction(self, item: Mapping[str, Any], at: str) -> ChannelTransaction:
        transaction_id = read_id(item.get("id"), path=join(at, "id"))
        order_id = read_id(item.get("order_id"), path=join(at, "order_id"))
        status = read_status(item.get("status"), _OUTCOMES, path=join(at, "status"))
        currency = self._currency_of(item, at)
        return ChannelTransaction(
            transaction_id=transaction_id,
            order_id=order_id,
            key=key(
                _CHANNEL,
                "transaction",
                order_id,
                f"{transaction_id}/{item['status']}",
            ),
            kind=read_status(item.get("kind"), _KINDS, path=join(at, "kind")),
            amount=read_positive_money(
                item.get("amount"), currency, path=join(at, "amount")
            ),
            succeeded=status,
            created_at=read_instant(
                item.get("created_at"), path=join(at, "created_at")
            ),
            parent_id=read_optional_id(
                item.get("parent_id"), path=join(at, "parent_id")
            ),
        )

    def _currency_of(self, item: Mapping[str, Any], at: str) -> Currency:
        stated = item.get("currency")
        if stated is not None:
            return read_currency(stated, path=join(at, "currency"))
        if self.currency is None:
            raise ValidationError(
                join(at, "currency"),
                None,
                "is missing, and ShopifyPayloads was given no shop currency",
            )
        return self.currency


def _unwrap(payload: object, name: str) -> tuple[Mapping[str, Any], str]:
    """The object itself (a webhook body) or under `name` (a REST response)."""
    outer = read_object(payload, path="payload")
    if name in outer:
        return read_object(outer[name], path=name), name
    return outer, ""


def _non_empty(value: object, *, path: str) -> None:
    if not read_list(value, path=path):
        raise StructureError(path, value, "states nothing: the page is empty", "page")


def _status(order: Mapping[str, Any], at: str) -> OrderStatus:
    financial_at = join(at, "financial_status")
    raw_financial = order.get("financial_status")
    financial = read_status(raw_financial, _FINANCIAL, path=financial_at)
    fulfilment_at = join(at, "fulfillment_status")
    # Shopify writes null for an order nothing of which has shipped.
    raw_fulfilment = order.get("fulfillment_status") or "unfulfilled"
    fulfilment = read_status(raw_fulfilment, _FULFILMENT, path=fulfilment_at)
    cancelled = read_optional_when(
        order.get("cancelled_at"), path=join(at, "cancelled_at")
    )
    closed = read_optional_when(order.get("closed_at"), path=join(at, "closed_at"))
    if cancelled is not None:
        return _S.CANCELLED
    paid = mapped(raw_financial, financial, path=financial_at)
    if fulfilment is None:
        return paid
    shipped = mapped(raw_fulfilment, fulfilment, path=fulfilment_at)
    if shipped is _S.SHIPPED and closed is not None and paid is _S.PAID:
        return _S.COMPLETED
    return shipped


def _shipped_in_full(
    status: OrderStatus, lines: tuple[OrderLine, ...], events: tuple[OrderEvent, ...]
) -> OrderStatus:
    """`shipped` for a `partial` order whose parcels carry every stocked unit.

    Shopify stays `partial` until its unstocked lines (a service, a gift
    card) are fulfilled by hand, which may never happen; the order has
    shipped by the lifecycle's rule, and reading it `partially_shipped`
    would show as drift for ever.
    """
    if status is not _S.PARTIALLY_SHIPPED:
        return status
    sent: dict[str, int] = {}
    for event in events:
        if isinstance(event, Shipped):
            for part in event.lines:
                sent[part.line_id] = sent.get(part.line_id, 0) + part.quantity
    stocked = [line for line in lines if line.stocked]
    if stocked and all(sent.get(line.line_id, 0) >= line.quantity for line in stocked):
        return _S.SHIPPED
    return status


def _channel_status(order: Mapping[str, Any]) -> str:
    fulfilment = order.get("fulfillment_status") or "unfulfilled"
    text = f"{order['financial_status']}/{fulfilment}"
    if order.get("cancelled_at"):
        text += " cancelled"
    if order.get("closed_at"):
        text += " closed"
    return text


def _lines(
    order: Mapping[str, Any], at: str, currency: Currency
) -> tuple[OrderLine, ...]:
    lines_at = join(at, "line_items")
    items = objects(order.get("line_items"), path=lines_at)
    require_lines(items, path=lines_at)
    lines = []
    seen: set[str] = set()
    for item_at, item in items:
        line_id = read_line_id(item.get("id"), path=f"{item_at}.id", seen=seen)
        lines.append(
            built(
                item_at,
                OrderLine,
                line_id,
                _sku(item, item_at, line_id),
                read_quantity(item.get("quantity"), path=f"{item_at}.quantity"),
                read_money(item.get("price"), currency, path=f"{item_at}.price"),
                read_text(item.get("name"), path=f"{item_at}.name", required=False)
                or read_text(
                    item.get("title"), path=f"{item_at}.title", required=False
                ),
                stocked=_stocked(item, item_at),
            )
        )
    return tuple(lines)


def _states_current(order: Mapping[str, Any]) -> bool:
    """Whether a line states its `current_quantity` (Admin API 2024-01 on)."""
    items = order.get("line_items")
    return isinstance(items, list) and any(
        isinstance(item, Mapping) and item.get("current_quantity") is not None
        for item in items
    )


def _current_lines(
    order: Mapping[str, Any], at: str, bought: tuple[OrderLine, ...]
) -> tuple[OrderLine, ...]:
    """The order's lines as its edits left them: see "Order edits".

    A line's quantity is its `current_quantity` (what was bought less the
    units removed or refunded since) plus the units the order's money
    refunds name (each of its `refunds` with transactions, settled or not:
    the desk cancels those itself once it records the refund, and would
    otherwise take them off twice; one whose money is still pending is no
    edit either). Never more than was bought, never fewer than its successful
    fulfilments carried (an edit removes only units not yet fulfilled). A
    line with nothing left is dropped: `OrderLine` holds one unit or more.

    Raises:
        EmptyOrder: Every line was removed (`field` is `line_items`).
        InvalidQuantity: A `current_quantity` is not a whole number of
            units, zero or more.
    """
    refunded = _money_refunded_units(order, at)
    carried = _fulfilled_units(order, at)
    lines_at = join(at, "line_items")
    lines = []
    items = objects(order.get("line_items"), path=lines_at)
    for (item_at, item), line in zip(items, bought, strict=True):
        stated = item.get("current_quantity")
        if stated is None:
            lines.append(line)
            continue
        current = _count(stated, path=f"{item_at}.current_quantity")
        left = max(
            current + refunded.get(line.line_id, 0), carried.get(line.line_id, 0)
        )
        if left >= line.quantity:
            lines.append(line)
        elif left:
            lines.append(attrs.evolve(line, quantity=left))
    if not lines:
        raise EmptyOrder(
            lines_at,
            [item.get("current_quantity") for _, item in items],
            "every line was removed by an order edit (current_quantity 0):"
            " Shopify cancels such an order instead",
        )
    return tuple(lines)


def _money_refunded_units(order: Mapping[str, Any], at: str) -> dict[str, int]:
    """The units the order's refunds with transactions name, by line id.

    A refund with no transaction (`restock_type` `cancel`) is an edit's
    removal; one with transactions sends money back, or will: its units
    are the refund's, whether its money settled yet or not.
    """
    units: dict[str, int] = {}
    for refund_at, refund in objects(
        order.get("refunds"), path=join(at, "refunds"), required=False
    ):
        if not refund.get("transactions"):
            continue
        for item_at, item in objects(
            refund.get("refund_line_items"),
            path=join(refund_at, "refund_line_items"),
            required=False,
        ):
            line_id = read_id(item.get("line_item_id"), path=f"{item_at}.line_item_id")
            quantity = read_quantity(item.get("quantity"), path=f"{item_at}.quantity")
            units[line_id] = units.get(line_id, 0) + quantity
    return units


def _count(value: object, *, path: str) -> int:
    """A whole number of units, zero or more."""
    if (type(value) is int and value == 0) or value == "0":
        return 0
    return read_quantity(value, path=path)


def _fulfilled_units(order: Mapping[str, Any], at: str) -> dict[str, int]:
    """The units the order's successful fulfilments carried, by line id."""
    carried: dict[str, int] = {}
    for item_at, item in objects(
        order.get("fulfillments"), path=join(at, "fulfillments"), required=False
    ):
        if item.get("status") != "success":
            continue
        for part_at, part in objects(
            item.get("line_items"), path=f"{item_at}.line_items", required=False
        ):
            line_id = read_id(part.get("id"), path=f"{part_at}.id")
            quantity = read_quantity(part.get("quantity"), path=f"{part_at}.quantity")
            carried[line_id] = carried.get(line_id, 0) + quantity
    return carried


def _figure(
    order: Mapping[str, Any], at: str, currency: Currency, name: str, *, edited: bool
) -> Money:
    """The order's `name` figure; for an edited order, its `current_<name>` if stated.

    `total_price`, `total_tax` and `total_discounts` are what the order
    was placed at; their `current_` figures what its edits (and refunds)
    left.
    """
    current = f"current_{name}"
    if edited and order.get(current) is not None:
        name = current
    return read_money(order.get(name), currency, path=join(at, name))


def _goods_offers(
    order: Mapping[str, Any], at: str, currency: Currency, *, edited: bool
) -> tuple[AmountOff, ...]:
    """The discount codes off the goods; an edited order's less what its edits removed.

    Shopify takes a removed unit's share of an order's discount off with
    it: `current_total_discounts` is less than `total_discounts` by as
    much. The codes state what they took at checkout, so that difference
    comes off them, the last code first, none below zero.
    """
    codes = amount_offers(
        order,
        at,
        currency,
        codes="discount_codes",
        amount="amount",
        kind_of=_off_the_goods,
    )
    if not edited or order.get("current_total_discounts") is None:
        return codes
    if order.get("total_discounts") is None:
        return codes
    removed = _figure(order, at, currency, "total_discounts", edited=False) - _figure(
        order, at, currency, "total_discounts", edited=True
    )
    offers = list(codes)
    for i in reversed(range(len(offers))):
        if removed.amount <= 0:
            break
        taken = min(removed, offers[i].amount)
        offers[i] = attrs.evolve(offers[i], amount=offers[i].amount - taken)
        removed -= taken
    return tuple(offers)


def _stocked(item: Mapping[str, Any], at: str) -> bool:
    """Whether the line's units come out of stock.

    Not a gift card, not an item that needs no shipping (a download, a
    service), and not a custom item (neither SKU nor variant: its made-up
    SKU can never have stock). A line with a SKU and no variant is a
    product deleted since: stocked, as it was sold.
    """
    gift_card = read_flag(item.get("gift_card"), path=f"{at}.gift_card")
    ships = read_flag(
        item.get("requires_shipping"), path=f"{at}.requires_shipping", default=True
    )
    variant = read_optional_id(item.get("variant_id"), path=f"{at}.variant_id")
    custom = variant is None and not item.get("sku")
    return ships and not gift_card and not custom


def _sku(item: Mapping[str, Any], at: str, line_id: str) -> str:
    if item.get("sku"):
        return read_label(item["sku"], path=f"{at}.sku")
    variant = read_optional_id(item.get("variant_id"), path=f"{at}.variant_id")
    if variant is not None:
        return f"shopify-variant-{variant}"
    return f"shopify-line-{line_id}"


def _address(order: Mapping[str, Any], at: str) -> Address:
    name = "shipping_address"
    if order.get(name) is None:
        # Nothing ships (a gift card, a download): the billing address is
        # the buyer's only address.
        name = "billing_address"
    address_at = join(at, name)
    if order.get(name) is None:
        raise StructureError(
            join(at, "shipping_address"),
            None,
            "is missing, and so is billing_address",
            "address",
        )
    raw = read_object(order[name], path=address_at)
    country = read_country(raw.get("country_code"), path=f"{address_at}.country_code")

    def text(field: str) -> str:
        return read_text(raw.get(field), path=f"{address_at}.{field}", required=False)

    street = ", ".join(part for part in (text("address1"), text("address2")) if part)
    return built(
        address_at,
        Address,
        country=country,
        province=text("province"),
        city=text("city"),
        street=street,
        postcode=text("zip"),
        recipient=person(text("first_name"), text("last_name"), text("name")),
        phone=read_phone(raw.get("phone"), path=f"{address_at}.phone", region=country),
    )


def _buyer(order: Mapping[str, Any], at: str, order_id: str, region: str) -> Buyer:
    email = read_text(order.get("email"), path=join(at, "email"), required=False)
    phone_at, phone = join(at, "phone"), order.get("phone")
    name = ""
    buyer_id = guest_id(email, order_id)
    if order.get("customer") is not None:
        customer_at = join(at, "customer")
        customer = read_object(order["customer"], path=customer_at)
        buyer_id = read_id(customer.get("id"), path=f"{customer_at}.id")
        name = person(
            read_text(
                customer.get("first_name"),
                path=f"{customer_at}.first_name",
                required=False,
            ),
            read_text(
                customer.get("last_name"),
                path=f"{customer_at}.last_name",
                required=False,
            ),
        )
        if customer.get("phone"):
            phone_at, phone = f"{customer_at}.phone", customer["phone"]
    billing = order.get("billing_address")
    if not phone and isinstance(billing, dict) and billing.get("phone"):
        # The one who pays is the buyer: their number when no other is given.
        phone_at, phone = join(at, "billing_address.phone"), billing["phone"]
    return built(
        at,
        Buyer,
        buyer_id,
        name,
        read_phone(phone, path=phone_at, region=region),
        email or None,
    )


def _restock(item: Mapping[str, Any], at: str, *, default: bool) -> bool:
    # Newer API versions say per line (restock_type); older ones say once
    # for the whole refund (restock).
    if item.get("restock_type") is None:
        return default
    restock: bool = read_status(
        item["restock_type"], _RESTOCK_TYPES, path=f"{at}.restock_type"
    )
    return restock


class _Refusal(NamedTuple):
    """How to refuse a refund whose amount in the shop's currency is not exact."""

    # Where its money's currency is stated (its first successful refund
    # transaction's `currency`), unless a part is at fault.
    at: str
    refund_id: str
    # The shop's currency, when known.
    shop: Currency | None


class _Part(NamedTuple):
    """One part of a refund: what its money bag adds to the money sent back."""

    at: str
    # +1 when its money went back, -1 when it counts against that.
    sign: int
    bag: object
    # For a tax: the kind of part whose amount may already hold it
    # ("lines", "shipping", "adjustments"); None for any other part.
    tax_of: str | None = None


def _readable(
    refund: Mapping[str, Any], at: str, paid: Money, refusal: _Refusal
) -> Money | None:
    """The refund's amount in the shop's currency read from its parts, if it reads."""
    try:
        return _shop_money(refund, at, paid, refusal)
    except ValidationError:
        return None


def _check_recorded(refund_id: str, recorded: Money, read: Money | None) -> None:
    """Refuse a recorded amount that the refund's own parts contradict.

    A typing error in `refund_amounts` would otherwise win over what
    Shopify states exactly.
    """
    if read is not None and read != recorded:
        raise ValidationError(
            f"refund_amounts[{refund_id!r}]",
            recorded,
            f"is not the {read} the refund's parts state in the shop's currency",
        )


def _shop_money(
    refund: Mapping[str, Any], at: str, paid: Money, refusal: _Refusal
) -> Money:
    """What the refund sent back (`paid`, its transactions' sum) in the shop's currency.

    A multi-currency shop pays refunds back in the buyer's presentment
    currency; the refund's parts state their money in both (`_parts`). Their
    presentment sum must be `paid` exactly: only then is their shop sum, at
    the rates Shopify priced the order at, the refund's amount in the
    shop's currency. Without a known shop currency, the parts' shop
    currency is taken; when no part states one (a payload older than
    multi-currency), `paid` is the amount.

    Whether a part's amount already holds its tax is not stated (a shop
    whose prices include tax states a refunded line's `subtotal` with its
    tax in it), so each kind of taxed part (lines, shipping, the other
    order adjustments) is read both ways: tax added to its amount and tax
    included in it, at most eight readings. The refund is read only when
    every reading whose presentment sum is `paid` gives the same shop sum.

    Raises:
        CurrencyMismatch: The amount in the shop's currency cannot be read
            exactly (a part missing, in other currencies, no reading adding
            up to `paid`, or two that do giving different shop sums): the
            host records the refund by hand.
    """
    shop = refusal.shop
    if paid.currency == shop:
        return paid
    parts = _parts(refund, at)
    if shop is None:
        stated = [part for part in parts if part.bag is not None]
        if not stated:
            return paid
        _, shop = _side(stated[0].bag, stated[0].at, "shop_money")
        if paid.currency == shop:
            return paid
        refusal = refusal._replace(shop=shop)
    differs = f"is {paid.currency.code}, not the shop's {shop.code}, and the refund"
    if not parts:
        raise _unreadable(
            refusal,
            paid.currency.code,
            shop,
            f"{differs} states none of its parts (refund_line_items,"
            " order_adjustments, refund_shipping_lines, duties,"
            " total_additional_fees_set) in both currencies",
        )
    read = [
        (
            part,
            _bag_money(part, "presentment_money", paid.currency, refusal),
            _bag_money(part, "shop_money", shop, refusal),
        )
        for part in parts
    ]
    sums = _readings(read, paid.currency, shop)
    matches = sorted({own for sent, own in sums if sent == paid}, key=_amount)
    if not matches:
        added = " or ".join(
            str(m) for m in sorted({sent for sent, _ in sums}, key=_amount)
        )
        raise _unreadable(
            refusal,
            paid.currency.code,
            shop,
            f"{differs}'s parts add up to {added} (each kind's tax included in"
            f" or added to its amount), not the {paid} its successful refund"
            " transactions sent back",
        )
    if len(matches) > 1:
        raise _unreadable(
            refusal,
            paid.currency.code,
            shop,
            f"{differs}'s parts add up to {paid} read with their tax added and"
            f" read with it included, which give {' and '.join(map(str, matches))}",
        )
    [in_shop] = matches
    if in_shop.amount <= 0:
        raise _unreadable(
            refusal,
            paid.currency.code,
            shop,
            f"{differs}'s parts add up to {in_shop}",
        )
    return in_shop


def _readings(
    read: list[tuple[_Part, Money, Money]], presentment: Currency, shop: Currency
) -> set[tuple[Money, Money]]:
    """The parts' sums (presentment, shop), each kind's tax added or included."""
    kinds = sorted({part.tax_of for part, _, _ in read if part.tax_of is not None})
    sums: set[tuple[Money, Money]] = set()
    for flags in product((False, True), repeat=len(kinds)):
        included = {kind for kind, inside in zip(kinds, flags, strict=True) if inside}
        in_presentment, in_shop = Money.zero(presentment), Money.zero(shop)
        for part, sent, own in read:
            if part.tax_of not in included:
                in_presentment += sent if part.sign > 0 else -sent
                in_shop += own if part.sign > 0 else -own
        sums.add((in_presentment, in_shop))
    return sums


def _amount(money: Money) -> Decimal:
    return money.amount


def _parts(refund: Mapping[str, Any], at: str) -> list[_Part]:
    """The refund's parts that state money in shop and presentment currencies.

    What went back is the refunded lines (subtotal and tax), shipping,
    duties and additional fees, less the order adjustments: Shopify writes
    an adjustment negative when it adds to the money sent back (a shipping
    refund, a refund of a bare amount) and positive when it keeps some back
    (less than the lines' worth, or a refund still pending). Shipping is
    its `shipping_refund` adjustments where there are any; since API
    2024-10 the webhook leaves them out for `refund_shipping_lines`, read
    then. Fees are the refund's `total_additional_fees_set`: the shape of
    each of its `additional_fees` is not documented.
    """
    parts: list[_Part] = []
    for item_at, item in objects(
        refund.get("refund_line_items"),
        path=join(at, "refund_line_items"),
        required=False,
    ):
        parts.append(_Part(f"{item_at}.subtotal_set", 1, item.get("subtotal_set")))
        tax = item.get("total_tax_set")
        parts.append(_Part(f"{item_at}.total_tax_set", 1, tax, "lines"))
    adjustments = objects(
        refund.get("order_adjustments"),
        path=join(at, "order_adjustments"),
        required=False,
    )
    for item_at, item in adjustments:
        kind = "shipping" if item.get("kind") == "shipping_refund" else "adjustments"
        parts.append(_Part(f"{item_at}.amount_set", -1, item.get("amount_set")))
        tax = item.get("tax_amount_set")
        parts.append(_Part(f"{item_at}.tax_amount_set", -1, tax, kind))
    if not any(item.get("kind") == "shipping_refund" for _, item in adjustments):
        for item_at, item in objects(
            refund.get("refund_shipping_lines"),
            path=join(at, "refund_shipping_lines"),
            required=False,
        ):
            subtotal = item.get("subtotal_amount_set")
            parts.append(_Part(f"{item_at}.subtotal_amount_set", 1, subtotal))
            if item.get("tax_amount_set") is not None:
                tax = item["tax_amount_set"]
                parts.append(_Part(f"{item_at}.tax_amount_set", 1, tax, "shipping"))
    duties_at, duties = join(at, "duties"), refund.get("duties")
    if isinstance(duties, Mapping):
        # Shopify's reference shows the list wrapped in an object.
        duties_at, duties = join(duties_at, "duties"), duties.get("duties")
    for item_at, item in objects(duties, path=duties_at, required=False):
        parts.append(_Part(f"{item_at}.amount_set", 1, item.get("amount_set")))
    fees = refund.get("total_additional_fees_set")
    if fees is not None or refund.get("additional_fees"):
        # Fees listed without their total are a missing part, not nothing.
        parts.append(_Part(join(at, "total_additional_fees_set"), 1, fees))
    return parts


def _side(bag: object, part_at: str, side: str) -> tuple[Mapping[str, Any], Currency]:
    """One side (`shop_money`, `presentment_money`) of a money bag, and its currency."""
    money_at = f"{part_at}.{side}"
    money = read_object(read_object(bag, path=part_at).get(side), path=money_at)
    code_at = f"{money_at}.currency_code"
    return money, read_currency(money.get("currency_code"), path=code_at)


def _bag_money(part: _Part, side: str, currency: Currency, refusal: _Refusal) -> Money:
    """One side of a part's money bag, signed as written, in `currency`."""
    if part.bag is None:
        raise _unreadable(refusal, None, currency, "is missing", at=part.at)
    money, stated = _side(part.bag, part.at, side)
    money_at = f"{part.at}.{side}"
    if stated != currency:
        raise _unreadable(
            refusal,
            stated.code,
            currency,
            f"is not {currency.code}",
            at=f"{money_at}.currency_code",
        )
    value, amount_at = money.get("amount"), f"{money_at}.amount"
    if isinstance(value, str):
        return read_signed_money(value, currency, path=amount_at)
    if isinstance(value, Decimal | int) and not isinstance(value, bool) and value < 0:
        # An exact JSON number written negative (Shopify's reference does).
        return -read_money(-value, currency, path=amount_at)
    return read_money(value, currency, path=amount_at)


def _unreadable(
    refusal: _Refusal,
    value: object,
    expected: Currency,
    why: str,
    *,
    at: str | None = None,
) -> CurrencyMismatch:
    """The refusal of a refund whose amount in the shop's currency is not exact.

    `expected` is the currency the field at fault should be in (the shop's,
    or for a part's presentment money the buyer's).
    """
    path = refusal.at if at is None else at
    error = CurrencyMismatch(path, value, expected.code)
    shop = "the shop's currency" if refusal.shop is None else refusal.shop.code
    # Its own problem text says only which currency; the host needs to know
    # what to do instead (the base initialiser writes any subclass's message).
    ValidationError.__init__(
        error,
        path,
        value,
        f"{why}: the refund's amount in {shop} cannot be read exactly; record"
        f" the refund with OrderDesk.record_refund in {shop}, and give"
        " ShopifyPayloads the same amount as"
        f" refund_amounts[{refusal.refund_id!r}] so the order's later notices"
        " read",
    )
    return error


def _off_the_goods(code: Mapping[str, Any]) -> bool:
    """Whether a discount code takes its money off the goods, not off shipping."""
    return code.get("type") != "shipping"


def _shipping(order: Mapping[str, Any], at: str, currency: Currency) -> Money:
    """The shipping lines' prices, less the discount codes of type `shipping`."""
    shipping = shipping_total(order, at, currency, amount="price")
    for code in amount_offers(
        order,
        at,
        currency,
        codes="discount_codes",
        amount="amount",
        kind_of=lambda code: not _off_the_goods(code),
    ):
        shipping = max(shipping - code.amount, Money.zero(currency))
    return shipping
