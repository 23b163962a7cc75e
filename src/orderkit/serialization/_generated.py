"""Structure and unstructure hooks for attrs classes, generated from their fields.

The fast structure hook and the unstructure hook are Python source written
for each class and compiled once; the careful structure hook is cattrs' own,
for the detailed twin that finds the path to a value refused. A tagged class
checks its tag on read and writes it first.
"""

from __future__ import annotations

import enum
import itertools
import linecache
import types
import weakref
from collections.abc import Mapping
from typing import Any, Final, get_args

import attrs
import cattrs
from cattrs.fns import identity
from cattrs.gen import make_dict_structure_fn

from orderkit.errors import StructureError
from orderkit.money import Money
from orderkit.orders import Order, OrderLine, Saga, Shipped
from orderkit.pricing import PriceChange, Refund
from orderkit.serialization._collections import WriteItems, WriteOptional
from orderkit.serialization._policies import is_function_type, refuse_function
from orderkit.serialization._readers import READERS, UNREAD, Reader
from orderkit.serialization._values import (
    structure_money,
    unstructure_enum,
    unstructure_money,
)
from orderkit.serialization._wire import (
    OWN_HOOKS,
    TAG,
    TAGS,
    Data,
    StructureHook,
    TypeForm,
    UnstructureHook,
    own,
)


# Validators of orderkit._validate that refuse a value of any other type: the
# fields they guard go to the constructor as read, to be checked there once.
_TYPE_CHECKS: Final[dict[str, TypeForm]] = {
    "text": str,
    "plain_text": str,
    "optional_text": str | None,
    "positive_int": int,
}


def _checked_by_constructor(field: attrs.Attribute[Any]) -> bool:
    kind = field.type
    converter: object = field.converter
    if isinstance(kind, type) and issubclass(kind, enum.Enum):
        # `status: OrderStatus = field(converter=OrderStatus)` reads itself.
        return converter is kind
    check = field.validator
    if getattr(check, "__module__", None) != "orderkit._validate":
        return False
    name = str(getattr(check, "__qualname__", "")).partition(".")[0]
    return name in _TYPE_CHECKS and bool(_TYPE_CHECKS[name] == kind)


def _compile(name: str, source: str, namespace: dict[str, Any]) -> Any:  # noqa: ANN401
    filename = f"<orderkit {name}>"
    # In linecache, so that tracebacks through a generated hook show its source.
    lines = source.splitlines(keepends=True)
    linecache.cache[filename] = (len(source), None, lines, filename)
    # The source is built from attrs fields and type names, never from data.
    exec(compile(source, filename, "exec"), namespace)  # noqa: S102
    return namespace[name.replace(" ", "_")]


def _fast_attrs_hook(cl: type, converter: cattrs.BaseConverter) -> StructureHook:
    """A structure hook with no per-field overhead, generated from the fields.

    Arguments go by position where the class allows, defaults are inlined,
    `Money` is built in place, and a field whose constructor checks its type
    itself is passed as read, unless the host gave the converter a hook of
    its own for that type (a `str` hook that strips spaces, say): then the
    field is read through it, as the detailed hook reads it.
    """
    attrs.resolve_types(cl)
    namespace: dict[str, Any] = {"cl": cl}
    args: list[str] = []
    later: list[str] = []  # fields with a factory default: passed only if present
    by_keyword = False
    for i, field in enumerate(attrs.fields(cl)):
        if not field.init:
            continue
        key = repr(field.name)
        read = f"o[{key}]"
        field_hook = None
        if not (_checked_by_constructor(field) and _own_hooks_for(converter, field)):
            field_hook = converter.get_structure_hook(field.type)
        if field_hook is structure_money:
            # Money checks its own arguments; a value of the wrong shape fails
            # here too, and the detailed twin says how.
            namespace["Money"] = Money
            read = f"Money({read}['amount'], {read}['currency'])"
        elif field_hook is not None:
            namespace[f"h{i}"] = field_hook
            namespace[f"t{i}"] = field.type
            read = f"h{i}({read}, t{i})"
        if isinstance(field.default, attrs.Factory):  # type: ignore[arg-type]
            later.append(f"    if {key} in o: kw[{field.alias!r}] = {read}")
            by_keyword = True
            continue
        if field.default is not attrs.NOTHING:
            namespace[f"d{i}"] = field.default
            read = f"{read} if {key} in o else d{i}"
        by_keyword = by_keyword or field.kw_only
        args.append(f"{field.alias}={read}" if by_keyword else read)
    name = f"structure {cl.__name__}"
    lines = [f"def {name.replace(' ', '_')}(o, _):"]
    tag = TAGS.get(cl)
    if tag is not None:
        lines.append(f"    if o.get({TAG!r}, {tag!r}) != {tag!r}: raise ValueError")
    if later:
        lines += ["    kw = {}", *later]
        args.append("**kw")
    lines.append(f"    return cl({', '.join(args)})")
    hook: StructureHook = _compile(name, "\n".join(lines) + "\n", namespace)
    return hook


