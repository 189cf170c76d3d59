"""Map layers as Mapbox Vector Tiles and as GeoJSON, scope applied in SQL.

Layers (:data:`LAYERS`):

``grids``
    grid polygons of the active boundary set with the last coverage ``score`` and
    ``status``; levels by zoom unless asked (district/township ≤ z9, township/village
    z10-12, village/micro ≥ z13); generalised geometry (10 m) below z12.
``enterprises``
    points with risk, sector, placement from z12; below, H3 aggregates (centroids with
    ``count`` and ``weighted``) from ``enterprise_density`` — never raw points at low zoom.
``hazards``
    points with status, grade, overdue from z12; below, H3 aggregates of open hazards.

    A z12+ point tile falls back to resolution-9 aggregates (layer ``…_aggregated``; for
    hazards, of the open ones, as at low zoom) when it would hold more than
    :data:`MAX_RAW_POINTS` points or its raw encoding would exceed :data:`MAX_TILE_BYTES`:
    an enterprise point costs 90-120 bytes in a tile (name, USCC, sector, …), so 4,000
    points stay near 450 KB, and the byte check catches the rest (long names). Both
    decisions are made inside the tile's one SQL statement.
``coverage``
    gap, overlap and outside-parent polygons of the last coverage run.
``density``
    H3 hexagons (resolution by zoom, :func:`gridmap.density.resolution_for_zoom`):
    enterprises and risk-weighted enterprises, open hazards weighted by grade (general
    1, major 3) and overdue ones.

Geometry comes from generated Web Mercator columns (``geom_3857``), so tiles need no
per-row reprojection; everything is filtered with the GiST indexes on those columns.
"""

from __future__ import annotations

import functools
import json
import math
import re

from sqlalchemy import text
from sqlalchemy.orm import Session

from gridmap.auth import Scope
from gridmap.codes import LEVELS, subtree_sql
from gridmap.density import resolution_for_zoom
from gridmap.errors import InvalidInput, NotFound, TooLarge

LAYERS = ("grids", "enterprises", "hazards", "coverage", "density")
MAX_ZOOM = 22
RAW_POINTS_FROM_ZOOM = 12
#: Most raw points in one tile (or GeoJSON answer) before it is aggregated instead.
MAX_RAW_POINTS = 4_000
#: Largest raw point tile served; a bigger one is replaced by its aggregates.
MAX_TILE_BYTES = 500_000
#: GeoJSON: largest bbox (square degrees) and most features per response.
MAX_BBOX_DEG2 = 25.0
MAX_GEOJSON_FEATURES = 20_000
_OPEN = "('reported','filed','dispatched','rectifying','verifying')"


def default_levels(zoom: int) -> list[str]:
    if zoom <= 9:
        return ["district", "township", "direct"]
    if zoom <= 12:
        return ["township", "direct", "village"]
    return ["village", "micro", "direct"]


def parse_levels(level: str | None, zoom: int) -> list[str]:
    if not level:
        return default_levels(zoom)
    levels = [part.strip() for part in level.split(",") if part.strip()]
    unknown = [lv for lv in levels if lv not in LEVELS]
    if unknown or not levels:
        raise InvalidInput(f"未知层级 {','.join(unknown) or level}", f"unknown level {','.join(unknown) or level}")
    return levels


def _density_rows(scope: Scope, params: dict, column: str = "d.home_code") -> str:
    """Which ``enterprise_density`` rows a reader sums: the district totals (``…*``) for
    everything or a district, the per-grid rows (prefix-filtered) for a narrower scope."""
    if scope.code is None or len(scope.code) == 6:
        return f"{column} LIKE '%*' AND {_scope_sql(scope, column, params)}"
    return f"{column} NOT LIKE '%*' AND {_scope_sql(scope, column, params)}"


def _scope_sql(scope: Scope, column: str, params: dict) -> str:
    if scope.code is None:
        return "TRUE"
    condition, bound = subtree_sql(column, scope.code, "scope_prefix")
    params.update(bound)
    return condition


