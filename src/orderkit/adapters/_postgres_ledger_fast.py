"""The PostgreSQL ledger's fast path: a plan in one call of a server-side function.

`prepare` turns a plan a function can apply alone into the call's
parameters: the reservation of one line, the commonest plan of all, into a
call of `orderkit_ledger_hold` with plain parameters; any other plan of new
holds only, with no stocktake and no hold id twice, into a call of
`orderkit_ledger_apply` with the plan as JSON. `OneCall.run`
sends it and turns the answer into the receipt the engine would have
returned, or raises the shortage, or says that the engine must run the
plan after all (`None`), the function having written nothing.

The receipt is built here from the plan, as the engine's `finish` builds
it: the plan's movements numbered with the stored numbers (its own ones
indexed in order and at the store's time), its new holds (moved on by the
difference when the store's time is later than the plan's), and the
balances the plan moved, then those it checked, as they ended.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from typing import Any, Final

from orderkit.adapters import _ledger_engine as engine
from orderkit.adapters._ledger_rows import hold_row, movement_row
from orderkit.adapters._micros import from_us, to_us
from orderkit.adapters._postgres_ledger_tables import load_receipt
from orderkit.adapters._postgres_session import Cursor
from orderkit.errors import InsufficientStock
from orderkit.inventory import HoldState, Measure, MovementKind, Plan, Receipt


APPLY: Final = "SELECT * FROM orderkit_ledger_apply(%s, %s, %s, %s, %s, %s)"
"""One call of `orderkit_ledger_apply` (`_postgres_ledger_function`); its
parameters: the lock, the key, remember, the plan's time, the superseded
owner, and the plan as one JSON document."""
HOLD: Final = (
    "SELECT * FROM orderkit_ledger_hold(%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s,"
    " %s, %s)"
)
"""One call of `orderkit_ledger_hold`, for a plan of one new hold on one
balance; its parameters: the key, remember, the plan's time, the superseded
owner, then the hold's balance, quantity, id, owner, placed and expiry
instants, and the movement's reason and actor."""

_MEASURES: Final = {Measure.AVAILABLE: 0, Measure.ON_HAND: 1, Measure.ALLOCATED: 2}
_ENCODE: Final = json.JSONEncoder(separators=(",", ":")).encode
_APPLIED, _REPLAYED, _SHORT = 0, 1, 2
_NOT_LATE: Final = dt.timedelta(0)


class OneCall:
    """One plan as a call of a ledger function, and its answer read back.

    Both functions answer alike (see `_postgres_ledger_function`).
    """

    __slots__ = ("_loaded", "_now", "_own", "_params", "_plan", "_rows", "_statement")

    def __init__(  # noqa: PLR0913 - the call, and what reading its answer needs
        self,
        plan: Plan,
        statement: str,
        params: tuple[Any, ...],
        *,
        rows: Sequence[engine.Row],
        loaded: Sequence[int],
        own: Sequence[int | None],
    ) -> None:
        self._plan = plan
        self._statement = statement
        self._params = params
        self._now = to_us(plan.now)
        self._rows = rows
        self._loaded = loaded
        self._own = own

    def run(self, cur: Cursor) -> Receipt | None:
        """Apply the plan in one statement; `None`: the engine must run it.

        Raises:
            InsufficientStock: A check failed; nothing was written.
        """
        found = cur.execute(self._statement, self._params).fetchone()
        assert found is not None  # noqa: S101 - a function's one row
        status, at, seqs, body, figures = found
        if status == _APPLIED:
            return self._receipt(at, seqs, figures)
        if status == _REPLAYED:
            return engine.copy_receipt(load_receipt(body, seqs), replayed=True)
        if status == _SHORT:
            checks = self._plan.checks
            raise InsufficientStock(
                [
                    engine.shortage(checks[index], available)
                    for index, available in zip(
                        figures[::2], figures[1::2], strict=True
                    )
                ]
            )
        return None

    def _receipt(
        self, at_us: int, seqs: Sequence[int], figures: Sequence[int]
    ) -> Receipt:
        plan = self._plan
        now = plan.now
        at = now if at_us == self._now else from_us(at_us)
        movements = tuple(
            engine.copy_movement(m, seq=seq)
            if index is None
            else engine.copy_movement(m, index=index, at=at, seq=seq)
            for m, index, seq in zip(plan.movements, self._own, seqs, strict=True)
        )
        late = _NOT_LATE if at is now else dt.datetime.__sub__(at, now)
        holds = tuple(engine.catch_up(None, w.new, late, at) for w in plan.holds)
        rows = self._rows
        balances = tuple(
            engine.build_balance(*rows[i], *figures[4 * i : 4 * i + 4])
            for i in self._loaded
        )
        return engine.build_receipt(
            plan.key,
            at,
            movements,
            holds,
            balances,
            False,  # noqa: FBT003 - a generated builder
        )


