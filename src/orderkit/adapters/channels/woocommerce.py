"""WooCommerce's REST v3 orders and refunds, read into canonical records.

`WooCommercePayloads` implements `orderkit.ports.ChannelPayloads` for the
WooCommerce REST API v3 and its order webhooks. It is checked with the
response examples of WooCommerce's own API documentation
(`woocommerce/woocommerce-rest-api-docs`) by
`orderkit.testing.contracts.ChannelContract`.

.. versionadded:: 0.1.0
"""

from __future__ import annotations

import html
import urllib.parse
from collections.abc import Iterable, Mapping
from typing import Any, Final, final

import attrs
import pendulum

from orderkit.adapters.channels._common import (
    Unmapped,
    amount_offers,
    built,
    check_channel,
    guest_id,
    join,
    key,
    mapped,
    objects,
    oldest_first,
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
from orderkit.errors import (
    ConfigurationError,
    InvalidMoney,
    InvalidQuantity,
    StructureError,
    ValidationError,
)
from orderkit.integrations import (
    ChannelOrder,
    ChannelRecord,
    ChannelRefund,
    RefundLine,
    WebhookVerifier,
    read_id,
    read_instant,
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
    Cancelled,
    OrderEvent,
    OrderLine,
    OrderPlaced,
    OrderStatus,
    PaymentCaptured,
)
from orderkit.pricing import Quote


__all__ = ["WooCommercePayloads"]

_ORDER_TOPICS: Final = frozenset({"order.created", "order.updated", "orders/retrieve"})
_BATCH: Final = "orders/batch"
_REFUNDS: Final = "orders/refunds"
_TOPICS: Final = _ORDER_TOPICS | {_BATCH, _REFUNDS}

# Naive times are read from the *_gmt fields, which WooCommerce documents as
# GMT; the fields without the suffix are in the site's zone, which the
# payload does not name.
_ZONE: Final = "UTC"

_S = OrderStatus

# WooCommerce's core statuses (wc_get_order_statuses, plus the two it keeps
# outside that list). "failed" is unpaid and payable again (WooCommerce lets
# the buyer retry), so it still awaits payment.
_STATUSES: Final[Mapping[str, OrderStatus | Unmapped]] = {
    "pending": _S.PENDING_PAYMENT,
    "on-hold": _S.PENDING_PAYMENT,
    "failed": _S.PENDING_PAYMENT,
    "processing": _S.PAID,
    "completed": _S.COMPLETED,
    "cancelled": _S.CANCELLED,
    "refunded": Unmapped(
        "a refunded WooCommerce order has no canonical status (the status it"
        " had before is lost): read its refunds with topic orders/refunds"
    ),
    "trash": Unmapped(
        "a trashed WooCommerce order has no canonical status: the status it"
        " had is kept in the post meta, not in the payload"
    ),
    "checkout-draft": Unmapped(
        "a checkout draft is a cart the buyer has not submitted, not a placed order"
    ),
}


def _product_ids(value: Iterable[int]) -> frozenset[int]:
    if isinstance(value, str | bytes) or not isinstance(value, Iterable):
        raise ValidationError(
            "unstocked_products", value, "must be a collection of product ids"
        )
    ids = frozenset(value)
    for product_id in ids:
        # Usually a set: the bad id is named, not a place in it.
        if type(product_id) is not int or product_id < 1:
            raise ValidationError(
                "unstocked_products", product_id, "must hold positive product ids"
            )
    return ids


@final
@attrs.frozen(slots=True, kw_only=True)
class WooCommercePayloads:
    """WooCommerce's payloads read into canonical records (channel `channel`).

    Topics:

    - `order.created`, `order.updated` (the webhooks) and `orders/retrieve`
      (`GET /wc/v3/orders/<id>`): one order object; gives one `ChannelOrder`.
    - `orders/batch`: the response of `POST /wc/v3/orders/batch`; gives the
      orders under `create` and `update`, in that order. Entries under
      `delete` are skipped: they show the order as it was before it was
      removed, which is no lifecycle fact; entries carrying an `error` are
      skipped too (that write failed and states no order). A batch with no
      order to read is refused.
    - `orders/refunds`: `GET /wc/v3/orders/<id>/refunds`, a non-empty array;
      gives one `ChannelRefund` each, for `OrderDesk.record_refund`.

    Orders:

    - Lines: `line_items[i]` id and quantity; the unit price is `subtotal /
      quantity` (before coupons: WooCommerce's `price` is `total / quantity`,
      after them, and often a float), refused when it is not a whole number
      of minor units. A line without a SKU is known by
      `woocommerce-variation-<id>`, `woocommerce-product-<id>`, or
      `woocommerce-line-<id>`. Names arrive HTML-escaped (`&ndash;`) and
      are unescaped: a title is plain text for people. A line is unstocked
      (`OrderLine.stocked` false: the desk holds and ships no stock for it)
      when its `product_id` or `variation_id` is in `unstocked_products`;
      the payload itself does not say which products are virtual or
      downloadable (the product does).
    - Money: every amount, string (`"158.9500"`) or bare number (`3`),
      read exactly in the order's `currency`; `coupon_lines` become
      `AmountOff` offers of their `discount`; `shipping_lines` totals are
      summed into shipping; `total_tax` is the tax; `total` the stated
      total. Line subtotals are always without tax in the REST API, so the
      tax is always added (`prices_include_tax` only says how the shop shows
      prices). `fee_lines` are not read: `orderkit.pricing.validate` reports
      them as a mismatch.
    - Buyer: `customer_id`, or (0, a guest) a guest named by the billing
      e-mail; billing name and phone. Address: `shipping`, else `billing`
      when the order ships nothing (no shipping country); phones read with
      the address's country as the region.
    - Time: the naive `*_gmt` fields, read in UTC.
    - Status (`status`):

      | WooCommerce | canonical |
      |---|---|
      | `pending`, `on-hold`, `failed` | pending_payment |
      | `processing` | paid |
      | `completed` | completed |
      | `cancelled` | cancelled |
      | `refunded`, `trash`, `checkout-draft` | `UnknownStatus`, with the reason |

      Any other status (a plugin's own) raises `UnknownStatus`.
    - Events: `PaymentCaptured` of `total` at `date_paid_gmt` when the order
      is not awaiting payment (zero for a free order: see below). It is the
      whole total even when part was refunded, the same on every notice:
      the desk takes refunds off what ending the order owes through the
      order's payment ledger. The order's `refunds` that moved money are
      its `ChannelOrder.refunds`, with or without a capture, keyed as
      topic `orders/refunds` keys them; the order lists only their id,
      `reason` and `total`, so each is dated `date_modified_gmt` (it was
      made by then), names no payment and lists no lines.
      `OrderDesk.accept` records them off the capture; record them (and
      the `orders/refunds` list) with `OrderDesk.record_refund` before the
      events of an order the desk holds (answered `AlreadyAccepted`). A
      cancelled order whose `refunds` give back all of it states no
      capture, only its refunds (for an order the desk holds paid): the
      shop holds none of it, so it owes nothing back. Paid with
      `transaction_id`
      (or `order-<id>` when the gateway gave none, as bank transfers do);
      `Cancelled` at `date_modified_gmt`
      for a cancelled order. A completed order's shipment has no tracking
      number in the payload, so no `Shipped` is made up.
    - Free orders: an order whose `total` is zero (a 100% coupon) that
      WooCommerce marks paid (`date_paid_gmt` set, not awaiting payment)
      states a `PaymentCaptured` of zero: the desk takes it in paid,
      commits its stock and picks it, `close_unpaid` leaves it alone, and
      cancelling it owes nothing back. A zero capture is stated for no
      other order.

    Refunds: `amount` in the adapter's `currency` (the list states none),
    the order id from the `_links.up` link (the list repeats it nowhere
    else), each line from `_refunded_item_id` with its (negative) quantity
    made positive; lines of zero units refund money only and are left out.
    `restock` is `False`: the response does not say (`api_restock` is a
    request flag it does not echo); `payment_id` is `None`.

    Keys (the same on every re-send), `<channel>` being `channel`: placed is
    `(<channel>, order.placed, <id>, <date_modified_gmt>)`, so a
    re-delivered version is a duplicate and a modified one a new, stale
    fact; paid `(…, order.paid, <id>, <date_paid_gmt>)`; cancelled
    `(…, order.cancelled, <id>, <date_modified_gmt>)`; a refund
    `(…, refund, <order_id>, <refund_id>)`.

    Attributes:
        currency: The shop's currency (WooCommerce > Settings > Currency),
            needed for refund lists, which state none.
        unstocked_products: The ids of the shop's products and variations
            that have no stock behind them: its virtual and downloadable
            ones (`GET /wc/v3/products?virtual=true`, `?downloadable=true`
            and their variations). Their lines are unstocked. Empty by
            default: every line is stocked.
        channel: The channel's name in every key, order and quote
            (`"woocommerce"`). Give each store its own (`"woo-eu"`,
            `"woo-cn"`) when one desk takes in several: every store numbers
            its orders from 1, so two stores' order 727 would otherwise be
            one order to the desk, and the second would be answered
            `AlreadyAccepted` with the first.

    Raises:
        UnknownCurrency: `currency` is not an ISO 4217 code.
        ValidationError: `channel` is not a non-empty printable name, or
            `unstocked_products` is not a collection of positive ids.

    .. versionadded:: 0.1.0
    """

    currency: Currency | None = attrs.field(default=None, converter=optional_currency)
    channel: str = attrs.field(default="woocommerce", validator=check_channel)
    unstocked_products: frozenset[int] = attrs.field(
        default=frozenset(), converter=_product_ids
    )

    @property
    def topics(self) -> frozenset[str]:
        """The order, batch and refund topics listed above."""
        return _TOPICS

    @staticmethod
    def webhook_verifier(secret: str | bytes) -> WebhookVerifier:
        """The check of WooCommerce's webhook signature, keyed by `secret`.

        WooCommerce signs each webhook's raw body with HMAC-SHA256, keyed by
        the secret set on the webhook (WooCommerce > Settings > Advanced >
        Webhooks), and sends it base64-encoded in `X-WC-Webhook-Signature`.
        Call `verify(body, headers)` before `parse`.

        Raises:
            ValidationError: `secret` is empty or not text or bytes.
        """
        return WebhookVerifier("X-WC-Webhook-Signature", secret)

    def parse(self, payload: Any, *, topic: str) -> tuple[ChannelRecord, ...]:  # noqa: ANN401 - decoded JSON
        """Read one payload into canonical records, in payload order.

        Args:
            payload: The decoded JSON (`orderkit.integrations.load_json`).
            topic: One of `topics`.

        Returns:
            The records the payload states.

        Raises:
            ValidationError: The topic is unknown (`field` is `"topic"`), or
                a value cannot be read (`field` is its payload path);
                subclasses say more (`UnknownStatus`, `InvalidMoney`...).
            ConfigurationError: A refund list, and no `currency` was given.
        """
        if topic in _ORDER_TOPICS:
            return (_order(read_object(payload, path="payload"), "", self),)
        if topic == _BATCH:
            return _batch(payload, self)
        if topic == _REFUNDS:
            return self._refunds(payload)
        known = ", ".join(sorted(_TOPICS))
        raise ValidationError(
            "topic", topic, f"is not a WooCommerce topic read here ({known})"
        )

    def _refunds(self, payload: object) -> tuple[ChannelRecord, ...]:
        items = objects(payload, path="")
        if not items:
            raise StructureError("payload", payload, "lists no refund", "refunds")
        if self.currency is None:
            raise ConfigurationError(
                "currency",
                "a WooCommerce refund list states no currency:"
                " give WooCommercePayloads(currency=...)",
            )
        return tuple(
            _refund(item, at, self.currency, self.channel) for at, item in items
        )


def _batch(payload: object, shop: WooCommercePayloads) -> tuple[ChannelRecord, ...]:
    batch = read_object(payload, path="payload")
    records: list[ChannelRecord] = []
    for part in ("create", "update"):
        for at, item in objects(batch.get(part), path=part, required=False):
            if item.get("error") is None:
                records.append(_order(item, at, shop))
    if not records:
        raise StructureError(
            "payload", payload, "states no order under create or update", "batch"
        )
    return tuple(records)


def _order(
    order: Mapping[str, Any], at: str, shop: WooCommercePayloads
) -> ChannelOrder:
    channel = shop.channel
    order_id = read_id(order.get("id"), path=join(at, "id"))
    status_at = join(at, "status")
    raw_status = order.get("status")
    status = mapped(
        raw_status, read_status(raw_status, _STATUSES, path=status_at), path=status_at
    )
    currency = read_currency(order.get("currency"), path=join(at, "currency"))
    created = _when(order, at, "date_created_gmt")
    modified = _when(order, at, "date_modified_gmt")
    lines = _lines(order, at, currency, shop.unstocked_products)
    address = _address(order, at)
    # built(): a refusal by the canonical classes names this order's path,
    # not their own attributes.
    placed = built(
        at,
        OrderPlaced,
        order_id=order_id,
        key=key(channel, "order.placed", order_id, stamp(modified)),
        occurred_at=created,
        channel=channel,
        buyer=_buyer(order, at, order_id, address.country),
        address=address,
        lines=lines,
    )
    total = read_money(order.get("total"), currency, path=join(at, "total"))
    quote = built(
        at,
        Quote,
        order_id,
        channel,
        lines,
        amount_offers(order, at, currency, codes="coupon_lines", amount="discount"),
        shipping=shipping_total(order, at, currency, amount="total"),
        tax=read_money(order.get("total_tax"), currency, path=join(at, "total_tax")),
        stated_total=total,
        taxes_included=False,
    )
    # Read for its type only: see the class docstring on why tax is added.
    read_flag(order.get("prices_include_tax"), path=join(at, "prices_include_tax"))
    events: list[OrderEvent] = []
    paid = read_optional_when(
        order.get("date_paid_gmt"), path=join(at, "date_paid_gmt"), zone=_ZONE
    )
    refunds = _listed_refunds(
        order,
        at,
        currency=currency,
        channel=channel,
        order_id=order_id,
        modified=modified,
    )
    returned = sum((r.amount for r in refunds), Money.zero(total.currency))
    # A cancelled order refunded in full states no capture (see the class
    # docstring): the shop holds none of it.
    held = status is not _S.CANCELLED or not total.amount or returned < total
    captured: PaymentCaptured | None = None
    if paid is not None and status is not _S.PENDING_PAYMENT and held:
        # Printable, as a payment id must be: refused here, at its payload path.
        payment = read_label(
            order.get("transaction_id"), path=join(at, "transaction_id"), required=False
        )
        captured = built(
            at,
            PaymentCaptured,
            order_id=order_id,
            key=key(channel, "order.paid", order_id, stamp(paid)),
            occurred_at=paid,
            payment_id=payment or f"order-{order_id}",
            amount=total,
        )
        events.append(captured)
    if status is _S.CANCELLED:
        events.append(
            built(
                at,
                Cancelled,
                order_id=order_id,
                key=key(channel, "order.cancelled", order_id, stamp(modified)),
                occurred_at=modified,
                reason="cancelled in WooCommerce",
            )
        )
    return built(
        at,
        ChannelOrder,
        placed=placed,
        quote=quote,
        status=status,
        channel_status=str(raw_status),
        events=oldest_first(events),
        updated_at=modified,
        # Stated with or without a capture: an order the desk holds paid
        # needs them for `record_refund` even when this one states none.
        refunds=refunds,
    )


def _listed_refunds(  # noqa: PLR0913 - the order, and what every refund repeats
    order: Mapping[str, Any],
    at: str,
    *,
    currency: Currency,
    channel: str,
    order_id: str,
    modified: pendulum.DateTime,
) -> tuple[ChannelRefund, ...]:
    """The refunds the order lists that moved money, in payload order.

    The list gives each refund's id, reason and total only: a refund is
    dated when the order was last modified (it was made by then), and names
    no payment; its lines are read with topic `orders/refunds`.
    """
    refunds = []
    for refund_at, refund in objects(
        order.get("refunds"), path=join(at, "refunds"), required=False
    ):
        # WooCommerce writes a refund's total negative ("-10.00").
        amount = read_signed_money(
            refund.get("total"), currency, path=f"{refund_at}.total"
        )
        if amount.amount > 0:
            raise InvalidMoney(
                f"{refund_at}.total", refund.get("total"), "must be zero or negative"
            )
        refund_id = read_id(refund.get("id"), path=f"{refund_at}.id")
        if amount.amount:
            refunds.append(
                ChannelRefund(
                    refund_id=refund_id,
                    order_id=order_id,
                    key=key(channel, "refund", order_id, refund_id),
                    amount=-amount,
                    created_at=modified,
                    reason=read_text(
                        refund.get("reason"),
                        path=f"{refund_at}.reason",
                        required=False,
                    ),
                )
            )
    return tuple(refunds)


def _when(record: Mapping[str, Any], at: str, name: str) -> pendulum.DateTime:
    return read_instant(record.get(name), path=join(at, name), zone=_ZONE)


def _lines(
    order: Mapping[str, Any], at: str, currency: Currency, unstocked: frozenset[int]
) -> tuple[OrderLine, ...]:
    lines_at = join(at, "line_items")
    items = objects(order.get("line_items"), path=lines_at)
    require_lines(items, path=lines_at)
    lines = []
    seen: set[str] = set()
    for item_at, item in items:
        line_id = read_line_id(item.get("id"), path=f"{item_at}.id", seen=seen)
        quantity = read_quantity(item.get("quantity"), path=f"{item_at}.quantity")
        name = read_text(item.get("name"), path=f"{item_at}.name", required=False)
        lines.append(
            built(
                item_at,
                OrderLine,
                line_id,
                _sku(item, item_at, line_id),
                quantity,
                _unit_price(item, item_at, currency, quantity),
                html.unescape(name),
                stocked=not _products(item, item_at) & unstocked,
            )
        )
    return tuple(lines)


def _products(item: Mapping[str, Any], at: str) -> set[int]:
    """The ids of the line's product and variation (WooCommerce writes 0 for none)."""
    ids = set()
    for name in ("product_id", "variation_id"):
        found = read_optional_id(item.get(name), path=f"{at}.{name}")
        if found is not None and found.isdecimal():
            ids.add(int(found))
    return ids


def _unit_price(
    item: Mapping[str, Any], at: str, currency: Currency, quantity: int
) -> Money:
    subtotal = read_money(item.get("subtotal"), currency, path=f"{at}.subtotal")
    units, left = divmod(subtotal.minor, quantity)
    if left:
        raise InvalidMoney(
            f"{at}.subtotal",
            item.get("subtotal"),
            f"does not split into {quantity} equal unit prices",
        )
    return Money.from_minor(units, currency)


def _sku(item: Mapping[str, Any], at: str, line_id: str) -> str:
    if item.get("sku"):
        return read_label(item["sku"], path=f"{at}.sku")
    for name, prefix in (("variation_id", "variation"), ("product_id", "product")):
        found = read_optional_id(item.get(name), path=f"{at}.{name}")
        if found is not None:
            return f"woocommerce-{prefix}-{found}"
    return f"woocommerce-line-{line_id}"


def _address(order: Mapping[str, Any], at: str) -> Address:
    name = "shipping"
    shipping = order.get(name)
    if not isinstance(shipping, dict) or not shipping.get("country"):
        # Nothing ships (virtual or downloadable goods): WooCommerce leaves
        # the shipping address empty and the billing address is the only one.
        name = "billing"
    address_at = join(at, name)
    raw = read_object(order.get(name), path=address_at)
    country = read_country(raw.get("country"), path=f"{address_at}.country")

    def text(field: str) -> str:
        return read_text(raw.get(field), path=f"{address_at}.{field}", required=False)

    street = ", ".join(part for part in (text("address_1"), text("address_2")) if part)
    phone_at, phone = f"{address_at}.phone", raw.get("phone")
    billing = order.get("billing")
    if not phone and isinstance(billing, dict) and billing.get("phone"):
        # Older versions have no shipping phone: the buyer's is the one to call.
        phone_at, phone = join(at, "billing.phone"), billing["phone"]
    return built(
        address_at,
        Address,
        country=country,
        province=text("state"),
        city=text("city"),
        street=street,
        postcode=text("postcode"),
        recipient=person(text("first_name"), text("last_name")),
        phone=read_phone(phone, path=phone_at, region=country),
    )


def _buyer(order: Mapping[str, Any], at: str, order_id: str, region: str) -> Buyer:
    billing_at = join(at, "billing")
    billing = read_object(order.get("billing"), path=billing_at)

    def text(field: str) -> str:
        return read_text(
            billing.get(field), path=f"{billing_at}.{field}", required=False
        )

    email = text("email")
    customer = read_optional_id(order.get("customer_id"), path=join(at, "customer_id"))
    return built(
        at,
        Buyer,
        customer or guest_id(email, order_id),
        person(text("first_name"), text("last_name")),
        read_phone(billing.get("phone"), path=f"{billing_at}.phone", region=region),
        email or None,
    )


def _refund(
    refund: Mapping[str, Any], at: str, currency: Currency, channel: str
) -> ChannelRefund:
    refund_id = read_id(refund.get("id"), path=f"{at}.id")
    order_id = _order_link(refund, at)
    lines = []
    for item_at, item in objects(
        refund.get("line_items"), path=f"{at}.line_items", required=False
    ):
        quantity = _refunded_units(item.get("quantity"), path=f"{item_at}.quantity")
        if quantity:
            lines.append(RefundLine(_refunded_line(item, item_at), quantity))
    return ChannelRefund(
        refund_id=refund_id,
        order_id=order_id,
        key=key(channel, "refund", order_id, refund_id),
        amount=read_positive_money(refund.get("amount"), currency, path=f"{at}.amount"),
        created_at=_when(refund, at, "date_created_gmt"),
        lines=lines,
        reason=read_text(refund.get("reason"), path=f"{at}.reason", required=False),
    )


def _order_link(refund: Mapping[str, Any], at: str) -> str:
    links = read_object(refund.get("_links"), path=f"{at}._links")
    up_at = f"{at}._links.up"
    [(link_at, link), *_] = objects(links.get("up"), path=up_at) or [(up_at, {})]
    href = read_text(link.get("href"), path=f"{link_at}.href")
    try:
        path = urllib.parse.urlsplit(href).path
    except ValueError:  # an unbalanced "[" in the host, say
        path = ""
    head, _, order_id = path.rstrip("/").rpartition("/")
    if not head.endswith("/orders") or not order_id.isascii() or not order_id.isdigit():
        raise ValidationError(
            f"{link_at}.href", href, "must link to the order (…/orders/<id>)"
        )
    return read_id(order_id, path=f"{link_at}.href")


def _refunded_units(value: object, *, path: str) -> int:
    # WooCommerce writes refunded units as a negative quantity.
    if type(value) is not int or value > 0:
        raise InvalidQuantity(path, value, "must be zero or a negative whole number")
    return 0 if value == 0 else read_quantity(-value, path=path)


def _refunded_line(item: Mapping[str, Any], at: str) -> str:
    for meta_at, meta in objects(item.get("meta_data"), path=f"{at}.meta_data"):
        if meta.get("key") == "_refunded_item_id":
            return read_id(meta.get("value"), path=f"{meta_at}.value")
    raise StructureError(
        f"{at}.meta_data", item.get("meta_data"), "names no _refunded_item_id", "meta"
    )
