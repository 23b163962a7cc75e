"""Drafts: the fast readers' instances become their frozen class, whole.

A reader fills a draft (a subclass with plain attribute stores) and turns it
into the frozen class by `__class__` assignment. What comes out must be that
class exactly, frozen, with every slot set, and equal and hash-equal to the
value its constructor builds.
"""

from typing import Any

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from orderkit._fast import draft
from orderkit.dedupe import IdempotencyKey
from orderkit.money import Money
from orderkit.orders import Order
from orderkit.serialization import make_converter
from orderkit.serialization._parts import read_keys
from orderkit.serialization._readers import READERS
from orderkit.testing import strategies as ost


CONVERTER = make_converter()


def _every_slot_set(value: object) -> None:
    """Raise AttributeError if an attrs instance inside `value` lacks a slot."""
    kind = type(value)
    if attrs.has(kind):
        assert "Draft" not in kind.__name__
        for field in attrs.fields(kind):
            _every_slot_set(getattr(value, field.name))
        for name in getattr(kind, "__slots__", ()):
            if name != "__weakref__":
                getattr(value, name)
    elif isinstance(value, tuple | frozenset):
        for item in value:
            _every_slot_set(item)


def _without_parts(order: Order) -> Order:
    return attrs.evolve(order, payment_ledger=None, after_sales=(), price_changes=())


@pytest.mark.parametrize("cl", [*READERS, Money], ids=lambda cl: cl.__name__)
class TestDraft:
    def test_becomes_the_class(self, cl: Any) -> None:
        instance = draft(cl)()
        instance.__class__ = cl
        assert type(instance) is cl

    def test_the_class_stays_frozen(self, cl: Any) -> None:
        instance = draft(cl)()
        instance.__class__ = cl
        name = attrs.fields(cl)[0].name
        with pytest.raises(attrs.exceptions.FrozenInstanceError):
            setattr(instance, name, None)


@pytest.mark.parametrize("cl", list(READERS), ids=lambda cl: cl.__name__)
@given(data=st.data())
def test_a_read_value_is_whole(cl: Any, data: st.DataObject) -> None:
    strategy = ost.for_type(cl)
    if cl is Order:
        strategy = strategy.map(_without_parts)
    value = data.draw(strategy)
    read = READERS[cl](CONVERTER.unstructure(value))
    _every_slot_set(read)
    assert type(read) is cl
    assert value == read
    assert hash(value) == hash(read)


def test_a_read_key_caches_the_hash_the_constructor_would() -> None:
    key = IdempotencyKey("douyin", "trade.paid", "DY-1001", "evt-7001")
    (read,) = read_keys([CONVERTER.unstructure(key)])
    assert getattr(read, "_attrs_cached_hash") == hash(key)  # noqa: B009 - untyped
    assert hash(read) == hash(key)
    assert {read, key} == {key}


class TestRefused:
    def test_not_an_attrs_class(self) -> None:
        class Plain:
            __slots__ = ("a",)

        with pytest.raises(TypeError, match="slotted attrs class"):
            draft(Plain)

    def test_an_attrs_class_without_slots(self) -> None:
        @attrs.frozen(slots=False)
        class Dicts:
            a: int

        with pytest.raises(TypeError, match="slotted attrs class"):
            draft(Dicts)
