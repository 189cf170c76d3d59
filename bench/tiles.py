"""Benchmark: vector tiles — ours vs tipg on the same PostGIS tables, and low-zoom aggregation.

(a) The same list of z10-z14 tiles over the synthetic province (villages and enterprises
    tables), requested by 8 concurrent clients on loopback (wrk, 2 threads, 8 connections),
    both servers uncached, one uvicorn worker each: requests/s, median and p95 latency. tipg
    serves the same ``grid`` table (village rows through its property filter, the columns
    named) and the ``enterprise`` table; it is tried on the stored CGCS2000 geometry and on
    our Web Mercator column, and the faster variant is the peer (chosen per comparison).

    Two comparisons per layer, because the overall one is not like for like: below z12 we
    send generalised village polygons and H3 aggregates where tipg sends full polygons and
    every point. ``z10-z14`` is every tile of the list; ``z12-z14`` only the tiles where both
    serve the same thing — full polygons, and raw points (the z12+ enterprise tiles we
    aggregate because they hold over 4,000 points are left out and counted). Ratios are
    printed to three significant digits, never rounded to a target.
(b) Low zoom: z5-z8 enterprise tiles over the 1,000,000 enterprises — our tile (H3
    aggregates) vs a raw-point tile of the same extent (every point through ST_AsMVT), p95.

    python bench/tiles.py [--seconds 20] [--record]
"""

from __future__ import annotations

import argparse
import importlib.util
import math
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from sqlalchemy.engine import make_url

from bench.common import publish, serve
from bench.province import URL, ensure_province_database

WRK_SCRIPT = r"""
local paths = {}
for line in io.lines(os.getenv("TILE_LIST")) do paths[#paths + 1] = line end
local auth = os.getenv("AUTH")
local counter = 0
request = function()
  counter = counter + 1
  local headers = {}
  if auth and auth ~= "" then headers["Authorization"] = auth end
  return wrk.format("GET", paths[(counter % #paths) + 1], headers)
end
done = function(summary, latency, requests)
  io.write(string.format("RESULT rps=%.2f p50=%.3f p95=%.3f p99=%.3f errors=%d non2xx=%d\n",
    summary.requests / (summary.duration / 1e6), latency:percentile(50) / 1000, latency:percentile(95) / 1000,
    latency:percentile(99) / 1000, summary.errors.connect + summary.errors.read + summary.errors.write
    + summary.errors.timeout, summary.errors.status))
end
"""


def tile_of(lon: float, lat: float, z: int) -> tuple[int, int]:
    n = 2 ** z
    x = int((lon + 180) / 360 * n)
    y = int((1 - math.log(math.tan(math.radians(lat)) + 1 / math.cos(math.radians(lat))) / math.pi) / 2 * n)
    return x, y


def tile_list(count: int = 400, seed: int = 1) -> list[tuple[int, int, int]]:
    """z10-z14 tiles over places where the province has villages (seeded)."""
    import psycopg

    with psycopg.connect(URL) as conn:
        points = conn.execute(
            "SELECT ST_X(ST_PointOnSurface(geom)), ST_Y(ST_PointOnSurface(geom)) FROM grid g"
            " JOIN boundary_set s ON s.id = g.set_id AND s.status = 'active' WHERE g.level = 'village'"
            " ORDER BY g.code").fetchall()
    rng = random.Random(seed)
    tiles = []
    for _ in range(count):
        lon, lat = rng.choice(points)
        z = rng.randint(10, 14)
        tiles.append((z, *tile_of(lon, lat, z)))
    return tiles


