"""After-sales (售后): a return and refund case, as its own machine linked to an order.

A case is requested, approved (by the role its refund amount needs, through
the same `ApprovalTiers` as price changes) or rejected, received (each
returned serial number checked against what was shipped on its line),
inspected (pass or fail), refunded against the order's original payment, and
resolved. `CASE_TRANSITIONS` is the machine as data; every function here is
pure and returns a new case, or raises and changes nothing.

Only an inspection that passed restocks: `inspect` hands back the
`StockLine`s the caller gives to the inventory ledger as `RESTOCK` movements.
"""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Iterable, Mapping
from types import MappingProxyType
from typing import Any, Final, final

import attrs
import pendulum

from orderkit._time import to_utc
from orderkit._validate import (
    as_tuple,
    instance_of,
    items_of,
    optional_name,
    plain_text,
    positive_int,
    positive_money,
    text,
)
from orderkit.errors import IllegalTransition, UnknownSerial, ValidationError
from orderkit.inventory._stock import StockLine
from orderkit.money import Money
from orderkit.orders._messages import order_stream
from orderkit.orders._price_changes import login
from orderkit.orders._tiers import ApprovalTiers


__all__ = [
    "AfterSalesCase",
    "CASE_TRANSITIONS",
    "CaseAction",
    "CaseState",
    "CaseStep",
    "Inspected",
    "ReturnLine",
    "approve_case",
    "inspect_return",
    "receive_return",
    "refund_case",
    "reject_case",
    "request_return",
    "resolve_case",
]


@final
class CaseState(enum.StrEnum):
    """Where an after-sales case stands.

    .. versionadded:: 0.1.0
    """

    REQUESTED = "requested"
    """The buyer asked for a return and refund (退货退款申请)."""
    APPROVED = "approved"
    """A person with the authority for the refund amount agreed."""
    REJECTED = "rejected"
    """Refused: the case ends here."""
    RECEIVED = "received"
    """The goods are back, serial numbers checked."""
    INSPECTED = "inspected"
    """Inspected: passed (restocked, to be refunded) or failed."""
    REFUNDED = "refunded"
    """The refund was sent against the original payment."""
    RESOLVED = "resolved"
    """Closed: nothing more happens to the case."""


@final
class CaseAction(enum.StrEnum):
    """What can happen to a case: the columns of `CASE_TRANSITIONS`.

    .. versionadded:: 0.1.0
    """

    APPROVE = "approve"
    REJECT = "reject"
    RECEIVE = "receive"
    INSPECT = "inspect"
    REFUND = "refund"
    RESOLVE = "resolve"


_C = CaseState
_A = CaseAction
_LEGAL: Final[dict[tuple[CaseState, CaseAction], CaseState]] = {
    (_C.REQUESTED, _A.APPROVE): _C.APPROVED,
    (_C.REQUESTED, _A.REJECT): _C.REJECTED,
    (_C.APPROVED, _A.RECEIVE): _C.RECEIVED,
    # Approved, but nothing ever came back: closed without a refund.
    (_C.APPROVED, _A.RESOLVE): _C.RESOLVED,
    (_C.RECEIVED, _A.INSPECT): _C.INSPECTED,
    # Refund only after a passed inspection, resolve only after a failed one:
    # guarded in `refund` and `resolve`, since the state alone does not say.
    (_C.INSPECTED, _A.REFUND): _C.REFUNDED,
    (_C.INSPECTED, _A.RESOLVE): _C.RESOLVED,
    (_C.REFUNDED, _A.RESOLVE): _C.RESOLVED,
}

CASE_TRANSITIONS: Final[Mapping[tuple[CaseState, CaseAction], CaseState | None]] = (
    MappingProxyType(
        {
            (state, action): _LEGAL.get((state, action))
            for state in CaseState
            for action in CaseAction
        }
    )
)
"""The after-sales machine: `(state, action) -> new state`, `None` if illegal.

Every pair of a state and an action has exactly one cell; `REJECTED` and
`RESOLVED` are terminal.

.. versionadded:: 0.1.0
"""


def _at(value: dt.datetime) -> pendulum.DateTime:
    return to_utc(value, "at")


def _requested_at(value: dt.datetime) -> pendulum.DateTime:
    return to_utc(value, "requested_at")


def _serials(value: Iterable[str], field: str = "serials") -> frozenset[str]:
    # A bare str is refused, not read as its characters: `in` on a str is a
    # substring test, which would accept serial "RC5-0004" against "RC5-000451".
    if isinstance(value, str | bytes) or not isinstance(value, Iterable):
        raise ValidationError(field, value, "must be a set of serial numbers")
    items = tuple(value)
    for serial in items:
        text(field)(None, None, serial)
    return frozenset(items)


