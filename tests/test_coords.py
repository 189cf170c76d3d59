"""Coordinate conversions and input guards (gridmap.coords) — no database needed."""

from __future__ import annotations

import re

import numpy as np
import pytest
import shapely
from hypothesis import given, settings
from hypothesis import strategies as st
from shapely import LineString, Point, Polygon

from gridmap.coords import (
    CHINA_BBOX,
    COORD_SYSTEMS,
    REASONS,
    bd09_to_gcj02,
    bd09_to_wgs84,
    check_lonlat,
    classify_lonlat,
    from_cgcs2000,
    gcj02_to_bd09,
    gcj02_to_wgs84,
    geodesic_distance_m,
    in_china,
    parse_crs,
    to_cgcs2000,
    transform_geometry,
    wgs84_to_bd09,
    wgs84_to_gcj02,
)
from gridmap.errors import GridmapError, OutsideChina, UnknownCRS

# Reference outputs of the published converter wandergis/coordtransform (test/app.js),
# all for the input point (116.404, 39.915) near Tiananmen.
REF_INPUT = (116.404, 39.915)
REF_WGS84_TO_GCJ02 = (116.41024449916938, 39.91640428150164)
REF_GCJ02_TO_BD09 = (116.41036949371029, 39.92133699351021)
REF_GCJ02_TO_WGS84_ONE_STEP = (116.39775550083061, 39.91359571849836)
REF_BD09_TO_GCJ02_CLOSED_FORM = (116.39762729119315, 39.90865673957631)

PIZHOU = (117.96, 34.33)  # 邳州市, the sample district

# Round trips are exact away from the edges of the box where the GCJ-02 offset switches
# on/off (a jump of up to ~0.007°); stay 0.02° inside it.
_EDGE = 0.02
china_lon = st.floats(73.66 + _EDGE, 135.05 - _EDGE)
china_lat = st.floats(3.86 + _EDGE, 53.55 - _EDGE)
china_points = st.tuples(china_lon, china_lat)

FAST = settings(max_examples=150, deadline=None)


def _assert_one_line_bilingual(error: GridmapError) -> None:
    message = error.message
    assert "\n" not in message
    assert re.search(r"[\u4e00-\u9fff]", error.zh), error.zh
    assert re.search(r"[A-Za-z]{3,}", error.en), error.en
    assert not re.search(r"[\u4e00-\u9fff]", error.en), error.en
    assert message == f"{error.zh} / {error.en}"


# ----------------------------------------------------------------------------- reference values


def test_forward_conversions_match_published_converter():
    lon, lat = wgs84_to_gcj02(*REF_INPUT)
    assert lon == pytest.approx(REF_WGS84_TO_GCJ02[0], abs=1e-9)
    assert lat == pytest.approx(REF_WGS84_TO_GCJ02[1], abs=1e-9)
    lon, lat = gcj02_to_bd09(*REF_INPUT)
    assert lon == pytest.approx(REF_GCJ02_TO_BD09[0], abs=1e-9)
    assert lat == pytest.approx(REF_GCJ02_TO_BD09[1], abs=1e-9)


def test_gcj02_inverse_is_exact_where_the_published_one_step_is_not():
    ours = gcj02_to_wgs84(*REF_INPUT)
    # Close to the published one-step approximation ...
    assert geodesic_distance_m(*ours, *REF_GCJ02_TO_WGS84_ONE_STEP) < 0.5
    # ... but ours maps back onto the input, the approximation misses it by centimetres.
    assert geodesic_distance_m(*wgs84_to_gcj02(*ours), *REF_INPUT) < 1e-4
    assert geodesic_distance_m(*wgs84_to_gcj02(*REF_GCJ02_TO_WGS84_ONE_STEP), *REF_INPUT) > 0.01


def test_bd09_inverse_is_exact_where_the_published_closed_form_is_not():
    ours = bd09_to_gcj02(*REF_INPUT)
    assert geodesic_distance_m(*ours, *REF_BD09_TO_GCJ02_CLOSED_FORM) < 0.5
    assert geodesic_distance_m(*gcj02_to_bd09(*ours), *REF_INPUT) < 1e-4
    assert geodesic_distance_m(*gcj02_to_bd09(*REF_BD09_TO_GCJ02_CLOSED_FORM), *REF_INPUT) > 0.01


