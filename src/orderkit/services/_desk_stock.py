"""An order's stock in the ledger: held, committed, shipped, given back, restocked."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Sequence
from typing import Final, final

import attrs
import pendulum

from orderkit._time import plus
from orderkit._validate import MAX_INT
from orderkit.dedupe import IdempotencyKey
from orderkit.errors import (
    CaptureExceedsAuthorisation,
    ConcurrencyConflict,
    HoldNotLive,
    IdempotencyConflict,
    InsufficientStock,
    RefundExceedsCapture,
    ValidationError,
)
from orderkit.integrations import PickLine, PickTask
from orderkit.inventory import Balance, Hold, HoldState, Route, Shortage, StockLine
from orderkit.inventory._routing import route_summed
from orderkit.money import Money
from orderkit.orders import (
    AfterSalesCase,
    AuditRecord,
    Cancelled,
    CaseState,
    Closed,
    FieldChange,
    Order,
    OrderEvent,
    OrderStatus,
    PaymentCaptured,
    Shipped,
)
from orderkit.orders._aftersales import restock_key
from orderkit.orders._messages import known_order_stream
from orderkit.orders._parcels import (
    cancelled_by_line,
    shipped_by_line,
    unshipped_lines,
)
from orderkit.ports import Clock, LedgerStore, Outbox
from orderkit.pricing import PaymentLedger
from orderkit.services._balance_reads import balances_by_sku
from orderkit.services._desk_edits import EDITED
from orderkit.services._desk_notes import (
    cases_owed,
    held_telling,
    just_passed,
    paid_twice_once_passed,
    returns,
)
from orderkit.services._intake import DeskPolicy
from orderkit.services._ledger import Ledger
from orderkit.services._saga_steps import with_payments


_S = OrderStatus
# Statuses in which the order's stock is held (unpaid) or committed (paid).
_HOLDING: Final = frozenset({_S.PENDING_PAYMENT})
_COMMITTED: Final = frozenset({_S.PAID, _S.PICKING, _S.PARTIALLY_SHIPPED})
_TAKING_STOCK: Final = _HOLDING | _COMMITTED
# A hold must last a moment even when the payment deadline has passed.
_SHORTEST_HOLD: Final = dt.timedelta(seconds=1)


HELD_WITHOUT_STOCK: Final = frozenset(
    {"duplicate", "event", "limits", "payment", "pricing"}
)
"""Why intake holds an order before it looks for stock: it takes none until
a person releases it (`_RELEASE_HOLDS_STOCK` adds `"stock"`, a hold for want
of stock, which waits for `release` too).

`"limits"` holds an order taken in paid over a purchase limit (one not paid
is refused): the money was taken, so it is kept, and a person decides.
"""

_RELEASE_HOLDS_STOCK: Final = HELD_WITHOUT_STOCK | {"stock"}

CANCELLED_UNITS: Final = "cancelled_units"
"""Why an order waits for a person once a refund cancelled units being picked.

A channel refunded units before they shipped (`Order.cancelled_units`)
while the warehouse was picking the order (`PICKING`, or a `pick` saga in
flight): the packer takes them out of the box, then a person releases it.
"""

SETTLED_BY_ENDING: Final = (HELD_WITHOUT_STOCK - {"payment"}) | {
    "stock",
    "overpaid",
    "refunded",
    EDITED,
    CANCELLED_UNITS,
}
"""Why an order waits for a person that its cancellation or close settles.

Lines its channel changed (`"edited"`) no longer bill anyone: the trail
keeps what the channel changed. Units cancelled while picking
(`"cancelled_units"`) go back to the shelf with the rest of the order. An
order its channel paid back in full before it shipped (`"refunded"`) is
decided once it ends: it ships nothing and owes nothing back.

An ended order takes no stock: whether it may (intake's reasons, a purchase
limit among them) or where its stock went (`"stock"`: paid after its stock
sold out, or taken in paid with its stock short) no longer decides
anything. What it owes back goes through its refund saga, a payment too
many included (`"overpaid"`: the saga sends back all its payments hold); a
payment it could not take (`"payment"`: no saga knows of it), a refund, a
label or pick tasks to void and a carrier's exception still need a person.
"""


def held_for_cancelled(
    before: Order, after: Order, now: pendulum.DateTime
) -> tuple[Order, AuditRecord]:
    """`after` waiting for a person to take units out of the box, and its record.

    The record names each line's units cancelled since `before`
    (`cancelled_units[<line id>]`, old to new): the packer takes them out.
    An order waiting for it already keeps waiting, told of the new ones.
    """
    old = cancelled_by_line(before)
    said = [
        FieldChange(f"cancelled_units[{line_id}]", str(old.get(line_id, 0)), str(n))
        for line_id, n in cancelled_by_line(after).items()
        if n != old.get(line_id, 0)
    ]
    return held_telling(after, CANCELLED_UNITS, said, now)


def owner_of(order: Order) -> str:
    """The owner of an order's holds in the ledger: its stream name."""
    return known_order_stream(order.channel, order.order_id)


