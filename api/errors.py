"""One place that maps errors to HTTP answers.

:class:`~gridmap.errors.GridmapError` subclasses carry their status; request validation
errors become a 422 with a one-line message; a database that went away is a 503; anything
else is a 500 with a generic message (details only in the log).
"""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.exceptions import HTTPException as StarletteHTTPException

from gridmap.db import is_connection_error
from gridmap.errors import GridmapError

log = logging.getLogger("gridmap.api")


def error_body(code: str, zh: str, en: str, detail: object | None = None) -> dict:
    body = {"error": code, "message": f"{zh} / {en}", "message_zh": zh, "message_en": en}
    if detail is not None:
        body["detail"] = detail
    return body


def _gridmap_error(request: Request, exc: GridmapError) -> JSONResponse:
    headers = {"WWW-Authenticate": "Bearer"} if exc.status_code == 401 else None
    return JSONResponse(error_body(exc.code, exc.zh, exc.en, exc.detail),
                        status_code=exc.status_code, headers=headers)


def _validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
    problems = []
    for err in exc.errors():
        where = ".".join(str(p) for p in err.get("loc", ()) if p not in ("body", "query", "path"))
        problems.append({"field": where, "problem": err.get("msg", "invalid")})
    first = problems[0] if problems else {"field": "", "problem": "invalid"}
    return JSONResponse(
        error_body("invalid_input", f"参数 {first['field']} 不正确：{first['problem']}",
                   f"invalid parameter {first['field']}: {first['problem']}", problems),
        status_code=422,
    )


def _http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
    messages = {404: ("不存在", "not found"), 405: ("不支持该方法", "method not allowed"),
                401: ("需要登录", "not authenticated"), 413: ("请求过大", "request too large")}
    zh, en = messages.get(exc.status_code, ("请求错误", str(exc.detail)))
    return JSONResponse(error_body("http_error", zh, en), status_code=exc.status_code,
                        headers=getattr(exc, "headers", None))


def _database_error(request: Request, exc: Exception) -> JSONResponse:
    if isinstance(exc, PoolTimeout) or (isinstance(exc, DBAPIError) and is_connection_error(exc)):
        log.warning("database unavailable: %s", type(exc).__name__)
        return JSONResponse(
            error_body("database_unavailable", "数据库暂时不可用，请稍后重试",
                       "the database is temporarily unavailable; retry shortly"),
            status_code=503, headers={"Retry-After": "2"})
    sqlstate = getattr(getattr(exc, "orig", None), "sqlstate", "") or ""
    if sqlstate == "57014":  # query_canceled: statement_timeout
        return JSONResponse(error_body("timeout", "查询超时，请缩小范围", "the query timed out; narrow it"),
                            status_code=503)
    log.error("database error", exc_info=exc)
    return JSONResponse(error_body("internal", "服务器内部错误", "internal server error"), status_code=500)


def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    log.error("unexpected error on %s %s", request.method, request.url.path, exc_info=exc)
    return JSONResponse(error_body("internal", "服务器内部错误", "internal server error"), status_code=500)


def add_exception_handlers(app: FastAPI) -> None:
    app.add_exception_handler(GridmapError, _gridmap_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(OperationalError, _database_error)
    app.add_exception_handler(DBAPIError, _database_error)
    app.add_exception_handler(PoolTimeout, _database_error)
    app.add_exception_handler(Exception, _unexpected)
