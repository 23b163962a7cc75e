"""What a unit of work holds, read part by part, and how two such readings differ.

Each part is what one `DeskLaw` compares, as a mapping from a key a reader
can follow (`"douyin:DY-1 v3"`, `"balance TEA@W1"`) to the value stored:
the first key whose value differs is what a `LawBroken` reports.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Final, cast

import attrs
import pendulum

from orderkit.inventory import Balance, NoOversell
from orderkit.orders import AuditRecord, Order, OrderStatus, waits
from orderkit.ports import UnitOfWork
from orderkit.testing._desk_ops import PRICES
from orderkit.testing._laws import DeskLaw, LawBroken


State = dict[DeskLaw, dict[str, object]]
"""What a unit holds, per law that compares it, by a key a reader can follow."""
Blame = Callable[[DeskLaw, Exception], LawBroken]
"""Makes the error of a read that failed, naming the law of the part read."""
_S = OrderStatus
# How far along the lifecycle each status is; an ended order stays as it is.
_RANK: Final = {
    _S.PENDING_PAYMENT: 0,
    _S.PAID: 1,
    _S.PICKING: 2,
    _S.PARTIALLY_SHIPPED: 3,
    _S.SHIPPED: 4,
    _S.IN_TRANSIT: 5,
    _S.DELIVERED: 6,
    _S.COMPLETED: 7,
    _S.CANCELLED: 7,
    _S.CLOSED: 7,
}
_PAGE: Final = 100
_WAITS: Final = " waits"
"""Under ORDERS, an order's key and this: the store lists it as waiting."""
_PLACED: Final = "orders by placed instant"
"""Under ORDERS, the orders' keys as the store lists them by placed instant."""
_RECORDED: Final = "records by recorded instant"
"""Under AUDIT, the records' keys as the log lists them by recorded instant."""
_TICK: Final = pendulum.Duration(microseconds=1)
_SHOWN: Final = 160


def read(unit: UnitOfWork, now: pendulum.DateTime, blame: Blame | None = None) -> State:
    """What `unit` holds at `now`, part by part; `blame` names a failed read."""
    state: State = {}
    with unit as uow:
        for law, read_part in _READERS:
            try:
                state[law] = read_part(uow, now, state)
            except Exception as error:
                if blame is None:
                    raise
                raise blame(law, error) from error
    return state


def orders(state: State) -> list[Order]:
    """The orders read, by channel and id."""
    return [v for v in state[DeskLaw.ORDERS].values() if isinstance(v, Order)]


def oversold(state: State) -> str | None:
    """The first balance under `NoOversell` holding more than on hand, or `None`."""
    stock = state[DeskLaw.STOCK]
    for key, balance in stock.items():
        if not isinstance(balance, Balance):
            continue
        policy = stock.get(f"policy {balance.sku}")
        held = balance.reserved + balance.allocated
        if isinstance(policy, NoOversell) and held > balance.on_hand:
            return f"{key} is {balance}"
    return None


def moved_back(was: State, now: State) -> str | None:
    """How an order or its audit trail moved back since `was`, or `None`."""
    found = {f"{o.channel}:{o.order_id}": o for o in orders(now)}
    for old in orders(was):
        key = f"{old.channel}:{old.order_id}"
        problem = _moved_back(old, found.get(key))
        if problem is not None:
            return f"{key} {problem}"
    records = now[DeskLaw.AUDIT]
    for key, record in was[DeskLaw.AUDIT].items():
        if isinstance(record, AuditRecord) and records.get(key) != record:
            return f"the audit record {key} was changed or dropped"
    return None


def difference(
    expected: Mapping[str, object],
    got: Mapping[str, object],
    than: str = "the reference",
) -> str | None:
    """The first way `got` differs from `expected` (what `than` holds), or `None`."""
    for key, value in expected.items():
        if key not in got:
            return f"{key} is missing (in {than}: {short(value)})"
        if got[key] != value:
            return f"{key} differs from {than}{_fields(value, got[key])}"
    for key, value in got.items():
        if key not in expected:
            return f"{key} is there, but not in {than}: {short(value)}"
    return None


def changed(was: State, now: State) -> str:
    """The first thing that changed since `was`."""
    for law, part in was.items():
        found = difference(part, now[law], "the unit before")
        if found is not None:
            return found
    return "it changed"


def short(value: object, length: int = _SHOWN) -> str:
    """`value`'s repr, cut to `length` characters."""
    text = repr(value)
    return text if len(text) <= length else f"{text[:length]}..."


def _moved_back(old: Order, new: Order | None) -> str | None:
    if new is None:
        return "is gone"
    if new.version < old.version:
        return f"went from version {old.version} back to {new.version}"
    if new.status is old.status:
        return None
    if old.status.is_terminal or _RANK[new.status] < _RANK[old.status]:
        return f"moved back from {old.status} to {new.status}"
    if new.version == old.version:
        return f"moved to {new.status} at the same version {new.version}"
    return None


