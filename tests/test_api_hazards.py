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
