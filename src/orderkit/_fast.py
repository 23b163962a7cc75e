"""Copies of frozen attrs instances that skip validation, for hot paths.

`attrs.evolve` re-runs every converter and validator. Where the parts of the
new instance come from instances that were validated already (an order and
an event), that work is wasted: `apply` spends most of its time there. These
builders set the slots directly, with code generated per class, the way attrs
generates `__init__`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import attrs


T = TypeVar("T")


def copier(cls: type[T]) -> Callable[..., T]:
    """Return `copy(instance, **changes)` for an attrs class with slots.

    Generated names end in `_` (`self_`, `instance_`): attrs field names
    never do, so they cannot collide with a field.

    Fields not named keep the instance's value; no validator runs.
    """
    names = [a.name for a in attrs.fields(cls)]  # type: ignore[arg-type]
    params = ", ".join(f"{name}=_KEEP" for name in names)
    body = "\n".join(
        f"    _set_{name}(self_, instance_.{name} if {name} is _KEEP else {name})"
        for name in names
    )
    source = (
        f"def copy(instance_, *, {params}):\n"
        f"    self_ = _new(_cls)\n{body}\n{_cached_hash(cls)}"
        "    return self_\n"
    )
    scope = _scope(cls, names)
    scope["_KEEP"] = object()
    exec(compile(source, f"<orderkit copier {cls.__qualname__}>", "exec"), scope)  # noqa: S102 - generated from attrs fields only
    copy: Callable[..., T] = scope["copy"]
    return copy


def builder(cls: type[T]) -> Callable[..., T]:
    """Return `build(*values)` for an attrs class with slots, in field order.

    Every field must be given, already converted; no validator runs.
    """
    names = [a.name for a in attrs.fields(cls)]  # type: ignore[arg-type]
    body = "\n".join(f"    _set_{name}(self_, {name})" for name in names)
    source = (
        f"def build({', '.join(names)}):\n"
        f"    self_ = _new(_cls)\n{body}\n{_cached_hash(cls)}"
        "    return self_\n"
    )
    scope = _scope(cls, names)
    exec(compile(source, f"<orderkit builder {cls.__qualname__}>", "exec"), scope)  # noqa: S102 - generated from attrs fields only
    build: Callable[..., T] = scope["build"]
    return build


# Where attrs keeps the hash of a class with `cache_hash=True`; its __init__
# sets it to None, and __hash__ fills it on first use.
_HASH_SLOT = "_attrs_cached_hash"


def setters(cls: type) -> tuple[Callable[[Any, Any], None], ...]:
    """Return the slot setters of an attrs class with slots, in field order.

    For a hot loop that builds instances in place: `object.__new__(cls)`, then
    every setter once. No validator runs, and a class with a cached hash
    (`cache_hash=True`) is refused: its hash slot would be left unset.
    """
    if _HASH_SLOT in cls.__dict__:
        msg = f"{cls.__qualname__} caches its hash: use builder()"
        raise TypeError(msg)
    names = [a.name for a in attrs.fields(cls)]
    return tuple(cls.__dict__[name].__set__ for name in names)


def _cached_hash(cls: type) -> str:
    """The line that starts an instance's cached hash empty, if it has one."""
    if _HASH_SLOT in cls.__dict__:
        return f"    _set_{_HASH_SLOT}(self_, None)\n"
    return ""


def _scope(cls: type, names: list[str]) -> dict[str, Any]:
    clash = [n for n in names if n.endswith("_") or n in {"_new", "_cls", "_KEEP"}]
    if clash:  # pragma: no cover - a guard for whoever adds such a field
        msg = f"{cls.__qualname__} fields {clash} clash with generated names"
        raise TypeError(msg)
    # A slot's member descriptor sets it directly: faster than
    # object.__setattr__, and it bypasses the frozen class's __setattr__.
    scope: dict[str, Any] = {"_new": object.__new__, "_cls": cls}
    for name in names:
        scope[f"_set_{name}"] = cls.__dict__[name].__set__
    if _HASH_SLOT in cls.__dict__:
        scope[f"_set_{_HASH_SLOT}"] = cls.__dict__[_HASH_SLOT].__set__
    return scope
