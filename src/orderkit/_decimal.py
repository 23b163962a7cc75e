"""Decimal contexts of orderkit's own, whatever the host did to the default.

`decimal.Context(prec=...)` copies every field it is not given from
`decimal.DefaultContext`, which a host may change before orderkit loads (an
`Inexact` trap, a smaller exponent range). orderkit's arithmetic must not
change with it, so every context here is given every field.
"""

from __future__ import annotations

import decimal
from typing import Final


MAX_DIGITS: Final = 28
"""Significant digits of an amount at its minor unit, at most: what `Money`
holds (the default decimal precision, and what a NUMERIC column of any store
here holds exactly)."""


def context(
    *traps: type[decimal.DecimalException],  # trapped too
    prec: int = 50,
    rounding: str = decimal.ROUND_HALF_EVEN,
) -> decimal.Context:
    """A context with every field set; it traps `InvalidOperation`, `Overflow`."""
    return decimal.Context(
        prec=prec,
        rounding=rounding,
        Emin=decimal.MIN_EMIN,
        Emax=decimal.MAX_EMAX,
        capitals=1,
        clamp=0,
        flags=[],
        traps=[decimal.InvalidOperation, decimal.Overflow, *traps],
    )
