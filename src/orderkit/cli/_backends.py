"""Where a simulation keeps its stores: a SQLite file, SQLite in memory, PostgreSQL.

`Database(target)` opens units of work over one database. A path is a
SQLite file that every worker process opens for itself; `":memory:"` is one
SQLite connection, in this process only; a PostgreSQL DSN (a
`postgresql://` URI or libpq's `key=value` form) goes to
`orderkit.adapters.postgres`, imported only then, so that neither the
module nor psycopg is needed for the other two.
"""

from __future__ import annotations

import argparse
import importlib
import os
import re
from collections.abc import Callable
from pathlib import Path
from typing import Final, cast, final
from urllib.parse import parse_qsl, quote, urlencode

from orderkit.adapters.sqlite import SqliteUnitOfWork
from orderkit.cli._order_files import SQLITE_HEADER
from orderkit.cli._writable import write_problem
from orderkit.errors import ConfigurationError
from orderkit.ports import UnitOfWork


MEMORY: Final = ":memory:"
_DSN_SCHEMES: Final = ("postgresql://", "postgres://")
_KEYWORDS: Final = frozenset({
    "application_name", "channel_binding", "client_encoding", "connect_timeout",
    "dbname", "fallback_application_name", "gssdelegation", "gssencmode", "gsslib",
    "host", "hostaddr", "keepalives", "keepalives_count", "keepalives_idle",
    "keepalives_interval", "krbsrvname", "load_balance_hosts", "max_protocol_version",
    "min_protocol_version", "oauth_client_id", "oauth_client_secret", "oauth_issuer",
    "oauth_scope", "options", "passfile", "password", "port", "replication",
    "require_auth", "requirepeer", "requiressl", "scram_client_key",
    "scram_server_key", "service", "ssl", "ssl_max_protocol_version",
    "ssl_min_protocol_version", "sslcert", "sslcertmode", "sslcompression", "sslcrl",
    "sslcrldir", "sslkey", "sslmode", "sslnegotiation", "sslpassword", "sslrootcert",
    "sslsni", "target_session_attrs", "tcp_user_timeout", "user",
})  # fmt: skip
"""libpq's connection keywords (PostgreSQL 18), and `ssl`, which its URIs accept."""
_SECRETS: Final = frozenset({
    "password", "sslpassword", "oauth_client_secret", "scram_client_key",
    "scram_server_key",
})  # fmt: skip
_SHOWN: Final = _KEYWORDS - _SECRETS
_KEY_VALUE: Final = re.compile(r"\s*([A-Za-z_]+)\s*=")
_BAD_ESCAPE: Final = re.compile(r"%(?![0-9A-Fa-f]{2})")
_QUOTED: Final = re.compile(r'"([^"]*)"')
_PAIR_KEY: Final = re.compile(r"([^\s=]+)\s*=\s*")
_MAX_PORT: Final = 65535


def is_dsn(target: str) -> bool:
    """Whether `target` names a PostgreSQL database.

    A `postgresql://` (or `postgres://`) URI, or libpq's key/value form:
    text that starts with one of libpq's keywords and `=`, such as
    `host=db.example dbname=shop` (a SQLite file of such a name is
    written `./host=...`).
    """
    if target.startswith(_DSN_SCHEMES):
        return True
    first = _KEY_VALUE.match(target)
    return first is not None and first.group(1) in _KEYWORDS


def database_option(text: str) -> str:
    """`--db`'s value, checked as argparse's `type=`.

    Raises:
        argparse.ArgumentTypeError: `text` is empty, a DSN that cannot be
            read (named without its password), or a file path that is a
            directory, lies in no directory, is an existing file that is
            not a SQLite database, or cannot be written, it or its
            directory (bad usage, before any run).
    """
    # SQLite reads "" as a private database per connection: nothing would
    # be kept, and simulate's workers would each see their own.
    if not text:
        raise argparse.ArgumentTypeError("empty: give a file path, :memory: or a DSN")
    if is_dsn(text):
        try:
            problem = dsn_problem(text)
        except Exception:  # noqa: BLE001 - argparse would echo the DSN whole
            problem = "it cannot be read"
        if problem is not None:
            raise argparse.ArgumentTypeError(
                f"{describe(text)} is not a valid PostgreSQL DSN: {problem}"
            )
    elif text != MEMORY:
        problem = _sqlite_problem(text)
        if problem is not None:
            raise argparse.ArgumentTypeError(f"{text} {problem}")
    return text


