"""Routers, one module per resource; each route calls one gridmap function.

What every router shares: the error answers it documents (:data:`ERROR_RESPONSES`, the
body :mod:`api.errors` writes), :func:`refuse_nul`, a router dependency, and the bounds
of ids.
"""

from __future__ import annotations

from typing import Any

from fastapi import Request
from pydantic import BaseModel

from gridmap.errors import InvalidInput

#: Ids are PostgreSQL ``bigint`` (plans ``integer``): a larger number names nothing, and
#: must not reach SQL, where it fails as out of range (a 500).
BIGINT_MAX = 2**63 - 1
INTEGER_MAX = 2**31 - 1


class ErrorBody(BaseModel):
    """Every 4xx/5xx answer: a code, and a one-line message in Chinese and English."""

    error: str
    message: str
    message_zh: str
    message_en: str
    detail: Any | None = None


_ERRORS = {400: "参数错误 / bad parameter", 401: "需要登录 / not authenticated", 403: "无权操作 / forbidden",
           404: "不存在或不在管辖范围内 / not found or outside the caller's scope",
           409: "与当前状态冲突 / conflicts with the current state", 413: "超过上限 / too large",
           422: "输入无效 / invalid input", 429: "请求过于频繁 / too many requests",
           503: "数据库暂不可用或查询超时 / database unavailable or query timed out"}
#: ``responses=`` of every router: the error answers, with their real body.
ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorBody, "description": description} for status, description in _ERRORS.items()}


async def refuse_nul(request: Request) -> None:
    """Refuse a NUL character in the path, the query or a JSON/form body (422).

    PostgreSQL text cannot hold NUL; without this check such a value reaches the driver
    and fails there, as a 500.
    """
    values = [request.scope.get("path", "")]
    values += [part for item in request.query_params.multi_items() for part in item]
    if request.method in ("POST", "PUT", "PATCH"):
        content_type = request.headers.get("content-type", "")
        if "json" in content_type and b"\\u0000" in await request.body():
            values.append("\x00")
        elif content_type.startswith(("multipart/form-data", "application/x-www-form-urlencoded")):
            form = await request.form()
            values += [part for key, value in form.multi_items() for part in (key, value) if isinstance(part, str)]
    if any("\x00" in value for value in values):
        raise InvalidInput("请求含有空字符（NUL）", "the request contains a NUL character")
