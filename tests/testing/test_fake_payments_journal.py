"""`FakePayments` with a journal: one provider for every process, after any crash."""

from __future__ import annotations

import multiprocessing
from pathlib import Path

import pendulum
import pytest

from orderkit.errors import (
    ConfigurationError,
    IdempotencyConflict,
    RefundExceedsCapture,
)
from orderkit.integrations import TransactionKind
from orderkit.money import Money
from orderkit.testing import FrozenClock
from orderkit.testing.fakes import FakePayments


T0 = pendulum.datetime(2026, 11, 11, 2, 0)


def cny(amount: str) -> Money:
    return Money(amount, "CNY")


def _capture_all(journal: str, prefix: str, keys: int) -> None:
    """One worker process: capture every order once, as a racing retry would."""
    payments = FakePayments(FrozenClock(T0), journal=journal, id_prefix=prefix)
    for n in range(keys):
        payments.capture(f"pay-{n}", cny("10.00"), key=f"capture:{n}")


def test_two_providers_on_one_journal_are_one_provider(tmp_path: Path) -> None:
    journal = tmp_path / "payments.jsonl"
    first = FakePayments(FrozenClock(T0), journal=journal)
    second = FakePayments(FrozenClock(T0), journal=journal)

    taken = first.capture("pay-1", cny("199.00"), key="capture:1")
    again = second.capture("pay-1", cny("199.00"), key="capture:1")

    assert again == taken
    assert second.captured("pay-1") == cny("199.00")
    assert second.effects == {"capture:1": 1}
    with pytest.raises(IdempotencyConflict):
        second.capture("pay-1", cny("99.00"), key="capture:1")
    refund = second.refund("pay-1", cny("59.00"), key="refund:1", reason="少发")
    assert refund.transaction_id == "ref-000002"
    with pytest.raises(RefundExceedsCapture):
        first.refund("pay-1", cny("141.00"), key="refund:2", reason="twice")


def test_a_provider_after_a_crash_has_every_transaction(tmp_path: Path) -> None:
    journal = tmp_path / "payments.jsonl"
    lost = FakePayments(FrozenClock(T0), journal=journal)
    lost.capture("pay-1", cny("199.00"), key="capture:1")
    lost.refund("pay-1", cny("59.00"), key="refund:1", reason="少发")
    lost.capture("pay-2", cny("1.00"), key="capture:2")
    del lost  # the worker died: only the file is left

    recovered = FakePayments(FrozenClock(T0), journal=journal)

    assert recovered.captured("pay-1") == cny("140.00")
    assert [t.kind for t in recovered.transactions] == [
        TransactionKind.CAPTURE,
        TransactionKind.REFUND,
        TransactionKind.CAPTURE,
    ]
    statement = recovered.statement(T0.date())
    assert [(line.transaction_id, line.amount) for line in statement] == [
        ("pay-1", cny("199.00")),
        ("ref-000002", cny("59.00")),
        ("pay-2", cny("1.00")),
    ]


def test_processes_racing_on_one_journal_move_money_once(tmp_path: Path) -> None:
    journal = str(tmp_path / "payments.jsonl")
    context = multiprocessing.get_context("spawn")
    workers = [
        context.Process(target=_capture_all, args=(journal, f"w{n}-", 40))
        for n in range(2)
    ]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(60)
    assert [worker.exitcode for worker in workers] == [0, 0]

    payments = FakePayments(FrozenClock(T0), journal=journal)

    assert len(payments.transactions) == 40
    assert set(payments.effects.values()) == {1}
    ids = [t.transaction_id for t in payments.transactions]
    assert len(set(ids)) == 40


def test_a_journal_that_cannot_be_used_is_named(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError) as caught:
        FakePayments(FrozenClock(T0), journal=tmp_path)
    assert caught.value.field == "journal"
    assert caught.value.value == str(tmp_path)


def test_a_line_cut_off_by_a_dying_writer_is_no_transaction(tmp_path: Path) -> None:
    journal = tmp_path / "payments.jsonl"
    FakePayments(FrozenClock(T0), journal=journal).capture(
        "pay-1", cny("10.00"), key="capture:1"
    )
    whole = journal.read_bytes()
    journal.write_bytes(whole + whole[: len(whole) // 2])  # died mid-write

    after = FakePayments(FrozenClock(T0), journal=journal)
    after.capture("pay-2", cny("20.00"), key="capture:2")

    again = FakePayments(FrozenClock(T0), journal=journal)
    assert [t.order_id for t in again.transactions] == ["pay-1", "pay-2"]
    assert journal.read_bytes().count(b"\n") == 2


def test_a_line_that_is_no_transaction_is_named(tmp_path: Path) -> None:
    journal = tmp_path / "payments.jsonl"
    journal.write_bytes(b'{"key": "capture:1"}\n')

    with pytest.raises(ConfigurationError, match="no transaction") as caught:
        FakePayments(FrozenClock(T0), journal=journal)
    assert caught.value.field == "journal"
