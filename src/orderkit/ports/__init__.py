"""The I/O ports a host application implements, as `typing.Protocol`s.

orderkit's core never does I/O: services receive these ports as arguments.
Reference implementations live in `orderkit.adapters`; fakes for tests in
`orderkit.testing`.

.. versionadded:: 0.1.0
"""

from orderkit.ports._orders import (
    AuditLog,
    Inbox,
    OrderStore,
    Outbox,
    StreamLocks,
    UnitOfWork,
)
from orderkit.ports._outside import (
    Carrier,
    Channel,
    ChannelPayloads,
    Clock,
    Notifier,
    Payments,
    Warehouse,
)
from orderkit.ports._stores import (
    CursorStore,
    DetectorStore,
    KeyStore,
    LedgerStore,
    LimitStore,
)


__all__ = [
    "AuditLog",
    "Carrier",
    "Channel",
    "ChannelPayloads",
    "Clock",
    "CursorStore",
    "DetectorStore",
    "Inbox",
    "KeyStore",
    "LedgerStore",
    "LimitStore",
    "Notifier",
    "OrderStore",
    "Outbox",
    "Payments",
    "StreamLocks",
    "UnitOfWork",
    "Warehouse",
]
