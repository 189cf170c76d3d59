"""OGC API – Features under /ogc: documents, paging, bbox and CRS (Part 2), property
filters, scope, HTML — and the round trip through GDAL's OAPIF driver (Debian gdal-bin's
ogrinfo/ogr2ogr) against the real app on loopback."""

from __future__ import annotations

import itertools
import json
import os
import random
import subprocess
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import pyogrio
import pyogrio.raw
import pytest
from pyproj import Transformer

from gridmap.auth import Scope
from gridmap.hazards import create_hazard
from gridmap.models import Enterprise
from gridmap.settings import HazardSettings
from gridmap.uscc import make_uscc
from tests.factories import DISTRICT, TOWNSHIP_A, TOWNSHIP_B, make_person

OGRINFO, OGR2OGR = Path("/usr/bin/ogrinfo"), Path("/usr/bin/ogr2ogr")
CRS84 = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"
EPSG4326 = "http://www.opengis.net/def/crs/EPSG/0/4326"
EPSG4490 = "http://www.opengis.net/def/crs/EPSG/0/4490"
EPSG3857 = "http://www.opengis.net/def/crs/EPSG/0/3857"
GUANHU = "320382103"


@pytest.fixture
def district(session, toy_district):
    """The toy district with two enterprises per township and a hazard in township A."""
    rng = random.Random(3)
    for name, village, point, sector, risk in (
        ("甲村化工厂", "320382102001", (117.92, 34.35), "hazardous_chemicals", "major"),
        ("乙社区超市", "320382102002", (117.97, 34.36), "crowded_places", "low"),
        ("丙村建材厂", "320382103001", (118.02, 34.33), "general_manufacturing", "medium"),
        ("丁村加油站", "320382103002", (118.07, 34.38), "gas_stations", "high"),
    ):
        session.add(Enterprise(uscc=make_uscc(rng, DISTRICT), name=name, sector=sector, risk_level=risk,
                               placement="exact", grid_code=village, village_code=village,
                               township_code=village[:9], district_code=DISTRICT, home_code=village,
                               location=f"SRID=4490;POINT({point[0]} {point[1]})"))
    session.flush()
    make_person(session, grid_code="320382102001", role="first_responsible", name="王芳", phone="13900000011")
    create_hazard(session, {"lon": 117.93, "lat": 34.36, "crs": "cgcs2000", "category": "fire_exit_blocked",
                            "description": "仓库安全出口堵塞"}, actor=None, scope=Scope.everything(),
                  settings=HazardSettings())
    return toy_district


def _get(client, path, headers, **params):
    response = client.get(path, params=params, headers=headers)
    assert response.status_code == 200, response.text
    return response


# ---------------------------------------------------------------- documents

def test_landing_conformance_and_collections(client, district, login):
    headers = login("admin")
    landing = _get(client, "/ogc", headers).json()
    rels = {link["rel"]: link for link in landing["links"]}
    assert rels["service-desc"]["href"].endswith("/ogc/api")
    assert rels["service-desc"]["type"] == "application/vnd.oai.openapi+json;version=3.0"
    assert rels["data"]["href"].endswith("/ogc/collections") and "conformance" in rels
    classes = _get(client, "/ogc/conformance", headers).json()["conformsTo"]
    assert "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core" in classes
    assert "http://www.opengis.net/spec/ogcapi-features-2/1.0/conf/crs" in classes
    assert "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/oas30" in classes

    collections = _get(client, "/ogc/collections", headers).json()
    assert [c["id"] for c in collections["collections"]] == [
        "grids_district", "grids_township", "grids_village", "enterprises", "hazards"]
    villages = collections["collections"][2]
    assert villages["title"] == "村/社区网格" and villages["itemType"] == "feature"
    assert villages["extent"]["spatial"]["bbox"] == [[117.9, 34.3, 118.1, 34.4]]
    assert villages["storageCrs"] == EPSG4490 and {CRS84, EPSG4326, EPSG3857} <= set(villages["crs"])
    # GDAL 3.6 fetches one feature at "<items href>/<id>": no query string in that href.
    items_link = next(link for link in villages["links"] if link["rel"] == "items"
                      and link["type"] == "application/geo+json")
    assert items_link["href"].endswith("/ogc/collections/grids_village/items")
    older = _get(client, "/ogc/collections/grids_village", headers, set=district.id).json()
    assert any(link["href"].endswith(f"/items?set={district.id}") for link in older["links"])
    assert _get(client, "/ogc/collections/enterprises", headers).json()["id"] == "enterprises"
    assert client.get("/ogc/collections/grids_micro", headers=headers).status_code == 404  # none in the set
    assert client.get("/ogc/collections/roads", headers=headers).status_code == 404


