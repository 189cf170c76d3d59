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


# ---------------------------------------------------------------- dense tiles stay small

DENSE_TILE = (12, *_tile_xy(117.93, 34.35, 12))  # spans 117.861-117.949 lon, 34.307-34.380 lat


def _points_in(tile: tuple[int, int, int], count: int, seed: int) -> tuple[list[float], list[float]]:
    """``count`` seeded points well inside a tile (a margin of 10 %, so every resolution-9
    hexagon centroid of the aggregates lies in the tile too)."""
    import math

    z, x, y = tile
    n = 2**z
    west, east = x / n * 360 - 180, (x + 1) / n * 360 - 180
    north = math.degrees(math.atan(math.sinh(math.pi * (1 - 2 * y / n))))
    south = math.degrees(math.atan(math.sinh(math.pi * (1 - 2 * (y + 1) / n))))
    rng = random.Random(seed)
    lon = [west + (east - west) * rng.uniform(0.1, 0.9) for _ in range(count)]
    lat = [south + (north - south) * rng.uniform(0.1, 0.9) for _ in range(count)]
    return lon, lat


def _insert_enterprises(session, count: int, *, name_chars: int = 0, seed: int = 11) -> None:
    """``count`` enterprises in :data:`DENSE_TILE`, inserted in one statement (a realistic
    name, a USCC, sector, risk, placement), then the H3 aggregates refreshed."""
    from sqlalchemy import text

    from gridmap.density import cells_r9

    lon, lat = _points_in(DENSE_TILE, count, seed)
    session.execute(text("""
        INSERT INTO enterprise (uscc, name, sector, risk_level, placement, location, grid_code, village_code,
                                township_code, district_code, home_code, h3_r9)
        SELECT '9132' || lpad((:offset + i)::text, 14, '0'),
               '邳州市' || (:offset + i) || '号' || repeat('精细化工', :pad) || '机械制造有限公司',
               'general_manufacturing', (ARRAY['major','high','medium','low'])[1 + i % 4], 'exact',
               ST_SetSRID(ST_MakePoint(lon, lat), 4490),
               '320382102001', '320382102001', '320382102', '320382', '320382102001', cell
        FROM unnest(CAST(:lon AS float8[]), CAST(:lat AS float8[]), CAST(:cell AS bigint[]))
             WITH ORDINALITY AS p(lon, lat, cell, i)
    """), {"lon": lon, "lat": lat, "cell": cells_r9(lon, lat), "offset": seed * 100_000, "pad": name_chars // 4})
    refresh_density(session)


def test_a_dense_enterprise_tile_is_aggregated_and_stays_under_500_kb(session, toy_district):
    _insert_enterprises(session, 12_000)
    data = render_tile(session, "enterprises", *DENSE_TILE, scope=Scope.everything(), set_id=toy_district.id)
    assert len(data) < 500_000, f"{len(data):,} bytes"
    layers = _decode(data)
    assert set(layers) == {"enterprises_aggregated"}
    features = layers["enterprises_aggregated"]["features"]
    assert sum(f["properties"]["count"] for f in features) == 12_000
    assert {f["properties"]["res"] for f in features} == {9}
    # A township leader's tile of the same place aggregates too, with the same totals.
    leader = Scope(code="320382102", role="township_leader")
    scoped = _decode(render_tile(session, "enterprises", *DENSE_TILE, scope=leader, set_id=toy_district.id))
    assert sum(f["properties"]["count"] for f in scoped["enterprises_aggregated"]["features"]) == 12_000
    # Zoomed in far enough, the same enterprises are single points again.
    z, x, y = DENSE_TILE
    inner = _decode(render_tile(session, "enterprises", z + 3, x * 8 + 4, y * 8 + 4, scope=Scope.everything(),
                                set_id=toy_district.id))
    assert set(inner) == {"enterprises"}
    assert 0 < len(inner["enterprises"]["features"]) < 4_000
    assert inner["enterprises"]["features"][0]["properties"]["uscc"].startswith("9132")


def test_a_point_tile_too_heavy_for_its_count_is_aggregated_too(session, toy_district):
    """3,900 points (under the count limit) with 150-character names would make a raw
    tile of about 1.9 MB: the byte check sends the aggregates instead."""
    _insert_enterprises(session, 3_900, name_chars=140, seed=12)
    data = render_tile(session, "enterprises", *DENSE_TILE, scope=Scope.everything(), set_id=toy_district.id)
    assert len(data) < 500_000, f"{len(data):,} bytes"
    layers = _decode(data)
    assert set(layers) == {"enterprises_aggregated"}
    assert sum(f["properties"]["count"] for f in layers["enterprises_aggregated"]["features"]) == 3_900


def test_a_dense_hazard_tile_is_aggregated(session, toy_district):
    from sqlalchemy import text

    from gridmap.density import RESOLUTIONS, ensure_cells, hazard_cells

    lon, lat = _points_in(DENSE_TILE, 6_000, 13)
    cells = [hazard_cells(x, y) for x, y in zip(lon, lat)]
    session.execute(text("""
        INSERT INTO hazard (location, placement, grid_code, village_code, township_code, district_code, home_code,
                            category, grade, source, description, status, deadline, h3_cells)
        SELECT ST_SetSRID(ST_MakePoint(lon, lat), 4490), 'exact', '320382102001', '320382102001', '320382102',
               '320382', '320382102001', 'fire_other', CASE WHEN i % 10 = 0 THEN 'major' ELSE 'general' END,
               'patrol', '消防通道堵塞', CASE WHEN i % 3 = 0 THEN 'closed' ELSE 'reported' END,
               now() + interval '30 days', CAST(cells AS bigint[])
        FROM unnest(CAST(:lon AS float8[]), CAST(:lat AS float8[]), CAST(:cells AS text[]))
             WITH ORDINALITY AS p(lon, lat, cells, i)
    """), {"lon": lon, "lat": lat, "cells": ["{" + ",".join(map(str, c)) + "}" for c in cells]})
    # What creating a hazard does: the hexagons of its cells are stored.
    ensure_cells(session, {res: {c[i] for c in cells} for i, res in enumerate(RESOLUTIONS)})
    data = render_tile(session, "hazards", *DENSE_TILE, scope=Scope.everything(), set_id=toy_district.id)
    assert len(data) < 500_000, f"{len(data):,} bytes"
    layers = _decode(data)
    assert set(layers) == {"hazards_aggregated"}
    features = layers["hazards_aggregated"]["features"]
    assert sum(f["properties"]["count"] for f in features) == 4_000, "the open ones (two in three)"
    assert sum(f["properties"]["weighted"] for f in features) == 4_000 + 2 * 400
