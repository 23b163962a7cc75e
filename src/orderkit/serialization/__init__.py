"""JSON at the edge: orderkit values to and from bytes, with cattrs.

`make_converter()` returns a new `Converter` (a `cattrs.Converter`) with
`dumps` and `loads` for JSON beside the usual `unstructure` and `structure`.
The wire format, each rule pinned by a test:

- `Money` is an object with the amount as a string:
  `{"amount": "12.30", "currency": "CNY"}`. A bare `Decimal` is a plain
  decimal string (`"12.30"`, never an exponent). Reading goes through `Money`
  itself, so a JSON float (`12.3`), NaN or too many decimal places are
  refused; an integer amount is accepted, as `Money` accepts it.
- A `Currency` is its ISO 4217 code (`"CNY"`).
- An instant (a `pendulum.DateTime`) is ISO 8601 in UTC with `Z`:
  `"2026-11-11T08:00:00Z"`, with six digits of fraction only when the
  microsecond is not zero. Reading accepts any ISO 8601 timestamp with an
  offset and converts it to UTC; one without an offset is refused.
- A `date` is ISO 8601's calendar date (`"2026-11-11"`); a `timedelta` an
  ISO 8601 duration in days and the day's time, shortest first (`"P1D"`,
  `"PT30M"`, `"P2DT3H5.5S"`, `"-PT1H"`). Reading takes weeks too (`"P1W"`),
  and refuses years and months, which have no fixed length.
- A wall-clock `time` (an SLA's cut-off) is ISO 8601 without an offset,
  to the minute when it is one (`"16:00"`, `"16:00:30"`).
- An enum is its value (`"in_transit"`).
- A mapping (`DeskPolicy.channel_pricing`, `StuckRules.limits`) is an
  object, its keys read as their type (a status by its value).
- A business calendar is the name of one orderkit ships (`"CN"`,
  `"US_FEDERAL"`), which is how one equal to it is written, or a table:
  `{"name": ..., "first_year": ..., "last_year": ..., "weekend": [5, 6],
  "holidays": {"2026-10-01": "National Day"}, "workdays": {...}}`. A
  calendar of another class than `TableCalendar` is not written: a
  `ValidationError` naming `calendar`.
- A stacking policy's `combinable` is a list of pairs of kinds; a kind that
  stacks with itself is written as a pair of it (`["percent", "percent"]`).
- A field that holds a function (`DeskPolicy.tier`) is left out while it
  holds its default; writing another function raises `ValidationError`
  naming the field, and data that gives one is refused: set it in code
  after reading (`attrs.evolve(policy, tier=...)`).
- An `IdempotencyKey` is an object with its four parts.
- A tuple is a list; a frozenset is a sorted list, so equal values always
  give equal bytes.
- Events and outcomes carry their class name under `"type"`, first in the
  object (`{"type": "Shipped", ...}`). `OrderEvent`, `Outcome`, `Event` and
  any other union of them are read by that tag; a concrete class refuses
  another class's tag.
- The error in a `Rejected` outcome is written as its class name and message
  (`{"type": "IllegalTransition", "message": "..."}`) for people to read; it
  is not read back, so neither is `Rejected`.
- Strings and numbers are never coerced: `5` is not a SKU, neither `"3"`
  nor `3.0` is a quantity, and `"0.5"` is not a number of seconds. Keys
  orderkit does not know are ignored; a converter copied with
  `copy(forbid_extra_keys=True)` refuses them, as configuration should.
- Every value is built by its constructor, so the domain's rules hold on
  read exactly as in code.
- Data that cannot be read raises `StructureError` (an `OrderkitError` and a
  `ValueError`): `field` is the path from the top
  (`lines[2].unit_price.amount`), `value` the value refused (`attrs.NOTHING`
  for a missing field), and the domain error behind it (`InvalidMoney`,
  `NaiveDatetime`, `EmptyOrder`...) is its `__cause__`.
- Reading takes a fast path first, without cattrs' detailed validation. Only
  when that fails is the data read again, by a detailed twin of the
  converter built on first need, to find the path.
  `make_converter(detailed=True)` is such a twin.
- JSON is written as compact UTF-8 by orjson when it is installed (the
  `fast` extra), otherwise by the standard library, which writes the same
  bytes; `make_converter(json="stdlib")` forces the standard library.

```python
>>> from orderkit.money import Money
>>> from orderkit.serialization import make_converter
>>> converter = make_converter()
>>> converter.dumps(Money("12.30", "CNY"))
b'{"amount":"12.30","currency":"CNY"}'
>>> converter.loads(b'{"amount":"12.30","currency":"CNY"}', Money)
Money('12.30', 'CNY')

```

.. versionadded:: 0.1.0
"""

from orderkit.serialization._converter import Converter as Converter
from orderkit.serialization._converter import make_converter as make_converter


__all__ = ["Converter", "make_converter"]
