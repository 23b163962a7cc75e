"""Applying a stream of serialised order events to a unit of work's stores.

`replay(text, unit)` reads one event per line (`orderkit.serialization`'s
form, tagged by `"type"`), finds each event's order, applies it with the
lifecycle's `apply_all` and stores the order and its audit records, as the
order desk's `record` does, without the desk's stock and outbox effects:
a replay shows what the lifecycle makes of the stream.

Which order an event is for: an `OrderPlaced` names its channel; any
other event goes to the channel given beside it (`"channel": "taobao"` in
the line, which the event itself ignores), else to the order of that id
placed earlier in the stream, else to its key's channel if the store holds
the order there, else to the one stored order of that id on any channel
(a warehouse's or carrier's key names its own channel, not the order's).
An id stored on two channels is not guessed at. An event for an order not
placed yet is parked in memory and applied after that channel's
`OrderPlaced` of the order; an early event for a stored order is parked
with the order, with an audit record, as the desk does. An event a store
refuses (an id too long to keep, say) is reported rejected, and nothing of
it is stored.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final, final

import attrs
import pendulum

from orderkit.cli._jsonlines import items
from orderkit.dedupe import IdempotencyKey
from orderkit.errors import OrderkitError, StructureError, ValidationError
from orderkit.orders import (
    Applied,
    AuditRecord,
    Duplicate,
    Early,
    FieldChange,
    Order,
    OrderEvent,
    OrderPlaced,
    Outcome,
    RefundDue,
    Rejected,
    Stale,
    apply,
    apply_all,
)
from orderkit.ports import UnitOfWork
from orderkit.serialization import make_converter


OUTCOMES: Final = ("applied", "refund_due", "duplicate", "stale", "parked", "rejected")
"""Every outcome a step can have, in the order the summary counts them."""
NEVER_PLACED: Final = (
    "its order was never placed: neither the events nor the store have it"
    " (if it is stored under another channel than the event's key names,"
    ' give its "channel" in the event)'
)
"""Why an event still waits at the end (unless its order id is ambiguous)."""
_COMMIT_EVERY: Final = 500
_PAGE: Final = 500


@final
@attrs.frozen(slots=True)
class Step:
    """What became of one event (an event parked, then applied, has two).

    Attributes:
        line: The event's line in the file; `None` for an event parked by
            an earlier replay into the same database.
        event_type: The event's class name.
        channel: The order's channel, once known.
        order_id: The order's id.
        outcome: One of `OUTCOMES`.
        detail: What happened, for people.
    """

    line: int | None
    event_type: str
    channel: str
    order_id: str
    outcome: str
    detail: str


@final
@attrs.frozen(slots=True)
class Malformed:
    """A line that is not an event: not JSON, or not an event's shape."""

    line: int
    problem: str


@final
@attrs.define
class Replay:
    """Everything a replay did, in the order it happened.

    Attributes:
        steps: One per outcome, in the order the events were settled.
        malformed: The lines that could not be read.
        waiting: Events still waiting, at the end, for an order never placed
            or stored under more than one channel (they were not stored).
        touched: The orders the stream reached, `(channel, order_id)`, in
            the order first reached.
        events: How many lines held an event.
    """

    events: int = 0
    steps: list[Step] = attrs.Factory(list)
    malformed: list[Malformed] = attrs.Factory(list)
    waiting: list[Step] = attrs.Factory(list)
    touched: dict[tuple[str, str], None] = attrs.Factory(dict)


# An event applied after it was parked says so in its detail.
_LATER: Final = "(was parked)"


