"""One process's view of the simulated world: the desk and the outside around it.

`World` wires the services of `orderkit.services` over one unit of work, as
a host application would: an `OrderDesk` per region (each routes to its own
warehouses first), the `Checkout`, `Shipping` and `Refunds` sagas, and the
outside: payment provider and carriers from `orderkit.testing.fakes`, made to
time out by `orderkit.testing.faults`, behind `retry` and a `CircuitBreaker`.
Time is simulated: a `SimClock` that the driver moves from event to event.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import random
from collections import Counter
from collections.abc import Callable, Sequence
from typing import Any, Final, TypeVar, final

import pendulum

from orderkit.cli import _catalog as catalog
from orderkit.cli._adapters import parsers
from orderkit.cli._plans import Rates
from orderkit.dedupe import Fingerprinter
from orderkit.errors import CallTimedOut, ValidationError
from orderkit.integrations import (
    ChannelTransaction,
    Label,
    PickTask,
    SettlementLine,
    TrackingEvent,
    WarehouseConfirmation,
)
from orderkit.money import Money
from orderkit.orders import Address
from orderkit.ports import Carrier, ChannelPayloads, Payments, UnitOfWork
from orderkit.services import (
    BreakerState,
    Checkout,
    CircuitBreaker,
    OrderDesk,
    Refunds,
    RetryPolicy,
    Shipping,
    retry,
)
from orderkit.testing.fakes import FakeCarrier, FakePayments
from orderkit.testing.faults import FaultPlan, faulty


T = TypeVar("T")

_RETRY: Final = RetryPolicy(retries=3, base=0.2, cap=2.0)
_BROWNOUT: Final = (
    catalog.FLASH_START.add(minutes=30),
    catalog.FLASH_START.add(minutes=50),
)
"""Twenty minutes of the peak when the carriers' label APIs time out."""


@final
class SimClock:
    """Simulated time: it stands still until the driver moves it.

    `sleep` does not move it: a retry's back-off is counted, not waited, so
    the time of the day depends only on the traffic, never on the faults.
    """

    def __init__(self, start: pendulum.DateTime) -> None:
        """Start at `start`."""
        self._now = start
        self.slept = 0.0

    def now(self) -> pendulum.DateTime:
        """The simulated instant."""
        return self._now

    def sleep(self, seconds: float) -> None:
        """Count the wait without moving the clock."""
        if seconds < 0:
            raise ValueError("sleep length must be non-negative")
        self.slept += seconds

    def move_to(self, at: pendulum.DateTime) -> None:
        """Move forwards to `at`; never backwards."""
        self._now = max(self._now, at)


@final
class SimWarehouse:
    """A warehouse that takes pick tasks, once per task id (a WMS stand-in)."""

    def __init__(self) -> None:
        """Start with no tasks."""
        self.tasks: dict[str, PickTask] = {}

    def create_pick_task(self, task: PickTask) -> str:
        """Take the task; the same task id again is the same task."""
        self.tasks.setdefault(task.task_id, task)
        return task.task_id

    def parse_confirmation(self, payload: Any) -> WarehouseConfirmation:  # noqa: ANN401 - the port's signature
        """Refuse: the simulated warehouse sends no confirmations."""
        raise ValidationError("payload", payload, "the simulation sends none")


