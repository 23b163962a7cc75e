"""The part of a web shop that talks to orderkit, with no web framework in it.

The Django and FastAPI how-tos wrap these in a view, an endpoint and a
worker command; their doctests call them directly.
"""

from __future__ import annotations

import contextlib
import logging
import queue
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from orderkit.adapters.channels import ShopifyPayloads, WooCommercePayloads
from orderkit.dedupe import Fingerprinter
from orderkit.errors import (
    ConcurrencyConflict,
    IllegalTransition,
    OrderkitError,
    StoreError,
    UnknownOrder,
)
from orderkit.integrations import (
    ChannelOrder,
    ChannelTransaction,
    TransactionKind,
    capture_event,
    load_json,
)
from orderkit.orders import OutboxMessage
from orderkit.ports import ChannelPayloads, Clock, Outbox, UnitOfWork
from orderkit.services import (
    AlreadyAccepted,
    DeskPolicy,
    EventRecorded,
    OrderDesk,
    relay,
)


_log = logging.getLogger(__name__)

# Adapters whose order notices state the capture themselves (Shopify's as
# `order-<id>`): a capture transaction of theirs is the same money under the
# provider's id, and recorded as well the order would hold it twice.
# Magento's orders state none: an invoice is their only capture.
CAPTURES_IN_ORDERS = (ShopifyPayloads, WooCommercePayloads)


@dataclass(frozen=True)
class Reply:
    """What a webhook view answers: an HTTP status and a JSON body."""

    status: int
    body: dict[str, object] = field(default_factory=dict)


class Desks:
    """Order desks for the requests of one process, each over its own unit of work.

    A unit of work runs one transaction at a time, so each request in flight
    borrows a desk of its own and gives it back when done, for the next
    request to reuse. Desks are opened when more requests run at once than
    ever before, and kept: opening one costs a connection and a schema
    check, which no request should pay. It works the same whether the
    server keeps its threads or starts one per request.
    """

    def __init__(
        self,
        open_unit: Callable[[], UnitOfWork],
        *,
        clock: Clock,
        policy: DeskPolicy,
        secret: bytes,
    ) -> None:
        """Remember how to open a unit; nothing is opened yet."""
        self._open_unit = open_unit
        self._clock = clock
        self._policy = policy
        self._secret = secret
        self._idle: queue.SimpleQueue[OrderDesk] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._units: list[UnitOfWork] = []

    @contextlib.contextmanager
    def desk(self) -> Iterator[OrderDesk]:
        """Borrow a desk for one request."""
        try:
            desk = self._idle.get_nowait()
        except queue.Empty:
            desk = self._open()
        try:
            yield desk
        finally:
            self._idle.put(desk)

    def _open(self) -> OrderDesk:
        unit = self._open_unit()
        with self._lock:
            self._units.append(unit)
        fingerprinter = Fingerprinter(self._secret)
        return OrderDesk(unit, self._clock, self._policy, fingerprinter)

    def close(self) -> None:
        """Close every unit of work opened, at the process's shutdown."""
        with self._lock:
            units, self._units = self._units, []
        for unit in units:
            close = getattr(unit, "close", None)
            if callable(close):
                close()


def take_webhook(
    desk: OrderDesk, channel: ChannelPayloads, topic: str, body: bytes
) -> Reply:
    """Read one webhook's body and hand each order and capture in it to the desk.

    A 2xx reply tells the channel to stop sending; anything else, to send
    the same webhook again later, which the records' idempotency keys make
    harmless. Each desk call is its own transaction: there is nothing to
    commit or roll back here.
    """
    try:
        records = channel.parse(load_json(body), topic=topic)
    except OrderkitError as error:
        # A payload that cannot be read reads no better when sent again.
        return Reply(422, {"error": str(error)})
    refused = sorted({_refused(channel, r) for r in records} - {""})
    if refused:
        # A refund webhook goes to `desk.record_refund`, which this app wires
        # for an order's own refunds only (in `_take`): a 2xx would tell the
        # channel they were taken. A refund transaction is the same money as
        # its refund: never amend it into the payment ledger as well, or it
        # comes off twice. A Shopify capture transaction is the money its
        # order notices state already (`CAPTURES_IN_ORDERS`). Subscribe to
        # order topics only (and Magento's invoices), or hand refunds to
        # `desk.record_refund` before answering 200.
        return Reply(422, {"error": f"not handled here: {', '.join(refused)}"})
    try:
        taken = [_take(desk, r) for r in records if isinstance(r, ChannelOrder)]
        paid = [
            _pay(desk, channel.channel, r)
            for r in records
            if isinstance(r, ChannelTransaction)
        ]
    except UnknownOrder as error:
        # A capture of an order not taken in yet (its order comes later, or
        # is being taken in): nothing was written. Let the channel send it
        # again: a 2xx would drop the money, and the order, taken in
        # unpaid, would be closed at its deadline.
        return Reply(503, {"error": str(error)})
    except (StoreError, ConcurrencyConflict, IllegalTransition) as error:
        # Nothing of the failed call was written: let the channel retry (a
        # refund waits while a refund or capture saga is in flight).
        return Reply(503, {"error": str(error)})
    except OrderkitError as error:
        # A refund beyond what the order holds (it waits for a person), or
        # an order the desk cannot read: no retry reads it better.
        return Reply(422, {"error": str(error)})
    # An invoice's webhook holds no order: its reply names none.
    reply: dict[str, object] = {"orders": taken} if taken or not paid else {}
    if paid:
        reply["transactions"] = paid
    return Reply(200, reply)


