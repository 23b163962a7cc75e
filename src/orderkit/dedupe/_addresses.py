"""Addresses to comparison keys: one key for one place, however it is written."""

from __future__ import annotations

import functools
import re
from typing import TYPE_CHECKING, Final, NamedTuple

from orderkit.dedupe._text import clean, join_squeezed, squeeze_separators
from orderkit.errors import InvalidAddress


if TYPE_CHECKING:
    # Only for annotations: orderkit.orders imports orderkit.dedupe.
    from orderkit.orders import Address


# Where addresses are written the Chinese way, largest unit first and
# without spaces, and where the suffix table below applies.
_CHINESE_WRITING: Final = frozenset({"CN", "HK", "MO", "TW"})
_MUNICIPALITIES: Final = ("北京", "天津", "上海", "重庆")
_PROVINCES: Final = (
    "河北", "山西", "辽宁", "吉林", "黑龙江", "江苏", "浙江", "安徽", "福建", "江西",
    "山东", "河南", "湖北", "湖南", "广东", "海南", "四川", "贵州", "云南", "陕西",
    "甘肃", "青海", "台湾",
)  # fmt: skip
_AUTONOMOUS_REGIONS: Final = {
    "内蒙古": "内蒙古自治区",
    "广西": "广西壮族自治区",
    "西藏": "西藏自治区",
    "宁夏": "宁夏回族自治区",
    "新疆": "新疆维吾尔自治区",
}
_SPECIAL_REGIONS: Final = ("香港", "澳门")
# Traditional spellings that NFKC leaves alone.
_TRADITIONAL: Final = {
    "澳門": "澳门",
    "澳門特別行政區": "澳门",
    "香港特別行政區": "香港",
    "臺灣": "台湾",
    "台灣": "台湾",
    "臺灣省": "台湾",
    "台灣省": "台湾",
}


def _province_forms() -> dict[str, str]:
    """Every way of writing a province-level name, mapped to its short form."""
    forms: dict[str, str] = {}
    for name in _MUNICIPALITIES:
        forms |= {name: name, f"{name}市": name}
    for name in _PROVINCES:
        forms |= {name: name, f"{name}省": name}
    for name, official in _AUTONOMOUS_REGIONS.items():
        forms |= {name: name, f"{name}自治区": name, official: name}
    for name in _SPECIAL_REGIONS:
        forms |= {name: name, f"{name}特别行政区": name, f"{name}特区": name}
    return forms | _TRADITIONAL


# Province-level names as written, each mapped to the form keys are built with.
_PROVINCE_FORMS: Final = _province_forms()


def _forms_by_first() -> dict[str, tuple[str, ...]]:
    """The province-level forms by their first character, longest first."""
    by_first: dict[str, list[str]] = {}
    for form in sorted(_PROVINCE_FORMS, key=len, reverse=True):
        by_first.setdefault(form[0], []).append(form)
    return {first: tuple(forms) for first, forms in by_first.items()}


# Looked up by the first character, the longest form first: what a regex
# alternation of the forms, longest first, matches, without trying each.
_FORMS_BY_FIRST: Final = _forms_by_first()
# Where two structured parts meet in the text read (`_join_parts`): a control
# character, which `clean` refuses in every part, so never one of theirs.
_PART: Final = "\x1f"
# Placeholders of the national division codes (GB/T 2260) that some platforms
# send as the city: "北京市 / 市辖区 / 朝阳区", "湖北省 / 省直辖县级行政区划 / 仙桃市".
_PLACEHOLDERS: Final = ("省直辖县级行政区划", "自治区直辖县级行政区划", "市辖区")
# A city written with its 市 suffix: two to four Han characters none of which
# ends an administrative unit or names a street part, then 市; or such
# characters that end a structured part (`_PART` follows), as a city field
# without its 市 ("苏州" / "昆山市" is 苏州市 / 昆山市).
_CITY = re.compile(
    r"((?:(?![省市区县旗镇乡村街路道巷弄号楼栋室])[\u4e00-\u9fff]){2,4})(?:市|(?=\x1f))"
)
# Platforms (and buyers) often repeat the whole address in the street field;
# a repeat is recognised only when it is unmistakable.
_DISTRICT_SUFFIXES: Final = ("区", "县", "旗")
# What follows a district's name when the name is part of a road's
# (矿区路 in 矿区), not a repeat of the district.
_ROAD_WORDS: Final = ("路", "街", "道", "巷", "弄", "大道", "大街")
# The characters with which Chinese platforms mask an address.
_MASK = re.compile("[*\u2022\u25cf\u2217]")
_CACHE_SIZE = 8_192
# Provinces, cities and districts as written: China has some 3,000 districts.
_HEAD_CACHE_SIZE = 4_096
# Longer addresses are folded without the cache, which so holds at most a
# few megabytes whatever the input.
_CACHED_LENGTH = 256


