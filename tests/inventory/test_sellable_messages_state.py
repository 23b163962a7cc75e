"""The last `sellable` message of a SKU's stream tells what the store gives.

A rule-based machine drives one SKU at two locations through holds,
lapses (the clock moves on), sweeps, receipts, corrections, safety stock,
commits and releases, in a memory and a SQLite unit of work, and checks
after every step what the channels were last told against the store.

A message tells the balances as of its own time, so between a hold's lapse
and its sweep the channels' figure may lag: it is never below what the
ledger recorded (the lapsed hold counted) nor above what is free now (the
lapsed hold free), and, with no lapsed hold unswept, it is exactly what is
sellable now.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Iterator
from typing import Any

import pendulum
import pytest
from hypothesis import note
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
)

from orderkit.adapters.memory import MemoryUnitOfWork
from orderkit.adapters.sqlite import SqliteUnitOfWork
from orderkit.errors import HoldNotLive, InsufficientStock
from orderkit.inventory import Balance, Hold, HoldState
from orderkit.ports import UnitOfWork
from orderkit.services import Ledger
from orderkit.testing import FrozenClock


SKU = "TEAPOT"
PLACES = ("GZ", "SH")
START = pendulum.datetime(2026, 11, 11, tz="UTC")

places = st.sampled_from(PLACES)
# Small figures and short lives: lapses, equal figures and zeros come often.
units = st.integers(min_value=1, max_value=2)
minutes = st.integers(min_value=1, max_value=3)


def _last_told(uow: Any) -> dict[str, int] | None:
    """The SKU's last message: its figure per location, and `"*"` its total."""
    bodies = [
        json.loads(m.payload)
        for m in uow.outbox.unsent(limit=100_000)
        if m.stream == f"sku:{SKU}"
    ]
    if not bodies:
        return None
    last = bodies[-1]
    return {**last["locations"], "*": last["sellable"]}


def _figures(
    balances: list[Balance], holds: list[Hold], now: pendulum.DateTime
) -> tuple[dict[str, int], dict[str, int], bool]:
    """Sellable now (lapsed holds free), as recorded (counted), and any lapsed."""
    lapsed = dict.fromkeys(PLACES, 0)
    for hold in holds:
        if hold.expires_at <= now:
            lapsed[hold.location] += hold.quantity
    free = {b.location: b.sellable() for b in balances}
    recorded = {
        b.location: max(0, b.available - lapsed[b.location] - b.safety_stock)
        for b in balances
    }
    free["*"] = sum(free.values())
    recorded["*"] = sum(recorded.values())
    return free, recorded, any(lapsed.values())


class SellableMessages(RuleBasedStateMachine):
    """Ledger calls in any order; the stream's last message checked after each."""

    make_unit: Callable[[], UnitOfWork]

    def __init__(self) -> None:
        super().__init__()
        self.unit = self.make_unit()
        self.clock = FrozenClock(START)
        self.holds: list[str] = []

    def _do(self, work: Callable[[Ledger], object]) -> object:
        with self.unit as uow:
            ledger = Ledger(uow.ledger, self.clock, outbox=uow.outbox)
            try:
                done = work(ledger)
            except (InsufficientStock, HoldNotLive) as refused:
                note(f"refused: {refused}")
                return None
            uow.commit()
            return done

    @initialize(sh=units, gz=units)
    def stock(self, sh: int, gz: int) -> None:
        self._do(lambda ledger: ledger.receive(SKU, "SH", sh * 2))
        self._do(lambda ledger: ledger.receive(SKU, "GZ", gz * 2))

    @rule(place=places, quantity=units, minutes=minutes)
    def reserve(self, place: str, quantity: int, minutes: int) -> None:
        owner = f"cart-{len(self.holds)}"
        receipt = self._do(
            lambda ledger: ledger.reserve(
                owner, [(SKU, place, quantity)], ttl=dt.timedelta(minutes=minutes)
            )
        )
        if receipt is not None:
            self.holds.extend(h.hold_id for h in receipt.holds)  # type: ignore[attr-defined]

    @rule(minutes=minutes)
    def advance(self, minutes: int) -> None:
        self.clock.advance(minutes=minutes)

    @rule()
    def sweep(self) -> None:
        self._do(lambda ledger: ledger.expire_due())

    @rule(place=places, quantity=units)
    def receive(self, place: str, quantity: int) -> None:
        self._do(lambda ledger: ledger.receive(SKU, place, quantity))

    @rule(place=places, delta=st.sampled_from([-1, 1, 2]))
    def adjust(self, place: str, delta: int) -> None:
        self._do(lambda ledger: ledger.adjust(SKU, place, delta=delta))

    @rule(place=places, quantity=st.integers(0, 2))
    def set_safety_stock(self, place: str, quantity: int) -> None:
        self._do(lambda ledger: ledger.set_safety_stock(SKU, place, quantity))

    @precondition(lambda self: self.holds)
    @rule(pick=st.integers(0), part=st.booleans())
    def commit(self, pick: int, part: bool) -> None:
        hold_id = self.holds[pick % len(self.holds)]
        self._do(lambda ledger: ledger.commit(hold_id, 1 if part else None))

    @precondition(lambda self: self.holds)
    @rule(pick=st.integers(0))
    def release(self, pick: int) -> None:
        hold_id = self.holds[pick % len(self.holds)]
        self._do(lambda ledger: ledger.release(hold_id))

    @precondition(lambda self: self.holds)
    @rule(pick=st.integers(0), minutes=minutes)
    def extend(self, pick: int, minutes: int) -> None:
        hold_id = self.holds[pick % len(self.holds)]
        self._do(lambda ledger: ledger.extend(hold_id, dt.timedelta(minutes=minutes)))

    @invariant()
    def last_message_tells_the_store(self) -> None:
        now = self.clock.now()
        with self.unit as uow:
            told = _last_told(uow)
            balances = list(uow.ledger.balances(now, sku=SKU))
            live = list(uow.ledger.holds(sku=SKU, state=HoldState.LIVE))
        if told is None:
            return  # before the first receipt
        free, recorded, lapsed = _figures(balances, live, now)
        for place in [*PLACES, "*"]:
            figure = told.get(place, 0)
            note(
                f"{place}: told {figure}, recorded {recorded[place]}, now {free[place]}"
            )
            # Never more than is for sale now: that is what channels oversell.
            assert figure <= free[place], (place, told, free)
            assert figure >= recorded[place], (place, told, recorded)
            if not lapsed:
                assert figure == free[place], (place, told, free)


