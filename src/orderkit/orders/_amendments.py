"""Record the order's own parts: its payment ledger, after-sales cases, price changes.

Each of them moves through its own pure functions (`PaymentLedger.capture`,
`approve_case`, `approve`...). The `record_*` functions store the result with
the order: one version on, under an idempotency key, with an audit record
saying what changed, so that the order's audit trail is the whole story. A
part only moves forwards: a ledger keeps every payment, capture and refund it
had, a case keeps its history, a decided price change stays decided.
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Callable, Sequence
from typing import Final, TypeVar, final

import attrs
import pendulum

from orderkit._fast import copier
from orderkit._time import to_utc
from orderkit._validate import instance_of, text
from orderkit.dedupe import IdempotencyKey
from orderkit.errors import (
    CurrencyMismatch,
    IllegalTransition,
    OrderMismatch,
    ValidationError,
)
from orderkit.orders._aftersales import (
    CASE_TRANSITIONS,
    AfterSalesCase,
    CaseAction,
    CaseState,
    CaseStep,
)
from orderkit.orders._audit import AuditRecord, FieldChange
from orderkit.orders._commit import next_version
from orderkit.orders._model import OrderLine
from orderkit.orders._order import Order
from orderkit.orders._payments import PaymentLedger, PaymentRecord, Refund, RefundState
from orderkit.orders._price_changes import (
    ChangeState,
    PriceChange,
    intake_price,
    login,
    routed_amount,
)
from orderkit.orders._status import ENDED


__all__ = [
    "Recorded",
    "Unchanged",
    "record_case",
    "record_payments",
    "record_price_change",
]

_T = TypeVar("_T")
_evolve_order: Final = copier(Order)
_FIGURES: Final = ("authorised", "captured", "refunded", "pending", "allowance")


@final
@attrs.frozen(slots=True)
class Recorded:
    """The part was stored with the order.

    Attributes:
        order: The new order, `version` one higher, the key in `applied_keys`.
        record: The audit record of the change; the status does not move.

    .. versionadded:: 0.1.0
    """

    order: Order
    record: AuditRecord


@final
@attrs.frozen(slots=True)
class Unchanged:
    """Nothing to record: the key was applied before, or the order holds the part.

    Attributes:
        order: The order, unchanged.
        reason: Why nothing changed.

    .. versionadded:: 0.1.0
    """

    order: Order
    reason: str


def _now(value: dt.datetime) -> pendulum.DateTime:
    return to_utc(value, "now")


@attrs.frozen(slots=True, kw_only=True)
class _Stamp:
    """Who records a part, under which key, and when."""

    key: IdempotencyKey = attrs.field(validator=instance_of("key", IdempotencyKey))
    actor: str = attrs.field(validator=text("actor"))
    source: str = attrs.field(validator=text("source"))
    now: pendulum.DateTime = attrs.field(converter=_now)


def record_payments(  # noqa: PLR0913 - the part, and who records it when
    order: Order,
    ledger: PaymentLedger,
    *,
    key: IdempotencyKey,
    actor: str,
    source: str,
    now: dt.datetime,
) -> Recorded | Unchanged:
    """Store the order's payment ledger, as the ledger's operations left it.

    The new ledger must extend the stored one: every payment, capture,
    refund and override it had, in the same places, a pending refund only
    settled or failed, a settled refund only grown
    (`PaymentLedger.grow_refund`), a refund without units (`Refund.lines`)
    only given them. Build it from `order.payment_ledger`, never from
    scratch: the stored ledger may hold what orderkit recorded itself (the
    refunds a `refund` saga sent, with the order's payments; a channel's
    refunds, recorded by `OrderDesk.record_refund` or taken in with the
    order), even on an order whose ledger you never stored. The audit
    record lists the figures that moved (`payment_ledger.captured`,
    `payment_ledger.refunded`...).

    Returns:
        `Recorded`; `Unchanged` if `key` was applied before or the order
        holds this ledger already.

    Raises:
        IllegalTransition: The ledger drops or rewrites what was recorded
            (the reason says to extend `order.payment_ledger`, which may
            hold what orderkit recorded).
        OrderMismatch: The ledger is for another order.
        CurrencyMismatch: The ledger is in another currency than the order.
        ValidationError: An argument is invalid (`field` names it).
    """
    stamp = _Stamp(key=key, actor=actor, source=source, now=now)
    if type(ledger) is not PaymentLedger:
        raise ValidationError("ledger", ledger, "must be a PaymentLedger")
    old = order.payment_ledger
    if key in order.applied_keys:
        return _duplicate(order, key)
    if old == ledger:
        return Unchanged(order, "the order holds this payment ledger already")
    _check_belongs(order, ledger)
    if old is not None:
        _check_extends(order, old, ledger)
    before = None if old is None else old.totals()
    after = ledger.totals()
    changes = tuple(
        FieldChange(
            f"payment_ledger.{name}",
            "" if before is None else str(getattr(before, name)),
            str(getattr(after, name)),
        )
        for name in _FIGURES
        if before is None or getattr(before, name) != getattr(after, name)
    )
    new = attrs.evolve(order, payment_ledger=ledger)
    return _record(order, new, stamp, "PaymentsRecorded", at=stamp.now, changes=changes)


def record_case(  # noqa: PLR0913 - the part, and who records it when
    order: Order,
    case: AfterSalesCase,
    *,
    key: IdempotencyKey,
    actor: str,
    source: str,
    now: dt.datetime,
) -> Recorded | Unchanged:
    """Store an after-sales case with the order: a new one, or its next steps.

    A case already stored must keep its history: the new case's `steps`
    start with the stored ones. A case with a refund must name a refund of
    the order's payment ledger for its payment and amount, so record the
    ledger first. The audit record's change is `after_sales[C1].state`.

    Returns:
        `Recorded`; `Unchanged` if `key` was applied before or the order
        holds this case already.

    Raises:
        IllegalTransition: The case rewrites or drops its recorded history,
            or its lines' serials change other than by its receive step.
        OrderMismatch: The case is for another order.
        ValidationError: The case names a line or refund the order does not
            have, or an argument is invalid (`field` names it).
    """
    stamp = _Stamp(key=key, actor=actor, source=source, now=now)
    if type(case) is not AfterSalesCase:
        raise ValidationError("case", case, "must be an AfterSalesCase")
    if key in order.applied_keys:
        return _duplicate(order, key)
    index = _place(order.after_sales, _case_id, case.case_id)
    old = order.after_sales[index] if index < len(order.after_sales) else None
    if old == case:
        return Unchanged(order, f"the order holds case {case.case_id!r} already")
    _check_case(order, old, case)
    _check_refund_sent(order, index, old, case)
    change = FieldChange(
        f"after_sales[{case.case_id}].state",
        "" if old is None else str(old.state),
        str(case.state),
    )
    at = case.steps[-1].at if case.steps else case.requested_at
    new = attrs.evolve(order, after_sales=_put(order.after_sales, index, case))
    return _record(order, new, stamp, "AfterSalesRecorded", at=at, changes=(change,))


def _check_case(order: Order, old: AfterSalesCase | None, case: AfterSalesCase) -> None:
    """Refuse a case its own functions could not have made from the stored one.

    A case is a value anyone can build: its history must be a path through
    `CASE_TRANSITIONS` that ends in its state, each step's mark set exactly
    when its step is there, and what its approval agreed to unchanged since.
    The lines' serials are the receive step's mark: they change only when
    that step is recorded. A stored case that carries serials without it
    (as `request_return` once let in) keeps them, and can move on.
    """

    def refuse(problem: str) -> IllegalTransition:
        where = f"record_case (case {case.case_id!r})"
        return IllegalTransition(order.order_id, order.status, where, problem)

    if old is not None and case.steps[: len(old.steps)] != old.steps:
        raise refuse("the case's history differs from the recorded one")
    problem = _history_problem(case)
    if problem is not None:
        raise refuse(problem)
    if old is not None:
        agreed = attrs.evolve(
            old,
            lines=[
                attrs.evolve(line, serials=new_line.serials)
                for line, new_line in zip(old.lines, case.lines, strict=False)
            ],
            **{name: getattr(case, name) for name in _CASE_PROGRESS},
        )
        if len(old.lines) != len(case.lines) or agreed != case:
            raise ValidationError(
                f"after_sales[{case.case_id}]",
                case,
                "changes what the recorded case was opened or approved for",
            )
        for name in ("required_role", "inspection_passed", "refund_id"):
            mark = getattr(old, name)
            if mark is not None and getattr(case, name) != mark:
                raise refuse(f"the case's {name} was recorded already")
    problem = _serials_problem(old, case)
    if problem is not None:
        raise refuse(problem)


def _serials_problem(old: AfterSalesCase | None, case: AfterSalesCase) -> str | None:
    """Serials that change without the receive step, which alone sets them."""
    new_steps = case.steps if old is None else case.steps[len(old.steps) :]
    if any(step.action == CaseAction.RECEIVE for step in new_steps):
        return None
    recorded = {} if old is None else {line.line_id: line.serials for line in old.lines}
    for line in case.lines:
        if line.serials != recorded.get(line.line_id, frozenset()):
            field = f"lines[{line.line_id}].serials"
            return f"the case's {field} change without a receive step"
    return None


def _check_refund_sent(
    order: Order, index: int, old: AfterSalesCase | None, case: AfterSalesCase
) -> None:
    """Refuse a case newly refunded by a refund the ledger has as failed.

    Only when the case first names it: a refund that fails after its case
    was recorded is still recorded in the ledger, and the money is owed.
    """
    if case.refund_id is None or (old is not None and old.refund_id is not None):
        return
    refunds = () if order.payment_ledger is None else order.payment_ledger.refunds
    if any(
        r.refund_id == case.refund_id and r.state is RefundState.FAILED for r in refunds
    ):
        raise ValidationError(
            f"after_sales[{index}].refund_id",
            case.refund_id,
            "the refund failed: the case is not refunded by it",
        )


_CASE_PROGRESS: Final = (
    "state",
    "steps",
    "required_role",
    "inspection_passed",
    "refund_id",
)
"""What moves as a case does; every other field stays as the case was opened."""


def _history_problem(case: AfterSalesCase) -> str | None:
    """What is wrong with the case's steps and the marks they leave, if anything."""
    actions, problem = _path(case.steps)
    if problem is None:
        problem = _step_problem(case)
    if problem is None and case.state is not case.steps[-1].after:
        problem = (
            f"the case is {case.state}, but its history ends {case.steps[-1].after}"
        )
    marks = (
        (CaseAction.APPROVE, case.required_role, "required_role"),
        (CaseAction.INSPECT, case.inspection_passed, "inspection_passed"),
        (CaseAction.REFUND, case.refund_id, "refund_id"),
    )
    for action, mark, name in marks:
        if problem is None and (action in actions) != (mark is not None):
            problem = f"the case's {name} does not fit its history"
    if problem is None and CaseAction.REFUND in actions and not case.inspection_passed:
        problem = "the case was refunded without a passed inspection"
    return problem


