"""The order desk: the use cases a host calls, composed over one unit of work.

Every use case opens the unit of work, reads what it needs, decides with
the pure core (lifecycle, pricing, limits, dedupe, ledger math), writes the
order, its audit records, its stock movements and its outbox messages, and
commits once: a use case that fails leaves every store as it was.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Final, Generic, TypeVar, final

import attrs
import pendulum

from orderkit._fast import copier
from orderkit._time import plus
from orderkit._validate import positive_int, text
from orderkit.dedupe import Fingerprinter, IdempotencyKey, ReviewState, Screening
from orderkit.errors import (
    ConcurrencyConflict,
    IllegalTransition,
    InsufficientStock,
    OrderMismatch,
    RefundExceedsCapture,
    UnknownOrder,
    ValidationError,
)
from orderkit.integrations import (
    ChannelOrder,
    ChannelRefund,
    PickTask,
    TrackingEvent,
)
from orderkit.inventory import Shortage
from orderkit.money import Money
from orderkit.orders import (
    EVENT_TYPES,
    AddressChanged,
    AfterSalesCase,
    Applied,
    AuditRecord,
    Batch,
    Cancelled,
    Closed,
    FieldChange,
    Order,
    OrderEvent,
    OrderStatus,
    PaymentCaptured,
    Recorded,
    RefundDue,
    Rejected,
    Shipped,
    Stale,
    Unchanged,
    apply_all,
    record_case,
    record_payments,
    record_price_change,
)
from orderkit.orders._overpaid import overpaid
from orderkit.orders._owed import owed_back
from orderkit.orders._status import ENDED
from orderkit.ports import Clock, UnitOfWork, Warehouse
from orderkit.pricing import (
    ChangeState,
    Exceeded,
    Overage,
    PaymentLedger,
    PriceChange,
    PurchaseContext,
    Quote,
    ViolationCode,
    validate,
)
from orderkit.pricing._limits import counts_units
from orderkit.services._channel_refunds import (
    capturing,
    corrected_refund,
    intake_batch,
    moving_money,
    place_parked,
    record_channel_refund,
    with_stated,
)
from orderkit.services._desk_edits import (
    edits_detail,
    held_for_edits,
    line_edits,
    may_be_edited,
    state_updated_at,
)
from orderkit.services._desk_notes import (
    case_refund_failed,
    case_refund_message,
    held_as_paid_twice,
    held_for,
    held_for_payments,
    held_telling,
    just_passed,
    lines_paid_twice,
    order_messages,
    owe,
    owe_case,
    parked_record,
    pricing_warning_record,
    reached,
    refused_events,
    refused_payment,
    returns,
    review_record,
    withdrawn_record,
)
from orderkit.services._desk_overpaid import (
    cost_of,
    held_if_overpaid,
    paid_twice,
    placed_total,
    recorded_total,
    state_total,
)
from orderkit.services._desk_parked_refunds import parked, parked_refunds
from orderkit.services._desk_readdressed import address_changed, differs
from orderkit.services._desk_refunded import paid_back_at_intake, with_paid_back
from orderkit.services._desk_stock import (
    SETTLED_BY_ENDING,
    OrderStock,
    check_opened,
    held_for_cancelled,
    owner_of,
)
from orderkit.services._desk_tracking import carrier_hold, parcel_event
from orderkit.services._duplicates import DuplicateDetector
from orderkit.services._intake import (
    Accepted,
    AlreadyAccepted,
    DeskPolicy,
    EventRecorded,
    Held,
    Intake,
    RefusalReason,
    Refused,
)
from orderkit.services._limits import PurchaseLimits
from orderkit.services._order_pages import of_status, orders_in
from orderkit.services._picking import (
    PICK,
    OrderPicking,
    pick_ended,
    picked_for_nobody,
    queued,
)
from orderkit.services._saga_steps import SHIP


_S = OrderStatus
_evolve_order: Final = copier(Order)
# Orders read per unit when a use case walks every order in a status.
_PAGE: Final = 500


_RECORDERS: Final[dict[type, Callable[..., Recorded | Unchanged]]] = {
    PaymentLedger: record_payments,
    AfterSalesCase: record_case,
    PriceChange: record_price_change,
}
_T = TypeVar("_T")


@final
class _PerStores(Generic[_T]):
    """A service over a unit's stores, made again only when they are others.

    The desk's clock, policy and fingerprinter never change, and a unit of
    work hands out the same store objects unit after unit (the reference
    ones do): the service the last call made serves the next, rather than
    one made per order. It is still made in the use case, from the stores
    the unit gives it, so whatever it refuses is refused by that call and
    every later one, as before. It keeps the last stores it was given (and
    so their objects stay alive) until a call brings others.
    """

    __slots__ = ("_last", "_make")

    def __init__(self, make: Callable[..., _T]) -> None:
        self._make = make
        self._last: tuple[tuple[object, ...], _T] | None = None

    def __call__(self, *stores: object) -> _T:
        # Read and replaced whole: threads sharing the desk never pair one
        # store with another's service. By identity: a store is its object.
        last = self._last
        if last is None or not all(map(operator.is_, last[0], stores)):
            last = self._last = (stores, self._make(*stores))
        return last[1]


@final
class OrderDesk:
    """The use cases over one backend: intake, events, timers and the queue.

    Args:
        unit: The backend's unit of work; every use case opens one unit
            of it and commits it: call the desk outside `with unit:`.
        clock: Where the time comes from.
        policy: How the desk decides (locations, pricing, limits...).
        fingerprinter: How orders are compared for duplicates.

    .. versionadded:: 0.1.0
    """

    def __init__(
        self,
        unit: UnitOfWork,
        clock: Clock,
        policy: DeskPolicy,
        fingerprinter: Fingerprinter,
    ) -> None:
        """Create the desk over `unit`."""
        if not isinstance(policy, DeskPolicy):
            raise ValidationError("policy", policy, "must be a DeskPolicy")
        self._unit = unit
        self._clock = clock
        self._policy = policy
        self._fingerprinter = fingerprinter
        self._detectors: _PerStores[DuplicateDetector] = _PerStores(
            lambda store: DuplicateDetector(
                policy.duplicate_window, store, fingerprinter, clock
            )
        )
        self._limiters: _PerStores[PurchaseLimits] = _PerStores(
            lambda store: PurchaseLimits(policy.limits, store, clock)
        )
        self._stocks: _PerStores[OrderStock] = _PerStores(
            lambda ledger, outbox: OrderStock(ledger, clock, policy, outbox)
        )

    # ------------------------------------------------------------------
    # Intake

    def accept(
        self,
        incoming: ChannelOrder,
        *,
        ip: str | None = None,
        device: str | None = None,
        promotion: str | None = None,
    ) -> Intake:
        """Take a channel's order in: check it, hold its stock, and store it.

        The pipeline, in order: an order the desk holds already is
        `AlreadyAccepted`; the duplicate screen records it (a suspected
        duplicate is held for review); purchase limits refuse it when a
        limit is reached (not an order already cancelled or closed when it
        comes in: it buys nothing, so it neither counts against a limit nor
        uses one, and the refund it owes is owed as without limits); a
        pricing violation holds it for review; otherwise
        its lines are routed to locations and their stock held (until the
        payment deadline, or committed if it is paid already), and a shortage
        refuses it. Refused orders leave nothing behind; held ones are stored
        without stock, waiting for `release`. An order that comes in
        cancelled or closed is never held but for a payment it could not
        take (`"payment"`), or a parcel it states that it refuses: that
        left after the end, and the order waits for a person as `record`
        holds one (`"shipped_after_end"`, answered `Held`; the parcel's
        units come off the shelf it left, unless
        `DeskPolicy.take_shipped_stock` is false). Otherwise it waits for
        nobody (a suspected duplicate still goes to the detector's review
        queue).

        An order that comes in paid (its notice states a capture, whether
        the order took it or refused it, as one in another currency) is
        never refused: its
        money was taken, and refused it would be forgotten, with no refund
        saga to send it back. Where a limit or a shortage would refuse it,
        it is stored without stock and answered `Held`, waiting for a person
        as an order paid after its stock sold out does (see `record`):
        over a purchase limit, `review` gains `"limits"` (the intake's
        `HeldForReview` audit record names the overages, as `overages`, and
        the order uses no limit until `release` counts it); short of stock,
        it gains `"stock"` (its `HeldForReview` record names each short
        line, as `shortages`).
        `release` holds its stock then (raising `InsufficientStock`, nothing
        changed, while it is still short); cancelled or closed, it sends its
        money back through its refund saga, and those reasons leave
        `review`.

        The events the channel states with the order apply as `record`
        applies them: early ones are parked with the order, and money owed
        back (paid, then cancelled) goes out through a `refund` message and
        saga; every status they move the order through writes its
        `milestone` message, as `record` does. The units of parcels the
        order states already (their notice came first) are taken out of
        stock as had the order come in before them (held, committed and
        shipped: a `SHIP` movement each), so the ledger ends the same
        whatever order the channel's notices arrive in; short of stock for
        them, the order is held for `"stock"` as any paid order short of
        it. `DeskPolicy.take_shipped_stock` false leaves them out (a desk
        taking in orders shipped before its stock was counted).

        The money the channel sent back already (`incoming.refunds`) is
        recorded first, whatever the order's status, in its payment ledger
        as `record_refund` records it (an audit record each, keyed by the
        refund), off the captures the order states: the refund a cancelled
        order owes is only what the channel still holds, nothing when it
        gave all of it back, and a paid order cancelled later owes only the
        rest. Units a refund names that no parcel the order states carried
        are cancelled (`Order.cancelled_units`) and take no stock. A refund
        that pays a line back for more units than were bought, or names a
        line the order does not have, is recorded and the order waits for a
        person (`review` gains `"refund"`, its `HeldForReview` record naming
        the line, as `record_refund` holds it); it takes its stock all the
        same, and is answered `Accepted` unless held for another reason.
        Refunds of an order that states no capture (refunded in full
        before goods left: the channel holds none of it) have no payment to
        come off yet: they are parked in its trail, a `ParkedChannelRefund`
        audit record each (keyed by the refund, a version of its own), and
        the first capture to reach the order (`record`, `update`: the
        notice of the payment may come later) places them first, so it
        owes back only what the channel still holds. An order
        answered `AlreadyAccepted` records nothing: give it to `update`,
        which records its refunds, then its events.

        The total the order is taken in at (the accepted total; for an order
        held for its pricing, the larger of the computed and the channel's
        stated total) goes into its `OrderPlaced` audit record as the change
        `total`: the order does not keep it, and `record` checks later
        payments against it. An order the notice states paid twice, its
        payments holding more than that total, is taken in as any paid order
        (stock committed) and waits for a person (`review` gains
        `"overpaid"`, see `record`). One whose notice states a capture and
        refunds that pay all of it back, nothing shipped, is taken in with
        its stock and answered `Held`: it waits for a person (`review`
        gains `"refunded"`, see `record_refund`), as had its refunds come
        after its capture.

        Args:
            incoming: The order as its channel adapter read it.
            ip: The IP address the buyer ordered from, for limits.
            device: The buyer's device id, for limits.
            promotion: The promotion the order uses, for limits.

        Returns:
            `Accepted`, `Held`, `AlreadyAccepted` or `Refused` (an order not
            paid when it comes in only).

        Raises:
            ValidationError: `incoming` is not a `ChannelOrder`.
            ConcurrencyConflict: Another process stored this order while this
                call ran (calling again answers `AlreadyAccepted`), or its
                store broke a tie between crossed units; nothing was recorded:
                call again.
            StoreError: A store failed; nothing was recorded.
        """
        if not isinstance(incoming, ChannelOrder):
            raise ValidationError("incoming", incoming, "must be a ChannelOrder")
        with self._unit as uow:
            found = uow.orders.get(incoming.channel, incoming.order_id)
            if found is not None:
                return AlreadyAccepted(found)
            now = self._clock.now()
            batch, records = intake_batch(incoming, now)
            order, refunds = _taken_in(batch, records, now)
            screening = self._detectors(uow.detector).check(order)
            limited = self._limited(uow, order, ip, device, promotion)
            # Paid already, the order is money taken: refused, nothing would
            # say so, and no saga would send it back. It waits for a person.
            if limited is not None and not _money_taken(order, batch):
                return limited
            order, why, total = self._priced(incoming, order, now, records)
            # An order that came in cancelled or closed takes no stock and
            # waits for nobody about it, as one held at intake and ended
            # later: only a payment it could not take, and a parcel that left
            # all the same, are still a person's.
            request = _request_said(ip, device, promotion)
            reasons = _held(screening, limited, why, batch, request)
            if order.status in ENDED:
                reasons = [r for r in reasons if r[0] not in SETTLED_BY_ENDING]
            review = [reason for reason, _, _ in reasons]
            details = [detail for _, detail, _ in reasons]
            if review:
                held = _evolve_order(
                    order, review=tuple(review), version=order.version + 1
                )
                record = review_record(held, now, tuple(review))
                said = tuple(change for _, _, told in reasons for change in told)
                records.append(attrs.evolve(record, changes=record.changes + said))
                order = held
            else:
                try:
                    self._stock(uow).hold(order, now)
                except InsufficientStock as error:
                    # A delivery of this order racing ours may have taken the
                    # stock and committed while we waited (on the detector's
                    # claim, in a database of many processes): it is accepted.
                    raced = uow.orders.get(incoming.channel, incoming.order_id)
                    if raced is not None:
                        return AlreadyAccepted(raced)
                    if not _money_taken(order, batch):
                        return Refused(
                            order.channel,
                            order.order_id,
                            RefusalReason.OUT_OF_STOCK,
                            shortages=error.shortages,
                        )
                    # Paid already: kept without stock, as a payment after the
                    # stock sold out is (`record`), for a person to decide.
                    order, detail = _short(order, error.shortages, now, records)
                    review = list(order.review)
                    details = [detail]
            # A parcel the notice states that the ended order refused left
            # all the same: held for as `record` holds one (`_held`), and its
            # units off the shelf, as the notice's other parcels are.
            self._left_shelf(uow, order, batch, take=self._policy.take_shipped_stock)
            # Paid twice in the notice itself: stock as any paid order, and a
            # person settles the excess.
            order = _overpaid_at_intake(order, total, now, records, details)
            # Refunded for more units than a line has, or a line it lacks: a
            # person checks the buyer is not paid back twice, as after
            # `record_refund`; the stock is the order's all the same.
            order = _paid_twice_at_intake(order, now, records, details)
            # Its capture and refunds giving all of it back, nothing shipped:
            # held as `record_refund` holds it, with its stock all the same,
            # so either arrival order of the notices ends alike.
            order = paid_back_at_intake(order, now, records, review, details)
            self._store(
                uow, None, order, records, now, passed=reached(batch), refunds=refunds
            )
            uow.commit()
        if review:
            return Held(order, tuple(records), "; ".join(details))
        return Accepted(order, tuple(records))

    def _limited(
        self,
        uow: UnitOfWork,
        order: Order,
        ip: str | None,
        device: str | None,
        promotion: str | None,
    ) -> Refused | None:
        """The refusal when a purchase limit is reached, or `None`.

        An order taken in already ended buys nothing: no limit applies to
        it and it uses none, so that the refund it owes is not lost with it.
        An order over a limit uses none either (`Exceeded` counts nothing):
        one taken in paid is held rather than refused, all the same.
        """
        if order.status in ENDED or not self._policy.limits:
            return None
        context = self._context(order, ip, device, promotion)
        decision = self._limiters(uow.limits).check(context, use_id=owner_of(order))
        if isinstance(decision, Exceeded):
            return Refused(
                order.channel,
                order.order_id,
                RefusalReason.LIMITS,
                overages=decision.over,
            )
        return None

    def _context(
        self,
        order: Order,
        ip: str | None,
        device: str | None,
        promotion: str | None,
    ) -> PurchaseContext:
        """What the purchase limits read of `order` and its request."""
        return PurchaseContext.of(
            order,
            ip=ip,
            device=device,
            promotion=promotion,
            region=self._fingerprinter.region_of(order.channel),
            mobile_extensions=self._fingerprinter.keeps_mobile_extensions(
                order.channel
            ),
        )

    def _priced(
        self,
        incoming: ChannelOrder,
        order: Order,
        now: pendulum.DateTime,
        records: list[AuditRecord],
    ) -> tuple[Order, str | None, Money]:
        """Price the order's quote: why it is held, or `None`, and its total.

        A difference the policy accepted (the channel's total taken) goes
        into the audit trail as a `PricingWarning` record, for
        reconciliation. The total the order is taken in at goes into its
        `OrderPlaced` record (change `total`): the order does not keep it,
        and a payment recorded later is checked against it.
        """
        pricing = validate(incoming.quote, self._policy.pricing_for(order.channel))
        total = placed_total(pricing, incoming.quote)
        state_total(records, total)
        state_updated_at(records, incoming)
        if not pricing.ok:
            return order, pricing.hold_reason or "pricing", total
        if pricing.warnings:
            order = _evolve_order(order, version=order.version + 1)
            records.append(pricing_warning_record(order, now, pricing.warnings))
        return order, None, total

    def release(  # noqa: PLR0913 - the order, who, and the request's parts
        self,
        channel: str,
        order_id: str,
        *,
        actor: str,
        ip: str | None = None,
        device: str | None = None,
        promotion: str | None = None,
    ) -> Accepted:
        """Let a held order go on, after a person reviewed it.

        Every reason in `order.review` is cleared. An order held at intake
        has no stock yet (one taken in paid over a purchase limit,
        `"limits"`, or short of stock, `"stock"`, included), and one paid
        after its stock sold out has none left: its stock is held now. One
        held later (a carrier exception, a refund or a label for a person, a
        payment too many, a payment it refused) keeps the stock it has.
        Releasing moves no money: an order released as `"overpaid"` keeps
        every payment, and owes all they hold back if it is cancelled or
        closed later; a person sends the excess back otherwise (the
        channel's refund, recorded with `record_refund`). A payment recorded
        after the release that pays it over again holds it again.

        An order held as a suspected duplicate is released in the duplicate
        detector's review queue too, in the same unit, while its suspicion
        is pending there. One a reviewer released there already, or whose
        resolved suspicion `DuplicateDetector.prune` has deleted since, is
        released here alone: the detector has nothing left to resolve.

        Releasing an order held over a purchase limit (`"limits"`, alone or
        with other reasons) overrides the limits for that order alone: it
        counts against every limit that applies to it from the release on,
        as an order `accept` granted counts, recorded in the same unit
        whatever the counts (`PurchaseLimits.record`) and under the order's
        identity, so that it is never counted twice. As for any order taken
        in, cancelling or closing it later gives no use back: limits count
        attempts to buy. The limits on the request's parts count it too:
        the `ip`, `device` and `promotion` that `accept` was given are
        named in the hold's `HeldForReview` record (changes
        `request.ip`, `request.device`, `request.promotion`) and read back
        from it; one given here is used instead.

        Args:
            channel: The order's channel.
            order_id: The order's id in its channel.
            actor: Who released it, for its audit record.
            ip: The IP address the buyer ordered from, for limits (an order
                held for `"limits"` only); by default the one `accept` was
                given.
            device: The buyer's device id, for limits (likewise).
            promotion: The promotion the order uses, for limits (likewise).

        Raises:
            UnknownOrder: The desk has no such order.
            IllegalTransition: The order is not held for review, or a reviewer
                rejected it as a duplicate in the detector's queue.
            InsufficientStock: Its lines cannot be filled now (an order held
                for `"stock"` still short, say); nothing changed.
            ValidationError: `ip`, `device` or `promotion` is not printable
                text, for an order held for `"limits"` (they are read for no
                other); nothing changed.
            ConcurrencyConflict: Another process changed the order, or its
                stock or limits, while this call ran; nothing changed: call
                again.
        """
        with self._unit as uow:
            order = self._order(uow, channel, order_id)
            if not order.review:
                raise IllegalTransition(
                    order_id, order.status, "release", "the order is not held"
                )
            now = self._clock.now()
            if "duplicate" in order.review:
                self._released_as_duplicate(uow, order, actor, now)
            if "limits" in order.review and order.status not in ENDED:
                # A person let this order through over the limits: it counts
                # from now on, as a granted one does. Its owner is the use id
                # its refused check left free, so it is counted once. Before
                # the stock, as in `accept`: a store that locks limit keys
                # and balances takes them in one order everywhere.
                kept = _request_kept(uow, order)
                context = self._context(
                    order,
                    kept.get("ip") if ip is None else ip,
                    kept.get("device") if device is None else device,
                    kept.get("promotion") if promotion is None else promotion,
                )
                self._limiters(uow.limits).record(context, use_id=owner_of(order))
            stock = self._stock(uow)
            if not stock.has_stock(order, now):
                # An order held at intake waits without stock, and one paid
                # after its hold lapsed and its stock sold out lost it; one
                # held later (a carrier exception, a label to void) has its own.
                stock.hold(order, now)
            released = _evolve_order(order, review=(), version=order.version + 1)
            record = AuditRecord(
                order_id=order_id,
                version=released.version,
                from_status=order.status,
                to_status=order.status,
                event_type="Released",
                key=IdempotencyKey(
                    "orderkit", "release", order_id, str(released.version)
                ),
                actor=actor,
                source="orderkit",
                occurred_at=now,
                recorded_at=now,
                changes=(FieldChange("review", ", ".join(order.review), ""),),
            )
            self._store(uow, order, released, [record], now)
            uow.commit()
        return Accepted(released, (record,))

    @staticmethod
    def _released_as_duplicate(
        uow: UnitOfWork, order: Order, actor: str, now: pendulum.DateTime
    ) -> None:
        """Say in the detector's review queue what releasing the order says.

        A suspicion released already, or deleted once resolved (`prune`
        spares pending ones only), has nothing left to say; one a reviewer
        rejected there as a duplicate forbids the release.
        """
        channel, order_id = order.channel, order.order_id
        suspicion = uow.detector.suspicion(channel, order_id)
        if suspicion is None or suspicion.state is ReviewState.RELEASED:
            return
        rejected = IllegalTransition(
            order_id,
            order.status,
            "release",
            "a reviewer rejected it as a duplicate: cancel it",
        )
        if suspicion.state is ReviewState.REJECTED:
            raise rejected
        try:
            uow.detector.resolve(
                channel, order_id, ReviewState.RELEASED, actor=actor, now=now
            )
        except ConcurrencyConflict:
            # Rejected by another process since it was read.
            raise rejected from None

    # ------------------------------------------------------------------
    # Events

    def record(self, channel: str, order_id: str, event: OrderEvent) -> EventRecorded:
        """Apply an event from a channel, warehouse or carrier, with its effects.

        Early events are parked with the order and applied after the next
        event that applies; one the order then refuses (a channel parcel of
        more units than ordered) is dropped, and the order waits for a
        person (`review` gains `"event"`, its audit record naming the
        event), as one refused at intake does (a payment: `"payment"`, as
        below).

        A payment the order refuses (`PaymentCaptured` in another currency
        than the order's, say) is money the buyer paid that nothing else
        would tell of: the order waits for a person in the same unit, as
        one taken in with it does (`review` gains `"payment"`, and its
        `HeldForReview` audit record names the payment: its id, amount and
        why, as the change `payment`); the payment is not recorded, and
        `EventRecorded.rejected` lists it. The same payment again (this
        notice repeated, or the one intake held the order for) holds nothing
        more; another one, while the order waits already, is named in a
        record of its own. Any other event the order refuses as it comes
        (a shipment after its cancellation, say) changes nothing and is not
        recorded: it is returned in
        `EventRecorded.rejected` (its `error` says why), and raises nothing,
        so check it: the channel stated something the order cannot be.

        A payment commits the
        order's held stock; a shipment takes its units out of the ledger; a
        cancellation or close releases held stock and gives back committed,
        unshipped units. Money owed back (`RefundDue`) goes to the outbox as
        a `refund` message.
        A payment that comes after the order's hold lapsed holds its stock
        again; when the stock is gone meanwhile, the payment is recorded all
        the same and the order waits for a person (`review` gains
        `"stock"`, as for an order taken in paid while its stock is short:
        see `accept`; its `HeldForReview` record names each short line, as
        `shortages`): `release` holds its stock once there is some, or the
        order is cancelled and its money owed back. A parcel of more units
        than the ledger gave the order where it left (a unit cancelled and
        packed all the same) ships the order's units and takes the rest off
        that location's stock (an `ADJUST` keyed by the parcel); units no
        location of the order can give, or that were promised to other
        buyers, are recorded shipped all the same and the ledger's figures
        wait for a person (`shortages` names what the ledger had
        `allocated` to the order of each such line). An
        order held at intake (`"duplicate"`, `"limits"`, `"pricing"`,
        `"event"`, `"payment"`), or waiting without stock (`"stock"`), takes
        none when paid (a second payment, the rest of a split one):
        `release` holds and commits it, once a person decided. Cancelled
        or closed, an order takes no stock and waits for nobody about it any
        more: those reasons but `"payment"`, and `"stock"`, `"overpaid"`
        and `"refunded"` (paid back in full: nothing is left to decide),
        leave `review`, with a
        `ReviewWithdrawn` audit record (a suspected duplicate stays in the
        detector's review queue, for a person to resolve there; the money it
        holds goes back through its refund saga). `"payment"` (a payment the
        order could not take: no saga knows of it), `"refund"`, `"label"`,
        `"pick"`, `"carrier"` and `"shipped_after_end"` stay.

        A payment that leaves an order (not cancelled or closed) holding two
        payments or more whose captures, less what was refunded or is
        pending on them, come to more than the order costs (the total
        `accept` took it in at, moved by approved price changes) is recorded
        all the same, and the order waits for a person in the same unit:
        `review` gains `"overpaid"`, and its `HeldForReview` audit record
        names every payment with what it holds (`payments`), the `total`
        and the excess (`overpaid`). Its stock and status go on as for any
        payment; it leaves the picking queue until `release`. Cancelled or
        closed, the order sends back all its payments hold through its
        refund saga, so `"overpaid"` leaves `review` as the reasons above
        do. A refund recorded later (`record_refund`) changes nothing about
        it: a person says the excess is settled by releasing it. An order
        whose trail states no total (taken in by an earlier orderkit, or
        stored by its host) is not checked; nor is an order's only payment:
        the one capture of what its channel or `Checkout` charged.

        An order whose `pick` saga is in flight (`start_picking`) ends it in
        the unit that moves it out of paid: done once picking starts (or a
        later event applies), and for a person when it is cancelled, since
        the warehouse may have its tasks: `review` gains `"pick"`, the
        saga's `SagaEnded` record names the tasks to void, and the refund
        owed starts its saga as on any cancelled order. An order cancelled
        once picking started waits for a person the same way: `review`
        gains `"pick"`, and its `HeldForReview` record names the tasks to
        void (those its committed units made, read before the cancellation
        gives them back); its refund goes out as ever. A parcel the
        cancelled or closed order refuses (`rejected`) left all the same,
        whether it was reported after the end or parked before it (a
        `Shipped` that came before its `PickingStarted`, let through by the
        cancellation or close and refused in the same call): the order
        waits for a person (`review` gains `"shipped_after_end"`, which the
        ending does not withdraw, its `HeldForReview` record naming the
        parcel; not `"event"` as well) and the parcel's units come off the
        shelf it left (its `location`, or the one the order's holds were
        at; an `ADJUST` keyed by the parcel, after the ending gave the
        order's stock back), so they are not sold again. Told once. Either
        arrival order of the parcel and the ending so ends with the same
        shelf and review.

        Every status the order passes writes a `milestone` message for the
        buyer, each under its own id: a parked `Shipped` applied behind a
        `PickingStarted` tells of picking, then of shipping.

        The first capture of an order with no payment places the channel's
        refunds parked in its trail first (`accept` and `update` park those
        of a notice that states no capture), in the same unit, each as
        `record_refund` records it, off this capture: a capture on a
        cancelled order then owes back only what the channel still holds,
        as had its notice come first. Units they name go back to available
        once the capture committed them. One the capture holds too little
        for (the channel says it paid back more), or naming a payment not
        recorded yet (`place_parked`), stays parked, and the order waits
        for a person (`review` gains `"refund"`, its record naming each
        such refund as `parked_refunds[<refund id>]`): nothing is owed back
        by a saga then (no `refund` message), since sending the capture
        back may pay the buyer twice; the person sends what is still owed,
        and releases the order. While it waits, a capture of a further
        payment reads the trail again and places what it can; while one
        stays unplaced it owes nothing back by a saga either. A capture the
        placed refunds (or refunds recorded off a capture a notice stated)
        pay back in full, nothing shipped, holds the order for a person as
        `record_refund` holds it (`review` gains `"refunded"`).

        Raises:
            UnknownOrder: The desk has no such order.
            ValidationError: `event` is not an order event; nothing was
                recorded.
            OrderMismatch: The event is for another order (its `order_id`
                is not `order_id`); nothing was recorded.
            ConcurrencyConflict: Another process changed the order while this
                call ran, or the store broke a tie between crossed units;
                nothing was recorded: call again.
            StoreError: A store failed; nothing was recorded.
        """
        _check_event(order_id, event)
        with self._unit as uow:
            order = self._order(uow, channel, order_id)
            if any(parked.key == event.key for parked in order.parked):
                return EventRecorded(order, (), order.parked)
            now = self._clock.now()
            start, placed, unplaced = self._placed_first(uow, order, event, now)
            batch = apply_all(start, [event], parked=order.parked, now=now)
            assert batch.order is not None  # noqa: S101 - it started with an order
            records = [*(p.record for p in placed), *batch.records]
            new = _parking(batch.order, batch.parked, order.parked, records, now)
            new = _held_if_payment_refused(uow, new, batch, now, records)
            if new == order:
                return self._unchanged(uow, order, batch, now)
            picked = _picked(self._stock(uow), order, new)
            refunds = []
            shortages: list[Shortage] = []
            for outcome in batch.outcomes:
                if isinstance(outcome, Applied | RefundDue):
                    stock = self._stock(uow)
                    shortages += stock.follow(outcome.order, outcome.event, now)
                if isinstance(outcome, RefundDue):
                    refunds.append(outcome)
            if unplaced:
                # The channel says it paid back more than this capture holds:
                # sending the capture back too may pay the buyer twice. The
                # order waits for a person (`_parked_placed`), who sends what
                # is still owed.
                refunds = []
            # Out of paid, the pick saga is over: before a refund owed starts
            # the order's next saga.
            new, ending = pick_ended(new, now)
            records.extend(ending)
            new = _held_if_picked(new, picked, now, records)
            new = _held_if_readdressed(order, new, batch, now, records)
            # A parked parcel the ending let through and the ended order
            # refused left all the same: as one reported after the end,
            # once the ending gave the stock back.
            new = self._shipped_after_end(uow, new, batch, now, records)
            new = _held_if_refused(new, event, batch, now, records)
            for refund in refunds:
                new = owe(new, refund, now)
            if shortages and "stock" not in new.review:
                new, _ = _short(new, shortages, now, records)
            new = self._parked_placed(
                uow, order, new, (placed, unplaced), records=records, now=now
            )
            new = _held_if_paid_twice(uow, order, new, now, records)
            # A capture the channel's refunds (parked, or stated) paid back
            # in full: as `record_refund` holds one refunded after its capture.
            new = with_paid_back(order, new, now, records)
            if new.status in ENDED and SETTLED_BY_ENDING & set(new.review):
                new, withdrawn = _withdrawn(new, now)
                records.append(withdrawn)
            self._store(
                uow, order, new, records, now, passed=reached(batch), refunds=refunds
            )
            uow.commit()
        return EventRecorded(new, batch.outcomes, batch.parked, tuple(refunds))

    def _placed_first(
        self,
        uow: UnitOfWork,
        order: Order,
        event: OrderEvent,
        now: pendulum.DateTime,
    ) -> tuple[Order, list[Recorded], list[ChannelRefund]]:
        """`order` with the refunds parked in its trail placed, before `event`.

        The first capture of an order with no payment places them, and a
        capture of a further payment while the order waits under
        `"refund"` (a parked refund left unplaced): `capturing`. The trail
        is read then alone, never on a capture of an order paid already
        and not waiting. See `place_parked`.
        """
        if not capturing(order, [event, *order.parked]):
            return order, [], []
        refunds = parked_refunds(uow.audit.records(order.channel, order.order_id))
        if not refunds:
            return order, [], []
        return place_parked(order, refunds, [event, *order.parked], now)

    def _parked_placed(  # noqa: PLR0913 - the change, what placed it, and its records
        self,
        uow: UnitOfWork,
        order: Order,
        new: Order,
        placing: tuple[Sequence[Recorded], Sequence[ChannelRefund]],
        *,
        records: list[AuditRecord],
        now: pendulum.DateTime,
    ) -> Order:
        """`new` once the parked refunds `_placed_first` placed took effect.

        The units they cancelled go back to available as `record_refund`
        gives them back (after the capture committed the order's stock),
        and a refund the capture could not take (more than it holds) holds
        the order for a person (`review` gains `"refund"`, its record
        naming the refund): the channel says it paid that money back.
        """
        placed, unplaced = placing
        before = order
        for outcome in placed:
            if outcome.order.cancelled_units != before.cancelled_units:
                self._stock(uow).give_back_cancelled(
                    before, outcome.order, f"{outcome.record.key}:cancel"
                )
            before = outcome.order
        if not unplaced or "refund" in new.review:
            return new
        said = [
            FieldChange(f"parked_refunds[{refund.refund_id}]", "", str(refund.amount))
            for refund in unplaced
        ]
        held, record = held_for(new, "refund", now, *said)
        records.append(record)
        return held

    def _unchanged(
        self, uow: UnitOfWork, order: Order, batch: Batch, now: pendulum.DateTime
    ) -> EventRecorded:
        """What `record` returns for an event that changed nothing.

        A parcel an ended order refused left all the same: the order waits
        for a person (`_held_if_shipped_after_end`) and the parcel's units
        come off the shelf it left, in this unit.
        """
        records: list[AuditRecord] = []
        new = self._shipped_after_end(uow, order, batch, now, records)
        if new is order:
            if _left_after_end(batch):
                # A further parcel of an order waiting already: its units
                # came off the shelf (an `ADJUST` keyed by the parcel).
                uow.commit()
            return EventRecorded(order, batch.outcomes, batch.parked)
        self._store(uow, order, new, records, now)
        uow.commit()
        return EventRecorded(new, batch.outcomes, batch.parked)

    def _shipped_after_end(
        self,
        uow: UnitOfWork,
        order: Order,
        batch: Batch,
        now: pendulum.DateTime,
        records: list[AuditRecord],
    ) -> Order:
        """`order`, waiting for a person about parcels it refused once ended.

        A parcel refused by the cancelled or closed order left all the same,
        whether it was reported after the end or parked before it and
        refused when the ending let it through: the order waits for a person
        (`_held_if_shipped_after_end`, its record added to `records`) and the
        parcel's units come off the shelf it left, in this unit. Call it
        once the ending gave the order's stock back (`OrderStock.follow`):
        the units come off what is on the shelf then. The hold is told once;
        every parcel's units come off, a further parcel's too (each `ADJUST`
        is keyed by its parcel, so a re-delivered one takes nothing more).
        """
        self._left_shelf(uow, order, batch)
        held = _held_if_shipped_after_end(order, batch, now)
        if held is None:
            return order
        records.append(held[1])
        return held[0]

    def _left_shelf(
        self, uow: UnitOfWork, order: Order, batch: Batch, *, take: bool = True
    ) -> None:
        """Take the parcels the ended order refused off the shelves they left.

        `OrderStock.left_after_end` for each (an `ADJUST` keyed by the
        parcel); nothing when `take` is false (intake, with
        `DeskPolicy.take_shipped_stock` false).
        """
        refused = _left_after_end(batch) if take else ()
        for outcome in refused:
            if isinstance(outcome.event, Shipped):
                self._stock(uow).left_after_end(order, outcome.event)

    def start_picking(
        self, channel: str, order_id: str, warehouse: Warehouse
    ) -> EventRecorded:
        """Send a paid order's pick tasks to the warehouse, then mark it picking.

        One task per location that holds the order's committed units. First a
        `pick` saga naming the tasks is stored on the order (`Order.saga`),
        then the tasks go to the warehouse, then `PickingStarted` is recorded
        in the unit that ends the saga. Every step repeats safely: the
        warehouse takes a task once per task id, and `PickingStarted` is
        keyed by the order, so a call retried after a failure (a
        `TransientError`, a crash in between: `recover` retries too) sends
        the same tasks and picks nothing twice. While the saga is in flight
        the order stays in the `picking_queue`, so a host that picks from
        the queue retries it. A call that resumes the saga finishes it even
        when the order has come to wait for a person meanwhile (a refund
        gone wrong): its tasks may be at the warehouse already.

        The `Warehouse` port cannot withdraw a task, and one whose reply was
        lost may be picked: an order cancelled or closed while its pick saga
        is in flight (by another process, or before the call is retried)
        ends the saga in the same unit and waits for a person (`order.review`
        gains `"pick"`) to void the tasks the saga's `SagaEnded` audit
        record names; its refund goes out as ever. This call then raises.
        So does a warehouse that refuses a task (an error that is no failure
        to retry, such as `UnknownLocation` or `IdempotencyConflict`): the
        saga ends, the order waits for a person (`review` gains `"pick"`) to
        void the tasks and pick it otherwise (`release`), and the call
        raises. A retry that finds the order's committed stock no longer
        makes the saga's tasks ends it the same way.

        Only a refusal of `PickingStarted` itself counts: a parked event it
        lets through that the order refuses (a channel parcel of more units
        than ordered) is among the returned outcomes, as `record` returns it,
        and picking has started all the same.

        Raises:
            UnknownOrder: The desk has no such order.
            IllegalTransition: The order is not paid (or already further on),
                waits for a person, has nothing to pick (a refund cancelled
                every stocked unit: `Order.cancelled_units`), or another saga
                is in flight on it; or it
                moved on while its tasks were sent, or the warehouse refused a
                task (its error is the `__cause__`): the error names the tasks
                to void.
            ConfigurationError: A task goes to a location the desk's
                `DeskPolicy.locations` do not list: nothing was sent or
                stored; pick it with that location's desk and warehouse.
            TransientError: The warehouse failed or timed out, or another
                failure to retry (`CircuitOpen`...): the saga stays; retry
                the call, or `recover`.
        """
        picker = OrderPicking(
            self._unit, self._clock, self._policy.locations, self._stock, self.record
        )
        return picker.start(channel, order_id, warehouse)

    def track(self, channel: str, order_id: str, scan: TrackingEvent) -> EventRecorded:
        """Apply a carrier's scan of one of the order's parcels.

        In transit and out for delivery move the parcel `InTransit`;
        delivered moves it `Delivered`; an exception holds the order for a
        person (`order.review` gains `"carrier"`), since a held, damaged or
        lost parcel needs a decision. A parcel is delivered only after it
        was in transit (so the trail reads the same whatever order scans
        arrive in): a delivered scan of a parcel never scanned in transit
        is parked (`EventRecorded.parked`) until its in-transit scan comes.
        A carrier that sends no in-transit scans needs one made from its
        delivery (`TrackingStatus.IN_TRANSIT`, a key of its own); a
        `StuckRules` limit on `shipped` reports the orders left waiting.

        Raises:
            UnknownOrder: The desk has no such order.
            ValidationError: `scan` is not a `TrackingEvent`, or no parcel of
                the order has its tracking number (`field` is
                `"tracking_number"`): nothing was recorded. A carrier's push
                that overtook the parcel's own `Shipped` notice applies once
                that is recorded: answer the push with a retry, or keep the
                scan and track it again.
        """
        if not isinstance(scan, TrackingEvent):
            raise ValidationError("scan", scan, "must be a TrackingEvent")
        with self._unit as uow:
            order = self._order(uow, channel, order_id)
        event = parcel_event(order, scan)
        if event is not None:
            return self.record(channel, order_id, event)
        with self._unit as uow:
            order = self._order(uow, channel, order_id)
            now = self._clock.now()
            hold = carrier_hold(order, scan, now)
            if hold is None:
                return EventRecorded(order, (), order.parked)
            held, record = hold
            self._store(uow, order, held, [record], now)
            uow.commit()
        return EventRecorded(held, (), held.parked)

    def amend(  # noqa: PLR0913 - the order, its part, and who records it when
        self,
        channel: str,
        order_id: str,
        part: PaymentLedger | AfterSalesCase | PriceChange,
        *,
        key: IdempotencyKey,
        actor: str,
        source: str,
    ) -> Recorded | Unchanged:
        """Store a part of the order: its payment ledger, a case, a price change.

        As `orderkit.orders.record_payments`, `record_case` and
        `record_price_change`, in one unit with the audit record. An
        after-sales case that has just passed its inspection puts its units
        back on hand at `case.return_to` (a `RESTOCK` movement per line,
        keyed by the case), and the channels hear of the stock; its refund
        is owed from then on: a `refund` message goes to the outbox and a
        `refund` saga starts on the order (or, when another saga is in
        flight, `Refunds.send_due` starts it once that one has ended), which
        sends `case.refund_amount` back to `case.payment_id` and records the
        case `REFUNDED`. Do not send that refund yourself; read the case
        back from the order (`Order.after_sales`) before its next step. A
        case returning units the channel's refunds paid back already
        (`Refund.lines`: on a line, they and the passed cases' units come
        to more than were bought) owes nothing: the order waits for a
        person instead (`review` gains `"refund"`, its `HeldForReview`
        record naming the case), who sends what is still owed, if
        anything, or records the case refunded under the channel's refund
        id. A case the order does not have yet is refused when it returns
        units the order never shipped, that an earlier case took back
        already, or that an earlier case still open asks for, whatever its
        step (a rejected case returns nothing).

        A payment ledger in which the refund a case was recorded `REFUNDED`
        by has failed leaves that money owed, and nothing sends it again
        (the case stays refunded): the order waits for a person (`review`
        gains `"refund"`, which `stuck_orders` reports), whatever its
        status. So does a completed, cancelled or closed order whose
        payments hold more once its ledger changed (a refund pending when
        it ended has failed). Recording the same ledger again changes
        nothing. A payment ledger whose captures on a payment the order
        records come to other than the order's `Payment.amount` for it (a
        further part captured later, or a contradiction) is stored, and the
        order waits for a person in the same unit (`review` gains
        `"payment"`, its `HeldForReview` record naming the payment, what the
        order recorded and what the ledger captured), told once per
        difference: what ending the order owes back stays what the order
        recorded, and the rest is the person's. A payment kept with no
        capture, or one the order does not record yet, is not told.

        An approved price change that cuts its line's price (recorded
        approved, or the approval of a pending one) is priced as intake
        prices an order, with the channel's `PricingPolicy`: when the line
        then nets a unit under its SKU's floor, the change is recorded all
        the same and the order waits for a person in the same unit, as one
        taken in under a floor does (`review` gains `"pricing"`; its
        `HeldForReview` record names the line, its floor and its net, as
        `lines[L1].unit_price`, or `lines[L1]` for the line's net when the
        order's discount takes it under); `release` lets it go on. The
        order keeps its lines, not its offers: the discount it was taken
        in with is what intake's total (its `OrderPlaced` record) leaves
        off the lines, split over them by value. A pending change, a raise,
        or a cut the floor allows changes nothing more.

        A payment ledger must extend the one the order holds: build it from
        `order.payment_ledger` (read back from the desk), never from
        scratch. orderkit may have made or extended it without you: a
        `refund` saga records every refund it sends there (with the order's
        payments), and the channel's own refunds (`record_refund`, and
        those `accept` takes in) are there under the channel's refund ids.
        A ledger that leaves them out is refused.

        Raises:
            UnknownOrder: The desk has no such order.
            ValidationError: `part` is none of the three, or does not fit.
                A case is refused before anything is written when, first
                recorded (unless rejected), it returns units not shipped or
                put back by an earlier case
                (`after_sales[i].lines[j].quantity`), or when, first
                recorded or recorded passed, it returns units of a stocked
                line to a `return_to` that is not one of
                `DeskPolicy.locations` or `DeskPolicy.return_locations`
                (`after_sales[i].return_to`); `i` is
                the case's index in `Order.after_sales` once recorded.
            RefundExceedsCapture: The case is recorded passed, and its
                refund is more than its payment can still give back: the
                payment ledger's refundable amount on `case.payment_id`,
                less what the order's other cases owed their refund ask of
                it (`after_sales[i].refund_amount`). A case refunded
                otherwise, or returning units paid back twice, is not
                checked; an `Override` lets a refund go beyond the capture.
            IllegalTransition: The part moves backwards: a payment ledger
                that drops or changes what the stored one holds (the
                reason says to extend `order.payment_ledger`).
        """
        record = _RECORDERS.get(type(part))
        if record is None:
            raise ValidationError(
                "part", part, "must be a PaymentLedger, AfterSalesCase or PriceChange"
            )
        with self._unit as uow:
            order = self._order(uow, channel, order_id)
            now = self._clock.now()
            outcome = record(order, part, key=key, actor=actor, source=source, now=now)
            if isinstance(outcome, Unchanged):
                return outcome
            records = [outcome.record]
            twice = lines_paid_twice(outcome.order)
            newly = twice - lines_paid_twice(order)
            if isinstance(part, AfterSalesCase):
                check_opened(order, part)
                self._stock(uow).restock(order, part)
                if not just_passed(order, part):
                    pass
                elif returns(part, twice):
                    # Units of a line paid back twice: the case owes nothing.
                    newly |= twice & {line.line_id for line in part.lines}
                else:
                    uow.outbox.add([case_refund_message(order, part, now)])
                    outcome = owe_case(outcome, part, now)
                    # Its record now says the refund saga started too.
                    records = [outcome.record]
            elif isinstance(part, PaymentLedger):
                outcome, records = self._ledger_amended(uow, order, outcome, key, now)
            else:
                floored = self._under_floor(uow, outcome.order, part, now)
                if floored is not None:
                    outcome = attrs.evolve(outcome, order=floored[0])
                    records.append(floored[1])
            if newly:
                held, said = held_as_paid_twice(outcome.order, newly, now)
                outcome = attrs.evolve(outcome, order=held)
                records.append(said)
            self._store(uow, order, outcome.order, records, now)
            uow.commit()
        return outcome

    def _under_floor(
        self,
        uow: UnitOfWork,
        order: Order,
        change: PriceChange,
        now: pendulum.DateTime,
    ) -> tuple[Order, AuditRecord] | None:
        """`order`, repriced by `change`, held for `"pricing"` if under a floor.

        `None` unless `change` is an approved cut whose line now nets a unit
        under its SKU's floor, priced by `validate` with the channel's
        `PricingPolicy` as intake prices an order. The order keeps its lines,
        not its offers: what it costs now (`cost_of`: intake's total moved by
        every approved change) is the quote's stated total, so the discount
        the buyer had is split over the lines as `validate` splits a total
        below the lines' (shipping and tax in that total only make the
        discount look smaller). Only the changed line is read: the change
        moves no other line's net, and one under its floor before was
        intake's to hold.
        """
        if (
            change.state is not ChangeState.APPROVED
            or change.new_unit_price > change.old_unit_price
        ):
            return None
        policy = self._policy.pricing_for(order.channel)
        if not policy.floors:
            return None
        index = next(
            i for i, line in enumerate(order.lines) if line.line_id == change.line_id
        )
        cost = cost_of(order, uow.audit.records(order.channel, order.order_id))
        if cost is not None:
            # More taken off than the lines cost: the line nets nothing.
            cost = max(cost, Money.zero(cost.currency))
        pricing = validate(Quote.from_order(order, stated_total=cost), policy)
        # A unit price under the floor (`lines[0].unit_price`), or the line's
        # share of the discount taking it under (`lines[0]`).
        here = f"lines[{index}]"
        said = tuple(
            FieldChange(
                f"lines[{change.line_id}]{v.path.removeprefix(here)}",
                str(v.expected),
                str(v.actual),
            )
            for v in pricing.violations
            if v.code is ViolationCode.BELOW_FLOOR
            and (v.path == here or v.path.startswith(f"{here}."))
        )
        if not said:
            return None
        return held_telling(order, "pricing", said, now)

    @staticmethod
    def _ledger_amended(
        uow: UnitOfWork,
        order: Order,
        outcome: Recorded,
        key: IdempotencyKey,
        now: pendulum.DateTime,
    ) -> tuple[Recorded, list[AuditRecord]]:
        """A ledger amendment's `outcome`, held if money is owed, and its records.

        A `refund` message the amendment corrects goes to the outbox.
        """
        records = [outcome.record]
        owed = None
        if order.status.is_terminal:
            owed = _owed_more(order, outcome.order, now)
        if (
            owed is None
            and "refund" not in outcome.order.review
            and case_refund_failed(order, outcome.order) is not None
        ):
            # Whatever its status: nothing else would send it again.
            owed = held_for(outcome.order, "refund", now)
        if owed is not None:
            outcome = attrs.evolve(outcome, order=owed[0])
            records.append(owed[1])
        disagrees = _held_if_ledger_disagrees(uow, outcome.order, now)
        if disagrees is not None:
            outcome = attrs.evolve(outcome, order=disagrees[0])
            records.append(disagrees[1])
        cause = ("amendment", str(key))
        corrected = corrected_refund(uow, order, outcome.order, cause, now)
        if corrected is not None:
            uow.outbox.add([corrected])
        return outcome, records

    def record_refund(
        self,
        channel: str,
        order_id: str,
        refund: ChannelRefund,
        *,
        stated: Iterable[OrderEvent] = (),
    ) -> Recorded | Unchanged:
        """Record money the channel sent back for an order the desk has.

        The refund goes into the order's payment ledger, settled when the
        channel made it, under the channel's refund id, in one unit with
        its `PaymentsRecorded` audit record (keyed by `refund.key`). It
        comes off the payment it names, else the order's only payment (a
        channel may name the provider's transaction where the order knows
        the capture by another id); a payment the ledger lacks is added,
        captured as the order recorded it. What ending the order owes back
        is then only what its payments still hold, so record a channel's
        refunds (the `refunds` of the `ChannelOrder` you were answered
        `AlreadyAccepted` for, whether or not it states a capture, and each
        refund webhook) before its events: before a cancellation, and before
        a payment it states that the order has not recorded yet (a payment
        on an ended order owes back what it holds then). Give such a
        notice's events as `stated`: the refund may come off a capture they
        state. The same refund recorded again, from either source and under
        any key, changes nothing; so does an earlier, smaller reading of it
        delivered late. A channel's refund id names one refund whose amount
        only grows as its transactions settle (a Shopify refund read while a
        transaction of it is pending states only the settled ones, under the
        key of its later readings): recorded again on the same payment for
        more than the ledger's settled refund of that id, whatever its key,
        it is money the channel sent back since. The ledger's refund grows
        to the new amount (`PaymentLedger.grow_refund`), still settled, with
        its `PaymentsRecorded` audit record under a key of its own
        (`IdempotencyKey(channel, "<kind>.grown", order_id,
        "<event_id>:<amount>")`), and all that follows a recorded refund
        follows: what ending the order owes back drops, a `refund` message
        still to be handed over is corrected, units it names that the refund
        did not name before are cancelled, and a growth beyond what the
        payment still holds holds the order (`RefundExceedsCapture`, below).
        A refund an after-sales case names, or one the desk sent (named by
        its provider id), does not grow.

        Nothing is sent: the channel paid this money back. A `refund`
        outbox message written when the order ended states what it owed
        then; the refund saga sends what the payments still hold when it
        runs, this refund off. When the refund is still to be handed over
        (a cancellation overtook the order's ship saga, which starts the
        refund saga when it ends) and this refund lowers it, a corrected
        `refund` message goes to the outbox in the same unit: its id
        `<refund message id>:corrected:<refund.refund_id>`, the amount now
        owed (`"0.00"` when nothing is), `replaces` naming the message it
        corrects and `channel_refund` this refund's id (see *Sagas* in the
        concepts). While a saga
        that moves money is in flight on the order (`Order.saga` named
        `refund` or `capture`: it may be at the provider with money sized
        before this refund) the refund is refused and nothing is written:
        record it again once the saga has ended (one recorded already is
        `Unchanged` all the same). A `pick` or `ship` saga moves no money:
        the refund is recorded while it runs. A
        refund beyond what its payment still holds means the buyer was paid
        back twice (the channel's refund came after orderkit's own): the
        order waits for a person (`review` gains `"refund"`, with its
        `HeldForReview` audit record, committed) and this call raises;
        recording it again raises again, and holds nothing more while the
        order waits; once a person released it, the same refund holds it
        again (the channel still says it paid that money back). A refund of
        the payment too many of an order waiting as `"overpaid"` is recorded
        and leaves it waiting: only a person says the excess is settled
        (`release`). The units a refund names (`lines`) are kept in the
        ledger, also given to a refund recorded without them before (a
        notice's copy): a refund that pays a line back for more units than
        were bought, with the cases that passed inspection, is recorded
        and the order waits for a person (`review` gains `"refund"`).

        Units the refund names that no parcel carried yet are cancelled
        (`Order.cancelled_units`, up to the refund's quantity of each line;
        a refund after shipment cancels nothing), named in the refund's
        audit record (`cancelled_units[<line id>]`): no pick task asks for
        them, and the order has shipped in full once the rest has. Their
        committed stock goes back to available in the same unit (an
        `UNALLOCATE` movement keyed `<refund.key>:cancel`). An order being
        picked (`PICKING`, a `pick` saga in flight, or `PARTIALLY_SHIPPED`:
        another warehouse may be packing the rest) waits for a person
        to take the units out of the box (`review` gains
        `"cancelled_units"`). One with every unit cancelled keeps its
        status: its channel states its own cancellation. Until then it is
        out of the `picking_queue`, and `start_picking` refuses it: no task
        would ask for anything.

        A refund that leaves the payments of an order not shipped at all
        (no parcel) holding nothing, while it is paid or picking (or its
        pick saga is in flight), means the buyer has all the money back
        and the order would still go out: it waits for a person (`review`
        gains `"refunded"`, its `HeldForReview` record naming each refund
        on its payments as `refunds[<refund id>]`) and leaves the picking
        queue, keeping its stock. The person releases it to ship it all
        the same, or cancels it (it owes nothing back; the cancellation
        withdraws `"refunded"`). Told once: an order paid back in full
        already holds nothing more. `accept` and a capture that places
        parked refunds (`record`) hold an order the same way, so either
        arrival order of a capture and its refunds ends alike.

        Returns:
            `Recorded`, also for a refund grown; `Unchanged` when the
            ledger has the refund settled already for as much or more, or
            its key was applied and it is no more than the ledger's.

        Raises:
            UnknownOrder: The desk has no such order.
            ValidationError: `refund` is not a `ChannelRefund`.
            OrderMismatch: The refund is for another order.
            CurrencyMismatch: The refund is in another currency than the order.
            UnknownPayment: The refund cannot be placed: the order has no
                payment, or several and it names none of them (`field` is
                `payment_id`); nothing was recorded. (`update` parks the
                refunds of a notice that states no capture for an order
                with no payment, for its first capture to place.)
            IllegalTransition: A `refund` or `capture` saga is in flight on
                the order (the reason names it; `retry` is true); nothing was
                recorded: call again once it ended (answer the channel's
                webhook with a retry).
            RefundExceedsCapture: The payment holds less than the refund,
                or than what a grown refund adds, not refunded or pending
                (`field` is `amount`); the refund is not recorded and the
                order waits for a person.
            CaptureExceedsAuthorisation: The order's payment ledger (a
                host's, amended in) keeps the payment with no capture and
                authorised less than the order captured (`field` is
                `payment_ledger`); nothing was recorded: amend the ledger
                with the capture, then call again.
            IdempotencyConflict: The ledger has a refund under the
                refund's id for another payment, or one pending, failed,
                sent by the desk or named by an after-sales case for another
                amount; nothing was recorded.
            ConcurrencyConflict: Another process changed the order while
                this call ran; nothing was recorded: call again.
            StoreError: A store failed; nothing was recorded.
        """
        if not isinstance(refund, ChannelRefund):
            raise ValidationError("refund", refund, "must be a ChannelRefund")
        if refund.order_id != order_id:
            raise OrderMismatch(order_id, refund.order_id, "refund.order_id")
        with self._unit as uow:
            order = self._order(uow, channel, order_id)
            now = self._clock.now()
            outcome: Recorded | Unchanged | RefundExceedsCapture
            try:
                outcome = record_channel_refund(
                    order, refund, now, payments=with_stated(order, stated)
                )
            except RefundExceedsCapture as error:
                outcome = error
            if isinstance(outcome, Unchanged):
                return outcome
            saga = moving_money(order)
            if saga is not None and not _units_only(order, outcome):
                # A refund saga may be at the provider with money sized
                # before this refund: recorded now, the ledger would refuse
                # the saga's own refund, its money sent and unrecorded. A
                # pick or ship saga moves none, and may wait long for a
                # retry: refused then, a cancellation meanwhile would owe
                # this refund back again.
                raise IllegalTransition(
                    order_id,
                    order.status,
                    "record_refund",
                    f"a {saga.name} saga is in flight: record the refund "
                    "again once it has ended",
                    retry=True,
                )
            if isinstance(outcome, Recorded):
                cause = ("channel_refund", refund.refund_id)
                corrected = corrected_refund(uow, order, outcome.order, cause, now)
                records = [outcome.record]
                # The last unshipped units cancelled: the order shipped in full.
                passed = (
                    () if outcome.order.status is order.status else (outcome.order,)
                )
                outcome = self._cancelled(uow, order, outcome, records, now)
                twice = lines_paid_twice(outcome.order) - lines_paid_twice(order)
                if twice:
                    # Units a case returned, refunded already.
                    held, said = held_as_paid_twice(outcome.order, twice, now)
                    outcome = attrs.evolve(outcome, order=held)
                    records.append(said)
                # All the money back and nothing shipped: not picked unasked.
                back = with_paid_back(order, outcome.order, now, records)
                outcome = attrs.evolve(outcome, order=back)
                self._store(uow, order, outcome.order, records, now, passed=passed)
                if corrected is not None:
                    uow.outbox.add([corrected])
                uow.commit()
                return outcome
            # The payments hold less: the buyer was paid this back already
            # (orderkit's saga sent it too), which only a person can settle.
            if "refund" not in order.review:
                held, record = held_for(order, "refund", now)
                self._store(uow, order, held, [record], now)
                uow.commit()
        raise RefundExceedsCapture(
            outcome.field,
            outcome.value,
            f"{outcome.problem}; the buyer may have been paid back twice: the "
            "order waits for a person (review 'refund')",
        ) from outcome

    def _cancelled(
        self,
        uow: UnitOfWork,
        order: Order,
        outcome: Recorded,
        records: list[AuditRecord],
        now: pendulum.DateTime,
    ) -> Recorded:
        """`outcome` with the units its refund cancelled given back.

        Units refunded before they shipped go back to available
        (`OrderStock.give_back_cancelled`, keyed by the refund's key); an
        order the warehouse may be picking waits for a person to take them
        out of the box (`review` gains `"cancelled_units"`), its record
        added to `records`.
        """
        if outcome.order.cancelled_units == order.cancelled_units:
            return outcome
        self._stock(uow).give_back_cancelled(
            order, outcome.order, f"{outcome.record.key}:cancel"
        )
        if not _picking(order):
            return outcome
        held, said = held_for_cancelled(order, outcome.order, now)
        records.append(said)
        return attrs.evolve(outcome, order=held)

    def update(
        self, incoming: ChannelOrder
    ) -> tuple[Held | Recorded | Unchanged | EventRecorded, ...]:
        """Apply a later notice of an order the desk holds, as the channel sent it.

        What a host does with a `ChannelOrder` that `accept` answered
        `AlreadyAccepted`. First its lines are compared with the order's,
        by line id: a channel's back office may change a price or a
        quantity after intake (改价), which the buyer then pays, while
        the order's lines stay as they were. A difference holds the order
        for a person, unless the order or the notice ends it (cancelled or
        closed): `review` gains `"edited"`, and its `HeldForReview` audit
        record, with the channel as actor and source and the channel's
        `updated_at` as when it happened, names each difference as a
        change from the order's value to the channel's
        (`lines[L1].unit_price`, `"199.00 CNY"` to `"149.00 CNY"`). The
        order keeps its stock, and a payment commits it, but it leaves the
        picking queue until a person settles it: `amend` it with an
        approved `PriceChange` to the channel's price, through the approval
        tiers, then `release` it; or `cancel` it. What counts:

        - a unit price the line does not have, unless a pending change asks
          for it, or an approved change moved the line from it and the
          channel never stated that change's price (the channel has not
          heard of orderkit's own change). Told once until a release: a
          release alone does not settle a price, so the channel's next
          notice holds the order again;
        - a quantity, or a line only one side has: told once for good (no
          change settles those: a person releases or cancels the order).

        A line's SKU and title do not count (a catalogue renames its
        products), nor does a notice older (`updated_at`) than the one
        the order was taken in from (its `OrderPlaced` record keeps that
        time, as the change `updated_at`) or one that told an edit. Then
        each of its `refunds` goes to `record_refund`,
        with its events as `stated` (a refund may come off a payment the
        notice states that the order has not recorded yet; with no payment
        stated nor recorded, the refund is parked in the order's trail as
        `accept` parks it, `Recorded` with its `ParkedChannelRefund`
        record, `Unchanged` when parked already, and the first capture
        places it: see `record`), then its address, then each of its
        events to `record`, in that order: a cancellation, or a payment on an
        order closed meanwhile, then owes back only what the channel still
        holds. A refund that pays the order back in full before it shipped
        holds it for a person (`"refunded"`, see `record_refund`). Every
        step is its own unit of work and repeats safely, so a notice sent
        again, or this call repeated after a failure, records nothing twice.

        An address the notice states other than the order's (the buyer or
        the shop changed it on the channel) goes to `record` as an
        `AddressChanged` of it, dated the notice's `updated_at` (the
        clock's now when it states none), with the channel as actor and
        source, keyed `IdempotencyKey(channel, "address_changed",
        order_id, <digest of the address and updated_at>)`, so the same
        notice delivered again changes nothing (a `Duplicate`, once the
        address moved on since). The lifecycle decides: before
        any parcel shipped it applies (the change made last on the channel
        wins; an older one is `Stale`), and an order whose label is booked
        waits for a person (`review` gains `"label"`); once a parcel
        shipped (or the order ended) it is refused: the `EventRecorded`
        lists it in `rejected` (an `IllegalTransition`), and nothing
        changes. Not a notice older (`updated_at`) than the one the order
        was taken in from, nor one that states only a country (no address).
        It is no new order: neither the duplicate screen nor the purchase
        limits see it again.

        Returns:
            `Held` when the notice's lines held the order, then one outcome
            per refund (`Recorded`, `Unchanged`), then the address change's
            (`EventRecorded`) when it states another address, then one per
            event (`EventRecorded`).

        Raises:
            UnknownOrder: The desk has no such order: `accept` it.
            ValidationError: `incoming` is not a `ChannelOrder`.
            IllegalTransition: A refund came while a saga that moves money
                is in flight (see `record_refund`; `retry` is true): the
                steps before it are recorded; call again once the saga has
                ended.
            RefundExceedsCapture: A refund the payments no longer hold (see
                `record_refund`): the order waits for a person.
            OrderkitError: As `record_refund` and `record` raise.
        """
        if not isinstance(incoming, ChannelOrder):
            raise ValidationError("incoming", incoming, "must be a ChannelOrder")
        channel, order_id = incoming.channel, incoming.order_id
        done: list[Held | Recorded | Unchanged | EventRecorded] = []
        edited = self._edited(incoming)
        if edited is not None:
            done.append(edited)
        done += [
            self._refund_stated(channel, order_id, refund, incoming.events)
            for refund in incoming.refunds
        ]
        # Before the notice's events: the change was made before a parcel
        # it states left.
        readdressed = self._readdressed(incoming)
        if readdressed is not None:
            done.append(readdressed)
        done += [self.record(channel, order_id, event) for event in incoming.events]
        return tuple(done)

    def _readdressed(self, incoming: ChannelOrder) -> EventRecorded | None:
        """The notice's address recorded (`record`), or `None` if it changed none.

        See `address_changed`: only a notice that states an address other
        than the order's, no older than the notice it was taken in from.
        """
        with self._unit as uow:
            order = self._order(uow, incoming.channel, incoming.order_id)
            if not differs(order, incoming):
                return None
            # Read for a changed address only: most notices state the same.
            trail = uow.audit.records(incoming.channel, incoming.order_id)
            event = address_changed(order, incoming, trail, self._clock.now())
        if event is None:
            return None
        return self.record(incoming.channel, incoming.order_id, event)

    def _refund_stated(
        self,
        channel: str,
        order_id: str,
        refund: ChannelRefund,
        stated: Sequence[OrderEvent],
    ) -> Recorded | Unchanged:
        """A notice's refund recorded (`record_refund`), or parked until a capture.

        An order with no payment, of a notice that states none, has nothing
        to take the refund from yet: it is parked in the order's trail, as
        `accept` parks it (`ParkedChannelRefund`, a version of its own), and
        the first capture places it. Parked already, for as much or more,
        it is `Unchanged`.
        """
        with self._unit as uow:
            order = self._order(uow, channel, order_id)
            if not with_stated(order, stated):
                trail = uow.audit.records(channel, order_id)
                now = self._clock.now()
                records: list[AuditRecord] = []
                new = parked(
                    order, [refund], records, now, before=parked_refunds(trail)
                )
                if not records:
                    return Unchanged(
                        order, f"refund {refund.refund_id!r} is parked already"
                    )
                self._store(uow, order, new, records, now)
                uow.commit()
                return Recorded(new, records[0])
        return self.record_refund(channel, order_id, refund, stated=stated)

    def _edited(self, incoming: ChannelOrder) -> Held | None:
        """The order held for the lines its channel changed; `None` if none changed."""
        channel, order_id = incoming.channel, incoming.order_id
        with self._unit as uow:
            order = self._order(uow, channel, order_id)
            if not may_be_edited(order, incoming):
                return None
            records = uow.audit.records(channel, order_id)
            edits = line_edits(order, incoming, records)
            if not edits:
                return None
            now = self._clock.now()
            held, record = held_for_edits(order, edits, now, incoming)
            self._store(uow, order, held, [record], now)
            uow.commit()
        return Held(held, (record,), edits_detail(edits))

    def close_unpaid(self, *, limit: int = 100) -> tuple[EventRecorded, ...]:
        """Close unpaid orders past their payment deadline; their stock goes back.

        An order without a deadline from its channel may wait `pay_window`
        from when it was placed.

        Returns:
            What closing each order did, at most `limit` orders: `record`'s
            answer for each order that was pending past its deadline when
            read. The order was closed where its outcome is `Applied`; a
            `Duplicate` was closed by another process first (two monitors),
            a `Stale` was paid meanwhile. Count the `Applied` ones.
        """
        positive_int("limit")(None, None, limit)
        now = self._clock.now()
        closed: list[EventRecorded] = []
        for order in self._all(_S.PENDING_PAYMENT):
            if len(closed) == limit:
                break
            deadline = order.pay_by or plus(order.placed_at, self._policy.pay_window)
            if deadline > now:
                continue
            event = Closed(
                order_id=order.order_id,
                key=IdempotencyKey("orderkit", "closed", order.order_id, "unpaid"),
                occurred_at=deadline,
                reason="未在付款期限内付款 / not paid by the deadline",
            )
            closed.append(self.record(order.channel, order.order_id, event))
        return tuple(closed)

    def cancel(
        self,
        channel: str,
        order_id: str,
        *,
        reason: str,
        actor: str,
        request: str = "desk",
    ) -> EventRecorded:
        """Cancel an order for the shop: a buyer who called, a fraud check.

        `record` of a `Cancelled` event the desk makes at the clock's now,
        with every effect `record` gives it: held stock goes back, and so
        do committed units not shipped; money taken is owed back through
        the order's `refund` saga; an order the warehouse picks waits for a
        person to void its tasks (`review` gains `"pick"`). Its key is
        `IdempotencyKey("orderkit", "cancelled", order_id, request)`, so
        the same call again changes nothing; an order cancelled already
        (under another `request`, or by its channel) is returned as it is.
        A channel's own cancellation goes to `record`, under the channel's
        key.

        Args:
            channel: The order's channel.
            order_id: The channel's order id.
            reason: Why, as a person would read it; the audit record keeps
                it.
            actor: Who cancels it (a staff id), for the audit record.
            request: What makes a repeat of this call the same
                cancellation.

        Returns:
            What recording the cancellation did.

        Raises:
            UnknownOrder: The desk has no such order.
            IllegalTransition: The order is past cancelling (shipped,
                completed, closed); nothing changed.
            ValidationError: `reason`, `actor` or `request` is not
                printable text.
        """
        text("request")(None, None, request)
        event = Cancelled(
            order_id=order_id,
            key=IdempotencyKey("orderkit", "cancelled", order_id, request),
            occurred_at=self._clock.now(),
            actor=actor,
            reason=reason,
        )
        recorded = self.record(channel, order_id, event)
        for outcome in recorded.outcomes:
            if isinstance(outcome, Rejected) and outcome.event == event:
                raise outcome.error
            # Stale: past cancelling by another end (closed unpaid), not
            # cancelled already, which is what the caller asked for.
            if (
                isinstance(outcome, Stale)
                and outcome.event == event
                and recorded.order.status is not OrderStatus.CANCELLED
            ):
                raise IllegalTransition(
                    order_id, recorded.order.status, "cancel", outcome.reason
                )
        return recorded

    def order(self, channel: str, order_id: str) -> Order:
        """The order as the desk holds it now.

        Raises:
            UnknownOrder: The desk has no such order.
            StoreError: A store failed.
        """
        with self._unit as uow:
            return self._order(uow, channel, order_id)

    def payable(self, channel: str, order_id: str) -> Money | None:
        """What the order costs the buyer: what to capture for it.

        The total `accept` took the order in at (stated in its `OrderPlaced`
        audit record: the order keeps its lines, not its offers, shipping
        and tax), moved by every approved price change since, as the
        `"overpaid"` check reads it. Give it to `Checkout.pay` for a channel
        that leaves the capture to you.

        Returns:
            The amount, in the order's currency; `None` when its trail
            states no total (an order taken in by an earlier orderkit, or
            stored by its host).

        Raises:
            UnknownOrder: The desk has no such order.
            StoreError: A store failed.
        """
        with self._unit as uow:
            order = self._order(uow, channel, order_id)
            trail = uow.audit.records(channel, order_id)
        return cost_of(order, trail)

    def picking_queue(self, *, limit: int = 100) -> tuple[Order, ...]:
        """Paid orders waiting for picking, most urgent first.

        Ordered by the policy's `picking_order` (`DeskPolicy.picking_priority`):
        by default the promised ship-by time (the SLA from the first payment,
        or the payment itself), then customer tier (higher first), then order
        value (higher first); then when the order was placed. Orders held for
        review (one its channel refunded in full before it shipped among
        them, `"refunded"`), or with a saga other than their pick saga in
        flight, wait outside the queue, as does one whose every stocked
        unit a refund cancelled (nothing to pick: its channel states its
        own cancellation); an order whose pick saga is in flight (a reply
        lost, a crash) stays, since `start_picking` resumes it with the same
        tasks.
        """
        positive_int("limit")(None, None, limit)
        paid = [order for order in self._all(_S.PAID) if queued(order)]
        return tuple(sorted(paid, key=self._policy.picking_priority)[:limit])

    def _all(self, status: OrderStatus) -> Iterator[Order]:
        """Every order in `status`, page by page, each page in its own unit."""
        return orders_in(self._unit, of_status(status), page=_PAGE)

    # ------------------------------------------------------------------
    # Helpers

    @staticmethod
    def _order(uow: UnitOfWork, channel: str, order_id: str) -> Order:
        order = uow.orders.get(channel, order_id)
        if order is None:
            raise UnknownOrder(channel, order_id)
        return order

    def _stock(self, uow: UnitOfWork) -> OrderStock:
        return self._stocks(uow.ledger, uow.outbox)

    def _store(  # noqa: PLR0913 - the unit, the change, and what it sends
        self,
        uow: UnitOfWork,
        old: Order | None,
        new: Order,
        records: Sequence[AuditRecord],
        now: pendulum.DateTime,
        *,
        passed: Sequence[Order] = (),
        refunds: Sequence[RefundDue] = (),
    ) -> None:
        """Save `new` over `old` with its records and what it tells the world.

        `passed` is the order as each status change of the unit left it (see
        `reached`): one milestone message each.
        """
        uow.orders.save(new, None if old is None else old.version)
        uow.audit.append(new.channel, records)
        language = self._policy.language_for(new.channel)
        messages = order_messages(passed, new, refunds, now, language)
        if messages:
            uow.outbox.add(messages)


def _picking(order: Order) -> bool:
    """Whether a warehouse may be picking the order's units.

    `PICKING`, a pick saga in flight, or `PARTIALLY_SHIPPED`: one warehouse
    shipped its parcel while another may still be packing the rest.
    """
    saga = order.saga
    return order.status in _PICKED_STATUSES or (saga is not None and saga.name == PICK)


_PICKED_STATUSES: Final = frozenset({_S.PICKING, _S.PARTIALLY_SHIPPED})


def _units_only(order: Order, outcome: Recorded | RefundExceedsCapture) -> bool:
    """Whether `outcome` only gave a refund the order has its units: no money moved."""
    if isinstance(outcome, RefundExceedsCapture):
        return False
    before, after = order.payment_ledger, outcome.order.payment_ledger
    return (
        before is not None and after is not None and before.totals() == after.totals()
    )


def _check_event(order_id: str, event: OrderEvent) -> None:
    """Refuse what is no order event, or an event of another order."""
    if type(event) not in EVENT_TYPES:
        raise ValidationError("event", event, "must be an order event")
    if event.order_id != order_id:
        raise OrderMismatch(order_id, event.order_id, "event.order_id")


def _parking(
    order: Order,
    parked: tuple[OrderEvent, ...],
    before: tuple[OrderEvent, ...],
    records: list[AuditRecord],
    now: pendulum.DateTime,
) -> Order:
    """`order` keeping `parked`, a version and a record for each newly parked."""
    for event in parked:
        if event not in before:
            order = _evolve_order(order, version=order.version + 1)
            records.append(parked_record(order, event, now))
    return _evolve_order(order, parked=parked)


def _owed_more(
    before: Order, after: Order, now: pendulum.DateTime
) -> tuple[Order, AuditRecord] | None:
    """An ended order that owes more once its ledger changed, held for a person.

    A refund pending when the order ended was counted as paid back; when it
    fails later, its money is owed again, and nothing else would send it.
    """
    if owed_back(after).amount <= owed_back(before).amount or "refund" in after.review:
        return None
    return held_for(after, "refund", now)


def _held_if_paid_twice(
    uow: UnitOfWork,
    old: Order,
    new: Order,
    now: pendulum.DateTime,
    records: list[AuditRecord],
) -> Order:
    """`new`, waiting for a person if the payment it recorded paid it over."""
    if not paid_twice(old, new):
        return new
    # Read for an order paid more than once only: a rare case, off the
    # common path of one payment per order.
    trail = uow.audit.records(new.channel, new.order_id)
    total = recorded_total(trail, new.currency)
    return _held_if_overpaid(new, total, now, records)


def _held_if_overpaid(
    order: Order,
    total: Money | None,
    now: pendulum.DateTime,
    records: list[AuditRecord],
) -> Order:
    """`order`, waiting for a person if it holds two payments and too much."""
    if len(order.payments) < 2 or order.status in ENDED:
        return order
    over = held_if_overpaid(order, total, now)
    if over is None:
        return order
    records.append(over[1])
    return over[0]


def _overpaid_at_intake(
    order: Order,
    total: Money | None,
    now: pendulum.DateTime,
    records: list[AuditRecord],
    details: list[str],
) -> Order:
    """`order`, flagged if its notice paid it twice over `total`.

    An order held already (`details` names why) is answered `Held`: the
    answer names the excess too, as its record does.
    """
    flagged = _held_if_overpaid(order, total, now, records)
    if details and flagged is not order and total is not None:
        details.append(f"多付 / paid over the total by {overpaid(order, total)}")
    return flagged


def _paid_twice_at_intake(
    order: Order,
    now: pendulum.DateTime,
    records: list[AuditRecord],
    details: list[str],
) -> Order:
    """`order`, waiting for a person if its channel's refunds pay a line back twice.

    As `record_refund` holds it (`lines_paid_twice`, `held_as_paid_twice`):
    a refund naming more units of a line than were bought, or a line the
    order does not have. An order held already (`details` names why) is
    answered `Held`: the answer names the lines too, as its record does.
    """
    twice = lines_paid_twice(order)
    if not twice:
        return order
    held, record = held_as_paid_twice(order, twice, now)
    records.append(record)
    if details:
        lines = ", ".join(sorted(twice))
        details.append(f"退款超出购买数量 / refunded past the units bought: {lines}")
    return held


_Reason = tuple[str, str, tuple[FieldChange, ...]]


def _refused_payments(batch: Batch) -> list[Rejected]:
    """The payments the batch refused: money the buyer paid all the same."""
    return [
        o
        for o in batch.outcomes
        if isinstance(o, Rejected) and isinstance(o.event, PaymentCaptured)
    ]


def _money_taken(order: Order, batch: Batch) -> bool:
    """Whether the notice says the buyer paid, in a payment the order took or not.

    One it refused (in another currency, say) is money paid all the same.
    """
    return bool(order.payments) or bool(_refused_payments(batch))


def _overage_text(overage: Overage) -> str:
    """One limit an order is over, as a person reads it in the hold.

    A units rule's says so, and how many the order asked for: "2 of 2" alone
    would read as orders.
    """
    key = overage.key
    if counts_units(key):
        return (
            f"{key.key}: {overage.count} of {key.limit} units taken,"
            f" {key.weight} more ordered"
        )
    return f"{key.key}: {overage.count} of {key.limit}"


def _held(
    screening: Screening,
    limited: Refused | None,
    pricing: str | None,
    batch: Batch,
    request: tuple[FieldChange, ...],
) -> list[_Reason]:
    """Why intake holds an order for a person.

    Each reason, with its detail and what its audit record says of it
    beyond the review: the limits it is over and the request's parts they
    read (`_request_said`), the payments it refused, the parcels the ended
    order refused (`"shipped_after_end"`, as `record` holds one).
    """
    reasons: list[_Reason] = []
    if screening.suspected:
        matches = ", ".join(f"{m.channel}:{m.order_id}" for m in screening.matches)
        reasons.append(
            ("duplicate", f"疑似重复 / suspected duplicate of {matches}", ())
        )
    if limited is not None:
        over = "; ".join(map(_overage_text, limited.overages))
        detail = f"超出限购 / purchase limits reached: {over}"
        said = (FieldChange("overages", "", over), *request)
        reasons.append(("limits", detail, said))
    if pricing is not None:
        reasons.append(("pricing", pricing, ()))
    # Most intakes refuse no event: the outcomes are read again only when
    # one was (`Rejected` is final: its instances' type is the class).
    if Rejected not in map(type, batch.outcomes):
        return reasons
    # The channel states what the order cannot be: a person looks before it
    # goes on, rather than the event vanishing. A payment it could not take
    # is money the buyer paid, whatever becomes of the order; a parcel the
    # ended order refused left all the same (`_held_if_shipped_after_end`).
    payments = _refused_payments(batch)
    ended = _left_after_end(batch)
    others = [
        o
        for o in batch.outcomes
        if isinstance(o, Rejected) and o not in payments and o not in ended
    ]
    if others:
        reasons.append(("event", refused_events(others), ()))
    if ended:
        parcels = _after_end_said(ended)
        detail = f"结束后发货 / shipped after the end: {parcels.new}"
        reasons.append((SHIPPED_AFTER_END, detail, (parcels,)))
    if payments:
        named = tuple(refused_payment(r) for r in payments)
        paid = "; ".join(change.new for change in named)
        reasons.append(("payment", f"拒收的付款 / payments refused: {paid}", named))
    return reasons


_REQUEST: Final = "request."
"""The prefix of the changes naming the request's parts the limits read."""