def test_scalars_in_give_floats_out_and_arrays_keep_their_shape():
    lon, lat = wgs84_to_gcj02(117.96, 34.33)
    assert type(lon) is float and type(lat) is float
    grid_lon, grid_lat = np.meshgrid(np.linspace(117.5, 118.2, 4), np.linspace(34.1, 34.7, 3))
    for func in (
        wgs84_to_gcj02,
        gcj02_to_wgs84,
        gcj02_to_bd09,
        bd09_to_gcj02,
        wgs84_to_bd09,
        bd09_to_wgs84,
    ):
        out_lon, out_lat = func(grid_lon, grid_lat)
        assert isinstance(out_lon, np.ndarray) and out_lon.shape == (3, 4)
        assert out_lat.shape == (3, 4)


def test_nan_stays_nan_without_breaking_the_other_points():
    lon = np.array([117.96, np.nan, 118.0])
    lat = np.array([34.33, 34.0, np.nan])
    w_lon, w_lat = gcj02_to_wgs84(lon, lat)
    assert np.isnan(w_lon[1]) and np.isnan(w_lat[2])
    assert w_lon[0] == pytest.approx(gcj02_to_wgs84(117.96, 34.33)[0], abs=1e-9)
    b_lon, _ = bd09_to_wgs84(lon, lat)
    assert np.isfinite(b_lon[0]) and np.isnan(b_lon[1])


# ----------------------------------------------------------------------------- round trips


@FAST
@given(china_points)
def test_gcj02_wgs84_round_trips_are_sub_centimetre(point):
    lon, lat = point
    assert geodesic_distance_m(*wgs84_to_gcj02(*gcj02_to_wgs84(lon, lat)), lon, lat) < 0.01
    assert geodesic_distance_m(*gcj02_to_wgs84(*wgs84_to_gcj02(lon, lat)), lon, lat) < 0.01


@FAST
@given(china_points)
def test_bd09_round_trips_are_sub_centimetre(point):
    lon, lat = point
    assert geodesic_distance_m(*gcj02_to_bd09(*bd09_to_gcj02(lon, lat)), lon, lat) < 0.01
    assert geodesic_distance_m(*bd09_to_gcj02(*gcj02_to_bd09(lon, lat)), lon, lat) < 0.01
    assert geodesic_distance_m(*wgs84_to_bd09(*bd09_to_wgs84(lon, lat)), lon, lat) < 0.01
    assert geodesic_distance_m(*bd09_to_wgs84(*wgs84_to_bd09(lon, lat)), lon, lat) < 0.01


def test_round_trip_over_a_dense_grid_of_all_china_is_under_half_a_metre():
    lon, lat = np.meshgrid(
        np.linspace(73.66 + _EDGE, 135.05 - _EDGE, 300),
        np.linspace(3.86 + _EDGE, 53.55 - _EDGE, 300),
    )
    back = wgs84_to_gcj02(*gcj02_to_wgs84(lon, lat))
    assert np.max(geodesic_distance_m(*back, lon, lat)) < 0.5
    back = wgs84_to_bd09(*bd09_to_wgs84(lon, lat))
    assert np.max(geodesic_distance_m(*back, lon, lat)) < 0.5


@FAST
@given(st.lists(china_points, min_size=1, max_size=20))
def test_vectorised_equals_scalar(points):
    lon = np.array([p[0] for p in points])
    lat = np.array([p[1] for p in points])
    for func in (wgs84_to_gcj02, gcj02_to_bd09):  # closed forms: bit-identical
        vec_lon, vec_lat = func(lon, lat)
        for i, (p_lon, p_lat) in enumerate(points):
            assert (vec_lon[i], vec_lat[i]) == func(p_lon, p_lat)
    # The inverses iterate until every point has converged, so a point may get one more
    # step in a batch than alone: equal to far below the 1e-10° stopping tolerance.
    for func in (gcj02_to_wgs84, bd09_to_gcj02, bd09_to_wgs84, wgs84_to_bd09):
        vec_lon, vec_lat = func(lon, lat)
        for i, (p_lon, p_lat) in enumerate(points):
            s_lon, s_lat = func(p_lon, p_lat)
            assert abs(vec_lon[i] - s_lon) < 1e-9 and abs(vec_lat[i] - s_lat) < 1e-9


@FAST
@given(st.floats(117.5, 118.2), st.floats(34.1, 34.7))
def test_gcj02_offset_in_pizhou_is_between_100_and_700_m(lon, lat):
    offset = geodesic_distance_m(lon, lat, *wgs84_to_gcj02(lon, lat))
    assert 100.0 < offset < 700.0
    # BD-09 adds a further few hundred metres on top.
    assert geodesic_distance_m(lon, lat, *wgs84_to_bd09(lon, lat)) > 100.0


