"""`check_ledger_laws`: a ledger store driven through its laws, without pytest.

A run drives a `Ledger` over one store with a list of `LedgerOperation`s,
keeps a plain model of what every step should have done, and checks the
laws after each step. Every operation uses an idempotency key, so a
`REPEAT` step can retry any step that wrote.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterable, Sequence

from orderkit._validate import as_tuple, positive_int, signed_int
from orderkit.errors import ValidationError
from orderkit.ports import LedgerStore
from orderkit.testing._laws import check_new_store, close_if_closable
from orderkit.testing._ledger_ops import LedgerOperation, random_operations
from orderkit.testing._ledger_run import LedgerRun


def check_ledger_laws(
    make_store: Callable[[], LedgerStore],
    *,
    operations: Iterable[LedgerOperation] | None = None,
    seed: int = 0,
    runs: int = 20,
    steps: int = 60,
) -> None:
    """Drive a ledger store through the ledger's laws; raise if one breaks.

    Each run makes an empty store with `make_store()`, drives a `Ledger`
    over it (on a `FrozenClock`, holds lasting 15 minutes) through `steps`
    operations drawn from `random.Random(seed + run)`, and checks every
    `LedgerLaw` after each step: conservation, no oversell, replay equals
    balances, holds resolve once, idempotent keys. A store with a
    `close()` method is closed after its run. No pytest needed: call it
    from any test or script.

    The laws do not prove a store on their own. Steps run one at a time,
    every SKU keeps the default `NoOversell` policy and no location has
    safety stock, so a store that ignores safety stock
    (`set_safety_stock`), ignores backorder and preorder policies
    (`set_policy`), or checks stock and then writes without a lock (two
    buyers of the last unit both served) passes them. The contract suite,
    `orderkit.testing.contracts.LedgerStoreContract`, checks those: run it
    as well, and the laws for long runs of mixed steps.

    Args:
        make_store: Makes a new, empty store.
        operations: Run these steps once instead of drawn ones (draw them
            with `orderkit.testing.strategies.ledger_operations()` to have
            hypothesis shrink a failure to its fewest steps).
        seed: The seed of the first run.
        runs: How many runs, each with a new store.
        steps: How many steps per run.

    Raises:
        LawBroken: The store broke a law; the error names it, the run's
            seed and every step up to the failing one. An error the port
            does not allow (a driver's `KeyError`) breaks the law of the
            step it came from, and is the `LawBroken`'s cause.
        ValidationError: An argument is invalid (naming it), or
            `make_store()` returned something that is not a new, empty
            `LedgerStore` (`None`, a store of another port lacking a
            method of this one, or a store with movements or holds already,
            such as one store shared by every run); raised before the run's
            first step, naming `make_store` and what it returned.

    .. versionadded:: 0.1.0
    """
    if not callable(make_store):
        raise ValidationError("make_store", make_store, "must be callable")
    if operations is not None:
        given = _operations(operations)
        _run(make_store, given, None)
        return
    signed_int("seed")(None, None, seed)
    positive_int("runs")(None, None, runs)
    positive_int("steps")(None, None, steps)
    for n in range(runs):
        drawn = random_operations(random.Random(seed + n), steps)  # noqa: S311 - not secrecy
        _run(make_store, drawn, seed + n)


def _operations(operations: Iterable[LedgerOperation]) -> tuple[LedgerOperation, ...]:
    found = as_tuple(operations, "operations", LedgerOperation)
    if not found:
        # No step checks nothing: a caller's empty list is a mistake.
        raise ValidationError("operations", operations, "must hold at least one step")
    return found


def _run(
    make_store: Callable[[], LedgerStore],
    operations: Sequence[LedgerOperation],
    seed: int | None,
) -> None:
    store = make_store()
    try:
        check_new_store(store, LedgerStore, _ledger_is_empty)
        LedgerRun(store, seed, len(operations)).steps(operations)
    finally:
        close_if_closable(store)


def _ledger_is_empty(store: LedgerStore) -> bool:
    # Stock comes only through movements, so a store with neither movements
    # nor holds has nothing a run could trip over (safety stock or policies
    # set up front are the host's choice).
    return not store.movements(after=0, limit=1) and not store.holds()
