"""The export formats. Each writer reads the planned layers in chunks (a server-side
cursor) and writes as it goes, so memory stays flat whatever the export's size.

GeoPackage and Shapefile go through pyogrio (GDAL); GeoJSON, KML, CSV and XLSX are
written directly (json, XML text, csv, openpyxl), which keeps their details — RFC 7946
orientation and precision, the KML document description, the BOM — under our control.
"""

from __future__ import annotations

import csv
import html
import json
import re
import sqlite3
import tempfile
import zipfile
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import IO, TYPE_CHECKING

# GDAL's configuration (gridmap.files) must be in place before pyogrio registers its drivers.
import gridmap.files  # noqa: F401

# isort: split
import numpy as np
import pyogrio.raw
import shapely
from pyproj import CRS
from shapely.geometry import mapping
from sqlalchemy import text
from sqlalchemy.orm import Session

from gridmap.errors import TooLarge
from gridmap.exports.catalogue import ENTERPRISES, Field, LayerQuery, LayerSpec, read_rows
from gridmap.models import ROLE_NAMES_ZH, ROLES
from gridmap.queries.grids import persons_by_role

if TYPE_CHECKING:
    from gridmap.export import ExportPlan, PlannedLayer

#: DBF text fields hold at most 254 bytes; longer text is cut at a character boundary.
DBF_TEXT_BYTES = 254
#: GeoPackage version written (GDAL 3.12 would write 1.4, which older readers warn about).
GPKG_VERSION = "1.2"
#: Decimal places of WGS84 coordinates in GeoJSON and KML (1e-7° ≈ 1 cm).
COORD_DECIMALS = 7
#: Chinese labels of the metadata keys (XLSX 说明 sheet).
METADATA_LABELS = {
    "title": "标题", "code": "编码", "name": "名称", "level": "层级", "boundary_set_id": "边界版本编号",
    "boundary_set_name": "边界版本名称", "boundary_set_status": "边界版本状态", "generated_at": "生成时间",
    "scope": "数据范围", "exported_by": "导出人", "crs": "坐标系", "crs_note": "坐标说明", "layers": "图层与行数",
    "synthetic_grids": "合成网格数", "synthetic_statement_zh": "合成数据说明", "synthetic_statement_en":
    "合成数据说明（英文）", "times": "时间说明", "generator": "生成程序",
}
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")
_SHEET_FORBIDDEN = re.compile(r"[\[\]:*?/\\]")


def _clean(value: str) -> str:
    """Text without control characters (illegal in XML and in XLSX cells)."""
    return _CONTROL.sub("", value)


def _wkb_sql(spec: LayerSpec) -> str | None:
    return f"ST_AsBinary({spec.geom})" if spec.geom else None


def _rows(session: Session, layer: PlannedLayer, plan: ExportPlan, *, geometry: bool = True
          ) -> Iterator[list[tuple[dict, object]]]:
    return read_rows(session, layer.query, plan.labels, geometry=_wkb_sql(layer.spec) if geometry else None,
                     chunk=plan.settings.chunk_rows)


# -------------------------------------------------------------------- GeoPackage

_DATA_COLUMNS_DDL = """
CREATE TABLE IF NOT EXISTS gpkg_data_columns (
  table_name TEXT NOT NULL,
  column_name TEXT NOT NULL,
  name TEXT,
  title TEXT,
  description TEXT,
  mime_type TEXT,
  constraint_name TEXT,
  CONSTRAINT pk_gdc PRIMARY KEY (table_name, column_name),
  CONSTRAINT gdc_tn UNIQUE (table_name, name)
);
CREATE TABLE IF NOT EXISTS gpkg_data_column_constraints (
  constraint_name TEXT NOT NULL,
  constraint_type TEXT NOT NULL,
  value TEXT,
  min NUMERIC,
  min_is_inclusive BOOLEAN,
  max NUMERIC,
  max_is_inclusive BOOLEAN,
  description TEXT,
  CONSTRAINT gdcc_ntv UNIQUE (constraint_name, constraint_type, value)
);
CREATE TABLE IF NOT EXISTS gpkg_extensions (
  table_name TEXT,
  column_name TEXT,
  extension_name TEXT NOT NULL,
  definition TEXT NOT NULL,
  scope TEXT NOT NULL,
  CONSTRAINT ge_tce UNIQUE (table_name, column_name, extension_name)
);
INSERT OR IGNORE INTO gpkg_extensions VALUES
  ('gpkg_data_columns', NULL, 'gpkg_schema', 'http://www.geopackage.org/spec/#extension_schema', 'read-write'),
  ('gpkg_data_column_constraints', NULL, 'gpkg_schema', 'http://www.geopackage.org/spec/#extension_schema',
   'read-write');
"""


