"""Accounts, passwords, bearer tokens and scope.

Roles: ``admin`` (command centre, everything), ``township_leader`` and ``grid_staff``
(scoped to one grid's subtree), ``authority`` (read-only: views and exports; optionally
scoped to a district). A scope is a grid code; because child codes extend their
parent's, "inside the scope" is "the code starts with the scope code" — except for a
micro-grid or direct-grid scope, which has no children and matches its own code only.

Passwords are hashed with scrypt (``hashlib``, memory-hard, no extra dependency); tokens
are HS256 JWTs naming the user id, checked against the database on every request so a
disabled user or a changed scope takes effect at once.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import jwt
from sqlalchemy import select, text
from sqlalchemy.orm import Session

from gridmap.boundaries import active_set
from gridmap.codes import has_subtree, level_of_code, validate_code, within
from gridmap.errors import Conflict, Forbidden, InvalidInput, NotAuthenticated, NotFound
from gridmap.models import USER_ROLES, AppSecret, Grid, User
from gridmap.settings import AuthSettings

_SCRYPT = {"n": 2**14, "r": 8, "p": 1}
#: Roles that may change data. ``authority`` is read-only everywhere.
WRITE_ROLES = ("admin", "township_leader", "grid_staff")
_SCOPE_LEVELS = {
    "township_leader": ("township", "direct"),
    "grid_staff": ("township", "direct", "village", "micro"),
    "authority": ("district",),
}


def hash_password(password: str) -> str:
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, dklen=32, **_SCRYPT)
    return "scrypt${n}${r}${p}${salt}${hash}".format(
        **_SCRYPT, salt=base64.b64encode(salt).decode(), hash=base64.b64encode(digest).decode()
    )


def verify_password(password: str, stored: str) -> bool:
    try:
        scheme, n, r, p, salt, expected = stored.split("$")
        if scheme != "scrypt":
            return False
        digest = hashlib.scrypt(password.encode(), salt=base64.b64decode(salt), dklen=32,
                                n=int(n), r=int(r), p=int(p))
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(digest, base64.b64decode(expected))


# A hash to compare against when the user does not exist, so a wrong username takes as
# long as a wrong password.
_DUMMY_HASH = hash_password(secrets.token_hex(8))


def create_user(session: Session, username: str, *, role: str, password: str,
                scope: str | None = None, settings: AuthSettings | None = None) -> User:
    """Add a login. Scoped roles need a scope that exists in the active boundary set."""
    settings = settings or AuthSettings()
    username = username.strip()
    if not username or len(username) > 64 or any(c.isspace() for c in username):
        raise InvalidInput("用户名不能为空、过长或含空格", "username must be 1-64 characters without spaces")
    if role not in USER_ROLES:
        raise InvalidInput(f"未知角色 {role}（可选：{', '.join(USER_ROLES)}）",
                           f"unknown role {role} (one of: {', '.join(USER_ROLES)})")
    if len(password) < settings.min_password_length:
        raise InvalidInput(f"密码至少 {settings.min_password_length} 个字符",
                           f"the password needs at least {settings.min_password_length} characters")
    if role == "admin" and scope:
        raise InvalidInput("管理员不设范围", "admin accounts have no scope")
    if role in ("township_leader", "grid_staff") and not scope:
        raise InvalidInput(f"角色 {role} 必须指定范围（--scope 网格编码）",
                           f"role {role} needs a scope (--scope GRID_CODE)")
    if scope:
        scope = validate_code(scope)
        allowed = _SCOPE_LEVELS[role]
        if level_of_code(scope) not in allowed:
            raise InvalidInput(f"角色 {role} 的范围应为 {'/'.join(allowed)} 级网格",
                               f"the scope of a {role} must be a {'/'.join(allowed)} grid")
        current = active_set(session)
        if current is None or not session.scalar(
            select(Grid.id).where(Grid.set_id == current.id, Grid.code == scope)
        ):
            raise NotFound(f"范围网格 {scope} 在生效边界中不存在",
                           f"scope grid {scope} is not in the active boundary set")
    if session.scalar(select(User.id).where(User.username == username)):
        raise Conflict(f"用户 {username} 已存在", f"user {username} already exists")
    user = User(username=username, role=role, scope_code=scope or None,
                password_hash=hash_password(password))
    session.add(user)
    session.flush()
    return user


def authenticate(session: Session, username: str, password: str) -> User:
    user = session.scalar(select(User).where(User.username == username))
    ok = verify_password(password, user.password_hash if user else _DUMMY_HASH)
    if user is None or not ok or not user.active:
        raise NotAuthenticated("用户名或密码错误", "wrong username or password")
    return user


def token_secret(session: Session, settings: AuthSettings) -> str:
    """The signing key: configured, or generated once per installation and kept in the DB."""
    if settings.secret_key:
        return settings.secret_key
    found = session.get(AppSecret, "token_secret")
    if found is None:
        # Two processes starting at once must agree on one key: insert-if-absent.
        session.execute(
            text("INSERT INTO app_secret (name, value) VALUES ('token_secret', :v) "
                 "ON CONFLICT (name) DO NOTHING"),
            {"v": secrets.token_hex(32)},
        )
        found = session.get(AppSecret, "token_secret", populate_existing=True)
    return found.value


def issue_token(user: User, *, secret: str, settings: AuthSettings) -> str:
    now = datetime.now(UTC)
    claims = {"sub": str(user.id), "role": user.role, "scope": user.scope_code,
              "iat": now, "exp": now + timedelta(minutes=settings.token_ttl_minutes)}
    return jwt.encode(claims, secret, algorithm="HS256")


def user_from_token(session: Session, token: str, *, secret: str) -> User:
    try:
        claims = jwt.decode(token, secret, algorithms=["HS256"], options={"require": ["exp", "sub"]})
        user_id = int(claims["sub"])
    except (jwt.PyJWTError, ValueError, TypeError):
        raise NotAuthenticated("登录已失效或令牌无效，请重新登录",
                               "the token is invalid or expired; log in again") from None
    user = session.get(User, user_id)
    if user is None or not user.active:
        raise NotAuthenticated("账号不存在或已停用", "the account does not exist or is disabled")
    return user


@dataclass(frozen=True)
class Scope:
    """What a user may see: a grid code whose subtree is theirs (None = everything)."""

    code: str | None
    role: str
    username: str = ""

    @classmethod
    def of(cls, user: User) -> Scope:
        return cls(code=user.scope_code, role=user.role, username=user.username)

    @classmethod
    def everything(cls) -> Scope:
        return cls(code=None, role="admin", username="system")

    def allows(self, code: str | None) -> bool:
        """True when the grid ``code`` lies in this scope (unplaced things: admins only)."""
        return within(code, self.code)

    def require(self, code: str | None, what_zh: str = "对象", what_en: str = "object") -> None:
        """Raise NotFound (not 403: do not reveal existence) when out of scope."""
        if not self.allows(code):
            raise NotFound(f"{what_zh}不存在", f"{what_en} not found")

    def filter(self, column):
        """A SQL condition restricting ``column`` (a grid-code column) to the scope.

        The same rule as :meth:`allows`: a prefix match, except that a micro-grid or
        direct-grid scope matches its own code only (see :func:`gridmap.codes.within`).
        """
        if self.code is None:
            return True
        if not has_subtree(self.code):
            return column == self.code
        return column.startswith(self.code, autoescape=True)

    @property
    def can_write(self) -> bool:
        return self.role in WRITE_ROLES

    def require_write(self) -> None:
        if not self.can_write:
            raise Forbidden("当前角色只读，不能修改数据", "this role is read-only")

    def require_admin(self) -> None:
        if self.role != "admin":
            raise Forbidden("需要管理员权限", "admin rights are required")


class ScopeCache:
    """Who a bearer token is, remembered for a few seconds (per process).

    Tiles come in bursts of dozens per screen; looking the user up for each would double
    the database work of a tile. A disabled user or a changed scope takes effect within
    ``ttl_s`` (default 30 s) on the routes that use the cache (the map tiles).
    """

    def __init__(self, ttl_s: float = 30.0, max_entries: int = 10_000) -> None:
        import threading
        import time

        self._clock = time.monotonic
        self.ttl_s = ttl_s
        self.max_entries = max_entries
        self._entries: dict[str, tuple[float, Scope]] = {}
        self._lock = threading.Lock()

    def scope(self, token: str, lookup) -> Scope:
        """The cached scope of ``token``, or ``lookup(token) -> User`` when stale."""
        now = self._clock()
        with self._lock:
            hit = self._entries.get(token)
        if hit is not None and now - hit[0] < self.ttl_s:
            return hit[1]
        scope = Scope.of(lookup(token))
        with self._lock:
            if len(self._entries) >= self.max_entries:
                self._entries.clear()
            self._entries[token] = (now, scope)
        return scope
