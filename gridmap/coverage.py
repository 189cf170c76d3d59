"""The coverage engine (覆盖检查): where "every place has a grid, every grid has people,
every enterprise has a grid" (横向到边、纵向到底、不留盲区、不漏一企) is broken.

:func:`coverage_report` checks one grid and its whole subtree in one boundary set and
returns a JSON-ready dict. Codes in every list are sorted and every feature carries the
codes it is about, so comparing the report with a list of planted defects is a set
comparison.

Geometry (网格覆盖)
-------------------
Only parents that *have* children are checked (a leaf has nothing to tile it):

``gaps``
    parent minus the union of its children: area of the parent no child covers, one
    GeoJSON polygon per piece, each carrying ``parent_code``;
``overlaps``
    pairwise intersections of siblings whose interiors meet, one feature per pair naming
    both ``codes``; ``area_m2`` is the sum over pairs (area claimed three times counts in
    three pairs);
``outside_parent``
    child minus its parent, one feature per child sticking out.

Per parent: the union of its children (GEOS coverage union when they form a clean
coverage, the general union otherwise), one symmetric difference parent △ union whose
pieces inside the parent are gaps and the others areas outside it (attributed to the
children they come from), and the pairwise overlap search.

Everything is computed **geometrically in the coordinates the grids are stored in**
(planar longitude/latitude, exactly as PostGIS ``geometry`` and GEOS see them), and only
the resulting polygons are measured. Subtracting ellipsoidal area sums (area(parent) −
Σ area(children)) is never done: a child that splits a long straight parent edge with an
extra vertex changes the geodesic area by thousands of m² while not moving the border at
all.

Areas (m²) are exact areas on the CGCS2000 ellipsoid (GRS80) of the region whose edges are
*straight lines in longitude/latitude*, the way the grids were drawn: the ellipsoid's area
element ``M(φ) N(φ) cos φ dλ dφ`` integrated over the polygon with Green's theorem
(:func:`lonlat_area_m2`). PostGIS ``ST_Area(geography)`` and ``pyproj.Geod`` join vertices
by geodesics instead; for village-sized polygons both agree to about 10⁻⁵ (0.1 % for
0.5° edges), but only the lon/lat measure is additive when an edge is split by an extra
vertex, which is what keeps a zero-width sliver at zero m² instead of a geodesic lens of
thousands of m².

Slivers: a gap, overlap or outside piece smaller than ``sliver_tolerance_m2`` (default
1 m²) is not reported; slivers are counted separately (``slivers``: pieces of parent −
union, of union − parent and of sibling intersections). A tessellation that
is exact in its own coordinates reports zero gaps and overlaps. For speed, the pairwise
overlap search (STRtree candidates, then interiors-intersect test) is skipped for a
parent when the children's planar areas add up to the planar area of their union within
10⁻¹² (floating-point noise of the sums) and within half the tolerance: no overlap, not
even a sliver, is possible then.

Staffing (网格力量)
-------------------
The platform's definitions:

* ``no_first_responsible``: grids of the subtree, at every level, without any person in
  role ``first_responsible`` (第一责任人) at their own code.
* ``villages_understaffed``: villages with fewer than ``min_patrol_officers`` distinct
  persons in role ``patrol_officer`` (巡查员) at the village's own code.
* A township's **safety staff** (安全员) = distinct persons with role ``safety_officer``
  at the township's own grid code; **full-time** (专职) = ``person.full_time``;
  **certified** (持执法证) = non-empty ``certificate_no``.
* A township's **population** = its own ``population`` when set, else the sum of its
  villages' populations; its **enterprises** = enterprises whose ``home_code`` starts
  with the township code.
* ``townships_understaffed`` lists townships breaking a rule, each failure with
  ``required`` and ``actual``:

  ``staff_per_population``
      safety staff ≥ ceil(population / ``residents_per_safety_staff``) (default 10,000);
  ``full_time_for_enterprises``
      where enterprises ≥ ``many_enterprises`` (500): full-time safety staff ≥
      ``min_full_time_staff`` (10);
  ``team_1_2_n``
      the "1+2+N" team: part ``director`` — a full-time person with role
      ``direct_responsible`` at the township (when ``require_director``); part
      ``certified_professionals`` — ≥ ``min_certified_professionals`` (2) certified safety
      staff; part ``team_size`` — safety staff ≥ ``min_certified_professionals`` +
      N, N = ``min_other_staff`` (1 unless configured).

Enterprises (不漏一企)
----------------------
Enterprises whose ``home_code`` starts with the report's code: totals by placement and
the lists of ``unplaced``, ``snapped``, ``ambiguous`` and ``conflict`` ones. Unplaced
enterprises carry their district's code as ``home_code``, so a district's report lists
them and a township's does not.

Stale grids
-----------
Grids with no inspection, patrol or hazard activity in ``stale_days`` days, at every
level (a grid is active when anything in its subtree is), each with its latest activity.
:func:`last_activity` is the one extension point: it reads the tables of
:data:`ACTIVITY_TABLES` that exist (``inspection.inspected_on``, ``patrol.at``,
``hazard.updated_at``); while none exists the report says ``stale: {"available": false,
"grids": []}``.

Score (the map colours by it)
-----------------------------
Each grid of the subtree gets ``score = 100 − Σ penalties`` (0-100, see
:data:`SCORE_FORMULA`):

======================  ====  ===================================================================
penalty                 max   rule
======================  ====  ===================================================================
``coverage``            40    20 + 20 · min(1, share / 2 %) when the grid has any reported gap
                              (as parent), overlap (as one of the pair) or outside area (as
                              child); share = those areas / the grid's area
``first_responsible``   20    no first responsible person
``staffing``            20    village: 20 · missing patrol officers / required;
                              township: 8 staff_per_population + 6 full_time_for_enterprises
                              + 6 team_1_2_n (each when broken)
``enterprises``         10    10 · min(1, bad / total / 5 %) over the enterprises whose
                              home_code is in the grid's subtree; bad = unplaced + ambiguous
                              + conflict + ½ snapped
``stale``               10    no activity in ``stale_days`` (only when activity tables exist)
======================  ====  ===================================================================

``status``: ``ok`` when score ≥ 90, ``warning`` when ≥ 70, else ``problem``.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import partial

import numpy as np
import shapely
from shapely.errors import GEOSException
from sqlalchemy import select, text
from sqlalchemy.orm import Session

from gridmap.auth import Scope
from gridmap.boundaries import get_set
from gridmap.codes import normalise_code, validate_code
from gridmap.errors import InvalidGeometry, NotFound
from gridmap.models import PLACEMENTS, Grid
from gridmap.settings import CoverageSettings

__all__ = [
    "SCORE_FORMULA",
    "SCORE_WEIGHTS",
    "STATUS_NAMES",
    "STATUS_THRESHOLDS",
    "GeometryDefects",
    "activity_sources",
    "coverage_report",
    "describe_failure",
    "geometry_defects",
    "last_activity",
    "lonlat_area_m2",
]

# ------------------------------------------------------------------------------ score

#: Maximum penalty of each component; they add up to 100.
SCORE_WEIGHTS = {"coverage": 40, "first_responsible": 20, "staffing": 20, "enterprises": 10,
                 "stale": 10}
#: Township staffing rules' share of the staffing penalty.
TOWNSHIP_RULE_WEIGHTS = {"staff_per_population": 8, "full_time_for_enterprises": 6, "team_1_2_n": 6}
#: Coverage share (of the grid's area) at which the coverage penalty is full.
COVERAGE_FULL_SHARE = 0.02
#: Share of badly placed enterprises at which the enterprise penalty is full.
ENTERPRISE_FULL_SHARE = 0.05
#: Lowest score of each status (else ``problem``).
STATUS_THRESHOLDS = {"ok": 90, "warning": 70}
#: Placements that count against a grid, with their weight.
BAD_PLACEMENTS = {"unplaced": 1.0, "ambiguous": 1.0, "conflict": 1.0, "snapped": 0.5}
#: The "N" of the "1+2+N" team when CoverageSettings has no ``min_other_staff``.
DEFAULT_MIN_OTHER_STAFF = 1

#: What each status is called (zh, en) — the same words on the dashboard (web/i18n.js
#: ``status.*``), in the leader's report and in the CLI.
STATUS_NAMES = {"ok": ("正常", "OK"), "warning": ("预警", "Warning"), "problem": ("问题", "Problem"),
                "unknown": ("未评估", "Not assessed")}
#: A township staffing failure in words, by its ``part`` (zh, en); ``{required}``,
#: ``{actual}`` and ``{missing}`` are filled in. The dashboard has the same texts
#: (web/i18n.js ``part.*``).
FAILURE_TEXTS = {
    "safety_staff": (
        "安全员按常住人口配备不足：应有 {required} 名，实有 {actual} 名，缺 {missing} 名",
        "too few safety staff for the population: {required} required, {actual} in post, {missing} missing"),
    "full_time_safety_staff": (
        "辖区企业数达到专职配备标准，专职安全员不足：应有 {required} 名，实有 {actual} 名，缺 {missing} 名",
        "too few full-time safety staff for the enterprises: {required} required, {actual} in post, {missing} missing"),
    "director": (
        "“1+2+N”队伍缺负责人：没有专职的具体责任人（“1”）",
        "the \"1+2+N\" team has no director: no full-time directly responsible person (the \"1\")"),
    "certified_professionals": (
        "“1+2+N”队伍持执法证专业人员不足：应有 {required} 名，实有 {actual} 名，缺 {missing} 名",
        "the \"1+2+N\" team lacks certified professionals: {required} required, {actual} in post, {missing} missing"),
    "team_size": (
        "“1+2+N”队伍安全员总数不足：应有 {required} 名，实有 {actual} 名，缺 {missing} 名",
        "the \"1+2+N\" team is too small: {required} safety staff required, {actual} in post, {missing} missing"),
}


def describe_failure(failure: dict, lang: str = "zh") -> str:
    """A township staffing failure (an item of ``townships_understaffed[].failures``) as a
    sentence naming what is missing.

    >>> describe_failure({"rule": "team_1_2_n", "part": "director", "required": 1, "actual": 0})
    '“1+2+N”队伍缺负责人：没有专职的具体责任人（“1”）'
    >>> describe_failure({"rule": "staff_per_population", "part": "safety_staff", "required": 7, "actual": 5})
    '安全员按常住人口配备不足：应有 7 名，实有 5 名，缺 2 名'
    """
    zh, en = FAILURE_TEXTS[failure["part"]]
    return (zh if lang == "zh" else en).format(required=failure["required"], actual=failure["actual"],
                                               missing=failure["required"] - failure["actual"])


SCORE_FORMULA = {
    "score": "100 - (coverage + first_responsible + staffing + enterprises + stale), clamped to 0..100",
    "weights": SCORE_WEIGHTS,
    "coverage": "0 without reported gap/overlap/outside area; else 20 + 20 * min(1, share / 0.02), "
                "share = (gap area as parent + overlap area as one of a pair + area outside its "
                "parent) / grid area",
    "first_responsible": "20 when the grid has no person in role first_responsible",
    "staffing": "village: 20 * max(0, required - patrol_officers) / required; township: "
                "8 staff_per_population + 6 full_time_for_enterprises + 6 team_1_2_n (each when broken)",
    "enterprises": "10 * min(1, bad / total / 0.05) over enterprises whose home_code is in the "
                   "grid's subtree; bad = unplaced + ambiguous + conflict + 0.5 * snapped",
    "stale": "10 when activity tables exist and the grid's subtree has no activity in stale_days days",
    "status": "ok >= 90, warning >= 70, else problem",
}

# ------------------------------------------------------------------------ ellipsoid

# CGCS2000's ellipsoid (GRS80).
_A = 6378137.0
_F = 1 / 298.257222101
_E2 = _F * (2 - _F)
_E = math.sqrt(_E2)
_B = _A * (1 - _F)
# Relative difference between Σ planar areas of the children and their union's planar
# area below which it is floating-point noise (exact coverages measure ~1e-15).
_AREA_SUM_NOISE = 1e-12
# 3-point Gauss-Legendre on [0, 1]: exact for quintics; agrees with 8 points to 1e-15 on
# a polygon with 1° edges.
_GL_T = np.array([0.5 - math.sqrt(0.15), 0.5, 0.5 + math.sqrt(0.15)])
_GL_W = np.array([5.0, 8.0, 5.0]) / 18.0


def _zone_primitive(phi: np.ndarray) -> np.ndarray:
    """∫₀^φ M N cos φ dφ: area between the equator and φ per radian of longitude."""
    s = np.sin(phi)
    return _B * _B / 2.0 * (s / (1.0 - _E2 * s * s) + np.arctanh(_E * s) / _E)


def _m2_per_square_degree(lat_deg: np.ndarray | float) -> np.ndarray:
    phi = np.radians(lat_deg)
    w = 1.0 - _E2 * np.sin(phi) ** 2
    return (_A * (1 - _E2) / w**1.5) * (_A / np.sqrt(w)) * np.cos(phi) * (math.pi / 180) ** 2


def lonlat_area_m2(geoms) -> np.ndarray:
    """Ellipsoidal (GRS80) area in m² of lon/lat polygons whose edges are straight in lon/lat.

    The exact area on the CGCS2000 ellipsoid of the region the polygon bounds when its
    edges are read as straight lines in longitude/latitude (as GEOS and PostGIS
    ``geometry`` read them), by Green's theorem on the area element. Unlike a geodesic
    measure it is additive: splitting an edge with a vertex on it changes nothing.

    Parameters
    ----------
    geoms
        A shapely geometry or array of them in EPSG:4490 (lon, lat degrees); non-areal
        parts count as zero.

    Returns
    -------
    numpy.ndarray
        One area per input geometry.

    Examples
    --------
    >>> from shapely import box
    >>> a, b, whole = lonlat_area_m2([box(118.0, 34.0, 118.05, 34.1),
    ...                               box(118.05, 34.0, 118.1, 34.1), box(118.0, 34.0, 118.1, 34.1)])
    >>> round(float(whole) / 1e6, 3), bool(abs(whole - a - b) < 1e-3)
    (102.416, True)
    """
    geoms = np.atleast_1d(np.asarray(geoms, dtype=object))
    if geoms.size == 0:
        return np.zeros(0)
    parts, part_of = shapely.get_parts(geoms, return_index=True)
    polygonal = (shapely.get_type_id(parts) == 3) & ~shapely.is_empty(parts)
    parts, part_of = parts[polygonal], part_of[polygonal]
    if parts.size == 0:
        return np.zeros(len(geoms))
    rings, ring_of = shapely.get_rings(parts, return_index=True)
    exterior = np.r_[True, ring_of[1:] != ring_of[:-1]]
    xy, vertex_of = shapely.get_coordinates(rings, return_index=True)
    lam, phi = np.radians(xy[:, 0]), np.radians(xy[:, 1])
    # Relative to the ring's first latitude: the sum is unchanged (Σ Δλ = 0 on a closed
    # ring) and the terms stay small, so thin slivers keep their digits.
    first = np.r_[True, vertex_of[1:] != vertex_of[:-1]]
    reference = _zone_primitive(phi[first])[vertex_of]
    same_ring = vertex_of[1:] == vertex_of[:-1]
    d_lam = lam[1:] - lam[:-1]
    d_phi = phi[1:] - phi[:-1]
    mean = np.zeros_like(d_lam)
    for t, w in zip(_GL_T, _GL_W):
        mean += w * (_zone_primitive(phi[:-1] + t * d_phi) - reference[:-1])
    terms = np.where(same_ring, -d_lam * mean, 0.0)
    ring_area = np.abs(np.bincount(vertex_of[:-1], weights=terms, minlength=len(rings)))
    signed = np.where(exterior, ring_area, -ring_area)
    part_area = np.bincount(ring_of, weights=signed, minlength=len(parts))
    return np.bincount(part_of, weights=part_area, minlength=len(geoms))


# ------------------------------------------------------------------------- geometry

@dataclass
class GeometryDefects:
    """Gaps, overlaps and children outside their parent, with the slivers left out.

    ``gaps``, ``overlaps`` and ``outside_parent`` are lists of GeoJSON features (sorted
    by codes); ``by_grid`` maps a grid code to its share of reported area per kind
    (``gap`` as parent, ``overlap`` as one of a pair, ``outside_parent`` as child).
    """

    gaps: list[dict] = field(default_factory=list)
    overlaps: list[dict] = field(default_factory=list)
    outside_parent: list[dict] = field(default_factory=list)
    slivers: dict[str, dict[str, float]] = field(default_factory=lambda: {
        kind: {"count": 0, "area_m2": 0.0} for kind in ("gap", "overlap", "outside_parent")})
    by_grid: dict[str, dict[str, float]] = field(default_factory=lambda: defaultdict(dict))
    parents_checked: int = 0
    pairwise_searches: int = 0

    def section(self, kind: str) -> dict:
        features = {"gap": self.gaps, "overlap": self.overlaps, "outside_parent": self.outside_parent}[kind]
        return {"area_m2": _round_area(sum(f["properties"]["area_m2"] for f in features)),
                "count": len(features), "features": features}

    def sliver_summary(self) -> dict:
        return {"count": sum(s["count"] for s in self.slivers.values()),
                "area_m2": _round_area(sum(s["area_m2"] for s in self.slivers.values()), 6),
                "by_kind": {k: {"count": s["count"], "area_m2": _round_area(s["area_m2"], 6)}
                            for k, s in self.slivers.items()}}


def _round_area(value: float, digits: int = 2) -> float:
    return round(float(value), digits)


def _snap_grid(geoms: np.ndarray) -> float:
    """A snap-rounding grid far above float spacing yet ~1 cm on the ground."""
    bounds = shapely.total_bounds(geoms)
    return 1e-12 * max(1.0, float(np.max(np.abs(bounds))))


def _overlay(operation, a, b, *, where: str, grid_size: float | None = None):
    try:
        return operation(a, b, grid_size=grid_size)
    except GEOSException:
        try:
            return operation(shapely.make_valid(a), shapely.make_valid(b), grid_size=grid_size)
        except GEOSException:
            raise InvalidGeometry(f"网格 {where} 的边界无法做叠加计算，请检查几何",
                                  f"the boundaries under grid {where} cannot be overlaid; check "
                                  "their geometry") from None


def _union(geoms: np.ndarray, *, where: str, grid_size: float | None = None):
    try:
        return shapely.union_all(geoms, grid_size=grid_size)
    except GEOSException:
        try:
            return shapely.union_all(shapely.make_valid(geoms), grid_size=grid_size)
        except GEOSException:
            raise InvalidGeometry(f"网格 {where} 的下级边界无法合并，请检查几何",
                                  f"the children of grid {where} cannot be merged; check their "
                                  "geometry") from None


def _children_union(kid_geoms: np.ndarray, planar_total: float, *, where: str):
    """Union of a parent's children.

    GEOS's coverage union (borders matched vertex for vertex, no overlaps: the normal
    case for boundaries edited as one topology) is ten times faster than the general
    union; it is trusted only when the children's planar areas add up to its area, and
    and valid; any other input (overlaps, vertices of one child lying on a neighbour's
    edge) takes the general, robust union.
    """
    if len(kid_geoms) == 1:
        return kid_geoms[0]
    try:
        merged = shapely.coverage_union_all(kid_geoms)
        # Overlapping input comes back as overlapping, invalid parts.
        if (abs(planar_total - float(shapely.area(merged))) <= _AREA_SUM_NOISE * planar_total
                and shapely.is_valid(merged)):
            return merged
    except GEOSException:
        pass
    return _union(kid_geoms, where=where)


def _pieces(geom) -> tuple[np.ndarray, np.ndarray]:
    """Polygon pieces of an overlay result and their areas (m²)."""
    if geom is None or geom.is_empty:
        return np.empty(0, dtype=object), np.zeros(0)
    parts = shapely.get_parts(geom)
    parts = parts[(shapely.get_type_id(parts) == 3) & ~shapely.is_empty(parts)]
    return parts, lonlat_area_m2(parts)


def _measured(compute, tolerance: float, grid: float) -> tuple[np.ndarray, np.ndarray]:
    """Pieces of ``compute(grid_size=None)``; when any is above the tolerance, confirmed with
    snap-rounding (GEOS's floating overlay has been seen to return a whole polygon for
    borders 1e-17° apart); the smaller reported area wins."""
    parts, areas = _pieces(compute(grid_size=None))
    if (areas >= tolerance).any():
        snapped_parts, snapped_areas = _pieces(compute(grid_size=grid))
        if snapped_areas[snapped_areas >= tolerance].sum() < areas[areas >= tolerance].sum():
            return snapped_parts, snapped_areas
    return parts, areas


def _geojson(geom) -> dict:
    rounded = shapely.transform(geom, lambda xy: np.round(xy, 9))
    return shapely.geometry.mapping(rounded)


def _feature(feature_id: str, properties: dict, geom) -> dict:
    return {"type": "Feature", "id": feature_id, "properties": properties, "geometry": _geojson(geom)}


def geometry_defects(codes, parent_codes, geoms, *, sliver_tolerance_m2: float = 1.0) -> GeometryDefects:
    """Gaps, overlaps and outside-parent areas of a set of grids, slivers set apart.

    Pure geometry (no database): the engine behind :func:`coverage_report`, usable on
    grids read from a file.

    Parameters
    ----------
    codes, parent_codes
        Grid codes and their parents' codes (None for a root); a grid is a parent when
        another grid names it, and only parents are checked against their children.
    geoms
        Shapely (Multi)Polygons in EPSG:4490, one per code.
    sliver_tolerance_m2
        Pieces smaller than this are slivers: counted, not reported.

    Returns
    -------
    GeometryDefects

    Examples
    --------
    >>> from shapely import box
    >>> found = geometry_defects(["320382102", "320382102001", "320382102002"],
    ...                          [None, "320382102", "320382102"],
    ...                          [box(118.0, 34.0, 118.1, 34.1), box(118.0, 34.0, 118.05, 34.1),
    ...                           box(118.05, 34.0, 118.1, 34.05)])
    >>> [f["properties"]["parent_code"] for f in found.gaps], len(found.overlaps)
    (['320382102'], 0)
    >>> round(found.gaps[0]["properties"]["area_m2"] / 1e6, 2)
    25.6
    """
    codes = list(codes)
    geoms = np.asarray(list(geoms), dtype=object)
    result = GeometryDefects()
    index = {code: i for i, code in enumerate(codes)}
    children: dict[str, list[int]] = defaultdict(list)
    for i, parent in enumerate(parent_codes):
        if parent is not None and parent in index:
            children[parent].append(i)
    if not children:
        return result
    tolerance = float(sliver_tolerance_m2)
    grid = _snap_grid(geoms)
    planar = shapely.area(geoms)

    def sliver(kind: str, areas: np.ndarray) -> np.ndarray:
        small = areas < tolerance
        result.slivers[kind]["count"] += int(small.sum())
        result.slivers[kind]["area_m2"] += float(areas[small].sum())
        return ~small

    def add(kind: str, code: str, area: float) -> None:
        result.by_grid[code][kind] = result.by_grid[code].get(kind, 0.0) + area

    for parent in sorted(children):
        p = index[parent]
        kids = np.array(sorted(children[parent], key=lambda i: codes[i]))
        parent_geom, kid_geoms = geoms[p], geoms[kids]
        result.parents_checked += 1
        total = float(planar[kids].sum())
        union = _children_union(kid_geoms, total, where=parent)

        # Gaps and outside areas in one overlay: parent △ union of the children. (GEOS's
        # symmetric difference of nearly coincident borders is several times faster
        # than either difference.) Pieces inside the parent are gaps, the others stick
        # out of it.
        def split(grid_size, parent_geom=parent_geom, kid_geoms=kid_geoms, union=union, parent=parent):
            merged = union if grid_size is None else _union(kid_geoms, where=parent, grid_size=grid_size)
            return _overlay(shapely.symmetric_difference, parent_geom, merged, where=parent,
                            grid_size=grid_size)

        parts, areas = _measured(split, tolerance, grid)
        shapely.prepare(parent_geom)
        big = areas >= tolerance
        # Slivers: classified by a point inside them (the kind only feeds the counts).
        small_inside = shapely.contains(parent_geom, shapely.point_on_surface(parts[~big]))
        sliver("gap", areas[~big][small_inside])
        sliver("outside_parent", areas[~big][~small_inside])
        gap_parts, gap_areas, out_parts = [], [], []
        for piece, area in zip(parts[big], areas[big]):
            if shapely.covers(parent_geom, piece):
                gap_parts.append(piece)
                gap_areas.append(area)
            elif shapely.relate_pattern(piece, parent_geom, "F********"):
                out_parts.append(piece)
            else:  # a gap and an outside piece touching along the parent's border
                for operation, kind in ((shapely.intersection, "gap"), (shapely.difference, "outside_parent")):
                    sub_parts, sub_areas = _pieces(_overlay(operation, piece, parent_geom, where=parent))
                    keep = sliver(kind, sub_areas)
                    if kind == "gap":
                        gap_parts.extend(sub_parts[keep])
                        gap_areas.extend(sub_areas[keep])
                    else:
                        out_parts.extend(sub_parts[keep])
        if gap_parts:
            gap_parts, gap_areas = np.array(gap_parts, dtype=object), np.array(gap_areas)
            centre = shapely.get_coordinates(shapely.point_on_surface(gap_parts))
            order = np.lexsort((centre[:, 1], centre[:, 0], -np.round(gap_areas, 3)))
            for number, k in enumerate(order, start=1):
                result.gaps.append(_feature(f"gap:{parent}:{number}", {
                    "kind": "gap", "parent_code": parent, "area_m2": _round_area(gap_areas[k])},
                    gap_parts[k]))
            add("gap", parent, float(gap_areas.sum()))

        # Outside the parent: attribute the outside pieces to the children they come from.
        if out_parts:
            outside_all = shapely.multipolygons(out_parts)
            shapely.prepare(outside_all)
            uncovered = kids[~shapely.covers(parent_geom, kid_geoms)]
            for k in uncovered[shapely.intersects(outside_all, geoms[uncovered])]:
                outside = partial(_overlay, shapely.difference, geoms[k], parent_geom, where=parent)
                child_parts, child_areas = _measured(outside, tolerance, grid)
                # Pieces above the tolerance, and the child's share of a piece above it.
                keep = (child_areas >= tolerance) | shapely.contains(
                    outside_all, shapely.point_on_surface(child_parts))
                if keep.any():
                    area = float(child_areas[keep].sum())
                    result.outside_parent.append(_feature(f"outside_parent:{codes[k]}", {
                        "kind": "outside_parent", "code": codes[k], "parent_code": parent,
                        "area_m2": _round_area(area)}, shapely.multipolygons(child_parts[keep])))
                    add("outside_parent", codes[k], area)
        shapely.destroy_prepared(parent_geom)

        # Overlaps: only when the children's planar areas exceed their union's.
        if len(kids) < 2:
            continue
        excess = total - float(shapely.area(union))
        miny, maxy = shapely.bounds(parent_geom)[[1, 3]]
        closest_to_equator = 0.0 if miny <= 0.0 <= maxy else min(abs(miny), abs(maxy))
        tolerance_deg2 = tolerance / float(_m2_per_square_degree(closest_to_equator))
        if excess <= min(_AREA_SUM_NOISE * total, 0.5 * tolerance_deg2):
            continue
        result.pairwise_searches += 1
        tree = shapely.STRtree(kid_geoms)
        left, right = tree.query(kid_geoms, predicate="intersects")
        upper = left < right
        left, right = left[upper], right[upper]
        interiors_meet = shapely.relate_pattern(kid_geoms[left], kid_geoms[right], "T********")
        for a, b in sorted(zip(left[interiors_meet].tolist(), right[interiors_meet].tolist()),
                           key=lambda ab: (codes[kids[ab[0]]], codes[kids[ab[1]]])):
            code_a, code_b = sorted((codes[kids[a]], codes[kids[b]]))

            overlap = partial(_overlay, shapely.intersection, kid_geoms[a], kid_geoms[b], where=parent)
            parts, areas = _measured(overlap, tolerance, grid)
            keep = sliver("overlap", areas)
            if keep.any():
                area = float(areas[keep].sum())
                result.overlaps.append(_feature(f"overlap:{code_a}:{code_b}", {
                    "kind": "overlap", "parent_code": parent, "codes": [code_a, code_b],
                    "area_m2": _round_area(area)}, shapely.multipolygons(parts[keep])))
                add("overlap", code_a, area)
                add("overlap", code_b, area)
    # Parents were visited in code order, children and pairs in code order within them.
    return result


# -------------------------------------------------------------------- stale (activity)

#: EXTENSION POINT (stale grids). Tables whose rows are activity in a grid, each with the
#: timestamp columns to read, best first (the first one present is used). Identifiers
#: are only ever taken from here. A table counts once it exists with a ``grid_code`` and
#: one of its timestamp columns; the report switches to ``stale.available = true`` by
#: itself. ``hazard_event`` (no grid_code of its own) is covered through
#: ``hazard.updated_at``, which every step of the closed loop touches.
ACTIVITY_TABLES: dict[str, tuple[str, ...]] = {
    "inspection": ("inspected_on", "inspected_at", "created_at"),
    "patrol": ("at", "patrolled_at", "created_at"),
    "hazard": ("updated_at", "reported_at", "created_at"),
    "hazard_event": ("at", "created_at"),
}


def activity_sources(session: Session) -> list[tuple[str, str]]:
    """The activity tables that exist with a ``grid_code`` and a timestamp column.

    Resolved with ``to_regclass`` (the search path, as the query itself will resolve
    them) rather than ``information_schema``, so another session's temporary table never
    counts. Returns ``(table, timestamp column)`` pairs taken from
    :data:`ACTIVITY_TABLES`.
    """
    wanted = sorted({c for columns in ACTIVITY_TABLES.values() for c in columns} | {"grid_code"})
    rows = session.execute(text(
        """
        SELECT t.name, array_agg(a.attname::text)
        FROM unnest(CAST(:tables AS text[])) AS t(name)
        JOIN pg_attribute a ON a.attrelid = to_regclass(t.name) AND a.attnum > 0
                           AND NOT a.attisdropped
        WHERE a.attname = ANY(CAST(:columns AS text[]))
          AND (a.attname = 'grid_code' OR format_type(a.atttypid, a.atttypmod) LIKE 'timestamp%')
        GROUP BY t.name
        """
    ), {"tables": list(ACTIVITY_TABLES), "columns": wanted}).all()
    found = {name: set(columns) for name, columns in rows}
    sources = []
    for table, time_columns in ACTIVITY_TABLES.items():
        columns = found.get(table, set())
        time_column = next((c for c in time_columns if c in columns), None)
        if "grid_code" in columns and time_column:
            sources.append((table, time_column))
    return sources


def last_activity(session: Session, codes: list[str],
                  sources: list[tuple[str, str]] | None = None) -> dict[str, datetime]:
    """EXTENSION POINT: the latest inspection, patrol or hazard activity per grid code.

    Reads every table of :func:`activity_sources` and returns ``{grid_code: latest}`` for
    the codes with any activity; ``{}`` while none of the tables exists. Naive
    timestamps are taken as UTC.
    """
    sources = activity_sources(session) if sources is None else sources
    latest: dict[str, datetime] = {}
    if not codes:
        return latest
    for table, column in sources:
        # Identifiers come from ACTIVITY_TABLES only, never from input.
        if column not in ACTIVITY_TABLES.get(table, ()):
            raise ValueError(f"not an activity source: {table}.{column}")
        rows = session.execute(text(
            f'SELECT a.grid_code, max(a."{column}") FROM "{table}" a '
            "JOIN unnest(CAST(:codes AS text[])) AS c(code) ON a.grid_code = c.code "
            "GROUP BY a.grid_code"), {"codes": list(codes)}).all()
        for code, when in rows:
            if when is None:
                continue
            if when.tzinfo is None:
                when = when.replace(tzinfo=UTC)
            if code not in latest or when > latest[code]:
                latest[code] = when
    return latest


# -------------------------------------------------------------------- data loading

@dataclass
class _Grid:
    code: str
    name: str
    level: str
    parent_code: str | None
    population: int | None
    area_m2: float


def _load_grids(session: Session, set_id: int, code: str) -> tuple[list[_Grid], np.ndarray]:
    rows = session.execute(
        select(Grid.code, Grid.name, Grid.level, Grid.parent_code, Grid.population, Grid.area_m2,
               Grid.geom.ST_AsBinary())
        .where(Grid.set_id == set_id, Grid.code.startswith(code, autoescape=True))
        .order_by(Grid.code)
    ).all()
    grids = [_Grid(r[0], r[1], r[2], r[3], r[4], float(r[5] or 0.0)) for r in rows]
    geoms = shapely.from_wkb([bytes(r[6]) for r in rows]) if rows else np.empty(0, dtype=object)
    return grids, geoms


_STAFF_ROLES = ("first_responsible", "patrol_officer", "safety_officer", "direct_responsible")


@dataclass
class _Staff:
    persons: int = 0
    full_time: int = 0
    certified: int = 0


def _role_counts(session: Session, code: str) -> dict[tuple[str, str], _Staff]:
    """Distinct persons per (grid code, role) in the subtree: one grouped query."""
    rows = session.execute(text(
        """
        SELECT ra.grid_code, ra.role,
               count(DISTINCT p.id),
               count(DISTINCT p.id) FILTER (WHERE p.full_time),
               count(DISTINCT p.id) FILTER (WHERE btrim(coalesce(p.certificate_no, '')) <> '')
        FROM role_assignment ra JOIN person p ON p.id = ra.person_id
        WHERE ra.grid_code LIKE :prefix AND ra.role = ANY(:roles)
        GROUP BY ra.grid_code, ra.role
        """
    ), {"prefix": code + "%", "roles": list(_STAFF_ROLES)}).all()
    return {(r[0], r[1]): _Staff(int(r[2]), int(r[3]), int(r[4])) for r in rows}


def _enterprise_counts(session: Session, code: str) -> dict[tuple[str, str], int]:
    rows = session.execute(text(
        "SELECT home_code, placement, count(*) FROM enterprise WHERE home_code LIKE :prefix "
        "GROUP BY home_code, placement"), {"prefix": code + "%"}).all()
    return {(r[0], r[1]): int(r[2]) for r in rows}


_LISTED_PLACEMENTS = ("unplaced", "snapped", "ambiguous", "conflict")


def _enterprise_lists(session: Session, code: str) -> dict[str, list[dict]]:
    rows = session.execute(text(
        "SELECT placement, uscc, name, placement_detail, grid_code, home_code FROM enterprise "
        "WHERE home_code LIKE :prefix AND placement = ANY(:kinds) ORDER BY placement, uscc"),
        {"prefix": code + "%", "kinds": list(_LISTED_PLACEMENTS)}).all()
    lists: dict[str, list[dict]] = {kind: [] for kind in _LISTED_PLACEMENTS}
    for placement, uscc, name, detail, grid_code, home_code in rows:
        lists[placement].append({"uscc": uscc, "name": name, "placement_detail": detail or {},
                                 "grid_code": grid_code, "home_code": home_code})
    return lists


# -------------------------------------------------------------------------- staffing

def _township_failures(grid: _Grid, villages: list[_Grid], staff: _Staff, directors: int,
                       enterprises: int, settings: CoverageSettings) -> dict:
    if grid.population is not None:
        population = grid.population
    else:
        known = [v.population for v in villages if v.population is not None]
        population = sum(known) if known else None
    failures = []
    if population is not None and settings.residents_per_safety_staff > 0:
        required = math.ceil(population / settings.residents_per_safety_staff)
        if staff.persons < required:
            failures.append({"rule": "staff_per_population", "part": "safety_staff",
                             "required": required, "actual": staff.persons})
    if enterprises >= settings.many_enterprises and staff.full_time < settings.min_full_time_staff:
        failures.append({"rule": "full_time_for_enterprises", "part": "full_time_safety_staff",
                         "required": settings.min_full_time_staff, "actual": staff.full_time})
    if settings.require_director and directors < 1:
        failures.append({"rule": "team_1_2_n", "part": "director", "required": 1, "actual": directors})
    if staff.certified < settings.min_certified_professionals:
        failures.append({"rule": "team_1_2_n", "part": "certified_professionals",
                         "required": settings.min_certified_professionals, "actual": staff.certified})
    others = getattr(settings, "min_other_staff", DEFAULT_MIN_OTHER_STAFF)
    team = settings.min_certified_professionals + others
    if staff.persons < team:
        failures.append({"rule": "team_1_2_n", "part": "team_size", "required": team,
                         "actual": staff.persons})
    return {
        "code": grid.code, "name": grid.name, "population": population, "enterprises": enterprises,
        "safety_staff": staff.persons, "full_time": staff.full_time, "certified": staff.certified,
        "director": directors >= 1,
        "rules": sorted({f["rule"] for f in failures}), "failures": failures,
    }


# ---------------------------------------------------------------------------- report

def _status(score: float) -> str:
    if score >= STATUS_THRESHOLDS["ok"]:
        return "ok"
    if score >= STATUS_THRESHOLDS["warning"]:
        return "warning"
    return "problem"


def _ancestors(code: str, present: dict[str, _Grid], root: str) -> list[str]:
    """Grids of the subtree whose code is a prefix of ``code`` (itself included)."""
    return [code[:n] for n in range(len(root), len(code) + 1) if code[:n] in present]


def coverage_report(session: Session, code: str, *, set_id: int | None = None,
                    scope: Scope | None = None, settings: CoverageSettings | None = None,
                    now: datetime | None = None) -> dict:
    """The coverage report of grid ``code`` and its whole subtree.

    Parameters
    ----------
    session
        Database session.
    code
        The grid at the top of the report (any level).
    set_id
        Boundary set to read (default: the active one).
    scope
        What the caller may see; a code outside it is answered as not found.
    settings
        Sliver tolerance and staffing standards (default: :class:`CoverageSettings`).
    now
        The report's time (default: now, UTC): ``generated_at`` and the stale cut-off.

    Returns
    -------
    dict
        JSON-ready: ``code``, ``name``, ``level``, ``set_id``, ``generated_at``,
        ``standards``, ``score``/``status`` (of ``code``), ``score_formula``,
        ``summary``, ``gaps``, ``overlaps``, ``outside_parent`` (each ``{area_m2, count,
        features}``), ``slivers``, ``no_first_responsible``, ``villages_understaffed``,
        ``townships_understaffed``, ``enterprises``, ``stale`` and ``grids`` (score,
        status and penalties of every grid), every list sorted by code.

    Raises
    ------
    NotFound
        The grid is outside the scope or not in the set.
    InvalidInput
        ``code`` is not a grid code.
    """
    scope = scope or Scope.everything()
    settings = settings or CoverageSettings()
    now = now or datetime.now(UTC)
    code = normalise_code(code)
    scope.require(code, "网格", "grid")
    code = validate_code(code)
    boundary_set = get_set(session, set_id)
    grids, geoms = _load_grids(session, boundary_set.id, code)
    if not grids or grids[0].code != code:
        raise NotFound(f"网格 {code} 不在边界版本 {boundary_set.id} 中",
                       f"grid {code} is not in boundary set {boundary_set.id}")
    by_code = {g.code: g for g in grids}
    root = by_code[code]

    defects = geometry_defects([g.code for g in grids], [g.parent_code for g in grids], geoms,
                               sliver_tolerance_m2=settings.sliver_tolerance_m2)

    # People.
    staff = _role_counts(session, code)
    no_first = [g.code for g in grids if (g.code, "first_responsible") not in staff]
    villages_short = []
    for g in grids:
        if g.level != "village":
            continue
        patrols = staff.get((g.code, "patrol_officer"), _Staff()).persons
        if patrols < settings.min_patrol_officers:
            villages_short.append({"code": g.code, "name": g.name, "township_code": g.parent_code,
                                   "patrol_officers": patrols, "required": settings.min_patrol_officers})

    # Enterprises, attributed to every grid whose code prefixes their home_code.
    counts = _enterprise_counts(session, code)
    totals = {kind: 0 for kind in PLACEMENTS}
    per_grid_total: dict[str, int] = defaultdict(int)
    per_grid_bad: dict[str, float] = defaultdict(float)
    for (home_code, placement), n in counts.items():
        totals[placement] = totals.get(placement, 0) + n
        for owner in _ancestors(home_code, by_code, code):
            per_grid_total[owner] += n
            per_grid_bad[owner] += n * BAD_PLACEMENTS.get(placement, 0.0)
    lists = _enterprise_lists(session, code)

    villages_of: dict[str, list[_Grid]] = defaultdict(list)
    for g in grids:
        if g.level == "village" and g.parent_code:
            villages_of[g.parent_code].append(g)
    townships = []
    for g in grids:
        if g.level != "township":
            continue
        directors = staff.get((g.code, "direct_responsible"), _Staff()).full_time
        row = _township_failures(g, villages_of[g.code], staff.get((g.code, "safety_officer"), _Staff()),
                                 directors, per_grid_total.get(g.code, 0), settings)
        if row["failures"]:
            townships.append(row)

    # Stale grids: a grid is active when anything in its subtree is.
    sources = activity_sources(session)
    stale_grids: list[dict] = []
    stale_codes: set[str] = set()
    if sources:
        latest: dict[str, datetime] = {}
        for activity_code, when in last_activity(session, [g.code for g in grids], sources).items():
            for owner in _ancestors(activity_code, by_code, code):
                if owner not in latest or when > latest[owner]:
                    latest[owner] = when
        cutoff = now - timedelta(days=settings.stale_days)
        for g in grids:
            when = latest.get(g.code)
            if when is None or when < cutoff:
                stale_codes.add(g.code)
                stale_grids.append({"code": g.code, "name": g.name, "level": g.level,
                                    "last_activity": when.isoformat() if when else None})

    # Scores.
    patrol_short = {v["code"]: v for v in villages_short}
    township_short = {t["code"]: t for t in townships}
    no_first_set = set(no_first)
    scored = []
    for g in grids:
        penalties = dict.fromkeys(SCORE_WEIGHTS, 0.0)
        broken = defects.by_grid.get(g.code)
        if broken:
            share = sum(broken.values()) / g.area_m2 if g.area_m2 > 0 else 1.0
            penalties["coverage"] = 20.0 + 20.0 * min(1.0, share / COVERAGE_FULL_SHARE)
        if g.code in no_first_set:
            penalties["first_responsible"] = float(SCORE_WEIGHTS["first_responsible"])
        if g.code in patrol_short and settings.min_patrol_officers > 0:
            short = settings.min_patrol_officers - patrol_short[g.code]["patrol_officers"]
            penalties["staffing"] = SCORE_WEIGHTS["staffing"] * short / settings.min_patrol_officers
        if g.code in township_short:
            penalties["staffing"] = float(sum(TOWNSHIP_RULE_WEIGHTS[r] for r in township_short[g.code]["rules"]))
        total = per_grid_total.get(g.code, 0)
        if total:
            share = per_grid_bad.get(g.code, 0.0) / total
            penalties["enterprises"] = SCORE_WEIGHTS["enterprises"] * min(1.0, share / ENTERPRISE_FULL_SHARE)
        if g.code in stale_codes:
            penalties["stale"] = float(SCORE_WEIGHTS["stale"])
        score = max(0.0, min(100.0, 100.0 - sum(penalties.values())))
        scored.append({"code": g.code, "name": g.name, "level": g.level, "parent_code": g.parent_code,
                       "score": round(score, 1), "status": _status(round(score, 1)),
                       "penalties": {k: round(v, 1) for k, v in penalties.items()}})
    statuses = {"ok": 0, "warning": 0, "problem": 0}
    for row in scored:
        statuses[row["status"]] += 1

    return {
        "code": root.code,
        "name": root.name,
        "level": root.level,
        "set_id": boundary_set.id,
        "generated_at": now.isoformat(),
        "standards": settings.model_dump(),
        "score": scored[0]["score"],
        "status": scored[0]["status"],
        "score_formula": SCORE_FORMULA,
        "summary": {"grids": len(grids), "parents_checked": defects.parents_checked, **statuses},
        "gaps": defects.section("gap"),
        "overlaps": defects.section("overlap"),
        "outside_parent": defects.section("outside_parent"),
        "slivers": {**defects.sliver_summary(), "tolerance_m2": settings.sliver_tolerance_m2},
        "no_first_responsible": no_first,
        "villages_understaffed": villages_short,
        "townships_understaffed": townships,
        "enterprises": {"total": sum(totals.values()), "by_placement": totals, **lists},
        "stale": {"available": bool(sources), "days": settings.stale_days, "grids": stale_grids},
        "grids": scored,
    }


def store_report(session: Session, report: dict) -> dict:
    """Keep a report's per-grid scores and problem polygons for the map layers.

    ``grid_status`` gets the score and status of every grid of the report; the
    ``coverage_problem`` rows of the report's subtree are replaced by its gaps, overlaps
    and outside-parent pieces. Returns counts.
    """
    import json as _json

    from sqlalchemy import text as _text

    set_id, code = report["set_id"], report["code"]
    session.execute(_text(
        """
        INSERT INTO grid_status (set_id, code, score, status, problems, computed_at)
        SELECT :set_id, g ->> 'code', (g ->> 'score')::float, g ->> 'status', g -> 'penalties', now()
        FROM jsonb_array_elements(CAST(:grids AS jsonb)) AS g
        ON CONFLICT (set_id, code) DO UPDATE SET score = EXCLUDED.score, status = EXCLUDED.status,
            problems = EXCLUDED.problems, computed_at = EXCLUDED.computed_at
        """), {"set_id": set_id, "grids": _json.dumps(report["grids"])})
    session.execute(_text("DELETE FROM coverage_problem WHERE set_id = :s AND parent_code LIKE :p"),
                    {"s": set_id, "p": code + "%"})
    rows = []
    for kind, key in (("gap", "gaps"), ("overlap", "overlaps"), ("outside_parent", "outside_parent")):
        for feature in report[key]["features"]:
            props = feature["properties"]
            codes = props.get("codes") or ([props["code"]] if props.get("code") else [])
            rows.append({"kind": kind, "parent": props["parent_code"], "codes": _json.dumps(codes),
                         "area": props["area_m2"], "geom": _json.dumps(feature["geometry"])})
    if rows:
        session.execute(_text(
            """
            INSERT INTO coverage_problem (set_id, kind, parent_code, codes, area_m2, geom)
            VALUES (:set_id, :kind, :parent, CAST(:codes AS jsonb), :area,
                    ST_Multi(ST_CollectionExtract(ST_SetSRID(ST_GeomFromGeoJSON(:geom), 4490), 3)))
            """), [{**row, "set_id": set_id} for row in rows])
    return {"grids": len(report["grids"]), "problems": len(rows)}
