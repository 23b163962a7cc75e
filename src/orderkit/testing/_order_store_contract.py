"""The order store contract: every rule of `OrderStore` as tests."""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Callable, Sequence
from typing import Any, TypeVar, cast

import attrs
import pendulum
import pytest
from hypothesis import given, settings

from orderkit.dedupe import IdempotencyKey
from orderkit.errors import (
    ConcurrencyConflict,
    NaiveDatetime,
    StoreError,
    ValidationError,
)
from orderkit.money import Money
from orderkit.orders import (
    Address,
    AuditRecord,
    Buyer,
    Order,
    OrderLine,
    OrderStatus,
    Payment,
    Saga,
    waits,
)
from orderkit.ports import OrderStore
from orderkit.serialization import make_converter
from orderkit.testing._contract_base import (
    START,
    Barrier,
    StoreContract,
    lenient,
)
from orderkit.testing._contract_base import WEIRD_NAMES as _WEIRD
from orderkit.testing.strategies import orders


S = TypeVar("S")


def with_converter(factory: Callable[..., S], *args: Any, **kwargs: Any) -> S:  # noqa: ANN401 - the factory's own arguments
    """Return `factory(*args, converter=make_converter(), **kwargs)`.

    A converter does not pickle; `functools.partial(with_converter,
    SqliteOrderStore, path)` does, so it serves as the `connect` factory of a
    store that needs one, in another process.

    .. versionadded:: 0.1.0
    """
    return factory(*args, converter=make_converter(), **kwargs)


def sample_order(
    order_id: str = "DY-1001",
    channel: str = "douyin",
    **changes: Any,  # noqa: ANN401 - attrs.evolve's own arguments
) -> Order:
    """A retro clock on Singles' Day: a new order, changed by `changes`."""
    order = Order(
        order_id=order_id,
        channel=channel,
        buyer=Buyer("BUYER-7", "王小明", phone="138****8000"),
        address=Address("CN", "广东省", "深圳市", "南山区", "科技园路 1 号"),
        lines=[OrderLine("L1", "RETRO-CLOCK", 2, Money("199.00", "CNY"), "复古闹钟")],
        placed_at=START,
    )
    return attrs.evolve(order, **changes) if changes else order


def paid(order: Order, version: int | None = None) -> Order:
    """`order` paid in full, one version on (or at `version`)."""
    key = IdempotencyKey(order.channel, "orders/paid", order.order_id, "evt-1")
    return attrs.evolve(
        order,
        status=OrderStatus.PAID,
        version=order.version + 1 if version is None else version,
        payments=(Payment("PAY-1", Money("398.00", "CNY"), START.add(minutes=5)),),
        applied_keys=order.applied_keys | {key},
    )


def sample_record(
    order_id: str = "DY-1001", version: int = 2, actor: str = "buyer"
) -> AuditRecord:
    """The audit record of the payment that made `sample_order` paid."""
    return AuditRecord(
        order_id=order_id,
        version=version,
        from_status=OrderStatus.PENDING_PAYMENT,
        to_status=OrderStatus.PAID,
        event_type="PaymentCaptured",
        key=IdempotencyKey("douyin", "orders/paid", order_id, f"evt-{version}"),
        actor=actor,
        source="douyin",
        occurred_at=START.add(minutes=5),
        recorded_at=START.add(minutes=6),
    )


def _with_desk_fields(order: Order, *, picking: bool = False) -> Order:
    """`order` with what the desk and its sagas set, which `orders()` leaves empty.

    Its saga is a refund's, or with `picking` a pick's with the ids of the
    tasks it sends (a store that lost them would have every pick resumed
    held for a person).
    """
    saga = Saga(
        name="refund",
        step="requested",
        key=f"refund:{order.order_id}:1",
        started_at=order.placed_at.add(days=3),
        reference="PAY-1",
    )
    if picking:
        saga = Saga(
            name="pick",
            step="requested",
            key=f"pick:{order.order_id}",
            started_at=order.placed_at.add(days=1),
            tasks=(f"pick:{order.order_id}:WH-1", f"pick:{order.order_id}:WH-2"),
        )
    return attrs.evolve(
        order,
        pay_by=order.placed_at.add(minutes=30),
        address_changed_at=order.placed_at.add(hours=1),
        review=("地址在付款后修改 / address changed after payment",),
        saga=saga,
    )


