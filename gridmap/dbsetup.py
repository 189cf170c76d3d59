"""``gridmap db up``: make a PostgreSQL + PostGIS ready, whatever the machine.

With ``DATABASE_URL`` set (environment or ``.env``) that server is used as it is: the
databases are created if the user may, PostGIS enabled, migrations run. Without it, the
local server on 127.0.0.1:5432 is used: its cluster is started when it is down, and
``postgresql-<major>-postgis-3`` is installed from Debian when the extension is missing
(root only — otherwise the message says what to install or to set ``DATABASE_URL``).
Then the main and the test database are created, ``CREATE EXTENSION postgis`` and
``alembic upgrade head`` run on both. Every step is idempotent.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.pool import NullPool

from gridmap.db import describe_url, parse_database_url
from gridmap.errors import SetupError
from gridmap.settings import Settings

REPO = Path(__file__).resolve().parents[1]
Log = Callable[[str], None]


def _port_open(host: str, port: int, timeout: float = 1.0) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def parse_clusters(listing: str) -> list[tuple[str, str, int]]:
    """(version, name, port) of each cluster in ``pg_lsclusters -h`` output.

    >>> parse_clusters("15 main 5432 down postgres /var/lib/postgresql/15/main log")
    [('15', 'main', 5432)]
    """
    rows = [line.split() for line in listing.splitlines() if line.strip()]
    return [(r[0], r[1], int(r[2])) for r in rows if len(r) >= 4 and r[2].isdigit()]


def pick_cluster(clusters: list[tuple[str, str, int]], port: int) -> tuple[str, str]:
    """The (version, name) of the cluster configured for ``port``: starting another one
    would not make that port answer.

    >>> pick_cluster([("13", "main", 5433), ("15", "main", 5432)], 5432)
    ('15', 'main')
    """
    for version, name, cluster_port in clusters:
        if cluster_port == port:
            return version, name
    if not clusters:
        raise SetupError(
            f"端口 {port} 上没有 PostgreSQL，也找不到本机集群：请安装 postgresql 或设置 DATABASE_URL",
            f"no PostgreSQL on port {port} and no local cluster found: install postgresql "
            "(apt-get install postgresql postgresql-15-postgis-3) or set DATABASE_URL",
        )
    found = ", ".join(f"{v}/{n}:{p}" for v, n, p in clusters)
    raise SetupError(
        f"本机没有使用端口 {port} 的 PostgreSQL 集群（现有：{found}）；请启动对应集群或设置 DATABASE_URL",
        f"no local PostgreSQL cluster uses port {port} (clusters: {found}); start the right one "
        "or set DATABASE_URL",
    )


def _clusters() -> list[tuple[str, str, int]]:
    """(version, name, port) of the local Debian clusters."""
    if not shutil.which("pg_lsclusters"):
        return []
    return parse_clusters(subprocess.run(["pg_lsclusters", "-h"], capture_output=True, text=True,
                                         check=False).stdout)


def ensure_local_server(host: str, port: int, log: Log) -> None:
    if _port_open(host, port):
        return
    version, name = pick_cluster(_clusters(), port)
    log(f"启动 PostgreSQL 集群 {version}/{name} / starting PostgreSQL cluster {version}/{name}")
    command = ["pg_ctlcluster", "--skip-systemctl-redirect", version, name, "start"]
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    for _ in range(60):
        if _port_open(host, port):
            return
        time.sleep(0.5)
    raise SetupError(
        f"无法启动 PostgreSQL 集群 {version}/{name}（{' '.join(command)} 退出码 {result.returncode}）；"
        "请手动启动或设置 DATABASE_URL",
        f"could not start PostgreSQL cluster {version}/{name} ({' '.join(command)} exited "
        f"{result.returncode}); start it yourself or set DATABASE_URL",
    )


def _connect(url: str):
    return create_engine(url, poolclass=NullPool, isolation_level="AUTOCOMMIT",
                         connect_args={"connect_timeout": 5})


def _postgis_available(engine) -> bool:
    with engine.connect() as conn:
        return bool(conn.scalar(text(
            "SELECT 1 FROM pg_available_extensions WHERE name = 'postgis'")))


def _server_major(engine) -> int:
    with engine.connect() as conn:
        return int(conn.scalar(text("SHOW server_version_num"))) // 10000


def install_postgis(major: int, log: Log) -> None:
    package = f"postgresql-{major}-postgis-3"
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        raise SetupError(
            f"PostgreSQL 缺少 PostGIS 扩展：请以 root 安装 {package}（apt-get install {package}），或设置 DATABASE_URL 指向已有 PostGIS 的数据库",
            f"PostgreSQL lacks the PostGIS extension: install {package} as root "
            f"(apt-get install {package}) or set DATABASE_URL to a server that has PostGIS",
        )
    log(f"安装 {package} / installing {package} from Debian")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    install = ["apt-get", "install", "-y", "-q", package]
    result = subprocess.run(install, capture_output=True, text=True, env=env, check=False)
    if result.returncode != 0:
        subprocess.run(["apt-get", "update", "-q"], capture_output=True, env=env, check=False)
        result = subprocess.run(install, capture_output=True, text=True, env=env, check=False)
    if result.returncode != 0:
        raise SetupError(
            f"安装 {package} 失败（apt-get 退出码 {result.returncode}）；请手动安装或设置 DATABASE_URL",
            f"installing {package} failed (apt-get exited {result.returncode}); "
            "install it yourself or set DATABASE_URL",
        )


def ensure_database(maintenance_url: str, url: str, log: Log) -> None:
    name = make_url(url).database
    engine = _connect(maintenance_url)
    try:
        with engine.connect() as conn:
            exists = conn.scalar(text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name})
            if not exists:
                log(f"创建数据库 {name} / creating database {name}")
                conn.execute(text(f'CREATE DATABASE "{name}"'))
    except DBAPIError:
        raise SetupError(
            f"无法创建数据库 {name}：请让管理员创建它，或给当前用户 CREATEDB 权限",
            f"cannot create database {name}: have it created or grant CREATEDB",
        ) from None
    finally:
        engine.dispose()
    engine = _connect(url)
    try:
        with engine.connect() as conn:
            conn.execute(text("CREATE EXTENSION IF NOT EXISTS postgis"))
            version = conn.scalar(text("SELECT postgis_lib_version()"))
            if int(version.split(".")[0]) < 3:
                raise SetupError(f"PostGIS 版本 {version} 过旧，需要 3 以上",
                                 f"PostGIS {version} is too old; 3 or later is needed")
    except DBAPIError:
        raise SetupError(
            f"无法在数据库 {name} 中启用 PostGIS（需要扩展已安装且有权限）",
            f"cannot enable PostGIS in database {name} (the extension must be installed and "
            "the user allowed to create it)",
        ) from None
    finally:
        engine.dispose()


# Tables PostGIS and its extensions own; never ours to create, drop or compare.
_FOREIGN_TABLES = {"spatial_ref_sys", "geometry_columns", "geography_columns", "raster_columns",
                   "raster_overviews", "topology", "layer"}


def include_object(obj, name, obj_type, reflected, compare_to) -> bool:
    """Alembic filter: our objects only (GeoAlchemy2's helper plus PostGIS's tables)."""
    from geoalchemy2 import alembic_helpers

    if obj_type == "table" and name in _FOREIGN_TABLES:
        return False
    return alembic_helpers.include_object(obj, name, obj_type, reflected, compare_to)


def alembic_config(url: str):
    from alembic.config import Config

    config = Config(str(REPO / "alembic.ini"))
    config.set_main_option("script_location", str(REPO / "alembic"))
    config.attributes["url"] = url
    config.attributes["configure_logger"] = False
    return config


def migrate(url: str, revision: str = "head") -> None:
    from alembic import command

    command.upgrade(alembic_config(url), revision)


def database_up(settings: Settings, log: Log = print, *, include_test: bool = True) -> list[str]:
    """Make the main (and test) database ready; return the URLs prepared."""
    url = settings.db.url
    parsed = parse_database_url(url)
    if include_test:
        parse_database_url(settings.db.test_url, name="GRIDMAP_TEST_DATABASE_URL")
    if not settings.db.is_user_supplied:
        ensure_local_server(parsed.host or "127.0.0.1", parsed.port or 5432, log)
    maintenance = parsed.set(database="postgres").render_as_string(hide_password=False)
    engine = _connect(maintenance)
    try:
        available = _postgis_available(engine)
        major = _server_major(engine)
    except OperationalError:
        raise SetupError(
            f"无法连接数据库服务器 {describe_url(maintenance)}；请检查服务是否运行或设置 DATABASE_URL",
            f"cannot connect to the database server at {describe_url(maintenance)}; "
            "is it running? or set DATABASE_URL",
        ) from None
    finally:
        engine.dispose()
    if not available:
        if settings.db.is_user_supplied:
            raise SetupError(
                "DATABASE_URL 指向的服务器没有 PostGIS 扩展，请在该服务器安装 PostGIS 3",
                "the server DATABASE_URL names has no PostGIS extension; install PostGIS 3 there",
            )
        install_postgis(major, log)
    urls = [url, settings.db.test_url] if include_test else [url]
    for target in urls:
        ensure_database(maintenance, target, log)
        migrate(target)
        log(f"数据库就绪 / database ready: {describe_url(target)}")
    return urls
