"""The memory store runs the ledger store contract, as a host's store would."""

from orderkit.adapters.memory import MemoryLedgerStore
from orderkit.ports import LedgerStore
from orderkit.testing.contracts import LedgerStoreContract


class TestMemoryLedgerStore(LedgerStoreContract):
    """MemoryLedgerStore: the reference semantics; racers are threads."""

    def make_store(self) -> LedgerStore:
        return MemoryLedgerStore()
