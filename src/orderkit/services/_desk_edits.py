"""Lines a channel changed after intake (改价, 改单): the order waits for a person.

Staff who change a price or a quantity in a channel's back office leave
orderkit's lines as they were: the buyer pays what the channel asks, and
finance cannot match it with what the order says (the brief's incident 7,
untraceable manual edits). `OrderDesk.update` compares the lines of each
later notice with the order's; a price or quantity the order does not have,
or a line only one side has, holds the order for a person (`review` gains
`"edited"`), with an audit record that names each difference as a change
from the order's value to the channel's, the channel as its actor and
source.
"""

from __future__ import annotations

from collections.abc import Iterable, MutableSequence, Sequence
from typing import Final

import attrs
import pendulum

from orderkit.integrations import ChannelOrder
from orderkit.money import Money
from orderkit.orders import (
    AuditRecord,
    Cancelled,
    Closed,
    FieldChange,
    Order,
    OrderLine,
)
from orderkit.orders._price_changes import ChangeState
from orderkit.orders._status import ENDED
from orderkit.services._desk_notes import held_telling, state_on_placed


EDITED: Final = "edited"
"""Why an order waits for a person: its channel states lines it does not have."""

_HELD: Final = "HeldForReview"
_RELEASED: Final = "Released"
_PLACED: Final = "OrderPlaced"
_UPDATED_AT: Final = "updated_at"


def state_updated_at(
    records: MutableSequence[AuditRecord], incoming: ChannelOrder
) -> None:
    """Add when the channel last changed the order to intake's `OrderPlaced` record.

    The order does not keep it: `line_edits` reads it back, so that a notice
    older than the one the order was taken in from states no edit.
    """
    if incoming.updated_at is not None:
        state_on_placed(records, _UPDATED_AT, incoming.updated_at.isoformat())


def may_be_edited(order: Order, incoming: ChannelOrder) -> bool:
    """Whether a notice may state edits: the test made before the trail is read.

    Most notices state the order's lines as they were taken in. A notice
    that ends the order (its status, or a cancellation or close among its
    events) edits nothing anyone will be billed for.
    """
    if incoming.placed.lines == order.lines or order.status in ENDED:
        return False
    if incoming.status in ENDED:
        return False
    return not any(isinstance(event, Cancelled | Closed) for event in incoming.events)


def line_edits(
    order: Order, incoming: ChannelOrder, records: Sequence[AuditRecord]
) -> tuple[FieldChange, ...]:
    """What a notice states of the order's lines that no one was told yet.

    Lines are matched by id; each difference goes from the order's value to
    the channel's:

    - A unit price the line does not have, unless a pending change asks for
      it (a person asked first), or an approved change moved the line from
      it and the channel never stated that change's price (it has not heard
      of orderkit's change). Told once until the order is released: a
      price is settled by an approved change, never by a release alone.
    - A quantity, or a line only one side has: told once, for good (no
      change settles those; a person releases or cancels the order).

    The SKU a notice states is the catalogue's as it answers (a renamed or
    deleted product changes it): it is not the buyer's, nor is a title.
    A notice older (`updated_at`) than the one the order was taken in from,
    or than one that told an edit, states none.
    """
    told = _Told.read(records, incoming.channel)
    sent = incoming.updated_at
    if sent is not None and told.latest is not None and sent < told.latest:
        return ()
    ours = {line.line_id: line for line in order.lines}
    theirs = {line.line_id: line for line in incoming.placed.lines}
    edits: list[FieldChange] = []
    for line_id, line in theirs.items():
        field = f"lines[{line_id}]"
        mine = ours.get(line_id)
        if mine is None:
            edits.append(FieldChange(field, "", _line_text(line)))
            continue
        if line.quantity != mine.quantity:
            edits.append(
                FieldChange(f"{field}.quantity", str(mine.quantity), str(line.quantity))
            )
        price = f"{field}.unit_price"
        if line.unit_price not in _prices_known(order, mine, price, told.ever):
            edits.append(FieldChange(price, str(mine.unit_price), str(line.unit_price)))
    edits += [
        FieldChange(f"lines[{line_id}]", _line_text(line), "")
        for line_id, line in ours.items()
        if line_id not in theirs
    ]
    return tuple(
        edit
        for edit in edits
        if (edit.field, edit.new)
        not in (told.since_release if edit.field.endswith(".unit_price") else told.ever)
    )


@attrs.frozen(slots=True)
class _Told:
    """What the channel's edits in the trail named: `(field, new)` pairs.

    `ever`, and `since_release` (after the order's last release); `latest`
    is when the newest of them happened on the channel.
    """

    ever: frozenset[tuple[str, str]]
    since_release: frozenset[tuple[str, str]]
    latest: pendulum.DateTime | None

    @classmethod
    def read(cls, records: Sequence[AuditRecord], channel: str) -> _Told:
        ever: set[tuple[str, str]] = set()
        since: set[tuple[str, str]] = set()
        latest: pendulum.DateTime | None = None
        for record in records:
            if record.event_type == _RELEASED:
                since.clear()
            at: pendulum.DateTime | None = record.occurred_at
            if record.event_type == _PLACED:
                at = _updated_at(record)
            elif record.event_type == _HELD and record.source == channel:
                said = {(c.field, c.new) for c in record.changes if c.field != "review"}
                ever |= said
                since |= said
            else:
                continue
            if at is not None and (latest is None or at > latest):
                latest = at
        return cls(frozenset(ever), frozenset(since), latest)


def _updated_at(placed: AuditRecord) -> pendulum.DateTime | None:
    """When the notice intake took the order in from said it last changed."""
    for change in placed.changes:
        if change.field == _UPDATED_AT:
            stated = pendulum.parse(change.new)
            return stated if isinstance(stated, pendulum.DateTime) else None
    return None


def edited_on_channel(records: Iterable[AuditRecord], channel: str) -> bool:
    """Whether the trail tells of lines the channel changed since intake."""
    return any(r.event_type == _HELD and r.source == channel for r in records)


def held_for_edits(
    order: Order,
    edits: Sequence[FieldChange],
    now: pendulum.DateTime,
    incoming: ChannelOrder,
) -> tuple[Order, AuditRecord]:
    """The order waiting for a person about `edits`, and the record naming them.

    The channel made the change, so it is the record's actor and source,
    and the record happened when the channel says it changed the order
    (`updated_at`; `now` if it does not say). An order waiting for
    `"edited"` already keeps its review: the record names the new
    differences as well.
    """
    held, record = held_telling(order, EDITED, edits, now)
    channel = incoming.channel
    return held, attrs.evolve(
        record,
        actor=channel,
        source=channel,
        occurred_at=incoming.updated_at or now,
    )


def edits_detail(edits: Iterable[FieldChange]) -> str:
    """What a person reads of `edits`: each field, from the order's to the channel's."""
    said = "; ".join(f"{e.field}: {e.old or '-'} -> {e.new or '-'}" for e in edits)
    return f"渠道改单 / changed on the channel: {said}"


def _prices_known(
    order: Order, line: OrderLine, field: str, stated: frozenset[tuple[str, str]]
) -> set[Money]:
    known = {line.unit_price}
    for change in order.price_changes:
        if change.line_id != line.line_id:
            continue
        if change.state is ChangeState.PENDING:
            known.add(change.new_unit_price)
        elif change.state is ChangeState.APPROVED and (
            (field, str(change.new_unit_price)) not in stated
        ):
            known.add(change.old_unit_price)
    return known


def _line_text(line: OrderLine) -> str:
    return f"{line.sku} x{line.quantity} @ {line.unit_price}"
