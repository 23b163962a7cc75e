"""`check_order_store_laws`: an order store driven through its laws, without pytest."""

from __future__ import annotations

import random
from collections.abc import Callable

import attrs
import pendulum

from orderkit._validate import positive_int, signed_int
from orderkit.dedupe import IdempotencyKey
from orderkit.errors import ConcurrencyConflict, ValidationError
from orderkit.money import Money
from orderkit.orders import (
    Address,
    AfterSalesCase,
    Buyer,
    Order,
    OrderLine,
    OrderStatus,
    Payment,
    ReturnLine,
    request_return,
)
from orderkit.ports import OrderStore
from orderkit.pricing import ChangeState, PaymentLedger, PriceChange
from orderkit.testing._laws import (
    LawBroken,
    OrderStoreLaw,
    check_new_store,
    close_if_closable,
)


_START = pendulum.datetime(2026, 11, 11)
# Ids unique only within a channel, and code points that sort apart from
# their look (an upper-case id before a lower-case one, Chinese last):
# "B-1" comes before "a-1", which a case-insensitive collation reverses.
_KEYS = tuple(
    (channel, order_id)
    for channel in ("douyin", "shopify", "淘宝")
    for order_id in ("A-1", "a-1", "B-1", "10", "9", "订单-1")
)
_STATUSES = (OrderStatus.PENDING_PAYMENT, OrderStatus.PAID, OrderStatus.CANCELLED)
_TOTAL = Money("398.00", "CNY")
Key = tuple[str, str]
# The law a save answers for when the store raises what nobody expected.
_LAW_OF = {
    "new": OrderStoreLaw.COMPARE_AND_SET,
    "update": OrderStoreLaw.COMPARE_AND_SET,
    "stale": OrderStoreLaw.COMPARE_AND_SET,
    "still": OrderStoreLaw.FORWARD_ONLY,
}


def check_order_store_laws(
    make_store: Callable[[], OrderStore],
    *,
    seed: int = 0,
    runs: int = 10,
    steps: int = 40,
) -> None:
    """Drive an order store through its laws; raise if one breaks.

    Each run makes an empty store with `make_store()` and makes `steps`
    saves drawn from `random.Random(seed + run)`: new orders (some under a
    channel and id it holds, some with a payment ledger, an after-sales
    case or a price change), updates on the right version, on a stale one,
    on none, and updates that do not raise the version. After every save it
    checks each `OrderStoreLaw`: round trip, compare and set, forward only,
    listing. A store with a `close()` method is closed after its run.

    Saves run one at a time, so a store whose compare and set holds alone
    but not under concurrency (it reads the version, then writes without
    a lock or a conditional update) passes them. The contract suite,
    `orderkit.testing.contracts.OrderStoreContract`, races savers: run it
    as well.

    Args:
        make_store: Makes a new, empty store.
        seed: The seed of the first run.
        runs: How many runs, each with a new store.
        steps: How many saves per run.

    Raises:
        LawBroken: The store broke a law; the error names it, the run's
            seed and every save up to the failing one. An error the port
            does not allow (a driver's `KeyError`) breaks the law of the
            save it came from, and is the `LawBroken`'s cause.
        ValidationError: An argument is invalid (naming it), or
            `make_store()` returned something that is not a new, empty
            `OrderStore` (`None`, a store of another port lacking a method
            of this one, or a store with orders already, such as one store
            shared by every run); raised before the run's first save,
            naming `make_store` and what it returned.

    .. versionadded:: 0.1.0
    """
    if not callable(make_store):
        raise ValidationError("make_store", make_store, "must be callable")
    signed_int("seed")(None, None, seed)
    positive_int("runs")(None, None, runs)
    positive_int("steps")(None, None, steps)
    for n in range(runs):
        store = make_store()
        try:
            check_new_store(store, OrderStore, _no_orders)
            _Run(store, seed + n, steps).steps()
        finally:
            close_if_closable(store)


def _no_orders(store: OrderStore) -> bool:
    return not store.orders(limit=1)


