"""A hypothesis state machine: the ledger over any store against a plain-dict model.

The model mirrors the store contract step by step, including when holds are
physically marked expired (on the balances a plan touches, or by a sweep),
so stored hold states and the replayed movements can be compared exactly.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import attrs
import pendulum
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    invariant,
    multiple,
    precondition,
    rule,
)

from orderkit.errors import HoldNotLive, InsufficientStock, UnknownLocation, UnknownSku
from orderkit.inventory import (
    Backorder,
    HoldState,
    MovementKind,
    NoOversell,
    Receipt,
    Shortage,
    replay,
)
from orderkit.ports import LedgerStore
from orderkit.services import Ledger
from orderkit.testing._clock import FrozenClock


_START = pendulum.datetime(2026, 11, 11, 0, 0)
_TTL = dt.timedelta(minutes=15)
_SKUS = ("TEA", "MUG")
_LOCATIONS = ("W1", "W2")
_OWNERS = ("cart-1", "cart-2", "order-3")

Row = tuple[str, str]


@attrs.define
class _Hold:
    hold_id: str
    owner: str
    row: Row
    quantity: int
    placed_at: pendulum.DateTime
    expires_at: pendulum.DateTime
    state: HoldState = HoldState.LIVE
    committed: int = 0
    shipped: int = 0


def ledger_machine(
    make_store: Callable[[], LedgerStore],
    dispose: Callable[[LedgerStore], None] | None = None,
) -> type[RuleBasedStateMachine]:
    """Return a state machine class that runs a `Ledger` over `make_store()`.

    `dispose(store)`, if given, is called with each run's store when the run
    ends (a store on a database drops its schema there).
    """

    class LedgerMachine(RuleBasedStateMachine):
        """Receive, reserve, extend, release, commit, ship, unallocate, sweep, count."""

        holds = Bundle("holds")

        def __init__(self) -> None:
            super().__init__()
            self.clock = FrozenClock(_START)
            self.store = make_store()
            self.ledger = Ledger(self.store, self.clock, hold_ttl=_TTL)
            self.mark: pendulum.DateTime | None = None
            self.on_hand: dict[Row, int] = {}
            self.flows: dict[Row, int] = {}
            self.model: dict[str, _Hold] = {}
            self.limits: dict[str, int] = {}
            self.keys = 0
            # Each keyed step that wrote: how to run it again, and its receipt.
            self.done: dict[str, tuple[Callable[[], Receipt], Receipt]] = {}

        def teardown(self) -> None:
            if dispose is not None:
                dispose(self.store)

        # model helpers

        def at(self) -> pendulum.DateTime:
            now = self.clock.now()
            return now if self.mark is None or now >= self.mark else self.mark

        def key(self) -> str:
            self.keys += 1
            return f"op-{self.keys}"

        def wrote(self, key: str, again: Callable[[], Receipt]) -> Receipt:
            """Run `again` once, and record it to be repeated under `key`."""
            receipt = again()
            self.done[key] = (again, receipt)
            return receipt

        def snapshot(self) -> tuple[Any, ...]:
            return (
                tuple(self.store.balances(self.at())),
                tuple(self.store.holds()),
                tuple(self.store.movements(limit=100_000)),
            )

        def live(self, hold: _Hold, at: pendulum.DateTime) -> bool:
            return hold.state is HoldState.LIVE and hold.expires_at > at

        def reserved(self, row: Row, at: pendulum.DateTime) -> int:
            return sum(
                h.quantity
                for h in self.model.values()
                if h.row == row and self.live(h, at)
            )

        def allocated(self, row: Row) -> int:
            return sum(
                h.committed - h.shipped for h in self.model.values() if h.row == row
            )

        def available(self, row: Row, at: pendulum.DateTime) -> int:
            on_hand = self.on_hand.get(row, 0)
            return on_hand - self.reserved(row, at) - self.allocated(row)

        def expire_rows(self, rows: set[Row], at: pendulum.DateTime) -> None:
            """What a successful plan does first: mark due holds there expired."""
            for h in self.model.values():
                if h.row in rows and h.state is HoldState.LIVE and h.expires_at <= at:
                    h.state = HoldState.EXPIRED
            self.mark = at

        def known(self, row: Row) -> Exception | None:
            if row in self.on_hand:
                return None
            # A SKU with stock recorded, or a policy that sells without it.
            if row[0] not in {r[0] for r in self.on_hand} and not self.limits.get(
                row[0]
            ):
                return UnknownSku(row[0])
            if row[1] not in {r[1] for r in self.on_hand}:
                return UnknownLocation(row[1])
            return None

        # rules

        @rule(
            sku=st.sampled_from(_SKUS),
            location=st.sampled_from(_LOCATIONS),
            quantity=st.integers(1, 5),
        )
        def receive(self, sku: str, location: str, quantity: int) -> None:
            row = (sku, location)
            at, key = self.at(), self.key()
            self.wrote(
                key, lambda: self.ledger.receive(sku, location, quantity, key=key)
            )
            self.on_hand[row] = self.on_hand.get(row, 0) + quantity
            self.flows[row] = self.flows.get(row, 0) + quantity
            self.expire_rows({row}, at)

        @rule(
            target=holds,
            owner=st.sampled_from(_OWNERS),
            lines=st.lists(
                st.tuples(
                    st.sampled_from(_SKUS),
                    st.sampled_from(_LOCATIONS),
                    st.integers(1, 4),
                ),
                min_size=1,
                max_size=3,
            ),
        )
        def reserve(self, owner: str, lines: list[tuple[str, str, int]]) -> object:
            demand: dict[Row, int] = {}
            for sku, location, quantity in lines:
                demand[sku, location] = demand.get((sku, location), 0) + quantity
            at = self.at()
            key = self.key()
            unknown = next(
                (e for row in demand if (e := self.known(row)) is not None), None
            )
            if unknown is not None:
                try:
                    self.ledger.reserve(owner, lines, key=key)
                except (UnknownSku, UnknownLocation) as error:
                    assert type(error) is type(unknown)
                    assert error.value == unknown.value
                    return multiple()
                raise AssertionError(f"expected {unknown!r}")
            mine = [
                h
                for h in self.model.values()
                if h.owner == owner and h.row in demand and self.live(h, at)
            ]
            short = []
            for row, quantity in demand.items():
                floor = -self.limits.get(row[0], 0)
                freed = sum(h.quantity for h in mine if h.row == row)
                can = self.available(row, at) + freed - floor
                if can < quantity:
                    short.append(Shortage(row[0], row[1], quantity, can))
            try:
                receipt = self.wrote(
                    key, lambda: self.ledger.reserve(owner, lines, key=key)
                )
            except InsufficientStock as error:
                assert error.shortages == tuple(short)
                return multiple()
            assert not short, short
            self.expire_rows(set(demand), at)
            for row in demand:
                self.on_hand.setdefault(row, 0)
                self.flows.setdefault(row, 0)
            for h in mine:
                h.state = HoldState.RELEASED
            made = []
            for i, (row, quantity) in enumerate(demand.items()):
                # Stamped at the store's time: a clock behind the store's
                # latest time never makes a hold that is born expired.
                hold = _Hold(f"{key}/{i}", owner, row, quantity, at, at + _TTL)
                self.model[hold.hold_id] = hold
                made.append(hold.hold_id)
            assert [h.hold_id for h in receipt.holds[: len(made)]] == made
            return multiple(*made)

        @rule(hold_id=holds, minutes=st.integers(1, 30))
        def extend(self, hold_id: str, minutes: int) -> None:
            hold = self.model[hold_id]
            at = self.at()
            wanted = self.clock.now() + dt.timedelta(minutes=minutes)
            if not self.live(hold, at):
                try:
                    self.ledger.extend(hold_id, dt.timedelta(minutes=minutes))
                except HoldNotLive:
                    return
                raise AssertionError("extended a hold that is not live")
            new = self.ledger.extend(hold_id, dt.timedelta(minutes=minutes))
            if wanted > hold.expires_at:
                # The extension moves on with the store's time, as new holds do.
                hold.expires_at = at + dt.timedelta(minutes=minutes)
            assert new.expires_at == hold.expires_at
            self.expire_rows({hold.row}, at)

        @rule(hold_id=holds)
        def release(self, hold_id: str) -> None:
            hold = self.model[hold_id]
            at = self.at()
            outcome = self.ledger.release(hold_id)
            assert outcome.changed == self.live(hold, at)
            if outcome.changed:
                self.expire_rows({hold.row}, at)
                hold.state = HoldState.RELEASED

        @rule(hold_id=holds, data=st.data())
        def commit(self, hold_id: str, data: st.DataObject) -> None:
            hold = self.model[hold_id]
            at = self.at()
            quantity = data.draw(st.integers(1, hold.quantity))
            if hold.state is HoldState.COMMITTED:
                assert not self.ledger.commit(hold_id, quantity).changed
                return
            if not self.live(hold, at):
                try:
                    self.ledger.commit(hold_id, quantity)
                except HoldNotLive:
                    return
                raise AssertionError("committed a hold that is not live")
            assert self.ledger.commit(hold_id, quantity).changed
            self.expire_rows({hold.row}, at)
            hold.state = HoldState.COMMITTED
            hold.committed = quantity

        @rule(owner=st.sampled_from(_OWNERS), data=st.data())
        def ship(self, owner: str, data: st.DataObject) -> None:
            committed = sorted(
                (
                    h
                    for h in self.model.values()
                    if h.owner == owner and h.committed > h.shipped
                ),
                key=lambda h: (h.placed_at, h.hold_id),
            )
            rows = sorted({h.row for h in committed})
            if not rows:
                return
            row = data.draw(st.sampled_from(rows))
            quantity = data.draw(st.integers(1, 4))
            mine = [h for h in committed if h.row == row]
            have = sum(h.committed - h.shipped for h in mine)
            at = self.at()
            expected = None
            if have < quantity:
                expected = Shortage(row[0], row[1], quantity, have, "allocated")
            elif self.on_hand[row] < quantity:
                expected = Shortage(
                    row[0], row[1], quantity, self.on_hand[row], "on_hand"
                )
            try:
                self.ledger.ship(owner, [(row[0], row[1], quantity)])
            except InsufficientStock as error:
                assert error.shortages == (expected,)
                return
            assert expected is None, expected
            self.expire_rows({row}, at)
            left = quantity
            for h in mine:
                taken = min(left, h.committed - h.shipped)
                h.shipped += taken
                left -= taken
            self.on_hand[row] -= quantity
            self.flows[row] -= quantity

        @rule(owner=st.sampled_from(_OWNERS), data=st.data())
        def unallocate(self, owner: str, data: st.DataObject) -> None:
            # Newest committed units go back first: what ships is what was
            # held first.
            committed = sorted(
                (
                    h
                    for h in self.model.values()
                    if h.owner == owner and h.committed > h.shipped
                ),
                key=lambda h: (h.placed_at, h.hold_id),
                reverse=True,
            )
            rows = sorted({h.row for h in committed})
            if not rows:
                return
            row = data.draw(st.sampled_from(rows))
            quantity = data.draw(st.integers(1, 4))
            mine = [h for h in committed if h.row == row]
            have = sum(h.committed - h.shipped for h in mine)
            at = self.at()
            try:
                self.ledger.unallocate(owner, [(row[0], row[1], quantity)])
            except InsufficientStock as error:
                assert have < quantity
                assert error.shortages == (
                    Shortage(row[0], row[1], quantity, have, "allocated"),
                )
                return
            assert have >= quantity
            self.expire_rows({row}, at)
            left = quantity
            for h in mine:
                taken = min(left, h.committed - h.shipped)
                h.committed -= taken
                left -= taken

        @rule(data=st.data(), counted=st.integers(0, 8))
        def stocktake(self, data: st.DataObject, counted: int) -> None:
            if not self.on_hand:
                return
            row = data.draw(st.sampled_from(sorted(self.on_hand)))
            at, key = self.at(), self.key()
            self.wrote(
                key,
                lambda: self.ledger.adjust(
                    row[0], row[1], counted=counted, reason="stocktake", key=key
                ),
            )
            self.flows[row] += counted - self.on_hand[row]
            self.on_hand[row] = counted
            self.expire_rows({row}, at)

        @rule(sku=st.sampled_from(_SKUS), limit=st.integers(0, 3))
        def set_policy(self, sku: str, limit: int) -> None:
            self.ledger.set_policy(sku, Backorder(limit) if limit else NoOversell())
            self.limits[sku] = limit

        @precondition(lambda self: bool(self.done))
        @rule(data=st.data())
        def repeat(self, data: st.DataObject) -> None:
            # A retry, however late: the first receipt, and nothing written.
            key = data.draw(st.sampled_from(list(self.done)), label="retried key")
            again, first = self.done[key]
            before = self.snapshot()
            receipt = again()
            assert receipt.replayed, key
            assert receipt.movements == first.movements, key
            assert self.snapshot() == before, key

        @rule(minutes=st.integers(-20, 30))
        def move_clock(self, minutes: int) -> None:
            self.clock.advance(minutes=minutes)

        @precondition(lambda self: bool(self.model))
        @rule()
        def sweep(self) -> None:
            # A store that tells its time is swept at it; another by the
            # caller's clock, a hold due by its later time alone left live.
            at = self.at()
            tells = getattr(self.store, "high_water", None) is not None
            by = at if tells else self.clock.now()
            swept = self.ledger.expire_due()
            due = {
                h.hold_id
                for h in self.model.values()
                if h.state is HoldState.LIVE and h.expires_at <= by
            }
            assert {m.hold_id for m in swept} == due
            self.expire_rows({h.row for h in self.model.values()}, by)
            self.mark = at

        # invariants

        @invariant()
        def balances_match_the_model(self) -> None:
            at = self.at()
            stored = {(b.sku, b.location): b for b in self.ledger.balances()}
            assert set(stored) == set(self.on_hand)
            for row, on_hand in self.on_hand.items():
                b = stored[row]
                expected = (on_hand, self.reserved(row, at), self.allocated(row))
                assert (b.on_hand, b.reserved, b.allocated) == expected, row
                assert b.on_hand == self.flows[row]  # conservation

        @invariant()
        def holds_match_the_model(self) -> None:
            for hold_id, h in self.model.items():
                stored = self.ledger.hold(hold_id)
                assert (
                    stored.state,
                    stored.committed,
                    stored.shipped,
                    stored.expires_at,
                ) == (h.state, h.committed, h.shipped, h.expires_at), hold_id

        @invariant()
        def movements_replay_and_resolve_each_hold_once(self) -> None:
            movements = self.ledger.movements(limit=100_000)
            rebuilt = replay(movements)
            at = self.at()
            for row, on_hand in self.on_hand.items():
                unswept = sum(
                    h.quantity
                    for h in self.model.values()
                    if h.row == row and h.state is HoldState.LIVE and h.expires_at <= at
                )
                b = rebuilt[row]
                assert (b.on_hand, b.reserved, b.allocated) == (
                    on_hand,
                    self.reserved(row, at) + unswept,
                    self.allocated(row),
                )
            # Each balance's stock card, and each SKU's, is the log filtered.
            for sku, location in self.on_hand:
                card = self.ledger.movements(limit=100_000, sku=sku, location=location)
                assert list(card) == [
                    m for m in movements if (m.sku, m.location) == (sku, location)
                ]
            for sku in {sku for sku, _ in self.on_hand}:
                card = self.ledger.movements(limit=100_000, sku=sku)
                assert list(card) == [m for m in movements if m.sku == sku]
            resolutions: dict[str, set[str]] = {}
            ending = {MovementKind.RELEASE, MovementKind.EXPIRE, MovementKind.COMMIT}
            for m in movements:
                if m.kind in ending and m.hold_id is not None:
                    resolutions.setdefault(m.hold_id, set()).add(m.key)
            assert all(len(keys) == 1 for keys in resolutions.values())

    return LedgerMachine
