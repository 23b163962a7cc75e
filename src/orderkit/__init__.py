"""orderkit: the order domain of an e-commerce back office, as a typed core.

The names most programs need are here; each concept has its subpackage:
`orderkit.orders` (lifecycle), `orderkit.money`, `orderkit.dedupe`,
`orderkit.errors`, `orderkit.ports`, `orderkit.serialization`,
`orderkit.adapters`, `orderkit.testing`.

.. versionadded:: 0.1.0
"""

from orderkit.dedupe import IdempotencyKey as IdempotencyKey
from orderkit.errors import IllegalTransition as IllegalTransition
from orderkit.errors import OrderkitError as OrderkitError
from orderkit.errors import ValidationError as ValidationError
from orderkit.money import Currency as Currency
from orderkit.money import Money as Money
from orderkit.orders import Address as Address
from orderkit.orders import Buyer as Buyer
from orderkit.orders import Order as Order
from orderkit.orders import OrderLine as OrderLine
from orderkit.orders import OrderStatus as OrderStatus
from orderkit.orders import apply as apply
from orderkit.orders import apply_all as apply_all


__version__ = "0.1.0.dev0"

__all__ = [
    "Address",
    "Buyer",
    "Currency",
    "IdempotencyKey",
    "IllegalTransition",
    "Money",
    "Order",
    "OrderLine",
    "OrderStatus",
    "OrderkitError",
    "ValidationError",
    "__version__",
    "apply",
    "apply_all",
]
