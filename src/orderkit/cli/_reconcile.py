"""`orderkit reconcile ORDERS STATEMENT`: orders against a settlement statement.

The command reads the orders (`_order_files`) and the statement
(`_statement_files`), runs `orderkit.services.reconcile_payments` on them,
and shows every difference as a table, or as the report's CSV.
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

import attrs

from orderkit.calendar import DayWindow
from orderkit.cli._columns import columns
from orderkit.cli._order_files import InputError, load_orders
from orderkit.cli._statement_files import FORMATS, NAMES, Statement, load_statement
from orderkit.errors import OrderkitError, ValidationError
from orderkit.money import Money
from orderkit.services import DiscrepancyKind, Reconciliation, reconcile_payments


if TYPE_CHECKING:
    Commands = argparse._SubParsersAction[Any]  # noqa: SLF001 - argparse names no public type for it


HELP: Final = "compare orders with a WeChat Pay, Alipay, CSV or JSON statement"
_DESCRIPTION: Final = """\
Compare what the orders record with what a payment provider's settlement
statement shows, matched by transaction id, and list every difference:
captures or refunds missing on either side, amounts, currencies or orders
that differ, money taken twice, refunds for orders never paid, and the
statement rows that could not be read, each with its line number (the rest
of the statement is reconciled all the same).

ORDERS is a JSON file of orders as orderkit serialises them (a JSON array,
one order, or JSON Lines: one order per line), or an orderkit SQLite
database such as `orderkit simulate --db day.db` keeps (read from a copy:
the file is never changed).

STATEMENT is a WeChat Pay bill (交易账单) or an Alipay bill (业务明细) as the
merchant platform downloads it (GBK), or saved again as UTF-8; a plain
CSV with the columns transaction_id, kind, amount, currency, settled_at
and optionally fee and order_id; or settlement lines in JSON (an array, or one
per line). The format is detected unless --format names it.

A daily bill shows its own day's money: with --day, only the captures and
refunds the orders made that day (in --zone) must be in it, so a refund
settled days after its payment reconciles on its day. WeChat Pay and Alipay
cut their bills' days in Beijing time, the default for them; a CSV or JSON
statement's provider may cut its days in any zone, so --day needs --zone
with one. Statement lines settled outside the day are counted in a note on
stderr: a sign of the wrong --zone, or of another day's statement.
"""
_EXAMPLES: Final = """\
examples:
  orderkit reconcile orders.jsonl wechat-bill.csv
  orderkit reconcile day.db alipay-bill.csv --format alipay
  orderkit reconcile orders.json statement.json --csv > differences.csv
  orderkit reconcile orders.jsonl wechat-bill.csv --output differences.csv
  orderkit reconcile day.db wechat-bill-2026-11-11.csv --day 2026-11-11
  orderkit reconcile orders.json stripe-2026-03-01.csv --day 2026-03-01 --zone UTC

