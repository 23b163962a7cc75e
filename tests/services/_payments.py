"""A payment provider without `PaymentLookup`: the path of hosts without one."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import final

from orderkit.integrations import ChannelTransaction, SettlementLine
from orderkit.money import Money
from orderkit.ports import Payments


@final
class WithoutLookup:
    """`payments` through the `Payments` methods alone, as a provider with no lookup.

    `FakePayments` answers `find_capture`; a provider that cannot is asked
    to capture again when a saga resumes, and the tests of that path hand
    the services this wrapper.
    """

    def __init__(self, payments: Payments) -> None:
        """Pass `capture`, `refund` and `statement` on to `payments`."""
        self._payments = payments

    def capture(
        self, payment_id: str, amount: Money, *, key: str
    ) -> ChannelTransaction:
        """Capture through the wrapped provider."""
        return self._payments.capture(payment_id, amount, key=key)

    def refund(
        self, payment_id: str, amount: Money, *, key: str, reason: str
    ) -> ChannelTransaction:
        """Refund through the wrapped provider."""
        return self._payments.refund(payment_id, amount, key=key, reason=reason)

    def statement(self, day: dt.date) -> Sequence[SettlementLine]:
        """The wrapped provider's statement."""
        return self._payments.statement(day)
