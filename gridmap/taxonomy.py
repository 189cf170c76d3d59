"""Configurable taxonomies: enterprise sectors (行业类别) and the small vocabularies of the
enterprise register (scale, risk level, safety class, major-hazard grade).

The sector taxonomy defaults to :data:`DEFAULT_SECTORS`; a deployment can replace or extend
it with a JSON file named by ``GRIDMAP_TAXONOMY_SECTORS_FILE``::

    [{"id": "hazardous_chemicals", "zh": "危险化学品", "en": "Hazardous chemicals",
      "aliases": ["危化品", "危化"]}, ...]

An unknown sector is not an error: the enterprise is kept as ``other`` with the raw value,
and the import warns.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path

from gridmap.errors import InvalidFile, InvalidInput


@dataclass(frozen=True)
class Category:
    id: str
    zh: str
    en: str
    aliases: tuple[str, ...] = ()
    group: str | None = None


DEFAULT_SECTORS: tuple[Category, ...] = (
    Category("hazardous_chemicals", "危险化学品", "Hazardous chemicals", ("危化品", "危化", "化工", "危险化学品企业")),
    Category("metal_smelting", "金属冶炼", "Metal smelting", ("冶金", "冶炼")),
    Category("dust_explosion", "粉尘涉爆", "Dust explosion risk", ("涉爆粉尘", "粉尘爆炸", "粉尘")),
    Category("construction", "建筑施工", "Construction", ("建筑", "建设工程", "施工")),
    Category("road_transport", "道路运输", "Road transport", ("交通运输", "运输", "道路交通")),
    Category("crowded_places", "人员密集场所", "Crowded places", ("人员密集", "商场", "公众聚集场所")),
    Category("fireworks", "烟花爆竹", "Fireworks", ("烟花", "爆竹")),
    Category("non_coal_mines", "非煤矿山", "Non-coal mines", ("矿山", "非煤")),
    Category("cold_storage", "冷库", "Cold storage", ("涉氨制冷", "冷链")),
    Category("gas_stations", "加油站", "Gas stations", ("加油加气站", "加气站")),
    Category("gas", "燃气", "Gas supply", ("城镇燃气", "液化石油气", "燃气经营")),
    Category("general_manufacturing", "一般制造业", "General manufacturing", ("工贸", "一般工贸", "制造业", "机械", "轻工")),
)
OTHER = Category("other", "其他", "Other")

#: Hazard categories (隐患类别) with their groups; ``unclassified`` is what a public
#: tip-off arrives as until the command centre files it.
HAZARD_GROUPS = {
    "fire": ("消防", "Fire"), "electrical": ("电气", "Electrical"),
    "hazardous_chemicals": ("危险化学品", "Hazardous chemicals"), "dust": ("粉尘", "Dust"),
    "confined_space": ("有限空间", "Confined space"), "special_equipment": ("特种设备", "Special equipment"),
    "construction": ("建筑施工", "Construction"), "transport": ("交通运输", "Transport"),
    "occupational_health": ("职业健康", "Occupational health"), "other": ("其他", "Other"),
}
DEFAULT_HAZARD_CATEGORIES: tuple[Category, ...] = (
    Category("fire_exit_blocked", "安全出口、疏散通道堵塞", "Blocked exits or escape routes", ("通道堵塞",), "fire"),
    Category("fire_equipment", "消防设施缺失或失效", "Missing or failed fire equipment", ("灭火器", "消防设施"), "fire"),
    Category("fire_other", "其他消防隐患", "Other fire hazard", ("消防",), "fire"),
    Category("electrical_wiring", "私拉乱接电线", "Improvised wiring", ("乱拉电线", "私拉乱接"), "electrical"),
    Category("electrical_protection", "漏电保护缺失", "Missing earth-leakage protection", ("漏电保护",), "electrical"),
    Category("chemical_storage", "危化品储存不规范", "Improper chemical storage", ("危化品储存",), "hazardous_chemicals"),
    Category("chemical_process", "危化品工艺安全隐患", "Chemical process safety", ("工艺安全",), "hazardous_chemicals"),
    Category("dust_removal", "除尘系统缺陷", "Defective dust removal", ("除尘",), "dust"),
    Category("dust_accumulation", "作业场所积尘", "Dust accumulation", ("积尘",), "dust"),
    Category("confined_space_permit", "有限空间作业未审批", "Confined-space work without permit", ("有限空间",), "confined_space"),
    Category("pressure_equipment", "锅炉压力容器隐患", "Boiler or pressure vessel", ("锅炉", "压力容器"), "special_equipment"),
    Category("lifting_equipment", "起重机械隐患", "Lifting equipment", ("起重机械", "叉车"), "special_equipment"),
    Category("scaffolding", "脚手架与模板支撑", "Scaffolding and formwork", ("脚手架",), "construction"),
    Category("work_at_height", "高处作业防护缺失", "Unprotected work at height", ("高处作业",), "construction"),
    Category("vehicle_safety", "车辆安全隐患", "Vehicle safety", ("车辆",), "transport"),
    Category("dangerous_goods_transport", "危险货物运输隐患", "Dangerous goods transport", ("危货运输",), "transport"),
    Category("occupational_exposure", "职业病危害因素超标", "Occupational exposure over limits", ("职业危害",), "occupational_health"),
    Category("protective_equipment", "劳动防护用品缺失", "Missing protective equipment", ("防护用品",), "occupational_health"),
    Category("unclassified", "待分类", "Unclassified", ("未分类",), "other"),
)


def _key(text: str) -> str:
    return re.sub(r"[\s_\-（）()]", "", str(text)).lower()


@dataclass
class Taxonomy:
    """A set of categories with lookup by id, Chinese or English name, or alias."""

    categories: tuple[Category, ...]
    _lookup: dict[str, Category] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        for category in self.categories:
            for name in (category.id, category.zh, category.en, *category.aliases):
                self._lookup.setdefault(_key(name), category)

    def parse(self, value: str | None) -> Category | None:
        """The category a user's spelling names, or None when unknown."""
        if value is None or not str(value).strip():
            return None
        return self._lookup.get(_key(value))

    def get(self, category_id: str) -> Category:
        found = self._lookup.get(_key(category_id))
        if found is None:
            if category_id == OTHER.id:
                return OTHER
            raise InvalidInput(f"未知类别 {category_id}", f"unknown category {category_id}")
        return found

    @property
    def ids(self) -> tuple[str, ...]:
        return tuple(c.id for c in self.categories) + (OTHER.id,)

    def label(self, category_id: str, lang: str = "zh") -> str:
        category = OTHER if category_id == OTHER.id else self.get(category_id)
        return category.zh if lang == "zh" else category.en


