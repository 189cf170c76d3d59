"""Dependencies every router uses: settings, session, current user, scope, paging."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Annotated

from fastapi import Depends, Query, Request
from fastapi.security import OAuth2PasswordBearer
from sqlalchemy.orm import Session

from gridmap.audit import set_context
from gridmap.auth import Scope, token_secret, user_from_token
from gridmap.boundaries import get_set
from gridmap.db import session_scope
from gridmap.errors import NotAuthenticated
from gridmap.models import BoundarySet, User
from gridmap.settings import Settings

oauth2 = OAuth2PasswordBearer(tokenUrl="/api/v1/auth/token", auto_error=False)


def get_settings(request: Request) -> Settings:
    return request.app.state.settings


def get_session(request: Request) -> Iterator[Session]:
    """One session per request: committed when the route returns, rolled back on error."""
    with session_scope(request.app.state.sessionmaker) as session:
        if request.method not in ("GET", "HEAD", "OPTIONS"):
            set_context(session, actor=f"anonymous@{_client(request)}", method=request.method,
                        route=_route(request), client=_client(request))
        yield session


SettingsDep = Annotated[Settings, Depends(get_settings)]


async def get_read_session(request: Request) -> AsyncIterator[Session]:
    """A session for read-only hot paths (map tiles): autocommit, so no BEGIN/COMMIT
    round trips, and created and closed without a worker-thread hop (neither touches
    the network for an autocommit connection)."""
    session: Session = request.app.state.read_sessionmaker()
    try:
        yield session
    finally:
        session.close()
# scope="function": commit before the response is sent, so a client that got 201 can
# read what it wrote on its next request, and a failed commit is an error, not a lost write.
SessionDep = Annotated[Session, Depends(get_session, scope="function")]
ReadSessionDep = Annotated[Session, Depends(get_read_session, scope="function")]


def _client(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def _route(request: Request) -> str:
    route = request.scope.get("route")
    return getattr(route, "path", None) or request.url.path


def get_current_user(request: Request, session: SessionDep, settings: SettingsDep,
                     token: Annotated[str | None, Depends(oauth2)]) -> User:
    if not token:
        raise NotAuthenticated("需要登录（Bearer 令牌）", "authentication required (Bearer token)")
    user = user_from_token(session, token, secret=token_secret(session, settings.auth))
    if request.method not in ("GET", "HEAD", "OPTIONS"):
        set_context(session, actor=user.username, actor_id=user.id, role=user.role, method=request.method,
                    route=_route(request), client=_client(request))
    return user


CurrentUser = Annotated[User, Depends(get_current_user)]


def get_scope(user: CurrentUser) -> Scope:
    """The one scope dependency: what the current user may see."""
    return Scope.of(user)


ScopeDep = Annotated[Scope, Depends(get_scope)]


def get_writer_scope(scope: ScopeDep) -> Scope:
    """Scope of a user allowed to write (403 for read-only roles)."""
    scope.require_write()
    return scope


WriterScope = Annotated[Scope, Depends(get_writer_scope)]


def get_admin_scope(scope: ScopeDep) -> Scope:
    scope.require_admin()
    return scope


AdminScope = Annotated[Scope, Depends(get_admin_scope)]


def get_boundary_set(session: SessionDep,
                     set_id: Annotated[int | None, Query(alias="set", ge=1, description="边界版本编号（默认为生效版本）/ boundary set id (default: active)")] = None) -> BoundarySet:
    return get_set(session, set_id)


BoundarySetDep = Annotated[BoundarySet, Depends(get_boundary_set)]


class Page:
    """``limit``/``offset`` paging with a hard cap."""

    def __init__(self, limit: Annotated[int, Query(ge=1, le=1000, description="每页条数 / page size")] = 100,
                 offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0) -> None:
        self.limit = limit
        self.offset = offset


PageDep = Annotated[Page, Depends(Page)]
