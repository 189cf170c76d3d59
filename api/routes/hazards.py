from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, File, Form, Path, Query, Request, UploadFile
from fastapi.responses import FileResponse
from pydantic import BaseModel, ConfigDict, Field

from api.deps import CurrentUser, PageDep, ScopeDep, SessionDep, SettingsDep, WriterScope
from api.routes import BIGINT_MAX, ERROR_RESPONSES, INTEGER_MAX, refuse_nul
from gridmap import hazards as core
from gridmap.taxonomy import Taxonomy, load_hazard_categories

router = APIRouter(prefix="/api/v1", tags=["hazards"], responses=ERROR_RESPONSES,
                   dependencies=[Depends(refuse_nul)])

HazardId = Annotated[int, Path(ge=1, le=BIGINT_MAX)]
Id = Annotated[int, Field(ge=1, le=BIGINT_MAX)]
State = Literal["reported", "filed", "dispatched", "rectifying", "verifying", "closed", "rejected"]
Crs = Literal["wgs84", "cgcs2000", "gcj02", "bd09"]


def configured_categories(settings: SettingsDep) -> Taxonomy:
    """The deployment's hazard taxonomy (``GRIDMAP_TAXONOMY_HAZARD_CATEGORIES_FILE``)."""
    return load_hazard_categories(settings.taxonomy.hazard_categories_file)


CategoriesDep = Annotated[Taxonomy, Depends(configured_categories)]


class HazardCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    lon: float | None = Field(None, description="经度")
    lat: float | None = Field(None, description="纬度")
    crs: Crs = Field("wgs84", description="坐标系")
    enterprise_uscc: str | None = Field(None, max_length=24, description="企业统一社会信用代码")
    category: str = Field(..., max_length=60, description="隐患类别")
    grade: Literal["general", "major"] = Field("general", description="一般/重大")
    source: Literal["inspection", "self_report", "public_report", "patrol"] = Field(
        "inspection", description="来源（public_report：工作人员代录的热线/来访举报）")
    description: str = Field(..., min_length=1, max_length=4000, description="描述")
    deadline: datetime | None = Field(None, description="整改期限（默认按等级；仅管理员和镇街领导可指定）")
    supervising_official: str | None = Field(None, max_length=100, description="督办人（重大隐患）")
    rectification_plan: str | None = Field(None, max_length=8000, description="整改方案（重大隐患）")


class TransitionBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    to: State
    note: str | None = Field(None, max_length=4000)
    attachments: list[Id] = Field(default_factory=list, max_length=20)
    duplicate_of: Id | None = None
    supervising_official: str | None = Field(None, max_length=100)
    rectification_plan: str | None = Field(None, max_length=8000)
    category: str | None = Field(None, max_length=60)
    grade: Literal["general", "major"] | None = None
    deadline: datetime | None = None
    version: int | None = Field(None, ge=1, le=INTEGER_MAX,
                                description="您看到的版本（可选）；已变化则 409 / the version you saw; 409 if it moved")


class HazardPublic(BaseModel):
    id: int
    status: str
    status_zh: str
    category: str
    grade: str
    source: str
    description: str
    deadline: datetime
    overdue: bool
    placement: str
    grid_code: str | None
    village_code: str | None
    township_code: str | None
    district_code: str | None
    source_lon: float | None
    source_lat: float | None
    source_crs: str | None
    supervising_official: str | None
    rectification_plan: str | None
    escalation_level: int
    duplicate_of: int | None
    created_at: datetime
    updated_at: datetime
    closed_at: datetime | None
    version: int


class HazardEventPublic(BaseModel):
    seq: int
    action: str
    from_status: str | None
    to_status: str | None
    actor: str
    at: datetime
    note: str | None
    attachment_ids: list[int]
    data: dict[str, Any]


class AttachmentPublic(BaseModel):
    id: int
    kind: str
    filename: str
    content_type: str
    size: int
    sha256: str
    uploaded_at: datetime
    hazard_version: int | None = Field(None, description="上传后隐患的版本 / the hazard's version after the upload")


class HazardDetail(HazardPublic):
    enterprise_uscc: str | None
    duplicates: list[int]
    events: list[HazardEventPublic]
    attachments: list[AttachmentPublic]


class HazardsPublic(BaseModel):
    data: list[HazardPublic]
    count: int


class Escalation(BaseModel):
    hazard_id: int
    level: int
    target_code: str
    target_name: str | None
    responsible: list[dict[str, Any]]
    deadline: str
    overdue_days: int


class Category(BaseModel):
    id: str
    zh: str
    en: str
    group: str | None
    group_zh: str


class TipoffReceipt(BaseModel):
    tracking_code: str
    status: str
    status_zh: str
    message: str


class TipoffStatus(BaseModel):
    tracking_code: str
    status: str
    status_zh: str
    updated_at: datetime


@router.get("/hazard-categories", response_model=list[Category], summary="隐患类别 / hazard categories")
def categories(scope: ScopeDep, taxonomy: CategoriesDep) -> list[dict]:
    return core.hazard_categories(taxonomy)


@router.post("/hazards", response_model=HazardDetail, status_code=201, summary="上报隐患 / report a hazard")
def create(body: HazardCreate, session: SessionDep, settings: SettingsDep, user: CurrentUser,
           scope: WriterScope, taxonomy: CategoriesDep) -> dict:
    hazard = core.create_hazard(session, body.model_dump(), actor=user, scope=scope, settings=settings.hazards,
                                tolerance_m=settings.placement.snap_tolerance_m, categories=taxonomy)
    return core.hazard_detail(session, hazard.id, scope)


