"""The coverage engine: gaps, overlaps, outside parent, slivers, staffing, enterprises,
stale grids, score; its CLI command and its API route."""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
import shapely
from hypothesis import given
from hypothesis import settings as hsettings
from hypothesis import strategies as st
from pyproj import Geod
from shapely.geometry import Polygon, box
from sqlalchemy import text

from gridmap.boundaries import add_grid
from gridmap.coverage import coverage_report, geometry_defects, lonlat_area_m2
from gridmap.models import Enterprise
from gridmap.settings import CoverageSettings
from gridmap.uscc import make_uscc
from tests.factories import DISTRICT, TOWNSHIP_A, TOWNSHIP_B, VILLAGES, make_person, make_set

GEOD = Geod(ellps="GRS80")
NOW = datetime(2026, 6, 1, tzinfo=UTC)


def geodesic_m2(geom) -> float:
    return abs(GEOD.geometry_area_perimeter(geom)[0])


def build(session, grids: dict[str, Polygon], populations: dict[str, int] | None = None):
    """A boundary set holding ``grids`` (code → polygon); names are the codes."""
    boundary_set = make_set(session)
    level = {6: "district", 9: "township", 12: "village", 14: "micro"}
    for code, geom in sorted(grids.items()):
        add_grid(session, set_id=boundary_set.id, code=code, name=f"网格{code}", level=level[len(code)],
                 geom=geom, population=(populations or {}).get(code))
    return boundary_set


def features_by(section: dict, key: str) -> dict:
    return {tuple(f["properties"][key]) if isinstance(f["properties"][key], list)
            else f["properties"][key]: f for f in section["features"]}


# ------------------------------------------------------------------------ geometry

# One district, four townships 0.1° wide: T1 misses a village, T2's villages overlap,
# T3's second village sticks out east, T4 is exact.
T1, T2, T3, T4 = "320382101", "320382102", "320382103", "320382104"
MISSING = box(118.05, 34.05, 118.10, 34.10)
OVERLAP = box(118.15, 34.0, 118.16, 34.1)
OUTSIDE = box(118.30, 34.0, 118.32, 34.1)
DEFECTS = {
    DISTRICT: box(118.0, 34.0, 118.4, 34.1),
    T1: box(118.0, 34.0, 118.1, 34.1),
    T1 + "001": box(118.0, 34.0, 118.05, 34.1),
    T1 + "002": box(118.05, 34.0, 118.1, 34.05),
    T2: box(118.1, 34.0, 118.2, 34.1),
    T2 + "001": box(118.1, 34.0, 118.16, 34.1),
    T2 + "002": box(118.15, 34.0, 118.2, 34.1),
    T3: box(118.2, 34.0, 118.3, 34.1),
    T3 + "001": box(118.2, 34.0, 118.25, 34.1),
    T3 + "002": box(118.25, 34.0, 118.32, 34.1),
    T4: box(118.3, 34.0, 118.4, 34.1),
    T4 + "001": box(118.3, 34.0, 118.35, 34.1),
    T4 + "002": box(118.35, 34.0, 118.4, 34.1),
}


@pytest.fixture
def defects(session):
    boundary_set = build(session, DEFECTS)
    return coverage_report(session, DISTRICT, set_id=boundary_set.id, now=NOW)


def test_missing_village_is_a_gap_of_its_area(defects):
    gaps = defects["gaps"]
    assert gaps["count"] == 1
    (gap,) = gaps["features"]
    assert gap["properties"]["parent_code"] == T1 and gap["geometry"]["type"] == "Polygon"
    assert gap["properties"]["area_m2"] == pytest.approx(geodesic_m2(MISSING), rel=1e-3)
    assert gaps["area_m2"] == pytest.approx(geodesic_m2(MISSING), rel=1e-3)
    assert shapely.geometry.shape(gap["geometry"]).equals(MISSING)


