"""Steps from payment to the buyer's door: cancel, pick, ship, carrier scans.

Shipping goes through the `Shipping` saga, behind `retry` and the carrier's
`CircuitBreaker`: while the breaker is open, or the retries run out, the
parcel waits and the step comes back later, resuming the saga under the
same shipment id, so the carrier books each parcel once.
"""

from __future__ import annotations

import datetime as dt
from typing import Final

import pendulum

from orderkit.cli import _payloads as payloads
from orderkit.cli._plans import OrderPlan
from orderkit.cli._steps import Context, OrderState, Step, count_outcomes, stored
from orderkit.errors import CircuitOpen, IllegalTransition, TransientError
from orderkit.integrations import ChannelOrder, TrackingEvent, TrackingStatus, load_json
from orderkit.orders import Cancelled, OrderStatus
from orderkit.services import AlreadyDone, Dispatched


_LOST_PICK_FOUND: Final = dt.timedelta(hours=2)
"""When the warehouse's reconciliation notices a pick task it lost."""
_SHIP_AGAIN: Final = dt.timedelta(minutes=2)
_MAX_ATTEMPTS: Final = 200


def cancel(ctx: Context, plan: OrderPlan, state: OrderState) -> None:
    """The buyer cancels a paid order; the desk owes a refund and sends it."""
    world = ctx.world
    if state.stage == "paid":
        now = world.clock.now()
        records = world.parsers[plan.channel].parse(
            load_json(payloads.cancelled(plan, now)),
            topic=payloads.CANCEL_TOPICS[plan.channel],
        )
        (update,) = (r for r in records if isinstance(r, ChannelOrder))
        (event,) = (e for e in update.events if isinstance(e, Cancelled))
        desk = world.desk_of(plan.channel)
        recorded = desk.record(plan.channel, plan.order_id, event)
        count_outcomes(world, recorded.outcomes)
        # Parked parcels the cancellation let through may be refused: only
        # the cancellation's own refusal means it came too late.
        if any(refused.event.key == event.key for refused in recorded.rejected):
            world.tally["cancellations_too_late"] += 1
            return
        state.stage = "cancelled"
        world.tally["cancelled"] += 1
    elif state.stage != "cancelled":
        return
    # The desk started a refund saga with the cancellation; this step comes
    # back until the provider has sent the money.
    try:
        refunded = world.retried(
            lambda: world.refunds.resume(plan.channel, plan.order_id)
        )
    except TransientError:
        state.attempts += 1
        if state.attempts <= _MAX_ATTEMPTS:
            ctx.schedule(plan, Step.CANCEL, world.clock.now() + _SHIP_AGAIN)
        else:
            world.tally["gave_up"] += 1
        return
    if refunded is not None:
        world.tally["refunds"] += 1


def pick(ctx: Context, plan: OrderPlan, state: OrderState) -> None:
    """The desk sends the pick task; a lost task is found again hours later."""
    world = ctx.world
    if state.stage != "paid":
        return
    if plan.pick_lost and not state.lost_once:
        # The warehouse drops the task: the order sits paid until the
        # warehouse's reconciliation finds it (the monitor flags it first).
        state.lost_once = True
        world.tally["picks_lost"] += 1
        ctx.schedule(plan, Step.PICK, world.clock.now() + _LOST_PICK_FOUND)
        return
    region = world.region_of(plan.channel)
    try:
        world.desk_of(plan.channel).start_picking(
            plan.channel, plan.order_id, world.warehouses[region]
        )
    except IllegalTransition:
        world.tally["picks_refused"] += 1
        return
    state.stage = "picking"
    ctx.schedule(plan, Step.SHIP, world.clock.now() + plan.ship_after)