def _refused(channel: ChannelPayloads, record: object) -> str:
    """Why this app takes no such record (its type's name), or `""`."""
    if isinstance(record, ChannelOrder):
        return ""
    if isinstance(record, ChannelTransaction) and not (
        record.kind is TransactionKind.REFUND or isinstance(channel, CAPTURES_IN_ORDERS)
    ):
        return ""
    return type(record).__name__


def _pay(
    desk: OrderDesk, channel: str, transaction: ChannelTransaction
) -> dict[str, object]:
    """What the desk did with one transaction of the webhook, for the reply.

    A capture is the order's payment (`capture_event`): a Magento order
    states none, and awaits payment until its invoice is recorded. Anything
    else (an authorisation, a void, a failed capture) moved no money.
    """
    paid: dict[str, object] = {
        "order_id": transaction.order_id,
        "transaction_id": transaction.transaction_id,
    }
    event = capture_event(transaction)
    if event is None:
        paid["outcome"] = "no capture"
        return paid
    done = desk.record(channel, event.order_id, event)
    # The capture's own outcome: `applied`, `duplicate` (sent again),
    # `refunddue` (the order ended unpaid: its money goes back), `rejected`.
    own = [
        type(o).__name__.lower()
        for o in done.outcomes
        if getattr(o, "event", None) == event
    ]
    paid["outcome"] = own[0] if own else "parked"
    if done.rejected:
        # A capture the order refuses (another currency) holds it for a
        # person: sent again, it is refused again.
        paid["rejected"] = [str(r.error) for r in done.rejected]
        _log.warning("order %s: payment refused: %s", event.order_id, paid["rejected"])
    return paid


def _take(desk: OrderDesk, order: ChannelOrder) -> dict[str, object]:
    """What the desk did with one order of the webhook, for the reply."""
    taken: dict[str, object] = {"order_id": order.order_id}
    outcome = desk.accept(order)
    if not isinstance(outcome, AlreadyAccepted):
        taken["outcome"] = type(outcome).__name__.lower()
        return taken
    # A later version of an order the desk has: its refunds, then its events
    # (a re-sent one changes nothing). Stored anew, the order's version moved.
    done = desk.update(order)
    last = done[-1].order if done else outcome.order
    taken["outcome"] = (
        "updated" if last.version > outcome.order.version else "unchanged"
    )
    # An event the order cannot take (a shipment after its cancellation; a
    # payment in another currency, which holds the order for a person) is
    # no failure to retry: sent again, it is refused again. It is answered
    # 200, named, and logged for a person.
    rejected = [
        f"{type(r.event).__name__}: {r.error}"
        for step in done
        if isinstance(step, EventRecorded)
        for r in step.rejected
    ]
    if rejected:
        taken["rejected"] = rejected
        _log.warning("order %s: events refused: %s", order.order_id, rejected)
    return taken


def run_relay(  # noqa: PLR0913 - the ports, then the worker's own settings
    outbox: Outbox,
    publish: Callable[[OutboxMessage], object],
    *,
    clock: Clock,
    name: str,
    stop: Callable[[], bool],
    idle: float = 1.0,
) -> int:
    """Publish the outbox until `stop()` says so; return how many were published.

    One relay pass after another; when a pass publishes nothing, the worker
    waits `idle` seconds (on `clock`, so a test clock waits no time). What
    failed to publish is logged: it is tried again when its lease ends, and
    holds its stream's later messages back until then. A pass the outbox
    failed (the database busy or gone for a moment) is logged too, and
    the worker waits `idle` seconds and goes on; any other error stops it.
    """
    published = 0
    while not stop():
        try:
            done = relay(outbox, publish, clock=clock, name=name)
        except (StoreError, ConcurrencyConflict) as failure:
            # A locked or restarting database passes; a worker that exits
            # leaves the outbox undrained until someone restarts it. What
            # the pass claimed comes back when its lease ends.
            _log.warning("relay %s: pass failed, retrying: %s", name, failure)
            clock.sleep(idle)
            continue
        published += len(done.published)
        for message_id, error in zip(done.failed, done.errors, strict=False):
            _log.warning("relay %s: %s not published: %s", name, message_id, error)
        if not done.published:
            clock.sleep(idle)
    return published
