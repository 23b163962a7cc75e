"""What an installed orderkit looks like to the tools that use it."""

import importlib.metadata
import importlib.resources
import re

import orderkit


CORE_DEPENDENCIES = {"attrs", "cattrs", "pendulum", "phonenumbers"}


def _normalise(name: str) -> str:
    # PEP 503: names compare case-insensitively with runs of -_. as one "-".
    return re.sub(r"[-_.]+", "-", name).lower()


def core_requirements(requires: list[str]) -> set[str]:
    """Project names of the requirements that no extra switches on."""
    names = set()
    for requirement in requires:
        _, _, marker = requirement.partition(";")
        if re.search(r"\bextra\s*==", marker):
            continue
        match = re.match(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)", requirement)
        assert match is not None, requirement
        names.add(_normalise(match.group(1)))
    return names


class TestMetadata:
    """The installed distribution agrees with the package."""

    def test_version_matches(self) -> None:
        assert importlib.metadata.version("orderkit") == orderkit.__version__

    def test_core_dependencies_are_exactly_these(self) -> None:
        requires = importlib.metadata.requires("orderkit") or []
        assert core_requirements(requires) == CORE_DEPENDENCIES

    def test_requirement_parsing(self) -> None:
        requires = [
            "attrs>=23.2",
            "Cattrs >= 23.2",
            'typing_extensions; python_version < "3.12"',
            'psycopg[binary]>=3.1; extra == "postgres"',
            "hypothesis>=6.100; extra=='testing'",
        ]
        assert core_requirements(requires) == {"attrs", "cattrs", "typing-extensions"}


class TestTyped:
    """orderkit ships its inline types (PEP 561)."""

    def test_py_typed_is_in_the_package(self) -> None:
        assert importlib.resources.files("orderkit").joinpath("py.typed").is_file()

    def test_py_typed_is_in_the_distribution(self) -> None:
        files = importlib.metadata.files("orderkit") or []
        shipped = [f for f in files if f.parts[0] == "orderkit"]
        # An editable install lists no package files; the test above covers it.
        if shipped:
            assert any(f.name == "py.typed" for f in shipped)
