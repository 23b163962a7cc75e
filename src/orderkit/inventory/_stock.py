"""Stock at one place: lines of a request, balances, and shortages."""

from __future__ import annotations

from typing import final

import attrs

from orderkit._validate import (
    MAX_NAME_LENGTH,
    count,
    optional_text,
    positive_int,
    signed_int,
    text,
)


@final
@attrs.frozen(slots=True)
class StockLine:
    """A quantity of one SKU at one location: a line of a reservation or shipment.

    Attributes:
        sku: The stock-keeping unit: printable text of 1 to 255 characters.
        location: The warehouse or store that holds it: printable text of 1
            to 255 characters.
        quantity: How many units, at least 1.

    .. versionadded:: 0.1.0
    """

    sku: str = attrs.field(validator=text("sku", MAX_NAME_LENGTH))
    location: str = attrs.field(validator=text("location", MAX_NAME_LENGTH))
    quantity: int = attrs.field(validator=positive_int("quantity"))


@final
@attrs.frozen(slots=True)
class Balance:
    """The stock of one SKU at one location.

    `available` falls below zero under a backorder or preorder policy, down
    to the policy's floor (what was sold stays sold when the policy changes
    or pre-orders close), and under any policy when a stocktake
    (`Ledger.adjust(counted=...)`) counts fewer units than are held and
    committed: the count records the shelf as it is. New holds are then
    refused while available is below the policy's floor, and the count's
    receipt carries a `Delist` if the balance was on sale. A correction by
    `delta` never takes it below the floor. `on_hand`, `reserved` and
    `allocated` never fall below zero.

    Attributes:
        sku: The stock-keeping unit (1 to 255 characters).
        location: Where the stock is (1 to 255 characters).
        on_hand: Units physically there.
        reserved: Units in live holds (carts and unpaid orders).
        allocated: Units committed to paid orders, not yet shipped.
        safety_stock: Units kept back from sale at this location.

    .. versionadded:: 0.1.0
    """

    sku: str = attrs.field(validator=text("sku", MAX_NAME_LENGTH))
    location: str = attrs.field(validator=text("location", MAX_NAME_LENGTH))
    on_hand: int = attrs.field(default=0, validator=count("on_hand"))
    reserved: int = attrs.field(default=0, validator=count("reserved"))
    allocated: int = attrs.field(default=0, validator=count("allocated"))
    safety_stock: int = attrs.field(default=0, validator=count("safety_stock"))

    @property
    def available(self) -> int:
        """`on_hand - reserved - allocated`: what a new reservation may take."""
        return self.on_hand - self.reserved - self.allocated

    def sellable(self, channel_buffer: int = 0) -> int:
        """What a sales channel may show: never below zero.

        Args:
            channel_buffer: Units the channel keeps back on top of the
                location's safety stock.

        Returns:
            `max(0, available - safety_stock - channel_buffer)`.
        """
        return max(0, self.available - self.safety_stock - channel_buffer)


@final
@attrs.frozen(slots=True)
class Shortage:
    """One line that stock could not cover.

    Attributes:
        sku: The SKU.
        location: The location; `None` when all locations together fall short.
        requested: What the request needed, summed over its lines.
        available: What there was to take (on hand or allocated, for
            `measure` other than `"available"`).
        measure: Which figure fell short: `"available"`, `"on_hand"` or
            `"allocated"`.

    .. versionadded:: 0.1.0
    """

    sku: str = attrs.field(validator=text("sku"))
    location: str | None = attrs.field(validator=optional_text("location"))
    requested: int = attrs.field(validator=count("requested"))
    available: int = attrs.field(validator=signed_int("available"))
    measure: str = attrs.field(default="available", validator=text("measure"))

    def __str__(self) -> str:
        where = "all locations" if self.location is None else repr(self.location)
        return (
            f"{self.sku!r} at {where}: requested {self.requested}, "
            f"{self.measure} {self.available}"
        )