def _request_said(
    ip: str | None, device: str | None, promotion: str | None
) -> tuple[FieldChange, ...]:
    """The request's parts given to `accept`, as changes of a limits hold's record.

    The order does not keep them: `release` reads them back from the
    record, so that the limits on them count the released order.
    """
    # Most requests give none of them: every intake asks.
    if ip is None and device is None and promotion is None:
        return ()
    parts = (("ip", ip), ("device", device), ("promotion", promotion))
    return tuple(
        FieldChange(f"{_REQUEST}{name}", "", value)
        for name, value in parts
        if value is not None
    )


def _request_kept(uow: UnitOfWork, order: Order) -> dict[str, str]:
    """The request's parts the order's last limits hold recorded, by name."""
    for record in reversed(uow.audit.records(order.channel, order.order_id)):
        said = {
            change.field.removeprefix(_REQUEST): change.new
            for change in record.changes
            if change.field.startswith(_REQUEST)
        }
        if said:
            return said
    return {}


def _short(
    order: Order,
    shortages: Sequence[Shortage],
    now: pendulum.DateTime,
    records: list[AuditRecord],
) -> tuple[Order, str]:
    """A paid order the stock cannot fill, waiting for a person without stock.

    Its `HeldForReview` record names each short line (`shortages`); the
    detail is what a person reads of it.
    """
    short = "; ".join(str(s) for s in shortages)
    held, record = held_for(order, "stock", now, FieldChange("shortages", "", short))
    records.append(record)
    return held, f"缺货 / out of stock: {short}"


