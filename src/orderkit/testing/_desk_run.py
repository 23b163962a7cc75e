"""One desk law run: a desk over the unit and one over the reference, in lock-step."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from decimal import Decimal
from typing import Final, cast, final

import attrs
import pendulum

from orderkit.adapters.memory import MemoryUnitOfWork
from orderkit.dedupe import Fingerprinter, IdempotencyKey
from orderkit.errors import OrderkitError
from orderkit.integrations import ChannelOrder, ChannelRefund
from orderkit.inventory import Movement
from orderkit.money import Money
from orderkit.orders import (
    Address,
    AfterSalesCase,
    Buyer,
    Cancelled,
    Order,
    OrderLine,
    OrderStatus,
    PaymentCaptured,
    ReturnLine,
    ShipmentLine,
    Shipped,
    approve_case,
    inspect_return,
    receive_return,
    request_return,
)
from orderkit.orders._status import ENDED
from orderkit.ports import UnitOfWork
from orderkit.pricing import (
    ApprovalTiers,
    ChangeState,
    LimitRule,
    LimitScope,
    PriceChange,
    approve,
    expire,
    reject,
    request_change,
)
from orderkit.services import Checkout, DeskPolicy, Ledger, OrderDesk, Refunds
from orderkit.testing._clock import FrozenClock
from orderkit.testing._desk_ops import (
    LOCATIONS,
    PRICES,
    DeskAction,
    DeskOperation,
)
from orderkit.testing._desk_state import (
    State,
    changed,
    difference,
    moved_back,
    orders,
    oversold,
    read,
    short,
)
from orderkit.testing._fake_warehouse import FakeWarehouse
from orderkit.testing._laws import DeskLaw, LawBroken
from orderkit.testing._samples import channel_order
from orderkit.testing.fakes import FakePayments


START: Final = pendulum.datetime(2026, 11, 11, 2)
_A = DeskAction
_S = OrderStatus
# One pot a day to an address: a twin buying pots is over the limit (refused,
# or held when it comes in paid: its money was taken).
_POLICY: Final = DeskPolicy(
    locations=LOCATIONS,
    limits=[
        LimitRule(LimitScope.ADDRESS, limit=1, window=dt.timedelta(days=1), sku="POT")
    ],
)
_FINGERPRINTER: Final = Fingerprinter.for_tests()
# The steps a retry may repeat: each is keyed, so a repeat is a replay.
_REPEATABLE: Final = frozenset(
    {
        _A.RECEIVE,
        _A.ACCEPT,
        _A.NOTICE_PAID,
        _A.NOTICE_PAID_AGAIN,
        _A.NOTICE_CANCELLED,
        _A.NOTICE_EDITED,
        _A.PAY,
        _A.CANCEL,
        _A.PICK,
        _A.SHIP,
        _A.CASE,
        _A.CHANNEL_REFUND,
        _A.PRICE_CHANGE,
        _A.APPROVE_PRICE_CHANGE,
        _A.REJECT_PRICE_CHANGE,
        _A.EXPIRE_PRICE_CHANGE,
    }
)
_MONEY_BACK: Final = frozenset({_A.CASE, _A.CHANNEL_REFUND})
_DECISIONS: Final = frozenset(
    {_A.APPROVE_PRICE_CHANGE, _A.REJECT_PRICE_CHANGE, _A.EXPIRE_PRICE_CHANGE}
)
_CANCELLABLE: Final = frozenset({_S.PENDING_PAYMENT, _S.PAID, _S.PICKING})
_PAID_UNSHIPPED: Final = frozenset({_S.PAID, _S.PICKING})

Key = tuple[str, str]


@final
class _Side:
    """A desk over one unit, with its own clock, payment provider and warehouse."""

    def __init__(self, unit: UnitOfWork) -> None:
        self.unit = unit
        self.clock = FrozenClock(START)
        self.desk = OrderDesk(unit, self.clock, _POLICY, _FINGERPRINTER)
        payments = FakePayments(self.clock)
        self.checkout = Checkout(unit, self.clock, self.desk, payments)
        self.refunds = Refunds(unit, self.clock, payments)
        self.warehouse = FakeWarehouse(self.clock)

    def ledger(self, uow: UnitOfWork) -> Ledger:
        # Through the outbox, as a host's sweeper does: the channels hear of it.
        return Ledger(uow.ledger, self.clock, outbox=uow.outbox)


Call = Callable[[_Side], object]


@final
@attrs.frozen
class _Raised:
    """A typed error as an answer: equal when its type and message are."""

    name: str
    text: str
    error: BaseException = attrs.field(eq=False, repr=False)


@final
@attrs.frozen
class _Done:
    """A step that changed the reference, for a `REPEAT` to run again."""

    step: int
    label: str
    call: Call


class DeskRun:
    """Runs each step on both desks, then checks every `DeskLaw`."""

    def __init__(self, unit: UnitOfWork, seed: int | None, count: int) -> None:
        self.subject = _Side(unit)
        self.reference = _Side(MemoryUnitOfWork())
        self.seed = seed
        self.count = count
        self.history: list[str] = []
        self.done: list[_Done] = []
        self.sent: dict[DeskOperation, ChannelOrder] = {}
        self.notices: dict[Key, ChannelOrder] = {}
        self.expected: State = self.read_reference()
        self.got: State = self.read_subject()

    def broken(self, law: DeskLaw, detail: str) -> LawBroken:
        again = (
            "check_desk_laws(make_unit, operations=the steps above)"
            if self.seed is None
            else f"check_desk_laws(make_unit, seed={self.seed}, runs=1, "
            f"steps={self.count})"
        )
        return LawBroken(law, detail, seed=self.seed, steps=self.history, repeat=again)

    # driving

    def steps(self, operations: Sequence[DeskOperation]) -> None:
        for op in operations:
            self.history.append(str(op))
            call = self.call_of(op)
            if call is not None:
                self.step(op, call)

    def step(self, op: DeskOperation, call: Call) -> None:
        expected, said = _answer(call, self.reference), self.answer(call)
        before, was = self.expected, self.got
        self.expected, self.got = self.read_reference(), self.read_subject()
        # The laws of any store first: an oversold unit also answers
        # otherwise than the reference, but "no oversell" says what is wrong.
        # A retry the desk itself answers with a change (a channel's refund
        # beyond its payment, delivered again after a person released the
        # order, holds it again) is the reference's to make: the laws below
        # hold the unit to it. Any other change is the unit's.
        if op.action is _A.REPEAT and self.got != was and self.expected == before:
            law = DeskLaw.IDEMPOTENT_STEPS
            raise self.broken(law, f"it changed the unit: {changed(was, self.got)}")
        problem = oversold(self.got)
        if problem is not None:
            raise self.broken(DeskLaw.NO_OVERSELL, problem)
        problem = moved_back(was, self.got)
        if problem is not None:
            raise self.broken(DeskLaw.FORWARD_ONLY, problem)
        if said != expected:
            answered = f"the unit answered {short(said, 320)}"
            raise self.broken(
                DeskLaw.ANSWERS, f"{answered}, the reference {short(expected, 320)}"
            ) from _cause(said)
        for law, part in self.expected.items():
            problem = difference(part, self.got[law])
            if problem is not None:
                raise self.broken(law, problem)
        if op.action is _A.ACCEPT:
            self.accepted(op)
        if op.action in _REPEATABLE and self.expected != before:
            self.done.append(_Done(len(self.history), self.history[-1], call))

    def answer(self, call: Call) -> object:
        try:
            return _answer(call, self.subject)
        except Exception as error:
            # A driver's own error is no answer a desk may give.
            detail = f"the unit raised {error!r}"
            raise self.broken(DeskLaw.ANSWERS, detail) from error

    def read_reference(self) -> State:
        return read(self.reference.unit, self.now())

    def read_subject(self) -> State:
        def blame(law: DeskLaw, error: Exception) -> LawBroken:
            return self.broken(law, f"reading the unit back raised {error!r}")

        return read(self.subject.unit, self.now(), blame)

    # the steps, as calls on either side

    def call_of(self, op: DeskOperation) -> Call | None:
        """The step as a call either desk can run; `None` to skip it."""
        a = op.action
        timer = _TIMERS.get(a)
        if timer is not None:
            return timer
        if a is _A.RECEIVE:
            return self.receive(op)
        if a is _A.ACCEPT:
            return self.accept(op)
        if a is _A.WAIT:
            return lambda side: side.clock.advance(minutes=op.minutes)
        if a is _A.REPEAT:
            return self.repeat(op)
        order = self.target(op)
        return None if order is None else self.on(a, order)

    def on(self, a: DeskAction, order: Order) -> Call:
        """A step on an order the reference holds, as a call."""
        if a is _A.PRICE_CHANGE:
            return self.price_change(order)
        if a in _DECISIONS:
            return self.price_decision(a, order)
        if a in _MONEY_BACK:
            return self.money_back(a, order)
        return self.on_order(a, order)

    def on_order(self, a: DeskAction, order: Order) -> Call:
        channel, order_id, now = order.channel, order.order_id, self.now()
        if a is _A.NOTICE_EDITED:
            return self.edited(order)
        told = _NOTICES.get(a)
        if told is not None:
            later, status = told
            return self.notice(order, later(order, now), status)
        if a is _A.PAY:
            total = _total(order)
            return lambda side: side.checkout.pay(
                channel, order_id, f"CARD-{order_id}", total
            )
        if a is _A.RELEASE:
            return lambda side: side.desk.release(channel, order_id, actor="law-clerk")
        if a is _A.PICK:
            return lambda side: side.desk.start_picking(
                channel, order_id, side.warehouse
            )
        event = (
            _cancelled(order, "support.cancel", now)
            if a is _A.CANCEL
            else _shipped(order, now)
        )
        return lambda side: side.desk.record(channel, order_id, event)

    def money_back(self, a: DeskAction, order: Order) -> Call:
        """A case owing money back, or the channel's own refund."""
        channel, order_id, now = order.channel, order.order_id, self.now()
        if a is _A.CASE:
            case = _case(order, now)
            key = IdempotencyKey("erp", "aftersales", f"{order_id}:{case.case_id}", "1")
            return lambda side: side.desk.amend(
                channel, order_id, case, key=key, actor="law-clerk", source="erp"
            )
        # A refund id of its own per step: only a retry repeats one.
        refund = _channel_refund(order, f"CR-{len(self.history)}", now)
        return lambda side: side.desk.record_refund(channel, order_id, refund)

    def price_change(self, order: Order) -> Call:
        """A support agent's change of a line's price: applied, or pending."""
        channel, order_id, now = order.channel, order.order_id, self.now()
        # A price change fits only an order with such a line (`_FITS`).
        line = _unrequested(order, now) or order.lines[0]
        change = request_change(
            _PRICE_TIERS,
            change_id=f"PC-{len(order.price_changes) + 1}",
            order_id=order_id,
            line_id=line.line_id,
            sku=line.sku,
            quantity=line.quantity,
            old_unit_price=line.unit_price,
            new_unit_price=_repriced(line),
            reason="买家议价 / price agreed with the buyer",
            requester=_AGENT,
            evidence=f"ticket://{channel}/{order_id}",
            requested_at=now,
            ttl=_PRICE_TTL,
        )
        done = "pending"
        if change.required_role == _AGENT_ROLE:
            # Within the agent's tier; but no one approves their own change.
            change = approve(
                change, _PRICE_TIERS, approver=_PEER, role=_AGENT_ROLE, now=now
            ).change
            done = "applied at once"
        self.told(
            f"{change.change_id} {line.line_id} {change.old_unit_price} -> "
            f"{change.new_unit_price}, {change.required_role}: {done}"
        )
        return self.price_amend(order, change, "price.requested", _AGENT)

    def price_decision(self, a: DeskAction, order: Order) -> Call:
        """A manager's approval or rejection of a pending change, or its lapse."""
        now = self.now()
        lapsed = a is _A.EXPIRE_PRICE_CHANGE
        # A decision fits only an order with such a change (`_FITS`).
        change = _pending(order, now, lapsed=lapsed) or order.price_changes[0]
        role = change.required_role
        by = f"law-{role}"
        if a is _A.APPROVE_PRICE_CHANGE:
            decided = approve(change, _PRICE_TIERS, approver=by, role=role, now=now)
        elif a is _A.REJECT_PRICE_CHANGE:
            decided = reject(
                change, _PRICE_TIERS, approver=by, role=role, now=now, note=_REJECTED
            )
        else:
            decided = expire(change, now)
        after = decided.change
        self.told(f"{change.change_id}, {role}")
        return self.price_amend(
            order, after, f"price.{after.state}", after.decided_by or "law-timer"
        )

    def price_amend(
        self, order: Order, change: PriceChange, kind: str, actor: str
    ) -> Call:
        channel, order_id = order.channel, order.order_id
        # Keyed by the change and what happened to it: a retry is a replay.
        key = IdempotencyKey("back-office", kind, f"{order_id}:{change.change_id}", "1")
        return lambda side: side.desk.amend(
            channel, order_id, change, key=key, actor=actor, source="back-office"
        )

    def told(self, detail: str) -> None:
        """Say more of the step on an order than which order it is."""
        self.history[-1] = f"{self.history[-1].removesuffix(')')}: {detail})"

    def now(self) -> pendulum.DateTime:
        return self.reference.clock.now()

    def receive(self, op: DeskOperation) -> Call:
        key = f"law:receive:{len(self.history)}"

        def run(side: _Side) -> object:
            with side.unit as uow:
                receipt = side.ledger(uow).receive(
                    op.sku, op.location, op.quantity, key=key
                )
                uow.commit()
            return receipt

        return run

    def accept(self, op: DeskOperation) -> Call:
        # The same notice again is the same one, however late it comes.
        notice = self.sent.setdefault(op, _notice(op, self.now()))
        return lambda side: side.desk.accept(notice)

    def accepted(self, op: DeskOperation) -> None:
        """Keep the notice the reference took the order in with, for later ones."""
        key = (op.channel, op.order_id)
        if f"{op.channel}:{op.order_id}" in self.expected[DeskLaw.ORDERS]:
            self.notices.setdefault(key, self.sent[op])

    def notice(
        self, order: Order, event: PaymentCaptured | Cancelled, status: OrderStatus
    ) -> Call:
        first = self.notices[order.channel, order.order_id]
        later = attrs.evolve(
            first,
            events=(*first.events, event),
            status=status,
            channel_status=str(status),
        )
        return lambda side: side.desk.update(later)

    def edited(self, order: Order) -> Call:
        """The channel's notice of `order` with its first line a fifth cheaper."""
        first = self.notices[order.channel, order.order_id]
        cut, *rest = first.placed.lines
        listed = Money(PRICES[cut.sku], cut.unit_price.currency)
        price = Money(listed.amount * Decimal("0.8"), listed.currency)
        lines = (attrs.evolve(cut, unit_price=price), *rest)
        later = attrs.evolve(
            first,
            placed=attrs.evolve(first.placed, lines=lines),
            quote=attrs.evolve(first.quote, lines=lines),
        )
        self.told(f"{cut.line_id} {cut.unit_price} -> {price}")
        return lambda side: side.desk.update(later)

    def repeat(self, op: DeskOperation) -> Call | None:
        if not self.done:
            return None
        done = self.done[op.pick % len(self.done)]
        # Say which step it repeats: `#64` alone means nothing to a reader.
        self.history[-1] = f"{op} (step {done.step}: {done.label})"
        return done.call

    def target(self, op: DeskOperation) -> Order | None:
        """The order of a step: `pick` among the reference's orders it fits."""
        fits, now = _FITS[op.action], self.now()
        fitting = [o for o in orders(self.expected) if fits(o, now)]
        if not fitting:
            return None
        order = fitting[op.pick % len(fitting)]
        self.history[-1] = f"{op} ({order.channel}:{order.order_id})"
        return order


