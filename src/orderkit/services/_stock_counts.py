"""A warehouse's physical stock counts against the inventory ledger.

`reconcile_stock` takes the counts, the ledger's balances and its movements
as values (read them from a `orderkit.ports.LedgerStore` with `balances()`
and `movements()`), so it is pure and works on any store's data.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Iterable
from typing import Final, final

import attrs
import pendulum

from orderkit._time import to_utc
from orderkit._validate import as_tuple, count, text
from orderkit.errors import ValidationError
from orderkit.inventory import Balance, Movement, MovementKind
from orderkit.services._cells import spreadsheet_cell


__all__ = [
    "StockCount",
    "StockDifference",
    "StockReconciliation",
    "reconcile_stock",
]


def _counted_at(value: dt.datetime) -> pendulum.DateTime:
    return to_utc(value, "counted_at")


def _since(value: dt.datetime | None) -> pendulum.DateTime | None:
    return None if value is None else to_utc(value, "since")


@final
@attrs.frozen(slots=True)
class StockCount:
    """Units of one SKU a warehouse counted at one location.

    Attributes:
        sku: The SKU.
        location: Where it was counted.
        counted: Units found.
        counted_at: When they were counted (UTC); movements the ledger
            applied after it are not in the count.

    .. versionadded:: 0.1.0
    """

    sku: str = attrs.field(validator=text("sku"))
    location: str = attrs.field(validator=text("location"))
    counted: int = attrs.field(validator=count("counted"))
    counted_at: pendulum.DateTime = attrs.field(converter=_counted_at)


def _movements(value: Iterable[Movement]) -> tuple[Movement, ...]:
    return as_tuple(value, "movements", Movement)


@final
@attrs.frozen(slots=True, kw_only=True)
class StockDifference:
    """A count that differs from the ledger, and the movements to look at.

    Attributes:
        sku: The SKU.
        location: Where.
        counted: Units the warehouse counted.
        on_hand: Units the ledger had on hand when they were counted.
        counted_at: When they were counted (UTC).
        since: Where the explaining movements start (exclusive): the last
            stocktake before the count, the time the caller gave, or `None`
            for the beginning of the movements given.
        movements: The movements that changed on hand after `since` and up
            to the count, oldest first: where the ledger and the shelf
            parted (a receipt booked twice, a shipment that never left).

    .. versionadded:: 0.1.0
    """

    sku: str = attrs.field(validator=text("sku"))
    location: str = attrs.field(validator=text("location"))
    counted: int = attrs.field(validator=count("counted"))
    on_hand: int = attrs.field(validator=count("on_hand"))
    counted_at: pendulum.DateTime = attrs.field(converter=_counted_at)
    since: pendulum.DateTime | None = attrs.field(default=None, converter=_since)
    movements: tuple[Movement, ...] = attrs.field(default=(), converter=_movements)

    @property
    def difference(self) -> int:
        """`counted - on_hand`: negative when units are missing from the shelf."""
        return self.counted - self.on_hand


_CSV_COLUMNS: Final = (
    "sku",
    "location",
    "counted_at",
    "counted",
    "on_hand",
    "difference",
    "since",
    "movements",
)


def _differences(value: Iterable[StockDifference]) -> tuple[StockDifference, ...]:
    return as_tuple(value, "differences", StockDifference)


@final
@attrs.frozen(slots=True, kw_only=True)
class StockReconciliation:
    """The result of `reconcile_stock`.

    Attributes:
        differences: Every count that differs from the ledger, in the order
            of the counts.
        agreed: How many counts agreed with the ledger.

    .. versionadded:: 0.1.0
    """

    differences: tuple[StockDifference, ...] = attrs.field(converter=_differences)
    agreed: int = attrs.field(validator=count("agreed"))

    @property
    def ok(self) -> bool:
        """Whether every count agreed with the ledger."""
        return not self.differences

    def to_csv(self) -> str:
        """The differences as CSV text: a header row, then one row each.

        Columns, in this order: sku, location, counted_at, counted, on_hand,
        difference, since, movements. Times are ISO 8601 in UTC; movements
        are `key#index kind ±units`, separated by `"; "`. Rows end with CRLF
        (RFC 4180). A SKU, location or movements cell starting with `=`,
        `+`, `-`, `@`, a tab or a carriage return is written with an
        apostrophe before it, so that a spreadsheet program never runs it
        as a formula (as `Reconciliation.to_csv` does).
        """
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\r\n")
        writer.writerow(_CSV_COLUMNS)
        for d in self.differences:
            movements = "; ".join(
                f"{m.key}#{m.index} {m.kind.value} {m.on_hand:+d}" for m in d.movements
            )
            writer.writerow(
                (
                    spreadsheet_cell(d.sku),
                    spreadsheet_cell(d.location),
                    d.counted_at.isoformat(),
                    d.counted,
                    d.on_hand,
                    d.difference,
                    "" if d.since is None else d.since.isoformat(),
                    spreadsheet_cell(movements),
                )
            )
        return out.getvalue()


def _is_stocktake(movement: Movement) -> bool:
    return movement.kind is MovementKind.ADJUST and movement.counted is not None


def _by_key(
    balances: Iterable[Balance],
) -> dict[tuple[str, str], Balance]:
    found: dict[tuple[str, str], Balance] = {}
    for i, balance in enumerate(as_tuple(balances, "balances", Balance)):
        key = (balance.sku, balance.location)
        if key in found:
            raise ValidationError(f"balances[{i}]", key, "repeats a balance")
        found[key] = balance
    return found


def reconcile_stock(
    counts: Iterable[StockCount],
    balances: Iterable[Balance],
    movements: Iterable[Movement],
    *,
    since: dt.datetime | None = None,
) -> StockReconciliation:
    """Compare physical counts with the ledger's on hand, per SKU and location.

    The ledger's balances are as of now, and a count was taken at its own
    time: the movements applied after `counted_at` are taken back out of
    on hand first, so a parcel shipped after the count is not reported as
    missing. A movement at exactly `counted_at` is counted as before it.

    For each count that differs, the movements that changed on hand at that
    SKU and location after the last stocktake (an `ADJUST` with a counted
    figure) before the count, or after `since` when given, are listed: they
    are where the shelf and the ledger parted. A SKU the ledger has no
    balance for has 0 on hand. Balances without a count are not reported: a
    cycle count covers part of the warehouse.

    Args:
        counts: The physical counts, at most one per SKU and location.
        balances: The ledger's balances now (`LedgerStore.balances(now)`).
        movements: The ledger's movements, at least those after the start
            of the window (`LedgerStore.movements(after=...)`), in any order.
        since: Where the explaining movements start, instead of the last
            stocktake.

    Returns:
        The differences and how many counts agreed; nothing is written.

    Raises:
        ValidationError: An argument is not a sequence of the right items,
            two counts or two balances share a SKU and location, or `since`
            is naive.

    .. versionadded:: 0.1.0
    """
    start = _since(since)
    found_counts = as_tuple(counts, "counts", StockCount)
    ledger = _by_key(balances)
    history: dict[tuple[str, str], list[Movement]] = {}
    # The store's sequence breaks ties between movements of the same instant.
    ordered = sorted(_movements(movements), key=lambda m: (m.at, m.seq))
    for movement in ordered:
        history.setdefault((movement.sku, movement.location), []).append(movement)

    seen: set[tuple[str, str]] = set()
    differences: list[StockDifference] = []
    for i, stock in enumerate(found_counts):
        key = (stock.sku, stock.location)
        if key in seen:
            raise ValidationError(
                f"counts[{i}]", key, "counts a SKU and location twice"
            )
        seen.add(key)
        moved = history.get(key, [])
        balance = ledger.get(key)
        now_on_hand = 0 if balance is None else balance.on_hand
        later = sum(m.on_hand for m in moved if m.at > stock.counted_at)
        on_hand = now_on_hand - later
        if on_hand < 0:
            raise ValidationError(
                f"counts[{i}]",
                key,
                "the movements after the count take on hand below zero: "
                "they are not this ledger's",
            )
        if on_hand == stock.counted:
            continue
        before = [m for m in moved if m.at <= stock.counted_at]
        if start is not None:
            window_start: pendulum.DateTime | None = start
            window = [m for m in before if m.at > start]
        else:
            takes = [n for n, m in enumerate(before) if _is_stocktake(m)]
            first = takes[-1] + 1 if takes else 0
            window_start = before[first - 1].at if takes else None
            window = before[first:]
        explaining = [m for m in window if m.on_hand != 0]
        differences.append(
            StockDifference(
                sku=stock.sku,
                location=stock.location,
                counted=stock.counted,
                on_hand=on_hand,
                counted_at=stock.counted_at,
                since=window_start,
                movements=explaining,
            )
        )
    return StockReconciliation(
        differences=differences, agreed=len(found_counts) - len(differences)
    )
