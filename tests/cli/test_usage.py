"""The command line's surface: help, one-line errors with exit code 2, progress."""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import sqlite3
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import pendulum
import pytest
from hypothesis import given
from hypothesis import strategies as st

from orderkit.cli import main
from orderkit.cli._backends import (
    Database,
    database_option,
    describe,
    dsn_problem,
    is_dsn,
)
from orderkit.cli._progress import ProgressBar, wanted
from orderkit.cli._run import _stock


EVENTS = Path(__file__).parents[1] / "fixtures" / "cli" / "events.jsonl"


class TestHelp:
    def test_top_level_help_names_the_command(
        self, capsys: pytest.CaptureFixture[str]
    ) -> None:
        assert main(["--help"]) == 0
        out = capsys.readouterr().out
        assert "simulate" in out
        assert "orderkit simulate --help" in out
        assert "examples:" in out

    def test_simulate_help_explains_options_with_examples(
        self, capsys: pytest.CaptureFixture[str]
    ) -> None:
        assert main(["simulate", "--help"]) == 0
        out = capsys.readouterr().out
        for option in (
            "--orders",
            "--seed",
            "--workers",
            "--db",
            "--json",
            "--duplicate-rate",
            "--carrier-timeout-rate",
            "--return-rate",
        ):
            assert option in out, option
        assert "examples:" in out
        assert "orderkit simulate --orders 20000 --workers 2 --json" in out
        assert "exit codes" in out


class TestBadUsage:
    @pytest.mark.parametrize(
        "args",
        [
            [],
            ["bogus"],
            ["simulate", "--orders", "0"],
            ["simulate", "--orders", "many"],
            ["simulate", "--workers", "0"],
            ["simulate", "--duplicate-rate", "1.5"],
            ["simulate", "--abuser-rate", "nan"],
            ["simulate", "--no-such-option"],
            ["replay", str(EVENTS), "--no-such-option"],
            ["simulate", "--workers", "2", "--db", ":memory:"],
            ["simulate", "--workers", "2", "--db", ""],
            ["replay", str(EVENTS), "--db", ""],  # nothing would be kept
        ],
    )
    def test_exits_2_with_one_line_on_stderr(
        self, args: list[str], capsys: pytest.CaptureFixture[str]
    ) -> None:
        assert main(args) == 2
        out, err = capsys.readouterr()
        assert out == ""
        assert err.count("\n") == 1
        assert "error:" in err

    @pytest.mark.parametrize("command", ["simulate", "reconcile", "replay"])
    def test_an_unknown_option_is_named_by_its_command(
        self, command: str, capsys: pytest.CaptureFixture[str]
    ) -> None:
        # Its command's help is the one that lists the options it has.
        files = {"simulate": [], "reconcile": ["o.jsonl", "s.csv"], "replay": ["e"]}
        assert main([command, *files[command], "--bogus"]) == 2
        err = capsys.readouterr().err
        assert err == (
            f"orderkit {command}: error: unrecognized arguments: --bogus (see --help)\n"
        )

    def test_a_database_holding_stock_only_is_refused(
        self, capsys: pytest.CaptureFixture[str], tmp_path: Path
    ) -> None:
        """A run stopped before its first order: its stock is not this day's."""
        db = str(tmp_path / "stocked.db")
        database = Database(db)
        try:
            _stock(database.open(), 10)
        finally:
            database.close()
        assert main(["simulate", "--orders", "20", "--db", db]) == 2
        out, err = capsys.readouterr()
        assert out == ""
        assert err.count("\n") == 1
        assert "holds stock already" in err


class TestUnforeseen:
    @pytest.mark.parametrize(
        ("command", "where"),
        [
            (["reconcile", "orders.jsonl", "bill.csv"], "_reconcile.load_orders"),
            (["replay", "events.jsonl"], "_replay._read"),
        ],
    )
    def test_an_unexpected_error_is_one_line_and_exit_3(
        self,
        capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch,
        command: list[str],
        where: str,
    ) -> None:
        def broken(*_args: object) -> None:
            raise KeyError("a bug")

        monkeypatch.setattr(f"orderkit.cli.{where}", broken)
        assert main(command) == 3
        out, err = capsys.readouterr()
        assert out == ""
        assert err == f"orderkit {command[0]}: failed: KeyError: 'a bug'\n"