def _new_order(channel: str, order_id: str) -> Order:
    return Order(
        order_id=order_id,
        channel=channel,
        buyer=Buyer("BUYER-7", "王小明", phone="138****8000"),
        address=Address("CN", "广东省", "深圳市", "南山区", "科技园路 1 号"),
        lines=[OrderLine("L1", "RETRO-CLOCK", 2, Money("199.00", "CNY"), "复古闹钟")],
        placed_at=_START,
    )


def _with_parts(order: Order, rng: random.Random) -> Order:
    """`order` with some of the parts a desk records: a store must keep them all."""
    at = _START.add(days=2)
    ledger: PaymentLedger | None = None
    cases: tuple[AfterSalesCase, ...] = ()
    changes: tuple[PriceChange, ...] = ()
    if rng.random() < 0.5:
        ledger = PaymentLedger(order.order_id, "CNY").authorise("PAY-1", _TOTAL, at)
        ledger = ledger.capture("PAY-1", _TOTAL, at)
    if ledger is not None and rng.random() < 0.5:
        # A case goes back to a payment of the order: the ledger's.
        case = request_return(
            case_id="AS-1",
            order_id=order.order_id,
            payment_id="PAY-1",
            lines=[ReturnLine("L1", "RETRO-CLOCK", 1)],
            refund_amount=Money("199.00", "CNY"),
            reason="七天无理由退货",
            requester="buyer",
            return_to="WH-1",
            at=at,
        )
        cases = (case,)
    if rng.random() < 0.5:
        change = PriceChange(
            change_id="PC-1",
            order_id=order.order_id,
            line_id="L1",
            sku="RETRO-CLOCK",
            quantity=2,
            old_unit_price=Money("199.00", "CNY"),
            new_unit_price=Money("189.00", "CNY"),
            reason="price match",
            requester="clerk",
            evidence="ticket://1",
            requested_at=at,
            expires_at=at.add(days=1),
            required_role="finance",
            state=ChangeState.PENDING,
        )
        changes = (change,)
    return attrs.evolve(
        order, payment_ledger=ledger, after_sales=cases, price_changes=changes
    )


