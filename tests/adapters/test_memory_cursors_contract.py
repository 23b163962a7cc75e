"""The memory cursor store runs the cursor store contract, as a host's store would."""

from orderkit.adapters.memory import MemoryCursorStore
from orderkit.ports import CursorStore
from orderkit.testing.contracts import CursorStoreContract


class TestMemoryCursorStore(CursorStoreContract):
    """MemoryCursorStore: the reference semantics; racers are threads."""

    def make_store(self) -> CursorStore:
        return MemoryCursorStore()