def _sqlite_problem(path: str) -> str | None:
    """Why SQLite cannot keep a database at `path`, as words to follow it, or None.

    An existing file must be a SQLite database (SQLite takes an empty file
    for a new one); the file, and its directory, must be writable.
    """
    target = Path(path)
    if target.exists() and not target.is_dir():
        if not target.is_file():
            # A FIFO or a device: reading its header could wait for ever.
            return "is not a regular file; give a SQLite file"
        try:
            with target.open("rb") as file:
                header = file.read(len(SQLITE_HEADER))
        except OSError as error:
            return f"cannot be read: {error.strerror or type(error).__name__}"
        if header and header != SQLITE_HEADER:
            return "is not a SQLite database; give a new file or a SQLite database"
    return write_problem(path, new_files=True)


def dsn_problem(dsn: str) -> str | None:
    """What makes `dsn` unreadable, without any of its values; None if nothing.

    libpq (through psycopg, when it is installed) reads the DSN as it would
    to connect, without connecting; the port is checked here, since libpq
    only checks it when it connects.
    """
    try:
        conninfo = importlib.import_module("psycopg.conninfo")
    except ImportError:
        # No libpq here: check what can be checked without it; connecting
        # fails anyway, saying that PostgreSQL support is not installed.
        pairs = _uri_pairs(dsn) if dsn.startswith(_DSN_SCHEMES) else _pairs(dsn)
        if pairs is None:
            return "it cannot be parsed"
        unknown = sorted({key for key, _ in pairs} - _KEYWORDS)
        if unknown:
            return f"unknown parameter {unknown[0]!r}"
    else:
        try:
            parsed = conninfo.conninfo_to_dict(dsn)
        except Exception as error:  # noqa: BLE001 - psycopg's errors, whatever they are
            return _scrub(str(error).strip().splitlines()[0], dsn)
        pairs = [(str(key), str(value)) for key, value in parsed.items()]
    for key, value in pairs:
        if key == "port" and not all(map(_is_port, value.split(","))):
            return "the port is not a number from 1 to 65535"
    return None


def _is_port(text: str) -> bool:
    text = text.strip()
    # isascii: "²" is a digit to isdigit() and not to int().
    return not text or (
        text.isascii() and text.isdigit() and 1 <= int(text) <= _MAX_PORT
    )


def _scrub(message: str, dsn: str) -> str:
    """The message of libpq cut before the first piece of `dsn` it quotes.

    libpq quotes what it cannot read, which may be a password, and a quote
    inside the password pairs its quotes wrongly. A quoted piece stays only
    if it is one punctuation mark (`"="`, `"]"`) or a name `dsn` uses as a
    key (`"colour"` in `colour=red`); the message ends at the first other
    one, and so says nothing of what follows it.
    """
    parts = message.split('"')
    kept = [parts[0]]
    for index in range(1, len(parts) - 1, 2):
        piece = parts[index]
        as_key = re.search(rf"(?:^|[\s?&]){re.escape(piece)}\s*=", dsn)
        mark = len(piece) == 1 and not piece.isalnum()
        if not mark and not (piece.isidentifier() and as_key is not None):
            kept.append('"..."')
            break
        kept += ['"', piece, '"', parts[index + 1]]
    return "".join(kept).rstrip()


