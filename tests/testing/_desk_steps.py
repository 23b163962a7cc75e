"""Desk-law steps two test files run: orderkit's SQLite and PostgreSQL units."""

from __future__ import annotations

from typing import Final

from orderkit.testing import DeskAction as A
from orderkit.testing import DeskOperation as D


# One order's change applied at once; another's pending ones approved,
# rejected, and left to lapse; then a retry of each price step (`REPEAT`
# picks among the steps that changed something: #5 is the first change).
PRICE_CHANGES: Final = [
    D.receive("TEA", "W1", 5),
    D.receive("MUG", "W1", 5),
    D.receive("POT", "W1", 5),
    D.accept("douyin", "DY-1", "buyer-1", [("TEA", 1)]),
    D.accept("douyin", "DY-2", "buyer-2", [("MUG", 2), ("POT", 2)]),
    D.on(A.PRICE_CHANGE, 0),
    D.on(A.PRICE_CHANGE, 1),
    D.on(A.PRICE_CHANGE, 1),
    D.on(A.APPROVE_PRICE_CHANGE),
    D.on(A.REJECT_PRICE_CHANGE),
    D.on(A.PAY, 1),
    D.on(A.PRICE_CHANGE, 1),
    D.wait(15),
    # Lapsed: it can be neither approved nor rejected, only expired.
    D.on(A.APPROVE_PRICE_CHANGE),
    D.on(A.REJECT_PRICE_CHANGE),
    D.on(A.EXPIRE_PRICE_CHANGE),
    *(D.on(A.REPEAT, n) for n in (5, 6, 7, 8, 9, 11, 12)),
]