@pytest.mark.parametrize(
    "dsn",
    [
        "postgresql://orderkit:s3cr3t@db.example:5432/shop",
        "postgresql://db.example/shop?user=orderkit&password=s3cr3t&sslmode=require",
        "postgres://db.example/shop?PASSWORD=s3cr3t",
    ],
)
def test_the_summary_names_a_dsn_without_its_password(dsn: str) -> None:
    named = describe(dsn)
    assert "s3cr3t" not in named
    assert "db.example" in named
    assert "shop" in named


KEY_VALUE_DSN = "host=127.0.0.1 port=1 dbname=shop user=orderkit password=s3cr3t"


def test_a_key_value_dsn_goes_to_postgresql_and_keeps_its_password(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """libpq's `host=... password=...` form is a DSN, not a SQLite file name."""
    monkeypatch.chdir(tmp_path)
    # Port 1 refuses at once; without psycopg, the DSN fails to load.
    code = main(["simulate", "--orders", "3", "--json", "--db", KEY_VALUE_DSN])
    out, err = capsys.readouterr()
    assert code == 3, err
    assert out == ""
    assert len(err.splitlines()) == 1
    assert "s3cr3t" not in err
    assert list(tmp_path.iterdir()) == []  # no SQLite file of that name
    assert describe(KEY_VALUE_DSN) == "host=127.0.0.1 port=1 dbname=shop user=orderkit"


@pytest.mark.parametrize(
    ("dsn", "text"),
    [
        ("host=db.example dbname=shop", True),
        ("  dbname = shop", True),
        ("postgres://db.example/shop", True),
        ("day=1.db", False),
        ("./host=db.example", False),
        ("shop.db", False),
    ],
)
def test_a_dsn_is_told_from_a_file_name(dsn: str, *, text: bool) -> None:
    assert is_dsn(dsn) is text


@pytest.mark.parametrize(
    ("dsn", "says"),
    [
        ("postgresql://u:s3cr3t@[::1/shop", "IPv6"),
        ("postgresql://u:s3cr3t%zz@db.example/shop", "percent"),
        ("postgresql://u:s3cr3t@db.example/shop?colour=red", "colour"),
        ("postgresql://u:s3cr3t@db.example:54x2/shop", "port"),
        ("postgresql://u:s3cr3t@db.example:99999/shop", "port"),
        ("postgresql://u:s3/cr3t@db.example/shop", "port"),
        ("host=db.example port=5432x password=s3cr3t", "port"),
        ("host=db.example colour=red password=s3cr3t", "colour"),
        ("host=db.example password='s3cr3t", "quoted"),
        ('host=db.example password=pw s3"cr3t dbname=x', "missing"),
        ('host=db.example password=pw a"b"s3cr3t', "missing"),
        ("postgresql://u:s3cr3t@db.example:²/shop", "port"),
        ("host=db.example password=s3cr3t port=①", "port"),
        ("postgresql://db.example/shop?password=s3cr3t@pw&bogus=1", "bogus"),
        ("host=db.example Password=s3cr3t dbname=shop", "Password"),
        ("host=db.example passwd=s3cr3t", "passwd"),
    ],
)
def test_a_malformed_dsn_is_bad_usage_without_its_password(
    dsn: str,
    says: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.chdir(tmp_path)
    for command in (["simulate", "--orders", "3"], ["replay", str(EVENTS)]):
        assert main([*command, "--db", dsn]) == 2
        out, err = capsys.readouterr()
        assert out == ""
        assert len(err.splitlines()) == 1
        assert "s3cr3t" not in err
        assert "cr3t" not in err
        if "postgresql" in err or "host=" in err:  # psycopg may be absent
            assert says in err or "cannot be parsed" in err, err
    assert list(tmp_path.iterdir()) == []


_SECRET = st.text(
    st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), min_size=1
).map(lambda text: f"Pw~{text}")
"""A password no host, database or message happens to contain."""


@given(password=_SECRET)
def test_no_form_of_dsn_shows_its_password(password: str) -> None:
    escaped = quote(password, safe="")
    quoted = "'" + password.replace("\\", "\\\\").replace("'", "\\'") + "'"
    dsns = [
        f"postgresql://orderkit:{escaped}@db.example:5432/shop",
        f"postgresql://db.example/shop?sslmode=require&password={escaped}",
        f"postgresql://orderkit:{password}@db.example/shop",  # not escaped
        f"host=db.example dbname=shop password={quoted} sslmode=require",
        f"host=db.example password={password}",  # not quoted
        f"postgresql://db.example/shop?password={password}&sslmode=require",
        f"postgresql://orderkit:{escaped}@db.example:²/shop",  # a bad port
        f"host=db.example password={password} port=①",
    ]
    for dsn in dsns:
        try:
            database_option(dsn)
        except argparse.ArgumentTypeError as error:
            refused = str(error)
        else:
            refused = ""
        shown = f"{describe(dsn)} {dsn_problem(dsn) or ''} {refused}"
        for secret in {password, escaped, password.partition(" ")[0]}:
            assert secret not in shown, dsn


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


class TestProgress:
    def test_drawn_on_a_terminal_and_erased(self) -> None:
        stream = _Terminal()
        ticks = iter([0.0, 1.0, 2.0, 2.05, 3.0])
        bar = ProgressBar(200, stream, clock=lambda: next(ticks))
        bar(50, pendulum.datetime(2026, 11, 10, 16, 5))
        bar(100, pendulum.datetime(2026, 11, 10, 17))
        bar(101, pendulum.datetime(2026, 11, 10, 17))  # throttled
        drawn = stream.getvalue()
        assert " 25% 50/200 orders  11-11 00:05 Shanghai" in drawn
        assert " 50% 100/200" in drawn
        assert "101/200" not in drawn
        bar.close()
        assert stream.getvalue().endswith("\r")
        assert "\n" not in stream.getvalue()

    @pytest.mark.parametrize("columns", [80, 60, 40, 24])
    def test_fits_the_terminal_s_width(
        self, monkeypatch: pytest.MonkeyPatch, columns: int
    ) -> None:
        """A line as wide as the terminal wraps, and `\\r` redraws only its end."""
        monkeypatch.setenv("COLUMNS", str(columns))
        stream = _Terminal()
        ticks = iter([0.0, 1.0, 2.0, 3.0])
        bar = ProgressBar(123_456, stream, clock=lambda: next(ticks))
        bar(1_000, pendulum.datetime(2026, 11, 10, 16, 5))
        bar(123_456, pendulum.datetime(2026, 11, 11, 15, 55))
        bar.close()
        lines = stream.getvalue().split("\r")
        assert all(len(line) < columns for line in lines), lines
        assert "123,456/123,456 orders" in stream.getvalue() or columns < 40

    def test_only_on_a_terminal_and_never_with_json(self) -> None:
        assert wanted(_Terminal(), json_output=False)
        assert not wanted(_Terminal(), json_output=True)
        assert not wanted(io.StringIO(), json_output=False)

    def test_absent_when_stderr_is_not_a_terminal(self) -> None:
        command = ["simulate", "--orders", "40", "--db", ":memory:", "--json"]
        done = subprocess.run(  # noqa: S603 - our own interpreter and code
            [sys.executable, "-m", "orderkit.cli", *command],
            capture_output=True,
            text=True,
            check=False,
            timeout=120,
        )
        assert done.returncode == 0, done.stderr
        assert done.stderr == ""
        assert json.loads(done.stdout)["orders_generated"] == 40


@pytest.mark.parametrize(
    ("command", "where", "says"),
    [
        ("simulate", "missing/day.db", "there is no directory"),
        ("simulate", ".", "is a directory"),
        ("replay", "missing/day.db", "there is no directory"),
    ],
)
def test_a_database_path_that_cannot_be_opened_is_bad_usage(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    command: str,
    where: str,
    says: str,
) -> None:
    first = ["--orders", "50"] if command == "simulate" else [str(EVENTS)]
    code = main([command, *first, "--db", str(tmp_path / where)])
    out, err = capsys.readouterr()
    assert code == 2
    assert out == ""
    assert says in err
    assert len(err.strip().splitlines()) == 1


def _db_command(command: str) -> list[str]:
    return [command, *(["--orders", "20"] if command == "simulate" else [str(EVENTS)])]


@pytest.mark.parametrize("command", ["simulate", "replay"])
@pytest.mark.parametrize(
    "content", ["order_id,amount\nTB-1,1.00\n", "SQLite"], ids=["csv", "short"]
)
def test_a_database_file_that_is_not_sqlite_is_bad_usage(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], command: str, content: str
) -> None:
    """Named with its path before the run, not SQLite's "file is not a database"."""
    kept = tmp_path / "orders.csv"
    kept.write_text(content, encoding="utf-8")
    code = main([*_db_command(command), "--db", str(kept)])
    out, err = capsys.readouterr()
    assert code == 2
    assert out == ""
    assert f"error: argument --db: {kept} is not a SQLite database" in err
    assert len(err.strip().splitlines()) == 1
    assert kept.read_text(encoding="utf-8") == content
    assert list(tmp_path.iterdir()) == [kept]


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="/proc is Linux's")
@pytest.mark.parametrize("command", ["simulate", "replay"])
def test_a_database_path_no_file_can_be_made_in_is_bad_usage(
    capsys: pytest.CaptureFixture[str], command: str
) -> None:
    """/proc refuses a new file even to root, as a read-only directory would."""
    code = main([*_db_command(command), "--db", "/proc/orderkit-day.db"])
    out, err = capsys.readouterr()
    assert code == 2
    assert out == ""
    assert "error: argument --db: /proc/orderkit-day.db cannot be written:" in err
    assert len(err.strip().splitlines()) == 1


