"""The order lifecycle: the aggregate, its events, and `apply`.

An order moves through canonical statuses (`OrderStatus`) as events arrive.
`apply(order, event, now=...)` is pure: it returns an outcome and never
changes anything in place. Events may arrive twice, late, or out of order:
duplicates and stale events change nothing, early ones are parked, and status
never moves backwards. `TRANSITIONS` is the whole lifecycle as data.

The order also holds its own parts: a payment ledger, after-sales cases and
price-change requests. Each moves through its own pure functions;
`record_payments`, `record_case` and `record_price_change` store the result
with the order, one version on, with an audit record (an approved price
change sets the line's price there).

.. versionadded:: 0.1.0
"""

from orderkit.orders._aftersales import (
    CASE_TRANSITIONS,
    AfterSalesCase,
    CaseAction,
    CaseState,
    CaseStep,
    Inspected,
    ReturnLine,
    approve_case,
    inspect_return,
    receive_return,
    refund_case,
    reject_case,
    request_return,
    resolve_case,
)
from orderkit.orders._amendments import (
    Recorded,
    Unchanged,
    record_case,
    record_payments,
    record_price_change,
)
from orderkit.orders._audit import AuditRecord as AuditRecord
from orderkit.orders._audit import FieldChange as FieldChange
from orderkit.orders._batch import Batch as Batch
from orderkit.orders._batch import apply_all as apply_all
from orderkit.orders._events import EVENT_TYPES as EVENT_TYPES
from orderkit.orders._events import AddressChanged as AddressChanged
from orderkit.orders._events import Cancelled as Cancelled
from orderkit.orders._events import Closed as Closed
from orderkit.orders._events import Completed as Completed
from orderkit.orders._events import Delivered as Delivered
from orderkit.orders._events import Event as Event
from orderkit.orders._events import InTransit as InTransit
from orderkit.orders._events import OrderEvent as OrderEvent
from orderkit.orders._events import OrderPlaced as OrderPlaced
from orderkit.orders._events import PaymentCaptured as PaymentCaptured
from orderkit.orders._events import PickingStarted as PickingStarted
from orderkit.orders._events import Shipped as Shipped
from orderkit.orders._machine import apply as apply
from orderkit.orders._messages import MAX_STREAM_LENGTH as MAX_STREAM_LENGTH
from orderkit.orders._messages import OutboxMessage as OutboxMessage
from orderkit.orders._messages import order_stream as order_stream
from orderkit.orders._milestones import MILESTONES as MILESTONES
from orderkit.orders._milestones import Milestone as Milestone
from orderkit.orders._milestones import milestone as milestone
from orderkit.orders._model import Address as Address
from orderkit.orders._model import Buyer as Buyer
from orderkit.orders._model import OrderLine as OrderLine
from orderkit.orders._model import Payment as Payment
from orderkit.orders._model import Shipment as Shipment
from orderkit.orders._model import ShipmentLine as ShipmentLine
from orderkit.orders._order import Order as Order
from orderkit.orders._outcomes import Applied as Applied
from orderkit.orders._outcomes import Duplicate as Duplicate
from orderkit.orders._outcomes import Early as Early
from orderkit.orders._outcomes import Outcome as Outcome
from orderkit.orders._outcomes import RefundDue as RefundDue
from orderkit.orders._outcomes import Rejected as Rejected
from orderkit.orders._outcomes import Stale as Stale
from orderkit.orders._parcels import unshipped_lines as unshipped_lines
from orderkit.orders._saga import Saga as Saga
from orderkit.orders._status import OrderStatus as OrderStatus
from orderkit.orders._status import ShipmentStatus as ShipmentStatus
from orderkit.orders._table import SHIPMENT_TRANSITIONS as SHIPMENT_TRANSITIONS
from orderkit.orders._table import TRANSITIONS as TRANSITIONS
from orderkit.orders._table import Verdict as Verdict
from orderkit.orders._waiting import waits as waits


__all__ = [
    "Address",
    "AddressChanged",
    "AfterSalesCase",
    "Applied",
    "AuditRecord",
    "Batch",
    "Buyer",
    "CASE_TRANSITIONS",
    "Cancelled",
    "CaseAction",
    "CaseState",
    "CaseStep",
    "Closed",
    "Completed",
    "Delivered",
    "Duplicate",
    "EVENT_TYPES",
    "Early",
    "Event",
    "FieldChange",
    "InTransit",
    "Inspected",
    "MAX_STREAM_LENGTH",
    "MILESTONES",
    "Milestone",
    "Order",
    "OrderEvent",
    "OrderLine",
    "OrderPlaced",
    "OrderStatus",
    "OutboxMessage",
    "Outcome",
    "Payment",
    "PaymentCaptured",
    "PickingStarted",
    "Recorded",
    "RefundDue",
    "Rejected",
    "ReturnLine",
    "SHIPMENT_TRANSITIONS",
    "Saga",
    "Shipment",
    "ShipmentLine",
    "ShipmentStatus",
    "Shipped",
    "Stale",
    "TRANSITIONS",
    "Unchanged",
    "Verdict",
    "apply",
    "apply_all",
    "approve_case",
    "inspect_return",
    "milestone",
    "order_stream",
    "receive_return",
    "record_case",
    "record_payments",
    "record_price_change",
    "refund_case",
    "reject_case",
    "request_return",
    "resolve_case",
    "unshipped_lines",
    "waits",
]
