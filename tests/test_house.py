"""House rules that keep the package in order as it grows.

Modules are discovered by walking the package, so every rule covers a new
module the moment it is added:

- every public module's ``__all__`` is sorted (plainly, by ``sorted()``), free
  of duplicates, and every name in it resolves;
- every public name has a docstring, and so does every public method and
  property a public class defines;
- the import rules of the design (shared/design.md, section 1) hold, checked
  on the source with ``ast`` so that no module is imported to be checked;
- CI runs the test command the README tells contributors to run.
"""

import ast
import functools
import importlib
import importlib.metadata
import inspect
import itertools
import pkgutil
import sys
import types
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

import orderkit


ROOT = "orderkit"
PACKAGE_DIR = Path(orderkit.__file__).resolve().parent
REPO_DIR = Path(__file__).resolve().parents[1]


# --------------------------------------------------------------------------
# Discovery


def _is_public(module_name: str) -> bool:
    return not any(part.startswith("_") for part in module_name.split("."))


def _walk_error(name: str) -> None:
    # pkgutil swallows a subpackage that fails to import; a house rule must not.
    raise ImportError(f"cannot import {name} while walking {ROOT}")


def _public_module_names() -> list[str]:
    walked = pkgutil.walk_packages(orderkit.__path__, f"{ROOT}.", onerror=_walk_error)
    return sorted([ROOT, *(info.name for info in walked if _is_public(info.name))])


PUBLIC_MODULES = _public_module_names()


def _module_all(module_name: str) -> list[str] | None:
    module = importlib.import_module(module_name)
    exported = getattr(module, "__all__", None)
    return None if exported is None else list(exported)


MODULES_WITH_ALL = [name for name in PUBLIC_MODULES if _module_all(name) is not None]


# --------------------------------------------------------------------------
# __all__


@pytest.mark.parametrize("module_name", MODULES_WITH_ALL)
class TestDunderAll:
    """Each public module's __all__ is sorted, unique and resolvable."""

    def test_sorted(self, module_name: str) -> None:
        exported = _module_all(module_name) or []
        # Plain code-point order (pyproject ignores ruff's RUF022 isort order).
        assert exported == sorted(exported)

    def test_no_duplicates(self, module_name: str) -> None:
        exported = _module_all(module_name) or []
        duplicates = sorted({n for n in exported if exported.count(n) > 1})
        assert not duplicates

    def test_every_name_resolves(self, module_name: str) -> None:
        module = importlib.import_module(module_name)
        missing = [n for n in _module_all(module_name) or [] if not hasattr(module, n)]
        assert not missing


class TestDiscovery:
    """The walk finds the package's modules, so the rules have work to do."""

    def test_top_level_defines_all(self) -> None:
        assert ROOT in MODULES_WITH_ALL

    def test_private_modules_are_left_out(self) -> None:
        assert all(_is_public(name) for name in PUBLIC_MODULES)


# --------------------------------------------------------------------------
# Docstrings


def _has_text(doc: object) -> bool:
    return isinstance(doc, str) and bool(doc.strip())


def _attribute_docstrings(tree: ast.Module) -> dict[str, str]:
    """Module-level ``NAME = value`` followed by a string literal (PEP 257)."""
    found: dict[str, str] = {}
    for node, after in itertools.pairwise(tree.body):
        if not (
            isinstance(after, ast.Expr)
            and isinstance(after.value, ast.Constant)
            and isinstance(after.value.value, str)
        ):
            continue
        targets: list[ast.expr] = []
        if isinstance(node, ast.Assign):
            targets = node.targets
        elif isinstance(node, ast.AnnAssign):
            targets = [node.target]
        for target in targets:
            if isinstance(target, ast.Name):
                found[target.id] = after.value.value
    return found


def _imported_from(tree: ast.Module, package: str, name: str) -> tuple[str, str] | None:
    """Where a module-level ``from X import a as name`` takes ``name`` from."""
    for node in tree.body:
        if isinstance(node, ast.ImportFrom):
            for alias in node.names:
                if (alias.asname or alias.name) == name:
                    return _resolve_from(node, package), alias.name
    return None


