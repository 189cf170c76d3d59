"""Naming material for the synthetic regions of :mod:`gridmap.sample.synth`.

Fixed tables and pure functions only: enterprise name templates for any district, the
road names addresses use (checked against the district's own place names), names for
padded villages, and the provinces' one-character abbreviations (简称) that enforcement
certificate numbers start with. Any resemblance of a generated name to a real enterprise
is coincidence.
"""

from __future__ import annotations

import hashlib

from gridmap.sample import names as naming

__all__ = [
    "NAME_TEMPLATES",
    "PROVINCE_ABBREVIATIONS",
    "ROAD_CANDIDATES",
    "clean_roads",
    "padded_village_core",
]

#: One-character abbreviations (简称) of the provinces, by 2-digit code.
PROVINCE_ABBREVIATIONS: dict[str, str] = {
    "11": "京", "12": "津", "13": "冀", "14": "晋", "15": "蒙", "21": "辽", "22": "吉",
    "23": "黑", "31": "沪", "32": "苏", "33": "浙", "34": "皖", "35": "闽", "36": "赣",
    "37": "鲁", "41": "豫", "42": "鄂", "43": "湘", "44": "粤", "45": "桂", "46": "琼",
    "50": "渝", "51": "川", "52": "贵", "53": "云", "54": "藏", "61": "陕", "62": "甘",
    "63": "青", "64": "宁", "65": "新",
}

#: Sector → (template, department or None for the sector's default). ``{p}`` is a place
#: name (district, city), ``{b}`` a trade name (字号), ``{t}`` the township's core name
#: (empty outside 街道/镇/乡). Generalised from the Pizhou sample's templates.
NAME_TEMPLATES: dict[str, tuple[tuple[str, str | None], ...]] = {
    "一般制造业": (
        ("{p}{b}机械制造有限公司", None), ("{p}{b}纺织有限公司", None),
        ("{p}{b}食品有限公司", "市场监督管理局"), ("{p}{b}塑业有限公司", None),
        ("{p}{b}包装材料有限公司", None), ("{p}{b}电子科技有限公司", None),
        ("{p}{b}服装厂", None), ("{p}{b}五金制品有限公司", None),
        ("{p}{b}新材料科技有限公司", None), ("{p}{b}家具有限公司", None),
        ("{p}{b}饲料有限公司", "农业农村局"), ("{p}{b}建材有限公司", None),
        ("{p}{b}玻璃制品有限公司", None), ("{p}{b}汽车配件有限公司", None),
    ),
    "粉尘涉爆": (
        ("{p}{b}木业有限公司", None), ("{p}{t}{b}板材厂", None),
        ("{p}{b}胶合板有限公司", None), ("{p}{b}面粉有限公司", None),
        ("{p}{b}生物质燃料有限公司", None),
    ),
    "危险化学品": (
        ("{p}{b}化工有限公司", None), ("{p}{b}化学有限公司", None),
        ("{p}{b}精细化工有限公司", None), ("{p}{b}化工贸易有限公司", None),
    ),
    "金属冶炼": (
        ("{p}{b}铸造有限公司", None), ("{p}{b}特钢有限公司", None),
        ("{p}{b}有色金属有限公司", None),
    ),
    "建筑施工": (
        ("{p}{b}建筑工程有限公司", None), ("{p}{b}建筑安装工程有限公司", None),
        ("{p}{b}市政工程有限公司", None),
    ),
    "道路运输": (
        ("{p}{b}运输有限公司", None), ("{p}{b}物流有限公司", None),
        ("{p}{b}危险货物运输有限公司", None), ("{p}{b}客运有限公司", None),
    ),
    "人员密集场所": (
        ("{p}{b}商贸有限公司", None), ("{p}{b}购物广场", None), ("{b}超市{t}店", None),
        ("{p}{b}大酒店", "文化广电和旅游局"), ("{p}{b}KTV", "文化广电和旅游局"),
        ("{p}{b}影城", "文化广电和旅游局"), ("{p}{t}{b}农贸市场", "市场监督管理局"),
        ("{p}{t}{b}幼儿园", "教育局"), ("{p}{b}医院", "卫生健康委员会"),
    ),
    "烟花爆竹": (("{p}{t}{b}烟花爆竹经营部", None),),
    "非煤矿山": (("{p}{t}{b}石料厂", None), ("{p}{b}矿业有限公司", None)),
    "冷库": (
        ("{p}{b}冷藏有限公司", None), ("{p}{b}冷链物流有限公司", None),
        ("{p}{t}{b}农产品冷库", "农业农村局"),
    ),
    "加油站": (
        ("中国石化{p}{t}{b}加油站", None), ("中国石油{p}{t}{b}加油站", None),
        ("{p}{b}加油站", None),
    ),
    "燃气": (("{p}{b}燃气有限公司", None), ("{p}{t}{b}液化气站", None)),
}

