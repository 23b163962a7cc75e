"""A progress bar on the terminal's error stream, while a simulation runs.

Drawn only on a terminal (a pipe or a file gets nothing, so logs stay
clean), at most ten times a second, one column short of the terminal's
width (a line that wraps could not be redrawn), and erased when the run
ends.
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Callable
from typing import Final, TextIO, final

import pendulum


_WIDTH: Final = 28
_NARROWEST: Final = 10
_INTERVAL: Final = 0.1


@final
class ProgressBar:
    """Orders taken in so far, out of all, and the simulated time in Shanghai.

    Call it with `(orders arrived, simulated now)`; `close()` erases it.

    Args:
        total: How many orders the day has.
        stream: Where to draw (the error stream).
        clock: Wall-clock seconds, for the throttle and the elapsed time.
    """

    def __init__(
        self,
        total: int,
        stream: TextIO,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """Draw nothing yet."""
        self._total = max(total, 1)
        self._stream = stream
        self._clock = clock
        self._started = clock()
        self._drawn_at = -_INTERVAL
        self._shown = 0

    def __call__(self, arrived: int, now: pendulum.DateTime) -> None:
        """Redraw, unless the last drawing is under a tenth of a second old."""
        wall = self._clock()
        if wall - self._drawn_at < _INTERVAL:
            return
        self._drawn_at = wall
        share = min(arrived / self._total, 1.0)
        local = now.in_timezone("Asia/Shanghai").format("MM-DD HH:mm")
        width = _columns(self._stream) - 1
        counts = f" {share:4.0%} {arrived:,}/{self._total:,} orders"
        # Sized for the widest counts, so the bar keeps its length.
        widest = len(f" 100% {self._total:,}/{self._total:,} orders")
        # The most that fits, dropped from the end: the time, then the bar.
        tails = (f"  {local} Shanghai  {wall - self._started:.1f}s", f"  {local}", "")
        for tail in tails:
            room = width - len("simulate []") - widest - len(tail)
            if room >= _NARROWEST:
                bar = min(room, _WIDTH)
                filled = round(share * bar)
                line = f"simulate [{'#' * filled}{'-' * (bar - filled)}]{counts}{tail}"
                break
        else:
            line = f"simulate{counts}"[: max(width, 0)]
        self._stream.write("\r" + line.ljust(min(self._shown, width)))
        self._stream.flush()
        self._shown = max(len(line), min(self._shown, width))

    def close(self) -> None:
        """Erase the bar."""
        if self._shown:
            self._stream.write("\r" + " " * self._shown + "\r")
            self._stream.flush()
            self._shown = 0


def _columns(stream: TextIO) -> int:
    """The width of the terminal: $COLUMNS, else that of `stream`, else stdout's.

    `shutil.get_terminal_size` alone asks stdout, which may be redirected
    while the bar is drawn on stderr.
    """
    columns = os.environ.get("COLUMNS", "")
    if columns.isdigit() and int(columns) > 0:
        return int(columns)
    try:
        return os.get_terminal_size(stream.fileno()).columns
    except (AttributeError, ValueError, OSError):
        return shutil.get_terminal_size().columns


def wanted(stream: TextIO, *, json_output: bool) -> bool:
    """Whether to draw: on a terminal, and not when the output is JSON."""
    if json_output:
        return False
    isatty = getattr(stream, "isatty", None)
    return bool(isatty is not None and isatty())
