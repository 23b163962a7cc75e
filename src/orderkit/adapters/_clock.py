"""The real clock."""

from __future__ import annotations

import time
from typing import final

import pendulum


@final
class SystemClock:
    """The `Clock` port over the operating system's clock.

    .. versionadded:: 0.1.0
    """

    def now(self) -> pendulum.DateTime:
        """Return the current instant, in UTC."""
        return pendulum.now(pendulum.UTC)

    def sleep(self, seconds: float) -> None:
        """Block the calling thread for `seconds`.

        Raises:
            ValueError: `seconds` is negative.
        """
        if seconds < 0:
            msg = f"cannot sleep a negative duration ({seconds!r} s)"
            raise ValueError(msg)
        time.sleep(seconds)
