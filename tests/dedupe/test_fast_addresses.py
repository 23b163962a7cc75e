"""Text and addresses folded by shortcuts fold as the plain definitions did.

The address key is part of every `address+skus` fingerprint, which users
persist: each shortcut on the way to it (printable text folded without its
checks, parts squeezed once and joined, provinces looked up by their first
character) is held here against the definition it replaced, and the whole
key against the whole former reading.
"""

from __future__ import annotations

import re
import sys
import unicodedata
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from orderkit.dedupe import _addresses, _text
from orderkit.errors import InvalidAddress, OrderkitError, ValidationError


# The definitions the shortcuts replace.
_OLD_SPACE_BY_WIDE = re.compile(f" (?=[{_text._WIDE}])|(?<=[{_text._WIDE}]) ")
_OLD_PROVINCE = re.compile(
    "|".join(
        re.escape(form)
        for form in sorted(_addresses._PROVINCE_FORMS, key=len, reverse=True)
    )
)


# Letters, digits, combining marks and characters this Python's Unicode has
# not assigned (or leaves to private use) make words; everything else is a space.
_IN_WORDS = {"Mn", "Mc", "Me", "Cn", "Co"}


def old_squeeze(text: str) -> str:
    spaced = "".join(
        c if c.isalnum() or unicodedata.category(c) in _IN_WORDS else " " for c in text
    )
    return _OLD_SPACE_BY_WIDE.sub("", re.sub(" +", " ", spaced).strip())


def old_clean(value: str, field: str) -> str:
    if _text._SURROGATE.search(value):
        raise ValidationError(
            field, value, "contains a lone surrogate, which is not text"
        )
    if _text._CONTROL.search(value):
        raise ValidationError(field, value, "must not contain control characters")
    text = unicodedata.normalize("NFKC", _text._INVISIBLE.sub("", value))
    return unicodedata.normalize("NFKC", text.casefold())


# Where two parts meet when no space separates them (changed on purpose: each
# part is read on its own, so "青岛" + "市南区" is not "青岛市" + "南区").
_MARK = "\x1f"
_OLD_WIDE = re.compile(f"[{_text._WIDE}]")


def old_join(*parts: str) -> str:
    text = ""
    for part in filter(None, map(old_squeeze, parts)):
        wide = text and (_OLD_WIDE.match(text[-1]) or _OLD_WIDE.match(part[0]))
        text = f"{text}{_MARK if wide else ' '}{part}" if text else part
    return text


def old_read_chinese(*parts: str) -> tuple[str, bool]:
    rest = old_join(*parts)
    match = _OLD_PROVINCE.match(rest)
    province = _addresses._PROVINCE_FORMS[match[0]] if match else ""
    end = match.end() if match else 0
    if match and match[0] == province and rest[match.end() :].startswith("市"):
        province, match = "", None
    elif province and any(
        rest.startswith(province + p) for p in _addresses._PLACEHOLDERS
    ):
        # Changed on purpose: "北京市辖区" is 北京 and 市辖区, not 北京市 and 辖区.
        end = len(province)
    if match:
        rest = rest[end:].lstrip(_MARK)
    province = province or old_province_of_city(rest)
    if province in _addresses._MUNICIPALITIES:
        repeated = (f"{province}市", province, *_addresses._PLACEHOLDERS)
        while rest.startswith(repeated):
            rest = rest[len(next(r for r in repeated if rest.startswith(r))) :]
            rest = rest.lstrip(_MARK)
        return province + rest.replace(_MARK, ""), True
    if province:
        for placeholder in _addresses._PLACEHOLDERS:
            rest = rest.removeprefix(placeholder)
        rest = rest.lstrip(_MARK)
    cities = []
    for _ in range(2):
        city = _addresses._CITY.match(rest)
        if city is None:
            break
        cities.append(city[1])
        rest = rest[city.end() :].lstrip(_MARK)
    return province + "".join(cities) + rest.replace(_MARK, ""), bool(province)