def _careful_attrs_hook(cl: type, converter: cattrs.BaseConverter) -> StructureHook:
    """The cattrs detailed hook, refusing what is not an object or has another tag."""
    inner: StructureHook = make_dict_structure_fn(cl, converter)
    tag = TAGS.get(cl)
    name = cl.__name__

    def structure_careful(value: Data, _: TypeForm) -> Data:
        if not isinstance(value, Mapping):
            raise StructureError("", value, f"must be an object ({name})", name)
        if tag is not None and value.get(TAG, tag) != tag:
            problem = f"names another class; {name} is {tag!r}"
            raise StructureError(TAG, value[TAG], problem, name)
        return inner(value, cl)

    return structure_careful


def _field_types(t: TypeForm) -> list[TypeForm]:
    """A type form and the types inside it (`tuple[OrderLine, ...]`, `OrderLine`)."""
    inner = [a for a in get_args(t) if a is not Ellipsis and a is not type(None)]
    return [t, *itertools.chain.from_iterable(_field_types(a) for a in inner)]


def _own_hooks_for(
    converter: cattrs.BaseConverter, field: attrs.Attribute[Any]
) -> bool:
    """Whether the converter reads the field, and every type in it, with our hooks."""
    return all(
        converter.get_structure_hook(t) in OWN_HOOKS for t in _field_types(field.type)
    )


def _own_hooks_only(converter: cattrs.BaseConverter) -> bool:
    """Whether the converter reads every value the fast readers read with our hooks.

    A host's own hook for `Money`, a nested class, a collection, or a plain
    type (`str`, `int`, a status enum) must be honoured: then every class
    takes the generated hook instead.
    """
    return all(
        _own_hooks_for(converter, field)
        for cl in READERS
        for field in attrs.fields(attrs.resolve_types(cl))
        if field.init and field.name not in UNREAD.get(cl, ())
    )


def _reader_first(
    reader: Reader, hook: StructureHook, converter: cattrs.BaseConverter
) -> StructureHook:
    """Try the fast reader; on any failure, read again with the generated hook.

    The generated hook builds through the constructors: it accepts what the
    reader found unusual, or raises the error a read always raised.
    """
    # Asked on the first read: during a factory the converter is still
    # building the hooks it would be asked about.
    checked: list[bool] = []

    def structure_reader_first(value: Data, cl: TypeForm) -> Data:
        if not checked:
            checked.append(_own_hooks_only(converter))
        if checked[0]:
            try:
                return reader(value)
            except Exception:  # noqa: BLE001, S110 - the generated hook reports
                pass
        return hook(value, cl)

    return structure_reader_first


def attrs_hook(cl: type, converter: cattrs.BaseConverter) -> StructureHook:
    """The careful hook for a detailed converter, the fast one otherwise.

    The fast one tries the class's fast reader first, if it has one.
    """
    hook = attrs_hook_without_readers(cl, converter)
    reader = READERS.get(cl)
    if reader is None or _careful(converter):
        return hook
    return own(_reader_first(reader, hook, converter))


def attrs_hook_without_readers(
    cl: type, converter: cattrs.BaseConverter
) -> StructureHook:
    """`attrs_hook` without the fast readers: what they must agree with."""
    if _careful(converter):
        return own(_careful_attrs_hook(cl, converter))
    return own(_fast_attrs_hook(cl, converter))


def _careful(converter: cattrs.BaseConverter) -> bool:
    """Whether only cattrs' own hooks do what the converter asks.

    Detailed validation names every problem; refusing extra keys needs the
    keys looked at, which the generated hooks and fast readers never do.
    """
    return converter.detailed_validation or bool(
        getattr(converter, "forbid_extra_keys", False)
    )


# Writers this module generated, and their classes: a parent inlines them.
_WRITERS: Final[weakref.WeakKeyDictionary[UnstructureHook, type]] = (
    weakref.WeakKeyDictionary()
)
_INLINE_DEPTH: Final = 3
# Hooks written in place as expressions of the value, `{0}`.
_INLINE: Final[tuple[tuple[UnstructureHook, str], ...]] = (
    (identity, "{0}"),
    (unstructure_enum, "{0}._value_"),
    (
        unstructure_money,
        "{{'amount': str({0}.amount), 'currency': {0}.currency.code}}",
    ),
)


