"""Retrying a call to the outside: capped exponential backoff with jitter."""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from typing import TypeVar, final

import attrs

from orderkit.errors import TransientError, ValidationError
from orderkit.ports import Clock


T = TypeVar("T")

# 2.0 ** 1023 is the largest power of two a float holds; past it the
# ceiling is the cap anyway.
_LARGEST_EXPONENT = 1023


def _whole(field: str, value: object, minimum: int) -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        raise ValidationError(field, value, "must be an int")
    if value < minimum:
        raise ValidationError(field, value, f"must be at least {minimum}")
    return value


def _count(_instance: object, attribute: attrs.Attribute[int], value: object) -> None:
    _whole(attribute.name, value, 0)


def _seconds(
    _instance: object, attribute: attrs.Attribute[float], value: object
) -> None:
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        raise ValidationError(attribute.name, value, "must be a number of seconds")
    if not _finite(value) or value <= 0:
        raise ValidationError(attribute.name, value, "must be finite and above zero")


def _finite(value: float) -> bool:
    """Whether `value` is a finite float, or an int a float can hold."""
    try:
        return math.isfinite(value)
    except OverflowError:  # an int beyond any float: seconds past any use
        return False


def _cap(
    instance: RetryPolicy, attribute: attrs.Attribute[float], value: float
) -> None:
    _seconds(instance, attribute, value)
    if value < instance.base:
        raise ValidationError(
            attribute.name, value, f"must be at least base ({instance.base!r})"
        )


@final
@attrs.frozen(slots=True)
class RetryPolicy:
    """How often `retry` tries again, and how long it waits in between.

    Retry `n` (1 for the first retry) waits a random duration between half
    and all of `min(cap, base * 2 ** (n - 1))` seconds ("equal jitter"):
    the waits grow exponentially up to the cap, never fall below half of
    their ceiling, and callers that failed together spread out instead of
    retrying in lockstep.

    Attributes:
        retries: How many times to try again after the first attempt, so at
            most `retries + 1` attempts; 0 never retries.
        base: The ceiling of the first wait, in seconds; above zero.
        cap: The longest wait, in seconds; at least `base`. Also the longest
            `Retry-After` that `retry` waits for (see `retry`).

    Raises:
        ValidationError: A field is not a number in range, naming the field
            (`retries`, `base` or `cap`) and the value.

    .. versionadded:: 0.1.0
    """

    retries: int = attrs.field(default=3, validator=_count)
    base: float = attrs.field(default=0.2, validator=_seconds)
    cap: float = attrs.field(default=30.0, validator=_cap)

    def ceiling(self, n: int) -> float:
        """Return the longest backoff before retry number `n` (from 1).

        Args:
            n: Which retry is about to happen: 1 for the first.

        Returns:
            `min(cap, base * 2 ** (n - 1))`, in seconds.

        Raises:
            ValidationError: `n` is not a positive int.
        """
        exponent = _whole("n", n, 1) - 1
        if exponent >= _LARGEST_EXPONENT:
            return self.cap
        return min(self.cap, self.base * 2.0**exponent)


_DEFAULT_POLICY = RetryPolicy()


def retry(
    call: Callable[[], T],
    *,
    clock: Clock,
    policy: RetryPolicy = _DEFAULT_POLICY,
    rng: random.Random | None = None,
    on_retry: Callable[[int, TransientError, float], None] | None = None,
) -> T:
    """Call `call`, trying again after a `TransientError`, and return its result.

    Only `orderkit.errors.TransientError` (and subclasses such as
    `CallTimedOut`) is retried: any other exception is the caller's
    problem, not the network's, and propagates at once. When the retries
    run out, the last `TransientError` is raised again, with a note saying
    how many attempts were made.

    **Retry only idempotent calls.** A `TransientError` does not say that
    the call had no effect: `CallTimedOut` means the request may have run
    and only the reply was lost, and a server error may come after a partial
    write. Retry a call that carries an idempotency key the other side
    honours (a `LedgerStore.apply` plan, `Idempotency.run` under the same
    key, a payment capture with the provider's idempotency header), or one
    that only reads; the same key on every attempt makes a repeat harmless.

    **Waits.** Before retry `n` it waits a random duration between half and
    all of `policy.ceiling(n)`, through `clock.sleep` (a test's
    `FrozenClock` records it instead of waiting). When the error carries a
    `retry_after` hint (a `Retry-After` header), it waits at least that
    long: `max(backoff, retry_after)`. A hint longer than `policy.cap` is
    not waited for: the error is raised at once, so that a worker is not
    blocked for as long as the other side asks, and the caller can
    reschedule the work using `error.retry_after`. A negative or non-finite
    hint is ignored as garbage.

    Args:
        call: The call to try, taking no arguments (close over them with a
            lambda or `functools.partial`).
        clock: Where to wait.
        policy: How often to retry and how long to wait.
        rng: The source of jitter; pass a seeded `random.Random` for
            repeatable waits. A fresh, randomly seeded one if omitted.
        on_retry: Called before each wait with the retry's number (1 for the
            first), the error that caused it and the seconds about to be
            waited, to log or count retries.

    Returns:
        What `call` returned.

    Raises:
        TransientError: Every attempt failed transiently, or the other side
            asked to wait longer than `policy.cap`; the last error.
        ValidationError: `policy` is not a `RetryPolicy`; nothing was called.
        Exception: Whatever `call` raised that is not a `TransientError`,
            at once.

    .. versionadded:: 0.1.0
    """
    if not isinstance(policy, RetryPolicy):
        raise ValidationError("policy", policy, "must be a RetryPolicy")
    attempt = 1
    while True:
        try:
            return call()
        except TransientError as error:
            hint = _hint(error)
            if attempt > policy.retries:
                error.add_note(f"retry: gave up after {attempt} attempt(s)")
                raise
            if hint is not None and hint > policy.cap:
                error.add_note(
                    f"retry: gave up after {attempt} attempt(s): asked to wait"
                    f" {hint!r} s, longer than the cap of {policy.cap!r} s"
                )
                raise
            if rng is None:
                rng = random.Random()  # noqa: S311 - jitter, not secrecy
            wait = _backoff(policy, attempt, rng)
            if hint is not None:
                wait = max(wait, hint)
            if on_retry is not None:
                on_retry(attempt, error, wait)
            clock.sleep(wait)
        attempt += 1


def _hint(error: TransientError) -> float | None:
    hint = error.retry_after
    if not isinstance(hint, (int, float)) or isinstance(hint, bool):
        return None
    if not _finite(hint) or hint < 0:
        return None  # a provider's hint no float holds is no hint
    return float(hint)


def _backoff(policy: RetryPolicy, retry: int, rng: random.Random) -> float:
    ceiling = policy.ceiling(retry)
    half = ceiling / 2
    # uniform() may round to just past its bound; the cap is a promise.
    return min(ceiling, half + rng.uniform(0, half))
