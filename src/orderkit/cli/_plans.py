"""What the simulation will do with each order: plans, drawn before the day starts.

A plan says what the buyer, the channel, the carrier and the back office
*will* do with one order: when it is paid (or never), whether a webhook
comes twice or late, whether support reprices it, whether it is returned.
Whether they get to do it (an order refused for stock is never paid) is
for the desk to decide at run time.
"""

from __future__ import annotations

import datetime as dt
from typing import final

import attrs
import pendulum

from orderkit.cli import _catalog as catalog
from orderkit.cli._people import Person
from orderkit.money import Money


@final
@attrs.frozen(slots=True, kw_only=True)
class Rates:
    """How often each kind of trouble happens, each a probability from 0 to 1.

    Attributes:
        duplicate: A webhook, payment notice or carrier scan comes twice.
        reorder: An order webhook comes after its payment notice, or an
            in-transit scan after the delivery scan.
        flash: An order is placed in the midnight flash sale.
        abuser: A flash-sale order comes from a coupon-stacking bulk buyer.
        cross_duplicate: A Chinese buyer orders the same again on the other
            Chinese channel within the hour.
        abandon: A checkout is never paid: its hold expires.
        carrier_timeout: A label call times out (any rate above 0 also
            browns the carriers out for twenty minutes at the peak).
        payment_timeout: A payment provider call times out.
        price_change: Support reprices a Taobao order before payment.
        cancel: A paid order is cancelled before picking.
        returns: A delivered order is returned.
        lost_pick: The warehouse loses a pick task.
    """

    duplicate: float = 0.02
    reorder: float = 0.02
    flash: float = 0.35
    abuser: float = 0.25
    cross_duplicate: float = 0.01
    abandon: float = 0.08
    carrier_timeout: float = 0.03
    payment_timeout: float = 0.02
    price_change: float = 0.03
    cancel: float = 0.02
    returns: float = 0.05
    lost_pick: float = 0.01


@final
@attrs.frozen(slots=True)
class PlanLine:
    """One line of a planned order."""

    sku: str
    quantity: int
    unit_price: Money
    title: str


@final
@attrs.frozen(slots=True, kw_only=True)
class Repricing:
    """A manual price change of the first line before payment (改价)."""

    new_unit_price: Money
    approve: bool
    requester: str
    reason: str


@final
@attrs.frozen(slots=True, kw_only=True)
class Return:
    """A return after delivery: which units, and how inspection goes."""

    line: int
    quantity: int
    passed: bool
    over_claim: bool
    after: dt.timedelta


@final
@attrs.frozen(slots=True, kw_only=True)
class OrderPlan:
    """Everything the simulation will do with one order, drawn in advance.

    Offsets (`pay_after`, `pick_after`...) count from the step before:
    placing, paying, picking, shipping, the in-transit scan, delivery.
    """

    index: int
    channel: str
    order_id: str
    placed_at: pendulum.DateTime
    lines: tuple[PlanLine, ...]
    buyer: Person
    discounts: tuple[tuple[str, Money], ...]
    shipping: Money
    tax: Money
    device: str
    ip: str
    kind: str
    payment_ref: str
    pay_after: dt.timedelta | None = None
    create_late: bool = False
    create_twice: bool = False
    pay_twice: bool = False
    repricing: Repricing | None = None
    release_on_review: bool = False
    cancel_after: dt.timedelta | None = None
    pick_after: dt.timedelta = dt.timedelta(minutes=10)
    pick_lost: bool = False
    ship_after: dt.timedelta = dt.timedelta(hours=1)
    transit_after: dt.timedelta = dt.timedelta(hours=4)
    deliver_after: dt.timedelta = dt.timedelta(hours=12)
    scans_twice: bool = False
    scans_reordered: bool = False
    returning: Return | None = None

    @property
    def currency(self) -> str:
        """The order's currency: its channel's."""
        return catalog.CHANNEL_BY_NAME[self.channel].currency

    @property
    def subtotal(self) -> Money:
        """The lines at list price."""
        total = Money.zero(self.currency)
        for line in self.lines:
            total += line.unit_price * line.quantity
        return total

    @property
    def total(self) -> Money:
        """What the channel charges: lines less discounts, plus shipping and tax."""
        total = self.subtotal + self.shipping + self.tax
        for _, amount in self.discounts:
            total -= amount
        return total

    @property
    def paid_total(self) -> Money:
        """What the buyer pays: the total, after an approved price change."""
        change = self.repricing
        if change is None or not change.approve:
            return self.total
        line = self.lines[0]
        return self.total + (change.new_unit_price - line.unit_price) * line.quantity

    @property
    def paid_at(self) -> pendulum.DateTime | None:
        """When the buyer pays, or `None` for a checkout abandoned."""
        if self.pay_after is None:
            return None
        return self.placed_at + self.pay_after
