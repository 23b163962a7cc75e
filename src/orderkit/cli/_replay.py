"""`orderkit replay EVENTS.jsonl`: a stream of order events applied to a store.

The command reads the events, applies them with `_replaying.replay` to the
memory stores (or the database `--db` names), and prints what became of
every event, the lines that could not be read, and the orders the stream
reached with their audit trails: a table, or JSON with `--json`.
"""

from __future__ import annotations

import argparse
import functools
import json
import operator
import sys
from collections import Counter
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Final

from orderkit.adapters.memory import MemoryUnitOfWork
from orderkit.cli._backends import Database, database_option, describe, redact
from orderkit.cli._columns import columns, shown
from orderkit.cli._jsonlines import NotJson
from orderkit.cli._order_files import InputError, read_bytes, utf8
from orderkit.cli._replaying import (
    NEVER_PLACED,
    OUTCOMES,
    Replay,
    Step,
    replay,
    stored,
)
from orderkit.errors import ConfigurationError, OrderkitError
from orderkit.orders import AuditRecord, Order
from orderkit.ports import UnitOfWork
from orderkit.serialization import make_converter


if TYPE_CHECKING:
    Commands = argparse._SubParsersAction[Any]  # noqa: SLF001 - argparse names no public type for it


HELP: Final = "apply a stream of order events to a store and show the orders"
_DESCRIPTION: Final = """\
Apply a stream of order events, one JSON event per line as orderkit
serialises them ({"type": "PaymentCaptured", "order_id": ..., "key": ...}),
to the stores, in the order of the file, and show what became of each:
applied, a duplicate (its key was applied before), stale (the order has
passed its stage), parked (it came before its predecessor: it is applied
when that arrives), a refund due, or rejected. Lines that are not JSON or
not an event are reported with their line numbers, and the rest applied.
Then the orders the stream reached are shown, each with its audit trail.

An OrderPlaced names its channel; any other event goes to the channel
given beside it in the line ("channel": "taobao"), else to the order of
its id placed earlier in the stream, else to its key's channel if the
order is stored there, else to the one stored order of its id. Events are
applied at the latest occurred_at seen so far, so a replay is repeatable.
The lifecycle only: no stock is held or moved, no message is sent.
"""
_EXAMPLES: Final = """\
examples:
  orderkit replay events.jsonl                  # in memory, as a table
  orderkit replay events.jsonl --json > result.json
  orderkit replay events.jsonl --db orders.db   # keep the orders, replay more later
  some-exporter | orderkit replay -             # read the events from stdin

exit codes: 0 every line read, no event rejected or left waiting, 1 malformed
lines, rejected events, or events still waiting for their order at the end,
2 bad usage (a file missing or not UTF-8, a --db file that cannot be used),
3 the store failed.
"""


_WAITING: Final = (
    "  waiting for an order never placed: neither the events nor the store"
    " have it (if it is stored under another channel than the events' keys"
    ' name, give "channel" in the events)'
)


def register(commands: Commands) -> None:
    """Add `replay` to the `orderkit` parser's commands."""
    parser = commands.add_parser(
        "replay",
        help=HELP,
        description=_DESCRIPTION,
        epilog=_EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "events",
        metavar="EVENTS",
        help="a JSON Lines file of order events ('-' for stdin)",
    )
    parser.add_argument(
        "--db",
        type=database_option,
        metavar="PATH|:memory:|DSN",
        help="a SQLite file (created if new, kept), ':memory:', or a"
        " PostgreSQL DSN (postgresql://... or host=... dbname=...); by"
        " default the memory stores, gone after",
    )
    parser.add_argument(
        "--json",
        action="store_true",
        help="print the result as JSON on stdout, and nothing else",
    )
    parser.set_defaults(run=run)


def _fail(message: str, code: int) -> int:
    sys.stderr.write(message.splitlines()[0] + "\n")
    return code


def _read(path: str) -> str:
    data = sys.stdin.buffer.read() if path == "-" else read_bytes(path, "EVENTS")
    return utf8(data, "EVENTS", "stdin" if path == "-" else path)