def _held_if_payment_refused(
    uow: UnitOfWork,
    order: Order,
    batch: Batch,
    now: pendulum.DateTime,
    records: list[AuditRecord],
) -> Order:
    """`order`, waiting for a person about each payment the batch refused.

    A refused payment is money the buyer paid that no saga knows of, as at
    intake (`"payment"`). One the trail names already (the same notice
    again, or the payment intake held the order for) changes nothing.
    """
    refused = _refused_payments(batch)
    if not refused:
        return order
    # Read for a refused payment only: rare, and off the common path.
    said = _untold(uow, order, dict.fromkeys(map(refused_payment, refused)))
    if not said:
        return order
    held, record = held_for_payments(order, said, now)
    records.append(record)
    return held


def _ledger_disagrees(order: Order) -> list[FieldChange]:
    """What the order's payment ledger captured that its payments do not say.

    One change per payment the order records that the ledger keeps with
    captures whose sum is other than the order's `Payment.amount` for it.
    A payment the ledger keeps with no capture is taken as captured as the
    order recorded it (`with_payments`), so it differs in nothing; ledgers
    the desk builds (refund sagas, channel refunds) keep its payments so,
    and never differ. A payment the order does not record is not told: a
    host may store the provider's capture before the channel's notice of
    it (the order then records it), and the notice decides what it holds.
    """
    ledger = order.payment_ledger
    if ledger is None:
        return []
    recorded = {p.payment_id: p.amount for p in order.payments}
    said = []
    for kept in ledger.payments:
        amount = recorded.get(kept.payment_id)
        if amount is None or not kept.captures or amount == kept.captured:
            continue
        said.append(
            FieldChange(
                "payment",
                "",
                f"PaymentLedger {kept.payment_id}: the order recorded {amount},"
                f" the payment ledger captured {kept.captured}",
            )
        )
    return said