@final
class OrderStock:
    """The ledger's side of the order desk, over one unit's ledger store.

    Every write is keyed by the order and the event that caused it, so a
    use case retried after a crash moves no unit twice.
    """

    def __init__(
        self, store: LedgerStore, clock: Clock, policy: DeskPolicy, outbox: Outbox
    ) -> None:
        """Work on `store`; stock changes tell the channels through `outbox`."""
        self._store = store
        self._policy = policy
        self._ledger = Ledger(store, clock, hold_ttl=policy.pay_window, outbox=outbox)

    def hold(self, order: Order, now: pendulum.DateTime) -> None:
        """Route the order's stocked lines and hold them; commit them if it is paid.

        Units the order's shipments carried already (an order taken in
        partly or wholly shipped: its channel's notice of the parcel came
        first) are taken out of stock first, as had the order come in
        before them: held, committed and shipped, one `SHIP` movement per
        parcel, so the ledger ends the same whatever order the notices
        came in. Only the first time the order takes stock (it has no holds
        yet), and not with `DeskPolicy.take_shipped_stock` false. Only the
        rest is held, so that none stays allocated once the last parcel
        ships. Unstocked lines (`OrderLine.stocked` false: a gift card, a
        fee) take nothing: an order of those alone holds nothing.

        Raises:
            InsufficientStock: The stock is short, for the parcels' units or
                the rest; the parcels' units are all taken or none.
        """
        # A parcel the ledger has seen went out through `follow` (its hold
        # shipped), or came in with the order, which then holds since.
        if (
            order.shipments
            and self._policy.take_shipped_stock
            and not self._store.holds(owner=owner_of(order))
        ):
            self._take_shipped(order, now)
        if order.status not in _TAKING_STOCK:
            return
        demand = _demand(order)
        if not demand:
            return
        self._hold(order, demand, now)

    def _hold(
        self, order: Order, demand: dict[str, int], now: pendulum.DateTime
    ) -> None:
        store = self._store
        balances = self._balances(demand, now)
        try:
            chosen = self._route(order, demand, balances)
        except InsufficientStock:
            # Stock on hand first; then what a Backorder or an open Preorder
            # lets a SKU's available go below zero by, which `reserve` takes
            # too. `reserve` judges the policy at the store's time, and so
            # has the last word.
            allowances = {sku: -store.policy(sku).floor(now) for sku in demand}
            if not any(allowances.values()):
                raise
            allowed = [
                _allowing(balance, allowances[balance.sku])
                for balance in [
                    *balances,
                    *self._unstocked(order, balances, allowances),
                ]
            ]
            chosen = self._route(order, demand, allowed)
        deadline = order.pay_by or plus(now, self._policy.pay_window)
        ledger = self._ledger
        owner = owner_of(order)
        # Every argument is valid by how it is made (see `_reserve_made`).
        try:
            receipt = ledger._reserve_made(  # noqa: SLF001 - the desk's own entry
                owner,
                chosen.lines,
                max(_until(deadline, now), _SHORTEST_HOLD),
                f"order {order.order_id}",
                f"{owner}:hold:{order.version}",
            )
        except IdempotencyConflict as conflict:
            # Another process held other lines of this order version first
            # (a racing delivery of the order as it was or became): the
            # order changed under this unit, as its write would find.
            what = f"order:{order.channel}:{order.order_id}"
            raise ConcurrencyConflict(what) from conflict
        if order.status in _COMMITTED:
            for hold in _in_lock_order(receipt.holds):
                if hold.state is HoldState.LIVE:
                    ledger.commit(
                        hold.hold_id,
                        reason="paid",
                        key=f"{owner}:commit:{hold.hold_id}",
                    )

    def _unstocked(
        self, order: Order, balances: list[Balance], allowances: dict[str, int]
    ) -> list[Balance]:
        """Empty balances of a SKU its policy lets sell without stock, and has none.

        A new product on pre-order has never been received anywhere: its
        policy lets each of the channel's locations go below zero, so each
        may take the order, as routing then chooses. A SKU with a balance
        somewhere is sold where it is stocked, as before.
        """
        stocked = {balance.sku for balance in balances}
        return [
            Balance(sku, location)
            for sku, allowance in allowances.items()
            if allowance and sku not in stocked
            for location in self._policy.locations_for(order.channel)
        ]

    def _take_shipped(self, order: Order, now: pendulum.DateTime) -> None:
        """Hold, commit and ship the units of the parcels the order came in with."""
        owner = owner_of(order)
        skus = {line.line_id: line.sku for line in order.lines if line.stocked}
        parcels = [
            (
                shipment,
                [
                    (skus[p.line_id], p.quantity)
                    for p in shipment.lines
                    if p.line_id in skus
                ],
            )
            for shipment in order.shipments
        ]
        demand: dict[str, int] = {}
        for _, wanted in parcels:
            for sku, quantity in wanted:
                demand[sku] = demand.get(sku, 0) + quantity
        if not demand:
            return
        chosen = self._route(order, demand, self._balances(demand, now))
        ledger = self._ledger
        receipt = ledger._reserve_made(  # noqa: SLF001 - the desk's own entry
            owner,
            chosen.lines,
            _SHORTEST_HOLD,
            f"order {order.order_id}",
            f"{owner}:shipped:{order.version}",
        )
        for hold in _in_lock_order(receipt.holds):
            ledger.commit(
                hold.hold_id, reason="shipped", key=f"{owner}:commit:{hold.hold_id}"
            )
        for shipment, wanted in parcels:
            if not wanted:
                continue
            holds = self._store.holds(owner=owner, state=HoldState.COMMITTED)
            ledger.ship(
                owner,
                [part for _, part in _from_holds(holds, wanted)],
                reason=f"shipment {shipment.shipment_id}, before the order came in",
                key=f"{owner}:shipped:{shipment.shipment_id}",
            )

    def _balances(
        self, demand: dict[str, int], now: pendulum.DateTime
    ) -> list[Balance]:
        return [
            balance
            for found in balances_by_sku(self._store, now, demand).values()
            for balance in found
        ]

    def _route(
        self, order: Order, demand: dict[str, int], balances: list[Balance]
    ) -> Route:
        return route_summed(
            demand,
            balances,
            locations=self._policy.locations_for(order.channel),
            strategy=self._policy.routing,
        )

    def has_stock(self, order: Order, now: pendulum.DateTime) -> bool:
        """Whether the ledger holds stock for the order: live or committed."""
        return any(
            hold.state is HoldState.COMMITTED or hold.is_live(now)
            for hold in self._store.holds(owner=owner_of(order))
        )

    def follow(
        self, order: Order, event: OrderEvent, now: pendulum.DateTime
    ) -> tuple[Shortage, ...]:
        """Move the order's stock as the event that applied to it says.

        An order held at intake (a suspected duplicate, a price to check)
        has no stock until a person releases it, paid or not.

        Returns:
            The short lines when the stock the event needs is not the
            order's: paid after its hold lapsed and the stock gone
            meanwhile (what was `available`), or a parcel shipped of units
            the ledger never gave the order (what was `allocated`) and the
            location it left cannot give either. Nothing moved for them,
            and a person must decide (restock, adjust, or cancel and
            refund). Empty otherwise.
        """
        holds = self._store.holds(owner=owner_of(order))
        if isinstance(event, PaymentCaptured):
            return self._paid(order, event, holds, now)
        if isinstance(event, Shipped):
            return self._shipped(order, event, holds)
        if isinstance(event, Cancelled | Closed):
            self._ended(order, event, holds)
        return ()

    def _paid(
        self,
        order: Order,
        event: PaymentCaptured,
        holds: Sequence[Hold],
        now: pendulum.DateTime,
    ) -> tuple[Shortage, ...]:
        committed = any(h.state is HoldState.COMMITTED for h in holds)
        for hold in _in_lock_order(h for h in holds if h.is_live(now)):
            try:
                self._ledger.commit(
                    hold.hold_id, reason="paid", key=f"{event.key}:{hold.hold_id}"
                )
            except HoldNotLive:
                # Live by this clock, lapsed by the store's: it judges at its
                # high-water mark, which a worker with a clock ahead moved on.
                continue
            committed = True
        if committed and order.cancelled_units:
            # Refunded before the payment was recorded, while the holds were
            # live: committed whole, the cancelled units go back now.
            self._trim(order, f"{event.key}:cancelled", "refunded before shipment")
        stockless = not committed
        # Held without stock (at intake, or short of it): `release` holds it,
        # when a person decided; a payment meanwhile does not.
        if stockless and not _RELEASE_HOLDS_STOCK & set(order.review):
            # The hold lapsed before the money came: hold the stock again.
            try:
                self.hold(order, now)
            except InsufficientStock as error:
                return error.shortages
        return ()

    def _trim(self, order: Order, key: str, reason: str) -> None:
        """Give back the committed units the order no longer needs (`_demand`).

        Units a refund cancelled while the order's holds were live (the
        ledger has no partial release of a live hold, so they were committed
        with the rest), or left where a parcel did not come from (it carried
        the order's units from another location's shelf).
        """
        owner = owner_of(order)
        holds = self._store.holds(owner=owner, state=HoldState.COMMITTED)
        demand = _demand(order)
        have = _unshipped_by_sku(holds)
        wanted = [
            (sku, quantity - demand.get(sku, 0))
            for sku, quantity in sorted(have.items())
            if quantity > demand.get(sku, 0)
        ]
        if wanted:
            back = [part for _, part in _from_holds(holds, wanted)]
            self._ledger.unallocate(owner, back, reason=reason, key=key)

    def _shipped(
        self, order: Order, event: Shipped, holds: Sequence[Hold]
    ) -> tuple[Shortage, ...]:
        wanted = _stocked_units(order, event)
        if not wanted:
            return ()
        given, beyond = _split_holds(
            _parcel_holds(holds, wanted, event.location), wanted
        )
        # The shelf the parcel left: named, or the one its held units came
        # from. Units beyond the order's holds come off that shelf alone.
        origin = event.location or _only({part.location for _, part in given})
        if beyond and origin is not None:
            beyond = [(i, _at(line, origin)) for i, line in beyond]
            return self._shipped_beyond(order, event, given, beyond)
        try:
            self._ledger.ship(
                owner_of(order),
                [part for _, part in sorted(given + beyond, key=_first)],
                reason=f"shipment {event.shipment_id}",
                key=str(event.key),
            )
        except InsufficientStock as error:
            # The parcel left all the same: the channel's word is kept, and
            # the ledger's figures wait for a person.
            return _named(error.shortages)
        return ()

    def _shipped_beyond(
        self,
        order: Order,
        event: Shipped,
        given: list[tuple[int, StockLine]],
        beyond: list[tuple[int, StockLine]],
    ) -> tuple[Shortage, ...]:
        """Ship a parcel that carried more units than the order holds where it left.

        A unit cancelled before it shipped and packed all the same, or one
        more than the warehouse was asked for: the units left the shelf.
        The order's units ship from its holds; the rest come off the same
        location's stock (an `ADJUST` keyed by the parcel), so the shelf's
        figures stay true, and units the order still holds beyond what it
        needs (at another location: this shelf sent them instead) go back on
        sale, so nothing is left allocated. Units the location cannot give
        (promised to other buyers) are short, for a person, and nothing
        else is given back: where the units came from is in doubt.
        """
        key = str(event.key)
        try:
            if given:
                self._ledger.ship(
                    owner_of(order),
                    [part for _, part in given],
                    reason=f"shipment {event.shipment_id}",
                    key=key,
                )
        except InsufficientStock as error:
            return _named(error.shortages)
        short = self._off_shelf(
            [line for _, line in beyond],
            lambda n: (
                f"shipment {event.shipment_id}: {n} more than"
                f" order {order.order_id} held"
            ),
            lambda sku, location: f"{key}:beyond:{sku}:{location}",
        )
        if short:
            # Where the units came from is in doubt: a person decides.
            return tuple(short)
        # The parcel carried units the order held elsewhere: those stay on
        # their shelf, and go back on sale.
        self._trim(
            order, f"{key}:rest", f"shipment {event.shipment_id} came from elsewhere"
        )
        return ()

    def left_after_end(self, order: Order, event: Shipped) -> tuple[Shortage, ...]:
        """Take a parcel that left after the order ended off the shelf it left.

        The order gave its stock back when it ended, so the units are
        counted on a shelf they have left: they come off the parcel's
        `location`, or the one location the order's holds were at (an
        `ADJUST` keyed by the parcel), so no other buyer is sold them.
        Units that shelf cannot give (promised to others meanwhile), or a
        parcel whose location is not known, are short: the person the order
        waits for corrects the figures.
        """
        wanted = _stocked_units(order, event)
        holds = self._store.holds(owner=owner_of(order))
        origin = event.location or _only({hold.location for hold in holds})
        if origin is None:
            summed: dict[str, int] = {}
            for sku, n in wanted:
                summed[sku] = summed.get(sku, 0) + n
            return tuple(Shortage(sku, None, n, 0) for sku, n in summed.items())
        short = self._off_shelf(
            [StockLine(sku, origin, n) for sku, n in wanted],
            lambda _: (
                f"shipment {event.shipment_id} left after order {order.order_id} ended"
            ),
            lambda sku, _: f"{event.key}:after-end:{sku}",
        )
        return tuple(short)

    def _off_shelf(
        self,
        lines: Iterable[StockLine],
        reason: Callable[[int], str],
        key: Callable[[str, str], str],
    ) -> list[Shortage]:
        """Take units that left with a parcel off their shelf; what it cannot give.

        One `ADJUST` per SKU and location (two lines of one SKU are one
        correction, under one key), its reason and key made of the units
        and the row. Units a shelf cannot give (promised to other buyers)
        are returned short, nothing moved for them.
        """
        rows: dict[tuple[str, str], int] = {}
        for line in lines:
            row = (line.sku, line.location)
            rows[row] = rows.get(row, 0) + line.quantity
        short: list[Shortage] = []
        for (sku, location), quantity in rows.items():
            try:
                self._ledger.adjust(
                    sku,
                    location,
                    delta=-quantity,
                    reason=reason(quantity),
                    key=key(sku, location),
                )
            except InsufficientStock as error:
                short.extend(error.shortages)
        return short

    def _ended(
        self, order: Order, event: Cancelled | Closed, holds: Sequence[Hold]
    ) -> None:
        ledger = self._ledger
        for hold in _in_lock_order(holds):
            if hold.state is HoldState.LIVE:
                ledger.release(
                    hold.hold_id,
                    reason=type(event).__name__.lower(),
                    key=f"{event.key}:release:{hold.hold_id}",
                )
        back = [
            StockLine(h.sku, h.location, h.unshipped)
            for h in holds
            if h.state is HoldState.COMMITTED and h.unshipped
        ]
        if back:
            ledger.unallocate(
                owner_of(order), back, reason="cancelled", key=f"{event.key}:back"
            )

    def give_back_cancelled(
        self, before: Order, after: Order, key: str
    ) -> tuple[StockLine, ...]:
        """Give back the stocked units `after` cancelled that `before` had not.

        Units a refund paid back before they shipped (`Order.cancelled_units`)
        leave the order's allocation: committed and unshipped, they stay on
        hand and become available again (one `UNALLOCATE` movement per
        location, keyed by `key`, reason "refunded before shipment"), taken
        from the order's committed holds as its pick tasks take them, oldest
        first. Units the order has no committed stock for (it waits for
        stock, or its holds are live: not paid yet) are not the ledger's to
        give back: nothing moves for them.

        Returns:
            The lines given back; empty when none were.
        """
        old = cancelled_by_line(before)
        skus = {line.line_id: line.sku for line in after.lines if line.stocked}
        wanted = [
            (skus[line_id], quantity - old.get(line_id, 0))
            for line_id, quantity in cancelled_by_line(after).items()
            if line_id in skus and quantity > old.get(line_id, 0)
        ]
        if not wanted:
            return ()
        owner = owner_of(after)
        holds = self._store.holds(owner=owner, state=HoldState.COMMITTED)
        # Only what was committed and not shipped: `_from_holds` would ask
        # the rest of the ledger, which refuses it.
        left = _unshipped_by_sku(holds)
        capped: list[tuple[str, int]] = []
        for sku, quantity in wanted:
            taken = min(quantity, left.get(sku, 0))
            if taken:
                left[sku] -= taken
                capped.append((sku, taken))
        if not capped:
            return ()
        back = [part for _, part in _from_holds(holds, capped)]
        self._ledger.unallocate(owner, back, reason="refunded before shipment", key=key)
        return tuple(back)

    def pick_tasks(self, order: Order) -> tuple[PickTask, ...]:
        """One pick task per location holding the order's committed units.

        Each stocked line's units come from where they were committed,
        oldest holds first; the task id names the order and the location, so
        sending a task again is the same task. Unstocked lines are picked
        from nowhere: an order of those alone has no task. Only the units
        still to ship are picked (`unshipped_lines`): not those a parcel
        carried already, nor those a refund cancelled before they shipped
        (`Order.cancelled_units`).
        """
        holds = self._store.holds(owner=owner_of(order), state=HoldState.COMMITTED)
        left = {part.line_id: part.quantity for part in unshipped_lines(order)}
        lines = [line for line in order.lines if line.stocked and line.line_id in left]
        wanted = [(line.sku, left[line.line_id]) for line in lines]
        by_location: dict[str, list[PickLine]] = {}
        # One pass over all lines: two lines of one SKU share its committed
        # units, so the second takes what the first left, not the same units.
        for i, part in _from_holds(holds, wanted):
            by_location.setdefault(part.location, []).append(
                PickLine(lines[i].line_id, part.sku, part.quantity)
            )
        owner = owner_of(order)
        return tuple(
            PickTask(
                task_id=f"pick:{owner}:{location}",
                order_id=order.order_id,
                location=location,
                lines=lines,
                key=IdempotencyKey(order.channel, "pick", order.order_id, location),
            )
            for location, lines in sorted(by_location.items())
        )

    def restock(self, order: Order, case: AfterSalesCase) -> None:
        """Put a case's units back on hand once its inspection has passed.

        The units go back when the case is recorded with a passed inspection
        that the stored case (if any) had no verdict for yet, whatever step
        the case has reached since (a case inspected and refunded by hand,
        then recorded, comes back too). Each line is keyed by the order and
        the case (`restock_key`). The case's lines of unstocked order lines
        (a gift card, a fee) go back nowhere: the ledger never had them.

        A case the order does not have yet (unless rejected: it returns
        nothing), and one whose passed inspection would restock, must name a
        location of the desk (`DeskPolicy.locations`, or one of its
        `return_locations`, a quarantine) as its `return_to` when it returns
        units of a stocked line: units put back anywhere else would sit
        where the desk knows nothing of them.

        Raises:
            ValidationError: The case returns more units of a line than
                shipped and not put back by an earlier case
                (`after_sales[i].lines[j].quantity`), or its `return_to` is
                not a location of the desk or one of its return locations
                (`after_sales[i].return_to`);
                nothing is restocked.
        """
        before = next((c for c in order.after_sales if c.case_id == case.case_id), None)
        restocks = case.inspection_passed is True and (
            before is None or before.inspection_passed is None
        )
        opened = before is None and case.state is not CaseState.REJECTED
        unstocked = _unstocked(order)
        # A refund without a return, or one of unstocked lines (a gift card),
        # puts nothing back.
        puts_back = case.returns_goods and any(
            line.line_id not in unstocked for line in case.lines
        )
        policy = self._policy
        if (
            (opened or restocks)
            and puts_back
            and case.return_to not in policy.locations
            and case.return_to not in policy.return_locations
        ):
            known = ", ".join(policy.locations)
            if policy.return_locations:
                known += f"; return_locations: {', '.join(policy.return_locations)}"
            raise ValidationError(
                f"{_case_field(order, case)}.return_to",
                case.return_to,
                f"is not a location of this desk (DeskPolicy.locations: {known})",
            )
        # The verdict is set once, by the inspection: a stored verdict means
        # the units went back (or stayed out) when it was recorded.
        if not case.inspection_passed or (
            before is not None and before.inspection_passed is not None
        ):
            return
        _check_returnable(order, case)
        if not case.returns_goods:
            return
        ledger = self._ledger
        for i, line in enumerate(case.lines):
            if line.line_id in unstocked:
                continue
            ledger.restock(
                line.sku,
                case.return_to,
                line.quantity,
                reason=f"after-sales case {case.case_id} passed inspection",
                key=restock_key(order.channel, case, i),
            )


