"""What the saga use cases say they did: typed outcomes, never a bare flag."""

from __future__ import annotations

from typing import final

import attrs

from orderkit.errors import OrderkitError
from orderkit.integrations import ChannelTransaction, Label
from orderkit.orders import Order, Saga
from orderkit.services._intake import EventRecorded


__all__ = [
    "AlreadyDone",
    "CaptureDeclined",
    "Captured",
    "Dispatched",
    "Recovery",
    "RefundDeclined",
    "Refunded",
    "SagaOutcome",
    "Stalled",
]


@final
@attrs.frozen(slots=True)
class Captured:
    """The provider captured the money and the order records the payment.

    Attributes:
        order: The order as stored afterwards: paid, or cancelled or closed
            with a refund saga started when the money came too late.
        transaction: The provider's capture.

    .. versionadded:: 0.1.0
    """

    order: Order
    transaction: ChannelTransaction


@final
@attrs.frozen(slots=True)
class CaptureDeclined:
    """The provider declined the capture: no money moved, the order is unpaid.

    The provider keeps the declined transaction under the saga's key, so
    asking again with the same payment id is declined again: a new attempt
    needs a new authorisation (a new payment id).

    Attributes:
        order: The order as stored afterwards, its saga ended.
        transaction: The provider's declined transaction (`succeeded=False`).

    .. versionadded:: 0.1.0
    """

    order: Order
    transaction: ChannelTransaction


@final
@attrs.frozen(slots=True)
class Dispatched:
    """The carrier booked the parcel and the order records the shipment.

    Attributes:
        order: The order as stored afterwards (`shipped`, or
            `partially_shipped` if other lines wait).
        label: The carrier's label, with the tracking number.

    .. versionadded:: 0.1.0
    """

    order: Order
    label: Label


@final
@attrs.frozen(slots=True)
class Refunded:
    """The provider sent the money back and the order records the refund.

    Attributes:
        order: The order as stored afterwards, its refund saga ended and its
            payment ledger's refund settled (an order without a ledger gets
            one), under the saga's key, keeping the provider's
            `transaction_id` as its `provider_id` when that id names this
            refund alone (see `Refunds`).
        transaction: The provider's refund (the last, when ending an order
            sent one to each of its payments).

    .. versionadded:: 0.1.0
    """

    order: Order
    transaction: ChannelTransaction


@final
@attrs.frozen(slots=True)
class RefundDeclined:
    """The provider declined the refund: the money is still owed.

    The saga ends (the provider keeps the declined transaction under its
    key, so sending it again would be declined again); a person settles it.

    Attributes:
        order: The order as stored afterwards, its saga ended and its
            payment ledger's refund failed (an order without a ledger gets
            one).
        transaction: The provider's declined transaction (`succeeded=False`).

    .. versionadded:: 0.1.0
    """

    order: Order
    transaction: ChannelTransaction


@final
@attrs.frozen(slots=True)
class AlreadyDone:
    """The order records this payment or shipment already: nothing was called.

    A caller retrying after an indefinite outcome (a timeout after the last
    commit) gets this instead of a second capture or label.

    Attributes:
        order: The order as stored.

    .. versionadded:: 0.1.0
    """

    order: Order


SagaOutcome = (
    Captured | CaptureDeclined | Dispatched | Refunded | RefundDeclined | EventRecorded
)
"""What finishing one saga did: for a pick saga, `OrderDesk.start_picking`'s
`EventRecorded` (the order picking)."""


@final
@attrs.frozen(slots=True)
class Stalled:
    """A saga that could not go on now; it stays on the order for the next try.

    Attributes:
        channel: The order's channel.
        order_id: The order's id.
        saga: The saga in flight, as stored.
        error: Why it stopped (`CallTimedOut`, `TransientError`, a refusal).

    .. versionadded:: 0.1.0
    """

    channel: str
    order_id: str
    saga: Saga
    error: OrderkitError


@final
@attrs.frozen(slots=True)
class Recovery:
    """What `recover` did with every saga it found in flight.

    Attributes:
        finished: The sagas it finished, in the order of their orders.
        stalled: The sagas it could not finish now; call `recover` again.

    .. versionadded:: 0.1.0
    """

    finished: tuple[SagaOutcome, ...]
    stalled: tuple[Stalled, ...]
