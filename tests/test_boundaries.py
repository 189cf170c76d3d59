"""Boundary import: formats, CRSs, bad files, versioning (MapIt-style boundary sets)."""

from __future__ import annotations

import json

import pytest
import shapely
from pyproj import Transformer
from shapely.geometry import Polygon, box
from sqlalchemy import func, select

from gridmap import coords
from gridmap.boundaries import activate, import_boundaries, list_sets
from gridmap.errors import ImportRejected, InvalidFile, InvalidInput, NotFound, UnknownCRS
from gridmap.models import BoundarySet, Grid
from tests.factories import TOWNSHIPS, VILLAGES, make_toy_district
from tests.vector_files import write_layer, zip_shapefile

DISTRICT_BOX = box(117.90, 34.30, 118.10, 34.40)


def _district(tmp_path, **kwargs):
    return write_layer(tmp_path / "district.geojson",
                       [{"code": "320382", "name": "邳州市", "geometry": DISTRICT_BOX}], **kwargs)


def _townships(tmp_path, name="townships.geojson", transform=None, **kwargs):
    records = []
    for code, (label, geom) in TOWNSHIPS.items():
        records.append({"code": code, "name": label, "population": 20000,
                        "geometry": transform(geom) if transform else geom})
    return write_layer(tmp_path / name, records, **kwargs)


def _grid_count(session) -> int:
    return session.scalar(select(func.count()).select_from(Grid))


def _written(session) -> tuple[int, int]:
    """(grids, boundary sets): what a refused import must leave as it was."""
    return _grid_count(session), session.scalar(select(func.count()).select_from(BoundarySet))


def _load_district_and_townships(session, tmp_path):
    import_boundaries(session, _district(tmp_path), level="district")
    import_boundaries(session, _townships(tmp_path), level="township", activate_after=True)


def test_geojson_hierarchy_lands_pending_then_activates(session, tmp_path):
    report = import_boundaries(session, _district(tmp_path), level="district")
    pending = session.get(BoundarySet, report.set_id)
    assert pending.status == "pending"
    assert report.added == 1 and report.crs_in == "wgs84"
    import_boundaries(session, _townships(tmp_path), level="township")
    dry = activate(session, report.set_id)
    assert sorted(dry.added) == ["320382", "320382102", "320382103"]
    assert session.get(BoundarySet, report.set_id).status == "pending", "dry run changed nothing"
    activate(session, report.set_id, commit=True)
    assert session.get(BoundarySet, report.set_id).status == "active"
    township = session.scalar(select(Grid).where(Grid.code == "320382102"))
    assert township.parent_code == "320382" and township.population == 20000
    # 0.1° × 0.1° at 34.35°N is about 9.2 km × 11.1 km.
    assert 100e6 < township.area_m2 < 104e6
    district = session.scalar(select(Grid).where(Grid.code == "320382"))
    assert district.is_leaf is False and township.is_leaf is True


def test_new_import_copies_active_set_and_old_set_stays_queryable(session, tmp_path):
    _load_district_and_townships(session, tmp_path)
    first = session.scalar(select(BoundarySet).where(BoundarySet.status == "active"))
    moved = {code: (name, shapely.affinity.translate(geom, 0.0, 0.0)) for code, (name, geom) in VILLAGES.items()}
    records = [{"code": c, "name": n, "geometry": g} for c, (n, g) in moved.items()]
    report = import_boundaries(session, write_layer(tmp_path / "v.gpkg", records, crs="EPSG:4490"),
                               level="village")
    assert report.set_id != first.id
    second_codes = set(session.scalars(select(Grid.code).where(Grid.set_id == report.set_id)))
    assert second_codes == {"320382", *TOWNSHIPS, *VILLAGES}
    result = activate(session, report.set_id, commit=True)
    assert sorted(result.added) == sorted(VILLAGES) and result.removed == [] and result.changed == []
    assert session.get(BoundarySet, first.id).status == "retired"
    old_codes = set(session.scalars(select(Grid.code).where(Grid.set_id == first.id)))
    assert old_codes == {"320382", *TOWNSHIPS}
    statuses = {s["id"]: s["status"] for s in list_sets(session)}
    assert statuses == {first.id: "retired", report.set_id: "active"}


