"""The ledger store contract as one algorithm, shared by orderkit's own stores.

A store supplies `Rows`: reads inside its transaction and one final write.
The algorithm (expire, supersede, compare-and-set, move, check) lives here
once, so the memory and SQLite stores cannot drift apart. Host stores may
implement `LedgerStore` any way they like; the contract suite is the judge.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Sequence
from typing import Protocol

import pendulum

from orderkit import _fast
from orderkit._time import plus, plus_or_last
from orderkit._validate import MAX_INT
from orderkit.errors import (
    ConcurrencyConflict,
    HoldNotLive,
    InsufficientStock,
    InvalidQuantity,
    UnknownLocation,
    UnknownSku,
    ValidationError,
)
from orderkit.inventory import (
    Balance,
    Check,
    Hold,
    HoldState,
    Measure,
    Movement,
    MovementKind,
    NoOversell,
    Plan,
    Receipt,
    Shortage,
    StockPolicy,
)
from orderkit.inventory._movements import EXPIRY_KEY_PREFIX
from orderkit.inventory._plans import Swept, signals_of


Row = tuple[str, str]
Figures = list[int]
"""`[on_hand, reserved, allocated, safety_stock]` of one balance."""

_CREATING = frozenset({MovementKind.RECEIVE, MovementKind.ADJUST, MovementKind.RESTOCK})
_MEASURES = {Measure.ON_HAND: 0, Measure.ALLOCATED: 2}

copy_movement = _fast.copier(Movement)
_number_own = _fast.changer(Movement, "index", "at", "seq")
_number = _fast.changer(Movement, "seq")
copy_hold = _fast.copier(Hold)
build_balance = _fast.builder(Balance)
build_movement = _fast.builder(Movement)
build_receipt = _fast.builder(Receipt)
copy_receipt = _fast.copier(Receipt)


class Rows(Protocol):
    """What a store reads inside its transaction, and its one write."""

    def receipt(self, key: str) -> Receipt | None: ...
    def high_water(self) -> pendulum.DateTime | None: ...
    def figures(self, sku: str, location: str) -> Figures | None: ...
    def sku_known(self, sku: str) -> bool: ...
    def location_known(self, location: str) -> bool: ...
    def due_holds(self, row: Row, at: pendulum.DateTime) -> Iterable[Hold]: ...
    def owner_holds(self, owner: str, row: Row) -> Iterable[Hold]: ...
    def hold(self, hold_id: str) -> Hold | None: ...
    def policy(self, sku: str) -> StockPolicy: ...
    def next_seq(self) -> int: ...
    def write(
        self,
        high_water: pendulum.DateTime,
        figures: dict[Row, Figures],
        holds: list[Hold],
        movements: list[Movement],
        receipt: Receipt | None,
    ) -> None: ...


class _Work:
    """One plan's or sweep's changes, gathered before anything is written."""

    def __init__(self, rows: Rows, at: pendulum.DateTime) -> None:
        self.rows = rows
        self.at = at
        self.figures: dict[Row, Figures] = {}
        self.holds: dict[str, Hold] = {}
        self.movements: list[Movement] = []
        self.written: list[Movement] = []
        self.balances: list[Balance] = []

    def read(self, row: Row, *, creating: bool) -> Figures:
        """Read the row's figures from the store into `self.figures`, once.

        Callers look in `self.figures` first (`self.figures.get(row) or ...`:
        figures are never empty), so a row read already costs one lookup.
        """
        found = self.rows.figures(*row)
        if found is None:
            if not creating:
                _require_known(self.rows, row)
            found = [0, 0, 0, 0]
        figures = self.figures[row] = list(found)
        return figures

    def move(self, movement: Movement) -> None:
        row = (movement.sku, movement.location)
        figures = self.figures.get(row) or self.read(
            row,
            creating=movement.kind in _CREATING
            or (movement.kind is MovementKind.TRANSFER and movement.on_hand > 0),
        )
        if movement.counted is not None:
            movement = copy_movement(movement, on_hand=movement.counted - figures[0])
        figures[0] += movement.on_hand
        figures[1] += movement.reserved
        figures[2] += movement.allocated
        self.movements.append(movement)

    def resolve(self, hold: Hold, state: HoldState, key: str) -> None:
        """Release or expire a live hold in full."""
        self.holds[hold.hold_id] = copy_hold(hold, state=state, resolved_at=self.at)
        kind = (
            MovementKind.EXPIRE if state is HoldState.EXPIRED else MovementKind.RELEASE
        )
        self.move(
            build_movement(
                key,
                0,
                kind,
                hold.sku,
                hold.location,
                0,
                -hold.quantity,
                0,
                self.at,
                "",
                "system",
                hold.hold_id,
                None,
                0,
            )
        )

    def expire_due(self, row: Row) -> None:
        for hold in self.rows.due_holds(row, self.at):
            if hold.hold_id not in self.holds:
                self.resolve(hold, HoldState.EXPIRED, expiry_key(hold))

    def finish(
        self, key: str | None, own: Sequence[str] = (), *, remember: bool = True
    ) -> Receipt | None:
        """Number the movements, check no figure is negative, write it all."""
        seq = self.rows.next_seq()
        numbered: list[Movement] = []
        index = 0
        at = self.at
        for m in self.movements:
            if m.key == key:
                numbered.append(_number_own(m, index, at, seq))
                index += 1
            else:
                numbered.append(_number(m, seq))
            seq += 1
        balances = []
        for (sku, location), figures in self.figures.items():
            on_hand, reserved, allocated, safety = figures
            if not (
                0 <= on_hand <= MAX_INT
                and 0 <= reserved <= MAX_INT
                and 0 <= allocated <= MAX_INT
            ):
                _refuse(sku, location, figures)
            balances.append(
                build_balance(sku, location, on_hand, reserved, allocated, safety)
            )
        self.balances = balances
        # The plan's own holds first: `receipt.holds[0]` is what a caller made.
        # `self.holds` is keyed by hold id and holds every id of `own`, so it
        # holds others exactly when it has more keys than `own` has distinct ids.
        written = self.holds
        holds = [written[hold_id] for hold_id in own]
        mine = set(own)
        if len(written) > len(mine):
            holds += [h for i, h in written.items() if i not in mine]
        receipt = None
        if key is not None:
            receipt = build_receipt(
                key,
                self.at,
                tuple(numbered),
                tuple(holds),
                tuple(balances),
                False,  # noqa: FBT003 - a generated builder
            )
        self.rows.write(
            self.at, self.figures, holds, numbered, receipt if remember else None
        )
        self.written = numbered
        return receipt


def _refuse(sku: str, location: str, figures: Figures) -> None:
    """Raise for the first of a balance's counts out of a store's range."""
    for name, value in zip(("on_hand", "reserved", "allocated"), figures, strict=False):
        if value < 0:
            raise InvalidQuantity(
                f"balance[{sku!r}, {location!r}].{name}",
                value,
                "would fall below zero",
            )
        if value > MAX_INT:
            # Every store holds a signed 64-bit count, and reads refuse more.
            raise InvalidQuantity(
                f"balance[{sku!r}, {location!r}].{name}",
                value,
                "would exceed 2**63 - 1",
            )


def _require_known(rows: Rows, row: Row) -> None:
    sku, location = row
    # A SKU is known once stock of it was recorded, or a policy set for it:
    # a new product on pre-order has no stock yet, and its policy says so.
    if not rows.sku_known(sku) and isinstance(rows.policy(sku), NoOversell):
        raise UnknownSku(sku)
    if not rows.location_known(location):
        raise UnknownLocation(location)


def _time(rows: Rows, now: pendulum.DateTime) -> pendulum.DateTime:
    mark = rows.high_water()
    return now if mark is None or now >= mark else mark


def apply_plan(rows: Rows, plan: Plan) -> Receipt:
    """Apply `plan` through `rows`, as `LedgerStore.apply` promises."""
    # A plan that need not be remembered has a key never seen before.
    first = rows.receipt(plan.key) if plan.remember else None
    if first is not None:
        return copy_receipt(first, replayed=True)
    work = _Work(rows, _time(rows, plan.now))
    touched = plan.touched()
    for row in touched:
        work.expire_due(row)
    if plan.supersede is not None:
        for row in touched:
            for hold in rows.owner_holds(plan.supersede, row):
                if hold.hold_id not in work.holds:
                    work.resolve(hold, HoldState.RELEASED, plan.key)
    _write_holds(work, plan)
    for movement in plan.movements:
        work.move(movement)
    _check(work, plan)
    receipt = work.finish(
        plan.key, [w.new.hold_id for w in plan.holds], remember=plan.remember
    )
    assert receipt is not None  # noqa: S101 - finish returns one whenever given a key
    return receipt


def expire_due(
    rows: Rows,
    now: pendulum.DateTime,
    find_due: Callable[[pendulum.DateTime], Iterable[Hold]],
) -> Swept:
    """Expire the holds `find_due(now)` yields, which the store finds in O(expired).

    Due by the `now` given, not the store's later time: the caller took the
    streams of the holds due by it first (`Ledger.expire_due`, which gives
    the store's own time when the store tells it). Holds due by a later
    time alone count as expired already, and a later sweep writes them.
    """
    work = _Work(rows, _time(rows, now))
    for hold in find_due(now):
        if (
            hold.state is HoldState.LIVE
            and hold.expires_at <= now
            and hold.hold_id not in work.holds
        ):
            work.resolve(hold, HoldState.EXPIRED, expiry_key(hold))
    work.finish(None)
    return Swept(work.written, signals_of(work.written, work.balances))


# What a hold write may not change: a hold is one owner's units of one row.
_IDENTITY = ("owner", "sku", "location", "quantity", "placed_at")
_NOT_LATE = dt.timedelta(0)


def _write_holds(work: _Work, plan: Plan) -> None:
    # The store works at `at`, which a clock stepping back puts after the
    # plan's `now`: times the plan derived from `now` move on with it, so a
    # hold is never born expired and never resolved before it was placed.
    # datetime's own subtraction: pendulum's builds an Interval, 20x slower.
    late = _NOT_LATE if work.at == plan.now else dt.datetime.__sub__(work.at, plan.now)
    for write in plan.holds:
        hold_id = write.new.hold_id
        if write.expected is not None:
            _check_identity(write.expected, write.new)
            if (
                write.expected.state is not HoldState.LIVE
                and write.new.state is HoldState.LIVE
            ):
                raise ValidationError(
                    f"holds[{hold_id!r}].state",
                    write.new.state.value,
                    f"a hold leaves live once: it is {write.expected.state}",
                )
            if write.new.expires_at < write.expected.expires_at:
                raise ValidationError(
                    f"holds[{hold_id!r}].expires_at",
                    write.new.expires_at,
                    "a hold's expiry never moves earlier",
                )
        current = work.holds.get(hold_id) or work.rows.hold(hold_id)
        if current != write.expected:
            if (
                current is not None
                and write.expected is not None
                and write.expected.state is HoldState.LIVE
                and current.state is HoldState.EXPIRED
            ):
                raise HoldNotLive(hold_id, HoldState.EXPIRED.value)
            raise ConcurrencyConflict(f"hold:{hold_id}")
        work.holds[hold_id] = catch_up(write.expected, write.new, late, work.at)


def _check_identity(expected: Hold, new: Hold) -> None:
    if (new.owner, new.sku, new.location, new.quantity, new.placed_at) == (
        expected.owner,
        expected.sku,
        expected.location,
        expected.quantity,
        expected.placed_at,
    ):
        return
    name = next(n for n in _IDENTITY if getattr(new, n) != getattr(expected, n))
    raise ValidationError(
        f"holds[{new.hold_id!r}].{name}",
        getattr(new, name),
        "a hold write may change only its state, expiry, commitment and shipping",
    )


def expiry_key(hold: Hold) -> str:
    """The key of a hold's expiry: the ledger's own, no caller's (see `Plan.key`)."""
    return f"{EXPIRY_KEY_PREFIX}{hold.hold_id}"


def catch_up(
    expected: Hold | None, new: Hold, late: dt.timedelta, at: pendulum.DateTime
) -> Hold:
    """`new` moved on by `late` to the store's time `at` (`expected`: what it replaces).

    The store works at `at` when a clock stepping back puts it after the
    plan's time: what the plan derived from its time moves on with it.
    """
    if not late:
        return new
    changes: dict[str, object] = {}
    if expected is None:
        changes["placed_at"] = plus(new.placed_at, late)
    if expected is None or expected.expires_at != new.expires_at:
        # A hold that ends at the end of time ends there still.
        changes["expires_at"] = plus_or_last(new.expires_at, late)
    resolved = new.resolved_at
    if (
        resolved is not None
        and resolved < at
        and (expected is None or expected.resolved_at != resolved)
    ):
        # Only a resolution this write makes moves on; one made long ago
        # (a committed hold shipped now) stays when it happened.
        changes["resolved_at"] = at
    return copy_hold(new, **changes) if changes else new


def shortage(check: Check, available: int) -> Shortage:
    """What `check` lacked, `available` being the figure the error reports."""
    return Shortage(
        check.sku, check.location, check.requested, available, check.measure.value
    )


def _check(work: _Work, plan: Plan) -> None:
    shortages = []
    loaded = work.figures
    for check in plan.checks:
        row = (check.sku, check.location)
        figures = loaded.get(row) or work.read(row, creating=False)
        on_hand, reserved, allocated, _ = figures
        value = (
            on_hand - reserved - allocated
            if check.measure is Measure.AVAILABLE
            else figures[_MEASURES[check.measure]]
        )
        minimum = (
            work.rows.policy(check.sku).floor(work.at)
            if check.minimum is None
            else check.minimum
        )
        if value < minimum:
            shortages.append(shortage(check, value + check.requested - minimum))
    if shortages:
        raise InsufficientStock(shortages)
