"""The order-health score: five weighted measures, and the figures beside them.

Every measure is a ratio from 0 (bad) to 1 (good) over plain values the
caller read from its stores; the score is their weighted mean, scaled to
0..100. A measure with nothing to measure (no status changes, no stock
counts, no complaint figure) is missing: the report says so and the other
weights are scaled up to fill its share.
"""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Iterable, Mapping
from decimal import ROUND_HALF_EVEN, Decimal
from fractions import Fraction
from types import MappingProxyType
from typing import Final, final

import attrs
import pendulum

from orderkit._time import to_utc
from orderkit._validate import Validator, as_tuple, count, instance_of
from orderkit.errors import ValidationError
from orderkit.integrations import ChannelOrder
from orderkit.orders import AuditRecord, Order, OrderStatus
from orderkit.pricing import (
    WEEKDAYS,
    Anomaly,
    AnomalyKind,
    ChangeState,
    PriceChange,
    anomalies,
)
from orderkit.services._monitor import (
    _AWAITING_SHIPMENT,
    OrderRef,
    StatusDrift,
    StuckOrder,
    StuckRules,
    _between,
    _orders,
    _ship_by_due,
    status_drift,
    stuck_orders,
)
from orderkit.services._stock_counts import StockReconciliation


__all__ = [
    "DEFAULT_HEALTH_RULES",
    "HealthComponent",
    "HealthMeasure",
    "HealthReport",
    "HealthRules",
    "HealthWeights",
    "health_report",
]

_RATE = Decimal("0.0001")
_SCORE = Decimal("0.01")


@final
class HealthMeasure(enum.StrEnum):
    """The five measures the score weighs.

    .. versionadded:: 0.1.0
    """

    STATUS_SYNC = "status_sync"
    """Status sync timeliness: `timely_changes / status_changes`."""
    INVENTORY_ACCURACY = "inventory_accuracy"
    """Inventory accuracy: `agreed_counts / counts`."""
    CHANGE_APPROVAL = "change_approval"
    """Change-approval completion: `decided / (decided + lapsed)`."""
    COMPLAINT_RATE = "complaint_rate"
    """Complaints, inverted: `1 - min(1, complaints / orders)`."""
    ON_TIME_FULFILMENT = "on_time_fulfilment"
    """Fulfilment on time: `on_time / (shipped + late_unshipped)`."""


_FORMULAS: Final[Mapping[HealthMeasure, str]] = MappingProxyType(
    {
        HealthMeasure.STATUS_SYNC: "timely_changes / status_changes",
        HealthMeasure.INVENTORY_ACCURACY: "agreed_counts / counts",
        HealthMeasure.CHANGE_APPROVAL: "decided / (decided + lapsed)",
        HealthMeasure.COMPLAINT_RATE: "1 - min(1, complaints / orders)",
        HealthMeasure.ON_TIME_FULFILMENT: "on_time / (shipped + late_unshipped)",
    }
)


def _weight(field: str) -> Validator:
    def check(_instance: object, _attribute: object, value: object) -> None:
        if not isinstance(value, Decimal) or not value.is_finite() or value < 0:
            raise ValidationError(
                field, value, "must be a finite Decimal, zero or more"
            )

    return check


@final
@attrs.frozen(slots=True, kw_only=True)
class HealthWeights:
    """How much each measure counts in the score; the brief's weights by default.

    Each weight is a non-negative `Decimal`; together they sum to exactly 1.
    A zero weight leaves a measure in the report but out of the score.

    Attributes:
        status_sync: Status sync timeliness, 0.30.
        inventory_accuracy: Inventory accuracy (counted against the ledger), 0.25.
        change_approval: Change-approval completion, 0.20.
        complaint_rate: Complaint rate, 0.15.
        on_time_fulfilment: Fulfilment on time, 0.10.

    Raises:
        ValidationError: A weight that is not a finite Decimal of zero or
            more (`field` names the weight), or weights that do not sum to 1
            (`field` is `"weights"`, `value` the sum).

    .. versionadded:: 0.1.0
    """

    status_sync: Decimal = attrs.field(
        default=Decimal("0.30"), validator=_weight("status_sync")
    )
    inventory_accuracy: Decimal = attrs.field(
        default=Decimal("0.25"), validator=_weight("inventory_accuracy")
    )
    change_approval: Decimal = attrs.field(
        default=Decimal("0.20"), validator=_weight("change_approval")
    )
    complaint_rate: Decimal = attrs.field(
        default=Decimal("0.15"), validator=_weight("complaint_rate")
    )
    on_time_fulfilment: Decimal = attrs.field(
        default=Decimal("0.10"), validator=_weight("on_time_fulfilment")
    )

    def __attrs_post_init__(self) -> None:
        total = sum((self.of(measure) for measure in HealthMeasure), Decimal(0))
        if total != 1:
            raise ValidationError("weights", total, "must sum to exactly 1")

    def of(self, measure: HealthMeasure) -> Decimal:
        """The weight of `measure`."""
        weight: Decimal = getattr(self, HealthMeasure(measure).value)
        return weight