def _allowing(balance: Balance, allowance: int) -> Balance:
    """`balance` as `route` should see it: `allowance` more units available.

    On hand carries the allowance, since `route` reads only `available`; the
    store's counts stop at 2**63 - 1, and no reservation goes past them.
    """
    if not allowance:
        return balance
    return attrs.evolve(balance, on_hand=min(balance.on_hand + allowance, MAX_INT))


def _until(deadline: pendulum.DateTime, now: pendulum.DateTime) -> dt.timedelta:
    """`deadline - now`, exact, as a plain `timedelta`.

    Pendulum's own subtraction builds an `Interval` through a float of
    seconds: some 20x slower, and it rounds spans of centuries.
    """
    return dt.datetime.__sub__(deadline, now)


def check_opened(order: Order, case: AfterSalesCase) -> None:
    """Refuse a case that returns units never shipped, or asks too much back.

    Checked when the case is first recorded, whatever its step, so that a
    return of units still in the warehouse is refused when it is opened,
    not at its inspection days later. A rejected case returns nothing.

    Its refund is checked when its passed inspection is recorded (the
    refund falls due then, and an override a person records while the case
    is open may allow it): see `_check_refund`.
    `i` in the fields below is the case's index in `order.after_sales`
    once recorded.

    Units an earlier case still asks for count as taken when a case is
    opened (two open cases of one unit and two, of two shipped, refuse the
    second at once): one rejected, failed, or resolved with nothing back
    gives its units back.

    Raises:
        ValidationError: The case returns more units of a line than shipped
            and not put back or asked for by an earlier case
            (`after_sales[i].lines[j].quantity`).
        RefundExceedsCapture: The case's refund is more than its payment
            can still give back (`after_sales[i].refund_amount`).
    """
    known = any(c.case_id == case.case_id for c in order.after_sales)
    if not known and case.state is not CaseState.REJECTED:
        _check_returnable(order, case, claimed=_claims)
    if just_passed(order, case):
        _check_refund(order, case)


