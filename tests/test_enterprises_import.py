"""Enterprise register import: validation, rejects file, upsert, placement outcomes."""

from __future__ import annotations

import csv

from pyproj import Geod
from sqlalchemy import func, select

from gridmap import coords
from gridmap.enterprises import import_enterprises
from gridmap.models import Enterprise, EnterprisePlacement
from gridmap.uscc import make_uscc

HEADER = "uscc,name,address,lon,lat,coord_system,sector,scale,risk_level,safety_class,major_hazard_grade,department\n"
# The border between 丙村 (320382103001) and 丁村 (320382103002) runs along lon 118.05. A
# WGS84 point 300 m west of it, in 丙村; its GCJ-02 reading (as copied from Amap) lies east
# of the border, in 丁村: only the conversion puts it back.
BORDER_LON, BORDER_LAT = 118.05, 34.35
WEST_OF_BORDER = Geod(ellps="GRS80").fwd(BORDER_LON, BORDER_LAT, 270.0, 300.0)[:2]


def _usccs(n, seed=1):
    import random

    rng = random.Random(seed)
    return [make_uscc(rng, "320382") for _ in range(n)]


def _write(tmp_path, lines, name="ents.csv"):
    path = tmp_path / name
    path.write_text(HEADER + "".join(line + "\n" for line in lines), encoding="utf-8")
    return path


def _by_uscc(session):
    return {e.uscc: e for e in session.scalars(select(Enterprise))}


def test_the_gcj02_point_is_300_m_from_the_border_and_its_reading_crosses_it():
    lon, lat = WEST_OF_BORDER
    assert abs(coords.geodesic_distance_m(lon, lat, BORDER_LON, lat) - 300.0) < 0.5
    glon, _ = coords.wgs84_to_gcj02(lon, lat)
    assert glon > BORDER_LON + 0.001  # read as WGS84, the GCJ-02 numbers are ~200 m east


def test_each_placement_outcome(session, toy_district, tmp_path):
    u = _usccs(8)
    glon, glat = coords.wgs84_to_gcj02(*WEST_OF_BORDER)
    blon, blat = coords.wgs84_to_bd09(117.93, 34.33)
    path = _write(tmp_path, [
        f"{u[0]},甲厂,,117.93,34.35,wgs84,危险化学品,规上,重大,A,二级,应急管理局",
        f"{u[1]},乙厂,,{glon:.7f},{glat:.7f},gcj02,粉尘涉爆,规下,较大,B,,应急管理局",
        f"{u[2]},丙厂,,{blon:.7f},{blat:.7f},bd09,冷库,,一般,C,,商务局",
        f"{u[3]},边上厂,,118.1003,34.35,wgs84,燃气,,,,,住房和城乡建设局",
        f"{u[4]},远处厂,,118.2,34.35,wgs84,燃气,,,,,住房和城乡建设局",
        f"{u[5]},地址厂,邳州市官湖镇丙村人民路1号,,,,一般制造业,,,,,应急管理局",
        f"{u[6]},冲突厂,邳州市官湖镇丁村建设路2号,117.93,34.35,wgs84,一般制造业,,,,,应急管理局",
        f"{u[7]},模糊厂,邳州市官湖镇,,,,一般制造业,,,,,应急管理局",
    ])
    report = import_enterprises(session, path)
    assert report.rejected == [] and report.added == 8
    assert report.placements == {"exact": 3, "snapped": 1, "unplaced": 1, "address": 1, "conflict": 1, "ambiguous": 1}
    e = _by_uscc(session)
    assert (e[u[0]].placement, e[u[0]].grid_code, e[u[0]].township_code, e[u[0]].district_code) == \
        ("exact", "320382102001", "320382102", "320382")
    assert e[u[0]].sector == "hazardous_chemicals" and e[u[0]].major_hazard_grade == 2
    assert e[u[0]].scale == "above" and e[u[0]].risk_level == "major"
    # GCJ-02 point 300 m west of a village border lands on the right side only when converted.
    assert e[u[1]].grid_code == "320382103001" and e[u[1]].source_crs == "gcj02"
    assert e[u[2]].grid_code == "320382102001"
    assert e[u[3]].placement == "snapped" and e[u[3]].grid_code == "320382103002"
    assert 20 < e[u[3]].placement_detail["distance_m"] < 35
    assert e[u[4]].placement == "unplaced" and e[u[4]].grid_code is None
    assert e[u[4]].home_code == "320382", "attributed to the nearest district, not to a township"
    assert (e[u[5]].placement, e[u[5]].grid_code) == ("address", "320382103001")
    conflict = e[u[6]]
    assert conflict.placement == "conflict" and conflict.grid_code == "320382102001"
    assert conflict.placement_detail["address_village"]["code"] == "320382103002"
    assert conflict.placement_detail["point_grid"]["name"] == "甲村"
    ambiguous = e[u[7]]
    assert ambiguous.placement == "ambiguous" and ambiguous.township_code == "320382103"
    assert {c["code"] for c in ambiguous.placement_detail["candidates"]} == {"320382103001", "320382103002"}
    history = session.scalar(select(func.count()).select_from(EnterprisePlacement))
    assert history == 8


