"""Reading user files safely: XLSX is a zip and is checked like one, row caps hold while
reading, GDAL keeps to the drivers we accept whatever the environment says, and GDAL's
own warnings never reach the user's terminal."""

from __future__ import annotations

import io
import json
import logging
import os
import re
import sqlite3
import subprocess
import sys
import warnings
import zipfile
from pathlib import Path

import openpyxl
import pytest
import shapely
from sqlalchemy import func, select

from gridmap.errors import InvalidFile, TooLarge
from gridmap.files import harden_gdal_environment, read_table, read_vector
from gridmap.models import AuditLog, Enterprise
from gridmap.settings import ImportSettings
from tests.vector_files import write_layer

REPO = Path(__file__).resolve().parents[1]
HEADER = ["uscc", "name", "address", "lon", "lat"]


def xlsx_with_rows(path: Path, rows_xml: bytes) -> Path:
    """An XLSX written by openpyxl whose first sheet holds ``rows_xml`` (raw <row> elements)."""
    book = openpyxl.Workbook()
    book.active.append(HEADER)
    buffer = io.BytesIO()
    book.save(buffer)
    with zipfile.ZipFile(buffer) as source, zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as target:
        for entry in source.infolist():
            data = source.read(entry.filename)
            if entry.filename == "xl/worksheets/sheet1.xml":
                head, _, rest = data.partition(b"<sheetData>")
                data = head + b"<sheetData>" + rows_xml + b"</sheetData>" + rest.partition(b"</sheetData>")[2]
            target.writestr(entry, data)
    return path


def row_xml(*cells: str) -> bytes:
    return b"<row>" + b"".join(b'<c t="inlineStr"><is><t>%s</t></is></c>' % c.encode() for c in cells) + b"</row>"


@pytest.fixture
def xlsx_bomb(tmp_path) -> Path:
    """≈ 280 KB that expands to a 60 MB sheet of 300,000 identical rows."""
    return xlsx_with_rows(tmp_path / "register.xlsx",
                          row_xml(*HEADER) + row_xml("91320382MA1W8T7X2K", "压缩炸弹", "", "117.93", "34.35") * 300_000)


# ------------------------------------------------------------------------ tables

def test_a_highly_compressed_xlsx_is_refused_before_it_is_parsed(xlsx_bomb):
    with zipfile.ZipFile(xlsx_bomb) as archive:
        assert archive.getinfo("xl/worksheets/sheet1.xml").file_size > 200 * xlsx_bomb.stat().st_size
    with pytest.raises(InvalidFile) as caught:
        read_table(xlsx_bomb, ImportSettings())
    assert "compression ratio" in caught.value.message and "压缩比" in caught.value.message


def test_an_xlsx_bomb_uploaded_to_the_api_writes_nothing(client, session, toy_district, login, xlsx_bomb):
    response = client.post("/api/v1/enterprises/import", headers=login(),
                           files={"file": ("register.xlsx", xlsx_bomb.read_bytes(),
                                           "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")})
    assert response.status_code == 422 and "compression ratio" in response.json()["message"]
    assert session.scalar(select(func.count()).select_from(Enterprise)) == 0
    assert session.scalar(select(func.count()).select_from(AuditLog).where(AuditLog.object_type == "enterprise")) == 0


def test_xlsx_zip_entries_are_checked_like_any_zip(tmp_path):
    path = xlsx_with_rows(tmp_path / "many.xlsx", row_xml(*HEADER))
    with zipfile.ZipFile(path, "a") as archive:
        for n in range(70):
            archive.writestr(f"xl/media/extra{n}.bin", os.urandom(64))
    with pytest.raises(InvalidFile, match="holds 7[0-9] files"):
        read_table(path, ImportSettings())


def test_the_row_cap_stops_the_read_where_it_is_reached(tmp_path):
    """Rows past the cap are never parsed: the sheet below is broken from row 50 on, and a
    cap of 20 rows answers "too many rows", not "damaged"."""
    good = b"".join(row_xml(f"u{n}", f"企业{n}") for n in range(40))
    path = xlsx_with_rows(tmp_path / "long.xlsx", row_xml(*HEADER) + good + b"<row><c><v>1</v></c><row>" * 100)
    with pytest.raises(TooLarge) as caught:
        read_table(path, ImportSettings(max_rows=20))
    assert "more than 20 rows" in caught.value.message and "20 行" in caught.value.message
    with pytest.raises(InvalidFile, match="damaged"):
        read_table(path, ImportSettings(max_rows=1000))


