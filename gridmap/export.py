"""GIS deliverables for higher authorities (市/省): a grid's subtree as files that QGIS,
ArcGIS and GDAL open without asking anyone how.

``gridmap export CODE --format F`` and ``GET /api/v1/exports/{code}.{format}`` both call
:func:`export`. What goes in: the grids of the subtree of ``CODE`` in the active boundary
set (or ``set_id``), one layer per level, and the enterprises, hazards, persons and role
assignments whose grid code lies in that subtree — never anything outside the caller's
scope (a township leader's export holds their township only). Layers are described in
:mod:`gridmap.exports.catalogue`.

=========  ==================================================================  ========
format     what                                                                CRS
=========  ==================================================================  ========
gpkg       one GeoPackage: a layer per grid level, enterprises, hazards;       4490
           persons and role assignments as attribute tables; Chinese layer
           titles/descriptions (``gpkg_contents``) and column titles
           (``gpkg_data_columns``); a ``metadata`` table and ``gpkg_metadata``
shp        a zip: one Shapefile per layer (``.dbf`` only for tables), ``.prj``  4490
           and ``.cpg`` (UTF-8); field names ≤ 10 characters, mapped to full
           names and Chinese labels in ``fields.csv``; ``README.txt``
geojson    RFC 7946 FeatureCollection (WGS84 lon/lat, 7 decimals, exteriors     4326
           counter-clockwise) with a ``metadata`` foreign member; a zip of one
           file per layer when several layers are asked for
kml        one KML document: a folder per grid level, enterprises, hazards;    4326
           Chinese names and descriptions (grid descriptions list the
           responsible persons); the document description is the metadata
csv        UTF-8 with BOM (Excel opens Chinese correctly), Chinese headers     4490
           (``lang="en"``: English); points as 经度/纬度 columns, polygons as a
           ``WKT`` column; one file for one layer, else a zip with README.txt
xlsx       ledger workbook: 说明 (metadata), one sheet per township (一镇一册),  4490
           village (一村一册) or department (一部门一册), plus 网格/人员/职责/隐患
=========  ==================================================================  ========

GPKG, Shapefile, CSV and XLSX may be written as EPSG:4326 instead (``crs=4326``): the
coordinates are the same numbers — CGCS2000 and WGS84 differ far below a metre — only
the declared CRS changes. Every export carries its metadata: code and name, boundary
set id/name, generation time (China Standard Time), scope, CRS, row counts and, where
grids are synthetic (the sample district), a statement saying their polygons are
generated, not official boundaries.

The number of rows is capped (:class:`ExportSettings`, ``GRIDMAP_EXPORT_MAX_ROWS``,
default 2,000,000): beyond it the export is refused before anything is written.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy import select, text
from sqlalchemy.orm import Session

from gridmap.auth import Scope
from gridmap.boundaries import get_set
from gridmap.codes import LEVELS, subtree_sql, validate_code
from gridmap.errors import InvalidInput, NotFound, TooLarge
from gridmap.exports.catalogue import (
    CST,
    ENTERPRISES,
    HAZARDS,
    PERSONS,
    ROLE_ASSIGNMENTS,
    Labels,
    LayerQuery,
    LayerSpec,
    grid_layer,
)
from gridmap.models import Grid
from gridmap.settings import ENV_FILES

FORMATS = ("gpkg", "shp", "geojson", "kml", "csv", "xlsx")
#: What ``--layers`` may name; ``persons`` brings the persons and role-assignment tables.
LAYER_KINDS = ("grids", "persons", "enterprises", "hazards")
#: XLSX ledgers: 一镇一册, 一村一册, 一部门一册.
BOOKS = ("township", "village", "department")
LANGS = ("zh", "en")
#: EPSG codes an export may declare (GeoJSON and KML are always 4326).
EXPORT_CRS = (4490, 4326)

#: Media type and file suffix of each format; ``zip`` when the output is an archive.
MEDIA_TYPES = {
    "gpkg": "application/geopackage+sqlite3",
    "shp": "application/zip",
    "geojson": "application/geo+json",
    "kml": "application/vnd.google-earth.kml+xml",
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "zip": "application/zip",
}
SUFFIXES = {"gpkg": ".gpkg", "shp": ".zip", "geojson": ".geojson", "kml": ".kml", "csv": ".csv",
            "xlsx": ".xlsx", "zip": ".zip"}


class ExportSettings(BaseSettings):
    """Limits of exports (``GRIDMAP_EXPORT_…``)."""

    model_config = SettingsConfigDict(env_prefix="GRIDMAP_EXPORT_", env_file=ENV_FILES,
                                      env_file_encoding="utf-8", extra="ignore")

    #: Rows over all layers of one export; beyond it the export is refused (HTTP 413).
    max_rows: int = 2_000_000
    #: Sheets of one XLSX ledger (一村一册 of a whole city would be thousands).
    max_sheets: int = 1000
    #: Rows read from the database and written per step (memory stays flat).
    chunk_rows: int = 5000


def _generator() -> str:
    # The distribution's version, not gridmap.__version__: outside the repository an
    # editable install can import gridmap as a namespace package without its __init__.
    try:
        return f"gridmap {version('gridmap')}"
    except PackageNotFoundError:
        return "gridmap"


@lru_cache(maxsize=1)
def load_export_settings() -> ExportSettings:
    """The export settings, read from the environment once per process."""
    return ExportSettings()


@dataclass
class PlannedLayer:
    """A layer of an export: its spec, the query reading it and its row count."""

    spec: LayerSpec
    query: LayerQuery
    rows: int


@dataclass
class ExportPlan:
    """Everything an export writes, counted and checked before a byte is written."""

    code: str
    name: str
    level: str
    set_id: int
    set_name: str
    set_status: str
    scope: Scope
    crs: int
    generated_at: datetime
    layers: list[PlannedLayer]
    grids: int
    synthetic_grids: int
    labels: Labels
    settings: ExportSettings = field(default_factory=load_export_settings)

    @property
    def total_rows(self) -> int:
        return sum(layer.rows for layer in self.layers)

    def layer(self, name: str) -> PlannedLayer | None:
        return next((layer for layer in self.layers if layer.spec.name == name), None)

    @property
    def synthetic_statement(self) -> tuple[str, str]:
        """What the metadata says about synthetic polygons, in Chinese and English."""
        if self.synthetic_grids:
            return ((f"本数据 {self.grids} 个网格中有 {self.synthetic_grids} 个的边界多边形为合成的样例数据"
                    "（字段 synthetic 为真），不是实际行政界线，仅供演示和测试。"),
                    (f"{self.synthetic_grids} of the {self.grids} grids have synthetic sample polygons "
                    "(field synthetic = true): generated, not actual administrative boundaries; for "
                    "demonstration and testing only."))
        return ("本数据中的网格边界均来自导入的边界文件，没有合成多边形。",
                "All grid boundaries come from imported boundary files; none is synthetic.")

    def metadata(self) -> dict[str, str]:
        """The export's metadata as ordered ``key → text`` pairs (keys in English)."""
        zh, en = self.synthetic_statement
        crs_name = "EPSG:4490 (CGCS2000)" if self.crs == 4490 else "EPSG:4326 (WGS 84)"
        return {
            "title": f"{self.name}（{self.code}）安全生产网格化监管数据 / work-safety grid data of "
                     f"{self.name} ({self.code})",
            "code": self.code,
            "name": self.name,
            "level": self.level,
            "boundary_set_id": str(self.set_id),
            "boundary_set_name": self.set_name,
            "boundary_set_status": self.set_status,
            "generated_at": self.generated_at.astimezone(CST).isoformat(timespec="seconds"),
            "scope": self.scope.code or "全部 / all",
            "exported_by": f"{self.scope.username or '-'} ({self.scope.role})",
            "crs": crs_name,
            "crs_note": "坐标为经度、纬度（度）；CGCS2000 与 WGS84 坐标数值差异远小于 1 米 / coordinates are "
                        "longitude, latitude in degrees; CGCS2000 and WGS84 differ far below a metre",
            "layers": ", ".join(f"{layer.spec.name}={layer.rows}" for layer in self.layers),
            "synthetic_grids": f"{self.synthetic_grids}/{self.grids}",
            "synthetic_statement_zh": zh,
            "synthetic_statement_en": en,
            "times": "时间为北京时间（ISO 8601，+08:00）/ times are China Standard Time (ISO 8601, +08:00)",
            "generator": _generator(),
        }

    def metadata_text(self) -> str:
        """The metadata as the lines of a README (元数据)."""
        lines = ["元数据 / metadata", "=" * 40]
        lines += [f"{key}: {value}" for key, value in self.metadata().items()]
        lines += ["", "图层 / layers:"]
        lines += [f"  {layer.spec.name}: {layer.spec.title_zh} / {layer.spec.title_en} — {layer.rows} 行 / rows"
                  f"\n    {layer.spec.description_zh}" for layer in self.layers]
        return "\n".join(lines) + "\n"


