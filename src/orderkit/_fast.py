"""Builders and copies of frozen attrs instances that skip validation, for hot paths.

`attrs.evolve` re-runs every converter and validator. Where the parts of the
new instance come from instances that were validated already (an order and
an event), that work is wasted. These builders set the slots directly, with
code generated per class, the way attrs generates `__init__`.

Each class gets a private draft (`draft`): a subclass that adds no slot, so
it has the very same layout, and is not frozen, so the interpreter stores its
slots with its specialised slot store (under 10ns a slot on Python 3.11,
where a member descriptor's `__set__` costs some 50ns). A builder fills a
draft, then re-types it to the public class, which the interpreter allows
because the layouts agree: what leaves here is an ordinary instance of the
class, equal to the one its validating constructor would build from the same
values, and as frozen. An interpreter that refused the re-typing would make
`draft` raise `TypeError` when a module making a builder is imported, not
later. The fast readers of `orderkit.serialization` fill drafts by hand.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, TypeVar

import attrs


T = TypeVar("T")

# Where attrs keeps the hash of a class with `cache_hash=True`; its __init__
# sets it to None, and __hash__ fills it on first use.
_HASH_SLOT = "_attrs_cached_hash"
# Generated names end in `_` or start with `_`: attrs field names do neither.
_GENERATED = frozenset({"_new", "_cls", "_draft", "_KEEP"})


def builder(cls: type[T]) -> Callable[..., T]:
    """Return `build(*values)` for an attrs class with slots, in field order.

    Every field must be given, already converted; no validator runs.
    """
    names = _names(cls)
    return _generate(cls, "build", ", ".join(names), names)


def copier(cls: type[T]) -> Callable[..., T]:
    """Return `copy(instance, **changes)` for an attrs class with slots.

    Fields not named keep the instance's value; no validator runs.
    """
    names = _names(cls)
    params = ", ".join(f"{name}=_KEEP" for name in names)
    values = (f"instance_.{name} if {name} is _KEEP else {name}" for name in names)
    return _generate(cls, "copy", f"instance_, *, {params}", values)


def changer(cls: type[T], *changed: str) -> Callable[..., T]:
    """Return `change(instance, *values)`: the instance with the `changed` fields.

    The values come positionally, in the order `changed` names them, which
    is cheaper than `copier`'s keywords; every other field keeps the
    instance's value. No validator runs.
    """
    names = _names(cls)
    unknown = set(changed) - set(names)
    if unknown:  # pragma: no cover - a guard for whoever renames a field
        msg = f"{cls.__qualname__} has no fields {sorted(unknown)}"
        raise TypeError(msg)
    values = (name if name in changed else f"instance_.{name}" for name in names)
    return _generate(cls, "change", ", ".join(("instance_", *changed)), values)


def setters(cls: type) -> tuple[Callable[[Any, Any], None], ...]:
    """Return the slot setters of an attrs class with slots, in field order.

    For a hot loop that builds instances in place: `object.__new__(cls)`, then
    every setter once. No validator runs, and a class with a cached hash
    (`cache_hash=True`) is refused: its hash slot would be left unset.
    """
    if _HASH_SLOT in cls.__dict__:
        msg = f"{cls.__qualname__} caches its hash: use builder()"
        raise TypeError(msg)
    return tuple(cls.__dict__[name].__set__ for name in _names(cls))


def _names(cls: type) -> list[str]:
    names = [a.name for a in attrs.fields(cls)]
    clash = [n for n in names if n.endswith("_") or n in _GENERATED]
    if clash:  # pragma: no cover - a guard for whoever adds such a field
        msg = f"{cls.__qualname__} fields {clash} clash with generated names"
        raise TypeError(msg)
    return names


_drafts: dict[type, type] = {}


def draft(cls: type) -> Any:  # noqa: ANN401 - its instances take any attribute
    """The draft class of a frozen, slotted attrs class, made once per class.

    A draft is a subclass that adds no slot and restores `object.__init__`
    and `object.__setattr__`: calling it makes an empty instance, which code
    fills with plain attribute stores, then turns into the class itself::

        line = draft(OrderLine)()
        line.line_id = ...  # every field, in any order
        line.__class__ = OrderLine

    Every field (and the cached hash slot of a class with `cache_hash=True`)
    must be set before that assignment; no validator runs.

    Raises:
        TypeError: `cls` is not a slotted attrs class, or the interpreter
            refuses to turn a draft into it.
    """
    found = _drafts.get(cls)
    if found is not None:
        return found
    if not attrs.has(cls) or "__slots__" not in cls.__dict__:
        msg = f"{cls.__qualname__} is not a slotted attrs class"
        raise TypeError(msg)
    # Both attribute hooks: CPython keeps them in one slot, and specialises
    # attribute stores only when neither is overridden.
    namespace = {
        "__slots__": (),
        "__init__": object.__init__,
        "__setattr__": object.__setattr__,
        "__delattr__": object.__delattr__,
        "__module__": __name__,
        "__qualname__": f"{cls.__qualname__}Draft",
    }
    drafted = type(f"{cls.__name__}Draft", (cls,), namespace)
    # Refused here, when the draft is made, rather than on first use.
    probe = drafted()
    probe.__class__ = cls
    _drafts[cls] = drafted
    return drafted


def _generate(
    cls: type[T], name: str, params: str, values: Iterable[str]
) -> Callable[..., T]:
    """Compile `name(params)`, a new instance with each field set to its value."""
    names = _names(cls)
    values = list(values)
    hashed = _HASH_SLOT in cls.__dict__
    scope: dict[str, Any] = {"_new": object.__new__, "_cls": cls}
    scope["_draft"], scope["_KEEP"] = draft(cls), object()
    lines = [
        f"self_.{field} = {value}" for field, value in zip(names, values, strict=True)
    ]
    if hashed:
        lines.append(f"self_.{_HASH_SLOT} = None")
    lines = ["self_ = _new(_draft)", *lines, "self_.__class__ = _cls"]
    body = "".join(f"    {line}\n" for line in (*lines, "return self_"))
    source = f"def {name}({params}):\n{body}"
    label = f"<orderkit {name} {cls.__qualname__}>"
    exec(compile(source, label, "exec"), scope)  # noqa: S102 - generated from attrs fields only
    generated: Callable[..., T] = scope[name]
    return generated
