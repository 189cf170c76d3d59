"""The enterprise register (一企一档): import, upsert by USCC, placement, queries.

An import reads CSV or XLSX with the columns ``uscc,name,address,lon,lat,coord_system,
sector,scale,risk_level,safety_class,major_hazard_grade,department`` or their usual
Chinese headers. Rows with a bad USCC check digit, unparsable coordinates, coordinates
outside China (:func:`gridmap.coords.in_china`) or with longitude and latitude swapped are
rejected and written to ``FILE.rejects.csv`` next to the file — the full file name plus
``.rejects.csv`` (``a.csv.rejects.csv``, ``a.xlsx.rejects.csv``), so the CSV and the XLSX of
one register keep their own lists — with row, field and reason in Chinese and English;
the good rows are imported in one transaction. Re-importing the same file changes
nothing. Each row's coordinate system is its ``coord_system`` cell when present,
otherwise the ``--crs`` of the import (default WGS84).
"""

from __future__ import annotations

import contextlib
import csv
import json
import math
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from sqlalchemy import func, or_, select, text
from sqlalchemy.orm import Session

from gridmap import audit, coords
from gridmap.auth import Scope
from gridmap.boundaries import require_active_set
from gridmap.db import in_array
from gridmap.density import cells_r9, refresh_density
from gridmap.errors import Conflict, Forbidden, GridmapError, InvalidInput, NotFound
from gridmap.files import map_columns, read_table
from gridmap.models import PLACEMENTS, Enterprise
from gridmap.placement import Placement, place_records
from gridmap.settings import ImportSettings
from gridmap.taxonomy import (
    OTHER,
    Taxonomy,
    load_sectors,
    parse_major_hazard_grade,
    parse_risk_level,
    parse_safety_class,
    parse_scale,
)
from gridmap.uscc import validate_uscc

COLUMNS = {
    "uscc": ("统一社会信用代码", "社会信用代码", "信用代码", "credit_code"),
    "name": ("企业名称", "单位名称", "名称", "企业"),
    "address": ("地址", "详细地址", "企业地址", "经营地址", "注册地址"),
    "lon": ("经度", "longitude", "lng", "x"),
    "lat": ("纬度", "latitude", "y"),
    "coord_system": ("坐标系", "crs", "坐标系统"),
    "sector": ("行业类别", "行业", "行业分类"),
    "scale": ("企业规模", "规模"),
    "risk_level": ("风险等级", "风险"),
    "safety_class": ("安全分类", "分类", "abc分类"),
    "major_hazard_grade": ("重大危险源等级", "危险源等级"),
    "department": ("行业主管部门", "主管部门", "监管部门"),
}
FIELDS = tuple(COLUMNS)
#: Attributes compared to decide whether a re-imported row changed anything.
_COMPARED = ("name", "address", "sector", "sector_raw", "scale", "risk_level", "safety_class",
             "major_hazard_grade", "department", "source_lon", "source_lat", "source_crs")


@dataclass
class EnterpriseImportReport:
    rows: int
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    rejected: list[dict] = field(default_factory=list)
    warnings: list[dict] = field(default_factory=list)
    placements: dict[str, int] = field(default_factory=dict)
    rejects_file: str | None = None
    set_id: int | None = None

    def as_dict(self) -> dict:
        return {**self.__dict__, "rejected_rows": len({r["row"] for r in self.rejected})}


def _float(text_value: str) -> float | None:
    value = text_value.strip().replace("，", ".").replace("°", "")
    if not value:
        return None
    number = float(value)
    if not math.isfinite(number):
        raise ValueError(value)
    return number


