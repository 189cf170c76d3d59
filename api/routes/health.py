from __future__ import annotations

from fastapi import APIRouter, Depends
from pydantic import BaseModel
from sqlalchemy import text

from api.deps import SessionDep
from api.routes import ERROR_RESPONSES, refuse_nul

router = APIRouter(tags=["health"], responses=ERROR_RESPONSES,
                   dependencies=[Depends(refuse_nul)])


class Health(BaseModel):
    status: str
    database: str
    postgis: str
    active_boundary_set: int | None


@router.get("/healthz", response_model=Health, summary="健康检查 / health check")
def healthz(session: SessionDep) -> Health:
    row = session.execute(text(
        "SELECT current_setting('server_version'), postgis_lib_version(),"
        " (SELECT id FROM boundary_set WHERE status = 'active')"
    )).one()
    return Health(status="ok", database=f"PostgreSQL {row[0]}", postgis=row[1], active_boundary_set=row[2])
