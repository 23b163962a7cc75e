"""The I/O ports a host application implements, as `typing.Protocol`s.

orderkit's core never does I/O: services receive these ports as arguments.
Reference implementations live in `orderkit.adapters`; fakes for tests in
`orderkit.testing`.

.. versionadded:: 0.1.0
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

import pendulum

from orderkit.inventory import (
    Balance,
    Hold,
    HoldState,
    Movement,
    Plan,
    Receipt,
    StockPolicy,
)


__all__ = ["Clock", "LedgerStore"]


class Clock(Protocol):
    """**Protocol:** where services read the time, and how they wait.

    Contract:

    - `now()` returns a timezone-aware UTC `pendulum.DateTime`; never a naive
      datetime. Successive calls may step backwards (a wall clock being
      corrected): callers that need monotonic time keep their own high-water
      mark.
    - `sleep(seconds)` waits at least that long; a test clock advances its
      time instead, so retries and timeouts are tested without real sleeps.
      Negative durations are refused with `ValueError`.

    .. versionadded:: 0.1.0
    """

    def now(self) -> pendulum.DateTime:
        """Return the current instant, in UTC."""
        ...

    def sleep(self, seconds: float) -> None:
        """Wait `seconds` (a test clock advances instead)."""
        ...


class LedgerStore(Protocol):
    """**Protocol:** where the inventory ledger lives; applies plans atomically.

    `orderkit.services.Ledger` turns every operation into an
    `orderkit.inventory.Plan`; the store's one write is `apply`. Run
    `orderkit.testing.contracts.LedgerStoreContract` against any
    implementation: it checks every rule below.

    Contract of `apply(plan)`:

    - **Idempotency.** A plan whose key the store has applied before returns
      the first `Receipt` again (with `replayed=True`) and writes nothing.
    - **Time.** The store keeps a high-water mark of the times it has seen
      and works at `at = max(plan.now, mark)`, so a clock stepping back
      never revives an expired hold.
    - **Order of work**, all inside one transaction: (1) expire every live
      hold with `expires_at <= at` on the balances the plan touches
      (`EXPIRE` movements keyed `expire:<hold_id>`); (2) when
      `plan.supersede` names an owner, release its live holds on those
      balances (`RELEASE` movements under the plan's key); (3) apply each
      hold write as a compare-and-set; (4) apply the movements in order,
      an `ADJUST` with `counted` moving on hand to that figure; (5)
      evaluate every check; (6) write everything and the receipt.
    - **Atomicity.** Any failure writes nothing at all.
    - **Isolation.** Concurrent `apply` calls behave as if run one at a
      time, also across processes for stores that are shared by them.
    - **Errors.** `InsufficientStock` listing every failed check, with
      `available` as what the request could have taken (the figure before
      the plan, minus the bound); `HoldNotLive` when a write expected a
      live hold that has expired by `at`; `ConcurrencyConflict` when a
      hold differs from what the write expected; `UnknownSku` /
      `UnknownLocation` when a movement other than `RECEIVE`, `ADJUST`,
      `RESTOCK` or an incoming `TRANSFER`, or a check, names a SKU or a
      location with no balance anywhere; `InvalidQuantity` when a figure
      would fall below zero; `StoreError` for storage failures, with the
      driver's error as its cause.

    Reads see only committed data. Balances from `balances` count a live
    hold past its expiry as expired, whether or not it has been swept.

    .. versionadded:: 0.1.0
    """

    def apply(self, plan: Plan) -> Receipt:
        """Apply `plan` all or nothing; see the class docstring."""
        ...

    def expire_due(
        self, now: pendulum.DateTime, *, limit: int | None = None
    ) -> Sequence[Movement]:
        """Expire live holds due by `max(now, mark)`, in O(expired).

        Returns the `EXPIRE` movements written, at most `limit` of them.
        """
        ...

    def balances(
        self,
        now: pendulum.DateTime,
        *,
        sku: str | None = None,
        location: str | None = None,
    ) -> Sequence[Balance]:
        """Return the balances, filtered by SKU and location, as of `now`."""
        ...

    def hold(self, hold_id: str) -> Hold | None:
        """Return the hold as stored, or `None` when there is no such hold."""
        ...

    def holds(
        self,
        *,
        owner: str | None = None,
        sku: str | None = None,
        state: HoldState | None = None,
    ) -> Sequence[Hold]:
        """Return holds as stored, filtered, oldest first."""
        ...

    def movements(self, *, after: int = 0, limit: int = 1000) -> Sequence[Movement]:
        """Return up to `limit` movements with `seq > after`, in order."""
        ...

    def policy(self, sku: str) -> StockPolicy:
        """Return the SKU's stock policy (`NoOversell()` unless one was set)."""
        ...

    def set_policy(self, sku: str, policy: StockPolicy) -> None:
        """Set the SKU's stock policy for every location."""
        ...

    def set_safety_stock(self, sku: str, location: str, quantity: int) -> None:
        """Set the safety stock of one balance (created empty if new)."""
        ...
