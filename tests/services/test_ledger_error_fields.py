"""The ledger's refusals name the input at fault, as every orderkit error does."""

from __future__ import annotations

import pickle

import pytest

from orderkit.adapters.memory import MemoryLedgerStore
from orderkit.errors import HoldNotLive, InsufficientStock
from orderkit.inventory import Shortage
from orderkit.services import Ledger
from orderkit.testing import FrozenClock


@pytest.fixture
def ledger(clock: FrozenClock) -> Ledger:
    made = Ledger(MemoryLedgerStore(), clock)
    made.receive("TEA", "SH", 2)
    return made


def test_a_hold_no_longer_live_is_the_hold_id(ledger: Ledger) -> None:
    hold_id = ledger.reserve("cart", [("TEA", "SH", 1)]).holds[0].hold_id
    ledger.release(hold_id)
    for call in (lambda: ledger.commit(hold_id), lambda: ledger.extend(hold_id)):
        with pytest.raises(HoldNotLive) as caught:
            call()
        error = caught.value
        assert (error.field, error.value) == ("hold_id", hold_id)
        assert str(error) == f"hold {hold_id!r} is released, no longer live"
        again = pickle.loads(pickle.dumps(error))  # noqa: S301 - our own bytes
        assert (again.field, again.value) == ("hold_id", hold_id)


def test_a_shortage_is_the_short_lines(ledger: Ledger) -> None:
    with pytest.raises(InsufficientStock) as caught:
        ledger.reserve("cart", [("TEA", "SH", 5)])
    error = caught.value
    short = (Shortage("TEA", "SH", 5, 2),)
    assert (error.field, error.value, error.shortages) == ("lines", short, short)
    assert str(error) == ("insufficient stock: 'TEA' at 'SH': requested 5, available 2")
    with pytest.raises(InsufficientStock) as caught:
        ledger.ship("cart", [("TEA", "SH", 1)])
    assert caught.value.field == "lines"
    assert caught.value.value == (Shortage("TEA", "SH", 1, 0, "allocated"),)
