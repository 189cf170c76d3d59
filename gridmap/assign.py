"""``gridmap assign``: re-place every enterprise against the active boundary set.

After new boundaries are activated, every enterprise is placed again with the bulk path
(:class:`gridmap.spatial.pip.GridIndex`: a raster of interior cells, GEOS on boundary
cells, PostGIS's own arithmetic within 1e-9° of an edge — the same grid as PostGIS
``ST_Covers`` for every point, with the same smallest-code border rule and the same
geodesic snapping as :mod:`gridmap.placement`). Addresses are matched again (conflicts,
address-only records). The placement of every enterprise against this set is kept in
``enterprise_placement`` next to its placements against earlier sets (history per
boundary set).

The spatial stage, in the order it runs (what ``bench/assign.py`` times):

1. the set's index is taken from the cache (:mod:`gridmap.spatial.cache`: saved per set
   content, loaded in about 0.1 s) or built (about a second for a province) and saved;
2. meanwhile, on the same connection, a second thread reads the enterprises' points as
   two byte strings per 250,000 ids (:func:`iter_points`, no Python object per row);
3. each part is placed in one vectorised call as soon as it has arrived and the index is
   ready, while the next part is read.
"""

from __future__ import annotations

import json
import math
import queue
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import shapely
from sqlalchemy import text
from sqlalchemy.orm import Session

from gridmap import audit
from gridmap.boundaries import require_active_set
from gridmap.density import refresh_density
from gridmap.placement import ATTRIBUTION_DEG, GazetteerBook, Placement, outside_placement, resolve
from gridmap.spatial.cache import StaleIndex, default_cache_dir, prepare_index

Progress = Callable[[str, int, int], None]
CHUNK = 100_000
#: Ids per statement when placing overlaps reading (:func:`locate`): placing one part while
#: the next is read hides most of the placing; smaller parts cost more statements.
PIPELINE_CHUNK = 250_000
_USE_DEFAULT = Path()

#: The enterprises ``--district`` covers: its own, and those placed nowhere yet.
_DISTRICT = "(e.district_code = %(d)s OR e.home_code LIKE %(p)s OR e.home_code IS NULL)"


#: A point as ST_AsBinary(…, 'NDR') writes it: byte order, type 1, x, y (21 bytes, packed).
_WKB_POINT = np.dtype([("order", "u1"), ("type", "<u4"), ("x", "<f8"), ("y", "<f8")])