def test_overlapping_villages_name_both_codes(defects):
    overlaps = defects["overlaps"]
    assert overlaps["count"] == 1
    (overlap,) = overlaps["features"]
    assert overlap["properties"]["codes"] == [T2 + "001", T2 + "002"]
    assert overlap["properties"]["parent_code"] == T2
    assert overlap["properties"]["area_m2"] == pytest.approx(geodesic_m2(OVERLAP), rel=1e-3)


def test_village_sticking_out_reports_the_area_outside(defects):
    outside = defects["outside_parent"]
    assert [f["properties"]["code"] for f in outside["features"]] == [T3 + "002"]
    assert outside["features"][0]["properties"]["parent_code"] == T3
    assert outside["area_m2"] == pytest.approx(geodesic_m2(OUTSIDE), rel=1e-3)
    # An exact layout reports nothing else: no sliver anywhere.
    assert defects["slivers"]["count"] == 0


def test_broken_grids_score_lower_than_healthy_ones(defects):
    scores = {g["code"]: g for g in defects["grids"]}
    healthy = scores[T4]["score"]
    for broken in (T1, T2 + "001", T2 + "002", T3 + "002"):
        assert scores[broken]["score"] < healthy, broken
        assert scores[broken]["penalties"]["coverage"] >= 20
    assert scores[T4]["penalties"]["coverage"] == 0
    assert scores[T2 + "001"]["score"] < scores[T4 + "001"]["score"]
    assert {g["status"] for g in defects["grids"]} <= {"ok", "warning", "problem"}
    assert defects["score_formula"]["weights"] == {"coverage": 40, "first_responsible": 20,
                                                   "staffing": 20, "enterprises": 10, "stale": 10}


def test_report_for_a_township_covers_only_its_subtree(session):
    boundary_set = build(session, DEFECTS)
    report = coverage_report(session, T2, set_id=boundary_set.id, now=NOW)
    assert [g["code"] for g in report["grids"]] == [T2, T2 + "001", T2 + "002"]
    assert (report["gaps"]["count"], report["overlaps"]["count"], report["outside_parent"]["count"]) == (0, 1, 0)
    assert report["code"] == T2 and report["set_id"] == boundary_set.id


# A parent with one long (0.5°) sloped edge that two children split with a vertex on it.
LONG_PARENT = Polygon([(117.9, 34.3), (118.4, 34.5), (118.4, 34.6), (117.9, 34.6)])
LONG_CHILDREN = (
    Polygon([(117.9, 34.3), (118.15, 34.4), (118.15, 34.6), (117.9, 34.6)]),
    Polygon([(118.15, 34.4), (118.4, 34.5), (118.4, 34.6), (118.15, 34.6)]),
)


def test_long_edge_split_by_a_vertex_is_not_a_gap(session):
    naive = geodesic_m2(LONG_PARENT) - sum(geodesic_m2(c) for c in LONG_CHILDREN)
    assert abs(naive) > 10_000, "the naive ellipsoidal difference invents area"
    boundary_set = build(session, {"320382101": LONG_PARENT, "320382101001": LONG_CHILDREN[0],
                                   "320382101002": LONG_CHILDREN[1]})
    report = coverage_report(session, "320382101", set_id=boundary_set.id, now=NOW)
    assert report["gaps"] == {"area_m2": 0.0, "count": 0, "features": []}
    assert report["overlaps"]["count"] == 0 and report["outside_parent"]["count"] == 0
    assert report["slivers"]["area_m2"] < 1e-3
    # Measured the way the report measures, the parts add up to the whole.
    parent, *children = lonlat_area_m2([LONG_PARENT, *LONG_CHILDREN])
    assert abs(parent - sum(children)) < 1e-3