@dataclass
class ExportResult:
    """What was written: the file, its media type, a download name and row counts."""

    path: Path
    format: str
    media_type: str
    filename: str
    zipped: bool
    layers: dict[str, int]
    metadata: dict[str, str]

    def as_dict(self) -> dict:
        return {"path": str(self.path), "format": self.format, "media_type": self.media_type,
                "filename": self.filename, "zipped": self.zipped, "layers": self.layers,
                "rows": sum(self.layers.values()), "metadata": self.metadata}


def parse_layers(value: str | list[str] | tuple[str, ...] | None) -> tuple[str, ...]:
    """``"grids,enterprises"`` → the layer kinds, in catalogue order; None → all."""
    if value is None or value == "" or value == []:
        return LAYER_KINDS
    items = value.split(",") if isinstance(value, str) else list(value)
    kinds = [item.strip().lower() for item in items if item.strip()]
    unknown = [k for k in kinds if k not in LAYER_KINDS]
    if unknown or not kinds:
        raise InvalidInput(f"未知图层 {', '.join(unknown) or value}（可选：{', '.join(LAYER_KINDS)}）",
                           f"unknown layer {', '.join(unknown) or value} (one of: {', '.join(LAYER_KINDS)})")
    return tuple(k for k in LAYER_KINDS if k in kinds)


