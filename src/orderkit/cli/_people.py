"""Simulated buyers: names, phones and addresses where each channel sells.

Every ordinary buyer is a different person, so the duplicate detector has
only the real repeats to find: the cross-channel buyers the traffic copies
on purpose, and abusers, who order again and again from one account.
"""

from __future__ import annotations

import random
from typing import Final, final

import attrs


@final
@attrs.frozen(slots=True, kw_only=True)
class Person:
    """A buyer and the address an order ships to, as plain text."""

    buyer_id: str
    family: str
    given: str
    phone: str
    email: str
    country: str
    province: str
    city: str
    district: str
    street: str
    postcode: str

    @property
    def name(self) -> str:
        """The name as the buyer's country writes it."""
        if self.country == "CN":
            return f"{self.family}{self.given}"
        return f"{self.given} {self.family}"


_CN_FAMILY: Final = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗"
_CN_GIVEN: Final = (
    "伟",
    "芳",
    "娜",
    "敏",
    "静",
    "丽",
    "强",
    "磊",
    "洋",
    "艳",
    "军",
    "杰",
)
_CN_PLACES: Final = (
    ("浙江省", "杭州市", "西湖区", "文三路", "310012"),
    ("北京市", "北京市", "朝阳区", "建国路", "100022"),
    ("上海市", "上海市", "徐汇区", "漕溪北路", "200030"),
    ("广东省", "广州市", "天河区", "天河路", "510620"),
    ("四川省", "成都市", "武侯区", "人民南路", "610041"),
    ("江苏省", "南京市", "鼓楼区", "中山北路", "210009"),
)
_CN_MOBILE: Final = ("138", "139", "150", "186", "177")
_US_FAMILY: Final = ("Smith", "Johnson", "Garcia", "Miller", "Davis", "Lopez", "Lee")
_US_GIVEN: Final = ("James", "Mary", "Robert", "Linda", "Michael", "Sarah", "Wei")
_US_PLACES: Final = (
    ("NY", "New York", "10001", "212"),
    ("NJ", "Jersey City", "07302", "201"),
    ("CA", "Los Angeles", "90012", "213"),
    ("TX", "Austin", "78701", "512"),
    ("IL", "Chicago", "60601", "312"),
)
_US_EXCHANGES: Final = ("222", "333", "444", "656", "737", "798")
_DE_FAMILY: Final = ("Müller", "Schmidt", "Schneider", "Fischer", "Weber", "Wagner")
_DE_GIVEN: Final = ("Anna", "Lukas", "Sophie", "Jonas", "Marie", "Felix", "Jürgen")
_DE_PLACES: Final = (
    ("BE", "Berlin", "10115"),
    ("BY", "München", "80331"),
    ("HH", "Hamburg", "20095"),
    ("NW", "Köln", "50667"),
)


def person(
    rng: random.Random, channel: str, index: int, *, abuser: int | None = None
) -> Person:
    """A buyer on `channel`: the order's own, or abuser number `abuser`'s.

    `index` makes an ordinary buyer's phone and address unique; an abuser
    keeps one account, phone and address for every order.
    """
    key = index if abuser is None else 900_000 + abuser
    buyer_id = _account(channel, key, abuser=abuser is not None)
    if channel in {"taobao", "magento"}:
        return _chinese(rng, key, buyer_id)
    if channel == "shopify":
        return _american(rng, key, buyer_id)
    return _german(rng, key, buyer_id)


def _account(channel: str, key: int, *, abuser: bool) -> str:
    if channel == "taobao":
        return f"AAF{'bulk' if abuser else 'Gm0'}{key:08d}"
    return str(
        {"magento": 300_000, "shopify": 7_200_000, "woocommerce": 41_000}[channel] + key
    )


def _chinese(rng: random.Random, key: int, buyer_id: str) -> Person:
    province, city, district, road, postcode = _CN_PLACES[key % len(_CN_PLACES)]
    mobile = _CN_MOBILE[key % len(_CN_MOBILE)]
    return Person(
        buyer_id=buyer_id,
        family=rng.choice(_CN_FAMILY),
        given="".join(rng.choices(_CN_GIVEN, k=rng.randint(1, 2))),
        phone=f"+86{mobile}{key:08d}",
        email=f"u{key}@example.cn",
        country="CN",
        province=province,
        city=city,
        district=district,
        street=f"{road}{key % 800 + 1}号{key // 800 % 30 + 1}栋{key // 24_000 + 1}01室",
        postcode=postcode,
    )


def _american(rng: random.Random, key: int, buyer_id: str) -> Person:
    state, city, postcode, area = _US_PLACES[key % len(_US_PLACES)]
    exchange = _US_EXCHANGES[key // len(_US_PLACES) % len(_US_EXCHANGES)]
    given, family = rng.choice(_US_GIVEN), rng.choice(_US_FAMILY)
    return Person(
        buyer_id=buyer_id,
        family=family,
        given=given,
        phone=f"+1{area}{exchange}{key // 30 % 10_000:04d}",
        email=f"{given.lower()}.{family.lower()}{key}@example.com",
        country="US",
        province=state,
        city=city,
        district="",
        street=f"{key % 9_000 + 100} Main St Apt {key // 9_000 + 1}",
        postcode=postcode,
    )


def _german(rng: random.Random, key: int, buyer_id: str) -> Person:
    state, city, postcode = _DE_PLACES[key % len(_DE_PLACES)]
    given, family = rng.choice(_DE_GIVEN), rng.choice(_DE_FAMILY)
    return Person(
        buyer_id=buyer_id,
        family=family,
        given=given,
        phone=f"+49151{key:08d}",
        email=f"kunde{key}@example.de",
        country="DE",
        province=state,
        city=city,
        district="",
        street=f"Hauptstraße {key % 300 + 1}, Wohnung {key // 300 + 1}",
        postcode=postcode,
    )