def _case_field(order: Order, case: AfterSalesCase) -> str:
    """The field path of `case` once recorded with `order`, as `check_parts` names it.

    Its index among the order's cases: where it is stored already, else
    after the last (where `record_case` puts a new case).
    """
    index = next(
        (i for i, c in enumerate(order.after_sales) if c.case_id == case.case_id),
        len(order.after_sales),
    )
    return f"after_sales[{index}]"


def _check_refund(order: Order, case: AfterSalesCase) -> None:
    """Refuse a case whose refund its payment cannot give back.

    The refund saga checks the payment ledger before it sends (as the
    order's captured payments make it, `with_payments`), and a case asking
    more than it allows would stall there, after its units were taken
    back. Its payment can give back what the ledger has as refundable
    (captured and overrides, less what is refunded or pending), less what
    the order's other cases owed their refund already ask of it
    (`cases_owed`: passed inspection, refund not sent yet).

    Checked as the case's passed inspection is recorded. A case orderkit
    sends no refund for is not: one refunded otherwise (`refund_id`, by
    hand or by the channel's refund), or returning units of a line that its
    passing pays back twice (a person settles it).
    """
    if case.refund_id is not None or returns(case, paid_twice_once_passed(order, case)):
        return
    ledger = order.payment_ledger or PaymentLedger(order.order_id, order.currency)
    try:
        ledger = with_payments(ledger, order.payments)
    except CaptureExceedsAuthorisation:
        # The ledger refuses the order's payments: the saga stalls on it
        # whatever the case asks, and a person sorts the ledger out.
        return
    payment_id = case.payment_id
    left = ledger.totals(payment_id).refundable
    owed = [
        c
        for c in cases_owed(order)
        if c.case_id != case.case_id and c.payment_id == payment_id
    ]
    asked = sum((c.refund_amount for c in owed), Money.zero(order.currency))
    if case.refund_amount > left - asked:
        others = (
            f", {asked} of it owed to cases {', '.join(c.case_id for c in owed)}"
            if owed
            else ""
        )
        raise RefundExceedsCapture(
            f"{_case_field(order, case)}.refund_amount",
            case.refund_amount,
            f"payment {payment_id!r} has {left} captured and not refunded or "
            f"pending{others}; record an override to go beyond it",
        )