def parse_crs(value: int | str | None, fmt: str) -> int:
    """The EPSG code an export declares: 4490 by default, 4326 on request; GeoJSON and KML
    are always 4326 (RFC 7946 / OGC KML)."""
    if value is None or value == "":
        return 4326 if fmt in ("geojson", "kml") else 4490
    text_value = str(value).strip().upper().removeprefix("EPSG:")
    if text_value not in ("4490", "4326"):
        raise InvalidInput(f"坐标系只能为 4490（CGCS2000）或 4326（WGS84），收到 {value!r}",
                           f"crs must be 4490 (CGCS2000) or 4326 (WGS84), got {value!r}")
    crs = int(text_value)
    if fmt in ("geojson", "kml") and crs != 4326:
        raise InvalidInput(f"{fmt.upper()} 只能使用 WGS84（EPSG:4326）",
                           f"{fmt.upper()} is always WGS84 (EPSG:4326)")
    return crs


def _check_choice(value: str, choices: tuple[str, ...], zh: str, en: str) -> str:
    if value not in choices:
        raise InvalidInput(f"未知{zh} {value!r}（可选：{', '.join(choices)}）",
                           f"unknown {en} {value!r} (one of: {', '.join(choices)})")
    return value


def plan_export(session: Session, code: str, *, scope: Scope, fmt: str = "gpkg", set_id: int | None = None,
                layers: str | tuple[str, ...] | None = None, crs: int | str | None = None,
                now: datetime | None = None, settings: ExportSettings | None = None,
                labels: Labels | None = None) -> ExportPlan:
    """Check and count an export of the subtree of ``code``; nothing is written.

    Raises
    ------
    NotFound
        ``code`` lies outside ``scope`` or is not a grid of the boundary set.
    InvalidInput
        Malformed code, unknown layer, format or CRS.
    TooLarge
        More rows than ``settings.max_rows``.
    """
    settings = settings or load_export_settings()
    fmt = _check_choice(fmt, FORMATS, "格式", "format")
    kinds = parse_layers(layers)
    epsg = parse_crs(crs, fmt)
    code = validate_code(code)
    scope.require(code, "网格", "grid")
    boundary_set = get_set(session, set_id)
    grid = session.scalar(select(Grid).where(Grid.set_id == boundary_set.id, Grid.code == code))
    if grid is None:
        raise NotFound(f"网格 {code} 在边界版本 {boundary_set.id} 中不存在",
                       f"grid {code} is not in boundary set {boundary_set.id}")
    now = now or datetime.now(CST)
    labels = labels or Labels.load()

    def query(spec: LayerSpec) -> LayerQuery:
        return LayerQuery(spec, set_id=boundary_set.id, scope=scope, prefix=code, now=now)

    in_subtree, bound = subtree_sql("code", code, "prefix")
    grid_stats = session.execute(text(
        "SELECT level, count(*) AS n, count(*) FILTER (WHERE synthetic) AS synthetic FROM grid "
        f"WHERE set_id = :set_id AND {in_subtree} GROUP BY level"),
        {"set_id": boundary_set.id, **bound}).all()
    by_level = {row.level: (row.n, row.synthetic) for row in grid_stats}
    planned: list[PlannedLayer] = []
    if "grids" in kinds:
        for level in LEVELS:
            if level in by_level:
                spec = grid_layer(level)
                planned.append(PlannedLayer(spec, query(spec), by_level[level][0]))
    for kind, specs in (("enterprises", (ENTERPRISES,)), ("hazards", (HAZARDS,)),
                        ("persons", (PERSONS, ROLE_ASSIGNMENTS))):
        if kind in kinds:
            for spec in specs:
                layer_query = query(spec)
                planned.append(PlannedLayer(spec, layer_query, layer_query.count(session)))
    plan = ExportPlan(
        code=code, name=grid.name, level=grid.level, set_id=boundary_set.id, set_name=boundary_set.name,
        set_status=boundary_set.status, scope=scope, crs=epsg, generated_at=now, layers=planned,
        grids=sum(n for n, _ in by_level.values()), synthetic_grids=sum(s for _, s in by_level.values()),
        labels=labels, settings=settings,
    )
    if plan.total_rows > settings.max_rows:
        raise TooLarge(f"导出共 {plan.total_rows} 行，超过上限 {settings.max_rows} 行；请缩小范围（如导出一个街道/镇）或减少图层",
                       f"the export has {plan.total_rows} rows, over the limit of {settings.max_rows}; "
                       "export a smaller area (one township) or fewer layers")
    return plan