def ship(ctx: Context, plan: OrderPlan, state: OrderState) -> None:
    """The desk books the parcel through the breaker; it waits while it is open."""
    world = ctx.world
    if state.stage != "picking":
        return
    region = world.region_of(plan.channel)
    breaker, shipping = world.breakers[region], world.shipping[region]
    shipment = f"{plan.channel}-{plan.order_id}-1"
    now = world.clock.now()
    try:
        outcome = world.retried(
            lambda: breaker.call(
                lambda: shipping.ship(plan.channel, plan.order_id, shipment)
            )
        )
    except CircuitOpen as error:
        world.tally["shipments_deferred"] += 1
        until = pendulum.instance(error.until)
        _later(ctx, plan, state, max(until, now + dt.timedelta(seconds=30)))
        return
    except TransientError:
        world.tally["shipments_deferred"] += 1
        _later(ctx, plan, state, now + _SHIP_AGAIN)
        return
    except IllegalTransition:
        world.tally["shipments_refused"] += 1
        return
    if isinstance(outcome, Dispatched):
        state.tracking = outcome.label.tracking_number
    elif isinstance(outcome, AlreadyDone):
        state.tracking = outcome.order.shipments[0].tracking_number
    state.stage = "shipped"
    world.tally["dispatched"] += 1
    ctx.schedule(plan, Step.TRANSIT, now + plan.transit_after)


def _later(
    ctx: Context, plan: OrderPlan, state: OrderState, at: pendulum.DateTime
) -> None:
    state.attempts += 1
    if state.attempts > _MAX_ATTEMPTS:
        ctx.world.tally["gave_up"] += 1
        return
    ctx.schedule(plan, Step.SHIP, at)


def transit(ctx: Context, plan: OrderPlan, state: OrderState) -> None:
    """The carrier scans the parcel in transit; its webhook may come late."""
    world = ctx.world
    if state.stage != "shipped" or state.tracking is None:
        return
    scan = _scan(ctx, plan, state.tracking, TrackingStatus.IN_TRANSIT)
    if plan.scans_reordered:
        # Held back: it reaches the desk after the delivery scan.
        state.withheld = scan
    else:
        _tell(ctx, plan, scan, twice=plan.scans_twice)
    ctx.schedule(plan, Step.DELIVER, world.clock.now() + plan.deliver_after)


def deliver(ctx: Context, plan: OrderPlan, state: OrderState) -> None:
    """The carrier scans the parcel delivered; then a held-back scan arrives."""
    if state.stage != "shipped" or state.tracking is None:
        return
    scan = _scan(ctx, plan, state.tracking, TrackingStatus.DELIVERED)
    _tell(ctx, plan, scan, twice=plan.scans_twice)
    if state.withheld is not None:
        _tell(ctx, plan, state.withheld, twice=False)
        state.withheld = None
    order = stored(ctx.world, plan.channel, plan.order_id)
    if order is not None and order.status is OrderStatus.DELIVERED:
        state.stage = "delivered"
        ctx.world.tally["delivered"] += 1
        if plan.returning is not None:
            at = ctx.world.clock.now() + plan.returning.after
            ctx.schedule(plan, Step.RETURN, at)


def _scan(
    ctx: Context, plan: OrderPlan, tracking: str, status: TrackingStatus
) -> TrackingEvent:
    carrier = ctx.world.carriers[ctx.world.region_of(plan.channel)]
    words = {
        TrackingStatus.IN_TRANSIT: "快件已发往转运中心 / in transit",
        TrackingStatus.DELIVERED: "已签收 / delivered",
    }
    return carrier.scan(tracking, status, description=words.get(status, ""))


def _tell(ctx: Context, plan: OrderPlan, scan: TrackingEvent, *, twice: bool) -> None:
    desk, tally = ctx.world.desk_of(plan.channel), ctx.world.tally
    for attempt in range(2 if twice else 1):
        recorded = desk.track(plan.channel, plan.order_id, scan)
        count_outcomes(ctx.world, recorded.outcomes)
        if any(event.key == scan.key for event in recorded.parked):
            # Parked until its predecessor comes; a repeat of it is absorbed.
            tally["callbacks_parked" if attempt == 0 else "duplicates_absorbed"] += 1