def iter_points(connection, *, district: str | None = None, chunk: int = PIPELINE_CHUNK
                ) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Ids and CGCS2000 lon/lat (NaN without a location) of the enterprises, a range of
    ``chunk`` ids at a time, each sorted by id.

    PostgreSQL concatenates each range into two byte strings — the ids, and the points as
    fixed-size WKB (``POINT EMPTY``, whose coordinates are NaN, for an enterprise without a
    location) — that numpy reads in place: no Python object per row, about a third of the
    time of fetching rows.

    Parameters
    ----------
    connection
        A psycopg connection (the session's driver connection: the same transaction).
    district
        Only the enterprises ``gridmap assign --district`` covers.
    """
    where, params = (_DISTRICT, {"d": district, "p": district + "%"}) if district else ("TRUE", {})
    first, last = connection.execute(f"SELECT min(e.id), max(e.id) FROM enterprise e WHERE {where}",
                                     params).fetchone()
    for low in range(first or 0, (last or -1) + 1, chunk):
        id_bytes, wkb_bytes = connection.execute(
            f"""
            SELECT string_agg(int8send(e.id), ''::bytea),
                   string_agg(ST_AsBinary(COALESCE(e.location, 'POINT EMPTY'::geometry), 'NDR'), ''::bytea)
            FROM enterprise e WHERE {where} AND e.id >= %(low)s AND e.id < %(high)s
            """, {**params, "low": low, "high": low + chunk}, binary=True).fetchone()
        if id_bytes is None:
            continue
        points = np.frombuffer(wkb_bytes, dtype=_WKB_POINT)
        if not (points["type"] == 1).all():
            raise ValueError("enterprise.location holds something other than points")
        ids = np.frombuffer(id_bytes, dtype=">i8")
        order = np.argsort(ids, kind="stable")
        yield ids[order].astype(np.int64), points["x"][order].astype(np.float64), points["y"][order].astype(np.float64)


def locate(session: Session, *, set_id: int, district: str | None = None, tolerance_m: float = 50.0,
           cache_dir: Path | None = _USE_DEFAULT, chunk: int = PIPELINE_CHUNK) -> dict:
    """The spatial stage of :func:`assign`: index (cached or built), points, placement.

    The points are read on the session's connection by a second thread, ``chunk`` ids at
    a time, while this one gets the index (loaded from ``cache_dir`` or built from the
    grids read just before) and then places each chunk as it arrives: the database's
    work and ours overlap. ``cache_dir`` None builds every time; by default
    :func:`gridmap.spatial.cache.default_cache_dir`.

    Returns ids, lon, lat, codes, kinds, distance_m (by id), how the index came
    (``index``: ``"loaded"``/``"built"``), ``index_seconds`` (until the index was ready)
    and ``seconds`` (the whole stage).
    """
    import time

    started = time.perf_counter()
    cache_dir = default_cache_dir() if cache_dir is _USE_DEFAULT else cache_dir
    pending = prepare_index(session, set_id=set_id, cache_dir=cache_dir)
    raw = session.connection().connection.driver_connection
    arrived: queue.Queue = queue.Queue()

    def read() -> None:
        try:
            for part in iter_points(raw, district=district, chunk=chunk):
                arrived.put(part)
        except Exception as exc:  # noqa: BLE001 - handed to the placing thread, raised there
            arrived.put(exc)
        finally:
            arrived.put(None)

    def parts() -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray]]:
        while (part := arrived.get()) is not None:
            if isinstance(part, Exception):
                raise part
            yield part

    with ThreadPoolExecutor(max_workers=1) as pool:
        reader = pool.submit(read)
        try:
            index, how = pending.get()
        except StaleIndex:
            index = None
            points = list(parts())  # the connection is free once the reader is done
        ready = time.perf_counter()
        if index is not None:
            placed = [(part, index.place(part[1], part[2], tolerance_m=tolerance_m)) for part in parts()]
        reader.result()
    if index is None:
        index, how = pending.rebuild(session)
        ready = time.perf_counter()
        placed = [(part, index.place(part[1], part[2], tolerance_m=tolerance_m)) for part in points]
    empty = (np.zeros(0, np.int64), np.zeros(0), np.zeros(0), np.zeros(0, object), np.zeros(0, object), np.zeros(0))
    rows = [(*part, *result) for part, result in placed]
    ids, lon, lat, codes, kinds, distance = (np.concatenate(column) for column in zip(empty, *rows))
    return {"ids": ids, "lon": lon, "lat": lat, "codes": codes, "kinds": kinds, "distance_m": distance,
            "index": how, "index_seconds": ready - started, "seconds": time.perf_counter() - started}


def _districts(session: Session, set_id: int):
    rows = session.execute(text("SELECT code, ST_AsBinary(geom) FROM grid WHERE set_id = :s AND level = 'district'"
                                " ORDER BY code"), {"s": set_id}).all()
    codes = [code for code, _ in rows]
    geoms = shapely.from_wkb([bytes(wkb) for _, wkb in rows]) if rows else np.array([])
    return codes, shapely.STRtree(geoms) if len(geoms) else None


def assign(session: Session, *, district: str | None = None, tolerance_m: float = 50.0,
           progress: Progress | None = None, cache_dir: Path | None = _USE_DEFAULT) -> dict:
    """Re-place enterprises (all, or those of one district) against the active set.

    Returns a summary: counts by placement, how many changed grid, how the index came
    (``index``: ``loaded`` from the cache or ``built``) and the seconds per stage.
    """
    import time

    started = time.perf_counter()
    boundary_set = require_active_set(session)
    located = locate(session, set_id=boundary_set.id, district=district, tolerance_m=tolerance_m,
                     cache_dir=cache_dir)
    ids, lon, lat = located["ids"], located["lon"], located["lat"]
    codes, kinds, distance = located["codes"], located["kinds"], located["distance_m"]
    district_codes, district_tree = _districts(session, boundary_set.id)
    book = GazetteerBook(session, boundary_set.id)
    total = len(ids)
    session.execute(text(
        "CREATE TEMP TABLE IF NOT EXISTS assign_stage (id bigint PRIMARY KEY, placement text, grid_code text,"
        " village_code text, township_code text, district_code text, home_code text, detail jsonb) ON COMMIT DROP"))
    session.execute(text("TRUNCATE assign_stage"))
    counts: dict[str, int] = {}
    match_cache: dict[str, object] = {}
    cached = _CachedBook(book, match_cache)
    raw = session.connection().connection.driver_connection
    for lo in range(0, total, CHUNK):
        chunk = slice(lo, lo + CHUNK)
        addresses = dict(session.execute(text("SELECT id, address FROM enterprise WHERE id = ANY(:ids)"),
                                         {"ids": ids[chunk].tolist()}).all())
        results: list[Placement] = []
        for i in range(lo, min(lo + CHUNK, total)):
            address = addresses.get(int(ids[i]))
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
        stage = ("COPY assign_stage (id, placement, grid_code, village_code, township_code, district_code,"
                 " home_code, detail) FROM STDIN")
        with raw.cursor() as cur, cur.copy(stage) as copy:
            for enterprise_id, placed in zip(ids[chunk].tolist(), results):
                counts[placed.placement] = counts.get(placed.placement, 0) + 1
                copy.write_row((enterprise_id, placed.placement, placed.grid_code, placed.village_code,
                                placed.township_code, placed.district_code, placed.home_code,
                                json.dumps(placed.detail, ensure_ascii=False)))
        if progress:
            progress("placing", min(lo + CHUNK, total), total)
    with audit.bulk(session, object_type="enterprise", object_id=None,
                    summary={"operation": "assign", "set_id": boundary_set.id, "district": district,
                             "enterprises": total}) as summary:
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
        progress("density", total, total)
    refresh_density(session, touched)
    session.execute(text("TRUNCATE assign_stage"))
    return {"set_id": boundary_set.id, "enterprises": total, "changed": changed, "by_placement": counts,
            "index": located["index"], "index_seconds": round(located["index_seconds"], 3),
            "locate_seconds": round(located["seconds"], 3),
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
