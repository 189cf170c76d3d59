"""The shipped sample district 邳州市 (gridmap.sample.pizhou), checked from its files.

One generation per module; every check reads the written files, as the platform will.
"""

from __future__ import annotations

import csv
import gzip
import hashlib
import json
import math
import re
from collections import Counter, defaultdict
from pathlib import Path

import numpy as np
import pytest
import shapely
from pyproj import Geod, Transformer
from shapely import Point
from shapely.geometry import shape

from gridmap.coords import to_cgcs2000, transform_geometry
from gridmap.sample.pizhou import generate
from gridmap.uscc import is_valid_uscc

DATA = Path(__file__).resolve().parents[1] / "data"
GEOD = Geod(ellps="GRS80")
# UTM zone 50N covers 114-120°E: metres for distance checks, independent of the generator.
TO_METRES = Transformer.from_crs("EPSG:4326", "EPSG:32650", always_xy=True)
FILES = ("district.geojson", "townships.geojson", "villages.geojson", "persons.csv",
         "enterprises.csv", "hazards.csv", "metadata.json")
VILLAGE_SUFFIXES = ("社区居民委员会", "社区居委会", "居民委员会", "村民委员会", "居委会", "村委会")


# --------------------------------------------------------------------------- fixtures


class Sample:
    def __init__(self, directory: Path, summary: dict):
        self.dir = directory
        self.summary = summary
        self.metadata = json.loads((directory / "metadata.json").read_text(encoding="utf-8"))
        self.layers = {
            name: json.loads((directory / f"{name}.geojson").read_text(encoding="utf-8"))
            for name in ("district", "townships", "villages")
        }
        self.district = shape(self.layers["district"]["features"][0]["geometry"])
        self.townships = {f["properties"]["code"]: (f["properties"], shape(f["geometry"]))
                          for f in self.layers["townships"]["features"]}
        self.villages = {f["properties"]["code"]: (f["properties"], shape(f["geometry"]))
                         for f in self.layers["villages"]["features"]}
        self.persons = _read_csv(directory / "persons.csv")
        self.enterprises = _read_csv(directory / "enterprises.csv")
        self.village_codes = sorted(self.villages)
        self.village_tree = shapely.STRtree([self.villages[c][1] for c in self.village_codes])

    def village_at(self, point: Point) -> str | None:
        hits = self.village_tree.query(point, predicate="within")
        return self.village_codes[int(hits[0])] if len(hits) else None

    def children(self, township_code: str) -> list[str]:
        return [c for c in self.village_codes if self.villages[c][0]["parent_code"] == township_code]


