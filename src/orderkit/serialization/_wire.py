"""What every hook shares: the types of data and hooks, and the tag.

The tag is how tagged classes (events, outcomes) are written and read; the
type forms hooks are asked about are taken apart with `origin_of`.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable
from typing import Any, Final, TypeAlias, TypeVar, get_args, get_origin

from orderkit.orders import EVENT_TYPES, Outcome, Rejected


# What hooks take and give: data as JSON holds it, and type forms
# (`Order`, `tuple[OrderLine, ...]`, `OrderEvent`).
Data: TypeAlias = Any
TypeForm: TypeAlias = Any
StructureHook: TypeAlias = Callable[[Data, TypeForm], Data]
UnstructureHook: TypeAlias = Callable[[Data], Data]

TAG: Final = "type"

# Tagged classes are written with their class name under "type", and unions
# of them (OrderEvent, Outcome, Outcome | Rejected...) are read by it.
TAGS: Final[dict[type, str]] = {
    cls: cls.__name__ for cls in (*EVENT_TYPES, *get_args(Outcome), Rejected)
}


def origin_of(t: TypeForm) -> TypeForm:
    """The origin of a type form (`tuple` for `tuple[int, ...]`), or None."""
    # typing.get_origin's overloads make mypy see a ParamSpec for Any.
    origin: TypeForm = get_origin(t)
    return origin


H = TypeVar("H", bound=Callable[..., Any])

# The structure hooks orderkit's modules made: a fast reader replaces them
# only while the converter has no hook of its host's own in their place.
OWN_HOOKS: Final[weakref.WeakSet[Callable[..., Any]]] = weakref.WeakSet()


def own(hook: H) -> H:
    """Record `hook` as one of orderkit's structure hooks, and return it."""
    OWN_HOOKS.add(hook)
    return hook
