"""Chinese naming material for the synthetic sample: people, roads, enterprises, phones.

Everything here is a fixed table or a function of an explicit :class:`random.Random`, so
the sample district is the same on every machine. The tables are ordinary Chinese
naming conventions, not records of real people or companies: any resemblance of a
generated person or enterprise name to a real one is coincidence.
"""

from __future__ import annotations

import random

__all__ = [
    "ENTERPRISE_BRAND_CHARS",
    "ROAD_NAMES_TOWN",
    "ROAD_NAMES_URBAN",
    "make_brand",
    "make_person_name",
    "make_phone",
    "village_core",
]

# Surnames with their approximate share (per cent) of China's population; northern
# Jiangsu follows the national ranking closely (王 张 李 刘 陈 first). Two-character
# surnames are rare and included only so that a few names have three characters that way.
SURNAMES: tuple[tuple[str, float], ...] = (
    ("王", 7.1), ("李", 7.0), ("张", 6.9), ("刘", 5.4), ("陈", 4.5), ("杨", 3.1),
    ("赵", 2.3), ("黄", 2.2), ("周", 1.9), ("吴", 2.0), ("徐", 1.9), ("孙", 1.7),
    ("胡", 1.3), ("朱", 1.3), ("高", 1.1), ("林", 1.0), ("何", 1.2), ("郭", 1.2),
    ("马", 1.3), ("罗", 0.8), ("梁", 0.8), ("宋", 0.8), ("郑", 0.8), ("谢", 0.7),
    ("韩", 0.7), ("唐", 0.7), ("冯", 0.7), ("于", 0.6), ("董", 0.6), ("萧", 0.1),
    ("程", 0.5), ("曹", 0.7), ("袁", 0.5), ("邓", 0.5), ("许", 0.6), ("傅", 0.3),
    ("沈", 0.4), ("曾", 0.4), ("彭", 0.5), ("吕", 0.4), ("苏", 0.4), ("卢", 0.4),
    ("蒋", 0.4), ("蔡", 0.4), ("贾", 0.3), ("丁", 0.4), ("魏", 0.4), ("薛", 0.3),
    ("叶", 0.3), ("阎", 0.2), ("余", 0.3), ("潘", 0.3), ("杜", 0.3), ("戴", 0.2),
    ("夏", 0.3), ("钟", 0.3), ("汪", 0.3), ("田", 0.3), ("任", 0.3), ("姜", 0.3),
    ("范", 0.3), ("方", 0.3), ("石", 0.3), ("姚", 0.3), ("谭", 0.2), ("廖", 0.2),
    ("邹", 0.2), ("熊", 0.2), ("金", 0.2), ("陆", 0.2), ("郝", 0.2), ("孔", 0.2),
    ("白", 0.2), ("崔", 0.2), ("康", 0.2), ("毛", 0.2), ("邱", 0.2), ("秦", 0.2),
    ("江", 0.2), ("史", 0.2), ("顾", 0.2), ("侯", 0.2), ("邵", 0.2), ("孟", 0.2),
    ("龙", 0.1), ("万", 0.1), ("段", 0.1), ("耿", 0.1), ("葛", 0.1), ("闫", 0.2),
    ("仝", 0.05), ("欧阳", 0.05), ("司马", 0.02), ("诸葛", 0.01),
)

_GIVEN_MALE = "伟强磊军勇杰涛斌超明刚平辉鹏华飞鑫波宇浩凯健俊帆旭宁龙林阳峰建国志海东文立新庆春永成兵亮德学福良生振长松荣"
_GIVEN_FEMALE = "芳娜敏静丽艳娟霞秀英燕玲桂红梅琳婷雪慧莉萍洁晶颖倩兰凤云琴月"

# Mobile number prefixes (号段) of the three operators, as written on business cards.
_MOBILE_PREFIXES = (
    "130", "131", "132", "133", "134", "135", "136", "137", "138", "139",
    "147", "150", "151", "152", "153", "155", "156", "157", "158", "159",
    "166", "173", "175", "176", "177", "178", "180", "181", "182", "183",
    "184", "185", "186", "187", "188", "189", "191", "198", "199",
)

