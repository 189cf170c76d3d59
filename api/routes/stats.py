"""Assessment statistics (考核) per township and village, with the township ranking."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, ConfigDict, Field

from api.deps import ScopeDep, SessionDep, SettingsDep
from api.routes import ERROR_RESPONSES, refuse_nul
from gridmap.stats import assessment

router = APIRouter(prefix="/api/v1", tags=["stats"], responses=ERROR_RESPONSES,
                   dependencies=[Depends(refuse_nul)])


class Column(BaseModel):
    key: str
    zh: str
    en: str


class GradeLabel(BaseModel):
    zh: str
    en: str


class Thresholds(BaseModel):
    green_rate: float
    yellow_rate: float


class StatsRow(BaseModel):
    code: str
    name: str | None
    level: str | None
    enterprises_inspected: int
    inspections: int
    hazards_found: int
    hazards_general: int
    hazards_major: int
    rectified: int
    closed_of_found: int
    rectification_rate: float | None
    overdue: int
    cases_filed: int
    fines: float
    plan_selected: int
    plan_inspected: int
    plan_completion: float | None
    grade: str


class TownshipRow(StatsRow):
    rank: int


class VillageRow(StatsRow):
    township_code: str


class Assessment(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    code: str
    name: str
    level: str
    set_id: int
    date_from: date = Field(alias="from")
    date_to: date = Field(alias="to", description="不含 / exclusive")
    generated_at: datetime
    thresholds: Thresholds
    columns: list[Column]
    grades: dict[str, GradeLabel]
    total: StatsRow
    townships: list[TownshipRow]
    villages: list[VillageRow]


@router.get("/stats/{code}", response_model=Assessment,
            summary="考核统计与街镇排名 / assessment figures and township ranking")
def stats(code: str, session: SessionDep, scope: ScopeDep, settings: SettingsDep,
          date_from: Annotated[date | None, Query(alias="from", description="起始日期（含，默认本年 1 月 1 日）")] = None,
          date_to: Annotated[date | None, Query(alias="to", description="截止日期（不含，默认次年 1 月 1 日）")] = None) -> dict:
    return assessment(session, code, scope=scope, settings=settings.stats, date_from=date_from, date_to=date_to)