@pytest.mark.parametrize(
    "lon, lat",
    [(139.7, 35.7), (2.35, 48.85), (73.5, 39.0), (-74.0, 40.7), (150.0, -33.9)],
    ids=["tokyo", "paris", "pamirs-outside-gcj-box", "new-york", "sydney"],
)
def test_gcj02_offset_is_not_applied_outside_its_region(lon, lat):
    assert wgs84_to_gcj02(lon, lat) == (lon, lat)
    assert gcj02_to_wgs84(lon, lat) == (lon, lat)


# ----------------------------------------------------------------------------- storage system


@pytest.mark.parametrize("crs", ["wgs84", "cgcs2000", "EPSG:4490", 4326])
def test_wgs84_and_cgcs2000_are_stored_unchanged(crs):
    assert to_cgcs2000(117.96, 34.33, crs) == (117.96, 34.33)
    assert from_cgcs2000(117.96, 34.33, crs) == (117.96, 34.33)


@pytest.mark.parametrize("crs", ["gcj02", "高德", "bd09", "百度"])
def test_to_and_from_cgcs2000_invert_each_other(crs):
    stored = to_cgcs2000(*PIZHOU, crs)
    assert geodesic_distance_m(*stored, *PIZHOU) > 100.0  # really moved
    assert geodesic_distance_m(*from_cgcs2000(*stored, crs), *PIZHOU) < 1e-3


def test_to_cgcs2000_rejects_an_unknown_crs():
    with pytest.raises(UnknownCRS):
        to_cgcs2000(*PIZHOU, "EPSG:3857")


# ----------------------------------------------------------------------------- geometries


def test_transform_geometry_moves_every_polygon_vertex_like_the_point_function():
    ring = [(117.90, 34.30), (118.05, 34.31), (118.02, 34.45), (117.93, 34.40), (117.90, 34.30)]
    hole = [(117.95, 34.35), (117.97, 34.35), (117.96, 34.37), (117.95, 34.35)]
    polygon = Polygon(ring, [hole])
    moved = transform_geometry(polygon, "bd09", "cgcs2000")
    assert moved.geom_type == "Polygon" and len(moved.interiors) == 1
    before = shapely.get_coordinates(polygon)
    after = shapely.get_coordinates(moved)
    expected_lon, expected_lat = bd09_to_wgs84(before[:, 0], before[:, 1])
    np.testing.assert_allclose(after[:, 0], expected_lon, rtol=0, atol=1e-12)
    np.testing.assert_allclose(after[:, 1], expected_lat, rtol=0, atol=1e-12)
    assert np.all(geodesic_distance_m(before[:, 0], before[:, 1], after[:, 0], after[:, 1]) > 100)


def test_transform_geometry_between_two_offset_systems_and_keeps_z():
    point = Point(117.96, 34.33, 25.0)
    moved = transform_geometry(point, "gcj02", "bd09")
    assert moved.has_z and moved.z == 25.0
    assert (moved.x, moved.y) == pytest.approx(wgs84_to_bd09(*gcj02_to_wgs84(117.96, 34.33)))


def test_transform_geometry_is_identity_between_wgs84_and_cgcs2000():
    line = LineString([(117.9, 34.3), (118.0, 34.4)])
    assert transform_geometry(line, "EPSG:4326", "EPSG:4490") is line


def test_transform_geometry_handles_arrays_with_missing_geometries():
    geoms = np.array([Point(117.96, 34.33), None, Point()], dtype=object)
    moved = transform_geometry(geoms, "gcj02")
    assert moved[1] is None and moved[2].is_empty
    assert (moved[0].x, moved[0].y) == gcj02_to_wgs84(117.96, 34.33)


# ----------------------------------------------------------------------------- CRS names


