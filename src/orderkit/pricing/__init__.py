"""Pricing: totals that add up, discounts that stop at the floor, and limits.

An `Order` says what was bought; a `Quote` adds what the channel says about
money: the offers it applied (`PercentOff`, `AmountOff`, `FixedPrice`,
`FreeShipping`, `BuyXGetY`), shipping, tax and the total it charged.

- `price(quote, stacking)` applies the offers under a `StackingPolicy`
  (order of application, exclusive kinds, combinable kinds, a maximum
  stack, per-line and per-order caps) and returns `Totals`: every line's
  net amount with its discounts split to the minor unit by largest
  remainder, so the parts always sum to the whole. `expected_total` is its
  `.total`: `sum(unit_price * qty) - line discounts - order discounts +
  shipping (+ tax where the channel adds it)`.
- `validate(quote, policy)` checks a quote against a channel's
  `PricingPolicy` and reports every `Violation` at once, each with a code,
  a path (`lines[2].unit_price`), the expected and the actual value; a
  `Validation` that is not `.ok` carries a `hold_reason` in Chinese and
  English. A channel whose own totals are inconsistent can accept them
  (`TotalsPolicy.ACCEPT_CHANNEL`) with a reconciliation warning.
- `PriceFloor` is the least a SKU may net a unit after every discount,
  absolute or as a ratio of cost.

Floors and the SKUs offers name match a line's SKU folded, as purchase
limits do (`orderkit.dedupe.normalize_sku`: case, Unicode width and
surrounding or repeated whitespace do not count).

Manual price changes route by `ApprovalTiers` (amounts to roles, as data)
and move through `request_change`, `approve`, `reject` and `expire`; an
approved one is applied to the order by `orderkit.orders.record_price_change`,
which holds the line's whole move since intake to the approver's tier
(`role_needed` says which role a change needs on its order);
`anomalies` reports many changes by one actor, changes outside working hours
and changes far from list price. Purchase limits pick the `LimitKey`s that
apply to a `PurchaseContext` under `LimitRule`s (per buyer, phone, IP,
device or address, over a sliding window); a `orderkit.ports.LimitStore`
counts them atomically.

Bad input (floats, negative prices, a percent outside 0..100, an unknown
offer kind, lines in two currencies) raises a typed `ValidationError`
naming the field and the value; nothing is computed.

.. versionadded:: 0.1.0
"""

from orderkit.orders._payments import (
    Capture,
    Override,
    OverrideKind,
    PaymentLedger,
    PaymentRecord,
    PaymentTotals,
    Refund,
    RefundLine,
    RefundState,
)
from orderkit.orders._price_changes import (
    AlreadyDecided,
    ChangeState,
    Decided,
    PriceChange,
    PriceChanged,
    approve,
    expire,
    reject,
    request_change,
    role_needed,
)
from orderkit.orders._tiers import ApprovalTier, ApprovalTiers
from orderkit.pricing._anomalies import (
    WEEKDAYS,
    Anomaly,
    AnomalyKind,
    anomalies,
)
from orderkit.pricing._floors import PriceFloor
from orderkit.pricing._limits import (
    Exceeded,
    Granted,
    LimitDecision,
    LimitKey,
    LimitRule,
    LimitScope,
    Overage,
    PurchaseContext,
    limit_keys,
)
from orderkit.pricing._offers import (
    AMOUNT_FIRST,
    PERCENT_FIRST,
    AmountOff,
    BuyXGetY,
    FixedPrice,
    FreeShipping,
    Offer,
    OfferKind,
    PercentOff,
    StackingPolicy,
    offer_kind,
)
from orderkit.pricing._totals import (
    AppliedOffer,
    NetLine,
    Quote,
    RefusedOffer,
    Totals,
    allocate,
    apply_offers,
    expected_total,
    price,
)
from orderkit.pricing._validation import (
    PricingPolicy,
    TotalsPolicy,
    Validation,
    Violation,
    ViolationCode,
    validate,
)


__all__ = [
    "AMOUNT_FIRST",
    "AlreadyDecided",
    "AmountOff",
    "Anomaly",
    "AnomalyKind",
    "AppliedOffer",
    "ApprovalTier",
    "ApprovalTiers",
    "BuyXGetY",
    "Capture",
    "ChangeState",
    "Decided",
    "Exceeded",
    "FixedPrice",
    "FreeShipping",
    "Granted",
    "LimitDecision",
    "LimitKey",
    "LimitRule",
    "LimitScope",
    "NetLine",
    "Offer",
    "OfferKind",
    "Overage",
    "Override",
    "OverrideKind",
    "PERCENT_FIRST",
    "PaymentLedger",
    "PaymentRecord",
    "PaymentTotals",
    "PercentOff",
    "PriceChange",
    "PriceChanged",
    "PriceFloor",
    "PricingPolicy",
    "PurchaseContext",
    "Quote",
    "Refund",
    "RefundLine",
    "RefundState",
    "RefusedOffer",
    "StackingPolicy",
    "Totals",
    "TotalsPolicy",
    "Validation",
    "Violation",
    "ViolationCode",
    "WEEKDAYS",
    "allocate",
    "anomalies",
    "apply_offers",
    "approve",
    "expected_total",
    "expire",
    "limit_keys",
    "offer_kind",
    "price",
    "reject",
    "request_change",
    "role_needed",
    "validate",
]
