"""The steps of an order's simulated life, and what a step handler works with."""

from __future__ import annotations

import enum
from collections.abc import Iterable
from typing import Protocol, final

import attrs
import pendulum

from orderkit.cli._plans import OrderPlan
from orderkit.cli._world import World
from orderkit.integrations import TrackingEvent
from orderkit.orders import (
    AfterSalesCase,
    Applied,
    Duplicate,
    Early,
    Order,
    Stale,
)
from orderkit.pricing import PriceChange


@final
class Step(enum.IntEnum):
    """Something that happens to an order, in the order they usually come."""

    CREATE = 0
    """The channel's order webhook."""
    CREATE_AGAIN = 1
    """The same webhook, delivered again."""
    PAY = 2
    """The channel's payment notice: the desk captures through the provider."""
    PAY_AGAIN = 3
    """The same payment notice, delivered again."""
    REPRICE = 4
    """Support asks for a manual price change before payment (改价)."""
    DECIDE = 5
    """A manager approves or rejects the price change."""
    REVIEW = 6
    """A person reviews a suspected cross-channel duplicate."""
    CANCEL = 7
    """The buyer cancels a paid order before it is picked."""
    PICK = 8
    """The desk sends the pick task to the warehouse."""
    SHIP = 9
    """The desk books the parcel with the carrier."""
    TRANSIT = 10
    """The carrier scans the parcel in transit."""
    DELIVER = 11
    """The carrier scans the parcel delivered."""
    RETURN = 12
    """The buyer asks to return units (售后)."""
    INSPECT = 13
    """The goods come back: inspection, restock, refund."""


@final
@attrs.define
class OrderState:
    """What one worker knows of an order it drives, between its steps."""

    stage: str = "new"
    review: tuple[str, ...] = ()
    change: PriceChange | None = None
    tracking: str | None = None
    withheld: TrackingEvent | None = None
    case: AfterSalesCase | None = None
    attempts: int = 0
    conflicts: int = 0
    lost_once: bool = False


class Context(Protocol):
    """What a step handler may use: the world and the schedule."""

    @property
    def world(self) -> World:
        """The services and the outside."""
        ...

    def schedule(self, plan: OrderPlan, step: Step, at: pendulum.DateTime) -> None:
        """Run `step` for `plan`'s order at `at`."""
        ...


def count_outcomes(world: World, outcomes: Iterable[object]) -> None:
    """Count what the lifecycle did with events: repeats, early, stale."""
    for outcome in outcomes:
        if isinstance(outcome, Duplicate):
            world.tally["duplicates_absorbed"] += 1
        elif isinstance(outcome, Early):
            world.tally["callbacks_parked"] += 1
        elif isinstance(outcome, Stale):
            world.tally["callbacks_stale"] += 1
        elif not isinstance(outcome, Applied):
            world.tally[f"outcome_{type(outcome).__name__.lower()}"] += 1


def stored(world: World, channel: str, order_id: str) -> Order | None:
    """The order as the store holds it now."""
    with world.unit as uow:
        return uow.orders.get(channel, order_id)