class _Run:
    def __init__(self, store: OrderStore, seed: int, count: int) -> None:
        self.store = store
        self.seed = seed
        self.count = count
        self.rng = random.Random(seed)  # noqa: S311 - not secrecy
        self.model: dict[Key, Order] = {}
        self.history: list[str] = []

    def broken(self, law: OrderStoreLaw, detail: str) -> LawBroken:
        again = (
            f"check_order_store_laws(make_store, seed={self.seed}, runs=1, "
            f"steps={self.count})"
        )
        return LawBroken(law, detail, seed=self.seed, steps=self.history, repeat=again)

    def steps(self) -> None:
        for _ in range(self.count):
            kind = self.rng.choice(["new", "new", "update", "update", "stale", "still"])
            if kind != "new" and not self.model:
                kind = "new"
            law = _LAW_OF[kind]
            try:
                getattr(self, f"_{kind}")()
            except LawBroken:
                raise
            except Exception as error:
                # A store's own error (a driver's KeyError) is a broken law
                # too, reported with the steps that led to it.
                detail = f"{self.history[-1]} raised {error!r}"
                raise self.broken(law, detail) from error
            try:
                self.check()
            except LawBroken:
                raise
            except Exception as error:
                detail = f"reading back after {self.history[-1]} raised {error!r}"
                raise self.broken(law, detail) from error

    def changed(self, order: Order, version: int) -> Order:
        """The order a writer saves next: paid or cancelled, or just touched."""
        status = self.rng.choice(_STATUSES)
        n = len(self.history)
        key = IdempotencyKey(order.channel, "law", order.order_id, str(n))
        paid = Payment(f"PAY-{n}", Money("398.00", "CNY"), _START.add(minutes=n))
        return attrs.evolve(
            order,
            version=version,
            status=status,
            # A pending order has paid nothing, by the order's own rule.
            payments=()
            if status is OrderStatus.PENDING_PAYMENT
            else (*order.payments, paid),
            cancel_reason="买家取消 / buyer cancelled"
            if status is OrderStatus.CANCELLED
            else None,
            applied_keys=order.applied_keys | {key},
        )

    def save(self, order: Order, expected: int | None) -> Exception | None:
        self.history.append(
            f"save {order.channel}:{order.order_id} v{order.version} "
            f"expecting {expected}"
        )
        try:
            self.store.save(order, expected)
        except (ConcurrencyConflict, ValidationError) as error:
            return error
        return None

    def _new(self) -> None:
        key = self.rng.choice(_KEYS)
        order = _new_order(*key)
        if self.rng.random() < 0.5:
            order = _with_parts(order, self.rng)
        error = self.save(order, None)
        if key in self.model:
            self.refused(OrderStoreLaw.COMPARE_AND_SET, error, ConcurrencyConflict)
            return
        self.landed(OrderStoreLaw.COMPARE_AND_SET, error)
        self.model[key] = order

    def _update(self) -> None:
        key = self.rng.choice(sorted(self.model))
        stored = self.model[key]
        order = self.changed(stored, stored.version + self.rng.randint(1, 3))
        self.landed(OrderStoreLaw.COMPARE_AND_SET, self.save(order, stored.version))
        self.model[key] = order

    def _stale(self) -> None:
        key = self.rng.choice(_KEYS)
        stored = self.model.get(key)
        version = 1 if stored is None else stored.version
        wrong = self.rng.choice([v for v in (version - 1, version + 1) if v > 0])
        base = _new_order(*key) if stored is None else stored
        order = self.changed(base, wrong + 1)
        error = self.save(order, wrong if stored is not None else version)
        self.refused(OrderStoreLaw.COMPARE_AND_SET, error, ConcurrencyConflict)

    def _still(self) -> None:
        key = self.rng.choice(sorted(self.model))
        stored = self.model[key]
        # At the stored version or below it: a version never repeats.
        order = self.changed(stored, self.rng.randint(1, stored.version))
        error = self.save(order, stored.version)
        self.refused(OrderStoreLaw.FORWARD_ONLY, error, ValidationError)

    def landed(self, law: OrderStoreLaw, error: Exception | None) -> None:
        if error is not None:
            raise self.broken(law, f"the save was refused: {error!r}")

    def refused(
        self, law: OrderStoreLaw, error: Exception | None, expected: type[Exception]
    ) -> None:
        if not isinstance(error, expected):
            got = "it landed" if error is None else f"got {error!r}"
            raise self.broken(law, f"expected {expected.__name__}, {got}")

    def check(self) -> None:
        for key in _KEYS:
            found = self.store.get(*key)
            saved = self.model.get(key)
            if found != saved:
                how = f"as {_version(found)}, saved as {_version(saved)}"
                if found is not None and saved is not None:
                    differs = [
                        field.name
                        for field in attrs.fields(Order)
                        if getattr(found, field.name) != getattr(saved, field.name)
                    ]
                    how += f", and differs in {', '.join(differs)}"
                raise self.broken(
                    OrderStoreLaw.ROUND_TRIP, f"{key[0]}:{key[1]} reads back {how}"
                )
        self.check_listing(None)
        self.check_listing(self.rng.choice(_STATUSES))

    def check_listing(self, status: OrderStatus | None) -> None:
        listed: list[Key] = []
        after: Key | None = None
        limit = self.rng.randint(1, 4)
        while page := self.store.orders(status=status, after=after, limit=limit):
            if len(page) > limit:
                raise self.broken(
                    OrderStoreLaw.LISTING, f"a page of {len(page)} for limit {limit}"
                )
            first = (page[0].channel, page[0].order_id)
            if after is not None and first <= after:
                # A store that ignores `after` would be paged forever.
                raise self.broken(
                    OrderStoreLaw.LISTING, f"a page after {after} starts at {first}"
                )
            listed.extend((o.channel, o.order_id) for o in page)
            after = listed[-1]
        expected = sorted(
            k for k, o in self.model.items() if status is None or o.status is status
        )
        if listed != expected:
            raise self.broken(
                OrderStoreLaw.LISTING,
                f"orders(status={status}) listed {listed}, expected {expected}",
            )


def _version(order: Order | None) -> str:
    return "nothing" if order is None else f"version {order.version}"
