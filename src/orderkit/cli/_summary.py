"""The summary of a run: one dict, shown as a table or written as JSON.

`KEYS` lists every figure in order with what it means; the JSON output has
exactly these keys, then `violations`, `errors_seen`, `by_channel`,
`price_change_roles`, `outbox_messages` and `other_counts` (what the
workers counted that has no key of its own, such as retried callbacks).
Figures that must be zero are marked: a run with any of them above zero
fails (exit code 1).
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Final

from orderkit.cli import _catalog as catalog


if TYPE_CHECKING:
    from orderkit.cli._invariants import Findings
    from orderkit.cli._workers import Report


KEYS: Final[tuple[tuple[str, str], ...]] = (
    ("orders_generated", "orders the channels sent"),
    ("accepted", "taken in, stock held"),
    ("held_for_review", "stored without stock, waiting for a person"),
    ("held_for_pricing", "  of which below a price floor (stacked coupons)"),
    ("suspected_duplicates", "  of which 疑似重复: the same buyer on two channels"),
    ("refused_by_limits", "refused: a purchase limit was reached"),
    ("refused_out_of_stock", "refused: the stock was gone"),
    ("duplicates_absorbed", "webhooks, callbacks and scans delivered twice"),
    ("callbacks_early", "payment notices that overtook their order"),
    ("callbacks_parked", "carrier scans that came before their predecessor"),
    ("oversold", "units held beyond stock on hand (must be 0)"),
    ("holds_expired", "stock holds of unpaid checkouts that expired"),
    ("closed_unpaid", "unpaid orders closed after the payment window"),
    ("paid", "payments captured through the provider"),
    ("payment_timeouts", "provider calls that timed out (retried)"),
    ("retries", "calls to the provider or carriers tried again"),
    ("cancelled", "paid orders the buyer cancelled (refunded)"),
    ("duplicates_cancelled", "suspected duplicates a person cancelled"),
    ("duplicates_released", "suspected duplicates a person let through"),
    ("price_changes_requested", "manual price changes asked for (改价)"),
    ("price_changes_approved", "  approved by the tier their amount needs"),
    ("price_changes_rejected", "  rejected"),
    ("picks_lost", "pick tasks the warehouse lost"),
    ("stuck_flagged", "orders the monitor flagged as stuck"),
    ("carrier_timeouts", "carrier label calls that timed out"),
    ("circuit_opened", "times a carrier's circuit breaker opened"),
    ("circuit_closed", "times it closed again after a trial call"),
    ("shipments_deferred", "bookings put off while a carrier failed"),
    ("shipped", "orders with a parcel booked and shipped"),
    ("delivered", "orders delivered"),
    ("returns_requested", "returns asked for after delivery (售后)"),
    ("returns_restocked", "returns that passed inspection, back on hand"),
    ("returns_failed_inspection", "returns that failed inspection"),
    ("refunds", "refunds sent (cancellations and returns)"),
    ("refunds_refused_over_capture", "refund claims above the capture, refused"),
    ("refunds_over_captured", "orders refunded beyond their capture (must be 0)"),
    ("payments_reconciled", "captures and refunds the provider's statements match"),
    ("payment_discrepancies", "differences from those statements (must be 0)"),
    ("units_to_abusers", "units committed to coupon-stacking abusers"),
    ("sellable_pushes", "sellable-stock updates relayed to the channels"),
    ("us_day_orders", "US orders of 2026-11-10 in New York's day"),
    ("us_day_missed_by_utc8_dates", "  of which a UTC+8 date query would miss"),
    ("sagas_in_flight", "sagas left unfinished after the recovery (must be 0)"),
    ("conflicts_retried", "steps that raced another worker, done again"),
    ("errors", "steps that failed unexpectedly (must be 0)"),
    ("invariant_violations", "broken invariants, checked on the stores (must be 0)"),
    ("seed", "the seed: the same seed gives the same day"),
    ("workers", "worker processes sharing the database"),
    ("db", "the database"),
    ("elapsed_s", "seconds, wall clock"),
    ("orders_per_s", "orders per second"),
)
"""Every figure of the summary, in order, with what it counts."""

MUST_BE_ZERO: Final = (
    "oversold",
    "refunds_over_captured",
    "payment_discrepancies",
    "sagas_in_flight",
    "invariant_violations",
    "errors",
)
"""The figures that fail the run when above zero."""


def summarize(  # noqa: PLR0913 - the run's settings and everything it found
    *,
    orders: int,
    seed: int,
    workers: int,
    db: str,
    tally: Counter[str],
    reports: Sequence[Report],
    findings: Findings,
    elapsed: float,
) -> dict[str, object]:
    """Gather the workers' counts and the stores' findings into the summary."""
    over_psp = sum(r.refunds_over_captured for r in reports)
    effects_twice = sum(r.effects_twice for r in reports)
    violations = list(findings.violations)
    if over_psp:
        violations.append(f"provider: {over_psp} payments refunded beyond capture")
    if effects_twice:
        violations.append(f"outside: {effects_twice} captures or labels done twice")
    figures: dict[str, object] = {key: tally.get(key, 0) for key, _ in KEYS}
    figures.update(
        orders_generated=orders,
        oversold=findings.oversold,
        holds_expired=findings.holds_expired,
        shipped=findings.shipped,
        delivered=findings.delivered,
        refunds_over_captured=findings.refunds_over_captured + over_psp,
        payments_reconciled=findings.payments_reconciled,
        payment_discrepancies=findings.payment_discrepancies,
        units_to_abusers=findings.units_to_abusers,
        sellable_pushes=tally.get("outbox_sellable", 0),
        us_day_orders=findings.us_day_orders,
        us_day_missed_by_utc8_dates=findings.us_day_missed_by_utc8_dates,
        sagas_in_flight=findings.sagas_in_flight,
        invariant_violations=findings.count + (over_psp > 0) + effects_twice,
        seed=seed,
        workers=workers,
        db=db,
        elapsed_s=round(elapsed, 2),
        orders_per_s=round(orders / elapsed, 1) if elapsed > 0 else 0.0,
    )
    figures["violations"] = violations
    figures["errors_seen"] = [e for r in reports for e in r.errors][:10]
    figures["by_channel"] = {
        c.name: tally.get(f"channel:{c.name}", 0) for c in catalog.CHANNELS
    }
    figures["price_change_roles"] = _prefixed(tally, "price_change_role:")
    figures["outbox_messages"] = _prefixed(tally, "outbox_")
    known = {key for key, _ in KEYS}
    figures["other_counts"] = {
        key: count
        for key, count in sorted(tally.items())
        if count and key not in known and ":" not in key and "outbox_" not in key
    }
    return figures


def _prefixed(tally: Counter[str], prefix: str) -> dict[str, int]:
    return {
        key.removeprefix(prefix): count
        for key, count in sorted(tally.items())
        if key.startswith(prefix)
    }


def failed(summary: Mapping[str, object]) -> bool:
    """Whether any figure that must be zero is not."""
    return any(summary.get(key) for key in MUST_BE_ZERO)


def to_json(summary: Mapping[str, object]) -> str:
    """The summary as one JSON object, keys in `KEYS` order."""
    return json.dumps(summary, ensure_ascii=False, indent=2)


def to_table(summary: Mapping[str, object]) -> str:
    """The summary as an aligned table for a terminal."""
    width = max(len(key) for key, _ in KEYS)
    rows = []
    for key, meaning in KEYS:
        value = summary.get(key, "")
        if not isinstance(value, int | float):
            rows.append(f"  {key:<{width}}  {value}")
            continue
        shown = f"{value:,}" if isinstance(value, int) else f"{value:,.2f}"
        mark = ""
        if key in MUST_BE_ZERO:
            mark = "  ok" if not value else "  FAILED"
        rows.append(f"  {key:<{width}}  {shown:>9}  {meaning}{mark}")
    for key in ("by_channel", "price_change_roles", "outbox_messages", "other_counts"):
        counts = summary.get(key)
        if isinstance(counts, Mapping) and counts:
            parts = ", ".join(f"{name} {count:,}" for name, count in counts.items())
            rows.append(f"  {key:<{width}}  {parts}")
    verdict = "every invariant holds" if not failed(summary) else "INVARIANTS BROKEN"
    lines = ["orderkit simulate", *rows, "", f"  {verdict}"]
    problems = _listed(summary, "violations") + _listed(summary, "errors_seen")
    lines.extend(f"  - {problem}" for problem in problems)
    return "\n".join(lines)


def _listed(summary: Mapping[str, object], key: str) -> list[str]:
    value = summary.get(key)
    return [str(v) for v in value] if isinstance(value, list) else []
