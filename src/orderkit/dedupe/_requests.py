"""The request hash: what makes two deliveries of one request the same request."""

from __future__ import annotations

import datetime as dt
import decimal
import enum
import functools
import hashlib
import json
from collections.abc import Mapping
from decimal import Decimal

import attrs

from orderkit._decimal import context
from orderkit.errors import NaiveDatetime, ValidationError
from orderkit.money import Money


# Enough precision to normalise any finite Decimal without rounding it.
_EXACT = context(prec=decimal.MAX_PREC)
_UTC = dt.UTC
_MICROSECOND = dt.timedelta(microseconds=1)


def request_hash(value: object) -> str:
    """Return the SHA-256 (hex) of a domain value's canonical encoding.

    Hash the canonical event, never the raw payload: two deliveries that
    differ only in their envelope (a delivery id, a received-at time) or in
    the order of their JSON fields carry the same event, so the same hash.

    The encoding is JSON (sorted keys, no spaces, ASCII) of a tree in which
    each kind of value has its own tagged form, so equal values encode alike
    and different values differently; on purpose, a list and a tuple are
    one sequence and an enum is its value:

    - attrs instances: `{"type": <class name>, "fields": {<name>: ...}}`,
      over the fields that take part in equality, in any declared order;
    - `Money`: `{"money": [<amount at the minor unit>, <currency code>]}`;
    - `Decimal`: `{"decimal": <normalised>}` (`1.0` and `1.00` are equal);
    - aware datetimes: `{"datetime": <UTC ISO-8601 to the microsecond>}`
      (one instant, whatever its zone); dates: `{"date": <ISO-8601>}`;
      timedeltas: `{"timedelta": <microseconds>}`;
    - enums: their value;
    - tuples and lists: lists; sets and frozensets: `{"set": [...]}` in the
      order of their items' encodings; mappings: `{"map": [[k, v], ...]}`
      in the order of their keys' encodings, then of their values' (an enum
      member and its value are distinct keys that encode alike: their pairs
      are sorted by value, so equal mappings hash alike in any insertion
      order);
    - `str`, `int`, `bool` and `None`: themselves.

    The encoding is part of the contract: stored keys hold these hashes, so
    a change would turn every re-send in flight into a conflict.

    Args:
        value: The canonical request, usually an event (`PaymentCaptured`).

    Returns:
        64 lowercase hexadecimal digits.

    Raises:
        NaiveDatetime: A datetime without a UTC offset, named by its path.
        ValidationError: A value with no exact canonical form (a float, NaN,
            bytes, an unknown type), named by its path (`lines[2].price`).

    .. versionadded:: 0.1.0
    """
    tree = _encode(value, "")
    text = json.dumps(tree, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return hashlib.sha256(text.encode("ascii")).hexdigest()


@functools.cache
def _compared_fields(cls: type) -> tuple[str, ...]:
    return tuple(f.name for f in attrs.fields(cls) if f.eq)


def _encode(value: object, path: str) -> object:  # noqa: C901, PLR0911, PLR0912 - one case per kind
    kind = type(value)
    if value is None or kind is str or kind is bool or kind is int:
        return value
    if isinstance(value, Money):
        # Quantised to the minor unit already: one form per amount, but for
        # the sign of zero (-0.00 == 0.00), which abs() drops.
        amount = value.amount or abs(value.amount)
        return {"money": [str(amount), value.currency.code]}
    if attrs.has(kind):
        fields = {
            name: _encode(getattr(value, name), f"{path}.{name}" if path else name)
            for name in _compared_fields(kind)
        }
        return {"type": kind.__name__, "fields": fields}
    if isinstance(value, enum.Enum):
        return _encode(value.value, path)
    if isinstance(value, str | int):
        # Subclasses of str and int (bool was taken above) as their plain value.
        return str(value) if isinstance(value, str) else int(value)
    if isinstance(value, Decimal):
        return {"decimal": _decimal(value, path)}
    if isinstance(value, dt.datetime):
        if value.utcoffset() is None:
            raise NaiveDatetime(path, value)
        utc = value.astimezone(_UTC)
        return {"datetime": utc.isoformat(timespec="microseconds")}
    if isinstance(value, dt.date):
        return {"date": value.isoformat()}
    if isinstance(value, dt.timedelta):
        # The stdlib's division: pendulum's Duration overrides `//` and fails
        # on a plain timedelta.
        return {"timedelta": dt.timedelta.__floordiv__(value, _MICROSECOND)}
    if isinstance(value, tuple | list):
        return [_encode(item, f"{path}[{i}]") for i, item in enumerate(value)]
    if isinstance(value, frozenset | set):
        items = [_encode(item, f"{path}[]") for item in value]
        return {"set": sorted(items, key=_sort_key)}
    if isinstance(value, Mapping):
        pairs = [
            [_encode(k, f"{path}[{k!r}]"), _encode(v, f"{path}[{k!r}]")]
            for k, v in value.items()
        ]
        # By key, then value: two keys may encode alike (an enum member and
        # its value), and equal mappings must not hash by insertion order.
        return {"map": sorted(pairs, key=lambda p: (_sort_key(p[0]), _sort_key(p[1])))}
    if isinstance(value, float):
        raise ValidationError(path, value, "floats are not exact; use a Decimal")
    raise ValidationError(path, value, f"{kind.__name__} has no canonical form to hash")


def _decimal(value: Decimal, path: str) -> str:
    if not value.is_finite():
        raise ValidationError(path, value, "must be a finite number")
    if not value:
        return "0"
    return str(value.normalize(_EXACT))


def _sort_key(encoded: object) -> str:
    return json.dumps(encoded, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