def _pairs(text: str) -> list[tuple[str, str]] | None:
    """The `key = value` pairs of libpq's key/value form, or None if malformed."""
    pairs: list[tuple[str, str]] = []
    index, end = 0, len(text)
    while True:
        while index < end and text[index].isspace():
            index += 1
        if index == end:
            return pairs
        match = _PAIR_KEY.match(text, index)
        if match is None:
            return None
        index = match.end()
        quoted = index < end and text[index] == "'"
        index += quoted
        value: list[str] = []
        while index < end and (quoted or not text[index].isspace()):
            char = text[index]
            if quoted and char == "'":
                break
            if char == "\\" and index + 1 < end:
                index += 1
                char = text[index]
            value.append(char)
            index += 1
        if quoted:
            if index == end:
                return None
            index += 1
        pairs.append((match.group(1), "".join(value)))


def _uri_pairs(uri: str) -> list[tuple[str, str]] | None:
    """A URI's query parameters, and its port, or None if it cannot be read."""
    if _BAD_ESCAPE.search(uri):
        return None
    head, _, query = uri.partition("://")[2].partition("?")
    hosts = head.rpartition("@")[2].partition("/")[0]
    ports = [
        host.rpartition("]")[2].rpartition(":")[2] if ":" in host else ""
        for host in hosts.split(",")
    ]
    pairs = parse_qsl(query, keep_blank_values=True)
    return [*pairs, ("port", ",".join(ports))]


def describe(target: str | None) -> str:
    """The database as the summary names it, without a DSN's password.

    A URI is named by its hosts, ports, database and parameters as libpq
    reads them, less its user part and its `password` (and other secret)
    parameters; a key/value DSN loses its secret pairs, and a key libpq
    does not know shows no value. A DSN that cannot be read keeps no more
    than what is surely no secret.
    """
    if target is None:
        return "temporary SQLite file"
    if target.startswith(_DSN_SCHEMES):
        return _described_uri(target)
    if is_dsn(target):
        pairs = _pairs(target)
        if pairs is None:
            keys = re.findall(r"([A-Za-z_]+)\s*=", target)
            return " ".join(f"{key}=..." for key in keys if key in _SHOWN)
        # A key libpq does not know may be a password mistyped (`Password`,
        # `passwd`): only a known key that is no secret shows its value.
        return " ".join(
            f"{key}={_quote(value)}" if key in _SHOWN else f"{key}=..."
            for key, value in pairs
            if key not in _SECRETS
        )
    return target


def _described_uri(uri: str) -> str:
    # Read as libpq reads it: where the user part ends is libpq's call (an
    # "@" may sit in a password, in the user part or in the query).
    scheme = uri.partition("://")[0]
    try:
        conninfo = importlib.import_module("psycopg.conninfo")
        parsed = conninfo.conninfo_to_dict(uri)
    except Exception:  # noqa: BLE001 - no psycopg, or a URI libpq refuses
        # Without a user part anywhere, what comes before the query is hosts
        # and database; with one, any of it may be the password.
        head = uri.partition("?")[0]
        return f"{scheme}://..." if "@" in uri else head
    params = {
        str(key): str(value)
        for key, value in parsed.items()
        if key not in _SECRETS and key != "user"
    }
    # An "@" libpq did not take as the end of a user part, or that is left
    # in a value, may end a password that runs into a host, port or name.
    if "@" in uri and ("user" not in parsed or "@" in "".join(params.values())):
        return f"{scheme}://..."
    hosts = params.pop("host", "").split(",")
    ports = params.pop("port", "").split(",")
    ports += [ports[-1]] * (len(hosts) - len(ports))
    netloc = ",".join(
        (f"[{host}]" if ":" in host else host) + (f":{port}" if port else "")
        for host, port in zip(hosts, ports, strict=False)
    )
    path = quote(params.pop("dbname", ""), safe="")
    query = f"?{urlencode(params)}" if params else ""
    return f"{scheme}://{netloc}/{path}{query}"


def _quote(value: str) -> str:
    if value and not re.search(r"[\s'\\]", value):
        return value
    escaped = value.replace("\\", "\\\\").replace("'", "\\'")
    return f"'{escaped}'"


def redact(message: str, target: str | None) -> str:
    """`message` with the DSN `target` in it named as `describe` names it."""
    if target is None or not is_dsn(target) or target not in message:
        return message
    return message.replace(target, describe(target))


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
