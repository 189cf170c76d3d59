from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends
from pydantic import BaseModel, ConfigDict

from api.deps import BoundarySetDep, ScopeDep, SessionDep, SettingsDep, WriterScope
from api.routes import ERROR_RESPONSES, refuse_nul
from gridmap.coverage import coverage_report, store_report

router = APIRouter(prefix="/api/v1", tags=["coverage"], responses=ERROR_RESPONSES,
                   dependencies=[Depends(refuse_nul)])


class CoverageFeature(BaseModel):
    type: str
    id: str
    properties: dict[str, Any]
    geometry: dict[str, Any]


class AreaSection(BaseModel):
    area_m2: float
    count: int
    features: list[CoverageFeature]


class SliverKind(BaseModel):
    count: int
    area_m2: float


class Slivers(SliverKind):
    tolerance_m2: float
    by_kind: dict[str, SliverKind]


class VillageUnderstaffed(BaseModel):
    code: str
    name: str
    township_code: str | None
    patrol_officers: int
    required: int


class StaffingFailure(BaseModel):
    rule: str
    part: str
    required: int
    actual: int


class TownshipUnderstaffed(BaseModel):
    code: str
    name: str
    population: int | None
    enterprises: int
    safety_staff: int
    full_time: int
    certified: int
    director: bool
    rules: list[str]
    failures: list[StaffingFailure]


class EnterpriseIssue(BaseModel):
    uscc: str
    name: str
    placement_detail: dict[str, Any]
    grid_code: str | None
    home_code: str | None


class EnterpriseCoverage(BaseModel):
    total: int
    by_placement: dict[str, int]
    unplaced: list[EnterpriseIssue]
    snapped: list[EnterpriseIssue]
    ambiguous: list[EnterpriseIssue]
    conflict: list[EnterpriseIssue]


class StaleGrid(BaseModel):
    code: str
    name: str
    level: str
    last_activity: str | None


class Stale(BaseModel):
    available: bool
    days: int
    grids: list[StaleGrid]


class GridScore(BaseModel):
    code: str
    name: str
    level: str
    parent_code: str | None
    score: float
    status: str
    penalties: dict[str, float]


class CoverageSummary(BaseModel):
    model_config = ConfigDict(extra="allow")
    grids: int
    parents_checked: int
    ok: int
    warning: int
    problem: int


class CoverageReport(BaseModel):
    code: str
    name: str
    level: str
    set_id: int
    generated_at: str
    standards: dict[str, Any]
    score: float
    status: str
    score_formula: dict[str, Any]
    summary: CoverageSummary
    gaps: AreaSection
    overlaps: AreaSection
    outside_parent: AreaSection
    slivers: Slivers
    no_first_responsible: list[str]
    villages_understaffed: list[VillageUnderstaffed]
    townships_understaffed: list[TownshipUnderstaffed]
    enterprises: EnterpriseCoverage
    stale: Stale
    grids: list[GridScore]


@router.get("/coverage/{code}", response_model=CoverageReport,
            summary="覆盖检查 / coverage report of a grid and its subtree")
def coverage(code: str, session: SessionDep, scope: ScopeDep, settings: SettingsDep,
             boundary_set: BoundarySetDep) -> dict:
    return coverage_report(session, code, set_id=boundary_set.id, scope=scope,
                           settings=settings.coverage)


class StoredCoverage(BaseModel):
    code: str
    set_id: int
    score: float
    status: str
    grids: int
    problems: int


@router.post("/coverage/{code}/refresh", response_model=StoredCoverage,
             summary="重新检查并更新地图着色 / recompute and keep the scores the map colours by")
def refresh(code: str, session: SessionDep, scope: WriterScope, settings: SettingsDep,
            boundary_set: BoundarySetDep) -> dict:
    report = coverage_report(session, code, set_id=boundary_set.id, scope=scope, settings=settings.coverage)
    stored = store_report(session, report)
    return {"code": report["code"], "set_id": report["set_id"], "score": report["score"],
            "status": report["status"], **stored}
