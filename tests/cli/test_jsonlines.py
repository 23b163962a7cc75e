"""Reading JSON values with their lines: arrays, single values and JSON Lines."""

from __future__ import annotations

import json
import sys
from typing import SupportsIndex

import pytest

from orderkit.cli import _jsonlines
from orderkit.cli._jsonlines import Item, NotJson, items


def test_each_element_of_an_array_comes_with_its_line() -> None:
    text = '[\n  {"a": 1},\n\n  {"b": 2}, {"c": 3}\n]\n'
    assert [Item(2, {"a": 1}), Item(4, {"b": 2}), Item(4, {"c": 3})] == list(
        items(text)
    )


def test_an_empty_array_is_no_values() -> None:
    assert [] == list(items(" [ ] \n"))


def test_a_trailing_comma_is_not_json() -> None:
    with pytest.raises(NotJson, match="line 1: not JSON"):
        list(items('[{"a": 1},]'))


@pytest.mark.parametrize(
    ("text", "line"), [("[\n1\n]\n{}\n", 4), ('[1,\n 2]\n{"type": "Closed"}\n', 3)]
)
def test_nothing_may_follow_an_array_over_lines(text: str, line: int) -> None:
    with pytest.raises(NotJson, match=f"line {line}: not JSON: text after the array"):
        list(items(text))


@pytest.mark.parametrize("first", ["[]", '["not an event"]', " [1, [2]] "])
def test_an_array_on_the_first_line_of_json_lines_is_its_first_value(
    first: str,
) -> None:
    text = f'{first}\n{{"a": 1}}\nnot json\n'
    read = list(items(text))
    assert read[:2] == [Item(1, json.loads(first)), Item(2, {"a": 1})]
    assert (read[2].line, read[2].error) == (3, "not JSON: Expecting value (column 1)")


def test_a_long_array_counts_its_lines_once() -> None:
    """Each line is counted once, not once per element: linear, not quadratic."""
    text = "[\n" + ",\n".join(json.dumps({"n": n}) for n in range(2_000)) + "\n]"
    counted = 0

    class Counting(str):
        __slots__ = ()

        def count(
            self,
            sub: str,
            start: SupportsIndex | None = None,
            end: SupportsIndex | None = None,
        ) -> int:
            nonlocal counted
            assert isinstance(start, int)
            assert isinstance(end, int)
            counted += end - start
            return str.count(self, sub, start, end)

    read = list(_jsonlines._array(Counting(text), 0))
    assert [item.line for item in read] == list(range(2, 2_002))
    assert counted <= len(text)


@pytest.mark.parametrize(
    "first",
    ['[{"type": "OrderPlaced",', "[1, 2", "[", "[1, 2]x"],
    ids=["event-cut-short", "array-cut-short", "bracket-alone", "text-after"],
)
def test_a_broken_first_line_of_json_lines_is_told_from_a_broken_array(
    first: str,
) -> None:
    """Followed by a whole value, it is one malformed line; the rest is read."""
    read = list(items(f'{first}\n{{"a": 1}}\nnot json\n'))
    assert [(item.line, item.value) for item in read] == [
        (1, None),
        (2, {"a": 1}),
        (3, None),
    ]
    assert read[0].error is not None
    assert read[0].error.startswith("not JSON: ")
    assert read[2].error == "not JSON: Expecting value (column 1)"
    # Followed by the rest of an array spread over lines, the file is refused.
    with pytest.raises(NotJson):
        list(items(f'{first}\n  {{"a": 1}},\n  {{"b": 2}},\n]\n'))


LIMIT = sys.get_int_max_str_digits()


@pytest.mark.parametrize(
    "number",
    ["9" * (LIMIT + 1), "-" + "1" * (LIMIT + 700)],
    ids=["one-digit-too-many", "negative"],
)
def test_a_number_of_too_many_digits_is_named_so(number: str) -> None:
    """Not CPython's advice to call sys.set_int_max_str_digits()."""
    problem = f"not JSON: a number of more than {LIMIT} digits"
    assert [Item(1, error=problem), Item(2, {})] == list(items(f"{number}\n{{}}\n"))
    with pytest.raises(NotJson, match=f"^line 2: {problem}$"):
        list(items(f'[{{"a": 1}},\n {{"n": {number}}}]'))
