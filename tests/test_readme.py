"""The README's example runs as written."""

from __future__ import annotations

import re
from pathlib import Path

import pytest


README = Path(__file__).parents[1] / "README.md"


class TestReadme:
    """What the README shows a new user works."""

    def test_python_example_prints_what_its_comment_says(
        self, capsys: pytest.CaptureFixture[str]
    ) -> None:
        text = README.read_text("utf-8")
        (block,) = re.findall(r"```python\n(.*?)```", text, re.DOTALL)

        exec(compile(block, str(README), "exec"), {})  # noqa: S102 - our own README

        assert "pending_payment\n" == capsys.readouterr().out

    def test_the_first_command_runs_the_installed_orderkit_command(self) -> None:
        import tomllib  # noqa: PLC0415 - only this test reads the project file

        text = README.read_text("utf-8")
        first = re.search(r"```sh\n(.*?)\n", text)
        assert first is not None
        assert first.group(1).endswith(".venv/bin/orderkit simulate")
        project = tomllib.loads((README.parent / "pyproject.toml").read_text("utf-8"))
        assert project["project"]["scripts"] == {"orderkit": "orderkit.cli:main"}
