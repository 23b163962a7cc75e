"""`orderkit simulate --workers K` as processes: none is left behind, none hangs.

Each test runs the command in a session of its own, finds its worker
processes under /proc, and kills the whole session if the command outlives
its timeout, so that a regression fails the test instead of hanging it.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest


pytestmark = pytest.mark.skipif(
    not Path("/proc/self/stat").exists(), reason="finds processes under /proc"
)

TIMEOUT = 60.0
"""Far more than a run of 300 orders takes: reaching it is a hang."""


def _stat(pid: int) -> list[str] | None:
    try:
        text = Path(f"/proc/{pid}/stat").read_text(encoding="utf-8")
    except OSError:
        return None
    # The command name, in parentheses, may hold spaces.
    return text.rpartition(")")[2].split()


def _alive(pid: int) -> bool:
    fields = _stat(pid)
    return fields is not None and fields[0] != "Z"


def _workers(parent: int) -> list[int]:
    """The worker processes `parent` started (not its resource tracker)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        fields = _stat(int(entry.name))
        if fields is None or fields[1] != str(parent):
            continue
        try:
            command = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        if b"spawn_main" in command:
            found.append(int(entry.name))
    return found


def _wait_for(condition: object, what: str, timeout: float = TIMEOUT) -> None:
    deadline = time.monotonic() + timeout
    while not condition():  # type: ignore[operator]
        if time.monotonic() > deadline:
            pytest.fail(f"{what}: not within {timeout:.0f} s")
        time.sleep(0.05)


@pytest.fixture
def run(
    tmp_path: Path, request: pytest.FixtureRequest
) -> Iterator[subprocess.Popen[str]]:
    """`orderkit simulate --workers 2` in a session of its own, killed after.

    300 orders, or as many as the test's indirect parameter says.
    """
    orders = getattr(request, "param", 300)
    command = [
        *(sys.executable, "-m", "orderkit.cli", "simulate", "--orders", str(orders)),
        *("--workers", "2", "--db", str(tmp_path / "day.db")),
    ]
    process = subprocess.Popen(  # noqa: S603 - our own interpreter and code
        command,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        yield process
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.communicate()


def _two_workers(process: subprocess.Popen[str]) -> list[int]:
    found: list[int] = []

    def started() -> bool:
        found[:] = _workers(process.pid)
        return len(found) == 2

    _wait_for(started, "the two workers start")
    return found


def _finish(process: subprocess.Popen[str]) -> tuple[str, str]:
    try:
        return process.communicate(timeout=TIMEOUT)
    except subprocess.TimeoutExpired:
        pytest.fail(f"the command still runs (or its pipes are open) {TIMEOUT} s on")


def test_a_worker_killed_without_a_report_fails_the_run(
    run: subprocess.Popen[str],
) -> None:
    """The OOM killer's SIGKILL: the others must not wait for it forever."""
    worker = _two_workers(run)[-1]
    os.kill(worker, signal.SIGKILL)
    out, err = _finish(run)
    assert run.returncode == 3, err
    assert out == ""
    assert len(err.splitlines()) == 1, err
    assert err.startswith("orderkit simulate: failed: worker ")
    assert "ended without a report (exit code -9, killed by SIGKILL)" in err


def test_sigterm_ends_the_workers_with_the_command(
    run: subprocess.Popen[str],
) -> None:
    """What `timeout`, systemd and `docker stop` send: exit 143, no orphans."""
    workers = _two_workers(run)
    time.sleep(0.5)  # let them start on the day
    run.send_signal(signal.SIGTERM)
    out, err = _finish(run)
    assert run.returncode == 143
    assert (out, err) == ("", "orderkit simulate: terminated\n")
    _wait_for(lambda: not any(map(_alive, workers)), "the workers end", timeout=10)


# A day far longer than the wait below: the workers must not live it out.
@pytest.mark.parametrize("run", [5_000], indirect=True, ids=["5000-orders"])
def test_workers_stop_when_their_parent_is_killed(
    run: subprocess.Popen[str],
) -> None:
    """SIGKILL cannot be handled: the workers notice they are alone and stop."""
    workers = _two_workers(run)
    time.sleep(0.5)
    run.kill()
    run.wait(timeout=TIMEOUT)
    _wait_for(
        lambda: not any(map(_alive, workers)), "the orphaned workers end", timeout=10
    )
