"""OGC API – Features under ``/ogc`` (Part 1 Core/GeoJSON/HTML/OAS 3.0, Part 2 CRS).

Needs a bearer token like the rest of the API and answers within the caller's scope.
JSON by default; HTML with ``f=html`` or when the client prefers ``text/html``
(browsers). Query parameters are read here and checked by :mod:`gridmap.ogc` — unknown
or malformed ones answer 400, as the standard requires, rather than FastAPI's 422 — and
described to OpenAPI through ``openapi_extra``.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response

from api.deps import ScopeDep, SessionDep, SettingsDep
from api.routes import ERROR_RESPONSES, refuse_nul
from gridmap import ogc
from gridmap.boundaries import get_set
from gridmap.exports.catalogue import Labels

router = APIRouter(prefix="/ogc", tags=["ogc"], responses=ERROR_RESPONSES,
                   dependencies=[Depends(refuse_nul)])

_F = {"name": "f", "in": "query", "required": False,
      "description": "json（默认）或 html / json (default) or html",
      "schema": {"type": "string", "enum": ["json", "html"]}}
_SET = {"name": "set", "in": "query", "required": False,
        "description": "边界版本（默认生效版本）/ boundary set id (default: the active one)",
        "schema": {"type": "integer", "minimum": 1}}
_CRS = {"type": "string", "format": "uri", "enum": list(ogc.SUPPORTED_CRS), "default": ogc.CRS84}
_ITEMS_PARAMETERS = [
    {"name": "limit", "in": "query", "required": False, "style": "form", "explode": False,
     "description": "每页要素数 / features per page",
     "schema": {"type": "integer", "minimum": 1, "maximum": ogc.MAX_LIMIT, "default": ogc.DEFAULT_LIMIT}},
    {"name": "offset", "in": "query", "required": False, "description": "跳过的要素数 / features skipped",
     "schema": {"type": "integer", "minimum": 0, "default": 0}},
    {"name": "bbox", "in": "query", "required": False, "style": "form", "explode": False,
     "description": "minx,miny,maxx,maxy in bbox-crs (CRS84 by default: lon,lat)",
     "schema": {"type": "array", "minItems": 4, "maxItems": 6, "items": {"type": "number"}}},
    {"name": "bbox-crs", "in": "query", "required": False, "schema": _CRS},
    {"name": "crs", "in": "query", "required": False, "schema": _CRS},
    {"name": "datetime", "in": "query", "required": False, "style": "form", "explode": False,
     "description": "RFC 3339 instant or interval a/b ('..' open)", "schema": {"type": "string"}},
    _F, _SET,
]
_ITEM_PARAMETERS = [{"name": "crs", "in": "query", "required": False, "schema": _CRS}, _F, _SET]


def _base(request: Request) -> str:
    return str(request.base_url).rstrip("/") + "/ogc"


def _quality(accept: str, media_type: str) -> float:
    best = 0.0
    kind = media_type.split("/")[0]
    for entry in accept.split(","):
        parts = [p.strip() for p in entry.split(";")]
        if parts[0] in (media_type, f"{kind}/*", "*/*"):
            q = 1.0
            for param in parts[1:]:
                if param.startswith("q="):
                    try:
                        q = float(param[2:])
                    except ValueError:
                        q = 0.0
            # An exact match outranks a wildcard of the same quality.
            best = max(best, q + (0.001 if parts[0] == media_type else 0.0))
    return best


def _wants_html(request: Request) -> bool:
    fmt = request.query_params.get("f")
    if fmt is not None:
        if fmt.lower() == "html":
            return True
        if fmt.lower() in ("json", "geojson"):
            return False
        raise ogc.InvalidParameter(f"f 只能为 json 或 html，收到 {fmt!r}", f"f must be json or html, got {fmt!r}")
    accept = request.headers.get("accept", "")
    return _quality(accept, "text/html") > max(_quality(accept, "application/json"),
                                               _quality(accept, "application/geo+json"))


def _set_id(request: Request, session) -> tuple[int, str]:
    raw = request.query_params.get("set")
    if raw is None:
        return get_set(session, None).id, ""
    if not raw.isdigit() or int(raw) < 1:
        raise ogc.InvalidParameter(f"set 应为正整数，收到 {raw!r}", f"set must be a positive integer, got {raw!r}")
    return get_set(session, int(raw)).id, f"&set={int(raw)}"


def _json(document: dict, media_type: str = ogc.JSON, headers: dict | None = None) -> JSONResponse:
    return JSONResponse(document, media_type=media_type, headers=headers)


def _labels(settings) -> Labels:
    return Labels.load(settings.taxonomy.sectors_file, settings.taxonomy.hazard_categories_file)


@router.get("", summary="OGC API 首页 / landing page", openapi_extra={"parameters": [_F]})
def landing(request: Request, scope: ScopeDep) -> Response:
    document = ogc.landing_page(_base(request))
    return HTMLResponse(ogc.render_html("landing", document)) if _wants_html(request) else _json(document)


@router.get("/api", summary="OGC API 的 OpenAPI 定义 / the OGC API's OpenAPI 3.0 definition")
def api_definition(request: Request, scope: ScopeDep) -> Response:
    document = ogc.openapi_document(request.app.openapi(), _base(request))
    return _json(document, ogc.OPENAPI)


@router.get("/conformance", summary="符合的标准 / conformance classes", openapi_extra={"parameters": [_F]})
def conformance(request: Request, scope: ScopeDep) -> Response:
    document = ogc.conformance()
    return HTMLResponse(ogc.render_html("conformance", document)) if _wants_html(request) else _json(document)


@router.get("/collections", summary="数据集合 / collections", openapi_extra={"parameters": [_F, _SET]})
def collections(request: Request, session: SessionDep, scope: ScopeDep) -> Response:
    set_id, suffix = _set_id(request, session)
    document = ogc.collections_document(session, base=_base(request), set_id=set_id, scope=scope, query_suffix=suffix)
    return HTMLResponse(ogc.render_html("collections", document)) if _wants_html(request) else _json(document)


@router.get("/collections/{collectionId}", summary="一个数据集合 / one collection",
            openapi_extra={"parameters": [_F, _SET]})
def collection(request: Request, session: SessionDep, scope: ScopeDep,
               collection_id: Annotated[str, Path(alias="collectionId", max_length=40)]) -> Response:
    set_id, suffix = _set_id(request, session)
    spec = ogc.require_collection(session, collection_id, set_id=set_id, scope=scope)
    document = ogc.collection_document(session, spec, base=_base(request), set_id=set_id, scope=scope,
                                       query_suffix=suffix)
    return HTMLResponse(ogc.render_html("collection", document)) if _wants_html(request) else _json(document)


@router.get("/collections/{collectionId}/schema", summary="要素结构（JSON Schema）/ feature schema",
            openapi_extra={"parameters": [_SET]})
def schema(request: Request, session: SessionDep, scope: ScopeDep,
           collection_id: Annotated[str, Path(alias="collectionId", max_length=40)]) -> Response:
    # The same 404 as the collection itself: a grid level outside the caller's scope (or
    # absent from the set) has no schema either.
    set_id, _ = _set_id(request, session)
    spec = ogc.require_collection(session, collection_id, set_id=set_id, scope=scope)
    return _json(ogc.schema_document(spec, _base(request)), ogc.SCHEMA)


@router.get("/collections/{collectionId}/queryables", summary="可筛选属性 / queryables",
            openapi_extra={"parameters": [_SET]})
def queryables(request: Request, session: SessionDep, scope: ScopeDep,
               collection_id: Annotated[str, Path(alias="collectionId", max_length=40)]) -> Response:
    set_id, _ = _set_id(request, session)
    spec = ogc.require_collection(session, collection_id, set_id=set_id, scope=scope)
    return _json(ogc.queryables_document(spec, _base(request)), ogc.SCHEMA)


@router.get("/collections/{collectionId}/items", summary="要素 / features (GeoJSON)",
            openapi_extra={"parameters": _ITEMS_PARAMETERS})
def items(request: Request, session: SessionDep, scope: ScopeDep, settings: SettingsDep,
          collection_id: Annotated[str, Path(alias="collectionId", max_length=40)]) -> Response:
    wants_html = _wants_html(request)
    set_id, _ = _set_id(request, session)
    spec = ogc.require_collection(session, collection_id, set_id=set_id, scope=scope)
    params = list(request.query_params.multi_items())
    parsed = ogc.parse_items_request(spec, params)
    document = ogc.items_document(session, spec, parsed, base=_base(request), set_id=set_id, scope=scope,
                                  params=params, labels=_labels(settings), html=wants_html)
    headers = {"Content-Crs": f"<{parsed.crs.uri}>"}
    if wants_html:
        return HTMLResponse(ogc.render_html("items", document, spec), headers=headers)
    return _json(document, ogc.GEOJSON, headers)


@router.get("/collections/{collectionId}/items/{featureId}", summary="一个要素 / one feature",
            openapi_extra={"parameters": _ITEM_PARAMETERS})
def item(request: Request, session: SessionDep, scope: ScopeDep, settings: SettingsDep,
         collection_id: Annotated[str, Path(alias="collectionId", max_length=40)],
         feature_id: Annotated[str, Path(alias="featureId", max_length=40)]) -> Response:
    wants_html = _wants_html(request)
    set_id, _ = _set_id(request, session)
    spec = ogc.require_collection(session, collection_id, set_id=set_id, scope=scope)
    unknown = [name for name in request.query_params if name not in ("crs", "f", "set")]
    if unknown:
        raise ogc.InvalidParameter(f"未知参数 {unknown[0]}", f"unknown parameter {unknown[0]}")
    crs = ogc.parse_crs(request.query_params.get("crs"))
    document = ogc.item_document(session, spec, feature_id, crs=crs, base=_base(request), set_id=set_id,
                                 scope=scope, labels=_labels(settings))
    headers = {"Content-Crs": f"<{crs.uri}>"}
    if wants_html:
        return HTMLResponse(ogc.render_html("item", document, spec), headers=headers)
    return _json(document, ogc.GEOJSON, headers)
