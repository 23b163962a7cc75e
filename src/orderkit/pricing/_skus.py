"""SKUs as pricing matches them: folded, as purchase limits and dedupe fold them."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Final

from orderkit.dedupe import normalize_sku
from orderkit.errors import ValidationError


# Each line's SKU is folded on every `price` and `validate` (the floors' and
# offers' are folded once, when they are made): `normalize_sku` caches its
# folds, but a dict read costs a fraction of the call. Bounded as its cache
# is, and cleared when full rather than evicted one by one: a catalogue's
# SKUs fill it again at once. Reads and writes of a dict are atomic, so
# threads sharing it at worst fold a SKU twice.
_KEYS: Final[dict[str, str]] = {}
_MOST_KEYS: Final = 4_096
_LONGEST: Final = 128  # longer SKUs are folded every time, never kept


def sku_key(sku: str) -> str:
    """`sku` folded as `orderkit.dedupe.normalize_sku` folds it, to match on.

    Case, Unicode width and surrounding or repeated whitespace do not count:
    `"YIXING-TEAPOT"`, `"yixing-teapot"`, `"YIXING-TEAPOT "` and the SKU in
    full-width letters give one key, as they give one purchase-limit key. A
    SKU that cannot be folded (control characters in an offer's SKU, which
    `OrderLine` never holds) is its own key, matched exactly.

    Hot loops read `_KEYS.get(sku) or sku_key(sku)`, which is this.
    """
    key = _KEYS.get(sku)
    if key is not None:
        return key
    try:
        key = normalize_sku(sku)
    except ValidationError:
        key = sku
    if len(sku) <= _LONGEST:
        if len(_KEYS) >= _MOST_KEYS:
            _KEYS.clear()
        _KEYS[sku] = key
    return key


def sku_keys(skus: Iterable[str]) -> frozenset[str]:
    """`sku_key` of each of `skus`: two that fold equal are one SKU."""
    return frozenset(sku_key(sku) for sku in skus)
