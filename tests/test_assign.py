"""Bulk re-placement: the vectorised path gives PostGIS's answer for every enterprise,
re-placement after new boundaries moves enterprises and keeps history per set."""

from __future__ import annotations

import numpy as np
import shapely
from shapely.geometry import box
from sqlalchemy import create_engine, text
from sqlalchemy.orm import Session

from gridmap.assign import assign
from gridmap.boundaries import activate, import_boundaries
from tests.vector_files import write_layer


def test_bulk_path_agrees_with_postgis_on_the_sample(pizhou_database):
    engine = create_engine(pizhou_database)
    with Session(engine) as session:
        summary = assign(session)
        assert summary["enterprises"] == 4000
        assert summary["changed"] == 0, "the bulk path re-derives exactly what the SQL import path stored"
        mismatches = session.execute(text(
            """
            SELECT e.uscc, e.grid_code, p.code
            FROM enterprise e
            LEFT JOIN LATERAL (
                SELECT g.code FROM grid g
                WHERE g.set_id = e.placed_set_id AND g.is_leaf AND ST_Covers(g.geom, e.location)
                ORDER BY g.code COLLATE "C" LIMIT 1) p ON true
            WHERE e.location IS NOT NULL AND e.placement IN ('exact', 'conflict')
              AND e.grid_code IS DISTINCT FROM p.code
            """)).all()
        assert mismatches == []
        session.rollback()
    engine.dispose()


def test_new_boundaries_then_assign_moves_enterprises_and_keeps_history(toy_district, session, tmp_path):
    import random

    from gridmap.auth import Scope
    from gridmap.enterprises import save_enterprise
    from gridmap.uscc import make_uscc

    rng = random.Random(11)
    uscc = make_uscc(rng, "320382")
    save_enterprise(session, {"uscc": uscc, "name": "界边厂", "lon": 117.96, "lat": 34.35}, scope=Scope.everything())
    first_set = toy_district.id
    # New villages for township 320382102: the border moves from 117.95 to 117.97.
    records = [{"code": "320382102001", "name": "甲村", "geometry": box(117.90, 34.30, 117.97, 34.40)},
               {"code": "320382102002", "name": "乙社区", "geometry": box(117.97, 34.30, 118.00, 34.40)}]
    report = import_boundaries(session, write_layer(tmp_path / "v.geojson", records), level="village")
    activate(session, report.set_id, commit=True)
    summary = assign(session)
    assert summary["changed"] == 1
    row = session.execute(text("SELECT grid_code, placed_set_id FROM enterprise WHERE uscc = :u"), {"u": uscc}).one()
    assert row == ("320382102001", report.set_id)
    history = session.execute(text(
        "SELECT p.set_id, p.grid_code FROM enterprise_placement p JOIN enterprise e ON e.id = p.enterprise_id"
        " WHERE e.uscc = :u ORDER BY p.set_id"), {"u": uscc}).all()
    assert history == [(first_set, "320382102002"), (report.set_id, "320382102001")]
    assert shapely.Point(117.96, 34.35).within(records[0]["geometry"])


def test_large_imports_use_the_bulk_index_with_the_same_answers(pizhou_database):
    """place_records switches to the vectorised index for many points: same placements."""
    import math

    from gridmap.placement import place_records

    engine = create_engine(pizhou_database)
    with Session(engine) as session:
        set_id = session.execute(text("SELECT id FROM boundary_set WHERE status = 'active'")).scalar_one()
        rows = session.execute(text(
            "SELECT ST_X(location), ST_Y(location), address FROM enterprise ORDER BY id")).all()
        lon = [r[0] if r[0] is not None else math.nan for r in rows]
        lat = [r[1] if r[1] is not None else math.nan for r in rows]
        addresses = [r[2] for r in rows]
        by_sql = place_records(session, set_id=set_id, lon=lon, lat=lat, addresses=addresses, tolerance_m=50,
                               bulk_threshold=10**9)
        by_index = place_records(session, set_id=set_id, lon=lon, lat=lat, addresses=addresses, tolerance_m=50,
                                 bulk_threshold=1)
        assert [(p.placement, p.grid_code, p.home_code, p.detail) for p in by_sql] == \
               [(p.placement, p.grid_code, p.home_code, p.detail) for p in by_index]
        session.rollback()
    engine.dispose()


def test_sql_and_bulk_paths_snap_alike_at_the_northern_border(session):
    """Above ~53.3°N 50 m east-west is more than the SQL path's old fixed prefilter of
    7.5e-4°: a point 49.9 m east of a grid near Mohe is snapped by both paths alike."""
    from pyproj import Geod

    from gridmap.boundaries import add_grid, refresh_leaves
    from gridmap.placement import place_points
    from tests.factories import make_set

    boundary_set = make_set(session)
    add_grid(session, set_id=boundary_set.id, code="232723", name="漠河市", level="district",
             geom=box(123.10, 53.50, 123.20, 53.56))
    add_grid(session, set_id=boundary_set.id, code="232723100", name="北极镇", level="township",
             geom=box(123.10, 53.50, 123.20, 53.56))
    refresh_leaves(session, boundary_set.id)
    lon, lat, _ = Geod(ellps="GRS80").fwd(123.20, 53.55, 90.0, 49.9)
    assert lon - 123.20 > 50 * 1e-5 * 1.5  # beyond the old prefilter's reach
    for threshold in (10**9, 1):  # SQL, then the vectorised index
        codes, kinds, metres = place_points(session, set_id=boundary_set.id, lon=[lon], lat=[lat],
                                            tolerance_m=50.0, bulk_threshold=threshold)
        assert (codes[0], kinds[0]) == ("232723100", "snapped"), threshold
        assert 49.8 < metres[0] < 50.0


