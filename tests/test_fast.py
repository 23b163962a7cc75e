"""orderkit._fast: builders and copiers that skip validation."""

import weakref

import attrs
import pendulum
import pytest

from orderkit._fast import builder, changer, copier
from orderkit.dedupe import IdempotencyKey
from orderkit.orders import (
    AuditRecord,
    FieldChange,
    OrderStatus,
    Shipment,
    ShipmentLine,
)


KEY = IdempotencyKey("douyin", "trade.paid", "DY-1001", "evt-7001")
NOW = pendulum.datetime(2026, 11, 20, tz="UTC")
PARCEL = Shipment("S1", (ShipmentLine("L1", 2),), "SF", "SF1", NOW)


class TestCachedHash:
    """A class with `cache_hash=True` starts its cached hash empty, as attrs does."""

    def test_a_built_instance_hashes_as_a_constructed_one(self) -> None:
        built = builder(IdempotencyKey)(*attrs.astuple(KEY))
        assert hash(KEY) == hash(built)
        assert {KEY} == {built}

    def test_a_copy_does_not_keep_the_original_hash(self) -> None:
        hash(KEY)
        copied = copier(IdempotencyKey)(KEY, event_id="evt-7002")
        assert hash(IdempotencyKey("douyin", "trade.paid", "DY-1001", "evt-7002")) == (
            hash(copied)
        )


class TestBuilders:
    """Built instances are plain, frozen instances of the public class."""

    def test_a_built_instance_is_of_the_class_and_equal(self) -> None:
        built = builder(FieldChange)("address", "", "Beijing")
        assert type(built) is FieldChange
        assert built == FieldChange("address", "", "Beijing")
        assert repr(built) == repr(FieldChange("address", "", "Beijing"))

    def test_a_copy_changes_only_what_it_names(self) -> None:
        moved = changer(Shipment, "status")(PARCEL, "delivered")
        assert type(moved) is Shipment
        assert moved == attrs.evolve(PARCEL, status="delivered")
        assert PARCEL.status == "shipped"

    def test_a_built_instance_stays_frozen(self) -> None:
        built = builder(FieldChange)("address", "", "Beijing")
        with pytest.raises(attrs.exceptions.FrozenInstanceError):
            built.new = "Shanghai"  # type: ignore[misc]

    def test_a_cached_hash_starts_empty(self) -> None:
        hash(KEY)
        copied = changer(IdempotencyKey, "event_id")(KEY, "evt-7002")
        expected = IdempotencyKey("douyin", "trade.paid", "DY-1001", "evt-7002")
        assert hash(copied) == hash(expected)
        assert {copied} == {expected}

    def test_a_built_record_can_be_weakly_referenced(self) -> None:
        record = builder(AuditRecord)(
            "DY-1001", 1, None, OrderStatus.PAID, "X", KEY, "a", "b", NOW, NOW, ()
        )
        assert weakref.ref(record)() is record