# Changed on purpose: a district's suffix (区, 县 or 旗 after two characters
# of a name, not before a road word) is dropped from the key, so that 南山区
# and 南山 agree.
_UNIT_ENDS = set("省市区县旗")


def old_drop_suffixes(key: str) -> str:
    kept = []
    for at, char in enumerate(key):
        before = key[max(0, at - 2) : at]
        if (
            char in {"区", "县", "旗"}
            and len(before) == 2
            and all("\u4e00" <= c <= "\u9fff" and c not in _UNIT_ENDS for c in before)
            and not key[at + 1 :].startswith(_addresses._ROAD_WORDS)
        ):
            continue
        kept.append(char)
    return "".join(kept)


def old_province_of_city(rest: str) -> str:
    # Changed on purpose: a prefecture-level city with its 市 (or alone in its
    # part) names its province.
    for name, short in sorted(old_cities().items(), key=lambda c: -len(c[0])):
        if re.match(f"{name}(?:市|{_MARK}|$)", rest):
            return short
    return ""


def old_cities() -> dict[str, str]:
    return {
        city: province
        for province, cities in _addresses._PREFECTURE_CITIES.items()
        for city in cities.split()
    }


# Changed on purpose: traditional forms of the characters addresses are
# built of read as the simplified ones, in China's ways of writing.
_OLD_SIMPLIFIED = dict(
    zip("號樓區縣單門層棟鎮鄉廈園臺", "号楼区县单门层栋镇乡厦园台", strict=True)
)


def old_simplified(text: str) -> str:
    return "".join(_OLD_SIMPLIFIED.get(c, c) for c in text)


def old_north_american(country: str, words: str) -> str:
    # Changed on purpose: a state or province written out at the end is its
    # code, and USPS suffixes and unit designators are abbreviated.
    names = {"US": _addresses._US_STATES, "CA": _addresses._CA_PROVINCES}[country]
    for name in sorted(names, key=len, reverse=True):
        if words.endswith(f" {name}"):
            words = words[: -len(name)] + names[name]
            break
    for long, short in _addresses._ABBREVIATIONS.items():
        words = re.sub(rf"\b{long}\b", short, words)
    words = re.sub(r"\b(apt|ste)([0-9])", r"\1 \2", words)
    return re.sub(r"\b(apt|ste)( \1)+\b", r"\1", words)


def old_words(country: str, folded: dict[str, str]) -> str:
    if country in {"US", "CA"}:
        folded["street"] = re.sub(r"#\s*(?=[0-9a-z])", " unit ", folded["street"])
    names = ("street", "district", "city", "province")
    words = old_squeeze(" ".join(folded[name] for name in names))
    if country in {"US", "CA"}:
        words = old_north_american(country, words)
    return words


def old_simplified_parts(folded: dict[str, str]) -> dict[str, str]:
    folded = {name: old_simplified(value) for name, value in folded.items()}
    street_text = old_squeeze(folded["street"])
    if re.search("[0-9a-z]室$", street_text):
        # Changed on purpose: room 1201室 is room 1201.
        folded["street"] = street_text[:-1]
    return folded


