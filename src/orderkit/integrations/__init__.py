"""The outside world in canonical form, and exact readers for its payloads.

Channels, payment providers and carriers describe orders their own way. A
channel adapter (`orderkit.adapters.channels`, or one you write) reads a
payload with the readers here and returns canonical records:
`ChannelOrder` (the `OrderPlaced` event, a pricing `Quote`, the mapped
status, later events and the refunds the channel made already),
`ChannelRefund` and `ChannelTransaction`, each under an idempotency key
that is the same on every re-delivery. `capture_event` reads a capture
transaction as the `PaymentCaptured` the order desk records: a channel
whose orders state no capture (Magento's invoices) is paid only through it.

The readers never guess: `load_json` keeps numbers exact (`Decimal`, never
`float`) and refuses NaN, Infinity and repeated keys; `read_money` takes
decimal text or exact numbers only (`read_minor_money` whole fen or cents);
`read_unix` takes whole Unix seconds; `read_instant` needs the zone the
channel documents for a naive time; `read_status` refuses a status the
channel's table does not list. Each error names the payload path.

The other ports speak in records too: a warehouse gets a `PickTask` and
confirms it (`WarehouseConfirmation`, a `FulfilmentStage`); a carrier issues
a `Label` and reports `TrackingEvent`s normalised onto `TrackingStatus`; a
payment provider settles in `SettlementLine`s; a notifier sends `Message`s.

A webhook is taken only once `WebhookVerifier` has checked the HMAC its
channel signed the raw body with; a request that Taobao, Pinduoduo, JD or
Douyin signed among its parameters, once `ParamsVerifier` has checked it.

.. versionadded:: 0.1.0
"""

from orderkit.integrations._captures import capture_event
from orderkit.integrations._fulfilment import (
    FulfilmentStage,
    Label,
    PickLine,
    PickTask,
    TrackingEvent,
    TrackingStatus,
    WarehouseConfirmation,
)
from orderkit.integrations._notices import Message, SettlementLine, milestone_message
from orderkit.integrations._param_signatures import ParamsVerifier
from orderkit.integrations._reading import (
    MAX_QUANTITY,
    load_json,
    read_id,
    read_instant,
    read_list,
    read_minor_money,
    read_money,
    read_object,
    read_phone,
    read_quantity,
    read_signed_money,
    read_status,
    read_text,
    read_unix,
)
from orderkit.integrations._records import (
    ChannelOrder,
    ChannelPage,
    ChannelRecord,
    ChannelRefund,
    ChannelTransaction,
    RefundLine,
    TransactionKind,
)
from orderkit.integrations._webhooks import WebhookVerifier


__all__ = [
    "ChannelOrder",
    "ChannelPage",
    "ChannelRecord",
    "ChannelRefund",
    "ChannelTransaction",
    "FulfilmentStage",
    "Label",
    "MAX_QUANTITY",
    "Message",
    "ParamsVerifier",
    "PickLine",
    "PickTask",
    "RefundLine",
    "SettlementLine",
    "TrackingEvent",
    "TrackingStatus",
    "TransactionKind",
    "WarehouseConfirmation",
    "WebhookVerifier",
    "capture_event",
    "load_json",
    "milestone_message",
    "read_id",
    "read_instant",
    "read_list",
    "read_minor_money",
    "read_money",
    "read_object",
    "read_phone",
    "read_quantity",
    "read_signed_money",
    "read_status",
    "read_text",
    "read_unix",
]