@pytest.mark.parametrize("eps", [1e-12, -1e-12], ids=["gap-noise", "overlap-noise"])
def test_floating_point_noise_is_a_sliver_not_a_gap(session, eps):
    # The north village's southern border lies 1e-12° north (or south) of the south
    # village's northern border, which carries an extra vertex in the middle of its 0.5°.
    south = Polygon([(118.0, 34.0), (118.5, 34.0), (118.5, 34.1), (118.25, 34.1), (118.0, 34.1)])
    north = box(118.0, 34.1 + eps, 118.5, 34.2)
    parent = box(118.0, 34.0, 118.5, 34.2)
    noise = shapely.symmetric_difference(parent, shapely.union_all([south, north])) if eps > 0 \
        else shapely.intersection(south, north)
    assert not noise.is_empty
    assert geodesic_m2(noise) > 1_000, "geodesic edges would turn the noise into a real defect"
    boundary_set = build(session, {"320382101": parent, "320382101001": south, "320382101002": north})
    report = coverage_report(session, "320382101", set_id=boundary_set.id, now=NOW)
    assert report["gaps"]["count"] == 0 and report["overlaps"]["count"] == 0
    assert report["slivers"]["by_kind"]["gap" if eps > 0 else "overlap"]["count"] >= 1
    assert 0 < report["slivers"]["area_m2"] < 1.0
    assert report["grids"][0]["penalties"]["coverage"] == 0


def test_exact_nested_partition_reports_no_defect():
    # Villages cut from their townships add crossing points on the township borders
    # (vertices the townships do not carry): exact in lon/lat, yet not in geodesic sums.
    from gridmap.sample.tessellate import partition, sample_seeds

    rng = np.random.default_rng(3)
    district = Polygon([(117.6, 34.1), (118.2, 34.0), (118.3, 34.6), (117.7, 34.7)])
    codes, parents, geoms = [DISTRICT], [None], [district]
    for t, township in enumerate(partition(district, sample_seeds(district, 6, rng)), start=1):
        codes.append(f"{DISTRICT}{t:03d}"), parents.append(DISTRICT), geoms.append(township)
        for v, village in enumerate(partition(township, sample_seeds(township, 12, rng)), start=1):
            codes.append(f"{DISTRICT}{t:03d}{v:03d}"), parents.append(f"{DISTRICT}{t:03d}"), geoms.append(village)
    found = geometry_defects(codes, parents, geoms)
    assert (found.gaps, found.overlaps, found.outside_parent) == ([], [], [])
    assert found.parents_checked == 7
    townships = [g for c, g in zip(codes, geoms) if len(c) == 9]
    villages = [g for c, g in zip(codes, geoms) if len(c) == 12]
    assert abs(sum(map(geodesic_m2, townships)) - sum(map(geodesic_m2, villages))) > 1.0


def test_gap_and_outside_touching_along_the_border_are_told_apart():
    inside_gap = box(118.05, 34.09, 118.1, 34.1)
    sticking_out = box(118.06, 34.1, 118.08, 34.12)
    found = geometry_defects(
        [T1, T1 + "001", T1 + "002"], [None, T1, T1],
        [box(118.0, 34.0, 118.1, 34.1), box(118.0, 34.0, 118.05, 34.1),
         shapely.union(box(118.05, 34.0, 118.1, 34.09), sticking_out)])
    (gap,), (outside,) = found.gaps, found.outside_parent
    assert gap["properties"]["area_m2"] == pytest.approx(geodesic_m2(inside_gap), rel=1e-3)
    assert outside["properties"]["code"] == T1 + "002"
    assert outside["properties"]["area_m2"] == pytest.approx(geodesic_m2(sticking_out), rel=1e-3)


