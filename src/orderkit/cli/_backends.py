"""Where a simulation keeps its stores: a SQLite file, SQLite in memory, PostgreSQL.

`Database(target)` opens units of work over one database. A path is a
SQLite file that every worker process opens for itself; `":memory:"` is one
SQLite connection, in this process only; a `postgresql://` DSN goes to
`orderkit.adapters.postgres`, imported only then, so that neither the
module nor psycopg is needed for the other two.
"""

from __future__ import annotations

import argparse
import importlib
import os
from collections.abc import Callable
from pathlib import Path
from typing import Final, cast, final
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from orderkit.adapters.sqlite import SqliteUnitOfWork
from orderkit.errors import ConfigurationError
from orderkit.ports import UnitOfWork


MEMORY: Final = ":memory:"
_DSN_SCHEMES: Final = ("postgresql://", "postgres://")


def is_dsn(target: str) -> bool:
    """Whether `target` names a PostgreSQL database."""
    return target.startswith(_DSN_SCHEMES)


def database_option(text: str) -> str:
    """`--db`'s value, checked as argparse's `type=`.

    Raises:
        argparse.ArgumentTypeError: `text` is empty, or a file path that is
            a directory or lies in no directory (bad usage, before any run).
    """
    # SQLite reads "" as a private database per connection: nothing would
    # be kept, and simulate's workers would each see their own.
    if not text:
        raise argparse.ArgumentTypeError("empty: give a file path, :memory: or a DSN")
    if text != MEMORY and not is_dsn(text):
        path = Path(text)
        if path.is_dir():
            raise argparse.ArgumentTypeError(f"{text} is a directory; give a file name")
        if not path.parent.is_dir():
            raise argparse.ArgumentTypeError(f"there is no directory {path.parent}")
    return text


def describe(target: str | None) -> str:
    """The database as the summary names it, without a DSN's password.

    A DSN loses its user part (`user:password@`) and any `password`
    parameter of its query.
    """
    if target is None:
        return "temporary SQLite file"
    if is_dsn(target):
        parts = urlsplit(target)
        query = [
            (name, value)
            for name, value in parse_qsl(parts.query, keep_blank_values=True)
            if name.lower() != "password"
        ]
        host = parts.netloc.rpartition("@")[2]
        return urlunsplit((parts.scheme, host, parts.path, urlencode(query), ""))
    return target


def _postgres() -> Callable[[str], UnitOfWork]:
    try:
        module = importlib.import_module("orderkit.adapters.postgres")
    except ImportError as error:
        missing = isinstance(error, ModuleNotFoundError)
        hint = "; pip install 'orderkit[postgres]'" if missing else ""
        raise ConfigurationError(
            "db", f"PostgreSQL support cannot be loaded: {error}{hint}"
        ) from error
    return cast("Callable[[str], UnitOfWork]", module.PostgresUnitOfWork)


@final
class Database:
    """Opens units of work over the database that `target` names.

    Args:
        target: A SQLite file path, `":memory:"`, or a PostgreSQL DSN.

    Raises:
        ConfigurationError: A DSN, and PostgreSQL support is not installed.
        StoreError: The database cannot be opened.
    """

    def __init__(self, target: str) -> None:
        """Open the database (a SQLite file is created if it is new)."""
        self.target = target
        self._shared: UnitOfWork | None = None
        self._opened: list[UnitOfWork] = []
        if target == MEMORY:
            # An in-memory database lives in its connection: one unit of
            # work holds it, and every user of the database shares that unit.
            self._shared = SqliteUnitOfWork(MEMORY)
            self._factory: Callable[[str], UnitOfWork] | None = None
        elif is_dsn(target):
            self._factory = _postgres()
        else:
            self._factory = SqliteUnitOfWork

    @property
    def shareable(self) -> bool:
        """Whether other processes can open the same database."""
        return self._shared is None

    def open(self) -> UnitOfWork:
        """A unit of work over the database (the same one, for memory)."""
        if self._shared is not None:
            return self._shared
        assert self._factory is not None  # noqa: S101 - set whenever not shared
        unit = self._factory(self.target)
        self._opened.append(unit)
        return unit

    def close(self) -> None:
        """Close every unit this opened (the in-memory database goes with it)."""
        for unit in self._opened:
            _close(unit)
        self._opened.clear()
        if self._shared is not None:
            _close(self._shared)
            self._shared = None


def _close(unit: UnitOfWork) -> None:
    close = getattr(unit, "close", None)
    if callable(close):
        close()


def file_in(directory: str) -> str:
    """The SQLite file a run creates in `directory`."""
    return os.path.join(directory, "orderkit-simulate.db")  # noqa: PTH118 - a str for the target