@pytest.mark.parametrize("fmt", ["gpkg", "shp", "zip"])
def test_other_formats(session, tmp_path, fmt):
    import_boundaries(session, _district(tmp_path), level="district", activate_after=True)
    if fmt == "gpkg":
        path = _townships(tmp_path, "t.gpkg", crs="EPSG:4490")
    else:
        shp = _townships(tmp_path, "t.shp", crs="EPSG:4490")
        path = shp if fmt == "shp" else zip_shapefile(shp, tmp_path / "t.zip")
    report = import_boundaries(session, path, level="township")
    assert report.features == 2 and report.crs_in == "cgcs2000"
    names = dict(session.execute(select(Grid.code, Grid.name).where(Grid.set_id == report.set_id,
                                                                     Grid.level == "township")).all())
    assert names == {"320382102": "邳城镇", "320382103": "官湖镇"}, "Chinese names survive"


def test_projected_cgcs2000_gauss_kruger_is_transformed(session, tmp_path):
    import_boundaries(session, _district(tmp_path), level="district", activate_after=True)
    to_gk = Transformer.from_crs(4490, 4549, always_xy=True)  # CGCS2000 / 3-degree GK CM 120E
    projected = lambda g: shapely.transform(g, lambda xy: __import__("numpy").column_stack(to_gk.transform(xy[:, 0], xy[:, 1])))  # noqa: E731
    path = _townships(tmp_path, "gk.gpkg", transform=projected, crs="EPSG:4549")
    report = import_boundaries(session, path, level="township")
    assert report.crs_in == "EPSG:4549"
    stored = shapely.from_wkb(bytes(session.scalar(
        select(func.ST_AsBinary(Grid.geom)).where(Grid.set_id == report.set_id, Grid.code == "320382102"))))
    assert stored.symmetric_difference(TOWNSHIPS["320382102"][1]).area < 1e-12


@pytest.mark.parametrize("fmt", ["shp", "zip"])
@pytest.mark.parametrize("system", ["gcj02", "bd09"])
def test_shapefiles_declared_gcj02_or_bd09_match_the_geojson_path(session, tmp_path, system, fmt):
    """A Shapefile says WGS84 in its .prj whatever its numbers are: the declaration wins,
    and the stored polygon is the one the same data gives through GeoJSON."""
    import_boundaries(session, _district(tmp_path), level="district", activate_after=True)
    shifted = lambda g: coords.transform_geometry(g, "cgcs2000", system)  # noqa: E731

    def stored(set_id):
        return shapely.from_wkb(bytes(session.scalar(
            select(func.ST_AsBinary(Grid.geom)).where(Grid.set_id == set_id, Grid.code == "320382103"))))

    via_geojson = stored(import_boundaries(session, _townships(tmp_path, transform=shifted), level="township",
                                           crs=system).set_id)
    shp = _townships(tmp_path, "t.shp", transform=shifted, crs="EPSG:4326")
    path = shp if fmt == "shp" else zip_shapefile(shp, tmp_path / "t.zip")
    report = import_boundaries(session, path, level="township", crs=system)
    assert report.crs_in == system and report.replaced == 2
    via_shapefile = stored(report.set_id)
    assert shapely.hausdorff_distance(via_shapefile, via_geojson) < 1e-9
    assert shapely.hausdorff_distance(via_shapefile, TOWNSHIPS["320382103"][1]) < 1e-7


