"""The steps of a ledger law run: what a test asks the ledger to do, as data."""

from __future__ import annotations

import enum
import random
from collections.abc import Callable, Iterable
from typing import Final, final

import attrs

from orderkit.errors import ValidationError


@final
class LedgerAction(enum.StrEnum):
    """What one `LedgerOperation` does.

    .. versionadded:: 0.1.0
    """

    RECEIVE = "receive"
    """Goods in: `quantity` of `sku` at `location`."""
    STOCKTAKE = "stocktake"
    """A count sets on hand of `sku` at `location` to `quantity` (0 allowed)."""
    TRANSFER = "transfer"
    """Move `quantity` available units of `sku` from `location` to `target`."""
    RESERVE = "reserve"
    """Hold `lines` for `owner`, replacing the owner's own live holds there."""
    EXTEND = "extend"
    """Keep a hold `minutes` longer (`pick` chooses among the holds made)."""
    COMMIT = "commit"
    """Commit a hold (`pick`), all of it or `quantity` of it."""
    RELEASE = "release"
    """Release a hold (`pick`)."""
    SHIP = "ship"
    """Ship `quantity` of an owner's committed units (`pick` chooses which)."""
    UNALLOCATE = "unallocate"
    """Give back `quantity` of an owner's committed units (`pick`)."""
    SWEEP = "sweep"
    """Expire every live hold past its expiry."""
    WAIT = "wait"
    """Move the clock `minutes` on."""
    REPEAT = "repeat"
    """Run a step that wrote again, with its key (`pick` chooses which)."""


Line = tuple[str, str, int]
"""`(sku, location, quantity)`."""
_A = LedgerAction


def _action(value: LedgerAction | str) -> LedgerAction:
    try:
        return LedgerAction(value)
    except ValueError:
        raise ValidationError("action", value, "must be a LedgerAction") from None


def _lines(value: object) -> tuple[Line, ...]:
    if not isinstance(value, list | tuple):
        raise ValidationError("lines", value, "must be a sequence of lines")
    found: list[Line] = []
    for i, line in enumerate(value):
        match line:
            case (str(sku), str(location), int(quantity)):
                found.append((sku, location, quantity))
            case _:
                raise ValidationError(
                    f"lines[{i}]", line, "must be (sku, location, quantity)"
                )
    return tuple(found)


@final
@attrs.frozen(slots=True, kw_only=True)
class LedgerOperation:
    """One step of `check_ledger_laws`: an operation on the ledger, as data.

    Build them with the class methods (`LedgerOperation.receive("TEA", "W1",
    5)`), or draw lists of them with
    `orderkit.testing.strategies.ledger_operations()`. Steps that name a
    hold or an owner's committed units do so by `pick`, an index into those
    made so far (modulo their count), so any list of steps makes sense; a
    step with nothing to pick from is skipped.

    Attributes:
        action: What the step does.
        sku: The SKU (receive, stocktake, transfer).
        location: The location (receive, stocktake, transfer's source).
        target: Where a transfer goes.
        quantity: How many units; for a commit, `0` commits the whole hold.
        owner: Who reserves.
        lines: What a reservation holds, as `(sku, location, quantity)`.
        pick: Which hold, committed units or earlier step, by index.
        minutes: How long to wait, or to extend a hold by.

    .. versionadded:: 0.1.0
    """

    action: LedgerAction = attrs.field(converter=_action)
    sku: str = ""
    location: str = ""
    target: str = ""
    quantity: int = 0
    owner: str = ""
    lines: tuple[Line, ...] = attrs.field(default=(), converter=_lines)
    pick: int = 0
    minutes: int = 0

    @classmethod
    def receive(cls, sku: str, location: str, quantity: int) -> LedgerOperation:
        """Goods in."""
        return cls(
            action=LedgerAction.RECEIVE, sku=sku, location=location, quantity=quantity
        )

    @classmethod
    def stocktake(cls, sku: str, location: str, counted: int) -> LedgerOperation:
        """A count of one balance."""
        return cls(
            action=LedgerAction.STOCKTAKE, sku=sku, location=location, quantity=counted
        )

    @classmethod
    def transfer(
        cls, sku: str, source: str, target: str, quantity: int
    ) -> LedgerOperation:
        """Units moved between locations."""
        return cls(
            action=LedgerAction.TRANSFER,
            sku=sku,
            location=source,
            target=target,
            quantity=quantity,
        )

    @classmethod
    def reserve(cls, owner: str, lines: Iterable[Line]) -> LedgerOperation:
        """A cart or an order holding stock."""
        return cls(action=LedgerAction.RESERVE, owner=owner, lines=tuple(lines))

    @classmethod
    def extend(cls, pick: int, minutes: int) -> LedgerOperation:
        """A hold kept longer."""
        return cls(action=LedgerAction.EXTEND, pick=pick, minutes=minutes)

    @classmethod
    def commit(cls, pick: int, quantity: int = 0) -> LedgerOperation:
        """A hold committed to its paid order: all of it, or `quantity`."""
        return cls(action=LedgerAction.COMMIT, pick=pick, quantity=quantity)

    @classmethod
    def release(cls, pick: int) -> LedgerOperation:
        """A hold given up."""
        return cls(action=LedgerAction.RELEASE, pick=pick)

    @classmethod
    def ship(cls, pick: int, quantity: int) -> LedgerOperation:
        """Committed units leaving."""
        return cls(action=LedgerAction.SHIP, pick=pick, quantity=quantity)

    @classmethod
    def unallocate(cls, pick: int, quantity: int) -> LedgerOperation:
        """Committed units given back (a paid order cancelled)."""
        return cls(action=LedgerAction.UNALLOCATE, pick=pick, quantity=quantity)

    @classmethod
    def wait(cls, minutes: int) -> LedgerOperation:
        """Time passing."""
        return cls(action=LedgerAction.WAIT, minutes=minutes)

    @classmethod
    def sweep(cls) -> LedgerOperation:
        """The expiry sweep."""
        return cls(action=LedgerAction.SWEEP)

    @classmethod
    def repeat(cls, pick: int = 0) -> LedgerOperation:
        """A retry of an earlier step, under its key."""
        return cls(action=LedgerAction.REPEAT, pick=pick)

    def __attrs_post_init__(self) -> None:
        problem = _problem(self)
        if problem is not None:
            field, value, why = problem
            raise ValidationError(field, value, why)

    def __str__(self) -> str:
        return _SAY[self.action](self)


