"""The synthetic region generator (``gridmap sample synth``): real codes and names, exact
tessellations, determinism, valid enterprises and persons, and planted defects that the
files (recomputed here independently) and the platform (after a real load) show exactly
as the manifest lists them."""

from __future__ import annotations

import csv
import gzip
import hashlib
import json
import math
from collections import Counter, defaultdict
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest
import shapely
from hypothesis import given
from hypothesis import settings as hsettings
from hypothesis import strategies as st
from pyproj import Geod
from shapely.geometry import shape
from sqlalchemy import create_engine, select
from sqlalchemy.orm import Session

from gridmap.address import Gazetteer, GazetteerEntry
from gridmap.cli import invoke
from gridmap.coords import to_cgcs2000
from gridmap.coverage import coverage_report, geometry_defects
from gridmap.divisions import province_and_city
from gridmap.errors import InvalidInput
from gridmap.models import Enterprise
from gridmap.sample.load import load_sample
from gridmap.sample.pizhou import staffing_violations
from gridmap.sample.synth import (
    DIVISIONS_DIR,
    DistrictSpec,
    TownshipSpec,
    build_district,
    generate,
    plan_region,
)
from gridmap.sample.tessellate import check_partition
from gridmap.uscc import is_valid_uscc
from tests.conftest import _test_settings

GEOD = Geod(ellps="GRS80")
# 2 districts of 江苏 (玄武区, 秦淮区), their first 4 townships, 10 villages each (some padded).
REGION = {"province": "32", "districts": 2, "townships_per_district": 4,
          "villages_per_township": 10, "enterprises": 2000}
SEED = 7
FILES = ("district.geojson", "townships.geojson", "villages.geojson", "persons.csv", "enterprises.csv")


# ----------------------------------------------------------------------------- reading