_OPEN: Final = frozenset({CaseState.REQUESTED, CaseState.APPROVED, CaseState.RECEIVED})


def _passed(case: AfterSalesCase) -> bool:
    """Whether `case` put its units back (or paid them back): it passed."""
    return bool(case.inspection_passed)


def _claims(case: AfterSalesCase) -> bool:
    """Whether `case` passed, or is still open and may: its units are taken."""
    return case.state in _OPEN or bool(case.inspection_passed)


def _check_returnable(
    order: Order,
    case: AfterSalesCase,
    *,
    claimed: Callable[[AfterSalesCase], bool] = _passed,
) -> None:
    """Refuse a case putting back units the ledger never shipped, or twice.

    What the ledger took out for a line is what the order's shipments
    carried; earlier cases that `claimed` its units (by default, those that
    passed inspection: they put some of it back already) leave less.
    Unstocked lines are not the ledger's: they are not checked.
    """
    unstocked = _unstocked(order)
    left = shipped_by_line(order)
    for earlier in order.after_sales:
        if earlier.case_id != case.case_id and claimed(earlier):
            for line in earlier.lines:
                left[line.line_id] = left.get(line.line_id, 0) - line.quantity
    for i, line in enumerate(case.lines):
        if line.line_id in unstocked:
            continue
        returnable = left.get(line.line_id, 0)
        if line.quantity > returnable:
            raise ValidationError(
                f"{_case_field(order, case)}.lines[{i}].quantity",
                line.quantity,
                f"line {line.line_id!r} has {max(returnable, 0)} units shipped"
                " and not returned or asked for by an earlier case",
            )
        left[line.line_id] = returnable - line.quantity