def test_the_row_cap_of_csv(tmp_path):
    path = tmp_path / "long.csv"
    path.write_text("uscc,name\n" + "".join(f"u{n},企业{n}\n" for n in range(30)), encoding="utf-8")
    with pytest.raises(TooLarge, match="more than 20 rows"):
        read_table(path, ImportSettings(max_rows=20))
    header, rows = read_table(path, ImportSettings(max_rows=30))
    assert header == ["uscc", "name"] and len(rows) == 30


def test_an_xlsx_declaring_a_huge_sheet_reads_only_its_cells(tmp_path):
    path = xlsx_with_rows(tmp_path / "wide.xlsx", row_xml(*HEADER) + row_xml("a", "b"))
    with zipfile.ZipFile(path) as archive:
        entries = {e.filename: archive.read(e.filename) for e in archive.infolist()}
    sheet = entries["xl/worksheets/sheet1.xml"]
    entries["xl/worksheets/sheet1.xml"] = re.sub(rb'<dimension ref="[^"]*"', b'<dimension ref="A1:XFD1048576"', sheet)
    assert entries["xl/worksheets/sheet1.xml"] != sheet
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in entries.items():
            archive.writestr(name, data)
    header, rows = read_table(path, ImportSettings())
    assert header == HEADER and rows == [["a", "b"]]


# -------------------------------------------------------------------------- GDAL

def test_our_gdal_limits_are_added_to_the_users(tmp_path):
    env = {"GDAL_SKIP": "foo, OGR_VRT", "CPL_VSIL_CURL_ALLOWED_EXTENSIONS": ".tif", "GDAL_HTTP_TIMEOUT": "600"}
    harden_gdal_environment(env)
    assert env["GDAL_SKIP"].split() == ["foo", "OGR_VRT", "GDALG", "VRT", "HTTP"]
    assert env["CPL_VSIL_CURL_ALLOWED_EXTENSIONS"] == ".gridmap-no-network" and env["GDAL_HTTP_TIMEOUT"] == "1"


def test_a_users_gdal_skip_does_not_bring_the_vrt_driver_back():
    """A process started with its own GDAL_SKIP: once gridmap.files is imported, GDAL has
    no VRT, GDALG or HTTP driver."""
    code = ("import gridmap.files, pyogrio, json; "
            "print(json.dumps(sorted(set(pyogrio.list_drivers()) & {'VRT', 'OGR_VRT', 'GDALG', 'HTTP', 'GPKG'})))")
    env = {**os.environ, "GDAL_SKIP": "foo", "PYTHONPATH": str(REPO)}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True,
                          cwd=REPO, timeout=60)
    assert json.loads(done.stdout.strip().splitlines()[-1]) == ["GPKG"]


@pytest.mark.parametrize("content", [
    # TopoJSON and Esri JSON are JSON too, and pass the sniffing; GDAL would open them with
    # drivers of their own, which we do not accept.
    {"type": "Topology", "meta": {"type": "FeatureCollection"}, "arcs": [[[117.9, 34.3], [118, 34.3], [118, 34.4]]],
     "objects": {"x": {"type": "GeometryCollection", "geometries": [{"type": "Polygon", "arcs": [[0]]}]}}},
    {"meta": {"type": "FeatureCollection"}, "geometryType": "esriGeometryPolygon",
     "spatialReference": {"wkid": 4326}, "fields": [{"name": "code", "type": "esriFieldTypeString"}],
     "features": [{"attributes": {"code": "1"}, "geometry": {"rings": [[[117.9, 34.3], [118, 34.3], [118, 34.4]]]}}]},
], ids=["topojson", "esrijson"])
def test_a_file_another_gdal_driver_would_open_is_refused(tmp_path, content):
    path = tmp_path / "towns.geojson"
    path.write_text(json.dumps(content), encoding="utf-8")
    with pytest.raises(InvalidFile) as caught:
        read_vector(path, ImportSettings())
    assert caught.value.message.endswith("is not a valid GeoJSON")


def test_gdal_warnings_go_to_the_log_not_to_the_user(tmp_path, caplog):
    path = write_layer(tmp_path / "towns.gpkg", [{"code": "320382102", "name": "邳城镇",
                                                   "geometry": shapely.box(117.9, 34.3, 118.0, 34.4)}], driver="GPKG")
    with sqlite3.connect(path) as db:  # GDAL: "GPKG: bad application_id"
        db.execute("PRAGMA application_id = 1234")
    caplog.set_level(logging.INFO, logger="gridmap.files")
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        layer = read_vector(path, ImportSettings())
    assert [str(w.message) for w in seen] == []
    assert len(layer) == 1 and layer.fields["name"] == ["邳城镇"]
    assert "application_id" in caplog.text