def test_api_definition_schema_and_queryables(client, district, login):
    headers = login("admin")
    api = _get(client, "/ogc/api", headers)
    assert api.headers["content-type"] == "application/vnd.oai.openapi+json;version=3.0"
    document = api.json()
    # OpenAPI 3.0, as the media type and the oas30 conformance class say: no 3.1 forms.
    assert document["openapi"] == "3.0.3"
    text = json.dumps(document)
    assert '{"type": "null"}' not in text and '"type": [' not in text and '"const"' not in text
    assert set(document["components"]["schemas"]) == {"ErrorBody"}  # only what /ogc uses
    assert document["components"]["schemas"]["ErrorBody"]["properties"]["detail"]["nullable"] is True
    assert document["servers"][0]["url"].endswith("/ogc")
    parameters = {p["name"]: p for p in document["paths"]["/collections/enterprises/items"]["get"]["parameters"]}
    # Advertised where GDAL 3.8+ reads its page size from.
    assert (parameters["limit"]["schema"]["maximum"], parameters["limit"]["schema"]["default"]) == (10_000, 100)
    assert {"sector", "risk_level", "township_code"} <= set(parameters)
    schema = _get(client, "/ogc/collections/enterprises/schema", headers).json()
    properties = schema["properties"]["properties"]["properties"]
    assert properties["name"]["title"] == "企业名称"
    assert properties["major_hazard_grade"]["type"] == "integer"
    assert properties["updated_at"]["format"] == "date-time"
    queryables = _get(client, "/ogc/collections/hazards/queryables", headers).json()["properties"]
    assert {"status", "grade", "overdue"} <= set(queryables) and "description" not in queryables


def test_a_token_is_required(client, district):
    assert client.get("/ogc").status_code == 401
    assert client.get("/ogc/collections/enterprises/items").status_code == 401


# -------------------------------------------------------------------- items

def test_paging_with_limit_offset_and_links(client, district, login):
    headers = login("admin")
    first = _get(client, "/ogc/collections/grids_village/items", headers, limit=3)
    page = first.json()
    assert first.headers["content-type"] == "application/geo+json"
    assert (page["numberMatched"], page["numberReturned"]) == (4, 3)
    assert [f["id"] for f in page["features"]] == ["320382102001", "320382102002", "320382103001"]
    links = {link["rel"]: link["href"] for link in page["links"]}
    assert "prev" not in links
    # The next page is at least 1,000 features: clients that ask for tiny pages and then
    # follow "next" (GDAL before 3.8 asks for 10) need far fewer requests.
    query = parse_qs(urlsplit(links["next"]).query)
    assert query == {"limit": ["1000"], "offset": ["3"]}
    second = client.get(links["next"], headers=headers).json()
    assert [f["id"] for f in second["features"]] == ["320382103002"]
    links = {link["rel"]: link["href"] for link in second["links"]}
    assert "next" not in links and parse_qs(urlsplit(links["prev"]).query) == {"limit": ["1000"]}
    big = _get(client, "/ogc/collections/grids_village/items", headers, limit=50_000).json()
    assert big["numberReturned"] == 4  # beyond the maximum the page is cut, not refused

    feature = page["features"][0]
    assert feature["properties"]["name"] == "甲村" and feature["properties"]["level_zh"] == "村/社区"
    assert feature["properties"]["first_responsible"] == "王芳"
    assert "lon" not in feature["properties"]


@pytest.mark.parametrize("params", [
    {"limit": "0"}, {"limit": "ten"}, {"offset": "-1"}, {"bbox": "1,2,3"}, {"bbox": "118,34,117,35"},
    {"crs": "EPSG:2000"}, {"bbox-crs": EPSG4326}, {"datetime": "yesterday"}, {"colour": "red"},
    {"f": "xml"}, {"is_leaf": "maybe"}, {"set": "abc"}, {"datetime": "../.."},
])
def test_malformed_or_unknown_parameters_are_400(client, district, login, params):
    response = client.get("/ogc/collections/grids_village/items", params=params, headers=login("admin"))
    assert response.status_code == 400, params
    assert response.json()["error"] == "invalid_parameter" and " / " in response.json()["message"]


