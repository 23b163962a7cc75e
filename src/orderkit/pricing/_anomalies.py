"""An anomaly report over manual price changes, for finance and loss prevention.

Three patterns, each reported with the changes behind it:

- one actor requesting many changes within a sliding window;
- a change requested, or decided, outside working hours in the store's own
  IANA zone (DST-correct: 09:30 in New York is 13:30 UTC in summer, 14:30 in
  winter);
- a new price far from the SKU's list price.
"""

from __future__ import annotations

import datetime as dt
import decimal
import enum
from collections import defaultdict
from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import Final, final

import attrs
import pendulum

from orderkit._decimal import context
from orderkit.calendar._windows import zone_info
from orderkit.errors import CurrencyMismatch, ValidationError
from orderkit.money import Money
from orderkit.orders._price_changes import PriceChange, login


# A price's deviation from its list price, in its own context: the caller's
# decimal precision never changes which changes are flagged.
_RATIO: Final = context(decimal.DivisionByZero, prec=28)


__all__ = ["Anomaly", "AnomalyKind", "WEEKDAYS", "anomalies"]

WEEKDAYS: frozenset[int] = frozenset(range(5))
"""Monday to Friday, as `datetime.weekday()` numbers them (Monday is 0)."""


@final
class AnomalyKind(enum.StrEnum):
    """What an anomaly is about.

    .. versionadded:: 0.1.0
    """

    MANY_BY_ONE_ACTOR = "many_by_one_actor"
    OUTSIDE_WORKING_HOURS = "outside_working_hours"
    FAR_FROM_LIST_PRICE = "far_from_list_price"


@final
@attrs.frozen(slots=True)
class Anomaly:
    """One suspicious pattern and the price changes that show it.

    Attributes:
        kind: The pattern.
        change_ids: The changes, in time order.
        actor: Who: the requester, or the approver of a decision made
            outside working hours.
        detail: What was seen, for a person to read.

    .. versionadded:: 0.1.0
    """

    kind: AnomalyKind
    change_ids: tuple[str, ...]
    actor: str
    detail: str


def _zone(zone: str) -> pendulum.Timezone:
    # The calendar's check: the host's `localtime` is no store's zone either.
    return zone_info(zone)


def _check_hours(hours: object) -> None:
    ok = (
        isinstance(hours, tuple)
        and len(hours) == 2
        and all(isinstance(h, int) and not isinstance(h, bool) for h in hours)
        and 0 <= hours[0] < hours[1] <= 24
    )
    if not ok:
        raise ValidationError(
            "working_hours",
            hours,
            "must be (start, end) hours with 0 <= start < end <= 24",
        )


def _check_rules(
    changes: tuple[object, ...],
    max_per_actor: object,
    window: object,
    max_deviation: object,
    workdays: object,
) -> None:
    for i, change in enumerate(changes):
        if not isinstance(change, PriceChange):
            raise ValidationError(f"changes[{i}]", change, "must be a PriceChange")
    if (
        not isinstance(max_per_actor, int)
        or isinstance(max_per_actor, bool)
        or max_per_actor < 1
    ):
        raise ValidationError("max_per_actor", max_per_actor, "must be an int >= 1")
    if not isinstance(window, dt.timedelta) or window <= dt.timedelta(0):
        raise ValidationError("window", window, "must be a positive timedelta")
    if (
        not isinstance(max_deviation, Decimal)
        or not max_deviation.is_finite()
        or max_deviation < 0
    ):
        raise ValidationError(
            "max_deviation",
            max_deviation,
            "must be a finite Decimal ratio, zero or more",
        )
    if not isinstance(workdays, frozenset) or not workdays <= frozenset(range(7)):
        raise ValidationError(
            "workdays", workdays, "must be a frozenset of weekdays 0 (Mon) to 6 (Sun)"
        )


def _bursts(
    changes: tuple[PriceChange, ...], max_per_actor: int, window: dt.timedelta
) -> list[Anomaly]:
    """More than `max_per_actor` requests by one actor within any `window`."""
    by_actor: dict[str, list[PriceChange]] = defaultdict(list)
    for change in changes:
        # One login however the back office spells it, as approvals compare.
        by_actor[login(change.requester)].append(change)
    # Keyed by the burst's first change: reported in the order of the
    # changes, not actor by actor.
    found: list[tuple[pendulum.DateTime, str, Anomaly]] = []
    for own in by_actor.values():
        own.sort(key=lambda c: (c.requested_at, c.change_id))
        # Half-open windows [t, t + window): spans of too many merge into one.
        spans: list[list[int]] = []
        start = 0
        for end, change in enumerate(own):
            while change.requested_at - own[start].requested_at >= window:
                start += 1
            if end - start + 1 <= max_per_actor:
                continue
            if spans and start <= spans[-1][1]:
                spans[-1][1] = end
            else:
                spans.append([start, end])
        for first, last in spans:
            burst = own[first : last + 1]
            anomaly = Anomaly(
                AnomalyKind.MANY_BY_ONE_ACTOR,
                tuple(c.change_id for c in burst),
                burst[0].requester,
                f"{len(burst)} changes from {burst[0].requested_at} to "
                f"{burst[-1].requested_at}; more than {max_per_actor} "
                f"within {window}",
            )
            found.append((burst[0].requested_at, burst[0].change_id, anomaly))
    found.sort(key=lambda item: (item[0], item[1]))
    return [anomaly for _, _, anomaly in found]