def test_sliver_tolerance_is_configurable():
    codes = [T1, T1 + "001", T1 + "002"]
    parents = [None, T1, T1]
    tiny = 2e-6  # ≈ 0.2 m wide over 11 km: ~2,000 m²
    geoms = [box(118.0, 34.0, 118.1, 34.1), box(118.0, 34.0, 118.05 - tiny, 34.1), box(118.05, 34.0, 118.1, 34.1)]
    loose = geometry_defects(codes, parents, geoms, sliver_tolerance_m2=1e4)
    strict = geometry_defects(codes, parents, geoms, sliver_tolerance_m2=1.0)
    assert (len(loose.gaps), loose.slivers["gap"]["count"]) == (0, 1)
    assert len(strict.gaps) == 1 and strict.slivers["gap"]["count"] == 0
    assert strict.gaps[0]["properties"]["area_m2"] == pytest.approx(
        geodesic_m2(box(118.05 - tiny, 34.0, 118.05, 34.1)), rel=1e-3)


def test_leaves_are_not_checked_and_triple_overlap_lists_every_pair():
    codes = ["320382101", "320382101001", "320382101002", "320382101003", "320382102"]
    parents = [None, "320382101", "320382101", "320382101", None]
    geoms = [box(0, 0, 3, 1), box(0, 0, 2, 1), box(1, 0, 3, 1), box(0.5, 0, 2.5, 1), box(5, 5, 6, 6)]
    found = geometry_defects(codes, parents, geoms)
    assert [f["properties"]["codes"] for f in found.overlaps] == [
        ["320382101001", "320382101002"], ["320382101001", "320382101003"],
        ["320382101002", "320382101003"]]
    assert found.gaps == [] and found.parents_checked == 1


@hsettings(max_examples=60, deadline=None)
@given(lon=st.floats(75, 133), lat=st.floats(18, 53), width=st.floats(1e-4, 0.5),
       height=st.floats(1e-4, 0.5), t=st.floats(0.05, 0.95))
def test_lonlat_area_is_additive_and_close_to_geodesic(lon, lat, width, height, t):
    ring = [(lon, lat), (lon + width, lat + height / 3), (lon + width, lat + height), (lon, lat + height)]
    # The same polygon with a vertex inserted on its sloped edge.
    split = (lon + t * width, lat + t * height / 3)
    whole, with_vertex = lonlat_area_m2([Polygon(ring), Polygon([ring[0], split, *ring[1:]])])
    assert abs(whole - with_vertex) <= 1e-9 * whole + 1e-6
    assert whole == pytest.approx(geodesic_m2(Polygon(ring)), rel=5e-3)


# ------------------------------------------------------------------------ staffing

def staff_township(session, code: str, *, staff: int = 3, certified: int = 2, full_time: int = 3,
                   director: bool = True, director_full_time: bool = True) -> None:
    for number in range(staff):
        make_person(session, grid_code=code, role="safety_officer", name=f"安全员{number}",
                    certificate_no=f"苏{code[:6]}{number:07d}" if number < certified else None,
                    full_time=number < full_time)
    if director:
        make_person(session, grid_code=code, role="direct_responsible", name="站长",
                    full_time=director_full_time, certificate_no=f"苏{code[:6]}9999999")


def failures_of(report: dict, code: str) -> list[tuple]:
    for row in report["townships_understaffed"]:
        if row["code"] == code:
            return [(f["rule"], f["part"], f["required"], f["actual"]) for f in row["failures"]]
    return []


def test_a_fully_staffed_township_passes_and_an_empty_one_fails_every_rule(session, toy_district):
    staff_township(session, TOWNSHIP_A)
    report = coverage_report(session, DISTRICT, now=NOW)
    assert failures_of(report, TOWNSHIP_A) == []
    assert failures_of(report, TOWNSHIP_B) == [
        ("staff_per_population", "safety_staff", 2, 0), ("team_1_2_n", "director", 1, 0),
        ("team_1_2_n", "certified_professionals", 2, 0), ("team_1_2_n", "team_size", 3, 0)]
    (row,) = report["townships_understaffed"]
    assert row["rules"] == ["staff_per_population", "team_1_2_n"] and row["population"] == 20000
    scores = {g["code"]: g for g in report["grids"]}
    assert scores[TOWNSHIP_B]["penalties"]["staffing"] == 14
    assert scores[TOWNSHIP_A]["penalties"]["staffing"] == 0