# ---------------------------------------------------------------- layer queries
# Each builder returns SQL selecting the properties plus a column ``g`` (Web Mercator
# geometry), filtered by the envelope ``__ENV__``: an expression of the request's parameters
# (ST_TileEnvelope(:z, :x, :y) …) substituted in, not a CTE column, so the planner sees the
# box and uses the GiST index (through a CTE it scanned a whole province's villages).

def _grids(params: dict, scope: Scope, zoom: int, level: str | None) -> str:
    params["levels"] = parse_levels(level, zoom)
    column = "g.geom_3857_low" if zoom < 12 else "g.geom_3857"
    return f"""
        SELECT g.code, g.name, g.level, g.parent_code, g.population,
               COALESCE(s.score, -1) AS score, COALESCE(s.status, 'unknown') AS status,
               {column} AS g
        FROM grid g LEFT JOIN grid_status s ON s.set_id = g.set_id AND s.code = g.code
        WHERE g.set_id = :set_id AND g.level = ANY(:levels) AND {column} && __ENV__
          AND {_scope_sql(scope, 'g.code', params)}
    """


def _enterprise_points(params: dict, scope: Scope) -> str:
    return f"""
        SELECT e.uscc, e.name, e.sector, COALESCE(e.risk_level, '') AS risk_level,
               e.placement, COALESCE(e.grid_code, '') AS grid_code, e.location_3857 AS g
        FROM enterprise e
        WHERE e.location_3857 && __ENV__ AND {_scope_sql(scope, 'e.home_code', params)}
    """


def _enterprise_cells(params: dict, scope: Scope, res: int) -> str:
    res = int(res)  # a literal, so the per-resolution index serves generic plans too
    return f"""
        SELECT d.cell::text AS cell, d.res, sum(d.enterprises)::int AS count,
               sum(d.weighted)::int AS weighted, ST_Centroid(c.geom_3857) AS g
        FROM enterprise_density d JOIN h3_cell c ON c.res = d.res AND c.cell = d.cell
        WHERE d.res = {res} AND c.geom_3857 && __ENV__ AND {_density_rows(scope, params)}
        GROUP BY d.cell, d.res, c.geom_3857
    """


def _hazard_points(params: dict, scope: Scope) -> str:
    return f"""
        SELECT h.id, h.status, h.grade, h.category, h.source, COALESCE(h.grid_code, '') AS grid_code,
               (h.status IN {_OPEN} AND h.deadline < now()) AS overdue, h.location_3857 AS g
        FROM hazard h
        WHERE h.location_3857 && __ENV__ AND {_scope_sql(scope, 'h.home_code', params)}
    """


def _hazard_cells(params: dict, scope: Scope, res: int) -> str:
    res = int(res)
    return f"""
        SELECT c.cell::text AS cell, c.res, x.count, x.weighted, x.overdue, ST_Centroid(c.geom_3857) AS g
        FROM (SELECT h.h3_cells[{res - 3}] AS cell, count(*)::int AS count,
                     sum(CASE h.grade WHEN 'major' THEN 3 ELSE 1 END)::int AS weighted,
                     (count(*) FILTER (WHERE h.deadline < now()))::int AS overdue
              FROM hazard h
              WHERE h.status IN {_OPEN} AND h.location_3857 && __ENV__ AND h.h3_cells IS NOT NULL
                AND {_scope_sql(scope, 'h.home_code', params)}
              GROUP BY 1) x
        JOIN h3_cell c ON c.res = {res} AND c.cell = x.cell
    """


def _coverage(params: dict, scope: Scope) -> str:
    return f"""
        SELECT p.kind, p.parent_code, p.codes::text AS codes, round(p.area_m2::numeric, 1)::float AS area_m2,
               p.geom_3857 AS g
        FROM coverage_problem p
        WHERE p.set_id = :set_id AND p.geom_3857 && __ENV__ AND {_scope_sql(scope, 'p.parent_code', params)}
    """