def run(args: argparse.Namespace) -> int:
    """Run `orderkit replay` with parsed arguments; return the exit code."""
    try:
        text = _read(args.events)
    except InputError as error:
        return _fail(f"orderkit replay: error: {error}", 2)
    database: Database | None = None
    try:
        if args.db is None:
            unit: UnitOfWork = MemoryUnitOfWork()
        else:
            database = Database(args.db)
            unit = database.open()
        result = replay(text, unit)
        orders = stored(unit, result.touched)
    except NotJson as error:
        return _fail(f"orderkit replay: error: EVENTS {args.events} {error}", 2)
    except ConfigurationError as error:
        return _fail(redact(f"orderkit replay: error: --db: {error}", args.db), 2)
    except OrderkitError as error:
        return _fail(redact(f"orderkit replay: failed: {error}", args.db), 3)
    finally:
        if database is not None:
            database.close()
    db = "memory" if args.db is None else describe(args.db)
    if args.json:
        out = json.dumps(to_json(result, orders, db), ensure_ascii=False, indent=2)
    else:
        out = "\n".join(to_table(result, orders, db))
    sys.stdout.write(out + "\n")
    rejected = any(step.outcome == "rejected" for step in result.steps)
    # An event still waiting was not stored: as lost as a malformed line.
    return 1 if result.malformed or rejected or result.waiting else 0


def _tally(result: Replay) -> dict[str, int]:
    counts = Counter(step.outcome for step in result.steps)
    return {outcome: counts.get(outcome, 0) for outcome in OUTCOMES}


def _step(step: Step) -> dict[str, object]:
    return {
        "line": step.line,
        "event": step.event_type,
        "channel": step.channel,
        "order_id": step.order_id,
        "outcome": step.outcome,
        "detail": step.detail,
    }


Stored = Sequence[tuple[str, Order, tuple[AuditRecord, ...]]]


def to_json(result: Replay, orders: Stored, db: str) -> dict[str, object]:
    """The result as one JSON object; orders and records in orderkit's form."""
    converter = make_converter()
    return {
        "events": result.events,
        "malformed_lines": len(result.malformed),
        "outcomes": _tally(result),
        "db": db,
        "steps": [_step(step) for step in result.steps],
        "malformed": [{"line": m.line, "problem": m.problem} for m in result.malformed],
        "waiting": [_step(step) for step in result.waiting],
        "orders": [
            {
                "channel": channel,
                "order": converter.unstructure(order),
                "audit": converter.unstructure(trail),
            }
            for channel, order, trail in orders
        ],
    }


def _plural(count: int, word: str) -> str:
    return f"{count:,} {word}{'' if count == 1 else 's'}"


def to_table(result: Replay, orders: Stored, db: str) -> list[str]:
    """The result as lines for a terminal."""
    tally = _tally(result)
    read = f"{result.events:,} read"
    if result.malformed:
        read += f", {_plural(len(result.malformed), 'malformed line')}"
    lines = [
        "orderkit replay",
        f"  events    {read}",
        "  outcomes  " + ", ".join(f"{n:,} {name}" for name, n in tally.items()),
        f"  store     {db}",
    ]
    if result.steps:
        rows = [
            (
                "-" if s.line is None else str(s.line),
                s.event_type,
                f"{s.channel}:{s.order_id}",
                s.outcome,
                s.detail,
            )
            for s in result.steps
        ]
        header = ("line", "event", "order", "outcome", "detail")
        lines += ["", *columns(header, rows, right=(0,))]
    if result.malformed:
        lines += ["", "  malformed lines (not applied)"]
        lines += [f"  line {m.line}: {m.problem}" for m in result.malformed]
    if result.waiting:
        lines += ["", _WAITING]
        lines += [
            f"  line {s.line}: {s.event_type} for {s.order_id}"
            + ("" if s.detail == NEVER_PLACED else f": {s.detail}")
            for s in result.waiting
        ]
    lines += ["", f"  orders ({len(orders)})"]
    for channel, order, trail in orders:
        lines += ["", f"  {shown(channel)}:{order.order_id}  {_about(order)}"]
        lines += columns(
            ("v", "occurred (UTC)", "event", "status", "by", "changes"),
            [_record(record) for record in trail],
            right=(0,),
            indent="    ",
        )
    return lines


def _about(order: Order) -> str:
    parts = [
        order.status.value,
        f"version {order.version}",
        _plural(len(order.lines), "line"),
    ]
    if order.payments:
        paid = functools.reduce(operator.add, (p.amount for p in order.payments))
        parts.append(f"paid {paid}")
    if order.shipments:
        parts.append(_plural(len(order.shipments), "shipment"))
    if order.parked:
        parts.append(f"{len(order.parked)} parked")
    return ", ".join(parts)


def _record(record: AuditRecord) -> tuple[str, ...]:
    was = "" if record.from_status is None else f"{record.from_status.value} "
    status = (
        record.to_status.value
        if record.from_status == record.to_status
        else f"{was}-> {record.to_status.value}"
    )
    changes = "; ".join(
        f"{c.field}: {c.old} -> {c.new}" if c.old else f"{c.field}: {c.new}"
        for c in record.changes
    )
    return (
        str(record.version),
        record.occurred_at.format("YYYY-MM-DD HH:mm:ss"),
        record.event_type,
        status,
        f"{record.source}/{record.actor}",
        changes,
    )
