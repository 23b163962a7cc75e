"""The pytest plugin: `orderkit_*` fixtures in any suite, orderkit loaded lazily."""

from __future__ import annotations

import importlib.metadata
import textwrap

import pytest


pytest_plugins = ["pytester"]


def _write(pytester: pytest.Pytester, source: str) -> None:
    pytester.makepyfile(test_host=textwrap.dedent(source))


class TestRegistration:
    """Installing orderkit installs the plugin."""

    def test_the_entry_point_names_the_module(self) -> None:
        points = importlib.metadata.entry_points(group="pytest11")
        (point,) = [p for p in points if p.name == "orderkit"]
        assert "pytest_orderkit" == point.value

    def test_loading_it_imports_nothing_of_orderkit(
        self, pytester: pytest.Pytester
    ) -> None:
        _write(
            pytester,
            """
            import sys

            def test_orderkit_is_not_imported(request):
                assert "pytest_orderkit" in sys.modules
                assert request.config.pluginmanager.has_plugin("orderkit")
                loaded = sorted(m for m in sys.modules if m.split(".")[0] == "orderkit")
                assert [] == loaded
            """,
        )
        # A process of its own: this one imported orderkit long ago.
        result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
        result.assert_outcomes(passed=1)

    def test_a_failed_contract_assert_shows_its_values(
        self, pytester: pytest.Pytester
    ) -> None:
        # The contract suites run from the installed package: without the
        # plugin's rewrite, a failure would say `AssertionError` and no more.
        _write(
            pytester,
            """
            from orderkit.adapters.memory import MemoryLedgerStore
            from orderkit.testing.contracts import LedgerStoreContract

            class Forgetful(MemoryLedgerStore):
                def movements(self, *args, **kwargs):
                    return super().movements(*args, **kwargs)[:1]

            class TestForgetful(LedgerStoreContract):
                def make_store(self):
                    return Forgetful()
            """,
        )
        result = pytester.runpytest_subprocess(
            "-p",
            "no:cacheprovider",
            "-k",
            "test_receive_raises_on_hand_and_creates_the_balance",
        )
        result.assert_outcomes(failed=1)
        result.stdout.fnmatch_lines(["*Right contains one more item*"])

    def test_the_fixtures_are_listed(self, pytester: pytest.Pytester) -> None:
        result = pytester.runpytest("--fixtures", "-p", "no:cacheprovider")
        listed = result.stdout.str()
        for name in ("orderkit_clock", "orderkit_ledger", "orderkit_desk"):
            assert name in listed


class TestFixtures:
    """Each fixture is what it says, fresh for every test."""

    def test_clock_stores_and_ledger(self, pytester: pytest.Pytester) -> None:
        _write(
            pytester,
            """
            from orderkit.adapters.memory import (
                MemoryLedgerStore, MemoryOrderStore, MemoryUnitOfWork,
            )
            from orderkit.testing import FrozenClock

            def test_clock(orderkit_clock):
                assert isinstance(orderkit_clock, FrozenClock)
                orderkit_clock.advance(days=1)

            def test_a_fresh_clock_each_time(orderkit_clock):
                assert "2026-01-01T00:00:00+00:00" == orderkit_clock.now().isoformat()

            def test_stores(orderkit_ledger_store, orderkit_order_store, orderkit_uow):
                assert isinstance(orderkit_ledger_store, MemoryLedgerStore)
                assert isinstance(orderkit_order_store, MemoryOrderStore)
                assert isinstance(orderkit_uow, MemoryUnitOfWork)

            def test_ledger_over_the_store_and_clock(
                orderkit_ledger, orderkit_ledger_store, orderkit_clock
            ):
                orderkit_ledger.receive("TEA", "W1", 5)
                (hold,) = orderkit_ledger.reserve("cart-1", [("TEA", "W1", 2)]).holds
                assert orderkit_clock.now().add(minutes=15) == hold.expires_at
                (balance,) = orderkit_ledger_store.balances(orderkit_clock.now())
                assert (5, 2) == (balance.on_hand, balance.reserved)
            """,
        )
        pytester.runpytest("-p", "no:cacheprovider").assert_outcomes(passed=4)

    def test_fakes(self, pytester: pytest.Pytester) -> None:
        _write(
            pytester,
            """
            from orderkit.money import Money

            def test_payments_carrier_and_more(
                orderkit_payments, orderkit_carrier, orderkit_warehouse,
                orderkit_channel, orderkit_notifier, orderkit_clock,
            ):
                done = orderkit_payments.capture(
                    "PAY-1", Money("10.00", "CNY"), key="k1"
                )
                assert orderkit_clock.now() == done.created_at
                assert [] == list(orderkit_carrier.labels)
                assert {} == orderkit_warehouse.tasks
                assert "fakeshop" == orderkit_channel.channel
                assert () == orderkit_notifier.sent

            def test_every_store(
                orderkit_audit_log, orderkit_outbox, orderkit_inbox,
                orderkit_key_store, orderkit_limit_store, orderkit_detector_store,
                orderkit_cursor_store,
            ):
                assert orderkit_cursor_store.get("feed") is None
                assert [] == list(orderkit_outbox.unsent())
            """,
        )
        pytester.runpytest("-p", "no:cacheprovider").assert_outcomes(passed=2)

    def test_desk_with_stock_and_an_overridden_policy(
        self, pytester: pytest.Pytester
    ) -> None:
        pytester.makeconftest(
            """
            import pytest
            from orderkit.services import DeskPolicy

            @pytest.fixture
            def orderkit_desk_policy():
                return DeskPolicy(locations=["HZ-1", "SH-2"])
            """
        )
        _write(
            pytester,
            """
            from orderkit.services import Accepted, Ledger, Refused
            from orderkit.testing import channel_order

            def teapots(order_id, quantity):
                return channel_order(
                    [("JADE-TEAPOT", quantity, "88.00")], order_id=order_id
                )

            def test_stock_lands_where_the_desk_ships_from(
                orderkit_desk, orderkit_stock, orderkit_uow, orderkit_clock
            ):
                orderkit_stock("JADE-TEAPOT", 3)
                orderkit_stock("JADE-TEAPOT", 1, location="SH-2")
                first = orderkit_desk.accept(teapots("DY-1", 3))
                assert isinstance(first, Accepted)
                second = orderkit_desk.accept(teapots("DY-2", 2))
                assert isinstance(second, Refused)
                with orderkit_uow as uow:
                    found = uow.orders.get("douyin", "DY-1")
                    held = Ledger(uow.ledger, orderkit_clock).balance(
                        "JADE-TEAPOT", "HZ-1"
                    )
                assert found == first.order
                assert 3 == held.reserved
            """,
        )
        pytester.runpytest("-p", "no:cacheprovider").assert_outcomes(passed=1)


