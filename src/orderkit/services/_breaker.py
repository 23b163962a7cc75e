"""A circuit breaker: stop calling a target that keeps failing, then probe it."""

from __future__ import annotations

import datetime as dt
import enum
import threading
from collections.abc import Callable
from typing import TypeVar, final

import pendulum

from orderkit._time import to_utc
from orderkit.errors import CircuitOpen, TransientError, ValidationError
from orderkit.ports import Clock


T = TypeVar("T")

DEFAULT_BREAKER_COOL_DOWN = dt.timedelta(seconds=30)
"""How long a breaker stays open before it lets a trial call through."""

# Far beyond any sensible cool-down, and far from datetime's overflow.
_LONGEST_COOL_DOWN = dt.timedelta(days=36_525)


@final
class BreakerState(enum.StrEnum):
    """Where a circuit breaker stands.

    .. versionadded:: 0.1.0
    """

    CLOSED = "closed"
    """Calls go through; consecutive transient failures are counted."""
    OPEN = "open"
    """Calls are refused with `CircuitOpen` without being made, until the
    cool-down has passed."""
    HALF_OPEN = "half_open"
    """The cool-down has passed: the next call is a trial, and decides."""


_Change = tuple[BreakerState, BreakerState]


@final
class CircuitBreaker:
    """Stops calling a target after repeated transient failures, then probes it.

    - **Closed**: calls go through. Each `TransientError` (`CallTimedOut`
      included) counts as a failure; a success resets the count. At
      `threshold` consecutive failures the breaker opens.
    - **Open**: `call` raises `CircuitOpen(name, until)` at once without
      calling, until `cool_down` has passed since it opened (read from the
      clock; a clock stepping back keeps it open longer, never shorter).
    - **Half-open**: once the cool-down has passed, one trial call goes
      through (others are refused meanwhile). Its success closes the
      breaker; its transient failure opens it for another cool-down.

    Exceptions that are not `TransientError` (a `ValidationError`, an
    `IdempotencyConflict`, a bug) say nothing about the target's health:
    they pass through without counting and without resetting the count; a
    trial that raises one ends without a verdict, and the breaker stays
    half-open for the next call to try.

    The breaker notices that the cool-down has passed when it is next asked
    (`call` or `state`). Every change of state is reported to `on_change`,
    after the change and outside the breaker's lock, so a host can alert a
    person; an exception from `on_change` propagates to the caller of
    `call` or `state`. The breaker is safe to share between threads.

    Put it inside `retry` (`retry(lambda: breaker.call(fn), ...)`): every
    attempt counts, and `CircuitOpen`, not being transient, ends the
    retries at once.

    Args:
        name: What the breaker guards (`"shopify"`), in errors and reports.
        clock: Where the time comes from.
        threshold: How many consecutive transient failures open it; 5 unless
            given.
        cool_down: How long it stays open before a trial; 30 seconds unless
            given.
        on_change: Called with `(name, old_state, new_state)` on every
            change of state.

    Raises:
        ValidationError: `name` is not a non-empty string, `threshold` is
            not a positive int or `cool_down` is not a positive `timedelta`,
            naming the field.

    .. versionadded:: 0.1.0
    """

    def __init__(
        self,
        name: str,
        *,
        clock: Clock,
        threshold: int = 5,
        cool_down: dt.timedelta = DEFAULT_BREAKER_COOL_DOWN,
        on_change: Callable[[str, BreakerState, BreakerState], None] | None = None,
    ) -> None:
        """Create a closed breaker called `name`, reading time from `clock`."""
        self._name = _check_name(name)
        self._clock = clock
        self._threshold = _check_threshold(threshold)
        self._cool_down = _check_cool_down(cool_down)
        self._on_change = on_change
        self._lock = threading.Lock()
        self._state = BreakerState.CLOSED
        self._failures = 0
        self._until: pendulum.DateTime | None = None
        self._trial = False

    @property
    def name(self) -> str:
        """What the breaker guards."""
        return self._name

    @property
    def state(self) -> BreakerState:
        """The state now; an open breaker past its cool-down turns half-open."""
        with self._lock:
            changes = self._notice(self._now())
            state = self._state
        self._report(changes)
        return state

    def call(self, fn: Callable[[], T]) -> T:
        """Call `fn` unless the breaker is open, and count how it went.

        Args:
            fn: The call to the target, taking no arguments.

        Returns:
            What `fn` returned.

        Raises:
            CircuitOpen: The breaker is open (or half-open with its trial
                still running); `fn` was not called. `until` says when a
                trial call will be let through.
            Exception: Whatever `fn` raised, unchanged.
        """
        trial = self._admit()
        try:
            result = fn()
        except TransientError:
            self._settle(trial=trial, failed=True)
            raise
        except BaseException:
            self._release(trial=trial)
            raise
        self._settle(trial=trial, failed=False)
        return result

    def _now(self) -> pendulum.DateTime:
        return to_utc(self._clock.now(), "clock.now()")

    def _admit(self) -> bool:
        """Let a call through, saying whether it is the trial; or refuse it."""
        now = self._now()
        with self._lock:
            changes = self._notice(now)
            state = self._state
            until = self._until
            trial = state is BreakerState.HALF_OPEN and not self._trial
            if trial:
                self._trial = True
        try:
            self._report(changes)
        except BaseException:
            # The host's hook failed before the trial began: no trial ran,
            # so the next call may be it (else the breaker waited for ever).
            self._release(trial=trial)
            raise
        if state is BreakerState.OPEN and until is not None:
            raise CircuitOpen(self._name, until)
        if state is BreakerState.HALF_OPEN and not trial:
            # The trial is running: its outcome decides, any moment now.
            raise CircuitOpen(self._name, now)
        return trial

    def _settle(self, *, trial: bool, failed: bool) -> None:
        with self._lock:
            changes = self._record(trial=trial, failed=failed)
        self._report(changes)

    def _release(self, *, trial: bool) -> None:
        if trial:
            with self._lock:
                self._trial = False

    def _record(self, *, trial: bool, failed: bool) -> list[_Change]:
        """Count an outcome; the caller holds the lock."""
        if trial:
            self._trial = False
            if failed:
                return [self._open()]
            self._failures = 0
            return [self._move(BreakerState.CLOSED)]
        if self._state is not BreakerState.CLOSED:
            # A call let through before the breaker opened: the breaker has
            # already judged the target.
            return []
        if not failed:
            self._failures = 0
            return []
        self._failures += 1
        if self._failures >= self._threshold:
            return [self._open()]
        return []

    def _open(self) -> _Change:
        self._until = self._now() + self._cool_down
        self._failures = 0
        return self._move(BreakerState.OPEN)

    def _notice(self, now: pendulum.DateTime) -> list[_Change]:
        """Turn half-open once the cool-down has passed; the caller holds the lock."""
        due = self._until is not None and now >= self._until
        if self._state is BreakerState.OPEN and due:
            return [self._move(BreakerState.HALF_OPEN)]
        return []

    def _move(self, new: BreakerState) -> _Change:
        old, self._state = self._state, new
        return (old, new)

    def _report(self, changes: list[_Change]) -> None:
        if self._on_change is None:
            return
        for old, new in changes:
            if old is not new:
                self._on_change(self._name, old, new)


def _check_name(value: object) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValidationError("name", value, "must be a non-empty string")
    return value


def _check_threshold(value: object) -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        raise ValidationError("threshold", value, "must be an int")
    if value < 1:
        raise ValidationError("threshold", value, "must be at least 1")
    return value


def _check_cool_down(value: object) -> dt.timedelta:
    if not isinstance(value, dt.timedelta):
        raise ValidationError("cool_down", value, "must be a datetime.timedelta")
    if value <= dt.timedelta(0):
        raise ValidationError("cool_down", value, "must be longer than zero")
    if value > _LONGEST_COOL_DOWN:
        raise ValidationError("cool_down", value, "must be at most 100 years")
    return value
