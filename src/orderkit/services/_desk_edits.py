"""Lines a channel changed after intake (改价, 改单): the order waits for a person.

Staff who change a price or a quantity in a channel's back office leave
orderkit's lines as they were: the buyer pays what the channel asks, and
finance cannot match it with what the order says (the brief's incident 7,
untraceable manual edits). `OrderDesk.update` compares the lines of each
later notice with the order's; what orderkit never had of a line holds the
order for a person (`review` gains `"edited"`), with an audit record that
names each difference as a change from the order's value to the channel's,
the channel as its actor and source.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Final

import attrs
import pendulum

from orderkit.money import Money
from orderkit.orders import AuditRecord, FieldChange, Order, OrderLine
from orderkit.orders._price_changes import ChangeState
from orderkit.services._desk_notes import held_telling


EDITED: Final = "edited"
"""Why an order waits for a person: its channel states lines it does not have."""


def line_edits(order: Order, lines: Sequence[OrderLine]) -> tuple[FieldChange, ...]:
    """What a channel's `lines` state that orderkit never had of the order.

    Lines are matched by id. A unit price counts when the line never had
    it: not its price now, nor one an approved price change moved it from
    (the channel has not heard of orderkit's change), nor the price a
    pending change asks for (a person asked for it already). A SKU or a
    quantity counts when it differs, and so does a line only one side has
    (its change goes from or to `""`). Titles and `stocked` are the
    mapper's, not the buyer's: they do not count.
    """
    if tuple(lines) == order.lines:
        return ()
    ours = {line.line_id: line for line in order.lines}
    theirs = {line.line_id: line for line in lines}
    edits: list[FieldChange] = []
    for line_id, line in theirs.items():
        field = f"lines[{line_id}]"
        mine = ours.get(line_id)
        if mine is None:
            edits.append(FieldChange(field, "", _line_text(line)))
            continue
        if line.sku != mine.sku:
            edits.append(FieldChange(f"{field}.sku", mine.sku, line.sku))
        if line.quantity != mine.quantity:
            edits.append(
                FieldChange(f"{field}.quantity", str(mine.quantity), str(line.quantity))
            )
        if line.unit_price not in _prices_known(order, mine):
            edits.append(
                FieldChange(
                    f"{field}.unit_price", str(mine.unit_price), str(line.unit_price)
                )
            )
    edits += [
        FieldChange(f"lines[{line_id}]", _line_text(line), "")
        for line_id, line in ours.items()
        if line_id not in theirs
    ]
    return tuple(edits)


def untold(
    edits: Iterable[FieldChange], records: Iterable[AuditRecord]
) -> list[FieldChange]:
    """The `edits` no record of the trail names yet: the same value, told once.

    A notice sent again, or one that still states a change a person has
    looked at, holds the order no more.
    """
    told = {(c.field, c.new) for record in records for c in record.changes}
    return [edit for edit in edits if (edit.field, edit.new) not in told]


def held_for_edits(
    order: Order,
    edits: Sequence[FieldChange],
    now: pendulum.DateTime,
    *,
    channel: str,
) -> tuple[Order, AuditRecord]:
    """The order waiting for a person about `edits`, and the record naming them.

    The channel made the change, so it is the record's actor and source.
    An order waiting for `"edited"` already keeps its review: the record
    names the new differences as well.
    """
    held, record = held_telling(order, EDITED, edits, now)
    return held, attrs.evolve(record, actor=channel, source=channel)


def edits_detail(edits: Iterable[FieldChange]) -> str:
    """What a person reads of `edits`: each field, from the order's to the channel's."""
    said = "; ".join(f"{e.field}: {e.old or '-'} -> {e.new or '-'}" for e in edits)
    return f"渠道改单 / changed on the channel: {said}"


def _prices_known(order: Order, line: OrderLine) -> set[Money]:
    known = {line.unit_price}
    for change in order.price_changes:
        if change.line_id != line.line_id:
            continue
        if change.state is ChangeState.APPROVED:
            known.add(change.old_unit_price)
        elif change.state is ChangeState.PENDING:
            known.add(change.new_unit_price)
    return known


def _line_text(line: OrderLine) -> str:
    return f"{line.sku} x{line.quantity} @ {line.unit_price}"
