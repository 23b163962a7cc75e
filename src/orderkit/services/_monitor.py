"""Stuck orders and unpaid orders due to close (status drift is in `_drift`).

Every function here is pure: it takes orders and instants as values and
returns findings; the caller reads the stores and the clock, and decides
what to do about each finding (page someone, close the order, resume it).
"""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Iterable, Mapping
from types import MappingProxyType
from typing import Final, final

import attrs
import pendulum

from orderkit._time import plus, to_utc
from orderkit._validate import Validator, as_tuple, by_channel, of_kind, renamed, text
from orderkit.calendar import SlaPolicy
from orderkit.errors import CalendarDataMissing, OrderMismatch, ValidationError
from orderkit.orders import AuditRecord, Order, OrderStatus


__all__ = [
    "DEFAULT_STUCK_LIMITS",
    "DueToClose",
    "StuckOrder",
    "StuckReason",
    "StuckRules",
    "due_to_close",
    "status_changed_at",
    "stuck_orders",
]

OrderRef = tuple[str, str]
"""`(channel, order_id)`: how the monitor keys an order, as the stores do."""

DEFAULT_STUCK_LIMITS: Final[Mapping[OrderStatus, dt.timedelta]] = MappingProxyType(
    {OrderStatus.PAID: dt.timedelta(minutes=30)}
)
"""The default time an order may stay in a status: paid, 30 minutes to picking.

.. versionadded:: 0.1.0
"""

# Statuses in which the buyer waits for a parcel: the ship-by promise runs.
_AWAITING_SHIPMENT: Final = frozenset(
    {OrderStatus.PAID, OrderStatus.PICKING, OrderStatus.PARTIALLY_SHIPPED}
)
_ZERO = dt.timedelta(0)


def _between(start: dt.datetime, end: dt.datetime) -> dt.timedelta:
    """`end - start` as a plain timedelta: pendulum's `-` builds an Interval."""
    elapsed: dt.timedelta = dt.datetime.__sub__(end, start)
    return elapsed


@final
class StuckReason(enum.StrEnum):
    """Why an order is flagged as stuck.

    .. versionadded:: 0.1.0
    """

    PAST_SHIP_BY = "past_ship_by"
    """Awaiting shipment at or after its ship-by deadline: the promise is broken."""
    SAGA_STALLED = "saga_stalled"
    """A saga (capture, pick, shipment, refund) in flight for `saga_limit`
    or longer: `recover` has not finished it, and money, pick tasks or a
    parcel wait."""
    AWAITING_REVIEW = "awaiting_review"
    """Held for a person (`Order.review`: a suspected duplicate, a pricing
    hold, a carrier exception, a label or pick tasks to void, a refund to
    settle) for `review_limit` or longer."""
    STATUS_LIMIT = "status_limit"
    """No status change within the limit its status allows."""
    EVENT_PARKED = "event_parked"
    """An event has waited for the one before it (a parcel for its picking,
    a delivery scan for its transit scan) for `parked_limit` or longer: the
    step it needs never came, and the order goes no further until someone
    states it. The detail names the waiting events."""
    NO_SHIP_BY = "no_ship_by"
    """Awaiting shipment, and its ship-by deadline cannot be counted: the SLA's
    business calendar does not cover a year the count reaches (China's next
    year before its holidays are announced and loaded). The promise cannot
    be checked until a person adds that year's table; the order's deadline
    is its payment, and the detail names the calendar and the year. (An
    order stuck for another reason too is flagged for that one, the
    missing year in its detail.)"""


def _limits(
    value: Mapping[OrderStatus | str, dt.timedelta],
) -> Mapping[OrderStatus, dt.timedelta]:
    if not isinstance(value, Mapping):
        raise ValidationError("limits", value, "must be a mapping of status to limit")
    limits: dict[OrderStatus, dt.timedelta] = {}
    items: Iterable[tuple[OrderStatus | str, object]] = value.items()
    for raw, limit in items:
        status = renamed(OrderStatus, f"limits[{raw!r}]", raw)
        if status.is_terminal:
            raise ValidationError(
                f"limits[{status.value}]", limit, "a terminal status cannot be stuck"
            )
        if not isinstance(limit, dt.timedelta) or limit <= _ZERO:
            raise ValidationError(
                f"limits[{status.value}]", limit, "must be a positive timedelta"
            )
        limits[status] = limit
    return MappingProxyType(limits)


def _sla(_instance: object, _attribute: object, value: object) -> None:
    if value is not None and not isinstance(value, SlaPolicy):
        raise ValidationError("sla", value, "must be an SlaPolicy or None")