def _data_docstring(module_name: str, name: str) -> str | None:
    """The attribute docstring of a data name, following re-exports."""
    for _ in range(10):
        module = importlib.import_module(module_name)
        source = inspect.getsource(module)
        tree = ast.parse(source)
        doc = _attribute_docstrings(tree).get(name)
        if doc is not None:
            return doc
        is_package = hasattr(module, "__path__")
        package = module_name if is_package else module_name.rpartition(".")[0]
        origin = _imported_from(tree, package, name)
        if origin is None:
            return None
        module_name, name = origin
    return None


def _member_function(value: object) -> types.FunctionType | None:
    if isinstance(value, (staticmethod, classmethod)):
        value = value.__func__
    if isinstance(value, property):
        value = value.fget
    if isinstance(value, functools.cached_property):
        value = value.func
    return value if isinstance(value, types.FunctionType) else None


def _undocumented_members(cls: type) -> list[str]:
    """Public methods and properties defined on ``cls`` itself without a doc."""
    missing = []
    for attr, value in vars(cls).items():
        if attr.startswith("_"):
            continue
        func = _member_function(value)
        if func is None:
            continue
        if func.__code__.co_filename.startswith("<attrs generated"):
            continue
        if getattr(func, "__override__", False):
            # ruff's D102 exempts @override too: the base documents it.
            continue
        if not _has_text(func.__doc__):
            missing.append(f"{cls.__qualname__}.{attr}")
    return missing


def undocumented(module_name: str) -> list[str]:
    """Names of ``module_name.__all__`` (and their members) lacking a docstring."""
    module = importlib.import_module(module_name)
    missing = []
    for name in _module_all(module_name) or []:
        if name.startswith("__") and name.endswith("__"):
            continue
        obj = getattr(module, name)
        if inspect.isclass(obj):
            if not _has_text(vars(obj).get("__doc__")):
                missing.append(name)
            missing.extend(_undocumented_members(obj))
        elif inspect.isroutine(obj) or inspect.ismodule(obj):
            if not _has_text(obj.__doc__):
                missing.append(name)
        elif not _has_text(_data_docstring(module_name, name)):
            missing.append(name)
    return missing


class TestDocstrings:
    """Every public module, name, method and property says what it is."""

    @pytest.mark.parametrize("module_name", PUBLIC_MODULES)
    def test_public_module(self, module_name: str) -> None:
        assert _has_text(importlib.import_module(module_name).__doc__)

    @pytest.mark.parametrize("module_name", MODULES_WITH_ALL)
    def test_public_names(self, module_name: str) -> None:
        assert not undocumented(module_name)

    def test_checker_sees_a_missing_method_docstring(self) -> None:
        class Documented:
            """A class with one undocumented method."""

            def spoken(self) -> None:
                """Say so."""

            def silent(self) -> None:
                pass

            @property
            def hushed(self) -> int:
                return 1

            @staticmethod
            def _private() -> None:
                pass

        assert _undocumented_members(Documented) == [
            f"{Documented.__qualname__}.silent",
            f"{Documented.__qualname__}.hushed",
        ]

    def test_checker_reads_attribute_docstrings(self) -> None:
        tree = ast.parse('LIMIT = 3\n"""At most three."""\nOTHER: int = 4\n')
        assert _attribute_docstrings(tree) == {"LIMIT": "At most three."}


class TestVersion:
    """The package and its metadata tell the same version."""

    def test_version_matches_metadata(self) -> None:
        assert orderkit.__version__ == importlib.metadata.version("orderkit")


# --------------------------------------------------------------------------
# Import rules (shared/design.md, section 1)

