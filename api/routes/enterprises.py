from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, File, Query, Request, UploadFile
from pydantic import BaseModel, ConfigDict, Field

from api.deps import PageDep, ScopeDep, SessionDep, SettingsDep, WriterScope
from api.routes import ERROR_RESPONSES, refuse_nul
from gridmap import enterprises as core
from gridmap import ledgers
from gridmap.errors import InvalidFile, TooLarge
from gridmap.taxonomy import load_sectors

router = APIRouter(prefix="/api/v1", tags=["enterprises"], responses=ERROR_RESPONSES,
                   dependencies=[Depends(refuse_nul)])


class EnterpriseBase(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(None, max_length=200, description="企业名称")
    address: str | None = Field(None, max_length=400, description="地址")
    lon: float | None = Field(None, description="经度")
    lat: float | None = Field(None, description="纬度")
    coord_system: Literal["wgs84", "cgcs2000", "gcj02", "bd09"] | None = Field(None, description="坐标系")
    sector: str | None = Field(None, max_length=100, description="行业类别")
    scale: str | None = Field(None, max_length=20, description="规上/规下")
    risk_level: str | None = Field(None, max_length=20, description="风险等级")
    safety_class: str | None = Field(None, max_length=4, description="A/B/C")
    major_hazard_grade: int | None = Field(None, ge=1, le=4, description="重大危险源等级")
    department: str | None = Field(None, max_length=100, description="行业主管部门")


class EnterpriseCreate(EnterpriseBase):
    uscc: str = Field(..., min_length=18, max_length=24, description="统一社会信用代码")
    name: str = Field(..., min_length=1, max_length=200, description="企业名称")


class EnterpriseUpdate(EnterpriseBase):
    pass


class EnterprisePublic(BaseModel):
    uscc: str
    name: str
    address: str | None
    sector: str
    sector_raw: str | None
    scale: str | None
    risk_level: str | None
    safety_class: str | None
    major_hazard_grade: int | None
    department: str | None
    lon: float | None
    lat: float | None
    source_lon: float | None
    source_lat: float | None
    source_crs: str | None
    placement: str
    grid_code: str | None
    village_code: str | None
    township_code: str | None
    district_code: str | None
    placement_detail: dict


class FieldWarning(BaseModel):
    field: str
    reason_zh: str
    reason_en: str


class EnterpriseSaved(EnterprisePublic):
    """The saved enterprise and what was accepted with a warning (an unknown sector is
    kept as ``other`` with its raw value), as an import reports it."""

    warnings: list[FieldWarning]


class EnterprisesPublic(BaseModel):
    data: list[EnterprisePublic]
    count: int


class RejectedRow(BaseModel):
    row: int
    field: str
    reason_zh: str
    reason_en: str


class ImportSummary(BaseModel):
    rows: int
    added: int
    updated: int
    unchanged: int
    rejected_rows: int
    rejected: list[RejectedRow]
    warnings: list[RejectedRow]
    placements: dict[str, int]
    set_id: int | None


class LedgerCounts(BaseModel):
    total: int
    by_sector: dict[str, int]
    by_sector_zh: dict[str, int]
    by_risk: dict[str, int]
    by_risk_zh: dict[str, int]
    by_placement: dict[str, int]
    enterprises: list[EnterprisePublic]


class ChildCount(BaseModel):
    code: str
    name: str
    count: int


class GridLedger(LedgerCounts):
    code: str
    name: str
    level: str
    set_id: int
    by_child: list[ChildCount]


class DepartmentLedger(LedgerCounts):
    department: str
    by_township: dict[str, int]


def _values(body: BaseModel) -> dict:
    values = body.model_dump(exclude_unset=True)
    if "coord_system" in values:
        values["coord_system"] = values["coord_system"] or ""
    return values


@router.post("/enterprises/import", response_model=ImportSummary, summary="导入企业名录 / import a register (CSV/XLSX)")
def import_register(request: Request, session: SessionDep, settings: SettingsDep, scope: WriterScope,
                    file: Annotated[UploadFile, File(description="CSV 或 XLSX")],
                    crs: Annotated[Literal["wgs84", "cgcs2000", "gcj02", "bd09"] | None, Query()] = None) -> dict:
    suffix = Path(file.filename or "upload.csv").suffix.lower()
    if suffix not in (".csv", ".xlsx", ".txt"):
        raise InvalidFile("只接受 CSV 或 XLSX 文件", "only CSV or XLSX files are accepted")
    limit = settings.imports.max_upload_bytes
    with tempfile.TemporaryDirectory(prefix="gridmap-upload-") as tmp:
        target = Path(tmp) / f"upload{suffix}"
        written = 0
        with target.open("wb") as fh:
            while chunk := file.file.read(1 << 20):
                written += len(chunk)
                if written > limit:
                    raise TooLarge(f"上传文件超过上限 {limit} 字节", f"the upload exceeds the limit of {limit} bytes")
                fh.write(chunk)
        report = core.import_enterprises(session, target, crs=crs, settings=settings.imports,
                                         tolerance_m=settings.placement.snap_tolerance_m,
                                         write_rejects_file=False, scope=scope,
                                         sectors=load_sectors(settings.taxonomy.sectors_file))
    return report.as_dict()


@router.post("/enterprises", response_model=EnterpriseSaved, status_code=201, summary="新增企业 / create an enterprise")
def create_enterprise(body: EnterpriseCreate, session: SessionDep, settings: SettingsDep, scope: WriterScope) -> dict:
    return core.save_enterprise(session, _values(body), scope=scope,
                                tolerance_m=settings.placement.snap_tolerance_m,
                                sectors=load_sectors(settings.taxonomy.sectors_file))


@router.patch("/enterprises/{uscc}", response_model=EnterpriseSaved, summary="修改企业 / update an enterprise")
def update_enterprise(uscc: str, body: EnterpriseUpdate, session: SessionDep, settings: SettingsDep,
                      scope: WriterScope) -> dict:
    return core.save_enterprise(session, _values(body), scope=scope, uscc=uscc,
                                tolerance_m=settings.placement.snap_tolerance_m,
                                sectors=load_sectors(settings.taxonomy.sectors_file))


@router.get("/enterprises/{uscc}", response_model=EnterprisePublic, summary="企业档案 / one enterprise")
def get_enterprise(uscc: str, session: SessionDep, scope: ScopeDep) -> dict:
    return core.enterprise_detail(session, uscc, scope)


@router.get("/enterprises", response_model=EnterprisesPublic, summary="企业列表 / list enterprises")
def list_enterprises(session: SessionDep, scope: ScopeDep, page: PageDep,
                     grid: Annotated[str | None, Query(max_length=20, description="网格编码（含下级）")] = None,
                     placement: Annotated[Literal["exact", "snapped", "address", "ambiguous", "conflict", "unplaced"] | None, Query()] = None,
                     q: Annotated[str | None, Query(max_length=100, description="名称或统一社会信用代码")] = None,
                     sector: Annotated[str | None, Query(max_length=40)] = None,
                     risk_level: Annotated[Literal["major", "high", "medium", "low"] | None, Query()] = None,
                     department: Annotated[str | None, Query(max_length=100)] = None) -> dict:
    data, count = core.list_enterprises(session, scope=scope, grid=grid, placement=placement, q=q,
                                        sector=sector, risk_level=risk_level, department=department,
                                        limit=page.limit, offset=page.offset)
    return {"data": data, "count": count}


@router.get("/ledgers/township/{code}", response_model=GridLedger, summary="一镇一册 / township ledger")
def township_ledger(code: str, session: SessionDep, settings: SettingsDep, scope: ScopeDep, page: PageDep) -> dict:
    return ledgers.grid_ledger(session, code=code, level="township", scope=scope,
                               sectors=load_sectors(settings.taxonomy.sectors_file),
                               limit=page.limit, offset=page.offset)


@router.get("/ledgers/village/{code}", response_model=GridLedger, summary="一村一册 / village ledger")
def village_ledger(code: str, session: SessionDep, settings: SettingsDep, scope: ScopeDep, page: PageDep) -> dict:
    return ledgers.grid_ledger(session, code=code, level="village", scope=scope,
                               sectors=load_sectors(settings.taxonomy.sectors_file),
                               limit=page.limit, offset=page.offset)


@router.get("/ledgers/department/{name}", response_model=DepartmentLedger, summary="一部门一册 / department ledger")
def department_ledger(name: str, session: SessionDep, settings: SettingsDep, scope: ScopeDep, page: PageDep) -> dict:
    return ledgers.department_ledger(session, department=name, scope=scope,
                                     sectors=load_sectors(settings.taxonomy.sectors_file),
                                     limit=page.limit, offset=page.offset)