_SLA: Validator = _sla


_an_sla: Final = of_kind(SlaPolicy, "an SlaPolicy")


def channel_sla(value: Mapping[str, SlaPolicy]) -> Mapping[str, SlaPolicy]:
    """Shipping promises by channel, checked (`channel_sla[...]` names a bad one)."""
    return by_channel("channel_sla", value, "SLA policies", _an_sla)


def _optional_limit(field: str) -> Validator:
    def check(_instance: object, _attribute: object, value: object) -> None:
        if value is not None and (
            not isinstance(value, dt.timedelta) or value <= _ZERO
        ):
            raise ValidationError(field, value, "must be a positive timedelta or None")

    return check


@final
@attrs.frozen(slots=True, kw_only=True)
class StuckRules:
    """How long an order may wait, as data.

    Five kinds of limit, checked in this order:

    - the ship-by deadline, for orders awaiting shipment (paid, picking,
      partially shipped): from the `ship_by` mapping given to
      `stuck_orders`, else from `sla` counted from the order's first
      payment; at or after it the order is stuck (`PAST_SHIP_BY`);
    - a saga in flight, in any status: at or after
      `saga.started_at + saga_limit` the order is stuck (`SAGA_STALLED`),
      cancelled and closed orders whose refund is still owed included;
    - a reason to wait for a person (`Order.review`), in any status: at or
      after `since + review_limit` the order is stuck (`AWAITING_REVIEW`),
      counted from when it entered its status, since the order does not
      keep when the reason was added (it errs towards flagging);
    - an event parked for its predecessor (`Order.parked`), in any status:
      at or after the oldest one's `occurred_at + parked_limit` the order is
      stuck (`EVENT_PARKED`), counted from when the event happened, since
      the order does not keep when it arrived (it errs towards flagging);
    - a per-status limit on the time since the last status change: at or
      after `since + limits[status]` the order is stuck (`STATUS_LIMIT`).

    A ship-by the `sla` cannot count (its calendar has no table for a year
    the count reaches) is no deadline, and no pass either: the order is
    flagged at once, by the first other limit it passed with the missing
    year added to the detail, else as `NO_SHIP_BY`.

    Picking has no fixed limit by default: it is judged by the ship-by
    deadline, so give `sla` or a `ship_by` mapping (or a `limits` entry for
    picking) for picking orders to be checked at all.

    Attributes:
        limits: The longest time in each status without a change; by default
            `DEFAULT_STUCK_LIMITS` (paid: 30 minutes, the hand-over of a
            paid order to the warehouse's picking, which `OrderDesk`'s pick
            saga makes at any hour; give `{}` where orders are handed over
            in working hours only, and the ship-by deadline judges them).
            Terminal statuses are refused.
        sla: The shipping promise that sets the ship-by deadline of orders
            without an entry in the `ship_by` mapping, on channels without
            their own; `None` for none.
        channel_sla: Shipping promises by channel, as `{"shopify": us_sla}`.
        saga_limit: How long a saga may stay in flight; 15 minutes (a saga
            ends within seconds unless a call keeps failing, and `recover`
            runs more often than that). `None` turns the check off.
        review_limit: How long an order may wait for a person; 1 hour.
            `None` turns the check off.
        parked_limit: How long an event may wait for the one before it; 6
            hours (a warehouse states its picking, and a carrier its
            transit scan, within hours of the step after). `None` turns the
            check off.

    Raises:
        ValidationError: A limit that is not a positive timedelta, a
            terminal status, or an `sla` that is not an `SlaPolicy`.
        UnknownStatus: A key that is not a canonical status.

    .. versionadded:: 0.1.0
    """

    limits: Mapping[OrderStatus, dt.timedelta] = attrs.field(
        default=DEFAULT_STUCK_LIMITS, converter=_limits, hash=False
    )
    sla: SlaPolicy | None = attrs.field(default=None, validator=_SLA)
    channel_sla: Mapping[str, SlaPolicy] = attrs.field(
        factory=dict, converter=channel_sla, hash=False
    )
    saga_limit: dt.timedelta | None = attrs.field(
        default=dt.timedelta(minutes=15), validator=_optional_limit("saga_limit")
    )
    review_limit: dt.timedelta | None = attrs.field(
        default=dt.timedelta(hours=1), validator=_optional_limit("review_limit")
    )
    parked_limit: dt.timedelta | None = attrs.field(
        default=dt.timedelta(hours=6), validator=_optional_limit("parked_limit")
    )

    def sla_for(self, channel: str) -> SlaPolicy | None:
        """The shipping promise of `channel`'s orders, or `None` for none."""
        return self.channel_sla.get(channel, self.sla)


