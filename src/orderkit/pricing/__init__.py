"""Pricing: totals that add up, discounts that stop at the floor, and limits.

.. versionadded:: 0.1.0
"""

__all__: list[str] = []
