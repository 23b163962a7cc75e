"""The ledger contract disposes of every store it makes, its state machine's too.

A host's store on a database drops its schema in `close()`: a suite that
left stores behind would leave a schema and a connection per example.
"""

from __future__ import annotations

from typing import Any

from orderkit.adapters.memory import MemoryLedgerStore
from orderkit.ports import LedgerStore
from orderkit.testing.contracts import LedgerStoreContract


class _Counted:
    """A memory ledger store that counts how many were made and closed."""

    made = 0
    closed = 0

    def __init__(self) -> None:
        type(self).made += 1
        self._rows = MemoryLedgerStore()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._rows, name)

    def close(self) -> None:
        type(self).closed += 1


class _Contract(LedgerStoreContract):
    def make_store(self) -> LedgerStore:
        return _Counted()


def test_the_state_machine_closes_each_store_it_made() -> None:
    _Counted.made = _Counted.closed = 0
    _Contract().test_the_ledger_behaves_like_a_plain_dict_model()
    assert _Counted.made > 1
    assert _Counted.closed == _Counted.made
