"""GIS exports for higher authorities: every format opened again with pyogrio and with the
system's ``ogrinfo`` (Debian gdal-bin), Chinese text round-tripped, CRS declared, metadata
present, scope enforced, API streaming and limits, the CLI."""

from __future__ import annotations

import csv
import io
import json
import os
import random
import sqlite3
import subprocess
import xml.etree.ElementTree as ET
import zipfile
from datetime import UTC, datetime
from pathlib import Path

import pyogrio.raw
import pytest
import shapely
from openpyxl import load_workbook
from pyproj import CRS
from sqlalchemy import create_engine, func, select, text
from sqlalchemy.orm import Session
from sqlalchemy.pool import NullPool

from gridmap.auth import Scope
from gridmap.errors import InvalidInput, NotFound, TooLarge
from gridmap.export import ExportSettings, export, plan_export
from gridmap.hazards import create_hazard
from gridmap.models import Enterprise, Grid, Person
from gridmap.settings import HazardSettings
from gridmap.uscc import make_uscc
from tests.factories import DISTRICT, TOWNSHIP_A, TOWNSHIP_B, make_person, make_toy_district

OGRINFO = Path("/usr/bin/ogrinfo")
NOW = datetime(2026, 3, 1, 2, 0, tzinfo=UTC)  # 10:00 China Standard Time
LONG_DESCRIPTION = "消防通道被杂物堵塞，" * 40  # 400 characters: more than a DBF text field holds


def ogrinfo(*args: str) -> str:
    """Run the system's ogrinfo (not pyogrio's bundled GDAL); its output and warnings."""
    if not OGRINFO.exists():
        pytest.fail("These tests need Debian's gdal-bin (/usr/bin/ogrinfo): run `make test` or "
                    "`apt-get install gdal-bin`.", pytrace=False)
    # gridmap.files disables some GDAL drivers in this process; ogrinfo needs its own defaults.
    env = {k: v for k, v in os.environ.items() if k != "GDAL_SKIP"}
    done = subprocess.run([str(OGRINFO), *args], check=False, capture_output=True, text=True, env=env, timeout=60)
    assert done.returncode == 0, done.stderr
    return done.stdout + done.stderr


def read_layer(path: Path | str, layer: str | None = None) -> tuple[dict, list[dict], list]:
    """(meta, rows as dicts, shapely geometries) of one layer, through pyogrio."""
    meta, _, geometry, values = pyogrio.raw.read(str(path), layer=layer)
    rows = [dict(zip(meta["fields"], row)) for row in zip(*values)]
    shapes = [] if geometry is None else [None if g is None else shapely.from_wkb(g) for g in geometry]
    return meta, rows, shapes


def _enterprise(session, rng, *, name, sector, department, risk, village=None, township=None, point=None,
                placement="exact") -> Enterprise:
    home = village or township or DISTRICT
    enterprise = Enterprise(
        uscc=make_uscc(rng, DISTRICT), name=name, address=f"邳州市{name}路1号", sector=sector, scale="above",
        risk_level=risk, safety_class="B", department=department, placement=placement,
        grid_code=village, village_code=village, township_code=(village or township or "")[:9] or None,
        district_code=DISTRICT, home_code=home,
        location=f"SRID=4490;POINT({point[0]} {point[1]})" if point else None)
    session.add(enterprise)
    session.flush()
    return enterprise