def _demand(order: Order) -> dict[str, int]:
    """The units by SKU the order's stocked lines still need.

    Not shipped yet, nor cancelled by a refund before they shipped.
    """
    shipped = shipped_by_line(order)
    cancelled = cancelled_by_line(order)
    demand: dict[str, int] = {}
    for line in order.lines:
        line_id = line.line_id
        left = line.quantity - shipped.get(line_id, 0) - cancelled.get(line_id, 0)
        if line.stocked and left > 0:
            demand[line.sku] = demand.get(line.sku, 0) + left
    return demand


def _unstocked(order: Order) -> frozenset[str]:
    """The ids of the order's lines with no stock behind them."""
    return frozenset(line.line_id for line in order.lines if not line.stocked)


_NOWHERE: Final = "-"
"""The location `_from_holds` asks of a SKU the order was given none of."""


def _from_holds(
    holds: Iterable[Hold], wanted: Iterable[tuple[str, int]]
) -> list[tuple[int, StockLine]]:
    """Where each wanted SKU's units were committed, oldest holds first.

    As `_split_holds`, its two lists in one, in the order of `wanted`.
    """
    given, beyond = _split_holds(holds, wanted)
    return sorted(given + beyond, key=_first)


def _stocked_units(order: Order, event: Shipped) -> list[tuple[str, int]]:
    """The parcel's units by SKU, line by line: its unstocked lines took no stock."""
    skus = {line.line_id: line.sku for line in order.lines if line.stocked}
    return [
        (skus[part.line_id], part.quantity)
        for part in event.lines
        if part.line_id in skus
    ]


