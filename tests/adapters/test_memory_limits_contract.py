"""The memory limit store runs the limit store contract, as a host's store would."""

from orderkit.adapters.memory import MemoryLimitStore
from orderkit.ports import LimitStore
from orderkit.testing.contracts import LimitStoreContract


class TestMemoryLimitStore(LimitStoreContract):
    """MemoryLimitStore: the reference semantics; racers are threads."""

    def make_store(self) -> LimitStore:
        return MemoryLimitStore()
