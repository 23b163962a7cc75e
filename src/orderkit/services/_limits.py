"""Purchase limits over a limit store: the keys an order consumes, counted."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import final

import pendulum

from orderkit._time import before_or_first, to_utc
from orderkit.dedupe._claims import check_duration
from orderkit.errors import ValidationError
from orderkit.ports import Clock, LimitStore
from orderkit.pricing import (
    Granted,
    LimitDecision,
    LimitRule,
    PurchaseContext,
    limit_keys,
)
from orderkit.pricing._limits import check_use_id, window_at
from orderkit.services._idempotency import DEFAULT_KEY_RETENTION


@final
class PurchaseLimits:
    """Checks each order against the purchase limits, over any `LimitStore`.

    The rules pick the keys (`orderkit.pricing.limit_keys`); the store
    checks and counts them in one atomic step, so an order is either
    granted and counted against every limit that applies, or refused and
    counted against none. It counts once against a rule on orders, and as
    many units as it holds against a units rule (`LimitRule.units`): an
    order of 3 units against "2 units per buyer" is refused whole.

    Args:
        rules: The limits in force (per buyer, phone, IP, device, address;
            per SKU or promotion).
        store: Where the uses are counted.
        clock: Where the time comes from.
        retention: How long `prune` keeps a use at least, so that a check
            retried with its use id within that time is not counted twice
            (the longest rule's window is kept in any case, a calendar
            day's back to the day's start and 24 hours at least).

    Raises:
        ValidationError: A rule is not a `LimitRule`, naming `rules[i]`;
            `retention` is not a positive timedelta.

    .. versionadded:: 0.1.0
    """

    def __init__(
        self,
        rules: Iterable[LimitRule],
        store: LimitStore,
        clock: Clock,
        *,
        retention: dt.timedelta = DEFAULT_KEY_RETENTION,
    ) -> None:
        """Create the service over `store`, reading the time from `clock`."""
        self._rules = tuple(rules)
        for i, rule in enumerate(self._rules):
            if not isinstance(rule, LimitRule):
                raise ValidationError(f"rules[{i}]", rule, "must be a LimitRule")
        self._store = store
        self._clock = clock
        self._retention = check_duration("retention", retention)
        # Only a calendar day's keys need the time: other checks read the
        # clock once there is something to count, as they always did.
        self._days = any(rule.day_in is not None for rule in self._rules)

    @property
    def rules(self) -> tuple[LimitRule, ...]:
        """The limits in force."""
        return self._rules

    def check(
        self, context: PurchaseContext, *, use_id: str | None = None
    ) -> LimitDecision:
        """Consume one use (or its units) of every limit that applies, or none.

        Args:
            context: The order and the request.
            use_id: The order's identity (`"douyin:DY-1001"`), so that a
                retried check is granted again without counting twice.

        Returns:
            `Granted` (also when no rule applies), or `Exceeded` naming every
            key without room for the order (at its limit, or for a units
            rule short of the order's units), having counted nothing.

        Raises:
            InvalidPhone: A phone rule applies and the phone is not a number.
            InvalidAddress: An address rule applies and the address is blank.
            ValidationError: Bad context or use id; nothing was counted.
            StoreError: The store failed; nothing was counted.
        """
        now = self._now() if self._days else None
        keys = limit_keys(self._rules, context, now=now)
        use = check_use_id(use_id)
        if not keys:
            return Granted()
        # The instant the day's windows were measured from, or they would
        # reach past the day's start (or stop short of it).
        return self._store.consume(
            keys, now=self._now() if now is None else now, use_id=use
        )

    def record(self, context: PurchaseContext, *, use_id: str | None = None) -> Granted:
        """Count one use (or its units) of every limit that applies, unchecked.

        For an order a person let through over the limits (`OrderDesk.release`
        of one held for `"limits"`): the person overrode the limits for this
        order alone, so it counts against later orders as a granted one does.

        Args:
            context: The order and the request.
            use_id: The order's identity, as for `check`: a use id granted
                or recorded before records nothing again.

        Returns:
            `Granted` (`replayed` when `use_id` was granted or recorded
            before; also when no rule applies, having recorded nothing).

        Raises:
            InvalidPhone: A phone rule applies and the phone is not a number.
            InvalidAddress: An address rule applies and the address is blank.
            ValidationError: Bad context or use id; nothing was counted.
            StoreError: The store failed; nothing was counted.
        """
        now = self._now() if self._days else None
        keys = limit_keys(self._rules, context, now=now)
        use = check_use_id(use_id)
        if not keys:
            return Granted()
        # The instant the day's windows were measured from, or they would
        # reach past the day's start (or stop short of it).
        return self._store.record(
            keys, now=self._now() if now is None else now, use_id=use
        )

    def prune(self) -> int:
        """Delete the uses no rule's window covers, kept `retention`; return how many.

        A use is kept for the longer of the longest window and `retention`:
        its use id must outlive the window, or a check retried after the
        window would be counted again. A calendar day's window
        (`LimitRule.day_in`) reaches back to the day's start, up to 25
        hours on a day the clocks go back; it is kept for one day at
        least, as a sliding day would be.
        """
        if not self._rules:
            return 0
        now = self._now()
        longest = max(max(rule.window, window_at(rule, now)) for rule in self._rules)
        kept = max(longest, self._retention)
        return self._store.prune(before_or_first(now, kept))

    def _now(self) -> pendulum.DateTime:
        return to_utc(self._clock.now(), "clock.now()")
