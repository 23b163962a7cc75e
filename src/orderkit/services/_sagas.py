"""Use cases that call the outside: each a saga whose step is stored with the order.

A saga first stores its step on the order (`Order.saga`, one version on,
with an audit record), then calls the outside (payment provider, carrier)
under the saga's key, then records the result and ends the saga. A crash
anywhere leaves either no saga (nothing was asked of the outside) or a saga
that `recover` resumes: the call is made again under the same key, which the
outside honours, and the result is recorded once. `OrderDesk.start_picking`
runs the `pick` saga (its pick tasks to the warehouse) the same way.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Final, final

import pendulum

from orderkit._validate import MAX_INT, optional_name, positive_money, text
from orderkit.dedupe import IdempotencyKey
from orderkit.errors import (
    ConfigurationError,
    CurrencyMismatch,
    IdempotencyConflict,
    IllegalTransition,
    OrderkitError,
    UnknownLocation,
    ValidationError,
)
from orderkit.integrations import Label
from orderkit.money import Money
from orderkit.orders import (
    AuditRecord,
    FieldChange,
    Order,
    OrderStatus,
    PaymentCaptured,
    PickingStarted,
    Saga,
    ShipmentLine,
    Shipped,
    order_stream,
    unshipped_lines,
)
from orderkit.ports import Carrier, Clock, Payments, UnitOfWork, Warehouse
from orderkit.services import _saga_steps as steps
from orderkit.services._desk import OrderDesk
from orderkit.services._desk_edits import edited_on_channel
from orderkit.services._desk_notes import held_for_payments
from orderkit.services._desk_overpaid import cost_of
from orderkit.services._intake import EventRecorded
from orderkit.services._picking import PICK
from orderkit.services._refunds import Refunds
from orderkit.services._saga_outcomes import (
    AlreadyDone,
    Captured,
    CaptureDeclined,
    Dispatched,
    Recovery,
    SagaOutcome,
    Stalled,
)


__all__ = ["Checkout", "Refunds", "Shipping", "recover"]

_S = OrderStatus
_CAPTURE: Final = "capture"
_SHIP: Final = steps.SHIP
# The trail's record of an order held for a person, and why: its pricing.
_HELD: Final = "HeldForReview"
_PRICING: Final = "pricing"


@final
class Checkout:
    """Capture an order's payment with the provider, as a saga.

    `pay` stores a `capture` saga on the order, asks the provider to
    capture under the saga's key, records `PaymentCaptured` through the
    desk (which commits the order's held stock), then ends the saga, the
    capture recorded in the order's payment ledger in the same unit when
    the order keeps one (a host's ledger holding the authorisation bounds
    what `pay` captures). The key is one per order and payment id, so
    however often `pay` or `recover` repeats the capture, the provider
    moves the money once.
    A refund that fell due while it ran (the order cancelled or closed
    meanwhile) starts when the saga ends, captured or declined, in the
    same unit (see *Sagas* in the concepts). Only the order refusing the
    capture itself keeps the saga: a parked event the capture lets through
    that the order refuses (a channel parcel of more units than ordered)
    is dropped as `OrderDesk.record` drops it, and the saga ends.

    Args:
        unit: The backend's unit of work.
        clock: Where the time comes from.
        desk: The order desk over the same unit of work.
        payments: The payment provider.

    .. versionadded:: 0.1.0
    """

    def __init__(
        self, unit: UnitOfWork, clock: Clock, desk: OrderDesk, payments: Payments
    ) -> None:
        """Capture through `payments`, recording through `desk`."""
        self._unit = unit
        self._clock = clock
        self._desk = desk
        self._payments = payments

    def pay(
        self,
        channel: str,
        order_id: str,
        payment_id: str,
        amount: Money,
        *,
        in_part: bool = False,
    ) -> Captured | CaptureDeclined | AlreadyDone:
        """Capture `amount` of the authorisation `payment_id` for an unpaid order.

        `amount` is what the order costs (`OrderDesk.payable`). Split
        tender (a card for some, a gift card for the rest) pays with
        `in_part=True`: `amount` may then be less than the order costs,
        never more. Pay the part first (a paid order takes no `pay`), then
        record the rest as another payment through `OrderDesk.record` of a
        `PaymentCaptured` (the gift card's id and amount). An order the
        capture leaves paid short waits for a person (`review` gains
        `"payment"`, its `HeldForReview` record naming what was paid and
        what the order costs), in the saga's last unit: a person releases
        it once the rest is recorded. A rest recorded while the capture
        was in flight holds nothing.

        Calling it again after any failure is safe: a saga in flight for
        the same payment is resumed under its key, and a payment the order
        records already is reported as `AlreadyDone` without calling the
        provider, whatever other saga is in flight. A provider's refusal
        (not a failure to retry) ends the saga as a decline would: nothing
        was captured, a refund owed meanwhile is handed on, and another
        authorisation may be paid.

        Returns:
            `Captured`, `CaptureDeclined` or `AlreadyDone`.

        Raises:
            ValidationError: `payment_id` is not a non-empty string, or
                `amount` not a positive amount (`field` names it); nothing
                was stored or asked.
            UnknownOrder: The desk has no such order.
            IllegalTransition: The order is not waiting for payment, or
                another saga is in flight on it (the reason names it).
            IdempotencyConflict: A capture of this payment is in flight
                for another amount.
            CurrencyMismatch: `amount` is not in the order's currency.
            CaptureExceedsAuthorisation: The order's payment ledger keeps
                `payment_id` and authorised less than `amount`; nothing was
                stored or asked.
            ValidationError: `amount` is other than the order costs
                (`OrderDesk.payable`: the total it was taken in at, moved by
                approved price changes), where its trail states that total
                and its channel changed none of its lines since; nothing
                was stored or asked. More would overcharge the buyer; less
                would leave the order paid short, as a paid order takes no
                second `pay`, unless `in_part` says the rest is paid
                otherwise. An order held for its pricing may be paid less
                (either its total or the channel's). `in_part` not a bool.
            TransientError: The provider failed or timed out
                (`CallTimedOut`), or its circuit breaker is open
                (`CircuitOpen`): the saga stays; call again or `recover`.
            OrderkitError: The provider refused the capture (another
                subclass, such as `UnknownPayment`): the saga ended.
        """
        # Checked before the key is built from it: a blank id would store a
        # saga that no capture can end.
        text("payment_id")(None, None, payment_id)
        positive_money("amount")(None, None, amount)
        if type(in_part) is not bool:
            raise ValidationError("in_part", in_part, "must be a bool")
        key = f"{_CAPTURE}:{order_stream(channel, order_id)}:{payment_id}"
        with self._unit as uow:
            order = steps.order_of(uow, channel, order_id)
            saga = order.saga
            mine = saga is not None and saga.key == key
            if not mine and any(p.payment_id == payment_id for p in order.payments):
                # Whatever runs on the order now (a refund of it): done is done.
                return AlreadyDone(order)
            if saga is None:
                if order.status is not _S.PENDING_PAYMENT:
                    raise IllegalTransition(
                        order_id, order.status, "pay", "the order is not unpaid"
                    )
                if amount.currency.code != order.currency:
                    raise CurrencyMismatch(
                        "amount", amount.currency.code, order.currency
                    )
                # The Payments contract: never more than the ledger allows.
                steps.check_capture(order, payment_id, amount)
                _check_cost(uow, order, amount, in_part=in_part)
                saga = Saga(
                    name=_CAPTURE,
                    step=steps.REQUESTED,
                    key=key,
                    started_at=self._clock.now(),
                    amount=amount,
                    reference=payment_id,
                )
                steps.write(uow, order, *steps.started(order, saga))
                uow.commit()
                # Begun here: `in_part` is known. One begun by an earlier
                # call is not (the saga does not keep it).
                part: bool | None = in_part
            else:
                steps.check_same(order, saga, _CAPTURE, key, "pay")
                if saga.amount != amount:
                    raise IdempotencyConflict(key)
                part = None
        return self._run(channel, order_id, saga, in_part=part)

    def resume(self, channel: str, order_id: str) -> Captured | CaptureDeclined | None:
        """Go on with the order's capture saga; `None` if there is none.

        Raises:
            UnknownOrder: The desk has no such order.
            TransientError: The provider failed again: the saga stays.
            CaptureExceedsAuthorisation: The order's payment ledger refuses
                the capture made: the saga stays, for a person.
            OrderkitError: The provider refused the capture: the saga ended
                as declined.
        """
        saga = steps.in_flight(self._unit, channel, order_id, _CAPTURE)
        return None if saga is None else self._run(channel, order_id, saga)

    def _run(
        self, channel: str, order_id: str, saga: Saga, *, in_part: bool | None = None
    ) -> Captured | CaptureDeclined:
        """Capture the saga's money and record it; `in_part` as `pay` was given.

        `None` (`resume`, or `pay` going on with a saga begun earlier) is
        not known: the capture is checked for a part as with `in_part`.
        """
        payment_id, amount = steps.reference(saga), steps.amount(saga)

        def refund_owed(uow: UnitOfWork, order: Order) -> Saga | None:
            # Declined or not: a cancellation meanwhile may owe other money.
            return steps.refund_after_capture(uow, order, payment_id, self._clock.now())

        try:
            transaction = self._payments.capture(payment_id, amount, key=saga.key)
        except steps.RETRY_LATER:
            raise
        except OrderkitError as refused:
            # A refusal moved no money, as a decline: the saga ends the same
            # way (a refund owed meanwhile handed on), so a new authorisation
            # can be paid; the caller learns why from the refusal itself.
            steps.finish(
                self._unit,
                self._clock,
                channel,
                order_id,
                saga,
                result=f"{payment_id} refused: {steps.reason_text(refused)}",
                then=refund_owed,
            )
            raise
        if not transaction.succeeded:
            order = steps.finish(
                self._unit,
                self._clock,
                channel,
                order_id,
                saga,
                result=steps.describe(transaction),
                then=refund_owed,
            )
            return CaptureDeclined(order, transaction)
        event = PaymentCaptured(
            order_id=order_id,
            key=IdempotencyKey(steps.ACTOR, "payment.captured", order_id, saga.key),
            occurred_at=transaction.created_at,
            actor=steps.ACTOR,
            source=steps.ACTOR,
            payment_id=payment_id,
            amount=transaction.amount,
        )
        kept = steps.refusal(self._desk.record(channel, order_id, event), event)
        if kept is not None:
            # The money moved but the order refuses it: keep the saga, so the
            # capture stays visible (`recover` reports it as stalled).
            raise kept
        records: Iterable[AuditRecord] | None = None
        if in_part is not False:
            # What the order costs, to tell a capture of a part. Paid whole,
            # `_check_cost` saw it cover the order: no trail read then.
            with self._unit as uow:
                records = uow.audit.records(channel, order_id)

        def captured(order: Order, now: pendulum.DateTime) -> steps.Changed:
            changed, said = steps.with_capture(order, saga, now)
            if records is None:
                return changed, said
            short = _held_if_short(changed, records, now)
            return (changed, said) if short is None else (short[0], (*said, short[1]))

        order = steps.finish(
            self._unit,
            self._clock,
            channel,
            order_id,
            saga,
            result=steps.describe(transaction),
            then=refund_owed,
            change=captured,
        )
        return Captured(order, transaction)


@final
class Shipping:
    """Book an order's parcel with the carrier and record it shipped, as a saga.

    `ship` stores a `ship` saga keyed by the shipment id, asks the carrier
    for a label (the carrier is idempotent by shipment id), records
    `PickingStarted` if the order is only paid and `Shipped` with the
    label's carrier and tracking number through the desk (which takes the
    units out of the ledger), then ends the saga. The parcel carries every
    unit not shipped yet, or the units `lines` names; `location` names the
    stock location it leaves. Both are stored with the saga, so `resume`
    and `recover` ship the same parcel: an order split between warehouses
    (`OrderDesk.pick_tasks`) ships one parcel per location, each under its
    own shipment id, and each takes its units from its own location's holds.

    When the order refuses the shipment after the label is booked (it was
    cancelled meanwhile), the saga ends without a shipment, in one unit:
    the order waits for a person to void the label (`review` gains
    `"label"`), and the refund the cancellation made owed starts as the
    order's `refund` saga, for `Refunds` to send. A carrier that refuses
    the label (an address it does not serve: no failure to retry) ends the
    saga the same way, for a person to book the parcel otherwise. A parked
    event that `PickingStarted` or the shipment lets through and the order
    refuses (a channel parcel of more units than ordered) is no refusal of
    the shipment: `OrderDesk.record` drops it as ever.

    Args:
        unit: The backend's unit of work.
        clock: Where the time comes from.
        desk: The order desk over the same unit of work.
        carrier: The carrier.

    .. versionadded:: 0.1.0
    """

    def __init__(
        self, unit: UnitOfWork, clock: Clock, desk: OrderDesk, carrier: Carrier
    ) -> None:
        """Book through `carrier`, recording through `desk`."""
        self._unit = unit
        self._clock = clock
        self._desk = desk
        self._carrier = carrier

    def ship(
        self,
        channel: str,
        order_id: str,
        shipment_id: str,
        *,
        lines: Iterable[ShipmentLine] | None = None,
        location: str | None = None,
    ) -> Dispatched | AlreadyDone:
        """Ship the units the order has not shipped, or `lines` of them.

        `shipment_id` is the carrier's idempotency key: make it unique
        across orders. Calling again after any failure resumes the saga,
        given the same `lines` and `location`; a shipment the order
        records already is `AlreadyDone`, whatever other saga is in flight
        and whatever `lines` and `location` are given. A parcel of some of
        the units leaves the order `PARTIALLY_SHIPPED`; another call, under
        another shipment id, ships more.

        Args:
            channel: The order's channel.
            order_id: The order's id on its channel.
            shipment_id: The parcel's id: the saga's key and the carrier's.
            lines: The units the parcel carries, each line once (in any
                order); `None`, every unit not shipped nor cancelled when
                the shipment is recorded.
            location: The stock location the parcel leaves (a warehouse's
                id): recorded as `Shipped.location`, so the desk takes its
                units from that location's holds. `None`: the desk judges
                (see `Shipped.location`).

        Returns:
            `Dispatched` or `AlreadyDone`.

        Raises:
            ValidationError: `lines` is empty, names a line twice, or a
                line the order lacks, or more units of a line than it has
                neither shipped nor cancelled (`unshipped_lines`); or
                `location` is not a non-empty string. `field` is the path
                (`lines[1].quantity`), `value` what was refused; nothing
                was stored or asked.
            InvalidQuantity: A line of `lines` has fewer than 1 unit;
                nothing was stored or asked.
            UnknownLocation: The ledger never stocked anything at
                `location` (a typo); nothing was stored or asked.
            UnknownOrder: The desk has no such order.
            IllegalTransition: The order is not paid, is held for review, has
                shipped everything, or another saga is in flight on it (the
                reason names it); or the order refused the shipment after the
                carrier booked it (the error says which label to void), or the
                carrier refused the label (its error is the `__cause__`): the
                saga ended, the order waits for a person (`review` has
                `"label"`).
            IdempotencyConflict: The saga of `shipment_id` is in flight
                for other `lines` or another `location`; nothing was asked.
            TransientError: The carrier failed or timed out (`CallTimedOut`),
                or its circuit breaker is open (`CircuitOpen`): the saga
                stays; call again or `recover`.
        """
        # Checked before the order is read: a parcel no order could ship is
        # refused whatever the order holds.
        parcel = None if lines is None else steps.parcel_of(lines)
        optional_name("location")(None, None, location)
        with self._unit as uow:
            order = steps.order_of(uow, channel, order_id)
            saga = order.saga
            mine = saga is not None and saga.key == shipment_id
            if not mine and order.shipment(shipment_id) is not None:
                # Whatever runs on the order now (a refund): done is done.
                return AlreadyDone(order)
            if saga is None:
                problem = steps.unshippable(order)
                if problem is not None:
                    raise IllegalTransition(order_id, order.status, "ship", problem)
                now = self._clock.now()
                if location is not None and not uow.ledger.balances(
                    now, location=location
                ):
                    # A typo would book the label and take the units off a
                    # shelf that never held them.
                    raise UnknownLocation(location)
                saga = Saga(
                    name=_SHIP,
                    step=steps.REQUESTED,
                    key=shipment_id,
                    started_at=now,
                    reference=shipment_id,
                    lines=() if parcel is None else steps.check_parcel(order, parcel),
                    location=location,
                )
                steps.write(uow, order, *steps.started(order, saga))
                uow.commit()
            else:
                steps.check_same(order, saga, _SHIP, shipment_id, "ship")
                steps.check_same_parcel(saga, parcel, location)
        return self._run(channel, order_id, saga)

    def resume(self, channel: str, order_id: str) -> Dispatched | None:
        """Go on with the order's ship saga; `None` if there is none.

        It ships the units and the location the saga was started with.

        Raises:
            UnknownOrder: The desk has no such order.
            IllegalTransition: The order refused the shipment, or the carrier
                refused the label (saga ended, left for a person, a refund
                owed handed over).
            TransientError: The carrier failed again: the saga stays.
        """
        saga = steps.in_flight(self._unit, channel, order_id, _SHIP)
        return None if saga is None else self._run(channel, order_id, saga)

    def _run(self, channel: str, order_id: str, saga: Saga) -> Dispatched:
        shipment_id = steps.reference(saga)
        with self._unit as uow:
            order = steps.order_of(uow, channel, order_id)
        try:
            label = self._carrier.create_label(shipment_id, order.address)
        except IdempotencyConflict as refused:
            # The label was booked for the address the order had then (it
            # changed since): asking again can never succeed. A person books
            # it again or voids it; a refund owed meanwhile goes out.
            raise self._for_a_person(
                channel,
                order_id,
                saga,
                f"label {shipment_id} refused: {refused}",
                f"the carrier booked {shipment_id} for another address",
            ) from refused
        except steps.RETRY_LATER:
            raise
        except OrderkitError as refused:
            # The carrier's no (an address it does not serve): asking again
            # gets the same answer, so a person decides; a refund owed
            # meanwhile goes out.
            raise self._for_a_person(
                channel,
                order_id,
                saga,
                f"label {shipment_id} refused: {steps.reason_text(refused)}",
                f"the carrier refused {shipment_id}: {steps.reason_text(refused)}",
            ) from refused
        problem = None
        # Read again: the buyer's address may have changed while the carrier
        # booked the label (`OrderDesk.record` holds the order for "label"),
        # and the label goes to the address the order had when asked.
        with self._unit as uow:
            now_order = steps.order_of(uow, channel, order_id)
        if now_order.shipment(shipment_id) is None:
            readdressed = (
                now_order.address != order.address or "label" in now_order.review
            )
            problem = (
                "its address changed after the label was booked"
                if readdressed
                else self._record(channel, now_order, saga, label)
            )
        result = f"{label.carrier} {label.tracking_number}"
        if problem is None:
            order = steps.finish(
                self._unit, self._clock, channel, order_id, saga, result=result
            )
            return Dispatched(order, label)

        # The label is booked and nothing ships on it: a person voids it
        # (the Carrier port has no call for that), told by `review`.
        raise self._for_a_person(
            channel,
            order_id,
            saga,
            f"{result} not shipped: {problem}",
            f"{problem}; void label {label.carrier} {label.tracking_number}",
        )

    def _for_a_person(
        self, channel: str, order_id: str, saga: Saga, result: str, reason: str
    ) -> IllegalTransition:
        """End the ship saga with `review` "label", a refund owed handed over.

        Returns the error to raise: the order refused the shipment.
        """

        def refund_owed(uow: UnitOfWork, order: Order) -> Saga | None:
            return steps.refund_after_ship(uow, order, self._clock.now())

        order = steps.finish(
            self._unit,
            self._clock,
            channel,
            order_id,
            saga,
            result=result,
            then=refund_owed,
            review="label",
        )
        return IllegalTransition(order_id, order.status, "ship", reason)

    def _record(
        self, channel: str, order: Order, saga: Saga, label: Label
    ) -> str | None:
        """Record picking (if needed) and the shipment; say why not, if not."""
        order_id = order.order_id
        if order.status is _S.PAID:
            picking = PickingStarted(
                order_id=order_id,
                key=IdempotencyKey(steps.ACTOR, "picking.started", order_id, saga.key),
                occurred_at=saga.started_at,
                actor=steps.ACTOR,
                source=steps.ACTOR,
            )
            recorded = self._desk.record(channel, order_id, picking)
            refused = steps.refusal(recorded, picking)
            if refused is not None:
                return str(refused)
            order = recorded.order
        # The saga's own units, fixed when it started; else the rest of the order.
        lines = saga.lines or unshipped_lines(order)
        if not lines or order.status not in steps.SHIPPABLE:
            return f"the order is {order.status} with nothing to ship"
        shipped = Shipped(
            order_id=order_id,
            key=IdempotencyKey(steps.ACTOR, "shipped", order_id, saga.key),
            occurred_at=label.created_at,
            actor=steps.ACTOR,
            source=steps.ACTOR,
            shipment_id=steps.reference(saga),
            lines=lines,
            carrier=label.carrier,
            tracking_number=label.tracking_number,
            location=saga.location,
        )
        refused = steps.refusal(self._desk.record(channel, order_id, shipped), shipped)
        return None if refused is None else str(refused)


def recover(  # noqa: PLR0913 - a use case per kind of saga
    unit: UnitOfWork,
    *,
    checkout: Checkout | None = None,
    shipping: Shipping | None = None,
    refunds: Refunds | None = None,
    desk: OrderDesk | None = None,
    warehouse: Warehouse | None = None,
    page: int = 100,
) -> Recovery:
    """Resume every saga left in flight, as after a crash.

    It reads the orders that wait (`orderkit.orders.waits`), `page` at a
    time (every order, from a store without the optional `waiting()`
    read), and resumes each saga with the use case that started it, along
    the same code path: a step done
    before the crash is done again under the same key, which the outside
    honours, and recorded once. A saga that fails again stays on its order
    and is reported as `Stalled`; the others go on. A `pick` saga needs
    `desk` and `warehouse` (without them it stays, stalled with a
    `ConfigurationError`): it sends its tasks again and records picking
    (`OrderDesk.start_picking`) while the order is paid. One whose order
    moved on, or whose task the warehouse refuses, ends, the order waiting
    for a person to void its tasks (`review` has `"pick"`), and is
    reported as `Stalled` with the `IllegalTransition` that names them.
    One whose tasks go to a location the desk's `DeskPolicy.locations` do
    not list is not sent: it stays, stalled with a `ConfigurationError`
    naming the location, for the call given that location's desk and
    warehouse (a host with a warehouse per region calls `recover` once per
    region).

    Args:
        unit: The backend's unit of work.
        checkout: Resumes `capture` sagas.
        shipping: Resumes `ship` sagas.
        refunds: Resumes `refund` sagas.
        desk: With `warehouse`, resumes the `pick` sagas of its locations.
        warehouse: Where those `pick` sagas send their tasks: the warehouse
            of `desk`'s locations.
        page: How many orders to read per unit.

    Returns:
        The sagas finished and the sagas stalled. A saga whose use case
        was not given is stalled with a `ConfigurationError`.

    .. versionadded:: 0.1.0
    """
    _check_page(page)
    runners: dict[str, Callable[[str, str], SagaOutcome | None] | None] = {
        _CAPTURE: None if checkout is None else checkout.resume,
        _SHIP: None if shipping is None else shipping.resume,
        steps.REFUND: None if refunds is None else refunds.resume,
        PICK: _picker(unit, desk, warehouse),
    }
    finished: list[SagaOutcome] = []
    stalled: list[Stalled] = []
    for order in steps.scan_waiting(unit, page=page):
        saga = order.saga
        if saga is None:
            continue
        runner = runners.get(saga.name)
        if runner is None:
            problem = f"no use case given for {saga.name!r} sagas"
            error = ConfigurationError("recover", problem, value=saga.name)
            stalled.append(Stalled(order.channel, order.order_id, saga, error))
            continue
        outcome = _attempt(runner, order)
        if isinstance(outcome, Stalled):
            stalled.append(outcome)
        elif outcome is not None:
            finished.append(outcome)
    return Recovery(tuple(finished), tuple(stalled))


# ----------------------------------------------------------------------
# Helpers


def _attempt(
    runner: Callable[[str, str], SagaOutcome | None], order: Order
) -> SagaOutcome | Stalled | None:
    try:
        return runner(order.channel, order.order_id)
    except OrderkitError as error:
        # The saga stays on the order; the next recovery tries it again.
        return steps.stalled(order, error)


def _picker(
    unit: UnitOfWork, desk: OrderDesk | None, warehouse: Warehouse | None
) -> Callable[[str, str], EventRecorded | None] | None:
    """What resumes a pick saga: `start_picking`, while the saga is in flight."""
    if desk is None or warehouse is None:
        return None

    def resume(channel: str, order_id: str) -> EventRecorded | None:
        # Ended since the scan read it: nothing left to send.
        if steps.in_flight(unit, channel, order_id, PICK) is None:
            return None
        return desk.start_picking(channel, order_id, warehouse)

    return resume


def _check_page(page: object) -> None:
    if type(page) is not int or not 0 < page <= MAX_INT:
        raise ValidationError("page", page, "must be a positive integer")


def _check_cost(uow: UnitOfWork, order: Order, amount: Money, *, in_part: bool) -> None:
    """Refuse to capture other than what the order costs; change nothing.

    What it costs is `OrderDesk.payable`. More would overcharge the buyer;
    less would make the order paid with the rest never asked for, as a
    paid order takes no second `pay`, unless the caller pays `in_part`
    (split tender: the rest is recorded as another payment, and the
    capture holds the order until a person sees it covered, see
    `_held_if_short`). An order held for its pricing (at
    intake `payable` is then the larger of orderkit's total and the
    channel's, so either may be captured) may be paid less, never more.
    An order whose trail states no total (taken in by an earlier orderkit,
    or stored by its host), and one whose lines its channel changed since
    (`"edited"`: what the buyer owes moved with them), are not checked.
    """
    records = uow.audit.records(order.channel, order.order_id)
    cost = cost_of(order, records)
    if cost is None or amount == cost or edited_on_channel(records, order.channel):
        return
    if amount > cost:
        raise ValidationError(
            "amount",
            amount,
            f"is more than order {order.order_id!r} costs, {cost}"
            " (OrderDesk.payable): the buyer would be overcharged",
        )
    if in_part or _held_for_pricing(records):
        return
    raise ValidationError(
        "amount",
        amount,
        f"is less than order {order.order_id!r} costs, {cost}"
        f" (OrderDesk.payable): it would be paid {cost - amount} short, and"
        " a paid order takes no second payment; capture what it costs, or"
        " pay in_part=True and record the rest as another payment",
    )


def _held_if_short(
    order: Order, records: Iterable[AuditRecord], now: pendulum.DateTime
) -> tuple[Order, AuditRecord] | None:
    """`order`, just paid by a capture, waiting for a person if paid short.

    Only `pay` with `in_part` captures less than the order costs (an order
    held for its pricing may be paid the channel's smaller total, and one
    whose trail states no total or whose lines its channel changed is not
    checked: none of them is held). The rest is another payment the host
    records (`OrderDesk.record`); until a person sees it covered, the
    order waits (`"payment"`), its record naming what it was paid and
    what it costs. An order ended meanwhile owes its payments back.
    """
    if order.status is not _S.PAID:
        return None
    records = tuple(records)
    cost = cost_of(order, records)
    paid = sum((p.amount for p in order.payments), Money.zero(order.currency))
    if (
        cost is None
        or paid >= cost
        or edited_on_channel(records, order.channel)
        or _held_for_pricing(records)
    ):
        return None
    said = FieldChange(
        "payment",
        "",
        f"paid in part: {paid} of {cost}, {cost - paid} short: record the rest"
        " (OrderDesk.record of a PaymentCaptured), then release",
    )
    return held_for_payments(order, (said,), now)


def _held_for_pricing(records: Iterable[AuditRecord]) -> bool:
    """Whether the trail ever held the order for its pricing.

    Such an order's payable is the larger of two totals the buyer may have
    been asked for: the smaller is no shortfall.
    """
    return any(
        record.event_type == _HELD
        and change.field == "review"
        and _PRICING in change.new.split(", ")
        for record in records
        for change in record.changes
    )
