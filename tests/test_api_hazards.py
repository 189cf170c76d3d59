"""Hazard API: create, transition (409 on illegal), attachments, tip-offs with rate limit."""

from __future__ import annotations

import pytest

from gridmap.settings import HazardSettings

JPEG = b"\xff\xd8\xff\xe0" + b"1" * 100


@pytest.fixture
def hz_app(app, tmp_path):
    app.state.settings.hazards = HazardSettings(attachment_dir=str(tmp_path / "att"), tipoffs_per_hour=3)
    from gridmap.ratelimit import SlidingWindow

    app.state.tipoff_limiter = SlidingWindow(3, 3600)
    return app


def _create(client, headers, **values):
    body = {"lon": 117.93, "lat": 34.35, "category": "电气", "description": "配电箱无漏电保护", **values}
    body["category"] = values.get("category", "electrical_protection")
    return client.post("/api/v1/hazards", json=body, headers=headers)


def test_create_list_detail(client, hz_app, toy_district, login):
    staff = login("grid_staff", "320382102001")
    created = _create(client, staff)
    assert created.status_code == 201, created.text
    body = created.json()
    assert (body["status"], body["grid_code"], body["overdue"]) == ("reported", "320382102001", False)
    assert body["events"][0]["action"] == "create"
    listed = client.get("/api/v1/hazards", params={"status": "reported"}, headers=staff).json()
    assert listed["count"] == 1
    other = login("township_leader", "320382103")
    assert client.get(f"/api/v1/hazards/{body['id']}", headers=other).status_code == 404
    assert client.get("/api/v1/hazards", headers=other).json()["count"] == 0
    assert _create(client, staff, status="closed").status_code == 422, "no mass assignment"
    assert _create(client, staff, grid_code="320382103001").status_code == 422
    assert _create(client, login("authority", "320382")).status_code == 403


def test_transitions_over_http(client, hz_app, toy_district, login):
    leader = login("township_leader", "320382102")
    staff = login("grid_staff", "320382102001")
    hazard_id = _create(client, staff).json()["id"]
    illegal = client.post(f"/api/v1/hazards/{hazard_id}/transition", json={"to": "closed"}, headers=leader)
    assert illegal.status_code == 409 and "cannot go to closed" in illegal.json()["message"]
    assert client.post(f"/api/v1/hazards/{hazard_id}/transition", json={"to": "filed"}, headers=staff).status_code == 403
    assert client.post(f"/api/v1/hazards/{hazard_id}/transition", json={"to": "filed", "status": "x"},
                       headers=leader).status_code == 422
    for to, who in (("filed", leader), ("dispatched", leader), ("rectifying", staff), ("verifying", staff)):
        response = client.post(f"/api/v1/hazards/{hazard_id}/transition", json={"to": to}, headers=who)
        assert response.status_code == 200 and response.json()["status"] == to
    photo = client.post(f"/api/v1/hazards/{hazard_id}/attachments", data={"kind": "after_photo"},
                        files={"file": ("after.jpg", JPEG, "image/jpeg")}, headers=staff)
    assert photo.status_code == 201
    closed = client.post(f"/api/v1/hazards/{hazard_id}/transition",
                         json={"to": "closed", "attachments": [photo.json()["id"]]}, headers=leader)
    assert closed.status_code == 200 and closed.json()["status"] == "closed"
    download = client.get(f"/api/v1/attachments/{photo.json()['id']}", headers=leader)
    assert download.status_code == 200 and download.content == JPEG
    outsider = login("township_leader", "320382103")
    assert client.get(f"/api/v1/attachments/{photo.json()['id']}", headers=outsider).status_code == 404
    fake = client.post(f"/api/v1/hazards/{hazard_id}/attachments", data={"kind": "other"},
                       files={"file": ("x.jpg", b"GIF89a", "image/jpeg")}, headers=staff)
    assert fake.status_code in (409, 422)


def test_public_tipoff_and_status_lookup(client, hz_app, toy_district, login):
    response = client.post("/api/v1/reports", data={"lon": "118.07", "lat": "34.35", "description": "路边堆放液化气罐"},
                           files={"photo": ("p.jpg", JPEG, "image/jpeg")})
    assert response.status_code == 201, response.text
    code = response.json()["tracking_code"]
    status = client.get(f"/api/v1/reports/{code}").json()
    assert status["status"] == "reported" and set(status) == {"tracking_code", "status", "status_zh", "updated_at"}
    admin = login()
    hazards = client.get("/api/v1/hazards", headers=admin).json()["data"]
    assert hazards[0]["source"] == "public_report" and hazards[0]["grid_code"] == "320382103002"
    assert client.get("/api/v1/reports/JBNOSUCHCODE00").status_code == 404
    bad = client.post("/api/v1/reports", data={"lon": "34.35", "lat": "118.07", "description": "颠倒"})
    assert bad.status_code == 422


