"""Placing enterprises (and hazards) into bottom-level grids — 不漏一企.

Outcomes (``placement``):

``exact``
    the point (converted to CGCS2000) lies in a bottom-level grid of the boundary set;
``snapped``
    outside every grid but within the snapping tolerance (default 50 m, geodesic) of one:
    the nearest grid;
``address``
    no coordinates; the address names exactly one village (matched against the grid
    gazetteer, :mod:`gridmap.address`);
``ambiguous``
    no coordinates; the address fits several villages (or names only a township): the
    candidates are listed;
``conflict``
    coordinates and an address that names a different township or village than the
    point's grid: the point's grid is kept and both names are recorded;
``unplaced``
    nothing places it (outside every grid beyond the tolerance, or no usable location).

Border rule: a point on a shared border or vertex is covered by several grids; it goes
to the grid with the smallest code (string order). The same rule decides ties between
equally near grids when snapping. The bulk path (:mod:`gridmap.spatial.pip`) implements
the same rules and is tested to agree with this SQL path point for point.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass, field

import numpy as np
from sqlalchemy import select, text
from sqlalchemy.orm import Session

from gridmap.address import AddressMatch, Gazetteer, GazetteerEntry, name_variants
from gridmap.codes import level_of_code
from gridmap.divisions import province_and_city
from gridmap.models import Grid


@dataclass
class Placement:
    """Where one record landed and why."""

    placement: str
    grid_code: str | None = None
    village_code: str | None = None
    township_code: str | None = None
    district_code: str | None = None
    detail: dict = field(default_factory=dict)

    @property
    def home_code(self) -> str | None:
        """The deepest code known: what scope checks compare against."""
        return self.grid_code or self.village_code or self.township_code or self.district_code


def hierarchy(code: str | None) -> dict[str, str | None]:
    """The village, township and district codes above (or equal to) a grid code."""
    level = level_of_code(code) if code else None
    result = {"village_code": None, "township_code": None, "district_code": code[:6] if code else None}
    if level in ("village", "micro"):
        result["village_code"] = code[:12]
    if level in ("township", "village", "micro"):
        result["township_code"] = code[:9]
    return result


# ---------------------------------------------------------------- points (SQL path)

def _load_points(session: Session, lon: np.ndarray, lat: np.ndarray) -> None:
    session.execute(text("CREATE TEMP TABLE IF NOT EXISTS place_points"
                         " (idx integer PRIMARY KEY, geom geometry(Point, 4490)) ON COMMIT DROP"))
    session.execute(text("TRUNCATE place_points"))
    raw = session.connection().connection.driver_connection
    with raw.cursor() as cur:
        with cur.copy("COPY place_points (idx, geom) FROM STDIN") as copy:
            for i, (x, y) in enumerate(zip(lon.tolist(), lat.tolist())):
                if math.isfinite(x) and math.isfinite(y):
                    copy.write_row((i, f"SRID=4490;POINT({x!r} {y!r})"))
    session.execute(text("ANALYZE place_points"))


#: From this many points on, placement uses the bulk index instead of a SQL join.
BULK_THRESHOLD = 20_000


def place_points(session: Session, *, set_id: int, lon, lat, tolerance_m: float = 50.0,
                 bulk_threshold: int = BULK_THRESHOLD) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Bottom-level grid of each CGCS2000 point, in PostGIS.

    Returns ``(codes, kinds, distance_m)``: kinds are ``exact``, ``snapped`` or
    ``unplaced``; NaN coordinates are ``unplaced``.
    """
    lon = np.asarray(lon, dtype=float)
    lat = np.asarray(lat, dtype=float)
    n = len(lon)
    codes = np.full(n, None, dtype=object)
    kinds = np.full(n, "unplaced", dtype=object)
    distance = np.full(n, np.nan)
    if n == 0:
        return codes, kinds, distance
    if n >= bulk_threshold:
        # Many points: the vectorised index gives the same answers (tested point for point)
        # many times faster than the per-point index probes of a SQL join.
        from gridmap.spatial.pip import GridIndex

        index = GridIndex.from_postgis(session, set_id=set_id)
        codes, kinds, distance = index.place(lon, lat, tolerance_m=tolerance_m)
        _load_points(session, lon, lat)  # for the district attribution of unplaced points
        return codes, kinds, distance
    _load_points(session, lon, lat)
    for idx, code in session.execute(text(
        """
        SELECT DISTINCT ON (p.idx) p.idx, g.code
        FROM place_points p
        JOIN grid g ON g.set_id = :set_id AND g.is_leaf AND ST_Covers(g.geom, p.geom)
        ORDER BY p.idx, g.code COLLATE "C"
        """), {"set_id": set_id}):
        codes[idx] = code
        kinds[idx] = "exact"
        distance[idx] = 0.0
    if tolerance_m > 0:
        # Degrees per metre are largest at high latitude; 1e-5 °/m over-covers every point
        # in China before the exact geodesic test.
        for idx, code, metres in session.execute(text(
            """
            SELECT DISTINCT ON (p.idx) p.idx, g.code,
                   ST_Distance(g.geom::geography, p.geom::geography) AS d
            FROM place_points p
            JOIN grid g ON g.set_id = :set_id AND g.is_leaf
                 AND ST_DWithin(g.geom, p.geom, :deg)
                 AND ST_DWithin(g.geom::geography, p.geom::geography, :tol)
            WHERE p.idx = ANY(:todo)
            ORDER BY p.idx, d, g.code COLLATE "C"
            """), {"set_id": set_id, "deg": tolerance_m * 1e-5 * 1.5, "tol": tolerance_m,
                   "todo": [i for i in range(n) if kinds[i] == "unplaced"]}):
            codes[idx] = code
            kinds[idx] = "snapped"
            distance[idx] = metres
    return codes, kinds, distance