def normalize_address(address: Address, *, field: str = "address") -> str | None:
    """The comparison key of an address: one key for one place, however written.

    Every part is NFKC-normalised (full-width forms become plain ones), case
    folded, and its whitespace and punctuation folded; no space is kept next to
    Chinese characters. Then, for addresses in CN, HK, MO and TW:

    - province-level names lose their suffixes: 北京市 and 北京, 广东省 and
      广东, 广西壮族自治区 and 广西 (and every autonomous region), 香港特别行政区
      and 香港 give the same key;
    - a municipality repeated as the city (`北京 / 北京市 / 朝阳区`) and the
      GB/T 2260 placeholders (`市辖区`) are dropped;
    - the 市 suffix of the first two cities after the province is dropped
      (深圳市 and 深圳, 苏州市昆山市 and 苏州昆山);
    - each structured part is read on its own, so no suffix runs from one
      part into the next: `青岛 / 市南区` is the city 青岛 and the district
      市南区, as `青岛市 / 市南区` is, and a city field without its 市 counts
      as a city (`苏州 / 昆山市` and `苏州市 / 昆山市` agree);
    - the parts may be structured or all in `street`: `北京市朝阳区建国路88号` in
      the street alone gives the key of `北京 / 北京市 / 朝阳区 / 建国路88号`,
      and a street that repeats the whole structured part, its suffixes
      written or not (`山东 青岛 市南区 ...`, `北京 市辖区 朝阳区 ...`), is
      read once, as is one that starts with the district (`南山区科技园1号`),
      the city and district (`深圳市南山区...`, with or without 市) or, when
      there is no district, the city with its 市; a district repeated so is
      recognised only with its suffix (区, 县 or 旗), and not before a road
      word (矿区路 in 矿区 is a road).

    Other addresses are compared by their words: street, district, city and
    province, in that order. The postcode, the recipient and the phone are
    not part of the key: channels fill postcodes inconsistently, and the
    other parts already locate the door.

    Args:
        address: The structured address.
        field: The name of the address, for errors (`"order.address"`).

    Returns:
        The key, the country code, a colon and the folded text
        (`"CN:北京朝阳区建国路88号"`), or `None` for an address masked by its
        channel (`建国路**号`), which counts as absent, like a masked phone.

    Raises:
        InvalidAddress: The street is blank once folded, or a part contains a
            lone surrogate or a control character other than whitespace.

    .. versionadded:: 0.1.0
    """
    parts = (address.province, address.city, address.district, address.street)
    if sum(map(len, parts)) > _CACHED_LENGTH:
        return _key.__wrapped__(address.country, parts, field)
    return _key(address.country, parts, field)


