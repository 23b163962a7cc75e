"""The duplicate detector as every SQL store reads and writes its rows."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from typing import Any, ClassVar, NamedTuple

import pendulum

from orderkit._validate import MAX_INT
from orderkit.adapters._micros import from_us, to_us
from orderkit.dedupe import Match, ReviewState, Sighting, Suspicion
from orderkit.dedupe._claims import check_now, check_text
from orderkit.dedupe._fingerprints import Fingerprint
from orderkit.dedupe._matches import (
    check_decision,
    check_fingerprints,
    check_limit,
    check_phone,
    check_sighting,
    check_window,
    window_around,
)
from orderkit.errors import ValidationError


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


class DetectorReads:
    """The `DetectorStore` reads, which every SQL store answers alike.

    A store sets `_queries` to its statements, in its driver's parameter
    style: the review queue (`limit`), one suspicion (`channel`,
    `order_id`), a buyer's orders (`phone`).
    """

    # The store's own session, SQLite's or PostgreSQL's: both `read`.
    _session: Any
    _queries: ClassVar[tuple[str, str, str]]

    def pending(self, *, limit: int = 1000) -> Sequence[Suspicion]:
        """Return up to `limit` pending suspicions, oldest first.

        Raises:
            StoreError: The database failed.
        """
        queue = self._queries[0]
        # LIMIT is a 64-bit integer: a larger limit asks for every row anyway.
        rows = (min(check_limit(limit), MAX_INT),)
        found = self._session.read(
            "pending", lambda cur: cur.execute(queue, rows).fetchall()
        )
        return [read_suspicion(row) for row in found]

    def suspicion(self, channel: str, order_id: str) -> Suspicion | None:
        """Return the order's suspicion, or `None`.

        Raises:
            StoreError: The database failed.
        """
        one = self._queries[1]
        key = (check_text("channel", channel), check_text("order_id", order_id))
        row = self._session.read(
            "suspicion", lambda cur: cur.execute(one, key).fetchone()
        )
        return None if row is None else read_suspicion(row)

    def orders_of_buyer(self, phone: str) -> Sequence[Sighting]:
        """Return the orders recorded with this E.164 phone, oldest first.

        Raises:
            StoreError: The database failed.
        """
        of_buyer = self._queries[2]
        if check_phone(phone) is None:
            raise ValidationError("phone", phone, "must be E.164, not None")
        rows = self._session.read(
            "orders_of_buyer", lambda cur: cur.execute(of_buyer, (phone,)).fetchall()
        )
        return [
            Sighting(channel, order_id, from_us(at)) for channel, order_id, at in rows
        ]


class Recording(NamedTuple):
    """`DetectorStore.record`'s arguments, checked, as a SQL store writes them."""

    seen: Sighting
    texts: Sequence[str]
    phone: str | None
    bounds: tuple[int, int]  # the window's ends, in microseconds
    flagged_at: pendulum.DateTime


def recording(
    sighting: Sighting,
    fingerprints: Sequence[Fingerprint],
    phone: str | None,
    window: dt.timedelta,
    now: dt.datetime,
) -> Recording:
    """Check `record`'s arguments (raising `ValidationError`) before any I/O."""
    seen = check_sighting(sighting)
    texts = check_fingerprints(fingerprints)
    number = check_phone(phone)
    earliest, latest = window_around(seen.placed_at, check_window(window))
    return Recording(
        seen, texts, number, (to_us(earliest), to_us(latest)), check_now(now)
    )


def resolving(
    channel: str, order_id: str, state: ReviewState, actor: str, now: dt.datetime
) -> tuple[tuple[str, str], ReviewState, str, int]:
    """`resolve`'s arguments, checked: the order's key, the decision, who, when (µs)."""
    key = (check_text("channel", channel), check_text("order_id", order_id))
    return key, check_decision(state), check_text("actor", actor), to_us(check_now(now))
