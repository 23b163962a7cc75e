"""Fault injection: wrap any port so that its calls fail on a repeatable schedule.

Production code has no test hooks; a test wraps the port from outside
instead. `faulty(port, plan)` returns a proxy that behaves like `port`
except that, before each call of a public method, the `FaultPlan` picks one
`Fault`:

- `Fault.NONE`: the call goes through;
- `Fault.TRANSIENT`: `TransientError` is raised and the call is not made;
- `Fault.TIMEOUT_BEFORE`: `CallTimedOut` is raised and the call is not made;
- `Fault.REPLY_LOST`: the call is made, then `CallTimedOut` is raised as if
  the reply never came back: the case that only idempotency survives.

```python
plan = FaultPlan(script=[Fault.REPLY_LOST], seed=7, transient=0.2)
store = faulty(MemoryKeyStore(), plan, methods=["claim", "complete"])
```

A plan follows its `script` first, then draws from a seeded
`random.Random` with the probabilities given, so a failing run repeats
exactly for its seed. It records every call it saw (`calls`) and every
fault it injected (`injected`). docs/concepts/resilience.md shows faults,
`orderkit.services.retry` and an idempotent store working together.

.. versionadded:: 0.1.0
"""

from __future__ import annotations

import collections
import enum
import functools
import math
import random
import threading
from collections.abc import Callable, Iterable
from typing import Any, TypeVar, cast, final

import attrs

from orderkit.errors import CallTimedOut, TransientError, ValidationError


__all__ = ["Fault", "FaultPlan", "Injection", "faulty"]


P = TypeVar("P")
T = TypeVar("T")


@final
class Fault(enum.StrEnum):
    """What happens to one call through a `faulty` port.

    .. versionadded:: 0.1.0
    """

    NONE = "none"
    """The call goes through untouched."""
    TRANSIENT = "transient"
    """`TransientError` is raised before the call; the call is not made."""
    TIMEOUT_BEFORE = "timeout_before"
    """`CallTimedOut` is raised before the call; the call is not made."""
    REPLY_LOST = "reply_lost"
    """The call is made, then `CallTimedOut` is raised: its reply was lost."""


@final
@attrs.frozen(slots=True)
class Injection:
    """One call a `FaultPlan` saw, and what it did to it.

    Attributes:
        number: The call's place among the calls the plan saw, from 1.
        operation: The port and method called (`"MemoryKeyStore.claim"`).
        fault: What the plan did (`Fault.NONE` when the call went through).

    .. versionadded:: 0.1.0
    """

    number: int
    operation: str
    fault: Fault


@final
class FaultPlan:
    """A repeatable schedule of faults for the calls through `faulty` ports.

    For each call the plan takes the next fault of `script`; once the script
    is used up, it draws one number from `random.Random(seed)` and injects
    `TRANSIENT`, `TIMEOUT_BEFORE` or `REPLY_LOST` with the probabilities
    given (`NONE` otherwise). The same seed and the same sequence of calls
    give the same faults. One plan may drive several ports: they then share
    one schedule, in the order of their calls. The plan is safe to share
    between threads, though threads make the order of calls, and so the
    schedule, vary.

    Args:
        script: Faults for the first calls, in order (`Fault` members or
            their values).
        seed: Seeds the draws after the script.
        transient: Probability of `Fault.TRANSIENT` per drawn call.
        timeout_before: Probability of `Fault.TIMEOUT_BEFORE`.
        reply_lost: Probability of `Fault.REPLY_LOST`.
        retry_after: The `retry_after` hint of each injected
            `TransientError`, in seconds, to test `Retry-After` handling.

    Raises:
        ValidationError: A script item is not a fault (naming `script[i]`),
            `seed` is not an int, a probability is not a number from 0 to 1
            or they add up to more than 1, or `retry_after` is negative or
            not finite.

    .. versionadded:: 0.1.0
    """

    def __init__(  # noqa: PLR0913 - keyword-only knobs of one schedule
        self,
        *,
        script: Iterable[Fault | str] = (),
        seed: int = 0,
        transient: float = 0.0,
        timeout_before: float = 0.0,
        reply_lost: float = 0.0,
        retry_after: float | None = None,
    ) -> None:
        """Create a plan; with no arguments, it lets every call through."""
        self._script = collections.deque(
            _check_fault(f"script[{i}]", item) for i, item in enumerate(script)
        )
        self._rng = random.Random(_check_seed(seed))  # noqa: S311 - not secrecy
        odds = {
            Fault.TRANSIENT: _check_probability("transient", transient),
            Fault.TIMEOUT_BEFORE: _check_probability("timeout_before", timeout_before),
            Fault.REPLY_LOST: _check_probability("reply_lost", reply_lost),
        }
        total = math.fsum(odds.values())
        if total > 1:
            raise ValidationError(
                "transient + timeout_before + reply_lost", total, "must be at most 1"
            )
        self._odds = odds
        self._retry_after = _check_retry_after(retry_after)
        self._calls: list[Injection] = []
        self._lock = threading.Lock()

    @property
    def calls(self) -> tuple[Injection, ...]:
        """Every call the plan saw, in order, with what it did to each."""
        with self._lock:
            return tuple(self._calls)

    @property
    def injected(self) -> tuple[Injection, ...]:
        """The calls the plan injected a fault into (every fault but `NONE`)."""
        return tuple(c for c in self.calls if c.fault is not Fault.NONE)

    def draw(self, operation: str) -> Fault:
        """Pick the fault for the next call of `operation`, and record it.

        Args:
            operation: The port and method called (`"MemoryKeyStore.claim"`).

        Returns:
            The next fault of the script, or a seeded draw.
        """
        with self._lock:
            if self._script:
                fault = self._script.popleft()
            else:
                fault = self._pick(self._rng.random())
            self._calls.append(Injection(len(self._calls) + 1, operation, fault))
        return fault

    def run(self, operation: str, call: Callable[[], T]) -> T:
        """Make `call` as `operation`, with the fault `draw` picks for it.

        Args:
            operation: The port and method called, for the record and the
                errors (`"MemoryKeyStore.claim"`).
            call: The call, taking no arguments.

        Returns:
            What `call` returned, when the fault is `NONE`.

        Raises:
            TransientError: `TRANSIENT`; `call` was not made.
            CallTimedOut: `TIMEOUT_BEFORE` (`call` was not made) or
                `REPLY_LOST` (`call` was made and returned).
            Exception: Whatever `call` raised itself, unchanged.
        """
        fault = self.draw(operation)
        if fault is Fault.TRANSIENT:
            raise TransientError(
                operation,
                "injected fault: failed before the call was made",
                retry_after=self._retry_after,
            )
        if fault is Fault.TIMEOUT_BEFORE:
            raise CallTimedOut(
                operation, "injected fault: timed out before the call was made"
            )
        result = call()
        if fault is Fault.REPLY_LOST:
            raise CallTimedOut(
                operation, "injected fault: the call was made, its reply was lost"
            )
        return result

    def _pick(self, roll: float) -> Fault:
        bound = 0.0
        for fault, odds in self._odds.items():
            bound += odds
            if roll < bound:
                return fault
        return Fault.NONE