def _since(value: dt.datetime) -> pendulum.DateTime:
    return to_utc(value, "since")


def _deadline(value: dt.datetime) -> pendulum.DateTime:
    return to_utc(value, "deadline")


def _pay_by(value: dt.datetime) -> pendulum.DateTime:
    return to_utc(value, "pay_by")


def _elapsed(field: str) -> Validator:
    def check(_instance: object, _attribute: object, value: object) -> None:
        if not isinstance(value, dt.timedelta) or value < _ZERO:
            raise ValidationError(field, value, "must be a timedelta, zero or more")

    return check


@final
@attrs.frozen(slots=True)
class StuckOrder:
    """An order that has waited too long where it stands.

    Attributes:
        channel: The order's channel.
        order_id: The order's id.
        status: Where it stands.
        since: When it entered that status (UTC); a change recorded after
            the check's `now` (the recorder's clock ahead) counts as `now`.
        age: How long it has stood there: `now - since`, never negative.
        reason: Which limit it passed.
        deadline: The instant it became stuck (UTC): the ship-by deadline,
            the saga's start plus `saga_limit`, or `since` plus the review
            or status limit.
        detail: What waits, for a person to read: the saga in flight
            (`"refund/requested refund:order:douyin:DY-1:7"`) or the review
            reasons (`"label, refund"`); empty for the other reasons.

    .. versionadded:: 0.1.0
    """

    channel: str = attrs.field(validator=text("channel"))
    order_id: str = attrs.field(validator=text("order_id"))
    status: OrderStatus = attrs.field(converter=OrderStatus)
    since: pendulum.DateTime = attrs.field(converter=_since)
    age: dt.timedelta = attrs.field(validator=_elapsed("age"))
    reason: StuckReason = attrs.field(converter=StuckReason)
    deadline: pendulum.DateTime = attrs.field(converter=_deadline)
    detail: str = attrs.field(default="", validator=attrs.validators.instance_of(str))

    @property
    def overdue(self) -> dt.timedelta:
        """How long past `deadline` it is at the time of the check."""
        return self.age - _between(self.since, self.deadline)


@final
@attrs.frozen(slots=True)
class DueToClose:
    """An unpaid order whose payment deadline has passed: close it.

    Attributes:
        channel: The order's channel.
        order_id: The order's id.
        pay_by: The deadline judged by (UTC): `Order.pay_by`, or for an
            order without one, when it was placed plus the `pay_window`
            given to `due_to_close`.
        overdue: How long past the deadline it is: `now - pay_by`.

    .. versionadded:: 0.1.0
    """

    channel: str = attrs.field(validator=text("channel"))
    order_id: str = attrs.field(validator=text("order_id"))
    pay_by: pendulum.DateTime = attrs.field(converter=_pay_by)
    overdue: dt.timedelta = attrs.field(validator=_elapsed("overdue"))


def status_changed_at(
    order: Order, records: Iterable[AuditRecord]
) -> pendulum.DateTime:
    """When `order` entered its current status, from its audit trail.

    The latest record (by version) that moved the order into its status, or
    created it there, gives the instant orderkit recorded it
    (`AuditRecord.recorded_at`): the time our side last saw the status move.
    Records that only changed data (same status before and after) do not
    count. Without such a record, the order's `placed_at`: the earliest the
    status can have been entered, so a missing trail errs towards flagging.

    Args:
        order: The order.
        records: Its audit records (`AuditLog.records(channel, order_id)`),
            in any order.

    Returns:
        The instant, UTC.

    Raises:
        ValidationError: `records` is not a sequence of `AuditRecord`.
        OrderMismatch: A record belongs to another order.

    .. versionadded:: 0.1.0
    """
    entered: AuditRecord | None = None
    for record in as_tuple(records, "records", AuditRecord):
        if record.order_id != order.order_id:
            raise OrderMismatch(order.order_id, record.order_id)
        moved = record.from_status != record.to_status
        if (
            moved
            and record.to_status is order.status
            and (entered is None or record.version > entered.version)
        ):
            entered = record
    return order.placed_at if entered is None else entered.recorded_at


def _orders(value: Iterable[Order]) -> dict[OrderRef, Order]:
    found: dict[OrderRef, Order] = {}
    for i, order in enumerate(as_tuple(value, "orders", Order)):
        ref = (order.channel, order.order_id)
        if ref in found:
            raise ValidationError(f"orders[{i}]", ref, "repeats an earlier order")
        found[ref] = order
    return found


