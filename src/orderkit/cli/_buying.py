"""Steps before an order ships: it arrives, is reviewed or repriced, and is paid.

Each step reads what the channel sends (through the channel's adapter) and
calls the desk as a host application would, then counts what the desk
answered. Webhooks delivered twice or out of order come back to the desk as
they would in production: the desk's idempotency absorbs them.
"""

from __future__ import annotations

import datetime as dt
from typing import Final

import pendulum

from orderkit.cli import _catalog as catalog
from orderkit.cli import _payloads as payloads
from orderkit.cli._plans import OrderPlan
from orderkit.cli._steps import Context, OrderState, Step, stored
from orderkit.dedupe import IdempotencyKey
from orderkit.errors import (
    IllegalTransition,
    InsufficientStock,
    TransientError,
    UnknownOrder,
)
from orderkit.integrations import ChannelOrder, ChannelTransaction, load_json
from orderkit.money import Money
from orderkit.orders import Cancelled, PaymentCaptured
from orderkit.pricing import approve, reject, request_change
from orderkit.services import (
    Accepted,
    AlreadyAccepted,
    AlreadyDone,
    Captured,
    DuplicateDetector,
    Held,
    RefusalReason,
    Refused,
)


_RETRY_CALLBACK: Final = dt.timedelta(minutes=2)
"""How soon a platform sends a callback again after the desk refused it."""
_MAX_ATTEMPTS: Final = 20
_BACKOFFICE: Final = "backoffice"


def arrive(ctx: Context, plan: OrderPlan, state: OrderState, *, again: bool) -> None:
    """The channel's order webhook: the desk takes the order in, or not."""
    world = ctx.world
    if again and state.stage == "refused":
        # The platform was told no; its repeat is told no again, unread.
        world.tally["duplicates_absorbed"] += 1
        return
    topic = payloads.TOPICS[plan.channel][0]
    records = world.parsers[plan.channel].parse(
        load_json(payloads.created(plan)), topic=topic
    )
    (incoming,) = (r for r in records if isinstance(r, ChannelOrder))
    promotion = plan.discounts[0][0] if plan.discounts else None
    outcome = world.desk_of(plan.channel).accept(
        incoming, ip=plan.ip, device=plan.device, promotion=promotion
    )
    if isinstance(outcome, AlreadyAccepted):
        world.tally["duplicates_absorbed"] += 1
        return
    if again:
        world.tally["redelivery_decided_again"] += 1
    world.tally[f"channel:{plan.channel}"] += 1
    if isinstance(outcome, Accepted):
        state.stage = "accepted"
        world.tally["accepted"] += 1
    elif isinstance(outcome, Held):
        state.stage, state.review = "held", outcome.order.review
        world.tally["held_for_review"] += 1
        world.tally["held_for_pricing"] += "pricing" in outcome.order.review
        world.tally["suspected_duplicates"] += "duplicate" in outcome.order.review
    elif isinstance(outcome, Refused):
        state.stage = "refused"
        limits = outcome.reason is RefusalReason.LIMITS
        world.tally["refused_by_limits" if limits else "refused_out_of_stock"] += 1


def pay(ctx: Context, plan: OrderPlan, state: OrderState, *, again: bool) -> None:
    """The channel says the buyer paid: capture through the provider, as a saga."""
    world = ctx.world
    if state.stage not in {"new", "accepted", "paid"}:
        return
    paid_at = plan.paid_at
    assert paid_at is not None  # noqa: S101 - only paying plans pay
    payment_id, amount = _payment(ctx, plan, paid_at)
    checkout = world.checkouts[world.region_of(plan.channel)]
    try:
        outcome = world.retried(
            lambda: checkout.pay(plan.channel, plan.order_id, payment_id, amount)
        )
    except UnknownOrder:
        # The payment notice overtook the order: the platform tries again.
        world.tally["callbacks_early"] += 1
        _again(ctx, plan, state, Step.PAY_AGAIN if again else Step.PAY)
        return
    except TransientError:
        world.tally["payments_deferred"] += 1
        _again(ctx, plan, state, Step.PAY_AGAIN if again else Step.PAY)
        return
    except IllegalTransition:
        world.tally["payments_too_late"] += 1
        return
    except InsufficientStock:
        world.tally["payments_without_stock"] += 1
        return
    if isinstance(outcome, AlreadyDone):
        world.tally["duplicates_absorbed"] += 1
    elif isinstance(outcome, Captured):
        state.stage = "paid"
        world.tally["paid"] += 1
    else:
        world.tally["payments_declined"] += 1


