"""orderkit's pytest plugin: the test kit as fixtures named `orderkit_*`.

Installed with orderkit (the `pytest11` entry point `orderkit`), so every
test suite that has orderkit installed can ask for them:

- `orderkit_clock`: a `FrozenClock` at 2026-01-01T00:00Z;
- `orderkit_uow`, a `MemoryUnitOfWork` over empty stores of its own;
- its stores, one fixture each: `orderkit_ledger_store`,
  `orderkit_order_store`, `orderkit_audit_log`, `orderkit_outbox`,
  `orderkit_inbox`, `orderkit_key_store`, `orderkit_limit_store`,
  `orderkit_detector_store` and `orderkit_cursor_store`, each callable
  outside a unit of work (every call then runs in a unit of its own,
  committed if it returns, rolled back if it raises) and inside one of
  yours on `orderkit_uow` (as part of it);
- `orderkit_ledger`: a `Ledger` over `orderkit_ledger_store` and the clock;
- fakes of the outside: `orderkit_payments`, `orderkit_carrier`,
  `orderkit_warehouse`, `orderkit_channel`, `orderkit_notifier`;
- `orderkit_desk`: an `OrderDesk` over `orderkit_uow`, with
  `orderkit_desk_policy` (override it to configure the desk) and
  `orderkit_fingerprinter`; `orderkit_stock(sku, quantity)` puts stock in
  the desk's ledger.

The desk, `orderkit_ledger`, `orderkit_stock` and the store fixtures all
see one world, `orderkit_uow`'s: stock received through `orderkit_ledger`
is stock the desk sells, and the messages the desk writes are in
`orderkit_outbox`.

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
from typing import TYPE_CHECKING, Any

import pytest


# The contract suites and law checkers are tests a host runs from an installed
# package: rewritten as its own tests are, a failed assert shows its values.
# Registered before anything imports orderkit (see above).
pytest.register_assert_rewrite("orderkit.testing")


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
# The unit of work and its stores


@pytest.fixture
def orderkit_uow() -> MemoryUnitOfWork:
    """A `MemoryUnitOfWork` over empty stores of its own: the desk's."""
    from orderkit.adapters.memory import MemoryUnitOfWork

    return MemoryUnitOfWork()


def _store(uow: MemoryUnitOfWork, name: str) -> Any:  # noqa: ANN401 - each fixture names its store
    """The store `name` of `uow`, callable with or without a unit open."""
    from orderkit.testing._unit_view import UnitStoreView

    # The stores of a unit of work refuse calls outside a unit; the view
    # runs each such call in a unit of its own (see `UnitStoreView`).
    return UnitStoreView(uow, name)


@pytest.fixture
def orderkit_ledger_store(orderkit_uow: MemoryUnitOfWork) -> MemoryLedgerStore:
    """The `MemoryLedgerStore` of `orderkit_uow`: the desk's stock.

    Callable outside a unit of work too: see the module's docstring.
    """
    store: MemoryLedgerStore = _store(orderkit_uow, "ledger")
    return store


@pytest.fixture
def orderkit_order_store(orderkit_uow: MemoryUnitOfWork) -> MemoryOrderStore:
    """The `MemoryOrderStore` of `orderkit_uow`: the desk's orders.

    Callable outside a unit of work too: see the module's docstring.
    """
    store: MemoryOrderStore = _store(orderkit_uow, "orders")
    return store


@pytest.fixture
def orderkit_audit_log(orderkit_uow: MemoryUnitOfWork) -> MemoryAuditLog:
    """The `MemoryAuditLog` of `orderkit_uow`: the desk's audit trail.

    Callable outside a unit of work too: see the module's docstring.
    """
    store: MemoryAuditLog = _store(orderkit_uow, "audit")
    return store


@pytest.fixture
def orderkit_outbox(orderkit_uow: MemoryUnitOfWork) -> MemoryOutbox:
    """The `MemoryOutbox` of `orderkit_uow`: the messages the desk wrote.

    Callable outside a unit of work too: see the module's docstring.
    """
    store: MemoryOutbox = _store(orderkit_uow, "outbox")
    return store


@pytest.fixture
def orderkit_inbox(orderkit_uow: MemoryUnitOfWork) -> MemoryInbox:
    """The `MemoryInbox` of `orderkit_uow`.

    Callable outside a unit of work too: see the module's docstring.
    """
    store: MemoryInbox = _store(orderkit_uow, "inbox")
    return store


@pytest.fixture
def orderkit_key_store(orderkit_uow: MemoryUnitOfWork) -> MemoryKeyStore:
    """The `MemoryKeyStore` of `orderkit_uow`, for `orderkit.services.Idempotency`.

    Callable outside a unit of work too: see the module's docstring.
    """
    store: MemoryKeyStore = _store(orderkit_uow, "keys")
    return store


@pytest.fixture
def orderkit_limit_store(orderkit_uow: MemoryUnitOfWork) -> MemoryLimitStore:
    """The `MemoryLimitStore` of `orderkit_uow`, for `PurchaseLimits`.

    Callable outside a unit of work too: see the module's docstring.
    """
    store: MemoryLimitStore = _store(orderkit_uow, "limits")
    return store


@pytest.fixture
def orderkit_detector_store(orderkit_uow: MemoryUnitOfWork) -> MemoryDetectorStore:
    """The `MemoryDetectorStore` of `orderkit_uow`, for `DuplicateDetector`.

    Callable outside a unit of work too: see the module's docstring.
    """
    store: MemoryDetectorStore = _store(orderkit_uow, "detector")
    return store


@pytest.fixture
def orderkit_cursor_store(orderkit_uow: MemoryUnitOfWork) -> MemoryCursorStore:
    """The `MemoryCursorStore` of `orderkit_uow`, for `orderkit.services.pull`.

    Callable outside a unit of work too: see the module's docstring.
    """
    store: MemoryCursorStore = _store(orderkit_uow, "cursors")
    return store


@pytest.fixture
def orderkit_ledger(
    orderkit_ledger_store: MemoryLedgerStore, orderkit_clock: FrozenClock
) -> Ledger:
    """A `Ledger` over `orderkit_ledger_store`, on `orderkit_clock`.

    The desk's ledger: stock it receives is stock `orderkit_desk` sells.
    """
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
