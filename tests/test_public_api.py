"""The public surface is exactly what we mean to offer, and no more."""

from __future__ import annotations

import enum
import importlib

import attrs
import pytest


SURFACE = {
    "orderkit": [
        "Address",
        "Buyer",
        "Currency",
        "IdempotencyKey",
        "IllegalTransition",
        "Money",
        "Order",
        "OrderLine",
        "OrderStatus",
        "OrderkitError",
        "ValidationError",
        "__version__",
        "apply",
        "apply_all",
    ],
    "orderkit.adapters": ["SystemClock"],
    "orderkit.dedupe": [
        "Claim",
        "Claimed",
        "FINGERPRINT_VERSION",
        "Fingerprint",
        "FingerprintKind",
        "Fingerprinter",
        "IdempotencyKey",
        "InProgress",
        "Match",
        "NOT_A_PHONE",
        "NotAPhone",
        "Outcome",
        "Replay",
        "ReviewState",
        "Screening",
        "Sighting",
        "Suspicion",
        "normalize_address",
        "normalize_name",
        "normalize_phone",
        "normalize_sku",
        "request_hash",
        "sku_multiset",
    ],
    "orderkit.adapters.sqlite": [
        "SqliteDetectorStore",
        "SqliteKeyStore",
        "SqliteLedgerStore",
        "SqliteLimitStore",
    ],
    "orderkit.adapters.memory": [
        "MemoryDetectorStore",
        "MemoryKeyStore",
        "MemoryLedgerStore",
        "MemoryLimitStore",
    ],
    "orderkit.errors": [
        "CaptureExceedsAuthorisation",
        "ConcurrencyConflict",
        "ConfigurationError",
        "CurrencyMismatch",
        "EmptyOrder",
        "HoldNotLive",
        "IdempotencyConflict",
        "IllegalTransition",
        "InsufficientStock",
        "InvalidAddress",
        "InvalidMoney",
        "InvalidOffer",
        "InvalidPhone",
        "InvalidQuantity",
        "KeyInProgress",
        "NaiveDatetime",
        "OrderMismatch",
        "OrderkitError",
        "RefundExceedsCapture",
        "RefundNotPending",
        "StoreError",
        "StructureError",
        "UnknownCurrency",
        "UnknownHold",
        "UnknownLocation",
        "UnknownPayment",
        "UnknownRefund",
        "UnknownSerial",
        "UnknownSku",
        "UnknownStatus",
        "ValidationError",
    ],
    "orderkit.inventory": [
        "Backorder",
        "Balance",
        "Check",
        "Delist",
        "Hold",
        "HoldState",
        "HoldWrite",
        "Measure",
        "Movement",
        "MovementKind",
        "NoOversell",
        "Plan",
        "Preorder",
        "Receipt",
        "Relist",
        "Route",
        "RoutingStrategy",
        "Shortage",
        "StockLine",
        "StockPolicy",
        "StockSignal",
        "replay",
        "route",
    ],
    "orderkit.money": ["Currency", "DEFAULT_ROUNDING", "Money", "split"],
    "orderkit.orders": [
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
        "MILESTONES",
        "Milestone",
        "Order",
        "OrderEvent",
        "OrderLine",
        "OrderPlaced",
        "OrderStatus",
        "Outcome",
        "Payment",
        "PaymentCaptured",
        "PickingStarted",
        "Recorded",
        "RefundDue",
        "Rejected",
        "ReturnLine",
        "SHIPMENT_TRANSITIONS",
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
        "receive_return",
        "record_case",
        "record_payments",
        "record_price_change",
        "refund_case",
        "reject_case",
        "request_return",
        "resolve_case",
    ],
    "orderkit.ports": [
        "Clock",
        "DetectorStore",
        "KeyStore",
        "LedgerStore",
        "LimitStore",
    ],
    "orderkit.services": [
        "DEFAULT_DETECTOR_RETENTION",
        "DEFAULT_HOLD_TTL",
        "DEFAULT_KEY_LEASE",
        "DEFAULT_KEY_RETENTION",
        "DuplicateDetector",
        "Idempotency",
        "Ledger",
        "PurchaseLimits",
        "Reply",
        "Resolution",
    ],
    "orderkit.pricing": [
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
        "validate",
    ],
    "orderkit.serialization": ["Converter", "make_converter"],
    "orderkit.testing": ["FrozenClock"],
    "orderkit.testing.contracts": [
        "DetectorStoreContract",
        "KeyStoreContract",
        "LedgerStoreContract",
        "LimitStoreContract",
        "StoreContract",
    ],
    "orderkit.testing.strategies": [
        "addresses",
        "after_sales_cases",
        "audit_records",
        "buyers",
        "currencies",
        "events",
        "for_type",
        "idempotency_keys",
        "instants",
        "lifecycles",
        "money",
        "order_lines",
        "orders",
        "return_lines",
    ],
}
# Base classes meant to be matched on or extended by ports, not sealed.
OPEN_CLASSES = {"orderkit.orders.Event", "orderkit.ports.Clock"}


class TestSurface:
    """Each public module exports exactly its intended names."""

    @pytest.mark.parametrize("module_name", sorted(SURFACE))
    def test_all_is_the_intended_surface(self, module_name: str) -> None:
        module = importlib.import_module(module_name)

        assert sorted(SURFACE[module_name]) == sorted(module.__all__)

    @pytest.mark.parametrize("module_name", sorted(SURFACE))
    def test_every_name_resolves(self, module_name: str) -> None:
        module = importlib.import_module(module_name)

        for name in module.__all__:
            assert hasattr(module, name), name


class TestFinal:
    """Concrete classes are final: ports, not subclassing, are how to extend."""

    @pytest.mark.parametrize("module_name", sorted(SURFACE))
    def test_concrete_classes_are_final(self, module_name: str) -> None:
        module = importlib.import_module(module_name)
        for name in module.__all__:
            obj = getattr(module, name)
            if not isinstance(obj, type) or f"{module_name}.{name}" in OPEN_CLASSES:
                continue
            if issubclass(obj, Exception) and not getattr(obj, "__final__", False):
                # Error bases (OrderkitError, ValidationError) are for catching
                # and for later errors to extend.
                continue
            if (
                attrs.has(obj)
                or issubclass(obj, enum.Enum)
                or module_name.endswith(("adapters", "testing"))
            ):
                assert getattr(obj, "__final__", False), f"{module_name}.{name}"
