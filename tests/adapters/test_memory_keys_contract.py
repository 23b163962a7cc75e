"""The memory key store runs the key store contract, as a host's store would."""

from orderkit.adapters.memory import MemoryKeyStore
from orderkit.ports import KeyStore
from orderkit.testing.contracts import KeyStoreContract


class TestMemoryKeyStore(KeyStoreContract):
    """MemoryKeyStore: the reference semantics; racers are threads."""

    def make_store(self) -> KeyStore:
        return MemoryKeyStore()