def _instants(
    value: Mapping[OrderRef, dt.datetime] | None, field: str
) -> dict[OrderRef, pendulum.DateTime]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise ValidationError(field, value, "must be a mapping of (channel, order_id)")
    return {ref: to_utc(at, f"{field}[{ref!r}]") for ref, at in value.items()}


def _ship_by_due(
    order: Order,
    rules: StuckRules,
    ship_by: Mapping[OrderRef, pendulum.DateTime],
) -> pendulum.DateTime | None:
    """The order's ship-by instant: the mapping's, else the SLA's, else none.

    The SLA counts from the first payment; a free order (paid by a zero
    capture, which records no payment) from when it was placed, as the
    picking queue counts it.
    """
    given = ship_by.get((order.channel, order.order_id))
    if given is not None:
        return given
    paid_at = first_capture(order) or order.placed_at
    sla = rules.sla_for(order.channel)
    if sla is None or paid_at is None:
        return None
    return sla.ship_by(paid_at).due


def first_capture(order: Order) -> pendulum.DateTime | None:
    """When the order's money first came: its earliest capture, or `None`.

    Payments are kept in the order their notices came, not their captures'.
    """
    return min((payment.captured_at for payment in order.payments), default=None)


def _due_if_counted(
    order: Order,
    rules: StuckRules,
    ship_by: Mapping[OrderRef, pendulum.DateTime],
) -> tuple[pendulum.DateTime | None, str | None]:
    """The ship-by of an order awaiting shipment, or why it cannot be counted."""
    if order.status not in _AWAITING_SHIPMENT:
        return None, None
    try:
        return _ship_by_due(order, rules, ship_by), None
    except CalendarDataMissing as missing:
        return None, str(missing)


def _stuck(
    order: Order,
    since: pendulum.DateTime,
    now: pendulum.DateTime,
    rules: StuckRules,
    ship_by: Mapping[OrderRef, pendulum.DateTime],
) -> StuckOrder | None:
    # A change recorded after `now` (a clock behind the recorder's) counts as
    # just now: no negative age, and `overdue` stays `now - deadline`.
    since = min(since, now)
    found: tuple[StuckReason, pendulum.DateTime, str] | None = None
    due, missing = _due_if_counted(order, rules, ship_by)
    saga = order.saga
    saga_due = (
        None
        if saga is None or rules.saga_limit is None
        else plus(saga.started_at, rules.saga_limit)
    )
    review_due = (
        None
        if not order.review or rules.review_limit is None
        else plus(since, rules.review_limit)
    )
    parked_due = (
        None
        if not order.parked or rules.parked_limit is None
        else plus(min(e.occurred_at for e in order.parked), rules.parked_limit)
    )
    limit = rules.limits.get(order.status)
    if due is not None and now >= due:
        found = StuckReason.PAST_SHIP_BY, due, ""
    elif saga is not None and saga_due is not None and now >= saga_due:
        detail = f"{saga.name}/{saga.step} {saga.key}"
        found = StuckReason.SAGA_STALLED, saga_due, detail
    elif review_due is not None and now >= review_due:
        found = StuckReason.AWAITING_REVIEW, review_due, ", ".join(order.review)
    elif parked_due is not None and now >= parked_due:
        waiting = ", ".join(type(event).__name__ for event in order.parked)
        found = StuckReason.EVENT_PARKED, parked_due, f"parked: {waiting}"
    elif limit is not None and now >= plus(since, limit):
        found = StuckReason.STATUS_LIMIT, plus(since, limit), ""
    if missing is not None:
        # One order's uncountable promise must not blind the scan to every
        # other order, nor pass for kept: flagged at once, and said beside
        # any other reason it has.
        if found is None:
            paid_at = first_capture(order) or order.placed_at
            found = StuckReason.NO_SHIP_BY, paid_at, missing
        else:
            reason, deadline, detail = found
            found = reason, deadline, "; ".join(filter(None, (detail, missing)))
    if found is None:
        return None
    reason, deadline, detail = found
    age = _between(since, now)
    return StuckOrder(
        order.channel,
        order.order_id,
        order.status,
        since,
        age,
        reason,
        deadline,
        detail,
    )