@pytest.fixture
def district(session):
    """The toy district with people, enterprises and hazards in both townships."""
    boundary_set = make_toy_district(session)
    # One sample polygon, so the synthetic statement has something to say.
    session.execute(text("UPDATE grid SET synthetic = true WHERE set_id = :s AND code = '320382103002'"),
                    {"s": boundary_set.id})
    make_person(session, grid_code=DISTRICT, role="first_responsible", name="欧阳成", phone="13900000001")
    make_person(session, grid_code=TOWNSHIP_A, role="first_responsible", name="张伟", phone="13900000002")
    make_person(session, grid_code=TOWNSHIP_B, role="first_responsible", name="李娜", phone="13900000003")
    make_person(session, grid_code="320382102001", role="patrol_officer", name="王芳", phone="13900000004",
                certificate_no="苏执 0001")
    make_person(session, grid_code="320382103001", role="patrol_officer", name="刘洋", phone="13900000005")
    rng = random.Random(7)
    _enterprise(session, rng, name="邳州市甲村化工有限公司", sector="hazardous_chemicals", department="应急管理局",
                risk="major", village="320382102001", point=(117.92, 34.35))
    _enterprise(session, rng, name="乙社区便民超市", sector="crowded_places", department="商务局", risk="low",
                village="320382102002", point=(117.97, 34.36))
    _enterprise(session, rng, name="官湖镇丙村建材厂", sector="general_manufacturing", department="应急管理局",
                risk="medium", village="320382103001", point=(118.02, 34.33))
    _enterprise(session, rng, name="丁村粮食加工厂", sector="general_manufacturing", department="农业农村局",
                risk="low", village="320382103002", placement="address")
    _enterprise(session, rng, name="邳州市无址物流公司", sector="road_transport", department="交通运输局",
                risk="high", placement="unplaced")
    settings = HazardSettings()
    create_hazard(session, {"lon": 117.93, "lat": 34.36, "crs": "cgcs2000", "category": "fire_exit_blocked",
                            "description": "甲村仓库安全出口堵塞"}, actor=None, scope=Scope.everything(),
                  settings=settings)
    create_hazard(session, {"lon": 118.06, "lat": 34.31, "crs": "cgcs2000", "category": "electrical_wiring",
                            "grade": "major", "description": LONG_DESCRIPTION, "supervising_official": "赵局长",
                            "rectification_plan": "限期整改"}, actor=None, scope=Scope.everything(),
                  settings=settings)
    return boundary_set


def _export(session, tmp_path, fmt, name, **options):
    options.setdefault("scope", Scope.everything())
    return export(session, options.pop("code", DISTRICT), fmt, tmp_path / name, now=NOW, **options)


# ------------------------------------------------------------------- GeoPackage

def test_geopackage_layers_chinese_metadata_and_column_titles(session, district, tmp_path):
    result = _export(session, tmp_path, "gpkg", "d.gpkg")
    assert result.media_type == "application/geopackage+sqlite3"
    assert result.filename == "320382_邳州市_20260301.gpkg"
    layers = dict(pyogrio.list_layers(result.path))
    assert layers == {"grids_district": "MultiPolygon", "grids_township": "MultiPolygon",
                      "grids_village": "MultiPolygon", "enterprises": "Point", "hazards": "Point",
                      "persons": None, "role_assignments": None, "metadata": None}

    meta, villages, shapes = read_layer(result.path, "grids_village")
    assert meta["crs"] == "EPSG:4490"
    assert {v["name"] for v in villages} == {"甲村", "乙社区", "丙村", "丁村"}
    village = next(v for v in villages if v["code"] == "320382102001")
    assert village["level_zh"] == "村/社区" and village["parent_code"] == TOWNSHIP_A
    assert village["enterprises"] == 1 and village["synthetic"] == 0
    assert shapes[0].geom_type == "MultiPolygon" and shapes[0].bounds[0] > 100  # lon first

    _, townships, _ = read_layer(result.path, "grids_township")
    assert {t["name"]: t["first_responsible"] for t in townships} == {"邳城镇": "张伟", "官湖镇": "李娜"}
    assert {t["name"]: t["enterprises"] for t in townships} == {"邳城镇": 2, "官湖镇": 2}

    _, enterprises, points = read_layer(result.path, "enterprises")
    assert len(enterprises) == 5
    chemical = next(e for e in enterprises if e["name"] == "邳州市甲村化工有限公司")
    assert chemical["sector_zh"] == "危险化学品" and chemical["risk_level_zh"] == "重大风险"
    assert chemical["village_name"] == "甲村" and chemical["township_name"] == "邳城镇"
    assert sum(p is None for p in points) == 2  # placed by address, and unplaced: no point
    assert "lon" not in enterprises[0]  # the geometry carries the coordinates

    _, hazards, _ = read_layer(result.path, "hazards")
    assert {h["grade_zh"] for h in hazards} == {"一般隐患", "重大隐患"}
    assert next(h for h in hazards if h["grade"] == "major")["description"] == LONG_DESCRIPTION

    _, persons, _ = read_layer(result.path, "persons")
    assert {p["name"] for p in persons} == {"欧阳成", "张伟", "李娜", "王芳", "刘洋"}
    assert next(p for p in persons if p["name"] == "王芳")["roles"] == "巡查员·甲村（320382102001）"
    _, roles, _ = read_layer(result.path, "role_assignments")
    assert {(r["person_name"], r["role_zh"], r["grid_name"]) for r in roles} >= {("张伟", "第一责任人", "邳城镇")}

    _, metadata, _ = read_layer(result.path, "metadata")
    values = {m["key"]: m["value"] for m in metadata}
    assert values["boundary_set_id"] == str(district.id)
    assert values["generated_at"] == "2026-03-01T10:00:00+08:00"
    assert values["synthetic_grids"] == "1/7" and "合成" in values["synthetic_statement_zh"]
    assert pyogrio.read_info(result.path, layer="grids_village")["dataset_metadata"]["boundary_set_id"] == str(district.id)

    with sqlite3.connect(result.path) as db:
        contents = dict(db.execute("SELECT table_name, identifier FROM gpkg_contents"))
        titles = dict(db.execute("SELECT column_name, title FROM gpkg_data_columns WHERE table_name = 'enterprises'"))
        version = db.execute("PRAGMA user_version").fetchone()[0]
    db.close()
    assert contents["grids_village"] == "村/社区网格" and contents["enterprises"] == "生产经营单位"
    assert titles["uscc"] == "统一社会信用代码" and titles["risk_level_zh"] == "风险等级"
    assert version == 10200  # GeoPackage 1.2: read by GDAL 3.6, QGIS and ArcGIS without warnings

    report = ogrinfo("-so", "-al", str(result.path))
    assert "Layer name: grids_village" in report and "Feature Count: 4" in report
    assert 'ID["EPSG",4490]' in report and "IDENTIFIER=村/社区网格" in report
    assert "partially supported" not in report  # GDAL 3.6 warns about GeoPackage 1.4