@functools.lru_cache(maxsize=_CACHE_SIZE)
def _key(country: str, parts: tuple[str, str, str, str], field: str) -> str | None:
    # Cached: repeat buyers send the same address, and folding costs several
    # microseconds. Errors are not cached; they are raised again.
    province, city, district, street = parts
    cached = len(province) + len(city) + len(district) <= _CACHED_LENGTH
    head = (_head if cached else _head.__wrapped__)(province, city, district, field)
    folded = clean(street, f"{field}.street", InvalidAddress)
    if head.masked or _MASK.search(folded):
        return None
    squeezed = squeeze_separators(folded)
    if not squeezed:
        raise InvalidAddress(
            f"{field}.street",
            street,
            "is blank once whitespace and punctuation are folded",
        )
    if country in _CHINESE_WRITING:
        body = _chinese_key(head, squeezed)
    else:
        province, city, district = head.folded
        body = squeeze_separators(f"{folded} {district} {city} {province}")
    return f"{country}:{body}"


class _Head(NamedTuple):
    """The province, city and district of an address, folded and read once."""

    folded: tuple[str, str, str]
    masked: bool
    province: str  # the short form the province field starts with, or ""
    district: str  # squeezed
    text: str  # the three squeezed parts joined by `_join_parts`
    key: str  # `_read_squeezed(text)`'s key
    closed: bool  # whether a street after `text` is read as it is
    tails: tuple[str, ...]  # `_tails` of the squeezed city and district


@functools.lru_cache(maxsize=_HEAD_CACHE_SIZE)
def _head(province: str, city: str, district: str, field: str) -> _Head:
    # Cached apart from the whole key: the streets of new addresses differ,
    # their provinces, cities and districts (some thousands) repeat.
    folded = (
        clean(province, f"{field}.province", InvalidAddress),
        clean(city, f"{field}.city", InvalidAddress),
        clean(district, f"{field}.district", InvalidAddress),
    )
    squeezed = [squeeze_separators(value) for value in folded]
    if squeezed[1] in _PLACEHOLDERS:
        # Dropped before joining: "北京" + "市辖区" would read as "北京市" + "辖区".
        squeezed[1] = ""
    text = _join_parts(_join_parts(squeezed[0], squeezed[1]), squeezed[2])
    masked = any(_MASK.search(value) for value in folded)
    key = _read_squeezed(text)[0]
    # Read as if a street followed: a closed head takes any street as it is.
    closed = not _read_squeezed(text + _PART)[2]
    form = _province_form(squeezed[0])
    tails = _tails(squeezed[1], squeezed[2])
    named = "" if form is None else _PROVINCE_FORMS[form]
    return _Head(folded, masked, named, squeezed[2], text, key, closed, tails)


def _join_parts(head: str, tail: str) -> str:
    """`join_squeezed` of two parts, marking where they meet.

    Each part is read on its own: the mark stops a name or a suffix from
    running across parts, so that "青岛" + "市南区" is the city 青岛 and the
    district 市南区, as "青岛市" + "市南区" is, not the city 青岛市 and 南区.
    `_read_squeezed` drops the marks.
    """
    return join_squeezed(head, tail, _PART)


def _tails(city: str, district: str) -> tuple[str, ...]:
    """How a street can start by repeating the end of its head, longest first.

    Each ends with a suffix written out, so that it is unmistakable: "南山区"
    repeats the district 南山区, "南山路" does not.
    """
    name = city.removesuffix("市")
    if len(district) > 1 and district.endswith(_DISTRICT_SUFFIXES):
        cities = (f"{name}市", name) if name else ()
        return (*(join_squeezed(c, district) for c in cities), district)
    if name and not district:
        return (f"{name}市",)
    return ()


def _chinese_key(head: _Head, street: str) -> str:
    # The street comes squeezed, and is joined as squeezing it joined would.
    if not head.key:
        # Everything is in the street.
        return _read_squeezed(street)[0]
    street_key, street_has_province, _ = _read_squeezed(street)
    # A bare "广州" head and a "广州路5号" street are not a repeat; a district
    # ("朝阳区朝阳区") or a province at the start of the street makes one sure.
    sure = street_has_province or head.district.endswith(_DISTRICT_SUFFIXES)
    if sure and street_key.startswith(head.key):
        return street_key
    rest = _unrepeated(head.tails, street) if street.startswith(head.tails) else None
    if rest is None and head.province and street[:1] in _FORMS_BY_FIRST:
        after = _after_province(head.province, street)
        if after.startswith(head.tails):
            rest = _unrepeated(head.tails, after)
    if head.closed:
        # What reading the head and the street joined gives, without reading
        # the head again: the key and the text of a closed head both end with
        # a wide character or with the same one, so they join alike.
        return join_squeezed(head.key, rest or street)
    return _read_squeezed(_join_parts(head.text, rest or street))[0]


