from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel

from api.deps import AdminScope, PageDep, SessionDep
from api.routes import ERROR_RESPONSES, refuse_nul
from gridmap.audit import list_audit

router = APIRouter(prefix="/api/v1", tags=["audit"], responses=ERROR_RESPONSES,
                   dependencies=[Depends(refuse_nul)])


class AuditEntry(BaseModel):
    id: int
    at: datetime
    actor: str
    actor_id: int | None
    role: str | None
    method: str | None
    route: str | None
    client: str | None
    action: str
    object_type: str
    object_id: str | None
    before: dict[str, Any] | None
    after: dict[str, Any] | None


class AuditPage(BaseModel):
    data: list[AuditEntry]
    count: int


@router.get("/audit", response_model=AuditPage, summary="审计日志（管理员）/ audit log (admins)")
def audit_log(session: SessionDep, scope: AdminScope, page: PageDep,
              object_type: Annotated[str | None, Query(max_length=40)] = None,
              object_id: Annotated[str | None, Query(max_length=64)] = None,
              actor: Annotated[str | None, Query(max_length=100)] = None,
              since: Annotated[datetime | None, Query(alias="from")] = None,
              until: Annotated[datetime | None, Query(alias="to")] = None) -> dict:
    data, count = list_audit(session, scope=scope, object_type=object_type, object_id=object_id, actor=actor,
                             since=since, until=until, limit=page.limit, offset=page.offset)
    return {"data": data, "count": count}
