"""The test kit: fakes and hypothesis strategies for testing with orderkit.

`FrozenClock` stands still until a test moves it. Strategies for every public
value type and event live in `orderkit.testing.strategies` (it needs the
`testing` extra: `pip install 'orderkit[testing]'`).

.. versionadded:: 0.1.0
"""

from orderkit.testing._clock import FrozenClock as FrozenClock


__all__ = ["FrozenClock"]
