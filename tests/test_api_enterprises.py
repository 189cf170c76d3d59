"""Enterprise API: create, update, read, list, import upload, ledgers — with scope."""

from __future__ import annotations

import json
import random

from gridmap.uscc import make_uscc

RNG = random.Random(42)


def _uscc() -> str:
    return make_uscc(RNG, "320382")


def _create(client, headers, **values):
    body = {"uscc": _uscc(), "name": "测试企业", "lon": 117.93, "lat": 34.35, **values}
    return client.post("/api/v1/enterprises", json=body, headers=headers)


def test_create_get_patch(client, toy_district, login):
    admin = login()
    created = _create(client, admin, sector="危险化学品", risk_level="重大", department="应急管理局")
    assert created.status_code == 201, created.text
    body = created.json()
    assert (body["placement"], body["grid_code"], body["sector"]) == ("exact", "320382102001", "hazardous_chemicals")
    uscc = body["uscc"]
    moved = client.patch(f"/api/v1/enterprises/{uscc}", json={"lon": 118.07, "lat": 34.35}, headers=admin).json()
    assert moved["grid_code"] == "320382103002" and moved["sector"] == "hazardous_chemicals"
    renamed = client.patch(f"/api/v1/enterprises/{uscc}", json={"name": "新名"}, headers=admin).json()
    assert renamed["name"] == "新名" and renamed["grid_code"] == "320382103002", "location kept"
    assert client.get(f"/api/v1/enterprises/{uscc.lower()}", headers=admin).json()["name"] == "新名"


def test_bad_bodies_are_4xx(client, toy_district, login):
    admin = login()
    assert _create(client, admin, uscc="91320382MA1234567X").status_code == 422
    assert _create(client, admin, lon=34.35, lat=117.93).status_code == 422
    assert _create(client, admin, grid_code="320382103001").status_code == 422, "no mass assignment"
    assert _create(client, admin, placement="exact").status_code == 422
    first = _create(client, admin)
    again = client.post("/api/v1/enterprises", json={"uscc": first.json()["uscc"], "name": "x"}, headers=admin)
    assert again.status_code == 409
    assert client.patch("/api/v1/enterprises/NOPE", json={"name": "x"}, headers=admin).status_code == 404


def test_scope_on_enterprises(client, toy_district, login):
    admin = login()
    mine = _create(client, admin, lon=117.93).json()["uscc"]
    theirs = _create(client, admin, lon=118.07).json()["uscc"]
    leader = login("township_leader", "320382102")
    assert client.get(f"/api/v1/enterprises/{mine}", headers=leader).status_code == 200
    assert client.get(f"/api/v1/enterprises/{theirs}", headers=leader).status_code == 404
    listed = client.get("/api/v1/enterprises", headers=leader).json()
    assert [e["uscc"] for e in listed["data"]] == [mine]
    assert client.patch(f"/api/v1/enterprises/{theirs}", json={"name": "x"}, headers=leader).status_code == 404
    moved_out = client.patch(f"/api/v1/enterprises/{mine}", json={"lon": 118.07}, headers=leader)
    assert moved_out.status_code == 403
    assert _create(client, leader, lon=118.07).status_code == 403
    authority = login("authority", "320382")
    assert client.get(f"/api/v1/enterprises/{theirs}", headers=authority).status_code == 200
    assert _create(client, authority).status_code == 403, "authority is read-only"


def test_list_filters(client, toy_district, login):
    admin = login()
    a = _create(client, admin, name="邳州银杏木业有限公司", sector="粉尘涉爆").json()["uscc"]
    _create(client, admin, name="官湖加油站", sector="加油站", lon=118.07)
    _create(client, admin, name="无处企业", lon=118.5, lat=34.35)
    assert client.get("/api/v1/enterprises", params={"q": "银杏"}, headers=admin).json()["data"][0]["uscc"] == a
    assert client.get("/api/v1/enterprises", params={"q": a[:10]}, headers=admin).json()["count"] == 1
    assert client.get("/api/v1/enterprises", params={"grid": "320382103"}, headers=admin).json()["count"] == 1
    unplaced = client.get("/api/v1/enterprises", params={"placement": "unplaced"}, headers=admin).json()
    assert [e["name"] for e in unplaced["data"]] == ["无处企业"]
    assert client.get("/api/v1/enterprises", params={"placement": "nowhere"}, headers=admin).status_code == 422
    assert client.get("/api/v1/enterprises", params={"limit": 5000}, headers=admin).status_code == 422


def test_import_upload(client, toy_district, login):
    u1, u2 = _uscc(), _uscc()
    content = ("统一社会信用代码,企业名称,地址,经度,纬度\n"
               f"{u1},甲,,117.93,34.35\n{u2},乙,,34.35,117.93\n").encode("utf-8-sig")
    response = client.post("/api/v1/enterprises/import", files={"file": ("r.csv", content, "text/csv")},
                           headers=login())
    body = response.json()
    assert response.status_code == 200 and (body["added"], body["rejected_rows"]) == (1, 1)
    assert body["rejected"][0]["row"] == 3 and "swapped" in body["rejected"][0]["reason_en"]
    bad = client.post("/api/v1/enterprises/import", files={"file": ("r.exe", b"MZ", "application/octet-stream")},
                      headers=login())
    assert bad.status_code == 422
    leader = login("township_leader", "320382103")
    scoped = client.post("/api/v1/enterprises/import", files={"file": ("r.csv", content, "text/csv")},
                         headers=leader).json()
    assert scoped["rejected_rows"] == 2, "a township's staff cannot import another township's enterprise"


