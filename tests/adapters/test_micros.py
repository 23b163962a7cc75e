"""`to_us` remembers its last instant: never a stale answer, nor another thread's."""

from __future__ import annotations

import threading

import pendulum
from hypothesis import given
from hypothesis import strategies as st

from orderkit.adapters._micros import from_us, to_us


def _exact(value: pendulum.DateTime) -> int:
    delta = value - pendulum.DateTime(1970, 1, 1, tzinfo=pendulum.UTC)
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


@given(st.lists(st.integers(-(10**15), 10**17), min_size=1, max_size=20))
def test_each_instant_gives_its_own_microseconds_in_any_order(
    values: list[int],
) -> None:
    instants = [from_us(v) for v in values]
    # Each twice in a row (the memo's hit), then all again (its misses).
    for instant, value in zip(instants, values, strict=True):
        assert to_us(instant) == to_us(instant) == value
    assert [to_us(i) for i in instants] == values


def test_an_equal_instant_that_is_another_object_is_converted_too() -> None:
    first = pendulum.datetime(2026, 11, 11, 9, 0, 0, 1)
    twin = pendulum.datetime(2026, 11, 11, 9, 0, 0, 1)
    later = pendulum.datetime(2026, 11, 11, 9, 0, 0, 2)
    assert to_us(first) == to_us(twin) == _exact(first)
    assert to_us(later) == to_us(first) + 1


def test_threads_converting_their_own_instants_never_get_anothers() -> None:
    instants = [from_us(n * 1_000_003) for n in range(8)]
    wrong: list[tuple[int, int]] = []
    go = threading.Barrier(len(instants))

    def convert(n: int) -> None:
        go.wait()
        for _ in range(20_000):
            found = to_us(instants[n])
            if found != n * 1_000_003:
                wrong.append((n, found))

    threads = [threading.Thread(target=convert, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert wrong == []