def _path(steps: Sequence[CaseStep]) -> tuple[set[CaseAction], str | None]:
    """The actions of a case's history, and why it is no path of the machine."""
    first = steps[0] if steps else None
    if first is None or (first.action, first.before, first.after) != (
        "request",
        None,
        CaseState.REQUESTED,
    ):
        return set(), "the case's history does not start with its request"
    actions: set[CaseAction] = set()
    for before, step in itertools.pairwise(steps):
        action = _ACTIONS.get(step.action)
        if (
            action is None
            or step.before is not before.after
            or CASE_TRANSITIONS[before.after, action] is not step.after
        ):
            return actions, (
                f"the case's history steps from {before.after}"
                f" by {step.action!r} to {step.after}"
            )
        actions.add(action)
    return actions, None


_ACTIONS: Final = {action.value: action for action in CaseAction}


def _step_problem(case: AfterSalesCase) -> str | None:
    """What the case functions refuse that the machine's table does not say."""
    last = case.requested_at
    for step in case.steps:
        if step.at < last:
            return f"the case's {step.action} step is before the step it follows"
        last = step.at
        if step.action == CaseAction.APPROVE and login(step.actor) == login(
            case.requester
        ):
            return "the case was approved by its own requester"
        if (
            step.action == CaseAction.RESOLVE
            and step.before is CaseState.INSPECTED
            and case.inspection_passed
        ):
            return "the case passed its inspection and was resolved without a refund"
    return None