def _clip_bytes(value: str, limit: int) -> str:
    data = value.encode("utf-8")
    if len(data) <= limit:
        return value
    return data[:limit].decode("utf-8", errors="ignore")


def _arrays(fields: tuple[Field, ...], rows: list[tuple[dict, object]], *, text_bytes: int | None = None
            ) -> tuple[list[np.ndarray], list[np.ndarray | None]]:
    """Column arrays and null masks for pyogrio, one per field."""
    data: list[np.ndarray] = []
    masks: list[np.ndarray | None] = []
    for f in fields:
        values = [props[f.name] for props, _ in rows]
        missing = np.array([v is None for v in values], dtype=bool)
        if f.type == "int":
            column = np.array([0 if v is None else int(v) for v in values], dtype=np.int64)
        elif f.type == "float":
            column = np.array([np.nan if v is None else float(v) for v in values], dtype=np.float64)
            missing = None  # NaN is written as null
        elif f.type == "bool":
            column = np.array([bool(v) for v in values], dtype=bool)
        else:
            texts = [None if v is None else _clean(str(v)) for v in values]
            if text_bytes is not None:
                texts = [None if t is None else _clip_bytes(t, text_bytes) for t in texts]
            column = np.empty(len(texts), dtype=object)
            column[:] = texts
            missing = None  # None in an object array is written as null
        data.append(column)
        masks.append(missing if missing is not None and missing.any() else None)
    return data, masks


def _geometries(rows: list[tuple[dict, object]]) -> np.ndarray:
    column = np.empty(len(rows), dtype=object)
    column[:] = [None if g is None else bytes(g) for _, g in rows]
    return column


def _write_ogr_layer(session: Session, plan: ExportPlan, layer: PlannedLayer, path: Path, *, driver: str,
                     names: list[str], fields: tuple[Field, ...], layer_options: dict | None = None,
                     dataset_metadata: dict | None = None, dataset_options: dict | None = None,
                     text_bytes: int | None = None) -> None:
    spec = layer.spec
    crs = CRS.from_epsg(plan.crs).to_wkt() if spec.geom else None
    options = {"path": str(path), "fields": names, "layer": spec.name, "driver": driver,
                   "geometry_type": spec.geometry_type, "crs": crs}
    first = True
    for chunk in _rows(session, layer, plan):
        data, masks = _arrays(fields, chunk, text_bytes=text_bytes)
        geometry = _geometries(chunk) if spec.geom else None
        if first:
            pyogrio.raw.write(geometry=geometry, field_data=data, field_mask=masks, layer_options=layer_options,
                              dataset_metadata=dataset_metadata, dataset_options=dataset_options, **options)
        else:
            pyogrio.raw.write(geometry=geometry, field_data=data, field_mask=masks, append=True, **options)
        first = False
    if first:  # an empty layer keeps its schema
        data, masks = _arrays(fields, [])
        pyogrio.raw.write(geometry=np.empty(0, dtype=object) if spec.geom else None, field_data=data,
                          field_mask=masks, layer_options=layer_options, dataset_metadata=dataset_metadata,
                          dataset_options=dataset_options, **options)


