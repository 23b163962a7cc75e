"""The desk reads several SKUs' balances at once where the store offers it."""

from __future__ import annotations

from typing import Any

import pendulum
import pytest

from orderkit.adapters.sqlite import SqliteLedgerStore
from orderkit.ports import LedgerStore
from orderkit.services import Ledger
from orderkit.services._balance_reads import balances_by_sku
from orderkit.testing import FrozenClock


T0 = pendulum.datetime(2026, 11, 11, tz="UTC")


class _Counted:
    """A store whose reads are counted; `offers` says if it reads SKUs at once."""

    def __init__(self, store: LedgerStore, *, offers: bool) -> None:
        self.store = store
        self.offers = offers
        self.reads: list[str] = []

    def balances(self, now: pendulum.DateTime, **filters: Any) -> Any:
        self.reads.append("balances")
        return self.store.balances(now, **filters)

    def __getattr__(self, name: str) -> Any:
        if name == "balances_of":
            if not self.offers:
                raise AttributeError(name)  # a host's store without it
            self.reads.append(name)
        return getattr(self.store, name)


@pytest.fixture
def stocked(tmp_path: Any) -> LedgerStore:
    store = SqliteLedgerStore(str(tmp_path / "ledger.db"))
    ledger = Ledger(store, FrozenClock(T0))
    ledger.receive("TEA", "W2", 5)
    ledger.receive("TEA", "W1", 3)
    ledger.receive("MUG", "W1", 4)
    return store


@pytest.mark.parametrize("offers", [True, False])
def test_each_sku_in_the_order_given_by_location(
    stocked: LedgerStore, offers: bool
) -> None:
    counted = _Counted(stocked, offers=offers)

    found = balances_by_sku(counted, T0, ["TEA", "NONE", "MUG"])

    assert list(found) == ["TEA", "NONE", "MUG"]
    assert found["TEA"] == list(stocked.balances(T0, sku="TEA"))
    assert [b.location for b in found["TEA"]] == ["W1", "W2"]
    assert found["NONE"] == []
    assert found["MUG"] == list(stocked.balances(T0, sku="MUG"))
    assert counted.reads == (["balances_of"] if offers else ["balances"] * 3)