def wrk(base: str, paths: list[str], seconds: int, auth: str = "") -> dict:
    if not shutil.which("wrk"):
        sys.exit("wrk is missing: `make bench` installs it (apt-get install wrk)")
    with tempfile.TemporaryDirectory() as tmp:
        listing = Path(tmp) / "paths.txt"
        listing.write_text("\n".join(paths) + "\n")
        script = Path(tmp) / "tiles.lua"
        script.write_text(WRK_SCRIPT)
        # Warm-up pass (connection pools, PostgreSQL buffers) for both servers alike.
        env = {**os.environ, "TILE_LIST": str(listing), "AUTH": auth}
        subprocess.run(["wrk", "-t2", "-c8", "-d5s", "-s", str(script), base], env=env, capture_output=True,
                       check=False)
        out = subprocess.run(["wrk", "-t2", "-c8", f"-d{seconds}s", "-s", str(script), base], env=env,
                             capture_output=True, text=True, check=False).stdout
    match = re.search(r"RESULT rps=([\d.]+) p50=([\d.]+) p95=([\d.]+) p99=([\d.]+) errors=(\d+) non2xx=(\d+)", out)
    if match is None:
        sys.exit(f"wrk gave no result for {base} (is the server up?):\n{out[-2000:]}")
    rps, p50, p95, p99, errors, non2xx = match.groups()
    return {"rps": float(rps), "p50_ms": float(p50), "p95_ms": float(p95), "p99_ms": float(p99),
            "errors": int(errors), "non2xx": int(non2xx)}


def token(base: str) -> str:
    import httpx

    response = httpx.post(f"{base}/api/v1/auth/token", data={"username": "bench-admin", "password": "bench-password"})
    return "Bearer " + response.json()["access_token"]


def ensure_bench_user() -> None:
    from sqlalchemy import create_engine, select
    from sqlalchemy.orm import Session

    from gridmap.auth import create_user
    from gridmap.models import User

    engine = create_engine(URL.replace("postgresql://", "postgresql+psycopg://"))
    with Session(engine) as session:
        if not session.scalar(select(User.id).where(User.username == "bench-admin")):
            create_user(session, "bench-admin", role="admin", password="bench-password")
            session.commit()
    engine.dispose()


def low_zoom(seconds_budget: int = 60) -> dict:
    """p95 of our z5-z8 enterprise tiles vs raw-point tiles of the same extent (SQL)."""
    import numpy as np
    import psycopg
    from sqlalchemy import create_engine
    from sqlalchemy.orm import Session

    from gridmap.auth import Scope
    from gridmap.tiles import render_tile

    with psycopg.connect(URL) as conn:
        lon0, lat0, lon1, lat1 = conn.execute(
            "SELECT ST_XMin(e), ST_YMin(e), ST_XMax(e), ST_YMax(e) FROM (SELECT ST_Extent(location) e FROM enterprise) x"
        ).fetchone()
        set_id = conn.execute("SELECT id FROM boundary_set WHERE status = 'active'").fetchone()[0]
    tiles = set()
    for z in range(5, 9):
        x0, y1 = tile_of(lon0, lat0, z)
        x1, y0 = tile_of(lon1, lat1, z)
        tiles |= {(z, x, y) for x in range(x0, x1 + 1) for y in range(y0, y1 + 1)}
    tiles = sorted(tiles)
    engine = create_engine(URL.replace("postgresql://", "postgresql+psycopg://"))
    ours, raw, sizes, raw_sizes, points = [], [], [], [], []
    raw_sql = """
        WITH env AS (SELECT ST_TileEnvelope(%s, %s, %s) AS e)
        SELECT ST_AsMVT(t.*, 'enterprises', 4096, 'g') FROM (
            SELECT e.uscc, e.name, e.sector, e.risk_level, e.placement,
                   ST_AsMVTGeom(e.location_3857, env.e, 4096, 64, true) AS g
            FROM enterprise e, env WHERE e.location_3857 && env.e) t
    """
    with Session(engine) as session, psycopg.connect(URL) as conn:
        # One untimed pass over every tile for both, so both are measured with warm caches.
        for z, x, y in tiles:
            render_tile(session, "enterprises", z, x, y, scope=Scope.everything(), set_id=set_id)
            conn.execute(raw_sql, (z, x, y)).fetchone()
        for z, x, y in tiles:
            started = time.perf_counter()
            data = render_tile(session, "enterprises", z, x, y, scope=Scope.everything(), set_id=set_id)
            ours.append(time.perf_counter() - started)
            sizes.append(len(data))
            started = time.perf_counter()
            blob = conn.execute(raw_sql, (z, x, y)).fetchone()[0]
            raw.append(time.perf_counter() - started)
            raw_sizes.append(len(blob or b""))
            points.append(conn.execute("SELECT count(*) FROM enterprise WHERE location_3857 && ST_TileEnvelope(%s,%s,%s)",
                                       (z, x, y)).fetchone()[0])
    engine.dispose()

    def p95(values: list[float]) -> float:
        return float(np.percentile(values, 95))

    return {"tiles": len(tiles), "ours_p95_ms": p95(ours) * 1000, "raw_p95_ms": p95(raw) * 1000,
            "ours_max_kb": max(sizes) / 1024, "raw_max_kb": max(raw_sizes) / 1024, "max_points_in_a_tile": max(points)}