def _fields(expected: object, got: object) -> str:
    if type(expected) is not type(got) or not attrs.has(type(expected)):
        return f": {short(got)}, expected {short(expected)}"
    shown = [
        f"{f.name}={short(getattr(got, f.name))} (expected "
        f"{short(getattr(expected, f.name))})"
        for f in attrs.fields(cast("type[attrs.AttrsInstance]", type(expected)))
        if getattr(got, f.name) != getattr(expected, f.name)
    ]
    return f" in {'; '.join(shown)}"


def _read_orders(
    uow: UnitOfWork, _now: pendulum.DateTime, _state: State
) -> dict[str, object]:
    found = _every(uow.orders.orders)
    held: dict[str, object] = {f"{o.channel}:{o.order_id}": o for o in found}
    # The orders that wait, as the store lists them (its optional read),
    # so a store that keeps its list apart is held to `waits` at each step.
    listing = getattr(uow.orders, "waiting", None)
    waiting = [o for o in found if waits(o)] if listing is None else _every(listing)
    held.update((f"{o.channel}:{o.order_id}{_WAITS}", True) for o in waiting)
    # By placed instant, as the store lists them (its optional read), over
    # the instants the orders span.
    placed = sorted(found, key=lambda o: (o.placed_at, o.channel, o.order_id))
    between = getattr(uow.orders, "placed_between", None)
    if between is not None and found:
        start, end = placed[0].placed_at, placed[-1].placed_at + _TICK
        placed = []
        while page := between(
            start, end, after=placed[-1] if placed else None, limit=_PAGE
        ):
            placed.extend(page)
    held[_PLACED] = tuple(f"{o.channel}:{o.order_id}" for o in placed)
    return held


def _every(listing: Callable[..., Sequence[Order]]) -> list[Order]:
    """Every order `listing` pages through, by channel and id."""
    found: list[Order] = []
    while page := listing(
        after=(found[-1].channel, found[-1].order_id) if found else None, limit=_PAGE
    ):
        found.extend(page)
    return found


def _read_audit(
    uow: UnitOfWork, _now: pendulum.DateTime, state: State
) -> dict[str, object]:
    audit: dict[str, object] = {}
    trail: list[tuple[str, AuditRecord]] = []
    for order in orders(state):
        name = f"{order.channel}:{order.order_id}"
        records = uow.audit.records(order.channel, order.order_id)
        audit[f"{name} versions"] = tuple(r.version for r in records)
        audit.update((f"{name} v{r.version}", r) for r in records)
        trail.extend((order.channel, r) for r in records)
    # By recorded instant, as the log lists them (its optional read), over
    # the instants the records span.
    trail.sort(key=lambda p: (p[1].recorded_at, p[0], p[1].order_id, p[1].version))
    between = getattr(uow.audit, "recorded_between", None)
    if between is not None and trail:
        start, end = trail[0][1].recorded_at, trail[-1][1].recorded_at + _TICK
        trail = []
        while page := between(
            start, end, after=trail[-1] if trail else None, limit=_PAGE
        ):
            trail.extend(page)
    audit[_RECORDED] = tuple(
        f"{channel}:{r.order_id} v{r.version}" for channel, r in trail
    )
    return audit


def _read_outbox(
    uow: UnitOfWork, _now: pendulum.DateTime, _state: State
) -> dict[str, object]:
    unsent = uow.outbox.unsent(limit=100_000)
    held: dict[str, object] = {"outbox order": tuple(m.message_id for m in unsent)}
    held.update((f"message {m.message_id}", m) for m in unsent)
    return held


def _read_stock(
    uow: UnitOfWork, now: pendulum.DateTime, _state: State
) -> dict[str, object]:
    ledger = uow.ledger
    held: dict[str, object] = {
        f"policy {sku}": ledger.policy(sku) for sku in sorted(PRICES)
    }
    balances = ledger.balances(now)
    for b in sorted(balances, key=lambda b: (b.sku, b.location)):
        held[f"balance {b.sku}@{b.location}"] = b
    for h in sorted(ledger.holds(), key=lambda h: h.hold_id):
        held[f"hold {h.hold_id}"] = h
    after = 0
    n = 0
    # The `seq` a store gives its movements is its own: their order is the law's.
    while page := ledger.movements(after=after, limit=1000):
        for movement in page:
            n += 1
            held[f"movement #{n}"] = attrs.evolve(movement, seq=0)
        after = page[-1].seq
    return held


def _read_review(
    uow: UnitOfWork, _now: pendulum.DateTime, _state: State
) -> dict[str, object]:
    return {f"{s.channel}:{s.order_id}": s for s in uow.detector.pending()}


_Reader = Callable[[UnitOfWork, pendulum.DateTime, State], dict[str, object]]
# In this order: the audit trail is read for the orders read before it.
_READERS: Final[tuple[tuple[DeskLaw, _Reader], ...]] = (
    (DeskLaw.ORDERS, _read_orders),
    (DeskLaw.AUDIT, _read_audit),
    (DeskLaw.OUTBOX, _read_outbox),
    (DeskLaw.STOCK, _read_stock),
    (DeskLaw.REVIEW, _read_review),
)
