"""Audit log: writes through the real app (as the gridmap_app role) are recorded with
actor, route and before/after values; nobody can rewrite the log."""

from __future__ import annotations

import random

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from gridmap.auth import create_user
from gridmap.uscc import make_uscc
from tests.conftest import _test_settings
from tests.factories import make_toy_district


@pytest.fixture
def real_app(fresh_database):
    """The app on a private database, with its own engine (SET ROLE gridmap_app)."""
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


def test_bulk_import_is_one_summary_entry(real_app):
    client, _ = real_app
    admin = _token(client, "chief")
    rng = random.Random(4)
    rows = "\n".join(f"{make_uscc(rng, '320382')},企业{i},,117.93,34.35" for i in range(5))
    client.post("/api/v1/enterprises/import", files={"file": ("r.csv", f"uscc,name,address,lon,lat\n{rows}\n".encode(), "text/csv")},
                headers=admin)
    log = client.get("/api/v1/audit", params={"object_type": "enterprise"}, headers=admin).json()["data"]
    assert [e["action"] for e in log] == ["bulk"]
    assert log[0]["after"]["added"] == 5 and log[0]["actor"] == "chief"


def test_the_app_role_cannot_rewrite_the_log(real_app):
    client, app = real_app
    client.post("/api/v1/enterprises", json={"uscc": make_uscc(random.Random(5), "320382"), "name": "丙厂",
                                             "lon": 117.93, "lat": 34.35}, headers=_token(client, "chief"))
    engine = app.state.engine
    with engine.connect() as conn:
        assert conn.scalar(text("SELECT current_user")) == "gridmap_app"
        assert conn.scalar(text("SELECT count(*) FROM audit_log")) >= 1
        for statement in ("UPDATE audit_log SET actor = 'forged'", "DELETE FROM audit_log",
                          "TRUNCATE audit_log", "UPDATE hazard_event SET note = 'x'"):
            with pytest.raises(DBAPIError) as caught:
                conn.execute(text(statement))
            assert caught.value.orig.sqlstate == "42501"  # insufficient_privilege
            conn.rollback()


def test_even_the_owner_cannot_update_the_log(fresh_database):
    engine = create_engine(fresh_database)
    with engine.connect() as conn:
        conn.execute(text("INSERT INTO audit_log (actor, action, object_type) VALUES ('x', 'insert', 'test')"))
        with pytest.raises(DBAPIError):
            conn.execute(text("UPDATE audit_log SET actor = 'y'"))
    engine.dispose()
