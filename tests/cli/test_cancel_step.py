"""The simulated cancel step: only the cancellation's own refusal comes too late."""

from __future__ import annotations

from collections import Counter

import pendulum
import pytest

from orderkit.adapters.memory import MemoryUnitOfWork
from orderkit.cli import _catalog as catalog
from orderkit.cli._buying import arrive, pay
from orderkit.cli._fulfilment import cancel
from orderkit.cli._plans import OrderPlan, Rates
from orderkit.cli._steps import OrderState, Step, stored
from orderkit.cli._traffic import plan_day
from orderkit.cli._world import World
from orderkit.dedupe import IdempotencyKey
from orderkit.orders import OrderStatus, ShipmentLine, Shipped
from orderkit.services import Ledger


# No timeouts: the payment and the refund go through at the first call.
CALM = Rates(payment_timeout=0, carrier_timeout=0)
PLAN = next(
    p
    for p in plan_day(50, 9, CALM)
    if p.kind == "regular" and p.paid_at is not None and p.repricing is None
)


class _Context:
    """What the step is called with: the world, and a schedule it may add to."""

    def __init__(self, world: World) -> None:
        self.world = world
        self.scheduled: list[Step] = []

    def schedule(self, _plan: OrderPlan, step: Step, _at: pendulum.DateTime) -> None:
        self.scheduled.append(step)


@pytest.fixture
def paid() -> tuple[_Context, OrderState]:
    """`PLAN`'s order taken in and paid, as the steps before cancel leave it."""
    unit = MemoryUnitOfWork()
    world = World(unit, seed=9, worker=0, rates=CALM, tally=Counter())
    where = catalog.WAREHOUSES[world.region_of(PLAN.channel)][0]
    with unit as uow:
        for line in PLAN.lines:
            Ledger(uow.ledger, world.clock).receive(line.sku, where, line.quantity)
        uow.commit()
    ctx, state = _Context(world), OrderState()
    world.clock.move_to(PLAN.placed_at)
    arrive(ctx, PLAN, state, again=False)
    assert PLAN.paid_at is not None
    world.clock.move_to(PLAN.paid_at)
    pay(ctx, PLAN, state, again=False)
    assert state.stage == "paid"
    return ctx, state


def _shipped(world: World) -> Shipped:
    """The warehouse's notice that the whole order left, in one parcel."""
    order = stored(world, PLAN.channel, PLAN.order_id)
    assert order is not None
    return Shipped(
        order_id=PLAN.order_id,
        key=IdempotencyKey("wms", "shipped", PLAN.order_id, "1"),
        occurred_at=world.clock.now(),
        shipment_id="parcel-1",
        lines=[ShipmentLine(line.line_id, line.quantity) for line in order.lines],
        carrier="DHL",
        tracking_number="T-1",
    )


def test_a_parked_parcel_the_cancellation_refuses_leaves_it_cancelled(
    paid: tuple[_Context, OrderState],
) -> None:
    ctx, state = paid
    world = ctx.world
    # Before picking, the parcel notice waits parked on the paid order; the
    # cancellation lets it through and the cancelled order refuses it.
    parked = world.desk_of(PLAN.channel).record(
        PLAN.channel, PLAN.order_id, _shipped(world)
    )
    assert parked.parked

    cancel(ctx, PLAN, state)

    assert world.tally["outcome_rejected"] == 1  # the parcel's refusal
    assert world.tally["cancellations_too_late"] == 0
    assert (state.stage, world.tally["cancelled"]) == ("cancelled", 1)
    order = stored(world, PLAN.channel, PLAN.order_id)
    assert order is not None
    assert order.status is OrderStatus.CANCELLED


def test_a_cancellation_the_shipped_order_refuses_comes_too_late(
    paid: tuple[_Context, OrderState],
) -> None:
    ctx, state = paid
    world = ctx.world
    region = world.region_of(PLAN.channel)
    desk = world.desk_of(PLAN.channel)
    desk.start_picking(PLAN.channel, PLAN.order_id, world.warehouses[region])
    desk.record(PLAN.channel, PLAN.order_id, _shipped(world))

    cancel(ctx, PLAN, state)

    assert world.tally["cancellations_too_late"] == 1
    assert (state.stage, world.tally["cancelled"]) == ("paid", 0)
    assert ctx.scheduled == []
    order = stored(world, PLAN.channel, PLAN.order_id)
    assert order is not None
    assert order.status is OrderStatus.SHIPPED