def _answer(call: Call, side: _Side) -> object:
    try:
        return _said(call(side))
    except OrderkitError as error:
        return _Raised(type(error).__name__, str(error), error)


def _said(value: object) -> object:
    """An answer as the desks are compared on: store-made sequence numbers left out."""
    if isinstance(value, BaseException):
        # An outcome that carries an error (`Stalled`): errors equal by identity.
        return _Raised(type(value).__name__, str(value), value)
    if isinstance(value, list | tuple):
        # A sweep's `Swept` is a list that says more than its items.
        signals = getattr(value, "signals", ())
        return (tuple(_said(item) for item in value), signals)
    if isinstance(value, Movement):
        return attrs.evolve(value, seq=0)
    if attrs.has(type(value)) and not isinstance(value, Order):
        fields = attrs.fields(cast("type[attrs.AttrsInstance]", type(value)))
        return (type(value).__name__, *(_said(getattr(value, f.name)) for f in fields))
    return value


def _cause(said: object) -> BaseException | None:
    return said.error if isinstance(said, _Raised) else None


def _sweep(side: _Side) -> object:
    with side.unit as uow:
        swept = side.ledger(uow).expire_due()
        uow.commit()
    return swept


def _notice(op: DeskOperation, now: pendulum.DateTime) -> ChannelOrder:
    """The channel's first notice of the order, placed now."""
    return channel_order(
        [(sku, quantity, PRICES[sku]) for sku, quantity in op.lines],
        order_id=op.order_id,
        channel=op.channel,
        paid=op.paid,
        at=now,
        buyer=Buyer(op.buyer, "李雷", phone=None),
        # The buyer's own address: one buyer on two channels, same lines,
        # is a suspected duplicate.
        address=Address("CN", "浙江省", "杭州市", "西湖区", f"龙井路 {op.buyer} 号"),
    )