def record_price_change(  # noqa: PLR0913 - the part, and who records it when
    order: Order,
    change: PriceChange,
    *,
    key: IdempotencyKey,
    actor: str,
    source: str,
    now: dt.datetime,
) -> Recorded | Unchanged:
    """Store a price-change request with the order; apply it once approved.

    A pending request is stored as it is. Recording its decision replaces it
    (a decided change stays decided); an approval also sets the line's unit
    price, which must still be the change's `old_unit_price`. The audit
    record of an approval has `event_type` `"PriceChanged"` and names the
    old and new value (`lines[L1].unit_price`), the requester, the approver
    and the reason (`price_changes[C1].requester`, `.approver`, `.reason`).

    An approval is held to its approver's tier (`PriceChange.approver_tier`,
    which `approve` sets) on the line's whole move since the order was taken
    in: small approved steps cannot add up past a tier. When the change
    takes the line farther from its intake price (its price now less every
    approved change's move), `|new - intake| * quantity` must be within the
    tier, as the change's own amount must; see `orderkit.pricing.role_needed`.
    A change approved otherwise (no `approver_tier`) is not checked here.

    Returns:
        `Recorded`; `Unchanged` if `key` was applied before or the order
        holds this change already.

    Raises:
        IllegalTransition: The stored change was decided already, or an
            approval reaches a cancelled or closed order.
        OrderMismatch: The change is for another order.
        ValidationError: The change is another request under the same id,
            names a line the order does not have, or the line's price moved
            since the request (`field` names it); or its approver's tier is
            below the line's whole move with it (`field` is `"role"`, the
            value the approver's role, as `approve` says of a role too low).
    """
    stamp = _Stamp(key=key, actor=actor, source=source, now=now)
    if type(change) is not PriceChange:
        raise ValidationError("change", change, "must be a PriceChange")
    if key in order.applied_keys:
        return _duplicate(order, key)
    index = _place(order.price_changes, _change_id, change.change_id)
    old = order.price_changes[index] if index < len(order.price_changes) else None
    if old == change:
        return Unchanged(order, f"the order holds change {change.change_id!r} already")
    if old is not None:
        _check_decision(order, old, change)
    prefix = f"price_changes[{change.change_id}]"
    changes = [
        FieldChange(
            f"{prefix}.state", "" if old is None else str(old.state), str(change.state)
        )
    ]
    lines = order.lines
    event_type = "PriceChangeRecorded"
    if change.state is ChangeState.APPROVED:
        event_type = "PriceChanged"
        lines = _repriced(order, change)
        _check_tier(order, change)
        changes[:0] = [
            FieldChange(
                f"lines[{change.line_id}].unit_price",
                str(change.old_unit_price),
                str(change.new_unit_price),
            )
        ]
        changes += [
            FieldChange(f"{prefix}.requester", "", change.requester),
            FieldChange(f"{prefix}.approver", "", change.decided_by or ""),
            FieldChange(f"{prefix}.reason", "", change.reason),
        ]
    at = change.requested_at if change.decided_at is None else change.decided_at
    price_changes = _put(order.price_changes, index, change)
    new = attrs.evolve(order, lines=lines, price_changes=price_changes)
    return _record(order, new, stamp, event_type, at=at, changes=tuple(changes))


