"""Desk-law steps that several test files run, on memory, SQLite and PostgreSQL."""

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


# Two orders the channel repriced (改价): one waits for a person as its
# notice comes, changes nothing when the notice comes again, is paid,
# released and picked; the other's cancellation withdraws its review.
CHANNEL_EDITS: Final = [
    D.receive("TEA", "W1", 10),
    D.accept("douyin", "DY-1", "buyer-1", [("TEA", 2)]),
    D.accept("taobao", "TB-2", "buyer-2", [("TEA", 1)]),
    D.on(A.NOTICE_EDITED, 0),
    D.on(A.NOTICE_EDITED, 0),
    D.on(A.NOTICE_PAID, 0),
    D.on(A.RELEASE, 0),
    D.on(A.PICK, 0),
    D.on(A.NOTICE_EDITED, 1),
    D.on(A.CANCEL, 1),
]
