"""The bulk point-in-grid engine gives PostGIS's answer for every point.

Against the real PostGIS (``GRIDMAP_TEST_DATABASE_URL``, default the local
``gridmap_test``): everything is loaded into TEMP tables inside one transaction that is
rolled back, so the project's tables are never touched and no migration runs.
"""

from __future__ import annotations

import math
import os
import zipfile

import numpy as np
import pytest
import shapely
import shapely.affinity
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from shapely import MultiPolygon, Polygon, box
from sqlalchemy import create_engine, text
from sqlalchemy.exc import DBAPIError

from gridmap.errors import InvalidGeometry, InvalidInput, NotFound
from gridmap.settings import normalise_database_url
from gridmap.spatial import GridIndex
from gridmap.spatial.pip import GEOD

DEFAULT_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/gridmap_test"
TOLERANCE_M = 50.0

# ------------------------------------------------------------------ PostGIS fixtures


@pytest.fixture(scope="module")
def pg():
    """A connection inside a transaction that is rolled back: TEMP tables only."""
    url = normalise_database_url(os.environ.get("GRIDMAP_TEST_DATABASE_URL") or DEFAULT_URL)
    engine = create_engine(url, connect_args={"connect_timeout": 5})
    try:
        conn = engine.connect()
        transaction = conn.begin()
        conn.execute(text("SELECT postgis_lib_version()"))
    except DBAPIError as exc:  # no server, no database, or no PostGIS in it
        engine.dispose()
        pytest.fail(f"these tests need PostgreSQL + PostGIS at {engine.url!r}: run `make setup` "
                    f"or set GRIDMAP_TEST_DATABASE_URL ({str(exc.orig).strip().splitlines()[0]})",
                    pytrace=False)
    try:
        yield conn
    finally:
        transaction.rollback()
        conn.close()
        engine.dispose()


def load_grids(conn, table: str, codes, geoms) -> None:
    conn.execute(text(f"DROP TABLE IF EXISTS {table}"))
    conn.execute(text(f"CREATE TEMP TABLE {table} (code text PRIMARY KEY,"
                      " geom geometry(MultiPolygon, 4490) NOT NULL)"))
    raw = conn.connection.driver_connection
    with raw.cursor() as cur, cur.copy(f"COPY {table} (code, geom) FROM STDIN") as copy:
        for code, geom in zip(codes, geoms):
            multi = geom if isinstance(geom, MultiPolygon) else MultiPolygon([geom])
            # Hex EWKB: the exact doubles, no decimal round trip.
            ewkb = shapely.to_wkb(shapely.set_srid(multi, 4490), hex=True, include_srid=True)
            copy.write_row((code, ewkb))
    conn.execute(text(f"CREATE INDEX ON {table} USING gist (geom)"))
    conn.execute(text(f"CREATE INDEX ON {table} USING gist ((geom::geography))"))
    conn.execute(text(f"ANALYZE {table}"))


def load_points(conn, table: str, x: np.ndarray, y: np.ndarray) -> None:
    conn.execute(text(f"DROP TABLE IF EXISTS {table}"))
    conn.execute(text(f"CREATE TEMP TABLE {table} (i integer PRIMARY KEY, x float8, y float8,"
                      " geom geometry(Point, 4490))"))
    raw = conn.connection.driver_connection
    with raw.cursor() as cur, cur.copy(f"COPY {table} (i, x, y) FROM STDIN") as copy:
        for i, (a, b) in enumerate(zip(x.tolist(), y.tolist())):
            copy.write_row((i, a, b))  # repr() of a float round-trips exactly
    conn.execute(text(f"UPDATE {table} SET geom = ST_SetSRID(ST_MakePoint(x, y), 4490)"))
    conn.execute(text(f"CREATE INDEX ON {table} USING gist (geom)"))
    conn.execute(text(f"ANALYZE {table}"))