def test_geopackage_in_wgs84_on_request(session, district, tmp_path):
    result = _export(session, tmp_path, "gpkg", "w.gpkg", crs=4326, layers="grids,enterprises")
    assert pyogrio.read_info(result.path, layer="enterprises")["crs"] == "EPSG:4326"
    assert [name for name, _ in pyogrio.list_layers(result.path)] == [
        "grids_district", "grids_township", "grids_village", "enterprises", "metadata"]


# --------------------------------------------------------------------- Shapefile

def test_shapefile_zip_prj_cpg_short_names_and_field_dictionary(session, district, tmp_path):
    result = _export(session, tmp_path, "shp", "d.zip")
    assert result.zipped and result.filename.endswith(".shp.zip")
    with zipfile.ZipFile(result.path) as archive:
        names = set(archive.namelist())
        assert {"grids_village.shp", "grids_village.shx", "grids_village.dbf", "grids_village.prj",
                "grids_village.cpg", "persons.dbf", "persons.cpg", "fields.csv", "README.txt"} <= names
        assert "persons.shp" not in names  # an attribute table is a lone .dbf
        assert archive.read("enterprises.cpg").decode().strip() == "UTF-8"
        assert CRS(archive.read("grids_village.prj").decode()).to_epsg() == 4490
        dictionary = list(csv.reader(io.StringIO(archive.read("fields.csv").decode("utf-8-sig"))))
        readme = archive.read("README.txt").decode("utf-8-sig")
        archive.extractall(tmp_path / "shp")
    assert "1 of the 7 grids have synthetic sample polygons" in readme and str(district.id) in readme
    by_layer: dict[str, dict[str, tuple[str, str]]] = {}
    for row in dictionary[1:]:
        by_layer.setdefault(row[1], {})[row[2]] = (row[3], row[4])
    assert by_layer["enterprises.shp"]["risk_zh"] == ("risk_level_zh", "风险等级")
    assert by_layer["grids_village.shp"]["first_resp"] == ("first_responsible", "第一责任人")

    for layer in ("grids_village", "enterprises", "hazards", "persons", "role_assignments"):
        suffix = ".dbf" if layer in ("persons", "role_assignments") else ".shp"
        meta, _rows, _ = read_layer(tmp_path / "shp" / f"{layer}{suffix}")
        assert all(len(name) <= 10 for name in meta["fields"]), meta["fields"]
        assert set(meta["fields"]) == set(by_layer[f"{layer}{suffix}"])  # every field documented
    meta, villages, _ = read_layer(tmp_path / "shp" / "grids_village.shp")
    assert meta["crs"] == "EPSG:4490" and {v["name"] for v in villages} == {"甲村", "乙社区", "丙村", "丁村"}
    _, hazards, _ = read_layer(tmp_path / "shp" / "hazards.shp")
    cut = next(h["descr"] for h in hazards if h["grade"] == "major")
    assert LONG_DESCRIPTION.startswith(cut) and len(cut.encode()) <= 254  # cut at a character boundary
    _, persons, _ = read_layer(tmp_path / "shp" / "persons.dbf")
    assert {p["name"] for p in persons} >= {"王芳", "欧阳成"}

    report = ogrinfo("-so", "-al", f"/vsizip/{result.path}")
    assert 'ID["EPSG",4490]' in report and "Layer name: role_assignments" in report
    assert "first_resp: String" in report
    assert "邳城镇" in ogrinfo("-q", str(tmp_path / "shp" / "grids_township.shp"), "grids_township")


