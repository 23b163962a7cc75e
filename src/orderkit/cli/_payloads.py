"""Channel payloads in each platform's own format, as JSON text.

The simulation never builds canonical orders itself: it writes what each
platform would send (Shopify's REST order, WooCommerce's REST v3 order,
Magento's V1 order and invoice, Taobao's `trade.fullinfo.get` trade in
Chinese) as JSON text, which the channels' adapters (`_adapters`) read back
exactly as a host application reads a webhook.
"""

from __future__ import annotations

import datetime as dt
import json
import zoneinfo
from collections.abc import Mapping
from typing import Any, Final

import pendulum

from orderkit.cli._plans import OrderPlan
from orderkit.money import Money


TOPICS: Final[Mapping[str, tuple[str, str]]] = {
    "taobao": ("trade", "trade"),
    "magento": ("V1/orders", "V1/invoices"),
    "shopify": ("orders/create", "orders/paid"),
    "woocommerce": ("order.created", "order.updated"),
}
"""Per channel, the topic of a new order and of its payment notice."""

CANCEL_TOPICS: Final[Mapping[str, str]] = {
    "taobao": "trade",
    "magento": "V1/orders",
    "shopify": "orders/cancelled",
    "woocommerce": "order.updated",
}
"""Per channel, the topic of an order the buyer cancelled."""


def created(plan: OrderPlan) -> str:
    """The order as its channel first sends it: placed, waiting for payment."""
    return _dump(_BUILDERS[plan.channel](plan, "created", plan.placed_at))


def paid(plan: OrderPlan, at: pendulum.DateTime) -> str:
    """The channel's notice that the buyer paid (a Magento invoice)."""
    if plan.channel == "magento":
        return _dump(_magento_invoice(plan, at))
    return _dump(_BUILDERS[plan.channel](plan, "paid", at))


def cancelled(plan: OrderPlan, at: pendulum.DateTime) -> str:
    """The order as its channel sends it once the buyer cancelled."""
    return _dump(_BUILDERS[plan.channel](plan, "cancelled", at))


_SHANGHAI: Final = zoneinfo.ZoneInfo("Asia/Shanghai")
_NEW_YORK: Final = zoneinfo.ZoneInfo("America/New_York")
_NAIVE: Final = "%Y-%m-%d %H:%M:%S"
_ISO_NAIVE: Final = "%Y-%m-%dT%H:%M:%S"


def _wall(at: pendulum.DateTime, zone: dt.tzinfo) -> dt.datetime:
    # The standard library's conversion: pendulum's formatting is the
    # slowest part of writing a payload, and these formats need none of it.
    return dt.datetime.fromtimestamp(at.timestamp(), zone)


def _dump(payload: object) -> str:
    return json.dumps(payload, ensure_ascii=False)


def _text(money: Money) -> str:
    return f"{money.amount:.{money.currency.minor_units}f}"


def _number(money: Money) -> float:
    # Magento sends bare JSON numbers; a float's repr is the shortest text
    # that reads back to it, so two decimals survive the trip exactly.
    return float(money.amount)


def _discount(plan: OrderPlan) -> Money:
    total = Money.zero(plan.currency)
    for _, amount in plan.discounts:
        total += amount
    return total


# ----------------------------------------------------------------------
# Taobao: naive Beijing time, money as text, masked phones, Chinese text


