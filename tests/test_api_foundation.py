"""API foundation: health, login, scope, grids, locate."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import text
from sqlalchemy.exc import ProgrammingError

from api.errors import _database_error, _problem_zh
from gridmap import coords
from gridmap.auth import create_user
from tests.factories import make_person


def test_healthz_is_public(client, toy_district):
    body = client.get("/healthz").json()
    assert body["status"] == "ok" and body["postgis"].startswith("3")
    assert body["active_boundary_set"] == toy_district.id


def test_docs_public_everything_else_needs_a_token(client, toy_district):
    assert client.get("/docs").status_code == 200
    assert client.get("/openapi.json").status_code == 200
    response = client.get("/api/v1/grids")
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"
    assert client.get("/api/v1/grids", headers={"Authorization": "Bearer nonsense"}).status_code == 401


def test_login_and_me(client, session, settings, toy_district):
    create_user(session, "leader", role="township_leader", scope="320382102", password="s3cret-pass",
                settings=settings.auth)
    token = client.post("/api/v1/auth/token", data={"username": "leader", "password": "s3cret-pass"}).json()
    assert token["token_type"] == "bearer" and token["scope"] == "320382102"
    me = client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {token['access_token']}"}).json()
    assert me == {"username": "leader", "role": "township_leader", "scope": "320382102"}
    wrong = client.post("/api/v1/auth/token", data={"username": "leader", "password": "nope-nope"})
    assert wrong.status_code == 401 and "wrong username or password" in wrong.json()["message"]


def test_login_guessing_is_rate_limited(client, session, settings, toy_district):
    create_user(session, "target", role="admin", password="right-password", settings=settings.auth)
    codes = [client.post("/api/v1/auth/token", data={"username": "target", "password": f"guess{i}"}).status_code
             for i in range(settings.auth.login_max_failures + 2)]
    assert codes[: settings.auth.login_max_failures] == [401] * settings.auth.login_max_failures
    assert codes[-1] == 429
    # Even the right password is refused while the lock lasts.
    right = client.post("/api/v1/auth/token", data={"username": "target", "password": "right-password"})
    assert right.status_code == 429


def test_grid_list_detail_and_scope(client, session, toy_district, login):
    make_person(session, grid_code="320382102001", role="first_responsible", name="李娜", phone="13800000002")
    make_person(session, grid_code="320382102001", role="patrol_officer", name="赵敏")
    admin = login("admin")
    listing = client.get("/api/v1/grids", params={"level": "village"}, headers=admin).json()
    assert listing["count"] == 4 and listing["set_id"] == toy_district.id
    detail = client.get("/api/v1/grids/320382102001", headers=admin).json()
    assert [p["code"] for p in detail["parents"]] == ["320382", "320382102"]
    assert detail["persons"]["first_responsible"][0]["name"] == "李娜"
    assert list(detail["persons"]) == ["first_responsible", "patrol_officer"]
    leader = login("township_leader", "320382102")
    mine = client.get("/api/v1/grids", headers=leader).json()
    assert {g["code"] for g in mine["data"]} == {"320382102", "320382102001", "320382102002"}
    assert client.get("/api/v1/grids/320382103001", headers=leader).status_code == 404
    assert client.get("/api/v1/grids/320382", headers=leader).status_code == 404
    own = client.get("/api/v1/grids/320382102001", headers=leader).json()
    assert [p["code"] for p in own["parents"]] == ["320382102"], "no ancestor above the scope"
    assert client.get("/api/v1/grids/320382103001/geojson", headers=leader).status_code == 404


def test_grid_geojson(client, toy_district, login):
    feature = client.get("/api/v1/grids/320382102001/geojson", headers=login()).json()
    assert feature["type"] == "Feature" and feature["geometry"]["type"] == "MultiPolygon"
    assert set(feature["geometry"]) == {"type", "coordinates"}, "no crs member (RFC 7946)"
    ring = feature["geometry"]["coordinates"][0][0]
    assert min(x for x, _ in ring) == 117.9 and max(y for _, y in ring) == 34.4


def test_locate_with_each_crs(client, session, toy_district, login):
    make_person(session, grid_code="320382103002", role="first_responsible", name="陈杰")
    admin = login()
    wgs = (118.07, 34.35)
    for crs, (lon, lat) in {
        "wgs84": wgs,
        "gcj02": coords.wgs84_to_gcj02(*wgs),
        "bd09": coords.wgs84_to_bd09(*wgs),
    }.items():
        body = client.get("/api/v1/locate", params={"lon": lon, "lat": lat, "crs": crs}, headers=admin).json()
        assert [g["code"] for g in body["grids"]] == ["320382", "320382103", "320382103002"], crs
        assert body["grids"][2]["persons"]["first_responsible"][0]["name"] == "陈杰"


def test_locate_gcj02_point_near_border_needs_conversion(client, toy_district, login):
    """A point 200 m inside 320382103001 (west of the 118.05 border): its GCJ-02 numbers,
    read as WGS84, fall in the neighbouring village."""
    admin = login()
    lon, lat = 118.0478, 34.35
    glon, glat = coords.wgs84_to_gcj02(lon, lat)
    right = client.get("/api/v1/locate", params={"lon": glon, "lat": glat, "crs": "gcj02"}, headers=admin).json()
    wrong = client.get("/api/v1/locate", params={"lon": glon, "lat": glat, "crs": "wgs84"}, headers=admin).json()
    assert right["grids"][-1]["code"] == "320382103001"
    assert wrong["grids"][-1]["code"] == "320382103002"


def test_locate_on_a_shared_border_returns_every_covering_grid(client, session, toy_district, login):
    from gridmap.placement import place_points

    body = client.get("/api/v1/locate", params={"lon": 118.0, "lat": 34.35}, headers=login()).json()
    # On the border of both townships (and of villages 102002 and 103001): all of them,
    # district first, then by level and code.
    assert [g["code"] for g in body["grids"]] == [
        "320382", "320382102", "320382103", "320382102002", "320382103001"]
    # Placement takes the first (smallest) code of the bottom level.
    codes, kinds, _ = place_points(session, set_id=toy_district.id, lon=[118.0], lat=[34.35])
    assert (codes[0], kinds[0]) == ("320382102002", "exact")
    leader = login("township_leader", "320382103")
    mine = client.get("/api/v1/locate", params={"lon": 118.0, "lat": 34.35}, headers=leader).json()
    assert [g["code"] for g in mine["grids"]] == ["320382103", "320382103001"], "only inside the scope"


def test_locate_inside_one_village_returns_its_chain(client, toy_district, login):
    body = client.get("/api/v1/locate", params={"lon": 117.92, "lat": 34.35}, headers=login()).json()
    assert [g["code"] for g in body["grids"]] == ["320382", "320382102", "320382102001"]


def test_locate_bad_input_is_4xx_one_line(client, toy_district, login):
    admin = login()
    swapped = client.get("/api/v1/locate", params={"lon": 34.35, "lat": 118.07}, headers=admin)
    assert swapped.status_code == 422 and "swapped" in swapped.json()["message"]
    crs = client.get("/api/v1/locate", params={"lon": 118.07, "lat": 34.35, "crs": "EPSG:3857"}, headers=admin)
    assert crs.status_code == 422 and "\n" not in crs.json()["message"]
    word = client.get("/api/v1/locate", params={"lon": "east", "lat": 34.35}, headers=admin)
    assert word.status_code == 422
    leader = login("township_leader", "320382102")
    elsewhere = client.get("/api/v1/locate", params={"lon": 118.07, "lat": 34.35}, headers=leader).json()
    assert elsewhere["grids"] == []


def test_unknown_set_is_404_and_older_set_queryable(client, session, toy_district, login):
    from tests.factories import make_toy_district

    admin = login()
    assert client.get("/api/v1/grids", params={"set": 999999}, headers=admin).status_code == 404
    toy_district.status = "retired"
    session.flush()
    newer = make_toy_district(session)
    old = client.get("/api/v1/grids/320382102", params={"set": toy_district.id}, headers=admin).json()
    assert old["set_id"] == toy_district.id
    assert client.get("/api/v1/grids/320382102", headers=admin).json()["set_id"] == newer.id


def test_validation_errors_speak_chinese_in_the_chinese_half(client, toy_district, login):
    admin = login()
    missing = client.get("/api/v1/locate", params={"lon": 118.07}, headers=admin).json()
    assert missing["message_zh"] == "参数 lat 不正确：缺少必填项"
    assert missing["message_en"] == "invalid parameter lat: Field required"
    word = client.get("/api/v1/locate", params={"lon": "east", "lat": 34.35}, headers=admin).json()
    assert word["message_zh"] == "参数 lon 不正确：应为数字" and "valid number" in word["message_en"]
    page = client.get("/api/v1/grids", params={"limit": 5000}, headers=admin).json()
    assert page["message_zh"] == "参数 limit 不正确：应小于或等于 1000"
    level = client.get("/api/v1/grids", params={"level": "county"}, headers=admin).json()
    assert level["message_zh"] == "参数 level 不正确：格式不符合要求"
    long = client.get("/api/v1/grids", params={"q": "x" * 51}, headers=admin).json()
    assert long["message_zh"] == "参数 q 不正确：最多 50 个字符"
    assert long["detail"][0]["problem_zh"] == "最多 50 个字符" and "at most 50" in long["detail"][0]["problem"]
    for body in (missing, word, page, level, long):
        assert not any(c.isascii() and c.isalpha() for c in body["message_zh"].split("：", 1)[1]), body


def test_pydantic_error_types_in_chinese():
    assert _problem_zh({"type": "extra_forbidden"}) == "不允许的字段"
    assert _problem_zh({"type": "literal_error", "ctx": {"expected": "'a', 'b' or 'c'"}}) == "应为以下之一：'a', 'b' 或 'c'"
    assert _problem_zh({"type": "string_too_short", "ctx": {"min_length": 1}}) == "至少 1 个字符"
    assert _problem_zh({"type": "greater_than_equal", "ctx": {"ge": 0}}) == "应大于或等于 0"
    assert _problem_zh({"type": "int_parsing"}) == "应为整数"
    assert _problem_zh({"type": "something_new"}) == "取值不正确"
    assert _problem_zh({"type": "too_long"}) == "取值不正确", "a missing ctx value never leaks braces"


def test_a_missing_table_is_503_saying_run_db_up(session):
    """What the API answers when the schema is behind the code (a real PostgreSQL error)."""
    with pytest.raises(ProgrammingError) as caught, session.begin_nested():
        session.execute(text("SELECT * FROM table_from_a_later_migration"))
    response = _database_error(None, caught.value)
    body = json.loads(response.body)
    assert response.status_code == 503 and body["error"] == "database_not_migrated"
    assert body["message"] == ("数据库尚未初始化或版本落后（缺少表）：请先运行 gridmap db up / the database has no "
                               "schema yet or an older one (a table is missing): run `gridmap db up`")
