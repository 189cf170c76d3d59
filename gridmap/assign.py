"""``gridmap assign``: re-place every enterprise against the active boundary set.

After new boundaries are activated, every enterprise is placed again with the bulk path
(:class:`gridmap.spatial.pip.GridIndex`: a raster of interior cells, GEOS on boundary
cells, PostGIS's own arithmetic within 1e-9° of an edge — the same grid as PostGIS
``ST_Covers`` for every point, with the same smallest-code border rule and the same
geodesic snapping as :mod:`gridmap.placement`). Addresses are matched again (conflicts,
address-only records). The placement of every enterprise against this set is kept in
``enterprise_placement`` next to its placements against earlier sets (history per
boundary set).
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable

import numpy as np
import shapely
from sqlalchemy import text
from sqlalchemy.orm import Session

from gridmap import audit
from gridmap.boundaries import require_active_set
from gridmap.density import refresh_density
from gridmap.placement import ATTRIBUTION_DEG, GazetteerBook, Placement, outside_placement, resolve
from gridmap.spatial.pip import GridIndex

Progress = Callable[[str, int, int], None]
CHUNK = 100_000


def _districts(session: Session, set_id: int):
    rows = session.execute(text("SELECT code, ST_AsBinary(geom) FROM grid WHERE set_id = :s AND level = 'district'"
                                " ORDER BY code"), {"s": set_id}).all()
    codes = [code for code, _ in rows]
    geoms = shapely.from_wkb([bytes(wkb) for _, wkb in rows]) if rows else np.array([])
    return codes, shapely.STRtree(geoms) if len(geoms) else None


def assign(session: Session, *, district: str | None = None, tolerance_m: float = 50.0,
           progress: Progress | None = None) -> dict:
    """Re-place enterprises (all, or those of one district) against the active set.

    Returns a summary: counts by placement, how many changed grid, seconds per stage.
    """
    import time

    started = time.perf_counter()
    boundary_set = require_active_set(session)
    index = GridIndex.from_postgis(session, set_id=boundary_set.id)
    built = time.perf_counter()
    district_codes, district_tree = _districts(session, boundary_set.id)
    book = GazetteerBook(session, boundary_set.id)
    where = "TRUE"
    params: dict = {}
    if district:
        where = "(e.district_code = :d OR e.home_code LIKE :p OR e.home_code IS NULL)"
        params = {"d": district, "p": district + "%"}
    total = session.execute(text(f"SELECT count(*) FROM enterprise e WHERE {where}"), params).scalar_one()
    session.execute(text(
        "CREATE TEMP TABLE IF NOT EXISTS assign_stage (id bigint PRIMARY KEY, placement text, grid_code text,"
        " village_code text, township_code text, district_code text, home_code text, detail jsonb) ON COMMIT DROP"))
    session.execute(text("TRUNCATE assign_stage"))
    counts: dict[str, int] = {}
    done = 0
    placed_seconds = 0.0
    match_cache: dict[str, object] = {}
    last_id = 0
    raw = session.connection().connection.driver_connection
    while True:
        rows = session.execute(text(
            f"""
            SELECT e.id, ST_X(e.location), ST_Y(e.location), e.address
            FROM enterprise e WHERE {where} AND e.id > :last ORDER BY e.id LIMIT {CHUNK}
            """), {**params, "last": last_id}).all()
        if not rows:
            break
        last_id = rows[-1][0]
        ids = [r[0] for r in rows]
        lon = np.array([r[1] if r[1] is not None else math.nan for r in rows], dtype=float)
        lat = np.array([r[2] if r[2] is not None else math.nan for r in rows], dtype=float)
        t0 = time.perf_counter()
        codes, kinds, distance = index.place(lon, lat, tolerance_m=tolerance_m)
        placed_seconds += time.perf_counter() - t0
        results: list[Placement] = []
        cached = _CachedBook(book, match_cache)
        for i, row in enumerate(rows):
            address = row[3]
            has_point = not (math.isnan(lon[i]) or math.isnan(lat[i]))
            if has_point and codes[i] is None:
                attributed = None
                if district_tree is not None:
                    point = shapely.Point(lon[i], lat[i])
                    nearest = district_tree.nearest(point)
                    if nearest is not None and shapely.distance(district_tree.geometries[nearest], point) <= ATTRIBUTION_DEG:
                        attributed = district_codes[nearest]
                results.append(outside_placement(cached, address, lon[i], lat[i], attributed))
                continue
            results.append(resolve(codes[i], kinds[i] if has_point else "unplaced",
                                   float(distance[i]) if has_point else math.nan, address, cached))
        with raw.cursor() as cur:
            with cur.copy("COPY assign_stage (id, placement, grid_code, village_code, township_code, district_code,"
                          " home_code, detail) FROM STDIN") as copy:
                for enterprise_id, placed in zip(ids, results):
                    counts[placed.placement] = counts.get(placed.placement, 0) + 1
                    copy.write_row((enterprise_id, placed.placement, placed.grid_code, placed.village_code,
                                    placed.township_code, placed.district_code, placed.home_code,
                                    json.dumps(placed.detail, ensure_ascii=False)))
        done += len(rows)
        if progress:
            progress("placing", done, total)
    with audit.bulk(session, object_type="enterprise", object_id=None,
                    summary={"operation": "assign", "set_id": boundary_set.id, "district": district,
                             "enterprises": done}) as summary:
        touched = set(session.scalars(text(
            "SELECT DISTINCT left(e.home_code, 6) FROM enterprise e JOIN assign_stage s ON s.id = e.id"
            " WHERE e.home_code IS NOT NULL")).all())
        changed = session.execute(text(
            """
            UPDATE enterprise e SET placement = s.placement, grid_code = s.grid_code, village_code = s.village_code,
                   township_code = s.township_code, district_code = s.district_code, home_code = s.home_code,
                   placement_detail = s.detail, placed_set_id = :set_id, updated_at = now()
            FROM assign_stage s
            WHERE s.id = e.id AND (e.placement IS DISTINCT FROM s.placement OR e.grid_code IS DISTINCT FROM s.grid_code
                  OR e.home_code IS DISTINCT FROM s.home_code OR e.placement_detail IS DISTINCT FROM s.detail
                  OR e.placed_set_id IS DISTINCT FROM :set_id)
            """), {"set_id": boundary_set.id}).rowcount
        session.execute(text(
            """
            INSERT INTO enterprise_placement (enterprise_id, set_id, placement, grid_code, district_code, detail)
            SELECT id, :set_id, placement, grid_code, district_code, detail FROM assign_stage
            ON CONFLICT (enterprise_id, set_id) DO UPDATE SET placement = EXCLUDED.placement,
                grid_code = EXCLUDED.grid_code, district_code = EXCLUDED.district_code, detail = EXCLUDED.detail,
                placed_at = now()
            WHERE enterprise_placement.placement IS DISTINCT FROM EXCLUDED.placement
               OR enterprise_placement.grid_code IS DISTINCT FROM EXCLUDED.grid_code
            """), {"set_id": boundary_set.id})
        summary.update(changed=changed, by_placement=counts)
    touched |= set(session.scalars(text("SELECT DISTINCT left(home_code, 6) FROM assign_stage WHERE home_code IS NOT NULL")).all())
    if progress:
        progress("density", done, total)
    refresh_density(session, touched)
    session.execute(text("TRUNCATE assign_stage"))
    return {"set_id": boundary_set.id, "enterprises": done, "changed": changed, "by_placement": counts,
            "index_seconds": round(built - started, 3), "placing_seconds": round(placed_seconds, 3),
            "seconds": round(time.perf_counter() - started, 3)}


class _CachedBook:
    """The gazetteer with a cache by address string (registers repeat addresses)."""

    def __init__(self, book: GazetteerBook, cache: dict) -> None:
        self._book = book
        self._cache = cache
        self.names = book.names

    def match(self, address: str, district: str | None = None):
        key = (address, district)
        if key not in self._cache:
            self._cache[key] = self._book.match(address, district)
        return self._cache[key]