def test_assign_saves_the_index_per_set_content_and_loads_it_next_time(toy_district, session, tmp_path):
    import random

    from gridmap.auth import Scope
    from gridmap.enterprises import save_enterprise
    from gridmap.uscc import make_uscc

    rng = random.Random(12)
    near_border = make_uscc(rng, "320382")
    save_enterprise(session, {"uscc": near_border, "name": "近界厂", "lon": 117.945, "lat": 34.35},
                    scope=Scope.everything())
    save_enterprise(session, {"uscc": make_uscc(rng, "320382"), "name": "地址厂", "address": "邳州市官湖镇丙村"},
                    scope=Scope.everything())
    cache = tmp_path / "grid-index"
    first = assign(session, cache_dir=cache)
    assert (first["index"], first["enterprises"]) == ("built", 2)
    assert len(list(cache.glob("grid-index-*.npz"))) == 1
    second = assign(session, cache_dir=cache)
    assert (second["index"], second["changed"]) == ("loaded", 0)
    # The set's grids edited in place: another content, another key — never the stale index.
    session.execute(text("UPDATE grid SET geom = ST_Multi(ST_MakeEnvelope(117.90, 34.30, 117.94, 34.40, 4490))"
                         " WHERE set_id = :s AND code = '320382102001'"), {"s": toy_district.id})
    session.execute(text("UPDATE grid SET geom = ST_Multi(ST_MakeEnvelope(117.94, 34.30, 118.00, 34.40, 4490))"
                         " WHERE set_id = :s AND code = '320382102002'"), {"s": toy_district.id})
    third = assign(session, cache_dir=cache)
    assert (third["index"], third["changed"]) == ("built", 1)
    assert session.execute(text("SELECT grid_code FROM enterprise WHERE uscc = :u"),
                           {"u": near_border}).scalar_one() == "320382102002"
    # A damaged file is rebuilt, not trusted.
    for saved in cache.glob("grid-index-*.npz"):
        saved.write_bytes(b"PK\x03\x04 truncated")
    fourth = assign(session, cache_dir=cache)
    assert (fourth["index"], fourth["changed"]) == ("built", 0)
    assert assign(session, cache_dir=cache)["index"] == "loaded"
    assert assign(session, cache_dir=None)["index"] == "built"


def test_points_are_read_in_id_order_with_nan_without_a_location(toy_district, session):
    import random

    from gridmap.assign import iter_points
    from gridmap.auth import Scope
    from gridmap.enterprises import save_enterprise
    from gridmap.uscc import make_uscc

    rng = random.Random(13)
    for lon in (117.93, None, 118.07):
        values = {"uscc": make_uscc(rng, "320382"), "name": f"厂{lon}", "address": "邳州市官湖镇丙村"}
        if lon is not None:
            values.update(lon=lon, lat=34.35)
        save_enterprise(session, values, scope=Scope.everything())
    expected = session.execute(text("SELECT id, ST_X(location), ST_Y(location) FROM enterprise ORDER BY id")).all()
    raw = session.connection().connection.driver_connection

    def read_points(raw, **options):
        parts = list(iter_points(raw, **options))
        return tuple(np.concatenate([part[k] for part in parts]) if parts else np.zeros(0) for k in range(3))

    for chunk in (1, 2, 1_000_000):  # several statements or one
        ids, lon, lat = read_points(raw, chunk=chunk)
        assert ids.tolist() == [row[0] for row in expected]
        assert [None if np.isnan(v) else v for v in lon] == [row[1] for row in expected]
        assert [None if np.isnan(v) else v for v in lat] == [row[2] for row in expected]
    ids, _, _ = read_points(raw, district="320399")
    assert len(ids) == 0


def test_locate_places_part_by_part_as_the_sql_path_does(toy_district, session, tmp_path):
    """Parts read by the second thread and placed as they arrive give what the SQL path
    gives, in id order, whatever the part size, the index built or loaded."""
    import random

    from gridmap.assign import locate
    from gridmap.auth import Scope
    from gridmap.enterprises import save_enterprise
    from gridmap.placement import place_points
    from gridmap.uscc import make_uscc

    rng = random.Random(14)
    for lon in (117.93, 118.1003, 118.2, None, 118.05, 117.99999):
        values = {"uscc": make_uscc(rng, "320382"), "name": f"厂{lon}", "address": "邳州市官湖镇丙村"}
        if lon is not None:
            values.update(lon=lon, lat=34.35)
        save_enterprise(session, values, scope=Scope.everything())
    ids, lon, lat = (np.array(c) for c in zip(*session.execute(text(
        "SELECT id, COALESCE(ST_X(location), 'NaN'), COALESCE(ST_Y(location), 'NaN') FROM enterprise ORDER BY id")).all()))
    expected = place_points(session, set_id=toy_district.id, lon=lon, lat=lat, bulk_threshold=10**9)
    for chunk, cache in ((1, None), (2, tmp_path), (1000, tmp_path)):
        located = locate(session, set_id=toy_district.id, chunk=chunk, cache_dir=cache)
        assert located["ids"].tolist() == ids.tolist()
        assert located["codes"].tolist() == expected[0].tolist()
        assert located["kinds"].tolist() == expected[1].tolist()
        assert np.allclose(located["distance_m"], expected[2], equal_nan=True, atol=1e-6)
    assert located["index"] == "loaded"
    assert set(expected[1]) == {"exact", "snapped", "unplaced"}
