"""A desk law run's steps as data, and how they are drawn."""

from __future__ import annotations

import enum
import random
from collections.abc import Callable, Iterable
from typing import Final, final

import attrs

from orderkit.errors import ValidationError


@final
class DeskAction(enum.StrEnum):
    """What one `DeskOperation` does.

    .. versionadded:: 0.1.0
    """

    RECEIVE = "receive"
    """Goods in: `quantity` of `sku` at `location`, the channels told."""
    ACCEPT = "accept"
    """`OrderDesk.accept` a channel's order: `order_id` on `channel`, from
    `buyer`, of `lines`, paid already when `paid`."""
    NOTICE_PAID = "notice paid"
    """`OrderDesk.update` with the channel's later notice that an unpaid
    order (`pick`) was paid."""
    NOTICE_PAID_AGAIN = "notice paid again"
    """`OrderDesk.update` with the channel's later notice of a second
    payment, under another payment id, for an order paid and not shipped
    yet (`pick`): an order paid twice, which waits for a person."""
    NOTICE_CANCELLED = "notice cancelled"
    """`OrderDesk.update` with the channel's later notice that an order not
    ended (`pick`) was cancelled."""
    NOTICE_EDITED = "notice edited"
    """`OrderDesk.update` with the channel's later notice of an order not
    cancelled or closed (`pick`) whose first line costs a fifth less than
    the SKU's price in `PRICES`: staff changed it in the channel's back
    office (改价). The order waits for a person (`"edited"`). Not drawn by
    a seeded run: name it in `operations`."""
    PAY = "pay"
    """`Checkout.pay` an unpaid order (`pick`) in full, with a fake provider."""
    CANCEL = "cancel"
    """`OrderDesk.record` a support agent's cancellation of an order not
    ended (`pick`)."""
    RELEASE = "release"
    """`OrderDesk.release` an order held for review (`pick`)."""
    PICK = "pick"
    """`OrderDesk.start_picking` a paid order (`pick`), with a fake warehouse."""
    SHIP = "ship"
    """`OrderDesk.record` the one parcel of an order being picked (`pick`)."""
    CASE = "case"
    """`OrderDesk.amend` a shipped order (`pick`) with an after-sales case
    whose inspection has just passed: one unit of a line not yet returned
    comes back, and its price is owed back to the order's first payment
    (a `REFUND` sends it)."""
    CHANNEL_REFUND = "channel refund"
    """`OrderDesk.record_refund`: the channel sent one unit's price of an
    order with a payment (`pick`, whatever its status) back itself."""
    REFUND = "refund"
    """`Refunds.send_due`: the money owed back goes out, with the fake
    provider."""
    CLOSE = "close"
    """`OrderDesk.close_unpaid`: orders past their payment deadline close."""
    SWEEP = "sweep"
    """`Ledger.expire_due`: holds past their expiry expire."""
    WAIT = "wait"
    """Both clocks move `minutes` on."""
    REPEAT = "repeat"
    """Run a step that changed the reference again, as a retry would: an
    accept, a notice, a payment, a cancellation, picking, a parcel, a case,
    a channel's refund or a step of a price change (`pick` chooses which,
    among those made so far)."""
    PRICE_CHANGE = "price change"
    """`OrderDesk.amend` an order not cancelled or closed (`pick`) with a
    support agent's manual price change on a line with no change awaiting
    a decision (the lines take turns): a tenth off the SKU's price in
    `PRICES`, or a cut price put back. The amount (the change of the line
    total) routes it through the approval tiers (`"support"` up to 5.00 CNY,
    `"store_manager"` up to 20.00, `"finance"` above): within the agent's
    own tier a second agent approves it at once and it is recorded applied
    (orderkit never lets the requester approve their own change); above
    it, it is recorded pending, for a manager or finance, and lapses after
    15 minutes."""
    APPROVE_PRICE_CHANGE = "approve price change"
    """`OrderDesk.amend` an order (`pick`) with the approval of its first
    pending change not yet lapsed, by the role its amount needs: the line
    takes the new price (refused if the order has been cancelled or
    closed since)."""
    REJECT_PRICE_CHANGE = "reject price change"
    """`OrderDesk.amend` an order (`pick`) with the rejection of its first
    pending change not yet lapsed, by the role its amount needs."""
    EXPIRE_PRICE_CHANGE = "expire price change"
    """`OrderDesk.amend` an order (`pick`) with its first pending change
    past its `expires_at`, recorded expired. A lapsed change can be neither
    approved nor rejected, recorded expired or not: the decision steps pass
    it by."""