# ----------------------------------------------------------------------- GeoJSON

def test_geojson_is_rfc7946_with_metadata_member(session, district, tmp_path):
    result = _export(session, tmp_path, "geojson", "e.geojson", layers="enterprises")
    assert not result.zipped and result.media_type == "application/geo+json"
    document = json.loads(result.path.read_text(encoding="utf-8"))
    assert "crs" not in document  # RFC 7946: WGS84 lon/lat, no crs member
    assert document["metadata"]["boundary_set_id"] == str(district.id)
    assert document["metadata"]["crs"].startswith("EPSG:4326")
    chemical = next(f for f in document["features"] if f["properties"]["name"] == "邳州市甲村化工有限公司")
    assert chemical["geometry"] == {"type": "Point", "coordinates": [117.92, 34.35]}
    assert chemical["id"] == chemical["properties"]["uscc"]
    meta, rows, _ = read_layer(result.path)
    assert len(rows) == 5 and meta["crs"] == "EPSG:4326"
    assert "Feature Count: 5" in ogrinfo("-so", "-al", str(result.path))

    with pytest.raises(InvalidInput):
        _export(session, tmp_path, "geojson", "x.geojson", crs=4490)


def test_geojson_of_several_layers_is_a_zip_with_counter_clockwise_rings(session, district, tmp_path):
    result = _export(session, tmp_path, "geojson", "g.zip", layers="grids")
    assert result.zipped and result.filename.endswith(".geojson.zip")
    with zipfile.ZipFile(result.path) as archive:
        assert sorted(archive.namelist()) == ["README.txt", "grids_district.geojson", "grids_township.geojson",
                                              "grids_village.geojson"]
        villages = json.loads(archive.read("grids_village.geojson"))
    assert villages["name"] == "grids_village" and villages["title"] == "村/社区网格"
    for feature in villages["features"]:
        ring = feature["geometry"]["coordinates"][0][0]
        assert shapely.LinearRing(ring).is_ccw
        assert all(100 < x < 130 and 20 < y < 50 for x, y in ring)  # lon, lat
    assert {f["properties"]["name"] for f in villages["features"]} == {"甲村", "乙社区", "丙村", "丁村"}


# --------------------------------------------------------------------------- KML

def test_kml_names_descriptions_in_chinese(session, district, tmp_path):
    result = _export(session, tmp_path, "kml", "d.kml")
    ns = {"k": "http://www.opengis.net/kml/2.2"}
    root = ET.parse(result.path).getroot()
    document = root.find("k:Document", ns)
    assert document.findtext("k:name", namespaces=ns) == "邳州市（320382）安全生产网格化监管数据"
    assert "合成" in document.findtext("k:description", namespaces=ns)
    folders = {f.findtext("k:name", namespaces=ns): f for f in document.findall("k:Folder", ns)}
    assert list(folders) == ["区县网格", "街道/镇网格", "村/社区网格", "生产经营单位", "隐患"]
    village = next(p for p in folders["村/社区网格"].findall("k:Placemark", ns)
                   if p.findtext("k:name", namespaces=ns) == "甲村")
    description = village.findtext("k:description", namespaces=ns)
    assert "巡查员" in description and "王芳" in description  # the grid's people by role
    lon, lat = map(float, village.find(".//k:coordinates", ns).text.split()[0].split(","))
    assert 117.9 <= lon <= 118.0 and 34.3 <= lat <= 34.4
    hazards = [p.findtext("k:name", namespaces=ns) for p in folders["隐患"].findall("k:Placemark", ns)]
    assert any(name.startswith("私拉乱接电线") for name in hazards)

    _meta, rows, shapes = read_layer(result.path, "村/社区网格")
    assert {r["Name"] for r in rows} == {"甲村", "乙社区", "丙村", "丁村"}
    assert shapes[0].bounds[0] > 100
    report = ogrinfo("-so", str(result.path))
    assert "生产经营单位" in report and "村/社区网格" in report