class _Replayer:
    def __init__(self) -> None:
        self.result = Replay()
        self.now = pendulum.datetime(1970, 1, 1)
        self._line = 0
        self._current: OrderEvent | None = None
        self._placed: dict[str, str] = {}
        # Events waiting for their order, by (channel, order id).
        self._pending: dict[tuple[str, str], list[OrderEvent]] = {}
        self._lines: dict[IdempotencyKey, int] = {}
        # The channels of every stored order id, read once, at the first
        # event whose order is neither placed in the stream nor under its
        # key's channel; orders stored after that were placed in the stream.
        self._stored: dict[str, list[str]] | None = None
        # Ids stored on more than one channel: their events wait, unguessed.
        self._ambiguous: dict[str, list[str]] = {}

    def event(self, uow: UnitOfWork, line: int, raw: object, event: OrderEvent) -> None:
        self._lines.setdefault(event.key, line)
        self._line, self._current = line, event
        self.now = max(self.now, event.occurred_at)
        try:
            channel = self._channel(uow, raw, event)
        except ValidationError as error:
            # Looking the order up checks its id as a store keeps it: an id
            # too long to keep refuses the event, not the whole replay.
            channel = event.key.channel
            self._step(event, channel, "rejected", f"a store refused it: {error}")
            return
        # What applying the event may change, to undo if a store refuses it:
        # the steps, and the order's entries of pending and placed.
        steps = len(self.result.steps)
        key = (channel, event.order_id)
        pending = self._pending.get(key)
        waited = None if pending is None else list(pending)
        placed = event.order_id in self._placed
        try:
            self._apply(uow, channel, event)
        except ValidationError as error:
            # A store refused what the lifecycle took: nothing of the event
            # was written (a store writes nothing when it refuses), so the
            # replay forgets what it made of it too.
            del self.result.steps[steps:]
            self._pending.pop(key, None)
            if waited is not None:
                self._pending[key] = waited
            if not placed:
                self._placed.pop(event.order_id, None)
            self._step(event, channel, "rejected", f"a store refused it: {error}")

    def _channel(self, uow: UnitOfWork, raw: object, event: OrderEvent) -> str:
        """The channel of the event's order (see the module)."""
        if isinstance(event, OrderPlaced):
            return event.channel
        given = raw.get("channel") if isinstance(raw, Mapping) else None
        if isinstance(given, str) and given:
            return given
        oid, fallback = event.order_id, event.key.channel
        placed = self._placed.get(oid)
        if placed:
            return placed
        if uow.orders.get(fallback, oid) is not None:
            return fallback
        channels = self._stored_channels(uow).get(oid, [])
        if len(channels) == 1:
            return channels[0]
        if len(channels) > 1:
            self._ambiguous[oid] = channels
        return fallback

    def _stored_channels(self, uow: UnitOfWork) -> dict[str, list[str]]:
        # The OrderStore port finds an order by channel and id only, so the
        # ids are listed once, page by page.
        if self._stored is None:
            self._stored = {}
            after: tuple[str, str] | None = None
            while True:
                page = uow.orders.orders(after=after, limit=_PAGE)
                for order in page:
                    self._stored.setdefault(order.order_id, []).append(order.channel)
                if len(page) < _PAGE:
                    break
                after = (page[-1].channel, page[-1].order_id)
        return self._stored

    def _unplaced(self, order_id: str, otherwise: str) -> str:
        """Why an event waits for its order: `otherwise`, unless its id is ambiguous."""
        channels = self._ambiguous.get(order_id)
        if channels:
            return (
                f"orders of this id are stored on {', '.join(channels)}:"
                f' give its "channel" in the event'
            )
        return otherwise

    def _apply(self, uow: UnitOfWork, channel: str, event: OrderEvent) -> None:
        oid = event.order_id
        if isinstance(event, OrderPlaced):
            self._placed.setdefault(oid, channel)
            found = uow.orders.get(channel, oid)
            waiting = self._pending.pop((channel, oid), []) if found is None else []
            self._settle(uow, channel, found, event, waiting)
            return
        found = uow.orders.get(channel, oid)
        if found is not None:
            self._settle(uow, channel, found, event, [])
            return
        pending = self._pending.setdefault((channel, oid), [])
        if any(p.key == event.key for p in pending):
            self._step(event, channel, "duplicate", "already parked, waiting")
            return
        pending.append(event)
        detail = self._unplaced(oid, "the order has not been placed yet")
        self._step(event, channel, "parked", detail)

    def _settle(
        self,
        uow: UnitOfWork,
        channel: str,
        order: Order | None,
        event: OrderEvent,
        waiting: list[OrderEvent],
    ) -> None:
        before = order.parked if order is not None else ()
        if order is not None:
            self.result.touched.setdefault((channel, order.order_id), None)
        if any(p.key == event.key for p in before):
            self._step(event, channel, "duplicate", "already parked, waiting")
            return
        batch = apply_all(order, [event], parked=(*before, *waiting), now=self.now)
        for outcome in batch.outcomes:
            self._record(outcome, channel)
        new = batch.order
        if event in batch.parked:
            self._step(event, channel, "parked", self._why_early(new, event))
        if new is None:
            # The OrderPlaced was rejected: what waited for it waits on.
            if waiting:
                self._pending[channel, event.order_id] = [
                    p for p in batch.parked if p in waiting
                ]
            return
        self.result.touched.setdefault((channel, new.order_id), None)
        records = list(batch.records)
        for parked in batch.parked:
            if parked not in before:
                new = attrs.evolve(new, version=new.version + 1)
                records.append(_parked_record(new, parked, self.now))
        new = attrs.evolve(new, parked=batch.parked)
        if new == order:
            return
        uow.orders.save(new, None if order is None else order.version)
        uow.audit.append(channel, records)

    def _why_early(self, order: Order | None, event: OrderEvent) -> str:
        try:
            outcome = apply(order, event, now=self.now)
        except OrderkitError as error:
            return str(error)
        return outcome.reason if isinstance(outcome, Early) else "waiting"

    def _record(self, outcome: Outcome | Rejected, channel: str) -> None:
        event = outcome.event
        later = event is not self._current
        if isinstance(outcome, Applied | RefundDue):
            last = outcome.records[-1]
            was = "placed" if last.from_status is None else last.from_status.value
            detail = f"{was} -> {last.to_status.value} (v{last.version})"
            kind = "applied"
            if isinstance(outcome, RefundDue):
                kind = "refund_due"
                detail += f", refund due {outcome.amount}"
        elif isinstance(outcome, Duplicate):
            kind, detail = "duplicate", "applied before: nothing changed"
        elif isinstance(outcome, Stale):
            kind, detail = "stale", outcome.reason
        elif isinstance(outcome, Rejected):
            kind, detail = "rejected", str(outcome.error)
        else:
            kind, detail = "parked", outcome.reason
        self._step(event, channel, kind, f"{detail} {_LATER}" if later else detail)

    def _step(self, event: OrderEvent, channel: str, outcome: str, detail: str) -> None:
        current = event is self._current
        self.result.steps.append(
            Step(
                line=self._line if current else self._lines.get(event.key),
                event_type=type(event).__name__,
                channel=channel,
                order_id=event.order_id,
                outcome=outcome,
                detail=detail,
            )
        )

    def finish(self) -> Replay:
        for (channel, oid), events in self._pending.items():
            for event in events:
                self.result.waiting.append(
                    Step(
                        line=self._lines.get(event.key),
                        event_type=type(event).__name__,
                        channel=channel,
                        order_id=oid,
                        outcome="parked",
                        detail=self._unplaced(oid, NEVER_PLACED),
                    )
                )
        return self.result


