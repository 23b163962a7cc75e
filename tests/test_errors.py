"""The error tree: the drawing in the module docstring is the real hierarchy."""

import builtins
import datetime as dt
import inspect
import pickle
import re
from dataclasses import dataclass

import pytest

from orderkit import errors
from orderkit.dedupe import Fingerprinter, normalize_phone
from orderkit.errors import (
    CurrencyMismatch,
    EmptyOrder,
    IllegalTransition,
    InvalidMoney,
    InvalidQuantity,
    NaiveDatetime,
    OrderkitError,
    OrderMismatch,
    StructureError,
    UnknownCurrency,
    UnknownStatus,
    ValidationError,
)


@dataclass(frozen=True)
class Drawn:
    """One class as the docstring draws it."""

    name: str
    parent: str | None
    builtins: tuple[str, ...]
    inherited_builtins: tuple[str, ...]


_LINE = re.compile(
    r"^(?P<indent>(?:│   |    )*)(?P<branch>[├└]── )?"
    r"(?P<name>[A-Za-z]\w*)(?: \((?P<builtins>[\w, ]+)\))?(?:\s|$)"
)


def _drawing() -> list[Drawn]:
    doc = errors.__doc__
    assert doc is not None
    block = re.search(r"```text\n(.*?)```", doc, re.DOTALL)
    assert block is not None, "errors docstring has no ```text drawing"
    drawn: list[Drawn] = []
    stack: list[Drawn] = []
    for line in block.group(1).splitlines():
        if not line.strip():
            continue
        match = _LINE.match(line)
        assert match is not None, f"cannot read the drawing line {line!r}"
        depth = len(match["indent"]) // 4 + (1 if match["branch"] else 0)
        assert depth <= len(stack), f"{line!r} is indented past its parent"
        del stack[depth:]
        parent = stack[-1] if stack else None
        own = tuple(b.strip() for b in (match["builtins"] or "").split(",") if b)
        inherited = (parent.inherited_builtins if parent else ()) + own
        entry = Drawn(match["name"], parent.name if parent else None, own, inherited)
        drawn.append(entry)
        stack.append(entry)
    return drawn


DRAWING = _drawing()
DRAWN_NAMES = [d.name for d in DRAWING]


def _error_classes() -> list[str]:
    return sorted(
        name
        for name, obj in inspect.getmembers(errors, inspect.isclass)
        if obj.__module__ == errors.__name__ and issubclass(obj, BaseException)
    )


class TestDrawing:
    """The docstring drawing and the classes agree, in both directions."""

    def test_drawing_is_rooted_at_orderkit_error(self) -> None:
        root = DRAWING[0]
        assert errors.OrderkitError.__name__ == root.name
        assert root.parent is None
        assert [root] == [d for d in DRAWING if d.parent is None]

    def test_no_class_is_drawn_twice(self) -> None:
        assert sorted(set(DRAWN_NAMES)) == sorted(DRAWN_NAMES)

    def test_every_exported_error_is_drawn(self) -> None:
        assert sorted(errors.__all__) == sorted(DRAWN_NAMES)

    def test_every_error_class_in_the_module_is_drawn(self) -> None:
        assert _error_classes() == sorted(DRAWN_NAMES)

    @pytest.mark.parametrize("drawn", DRAWING[1:], ids=DRAWN_NAMES[1:])
    def test_direct_orderkit_parent_is_the_one_drawn_above(self, drawn: Drawn) -> None:
        cls = getattr(errors, drawn.name)
        own_parents = [
            base.__name__
            for base in cls.__bases__
            if base.__module__ == errors.__name__
        ]
        assert [drawn.parent] == own_parents

    @pytest.mark.parametrize("drawn", DRAWING[1:], ids=DRAWN_NAMES[1:])
    def test_builtin_bases_are_the_ones_in_parentheses(self, drawn: Drawn) -> None:
        cls = getattr(errors, drawn.name)
        builtin_bases = [
            base.__name__ for base in cls.__bases__ if base.__module__ == "builtins"
        ]
        assert list(drawn.builtins) == builtin_bases

    def test_the_root_is_a_plain_exception(self) -> None:
        assert (Exception,) == OrderkitError.__bases__