StepLine = tuple[str, int]
"""`(sku, quantity)`; the price is the SKU's in `PRICES`."""
_A = DeskAction

SKUS: Final = ("TEA", "MUG", "POT")
"""The SKUs orders buy: plenty of tea, a few mugs, a pot or two."""
PRICES: Final = {"TEA": "30.00", "MUG": "45.00", "POT": "120.00"}
"""Each SKU's unit price, in CNY."""
LOCATIONS: Final = ("W1", "W2")
"""Where the desk keeps stock (its `DeskPolicy.locations`)."""
CHANNELS: Final = ("douyin", "shopify", "taobao")
TIMERS: Final = frozenset({_A.REFUND, _A.CLOSE, _A.SWEEP})
"""The steps `DeskOperation.timer` makes."""
PICKED: Final = frozenset(
    {
        _A.NOTICE_PAID,
        _A.NOTICE_PAID_AGAIN,
        _A.NOTICE_CANCELLED,
        _A.NOTICE_EDITED,
        _A.PAY,
        _A.CANCEL,
        _A.RELEASE,
        _A.PICK,
        _A.SHIP,
        _A.CASE,
        _A.CHANNEL_REFUND,
        _A.REPEAT,
        _A.PRICE_CHANGE,
        _A.APPROVE_PRICE_CHANGE,
        _A.REJECT_PRICE_CHANGE,
        _A.EXPIRE_PRICE_CHANGE,
    }
)
"""The steps `DeskOperation.on` makes: on an order, or a retry, by `pick`."""


def _action(value: DeskAction | str) -> DeskAction:
    try:
        return DeskAction(value)
    except ValueError:
        raise ValidationError("action", value, "must be a DeskAction") from None


def _one_of(value: DeskAction | str, allowed: frozenset[DeskAction]) -> DeskAction:
    action = _action(value)
    if action not in allowed:
        names = ", ".join(sorted(a.name for a in allowed))
        raise ValidationError("action", value, f"must be one of {names}")
    return action


def _lines(value: object) -> tuple[StepLine, ...]:
    if not isinstance(value, list | tuple):
        raise ValidationError("lines", value, "must be a sequence of lines")
    found: list[StepLine] = []
    for i, line in enumerate(value):
        match line:
            case (str(sku), int(quantity)) if (
                sku in PRICES and quantity > 0 and not isinstance(quantity, bool)
            ):
                found.append((sku, quantity))
            case _:
                raise ValidationError(
                    f"lines[{i}]",
                    line,
                    f"must be (sku, quantity), a SKU of {', '.join(SKUS)}",
                )
    return tuple(found)


