"""Addresses to comparison keys: one key for one place, however it is written."""

from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Mapping
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
# Traditional forms of the characters addresses are built of (号, 楼, 区,
# 单元, 门, 层 ...), which NFKC leaves alone: buyers in Hong Kong, Macao
# and Taiwan, and input methods set to traditional, write them. Only these:
# a place's own name in traditional characters (九龍, 彌敦道) is not folded,
# which would take a whole conversion table.
_SIMPLIFIED: Final = str.maketrans(
    {
        "號": "号", "樓": "楼", "區": "区", "縣": "县", "單": "单", "門": "门",
        "層": "层", "棟": "栋", "鎮": "镇", "鄉": "乡", "廈": "厦", "園": "园",
        # 臺北 and 台北 are both official.
        "臺": "台",
    }
)  # fmt: skip
_HAS_TRADITIONAL: Final = re.compile("[號樓區縣單門層棟鎮鄉廈園臺]")
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
    # Read after `_SIMPLIFIED`, which folds some of their characters.
    folded = {form.translate(_SIMPLIFIED): name for form, name in _TRADITIONAL.items()}
    return forms | _TRADITIONAL | folded


# Province-level names as written, each mapped to the form keys are built with.
_PROVINCE_FORMS: Final = _province_forms()
# The prefecture-level cities (地级市) by province, to read the province of
# an address that names only its city (深圳市南山区... is 广东's). Their
# names are unique in the country; 吉林 is a province and its city.
_PREFECTURE_CITIES: Final = {
    "河北": "石家庄 唐山 秦皇岛 邯郸 邢台 保定 张家口 承德 沧州 廊坊 衡水",
    "山西": "太原 大同 阳泉 长治 晋城 朔州 晋中 运城 忻州 临汾 吕梁",
    "内蒙古": "呼和浩特 包头 乌海 赤峰 通辽 鄂尔多斯 呼伦贝尔 巴彦淖尔 乌兰察布",
    "辽宁": "沈阳 大连 鞍山 抚顺 本溪 丹东 锦州 营口 阜新 辽阳 盘锦 铁岭 朝阳 葫芦岛",
    "吉林": "长春 吉林 四平 辽源 通化 白山 松原 白城",
    "黑龙江": (
        "哈尔滨 齐齐哈尔 鸡西 鹤岗 双鸭山 大庆 伊春 佳木斯 七台河 牡丹江 黑河 绥化"
    ),
    "江苏": "南京 无锡 徐州 常州 苏州 南通 连云港 淮安 盐城 扬州 镇江 泰州 宿迁",
    "浙江": "杭州 宁波 温州 嘉兴 湖州 绍兴 金华 衢州 舟山 台州 丽水",
    "安徽": (
        "合肥 芜湖 蚌埠 淮南 马鞍山 淮北 铜陵 安庆 黄山 滁州 阜阳 宿州 六安 亳州"
        " 池州 宣城"
    ),
    "福建": "福州 厦门 莆田 三明 泉州 漳州 南平 龙岩 宁德",
    "江西": "南昌 景德镇 萍乡 九江 新余 鹰潭 赣州 吉安 宜春 抚州 上饶",
    "山东": (
        "济南 青岛 淄博 枣庄 东营 烟台 潍坊 济宁 泰安 威海 日照 临沂 德州 聊城"
        " 滨州 菏泽"
    ),
    "河南": (
        "郑州 开封 洛阳 平顶山 安阳 鹤壁 新乡 焦作 濮阳 许昌 漯河 三门峡 南阳"
        " 商丘 信阳 周口 驻马店"
    ),
    "湖北": "武汉 黄石 十堰 宜昌 襄阳 鄂州 荆门 孝感 荆州 黄冈 咸宁 随州",
    "湖南": "长沙 株洲 湘潭 衡阳 邵阳 岳阳 常德 张家界 益阳 郴州 永州 怀化 娄底",
    "广东": (
        "广州 韶关 深圳 珠海 汕头 佛山 江门 湛江 茂名 肇庆 惠州 梅州 汕尾 河源"
        " 阳江 清远 东莞 中山 潮州 揭阳 云浮"
    ),
    "广西": "南宁 柳州 桂林 梧州 北海 防城港 钦州 贵港 玉林 百色 贺州 河池 来宾 崇左",
    "海南": "海口 三亚 三沙 儋州",
    "四川": (
        "成都 自贡 攀枝花 泸州 德阳 绵阳 广元 遂宁 内江 乐山 南充 眉山 宜宾 广安"
        " 达州 雅安 巴中 资阳"
    ),
    "贵州": "贵阳 六盘水 遵义 安顺 毕节 铜仁",
    "云南": "昆明 曲靖 玉溪 保山 昭通 丽江 普洱 临沧",
    "西藏": "拉萨 日喀则 昌都 林芝 山南 那曲",
    "陕西": "西安 铜川 宝鸡 咸阳 渭南 延安 汉中 榆林 安康 商洛",
    "甘肃": "兰州 嘉峪关 金昌 白银 天水 武威 张掖 平凉 酒泉 庆阳 定西 陇南",
    "青海": "西宁 海东",
    "宁夏": "银川 石嘴山 吴忠 固原 中卫",
    "新疆": "乌鲁木齐 克拉玛依 吐鲁番 哈密",
}


