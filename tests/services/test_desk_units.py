"""A host that opens a unit around a desk call is told to call it outside.

Each desk call opens its own unit of work. A host used to one transaction
per request wraps the call in `with unit:`; the unit refuses to open twice,
and its error says what to do, on every backend alike.
"""

from __future__ import annotations

import pytest
from tests.services._refund_samples import incoming, stocked_desk, stored

from orderkit.errors import StoreError
from orderkit.ports import UnitOfWork
from orderkit.testing import FrozenClock


def test_a_desk_call_inside_a_unit_says_to_call_it_outside(
    unit: UnitOfWork, clock: FrozenClock
) -> None:
    desk = stocked_desk(unit, clock)

    with unit, pytest.raises(StoreError) as caught:
        desk.accept(incoming())

    assert caught.value.operation == "begin"
    assert "call them outside `with unit:`" in str(caught.value)
    # Refused before anything was written; outside the unit, the call works.
    desk.accept(incoming())
    assert stored(unit).order_id == incoming().order_id