@final
@attrs.frozen(slots=True, kw_only=True)
class DeskOperation:
    """One step of `check_desk_laws`: something asked of the order desk, as data.

    Build them with the class methods (`DeskOperation.accept("douyin",
    "DY-1", "buyer-1", [("TEA", 2)])`). Steps on an order the desk holds
    name it by `pick`, an index (modulo their count) into the orders the
    step fits, by channel and id: a payment picks among the unpaid orders,
    a shipment among those being picked. So any list of steps makes sense,
    and most steps do something; a step with nothing to pick from is
    skipped.

    Attributes:
        action: What the step does.
        channel: The channel of an accepted order.
        order_id: Its id on the channel.
        buyer: Who ordered: the same buyer (address) and lines on another
            channel makes a suspected duplicate.
        lines: What the order buys, as `(sku, quantity)`.
        paid: Whether the order comes in paid.
        sku: The SKU of goods in.
        location: Where goods come in.
        quantity: How many units come in.
        pick: Which order, or which earlier step, by index.
        minutes: How long to wait.

    .. versionadded:: 0.1.0
    """

    action: DeskAction = attrs.field(converter=_action)
    channel: str = ""
    order_id: str = ""
    buyer: str = ""
    lines: tuple[StepLine, ...] = attrs.field(default=(), converter=_lines)
    paid: bool = False
    sku: str = ""
    location: str = ""
    quantity: int = 0
    pick: int = 0
    minutes: int = 0

    @classmethod
    def receive(cls, sku: str, location: str, quantity: int) -> DeskOperation:
        """Goods in."""
        return cls(
            action=DeskAction.RECEIVE, sku=sku, location=location, quantity=quantity
        )

    @classmethod
    def accept(
        cls,
        channel: str,
        order_id: str,
        buyer: str,
        lines: Iterable[StepLine],
        *,
        paid: bool = False,
    ) -> DeskOperation:
        """A channel's order taken in."""
        return cls(
            action=DeskAction.ACCEPT,
            channel=channel,
            order_id=order_id,
            buyer=buyer,
            lines=tuple(lines),
            paid=paid,
        )

    @classmethod
    def on(cls, action: DeskAction | str, pick: int = 0) -> DeskOperation:
        """A step on an order the desk holds (or a `REPEAT`), chosen by `pick`.

        Raises:
            ValidationError: `action` is not such a step.
        """
        return cls(action=_one_of(action, PICKED), pick=pick)

    @classmethod
    def wait(cls, minutes: int) -> DeskOperation:
        """Time passing."""
        return cls(action=DeskAction.WAIT, minutes=minutes)

    @classmethod
    def timer(cls, action: DeskAction | str) -> DeskOperation:
        """A timer: `REFUND`, `CLOSE` or `SWEEP`.

        Raises:
            ValidationError: `action` is not a timer.
        """
        return cls(action=_one_of(action, TIMERS))

    def __attrs_post_init__(self) -> None:
        problem = _problem(self)
        if problem is not None:
            raise ValidationError(*problem)

    def __str__(self) -> str:
        return _SAY.get(self.action, _say_picked)(self)


def _say_accept(op: DeskOperation) -> str:
    bought = ", ".join(f"{sku} {quantity}" for sku, quantity in op.lines)
    paid = ", paid" if op.paid else ""
    return f"accept {op.channel}:{op.order_id} from {op.buyer}: {bought}{paid}"


def _say_picked(op: DeskOperation) -> str:
    return f"{op.action} #{op.pick}"


_SAY: Final[dict[DeskAction, Callable[[DeskOperation], str]]] = {
    _A.RECEIVE: lambda op: f"receive {op.sku}@{op.location} {op.quantity}",
    _A.ACCEPT: _say_accept,
    _A.REPEAT: lambda op: f"repeat step #{op.pick}",
    _A.WAIT: lambda op: f"wait {op.minutes} min",
    _A.REFUND: lambda _: "send the refunds due",
    _A.CLOSE: lambda _: "close unpaid orders",
    _A.SWEEP: lambda _: "sweep expired holds",
}


def _problem(op: DeskOperation) -> tuple[str, object, str] | None:
    """What is wrong with a step, as `(field, value, problem)`; `None` if nothing."""
    a = op.action
    problems = [
        (a is _A.RECEIVE and op.sku not in PRICES, "sku", f"one of {SKUS}"),
        (
            a is _A.RECEIVE and op.location not in LOCATIONS,
            "location",
            f"one of {LOCATIONS}",
        ),
        (a is _A.RECEIVE and op.quantity < 1, "quantity", "at least 1"),
        (a is _A.WAIT and op.minutes < 1, "minutes", "at least 1"),
        (a in PICKED and op.pick < 0, "pick", "0 or more"),
    ]
    for wrong, field, wanted in problems:
        if wrong:
            return (field, getattr(op, field), f"must be {wanted}")
    if a is _A.ACCEPT and not (op.channel and op.order_id and op.buyer and op.lines):
        return ("lines", op.lines, "and a channel, order id and buyer are needed")
    return None