@pytest.mark.parametrize("system", ["gcj02", "bd09"])
def test_declared_gcj02_and_bd09_are_converted(session, tmp_path, system):
    import_boundaries(session, _district(tmp_path), level="district", activate_after=True)
    shifted = lambda g: coords.transform_geometry(g, "cgcs2000", system)  # noqa: E731
    path = _townships(tmp_path, transform=shifted)
    report = import_boundaries(session, path, level="township", crs=system)
    assert report.crs_in == system
    stored = shapely.from_wkb(bytes(session.scalar(
        select(func.ST_AsBinary(Grid.geom)).where(Grid.set_id == report.set_id, Grid.code == "320382103"))))
    original = TOWNSHIPS["320382103"][1]
    # Back where it belongs to well under a centimetre (1e-7° ≈ 1 cm).
    assert shapely.hausdorff_distance(stored, original) < 1e-7


def test_gcj02_declared_as_wgs84_near_a_border_is_rejected_with_a_hint(session, tmp_path):
    import_boundaries(session, _district(tmp_path), level="district", activate_after=True)
    before = _grid_count(session)
    shifted = lambda g: coords.transform_geometry(g, "wgs84", "gcj02")  # noqa: E731
    with pytest.raises(ImportRejected) as caught:
        import_boundaries(session, _townships(tmp_path, transform=shifted), level="township")
    reasons = " ".join(r["reason_en"] for r in caught.value.detail)
    assert "outside its parent 320382" in reasons and "--crs gcj02" in reasons
    assert _grid_count(session) == before, "nothing written"


def test_bowtie_is_repaired_and_reported(session, tmp_path):
    import_boundaries(session, _district(tmp_path), level="district", activate_after=True)
    bowtie = Polygon([(117.91, 34.31), (117.99, 34.39), (117.99, 34.31), (117.91, 34.39), (117.91, 34.31)])
    assert not bowtie.is_valid
    path = write_layer(tmp_path / "b.geojson", [{"code": "320382102", "name": "邳城镇", "geometry": bowtie}])
    report = import_boundaries(session, path, level="township")
    assert [r["code"] for r in report.repaired] == ["320382102"]
    repaired = report.repaired[0]
    assert repaired["reason_zh"] == "自相交（117.95, 34.35）"
    assert repaired["reason_en"] == "Self-intersection at (117.95, 34.35)"
    assert repaired["reason"] == f"{repaired['reason_zh']} / {repaired['reason_en']}"
    valid, kind, parts = session.execute(
        select(func.ST_IsValid(Grid.geom), func.GeometryType(Grid.geom), func.ST_NumGeometries(Grid.geom))
        .where(Grid.set_id == report.set_id, Grid.code == "320382102")).one()
    assert valid and kind == "MULTIPOLYGON" and parts == 2


def test_every_bad_row_is_listed_and_nothing_is_written(session, tmp_path):
    import_boundaries(session, _district(tmp_path), level="district", activate_after=True)
    before = _grid_count(session)
    sets_before = session.scalar(select(func.count()).select_from(BoundarySet))
    inside = box(117.92, 34.32, 117.98, 34.38)
    records = [
        {"code": "320382102", "name": "邳城镇", "geometry": inside},             # good
        {"code": "32038210", "name": "坏编码", "geometry": inside},               # bad pattern
        {"code": "320383104", "name": "别的区", "geometry": inside},              # parent missing
        {"code": "320382105", "name": "空几何", "geometry": None},                # empty
        {"code": "320382106", "name": "颠倒", "geometry": box(34.32, 117.92, 34.38, 117.98)},  # swapped
        {"code": "320382102", "name": "重复", "geometry": inside},                # duplicate
        {"code": "320382107", "name": "", "geometry": inside},                    # no name
    ]
    path = write_layer(tmp_path / "bad.geojson", records)
    with pytest.raises(ImportRejected) as caught:
        import_boundaries(session, path, level="township")
    rows = {r["row"]: r["reason_en"] for r in caught.value.detail}
    assert sorted(rows) == [2, 3, 4, 5, 6, 7]
    assert "not a township code" in rows[2]
    assert "parent grid 320383 not found" in rows[3]
    assert "empty or missing geometry" in rows[4]
    assert "swapped" in rows[5]
    assert "duplicate code 320382102 (first at row 1)" in rows[6]
    assert "empty name" in rows[7]
    message = caught.value.message
    assert "\n" not in message and "6 row(s) rejected, nothing imported" in message
    assert _grid_count(session) == before
    assert session.scalar(select(func.count()).select_from(BoundarySet)) == sets_before