# ----------------------------------------------------------------- addresses

class GazetteerBook:
    """One address gazetteer per district of a boundary set (built once, reused)."""

    def __init__(self, session: Session, set_id: int) -> None:
        rows = session.execute(
            select(Grid.code, Grid.name, Grid.level, Grid.parent_code, Grid.district_code)
            .where(Grid.set_id == set_id, Grid.level.in_(("district", "township", "direct", "village")))
        ).all()
        by_district: dict[str, list[GazetteerEntry]] = defaultdict(list)
        self.names: dict[str, str] = {}
        for code, name, level, parent, district in rows:
            by_district[district].append(GazetteerEntry(code, name, level, parent))
            self.names[code] = name
        self.gazetteers: dict[str, Gazetteer] = {}
        for district, entries in sorted(by_district.items()):
            if not any(e.level == "district" for e in entries):
                continue
            province, city = province_and_city(district)
            self.gazetteers[district] = Gazetteer(entries, province=province, city=city)
        # Which districts an address can be about: the districts it names, else the
        # districts of the townships it names (suffixed forms only: 邳城镇, 运河街道).
        # Matching against every district of a province would cost ~100× more.
        self._district_names: list[tuple[str, set[str]]] = []
        self._township_names: dict[str, set[str]] = defaultdict(set)
        for code, name, level, _parent, district in rows:
            if district not in self.gazetteers:
                continue
            if level == "district":
                self._district_names.append((district, name_variants(name, "district")))
            elif level == "township":
                for variant in name_variants(name, "township"):
                    if len(variant) >= 3 and variant.endswith(("镇", "乡", "街道", "农场", "开发区", "园区")):
                        self._township_names[variant].add(district)

    def _names_district(self, result: AddressMatch) -> bool:
        variants = name_variants(self.names.get(result.district_code or "", "") or "-", "district")
        return any(text in variants for text in result.matched_text)

    def candidate_districts(self, address: str, hint: str | None = None) -> list[str]:
        """The districts worth matching an address against (see ``__init__``); ``hint``
        (the district of the record's point) is used when the address names none."""
        named = [d for d, variants in self._district_names if any(v in address for v in variants)]
        if named:
            return named
        if hint in self.gazetteers:
            return [hint]
        townships = sorted({d for variant, districts in self._township_names.items() if variant in address
                            for d in districts})
        return townships or list(self.gazetteers)

    def match(self, address: str, district: str | None = None) -> AddressMatch | None:
        """The best match over the candidate districts; None when none recognises it."""
        found = []
        district_only = None
        for code in self.candidate_districts(address, district):
            gazetteer = self.gazetteers[code]
            result = gazetteer.match(address)
            if result.status != "none":
                found.append(result)
            elif result.district_code and district_only is None:
                district_only = result
        if not found:
            return district_only
        if len(found) == 1:
            return found[0]
        # Several districts recognise something: the one whose name the address gives
        # wins, then a single exact village match; otherwise every candidate is listed.
        for narrowed in ([r for r in found if self._names_district(r)],
                         [r for r in found if r.status == "matched"]):
            if len(narrowed) == 1:
                return narrowed[0]
        candidates = tuple(sorted({c for r in found for c in r.candidates}))
        return AddressMatch("ambiguous", None, None, None, candidates, (), None, None)


def _named(book: GazetteerBook, code: str | None) -> dict | None:
    return {"code": code, "name": book.names.get(code)} if code else None


