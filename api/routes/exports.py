"""GIS exports for higher authorities: ``GET /api/v1/exports/{code}.{format}``.

The export is written to a private temporary directory, then streamed; the directory is
removed once the response has been sent (or at once when the export fails). Scope:
a code outside the caller's scope is 404; the read-only ``authority`` role may export.
"""

from __future__ import annotations

import re
import shutil
import tempfile
from pathlib import Path as FilePath
from typing import Annotated, Literal
from urllib.parse import quote

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import FileResponse
from starlette.background import BackgroundTask

from api.deps import ScopeDep, SessionDep, SettingsDep
from api.routes import ERROR_RESPONSES, refuse_nul
from gridmap.export import MEDIA_TYPES, ExportSettings, export, load_export_settings
from gridmap.exports.catalogue import Labels

router = APIRouter(prefix="/api/v1", tags=["exports"], responses=ERROR_RESPONSES,
                   dependencies=[Depends(refuse_nul)])

_FILE_TYPES = {media: {} for media in dict.fromkeys(MEDIA_TYPES.values())}


def export_settings(request: Request) -> ExportSettings:
    """The export limits: ``app.state.export_settings`` when the app sets them (tests do),
    else the environment's (``GRIDMAP_EXPORT_…``)."""
    return getattr(request.app.state, "export_settings", None) or load_export_settings()


def content_disposition(filename: str) -> str:
    """``attachment`` with an ASCII fallback name and the UTF-8 name (RFC 6266 / 5987).

    >>> content_disposition("320382_邳州市_20261122.gpkg")
    'attachment; filename="320382_20261122.gpkg"; filename*=UTF-8\\'\\'320382_%E9%82%B3%E5%B7%9E%E5%B8%82_20261122.gpkg'
    """
    fallback = re.sub(r"[^A-Za-z0-9.\-]+", "_", filename)
    fallback = re.sub(r"_+(?=[._])|_{2,}", "", fallback).strip("_") or "export"
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(filename, safe='')}"


@router.get(
    "/exports/{code}.{fmt}",
    summary="导出 GIS 数据 / export GIS data (GeoPackage, Shapefile, GeoJSON, KML, CSV, XLSX)",
    response_class=FileResponse,
    responses={200: {"content": _FILE_TYPES, "description": "the file (zip for Shapefile and multi-layer CSV/GeoJSON)"},
               404: {"description": "code unknown or outside the caller's scope"},
               413: {"description": "more rows than the export limit"}},
)
def export_file(
    request: Request,
    session: SessionDep,
    scope: ScopeDep,
    settings: SettingsDep,
    code: Annotated[str, Path(max_length=20, description="网格编码（导出其下级全部）/ grid code (its subtree is exported)")],
    fmt: Annotated[Literal["gpkg", "shp", "geojson", "kml", "csv", "xlsx"], Path(description="格式 / format")],
    set_id: Annotated[int | None, Query(alias="set", ge=1, description="边界版本（默认生效版本）/ boundary set")] = None,
    layers: Annotated[str | None, Query(max_length=80, description="grids,persons,enterprises,hazards（默认全部 / default all）")] = None,
    crs: Annotated[Literal["4490", "4326"] | None, Query(description="4490（CGCS2000，默认）或 4326；GeoJSON/KML 固定 4326")] = None,
    lang: Annotated[Literal["zh", "en"], Query(description="CSV/XLSX 表头语言 / header language")] = "zh",
    book: Annotated[Literal["township", "village", "department"] | None, Query(description="XLSX 台账：一镇一册/一村一册/一部门一册")] = None,
) -> FileResponse:
    folder = tempfile.mkdtemp(prefix="gridmap-export-")
    try:
        result = export(session, code, fmt, FilePath(folder) / f"export.{fmt}", scope=scope, set_id=set_id,
                        layers=layers, crs=crs, lang=lang, book=book, settings=export_settings(request),
                        labels=Labels.load(settings.taxonomy.sectors_file, settings.taxonomy.hazard_categories_file))
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    return FileResponse(result.path, media_type=result.media_type,
                        headers={"Content-Disposition": content_disposition(result.filename),
                                 "Cache-Control": "no-store"},
                        background=BackgroundTask(shutil.rmtree, folder, ignore_errors=True))
