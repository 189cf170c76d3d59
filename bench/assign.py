"""Benchmark: placing 1,000,000 enterprises into ≥ 20,000 villages.

Contenders, on the same polygons and points, each with its index already built:

* ours — :class:`gridmap.spatial.pip.GridIndex.covering` (raster of interior cells, GEOS on
  boundary cells, PostGIS arithmetic next to edges; smallest code wins on borders);
* PostGIS — its best indexed join found: the polygons loop over a GiST index on the points
  (``CROSS JOIN LATERAL … ST_Covers``), and the plain parallel hash/nested join with
  parallel workers forced on; the faster of the two is the peer;
* geopandas — ``sjoin(predicate="covered_by")`` with the spatial index built beforehand.

Agreement is checked point by point against PostGIS (must be 100 %), peak RSS of ours and
of geopandas measured in separate child processes. Usage::

    python bench/assign.py --data /work/bench-data/jiangsu [--record]

``--data`` is a directory written by ``gridmap sample synth`` (villages + enterprises);
it is generated there when missing (``--province 32 --enterprises 1000000``).
"""

from __future__ import annotations

import argparse
import csv
import math
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import shapely

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import append_results, in_child, machine  # noqa: E402

DB = "postgresql://postgres@127.0.0.1:5432/gridmap_bench"
POINTS = 1_000_000


def load_inputs(data: Path):
    import pyogrio

    from gridmap import coords

    layer = next(p for p in (data / "villages.gpkg", data / "villages.geojson") if p.exists())
    meta, _, wkb, fields = pyogrio.raw.read(layer, columns=["code"])
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


def ours(codes, wkb, x, y):
    import shapely

    from gridmap.spatial.pip import GridIndex

    geoms = shapely.from_wkb(wkb)
    started = time.perf_counter()
    index = GridIndex(list(codes), geoms)
    built = time.perf_counter() - started
    started = time.perf_counter()
    result = index.covering(x, y)
    return {"build_s": built, "query_s": time.perf_counter() - started, "codes": result}


def geopandas_sjoin(codes, wkb, x, y):
    import geopandas as gpd
    import shapely

    polygons = gpd.GeoDataFrame({"code": codes}, geometry=shapely.from_wkb(wkb), crs=4490)
    points = gpd.GeoDataFrame(geometry=gpd.points_from_xy(x, y), crs=4490)
    started = time.perf_counter()
    polygons.sindex  # prebuilt index, as the benchmark's terms say
    built = time.perf_counter() - started
    timings = {}
    for predicate in ("intersects", "covered_by"):  # the same answer for points; the faster one counts
        started = time.perf_counter()
        joined = gpd.sjoin(points, polygons, predicate=predicate, how="left")
        # Border rule: the smallest code among the polygons covering a point.
        best = joined.groupby(level=0)["code"].min()
        timings[predicate] = time.perf_counter() - started
    query = min(timings.values())
    return {"build_s": built, "query_s": query, "variants_s": {k: round(v, 2) for k, v in timings.items()},
            "codes": best.reindex(range(len(x))).to_numpy(dtype=object)}


