"""The laws a store must keep, and the error that names the one it broke."""

from __future__ import annotations

import enum
import functools
from collections.abc import Callable, Sequence
from typing import TypeVar, final

from orderkit.errors import ValidationError


S = TypeVar("S")


@final
class LedgerLaw(enum.StrEnum):
    """A law of the inventory ledger that `check_ledger_laws` checks.

    .. versionadded:: 0.1.0
    """

    CONSERVATION = "conservation"
    """Every unit is accounted for: on hand is what came in less what went
    out, reserved is what the live holds hold, allocated is what was
    committed and neither shipped nor given back."""
    NO_OVERSELL = "no oversell"
    """A reservation or a transfer is granted exactly when the available
    stock covers it: never more, and nothing the stock covers is refused."""
    REPLAY = "replay equals balances"
    """Replaying the movements rebuilds the stored balances."""
    HOLDS_RESOLVE_ONCE = "holds resolve once"
    """A hold is released, committed or expired once, and then stays so; a
    hold past its expiry is never committed or extended; a live hold keeps
    the expiry it was given or extended to."""
    IDEMPOTENT_KEYS = "idempotent keys"
    """A step repeated under its key returns its first result and changes
    nothing."""


@final
class OrderStoreLaw(enum.StrEnum):
    """A law of the order store that `check_order_store_laws` checks.

    .. versionadded:: 0.1.0
    """

    ROUND_TRIP = "round trip"
    """An order reads back equal to the one saved."""
    COMPARE_AND_SET = "compare and set"
    """A save lands only on the version it expects; a refused save changes
    nothing."""
    FORWARD_ONLY = "forward only"
    """An update must raise the version; one that does not is refused."""
    LISTING = "listing"
    """`orders()` lists every order once, by channel then id, page by page,
    and filters by status."""


@final
class DeskLaw(enum.StrEnum):
    """A law of a whole unit of work that `check_desk_laws` checks.

    The first six compare the unit with the reference, a desk over a
    `MemoryUnitOfWork` given the same steps; the last three hold on any
    store.

    .. versionadded:: 0.1.0
    """

    ANSWERS = "same answers"
    """The desk over the unit answers each step as the reference does: the
    same outcome, or the same typed error."""
    ORDERS = "same orders"
    """The unit holds the orders the reference holds, equal in every field:
    its lines' prices and its price changes as much as its status. A store
    with the optional `waiting()` read lists the same orders that wait."""
    AUDIT = "same audit trail"
    """Each order's audit records are the reference's, in version order."""
    OUTBOX = "same outbox"
    """The unit's unsent messages are the reference's (ids, streams, topics,
    payloads, times), oldest first."""
    STOCK = "same stock"
    """The ledger's balances, holds, movements (but their store-made `seq`)
    and stock policies are the reference's."""
    REVIEW = "same review queue"
    """The duplicate detector's pending suspicions are the reference's."""
    NO_OVERSELL = "no oversell"
    """No balance under `NoOversell` has more reserved and allocated than
    on hand."""
    FORWARD_ONLY = "forward only"
    """An order never goes away, its version never goes down, its status
    never moves backwards (an ended order stays ended), and its audit
    records are never changed or dropped."""
    IDEMPOTENT_STEPS = "idempotent steps"
    """A step repeated (a notice delivered again, a call retried with its
    key) changes nothing in the unit that it leaves alone in the reference.
    (The desk answers one retry with a change: a channel's refund beyond its
    payment, delivered again after a person released the order, holds the
    order again; the laws above hold the unit to the reference's change.)"""


@final
class LawBroken(AssertionError):
    """A store broke a law: which one, how, and the steps that got it there.

    An `AssertionError`, so test runners report it as a failed test.

    Attributes:
        law: The law broken.
        detail: What the store did, and what the law expected.
        seed: The seed of the failing run; `None` for steps given.
        steps: The steps run, the failing one last, as text.

    .. versionadded:: 0.1.0
    """

    def __init__(
        self,
        law: LedgerLaw | OrderStoreLaw | DeskLaw,
        detail: str,
        *,
        seed: int | None,
        steps: Sequence[str],
        repeat: str,
    ) -> None:
        self.law = law
        self.detail = detail
        self.seed = seed
        self.steps = tuple(steps)
        self._repeat = repeat
        numbered = "".join(f"\n  {n}. {step}" for n, step in enumerate(steps, 1))
        where = f"at step {len(self.steps)}" if self.steps else "at the start"
        run = "" if seed is None else f" of the run with seed {seed}"
        super().__init__(
            f"law {str(law)!r} broken {where}{run}: {detail}\n"
            f"steps:{numbered or ' none'}\n"
            f"to run it again: {repeat}"
        )

    def __reduce__(self) -> tuple[object, ...]:
        # Keyword-only arguments: the default reduction would lose them, and
        # a failure reported from a worker process must arrive whole.
        rebuild = functools.partial(
            LawBroken, seed=self.seed, steps=self.steps, repeat=self._repeat
        )
        return (rebuild, (self.law, self.detail))


def close_if_closable(store: object) -> None:
    """Call `store.close()` if it has one: a law run's store or unit is done."""
    close = getattr(store, "close", None)
    if callable(close):
        close()


def check_new_store(
    store: S,
    port: type,
    is_empty: Callable[[S], bool] | None,
    *,
    field: str = "make_store",
) -> None:
    """Refuse what a law run's factory returned unless it is a new `port`.

    A factory returning `None`, a store of another port or one store shared
    by every run would otherwise be reported as a store breaking a law. The
    port's methods, properties and context-manager methods are looked up by
    name, as the law runs use them, so any object with them passes,
    whatever it inherits from (a property a unit of work refuses outside a
    `with` is there all the same). With `is_empty`, the store must also be
    empty.

    Raises:
        ValidationError: Naming `field` (the factory) and the value it
            returned.
    """
    empty = "new, empty " if is_empty is not None else ""
    needs = f"must return a {empty}{port.__name__}"
    missing = [
        name if isinstance(value, property) else f"{name}()"
        for name, value in sorted(vars(port).items())
        if not _has(store, name, value)
    ]
    if missing:
        raise ValidationError(field, store, f"{needs}; it has no {', '.join(missing)}")
    if is_empty is not None and not is_empty(store):
        raise ValidationError(
            field,
            store,
            f"{needs}; it holds data already (one store shared by every run?)",
        )


def _has(store: object, name: str, value: object) -> bool:
    """Whether `store` has the port's member `name` (`value` on the port)."""
    if isinstance(value, property):
        try:
            getattr(store, name)
        except AttributeError:
            return False
        except Exception:  # noqa: BLE001 - there, but refused outside a unit
            return True
        return True
    if name.startswith("_") and name not in {"__enter__", "__exit__"}:
        return True
    return not callable(value) or callable(getattr(store, name, None))
