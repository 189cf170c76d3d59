"""The schema comes only from Alembic: up → down → up works, and models match it."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, inspect, text
from sqlalchemy.pool import NullPool

from gridmap.dbsetup import alembic_config, include_object
from gridmap.models import Base


def _tables(url: str) -> set[str]:
    engine = create_engine(url, poolclass=NullPool)
    try:
        return set(inspect(engine).get_table_names()) - {"spatial_ref_sys"}
    finally:
        engine.dispose()


def test_upgrade_downgrade_upgrade(fresh_database):
    from alembic import command

    config = alembic_config(fresh_database)
    assert {"grid", "boundary_set", "person", "enterprise", "app_user"} <= _tables(fresh_database)
    command.downgrade(config, "base")
    assert _tables(fresh_database) == {"alembic_version"}
    command.upgrade(config, "head")
    assert {"grid", "boundary_set", "person", "role_assignment", "enterprise", "app_user"} <= _tables(fresh_database)


def test_models_match_migrations(database_url):
    """Drift test: autogenerate against the migrated database must find nothing."""
    from geoalchemy2 import alembic_helpers

    engine = create_engine(database_url, poolclass=NullPool)
    try:
        with engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={
                "include_object": include_object,
                "render_item": alembic_helpers.render_item,
                "compare_type": True,
            })
            diff = compare_metadata(context, Base.metadata)
            assert diff == [], diff
            assert conn.scalar(text("SELECT count(*) FROM alembic_version")) == 1
    finally:
        engine.dispose()
