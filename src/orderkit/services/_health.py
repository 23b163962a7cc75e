"""The order-health score: five weighted measures, and the figures beside them.

Every measure is a ratio from 0 (bad) to 1 (good) over plain values the
caller read from its stores; the score is their weighted mean, scaled to
0..100. A measure with nothing to measure (no status changes, no stock
counts, no complaint figure) is missing: the report says so and the other
weights are scaled up to fill its share.
"""

from __future__ import annotations

import datetime as dt
import decimal
from collections.abc import Iterable, Mapping
from decimal import ROUND_HALF_EVEN, Decimal
from fractions import Fraction

import pendulum

from orderkit._decimal import context
from orderkit._time import to_utc
from orderkit._validate import as_tuple, count, instance_of
from orderkit.errors import CalendarDataMissing
from orderkit.integrations import ChannelOrder
from orderkit.orders import AuditRecord, Order, OrderStatus
from orderkit.orders._status import ENDED
from orderkit.pricing import (
    Anomaly,
    AnomalyKind,
    ChangeState,
    PriceChange,
    anomalies,
)
from orderkit.services._drift import status_drift
from orderkit.services._health_types import (
    _FORMULAS,
    DEFAULT_HEALTH_RULES,
    HealthComponent,
    HealthMeasure,
    HealthReport,
    HealthRules,
    HealthWeights,
)
from orderkit.services._monitor import (
    _AWAITING_SHIPMENT,
    OrderRef,
    StuckRules,
    _between,
    _instants,
    _orders,
    _ship_by_due,
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
_FIGURES = context(decimal.DivisionByZero, prec=28)
_SCORE = Decimal("0.01")


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
) -> tuple[set[OrderRef], set[OrderRef], list[OrderRef]]:
    """The orders on time, late, and with a ship-by the calendar cannot count.

    Late: shipped late, or still waiting past the ship-by.
    """
    on_time: set[OrderRef] = set()
    late: set[OrderRef] = set()
    uncounted: list[OrderRef] = []
    for order in orders:
        ref = (order.channel, order.order_id)
        if order.status in ENDED:
            continue
        try:
            due = _ship_by_due(order, rules, ship_by)
        except CalendarDataMissing:
            # Neither kept nor broken until the year's table is loaded.
            uncounted.append(ref)
            continue
        if due is None:
            continue
        if order.status in _AWAITING_SHIPMENT:
            if now >= due:
                late.add(ref)
        elif order.status is not OrderStatus.PENDING_PAYMENT:
            # Shipped means every line shipped: the last parcel decides.
            shipped_at = max(s.shipped_at for s in order.shipments)
            (on_time if shipped_at < due else late).add(ref)
    return on_time, late, uncounted


def _rate(part: int, whole: int) -> Decimal | None:
    if whole == 0:
        return None
    return _decimal(Fraction(part, whole), _RATE)


def _value(measure: HealthMeasure, ratio: _Ratio) -> Fraction | None:
    part, whole = ratio
    if whole == 0:
        return None
    if measure is HealthMeasure.COMPLAINT_RATE:
        return 1 - min(Fraction(1), Fraction(part, whole))
    return Fraction(part, whole)


def _decimal(value: Fraction, quantum: Decimal) -> Decimal:
    # In its own context: the caller's decimal precision never moves a figure.
    exact = _FIGURES.divide(Decimal(value.numerator), Decimal(value.denominator))
    return exact.quantize(quantum, ROUND_HALF_EVEN, context=_FIGURES)


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
      deadline are left out, as are those whose deadline the SLA's calendar
      cannot count yet, shipped or not: the report names them in
      `ship_by_uncounted`, and while one awaits shipment `stuck_orders`
      flags it).

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
    promised = _instants(ship_by, "ship_by")
    on_time, late, uncounted = _fulfilment(items, at, limits, promised)
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
        if order.status is not OrderStatus.PENDING_PAYMENT and order.status not in ENDED
    )
    return HealthReport(
        score=score,
        components=components,
        missing=missing,
        backlog_rate=_rate(awaiting, past_payment),
        stuck_rate=_rate(
            sum(1 for s in stuck if not s.status.is_terminal), open_orders
        ),
        consistency_index=_rate(compared - len(drift), compared),
        stuck=tuple(stuck),
        drift=tuple(drift),
        anomalies=_operations(changes, zone, rules),
        ship_by_uncounted=tuple(uncounted),
    )