_NUMBERED_ROADS = tuple(f"{axis}{number}路" for axis in "经纬" for number in "一二三四五六七八九")

#: Road names addresses may use, before the check against a district's place names.
ROAD_CANDIDATES: tuple[str, ...] = tuple(
    dict.fromkeys((*naming.ROAD_NAMES_URBAN, *naming.ROAD_NAMES_TOWN, *_NUMBERED_ROADS))
)

# Characters that end a township or village name right before the road in an address.
_NAME_ENDINGS = "镇道区场村会乡"


def clean_roads(place_names: set[str]) -> list[str]:
    """The road names that cannot be read as one of ``place_names``.

    A road is dropped when a place name occurs in it, or in it preceded by the last
    character of a township or village name ("…镇" + "中心大街" reads "镇中"), or when a
    place name starts with the road's stem ("人民" for 人民路 and the community 人民新村):
    the address matcher would otherwise find a village in the road.

    Parameters
    ----------
    place_names
        Core names (two characters or more) of the district's townships and villages.

    Returns
    -------
    list of str
        The usable roads, in the order of :data:`ROAD_CANDIDATES`.

    Examples
    --------
    >>> "人民路" in clean_roads({"人民"}), "人民路" in clean_roads({"张庄"})
    (False, True)
    """
    prefixes = {name[:length] for name in place_names for length in range(1, len(name) + 1)}
    out = []
    for road in ROAD_CANDIDATES:
        stem = road.removesuffix("大道").removesuffix("大街").removesuffix("路")
        if stem in prefixes:
            continue
        texts = (road, *(end + road for end in _NAME_ENDINGS))
        found = any(
            text[start:stop] in place_names
            for text in texts
            for start in range(len(text))
            for stop in range(start + 2, len(text) + 1)
        )
        if not found:
            out.append(road)
    return out


_PLACE_ENDINGS = "庄集楼营湖圩岗桥沟洼寨屯坊埠"
_DIRECTIONS = ("", "前", "后", "东", "西", "南", "北", "大", "小", "新")


def padded_village_core(code: str, taken: set[str]) -> str:
    """A village core name (e.g. "王庄", "后李集") for a padded village, not in ``taken``.

    A function of the code only (the seed does not change it), so a padded village keeps
    its name between runs, like a real one. The name is added to ``taken``.

    Examples
    --------
    >>> taken = {"王庄"}
    >>> core = padded_village_core("320382102601", taken)
    >>> core in taken and core != "王庄"
    True
    """
    surnames = [surname for surname, _ in naming.SURNAMES if len(surname) == 1]
    digest = int(hashlib.sha256(code.encode("ascii")).hexdigest()[:15], 16)
    attempt = 0
    while True:
        value = digest + attempt * 7919
        surname = surnames[value % len(surnames)]
        value //= len(surnames)
        ending = _PLACE_ENDINGS[value % len(_PLACE_ENDINGS)]
        value //= len(_PLACE_ENDINGS)
        # Beyond the 12,000 one-surname forms, a second surname ("王李庄") makes room.
        direction = (_DIRECTIONS[value % len(_DIRECTIONS)] if attempt < 50
                     else surnames[value % len(surnames)])
        core = direction + surname + ending
        if core not in taken:
            taken.add(core)
            return core
        attempt += 1