def _positive_elapsed(field: str) -> Validator:
    def check(_instance: object, _attribute: object, value: object) -> None:
        if not isinstance(value, dt.timedelta) or value <= dt.timedelta(0):
            raise ValidationError(field, value, "must be a positive timedelta")

    return check


def _hours(_instance: object, _attribute: object, value: object) -> None:
    ok = (
        isinstance(value, tuple)
        and len(value) == 2
        and all(isinstance(h, int) and not isinstance(h, bool) for h in value)
        and 0 <= value[0] < value[1] <= 24
    )
    if not ok:
        raise ValidationError(
            "working_hours", value, "must be (start, end) hours, 0 <= start < end <= 24"
        )


def _workdays(_instance: object, _attribute: object, value: object) -> None:
    if not isinstance(value, frozenset) or not value <= frozenset(range(7)):
        raise ValidationError(
            "workdays", value, "must be a frozenset of weekdays 0 (Mon) to 6 (Sun)"
        )


_HOURS: Validator = _hours
_WORKDAYS: Validator = _workdays


@final
@attrs.frozen(slots=True, kw_only=True)
class HealthRules:
    """The thresholds behind the measures and the anomaly count.

    Attributes:
        max_sync_lag: The longest a status change may take to reach us
            (`recorded_at - occurred_at`) and still be timely; 10 minutes,
            two polls at the 5-minute interval the brief asks for.
        working_hours: Local `(start, end)` hours, half-open, in the store's
            zone; `(9, 18)`.
        workdays: Working weekdays, Monday 0; Monday to Friday.
        max_changes_per_actor: How many price changes one actor may request
            within `burst_window` before it counts as a bulk edit; 20.
        burst_window: The sliding window of a bulk edit; 1 hour.

    Raises:
        ValidationError: A field of the wrong type or out of range.

    .. versionadded:: 0.1.0
    """

    max_sync_lag: dt.timedelta = attrs.field(
        default=dt.timedelta(minutes=10), validator=_positive_elapsed("max_sync_lag")
    )
    working_hours: tuple[int, int] = attrs.field(default=(9, 18), validator=_HOURS)
    workdays: frozenset[int] = attrs.field(default=WEEKDAYS, validator=_WORKDAYS)
    max_changes_per_actor: int = attrs.field(
        default=20, validator=count("max_changes_per_actor")
    )
    burst_window: dt.timedelta = attrs.field(
        default=dt.timedelta(hours=1), validator=_positive_elapsed("burst_window")
    )

    def __attrs_post_init__(self) -> None:
        if self.max_changes_per_actor < 1:
            raise ValidationError(
                "max_changes_per_actor", self.max_changes_per_actor, "must be 1 or more"
            )


DEFAULT_HEALTH_RULES: Final = HealthRules()
"""The default thresholds: 10 minutes of sync lag, 09:00-18:00 Mon-Fri, 20 per hour.

.. versionadded:: 0.1.0
"""


@final
@attrs.frozen(slots=True, kw_only=True)
class HealthComponent:
    """One measure of the score, as computed.

    Attributes:
        measure: Which measure.
        value: The ratio from 0 (bad) to 1 (good), to four places; `None`
            when it is missing (nothing to measure).
        weight: Its weight as given.
        effective_weight: Its share of the score after missing measures
            were left out, to four places; 0 when it is missing.
        formula: The formula's name (`"agreed_counts / counts"`).
        numerator: The formula's count on top (for the complaint rate: the
            complaints).
        denominator: The count below (for the complaint rate: the orders).

    .. versionadded:: 0.1.0
    """

    measure: HealthMeasure = attrs.field(converter=HealthMeasure)
    value: Decimal | None
    weight: Decimal
    effective_weight: Decimal
    formula: str
    numerator: int
    denominator: int

    @property
    def missing(self) -> bool:
        """Whether there was nothing to measure."""
        return self.value is None


