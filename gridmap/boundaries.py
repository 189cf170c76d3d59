"""Versioned grid boundaries, the MapIt way.

A boundary import never touches what users see: it lands in the one *pending*
:class:`~gridmap.models.BoundarySet` (created on demand as a copy of the active set, so a
file of villages can be imported on top of the current townships). ``activate`` makes a
set current (a dry run unless ``commit=True``); the set it replaces is *retired* and stays
queryable by id. Every lookup names the set it used.

An import is all-or-nothing: every row is checked first, and a file with any fatal row
changes nothing; the error lists every bad row with its reason. Repairs that are safe
(invalid rings fixed with GEOS MakeValid, the algorithm behind PostGIS ``ST_MakeValid``)
are made and reported.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path

import numpy as np
import shapely
from pyproj import CRS, Transformer
from pyproj.exceptions import CRSError
from shapely.geometry import MultiPolygon, Polygon
from sqlalchemy import func, select, text, update
from sqlalchemy.orm import Session

from gridmap import audit, coords
from gridmap.codes import (
    LEVEL_DEPTH,
    LEVEL_NAMES_ZH,
    LEVELS,
    VARIABLE_WIDTH_LEVELS,
    level_of_code,
    normalise_code,
    parent_code_of,
)
from gridmap.db import in_array
from gridmap.errors import ImportRejected, InvalidFile, InvalidInput, NotFound, UnknownCRS
from gridmap.files import read_vector
from gridmap.models import BoundarySet, Grid
from gridmap.settings import ImportSettings

CODE_FIELDS = ("code", "adcode", "grid_code", "网格编码", "编码", "代码", "区划代码")
NAME_FIELDS = ("name", "grid_name", "网格名称", "名称", "名字")
PARENT_FIELDS = ("parent_code", "parent", "上级编码", "上级网格编码")
POPULATION_FIELDS = ("population", "pop", "人口", "常住人口")
_GEOGRAPHIC_EPSG = {4326: "wgs84", 4490: "cgcs2000", 4258: "wgs84"}


@dataclass
class RejectedRow:
    """A row that cannot be imported, with a bilingual reason."""

    row: int
    code: str | None
    zh: str
    en: str

    def as_dict(self) -> dict:
        return {"row": self.row, "code": self.code, "reason_zh": self.zh, "reason_en": self.en}


@dataclass
class BoundaryImportReport:
    """What an import did (or, when rejected, would have done)."""

    set_id: int | None
    level: str
    source: str
    crs_in: str
    features: int
    added: int = 0
    replaced: int = 0
    repaired: list[dict] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    activated: bool = False

    def as_dict(self) -> dict:
        return {
            "set_id": self.set_id, "level": self.level, "source": self.source,
            "crs_in": self.crs_in, "features": self.features, "added": self.added,
            "replaced": self.replaced, "repaired": self.repaired, "warnings": self.warnings,
            "activated": self.activated,
        }


# ------------------------------------------------------------------ boundary sets

def active_set(session: Session) -> BoundarySet | None:
    """The boundary set lookups use, or None before any activation."""
    return session.scalar(select(BoundarySet).where(BoundarySet.status == "active"))


def require_active_set(session: Session) -> BoundarySet:
    found = active_set(session)
    if found is None:
        raise NotFound(
            "尚无生效的边界版本：请先导入边界并激活（gridmap boundaries activate）",
            "no active boundary set yet: import boundaries and activate them "
            "(gridmap boundaries activate)",
        )
    return found


def get_set(session: Session, set_id: int | None) -> BoundarySet:
    """The set with this id, or the active set when ``set_id`` is None."""
    if set_id is None:
        return require_active_set(session)
    # Set ids are PostgreSQL integers: a larger number names no set (and must not reach SQL).
    found = session.get(BoundarySet, set_id) if 1 <= set_id <= 2**31 - 1 else None
    if found is None:
        raise NotFound(f"边界版本 {set_id} 不存在", f"boundary set {set_id} does not exist")
    return found


class SetCache:
    """Boundary set ids for the map's hot path, remembered for ``ttl_s`` seconds (per
    process): after an activation, tiles follow the new set within that time."""

    def __init__(self, ttl_s: float = 5.0) -> None:
        import threading
        import time

        self._clock = time.monotonic
        self.ttl_s = ttl_s
        self._entries: dict[int | None, tuple[float, int]] = {}
        self._lock = threading.Lock()

    def get(self, set_id: int | None, lookup) -> int:
        now = self._clock()
        with self._lock:
            hit = self._entries.get(set_id)
        if hit is not None and now - hit[0] < self.ttl_s:
            return hit[1]
        value = lookup()
        with self._lock:
            self._entries[set_id] = (now, value)
        return value


#: The name a set has until its first import names it (and the name of sets created
#: before sets were named after their imports).
UNNAMED = "pending"


def default_set_name(imports: list[dict], day: date) -> str:
    """A set's name when nobody gave one: the day, then its files and their levels.

    >>> default_set_name([{"source": "d.geojson", "level": "district"},
    ...                   {"source": "t.zip", "level": "township"}], date(2025, 3, 1))
    '2025-03-01 d.geojson, t.zip (district, township)'
    """
    sources = ", ".join(dict.fromkeys(str(i.get("source")) for i in imports))
    levels = ", ".join(dict.fromkeys(str(i.get("level")) for i in imports))
    name = f"{day.isoformat()} {sources} ({levels})" if imports else day.isoformat()
    limit = BoundarySet.name.type.length
    return name if len(name) <= limit else name[: limit - 1] + "…"


def _name_after_imports(boundary_set: BoundarySet, before: list[dict]) -> None:
    """Rename ``boundary_set`` after its imports unless someone named it: a name that is
    still the default for the imports ``before`` this one follows the set's contents."""
    day = (boundary_set.created_at or datetime.now(UTC)).date()
    if boundary_set.name in (UNNAMED, default_set_name(before, day)):
        boundary_set.name = default_set_name(boundary_set.imports, day)