def _density(params: dict, scope: Scope, res: int) -> str:
    res = int(res)
    enterprise_scope = _density_rows(scope, params)
    hazard_scope = _scope_sql(scope, "h.home_code", params)
    return f"""
        WITH cells AS (SELECT c.cell, c.geom_3857 FROM h3_cell c WHERE c.res = {res} AND c.geom_3857 && __ENV__),
        e AS (SELECT d.cell, sum(d.enterprises)::int AS n, sum(d.weighted)::int AS w
              FROM enterprise_density d JOIN cells USING (cell)
              WHERE d.res = {res} AND {enterprise_scope} GROUP BY d.cell),
        h AS (SELECT h.h3_cells[{res - 3}] AS cell, count(*)::int AS n,
                     sum(CASE h.grade WHEN 'major' THEN 3 ELSE 1 END)::int AS w,
                     (count(*) FILTER (WHERE h.deadline < now()))::int AS overdue
              FROM hazard h
              WHERE h.status IN {_OPEN} AND h.h3_cells IS NOT NULL AND h.h3_cells[{res - 3}] IN (SELECT cell FROM cells)
                AND {hazard_scope}
              GROUP BY 1)
        SELECT cells.cell::text AS cell, {res} AS res, COALESCE(e.n, 0) AS enterprises,
               COALESCE(e.w, 0) AS enterprises_weighted, COALESCE(h.n, 0) AS hazards_open,
               COALESCE(h.w, 0) AS hazards_weighted, COALESCE(h.overdue, 0) AS hazards_overdue,
               cells.geom_3857 AS g
        FROM cells LEFT JOIN e USING (cell) LEFT JOIN h USING (cell)
        WHERE e.n IS NOT NULL OR h.n IS NOT NULL
    """


#: The attributes each layer's features carry (the SQL also yields ``g``, the geometry).
PROPERTIES = {
    '_grids': ('code', 'name', 'level', 'parent_code', 'population', 'score', 'status'),
    '_enterprise_points': ('uscc', 'name', 'sector', 'risk_level', 'placement', 'grid_code'),
    '_enterprise_cells': ('cell', 'res', 'count', 'weighted'),
    '_hazard_points': ('id', 'status', 'grade', 'category', 'source', 'grid_code', 'overdue'),
    '_hazard_cells': ('cell', 'res', 'count', 'weighted', 'overdue'),
    '_coverage': ('kind', 'parent_code', 'codes', 'area_m2'),
    '_density': ('cell', 'res', 'enterprises', 'enterprises_weighted', 'hazards_open', 'hazards_weighted', 'hazards_overdue'),
}


#: Point layers: (table, alias in the SQL builders, points builder, cells builder).
_POINT_LAYERS = {
    "enterprises": ("enterprise", "e", _enterprise_points, _enterprise_cells),
    "hazards": ("hazard", "h", _hazard_points, _hazard_cells),
}


def _too_many_points_sql(layer: str, scope: Scope, env_sql: str, params: dict) -> str:
    """SQL that is true when the layer has more than :data:`MAX_RAW_POINTS` points in the
    envelope for this scope (stops counting at the limit)."""
    table, alias, _points, _cells = _POINT_LAYERS[layer]
    where = _scope_sql(scope, f"{alias}.home_code", params)
    return (f"(SELECT count(*) FROM (SELECT 1 FROM {table} {alias} WHERE {alias}.location_3857 && {env_sql}"
            f" AND {where} LIMIT {MAX_RAW_POINTS + 1}) n) > {MAX_RAW_POINTS}")


def _layer_sql(session: Session, layer: str, *, scope: Scope, zoom: int, level: str | None,
               env_sql: str, params: dict) -> tuple[str, str, tuple[str, ...]]:
    """(SQL, layer name, attribute names) for one layer at one zoom (GeoJSON path)."""
    if layer == "grids":
        return _grids(params, scope, zoom, level), "grids", PROPERTIES["_grids"]
    if layer == "coverage":
        return _coverage(params, scope), "coverage", PROPERTIES["_coverage"]
    if layer == "density":
        return _density(params, scope, resolution_for_zoom(zoom)), "density", PROPERTIES["_density"]
    if layer in _POINT_LAYERS:
        _table, _alias, points, cells = _POINT_LAYERS[layer]
        if zoom >= RAW_POINTS_FROM_ZOOM and not session.execute(
                text(f"SELECT {_too_many_points_sql(layer, scope, env_sql, params)}"), params).scalar_one():
            return points(params, scope), layer, PROPERTIES[points.__name__]
        res = resolution_for_zoom(zoom) if zoom < RAW_POINTS_FROM_ZOOM else 9
        return cells(params, scope, res), f"{layer}_aggregated", PROPERTIES[cells.__name__]
    raise NotFound(f"图层 {layer} 不存在（可选：{', '.join(LAYERS)}）", f"layer {layer} not found (one of: {', '.join(LAYERS)})")