def _check_decision(order: Order, old: PriceChange, new: PriceChange) -> None:
    if old.state is not ChangeState.PENDING:
        raise IllegalTransition(
            order.order_id,
            order.status,
            f"record_price_change (change {new.change_id!r})",
            f"the change is {old.state} already",
        )
    decision = ("state", "decided_by", "decided_at", "note", "approver_tier")
    if attrs.evolve(old, **{name: getattr(new, name) for name in decision}) != new:
        raise ValidationError(
            "change_id", new.change_id, "names another request than the recorded one"
        )


def _repriced(order: Order, change: PriceChange) -> tuple[OrderLine, ...]:
    if order.status in ENDED:
        raise IllegalTransition(
            order.order_id,
            order.status,
            f"record_price_change (change {change.change_id!r})",
            f"the order is {order.status}",
        )
    line = order.line(change.line_id)
    if line.unit_price != change.old_unit_price:
        raise ValidationError(
            f"price_changes[{change.change_id}].old_unit_price",
            change.old_unit_price,
            f"line {line.line_id!r} costs {line.unit_price} now",
        )
    if line.quantity != change.quantity:
        # The tiers routed the change by its quantity: a smaller one would let
        # a lower tier approve moving more money than it may.
        raise ValidationError(
            f"price_changes[{change.change_id}].quantity",
            change.quantity,
            f"line {line.line_id!r} has {line.quantity} units",
        )
    return tuple(
        attrs.evolve(each, unit_price=change.new_unit_price) if each is line else each
        for each in order.lines
    )


def _check_tier(order: Order, change: PriceChange) -> None:
    """Refuse an approval whose approver's tier is below the line's whole move.

    Here, not in `approve`: only the order sees the line's earlier changes,
    so approving small steps one by one cannot move a line further than
    the approver may.
    """
    tier = change.approver_tier
    if tier is None or tier.up_to is None:
        return
    line = order.line(change.line_id)
    intake = intake_price(line.unit_price, line.line_id, order.price_changes)
    amount = routed_amount(change, intake)
    if amount > tier.up_to:
        raise ValidationError(
            "role",
            tier.role,
            f"cannot approve change {change.change_id!r}: with the earlier "
            f"changes to line {line.line_id!r} (taken in at {intake} a unit, "
            f"{change.quantity} units) it needs the approval of {amount}, "
            f"above the {tier.up_to} {tier.role!r} approves",
        )