def pending_set(session: Session, *, name: str | None = None) -> BoundarySet:
    """The pending set, created as a copy of the active set when there is none."""
    found = session.scalar(
        select(BoundarySet).where(BoundarySet.status == "pending").with_for_update()
    )
    if found is not None:
        return found
    current = active_set(session)
    created = BoundarySet(name=name or UNNAMED, status="pending", imports=[])
    session.add(created)
    session.flush()
    if current is not None:
        session.execute(
            text(
                """
                INSERT INTO grid (set_id, code, name, level, parent_code, district_code,
                                  population, area_m2, synthetic, is_leaf, properties, geom)
                SELECT :new, code, name, level, parent_code, district_code, population,
                       area_m2, synthetic, is_leaf, properties, geom
                FROM grid WHERE set_id = :old
                """
            ),
            {"new": created.id, "old": current.id},
        )
    return created


def list_sets(session: Session) -> list[dict]:
    counts = dict(
        session.execute(select(Grid.set_id, func.count()).group_by(Grid.set_id)).all()
    )
    return [
        {
            "id": s.id, "name": s.name, "status": s.status,
            "created_at": s.created_at.isoformat() if s.created_at else None,
            "activated_at": s.activated_at.isoformat() if s.activated_at else None,
            "grids": counts.get(s.id, 0),
            "imports": s.imports,
        }
        for s in session.scalars(select(BoundarySet).order_by(BoundarySet.id))
    ]


@dataclass
class ActivationReport:
    set_id: int
    previous_set_id: int | None
    added: list[str]
    removed: list[str]
    changed: list[str]
    unchanged: int
    committed: bool

    def as_dict(self) -> dict:
        return {
            "set_id": self.set_id, "previous_set_id": self.previous_set_id,
            "added": self.added, "removed": self.removed, "changed": self.changed,
            "unchanged": self.unchanged, "committed": self.committed,
        }


