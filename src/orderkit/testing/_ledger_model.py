"""What a ledger law run expects: a plain model of the ledger, and the laws' checks.

`LedgerModel` keeps what the steps should have done (on hand per balance,
the holds and their states, what each owner committed) and, after each
step, checks the store against it and against itself.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence

import attrs
import pendulum

from orderkit.inventory import HoldState, Movement, MovementKind, replay
from orderkit.ports import LedgerStore
from orderkit.services import Ledger
from orderkit.testing._clock import FrozenClock
from orderkit.testing._laws import LawBroken, LedgerLaw
from orderkit.testing._ledger_ops import LedgerOperation


START = pendulum.datetime(2026, 11, 11)
TTL = dt.timedelta(minutes=15)
_ENDINGS = frozenset({MovementKind.RELEASE, MovementKind.EXPIRE, MovementKind.COMMIT})
Row = tuple[str, str]


@attrs.define
class HeldModel:
    """A hold as the model expects it; its state never says `EXPIRED` by itself."""

    hold_id: str
    owner: str
    row: Row
    quantity: int
    expires_at: pendulum.DateTime
    state: HoldState = HoldState.LIVE


@attrs.frozen
class Done:
    """A step that wrote: how to run it again under its key, and what it gave."""

    label: str
    again: Callable[[], object]
    first: object
    step: int
    """Its number in the run's steps, from 1."""


class LedgerModel:
    """The run's store, ledger and clock, and what the steps should have done."""

    def __init__(self, store: LedgerStore, seed: int | None, count: int) -> None:
        self.store = store
        self.seed = seed
        self.count = count  # steps in the run: a seed repeats only with them
        self.clock = FrozenClock(START)
        self.ledger = Ledger(store, self.clock, hold_ttl=TTL)
        self.on_hand: dict[Row, int] = {}
        self.holds: list[HeldModel] = []
        self.owed: dict[tuple[str, Row], int] = {}
        self.done: list[Done] = []
        self.history: list[str] = []

    def broken(self, law: LedgerLaw, detail: str) -> LawBroken:
        if self.seed is None:
            again = "check_ledger_laws(make_store, operations=the steps above)"
        else:
            again = (
                f"check_ledger_laws(make_store, seed={self.seed}, runs=1, "
                f"steps={self.count})"
            )
        return LawBroken(law, detail, seed=self.seed, steps=self.history, repeat=again)

    def key(self) -> str:
        return f"law-{len(self.history)}"

    # the model

    def now(self) -> pendulum.DateTime:
        return self.clock.now()

    def live(self, hold: HeldModel) -> bool:
        return hold.state is HoldState.LIVE and hold.expires_at > self.now()

    def reserved(self, row: Row) -> int:
        return sum(h.quantity for h in self.holds if h.row == row and self.live(h))

    def allocated(self, row: Row) -> int:
        return sum(q for (_, r), q in self.owed.items() if r == row)

    def available(self, row: Row) -> int:
        return self.on_hand.get(row, 0) - self.reserved(row) - self.allocated(row)

    def unknown(self, row: Row) -> bool:
        skus = {sku for sku, _ in self.on_hand}
        return row[0] not in skus or row[1] not in {loc for _, loc in self.on_hand}

    def pick(self, items: Sequence[object], op: LedgerOperation) -> int | None:
        return op.pick % len(items) if items else None

    def granted(self, law: LedgerLaw, op: LedgerOperation, short: list[str]) -> None:
        if short:
            raise self.broken(law, f"{op} was granted, but {'; '.join(short)}")

    def refused(
        self, law: LedgerLaw, op: LedgerOperation, error: Exception, short: list[str]
    ) -> None:
        if not short:
            raise self.broken(law, f"{op} was refused ({error}), but stock covers it")

    # the laws after every step

    def movements(self) -> list[Movement]:
        found: list[Movement] = []
        after = 0
        while page := self.store.movements(after=after, limit=1000):
            if page[0].seq <= after:
                # A store that ignores `after` would be paged forever.
                raise self.broken(
                    LedgerLaw.REPLAY,
                    f"movements after {after} start at number {page[0].seq}",
                )
            found.extend(page)
            after = page[-1].seq
        return found

    def snapshot(self) -> object:
        return (
            tuple(self.store.balances(self.now())),
            tuple(self.movements()),
            tuple(self.store.holds()),
        )

    def check(self) -> None:
        movements = self.movements()
        self.check_holds(movements)
        self.check_replay(movements)
        self.check_conservation()

    def check_holds(self, movements: list[Movement]) -> None:
        law = LedgerLaw.HOLDS_RESOLVE_ONCE
        for hold in self.holds:
            stored = self.store.hold(hold.hold_id)
            if stored is None:
                raise self.broken(law, f"hold {hold.hold_id} is gone")
            expected = {hold.state}
            if hold.state is HoldState.LIVE and not self.live(hold):
                expected.add(HoldState.EXPIRED)
            if stored.state not in expected:
                raise self.broken(
                    law,
                    f"hold {hold.hold_id} is {stored.state}, "
                    f"expected {' or '.join(sorted(expected))}",
                )
            # An extension acknowledged but not kept lapses the hold early,
            # which the counts show only if a later step looks after that.
            if hold.state is HoldState.LIVE and stored.expires_at != hold.expires_at:
                raise self.broken(
                    law,
                    f"hold {hold.hold_id} expires at {stored.expires_at.isoformat()}, "
                    f"the steps gave it until {hold.expires_at.isoformat()}",
                )
        endings: dict[str, set[str]] = {}
        for m in movements:
            if m.kind in _ENDINGS and m.hold_id is not None:
                endings.setdefault(m.hold_id, set()).add(m.key)
        twice = sorted(h for h, keys in endings.items() if len(keys) > 1)
        if twice:
            raise self.broken(law, f"holds resolved more than once: {twice}")

    def check_replay(self, movements: list[Movement]) -> None:
        rebuilt = replay(movements)
        at = self.now()
        unswept: dict[Row, int] = {}
        for hold in self.store.holds(state=HoldState.LIVE):
            if hold.expires_at <= at:
                row = (hold.sku, hold.location)
                unswept[row] = unswept.get(row, 0) + hold.quantity
        stored = {(b.sku, b.location): b for b in self.store.balances(at)}
        for row in sorted(set(stored) | set(rebuilt)):
            b, r = stored.get(row), rebuilt.get(row)
            mine = (0, 0, 0) if b is None else (b.on_hand, b.reserved, b.allocated)
            again = (0, 0, 0) if r is None else (r.on_hand, r.reserved, r.allocated)
            again = (again[0], again[1] - unswept.get(row, 0), again[2])
            if mine != again:
                raise self.broken(
                    LedgerLaw.REPLAY,
                    f"{row[0]}@{row[1]} is stored as (on hand, reserved, "
                    f"allocated) {mine}, the movements replay to {again}",
                )

    def check_conservation(self) -> None:
        stored = {(b.sku, b.location): b for b in self.store.balances(self.now())}
        for row in sorted(set(stored) | set(self.on_hand)):
            b = stored.get(row)
            mine = None if b is None else (b.on_hand, b.reserved, b.allocated)
            expected = (
                self.on_hand.get(row, 0),
                self.reserved(row),
                self.allocated(row),
            )
            if mine != expected:
                raise self.broken(
                    LedgerLaw.CONSERVATION,
                    f"{row[0]}@{row[1]} is (on hand, reserved, allocated) "
                    f"{mine}, the steps account for {expected}",
                )