def _after_province(province: str, street: str) -> str:
    """The street after the province it starts with, if that is the head's."""
    # A "full address" repeats the head with its suffixes written as its
    # writer chose ("山东 青岛 市南区" under 山东省 / 青岛市 / 市南区), which
    # reading the street alone cannot tell from 青岛市 + 南区: the head's own
    # city and district, after its province, are a repeat however written.
    form = _province_form(street)
    if not province or form is None or _PROVINCE_FORMS[form] != province:
        return ""
    rest = street[len(form) :]
    if street.startswith(province) and street.startswith(_PLACEHOLDERS, len(province)):
        rest = street[len(province) :]
    for placeholder in _PLACEHOLDERS:
        rest = rest.removeprefix(placeholder)
    return rest


def _unrepeated(tails: tuple[str, ...], street: str) -> str | None:
    """The street without the head's tail it starts with, or None if it has none."""
    # Buyers type the door after the district or the city they picked, and
    # repeat them: such a street reads as if they had not.
    for tail in tails:
        if street.startswith(tail):
            rest = street[len(tail) :]
            if rest and not rest.startswith(_ROAD_WORDS):
                return rest
    return None


def _read_chinese(text: str) -> tuple[str, bool]:
    """The key of an address written the Chinese way; whether it had a province."""
    key, has_province, _ = _read_squeezed(squeeze_separators(text))
    return key, has_province


def _province_form(text: str) -> str | None:
    """The province-level form `text` starts with, the longest if several do."""
    for form in _FORMS_BY_FIRST.get(text[:1], ()):
        if text.startswith(form):
            return form
    return None


def _read_squeezed(rest: str) -> tuple[str, bool, bool]:
    """`_read_chinese` of text squeezed already, its parts joined by `_join_parts`.

    The third value says whether the reading is open: whether it consumed
    the whole text, so that more text after it could be read on (a city
    after a province); a closed reading takes what follows as it is.
    """
    province = ""
    form = _province_form(rest)
    if form is not None:
        province = _PROVINCE_FORMS[form]
        if form == province and rest.startswith("市", len(form)):
            # "吉林市..." is the city of Jilin, not the province of that name.
            province = ""
        else:
            if rest.startswith(province) and rest.startswith(
                _PLACEHOLDERS, len(province)
            ):
                # "北京市辖区" is 北京 and the placeholder 市辖区, not 北京市 and 辖区.
                form = province
            rest = rest[len(form) :].lstrip(_PART)
    if province in _MUNICIPALITIES:
        repeated = (f"{province}市", province, *_PLACEHOLDERS)
        while rest.startswith(repeated):
            rest = rest[len(next(r for r in repeated if rest.startswith(r))) :]
            rest = rest.lstrip(_PART)
        return province + rest.replace(_PART, ""), True, not rest
    if province and rest.startswith(_PLACEHOLDERS):
        for placeholder in _PLACEHOLDERS:
            rest = rest.removeprefix(placeholder)
        rest = rest.lstrip(_PART)
    # Up to two cities with their 市 suffix.
    city = _CITY.match(rest)
    if city is None:
        return province + rest.replace(_PART, ""), bool(province), not rest
    cities = city[1]
    rest = rest[city.end() :].lstrip(_PART)
    city = _CITY.match(rest)
    if city is None:
        return province + cities + rest.replace(_PART, ""), bool(province), not rest
    rest = rest[city.end() :].replace(_PART, "")
    return province + cities + city[1] + rest, bool(province), False