def stuck_orders(
    orders: Iterable[Order],
    *,
    now: dt.datetime,
    rules: StuckRules | None = None,
    changed_at: Mapping[OrderRef, dt.datetime] | None = None,
    ship_by: Mapping[OrderRef, dt.datetime] | None = None,
) -> list[StuckOrder]:
    """Flag orders that have waited too long in their status.

    A terminal order (completed, cancelled, closed) is stuck only while
    something is still owed on it: a saga in flight (a refund, say) or a
    reason to wait for a person. An order is flagged at most once, by the
    first limit it passed in `StuckRules`' order: a broken ship-by promise
    (`PAST_SHIP_BY`) first, because it is the one the buyer feels, then a
    stalled saga (`SAGA_STALLED`), a person's review (`AWAITING_REVIEW`), an
    event parked for the one before it (`EVENT_PARKED`) and a passed status
    limit (`STATUS_LIMIT`). Every limit is half-open: an
    order is stuck at the exact deadline instant. An order awaiting shipment
    whose ship-by the SLA cannot count (its calendar lacks a year the count
    reaches) is flagged at once: by its other limits as ever, the missing
    year added to the detail, else as `NO_SHIP_BY`, its deadline its
    payment. The rest of the scan goes on, and the missing year is seen.

    Args:
        orders: The orders to check, each `(channel, order_id)` once.
        now: The instant to judge at, timezone-aware.
        rules: The limits; `StuckRules()` (paid: 30 minutes) by default.
        changed_at: When each order entered its status, by
            `(channel, order_id)`; build it with `status_changed_at` from the
            audit trail. An order without an entry counts from `placed_at`.
        ship_by: The ship-by instant promised for each order, by
            `(channel, order_id)`, overriding `rules.sla` (a channel's own
            promised ship time).

    Returns:
        The stuck orders, the longest overdue first (by deadline, then
        channel and order id).

    Raises:
        NaiveDatetime: `now` or an instant in a mapping has no UTC offset.
        ValidationError: An argument of the wrong type, or an order twice.

    .. versionadded:: 0.1.0
    """
    at = to_utc(now, "now")
    chosen = StuckRules() if rules is None else rules
    if not isinstance(chosen, StuckRules):
        raise ValidationError("rules", chosen, "must be a StuckRules or None")
    entered = _instants(changed_at, "changed_at")
    promised = _instants(ship_by, "ship_by")
    found: list[StuckOrder] = []
    for ref, order in _orders(orders).items():
        if order.status.is_terminal and order.saga is None and not order.review:
            continue
        stuck = _stuck(order, entered.get(ref, order.placed_at), at, chosen, promised)
        if stuck is not None:
            found.append(stuck)
    found.sort(key=lambda s: (s.deadline, s.channel, s.order_id))
    return found


def check_pay_window(value: object) -> dt.timedelta:
    """`value` if it is a positive timedelta, as `DeskPolicy.pay_window` must be."""
    if not isinstance(value, dt.timedelta) or value <= _ZERO:
        raise ValidationError("pay_window", value, "must be a positive timedelta")
    return value


def due_to_close(
    orders: Iterable[Order],
    *,
    now: dt.datetime,
    pay_window: dt.timedelta | None = None,
) -> list[DueToClose]:
    """Report unpaid orders whose payment deadline has passed.

    An order is due when it is still `pending_payment` and `now` is at or
    after its deadline (the deadline is exclusive: paying at it is too
    late): its `pay_by`, or for an order whose channel set none,
    `pay_window` after it was placed, as `OrderDesk.close_unpaid` judges
    with the desk's `DeskPolicy.pay_window`. Without a `pay_window`, an
    order without a `pay_by` is never due.

    Args:
        orders: The orders to check, each `(channel, order_id)` once.
        now: The instant to judge at, timezone-aware.
        pay_window: How long an order without a `pay_by` may wait; give
            the desk's `DeskPolicy.pay_window` for the desk's answer.

    Returns:
        The orders to close, the earliest deadline first (then channel and
        order id); `DueToClose.pay_by` is the deadline judged by.

    Raises:
        NaiveDatetime: `now` has no UTC offset.
        ValidationError: `orders` is not a sequence of orders, or repeats
            one, or `pay_window` is not a positive timedelta.

    .. versionadded:: 0.1.0
    """
    at = to_utc(now, "now")
    if pay_window is not None:
        check_pay_window(pay_window)
    found = []
    for order in _orders(orders).values():
        if order.status is not OrderStatus.PENDING_PAYMENT:
            continue
        deadline = order.pay_by
        if deadline is None and pay_window is not None:
            deadline = plus(order.placed_at, pay_window)
        if deadline is not None and at >= deadline:
            found.append(
                DueToClose(
                    order.channel, order.order_id, deadline, _between(deadline, at)
                )
            )
    found.sort(key=lambda d: (d.pay_by, d.channel, d.order_id))
    return found