def test_outside_china_is_rejected(session, tmp_path):
    before = _written(session)
    path = write_layer(tmp_path / "paris.geojson",
                       [{"code": "320382", "name": "巴黎", "geometry": box(2.3, 48.8, 2.4, 48.9)}])
    with pytest.raises(ImportRejected) as caught:
        import_boundaries(session, path, level="district")
    assert "outside China" in caught.value.detail[0]["reason_en"]
    assert _written(session) == before, "nothing written"


def test_absurd_coordinates_print_short(session, tmp_path):
    path = write_layer(tmp_path / "far.geojson",
                       [{"code": "320382", "name": "远", "geometry": box(1e300, 34.3, 2e300, 34.4)}])
    with pytest.raises(ImportRejected) as caught:
        import_boundaries(session, path, level="district")
    reason = caught.value.detail[0]["reason_en"]
    assert reason.endswith("(2e+300, 34.3)") and len(caught.value.message) < 300


def test_empty_feature_collection_says_no_features(session, tmp_path):
    before = _written(session)
    path = tmp_path / "empty.geojson"
    path.write_text('{"type": "FeatureCollection", "features": []}', encoding="utf-8")
    with pytest.raises(InvalidFile) as caught:
        import_boundaries(session, path, level="district")
    assert caught.value.message == "文件 empty.geojson 中没有要素 / file empty.geojson has no features"
    assert _written(session) == before


def test_text_file_named_geojson(session, tmp_path):
    before = _written(session)
    path = tmp_path / "notes.geojson"
    path.write_text("这不是地图 just some notes\n", encoding="utf-8")
    with pytest.raises(InvalidFile) as caught:
        import_boundaries(session, path, level="district")
    assert "is not GeoJSON" in caught.value.en
    assert _written(session) == before, "nothing written"


def test_xml_vrt_disguised_as_geojson_is_refused(session, tmp_path):
    path = tmp_path / "evil.geojson"
    path.write_text('<OGRVRTDataSource><OGRVRTLayer name="x"><SrcDataSource>/etc/passwd'
                    "</SrcDataSource></OGRVRTLayer></OGRVRTDataSource>")
    with pytest.raises(InvalidFile):
        import_boundaries(session, path, level="district")


