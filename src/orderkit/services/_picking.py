"""The pick saga: an order's pick tasks, remembered before the warehouse hears of them.

`OrderDesk.start_picking` stores a `pick` saga naming the order's pick tasks
before it sends them, since the `Warehouse` port cannot withdraw a task: a
task whose reply was lost, or sent before a crash, may be picked. The saga
ends in the unit that moves the order out of paid: picking started (the
tasks are the order's), or the order cancelled or closed (the tasks may
pick goods for nobody: a person voids them, told by `review` "pick").
`OrderPicking` runs the saga for the desk, against its unit and a warehouse.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from typing import Final, final

import pendulum

from orderkit.dedupe import IdempotencyKey
from orderkit.errors import ConfigurationError, IllegalTransition, OrderkitError
from orderkit.integrations import PickTask
from orderkit.orders import (
    AuditRecord,
    FieldChange,
    Order,
    OrderEvent,
    OrderStatus,
    PickingStarted,
    Saga,
    order_stream,
)
from orderkit.orders._status import ENDED
from orderkit.ports import Clock, UnitOfWork, Warehouse
from orderkit.services import _saga_steps as steps
from orderkit.services._desk_notes import held_for
from orderkit.services._desk_stock import OrderStock
from orderkit.services._intake import EventRecorded


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
    if order.status in ENDED:
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
            value=tuple(others),
        )


def picked_for_nobody(
    order: Order, tasks: Sequence[PickTask], now: pendulum.DateTime
) -> tuple[Order, AuditRecord]:
    """An order ended while the warehouse picks it, held for a person.

    `review` gains "pick"; the audit record names the tasks to void.
    """
    void = FieldChange(PICK, "", voids([task.task_id for task in tasks]))
    return held_for(order, PICK, now, void)


def queued(order: Order) -> bool:
    """Whether a paid order waits in the picking queue.

    One held for review, or with a saga other than its pick saga in flight,
    waits outside, as does one whose every stocked unit a refund cancelled
    (`nothing_to_pick`); one whose pick saga is in flight stays, since
    `OrderDesk.start_picking` resumes it with the same tasks (or, its
    committed stock no longer making them, holds it for a person).
    """
    if order.review:
        return False
    if order.saga is None:
        return not nothing_to_pick(order)
    return picking(order) is not None


def nothing_to_pick(order: Order) -> bool:
    """Whether a refund cancelled every stocked unit of the order.

    Its stocked lines' units are all in `Order.cancelled_units` (none
    shipped: a paid order has no parcel), so no pick task would ask for
    any: picking it would move it to picking for good, with nothing for the
    warehouse to do. Its channel states its own cancellation. An order of
    unstocked lines alone (a gift card) is picked with no task, as ever.
    """
    if not order.cancelled_units:
        return False
    stocked = [line for line in order.lines if line.stocked]
    if not stocked:
        return False
    cancelled = {part.line_id: part.quantity for part in order.cancelled_units}
    return all(cancelled.get(line.line_id, 0) >= line.quantity for line in stocked)


def _check_pickable(order: Order) -> None:
    """Refuse to start picking an order that is not paid, or that waits.

    Raises:
        IllegalTransition: The order is not paid, waits for a person, has
            nothing to pick (`nothing_to_pick`), or another saga is in
            flight on it (the reason says which).
    """
    if order.status is not OrderStatus.PAID or order.review:
        why = "only a paid order that waits for nobody is picked"
        if PICK in order.review:
            why = f"{why}: its pick tasks wait for a person to void them"
        raise IllegalTransition(order.order_id, order.status, "start_picking", why)
    if order.saga is None and nothing_to_pick(order):
        why = (
            "a refund cancelled every stocked unit (cancelled_units): there is "
            "nothing to pick; its channel's cancellation, or `cancel`, ends it"
        )
        raise IllegalTransition(order.order_id, order.status, "start_picking", why)
    if order.saga is not None:
        why = f"a {order.saga.name} saga is in flight"
        raise IllegalTransition(
            order.order_id, order.status, "start_picking", why, retry=True
        )


@final
class OrderPicking:
    """The pick saga run for the order desk: `OrderDesk.start_picking`.

    The desk lends what the saga needs of it: its unit of work and clock,
    the locations it serves, its stock over a unit, and its `record`, which
    applies `PickingStarted` with all its effects.
    """

    def __init__(
        self,
        unit: UnitOfWork,
        clock: Clock,
        locations: Collection[str],
        stock: Callable[[UnitOfWork], OrderStock],
        record: Callable[[str, str, OrderEvent], EventRecorded],
    ) -> None:
        """Run the saga over `unit`, recording through `record`."""
        self._unit = unit
        self._clock = clock
        self._locations = locations
        self._stock = stock
        self._record = record

    def start(self, channel: str, order_id: str, warehouse: Warehouse) -> EventRecorded:
        """Send a paid order's pick tasks to `warehouse`, then mark it picking.

        What each step does, and what it raises: `OrderDesk.start_picking`.
        """
        with self._unit as uow:
            order = steps.order_of(uow, channel, order_id)
            saga = picking(order)
            if saga is None:
                _check_pickable(order)
                tasks = self._stock(uow).pick_tasks(order)
                check_served(order, tasks, self._locations)
                if tasks:
                    now = self._clock.now()
                    started, record = pick_started(order, tasks, now)
                    steps.write(uow, order, started, record)
                    uow.commit()
                    saga = started.saga
            elif order.status is OrderStatus.PAID:
                # Resumed: the same tasks, from the same committed units.
                tasks = self._stock(uow).pick_tasks(order)
                # Before anything is sent or ended: another desk's resumes it.
                check_served(order, tasks, self._locations)
            else:
                tasks = ()
        if saga is not None and tuple(t.task_id for t in tasks) != saga.tasks:
            # Its stock is no longer what the saga sent: a person decides.
            sent = ", ".join(saga.tasks)
            why = IllegalTransition(
                order_id,
                order.status,
                "start_picking",
                f"its committed stock no longer makes the tasks {sent}",
            )
            raise self._refused(channel, order_id, saga.tasks, why)
        sent_ids = [task.task_id for task in tasks]
        for task in tasks:
            try:
                warehouse.create_pick_task(task)
            except steps.RETRY_LATER:
                raise
            except OrderkitError as no:
                # The warehouse's no: asking again gets the same answer, and
                # a task sent before it may be picked, so a person decides.
                said = f"the warehouse refused {task.task_id}: {steps.reason_text(no)}"
                raise self._refused(channel, order_id, sent_ids, no, said) from no
        event = PickingStarted(
            order_id=order_id,
            key=IdempotencyKey("orderkit", "picking", order_id, channel),
            occurred_at=self._clock.now(),
            source="orderkit",
        )
        recorded = self._record(channel, order_id, event)
        refused = steps.refusal(recorded, event)
        if refused is not None and tasks:
            raise self._refused(channel, order_id, sent_ids, refused)
        return recorded

    def _refused(
        self,
        channel: str,
        order_id: str,
        tasks: Sequence[str],
        why: Exception,
        said: str = "the order moved on while its pick tasks were sent",
    ) -> IllegalTransition:
        """Hold an order whose pick tasks went out for nothing, for a person.

        Its pick saga, when still in flight, ends in the same unit. Returns
        the error to raise: `said`, then the tasks to void; its cause `why`.
        """
        with self._unit as uow:
            order = steps.order_of(uow, channel, order_id)
            now = self._clock.now()
            held: tuple[Order, AuditRecord] | None = None
            if picking(order) is not None:
                held = pick_refused(order, why, now)
            elif PICK not in order.review:
                held = held_for(order, PICK, now)
            if held is not None:
                steps.write(uow, order, *held)
                uow.commit()
        error = IllegalTransition(
            order_id,
            order.status,
            "start_picking",
            f"{said}: {voids(tasks)}",
        )
        error.__cause__ = why
        return error
