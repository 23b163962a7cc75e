"""The memory unit of work runs the unit-of-work contract, and what only it does."""

from __future__ import annotations

import pytest

from orderkit.adapters.memory import MemoryUnitOfWork
from orderkit.errors import StoreError
from orderkit.ports import UnitOfWork
from orderkit.testing.contracts import UnitOfWorkContract


class TestMemoryUnitOfWork(UnitOfWorkContract):
    """MemoryUnitOfWork: the reference semantics; racers are threads sharing it."""

    def make_store(self) -> UnitOfWork:
        return MemoryUnitOfWork()


class TestClosedUnits:
    """The unit's stores are refused outside it."""

    def test_each_store_is_refused_outside_a_unit(self) -> None:
        """Every property raises StoreError naming the store."""
        uow = MemoryUnitOfWork()
        names = [
            "orders",
            "audit",
            "outbox",
            "inbox",
            "ledger",
            "keys",
            "limits",
            "detector",
            "cursors",
        ]
        for name in names:
            with pytest.raises(StoreError) as error:
                getattr(uow, name)
            assert error.value.operation == name
            assert error.value.store == "memory"
