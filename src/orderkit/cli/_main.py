"""The `orderkit` command line: argparse, the exit codes, one-line errors."""

from __future__ import annotations

import argparse
import contextlib
import signal
import sys
import threading
from collections.abc import Iterator, Mapping, Sequence
from types import FrameType, MappingProxyType
from typing import Final, NoReturn

import attrs

import orderkit
from orderkit.cli import _reconcile, _replay
from orderkit.cli._backends import database_option, redact
from orderkit.cli._plans import Rates
from orderkit.cli._progress import ProgressBar, wanted
from orderkit.cli._run import Settings, UsageError, simulate
from orderkit.cli._summary import failed, to_json, to_table
from orderkit.errors import OrderkitError


DEFAULT_ORDERS: Final = 5_000
"""A day that runs in well under a minute on a laptop, on one core."""
MAX_ORDERS: Final = 1_000_000
MAX_WORKERS: Final = 64

_RATES: Final = (
    ("duplicate", "webhooks, payment notices and scans delivered twice"),
    ("reorder", "notices delivered before the one they follow"),
    ("flash", "orders placed in the midnight flash sale"),
    ("abuser", "flash-sale orders from coupon-stacking bulk buyers"),
    ("cross-duplicate", "buyers who order the same again on the other CN channel"),
    ("abandon", "checkouts never paid: their holds expire"),
    ("carrier-timeout", "carrier label calls that time out (plus a brownout)"),
    ("payment-timeout", "payment provider calls that time out"),
    ("price-change", "Taobao orders repriced by support before payment"),
    ("cancel", "paid orders cancelled before picking, then refunded"),
    ("return", "delivered orders returned, inspected and refunded"),
    ("lost-pick", "pick tasks the warehouse loses (stuck orders)"),
)
_FIELDS: Final = {"return": "returns"}

_DESCRIPTION: Final = """\
orderkit: the order domain of an e-commerce back office, on the command line.
"""
_TOP_EXAMPLES: Final = """\
examples:
  orderkit simulate                 # a flash-sale day, with the invariants checked
  orderkit simulate --workers 2 --orders 20000 --json
  orderkit simulate --help          # every option of the simulation
  orderkit reconcile orders.jsonl wechat-bill.csv
  orderkit replay events.jsonl
"""
_SIMULATE: Final = """\
Run a simulated Singles' Day through the whole OrderDesk: seeded traffic from
Taobao (a FieldMap, in Chinese), Magento, Shopify (a US store whose day
crosses midnight in Shanghai) and WooCommerce, through their adapters, with
seven warehouses in three regions, a payment provider and carriers that
time out, retries and circuit breakers. At the end the outage is over: the
sagas left in flight are recovered and the refunds owed sent. Then the
stores are checked: the ledger replays to its balances, nothing is
oversold, no refund exceeds its capture, no saga is left in flight, every
audit trail matches its order, the channels were told the stock the ledger
has, the payment provider holds no money the orders do not record, and
the orders' payments and refunds match its statements of every day.
A database that holds orders or stock already is refused.
"""
_EXAMPLES: Final = f"""\
examples:
  orderkit simulate                        # {DEFAULT_ORDERS:,} orders, seed 1
  orderkit simulate --orders 20000 --workers 2 --json
  orderkit simulate --seed 7 --db day.db   # keep the database to look at
  orderkit simulate --report day.html      # charts of the day, to open in a browser
  orderkit simulate --db :memory: --orders 500
  orderkit simulate --db postgresql://localhost/orderkit --workers 4
  orderkit simulate --abuser-rate 0.6 --carrier-timeout-rate 0.2

exit codes: 0 every invariant holds, 1 a figure that must be 0 is not,
2 bad usage, 3 the run failed (database, worker process, report),
130 interrupted (Ctrl-C), 143 terminated (SIGTERM).
"""