@router.get("/hazards", response_model=HazardsPublic, summary="隐患列表 / list hazards")
def list_(session: SessionDep, scope: ScopeDep, page: PageDep,
          grid: Annotated[str | None, Query(max_length=20)] = None,
          status: Annotated[State | None, Query()] = None,
          overdue: Annotated[bool | None, Query()] = None,
          grade: Annotated[Literal["general", "major"] | None, Query()] = None) -> dict:
    data, count = core.list_hazards(session, scope=scope, grid=grid, status=status, overdue=overdue,
                                    grade=grade, limit=page.limit, offset=page.offset)
    return {"data": data, "count": count}


@router.get("/hazards/{hazard_id}", response_model=HazardDetail, summary="隐患详情与处置记录 / hazard with its events")
def detail(hazard_id: HazardId, session: SessionDep, scope: ScopeDep) -> dict:
    return core.hazard_detail(session, hazard_id, scope)


@router.post("/hazards/{hazard_id}/transition", response_model=HazardDetail, summary="流转 / move to the next state")
def move(hazard_id: HazardId, body: TransitionBody, session: SessionDep, user: CurrentUser, scope: WriterScope,
         settings: SettingsDep, taxonomy: CategoriesDep) -> dict:
    core.transition(session, hazard_id, to=body.to, actor=user, scope=scope, note=body.note,
                    attachment_ids=body.attachments, duplicate_of=body.duplicate_of,
                    supervising_official=body.supervising_official,
                    rectification_plan=body.rectification_plan, category=body.category,
                    grade=body.grade, deadline=body.deadline, version=body.version,
                    categories=taxonomy, settings=settings.hazards)
    return core.hazard_detail(session, hazard_id, scope)


@router.post("/hazards/{hazard_id}/attachments", response_model=AttachmentPublic, status_code=201,
             summary="上传附件（两照一表）/ upload an attachment")
def attach(hazard_id: HazardId, session: SessionDep, user: CurrentUser, scope: WriterScope, settings: SettingsDep,
           kind: Annotated[Literal["before_photo", "after_photo", "responsibility_sheet", "other"], Form()],
           file: Annotated[UploadFile, File()]) -> dict:
    attachment = core.add_attachment(session, hazard_id, kind=kind, filename=file.filename or "file",
                                     stream=file.file, actor=user, scope=scope, settings=settings.hazards)
    return core.attachment_public(session, attachment)


@router.get("/attachments/{attachment_id}", summary="下载附件 / download an attachment",
            response_class=FileResponse, responses={200: {"content": {"image/jpeg": {}, "image/png": {}, "application/pdf": {}}}})
def download(attachment_id: Annotated[int, Path(ge=1, le=BIGINT_MAX)], session: SessionDep, scope: ScopeDep, settings: SettingsDep) -> FileResponse:
    attachment, path = core.attachment_file(session, attachment_id, scope=scope, settings=settings.hazards)
    return FileResponse(path, media_type=attachment.content_type, filename=attachment.filename)


@router.post("/hazards/escalate", response_model=list[Escalation], summary="逾期升级 / escalate overdue hazards now")
def escalate(session: SessionDep, scope: WriterScope, settings: SettingsDep) -> list[dict]:
    scope.require_admin()
    return core.escalate_overdue(session, settings=settings.hazards, scope=scope)


@router.post("/reports", response_model=TipoffReceipt, status_code=201, summary="群众举报（无需登录）/ public tip-off")
def tipoff(request: Request, session: SessionDep, settings: SettingsDep, taxonomy: CategoriesDep,
           lon: Annotated[float, Form(description="经度")], lat: Annotated[float, Form(description="纬度")],
           description: Annotated[str, Form(min_length=1, max_length=2000, description="隐患描述")],
           crs: Annotated[Crs, Form(description="坐标系")] = "wgs84",
           contact: Annotated[str | None, Form(max_length=100, description="联系方式（可选）")] = None,
           photo: Annotated[UploadFile | None, File(description="照片（可选）")] = None) -> dict:
    from gridmap.auth import Scope

    client = request.client.host if request.client else "unknown"
    request.app.state.tipoff_limiter.take(client, zh="举报过于频繁", en="too many tip-offs from this address")
    hazard = core.submit_tipoff(session, lon=lon, lat=lat, crs=crs, description=description, contact=contact,
                                settings=settings.hazards, tolerance_m=settings.placement.snap_tolerance_m,
                                categories=taxonomy)
    if photo is not None and photo.filename:
        core.add_attachment(session, hazard.id, kind="before_photo", filename=photo.filename, stream=photo.file,
                            actor=None, scope=Scope.everything(), settings=settings.hazards, public=True)
    return {"tracking_code": hazard.tracking_code, "status": hazard.status,
            "status_zh": core.STATE_NAMES_ZH[hazard.status],
            "message": "已收到举报，请保存查询码以查看处理进度 / received; keep the tracking code to follow it"}


@router.get("/reports/{tracking_code}", response_model=TipoffStatus, summary="举报进度查询 / tip-off status")
def tipoff_status(tracking_code: str, request: Request, session: SessionDep) -> dict:
    client = request.client.host if request.client else "unknown"
    request.app.state.lookup_limiter.take(client, zh="查询过于频繁", en="too many lookups from this address")
    return core.tipoff_status(session, tracking_code)