def _total(order: Order) -> Money:
    amounts = [line.amount for line in order.lines]
    return sum(amounts[1:], amounts[0])


def _paid(
    order: Order, now: pendulum.DateTime, *, again: bool = False
) -> PaymentCaptured:
    # The key the first notice's payment has (`channel_order`): one payment;
    # or a second one, under keys and an id of its own.
    n = "2" if again else "1"
    return PaymentCaptured(
        order_id=order.order_id,
        key=IdempotencyKey(order.channel, "order.paid", order.order_id, n),
        occurred_at=now,
        payment_id=f"PAY{n if again else ''}-{order.order_id}",
        amount=_total(order),
    )


def _cancelled(order: Order, kind: str, now: pendulum.DateTime) -> Cancelled:
    return Cancelled(
        order_id=order.order_id,
        key=IdempotencyKey(order.channel, kind, order.order_id, "1"),
        occurred_at=now,
        reason="买家取消 / buyer cancelled",
    )


def _shipped(order: Order, now: pendulum.DateTime) -> Shipped:
    return Shipped(
        order_id=order.order_id,
        key=IdempotencyKey(order.channel, "wms.shipped", order.order_id, "1"),
        occurred_at=now,
        shipment_id="S1",
        lines=[ShipmentLine(line.line_id, line.quantity) for line in order.lines],
        carrier="SF",
        tracking_number=f"SF{sum(map(ord, order.order_id)):010d}",
    )