class _Parser(argparse.ArgumentParser):
    """An argument parser whose errors are one line on stderr, exit code 2."""

    commands: Mapping[str, argparse.ArgumentParser] = MappingProxyType({})
    """Its commands' parsers, by name."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")

    def parse_command(self, argv: Sequence[str] | None) -> argparse.Namespace:
        """`parse_args`, with an argument no command knows named by its command.

        argparse's own leaves those to the top parser: `orderkit simulate
        --bogus` would say `orderkit: error:`, and point to the wrong help.
        """
        args, extra = self.parse_known_args(argv)
        if extra:
            command = self.commands.get(getattr(args, "command", None) or "", self)
            command.error(f"unrecognized arguments: {' '.join(extra)}")
        return args


def _count(low: int, high: int) -> type[int]:
    def parse(text: str) -> int:
        try:
            value = int(text.replace("_", ""))
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"{value} is not in {low}..{high:,}")
        return value

    return parse  # type: ignore[return-value]  # argparse calls it like a type


def _rate(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not 0 <= value <= 1:  # NaN fails this too
        raise argparse.ArgumentTypeError(f"{text} is not a rate from 0 to 1")
    return value


def build_parser() -> _Parser:
    """The `orderkit` parser, with its `simulate` command."""
    parser = _Parser(
        prog="orderkit",
        description=_DESCRIPTION,
        epilog=_TOP_EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--version", action="version", version=f"orderkit {orderkit.__version__}"
    )
    commands = parser.add_subparsers(
        title="commands", dest="command", metavar="COMMAND"
    )
    commands.required = True
    parser.commands = commands.choices
    sim = commands.add_parser(
        "simulate",
        help="run a flash-sale day through the whole order desk and check"
        " every invariant against the stores at the end",
        description=_SIMULATE,
        epilog=_EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sim.add_argument(
        "--orders",
        type=_count(1, MAX_ORDERS),
        default=DEFAULT_ORDERS,
        metavar="N",
        help=f"orders the channels send (default {DEFAULT_ORDERS:,})",
    )
    sim.add_argument(
        "--seed",
        type=_count(0, 2**63 - 1),
        default=1,
        help="seeds the traffic: the same seed gives the same day (default 1)",
    )
    sim.add_argument(
        "--workers",
        type=_count(1, MAX_WORKERS),
        default=1,
        metavar="K",
        help="worker processes sharing the database (default 1)",
    )
    sim.add_argument(
        "--db",
        type=database_option,
        metavar="PATH|:memory:|DSN",
        help="a SQLite file (kept), ':memory:', or a PostgreSQL DSN"
        " (postgresql://... or host=... dbname=...); by default a SQLite"
        " file in a temporary directory, removed after",
    )
    sim.add_argument(
        "--json",
        action="store_true",
        help="print the summary as JSON on stdout, and nothing else",
    )
    sim.add_argument(
        "--report",
        metavar="PATH",
        help="also write an HTML report with charts of the day to PATH: one"
        " self-contained file that opens in a browser without a network",
    )
    rates = sim.add_argument_group("traffic rates (each a probability from 0 to 1)")
    defaults = Rates()
    for name, meaning in _RATES:
        field = _FIELDS.get(name, name.replace("-", "_"))
        default = getattr(defaults, field)
        rates.add_argument(
            f"--{name}-rate",
            dest=f"rate_{field}",
            type=_rate,
            default=default,
            metavar="R",
            help=f"{meaning} (default {default:g})",
        )
    _reconcile.register(commands)
    _replay.register(commands)
    return parser


def _rates(args: argparse.Namespace) -> Rates:
    values = {
        field.name: getattr(args, f"rate_{field.name}") for field in attrs.fields(Rates)
    }
    return Rates(**values)


def _say(message: str) -> None:
    first = message.strip().splitlines()[0] if message.strip() else "failed"
    sys.stderr.write(first + "\n")


def _print(summary: dict[str, object], *, json_output: bool) -> None:
    sys.stdout.write((to_json(summary) if json_output else to_table(summary)) + "\n")
    sys.stdout.flush()


def _simulate(args: argparse.Namespace) -> int:
    settings = Settings(
        orders=args.orders,
        seed=args.seed,
        workers=args.workers,
        db=args.db,
        rates=_rates(args),
        report=args.report,
    )
    bar = None
    if wanted(sys.stderr, json_output=args.json):
        bar = ProgressBar(args.orders, sys.stderr)

    def summarized(summary: dict[str, object]) -> None:
        # Printed before the report is written: a report that cannot be
        # written does not take the day's summary with it.
        if bar is not None:
            bar.close()
        _print(summary, json_output=args.json)

    try:
        summary = (
            simulate(settings, summarized=summarized)
            if bar is None
            else simulate(settings, progress=bar, summarized=summarized)
        )
    except UsageError as error:
        _say(redact(f"orderkit simulate: error: {error}", args.db))
        return 2
    except (OrderkitError, RuntimeError, OSError) as error:
        _say(redact(f"orderkit simulate: failed: {error}", args.db))
        return 3
    finally:
        if bar is not None:
            bar.close()
    return 1 if failed(summary) else 0


class _Terminated(BaseException):
    """SIGTERM came: raised in the main thread, as Ctrl-C raises KeyboardInterrupt."""


def _terminate(signum: int, frame: FrameType | None) -> NoReturn:
    del frame
    # A second SIGTERM ends the process at once, as it would without us.
    signal.signal(signum, signal.SIG_DFL)
    raise _Terminated


@contextlib.contextmanager
def _sigterm_raises() -> Iterator[None]:
    """Within, SIGTERM raises `_Terminated`, so that cleanups run (workers end)."""
    if threading.current_thread() is not threading.main_thread():
        yield  # only the main thread may set a handler
        return
    previous = signal.signal(signal.SIGTERM, _terminate)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the `orderkit` command line and return its exit code.

    Args:
        argv: The arguments after the program name; `sys.argv[1:]` if omitted.

    Returns:
        0 when every invariant holds, 1 when one broke, 2 for bad usage,
        3 when the run failed, 130 when interrupted (Ctrl-C), 143 when
        terminated (SIGTERM).
    """
    parser = build_parser()
    try:
        args = parser.parse_command(argv)
    except SystemExit as exit_:
        return exit_.code if isinstance(exit_.code, int) else 2
    try:
        with _sigterm_raises():
            if args.command != "simulate":
                return int(args.run(args))
            return _simulate(args)
    except KeyboardInterrupt:
        _say(f"orderkit {args.command}: interrupted")
        return 130
    except _Terminated:
        _say(f"orderkit {args.command}: terminated")
        return 143
    except Exception as error:  # noqa: BLE001 - a bug, still said in one line
        # Any command: what the command itself did not foresee.
        message = f"orderkit {args.command}: failed: {type(error).__name__}: {error}"
        _say(redact(message, getattr(args, "db", None)))
        return 3
