"""Signals for sales channels: stock crossed its safety line, one way or the other."""

from __future__ import annotations

from typing import final

import attrs


@final
@attrs.frozen(slots=True)
class Delist:
    """Sellable stock fell to zero: take the SKU off sale at this location.

    Attributes:
        sku: The SKU.
        location: Where.
        available: Available units after the change.
        safety_stock: The location's safety stock for the SKU.

    .. versionadded:: 0.1.0
    """

    sku: str
    location: str
    available: int
    safety_stock: int


@final
@attrs.frozen(slots=True)
class Relist:
    """Sellable stock rose above zero again: the SKU may go back on sale.

    Attributes:
        sku: The SKU.
        location: Where.
        available: Available units after the change.
        safety_stock: The location's safety stock for the SKU.

    .. versionadded:: 0.1.0
    """

    sku: str
    location: str
    available: int
    safety_stock: int


StockSignal = Delist | Relist
"""A signal a ledger operation returns; acting on it is the host's job."""