def activate(session: Session, set_id: int, *, commit: bool = False) -> ActivationReport:
    """Make boundary set ``set_id`` the active one (a dry run unless ``commit``).

    The report compares the set with the currently active one by grid code: grids
    added, removed, and changed (name, parent or geometry).
    """
    target = session.get(BoundarySet, set_id, with_for_update=True)
    if target is None:
        raise NotFound(f"边界版本 {set_id} 不存在", f"boundary set {set_id} does not exist")
    if target.status == "active":
        raise InvalidInput(f"边界版本 {set_id} 已经是生效版本", f"boundary set {set_id} is already active")
    grids = session.scalar(select(func.count()).select_from(Grid).where(Grid.set_id == set_id))
    if not grids:
        raise InvalidInput(f"边界版本 {set_id} 没有任何网格，不能激活",
                           f"boundary set {set_id} holds no grids and cannot be activated")
    current = active_set(session)
    old = current.id if current else -1
    rows = session.execute(
        text(
            """
            SELECT COALESCE(n.code, o.code) AS code,
                   CASE WHEN o.code IS NULL THEN 'added'
                        WHEN n.code IS NULL THEN 'removed'
                        WHEN n.name IS DISTINCT FROM o.name
                          OR n.parent_code IS DISTINCT FROM o.parent_code
                          OR NOT ST_Equals(n.geom, o.geom) THEN 'changed'
                        ELSE 'unchanged' END AS change
            FROM (SELECT code, name, parent_code, geom FROM grid WHERE set_id = :new) n
            FULL JOIN (SELECT code, name, parent_code, geom FROM grid WHERE set_id = :old) o
              ON n.code = o.code
            ORDER BY 1
            """
        ),
        {"new": set_id, "old": old},
    ).all()
    by_kind: dict[str, list[str]] = {"added": [], "removed": [], "changed": [], "unchanged": []}
    for code, change in rows:
        by_kind[change].append(code)
    if commit:
        if current is not None:
            current.status = "retired"
            session.flush()
        target.status = "active"
        target.activated_at = func.now()
        if target.name == UNNAMED:  # a set from before sets were named after their imports
            target.name = default_set_name(target.imports or [], date.today())
        session.flush()
    return ActivationReport(
        set_id=set_id,
        previous_set_id=current.id if current else None,
        added=by_kind["added"], removed=by_kind["removed"], changed=by_kind["changed"],
        unchanged=len(by_kind["unchanged"]), committed=commit,
    )


def discard_pending(session: Session, set_id: int) -> None:
    """Delete a pending set and its grids (retired and active sets are kept)."""
    target = session.get(BoundarySet, set_id)
    if target is None:
        raise NotFound(f"边界版本 {set_id} 不存在", f"boundary set {set_id} does not exist")
    if target.status != "pending":
        raise InvalidInput(f"只能丢弃待定版本；版本 {set_id} 状态为 {target.status}",
                           f"only a pending set can be discarded; set {set_id} is {target.status}")
    session.delete(target)
    session.flush()


# ------------------------------------------------------------------------ import

def _pick_field(fields: dict[str, list], wanted: str | None, candidates: tuple[str, ...],
                what_zh: str, what_en: str, source: str, *, required: bool) -> str | None:
    if wanted:
        if wanted not in fields:
            raise InvalidInput(
                f"文件 {source} 没有字段 {wanted}（有：{', '.join(fields)}）",
                f"file {source} has no field {wanted} (it has: {', '.join(fields)})",
            )
        return wanted
    lowered = {name.lower(): name for name in fields}
    for candidate in candidates:
        if candidate.lower() in lowered:
            return lowered[candidate.lower()]
    if required:
        raise InvalidInput(
            f"文件 {source} 找不到{what_zh}字段（可用 --{what_en}-field 指定；现有：{', '.join(fields)}）",
            f"file {source} has no {what_en} field (name it with --{what_en}-field; "
            f"fields: {', '.join(fields)})",
        )
    return None