@pytest.mark.parametrize(
    "spelling, expected",
    [
        ("wgs84", "wgs84"),
        ("WGS-84", "wgs84"),
        ("EPSG:4326", "wgs84"),
        ("4326", "wgs84"),
        (4326, "wgs84"),
        ("CRS84", "wgs84"),
        ("OGC:CRS84", "wgs84"),
        ("http://www.opengis.net/def/crs/OGC/1.3/CRS84", "wgs84"),
        ("WGS84坐标", "wgs84"),
        ("  wgs84 坐标系 ", "wgs84"),
        ("cgcs2000", "cgcs2000"),
        ("CGCS2000", "cgcs2000"),
        ("EPSG:4490", "cgcs2000"),
        ("4490", "cgcs2000"),
        (4490, "cgcs2000"),
        ("国家2000", "cgcs2000"),
        ("2000", "cgcs2000"),
        ("2000国家大地坐标系", "cgcs2000"),
        ("天地图", "cgcs2000"),
        ("天地图坐标", "cgcs2000"),
        ("ＥＰＳＧ：４４９０", "cgcs2000"),
        ("gcj02", "gcj02"),
        ("GCJ-02", "gcj02"),
        ("gcj", "gcj02"),
        ("amap", "gcj02"),
        ("高德", "gcj02"),
        ("高德坐标", "gcj02"),
        ("火星", "gcj02"),
        ("火星坐标系", "gcj02"),
        ("腾讯", "gcj02"),
        ("bd09", "bd09"),
        ("BD-09", "bd09"),
        ("bd09ll", "bd09"),
        ("Baidu", "bd09"),
        ("百度", "bd09"),
        ("百度地图坐标", "bd09"),
    ],
)
def test_parse_crs_understands_user_spellings(spelling, expected):
    assert parse_crs(spelling) == expected


def test_parse_crs_empty_means_default():
    assert parse_crs(None) == "wgs84"
    assert parse_crs("  ") == "wgs84"
    assert parse_crs("", default="gcj02") == "gcj02"
    assert parse_crs(None, default="EPSG:4490") == "cgcs2000"
    assert set(COORD_SYSTEMS) == {parse_crs(name) for name in COORD_SYSTEMS}


@pytest.mark.parametrize("value", ["bd09mc", "EPSG:3857", 3857, "utm50n", "wgs85", True, 4326.5])
def test_parse_crs_rejects_unknown_values_naming_the_accepted_ones(value):
    with pytest.raises(UnknownCRS) as caught:
        parse_crs(value)
    _assert_one_line_bilingual(caught.value)
    for name in COORD_SYSTEMS:
        assert name in caught.value.zh and name in caught.value.en
    assert str(value) in caught.value.en


def test_parse_crs_error_stays_one_line_for_multiline_garbage():
    with pytest.raises(UnknownCRS) as caught:
        parse_crs("foo\nbar\r\n" * 50)
    _assert_one_line_bilingual(caught.value)
    assert len(caught.value.message) < 400


# ----------------------------------------------------------------------------- input guards


def test_classify_lonlat_codes():
    lon = np.array([117.96, 34.33, 139.7, 2.35, np.nan, 117.96, np.inf, 200.0, 10.0, 45.0])
    lat = np.array([34.33, 117.96, 35.7, 48.85, 34.33, np.nan, 34.0, 10.0, 200.0, 80.0])
    assert classify_lonlat(lon, lat).tolist() == [
        "ok",  # Pizhou
        "swapped",  # Pizhou with columns exchanged
        "outside_china",  # Tokyo
        "outside_china",  # Paris
        "not_finite",
        "not_finite",
        "not_finite",
        "out_of_range",
        "out_of_range",  # swapping (200, 10) is not in China either
        "swapped",  # a valid Arctic point, but (80E, 45N) is in Xinjiang
    ]


def test_classify_lonlat_includes_the_south_china_sea_and_border_points():
    # 曾母暗沙 Zengmu Ansha, 永兴岛 Yongxing, 黑瞎子岛 Heixiazi, China's northernmost point
    # on the Amur above Mohe, the Pamirs.
    lon = [112.28, 112.34, 135.08, 123.27, 73.5]
    lat = [3.97, 16.83, 48.37, 53.55, 39.3]
    assert classify_lonlat(lon, lat).tolist() == ["ok"] * 5


# City centres; the outline is China's land outline widened by a few km, so a town on a
# land border (瑞丽 Ruili faces Myanmar across a street) is in, a neighbour's capital is not.
INSIDE = {"邳州 Pizhou": (117.96, 34.33), "三亚 Sanya": (109.51, 18.25),
          "乌鲁木齐 Urumqi": (87.62, 43.83), "漠河 Mohe": (122.54, 52.97),
          "北极村 Beiji village": (122.35, 53.48), "瑞丽 Ruili": (97.85, 24.01),
          "东兴 Dongxing": (107.97, 21.55), "香港 Hong Kong": (114.17, 22.32),
          "澳门 Macau": (113.54, 22.19), "台北 Taipei": (121.56, 25.04)}