@final
@attrs.frozen(slots=True, kw_only=True)
class HealthReport:
    """The order-health score, its parts, and the figures reported beside it.

    Attributes:
        score: The weighted mean of the present measures, scaled to
            0..100, to two places; `None` when every measure with a weight
            is missing.
        components: The five measures, in `HealthMeasure` order.
        missing: The measures that were missing, in the same order.
        backlog_rate: `awaiting_shipment / (orders - pending_payment -
            cancelled - closed)`: paid orders not yet fully shipped; `None`
            without such orders.
        stuck_rate: `stuck / open orders` (every status but completed,
            cancelled and closed); `None` without open orders.
        consistency_index: `1 - drifted / compared`: the share of orders a
            channel pull reported whose status agrees with ours; `None`
            when no order was compared.
        stuck: The stuck orders (`stuck_orders`).
        drift: The drifted orders (`status_drift`).
        anomalies: The anomalous operations: bulk price edits by one actor
            and price changes requested or decided outside working hours
            (`orderkit.pricing.anomalies`).

    .. versionadded:: 0.1.0
    """

    score: Decimal | None
    components: tuple[HealthComponent, ...]
    missing: tuple[HealthMeasure, ...]
    backlog_rate: Decimal | None
    stuck_rate: Decimal | None
    consistency_index: Decimal | None
    stuck: tuple[StuckOrder, ...]
    drift: tuple[StatusDrift, ...]
    anomalies: tuple[Anomaly, ...]

    @property
    def anomalous_operations(self) -> int:
        """How many anomalous operations were found."""
        return len(self.anomalies)

    def component(self, measure: HealthMeasure) -> HealthComponent:
        """The component for `measure`."""
        wanted = HealthMeasure(measure)
        return next(c for c in self.components if c.measure is wanted)


# (numerator, denominator); a zero denominator means "nothing to measure".
_Ratio = tuple[int, int]


def _sync(records: tuple[AuditRecord, ...], max_lag: dt.timedelta) -> _Ratio:
    # Data-only records (address edits) are not status sync; creating the
    # order is: a new order that reaches us late is a late status.
    changes = [r for r in records if r.from_status != r.to_status]
    timely = sum(
        1 for r in changes if _between(r.occurred_at, r.recorded_at) <= max_lag
    )
    return timely, len(changes)


def _stock(stock: StockReconciliation | None) -> _Ratio:
    if stock is None:
        return 0, 0
    return stock.agreed, stock.agreed + len(stock.differences)


def _approvals(changes: tuple[PriceChange, ...], now: pendulum.DateTime) -> _Ratio:
    decided = lapsed = 0
    for change in changes:
        if change.state in {ChangeState.APPROVED, ChangeState.REJECTED}:
            decided += 1
        elif change.state is ChangeState.EXPIRED or now >= change.expires_at:
            # Expired unswept is lapsed all the same; pending within its
            # time is still in progress and counts on neither side.
            lapsed += 1
    return decided, decided + lapsed


def _fulfilment(
    orders: Iterable[Order],
    now: pendulum.DateTime,
    rules: StuckRules,
    ship_by: Mapping[OrderRef, pendulum.DateTime],
) -> tuple[set[OrderRef], set[OrderRef]]:
    """The orders shipped on time, and those late (shipped late or still waiting)."""
    on_time: set[OrderRef] = set()
    late: set[OrderRef] = set()
    for order in orders:
        ref = (order.channel, order.order_id)
        if order.status in {OrderStatus.CANCELLED, OrderStatus.CLOSED}:
            continue
        due = _ship_by_due(order, rules, ship_by)
        if due is None:
            continue
        if order.status in _AWAITING_SHIPMENT:
            if now >= due:
                late.add(ref)
        elif order.status is not OrderStatus.PENDING_PAYMENT:
            # Shipped means every line shipped: the last parcel decides.
            shipped_at = max(s.shipped_at for s in order.shipments)
            (on_time if shipped_at < due else late).add(ref)
    return on_time, late


