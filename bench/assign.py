"""Benchmark: placing 1,000,000 enterprises into ≥ 20,000 villages, end to end.

One database with gridmap's own schema (migrated with Alembic) holds the synthetic
province's villages in ``grid`` and one million enterprise points in ``enterprise``;
every contender answers "which village covers each enterprise" from there:

* **ours, cold** — :func:`gridmap.assign.locate`, exactly as ``gridmap assign`` runs it:
  the set's checksum, its grids read and the :class:`~gridmap.spatial.pip.GridIndex` built
  and saved to an empty cache while a second thread reads the points from ``enterprise``,
  every point placed (part by part as they arrive) — with 50 m geodesic snapping, which
  the PostGIS queries do not do;
* **ours, warm** — the same with the index saved by the cold run (what every later
  ``gridmap assign`` against the same boundaries does);
* **PostGIS** — each variant measured in the database (``CREATE UNLOGGED TABLE … AS``, no
  rows shipped to a client, JIT off), its indexes built beforehand: the polygons driving
  a GiST probe of the points (``CROSS JOIN LATERAL``), the same over ``ST_Subdivide``d
  polygons (max 8 vertices, own GiST index), the plain join with two parallel workers
  (polygons driving bitmap probes of the points' GiST index), and the subdivided lateral
  with two workers. The fastest is the peer;
* **geopandas** — ``sjoin(predicate="covered_by"|"intersects")`` on in-memory points (no
  database read: in its favour) with the polygons' spatial index built beforehand.

Ours (warm, in memory) run three times, each in a fresh process, and report the median;
each PostGIS variant runs three times and reports its best. Agreement is checked point by point against PostGIS ``ST_Covers`` + smallest code (must be
100 %); peak RSS of ours and of geopandas is measured in separate child processes. The
headline ratios are end to end: ours including the index (built or loaded) and reading
the points, PostGIS including nothing but its query. What ``gridmap assign`` does after
this stage (matching addresses again, writing placements back) is the same whatever
placed the points, and is not timed here. Usage::

    python bench/assign.py --data /work/bench-data/jiangsu [--db URL] [--reuse-db] [--record]

``--data`` is a directory written by ``gridmap sample synth`` (villages + enterprises); it
is generated there when missing or written by an older generator (``--province 32
--enterprises 1000000``). ``--db`` (default ``$GRIDMAP_BENCH_ASSIGN_DB`` or database
``gridmap_bench``) is dropped and created, unless ``--reuse-db`` finds it holding the same
numbers of villages and points.
"""

from __future__ import annotations

import argparse
import csv
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import shapely

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import in_child, publish
from bench.province import ensure_data

DB = os.environ.get("GRIDMAP_BENCH_ASSIGN_DB", "postgresql://postgres@127.0.0.1:5432/gridmap_bench")
POINTS = 1_000_000
#: Runs per contender: ours (warm, in memory) report the median, PostGIS its best.
REPEATS = 3
SET_ID = 1
_PARALLEL = ("SET max_parallel_workers_per_gather = 2", "SET parallel_setup_cost = 0",
             "SET parallel_tuple_cost = 0", "SET min_parallel_table_scan_size = 0",
             "SET min_parallel_index_scan_size = 0")
