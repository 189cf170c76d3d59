"""OGC API – Features, Part 1 (Core, GeoJSON, HTML, OpenAPI 3.0) and Part 2 (CRS by
reference), implemented over the layer catalogue of the exports.

Collections: ``grids_<level>`` for each level present in the boundary set within the
caller's scope (district, township, direct, village, micro), ``enterprises`` and
``hazards`` — the same fields as the GeoPackage export. Everything is filtered by the
caller's scope, like the rest of the API: an authority scoped to a district sees that
district, a township leader their township.

Items (``/collections/{id}/items``):

``limit`` (default 100, larger values are cut to 10,000), ``offset`` and ``next``/``prev``
links (a ``next`` link asks for at least :data:`NEXT_PAGE_MIN_LIMIT` features: GDAL before
3.8 asks for 10 per request and then only follows ``next``, so pages of 1,000 spare it
hundreds of requests; the HTML pages keep the size asked for); ``bbox`` with ``bbox-crs``
(CRS84 by default; EPSG:4326 and EPSG:4490 in their official latitude, longitude axis
order; EPSG:3857); ``crs`` of the response (CRS84
lon/lat by default — Part 1; EPSG:4326 and EPSG:4490 answer latitude, longitude as their
axis order demands, announced in the ``Content-Crs`` header; EPSG:3857 in metres);
``datetime`` on the record time of hazards (created) and enterprises (last update); and
property filters: exact matches on the collection's queryable fields (``?level=``,
``?parent_code=``, ``?sector=&risk_level=``, ``?status=`` …). Unknown parameters and
malformed values answer 400. ``set`` (an extension) picks a boundary set other than the
active one.

Links are made for GDAL's OAPIF driver as well as for the standard: the GeoJSON ``items``
link has no query string (GDAL 3.6 appends ``/{featureId}`` to it for a single feature),
features do not repeat an ``id`` property next to their ``id`` member (GDAL would add an
``id2`` field), and geometries carry no ``crs`` member. ``/api`` is an OpenAPI 3.0
document (converted from the application's 3.1 one), as its media type and the
``oas30`` conformance class say, and advertises ``limit`` (default and maximum) where
GDAL 3.8+ reads its page size from.

This module builds plain dicts (JSON documents) and HTML text; :mod:`api.routes.ogc`
serves them.
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from sqlalchemy import text
from sqlalchemy.orm import Session

from gridmap.auth import Scope
from gridmap.codes import LEVELS, subtree_sql
from gridmap.errors import InvalidInput, NotFound
from gridmap.exports.catalogue import (
    CST,
    ENTERPRISES,
    HAZARDS,
    Field,
    Labels,
    LayerQuery,
    LayerSpec,
    finish_row,
    grid_layer,
)

CRS84 = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"
EPSG_URI = "http://www.opengis.net/def/crs/EPSG/0/{}"
DEFAULT_LIMIT = 100
MAX_LIMIT = 10_000
#: The smallest page a ``next`` link of a GeoJSON page asks for.
NEXT_PAGE_MIN_LIMIT = 1_000
CONFORMANCE = (
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/html",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/oas30",
    "http://www.opengis.net/spec/ogcapi-features-2/1.0/conf/crs",
)
GEOJSON = "application/geo+json"
JSON = "application/json"
HTML = "text/html"
#: The media type of ``/api``: an OpenAPI 3.0 document (see :func:`openapi_document`).
OPENAPI = "application/vnd.oai.openapi+json;version=3.0"
SCHEMA = "application/schema+json"
#: Parameters every items request may carry (besides the collection's queryables).
ITEMS_PARAMETERS = ("limit", "offset", "bbox", "bbox-crs", "crs", "datetime", "f", "set")


class InvalidParameter(InvalidInput):
    """A query parameter OGC API – Features answers with 400 (unknown or malformed)."""

    status_code = 400
    code = "invalid_parameter"


@dataclass(frozen=True)
class Crs:
    """A CRS the API serves: URI, PostGIS SRID, whether its first axis is latitude."""

    uri: str
    srid: int
    lat_first: bool
    decimals: int


SUPPORTED_CRS: dict[str, Crs] = {
    CRS84: Crs(CRS84, 4490, False, 7),
    EPSG_URI.format(4490): Crs(EPSG_URI.format(4490), 4490, True, 7),
    EPSG_URI.format(4326): Crs(EPSG_URI.format(4326), 4490, True, 7),
    EPSG_URI.format(3857): Crs(EPSG_URI.format(3857), 3857, False, 2),
}
#: Short spellings accepted for ``crs``/``bbox-crs`` besides the URIs.
_CRS_ALIASES = {"crs84": CRS84, "ogc:crs84": CRS84, "epsg:4490": EPSG_URI.format(4490),
                "epsg:4326": EPSG_URI.format(4326), "epsg:3857": EPSG_URI.format(3857),
                "[ogc:crs84]": CRS84, "[epsg:4326]": EPSG_URI.format(4326),
                "[epsg:4490]": EPSG_URI.format(4490), "[epsg:3857]": EPSG_URI.format(3857)}


def parse_crs(value: str | None, name: str = "crs") -> Crs:
    """The CRS a ``crs`` or ``bbox-crs`` parameter names (CRS84 when absent)."""
    if value is None or not value.strip():
        return SUPPORTED_CRS[CRS84]
    key = value.strip().strip("<>")
    uri = key if key in SUPPORTED_CRS else _CRS_ALIASES.get(key.lower())
    if uri is None:
        raise InvalidParameter(f"不支持的坐标系 {name}={value}（可用：{', '.join(SUPPORTED_CRS)}）",
                               f"unsupported {name} {value} (supported: {', '.join(SUPPORTED_CRS)})")
    return SUPPORTED_CRS[uri]


# ------------------------------------------------------------------- collections

def collection_spec(collection_id: str) -> LayerSpec:
    """The layer behind a collection id (``grids_village``, ``enterprises`` …)."""
    if collection_id in ("enterprises", "hazards"):
        return ENTERPRISES if collection_id == "enterprises" else HAZARDS
    level = collection_id.removeprefix("grids_")
    if collection_id.startswith("grids_") and level in LEVELS:
        return grid_layer(level)
    raise NotFound(f"集合 {collection_id} 不存在", f"collection {collection_id} not found")


def available_collections(session: Session, *, set_id: int, scope: Scope) -> list[LayerSpec]:
    """Grid levels present in the set within the scope, then enterprises and hazards."""
    params: dict = {"set_id": set_id}
    condition = "TRUE"
    if scope.code is not None:
        condition, bound = subtree_sql("code", scope.code, "scope_prefix")
        params.update(bound)
    present = set(session.execute(text(
        f"SELECT DISTINCT level FROM grid WHERE set_id = :set_id AND {condition}"), params).scalars())
    return [grid_layer(level) for level in LEVELS if level in present] + [ENTERPRISES, HAZARDS]


def require_collection(session: Session, collection_id: str, *, set_id: int, scope: Scope) -> LayerSpec:
    spec = collection_spec(collection_id)
    if spec.name not in {s.name for s in available_collections(session, set_id=set_id, scope=scope)}:
        raise NotFound(f"集合 {collection_id} 不存在", f"collection {collection_id} not found")
    return spec


def _link(href: str, rel: str, media_type: str, title: str | None = None) -> dict:
    link = {"href": href, "rel": rel, "type": media_type}
    if title:
        link["title"] = title
    return link


def landing_page(base: str) -> dict:
    """``/ogc``: what the service is and where everything is."""
    return {
        "title": "gridmap 安全生产网格化监管 OGC API – Features",
        "description": "网格、企业与隐患（CGCS2000）/ grids, enterprises and hazards of work-safety supervision",
        "links": [
            _link(f"{base}?f=json", "self", JSON, "本页 / this document"),
            _link(f"{base}?f=html", "alternate", HTML, "HTML"),
            _link(f"{base}/api", "service-desc", OPENAPI, "API 定义 / API definition (OpenAPI 3.0)"),
            _link(f"{_root(base)}/docs", "service-doc", HTML, "API 文档 / API documentation"),
            _link(f"{base}/conformance", "conformance", JSON, "符合的标准 / conformance classes"),
            _link(f"{base}/conformance", "http://www.opengis.net/def/rel/ogc/1.0/conformance", JSON),
            _link(f"{base}/collections", "data", JSON, "数据集合 / collections"),
            _link(f"{base}/collections", "http://www.opengis.net/def/rel/ogc/1.0/data", JSON),
        ],
    }


def _root(base: str) -> str:
    return base.rsplit("/ogc", 1)[0]


def conformance() -> dict:
    return {"conformsTo": list(CONFORMANCE)}


def _extent(session: Session, spec: LayerSpec, *, set_id: int, scope: Scope) -> list[float] | None:
    query = LayerQuery(spec, set_id=set_id, scope=scope)
    row = session.execute(text(
        f"SELECT ST_XMin(x), ST_YMin(x), ST_XMax(x), ST_YMax(x) FROM (SELECT ST_Extent({spec.geom}) AS x "
        f"FROM {query.from_sql} WHERE {query.where_sql}) e"), query.params).one()
    return None if row[0] is None else [round(float(v), 7) for v in row]


def collection_document(session: Session, spec: LayerSpec, *, base: str, set_id: int, scope: Scope,
                        query_suffix: str = "") -> dict:
    """One collection: id, titles, extent (CRS84), CRS list, storage CRS, links."""
    href = f"{base}/collections/{spec.name}"
    document = {
        "id": spec.name,
        "title": spec.title_zh,
        "description": f"{spec.description_zh} / {spec.description_en}",
        "itemType": "feature",
        "crs": list(SUPPORTED_CRS),
        "storageCrs": EPSG_URI.format(4490),
        "links": [
            _link(f"{href}?f=json{query_suffix}", "self", JSON, spec.title_zh),
            _link(f"{href}?f=html{query_suffix}", "alternate", HTML, spec.title_zh),
            # No query string: GDAL 3.6 fetches a feature at "<this href>/<id>".
            _link(f"{href}/items" + (f"?{query_suffix[1:]}" if query_suffix else ""), "items", GEOJSON,
                  f"{spec.title_zh}（GeoJSON）"),
            _link(f"{href}/items?f=html{query_suffix}", "items", HTML, f"{spec.title_zh}（HTML）"),
            _link(f"{href}/schema", "describedby", SCHEMA, "要素结构 / feature schema"),
            # Relation types are case-insensitive (RFC 8288); GDAL 3.6 matches "describedBy" only.
            _link(f"{href}/schema", "describedBy", SCHEMA, "要素结构 / feature schema"),
            _link(f"{href}/queryables", "http://www.opengis.net/def/rel/ogc/1.0/queryables", SCHEMA,
                  "可筛选属性 / queryables"),
        ],
    }
    bbox = _extent(session, spec, set_id=set_id, scope=scope)
    if bbox is not None:
        document["extent"] = {"spatial": {"bbox": [bbox], "crs": CRS84}}
    return document


def collections_document(session: Session, *, base: str, set_id: int, scope: Scope, query_suffix: str = "") -> dict:
    specs = available_collections(session, set_id=set_id, scope=scope)
    return {
        "links": [_link(f"{base}/collections?f=json{query_suffix}", "self", JSON, "数据集合 / collections"),
                  _link(f"{base}/collections?f=html{query_suffix}", "alternate", HTML, "HTML")],
        "crs": list(SUPPORTED_CRS),
        "collections": [collection_document(session, spec, base=base, set_id=set_id, scope=scope,
                                            query_suffix=query_suffix) for spec in specs],
    }


# ------------------------------------------------------- schemas and API document

_JSON_TYPES = {"str": "string", "int": "integer", "float": "number", "bool": "boolean", "datetime": "string"}


def _property_schema(f: Field) -> dict:
    # Plain types (not ["integer", "null"]): GDAL's OAPIF driver derives field types from
    # them and understands single types only. Any property may be null.
    schema = {"title": f.zh, "description": f.en, "type": _JSON_TYPES[f.type]}
    if f.type == "datetime":
        schema["format"] = "date-time"
    return schema


def schema_document(spec: LayerSpec, base: str) -> dict:
    """JSON Schema of a feature of the collection (``describedby``): property types and
    Chinese titles, so clients type fields from the schema instead of from a first page."""
    fields = _property_fields(spec)
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": f"{base}/collections/{spec.name}/schema",
        "title": spec.title_zh,
        "description": spec.description_zh,
        "type": "object",
        "properties": {
            "type": {"type": "string", "enum": ["Feature"]},
            "id": {"type": _JSON_TYPES[spec.field(spec.id_field).type], "title": spec.field(spec.id_field).zh},
            "geometry": {"type": "object", "description": f"GeoJSON {spec.geometry_type} (or null)"},
            "properties": {"type": "object", "properties": {f.name: _property_schema(f) for f in fields}},
        },
    }


def queryables_document(spec: LayerSpec, base: str) -> dict:
    """The properties an items request may filter on (exact match), as a JSON Schema."""
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": f"{base}/collections/{spec.name}/queryables",
        "title": spec.title_zh,
        "type": "object",
        "properties": {name: _property_schema(f) for name, f in spec.filterable.items()},
    }


def all_collection_specs() -> list[LayerSpec]:
    """Every collection the API can serve, whatever the data holds."""
    return [grid_layer(level) for level in LEVELS] + [ENTERPRISES, HAZARDS]


def openapi_document(app_document: dict, base: str) -> dict:
    """The OpenAPI 3.0 definition of the OGC API alone, relative to ``base`` (``…/ogc``).

    Built from the application's document: its ``/ogc`` paths without the prefix, plus
    one items path per collection listing the collection's queryable properties as
    query parameters — which is where clients (GDAL's OAPIF driver) look for the
    filters they may send to the server — and only the components those paths use.
    FastAPI writes OpenAPI 3.1; the few 3.1 forms (``{"type": "null"}`` alternatives,
    type lists, ``const``, ``examples``, numeric ``exclusiveMinimum``) are written the 3.0
    way, so the document is what its media type (``version=3.0``) and the ``oas30``
    conformance class announce.
    """
    prefix = "/ogc"
    paths = {path[len(prefix):] or "/": item for path, item in app_document.get("paths", {}).items()
             if path == prefix or path.startswith(prefix + "/")}
    generic = paths.get("/collections/{collectionId}/items", {}).get("get")
    if generic is not None:
        standard = [p for p in generic.get("parameters", []) if p.get("in") == "query"]
        for spec in all_collection_specs():
            queryable = [{"name": name, "in": "query", "required": False, "description": f"{f.zh}（精确匹配）/ {f.en}",
                          "schema": {k: v for k, v in _property_schema(f).items() if k in ("type", "format")}}
                         for name, f in spec.filterable.items()]
            paths[f"/collections/{spec.name}/items"] = {"get": {
                **generic, "summary": f"{spec.title_zh} / {spec.title_en}", "operationId": f"items_{spec.name}",
                "parameters": standard + queryable}}
    components = app_document.get("components", {})
    schemas = components.get("schemas", {})
    used = _referenced_schemas(paths, schemas)
    kept = {"schemas": {name: schemas[name] for name in sorted(used)}} if used else {}
    if "securitySchemes" in components:
        kept["securitySchemes"] = components["securitySchemes"]
    return _oas30({
        "openapi": "3.0.3",
        "info": {"title": "gridmap OGC API – Features", "version": app_document.get("info", {}).get("version", "0"),
                 "description": "安全生产网格化监管：网格、企业、隐患 / grids, enterprises and hazards"},
        "servers": [{"url": base}],
        "paths": paths,
        "components": kept,
    })


def _referenced_schemas(node: object, schemas: dict, found: set[str] | None = None) -> set[str]:
    """Names of the component schemas ``node`` refers to, transitively."""
    found = set() if found is None else found
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/components/schemas/"):
            name = ref.rsplit("/", 1)[-1]
            if name not in found and name in schemas:
                found.add(name)
                _referenced_schemas(schemas[name], schemas, found)
        for value in node.values():
            _referenced_schemas(value, schemas, found)
    elif isinstance(node, list):
        for value in node:
            _referenced_schemas(value, schemas, found)
    return found


#: Keys whose value maps names to schemas (not a schema itself).
_SCHEMA_MAPS = ("properties", "patternProperties", "$defs", "schemas")


def _oas30(node: object) -> object:
    """``node`` with the OpenAPI 3.1 (JSON Schema 2020-12) forms FastAPI writes turned
    into their OpenAPI 3.0 equivalents.

    >>> _oas30({"anyOf": [{"type": "integer"}, {"type": "null"}], "exclusiveMinimum": 0})
    {'type': 'integer', 'exclusiveMinimum': True, 'nullable': True, 'minimum': 0}
    >>> _oas30({"type": ["string", "null"], "const": "a", "examples": ["a"]})
    {'type': 'string', 'nullable': True, 'enum': ['a'], 'example': 'a'}
    """
    if isinstance(node, list):
        return [_oas30(value) for value in node]
    if not isinstance(node, dict):
        return node
    schema = {key: ({name: _oas30(sub) for name, sub in value.items()}
                    if key in _SCHEMA_MAPS and isinstance(value, dict) else _oas30(value))
              for key, value in node.items()}
    for key in ("anyOf", "oneOf"):
        options = schema.get(key)
        if isinstance(options, list) and {"type": "null"} in options:
            rest = [option for option in options if option != {"type": "null"}]
            del schema[key]
            if len(rest) == 1 and "$ref" not in rest[0]:
                schema = {**rest[0], **schema}
            elif rest:
                schema[key] = rest
            schema["nullable"] = True
    types = schema.get("type")
    if isinstance(types, list):
        if "null" in types:
            schema["nullable"] = True
            types = [t for t in types if t != "null"]
        if len(types) == 1:
            schema["type"] = types[0]
        else:
            del schema["type"]
            schema["anyOf"] = [{"type": t} for t in types]
    if "const" in schema:
        schema["enum"] = [schema.pop("const")]
    if isinstance(schema.get("examples"), list):
        examples = schema.pop("examples")
        if examples:
            schema["example"] = examples[0]
    for bound, plain in (("exclusiveMinimum", "minimum"), ("exclusiveMaximum", "maximum")):
        if isinstance(schema.get(bound), (int, float)) and not isinstance(schema[bound], bool):
            schema[plain] = schema[bound]
            schema[bound] = True
    return schema


# ------------------------------------------------------------------------- items

@dataclass
class ItemsRequest:
    """A parsed items request."""

    limit: int = DEFAULT_LIMIT
    offset: int = 0
    bbox: tuple[float, float, float, float] | None = None
    bbox_crs: Crs = field(default_factory=lambda: SUPPORTED_CRS[CRS84])
    crs: Crs = field(default_factory=lambda: SUPPORTED_CRS[CRS84])
    interval: tuple[datetime | None, datetime | None] | None = None
    filters: dict[str, object] = field(default_factory=dict)


_BIGINT = 2**62


def _int(name: str, value: str, minimum: int, maximum: int = _BIGINT) -> int:
    try:
        number = int(value)
    except ValueError:
        raise InvalidParameter(f"{name} 应为整数，收到 {value!r}", f"{name} must be an integer, got {value!r}") from None
    if number < minimum:
        raise InvalidParameter(f"{name} 不能小于 {minimum}", f"{name} must be at least {minimum}")
    if number > maximum:
        raise InvalidParameter(f"{name} 不能大于 {maximum}", f"{name} must be at most {maximum}")
    return number


def _instant(value: str) -> datetime | None:
    if value in ("", ".."):
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise InvalidParameter(f"datetime 格式错误：{value!r}（RFC 3339）",
                               f"datetime is not RFC 3339: {value!r}") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=CST)


def _bbox(value: str, crs: Crs) -> tuple[float, float, float, float]:
    try:
        numbers = [float(part) for part in value.split(",")]
    except ValueError:
        raise InvalidParameter(f"bbox 应为 4 个数字，收到 {value!r}", f"bbox must be 4 numbers, got {value!r}") from None
    if len(numbers) == 6:  # minx, miny, minz, maxx, maxy, maxz: heights are not filtered
        numbers = [numbers[0], numbers[1], numbers[3], numbers[4]]
    if len(numbers) != 4 or not all(abs(n) < 1e9 for n in numbers):
        raise InvalidParameter(f"bbox 应为 4 个数字，收到 {value!r}", f"bbox must be 4 numbers, got {value!r}")
    if crs.lat_first:
        numbers = [numbers[1], numbers[0], numbers[3], numbers[2]]
    minx, miny, maxx, maxy = numbers
    if minx > maxx or miny > maxy:
        raise InvalidParameter("bbox 的最小值大于最大值", "bbox minimum exceeds its maximum")
    if crs.srid != 3857 and (miny < -90 or maxy > 90):
        raise InvalidParameter("bbox 纬度超出 ±90°（检查坐标轴顺序与 bbox-crs）",
                               "bbox latitude beyond ±90° (check the axis order and bbox-crs)")
    return minx, miny, maxx, maxy


def _filter_value(f: Field, value: str) -> object:
    if f.type == "int":
        return _int(f.name, value, -_BIGINT)
    if f.type == "bool":
        lowered = value.strip().lower()
        if lowered in ("true", "1", "yes", "是"):
            return True
        if lowered in ("false", "0", "no", "否"):
            return False
        raise InvalidParameter(f"{f.name} 应为 true 或 false", f"{f.name} must be true or false")
    return value


def parse_items_request(spec: LayerSpec, params: Mapping[str, str] | list[tuple[str, str]]) -> ItemsRequest:
    """Check and parse the query parameters of an items request (400 on anything wrong)."""
    pairs = list(params.items()) if isinstance(params, Mapping) else list(params)
    queryables = spec.filterable
    request = ItemsRequest()
    seen: set[str] = set()
    for name, value in pairs:
        if name in seen:
            raise InvalidParameter(f"参数 {name} 重复", f"parameter {name} given twice")
        seen.add(name)
        if name not in ITEMS_PARAMETERS and name not in queryables:
            raise InvalidParameter(
                f"未知参数 {name}（可用：{', '.join(ITEMS_PARAMETERS + tuple(queryables))}）",
                f"unknown parameter {name} (allowed: {', '.join(ITEMS_PARAMETERS + tuple(queryables))})")
    values = dict(pairs)
    if "limit" in values:
        # Larger pages than the maximum are cut to it (a permission of Part 1), not refused.
        request.limit = min(_int("limit", values["limit"], 1), MAX_LIMIT)
    if "offset" in values:
        request.offset = _int("offset", values["offset"], 0)
    request.bbox_crs = parse_crs(values.get("bbox-crs"), "bbox-crs")
    request.crs = parse_crs(values.get("crs"), "crs")
    if "bbox-crs" in values and "bbox" not in values:
        raise InvalidParameter("bbox-crs 需要与 bbox 一起使用", "bbox-crs needs a bbox")
    if "bbox" in values:
        request.bbox = _bbox(values["bbox"], request.bbox_crs)
    if values.get("datetime"):
        parts = values["datetime"].split("/")
        if len(parts) > 2 or parts == ["..", ".."]:
            raise InvalidParameter("datetime 应为时刻或区间 a/b", "datetime must be an instant or an interval a/b")
        start, end = _instant(parts[0]), _instant(parts[-1])
        if len(parts) == 1 and start is None:
            raise InvalidParameter("datetime 不能为 ..", "datetime cannot be '..' alone")
        request.interval = (start, end)
    request.filters = {name: _filter_value(queryables[name], value) for name, value in pairs if name in queryables}
    return request


def _geometry_sql(spec: LayerSpec, crs: Crs) -> str:
    # Options 0: no "crs" member (PostGIS adds one for SRIDs other than 4326 by default;
    # GeoJSON has none — the CRS is the Content-Crs header's).
    if crs.srid == 3857:
        return f"ST_AsGeoJSON({spec.geom_3857}, {crs.decimals}, 0)"
    if crs.lat_first:
        return f"ST_AsGeoJSON(ST_FlipCoordinates({spec.geom}), {crs.decimals}, 0)"
    # RFC 7946: exterior rings counter-clockwise.
    return f"ST_AsGeoJSON(ST_ForcePolygonCCW({spec.geom}), {crs.decimals}, 0)"


def _apply(query: LayerQuery, spec: LayerSpec, request: ItemsRequest) -> None:
    for index, (name, value) in enumerate(request.filters.items()):
        query.add(f"{spec.filterable[name].sql} = :filter_{index}", **{f"filter_{index}": value})
    if request.bbox is not None:
        minx, miny, maxx, maxy = request.bbox
        if request.bbox_crs.srid == 3857:
            envelope, column = "ST_MakeEnvelope(:bx0, :by0, :bx1, :by1, 3857)", spec.geom_3857
        else:
            envelope, column = "ST_MakeEnvelope(:bx0, :by0, :bx1, :by1, 4490)", spec.geom
        query.add(f"{column} && {envelope} AND ST_Intersects({column}, {envelope})",
                  bx0=minx, by0=miny, bx1=maxx, by1=maxy)
    if request.interval is not None and spec.time_column:
        start, end = request.interval
        if start is not None:
            query.add(f"{spec.time_column} >= :t0", t0=start)
        if end is not None:
            query.add(f"{spec.time_column} <= :t1", t1=end)


def _property_fields(spec: LayerSpec) -> tuple[Field, ...]:
    """The fields a feature carries in ``properties``: all but one named ``id``, which is
    the feature's ``id`` member already (GDAL would read it twice, as ``id`` and ``id2``)."""
    return tuple(f for f in spec.output_fields(tabular=False) if f.name != "id")


def _feature(spec: LayerSpec, props: dict, geometry: str | None, fields: tuple[Field, ...], href: str) -> dict:
    feature_id = props[spec.id_field]
    return {"type": "Feature", "id": feature_id,
            "geometry": json.loads(geometry) if geometry else None,
            "properties": {f.name: props[f.name] for f in fields},
            "links": [_link(f"{href}/items/{feature_id}", "self", GEOJSON)]}


def items_document(session: Session, spec: LayerSpec, request: ItemsRequest, *, base: str, set_id: int,
                   scope: Scope, params: list[tuple[str, str]], labels: Labels | None = None,
                   now: datetime | None = None, html: bool = False) -> dict:
    """A page of features as a GeoJSON FeatureCollection with paging links.

    The ``next`` link of a GeoJSON page asks for at least :data:`NEXT_PAGE_MIN_LIMIT`
    features; for ``html`` (a person paging) it keeps the size asked for.
    """
    labels = labels or Labels.load()
    now = now or datetime.now(UTC)
    query = LayerQuery(spec, set_id=set_id, scope=scope, now=now)
    _apply(query, spec, request)
    matched = query.count(session)
    query.params.update(limit=request.limit, offset=request.offset)
    rows = session.execute(text(query.select_sql(geometry=_geometry_sql(spec, request.crs), paged=True)),
                           query.params).mappings().all()
    fields = _property_fields(spec)
    href = f"{base}/collections/{spec.name}"
    features = [_feature(spec, finish_row(spec, dict(row), labels), row["geometry"], fields, href) for row in rows]

    def page(offset: int, fmt: str | None = None, limit: int | None = None) -> str:
        kept = [(k, v) for k, v in params if k not in ("offset", "f") and (limit is None or k != "limit")]
        kept += [("limit", str(limit))] if limit is not None else []
        kept += [("offset", str(offset))] if offset else []
        kept += [("f", fmt)] if fmt else [(k, v) for k, v in params if k == "f"]
        return f"{href}/items" + (f"?{urlencode(kept)}" if kept else "")

    links = [_link(page(request.offset), "self", GEOJSON, "本页 / this page"),
             _link(page(request.offset, "html"), "alternate", HTML, "HTML"),
             _link(href, "collection", JSON, spec.title_zh)]
    if request.offset + len(features) < matched:
        next_limit = None if html or request.limit >= NEXT_PAGE_MIN_LIMIT else NEXT_PAGE_MIN_LIMIT
        links.append(_link(page(request.offset + request.limit, limit=next_limit), "next", GEOJSON,
                           "下一页 / next page"))
    if request.offset > 0:
        links.append(_link(page(max(request.offset - request.limit, 0)), "prev", GEOJSON, "上一页 / previous page"))
    return {"type": "FeatureCollection", "numberMatched": matched, "numberReturned": len(features),
            "timeStamp": now.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z"),
            "links": links, "features": features}


def item_document(session: Session, spec: LayerSpec, feature_id: str, *, crs: Crs, base: str, set_id: int,
                  scope: Scope, labels: Labels | None = None, now: datetime | None = None) -> dict:
    """One feature by id (grid code, enterprise USCC, hazard id); 404 when out of scope."""
    labels = labels or Labels.load()
    query = LayerQuery(spec, set_id=set_id, scope=scope, now=now or datetime.now(UTC))
    id_field = spec.field(spec.id_field)
    value: object = feature_id
    if id_field.type == "int":
        if not re.fullmatch(r"\d{1,18}", feature_id):
            raise NotFound(f"要素 {feature_id} 不存在", f"feature {feature_id} not found")
        value = int(feature_id)
    query.add(f"{id_field.sql} = :feature_id", feature_id=value)
    row = session.execute(text(query.select_sql(geometry=_geometry_sql(spec, crs))), query.params).mappings().first()
    if row is None:
        raise NotFound(f"要素 {feature_id} 不存在", f"feature {feature_id} not found")
    href = f"{base}/collections/{spec.name}"
    feature = _feature(spec, finish_row(spec, dict(row), labels), row["geometry"], _property_fields(spec), href)
    feature["links"] += [_link(f"{href}/items/{feature['id']}?f=html", "alternate", HTML, "HTML"),
                         _link(href, "collection", JSON, spec.title_zh)]
    return feature


# -------------------------------------------------------------------------- HTML

_STYLE = ("body{font-family:system-ui,'Noto Sans CJK SC','Microsoft YaHei',sans-serif;margin:1.5rem;color:#222}"
          "table{border-collapse:collapse;font-size:.9rem}td,th{border:1px solid #ccc;padding:.25rem .5rem;"
          "text-align:left;vertical-align:top}th{background:#f3f3f3}a{color:#0b57d0}")


def _page(title: str, body: str) -> str:
    return (f'<!doctype html><html lang="zh-CN"><head><meta charset="utf-8"><title>{html.escape(title)}</title>'
            f"<style>{_STYLE}</style></head><body><h1>{html.escape(title)}</h1>{body}</body></html>")


def with_format(href: str, fmt: str) -> str:
    """``href`` with its ``f`` parameter set to ``fmt``."""
    parts = urlsplit(href)
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k != "f"] + [("f", fmt)]
    return urlunsplit(parts._replace(query=urlencode(query)))