@pytest.mark.parametrize(("plan", "expected"), [
    ({"staff": 1, "certified": 1, "full_time": 1},
     [("staff_per_population", "safety_staff", 2, 1), ("team_1_2_n", "certified_professionals", 2, 1),
      ("team_1_2_n", "team_size", 3, 1)]),
    ({"director_full_time": False}, [("team_1_2_n", "director", 1, 0)]),
    ({"director": False}, [("team_1_2_n", "director", 1, 0)]),
    ({"certified": 1}, [("team_1_2_n", "certified_professionals", 2, 1)]),
    ({"staff": 2, "certified": 2}, [("team_1_2_n", "team_size", 3, 2)]),
])
def test_each_township_rule_triggers_on_its_own(session, toy_district, plan, expected):
    staff_township(session, TOWNSHIP_A, **plan)
    assert failures_of(coverage_report(session, TOWNSHIP_A, now=NOW), TOWNSHIP_A) == expected


def test_population_falls_back_to_the_villages_sum(session):
    township = box(118.0, 34.0, 118.1, 34.1)
    boundary_set = build(session, {"320382101": township, "320382101001": box(118.0, 34.0, 118.05, 34.1),
                                   "320382101002": box(118.05, 34.0, 118.1, 34.1)},
                         populations={"320382101001": 21000, "320382101002": 14000})
    staff_township(session, "320382101", staff=3)
    report = coverage_report(session, "320382101", set_id=boundary_set.id, now=NOW)
    assert failures_of(report, "320382101") == [("staff_per_population", "safety_staff", 4, 3)]
    assert report["townships_understaffed"][0]["population"] == 35000
    staff_township(session, "320382101", staff=1, certified=0, director=False)
    assert failures_of(coverage_report(session, "320382101", set_id=boundary_set.id, now=NOW),
                       "320382101") == []


def add_enterprise(session, rng, *, placement: str, home_code: str | None, grid_code: str | None = None,
                   detail: dict | None = None, name: str = "企业") -> Enterprise:
    enterprise = Enterprise(uscc=make_uscc(rng, DISTRICT), name=name, placement=placement,
                            home_code=home_code, grid_code=grid_code, placement_detail=detail or {},
                            district_code=DISTRICT)
    session.add(enterprise)
    session.flush()
    return enterprise


def test_many_enterprises_need_full_time_staff(session, toy_district):
    rng = random.Random(7)
    staff_township(session, TOWNSHIP_A, staff=4, certified=2, full_time=2)
    village = TOWNSHIP_A + "001"
    for _ in range(3):
        add_enterprise(session, rng, placement="exact", home_code=village, grid_code=village)
    strict = CoverageSettings(many_enterprises=3, min_full_time_staff=3)
    report = coverage_report(session, TOWNSHIP_A, settings=strict, now=NOW)
    assert failures_of(report, TOWNSHIP_A) == [("full_time_for_enterprises", "full_time_safety_staff", 3, 2)]
    assert report["townships_understaffed"][0]["enterprises"] == 3
    lenient = CoverageSettings(many_enterprises=4, min_full_time_staff=3)
    assert failures_of(coverage_report(session, TOWNSHIP_A, settings=lenient, now=NOW), TOWNSHIP_A) == []


def test_villages_short_of_patrol_officers(session, toy_district):
    full, short, empty, other = sorted(VILLAGES)
    for code, count in ((full, 2), (short, 1), (other, 3)):
        for number in range(count):
            make_person(session, grid_code=code, role="patrol_officer", name=f"巡查员{number}")
    report = coverage_report(session, DISTRICT, now=NOW)
    assert [(v["code"], v["patrol_officers"], v["required"]) for v in report["villages_understaffed"]] == [
        (short, 1, 2), (empty, 0, 2)]
    scores = {g["code"]: g["penalties"]["staffing"] for g in report["grids"]}
    assert (scores[full], scores[short], scores[empty]) == (0, 10, 20)


