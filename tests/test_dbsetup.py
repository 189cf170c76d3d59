"""`gridmap db up` against a user-supplied DATABASE_URL: creates, enables, migrates; twice."""

from __future__ import annotations

import subprocess
import sys
import uuid

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

from gridmap.dbsetup import database_up
from gridmap.errors import SetupError
from gridmap.settings import DatabaseSettings, Settings
from tests.conftest import scratch_database


def test_database_up_is_idempotent(database_url):
    name = f"gridmap_up_{uuid.uuid4().hex[:8]}"
    url = make_url(database_url).set(database=name).render_as_string(hide_password=False)
    settings = Settings(db=DatabaseSettings(database_url=url, test_database_url=url + "_t"))
    lines: list[str] = []
    admin = create_engine(make_url(database_url).set(database="postgres"), poolclass=NullPool,
                          isolation_level="AUTOCOMMIT")
    try:
        assert database_up(settings, lines.append) == [settings.db.url, settings.db.test_url]
        assert any("creating database" in line for line in lines)
        lines.clear()
        database_up(settings, lines.append)
        assert not any("creating" in line for line in lines), "second run creates nothing"
        engine = create_engine(url, poolclass=NullPool)
        with engine.connect() as conn:
            assert conn.scalar(text("SELECT postgis_lib_version()")).startswith("3")
            assert conn.scalar(text("SELECT version_num FROM alembic_version"))
        engine.dispose()
    finally:
        with admin.connect() as conn:
            for db in (name, name + "_t"):
                conn.execute(text(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)'))
        admin.dispose()


def test_unreachable_user_server_is_a_clear_setup_error():
    settings = Settings(db=DatabaseSettings(database_url="postgresql://postgres@127.0.0.1:1/x"))
    with pytest.raises(SetupError) as caught:
        database_up(settings, lambda line: None)
    assert "cannot connect to the database server" in caught.value.en
    assert "\n" not in caught.value.message


@pytest.mark.parametrize(("url", "why"), [
    ("127.0.0.1:5432/gridmap", "not a URL"),
    ("postgresql://postgres@127.0.0.1:notaport/gridmap", "the port is not a number"),
    ("postgresql://postgres@127.0.0.1:99999/gridmap", "port 99999 is outside 1-65535"),
    ("mysql://root:secret@127.0.0.1/gridmap", "the scheme mysql:// is not PostgreSQL"),
    ("postgresql://postgres@127.0.0.1:5432", "no database name"),
])
def test_malformed_database_url_is_one_clear_line(url, why):
    with pytest.raises(SetupError) as caught:
        database_up(Settings(db=DatabaseSettings(database_url=url)), lambda line: None)
    assert caught.value.en.startswith(f"DATABASE_URL is malformed: {why} (expected postgresql://")
    assert "DATABASE_URL 格式不正确" in caught.value.zh
    assert "secret" not in caught.value.message, "the URL (and its password) is never echoed"


def test_malformed_database_url_on_the_command_line(tmp_path):
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "DATABASE_URL": "127.0.0.1:5432/gridmap",
           "GRIDMAP_LOG": str(tmp_path / "log")}
    for command in (["boundaries", "list"], ["db", "up"], ["serve", "--port", "18213"]):
        result = subprocess.run([sys.executable, "-m", "gridmap", *command], capture_output=True, text=True,
                                env=env, timeout=60, check=False)
        assert result.returncode == 1 and result.stdout == ""
        assert result.stderr.strip().splitlines() == [(
            "错误 / error: DATABASE_URL 格式不正确：不是 URL（应为 postgresql://用户[:密码]@主机[:端口]/数据库） / "
            "DATABASE_URL is malformed: not a URL (expected postgresql://user[:password]@host[:port]/database)")]


@pytest.fixture
def unmigrated_url(database_url):
    """A database that was created but never migrated (no `gridmap db up`)."""
    with scratch_database(database_url, prefix="gridmap_bare") as url:
        yield url


def _cli_on(url: str, capsys, *args: str) -> tuple[int, str, str]:
    from gridmap.cli import CliContext, invoke

    code = invoke(list(args), obj=CliContext(settings=Settings(db=DatabaseSettings(database_url=url))))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_unmigrated_database_says_run_db_up(unmigrated_url, capsys):
    code, out, err = _cli_on(unmigrated_url, capsys, "boundaries", "list")
    assert (code, out) == (1, "")
    [line] = err.strip().splitlines()
    assert "请先运行 gridmap db up" in line and "run `gridmap db up`" in line
    assert "a database operation failed" not in line


def test_a_missing_table_says_run_db_up(unmigrated_url, capsys):
    """A schema behind the code (here: only the version table) names the same fix."""
    engine = create_engine(unmigrated_url, poolclass=NullPool)
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE alembic_version (version_num varchar(32) PRIMARY KEY)"))
    engine.dispose()
    code, _, err = _cli_on(unmigrated_url, capsys, "boundaries", "list")
    assert code == 1 and "run `gridmap db up`" in err and len(err.strip().splitlines()) == 1


def test_the_cluster_started_is_the_one_on_the_urls_port():
    from gridmap.dbsetup import parse_clusters, pick_cluster

    listing = ("13 main 5433 down postgres /var/lib/postgresql/13/main /var/log/postgresql/13.log\n"
               "15 main 5432 down postgres /var/lib/postgresql/15/main /var/log/postgresql/15.log\n")
    clusters = parse_clusters(listing)
    assert pick_cluster(clusters, 5432) == ("15", "main")
    assert pick_cluster(clusters, 5433) == ("13", "main")
    with pytest.raises(SetupError) as caught:
        pick_cluster(clusters, 6543)
    assert "no local PostgreSQL cluster uses port 6543 (clusters: 13/main:5433, 15/main:5432)" in caught.value.en
    with pytest.raises(SetupError) as caught:
        pick_cluster([], 5432)
    assert "no local cluster found" in caught.value.en

