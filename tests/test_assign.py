"""Bulk re-placement: the vectorised path gives PostGIS's answer for every enterprise,
re-placement after new boundaries moves enterprises and keeps history per set."""

from __future__ import annotations

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
