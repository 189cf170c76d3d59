"""Test fixtures: a real PostgreSQL + PostGIS, never mocks, never skipped.

The session-scoped engine points at ``GRIDMAP_TEST_DATABASE_URL`` (or the main URL with
``_test`` appended); migrations run once; every test runs in a transaction that is rolled
back. Tests that need committed data (live servers, CLI subprocesses) get a database of
their own, copied from a template.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session
from sqlalchemy.pool import NullPool

from gridmap.db import HOW_TO_GET_ONE_EN
from gridmap.settings import AuthSettings, DatabaseSettings, Settings

pytest_plugins = ["tests.factories", "tests.live_server"]


def _test_settings(url: str) -> Settings:
    return Settings(
        db=DatabaseSettings(database_url=url, test_database_url=url),
        auth=AuthSettings(secret_key="test-secret-key-0123456789abcdef"),
    )


@pytest.fixture(scope="session", autouse=True)
def private_index_cache(tmp_path_factory) -> Iterator[None]:
    """Saved grid indexes go to the run's temporary directory, not the user's ~/.cache
    (set in the environment so CLI subprocesses and live servers use it too)."""
    previous = os.environ.get("GRIDMAP_PLACEMENT_INDEX_CACHE_DIR")
    os.environ["GRIDMAP_PLACEMENT_INDEX_CACHE_DIR"] = str(tmp_path_factory.mktemp("grid-index"))
    yield
    if previous is None:
        os.environ.pop("GRIDMAP_PLACEMENT_INDEX_CACHE_DIR", None)
    else:
        os.environ["GRIDMAP_PLACEMENT_INDEX_CACHE_DIR"] = previous


@pytest.fixture(scope="session")
def database_url() -> str:
    url = DatabaseSettings().test_url
    engine = create_engine(url, poolclass=NullPool, connect_args={"connect_timeout": 5})
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT postgis_lib_version()"))
    except OperationalError as exc:
        pytest.fail(
            f"The tests need PostgreSQL + PostGIS at {make_url(url).render_as_string()}: "
            f"{HOW_TO_GET_ONE_EN} (or set GRIDMAP_TEST_DATABASE_URL). Driver said: "
            f"{str(exc.orig).strip().splitlines()[0] if exc.orig else exc}",
            pytrace=False,
        )
    finally:
        engine.dispose()
    from gridmap.dbsetup import migrate

    migrate(url)
    return url


@pytest.fixture(scope="session")
def engine(database_url):
    engine = create_engine(database_url, pool_size=5)
    yield engine
    engine.dispose()


@pytest.fixture
def settings(database_url) -> Settings:
    return _test_settings(database_url)


@pytest.fixture
def session(engine) -> Iterator[Session]:
    """A session inside a transaction that is rolled back after the test."""
    connection = engine.connect()
    transaction = connection.begin()
    session = Session(bind=connection, join_transaction_mode="create_savepoint",
                      expire_on_commit=False)
    try:
        yield session
    finally:
        session.close()
        transaction.rollback()
        connection.close()


@pytest.fixture
def app(session, settings):
    from api.deps import get_read_session, get_session
    from api.main import create_app

    application = create_app(settings)

    def _session():
        yield session
        session.flush()

    application.dependency_overrides[get_session] = _session
    application.dependency_overrides[get_read_session] = _session
    return application


@pytest.fixture
def client(app):
    from fastapi.testclient import TestClient

    with TestClient(app) as test_client:
        yield test_client


def _admin_url(url: str) -> str:
    return make_url(url).set(database="postgres").render_as_string(hide_password=False)


@pytest.fixture(scope="session")
def template_database(database_url) -> Iterator[str]:
    """A migrated, empty database to copy per test (CREATE DATABASE … TEMPLATE)."""
    # One per test process, so concurrent runs (xdist, several developers) never drop
    # each other's template.
    name = f"{make_url(database_url).database}_template_{os.getpid()}"
    admin = create_engine(_admin_url(database_url), poolclass=NullPool, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(database_url).set(database=name).render_as_string(hide_password=False)
    engine = create_engine(url, poolclass=NullPool)
    with engine.begin() as conn:
        conn.execute(text("CREATE EXTENSION IF NOT EXISTS postgis"))
    engine.dispose()
    from gridmap.dbsetup import migrate

    migrate(url)
    yield url
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@contextmanager
def scratch_database(url: str, *, prefix: str, template: str | None = None) -> Iterator[str]:
    """A database of its own on ``url``'s server (a copy of ``template``, else empty: no
    PostGIS, no schema), dropped afterwards."""
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    admin = create_engine(_admin_url(url), poolclass=NullPool, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"' + (f' TEMPLATE "{template}"' if template else "")))
    try:
        yield make_url(url).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture
def fresh_database(template_database) -> Iterator[str]:
    """A private database (committed writes allowed), dropped after the test."""
    with scratch_database(template_database, prefix="gridmap_t",
                          template=make_url(template_database).database) as url:
        yield url
