"""The day as time series, per simulated minute, for `orderkit simulate --report`.

Two sources. The workers record what only they see as they drive their
orders (`Recorder`): which channel's order the desk decided when, why a
held order waits, when each order was paid and shipped. Each worker
records its own share; `Recorded.merge` adds the shares up. The ledger
knows the rest: its movements, read back after the run (`read_ledger`),
give the hot SKUs' stock and the holds placed, committed, expired and
released, across every worker, and cost the run nothing while it goes.

A minute is counted from `catalog.SPAN_START`; minute 0 is its first.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator, Mapping
from typing import Final, final

import attrs
import pendulum

from orderkit.calendar import SlaPolicy
from orderkit.cli import _catalog as catalog
from orderkit.cli._plans import OrderPlan
from orderkit.inventory import Movement, MovementKind
from orderkit.ports import UnitOfWork


_START: Final = catalog.SPAN_START.timestamp()
_PAGE: Final = 1000
_DECIDED: Final = frozenset({"accepted", "held", "refused"})
HOLD_KINDS: Final = {
    MovementKind.HOLD: "placed",
    MovementKind.COMMIT: "committed",
    MovementKind.EXPIRE: "expired",
    MovementKind.RELEASE: "released",
}
"""The ledger movements that start or end a hold, by what they did to it."""


def minute_of(at: pendulum.DateTime) -> int:
    """The simulated minute `at` falls in (negative before the day starts)."""
    return int((at.timestamp() - _START) // 60)


def at_minute(minute: int) -> pendulum.DateTime:
    """The instant minute `minute` starts."""
    return catalog.SPAN_START.add(minutes=minute)


@final
@attrs.define
class Recorded:
    """What workers saw happen, by minute; shares of several workers add up.

    Attributes:
        orders: Orders the desk decided (accepted, held or refused), by
            `(channel, minute)`.
        held: Orders held for review, by their reasons joined with `+`.
        shipped: Shipped orders by `(region, minute paid, minute shipped)`.
    """

    orders: Counter[tuple[str, int]] = attrs.field(factory=Counter)
    held: Counter[str] = attrs.field(factory=Counter)
    shipped: Counter[tuple[str, int, int]] = attrs.field(factory=Counter)

    def merge(self, other: Recorded) -> None:
        """Add another worker's share."""
        self.orders.update(other.orders)
        self.held.update(other.held)
        self.shipped.update(other.shipped)


@final
class Recorder:
    """Records one worker's orders as their stage moves, step by step."""

    def __init__(self) -> None:
        """Start with nothing recorded."""
        self.recorded = Recorded()
        self._paid: dict[int, int] = {}

    def moved(
        self,
        plan: OrderPlan,
        before: str,
        after: str,
        review: tuple[str, ...],
        at: pendulum.DateTime,
    ) -> None:
        """A step moved `plan`'s order from stage `before` to `after` at `at`."""
        minute = minute_of(at)
        recorded = self.recorded
        if before == "new" and after in _DECIDED:
            recorded.orders[plan.channel, minute] += 1
            if after == "held":
                recorded.held["+".join(sorted(review))] += 1
        elif after == "paid":
            self._paid[plan.index] = minute
        elif after == "shipped":
            paid = self._paid.pop(plan.index, None)
            if paid is not None:
                region = catalog.CHANNEL_BY_NAME[plan.channel].region
                recorded.shipped[region, paid, minute] += 1
        elif after == "cancelled":
            self._paid.pop(plan.index, None)


@final
@attrs.frozen(slots=True)
class Level:
    """A SKU's stock after the movements of one minute, summed over locations.

    Attributes:
        minute: The minute.
        on_hand: Units in the warehouses.
        available: Units a channel may sell: on hand less held and allocated.
    """

    minute: int
    on_hand: int
    available: int


@final
@attrs.frozen(slots=True)
class LedgerSeries:
    """What the ledger's movements say happened, by minute.

    Attributes:
        holds: Holds by `(what happened, minute)`, what being a value of
            `HOLD_KINDS`.
        stock: Each hot SKU's levels, one per minute in which it moved,
            oldest first.
    """

    holds: Counter[tuple[str, int]]
    stock: Mapping[str, tuple[Level, ...]]


def _movements(unit: UnitOfWork) -> Iterator[Movement]:
    after = 0
    while True:
        with unit as uow:
            page = uow.ledger.movements(after=after, limit=_PAGE)
        yield from page
        if len(page) < _PAGE:
            return
        after = page[-1].seq


def read_ledger(unit: UnitOfWork) -> LedgerSeries:
    """Replay every movement of the ledger into holds and hot-SKU stock."""
    holds: Counter[tuple[str, int]] = Counter()
    hot = {sku.code: [0, 0] for sku in catalog.HOT}
    levels: dict[str, list[Level]] = {code: [] for code in hot}
    for movement in _movements(unit):
        minute = minute_of(movement.at)
        happened = HOLD_KINDS.get(movement.kind)
        if happened is not None:
            holds[happened, minute] += 1
        sums = hot.get(movement.sku)
        if sums is None:
            continue
        sums[0] += movement.on_hand
        sums[1] += movement.on_hand - movement.reserved - movement.allocated
        level = Level(minute, sums[0], sums[1])
        seen = levels[movement.sku]
        if seen and seen[-1].minute == minute:
            seen[-1] = level
        else:
            seen.append(level)
    return LedgerSeries(holds, {code: tuple(seen) for code, seen in levels.items()})


def sla_by_hour(
    shipped: Mapping[tuple[str, int, int], int], slas: Mapping[str, SlaPolicy]
) -> dict[str, dict[int, tuple[int, int]]]:
    """Shipments on time and in all, by region and hour shipped (from hour 0).

    Regions without a promise in `slas` are left out. The catalog's promises
    count business days and have whole-minute cut-offs, so every instant of
    a minute has the same deadline (the end of a day) and a parcel shipped
    in a minute is on time exactly when that minute's first instant is.
    """
    rates: dict[str, dict[int, tuple[int, int]]] = {}
    for region, sla in slas.items():
        mine = {key: n for key, n in shipped.items() if key[0] == region}
        if not mine:
            continue
        due = _deadlines(sla, sorted({paid for _, paid, _ in mine}))
        hours = rates.setdefault(region, {})
        for (_, paid, shipped_in), count in sorted(mine.items()):
            on_time = at_minute(shipped_in) < due[paid]
            kept, total = hours.get(shipped_in // 60, (0, 0))
            hours[shipped_in // 60] = (kept + count * on_time, total + count)
    return rates


def _deadlines(sla: SlaPolicy, minutes: list[int]) -> dict[int, pendulum.DateTime]:
    """The deadline of an order paid in each of `minutes` (sorted).

    A later payment never has an earlier deadline, so when two minutes have
    the same deadline every minute between them has it too: halving the
    list finds the few days the deadlines change on without working out
    each minute's (which costs a calendar walk each).
    """
    known: dict[int, pendulum.DateTime] = {}

    def due(index: int) -> pendulum.DateTime:
        minute = minutes[index]
        if minute not in known:
            known[minute] = sla.ship_by(at_minute(minute)).due
        return known[minute]

    def fill(low: int, high: int) -> None:
        if due(low) == due(high):
            for index in range(low + 1, high):
                known[minutes[index]] = known[minutes[low]]
        elif high - low > 1:
            middle = (low + high) // 2
            fill(low, middle)
            fill(middle, high)

    if minutes:
        fill(0, len(minutes) - 1)
    return known
