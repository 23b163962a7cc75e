"""`orderkit simulate --report PATH` in Chromium: the charts draw, no console errors.

The report opens in headless Chromium driven over the DevTools protocol on
a pipe (no port), with the standard library only: the page itself says
whether each chart has a size and drawn marks, and the browser reports
every console error, exception and refused load. Skipped without Chromium
(`.ci/run` installs Debian's package).
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import select
import shutil
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, Self

import pytest

from orderkit.cli import main
from orderkit.cli._charts import CHARTS
from orderkit.cli._report import CSP


def _chromium() -> str | None:
    named = os.environ.get("ORDERKIT_CHROMIUM")
    if named:
        return named
    return next(filter(None, map(shutil.which, ("chromium", "chromium-browser"))), None)


CHROMIUM = _chromium()
needs_chromium = pytest.mark.skipif(
    CHROMIUM is None,
    reason="no Chromium: put `chromium` on PATH (Debian: apt-get install chromium;"
    " .ci/run installs it) or name the binary in ORDERKIT_CHROMIUM",
)
_FLAGS = (
    "--headless",
    "--no-sandbox",  # root in CI and containers; the page is our own file
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--no-first-run",
    "--no-default-browser-check",
    "--disable-extensions",
    "--disable-sync",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-domain-reliability",
    # Nothing leaves the machine, even if the page or the browser tried.
    "--proxy-server=127.0.0.1:9",
    "--host-resolver-rules=MAP * ~NOTFOUND",
    "--window-size=1000,900",
    "--remote-debugging-pipe",
)
_PROBE = """JSON.stringify(Array.from(document.querySelectorAll("svg")).map(svg => {
  const box = svg.getBoundingClientRect();
  const marks = Array.from(svg.querySelectorAll(".mark"));
  const drawn = marks.filter(m => {
    const b = m.getBoundingClientRect();
    return b.width > 0 || b.height > 0;
  });
  return {chart: svg.dataset.chart, width: box.width, height: box.height,
          marks: marks.length, drawn: drawn.length};
}))"""
_TIMEOUT = 30.0


class Browser:
    """Headless Chromium driven over the DevTools protocol on fds 3 and 4."""

    def __init__(self, binary: str, profile: Path) -> None:
        to_browser, self._commands = os.pipe()
        self._replies, from_browser = os.pipe()

        def wire() -> None:
            os.dup2(to_browser, 3)
            os.dup2(from_browser, 4)

        self._log = profile / "chromium.log"
        with self._log.open("wb") as log:
            self._process = subprocess.Popen(  # noqa: S603 - our own arguments
                [binary, *_FLAGS, f"--user-data-dir={profile}", "about:blank"],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=log,
                pass_fds=(3, 4),
                preexec_fn=wire,  # noqa: PLW1509 - the pipe must be fds 3 and 4
            )
        os.close(to_browser)
        os.close(from_browser)
        self._buffer = b""
        self._next = 0
        self.events: list[dict[str, Any]] = []

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *_: object) -> None:
        try:
            self.send("Browser.close")
            self._process.wait(timeout=10)
        except (AssertionError, OSError, TimeoutError, subprocess.TimeoutExpired):
            self._process.kill()
            self._process.wait()
        finally:
            os.close(self._commands)
            os.close(self._replies)

    def send(
        self, method: str, params: dict[str, Any] | None = None, session: str = ""
    ) -> dict[str, Any]:
        """Send one command and return its result; events seen meanwhile are kept."""
        self._next += 1
        message: dict[str, Any] = {"id": self._next, "method": method}
        message["params"] = params or {}
        if session:
            message["sessionId"] = session
        os.write(self._commands, json.dumps(message).encode() + b"\0")
        number = self._next
        reply = self.wait(lambda m: m.get("id") == number)
        if "error" in reply:
            raise AssertionError(f"{method}: {reply['error']}")
        result: dict[str, Any] = reply["result"]
        return result

    def wait(self, wanted: Callable[[dict[str, Any]], bool]) -> dict[str, Any]:
        """The first message `wanted` accepts; the others are kept as events."""
        deadline = time.monotonic() + _TIMEOUT
        while True:
            while b"\0" in self._buffer:
                raw, self._buffer = self._buffer.split(b"\0", 1)
                message: dict[str, Any] = json.loads(raw)
                if wanted(message):
                    return message
                self.events.append(message)
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"Chromium said nothing for {_TIMEOUT:g} s")
            if select.select([self._replies], [], [], left)[0]:
                chunk = os.read(self._replies, 1 << 16)
                if not chunk:
                    tail = self._log.read_text(errors="replace")[-2000:]
                    raise AssertionError(f"Chromium exited:\n{tail}")
                self._buffer += chunk

    def open(self, url: str) -> str:
        """Open `url` in a new tab, listening to its console; the tab's session."""
        target = self.send("Target.createTarget", {"url": "about:blank"})
        session: str = self.send(
            "Target.attachToTarget", {"targetId": target["targetId"], "flatten": True}
        )["sessionId"]
        for domain in ("Page", "Runtime", "Log"):
            self.send(f"{domain}.enable", session=session)
        self.send("Page.navigate", {"url": url}, session=session)
        self.wait(
            lambda m: (
                m.get("method") == "Page.loadEventFired"
                and m.get("sessionId") == session
            )
        )
        return session

    def evaluate(self, expression: str, session: str) -> Any:
        result = self.send(
            "Runtime.evaluate",
            {"expression": expression, "returnByValue": True},
            session=session,
        )
        return json.loads(result["result"]["value"])

    def errors(self, session: str) -> list[str]:
        """What the tab logged as errors: console, exceptions, refused loads."""
        found = []
        for event in self.events:
            if event.get("sessionId") != session:
                continue
            params = event.get("params", {})
            method = event.get("method")
            if method == "Log.entryAdded" and params["entry"]["level"] == "error":
                found.append(params["entry"]["text"])
            elif method == "Runtime.consoleAPICalled" and params["type"] in {
                "error",
                "assert",
            }:
                found.append(json.dumps(params["args"]))
            elif method == "Runtime.exceptionThrown":
                found.append(params["exceptionDetails"]["text"])
        return found


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small day's report."""
    path = tmp_path_factory.mktemp("report") / "day.html"
    args = ["simulate", "--json", "--orders", "200", "--seed", "5", "--db", ":memory:"]
    with contextlib.redirect_stdout(io.StringIO()):
        assert main([*args, "--report", str(path)]) == 0
    return path


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Browser]:
    assert CHROMIUM is not None
    with Browser(CHROMIUM, tmp_path_factory.mktemp("chromium")) as opened:
        yield opened