def like_for_like(tiles: list[tuple[int, int, int]]) -> tuple[list, list, int]:
    """The z12-z14 tiles of the list: for grids all of them (both serve full polygons), for
    enterprises those we serve as raw points (rendered once to see: a tile over 4,000 points
    or 500 KB is aggregated); also how many enterprise tiles were left out."""
    import psycopg
    from sqlalchemy import create_engine
    from sqlalchemy.orm import Session

    from gridmap.auth import Scope
    from gridmap.tiles import RAW_POINTS_FROM_ZOOM, render_tile

    high = [t for t in tiles if t[0] >= RAW_POINTS_FROM_ZOOM]
    with psycopg.connect(URL) as conn:
        set_id = conn.execute("SELECT id FROM boundary_set WHERE status = 'active'").fetchone()[0]
    engine = create_engine(URL.replace("postgresql://", "postgresql+psycopg://"))
    raw = []
    with Session(engine) as session:
        for z, x, y in high:
            data = render_tile(session, "enterprises", z, x, y, scope=Scope.everything(), set_id=set_id)
            if b"enterprises_aggregated" not in data:
                raw.append((z, x, y))
    engine.dispose()
    return high, raw, len(high) - len(raw)


def ratio(value: float, toward: str) -> str:
    """A ratio to three significant digits, cut toward missing its target (``toward`` is
    "down" for a ≥ target, "up" for a ≤ target): 1.996× is printed 1.99×, never 2.0×."""
    digits = 2 - math.floor(math.log10(abs(value))) if value else 2
    scale = 10.0 ** digits
    cut = math.floor(value * scale + 1e-9) if toward == "down" else math.ceil(value * scale - 1e-9)
    return f"{cut / scale:.{max(digits, 0)}f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=20)
    parser.add_argument("--record", action="store_true")
    args = parser.parse_args()
    if importlib.util.find_spec("tipg") is None:
        sys.exit("tipg is missing: `make bench` installs it (pip install -e '.[bench]')")
    ensure_province_database()
    ensure_bench_user()
    tiles = tile_list()
    grid_high, enterprise_high, aggregated = like_for_like(tiles)
    lists = {  # (layer, band) → tiles
        ("grids", "z10-z14"): tiles, ("grids", "z12-z14"): grid_high,
        ("enterprises", "z10-z14"): tiles, ("enterprises", "z12-z14"): enterprise_high,
    }
    base_env = {k: v for k, v in os.environ.items() if not k.startswith(("GRIDMAP_", "TIPG_"))}
    ours_env = {**base_env, "DATABASE_URL": URL, "GRIDMAP_AUTH_SECRET_KEY": "bench-secret-0123456789abcdef"}
    results = {}  # (server, layer, band) → wrk figures
    import psycopg

    with psycopg.connect(URL) as conn:
        set_id = conn.execute("SELECT id FROM boundary_set WHERE status = 'active'").fetchone()[0]
    with serve("api.main:create_app", ours_env) as base:
        auth = token(base)
        for (layer, band), chosen in lists.items():
            query = "?level=village" if layer == "grids" else ""
            results[("ours", layer, band)] = wrk(base, [f"/tiles/{layer}/{z}/{x}/{y}.mvt{query}" for z, x, y in chosen],
                                                 args.seconds, auth)
    tipg_env = {**base_env, "DATABASE_URL": URL, "TIPG_DB_SCHEMAS": '["public"]',
                "TIPG_DB_TABLES": '["public.grid", "public.enterprise"]', "TIPG_CATALOG_TTL": "3600",
                "TIPG_MAX_FEATURES_PER_TILE": "100000", "TIPG_DEBUG": "false"}
    props_grid = "code,name,level,parent_code,population"
    props_ent = "uscc,name,sector,risk_level,placement,grid_code"
    for column, point_column in (("geom", "location"), ("geom_3857", "location_3857")):
        with serve("tipg.main:app", tipg_env) as base:
            for (layer, band), chosen in lists.items():
                if layer == "grids":
                    paths = [f"/collections/public.grid/tiles/WebMercatorQuad/{z}/{x}/{y}?level=village&set_id={set_id}"
                             f"&properties={props_grid}&geom-column={column}" for z, x, y in chosen]
                else:
                    paths = [f"/collections/public.enterprise/tiles/WebMercatorQuad/{z}/{x}/{y}?properties={props_ent}"
                             f"&geom-column={point_column}" for z, x, y in chosen]
                variant = column if layer == "grids" else point_column
                results[(f"tipg ({variant})", layer, band)] = wrk(base, paths, args.seconds)
    low = low_zoom()
    rows = ["| server | layer | tiles | req/s | median ms | p95 ms | p99 ms | errors | non-2xx |",
            "|---|---|---|---|---|---|---|---|---|"]
    for (server, layer, band), r in results.items():
        rows.append(f"| {server} | {layer} | {band} ({len(lists[(layer, band)])}) | {r['rps']:.0f} | {r['p50_ms']:.1f} | "
                    f"{r['p95_ms']:.1f} | {r['p99_ms']:.1f} | {r['errors']} | {r['non2xx']} |")

    notes = {
        ("grids", "z10-z14"): "all tiles; below z12 ours sends generalised polygons (10 m), tipg full ones",
        ("grids", "z12-z14"): "both send full village polygons",
        ("enterprises", "z10-z14"): "all tiles; below z12 ours sends H3 aggregates, tipg every point",
        ("enterprises", "z12-z14"): f"both send raw points ({aggregated} of the {len(grid_high)} z12-z14 tiles "
                                    "left out: over 4,000 points, ours sends aggregates there)",
    }
    lines = []
    for layer, band in lists:
        mine = results[("ours", layer, band)]
        peer = max((r for (server, lay, b), r in results.items() if server != "ours" and lay == layer and b == band),
                   key=lambda r: r["rps"])
        lines.append(f"- {layer}, {band} — {notes[(layer, band)]}: **{ratio(mine['rps'] / peer['rps'], 'down')}×** tipg's "
                     f"requests/s (target ≥ 2×), median **{ratio(mine['p50_ms'] / peer['p50_ms'], 'up')}×** tipg's "
                     "(target ≤ 0.5×)")
    lines.append(f"- low zoom (z5-z8, {low['tiles']} tiles over {low['max_points_in_a_tile']:,} points at most per "
                 f"tile): our aggregated tiles p95 **{low['ours_p95_ms']:.1f} ms** vs raw-point tiles p95 "
                 f"{low['raw_p95_ms']:.1f} ms = **{ratio(low['ours_p95_ms'] / low['raw_p95_ms'], 'up')}×** (target ≤ 0.1×); "
                 f"largest tile ours {low['ours_max_kb']:.0f} KB vs raw {low['raw_max_kb']:.0f} KB (limit 500 KB)")
    lines.append(f"- {len(tiles)} z10-z14 tiles (seeded), wrk -t2 -c8 for {args.seconds} s after a 5 s warm-up per "
                 f"row, each server a single uvicorn worker on the same database `{make_url(URL).database}`; tipg's "
                 "faster geometry column is its figure in each comparison")
    body = "\n".join(rows) + "\n\n" + "\n".join(lines)
    publish("Vector tiles vs tipg, low-zoom aggregation (bench/tiles.py)", body, record=args.record)


if __name__ == "__main__":
    main()
