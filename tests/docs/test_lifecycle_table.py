"""The transition tables in docs/concepts/lifecycle.md are the ones in the code."""

from __future__ import annotations

from pathlib import Path

from orderkit.orders import (
    EVENT_TYPES,
    SHIPMENT_TRANSITIONS,
    TRANSITIONS,
    OrderStatus,
    ShipmentStatus,
    Verdict,
)


DOC = Path(__file__).parents[2] / "docs" / "concepts" / "lifecycle.md"


def _cell(cell: OrderStatus | ShipmentStatus | Verdict) -> str:
    if isinstance(cell, Verdict):
        return f"*{cell.value}*"
    return f"**{cell.value}**"


def render_order_table() -> str:
    header = "| status | " + " | ".join(e.__name__ for e in EVENT_TYPES) + " |"
    rule = "|---" * (len(EVENT_TYPES) + 1) + "|"
    rows = [
        f"| {status.value} | "
        + " | ".join(_cell(TRANSITIONS[status, e]) for e in EVENT_TYPES)
        + " |"
        for status in OrderStatus
    ]
    return "\n".join([header, rule, *rows])


def render_shipment_table() -> str:
    events = sorted({e for _, e in SHIPMENT_TRANSITIONS}, key=EVENT_TYPES.index)
    header = "| shipment | " + " | ".join(e.__name__ for e in events) + " |"
    rule = "|---" * (len(events) + 1) + "|"
    rows = [
        f"| {'unknown' if status is None else status.value} | "
        + " | ".join(_cell(SHIPMENT_TRANSITIONS[status, e]) for e in events)
        + " |"
        for status in (None, *ShipmentStatus)
    ]
    return "\n".join([header, rule, *rows])


class TestLifecycleDoc:
    """The concepts page shows the tables the code runs."""

    def test_order_table_is_current(self) -> None:
        table = render_order_table()

        assert table in DOC.read_text(encoding="utf-8"), f"paste into {DOC}:\n{table}"

    def test_shipment_table_is_current(self) -> None:
        table = render_shipment_table()

        assert table in DOC.read_text(encoding="utf-8"), f"paste into {DOC}:\n{table}"