@needs_chromium
class TestInChromium:
    def test_every_chart_draws_and_the_console_stays_clean(
        self, browser: Browser, report: Path
    ) -> None:
        session = browser.open(report.as_uri())
        charts = browser.evaluate(_PROBE, session)
        assert [c["chart"] for c in charts] == list(CHARTS)
        for chart in charts:
            assert chart["width"] > 300, chart
            assert chart["height"] > 100, chart
            assert chart["marks"] > 0, chart
            assert chart["drawn"] == chart["marks"], chart
        # One more round trip: the tab's messages arrive in order.
        browser.evaluate("JSON.stringify(0)", session)
        assert browser.errors(session) == []

    def test_the_console_check_sees_a_fetch_the_policy_refuses(
        self, browser: Browser, tmp_path: Path
    ) -> None:
        # The same policy on a page that asks for an image from elsewhere
        # (loopback, never reached): Chromium refuses it and says so.
        path = tmp_path / "fetches.html"
        path.write_text(
            f'<!DOCTYPE html><meta http-equiv="Content-Security-Policy"'
            f' content="{CSP}"><img src="http://127.0.0.1:9/x.png">',
            encoding="utf-8",
        )
        session = browser.open(path.as_uri())
        browser.evaluate("JSON.stringify(0)", session)
        errors = browser.errors(session)
        assert any("Content Security Policy" in e for e in errors), errors
