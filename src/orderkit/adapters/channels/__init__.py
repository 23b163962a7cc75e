"""Reference channel adapters: real platforms' payloads read into canonical records.

`ShopifyPayloads` reads Shopify's order, refund and transaction payloads;
`WooCommercePayloads` WooCommerce's REST v3 orders, batches and refunds;
`MagentoPayloads` Magento / Adobe Commerce REST V1 orders and invoices;
`BigCommercePayloads` BigCommerce V2 orders (RFC 2822 times).
Each adapter implements `orderkit.ports.ChannelPayloads` and passes
`orderkit.testing.contracts.ChannelContract` with the platform's own public
sample payloads. A channel without an adapter maps with a `FieldMap`: a
declarative spec (a dict, JSON or TOML) from its payload onto the canonical
order, with no Python code.

.. versionadded:: 0.1.0
"""

from orderkit.adapters.channels.bigcommerce import BigCommercePayloads
from orderkit.adapters.channels.magento import MagentoPayloads
from orderkit.adapters.channels.mapping import FieldMap
from orderkit.adapters.channels.shopify import ShopifyPayloads
from orderkit.adapters.channels.woocommerce import WooCommercePayloads


__all__ = [
    "BigCommercePayloads",
    "FieldMap",
    "MagentoPayloads",
    "ShopifyPayloads",
    "WooCommercePayloads",
]
