"""Audit log: writes through the real app (logged in as the gridmap_app role) are recorded
with actor, route and before/after values; nobody can rewrite the log, and the app's role
cannot escape its limits (RESET ROLE, session_replication_role, gridmap.audit_skip)."""

from __future__ import annotations

import random

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from gridmap.audit import cli_context
from gridmap.auth import create_user
from gridmap.enterprises import import_enterprises
from gridmap.errors import SetupError
from gridmap.uscc import make_uscc
from tests.conftest import _test_settings
from tests.factories import make_toy_district


@pytest.fixture
def real_app(fresh_database):
    """The app on a private database, with its own engine (logged in as gridmap_app)."""
    from api.main import create_app

    engine = create_engine(fresh_database)
    with Session(engine) as session:
        make_toy_district(session)
        create_user(session, "chief", role="admin", password="password-123")
        create_user(session, "leader", role="township_leader", scope="320382102", password="password-123")
        session.commit()
    engine.dispose()
    app = create_app(_test_settings(fresh_database))
    with TestClient(app) as client:
        yield client, app


def _token(client, username):
    response = client.post("/api/v1/auth/token", data={"username": username, "password": "password-123"})
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


def test_writes_are_audited_with_actor_route_and_values(real_app):
    client, _ = real_app
    leader = _token(client, "leader")
    uscc = make_uscc(random.Random(3), "320382")
    created = client.post("/api/v1/enterprises", json={"uscc": uscc, "name": "甲厂", "lon": 117.93, "lat": 34.35},
                          headers=leader)
    assert created.status_code == 201
    client.patch(f"/api/v1/enterprises/{uscc}", json={"name": "乙厂"}, headers=leader)
    admin = _token(client, "chief")
    log = client.get("/api/v1/audit", params={"object_type": "enterprise", "object_id": uscc}, headers=admin).json()
    entries = sorted(log["data"], key=lambda e: e["id"])
    assert [e["action"] for e in entries] == ["insert", "update"]
    insert, update = entries
    assert insert["actor"] == "leader" and insert["role"] == "township_leader"
    assert insert["route"] == "/api/v1/enterprises" and insert["method"] == "POST"
    assert insert["after"]["name"] == "甲厂" and insert["after"]["grid_code"] == "320382102001"
    assert update["route"] == "/api/v1/enterprises/{uscc}"
    assert update["before"]["name"] == "甲厂" and update["after"]["name"] == "乙厂"
    assert "geom" not in str(insert["after"]) and "password_hash" not in str(log)
    assert client.get("/api/v1/audit", headers=leader).status_code == 403


def test_an_import_through_the_api_logs_every_row_and_a_summary(real_app):
    """The app's role cannot switch the per-row log off: an upload logs each row too."""
    client, _ = real_app
    admin = _token(client, "chief")
    rng = random.Random(4)
    rows = "\n".join(f"{make_uscc(rng, '320382')},企业{i},,117.93,34.35" for i in range(5))
    imported = client.post("/api/v1/enterprises/import", headers=admin,
                           files={"file": ("r.csv", f"uscc,name,address,lon,lat\n{rows}\n".encode(), "text/csv")})
    assert imported.status_code == 200, imported.text
    log = client.get("/api/v1/audit", params={"object_type": "enterprise"}, headers=admin).json()["data"]
    assert sorted(e["action"] for e in log) == ["bulk"] + ["insert"] * 5
    assert {e["actor"] for e in log} == {"chief"}
    summary = next(e for e in log if e["action"] == "bulk")
    assert summary["after"]["added"] == 5 and summary["route"] == "/api/v1/enterprises/import"


def test_a_bulk_import_by_the_owner_is_one_summary_entry(fresh_database, tmp_path):
    """The CLI (the tables' owner) may skip the per-row log of its bulk statement."""
    engine = create_engine(fresh_database)
    register = tmp_path / "r.csv"
    rng = random.Random(6)
    register.write_text("uscc,name,address,lon,lat\n" + "\n".join(
        f"{make_uscc(rng, '320382')},企业{i},,117.93,34.35" for i in range(5)) + "\n", encoding="utf-8")
    with Session(engine) as session:
        make_toy_district(session)
        cli_context(session, "import enterprises")
        import_enterprises(session, register, write_rejects_file=False)
        session.commit()
    with engine.connect() as conn:
        entries = conn.execute(text("SELECT action, actor, after ->> 'added' FROM audit_log"
                                    " WHERE object_type = 'enterprise'")).all()
    engine.dispose()
    assert len(entries) == 1 and entries[0][0] == "bulk" and entries[0][1].startswith("cli:")
    assert entries[0][2] == "5"