@final
@attrs.frozen(slots=True)
class ReturnLine:
    """A quantity of one order line coming back.

    Attributes:
        line_id: The order line.
        sku: The line's SKU: what goes back on hand after a passed inspection.
        quantity: Units returned, at least 1.
        serials: The serial numbers of the units, as received (empty until
            `receive_return`, which `request_return` insists on, and for
            goods without serial numbers).

    .. versionadded:: 0.1.0
    """

    line_id: str = attrs.field(validator=text("line_id"))
    sku: str = attrs.field(validator=text("sku"))
    quantity: int = attrs.field(validator=positive_int("quantity"))
    serials: frozenset[str] = attrs.field(default=frozenset(), converter=_serials)


@final
@attrs.frozen(slots=True)
class CaseStep:
    """One applied transition of a case: its audit record.

    Attributes:
        action: What happened.
        before: The state before (`None` for the request itself).
        after: The state after.
        actor: Who did it.
        at: When (UTC).
        note: The actor's words: a reason, an inspection finding.

    .. versionadded:: 0.1.0
    """

    action: str = attrs.field(validator=text("action"))
    before: CaseState | None = attrs.field(
        validator=attrs.validators.optional(instance_of("before", CaseState))
    )
    after: CaseState = attrs.field(validator=instance_of("after", CaseState))
    actor: str = attrs.field(validator=text("actor"))
    at: pendulum.DateTime = attrs.field(converter=_at)
    note: str = attrs.field(default="", validator=plain_text("note"))


def _lines(value: Iterable[ReturnLine]) -> tuple[ReturnLine, ...]:
    return as_tuple(value, "lines", ReturnLine)


def _steps(value: Iterable[CaseStep]) -> tuple[CaseStep, ...]:
    return as_tuple(value, "steps", CaseStep)


@final
@attrs.frozen(slots=True, kw_only=True)
class AfterSalesCase:
    """A return and refund case for some units of one order.

    Attributes:
        case_id: The case's id.
        order_id: The order the units were bought in.
        payment_id: The payment transaction the refund goes back to.
        lines: The lines coming back, with their serials once received.
        refund_amount: The refund asked for, above zero.
        reason: The buyer's reason.
        requester: Who opened the case.
        return_to: The location the goods come back to, and are restocked at.
        returns_goods: Whether the goods come back: `False` for a refund
            without a return (仅退款: a unit missing from the parcel, one
            not worth sending back). Such a case goes the same way (its
            `receive` records that nothing came back, with no serial
            numbers), and its passed inspection restocks nothing. Its lines
            are the units paid back: they cannot be refunded again.
        requested_at: When the case was opened (UTC).
        state: Where the case stands.
        required_role: The role the refund amount was routed to on approval.
        inspection_passed: The inspection's verdict; `None` before it.
        refund_id: The refund sent to the payment ledger; `None` before it.
        steps: Every transition, oldest first.

    Raises:
        ValidationError: A field is empty or of the wrong type, or a line
            repeats (`field` names it).

    .. versionadded:: 0.1.0
    """

    case_id: str = attrs.field(validator=text("case_id"))
    order_id: str = attrs.field(validator=text("order_id"))
    payment_id: str = attrs.field(validator=text("payment_id"))
    lines: tuple[ReturnLine, ...] = attrs.field(
        converter=_lines, validator=items_of("lines", ReturnLine)
    )
    refund_amount: Money = attrs.field(validator=positive_money("refund_amount"))
    reason: str = attrs.field(validator=text("reason"))
    requester: str = attrs.field(validator=text("requester"))
    return_to: str = attrs.field(validator=text("return_to"))
    returns_goods: bool = attrs.field(
        default=True, validator=instance_of("returns_goods", bool)
    )
    requested_at: pendulum.DateTime = attrs.field(converter=_requested_at)
    state: CaseState = attrs.field(
        default=CaseState.REQUESTED, validator=instance_of("state", CaseState)
    )
    required_role: str | None = attrs.field(
        default=None, validator=optional_name("required_role")
    )
    inspection_passed: bool | None = attrs.field(
        default=None,
        validator=attrs.validators.optional(instance_of("inspection_passed", bool)),
    )
    refund_id: str | None = attrs.field(
        default=None, validator=optional_name("refund_id")
    )
    steps: tuple[CaseStep, ...] = attrs.field(default=(), converter=_steps)

    @lines.validator
    def _check_lines(self, _attribute: object, lines: tuple[ReturnLine, ...]) -> None:
        seen: set[str] = set()
        for i, line in enumerate(lines):
            if line.line_id in seen:
                raise ValidationError(
                    f"lines[{i}].line_id", line.line_id, "repeats an earlier line"
                )
            seen.add(line.line_id)