# How often each step is drawn: mostly orders coming in and moving on.
_WEIGHTS: Final = {
    _A.RECEIVE: 3,
    _A.ACCEPT: 8,
    _A.NOTICE_PAID: 2,
    _A.NOTICE_CANCELLED: 1,
    _A.PAY: 3,
    _A.CANCEL: 1,
    _A.RELEASE: 1,
    _A.PICK: 2,
    _A.SHIP: 2,
    _A.CASE: 2,
    _A.CHANNEL_REFUND: 1,
    _A.REFUND: 2,
    _A.CLOSE: 1,
    _A.SWEEP: 1,
    _A.WAIT: 2,
    _A.REPEAT: 3,
    _A.NOTICE_PAID_AGAIN: 1,
    _A.PRICE_CHANGE: 2,
    _A.APPROVE_PRICE_CHANGE: 1,
    _A.REJECT_PRICE_CHANGE: 1,
    _A.EXPIRE_PRICE_CHANGE: 1,
}
"""`NOTICE_EDITED` is not drawn: each run a seed named drew stays the run it
was. Name it in `operations`."""
# Few mugs and pots: shortages, refusals and lapsed holds come soon.
_GOODS_IN: Final = {"TEA": (6, 12), "MUG": (2, 5), "POT": (1, 3)}


def random_operations(rng: random.Random, steps: int) -> list[DeskOperation]:
    """`steps` operations drawn from `rng`, starting with goods in."""
    made = [
        DeskOperation.receive(sku, LOCATIONS[0], rng.randint(*_GOODS_IN[sku]))
        for sku in SKUS
    ]
    accepted: list[DeskOperation] = []
    actions = list(_WEIGHTS)
    weights = list(_WEIGHTS.values())
    while len(made) < steps:
        action = rng.choices(actions, weights)[0]
        if action is _A.ACCEPT:
            op = _draw_accept(rng, accepted)
            accepted.append(op)
        elif action is _A.RECEIVE:
            sku = rng.choice(SKUS)
            quantity = rng.randint(*_GOODS_IN[sku])
            op = DeskOperation.receive(sku, rng.choice(LOCATIONS), quantity)
        elif action is _A.WAIT:
            op = DeskOperation.wait(rng.randint(2, 20))
        elif action in PICKED:
            op = DeskOperation.on(action, rng.randint(0, 99))
        else:
            op = DeskOperation.timer(action)
        made.append(op)
    return made[:steps]


def _draw_accept(rng: random.Random, accepted: list[DeskOperation]) -> DeskOperation:
    roll = rng.random()
    if accepted and roll < 0.1:
        # The same notice delivered again, maybe much later.
        return rng.choice(accepted)
    n = len(accepted) + 1
    channel = rng.choice(CHANNELS)
    order_id = f"{channel[:2].upper()}-{n}"
    if accepted and roll < 0.3:
        # The buyer of an earlier order buys the same on another channel:
        # a suspected duplicate, held for review.
        twin = rng.choice(accepted)
        others = [c for c in CHANNELS if c != twin.channel]
        channel = rng.choice(others)
        order_id = f"{channel[:2].upper()}-{n}"
        return DeskOperation.accept(
            channel, order_id, twin.buyer, twin.lines, paid=rng.random() < 0.3
        )
    skus = rng.sample(SKUS, rng.randint(1, 2))
    lines = [(sku, rng.randint(1, 2)) for sku in skus]
    return DeskOperation.accept(
        channel, order_id, f"buyer-{n}", lines, paid=rng.random() < 0.3
    )