def test_bbox_in_each_crs_selects_the_same_features(client, district, login):
    headers = login("admin")

    def codes(**params):
        page = _get(client, "/ogc/collections/grids_village/items", headers, **params).json()
        return sorted(f["id"] for f in page["features"])

    west = codes(bbox="117.90,34.30,117.94,34.40")
    assert west == ["320382102001"]
    # EPSG:4326 and EPSG:4490 put latitude first.
    assert codes(bbox="34.30,117.90,34.40,117.94", **{"bbox-crs": EPSG4326}) == west
    assert codes(bbox="34.30,117.90,34.40,117.94", **{"bbox-crs": "EPSG:4490"}) == west
    to_mercator = Transformer.from_crs(4326, 3857, always_xy=True)
    x0, y0 = to_mercator.transform(117.90, 34.30)
    x1, y1 = to_mercator.transform(117.94, 34.40)
    assert codes(bbox=f"{x0},{y0},{x1},{y1}", **{"bbox-crs": EPSG3857}) == west
    enterprises = _get(client, "/ogc/collections/enterprises/items", headers, bbox="118.0,34.3,118.1,34.4").json()
    assert sorted(f["properties"]["name"] for f in enterprises["features"]) == ["丁村加油站", "丙村建材厂"]


def test_crs_of_the_response_follows_its_axis_order(client, district, login):
    headers = login("admin")

    def point(crs=None):
        params = {"sector": "hazardous_chemicals"} | ({"crs": crs} if crs else {})
        response = _get(client, "/ogc/collections/enterprises/items", headers, **params)
        return response.headers["content-crs"], response.json()["features"][0]["geometry"]["coordinates"]

    assert point() == (f"<{CRS84}>", [117.92, 34.35])
    assert point(EPSG4326) == (f"<{EPSG4326}>", [34.35, 117.92])
    assert point(EPSG4490) == (f"<{EPSG4490}>", [34.35, 117.92])
    for crs in (None, EPSG4326, EPSG4490, EPSG3857):  # GeoJSON geometries carry no "crs" member
        params = {"crs": crs} if crs else {}
        features = _get(client, "/ogc/collections/grids_village/items", headers, **params).json()["features"]
        assert all(set(f["geometry"]) == {"type", "coordinates"} for f in features), crs
    header, (x, y) = point(EPSG3857)
    assert header == f"<{EPSG3857}>"
    assert (x, y) == pytest.approx(Transformer.from_crs(4326, 3857, always_xy=True).transform(117.92, 34.35), abs=0.01)
    ring = _get(client, "/ogc/collections/grids_township/items", headers, code=TOWNSHIP_A).json()[
        "features"][0]["geometry"]["coordinates"][0][0]
    area = sum(x0 * y1 - x1 * y0 for (x0, y0), (x1, y1) in itertools.pairwise(ring))
    assert area > 0  # RFC 7946: exterior ring counter-clockwise


def test_property_filters(client, district, login):
    headers = login("admin")

    def matched(collection, **params):
        return _get(client, f"/ogc/collections/{collection}/items", headers, **params).json()["numberMatched"]

    assert matched("enterprises", sector="gas_stations") == 1
    assert matched("enterprises", township_code=TOWNSHIP_B, risk_level="medium") == 1
    assert matched("grids_village", parent_code=TOWNSHIP_A) == 2
    assert matched("grids_village", level="village", is_leaf="true") == 4
    assert matched("hazards", status="reported", grade="general") == 1
    assert matched("hazards", status="closed") == 0
    # datetime compares the hazard's report time; '..' leaves an end open.
    assert matched("hazards", datetime="2000-01-01T00:00:00Z/..") == 1
    assert matched("hazards", datetime="../2000-01-01T00:00:00Z") == 0
    assert client.get("/ogc/collections/grids_village/items", params={"set": "999"},
                      headers=headers).status_code == 404