def _taobao(plan: OrderPlan, state: str, at: pendulum.DateTime) -> dict[str, Any]:
    def local(when: pendulum.DateTime) -> str:
        return _wall(when, _SHANGHAI).strftime(_NAIVE)

    who = plan.buyer
    phone = who.phone.removeprefix("+86")
    trade: dict[str, Any] = {
        "tid": int(plan.order_id),
        "status": {
            "created": "WAIT_BUYER_PAY",
            "paid": "WAIT_SELLER_SEND_GOODS",
            "cancelled": "TRADE_CLOSED",
        }[state],
        "type": "fixed",
        "created": local(plan.placed_at),
        "modified": local(at),
        "buyer_nick": f"{who.family}*{who.given[-1]}",
        "buyer_open_uid": who.buyer_id,
        "post_fee": _text(plan.shipping),
        "discount_fee": _text(_discount(plan)),
        "payment": _text(plan.paid_total if state != "created" else plan.total),
        "receiver_name": who.name,
        "receiver_mobile": f"{phone[:3]}****{phone[-4:]}",
        "receiver_state": who.province,
        "receiver_city": who.city,
        "receiver_district": who.district,
        "receiver_address": who.street,
        "receiver_zip": who.postcode,
        "orders": {
            "order": [
                {
                    "oid": int(plan.order_id) * 10 + i,
                    "outer_sku_id": line.sku,
                    "title": line.title,
                    "num": line.quantity,
                    "price": _text(line.unit_price),
                }
                for i, line in enumerate(plan.lines)
            ]
        },
    }
    if state != "created" and plan.paid_at is not None:
        trade["pay_time"] = local(plan.paid_at)
        trade["alipay_no"] = f"2026111122001{plan.payment_ref[2:]:0>15}"
    if state == "cancelled":
        trade["end_time"] = local(at)
    return {"trade_fullinfo_get_response": {"trade": trade}}


# ----------------------------------------------------------------------
# Shopify: ISO 8601 in the shop's zone, money as text


def _shopify(plan: OrderPlan, state: str, at: pendulum.DateTime) -> dict[str, Any]:
    def local(when: pendulum.DateTime) -> str:
        return _wall(when, _NEW_YORK).isoformat()

    who = plan.buyer
    address = {
        "first_name": who.given,
        "last_name": who.family,
        "address1": who.street,
        "city": who.city,
        "province_code": who.province,
        "province": who.province,
        "country_code": who.country,
        "zip": who.postcode,
        "phone": who.phone,
    }
    return {
        "id": int(plan.order_id),
        "name": f"#{plan.index + 1001}",
        "email": who.email,
        "currency": plan.currency,
        "created_at": local(plan.placed_at),
        "updated_at": local(at),
        "processed_at": local(plan.paid_at or plan.placed_at),
        "financial_status": "pending" if state == "created" else "paid",
        "fulfillment_status": None,
        "cancelled_at": local(at) if state == "cancelled" else None,
        "cancel_reason": "customer" if state == "cancelled" else None,
        "closed_at": None,
        "taxes_included": False,
        "total_tax": _text(plan.tax),
        "total_price": _text(plan.total),
        "discount_codes": [
            {"code": code, "amount": _text(amount), "type": "fixed_amount"}
            for code, amount in plan.discounts
        ],
        "shipping_lines": [{"title": "Standard", "price": _text(plan.shipping)}],
        "line_items": [
            {
                "id": int(plan.order_id) * 10 + i,
                "sku": line.sku,
                "name": line.title,
                "quantity": line.quantity,
                "price": _text(line.unit_price),
            }
            for i, line in enumerate(plan.lines)
        ],
        "customer": {
            "id": int(who.buyer_id),
            "first_name": who.given,
            "last_name": who.family,
            "phone": who.phone,
        },
        "shipping_address": address,
        "billing_address": address,
    }


# ----------------------------------------------------------------------
# WooCommerce: naive GMT in the *_gmt fields, money as text