@final
class Provider:
    """The payment provider as one worker's services reach it.

    During the day the calls go through the fault plan (`port`); once the
    outage is over (`over`), straight to the fake. Every worker process has
    a fake provider of its own, so after the outage a provider answers only
    for the payments this worker asked to capture (`asked`, shared by the
    worker's providers, names the region whose checkout asked): another
    worker's payment, or for a checkout another region's, times out and
    waits for its own worker and region to recover it.

    Args:
        fake: The worker's fake provider.
        port: The fake behind the fault plan.
        asked: Payment id to the region whose checkout asked to capture it.
        region: The region whose checkout this is; `None` for refunds.
    """

    def __init__(
        self,
        fake: FakePayments,
        port: Payments,
        asked: dict[str, str],
        region: str | None,
    ) -> None:
        """Answer through `port` until the outage is over, then through `fake`."""
        self._fake = fake
        self._port = port
        self._asked = asked
        self._region = region
        self.over = False

    def capture(
        self, payment_id: str, amount: Money, *, key: str
    ) -> ChannelTransaction:
        """Capture, through the faults until the outage is over."""
        if not self.over:
            if self._region is not None:
                self._asked.setdefault(payment_id, self._region)
            return self._port.capture(payment_id, amount, key=key)
        self._own(payment_id, "capture", self._region)
        return self._fake.capture(payment_id, amount, key=key)

    def refund(
        self, payment_id: str, amount: Money, *, key: str, reason: str
    ) -> ChannelTransaction:
        """Refund, through the faults until the outage is over."""
        if not self.over:
            return self._port.refund(payment_id, amount, key=key, reason=reason)
        self._own(payment_id, "refund", None)
        return self._fake.refund(payment_id, amount, key=key, reason=reason)

    def statement(self, day: dt.date) -> Sequence[SettlementLine]:
        """The fake's statement of `day`."""
        return self._fake.statement(day)

    def _own(self, payment_id: str, call: str, region: str | None) -> None:
        asked = self._asked.get(payment_id)
        if asked is None or (region is not None and asked != region):
            raise CallTimedOut(f"payments.{call}", "not this worker's payment")


@final
class BrownoutCarrier:
    """A carrier whose label API times out during the peak's brownout.

    Outside the brownout, calls go through `inner` (which injects random
    timeouts of its own); tracking always answers. Once the outage is over
    (`over`), labels go straight to `fake`, for the shipments this worker
    asked of this carrier only (see `Provider`: another worker's fake
    carrier booked the others).
    """

    def __init__(
        self, inner: Carrier, fake: Carrier, clock: SimClock, *, brownout: bool
    ) -> None:
        """Wrap `inner`; `brownout=False` keeps the API up all day."""
        self._inner = inner
        self._fake = fake
        self._clock = clock
        self._brownout = brownout
        self._asked: set[str] = set()
        self.timeouts = 0
        self.over = False

    def create_label(
        self, shipment_id: str, address: Address, *, parcels: int = 1
    ) -> Label:
        """Book the parcel, unless the API is browned out."""
        if self.over:
            if shipment_id not in self._asked:
                raise CallTimedOut("carrier.create_label", "not this worker's parcel")
            return self._fake.create_label(shipment_id, address, parcels=parcels)
        self._asked.add(shipment_id)
        if self._brownout and _BROWNOUT[0] <= self._clock.now() < _BROWNOUT[1]:
            self.timeouts += 1
            raise CallTimedOut("carrier.create_label", "brownout at peak load")
        return self._inner.create_label(shipment_id, address, parcels=parcels)

    def tracking(self, tracking_number: str) -> Sequence[TrackingEvent]:
        """The parcel's scans."""
        return self._inner.tracking(tracking_number)


def secret(seed: int) -> bytes:
    """The fingerprint secret of a run: fixed by the seed, so runs repeat."""
    return hashlib.sha256(f"orderkit simulate {seed}".encode()).digest()