def test_truncated_zip(session, tmp_path):
    shp = _townships(tmp_path, "t.shp", crs="EPSG:4490")
    full = zip_shapefile(shp, tmp_path / "full.zip").read_bytes()
    broken = tmp_path / "broken.zip"
    broken.write_bytes(full[: len(full) // 2])
    import_boundaries(session, _district(tmp_path), level="district", activate_after=True)
    before = _written(session)
    with pytest.raises(InvalidFile) as caught:
        import_boundaries(session, broken, level="township")
    assert "truncated or corrupt" in caught.value.en
    assert _written(session) == before, "nothing written"


@pytest.mark.parametrize("missing", [".shx", ".dbf"])
def test_zip_without_shx_or_dbf(session, tmp_path, missing):
    shp = _townships(tmp_path, "t.shp", crs="EPSG:4490")
    path = zip_shapefile(shp, tmp_path / "partial.zip", skip=(missing,))
    import_boundaries(session, _district(tmp_path), level="district", activate_after=True)
    before = _written(session)
    with pytest.raises(InvalidFile) as caught:
        import_boundaries(session, path, level="township")
    assert missing in caught.value.en
    assert _written(session) == before, "nothing written"


def test_zip_with_path_traversal_is_refused(session, tmp_path):
    import zipfile

    path = tmp_path / "evil.zip"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("../../etc/cron.d/x.shp", b"\x00\x00\x27\x0a")
    with pytest.raises(InvalidFile) as caught:
        import_boundaries(session, path, level="township")
    assert "unsafe path" in caught.value.en


def test_shapefile_without_prj_needs_a_declared_crs(session, tmp_path):
    import_boundaries(session, _district(tmp_path), level="district", activate_after=True)
    shp = _townships(tmp_path, "noprj.shp", crs=None)
    assert not shp.with_suffix(".prj").exists()
    with pytest.raises(UnknownCRS):
        import_boundaries(session, shp, level="township")
    report = import_boundaries(session, shp, level="township", crs="cgcs2000")
    assert report.features == 2


def test_unknown_level_and_missing_field(session, tmp_path):
    with pytest.raises(InvalidInput):
        import_boundaries(session, _district(tmp_path), level="county")
    path = write_layer(tmp_path / "nofield.geojson", [{"label": "x", "geometry": DISTRICT_BOX}])
    with pytest.raises(InvalidInput) as caught:
        import_boundaries(session, path, level="district")
    assert "--code-field" in caught.value.en


def test_custom_field_names(session, tmp_path):
    path = write_layer(tmp_path / "d.geojson", [{"XZQDM": "320382", "XZQMC": "邳州市", "geometry": DISTRICT_BOX}])
    report = import_boundaries(session, path, level="district", code_field="XZQDM", name_field="XZQMC")
    assert report.added == 1


def test_activate_unknown_or_empty_set(session):
    with pytest.raises(NotFound):
        activate(session, 999999)
    boundary_set = BoundarySet(name="empty", status="pending", imports=[])
    session.add(boundary_set)
    session.flush()
    with pytest.raises(InvalidInput):
        activate(session, boundary_set.id, commit=True)


def test_import_metadata_is_recorded(session, tmp_path):
    report = import_boundaries(session, _district(tmp_path), level="district")
    entry = session.get(BoundarySet, report.set_id).imports[0]
    assert entry["source"] == "district.geojson" and entry["level"] == "district"
    assert json.dumps(entry)  # JSON-serialisable


def test_sets_are_named_after_their_imports(session, tmp_path):
    report = import_boundaries(session, _district(tmp_path), level="district")
    boundary_set = session.get(BoundarySet, report.set_id)
    day = boundary_set.created_at.date().isoformat()
    assert boundary_set.name == f"{day} district.geojson (district)"
    import_boundaries(session, _townships(tmp_path), level="township")
    assert boundary_set.name == f"{day} district.geojson, townships.geojson (district, township)"
    activate(session, report.set_id, commit=True)
    assert [(s["name"], s["status"]) for s in list_sets(session)] == [(boundary_set.name, "active")]
    # A name somebody chose is kept by later imports.
    chosen = import_boundaries(session, _district(tmp_path), level="district", set_name=" 2024 年  区划调整 ")
    import_boundaries(session, _townships(tmp_path), level="township")
    assert session.get(BoundarySet, chosen.set_id).name == "2024 年 区划调整"
    assert boundary_set.name.endswith("(district, township)"), "the older set keeps its own name"


def test_an_unnamed_set_is_named_when_activated(session, tmp_path):
    report = import_boundaries(session, _district(tmp_path), level="district")
    boundary_set = session.get(BoundarySet, report.set_id)
    boundary_set.name = "pending"  # as sets were called before they were named
    session.flush()
    activate(session, report.set_id, commit=True)
    assert boundary_set.name.endswith(" district.geojson (district)")


def test_toy_factory_is_exact(session):
    boundary_set = make_toy_district(session)
    leaves = session.scalars(select(Grid.code).where(Grid.set_id == boundary_set.id, Grid.is_leaf)).all()
    assert sorted(leaves) == sorted(VILLAGES)
