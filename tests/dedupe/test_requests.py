"""request_hash: the canonical event decides, never its envelope or field order."""

from __future__ import annotations

import datetime as dt
import enum
import hashlib
import os
import subprocess
import sys
from decimal import Decimal
from typing import Any

import attrs
import pendulum
import pytest
from hypothesis import given
from hypothesis import strategies as st

from orderkit.dedupe import IdempotencyKey, request_hash
from orderkit.errors import NaiveDatetime, ValidationError
from orderkit.money import Money
from orderkit.orders import Delivered, InTransit, OrderEvent, PaymentCaptured
from orderkit.testing.strategies import events, for_type


PAID_AT = pendulum.datetime(2026, 11, 11, 0, 3, 12, 345678)
KEY = IdempotencyKey("douyin", "payment", "DY-1001", "evt-7781")


def paid(**changes: Any) -> PaymentCaptured:
    fields: dict[str, Any] = {
        "order_id": "DY-1001",
        "key": KEY,
        "occurred_at": PAID_AT,
        "payment_id": "PAY-88",
        "amount": Money("199.00", "CNY"),
    }
    return PaymentCaptured(**(fields | changes))


def _compared(event: OrderEvent) -> list[str]:
    return [f.name for f in attrs.fields(type(event)) if f.eq and f.init]


class TestPinned:
    """The encoding is a stored contract: these hashes never change."""

    def test_the_canonical_form_of_a_payment(self) -> None:
        # The JSON the docstring describes, written out by hand.
        canonical = (
            '{"fields":{"actor":"system","amount":{"money":["199.00","CNY"]},'
            '"key":{"fields":{"channel":"douyin","event_id":"evt-7781",'
            '"event_type":"payment","object_id":"DY-1001"},"type":"IdempotencyKey"},'
            '"occurred_at":{"datetime":"2026-11-11T00:03:12.345678+00:00"},'
            '"order_id":"DY-1001","payment_id":"PAY-88","source":"douyin"},'
            '"type":"PaymentCaptured"}'
        )
        expected = hashlib.sha256(canonical.encode()).hexdigest()
        assert expected == request_hash(paid())

    @pytest.mark.parametrize(
        ("value", "expected"),
        [
            pytest.param(
                paid(),
                "6d0eb1fc958f31f103bc750926d365baa98e67921de10991715f2837aa3e4406",
                id="payment",
            ),
            pytest.param(
                frozenset({"TEA-01", "MUG-02", "CUP-03"}),
                "5c01a958e65155af59f70b8acb7ac9d2b105ee57232ae2730b301eafc97d025a",
                id="frozenset",
            ),
            pytest.param(
                None,
                "74234e98afe7498fb5daf1f36ac2d78acc339464f950703b8c019892f982b90b",
                id="none",
            ),
            pytest.param(
                "paid",
                "f06a36f957e6a00ef30c2fb56ad62de45e13eca69670b92bf8f2b1144ac75d53",
                id="str",
            ),
            pytest.param(
                (1, True, Decimal("12.30")),
                "3fa7a93225c2043e49b9f32661ea57e5f464eaaaf42e6c8da8499f35556acb0d",
                id="tuple",
            ),
        ],
    )
    def test_known_hashes(self, value: object, expected: str) -> None:
        assert expected == request_hash(value)

    @pytest.mark.parametrize("seed", ["0", "1"])
    def test_sets_hash_alike_under_any_hash_seed(self, seed: str) -> None:
        code = (
            "from orderkit.dedupe._requests import request_hash;"
            "print(request_hash(frozenset({'TEA-01', 'MUG-02', 'CUP-03', 'X'})))"
        )
        found = subprocess.run(  # noqa: S603 - our own interpreter and code
            [sys.executable, "-c", code],
            capture_output=True,
            text=True,
            check=True,
            env={**os.environ, "PYTHONHASHSEED": seed},
        ).stdout.strip()
        assert request_hash(frozenset({"X", "CUP-03", "MUG-02", "TEA-01"})) == found


