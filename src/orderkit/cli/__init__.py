"""The `orderkit` command line: `orderkit simulate` runs a flash-sale day.

`main(argv)` is the console script (`orderkit = "orderkit.cli:main"`) and
runs with `python -m orderkit.cli`. `orderkit simulate` drives seeded
traffic from four channel adapters through the whole `OrderDesk` on the
embedded SQLite stores (or PostgreSQL), with faults, retries, circuit
breakers, returns and refunds, in one or several worker processes, and then
checks every invariant against the stores; `orderkit simulate --help` lists
the options. `orderkit reconcile ORDERS STATEMENT` reconciles orders with a
payment provider's bill, and `orderkit replay EVENTS.jsonl` applies a stream
of order events and prints the orders and their audit trails.

The command line is built on the public API only and on argparse from the
standard library: it adds no dependency to the core, which never imports it.

.. versionadded:: 0.1.0
"""

from orderkit.cli._main import main


__all__ = ["main"]