def _rate(part: int, whole: int) -> Decimal | None:
    if whole == 0:
        return None
    return (Decimal(part) / Decimal(whole)).quantize(_RATE, ROUND_HALF_EVEN)


def _value(measure: HealthMeasure, ratio: _Ratio) -> Fraction | None:
    part, whole = ratio
    if whole == 0:
        return None
    if measure is HealthMeasure.COMPLAINT_RATE:
        return 1 - min(Fraction(1), Fraction(part, whole))
    return Fraction(part, whole)


def _decimal(value: Fraction, quantum: Decimal) -> Decimal:
    exact = Decimal(value.numerator) / Decimal(value.denominator)
    return exact.quantize(quantum, ROUND_HALF_EVEN)


def _score(
    ratios: Mapping[HealthMeasure, _Ratio], weights: HealthWeights
) -> tuple[Decimal | None, tuple[HealthComponent, ...], tuple[HealthMeasure, ...]]:
    values = {m: _value(m, ratio) for m, ratio in ratios.items()}
    missing = tuple(m for m in HealthMeasure if values[m] is None)
    # Exact fractions until the end: renormalising then gives the same score
    # as weights scaled by hand, with no rounding in between.
    present = sum(
        (Fraction(weights.of(m)) for m in HealthMeasure if m not in missing),
        Fraction(0),
    )
    total = Fraction(0)
    components: list[HealthComponent] = []
    for measure in HealthMeasure:
        value = values[measure]
        share = (
            Fraction(0)
            if value is None or present == 0
            else Fraction(weights.of(measure)) / present
        )
        if value is not None:
            total += value * share
        components.append(
            HealthComponent(
                measure=measure,
                value=None if value is None else _decimal(value, _RATE),
                weight=weights.of(measure),
                effective_weight=_decimal(share, _RATE),
                formula=_FORMULAS[measure],
                numerator=ratios[measure][0],
                denominator=ratios[measure][1],
            )
        )
    score = None if present == 0 else _decimal(total * 100, _SCORE)
    return score, tuple(components), missing


def _complaints(value: int | None, orders: int) -> _Ratio:
    if value is None:
        return 0, 0
    count("complaints")(None, None, value)
    return value, orders


def _operations(
    changes: tuple[PriceChange, ...], zone: str, rules: HealthRules
) -> tuple[Anomaly, ...]:
    found = anomalies(
        changes,
        zone=zone,
        max_per_actor=rules.max_changes_per_actor,
        window=rules.burst_window,
        # Prices far from list are a pricing question, not an operation.
        max_deviation=Decimal(0),
        list_prices={},
        working_hours=rules.working_hours,
        workdays=rules.workdays,
    )
    kinds = {AnomalyKind.MANY_BY_ONE_ACTOR, AnomalyKind.OUTSIDE_WORKING_HOURS}
    return tuple(a for a in found if a.kind in kinds)