def write_gpkg(session: Session, plan: ExportPlan, path: Path) -> None:
    """One GeoPackage: feature layers, attribute tables, metadata, column titles."""
    path.unlink(missing_ok=True)
    metadata = plan.metadata()
    for index, layer in enumerate(plan.layers):
        spec = layer.spec
        fields = spec.output_fields(tabular=False)
        _write_ogr_layer(
            session, plan, layer, path, driver="GPKG", names=[f.name for f in fields], fields=fields,
            layer_options={"DESCRIPTION": spec.description_zh, "IDENTIFIER": spec.title_zh},
            dataset_metadata=metadata if index == 0 else None,
            # GeoPackage 1.2: what GDAL 3.6 (Debian bookworm), QGIS 3.x and ArcGIS read without warnings.
            dataset_options={"VERSION": GPKG_VERSION} if index == 0 else None,
        )
    # The metadata again as a plain table: every GIS shows a table, few show gpkg_metadata.
    keys = np.empty(len(metadata), dtype=object)
    keys[:] = list(metadata)
    values = np.empty(len(metadata), dtype=object)
    values[:] = list(metadata.values())
    pyogrio.raw.write(str(path), None, [keys, values], ["key", "value"], layer="metadata", driver="GPKG",
                      layer_options={"DESCRIPTION": "导出元数据：边界版本、生成时间、范围、坐标系、合成数据说明",
                                     "IDENTIFIER": "元数据"},
                      )
    with sqlite3.connect(path) as connection:
        connection.executescript(_DATA_COLUMNS_DDL)
        rows = [(layer.spec.name, f.name, f.name, f.zh, f"{f.zh}：{f.en}")
                for layer in plan.layers for f in layer.spec.output_fields(tabular=False)]
        rows += [("metadata", "key", "key", "项目", "项目：metadata key"),
                 ("metadata", "value", "value", "内容", "内容：metadata value")]
        connection.executemany("INSERT OR REPLACE INTO gpkg_data_columns (table_name, column_name, name, title,"
                               " description) VALUES (?, ?, ?, ?, ?)", rows)
    connection.close()


# --------------------------------------------------------------------- Shapefile

def field_dictionary(plan: ExportPlan) -> list[list[str]]:
    """Rows of ``fields.csv``: layer, file, short name, full name, Chinese label, type, note."""
    rows = [["图层 layer", "文件 file", "字段 short name", "完整字段名 full name", "中文名称 label",
             "类型 type", "说明 description"]]
    for layer in plan.layers:
        spec = layer.spec
        filename = f"{spec.name}.shp" if spec.geom else f"{spec.name}.dbf"
        for f in spec.output_fields(tabular=False):
            kind, note = f.type, f.en
            if f.type == "bool":
                kind, note = "int", f"{f.en} (1 = 是/true, 0 = 否/false)"
            elif f.type == "datetime":
                kind, note = "str", f"{f.en} (ISO 8601, +08:00)"
            rows.append([f"{spec.name} {spec.title_zh}", filename, f.short, f.name, f.zh, kind, note])
    return rows


def write_shapefile_zip(session: Session, plan: ExportPlan, path: Path) -> None:
    """A zip of one Shapefile per layer (``.dbf`` alone for tables), ``fields.csv``, ``README.txt``."""
    with tempfile.TemporaryDirectory(prefix="gridmap-shp-") as tmp:
        folder = Path(tmp)
        for layer in plan.layers:
            spec = layer.spec
            fields = spec.output_fields(tabular=False)
            target = folder / (f"{spec.name}.shp" if spec.geom else f"{spec.name}.dbf")
            # Booleans as 0/1 integers: GDAL before 3.7 and ArcGIS read DBF logicals as text.
            fields = tuple(replace(f, type="int") if f.type == "bool" else f for f in fields)
            _write_ogr_layer(session, plan, layer, target, driver="ESRI Shapefile",
                             names=[f.short for f in fields], fields=fields,
                             layer_options={"ENCODING": "UTF-8", "RESIZE": "YES"}, text_bytes=DBF_TEXT_BYTES)
        with (folder / "fields.csv").open("w", encoding="utf-8-sig", newline="") as fh:
            csv.writer(fh).writerows(field_dictionary(plan))
        (folder / "README.txt").write_text(
            plan.metadata_text() + "\n字段名不超过 10 个字符，完整字段名与中文名称见 fields.csv。\n"
            "Field names are at most 10 characters; fields.csv maps them to full names and Chinese labels.\n"
            f"DBF 文本字段最长 {DBF_TEXT_BYTES} 字节（约 84 个汉字），更长的文本（如隐患描述）被截断；完整内容见 "
            "GeoPackage 或 CSV 导出。\n"
            f"DBF text fields hold at most {DBF_TEXT_BYTES} bytes (about 84 Chinese characters); longer text is "
            "cut — the GeoPackage and CSV exports keep it whole.\n"
            "每个图层的 .cpg 声明 UTF-8 编码，.prj 声明坐标系。/ Each layer's .cpg declares UTF-8, its .prj the CRS.\n",
            encoding="utf-8-sig")
        _zip_folder(folder, path)


