"""orderkit's pytest plugin: the test kit as fixtures named `orderkit_*`.

Installed with orderkit (the `pytest11` entry point `orderkit`), so every
test suite that has orderkit installed can ask for them:

- `orderkit_clock`: a `FrozenClock` at 2026-01-01T00:00Z;
- memory stores, each new and empty: `orderkit_ledger_store`,
  `orderkit_order_store`, `orderkit_audit_log`, `orderkit_outbox`,
  `orderkit_inbox`, `orderkit_key_store`, `orderkit_limit_store`,
  `orderkit_detector_store`, `orderkit_cursor_store`, and
  `orderkit_uow`, a `MemoryUnitOfWork` over stores of its own;
- `orderkit_ledger`: a `Ledger` over `orderkit_ledger_store` and the clock;
- fakes of the outside: `orderkit_payments`, `orderkit_carrier`,
  `orderkit_warehouse`, `orderkit_channel`, `orderkit_notifier`;
- `orderkit_desk`: an `OrderDesk` over `orderkit_uow`, with
  `orderkit_desk_policy` (override it to configure the desk) and
  `orderkit_fingerprinter`; `orderkit_stock(sku, quantity)` puts stock in
  the desk's ledger.

The plugin is a module of its own, outside the `orderkit` package, and
imports orderkit only inside its fixtures: loading it imports nothing of
orderkit, so a coverage run started after plugins load still sees all of
orderkit's imports.

.. versionadded:: 0.1.0
"""

# orderkit is imported lazily, inside the fixtures, on purpose.
# ruff: noqa: PLC0415

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import pytest


if TYPE_CHECKING:
    from orderkit.adapters.memory import (
        MemoryAuditLog,
        MemoryCursorStore,
        MemoryDetectorStore,
        MemoryInbox,
        MemoryKeyStore,
        MemoryLedgerStore,
        MemoryLimitStore,
        MemoryOrderStore,
        MemoryOutbox,
        MemoryUnitOfWork,
    )
    from orderkit.adapters.notifications import TemplateNotifier
    from orderkit.dedupe import Fingerprinter
    from orderkit.inventory import Receipt
    from orderkit.services import DeskPolicy, Ledger, OrderDesk
    from orderkit.testing import FrozenClock
    from orderkit.testing.fakes import (
        FakeCarrier,
        FakeChannel,
        FakePayments,
        FakeWarehouse,
    )


__all__ = [
    "orderkit_audit_log",
    "orderkit_carrier",
    "orderkit_channel",
    "orderkit_clock",
    "orderkit_cursor_store",
    "orderkit_desk",
    "orderkit_desk_policy",
    "orderkit_detector_store",
    "orderkit_fingerprinter",
    "orderkit_inbox",
    "orderkit_key_store",
    "orderkit_ledger",
    "orderkit_ledger_store",
    "orderkit_limit_store",
    "orderkit_notifier",
    "orderkit_order_store",
    "orderkit_outbox",
    "orderkit_payments",
    "orderkit_stock",
    "orderkit_uow",
    "orderkit_warehouse",
]


# --------------------------------------------------------------------------
# Time


@pytest.fixture
def orderkit_clock() -> FrozenClock:
    """A `FrozenClock` at 2026-01-01T00:00Z; move it with `advance` or `set`."""
    from orderkit.testing import FrozenClock

    return FrozenClock()


# --------------------------------------------------------------------------
# Memory stores


@pytest.fixture
def orderkit_ledger_store() -> MemoryLedgerStore:
    """An empty `MemoryLedgerStore`."""
    from orderkit.adapters.memory import MemoryLedgerStore

    return MemoryLedgerStore()


@pytest.fixture
def orderkit_order_store() -> MemoryOrderStore:
    """An empty `MemoryOrderStore`."""
    from orderkit.adapters.memory import MemoryOrderStore

    return MemoryOrderStore()


@pytest.fixture
def orderkit_audit_log() -> MemoryAuditLog:
    """An empty `MemoryAuditLog`."""
    from orderkit.adapters.memory import MemoryAuditLog

    return MemoryAuditLog()


@pytest.fixture
def orderkit_outbox() -> MemoryOutbox:
    """An empty `MemoryOutbox`."""
    from orderkit.adapters.memory import MemoryOutbox

    return MemoryOutbox()


@pytest.fixture
def orderkit_inbox() -> MemoryInbox:
    """An empty `MemoryInbox`."""
    from orderkit.adapters.memory import MemoryInbox

    return MemoryInbox()


@pytest.fixture
def orderkit_key_store() -> MemoryKeyStore:
    """An empty `MemoryKeyStore`, for `orderkit.services.Idempotency`."""
    from orderkit.adapters.memory import MemoryKeyStore

    return MemoryKeyStore()