#: PostGIS variants: (name, settings, query); each becomes CREATE UNLOGGED TABLE r AS <query>,
#: with JIT off (it only adds compile time here). Points probing a polygon index one by one
#: (the plain join's default plan) was tried and is five times slower: PostGIS caches a
#: polygon's edge tree only while the same polygon repeats, so the polygons must drive.
VARIANTS = (
    ("lateral GiST", (), """
        SELECT e.id, min(g.code COLLATE "C") AS code FROM grid g
        CROSS JOIN LATERAL (SELECT e.id FROM enterprise e WHERE ST_Covers(g.geom, e.location) OFFSET 0) e
        WHERE g.set_id = 1 AND g.is_leaf GROUP BY e.id"""),
    ("lateral GiST, subdivided", (), """
        SELECT e.id, min(g.code COLLATE "C") AS code FROM grid_pieces g
        CROSS JOIN LATERAL (SELECT e.id FROM enterprise e WHERE ST_Covers(g.geom, e.location) OFFSET 0) e
        GROUP BY e.id"""),
    ("parallel join, 2 workers", (*_PARALLEL, "SET enable_indexscan = off"), """
        SELECT e.id, min(g.code COLLATE "C") AS code FROM enterprise e
        JOIN grid g ON g.set_id = 1 AND g.is_leaf AND ST_Covers(g.geom, e.location) GROUP BY e.id"""),
    ("parallel lateral GiST, subdivided, 2 workers", _PARALLEL, """
        SELECT e.id, min(g.code COLLATE "C") AS code FROM grid_pieces g
        CROSS JOIN LATERAL (SELECT e.id FROM enterprise e WHERE ST_Covers(g.geom, e.location) OFFSET 0) e
        GROUP BY e.id"""),
)


