"""The memory outbox and inbox run the outbox contract, as a host's would."""

import pytest

from orderkit.adapters.memory import MemoryInbox, MemoryOutbox
from orderkit.errors import ValidationError
from orderkit.ports import Inbox, Outbox, StreamLocks
from orderkit.testing.contracts import OutboxContract


class TestMemoryOutbox(OutboxContract):
    """MemoryOutbox and MemoryInbox: the reference semantics; racers are threads."""

    def make_store(self) -> Outbox:
        return MemoryOutbox()

    def make_inbox(self) -> Inbox:
        return MemoryInbox()


def test_its_stream_locks_check_what_they_are_given() -> None:
    outbox = MemoryOutbox()
    assert isinstance(outbox, StreamLocks)
    outbox.lock_streams(["sku:CLOCK", "sku:CLOCK"])
    with pytest.raises(ValidationError) as caught:
        outbox.lock_streams("sku:CLOCK")
    assert "streams" == caught.value.field
