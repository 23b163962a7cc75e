"""What the order desk says about orders and events, and the policy it follows."""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Callable, Iterable, Mapping
from typing import Final, Literal, cast, final

import attrs

from orderkit._validate import as_tuple, by_channel, instance_of, of_kind, renamed
from orderkit.calendar import SlaPolicy
from orderkit.dedupe._claims import check_duration
from orderkit.errors import CalendarDataMissing, ValidationError
from orderkit.integrations._notices import LANGUAGES
from orderkit.inventory import RoutingStrategy, Shortage
from orderkit.inventory._routing import ordered_locations
from orderkit.orders import AuditRecord, Order, OrderEvent, RefundDue, Rejected
from orderkit.pricing import LimitRule, Overage, PricingPolicy
from orderkit.services._monitor import channel_sla, check_pay_window, first_capture


__all__ = [
    "Accepted",
    "AlreadyAccepted",
    "DEFAULT_PICKING_ORDER",
    "DeskPolicy",
    "EventRecorded",
    "Held",
    "Intake",
    "PickingKey",
    "Refused",
    "RefusalReason",
]

DEFAULT_PAY_WINDOW: Final = dt.timedelta(minutes=30)


@final
class PickingKey(enum.StrEnum):
    """One criterion of the picking queue's order (`DeskPolicy.picking_order`).

    .. versionadded:: 0.1.0
    """

    SHIP_BY = "ship_by"
    """The promised ship-by time (`DeskPolicy.sla_for` the order's channel,
    from the first payment, or the payment itself without an SLA): earlier
    first."""
    TIER = "tier"
    """The buyer's customer tier (`DeskPolicy.tier`): higher first."""
    VALUE = "value"
    """The order's value (the sum of its lines before discounts): higher first."""


DEFAULT_PICKING_ORDER: Final = (PickingKey.SHIP_BY, PickingKey.TIER, PickingKey.VALUE)
"""The picking queue's default order: ship-by time, then tier, then value.

The promise comes first because missing it is what a buyer and a channel
punish, and because an SLA with a daily cut-off gives many orders the same
ship-by instant: tier and value then order the orders within each cut-off.
A queue sorted by value first would let tier and ship-by decide almost
nothing (two orders seldom have the same value) and would leave small
orders waiting past their promise.

.. versionadded:: 0.1.0
"""


@final
class RefusalReason(enum.StrEnum):
    """Why the desk refused an order: nothing of it was recorded.

    Only an order not paid when it comes in is refused: one paid already is
    held for a person instead (`Held`, `review` `"limits"` or `"stock"`).

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
    """The order is stored but waits for a person.

    From `OrderDesk.accept`: no stock is held for it. Among the reasons
    (`order.review`): `"limits"` and `"stock"` for an order that comes in
    paid and that a purchase limit or a shortage would have refused
    (`Refused`): its money was taken, so it is kept. An order whose notice
    states a capture and refunds paying all of it back, nothing shipped
    (`"refunded"`), holds its stock all the same until a person decides;
    one taken in ended with a parcel it refuses (`"shipped_after_end"`)
    holds none, and the parcel's units come off the shelf. From
    `OrderDesk.update`: its channel changed its lines (`"edited"`); it
    keeps its stock.

    Attributes:
        order: The order as stored; `order.review` says why.
        records: Its audit records.
        detail: A reason a person can read for each reason in
            `order.review`, joined by `"; "` (the pricing hold reason in
            Chinese and English, the orders it resembles, the limits it is
            over, the stock it lacks, the excess of a notice that states it
            paid twice); from `update`, what the channel changed of each
            line, from the order's value to the channel's.

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

    Only an order not paid when it comes in is refused (its notice states
    no capture, taken or refused): refused, the money of a paid one would
    be forgotten. One
    paid already that a limit or a shortage would refuse is `Held` instead,
    without stock (`review` `"limits"` or `"stock"`).

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
    refund_due: tuple[RefundDue, ...] = ()

    @property
    def rejected(self) -> tuple[Rejected, ...]:
        """The outcomes that refused an event: check it, `record` raises none.

        A refused payment holds the order for a person (`"payment"`), as
        does a parked event refused once another let it through
        (`"event"`), and a parcel the cancelled or closed order refused,
        parked before the end or reported after it (`"shipped_after_end"`:
        it left all the same, and its units come off the shelf); any other
        refused event changed nothing.
        """
        return tuple(o for o in self.outcomes if isinstance(o, Rejected))


def _rules(value: Iterable[LimitRule]) -> tuple[LimitRule, ...]:
    return as_tuple(value, "limits", LimitRule)


_policy: Final = of_kind(PricingPolicy, "a PricingPolicy")


def _pricing(value: Mapping[str, PricingPolicy]) -> Mapping[str, PricingPolicy]:
    return by_channel("channel_pricing", value, "policies", _policy)


_Language = Literal["zh", "en"]


def _language(field: str, value: object) -> _Language:
    if value not in LANGUAGES:
        raise ValidationError(field, value, "must be 'zh' or 'en'")
    return value


