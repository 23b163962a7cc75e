"""What a unit of work of any backend says when a host opens it twice."""

from __future__ import annotations

from typing import Final


OPEN_ALREADY: Final = (
    "a unit of work is open already in this thread: the desk and orderkit's other "
    "services open their own units, so call them outside `with unit:`"
)
"""Why entering a unit of work from inside its own unit is refused.

The usual cause is a host wrapping a desk call in a unit of its own, as a
transaction per request would: the desk's call opens the unit itself.
"""
