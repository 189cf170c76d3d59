"""Patrol check-ins (巡查打卡): conversion and placement, scope, time bounds, activity."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from gridmap.auth import Scope, create_user
from gridmap.coords import wgs84_to_gcj02
from gridmap.coverage import last_activity
from gridmap.errors import Forbidden, InvalidInput
from gridmap.inspections import CHINA_TZ
from gridmap.patrols import create_patrol

NOW = datetime(2025, 6, 10, 9, 0, tzinfo=CHINA_TZ)
# 甲村 (320382102001) ends at 117.95; this WGS84 point lies 180 m inside it, and its
# GCJ-02 coordinates (what Amap shows) fall 300 m inside 乙社区 (320382102002).
NEAR_BORDER_WGS84 = (117.948, 34.35)


@pytest.fixture
def staff(session, settings, toy_district):
    return create_user(session, "staff-a1", role="grid_staff", scope="320382102001", password="password-123",
                       settings=settings.auth)


def _check_in(session, actor, **values):
    body = {"lon": 117.925, "lat": 34.35, "crs": "wgs84", **values}
    return create_patrol(session, body, actor=actor, scope=Scope.of(actor), now=NOW)


def test_a_gcj02_point_is_converted_before_placing(session, staff):
    lon, lat = wgs84_to_gcj02(*NEAR_BORDER_WGS84)
    assert lon > 117.95, "as raw numbers the GCJ-02 point lies in the neighbouring village"
    patrol = _check_in(session, staff, lon=lon, lat=lat, crs="gcj02")
    assert (patrol.grid_code, patrol.home_code, patrol.placement) == ("320382102001", "320382102001", "exact")
    assert patrol.source_crs == "gcj02" and patrol.district_code == "320382"
    with pytest.raises(Forbidden):
        _check_in(session, staff, lon=lon, lat=lat, crs="wgs84")


def test_check_in_outside_the_users_grids_is_refused(session, staff, settings):
    with pytest.raises(Forbidden):
        _check_in(session, staff, lon=118.075)
    with pytest.raises(InvalidInput):
        _check_in(session, staff, lon=116.40, lat=39.90)
    authority = create_user(session, "city", role="authority", scope="320382", password="password-123",
                            settings=settings.auth)
    with pytest.raises(Forbidden):
        _check_in(session, authority)
    admin = create_user(session, "cc", role="admin", password="password-123", settings=settings.auth)
    assert _check_in(session, admin, lon=118.075).grid_code == "320382103002"


@pytest.mark.parametrize("at,ok", [
    (NOW, True),
    (NOW + timedelta(minutes=4), True),
    (NOW + timedelta(minutes=6), False),
    (NOW - timedelta(days=7), True),
    (NOW - timedelta(days=7, seconds=1), False),
    (datetime(2025, 6, 10, 9, 3), True),   # naive: China Standard Time, 3 minutes ahead
    (datetime(2025, 6, 10, 9, 6), False),  # naive, 6 minutes ahead (as UTC it would be hours ago)
])
def test_time_bounds(session, staff, at, ok):
    if ok:
        patrol = _check_in(session, staff, at=at)
        assert patrol.at == (at if at.tzinfo else at.replace(tzinfo=CHINA_TZ))
    else:
        with pytest.raises(InvalidInput):
            _check_in(session, staff, at=at)


def test_a_check_in_is_activity_for_the_stale_check(session, staff):
    _check_in(session, staff, at=NOW - timedelta(hours=2))
    _check_in(session, staff, at=NOW - timedelta(hours=1))
    latest = last_activity(session, ["320382102001", "320382102002"])
    assert latest == {"320382102001": NOW - timedelta(hours=1)}


def test_patrol_api(client, toy_district, login):
    staff = login("grid_staff", "320382102001")
    lon, lat = wgs84_to_gcj02(*NEAR_BORDER_WGS84)
    created = client.post("/api/v1/patrols", json={"lon": lon, "lat": lat, "crs": "gcj02", "note": "例行巡查"},
                          headers=staff)
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["grid_code"] == "320382102001" and body["note"] == "例行巡查"
    assert body["lon"] == pytest.approx(NEAR_BORDER_WGS84[0], abs=1e-6), "stored in CGCS2000"
    assert datetime.now(UTC) - datetime.fromisoformat(body["at"]) < timedelta(minutes=1), "at defaults to now"
    outside = client.post("/api/v1/patrols", json={"lon": 118.075, "lat": 34.35}, headers=staff)
    assert outside.status_code == 403 and " / " in outside.json()["message"]
    future = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    assert client.post("/api/v1/patrols", json={"lon": 117.925, "lat": 34.35, "at": future},
                       headers=staff).status_code == 422
    old = (datetime.now(UTC) - timedelta(days=8)).isoformat()
    assert client.post("/api/v1/patrols", json={"lon": 117.925, "lat": 34.35, "at": old},
                       headers=staff).status_code == 422
    assert client.post("/api/v1/patrols", json={"lon": 34.35, "lat": 117.925}, headers=staff).status_code == 422
    assert client.post("/api/v1/patrols", json={"lon": 117.925, "lat": 34.35, "crs": "bd09mc"},
                       headers=staff).status_code == 422
    assert client.post("/api/v1/patrols", json={"lon": 117.925, "lat": 34.35, "grid_code": "x"},
                       headers=staff).status_code == 422
    assert client.post("/api/v1/patrols", json={"lon": 117.925, "lat": 34.35},
                       headers=login("authority", "320382")).status_code == 403
    admin = login()
    client.post("/api/v1/patrols", json={"lon": 118.075, "lat": 34.35}, headers=admin)
    assert client.get("/api/v1/patrols", headers=admin).json()["count"] == 2
    mine = client.get("/api/v1/patrols", headers=staff).json()
    assert [p["grid_code"] for p in mine["data"]] == ["320382102001"] and mine["data"][0]["username"]
    assert client.get("/api/v1/patrols", params={"grid": "320382103"}, headers=admin).json()["count"] == 1
    today = datetime.now(CHINA_TZ).date()
    window = {"from": (today - timedelta(days=1)).isoformat(), "to": (today + timedelta(days=1)).isoformat()}
    assert client.get("/api/v1/patrols", params=window, headers=admin).json()["count"] == 2
    assert client.get("/api/v1/patrols", params={"to": (today - timedelta(days=1)).isoformat()},
                      headers=admin).json()["count"] == 0