def load_hazard_categories(path: str | Path | None = None) -> Taxonomy:
    """The hazard category taxonomy: defaults, or a deployment's JSON file (same format
    as sectors, with a ``group`` per category)."""
    if not path:
        return Taxonomy(DEFAULT_HAZARD_CATEGORIES)
    return load_sectors(path)


def load_sectors(path: str | Path | None = None) -> Taxonomy:
    """The sector taxonomy: defaults, or the JSON file a deployment configures."""
    if not path:
        return Taxonomy(DEFAULT_SECTORS)
    try:
        items = json.loads(Path(path).read_text(encoding="utf-8"))
        categories = tuple(
            Category(item["id"], item["zh"], item["en"], tuple(item.get("aliases", ())), item.get("group"))
            for item in items
        )
    except (OSError, ValueError, KeyError, TypeError):
        raise InvalidFile(f"行业分类文件 {path} 无法读取或格式错误",
                          f"sector taxonomy file {path} cannot be read or is malformed") from None
    return Taxonomy(categories)


# ----------------------------------------------------------------- small vocabularies

SCALES = {"above": ("规上", "Above designated size"), "below": ("规下", "Below designated size")}
_SCALE_WORDS = {"规上": "above", "规模以上": "above", "规上企业": "above", "above": "above",
                "规下": "below", "规模以下": "below", "规下企业": "below", "below": "below"}

RISK_LEVELS = {"major": ("重大风险", "red"), "high": ("较大风险", "orange"),
               "medium": ("一般风险", "yellow"), "low": ("低风险", "blue")}
_RISK_WORDS = {"重大": "major", "重大风险": "major", "红": "major", "红色": "major", "major": "major", "red": "major",
               "较大": "high", "较大风险": "high", "橙": "high", "橙色": "high", "high": "high", "orange": "high",
               "一般": "medium", "一般风险": "medium", "黄": "medium", "黄色": "medium", "medium": "medium", "yellow": "medium",
               "低": "low", "低风险": "low", "蓝": "low", "蓝色": "low", "low": "low", "blue": "low"}
_GRADE_WORDS = {"1": 1, "一级": 1, "一": 1, "i": 1, "2": 2, "二级": 2, "二": 2, "ii": 2,
                "3": 3, "三级": 3, "三": 3, "iii": 3, "4": 4, "四级": 4, "四": 4, "iv": 4}


def _vocab(value: str | None, words: dict, what_zh: str, what_en: str, choices: str):
    if value is None or not str(value).strip():
        return None
    found = words.get(_key(value))
    if found is None:
        raise InvalidInput(f"{what_zh} {value!r} 无法识别（{choices}）", f"{what_en} {value!r} is not recognised ({choices})")
    return found


def parse_scale(value: str | None) -> str | None:
    return _vocab(value, _SCALE_WORDS, "企业规模", "scale", "规上/规下")


def parse_risk_level(value: str | None) -> str | None:
    return _vocab(value, _RISK_WORDS, "风险等级", "risk level", "重大/较大/一般/低 或 红/橙/黄/蓝")


def parse_safety_class(value: str | None) -> str | None:
    return _vocab(value, {"a": "A", "b": "B", "c": "C", "a类": "A", "b类": "B", "c类": "C"},
                  "安全分类", "safety class", "A/B/C")


def parse_major_hazard_grade(value: str | None) -> int | None:
    text = None if value is None else re.sub(r"(重大危险源|级)$", "级", str(value).strip())
    if text and text.endswith(".0"):
        text = text[:-2]
    return _vocab(text, _GRADE_WORDS, "重大危险源等级", "major-hazard grade", "1-4 或 一级-四级")