def health_report(  # noqa: PLR0913 - keyword-only inputs of one report
    orders: Iterable[Order],
    *,
    now: dt.datetime,
    zone: str,
    records: Iterable[AuditRecord] = (),
    stock: StockReconciliation | None = None,
    complaints: int | None = None,
    channel_orders: Iterable[ChannelOrder] = (),
    weights: HealthWeights | None = None,
    rules: HealthRules = DEFAULT_HEALTH_RULES,
    stuck_rules: StuckRules | None = None,
    changed_at: Mapping[OrderRef, dt.datetime] | None = None,
    ship_by: Mapping[OrderRef, dt.datetime] | None = None,
) -> HealthReport:
    """Score the health of a set of orders, 0..100, and report the figures beside it.

    The caller chooses the window: pass the orders, audit records and so on
    of the period to score (a day, a week). Each measure is a ratio from 0
    to 1, higher is better:

    - status sync timeliness: status changes (records that moved or created
      an order, not data edits) whose `recorded_at - occurred_at` is at most
      `rules.max_sync_lag`, over all status changes in `records`;
    - inventory accuracy: counts that agree with the ledger over all counts
      (`stock`, from `reconcile_stock`);
    - change-approval completion: the orders' price changes approved or
      rejected, over those decided plus those that lapsed (expired, or
      pending at or past `expires_at`); pending ones within their time are
      in progress and left out;
    - complaint rate: `1 - min(1, complaints / orders)`, with `complaints`
      supplied by the host for the same orders;
    - fulfilment on time: orders whose last parcel shipped before their
      ship-by instant, over those shipped plus those still awaiting
      shipment at or past it (cancelled, closed and orders without a
      deadline are left out).

    A measure with a zero denominator is missing. The score is
    `100 * sum(value * weight) / sum(weight)` over the present measures,
    computed exactly and rounded half-even to two places; `None` when the
    present weights sum to 0.

    Args:
        orders: The orders of the window, each `(channel, order_id)` once.
        now: The instant to judge at, timezone-aware.
        zone: The store's IANA zone, for working hours.
        records: Audit records of the window, of any orders.
        stock: A stock reconciliation (`reconcile_stock`), or `None`.
        complaints: Complaints about `orders`, or `None` when the host has
            no figure: the complaint measure is then missing.
        channel_orders: What channel pulls reported, for the consistency
            index.
        weights: The weights; the brief's by default.
        rules: Sync lag, working hours and bulk-edit thresholds.
        stuck_rules: The limits for stuck orders and the SLA behind
            ship-by deadlines; `StuckRules()` by default.
        changed_at: When each order entered its status (`stuck_orders`).
        ship_by: Each order's ship-by instant (`stuck_orders`).

    Returns:
        The report; nothing is written.

    Raises:
        NaiveDatetime: `now` or an instant in a mapping has no UTC offset.
        ValidationError: An argument of the wrong type or out of range
            (`complaints` below zero, an unknown zone, an order twice).
        CalendarDataMissing: The SLA counts into a year its calendar does
            not cover.

    .. versionadded:: 0.1.0
    """
    at = to_utc(now, "now")
    chosen = HealthWeights() if weights is None else weights
    instance_of("weights", HealthWeights)(None, None, chosen)
    instance_of("rules", HealthRules)(None, None, rules)
    limits = StuckRules() if stuck_rules is None else stuck_rules
    instance_of("stuck_rules", StuckRules)(None, None, limits)
    instance_of("stock", (StockReconciliation, type(None)))(None, None, stock)
    found = _orders(orders)
    items = tuple(found.values())
    trail = as_tuple(records, "records", AuditRecord)
    changes = tuple(change for order in items for change in order.price_changes)
    promised = {
        ref: to_utc(instant, f"ship_by[{ref!r}]")
        for ref, instant in (ship_by or {}).items()
    }
    on_time, late = _fulfilment(items, at, limits, promised)
    ratios = {
        HealthMeasure.STATUS_SYNC: _sync(trail, rules.max_sync_lag),
        HealthMeasure.INVENTORY_ACCURACY: _stock(stock),
        HealthMeasure.CHANGE_APPROVAL: _approvals(changes, at),
        HealthMeasure.COMPLAINT_RATE: _complaints(complaints, len(items)),
        HealthMeasure.ON_TIME_FULFILMENT: (len(on_time), len(on_time) + len(late)),
    }
    score, components, missing = _score(ratios, chosen)
    stuck = stuck_orders(
        items, now=at, rules=limits, changed_at=changed_at, ship_by=promised
    )
    pulled = as_tuple(channel_orders, "channel_orders", ChannelOrder)
    drift = status_drift(items, pulled)
    compared = len({(c.channel, c.order_id) for c in pulled} & found.keys())
    open_orders = sum(1 for order in items if not order.status.is_terminal)
    awaiting = sum(1 for order in items if order.status in _AWAITING_SHIPMENT)
    past_payment = sum(
        1
        for order in items
        if order.status
        not in {OrderStatus.PENDING_PAYMENT, OrderStatus.CANCELLED, OrderStatus.CLOSED}
    )
    return HealthReport(
        score=score,
        components=components,
        missing=missing,
        backlog_rate=_rate(awaiting, past_payment),
        stuck_rate=_rate(len(stuck), open_orders),
        consistency_index=_rate(compared - len(drift), compared),
        stuck=tuple(stuck),
        drift=tuple(drift),
        anomalies=_operations(changes, zone, rules),
    )
