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