def faulty(
    port: P,
    plan: FaultPlan,
    *,
    methods: Iterable[str] | None = None,
    name: str | None = None,
) -> P:
    """Wrap `port` so that its method calls go through `plan`'s faults.

    The proxy forwards every attribute to `port`. Each call of a public
    method (every one, or those in `methods`) asks `plan` for a fault
    first (see `FaultPlan.run`); private and special methods (`__enter__`)
    are not forwarded, and the proxy is not an instance of the port's
    class, so use it where the port's `Protocol` is expected.

    Args:
        port: Any object: a store, a channel, a payment gateway.
        plan: The schedule of faults; may drive several ports.
        methods: The names of the methods to intercept; all public methods
            if omitted. The others go through untouched and unrecorded.
        name: How the port is named in records and errors; the port's
            class name if omitted.

    Returns:
        The proxy, typed as `port`'s type.

    Raises:
        ValidationError: A name in `methods` is not a public method of
            `port` (naming `methods`), or `name` is empty.

    .. versionadded:: 0.1.0
    """
    if not isinstance(plan, FaultPlan):
        raise ValidationError("plan", plan, "must be a FaultPlan")
    label = type(port).__name__ if name is None else _check_name(name)
    chosen = None if methods is None else frozenset(_check_methods(port, methods))
    return cast("P", _FaultyPort(port, plan, chosen, label))


class _FaultyPort:
    __slots__ = ("_label", "_methods", "_plan", "_port")

    def __init__(
        self,
        port: object,
        plan: FaultPlan,
        methods: frozenset[str] | None,
        label: str,
    ) -> None:
        self._port = port
        self._plan = plan
        self._methods = methods
        self._label = label

    def __getattr__(self, attr: str) -> Any:  # noqa: ANN401 - any port's attribute
        value = getattr(self._port, attr)
        if not _intercepts(attr, value, self._methods):
            return value
        plan = self._plan
        operation = f"{self._label}.{attr}"

        @functools.wraps(value)
        def intercepted(*args: Any, **kwargs: Any) -> Any:  # noqa: ANN401
            return plan.run(operation, lambda: value(*args, **kwargs))

        return intercepted

    def __repr__(self) -> str:
        return f"faulty({self._port!r})"


def _intercepts(attr: str, value: object, methods: frozenset[str] | None) -> bool:
    if attr.startswith("_") or isinstance(value, type) or not callable(value):
        return False
    return methods is None or attr in methods


def _check_methods(port: object, methods: Iterable[str]) -> list[str]:
    if isinstance(methods, str):
        raise ValidationError("methods", methods, "must be a collection of names")
    chosen: list[object] = list(methods)
    for method in chosen:
        public = isinstance(method, str) and _intercepts(
            method, getattr(port, method, None), None
        )
        if not public:
            raise ValidationError(
                "methods",
                method,
                f"is not a public method of {type(port).__name__}",
            )
    return cast("list[str]", chosen)


def _check_name(value: object) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValidationError("name", value, "must be a non-empty string")
    return value


def _check_fault(field: str, value: object) -> Fault:
    if not isinstance(value, str):
        raise ValidationError(field, value, "must be a Fault")
    try:
        return Fault(value)
    except ValueError:
        raise ValidationError(field, value, "must be a Fault") from None


def _check_seed(value: object) -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        raise ValidationError("seed", value, "must be an int")
    return value


def _check_probability(field: str, value: object) -> float:
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        raise ValidationError(field, value, "must be a number from 0 to 1")
    if not 0 <= value <= 1:  # NaN fails this too
        raise ValidationError(field, value, "must be a number from 0 to 1")
    return float(value)


def _check_retry_after(value: object) -> float | None:
    if value is None:
        return None
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        raise ValidationError("retry_after", value, "must be a number of seconds")
    if not math.isfinite(value) or value < 0:
        raise ValidationError("retry_after", value, "must be finite, zero or more")
    return float(value)
