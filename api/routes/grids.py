from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, ConfigDict

from api.deps import BoundarySetDep, PageDep, ScopeDep, SessionDep
from api.routes import ERROR_RESPONSES, refuse_nul
from gridmap import coords
from gridmap.codes import LEVELS
from gridmap.queries import grids as q

router = APIRouter(prefix="/api/v1", tags=["grids"], responses=ERROR_RESPONSES,
                   dependencies=[Depends(refuse_nul)])


class PersonPublic(BaseModel):
    id: int
    name: str
    phone: str | None
    certificate_no: str | None
    full_time: bool


class GridPublic(BaseModel):
    code: str
    name: str
    level: str
    parent_code: str | None
    population: int | None
    area_m2: float
    synthetic: bool
    set_id: int
    is_leaf: bool


class GridsPublic(BaseModel):
    data: list[GridPublic]
    count: int
    set_id: int


class GridRef(BaseModel):
    code: str
    name: str
    level: str


class GridDetail(GridPublic):
    parents: list[GridRef]
    children_count: int
    persons: dict[str, list[PersonPublic]]
    enterprise_count: int


class LocatedGrid(GridPublic):
    persons: dict[str, list[PersonPublic]]


class LocateResult(BaseModel):
    lon: float
    lat: float
    crs_in: str
    point_cgcs2000: tuple[float, float]
    set_id: int
    grids: list[LocatedGrid]


class Feature(BaseModel):
    model_config = ConfigDict(extra="allow")
    type: str
    id: str
    properties: dict[str, Any]
    geometry: dict[str, Any]


LevelQuery = Annotated[str | None, Query(description=f"层级 / level: {', '.join(LEVELS)}", pattern="^(" + "|".join(LEVELS) + ")$")]


@router.get("/grids", response_model=GridsPublic, summary="网格列表 / list grids")
def list_grids(session: SessionDep, scope: ScopeDep, boundary_set: BoundarySetDep, page: PageDep,
               level: LevelQuery = None,
               parent: Annotated[str | None, Query(max_length=20, description="上级编码 / parent code")] = None,
               q_: Annotated[str | None, Query(alias="q", max_length=50, description="名称或编码 / name or code")] = None) -> GridsPublic:
    data, count = q.list_grids(session=session, set_id=boundary_set.id, scope=scope, level=level,
                               parent=parent, q=q_, limit=page.limit, offset=page.offset)
    return GridsPublic(data=data, count=count, set_id=boundary_set.id)


@router.get("/grids/{code}", response_model=GridDetail, summary="网格详情 / grid detail")
def grid_detail(code: str, session: SessionDep, scope: ScopeDep, boundary_set: BoundarySetDep) -> GridDetail:
    return GridDetail(**q.grid_detail(session=session, set_id=boundary_set.id, code=code, scope=scope))


@router.get("/grids/{code}/geojson", response_model=Feature, summary="网格边界 GeoJSON / grid boundary as GeoJSON")
def grid_geojson(code: str, session: SessionDep, scope: ScopeDep, boundary_set: BoundarySetDep) -> dict:
    return q.grid_feature(session=session, set_id=boundary_set.id, code=code, scope=scope)


@router.get("/locate", response_model=LocateResult, summary="坐标查网格 / which grids cover a point")
def locate(session: SessionDep, scope: ScopeDep, boundary_set: BoundarySetDep,
           lon: Annotated[float, Query(description="经度 / longitude")],
           lat: Annotated[float, Query(description="纬度 / latitude")],
           crs: Annotated[str, Query(max_length=20, description="wgs84 | cgcs2000 | gcj02 | bd09")] = "wgs84") -> LocateResult:
    """Every grid of the boundary set (default: the active one) that covers the point,
    inside the caller's scope, ordered by level (district first) and then by code, each
    with its responsible persons. A point on a shared border returns every grid touching
    it; enterprise placement picks the first of each level (the smallest code).

    覆盖该点的所有网格（区县在前，同级按编码排序）；边界上的点返回所有相邻网格，企业落格取同级编码最小者。
    """
    system = coords.parse_crs(crs)
    coords.check_lonlat(lon, lat)
    x, y = coords.to_cgcs2000(lon, lat, system)
    grids = q.locate(session=session, set_id=boundary_set.id, lon=float(x), lat=float(y), scope=scope)
    return LocateResult(lon=lon, lat=lat, crs_in=system, point_cgcs2000=(float(x), float(y)),
                        set_id=boundary_set.id, grids=grids)