# Fields written only when they differ from their default: added to a class
# after documents of it were stored, they leave those documents as they
# were, and a reader that predates them reads what they default to.
OMITTED_AT_DEFAULT: Final[Mapping[type, frozenset[str]]] = {
    Order: frozenset({"cancelled_units"}),
    OrderLine: frozenset({"stocked"}),
    PriceChange: frozenset({"approver_tier"}),
    Refund: frozenset({"provider_id", "lines"}),
    Saga: frozenset({"tasks", "lines", "location"}),
    Shipped: frozenset({"location"}),
}


class _Source:
    """The names a generated function uses: hooks it calls, and locals."""

    def __init__(self, converter: cattrs.BaseConverter) -> None:
        self.converter = converter
        self.namespace: dict[str, Any] = {}
        self._count = itertools.count()

    def hook(self, hook: UnstructureHook) -> str:
        name = f"h{next(self._count)}"
        self.namespace[name] = hook
        return name

    def local(self) -> str:
        return f"v{next(self._count)}"


def _write(get: str, hook: UnstructureHook, source: _Source, depth: int) -> str:
    """The expression that writes `get` with `hook`, inline where it can be."""
    for simple, template in _INLINE:
        if hook is simple:
            return template.format(get)
    if isinstance(hook, WriteOptional):
        var = source.local()
        inner = _write(var, hook.inner, source, depth)
        return (
            get if inner == var else f"(None if ({var} := {get}) is None else {inner})"
        )
    if isinstance(hook, WriteItems):
        var, items = source.local(), source.local()
        item = _write(var, hook.item, source, depth)
        # A comprehension costs a function call even when there is nothing to
        # write, and most of an order's lists are empty.
        return f"([{item} for {var} in {items}] if ({items} := {get}) else [])"
    cl = _WRITERS.get(hook) if isinstance(hook, types.FunctionType) else None
    if cl is None or depth >= _INLINE_DEPTH:
        return f"{source.hook(hook)}({get})"
    if get.isidentifier():
        return _write_fields(cl, get, source, depth + 1)
    # Read the attribute chain once: the first field binds it to a local.
    var = source.local()
    return _write_fields(cl, var, source, depth + 1, first=f"({var} := {get})")


def _write_fields(
    cl: type, get: str, source: _Source, depth: int, first: str | None = None
) -> str:
    items = []
    tag = TAGS.get(cl)
    if tag is not None:
        items.append(f"{TAG!r}: {tag!r}")
    omitted = OMITTED_AT_DEFAULT.get(cl, frozenset())
    for field in attrs.fields(cl):
        if not field.init:
            continue
        read = f"{first or get}.{field.name}"
        first = None
        if is_function_type(field.type):
            items.append(_write_function(field, read, source))
            continue
        hook = source.converter.get_unstructure_hook(field.type)
        if field.name not in omitted:
            items.append(f"{field.name!r}: {_write(read, hook, source, depth)}")
            continue
        var, default = source.local(), source.local()
        source.namespace[default] = field.default
        value = f"{{{field.name!r}: {_write(var, hook, source, depth)}}}"
        items.append(f"**({{}} if ({var} := {read}) == {default} else {value})")
    return f"{{{', '.join(items)}}}"


def _write_function(field: attrs.Attribute[Any], get: str, source: _Source) -> str:
    """A field holding a function: left out at its default, refused otherwise."""
    var, default = source.local(), source.local()
    # A required function has no default: any value is refused.
    source.namespace[default] = field.default
    refuse = source.local()
    source.namespace[refuse] = refuse_function
    written = f"{refuse}({field.name!r}, {var})"
    return f"**({{}} if ({var} := {get}) is {default} else {written})"


def unstructure_attrs_hook(
    cl: type, converter: cattrs.BaseConverter
) -> UnstructureHook:
    """An unstructure hook generated from the fields, written in place.

    Text and numbers are copied; enums, `Money`, optionals, lists and nested
    classes (to a depth of three) are written inline; anything else goes
    through its hook. A tagged class writes its tag first. A field holding a
    function is left out while it holds its default, and refused otherwise.
    """
    attrs.resolve_types(cl)
    source = _Source(converter)
    body = _write_fields(cl, "i", source, 1)
    name = f"unstructure {cl.__name__}"
    text = f"def {name.replace(' ', '_')}(i):\n    return {body}\n"
    unstructure: UnstructureHook = _compile(name, text, source.namespace)
    _WRITERS[unstructure] = cl
    return unstructure
