"""The adapters that read each channel's payloads.

Shopify, WooCommerce and Magento have reference adapters in
`orderkit.adapters.channels`; Taobao has none, and is read by a `FieldMap`:
the declarative spec below, the one `docs/concepts/channels.md` shows for
`taobao.trade.fullinfo.get`, with no Python code.
"""

from __future__ import annotations

from typing import Final

from orderkit.adapters.channels import (
    FieldMap,
    MagentoPayloads,
    ShopifyPayloads,
    WooCommercePayloads,
)
from orderkit.ports import ChannelPayloads


_TAOBAO_SPEC: Final = """
channel = "taobao"
topics = ["trade"]
root = "trade_fullinfo_get_response.trade"
currency = "CNY"
region = "CN"
zone = "Asia/Shanghai"

[fields]
order_id = { path = "tid", as = "id" }
placed_at = { path = "created", as = "instant" }
updated_at = { path = "modified", as = "instant" }
"buyer.buyer_id" = { path = "buyer_open_uid", as = "id" }
"buyer.name" = "buyer_nick"
"buyer.phone" = { path = "receiver_mobile", as = "phone" }
"address.country" = { const = "CN" }
"address.province" = "receiver_state"
"address.city" = "receiver_city"
"address.district" = "receiver_district"
"address.street" = "receiver_address"
"address.postcode" = "receiver_zip"
"address.recipient" = "receiver_name"
"address.phone" = { path = "receiver_mobile", as = "phone" }
shipping = { path = "post_fee", as = "money" }
discount = { path = "discount_fee", as = "money" }
total = { path = "payment", as = "money" }

[fields.status]
path = "status"

[fields.status.map]
WAIT_BUYER_PAY = "pending_payment"
WAIT_SELLER_SEND_GOODS = "paid"
TRADE_CLOSED = "cancelled"
TRADE_CLOSED_BY_TAOBAO = "closed"

[lines]
path = "orders.order"

[lines.fields]
line_id = { path = "oid", as = "id" }
sku = "outer_sku_id"
quantity = { path = "num", as = "integer" }
unit_price = { path = "price", as = "money" }
title = "title"

[[events]]
type = "payment_captured"
when = "pay_time"
statuses = ["paid", "cancelled"]

[events.fields]
occurred_at = { path = "pay_time", as = "instant" }
payment_id = { path = "alipay_no", as = "id" }
amount = { path = "payment", as = "money" }

[[events]]
type = "cancelled"
when = "end_time"
statuses = ["cancelled"]

[events.fields]
occurred_at = { path = "end_time", as = "instant" }
reason = { const = "付款以后用户退款成功，交易自动关闭" }
"""  # noqa: RUF001 - Chinese punctuation
"""Taobao's trade, mapped without code: the spec of docs/concepts/channels.md."""


def parsers() -> dict[str, ChannelPayloads]:
    """The adapter that reads each channel's payloads."""
    return {
        "taobao": FieldMap.from_toml(_TAOBAO_SPEC),
        "magento": MagentoPayloads(),
        "shopify": ShopifyPayloads(),
        "woocommerce": WooCommercePayloads(currency="EUR"),
    }
