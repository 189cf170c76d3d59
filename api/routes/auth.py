from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.security import OAuth2PasswordRequestForm
from pydantic import BaseModel

from api.deps import CurrentUser, SessionDep, SettingsDep
from api.routes import ERROR_RESPONSES, refuse_nul
from gridmap.auth import authenticate, issue_token, token_secret

router = APIRouter(prefix="/api/v1/auth", tags=["auth"], responses=ERROR_RESPONSES,
                   dependencies=[Depends(refuse_nul)])


class Token(BaseModel):
    access_token: str
    token_type: str = "bearer"
    role: str
    scope: str | None
    username: str


class Me(BaseModel):
    username: str
    role: str
    scope: str | None


@router.post("/token", response_model=Token, summary="登录取令牌 / log in (OAuth2 password form)")
def login(request: Request, session: SessionDep, settings: SettingsDep,
          form: Annotated[OAuth2PasswordRequestForm, Depends()]) -> Token:
    limiter = request.app.state.login_limiter
    client = request.client.host if request.client else "unknown"
    limiter.check(form.username, client)
    try:
        user = authenticate(session, form.username, form.password)
    except Exception:
        limiter.failed(form.username, client)
        raise
    limiter.succeeded(form.username, client)
    token = issue_token(user, secret=token_secret(session, settings.auth), settings=settings.auth)
    return Token(access_token=token, role=user.role, scope=user.scope_code, username=user.username)


@router.get("/me", response_model=Me, summary="当前用户 / who am I")
def me(user: CurrentUser) -> Me:
    return Me(username=user.username, role=user.role, scope=user.scope_code)
