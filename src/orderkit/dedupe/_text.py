"""Folding of free text: names, SKUs, and the pieces addresses are made of."""

from __future__ import annotations

import functools
import re
import unicodedata

from orderkit.errors import ValidationError


# Characters that are never text: lone surrogates cannot even be encoded, and
# control characters other than the whitespace ones (tab, newlines, form feed)
# are corruption, not content.
_SURROGATE = re.compile(r"[\ud800-\udfff]")
_CONTROL = re.compile(r"[\x00-\x08\x0e-\x1f\x7f-\x9f\u2028\u2029]")
# Invisible format characters that copy and paste leaves behind (soft hyphen,
# zero-width spaces and joiners, direction marks, the byte order mark): they
# carry no meaning for matching, so they are dropped rather than refused.
_INVISIBLE = re.compile(r"[\u00ad\u180e\u200b-\u200f\u202a-\u202e\u2060-\u2064\ufeff]")
_WHITESPACE = re.compile(r"\s+")
_SKU_CACHE_SIZE = 4_096
_CACHED_LENGTH = 128  # longer SKUs are folded without the cache
# Punctuation, symbols and whitespace separate words. `\w` in `re` is
# `str.isalnum()` plus the underscore, so `[\W_]` finds them, and with them
# two kinds of characters that are part of words: combining marks (the vowel
# signs of Devanagari and Thai) and characters unassigned in this Python's
# Unicode (a rare Han character a later Unicode assigns). `_separated` keeps
# those (`_spaced`), so that कमला and कमल stay apart and no Python version
# drops what another keeps.
_SEPARATORS = re.compile(r"[\W_]+")
_IN_WORDS = frozenset({"Mn", "Mc", "Me", "Cn", "Co"})
# Scripts written without spaces between words (Han, kana, Hangul and their
# punctuation blocks): a space next to one of them is not a word boundary.
_WIDE = (
    "\u1100-\u11ff\u2e80-\u2fdf\u3000-\u9fff\ua960-\ua97f\uac00-\ud7ff"
    "\uf900-\ufaff\ufe30-\ufe4f\U00020000-\U0003ffff"
)
# A space next to a wide character, written to start with the space (the
# lookbehind checks the character before it) so that `re` skips ahead to
# each space instead of trying every position.
_SPACE_BY_WIDE = re.compile(f" (?:(?=[{_WIDE}])|(?<=[{_WIDE}] ))")
_IS_WIDE = re.compile(f"[{_WIDE}]")


def clean(
    value: object, field: str, error: type[ValidationError] = ValidationError
) -> str:
    """Check that `value` is text, then NFKC-normalise and case-fold it.

    Full-width letters, digits and punctuation become their ASCII forms,
    compatibility characters their plain ones, and case is folded (so `"Straße"`
    and `"STRASSE"` agree). Invisible format characters are dropped.

    Raises:
        ValidationError: `value` is not a string, or contains a lone surrogate
            or a control character other than whitespace; raised as `error`.
    """
    if not isinstance(value, str):
        raise error(field, value, "must be a string")
    if value.isprintable():
        return fold(value)
    if _SURROGATE.search(value):
        raise error(field, value, "contains a lone surrogate, which is not text")
    if _CONTROL.search(value):
        raise error(field, value, "must not contain control characters")
    return fold(_INVISIBLE.sub("", value))


def fold(text: str) -> str:
    """`clean` of text with no surrogate, control or invisible character.

    Printable text (`str.isprintable`) is such text: surrogates, control
    characters and the invisible format characters are all unprintable.
    """
    text = unicodedata.normalize("NFKC", text)
    # NFKC again after case folding: folding can leave non-NFKC sequences.
    return unicodedata.normalize("NFKC", text.casefold())


def squeeze_spaces(text: str) -> str:
    """Collapse whitespace runs to one space; drop spaces next to Han, kana, Hangul."""
    return _SPACE_BY_WIDE.sub("", _WHITESPACE.sub(" ", text).strip())


def squeeze_separators(text: str) -> str:
    """Like `squeeze_spaces`, with punctuation and symbols folded as whitespace.

    Combining marks and unassigned characters are part of the words they
    stand in, not separators.
    """
    if text.isalnum():
        # Letters and digits only (what `\w` is, less the underscore):
        # nothing to fold.
        return text
    spaced = _SEPARATORS.sub(_spaced, text)
    if "  " in spaced:
        spaced = _WHITESPACE.sub(" ", spaced)
    return _SPACE_BY_WIDE.sub("", spaced.strip())


def _spaced(run: re.Match[str]) -> str:
    """A run of separators as a space, keeping the word characters among it."""
    found = run.group()
    if found.isascii():
        return " "  # ASCII has no combining marks and nothing unassigned
    return "".join(c if unicodedata.category(c) in _IN_WORDS else " " for c in found)


def join_squeezed(head: str, tail: str, joint: str = "") -> str:
    """`squeeze_separators(f"{a} {b}")`, given `head` and `tail` squeezed from a and b.

    The space between them goes, as every space does, when a wide character
    is on either side of it, and `joint` stands in its place; an empty side
    leaves the other as it is.
    """
    if not head:
        return tail
    if not tail:
        return head
    if _IS_WIDE.match(head[-1]) or _IS_WIDE.match(tail[0]):
        return head + joint + tail
    return f"{head} {tail}"


def normalize_name(text: str, *, field: str = "name") -> str:
    """Fold a person's name for comparison: Unicode form, case and whitespace.

    NFKC (full-width forms become plain ones), case folding, whitespace runs
    collapsed to one space, and no space kept next to Chinese, Japanese or
    Korean characters (`"张 三"` and `"张三"` agree). Punctuation is kept:
    `"O'Brien"` stays apart from `"OBrien"`. An empty or blank name gives `""`.

    Args:
        text: The name as the channel sent it.
        field: The name of the field, for errors.

    Returns:
        The folded name.

    Raises:
        ValidationError: `text` is not a string, or contains a lone surrogate
            or a control character other than whitespace.

    .. versionadded:: 0.1.0
    """
    return squeeze_spaces(clean(text, field))


def normalize_sku(text: str, *, field: str = "sku") -> str:
    """Fold a SKU for comparison: Unicode form, case and whitespace.

    NFKC (full-width `RETRO-CLOCK` becomes plain `retro-clock`), case folding
    to lower case, and whitespace runs collapsed to one space. Punctuation is
    kept: `"A-1"` and `"A1"` may be different products.

    Args:
        text: The SKU as the channel sent it.
        field: The name of the field, for errors.

    Returns:
        The folded SKU.

    Raises:
        ValidationError: `text` is not a string, is blank, or contains a lone
            surrogate or a control character other than whitespace.

    .. versionadded:: 0.1.0
    """
    cached = type(text) is str and len(text) <= _CACHED_LENGTH
    sku = _fold_sku(text) if cached else None
    if sku is None:
        # Uncached: long, not a string, or broken (raised here with its field).
        sku = squeeze_spaces(clean(text, field))
    if not sku:
        raise ValidationError(field, text, "a SKU must not be blank")
    return sku


@functools.lru_cache(maxsize=_SKU_CACHE_SIZE)
def _fold_sku(text: str) -> str | None:
    # Cached: a catalogue's SKUs repeat on every order. None for broken text,
    # which the caller folds again uncached, to raise with its field name.
    try:
        return squeeze_spaces(clean(text, "sku"))
    except ValidationError:
        return None
