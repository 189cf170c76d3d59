from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict

from api.deps import BoundarySetDep, ReadSessionDep, ScopeDep, SessionDep
from api.routes import ERROR_RESPONSES, refuse_nul
from gridmap import tiles
from gridmap.auth import token_secret, user_from_token
from gridmap.boundaries import get_set
from gridmap.errors import NotAuthenticated

router = APIRouter(tags=["layers"], responses=ERROR_RESPONSES)
LayerPath = Annotated[str, Path(pattern="^(grids|enterprises|hazards|coverage|density)$",
                                description="grids | enterprises | hazards | coverage | density")]
LevelQuery = Annotated[str | None, Query(max_length=60, description="层级，逗号分隔 / levels, comma-separated")]


class FeatureCollection(BaseModel):
    model_config = ConfigDict(extra="allow")
    type: str
    name: str
    zoom: int
    features: list[dict[str, Any]]


@router.get("/tiles/{layer}/{z}/{x}/{y}.mvt", summary="矢量瓦片 / Mapbox Vector Tile",
            response_class=Response, responses={200: {"content": {"application/vnd.mapbox-vector-tile": {}}}},
            openapi_extra={"security": [{"OAuth2PasswordBearer": []}]})
def tile(request: Request, layer: LayerPath, z: Annotated[int, Path(ge=0, le=22)],
         x: Annotated[int, Path(ge=0, le=2**22)], y: Annotated[int, Path(ge=0, le=2**22)],
         session: ReadSessionDep,
         set_id: Annotated[int | None, Query(alias="set", ge=1, le=2**31 - 1,
                                            description="边界版本编号 / boundary set id")] = None,
         level: LevelQuery = None) -> Response:
    """The map's hot path, kept to one dependency (the session): the caller's scope and the
    boundary set come from short-lived caches (``ScopeCache``, ``SetCache``) instead of two
    queries and three dependencies per tile, the bearer token is read from the header here
    (documented as OAuth2 in the OpenAPI all the same), and the tile is one SQL statement.
    No NUL check is needed: the path is integers and a layer name, ``level`` is checked
    against the known levels."""
    token = _bearer(request.headers.get("authorization"))
    if not token:
        raise NotAuthenticated("需要登录（Bearer 令牌）", "authentication required (Bearer token)")
    settings = request.app.state.settings

    def lookup(value: str):
        return user_from_token(session, value, secret=token_secret(session, settings.auth))

    scope = request.app.state.scope_cache.scope(token, lookup)
    boundary_set = request.app.state.set_cache.get(set_id, lambda: get_set(session, set_id).id)
    data = tiles.render_tile(session, layer, z, x, y, scope=scope, set_id=boundary_set, level=level)
    return Response(content=data, media_type="application/vnd.mapbox-vector-tile",
                    headers={"Cache-Control": "private, max-age=60"})


def _bearer(header: str | None) -> str | None:
    """The token of an ``Authorization: Bearer …`` header (what ``oauth2`` reads)."""
    scheme, _, token = (header or "").partition(" ")
    return token.strip() or None if scheme.lower() == "bearer" else None


@router.get("/api/v1/layers/{layer}", response_model=FeatureCollection, summary="图层 GeoJSON / a layer as GeoJSON",
            dependencies=[Depends(refuse_nul)])
def layer(layer: LayerPath, session: SessionDep, scope: ScopeDep, boundary_set: BoundarySetDep,
          bbox: Annotated[str | None, Query(max_length=120, description="minx,miny,maxx,maxy（经纬度）")] = None,
          level: LevelQuery = None,
          zoom: Annotated[int | None, Query(ge=0, le=22, description="按该缩放级别聚合 / aggregate as at this zoom")] = None) -> dict:
    return tiles.layer_geojson(session, layer, scope=scope, set_id=boundary_set.id, bbox=tiles.parse_bbox(bbox),
                               level=level, zoom=zoom)
