"""The order-health score's values: measures, weights, rules, components, report."""

from __future__ import annotations

import datetime as dt
import enum
import functools
from collections.abc import Mapping
from decimal import Decimal
from fractions import Fraction
from types import MappingProxyType
from typing import Final, final

import attrs

from orderkit._decimal import context
from orderkit._validate import Validator, count, positive_elapsed
from orderkit.errors import ValidationError
from orderkit.pricing import WEEKDAYS, Anomaly
from orderkit.services._drift import StatusDrift
from orderkit.services._monitor import StuckOrder


__all__ = [
    "DEFAULT_HEALTH_RULES",
    "HealthComponent",
    "HealthMeasure",
    "HealthReport",
    "HealthRules",
    "HealthWeights",
]


@final
class HealthMeasure(enum.StrEnum):
    """The five measures the score weighs.

    .. versionadded:: 0.1.0
    """

    STATUS_SYNC = "status_sync"
    """Status sync timeliness: `timely_changes / status_changes`."""
    INVENTORY_ACCURACY = "inventory_accuracy"
    """Inventory accuracy: `agreed_counts / counts`."""
    CHANGE_APPROVAL = "change_approval"
    """Change-approval completion: `decided / (decided + lapsed)`."""
    COMPLAINT_RATE = "complaint_rate"
    """Complaints, inverted: `1 - min(1, complaints / orders)`."""
    ON_TIME_FULFILMENT = "on_time_fulfilment"
    """Fulfilment on time: `on_time / (shipped + late_unshipped)`."""


_FORMULAS: Final[Mapping[HealthMeasure, str]] = MappingProxyType(
    {
        HealthMeasure.STATUS_SYNC: "timely_changes / status_changes",
        HealthMeasure.INVENTORY_ACCURACY: "agreed_counts / counts",
        HealthMeasure.CHANGE_APPROVAL: "decided / (decided + lapsed)",
        HealthMeasure.COMPLAINT_RATE: "1 - min(1, complaints / orders)",
        HealthMeasure.ON_TIME_FULFILMENT: "on_time / (shipped + late_unshipped)",
    }
)


# The sum a refusal shows, whatever the caller's decimal context.
_SHOWN: Final = context()


def _weight(field: str) -> Validator:
    def check(_instance: object, _attribute: object, value: object) -> None:
        if not isinstance(value, Decimal) or not value.is_finite() or value < 0:
            raise ValidationError(
                field, value, "must be a finite Decimal, zero or more"
            )

    return check


@final
@attrs.frozen(slots=True, kw_only=True)
class HealthWeights:
    """How much each measure counts in the score; the brief's weights by default.

    Each weight is a non-negative `Decimal`; together they sum to exactly 1.
    A zero weight leaves a measure in the report but out of the score.

    Attributes:
        status_sync: Status sync timeliness, 0.30.
        inventory_accuracy: Inventory accuracy (counted against the ledger), 0.25.
        change_approval: Change-approval completion, 0.20.
        complaint_rate: Complaint rate, 0.15.
        on_time_fulfilment: Fulfilment on time, 0.10.

    Raises:
        ValidationError: A weight that is not a finite Decimal of zero or
            more (`field` names the weight), or weights that do not sum to 1
            (`field` is `"weights"`, `value` the sum).

    .. versionadded:: 0.1.0
    """

    status_sync: Decimal = attrs.field(
        default=Decimal("0.30"), validator=_weight("status_sync")
    )
    inventory_accuracy: Decimal = attrs.field(
        default=Decimal("0.25"), validator=_weight("inventory_accuracy")
    )
    change_approval: Decimal = attrs.field(
        default=Decimal("0.20"), validator=_weight("change_approval")
    )
    complaint_rate: Decimal = attrs.field(
        default=Decimal("0.15"), validator=_weight("complaint_rate")
    )
    on_time_fulfilment: Decimal = attrs.field(
        default=Decimal("0.10"), validator=_weight("on_time_fulfilment")
    )

    def __attrs_post_init__(self) -> None:
        weights = [self.of(measure) for measure in HealthMeasure]
        # Added exactly: in the caller's decimal context the sum would round
        # (1.00004 is 1.00 at three digits).
        if sum(map(Fraction, weights), Fraction(0)) != 1:
            total = functools.reduce(_SHOWN.add, weights, Decimal(0))
            raise ValidationError("weights", total, "must sum to exactly 1")

    def of(self, measure: HealthMeasure) -> Decimal:
        """The weight of `measure`."""
        weight: Decimal = getattr(self, HealthMeasure(measure).value)
        return weight


def _hours(_instance: object, _attribute: object, value: object) -> None:
    ok = (
        isinstance(value, tuple)
        and len(value) == 2
        and all(isinstance(h, int) and not isinstance(h, bool) for h in value)
        and 0 <= value[0] < value[1] <= 24
    )
    if not ok:
        raise ValidationError(
            "working_hours", value, "must be (start, end) hours, 0 <= start < end <= 24"
        )


def _workdays(_instance: object, _attribute: object, value: object) -> None:
    if not isinstance(value, frozenset) or not value <= frozenset(range(7)):
        raise ValidationError(
            "workdays", value, "must be a frozenset of weekdays 0 (Mon) to 6 (Sun)"
        )