def _case(order: Order, now: pendulum.DateTime) -> AfterSalesCase:
    """The order's next case: one unit of a line back, inspected and passed."""
    # A case fits only an order with such a line (`_FITS`).
    line = _returnable(order) or order.lines[0]
    case = request_return(
        case_id=f"AS-{len(order.after_sales) + 1}",
        order_id=order.order_id,
        payment_id=order.payments[0].payment_id,
        lines=[ReturnLine(line.line_id, line.sku, 1)],
        refund_amount=line.unit_price,
        reason="七天无理由退货 / returned within seven days",
        requester=f"buyer:{order.buyer.buyer_id}",
        return_to=LOCATIONS[0],
        at=now,
    )
    case = approve_case(case, "law-manager", "finance", _TIERS, now)
    case = receive_return(case, {}, {}, now)
    return inspect_return(case, passed=True, at=now).case


def _returnable(order: Order) -> OrderLine | None:
    """The first line with a unit no case took back yet, if any."""
    for line in order.lines:
        returned = sum(
            back.quantity
            for case in order.after_sales
            for back in case.lines
            if back.line_id == line.line_id
        )
        if returned < line.quantity:
            return line
    return None


def _repriced(line: OrderLine) -> Money:
    """A tenth off the SKU's list price; or, for a cut price, the list price back."""
    listed = Money(PRICES[line.sku], line.unit_price.currency)
    if line.unit_price != listed:
        return listed
    return Money(listed.amount * Decimal("0.9"), listed.currency)


