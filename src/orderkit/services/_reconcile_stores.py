"""The night's reconciliations, read from the stores.

`reconcile_payments` and `reconcile_stock` compare values their caller
gathered; these gather the orders' side from one backend themselves, as
`health_from_stores` does for the health report. Only what no store holds
comes from the host: the provider's statement and the warehouse's counts.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from orderkit._validate import as_tuple, positive_int
from orderkit.calendar import DayWindow
from orderkit.integrations import SettlementLine
from orderkit.inventory import Movement, replay
from orderkit.ports import UnitOfWork
from orderkit.services._order_pages import of_status, orders_in
from orderkit.services._reconcile import (
    Reconciliation,
    RowProblem,
    reconcile_payments,
)
from orderkit.services._stock_counts import (
    StockCount,
    StockReconciliation,
    reconcile_stock,
)


__all__ = ["reconcile_payments_from_stores", "reconcile_stock_from_stores"]

# Movements read per call.
_MOVEMENTS_PAGE = 1000


def reconcile_payments_from_stores(
    unit: UnitOfWork,
    lines: Iterable[SettlementLine],
    *,
    rejected: Iterable[RowProblem] = (),
    period: DayWindow | tuple[dt.datetime, dt.datetime] | None = None,
    page: int = 500,
) -> Reconciliation:
    """`reconcile_payments` of a statement against every order of one backend.

    Every stored order is read, `page` of them per unit of work: a
    statement may settle money of an order placed, paid or refunded on any
    earlier day, and an order left out would make its lines
    `MISSING_IN_ORDERS`. The reads are not one snapshot (an order recorded
    while they run may be read before or after its change), so run it at
    night, off the hot path, as its statement comes in. Give the
    statement's `period`: without one, every capture and settled refund of
    every stored order is required of this statement, and each it lacks is
    `MISSING_IN_STATEMENT`.

    Args:
        unit: The backend's unit of work; nothing is written.
        lines: The statement's lines.
        rejected: The rows the statement reader could not read.
        period: The statement's period, if it covers one (see
            `reconcile_payments`).
        page: How many orders to read per unit of work.

    Returns:
        The report, as `reconcile_payments` returns it.

    Raises:
        ValidationError: As `reconcile_payments` raises it.
        InvalidQuantity: `page` is not a positive integer.
        StoreError: A store failed.

    .. versionadded:: 0.1.0
    """
    positive_int("page")(None, None, page)
    # Checked before the reads, which may take a while.
    statement = as_tuple(lines, "lines", SettlementLine)
    orders = list(orders_in(unit, of_status(), page=page))
    return reconcile_payments(orders, statement, rejected=rejected, period=period)


def reconcile_stock_from_stores(
    unit: UnitOfWork,
    counts: Iterable[StockCount],
    *,
    since: dt.datetime | None = None,
) -> StockReconciliation:
    """`reconcile_stock` of physical counts against one backend's ledger.

    The ledger's movements are read in one unit of work, and the balances
    are what they make (`replay`), not a second read: on PostgreSQL (READ
    COMMITTED) a write committing between two reads would be in one and
    not the other, and a count would differ by it.

    Args:
        unit: The backend's unit of work; nothing is written.
        counts: The physical counts, at most one per SKU and location.
        since: Where the explaining movements start, instead of the last
            stocktake.

    Returns:
        The differences and how many counts agreed, as `reconcile_stock`
        returns them.

    Raises:
        ValidationError: As `reconcile_stock` raises it.
        StoreError: A store failed.

    .. versionadded:: 0.1.0
    """
    found = as_tuple(counts, "counts", StockCount)
    with unit as uow:
        movements: list[Movement] = []
        after = 0
        while True:
            batch = uow.ledger.movements(after=after, limit=_MOVEMENTS_PAGE)
            movements.extend(batch)
            if len(batch) < _MOVEMENTS_PAGE:
                break
            after = batch[-1].seq
    return reconcile_stock(
        found, list(replay(movements).values()), movements, since=since
    )