def _cities_by_first() -> dict[str, tuple[tuple[str, str], ...]]:
    """Each city with its province, by the city's first character, longest first."""
    by_first: dict[str, list[tuple[str, str]]] = {}
    pairs = [(c, p) for p, cs in _PREFECTURE_CITIES.items() for c in cs.split()]
    for city, province in sorted(pairs, key=lambda pair: len(pair[0]), reverse=True):
        by_first.setdefault(city[0], []).append((city, province))
    return {first: tuple(cities) for first, cities in by_first.items()}


_CITIES_BY_FIRST: Final = _cities_by_first()


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
# What ends a unit's name, and so is never part of one: district names are
# made of any other characters (鼓楼区, 路北区, 镇海区).
_UNIT_ENDS: Final = "省市区县旗"
# A name of two or more characters, none of which ends a unit.
_NAME = re.compile(rf"(?:(?![{_UNIT_ENDS}])[\u4e00-\u9fff]){{2,}}")
# A district's suffix after two characters of a name, not before a road word
# (滨海新区大道 is a road): dropped from the key, so that 南山区 and 南山, as
# channels and buyers write districts, agree.
# Written to start with the suffix, its lookbehinds after it, so that `re`
# scans for the suffix instead of trying the lookbehinds at every position.
_DROPPED_SUFFIX = re.compile(
    rf"[区县旗](?<=[\u4e00-\u9fff]{{2}}.)(?<![{_UNIT_ENDS}]..)(?<![{_UNIT_ENDS}].)"
    r"(?![路街道巷弄]|大道|大街)"
)
# Platforms (and buyers) often repeat the whole address in the street field;
# a repeat is recognised only when it is unmistakable.
_DISTRICT_SUFFIXES: Final = ("区", "县", "旗")
# A county-level city (昆山市) in the district field is repeated as surely.
_REPEATED_SUFFIXES: Final = (*_DISTRICT_SUFFIXES, "市")
# What follows a district's name when the name is part of a road's
# (矿区路 in 矿区), not a repeat of the district; and, after a city's 市,
# the rest of 市场 (a market).
_ROAD_WORDS: Final = ("路", "街", "道", "巷", "弄", "大道", "大街")
_NOT_AFTER_CITY: Final = (*_ROAD_WORDS, "场")
# The characters with which Chinese platforms mask an address (the
# full-width asterisk is folded to "*" first); `_hides` tells a platform's
# mask from a buyer's decoration.
_MASK = re.compile("[*\u2022\u25cf\u2217]")
_MASK_RUN = re.compile("[*\u2022\u25cf\u2217]+")
# What ends a prefecture-level city's name: its 市, the end of its part, or
# the end of the text.
_AFTER_CITY: Final = frozenset({"市", _PART, ""})
# What a room number (1201室, a室) ends with.
_ROOM = re.compile("[0-9a-z]")
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
      word (矿区路 in 矿区 is a road); a county-level city in the district
      field (昆山市) is repeated as surely, and not before 场 (市场);
    - traditional forms of the characters addresses are built of (號 樓 區
      縣 單 門 層 棟 鎮 鄉 廈 園, and 臺) read as the simplified ones; place
      names in traditional characters (九龍) are not folded;
    - a room number at the end of the street reads the same with or
      without its 室 (`1201室` and `1201`; `1室201` stays as written);
    - a district reads the same with or without its suffix (`南山区` and
      `南山`, `淳安县` and `淳安`, `鄂温克族自治旗` and `鄂温克族自治`): the
      key drops a 区, 县 or 旗 after two characters of a name, except before
      a road word (`滨海新区大道` is a road); a district given without its
      suffix and repeated with it in the street is read once;
    - an address that names a prefecture-level city with its 市 (or in the
      city field) and no province gets the city's province: `深圳市南山区...`
      reads as `广东省深圳市南山区...`.

    Other addresses are compared by their words: street, district, city and
    province, in that order. In US and Canadian addresses, a state or
    province written out at the end is its ISO 3166-2 code (`California`
    and `CA`), and street suffixes and unit designators are abbreviated as
    the USPS does (Street and St, Avenue and Ave, Road, Boulevard, Drive,
    Lane, Court, Suite and Ste; Apartment, Apt, Unit and `#` are one). The
    postcode, the recipient and the phone are not part of the key: channels
    fill postcodes inconsistently, and the other parts already locate the
    door.

    An address is masked, and counts as absent, where mask characters (`*` in
    either width, `•`, `●`, the asterisk operator) stand in for characters
    of it: a run of them with a character of a word (a letter or a digit;
    not a space and not punctuation) directly on either side, in any part
    (`建国路**号`, `文***路1号`, `文一西路***`, a district `朝••`), or a part
    with marks and nothing else (`**`). Platforms mask streets from their
    end as well as inside.

    Other marks are decoration, as buyers type them on free-text
    storefronts, and fold away as punctuation does: with a space,
    punctuation or the part's end on both sides, a street
    `"科苑路15号3栋1201室 *"` or `"* 科苑路15号3栋1201室"`, and a district
    `"南山区 (*)"`, key as they do without them. A mark a buyer types
    against a word (`"科苑路15号3栋1201室*"`, `"科苑路15号*3栋"`) cannot be
    told from a platform's: such an address is masked, so purchase limits
    by address and `address+skus` fingerprints do not see it.

    Args:
        address: The structured address.
        field: The name of the address, for errors (`"order.address"`).

    Returns:
        The key, the country code, a colon and the folded text
        (`"CN:北京朝阳建国路88号"`), or `None` for a masked address
        (`建国路**号`), which counts as absent, like a masked phone.

    Raises:
        InvalidAddress: `address` is not an `orderkit.orders.Address` (a
            string, a mapping), the street is blank once folded, or a part
            contains a lone surrogate or a control character other than
            whitespace.

    .. versionadded:: 0.1.0
    """
    if type(address) is not _address_type():
        raise InvalidAddress(
            field,
            address,
            f"must be an orderkit.orders.Address, not {type(address).__name__}",
        )
    parts = (address.province, address.city, address.district, address.street)
    if sum(map(len, parts)) > _CACHED_LENGTH:
        return _key.__wrapped__(address.country, parts, field)
    return _key(address.country, parts, field)


@functools.cache
def _address_type() -> type[Address]:
    """`orderkit.orders.Address`, imported when first needed.

    orderkit.orders imports orderkit.dedupe, so this module cannot import it
    when loaded; `Address` is final, so `type(value) is` it is the check.
    """
    from orderkit.orders import Address  # noqa: PLC0415 - see above

    return Address


@functools.lru_cache(maxsize=_CACHE_SIZE)
def _key(country: str, parts: tuple[str, str, str, str], field: str) -> str | None:
    # Cached: repeat buyers send the same address, and folding costs several
    # microseconds. Errors are not cached; they are raised again.
    province, city, district, street = parts
    cached = len(province) + len(city) + len(district) <= _CACHED_LENGTH
    chinese = country in _CHINESE_WRITING
    read_head = _head if cached else _head.__wrapped__
    head = read_head(province, city, district, field, chinese=chinese)
    folded = clean(street, f"{field}.street", InvalidAddress)
    if head.masked or (_MASK.search(folded) and _hides(folded)):
        return None
    # Masks left are decoration, which squeezing folds away as it folds any
    # punctuation: "科苑路15号 *" keys as "科苑路15号" does.
    squeezed = squeeze_separators(folded)
    if not squeezed:
        raise InvalidAddress(
            f"{field}.street",
            street,
            "is blank once whitespace and punctuation are folded",
        )
    if chinese:
        if _HAS_TRADITIONAL.search(squeezed):
            squeezed = squeezed.translate(_SIMPLIFIED)
        if len(squeezed) > 1 and squeezed[-1] == "室" and _ROOM.match(squeezed[-2]):
            # "1201室" is room 1201; "1室201" is not, and stays as written.
            squeezed = squeezed[:-1]
        # Dropped only now: the suffix tells the district 南山区 from the
        # road 南山路 when a street is compared with its head.
        body = _DROPPED_SUFFIX.sub("", _chinese_key(head, squeezed))
    else:
        province, city, district = head.folded
        if country in _SUBDIVISIONS and "#" in folded:
            # "#5" is a unit, as "Apt 5" is; squeezing would drop the "#".
            folded = _NUMBER_SIGN.sub(" unit ", folded)
        body = squeeze_separators(f"{folded} {district} {city} {province}")
        if country in _SUBDIVISIONS:
            body = _north_american(body, _SUBDIVISIONS[country])
    return f"{country}:{body}"


def _hides(text: str) -> bool:
    """Whether the masks in `text`, a folded part that holds some, hide any of it.

    A platform masks a part by putting its marks in place of characters:
    inside a street (`建国路**号`, `文***路`), at its end (`文一西路***`), at
    the end of a name (`朝••`, as in `张**`), or over the whole part
    (`**`). So a run of marks hides characters when a character of a word
    (a letter, a digit or a mark of one, not a space and not punctuation)
    stands directly on either side of it, and a part with no such character
    at all is masked whole. Buyers on free-text storefronts also type marks
    apart from what they write (`"1201室 *"`, `"* 科苑路..."`, `"(**)"`):
    with a space, punctuation or the part's end on both sides, a run hides
    nothing, and must not make the address absent, which would switch off
    its limits and its fingerprint.
    """
    if not any(map(_in_word, text)):
        return True
    for run in _MASK_RUN.finditer(text):
        start, end = run.span()
        if (start > 0 and _in_word(text[start - 1])) or (
            end < len(text) and _in_word(text[end])
        ):
            return True
    return False


def _in_word(char: str) -> bool:
    """Whether `char` is part of a word, as `squeeze_separators` reads words."""
    category = unicodedata.category(char)
    return category[0] in "LNM" or category in {"Cn", "Co"}


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
def _head(
    province: str, city: str, district: str, field: str, *, chinese: bool
) -> _Head:
    # Cached apart from the whole key: the streets of new addresses differ,
    # their provinces, cities and districts (some thousands) repeat.
    folded = (
        clean(province, f"{field}.province", InvalidAddress),
        clean(city, f"{field}.city", InvalidAddress),
        clean(district, f"{field}.district", InvalidAddress),
    )
    if chinese:
        folded = (
            folded[0].translate(_SIMPLIFIED),
            folded[1].translate(_SIMPLIFIED),
            folded[2].translate(_SIMPLIFIED),
        )
    squeezed = [squeeze_separators(value) for value in folded]
    if squeezed[1] in _PLACEHOLDERS:
        # Dropped before joining: "北京" + "市辖区" would read as "北京市" + "辖区".
        squeezed[1] = ""
    text = _join_parts(_join_parts(squeezed[0], squeezed[1]), squeezed[2])
    masked = any(_MASK.search(value) and _hides(value) for value in folded)
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
    if len(district) > 1 and district.endswith(_REPEATED_SUFFIXES):
        cities = (f"{name}市", name) if name else ()
        return (*(join_squeezed(c, district) for c in cities), district)
    if _NAME.fullmatch(district):
        # A district given without its suffix (南山) and repeated with it.
        named = [f"{district}{suffix}" for suffix in _DISTRICT_SUFFIXES]
        cities = (f"{name}市", name) if name else ()
        return (*(join_squeezed(c, d) for c in cities for d in named), *named)
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
            words = _NOT_AFTER_CITY if tail.endswith("市") else _ROAD_WORDS
            if rest and not rest.startswith(words):
                return rest
    return None


def _read_chinese(text: str) -> tuple[str, bool]:
    """The key of an address written the Chinese way; whether it had a province."""
    key, has_province, _ = _read_squeezed(squeeze_separators(text))
    return key, has_province


def _province_of_city(text: str) -> str:
    """The province of the prefecture-level city `text` starts with, or "".

    The city counts when written with its 市, or alone in its part: 南京路
    is a road of Shanghai, not 江苏's 南京.
    """
    for city, province in _CITIES_BY_FIRST.get(text[:1], ()):
        if text.startswith(city) and text[len(city) : len(city) + 1] in _AFTER_CITY:
            return province
    return ""


def _province_form(text: str) -> str | None:
    """The province-level form `text` starts with, the longest if several do."""
    for form in _FORMS_BY_FIRST.get(text[:1], ()):
        if text.startswith(form):
            return form
    return None


def _read_province(rest: str) -> tuple[str, str]:
    """The province `rest` starts with, or its city's; and the text after it."""
    first = rest[:1]
    if first not in _FORMS_BY_FIRST:
        # Most streets start with neither a province nor a city: two lookups
        # say so, without the calls that would find nothing.
        if first not in _CITIES_BY_FIRST:
            return "", rest
        return _province_of_city(rest), rest
    form = _province_form(rest)
    if form is None:
        return _province_of_city(rest), rest
    province = _PROVINCE_FORMS[form]
    if form == province and rest.startswith("市", len(form)):
        # "吉林市..." is the city of Jilin, not the province of that name.
        return _province_of_city(rest), rest
    if rest.startswith(province) and rest.startswith(_PLACEHOLDERS, len(province)):
        # "北京市辖区" is 北京 and the placeholder 市辖区, not 北京市 and 辖区.
        form = province
    return province, rest[len(form) :].lstrip(_PART)


