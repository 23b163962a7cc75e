"""The order-health report and the stuck orders, read from the stores.

`health_report` scores values its caller gathered; `health_from_stores`
gathers them itself from one backend (orders and their audit trails, the
inventory ledger), for an explicit window and clock, and hands them to it.
Only what no store holds comes from the host: the warehouse's physical
counts, the complaint figure, and what channel pulls reported.
`stuck_from_stores` does the same for `stuck_orders`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence

import pendulum

from orderkit._time import to_utc
from orderkit._validate import as_tuple, positive_int
from orderkit.calendar import DayWindow
from orderkit.errors import ValidationError
from orderkit.integrations import ChannelOrder
from orderkit.orders import AuditRecord, Order, OrderStatus
from orderkit.ports import Clock, UnitOfWork
from orderkit.services._health import health_report
from orderkit.services._health_types import (
    DEFAULT_HEALTH_RULES,
    HealthReport,
    HealthRules,
    HealthWeights,
)
from orderkit.services._monitor import (
    OrderRef,
    StuckOrder,
    StuckRules,
    status_changed_at,
    stuck_orders,
)
from orderkit.services._order_pages import (
    Listing,
    latest,
    lists_waiting,
    lists_window,
    of_status,
    pages,
    placed_between,
    waiting,
)
from orderkit.services._reconcile_stores import reconcile_stock_from_stores
from orderkit.services._stock_counts import StockCount, StockReconciliation


__all__ = ["health_from_stores", "stuck_from_stores"]


def _bounds(
    window: DayWindow | tuple[dt.datetime, dt.datetime], zone: str | None
) -> tuple[pendulum.DateTime, pendulum.DateTime, str]:
    if isinstance(window, DayWindow):
        return window.start, window.end, window.zone if zone is None else zone
    # A host may pass anything at run time, whatever the annotation says.
    pair: object = window
    if not isinstance(pair, tuple) or len(pair) != 2:
        raise ValidationError(
            "window", window, "must be a DayWindow or a (start, end) pair"
        )
    start = to_utc(window[0], "window.start")
    end = to_utc(window[1], "window.end")
    if end <= start:
        raise ValidationError("window", window, "must end after it starts")
    if zone is None:
        raise ValidationError("zone", zone, "name the store's IANA zone")
    return start, end, zone


def _in_window(
    order: Order,
    records: Iterable[AuditRecord],
    start: pendulum.DateTime,
    end: pendulum.DateTime,
) -> bool:
    """Whether the window counts the order: placed or changed in it, or not done."""
    if order.placed_at >= end:
        return False
    if order.placed_at >= start:
        return True
    if any(start <= r.recorded_at < end for r in records):
        return True
    # An order left behind by an earlier window still counts against this
    # one while it is open or waits for something (a refund, a person).
    return _waiting(order)


def _waiting(order: Order) -> bool:
    """Whether the order is open, or waits for a saga or a person."""
    return not order.status.is_terminal or order.saga is not None or bool(order.review)


def _with_trails(
    unit: UnitOfWork,
    page: int,
    wanted: Callable[[Order], bool],
    listing: Listing | None = None,
) -> Iterator[tuple[Order, tuple[AuditRecord, ...]]]:
    """Every wanted order `listing` gives (every order by default) with its trail.

    `page` orders are read per unit of work, each with its trail.
    """

    def trails(
        uow: UnitOfWork, batch: Sequence[Order]
    ) -> list[tuple[Order, tuple[AuditRecord, ...]]]:
        return [
            (order, tuple(uow.audit.records(order.channel, order.order_id)))
            for order in batch
            if wanted(order)
        ]

    return pages(unit, of_status() if listing is None else listing, trails, page=page)


def _can_be_stuck(
    unit: UnitOfWork, page: int, wanted: Callable[[Order], bool] = lambda _: True
) -> Iterator[tuple[Order, tuple[AuditRecord, ...]]]:
    """Every wanted order that can be stuck (`_waiting`), with its trail.

    From a store that lists the orders that wait, the open orders are read
    by status and the ended ones among those that wait, so the orders done
    with are never read; from one without, every order is.
    """

    def can_be_stuck(order: Order) -> bool:
        return _waiting(order) and wanted(order)

    if not lists_waiting(unit):
        yield from _with_trails(unit, page, can_be_stuck)
        return
    for status in OrderStatus:
        if not status.is_terminal:
            yield from _with_trails(unit, page, can_be_stuck, of_status(status))
    yield from _with_trails(
        unit, page, lambda o: o.status.is_terminal and can_be_stuck(o), waiting
    )


def _changed(
    unit: UnitOfWork, page: int, start: pendulum.DateTime, end: pendulum.DateTime
) -> set[OrderRef]:
    """The orders with an audit record recorded in `[start, end)`."""
    found: set[OrderRef] = set()
    after = None
    while True:
        with unit as uow:
            batch = getattr(uow.audit, "recorded_between")(  # noqa: B009 - optional
                start, end, after=after, limit=page
            )
        found.update((channel, record.order_id) for channel, record in batch)
        if len(batch) < page:
            return found
        after = batch[-1]


def _with_trails_of(
    unit: UnitOfWork,
    page: int,
    refs: Iterable[OrderRef],
    wanted: Callable[[Order], bool],
) -> Iterator[tuple[Order, tuple[AuditRecord, ...]]]:
    """The wanted orders of `refs` with their trails, `page` per unit of work."""
    listed = sorted(refs)
    for i in range(0, len(listed), page):
        with unit as uow:
            found = []
            for channel, order_id in listed[i : i + page]:
                order = uow.orders.get(channel, order_id)
                if order is not None and wanted(order):
                    trail = tuple(uow.audit.records(channel, order_id))
                    found.append((order, trail))
        yield from found


def _may_count(
    unit: UnitOfWork, page: int, start: pendulum.DateTime, end: pendulum.DateTime
) -> Iterator[tuple[Order, tuple[AuditRecord, ...]]]:
    """Every order the window may count (`_in_window` judges), with its trail.

    From stores with the optional reads of a window (`lists_window`): the
    orders placed in it, those with a record recorded in it, and those
    that can be stuck, so that the cost follows the window's orders and
    those in flight, not every order ever taken. From others, every order
    placed before `end`.
    """

    def before_end(order: Order) -> bool:
        return order.placed_at < end

    if not lists_window(unit):
        yield from _with_trails(unit, page, before_end)
        return
    # Each order's trail is read once, unless the order moved on meanwhile:
    # the window's own orders are most of those it changed, and many are
    # still open.
    seen: dict[OrderRef, int] = {}

    def unseen(order: Order) -> bool:
        ref = (order.channel, order.order_id)
        return before_end(order) and order.version > seen.get(ref, 0)

    def noted(
        reads: Iterable[tuple[Order, tuple[AuditRecord, ...]]],
    ) -> Iterator[tuple[Order, tuple[AuditRecord, ...]]]:
        for read in reads:
            seen[read[0].channel, read[0].order_id] = read[0].version
            yield read

    yield from noted(_with_trails(unit, page, unseen, placed_between(start, end)))
    changed = _changed(unit, page, start, end) - seen.keys()
    yield from noted(_with_trails_of(unit, page, changed, unseen))
    yield from _can_be_stuck(unit, page, unseen)


def _stock(
    unit: UnitOfWork, counts: tuple[StockCount, ...]
) -> StockReconciliation | None:
    return reconcile_stock_from_stores(unit, counts) if counts else None


def health_from_stores(  # noqa: PLR0913 - keyword-only inputs of one report
    unit: UnitOfWork,
    clock: Clock,
    *,
    window: DayWindow | tuple[dt.datetime, dt.datetime],
    zone: str | None = None,
    counts: Iterable[StockCount] = (),
    complaints: int | None = None,
    channel_orders: Iterable[ChannelOrder] = (),
    weights: HealthWeights | None = None,
    rules: HealthRules = DEFAULT_HEALTH_RULES,
    stuck_rules: StuckRules | None = None,
    ship_by: Mapping[OrderRef, dt.datetime] | None = None,
    page: int = 500,
) -> HealthReport:
    """Score order health over a window, every figure read from the stores.

    The report is judged at `clock.now()`, over the window `[start, end)`.
    What is read, and from where:

    - **the window's orders**, from the order store: every order placed
      before `end` that was placed in the window, has an audit record
      recorded in it, or is still open (not completed, cancelled or closed)
      or waiting for something (a saga in flight, a reason in
      `Order.review`): an order stuck since last week counts against
      today;
    - **the audit records**, from the audit log: the records of every order
      recorded in the window (`start <= recorded_at < end`), and each
      window order's whole trail for when it entered its status
      (`status_changed_at`);
    - **the ledger's balances and movements**, from the ledger store, to
      check `counts` against (`reconcile_stock`), only when counts are
      given.

    The measures, as `health_report` computes them from those figures:

    - status sync timeliness = `timely / status changes`: the window's
      audit records that moved or created an order, and of those the ones
      with `recorded_at - occurred_at <= rules.max_sync_lag`;
    - inventory accuracy = `agreed counts / counts`: each count compared
      with the ledger's on hand at its `counted_at`;
    - change-approval completion = `decided / (decided + lapsed)` over the
      window orders' price changes: approved or rejected, over those plus
      the expired and the pending at or past `expires_at`;
    - complaint rate = `1 - min(1, complaints / window orders)`, with
      `complaints` from the host; `None` makes the measure missing, the
      report lists it in `missing`, and the other weights are scaled up to
      fill its share;
    - fulfilment on time = `on time / (shipped + late unshipped)` over the
      window orders with a ship-by instant (`ship_by`, else
      `stuck_rules.sla` from the first payment): last parcel shipped
      before it, over those shipped plus those awaiting shipment at or
      past it. An order whose ship-by the SLA cannot count (its calendar
      lacks a year) counts on neither side, shipped or not; while it awaits
      shipment, it is among the stuck orders (`StuckReason.NO_SHIP_BY`).

    Beside the score: backlog rate `awaiting shipment / (window orders -
    pending payment - cancelled - closed)`, stuck rate `stuck open orders /
    open orders`, consistency index `1 - drifted / compared` against
    `channel_orders`, and the anomalous operations among the window orders'
    price changes (bulk edits by one actor, edits outside working hours in
    `zone`). The score is `100 * sum(value * weight) / sum(weight)` over
    the measures present.

    It reads those orders and their audit trails, a page of `page` orders
    per unit of work (the figures are not one snapshot: an order that moves
    on while they are read may count as either read), and, with counts,
    the ledger's whole movement history: run it off the hot path. From stores with the
    optional reads of a window (`OrderStore.placed_between`,
    `AuditLog.recorded_between` and `OrderStore.waiting`, as orderkit's
    stores have), it reads the orders placed in the window, those it
    changed, and the open and waiting ones; from others, every order
    placed before `end`.

    Args:
        unit: The backend's unit of work; nothing is written.
        clock: Where `now` comes from.
        window: The window scored: a `DayWindow` (a day in the store's zone)
            or a `(start, end)` pair of timezone-aware instants.
        zone: The store's IANA zone, for working hours; by default the
            `DayWindow`'s zone (required with a pair).
        counts: The warehouse's physical counts to check the ledger with;
            none makes inventory accuracy missing.
        complaints: Complaints about the window's orders, from the host;
            `None` when it has no figure.
        channel_orders: What channel pulls reported, for the consistency
            index.
        weights: The weights; the brief's by default.
        rules: Sync lag, working hours and bulk-edit thresholds.
        stuck_rules: Stuck-order limits and the SLA behind ship-by
            instants; `StuckRules()` by default.
        ship_by: Ship-by instants promised per `(channel, order_id)`.
        page: How many orders to read per unit of work.

    Returns:
        The report, as `health_report` returns it.

    Raises:
        ValidationError: An argument is invalid: a window that does not end
            after it starts, a pair without `zone`, an unknown zone,
            `complaints` below zero (`field` names it).
        InvalidQuantity: `page` is not a positive integer.
        NaiveDatetime: An instant has no UTC offset.
        StoreError: A store failed.

    .. versionadded:: 0.1.0
    """
    start, end, chosen_zone = _bounds(window, zone)
    positive_int("page")(None, None, page)
    found_counts = as_tuple(counts, "counts", StockCount)
    now = to_utc(clock.now(), "now")
    orders: list[Order] = []
    records: list[AuditRecord] = []
    changed: dict[OrderRef, pendulum.DateTime] = {}
    for order, trail in latest(
        _may_count(unit, page, start, end), lambda read: read[0]
    ):
        if not _in_window(order, trail, start, end):
            continue
        orders.append(order)
        records.extend(r for r in trail if start <= r.recorded_at < end)
        changed[order.channel, order.order_id] = status_changed_at(order, trail)
    return health_report(
        orders,
        now=now,
        zone=chosen_zone,
        records=records,
        stock=_stock(unit, found_counts),
        complaints=complaints,
        channel_orders=channel_orders,
        weights=weights,
        rules=rules,
        stuck_rules=stuck_rules,
        changed_at=changed,
        ship_by=ship_by,
    )


def stuck_from_stores(
    unit: UnitOfWork,
    clock: Clock,
    *,
    rules: StuckRules | None = None,
    ship_by: Mapping[OrderRef, dt.datetime] | None = None,
    page: int = 500,
) -> list[StuckOrder]:
    """Flag the stuck orders of one backend, every figure read from its stores.

    `stuck_orders` judged at `clock.now()` over every order that can be
    stuck (open, or waiting for a saga or a person: a completed, cancelled
    or closed order with nothing owed never is), each with when it entered
    its status as its audit trail says (`status_changed_at`). From a store
    with the optional `waiting()` read (orderkit's stores), the open
    orders are read by status and the ended ones among the orders that
    wait, so its cost follows the orders in flight, not every order ever
    taken; from one without, every order is read. A page of `page` orders
    is read per unit of work, so the list is not one snapshot (an order
    that moved on from one listing to a later one is judged as the later
    read it); run it off the hot path, every few minutes.

    Args:
        unit: The backend's unit of work; nothing is written.
        clock: Where `now` comes from.
        rules: The limits; `StuckRules()` by default.
        ship_by: Ship-by instants promised per `(channel, order_id)`.
        page: How many orders to read per unit of work.

    Returns:
        The stuck orders, as `stuck_orders` returns them: the longest
        overdue first.

    Raises:
        InvalidQuantity: `page` is not a positive integer.
        NaiveDatetime: `clock.now()` or an instant in `ship_by` has no UTC
            offset.
        ValidationError: `rules` is not a `StuckRules`.
        StoreError: A store failed.

    .. versionadded:: 0.1.0
    """
    positive_int("page")(None, None, page)
    now = to_utc(clock.now(), "now")
    orders: list[Order] = []
    changed: dict[OrderRef, pendulum.DateTime] = {}
    for order, trail in latest(_can_be_stuck(unit, page), lambda read: read[0]):
        orders.append(order)
        changed[order.channel, order.order_id] = status_changed_at(order, trail)
    return stuck_orders(
        orders, now=now, rules=rules, changed_at=changed, ship_by=ship_by
    )