def _default_language(value: object) -> _Language:
    return _language("language", value)


def _channel_languages(value: Mapping[str, str]) -> Mapping[str, _Language]:
    return by_channel("channel_languages", value, "'zh' or 'en'", _language)


def _channel_locations(
    value: Mapping[str, Iterable[str]],
) -> Mapping[str, tuple[str, ...]]:
    return by_channel("channel_locations", value, "lists of locations", _some)


def _some(field: str, value: object) -> tuple[str, ...]:
    # `ordered_locations` refuses what is not a sequence of text, by `field`.
    locations = ordered_locations(cast("Iterable[str]", value), field)
    if not locations:
        raise ValidationError(field, locations, "name at least one location")
    return locations


def _within_locations(
    instance: DeskPolicy, _attribute: object, value: Mapping[str, tuple[str, ...]]
) -> None:
    # A channel ships from some of the desk's locations: returns, pick tasks
    # and carriers are checked against `locations`, which names them all.
    for channel, locations in value.items():
        for i, location in enumerate(locations):
            if location not in instance.locations:
                raise ValidationError(
                    f"channel_locations[{channel!r}][{i}]",
                    location,
                    f"is not one of locations ({', '.join(instance.locations)})",
                )


def _routing(value: RoutingStrategy | str) -> RoutingStrategy:
    strategy = renamed(RoutingStrategy, "routing", value)
    if strategy is RoutingStrategy.NEAREST:
        # Distances are from each order's destination: a policy fixed before
        # any order has none to give, and every accept would fail.
        raise ValidationError(
            "routing",
            value,
            "the desk has no distances from an order's destination:"
            " use 'location_order' or 'most_stock'",
        )
    return strategy


def _locations(value: Iterable[str]) -> tuple[str, ...]:
    return _some("locations", value)


def _return_locations(value: Iterable[str]) -> tuple[str, ...]:
    return ordered_locations(value, "return_locations")


def _apart_from_locations(
    instance: DeskPolicy, _attribute: object, value: tuple[str, ...]
) -> None:
    # A location both sold from and returned to only is a contradiction: the
    # units put back there would be routed and offered after all.
    for i, location in enumerate(value):
        if location in instance.locations:
            raise ValidationError(
                f"return_locations[{i}]",
                location,
                "is one of locations, which returns may go back to already:"
                " return_locations are for locations nothing sells from",
            )


def _duplicate_window(value: object) -> dt.timedelta:
    # The duplicate detector's own check of its window, made when the policy is.
    return check_duration("duplicate_window", value)


def _check_tier(_instance: object, _attribute: object, value: object) -> None:
    if not callable(value):
        raise ValidationError("tier", value, "must be a function of an order")


def _no_tier(_order: Order) -> int:
    return 0


def _picking_order(value: Iterable[PickingKey | str]) -> tuple[PickingKey, ...]:
    if isinstance(value, str | bytes) or not isinstance(value, Iterable):
        raise ValidationError(
            "picking_order", value, "must be a sequence of PickingKey values"
        )
    keys: list[PickingKey] = []
    for i, raw in enumerate(value):
        try:
            key = PickingKey(raw)
        except ValueError:
            raise ValidationError(
                f"picking_order[{i}]",
                raw,
                f"must be one of {', '.join(k.value for k in PickingKey)}",
            ) from None
        if key in keys:
            raise ValidationError(f"picking_order[{i}]", raw, "repeats a criterion")
        keys.append(key)
    return tuple(keys)