class TestConcreteErrors:
    """Every error is an OrderkitError and each builtin drawn on it or above it."""

    @pytest.mark.parametrize("drawn", DRAWING, ids=DRAWN_NAMES)
    def test_subclasses_root_and_drawn_builtins(self, drawn: Drawn) -> None:
        cls = getattr(errors, drawn.name)
        assert issubclass(cls, OrderkitError)
        for name in drawn.inherited_builtins:
            builtin = getattr(builtins, name)
            assert issubclass(cls, builtin), f"{drawn.name} is not a {name}"

    def test_known_builtins(self) -> None:
        # Pinned by hand too, so that a wrong drawing cannot hide a wrong class.
        assert issubclass(NaiveDatetime, TypeError)
        assert issubclass(NaiveDatetime, ValueError)
        assert issubclass(UnknownCurrency, LookupError)
        assert issubclass(UnknownCurrency, ValueError)
        assert issubclass(UnknownStatus, LookupError)
        assert issubclass(IllegalTransition, ValueError)
        assert not issubclass(IllegalTransition, ValidationError)


@dataclass(frozen=True)
class Refusal:
    """An error as orderkit raises it, with the field and value it must name."""

    error: ValidationError
    field: str
    value: object


_REFUSALS = [
    Refusal(
        ValidationError("buyer.name", "", "must be a non-empty string"),
        "buyer.name",
        "",
    ),
    Refusal(
        NaiveDatetime("placed_at", dt.datetime(2026, 11, 11, 9)),  # noqa: DTZ001 - naive on purpose
        "placed_at",
        dt.datetime(2026, 11, 11, 9),  # noqa: DTZ001
    ),
    Refusal(InvalidMoney("amount", 199.0, "floats are not exact"), "amount", 199.0),
    Refusal(UnknownCurrency("currency", "RMB"), "currency", "RMB"),
    Refusal(CurrencyMismatch("currency", "USD", "CNY"), "currency", "USD"),
    Refusal(
        InvalidQuantity("lines[2].quantity", 0, "must be a positive integer"),
        "lines[2].quantity",
        0,
    ),
    Refusal(EmptyOrder("lines", (), "needs at least one line"), "lines", ()),
    Refusal(UnknownStatus("status", "shipping", "not canonical"), "status", "shipping"),
    Refusal(OrderMismatch("DY-1001", "DY-1002"), "order_id", "DY-1002"),
    Refusal(
        StructureError("lines[0].unit_price", "12,30", "not a decimal", "OrderLine"),
        "lines[0].unit_price",
        "12,30",
    ),
]


class TestMessages:
    """Messages and attributes say what was wrong and with which value."""

    @pytest.mark.parametrize(
        "refusal", _REFUSALS, ids=[type(r.error).__name__ for r in _REFUSALS]
    )
    def test_names_field_and_value(self, refusal: Refusal) -> None:
        message = str(refusal.error)
        assert refusal.field == refusal.error.field
        assert refusal.value == refusal.error.value
        assert refusal.field in message
        assert repr(refusal.value) in message

    def test_currency_mismatch_names_the_expected_currency(self) -> None:
        error = CurrencyMismatch("currency", "USD", "CNY")
        expected = "CNY"
        assert expected == error.expected
        assert "CNY" in str(error)

    def test_order_mismatch_names_both_orders(self) -> None:
        error = OrderMismatch("DY-1001", "DY-1002")
        expected = "DY-1001"
        assert expected == error.order_id
        assert "DY-1001" in str(error)
        assert "DY-1002" in str(error)

    def test_structure_error_names_the_type(self) -> None:
        error = StructureError("lines[0].unit_price", "12,30", "bad", "OrderLine")
        expected = "OrderLine"
        assert expected == error.type_name

    def test_illegal_transition_names_order_status_and_event(self) -> None:
        error = IllegalTransition(
            "DY-1001", "completed", "Cancelled", "a completed order cannot be cancelled"
        )
        message = str(error)
        expected = ("DY-1001", "completed", "Cancelled")
        assert expected == (error.order_id, error.status, error.event)
        for part in (*expected, "a completed order cannot be cancelled"):
            assert part in message
        assert error.case_id is None
        assert message.startswith("order 'DY-1001' in status 'completed'")

    def test_illegal_transition_of_a_case_names_the_case(self) -> None:
        error = IllegalTransition(
            "DY-1001", "rejected", "approve", "the case ended", case_id="AS-1"
        )
        expected = (
            "case 'AS-1' of order 'DY-1001' in state 'rejected' cannot take approve:"
            " the case ended"
        )
        assert expected == str(error)
        assert "AS-1" == pickle.loads(pickle.dumps(error)).case_id  # noqa: S301