def test_tipoffs_are_rate_limited_per_client(client, hz_app, toy_district):
    codes = [client.post("/api/v1/reports", data={"lon": "117.93", "lat": "34.35", "description": f"第{i}次"}).status_code
             for i in range(5)]
    assert codes[:3] == [201, 201, 201] and codes[3:] == [429, 429]


def test_escalate_on_demand_admin_only(client, hz_app, toy_district, login):
    assert client.post("/api/v1/hazards/escalate", headers=login("township_leader", "320382102")).status_code == 403
    assert client.post("/api/v1/hazards/escalate", headers=login()).json() == []
    assert client.get("/api/v1/hazard-categories", headers=login()).json()[0]["group_zh"] == "消防"


def _move(client, headers, hazard_id, **body):
    return client.post(f"/api/v1/hazards/{hazard_id}/transition", json=body, headers=headers)


def test_refused_field_changes_over_http(client, hz_app, toy_district, login):
    leader = login("township_leader", "320382102")
    staff = login("grid_staff", "320382102001")
    hazard_id = _create(client, staff).json()["id"]
    for to, who in (("filed", leader), ("dispatched", leader), ("rectifying", staff)):
        assert _move(client, who, hazard_id, to=to).status_code == 200
    refused = _move(client, staff, hazard_id, to="verifying", deadline="2035-01-01T00:00:00")
    assert refused.status_code == 403 and "may not change the deadline" in refused.json()["message_en"]
    assert "整改期限" in refused.json()["message_zh"]
    wrong_step = _move(client, leader, hazard_id, to="verifying", supervising_official="王副镇长")
    assert wrong_step.status_code == 422 and "only be changed when filing" in wrong_step.json()["message_en"]
    assert client.get(f"/api/v1/hazards/{hazard_id}", headers=leader).json()["status"] == "rectifying"
    staff_deadline = _create(client, staff, deadline="2035-01-01T00:00:00")
    assert staff_deadline.status_code == 403


def test_expected_version_is_optimistic_concurrency(client, hz_app, toy_district, login):
    leader = login("township_leader", "320382102")
    created = _create(client, leader).json()
    photo = client.post(f"/api/v1/hazards/{created['id']}/attachments", data={"kind": "before_photo"},
                        files={"file": ("before.jpg", JPEG, "image/jpeg")}, headers=leader)
    assert photo.json()["hazard_version"] == created["version"] + 1
    stale = _move(client, leader, created["id"], to="filed", version=created["version"])
    assert stale.status_code == 409 and "reload" in stale.json()["message_en"]
    fresh = _move(client, leader, created["id"], to="filed", version=photo.json()["hazard_version"])
    assert fresh.status_code == 200 and fresh.json()["status"] == "filed"


def test_staff_may_enter_a_hotline_report(client, hz_app, toy_district, login):
    created = _create(client, login("grid_staff", "320382102001"), source="public_report")
    assert created.status_code == 201 and created.json()["source"] == "public_report"


def test_configured_taxonomy_applies_to_create_tipoff_and_inspections(client, hz_app, toy_district, login, tmp_path):
    path = tmp_path / "hazard-categories.json"
    path.write_text('[{"id": "mine_gas", "zh": "瓦斯超限", "en": "Gas over limit", "aliases": ["瓦斯"], '
                    '"group": "other"}]', encoding="utf-8")
    hz_app.state.settings.taxonomy.hazard_categories_file = str(path)
    admin = login()
    created = _create(client, admin, category="瓦斯")
    assert created.status_code == 201 and created.json()["category"] == "mine_gas"
    builtin = _create(client, admin, category="electrical_protection")
    assert builtin.status_code == 422 and "unknown hazard category" in builtin.json()["message_en"]
    assert [c["id"] for c in client.get("/api/v1/hazard-categories", headers=admin).json()] == ["mine_gas"]
    tip = client.post("/api/v1/reports", data={"lon": "117.93", "lat": "34.35", "description": "闻到瓦斯味"})
    assert tip.status_code == 201
    hazard_id = created.json()["id"]
    filed = _move(client, admin, hazard_id, to="filed", category="electrical_protection")
    assert filed.status_code == 422


def test_escalation_over_http_escalates(client, hz_app, session, toy_district, login):
    from tests.factories import make_person

    make_person(session, grid_code="320382102", role="first_responsible", name="镇长甲", phone="13900000001")
    admin = login()
    late = _create(client, admin, deadline="2025-01-01T00:00:00").json()
    on_time = _create(client, admin).json()
    escalated = client.post("/api/v1/hazards/escalate", headers=admin)
    assert escalated.status_code == 200
    assert [(e["hazard_id"], e["level"], e["target_code"]) for e in escalated.json()] == [(late["id"], 1, "320382102")]
    assert escalated.json()[0]["responsible"][0]["name"] == "镇长甲"
    detail = client.get(f"/api/v1/hazards/{late['id']}", headers=admin).json()
    assert detail["escalation_level"] == 1 and detail["overdue"] is True
    assert detail["events"][-1]["action"] == "escalate" and detail["events"][-1]["data"]["target_code"] == "320382102"
    assert client.get(f"/api/v1/hazards/{on_time['id']}", headers=admin).json()["escalation_level"] == 0
    assert client.post("/api/v1/hazards/escalate", headers=admin).json() == [], "not twice in one interval"