def _held_if_ledger_disagrees(
    uow: UnitOfWork, order: Order, now: pendulum.DateTime
) -> tuple[Order, AuditRecord] | None:
    """`order`, its new payment ledger stored, waiting for a person if it disagrees.

    What ending the order owes back counts the order's payments, not the
    ledger's captures: captures of a payment other than the order recorded
    (a further part of it, or a contradiction) are the person's to settle,
    as a refused payment is (`"payment"`). Each difference is told once:
    one the trail names already changes nothing.
    """
    said = _ledger_disagrees(order)
    if not said:
        return None
    # Read for a ledger that disagrees only: rare, and off the common path.
    new = _untold(uow, order, said)
    if not new:
        return None
    return held_for_payments(order, new, now)


def _untold(
    uow: UnitOfWork, order: Order, changes: Iterable[FieldChange]
) -> list[FieldChange]:
    """Those of `changes` no audit record of the order names yet: told once."""
    told = {
        change
        for record in uow.audit.records(order.channel, order.order_id)
        for change in record.changes
    }
    return [change for change in changes if change not in told]


def _picked(stock: OrderStock, old: Order, new: Order) -> tuple[PickTask, ...]:
    """The pick tasks the warehouse has of an order that ends while picking.

    Read before the unit gives its committed units back; none otherwise.
    """
    if old.status is _S.PICKING and new.status in ENDED:
        return stock.pick_tasks(old)
    return ()


