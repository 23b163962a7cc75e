"""orderkit.testing.faults: ports that fail on a seeded schedule, from outside."""

from __future__ import annotations

import contextlib
import functools
import math
import random
from typing import assert_type

import pendulum
import pytest
from hypothesis import given
from hypothesis import strategies as st

from orderkit.adapters.memory import MemoryKeyStore
from orderkit.dedupe import IdempotencyKey, Outcome
from orderkit.errors import (
    CallTimedOut,
    IdempotencyConflict,
    TransientError,
    ValidationError,
)
from orderkit.ports import KeyStore
from orderkit.services import Idempotency, RetryPolicy, retry
from orderkit.testing import FrozenClock
from orderkit.testing.faults import Fault, FaultPlan, Injection, faulty


T0 = pendulum.datetime(2026, 11, 11, 1, tz="UTC")
KEY = IdempotencyKey("douyin", "payment", "DY-1001", "evt-7781")
HASH = "6d0eb1fc958f31f103bc750926d365baa98e67921de10991715f2837aa3e4406"
PICKED = Outcome(succeeded=True, body=b'{"order":"DY-1001","status":"picking"}')


class Gateway:
    """A payment provider honouring idempotency keys, as Stripe and Alipay do."""

    currency = "CNY"

    def __init__(self) -> None:
        self.captures: dict[str, int] = {}
        self.runs = 0

    def capture(self, key: str, fen: int) -> str:
        self.runs += 1
        if self.captures.setdefault(key, fen) != fen:
            raise IdempotencyConflict(key)
        return f"cap_{key}"

    def balance(self) -> int:
        return sum(self.captures.values())

    def _audit(self) -> str:
        return "internal"


def seeded(seed: int) -> random.Random:
    return random.Random(seed)  # noqa: S311 - repeatable jitter, not a secret


def faults_of(plan: FaultPlan) -> list[Fault]:
    return [call.fault for call in plan.calls]


class TestPassThrough:
    """An empty plan lets every call through, and records it."""

    def test_results_and_attributes_are_forwarded(self) -> None:
        gateway = Gateway()
        plan = FaultPlan()
        proxy = faulty(gateway, plan)
        assert "cap_DY-1001" == proxy.capture("DY-1001", 19_900)
        assert "CNY" == proxy.currency
        assert 19_900 == proxy.balance()
        assert {"DY-1001": 19_900} == gateway.captures
        expected = (
            Injection(1, "Gateway.capture", Fault.NONE),
            Injection(2, "Gateway.balance", Fault.NONE),
        )
        assert expected == plan.calls
        assert () == plan.injected

    def test_errors_of_the_port_pass_unchanged(self) -> None:
        proxy = faulty(Gateway(), FaultPlan())
        proxy.capture("DY-1001", 19_900)
        with pytest.raises(IdempotencyConflict):
            proxy.capture("DY-1001", 100)

    def test_private_methods_are_not_intercepted(self) -> None:
        plan = FaultPlan(script=[Fault.TRANSIENT])
        proxy = faulty(Gateway(), plan)
        assert "internal" == proxy._audit()
        assert () == plan.calls

    def test_repr_names_the_port(self) -> None:
        assert repr(faulty(Gateway(), FaultPlan())).startswith("faulty(<")


class TestEachFault:
    """Each fault fails the call as promised: before it runs, or after."""

    def test_transient_fails_before_the_call(self) -> None:
        gateway = Gateway()
        proxy = faulty(gateway, FaultPlan(script=[Fault.TRANSIENT], retry_after=2.5))
        with pytest.raises(TransientError) as caught:
            proxy.capture("DY-1001", 19_900)
        assert not isinstance(caught.value, CallTimedOut)
        assert "Gateway.capture" == caught.value.operation
        assert 2.5 == caught.value.retry_after
        assert 0 == gateway.runs
        assert {} == gateway.captures

    def test_timeout_before_fails_before_the_call(self) -> None:
        gateway = Gateway()
        proxy = faulty(gateway, FaultPlan(script=[Fault.TIMEOUT_BEFORE]))
        with pytest.raises(CallTimedOut) as caught:
            proxy.capture("DY-1001", 19_900)
        assert "Gateway.capture" == caught.value.operation
        assert 0 == gateway.runs

    def test_reply_lost_runs_the_call_then_times_out(self) -> None:
        gateway = Gateway()
        proxy = faulty(gateway, FaultPlan(script=["reply_lost"]))
        with pytest.raises(CallTimedOut, match="reply was lost"):
            proxy.capture("DY-1001", 19_900)
        assert 1 == gateway.runs
        assert {"DY-1001": 19_900} == gateway.captures

    def test_reply_lost_on_a_failing_call_raises_its_own_error(self) -> None:
        gateway = Gateway()
        gateway.captures["DY-1001"] = 19_900
        proxy = faulty(gateway, FaultPlan(script=[Fault.REPLY_LOST]))
        with pytest.raises(IdempotencyConflict):
            proxy.capture("DY-1001", 100)

    def test_the_script_runs_in_order_then_calls_pass(self) -> None:
        gateway = Gateway()
        script = [Fault.TRANSIENT, Fault.NONE, Fault.REPLY_LOST]
        plan = FaultPlan(script=script)
        proxy = faulty(gateway, plan, name="alipay")
        outcomes = []
        for order in ("DY-1001", "DY-1002", "DY-1003", "DY-1004"):
            try:
                proxy.capture(order, 100)
                outcomes.append("ok")
            except TransientError as error:
                outcomes.append(type(error).__name__)
        assert ["TransientError", "ok", "CallTimedOut", "ok"] == outcomes
        assert [*script, Fault.NONE] == faults_of(plan)
        assert [1, 3] == [call.number for call in plan.injected]
        assert {"alipay.capture"} == {call.operation for call in plan.calls}
        assert ["DY-1002", "DY-1003", "DY-1004"] == list(gateway.captures)


