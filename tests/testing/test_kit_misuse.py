"""The kit used wrongly, as a host would: a loud error, never a green run.

A contract subclass that misspells its hook, a law function given a factory
of the wrong thing, a price strategy of another currency: each must say so,
naming what was wrong, rather than pass without checking anything or blame
the store. And the strategies must shrink a failure to its simplest case.
"""

from __future__ import annotations

import textwrap
from collections.abc import Callable, Sequence
from typing import Any

import attrs
import pytest
from hypothesis import find, settings
from hypothesis import strategies as st

from orderkit.adapters.memory import (
    MemoryLedgerStore,
    MemoryOrderStore,
    MemoryUnitOfWork,
)
from orderkit.dedupe import IdempotencyKey
from orderkit.errors import ValidationError
from orderkit.integrations import ChannelRecord, ChannelRefund
from orderkit.money import Money
from orderkit.orders import OrderEvent, OrderPlaced, PaymentCaptured
from orderkit.ports import ChannelPayloads, LedgerStore
from orderkit.services import Ledger
from orderkit.testing import (
    FrozenClock,
    LedgerOperation,
    channel_order,
    check_desk_laws,
    check_ledger_laws,
    check_order_store_laws,
)
from orderkit.testing import strategies as ost
from orderkit.testing._contract_base import START
from orderkit.testing.contracts import (
    ChannelContract,
    LedgerStoreContract,
    OutboxContract,
    Sample,
)


pytest_plugins = ["pytester"]


# --------------------------------------------------------------------------
# Contract subclasses that pytest would skip


class TestAbstractTestClasses:
    """A `Test*` subclass still abstract is refused when it is defined."""

    def test_a_misspelt_make_store_is_named(self) -> None:
        with pytest.raises(
            TypeError, match=r"TestMyStore does not define make_store\(\)"
        ):

            class TestMyStore(LedgerStoreContract):
                def make_stores(self) -> LedgerStore:
                    return MemoryLedgerStore()

    def test_a_channel_contract_without_hooks_names_each(self) -> None:
        with pytest.raises(
            TypeError,
            match=r"TestMyChannel does not define make_channel\(\), samples\(\)",
        ):

            class TestMyChannel(ChannelContract):
                pass

    def test_every_missing_hook_is_named(self) -> None:
        with pytest.raises(
            TypeError,
            match=r"TestMyOutbox does not define make_inbox\(\), make_store\(\)",
        ):

            class TestMyOutbox(OutboxContract):
                pass

    def test_a_base_without_the_prefix_may_stay_abstract(self) -> None:
        class _SharedHooks(LedgerStoreContract):
            race_workers = 2

        class TestMine(_SharedHooks):
            def make_store(self) -> LedgerStore:
                return MemoryLedgerStore()

        assert isinstance(TestMine().make_store(), MemoryLedgerStore)
        with pytest.raises(TypeError, match=r"TestForgot does not define make_store"):

            class TestForgot(_SharedHooks):
                pass

    def test_a_class_pytest_does_not_collect_may_stay_abstract(self) -> None:
        class TestBase(LedgerStoreContract):
            __test__ = False

        with pytest.raises(TypeError, match=r"TestForgot does not define make_store"):

            class TestForgot(TestBase):
                __test__ = True

    def test_a_hook_from_a_mixin_counts(self) -> None:
        class _Samples:
            def samples(self) -> Sequence[Sample]:
                return []

        with pytest.raises(TypeError, match=r"does not define make_channel\(\):"):

            class TestMine(_Samples, ChannelContract):
                pass

    def test_the_suite_fails_at_collection(self, pytester: pytest.Pytester) -> None:
        pytester.makepyfile(
            test_host=textwrap.dedent(
                """
                from orderkit.adapters.memory import MemoryLedgerStore
                from orderkit.testing.contracts import LedgerStoreContract

                class TestMyLedgerStore(LedgerStoreContract):
                    def make_stores(self):
                        return MemoryLedgerStore()

                def test_something_else():
                    pass
                """
            )
        )
        result = pytester.runpytest("-p", "no:cacheprovider", "-p", "no:randomly")
        result.assert_outcomes(errors=1)
        result.stdout.fnmatch_lines(
            ["*TestMyLedgerStore does not define make_store(): pytest would skip*"]
        )


# --------------------------------------------------------------------------
# Law functions given a factory of the wrong thing


