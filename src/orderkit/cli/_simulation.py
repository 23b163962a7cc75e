"""The driver: one worker's share of the orders, through the desk, in time order.

A worker drives the orders whose index it owns (`index % workers`): every
step of an order runs in the worker that placed it, so two workers never
race for one order, while they do race for the same stock, limits and
duplicate index, which is what the shared database must get right. Steps
run in simulated time from a heap; a step may schedule the next (a shipped
parcel gets its scans).
"""

from __future__ import annotations

import datetime as dt
import heapq
import itertools
from collections.abc import Callable, Sequence
from typing import Final, final

import pendulum

from orderkit.cli import _aftersales as aftersales
from orderkit.cli import _buying as buying
from orderkit.cli import _fulfilment as fulfilment
from orderkit.cli._plans import OrderPlan
from orderkit.cli._series import Recorder
from orderkit.cli._steps import Context, OrderState, Step
from orderkit.cli._world import World
from orderkit.errors import ConcurrencyConflict, OrderkitError


Handler = Callable[[Context, OrderPlan, OrderState], None]

_HANDLERS: Final[dict[Step, Handler]] = {
    Step.CREATE: lambda c, p, s: buying.arrive(c, p, s, again=False),
    Step.CREATE_AGAIN: lambda c, p, s: buying.arrive(c, p, s, again=True),
    Step.PAY: lambda c, p, s: buying.pay(c, p, s, again=False),
    Step.PAY_AGAIN: lambda c, p, s: buying.pay(c, p, s, again=True),
    Step.REPRICE: buying.reprice,
    Step.DECIDE: buying.decide,
    Step.REVIEW: buying.review,
    Step.CANCEL: fulfilment.cancel,
    Step.PICK: fulfilment.pick,
    Step.SHIP: fulfilment.ship,
    Step.TRANSIT: fulfilment.transit,
    Step.DELIVER: fulfilment.deliver,
    Step.RETURN: aftersales.request,
    Step.INSPECT: aftersales.inspect,
}
_LATE_ORDER: Final = dt.timedelta(seconds=30)
_CONFLICT_PAUSE: Final = dt.timedelta(seconds=1)
_MAX_CONFLICTS: Final = 10
_SAMPLES: Final = 5


@final
class Driver:
    """Runs one worker's steps in simulated time.

    Args:
        world: The worker's services and outside.
        plans: Every plan of the day (all workers draw the same ones).
        worker: This worker's number, from 0.
        workers: How many workers share the day.
    """

    def __init__(
        self, world: World, plans: Sequence[OrderPlan], *, worker: int, workers: int
    ) -> None:
        """Schedule the first steps of every order this worker owns."""
        self._world = world
        self._plans = plans
        self._states: dict[int, OrderState] = {}
        self._heap: list[tuple[pendulum.DateTime, int, int, Step]] = []
        self._seq = itertools.count()
        self.arrived = 0
        self.errors: list[str] = []
        self.recorder = Recorder()
        for plan in plans:
            if plan.index % workers == worker:
                self._start(plan)

    @property
    def world(self) -> World:
        """The worker's services and outside."""
        return self._world

    def schedule(self, plan: OrderPlan, step: Step, at: pendulum.DateTime) -> None:
        """Run `step` of `plan`'s order at `at`."""
        heapq.heappush(self._heap, (at, next(self._seq), plan.index, step))

    def next_at(self) -> pendulum.DateTime | None:
        """When the next step is due; `None` when there is none."""
        return self._heap[0][0] if self._heap else None

    def run_until(self, end: pendulum.DateTime) -> None:
        """Run every step due before `end`, in time order."""
        heap, world = self._heap, self._world
        while heap and heap[0][0] < end:
            at, _, index, step = heapq.heappop(heap)
            world.clock.move_to(at)
            plan = self._plans[index]
            state = self._states.setdefault(index, OrderState())
            stage = state.stage
            try:
                _HANDLERS[step](self, plan, state)
            except ConcurrencyConflict as error:
                # Another worker wrote the same rows first (PostgreSQL says
                # so at commit): nothing of the step was kept; do it again.
                state.conflicts += 1
                if state.conflicts <= _MAX_CONFLICTS:
                    world.tally["conflicts_retried"] += 1
                    self.schedule(plan, step, at + _CONFLICT_PAUSE)
                    continue
                self._failed(step, plan, error)
            except OrderkitError as error:
                self._failed(step, plan, error)
            if state.stage != stage:
                self.recorder.moved(
                    plan, stage, state.stage, state.review, world.clock.now()
                )
            if step is Step.CREATE:
                self.arrived += 1

    def _failed(self, step: Step, plan: OrderPlan, error: OrderkitError) -> None:
        # A step the simulation did not foresee failing: count it, keep a
        # few for the report, and go on with the day.
        self._world.tally["errors"] += 1
        if len(self.errors) < _SAMPLES:
            self.errors.append(f"{step.name.lower()} {plan.order_id}: {error}")

    def _start(self, plan: OrderPlan) -> None:
        paid_at = plan.paid_at
        arrive = plan.placed_at
        if plan.create_late and paid_at is not None:
            arrive = paid_at + _LATE_ORDER
        self.schedule(plan, Step.CREATE, arrive)
        if plan.create_twice:
            self.schedule(plan, Step.CREATE_AGAIN, arrive.add(minutes=2))
        if plan.repricing is not None:
            self.schedule(plan, Step.REPRICE, arrive.add(minutes=1))
            self.schedule(plan, Step.DECIDE, arrive.add(minutes=3))
        if plan.kind == "mirror":
            self.schedule(plan, Step.REVIEW, arrive.add(minutes=4))
        if paid_at is None:
            return
        self.schedule(plan, Step.PAY, paid_at)
        if plan.pay_twice:
            self.schedule(plan, Step.PAY_AGAIN, paid_at.add(seconds=90))
        if plan.cancel_after is not None:
            self.schedule(plan, Step.CANCEL, paid_at + plan.cancel_after)
        self.schedule(plan, Step.PICK, paid_at + plan.pick_after)