class TestOneWorld:
    """The desk, `orderkit_ledger` and the store fixtures share one world."""

    def test_stock_received_through_orderkit_ledger_is_sold_at_the_desk(
        self, pytester: pytest.Pytester
    ) -> None:
        _write(
            pytester,
            """
            from orderkit.services import Accepted
            from orderkit.testing import channel_order

            def test_stocked_then_sold(orderkit_ledger, orderkit_desk):
                orderkit_ledger.receive("JADE-TEAPOT", "WH-1", 10)
                order = channel_order([("JADE-TEAPOT", 1, "88.00")])
                assert isinstance(orderkit_desk.accept(order), Accepted)
                balance = orderkit_ledger.balance("JADE-TEAPOT", "WH-1")
                assert (10, 1) == (balance.on_hand, balance.reserved)
            """,
        )
        pytester.runpytest("-p", "no:cacheprovider").assert_outcomes(passed=1)

    def test_the_store_fixtures_see_what_the_desk_wrote(
        self, pytester: pytest.Pytester
    ) -> None:
        _write(
            pytester,
            """
            from orderkit.services import Accepted, Refused
            from orderkit.testing import channel_order

            def teapot(order_id, *, paid):
                return channel_order(
                    [("JADE-TEAPOT", 1, "88.00")], order_id=order_id, paid=paid
                )

            def test_an_accepted_order_is_in_every_store(
                orderkit_desk, orderkit_stock, orderkit_outbox,
                orderkit_order_store, orderkit_audit_log, orderkit_ledger_store,
                orderkit_clock,
            ):
                orderkit_stock("JADE-TEAPOT", 1)
                outcome = orderkit_desk.accept(teapot("DY-1", paid=True))
                assert isinstance(outcome, Accepted)
                assert orderkit_outbox.unsent()
                assert outcome.order == orderkit_order_store.get("douyin", "DY-1")
                assert orderkit_audit_log.records("douyin", "DY-1")
                (balance,) = orderkit_ledger_store.balances(orderkit_clock.now())
                assert (1, 1) == (balance.on_hand, balance.allocated)

            def test_a_refused_order_sends_nothing(
                orderkit_desk, orderkit_outbox, orderkit_stock
            ):
                refused = orderkit_desk.accept(teapot("DY-2", paid=False))
                assert isinstance(refused, Refused)
                assert [] == list(orderkit_outbox.unsent())
                # The desk's own outbox: an order it takes in does show.
                orderkit_stock("JADE-TEAPOT", 1)
                accepted = orderkit_desk.accept(teapot("DY-3", paid=False))
                assert isinstance(accepted, Accepted)
                assert [] != list(orderkit_outbox.unsent())
            """,
        )
        pytester.runpytest("-p", "no:cacheprovider").assert_outcomes(passed=2)

    def test_a_store_fixture_joins_a_unit_of_work_open_in_the_test(
        self, pytester: pytest.Pytester
    ) -> None:
        _write(
            pytester,
            """
            from orderkit.adapters.memory import MemoryCursorStore

            def test_rolled_back_with_the_unit(orderkit_uow, orderkit_cursor_store):
                with orderkit_uow as uow:
                    assert orderkit_cursor_store.advance("feed", None, "c1")
                    assert "c1" == uow.cursors.get("feed")
                    uow.rollback()
                assert orderkit_cursor_store.get("feed") is None

            def test_committed_with_the_unit(orderkit_uow, orderkit_cursor_store):
                with orderkit_uow as uow:
                    orderkit_cursor_store.advance("feed", None, "c1")
                    uow.commit()
                assert "c1" == orderkit_cursor_store.get("feed")

            def test_alone_each_call_is_a_unit(orderkit_uow, orderkit_cursor_store):
                assert isinstance(orderkit_cursor_store, MemoryCursorStore)
                assert orderkit_cursor_store.advance("feed", None, "c1")
                with orderkit_uow as uow:
                    assert "c1" == uow.cursors.get("feed")
            """,
        )
        pytester.runpytest("-p", "no:cacheprovider").assert_outcomes(passed=3)