@contextlib.contextmanager
def _unprivileged() -> Iterator[None]:
    """Within, this process is refused what the permissions refuse, even as root.

    Root may write in a read-only directory: as root, the effective user is
    nobody (65534) within, and root again after (the saved user id stays
    root's), so that the test runs, and means the same, either way.
    """
    if os.geteuid() != 0:
        yield
        return
    os.seteuid(65534)
    try:
        yield
    finally:
        os.seteuid(0)


@pytest.mark.skipif(os.name != "posix", reason="POSIX permissions")
@pytest.mark.parametrize("command", ["simulate", "replay"])
@pytest.mark.parametrize(
    "where",
    ["locked/day.db", "locked/kept.db", "kept-read-only.db"],
    ids=["new-in-read-only-directory", "kept-in-read-only-directory", "read-only"],
)
def test_a_database_path_the_user_cannot_write_is_bad_usage(
    capsys: pytest.CaptureFixture[str], command: str, where: str
) -> None:
    """Refused before the run with the path and the reason, not SQLite's words.

    A kept database in a read-only directory is refused too: SQLite
    writes its -wal and -shm files beside it.
    """
    # Not tmp_path: pytest's directories are closed to other users.
    with tempfile.TemporaryDirectory() as directory:
        top = Path(directory)
        top.chmod(0o777)
        locked = top / "locked"
        locked.mkdir()
        kept = (locked / "kept.db", top / "kept-read-only.db")
        for path in kept:
            with contextlib.closing(sqlite3.connect(path)) as connection:
                connection.execute("CREATE TABLE kept (n INTEGER)")
                connection.commit()
        kept[0].chmod(0o666)
        kept[1].chmod(0o444)
        before = {path: path.read_bytes() for path in kept}
        locked.chmod(0o555)
        db = str(top / where)
        try:
            with _unprivileged():
                code = main([*_db_command(command), "--db", db])
        finally:
            locked.chmod(0o755)
        out, err = capsys.readouterr()
        assert code == 2
        assert out == ""
        assert err == (
            f"orderkit {command}: error: argument --db: {db} cannot be written:"
            " Permission denied (see --help)\n"
        )
        assert sorted(path.name for path in locked.iterdir()) == ["kept.db"]
        assert {path: path.read_bytes() for path in kept} == before
