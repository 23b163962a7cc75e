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