#: Roads of the city (the 街道 and the development zone). Pizhou names its city roads
#: after China's rivers and mountains; the rest are the names every Chinese town has.
ROAD_NAMES_URBAN: tuple[str, ...] = (
    "人民路", "建设路", "解放路", "青年路", "世纪大道", "辽河路", "长江路", "黄河路",
    "珠江路", "淮河路", "太湖大道", "南京路", "北京路", "上海路", "泰山路", "华山路",
    "嵩山路", "钱江路", "闽江路", "湘江路", "赣江路", "文化路", "府前路", "环城路",
    "振兴大道", "光明路", "健康路", "紫金路", "汉江路", "松花江路", "天山路", "衡山路",
)

#: Roads a market town (镇) may have; each town gets a handful of them.
ROAD_NAMES_TOWN: tuple[str, ...] = (
    "人民路", "建设路", "解放路", "新华路", "振兴路", "兴业路", "工业路", "商贸路",
    "府前路", "文化路", "胜利路", "团结路", "友谊路", "幸福路", "和平路", "迎宾大道",
    "中心大街", "发展大道", "富民路", "创业路", "金山路", "环镇路", "农贸路", "朝阳路",
    "向阳路", "政府路", "站前路", "滨河路", "育才路", "利民路",
)

#: Characters for the trade names (字号) of synthetic enterprises.
ENTERPRISE_BRAND_CHARS = "鑫恒宏金华瑞盛通远兴顺德佳永泰嘉润益丰源博创荣隆昌达利美富祥晟宇航正汇诚凯鼎天安康贵信和伟明辉"

_VILLAGE_SUFFIXES = ("社区居民委员会", "社区居委会", "居民委员会", "村民委员会", "居委会", "村委会")


def village_core(name: str) -> str:
    """A village's name without its administrative suffix (核心地名).

    "丰华社区居委会" → "丰华", "官湖村委会" → "官湖", "吕村村委会" → "吕村". Names without a
    known suffix ("开发区虚拟生活区") are returned unchanged.

    >>> village_core("丰华社区居委会"), village_core("吕村村委会"), village_core("前沙沟居委会")
    ('丰华', '吕村', '前沙沟')
    """
    for suffix in _VILLAGE_SUFFIXES:
        if name.endswith(suffix) and len(name) > len(suffix):
            return name[: -len(suffix)]
    return name


def make_person_name(rng: random.Random) -> str:
    """A plausible Chinese personal name of 2 or 3 characters.

    Surnames follow their population shares; a third of given names have one character.
    """
    surnames, weights = zip(*SURNAMES)
    surname = rng.choices(surnames, weights=weights)[0]
    pool = _GIVEN_MALE if rng.random() < 0.55 else _GIVEN_FEMALE
    if len(surname) == 2 or rng.random() < 0.3:
        return surname + rng.choice(pool)
    first = rng.choice(pool)
    second = rng.choice(pool)
    while second == first and rng.random() < 0.8:
        second = rng.choice(pool)
    return surname + first + second


def make_phone(rng: random.Random, taken: set[str]) -> str:
    """A valid-looking Chinese mobile number (1[3-9] + 9 digits) not yet in ``taken``.

    The number is added to ``taken``.
    """
    while True:
        number = rng.choice(_MOBILE_PREFIXES) + "".join(rng.choice("0123456789") for _ in range(8))
        if number not in taken:
            taken.add(number)
            return number


def make_brand(rng: random.Random) -> str:
    """A two-character trade name (字号) such as "鑫源" or "恒通"."""
    first = rng.choice(ENTERPRISE_BRAND_CHARS)
    second = rng.choice(ENTERPRISE_BRAND_CHARS)
    while second == first:
        second = rng.choice(ENTERPRISE_BRAND_CHARS)
    return first + second