def _parked_record(
    order: Order, event: OrderEvent, now: pendulum.DateTime
) -> AuditRecord:
    """The audit record of parking an early event with the order, as the desk's."""
    return AuditRecord(
        order_id=order.order_id,
        version=order.version,
        from_status=order.status,
        to_status=order.status,
        event_type=f"Parked{type(event).__name__}",
        key=event.key,
        actor=event.actor,
        source=event.source,
        occurred_at=event.occurred_at,
        recorded_at=now,
        changes=(FieldChange("parked", "", type(event).__name__),),
    )


def replay(text: str, unit: UnitOfWork) -> Replay:
    """Apply every event of `text` to the stores of `unit`; see the module.

    Events are applied at the latest `occurred_at` seen so far, so a replay
    of the same file gives the same audit trail. The whole file is read
    before the first event is applied; then the unit commits every few
    hundred events and at the end.

    Raises:
        NotJson: The file is a JSON array that is not JSON; nothing of it
            was applied.
        StoreError: A store failed; what was committed before stays.
    """
    converter = make_converter()
    replayer = _Replayer()
    # A broken array is refused whole: read it all before a commit could
    # keep the events ahead of the error.
    read = list(items(text))
    with unit as uow:
        for item in read:
            if item.error is not None:
                replayer.result.malformed.append(Malformed(item.line, item.error))
                continue
            try:
                event = converter.structure(item.value, OrderEvent)
            except StructureError as error:
                where = f"{error.field}: " if error.field else ""
                problem = f"{where}{error.problem}"
                replayer.result.malformed.append(Malformed(item.line, problem))
                continue
            replayer.result.events += 1
            replayer.event(uow, item.line, item.value, event)
            if replayer.result.events % _COMMIT_EVERY == 0:
                uow.commit()
        uow.commit()
    return replayer.finish()


def stored(
    unit: UnitOfWork, touched: Mapping[tuple[str, str], None]
) -> list[tuple[str, Order, tuple[AuditRecord, ...]]]:
    """The orders the replay reached, as stored, with their audit trails."""
    found = []
    with unit as uow:
        for channel, order_id in touched:
            order = uow.orders.get(channel, order_id)
            if order is not None:
                trail = tuple(uow.audit.records(channel, order_id))
                found.append((channel, order, trail))
    return found