def _unshipped_by_sku(holds: Iterable[Hold]) -> dict[str, int]:
    """The units `holds` committed and did not ship yet, by SKU."""
    left: dict[str, int] = {}
    for hold in holds:
        left[hold.sku] = left.get(hold.sku, 0) + hold.unshipped
    return left


def _only(locations: set[str]) -> str | None:
    """The one location of `locations`; `None` for none or several."""
    return next(iter(locations)) if len(locations) == 1 else None


def _at(line: StockLine, location: str) -> StockLine:
    """`line` at `location`."""
    return StockLine(line.sku, location, line.quantity)


def _first(part: tuple[int, StockLine]) -> int:
    """A part's index in `wanted`: sorting by it keeps each SKU's parts in order."""
    return part[0]


def _named(shortages: Iterable[Shortage]) -> tuple[Shortage, ...]:
    """`shortages` with `_NOWHERE` told as no location."""
    return tuple(
        attrs.evolve(s, location=None) if s.location == _NOWHERE else s
        for s in shortages
    )


def _split_holds(
    holds: Iterable[Hold], wanted: Iterable[tuple[str, int]]
) -> tuple[list[tuple[int, StockLine]], list[tuple[int, StockLine]]]:
    """Where each wanted SKU's units were committed, oldest holds first.

    Each part comes with the index in `wanted` it serves. The committed
    units are taken once across all of `wanted`: two entries of one SKU
    never both take the same units.

    The units beyond what was committed come in the second list, asked of
    the SKU's first location (or `_NOWHERE`, of none): the ledger refuses
    them with the shortage, unless the caller takes them otherwise.
    """
    left: dict[tuple[str, str], int] = {}
    for hold in holds:
        if hold.state is HoldState.COMMITTED:
            row = (hold.sku, hold.location)
            left[row] = left.get(row, 0) + hold.unshipped
    lines: list[tuple[int, StockLine]] = []
    beyond: list[tuple[int, StockLine]] = []
    for i, (sku, quantity) in enumerate(wanted):
        rows = [row for row in left if row[0] == sku]
        need = quantity
        for row in rows:
            taken = min(left[row], need)
            if taken:
                left[row] -= taken
                need -= taken
                lines.append((i, StockLine(sku, row[1], taken)))
        if need:
            beyond.append((i, StockLine(sku, rows[0][1] if rows else _NOWHERE, need)))
    return lines, beyond