OUTSIDE = {"Seoul": (126.98, 37.57), "Ulaanbaatar": (106.92, 47.92), "Hanoi": (105.85, 21.03),
           "Pyongyang": (125.75, 39.02), "Vladivostok": (131.89, 43.12), "Almaty": (76.95, 43.24),
           "Yellow Sea": (123.5, 35.0)}


@pytest.mark.parametrize("place", INSIDE)
def test_places_in_china_are_accepted(place):
    assert str(classify_lonlat(*INSIDE[place])) == "ok"
    assert check_lonlat(*INSIDE[place]) is None


@pytest.mark.parametrize("place", OUTSIDE)
def test_places_in_the_bounding_box_but_outside_china_are_rejected(place):
    lon, lat = OUTSIDE[place]
    x0, y0, x1, y1 = CHINA_BBOX
    assert x0 <= lon <= x1 and y0 <= lat <= y1  # the old rectangle let them in
    assert str(classify_lonlat(lon, lat)) == "outside_china"
    with pytest.raises(OutsideChina) as caught:
        check_lonlat(lon, lat)
    assert "中国范围" in caught.value.zh and "outside China" in caught.value.en


def test_in_china_is_vectorised_and_agrees_point_by_point():
    places = {**INSIDE, **OUTSIDE}
    lon = np.array([p[0] for p in places.values()] * 1000)
    lat = np.array([p[1] for p in places.values()] * 1000)
    inside = in_china(lon, lat)
    assert inside.shape == lon.shape and inside.dtype == bool
    assert inside.tolist() == [name in INSIDE for name in places] * 1000
    assert in_china(np.nan, 34.0) is False and in_china(117.96, 34.33) is True


def test_classify_lonlat_keeps_the_shape_and_every_code_has_a_reason():
    codes = classify_lonlat(np.full((2, 3), 117.96), np.full((2, 3), 34.33))
    assert codes.shape == (2, 3)
    assert str(classify_lonlat(34.33, 117.96)) == "swapped"
    for code in ("ok", "not_finite", "out_of_range", "swapped", "outside_china"):
        zh, en = REASONS[code]
        assert "\n" not in zh + en and re.search(r"[\u4e00-\u9fff]", zh) and en.isascii()


def test_check_lonlat_accepts_a_point_in_china():
    assert check_lonlat(*PIZHOU) is None


def test_check_lonlat_names_a_swap_explicitly():
    with pytest.raises(OutsideChina) as caught:
        check_lonlat(34.33, 117.96)
    error = caught.value
    _assert_one_line_bilingual(error)
    assert "颠倒" in error.zh and "117.96" in error.zh
    assert "swapped" in error.en and "latitude 117.96" in error.en


@pytest.mark.parametrize(
    "lon, lat, zh_word, en_word",
    [
        (139.7, 35.7, "中国范围", "outside China"),
        (2.35, 48.85, "中国范围", "outside China"),
        (float("nan"), 34.33, "有效数字", "not a finite number"),
        ("abc", 34.33, "有效数字", "not a finite number"),
        (250.0, 34.33, "超出取值范围", "out of range"),
    ],
)
def test_check_lonlat_explains_the_problem(lon, lat, zh_word, en_word):
    with pytest.raises(OutsideChina) as caught:
        check_lonlat(lon, lat)
    _assert_one_line_bilingual(caught.value)
    assert zh_word in caught.value.zh and en_word in caught.value.en


# ----------------------------------------------------------------------------- distances


def test_geodesic_distance_known_values_and_vectorised():
    # One degree of latitude on GRS80: 110.574 km at the equator, 111.694 km at the pole.
    assert geodesic_distance_m(0.0, 0.0, 0.0, 1.0) == pytest.approx(110574.4, abs=1.0)
    assert geodesic_distance_m(0.0, 89.0, 0.0, 90.0) == pytest.approx(111693.9, abs=1.0)
    assert geodesic_distance_m(*PIZHOU, *PIZHOU) == 0.0
    distances = geodesic_distance_m(
        np.array([117.0, 117.0]), np.array([34.0, 34.0]), 117.0, np.array([35.0, 34.0])
    )
    assert distances.shape == (2,) and distances[1] == 0.0
    assert distances[0] == pytest.approx(geodesic_distance_m(117.0, 34.0, 117.0, 35.0))
