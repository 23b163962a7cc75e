"""`Shipped.location`: written only when known, so older documents stay as they were."""

from __future__ import annotations

import json

import pendulum
import pytest
from tests.serialization.test_refund_provider_ids import CONVERTERS

from orderkit.dedupe import IdempotencyKey
from orderkit.errors import ValidationError
from orderkit.orders import ShipmentLine, Shipped
from orderkit.serialization import Converter


def shipped(location: str | None = None) -> Shipped:
    return Shipped(
        order_id="DY-5005",
        key=IdempotencyKey("wms", "shipped", "DY-5005", "P1"),
        occurred_at=pendulum.datetime(2026, 11, 11, 3),
        shipment_id="P1",
        lines=[ShipmentLine("L1", 2)],
        carrier="SF",
        tracking_number="SF0001",
        location=location,
    )


@pytest.mark.parametrize(
    "converter", CONVERTERS, ids=["fast", "detailed", "slow", "stdlib"]
)
def test_a_location_is_written_and_read_back(converter: Converter) -> None:
    written = converter.dumps(shipped("SZ-1"))

    assert json.loads(written)["location"] == "SZ-1"
    assert converter.loads(written, Shipped) == shipped("SZ-1")


@pytest.mark.parametrize(
    "converter", CONVERTERS, ids=["fast", "detailed", "slow", "stdlib"]
)
def test_a_parcel_without_one_is_written_as_before(converter: Converter) -> None:
    written = converter.dumps(shipped())

    assert "location" not in json.loads(written)
    assert converter.loads(written, Shipped) == shipped()


def test_a_blank_location_is_refused() -> None:
    with pytest.raises(ValidationError, match="location"):
        shipped("")
