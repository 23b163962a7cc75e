"""BigCommerce's V2 orders, read into canonical records.

`BigCommercePayloads` implements `orderkit.ports.ChannelPayloads` for the
V2 Orders API (`GET /v2/orders`, `GET /v2/orders/{id}`), the first adapter to
read RFC 2822 times (`"Sun, 24 Mar 2013 23:07:53 +0000"`). It is checked with
an orders list recorded from a real BigCommerce store
(`bigcommerce/bigcommerce-api-ruby`'s VCR cassettes) by
`orderkit.testing.contracts.ChannelContract`.

.. versionadded:: 0.1.0
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final, final

import attrs
import pendulum

from orderkit.adapters.channels._common import (
    Unmapped,
    built,
    check_channel,
    guest_id,
    join,
    key,
    mapped,
    objects,
    person,
    read_country,
    read_currency,
    read_flag,
    read_label,
    read_line_id,
    read_optional_id,
    require_lines,
    stamp,
)
from orderkit.errors import (
    InvalidMoney,
    StructureError,
    UnknownStatus,
    ValidationError,
)
from orderkit.integrations import (
    ChannelOrder,
    ChannelRecord,
    read_id,
    read_instant,
    read_money,
    read_object,
    read_phone,
    read_quantity,
    read_status,
    read_text,
)
from orderkit.money import Currency, Money
from orderkit.orders import (
    Address,
    Buyer,
    Cancelled,
    Closed,
    OrderEvent,
    OrderLine,
    OrderPlaced,
    OrderStatus,
)
from orderkit.pricing import AmountOff, Quote


__all__ = ["BigCommercePayloads"]

_LIST: Final = "v2/orders"
_ONE: Final = "v2/orders/{id}"
_TOPICS: Final = frozenset({_LIST, _ONE})

_S = OrderStatus
_REFUNDS = "read its refunds from GET /v3/orders/{id}/payment_actions/refunds"

# BigCommerce's system order statuses (GET /v2/order_statuses), by status_id;
# the name each store shows may be relabelled, the id is fixed.
_STATUSES: Final[Mapping[str, OrderStatus | Unmapped]] = {
    "0": Unmapped(
        "Incomplete: the shopper reached the payment step and left; it is not"
        " a placed order (BigCommerce leaves it out of the order list)"
    ),
    "1": _S.PENDING_PAYMENT,  # Pending
    "2": _S.SHIPPED,  # Shipped
    "3": _S.PARTIALLY_SHIPPED,  # Partially Shipped
    "4": Unmapped(
        "Refunded: the status the order had before the refund is lost; " + _REFUNDS
    ),
    "5": _S.CANCELLED,  # Cancelled
    "6": _S.CLOSED,  # Declined
    "7": _S.PENDING_PAYMENT,  # Awaiting Payment
    "8": _S.PICKING,  # Awaiting Pickup
    "9": _S.PICKING,  # Awaiting Shipment
    "10": _S.COMPLETED,  # Completed
    "11": _S.PAID,  # Awaiting Fulfillment
    "12": Unmapped(
        "Manual Verification Required: a hold that can pause an order at any"
        " stage; the canonical lifecycle has no hold (read it again later)"
    ),
    "13": Unmapped(
        "Disputed: the buyer disputes the payment at whatever stage the order"
        " was; that stage is not in the payload"
    ),
    "14": Unmapped(
        "Partially Refunded: the order's fulfilment stage is lost; " + _REFUNDS
    ),
}


@final
@attrs.frozen(slots=True)
class BigCommercePayloads:
    """BigCommerce's V2 order payloads read into canonical records.

    Topics:

    - `v2/orders`: `GET /v2/orders`, a non-empty JSON array of orders;
      gives one `ChannelOrder` each (errors name `[i].field`).
    - `v2/orders/{id}`: `GET /v2/orders/{id}`, one order object.

    **Lines.** A V2 order does not embed its lines: `products` is a link to
    the sub-resource (`{"url": …, "resource": "/orders/100/products"}`),
    and `items_total` counts units, not what they are. A canonical order
    needs lines, and inventing them from `items_total` and `subtotal_ex_tax`
    would be a guess, so the rule is:

    - when the host has merged the `GET /v2/orders/{id}/products` response
      into the order as a `products` array, each entry is one `OrderLine`:
      line id `id`, quantity `quantity`, unit price `price_ex_tax` (the
      price without tax and before order discounts, which is what
      `subtotal_ex_tax` sums; `base_price` is the catalogue price as the
      store entered it, with or without tax, so it is not read), SKU `sku`,
      else `bigcommerce-variant-<variant_id>`, `bigcommerce-product-<product_id>`
      or `bigcommerce-line-<id>` (custom products have no SKU), title
      `name`; a `digital` product or a `giftcertificate` (`type`,
      `physical`, `digital` or `giftcertificate`; a missing type is
      physical) is unstocked (`OrderLine.stocked` false: the desk holds and
      ships no stock for it), any other type is refused (`ValidationError`
      naming `products[i].type`);
    - an order whose `products` is the sub-resource link, or missing, is
      refused with `StructureError` naming `products` (`[0].products` in a
      list); an empty `products` array with `EmptyOrder`.

    So the V2 list as BigCommerce sends it is refused, by design: fetch the
    products and merge them in, then read the order.

    **Money**, V2 decimal text (`"158.9500"`), is read exactly (a fourth
    decimal that is not zero is refused for USD) in `default_currency_code`.
    BigCommerce names two currencies (`currency_code`, the one shown to the
    shopper, and `default_currency_code`, the transactional one); an order
    where they differ is refused (`ValidationError` naming `currency_code`):
    which figures are in which currency is not stated in the order. The
    quote: `discount_amount` (manual discounts and promotions) and
    `coupon_discount` (coupons, whose codes are behind the `coupons`
    sub-resource) each become an `AmountOff` of that name when above zero;
    shipping is `shipping_cost_ex_tax + handling_cost_ex_tax` (both set per
    shipping method); tax `total_tax`, added to the ex-tax prices
    (`taxes_included` is false); stated total `total_inc_tax`. Gift
    wrapping (`wrapping_cost_ex_tax`) is not read: `orderkit.pricing.validate`
    reports it as a mismatch. Store credit and gift certificates are ways to
    pay, not discounts, and are not read.

    **Buyer and address.** `customer_id`, or (0, a guest) a guest named by
    the billing e-mail; the address is `billing_address`, the only one the
    order embeds (shipping addresses are another sub-resource): country
    `country_iso2`, `state`, `city`, `street_1`/`street_2`, `zip`, the
    billing name as recipient, the phone read with the country as region.
    Empty names and streets (as in the recorded store) are kept empty.

    **Time.** `date_created` and `date_modified` are RFC 2822 with an offset
    (`"Sun, 24 Mar 2013 23:07:53 +0000"`), converted to UTC.

    **Status**, by `status_id` (the `status` text is kept in
    `channel_status`, else the id):

    | `status_id` | BigCommerce | canonical |
    |---|---|---|
    | 1, 7 | Pending, Awaiting Payment | pending_payment |
    | 11 | Awaiting Fulfillment (paid) | paid |
    | 8, 9 | Awaiting Pickup, Awaiting Shipment (pulled, packed) | picking |
    | 3 | Partially Shipped | partially_shipped |
    | 2 | Shipped | shipped |
    | 10 | Completed | completed |
    | 5 | Cancelled | cancelled, with a `Cancelled` event |
    | 6 | Declined (not paid) | closed, with a `Closed` event |
    | 0 | Incomplete (checkout left at payment) | `UnknownStatus` |
    | 4, 14 | Refunded, Partially Refunded | `UnknownStatus` |
    | 12 | Manual Verification Required (a hold) | `UnknownStatus` |
    | 13 | Disputed | `UnknownStatus` |

    Each `UnknownStatus` says why there is no honest canonical status.

    Any other id raises `UnknownStatus`, and so does an archived order
    (`is_deleted` true, naming `is_deleted`).

    **Events.** `Cancelled` or `Closed` at `date_modified`. No
    `PaymentCaptured`: the order states no capture time or payment id
    (`payment_status` is often `""`, as in the recorded store); captures are
    in `GET /v3/orders/{id}/transactions`. No `Shipped`: the tracking
    numbers are in the shipments sub-resource.

    **Keys** (the same on every re-send), `<channel>` being `channel`:
    placed is `(<channel>, order.placed, <id>, <date_modified>)`, so a
    re-delivered version is a duplicate and a modified one a new fact; cancelled
    `(…, order.cancelled, <id>, <date_modified>)`, closed
    `(…, order.closed, <id>, <date_modified>)`, the time as UTC ISO 8601.

    Attributes:
        channel: The channel's name in every key, order and quote
            (`"bigcommerce"`). Give each store its own (`"bigcommerce-us"`,
            `"bigcommerce-uk"`) when one desk takes in several: every store
            numbers its orders from 100, so two stores' order 100 would
            otherwise be one order to the desk, and the second would be
            answered `AlreadyAccepted` with the first.

    Raises:
        ValidationError: `channel` is not a non-empty printable name.

    .. versionadded:: 0.1.0
    """

    channel: str = attrs.field(default="bigcommerce", validator=check_channel)

    @property
    def topics(self) -> frozenset[str]:
        """`v2/orders` and `v2/orders/{id}`."""
        return _TOPICS

    def parse(self, payload: Any, *, topic: str) -> tuple[ChannelRecord, ...]:  # noqa: ANN401 - decoded JSON
        """Read one payload into canonical records, in payload order.

        Args:
            payload: The decoded JSON (`orderkit.integrations.load_json`),
                with each order's products merged in (see above).
            topic: One of `topics`.

        Returns:
            One `ChannelOrder` per order.

        Raises:
            ValidationError: The topic is unknown (`field` is `"topic"`), or
                a value cannot be read (`field` is its payload path);
                subclasses say more (`StructureError` for an order without
                its products, `UnknownStatus`, `InvalidMoney`...).
        """
        if topic == _ONE:
            return (_order(read_object(payload, path="payload"), "", self.channel),)
        if topic == _LIST:
            items = objects(payload, path="")
            if not items:
                raise StructureError("payload", payload, "lists no order", "orders")
            return tuple(_order(item, at, self.channel) for at, item in items)
        known = ", ".join(sorted(_TOPICS))
        raise ValidationError(
            "topic", topic, f"is not a BigCommerce topic read here ({known})"
        )


def _order(order: Mapping[str, Any], at: str, channel: str) -> ChannelOrder:
    order_id = read_id(order.get("id"), path=join(at, "id"))
    status, channel_status = _status(order, at)
    currency = _currency(order, at)
    created = _when(order, at, "date_created")
    modified = _when(order, at, "date_modified")
    lines = _lines(order, at, currency)
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
        buyer=_buyer(order, at, order_id, address),
        address=address,
        lines=lines,
    )
    quote = built(
        at,
        Quote,
        order_id,
        channel,
        lines,
        _offers(order, at, currency),
        shipping=_sum(
            order, at, currency, ("shipping_cost_ex_tax", "handling_cost_ex_tax")
        ),
        tax=_money(order, at, currency, "total_tax"),
        stated_total=_money(order, at, currency, "total_inc_tax"),
        taxes_included=False,
    )
    events: list[OrderEvent] = []
    if status is _S.CANCELLED:
        events.append(
            built(
                at,
                Cancelled,
                order_id=order_id,
                key=key(channel, "order.cancelled", order_id, stamp(modified)),
                occurred_at=modified,
                reason="cancelled in BigCommerce",
            )
        )
    elif status is _S.CLOSED:
        events.append(
            built(
                at,
                Closed,
                order_id=order_id,
                key=key(channel, "order.closed", order_id, stamp(modified)),
                occurred_at=modified,
                reason="declined in BigCommerce",
            )
        )
    return built(
        at,
        ChannelOrder,
        placed=placed,
        quote=quote,
        status=status,
        channel_status=channel_status,
        events=tuple(events),
        updated_at=modified,
    )


def _status(order: Mapping[str, Any], at: str) -> tuple[OrderStatus, str]:
    status_at = join(at, "status_id")
    raw = order.get("status_id")
    status = mapped(raw, read_status(raw, _STATUSES, path=status_at), path=status_at)
    deleted_at = join(at, "is_deleted")
    if read_flag(order.get("is_deleted"), path=deleted_at):
        raise UnknownStatus(
            deleted_at,
            order.get("is_deleted"),
            "an archived (deleted) BigCommerce order has no canonical status:"
            " restore it, or leave it out",
        )
    name = read_label(order.get("status"), path=join(at, "status"), required=False)
    return status, name or str(raw)


def _currency(order: Mapping[str, Any], at: str) -> Currency:
    paid_in = read_currency(
        order.get("default_currency_code"), path=join(at, "default_currency_code")
    )
    shown_at = join(at, "currency_code")
    shown = read_currency(order.get("currency_code"), path=shown_at)
    if shown != paid_in:
        raise ValidationError(
            shown_at,
            order.get("currency_code"),
            f"differs from default_currency_code {paid_in.code}: the order does"
            " not say which amounts are in which currency",
        )
    return paid_in


def _when(order: Mapping[str, Any], at: str, name: str) -> pendulum.DateTime:
    # RFC 2822 with an offset; a time without one is refused (no zone given).
    return read_instant(order.get(name), path=join(at, name))


def _money(record: Mapping[str, Any], at: str, currency: Currency, name: str) -> Money:
    return read_money(record.get(name), currency, path=join(at, name))


def _sum(
    order: Mapping[str, Any], at: str, currency: Currency, names: tuple[str, ...]
) -> Money:
    total = Money.zero(currency)
    for name in names:
        amount = _money(order, at, currency, name)
        try:
            total += amount
        except InvalidMoney as error:  # the sum outgrows what Money holds
            raise InvalidMoney(join(at, name), order.get(name), error.problem) from None
    return total


def _offers(
    order: Mapping[str, Any], at: str, currency: Currency
) -> tuple[AmountOff, ...]:
    offers = []
    for name in ("discount_amount", "coupon_discount"):
        amount = _money(order, at, currency, name)
        if amount.amount > 0:
            offers.append(AmountOff(name, amount))
    return tuple(offers)


def _lines(
    order: Mapping[str, Any], at: str, currency: Currency
) -> tuple[OrderLine, ...]:
    products_at = join(at, "products")
    products = order.get("products")
    if isinstance(products, dict):
        resource = products.get("resource")
        where = resource if isinstance(resource, str) else "/orders/{id}/products"
        raise StructureError(
            products_at,
            products,
            f"links to the sub-resource {where} instead of listing the lines:"
            " merge GET /v2/orders/{id}/products into `products` first",
            "array",
        )
    items = objects(products, path=products_at)
    require_lines(items, path=products_at, what="product")
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
                _money(item, item_at, currency, "price_ex_tax"),
                read_text(item.get("name"), path=f"{item_at}.name", required=False),
                stocked=_stocked(item.get("type"), f"{item_at}.type"),
            )
        )
    return tuple(lines)


def _stocked(value: object, at: str) -> bool:
    """Whether a product of this `type` comes out of stock: physical ones only."""
    if value is None or value == "physical":
        return True
    if value in ("digital", "giftcertificate"):  # a tuple: the value may be a list
        return False
    raise ValidationError(at, value, "must be physical, digital or giftcertificate")


def _sku(item: Mapping[str, Any], at: str, line_id: str) -> str:
    if item.get("sku"):
        return read_label(item["sku"], path=f"{at}.sku")
    for name, prefix in (("variant_id", "variant"), ("product_id", "product")):
        found = read_optional_id(item.get(name), path=f"{at}.{name}")
        if found is not None:
            return f"bigcommerce-{prefix}-{found}"
    return f"bigcommerce-line-{line_id}"


def _billing(order: Mapping[str, Any], at: str) -> tuple[str, Mapping[str, Any]]:
    billing_at = join(at, "billing_address")
    return billing_at, read_object(order.get("billing_address"), path=billing_at)


def _address(order: Mapping[str, Any], at: str) -> Address:
    billing_at, billing = _billing(order, at)
    country = read_country(
        billing.get("country_iso2"), path=f"{billing_at}.country_iso2"
    )

    def text(field: str) -> str:
        return read_text(
            billing.get(field), path=f"{billing_at}.{field}", required=False
        )

    street = ", ".join(part for part in (text("street_1"), text("street_2")) if part)
    return built(
        billing_at,
        Address,
        country=country,
        province=text("state"),
        city=text("city"),
        street=street,
        postcode=text("zip"),
        recipient=person(text("first_name"), text("last_name")),
        phone=read_phone(
            billing.get("phone"), path=f"{billing_at}.phone", region=country
        ),
    )


def _buyer(order: Mapping[str, Any], at: str, order_id: str, address: Address) -> Buyer:
    billing_at, billing = _billing(order, at)
    email = read_text(billing.get("email"), path=f"{billing_at}.email", required=False)
    customer = read_optional_id(order.get("customer_id"), path=join(at, "customer_id"))
    return built(
        at,
        Buyer,
        customer or guest_id(email, order_id),
        address.recipient,
        address.phone,
        email or None,
    )
