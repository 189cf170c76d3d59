"""One place that maps errors to HTTP answers.

:class:`~gridmap.errors.GridmapError` subclasses carry their status; request validation
errors become a 422 with a one-line message (pydantic's English, and Chinese for the
common error types); a database that went away, or was never migrated, is a 503; anything
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

from gridmap.db import is_connection_error, is_missing_table, schema_missing
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


#: pydantic error types in Chinese (``{name}`` from the error's ``ctx``); the English
#: half of a message keeps pydantic's own text.
_PYDANTIC_ZH = {
    "missing": "缺少必填项",
    "extra_forbidden": "不允许的字段",
    "int_parsing": "应为整数", "int_type": "应为整数", "int_from_float": "应为整数",
    "float_parsing": "应为数字", "float_type": "应为数字", "finite_number": "应为有限的数字",
    "decimal_parsing": "应为数字", "decimal_type": "应为数字",
    "bool_parsing": "应为布尔值（true/false）", "bool_type": "应为布尔值（true/false）",
    "string_type": "应为字符串", "bytes_type": "应为字符串",
    "string_too_short": "至少 {min_length} 个字符", "string_too_long": "最多 {max_length} 个字符",
    "string_pattern_mismatch": "格式不符合要求", "string_unicode": "应为有效的 Unicode 字符串",
    "too_short": "至少 {min_length} 项", "too_long": "最多 {max_length} 项",
    "greater_than": "应大于 {gt}", "greater_than_equal": "应大于或等于 {ge}",
    "less_than": "应小于 {lt}", "less_than_equal": "应小于或等于 {le}",
    "multiple_of": "应为 {multiple_of} 的倍数",
    "literal_error": "应为以下之一：{expected}", "enum": "应为以下之一：{expected}",
    "date_parsing": "应为日期（YYYY-MM-DD）", "date_type": "应为日期（YYYY-MM-DD）",
    "date_from_datetime_parsing": "应为日期（YYYY-MM-DD）",
    "datetime_parsing": "应为日期时间（ISO 8601）", "datetime_type": "应为日期时间（ISO 8601）",
    "datetime_from_date_parsing": "应为日期时间（ISO 8601）",
    "uuid_parsing": "应为 UUID", "uuid_type": "应为 UUID",
    "json_invalid": "JSON 格式不正确", "json_type": "应为 JSON",
    "dict_type": "应为对象", "model_type": "应为对象", "model_attributes_type": "应为对象",
    "list_type": "应为列表", "tuple_type": "应为列表", "set_type": "应为列表",
    "url_parsing": "应为网址", "url_type": "应为网址",
    "value_error": "取值不正确", "assertion_error": "取值不正确",
}


def _problem_zh(error: dict) -> str:
    """The Chinese for one pydantic error (a generic phrase for unknown types)."""
    template = _PYDANTIC_ZH.get(error.get("type", ""), "取值不正确")
    ctx = dict(error.get("ctx") or {})
    if isinstance(ctx.get("expected"), str):  # "'a', 'b' or 'c'"
        ctx["expected"] = ctx["expected"].replace(" or ", " 或 ")
    try:
        return template.format(**ctx)
    except (KeyError, IndexError, ValueError):
        return "取值不正确"


def _validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
    problems = []
    for err in exc.errors():
        where = ".".join(str(p) for p in err.get("loc", ()) if p not in ("body", "query", "path"))
        problems.append({"field": where, "problem": err.get("msg", "invalid"), "problem_zh": _problem_zh(err)})
    first = problems[0] if problems else {"field": "", "problem": "invalid", "problem_zh": "取值不正确"}
    if first["field"]:
        zh = f"参数 {first['field']} 不正确：{first['problem_zh']}"
        en = f"invalid parameter {first['field']}: {first['problem']}"
    else:
        zh, en = f"请求体不正确：{first['problem_zh']}", f"invalid request body: {first['problem']}"
    return JSONResponse(error_body("invalid_input", zh, en, problems), status_code=422)


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
    if is_missing_table(exc):
        log.error("database schema missing", exc_info=exc)
        missing = schema_missing()
        return JSONResponse(error_body("database_not_migrated", missing.zh, missing.en), status_code=503)
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