@final
@attrs.frozen(slots=True)
class Inspected:
    """The outcome of an inspection: the case, and what goes back on hand.

    Attributes:
        case: The inspected case.
        restock: One `StockLine` per returned line when the inspection
            passed; empty when it failed. Give each to the inventory ledger
            (`Ledger.restock`) under its key in `restock_keys(channel)`,
            except the lines of unstocked order lines (`OrderLine.stocked`
            false: a gift card, a download), which have no stock to go
            back to (a case knows its lines' SKUs, not their kind);
            `OrderDesk.amend` skips them itself.

    .. versionadded:: 0.1.0
    """

    case: AfterSalesCase
    restock: tuple[StockLine, ...]

    def restock_keys(self, channel: str) -> tuple[str, ...]:
        """An idempotency key per restock line: a retried restock is a no-op.

        Args:
            channel: The channel the case's order was placed on.

        Raises:
            ValidationError: `channel` is not printable text.
        """
        return tuple(
            restock_key(channel, self.case, i) for i in range(len(self.restock))
        )


def restock_key(channel: str, case: AfterSalesCase, i: int) -> str:
    """The ledger key of putting back line `i` of `case`, on `channel`.

    A case id is unique within its order only: the key names the order's
    stream too, so that two orders' cases with one id never share a key.
    """
    stream = order_stream(channel, case.order_id)
    return f"aftersales:{stream}:case:{case.case_id}:restock:{i}"


def _refuse(case: AfterSalesCase, action: CaseAction, reason: str) -> IllegalTransition:
    return IllegalTransition(
        case.order_id, str(case.state), str(action), reason, case_id=case.case_id
    )


def _step(
    case: AfterSalesCase,
    action: CaseAction,
    at: dt.datetime,
    actor: str,
    note: str = "",
    **changes: Any,  # noqa: ANN401 - fields of the case, checked by attrs.evolve
) -> AfterSalesCase:
    when = to_utc(at, "at")
    after = CASE_TRANSITIONS[case.state, action]
    if after is None:
        if case.state in {CaseState.REJECTED, CaseState.RESOLVED}:
            raise _refuse(case, action, f"the case is {case.state}")
        raise _refuse(case, action, "not allowed in this state")
    last = case.steps[-1].at if case.steps else case.requested_at
    if when < last:
        raise ValidationError(
            "at", when, f"is before the case's last step ({last.isoformat()})"
        )
    step = CaseStep(str(action), case.state, after, actor, when, note)
    return attrs.evolve(case, state=after, steps=(*case.steps, step), **changes)


def request_return(  # noqa: PLR0913 - a case is these facts, keyword-only
    *,
    case_id: str,
    order_id: str,
    payment_id: str,
    lines: Iterable[ReturnLine],
    refund_amount: Money,
    reason: str,
    requester: str,
    return_to: str,
    at: dt.datetime,
    returns_goods: bool = True,
) -> AfterSalesCase:
    """Open a case: the buyer asks to return lines and be refunded.

    With `returns_goods=False`, the buyer asks for the lines' money back
    and sends nothing (仅退款): see `AfterSalesCase.returns_goods`.

    Returns:
        The case, `REQUESTED`, with its first step.

    Raises:
        ValidationError: A field is invalid, such as an empty `payment_id`:
            a refund must reference the original payment, or a line has
            serials, which only `receive_return` records (`field` names it,
            as in `lines[0].serials`).
        EmptyOrder: `lines` is empty.
    """
    case = AfterSalesCase(
        case_id=case_id,
        order_id=order_id,
        payment_id=payment_id,
        lines=lines,
        refund_amount=refund_amount,
        reason=reason,
        requester=requester,
        return_to=return_to,
        returns_goods=returns_goods,
        requested_at=at,
    )
    for i, line in enumerate(case.lines):
        # Serials here would count as received, though nothing came back yet.
        if line.serials:
            raise ValidationError(
                f"lines[{i}].serials",
                sorted(line.serials),
                "are recorded when the goods come back (receive_return)",
            )
    step = CaseStep("request", None, CaseState.REQUESTED, requester, at, reason)
    return attrs.evolve(case, steps=(step,))