def test_grids_without_a_first_responsible(session, toy_district):
    for code in (DISTRICT, TOWNSHIP_A, TOWNSHIP_A + "001"):
        make_person(session, grid_code=code, role="first_responsible")
    make_person(session, grid_code=TOWNSHIP_B, role="liaison")
    report = coverage_report(session, DISTRICT, now=NOW)
    assert report["no_first_responsible"] == ["320382102002", TOWNSHIP_B, "320382103001", "320382103002"]
    scores = {g["code"]: g for g in report["grids"]}
    assert scores[TOWNSHIP_A + "001"]["score"] > scores[TOWNSHIP_A + "002"]["score"]
    assert scores[TOWNSHIP_A + "002"]["penalties"]["first_responsible"] == 20


# ---------------------------------------------------------------------- enterprises

def test_enterprise_totals_and_lists(session, toy_district):
    rng = random.Random(11)
    village = TOWNSHIP_A + "001"
    exact = add_enterprise(session, rng, placement="exact", home_code=village, grid_code=village)
    snapped = add_enterprise(session, rng, placement="snapped", home_code=village, grid_code=village,
                             detail={"distance_m": 12.5})
    ambiguous = add_enterprise(session, rng, placement="ambiguous", home_code=TOWNSHIP_A,
                               detail={"candidates": [village, TOWNSHIP_A + "002"]})
    conflict = add_enterprise(session, rng, placement="conflict", home_code=village, grid_code=village,
                              detail={"address_names": "丙村"})
    unplaced = add_enterprise(session, rng, placement="unplaced", home_code=DISTRICT)
    add_enterprise(session, rng, placement="exact", home_code=TOWNSHIP_B + "001", grid_code=TOWNSHIP_B + "001")

    district = coverage_report(session, DISTRICT, now=NOW)["enterprises"]
    assert district["total"] == 6
    assert district["by_placement"] == {"exact": 2, "snapped": 1, "address": 0, "ambiguous": 1,
                                        "conflict": 1, "unplaced": 1}
    assert [e["uscc"] for e in district["unplaced"]] == [unplaced.uscc]
    assert district["snapped"] == [{"uscc": snapped.uscc, "name": "企业", "placement_detail": {"distance_m": 12.5},
                                    "grid_code": village, "home_code": village}]
    assert [e["uscc"] for e in district["ambiguous"]] == [ambiguous.uscc]
    assert [e["uscc"] for e in district["conflict"]] == [conflict.uscc]

    township = coverage_report(session, TOWNSHIP_A, now=NOW)
    assert township["enterprises"]["total"] == 4 and township["enterprises"]["unplaced"] == []
    assert exact.uscc not in {e["uscc"] for kind in ("snapped", "conflict") for e in township["enterprises"][kind]}
    scores = {g["code"]: g["penalties"]["enterprises"] for g in township["grids"]}
    # 3.5 bad of 4 in the village's township; the other village holds none.
    assert scores[TOWNSHIP_A] == 10 and scores[TOWNSHIP_A + "002"] == 0


# -------------------------------------------------------------------------- stale

def test_stale_grids_from_patrol_records(session, toy_district):
    # A temporary "patrol" table shadows any real one for this transaction only.
    session.execute(text("CREATE TEMP TABLE patrol (grid_code text, at timestamptz) ON COMMIT DROP"))
    active, idle = TOWNSHIP_A + "001", TOWNSHIP_A + "002"
    session.execute(text("INSERT INTO patrol VALUES (:a, :recent), (:b, :old)"),
                    {"a": active, "recent": NOW - timedelta(days=5), "b": idle, "old": NOW - timedelta(days=200)})
    report = coverage_report(session, DISTRICT, now=NOW)
    stale = report["stale"]
    assert stale["available"] is True and stale["days"] == 90
    assert [g["code"] for g in stale["grids"]] == [idle, TOWNSHIP_B, "320382103001", "320382103002"]
    assert stale["grids"][0]["last_activity"].startswith("2025-11-13")
    scores = {g["code"]: g["penalties"]["stale"] for g in report["grids"]}
    assert (scores[active], scores[idle], scores[TOWNSHIP_A], scores[DISTRICT]) == (0, 10, 0, 0)


