"""Aligned text columns for a terminal, Chinese text included.

A terminal draws an East Asian wide character (Han, full-width forms) in
two cells, so padding by `len()` would push every column after a Chinese
detail out of line.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence
from typing import Final


def width(text: str) -> int:
    """The cells `text` takes on a terminal."""
    if text.isascii():
        return len(text)
    return sum(
        2 if unicodedata.east_asian_width(char) in "WF" else 1
        for char in text
        if not unicodedata.combining(char)
    )


def shown(text: str) -> str:
    """`text` with each unprintable character escaped, so that it keeps to its line.

    A newline or a tab from the data would otherwise break a table's rows
    apart, or a terminal control sequence act on the terminal.
    """
    if text.isprintable():
        return text
    return "".join(
        repr(c)[1:-1] if unicodedata.category(c) in _UNSHOWN else c for c in text
    )


# Controls, formats, line and paragraph separators, surrogates: what breaks a
# row or acts on a terminal. Spaces (a full-width one in a Chinese address)
# are shown as they are.
_UNSHOWN: Final = frozenset({"Cc", "Cf", "Zl", "Zp", "Cs"})


def _pad(text: str, cells: int, *, right: bool) -> str:
    gap = " " * max(cells - width(text), 0)
    return gap + text if right else text + gap


def columns(
    header: Sequence[str],
    rows: Sequence[Sequence[str]],
    *,
    right: Sequence[int] = (),
    indent: str = "  ",
) -> list[str]:
    """The header and rows as aligned lines; columns in `right` align right.

    The last column is never padded, so that a long detail leaves no
    trailing blanks. Cells are `shown()`: a row stays on one line.
    """
    table = [list(header), *([shown(cell) for cell in row] for row in rows)]
    widths = [max(width(row[i]) for row in table) for i in range(len(header) - 1)]
    lines = []
    for row in table:
        cells = [
            cell if i == len(row) - 1 else _pad(cell, widths[i], right=i in right)
            for i, cell in enumerate(row)
        ]
        lines.append((indent + "  ".join(cells)).rstrip())
    return lines
