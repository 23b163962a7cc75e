"""Use cases over the ports: the façades a host application calls.

`OrderDesk` composes them into the order desk over one `UnitOfWork`:
`accept` an order (limits, review holds, routed stock), `record` events with
their stock effects, `close_unpaid`, `release` a held order, and the
`picking_queue`; each returns a typed outcome (`Accepted`, `Held`,
`AlreadyAccepted`, `Refused`, `EventRecorded`). `Checkout`, `Shipping` and
`Refunds` are sagas for the calls orderkit cannot roll back (payment
captures, carrier labels, refunds), and `recover` resumes them after a crash.

`Ledger` is the inventory ledger over any `orderkit.ports.LedgerStore`;
`Idempotency` runs each request once per key over any
`orderkit.ports.KeyStore`; `DuplicateDetector` queues orders that repeat
across channels within a window for review, over any
`orderkit.ports.DetectorStore`; `PurchaseLimits` counts orders against
per-buyer, IP and device limits over any `orderkit.ports.LimitStore`;
`pull` reads a channel's feed page by page and moves its cursor in an
`orderkit.ports.CursorStore` only after the host accepted the page.
`reconcile_payments` and `reconcile_stock` compare orders with a payment
statement and the ledger with a stock count;
`reconcile_payments_from_stores` and `reconcile_stock_from_stores` read the
orders and the ledger from the stores themselves.
`stuck_orders`, `due_to_close`, `status_drift` and `health_report` watch
the orders (monitoring); `health_from_stores` and `stuck_from_stores` read
their figures from the stores themselves. `relay` publishes the outbox's
messages at least once, in order per stream.
`retry` tries a call again after a `TransientError`, with capped exponential
backoff; `CircuitBreaker` stops calling a target that keeps failing.

.. versionadded:: 0.1.0
"""

from orderkit.services._breaker import (
    DEFAULT_BREAKER_COOL_DOWN as DEFAULT_BREAKER_COOL_DOWN,
)
from orderkit.services._breaker import BreakerState as BreakerState
from orderkit.services._breaker import CircuitBreaker as CircuitBreaker
from orderkit.services._desk import OrderDesk as OrderDesk
from orderkit.services._drift import DriftKind as DriftKind
from orderkit.services._drift import StatusDrift as StatusDrift
from orderkit.services._drift import status_drift as status_drift
from orderkit.services._duplicates import (
    DEFAULT_DETECTOR_RETENTION as DEFAULT_DETECTOR_RETENTION,
)
from orderkit.services._duplicates import DuplicateDetector as DuplicateDetector
from orderkit.services._health import DEFAULT_HEALTH_RULES as DEFAULT_HEALTH_RULES
from orderkit.services._health import HealthComponent as HealthComponent
from orderkit.services._health import HealthMeasure as HealthMeasure
from orderkit.services._health import HealthReport as HealthReport
from orderkit.services._health import HealthRules as HealthRules
from orderkit.services._health import HealthWeights as HealthWeights
from orderkit.services._health import health_report as health_report
from orderkit.services._health_stores import (
    health_from_stores as health_from_stores,
)
from orderkit.services._health_stores import stuck_from_stores as stuck_from_stores
from orderkit.services._idempotency import DEFAULT_KEY_LEASE as DEFAULT_KEY_LEASE
from orderkit.services._idempotency import (
    DEFAULT_KEY_RETENTION as DEFAULT_KEY_RETENTION,
)
from orderkit.services._idempotency import Idempotency as Idempotency
from orderkit.services._idempotency import Reply as Reply
from orderkit.services._intake import (
    DEFAULT_PICKING_ORDER as DEFAULT_PICKING_ORDER,
)
from orderkit.services._intake import Accepted as Accepted
from orderkit.services._intake import AlreadyAccepted as AlreadyAccepted
from orderkit.services._intake import DeskPolicy as DeskPolicy
from orderkit.services._intake import EventRecorded as EventRecorded
from orderkit.services._intake import Held as Held
from orderkit.services._intake import Intake as Intake
from orderkit.services._intake import PickingKey as PickingKey
from orderkit.services._intake import RefusalReason as RefusalReason
from orderkit.services._intake import Refused as Refused
from orderkit.services._ledger import DEFAULT_HOLD_TTL as DEFAULT_HOLD_TTL
from orderkit.services._ledger import Ledger as Ledger
from orderkit.services._ledger import Resolution as Resolution
from orderkit.services._limits import PurchaseLimits as PurchaseLimits
from orderkit.services._monitor import DEFAULT_STUCK_LIMITS as DEFAULT_STUCK_LIMITS
from orderkit.services._monitor import DueToClose as DueToClose
from orderkit.services._monitor import StuckOrder as StuckOrder
from orderkit.services._monitor import StuckReason as StuckReason
from orderkit.services._monitor import StuckRules as StuckRules
from orderkit.services._monitor import due_to_close as due_to_close
from orderkit.services._monitor import status_changed_at as status_changed_at
from orderkit.services._monitor import stuck_orders as stuck_orders
from orderkit.services._pulling import Pulled as Pulled
from orderkit.services._pulling import pull as pull
from orderkit.services._reconcile import Discrepancy as Discrepancy
from orderkit.services._reconcile import DiscrepancyKind as DiscrepancyKind
from orderkit.services._reconcile import Reconciliation as Reconciliation
from orderkit.services._reconcile import RowProblem as RowProblem
from orderkit.services._reconcile import reconcile_payments as reconcile_payments
from orderkit.services._reconcile_stores import (
    reconcile_payments_from_stores as reconcile_payments_from_stores,
)
from orderkit.services._reconcile_stores import (
    reconcile_stock_from_stores as reconcile_stock_from_stores,
)
from orderkit.services._refunds import Refunds as Refunds
from orderkit.services._relay import DEFAULT_RELAY_LEASE as DEFAULT_RELAY_LEASE
from orderkit.services._relay import Relayed as Relayed
from orderkit.services._relay import relay as relay
from orderkit.services._retry import RetryPolicy as RetryPolicy
from orderkit.services._retry import retry as retry
from orderkit.services._saga_outcomes import AlreadyDone as AlreadyDone
from orderkit.services._saga_outcomes import Captured as Captured
from orderkit.services._saga_outcomes import CaptureDeclined as CaptureDeclined
from orderkit.services._saga_outcomes import Dispatched as Dispatched
from orderkit.services._saga_outcomes import Recovery as Recovery
from orderkit.services._saga_outcomes import RefundDeclined as RefundDeclined
from orderkit.services._saga_outcomes import Refunded as Refunded
from orderkit.services._saga_outcomes import SagaOutcome as SagaOutcome
from orderkit.services._saga_outcomes import Stalled as Stalled
from orderkit.services._sagas import Checkout as Checkout
from orderkit.services._sagas import Shipping as Shipping
from orderkit.services._sagas import recover as recover
from orderkit.services._stock_counts import StockCount as StockCount
from orderkit.services._stock_counts import StockDifference as StockDifference
from orderkit.services._stock_counts import StockReconciliation as StockReconciliation
from orderkit.services._stock_counts import reconcile_stock as reconcile_stock