def _held_if_picked(
    order: Order,
    picked: Sequence[PickTask],
    now: pendulum.DateTime,
    records: list[AuditRecord],
) -> Order:
    """An order ended while picking, held for a person to void `picked`."""
    if not picked or PICK in order.review:
        return order
    held, record = picked_for_nobody(order, picked, now)
    records.append(record)
    return held


# Why an order waits for a person: a label booked, or being booked, to an
# address the buyer has changed since. The person voids it, as for a label
# the order refused.
_LABEL: Final = "label"


def _held_if_readdressed(
    before: Order,
    order: Order,
    batch: Batch,
    now: pendulum.DateTime,
    records: list[AuditRecord],
) -> Order:
    """An order whose address changed while its label was booked, held for a person.

    The ship saga asked the carrier for a label to the address the order
    had; the carrier keeps that label for the shipment id, so resuming
    would ship the parcel to the old address with no word. The audit
    record names the address the label went to and the new one.
    """
    saga = before.saga
    if saga is None or saga.name != SHIP or order.address == before.address:
        return order
    if not any(
        isinstance(o, Applied) and isinstance(o.event, AddressChanged)
        for o in batch.outcomes
    ):
        return order
    said = FieldChange(
        "address",
        str(before.address),
        f"{order.address}; the label of shipment {saga.key} may carry the old one",
    )
    held, record = held_telling(order, _LABEL, [said], now)
    records.append(record)
    return held