def parse_record(values: dict[str, str], *, default_crs: str, sectors: Taxonomy, locate: bool = True
                 ) -> tuple[dict, list[tuple[str, str, str]], list[tuple[str, str, str]]]:
    """Validate one row. Returns ``(record, problems, warnings)``; each problem and warning
    is ``(field, zh, en)``. The record holds CGCS2000 ``lon``/``lat`` (NaN when absent).

    ``locate=False`` leaves the "in China" check and the conversion to CGCS2000 to one
    vectorised :func:`locate_records` over the whole file (an import of a million rows).
    """
    problems: list[tuple[str, str, str]] = []
    warnings: list[tuple[str, str, str]] = []
    record: dict = {}

    def guard(column: str, parse):
        try:
            return parse(values.get(column, "") or None)
        except GridmapError as exc:
            problems.append((column, exc.zh, exc.en))
        return None

    try:
        record["uscc"] = validate_uscc(values.get("uscc", ""))
    except GridmapError as exc:
        problems.append(("uscc", exc.zh, exc.en))
    name = (values.get("name") or "").strip()
    if not name or len(name) > 200:
        problems.append(("name", "企业名称为空或过长", "enterprise name is empty or too long"))
    record["name"] = name
    address = (values.get("address") or "").strip() or None
    if address and len(address) > 400:
        problems.append(("address", "地址过长", "address is too long"))
    record["address"] = address
    raw_sector = (values.get("sector") or "").strip()
    category = sectors.parse(raw_sector)
    record["sector"] = category.id if category else OTHER.id
    record["sector_raw"] = None if category else (raw_sector or None)
    if category is None and raw_sector:
        warnings.append(("sector", f"行业类别 {raw_sector!r} 不在分类中，记为“其他”",
                         f"sector {raw_sector!r} is not in the taxonomy; kept as 'other'"))
    record["scale"] = guard("scale", parse_scale)
    record["risk_level"] = guard("risk_level", parse_risk_level)
    record["safety_class"] = guard("safety_class", parse_safety_class)
    record["major_hazard_grade"] = guard("major_hazard_grade", parse_major_hazard_grade)
    department = (values.get("department") or "").strip() or None
    record["department"] = department[:100] if department else None

    lon_text, lat_text = values.get("lon", "") or "", values.get("lat", "") or ""
    record.update(source_lon=None, source_lat=None, source_crs=None, lon=math.nan, lat=math.nan)
    try:
        lon, lat = _float(lon_text), _float(lat_text)
    except ValueError:
        problems.append(("lon/lat", f"坐标无法解析（{lon_text!r}, {lat_text!r}）",
                         f"coordinates cannot be parsed ({lon_text!r}, {lat_text!r})"))
        return record, problems, warnings
    if (lon is None) != (lat is None):
        problems.append(("lon/lat", "经度和纬度只填了一个", "only one of longitude and latitude is given"))
    elif lon is not None:
        system = guard("coord_system", lambda v: coords.parse_crs(v, default=default_crs))
        if system:
            record.update(source_lon=lon, source_lat=lat, source_crs=system)
    if record["source_lon"] is None and not address and not problems:
        warnings.append(("lon/lat", "既无坐标也无地址，无法落格", "neither coordinates nor address: cannot be placed"))
    if locate:
        problems += locate_records([record])[0]
    return record, problems, warnings


def locate_records(records: list[dict]) -> list[list[tuple[str, str, str]]]:
    """Check the source coordinates of parsed records and convert them to CGCS2000.

    Vectorised over all records (one :func:`gridmap.coords.classify_lonlat` call, one
    conversion per coordinate system). Sets ``lon``/``lat`` of the records in China;
    returns each record's problems (outside China, swapped, out of range), whose source
    coordinates are then cleared.
    """
    problems: list[list[tuple[str, str, str]]] = [[] for _ in records]
    located = [i for i, r in enumerate(records) if r["source_lon"] is not None]
    if not located:
        return problems
    lon = np.array([records[i]["source_lon"] for i in located], dtype=float)
    lat = np.array([records[i]["source_lat"] for i in located], dtype=float)
    system = np.array([records[i]["source_crs"] for i in located], dtype=object)
    status = coords.classify_lonlat(lon, lat)
    x, y = np.full(len(located), math.nan), np.full(len(located), math.nan)
    for name in set(system.tolist()):
        todo = (system == name) & (status == "ok")
        if todo.any():
            x[todo], y[todo] = coords.to_cgcs2000(lon[todo], lat[todo], name)
    for k, i in enumerate(located):
        record = records[i]
        if status[k] == "ok":
            record["lon"], record["lat"] = float(x[k]), float(y[k])
            continue
        zh, en = coords.REASONS[str(status[k])]
        shown = f"{record['source_lon']}, {record['source_lat']}"
        problems[i].append(("lon/lat", f"{zh}（{shown}）", f"{en} ({shown})"))
        record.update(source_lon=None, source_lat=None, source_crs=None)
    return problems


