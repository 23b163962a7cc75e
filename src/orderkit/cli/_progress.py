"""A progress bar on the terminal's error stream, while a simulation runs.

Drawn only on a terminal (a pipe or a file gets nothing, so logs stay
clean), at most ten times a second, and erased when the run ends.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Final, TextIO, final

import pendulum


_WIDTH: Final = 28
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
        filled = round(share * _WIDTH)
        local = now.in_timezone("Asia/Shanghai").format("MM-DD HH:mm")
        line = (
            f"simulate [{'#' * filled}{'-' * (_WIDTH - filled)}] {share:4.0%} "
            f"{arrived:,}/{self._total:,} orders  {local} Shanghai  "
            f"{wall - self._started:.1f}s"
        )
        self._stream.write("\r" + line.ljust(self._shown))
        self._stream.flush()
        self._shown = len(line)

    def close(self) -> None:
        """Erase the bar."""
        if self._shown:
            self._stream.write("\r" + " " * self._shown + "\r")
            self._stream.flush()
            self._shown = 0


def wanted(stream: TextIO, *, json_output: bool) -> bool:
    """Whether to draw: on a terminal, and not when the output is JSON."""
    if json_output:
        return False
    isatty = getattr(stream, "isatty", None)
    return bool(isatty is not None and isatty())
