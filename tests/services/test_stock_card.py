"""One SKU's stock card: its movements, filtered by the store and paged by `seq`.

The contract (`LedgerStoreContract`) checks the filters on every store; here,
what the `Ledger` hands its store, and the memory store's index of
movements by balance, which filtered reads build and a rolled-back unit
of work takes back.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, cast

import pytest

from orderkit.adapters.memory import MemoryLedgerStore, MemoryUnitOfWork
from orderkit.errors import ValidationError
from orderkit.inventory import Movement, MovementKind
from orderkit.ports import LedgerStore
from orderkit.services import Ledger
from orderkit.testing._clock import FrozenClock
from orderkit.testing._contract_base import START


class _Recording:
    """A memory ledger store that records the keywords of each `movements` call."""

    def __init__(self) -> None:
        self.inner = MemoryLedgerStore()
        self.calls: list[dict[str, object]] = []

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def movements(self, **kwargs: Any) -> Sequence[Movement]:
        self.calls.append(kwargs)
        return self.inner.movements(**kwargs)


class _Unfiltered:
    """A host's store written before the filters: `movements(*, after, limit)`."""

    def __init__(self) -> None:
        self.inner = MemoryLedgerStore()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def movements(self, *, after: int = 0, limit: int = 1000) -> Sequence[Movement]:
        return self.inner.movements(after=after, limit=limit)


def _card(ledger: Ledger, *, limit: int, **where: str) -> list[Movement]:
    """Every movement the filter `where` selects, read `limit` at a time."""
    found: list[Movement] = []
    after = 0
    while page := ledger.movements(after=after, limit=limit, **where):
        found.extend(page)
        after = page[-1].seq
    return found


def test_the_ledger_hands_the_filter_to_the_store_only_when_given() -> None:
    """An unfiltered read calls the store as before the filters; a filtered one filters.

    So a host's store written to the old `movements(*, after, limit)` still
    serves every unfiltered read (the audit's, the model's).
    """
    store = _Recording()
    ledger = Ledger(cast("LedgerStore", store), FrozenClock(START))
    ledger.receive("TEA-01", "W1", 5)
    ledger.receive("MUG-02", "W1", 5)
    ledger.movements(after=0, limit=10)
    ledger.movements(limit=10, sku="TEA-01")
    ledger.movements(limit=10, location="W1")
    assert store.calls == [
        {"after": 0, "limit": 10},
        {"after": 0, "limit": 10, "sku": "TEA-01", "location": None},
        {"after": 0, "limit": 10, "sku": None, "location": "W1"},
    ]
    assert [m.sku for m in ledger.movements(sku="TEA-01")] == ["TEA-01"]


def test_a_store_without_the_filters_reads_whole_and_refuses_a_filter() -> None:
    """An old-signature store keeps working unfiltered; a filter is its TypeError."""
    store = _Unfiltered()
    ledger = Ledger(cast("LedgerStore", store), FrozenClock(START))
    ledger.receive("TEA-01", "W1", 5)
    ledger.receive("MUG-02", "W2", 5)
    assert [m.sku for m in ledger.movements()] == ["TEA-01", "MUG-02"]
    assert ledger.audit() == ()
    with pytest.raises(TypeError, match=r"_Unfiltered\.movements\(\) got an unexp"):
        ledger.movements(sku="TEA-01", location="W1")
    # The ledger checks a filter before it asks the store.
    with pytest.raises(ValidationError) as error:
        ledger.movements(sku="TEA-01", location="")
    assert (error.value.field, error.value.value) == ("location", "")


def test_a_stock_card_pages_through_a_long_history_among_others() -> None:
    """One balance's card, paged 7 at a time, amid other SKUs' and locations' moves."""
    ledger = Ledger(MemoryLedgerStore(), FrozenClock(START))
    for i in range(40):
        ledger.receive(f"SKU-{i % 5}", f"W{i % 3}", i + 1)
    log = list(ledger.movements())
    card = _card(ledger, limit=7, sku="SKU-1", location="W1")
    assert card == [m for m in log if (m.sku, m.location) == ("SKU-1", "W1")]
    assert len(card) == 3
    by_sku = _card(ledger, limit=7, sku="SKU-1")
    assert by_sku == [m for m in log if m.sku == "SKU-1"]
    assert [m.location for m in by_sku] == ["W1", "W0", "W2"] * 2 + ["W1", "W0"]
    at = _card(ledger, limit=4, location="W2")
    assert at == [m for m in log if m.location == "W2"]


def test_movements_written_after_a_filtered_read_join_its_index() -> None:
    """The memory store's index catches up with the log on each filtered read."""
    ledger = Ledger(MemoryLedgerStore(), FrozenClock(START))
    ledger.receive("TEA-01", "W1", 5)
    assert len(ledger.movements(sku="TEA-01")) == 1
    hold = ledger.reserve("cart-1", [("TEA-01", "W1", 2)]).holds[0]
    ledger.release(hold.hold_id)
    kinds = [m.kind for m in ledger.movements(sku="TEA-01", location="W1")]
    assert kinds == [MovementKind.RECEIVE, MovementKind.HOLD, MovementKind.RELEASE]
    # The hold's own movement is logged as the hold: read back as a movement.
    assert ledger.movements(sku="TEA-01")[1] == ledger.movements()[1]


def test_a_rolled_back_unit_takes_its_movements_out_of_the_index() -> None:
    """Read filtered inside a unit that rolls back: later reads see only what stayed."""
    uow = MemoryUnitOfWork()
    clock = FrozenClock(START)
    with uow:
        ledger = Ledger(uow.ledger, clock)
        ledger.receive("TEA-01", "W1", 5)
        ledger.receive("MUG-02", "W1", 5)
        assert len(ledger.movements(sku="TEA-01")) == 1
        uow.commit()

    def fail() -> None:
        with uow:
            inside = Ledger(uow.ledger, clock)
            inside.receive("TEA-01", "W1", 1)
            inside.receive("TEA-01", "W2", 1)
            inside.receive("CUP-03", "W1", 1)
            assert len(inside.movements(sku="TEA-01")) == 3
            assert len(inside.movements(location="W1")) == 4
            raise RuntimeError

    with pytest.raises(RuntimeError):
        fail()
    with uow:
        ledger = Ledger(uow.ledger, clock)
        at_w1 = ledger.movements(location="W1")
        assert [m.sku for m in at_w1] == ["TEA-01", "MUG-02"]
        ledger.receive("TEA-01", "W2", 2)
        ledger.receive("CUP-03", "W1", 3)
        uow.commit()
        log = list(ledger.movements())
        assert [m.seq for m in log] == [1, 2, 3, 4]
        assert list(ledger.movements(sku="TEA-01")) == [log[0], log[2]]
        assert list(ledger.movements(sku="TEA-01", location="W2")) == [log[2]]
        assert list(ledger.movements(sku="CUP-03")) == [log[3]]
        assert list(ledger.movements(location="W1")) == [log[0], log[1], log[3]]