def resolve(point_code: str | None, kind: str, distance_m: float, address: str | None,
            book: GazetteerBook | None) -> Placement:
    """Combine the point's grid and the address into one :class:`Placement`."""
    match = book.match(address, point_code[:6] if point_code else None) if (address and book) else None
    if point_code is not None:
        placed = Placement(kind, grid_code=point_code, **hierarchy(point_code))
        if kind == "snapped":
            placed.detail["distance_m"] = round(float(distance_m), 2)
        if match is not None and _disagrees(match, placed):
            placed.placement = "conflict"
            placed.detail.update({
                "point_grid": _named(book, placed.village_code or point_code),
                "point_township": _named(book, placed.township_code),
                "address_township": _named(book, match.township_code),
                "address_village": _named(book, match.village_code),
                "address_candidates": list(match.candidates),
            })
        return placed
    if match is None or match.status == "none":
        return Placement("unplaced", district_code=match.district_code if match else None,
                         detail={"reason": "address_not_matched" if address else "no_location"})
    if match.status == "matched":
        placed = Placement("address", grid_code=match.village_code, **hierarchy(match.village_code))
        placed.detail["matched_text"] = list(match.matched_text)
        return placed
    if match.status in ("ambiguous", "township_only"):
        candidates = list(match.candidates)
        if match.status == "township_only" and book is not None:
            prefix = match.township_code or ""
            candidates = sorted(c for c in book.names if c.startswith(prefix) and level_of_code(c) == "village")
            if len(candidates) == 1:
                # A township with a single village (a farm, a development zone): naming
                # the township names the village.
                placed = Placement("address", grid_code=candidates[0], **hierarchy(candidates[0]))
                placed.detail["matched_text"] = list(match.matched_text)
                return placed
        placed = Placement("ambiguous", township_code=match.township_code,
                           district_code=match.district_code or (candidates[0][:6] if candidates else None))
        placed.detail.update({"candidates": [_named(book, c) for c in candidates],
                              "township_named": match.township_named})
        return placed
    return Placement("unplaced", detail={"reason": "address_not_matched"})


def _disagrees(match: AddressMatch, placed: Placement) -> bool:
    if match.village_code and placed.village_code:
        return match.village_code != placed.village_code
    if match.status == "ambiguous" and match.candidates and placed.village_code:
        return placed.village_code not in match.candidates
    if match.township_code and placed.township_code:
        return match.township_code != placed.township_code
    return False


def place_records(session: Session, *, set_id: int, lon, lat, addresses: list[str | None],
                  tolerance_m: float, book: GazetteerBook | None = None,
                  bulk_threshold: int = BULK_THRESHOLD) -> list[Placement]:
    """Place many records (CGCS2000 coordinates, NaN when absent, plus addresses).

    An unplaced record is still attributed to a district when one can be told — the
    nearest district within :data:`ATTRIBUTION_DEG` of its point, or the district its
    address names — so the district's own staff see it in their list of unplaced
    enterprises (不漏一企) while no township does.
    """
    lon = np.asarray(lon, dtype=float)
    lat = np.asarray(lat, dtype=float)
    codes, kinds, distance = place_points(session, set_id=set_id, lon=lon, lat=lat,
                                          tolerance_m=tolerance_m, bulk_threshold=bulk_threshold)
    if book is None and any(addresses):
        book = GazetteerBook(session, set_id)
    outside = [i for i in range(len(lon)) if np.isfinite(lon[i]) and np.isfinite(lat[i]) and codes[i] is None]
    districts = _nearest_districts(session, set_id, outside) if outside else {}
    results = []
    for i, address in enumerate(addresses):
        if i in districts or (codes[i] is None and np.isfinite(lon[i]) and np.isfinite(lat[i])):
            results.append(outside_placement(book, address, lon[i], lat[i], districts.get(i)))
        else:
            results.append(resolve(codes[i], kinds[i], distance[i], address, book))
    return results


#: How far (degrees, about 50 km) an unplaced point may be from a district to be
#: attributed to it.
ATTRIBUTION_DEG = 0.5


def _nearest_districts(session: Session, set_id: int, todo: list[int]) -> dict[int, str]:
    """Nearest district of each listed point of ``place_points`` (same session)."""
    return dict(session.execute(text(
        """
        SELECT DISTINCT ON (p.idx) p.idx, g.code
        FROM place_points p
        JOIN grid g ON g.set_id = :set_id AND g.level = 'district' AND ST_DWithin(g.geom, p.geom, :deg)
        WHERE p.idx = ANY(:todo)
        ORDER BY p.idx, ST_Distance(g.geom, p.geom), g.code
        """), {"set_id": set_id, "deg": ATTRIBUTION_DEG, "todo": todo}).all())


def outside_placement(book, address, lon, lat, district: str | None) -> Placement:
    """A point beyond the tolerance: unplaced, with what the address suggests."""
    placed = Placement("unplaced", district_code=district,
                       detail={"reason": "outside_grids", "point": [round(float(lon), 7), round(float(lat), 7)]})
    if address and book is not None:
        match = book.match(address, district)
        if match is not None and match.village_code:
            placed.detail["address_suggests"] = _named(book, match.village_code)
    return placed
