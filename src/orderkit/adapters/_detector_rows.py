"""The duplicate detector's review queue as every SQL store writes its rows."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from orderkit.adapters._micros import from_us, to_us
from orderkit.dedupe import Match, ReviewState, Suspicion


def encode_matches(matches: Sequence[Match]) -> str:
    """A suspicion's matches as compact JSON, times in microseconds."""
    return json.dumps(
        [
            [m.channel, m.order_id, to_us(m.placed_at), [k.value for k in m.kinds]]
            for m in matches
        ],
        ensure_ascii=False,
        separators=(",", ":"),
    )


def _decode_matches(text: str) -> tuple[Match, ...]:
    return tuple(
        Match(channel, order_id, from_us(placed_at), kinds)
        for channel, order_id, placed_at, kinds in json.loads(text)
    )


def read_suspicion(row: Sequence[Any]) -> Suspicion:
    """The suspicion in a row of the review queue's columns."""
    channel, order_id, placed_at, matches, flagged_at, state, actor, resolved_at = row
    return Suspicion(
        channel,
        order_id,
        from_us(placed_at),
        _decode_matches(matches),
        from_us(flagged_at),
        ReviewState(state),
        actor,
        None if resolved_at is None else from_us(resolved_at),
    )
