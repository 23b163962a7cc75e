"""What the writers' shortcuts write: the same text as plain formatting.

Instants are written from a table of two-digit numbers, and empty lists skip
their comprehension; neither may change a byte of the document.
"""

import datetime as dt

import pendulum
from hypothesis import given
from hypothesis import strategies as st

from orderkit.orders import Order
from orderkit.serialization import make_converter
from orderkit.serialization._values import unstructure_instant
from orderkit.testing import strategies as ost


CONVERTER = make_converter()
STDLIB = make_converter(json="stdlib")


def _plain(value: dt.datetime) -> str:
    utc = value.astimezone(dt.UTC)
    text = utc.strftime("%Y-%m-%dT%H:%M:%S").rjust(19, "0")
    return f"{text}.{utc.microsecond:06d}Z" if utc.microsecond else f"{text}Z"


@given(
    st.datetimes(
        min_value=dt.datetime(1, 1, 2),  # noqa: DTZ001 - made aware below
        max_value=dt.datetime(9999, 12, 30),  # noqa: DTZ001
    ),
    st.sampled_from(["UTC", "Asia/Shanghai", "America/New_York"]),
)
def test_an_instant_is_written_as_iso_8601_in_utc(
    naive: dt.datetime, zone: str
) -> None:
    value = pendulum.instance(naive, tz=zone)
    assert _plain(value) == unstructure_instant(value)


def test_years_below_1000_have_four_digits() -> None:
    value = pendulum.datetime(7, 3, 4, 5, 6, 7, 80, tz="UTC")
    assert "0007-03-04T05:06:07.000080Z" == unstructure_instant(value)


@given(ost.orders())
def test_both_json_libraries_write_the_same_document(order: Order) -> None:
    document = CONVERTER.dumps(order)
    assert document == STDLIB.dumps(order)
    assert order == CONVERTER.loads(document, Order)