CORE_PACKAGES = frozenset(
    {
        "orders",
        "inventory",
        "pricing",
        "dedupe",
        "integrations",
        "calendar",
        "money",
        "errors",
    }
)
CORE_THIRD_PARTY = frozenset(
    {"attrs", "attr", "pendulum", "phonenumbers", "typing_extensions"}
)
# Never in the core, sqlite3 included although it is in the standard library.
CORE_FORBIDDEN = frozenset({"sqlite3", "cattrs", "psycopg"})
# Which layers of orderkit a layer may import; layers not listed may import any.
ALLOWED_LAYERS: dict[str, frozenset[str]] = {
    "core": frozenset({"core"}),
    "ports": frozenset({"core", "ports"}),
    "services": frozenset({"core", "ports", "services"}),
    # Adapters that store documents write them with orderkit.serialization.
    "adapters": frozenset({"core", "ports", "adapters", "serialization"}),
}
# A driver only inside the adapter that needs it.
DRIVERS = {"sqlite3": f"{ROOT}.adapters.sqlite", "psycopg": f"{ROOT}.adapters.postgres"}
# Test libraries, imported at module level only by the testing kit (psycopg,
# the other heavy optional import, is held tighter by DRIVERS above).
EAGER_ONLY_IN = {
    "hypothesis": (f"{ROOT}.testing",),
    "pytest": (f"{ROOT}.testing",),
    "_pytest": (f"{ROOT}.testing",),
}
NAMED_LAYERS = frozenset({"ports", "services", "adapters", "testing", "serialization"})


def layer_of(module: str) -> str:
    """The architectural layer of an orderkit module name."""
    parts = module.split(".")
    if len(parts) == 1:
        return "root"
    top = parts[1]
    if top in CORE_PACKAGES:
        return "core"
    if top in {"_cli", "cli", "__main__"}:
        return "cli"
    if top.startswith("_"):
        return "core"
    if top in NAMED_LAYERS:
        return top
    return "unclassified"


def _within(module: str, prefix: str) -> bool:
    return module == prefix or module.startswith(f"{prefix}.")


@dataclass(frozen=True)
class Imported:
    """One import statement's target, as the checker sees it."""

    module: str
    line: int
    eager: bool


def _resolve_from(node: ast.ImportFrom, package: str) -> str:
    if node.level == 0:
        return node.module or ""
    parts = package.split(".")
    if node.level > len(parts):
        raise ImportError(f"relative import beyond {ROOT} in {package}")
    base = ".".join(parts[: len(parts) - node.level + 1])
    return f"{base}.{node.module}" if node.module else base


def _is_type_checking(test: ast.expr) -> bool:
    if isinstance(test, ast.Name):
        return test.id == "TYPE_CHECKING"
    return isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"


class _ImportCollector(ast.NodeVisitor):
    def __init__(self, package: str, known_modules: frozenset[str]) -> None:
        self.package = package
        self.known_modules = known_modules
        self.found: list[Imported] = []
        self._lazy_depth = 0

    def _add(self, module: str, node: ast.stmt) -> None:
        self.found.append(Imported(module, node.lineno, eager=self._lazy_depth == 0))

    def _visit_lazy(self, node: ast.AST) -> None:
        self._lazy_depth += 1
        self.generic_visit(node)
        self._lazy_depth -= 1

    def visit_FunctionDef(self, node: ast.FunctionDef) -> None:
        self._visit_lazy(node)

    def visit_AsyncFunctionDef(self, node: ast.AsyncFunctionDef) -> None:
        self._visit_lazy(node)

    def visit_Lambda(self, node: ast.Lambda) -> None:
        self._visit_lazy(node)

    def visit_If(self, node: ast.If) -> None:
        if not _is_type_checking(node.test):
            self.generic_visit(node)
            return
        # Only for the type checker: a dependency, but not one paid at import.
        self._lazy_depth += 1
        for child in node.body:
            self.visit(child)
        self._lazy_depth -= 1
        for child in node.orelse:
            self.visit(child)

    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            self._add(alias.name, node)

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        base = _resolve_from(node, self.package)
        for alias in node.names:
            # `from orderkit import money` imports the module orderkit.money.
            candidate = f"{base}.{alias.name}"
            self._add(candidate if candidate in self.known_modules else base, node)


def imports_in(
    source: str, module: str, *, is_package: bool, known_modules: frozenset[str]
) -> list[Imported]:
    """Every import in ``source``, with relative imports made absolute."""
    package = module if is_package else module.rpartition(".")[0]
    collector = _ImportCollector(package, known_modules)
    collector.visit(ast.parse(source))
    return collector.found