def approve_case(
    case: AfterSalesCase,
    approver: str,
    role: str,
    tiers: ApprovalTiers,
    at: dt.datetime,
) -> AfterSalesCase:
    """Approve the case, by a role with the authority for its refund amount.

    The amount is routed by `tiers` as a price change is: a role may approve
    the amounts of its own tier and of the tiers below.

    Returns:
        The case, `APPROVED`, with `required_role` set.

    Raises:
        IllegalTransition: The case is not `REQUESTED`.
        ValidationError: `role` may not approve this amount, or is not a role
            of `tiers`; `approver` is the requester, compared as price
            changes compare logins (`login`): case and width fold, so
            "Li.Wei" typed in full-width letters is "li.wei".
        CurrencyMismatch: The refund is in another currency than `tiers`.
    """
    text("approver")(None, None, approver)
    if CASE_TRANSITIONS[case.state, CaseAction.APPROVE] is None:
        _step(case, CaseAction.APPROVE, at, approver)  # raises IllegalTransition
    required = tiers.role_for(case.refund_amount)
    if not tiers.can_approve(role, required):
        raise ValidationError(
            "role",
            role,
            f"cannot approve case {case.case_id!r}: its refund of "
            f"{case.refund_amount} needs {required!r} or higher",
        )
    if login(approver) == login(case.requester):
        raise ValidationError(
            "approver", approver, f"opened case {case.case_id!r}; cannot approve it"
        )
    note = f"as {role}"
    return _step(case, CaseAction.APPROVE, at, approver, note, required_role=required)


def reject_case(
    case: AfterSalesCase, approver: str, reason: str, at: dt.datetime
) -> AfterSalesCase:
    """Refuse the case; it ends here.

    Raises:
        IllegalTransition: The case is not `REQUESTED`.
        ValidationError: `approver` or `reason` is empty.
    """
    text("approver")(None, None, approver)
    text("reason")(None, None, reason)
    return _step(case, CaseAction.REJECT, at, approver, reason)


def _check_named(case: AfterSalesCase, serials: Mapping[str, frozenset[str]]) -> None:
    lines = {line.line_id for line in case.lines}
    for line_id in sorted(serials):
        if line_id not in lines:
            raise ValidationError(
                f"serials[{line_id}]", line_id, f"not a line of case {case.case_id!r}"
            )


def _check_serials(
    case: AfterSalesCase,
    serials: Mapping[str, frozenset[str]],
    shipped_serials: Mapping[str, frozenset[str]],
) -> None:
    _check_named(case, serials)
    for line in case.lines:
        line_id = line.line_id
        shipped = shipped_serials.get(line_id, frozenset())
        got = serials.get(line_id, frozenset())
        for serial in sorted(got):
            if serial not in shipped:
                raise UnknownSerial(
                    f"serials[{line_id}]",
                    serial,
                    f"was not shipped on line {line_id!r} of order {case.order_id!r}",
                )
        if shipped and len(got) != line.quantity:
            raise ValidationError(
                f"serials[{line_id}]",
                sorted(got),
                f"needs {line.quantity} serial numbers, one per returned unit",
            )


