"""CSV cells that spreadsheet programs show as text, never run as formulas."""

from __future__ import annotations

import re
from typing import Final


# Spreadsheet programs read a cell starting with one of these as a formula
# (CSV injection); the text in orderkit's reports is a provider's, a buyer's
# or a host's.
_FORMULA_START: Final = ("=", "+", "-", "@", "\t", "\r")
_PLAIN_NUMBER: Final = re.compile(r"-?[0-9]+(\.[0-9]+)?")


def spreadsheet_cell(text: str) -> str:
    """`text` as a cell that a spreadsheet program shows, never evaluates.

    A cell starting with `=`, `+`, `-`, `@`, a tab or a carriage return gets
    an apostrophe before it; a plain decimal number (`-12.00`) is no formula
    and stays as it is.
    """
    if text.startswith(_FORMULA_START) and not _PLAIN_NUMBER.fullmatch(text):
        return "'" + text
    return text
