"""The in-memory limit store: sliding-window counts in a dict."""

from __future__ import annotations

import copy
import datetime as dt
import threading
from collections.abc import Sequence
from typing import Final, cast, final

import pendulum

from orderkit._time import before_or_first
from orderkit.adapters._memory_journal import Journal, Journaled
from orderkit.pricing import Exceeded, Granted, LimitDecision, LimitKey, Overage
from orderkit.pricing._limits import check_instant, check_keys, check_use_id, uses_of


# Every grant that records uses is the same answer.
_GRANTED: Final = Granted()
_Use = tuple[pendulum.DateTime, str | None, int]
_Snapshot = tuple[dict[str, list[_Use]], dict[str, pendulum.DateTime]]


@final
class MemoryLimitStore(Journaled):
    """A `LimitStore` in a dict, safe to share between threads.

    Each key keeps its uses in a list; a check reads the uses of the keys it
    names, so it costs O(uses kept per key), which stays near the limit
    while exceeded calls record nothing. `prune` walks every key. Nothing
    survives the process.

    .. versionadded:: 0.1.0
    """

    def __init__(self) -> None:
        """Create an empty store."""
        self._lock = threading.Lock()
        # key -> [(at, member, weight)], in the order recorded.
        self._uses: dict[str, list[_Use]] = {}
        self._use_ids: dict[str, pendulum.DateTime] = {}
        self._journal: Journal | None = None

    def consume(
        self,
        keys: Sequence[LimitKey],
        *,
        now: dt.datetime,
        use_id: str | None = None,
    ) -> LimitDecision:
        """Check every key and record one use of each, with its weight, or none.

        See `orderkit.ports.LimitStore`.

        Raises:
            ValidationError: Bad keys or use id; nothing was recorded.
            NaiveDatetime: `now` is naive.
        """
        return self._use("consume", keys, now, use_id, checking=True)

    def record(
        self,
        keys: Sequence[LimitKey],
        *,
        now: dt.datetime,
        use_id: str | None = None,
    ) -> Granted:
        """Record one use of each key, with its weight, unchecked, once per use id.

        See `orderkit.ports.LimitStore`.

        Raises:
            ValidationError: Bad keys or use id; nothing was recorded.
            NaiveDatetime: `now` is naive.
        """
        granted = self._use("record", keys, now, use_id, checking=False)
        assert isinstance(granted, Granted)  # noqa: S101 - nothing checked
        return granted

    def _use(
        self,
        operation: str,
        keys: Sequence[LimitKey],
        now: dt.datetime,
        use_id: str | None,
        *,
        checking: bool,
    ) -> LimitDecision:
        """One use of each key, once per use id; checked first if `checking`."""
        checked = check_keys(keys)
        use = check_use_id(use_id)
        at = check_instant("now", now)
        with self._lock:
            if self._owned:
                self._in_unit(operation)
            if use is not None and use in self._use_ids:
                return Granted(replayed=True)
            over = [
                overage
                for key in (checked if checking else ())
                if (overage := self._check(key, at)) is not None
            ]
            if over:
                return Exceeded(tuple(over))
            return self._add(checked, at, use)

    def _add(
        self, keys: tuple[LimitKey, ...], at: pendulum.DateTime, use: str | None
    ) -> Granted:
        """Record one use of each key at `at`, and `use`; the lock is held."""
        used = uses_of(keys)
        for name, member, weight in used:
            uses = self._uses.get(name)
            if uses is None:
                uses = self._uses[name] = []
            uses.append((at, member, weight))
        if use is not None:
            self._use_ids[use] = at
        if self._journal is not None:
            # One record undoes them all (`_unconsume`).
            self._journal.record(self._unconsume, used, use)
        return _GRANTED

    def prune(self, before: dt.datetime) -> int:
        """Delete uses (and use ids) recorded before `before`; return how many."""
        cutoff = check_instant("before", before)
        pruned = 0
        with self._lock:
            if self._owned:
                self._in_unit("prune")
            journal = self._journal
            for name in list(self._uses):
                kept = [use for use in self._uses[name] if use[0] >= cutoff]
                pruned += len(self._uses[name]) - len(kept)
                if journal is not None:
                    journal.item(self._uses, name)
                if kept:
                    self._uses[name] = kept
                else:
                    del self._uses[name]
            if journal is not None:
                journal.attr(self, "_use_ids")
            self._use_ids = {u: at for u, at in self._use_ids.items() if at >= cutoff}
        return pruned

    def _snapshot(self) -> object:
        """A copy of the store's data, for `MemoryUnitOfWork` to roll back to."""
        with self._lock:
            return copy.deepcopy((self._uses, self._use_ids))

    def _restore(self, snapshot: object) -> None:
        """Put back the data `_snapshot` copied; the snapshot stays reusable."""
        state = copy.deepcopy(cast("_Snapshot", snapshot))
        with self._lock:
            self._uses, self._use_ids = state

    def _unconsume(
        self, used: tuple[tuple[str, str | None, int], ...], use: str | None
    ) -> None:
        """Undo `consume`'s writes, on the stores exactly as it left them.

        Replayed newest first, so each list ends with the uses it appended;
        a list they started is removed whole, as it was absent.
        """
        if use is not None:
            del self._use_ids[use]
        for name, _, _ in reversed(used):
            uses = self._uses[name]
            if len(uses) == 1:
                del self._uses[name]
            else:
                uses.pop()

    def _check(self, key: LimitKey, at: pendulum.DateTime) -> Overage | None:
        """The key's overage at `at`, or `None` when its weight fits."""
        uses = self._uses.get(key.key)
        if uses is None:
            # A key never used (a new buyer): nothing counts, so the use
            # fits unless it weighs more than the limit alone.
            return None if key.weight <= key.limit else Overage(key, 0)
        since = before_or_first(at, key.window)
        plain = 0
        members: set[str] = set()
        for used_at, member, weight in uses:
            if used_at <= since:
                continue
            if member is None:
                plain += weight
            else:
                members.add(member)
        if key.member is not None and key.member in members:
            return None
        count = plain + len(members)
        return None if count + key.weight <= key.limit else Overage(key, count)