def _links_html(links: list[dict]) -> str:
    items = "".join(f'<li><a href="{html.escape(link["href"])}">{html.escape(link.get("title") or link["rel"])}'
                    f'</a> <small>({html.escape(link["rel"])}, {html.escape(link["type"])})</small></li>'
                    for link in links)
    return f"<ul>{items}</ul>"


def _table(headers: list[str], rows: list[list[object]]) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{cell}</td>" for cell in row) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "是" if value else "否"
    return html.escape(str(value))


def render_html(kind: str, document: dict, spec: LayerSpec | None = None) -> str:
    """A minimal HTML view of a landing page, conformance, collection(s), items or an item."""
    if kind == "landing":
        return _page(document["title"], f"<p>{html.escape(document['description'])}</p>"
                     + _links_html(document["links"]))
    if kind == "conformance":
        return _page("符合的标准 / conformance", "<ul>" + "".join(
            f"<li>{html.escape(uri)}</li>" for uri in document["conformsTo"]) + "</ul>")
    if kind == "collections":
        rows = [[f'<a href="{html.escape(c["links"][1]["href"])}">{html.escape(c["id"])}</a>',
                 html.escape(c["title"]), html.escape(c["description"]),
                 html.escape(", ".join(str(v) for v in c.get("extent", {}).get("spatial", {}).get("bbox", [[]])[0]))]
                for c in document["collections"]]
        return _page("数据集合 / collections", _table(["id", "名称 title", "说明 description", "范围 bbox (CRS84)"], rows))
    if kind == "collection":
        bbox = document.get("extent", {}).get("spatial", {}).get("bbox", [[]])[0]
        return _page(document["title"], f"<p>{html.escape(document['description'])}</p>"
                     f"<p>范围 / bbox (CRS84): {html.escape(', '.join(str(v) for v in bbox))}</p>"
                     + _links_html(document["links"]))
    assert spec is not None
    fields = _property_fields(spec)
    if kind == "item":
        rows = [[html.escape(f.zh), html.escape(f.name), _text(document["properties"][f.name])] for f in fields]
        return _page(f"{spec.title_zh} {document['id']}", _table(["字段", "field", "值 value"], rows)
                     + _links_html(document["links"]))
    rows = [[f'<a href="{html.escape(with_format(feature["links"][0]["href"], "html"))}">{_text(feature["id"])}</a>']
            + [_text(feature["properties"][f.name]) for f in fields] for feature in document["features"]]
    paging = [{**link, "href": with_format(link["href"], "html"), "type": HTML}
              for link in document["links"] if link["rel"] in ("prev", "next", "collection")]
    summary = (f"<p>共 {document['numberMatched']} 个，本页 {document['numberReturned']} 个 / "
               f"{document['numberMatched']} matched, {document['numberReturned']} on this page</p>")
    return _page(spec.title_zh, summary + _table(["id"] + [f.zh for f in fields], rows) + _links_html(paging))


__all__ = [
    "CONFORMANCE",
    "CRS84",
    "DEFAULT_LIMIT",
    "MAX_LIMIT",
    "SUPPORTED_CRS",
    "Crs",
    "InvalidParameter",
    "ItemsRequest",
    "all_collection_specs",
    "available_collections",
    "collection_document",
    "collection_spec",
    "collections_document",
    "conformance",
    "item_document",
    "items_document",
    "landing_page",
    "openapi_document",
    "parse_crs",
    "parse_items_request",
    "queryables_document",
    "render_html",
    "require_collection",
    "schema_document",
    "with_format",
]
