"""Engines and sessions.

One engine per process and URL; a session per unit of work. Connection failures become
:class:`~gridmap.errors.DatabaseUnavailable` with a message that says how to get a
database, never the driver's text.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from gridmap.errors import DatabaseUnavailable
from gridmap.settings import DatabaseSettings

HOW_TO_GET_ONE_ZH = "请运行 make setup（安装并启动本机 PostgreSQL + PostGIS），或设置 DATABASE_URL"
HOW_TO_GET_ONE_EN = "run `make setup` (installs and starts a local PostgreSQL + PostGIS) or set DATABASE_URL"


def describe_url(url: str) -> str:
    """The URL without its password, for messages."""
    return make_url(url).render_as_string(hide_password=True)


def make_engine(
    url: str,
    settings: DatabaseSettings | None = None,
    *,
    statement_timeout_ms: int | None = None,
    application_name: str = "gridmap",
    app_role: str | None = None,
    idle_in_transaction_timeout_ms: int | None = None,
) -> Engine:
    """An engine with sane pool settings and ``statement_timeout`` on every connection.

    ``pool_pre_ping`` lets the pool replace connections a database restart has killed, so
    the service recovers without a restart of its own.
    """
    settings = settings or DatabaseSettings()
    options = []
    if statement_timeout_ms:
        options.append(f"-c statement_timeout={int(statement_timeout_ms)}")
    if idle_in_transaction_timeout_ms:
        # A session left idle inside a transaction (a bug, a vanished client) is ended by
        # the server rather than holding locks forever. Not for the CLI, whose long local
        # jobs compute in Python between statements.
        options.append(f"-c idle_in_transaction_session_timeout={int(idle_in_transaction_timeout_ms)}")
    engine = create_engine(
        url,
        pool_size=settings.pool_size,
        max_overflow=settings.max_overflow,
        pool_timeout=settings.pool_timeout_s,
        # Not pool_pre_ping: that is a round trip on every checkout (a tile costs a few
        # ms). A connection idle for a while is pinged instead (_ping_idle), and a
        # connection that dies in use invalidates the pool, so the next request reconnects.
        pool_pre_ping=False,
        pool_recycle=1800,
        connect_args={
            "connect_timeout": settings.connect_timeout_s,
            "application_name": application_name,
            "options": " ".join(options),
        },
    )
    if app_role:
        _use_role(engine, app_role)
    _ping_idle(engine)
    return engine


#: A pooled connection unused for longer than this is pinged before it is handed out.
PING_AFTER_IDLE_S = 2.0


def _ping_idle(engine: Engine) -> None:
    import time

    from sqlalchemy import exc

    @event.listens_for(engine, "checkin")
    def _checkin(_dbapi_connection, record) -> None:
        record.info["idle_since"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _checkout(dbapi_connection, record, _proxy) -> None:
        idle_since = record.info.get("idle_since")
        if idle_since is None or time.monotonic() - idle_since < PING_AFTER_IDLE_S:
            return
        try:
            with dbapi_connection.cursor() as cur:
                cur.execute("SELECT 1")
            dbapi_connection.rollback()
        except Exception:
            # The pool retries the checkout with a fresh connection.
            raise exc.DisconnectionError() from None


def _use_role(engine: Engine, role: str) -> None:
    """Run every connection as ``role`` (SET ROLE) when the role exists and the login user
    may assume it: the web application then cannot rewrite the audit log or the hazard
    events even through a bug. Without the role nothing changes (triggers still guard)."""

    @event.listens_for(engine, "connect")
    def _set_role(dbapi_connection, _record) -> None:
        with dbapi_connection.cursor() as cur:
            cur.execute("SELECT 1 FROM pg_roles WHERE rolname = %s AND pg_has_role(current_user, rolname, 'MEMBER')",
                        (role,))
            if cur.fetchone():
                cur.execute(f'SET ROLE "{role}"')
        dbapi_connection.commit()


def make_sessionmaker(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(bind=engine, expire_on_commit=False)


def unavailable(url: str, exc: BaseException | None = None) -> DatabaseUnavailable:
    """The one-line error for a database that cannot be reached."""
    where = describe_url(url)
    return DatabaseUnavailable(
        f"无法连接数据库 {where}：{HOW_TO_GET_ONE_ZH}",
        f"cannot reach the database at {where}: {HOW_TO_GET_ONE_EN}",
    )


def check_connection(engine: Engine) -> None:
    """Raise :class:`DatabaseUnavailable` unless the engine can run a query."""
    try:
        with engine.connect() as conn:
            conn.exec_driver_sql("SELECT 1")
    except (OperationalError, DBAPIError) as exc:
        raise unavailable(engine.url.render_as_string(hide_password=False), exc) from None


@contextlib.contextmanager
def session_scope(factory: sessionmaker[Session]) -> Iterator[Session]:
    """A session that commits on success and rolls back on any error."""
    session = factory()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


def is_connection_error(exc: BaseException) -> bool:
    """True for errors that mean the database went away (restart, killed backend)."""
    if isinstance(exc, DBAPIError) and exc.connection_invalidated:
        return True
    if isinstance(exc, OperationalError):
        return True
    orig = getattr(exc, "orig", None)
    sqlstate = getattr(orig, "sqlstate", None) or ""
    # 57P01 admin_shutdown, 57P02 crash_shutdown, 57P03 cannot_connect_now, 08xxx connection.
    return sqlstate.startswith(("57P0", "08"))


__all__ = [
    "make_engine",
    "make_sessionmaker",
    "session_scope",
    "check_connection",
    "is_connection_error",
    "unavailable",
]


def in_array(column, values) -> object:
    """``column = ANY(:array)``: one array parameter instead of one per value, so lists of
    any length work (an ``IN (…)`` of 150,000 values exceeds PostgreSQL's 65,535 parameters)."""
    from sqlalchemy import BigInteger, String, any_, bindparam
    from sqlalchemy.dialects.postgresql import ARRAY

    values = list(values)
    element = BigInteger() if values and isinstance(values[0], int) else String()
    return column == any_(bindparam(None, values, type_=ARRAY(element)))
