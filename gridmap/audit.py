"""The audit log: who wrote what, when, through which route, before and after.

Rows are written by database triggers on every audited table (migration 0005), so a new
write path cannot forget them. What the database cannot know — the person and the route
— is handed to it per transaction with :func:`set_context` (the API does it for every
write request, the CLI for every command). Bulk imports switch the per-row log off for
their one big statement (:func:`bulk`) and write one summary entry instead (file, sha256,
counts), which keeps a million-row import from writing a million audit rows. Only the
owner of the tables may switch it off (migration 0008): the web application logs in as
``gridmap_app``, whose rows are always logged, and which can neither update nor delete
the log, nor leave its role (:func:`require_unprivileged_login` makes sure of it).
"""

from __future__ import annotations

import contextlib
import getpass
import json
import logging
from collections.abc import Iterator
from datetime import datetime

from sqlalchemy import Engine, select, text
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from gridmap.errors import SetupError
from gridmap.models import AuditLog

log = logging.getLogger(__name__)


def set_context(session: Session, *, actor: str, actor_id: int | None = None, role: str | None = None,
                method: str | None = None, route: str | None = None, client: str | None = None) -> None:
    """Name who is writing in this transaction (transaction-local setting)."""
    context = {"actor": actor[:100], "actor_id": actor_id, "role": role, "method": method,
               "route": (route or "")[:200] or None, "client": (client or "")[:64] or None}
    session.execute(text("SELECT set_config('gridmap.audit', :c, true)"), {"c": json.dumps(context)})


def cli_context(session: Session, command: str) -> None:
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = "unknown"
    set_context(session, actor=f"cli:{user}", role="cli", method="CLI", route=command)


@contextlib.contextmanager
def bulk(session: Session, *, object_type: str, object_id: str | None, summary: dict) -> Iterator[dict]:
    """Run a bulk statement without per-row audit rows; log one summary entry instead.

    The caller may add to ``summary`` inside the block (e.g. counts known only after).
    Rows are skipped only for the owner of the tables (the CLI); the web application's
    role gets the summary *and* a row per record.
    """
    session.execute(text("SELECT set_config('gridmap.audit_skip', 'on', true)"))
    try:
        yield summary
    finally:
        session.execute(text("SELECT set_config('gridmap.audit_skip', 'off', true)"))
    session.execute(text(
        """
        INSERT INTO audit_log (actor, actor_id, role, method, route, client, action, object_type, object_id, after)
        SELECT COALESCE(c ->> 'actor', 'db:' || session_user), (c ->> 'actor_id')::int, c ->> 'role',
               c ->> 'method', c ->> 'route', c ->> 'client', 'bulk', :object_type, :object_id, CAST(:after AS jsonb)
        FROM (SELECT COALESCE(NULLIF(current_setting('gridmap.audit', true), '')::jsonb, '{}'::jsonb) AS c) ctx
        """), {"object_type": object_type, "object_id": object_id,
               "after": json.dumps(summary, ensure_ascii=False, default=str)})


def list_audit(session: Session, *, scope, object_type: str | None = None, object_id: str | None = None,
               actor: str | None = None, since: datetime | None = None, until: datetime | None = None,
               limit: int = 100, offset: int = 0) -> tuple[list[dict], int]:
    """Audit entries, newest first (admins only)."""
    from sqlalchemy import func

    scope.require_admin()
    where = []
    if object_type:
        where.append(AuditLog.object_type == object_type)
    if object_id:
        where.append(AuditLog.object_id == object_id)
    if actor:
        where.append(AuditLog.actor == actor)
    if since:
        where.append(AuditLog.at >= since)
    if until:
        where.append(AuditLog.at < until)
    total = session.scalar(select(func.count()).select_from(AuditLog).where(*where))
    rows = session.scalars(select(AuditLog).where(*where).order_by(AuditLog.id.desc()).limit(limit).offset(offset))
    return [{"id": r.id, "at": r.at, "actor": r.actor, "actor_id": r.actor_id, "role": r.role, "method": r.method,
             "route": r.route, "client": r.client, "action": r.action, "object_type": r.object_type,
             "object_id": r.object_id, "before": r.before, "after": r.after} for r in rows], total


def require_unprivileged_login(engine: Engine) -> None:
    """Refuse to serve as a database user that could rewrite the audit log.

    The web application must log in as a role that is neither a superuser nor the owner
    (or a member of the owner) of the tables: such a role cannot update or delete
    ``audit_log`` and ``hazard_event``, cannot switch triggers off, and has no other role
    to ``SET ROLE`` or ``RESET ROLE`` into. A login the server refuses (missing role,
    wrong password) or a database without the schema is a :class:`SetupError` with one
    line saying what to do. A server that cannot be reached at all is not: the API starts
    and answers 503 until the database is back, as it does after a restart.
    """
    from gridmap.db import describe_url

    where = describe_url(engine.url.render_as_string(hide_password=False))
    user = engine.url.username or "?"
    try:
        with engine.connect() as conn:
            migrated, superuser, owner = conn.execute(text(
                "SELECT to_regclass('audit_log') IS NOT NULL, rolsuper OR rolbypassrls,"
                " COALESCE(pg_has_role(current_user, (SELECT relowner FROM pg_class"
                "                                      WHERE oid = to_regclass('audit_log')), 'USAGE'), false)"
                " FROM pg_roles WHERE rolname = current_user")).one()
    except OperationalError as exc:
        reason = str(exc.orig or exc)
        # The driver's text only tells a refused login (a FATAL from the server) from a
        # server that is not there; it goes to the log, never to the user.
        if "FATAL" not in reason or "the database system is" in reason:
            log.info("database unreachable at start-up (%s); serving 503 until it is back", where)
            return
        log.info("the API's database login was refused: %s", reason)
        raise SetupError(
            f"数据库用户 {user} 无法登录 {where}：请运行 gridmap db up（创建登录角色 gridmap_app），"
            "或用 GRIDMAP_DB_APP_URL 指定 API 的数据库用户",
            f"the database user {user} cannot log in to {where}: run `gridmap db up` (creates the "
            "login role gridmap_app) or name the API's database user in GRIDMAP_DB_APP_URL",
        ) from None
    if not migrated:
        raise SetupError(f"数据库 {where} 尚未初始化：请运行 gridmap db up",
                         f"the database at {where} has no schema yet: run `gridmap db up`")
    if superuser or owner:
        raise SetupError(
            f"API 的数据库用户 {user} 是超级用户或数据表的属主，可改写审计日志：请改用 gridmap_app"
            "（GRIDMAP_DB_APP_URL 留空即可）",
            f"the API's database user {user} is a superuser or owns the tables and could rewrite the "
            "audit log: use gridmap_app (leave GRIDMAP_DB_APP_URL empty)",
        )