def postgis_place(conn, grids: str, points: str, n: int, tolerance_m: float):
    """The SQL path's answer: ST_Covers + smallest code, else geography snapping."""
    codes = np.full(n, None, dtype=object)
    kinds = np.full(n, "unplaced", dtype=object)
    metres = np.full(n, np.nan)
    for i, code in conn.execute(text(
            f'SELECT p.i, min(g.code COLLATE "C") FROM {points} p '
            f"JOIN {grids} g ON ST_Covers(g.geom, p.geom) GROUP BY p.i")):
        codes[i], kinds[i], metres[i] = code, "exact", 0.0
    todo = [i for i in range(n) if codes[i] is None]
    if tolerance_m <= 0:  # as the platform's SQL path: no snapping at all
        return codes, kinds, metres
    for i, code, d in conn.execute(text(
            f"""SELECT p.i, s.code, s.d FROM {points} p CROSS JOIN LATERAL (
                    SELECT g.code, ST_Distance(g.geom::geography, p.geom::geography) AS d
                    FROM {grids} g
                    WHERE ST_DWithin(g.geom::geography, p.geom::geography, :tol)
                    ORDER BY d, g.code COLLATE "C" LIMIT 1) s
                WHERE p.i = ANY(:todo)"""), {"tol": tolerance_m, "todo": todo}):
        codes[i], kinds[i], metres[i] = code, "snapped", d
    return codes, kinds, metres


def describe_mismatches(x, y, ours, theirs, limit=20) -> str:
    ours_codes, ours_kinds, ours_m = ours
    pg_codes, pg_kinds, pg_m = theirs
    metres_apart = np.abs(np.nan_to_num(ours_m, nan=-1) - np.nan_to_num(pg_m, nan=-1))
    bad = np.flatnonzero((ours_codes != pg_codes) | (ours_kinds != pg_kinds) | (metres_apart > 0.5))
    lines = [f"{len(bad)} of {len(x)} points differ from PostGIS:"]
    for i in bad[:limit]:
        lines.append(f"  #{i} POINT({x[i]!r} {y[i]!r}): ours {ours_codes[i]} {ours_kinds[i]} "
                     f"{ours_m[i]!r} m, PostGIS {pg_codes[i]} {pg_kinds[i]} {pg_m[i]!r} m")
    return "\n".join(lines)


# ------------------------------------------------------------------ synthetic district

BOX = (117.85, 34.25, 117.95, 34.35)


def village_codes(rng: np.random.Generator, n: int) -> list[str]:
    """Village codes plus some micro-grid codes (a village code + 2 digits), shuffled so
    that code order has nothing to do with position."""
    codes = set()
    while len(codes) < n:
        code = f"320382{rng.integers(100, 125):03d}{rng.integers(1, 400):03d}"
        if rng.random() < 0.15:
            code += f"{rng.integers(1, 40):02d}"
        codes.add(code)
    codes = sorted(codes)
    rng.shuffle(codes)
    return codes


def synthetic_district(seed: int = 20240601):
    """About 3,000 Voronoi grids in a 0.1° box: MultiPolygons, holes filled by other grids,
    one hole left empty (a gap inside the district)."""
    rng = np.random.default_rng(seed)
    frame = box(*BOX)
    seeds = shapely.points(rng.uniform(BOX[0], BOX[2], 3200), rng.uniform(BOX[1], BOX[3], 3200))
    cells = shapely.voronoi_polygons(shapely.multipoints(seeds), extend_to=frame, ordered=True)
    cells = list(shapely.intersection(np.asarray(cells.geoms), frame))
    cells = [c for c in cells if isinstance(c, Polygon) and c.area > 0]

    grids: list = []
    holes_empty: list[Polygon] = []
    # Six grids get a hole; five holes are grids of their own, one stays empty.
    big = sorted(range(len(cells)), key=lambda i: -cells[i].area)[:6]
    for k, i in enumerate(big):
        cell = cells[i]
        inner = shapely.affinity.scale(cell, 0.45, 0.45, origin=cell.centroid)
        cells[i] = Polygon(cell.exterior.coords, [inner.exterior.coords[::-1]])
        if k < 5:
            grids.append(inner)
        else:
            holes_empty.append(inner)
    # Forty grids are MultiPolygons of two cells that do not touch.
    taken: set[int] = set(big)
    order = rng.permutation(len(cells))
    merged = 0
    for a, b in zip(order[::2], order[1::2]):
        if merged == 40:
            break
        if a in taken or b in taken or cells[a].intersects(cells[b]):
            continue
        grids.append(MultiPolygon([cells[a], cells[b]]))
        taken |= {int(a), int(b)}
        merged += 1
    grids.extend(c for i, c in enumerate(cells) if i not in taken or i in big)
    codes = village_codes(rng, len(grids))
    return codes, grids, holes_empty


