"""The document stores' read-once converter keeps the values used last."""

from __future__ import annotations

import sys
import threading
from typing import cast

from tests.adapters._read_once import Counting

from orderkit.adapters._documents import Remembered
from orderkit.orders import Order
from orderkit.serialization import make_converter
from orderkit.testing._order_store_contract import paid, sample_order


def test_the_values_used_last_are_kept() -> None:
    counting = Counting()
    remembered = Remembered(counting, size=2)
    first, second, third = (sample_order(order_id=f"DY-{n}") for n in (1, 2, 3))
    one, two = remembered.dumps(first), remembered.dumps(second)
    assert remembered.loads(one, Order) is first  # read: kept as the newest
    three = remembered.dumps(third)  # the second goes, the oldest unused
    assert remembered.loads(one, Order) is first
    assert remembered.loads(three, Order) is third
    assert counting.parsed == 0
    assert remembered.loads(two, Order) == second
    assert counting.parsed == 1


def test_other_bytes_are_parsed() -> None:
    counting = Counting()
    remembered = Remembered(counting)
    remembered.dumps(sample_order())
    moved = counting.converter.dumps(paid(sample_order()))
    assert remembered.loads(moved, Order) == paid(sample_order())
    # As drivers hand them over: psycopg's memoryview, a host's TEXT column.
    for data in (memoryview(moved), moved.decode()):
        assert remembered.loads(cast("bytes", data), Order) == paid(sample_order())
    assert counting.parsed == 2  # the view is the same bytes; the text is not


def test_threads_sharing_it_read_every_value() -> None:
    remembered = Remembered(make_converter(), size=8)
    orders = [sample_order(order_id=f"DY-{n}") for n in range(64)]
    documents = [remembered.dumps(order) for order in orders]
    failures: list[BaseException] = []

    def read(offset: int) -> None:
        try:
            for n in range(3_000):
                at = (n * 7 + offset) % len(orders)
                assert remembered.loads(documents[at], Order) == orders[at]
        except BaseException as error:  # noqa: BLE001 - reported below
            failures.append(error)

    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # threads take turns between any two steps
    try:
        threads = [threading.Thread(target=read, args=(n,)) for n in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        sys.setswitchinterval(interval)
    assert failures == []
    assert len(remembered._values) <= 8