def receive_return(
    case: AfterSalesCase,
    serials: Mapping[str, Iterable[str]],
    shipped_serials: Mapping[str, Iterable[str]],
    at: dt.datetime,
    *,
    actor: str = "warehouse",
) -> AfterSalesCase:
    """Record the goods as back, checking serial numbers against the shipment.

    Args:
        case: An `APPROVED` case.
        serials: The serial numbers read off the returned units, by line id;
            lines without serial numbers may be left out.
        shipped_serials: What was shipped on each line, by line id, as the
            host recorded it when the parcel left (a warehouse's scan of each
            unit's IMEI or serial): orderkit's shipments do not keep serial
            numbers, so pass `{}` only for goods without any. A line shipped
            with serial numbers must come back with one per returned unit,
            every one of them shipped on it; a line without an entry here is
            not checked, so a swapped unit of it goes through.
        at: When the goods arrived.
        actor: Who received them.

    Returns:
        The case, `RECEIVED`, its lines carrying their serials.

    Raises:
        IllegalTransition: The case is not `APPROVED`.
        UnknownSerial: A serial number was not shipped on its line.
        ValidationError: A line id is not in the case or not a string; the
            serials of a line, in `serials` or `shipped_serials`, are not a
            collection of non-empty strings (`field` names the line, as in
            `shipped_serials[L1]`: a bare str is refused too); or a
            serialised line has too few or too many serial numbers.
    """
    if not isinstance(serials, Mapping):
        raise ValidationError("serials", serials, "must map line ids to serials")
    if not isinstance(shipped_serials, Mapping):
        raise ValidationError(
            "shipped_serials", shipped_serials, "must map line ids to serials"
        )
    if CASE_TRANSITIONS[case.state, CaseAction.RECEIVE] is None:
        _step(case, CaseAction.RECEIVE, at, actor)  # raises IllegalTransition
    for line_id in serials:
        text("serials")(None, None, line_id)
    got = {
        line_id: _serials(values, f"serials[{line_id}]")
        for line_id, values in serials.items()
    }
    shipped = {
        line.line_id: _serials(
            shipped_serials[line.line_id], f"shipped_serials[{line.line_id}]"
        )
        for line in case.lines
        if line.line_id in shipped_serials
    }
    if not case.returns_goods:
        _check_named(case, got)
        if any(got.values()):
            raise ValidationError(
                "serials",
                {line_id: sorted(s) for line_id, s in got.items() if s},
                f"case {case.case_id!r} is a refund without a return: nothing"
                " comes back",
            )
    else:
        _check_serials(case, got, shipped)
    lines = tuple(
        attrs.evolve(line, serials=got.get(line.line_id, frozenset()))
        for line in case.lines
    )
    return _step(case, CaseAction.RECEIVE, at, actor, lines=lines)


def inspect_return(
    case: AfterSalesCase,
    *,
    passed: bool,
    at: dt.datetime,
    actor: str = "warehouse",
    note: str = "",
) -> Inspected:
    """Record the inspection; only a pass restocks.

    Returns:
        The case, `INSPECTED`, and the lines to restock at `return_to`:
        one per returned line if `passed`, none otherwise (nor for a refund
        without a return, `returns_goods` false).

    Raises:
        IllegalTransition: The case is not `RECEIVED`.
        ValidationError: `passed` is not a bool.
    """
    if not isinstance(passed, bool):
        raise ValidationError("passed", passed, "must be True or False")
    inspected = _step(
        case, CaseAction.INSPECT, at, actor, note, inspection_passed=passed
    )
    if not passed or not case.returns_goods:
        return Inspected(inspected, ())
    restock = tuple(
        StockLine(line.sku, case.return_to, line.quantity) for line in case.lines
    )
    return Inspected(inspected, restock)


# A case that names its refund: refunded, or resolved after its refund.
_REFUNDED: Final = frozenset({CaseState.REFUNDED, CaseState.RESOLVED})


def refund_case(
    case: AfterSalesCase,
    refund_id: str,
    at: dt.datetime,
    *,
    actor: str = "system",
) -> AfterSalesCase:
    """Record the refund sent against `case.payment_id` for `case.refund_amount`.

    Send the same refund to the payment ledger
    (`PaymentLedger.request_refund(refund_id, case.payment_id,
    case.refund_amount, ...)`). Repeating it with the same `refund_id` is a
    no-op, after the case was resolved too.

    Returns:
        The case, `REFUNDED`; a case refunded under `refund_id` already, as
        it is (`REFUNDED` or `RESOLVED`).

    Raises:
        IllegalTransition: The case is not `INSPECTED`, its inspection failed,
            or it was refunded under another refund id.
        ValidationError: `refund_id` is empty.
    """
    text("refund_id")(None, None, refund_id)
    if case.refund_id == refund_id and case.state in _REFUNDED:
        return case
    if case.state is CaseState.INSPECTED and not case.inspection_passed:
        raise _refuse(
            case, CaseAction.REFUND, "the inspection failed: resolve the case instead"
        )
    return _step(case, CaseAction.REFUND, at, actor, refund_id, refund_id=refund_id)


def resolve_case(
    case: AfterSalesCase,
    at: dt.datetime,
    *,
    actor: str = "system",
    note: str = "",
) -> AfterSalesCase:
    """Close the case: after its refund, after a failed inspection, or unreturned.

    Returns:
        The case, `RESOLVED`.

    Raises:
        IllegalTransition: The case is in any other state, or passed its
            inspection and is not refunded yet.
    """
    if case.state is CaseState.INSPECTED and case.inspection_passed:
        raise _refuse(
            case,
            CaseAction.RESOLVE,
            "the inspection passed: refund the case first (one the Refunds saga "
            "refunded is the order's: resolve the case the order holds now)",
        )
    return _step(case, CaseAction.RESOLVE, at, actor, note)
