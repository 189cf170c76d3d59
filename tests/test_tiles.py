"""Map layers: vector tiles decoded with mapbox-vector-tile, GeoJSON layers, scope, aggregation."""

from __future__ import annotations

import random

import mapbox_vector_tile
import pytest

from gridmap.auth import Scope
from gridmap.density import refresh_density
from gridmap.enterprises import save_enterprise
from gridmap.hazards import create_hazard
from gridmap.settings import HazardSettings
from gridmap.tiles import render_tile
from gridmap.uscc import make_uscc

RNG = random.Random(7)


def _tile_xy(lon: float, lat: float, z: int) -> tuple[int, int]:
    import math

    n = 2**z
    x = int((lon + 180) / 360 * n)
    y = int((1 - math.log(math.tan(math.radians(lat)) + 1 / math.cos(math.radians(lat))) / math.pi) / 2 * n)
    return x, y


def _decode(data: bytes) -> dict:
    return mapbox_vector_tile.decode(data) if data else {}


@pytest.fixture
def district_with_points(session, toy_district, tmp_path):
    admin = Scope.everything()
    for lon, risk in ((117.93, "重大"), (117.94, "一般"), (117.97, "低"), (118.07, "较大")):
        save_enterprise(session, {"uscc": make_uscc(RNG, "320382"), "name": f"企业{lon}", "lon": lon, "lat": 34.35,
                                  "risk_level": risk, "sector": "危险化学品"}, scope=admin)
    hz = HazardSettings(attachment_dir=str(tmp_path))
    from gridmap.auth import create_user

    user = create_user(session, "tiler", role="admin", password="password-123")
    for lon, grade in ((117.93, "major"), (118.07, "general")):
        create_hazard(session, {"lon": lon, "lat": 34.35, "category": "fire_other", "grade": grade,
                                "description": "隐患"}, actor=user, scope=admin, settings=hz)
    refresh_density(session)
    return toy_district


def test_grid_tile_has_villages_with_names(session, district_with_points):
    x, y = _tile_xy(117.95, 34.35, 13)
    layers = _decode(render_tile(session, "grids", 13, x, y, scope=Scope.everything(), set_id=district_with_points.id))
    names = {f["properties"]["name"] for f in layers["grids"]["features"]}
    assert {"甲村", "乙社区"} <= names
    feature = layers["grids"]["features"][0]
    assert feature["geometry"]["type"] in ("Polygon", "MultiPolygon")
    assert set(feature["properties"]) >= {"code", "name", "level", "score", "status"}


def test_point_tiles_raw_at_high_zoom_aggregated_at_low(session, district_with_points):
    set_id = district_with_points.id
    x, y = _tile_xy(117.93, 34.35, 12)  # the z12 tile spans 117.861-117.949
    raw = _decode(render_tile(session, "enterprises", 12, x, y, scope=Scope.everything(), set_id=set_id))
    assert sorted(f["properties"]["name"] for f in raw["enterprises"]["features"]) == ["企业117.93", "企业117.94"]
    assert raw["enterprises"]["features"][0]["properties"]["sector"] == "hazardous_chemicals"
    x, y = _tile_xy(117.95, 34.35, 6)
    low = _decode(render_tile(session, "enterprises", 6, x, y, scope=Scope.everything(), set_id=set_id))
    assert "enterprises" not in low
    counts = [f["properties"]["count"] for f in low["enterprises_aggregated"]["features"]]
    assert sum(counts) == 4 and len(counts) < 4, "aggregated into hexagon centroids"
    weighted = sum(f["properties"]["weighted"] for f in low["enterprises_aggregated"]["features"])
    assert weighted == 4 + 2 + 1 + 3


def test_hazard_and_density_tiles(session, district_with_points):
    set_id = district_with_points.id
    x, y = _tile_xy(117.93, 34.35, 13)
    hazards = _decode(render_tile(session, "hazards", 13, x, y, scope=Scope.everything(), set_id=set_id))
    props = hazards["hazards"]["features"][0]["properties"]
    assert props["status"] == "reported" and props["grade"] == "major" and props["overdue"] is False
    x, y = _tile_xy(118.0, 34.35, 9)
    density = _decode(render_tile(session, "density", 9, x, y, scope=Scope.everything(), set_id=set_id))
    features = density["density"]["features"]
    assert sum(f["properties"]["enterprises"] for f in features) == 4
    assert sum(f["properties"]["hazards_weighted"] for f in features) == 3 + 1
    assert all(f["geometry"]["type"] == "Polygon" for f in features)


def test_scope_in_tiles(session, district_with_points):
    set_id = district_with_points.id
    leader = Scope(code="320382102", role="township_leader")
    x, y = _tile_xy(118.0, 34.35, 11)
    grids = _decode(render_tile(session, "grids", 11, x, y, scope=leader, set_id=set_id))
    assert {f["properties"]["code"][:9] for f in grids["grids"]["features"]} == {"320382102"}
    x, y = _tile_xy(118.0, 34.35, 12)
    points = _decode(render_tile(session, "enterprises", 12, x, y, scope=leader, set_id=set_id))
    assert all(f["properties"]["grid_code"].startswith("320382102") for f in points["enterprises"]["features"])
    x, y = _tile_xy(118.0, 34.35, 6)
    density = _decode(render_tile(session, "density", 6, x, y, scope=leader, set_id=set_id))
    assert sum(f["properties"]["enterprises"] for f in density["density"]["features"]) == 3
    assert sum(f["properties"]["hazards_open"] for f in density["density"]["features"]) == 1


def test_tile_and_layer_routes(client, district_with_points, login):
    admin = login()
    x, y = _tile_xy(117.95, 34.35, 13)
    response = client.get(f"/tiles/grids/13/{x}/{y}.mvt", headers=admin)
    assert response.status_code == 200 and response.headers["content-type"] == "application/vnd.mapbox-vector-tile"
    assert _decode(response.content)["grids"]["features"]
    assert client.get(f"/tiles/grids/13/{x}/{y}.mvt").status_code == 401
    assert client.get("/tiles/grids/3/9/0.mvt", headers=admin).status_code == 404
    assert client.get("/tiles/roads/3/1/1.mvt", headers=admin).status_code in (404, 422)
    empty = client.get("/tiles/grids/10/0/0.mvt", headers=admin)
    assert empty.status_code == 200 and empty.content == b""
    collection = client.get("/api/v1/layers/grids", params={"level": "village"}, headers=admin).json()
    assert len(collection["features"]) == 4
    assert collection["features"][0]["geometry"]["type"] in ("Polygon", "MultiPolygon")
    points = client.get("/api/v1/layers/enterprises", params={"bbox": "117.9,34.3,118.1,34.4", "zoom": 14},
                        headers=admin).json()
    assert len(points["features"]) == 4 and points["features"][0]["geometry"]["type"] == "Point"
    assert client.get("/api/v1/layers/enterprises", headers=admin).status_code == 422
    assert client.get("/api/v1/layers/enterprises", params={"bbox": "70,10,130,50"}, headers=admin).status_code == 413
    assert client.get("/api/v1/layers/enterprises", params={"bbox": "1,2,3"}, headers=admin).status_code == 422
    leader = login("township_leader", "320382103")
    mine = client.get("/api/v1/layers/grids", params={"level": "village"}, headers=leader).json()
    assert {f["properties"]["code"] for f in mine["features"]} == {"320382103001", "320382103002"}