class TestLongValues:
    """A huge refused value keeps its message short, and the value whole."""

    def test_message_is_shortened_value_is_kept(self) -> None:
        document = "x" * 1_000_000

        error = ValidationError("lines", document, "must be a sequence")

        assert document is error.value
        assert len(str(error)) < 300
        assert str(error).startswith("lines: must be a sequence (got 'xxx")

    def test_a_value_without_a_field_is_labelled_top(self) -> None:
        error = ValidationError("", 5, "must be an object")

        assert "(top): must be an object (got 5)" == str(error)


class TestPickling:
    """Errors cross process boundaries (a worker pool's results) intact."""

    @pytest.mark.parametrize(
        "refusal", _REFUSALS, ids=[type(r.error).__name__ for r in _REFUSALS]
    )
    def test_a_refusal_pickles_with_its_fields(self, refusal: Refusal) -> None:
        again = pickle.loads(pickle.dumps(refusal.error))  # noqa: S301 - our own bytes
        assert type(again) is type(refusal.error)
        assert (again.field, again.value, str(again)) == (
            refusal.field,
            refusal.value,
            str(refusal.error),
        )

    def test_other_errors_pickle_with_their_attributes(self) -> None:
        for error in (
            errors.ConcurrencyConflict("hold:H1"),
            errors.StoreError("postgres", "apply", "connection lost"),
            errors.HoldNotLive("H1", "expired"),
            errors.IdempotencyConflict("key-1"),
        ):
            again = pickle.loads(pickle.dumps(error))  # noqa: S301 - our own bytes
            assert type(again) is type(error)
            assert again.__dict__ == error.__dict__
            assert str(again) == str(error)


class TestEveryErrorHasFieldAndValue:
    """A handler of every orderkit error reads `.field` and `.value` safely."""

    def test_an_error_no_input_caused_has_none(self) -> None:
        for error in (
            errors.ConcurrencyConflict("hold:H1"),
            errors.StoreError("postgres", "apply", "connection lost"),
        ):
            assert (error.field, error.value) == (None, None)

    def test_a_hold_not_live_names_the_hold(self) -> None:
        error = errors.HoldNotLive("H1", "expired")
        assert (error.field, error.value) == ("hold_id", "H1")

    def test_a_configuration_error_names_its_setting_and_value(self) -> None:
        with pytest.raises(errors.ConfigurationError) as caught:
            normalize_phone("13800138000", "Mars")
        assert (caught.value.field, caught.value.setting) == ("region", "region")
        assert caught.value.value == "Mars"
        again = pickle.loads(pickle.dumps(caught.value))  # noqa: S301 - our own bytes
        assert (again.field, again.value) == ("region", "Mars")

    def test_a_secret_is_never_the_value(self) -> None:
        with pytest.raises(errors.ConfigurationError) as caught:
            Fingerprinter(b"too-short")
        assert (caught.value.field, caught.value.value) == ("secret", None)
        assert "too-short" not in str(caught.value)
