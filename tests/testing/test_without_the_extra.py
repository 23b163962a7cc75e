"""Without the `testing` extra, the kit's modules that need it say which extra."""

from __future__ import annotations

import subprocess
import sys

import pytest


@pytest.mark.parametrize(
    ("module", "package"),
    [
        ("orderkit.testing.strategies", "hypothesis"),
        ("orderkit.testing.contracts", "hypothesis"),
        ("orderkit.testing.contracts", "pytest"),
    ],
    ids=["strategies-hypothesis", "contracts-hypothesis", "contracts-pytest"],
)
def test_a_missing_package_is_named_with_the_extra(module: str, package: str) -> None:
    # A fresh interpreter where the package cannot be imported, as when it
    # was never installed.
    code = (
        f"import sys; sys.modules[{package!r}] = None\n"
        "try:\n"
        f"    import {module}\n"
        "except ModuleNotFoundError as error:\n"
        "    print(error.name); print(error)\n"
    )
    done = subprocess.run(  # noqa: S603 - our own interpreter and code
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    name, message = done.stdout.splitlines()
    assert name == package
    assert message == (
        f"{module} needs {package}, which is not installed:"
        " pip install 'orderkit[testing]'"
    )


def test_the_rest_of_the_kit_needs_neither() -> None:
    code = (
        "import sys; sys.modules['hypothesis'] = None; sys.modules['pytest'] = None\n"
        "from orderkit.testing import FrozenClock, check_ledger_laws\n"
        "from orderkit.testing.fakes import FakePayments\n"
        "print('ok')\n"
    )
    done = subprocess.run(  # noqa: S603 - our own interpreter and code
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert done.stdout == "ok\n"
