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

from gridmap.address import (
    AddressMatch,
    Gazetteer,
    GazetteerEntry,
    continues_as_non_place,
    name_variants,
    normalise_address,
)
from gridmap.codes import level_of_code
from gridmap.divisions import province_and_city
from gridmap.models import Grid
from gridmap.spatial.cache import default_cache_dir, grid_index
from gridmap.spatial.pip import search_radius_deg


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
    with raw.cursor() as cur, cur.copy("COPY place_points (idx, geom) FROM STDIN") as copy:
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
        index, _how = grid_index(session, set_id=set_id, cache_dir=default_cache_dir())
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
    todo = [i for i in range(n) if kinds[i] == "unplaced" and math.isfinite(lat[i])]
    if tolerance_m > 0 and todo:
        # A planar prefilter before the exact geodesic test: degrees per metre east-west
        # grow with latitude, so the radius is taken at the todo points' highest latitude
        # (50 m is 7.5e-4° at Mohe, 53.5°N), with room for great-circle edges to bulge.
        deg = 1.5 * float(search_radius_deg(float(np.max(np.abs(lat[todo]))), tolerance_m))
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
            """), {"set_id": set_id, "deg": deg, "tol": tolerance_m, "todo": todo}):
            codes[idx] = code
            kinds[idx] = "snapped"
            distance[idx] = metres
    return codes, kinds, distance


# ----------------------------------------------------------------- addresses

class _NameIndex:
    """Where names of several districts occur in an address, longest match first.

    Holds, for a whole boundary set, the names that tell which districts an address is
    about: every district's written forms, the city above each district, and the
    townships' suffixed forms (邳城镇, 运河街道, 洪泽湖农场 …). A name that lies inside a
    longer name found in the same address is not a mention of its own: "连云" in
    "连云港市", "射阳" in "射阳湖镇", "淮安" in "淮安经济技术开发区", "张家港" in
    "张家港宿豫工业园", "滨海" in "滨海新区". Nor is a bare name that goes on as a road or
    an estate ("连云路"), as in :class:`gridmap.address.Gazetteer`.
    """

    def __init__(self) -> None:
        self._trie: dict = {}

    def add(self, text: str, kind: str, district: str, *, bare: bool = False) -> None:
        node = self._trie
        for char in text:
            node = node.setdefault(char, {})
        node.setdefault("", set()).add((kind, district, bare))

    def mentions(self, address: str) -> dict[str, set[str]]:
        """Districts named in ``address``, by kind (``district``, ``township``, ``city``)."""
        text = normalise_address(address)[0]
        found = []
        for start in range(len(text)):
            node = self._trie.get(text[start])
            end = start + 1
            while node is not None:
                if "" in node:
                    found.append((start, end, node[""]))
                node = node.get(text[end]) if end < len(text) else None
                end += 1
        starts = {start for start, _, _ in found}
        by_kind: dict[str, set[str]] = defaultdict(set)
        for start, end, owners in found:
            if any(s <= start and end <= e and e - s > end - start for s, e, _ in found):
                continue
            as_non_place = end not in starts and continues_as_non_place(text, end)
            for kind, district, bare in owners:
                if not (bare and as_non_place):
                    by_kind[kind].add(district)
        return by_kind


class GazetteerBook:
    """The address gazetteers of a boundary set: one :class:`Gazetteer` per district,
    built on first use, and a set-wide index of the names that tell districts apart.

    ``GazetteerBook(session, set_id)`` reads the set's grids; :meth:`from_rows` takes the
    same rows from elsewhere (the sample generator checks its addresses against the whole
    region it writes).
    """

    def __init__(self, session: Session, set_id: int) -> None:
        rows = session.execute(
            select(Grid.code, Grid.name, Grid.level, Grid.parent_code, Grid.district_code)
            .where(Grid.set_id == set_id, Grid.level.in_(("district", "township", "direct", "village")))
        ).all()
        self._build(rows)

    @classmethod
    def from_rows(cls, rows) -> GazetteerBook:
        """A book from ``(code, name, level, parent_code, district_code)`` rows."""
        book = cls.__new__(cls)
        book._build(rows)
        return book

    def _build(self, rows) -> None:
        self._entries: dict[str, list[GazetteerEntry]] = defaultdict(list)
        self.names: dict[str, str] = {}
        for code, name, level, parent, district in rows:
            self._entries[district].append(GazetteerEntry(code, name, level, parent))
            self.names[code] = name
        self.districts = sorted(d for d, entries in self._entries.items()
                                if any(e.level == "district" for e in entries))
        self._known = set(self.districts)
        self._gazetteers: dict[str, Gazetteer] = {}
        # Which districts an address can be about: the districts it names, else the
        # districts of the townships it names (suffixed forms of three characters or
        # more: 邳城镇, 运河街道, 张家港宿豫工业园). Matching against every district of a
        # province would cost ~100× more.
        self._index = _NameIndex()
        for district in self.districts:
            for entry in self._entries[district]:
                if entry.level == "district":
                    suffixed = name_variants(entry.name, "district", bare=False)
                    for variant in name_variants(entry.name, "district"):
                        self._index.add(variant, "district", district, bare=variant not in suffixed)
                elif entry.level == "township":
                    for variant in name_variants(entry.name, "township", bare=False):
                        if len(variant) >= 3:
                            self._index.add(variant, "township", district)
            _province, city = province_and_city(district)
            suffixed = name_variants(city, "city", bare=False) if city else set()
            for variant in name_variants(city, "city") if city else ():
                self._index.add(variant, "city", district, bare=variant not in suffixed)

    def gazetteer(self, district: str) -> Gazetteer:
        """The district's gazetteer (built once)."""
        if district not in self._gazetteers:
            province, city = province_and_city(district)
            self._gazetteers[district] = Gazetteer(self._entries[district], province=province, city=city)
        return self._gazetteers[district]

    def forget(self) -> None:
        """Drop the gazetteers built so far (the generator builds a region one district
        at a time and needs only the few its addresses touch)."""
        self._gazetteers.clear()

    def _names_district(self, result: AddressMatch) -> bool:
        variants = name_variants(self.names.get(result.district_code or "", "") or "-", "district")
        return any(text in variants for text in result.matched_text)

    def candidate_districts(self, address: str, hint: str | None = None) -> list[str]:
        """The districts worth matching an address against: the districts it names
        (longest match, see :class:`_NameIndex`); else ``hint`` (the district of the
        record's point); else the districts of the townships it names; else all."""
        mentions = self._index.mentions(address)
        if mentions.get("district"):
            return sorted(mentions["district"])
        if hint in self._known:
            return [hint]
        return sorted(mentions.get("township", ())) or list(self.districts)

    def match(self, address: str, district: str | None = None) -> AddressMatch | None:
        """The best match over the candidate districts; None when none recognises it.

        When several districts recognise something, the one whose name the address gives
        is preferred, then the one whose township it names, then an exact village match;
        a single survivor wins, otherwise every candidate village is listed.
        """
        found = []
        district_only = None
        for code in self.candidate_districts(address, district):
            result = self.gazetteer(code).match(address)
            if result.status != "none":
                found.append(result)
            elif result.district_code and district_only is None:
                district_only = result
        if not found:
            return district_only
        for preferred in (self._names_district, lambda r: r.township_named is not None,
                          lambda r: r.status == "matched"):
            if len(found) == 1:
                break
            found = [r for r in found if preferred(r)] or found
        if len(found) == 1:
            return found[0]
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