def _live(change: PriceChange, now: pendulum.DateTime) -> bool:
    """Whether a change awaits a decision: pending, and not past its expiry."""
    return change.state is ChangeState.PENDING and now < change.expires_at


def _unrequested(order: Order, now: pendulum.DateTime) -> OrderLine | None:
    """The next line with no change awaiting a decision, if any.

    The lines take turns, so that each is changed, not only the first.
    """
    waiting = {c.line_id for c in order.price_changes if _live(c, now)}
    free = [line for line in order.lines if line.line_id not in waiting]
    return free[len(order.price_changes) % len(free)] if free else None


def _pending(
    order: Order, now: pendulum.DateTime, *, lapsed: bool
) -> PriceChange | None:
    """The first change awaiting a decision, or (`lapsed`) past its expiry."""
    return next(
        (
            c
            for c in order.price_changes
            if c.state is ChangeState.PENDING and _live(c, now) is not lapsed
        ),
        None,
    )


def _channel_refund(
    order: Order, refund_id: str, now: pendulum.DateTime
) -> ChannelRefund:
    return ChannelRefund(
        refund_id=refund_id,
        order_id=order.order_id,
        key=IdempotencyKey(order.channel, "refund.created", refund_id, "1"),
        amount=order.lines[0].unit_price,
        created_at=now,
        reason="仅退款 / money back only",
    )