def _say_lines(op: LedgerOperation) -> str:
    held = ", ".join(f"{s}@{loc} {q}" for s, loc, q in op.lines)
    return f"reserve {op.owner}: {held}"


def _say_hold(op: LedgerOperation) -> str:
    part = f" {op.quantity}" if op.quantity else ""
    return f"{op.action} hold #{op.pick}{part}"


_SAY: Final[dict[LedgerAction, Callable[[LedgerOperation], str]]] = {
    _A.RECEIVE: lambda op: f"receive {op.sku}@{op.location} {op.quantity}",
    _A.STOCKTAKE: lambda op: f"stocktake {op.sku}@{op.location} {op.quantity}",
    _A.TRANSFER: lambda op: (
        f"transfer {op.sku} {op.location}->{op.target} {op.quantity}"
    ),
    _A.RESERVE: _say_lines,
    _A.EXTEND: lambda op: f"extend hold #{op.pick} by {op.minutes} min",
    _A.COMMIT: _say_hold,
    _A.RELEASE: _say_hold,
    _A.SHIP: lambda op: f"ship committed #{op.pick} {op.quantity}",
    _A.UNALLOCATE: lambda op: f"unallocate committed #{op.pick} {op.quantity}",
    _A.SWEEP: lambda _: "sweep",
    _A.WAIT: lambda op: f"wait {op.minutes} min",
    _A.REPEAT: lambda op: f"repeat step #{op.pick}",
}
_LEAST_QUANTITY: Final = {
    _A.STOCKTAKE: 0,
    _A.COMMIT: 0,
    _A.RECEIVE: 1,
    _A.TRANSFER: 1,
    _A.SHIP: 1,
    _A.UNALLOCATE: 1,
}
_LEAST_MINUTES: Final = {_A.EXTEND: 1, _A.WAIT: 0}
_PLACED: Final = frozenset({_A.RECEIVE, _A.STOCKTAKE, _A.TRANSFER})


