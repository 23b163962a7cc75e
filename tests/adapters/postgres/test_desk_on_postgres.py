"""The order desk on PostgreSQL: units of work that touch several balances at once.

Each unit keeps the balance locks it takes until it ends, so a desk that
commits an order's holds one by one must take them in one order everywhere,
or two payments for orders with the same SKUs in opposite line order wait
for each other in a circle.
"""

from __future__ import annotations

import datetime as dt
import functools
import threading
from collections import Counter
from collections.abc import Callable

import pendulum
from tests.adapters.postgres._stores import until_someone_waits_for_a_lock

from orderkit.adapters.postgres import PostgresUnitOfWork
from orderkit.dedupe import Fingerprinter, IdempotencyKey
from orderkit.integrations import ChannelOrder
from orderkit.money import Money
from orderkit.orders import Buyer, PaymentCaptured
from orderkit.pricing import LimitRule, LimitScope
from orderkit.services import Accepted, DeskPolicy, Held, Ledger, OrderDesk
from orderkit.testing import FrozenClock, channel_order


START = pendulum.datetime(2026, 11, 11)
PAIRS = 8
SECRET = b"k" * 32


def _desk(uow: PostgresUnitOfWork, clock: FrozenClock) -> OrderDesk:
    return OrderDesk(uow, clock, DeskPolicy(locations=["BJ-1"]), Fingerprinter(SECRET))


def _payment(order_id: str) -> PaymentCaptured:
    return PaymentCaptured(
        order_id=order_id,
        key=IdempotencyKey("douyin", "order.paid", order_id, "1"),
        occurred_at=START.add(minutes=5),
        payment_id=f"PAY-{order_id}",
        amount=Money("20.00", "CNY"),
    )


def test_payments_for_crossed_orders_never_deadlock(pg_dsn: str) -> None:
    clock = FrozenClock(START)
    setup = PostgresUnitOfWork(pg_dsn)
    with setup:
        for sku in ("SKU-A", "SKU-B"):
            Ledger(setup.ledger, clock).receive(sku, "BJ-1", 1000)
        setup.commit()
    desk = _desk(setup, clock)
    for i in range(PAIRS):
        for order_id, skus in (
            (f"O1-{i}", ("SKU-B", "SKU-A")),
            (f"O2-{i}", ("SKU-A", "SKU-B")),
        ):
            lines = [(sku, 1, "10.00") for sku in skus]
            outcome = desk.accept(channel_order(lines, order_id=order_id, at=START))
            assert isinstance(outcome, Accepted)
    setup.close()

    results: Counter[str] = Counter()

    def pay(order_id: str, barrier: threading.Barrier) -> None:
        uow = PostgresUnitOfWork(pg_dsn)
        try:
            barrier.wait(timeout=30)
            _desk(uow, clock).record("douyin", order_id, _payment(order_id))
            results["paid"] += 1
        except Exception as exc:  # noqa: BLE001 - counted and shown below
            results[type(exc).__name__] += 1
        finally:
            uow.close()

    for i in range(PAIRS):
        barrier = threading.Barrier(2)
        payers = [
            threading.Thread(target=pay, args=(order_id, barrier))
            for order_id in (f"O1-{i}", f"O2-{i}")
        ]
        for payer in payers:
            payer.start()
        for payer in payers:
            payer.join(timeout=120)
    assert results == {"paid": 2 * PAIRS}
    check = PostgresUnitOfWork(pg_dsn)
    with check:
        for sku in ("SKU-A", "SKU-B"):
            balance = Ledger(check.ledger, clock).balance(sku, "BJ-1")
            assert (balance.reserved, balance.allocated) == (0, 2 * PAIRS)
    check.close()


def _in_a_unit(dsn: str, clock: FrozenClock, work: Callable[[Ledger], object]) -> str:
    """Run `work` on a ledger in a unit of its own; say how the unit ended."""
    uow = PostgresUnitOfWork(dsn)
    try:
        with uow:
            work(Ledger(uow.ledger, clock, outbox=uow.outbox))
            uow.commit()
    except Exception as exc:  # noqa: BLE001 - reported by the caller's assertion
        return repr(exc)
    finally:
        uow.close()
    return "committed"