# ----------------------------------------------------------------------- CLI / API

def test_cli_json_is_only_json(cli, session, toy_district):
    make_person(session, grid_code=DISTRICT, role="first_responsible")
    code, out, err = cli("coverage", DISTRICT, "--json")
    assert code == 0, err
    report = json.loads(out)
    assert report["code"] == DISTRICT and report["gaps"]["count"] == 0
    assert report["no_first_responsible"] == sorted([TOWNSHIP_A, TOWNSHIP_B, *VILLAGES])
    code, out, _ = cli("coverage", TOWNSHIP_A, "--set", str(toy_district.id))
    assert code == 0 and "coverage 320382102" in out and "no first responsible: 3" in out
    assert not out.lstrip().startswith("{")
    code, out, err = cli("coverage", "320382999", "--json")
    assert code == 1 and out == "" and "320382999" in err and len(err.strip().splitlines()) == 1


def test_api_scope_and_auth(client, toy_district, login):
    assert client.get(f"/api/v1/coverage/{TOWNSHIP_A}").status_code == 401
    leader = login("township_leader", TOWNSHIP_A)
    assert client.get(f"/api/v1/coverage/{TOWNSHIP_B}", headers=leader).status_code == 404
    assert client.get(f"/api/v1/coverage/{DISTRICT}", headers=leader).status_code == 404
    mine = client.get(f"/api/v1/coverage/{TOWNSHIP_A}", headers=leader)
    assert mine.status_code == 200, mine.text
    body = mine.json()
    assert body["code"] == TOWNSHIP_A and body["set_id"] == toy_district.id
    assert [g["code"] for g in body["grids"]] == [TOWNSHIP_A, *sorted(v for v in VILLAGES if v.startswith(TOWNSHIP_A))]
    admin = login()
    assert client.get(f"/api/v1/coverage/{DISTRICT}?set={toy_district.id}", headers=admin).status_code == 200
    assert client.get(f"/api/v1/coverage/{DISTRICT}?set=999999", headers=admin).status_code == 404
    assert client.get("/api/v1/coverage/abc", headers=admin).status_code == 422


def test_stored_scores_and_problems_colour_the_map(client, session, toy_district, login):
    """A refresh keeps the per-grid scores and the gap polygon; the tiles then carry them."""
    import mapbox_vector_tile
    from sqlalchemy import text as sql

    session.execute(sql("DELETE FROM grid WHERE set_id = :s AND code = '320382102002'"), {"s": toy_district.id})
    leader = login("township_leader", "320382102")
    stored = client.post("/api/v1/coverage/320382102/refresh", headers=leader).json()
    assert stored["problems"] == 1 and stored["grids"] == 2
    assert client.post("/api/v1/coverage/320382103/refresh", headers=leader).status_code == 404
    assert client.post("/api/v1/coverage/320382/refresh", headers=login("authority", "320382")).status_code == 403
    gaps = client.get("/api/v1/layers/coverage", headers=leader).json()["features"]
    assert [(f["properties"]["kind"], f["properties"]["parent_code"]) for f in gaps] == [("gap", "320382102")]
    assert 50.5e6 < gaps[0]["properties"]["area_m2"] < 51.5e6  # 0.05° × 0.1° at 34.35°N
    tile = client.get("/tiles/grids/8/211/101.mvt", params={"level": "township"}, headers=leader)
    features = mapbox_vector_tile.decode(tile.content)["grids"]["features"]
    township = next(f for f in features if f["properties"]["code"] == "320382102")
    assert township["properties"]["status"] in ("warning", "problem") and township["properties"]["score"] < 90