# --------------------------------------------------------------------------- CSV

def test_csv_has_bom_chinese_headers_and_round_trips(session, district, tmp_path):
    result = _export(session, tmp_path, "csv", "e.csv", layers="enterprises")
    raw = result.path.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")  # Excel recognises UTF-8 only with the BOM
    rows = list(csv.DictReader(io.StringIO(raw.decode("utf-8-sig"))))
    assert list(rows[0])[:3] == ["统一社会信用代码", "企业名称", "地址"]
    chemical = next(r for r in rows if r["企业名称"] == "邳州市甲村化工有限公司")
    assert (chemical["经度"], chemical["纬度"], chemical["行业类别"]) == ("117.92", "34.35", "危险化学品")
    meta, read_back, _ = read_layer(result.path)
    assert "企业名称" in meta["fields"] and len(read_back) == 5
    assert "Feature Count: 5" in ogrinfo("-so", "-al", str(result.path))

    english = _export(session, tmp_path, "csv", "en.csv", layers="enterprises", lang="en")
    header = english.path.read_text(encoding="utf-8-sig").splitlines()[0].split(",")
    assert header[:3] == ["uscc", "name", "address"] and "lon" in header


def test_csv_of_several_layers_is_a_zip_and_polygons_are_wkt(session, district, tmp_path):
    result = _export(session, tmp_path, "csv", "all.zip")
    assert result.zipped and result.media_type == "application/zip"
    with zipfile.ZipFile(result.path) as archive:
        names = sorted(archive.namelist())
        assert "README.txt" in names and "grids_village.csv" in names and "persons.csv" in names
        archive.extractall(tmp_path / "csv")
    _meta, villages, shapes = read_layer(tmp_path / "csv" / "grids_village.csv")
    assert {v["网格名称"] for v in villages} == {"甲村", "乙社区", "丙村", "丁村"}
    assert all(s.geom_type == "MultiPolygon" for s in shapes)  # GDAL reads the WKT column
    report = ogrinfo("-so", "-al", str(tmp_path / "csv" / "grids_village.csv"))
    assert "Feature Count: 4" in report


# -------------------------------------------------------------------------- XLSX

def test_xlsx_ledgers_one_sheet_per_township_village_or_department(session, district, tmp_path):
    township_book = _export(session, tmp_path, "xlsx", "t.xlsx")
    workbook = load_workbook(township_book.path, read_only=True)
    assert workbook.sheetnames == ["说明", "邳城镇", "官湖镇", "未落至街镇", "网格", "人员", "职责", "隐患"]
    about = {row[0]: row[1] for row in workbook["说明"].iter_rows(values_only=True) if len(row) > 1 and row[0]}
    assert about["边界版本编号 boundary_set_id"] == str(district.id)
    ledger = list(workbook["邳城镇"].iter_rows(values_only=True))
    assert ledger[0][:3] == ("序号", "统一社会信用代码", "企业名称")
    assert [row[2] for row in ledger[1:]] == ["邳州市甲村化工有限公司", "乙社区便民超市"]
    assert [row[2] for row in list(workbook["官湖镇"].iter_rows(values_only=True))[1:]] == [
        "官湖镇丙村建材厂", "丁村粮食加工厂"]
    workbook.close()

    village_book = _export(session, tmp_path, "xlsx", "v.xlsx", book="village", layers="enterprises")
    workbook = load_workbook(village_book.path, read_only=True)
    assert workbook.sheetnames == ["说明", "甲村", "乙社区", "丙村", "丁村", "未落至村社区"]
    workbook.close()

    department_book = _export(session, tmp_path, "xlsx", "b.xlsx", book="department", layers="enterprises",
                              lang="en")
    workbook = load_workbook(department_book.path, read_only=True)
    assert workbook.sheetnames == ["about", "交通运输局", "农业农村局", "商务局", "应急管理局"]
    rows = list(workbook["应急管理局"].iter_rows(values_only=True))
    assert rows[0][:3] == ("no", "uscc", "name") and len(rows) == 3
    workbook.close()
    assert "Layer name: 邳城镇" in ogrinfo("-so", "-al", str(township_book.path))


