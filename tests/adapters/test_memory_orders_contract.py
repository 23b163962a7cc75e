"""The memory order store runs the order store contract, as a host's store would."""

from orderkit.adapters.memory import MemoryOrderStore
from orderkit.ports import OrderStore
from orderkit.testing.contracts import OrderStoreContract


class TestMemoryOrderStore(OrderStoreContract):
    """MemoryOrderStore: the reference semantics; racers are threads."""

    def make_store(self) -> OrderStore:
        return MemoryOrderStore()
