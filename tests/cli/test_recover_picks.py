"""The simulation's recovery resends pick tasks, each to its region's warehouse."""

from __future__ import annotations

from collections import Counter

import pendulum
import pytest
from tests.services._samples import awaiting_payment

from orderkit.adapters.memory import MemoryUnitOfWork
from orderkit.cli import _catalog as catalog
from orderkit.cli._plans import Rates
from orderkit.cli._sweeps import recover_sagas
from orderkit.cli._world import World
from orderkit.dedupe import IdempotencyKey
from orderkit.errors import TransientError
from orderkit.integrations import PickTask, WarehouseConfirmation
from orderkit.money import Money
from orderkit.orders import (
    Address,
    Buyer,
    OrderLine,
    OrderPlaced,
    OrderStatus,
    PaymentCaptured,
)
from orderkit.services import Ledger


T0 = pendulum.datetime(2026, 11, 11, 2, 0)
WHERE = catalog.WAREHOUSES["EU"][0]


class _Down:
    """A warehouse that times out before it takes the task."""

    def create_pick_task(self, _task: PickTask) -> str:
        raise TransientError("wms.create_pick_task", "503")

    def parse_confirmation(self, payload: object) -> WarehouseConfirmation:
        raise NotImplementedError


def test_recover_sagas_sends_a_lost_pick_to_its_regions_warehouse() -> None:
    unit = MemoryUnitOfWork()
    world = World(unit, seed=1, worker=0, rates=Rates(), tally=Counter())
    world.clock.move_to(T0)
    with unit as uow:
        Ledger(uow.ledger, world.clock).receive("RETRO-CLOCK", WHERE, 5)
        uow.commit()
    key = IdempotencyKey("woocommerce", "order", "WC-1", "1")
    placed = OrderPlaced(
        order_id="WC-1",
        key=key,
        occurred_at=T0,
        channel="woocommerce",
        buyer=Buyer("b-1", "Erika Mustermann", email="erika@example.com"),
        address=Address("DE", "Sachsen", "Leipzig", "Mitte", "Markt 1"),
        lines=[OrderLine("L1", "RETRO-CLOCK", 1, Money("49.00", "EUR"))],
    )
    paid = PaymentCaptured(
        order_id="WC-1",
        key=IdempotencyKey("woocommerce", "paid", "WC-1", "1"),
        occurred_at=T0,
        payment_id="pay-1",
        amount=Money("49.00", "EUR"),
    )
    desk = world.desks["EU"]
    desk.accept(awaiting_payment(placed, events=(paid,)))
    with pytest.raises(TransientError):
        desk.start_picking("woocommerce", "WC-1", _Down())

    recover_sagas(world)

    with unit as uow:
        order = uow.orders.get("woocommerce", "WC-1")
    assert order is not None
    assert (order.status, order.saga) == (OrderStatus.PICKING, None)
    assert list(world.warehouses["EU"].tasks) == [
        f"pick:order:woocommerce:WC-1:{WHERE}"
    ]
    assert world.warehouses["CN"].tasks == world.warehouses["US"].tasks == {}