def rejects_path(path: Path) -> Path:
    """Where an import of ``path`` lists its rejected rows: ``FILE.rejects.csv``."""
    return path.with_name(f"{path.name}.rejects.csv")


def write_rejects(path: Path, rejected: list[dict]) -> None:
    """The rejects file: UTF-8 with BOM so Excel shows the Chinese correctly."""
    with path.open("w", encoding="utf-8-sig", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["row", "field", "reason_zh", "reason_en"])
        for item in rejected:
            writer.writerow([item["row"], item["field"], item["reason_zh"], item["reason_en"]])


def import_enterprises(session: Session, path: Path, *, crs: str | None = None,
                       settings: ImportSettings | None = None, tolerance_m: float = 50.0,
                       sectors: Taxonomy | None = None, write_rejects_file: bool = True,
                       scope: Scope | None = None) -> EnterpriseImportReport:
    """Import (upsert by USCC) an enterprise register from CSV or XLSX.

    Rejected rows are reported (and written to :func:`rejects_path`); the good rows are
    written in the caller's transaction. With a ``scope``, rows placed outside it are
    rejected too (a township's staff import their township's register).
    """
    settings = settings or ImportSettings()
    sectors = sectors or load_sectors()
    default_crs = coords.parse_crs(crs) if crs else "wgs84"
    path = Path(path)
    header, rows = read_table(path, settings)
    cols = map_columns(header, COLUMNS, name=path.name, required=("uscc", "name"))
    boundary_set = require_active_set(session)
    report = EnterpriseImportReport(rows=len(rows), set_id=boundary_set.id)

    parsed = []
    for values in rows:
        cells = {key: (values[i].strip() if i < len(values) else "") for key, i in cols.items()}
        parsed.append(parse_record(cells, default_crs=default_crs, sectors=sectors, locate=False))
    location_problems = locate_records([record for record, _, _ in parsed])
    records: list[dict] = []
    first_row: dict[str, int] = {}
    for index, ((record, problems, warnings), more) in enumerate(zip(parsed, location_problems)):
        row = index + 2
        problems += more
        uscc = record.get("uscc")
        if uscc and uscc in first_row:
            problems.append(("uscc", f"统一社会信用代码重复（首次出现在第 {first_row[uscc]} 行）",
                             f"duplicate USCC (first at row {first_row[uscc]})"))
        elif uscc:
            first_row[uscc] = row
        for column, zh, en in problems:
            report.rejected.append({"row": row, "field": column, "reason_zh": zh, "reason_en": en})
        for column, zh, en in warnings:
            report.warnings.append({"row": row, "field": column, "reason_zh": zh, "reason_en": en})
        if not problems:
            record["row"] = row
            records.append(record)

    if records:
        placements = place_records(
            session, set_id=boundary_set.id, lon=[r["lon"] for r in records],
            lat=[r["lat"] for r in records], addresses=[r["address"] for r in records],
            tolerance_m=tolerance_m,
        )
        if scope is not None and scope.code is not None:
            # A row upserts by USCC: one naming an enterprise of another township would
            # take it over, wherever the row puts it.
            owners = dict(session.execute(select(Enterprise.uscc, Enterprise.home_code)
                                          .where(in_array(Enterprise.uscc, [r["uscc"] for r in records]))).all())
            kept = []
            for record, placed in zip(records, placements):
                if record["uscc"] in owners and not scope.allows(owners[record["uscc"]]):
                    report.rejected.append({"row": record["row"], "field": "uscc",
                                            "reason_zh": "该企业属于您管辖范围以外的网格",
                                            "reason_en": "the enterprise belongs to a grid outside your scope"})
                elif scope.allows(placed.home_code):
                    kept.append((record, placed))
                else:
                    report.rejected.append({"row": record["row"], "field": "lon/lat",
                                            "reason_zh": "企业位置不在您的管辖范围内",
                                            "reason_en": "the enterprise lies outside your scope"})
            records = [r for r, _ in kept]
            placements = [p for _, p in kept]
        counts = _upsert(session, records, placements, boundary_set.id)
        report.added, report.updated, report.unchanged = counts
        report.placements = dict(Counter(p.placement for p in placements))
    report.rejected.sort(key=lambda r: (r["row"], r["field"]))
    rejects = rejects_path(path)
    if write_rejects_file:
        if report.rejected:
            write_rejects(rejects, report.rejected)
            report.rejects_file = str(rejects)
        elif rejects.exists():
            rejects.unlink()
    return report