def test_single_features_by_id(client, district, login):
    headers = login("admin")
    grid = _get(client, "/ogc/collections/grids_township/items/320382102", headers).json()
    assert grid["properties"]["name"] == "邳城镇" and grid["geometry"]["type"] == "MultiPolygon"
    uscc = _get(client, "/ogc/collections/enterprises/items", headers, sector="gas_stations").json()["features"][0]["id"]
    enterprise = _get(client, f"/ogc/collections/enterprises/items/{uscc}", headers, crs=EPSG4326)
    assert enterprise.headers["content-crs"] == f"<{EPSG4326}>"
    assert enterprise.json()["geometry"]["coordinates"] == [34.38, 118.07]
    hazard_id = _get(client, "/ogc/collections/hazards/items", headers).json()["features"][0]["id"]
    hazard = _get(client, f"/ogc/collections/hazards/items/{hazard_id}", headers).json()
    assert hazard["properties"]["status_zh"] == "已上报" and isinstance(hazard["id"], int)
    # The id is the feature's "id" member only, not repeated among the properties.
    assert "id" not in hazard["properties"] and set(hazard["geometry"]) == {"type", "coordinates"}
    schema = _get(client, "/ogc/collections/hazards/schema", headers).json()
    assert "id" not in schema["properties"]["properties"]["properties"]
    assert schema["properties"]["id"]["type"] == "integer"
    assert client.get("/ogc/collections/hazards/items/abc", headers=headers).status_code == 404
    assert client.get("/ogc/collections/grids_village/items/320382999999", headers=headers).status_code == 404


def test_scope_a_township_leader_sees_their_township(client, district, login):
    headers = login("township_leader", TOWNSHIP_A)
    ids = [c["id"] for c in _get(client, "/ogc/collections", headers).json()["collections"]]
    assert ids == ["grids_township", "grids_village", "enterprises", "hazards"]
    for path in ("", "/items", "/schema", "/queryables"):  # a collection out of scope is not there at all
        assert client.get(f"/ogc/collections/grids_district{path}", headers=headers).status_code == 404, path
    assert client.get("/ogc/collections/grids_village/schema", headers=headers).status_code == 200
    page = _get(client, "/ogc/collections/enterprises/items", headers).json()
    assert page["numberMatched"] == 2
    assert {f["properties"]["township_code"] for f in page["features"]} == {TOWNSHIP_A}
    other = _get(client, "/ogc/collections/enterprises/items", login("admin"), township_code=TOWNSHIP_B).json()
    assert client.get(f"/ogc/collections/enterprises/items/{other['features'][0]['id']}",
                      headers=headers).status_code == 404
    authority = _get(client, "/ogc/collections/enterprises/items", login("authority", DISTRICT)).json()
    assert authority["numberMatched"] == 4


def test_html_views(client, district, login):
    headers = login("admin")
    page = client.get("/ogc/collections/enterprises/items", params={"f": "html", "limit": 2}, headers=headers)
    assert page.headers["content-type"].startswith("text/html")
    assert "<h1>生产经营单位</h1>" in page.text and "统一社会信用代码" in page.text and "下一页" in page.text
    assert "limit=2&amp;offset=2&amp;f=html" in page.text  # a person paging keeps the page size asked for
    browser = client.get("/ogc", headers={**headers, "Accept": "text/html,application/xhtml+xml,*/*;q=0.8"})
    assert browser.headers["content-type"].startswith("text/html") and "OGC API" in browser.text
    assert client.get("/ogc", headers={**headers, "Accept": "*/*"}).headers["content-type"] == "application/json"
    collections = client.get("/ogc/collections", params={"f": "html"}, headers=headers)
    assert "村/社区网格" in collections.text


# ------------------------------------------------------- GDAL OAPIF, live