exit codes: 0 everything matches, 1 there are differences (unreadable rows
included), 2 bad usage (a file missing or unreadable, an unknown format),
3 the run failed.
"""


def register(commands: Commands) -> None:
    """Add `reconcile` to the `orderkit` parser's commands."""
    parser = commands.add_parser(
        "reconcile",
        help=HELP,
        description=_DESCRIPTION,
        epilog=_EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("orders", metavar="ORDERS", help="orders: JSON or SQLite")
    parser.add_argument(
        "statement", metavar="STATEMENT", help="the statement: a bill, CSV or JSON"
    )
    parser.add_argument(
        "--format",
        choices=FORMATS,
        default="auto",
        dest="statement_format",
        help="the statement's format (default: detected from the file)",
    )
    parser.add_argument(
        "--day",
        type=_day,
        metavar="YYYY-MM-DD",
        help="the statement's day: what the orders made on other days is not"
        " required (default: everything the orders record)",
    )
    parser.add_argument(
        "--zone",
        type=_zone,
        metavar="ZONE",
        help="the IANA zone --day is a day of (default for WeChat Pay and"
        " Alipay bills: Asia/Shanghai, as they are; needed with --day for a CSV"
        " or JSON statement)",
    )
    out = parser.add_mutually_exclusive_group()
    out.add_argument(
        "--csv",
        action="store_true",
        help="print the differences as CSV on stdout instead of the table",
    )
    out.add_argument(
        "--output",
        metavar="PATH",
        help="write the differences as CSV to PATH (UTF-8 with a BOM, for"
        " spreadsheets) and print the table",
    )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Run `orderkit reconcile` with parsed arguments; return the exit code."""
    try:
        orders, source = load_orders(args.orders)
        statement = load_statement(args.statement, args.statement_format)
        period = _period(args, statement)
        report = reconcile_payments(
            orders, statement.lines, rejected=statement.rejected, period=period
        )
        report = _with_lines(_with_values(report, statement), statement)
    except InputError as error:
        return _fail(f"orderkit reconcile: error: {error}")
    except ValidationError as error:
        # Two orders claim the same transaction: the orders are at fault.
        return _fail(f"orderkit reconcile: error: ORDERS {args.orders}: {error}")
    except OrderkitError as error:
        return _fail(f"orderkit reconcile: failed: {error}", code=3)
    if period is not None:
        _note_outside(statement, period)
    code = 0 if report.ok else 1
    if args.csv:
        sys.stdout.write(report.to_csv())
        return code
    if args.output is not None:
        try:
            Path(args.output).write_text(
                report.to_csv(), encoding="utf-8-sig", newline=""
            )
        except OSError as error:
            return _fail(
                f"orderkit reconcile: error: --output {args.output}: {error.strerror}"
            )
    lines = to_table(report, statement, orders=len(orders), source=source)
    if args.output is not None:
        lines.append(f"  the differences are in {args.output}")
    sys.stdout.write("\n".join(lines) + "\n")
    return code


# The providers whose bills cut their days in Beijing time, whatever the zone
# of the orders.
_BEIJING_BILLS: Final = frozenset({"wechat", "alipay"})


def _period(args: argparse.Namespace, statement: Statement) -> DayWindow | None:
    if args.day is None:
        return None
    zone = args.zone
    if zone is None:
        if statement.format not in _BEIJING_BILLS:
            # A wrong guess would go unnoticed: the report would just differ
            # (the brief's "yesterday's orders" cut by UTC+8 dates).
            raise InputError(
                f"--day needs --zone for a {NAMES[statement.format]}: the IANA"
                " zone its provider cuts days in (UTC, America/New_York, ...)"
            )
        zone = "Asia/Shanghai"
    try:
        return DayWindow(args.day, zone)
    except ValidationError as error:
        # --zone was checked as it was read: what is left is the day's.
        raise InputError(f"--day {args.day}: {error.problem}") from None


def _note_outside(statement: Statement, period: DayWindow) -> None:
    outside = sum(line.settled_at not in period for line in statement.lines)
    if outside:
        lines = "line" if outside == 1 else "lines"
        sys.stderr.write(
            f"orderkit reconcile: note: {outside} statement {lines} settled"
            f" outside {period.day} in {period.zone}: is --zone the zone of"
            " the statement's days?\n"
        )


_ANY_DAY: Final = dt.date(2026, 1, 1)


def _zone(text: str) -> str:
    # Checked whether or not --day is given, by the check a day's window makes.
    try:
        DayWindow(_ANY_DAY, text)
    except ValidationError as error:
        raise argparse.ArgumentTypeError(f"{text!r} {error.problem}") from None
    return text


def _day(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date (YYYY-MM-DD): {text!r}") from None


def _fail(message: str, *, code: int = 2) -> int:
    sys.stderr.write(message.splitlines()[0] + "\n")
    return code


def _money(value: Money | None) -> str:
    return "" if value is None else f"{value.amount} {value.currency.code}"


def _with_values(report: Reconciliation, statement: Statement) -> Reconciliation:
    """The report with each unreadable row's value as written in its detail.

    The table and the CSV both show it: a problem such as "must be decimal
    text" says little without the text.
    """
    # The malformed rows come first in the report, one per rejected row, in
    # line order; rows may share a line (a JSON array written on one), so
    # they are paired in order, not looked up by line.
    unreadable = iter(sorted(statement.rejected, key=lambda row: row.line))
    shown = []
    for d in report.discrepancies:
        malformed = d.kind is DiscrepancyKind.MALFORMED_ROW
        row = next(unreadable, None) if malformed else None
        if row is not None and row.field and row.value:
            shown.append(attrs.evolve(d, detail=f"{d.detail} (got {row.value!r})"))
        else:
            shown.append(d)
    return attrs.evolve(report, discrepancies=shown)


def _with_lines(report: Reconciliation, statement: Statement) -> Reconciliation:
    """The report with the statement's line of each difference a line shows.

    A difference names the transaction, and shows the statement's amount of
    it: the line is the one with both (the transaction alone when no line
    has the amount). A row repeated is named at each copy after the first,
    in turn; any other difference at the first. A difference the statement
    lacks (`missing_in_statement`) has no line, even where another row
    shares its transaction id.
    """
    rows: dict[str, list[tuple[int, Money]]] = {}
    for number, line in zip(statement.numbers, statement.lines, strict=False):
        rows.setdefault(line.transaction_id, []).append((number, line.amount))
    repeats: dict[str, int] = {}
    placed = []
    for d in report.discrepancies:
        shown = d.line is None and d.kind is not DiscrepancyKind.MISSING_IN_STATEMENT
        found = rows.get(d.transaction_id or "") if shown else None
        if not found:
            placed.append(d)
            continue
        same = [number for number, amount in found if amount == d.actual]
        numbers = same or [number for number, _ in found]
        at = 0
        if d.kind in _REPEATED and len(numbers) > 1:
            key = d.transaction_id or ""
            repeats[key] = at = min(repeats.get(key, 0) + 1, len(numbers) - 1)
        placed.append(attrs.evolve(d, line=numbers[at]))
    return attrs.evolve(report, discrepancies=placed)


_REPEATED: Final = frozenset(
    {DiscrepancyKind.DUPLICATE_CAPTURE, DiscrepancyKind.DUPLICATE_REFUND}
)


def to_table(
    report: Reconciliation, statement: Statement, *, orders: int, source: str
) -> list[str]:
    """The report as lines for a terminal: the figures, then the differences."""
    unread = len(statement.rejected)
    read = f"{len(statement.lines)} lines read"
    if unread:
        read += f", {unread} row{'s' if unread != 1 else ''} unreadable"
    matched = f"{report.matched:,} of {report.expected:,}"
    settled = f"{report.settled:,} lines moved money, {report.skipped:,} moved none"
    lines = [
        "orderkit reconcile",
        f"  orders     {orders:,} ({source})",
        f"  statement  {NAMES[statement.format]}: {read}",
        f"  matched    {matched} transactions the orders expect",
        f"  settled    {settled}",
        "",
    ]
    if report.ok:
        lines.append("  everything matches")
        return lines
    rows = [
        (
            d.kind.value,
            "" if d.line is None else str(d.line),
            d.order_id or "",
            d.transaction_id or "",
            _money(d.expected),
            _money(d.actual),
            d.detail,
        )
        for d in report.discrepancies
    ]
    header = ("kind", "line", "order", "transaction", "orders", "statement", "detail")
    lines.extend(columns(header, rows, right=(1, 4, 5)))
    tally = Counter(d.kind.value for d in report.discrepancies)
    count = len(report.discrepancies)
    kinds = ", ".join(f"{n} {kind}" for kind, n in tally.items())
    lines += ["", f"  {count:,} difference{'s' if count != 1 else ''}: {kinds}"]
    return lines