def _save_race(
    channel: str,
    order_id: str,
    reason: str,
    factory: Callable[[], OrderStore],
    barrier: Barrier,
) -> tuple[str, bool]:
    """Read the order, then cancel it at the next version; say if it won."""
    store = factory()
    order = store.get(channel, order_id)
    assert order is not None
    changed = attrs.evolve(
        order,
        status=OrderStatus.CANCELLED,
        version=order.version + 1,
        cancel_reason=reason,
    )
    barrier.wait(timeout=120)
    try:
        store.save(changed, order.version)
    except ConcurrencyConflict:
        return reason, False
    return reason, True


class OrderStoreContract(StoreContract[OrderStore]):
    """Every rule of `orderkit.ports.OrderStore`, as tests over `make_store()`.

    Subclass it in a test module (its name must start with `Test` for
    pytest to collect it) and implement `make_store`; the hooks `connect`,
    `break_store` and `dispose` are described on `StoreContract`.

    .. versionadded:: 0.1.0
    """

    def _read_back(
        self, store: OrderStore, channel: str, order_id: str
    ) -> Order | None:
        """`get`, through the store opened again when `connect` gives a factory.

        A store may keep what it wrote and hand it back unread (orderkit's
        SQL stores do): a store opened again reads what the backend holds.
        """
        factory = self.connect(store)
        if factory is None:
            return store.get(channel, order_id)
        again = factory()
        try:
            return again.get(channel, order_id)
        finally:
            self.dispose(again)

    # saving and reading

    def test_an_unknown_order_is_none(self, store: OrderStore) -> None:
        """Nothing stored: `None`."""
        assert store.get("douyin", "DY-404") is None

    def test_a_new_order_reads_back_equal(self, store: OrderStore) -> None:
        """The whole order comes back: lines, buyer, payments, keys, version."""
        order = paid(sample_order())
        store.save(order, None)
        found = self._read_back(store, "douyin", "DY-1001")
        assert found == order
        assert type(found) is Order

    def test_any_order_reads_back_equal(self) -> None:
        """Every part comes back: cases, price changes, payment ledger, saga, times.

        Orders drawn in every status, with the parts a desk records on them
        (every other one also with a saga, a refund's or a pick's with its
        tasks, a review, a payment deadline and an address change), each
        saved in a store of its own.
        """
        drawn: list[Order] = []

        # A few examples: each store may be a database schema of its own.
        @lenient(max_examples=min(_examples(), 20), database=None)
        @given(orders())
        def draw(order: Order) -> None:
            n = len(drawn)
            drawn.append(
                _with_desk_fields(order, picking=n % 4 == 3) if n % 2 else order
            )

        # Drawn before any store is made: a store's own threads (a pool's)
        # may use `random`, which hypothesis refuses while it draws.
        draw()
        for order in drawn:
            store = self.make_store()
            try:
                store.save(order, None)
                found = self._read_back(store, order.channel, order.order_id)
            finally:
                self.dispose(store)
            assert found is not None
            lost = [
                field.name
                for field in attrs.fields(Order)
                if getattr(found, field.name) != getattr(order, field.name)
            ]
            assert not lost, f"{', '.join(lost)} read back otherwise, of {order!r}"

    def test_an_update_replaces_the_expected_version(self, store: OrderStore) -> None:
        """Saving over the version read moves the order on."""
        store.save(sample_order(), None)
        store.save(paid(sample_order()), 1)
        found = store.get("douyin", "DY-1001")
        assert found is not None
        assert (found.version, found.status) == (2, OrderStatus.PAID)

    def test_versions_may_jump(self, store: OrderStore) -> None:
        """A batch of events moves the version by more than one."""
        store.save(sample_order(), None)
        store.save(paid(sample_order(), version=5), 1)
        found = store.get("douyin", "DY-1001")
        assert found is not None
        assert found.version == 5

    # conflicts

    def test_a_new_order_that_exists_conflicts(self, store: OrderStore) -> None:
        """Two intakes of one order: the second is told, nothing changes."""
        store.save(sample_order(), None)
        with pytest.raises(ConcurrencyConflict) as error:
            store.save(sample_order(buyer=Buyer("SOMEONE-ELSE")), None)
        assert error.value.what == "order:douyin:DY-1001"
        assert store.get("douyin", "DY-1001") == sample_order()

    def test_a_stale_expected_version_conflicts(self, store: OrderStore) -> None:
        """A writer that read version 1 after it moved to 2 changes nothing."""
        store.save(sample_order(), None)
        store.save(paid(sample_order()), 1)
        late = sample_order(status=OrderStatus.CANCELLED, version=2)
        with pytest.raises(ConcurrencyConflict):
            store.save(late, 1)
        assert store.get("douyin", "DY-1001") == paid(sample_order())

    def test_an_expected_version_ahead_conflicts(self, store: OrderStore) -> None:
        """Expecting a version the order never had changes nothing."""
        store.save(sample_order(), None)
        with pytest.raises(ConcurrencyConflict):
            store.save(paid(sample_order(), version=4), 3)
        assert store.get("douyin", "DY-1001") == sample_order()

    def test_updating_a_missing_order_conflicts(self, store: OrderStore) -> None:
        """An update expects a stored order; none is created."""
        with pytest.raises(ConcurrencyConflict):
            store.save(paid(sample_order()), 1)
        assert store.get("douyin", "DY-1001") is None

    def test_a_version_must_move_forward(self, store: OrderStore) -> None:
        """Saving at the expected version or below is refused: versions never repeat."""
        store.save(sample_order(), None)
        with pytest.raises(ValidationError) as error:
            store.save(paid(sample_order(), version=1), 1)
        assert error.value.field == "order.version"
        assert store.get("douyin", "DY-1001") == sample_order()

    def test_a_version_never_goes_back(self, store: OrderStore) -> None:
        """Below the expected version is refused too, or a stale writer wins."""
        store.save(sample_order(), None)
        store.save(paid(sample_order(), version=3), 1)
        with pytest.raises(ValidationError) as error:
            store.save(paid(sample_order(), version=2), 3)
        assert error.value.field == "order.version"
        assert store.get("douyin", "DY-1001") == paid(sample_order(), version=3)

    # keys

    def test_the_same_id_on_two_channels_is_two_orders(self, store: OrderStore) -> None:
        """Ids are unique per channel only."""
        store.save(sample_order(channel="douyin"), None)
        store.save(paid(sample_order(channel="taobao")), None)
        douyin = store.get("douyin", "DY-1001")
        taobao = store.get("taobao", "DY-1001")
        assert douyin is not None
        assert taobao is not None
        assert (douyin.status, taobao.status) == (
            OrderStatus.PENDING_PAYMENT,
            OrderStatus.PAID,
        )

    def test_weird_ids_and_channels_are_data(self, store: OrderStore) -> None:
        """Quotes, SQL, emoji and Chinese: each its own order, compared verbatim."""
        names = [*_WEIRD, "DY-1001 ", "dy-1001", "%", "_"]
        for name in names:
            store.save(sample_order(order_id=name, channel=name), None)
        for name in names:
            found = store.get(name, name)
            assert found is not None, name
            assert (found.channel, found.order_id) == (name, name)
        assert store.get("DY-1001", "DY-1001") is None

    # listing

    def test_orders_are_listed_by_channel_then_id(self, store: OrderStore) -> None:
        """Monitoring pages through every order, ids compared as code points."""
        # "B-1" before "a-2" and "Z-9" before "a-2": a case-insensitive or
        # locale collation lists them the other way round.
        keys = [
            ("taobao", "A-2"),
            ("douyin", "Z-9"),
            ("douyin", "a-2"),
            ("douyin", "B-1"),
            ("douyin", "A-1"),
            ("jd", "M"),
        ]
        for channel, order_id in keys:
            store.save(sample_order(order_id=order_id, channel=channel), None)
        listed = [(o.channel, o.order_id) for o in store.orders()]
        assert listed == sorted(keys)
        first = store.orders(limit=2)
        assert [(o.channel, o.order_id) for o in first] == sorted(keys)[:2]
        last = first[-1]
        rest = store.orders(after=(last.channel, last.order_id), limit=10)
        assert [(o.channel, o.order_id) for o in rest] == sorted(keys)[2:]

    def test_orders_are_listed_by_status(self, store: OrderStore) -> None:
        """Only the orders of the status asked for."""
        store.save(sample_order(order_id="DY-1"), None)
        store.save(paid(sample_order(order_id="DY-2")), None)
        store.save(sample_order(order_id="DY-3"), None)
        pending = store.orders(status=OrderStatus.PENDING_PAYMENT)
        assert [o.order_id for o in pending] == ["DY-1", "DY-3"]
        assert [o.order_id for o in store.orders(status=OrderStatus.PAID)] == ["DY-2"]
        assert list(store.orders(status=OrderStatus.SHIPPED)) == []

    def test_orders_of_a_status_page_through_every_one(self, store: OrderStore) -> None:
        """Pages of one status are full: the status filters before the limit."""
        for number in range(1, 7):
            order = sample_order(order_id=f"DY-{number}")
            store.save(paid(order) if number % 2 == 0 else order, None)
        for status, wanted in (
            (OrderStatus.PAID, ["DY-2", "DY-4", "DY-6"]),
            (OrderStatus.PENDING_PAYMENT, ["DY-1", "DY-3", "DY-5"]),
        ):
            listed: list[str] = []
            after: tuple[str, str] | None = None
            while page := store.orders(status=status, after=after, limit=1):
                assert len(page) == 1, status
                listed.append(page[0].order_id)
                after = (page[0].channel, page[0].order_id)
                assert len(listed) <= len(wanted), (status, listed)
            assert listed == wanted, status

    def test_an_update_moves_an_order_between_status_listings(
        self, store: OrderStore
    ) -> None:
        """Saved again in another status, it is listed under that status only.

        A store may keep the status beside each order to filter on it (a
        column, an index): every save writes it, not the first one alone,
        or an order paid after intake is never listed as paid (the desk's
        picking queue never sees it).
        """
        for number in range(1, 5):
            store.save(sample_order(order_id=f"DY-{number}"), None)
        store.save(paid(sample_order(order_id="DY-2")), 1)
        store.save(paid(sample_order(order_id="DY-4"), version=3), 1)

        def listed(status: OrderStatus) -> list[tuple[str, OrderStatus, int]]:
            return [
                (o.order_id, o.status, o.version) for o in store.orders(status=status)
            ]

        assert listed(OrderStatus.PAID) == [
            ("DY-2", OrderStatus.PAID, 2),
            ("DY-4", OrderStatus.PAID, 3),
        ]
        assert [o for o, *_ in listed(OrderStatus.PENDING_PAYMENT)] == ["DY-1", "DY-3"]
        cancelled = attrs.evolve(
            paid(sample_order(order_id="DY-2")),
            status=OrderStatus.CANCELLED,
            version=3,
            cancel_reason="out of stock",
        )
        store.save(cancelled, 2)
        assert listed(OrderStatus.PAID) == [("DY-4", OrderStatus.PAID, 3)]
        assert listed(OrderStatus.CANCELLED) == [("DY-2", OrderStatus.CANCELLED, 3)]
        assert [o.order_id for o in store.orders()] == ["DY-1", "DY-2", "DY-3", "DY-4"]

    def test_pages_of_a_status_follow_updates(self, store: OrderStore) -> None:
        """Paged one at a time, a status lists the orders it holds now."""
        for number in range(1, 7):
            store.save(sample_order(order_id=f"DY-{number}"), None)
        for number in (2, 3, 5):
            store.save(paid(sample_order(order_id=f"DY-{number}")), 1)
        for status, wanted in (
            (OrderStatus.PAID, ["DY-2", "DY-3", "DY-5"]),
            (OrderStatus.PENDING_PAYMENT, ["DY-1", "DY-4", "DY-6"]),
        ):
            listed: list[str] = []
            after: tuple[str, str] | None = None
            while page := store.orders(status=status, after=after, limit=1):
                assert len(page) == 1, status
                assert page[0].status is status, page[0]
                listed.append(page[0].order_id)
                after = (page[0].channel, page[0].order_id)
                assert len(listed) <= len(wanted), (status, listed)
            assert listed == wanted, status

    def test_status_listings_follow_any_order_updated(self) -> None:
        """Orders saved new in one status, then saved as drawn: listed as drawn.

        Each order drawn (in any status) is first saved pending, paid or
        cancelled under its channel and id, then saved as drawn, one
        version on: every status lists exactly the orders it holds after
        the updates, as stored.
        """
        drawn: list[Order] = []

        @lenient(max_examples=min(_examples(), 40), database=None)
        @given(orders())
        def draw(order: Order) -> None:
            drawn.append(order)

        draw()
        unique = {(o.channel, o.order_id): o for o in drawn}
        store = self.make_store()
        final: dict[tuple[str, str], Order] = {}
        try:
            for n, ((channel, order_id), order) in enumerate(unique.items()):
                first = sample_order(order_id=order_id, channel=channel)
                if n % 3 == 1:
                    first = paid(first, version=1)
                elif n % 3 == 2:
                    first = attrs.evolve(
                        first, status=OrderStatus.CANCELLED, cancel_reason="duplicate"
                    )
                store.save(first, None)
                final[channel, order_id] = attrs.evolve(order, version=2)
                store.save(final[channel, order_id], 1)
            for status in OrderStatus:
                wanted = [final[k] for k in sorted(final) if final[k].status is status]
                assert list(store.orders(status=status, limit=1000)) == wanted, status
        finally:
            self.dispose(store)

    # the orders that wait (optional)

    def _waiting(self, store: OrderStore) -> Callable[..., Sequence[Order]]:
        """The store's optional `waiting` read; the test is skipped without it."""
        waiting = getattr(store, "waiting", None)
        if waiting is None:
            pytest.skip("this store does not list the orders that wait (waiting)")
        return cast("Callable[..., Sequence[Order]]", waiting)

    def test_waiting_lists_the_orders_that_wait(self) -> None:
        """`waiting()`, where a store has it: the orders `waits` names, in pages.

        Orders drawn in every status, with cases at every stage (every
        other one also with a saga and a review), saved in one store:
        paged through one at a time, `waiting()` lists exactly those that
        wait, by channel and order id.
        """
        drawn: list[Order] = []

        @lenient(max_examples=min(_examples(), 30), database=None)
        @given(orders())
        def draw(order: Order) -> None:
            drawn.append(_with_desk_fields(order) if len(drawn) % 3 == 0 else order)

        draw()
        unique = {(o.channel, o.order_id): o for o in drawn}
        store = self.make_store()
        try:
            waiting = self._waiting(store)
            for order in unique.values():
                store.save(order, None)
            listed: list[tuple[str, str]] = []
            after: tuple[str, str] | None = None
            while page := waiting(after=after, limit=1):
                assert len(page) == 1
                after = (page[0].channel, page[0].order_id)
                listed.append(after)
                assert len(listed) <= len(unique)
            assert listed == sorted(k for k, o in unique.items() if waits(o))
        finally:
            self.dispose(store)

    def test_an_order_waits_from_the_save_that_says_so(self, store: OrderStore) -> None:
        """Saved with a saga it is listed; saved again without one, no longer."""
        waiting = self._waiting(store)
        order = sample_order(order_id="DY-1")
        store.save(order, None)
        store.save(sample_order(order_id="DY-2"), None)
        assert list(waiting()) == []
        saga = Saga(
            name="refund",
            step="requested",
            key="refund:DY-1:1",
            started_at=START,
            reference="PAY-1",
        )
        in_flight = attrs.evolve(order, version=2, saga=saga)
        store.save(in_flight, 1)
        assert list(waiting()) == [in_flight]
        assert list(waiting(after=("douyin", "DY-1"))) == []
        held = attrs.evolve(in_flight, version=3, saga=None, review=("refund",))
        store.save(held, 2)
        assert list(waiting()) == [held]
        done = attrs.evolve(held, version=4, review=())
        store.save(done, 3)
        assert list(waiting()) == []
        assert len(store.orders()) == 2

    @pytest.mark.parametrize(
        ("arguments", "field"),
        [
            pytest.param({"limit": 0}, "limit", id="zero-limit"),
            pytest.param({"after": ("douyin",)}, "after", id="short-after"),
        ],
    )
    def test_bad_input_to_waiting_names_its_argument(
        self, store: OrderStore, arguments: dict[str, object], field: str
    ) -> None:
        """A bad `after` or `limit` raises a ValidationError naming it."""
        waiting = self._waiting(store)
        with pytest.raises(ValidationError) as error:
            waiting(**arguments)
        assert error.value.field == field

    def _placed_between(self, store: OrderStore) -> Callable[..., Sequence[Order]]:
        """The store's optional `placed_between` read; skipped without it."""
        listed = getattr(store, "placed_between", None)
        if listed is None:
            pytest.skip("this store does not list orders by placed instant")
        return cast("Callable[..., Sequence[Order]]", listed)

    def test_placed_between_lists_a_window_soonest_placed_first(self) -> None:
        """`placed_between()`, where a store has it: a window's orders, in pages.

        Orders drawn with any placed instant (a third moved to share one
        instant), saved in one store: paged through one at a time over the
        window from the second earliest instant to the latest (which it
        excludes), it lists exactly the orders placed in it, by placed
        instant, then channel and order id.
        """
        drawn: list[Order] = []

        @lenient(max_examples=min(_examples(), 30), database=None)
        @given(orders())
        def draw(order: Order) -> None:
            if len(drawn) % 3 == 2:
                order = attrs.evolve(order, placed_at=drawn[-1].placed_at)
            drawn.append(order)

        draw()
        unique = {(o.channel, o.order_id): o for o in drawn}
        instants = sorted({o.placed_at for o in unique.values()})
        if len(instants) < 3:
            instants = [START, START.add(minutes=1), START.add(minutes=2)]
        start, end = instants[1], instants[-1]
        store = self.make_store()
        try:
            listed_by = self._placed_between(store)
            for order in unique.values():
                store.save(order, None)
            listed: list[Order] = []
            after: Order | None = None
            while page := listed_by(start, end, after=after, limit=1):
                assert len(page) == 1
                after = page[0]
                listed.append(after)
                assert len(listed) <= len(unique)
        finally:
            self.dispose(store)
        assert listed == sorted(
            (o for o in unique.values() if start <= o.placed_at < end),
            key=lambda o: (o.placed_at, o.channel, o.order_id),
        )

    def test_an_order_is_listed_by_its_placed_instant(self, store: OrderStore) -> None:
        """In another zone, to the microsecond; saved again, in the same place."""
        listed_by = self._placed_between(store)
        shanghai = pendulum.timezone("Asia/Shanghai")
        first = sample_order(order_id="DY-2", placed_at=START.add(microseconds=1))
        second = sample_order(order_id="DY-1", placed_at=START.add(microseconds=2))
        store.save(first, None)
        store.save(second, None)
        store.save(sample_order(order_id="DY-3", placed_at=START.add(hours=1)), None)
        store.save(paid(first), 1)
        window = (START.in_timezone(shanghai), START.add(hours=1))
        assert list(listed_by(*window)) == [paid(first), second]
        assert list(listed_by(*window, after=paid(first))) == [second]
        assert list(listed_by(*window, limit=1)) == [paid(first)]
        assert list(listed_by(START.add(microseconds=2), START.add(hours=2))) == [
            second,
            sample_order(order_id="DY-3", placed_at=START.add(hours=1)),
        ]

    def test_an_order_moves_with_its_placed_instant(self, store: OrderStore) -> None:
        """Saved again with another placed instant, it is listed by the new one.

        A store keeps the placed instant beside each order to list a window
        (a column, an index): every save writes it, not the first one alone.
        """
        listed_by = self._placed_between(store)
        early = sample_order(order_id="DY-1", placed_at=START)
        other = sample_order(order_id="DY-2", placed_at=START.add(minutes=30))
        store.save(early, None)
        store.save(other, None)
        corrected = attrs.evolve(early, placed_at=START.add(hours=1), version=2)
        store.save(corrected, 1)
        assert list(listed_by(START, START.add(minutes=1))) == []
        assert list(listed_by(START, START.add(hours=2))) == [other, corrected]
        assert list(listed_by(START.add(hours=1), START.add(hours=2))) == [corrected]
        assert list(listed_by(START, START.add(hours=2), after=other)) == [corrected]

    @pytest.mark.parametrize(
        ("arguments", "error", "field"),
        [
            pytest.param(
                {"start": dt.datetime(2026, 11, 11), "end": START},  # noqa: DTZ001 - naive on purpose
                NaiveDatetime,
                "start",
                id="naive-start",
            ),
            pytest.param(
                {"start": START, "end": START}, ValidationError, "end", id="empty"
            ),
            pytest.param(
                {"start": START, "end": START.add(days=1), "after": ("douyin", "1")},
                ValidationError,
                "after",
                id="key-after",
            ),
            pytest.param(
                {"start": START, "end": START.add(days=1), "limit": 0},
                ValidationError,
                "limit",
                id="zero-limit",
            ),
        ],
    )
    def test_bad_input_to_placed_between_names_its_argument(
        self,
        store: OrderStore,
        arguments: dict[str, object],
        error: type[ValidationError],
        field: str,
    ) -> None:
        """A naive instant, an empty window, a bad `after` or `limit`: named."""
        listed_by = self._placed_between(store)
        with pytest.raises(error) as caught:
            listed_by(**arguments)
        assert caught.value.field == field

    # bad input

    @pytest.mark.parametrize(
        ("call", "field"),
        [
            pytest.param(lambda s: s.save("DY-1001", None), "order", id="not-order"),
            pytest.param(
                lambda s: s.save(paid(sample_order()), 0),
                "expected_version",
                id="zero-version",
            ),
            pytest.param(
                lambda s: s.save(paid(sample_order()), "1"),
                "expected_version",
                id="text-version",
            ),
            pytest.param(
                lambda s: s.save(paid(sample_order()), True),  # noqa: FBT003 - bad input
                "expected_version",
                id="bool-version",
            ),
            pytest.param(
                lambda s: s.save(sample_order(order_id="D" * 256), None),
                "order_id",
                id="long-order-id",
            ),
            pytest.param(lambda s: s.get("", "DY-1001"), "channel", id="empty-channel"),
            pytest.param(lambda s: s.get("douyin", None), "order_id", id="none-id"),
            pytest.param(
                lambda s: s.get("douyin", "DY\n1"), "order_id", id="control-id"
            ),
            pytest.param(lambda s: s.orders(limit=0), "limit", id="zero-limit"),
            pytest.param(lambda s: s.orders(status="paid"), "status", id="str-status"),
            pytest.param(
                lambda s: s.orders(after=("douyin",)), "after", id="short-after"
            ),
        ],
    )
    def test_bad_input_names_its_argument_and_changes_nothing(
        self,
        store: OrderStore,
        call: Callable[[Any], object],
        field: str,
    ) -> None:
        """Each bad argument raises a ValidationError naming it; nothing changes."""
        store.save(sample_order(), None)
        with pytest.raises(ValidationError) as error:
            call(store)
        assert error.value.field == field
        assert store.get("douyin", "DY-1001") == sample_order()
        assert len(store.orders()) == 1

    def test_driver_failures_become_store_errors(self, store: OrderStore) -> None:
        """A failing backend raises StoreError with the driver's error as cause."""
        store.save(sample_order(), None)
        if not self.break_store(store):
            pytest.skip("this store has no backend that can fail")
        with pytest.raises(StoreError) as error:
            store.save(paid(sample_order()), 1)
        assert error.value.__cause__ is not None
        with pytest.raises(StoreError) as error:
            store.get("douyin", "DY-1001")
        assert error.value.__cause__ is not None

    # concurrency

    def test_of_writers_expecting_one_version_exactly_one_wins(
        self, store: OrderStore
    ) -> None:
        """Racers that all read version 1 save version 2: one wins, the rest lose."""
        store.save(sample_order(), None)
        racers = [
            functools.partial(_save_race, "douyin", "DY-1001", f"cancelled by desk {i}")
            for i in range(self.race_workers)
        ]
        results = self._race(store, racers)
        winners = [reason for reason, won in results if won]
        assert len(winners) == 1, results
        found = store.get("douyin", "DY-1001")
        assert found is not None
        assert (found.version, found.cancel_reason) == (2, winners[0])


def _examples() -> int:
    profile = settings.default
    return 100 if profile is None else profile.max_examples
