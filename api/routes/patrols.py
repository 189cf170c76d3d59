"""Patrol check-ins (巡查打卡) from the field."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, ConfigDict, Field

from api.deps import CurrentUser, PageDep, ScopeDep, SessionDep, SettingsDep, WriterScope
from api.routes import ERROR_RESPONSES, refuse_nul
from gridmap import patrols as core

router = APIRouter(prefix="/api/v1", tags=["patrols"], responses=ERROR_RESPONSES,
                   dependencies=[Depends(refuse_nul)])


class PatrolCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    lon: float = Field(..., allow_inf_nan=False, description="经度")
    lat: float = Field(..., allow_inf_nan=False, description="纬度")
    crs: Literal["wgs84", "cgcs2000", "gcj02", "bd09"] = Field("wgs84", description="坐标系")
    at: datetime | None = Field(None, description="打卡时间（默认现在；无时区按北京时间）")
    note: str | None = Field(None, max_length=1000, description="备注")


class PatrolPublic(BaseModel):
    id: int
    at: datetime
    lon: float = Field(description="经度（CGCS2000）")
    lat: float = Field(description="纬度（CGCS2000）")
    source_crs: str
    placement: str
    grid_code: str | None
    home_code: str | None
    district_code: str | None
    note: str | None
    username: str | None
    created_at: datetime


class PatrolsPublic(BaseModel):
    data: list[PatrolPublic]
    count: int


@router.post("/patrols", response_model=PatrolPublic, status_code=201, summary="巡查打卡 / patrol check-in")
def check_in(body: PatrolCreate, session: SessionDep, settings: SettingsDep, user: CurrentUser,
             scope: WriterScope) -> dict:
    patrol = core.create_patrol(session, body.model_dump(), actor=user, scope=scope,
                                tolerance_m=settings.placement.snap_tolerance_m)
    return core.patrol_detail(session, patrol.id)


@router.get("/patrols", response_model=PatrolsPublic, summary="巡查打卡记录 / list check-ins")
def list_patrols(session: SessionDep, scope: ScopeDep, page: PageDep,
                 grid: Annotated[str | None, Query(max_length=20, description="网格编码")] = None,
                 date_from: Annotated[date | None, Query(alias="from", description="起始日期（含）")] = None,
                 date_to: Annotated[date | None, Query(alias="to", description="截止日期（不含）")] = None) -> dict:
    data, count = core.list_patrols(session, scope=scope, grid=grid, date_from=date_from, date_to=date_to,
                                    limit=page.limit, offset=page.offset)
    return {"data": data, "count": count}
