"""The back office's timers: expire holds, close unpaid orders, relay, monitor.

One worker runs them, between the other workers' steps (the workers wait
for each other at every tick), so a sweep never races an order's own
steps: it sees the whole database as of the tick. At the end of the day
each worker also recovers its sagas (`recover_sagas`), once the outage is
over.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from typing import Final, final

import pendulum

from orderkit.cli import _catalog as catalog
from orderkit.cli._world import World
from orderkit.orders import Order, OrderStatus, OutboxMessage
from orderkit.ports import UnitOfWork
from orderkit.services import (
    Ledger,
    Refunded,
    Stalled,
    recover,
    relay,
    status_changed_at,
    stuck_orders,
)


_CLOSE_EVERY: Final = dt.timedelta(minutes=15)
_MONITOR_EVERY: Final = dt.timedelta(hours=1)
_PAGE: Final = 500
_EVERY: Final = 2**62
"""A `send_due` limit above any count of refunds: every one owed, each round."""


def _every(unit: UnitOfWork, status: OrderStatus) -> Iterator[Order]:
    after: tuple[str, str] | None = None
    while True:
        with unit as uow:
            page = uow.orders.orders(status=status, after=after, limit=_PAGE)
        yield from page
        if len(page) < _PAGE:
            return
        after = (page[-1].channel, page[-1].order_id)


@final
class Sweeper:
    """Runs the timers at each tick, each at its own period.

    Args:
        world: The services of the worker that runs the timers.
    """

    def __init__(self, world: World) -> None:
        """Sweep with `world`'s desks and clock."""
        self._world = world
        self._closed_at: pendulum.DateTime | None = None
        self._monitored_at: pendulum.DateTime | None = None
        self.flagged: set[tuple[str, str]] = set()
        self.sellable: dict[str, int] = {}

    def sweep(self, at: pendulum.DateTime, *, final: bool = False) -> None:
        """Run whatever is due at `at` (everything, when `final`)."""
        world = self._world
        world.clock.move_to(at)
        with world.unit as uow:
            # Through the outbox: the channels hear of stock that came back.
            ledger = Ledger(uow.ledger, world.clock, outbox=uow.outbox)
            expired = ledger.expire_due()
            uow.commit()
        world.tally["holds_expired_swept"] += len(expired)
        if final or self._due(self._closed_at, at, _CLOSE_EVERY):
            self._closed_at = at
            self._close()
        self._relay()
        if final or self._due(self._monitored_at, at, _MONITOR_EVERY):
            self._monitored_at = at
            self._monitor(at)

    @staticmethod
    def _due(
        last: pendulum.DateTime | None, at: pendulum.DateTime, every: dt.timedelta
    ) -> bool:
        return last is None or at - last >= every

    def _close(self) -> None:
        desk = self._world.desks["CN"]
        while True:
            closed = desk.close_unpaid(limit=_PAGE)
            self._world.tally["closed_unpaid"] += sum(
                1 for c in closed if c.order.status is OrderStatus.CLOSED
            )
            if len(closed) < _PAGE:
                return

    def _relay(self) -> None:
        """Publish the outbox: sellable stock to the channels, notices to buyers."""
        world = self._world

        def publish(message: OutboxMessage) -> None:
            world.tally[f"outbox_{message.topic}"] += 1
            if message.topic == "sellable":
                body = json.loads(message.payload)
                self.sellable[body["sku"]] = body["sellable"]

        while True:
            with world.unit as uow:
                done = relay(
                    uow.outbox, publish, clock=world.clock, name="relay-0", limit=_PAGE
                )
                uow.commit()
            if len(done.published) < _PAGE:
                return

    def _monitor(self, at: pendulum.DateTime) -> None:
        """Flag orders paid but not picked, or picking, for too long."""
        world = self._world
        latest: dict[tuple[str, str], Order] = {}
        for status in (OrderStatus.PAID, OrderStatus.PICKING):
            for order in _every(world.unit, status):
                key = (order.channel, order.order_id)
                # Picked between the two listings, it is read twice:
                # `stuck_orders` takes each order once, as last read.
                if key not in latest or order.version > latest[key].version:
                    latest[key] = order
        orders = list(latest.values())
        changed: dict[tuple[str, str], pendulum.DateTime] = {}
        with world.unit as uow:
            for order in orders:
                records = uow.audit.records(order.channel, order.order_id)
                changed[order.channel, order.order_id] = status_changed_at(
                    order, records
                )
        found = stuck_orders(
            orders, now=at, rules=catalog.STUCK_RULES, changed_at=changed
        )
        for stuck in found:
            self.flagged.add((stuck.channel, stuck.order_id))
        world.tally["stuck_flagged"] = len(self.flagged)


def recover_sagas(world: World) -> None:
    """End the outage, resume the sagas left in flight, send every refund owed.

    The library's own recovery, as a host runs it when its outside answers
    again (see *Sagas and crash recovery*): a capture whose reply was lost
    is asked again under its key, and the money of an order closed
    meanwhile goes back as a refund; a parcel booked during a carrier's
    outage ships; pick tasks whose reply was lost are sent again. Once per
    region, each with its desk, checkout, carrier and warehouse; the
    others' sagas (and other workers') stall on the calls their providers
    refuse, or on the locations the region's desk does not serve, and wait
    for their own turn.
    """
    world.end_outage()
    tally = world.tally
    for region in catalog.REGIONS:
        recovery = recover(
            world.unit,
            checkout=world.checkouts[region],
            shipping=world.shipping[region],
            refunds=world.refunds,
            desk=world.desks[region],
            warehouse=world.warehouses[region],
            page=_PAGE,
        )
        tally["sagas_recovered"] += len(recovery.finished)
        tally["refunds"] += sum(isinstance(o, Refunded) for o in recovery.finished)
        if not recovery.stalled:
            # Nothing waits for another region's turn: spare a read of
            # the orders in flight per region left.
            break
    # A capture saga recovered hands over to the refund its money owes, and
    # a case waiting for a saga to end is owed its refund now: send them
    # all, round after round, until a round sends nothing.
    while True:
        sent = [
            outcome
            for outcome in world.refunds.send_due(limit=_EVERY)
            if not isinstance(outcome, Stalled)
        ]
        tally["refunds"] += sum(isinstance(o, Refunded) for o in sent)
        if not sent:
            return
