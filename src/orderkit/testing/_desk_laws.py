"""`check_desk_laws`: a whole unit of work under an order desk, against the reference.

A run drives an `OrderDesk` over the unit and, step for step, another over
a `MemoryUnitOfWork` (orderkit's reference semantics), and compares what
they answer and what their stores hold after every step.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterable, Sequence

from orderkit._validate import as_tuple, positive_int, signed_int
from orderkit.errors import ValidationError
from orderkit.ports import UnitOfWork
from orderkit.testing._desk_ops import DeskOperation, random_operations
from orderkit.testing._desk_run import DeskRun
from orderkit.testing._laws import check_new_store, close_if_closable


def check_desk_laws(
    make_unit: Callable[[], UnitOfWork],
    *,
    operations: Iterable[DeskOperation] | None = None,
    seed: int = 0,
    runs: int = 10,
    steps: int = 80,
) -> None:
    """Drive an order desk over a unit beside the reference; raise on a difference.

    Each run makes an empty unit with `make_unit()` and drives an
    `OrderDesk` over it and, in lock-step, one over a new
    `orderkit.adapters.memory.MemoryUnitOfWork` (the reference), each on a
    `FrozenClock` the run moves for both, through `steps` operations drawn
    from `random.Random(seed + run)` (`DeskAction` lists them): goods in,
    channel orders accepted (some sold out, or over the desk's purchase
    limit of one pot a day to an address: refused, or held for a person
    when they come in paid; some suspected duplicates held for review, some
    delivered again), later notices of payment (a second
    one too: an order paid twice) and cancellation, payments through
    `Checkout`, cancellations, releases,
    picking, parcels, after-sales cases that passed inspection (stock back,
    a refund owed), the channels' own refunds (`OrderDesk.record_refund`),
    manual price changes (`OrderDesk.amend` with a `PriceChange` a support
    agent asks for: applied at once within the agent's approval tier,
    pending above it until a manager or finance approves or rejects it, or
    it expires),
    refunds sent, unpaid orders closed, holds swept, the clock moving, and
    earlier steps retried. After each step it checks every `DeskLaw`: the
    two desks gave the same answer (outcome or typed error), and the unit
    holds what the reference holds (orders, audit trails, unsent outbox
    messages, balances, holds, movements, stock policies, pending
    suspicions); no oversell; orders only move forward; a retried step
    changes nothing the reference keeps as it was. A unit with a `close()`
    method is closed after its run. No pytest needed. With hypothesis, draw
    `operations` from `orderkit.testing.strategies.desk_operations()` and a
    failure shrinks to its fewest steps.

    What a store makes itself is left out: the `seq` of each movement (their
    order is compared). Everything else the ports let a store choose is
    fixed by them for these steps, so it is compared whole.

    The steps run one at a time and every unit they open commits, so what
    only concurrency or a rollback shows (a stale version saved over a
    newer one, an outbox written outside the transaction) is left to the
    contract suites (`OrderStoreContract`, `UnitOfWorkContract`).

    Args:
        make_unit: Makes a new, empty unit of work.
        operations: Run these steps once instead of drawn ones.
        seed: The seed of the first run.
        runs: How many runs, each with a new unit.
        steps: How many steps per run.

    Raises:
        LawBroken: The unit broke a law; the error names it (a `DeskLaw`),
            the run's seed and every step up to the failing one. An error
            the ports do not allow (a driver's `KeyError`) breaks
            `DeskLaw.ANSWERS`, and is the `LawBroken`'s cause.
        ValidationError: An argument is invalid (naming it): `make_unit`
            returned no `UnitOfWork` (`None`, a store), or `operations` is
            not a sequence of `DeskOperation` or holds none; raised before
            the run's first step.

    .. versionadded:: 0.1.0
    """
    if not callable(make_unit):
        raise ValidationError("make_unit", make_unit, "must be callable")
    signed_int("seed")(None, None, seed)
    positive_int("runs")(None, None, runs)
    positive_int("steps")(None, None, steps)
    if operations is not None:
        given = as_tuple(operations, "operations", DeskOperation)
        if not given:
            # No step checks nothing: a caller's empty list is a mistake.
            raise ValidationError(
                "operations", operations, "must hold at least one step"
            )
        _run(make_unit, given, None)
        return
    for n in range(runs):
        drawn = random_operations(random.Random(seed + n), steps)  # noqa: S311 - not secrecy
        _run(make_unit, drawn, seed + n)


def _run(
    make_unit: Callable[[], UnitOfWork],
    operations: Sequence[DeskOperation],
    seed: int | None,
) -> None:
    unit = make_unit()
    try:
        # Whether it holds data already shows only inside a unit: the run's
        # own first answers tell that.
        check_new_store(unit, UnitOfWork, None, field="make_unit")
        DeskRun(unit, seed, len(operations)).steps(operations)
    finally:
        close_if_closable(unit)
