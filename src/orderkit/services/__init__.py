"""Use cases over the ports: the façades a host application calls.

`Ledger` is the inventory ledger over any `orderkit.ports.LedgerStore`;
`Idempotency` runs each request once per key over any
`orderkit.ports.KeyStore`; `DuplicateDetector` queues orders that repeat
across channels within a window for review, over any
`orderkit.ports.DetectorStore`; `PurchaseLimits` counts orders against
per-buyer, IP and device limits over any `orderkit.ports.LimitStore`;
`pull` reads a channel's feed page by page and moves its cursor in an
`orderkit.ports.CursorStore` only after the host accepted the page.
`reconcile_payments` and `reconcile_stock` compare orders with a payment
statement and the ledger with a stock count.
`retry` tries a call again after a `TransientError`, with capped exponential
backoff; `CircuitBreaker` stops calling a target that keeps failing.

.. versionadded:: 0.1.0
"""

from orderkit.services._breaker import (
    DEFAULT_BREAKER_COOL_DOWN as DEFAULT_BREAKER_COOL_DOWN,
)
from orderkit.services._breaker import BreakerState as BreakerState
from orderkit.services._breaker import CircuitBreaker as CircuitBreaker
from orderkit.services._duplicates import (
    DEFAULT_DETECTOR_RETENTION as DEFAULT_DETECTOR_RETENTION,
)
from orderkit.services._duplicates import DuplicateDetector as DuplicateDetector
from orderkit.services._idempotency import DEFAULT_KEY_LEASE as DEFAULT_KEY_LEASE
from orderkit.services._idempotency import (
    DEFAULT_KEY_RETENTION as DEFAULT_KEY_RETENTION,
)
from orderkit.services._idempotency import Idempotency as Idempotency
from orderkit.services._idempotency import Reply as Reply
from orderkit.services._ledger import DEFAULT_HOLD_TTL as DEFAULT_HOLD_TTL
from orderkit.services._ledger import Ledger as Ledger
from orderkit.services._ledger import Resolution as Resolution
from orderkit.services._limits import PurchaseLimits as PurchaseLimits
from orderkit.services._pulling import Pulled as Pulled
from orderkit.services._pulling import pull as pull
from orderkit.services._reconcile import Discrepancy as Discrepancy
from orderkit.services._reconcile import DiscrepancyKind as DiscrepancyKind
from orderkit.services._reconcile import Reconciliation as Reconciliation
from orderkit.services._reconcile import RowProblem as RowProblem
from orderkit.services._reconcile import reconcile_payments as reconcile_payments
from orderkit.services._retry import RetryPolicy as RetryPolicy
from orderkit.services._retry import retry as retry
from orderkit.services._stock_counts import StockCount as StockCount
from orderkit.services._stock_counts import StockDifference as StockDifference
from orderkit.services._stock_counts import StockReconciliation as StockReconciliation
from orderkit.services._stock_counts import reconcile_stock as reconcile_stock


__all__ = [
    "BreakerState",
    "CircuitBreaker",
    "DEFAULT_BREAKER_COOL_DOWN",
    "DEFAULT_DETECTOR_RETENTION",
    "DEFAULT_HOLD_TTL",
    "DEFAULT_KEY_LEASE",
    "DEFAULT_KEY_RETENTION",
    "Discrepancy",
    "DiscrepancyKind",
    "DuplicateDetector",
    "Idempotency",
    "Ledger",
    "Pulled",
    "PurchaseLimits",
    "Reconciliation",
    "Reply",
    "Resolution",
    "RetryPolicy",
    "RowProblem",
    "StockCount",
    "StockDifference",
    "StockReconciliation",
    "pull",
    "reconcile_payments",
    "reconcile_stock",
    "retry",
]