def old_key(country: str, parts: tuple[str, str, str, str]) -> str | None:
    names = ("province", "city", "district", "street")
    folded = {}
    for name, value in zip(names, parts, strict=True):
        try:
            folded[name] = old_clean(value, f"address.{name}")
        except ValidationError as error:
            raise InvalidAddress(error.field, value, error.problem) from None
    # Masks hide characters by the rule `_hides` states (tested on its own in
    # test_mask_decoration.py); decorative ones fold away as punctuation.
    if any(
        _addresses._MASK.search(value) and _addresses._hides(value)
        for value in folded.values()
    ):
        return None
    if not old_squeeze(folded["street"]):
        raise InvalidAddress(
            "address.street",
            parts[3],
            "is blank once whitespace and punctuation are folded",
        )
    if country not in _addresses._CHINESE_WRITING:
        return f"{country}:{old_words(country, folded)}"
    folded = old_simplified_parts(folded)
    if old_squeeze(folded["city"]) in _addresses._PLACEHOLDERS:
        # A placeholder city names nothing (changed on purpose: joined to a
        # municipality without 市, "北京" + "市辖区" read as "北京市" + "辖区").
        folded["city"] = ""
    head = [folded[name] for name in names[:3]]
    head_key, _ = old_read_chinese(*head)
    if not head_key:
        street_key = old_read_chinese(folded["street"])[0]
        return f"{country}:{old_drop_suffixes(street_key)}"
    street = old_squeeze(folded["street"])
    street_key, street_has_province = old_read_chinese(street)
    city, district = old_squeeze(folded["city"]), old_squeeze(folded["district"])
    sure = street_has_province or district.endswith(_addresses._DISTRICT_SUFFIXES)
    if street_key.startswith(head_key) and sure:
        return f"{country}:{old_drop_suffixes(street_key)}"
    rest = old_unrepeated(street, city, district)
    after = old_after_province(folded["province"], street)
    if after and old_unrepeated(after, city, district) != after:
        rest = old_unrepeated(after, city, district)
    whole, _ = old_read_chinese(*head, rest)
    return f"{country}:{old_drop_suffixes(whole)}"


def old_after_province(province_part: str, street: str) -> str:
    # Changed on purpose: after the head's province, the city and district
    # repeated as the head has them ("山东 青岛 市南区 ..." under 山东/青岛市/市南区).
    province = _OLD_PROVINCE.match(old_squeeze(province_part))
    named = _OLD_PROVINCE.match(street)
    if not province or not named:
        return ""
    short = _addresses._PROVINCE_FORMS[province[0]]
    if _addresses._PROVINCE_FORMS[named[0]] != short:
        return ""
    after = street[named.end() :]
    if any(street.startswith(short + p) for p in _addresses._PLACEHOLDERS):
        after = street[len(short) :]
    for placeholder in _addresses._PLACEHOLDERS:
        after = after.removeprefix(placeholder)
    return after


def old_unrepeated(street: str, city: str, district: str) -> str:
    # Changed on purpose: a street that starts by repeating the district
    # (with its suffix), the city and district, or a city with 市 and no
    # district, not before a road word, is read without the repeat.
    name = city.removesuffix("市")
    tails = [f"{name}市"] if name and not district else []
    # Changed on purpose: a county-level city (昆山市) repeated too, not
    # before a road word or 场 (市场, a market).
    if len(district) > 1 and district.endswith((*_addresses._DISTRICT_SUFFIXES, "市")):
        cities = [f"{name}市", name] if name else []
        tails = [*(old_squeeze(f"{c} {district}") for c in cities), district]
    elif (
        len(district) > 1
        and not set(district) & _UNIT_ENDS
        and all("\u4e00" <= c <= "\u9fff" for c in district)
    ):
        # Changed on purpose: a district given without its suffix (南山) and
        # repeated with it (南山区).
        cities = [f"{name}市", name] if name else []
        named = [f"{district}{s}" for s in _addresses._DISTRICT_SUFFIXES]
        tails = [*(old_squeeze(f"{c} {d}") for c in cities for d in named), *named]
    for tail in tails:
        rest = street.removeprefix(tail)
        guard = (
            (*_addresses._ROAD_WORDS, "场")
            if tail.endswith("市")
            else _addresses._ROAD_WORDS
        )
        if rest not in {"", street} and not rest.startswith(guard):
            return rest
    return street


def outcome(call: Any, *args: Any) -> object:
    """What a call returns, or the type, field and message of what it raises."""
    try:
        return call(*args)
    except OrderkitError as error:
        return (type(error), getattr(error, "field", None), str(error))