def _zip_folder(folder: Path, path: Path) -> None:
    path.unlink(missing_ok=True)
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for item in sorted(folder.iterdir()):
            archive.write(item, item.name)


# ----------------------------------------------------------------------- GeoJSON

def _round(coords: np.ndarray) -> np.ndarray:
    return np.round(coords, COORD_DECIMALS)


def geojson_geometry(wkb: bytes | None) -> dict | None:
    """RFC 7946 geometry: exterior rings counter-clockwise, 7 decimals."""
    if wkb is None:
        return None
    geometry = shapely.from_wkb(bytes(wkb))
    if geometry.geom_type in ("Polygon", "MultiPolygon"):
        geometry = shapely.orient_polygons(geometry)
    return mapping(shapely.transform(geometry, _round))


def _feature(spec: LayerSpec, props: dict, wkb: object, fields: tuple[Field, ...]) -> dict:
    return {"type": "Feature", "id": props[spec.id_field], "geometry": geojson_geometry(wkb),
            "properties": {f.name: props[f.name] for f in fields}}


def _write_feature_collection(session: Session, plan: ExportPlan, layer: PlannedLayer, fh: IO[str]) -> None:
    spec = layer.spec
    fields = spec.output_fields(tabular=False)
    head = {"type": "FeatureCollection", "name": spec.name, "title": spec.title_zh,
            "description": spec.description_zh, "metadata": plan.metadata()}
    fh.write(json.dumps(head, ensure_ascii=False)[:-1] + ',\n"features": [\n')
    first = True
    for chunk in _rows(session, layer, plan):
        for props, wkb in chunk:
            if not first:
                fh.write(",\n")
            fh.write(json.dumps(_feature(spec, props, wkb, fields), ensure_ascii=False, separators=(",", ":")))
            first = False
    fh.write("\n]}\n")


def write_geojson(session: Session, plan: ExportPlan, path: Path) -> None:
    """One FeatureCollection, or a zip of one per layer when there are several."""
    if len(plan.layers) == 1:
        with path.open("w", encoding="utf-8") as fh:
            _write_feature_collection(session, plan, plan.layers[0], fh)
        return
    with tempfile.TemporaryDirectory(prefix="gridmap-geojson-") as tmp:
        folder = Path(tmp)
        for layer in plan.layers:
            with (folder / f"{layer.spec.name}.geojson").open("w", encoding="utf-8") as fh:
                _write_feature_collection(session, plan, layer, fh)
        (folder / "README.txt").write_text(plan.metadata_text(), encoding="utf-8-sig")
        _zip_folder(folder, path)


# --------------------------------------------------------------------------- KML

_KML_STYLES = {  # aabbggrr
    "grids_district": ("ff1400dc", 4), "grids_township": ("ff0078f0", 3), "grids_direct": ("ffb4008c", 3),
    "grids_village": ("ff3c9614", 2), "grids_micro": ("ff969696", 1),
}