def _city(text: str) -> re.Match[str] | None:
    """`_CITY.match(text)`, answered at once for most text, which holds no city."""
    # A match ends with 市, or before a part's end, after 2 to 4 characters:
    # without either there, the pattern cannot match.
    end = text[2:5]
    if "市" not in end and _PART not in end:
        return None
    return _CITY.match(text)


def _read_squeezed(rest: str) -> tuple[str, bool, bool]:
    """`_read_chinese` of text squeezed already, its parts joined by `_join_parts`.

    The third value says whether the reading is open: whether it consumed
    the whole text, so that more text after it could be read on (a city
    after a province); a closed reading takes what follows as it is.
    """
    province, rest = _read_province(rest)
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
    city = _city(rest)
    if city is None:
        return province + rest.replace(_PART, ""), bool(province), not rest
    cities = city[1]
    rest = rest[city.end() :].lstrip(_PART)
    city = _city(rest)
    if city is None:
        return province + cities + rest.replace(_PART, ""), bool(province), not rest
    rest = rest[city.end() :].replace(_PART, "")
    return province + cities + city[1] + rest, bool(province), False


# US states (with the district, territories and armed-forces "states" that
# Shopify lists) and Canadian provinces by name, each mapped to its ISO
# 3166-2 subdivision code: Shopify and BigCommerce send the name,
# WooCommerce the code.
_US_STATES: Final = {
    "alabama": "al", "alaska": "ak", "arizona": "az", "arkansas": "ar",
    "california": "ca", "colorado": "co", "connecticut": "ct", "delaware": "de",
    "district of columbia": "dc", "florida": "fl", "georgia": "ga",
    "hawaii": "hi", "idaho": "id", "illinois": "il", "indiana": "in",
    "iowa": "ia", "kansas": "ks", "kentucky": "ky", "louisiana": "la",
    "maine": "me", "maryland": "md", "massachusetts": "ma", "michigan": "mi",
    "minnesota": "mn", "mississippi": "ms", "missouri": "mo", "montana": "mt",
    "nebraska": "ne", "nevada": "nv", "new hampshire": "nh", "new jersey": "nj",
    "new mexico": "nm", "new york": "ny", "north carolina": "nc",
    "north dakota": "nd", "ohio": "oh", "oklahoma": "ok", "oregon": "or",
    "pennsylvania": "pa", "rhode island": "ri", "south carolina": "sc",
    "south dakota": "sd", "tennessee": "tn", "texas": "tx", "utah": "ut",
    "vermont": "vt", "virginia": "va", "washington": "wa",
    "west virginia": "wv", "wisconsin": "wi", "wyoming": "wy",
    "american samoa": "as", "guam": "gu", "northern mariana islands": "mp",
    "puerto rico": "pr", "virgin islands": "vi", "u s virgin islands": "vi",
    "us virgin islands": "vi", "united states minor outlying islands": "um",
    "armed forces americas": "aa", "armed forces europe": "ae",
    "armed forces pacific": "ap",
}  # fmt: skip
_CA_PROVINCES: Final = {
    "alberta": "ab", "british columbia": "bc", "colombie britannique": "bc",
    "manitoba": "mb", "new brunswick": "nb", "nouveau brunswick": "nb",
    "newfoundland and labrador": "nl", "newfoundland": "nl",
    "terre neuve et labrador": "nl", "nova scotia": "ns",
    "nouvelle écosse": "ns", "ontario": "on", "prince edward island": "pe",
    "île du prince édouard": "pe", "quebec": "qc", "québec": "qc",
    "saskatchewan": "sk", "northwest territories": "nt",
    "territoires du nord ouest": "nt", "nunavut": "nu", "yukon": "yt",
    "yukon territory": "yt",
}  # fmt: skip
_SUBDIVISIONS: Final = {"US": _US_STATES, "CA": _CA_PROVINCES}
_LONGEST_SUBDIVISION: Final = max(
    name.count(" ") + 1 for names in _SUBDIVISIONS.values() for name in names
)
# The USPS abbreviations (Publication 28) of the street suffixes and unit
# designators written out most often; Apt, Unit and "#" are one designator.
_ABBREVIATIONS: Final = {
    "street": "st", "avenue": "ave", "road": "rd", "boulevard": "blvd",
    "drive": "dr", "lane": "ln", "court": "ct", "apartment": "apt",
    "unit": "apt", "suite": "ste",
}  # fmt: skip
_UNITS: Final = frozenset({"apt", "ste"})
# A designator written against its number ("apt5", "ste12b").
_GLUED_UNIT = re.compile(r"(apartment|apt|unit|suite|ste)([0-9][0-9a-z]*)")
# "#" before a unit's number ("#5", "# 12b", "apt #5").
_NUMBER_SIGN = re.compile(r"#\s*(?=[0-9a-z])")


def _north_american(body: str, subdivisions: Mapping[str, str]) -> str:
    """A squeezed US or Canadian key with its state and usual words folded.

    The state (or province) ends the key, as the province part or as the
    end of an address written in one line; written out, it becomes its
    code. Street suffixes and unit designators become their USPS
    abbreviations, and a designator repeated ("Apt #5") is read once.
    Words are replaced, never dropped: every digit stays where it was.
    """
    words = body.split(" ")
    for count in range(min(_LONGEST_SUBDIVISION, len(words) - 1), 0, -1):
        code = subdivisions.get(" ".join(words[-count:]))
        if code is not None:
            words[-count:] = [code]
            break
    folded: list[str] = []
    for word in words:
        glued = _GLUED_UNIT.fullmatch(word)
        if glued is not None:
            unit = _ABBREVIATIONS.get(glued[1], glued[1])
            if not folded or folded[-1] != unit:
                folded.append(unit)
            folded.append(glued[2])
            continue
        short = _ABBREVIATIONS.get(word, word)
        if short in _UNITS and folded and folded[-1] == short:
            continue
        folded.append(short)
    return " ".join(folded)