def _filled() -> MemoryLedgerStore:
    store = MemoryLedgerStore()
    Ledger(store, FrozenClock(START)).receive("TEA", "W1", 3)
    return store


class TestLawsCheckWhatTheFactoryMakes:
    """What `make_store()` returns is refused unless a new, empty store of the port."""

    @pytest.mark.parametrize(
        ("made", "problem"),
        [
            pytest.param(lambda: None, "it has no apply()", id="none"),
            pytest.param(MemoryOrderStore, "it has no apply()", id="order-store"),
            pytest.param(_filled, "holds data already", id="not-empty"),
        ],
    )
    def test_ledger_laws(self, made: Callable[[], Any], problem: str) -> None:
        returned: list[object] = []

        def make_store() -> Any:
            returned.append(made())
            return returned[-1]

        with pytest.raises(ValidationError) as caught:
            check_ledger_laws(make_store, runs=1)
        assert "make_store" == caught.value.field
        assert returned == [caught.value.value]
        assert caught.value.problem.startswith("must return a new, empty LedgerStore")
        assert problem in caught.value.problem

    def test_one_store_for_every_run_is_refused_before_a_step(self) -> None:
        shared = MemoryLedgerStore()
        with pytest.raises(ValidationError) as caught:
            check_ledger_laws(lambda: shared, runs=3)
        assert shared is caught.value.value
        # The first run was fine; the second found its leftovers and stopped.
        assert shared.movements()

    def test_a_filled_store_is_left_as_it_was(self) -> None:
        store = _filled()
        before = list(store.movements())
        with pytest.raises(ValidationError):
            check_ledger_laws(
                lambda: store, operations=[LedgerOperation.receive("MUG", "W1", 1)]
            )
        assert before == list(store.movements())

    @pytest.mark.parametrize(
        ("made", "problem"),
        [
            pytest.param(lambda: None, "it has no get(), orders(), save()", id="none"),
            pytest.param(
                MemoryLedgerStore, "it has no get(), orders(), save()", id="ledger"
            ),
        ],
    )
    def test_order_store_laws(self, made: Callable[[], Any], problem: str) -> None:
        with pytest.raises(ValidationError) as caught:
            check_order_store_laws(made, runs=1)
        assert "make_store" == caught.value.field
        assert caught.value.problem.startswith("must return a new, empty OrderStore")
        assert problem in caught.value.problem

    def test_one_order_store_for_every_run_is_refused(self) -> None:
        shared = MemoryOrderStore()
        with pytest.raises(ValidationError) as caught:
            check_order_store_laws(lambda: shared, runs=2, steps=5)
        assert shared is caught.value.value
        assert "holds data already" in caught.value.problem

    @pytest.mark.parametrize(
        "made",
        [lambda: None, MemoryLedgerStore],
        ids=["none", "ledger-store"],
    )
    def test_desk_laws_want_a_unit_of_work(self, made: Callable[[], Any]) -> None:
        with pytest.raises(ValidationError) as caught:
            check_desk_laws(made, runs=1, steps=3)
        assert "make_unit" == caught.value.field
        assert "__enter__(), __exit__()" in caught.value.problem
        assert "commit()" in caught.value.problem

    @pytest.mark.parametrize(
        ("check", "factory"),
        [(check_ledger_laws, MemoryLedgerStore), (check_desk_laws, MemoryUnitOfWork)],
        ids=["ledger", "desk"],
    )
    @pytest.mark.parametrize(
        ("steps", "problem"),
        [([], "at least one step"), (7, "must be a sequence")],
        ids=["empty", "not-a-sequence"],
    )
    def test_given_steps_must_be_some(
        self,
        check: Callable[..., None],
        factory: Callable[[], Any],
        steps: object,
        problem: str,
    ) -> None:
        # An empty list would check nothing and pass: a caller's mistake.
        with pytest.raises(ValidationError) as caught:
            check(factory, operations=steps)
        assert caught.value.field == "operations"
        assert problem in caught.value.problem


# --------------------------------------------------------------------------
# Strategies


def _kinds(events: Sequence[OrderEvent]) -> list[type[OrderEvent]]:
    return [type(event) for event in events]