def _check_belongs(order: Order, ledger: PaymentLedger) -> None:
    """Refuse a ledger of another order or currency, as `Order` would.

    Before `_check_extends`: a ledger in another currency differs from the
    stored one everywhere, and the caller is owed the error that says why.
    """
    if ledger.order_id != order.order_id:
        raise OrderMismatch(order.order_id, ledger.order_id, "payment_ledger.order_id")
    if ledger.currency != order.currency:
        raise CurrencyMismatch(
            "payment_ledger.currency", ledger.currency, order.currency
        )


def _check_extends(order: Order, old: PaymentLedger, new: PaymentLedger) -> None:
    problem = None
    if not _extends(old.payments, new.payments, _payment_moves_on):
        problem = "a payment or capture recorded before is missing or changed"
    elif not _extends(old.refunds, new.refunds, _refund_moves_on):
        problem = "a refund recorded before is missing, changed or reopened"
    elif new.overrides[: len(old.overrides)] != old.overrides:
        problem = "an override recorded before is missing or changed"
    if problem is not None:
        # A host's ledger built from scratch misses what orderkit recorded
        # itself: say where to start from.
        raise IllegalTransition(
            order.order_id,
            order.status,
            "record_payments",
            f"{problem}: extend the order's stored ledger "
            "(order.payment_ledger), which may hold what orderkit recorded "
            "(the refunds its refund saga sent, the channel's refunds)",
        )


def _extends(
    old: Sequence[_T], new: Sequence[_T], fits: Callable[[_T, _T], bool]
) -> bool:
    """Whether `new` keeps every item of `old` in its place, each as `fits`."""
    return len(new) >= len(old) and all(map(fits, old, new))


def _payment_moves_on(before: PaymentRecord, after: PaymentRecord) -> bool:
    return before == attrs.evolve(
        after, captures=after.captures[: len(before.captures)]
    )


def _refund_moves_on(before: Refund, after: Refund) -> bool:
    if not before.lines:
        # A refund recorded without its units may gain them: a channel's
        # order notice may list a refund that only its refund list itemises.
        before = attrs.evolve(before, lines=after.lines)
    if before == after:
        return True
    if before.state is RefundState.PENDING:
        return (
            attrs.evolve(before, state=after.state, decided_at=after.decided_at)
            == after
        )
    # A settled refund grows when its maker paid more back under its id
    # (`PaymentLedger.grow_refund`); it never shrinks.
    return (
        before.state is RefundState.REFUNDED
        and after.amount > before.amount
        and attrs.evolve(before, amount=after.amount) == after
    )


def _place(items: tuple[_T, ...], id_of: Callable[[_T], str], wanted: str) -> int:
    """The index of the item with this id, or `len(items)` if there is none."""
    return next(
        (i for i, item in enumerate(items) if id_of(item) == wanted), len(items)
    )


def _case_id(case: AfterSalesCase) -> str:
    return case.case_id


def _change_id(change: PriceChange) -> str:
    return change.change_id


def _put(items: tuple[_T, ...], index: int, item: _T) -> tuple[_T, ...]:
    return (*items[:index], item, *items[index + 1 :])


def _duplicate(order: Order, key: IdempotencyKey) -> Unchanged:
    return Unchanged(order, f"key {key} was applied before")


def _record(  # noqa: PLR0913 - the orders, the stamp, and what the record says
    order: Order,
    new: Order,
    stamp: _Stamp,
    event_type: str,
    *,
    at: pendulum.DateTime,
    changes: tuple[FieldChange, ...],
) -> Recorded:
    """One version on from `order` to `new`, which `attrs.evolve` checked."""
    version = next_version(order)
    new = _evolve_order(
        new, version=version, applied_keys=order.applied_keys | {stamp.key}
    )
    record = AuditRecord(
        order_id=order.order_id,
        version=version,
        from_status=order.status,
        to_status=order.status,
        event_type=event_type,
        key=stamp.key,
        actor=stamp.actor,
        source=stamp.source,
        occurred_at=at,
        recorded_at=stamp.now,
        changes=changes,
    )
    return Recorded(new, record)