_HOURS: Validator = _hours
_WORKDAYS: Validator = _workdays


@final
@attrs.frozen(slots=True, kw_only=True)
class HealthRules:
    """The thresholds behind the measures and the anomaly count.

    Attributes:
        max_sync_lag: The longest a status change may take to reach us
            (`recorded_at - occurred_at`) and still be timely; 10 minutes,
            two polls at the 5-minute interval the brief asks for.
        working_hours: Local `(start, end)` hours, half-open, in the store's
            zone; `(9, 18)`.
        workdays: Working weekdays, Monday 0; Monday to Friday.
        max_changes_per_actor: How many price changes one actor may request
            within `burst_window` before it counts as a bulk edit; 20.
        burst_window: The sliding window of a bulk edit; 1 hour.

    Raises:
        ValidationError: A field of the wrong type or out of range.

    .. versionadded:: 0.1.0
    """

    max_sync_lag: dt.timedelta = attrs.field(
        default=dt.timedelta(minutes=10), validator=positive_elapsed("max_sync_lag")
    )
    working_hours: tuple[int, int] = attrs.field(default=(9, 18), validator=_HOURS)
    workdays: frozenset[int] = attrs.field(default=WEEKDAYS, validator=_WORKDAYS)
    max_changes_per_actor: int = attrs.field(
        default=20, validator=count("max_changes_per_actor")
    )
    burst_window: dt.timedelta = attrs.field(
        default=dt.timedelta(hours=1), validator=positive_elapsed("burst_window")
    )

    def __attrs_post_init__(self) -> None:
        if self.max_changes_per_actor < 1:
            raise ValidationError(
                "max_changes_per_actor", self.max_changes_per_actor, "must be 1 or more"
            )


DEFAULT_HEALTH_RULES: Final = HealthRules()
"""The default thresholds: 10 minutes of sync lag, 09:00-18:00 Mon-Fri, 20 per hour.

.. versionadded:: 0.1.0
"""


@final
@attrs.frozen(slots=True, kw_only=True)
class HealthComponent:
    """One measure of the score, as computed.

    Attributes:
        measure: Which measure.
        value: The ratio from 0 (bad) to 1 (good), to four places; `None`
            when it is missing (nothing to measure).
        weight: Its weight as given.
        effective_weight: Its share of the score after missing measures
            were left out, to four places; 0 when it is missing.
        formula: The formula's name (`"agreed_counts / counts"`).
        numerator: The formula's count on top (for the complaint rate: the
            complaints).
        denominator: The count below (for the complaint rate: the orders).

    .. versionadded:: 0.1.0
    """

    measure: HealthMeasure = attrs.field(converter=HealthMeasure)
    value: Decimal | None
    weight: Decimal
    effective_weight: Decimal
    formula: str
    numerator: int
    denominator: int

    @property
    def missing(self) -> bool:
        """Whether there was nothing to measure."""
        return self.value is None


@final
@attrs.frozen(slots=True, kw_only=True)
class HealthReport:
    """The order-health score, its parts, and the figures reported beside it.

    Attributes:
        score: The weighted mean of the present measures, scaled to
            0..100, to two places; `None` when every measure with a weight
            is missing.
        components: The five measures, in `HealthMeasure` order.
        missing: The measures that were missing, in the same order.
        backlog_rate: `awaiting_shipment / (orders - pending_payment -
            cancelled - closed)`: paid orders not yet fully shipped; `None`
            without such orders.
        stuck_rate: `stuck open orders / open orders` (open: every status
            but completed, cancelled and closed); `None` without open
            orders. Ended orders in `stuck` (a refund still owed) do not
            count in it.
        consistency_index: `1 - drifted / compared`: the share of orders a
            channel pull reported whose status agrees with ours; `None`
            when no order was compared.
        stuck: The stuck orders (`stuck_orders`).
        drift: The drifted orders (`status_drift`).
        anomalies: The anomalous operations: bulk price edits by one actor
            and price changes requested or decided outside working hours
            (`orderkit.pricing.anomalies`).
        ship_by_uncounted: The orders, as `(channel, order_id)` in the order
            given, whose ship-by the SLA's business calendar cannot count yet
            (it lacks a year: `CalendarDataMissing`), shipped or not: left
            out of the on-time measure until the year is loaded
            (`TableCalendar.extended`). Cancelled and closed orders are not
            measured, so not named.

    .. versionadded:: 0.1.0
    """

    score: Decimal | None
    components: tuple[HealthComponent, ...]
    missing: tuple[HealthMeasure, ...]
    backlog_rate: Decimal | None
    stuck_rate: Decimal | None
    consistency_index: Decimal | None
    stuck: tuple[StuckOrder, ...]
    drift: tuple[StatusDrift, ...]
    anomalies: tuple[Anomaly, ...]
    ship_by_uncounted: tuple[tuple[str, str], ...] = ()

    @property
    def anomalous_operations(self) -> int:
        """How many anomalous operations were found."""
        return len(self.anomalies)

    def component(self, measure: HealthMeasure) -> HealthComponent:
        """The component for `measure`."""
        wanted = HealthMeasure(measure)
        return next(c for c in self.components if c.measure is wanted)
