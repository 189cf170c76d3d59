"""Inspections (执法检查) and inspection plans with the double-random draw (双随机)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Path, Query
from pydantic import BaseModel, ConfigDict, Field

from api.deps import CurrentUser, PageDep, ScopeDep, SessionDep, SettingsDep, WriterScope
from api.routes import BIGINT_MAX, ERROR_RESPONSES, INTEGER_MAX, refuse_nul
from api.routes.hazards import CategoriesDep
from gridmap import inspections as core

router = APIRouter(prefix="/api/v1", tags=["inspections"], responses=ERROR_RESPONSES,
                   dependencies=[Depends(refuse_nul)])

PlanId = Annotated[int, Path(ge=1, le=INTEGER_MAX)]


class FoundHazard(BaseModel):
    model_config = ConfigDict(extra="forbid")

    category: str = Field(..., max_length=60, description="隐患类别")
    grade: Literal["general", "major"] = Field("general", description="一般/重大")
    description: str = Field(..., min_length=1, max_length=4000, description="描述")
    deadline: datetime | None = Field(None, description="整改期限（默认自检查日起按等级）")
    supervising_official: str | None = Field(None, max_length=100, description="督办人（重大隐患）")
    rectification_plan: str | None = Field(None, max_length=8000, description="整改方案（重大隐患）")


class InspectionCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    enterprise_uscc: str = Field(..., min_length=1, max_length=24, description="企业统一社会信用代码")
    inspected_on: datetime | None = Field(None, description="检查时间（默认现在；无时区按北京时间）")
    inspectors: list[Annotated[int, Field(ge=1, le=BIGINT_MAX)]] = Field(..., max_length=20, description="持证执法人员编号（至少 2 名）")
    findings: str | None = Field(None, max_length=8000, description="检查情况")
    case_filed: bool = Field(False, description="是否立案")
    fine_amount: float = Field(0.0, ge=0, allow_inf_nan=False, description="罚款金额（元）")
    plan_id: int | None = Field(None, ge=1, le=INTEGER_MAX, description="所属检查计划")
    hazards: list[FoundHazard] = Field(default_factory=list, max_length=100, description="发现的隐患")


class PersonRef(BaseModel):
    id: int
    name: str
    certificate_no: str | None


class HazardRef(BaseModel):
    id: int
    status: str
    grade: str
    category: str
    description: str
    deadline: datetime


class InspectionPublic(BaseModel):
    id: int
    enterprise_uscc: str
    enterprise_name: str
    plan_id: int | None
    inspected_on: datetime
    grid_code: str | None
    home_code: str | None
    district_code: str | None
    findings: str | None
    case_filed: bool
    fine_amount: float
    inspectors: list[PersonRef]
    hazards: list[HazardRef]
    created_at: datetime


class InspectionsPublic(BaseModel):
    data: list[InspectionPublic]
    count: int


class PlanCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    township_code: str = Field(..., max_length=20, description="街道/镇（或区级直辖网格）编码")
    period: str = Field(..., max_length=7, description="周期：2026 或 2026Q3")
    name: str = Field(..., min_length=1, max_length=200, description="计划名称")
    share: float = Field(0.2, gt=0, le=1, description="抽查比例")
    usccs: list[str] | None = Field(None, max_length=100_000, description="检查对象（默认：该镇全部已落格企业）")


class DrawBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    share: float | None = Field(None, gt=0, le=1, description="抽查比例（默认按计划）")
    seed: int | None = Field(None, ge=0, lt=2**63, description="随机种子（默认随机生成并记录）")
    force: bool = Field(False, description="重新抽取（仅管理员，且尚无检查记录）")


class PlanSummary(BaseModel):
    id: int
    township_code: str
    township_name: str | None
    district_code: str
    period: str
    period_start: date
    period_end: date
    name: str
    share: float
    status: str
    seed: str | None = Field(description="随机种子（十进制字符串）/ the seed, as a decimal string")
    drawn_at: datetime | None
    created_at: datetime
    targets_count: int
    selected_count: int
    inspected_count: int
    completion: float | None


class PlanTargetPublic(BaseModel):
    uscc: str
    name: str
    grid_code: str | None
    village_code: str | None
    selected: bool
    inspector_a: PersonRef | None
    inspector_b: PersonRef | None
    inspection_ids: list[int]


class PlanDetail(PlanSummary):
    targets: list[PlanTargetPublic]
    pool: list[int] | None = Field(description="抽取时的持证执法人员库（人员编号，按抽取顺序）/ the draw's "
                                               "inspector pool, person ids in draw order")


class PlansPublic(BaseModel):
    data: list[PlanSummary]
    count: int


@router.post("/inspections", response_model=InspectionPublic, status_code=201,
             summary="记录执法检查 / record an inspection")
def create_inspection(body: InspectionCreate, session: SessionDep, settings: SettingsDep, user: CurrentUser,
                      scope: WriterScope, taxonomy: CategoriesDep) -> dict:
    values = body.model_dump()
    values["hazards"] = [h.model_dump() for h in body.hazards]
    inspection = core.create_inspection(session, values, actor=user, scope=scope, hazard_settings=settings.hazards,
                                        categories=taxonomy)
    return core.inspection_detail(session, inspection.id, scope)


@router.get("/inspections", response_model=InspectionsPublic, summary="执法检查列表 / list inspections")
def list_inspections(session: SessionDep, scope: ScopeDep, page: PageDep,
                     grid: Annotated[str | None, Query(max_length=20, description="网格编码")] = None,
                     date_from: Annotated[date | None, Query(alias="from", description="起始日期（含）")] = None,
                     date_to: Annotated[date | None, Query(alias="to", description="截止日期（不含）")] = None) -> dict:
    data, count = core.list_inspections(session, scope=scope, grid=grid, date_from=date_from, date_to=date_to,
                                        limit=page.limit, offset=page.offset)
    return {"data": data, "count": count}


@router.get("/inspections/{inspection_id}", response_model=InspectionPublic,
            summary="执法检查详情 / an inspection")
def inspection(inspection_id: Annotated[int, Path(ge=1, le=BIGINT_MAX)], session: SessionDep, scope: ScopeDep) -> dict:
    return core.inspection_detail(session, inspection_id, scope)


@router.post("/plans", response_model=PlanDetail, status_code=201, summary="新建检查计划 / create a plan")
def create_plan(body: PlanCreate, session: SessionDep, scope: WriterScope) -> dict:
    plan = core.create_plan(session, body.model_dump(), scope=scope)
    return core.plan_detail(session, plan.id, scope)


@router.get("/plans", response_model=PlansPublic, summary="检查计划列表 / list plans")
def list_plans(session: SessionDep, scope: ScopeDep, page: PageDep,
               township: Annotated[str | None, Query(max_length=20, description="街道/镇编码")] = None) -> dict:
    data, count = core.list_plans(session, scope=scope, township=township, limit=page.limit, offset=page.offset)
    return {"data": data, "count": count}


@router.get("/plans/{plan_id}", response_model=PlanDetail,
            summary="检查计划：对象、抽取结果、执法人员、完成率 / a plan with its draw")
def plan(plan_id: PlanId, session: SessionDep, scope: ScopeDep) -> dict:
    return core.plan_detail(session, plan_id, scope)


@router.post("/plans/{plan_id}/draw", response_model=PlanDetail,
             summary="双随机抽取 / double-random draw")
def draw(plan_id: PlanId, session: SessionDep, scope: WriterScope, body: DrawBody | None = None) -> dict:
    body = body or DrawBody()
    core.draw_plan(session, plan_id, scope=scope, share=body.share, seed=body.seed, force=body.force)
    return core.plan_detail(session, plan_id, scope)
