"""Addresses across the districts of a region (gridmap.placement.GazetteerBook), on the
real division data: district names that hide inside longer names (连云 in 连云港市, 射阳
in 射阳湖镇 …) do not name their district, a township named settles which district is
meant, and the generator writes no address the platform would find ambiguous."""

from __future__ import annotations

import csv
import gzip
import io
import math
from collections import Counter

import pytest

from gridmap.placement import GazetteerBook, resolve
from gridmap.sample.synth import DIVISIONS_DIR, build_district, plan_region, region_gazetteer

# 320703 连云区 and 320723 灌云县 both have a 胜利社区; 连云区's name is inside 连云港市.
LIANYUN, GUANYUN = "320703", "320723"
SHENGLI_GUANYUN, SHENGLI_LIANYUN = "320723100010", "320703003001"


def _division_rows(prefixes: tuple[str, ...]) -> list[tuple[str, str, str, str, str]]:
    """(code, name, level, parent, district) of every division under these prefixes."""
    rows = []
    with open(DIVISIONS_DIR / "areas.csv", encoding="utf-8", newline="") as fh:
        rows += [(r["code"], r["name"], "district", r["cityCode"], r["code"])
                 for r in csv.DictReader(fh) if r["code"].startswith(prefixes)]
    with open(DIVISIONS_DIR / "streets.csv", encoding="utf-8", newline="") as fh:
        rows += [(r["code"], r["name"], "township", r["areaCode"], r["areaCode"])
                 for r in csv.DictReader(fh) if r["code"].startswith(prefixes)]
    with gzip.open(DIVISIONS_DIR / "villages.csv.gz", "rb") as fh:
        reader = csv.DictReader(io.TextIOWrapper(fh, encoding="utf-8", newline=""))
        rows += [(r["code"], r["name"], "village", r["streetCode"], r["areaCode"])
                 for r in reader if r["code"].startswith(prefixes)]
    return rows


@pytest.fixture(scope="module")
def jiangsu() -> GazetteerBook:
    """Every district, township and village of 江苏 (and 天津 for 滨海新区)."""
    return GazetteerBook.from_rows(_division_rows(("32", "12")))


def test_the_real_divisions_hold_the_overlapping_names(jiangsu):
    names = jiangsu.names
    assert (names[LIANYUN], names[GUANYUN]) == ("连云区", "灌云县")
    assert names[SHENGLI_GUANYUN].startswith("胜利") and names[SHENGLI_LIANYUN].startswith("胜利")
    assert names[SHENGLI_GUANYUN[:9]] == "伊山镇" and names["320924"] == "射阳县"
    assert names["120116"] == "滨海新区" and names["320922"] == "滨海县"


def test_a_district_name_inside_the_city_name_does_not_name_the_district(jiangsu):
    address = "江苏省连云港市灌云县伊山镇胜利社区东风路1号"
    assert jiangsu.candidate_districts(address) == [GUANYUN]
    match = jiangsu.match(address)
    assert (match.status, match.village_code) == ("matched", SHENGLI_GUANYUN)
    placed = resolve(None, "unplaced", math.nan, address, jiangsu)
    assert (placed.placement, placed.grid_code) == ("address", SHENGLI_GUANYUN)


def test_the_same_village_name_in_the_other_district_is_still_found(jiangsu):
    for address in ("连云港市连云区连云街道胜利社区1号", "连云港市连云区胜利社区1号"):
        match = jiangsu.match(address)
        assert (match.status, match.village_code) == ("matched", SHENGLI_LIANYUN), address


@pytest.mark.parametrize("address, not_named, expected", [
    ("扬州市宝应县射阳湖镇人民路1号", "320924", ["321023"]),   # 射阳 in 射阳湖镇
    ("射阳湖镇人民路1号", "320924", ["321023"]),
    ("洪泽湖农场场部1号", "320813", ["321324"]),               # 洪泽 in 洪泽湖农场
    ("张家港宿豫工业园1号", "320582", ["321311"]),             # 张家港 in 张家港宿豫工业园
    ("天津市滨海新区中心路1号", "320922", ["120116"]),          # 滨海 in 滨海新区
    ("连云港市伊山镇胜利社区连云路8号", LIANYUN, [GUANYUN]),    # 连云 in a road's name
])
def test_a_short_name_inside_a_longer_name_names_nothing(jiangsu, address, not_named, expected):
    assert jiangsu.candidate_districts(address) == expected


def test_a_district_short_name_inside_a_development_zone_names_only_the_zone(jiangsu):
    candidates = jiangsu.candidate_districts("淮安经济技术开发区枚乘路1号")
    assert "320803" not in candidates  # 淮安区
    assert all(jiangsu.names[c] != "淮安区" for c in candidates)


def test_of_two_districts_named_the_one_whose_township_is_named_wins(jiangsu):
    # Both districts are named and both know a 胜利社区; only 灌云县 has 伊山镇.
    address = "江苏省连云港市连云区灌云县伊山镇胜利社区东风路1号"
    assert jiangsu.candidate_districts(address) == [LIANYUN, GUANYUN]
    match = jiangsu.match(address)
    assert (match.status, match.village_code) == ("matched", SHENGLI_GUANYUN)


def test_a_bare_village_name_shared_by_districts_stays_ambiguous():
    book = GazetteerBook.from_rows(_division_rows((LIANYUN, GUANYUN)))
    match = book.match("连云港市胜利社区")  # the city names neither district
    assert match.status == "ambiguous"
    assert set(match.candidates) == {SHENGLI_GUANYUN, SHENGLI_LIANYUN}


def test_generated_addresses_are_never_ambiguous_in_the_region(jiangsu):
    """The generator checks its address forms on the region's own gazetteer: every
    address-only record of 连云区 and 灌云县, generated together, is placed by address in
    its own district by the platform's matcher."""
    plan = plan_region(province="32", townships_per_district=3, enterprises=200_000)
    specs = [s for s in plan.districts if s.code in (LIANYUN, GUANYUN)]
    assert [t.name for t in specs[1].townships][:2] == ["侍庄街道", "伊山镇"]
    region = region_gazetteer(specs)
    outcomes = Counter()
    for spec in specs:
        output = build_district(spec, plan.seed, region)
        # enterprises.csv columns: uscc, name, address, lon, lat, coord_system, …
        for _uscc, _name, address, lon, *_ in csv.reader(io.StringIO(output.enterprises_csv)):
            if lon:
                continue
            placed = resolve(None, "unplaced", math.nan, address, region)
            outcomes[placed.placement] += 1
            assert placed.placement == "address", (address, placed.detail)
            assert placed.district_code == spec.code, address
    assert outcomes["address"] > 300