def _refused(conn, statement: str) -> str:
    """Run ``statement``; return the SQLSTATE it was refused with (the transaction is rolled back)."""
    with pytest.raises(DBAPIError) as caught:
        conn.execute(text(statement))
    conn.rollback()
    return caught.value.orig.sqlstate


def test_the_app_logs_in_as_a_role_that_cannot_rewrite_the_logs(real_app):
    client, app = real_app
    client.post("/api/v1/enterprises", json={"uscc": make_uscc(random.Random(5), "320382"), "name": "丙厂",
                                             "lon": 117.93, "lat": 34.35}, headers=_token(client, "chief"))
    with app.state.engine.connect() as conn:
        # A login role, not a SET ROLE on top of a superuser: RESET ROLE changes nothing.
        assert conn.execute(text("SELECT session_user, current_user")).one() == ("gridmap_app", "gridmap_app")
        conn.execute(text("RESET ROLE"))
        assert conn.scalar(text("SELECT current_user")) == "gridmap_app"
        assert conn.scalar(text("SELECT rolsuper FROM pg_roles WHERE rolname = current_user")) is False
        assert conn.scalar(text("SELECT count(*) FROM audit_log")) >= 1
        conn.rollback()
        for statement in ("UPDATE audit_log SET actor = 'forged'", "DELETE FROM audit_log", "TRUNCATE audit_log",
                          "UPDATE hazard_event SET note = 'x'", "DELETE FROM hazard_event",
                          "RESET ROLE; DELETE FROM audit_log",
                          # Switching triggers off, or becoming someone else, is out of reach too.
                          "SET session_replication_role = replica", "SET ROLE postgres",
                          "ALTER TABLE audit_log DISABLE TRIGGER audit_log_append_only"):
            assert _refused(conn, statement) == "42501", statement  # insufficient_privilege


def test_the_app_role_cannot_switch_the_row_log_off(real_app):
    _, app = real_app
    with app.state.engine.connect() as conn:
        conn.execute(text("SELECT set_config('gridmap.audit_skip', 'on', false)"))
        person = conn.scalar(text("INSERT INTO person (name, full_time) VALUES ('隐身人', true) RETURNING id"))
        conn.commit()
        logged = conn.execute(text("SELECT action, actor FROM audit_log WHERE object_type = 'person'"
                                   " AND object_id = :id"), {"id": str(person)}).all()
    assert logged == [("insert", "db:gridmap_app")]


def test_even_the_owner_cannot_update_the_log(fresh_database):
    engine = create_engine(fresh_database)
    with engine.connect() as conn:
        conn.execute(text("INSERT INTO audit_log (actor, action, object_type) VALUES ('x', 'insert', 'test')"))
        with pytest.raises(DBAPIError):
            conn.execute(text("UPDATE audit_log SET actor = 'y'"))
    engine.dispose()


def test_the_api_refuses_to_run_as_a_superuser_or_without_its_role(fresh_database):
    from api.main import create_app

    owner = _test_settings(fresh_database)
    owner.db = owner.db.model_copy(update={"app_url": fresh_database})
    with pytest.raises(SetupError) as caught:
        create_app(owner)
    assert "superuser or owns the tables" in caught.value.message
    missing = _test_settings(fresh_database)
    missing.db = missing.db.model_copy(update={"app_role": "gridmap_no_such_role"})
    with pytest.raises(SetupError) as caught:
        create_app(missing)
    assert "gridmap_no_such_role cannot log in" in caught.value.message
    assert "FATAL" not in caught.value.message and "\n" not in caught.value.message


def test_a_coverage_refresh_is_audited(real_app):
    """Refreshing the scores rewrites grid_status and coverage_problem: one summary entry
    per statement, with the actor and the route."""
    client, _ = real_app
    admin = _token(client, "chief")
    refreshed = client.post("/api/v1/coverage/320382/refresh", headers=admin)
    assert refreshed.status_code == 200, refreshed.text
    log = client.get("/api/v1/audit", params={"object_type": "grid_status"}, headers=admin).json()["data"]
    assert [(e["action"], e["object_id"], e["actor"]) for e in log] == [("bulk", "320382", "chief")]
    assert log[0]["route"] == "/api/v1/coverage/{code}/refresh"
    assert log[0]["after"]["operation"] == "insert" and log[0]["after"]["rows"] == refreshed.json()["grids"] == 7
    client.post("/api/v1/coverage/320382/refresh", headers=admin)  # again: the rows are updated
    log = client.get("/api/v1/audit", params={"object_type": "grid_status"}, headers=admin).json()["data"]
    assert [e["after"]["operation"] for e in log] == ["update", "insert"]