class TestSeeded:
    """After the script, faults are drawn from the seed: the same seed, the same run."""

    @staticmethod
    def run(plan: FaultPlan, calls: int = 200) -> Gateway:
        gateway = Gateway()
        proxy = faulty(gateway, plan)
        for n in range(calls):
            with contextlib.suppress(TransientError):  # CallTimedOut included
                proxy.capture(f"DY-{n}", 100)
        return gateway

    def test_same_seed_same_faults(self) -> None:
        plans = [
            FaultPlan(seed=11, transient=0.2, timeout_before=0.1, reply_lost=0.1)
            for _ in range(2)
        ]
        gateways = [self.run(plan) for plan in plans]
        assert plans[0].calls == plans[1].calls
        assert gateways[0].captures == gateways[1].captures
        assert {Fault.NONE, *Fault} == set(faults_of(plans[0]))

    def test_another_seed_other_faults(self) -> None:
        first = FaultPlan(seed=1, transient=0.5)
        second = FaultPlan(seed=2, transient=0.5)
        self.run(first)
        self.run(second)
        assert faults_of(first) != faults_of(second)

    def test_a_certain_fault_always_happens(self) -> None:
        plan = FaultPlan(reply_lost=1)
        gateway = self.run(plan, calls=10)
        assert [Fault.REPLY_LOST] * 10 == faults_of(plan)
        assert 10 == len(gateway.captures)

    def test_script_first_then_draws(self) -> None:
        plan = FaultPlan(script=[Fault.NONE, Fault.NONE], timeout_before=1)
        self.run(plan, calls=4)
        expected = [Fault.NONE, Fault.NONE, Fault.TIMEOUT_BEFORE, Fault.TIMEOUT_BEFORE]
        assert expected == faults_of(plan)

    def test_one_plan_drives_several_ports(self) -> None:
        plan = FaultPlan(script=[Fault.NONE, Fault.TRANSIENT])
        shop = faulty(Gateway(), plan, name="shopify")
        pay = faulty(Gateway(), plan, name="alipay")
        shop.capture("DY-1001", 100)
        with pytest.raises(TransientError) as caught:
            pay.capture("DY-1001", 100)
        assert "alipay.capture" == caught.value.operation
        assert ["shopify.capture", "alipay.capture"] == [
            call.operation for call in plan.calls
        ]


class TestMethods:
    """`methods` picks the methods to intercept; others pass unrecorded."""

    def test_only_the_named_methods(self) -> None:
        plan = FaultPlan(transient=1)
        proxy = faulty(Gateway(), plan, methods=["balance"])
        assert "cap_DY-1001" == proxy.capture("DY-1001", 100)
        with pytest.raises(TransientError):
            proxy.balance()
        assert [Injection(1, "Gateway.balance", Fault.TRANSIENT)] == list(plan.calls)

    @pytest.mark.parametrize("method", ["refund", "currency", "_audit", 7])
    def test_unknown_methods_are_refused(self, method: str) -> None:
        with pytest.raises(ValidationError) as caught:
            faulty(Gateway(), FaultPlan(), methods=[method])
        assert "methods" == caught.value.field
        assert method == caught.value.value

    def test_a_bare_string_is_refused(self) -> None:
        with pytest.raises(ValidationError) as caught:
            faulty(Gateway(), FaultPlan(), methods="capture")
        assert "methods" == caught.value.field


class TestTyping:
    """The proxy is typed as the port, and serves where its Protocol is expected."""

    def test_typed_as_the_port(self) -> None:
        proxy = faulty(MemoryKeyStore(), FaultPlan())
        assert_type(proxy, MemoryKeyStore)
        store: KeyStore = proxy
        claim = store.claim("k", HASH, now=T0, lease=pendulum.duration(seconds=30))
        assert "k" == claim.key