def postgis(codes, geoms, x, y):
    import psycopg
    import shapely

    with psycopg.connect(DB.replace("gridmap_bench", "postgres"), autocommit=True) as admin:
        admin.execute("DROP DATABASE IF EXISTS gridmap_bench WITH (FORCE)")
        admin.execute("CREATE DATABASE gridmap_bench")
    with psycopg.connect(DB, autocommit=True) as conn:
        conn.execute("CREATE EXTENSION postgis")
        conn.execute("CREATE TABLE g (code text, geom geometry(MultiPolygon, 4490))")
        conn.execute("CREATE TABLE p (id integer, geom geometry(Point, 4490))")
        with conn.cursor().copy("COPY g (code, geom) FROM STDIN") as copy:
            for code, geom in zip(codes, geoms):
                copy.write_row((code, "SRID=4490;" + shapely.to_wkt(shapely.multipolygons([geom]) if geom.geom_type == "Polygon" else geom, rounding_precision=-1)))
        with conn.cursor().copy("COPY p (id, geom) FROM STDIN") as copy:
            for i, (px, py) in enumerate(zip(x.tolist(), y.tolist())):
                copy.write_row((i, f"SRID=4490;POINT({px!r} {py!r})"))
        conn.execute("CREATE INDEX ON g USING gist (geom)")
        conn.execute("CREATE INDEX ON p USING gist (geom)")
        conn.execute("VACUUM ANALYZE g")
        conn.execute("VACUUM ANALYZE p")
        conn.execute("SET work_mem = '256MB'")
        results = {}
        # (a) polygons drive, the points' GiST answers each polygon (no parallelism).
        started = time.perf_counter()
        rows = conn.execute(
            """
            SELECT p.id, min(g.code COLLATE "C") FROM g
            CROSS JOIN LATERAL (SELECT p.id FROM p WHERE ST_Covers(g.geom, p.geom) OFFSET 0) p
            GROUP BY p.id
            """).fetchall()
        results["lateral"] = (time.perf_counter() - started, rows)
        # (b) the plain join with parallel workers forced on.
        for setting in ("SET max_parallel_workers_per_gather = 2", "SET parallel_setup_cost = 0",
                        "SET parallel_tuple_cost = 0", "SET min_parallel_table_scan_size = 0",
                        "SET enable_indexscan = off"):
            conn.execute(setting)
        started = time.perf_counter()
        rows = conn.execute(
            """
            SELECT p.id, min(g.code COLLATE "C") FROM p JOIN g ON ST_Covers(g.geom, p.geom) GROUP BY p.id
            """).fetchall()
        results["parallel"] = (time.perf_counter() - started, rows)
    best_name = min(results, key=lambda k: results[k][0])
    seconds, rows = results[best_name]
    answer = np.full(len(x), None, dtype=object)
    for point_id, code in rows:
        answer[point_id] = code
    return {"query_s": seconds, "codes": answer, "variant": best_name,
            "variants_s": {k: round(v[0], 3) for k, v in results.items()}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=Path("/work/bench-data/jiangsu"))
    parser.add_argument("--record", action="store_true", help="append the results to bench/RESULTS.md")
    args = parser.parse_args()
    if not (args.data / "enterprises.csv").exists():
        print(f"generating {args.data} (province 32, 1,000,000 enterprises) …", flush=True)
        subprocess.run([sys.executable, "-m", "gridmap", "sample", "synth", "--province", "32",
                        "--enterprises", "1000000", "--out", str(args.data)], check=True)
    import shapely

    started = time.perf_counter()
    codes, geoms, x, y = load_inputs(args.data)
    print(f"{len(codes):,} villages, {len(x):,} enterprises with coordinates "
          f"(inputs read in {time.perf_counter() - started:.1f} s)", flush=True)
    wkb = shapely.to_wkb(geoms)
    mine, mine_s, mine_rss = in_child(ours, codes, wkb, x, y)
    theirs, theirs_s, theirs_rss = in_child(geopandas_sjoin, codes, wkb, x, y)
    peer = postgis(codes, geoms, x, y)
    n = len(x)
    agree_pg = sum(1 for a, b in zip(mine["codes"], peer["codes"]) if a == b) / n
    agree_gpd = sum(1 for a, b in zip(mine["codes"], theirs["codes"])
                    if a == b or (a is None and (b is None or (isinstance(b, float) and math.isnan(b))))) / n
    rate = lambda s: n / s  # noqa: E731
    lines = [
        "| contender | query s | points/s | index build s | peak RSS |",
        "|---|---|---|---|---|",
        f"| ours (GridIndex.covering) | {mine['query_s']:.2f} | {rate(mine['query_s']):,.0f} | {mine['build_s']:.2f} | {mine_rss / 2**20:.0f} MiB |",
        f"| PostGIS best join ({peer['variant']}; variants {peer['variants_s']}) | {peer['query_s']:.2f} | {rate(peer['query_s']):,.0f} | (GiST prebuilt) | — |",
        f"| geopandas sjoin (sindex prebuilt; {theirs['variants_s']}) | {theirs['query_s']:.2f} | {rate(theirs['query_s']):,.0f} | {theirs['build_s']:.2f} | {theirs_rss / 2**20:.0f} MiB |",
        "",
        f"- ratio vs PostGIS: **{peer['query_s'] / mine['query_s']:.1f}×** (query), "
        f"{peer['query_s'] / (mine['query_s'] + mine['build_s']):.1f}× counting our index build (target ≥ 3×)",
        f"- ratio vs sjoin: **{theirs['query_s'] / mine['query_s']:.1f}×** (query), "
        f"{(theirs['query_s'] + theirs['build_s']) / (mine['query_s'] + mine['build_s']):.1f}× counting both builds (target ≥ 2×)",
        f"- peak RSS ours / sjoin: {mine_rss / theirs_rss:.2f} (target ≤ 1)",
        f"- agreement with PostGIS ST_Covers + smallest code: **{agree_pg:.4%}** (must be 100 %); with sjoin: {agree_gpd:.4%}",
        f"- data: {len(codes):,} villages, {n:,} enterprise points from `{args.data}`",
    ]
    body = "\n".join(lines)
    print(machine())
    print(body)
    if args.record:
        append_results("Bulk placement: 1M enterprises × province (bench/assign.py)",
                       f"python bench/assign.py --data {args.data} --record", body)
    if agree_pg != 1.0:
        sys.exit("agreement with PostGIS is not 100 %")


if __name__ == "__main__":
    main()
