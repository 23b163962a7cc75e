"""What the order desk says about orders and events, and the policy it follows."""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Callable, Iterable, Mapping
from types import MappingProxyType
from typing import Final, final

import attrs

from orderkit._validate import as_tuple, instance_of
from orderkit.calendar import SlaPolicy
from orderkit.errors import ValidationError
from orderkit.inventory import RoutingStrategy, Shortage
from orderkit.orders import AuditRecord, Order, OrderEvent, Rejected
from orderkit.pricing import LimitRule, Overage, PricingPolicy


__all__ = [
    "Accepted",
    "AlreadyAccepted",
    "DeskPolicy",
    "EventRecorded",
    "Held",
    "Intake",
    "Refused",
    "RefusalReason",
]

DEFAULT_PAY_WINDOW: Final = dt.timedelta(minutes=30)


@final
class RefusalReason(enum.StrEnum):
    """Why the desk refused an order: nothing of it was recorded.

    .. versionadded:: 0.1.0
    """

    LIMITS = "limits"
    """The buyer, phone, IP, device or address is at a purchase limit."""
    OUT_OF_STOCK = "out_of_stock"
    """The stock cannot fill every line; `Refused.shortages` says by how much."""


@final
@attrs.frozen(slots=True)
class Accepted:
    """The order is placed, its stock held (or committed, if already paid).

    Attributes:
        order: The order as stored.
        records: Its audit records.

    .. versionadded:: 0.1.0
    """

    order: Order
    records: tuple[AuditRecord, ...]


@final
@attrs.frozen(slots=True)
class Held:
    """The order is stored but waits for a person; no stock is held for it.

    Attributes:
        order: The order as stored; `order.review` says why.
        records: Its audit records.
        detail: A reason a person can read (the pricing hold reason in Chinese
            and English, the orders it resembles).

    .. versionadded:: 0.1.0
    """

    order: Order
    records: tuple[AuditRecord, ...]
    detail: str


@final
@attrs.frozen(slots=True)
class AlreadyAccepted:
    """The channel sent an order the desk has: nothing changed.

    Attributes:
        order: The order as stored.

    .. versionadded:: 0.1.0
    """

    order: Order


@final
@attrs.frozen(slots=True)
class Refused:
    """The order was refused; nothing of it was recorded.

    Attributes:
        channel: The order's channel.
        order_id: The order's id.
        reason: Why.
        overages: The limits it would exceed (`LIMITS`).
        shortages: What the stock lacks, per SKU (`OUT_OF_STOCK`).

    .. versionadded:: 0.1.0
    """

    channel: str
    order_id: str
    reason: RefusalReason
    overages: tuple[Overage, ...] = ()
    shortages: tuple[Shortage, ...] = ()


Intake = Accepted | Held | AlreadyAccepted | Refused
"""What `OrderDesk.accept` returns."""


@final
@attrs.frozen(slots=True)
class EventRecorded:
    """What `OrderDesk.record` did with an event.

    Attributes:
        order: The order as stored afterwards (unchanged if nothing applied).
        outcomes: The lifecycle's outcome for the event and for every parked
            event it let through (`Applied`, `Duplicate`, `Stale`,
            `RefundDue`, `Rejected`), in the order they were settled.
        parked: Events still waiting for a predecessor.
        refund_due: Money that must go back to the buyer; a `refund`
            message for it is in the outbox.

    .. versionadded:: 0.1.0
    """

    order: Order
    outcomes: tuple[object, ...]
    parked: tuple[OrderEvent, ...]
    refund_due: tuple[object, ...] = ()

    @property
    def rejected(self) -> tuple[Rejected, ...]:
        """The outcomes that refused an event."""
        return tuple(o for o in self.outcomes if isinstance(o, Rejected))


def _rules(value: Iterable[LimitRule]) -> tuple[LimitRule, ...]:
    return as_tuple(value, "limits", LimitRule)


def _pricing(value: Mapping[str, PricingPolicy]) -> Mapping[str, PricingPolicy]:
    if not isinstance(value, Mapping):
        raise ValidationError("channel_pricing", value, "must map channels to policies")
    for channel, policy in value.items():
        if not isinstance(policy, PricingPolicy):
            raise ValidationError(
                f"channel_pricing[{channel!r}]", policy, "must be a PricingPolicy"
            )
    return MappingProxyType(dict(value))


def _locations(value: Iterable[str]) -> tuple[str, ...]:
    locations = as_tuple(value, "locations", str)
    if not locations:
        raise ValidationError("locations", locations, "name at least one location")
    return locations


def _pay_window(value: object) -> dt.timedelta:
    if not isinstance(value, dt.timedelta) or value <= dt.timedelta(0):
        raise ValidationError("pay_window", value, "must be a positive timedelta")
    return value


def _no_tier(_order: Order) -> int:
    return 0


@final
@attrs.frozen(slots=True, kw_only=True)
class DeskPolicy:
    """How the order desk decides, as data.

    Attributes:
        locations: Where stock may ship from, best first (the routing order).
        routing: How locations are ranked when more than one can ship.
        pricing: The pricing policy of channels without their own.
        channel_pricing: Pricing policies by channel.
        limits: The purchase limits in force.
        duplicate_window: How far back an order is compared for duplicates.
        pay_window: How long an unpaid order's stock is held when the
            channel sets no payment deadline (`pay_by`).
        sla: The shipping promise, which orders the picking queue.
        tier: The customer tier of an order's buyer, for the picking queue
            (higher first); every buyer is tier 0 by default.

    Raises:
        ValidationError: A field is invalid (`field` names it).

    .. versionadded:: 0.1.0
    """

    locations: tuple[str, ...] = attrs.field(converter=_locations)
    routing: RoutingStrategy = attrs.field(
        default=RoutingStrategy.LOCATION_ORDER, converter=RoutingStrategy
    )
    pricing: PricingPolicy = attrs.field(
        factory=PricingPolicy, validator=instance_of("pricing", PricingPolicy)
    )
    channel_pricing: Mapping[str, PricingPolicy] = attrs.field(
        factory=dict, converter=_pricing
    )
    limits: tuple[LimitRule, ...] = attrs.field(default=(), converter=_rules)
    duplicate_window: dt.timedelta = attrs.field(default=dt.timedelta(days=1))
    pay_window: dt.timedelta = attrs.field(
        default=DEFAULT_PAY_WINDOW, converter=_pay_window
    )
    sla: SlaPolicy | None = attrs.field(
        default=None, validator=attrs.validators.optional(instance_of("sla", SlaPolicy))
    )
    tier: Callable[[Order], int] = attrs.field(default=_no_tier)

    def pricing_for(self, channel: str) -> PricingPolicy:
        """The pricing policy of `channel`."""
        return self.channel_pricing.get(channel, self.pricing)