def test_gcj02_point_read_as_wgs84_lands_in_the_wrong_village(session, toy_district, tmp_path):
    u = _usccs(2, seed=2)
    glon, glat = coords.wgs84_to_gcj02(*WEST_OF_BORDER)
    import_enterprises(session, _write(tmp_path, [f"{u[0]},甲,,{glon:.7f},{glat:.7f},,,,,,,"]), crs="gcj02")
    import_enterprises(session, _write(tmp_path, [f"{u[1]},乙,,{glon:.7f},{glat:.7f},,,,,,,"], name="b.csv"))
    e = _by_uscc(session)
    assert e[u[0]].grid_code == "320382103001"
    assert e[u[1]].grid_code == "320382103002", "the same numbers taken as WGS84 cross the border"


def test_cgcs2000_coordinates_are_stored_as_given(session, toy_district, tmp_path):
    """CGCS2000 (国家2000, EPSG:4490) is the storage system: no offset, whether the row
    says so or the import's --crs does; the same numbers declared GCJ-02 move."""
    u = _usccs(3, seed=12)
    lon, lat = WEST_OF_BORDER
    path = _write(tmp_path, [f"{u[0]},国家2000厂,,{lon:.7f},{lat:.7f},国家2000,,,,,,",
                             f"{u[1]},默认坐标系厂,,{lon:.7f},{lat:.7f},,,,,,,",
                             f"{u[2]},高德厂,,{lon:.7f},{lat:.7f},gcj02,,,,,,"])
    report = import_enterprises(session, path, crs="cgcs2000")
    assert report.rejected == [] and report.placements == {"exact": 3}
    e = _by_uscc(session)
    for uscc in u[:2]:
        assert (e[uscc].source_crs, e[uscc].grid_code) == ("cgcs2000", "320382103001")
        stored = session.execute(select(func.ST_X(Enterprise.location), func.ST_Y(Enterprise.location))
                                 .where(Enterprise.uscc == uscc)).one()
        assert stored == (round(lon, 7), round(lat, 7))
    moved = session.execute(select(func.ST_X(Enterprise.location), func.ST_Y(Enterprise.location))
                            .where(Enterprise.uscc == u[2])).one()
    assert coords.geodesic_distance_m(lon, lat, *moved) > 400, "read as GCJ-02 the same numbers move"


def test_border_points_follow_the_smallest_code(session, toy_district, tmp_path):
    u = _usccs(2, seed=3)
    path = _write(tmp_path, [f"{u[0]},界上,,118.05,34.35,,,,,,,", f"{u[1]},角上,,118.0,34.4,,,,,,,"])
    import_enterprises(session, path)
    e = _by_uscc(session)
    assert e[u[0]].grid_code == "320382103001"
    assert e[u[1]].grid_code == "320382102002"


def test_bad_rows_go_to_the_rejects_file_good_rows_import(session, toy_district, tmp_path):
    u = _usccs(3, seed=4)
    bad = u[1][:-1] + ("0" if u[1][-1] != "0" else "1")
    path = _write(tmp_path, [
        f"{u[0]},好,,117.93,34.35,,,,,,,",
        f"{bad},校验位错,,117.93,34.35,,,,,,,",
        f"{u[2]},颠倒,,34.35,117.93,,,,,,,",
        f"{u[0]},重复,,117.93,34.35,,,,,,,",
        f"{u[2][:-2]}XX,乱码坐标,,east,north,,,,,,,",
        f"{_usccs(1, seed=9)[0]},巴黎,,2.35,48.85,,,,,,,",
        f"{_usccs(1, seed=10)[0]},风险错,,117.93,34.35,,,,极高,,,",
        f"{_usccs(1, seed=11)[0]},首尔,,126.98,37.57,,,,,,,",
    ])
    report = import_enterprises(session, path)
    assert report.added == 1
    reasons = {(r["row"], r["field"]): r["reason_en"] for r in report.rejected}
    assert "check digit" in reasons[(3, "uscc")]
    assert "swapped" in reasons[(4, "lon/lat")]
    assert "duplicate USCC (first at row 2)" in reasons[(5, "uscc")]
    assert "cannot be parsed" in reasons[(6, "lon/lat")]
    assert "outside China" in reasons[(7, "lon/lat")]
    assert "risk level" in reasons[(8, "risk_level")]
    assert "outside China" in reasons[(9, "lon/lat")], "Seoul is inside China's bounding box, not China"
    rejects = tmp_path / "ents.csv.rejects.csv"
    assert report.rejects_file == str(rejects)
    with rejects.open(encoding="utf-8-sig") as fh:
        rows = list(csv.DictReader(fh))
    assert {(int(r["row"]), r["field"]) for r in rows} == set(reasons)
    assert all(r["reason_zh"] and r["reason_en"] for r in rows)
    assert session.scalar(select(func.count()).select_from(Enterprise)) == 1