def _problem(op: LedgerOperation) -> tuple[str, object, str] | None:
    """What is wrong with a step, as `(field, value, problem)`; `None` if nothing."""
    a = op.action
    problems: list[tuple[str, object, str]] = []
    least = _LEAST_QUANTITY.get(a)
    if least is not None and op.quantity < least:
        problems.append(("quantity", op.quantity, f"must be at least {least}"))
    if a in _PLACED and not (op.sku and op.location):
        problems.append(("sku", op.sku, f"and a location are needed to {a}"))
    if a is _A.TRANSFER and op.target in {"", op.location}:
        problems.append(("target", op.target, "must be another location"))
    if a is _A.RESERVE and not (op.owner and op.lines):
        problems.append(("lines", op.lines, "and an owner are needed to reserve"))
    problems.extend(
        (f"lines[{i}]", line, "must hold at least 1 unit")
        for i, line in enumerate(op.lines)
        if not (line[0] and line[1]) or line[2] < 1
    )
    minutes = _LEAST_MINUTES.get(a)
    if minutes is not None and op.minutes < minutes:
        problems.append(("minutes", op.minutes, f"must be at least {minutes}"))
    if op.pick < 0:
        problems.append(("pick", op.pick, "must not be negative"))
    return problems[0] if problems else None


SKUS: Final = ("TEA", "MUG")
LOCATIONS: Final = ("W1", "W2")
OWNERS: Final = ("cart-1", "cart-2", "order-3")

# How often each step is drawn: mostly the ones that move stock.
_WEIGHTS: Final = {
    LedgerAction.RECEIVE: 4,
    LedgerAction.STOCKTAKE: 1,
    LedgerAction.TRANSFER: 2,
    LedgerAction.RESERVE: 6,
    LedgerAction.EXTEND: 2,
    LedgerAction.COMMIT: 4,
    LedgerAction.RELEASE: 2,
    LedgerAction.SHIP: 3,
    LedgerAction.UNALLOCATE: 1,
    LedgerAction.SWEEP: 1,
    LedgerAction.WAIT: 3,
    LedgerAction.REPEAT: 3,
}


def random_operations(rng: random.Random, steps: int) -> list[LedgerOperation]:
    """`steps` operations drawn from `rng`, starting with goods in."""
    made = [
        LedgerOperation.receive(sku, location, rng.randint(1, 6))
        for sku in SKUS
        for location in LOCATIONS[:1]
    ]
    actions = list(_WEIGHTS)
    weights = list(_WEIGHTS.values())
    while len(made) < steps:
        action = rng.choices(actions, weights)[0]
        made.append(_draw(rng, action))
    return made[:steps]


def _draw(rng: random.Random, action: LedgerAction) -> LedgerOperation:
    return _DRAW[action](rng, rng.choice(SKUS), rng.choice(LOCATIONS))


def _draw_lines(rng: random.Random) -> list[Line]:
    return [
        (rng.choice(SKUS), rng.choice(LOCATIONS), rng.randint(1, 4))
        for _ in range(rng.randint(1, 3))
    ]


def _draw_transfer(rng: random.Random, sku: str, source: str) -> LedgerOperation:
    target = rng.choice([x for x in LOCATIONS if x != source])
    return LedgerOperation.transfer(sku, source, target, rng.randint(1, 4))


def _draw_picked(action: LedgerAction) -> Callable[..., LedgerOperation]:
    def draw(rng: random.Random, _sku: str, _location: str) -> LedgerOperation:
        quantity = rng.randint(1, 4)
        return LedgerOperation(
            action=action, pick=rng.randint(0, 99), quantity=quantity
        )

    return draw


_L = LedgerOperation
_DRAW: Final[
    dict[LedgerAction, Callable[[random.Random, str, str], LedgerOperation]]
] = {
    _A.RECEIVE: lambda rng, sku, loc: _L.receive(sku, loc, rng.randint(1, 6)),
    _A.STOCKTAKE: lambda rng, sku, loc: _L.stocktake(sku, loc, rng.randint(0, 8)),
    _A.TRANSFER: _draw_transfer,
    _A.RESERVE: lambda rng, _s, _l: _L.reserve(rng.choice(OWNERS), _draw_lines(rng)),
    _A.EXTEND: lambda rng, _s, _l: _L.extend(rng.randint(0, 99), rng.randint(1, 30)),
    _A.COMMIT: lambda rng, _s, _l: _L.commit(rng.randint(0, 99), rng.randint(0, 3)),
    _A.RELEASE: lambda rng, _s, _l: _L.release(rng.randint(0, 99)),
    _A.SHIP: _draw_picked(_A.SHIP),
    _A.UNALLOCATE: _draw_picked(_A.UNALLOCATE),
    _A.SWEEP: lambda _rng, _s, _l: _L.sweep(),
    _A.WAIT: lambda rng, _s, _l: _L.wait(rng.randint(1, 20)),
    _A.REPEAT: lambda rng, _s, _l: _L.repeat(rng.randint(0, 99)),
}
