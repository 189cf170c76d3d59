"""The audit log: who wrote what, when, through which route, before and after.

Rows are written by database triggers on every audited table (migration 0005), so a new
write path cannot forget them. What the database cannot know — the person and the route
— is handed to it per transaction with :func:`set_context` (the API does it for every
write request, the CLI for every command). Bulk imports switch the per-row log off for
their one big statement (:func:`bulk`) and write one summary entry instead (file, sha256,
counts), which keeps a million-row import from writing a million audit rows.
"""

from __future__ import annotations

import contextlib
import getpass
import json
from collections.abc import Iterator
from datetime import datetime

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from gridmap.models import AuditLog


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
