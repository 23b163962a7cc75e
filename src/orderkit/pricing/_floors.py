"""Price floors: the least a SKU may sell for, after every discount."""

from __future__ import annotations

import decimal
from decimal import Decimal
from typing import final

import attrs

from orderkit._validate import Validator, text
from orderkit.errors import ValidationError
from orderkit.money import Money


def _non_negative_money(field: str) -> Validator:
    def check(_instance: object, _attribute: object, value: object) -> None:
        if type(value) is not Money:
            raise ValidationError(field, value, "must be a Money")
        if value.amount < 0:
            raise ValidationError(field, value, "must not be negative")

    return check


@final
@attrs.frozen(slots=True)
class PriceFloor:
    """The lowest net unit price a SKU may sell at, after all discounts.

    Build one from an absolute price, or with `PriceFloor.from_cost` as a
    ratio of the unit cost (`1` is "never below cost").

    A floor guards every line whose SKU folds equal to its own, as purchase
    limits match SKUs (`orderkit.dedupe.normalize_sku`): case, Unicode width
    and surrounding or repeated whitespace do not count, so a floor on
    `"YIXING-TEAPOT"` guards `"yixing-teapot"`, `"YIXING-TEAPOT "` and the
    SKU typed in full-width letters too. Punctuation counts: `"A-1"` is not
    `"A1"`. A `PricingPolicy` refuses two floors whose SKUs fold equal.

    Attributes:
        sku: The SKU it guards, as any of its spellings.
        price: The lowest net price of one unit.

    Raises:
        ValidationError: The SKU is empty, or the price is not a Money or is
            negative.

    .. versionadded:: 0.1.0
    """

    sku: str = attrs.field(validator=text("sku"))
    price: Money = attrs.field(validator=_non_negative_money("price"))

    @classmethod
    def from_cost(
        cls, sku: str, cost: Money, ratio: Decimal | int | str = 1
    ) -> PriceFloor:
        """Build a floor at `ratio` times the unit cost, rounded up.

        Rounded up (a floor of 1.1 x 9.99 is 10.99, not 10.98) so that no
        rounding lets a line under the ratio.

        Args:
            sku: The SKU.
            cost: What one unit costs the merchant.
            ratio: A positive Decimal, int or decimal string (`"1.1"`).

        Raises:
            ValidationError: The cost is not a Money or is negative, or the
                ratio is a float or not a positive decimal number.
        """
        _non_negative_money("cost")(None, None, cost)
        factor = _ratio(ratio)
        return cls(sku, cost.scaled(factor, decimal.ROUND_CEILING))


def _ratio(value: object) -> Decimal:
    factor: Decimal | None = None
    if isinstance(value, Decimal):
        factor = value
    elif isinstance(value, int) and not isinstance(value, bool):
        factor = Decimal(value)
    elif isinstance(value, str):
        try:
            factor = Decimal(value)
        except decimal.InvalidOperation:
            factor = None
    if factor is None or not factor.is_finite() or factor <= 0:
        raise ValidationError(
            "ratio", value, "must be a positive Decimal, int or decimal string"
        )
    return factor
