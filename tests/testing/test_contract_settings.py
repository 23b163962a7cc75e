"""The contract suites keep the host's hypothesis profile, but never fail too slow."""

from __future__ import annotations

import textwrap

import pytest


pytest_plugins = ["pytester"]


def test_slow_draws_on_a_busy_machine_do_not_fail_a_correct_store(
    pytester: pytest.Pytester,
) -> None:
    # A host's profile: hypothesis' defaults (health checks on, a deadline),
    # fewer examples. The machine is made busy where hypothesis times its
    # draws: the state machine's clock runs fast, and drawn orders take a
    # while, so that each test's draws pass the one second hypothesis allows.
    pytester.makeconftest(
        textwrap.dedent(
            """
            import itertools
            import time

            import hypothesis.stateful
            from hypothesis import settings

            from orderkit.testing import _order_store_contract
            from orderkit.testing import strategies as ost

            settings.register_profile("host", max_examples=10, stateful_step_count=10)
            settings.load_profile("host")

            ticks = itertools.count()
            hypothesis.stateful.perf_counter = lambda: 0.1 * next(ticks)


            def slowly(order):
                time.sleep(0.15)
                return order


            _order_store_contract.orders = lambda: ost.orders().map(slowly)
            """
        )
    )
    pytester.makepyfile(
        test_host=textwrap.dedent(
            """
            from orderkit.adapters.memory import MemoryLedgerStore, MemoryOrderStore
            from orderkit.testing.contracts import (
                LedgerStoreContract,
                OrderStoreContract,
            )


            class TestLedger(LedgerStoreContract):
                def make_store(self):
                    return MemoryLedgerStore()


            class TestOrders(OrderStoreContract):
                def make_store(self):
                    return MemoryOrderStore()
            """
        )
    )
    # A process of its own: the conftest changes hypothesis' default profile.
    result = pytester.runpytest_subprocess(
        "-p",
        "no:cacheprovider",
        "-k",
        "plain_dict_model or any_order_reads_back_equal",
    )
    result.assert_outcomes(passed=2)


def test_the_hosts_deadline_never_fails_a_correct_store(
    pytester: pytest.Pytester,
) -> None:
    # A deadline every run of the state machine exceeds stands in for a
    # loaded machine under hypothesis' default one (200 ms for a whole run).
    pytester.makeconftest(
        textwrap.dedent(
            """
            from hypothesis import settings

            settings.register_profile(
                "host", max_examples=5, stateful_step_count=10, deadline=1
            )
            settings.load_profile("host")
            """
        )
    )
    pytester.makepyfile(
        test_host=textwrap.dedent(
            """
            from orderkit.adapters.memory import MemoryLedgerStore
            from orderkit.testing.contracts import LedgerStoreContract


            class TestLedger(LedgerStoreContract):
                def make_store(self):
                    return MemoryLedgerStore()
            """
        )
    )
    result = pytester.runpytest_subprocess(
        "-p", "no:cacheprovider", "-k", "plain_dict_model"
    )
    result.assert_outcomes(passed=1)