def output_kind(plan: ExportPlan, fmt: str) -> str:
    """``zip`` when the format writes an archive for this plan, else ``fmt``."""
    if fmt == "shp":
        return "zip"
    if fmt in ("csv", "geojson") and len(plan.layers) != 1:
        return "zip"
    return fmt


def download_name(plan: ExportPlan, fmt: str) -> str:
    """``320382_邳州市_20261122.gpkg`` (``.csv.zip``/``.shp.zip`` for archives)."""
    kind = output_kind(plan, fmt)
    stamp = plan.generated_at.astimezone(CST).strftime("%Y%m%d")
    name = re.sub(r'[\\/:*?"<>|\s]+', "_", plan.name).strip("_")
    suffix = f".{fmt}.zip" if kind == "zip" else SUFFIXES[fmt]
    return f"{plan.code}_{name}_{stamp}{suffix}"


def default_book(level: str) -> str:
    """The ledger a workbook of a grid of this level is cut into by default."""
    return "township" if level == "district" else "village"


def write_export(session: Session, plan: ExportPlan, fmt: str, path: Path, *, lang: str = "zh",
                 book: str | None = None) -> ExportResult:
    """Write a planned export to ``path`` (overwritten)."""
    from gridmap.exports import writers

    fmt = _check_choice(fmt, FORMATS, "格式", "format")
    lang = _check_choice(lang, LANGS, "语言", "language")
    book = _check_choice(book or default_book(plan.level), BOOKS, "台账类型", "book")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if fmt == "gpkg":
        writers.write_gpkg(session, plan, path)
    elif fmt == "shp":
        writers.write_shapefile_zip(session, plan, path)
    elif fmt == "geojson":
        writers.write_geojson(session, plan, path)
    elif fmt == "kml":
        writers.write_kml(session, plan, path)
    elif fmt == "csv":
        writers.write_csv(session, plan, path, lang=lang)
    else:
        writers.write_xlsx(session, plan, path, lang=lang, book=book)
    kind = output_kind(plan, fmt)
    return ExportResult(path=path, format=fmt, media_type=MEDIA_TYPES[kind], filename=download_name(plan, fmt),
                        zipped=kind == "zip", layers={layer.spec.name: layer.rows for layer in plan.layers},
                        metadata=plan.metadata())