def prepare(plan: Plan, *, locking: bool) -> OneCall | None:
    """The plan as one call, or `None` when only the engine can apply it.

    `locking` false reads the balances unlocked: `PostgresRows.locking`'s
    deliberately broken test variant, never false in use.
    """
    if locking:
        call = _one_hold(plan)
        if call is not None:
            return call
    return _whole_plan(plan, locking=locking)


def _whole_plan(plan: Plan, *, locking: bool) -> OneCall | None:
    """The plan as a call of `orderkit_ledger_apply`, if it can apply it."""
    holds = []
    for write in plan.holds:
        if write.expected is not None:
            return None  # a compare-and-set of a stored hold
        holds.append(hold_row(write.new))
    if len({h[0] for h in holds}) != len(holds):
        return None  # one id written twice: the engine's conflict
    key = plan.key
    now = to_us(plan.now)
    deltas: dict[engine.Row, list[int]] = {}
    movements: list[tuple[Any, ...]] = []
    own: list[int | None] = []
    count = 0
    for m in plan.movements:
        if m.counted is not None:
            return None  # a stocktake sets on hand from what it finds
        row = (m.sku, m.location)
        delta = deltas.get(row)
        if delta is None:
            delta = deltas[row] = [0, 0, 0]
        delta[0] += m.on_hand
        delta[1] += m.reserved
        delta[2] += m.allocated
        if m.key == key:
            own.append(count)
            movements.append(movement_row(m, count, now, len(own)))
            count += 1
        else:
            own.append(None)
            movements.append(movement_row(m, seq=len(own)))
    checks = plan.checks
    rows = sorted(plan.touched())
    where = {row: i for i, row in enumerate(rows)}
    loaded = dict.fromkeys(deltas)
    for c in checks:
        loaded[c.sku, c.location] = None
    loaded_at = [where[row] for row in loaded]
    zero = (0, 0, 0)
    document = _ENCODE(
        (
            [(*row, *deltas.get(row, zero)) for row in rows],
            loaded_at,
            [
                (where[c.sku, c.location], _MEASURES[c.measure], c.minimum, c.requested)
                for c in checks
            ],
            holds,
            movements,
        )
    )
    params = (locking, key, plan.remember, now, plan.supersede, document)
    return OneCall(plan, APPLY, params, rows=rows, loaded=loaded_at, own=own)


_ONE: Final = (0,)


def _one_hold(plan: Plan) -> OneCall | None:
    """A reservation of one line as a call of `orderkit_ledger_hold`, if it is one.

    The plan must be the planner's reservation of one line, exactly: one new
    live hold, its own hold movement and nothing else, and one check of the
    hold's balance for the hold's quantity under the SKU's stock policy.
    """
    if len(plan.holds) != 1 or len(plan.movements) != 1 or len(plan.checks) != 1:
        return None
    write = plan.holds[0]
    hold = write.new
    m = plan.movements[0]
    c = plan.checks[0]
    sku = hold.sku
    location = hold.location
    quantity = hold.quantity
    if not (
        write.expected is None
        and hold.state is HoldState.LIVE
        and hold.committed == hold.shipped == 0
        and hold.resolved_at is None
        and m.key == plan.key
        and m.kind is MovementKind.HOLD
        and m.hold_id == hold.hold_id
        and m.sku == c.sku == sku
        and m.location == c.location == location
        and m.on_hand == m.allocated == 0
        and m.reserved == c.requested == quantity > 0
        and m.counted is None
        and c.measure is Measure.AVAILABLE
        and c.minimum is None
    ):
        return None
    now = to_us(plan.now)
    params = (
        plan.key,
        plan.remember,
        now,
        plan.supersede,
        sku,
        location,
        quantity,
        hold.hold_id,
        hold.owner,
        to_us(hold.placed_at),
        to_us(hold.expires_at),
        m.reason,
        m.actor,
    )
    return OneCall(plan, HOLD, params, rows=((sku, location),), loaded=_ONE, own=_ONE)