def _off_hours(
    changes: tuple[PriceChange, ...],
    zone: pendulum.Timezone,
    hours: tuple[int, int],
    workdays: frozenset[int],
) -> list[Anomaly]:
    """Requests, and decisions, outside working hours in the store's zone."""
    found: list[Anomaly] = []

    def check(
        change: PriceChange, actor: str, at: pendulum.DateTime, what: str
    ) -> None:
        local = at.in_timezone(zone)
        if local.weekday() in workdays and hours[0] <= local.hour < hours[1]:
            return
        found.append(
            Anomaly(
                AnomalyKind.OUTSIDE_WORKING_HOURS,
                (change.change_id,),
                actor,
                f"{what} at {local.isoformat()} ({zone.name}, {local.format('dddd')}); "
                f"working hours are {hours[0]:02d}:00-{hours[1]:02d}:00",
            )
        )

    for change in changes:
        check(change, change.requester, change.requested_at, "requested")
        if change.decided_by is not None and change.decided_at is not None:
            check(change, change.decided_by, change.decided_at, str(change.state))
    return found


def _far_from_list(
    changes: tuple[PriceChange, ...],
    list_prices: Mapping[str, Money],
    max_deviation: Decimal,
) -> list[Anomaly]:
    """New prices more than `max_deviation` from the SKU's list price."""
    found: list[Anomaly] = []
    for change in changes:
        listed: object = list_prices.get(change.sku)
        if listed is None:
            continue
        field = f"list_prices[{change.sku!r}]"
        if not isinstance(listed, Money) or listed.amount <= 0:
            raise ValidationError(field, listed, "must be a Money above zero")
        new = change.new_unit_price
        if new.currency != listed.currency:
            raise CurrencyMismatch(field, listed.currency.code, new.currency.code)
        deviation = _RATIO.divide(abs(new - listed).amount, listed.amount)
        if deviation > max_deviation:
            found.append(
                Anomaly(
                    AnomalyKind.FAR_FROM_LIST_PRICE,
                    (change.change_id,),
                    change.requester,
                    f"new price {new} is {deviation:.1%} from list price {listed}; "
                    f"the limit is {max_deviation:.1%}",
                )
            )
    return found


def anomalies(  # noqa: PLR0913 - keyword-only rules of one report
    changes: Iterable[PriceChange],
    *,
    zone: str,
    max_per_actor: int,
    window: dt.timedelta,
    max_deviation: Decimal,
    list_prices: Mapping[str, Money],
    working_hours: tuple[int, int] = (9, 18),
    workdays: frozenset[int] = WEEKDAYS,
) -> list[Anomaly]:
    """Report suspicious patterns in manual price changes.

    Every change counts, whatever its state: a burst of rejected requests is
    as telling as a burst of approved ones.

    Args:
        changes: The price changes to look at.
        zone: The store's IANA zone (`"Asia/Shanghai"`): working hours are
            local wall-clock hours there.
        max_per_actor: How many requests one actor may make within `window`;
            one more is an anomaly (`MANY_BY_ONE_ACTOR`).
        window: The sliding window, half-open (`[t, t + window)`).
        max_deviation: The largest allowed `|new - list| / list`, as a
            Decimal ratio (`Decimal("0.3")` for 30%); beyond it is
            `FAR_FROM_LIST_PRICE`. SKUs without a list price are skipped.
        list_prices: List prices by SKU.
        working_hours: `(start, end)` local hours, half-open: `(9, 18)` is
            09:00 up to, not including, 18:00.
        workdays: Weekdays that are working days, Monday 0; Mon-Fri by default.

    Returns:
        The anomalies: bursts first, then off-hours, then prices far from
        list; within a kind, in the order of the changes (bursts by their
        first change: `requested_at`, then `change_id`).

    Raises:
        ValidationError: A rule or a list price is invalid (`field` names it).
        CurrencyMismatch: A list price in another currency than the change.
    """
    items = tuple(changes)
    tz = _zone(zone)
    _check_hours(working_hours)
    _check_rules(items, max_per_actor, window, max_deviation, workdays)
    ordered = tuple(sorted(items, key=lambda c: (c.requested_at, c.change_id)))
    return [
        *_bursts(ordered, max_per_actor, window),
        *_off_hours(ordered, tz, working_hours, workdays),
        *_far_from_list(ordered, list_prices, max_deviation),
    ]
