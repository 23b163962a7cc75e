"""What a SQL order store and audit log promise of reading: each document once.

`ReadOnce` holds the tests; the SQLite and PostgreSQL test modules subclass
it with the stores opened on their backends. A store keeps what it wrote and
what it read under the document's bytes, so a saga's steps, which save an
order and read it back, parse nothing; and it never hands back a value the
backend no longer holds.
"""

from __future__ import annotations

import abc
from collections.abc import Iterator
from typing import Any, TypeVar

import pytest

from orderkit.orders import Order
from orderkit.ports import AuditLog, OrderStore, UnitOfWork
from orderkit.serialization import make_converter
from orderkit.testing._order_store_contract import paid, sample_order, sample_record


T = TypeVar("T")


class Counting:
    """A converter that counts the documents it parses."""

    def __init__(self) -> None:
        self.converter = make_converter()
        self.parsed = 0

    def dumps(self, obj: object) -> bytes:
        return self.converter.dumps(obj)

    def loads(self, data: bytes, cl: type[T]) -> T:
        self.parsed += 1
        return self.converter.loads(data, cl)


class ReadOnce(abc.ABC):
    """The tests; each backend says how to open its stores on one database."""

    @abc.abstractmethod
    def open_orders(self, converter: Counting) -> OrderStore:
        """An order store on the test's database."""

    @abc.abstractmethod
    def open_audit(self, converter: Counting) -> AuditLog:
        """An audit log on the test's database."""

    @abc.abstractmethod
    def open_unit(self, converter: Counting) -> UnitOfWork:
        """A unit of work on the test's database."""

    @pytest.fixture(autouse=True)
    def _closing(self) -> Iterator[None]:
        self.opened: list[Any] = []
        yield
        for opened in reversed(self.opened):
            opened.close()

    def _orders(self) -> tuple[OrderStore, Counting]:
        counting = Counting()
        store = self.open_orders(counting)
        self.opened.append(store)
        return store, counting

    def test_an_order_saved_reads_back_unparsed(self) -> None:
        store, counting = self._orders()
        store.save(sample_order(), None)
        store.save(paid(sample_order()), 1)
        assert store.get("douyin", "DY-1001") == paid(sample_order())
        assert store.orders() == [paid(sample_order())]
        assert counting.parsed == 0

    def test_an_order_read_is_parsed_once(self) -> None:
        writer, _ = self._orders()
        writer.save(paid(sample_order()), None)
        reader, counting = self._orders()
        for _ in range(3):
            found = reader.get("douyin", "DY-1001")
            assert found == paid(sample_order())
            assert type(found) is Order
        assert counting.parsed == 1

    def test_an_order_another_store_changed_is_read_afresh(self) -> None:
        store, counting = self._orders()
        store.save(sample_order(), None)
        assert store.get("douyin", "DY-1001") == sample_order()
        other, _ = self._orders()
        moved = paid(sample_order(), version=3)
        other.save(moved, 1)
        assert store.get("douyin", "DY-1001") == moved
        assert store.orders() == [moved]
        assert counting.parsed == 1

    def test_a_save_rolled_back_is_not_read(self) -> None:
        counting = Counting()
        unit = self.open_unit(counting)
        self.opened.append(unit)
        with unit as uow:
            uow.orders.save(sample_order(), None)
            uow.commit()
        with unit as uow:
            uow.orders.save(paid(sample_order()), 1)
            assert uow.orders.get("douyin", "DY-1001") == paid(sample_order())
        with unit as uow:
            assert uow.orders.get("douyin", "DY-1001") == sample_order()
        assert counting.parsed == 0

    def test_records_appended_read_back_unparsed(self) -> None:
        records = [sample_record(), sample_record(version=3)]
        counting = Counting()
        log = self.open_audit(counting)
        self.opened.append(log)
        log.append("douyin", records)
        assert log.records("douyin", "DY-1001") == records
        reader_counting = Counting()
        reader = self.open_audit(reader_counting)
        self.opened.append(reader)
        for _ in range(2):
            assert reader.records("douyin", "DY-1001") == records
        assert (counting.parsed, reader_counting.parsed) == (0, 2)