def _parcel_holds(
    holds: Sequence[Hold], wanted: Sequence[tuple[str, int]], location: str | None
) -> list[Hold]:
    """The committed holds a parcel of `wanted` left from: one location's, if known.

    A parcel leaves one warehouse. One whose `Shipped` event names its
    `location` leaves that location's holds. One that names none, of an
    order split between locations, is judged: the one location whose
    units not shipped yet are the parcel exactly (the warehouse shipped its
    whole pick task), else the one location that alone holds enough for
    it. When no single location is known (or the order holds one
    location's units only), every committed hold, oldest first: a guess,
    which the sender corrects by naming the location.
    """
    if location is not None:
        return [
            hold
            for hold in holds
            if hold.state is HoldState.COMMITTED and hold.location == location
        ]
    committed = [hold for hold in holds if hold.state is HoldState.COMMITTED]
    left: dict[str, dict[str, int]] = {}
    for hold in committed:
        if hold.unshipped:
            at = left.setdefault(hold.location, {})
            at[hold.sku] = at.get(hold.sku, 0) + hold.unshipped
    if len(left) < 2:  # one location, or none: nothing to choose
        return committed
    parcel: dict[str, int] = {}
    for sku, quantity in wanted:
        parcel[sku] = parcel.get(sku, 0) + quantity
    exact = [location for location, units in left.items() if units == parcel]
    enough = [
        location
        for location, units in left.items()
        if all(units.get(sku, 0) >= quantity for sku, quantity in parcel.items())
    ]
    chosen = exact if len(exact) == 1 else enough
    if len(chosen) != 1:
        return committed
    (location,) = chosen
    return [hold for hold in committed if hold.location == location]


def _in_lock_order(holds: Iterable[Hold]) -> list[Hold]:
    """`holds` by balance, as a store that locks balances takes them.

    A unit of work that commits or releases several holds keeps each
    balance's lock to its end; taking them in one order everywhere means two
    units never wait for each other in a circle.
    """
    return sorted(holds, key=lambda h: (h.sku, h.location, h.hold_id))
