"""The ORDERS argument of `orderkit reconcile`: a JSON file or a SQLite database.

A JSON file holds orders as `orderkit.serialization` writes them: a JSON
array of orders, one order, or JSON Lines (one order per line). A file
that starts with SQLite's header is an orderkit SQLite database, such as
the one `orderkit simulate --db day.db` keeps; it is read from a copy, so
that opening it (which creates any missing tables) never changes the
user's file, not even a SQLite file of some other program.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import Final

from orderkit.adapters.sqlite import SqliteUnitOfWork, holds_orders
from orderkit.cli._jsonlines import NotJson, items
from orderkit.errors import StoreError, StructureError
from orderkit.orders import Order
from orderkit.serialization import make_converter


SQLITE_HEADER: Final = b"SQLite format 3\x00"
_PAGE: Final = 500


class InputError(Exception):
    """An input file that cannot be used at all (exit code 2)."""


def read_bytes(path: str, what: str) -> bytes:
    """The file's bytes, or an `InputError` that says why not in one line."""
    try:
        return Path(path).read_bytes()
    except FileNotFoundError:
        raise InputError(f"{what} {path}: no such file") from None
    except IsADirectoryError:
        raise InputError(f"{what} {path}: is a directory, not a file") from None
    except OSError as error:
        raise InputError(f"{what} {path}: cannot read it: {error.strerror}") from None


def utf8(data: bytes, what: str, path: str) -> str:
    """The text of a file that JSON requires to be UTF-8 (a BOM is allowed)."""
    bom = 3 if data.startswith(b"\xef\xbb\xbf") else 0
    try:
        return data[bom:].decode("utf-8")
    except UnicodeDecodeError as error:
        # Counted in the file, byte order mark included.
        raise InputError(
            f"{what} {path}: not UTF-8 text (byte {bom + error.start + 1})"
        ) from None


def load_orders(path: str) -> tuple[tuple[Order, ...], str]:
    """The orders in `path`, and what the file was (`"JSON"`, `"SQLite"`).

    Raises:
        InputError: The file is missing, not JSON or a database, or an
            order in it cannot be read (its line and field are named).
    """
    data = read_bytes(path, "ORDERS")
    if data.startswith(SQLITE_HEADER):
        return _from_sqlite(path), "SQLite"
    text = utf8(data, "ORDERS", path)
    converter = make_converter()
    orders: list[Order] = []
    try:
        for item in items(text):
            if item.error is not None:
                raise InputError(f"ORDERS {path} line {item.line}: {item.error}")
            try:
                orders.append(converter.structure(item.value, Order))
            except StructureError as error:
                where = f"{error.field}: " if error.field else ""
                raise InputError(
                    f"ORDERS {path} line {item.line}: {where}{error.problem}"
                ) from None
    except NotJson as error:
        raise InputError(f"ORDERS {path} {error}") from None
    if not text.strip():
        # Every statement line would be reported missing from no orders at all.
        raise InputError(f"ORDERS {path}: empty; a file of no orders says [] instead")
    return tuple(orders), "JSON"


def _from_sqlite(path: str) -> tuple[Order, ...]:
    with tempfile.TemporaryDirectory(prefix="orderkit-reconcile-") as directory:
        copy = Path(directory) / "orders.db"
        _copy(Path(path), copy)
        # Committed pages still in the write-ahead log belong to the database.
        wal = Path(f"{path}-wal")
        if wal.exists():
            _copy(wal, Path(f"{copy}-wal"))
        if not holds_orders(copy):
            raise InputError(
                f"ORDERS {path}: not an orderkit database (no orders table)"
            )
        try:
            unit = SqliteUnitOfWork(copy)
        except StoreError as error:
            raise InputError(
                f"ORDERS {path}: not an orderkit database: {error}"
            ) from None
        try:
            return _all_orders(unit)
        except StoreError as error:
            raise InputError(
                f"ORDERS {path}: cannot read its orders: {error}"
            ) from None
        finally:
            unit.close()


def _copy(source: Path, target: Path) -> None:
    try:
        shutil.copyfile(source, target)
    except OSError as error:
        # A -wal that is a directory, or that this user may not read.
        raise InputError(
            f"ORDERS {source}: cannot read it: {error.strerror or error}"
        ) from None


def _all_orders(unit: SqliteUnitOfWork) -> tuple[Order, ...]:
    found: list[Order] = []
    after: tuple[str, str] | None = None
    with unit as uow:
        while True:
            page = uow.orders.orders(after=after, limit=_PAGE)
            found.extend(page)
            if len(page) < _PAGE:
                return tuple(found)
            after = (page[-1].channel, page[-1].order_id)