def _source_crs(layer_crs: str | None, declared: str | None, fmt: str, source: str):
    """Decide how the file's coordinates become CGCS2000.

    Returns ``(label, kind, transformer)`` where ``kind`` is one of the coords systems
    for lon/lat input (GCJ-02 and BD-09 only by declaration, since files cannot say so)
    or ``"projected"`` with a pyproj transformer to EPSG:4490.
    """
    declared_system = coords.parse_crs(declared, default=None) if declared else None
    file_crs = None
    if layer_crs:
        try:
            file_crs = CRS.from_user_input(layer_crs)
        except CRSError:
            raise UnknownCRS(f"文件 {source} 的坐标系无法识别", f"file {source} has an unrecognised CRS") from None
    if file_crs is None:
        if declared_system is None and fmt == "shp":
            raise UnknownCRS(
                f"文件 {source} 没有坐标系（缺少 .prj），请用 --crs 声明",
                f"file {source} has no CRS (no .prj); declare one with --crs",
            )
        system = declared_system or "wgs84"  # RFC 7946: GeoJSON without crs is WGS84
        return system, system, None
    if file_crs.is_geographic:
        epsg = file_crs.to_epsg()
        if epsg in _GEOGRAPHIC_EPSG or file_crs.name in ("WGS 84 (CRS84)", "China Geodetic Coordinate System 2000"):
            # lon/lat numbers; GCJ-02 and BD-09 data carry a WGS84 label in every file
            # format, so the declaration wins.
            system = declared_system or _GEOGRAPHIC_EPSG.get(epsg, "wgs84")
            return system, system, None
    if declared_system in ("gcj02", "bd09"):
        raise UnknownCRS(
            f"文件 {source} 的坐标系为 {file_crs.name}，不能声明为 {declared_system}（GCJ-02/BD-09 只用于经纬度数据）",
            f"file {source} is in {file_crs.name}; it cannot be declared {declared_system} "
            "(GCJ-02/BD-09 apply to lon/lat data only)",
        )
    transformer = Transformer.from_crs(file_crs, CRS.from_epsg(4490), always_xy=True)
    label = f"EPSG:{file_crs.to_epsg()}" if file_crs.to_epsg() else file_crs.name
    return label, "projected", transformer


def _to_multipolygon(geom) -> MultiPolygon | None:
    if geom is None or geom.is_empty:
        return None
    if isinstance(geom, Polygon):
        return MultiPolygon([geom])
    if isinstance(geom, MultiPolygon):
        return geom
    polygons = [g for g in shapely.get_parts(geom) if isinstance(g, (Polygon, MultiPolygon))]
    parts = []
    for p in polygons:
        parts.extend(shapely.get_parts(p))
    parts = [p for p in parts if not p.is_empty and p.area > 0]
    return MultiPolygon(parts) if parts else None


#: Area / perimeter² below which a repaired part is a sliver (a square has 1/16).
_SLIVER_RATIO = 1e-9


def _repair(geom) -> tuple[MultiPolygon | None, tuple[str, str] | None]:
    """Repair an invalid polygon with GEOS MakeValid (what PostGIS ST_MakeValid runs);
    the reason it was invalid comes back in Chinese and English."""
    if shapely.is_valid(geom):
        return _to_multipolygon(geom), None
    reason = _validity_reason(shapely.is_valid_reason(geom))
    fixed = _to_multipolygon(shapely.make_valid(geom))
    if fixed is not None:
        # A ring whose points are (nearly) collinear comes out of MakeValid as slivers of
        # ~1e-16 square degrees: rounding noise, not land, which geodesic area would still
        # count as hundreds of square metres. A part thinner than this is dropped.
        parts = [p for p in fixed.geoms if p.area > _SLIVER_RATIO * p.length**2]
        fixed = MultiPolygon(parts) if parts else None
    return fixed, reason


def _transform(geom, kind: str, transformer):
    if kind == "projected":
        return shapely.transform(geom, lambda xy: np.column_stack(transformer.transform(xy[:, 0], xy[:, 1])))
    return coords.transform_geometry(geom, kind, "cgcs2000")


def _coordinate_problem(geom) -> tuple[str, str] | None:
    """A reason when the geometry's coordinates are outside China or look swapped."""
    xy = shapely.get_coordinates(geom)
    codes = coords.classify_lonlat(xy[:, 0], xy[:, 1])
    bad = codes != "ok"
    if not bad.any():
        return None
    first = str(codes[np.argmax(bad)])
    where = ", ".join(coords.format_coordinate(v) for v in xy[np.argmax(bad)])
    zh, en = coords.REASONS[first]
    return f"{zh}（{where}）", f"{en} ({where})"


