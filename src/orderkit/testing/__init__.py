"""The test kit: what an application built on orderkit needs to test itself.

- `FrozenClock` stands still until a test moves it.
- `channel_order([("JADE-TEAPOT", 2, "88.00")])` is an order as a channel
  adapter reads it, to hand to `OrderDesk.accept`.
- `check_ledger_laws(make_store)` drives any `LedgerStore` through the
  ledger's laws (`LedgerLaw`) and `check_order_store_laws(make_store)` any
  `OrderStore` through its own (`OrderStoreLaw`); both raise `LawBroken`,
  an `AssertionError` naming the law, and need no pytest.
  `LedgerOperation` is one step of a ledger run, `LedgerAction` its kind.
- `check_desk_laws(make_unit)` drives an `OrderDesk` over any `UnitOfWork`
  beside one over the memory reference and compares answers and stores
  after every step (`DeskLaw`); `DeskOperation` is one step, `DeskAction`
  its kind.
- `orderkit.testing.strategies`: hypothesis strategies for money, orders,
  their parts and events (`for_type` lists them), event streams delivered
  twice and out of order, channel orders and ledger operations.
- `orderkit.testing.contracts`: the contract suite of every port, for
  pytest, to subclass for your own stores.
- `orderkit.testing.fakes` and `orderkit.testing.faults`: fakes of the
  outside ports, and faults to inject into any port.
- The pytest plugin `pytest_orderkit`, installed with orderkit, gives all
  of it as fixtures named `orderkit_*` (`orderkit_clock`, `orderkit_ledger`,
  `orderkit_desk`...): `pytest --fixtures` lists them.

An in-memory fake of every port:

| Port | Fake |
| --- | --- |
| `Clock` | `orderkit.testing.FrozenClock` |
| `Payments` | `orderkit.testing.fakes.FakePayments` |
| `Carrier` | `orderkit.testing.fakes.FakeCarrier` |
| `Warehouse` | `orderkit.testing.fakes.FakeWarehouse` |
| `Channel` | `orderkit.testing.fakes.FakeChannel` |
| `ChannelPayloads` | `orderkit.adapters.channels.ShopifyPayloads` |
| `Notifier` | `orderkit.adapters.notifications.TemplateNotifier` |
| `OrderStore` | `orderkit.adapters.memory.MemoryOrderStore` |
| `AuditLog` | `orderkit.adapters.memory.MemoryAuditLog` |
| `Outbox` | `orderkit.adapters.memory.MemoryOutbox` |
| `StreamLocks` | `orderkit.adapters.memory.MemoryOutbox` |
| `Inbox` | `orderkit.adapters.memory.MemoryInbox` |
| `LedgerStore` | `orderkit.adapters.memory.MemoryLedgerStore` |
| `KeyStore` | `orderkit.adapters.memory.MemoryKeyStore` |
| `LimitStore` | `orderkit.adapters.memory.MemoryLimitStore` |
| `DetectorStore` | `orderkit.adapters.memory.MemoryDetectorStore` |
| `CursorStore` | `orderkit.adapters.memory.MemoryCursorStore` |
| `UnitOfWork` | `orderkit.adapters.memory.MemoryUnitOfWork` |

The memory stores are orderkit's reference semantics, the ones the
contract suites pin, so the kit uses them rather than copies. Any
reference channel adapter (`orderkit.adapters.channels`) serves as
`ChannelPayloads`, and `TemplateNotifier` keeps what it sent.

The strategies and contracts need the `testing` extra:
`pip install 'orderkit[testing]'`; this module does not.

.. versionadded:: 0.1.0
"""

from orderkit.testing._clock import FrozenClock as FrozenClock
from orderkit.testing._desk_laws import check_desk_laws as check_desk_laws
from orderkit.testing._desk_ops import DeskAction as DeskAction
from orderkit.testing._desk_ops import DeskOperation as DeskOperation
from orderkit.testing._laws import DeskLaw as DeskLaw
from orderkit.testing._laws import LawBroken as LawBroken
from orderkit.testing._laws import LedgerLaw as LedgerLaw
from orderkit.testing._laws import OrderStoreLaw as OrderStoreLaw
from orderkit.testing._ledger_laws import check_ledger_laws as check_ledger_laws
from orderkit.testing._ledger_ops import LedgerAction as LedgerAction
from orderkit.testing._ledger_ops import LedgerOperation as LedgerOperation
from orderkit.testing._order_laws import (
    check_order_store_laws as check_order_store_laws,
)
from orderkit.testing._samples import channel_order as channel_order


__all__ = [
    "DeskAction",
    "DeskLaw",
    "DeskOperation",
    "FrozenClock",
    "LawBroken",
    "LedgerAction",
    "LedgerLaw",
    "LedgerOperation",
    "OrderStoreLaw",
    "channel_order",
    "check_desk_laws",
    "check_ledger_laws",
    "check_order_store_laws",
]