def _internal_violation(module: str, target: str) -> str | None:
    layer = layer_of(module)
    target_layer = layer_of(target)
    if layer == "cli":
        own = _within(target, f"{ROOT}.cli")
        private = not _is_public(target) and target != f"{ROOT}._cli" and not own
        return "the CLI imports only public API" if private else None
    allowed = ALLOWED_LAYERS.get(layer)
    if allowed is not None and target_layer not in allowed:
        return f"{layer} may import only {', '.join(sorted(allowed))} from {ROOT}"
    return None


def _in_driver_home(module: str, home: str) -> bool:
    """The adapter module, or a private module of its own beside it (`_sqlite_*`)."""
    package, _, name = home.rpartition(".")
    return _within(module, home) or module.startswith(f"{package}._{name}_")


def _external_violation(module: str, target: str, *, eager: bool) -> str | None:
    top = target.partition(".")[0]
    driver_home = DRIVERS.get(top)
    if driver_home is not None and not _in_driver_home(module, driver_home):
        return f"the driver {top} belongs in {driver_home} only"
    homes = EAGER_ONLY_IN.get(top)
    if eager and homes is not None and not any(_within(module, h) for h in homes):
        return f"{top} may be imported at module level only in {', '.join(homes)}"
    if layer_of(module) == "core":
        if top in CORE_FORBIDDEN:
            return f"the core never imports {top}"
        if top not in sys.stdlib_module_names and top not in CORE_THIRD_PARTY:
            allowed = ", ".join(sorted(CORE_THIRD_PARTY))
            return f"the core imports only the standard library and {allowed}"
    return None


def check_source(
    source: str,
    module: str,
    *,
    is_package: bool = False,
    known_modules: frozenset[str] = frozenset(),
) -> list[str]:
    """Violations of the import rules in one module's source."""
    if layer_of(module) == "unclassified":
        return [f"{module}: not in any layer; classify it in tests/test_house.py"]
    violations = []
    for imp in imports_in(
        source, module, is_package=is_package, known_modules=known_modules
    ):
        if _within(imp.module, ROOT):
            reason = _internal_violation(module, imp.module)
        else:
            reason = _external_violation(module, imp.module, eager=imp.eager)
        if reason is not None:
            violations.append(f"{module}:{imp.line} imports {imp.module}: {reason}")
    return violations


def _source_files() -> Iterator[tuple[Path, str, bool]]:
    for path in sorted(PACKAGE_DIR.rglob("*.py")):
        parts = path.relative_to(PACKAGE_DIR).with_suffix("").parts
        is_package = parts[-1] == "__init__"
        if is_package:
            parts = parts[:-1]
        yield path, ".".join((ROOT, *parts)), is_package


KNOWN_MODULES = frozenset(module for _, module, _ in _source_files())