#: GEOS validity reasons (``is_valid_reason``, the text of PostGIS ``ST_IsValidReason``)
#: in Chinese; the English is kept beside it.
_VALIDITY_REASONS_ZH = {
    "Self-intersection": "自相交",
    "Ring Self-intersection": "环自相交",
    "Too few points in geometry component": "构件的点数过少",
    "Too few distinct points in geometry component": "构件的不同点数过少",
    "Hole lies outside shell": "内环位于外环之外",
    "Holes are nested": "内环相互嵌套",
    "Interior is disconnected": "内部不连通",
    "Nested shells": "外环相互嵌套",
    "Duplicate Rings": "环重复",
    "Invalid Coordinate": "坐标无效",
    "Ring is not closed": "环未闭合",
    "Repeated Point": "重复点",
}


def _validity_reason(reason: str) -> tuple[str, str]:
    """``"Self-intersection[117.95 34.35]"`` → (``自相交（117.95, 34.35）``,
    ``Self-intersection at (117.95, 34.35)``), coordinates rounded like every message."""
    name, _, rest = reason.partition("[")
    name = name.strip()
    where = ""
    if rest:
        try:
            where = ", ".join(coords.format_coordinate(float(v)) for v in rest.rstrip("]").split()[:2])
        except ValueError:
            where = ""
    zh = _VALIDITY_REASONS_ZH.get(name, "几何无效")
    return (f"{zh}（{where}）" if where else zh), (f"{name} at ({where})" if where else name)


def _outside_ratio(child, parent) -> float:
    area = child.area
    if area == 0:
        return 0.0
    return shapely.difference(child, parent).area / area