def _read_csv(path: Path) -> list[dict[str, str]]:
    with open(path, encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


@pytest.fixture(scope="module")
def sample(tmp_path_factory) -> Sample:
    directory = tmp_path_factory.mktemp("pizhou")
    summary = generate(directory)
    return Sample(directory, summary)


# --------------------------------------------------------------------------- helpers


def geodesic_area(geom) -> float:
    total = 0.0
    for part in shapely.get_parts(geom):
        if part.geom_type == "Polygon":
            total += abs(GEOD.geometry_area_perimeter(part)[0])
    return total


def overlay_area(operation, a, b) -> float:
    """Geodesic m² of an overlay; non-zero answers are confirmed with snap-rounding, as
    GEOS's floating overlay can mistake a coincident border for a whole polygon."""
    area = geodesic_area(operation(a, b))
    if area > 0:
        area = min(area, geodesic_area(operation(a, b, grid_size=1e-10)))
    return area


def metres(geom):
    return shapely.transform(geom, lambda xy: np.column_stack(TO_METRES.transform(xy[:, 0], xy[:, 1])))


def stored_point(row: dict[str, str]) -> Point:
    """The enterprise's point in CGCS2000, converted back with the project's converter."""
    lon, lat = to_cgcs2000(float(row["lon"]), float(row["lat"]), row["coord_system"])
    return Point(lon, lat)


def village_core(name: str) -> str:
    for suffix in VILLAGE_SUFFIXES:
        if name.endswith(suffix) and len(name) > len(suffix):
            return name[: -len(suffix)]
    return name


def village_forms(name: str) -> set[str]:
    core = village_core(name)
    forms = {core + s for s in ("村", "村委会", "村民委员会", "社区", "社区居委会", "居委会")}
    if core.endswith("村"):
        forms.add(core)
    return forms


def township_forms(name: str) -> set[str]:
    forms = {name, name + "办事处"}
    if name.endswith("镇"):
        forms.add(name[:-1])
    if name == "江苏邳州经济开发区":
        forms |= {"邳州经济开发区", "邳州开发区"}
    return forms


def names_village(address: str, name: str) -> bool:
    return any(form in address for form in village_forms(name))


# --------------------------------------------------------------------------- divisions


def test_codes_and_names_are_the_real_divisions(sample):
    with open(DATA / "divisions/streets.csv", encoding="utf-8", newline="") as handle:
        streets = {r["code"]: r["name"] for r in csv.DictReader(handle) if r["code"].startswith("320382")}
    with gzip.open(DATA / "divisions/villages.csv.gz", "rt", encoding="utf-8", newline="") as handle:
        header = next(handle)
        rows = csv.DictReader([header, *(line for line in handle if line.startswith("320382"))])
        villages = {r["code"]: (r["name"], r["streetCode"]) for r in rows}
    assert len(streets) == 28 and len(villages) == 516
    assert {c: p["name"] for c, (p, _) in sample.townships.items()} == streets
    assert {c: (p["name"], p["parent_code"]) for c, (p, _) in sample.villages.items()} == villages
    assert all(p["parent_code"] == "320382" and p["level"] == "township" for p, _ in sample.townships.values())
    kinds = Counter(p["kind"] for p, _ in sample.townships.values())
    assert kinds == {"街道": 4, "镇": 21, "农场": 2, "开发区": 1}
    district = sample.layers["district"]["features"][0]["properties"]
    assert (district["code"], district["name"], district["level"], district["synthetic"]) == (
        "320382", "邳州市", "district", False)


def test_layers_declare_cgcs2000_and_what_is_synthetic(sample):
    for name, layer in sample.layers.items():
        assert layer["crs"] == {"type": "name", "properties": {"name": "urn:ogc:def:crs:EPSG::4490"}}
        meta = layer["metadata"]
        assert meta["seed"] == 320382 and meta["generator_version"]
        assert meta["synthetic"] is (name != "district")
        assert "合成" in meta["statement_zh"] and "synthetic" in meta["statement_en"]
    assert all(p["synthetic"] is True for p, _ in [*sample.townships.values(), *sample.villages.values()])


# --------------------------------------------------------------------------- geometry


def test_villages_tile_their_township_exactly(sample):
    for code, (props, township) in sample.townships.items():
        children = [sample.villages[c][1] for c in sample.children(code)]
        union = shapely.union_all(children)
        assert abs(geodesic_area(township) - sum(map(geodesic_area, children))) < 1.0
        assert overlay_area(shapely.difference, township, union) < 1.0
        assert overlay_area(shapely.difference, union, township) < 1.0
        assert shapely.coverage_is_valid(np.array(children, dtype=object))
        tree = shapely.STRtree(children)
        left, right = tree.query(children, predicate="intersects")
        for i, j in zip(left.tolist(), right.tolist()):
            if i < j:
                assert overlay_area(shapely.intersection, children[i], children[j]) == 0.0
        for child in children:
            assert township.covers(child)


def test_townships_tile_the_district_exactly(sample):
    townships = [g for _, g in sample.townships.values()]
    union = shapely.union_all(townships)
    assert abs(geodesic_area(sample.district) - sum(map(geodesic_area, townships))) < 1.0
    assert overlay_area(shapely.difference, sample.district, union) < 1.0
    assert overlay_area(shapely.difference, union, sample.district) < 1.0
    assert shapely.coverage_is_valid(np.array(townships, dtype=object))
    # Villages of neighbouring townships share their vertices along township borders too.
    assert shapely.coverage_is_valid(np.array([g for _, g in sample.villages.values()], dtype=object))
    assert 2.0e9 < geodesic_area(sample.district) < 2.15e9  # 邳州市: 2,088 km²


def test_district_is_the_projects_conversion_of_the_real_outline(sample):
    source = json.loads((DATA / "boundaries/inputs/320382_pizhou_county_gcj02.geojson").read_text())
    converted = transform_geometry(shape(source["features"][0]["geometry"]), "gcj02", "cgcs2000")
    original = [tuple(c) for c in shapely.get_coordinates(converted).tolist()]
    carried = [tuple(c) for c in shapely.get_coordinates(sample.district).tolist()]
    # Every converted vertex is there, bit for bit, in ring order (either direction) ...
    position = {c: i for i, c in enumerate(carried)}
    assert all(c in position for c in original)
    order = [position[c] for c in original[:-1]]
    steps = Counter(np.sign(np.diff(order)).tolist())
    assert steps.most_common(1)[0][1] >= len(order) - 3
    # ... and the extra ones (where township borders meet it) lie on its edges.
    extra = np.array(sorted(set(carried) - set(original)))
    assert len(extra) > 0
    assert shapely.distance(shapely.points(extra), converted.boundary).max() < 1e-12
    assert abs(sample.district.area - converted.area) < 1e-12 * converted.area


def test_urban_units_are_smaller_than_rural_ones(sample):
    areas = defaultdict(list)
    for props, geom in sample.villages.values():
        if props["name"].endswith(("居委会", "村委会")):
            areas[props["kind"]].append(geodesic_area(geom))
    assert np.mean(areas["社区"]) < 0.5 * np.mean(areas["村"])
    by_kind = defaultdict(list)
    for props, geom in sample.townships.values():
        by_kind[props["kind"]].append(geodesic_area(geom))
    assert np.mean(by_kind["街道"]) < 0.7 * np.mean(by_kind["镇"])
    assert max(by_kind["农场"]) < min(by_kind["镇"])
    # The city centre lies in the urban core.
    centre = Point(117.96, 34.33)
    assert sample.district.contains(centre)
    assert [p["kind"] for p, g in sample.townships.values() if g.contains(centre)] == ["街道"]
    centre_m = metres(centre)
    for props, geom in sample.townships.values():
        if props["kind"] in ("街道", "开发区"):
            assert metres(geom).distance(centre_m) < 8000.0, props["name"]


def test_populations_are_realistic(sample):
    populations = {c: p["population"] for c, (p, _) in sample.villages.items()}
    assert 1_400_000 <= sum(populations.values()) <= 1_600_000
    for code, (props, _) in sample.villages.items():
        township_kind = sample.townships[props["parent_code"]][0]["kind"]
        if props["name"].endswith("村委会"):
            assert 1500 <= props["population"] <= 5000
        elif props["name"].endswith("居委会"):
            assert 4000 <= props["population"] <= 15000
        elif township_kind == "农场":
            assert props["population"] <= 3000
    for code, (props, _) in sample.townships.items():
        assert props["population"] == sum(populations[c] for c in sample.children(code))
    assert sample.layers["district"]["features"][0]["properties"]["population"] == sum(populations.values())


# --------------------------------------------------------------------------- enterprises


def test_enterprise_columns_and_uscc(sample):
    header = (sample.dir / "enterprises.csv").read_text(encoding="utf-8").split("\n", 1)[0]
    assert header == "uscc,name,address,lon,lat,coord_system,sector,scale,risk_level,safety_class,major_hazard_grade,department"
    codes = [r["uscc"] for r in sample.enterprises]
    assert 3900 <= len(codes) <= 4100
    assert len(set(codes)) == len(codes)
    assert all(is_valid_uscc(c) and c[2:8] == "320382" for c in codes)
    assert len({r["name"] for r in sample.enterprises}) == len(codes)
    for row in sample.enterprises:
        assert row["scale"] in ("规上", "规下")
        assert row["risk_level"] in ("重大", "较大", "一般", "低")
        assert row["safety_class"] in ("A", "B", "C")
        assert row["major_hazard_grade"] in ("", "1", "2", "3", "4")
        if row["major_hazard_grade"]:
            assert row["sector"] in ("危险化学品", "燃气")
        assert row["address"].endswith("号") and "邳州" in row["address"]
        if row["coord_system"]:
            assert re.fullmatch(r"\d+\.\d{6}", row["lon"]) and re.fullmatch(r"\d+\.\d{6}", row["lat"])
        else:
            assert row["lon"] == row["lat"] == ""


def test_sector_and_coordinate_mix(sample):
    total = len(sample.enterprises)
    sectors = Counter(r["sector"] for r in sample.enterprises)
    assert set(sectors) == {"危险化学品", "金属冶炼", "粉尘涉爆", "建筑施工", "道路运输", "人员密集场所",
                            "烟花爆竹", "非煤矿山", "冷库", "加油站", "燃气", "一般制造业"}
    assert sectors.most_common(1)[0][0] == "一般制造业"
    assert sectors["粉尘涉爆"] > 0.1 * total
    assert sectors["烟花爆竹"] + sectors["非煤矿山"] < 0.02 * total
    systems = Counter(r["coord_system"] for r in sample.enterprises)
    for system, share in (("wgs84", 0.45), ("gcj02", 0.30), ("bd09", 0.10), ("", 0.15)):
        assert systems[system] / total == pytest.approx(share, abs=0.03)
    departments = defaultdict(set)
    for row in sample.enterprises:
        departments[row["sector"]].add(row["department"])
    assert departments["建筑施工"] == {"住房和城乡建设局"}
    assert departments["危险化学品"] == departments["粉尘涉爆"] == {"应急管理局"}
    assert departments["加油站"] == {"商务局"} and departments["道路运输"] == {"交通运输局"}
    assert {"教育局", "文化广电和旅游局", "市场监督管理局"} <= departments["人员密集场所"]
    # Enterprises crowd the development zone and the city.
    by_township = {t["code"]: t["enterprises"] for t in sample.metadata["townships"]}
    assert max(by_township, key=by_township.get) == "320382403"


def test_special_cases_fall_where_metadata_says(sample):
    rows = {r["uscc"]: r for r in sample.enterprises}
    cases = sample.metadata["enterprise_cases"]["special"]
    kinds = Counter(c["kind"] for c in cases)
    assert kinds == {"near_border": 20, "conflict": 10, "outside_near": 5, "outside_far": 5, "ambiguous": 10}
    district_m = metres(sample.district)
    townships = {p["name"]: c for c, (p, _) in sample.townships.items()}
    for case in cases:
        row = rows[case["uscc"]]
        assert row["coord_system"] == case["coord_system"]
        expected = case["expected"]
        if expected == "ambiguous":
            assert row["lon"] == "" and row["coord_system"] == ""
            names = [sample.villages[c][0]["name"] for c in case["candidates"]]
            parents = {sample.villages[c][0]["parent_code"] for c in case["candidates"]}
            assert len(parents) == len(names) == 2 and len({village_core(n) for n in names}) == 1
            assert names_village(row["address"], names[0])
            assert not any(form in row["address"] for name in townships
                           for form in township_forms(name))
            continue
        point = stored_point(row)
        point_m = metres(point)
        if expected == "exact":
            assert sample.village_at(point) == case["village_code"]
            border = metres(sample.villages[case["village_code"]][1]).boundary
            assert border.distance(point_m) <= 31.0
            assert names_village(row["address"], sample.villages[case["village_code"]][0]["name"])
        elif expected == "conflict":
            actual = sample.village_at(point)
            assert actual == case["village_code"] != case["address_village_code"]
            assert names_village(row["address"], sample.villages[case["address_village_code"]][0]["name"])
            assert not names_village(row["address"], sample.villages[actual][0]["name"])
        elif expected == "snapped":
            assert sample.village_at(point) is None
            assert 10.0 <= district_m.distance(point_m) <= 40.0
            distances = {c: metres(g).distance(point_m) for c, (_, g) in sample.villages.items()}
            nearest = sorted(distances, key=distances.get)
            assert nearest[0] == case["village_code"] and distances[nearest[1]] > 50.0
        elif expected == "unplaced":
            assert 2000.0 <= district_m.distance(point_m) <= 10000.0
        else:  # pragma: no cover
            pytest.fail(f"unknown outcome {expected}")


def test_regular_points_lie_in_the_village_their_address_names(sample):
    special = {c["uscc"] for c in sample.metadata["enterprise_cases"]["special"]}
    located = [r for r in sample.enterprises if r["coord_system"] and r["uscc"] not in special]
    assert len(located) > 3000
    village_names = {c: p["name"] for c, (p, _) in sample.villages.items()}
    omitted = 0
    for row in located:
        code = sample.village_at(stored_point(row))
        assert code is not None, row
        township_code = code[:9]
        township_name = sample.townships[township_code][0]["name"]
        address = row["address"]
        assert any(form in address for form in township_forms(township_name)), address
        siblings = [village_names[c] for c in sample.children(township_code)]
        if len(siblings) == 1:
            continue
        if names_village(address, village_names[code]):
            assert not any(names_village(address, n) for n in siblings if n != village_names[code])
        else:
            omitted += 1
            assert not any(names_village(address, n) for n in siblings), address
    assert omitted < 0.08 * len(located)


def test_address_only_records_name_their_village(sample):
    rows = {r["uscc"]: r for r in sample.enterprises}
    entries = sample.metadata["enterprise_cases"]["address_only"]
    assert len(entries) + 10 == sum(1 for r in sample.enterprises if not r["coord_system"])
    for entry in entries:
        row = rows[entry["uscc"]]
        assert row["coord_system"] == ""
        props = sample.villages[entry["village_code"]][0]
        township_name = sample.townships[props["parent_code"]][0]["name"]
        assert any(form in row["address"] for form in township_forms(township_name))
        if props["name"].endswith(("居委会", "村委会")):
            assert names_village(row["address"], props["name"])


# --------------------------------------------------------------------------- persons


def test_persons_file_and_people(sample):
    header = (sample.dir / "persons.csv").read_text(encoding="utf-8").split("\n", 1)[0]
    assert header == "grid_code,name,role,phone,certificate_no,full_time"
    roles = {"lead_official", "first_responsible", "liaison", "deputy_responsible", "direct_responsible",
             "grid_manager", "info_collector", "supervisor", "safety_officer", "patrol_officer"}
    names_by_phone = defaultdict(set)
    grids_by_phone = defaultdict(set)
    for row in sample.persons:
        assert row["role"] in roles and row["full_time"] in ("0", "1")
        assert re.fullmatch(r"1[3-9]\d{9}", row["phone"])
        assert 2 <= len(row["name"]) <= 4
        if row["certificate_no"]:
            assert re.fullmatch(r"苏320382\d{7}", row["certificate_no"])
        names_by_phone[row["phone"]].add(row["name"])
        grids_by_phone[row["phone"]].add(row["grid_code"])
    assert all(len(names) == 1 for names in names_by_phone.values())
    # Some people hold roles in several grids (a township's lead official also leads a village).
    assert sum(len(g) > 1 for g in grids_by_phone.values()) >= 28
    grids = {"320382", *sample.townships, *sample.villages}
    assert {r["grid_code"] for r in sample.persons} == grids
    held = defaultdict(set)
    for row in sample.persons:
        held[row["grid_code"]].add(row["role"])
    for grid in grids:
        assert {"first_responsible", "lead_official"} <= held[grid], grid
    surnames = Counter(r["name"][0] for r in sample.persons)
    assert {s for s, _ in surnames.most_common(5)} <= set("王李张刘陈杨赵黄周吴徐孙")


def test_villages_short_of_patrol_officers_are_listed(sample):
    patrols = Counter(r["grid_code"] for r in sample.persons if r["role"] == "patrol_officer")
    short = {c: patrols.get(c, 0) for c in sample.villages if patrols.get(c, 0) < 2}
    listed = {v["code"]: v["patrol_officers"] for v in sample.metadata["villages_short_of_patrol_officers"]}
    assert short == listed and 3 <= len(short) <= 8 and 0 in short.values() and 1 in short.values()


def _enterprise_counts(sample) -> Counter:
    """Enterprises per township as the platform places them (point first, else address)."""
    cases = {c["uscc"]: c for c in sample.metadata["enterprise_cases"]["special"]}
    by_address = {e["uscc"]: e["village_code"] for e in sample.metadata["enterprise_cases"]["address_only"]}
    counts = Counter()
    for row in sample.enterprises:
        case = cases.get(row["uscc"], {})
        if row["coord_system"]:
            code = sample.village_at(stored_point(row)) or case.get("village_code")  # snapped
            if code is None:
                continue  # unplaced
        elif row["uscc"] in by_address:
            code = by_address[row["uscc"]]
        else:
            continue  # ambiguous
        counts[code[:9]] += 1
    return counts


def test_understaffed_townships_are_exactly_those_breaking_the_standards(sample):
    rules = sample.metadata["staffing_standards"]["rules"]
    counts = _enterprise_counts(sample)
    assert counts == {t["code"]: t["enterprises"] for t in sample.metadata["townships"] if t["enterprises"]}
    broken = {}
    for code in sample.townships:
        population = sum(sample.villages[c][0]["population"] for c in sample.children(code))
        officers = {r["phone"]: r for r in sample.persons
                    if r["grid_code"] == code and r["role"] == "safety_officer"}
        full_time = sum(r["full_time"] == "1" for r in officers.values())
        certified = sum(r["certificate_no"] != "" for r in officers.values())
        director = any(r["grid_code"] == code and r["role"] == "direct_responsible" and r["full_time"] == "1"
                       for r in sample.persons)
        problems = []
        if len(officers) < math.ceil(population / rules["staff_per_population"]["residents_per_staff"]):
            problems.append("staff_per_population")
        if (counts[code] >= rules["full_time_for_enterprises"]["enterprise_threshold"]
                and full_time < rules["full_time_for_enterprises"]["full_time_minimum"]):
            problems.append("full_time_for_enterprises")
        if not director or certified < 2 or len(officers) < 3:
            problems.append("team_1_2_n")
        if problems:
            broken[code] = problems
    listed = {t["code"]: [t["broken_rule"]] for t in sample.metadata["understaffed_townships"]}
    assert broken == listed
    assert 3 <= len(listed) <= 4 and len({r[0] for r in listed.values()}) == 3
    # The full-time rule bites somewhere else too: a compliant township holds ≥ 500 enterprises.
    assert any(n >= 500 for c, n in counts.items() if c not in listed)


# --------------------------------------------------------------------------- files


def test_metadata_describes_the_files(sample):
    files = sample.metadata["files"]
    assert set(files) == set(FILES) - {"metadata.json"}
    for name, entry in files.items():
        content = (sample.dir / name).read_bytes()
        assert entry["sha256"] == hashlib.sha256(content).hexdigest()
        assert entry["bytes"] == len(content)
    assert files["villages.geojson"]["rows"] == 516 and files["enterprises.csv"]["rows"] == len(sample.enterprises)
    assert files["persons.csv"]["rows"] == len(sample.persons)
    assert sorted(p.name for p in sample.dir.iterdir()) == sorted(FILES)
    assert files["hazards.csv"]["rows"] == sample.metadata["hazards"]["rows"] == 300
    assert sum((sample.dir / f).stat().st_size for f in FILES) < 15 * 1024 * 1024
    for name in FILES:
        text = (sample.dir / name).read_bytes()
        assert b"\r" not in text and text.endswith(b"\n")
    exactness = sample.metadata["exactness"]
    assert exactness["villages_vs_district"]["coverage_valid"] is True
    assert exactness["district_vs_converted_outline"]["original_vertices_kept"] == \
        exactness["district_vs_converted_outline"]["original_vertices"]


@pytest.mark.slow
def test_generation_is_byte_for_byte_deterministic(sample, tmp_path):
    again = tmp_path / "again"
    generate(again)
    for name in FILES:
        assert (again / name).read_bytes() == (sample.dir / name).read_bytes(), name


@pytest.mark.slow
def test_the_committed_sample_is_what_the_generator_writes(sample):
    """``data/boundaries/pizhou`` is a fresh regeneration, byte for byte: a change to the
    generator (or to the matcher, the converter, the outline check it relies on) that
    changes the sample must come with the regenerated files."""
    shipped = DATA / "boundaries" / "pizhou"
    assert sorted(p.name for p in shipped.iterdir()) == sorted(p.name for p in sample.dir.iterdir())
    for name in sorted(p.name for p in shipped.iterdir()):
        fresh = hashlib.sha256((sample.dir / name).read_bytes()).hexdigest()
        assert hashlib.sha256((shipped / name).read_bytes()).hexdigest() == fresh, (
            f"data/boundaries/pizhou/{name} differs from `gridmap sample pizhou`'s output")


@pytest.mark.slow
def test_another_seed_gives_another_sample(sample, tmp_path):
    other = tmp_path / "other"
    summary = generate(other, seed=7)
    for name in ("townships.geojson", "villages.geojson", "persons.csv", "enterprises.csv"):
        assert (other / name).read_bytes() != (sample.dir / name).read_bytes(), name
    assert summary["villages"] == 516 and summary["seed"] == 7