@final
class World:
    """The services and the outside of one worker process.

    Args:
        unit: The unit of work over the shared database.
        seed: The run's seed.
        worker: This worker's number, from 0.
        rates: The traffic's rates (for the fault plans).
        tally: Where the worker counts what happened.
    """

    def __init__(
        self,
        unit: UnitOfWork,
        *,
        seed: int,
        worker: int,
        rates: Rates,
        tally: Counter[str],
    ) -> None:
        """Wire the desks, sagas and fakes over `unit`."""
        self.unit = unit
        self.tally = tally
        self.clock = SimClock(catalog.SPAN_START)
        self.fingerprinter = Fingerprinter(
            secret(seed),
            channel_regions={"shopify": "US", "woocommerce": "DE"},
        )
        self.parsers: dict[str, ChannelPayloads] = parsers()
        self.rng = random.Random(seed * 7919 + worker)  # noqa: S311 - jitter
        # One provider per process: its ids carry the worker, so that the
        # workers' refund ids (kept in the shared orders) never collide.
        self.psp = FakePayments(self.clock, name="simpay", id_prefix=f"w{worker}-")
        half = rates.payment_timeout / 2
        self.payment_faults = FaultPlan(
            seed=seed * 31 + worker, timeout_before=half, reply_lost=half
        )
        payments: Payments = faulty(
            self.psp, self.payment_faults, methods=["capture", "refund"]
        )
        asked: dict[str, str] = {}
        self.providers = {
            region: Provider(self.psp, payments, asked, region)
            for region in (*catalog.REGIONS, None)
        }
        self.desks = {
            region: OrderDesk(
                unit, self.clock, catalog.desk_policy(region), self.fingerprinter
            )
            for region in catalog.REGIONS
        }
        self.checkouts = {
            region: Checkout(unit, self.clock, desk, self.providers[region])
            for region, desk in self.desks.items()
        }
        self.refunds = Refunds(unit, self.clock, self.providers[None])
        self.carriers: dict[str, FakeCarrier] = {}
        self.breakers: dict[str, CircuitBreaker] = {}
        self.brownouts: list[BrownoutCarrier] = []
        self.shipping: dict[str, Shipping] = {}
        self.carrier_faults = FaultPlan(
            seed=seed * 37 + worker,
            timeout_before=rates.carrier_timeout / 2,
            reply_lost=rates.carrier_timeout / 2,
        )
        for region in catalog.REGIONS:
            code = next(c.carrier for c in catalog.CHANNELS if c.region == region)
            fake = FakeCarrier(self.clock, code=code)
            self.carriers[region] = fake
            carrier = BrownoutCarrier(
                faulty(fake, self.carrier_faults, methods=["create_label"]),
                fake,
                self.clock,
                brownout=rates.carrier_timeout > 0,
            )
            self.brownouts.append(carrier)
            self.breakers[region] = CircuitBreaker(
                f"carrier:{code}",
                clock=self.clock,
                threshold=5,
                cool_down=dt.timedelta(minutes=2),
                on_change=self._breaker_moved,
            )
            self.shipping[region] = Shipping(
                unit, self.clock, self.desks[region], carrier
            )
        self.warehouses = {region: SimWarehouse() for region in catalog.REGIONS}

    def desk_of(self, channel: str) -> OrderDesk:
        """The desk of the channel's region."""
        return self.desks[catalog.CHANNEL_BY_NAME[channel].region]

    def region_of(self, channel: str) -> str:
        """The channel's region."""
        return catalog.CHANNEL_BY_NAME[channel].region

    def retried(self, call: Callable[[], T]) -> T:
        """`call`, tried again after a transient failure (3 retries, back-off)."""

        def counted(_attempt: int, _error: Exception, _wait: float) -> None:
            self.tally["retries"] += 1

        return retry(
            call, clock=self.clock, policy=_RETRY, rng=self.rng, on_retry=counted
        )

    def end_outage(self) -> None:
        """The provider and the carriers answer again, without faults."""
        for provider in self.providers.values():
            provider.over = True
        for carrier in self.brownouts:
            carrier.over = True

    def count_faults(self) -> None:
        """Add the timeouts the fault plans and brownouts injected to the tally."""
        self.tally["payment_timeouts"] = len(self.payment_faults.injected)
        self.tally["carrier_timeouts"] = len(self.carrier_faults.injected) + sum(
            b.timeouts for b in self.brownouts
        )

    def _breaker_moved(self, _name: str, _old: BreakerState, new: BreakerState) -> None:
        if new is BreakerState.OPEN:
            self.tally["circuit_opened"] += 1
        elif new is BreakerState.CLOSED:
            self.tally["circuit_closed"] += 1
