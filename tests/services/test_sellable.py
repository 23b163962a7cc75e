"""A SKU's `sellable` message, built by hand for speed, is the general one."""

from __future__ import annotations

import datetime as dt

import pendulum
import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from orderkit.adapters.memory import MemoryUnitOfWork
from orderkit.errors import OrderkitError
from orderkit.orders import OutboxMessage
from orderkit.orders._messages import fit_id
from orderkit.services import Ledger
from orderkit.services._sellable import (
    _sellable_message,
    outbox_message,
    sellable_stream,
)
from orderkit.testing import FrozenClock
from orderkit.testing.strategies import instants


def _general(
    sku: str, by_location: list[tuple[str, int]], cause: str, now: dt.datetime
) -> object:
    """What `outbox_message` makes of the same figure, or the error it raises."""
    try:
        return outbox_message(
            fit_id(f"sellable:{sku}:{cause}"),
            sellable_stream(sku),
            "sellable",
            {
                "sku": sku,
                "sellable": sum(n for _, n in by_location),
                "locations": dict(by_location),
            },
            now,  # type: ignore[arg-type]  # a naive or foreign instant on purpose
        )
    except Exception as error:  # noqa: BLE001 - the same error, whichever
        return (type(error), str(error))


def _fast(
    sku: str, by_location: list[tuple[str, int]], cause: str, now: dt.datetime
) -> object:
    try:
        return _sellable_message(sku, by_location, cause, now)  # type: ignore[arg-type]
    except Exception as error:  # noqa: BLE001 - the same error, whichever
        return (type(error), str(error))


_ZONES = st.sampled_from(["UTC", "Asia/Shanghai", "America/Los_Angeles"])


@given(
    sku=st.text(min_size=0, max_size=300),
    by_location=st.dictionaries(
        st.text(max_size=20), st.integers(0, 2**61), min_size=1, max_size=3
    ).map(lambda figures: sorted(figures.items())),
    cause=st.text(min_size=1, max_size=40),
    now=instants(),
    zone=_ZONES,
)
@example(
    sku='引号"\\/\u2028é',
    by_location=[("W1", 4), ('仓\u2028"A', 3)],
    cause="k",
    now=pendulum.now("UTC"),
    zone="UTC",
)
@example(
    sku="a\x00b",
    by_location=[("W1", 0)],
    cause="k",
    now=pendulum.now("UTC"),
    zone="UTC",
)
@example(
    sku="\ud800",
    by_location=[("W1", 0)],
    cause="k",
    now=pendulum.now("UTC"),
    zone="UTC",
)
@example(
    sku=" ", by_location=[("W1", 0)], cause="k", now=pendulum.now("UTC"), zone="UTC"
)
@example(
    sku="x" * 240,
    by_location=[("W1", 1)],
    cause="k" * 10,
    now=pendulum.now("UTC"),
    zone="UTC",
)
def test_the_fast_message_is_the_general_one(
    sku: str,
    by_location: list[tuple[str, int]],
    cause: str,
    now: dt.datetime,
    zone: str,
) -> None:
    at = pendulum.instance(now).in_timezone(zone)
    expected = _general(sku, by_location, cause, at)
    assert expected == _fast(sku, by_location, cause, at)
    if isinstance(expected, OutboxMessage):
        # The same bytes, not only equal JSON: stores keep payloads verbatim.
        fast = _fast(sku, by_location, cause, at)
        assert isinstance(fast, OutboxMessage)
        assert expected.payload == fast.payload
        assert type(expected.created_at) is type(fast.created_at)


def test_a_naive_instant_is_refused_alike() -> None:
    naive = dt.datetime(2026, 11, 11, 0, 5)  # noqa: DTZ001 - refused on purpose
    expected = _general("SKU-1", [("W1", 1)], "k", naive)
    assert isinstance(expected, tuple)
    assert expected == _fast("SKU-1", [("W1", 1)], "k", naive)
    with pytest.raises(OrderkitError):
        _sellable_message("SKU-1", [("W1", 1)], "k", naive)  # type: ignore[arg-type]


class TestLongNames:
    """Names the ledger takes make message ids that fit, unique and stable."""

    def test_a_long_sku_and_key_fit_and_stay_apart(self) -> None:
        now = pendulum.datetime(2026, 11, 11, tz="UTC")
        sku = "S" * 255
        first = _sellable_message(sku, [("W1", 1)], "k" * 4096, now)
        again = _sellable_message(sku, [("W1", 1)], "k" * 4096, now)
        other = _sellable_message(sku, [("W1", 1)], "k" * 4095, now)
        assert len(first.message_id) == 255
        assert first.message_id == again.message_id
        assert first.message_id != other.message_id

    def test_an_id_that_fits_is_unchanged(self) -> None:
        now = pendulum.datetime(2026, 11, 11, tz="UTC")
        message = _sellable_message("TEA-01", [("W1", 3)], "grn-1", now)
        assert message.message_id == "sellable:TEA-01:grn-1"

    def test_a_ledger_with_an_outbox_takes_every_name_it_documents(self) -> None:
        unit = MemoryUnitOfWork()
        clock = FrozenClock(pendulum.datetime(2026, 11, 11))
        with unit as uow:
            ledger = Ledger(uow.ledger, clock, outbox=uow.outbox)
            ledger.receive("S" * 255, "W" * 255, 5, key="k" * 4096)
            ledger.reserve("o" * 1024, [("S" * 255, "W" * 255, 1)], key="r" * 4096)
            uow.commit()
        with unit as uow:
            assert [len(m.message_id) for m in uow.outbox.unsent()] == [255, 255]