def _payment(
    ctx: Context, plan: OrderPlan, paid_at: pendulum.DateTime
) -> tuple[str, Money]:
    """The payment id and amount the channel's notice states."""
    topic = payloads.TOPICS[plan.channel][1]
    notice = payloads.paid(plan, paid_at)
    for record in ctx.world.parsers[plan.channel].parse(load_json(notice), topic=topic):
        if isinstance(record, ChannelTransaction):
            return f"{plan.channel}:{record.transaction_id}", record.amount
        if isinstance(record, ChannelOrder):
            for event in record.events:
                if isinstance(event, PaymentCaptured):
                    return f"{plan.channel}:{event.payment_id}", event.amount
    raise AssertionError(f"the {plan.channel} notice states no payment")


def _again(ctx: Context, plan: OrderPlan, state: OrderState, step: Step) -> None:
    state.attempts += 1
    if state.attempts > _MAX_ATTEMPTS:
        ctx.world.tally["gave_up"] += 1
        return
    ctx.schedule(plan, step, ctx.world.clock.now() + _RETRY_CALLBACK)


def review(ctx: Context, plan: OrderPlan, state: OrderState) -> None:
    """A person looks at a suspected duplicate: lets it go on, or cancels it."""
    world = ctx.world
    if state.stage != "held" or "duplicate" not in state.review:
        return
    with world.unit as uow:
        detector = DuplicateDetector(
            catalog.DUPLICATE_WINDOW, uow.detector, world.fingerprinter, world.clock
        )
        if plan.release_on_review:
            detector.confirm(plan.channel, plan.order_id, actor="cs-lead")
        else:
            detector.reject(plan.channel, plan.order_id, actor="cs-lead")
        uow.commit()
    desk = world.desk_of(plan.channel)
    if plan.release_on_review:
        try:
            desk.release(plan.channel, plan.order_id, actor="cs-lead")
        except InsufficientStock:
            world.tally["released_without_stock"] += 1
        else:
            state.stage = "accepted"
            world.tally["duplicates_released"] += 1
            return
    cancelled = Cancelled(
        order_id=plan.order_id,
        key=IdempotencyKey(_BACKOFFICE, "duplicate.cancelled", plan.order_id, "1"),
        occurred_at=world.clock.now(),
        actor="cs-lead",
        source=_BACKOFFICE,
        reason="疑似重复，同一买家跨渠道重复下单 / duplicate across channels",  # noqa: RUF001 - Chinese punctuation
    )
    desk.record(plan.channel, plan.order_id, cancelled)
    state.stage = "cancelled"
    world.tally["duplicates_cancelled"] += 1


def reprice(ctx: Context, plan: OrderPlan, state: OrderState) -> None:
    """Support asks to change a line's price before payment (改价)."""
    world, change = ctx.world, plan.repricing
    if change is None or state.stage != "accepted":
        return
    order = stored(world, plan.channel, plan.order_id)
    if order is None:
        return
    line = order.lines[0]
    request = request_change(
        catalog.TIERS[plan.currency],
        change_id=f"pc-{plan.order_id}",
        order_id=plan.order_id,
        line_id=line.line_id,
        sku=line.sku,
        quantity=line.quantity,
        old_unit_price=line.unit_price,
        new_unit_price=change.new_unit_price,
        reason=change.reason,
        requester=change.requester,
        evidence=f"wangwang-chat:{plan.order_id}",
        requested_at=world.clock.now(),
        ttl=dt.timedelta(minutes=30),
    )
    world.desk_of(plan.channel).amend(
        plan.channel,
        plan.order_id,
        request,
        key=IdempotencyKey(_BACKOFFICE, "price.requested", plan.order_id, "1"),
        actor=change.requester,
        source=_BACKOFFICE,
    )
    state.change = request
    world.tally["price_changes_requested"] += 1
    world.tally[f"price_change_role:{request.required_role}"] += 1


def decide(ctx: Context, plan: OrderPlan, state: OrderState) -> None:
    """The manager whose tier the amount needs approves or rejects the change."""
    world, change, request = ctx.world, plan.repricing, state.change
    if change is None or request is None or state.stage != "accepted":
        return
    tiers = catalog.TIERS[plan.currency]
    approver, role = f"{request.required_role}-01", request.required_role
    now = world.clock.now()
    if change.approve:
        decided = approve(request, tiers, approver=approver, role=role, now=now)
    else:
        decided = reject(
            request,
            tiers,
            approver=approver,
            role=role,
            now=now,
            note="折扣超出活动规则 / beyond the campaign's discount rules",
        )
    world.desk_of(plan.channel).amend(
        plan.channel,
        plan.order_id,
        decided.change,
        key=IdempotencyKey(_BACKOFFICE, "price.decided", plan.order_id, "1"),
        actor=approver,
        source=_BACKOFFICE,
    )
    state.change = decided.change
    world.tally[
        "price_changes_approved" if change.approve else "price_changes_rejected"
    ] += 1