# ------------------------------------------------------------------------- scope

def test_township_leaders_export_holds_only_their_township(session, district, tmp_path):
    leader = Scope(code=TOWNSHIP_A, role="township_leader", username="leader")
    with pytest.raises(NotFound):
        _export(session, tmp_path, "gpkg", "no.gpkg", scope=leader)  # the district is not theirs
    with pytest.raises(NotFound):
        _export(session, tmp_path, "gpkg", "no.gpkg", scope=leader, code=TOWNSHIP_B)
    result = _export(session, tmp_path, "gpkg", "a.gpkg", scope=leader, code=TOWNSHIP_A)
    assert [name for name, _ in pyogrio.list_layers(result.path)] == [
        "grids_township", "grids_village", "enterprises", "hazards", "persons", "role_assignments", "metadata"]
    _, villages, _ = read_layer(result.path, "grids_village")
    assert {v["code"][:9] for v in villages} == {TOWNSHIP_A}
    _, enterprises, _ = read_layer(result.path, "enterprises")
    assert {e["name"] for e in enterprises} == {"邳州市甲村化工有限公司", "乙社区便民超市"}
    _, hazards, _ = read_layer(result.path, "hazards")
    assert [h["description"] for h in hazards] == ["甲村仓库安全出口堵塞"]
    _, persons, _ = read_layer(result.path, "persons")
    assert {p["name"] for p in persons} == {"张伟", "王芳"}
    _, metadata, _ = read_layer(result.path, "metadata")
    assert {m["key"]: m["value"] for m in metadata}["scope"] == TOWNSHIP_A


def test_row_cap_refuses_before_writing(session, district, tmp_path):
    with pytest.raises(TooLarge) as refused:
        _export(session, tmp_path, "gpkg", "big.gpkg", settings=ExportSettings(max_rows=10))
    assert "10" in refused.value.zh and "limit of 10" in refused.value.en
    assert not (tmp_path / "big.gpkg").exists()
    plan = plan_export(session, DISTRICT, scope=Scope.everything(), layers="enterprises",
                       settings=ExportSettings(max_rows=10))
    assert plan.total_rows == 5


def test_many_small_chunks_write_the_same_rows(session, district, tmp_path):
    small = ExportSettings(chunk_rows=2)
    result = _export(session, tmp_path, "shp", "c.zip", layers="enterprises", settings=small)
    with zipfile.ZipFile(result.path) as archive:
        archive.extractall(tmp_path / "c")
    _, rows, _ = read_layer(tmp_path / "c" / "enterprises.shp")
    expected = session.scalars(select(Enterprise.address).order_by(Enterprise.home_code, Enterprise.uscc)).all()
    assert [r["address"] for r in rows] == expected  # later, longer values widen the DBF field


# --------------------------------------------------------------------------- API

def test_api_streams_the_file_with_a_download_name(client, district, login):
    response = client.get(f"/api/v1/exports/{DISTRICT}.csv", params={"layers": "enterprises"},
                          headers=login("authority", DISTRICT))
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/csv")
    disposition = response.headers["content-disposition"]
    assert disposition.startswith('attachment; filename="320382_')
    assert "filename*=UTF-8''320382_%E9%82%B3%E5%B7%9E%E5%B8%82_" in disposition  # 邳州市
    assert response.content.startswith(b"\xef\xbb\xbf")
    assert "邳州市甲村化工有限公司" in response.content.decode("utf-8-sig")

    response = client.get(f"/api/v1/exports/{DISTRICT}.shp", headers=login("admin"))
    assert response.status_code == 200 and response.headers["content-type"] == "application/zip"
    assert "persons.dbf" in zipfile.ZipFile(io.BytesIO(response.content)).namelist()


def test_api_scope_a_township_leader_gets_only_their_township(client, district, login, tmp_path):
    headers = login("township_leader", TOWNSHIP_A)
    assert client.get(f"/api/v1/exports/{DISTRICT}.gpkg", headers=headers).status_code == 404
    assert client.get(f"/api/v1/exports/{TOWNSHIP_B}.gpkg", headers=headers).status_code == 404
    response = client.get(f"/api/v1/exports/{TOWNSHIP_A}.gpkg", headers=headers)
    assert response.status_code == 200
    (tmp_path / "a.gpkg").write_bytes(response.content)
    _, enterprises, _ = read_layer(tmp_path / "a.gpkg", "enterprises")
    assert {e["township_code"] for e in enterprises} == {TOWNSHIP_A}