def test_ledgers(client, toy_district, login):
    admin = login()
    _create(client, admin, sector="危险化学品", risk_level="重大", department="应急管理局")
    _create(client, admin, sector="粉尘涉爆", risk_level="一般", department="应急管理局", lon=117.97)
    _create(client, admin, sector="加油站", department="商务局", lon=118.07)
    book = client.get("/api/v1/ledgers/township/320382102", headers=admin).json()
    assert book["total"] == 2 and book["by_sector"] == {"dust_explosion": 1, "hazardous_chemicals": 1}
    assert book["by_sector_zh"] == {"粉尘涉爆": 1, "危险化学品": 1}
    assert book["by_risk"] == {"major": 1, "medium": 1}
    assert book["by_child"] == [{"code": "320382102001", "name": "甲村", "count": 1},
                                {"code": "320382102002", "name": "乙社区", "count": 1}]
    village = client.get("/api/v1/ledgers/village/320382103002", headers=admin).json()
    assert village["total"] == 1 and village["enterprises"][0]["sector"] == "gas_stations"
    department = client.get("/api/v1/ledgers/department/应急管理局", headers=admin).json()
    assert department["total"] == 2 and department["by_township"] == {"320382102": 2}
    leader = login("township_leader", "320382103")
    assert client.get("/api/v1/ledgers/township/320382102", headers=leader).status_code == 404
    assert client.get("/api/v1/ledgers/department/应急管理局", headers=leader).status_code == 404
    assert client.get("/api/v1/ledgers/department/商务局", headers=leader).json()["total"] == 1
    assert client.get("/api/v1/ledgers/village/320382102", headers=admin).status_code == 404


def _custom_sectors(tmp_path):
    path = tmp_path / "sectors.json"
    path.write_text(json.dumps([
        {"id": "aquaculture", "zh": "水产养殖", "en": "Aquaculture", "aliases": ["养殖"]},
        {"id": "hazardous_chemicals", "zh": "危险化学品", "en": "Hazardous chemicals"},
    ], ensure_ascii=False), encoding="utf-8")
    return str(path)


def test_ledgers_know_the_configured_sector_taxonomy(client, app, toy_district, login, tmp_path):
    """A deployment's own sector (GRIDMAP_TAXONOMY_SECTORS_FILE) is accepted by the API and
    named in every book it appears in."""
    app.state.settings.taxonomy.sectors_file = _custom_sectors(tmp_path)
    admin = login()
    created = _create(client, admin, sector="水产养殖", department="农业农村局")
    assert created.status_code == 201 and created.json()["sector"] == "aquaculture"
    assert created.json()["warnings"] == []
    for path in ("/api/v1/ledgers/township/320382102", "/api/v1/ledgers/village/320382102001",
                 "/api/v1/ledgers/department/农业农村局"):
        book = client.get(path, headers=admin)
        assert book.status_code == 200, (path, book.text)
        assert book.json()["by_sector"] == {"aquaculture": 1}
        assert book.json()["by_sector_zh"] == {"水产养殖": 1}


def test_a_sector_dropped_from_the_taxonomy_still_shows_in_the_book(client, app, toy_district, login, tmp_path):
    admin = login()
    _create(client, admin, sector="加油站")
    app.state.settings.taxonomy.sectors_file = _custom_sectors(tmp_path)  # no gas stations any more
    book = client.get("/api/v1/ledgers/township/320382102", headers=admin)
    assert book.status_code == 200 and book.json()["by_sector_zh"] == {"gas_stations": 1}


def test_create_and_patch_return_the_warnings_an_import_gives(client, toy_district, login):
    admin = login()
    created = _create(client, admin, sector="养殖业")
    assert created.status_code == 201
    body = created.json()
    assert (body["sector"], body["sector_raw"]) == ("other", "养殖业")
    [warning] = body["warnings"]
    assert warning["field"] == "sector"
    assert "养殖业" in warning["reason_zh"] and "not in the taxonomy" in warning["reason_en"]
    fixed = client.patch(f"/api/v1/enterprises/{body['uscc']}", json={"sector": "冷库"}, headers=admin).json()
    assert (fixed["sector"], fixed["warnings"]) == ("cold_storage", [])
    again = client.patch(f"/api/v1/enterprises/{body['uscc']}", json={"sector": "渔业"}, headers=admin).json()
    assert again["sector_raw"] == "渔业" and [w["field"] for w in again["warnings"]] == ["sector"]
    assert "warnings" not in client.get(f"/api/v1/enterprises/{body['uscc']}", headers=admin).json()
