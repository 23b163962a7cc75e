"""After-sales (售后): a return is requested, approved, inspected, restocked, refunded.

The case (`AfterSalesCase`) is stored with the order through
`OrderDesk.amend`: restocking happens only after an inspection that passed,
which also starts the desk's refund saga; `Refunds.resume` sends the
refund, capped by the order's payment ledger at what was captured, and
marks the case refunded; every step lands in the order's audit trail. Some
buyers claim more than they paid: the ledger refuses the claim and the
case goes on at the cap.
"""

from __future__ import annotations

import datetime as dt
from typing import Final

from orderkit.cli import _catalog as catalog
from orderkit.cli._plans import OrderPlan
from orderkit.cli._steps import Context, OrderState, Step, stored
from orderkit.dedupe import IdempotencyKey
from orderkit.errors import RefundExceedsCapture, TransientError
from orderkit.orders import (
    AfterSalesCase,
    CaseState,
    Order,
    ReturnLine,
    approve_case,
    inspect_return,
    order_stream,
    receive_return,
    request_return,
    resolve_case,
)
from orderkit.pricing import PaymentLedger


_BACK_IN: Final = dt.timedelta(days=1)
"""How long the goods take to come back to the warehouse."""
_REFUND_AGAIN: Final = dt.timedelta(minutes=10)
_REASON: Final = "七天无理由退货 / 7-day no-reason return"
_MAX_ATTEMPTS: Final = 20


def _amend(
    ctx: Context, plan: OrderPlan, case: AfterSalesCase, step: str, actor: str
) -> None:
    key = IdempotencyKey("aftersales", step, plan.order_id, "1")
    ctx.world.desk_of(plan.channel).amend(
        plan.channel, plan.order_id, case, key=key, actor=actor, source="backoffice"
    )


def _ledger(order: Order) -> PaymentLedger:
    """The order's payment ledger, or one read from its captures."""
    if order.payment_ledger is not None:
        return order.payment_ledger
    ledger = PaymentLedger(order.order_id, order.currency)
    for payment in order.payments:
        ledger = ledger.authorise(
            payment.payment_id, payment.amount, payment.captured_at
        )
        ledger = ledger.capture(payment.payment_id, payment.amount, payment.captured_at)
    return ledger


def _shipped_from(ctx: Context, plan: OrderPlan, sku: str) -> str:
    with ctx.world.unit as uow:
        holds = uow.ledger.holds(owner=order_stream(plan.channel, plan.order_id))
    return next((h.location for h in holds if h.sku == sku), "returns-centre")


def request(ctx: Context, plan: OrderPlan, state: OrderState) -> None:
    """The buyer asks to return units; the tier the refund needs approves it."""
    world, returning = ctx.world, plan.returning
    order = stored(world, plan.channel, plan.order_id)
    if state.stage != "delivered" or returning is None or order is None:
        return
    now = world.clock.now()
    ledger = _ledger(order)
    payment = order.payments[0]
    line = order.lines[returning.line]
    asked = line.unit_price * returning.quantity
    amount = min(asked, ledger.refundable)
    if returning.over_claim:
        try:
            ledger.request_refund(
                f"claim-{plan.order_id}",
                payment.payment_id,
                ledger.refundable + asked,
                "买家申请的退款超过实付金额 / more than was paid",
                now,
            )
        except RefundExceedsCapture:
            world.tally["refunds_refused_over_capture"] += 1
    case = request_return(
        case_id=f"as-{plan.order_id}",
        order_id=plan.order_id,
        payment_id=payment.payment_id,
        lines=[ReturnLine(line.line_id, line.sku, returning.quantity)],
        refund_amount=amount,
        reason=_REASON,
        requester=order.buyer.buyer_id,
        return_to=_shipped_from(ctx, plan, line.sku),
        at=now,
    )
    _amend(ctx, plan, case, "case.requested", order.buyer.buyer_id)
    tiers = catalog.TIERS[order.currency]
    role = tiers.role_for(amount)
    case = approve_case(case, f"{role}-01", role, tiers, now)
    _amend(ctx, plan, case, "case.approved", f"{role}-01")
    state.case, state.stage = case, "returning"
    world.tally["returns_requested"] += 1
    ctx.schedule(plan, Step.INSPECT, now + _BACK_IN)


def inspect(ctx: Context, plan: OrderPlan, state: OrderState) -> None:
    """The goods are back: inspect, restock if they pass, then refund."""
    world, returning, case = ctx.world, plan.returning, state.case
    if returning is None or case is None:
        return
    now = world.clock.now()
    if state.stage == "returning":
        case = receive_return(case, {}, {}, now, actor=f"warehouse:{case.return_to}")
        inspected = inspect_return(
            case,
            passed=returning.passed,
            at=now,
            actor=f"warehouse:{case.return_to}",
            note="完好，可二次销售 / resaleable"  # noqa: RUF001 - Chinese punctuation
            if returning.passed
            else "已使用，不可二次销售 / used",  # noqa: RUF001 - Chinese punctuation
        )
        # A case that passed is restocked and its refund saga started, by
        # the desk, in the same unit of work.
        _amend(ctx, plan, inspected.case, "case.inspected", "warehouse")
        if not returning.passed:
            resolved = resolve_case(
                inspected.case,
                now,
                note="检验不合格，退回买家 / sent back",  # noqa: RUF001 - Chinese punctuation
            )
            _amend(ctx, plan, resolved, "case.resolved", "cs-lead")
            state.stage = "returned"
            world.tally["returns_failed_inspection"] += 1
            return
        world.tally["returns_restocked"] += 1
        state.stage = "refunding"
    if state.stage == "refunding":
        _refund(ctx, plan, state)


def _refund(ctx: Context, plan: OrderPlan, state: OrderState) -> None:
    world = ctx.world
    now = world.clock.now()
    try:
        sent = world.retried(lambda: world.refunds.resume(plan.channel, plan.order_id))
    except TransientError:
        state.attempts += 1
        if state.attempts > _MAX_ATTEMPTS:
            world.tally["gave_up"] += 1
        else:
            ctx.schedule(plan, Step.INSPECT, now + _REFUND_AGAIN)
        return
    order = stored(world, plan.channel, plan.order_id)
    case = (
        next((c for c in order.after_sales if c.case_id == f"as-{plan.order_id}"), None)
        if order is not None
        else None
    )
    if sent is None or case is None or case.state is not CaseState.REFUNDED:
        world.tally["refunds_missing"] += 1
        return
    _amend(ctx, plan, resolve_case(case, now), "case.resolved", "cs-lead")
    state.stage = "returned"
    world.tally["refunds"] += 1
    world.tally["returns_refunded"] += 1