def _upsert(session: Session, records: list[dict], placements: list[Placement], set_id: int
            ) -> tuple[int, int, int]:
    """COPY into a staging table, then one INSERT … ON CONFLICT (uscc) DO UPDATE."""
    session.execute(text(
        """
        CREATE TEMP TABLE IF NOT EXISTS enterprise_stage (
            uscc varchar(18), name text, address text, sector text, sector_raw text, scale text,
            risk_level text, safety_class text, major_hazard_grade smallint, department text,
            source_lon float8, source_lat float8, source_crs text, lon float8, lat float8,
            placement text, grid_code text, village_code text, township_code text,
            district_code text, home_code text, placement_detail jsonb, h3_r9 bigint) ON COMMIT DROP
        """))
    session.execute(text("TRUNCATE enterprise_stage"))
    cells = cells_r9([r["lon"] for r in records], [r["lat"] for r in records])
    raw = session.connection().connection.driver_connection
    columns = ("uscc", "name", "address", "sector", "sector_raw", "scale", "risk_level", "safety_class",
               "major_hazard_grade", "department", "source_lon", "source_lat", "source_crs", "lon", "lat")
    stage = (f"COPY enterprise_stage ({', '.join(columns)}, placement, grid_code, village_code,"
             " township_code, district_code, home_code, placement_detail, h3_r9) FROM STDIN")
    with raw.cursor() as cur, cur.copy(stage) as copy:
        for record, placed, cell in zip(records, placements, cells):
            values = [record[c] for c in columns]
            values[13] = None if math.isnan(values[13]) else values[13]
            values[14] = None if math.isnan(values[14]) else values[14]
            copy.write_row((*values, placed.placement, placed.grid_code, placed.village_code,
                            placed.township_code, placed.district_code, placed.home_code,
                            json.dumps(placed.detail, ensure_ascii=False), cell))
    # Districts the rows were in before and are in now: their density aggregates change.
    touched = {p.home_code[:6] for p in placements if p.home_code}
    touched |= set(session.scalars(text(
        "SELECT DISTINCT left(e.home_code, 6) FROM enterprise e JOIN enterprise_stage s ON s.uscc = e.uscc"
        " WHERE e.home_code IS NOT NULL")).all())
    bulk = (audit.bulk(session, object_type="enterprise", object_id=None, summary={"rows": len(records)})
            if len(records) > 1 else contextlib.nullcontext({}))
    with bulk as summary:
        added, updated = _merge_stage(session, set_id)
        summary.update(added=added, updated=updated, unchanged=len(records) - added - updated, set_id=set_id)
    if added or updated:
        refresh_density(session, touched)
    if added + updated > 1000:
        session.execute(text("ANALYZE enterprise"))
    session.execute(text("TRUNCATE enterprise_stage"))
    return added, updated, len(records) - added - updated


