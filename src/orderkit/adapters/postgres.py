"""The PostgreSQL stores: every port on one database, shared by many processes.

Needs the `postgres` extra (`pip install 'orderkit[postgres]'`: psycopg 3
and psycopg_pool). Each store connects from a DSN (one connection it owns),
a host's `psycopg.Connection` (used as is, never closed) or a host's
`psycopg_pool.ConnectionPool` (one connection per call), and creates or
migrates its tables on first use. The algorithms are the shared engines';
these modules only read and write rows in SQL, with the locks and conditional
writes that keep each store's promises when many processes write at once.
See the scaling page of the docs for how the tables are laid out.

.. versionadded:: 0.1.0
"""

from orderkit.adapters._postgres_cursors import PostgresCursorStore
from orderkit.adapters._postgres_detector import PostgresDetectorStore
from orderkit.adapters._postgres_keys import PostgresKeyStore
from orderkit.adapters._postgres_ledger import PostgresLedgerStore
from orderkit.adapters._postgres_limits import PostgresLimitStore
from orderkit.adapters._postgres_orders import PostgresAuditLog, PostgresOrderStore
from orderkit.adapters._postgres_outbox import PostgresInbox, PostgresOutbox
from orderkit.adapters._postgres_uow import PostgresUnitOfWork


__all__ = [
    "PostgresAuditLog",
    "PostgresCursorStore",
    "PostgresDetectorStore",
    "PostgresInbox",
    "PostgresKeyStore",
    "PostgresLedgerStore",
    "PostgresLimitStore",
    "PostgresOrderStore",
    "PostgresOutbox",
    "PostgresUnitOfWork",
]