# Pieces of Chinese addresses: every province-level form, cities with and
# without their suffix, placeholders, streets, and characters that fold.
pieces = st.one_of(
    st.sampled_from(sorted(_addresses._PROVINCE_FORMS)),
    st.sampled_from(["深圳", "深圳市", "苏州市昆山市", "吉林市", "广州路", "朝阳区"]),
    st.sampled_from(
        ["南山", "南山区", "滨海新区", "大道", "东区", "自治县", "鄂温克旗"]
    ),
    st.sampled_from([*_addresses._PLACEHOLDERS, "区", "县", "旗", "号", "市"]),
    st.text(alphabet="路号栋室1\uff123-_ ,.\u3000\u200bAaß\t*", max_size=4),
)
part_texts = st.lists(pieces, max_size=4).map("".join)


class TestTextShortcuts:
    """Folding printable text and squeezing words skip only what is absent."""

    def test_printable_text_has_nothing_clean_refuses_or_drops(self) -> None:
        printable = "".join(
            c for c in map(chr, range(sys.maxunicode + 1)) if c.isprintable()
        )
        assert not _text._SURROGATE.search(printable)
        assert not _text._CONTROL.search(printable)
        assert not _text._INVISIBLE.search(printable)

    def test_alphanumeric_is_what_separators_are_not(self) -> None:
        everything = list(map(chr, range(sys.maxunicode + 1)))
        alnum = "".join(c for c in everything if c.isalnum())
        other = "".join(c for c in everything if not c.isalnum())
        assert not _text._SEPARATORS.search(alnum)
        assert _text._SEPARATORS.fullmatch(other)

    @given(st.text())
    def test_clean_is_the_plain_definition(self, value: str) -> None:
        assert outcome(_text.clean, value, "f") == outcome(old_clean, value, "f")

    @given(st.text(alphabet="北京 a1_-.\u3000\t\U00020000", max_size=16))
    def test_squeezing_is_the_plain_definition(self, text: str) -> None:
        assert _text.squeeze_separators(text) == old_squeeze(text)

    @given(st.text(alphabet="北 a\u3000\U00020000\t", max_size=12))
    def test_spaces_by_wide_characters_are_the_same_spaces(self, text: str) -> None:
        found = _text._SPACE_BY_WIDE.sub("", text)
        assert found == _OLD_SPACE_BY_WIDE.sub("", text)
        assert _text.squeeze_spaces(text) == _OLD_SPACE_BY_WIDE.sub(
            "", _text._WHITESPACE.sub(" ", text).strip()
        )

    @given(st.text(max_size=8), st.text(alphabet="北京 a1_-.\u3000", max_size=8))
    def test_joining_squeezed_parts_squeezes_them_joined(self, a: str, b: str) -> None:
        joined = _text.join_squeezed(_text.squeeze_separators(a), old_squeeze(b))
        assert joined == old_squeeze(f"{a} {b}")


class TestProvinceLookup:
    """The forms looked up by their first character: the longest one, as before."""

    @given(
        st.sampled_from(sorted(_addresses._PROVINCE_FORMS)),
        st.text(alphabet="市省自治区北京广东内蒙古吉林路", max_size=6),
    )
    def test_the_same_form_as_the_alternation(self, form: str, rest: str) -> None:
        for text in (form + rest, rest + form, rest):
            match = _OLD_PROVINCE.match(text)
            assert _addresses._province_form(text) == (match[0] if match else None)


class TestAddressKeys:
    """The whole key, read the new way, is the key read the former way."""

    @settings(max_examples=500)
    @given(
        st.sampled_from(["CN", "CN", "HK", "US"]),
        st.tuples(part_texts, part_texts, part_texts, part_texts),
    )
    def test_the_key_is_the_former_key(
        self, country: str, parts: tuple[str, str, str, str]
    ) -> None:
        fast = outcome(_addresses._key.__wrapped__, country, parts, "address")
        assert fast == outcome(old_key, country, parts)

    @given(part_texts)
    def test_a_street_reads_as_it_did(self, text: str) -> None:
        assert _addresses._read_chinese(text) == old_read_chinese(text)
