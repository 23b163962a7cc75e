"""Stock policies: how far below zero a SKU's available stock may go."""

from __future__ import annotations

import datetime as dt
from typing import final

import attrs
import pendulum

from orderkit._time import to_utc
from orderkit._validate import positive_int


def _ends_at(value: dt.datetime) -> pendulum.DateTime:
    return to_utc(value, "ends_at")


@final
@attrs.frozen(slots=True)
class NoOversell:
    """The default policy: available stock never goes below zero.

    No reservation, transfer or correction takes it there; only a stocktake
    counting fewer units than are held and committed does, since a count
    records the shelf as it is (see `Balance`).

    .. versionadded:: 0.1.0
    """

    def floor(self, at: pendulum.DateTime) -> int:  # noqa: ARG002 - one signature for every policy
        """Return the lowest `available` this policy allows at `at`: 0."""
        return 0


@final
@attrs.frozen(slots=True)
class Backorder:
    """Sell up to `limit` units beyond the stock at each location.

    Attributes:
        limit: How far below zero `available` may go, per location.

    .. versionadded:: 0.1.0
    """

    limit: int = attrs.field(validator=positive_int("limit"))

    def floor(self, at: pendulum.DateTime) -> int:  # noqa: ARG002 - one signature for every policy
        """Return the lowest `available` this policy allows at `at`: `-limit`."""
        return -self.limit


@final
@attrs.frozen(slots=True)
class Preorder:
    """Take up to `cap` pre-orders per location until `ends_at`, then none.

    Attributes:
        cap: How far below zero `available` may go before `ends_at`.
        ends_at: When pre-orders close (UTC, exclusive).

    .. versionadded:: 0.1.0
    """

    cap: int = attrs.field(validator=positive_int("cap"))
    ends_at: pendulum.DateTime = attrs.field(converter=_ends_at)

    def floor(self, at: pendulum.DateTime) -> int:
        """Return the lowest `available` allowed at `at`: `-cap`, or 0 once closed."""
        return -self.cap if at < self.ends_at else 0


StockPolicy = NoOversell | Backorder | Preorder
"""Any of the stock policies. `NoOversell()` is every SKU's default."""
