"""Magento / Adobe Commerce: REST V1 orders and invoices read into canonical records.

`MagentoPayloads` reads what `GET /V1/orders/{id}` and `GET /V1/invoices/{id}`
return. Its docstring states every rule it applies: which item rows become
order lines, how money, discounts and tax add up to Magento's `grand_total`,
the zone of Magento's naive times, the status table, and what an invoice is.

.. versionadded:: 0.1.0
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal
from types import MappingProxyType
from typing import Any, ClassVar, Final, final

import attrs
import pendulum

from orderkit.adapters.channels._common import (
    check_channel,
    person,
    read_country,
    read_currency,
    read_label,
)
from orderkit.dedupe import IdempotencyKey
from orderkit.errors import (
    EmptyOrder,
    InvalidMoney,
    UnknownStatus,
    ValidationError,
)
from orderkit.integrations import (
    ChannelOrder,
    ChannelRecord,
    ChannelTransaction,
    TransactionKind,
    read_id,
    read_instant,
    read_list,
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
    OrderLine,
    OrderPlaced,
    OrderStatus,
)
from orderkit.pricing import AmountOff, Quote


__all__ = ["MagentoPayloads"]

# Magento writes created_at/updated_at without a zone marker; it keeps them
# in UTC in the database and converts to the store's locale only for display.
_ZONE: Final = "UTC"

# Magento's order *states* are a fixed set in Magento\Sales\Model\Order; its
# *statuses* are labels each store may define per state, so the state is
# what maps onto the canonical lifecycle.
_STATES: Final[Mapping[str, OrderStatus]] = MappingProxyType(
    {
        "new": OrderStatus.PENDING_PAYMENT,
        "pending_payment": OrderStatus.PENDING_PAYMENT,
        "processing": OrderStatus.PAID,
        "complete": OrderStatus.SHIPPED,
        "canceled": OrderStatus.CANCELLED,
    }
)
# Documented states with no honest canonical counterpart: reported, with why.
_UNMAPPED_STATES: Final[Mapping[str, str]] = MappingProxyType(
    {
        "closed": (
            "is Magento's state for an order refunded in full; the canonical "
            "'closed' means closed unpaid, and refunds are after-sales"
        ),
        "holded": (
            "is a hold that can pause an order at any stage; the canonical "
            "lifecycle has no hold (read the order again once it is released)"
        ),
        "payment_review": (
            "means the payment provider has not decided yet: the money may be "
            "authorised, captured or refused (read the order again later)"
        ),
    }
)
# Magento\Sales\Model\Order\Invoice: STATE_OPEN = 1, STATE_PAID = 2,
# STATE_CANCELED = 3. The value is whether the capture went through; `None`
# for an open invoice, which has moved no money yet.
_INVOICE_STATES: Final[Mapping[str, bool | None]] = MappingProxyType(
    {"1": None, "2": True, "3": False}
)
# Item types whose rows have child rows (parent_item_id points at them).
_BUNDLE: Final = "bundle"
_CONFIGURABLE: Final = "configurable"
# Product types with no stock behind them: Magento's own virtual and
# downloadable products, and Adobe Commerce's gift cards (a code sent, or a
# card the store does not count as inventory).
_UNSTOCKED_TYPES: Final = frozenset({"virtual", "downloadable", "giftcard"})
# Magento's own event names, as its observers know them: the kind of event
# in every idempotency key.
_PLACED: Final = "sales_order_place_after"
_CANCELED: Final = "order_cancel_after"
_INVOICE_PAID: Final = "sales_order_invoice_pay"
_INVOICE_CANCELED: Final = "sales_order_invoice_cancel"


@final
@attrs.frozen(slots=True)
class MagentoPayloads:
    """**Adapter:** Magento 2 / Adobe Commerce REST V1 payloads, read exactly.

    Implements `orderkit.ports.ChannelPayloads` for two topics, named after
    the REST resources they come from:

    - `"V1/orders"` (`GET /V1/orders/{id}`, or one element of a search
      result's `items`): one `ChannelOrder`.
    - `"V1/invoices"` (`GET /V1/invoices/{id}`): the money an invoice
      captured, as one `ChannelTransaction` of kind `capture` (see below).

    **Order lines.** Magento lists one row per product *and* one per child
    product: a configurable product has one child row (the simple product
    picked), a bundle one row per component, each child naming its parent in
    `parent_item_id`; summing every row counts the same goods twice. The rule:

    - every top-level row (no `parent_item_id`) is one `OrderLine`: line id
      `item_id`, quantity `qty_ordered`, unit price the row's `price`
      (before tax and discount), title `name`; it is unstocked
      (`OrderLine.stocked` false: the desk holds and ships no stock for
      it) when the row is virtual (`is_virtual` 1) or its `product_type`
      is `virtual`, `downloadable` or `giftcard`;
    - a configurable product's line takes the SKU of its one child row, the
      simple product that leaves the warehouse (its price is on the parent,
      the child's is 0);
    - a bundle's line keeps the bundle row's own SKU (Magento builds it from
      the components') and price; its child rows are components, already
      inside that price (a dynamic bundle's parent price is the sum of its
      children's), so they never become lines;
    - a child row whose parent is missing, is itself a child, or is neither
      a bundle nor a configurable product, and a configurable product
      without exactly one child row, are refused: the rows cannot be read
      without guessing.

    So the lines count units as Magento's own totals do: in Adobe's sample,
    nine rows give four lines whose quantities sum to `total_qty_ordered`
    (4) and whose amounts sum to `subtotal` (160.00).

    **Money** is in `order_currency_code` (what the buyer pays; the `base_*`
    figures are the store's base currency and are not read). Amounts are
    JSON numbers read exactly, never as floats. The quote states:

    - offers: one order-wide `AmountOff` for the goods discount, when there
      is one: Magento writes the order's `discount_amount` as zero or a
      negative amount that includes `shipping_discount_amount`, so the goods
      discount is `-discount_amount - shipping_discount_amount`; its code is
      `discount_description` (the coupon code or the rule's label), else
      `coupon_code`, else the `applied_rule_ids`. Rule ids with a discount
      of 0 (as in Adobe's sample order) are no offer;
    - shipping: `shipping_amount - shipping_discount_amount`;
    - tax: `tax_amount` plus Magento's discount tax compensation
      (`discount_tax_compensation_amount` and
      `shipping_discount_tax_compensation_amount`), which its grand total
      adds back; prices are before tax (`taxes_included` is false);
    - stated total: `grand_total`.

    Missing optional amounts are zero; a missing `grand_total` is refused.

    **Time.** Magento sends naive times (`"2017-08-21 22:22:19"`) and keeps
    them in UTC, converting to the store's locale only for display; they are
    read as UTC. A time with an offset is read exactly.

    **Status** maps Magento's order `state` (a fixed set; `status` is a
    label each store defines per state, kept in `channel_status` as
    `"state/status"`):

    | `state`           | canonical status                                |
    |-------------------|-------------------------------------------------|
    | `new`             | `pending_payment`                               |
    | `pending_payment` | `pending_payment`                               |
    | `processing`      | `paid` when `total_paid` > 0, else              |
    |                   | `pending_payment` (Magento also moves an order  |
    |                   | to processing when it ships before invoicing)   |
    | `complete`        | `shipped` (invoiced and shipped in full)        |
    | `canceled`        | `cancelled`, with a `Cancelled` event           |
    | `closed`          | refused: refunded in full, not closed unpaid    |
    | `holded`          | refused: a hold has no canonical status         |
    | `payment_review`  | refused: the provider has not decided           |
    | anything else     | refused                                         |

    Refusals raise `UnknownStatus` naming `state` and saying why. The order
    topic states no payment event: captures come from invoices, one per
    invoice id, so money is never counted twice; nor a `Shipped` event, as
    the order carries no tracking number.

    **Invoices** are an order's captures. A paid invoice (`state` 2) is a
    successful `capture` of its `grand_total`, with the invoice's
    `entity_id` as transaction id (offline payments have no provider id;
    every invoice has this one); a canceled invoice (`state` 3) is a
    capture that did not go through. An open invoice (`state` 1), or one of
    0, has moved no money and gives no record; any other state is refused.

    Feed each invoice to the desk: `orderkit.integrations.capture_event`
    makes the paid one's `PaymentCaptured` (payment id the invoice's
    `entity_id`, the id a statement of the invoices lists for
    `reconcile_payments`; key the invoice's, so a re-read is a
    `Duplicate`), and `OrderDesk.record(channel, order_id, event)` records
    it; an invoice read before its order is taken in raises `UnknownOrder`:
    read it again later. The desk takes an order in at what its events
    reach, so a `processing` order with `total_paid` (mapped `paid`) stays
    awaiting payment until its invoice is recorded, and
    `OrderDesk.close_unpaid` closes a paid Magento order whose invoice was
    never fed at its deadline: its stock goes back on sale and the money
    it took is forgotten. `status_drift` reports such an order meanwhile
    (Magento ahead). Magento's credit memos (refunds) are not read: record
    a refund with `OrderDesk.record_refund` as a `ChannelRefund`.

    **Buyer and address.** The buyer is `customer_id` (a guest:
    `"guest:" + customer_email`), named by `customer_firstname` and
    `customer_lastname`, with the billing address's phone. The address is
    the shipping assignment's (`extension_attributes.shipping_assignments`,
    at most one); a virtual order, which ships nothing, has the billing
    address. Phones are read in the address's country (`country_id`).

    **Idempotency keys** use Magento's own event names and only ids that a
    re-send repeats: `sales_order_place_after` and `order_cancel_after`
    keyed by the order's `entity_id` and `increment_id`;
    `sales_order_invoice_pay` and `sales_order_invoice_cancel` by the
    invoice's. Never `updated_at`, which a comment or an e-mail flag moves
    without a new fact.

    Attributes:
        channel: The channel's name in every key and order; give each store
            its own (`"magento-eu"`), since entity ids repeat across stores.

    .. versionadded:: 0.1.0
    """

    ORDER_TOPIC: ClassVar[str] = "V1/orders"
    """The topic of an order, as `GET /V1/orders/{id}` returns it."""
    INVOICE_TOPIC: ClassVar[str] = "V1/invoices"
    """The topic of an invoice, as `GET /V1/invoices/{id}` returns it."""

    channel: str = attrs.field(default="magento", validator=check_channel)

    @property
    def topics(self) -> frozenset[str]:
        """The payload kinds `parse` reads: `V1/orders` and `V1/invoices`."""
        return frozenset({self.ORDER_TOPIC, self.INVOICE_TOPIC})

    def parse(self, payload: Any, *, topic: str) -> Sequence[ChannelRecord]:  # noqa: ANN401 - decoded JSON
        """Read one order or invoice into canonical records.

        Args:
            payload: The decoded JSON (`orderkit.integrations.load_json`).
            topic: `"V1/orders"` or `"V1/invoices"`.

        Returns:
            One `ChannelOrder` for an order; one `ChannelTransaction` for an
            invoice that moved money, none for one that did not.

        Raises:
            UnknownStatus: The order's `state` or the invoice's `state` has no
                canonical counterpart (see the table above).
            ValidationError: The payload, or a value in it, cannot be read;
                `field` is its path (`items[3].price`), or `topic` for an
                unknown topic.
        """
        if topic == self.ORDER_TOPIC:
            return (_order(payload, self.channel),)
        if topic == self.INVOICE_TOPIC:
            return _invoice(payload, self.channel)
        known = ", ".join(sorted(self.topics))
        raise ValidationError("topic", topic, f"is not a Magento topic ({known})")


# ----------------------------------------------------------------------
# Orders


def _order(payload: object, channel: str) -> ChannelOrder:
    order = read_object(payload, path="payload")
    order_id = read_id(order.get("entity_id"), path="entity_id")
    number = read_id(order.get("increment_id"), path="increment_id")
    state, status = _state(order)
    channel_status = f"{state}/{status}" if status else state
    currency = read_currency(
        order.get("order_currency_code"), path="order_currency_code"
    )
    created_at = _instant(order.get("created_at"), "created_at")
    updated_at = _instant(order.get("updated_at"), "updated_at")
    lines = _lines(order.get("items"), currency)
    billing = read_object(order.get("billing_address"), path="billing_address")
    buyer = _buyer(order, billing)
    placed = OrderPlaced(
        order_id=order_id,
        key=IdempotencyKey(channel, _PLACED, order_id, number),
        occurred_at=created_at,
        actor=buyer.buyer_id,
        channel=channel,
        buyer=buyer,
        address=_shipping_address(order, billing),
        lines=lines,
    )
    quote = _quote(order, order_id, channel, lines, currency)
    if state == "processing":
        paid = _optional_money(order, "total_paid", currency)
        mapped = OrderStatus.PAID if paid.amount else OrderStatus.PENDING_PAYMENT
    else:
        mapped = _STATES[state]
    events: tuple[Cancelled, ...] = ()
    if mapped is OrderStatus.CANCELLED:
        # The order does not say when it was canceled; updated_at is the
        # last change Magento recorded, and cancelling is a change.
        events = (
            Cancelled(
                order_id=order_id,
                key=IdempotencyKey(channel, _CANCELED, order_id, number),
                occurred_at=updated_at,
                reason=f"canceled in Magento ({channel_status})",
            ),
        )
    return ChannelOrder(
        placed=placed,
        quote=quote,
        status=mapped,
        channel_status=channel_status,
        events=events,
        updated_at=updated_at,
    )


def _state(order: Mapping[str, Any]) -> tuple[str, str]:
    """The order's state (checked against the table) and its status label."""
    value = order.get("state")
    if isinstance(value, str) and value in _UNMAPPED_STATES:
        raise UnknownStatus("state", value, _UNMAPPED_STATES[value])
    read_status(value, _STATES, path="state")
    status = read_text(order.get("status"), path="status", required=False)
    return str(value), status


def _lines(value: object, currency: Currency) -> tuple[OrderLine, ...]:
    rows = read_list(value, path="items")
    # item_id -> (index, product_type, row) of the top-level rows, in order,
    # and item_id -> [(index, row)] of the child rows under each of them.
    parents: dict[str, tuple[int, str, Mapping[str, Any]]] = {}
    children: list[tuple[int, str, Mapping[str, Any]]] = []
    seen: set[str] = set()
    for i, raw in enumerate(rows):
        row = read_object(raw, path=f"items[{i}]")
        item_id = read_id(row.get("item_id"), path=f"items[{i}].item_id")
        if item_id in seen:
            raise ValidationError(
                f"items[{i}].item_id", item_id, "repeats an earlier item"
            )
        seen.add(item_id)
        parent = row.get("parent_item_id")
        if parent is None:
            kind = read_text(row.get("product_type"), path=f"items[{i}].product_type")
            parents[item_id] = (i, kind, row)
        else:
            parent_id = read_id(parent, path=f"items[{i}].parent_item_id")
            children.append((i, parent_id, row))
    children_of: dict[str, list[tuple[int, Mapping[str, Any]]]] = {}
    for i, parent_id, row in children:
        owner = parents.get(parent_id)
        if owner is None:
            raise ValidationError(
                f"items[{i}].parent_item_id",
                parent_id,
                "names no top-level item of the order",
            )
        if owner[1] not in {_BUNDLE, _CONFIGURABLE}:
            raise ValidationError(
                f"items[{i}].parent_item_id",
                parent_id,
                f"names a {owner[1]!r} item, which has no child items",
            )
        children_of.setdefault(parent_id, []).append((i, row))
    if not parents:
        raise EmptyOrder("items", value, "an order needs at least one item")
    return tuple(
        _line(item_id, parent, children_of.get(item_id, []), currency)
        for item_id, parent in parents.items()
    )


def _line(
    item_id: str,
    parent: tuple[int, str, Mapping[str, Any]],
    children: list[tuple[int, Mapping[str, Any]]],
    currency: Currency,
) -> OrderLine:
    index, kind, row = parent
    at = f"items[{index}]"
    if kind == _CONFIGURABLE:
        if len(children) != 1:
            raise ValidationError(
                at,
                len(children),
                "a configurable item needs exactly one child row (the product picked)",
            )
        child_index, child = children[0]
        sku = read_label(child.get("sku"), path=f"items[{child_index}].sku")
    else:
        sku = read_label(row.get("sku"), path=f"{at}.sku")
    virtual = _flag(row.get("is_virtual"), f"{at}.is_virtual")
    return OrderLine(
        line_id=item_id,
        sku=sku,
        quantity=read_quantity(row.get("qty_ordered"), path=f"{at}.qty_ordered"),
        unit_price=read_money(row.get("price"), currency, path=f"{at}.price"),
        title=read_text(row.get("name"), path=f"{at}.name", required=False),
        stocked=not virtual and kind not in _UNSTOCKED_TYPES,
    )


def _quote(
    order: Mapping[str, Any],
    order_id: str,
    channel: str,
    lines: tuple[OrderLine, ...],
    currency: Currency,
) -> Quote:
    shipping = _optional_money(order, "shipping_amount", currency)
    shipping_off = _optional_money(order, "shipping_discount_amount", currency)
    if shipping_off > shipping:
        raise ValidationError(
            "shipping_discount_amount",
            order.get("shipping_discount_amount"),
            f"is more than shipping_amount ({shipping.amount})",
        )
    discount = _discount(order.get("discount_amount"), currency)
    if shipping_off > discount:
        raise ValidationError(
            "discount_amount",
            order.get("discount_amount"),
            "must include shipping_discount_amount, as Magento's discount does",
        )
    goods_off = discount - shipping_off
    offers = [AmountOff(_offer_code(order), goods_off)] if goods_off.amount else []
    tax = (
        _optional_money(order, "tax_amount", currency)
        + _optional_money(order, "discount_tax_compensation_amount", currency)
        + _optional_money(order, "shipping_discount_tax_compensation_amount", currency)
    )
    total = read_money(order.get("grand_total"), currency, path="grand_total")
    return Quote(
        order_id,
        channel,
        lines,
        offers,
        shipping - shipping_off,
        tax,
        total,
        taxes_included=False,
    )


def _discount(value: object, currency: Currency) -> Money:
    """The order's discount, which Magento writes as zero or a negative amount."""
    if value is None:
        return Money.zero(currency)
    magnitude, negative = value, False
    if isinstance(value, str) and value.strip().startswith("-"):
        magnitude, negative = value.strip()[1:], True
    elif isinstance(value, Decimal) and value.is_finite() and value.is_signed():
        # `is_signed`, not `< 0`: a JSON -0.0 is signed and reads as no discount.
        magnitude, negative = value.copy_abs(), True
    elif isinstance(value, int) and not isinstance(value, bool) and value < 0:
        magnitude, negative = -value, True
    amount = read_money(magnitude, currency, path="discount_amount")
    if amount.amount and not negative:
        raise InvalidMoney(
            "discount_amount",
            value,
            "must be zero or negative: Magento states a discount as minus",
        )
    return amount


def _offer_code(order: Mapping[str, Any]) -> str:
    for field in ("discount_description", "coupon_code"):
        code = read_label(order.get(field), path=field, required=False)
        if code:
            return code
    rules = read_label(
        order.get("applied_rule_ids"), path="applied_rule_ids", required=False
    )
    return f"rules {rules}" if rules else "discount"


def _buyer(order: Mapping[str, Any], billing: Mapping[str, Any]) -> Buyer:
    email = read_label(order.get("customer_email"), path="customer_email")
    customer = order.get("customer_id")
    buyer_id = (
        f"guest:{email}" if customer is None else read_id(customer, path="customer_id")
    )
    name = _name(
        order.get("customer_firstname"),
        order.get("customer_lastname"),
        "customer_firstname",
        "customer_lastname",
    )
    country = read_country(billing.get("country_id"), path="billing_address.country_id")
    phone = read_phone(
        billing.get("telephone"), path="billing_address.telephone", region=country
    )
    return Buyer(buyer_id, name, phone, email)


def _shipping_address(order: Mapping[str, Any], billing: Mapping[str, Any]) -> Address:
    at = "extension_attributes.shipping_assignments"
    extension = order.get("extension_attributes")
    assignments = (
        []
        if extension is None
        else read_list(
            read_object(extension, path="extension_attributes").get(
                "shipping_assignments"
            ),
            path=at,
            required=False,
        )
    )
    if len(assignments) > 1:
        raise ValidationError(
            at, len(assignments), "an order ships to one address: one assignment"
        )
    if assignments:
        assignment = read_object(assignments[0], path=f"{at}[0]")
        shipping = read_object(assignment.get("shipping"), path=f"{at}[0].shipping")
        address = shipping.get("address")
        if address is not None:
            return _address(address, f"{at}[0].shipping.address")
    if not _flag(order.get("is_virtual"), "is_virtual"):
        raise ValidationError(
            f"{at}[0].shipping.address", None, "an order that ships needs an address"
        )
    # A virtual order ships nothing: the billing address says where the buyer is.
    return _address(billing, "billing_address")


def _address(value: object, at: str) -> Address:
    address = read_object(value, path=at)
    country = read_country(address.get("country_id"), path=f"{at}.country_id")
    street = read_list(address.get("street"), path=f"{at}.street", required=False)
    parts = (
        read_text(part, path=f"{at}.street[{i}]", required=False)
        for i, part in enumerate(street)
    )
    return Address(
        country=country,
        province=read_text(address.get("region"), path=f"{at}.region", required=False),
        city=read_text(address.get("city"), path=f"{at}.city", required=False),
        street=", ".join(part for part in parts if part),
        postcode=read_text(
            address.get("postcode"), path=f"{at}.postcode", required=False
        ),
        recipient=_name(
            address.get("firstname"),
            address.get("lastname"),
            f"{at}.firstname",
            f"{at}.lastname",
        ),
        phone=read_phone(
            address.get("telephone"), path=f"{at}.telephone", region=country
        ),
    )


# ----------------------------------------------------------------------
# Invoices


def _invoice(payload: object, channel: str) -> tuple[ChannelTransaction, ...]:
    invoice = read_object(payload, path="payload")
    invoice_id = read_id(invoice.get("entity_id"), path="entity_id")
    number = read_id(invoice.get("increment_id"), path="increment_id")
    order_id = read_id(invoice.get("order_id"), path="order_id")
    succeeded = _invoice_state(invoice.get("state"))
    currency = read_currency(
        invoice.get("order_currency_code"), path="order_currency_code"
    )
    amount = read_money(invoice.get("grand_total"), currency, path="grand_total")
    created_at = _instant(invoice.get("created_at"), "created_at")
    if succeeded is None or not amount.amount:
        return ()
    event = _INVOICE_PAID if succeeded else _INVOICE_CANCELED
    return (
        ChannelTransaction(
            transaction_id=invoice_id,
            order_id=order_id,
            key=IdempotencyKey(channel, event, invoice_id, number),
            kind=TransactionKind.CAPTURE,
            amount=amount,
            succeeded=succeeded,
            created_at=created_at,
        ),
    )


def _invoice_state(value: object) -> bool | None:
    succeeded: bool | None = read_status(value, _INVOICE_STATES, path="state")
    return succeeded


# ----------------------------------------------------------------------
# Values


def _name(first: object, last: object, first_at: str, last_at: str) -> str:
    return person(
        read_text(first, path=first_at, required=False),
        read_text(last, path=last_at, required=False),
    )


def _optional_money(
    payload: Mapping[str, Any], field: str, currency: Currency
) -> Money:
    value = payload.get(field)
    if value is None:
        return Money.zero(currency)
    return read_money(value, currency, path=field)


def _flag(value: object, at: str) -> bool:
    # Magento writes its flags as 0 and 1; absent means 0.
    if value is None:
        return False
    if type(value) is int and value in {0, 1}:
        return value == 1
    raise ValidationError(at, value, "must be 0 or 1")


def _instant(value: object, at: str) -> pendulum.DateTime:
    return read_instant(value, path=at, zone=_ZONE)