def test_a_commit_and_a_reservation_of_other_balances_never_deadlock(
    pg_dsn: str,
) -> None:
    """One order's holds commit one by one while another order reserves.

    P holds SKU-A at SH-1 and SKU-B at BJ-1; Q reserves both SKUs at BJ-1,
    so they share one balance, and a SKU's stream serves both locations.
    P's unit takes SKU-A's turn, then waits with it; Q must then wait for
    SKU-A before it locks any balance, or P's next commit (SKU-B at BJ-1)
    and Q's stream turn for SKU-A would wait for each other in a circle.
    """
    clock = FrozenClock(START)
    setup = PostgresUnitOfWork(pg_dsn)
    with setup:
        ledger = Ledger(setup.ledger, clock, outbox=setup.outbox)
        for sku, location in (("SKU-A", "SH-1"), ("SKU-A", "BJ-1"), ("SKU-B", "BJ-1")):
            ledger.receive(sku, location, 10)
        receipt = ledger.reserve("P", [("SKU-A", "SH-1", 1), ("SKU-B", "BJ-1", 1)])
        setup.commit()
    setup.close()
    first, second = sorted(receipt.holds, key=lambda h: (h.sku, h.location))
    halfway, go_on = threading.Event(), threading.Event()
    results: dict[str, str] = {}

    def pay(ledger: Ledger) -> None:
        ledger.commit(first.hold_id)
        halfway.set()
        go_on.wait(timeout=30)
        ledger.commit(second.hold_id)

    def reserve(ledger: Ledger) -> None:
        ledger.reserve("Q", [("SKU-A", "BJ-1", 1), ("SKU-B", "BJ-1", 1)])

    def run(name: str, work: Callable[[Ledger], object]) -> threading.Thread:
        def target() -> None:
            results[name] = _in_a_unit(pg_dsn, clock, work)

        thread = threading.Thread(target=target)
        thread.start()
        return thread

    payer = run("pay", pay)
    assert halfway.wait(timeout=30)
    reserver = run("reserve", reserve)
    assert until_someone_waits_for_a_lock(pg_dsn)
    go_on.set()
    for thread in (payer, reserver):
        thread.join(timeout=60)
    assert results == {"pay": "committed", "reserve": "committed"}


def test_a_release_over_a_limit_and_an_accept_never_deadlock(pg_dsn: str) -> None:
    """A release counting its limits and an accept sharing them lock alike.

    Both take the limit keys (here the shop's IP limit), then the SKU's
    balance: a release that held the stock first and then counted its
    limits would wait for an accept in a circle.
    """
    clock = FrozenClock(START)
    day = dt.timedelta(days=1)
    limits = (
        LimitRule(LimitScope.BUYER, 1, day),
        LimitRule(LimitScope.IP, 10_000, day),
    )
    policy = DeskPolicy(locations=["BJ-1"], limits=limits)
    setup = PostgresUnitOfWork(pg_dsn)
    with setup:
        Ledger(setup.ledger, clock).receive("SKU-A", "BJ-1", 1000)
        setup.commit()
    desk = OrderDesk(setup, clock, policy, Fingerprinter(SECRET))

    def paid(order_id: str, buyer: str) -> ChannelOrder:
        return channel_order(
            [("SKU-A", 1, "10.00")],
            order_id=order_id,
            paid=True,
            at=START,
            buyer=Buyer(buyer, "李雷"),
        )

    for i in range(PAIRS):
        desk.accept(paid(f"A-{i}", f"buyer-{i}"), ip="9.9.9.9")
        held = desk.accept(paid(f"H-{i}", f"buyer-{i}"), ip="9.9.9.9")
        assert isinstance(held, Held)
        assert "limits" in held.order.review
    setup.close()

    results: Counter[str] = Counter()

    def run(call: Callable[[OrderDesk], object], barrier: threading.Barrier) -> None:
        uow = PostgresUnitOfWork(pg_dsn)
        try:
            barrier.wait(timeout=30)
            call(OrderDesk(uow, clock, policy, Fingerprinter(SECRET)))
            results["done"] += 1
        except Exception as exc:  # noqa: BLE001 - counted and shown below
            results[type(exc).__name__] += 1
        finally:
            uow.close()

    for i in range(PAIRS):
        barrier = threading.Barrier(2)
        calls: list[Callable[[OrderDesk], object]] = [
            functools.partial(_release, f"H-{i}"),
            functools.partial(_accept, paid(f"N-{i}", f"other-{i}")),
        ]
        workers = [threading.Thread(target=run, args=(call, barrier)) for call in calls]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join(timeout=120)
    assert results == {"done": 2 * PAIRS}


def _release(order_id: str, desk: OrderDesk) -> object:
    return desk.release("douyin", order_id, actor="ops", ip="9.9.9.9")


def _accept(order: ChannelOrder, desk: OrderDesk) -> object:
    return desk.accept(order, ip="9.9.9.9")