def _woocommerce(plan: OrderPlan, state: str, at: pendulum.DateTime) -> dict[str, Any]:
    def gmt(when: pendulum.DateTime | None) -> str | None:
        return None if when is None else _wall(when, dt.UTC).strftime(_ISO_NAIVE)

    who = plan.buyer
    address = {
        "first_name": who.given,
        "last_name": who.family,
        "address_1": who.street,
        "address_2": "",
        "city": who.city,
        "state": who.province,
        "postcode": who.postcode,
        "country": who.country,
        "phone": who.phone,
    }
    paid_at = plan.paid_at if state != "created" else None
    return {
        "id": int(plan.order_id),
        "status": {
            "created": "pending",
            "paid": "processing",
            "cancelled": "cancelled",
        }[state],
        "currency": plan.currency,
        "date_created_gmt": gmt(plan.placed_at),
        "date_modified_gmt": gmt(at),
        "date_paid_gmt": gmt(paid_at),
        "prices_include_tax": False,
        "customer_id": int(who.buyer_id),
        "billing": {**address, "email": who.email},
        "shipping": address,
        "transaction_id": f"pi_{plan.payment_ref}" if paid_at else "",
        "line_items": [
            {
                "id": int(plan.order_id) * 10 + i,
                "name": line.title,
                "sku": line.sku,
                "product_id": 100 + i,
                "quantity": line.quantity,
                "subtotal": _text(line.unit_price * line.quantity),
                "price": float(line.unit_price.amount),
            }
            for i, line in enumerate(plan.lines)
        ],
        "coupon_lines": [
            {"code": code.lower(), "discount": _text(amount)}
            for code, amount in plan.discounts
        ],
        "shipping_lines": [{"method_id": "flat_rate", "total": _text(plan.shipping)}],
        "total_tax": _text(plan.tax),
        "total": _text(plan.total),
    }


# ----------------------------------------------------------------------
# Magento: naive UTC, money as JSON numbers, the discount as a negative


def _magento(plan: OrderPlan, state: str, at: pendulum.DateTime) -> dict[str, Any]:
    def utc(when: pendulum.DateTime) -> str:
        return _wall(when, dt.UTC).strftime(_NAIVE)

    who = plan.buyer
    address = {
        "firstname": who.given,
        "lastname": who.family,
        # Magento has no district field: it leads the street line.
        "street": [f"{who.district}{who.street}"],
        "city": who.city,
        # The shop writes provinces without 省 / 市, as many Chinese shops do.
        "region": who.province.removesuffix("市").removesuffix("省"),
        "postcode": who.postcode,
        "country_id": who.country,
        "telephone": who.phone,
    }
    discount = _discount(plan)
    codes = ",".join(code for code, _ in plan.discounts)
    state_and_status = {
        "created": ("new", "pending"),
        "paid": ("processing", "processing"),
        "cancelled": ("canceled", "canceled"),
    }[state]
    return {
        "entity_id": int(plan.order_id),
        "increment_id": f"{100_000_000 + int(plan.order_id):09d}",
        "state": state_and_status[0],
        "status": state_and_status[1],
        "created_at": utc(plan.placed_at),
        "updated_at": utc(at),
        "order_currency_code": plan.currency,
        "customer_id": int(who.buyer_id),
        "customer_email": who.email,
        "customer_firstname": who.given,
        "customer_lastname": who.family,
        "is_virtual": 0,
        "discount_amount": -_number(discount) if discount.amount else 0,
        "discount_description": codes or None,
        "shipping_amount": _number(plan.shipping),
        "shipping_discount_amount": 0,
        "tax_amount": _number(plan.tax),
        "grand_total": _number(plan.total),
        "total_paid": _number(plan.paid_total) if state == "paid" else 0,
        "items": [
            {
                "item_id": int(plan.order_id) * 10 + i,
                "product_type": "simple",
                "sku": line.sku,
                "name": line.title,
                "qty_ordered": line.quantity,
                "price": _number(line.unit_price),
            }
            for i, line in enumerate(plan.lines)
        ],
        "billing_address": address,
        "extension_attributes": {
            "shipping_assignments": [{"shipping": {"address": address}}]
        },
    }


def _magento_invoice(plan: OrderPlan, at: pendulum.DateTime) -> dict[str, Any]:
    return {
        "entity_id": 70_000 + int(plan.order_id),
        "increment_id": f"{200_000_000 + int(plan.order_id):09d}",
        "order_id": int(plan.order_id),
        "state": 2,
        "order_currency_code": plan.currency,
        "grand_total": _number(plan.paid_total),
        "created_at": _wall(at, dt.UTC).strftime(_NAIVE),
    }


_BUILDERS: Final = {
    "taobao": _taobao,
    "shopify": _shopify,
    "woocommerce": _woocommerce,
    "magento": _magento,
}