def _mvt(source: str, name: str, attributes: tuple[str, ...]) -> str:
    """SQL turning the rows of CTE ``source`` into one MVT layer (attributes named, so the
    source geometry ``g`` is not encoded as an attribute).

    No ``WHERE mvt_geom IS NOT NULL``: ST_AsMVT skips rows whose geometry clipped away to
    NULL by itself, and with the filter the planner pushed ST_AsMVTGeom into the scan's
    filter and ran it twice per row (about a third of a grid tile's execution time).
    """
    columns = ", ".join(f"{source}.{a}" for a in attributes)
    return (f"SELECT ST_AsMVT(t, '{name}', 4096, 'mvt_geom') FROM (SELECT {columns},"
            f" ST_AsMVTGeom({source}.g, env.e, 4096, 64, true) AS mvt_geom FROM {source}, env) t")


def check_tile(z: int, x: int, y: int) -> None:
    if not (0 <= z <= MAX_ZOOM) or not (0 <= x < 2**z) or not (0 <= y < 2**z):
        raise NotFound(f"瓦片 {z}/{x}/{y} 不存在", f"tile {z}/{x}/{y} does not exist")


def render_tile(session, layer: str, z: int, x: int, y: int, *, scope: Scope, set_id: int,
                level: str | None = None) -> bytes:
    """One Mapbox Vector Tile (possibly empty) of a layer, in one SQL statement.

    ``session`` may be a SQLAlchemy Session or Connection.
    """
    check_tile(z, x, y)
    params = {"z": z, "x": x, "y": y, "set_id": set_id}
    box = "ST_TileEnvelope(:z, :x, :y)"
    env = f"env AS (SELECT {box} AS e)"
    if layer in _POINT_LAYERS and z >= RAW_POINTS_FROM_ZOOM:
        # Raw points unless the tile would hold too many or weigh too much: decided inside
        # the statement (PostgreSQL evaluates only the CASE branches it needs, so the
        # aggregates are computed only for a tile that falls back to them).
        _table, _alias, points, cells = _POINT_LAYERS[layer]
        raw = _mvt("pts", layer, PROPERTIES[points.__name__])
        aggregated = _mvt("agg", f"{layer}_aggregated", PROPERTIES[cells.__name__])
        sql = f"""
            WITH {env}, pts AS ({points(params, scope).replace("__ENV__", box)}),
                 agg AS ({cells(params, scope, 9).replace("__ENV__", box)}),
                 raw AS (SELECT CASE WHEN NOT {_too_many_points_sql(layer, scope, box, params)} THEN ({raw}) END AS tile)
            SELECT CASE WHEN octet_length(raw.tile) <= {MAX_TILE_BYTES} THEN raw.tile ELSE ({aggregated}) END FROM raw
        """
    else:
        source, name, attributes = _layer_sql(session, layer, scope=scope, zoom=z, level=level,
                                              env_sql=box, params=params)
        sql = f"WITH {env}, f AS ({source.replace('__ENV__', box)}) {_mvt('f', name, attributes)}"
    data = _execute_raw(session, sql, params)
    return bytes(data) if data else b""


_PARAM = re.compile(r"(?<![:\w]):(?!:)(\w+)")


@functools.lru_cache(maxsize=256)
def _pyformat(sql: str) -> str:
    """``:name`` parameters → psycopg's ``%(name)s`` (``::`` casts left alone)."""
    return _PARAM.sub(r"%(\1)s", sql.replace("%", "%%"))