def import_boundaries(
    session: Session,
    path: Path,
    *,
    level: str,
    crs: str | None = None,
    code_field: str | None = None,
    name_field: str | None = None,
    parent_field: str | None = None,
    population_field: str | None = None,
    synthetic: bool | None = None,
    activate_after: bool = False,
    settings: ImportSettings | None = None,
    set_name: str | None = None,
) -> BoundaryImportReport:
    """Import one level of grids from a file into the pending boundary set.

    Parameters
    ----------
    level
        ``district``, ``township``, ``direct``, ``village`` or ``micro``.
    crs
        The coordinate system the numbers are in when the file cannot say it:
        ``gcj02`` (Amap/Tencent) or ``bd09`` (Baidu); ``wgs84``/``cgcs2000`` otherwise.
    synthetic
        Mark the polygons as generated; by default taken from a ``synthetic`` field.
    set_name
        Name the pending set; without one it is named after its imports (day, files,
        levels) until somebody names it.

    Raises
    ------
    ImportRejected
        When any row is fatal; ``detail`` lists every rejected row. Nothing is written.
    """
    settings = settings or ImportSettings()
    path = Path(path)
    set_name = " ".join((set_name or "").split()) or None
    if level not in LEVELS:
        raise InvalidInput(f"未知层级 {level}（可选：{', '.join(LEVELS)}）",
                           f"unknown level {level} (one of: {', '.join(LEVELS)})")
    layer = read_vector(path, settings)
    source = path.name
    if len(layer) == 0:
        # Before the fields are looked for: an empty FeatureCollection has none either.
        raise InvalidFile(f"文件 {source} 中没有要素", f"file {source} has no features")
    crs_label, kind, transformer = _source_crs(layer.crs, crs, layer.source_format, source)
    code_name = _pick_field(layer.fields, code_field, CODE_FIELDS, "编码", "code", source, required=True)
    name_name = _pick_field(layer.fields, name_field, NAME_FIELDS, "名称", "name", source, required=True)
    parent_name = _pick_field(layer.fields, parent_field, PARENT_FIELDS, "上级编码", "parent", source,
                              required=False)
    pop_name = _pick_field(layer.fields, population_field, POPULATION_FIELDS, "人口", "population",
                           source, required=False)
    report = BoundaryImportReport(set_id=None, level=level, source=source, crs_in=crs_label,
                                  features=len(layer))

    # Validate against the set the import will land in (the pending set, or the active
    # set it will be copied from) before creating anything.
    pending = session.scalar(select(BoundarySet).where(BoundarySet.status == "pending"))
    base = pending or active_set(session)
    base_id = base.id if base else -1
    existing = {
        code: (lvl, name)
        for code, lvl, name in session.execute(
            select(Grid.code, Grid.level, Grid.name).where(Grid.set_id == base_id)
        )
    }

    rejected: list[RejectedRow] = []
    accepted: list[dict] = []
    seen: dict[str, int] = {}
    widths = _sibling_widths(existing, level)
    for index in range(len(layer)):
        row = index + 1
        code = normalise_code(layer.fields[code_name][index])
        name = str(layer.fields[name_name][index] or "").strip()

        def reject(zh: str, en: str, code=code, row=row) -> None:
            rejected.append(RejectedRow(row=row, code=code or None, zh=zh, en=en))

        found_level = level_of_code(code)
        if not code:
            reject("编码为空", "empty code")
            continue
        if found_level != level:
            what = LEVEL_NAMES_ZH.get(found_level or "", "未知")
            reject(f"编码 {code} 不是{LEVEL_NAMES_ZH[level]}编码（识别为：{what}）",
                   f"code {code} is not a {level} code (looks like: {found_level or 'nothing known'})")
            continue
        if code in seen:
            reject(f"编码 {code} 重复（首次出现在第 {seen[code]} 行）",
                   f"duplicate code {code} (first at row {seen[code]})")
            continue
        seen[code] = row
        if not name:
            reject("名称为空", "empty name")
            continue
        parent = parent_code_of(code)
        if parent_name is not None:
            declared_parent = normalise_code(layer.fields[parent_name][index])
            if declared_parent and declared_parent != parent:
                reject(f"编码 {code} 没有延续上级编码 {declared_parent}",
                       f"code {code} does not extend its parent's code {declared_parent}")
                continue
        if parent is not None:
            parent_entry = existing.get(parent)
            if parent_entry is None:
                reject(f"上级网格 {parent} 不存在（请先导入上级层级）",
                       f"parent grid {parent} not found (import the level above first)")
                continue
            if LEVEL_DEPTH[parent_entry[0]] != LEVEL_DEPTH[level] - 1:
                reject(f"上级网格 {parent} 层级为 {parent_entry[0]}，不能作为{LEVEL_NAMES_ZH[level]}的上级",
                       f"parent grid {parent} is a {parent_entry[0]}, not the level above {level}")
                continue
        if level in VARIABLE_WIDTH_LEVELS:
            width, example, first_row = widths.setdefault(parent, (len(code), code, row))
            if len(code) != width:
                where_zh = f"第 {first_row} 行" if first_row else "当前边界中已有"
                where_en = f"row {first_row}" if first_row else "already in the boundary set"
                reject(f"编码 {code} 为 {len(code)} 位，而 {parent} 下的{LEVEL_NAMES_ZH[level]}编码为 {width} 位"
                       f"（{where_zh} {example}）：同一上级下位数必须一致，否则一个编码是另一个的前缀",
                       f"code {code} has {len(code)} characters but the {level} grids under {parent} "
                       f"have {width} ({example}, {where_en}): one width per parent, otherwise one "
                       "code is a prefix of another")
                continue
        population = None
        if pop_name is not None:
            raw = layer.fields[pop_name][index]
            if raw not in (None, ""):
                try:
                    population = int(float(raw))
                    if population < 0 or population != population:
                        raise ValueError
                except (TypeError, ValueError):
                    reject(f"人口 {raw!r} 不是非负整数", f"population {raw!r} is not a non-negative integer")
                    continue
        geom = layer.geometries[index]
        if geom is None or geom.is_empty:
            reject("几何为空或缺失", "empty or missing geometry")
            continue
        if geom.geom_type not in ("Polygon", "MultiPolygon", "GeometryCollection"):
            reject(f"几何类型为 {geom.geom_type}，应为面", f"geometry is a {geom.geom_type}, not a polygon")
            continue
        try:
            geom = _transform(geom, kind, transformer)
        except Exception:
            reject("坐标无法转换到 CGCS2000", "coordinates cannot be transformed to CGCS2000")
            continue
        problem = _coordinate_problem(geom)
        if problem:
            reject(*problem)
            continue
        fixed, reason = _repair(geom)
        if fixed is None:
            reject(f"几何无效且无法修复（{reason[0]}）", f"invalid geometry that cannot be repaired ({reason[1]})")
            continue
        if reason:
            report.repaired.append({"row": row, "code": code, "reason": f"{reason[0]} / {reason[1]}",
                                    "reason_zh": reason[0], "reason_en": reason[1]})
        props = {}
        is_synthetic = bool(synthetic)
        for fname, values in layer.fields.items():
            if fname in (code_name, name_name, parent_name, pop_name):
                continue
            value = values[index]
            if fname.lower() == "synthetic" and synthetic is None:
                is_synthetic = str(value).lower() in ("1", "true", "yes", "是")
                continue
            if isinstance(value, (np.integer, np.floating)):
                value = value.item()
            if isinstance(value, float) and value != value:
                value = None
            if value is not None and not isinstance(value, (str, int, float, bool)):
                value = str(value)
            props[fname] = value
        accepted.append({"row": row, "code": code, "name": name, "parent_code": parent,
                         "population": population, "geom": fixed, "synthetic": is_synthetic,
                         "properties": props})

    if accepted and level != "district":
        _check_inside_parents(session, base_id, accepted, kind, rejected, settings)

    if rejected:
        rejected.sort(key=lambda r: r.row)
        first = rejected[0]
        raise ImportRejected(
            f"文件 {source} 有 {len(rejected)} 行被拒绝，未导入任何数据；第 {first.row} 行：{first.zh}",
            f"file {source}: {len(rejected)} row(s) rejected, nothing imported; row {first.row}: {first.en}",
            detail=[r.as_dict() for r in rejected],
        )

    codes = [a["code"] for a in accepted]
    report.replaced = sum(1 for c in codes if c in existing)
    report.added = len(codes) - report.replaced
    summary = {"source": source, "sha256": file_sha256(path), "level": level, "features": len(accepted),
               "added": report.added, "replaced": report.replaced, "crs_in": crs_label}
    with audit.bulk(session, object_type="grid", object_id=None, summary=summary):
        target = pending_set(session, name=set_name)
        if set_name:
            target.name = set_name[: BoundarySet.name.type.length]
        report.set_id = target.id
        summary["set_id"] = target.id
        session.execute(
            Grid.__table__.delete().where(Grid.set_id == target.id, in_array(Grid.code, codes))
        )
        _copy_grids(session, target.id, level, accepted)
        refresh_leaves(session, target.id)
    # Fresh statistics, or the planner guesses two rows and scans a province per tile.
    session.execute(text("ANALYZE grid"))
    entry = report.as_dict()
    entry.pop("repaired")
    entry["repaired"] = len(report.repaired)
    entry["sha256"] = summary["sha256"]
    before = target.imports
    target.imports = [*before, entry]
    _name_after_imports(target, before)
    session.flush()
    if activate_after:
        activate(session, target.id, commit=True)
        report.activated = True
    return report


