"""`MemoryLedgerStore.balances()` counts exactly the due holds as expired."""

from __future__ import annotations

import datetime as dt

import pendulum
from hypothesis import given
from hypothesis import strategies as st

from orderkit.adapters.memory import MemoryLedgerStore
from orderkit.services import Ledger
from orderkit.testing import FrozenClock


START = pendulum.datetime(2026, 11, 11, 9, 0)


@given(
    ttls=st.lists(st.integers(1, 60), min_size=1, max_size=40),
    released=st.sets(st.integers(0, 39)),
    extended=st.dictionaries(st.integers(0, 39), st.integers(1, 60)),
    later=st.integers(0, 70),
)
def test_a_balance_leaves_out_exactly_the_holds_due(
    ttls: list[int], released: set[int], extended: dict[int, int], later: int
) -> None:
    clock = FrozenClock(START)
    store = MemoryLedgerStore()
    ledger = Ledger(store, clock)
    ledger.receive("TEA-01", "W1", 1_000)
    holds = []
    for n, minutes in enumerate(ttls):
        receipt = ledger.reserve(
            f"cart-{n}", [("TEA-01", "W1", n + 1)], ttl=dt.timedelta(minutes=minutes)
        )
        holds.append(receipt.holds[0].hold_id)
    for n in released & set(range(len(holds))):
        ledger.release(holds[n])
    for n, minutes in extended.items():
        if n < len(holds) and n not in released:
            ledger.extend(holds[n], dt.timedelta(minutes=minutes))
    now = START.add(minutes=later)
    live = [
        h
        for h in (store.hold(i) for i in holds)
        if h is not None and h.state.value == "live"
    ]
    not_due = sum(h.quantity for h in live if h.expires_at > now)
    (balance,) = store.balances(now, sku="TEA-01")
    assert balance.reserved == not_due
