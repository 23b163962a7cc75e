"""The outside world: the clock, channels, warehouses, carriers, payments, notices."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any, Protocol

import pendulum

from orderkit.integrations import (
    ChannelPage,
    ChannelRecord,
    ChannelTransaction,
    Label,
    Message,
    PickTask,
    SettlementLine,
    TrackingEvent,
    WarehouseConfirmation,
)
from orderkit.money import Money
from orderkit.orders import Address, Shipment


class Clock(Protocol):
    """**Protocol:** where services read the time, and how they wait.

    Contract:

    - `now()` returns a timezone-aware UTC `pendulum.DateTime`; never a naive
      datetime. Successive calls may step backwards (a wall clock being
      corrected): callers that need monotonic time keep their own high-water
      mark.
    - `sleep(seconds)` waits at least that long; a test clock advances its
      time instead, so retries and timeouts are tested without real sleeps.
      Negative durations are refused with `ValueError`.

    .. versionadded:: 0.1.0
    """

    def now(self) -> pendulum.DateTime:
        """Return the current instant, in UTC."""
        ...

    def sleep(self, seconds: float) -> None:
        """Wait `seconds` (a test clock advances instead)."""
        ...


class ChannelPayloads(Protocol):
    """**Protocol:** a channel's payloads read into canonical records.

    The pure half of a channel: what a reference adapter in
    `orderkit.adapters.channels` implements, and what
    `orderkit.testing.contracts.ChannelContract` checks.

    Contract of `parse(payload, topic=)`:

    - `payload` is the decoded JSON (`orderkit.integrations.load_json`
      keeps its numbers exact); `topic` names its kind, one of `topics`
      (Shopify's webhook topics such as `"orders/create"`).
    - It returns every record the payload states, in payload order:
      `ChannelOrder`s, `ChannelRefund`s, `ChannelTransaction`s.
    - **Deterministic.** The same payload gives equal records; a re-delivery
      gives the same idempotency keys, built from the payload's own ids and
      versions, never from the time of parsing or a delivery id.
    - **Never guesses.** An unknown status raises `UnknownStatus`; a naive
      time is read in the zone the channel documents, or refused.
    - **Errors.** Any payload it cannot map raises a subclass of
      `OrderkitError` (a `ValidationError` naming the payload path), never
      another exception, and returns nothing partial. An unknown topic
      raises `ValidationError` naming `topic`.

    .. versionadded:: 0.1.0
    """

    @property
    def channel(self) -> str:
        """The channel's name, the `channel` of every key and order."""
        ...

    @property
    def topics(self) -> frozenset[str]:
        """The payload kinds `parse` reads."""
        ...

    def parse(self, payload: Any, *, topic: str) -> Sequence[ChannelRecord]:  # noqa: ANN401 - decoded JSON
        """Read one payload into canonical records."""
        ...


class Channel(ChannelPayloads, Protocol):
    """**Protocol:** a sales channel: its payloads, its feed, and what goes back.

    A host implements the I/O over the channel's API; `parse` is usually a
    reference adapter's.

    Contract:

    - `pull(cursor, limit=)` returns the page after `cursor` (`None`: from
      the start), at most `limit` records, with the next page's cursor, or
      `None` after the last page. Pulling the same cursor again returns the
      same records or later versions of them. Store the cursor in a
      `CursorStore` only after the page's records are durable.
    - `push_shipment(order_id, shipment)` tells the channel a parcel left,
      with its carrier and tracking number; `push_stock(sku, sellable)` sets
      what the channel may sell. Both are idempotent: pushing the same
      value twice is harmless.
    - **Errors.** A failure that may pass on retry raises `TransientError`
      (`CallTimedOut` when the call may have run); anything else a subclass
      of `OrderkitError`. Wrap calls in `orderkit.services.retry` and a
      `CircuitBreaker`.

    .. versionadded:: 0.1.0
    """

    def pull(self, cursor: str | None, *, limit: int) -> ChannelPage:
        """Return the page after `cursor`, with the next page's cursor."""
        ...

    def push_shipment(self, order_id: str, shipment: Shipment) -> None:
        """Tell the channel a parcel left, with its tracking number."""
        ...

    def push_stock(self, sku: str, sellable: int) -> None:
        """Set how many units of `sku` the channel may sell."""
        ...


class Warehouse(Protocol):
    """**Protocol:** a warehouse management system (WMS).

    Contract:

    - `create_pick_task(task)` hands the warehouse a task and returns the
      warehouse's own id for it. **Idempotent** by `task.task_id`: sending
      the same task again returns the same id and creates nothing.
    - `parse_confirmation(payload)` reads one confirmation the warehouse
      sent (picked, packed, shipped) into a `WarehouseConfirmation`; a
      `SHIPPED` one carries the carrier and tracking number. Confirmations
      may arrive twice or out of order: their keys tell re-sends apart, and
      the order lifecycle orders them.
    - **Errors.** A payload it cannot read raises a `ValidationError` naming
      the payload path. A call to the warehouse that may pass on retry
      raises `TransientError` (`CallTimedOut` when it may have run: retry it
      only under the same key); a refusal raises another `OrderkitError`.

    .. versionadded:: 0.1.0
    """

    def create_pick_task(self, task: PickTask) -> str:
        """Hand the warehouse a pick task; return its id for the task."""
        ...

    def parse_confirmation(self, payload: Any) -> WarehouseConfirmation:  # noqa: ANN401 - decoded JSON
        """Read one confirmation the warehouse sent."""
        ...


class Carrier(Protocol):
    """**Protocol:** a parcel carrier: labels out, tracking scans in.

    Contract:

    - `create_label(shipment_id, address, parcels=1)` books a pickup and
      returns the `Label`. **Idempotent** by `shipment_id`: asking again
      returns the same label and tracking number.
    - `tracking(tracking_number)` returns the parcel's scans, oldest first,
      each normalised onto `TrackingStatus` (in transit, out for delivery,
      delivered, exception) with the carrier's own code kept. A carrier
      code it cannot map is reported (`UnknownStatus`), never guessed.
    - **Errors.** A failure that may pass on retry raises `TransientError`
      (`CallTimedOut` when the call may have run: retry it only under the
      same key); a refusal raises another subclass of `OrderkitError`.

    .. versionadded:: 0.1.0
    """

    def create_label(
        self, shipment_id: str, address: Address, *, parcels: int = 1
    ) -> Label:
        """Book the shipment with the carrier and return its label."""
        ...

    def tracking(self, tracking_number: str) -> Sequence[TrackingEvent]:
        """Return the parcel's scans, oldest first, normalised."""
        ...


class Payments(Protocol):
    """**Protocol:** a payment provider: captures, refunds, statements.

    Contract:

    - `capture(payment_id, amount, key=)` takes money from an authorisation;
      `refund(payment_id, amount, key=, reason=)` sends money back against a
      capture. Both return the provider's `ChannelTransaction` (failed ones
      included, `succeeded=False`) and are **idempotent** by `key`: the same
      key returns the first transaction and moves no money again. A
      refund's `transaction_id` is the provider's own id for it (the one its
      statements list): orderkit keeps it as `Refund.provider_id`, beside
      the key it asked under.
      Amounts never exceed what the order's `PaymentLedger` allows: check
      there first.
    - `statement(day)` returns the settlement lines of one day, in the
      provider's zone, for reconciliation; a day not settled yet returns
      what is settled so far.
    - **Errors.** A failure that may pass on retry raises `TransientError`
      (`CallTimedOut` when the call may have run: retry it only under the
      same key); a refusal raises another subclass of `OrderkitError`.

    .. versionadded:: 0.1.0
    """

    def capture(
        self, payment_id: str, amount: Money, *, key: str
    ) -> ChannelTransaction:
        """Capture `amount` of the authorisation `payment_id`."""
        ...

    def refund(
        self, payment_id: str, amount: Money, *, key: str, reason: str
    ) -> ChannelTransaction:
        """Send `amount` back against the payment `payment_id`."""
        ...

    def statement(self, day: dt.date) -> Sequence[SettlementLine]:
        """Return the settlement lines of `day`."""
        ...


class Notifier(Protocol):
    """**Protocol:** messages to buyers through a provider's templates (SMS, WeChat).

    Contract:

    - `send(message)` delivers the template with its parameters to the
      recipient. **Idempotent** by `message.key`: a message whose key was
      sent before is not sent again (buyers are never told twice).
    - A recipient the provider refuses (an invalid or unsubscribed number)
      raises a `ValidationError` naming `recipient`: do not retry it.
    - **Errors.** A failure that may pass on retry raises `TransientError`
      (`CallTimedOut` when the call may have run: retry it only under the
      same key); a refusal raises another subclass of `OrderkitError`.

    .. versionadded:: 0.1.0
    """

    def send(self, message: Message) -> None:
        """Send the message once per key."""
        ...