def test_tipoff_limit_is_per_client_address(hz_app, toy_district):
    from fastapi.testclient import TestClient

    first = TestClient(hz_app, client=("203.0.113.7", 50000))
    second = TestClient(hz_app, client=("198.51.100.9", 50000))
    form = {"lon": "117.93", "lat": "34.35", "description": "液化气罐堆放"}
    assert [first.post("/api/v1/reports", data=form).status_code for _ in range(4)] == [201, 201, 201, 429]
    assert second.post("/api/v1/reports", data=form).status_code == 201, "another address is not limited"
    assert first.post("/api/v1/reports", data=form).status_code == 429


def test_concurrent_transitions_to_different_states_exactly_one_wins(fresh_database, tmp_path):
    """Two leaders at once, from ``reported``: one files, the other rejects. Both requests
    read the hazard and queue on its row lock (held by a third connection until both
    wait, so the race really happens); exactly one gets 200, the other 409, and the log
    holds one transition. Repeated on four hazards."""
    import threading
    import time

    from fastapi.testclient import TestClient
    from sqlalchemy import create_engine, select, text
    from sqlalchemy.orm import Session

    from api.main import create_app
    from gridmap.auth import Scope, create_user, issue_token
    from gridmap.hazards import create_hazard
    from gridmap.models import Hazard, HazardEvent
    from gridmap.settings import AuthSettings, DatabaseSettings, Settings
    from tests.factories import make_toy_district

    settings = Settings(db=DatabaseSettings(database_url=fresh_database, test_database_url=fresh_database),
                        auth=AuthSettings(secret_key="race-secret-key-0123456789abcdef"),
                        hazards=HazardSettings(attachment_dir=str(tmp_path)))
    engine = create_engine(fresh_database)
    with Session(engine) as session:
        make_toy_district(session)
        leaders = [create_user(session, f"lead{i}", role="township_leader", scope="320382102",
                               password="password-123", settings=settings.auth) for i in (1, 2)]
        hazard_ids = [create_hazard(session, {"lon": 117.93, "lat": 34.35, "category": "fire_other",
                                              "description": f"并发{i}"}, actor=leaders[0],
                                    scope=Scope.of(leaders[0]), settings=settings.hazards).id for i in range(4)]
        session.commit()
        headers = [{"Authorization": f"Bearer {issue_token(u, secret=settings.auth.secret_key, settings=settings.auth)}"}
                   for u in leaders]
    app = create_app(settings)
    client = TestClient(app)
    assert client.get("/api/v1/hazards", headers=headers[0]).status_code == 200  # warm up
    waiting = text("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                   "AND application_name = 'gridmap-api' AND wait_event_type = 'Lock'")

    def queued(probe) -> int:
        count = probe.execute(waiting).scalar()
        probe.rollback()  # pg_stat_activity is a snapshot per transaction
        return count
    try:
        for hazard_id in hazard_ids:
            answers: dict[str, object] = {}

            def move(who, body, hazard_id=hazard_id, answers=answers):
                answers[body["to"]] = client.post(f"/api/v1/hazards/{hazard_id}/transition", json=body,
                                                  headers=headers[who])

            with engine.connect() as blocker, engine.connect() as probe:
                lock = blocker.begin()
                blocker.execute(text("SELECT 1 FROM hazard WHERE id = :i FOR UPDATE"), {"i": hazard_id})
                threads = [threading.Thread(target=move, args=(0, {"to": "filed"})),
                           threading.Thread(target=move, args=(1, {"to": "rejected", "note": "不是隐患"}))]
                for t in threads:
                    t.start()
                until = time.monotonic() + 4
                while queued(probe) < 2 and time.monotonic() < until:
                    time.sleep(0.02)
                assert queued(probe) == 2, "both requests queue on the row lock"
                lock.rollback()
            for t in threads:
                t.join(timeout=30)
            statuses = {to: response.status_code for to, response in answers.items()}
            assert sorted(statuses.values()) == [200, 409], statuses
            winner = next(to for to, code in statuses.items() if code == 200)
            loser = answers[next(to for to in statuses if to != winner)].json()
            assert "changed by someone else" in loser["message_en"] and "他人修改" in loser["message_zh"]
            with Session(engine) as session:
                assert session.get(Hazard, hazard_id).status == winner
                moves = session.scalars(select(HazardEvent.to_status).where(
                    HazardEvent.hazard_id == hazard_id, HazardEvent.action == "transition")).all()
                assert moves == [winner], "one transition in the log, the winner's"
    finally:
        app.state.engine.dispose()
        engine.dispose()