def load_inputs(data: Path):
    import pyogrio

    from gridmap import coords

    layer = next(p for p in (data / "villages.gpkg", data / "villages.geojson") if p.exists())
    _meta, _, wkb, fields = pyogrio.raw.read(layer, columns=["code"])
    codes = np.array(fields[0], dtype=object)
    geoms = shapely.from_wkb(wkb)
    lon, lat, system = [], [], []
    with (data / "enterprises.csv").open(encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            if row["lon"]:
                lon.append(float(row["lon"]))
                lat.append(float(row["lat"]))
                system.append(row["coord_system"] or "wgs84")
    lon, lat, system = np.array(lon), np.array(lat), np.array(system)
    x, y = lon.copy(), lat.copy()
    for name in ("gcj02", "bd09"):
        mask = system == name
        x[mask], y[mask] = coords.to_cgcs2000(lon[mask], lat[mask], name)
    if len(x) < POINTS:
        # Address-only enterprises have no coordinates: top up to one million points with
        # seeded random points over the province (some fall outside every village).
        rng = np.random.default_rng(2024)
        minx, miny, maxx, maxy = shapely.total_bounds(geoms)
        extra = POINTS - len(x)
        x = np.concatenate([x, rng.uniform(minx, maxx, extra)])
        y = np.concatenate([y, rng.uniform(miny, maxy, extra)])
    return codes, geoms, x[:POINTS], y[:POINTS]


def build_database(url: str, codes, geoms, x, y) -> None:
    """gridmap's schema, the villages as the active set's leaves, the points as enterprises;
    every index built and the tables analysed before anything is timed."""
    import psycopg
    from sqlalchemy.engine import make_url

    from gridmap.dbsetup import migrate

    name = make_url(url).database
    admin = make_url(url).set(database="postgres").render_as_string(hide_password=False)
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("CREATE EXTENSION IF NOT EXISTS postgis")
    migrate(url)
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("INSERT INTO boundary_set (id, name, status) VALUES (%s, 'bench', 'active')", (SET_ID,))
        with conn.cursor().copy("COPY grid (set_id, code, name, level, parent_code, district_code, area_m2, geom)"
                                " FROM STDIN") as copy:
            for code, geom in zip(codes, geoms):
                multi = shapely.multipolygons([geom]) if geom.geom_type == "Polygon" else geom
                copy.write_row((SET_ID, code, code, "village", code[:9], code[:6], 0.0,
                                "SRID=4490;" + shapely.to_wkt(multi, rounding_precision=-1)))
        with conn.cursor().copy("COPY enterprise (id, uscc, name, sector, placement, location) FROM STDIN") as copy:
            for i, (px, py) in enumerate(zip(x.tolist(), y.tolist()), start=1):
                copy.write_row((i, f"9132{i:014d}", f"企业{i}", "other", "unplaced",
                                f"SRID=4490;POINT({px!r} {py!r})"))
        conn.execute("CREATE TABLE grid_pieces AS SELECT code, ST_Subdivide(geom, 8) AS geom FROM grid"
                     " WHERE set_id = 1 AND is_leaf")
        conn.execute("CREATE INDEX ON grid_pieces USING gist (geom)")
        for table in ("grid", "grid_pieces", "enterprise"):
            conn.execute(f"VACUUM ANALYZE {table}")


def _holds(url: str, villages: int, points: int) -> bool:
    import psycopg

    try:
        with psycopg.connect(url) as conn:
            counts = conn.execute("SELECT (SELECT count(*) FROM grid), (SELECT count(*) FROM enterprise)").fetchone()
    except psycopg.Error:
        return False
    return counts == (villages, points)


def ours(url: str, cache_dir: str):
    from sqlalchemy import create_engine, text
    from sqlalchemy.orm import Session

    from gridmap.assign import locate

    engine = create_engine(url)
    with Session(engine) as session:
        session.execute(text("SELECT 1"))  # connected before the clock starts
        started = time.perf_counter()
        result = locate(session, set_id=SET_ID, tolerance_m=50.0, cache_dir=Path(cache_dir))
        seconds = time.perf_counter() - started
    engine.dispose()
    exact = result["kinds"] == "exact"
    codes = np.where(exact, result["codes"], None)
    return {"seconds": seconds, "index": result["index"], "ids": result["ids"], "codes": codes,
            "index_s": result["index_seconds"], "snapped": int((result["kinds"] == "snapped").sum())}


def _median_run(function, *args):
    """``function`` run :data:`REPEATS` times in fresh processes: the median run, the
    largest peak RSS."""
    runs = [in_child(function, *args) for _ in range(REPEATS)]
    runs.sort(key=lambda run: run[0]["seconds"])
    return runs[len(runs) // 2][0], max(run[2] for run in runs)


def ours_in_memory(url: str, cache_dir: str, x, y):
    """The bulk path on points already in memory (what a large import does with the rows of
    its file, and what sjoin is given): the saved index loaded, then every point placed."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.orm import Session

    from gridmap.spatial.cache import grid_index

    engine = create_engine(url)
    with Session(engine) as session:
        session.execute(text("SELECT 1"))
        started = time.perf_counter()
        index, how = grid_index(session, set_id=SET_ID, cache_dir=Path(cache_dir))
        loaded = time.perf_counter() - started
        codes, kinds, _distance = index.place(x, y, tolerance_m=50.0)
        seconds = time.perf_counter() - started
    engine.dispose()
    return {"seconds": seconds, "index": how, "index_s": loaded,
            "codes": np.where(kinds == "exact", codes, None)}


def geopandas_sjoin(codes, wkb, x, y):
    import geopandas as gpd
    import shapely

    polygons = gpd.GeoDataFrame({"code": codes}, geometry=shapely.from_wkb(wkb), crs=4490)
    points = gpd.GeoDataFrame(geometry=gpd.points_from_xy(x, y), crs=4490)
    started = time.perf_counter()
    _ = polygons.sindex  # prebuilt index, as the benchmark's terms say
    built = time.perf_counter() - started
    timings = {}
    for predicate in ("intersects", "covered_by"):  # the same answer for points; the faster one counts
        started = time.perf_counter()
        joined = gpd.sjoin(points, polygons, predicate=predicate, how="left")
        # Border rule: the smallest code among the polygons covering a point.
        best = joined.groupby(level=0)["code"].min()
        timings[predicate] = time.perf_counter() - started
    return {"build_s": built, "query_s": min(timings.values()),
            "variants_s": {k: round(v, 2) for k, v in timings.items()},
            "codes": best.reindex(range(len(x))).to_numpy(dtype=object)}


def postgis(url: str, n: int) -> dict:
    import psycopg

    results = {}
    with psycopg.connect(url, autocommit=True) as conn:
        for name, settings, query in VARIANTS:
            conn.execute("RESET ALL")
            conn.execute("SET work_mem = '256MB'")
            conn.execute("SET jit = off")
            for setting in settings:
                conn.execute(setting)
            conn.execute("DROP TABLE IF EXISTS r")
            plan = "\n".join(row[0] for row in conn.execute("EXPLAIN CREATE UNLOGGED TABLE r AS " + query))
            runs = []
            for _ in range(REPEATS):  # the best run counts: in the peer's favour
                conn.execute("DROP TABLE IF EXISTS r")
                started = time.perf_counter()
                conn.execute("CREATE UNLOGGED TABLE r AS " + query)
                runs.append(time.perf_counter() - started)
            seconds = min(runs)
            answer = np.full(n + 1, None, dtype=object)  # enterprise ids are 1..n
            for enterprise_id, code in conn.execute("SELECT id, code FROM r"):
                answer[enterprise_id] = code
            results[name] = {"seconds": seconds, "codes": answer,
                             "workers": "Workers Planned" in plan}
            print(f"  PostGIS {name}: {seconds:.2f} s{' (parallel workers)' if results[name]['workers'] else ''}",
                  flush=True)
        conn.execute("DROP TABLE IF EXISTS r")
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=Path("/work/bench-data/jiangsu"))
    parser.add_argument("--db", default=DB, help="benchmark database URL (dropped and created)")
    parser.add_argument("--reuse-db", action="store_true",
                        help="keep the database of an earlier run when it holds the same points")
    parser.add_argument("--record", action="store_true", help="append the results to bench/RESULTS.md")
    args = parser.parse_args()
    ensure_data(args.data)

    started = time.perf_counter()
    codes, geoms, x, y = load_inputs(args.data)
    n = len(x)
    print(f"{len(codes):,} villages, {n:,} enterprise points (inputs read in {time.perf_counter() - started:.1f} s)",
          flush=True)
    started = time.perf_counter()
    if not (args.reuse_db and _holds(args.db, len(codes), n)):
        build_database(args.db, codes, geoms, x, y)
    print(f"database {args.db.rsplit('/', 1)[-1]} ready in {time.perf_counter() - started:.0f} s", flush=True)

    with tempfile.TemporaryDirectory(prefix="gridmap-bench-index-") as cache:
        cold, _, cold_rss = in_child(ours, args.db, cache)
        # Each run of ours is a fresh process (as `gridmap assign` is); the median counts.
        warm, warm_rss = _median_run(ours, args.db, cache)
        memory, memory_rss = _median_run(ours_in_memory, args.db, cache, x, y)
    assert (cold["index"], warm["index"], memory["index"]) == ("built", "loaded", "loaded")
    print(f"  ours cold {cold['seconds']:.2f} s, warm {warm['seconds']:.2f} s, "
          f"in memory {memory['seconds']:.2f} s", flush=True)
    theirs, _, theirs_rss = in_child(geopandas_sjoin, codes, shapely.to_wkb(geoms), x, y)
    variants = postgis(args.db, n)
    peer_name = min(variants, key=lambda k: variants[k]["seconds"])
    peer = variants[peer_name]

    # Agreement, point by point (enterprise id i + 1 is point i).
    mine = np.full(n + 1, None, dtype=object)
    mine[warm["ids"]] = warm["codes"]
    assert np.array_equal(cold["ids"], warm["ids"]) and all(a == b for a, b in zip(cold["codes"], warm["codes"]))
    assert all(a == b for a, b in zip(mine[1:], memory["codes"])), "the in-memory run placed differently"
    agree_pg = {name: float(np.mean([a == b for a, b in zip(mine[1:], v["codes"][1:])])) for name, v in variants.items()}
    agree_gpd = float(np.mean([a == b or (a is None and not isinstance(b, str)) for a, b in zip(mine[1:], theirs["codes"])]))

    rate = lambda s: n / s
    lines = [
        "| contender | seconds | points/s | what the time includes | peak RSS |",
        "|---|---|---|---|---|",
        (f"| ours, cold (`gridmap assign`'s spatial stage, index built and saved) | {cold['seconds']:.2f} | "
         f"{rate(cold['seconds']):,.0f} | checksum, grids read, index built and saved (ready after "
         f"{cold['index_s']:.2f} s), the points read and placed incl. 50 m snapping | {cold_rss / 2**20:.0f} MiB |"),
        (f"| ours, warm (index loaded from the cache; median of 3 runs) | {warm['seconds']:.2f} | {rate(warm['seconds']):,.0f} | "
         f"checksum, index loaded (ready after {warm['index_s']:.2f} s), the points read and placed | "
         f"{warm_rss / 2**20:.0f} MiB |"),
    ]
    lines.append(
        f"| ours, bulk path on in-memory points (a large import; the input sjoin gets; median of 3 runs) | {memory['seconds']:.2f} | "
        f"{rate(memory['seconds']):,.0f} | checksum, index loaded (ready after {memory['index_s']:.2f} s), "
        f"the points placed incl. 50 m snapping | {memory_rss / 2**20:.0f} MiB |")
    for name, v in variants.items():
        lines.append(f"| PostGIS {name}{' (peer)' if name == peer_name else ''} (best of 3) | {v['seconds']:.2f} | "
                     f"{rate(v['seconds']):,.0f} | the query in the database (indexes prebuilt"
                     f"{', parallel workers' if v['workers'] else ''}) | — |")
    lines.append(f"| geopandas sjoin ({theirs['variants_s']}) | {theirs['query_s']:.2f} | "
                 f"{rate(theirs['query_s']):,.0f} | the join on in-memory points (sindex prebuilt in "
                 f"{theirs['build_s']:.2f} s) | {theirs_rss / 2**20:.0f} MiB |")
    lines += [
        "",
        (f"- ratio vs PostGIS's best ({peer_name}): **{peer['seconds'] / memory['seconds']:.1f}×** for the bulk "
         f"path with its saved index (target ≥ 3×); `gridmap assign` end to end, which must first read the "
         f"points out of PostgreSQL: **{peer['seconds'] / warm['seconds']:.1f}× warm**, "
         f"**{peer['seconds'] / cold['seconds']:.1f}× cold** (index built)"),
        (f"- ratio vs sjoin: {(theirs['query_s'] + theirs['build_s']) / memory['seconds']:.1f}× in memory, "
         f"{(theirs['query_s'] + theirs['build_s']) / cold['seconds']:.1f}× cold, "
         f"{(theirs['query_s'] + theirs['build_s']) / warm['seconds']:.1f}× warm (target ≥ 2×)"),
        (f"- peak RSS ours / sjoin: {memory_rss / theirs_rss:.2f} in memory, {cold_rss / theirs_rss:.2f} cold, "
         f"{warm_rss / theirs_rss:.2f} warm (target ≤ 1)"),
        ("- agreement with PostGIS ST_Covers + smallest code (ours' exact placements): "
         + ", ".join(f"{name} **{a:.4%}**" for name, a in agree_pg.items())
         + f" (must be 100 %); with sjoin: {agree_gpd:.4%}; ours also snapped {warm['snapped']:,} points within 50 m"),
        f"- data: {len(codes):,} villages, {n:,} enterprise points from `{args.data}`",
    ]
    body = "\n".join(lines)
    publish("Bulk placement: 1M enterprises × province, end to end (bench/assign.py)", body, record=args.record)
    if min(agree_pg.values()) != 1.0:
        sys.exit("agreement with PostGIS is not 100 %")


if __name__ == "__main__":
    main()