class TestLifecyclesShrink:
    """A failing stream shrinks to the fewest events, not to the longest stage."""

    @pytest.mark.parametrize("examples", [1, 100])
    def test_the_simplest_lifecycle_is_the_order_placed(self, examples: int) -> None:
        # One example is the simplest draw and its shrinking, nothing else.
        found = find(
            ost.lifecycles(),
            lambda _: True,
            settings=settings(database=None, max_examples=examples),
        )
        assert [OrderPlaced] == _kinds(found)

    def test_a_rule_about_payments_shrinks_to_the_payment(self) -> None:
        found = find(
            ost.lifecycles(),
            lambda stream: PaymentCaptured in _kinds(stream),
        )
        assert [OrderPlaced, PaymentCaptured] == _kinds(found)

    def test_the_simplest_event_stream_is_one_event_delivered_twice(self) -> None:
        # Duplicates on (the default): even the least stream has a repeat.
        found = find(ost.event_streams(), lambda _: True)
        assert [OrderPlaced] == _kinds(found.events)
        assert [OrderPlaced, OrderPlaced] == _kinds(found.delivered)

    def test_the_simplest_event_stream_without_repeats_is_one_delivery(
        self,
    ) -> None:
        found = find(ost.event_streams(duplicates=False), lambda _: True)
        assert [OrderPlaced] == _kinds(found.events)
        assert [OrderPlaced] == _kinds(found.delivered)


class TestChannelOrderPrices:
    """`unit_prices` must draw amounts of the orders' currency above zero."""

    @pytest.mark.parametrize(
        ("prices", "currency"),
        [
            pytest.param(
                ost.money("USD", min_minor=1, max_minor=10**6), "CNY", id="usd-for-cny"
            ),
            pytest.param(st.just(Money("9.99", "EUR")), "USD", id="eur-for-usd"),
            pytest.param(st.just(Money("0.00", "CNY")), "CNY", id="zero"),
            pytest.param(st.just(Money("-5.00", "CNY")), "CNY", id="negative"),
            pytest.param(ost.money("CNY", max_minor=0), "CNY", id="signed-range"),
            pytest.param(st.just("9.99"), "CNY", id="not-money"),
        ],
    )
    def test_a_wrong_price_is_refused_naming_it(
        self, prices: st.SearchStrategy[Any], currency: str
    ) -> None:
        orders = ost.channel_orders(currency=currency, unit_prices=prices)
        with pytest.raises(ValidationError) as caught:
            find(orders, lambda _: True)
        assert "unit_prices" == caught.value.field
        assert f"must draw amounts of {currency} above zero" == caught.value.problem
        drawn = caught.value.value
        assert not isinstance(drawn, Money) or (
            drawn.currency.code != currency or drawn.amount <= 0
        )


class _RefundingChannel:
    """A paid order with one channel refund, keyed as `stable` says."""

    channel = "douyin"
    topics = frozenset({"order.refunded"})

    def __init__(self, *, stable: bool) -> None:
        self.stable = stable

    def parse(self, payload: Any, *, topic: str) -> Sequence[ChannelRecord]:  # noqa: ARG002 - decoded JSON
        order = channel_order([("JADE-TEAPOT", 1, "88.00")], paid=True)
        refund_key = "RF-1" if self.stable else f"RF-1:{payload['delivery']}"
        refund = ChannelRefund(
            refund_id="RF-1",
            order_id="DY-1001",
            key=IdempotencyKey("douyin", "refund", "DY-1001", refund_key),
            amount=Money("88.00", "CNY"),
            created_at=order.placed.occurred_at.add(hours=1),
            payment_id="PAY-DY-1001",
        )
        return (attrs.evolve(order, refunds=(refund,)),)


class TestChannelContractKeys:
    """A re-sent payload must give its refunds the keys it gave them first."""

    @staticmethod
    def contract(stable: bool) -> ChannelContract:
        class _Contract(ChannelContract):
            def make_channel(self) -> ChannelPayloads:
                return _RefundingChannel(stable=stable)

            def samples(self) -> list[Sample]:
                return [Sample("refund", "order.refunded", '{"delivery": "d-1"}')]

            def redelivered(self, payload: Any, topic: str) -> Any:  # noqa: ARG002 - decoded JSON
                return {"delivery": "d-2"}

        return _Contract()

    def test_a_refund_keyed_by_its_delivery_fails_the_contract(self) -> None:
        contract = self.contract(stable=False)
        with pytest.raises(AssertionError):
            contract.test_redelivery_gives_the_same_keys(contract.make_channel())

    def test_a_refund_keyed_by_the_channel_passes(self) -> None:
        contract = self.contract(stable=True)
        contract.test_redelivery_gives_the_same_keys(contract.make_channel())