def test_api_errors(client, app, district, login):
    headers = login("admin")
    assert client.get(f"/api/v1/exports/{DISTRICT}.gpkg").status_code == 401
    assert client.get(f"/api/v1/exports/{DISTRICT}.pdf", headers=headers).status_code == 422
    assert client.get(f"/api/v1/exports/{DISTRICT}.gpkg", params={"crs": "3857"}, headers=headers).status_code == 422
    bad = client.get(f"/api/v1/exports/{DISTRICT}.gpkg", params={"layers": "roads"}, headers=headers)
    assert bad.status_code == 422 and "roads" in bad.json()["message"]
    assert client.get("/api/v1/exports/320382999.gpkg", headers=headers).status_code == 404
    assert client.get(f"/api/v1/exports/{DISTRICT}.kml", params={"crs": "4490"}, headers=headers).status_code == 422
    app.state.export_settings = ExportSettings(max_rows=3)
    refused = client.get(f"/api/v1/exports/{DISTRICT}.gpkg", headers=headers)
    assert refused.status_code == 413
    assert refused.json()["error"] == "too_large" and " / " in refused.json()["message"]


# --------------------------------------------------------------------------- CLI

def test_cli_export(cli, district, tmp_path):
    target = tmp_path / "pizhou.gpkg"
    code, out, err = cli("export", DISTRICT, "-o", str(target))  # format from the suffix
    assert code == 0, err
    assert "grids_village" in out and "村/社区网格" in out and str(target) in out
    assert dict(pyogrio.list_layers(target))["enterprises"] == "Point"

    code, out, err = cli("export", TOWNSHIP_A, "--format", "shp", "-o", str(tmp_path), "--scope", TOWNSHIP_A,
                         "--json")
    assert code == 0, err
    report = json.loads(out)
    assert report["zipped"] and report["layers"]["enterprises"] == 2 and Path(report["path"]).parent == tmp_path

    code, _, err = cli("export", DISTRICT, "--format", "csv", "-o", str(tmp_path / "all.csv"))
    assert code == 1 and ".zip" in err  # several layers make a zip: the name must say so
    code, _, err = cli("export", DISTRICT, "--format", "gpkg", "-o", str(tmp_path / "x.gpkg"), "--scope", TOWNSHIP_B)
    assert code == 1 and "不存在" in err


# --------------------------------------------------------------- the Pizhou sample

def test_pizhou_sample_exports_every_grid_and_enterprise(pizhou_template, tmp_path):
    engine = create_engine(pizhou_template, poolclass=NullPool)
    try:
        with Session(engine) as session:
            expected = dict(session.execute(
                select(Grid.level, func.count()).where(Grid.set_id == select(func.max(Grid.set_id)).scalar_subquery())
                .group_by(Grid.level)).all())
            enterprises = session.scalar(select(func.count()).select_from(Enterprise))
            persons = session.scalar(select(func.count()).select_from(Person))
            gpkg = export(session, "320382", "gpkg", tmp_path / "pizhou.gpkg", scope=Scope.everything(), now=NOW)
            shp = export(session, "320382", "shp", tmp_path / "pizhou.zip", scope=Scope.everything(), now=NOW,
                         layers="grids")
    finally:
        engine.dispose()
    assert expected == {"district": 1, "township": 28, "village": 516}
    assert gpkg.layers["grids_village"] == 516 and gpkg.layers["enterprises"] == enterprises == 4000
    assert gpkg.layers["persons"] == persons
    _, villages, shapes = read_layer(gpkg.path, "grids_village")
    assert len(villages) == 516 and all(v["synthetic"] for v in villages)
    assert all(s.is_valid for s in shapes)
    _, metadata, _ = read_layer(gpkg.path, "metadata")
    assert "544 of the 545 grids" in {m["key"]: m["value"] for m in metadata}["synthetic_statement_en"]
    report = ogrinfo("-so", "-al", f"/vsizip/{shp.path}")
    assert report.count('ID["EPSG",4490]') == 3 and "Feature Count: 516" in report
    assert "运河街道" in ogrinfo("-q", "-where", "code='320382002'", f"/vsizip/{shp.path}", "grids_township")
