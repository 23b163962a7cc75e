"""IdempotencyKey: what makes two deliveries of one event the same event."""

from typing import Any

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from orderkit.dedupe import IdempotencyKey
from orderkit.errors import ValidationError
from orderkit.testing.strategies import idempotency_keys


FIELDS = ("channel", "event_type", "object_id", "event_id")

# The parts a channel repeats on every re-send of "DY-1001 was paid".
PAID = ("douyin", "order.paid", "DY-1001", "evt-7781")

# Parts built from the characters escaping has to keep apart.
_TRICKY_PART = st.text(alphabet="a:%3A", min_size=1, max_size=90)
_TRICKY_KEYS = st.builds(
    IdempotencyKey, _TRICKY_PART, _TRICKY_PART, _TRICKY_PART, _TRICKY_PART
)


def _with(field: str, value: object) -> dict[str, Any]:
    parts: dict[str, Any] = dict(zip(FIELDS, PAID, strict=True))
    parts[field] = value
    return parts


class TestEquality:
    """Equal parts make equal keys, with equal strings and hashes."""

    def test_a_resend_carries_the_same_key(self) -> None:
        first = IdempotencyKey(*PAID)
        resend = IdempotencyKey(*PAID)
        assert first == resend
        assert str(first) == str(resend)
        assert hash(first) == hash(resend)

    @pytest.mark.parametrize("field", FIELDS)
    def test_any_differing_part_makes_another_key(self, field: str) -> None:
        other = IdempotencyKey(**_with(field, "DY-1002"))
        assert IdempotencyKey(*PAID) != other
        assert str(IdempotencyKey(*PAID)) != str(other)

    def test_keys_work_in_sets_and_as_dict_keys(self) -> None:
        paid = IdempotencyKey(*PAID)
        shipped = IdempotencyKey("douyin", "order.shipped", "DY-1001", "evt-7790")
        seen = {paid, shipped, IdempotencyKey(*PAID)}
        assert {paid, shipped} == seen
        outcomes = {paid: "applied"}
        expected = "applied"
        assert expected == outcomes[IdempotencyKey(*PAID)]

    @given(idempotency_keys())
    def test_a_rebuilt_key_is_equal(self, key: IdempotencyKey) -> None:
        again = IdempotencyKey(key.channel, key.event_type, key.object_id, key.event_id)
        assert key == again
        assert hash(key) == hash(again)
        assert str(key) == str(again)


class TestStringForm:
    """`str(key)` is `channel:event_type:object_id:event_id`, escaped, <= 255."""

    def test_plain_parts(self) -> None:
        expected = "douyin:order.paid:DY-1001:evt-7781"
        assert expected == str(IdempotencyKey(*PAID))

    def test_separator_and_percent_are_escaped(self) -> None:
        key = IdempotencyKey("shopify", "orders/paid", "DY:1001", "50%")
        expected = "shopify:orders/paid:DY%3A1001:50%25"
        assert expected == str(key)

    @pytest.mark.parametrize(
        ("left", "right"),
        [
            (("a:b", "c", "DY-1001", "1"), ("a", "b:c", "DY-1001", "1")),
            (("douyin", "paid", "DY:1001", "1"), ("douyin", "paid:DY", "1001", "1")),
            (("douyin", "paid", "DY%3A1001", "1"), ("douyin", "paid", "DY:1001", "1")),
            (("douyin", "paid", "DY%1001", "1"), ("douyin", "paid", "DY%251001", "1")),
        ],
    )
    def test_escaping_keeps_lookalike_keys_apart(
        self, left: tuple[str, str, str, str], right: tuple[str, str, str, str]
    ) -> None:
        assert str(IdempotencyKey(*left)) != str(IdempotencyKey(*right))

    @given(idempotency_keys(), idempotency_keys())
    def test_different_keys_give_different_strings(
        self, a: IdempotencyKey, b: IdempotencyKey
    ) -> None:
        assume(a != b)
        assert str(a) != str(b)

    @given(_TRICKY_KEYS, _TRICKY_KEYS)
    def test_different_lookalike_keys_give_different_strings(
        self, a: IdempotencyKey, b: IdempotencyKey
    ) -> None:
        assume(a != b)
        assert str(a) != str(b)

    @given(idempotency_keys())
    def test_never_longer_than_255(self, key: IdempotencyKey) -> None:
        assert len(str(key)) <= 255

    @given(_TRICKY_KEYS)
    def test_never_longer_than_255_even_when_escaping_grows_it(
        self, key: IdempotencyKey
    ) -> None:
        assert len(str(key)) <= 255

    @given(idempotency_keys())
    def test_stable_across_calls(self, key: IdempotencyKey) -> None:
        first = str(key)
        assert first == str(key)

    def test_a_long_key_keeps_channel_and_type_and_a_pinned_digest(self) -> None:
        # Stored keys must match across processes and releases: pin the string.
        key = IdempotencyKey("shopify", "orders/paid", "DY-1001:" + "R" * 300, "evt-42")
        expected = (
            "shopify:orders/paid:sha256="
            "c6111d944cbe244d9ab417f2b07b9d5add404706afe0f6e232b39c5cd89ce60a"
        )
        assert expected == str(key)

    def test_long_keys_differing_only_at_the_end_differ(self) -> None:
        long_id = "DY-1001-" + "R" * 300
        first = IdempotencyKey("shopify", "orders/paid", long_id, "evt-42")
        second = IdempotencyKey("shopify", "orders/paid", long_id, "evt-43")
        assert str(first) != str(second)


class TestRefusedParts:
    """Empty, blank, non-string and control-character parts are refused."""

    @pytest.mark.parametrize("field", FIELDS)
    @pytest.mark.parametrize(
        "value",
        [
            pytest.param("", id="empty"),
            pytest.param("   ", id="spaces"),
            pytest.param("\t\n", id="whitespace"),
            pytest.param("DY\n1001", id="newline"),
            pytest.param("DY\x001001", id="nul"),
            pytest.param("DY\x1b1001", id="escape"),
            pytest.param(1001, id="int"),
            pytest.param(None, id="None"),
            pytest.param(b"DY-1001", id="bytes"),
        ],
    )
    def test_refused_naming_the_field(self, field: str, value: object) -> None:
        with pytest.raises(ValidationError) as caught:
            IdempotencyKey(**_with(field, value))
        assert field == caught.value.field
        assert value == caught.value.value
        assert field in str(caught.value)

    def test_validation_error_is_a_value_error(self) -> None:
        with pytest.raises(ValueError, match="object_id"):
            IdempotencyKey("douyin", "order.paid", " ", "evt-7781")
