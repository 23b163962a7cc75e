"""The memory outbox and inbox run the outbox contract, as a host's would."""

from orderkit.adapters.memory import MemoryInbox, MemoryOutbox
from orderkit.ports import Inbox, Outbox
from orderkit.testing.contracts import OutboxContract


class TestMemoryOutbox(OutboxContract):
    """MemoryOutbox and MemoryInbox: the reference semantics; racers are threads."""

    def make_store(self) -> Outbox:
        return MemoryOutbox()

    def make_inbox(self) -> Inbox:
        return MemoryInbox()