class TestImportRules:
    """The layering of the design (section 1), checked on the source."""

    def test_package_follows_the_rules(self) -> None:
        violations = [
            v
            for path, module, is_package in _source_files()
            for v in check_source(
                path.read_text(encoding="utf-8"),
                module,
                is_package=is_package,
                known_modules=KNOWN_MODULES,
            )
        ]
        assert not violations, "\n".join(violations)

    def test_sources_were_found(self) -> None:
        assert f"{ROOT}.money" in KNOWN_MODULES

    @pytest.mark.parametrize(
        ("module", "source"),
        [
            ("orderkit.money", "import cattrs\n"),
            ("orderkit.orders._model", "from orderkit import ports\n"),
            ("orderkit.orders._model", "from .. import ports\n"),
            ("orderkit.orders._model", "from ..services import OrderDesk\n"),
            ("orderkit.pricing", "from orderkit.testing import strategies\n"),
            ("orderkit._time", "import sqlite3\n"),
            ("orderkit.errors", "import requests\n"),
            ("orderkit.services.desk", "from orderkit.adapters import memory\n"),
            ("orderkit.adapters.memory", "import sqlite3\n"),
            ("orderkit.adapters._memory_state", "import sqlite3\n"),
            ("orderkit.adapters._sqlite_session", "import psycopg\n"),
            ("orderkit.adapters.sqlite", "import psycopg\n"),
            ("orderkit.adapters.memory", "from orderkit.services import Ledger\n"),
            ("orderkit.serialization", "import hypothesis\n"),
            ("orderkit.ports", "from orderkit.adapters import memory\n"),
            ("orderkit._cli", "from orderkit.orders._model import Order\n"),
            ("orderkit.routing", "import json\n"),
        ],
    )
    def test_checker_catches(self, module: str, source: str) -> None:
        known = frozenset({"orderkit.ports", "orderkit.adapters.memory"})
        assert check_source(source, module, known_modules=known)

    @pytest.mark.parametrize(
        ("module", "source"),
        [
            ("orderkit.money", "import decimal\nfrom attrs import frozen\n"),
            ("orderkit.orders._model", "from .. import money\n"),
            ("orderkit.orders._model", "from ._status import Status\n"),
            ("orderkit.orders._model", "from orderkit.dedupe._keys import Key\n"),
            ("orderkit._time", "import pendulum\nimport typing_extensions\n"),
            ("orderkit.services.desk", "from orderkit import ports\n"),
            ("orderkit.services.desk", "from ..orders import apply\n"),
            ("orderkit.adapters.sqlite", "import sqlite3\n"),
            ("orderkit.adapters._sqlite_session", "import sqlite3\n"),
            ("orderkit.adapters.postgres", "import psycopg\n"),
            ("orderkit.adapters.memory", "def f():\n    import hypothesis\n"),
            (
                "orderkit.serialization",
                (
                    "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n"
                    "    import hypothesis\n"
                ),
            ),
            ("orderkit.testing.strategies", "import hypothesis\nimport pytest\n"),
            ("orderkit._cli", "from orderkit.orders import apply\n"),
            ("orderkit.__main__", "from orderkit._cli import main\n"),
        ],
    )
    def test_checker_allows(self, module: str, source: str) -> None:
        known = frozenset({"orderkit.money", "orderkit.ports"})
        assert check_source(source, module, known_modules=known) == []

    def test_relative_imports_resolve_from_packages(self) -> None:
        found = imports_in(
            "from . import _keys\nfrom .._time import utc\n",
            "orderkit.dedupe",
            is_package=True,
            known_modules=frozenset({"orderkit.dedupe._keys"}),
        )
        assert [i.module for i in found] == ["orderkit.dedupe._keys", "orderkit._time"]


# --------------------------------------------------------------------------
# CI runs what the README says


def readme_test_command(readme: str) -> str:
    """The second non-empty line of the README's first ```sh block."""
    lines = readme.splitlines()
    for start, line in enumerate(lines):
        if line.strip() == "```sh":
            block: list[str] = []
            for body_line in lines[start + 1 :]:
                if body_line.strip().startswith("```"):
                    break
                if body_line.strip():
                    block.append(body_line.strip())
            if len(block) < 2:
                raise ValueError("the README's first sh block has no second line")
            return block[1]
    raise ValueError("the README has no ```sh block")


class TestReadmeTestCommand:
    """CI runs the test command the README gives contributors."""

    def test_second_line_of_first_sh_block(self) -> None:
        sample = (
            "# orderkit\n\n```python\nimport orderkit\n```\n\n"
            "```sh\npython3 -m venv .venv && .venv/bin/pip install -e '.[dev]'\n\n"
            ".venv/bin/python -m pytest\n```\n\n```sh\nmake docs\nmake lint\n```\n"
        )
        assert readme_test_command(sample) == ".venv/bin/python -m pytest"

    def test_missing_block_is_an_error(self) -> None:
        with pytest.raises(ValueError, match="no ```sh block"):
            readme_test_command("# orderkit\n\n```bash\nls\n```\n")

    def test_ci_runs_it(self) -> None:
        readme = REPO_DIR / "README.md"
        assert readme.is_file(), "README.md is missing"
        command = readme_test_command(readme.read_text(encoding="utf-8"))
        ci_script = (REPO_DIR / ".ci" / "run").read_text(encoding="utf-8")
        assert command in ci_script
