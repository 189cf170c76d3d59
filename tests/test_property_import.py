"""Property tests of the boundary import (:func:`gridmap.boundaries.import_boundaries`).

A new village of township 320382102 (a 0.1° box of the toy district) is imported from a
GeoJSON file, many times over:

* random *valid* polygons — convex hulls of random points, star-shaped (concave) rings,
  with or without a hole — are imported as they are: one MultiPolygon, valid for
  PostGIS, nothing reported as repaired, and the stored area equal to the geodesic area
  of the polygon on the CGCS2000 ellipsoid (computed here with pyproj's GeographicLib);
* random *invalid* polygons — bowties, rings touching themselves, zero-area spikes,
  repeated points, holes outside their shell, all-collinear rings, rings of fewer than
  four positions and unclosed rings (the last two written as raw GeoJSON, which shapely
  cannot build) — are either repaired (listed in ``report.repaired``, stored valid, a
  MultiPolygon covering what GEOS MakeValid makes of them) or rejected with a reason for
  their row. Never another exception, never half-written: on rejection the number of
  grids is unchanged.

Every example runs in a savepoint that is rolled back, so each starts from the same
district.
"""

from __future__ import annotations

import json
import math
import tempfile
from pathlib import Path

import pyogrio
import pytest
import shapely
from hypothesis import HealthCheck, given, note, settings
from hypothesis import strategies as st
from pyproj import Geod
from shapely.geometry import Polygon
from sqlalchemy import func, select, text

from gridmap.boundaries import import_boundaries
from gridmap.errors import ImportRejected
from gridmap.models import Grid
from tests.factories import make_toy_district
from tests.vector_files import write_layer

