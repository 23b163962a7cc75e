"""Pricing never takes its arithmetic from the host's default decimal context."""

from __future__ import annotations

import subprocess
import sys


# A host may set `decimal.DefaultContext` before orderkit loads; every context
# orderkit builds at import must be its own all the same.
SCRIPT = r"""
import decimal
decimal.DefaultContext.traps[decimal.Inexact] = True
decimal.DefaultContext.Emax = 10
from orderkit.money import Money
from orderkit.orders import OrderLine
from orderkit.pricing import PercentOff, PriceFloor, PricingPolicy, Quote
from orderkit.pricing import price, validate
line = OrderLine("L1", "A", 3, Money("10.01", "CNY"), "a")
quote = Quote("o", "c", [line], [PercentOff("P", "33.3")])
totals = price(quote)
result = validate(quote, PricingPolicy(floors=[PriceFloor("A", Money("6.00", "CNY"))]))
print(totals.total, totals.lines[0].net_unit_price, result.ok)
"""


def test_a_host_default_context_set_before_import_changes_no_price() -> None:
    done = subprocess.run(  # noqa: S603 - this interpreter, our own script
        [sys.executable, "-c", SCRIPT], capture_output=True, text=True, check=False
    )

    assert done.returncode == 0, done.stderr[-800:]
    assert done.stdout.split() == ["20.03", "CNY", "6.67", "CNY", "True"]
