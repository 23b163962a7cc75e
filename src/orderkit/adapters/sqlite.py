"""The SQLite stores: every port in one file, shared safely by several processes.

Standard library only (`sqlite3`). The algorithm is the shared engine's; this
module only reads and writes rows in SQL.

A host may keep its own tables in the same file and have orderkit's writes
join its transaction. A trigger it puts on orderkit's tables must refuse
with `RAISE(ABORT, ...)`, SQLite's default: a statement made to fail
instead keeps the rows it wrote before the failing one, which the store
call that wrote them could not undo.

.. versionadded:: 0.1.0
"""

from orderkit.adapters._sqlite_cursors import SqliteCursorStore
from orderkit.adapters._sqlite_detector import SqliteDetectorStore
from orderkit.adapters._sqlite_keys import SqliteKeyStore
from orderkit.adapters._sqlite_ledger import SqliteLedgerStore

# Outside `__all__`, but importable from here as it always was.
from orderkit.adapters._sqlite_ledger_tables import (
    SCHEMA_VERSION as SCHEMA_VERSION,  # noqa: PLC0414 - an explicit re-export
)
from orderkit.adapters._sqlite_limits import SqliteLimitStore
from orderkit.adapters._sqlite_orders import (
    SqliteAuditLog,
    SqliteOrderStore,
    holds_orders,
)
from orderkit.adapters._sqlite_outbox import SqliteInbox, SqliteOutbox
from orderkit.adapters._sqlite_uow import SqliteUnitOfWork


__all__ = [
    "SqliteAuditLog",
    "SqliteCursorStore",
    "SqliteDetectorStore",
    "SqliteInbox",
    "SqliteKeyStore",
    "SqliteLedgerStore",
    "SqliteLimitStore",
    "SqliteOrderStore",
    "SqliteOutbox",
    "SqliteUnitOfWork",
    "holds_orders",
]