def _merge_stage(session: Session, set_id: int) -> tuple[int, int]:
    """Upsert the staged rows into ``enterprise`` and the placement history."""
    changed = " OR ".join(f"e.{c} IS DISTINCT FROM EXCLUDED.{c}" for c in _COMPARED + ("placement", "grid_code", "home_code"))
    result = session.execute(text(
        f"""
        INSERT INTO enterprise AS e (uscc, name, address, sector, sector_raw, scale, risk_level,
            safety_class, major_hazard_grade, department, source_lon, source_lat, source_crs,
            location, placement, grid_code, village_code, township_code, district_code,
            home_code, placement_detail, placed_set_id, h3_r9)
        SELECT uscc, name, address, sector, sector_raw, scale, risk_level, safety_class,
               major_hazard_grade, department, source_lon, source_lat, source_crs,
               CASE WHEN lon IS NULL THEN NULL ELSE ST_SetSRID(ST_MakePoint(lon, lat), 4490) END,
               placement, grid_code, village_code, township_code, district_code, home_code,
               placement_detail, :set_id, h3_r9
        FROM enterprise_stage
        ON CONFLICT (uscc) DO UPDATE SET
            name = EXCLUDED.name, address = EXCLUDED.address, sector = EXCLUDED.sector,
            sector_raw = EXCLUDED.sector_raw, scale = EXCLUDED.scale,
            risk_level = EXCLUDED.risk_level, safety_class = EXCLUDED.safety_class,
            major_hazard_grade = EXCLUDED.major_hazard_grade, department = EXCLUDED.department,
            source_lon = EXCLUDED.source_lon, source_lat = EXCLUDED.source_lat,
            source_crs = EXCLUDED.source_crs, location = EXCLUDED.location,
            placement = EXCLUDED.placement, grid_code = EXCLUDED.grid_code,
            village_code = EXCLUDED.village_code, township_code = EXCLUDED.township_code,
            district_code = EXCLUDED.district_code, home_code = EXCLUDED.home_code,
            placement_detail = EXCLUDED.placement_detail, placed_set_id = EXCLUDED.placed_set_id,
            h3_r9 = EXCLUDED.h3_r9, updated_at = now()
        WHERE {changed}
        RETURNING (xmax = 0) AS inserted
        """), {"set_id": set_id}).scalars().all()
    added = sum(1 for inserted in result if inserted)
    updated = len(result) - added
    session.execute(text(
        """
        INSERT INTO enterprise_placement (enterprise_id, set_id, placement, grid_code, district_code, detail)
        SELECT e.id, :set_id, s.placement, s.grid_code, s.district_code, s.placement_detail
        FROM enterprise_stage s JOIN enterprise e ON e.uscc = s.uscc
        ON CONFLICT (enterprise_id, set_id) DO UPDATE SET
            placement = EXCLUDED.placement, grid_code = EXCLUDED.grid_code,
            district_code = EXCLUDED.district_code, detail = EXCLUDED.detail, placed_at = now()
        WHERE enterprise_placement.placement IS DISTINCT FROM EXCLUDED.placement
           OR enterprise_placement.grid_code IS DISTINCT FROM EXCLUDED.grid_code
        """), {"set_id": set_id})
    return added, updated


# ------------------------------------------------------------------- single records

def enterprise_public(enterprise: Enterprise, location: tuple[float, float] | None = None) -> dict:
    return {
        "uscc": enterprise.uscc, "name": enterprise.name, "address": enterprise.address,
        "sector": enterprise.sector, "sector_raw": enterprise.sector_raw, "scale": enterprise.scale,
        "risk_level": enterprise.risk_level, "safety_class": enterprise.safety_class,
        "major_hazard_grade": enterprise.major_hazard_grade, "department": enterprise.department,
        "lon": location[0] if location else None, "lat": location[1] if location else None,
        "source_lon": enterprise.source_lon, "source_lat": enterprise.source_lat,
        "source_crs": enterprise.source_crs, "placement": enterprise.placement,
        "grid_code": enterprise.grid_code, "village_code": enterprise.village_code,
        "township_code": enterprise.township_code, "district_code": enterprise.district_code,
        "placement_detail": enterprise.placement_detail,
    }


def _location(session: Session, enterprise: Enterprise) -> tuple[float, float] | None:
    if enterprise.location is None:
        return None
    row = session.execute(select(func.ST_X(Enterprise.location), func.ST_Y(Enterprise.location))
                          .where(Enterprise.id == enterprise.id)).one()
    return (row[0], row[1])


def get_enterprise(session: Session, uscc: str, scope: Scope) -> Enterprise:
    try:
        code = validate_uscc(uscc)
    except GridmapError:
        raise NotFound("企业不存在", "enterprise not found") from None
    enterprise = session.scalar(select(Enterprise).where(Enterprise.uscc == code))
    if enterprise is None or not scope.allows(enterprise.home_code):
        raise NotFound("企业不存在", "enterprise not found")
    return enterprise


def enterprise_detail(session: Session, uscc: str, scope: Scope) -> dict:
    enterprise = get_enterprise(session, uscc, scope)
    return enterprise_public(enterprise, _location(session, enterprise))


