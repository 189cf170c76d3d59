"""`gridmap db up` against a user-supplied DATABASE_URL: creates, enables, migrates; twice."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

from gridmap.dbsetup import database_up
from gridmap.errors import SetupError
from gridmap.settings import DatabaseSettings, Settings


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