def _kml_text(value: object) -> str:
    return html.escape(_clean(str(value)), quote=False)


def _kml_coords(ring) -> str:
    rounded = np.round(np.asarray(ring.coords)[:, :2], COORD_DECIMALS).tolist()
    return " ".join(f"{x!r},{y!r}" for x, y in rounded)


def _kml_geometry(wkb: object) -> str:
    if wkb is None:
        return ""
    geometry = shapely.from_wkb(bytes(wkb))
    if geometry.geom_type == "Point":
        return f"<Point><coordinates>{_kml_coords(geometry)}</coordinates></Point>"
    polygons = []
    for polygon in getattr(geometry, "geoms", [geometry]):
        polygon = shapely.orient_polygons(polygon)
        inner = "".join(f"<innerBoundaryIs><LinearRing><coordinates>{_kml_coords(ring)}</coordinates>"
                        "</LinearRing></innerBoundaryIs>" for ring in polygon.interiors)
        polygons.append(f"<Polygon><outerBoundaryIs><LinearRing><coordinates>{_kml_coords(polygon.exterior)}"
                        f"</coordinates></LinearRing></outerBoundaryIs>{inner}</Polygon>")
    return f"<MultiGeometry>{''.join(polygons)}</MultiGeometry>"


def _display(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "是" if value else "否"
    return str(value)


def _kml_description(fields: tuple[Field, ...], props: dict, people: dict[str, list[dict]] | None) -> str:
    """An HTML table in Chinese: the attributes (coded values by their Chinese twin) and,
    for grids, the persons by role."""
    names = {f.name for f in fields}
    # With the persons listed by role, the first-responsible columns would say it twice.
    skip = {"first_responsible", "first_responsible_phone"} if people else set()
    rows = [f"<tr><th>{html.escape(f.zh)}</th><td>{html.escape(_clean(_display(props[f.name])))}</td></tr>"
            for f in fields if props[f.name] is not None and f"{f.name}_zh" not in names and f.name not in skip]
    for role in ROLES:
        for person in (people or {}).get(role, []):
            phone = f" {person['phone']}" if person.get("phone") else ""
            rows.append(f"<tr><th>{ROLE_NAMES_ZH[role]}</th><td>{html.escape(person['name'] + phone)}</td></tr>")
    return "<table>" + "".join(rows) + "</table>"


def _placemark_name(spec: LayerSpec, props: dict) -> str:
    if spec.kind == "hazards":
        return f"{props['category_zh'] or props['category']}（隐患 {props['id']}）"
    return str(props.get("name") or props[spec.id_field])


def write_kml(session: Session, plan: ExportPlan, path: Path) -> None:
    """One KML document: a folder per grid level, enterprises and hazards, in Chinese.

    Persons are not a KML layer (no location): each grid's description lists its
    responsible persons and staff by role instead.
    """
    from gridmap.errors import InvalidInput

    located = [layer for layer in plan.layers if layer.spec.geom]
    if not located:
        raise InvalidInput("KML 只能包含有位置的图层（grids、enterprises、hazards）",
                           "KML holds located layers only (grids, enterprises, hazards)")
    with_people = plan.layer("persons") is not None
    meta = plan.metadata()
    with path.open("w", encoding="utf-8") as fh:
        fh.write('<?xml version="1.0" encoding="UTF-8"?>\n<kml xmlns="http://www.opengis.net/kml/2.2">\n<Document>\n')
        fh.write(f"<name>{_kml_text(meta['title'].split(' / ')[0])}</name>\n")
        fh.write(f"<description>{_kml_text(plan.metadata_text())}</description>\n")
        for style, (color, width) in _KML_STYLES.items():
            fh.write(f'<Style id="{style}"><LineStyle><color>{color}</color><width>{width}</width></LineStyle>'
                     "<PolyStyle><fill>0</fill></PolyStyle></Style>\n")
        for layer in located:
            spec = layer.spec
            fields = spec.output_fields(tabular=False)
            fh.write(f"<Folder><name>{_kml_text(spec.title_zh)}</name>"
                     f"<description>{_kml_text(spec.description_zh)}（{layer.rows} 个）</description>\n")
            for chunk in _rows(session, layer, plan):
                people = (persons_by_role(session=session, codes=[p["code"] for p, _ in chunk])
                          if spec.kind == "grids" and with_people else {})
                for props, wkb in chunk:
                    data = "".join(
                        f'<Data name="{f.name}"><displayName>{_kml_text(f.zh)}</displayName>'
                        f"<value>{_kml_text(_display(props[f.name]))}</value></Data>" for f in fields)
                    style = f"<styleUrl>#{spec.name}</styleUrl>" if spec.name in _KML_STYLES else ""
                    description = _kml_description(fields, props, people.get(props.get("code")))
                    fh.write(f"<Placemark><name>{_kml_text(_placemark_name(spec, props))}</name>"
                             f"<description>{_kml_text(description)}</description>{style}"
                             f"<ExtendedData>{data}</ExtendedData>{_kml_geometry(wkb)}</Placemark>\n")
            fh.write("</Folder>\n")
        fh.write("</Document>\n</kml>\n")


# --------------------------------------------------------------------------- CSV

def _cell(value: object, lang: str) -> object:
    """A CSV/XLSX value: 是/否 (or true/false) for booleans, empty for nulls."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return ("是" if value else "否") if lang == "zh" else ("true" if value else "false")
    return value


def _csv_text(value: object) -> object:
    # A cell starting with = + @ would run as a formula when Excel opens the CSV.
    if isinstance(value, str) and value[:1] in ("=", "+", "@", "\t", "\r"):
        return "'" + value
    return value


def _write_csv_layer(session: Session, plan: ExportPlan, layer: PlannedLayer, fh: IO[str], lang: str) -> None:
    spec = layer.spec
    fields = spec.output_fields(tabular=True)
    polygons = spec.geometry_type == "MultiPolygon"
    writer = csv.writer(fh)
    writer.writerow([f.zh if lang == "zh" else f.name for f in fields] + (["WKT"] if polygons else []))
    for chunk in _rows(session, layer, plan, geometry=polygons):
        for props, wkb in chunk:
            row = [_csv_text(_cell(props[f.name], lang)) for f in fields]
            if polygons:
                row.append(shapely.to_wkt(shapely.from_wkb(bytes(wkb)), rounding_precision=COORD_DECIMALS,
                                          trim=True) if wkb is not None else "")
            writer.writerow(row)


def write_csv(session: Session, plan: ExportPlan, path: Path, *, lang: str) -> None:
    """UTF-8 with BOM; one file for one layer, else a zip of one CSV per layer + README.txt."""
    if len(plan.layers) == 1:
        with path.open("w", encoding="utf-8-sig", newline="") as fh:
            _write_csv_layer(session, plan, plan.layers[0], fh, lang)
        return
    with tempfile.TemporaryDirectory(prefix="gridmap-csv-") as tmp:
        folder = Path(tmp)
        for layer in plan.layers:
            with (folder / f"{layer.spec.name}.csv").open("w", encoding="utf-8-sig", newline="") as fh:
                _write_csv_layer(session, plan, layer, fh, lang)
        (folder / "README.txt").write_text(
            plan.metadata_text() + "\nCSV 为 UTF-8（带 BOM）；点位为经度/纬度列，网格边界为 WKT 列。\n"
            "CSV files are UTF-8 with BOM; points are longitude/latitude columns, grid boundaries a WKT column.\n",
            encoding="utf-8-sig")
        _zip_folder(folder, path)


# -------------------------------------------------------------------------- XLSX

#: Columns of a ledger sheet (一镇一册 …), after a running number.
LEDGER_FIELDS = ("uscc", "name", "address", "sector_zh", "scale_zh", "risk_level_zh", "safety_class",
                 "major_hazard_grade", "department", "township_name", "village_name", "grid_name", "grid_code",
                 "placement_zh", "lon", "lat")
_DIRECT = "CASE WHEN e.home_code LIKE '______Z%' THEN e.home_code END"
BOOK_KEYS = {
    "township": f"COALESCE(e.township_code, {_DIRECT})",
    "village": f"COALESCE(e.village_code, {_DIRECT})",
    "department": "e.department",
}
BOOK_TITLES = {"township": ("一镇一册", "per township"), "village": ("一村一册", "per village"),
               "department": ("一部门一册", "per department")}
BOOK_UNSORTED = {"township": "未落至街镇", "village": "未落至村社区", "department": "未指定主管部门"}


def sheet_names(titles: list[str], taken: set[str]) -> list[str]:
    """Valid, unique Excel sheet names (≤ 31 characters, no []:*?/\\) for ``titles``."""
    names = []
    for title in titles:
        base = _SHEET_FORBIDDEN.sub("_", _clean(title)).strip("'") or "_"
        name, n = base[:31], 2
        while name.lower() in taken:
            tail = f"_{n}"
            name, n = base[:31 - len(tail)] + tail, n + 1
        taken.add(name.lower())
        names.append(name)
    return names


def _book_groups(session: Session, plan: ExportPlan, book: str) -> list[tuple[str | None, str, int]]:
    """(key, title, enterprises) of every sheet of the ledger, in sheet order."""
    layer = plan.layer("enterprises")
    if layer is None or layer.rows == 0:
        return []
    query = layer.query
    rows = session.execute(text(
        f"SELECT {BOOK_KEYS[book]} AS key, count(*) AS n FROM enterprise e WHERE {query.where_sql} "
        "GROUP BY 1 ORDER BY 1 NULLS LAST"), query.params).all()
    names = {}
    if book != "department":
        names = dict(session.execute(text(
            "SELECT code, name FROM grid WHERE set_id = :set_id AND code = ANY(:codes)"),
            {"set_id": plan.set_id, "codes": [r.key for r in rows if r.key]}).all())
    groups = []
    for row in rows:
        if row.key is None:
            title = BOOK_UNSORTED[book]
        elif book == "department":
            title = row.key
        else:
            title = names.get(row.key) or row.key
        groups.append((row.key, title, row.n))
    if len(groups) > plan.settings.max_sheets:
        raise TooLarge(f"{BOOK_TITLES[book][0]} 需要 {len(groups)} 个工作表，超过上限 {plan.settings.max_sheets}；"
                       "请导出较小的范围", f"the ledger {BOOK_TITLES[book][1]} needs {len(groups)} sheets, over the "
                       f"limit of {plan.settings.max_sheets}; export a smaller area")
    return groups


def _xlsx_value(value: object, lang: str) -> object:
    value = _cell(value, lang)
    return _clean(value) if isinstance(value, str) else value


def _append(sheet, values: list, cell_factory) -> None:
    # openpyxl treats a string starting with "=" as a formula: keep such text as text.
    row = []
    for value in values:
        if isinstance(value, str) and value.startswith("="):
            cell = cell_factory(sheet, value=value)
            cell.data_type = "s"
            row.append(cell)
        else:
            row.append(value)
    sheet.append(row)


def _table_sheet(workbook, name: str, fields: tuple[Field, ...], *, first_column: int = 1):
    from openpyxl.utils import get_column_letter

    sheet = workbook.create_sheet(name)
    sheet.freeze_panes = "A2"
    for index, f in enumerate(fields, start=first_column):
        sheet.column_dimensions[get_column_letter(index)].width = _WIDTHS.get(f.name, 14)
    return sheet


_WIDTHS = {"uscc": 21, "name": 30, "address": 40, "department": 20, "township_name": 12, "village_name": 14,
           "grid_name": 14, "grid_code": 15, "description": 40, "roles": 40, "code": 15}


def write_xlsx(session: Session, plan: ExportPlan, path: Path, *, lang: str, book: str) -> None:
    """The ledger workbook: 说明, one sheet per township/village/department, then the
    网格, 人员, 职责 and 隐患 sheets for the layers asked for."""
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell

    header = (lambda f: f.zh) if lang == "zh" else (lambda f: f.name)
    groups = _book_groups(session, plan, book)
    taken: set[str] = set()
    info_name = sheet_names(["说明" if lang == "zh" else "about"], taken)[0]
    ledger_names = sheet_names([title for _, title, _ in groups], taken)
    extra = [(layer, title) for layer, title in (
        *((layer, "网格" if lang == "zh" else "grids") for layer in plan.layers if layer.spec.kind == "grids"),
        (plan.layer("persons"), "人员" if lang == "zh" else "persons"),
        (plan.layer("role_assignments"), "职责" if lang == "zh" else "roles"),
        (plan.layer("hazards"), "隐患" if lang == "zh" else "hazards"),
    ) if layer is not None]
    extra_titles = list(dict.fromkeys(title for _, title in extra))
    extra_names = dict(zip(extra_titles, sheet_names(extra_titles, taken)))

    workbook = Workbook(write_only=True)
    info = workbook.create_sheet(info_name)
    info.column_dimensions["A"].width = 24
    info.column_dimensions["B"].width = 90
    for key, value in plan.metadata().items():
        _append(info, [f"{METADATA_LABELS.get(key, key)} {key}", value], WriteOnlyCell)
    book_zh, book_en = BOOK_TITLES[book]
    info.append([])
    info.append([f"企业台账 {book_zh} / enterprise ledger {book_en}"])
    info.append(["工作表 sheet", "编码或部门 code or department", "名称 name", "企业数 enterprises"])
    for name, (key, title, count) in zip(ledger_names, groups):
        _append(info, [name, key or "", title, count], WriteOnlyCell)
    for title in extra_titles:
        info.append([extra_names[title], "", title, ""])

    ledger = {f.name: f for f in ENTERPRISES.fields}
    ledger_fields = tuple(ledger[name] for name in LEDGER_FIELDS)
    if groups:
        enterprise_layer = plan.layer("enterprises")
        query = enterprise_layer.query
        keyed = replace(query.spec, fields=query.spec.fields + (
            Field("book_key", "book_key", "台账", "ledger key", sql=BOOK_KEYS[book]),),
            order_by="book_key NULLS LAST, e.grid_code NULLS LAST, e.name, e.uscc")
        keyed_query = LayerQuery(keyed, set_id=query.set_id, scope=query.scope, prefix=query.prefix, now=query.now)
        # Sheets are looked up by key (not taken in turn): a row committed between the
        # count and this read must not shift every later sheet.
        sheet_of = {key: name for name, (key, _, _) in zip(ledger_names, groups)}
        sheet, current, number = None, object(), 0
        for chunk in read_rows(session, keyed_query, plan.labels, chunk=plan.settings.chunk_rows):
            for props, _ in chunk:
                key = props["book_key"]
                if key != current:
                    current = key
                    name = sheet_of.get(key) or sheet_names([key or BOOK_UNSORTED[book]], taken)[0]
                    sheet = _table_sheet(workbook, name, ledger_fields, first_column=2)
                    sheet.column_dimensions["A"].width = 6
                    sheet.append(["序号" if lang == "zh" else "no"] + [header(f) for f in ledger_fields])
                    number = 0
                number += 1
                _append(sheet, [number] + [_xlsx_value(props[f.name], lang) for f in ledger_fields],
                        WriteOnlyCell)

    sheets_by_title: dict[str, object] = {}
    for layer, title in extra:
        fields = layer.spec.output_fields(tabular=True)
        sheet = sheets_by_title.get(title)
        if sheet is None:
            sheet = _table_sheet(workbook, extra_names[title], fields)
            sheet.append([header(f) for f in fields])
            sheets_by_title[title] = sheet
        for chunk in _rows(session, layer, plan, geometry=False):
            for props, _ in chunk:
                _append(sheet, [_xlsx_value(props[f.name], lang) for f in fields], WriteOnlyCell)
    path.unlink(missing_ok=True)
    workbook.save(path)