SHIPPED_AFTER_END: Final = "shipped_after_end"
"""Why an ended order waits for a person: a parcel left after it was cancelled.

Its stock went back on sale and its money may have gone back to the buyer,
yet the warehouse or a 3PL reports a parcel: a person recovers the goods
or the money, and corrects the shelf's figures.
"""


def _left_after_end(batch: Batch) -> list[Rejected]:
    """The parcels the batch refused because their order had ended.

    Refused by the cancelled or closed order they were tried against:
    reported after the end, or parked before it and let through by the
    ending. They left all the same.
    """
    return [
        r
        for r in batch.outcomes
        if isinstance(r, Rejected)
        and isinstance(r.event, Shipped)
        and r.order is not None
        and r.order.status in ENDED
    ]


def _after_end_said(refused: Sequence[Rejected]) -> FieldChange:
    """What a `"shipped_after_end"` hold's record says: the parcels refused."""
    return FieldChange(SHIPPED_AFTER_END, "", refused_events(refused))


def _held_if_shipped_after_end(
    order: Order, batch: Batch, now: pendulum.DateTime
) -> tuple[Order, AuditRecord] | None:
    """A cancelled or closed order whose parcel left all the same, held for a person.

    The lifecycle refuses the parcel (nothing ships after the end), so
    nothing else would say so: the stock the order gave back is counted on
    a shelf it has left. Told once: a redelivery of the parcel, or another
    one, while the order waits adds nothing.
    """
    if order.status not in ENDED or SHIPPED_AFTER_END in order.review:
        return None
    refused = _left_after_end(batch)
    if not refused:
        return None
    return held_for(order, SHIPPED_AFTER_END, now, _after_end_said(refused))