__all__ = [
    "Accepted",
    "AlreadyAccepted",
    "AlreadyDone",
    "BreakerState",
    "CaptureDeclined",
    "Captured",
    "Checkout",
    "CircuitBreaker",
    "DEFAULT_BREAKER_COOL_DOWN",
    "DEFAULT_DETECTOR_RETENTION",
    "DEFAULT_HEALTH_RULES",
    "DEFAULT_HOLD_TTL",
    "DEFAULT_KEY_LEASE",
    "DEFAULT_KEY_RETENTION",
    "DEFAULT_PICKING_ORDER",
    "DEFAULT_RELAY_LEASE",
    "DEFAULT_STUCK_LIMITS",
    "DeskPolicy",
    "Discrepancy",
    "DiscrepancyKind",
    "Dispatched",
    "DriftKind",
    "DueToClose",
    "DuplicateDetector",
    "EventRecorded",
    "HealthComponent",
    "HealthMeasure",
    "HealthReport",
    "HealthRules",
    "HealthWeights",
    "Held",
    "Idempotency",
    "Intake",
    "Ledger",
    "OrderDesk",
    "PickingKey",
    "Pulled",
    "PurchaseLimits",
    "Reconciliation",
    "Recovery",
    "RefundDeclined",
    "Refunded",
    "Refunds",
    "RefusalReason",
    "Refused",
    "Relayed",
    "Reply",
    "Resolution",
    "RetryPolicy",
    "RowProblem",
    "SagaOutcome",
    "Shipping",
    "Stalled",
    "StatusDrift",
    "StockCount",
    "StockDifference",
    "StockReconciliation",
    "StuckOrder",
    "StuckReason",
    "StuckRules",
    "due_to_close",
    "health_from_stores",
    "health_report",
    "pull",
    "reconcile_payments",
    "reconcile_payments_from_stores",
    "reconcile_stock",
    "reconcile_stock_from_stores",
    "recover",
    "relay",
    "retry",
    "status_changed_at",
    "status_drift",
    "stuck_from_stores",
    "stuck_orders",
]