def test_csv_and_xlsx_of_one_register_keep_their_own_rejects_files(session, toy_district, tmp_path):
    import openpyxl

    u = _usccs(2, seed=13)
    csv_path = _write(tmp_path, [f"{u[0]},首尔办事处,,126.98,37.57,,,,,,,"], name="register.csv")
    book = openpyxl.Workbook()
    book.active.append(HEADER.strip().split(","))
    book.active.append([u[1], "乌兰巴托办事处", None, 106.92, 47.92] + [None] * 7)
    xlsx_path = tmp_path / "register.xlsx"
    book.save(xlsx_path)
    from_csv = import_enterprises(session, csv_path)
    from_xlsx = import_enterprises(session, xlsx_path)
    csv_rejects, xlsx_rejects = tmp_path / "register.csv.rejects.csv", tmp_path / "register.xlsx.rejects.csv"
    assert (from_csv.rejects_file, from_xlsx.rejects_file) == (str(csv_rejects), str(xlsx_rejects))
    assert "126.98" in csv_rejects.read_text(encoding="utf-8-sig")
    assert "106.92" in xlsx_rejects.read_text(encoding="utf-8-sig")
    # The CSV fixed and imported again: its list goes, the XLSX's stays.
    fixed = _write(tmp_path, [f"{u[0]},首尔办事处,,117.93,34.35,,,,,,,"], name="register.csv")
    assert import_enterprises(session, fixed).rejects_file is None
    assert not csv_rejects.exists() and xlsx_rejects.exists()


def test_unknown_sector_is_kept_as_other_with_a_warning(session, toy_district, tmp_path):
    u = _usccs(1, seed=5)
    report = import_enterprises(session, _write(tmp_path, [f"{u[0]},某厂,,117.93,34.35,,养殖业,,,,,"]))
    e = _by_uscc(session)[u[0]]
    assert (e.sector, e.sector_raw) == ("other", "养殖业")
    assert report.warnings[0]["field"] == "sector"


def test_reimport_changes_nothing_and_edits_update(session, toy_district, tmp_path):
    u = _usccs(2, seed=6)
    lines = [f"{u[0]},甲,,117.93,34.35,,危险化学品,,,,,", f"{u[1]},乙,邳州市官湖镇丙村,,,,,,,,,"]
    path = _write(tmp_path, lines)
    first = import_enterprises(session, path)
    stamp = {e.uscc: e.updated_at for e in session.scalars(select(Enterprise))}
    again = import_enterprises(session, path)
    assert (first.added, again.added, again.updated, again.unchanged) == (2, 0, 0, 2)
    assert {e.uscc: e.updated_at for e in session.scalars(select(Enterprise))} == stamp
    lines[0] = f"{u[0]},甲（更名）,,118.07,34.35,,危险化学品,,,,,"
    edited = import_enterprises(session, _write(tmp_path, lines))
    assert (edited.updated, edited.unchanged) == (1, 1)
    e = _by_uscc(session)[u[0]]
    assert e.name == "甲（更名）" and e.grid_code == "320382103002"


def test_chinese_headers_and_xlsx(session, toy_district, tmp_path):
    import openpyxl

    u = _usccs(1, seed=7)
    book = openpyxl.Workbook()
    book.active.append(["统一社会信用代码", "企业名称", "详细地址", "经度", "纬度", "坐标系", "行业类别",
                        "企业规模", "风险等级", "安全分类", "重大危险源等级", "行业主管部门"])
    book.active.append([u[0], "邳州市某木业有限公司", None, 117.93, 34.35, "WGS84", "粉尘涉爆", "规上", "黄", "B", None, "应急管理局"])
    path = tmp_path / "register.xlsx"
    book.save(path)
    report = import_enterprises(session, path)
    assert report.added == 1 and report.rejected == []
    e = _by_uscc(session)[u[0]]
    assert (e.sector, e.risk_level, e.department) == ("dust_explosion", "medium", "应急管理局")
