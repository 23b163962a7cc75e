"""The memory detector store runs the detector store contract, as a host's would."""

from orderkit.adapters.memory import MemoryDetectorStore
from orderkit.ports import DetectorStore
from orderkit.testing.contracts import DetectorStoreContract


class TestMemoryDetectorStore(DetectorStoreContract):
    """MemoryDetectorStore: the reference semantics; racers are threads."""

    def make_store(self) -> DetectorStore:
        return MemoryDetectorStore()