class Region:
    """A generated directory read back the way a test wants it."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.metadata = json.loads((directory / "metadata.json").read_text(encoding="utf-8"))
        self.layers = {}
        for level, name in (("district", "district"), ("township", "townships"), ("village", "villages")):
            document = json.loads((directory / f"{name}.geojson").read_text(encoding="utf-8"))
            self.layers[level] = [(f["properties"], shape(f["geometry"])) for f in document["features"]]
        self.geoms = {p["code"]: g for level in self.layers.values() for p, g in level}
        self.props = {p["code"]: p for level in self.layers.values() for p, _ in level}
        self.villages_of = defaultdict(list)
        for p, _ in self.layers["village"]:
            self.villages_of[p["parent_code"]].append(p["code"])
        with open(directory / "persons.csv", encoding="utf-8", newline="") as handle:
            self.persons = list(csv.DictReader(handle))
        with open(directory / "enterprises.csv", encoding="utf-8", newline="") as handle:
            self.enterprises = list(csv.DictReader(handle))

    def gazetteer(self, district: str) -> Gazetteer:
        entries = [GazetteerEntry(code, p["name"], p["level"], p["parent_code"])
                   for code, p in self.props.items() if code.startswith(district)]
        province, city = province_and_city(district)
        return Gazetteer(entries, province=province, city=city)


def metres(geom, lat0: float):
    """A local plane in metres (good to 0.5 % over a district): for distances only."""
    kx = 111_320.0 * math.cos(math.radians(lat0))
    return shapely.transform(geom, lambda xy: np.column_stack([xy[:, 0] * kx, xy[:, 1] * 111_320.0]))


def geodesic_m2(geom) -> float:
    """Area with geodesic edges (pyproj): independent of the platform's lon/lat measure,
    and within 10⁻³ of it for the pieces planted here (long thin ones differ most)."""
    return float(sum(abs(GEOD.geometry_area_perimeter(p)[0]) for p in shapely.get_parts(geom)))


def classify(region: Region) -> dict[str, dict]:
    """Where each enterprise should land, recomputed from the files alone.

    Points (converted to CGCS2000) inside a village are exact, unless the address names
    another village or township (conflict; an ambiguous address conflicts only when the
    point's village is none of its candidates, as the platform's rule says); points
    outside every village are snapped within 50 m and unplaced beyond; records without
    coordinates are placed by their address (a township of one village names it).
    """
    codes = [p["code"] for p, _ in region.layers["village"]]
    geoms = np.array([g for _, g in region.layers["village"]], dtype=object)
    tree = shapely.STRtree(geoms)
    lat0 = float(np.mean(shapely.get_y(shapely.centroid(geoms))))
    geoms_m = metres(geoms, lat0)
    gazetteers = {p["code"]: region.gazetteer(p["code"]) for p, _ in region.layers["district"]}
    out = {}
    for row in region.enterprises:
        match = gazetteers[row["uscc"][2:8]].match(row["address"])
        named = match.village_code if match.status == "matched" else None
        if match.status == "township_only" and len(region.villages_of[match.township_code]) == 1:
            named = region.villages_of[match.township_code][0]
        if not row["coord_system"]:
            out[row["uscc"]] = {"expected": "address" if named else "unmatched", "village_code": named}
            continue
        x, y = to_cgcs2000(float(row["lon"]), float(row["lat"]), row["coord_system"])
        point = shapely.Point(x, y)
        hits = tree.query(point, predicate="intersects")
        if len(hits) == 1:
            code = codes[int(hits[0])]
            inside_m = float(shapely.distance(metres(point, lat0), geoms_m[int(hits[0])].boundary))
            if match.village_code:
                agrees = match.village_code == code
            elif match.status == "ambiguous" and match.candidates:
                agrees = code in match.candidates
            else:
                agrees = not match.township_code or match.township_code == code[:9]
            if agrees:
                out[row["uscc"]] = {"expected": "exact", "village_code": code, "inside_m": inside_m}
            else:
                out[row["uscc"]] = {"expected": "conflict", "village_code": code,
                                    "address_village_code": match.village_code, "inside_m": inside_m}
            continue
        assert len(hits) == 0, f"{row['uscc']} is in {len(hits)} villages"
        distances = shapely.distance(geoms_m, metres(point, lat0))
        nearest = int(np.argmin(distances))
        if distances[nearest] <= 50.0:
            out[row["uscc"]] = {"expected": "snapped", "village_code": codes[nearest],
                                "distance_m": float(distances[nearest])}
        else:
            assert distances[nearest] > 1000.0, "no point may sit near the 50 m snapping limit"
            out[row["uscc"]] = {"expected": "unplaced"}
    return out


def township_counts(region: Region, placed: dict[str, dict]) -> dict[str, int]:
    counts = {p["code"]: 0 for p, _ in region.layers["township"]}
    for entry in placed.values():
        if entry.get("village_code") and entry["expected"] != "unplaced":
            counts[entry["village_code"][:9]] += 1
    return counts


# ----------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def exact(tmp_path_factory) -> Region:
    directory = tmp_path_factory.mktemp("synth_exact")
    generate(directory, seed=SEED, **REGION)
    return Region(directory)


@pytest.fixture(scope="module")
def planted(tmp_path_factory) -> Region:
    directory = tmp_path_factory.mktemp("synth_planted")
    generate(directory, seed=SEED, plant_defects=True, **REGION)
    return Region(directory)


@pytest.fixture(scope="module")
def planted_placements(planted) -> dict[str, dict]:
    return classify(planted)


# ----------------------------------------------------------------------------- real names


def test_codes_and_names_are_the_registers(exact):
    with open(DIVISIONS_DIR / "areas.csv", encoding="utf-8") as handle:
        areas = {r["code"]: r["name"] for r in csv.DictReader(handle)}
    with open(DIVISIONS_DIR / "streets.csv", encoding="utf-8") as handle:
        streets = [r for r in csv.DictReader(handle) if r["code"].startswith("32")]
    with gzip.open(DIVISIONS_DIR / "villages.csv.gz", "rt", encoding="utf-8") as handle:
        real = {r["code"]: r["name"] for r in csv.DictReader(handle) if r["code"].startswith("32010")}
    districts = [p["code"] for p, _ in exact.layers["district"]]
    assert districts == sorted(c for c in areas if c.startswith("32"))[:2] == ["320102", "320104"]
    assert all(exact.props[c]["name"] == areas[c] for c in districts)
    for district in districts:
        first_four = sorted(r["code"] for r in streets if r["areaCode"] == district)[:4]
        townships = [p["code"] for p, _ in exact.layers["township"] if p["parent_code"] == district]
        assert townships == first_four
        assert all(exact.props[t]["name"] == next(r["name"] for r in streets if r["code"] == t)
                   for t in townships)
    padded = 0
    for township, villages in exact.villages_of.items():
        assert len(villages) == 10 and villages == sorted(villages)
        real_here = sorted(c for c in real if c.startswith(township))
        names = [exact.props[v]["name"] for v in villages]
        assert len(set(names)) == len(names)
        for village in villages:
            props = exact.props[village]
            if props["name_source"] == "divisions":
                assert real[village] == props["name"]
            else:
                padded += 1
                # Codes continue after the township's last real one, names are made up.
                assert village not in real and village > real_here[-1]
                assert props["name"].endswith("村委会") and props["name"] not in real.values()
        real_kept = [v for v in villages if exact.props[v]["name_source"] == "divisions"]
        assert real_kept == real_here[: len(real_kept)]
    assert padded == exact.metadata["counts"]["synthetic_villages"] > 0


def test_a_province_plan_takes_its_districts_in_code_order():
    plan = plan_region(province="32", districts=5, villages_per_township=3)
    assert [d.code for d in plan.districts] == ["320102", "320104", "320105", "320106", "320111"]
    assert all(len(t.villages) == 3 for d in plan.districts for t in d.townships)
    cells = {(d.col, d.row) for d in plan.districts}
    assert len(cells) == 5  # one lattice cell each
    with pytest.raises(InvalidInput):
        plan_region(province="99", districts=1)
    with pytest.raises(InvalidInput):
        generate(Path("/nonexistent"), villages_per_township=3)  # neither province nor districts


# ----------------------------------------------------------------------------- geometry


def test_tessellation_is_exact(exact):
    districts = exact.layers["district"]
    for props, district in districts:
        townships = [g for p, g in exact.layers["township"] if p["parent_code"] == props["code"]]
        report = check_partition(district, townships)
        assert (report["gap_area"], report["outside_area"], report["overlap_max_area"]) == (0.0, 0.0, 0.0)
        assert report["coverage_valid"] and report["unshared_vertices"] == 0
        assert report["area_difference"] < 1e-6 * report["outline_area"]
        for township_props, township in exact.layers["township"]:
            if township_props["parent_code"] != props["code"]:
                continue
            villages = [exact.geoms[c] for c in exact.villages_of[township_props["code"]]]
            report = check_partition(township, villages)
            assert (report["gap_area"], report["outside_area"], report["overlap_max_area"]) == (0.0, 0.0, 0.0)
            assert report["coverage_valid"] and report["multipart_regions"] == 0
            assert report["invalid_regions"] == 0
    # The two districts share a border: their villages form one valid coverage.
    villages = np.array([g for _, g in exact.layers["village"]], dtype=object)
    assert shapely.coverage_is_valid(villages)
    assert shapely.intersects(districts[0][1], districts[1][1])
    # The platform's own engine finds nothing either.
    codes = list(exact.props)
    found = geometry_defects(codes, [exact.props[c]["parent_code"] for c in codes],
                             [exact.geoms[c] for c in codes])
    assert (found.gaps, found.overlaps, found.outside_parent) == ([], [], [])
    assert found.sliver_summary()["count"] == 0


@hsettings(max_examples=12, deadline=None)
@given(seed=st.integers(0, 2**32), order=st.integers(2, 4), extra=st.tuples(*[st.integers(0, 2)] * 4),
       sizes=st.lists(st.integers(1, 6), min_size=1, max_size=4))
def test_any_district_tiles_exactly(seed, order, extra, sizes):
    """Whatever the cell grid, the neighbours' subdivisions and the village counts, the
    villages tile their townships and the townships the district, vertex for vertex."""
    townships = [TownshipSpec(f"32010{i}001", f"第{i}街道", "街道",
                              [(f"32010{i}001{v:03d}", f"第{v}社区居委会", "社区", False) for v in range(1, n + 1)])
                 for i, n in enumerate(sizes)]
    if sum(sizes) * 4 > 4**order:
        order = 3 if sum(sizes) * 4 <= 64 else 4
    spec = DistrictSpec(index=0, code="320102", name="玄武区", province_code="32", province_name="江苏省",
                        city_name="南京市", col=90, row=37, order=order,
                        sides=tuple(1 << (order + e) for e in extra), open_sides=(True,) * 4,
                        townships=townships, enterprises=50)
    output = build_district(spec, seed)
    district = shape(json.loads(output.district_feature)["geometry"])
    assert district.equals(shapely.box(119.0, 32.8, 119.5, 33.2))
    parts = {level: [shape(json.loads(line)["geometry"]) for line in text.split(",\n")]
             for level, text in (("township", output.township_features), ("village", output.village_features))}
    for level in ("township", "village"):
        report = check_partition(district, parts[level])
        assert (report["gap_area"], report["overlap_max_area"], report["outside_area"]) == (0.0, 0.0, 0.0)
        assert report["coverage_valid"] and report["multipart_regions"] == 0
    # The district border carries every point of the finer subdivision of each side.
    assert len(district.exterior.coords) - 1 == sum(spec.sides)


def test_generation_is_deterministic(exact, tmp_path):
    again = tmp_path / "again"
    generate(again, seed=SEED, workers=2, **REGION)
    for name in (*FILES, "metadata.json"):
        assert (again / name).read_bytes() == (exact.directory / name).read_bytes(), name
    other = tmp_path / "other"
    generate(other, seed=SEED + 1, **REGION)
    for name in ("villages.geojson", "persons.csv", "enterprises.csv"):
        assert (other / name).read_bytes() != (exact.directory / name).read_bytes(), name
    # The codes and names are the register's whatever the seed.
    first = json.loads((other / "villages.geojson").read_text(encoding="utf-8"))["features"]
    assert [f["properties"]["name"] for f in first] == [p["name"] for p, _ in exact.layers["village"]]


def test_metadata_describes_the_files(exact):
    metadata = exact.metadata
    for name in FILES:
        content = (exact.directory / name).read_bytes()
        entry = metadata["files"][name]
        assert entry["sha256"] == hashlib.sha256(content).hexdigest()
        assert entry["bytes"] == len(content)
    assert metadata["files"]["enterprises.csv"]["rows"] == len(exact.enterprises) == 2000
    assert metadata["files"]["persons.csv"]["rows"] == len(exact.persons)
    assert metadata["counts"]["villages"] == 80 and metadata["counts"]["townships"] == 8
    assert metadata["seed"] == SEED and metadata["defects"] is None
    assert "合成" in metadata["statements"]["zh"] and "synthetic" in metadata["statements"]["en"]
    assert all(p["synthetic"] is True for p in exact.props.values())


# ----------------------------------------------------------------------------- enterprises


def test_enterprises_are_valid_and_inside_the_village_their_address_names(exact):
    rows = exact.enterprises
    assert list(rows[0]) == ["uscc", "name", "address", "lon", "lat", "coord_system", "sector", "scale",
                             "risk_level", "safety_class", "major_hazard_grade", "department"]
    usccs = [r["uscc"] for r in rows]
    assert len(set(usccs)) == len(usccs) and all(is_valid_uscc(u) for u in usccs)
    assert usccs == sorted(usccs)
    # Names are unique within a district (districts are generated independently).
    assert len({(r["uscc"][2:8], r["name"]) for r in rows}) == len(rows)
    placed = classify(exact)
    assert Counter(e["expected"] for e in placed.values()) == Counter(
        exact.metadata["expected_placements"])
    assert set(exact.metadata["expected_placements"]) == {"exact", "address"}
    for row in rows:
        entry = placed[row["uscc"]]
        # The enterprise is registered in the district it lies in.
        assert row["uscc"][2:8] == entry["village_code"][:6]
        if entry["expected"] == "exact":
            assert entry["inside_m"] > 1.0
            assert len(row["lon"].split(".")[1]) == len(row["lat"].split(".")[1]) == 6
    systems = Counter(r["coord_system"] or "address_only" for r in rows)
    shares = {k: v / len(rows) for k, v in systems.items()}
    # Pizhou's mix: 45 % WGS84, 30 % GCJ-02, 10 % BD-09, 15 % address only.
    assert abs(shares["wgs84"] - 0.45) < 0.06 and abs(shares["gcj02"] - 0.30) < 0.05
    assert abs(shares["bd09"] - 0.10) < 0.04 and abs(shares["address_only"] - 0.15) < 0.05


# ----------------------------------------------------------------------------- persons


def test_persons_meet_the_staffing_standards(exact):
    persons = exact.persons
    assert list(persons[0]) == ["grid_code", "name", "role", "phone", "certificate_no", "full_time"]
    roles = defaultdict(Counter)
    for row in persons:
        roles[row["grid_code"]][row["role"]] += 1
    assert all(roles[code]["first_responsible"] == 1 and roles[code]["lead_official"] == 1
               for code in exact.props)
    villages = [p["code"] for p, _ in exact.layers["village"]]
    assert min(roles[v]["patrol_officer"] for v in villages) >= 2
    # A phone is one person (same name everywhere), certificates are unique.
    owners = defaultdict(set)
    for row in persons:
        owners[row["phone"]].add(row["name"])
    assert all(len(names) == 1 for names in owners.values())
    certificates = [r["certificate_no"] for r in persons if r["certificate_no"]]
    assert len(set(certificates)) == len(certificates)
    assert all(c.startswith("苏") and len(c) == 14 for c in certificates)
    populations = {p["code"]: p["population"] for p, _ in exact.layers["township"]}
    assert all(populations[t] == sum(exact.props[v]["population"] for v in vs)
               for t, vs in exact.villages_of.items())
    counts = township_counts(exact, classify(exact))
    assert staffing_violations(persons, populations, counts) == {}


# ----------------------------------------------------------------------------- planted defects


def test_planted_geometry_defects_are_exactly_the_manifests(planted):
    defects = planted.metadata["defects"]
    assert all(defects["counts"][kind] == 2 for kind in defects["planned_per_kind"])
    assert defects["not_planted"] == []
    gaps, overlaps, outside = [], [], []
    for township_props, township in planted.layers["township"]:
        code = township_props["code"]
        villages = {c: planted.geoms[c] for c in planted.villages_of[code]}
        union = shapely.union_all(list(villages.values()))
        for piece in shapely.get_parts(shapely.difference(township, union)):
            if geodesic_m2(piece) > 1.0:
                losers = [c for c, g in villages.items()
                          if any(shapely.equals(shapely.Polygon(r), piece) for r in g.interiors)]
                gaps.append((code, losers, geodesic_m2(piece)))
        items = sorted(villages.items())
        for i, (a, ga) in enumerate(items):
            outside_area = geodesic_m2(shapely.difference(ga, township))
            if outside_area > 1.0:
                outside.append((a, outside_area, float(shapely.difference(ga, township).area / ga.area)))
            for b, gb in items[i + 1:]:
                area = geodesic_m2(shapely.intersection(ga, gb))
                if area > 1.0:
                    overlaps.append(([a, b], area))
    listed = sorted((g["township_code"], [g["village_code"]], g["area_m2"]) for g in defects["gaps"])
    assert [(t, v) for t, v, _ in sorted(gaps)] == [(t, v) for t, v, _ in listed]
    for (_, _, area), (_, _, expected) in zip(sorted(gaps), listed):
        assert area == pytest.approx(expected, rel=1e-3)
    assert sorted((c, round(a, -2)) for c, a in overlaps) == sorted(
        (o["codes"], round(o["area_m2"], -2)) for o in defects["overlaps"])
    assert sorted(c for c, _, _ in outside) == sorted(o["code"] for o in defects["outside_parent"])
    for code, area, share in outside:
        entry = next(o for o in defects["outside_parent"] if o["code"] == code)
        assert area == pytest.approx(entry["area_m2"], rel=1e-3)
        assert share < 0.01  # under the import's rejection threshold
    # The platform's engine, run on the files, reports the same and nothing else.
    codes = list(planted.props)
    found = geometry_defects(codes, [planted.props[c]["parent_code"] for c in codes],
                             [planted.geoms[c] for c in codes])
    assert sorted(f["properties"]["parent_code"] for f in found.gaps) == sorted(
        g["township_code"] for g in defects["gaps"])
    assert sorted(f["properties"]["codes"] for f in found.overlaps) == sorted(
        o["codes"] for o in defects["overlaps"])
    assert sorted(f["properties"]["code"] for f in found.outside_parent) == sorted(
        o["code"] for o in defects["outside_parent"])


def test_planted_staffing_defects_are_exactly_the_manifests(planted, planted_placements):
    defects = planted.metadata["defects"]
    roles = defaultdict(Counter)
    for row in planted.persons:
        roles[row["grid_code"]][row["role"]] += 1
    without_first = sorted(code for code in planted.props if not roles[code]["first_responsible"])
    assert without_first == sorted(d["code"] for d in defects["no_first_responsible"])
    short = sorted((p["code"], roles[p["code"]]["patrol_officer"]) for p, _ in planted.layers["village"]
                   if roles[p["code"]]["patrol_officer"] < 2)
    assert short == sorted((d["code"], d["patrol_officers"]) for d in defects["villages_understaffed"])
    assert {count for _, count in short} == {0, 1}
    populations = {p["code"]: p["population"] for p, _ in planted.layers["township"]}
    counts = township_counts(planted, planted_placements)
    found = staffing_violations(planted.persons, populations, counts)
    assert found == {d["code"]: d["rules"] for d in defects["townships_understaffed"]}
    assert {d["fault"] for d in defects["townships_understaffed"]} <= {
        "staff_per_population", "no_director", "one_certified", "full_time_for_enterprises"}


def test_misplaced_enterprises_are_exactly_the_manifests(planted, planted_placements):
    defects = planted.metadata["defects"]
    listed = {e["uscc"]: e for kind in ("enterprises_unplaced", "enterprises_snapped", "enterprises_conflict")
              for e in defects[kind]}
    assert len(listed) == 6
    found = {u: e for u, e in planted_placements.items() if e["expected"] not in ("exact", "address")}
    assert sorted(found) == sorted(listed)
    for uscc, entry in listed.items():
        assert found[uscc]["expected"] == entry["expected"]
        if entry["expected"] in ("snapped", "conflict"):
            assert found[uscc]["village_code"] == entry["village_code"]
        if entry["expected"] == "conflict":
            assert found[uscc]["address_village_code"] == entry["address_village_code"]
        if entry["expected"] == "snapped":
            assert 10.0 < found[uscc]["distance_m"] < 40.0
    # No enterprise point lies in a piece a defect added or removed.
    pieces = [shapely.Polygon(d["polygon"]) for kind in ("gaps", "overlaps", "outside_parent")
              for d in defects[kind]]
    rows = [r for r in planted.enterprises if r["coord_system"] and r["uscc"] not in listed]
    x, y = to_cgcs2000(np.array([float(r["lon"]) for r in rows]), np.array([float(r["lat"]) for r in rows]),
                       "wgs84")
    for system in ("gcj02", "bd09"):
        mask = np.array([r["coord_system"] == system for r in rows])
        x[mask], y[mask] = to_cgcs2000(np.array([float(r["lon"]) for r in rows])[mask],
                                       np.array([float(r["lat"]) for r in rows])[mask], system)
    points = shapely.points(x, y)
    assert not any(shapely.intersects(piece, points).any() for piece in pieces)


# ----------------------------------------------------------------------------- CLI and the platform


def test_cli_writes_the_same_region(exact, tmp_path, capsys):
    argv = ["sample", "synth", "--out", str(tmp_path), "--province", "32", "--districts", "2",
            "--townships-per-district", "4", "--villages-per-township", "10",
            "--enterprises", "2000", "--seed", str(SEED), "--json"]
    assert invoke(argv) == 0
    summary = json.loads(capsys.readouterr().out)
    assert (summary["villages"], summary["enterprises"], summary["districts"]) == (80, 2000, 2)
    assert (tmp_path / "enterprises.csv").read_bytes() == (exact.directory / "enterprises.csv").read_bytes()


def test_loaded_region_places_and_reports_exactly_the_planted_defects(planted, planted_placements,
                                                                      fresh_database):
    engine = create_engine(fresh_database)

    @contextmanager
    def session_scope():
        with Session(engine) as session:
            yield session
            session.commit()

    try:
        summary = load_sample(session_scope, planted.directory, settings=_test_settings(fresh_database),
                              log=lambda line: None)
        assert summary["enterprises"]["added"] == 2000
        defects = planted.metadata["defects"]
        with Session(engine) as session:
            stored = {e.uscc: e for e in session.scalars(select(Enterprise))}
            wrong = []
            for uscc, entry in planted_placements.items():
                e = stored[uscc]
                want = (entry["expected"], entry.get("village_code") if entry["expected"] != "unplaced" else None)
                if (e.placement, e.grid_code) != want:
                    wrong.append((uscc, want, (e.placement, e.grid_code)))
            assert wrong == []
            for entry in defects["enterprises_conflict"]:
                detail = stored[entry["uscc"]].placement_detail
                assert detail["address_village"]["code"] == entry["address_village_code"]
            for entry in defects["enterprises_unplaced"]:
                assert stored[entry["uscc"]].home_code == entry["district_code"]

            for district_props, _ in planted.layers["district"]:
                code = district_props["code"]
                report = coverage_report(session, code)

                def mine(entries, key="township_code", code=code):
                    return [e for e in entries if e[key].startswith(code)]

                assert sorted((f["properties"]["parent_code"], round(f["properties"]["area_m2"], 1))
                              for f in report["gaps"]["features"]) == sorted(
                    (g["township_code"], round(g["area_m2"], 1)) for g in mine(defects["gaps"]))
                assert sorted((f["properties"]["codes"], round(f["properties"]["area_m2"], 1))
                              for f in report["overlaps"]["features"]) == sorted(
                    (o["codes"], round(o["area_m2"], 1)) for o in mine(defects["overlaps"]))
                assert sorted((f["properties"]["code"], round(f["properties"]["area_m2"], 1))
                              for f in report["outside_parent"]["features"]) == sorted(
                    (o["code"], round(o["area_m2"], 1)) for o in mine(defects["outside_parent"]))
                assert sorted(report["no_first_responsible"]) == sorted(
                    d["code"] for d in mine(defects["no_first_responsible"], "code"))
                assert sorted((v["code"], v["patrol_officers"]) for v in report["villages_understaffed"]) == sorted(
                    (d["code"], d["patrol_officers"]) for d in mine(defects["villages_understaffed"], "code"))
                assert sorted((t["code"], t["rules"]) for t in report["townships_understaffed"]) == sorted(
                    (d["code"], d["rules"]) for d in mine(defects["townships_understaffed"], "code"))
    finally:
        engine.dispose()
