"""In-memory stores: the reference semantics of every port, for tests and demos.

.. versionadded:: 0.1.0
"""

from orderkit.adapters._memory_cursors import MemoryCursorStore
from orderkit.adapters._memory_detector import MemoryDetectorStore
from orderkit.adapters._memory_keys import MemoryKeyStore
from orderkit.adapters._memory_ledger import MemoryLedgerStore
from orderkit.adapters._memory_limits import MemoryLimitStore
from orderkit.adapters._memory_orders import MemoryAuditLog, MemoryOrderStore
from orderkit.adapters._memory_outbox import MemoryInbox, MemoryOutbox
from orderkit.adapters._memory_uow import MemoryUnitOfWork


__all__ = [
    "MemoryAuditLog",
    "MemoryCursorStore",
    "MemoryDetectorStore",
    "MemoryInbox",
    "MemoryKeyStore",
    "MemoryLedgerStore",
    "MemoryLimitStore",
    "MemoryOrderStore",
    "MemoryOutbox",
    "MemoryUnitOfWork",
]
