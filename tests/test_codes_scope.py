"""Code widths and scope: a micro-grid or direct-grid code never takes in a longer sibling.

Micro-grid codes are a village code + 2 or 3 digits and direct-grid codes a district code
+ ``Z`` + 2 or 3 digits. Mixing both widths under one parent would make
``32038210200101`` a prefix of ``320382102001011``; scope is a code prefix, so a grid
member scoped to the first would see the second. The import refuses mixed widths, and the
scope check refuses the prefix on its own.
"""

from __future__ import annotations

import doctest

import pytest
from shapely.geometry import box
from sqlalchemy import func, select

from gridmap import boundaries, codes, db, dbsetup, persons
from gridmap.auth import Scope
from gridmap.boundaries import activate, add_grid, import_boundaries
from gridmap.errors import ImportRejected
from gridmap.models import BoundarySet, Grid
from tests.vector_files import write_layer

VILLAGE = "320382102001"  # box(117.90, 34.30, 117.95, 34.40) in the toy district


def _counts(session) -> tuple[int, int]:
    return (session.scalar(select(func.count()).select_from(Grid)),
            session.scalar(select(func.count()).select_from(BoundarySet)))


def _micro(tmp_path, name: str, codes_and_boxes: list[tuple[str, tuple]]):
    return write_layer(tmp_path / name, [{"code": c, "name": f"微网格{c[-3:]}", "geometry": box(*b)}
                                         for c, b in codes_and_boxes])


def test_micro_grids_of_both_widths_in_one_village_are_rejected(session, toy_district, tmp_path):
    before = _counts(session)
    path = _micro(tmp_path, "micro.geojson", [
        (VILLAGE + "01", (117.90, 34.30, 117.92, 34.40)),
        (VILLAGE + "011", (117.92, 34.30, 117.95, 34.40)),
    ])
    with pytest.raises(ImportRejected) as caught:
        import_boundaries(session, path, level="micro")
    [row] = caught.value.detail
    assert row["row"] == 2 and row["code"] == VILLAGE + "011"
    assert "has 15 characters but the micro grids under 320382102001 have 14" in row["reason_en"]
    assert "prefix" in row["reason_en"] and "位数必须一致" in row["reason_zh"]
    assert _counts(session) == before, "nothing written"


def test_a_width_other_than_the_one_in_the_set_is_rejected(session, toy_district, tmp_path):
    first = import_boundaries(session, _micro(tmp_path, "a.geojson", [
        (VILLAGE + "01", (117.90, 34.30, 117.92, 34.40)),
        (VILLAGE + "02", (117.92, 34.30, 117.95, 34.40)),
    ]), level="micro", activate_after=True)
    assert first.added == 2, "one width per village is fine"
    before = _counts(session)
    with pytest.raises(ImportRejected) as caught:
        import_boundaries(session, _micro(tmp_path, "b.geojson", [(VILLAGE + "011", (117.90, 34.30, 117.91, 34.40))]),
                          level="micro")
    assert "32038210200101, already in the boundary set" in caught.value.detail[0]["reason_en"]
    assert _counts(session) == before
    # Another village may use the other width.
    other = import_boundaries(session, write_layer(tmp_path / "c.geojson", [
        {"code": "320382102002001", "name": "乙一", "geometry": box(117.95, 34.30, 118.00, 34.40)}]),
        level="micro")
    assert other.added == 1


def test_direct_grids_of_both_widths_in_one_district_are_rejected(session, toy_district, tmp_path):
    before = _counts(session)
    path = write_layer(tmp_path / "direct.geojson", [
        {"code": "320382Z01", "name": "开发区", "geometry": box(117.91, 34.31, 117.93, 34.33)},
        {"code": "320382Z012", "name": "重点企业", "geometry": box(117.94, 34.31, 117.96, 34.33)},
    ])
    with pytest.raises(ImportRejected) as caught:
        import_boundaries(session, path, level="direct")
    assert caught.value.detail[0]["code"] == "320382Z012"
    assert "have 9" in caught.value.detail[0]["reason_en"]
    assert _counts(session) == before


def test_a_bottom_level_scope_never_matches_a_longer_sibling():
    micro = Scope(code="32038210200101", role="grid_staff")
    assert micro.allows("32038210200101")
    assert not micro.allows("320382102001011")
    direct = Scope(code="320382Z01", role="grid_staff")
    assert direct.allows("320382Z01") and not direct.allows("320382Z012")
    village = Scope(code=VILLAGE, role="grid_staff")
    assert village.allows("32038210200101") and village.allows("320382102001011")
    assert not village.allows("320382102002") and not village.allows(None)


def test_grid_staff_scoped_to_a_micro_grid_sees_only_it(client, session, toy_district, login):
    """Mixed widths stored by an older version (or by hand) still do not leak."""
    for code, bounds in ((VILLAGE + "01", (117.90, 34.30, 117.92, 34.40)),
                         (VILLAGE + "011", (117.92, 34.30, 117.95, 34.40))):
        add_grid(session, set_id=toy_district.id, code=code, name=code, level="micro", geom=box(*bounds))
    staff = login("grid_staff", VILLAGE + "01")
    listed = client.get("/api/v1/grids", headers=staff).json()
    assert [g["code"] for g in listed["data"]] == [VILLAGE + "01"]
    assert client.get(f"/api/v1/grids/{VILLAGE}011", headers=staff).status_code == 404
    located = client.get("/api/v1/locate", params={"lon": 117.93, "lat": 34.35}, headers=staff).json()
    assert located["grids"] == []
    # The SQL filter and the Python check agree.
    scope = Scope(code=VILLAGE + "01", role="grid_staff")
    in_sql = session.scalars(select(Grid.code).where(Grid.set_id == toy_district.id, scope.filter(Grid.code))).all()
    assert in_sql == [VILLAGE + "01"]


def test_activation_keeps_working_with_one_width(session, toy_district, tmp_path):
    report = import_boundaries(session, _micro(tmp_path, "m.geojson", [(VILLAGE + "001", (117.90, 34.30, 117.95, 34.40))]),
                               level="micro")
    assert activate(session, report.set_id, commit=True).added == [VILLAGE + "001"]


@pytest.mark.parametrize("module", [codes, boundaries, persons, db, dbsetup])
def test_docstring_examples(module):
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
    assert result.failed == 0