def export(session: Session, code: str, fmt: str, path: Path | str, *, scope: Scope, set_id: int | None = None,
           layers: str | tuple[str, ...] | None = None, crs: int | str | None = None, lang: str = "zh",
           book: str | None = None, now: datetime | None = None, settings: ExportSettings | None = None,
           labels: Labels | None = None) -> ExportResult:
    """Export the subtree of grid ``code`` as ``fmt`` to ``path``.

    Parameters
    ----------
    code
        Grid code whose subtree is exported (district, township, village …); it must lie
        in ``scope`` (else :class:`~gridmap.errors.NotFound`, as if it did not exist).
    fmt
        ``gpkg``, ``shp``, ``geojson``, ``kml``, ``csv`` or ``xlsx``.
    scope
        Whose export this is; nothing outside it is read.
    set_id
        Boundary set (default: the active one).
    layers
        Comma-separated kinds among ``grids,persons,enterprises,hazards`` (default: all).
    crs
        4490 (default) or 4326; GeoJSON and KML are always 4326.
    lang
        Header language of CSV and XLSX: ``zh`` (default) or ``en``.
    book
        XLSX ledger: ``township`` (一镇一册, default for a district), ``village`` (一村一册,
        default below) or ``department`` (一部门一册).
    now
        The export time written in the metadata (default: now).

    Returns
    -------
    ExportResult
    """
    plan = plan_export(session, code, scope=scope, fmt=fmt, set_id=set_id, layers=layers, crs=crs, now=now,
                       settings=settings, labels=labels)
    return write_export(session, plan, fmt, Path(path), lang=lang, book=book)


def expected_suffixes(plan: ExportPlan, fmt: str) -> tuple[str, ...]:
    """File name endings that fit what ``fmt`` writes for ``plan`` (for CLI checks)."""
    kind = output_kind(plan, fmt)
    if kind == "zip":
        return (".zip",)
    if fmt == "geojson":
        return (".geojson", ".json")
    return (SUFFIXES[fmt],)


__all__ = [
    "BOOKS",
    "EXPORT_CRS",
    "FORMATS",
    "LANGS",
    "LAYER_KINDS",
    "MEDIA_TYPES",
    "ExportPlan",
    "ExportResult",
    "ExportSettings",
    "PlannedLayer",
    "default_book",
    "download_name",
    "expected_suffixes",
    "export",
    "load_export_settings",
    "output_kind",
    "parse_crs",
    "parse_layers",
    "plan_export",
    "write_export",
]