@pytest.fixture
def orderkit_limit_store() -> MemoryLimitStore:
    """An empty `MemoryLimitStore`, for `orderkit.services.PurchaseLimits`."""
    from orderkit.adapters.memory import MemoryLimitStore

    return MemoryLimitStore()


@pytest.fixture
def orderkit_detector_store() -> MemoryDetectorStore:
    """An empty `MemoryDetectorStore`, for `orderkit.services.DuplicateDetector`."""
    from orderkit.adapters.memory import MemoryDetectorStore

    return MemoryDetectorStore()


@pytest.fixture
def orderkit_cursor_store() -> MemoryCursorStore:
    """An empty `MemoryCursorStore`, for `orderkit.services.pull`."""
    from orderkit.adapters.memory import MemoryCursorStore

    return MemoryCursorStore()


@pytest.fixture
def orderkit_uow() -> MemoryUnitOfWork:
    """A `MemoryUnitOfWork` over empty stores of its own."""
    from orderkit.adapters.memory import MemoryUnitOfWork

    return MemoryUnitOfWork()


@pytest.fixture
def orderkit_ledger(
    orderkit_ledger_store: MemoryLedgerStore, orderkit_clock: FrozenClock
) -> Ledger:
    """A `Ledger` over `orderkit_ledger_store`, on `orderkit_clock`."""
    from orderkit.services import Ledger

    return Ledger(orderkit_ledger_store, orderkit_clock)


# --------------------------------------------------------------------------
# The outside world


@pytest.fixture
def orderkit_payments(orderkit_clock: FrozenClock) -> FakePayments:
    """A `FakePayments` provider on `orderkit_clock`."""
    from orderkit.testing.fakes import FakePayments

    return FakePayments(orderkit_clock)


@pytest.fixture
def orderkit_carrier(orderkit_clock: FrozenClock) -> FakeCarrier:
    """A `FakeCarrier` (code `SF`) on `orderkit_clock`."""
    from orderkit.testing.fakes import FakeCarrier

    return FakeCarrier(orderkit_clock)


@pytest.fixture
def orderkit_warehouse(orderkit_clock: FrozenClock) -> FakeWarehouse:
    """A `FakeWarehouse` on `orderkit_clock`."""
    from orderkit.testing.fakes import FakeWarehouse

    return FakeWarehouse(orderkit_clock)


@pytest.fixture
def orderkit_channel() -> FakeChannel:
    """A `FakeChannel` named `fakeshop`, with an empty feed."""
    from orderkit.testing.fakes import FakeChannel

    return FakeChannel()


@pytest.fixture
def orderkit_notifier() -> TemplateNotifier:
    """A `TemplateNotifier` that keeps what it sent (`sent`)."""
    from orderkit.adapters.notifications import TemplateNotifier

    return TemplateNotifier()


# --------------------------------------------------------------------------
# The desk


@pytest.fixture
def orderkit_desk_policy() -> DeskPolicy:
    """How `orderkit_desk` decides: one location, `WH-1`, and the defaults.

    Override this fixture (same name, in your `conftest.py` or test module)
    to give the desk your locations, pricing and limits.
    """
    from orderkit.services import DeskPolicy

    return DeskPolicy(locations=["WH-1"])


@pytest.fixture
def orderkit_fingerprinter() -> Fingerprinter:
    """`Fingerprinter.for_tests()`: keyed with the public test key."""
    from orderkit.dedupe import Fingerprinter

    return Fingerprinter.for_tests()


@pytest.fixture
def orderkit_desk(
    orderkit_uow: MemoryUnitOfWork,
    orderkit_clock: FrozenClock,
    orderkit_desk_policy: DeskPolicy,
    orderkit_fingerprinter: Fingerprinter,
) -> OrderDesk:
    """An `OrderDesk` over `orderkit_uow`, on `orderkit_clock`."""
    from orderkit.services import OrderDesk

    return OrderDesk(
        orderkit_uow, orderkit_clock, orderkit_desk_policy, orderkit_fingerprinter
    )


@pytest.fixture
def orderkit_stock(
    orderkit_uow: MemoryUnitOfWork,
    orderkit_clock: FrozenClock,
    orderkit_desk_policy: DeskPolicy,
) -> Callable[..., Receipt]:
    """Put stock in `orderkit_desk`'s ledger: `orderkit_stock("TEA", 10)`.

    Receives `quantity` of `sku` at `location` (the policy's first location
    if not given) in one unit of work, and returns the ledger's receipt.
    """
    from orderkit.services import Ledger

    def stock(sku: str, quantity: int, *, location: str | None = None) -> Receipt:
        where = orderkit_desk_policy.locations[0] if location is None else location
        with orderkit_uow as uow:
            receipt = Ledger(uow.ledger, orderkit_clock).receive(sku, where, quantity)
            uow.commit()
        return receipt

    return stock