class TestCanonical:
    """Equal values hash alike, however they were built."""

    @given(events())
    def test_a_rebuilt_event_hashes_alike(self, event: OrderEvent) -> None:
        fields = {name: getattr(event, name) for name in reversed(_compared(event))}
        rebuilt = type(event)(**fields)
        assert request_hash(event) == request_hash(rebuilt)
        assert len(request_hash(event)) == 64

    def test_the_same_instant_in_another_zone_hashes_alike(self) -> None:
        beijing = pendulum.datetime(2026, 11, 11, 8, 3, 12, 345678, tz="Asia/Shanghai")
        assert request_hash(paid()) == request_hash(paid(occurred_at=beijing))
        stdlib = dt.datetime(2026, 11, 11, 0, 3, 12, 345678, tzinfo=dt.UTC)
        assert request_hash(PAID_AT) == request_hash(stdlib)

    def test_declaration_order_of_fields_does_not_matter(self) -> None:
        first = attrs.make_class("Parcel", ["tracking_number", "weight_grams"])
        again = attrs.make_class("Parcel", ["weight_grams", "tracking_number"])
        assert request_hash(first("SF1234567890", 850)) == request_hash(
            again(850, "SF1234567890")
        )

    @given(st.lists(st.text(max_size=8), unique=True), st.randoms())
    def test_sets_hash_alike_in_any_insertion_order(
        self, items: list[str], random: Any
    ) -> None:
        shuffled = list(items)
        random.shuffle(shuffled)
        assert request_hash(frozenset(items)) == request_hash(frozenset(shuffled))
        assert request_hash(set(shuffled)) == request_hash(frozenset(items))

    @pytest.mark.parametrize(
        ("one", "other"),
        [
            (Decimal("1.0"), Decimal("1.00")),
            (Decimal(0), Decimal("-0.000")),
            (Decimal(100), Decimal("1E+2")),
            (Money("0.00", "CNY"), Money("-0.00", "CNY")),
            ({"b": 2, "a": 1}, {"a": 1, "b": 2}),
        ],
        ids=["places", "zero", "exponent", "money-zero", "mapping-order"],
    )
    def test_equal_values_hash_alike(self, one: object, other: object) -> None:
        assert one == other
        assert request_hash(one) == request_hash(other)

    def test_keys_that_encode_alike_hash_alike_in_any_insertion_order(self) -> None:
        # An enum member and its value are distinct keys with one encoding:
        # the pairs are sorted by value too, not left in insertion order.
        class Status(enum.Enum):
            PAID = "paid"

        first = {Status.PAID: "1", "paid": "2"}
        second = {"paid": "2", Status.PAID: "1"}
        assert first == second
        assert request_hash(first) == request_hash(second)
        # Mappings whose keys encode apart keep the hash they always had.
        assert request_hash({"b": 2, "a": 1}) == (
            "2dc0e55f250a898513ef86f95b94c7f4651876137d4d3582081e2fda97941715"
        )

    def test_a_list_and_a_tuple_are_one_sequence(self) -> None:
        # A channel's JSON gives lists where the domain holds tuples.
        assert request_hash(["TEA-01", 2]) == request_hash(("TEA-01", 2))


class TestDistinct:
    """Values that differ, in any field or in kind, hash differently."""

    @given(st.data())
    def test_changing_one_field_changes_the_hash(self, data: st.DataObject) -> None:
        event = data.draw(events())
        other = data.draw(for_type(type(event)))
        name = data.draw(st.sampled_from(_compared(event)))
        changed = attrs.evolve(event, **{name: getattr(other, name)})
        assert (request_hash(changed) == request_hash(event)) == (changed == event)

    def test_a_changed_amount_is_another_request(self) -> None:
        assert request_hash(paid()) != request_hash(
            paid(amount=Money("1990.00", "CNY"))
        )

    def test_events_with_the_same_fields_differ_by_type(self) -> None:
        common: dict[str, Any] = {
            "order_id": "DY-1001",
            "key": KEY,
            "occurred_at": PAID_AT,
            "shipment_id": "SHP-1",
        }
        assert request_hash(InTransit(**common)) != request_hash(Delivered(**common))

    def test_a_pendulum_duration_hashes_as_its_timedelta(self) -> None:
        hour = dt.timedelta(hours=1)
        assert request_hash(pendulum.duration(hours=1)) == request_hash(hour)
        start = pendulum.datetime(2026, 11, 11, 0)
        assert request_hash(start.add(hours=1) - start) == request_hash(hour)

    def test_kinds_never_collide(self) -> None:
        values: list[object] = [
            1,
            True,
            "1",
            Decimal(1),
            Money("1", "JPY"),
            [1],
            frozenset({1}),
            {1: 1},
            None,
            "null",
            "2026-11-11",
            dt.date(2026, 11, 11),
            dt.timedelta(microseconds=1),
            ("a", "b"),
            ("a,b",),
            ('a","b',),
        ]
        hashes = {request_hash(v) for v in values}
        assert len(values) == len(hashes)


class TestRefused:
    """Values without one exact form are refused, naming where they sit."""

    def test_a_float_is_refused_by_its_path(self) -> None:
        @attrs.frozen
        class Line:
            sku: str
            weight: object

        @attrs.frozen
        class Parcel:
            lines: tuple[Line, ...]

        with pytest.raises(ValidationError) as error:
            request_hash(Parcel((Line("TEA-01", 1), Line("MUG-02", 0.85))))
        assert (error.value.field, error.value.value) == ("lines[1].weight", 0.85)

    def test_a_naive_datetime_is_refused(self) -> None:
        with pytest.raises(NaiveDatetime) as error:
            request_hash({"paid_at": dt.datetime(2026, 11, 11, 8)})  # noqa: DTZ001 - naive on purpose
        assert error.value.field == "['paid_at']"

    @pytest.mark.parametrize(
        "value",
        [Decimal("NaN"), Decimal("Infinity"), b"raw payload", object(), 0.5],
        ids=["nan", "infinity", "bytes", "object", "float"],
    )
    def test_values_without_a_canonical_form(self, value: object) -> None:
        with pytest.raises(ValidationError) as error:
            request_hash(value)
        assert error.value.field == ""
