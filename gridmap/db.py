"""Engines and sessions.

One engine per process and URL; a session per unit of work. Connection failures become
:class:`~gridmap.errors.DatabaseUnavailable` with a message that says how to get a
database, never the driver's text; a malformed URL and a database without the schema say
what to fix, too.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from sqlalchemy import URL, Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from gridmap.errors import DatabaseUnavailable, SetupError
from gridmap.settings import DatabaseSettings

HOW_TO_GET_ONE_ZH = "请运行 make setup（安装并启动本机 PostgreSQL + PostGIS），或设置 DATABASE_URL"
HOW_TO_GET_ONE_EN = "run `make setup` (installs and starts a local PostgreSQL + PostGIS) or set DATABASE_URL"
#: SQLSTATE 42P01 undefined_table: the code expects a table the database does not have.
UNDEFINED_TABLE = "42P01"


def parse_database_url(url: str, *, name: str = "DATABASE_URL") -> URL:
    """The parsed URL, or :class:`SetupError` saying how it is malformed.

    The message never repeats the URL, which may hold a password.

    >>> parse_database_url("postgresql+psycopg://postgres@127.0.0.1:5432/gridmap").database
    'gridmap'
    >>> parse_database_url("127.0.0.1:5432")
    Traceback (most recent call last):
    ...
    gridmap.errors.SetupError: DATABASE_URL 格式不正确：不是 URL（应为 postgresql://用户[:密码]@主机[:端口]/数据库） / DATABASE_URL is malformed: not a URL (expected postgresql://user[:password]@host[:port]/database)
    """
    def malformed(zh: str, en: str) -> SetupError:
        return SetupError(
            f"{name} 格式不正确：{zh}（应为 postgresql://用户[:密码]@主机[:端口]/数据库）",
            f"{name} is malformed: {en} (expected postgresql://user[:password]@host[:port]/database)",
        )

    try:
        parsed = make_url(url)
    except ArgumentError:
        raise malformed("不是 URL", "not a URL") from None
    except ValueError:
        raise malformed("端口不是数字", "the port is not a number") from None
    if not parsed.drivername.startswith("postgresql"):
        raise malformed(f"协议 {parsed.drivername}:// 不是 PostgreSQL",
                        f"the scheme {parsed.drivername}:// is not PostgreSQL")
    if parsed.port is not None and not 1 <= parsed.port <= 65535:
        raise malformed(f"端口 {parsed.port} 超出 1-65535", f"port {parsed.port} is outside 1-65535")
    if not parsed.database:
        raise malformed("缺少数据库名", "no database name")
    return parsed


def describe_url(url: str) -> str:
    """The URL without its password, for messages."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except (ArgumentError, ValueError):
        return "(格式不正确的地址 / malformed URL)"


def schema_missing(url: str | None = None) -> SetupError:
    """The one-line error for a database whose tables were never created (or are older
    than the code): the fix is the migrations."""
    where = describe_url(url) if url else ""
    return SetupError(
        f"数据库{f' {where} ' if where else ''}尚未初始化或版本落后（缺少表）：请先运行 gridmap db up",
        f"the database{f' at {where}' if where else ''} has no schema yet or an older one "
        "(a table is missing): run `gridmap db up`",
    )


def is_missing_table(exc: BaseException) -> bool:
    """True when a statement failed on a table that does not exist (SQLSTATE 42P01)."""
    return getattr(getattr(exc, "orig", None), "sqlstate", None) == UNDEFINED_TABLE


def make_engine(
    url: str,
    settings: DatabaseSettings | None = None,
    *,
    statement_timeout_ms: int | None = None,
    application_name: str = "gridmap",
    idle_in_transaction_timeout_ms: int | None = None,
) -> Engine:
    """An engine with sane pool settings and ``statement_timeout`` on every connection.

    Connections a database restart has killed are replaced by the pool on their own (see
    :func:`_ping_idle`), so the service recovers without a restart of its own.
    """
    settings = settings or DatabaseSettings()
    parse_database_url(url)
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
    """Raise :class:`DatabaseUnavailable` unless the engine can run a query, and
    :class:`SetupError` when the database was never migrated (no ``alembic_version``)."""
    url = engine.url.render_as_string(hide_password=False)
    try:
        with engine.connect() as conn:
            migrated = conn.exec_driver_sql("SELECT to_regclass('alembic_version') IS NOT NULL").scalar()
    except (OperationalError, DBAPIError) as exc:
        raise unavailable(url, exc) from None
    if not migrated:
        raise schema_missing(url)


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
    "check_connection",
    "is_connection_error",
    "is_missing_table",
    "make_engine",
    "make_sessionmaker",
    "parse_database_url",
    "schema_missing",
    "session_scope",
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