def _gdal(tool: Path, *args: str, token: str) -> str:
    """Run a system GDAL tool with the bearer token; return its output (fails loudly)."""
    if not tool.exists():
        pytest.fail(f"These tests need Debian's gdal-bin ({tool}): run `make test` or `apt-get install gdal-bin`.",
                    pytrace=False)
    # Our process configures GDAL for itself (GDAL_SKIP, a 1 s HTTP timeout …); the tools get a clean slate.
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("GDAL_", "CPL_")) and k.lower() not in ("http_proxy", "https_proxy", "all_proxy")}
    env["GDAL_HTTP_HEADERS"] = f"Authorization: Bearer {token}"
    env["NO_PROXY"] = env["no_proxy"] = "127.0.0.1,localhost"
    done = subprocess.run([str(tool), *args], check=False, capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout + done.stderr


def _token(base: str, account: dict) -> str:
    response = httpx.post(f"{base}/api/v1/auth/token", data={"username": account["username"],
                                                            "password": account["password"]}, timeout=10)
    assert response.status_code == 200, response.text
    return response.json()["access_token"]


def _matched(base: str, token: str, collection: str, **params) -> int:
    response = httpx.get(f"{base}/ogc/collections/{collection}/items", params={"limit": 1, **params},
                         headers={"Authorization": f"Bearer {token}"}, timeout=30)
    assert response.status_code == 200, response.text
    return response.json()["numberMatched"]


def test_gdal_lists_and_reads_every_collection(live_server, demo_users, tmp_path):
    admin = _token(live_server, demo_users["admin"])
    # Make sure the hazards collection has something to read.
    hazards_before = _matched(live_server, admin, "hazards")
    uscc = httpx.get(f"{live_server}/ogc/collections/enterprises/items",
                     params={"township_code": GUANHU, "placement": "exact", "limit": 2},
                     headers={"Authorization": f"Bearer {admin}"}, timeout=30).json()["features"]
    created = []
    for number, feature in enumerate(uscc):
        response = httpx.post(f"{live_server}/api/v1/hazards", headers={"Authorization": f"Bearer {admin}"},
                              json={"enterprise_uscc": feature["id"], "category": "fire_equipment",
                                    "description": f"灭火器过期{number}"}, timeout=30)
        assert response.status_code == 201, response.text
        created.append(response.json()["id"])

    source = f"OAPIF:{live_server}/ogc"
    listing = _gdal(OGRINFO, "-so", source, token=admin)
    collections = ["grids_district", "grids_township", "grids_village", "enterprises", "hazards"]
    for name in collections:
        assert f": {name} (title: " in listing
    assert "(title: 村/社区网格)" in listing

    # Every collection, copied whole with GDAL's defaults: it asks for 10 features, then
    # follows the next links (1,000 features each) to the end.
    copy = tmp_path / "all.gpkg"
    _gdal(OGR2OGR, "-f", "GPKG", str(copy), source, token=admin)
    expected = {name: _matched(live_server, admin, name) for name in collections}
    assert expected["grids_village"] == 516 and expected["enterprises"] == 4000
    assert expected["hazards"] == hazards_before + 2
    assert {name: pyogrio.read_info(copy, layer=name)["features"] for name in collections} == expected
    _, _, _, (names,) = pyogrio.raw.read(copy, layer="grids_township", columns=["name"], read_geometry=False)
    assert "运河街道" in set(names) and "官湖镇" in set(names)
    info = pyogrio.read_info(copy, layer="enterprises")
    assert info["crs"] == "EPSG:4326" and info["geometry_type"] == "Point"
    assert dict(zip(info["fields"], info["dtypes"]))["major_hazard_grade"] == "int32"  # typed from the schema

    assert "id2" not in pyogrio.read_info(copy, layer="hazards")["fields"]  # no id repeated in the properties

    # One feature by id: GDAL asks for …/items/{id} (an items link with a query string
    # would have made that …/items?f=json/{id}).
    one = _gdal(OGRINFO, source, "hazards", "-fid", str(created[1]), token=admin)
    assert f"OGRFeature(hazards):{created[1]}" in one and "灭火器过期1" in one and "灭火器过期0" not in one
    # An attribute filter on a queryable goes to the server as ?sector=…
    stations = tmp_path / "stations.gpkg"
    _gdal(OGR2OGR, "-f", "GPKG", str(stations), source, "enterprises", "-oo", "PAGE_SIZE=1000",
          "-where", "sector = 'gas_stations'", token=admin)
    assert pyogrio.read_info(stations)["features"] == _matched(live_server, admin, "enterprises",
                                                               sector="gas_stations") > 0


def test_gdal_with_a_township_leaders_token_reads_their_township_only(live_server, demo_users, tmp_path):
    leader = _token(live_server, demo_users["guanhu_leader"])
    admin = _token(live_server, demo_users["admin"])
    source = f"OAPIF:{live_server}/ogc"
    listing = _gdal(OGRINFO, "-so", source, token=leader)
    assert "grids_district" not in listing and "grids_village" in listing
    copy = tmp_path / "guanhu.gpkg"
    _gdal(OGR2OGR, "-f", "GPKG", str(copy), source, "enterprises", "-oo", "PAGE_SIZE=1000", token=leader)
    _, _, _, (townships,) = pyogrio.raw.read(copy, layer="enterprises", columns=["township_code"],
                                             read_geometry=False)
    total = _matched(live_server, admin, "enterprises")
    assert len(townships) == _matched(live_server, leader, "enterprises") == _matched(
        live_server, admin, "enterprises", township_code=GUANHU) < total
    assert set(townships) == {GUANHU}
