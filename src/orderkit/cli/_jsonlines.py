"""JSON values from a file, each with the line it starts on.

A file is either one JSON array (each element a value), one JSON value, or
JSON Lines (one value per line). A file whose first line starts with `[`
is one array spread over lines unless that line is a line of JSON Lines:
a whole array with lines after it (their first value), or a line that is
not JSON (one cut short, say) followed by a line that is a whole value,
when no array that starts on it ends on a later line. An object naming a
key twice is not read: its line is reported as not JSON. Every value comes
with its line number, so a command can say which line it could not use. In
JSON Lines a line that is not JSON is reported and the rest are read; in an
array a syntax error, or anything after it, leaves no way to tell what was
meant, so the whole file is refused.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Final, final

import attrs


def _refuse(name: str) -> object:
    # orderkit's converter refuses NaN and Infinity; so does reading here.
    raise ValueError(f"{name} is not a JSON number")


def _unique(pairs: list[tuple[str, object]]) -> dict[str, object]:
    # Readers disagree on a repeated key (first or last wins: a second
    # "type" turns one event into another), so no reader may guess.
    found: dict[str, object] = {}
    for key, value in pairs:
        if key in found:
            raise ValueError(f"the key {key!r} appears twice in one object")
        found[key] = value
    return found


_DECODER: Final = json.JSONDecoder(parse_constant=_refuse, object_pairs_hook=_unique)
_SPACE: Final = " \t\r\n"


class NotJson(Exception):
    """The file cannot be read as JSON at all (a broken array)."""


@final
@attrs.frozen(slots=True)
class Item:
    """One value of the file, or why its line is not JSON.

    Attributes:
        line: The line it starts on, from 1.
        value: The value parsed (`None` when `error` is set).
        error: Why the line is not JSON, or `None`.
    """

    line: int
    value: object = None
    error: str | None = None


def _line_of(text: str, position: int) -> int:
    return text.count("\n", 0, position) + 1


def _skip(text: str, position: int) -> int:
    while position < len(text) and text[position] in _SPACE:
        position += 1
    return position


# What reading can raise on bad text: a syntax error, or nesting deeper than
# the decoder's recursion allows (a line of 50,000 open brackets).
_UNREADABLE: Final = (ValueError, RecursionError)


# CPython refuses to read an integer of more digits than its limit (4,300
# by default), with advice (sys.set_int_max_str_digits) no user can act on.
_TOO_LONG: Final = re.compile(r"Exceeds the limit \((\d+) digits\)")


def _problem(error: ValueError | RecursionError) -> str:
    if isinstance(error, json.JSONDecodeError):
        return f"not JSON: {error.msg} (column {error.colno})"
    if isinstance(error, RecursionError):
        return "not JSON: nested too deeply"
    too_long = _TOO_LONG.match(str(error))
    if too_long is not None:
        return f"not JSON: a number of more than {too_long.group(1)} digits"
    return f"not JSON: {error}"


def items(text: str) -> Iterator[Item]:
    """Every value of `text`, with its line; see the module.

    Raises:
        NotJson: An array that is not JSON (its line is in the message).
    """
    text = text.removeprefix("\ufeff")
    start = _skip(text, 0)
    if text.startswith("[", start) and not _of_lines(text, start):
        yield from _array(text, start)
        return
    try:
        value = _DECODER.decode(text)
    except _UNREADABLE:
        pass  # more than one value: JSON Lines, read line by line below
    else:
        yield Item(_line_of(text, start), value)
        return
    for number, line in enumerate(text.split("\n"), start=1):
        if not line.strip():
            continue
        try:
            yield Item(number, _DECODER.decode(line))
        except _UNREADABLE as error:
            yield Item(number, error=_problem(error))


def _of_lines(text: str, start: int) -> bool:
    """Whether the file whose first line starts with `[` at `start` is JSON Lines.

    It is when lines follow the first, and the first is a whole JSON value
    (JSON Lines whose first value happens to be an array), or is not JSON
    but the next line is a whole value and no array that starts at `start`
    ends on a later line (a broken line of JSON Lines, reported as such).
    An array spread over lines has no such next line (its elements end
    with commas, or are cut over lines; the one without a comma is the
    last, and the array ends after it), so its errors refuse the file.
    """
    end = text.find("\n", start)
    if end == -1 or _skip(text, end) == len(text):
        return False
    if _whole(text[start:end]):
        return True
    after = _skip(text, end)
    after_end = text.find("\n", after)
    if not _whole(text[after:] if after_end == -1 else text[after:after_end]):
        return False
    try:
        _, ended = _DECODER.raw_decode(text, start)
    except _UNREADABLE:
        return True
    return ended <= end


def _whole(line: str) -> bool:
    """Whether `line` is one JSON value, alone."""
    try:
        _DECODER.decode(line)
    except _UNREADABLE:
        return False
    return True


def _array(text: str, start: int) -> Iterator[Item]:
    counted, line = 0, 1

    def line_of(position: int) -> int:
        # Counted on from the last position asked: the positions only grow,
        # so a long array is read in linear time.
        nonlocal counted, line
        line += text.count("\n", counted, position)
        counted = position
        return line

    position = _skip(text, start + 1)
    while not text.startswith("]", position):
        try:
            value, end = _DECODER.raw_decode(text, position)
        except _UNREADABLE as error:
            raise NotJson(f"line {line_of(position)}: {_problem(error)}") from None
        yield Item(line_of(position), value)
        position = _skip(text, end)
        if text.startswith("]", position):
            break
        if not text.startswith(",", position):
            raise NotJson(
                f"line {line_of(position)}: not JSON: expected ',' or ']' in the array"
            )
        position = _skip(text, position + 1)
        if text.startswith("]", position):
            raise NotJson(
                f"line {line_of(position)}: not JSON: a value must follow ','"
            )
    after = _skip(text, position + 1)
    if after < len(text):  # also after an empty array
        raise NotJson(f"line {line_of(after)}: not JSON: text after the array")
