"""What the strategies and contracts need beyond orderkit: the `testing` extra."""

from __future__ import annotations


def testing_extra_missing(
    module: str, missing: ModuleNotFoundError
) -> ModuleNotFoundError:
    """The error of `module` importing a package the `testing` extra brings.

    Python's own names the package alone ("No module named 'hypothesis'"),
    and leaves the reader to find which extra installs it.
    """
    return ModuleNotFoundError(
        f"{module} needs {missing.name}, which is not installed:"
        " pip install 'orderkit[testing]'",
        name=missing.name,
    )