_NOTICES: Final[
    dict[
        DeskAction,
        tuple[
            Callable[[Order, pendulum.DateTime], PaymentCaptured | Cancelled],
            OrderStatus,
        ],
    ]
] = {
    _A.NOTICE_PAID: (_paid, _S.PAID),
    _A.NOTICE_PAID_AGAIN: (lambda o, now: _paid(o, now, again=True), _S.PAID),
    _A.NOTICE_CANCELLED: (
        lambda o, now: _cancelled(o, "order.cancelled", now),
        _S.CANCELLED,
    ),
}
"""A channel's later notice of an order: the event it adds, the status it says."""
_TIERS: Final = ApprovalTiers.of((None, "finance"))
# A tenth of a line off (`_repriced`) moves 3.00 to 24.00: every tier is met.
_PRICE_TIERS: Final = ApprovalTiers.of(
    (Money("5.00", "CNY"), "support"),
    (Money("20.00", "CNY"), "store_manager"),
    (None, "finance"),
)
_AGENT: Final = "law-agent"
_AGENT_ROLE: Final = "support"
_PEER: Final = "law-agent-2"
_PRICE_TTL: Final = dt.timedelta(minutes=15)
_REJECTED: Final = "超出活动折扣 / beyond the campaign's discount"
_TIMERS: Final[dict[DeskAction, Call]] = {
    _A.REFUND: lambda side: side.refunds.send_due(),
    _A.CLOSE: lambda side: side.desk.close_unpaid(),
    _A.SWEEP: _sweep,
}


def _queued(order: Order, _now: pendulum.DateTime) -> bool:
    return order.status is _S.PAID and not order.review and order.saga is None


_FITS: Final[dict[DeskAction, Callable[[Order, pendulum.DateTime], bool]]] = {
    _A.NOTICE_PAID: lambda o, _: o.status is _S.PENDING_PAYMENT,
    _A.NOTICE_PAID_AGAIN: lambda o, _: o.status in _PAID_UNSHIPPED and bool(o.payments),
    _A.PAY: lambda o, _: o.status is _S.PENDING_PAYMENT and o.saga is None,
    _A.NOTICE_CANCELLED: lambda o, _: o.status in _CANCELLABLE,
    _A.NOTICE_EDITED: lambda o, _: o.status not in ENDED,
    _A.CANCEL: lambda o, _: o.status in _CANCELLABLE,
    _A.RELEASE: lambda o, _: bool(o.review),
    _A.PICK: _queued,
    _A.SHIP: lambda o, _: o.status is _S.PICKING,
    _A.CASE: lambda o, _: o.status is _S.SHIPPED and _returnable(o) is not None,
    _A.CHANNEL_REFUND: lambda o, _: bool(o.payments),
    # An ended order takes no approval (`record_price_change`): none is asked.
    _A.PRICE_CHANGE: lambda o, now: (
        o.status not in ENDED and _unrequested(o, now) is not None
    ),
    _A.APPROVE_PRICE_CHANGE: lambda o, now: _pending(o, now, lapsed=False) is not None,
    _A.REJECT_PRICE_CHANGE: lambda o, now: _pending(o, now, lapsed=False) is not None,
    _A.EXPIRE_PRICE_CHANGE: lambda o, now: _pending(o, now, lapsed=True) is not None,
}
