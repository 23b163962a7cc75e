"""The pick saga: an order's pick tasks, remembered before the warehouse hears of them.

`OrderDesk.start_picking` stores a `pick` saga naming the order's pick tasks
before it sends them, since the `Warehouse` port cannot withdraw a task: a
task whose reply was lost, or sent before a crash, may be picked. The saga
ends in the unit that moves the order out of paid: picking started (the
tasks are the order's), or the order cancelled or closed (the tasks may
pick goods for nobody: a person voids them, told by `review` "pick").
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import Final

import pendulum

from orderkit.errors import ConfigurationError
from orderkit.integrations import PickTask
from orderkit.orders import (
    AuditRecord,
    FieldChange,
    Order,
    OrderStatus,
    Saga,
    order_stream,
)
from orderkit.services import _saga_steps as steps
from orderkit.services._desk_notes import held_for


PICK: Final = "pick"
"""The pick saga's name, and the review reason of tasks to void."""


def pick_saga(order: Order, tasks: Sequence[PickTask], now: pendulum.DateTime) -> Saga:
    """The saga that sends `tasks`, keyed once per order as `PickingStarted` is."""
    return Saga(
        name=PICK,
        step=steps.REQUESTED,
        key=f"{PICK}:{order_stream(order.channel, order.order_id)}",
        started_at=now,
        tasks=tuple(task.task_id for task in tasks),
    )


def picking(order: Order) -> Saga | None:
    """The order's pick saga in flight, or `None`."""
    saga = order.saga
    return saga if saga is not None and saga.name == PICK else None


def voids(task_ids: Sequence[str]) -> str:
    """What a person is told to void: the tasks, by id."""
    return f"void {', '.join(task_ids)}"


def pick_ended(
    order: Order, now: pendulum.DateTime
) -> tuple[Order, tuple[AuditRecord, ...]]:
    """The order with its pick saga ended once it has left paid, and the record.

    An order without a pick saga, or still paid, is returned as it is.

    Picking started, or anything further (the warehouse's own notice came
    first), ends it done. Cancelled or closed, the order waits for a person
    (`review` gains "pick") to void the tasks the saga names, which the
    saga's result lists; the refund the order owes starts as ever, since the
    saga no longer runs.
    """
    saga = picking(order)
    if saga is None or order.status is OrderStatus.PAID:
        return order, ()
    if order.status in steps.ENDED:
        ended, record = pick_refused(order, f"the order is {order.status}", now)
    else:
        ended, record = steps.ended(order, saga, f"sent {', '.join(saga.tasks)}", now)
    return ended, (record,)


def pick_refused(
    order: Order, why: str | Exception, now: pendulum.DateTime
) -> tuple[Order, AuditRecord]:
    """The order's pick saga ended unpicked, for a person to void its tasks.

    The saga's result says `why` and names the tasks; `review` gains "pick".
    """
    saga = picking(order)
    assert saga is not None  # noqa: S101 - only orders with a pick saga get here
    said = why if isinstance(why, str) else steps.reason_text(why)
    result = f"{said}: {voids(saga.tasks)}"
    return steps.ended(order, saga, result, now, review=PICK)


def pick_started(
    order: Order, tasks: Sequence[PickTask], now: pendulum.DateTime
) -> tuple[Order, AuditRecord]:
    """The order with its pick saga stored, naming `tasks`, and its audit record."""
    return steps.started(order, pick_saga(order, tasks, now))


def check_served(
    order: Order, tasks: Sequence[PickTask], locations: Collection[str]
) -> None:
    """Refuse to send `tasks` that go to a location outside `locations`.

    A desk's warehouse serves the desk's locations only: a task for
    another location sent to it would be picked by nobody, or twice.

    Raises:
        ConfigurationError: A task's location is not among `locations`
            (`setting` is "warehouse"; the problem names the locations).
    """
    others = sorted({task.location for task in tasks} - set(locations))
    if others:
        raise ConfigurationError(
            "warehouse",
            f"the pick tasks of {order.channel}:{order.order_id} go to "
            f"{', '.join(others)}, which this desk does not serve: pick it with "
            "that location's desk and warehouse",
        )


def picked_for_nobody(
    order: Order, tasks: Sequence[PickTask], now: pendulum.DateTime
) -> tuple[Order, AuditRecord]:
    """An order ended while the warehouse picks it, held for a person.

    `review` gains "pick"; the audit record names the tasks to void.
    """
    void = FieldChange(PICK, "", voids([task.task_id for task in tasks]))
    return held_for(order, PICK, now, void)