def save_enterprise(session: Session, values: dict, *, scope: Scope, uscc: str | None = None,
                    tolerance_m: float = 50.0, sectors: Taxonomy | None = None) -> dict:
    """Create (``uscc`` None) or update one enterprise from API values, placing it again.

    Returns the enterprise as :func:`enterprise_detail` shows it plus ``warnings`` (field,
    reason in Chinese and English), as an import reports them: e.g. an unknown sector,
    kept as ``other`` with the raw value.
    """
    sectors = sectors or load_sectors()
    scope.require_write()
    boundary_set = require_active_set(session)
    existing = get_enterprise(session, uscc, scope) if uscc else None
    if existing is not None:
        current = enterprise_public(existing)
        merged = {k: current.get(k) for k in FIELDS if k not in ("lon", "lat", "coord_system")}
        merged["sector"] = current["sector_raw"] or current["sector"]
        # A location is edited as a whole: a missing half and the coordinate system are
        # taken from the stored source values.
        merged["lon"], merged["lat"] = existing.source_lon, existing.source_lat
        merged["coord_system"] = existing.source_crs
        merged.update(values)
        merged["uscc"] = existing.uscc
        values = merged
    cells = {k: "" if values.get(k) is None else str(values.get(k)) for k in FIELDS}
    record, problems, warnings = parse_record(cells, default_crs="wgs84", sectors=sectors)
    if problems:
        column, zh, en = problems[0]
        raise InvalidInput(f"{column}: {zh}", f"{column}: {en}", detail=[
            {"field": c, "reason_zh": z, "reason_en": e} for c, z, e in problems])
    if existing is None and session.scalar(select(Enterprise.id).where(Enterprise.uscc == record["uscc"])):
        raise Conflict(f"统一社会信用代码 {record['uscc']} 已存在", f"USCC {record['uscc']} already exists")
    placed = place_records(session, set_id=boundary_set.id, lon=[record["lon"]], lat=[record["lat"]],
                           addresses=[record["address"]], tolerance_m=tolerance_m)[0]
    if not scope.allows(placed.home_code):
        raise Forbidden("企业位置不在您的管辖范围内", "the enterprise would lie outside your scope")
    record["row"] = 0
    _upsert(session, [record], [placed], boundary_set.id)
    if existing is not None:
        session.expire(existing)  # the upsert ran in SQL; reload what the ORM holds
    return {**enterprise_detail(session, record["uscc"], scope),
            "warnings": [{"field": c, "reason_zh": z, "reason_en": e} for c, z, e in warnings]}


def list_enterprises(session: Session, *, scope: Scope, grid: str | None = None,
                     placement: str | None = None, q: str | None = None, sector: str | None = None,
                     risk_level: str | None = None, department: str | None = None,
                     limit: int = 100, offset: int = 0) -> tuple[list[dict], int]:
    """Enterprises in scope, filtered by grid subtree, placement, text, sector, risk."""
    where = [scope.filter(Enterprise.home_code)] if scope.code else []
    if grid:
        where.append(Enterprise.home_code.startswith(grid, autoescape=True))
    if placement:
        if placement not in PLACEMENTS:
            raise InvalidInput(f"未知落格结果 {placement}", f"unknown placement {placement}")
        where.append(Enterprise.placement == placement)
    if q:
        term = q.strip()
        where.append(or_(Enterprise.name.ilike(f"%{term}%"), Enterprise.uscc.startswith(term.upper(), autoescape=True)))
    if sector:
        where.append(Enterprise.sector == sector)
    if risk_level:
        where.append(Enterprise.risk_level == risk_level)
    if department:
        where.append(Enterprise.department == department)
    total = session.scalar(select(func.count()).select_from(Enterprise).where(*where))
    rows = session.execute(
        select(Enterprise, func.ST_X(Enterprise.location), func.ST_Y(Enterprise.location))
        .where(*where).order_by(Enterprise.uscc).limit(limit).offset(offset)
    ).all()
    data = [enterprise_public(e, (x, y) if x is not None else None) for e, x, y in rows]
    return data, total


__all__ = ["EnterpriseImportReport", "enterprise_detail", "get_enterprise", "import_enterprises",
           "list_enterprises", "locate_records", "parse_record", "rejects_path", "save_enterprise"]