def synthetic_points(grids, holes_empty, n: int = 100_000, seed: int = 7):
    """Random interior points plus the hard cases: vertices, float midpoints, points a
    few ulps off edges, just outside the district, far away, inside the empty hole."""
    rng = np.random.default_rng(seed)
    rings = shapely.get_rings(shapely.get_parts(np.asarray(grids, dtype=object)))
    coords, ring = shapely.get_coordinates(rings, return_index=True)
    keep = ring[:-1] == ring[1:]
    a, b = coords[:-1][keep], coords[1:][keep]

    def pick(count):
        return rng.integers(0, len(a), count)

    vertices = coords[rng.integers(0, len(coords), n * 5 // 100)]
    s = pick(n * 5 // 100)
    midpoints = (a[s] + b[s]) / 2
    s = pick(n * 2 // 100)
    along = a[s] + (b[s] - a[s]) * rng.random((len(s), 1))
    ulps = along.copy()
    for axis in (0, 1):
        steps = rng.integers(-3, 4, len(s))
        for _ in range(3):
            move = steps != 0
            ulps[move, axis] = np.nextafter(ulps[move, axis],
                                            np.where(steps[move] > 0, np.inf, -np.inf))
            steps = steps - np.sign(steps)

    # Just outside the district's frame, 0-80 m out (metres → degrees at 34.3°N).
    count = n * 2 // 100
    side = rng.integers(0, 4, count)
    t = rng.random(count)
    out_m = rng.uniform(0, 80, count)
    dlon, dlat = out_m / 92_100.0, out_m / 110_900.0
    x = np.select([side == 0, side == 1], [BOX[0] - dlon, BOX[2] + dlon],
                  BOX[0] + t * (BOX[2] - BOX[0]))
    y = np.select([side == 2, side == 3], [BOX[1] - dlat, BOX[3] + dlat],
                  BOX[1] + t * (BOX[3] - BOX[1]))
    outside = np.stack([x, y], axis=1)
    far = np.stack([rng.uniform(117.0, 118.8, n // 100), rng.uniform(33.4, 35.2, n // 100)], 1)
    far = far[~shapely.intersects_xy(box(*BOX).buffer(0.01), far[:, 0], far[:, 1])]
    hole = holes_empty[0]
    hx0, hy0, hx1, hy1 = hole.bounds
    in_hole = np.stack([rng.uniform(hx0, hx1, 400), rng.uniform(hy0, hy1, 400)], 1)
    in_hole = in_hole[shapely.contains_xy(hole, in_hole[:, 0], in_hole[:, 1])]

    special = np.concatenate([vertices, midpoints, along, ulps, outside, far, in_hole])
    rest = n - len(special)
    interior = np.stack([rng.uniform(BOX[0], BOX[2], rest), rng.uniform(BOX[1], BOX[3], rest)], 1)
    points = np.concatenate([special, interior])
    return points[:, 0].copy(), points[:, 1].copy()


@pytest.fixture(scope="module")
def district():
    """(codes, grids, empty holes, lon, lat) of the synthetic district and its 100,000 points."""
    codes, grids, holes_empty = synthetic_district()
    x, y = synthetic_points(grids, holes_empty)
    return codes, grids, holes_empty, x, y


# ------------------------------------------------------------------ the 100,000-point check


@pytest.mark.slow
def test_place_equals_postgis_for_every_point(pg, district):
    codes, grids, holes_empty, x, y = district
    load_grids(pg, "pip_grids", codes, grids)
    load_points(pg, "pip_points", x, y)
    theirs = postgis_place(pg, "pip_grids", "pip_points", len(x), TOLERANCE_M)

    index = GridIndex(codes, grids)
    ours = index.place(x, y, tolerance_m=TOLERANCE_M)

    assert (ours[0] == theirs[0]).all() and (ours[1] == theirs[1]).all() and np.allclose(
        ours[2], theirs[2], atol=0.5, rtol=0, equal_nan=True
    ), describe_mismatches(x, y, ours, theirs)
    # covering() alone is PostGIS's ST_Covers + smallest code.
    covered = np.where(theirs[1] == "exact", theirs[0], None)
    assert (index.covering(x, y, chunk=7_919) == covered).all()

    # The data really exercises every rule.
    kinds = theirs[1]
    assert (kinds == "snapped").sum() > 300 and (kinds == "unplaced").sum() > 300
    on_borders = pg.scalar(text(
        "SELECT count(*) FROM (SELECT p.i FROM pip_points p JOIN pip_grids g"
        " ON ST_Covers(g.geom, p.geom) GROUP BY p.i HAVING count(*) > 1) s"))
    assert on_borders > 5_000, "shared borders and vertices decide thousands of points"
    hole = holes_empty[0]
    in_hole = shapely.contains_xy(hole, x, y)
    assert in_hole.sum() > 50 and (ours[1][in_hole] != "exact").all()
    counts = index.resolution_counts(x, y)
    assert counts["postgis_arithmetic"] > 10_000, counts
    assert counts["raster"] > 50_000, counts


def test_geos_alone_disagrees_near_the_origin_but_the_index_follows_postgis(pg):
    """Near 0°, coordinate differences are inexact and PostGIS's plain double-precision
    side test answers differently from exact (GEOS) arithmetic for some points within an
    ulp of a border; the index must side with PostGIS there too."""
    rng = np.random.default_rng(11)
    frame = box(0.0001, 0.0001, 0.0201, 0.0201)
    seeds = shapely.points(rng.uniform(0.0001, 0.0201, 300), rng.uniform(0.0001, 0.0201, 300))
    cells = shapely.voronoi_polygons(shapely.multipoints(seeds), extend_to=frame, ordered=True)
    cells = [c for c in shapely.intersection(np.asarray(cells.geoms), frame) if c.area > 0]
    codes = [f"320382100{i:03d}" for i in range(len(cells))]
    coords, ring = shapely.get_coordinates(shapely.get_exterior_ring(cells), return_index=True)
    keep = ring[:-1] == ring[1:]
    a, b = coords[:-1][keep], coords[1:][keep]
    s = rng.integers(0, len(a), 20_000)
    along = a[s] + (b[s] - a[s]) * rng.random((len(s), 1))
    x = np.nextafter(along[:, 0], np.where(rng.random(len(s)) < 0.5, -1.0, 1.0))
    y = along[:, 1]
    load_grids(pg, "pip_origin", codes, cells)
    load_points(pg, "pip_origin_points", x, y)
    theirs = postgis_place(pg, "pip_origin", "pip_origin_points", len(x), 0.0)[0]

    tree = shapely.STRtree(cells)
    pi, gi = tree.query(shapely.points(x, y))
    hit = shapely.intersects_xy(np.asarray(cells, dtype=object)[gi], x[pi], y[pi])
    geos = np.full(len(x), None, dtype=object)
    for p, g in sorted(zip(pi[hit], gi[hit]), key=lambda pg_: (pg_[0], codes[pg_[1]]),
                       reverse=True):
        geos[p] = codes[g]
    assert (geos != theirs).sum() > 0, "GEOS and PostGIS should disagree on a few points here"

    ours = GridIndex(codes, cells).covering(x, y)
    bad = np.flatnonzero(ours != theirs)
    assert bad.size == 0, [(x[i], y[i], ours[i], theirs[i]) for i in bad[:10]]


@st.composite
def polygon_pair_and_points(draw):
    """A random star-shaped grid, a triangle grid sharing one of its edges, and points on
    their vertices, on their edges (float midpoints, interpolations) and a few ulps off."""
    cx, cy = draw(st.sampled_from([(117.9, 34.3), (127.999, 31.999), (0.0004, 0.0003),
                                   (120.0, 32.0)]))
    size = draw(st.sampled_from([1e-4, 3e-3, 5e-2]))
    n = draw(st.integers(3, 9))
    gaps = draw(st.lists(st.floats(0.2, 1.0), min_size=n, max_size=n))
    angles = np.cumsum(gaps) / sum(gaps) * 2 * math.pi + draw(st.floats(0, 1))
    radii = np.array(draw(st.lists(st.floats(0.3, 1.0), min_size=n, max_size=n)))
    ring = np.stack([cx + size * radii * np.cos(angles), cy + size * radii * np.sin(angles)], 1)
    star = Polygon(ring)
    v0, v1 = ring[0], ring[1]
    normal = np.array([v1[1] - v0[1], v0[0] - v1[0]])
    outward = 1.0 if star.exterior.is_ccw else -1.0
    apex = (v0 + v1) / 2 + outward * normal * draw(st.floats(0.2, 1.5))
    triangle = Polygon([v1, v0, apex])

    coords = np.concatenate([ring, [apex]])
    edges = [(ring[i], ring[(i + 1) % n]) for i in range(n)] + [(v1, apex), (apex, v0)]
    points = [coords, np.array([(p + q) / 2 for p, q in edges])]
    for p, q in edges:
        t = draw(st.floats(0, 1))
        on = p + (q - p) * t
        dx, dy = draw(st.integers(-2, 2)), draw(st.integers(-2, 2))
        off = on.copy()
        for axis, steps in ((0, dx), (1, dy)):
            for _ in range(abs(steps)):
                off[axis] = np.nextafter(off[axis], math.copysign(math.inf, steps))
        points.append(np.array([on, off]))
    points = np.concatenate(points)
    return star, triangle, points


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(case=polygon_pair_and_points())
def test_covering_agrees_with_postgis_on_vertices_and_edges(pg, case):
    star, triangle, points = case
    codes = ["320382102002", "320382102001"]  # the triangle's code is the smaller one
    expected = [row[0] for row in pg.execute(text(
        """WITH g(code, geom) AS (VALUES
               (:c1, ST_Multi(ST_GeomFromWKB(:w1, 4490))),
               (:c2, ST_Multi(ST_GeomFromWKB(:w2, 4490)))),
           p AS (SELECT ord, ST_SetSRID(ST_MakePoint(x, y), 4490) AS geom
                 FROM unnest(CAST(:xs AS float8[]), CAST(:ys AS float8[]))
                      WITH ORDINALITY AS t(x, y, ord))
           SELECT min(g.code COLLATE "C") FROM p LEFT JOIN g ON ST_Covers(g.geom, p.geom)
           GROUP BY p.ord ORDER BY p.ord"""),
        {"c1": codes[0], "w1": shapely.to_wkb(star), "c2": codes[1],
         "w2": shapely.to_wkb(triangle), "xs": points[:, 0].tolist(),
         "ys": points[:, 1].tolist()})]
    ours = GridIndex(codes, [star, triangle]).covering(points[:, 0], points[:, 1])
    assert list(ours) == expected, [
        (repr(x), repr(y), o, e) for (x, y), o, e in zip(points, ours, expected) if o != e]


def test_point_beside_a_long_east_west_border_is_inside_its_geodesic_edge(pg):
    """A great circle bulges poleward of the straight lon/lat line: 20 km along 34.3°N it
    passes ~4 m north of it. A point 2 m north of the planar border is outside every grid
    for ST_Covers, but at distance 0 on the geography: snapped at 0 m, like PostGIS."""
    south = box(117.8, 34.25, 118.0, 34.3)
    north = box(117.8, 34.3 + 3e-4, 118.0, 34.35)  # a 33 m gap between the two grids
    codes = ["320382101003", "320382101002"]
    x = np.array([117.9, 117.9, 117.9, 117.8005])
    y = np.array([34.3 + 2 / 111_000, 34.3 + 20 / 111_000, 34.3 - 1e-9, 34.3 + 2 / 111_000])
    load_grids(pg, "pip_bulge", codes, [south, north])
    load_points(pg, "pip_bulge_points", x, y)
    theirs = postgis_place(pg, "pip_bulge", "pip_bulge_points", len(x), TOLERANCE_M)
    ours = GridIndex(codes, [south, north]).place(x, y, tolerance_m=TOLERANCE_M)
    assert theirs[1][0] == "snapped" and theirs[2][0] == 0.0, "the premise of this test"
    assert list(ours[0]) == list(theirs[0]) and list(ours[1]) == list(theirs[1])
    assert np.allclose(ours[2], theirs[2], atol=1e-6, rtol=0), (ours[2], theirs[2])


def test_from_postgis_loads_the_leaf_grids_of_one_set(pg):
    # A TEMP table named grid shadows the real one for this transaction only.
    pg.execute(text("CREATE TEMP TABLE grid (set_id integer, code varchar(20), is_leaf boolean,"
                    " district_code varchar(6), geom geometry(MultiPolygon, 4490))"))
    rows = [
        (7, "320382102001", True, "320382", box(117.90, 34.30, 117.91, 34.31)),
        (7, "320382102002", True, "320382", box(117.91, 34.30, 117.92, 34.31)),
        (7, "320382102", False, "320382", box(117.90, 34.30, 117.92, 34.31)),
        (7, "320303001001", True, "320303", box(117.92, 34.30, 117.93, 34.31)),
        (8, "320382102009", True, "320382", box(117.90, 34.30, 117.92, 34.31)),
    ]
    for set_id, code, leaf, district_code, geom in rows:
        pg.execute(text("INSERT INTO grid VALUES (:s, :c, :l, :d,"
                        " ST_Multi(ST_GeomFromWKB(:w, 4490)))"),
                   {"s": set_id, "c": code, "l": leaf, "d": district_code,
                    "w": shapely.to_wkb(geom)})
    x = np.array([117.905, 117.915, 117.925, 117.91])
    y = np.full(4, 34.305)

    whole_set = GridIndex.from_postgis(pg, set_id=7)
    assert list(whole_set.codes) == ["320303001001", "320382102001", "320382102002"]
    assert list(whole_set.covering(x, y)) == ["320382102001", "320382102002", "320303001001",
                                              "320382102001"]
    pizhou = GridIndex.from_postgis(pg, set_id=7, district="320382")
    assert list(pizhou.covering(x, y)) == ["320382102001", "320382102002", None, "320382102001"]
    with pytest.raises(NotFound) as excinfo:
        GridIndex.from_postgis(pg, set_id=99)
    assert "99" in excinfo.value.en and "末级网格" in excinfo.value.zh


# ------------------------------------------------------------------ rules on literal shapes

FOUR = {  # four villages meeting at (117.91, 34.31)
    "320382102004": box(117.90, 34.30, 117.91, 34.31),
    "320382102003": box(117.91, 34.30, 117.92, 34.31),
    "320382102002": box(117.90, 34.31, 117.91, 34.32),
    "32038210200201": box(117.91, 34.31, 117.92, 34.32),  # a micro-grid of ...002
}


def test_border_and_vertex_points_go_to_the_smallest_code():
    index = GridIndex(list(FOUR), list(FOUR.values()))
    x = np.array([117.91, 117.905, 117.915, 117.91, 117.91, 117.915])
    y = np.array([34.31, 34.31, 34.31, 34.305, 34.315, 34.315])
    assert list(index.covering(x, y)) == [
        "320382102002",    # the vertex of all four: a prefix sorts before its extensions
        "320382102002",    # border of ...004 and ...002
        "32038210200201",  # border of ...003 and the micro-grid: string order, not length
        "320382102003",    # border of ...004 and ...003
        "320382102002",    # border of ...002 and its micro-grid
        "32038210200201",  # inside the micro-grid
    ]


def test_a_hole_is_outside_its_grid_and_its_border_is_covered():
    shell = box(117.90, 34.30, 117.92, 34.32)
    hole = box(117.905, 34.305, 117.915, 34.315)
    village = Polygon(shell.exterior.coords, [hole.exterior.coords])
    index = GridIndex(["320382102001"], [village])
    x = np.array([117.91, 117.905, 117.902])
    y = np.array([34.31, 34.31, 34.31])
    assert list(index.covering(x, y)) == [None, "320382102001", "320382102001"]
    # In the hole, 445 m from the hole's border: beyond 50 m, inside 500 m.
    codes, kinds, metres = index.place(x[:1], y[:1])
    assert kinds[0] == "unplaced" and codes[0] is None and np.isnan(metres[0])
    codes, kinds, metres = index.place(x[:1], y[:1], tolerance_m=500)
    assert kinds[0] == "snapped" and codes[0] == "320382102001"
    expected = GEOD.inv(117.905, 34.31, 117.91, 34.31)[2]
    assert abs(metres[0] - expected) < 0.5


def test_place_reports_exact_snapped_and_unplaced_with_geodesic_metres():
    index = GridIndex(list(FOUR), list(FOUR.values()))
    east = 117.92 + 30 / 92_000  # about 30 m east of the district's east edge
    x = np.array([117.905, east, 117.92 + 80 / 92_000, np.nan, 117.905])
    y = np.array([34.305, 34.305, 34.305, 34.305, np.inf])
    codes, kinds, metres = index.place(x, y)
    assert list(kinds) == ["exact", "snapped", "unplaced", "unplaced", "unplaced"]
    assert list(codes) == ["320382102004", "320382102003", None, None, None]
    assert metres[0] == 0.0 and np.isnan(metres[2:]).all()
    assert abs(metres[1] - GEOD.inv(117.92, 34.305, east, 34.305)[2]) < 0.5
    assert 29 < metres[1] < 31
    # Due east of their shared corner two grids are equally near: the smaller code.
    codes, metres = index.nearest_within(np.array([east]), np.array([34.31]), tolerance_m=50)
    assert codes[0] == "32038210200201" and 29 < metres[0] < 31
    # Snapping off: only exact placements.
    assert list(index.place(x, y, tolerance_m=0)[1][:2]) == ["exact", "unplaced"]


def test_shapes_are_kept_and_bad_input_is_refused_in_both_languages():
    index = GridIndex(list(FOUR), list(FOUR.values()))
    grid_x, grid_y = np.meshgrid([117.905, 117.915], [34.305, 34.315, 34.325])
    assert index.covering(grid_x, grid_y).shape == (3, 2)
    with pytest.raises(InvalidInput) as excinfo:
        index.covering(np.zeros(3), np.zeros(2))
    assert "形状" in excinfo.value.zh and "shape" in excinfo.value.en
    with pytest.raises(InvalidInput):
        index.place(np.zeros(1), np.zeros(1), tolerance_m=-1)
    with pytest.raises(InvalidInput):
        GridIndex(["320382102001", "320382102001"], [FOUR["320382102004"]] * 2)
    with pytest.raises(InvalidInput):
        GridIndex([], [])
    with pytest.raises(InvalidGeometry):
        GridIndex(["320382102001"], [Polygon()])
    with pytest.raises(InvalidGeometry):
        GridIndex(["320382102001"], [shapely.Point(117.9, 34.3)])


# ------------------------------------------------------------------ saved indexes

def test_a_saved_index_loads_back_and_answers_alike(tmp_path):
    """What ``gridmap assign`` keeps per boundary set: every answer of the loaded index —
    covering, border rule, snapping distances — is the built one's."""
    shell = box(117.90, 34.30, 117.92, 34.32)
    holed = Polygon(shell.exterior.coords, [box(117.905, 34.305, 117.915, 34.315).exterior.coords])
    grids = {"320382102001": holed,
             "320382102002": MultiPolygon([box(117.92, 34.30, 117.93, 34.31), box(117.92, 34.315, 117.93, 34.32)]),
             **{code.replace("102", "103"): shapely.affinity.translate(g, 0, 0.02) for code, g in FOUR.items()}}
    built = GridIndex(list(grids), list(grids.values()))
    built.save(tmp_path / "index.npz")
    loaded = GridIndex.load(tmp_path / "index.npz")
    rng = np.random.default_rng(5)
    x = np.r_[rng.uniform(117.899, 117.931, 20_000), shapely.get_coordinates(list(grids.values()))[:, 0]]
    y = np.r_[rng.uniform(34.299, 34.341, 20_000), shapely.get_coordinates(list(grids.values()))[:, 1]]
    for a, b in zip(built.place(x, y, tolerance_m=200), loaded.place(x, y, tolerance_m=200)):
        assert np.array_equal(a, b) if a.dtype == object else np.array_equal(a, b, equal_nan=True)
    assert repr(loaded) == repr(built) and len(loaded) == len(built)
    assert set(built.place(x, y, tolerance_m=200)[1]) == {"exact", "snapped", "unplaced"}


def test_a_file_that_is_not_a_saved_index_is_refused(tmp_path):
    other = tmp_path / "other.npz"
    np.savez(other, meta=np.array('{"format": -1}'))
    with pytest.raises(ValueError):
        GridIndex.load(other)
    (tmp_path / "broken.npz").write_bytes(b"PK\x03\x04 not a zip")
    with pytest.raises(zipfile.BadZipFile):  # gridmap.spatial.cache rebuilds then
        GridIndex.load(tmp_path / "broken.npz")