def _sibling_widths(existing: dict[str, tuple[str, str]], level: str) -> dict[str, tuple[int, str, int | None]]:
    """For micro-grids and direct grids: the code width each parent already uses in the
    target set, with an example code (see :data:`gridmap.codes.VARIABLE_WIDTH_LEVELS`)."""
    if level not in VARIABLE_WIDTH_LEVELS:
        return {}
    widths: dict[str, tuple[int, str, int | None]] = {}
    for code in sorted(c for c, (lvl, _name) in existing.items() if lvl == level):
        widths.setdefault(parent_code_of(code), (len(code), code, None))
    return widths


def _check_inside_parents(session, set_id, accepted, kind, rejected, settings) -> None:
    """Reject children that stick out of their parent, hinting at a wrong CRS."""
    parents = {
        code: shapely.from_wkb(bytes(wkb))
        for code, wkb in session.execute(
            text("SELECT code, ST_AsBinary(geom) FROM grid WHERE set_id = :s AND code = ANY(:codes)"),
            {"s": set_id, "codes": sorted({a["parent_code"] for a in accepted})},
        )
    }
    for parent in parents.values():
        shapely.prepare(parent)
    keep = []
    for item in accepted:
        parent = parents[item["parent_code"]]
        child = item["geom"]
        if shapely.covers(parent, child):
            keep.append(item)
            continue
        ratio = _outside_ratio(child, parent)
        if ratio <= settings.max_outside_parent_ratio:
            keep.append(item)
            continue
        hint_zh = hint_en = ""
        if kind in ("wgs84", "cgcs2000"):
            as_gcj = coords.transform_geometry(child, "gcj02", "cgcs2000")
            if _outside_ratio(as_gcj, parent) < ratio / 4:
                hint_zh = "；按 GCJ-02 解读则吻合，数据可能来自高德/腾讯，请加 --crs gcj02"
                hint_en = "; it fits when read as GCJ-02 — Amap/Tencent data? use --crs gcj02"
        rejected.append(RejectedRow(
            row=item["row"], code=item["code"],
            zh=f"有 {ratio:.1%} 的面积超出上级网格 {item['parent_code']}{hint_zh}",
            en=f"{ratio:.1%} of its area lies outside its parent {item['parent_code']}{hint_en}",
        ))
    accepted[:] = keep