class MemorySellableMessages(SellableMessages):
    """The machine over a memory unit of work."""

    make_unit = staticmethod(MemoryUnitOfWork)


class SqliteSellableMessages(SellableMessages):
    """The machine over a SQLite unit of work (one in-memory database)."""

    make_unit = staticmethod(lambda: SqliteUnitOfWork(":memory:"))


TestMemorySellableMessages = MemorySellableMessages.TestCase
TestSqliteSellableMessages = SqliteSellableMessages.TestCase


@pytest.fixture(params=["memory", "sqlite"])
def unit(request: pytest.FixtureRequest) -> Iterator[UnitOfWork]:
    """A memory or a SQLite unit of work."""
    if request.param == "memory":
        yield MemoryUnitOfWork()
    else:
        yield SqliteUnitOfWork(":memory:")


def test_a_safety_stock_after_a_lapse_told_free_is_told(unit: UnitOfWork) -> None:
    """The figure recorded equals the new one, but the channels were told more.

    A receipt at another location told SH's lapsed hold free (10); the new
    safety stock leaves 7, which is what the ledger recorded before the
    sweep (the hold counted): the channels must still hear of it.
    """
    clock = FrozenClock(START)

    def do(work: Callable[[Ledger], object]) -> object:
        with unit as uow:
            done = work(Ledger(uow.ledger, clock, outbox=uow.outbox))
            uow.commit()
            return done

    do(lambda ledger: ledger.receive(SKU, "SH", 10, key="po-sh"))
    do(lambda ledger: ledger.receive(SKU, "GZ", 5, key="po-gz"))
    do(lambda ledger: ledger.reserve("cart-1", [(SKU, "SH", 3)], key="cart-1"))
    clock.advance(minutes=16)  # the hold lapses, not swept
    do(lambda ledger: ledger.receive(SKU, "GZ", 1, key="po-gz-2"))
    with unit as uow:
        assert _last_told(uow) == {"GZ": 6, "SH": 10, "*": 16}
    assert do(lambda ledger: ledger.set_safety_stock(SKU, "SH", 3)) is None
    with unit as uow:
        assert _last_told(uow) == {"GZ": 6, "SH": 7, "*": 13}


def test_the_same_safety_stock_over_a_lapse_told_counted_is_told(
    unit: UnitOfWork,
) -> None:
    """The sweep inside `set_safety_stock` frees units the channels never heard of."""
    clock = FrozenClock(START)
    with unit as uow:
        ledger = Ledger(uow.ledger, clock, outbox=uow.outbox)
        ledger.receive(SKU, "SH", 10, key="po-sh")
        ledger.reserve("cart-1", [(SKU, "SH", 3)], key="cart-1")
        uow.commit()
    clock.advance(minutes=16)
    with unit as uow:
        Ledger(uow.ledger, clock, outbox=uow.outbox).set_safety_stock(SKU, "SH", 0)
        uow.commit()
    with unit as uow:
        assert _last_told(uow) == {"SH": 10, "*": 10}
