"""Reference adapters: orderkit's own implementations of the ports.

.. versionadded:: 0.1.0
"""

from orderkit.adapters._clock import SystemClock as SystemClock


__all__ = ["SystemClock"]