def _copy_grids(session: Session, set_id: int, level: str, accepted: list[dict]) -> None:
    """Bulk-load grids through COPY into a staging table, then compute areas in SQL."""
    import json

    session.execute(text(
        "CREATE TEMP TABLE IF NOT EXISTS grid_stage (code text, name text, parent_code text,"
        " population integer, synthetic boolean, properties jsonb, wkb bytea) ON COMMIT DROP"
    ))
    session.execute(text("TRUNCATE grid_stage"))
    raw = session.connection().connection.driver_connection
    with raw.cursor() as cur:
        with cur.copy("COPY grid_stage (code, name, parent_code, population, synthetic,"
                      " properties, wkb) FROM STDIN") as copy:
            for item in accepted:
                copy.write_row((
                    item["code"], item["name"], item["parent_code"], item["population"],
                    item["synthetic"], json.dumps(item["properties"], ensure_ascii=False),
                    shapely.to_wkb(item["geom"]),
                ))
    session.execute(
        text(
            """
            INSERT INTO grid (set_id, code, name, level, parent_code, district_code, population,
                              area_m2, synthetic, is_leaf, properties, geom)
            SELECT :set_id, code, name, :level, parent_code, left(code, 6), population,
                   ST_Area(g::geography), synthetic, true, properties, g
            FROM (SELECT *, ST_SetSRID(ST_GeomFromWKB(wkb), 4490) AS g FROM grid_stage) s
            """
        ),
        {"set_id": set_id, "level": level},
    )
    session.execute(text("TRUNCATE grid_stage"))


def file_sha256(path: Path) -> str:
    import hashlib

    digest = hashlib.sha256()
    with Path(path).open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def refresh_leaves(session: Session, set_id: int) -> None:
    """Recompute ``is_leaf`` (no children in the set) for every grid of a set."""
    session.execute(
        update(Grid)
        .where(Grid.set_id == set_id)
        .values(is_leaf=~select(Grid.__table__.alias("c").c.id)
                .where(text("c.set_id = grid.set_id AND c.parent_code = grid.code"))
                .exists())
    )


__all__ = [
    "import_boundaries", "activate", "active_set", "require_active_set", "get_set",
    "pending_set", "list_sets", "discard_pending", "refresh_leaves",
    "BoundaryImportReport", "ActivationReport", "RejectedRow", "add_grid",
]



def add_grid(session: Session, *, set_id: int, code: str, name: str, level: str, geom,
             population: int | None = None, synthetic: bool = False) -> Grid:
    """Insert one grid directly (programmatic use and tests; files go through
    :func:`import_boundaries`). ``geom`` is a shapely (Multi)Polygon in CGCS2000."""
    from geoalchemy2.shape import from_shape

    multi = _to_multipolygon(geom)
    if multi is None:
        raise InvalidInput("几何为空", "empty geometry")
    grid = Grid(set_id=set_id, code=code, name=name, level=level, parent_code=parent_code_of(code),
                district_code=code[:6], population=population, synthetic=synthetic,
                geom=from_shape(multi, srid=4490), area_m2=0.0, properties={})
    session.add(grid)
    session.flush()
    session.execute(update(Grid).where(Grid.id == grid.id)
                    .values(area_m2=func.ST_Area(func.geography(Grid.geom))))
    refresh_leaves(session, set_id)
    session.refresh(grid)
    return grid
