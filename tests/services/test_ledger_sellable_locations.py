"""The `sellable` figure counts the locations channels sell from, and no other."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable, Iterator

import pytest

from orderkit.errors import ValidationError
from orderkit.ports import UnitOfWork
from orderkit.services import Ledger
from orderkit.testing import FrozenClock


FAN = "FAN"


@pytest.fixture
def uow(unit: UnitOfWork) -> Iterator[UnitOfWork]:
    with unit as opened:
        yield opened


def _ledger(
    uow: UnitOfWork, clock: FrozenClock, locations: Iterable[str] | None = ("SH",)
) -> Ledger:
    return Ledger(
        uow.ledger,
        clock,
        outbox=uow.outbox,
        sellable_locations=locations,  # type: ignore[arg-type]
    )


def _told(uow: UnitOfWork) -> list[tuple[str, int]]:
    bodies = [
        json.loads(m.payload)
        for m in uow.outbox.unsent(limit=1000)
        if m.topic == "sellable"
    ]
    return [(body["sku"], body["sellable"]) for body in bodies]


class TestCountedLocations:
    """Quarantined returns and another region's stock are not offered."""

    def test_stock_elsewhere_is_not_offered(
        self, uow: UnitOfWork, clock: FrozenClock
    ) -> None:
        ledger = _ledger(uow, clock)
        ledger.receive(FAN, "SH", 5)
        ledger.receive(FAN, "QUARANTINE", 5, reason="damaged returns")
        assert _told(uow) == [(FAN, 5)]
        ledger.transfer(FAN, "SH", "QUARANTINE", 2)
        ledger.transfer(FAN, "QUARANTINE", "SH", 4)
        assert _told(uow) == [(FAN, 5), (FAN, 3), (FAN, 7)]

    def test_a_sku_stocked_only_elsewhere_gets_no_message(
        self, uow: UnitOfWork, clock: FrozenClock
    ) -> None:
        ledger = _ledger(uow, clock, ["SH", "GZ"])
        ledger.receive("LAMP", "BJ", 5)
        ledger.set_safety_stock("LAMP", "BJ", 1)
        ledger.reserve("cart", [("LAMP", "BJ", 2)])
        assert _told(uow) == []
        ledger.receive("LAMP", "GZ", 1)
        assert _told(uow) == [("LAMP", 1)]

    def test_holds_safety_stock_and_sweeps_elsewhere_tell_nothing(
        self, uow: UnitOfWork, clock: FrozenClock
    ) -> None:
        ledger = _ledger(uow, clock)
        ledger.receive(FAN, "SH", 5)
        ledger.receive(FAN, "GZ", 5)
        ledger.reserve("cart-gz", [(FAN, "GZ", 2)], ttl=dt.timedelta(minutes=1))
        ledger.set_safety_stock(FAN, "GZ", 1)
        ledger.reserve("cart-sh", [(FAN, "SH", 1)], ttl=dt.timedelta(minutes=1))
        ledger.set_safety_stock(FAN, "SH", 1)
        assert _told(uow) == [(FAN, 5), (FAN, 4), (FAN, 3)]
        clock.advance(minutes=2)
        assert len(ledger.expire_due()) == 2
        assert _told(uow)[-1] == (FAN, 4)
        assert len(_told(uow)) == 4

    def test_every_location_counts_by_default(
        self, uow: UnitOfWork, clock: FrozenClock
    ) -> None:
        ledger = _ledger(uow, clock, None)
        ledger.receive(FAN, "SH", 5)
        ledger.receive(FAN, "QUARANTINE", 5)
        assert _told(uow) == [(FAN, 5), (FAN, 10)]


class TestValidation:
    """Checked as `DeskPolicy.locations`, named `sellable_locations`."""

    @pytest.mark.parametrize(
        ("value", "field"),
        [
            ({"SH"}, "sellable_locations"),
            (frozenset({"SH"}), "sellable_locations"),
            ("SH", "sellable_locations"),
            ([], "sellable_locations"),
            (["SH", 7], "sellable_locations[1]"),
            (["SH", ""], "sellable_locations[1]"),
            (["x" * 256], "sellable_locations[0]"),
        ],
    )
    def test_refused(
        self, uow: UnitOfWork, clock: FrozenClock, value: object, field: str
    ) -> None:
        with pytest.raises(ValidationError) as caught:
            _ledger(uow, clock, value)  # type: ignore[arg-type]
        assert caught.value.field == field

    def test_a_tuple_passes_again_and_a_list_is_read_anew(
        self, uow: UnitOfWork, clock: FrozenClock
    ) -> None:
        locations = ("SH", "GZ")
        _ledger(uow, clock, locations)
        _ledger(uow, clock, locations).receive(FAN, "GZ", 1)
        names = ["SH"]
        _ledger(uow, clock, names)
        names.append("")
        with pytest.raises(ValidationError):
            _ledger(uow, clock, names)
        assert _told(uow) == [(FAN, 1)]