VILLAGE = "320382102003"
#: Township 320382102 (the parent): minx, miny, maxx, maxy.
PARENT = (117.90, 34.30, 118.00, 34.40)
CGCS2000 = Geod(ellps="GRS80")  # CGCS2000's ellipsoid differs from GRS80 by 0.1 mm in b
EXAMPLES = settings(max_examples=40, deadline=None, derandomize=True, database=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


def geodesic_area(geom) -> float:
    # pyproj subtracts a hole only when it turns the other way from its shell.
    return abs(CGCS2000.geometry_area_perimeter(shapely.orient_polygons(geom))[0])


# ------------------------------------------------------------------------- strategies

# Keep every shape well inside the parent: 0.005° of margin, radii up to 0.03°.
CENTRES = st.tuples(st.floats(PARENT[0] + 0.035, PARENT[2] - 0.035),
                    st.floats(PARENT[1] + 0.035, PARENT[3] - 0.035))
POINTS = st.tuples(st.floats(PARENT[0] + 0.005, PARENT[2] - 0.005),
                   st.floats(PARENT[1] + 0.005, PARENT[3] - 0.005))


def _star(centre, degrees: list[int], radii: list[float]) -> list[tuple[float, float]]:
    """A star-shaped ring: vertices at distinct, sorted angles — always simple."""
    x0, y0 = centre
    return [(x0 + r * math.cos(math.radians(a)), y0 + r * math.sin(math.radians(a)))
            for a, r in zip(degrees, radii)]


@st.composite
def star_polygons(draw, *, min_vertices: int = 3) -> Polygon:
    centre = draw(CENTRES)
    degrees = sorted(draw(st.sets(st.integers(0, 359), min_size=min_vertices, max_size=14)))
    radii = draw(st.lists(st.floats(0.004, 0.03), min_size=len(degrees), max_size=len(degrees)))
    shell = _star(centre, degrees, radii)
    holes = []
    if draw(st.booleans()):
        # A hole well inside the shell: a small star around the same centre.
        inner = min(radii) * math.cos(math.pi / 3) * 0.5
        hole_degrees = sorted(draw(st.sets(st.integers(0, 359), min_size=3, max_size=6)))
        holes.append(_star(centre, hole_degrees, [inner] * len(hole_degrees)))
    polygon = Polygon(shell, holes)
    if not polygon.is_valid or polygon.area < 1e-7:
        # Three vertices within half a turn can come out thin; a hole can touch a thin shell.
        polygon = Polygon(shell)
    return polygon


@st.composite
def convex_polygons(draw) -> Polygon:
    points = draw(st.lists(POINTS, min_size=3, max_size=20))
    return shapely.convex_hull(shapely.MultiPoint(points))


VALID = st.one_of(convex_polygons(), star_polygons()).filter(
    lambda g: isinstance(g, Polygon) and g.is_valid and g.area > 1e-7)


@st.composite
def bowties(draw) -> Polygon:
    (x0, y0), (x1, y1) = draw(POINTS), draw(POINTS)
    return Polygon([(x0, y0), (x1, y1), (x1, y0), (x0, y1), (x0, y0)])


@st.composite
def self_touching(draw) -> Polygon:
    """One ring through the same point twice: two lobes joined at a vertex."""
    cx, cy = draw(CENTRES)
    d = draw(st.lists(st.floats(0.003, 0.03), min_size=4, max_size=4))
    return Polygon([(cx, cy), (cx + d[0], cy), (cx + d[0], cy + d[1]), (cx, cy),
                    (cx - d[2], cy), (cx - d[2], cy - d[3]), (cx, cy)])


@st.composite
def spikes(draw) -> Polygon:
    """A star with a zero-area spike: out to a point and straight back."""
    polygon = draw(star_polygons())
    ring = list(polygon.exterior.coords)[:-1]
    at = draw(st.integers(0, len(ring) - 1))
    tip = draw(POINTS)
    ring = ring[:at + 1] + [tip, ring[at]] + ring[at + 1:]
    return Polygon(ring)


@st.composite
def repeated_points(draw) -> Polygon:
    polygon = draw(star_polygons())
    ring = list(polygon.exterior.coords)[:-1]
    repeats = draw(st.lists(st.integers(0, len(ring) - 1), min_size=1, max_size=4))
    for index in sorted(repeats, reverse=True):
        ring.insert(index, ring[index])
    return Polygon(ring)


@st.composite
def hole_outside(draw) -> Polygon:
    """A hole beside its shell, or one that is the shell itself."""
    cx, cy = draw(CENTRES)
    w, h = draw(st.floats(0.003, 0.03)), draw(st.floats(0.003, 0.03))
    shell = [(cx - w, cy - h), (cx, cy - h), (cx, cy), (cx - w, cy)]
    beside = [(cx + 0.002, cy - h), (cx + 0.004, cy - h), (cx + 0.004, cy)]
    return Polygon(shell, [beside]) if draw(st.booleans()) else Polygon(shell, [shell[::-1]])


@st.composite
def collinear(draw) -> Polygon:
    (x0, y0), (x1, y1) = draw(POINTS), draw(POINTS)
    steps = draw(st.lists(st.floats(0, 1), min_size=2, max_size=5))
    return Polygon([(x0, y0), (x1, y1)] + [(x0 + t * (x1 - x0), y0 + t * (y1 - y0)) for t in steps])


@st.composite
def raw_rings(draw) -> dict:
    """GeoJSON geometries shapely cannot build: rings of 1-3 positions, or not closed."""
    points = [list(p) for p in draw(st.lists(POINTS, min_size=1, max_size=5))]
    if draw(st.booleans()) and len(points) >= 2:
        ring = points[:3] + [points[0]] if len(points) >= 3 else points + [points[0]]
        ring = ring[:3]  # at most three positions, closed or not
    else:
        ring = points  # not closed (unless by chance)
    return {"type": "Polygon", "coordinates": [ring]}


INVALID = st.one_of(bowties(), self_touching(), spikes(), repeated_points(), hole_outside(), collinear(),
                    raw_rings())


# --------------------------------------------------------------------------- helpers

@pytest.fixture
def district(session):
    """The toy district, active: the new village's parent township exists."""
    make_toy_district(session)
    return session


def _write(folder: Path, geometry) -> Path:
    if isinstance(geometry, dict):
        path = folder / "village.geojson"
        path.write_text(json.dumps({"type": "FeatureCollection", "features": [
            {"type": "Feature", "properties": {"code": VILLAGE, "name": "新村"}, "geometry": geometry}]}),
            encoding="utf-8")
        return path
    return write_layer(folder / "village.geojson", [{"code": VILLAGE, "name": "新村", "geometry": geometry}])


def _grid_count(session) -> int:
    return session.scalar(select(func.count()).select_from(Grid))


def _stored(session, set_id: int):
    row = session.execute(text(
        "SELECT ST_IsValid(geom), GeometryType(geom), ST_SRID(geom), area_m2, ST_AsBinary(geom)"
        " FROM grid WHERE set_id = :s AND code = :c"), {"s": set_id, "c": VILLAGE}).one()
    valid, kind, srid, area, wkb = row
    return valid, kind, srid, area, shapely.from_wkb(bytes(wkb))


def _read_back(path: Path):
    """The geometry as the file holds it (GeoJSON keeps 15 significant digits)."""
    try:
        _, _, wkb, _ = pyogrio.raw.read(path)
        return shapely.from_wkb(wkb[0]) if wkb is not None and wkb[0] is not None else None
    except Exception:  # noqa: BLE001 - a ring GDAL will not read: the import must say so itself
        return None


def _import_once(session, geometry):
    """(report or None, ImportRejected or None, grids before, grids after, stored, written)
    — in a savepoint rolled back afterwards."""
    savepoint = session.begin_nested()
    try:
        before = _grid_count(session)
        with tempfile.TemporaryDirectory(prefix="gridmap-prop-") as tmp:
            path = _write(Path(tmp), geometry)
            written = _read_back(path)
            try:
                report = import_boundaries(session, path, level="village")
            except ImportRejected as exc:
                return None, exc, before, _grid_count(session), None, written
            return report, None, before, _grid_count(session), _stored(session, report.set_id), written
    finally:
        savepoint.rollback()
        session.expire_all()


# ----------------------------------------------------------------------------- tests

@EXAMPLES
@given(polygon=VALID)
def test_valid_polygons_are_imported_as_they_are_with_their_geodesic_area(district, polygon):
    note(polygon.wkt)
    report, rejected, _, _, stored, written = _import_once(district, polygon)
    assert shapely.symmetric_difference(written, polygon).area < 1e-14, "the file holds the polygon"
    assert rejected is None, rejected and rejected.detail
    assert (report.added, report.repaired) == (1, [])
    valid, kind, srid, area, geom = stored
    assert (valid, kind, srid) == (True, "MULTIPOLYGON", 4490)
    assert shapely.equals_exact(geom.geoms[0], written, tolerance=0) or shapely.equals(geom, written), "as given"
    assert area == pytest.approx(geodesic_area(polygon), rel=1e-6, abs=1e-3)


@EXAMPLES
@given(geometry=INVALID)
def test_invalid_polygons_are_repaired_or_rejected_by_row(district, geometry):
    note(json.dumps(geometry) if isinstance(geometry, dict) else geometry.wkt)
    report, rejected, before, after, stored, written = _import_once(district, geometry)
    if rejected is not None:
        assert after == before, "nothing written"
        assert rejected.detail and {r["row"] for r in rejected.detail} == {1}
        assert all(r["code"] == VILLAGE and r["reason_zh"] and r["reason_en"] and "\n" not in r["reason_en"]
                   for r in rejected.detail)
        assert "Traceback" not in rejected.message and "\n" not in rejected.message
        return
    valid, kind, srid, area, geom = stored
    assert (valid, kind, srid) == (True, "MULTIPOLYGON", 4490)
    assert area > 0 and area == pytest.approx(geodesic_area(geom), rel=1e-6, abs=1e-3)
    if written is not None:
        assert bool(report.repaired) == (not written.is_valid), report.repaired
        if report.repaired:
            assert report.repaired[0]["code"] == VILLAGE and report.repaired[0]["reason"]
            # What MakeValid makes of it, less rounding-noise slivers.
            assert shapely.difference(geom, shapely.make_valid(written)).area < 1e-14
            assert shapely.symmetric_difference(geom, shapely.make_valid(written)).area < 1e-12
        else:
            assert shapely.equals(geom, written)


BOWTIE = Polygon([(117.91, 34.31), (117.99, 34.39), (117.99, 34.31), (117.91, 34.39), (117.91, 34.31)])
#: Points on one line of longitude-latitude: MakeValid leaves slivers of rounding noise.
COLLINEAR = Polygon([(117.90625, 34.305), (117.96875, 34.3125), (117.9375, 34.30875), (117.921875, 34.306875)])


@pytest.mark.parametrize("geometry,outcome", [
    (BOWTIE, "two triangles"),
    (Polygon([(117.92, 34.32), (117.94, 34.32), (117.94, 34.34), (117.92, 34.32), (117.90, 34.32),
              (117.90, 34.30), (117.92, 34.32)]), "two triangles"),  # a ring through one point twice
    (COLLINEAR, "rejected"),
    ({"type": "Polygon", "coordinates": [[[117.91, 34.31], [117.95, 34.35], [117.91, 34.31]]]}, "rejected"),
    ({"type": "Polygon", "coordinates": [[[117.91, 34.31], [117.95, 34.35]]]}, "rejected"),
], ids=["bowtie", "self-touching", "collinear", "three-positions", "two-positions"])
def test_what_happens_to_each_kind_of_invalid_ring(district, geometry, outcome):
    report, rejected, before, after, stored, _ = _import_once(district, geometry)
    if outcome == "rejected":
        assert rejected is not None and after == before
        assert rejected.detail[0]["row"] == 1 and rejected.detail[0]["code"] == VILLAGE
    else:
        assert rejected is None and report.repaired and report.repaired[0]["row"] == 1
        assert stored[:3] == (True, "MULTIPOLYGON", 4490) and len(stored[4].geoms) == 2
