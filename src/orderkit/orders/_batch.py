"""Applying a stream of events: early ones parked, the rest settled in turn."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Final, final

import attrs
import pendulum

from orderkit._fast import builder
from orderkit._time import to_utc
from orderkit.errors import OrderkitError
from orderkit.orders._audit import AuditRecord
from orderkit.orders._events import OrderEvent
from orderkit.orders._machine import apply
from orderkit.orders._order import Order
from orderkit.orders._outcomes import (
    Applied,
    Early,
    Outcome,
    RefundDue,
    Rejected,
)


@final
@attrs.frozen(slots=True)
class Batch:
    """What `apply_all` did with a stream of events.

    Attributes:
        order: The order after every event that could apply.
        outcomes: One outcome per event that was settled (applied, a
            duplicate, stale, a refund due, or rejected), in the order they
            were settled; events still parked have none.
        parked: Events still waiting for a predecessor.

    .. versionadded:: 0.1.0
    """

    order: Order | None
    outcomes: tuple[Outcome | Rejected, ...]
    parked: tuple[OrderEvent, ...]

    @property
    def records(self) -> tuple[AuditRecord, ...]:
        """Every audit record written, in order."""
        found: list[AuditRecord] = []
        for outcome in self.outcomes:
            # Both classes are final: `type(...) is` says what isinstance says.
            if type(outcome) is Applied or type(outcome) is RefundDue:
                found += outcome.records
        return tuple(found)


# A batch's parts are the outcomes and events it was built from: no check.
_new_batch: Final = builder(Batch)


def apply_all(
    order: Order | None,
    events: Iterable[OrderEvent],
    *,
    now: dt.datetime,
    parked: Iterable[OrderEvent] = (),
) -> Batch:
    """Apply events in arrival order, parking early ones until they fit.

    The parked events (from an earlier call) are tried first; after every
    event that changes the order, the parked events are tried again, oldest
    first, until none of them applies. An event that `apply` refuses with an
    `OrderkitError` becomes a `Rejected` outcome, and the batch goes on.

    Args:
        order: The order as it stands, or `None`.
        events: Events in the order they arrived.
        now: When orderkit applies them (timezone-aware).
        parked: Events parked by an earlier call.

    Returns:
        The final order, every outcome, and the events still parked.

    Raises:
        NaiveDatetime: `now` has no UTC offset.

    .. versionadded:: 0.1.0
    """
    instant = to_utc(now, "now")
    waiting = list(parked)
    outcomes: list[Outcome | Rejected] = []
    # Most batches park nothing: the parked events are tried only when some
    # wait (`_settle` of none changes nothing).
    if waiting:
        order = _settle(order, waiting, outcomes, instant)
    for event in events:
        outcome = _attempt(order, event, instant)
        # Every outcome class is final: `type(...) is` says what isinstance says.
        kind = type(outcome)
        if kind is Early:
            waiting.append(event)
            continue
        outcomes.append(outcome)
        if kind is Applied or kind is RefundDue:
            order = outcome.order
            if waiting:
                order = _settle(order, waiting, outcomes, instant)
    return _new_batch(order, tuple(outcomes), tuple(waiting))


def _attempt(
    order: Order | None, event: OrderEvent, now: pendulum.DateTime
) -> Outcome | Rejected:
    try:
        return apply(order, event, now=now)
    except OrderkitError as error:
        return Rejected(order, event, error)


def _settle(
    order: Order | None,
    waiting: list[OrderEvent],
    outcomes: list[Outcome | Rejected],
    now: pendulum.DateTime,
) -> Order | None:
    """Apply parked events until none of them applies; return the order."""
    progress = True
    while progress:
        progress = False
        for event in list(waiting):
            outcome = _attempt(order, event, now)
            if isinstance(outcome, Early):
                continue
            waiting.remove(event)
            outcomes.append(outcome)
            if isinstance(outcome, Applied | RefundDue):
                order = outcome.order
                progress = True
                break
    return order
