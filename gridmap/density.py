"""H3 aggregation of enterprises (and hazards) for low-zoom tiles and the density layer.

Each enterprise carries its resolution-9 H3 cell (``h3_r9``); ``enterprise_density``
holds, per resolution 4-9, per cell and per home grid code, how many enterprises there
are and their risk-weighted count — and the same per district (``home_code`` =
district code + ``*``), which is what unscoped and district-wide readers use. Keeping the home grid in the key lets every tile and
layer apply the user's scope on the aggregate itself (a township leader's hexagons count
only their township's enterprises). The table is rebuilt per district after imports,
re-placement and edits (:func:`refresh_density`). Hazards are few and change often, so
they are aggregated on the fly.

Weights: enterprises by risk level major 4, high 3, medium 2, low or unrated 1; open
hazards by grade, general 1, major 3.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable

import h3.api.basic_int as h3
import numpy as np
from sqlalchemy import text
from sqlalchemy.orm import Session

RESOLUTIONS = (4, 5, 6, 7, 8, 9)
#: Suffix of the ``home_code`` of a district's total rows in ``enterprise_density``.
DISTRICT_TOTAL = "*"
RISK_WEIGHTS = {"major": 4, "high": 3, "medium": 2, "low": 1}
HAZARD_WEIGHTS = {"general": 1, "major": 3}


def resolution_for_zoom(zoom: int) -> int:
    """The H3 resolution whose hexagons are a few dozen pixels wide at a web zoom.

    >>> [resolution_for_zoom(z) for z in (4, 7, 9, 11, 13, 15)]
    [4, 5, 6, 7, 8, 9]
    """
    if zoom <= 6:
        return 4
    if zoom <= 7:
        return 5
    if zoom <= 9:
        return 6
    if zoom <= 11:
        return 7
    if zoom <= 13:
        return 8
    return 9


def cells_r9(lon: Iterable[float], lat: Iterable[float]) -> list[int | None]:
    """Resolution-9 cells of CGCS2000 points (treated as WGS84); None for NaN."""
    out: list[int | None] = []
    for x, y in zip(lon, lat):
        if x is None or y is None or not (np.isfinite(x) and np.isfinite(y)):
            out.append(None)
        else:
            out.append(h3.latlng_to_cell(float(y), float(x), 9))
    return out


def ensure_cells(session: Session, cells: dict[int, set[int]]) -> None:
    """Store the hexagon of every (resolution, cell) not stored yet."""
    wanted = [(res, cell) for res, group in cells.items() for cell in group]
    if not wanted:
        return
    known = set(session.execute(text(
        "SELECT res, cell FROM h3_cell WHERE (res, cell) IN (SELECT * FROM unnest(CAST(:r AS smallint[]), CAST(:c AS bigint[])))"),
        {"r": [r for r, _ in wanted], "c": [c for _, c in wanted]}).all())
    missing = [(r, c) for r, c in wanted if (r, c) not in known]
    if not missing:
        return
    raw = session.connection().connection.driver_connection
    with raw.cursor() as cur, cur.copy("COPY h3_cell (res, cell, lon, lat, geom) FROM STDIN") as copy:
        for res, cell in missing:
            lat, lon = h3.cell_to_latlng(cell)
            ring = [(x, y) for y, x in h3.cell_to_boundary(cell)]
            ring.append(ring[0])
            wkt = "POLYGON((" + ",".join(f"{x!r} {y!r}" for x, y in ring) + "))"
            copy.write_row((res, cell, lon, lat, f"SRID=4490;{wkt}"))


def refresh_density(session: Session, districts: Iterable[str] | None = None) -> int:
    """Rebuild ``enterprise_density`` for some districts (all when None); returns rows."""
    params: dict = {}
    where = "h3_r9 IS NOT NULL AND home_code IS NOT NULL"
    if districts is not None:
        params["d"] = sorted(set(districts))
        where += " AND left(home_code, 6) = ANY(:d)"
        session.execute(text("DELETE FROM enterprise_density WHERE district_code = ANY(:d)"), params)
    else:
        session.execute(text("DELETE FROM enterprise_density"))
    rows = session.execute(text(
        f"""
        SELECT h3_r9, home_code, count(*),
               sum(CASE risk_level WHEN 'major' THEN 4 WHEN 'high' THEN 3 WHEN 'medium' THEN 2 ELSE 1 END)
        FROM enterprise WHERE {where} GROUP BY 1, 2
        """), params).all()
    totals: dict[tuple[int, int, str], list[int]] = defaultdict(lambda: [0, 0])
    cells: dict[int, set[int]] = defaultdict(set)
    for cell, home, count, weighted in rows:
        for res in RESOLUTIONS:
            parent = cell if res == 9 else h3.cell_to_parent(cell, res)
            # Per home grid (scoped users filter these by code prefix) and per district
            # (``<district>*``: what an admin or a district-wide user reads — one row per
            # hexagon instead of one per village in it).
            for key in (home, home[:6] + DISTRICT_TOTAL):
                entry = totals[(res, parent, key)]
                entry[0] += count
                entry[1] += weighted
            cells[res].add(parent)
    raw = session.connection().connection.driver_connection
    copy_sql = "COPY enterprise_density (res, cell, home_code, district_code, enterprises, weighted) FROM STDIN"
    with raw.cursor() as cur, cur.copy(copy_sql) as copy:
        for (res, cell, home), (count, weighted) in totals.items():
            copy.write_row((res, cell, home, home[:6], count, weighted))
    ensure_cells(session, cells)
    if len(totals) > 1000:
        session.execute(text("ANALYZE enterprise_density"))
        session.execute(text("ANALYZE h3_cell"))
    return len(totals)


def hazard_cells(lon: float, lat: float) -> list[int]:
    """The cells of a point at resolutions 4..9 (what ``hazard.h3_cells`` holds)."""
    cell = h3.latlng_to_cell(lat, lon, 9)
    return [parent(cell, res) for res in RESOLUTIONS]


def parent(cell: int, res: int) -> int:
    return cell if res == 9 else h3.cell_to_parent(cell, res)