class TestPlanValidation:
    """A plan that cannot be followed is refused, naming the field."""

    @pytest.mark.parametrize(
        ("kwargs", "field"),
        [
            ({"transient": 1.5}, "transient"),
            ({"timeout_before": -0.1}, "timeout_before"),
            ({"reply_lost": math.nan}, "reply_lost"),
            ({"reply_lost": "0.1"}, "reply_lost"),
            (
                {"transient": 0.6, "reply_lost": 0.6},
                "transient + timeout_before + reply_lost",
            ),
            ({"seed": True}, "seed"),
            ({"seed": "7"}, "seed"),
            ({"script": [Fault.NONE, "lost"]}, "script[1]"),
            ({"script": [None]}, "script[0]"),
            ({"retry_after": -1}, "retry_after"),
            ({"retry_after": math.inf}, "retry_after"),
        ],
    )
    def test_refused(self, kwargs: dict[str, object], field: str) -> None:
        with pytest.raises(ValidationError) as caught:
            FaultPlan(**kwargs)  # type: ignore[arg-type]
        assert field == caught.value.field

    def test_refuses_a_plan_that_is_not_one(self) -> None:
        with pytest.raises(ValidationError) as caught:
            faulty(Gateway(), None)  # type: ignore[arg-type]
        assert "plan" == caught.value.field

    def test_refuses_an_empty_name(self) -> None:
        with pytest.raises(ValidationError) as caught:
            faulty(Gateway(), FaultPlan(), name=" ")
        assert "name" == caught.value.field


class TestWithRetry:
    """Faults and retry over an idempotent operation: a lost reply applies once."""

    def test_lost_reply_retried_under_the_same_key_captures_once(self) -> None:
        gateway = Gateway()
        plan = FaultPlan(script=[Fault.REPLY_LOST, Fault.TIMEOUT_BEFORE])
        proxy = faulty(gateway, plan)
        clock = FrozenClock(T0)
        capture_id = retry(
            lambda: proxy.capture("DY-1001", 19_900),
            clock=clock,
            rng=seeded(3),
        )
        assert "cap_DY-1001" == capture_id
        assert 2 == gateway.runs  # the lost reply ran, the early timeout did not
        assert 19_900 == gateway.balance()
        assert 2 == len(clock.slept)

    def test_idempotency_service_replays_after_a_lost_completion(self) -> None:
        plan = FaultPlan(script=[Fault.REPLY_LOST])
        store = faulty(MemoryKeyStore(), plan, methods=["complete"])
        clock = FrozenClock(T0)
        once = Idempotency(store, clock)
        runs: list[str] = []

        def pick() -> Outcome:
            runs.append("picked")
            return PICKED

        reply = retry(lambda: once.run(KEY, HASH, pick), clock=clock, rng=seeded(4))
        assert ["picked"] == runs
        assert reply.replayed
        assert PICKED == reply.outcome
        assert (Injection(1, "MemoryKeyStore.complete", Fault.REPLY_LOST),) == (
            plan.injected
        )

    @given(
        seed=st.integers(),
        # At most 0.6 in all: 51 faults in a row (retries run out) ~ 5e-12.
        odds=st.tuples(
            st.floats(min_value=0, max_value=0.2),
            st.floats(min_value=0, max_value=0.2),
            st.floats(min_value=0, max_value=0.2),
        ),
        orders=st.integers(min_value=1, max_value=20),
    )
    def test_every_order_is_captured_once_whatever_the_faults(
        self, seed: int, odds: tuple[float, float, float], orders: int
    ) -> None:
        transient, timeout_before, reply_lost = odds
        gateway = Gateway()
        plan = FaultPlan(
            seed=seed,
            transient=transient,
            timeout_before=timeout_before,
            reply_lost=reply_lost,
        )
        proxy = faulty(gateway, plan)
        clock = FrozenClock(T0)
        policy = RetryPolicy(retries=50)
        for n in range(orders):
            key = f"DY-{1000 + n}"
            assert f"cap_{key}" == retry(
                functools.partial(proxy.capture, key, 100),
                clock=clock,
                policy=policy,
                rng=seeded(seed),
            )
        assert 100 * orders == gateway.balance()
        ran = [c for c in plan.calls if c.fault in {Fault.NONE, Fault.REPLY_LOST}]
        assert len(ran) == gateway.runs


class TestProperties:
    """For any seed and odds: repeatable, and the call runs exactly when it should."""

    @given(
        seed=st.integers(),
        transient=st.floats(min_value=0, max_value=0.5),
        reply_lost=st.floats(min_value=0, max_value=0.5),
        calls=st.integers(min_value=0, max_value=40),
    )
    def test_repeatable_and_runs_only_when_due(
        self, seed: int, transient: float, reply_lost: float, calls: int
    ) -> None:
        records = []
        for _ in range(2):
            gateway = Gateway()
            plan = FaultPlan(seed=seed, transient=transient, reply_lost=reply_lost)
            proxy = faulty(gateway, plan)
            ran = []
            for n in range(calls):
                runs = gateway.runs
                with contextlib.suppress(TransientError):
                    proxy.capture(f"DY-{n}", 100)
                ran.append(gateway.runs - runs)
            expected = [
                1 if c.fault in {Fault.NONE, Fault.REPLY_LOST} else 0
                for c in plan.calls
            ]
            assert expected == ran
            assert list(range(1, calls + 1)) == [c.number for c in plan.calls]
            records.append(plan.calls)
        assert records[0] == records[1]