@final
@attrs.frozen(slots=True, kw_only=True)
class DeskPolicy:
    """How the order desk decides, as data.

    Attributes:
        locations: Where stock may ship from, best first (the routing order):
            a list or tuple, never a set. Every location the desk sells
            from: its channels ship from these, and returns go back to them
            unless they go to one of `return_locations`.
        return_locations: Where returns may also go that nothing sells from:
            a quarantine or an inspection bay (`["SZ-QC"]`), for units that
            came back damaged. The desk never routes an order to them, and a
            channel's `sellable` sum (over `locations_for(channel)`) leaves
            them out. None of them is one of `locations`.
        take_shipped_stock: Whether an order that comes in with parcels
            shipped already (its channel's notice of them came first) takes
            their units out of stock, as it would have had it come in before
            them: true by default, so the ledger ends the same whatever order
            the notices arrive in. False for a desk taking in history: orders
            shipped before its stock was counted, which the count left out.
        channel_locations: Where each channel's orders ship from, best first,
            as `{"shopify": ["LA-1"]}`: some of `locations`, in an order of
            the channel's own. Channels without an entry use `locations`.
        routing: How locations are ranked when more than one can ship:
            `LOCATION_ORDER` (the default) or `MOST_STOCK`. `NEAREST` is
            refused, since distances are from each order's destination.
        pricing: The pricing policy of channels without their own.
        channel_pricing: Pricing policies by channel.
        limits: The purchase limits in force.
        duplicate_window: How far back an order is compared for duplicates.
        pay_window: How long an unpaid order's stock is held when the
            channel sets no payment deadline (`pay_by`).
        sla: The shipping promise, which orders the picking queue, of
            channels without their own.
        channel_sla: Shipping promises by channel, as `{"shopify": us_sla}`:
            a storefront in another country promises on its own calendar.
        tier: The customer tier of an order's buyer, for the picking queue
            (higher first); every buyer is tier 0 by default.
        picking_order: The criteria that order the picking queue, most
            significant first: `DEFAULT_PICKING_ORDER` (ship-by time, tier,
            value) unless given. Criteria left out do not count; orders
            equal on every criterion go by when they were placed, then id.
        language: The language of the buyers' `milestone` messages
            (`"zh"`, the default, or `"en"`: the template ends in it, as
            `order.shipped.en`, and the milestone's label is in it) on
            channels without their own.
        channel_languages: Milestone languages by channel, as
            `{"shopify": "en"}`.

    Raises:
        ValidationError: A field is invalid (`field` names it).

    .. versionadded:: 0.1.0
    """

    locations: tuple[str, ...] = attrs.field(converter=_locations)
    return_locations: tuple[str, ...] = attrs.field(
        default=(), converter=_return_locations, validator=_apart_from_locations
    )
    take_shipped_stock: bool = attrs.field(
        default=True, validator=instance_of("take_shipped_stock", bool)
    )
    channel_locations: Mapping[str, tuple[str, ...]] = attrs.field(
        factory=dict, converter=_channel_locations, validator=_within_locations
    )
    routing: RoutingStrategy = attrs.field(
        default=RoutingStrategy.LOCATION_ORDER, converter=_routing
    )
    pricing: PricingPolicy = attrs.field(
        factory=PricingPolicy, validator=instance_of("pricing", PricingPolicy)
    )
    channel_pricing: Mapping[str, PricingPolicy] = attrs.field(
        factory=dict, converter=_pricing
    )
    limits: tuple[LimitRule, ...] = attrs.field(default=(), converter=_rules)
    duplicate_window: dt.timedelta = attrs.field(
        default=dt.timedelta(days=1), converter=_duplicate_window
    )
    pay_window: dt.timedelta = attrs.field(
        default=DEFAULT_PAY_WINDOW, converter=check_pay_window
    )
    sla: SlaPolicy | None = attrs.field(
        default=None, validator=attrs.validators.optional(instance_of("sla", SlaPolicy))
    )
    channel_sla: Mapping[str, SlaPolicy] = attrs.field(
        factory=dict, converter=channel_sla
    )
    tier: Callable[[Order], int] = attrs.field(default=_no_tier, validator=_check_tier)
    picking_order: tuple[PickingKey, ...] = attrs.field(
        default=DEFAULT_PICKING_ORDER, converter=_picking_order
    )
    language: _Language = attrs.field(default="zh", converter=_default_language)
    channel_languages: Mapping[str, _Language] = attrs.field(
        factory=dict, converter=_channel_languages
    )

    def pricing_for(self, channel: str) -> PricingPolicy:
        """The pricing policy of `channel`."""
        return self.channel_pricing.get(channel, self.pricing)

    def locations_for(self, channel: str) -> tuple[str, ...]:
        """Where `channel`'s orders ship from, best first."""
        return self.channel_locations.get(channel, self.locations)

    def sla_for(self, channel: str) -> SlaPolicy | None:
        """The shipping promise of `channel`'s orders, or `None` for none."""
        return self.channel_sla.get(channel, self.sla)

    def language_for(self, channel: str) -> Literal["zh", "en"]:
        """The language of `channel`'s buyers' milestone messages."""
        return self.channel_languages.get(channel, self.language)

    def picking_priority(self, order: Order) -> tuple[object, ...]:
        """The sort key of a paid `order` in the picking queue: smaller goes first.

        One part per criterion of `picking_order`, then the time the order
        was placed and its id, so the queue's order is total and stable.
        The value compares amounts as numbers: a desk that mixes currencies
        should rank by tier and ship-by time only. An order whose ship-by
        the SLA's calendar cannot count yet (a year with no table) ranks as
        due when it was paid.
        """
        parts: list[object] = []
        for key in self.picking_order:
            if key is PickingKey.SHIP_BY:
                parts.append(self._ship_by(order))
            elif key is PickingKey.TIER:
                parts.append(-self.tier(order))
            else:
                parts.append(-sum(line.amount.amount for line in order.lines))
        return (*parts, order.placed_at, order.order_id)

    def _ship_by(self, order: Order) -> dt.datetime:
        paid_at = first_capture(order) or order.placed_at
        sla = self.sla_for(order.channel)
        if sla is None:
            return paid_at
        try:
            return sla.ship_by(paid_at).due
        except CalendarDataMissing:
            # A promise the calendar cannot count yet (next year's holidays
            # not loaded) ranks as due at payment, the earliest it could
            # be: picked early, never late for want of a table.
            return paid_at