def _execute_raw(session, sql: str, params: dict):
    """Run a tile statement on the driver connection directly: a tile is the hottest
    path, and SQLAlchemy's statement handling costs more than the query itself for small
    tiles. Same transaction and connection as the session."""
    connection = session.connection() if isinstance(session, Session) else session
    cursor = connection.connection.driver_connection.cursor()
    try:
        cursor.execute(_pyformat(sql), params)
        row = cursor.fetchone()
    finally:
        cursor.close()
    return row[0] if row else None


def zoom_for_bbox(bbox: tuple[float, float, float, float]) -> int:
    """The web zoom at which the bbox fills about 1000 pixels."""
    width = max(bbox[2] - bbox[0], (bbox[3] - bbox[1]) * 1.2, 1e-6)
    return max(0, min(MAX_ZOOM, int(math.log2(360 * 1000 / 256 / width))))


def parse_bbox(value: str | None) -> tuple[float, float, float, float] | None:
    if value is None or not value.strip():
        return None
    try:
        parts = [float(p) for p in value.split(",")]
    except ValueError:
        raise InvalidInput("bbox 应为 minx,miny,maxx,maxy 四个数字", "bbox must be four numbers: minx,miny,maxx,maxy") from None
    if len(parts) != 4 or not all(math.isfinite(p) for p in parts):
        raise InvalidInput("bbox 应为 minx,miny,maxx,maxy 四个数字", "bbox must be four numbers: minx,miny,maxx,maxy")
    minx, miny, maxx, maxy = parts
    if not (-180 <= minx < maxx <= 180 and -90 <= miny < maxy <= 90):
        raise InvalidInput("bbox 范围无效（应为经纬度，且 min < max）", "bbox is invalid (lon/lat with min < max)")
    if (maxx - minx) * (maxy - miny) > MAX_BBOX_DEG2:
        raise TooLarge(f"bbox 过大（上限 {MAX_BBOX_DEG2} 平方度）", f"bbox too large (limit {MAX_BBOX_DEG2} square degrees)")
    return minx, miny, maxx, maxy


def layer_geojson(session: Session, layer: str, *, scope: Scope, set_id: int,
                  bbox: tuple[float, float, float, float] | None, level: str | None = None,
                  zoom: int | None = None) -> dict:
    """A layer as a GeoJSON FeatureCollection (RFC 7946 lon/lat) for a bbox."""
    if bbox is None:
        if layer in ("enterprises", "hazards", "density"):
            raise InvalidInput("该图层需要 bbox 参数", "this layer needs a bbox")
        bbox = (-180.0, -85.0, 180.0, 85.0)
        zoom = zoom if zoom is not None else 8
    if zoom is None:
        zoom = zoom_for_bbox(bbox)
    params = {"minx": max(bbox[0], -180.0), "miny": max(bbox[1], -85.0), "maxx": min(bbox[2], 180.0),
              "maxy": min(bbox[3], 85.0), "set_id": set_id}
    env_sql = "ST_Transform(ST_MakeEnvelope(:minx, :miny, :maxx, :maxy, 4326), 3857)"
    sql, name, _attributes = _layer_sql(session, layer, scope=scope, zoom=zoom, level=level, env_sql=env_sql,
                                        params=params)
    rows = session.execute(text(
        f"""
        WITH f AS ({sql.replace("__ENV__", env_sql)})
        SELECT to_jsonb(f) - 'g', ST_AsGeoJSON(ST_Transform(f.g, 4326), 7)
        FROM f LIMIT {MAX_GEOJSON_FEATURES + 1}
        """), params).all()
    if len(rows) > MAX_GEOJSON_FEATURES:
        raise TooLarge(f"要素超过 {MAX_GEOJSON_FEATURES} 个，请缩小范围", f"more than {MAX_GEOJSON_FEATURES} features; narrow the bbox")
    return {"type": "FeatureCollection", "name": name, "zoom": zoom,
            "features": [{"type": "Feature", "properties": props, "geometry": json.loads(geometry)}
                         for props, geometry in rows]}
