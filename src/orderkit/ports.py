"""The I/O ports a host application implements, as `typing.Protocol`s.

orderkit's core never does I/O: services receive these ports as arguments.
Reference implementations live in `orderkit.adapters`; fakes for tests in
`orderkit.testing`.

.. versionadded:: 0.1.0
"""

from __future__ import annotations

from typing import Protocol

import pendulum


__all__ = ["Clock"]


class Clock(Protocol):
    """**Protocol:** where services read the time, and how they wait.

    Contract:

    - `now()` returns a timezone-aware UTC `pendulum.DateTime`; never a naive
      datetime. Successive calls may step backwards (a wall clock being
      corrected): callers that need monotonic time keep their own high-water
      mark.
    - `sleep(seconds)` waits at least that long; a test clock advances its
      time instead, so retries and timeouts are tested without real sleeps.
      Negative durations are refused with `ValueError`.

    .. versionadded:: 0.1.0
    """

    def now(self) -> pendulum.DateTime:
        """Return the current instant, in UTC."""
        ...

    def sleep(self, seconds: float) -> None:
        """Wait `seconds` (a test clock advances instead)."""
        ...