def _held_if_refused(
    order: Order,
    event: OrderEvent,
    batch: Batch,
    now: pendulum.DateTime,
    records: list[AuditRecord],
) -> Order:
    """An order that refused parked events `event` let through, held for a person.

    The channel stated them (an early parcel of more units than ordered):
    dropped with no word, a person would never learn what it said, as at
    intake (`"event"`). The audit record names each. A parcel refused
    because the order had ended is not among them: it holds the order as
    `"shipped_after_end"` (`_held_if_shipped_after_end`).
    """
    ended = {id(r) for r in _left_after_end(batch)}
    refused = [
        r
        for r in batch.outcomes
        if isinstance(r, Rejected)
        and r.event.key != event.key
        and not isinstance(r.event, PaymentCaptured)
        and id(r) not in ended
    ]
    if not refused or "event" in order.review:
        return order
    said = FieldChange("event", "", refused_events(refused))
    held, record = held_for(order, "event", now, said)
    records.append(record)
    return held


def _withdrawn(order: Order, now: pendulum.DateTime) -> tuple[Order, AuditRecord]:
    """An ended order, no longer waiting for a person about its stock.

    Whether it was a duplicate, or priced right, or its events meant what
    they said, or where its stock went, no longer decides anything: it
    takes no stock and owes nothing for them. The money it holds goes back
    through its refund saga; what else it owes (a refund a saga cannot
    send, a label, pick tasks) stays for a person.
    """
    review = tuple(r for r in order.review if r not in SETTLED_BY_ENDING)
    ended = _evolve_order(order, review=review, version=order.version + 1)
    return ended, withdrawn_record(ended, now, order.review)


def _taken_in(
    batch: Batch, records: list[AuditRecord], now: pendulum.DateTime
) -> tuple[Order, list[RefundDue]]:
    """The order the intake's events made, and the refunds they owe.

    Its early events are parked with it, a saga is on its way for the first
    refund, and any other waits for a person (see `owe`).
    """
    assert batch.order is not None  # noqa: S101 - OrderPlaced always places
    order = batch.order
    # Most intakes park nothing, on an order that keeps nothing parked: the
    # copy `_parking` would make is equal to it.
    if batch.parked or order.parked:
        order = _parking(order, batch.parked, (), records, now)
    # RefundDue is final: its instances' type is the class.
    refunds = [o for o in batch.outcomes if type(o) is RefundDue]
    for refund in refunds:
        order = owe(order, refund, now)
    return order, refunds
