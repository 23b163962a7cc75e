"""Status drift: where our status and a channel's pull disagree on an order.

Pure, like the rest of the monitor: it takes our orders and what channel
pulls reported as values, and returns findings.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping
from types import MappingProxyType
from typing import Final, final

import attrs

from orderkit._validate import as_tuple, instance_of, text
from orderkit.integrations import ChannelOrder
from orderkit.orders import Order, OrderStatus
from orderkit.orders._status import ENDED
from orderkit.services._monitor import OrderRef, _orders


__all__ = ["DriftKind", "StatusDrift", "status_drift"]


@final
class DriftKind(enum.StrEnum):
    """How our status and the channel's differ.

    .. versionadded:: 0.1.0
    """

    CHANNEL_AHEAD = "channel_ahead"
    """The channel is further along ("shipped" while we await shipment): an
    event never reached us, or the channel was told something we were not."""
    CHANNEL_BEHIND = "channel_behind"
    """We are further along: our update (a tracking number) never reached
    the channel."""
    CONFLICT = "conflict"
    """One side ended the order (cancelled or closed) and the other did not."""


@final
@attrs.frozen(slots=True)
class StatusDrift:
    """An order whose status differs between us and its channel.

    Attributes:
        channel: The order's channel.
        order_id: The order's id.
        ours: Our status.
        theirs: The channel's status, mapped onto the canonical lifecycle.
        kind: Which side is ahead, or that they conflict.

    .. versionadded:: 0.1.0
    """

    channel: str = attrs.field(validator=text("channel"))
    order_id: str = attrs.field(validator=text("order_id"))
    ours: OrderStatus = attrs.field(converter=OrderStatus)
    theirs: OrderStatus = attrs.field(converter=OrderStatus)
    kind: DriftKind = attrs.field(validator=instance_of("kind", DriftKind))


# The stage a buyer sees. Channels seldom report picking or in-transit, so
# statuses within one stage are the same answer in two vocabularies, not drift.
_STAGE: Final[Mapping[OrderStatus, int]] = MappingProxyType(
    {
        OrderStatus.PENDING_PAYMENT: 0,
        OrderStatus.PAID: 1,
        OrderStatus.PICKING: 1,
        OrderStatus.PARTIALLY_SHIPPED: 2,
        OrderStatus.SHIPPED: 3,
        OrderStatus.IN_TRANSIT: 3,
        OrderStatus.DELIVERED: 4,
        OrderStatus.COMPLETED: 5,
    }
)


def _drift_kind(ours: OrderStatus, theirs: OrderStatus) -> DriftKind | None:
    if ours in ENDED or theirs in ENDED:
        return None if (ours in ENDED) == (theirs in ENDED) else DriftKind.CONFLICT
    if _STAGE[theirs] > _STAGE[ours]:
        return DriftKind.CHANNEL_AHEAD
    if _STAGE[theirs] < _STAGE[ours]:
        return DriftKind.CHANNEL_BEHIND
    return None


def _latest(channel_orders: Iterable[ChannelOrder]) -> dict[OrderRef, ChannelOrder]:
    latest: dict[OrderRef, ChannelOrder] = {}
    for record in as_tuple(channel_orders, "channel_orders", ChannelOrder):
        ref = (record.channel, record.order_id)
        seen = latest.get(ref)
        # A pull that overlaps an earlier one repeats an order: the newest
        # state wins; without timestamps, the one given last.
        if (
            seen is None
            or seen.updated_at is None
            or (record.updated_at is not None and record.updated_at >= seen.updated_at)
        ):
            latest[ref] = record
    return latest


def status_drift(
    orders: Iterable[Order], channel_orders: Iterable[ChannelOrder]
) -> list[StatusDrift]:
    """Compare our statuses with what channel pulls report, order by order.

    Orders are matched on `(channel, order_id)`; an order on one side only
    is not drift (intake and pulls handle it). Statuses are compared by the
    stage a buyer sees: paid and picking are both "awaiting shipment",
    shipped and in transit both "shipped", cancelled and closed both
    "ended"; a difference of stage is drift. When the channel reports one
    order more than once, its latest record (`updated_at`) counts.

    Args:
        orders: Our orders, each `(channel, order_id)` once.
        channel_orders: What channel pulls reported
            (`orderkit.integrations.ChannelOrder`).

    Returns:
        Every drifted order, by channel and order id.

    Raises:
        ValidationError: An argument is not a sequence of the right items,
            or `orders` repeats an order.

    .. versionadded:: 0.1.0
    """
    ours = _orders(orders)
    found: list[StatusDrift] = []
    for ref, record in sorted(_latest(channel_orders).items()):
        order = ours.get(ref)
        if order is None:
            continue
        kind = _drift_kind(order.status, record.status)
        if kind is not None:
            found.append(StatusDrift(*ref, order.status, record.status, kind))
    return found
