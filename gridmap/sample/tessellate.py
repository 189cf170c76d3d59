"""Exact partitions of a polygon into regions around seed points (synthetic grids).

No package ships township (街道/镇) or village (社区/村) polygons, so the sample district's
grids are synthetic: Voronoi-like regions around seed points, cut out of a real outline.
The platform's coverage rules ("every point in exactly one grid") are checked against
these polygons, so they must tile their parent **exactly**: no gap, no overlap, and
neighbours that share a border share the very same vertex coordinates along it.

Clipping each Voronoi cell against the outline one by one does not give that: each
clip computes its own intersection points in floating point and neighbours end up with
borders a few ulps apart. :func:`partition` instead builds one planar graph: the cell
edges and the outline's boundary are noded together once, the graph's faces are found
with ``polygonize``, and every region is a union of whole faces. Two regions that meet
do so along edges of the same graph, hence along identical coordinates, and the outline's
own vertices are kept as they are (intersection points are added where cell edges cross
it, which is why a region's border may carry a few more vertices than its parent's).

Nested partitions (villages inside townships) reuse the parent polygon as the outline,
so the children's outer borders are the parent's own vertices. Children of two adjacent
parents each add their own crossing points to the common parent border;
:func:`share_vertices` then inserts each side's points into the other side's border so
that the whole child layer is one valid coverage (``shapely.coverage_is_valid``).

Coordinates are longitude/latitude by default (``geographic=True``): distances and the
Voronoi construction use a locally isotropic plane (x scaled by cos(latitude) about the
outline's centre); only the cell edges pass through that plane, never the outline, so
no outline vertex is ever moved. With ``geographic=False`` the coordinates are planar.

>>> from shapely import box
>>> import numpy as np
>>> square = box(0, 0, 2, 2)
>>> regions = partition(square, np.array([[0.5, 0.5], [1.5, 0.5], [0.5, 1.5], [1.5, 1.5]]),
...                     geographic=False)
>>> [round(r.area, 9) for r in regions]
[1.0, 1.0, 1.0, 1.0]
>>> report = check_partition(square, regions, geographic=False)
>>> report["gap_area"], report["overlap_max_area"], report["coverage_valid"]
(0.0, 0.0, True)
"""

from __future__ import annotations

import itertools
import math
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

import numpy as np
import shapely
from pyproj import Geod
from shapely import MultiPolygon, Point, Polygon

from gridmap.errors import InvalidGeometry, InvalidInput

__all__ = [
    "METRES_PER_DEGREE",
    "check_partition",
    "geodesic_area_m2",
    "partition",
    "relax_seeds",
    "sample_seeds",
    "share_vertices",
]

#: Metres per degree of latitude (mean, spherical); used only to express spreads and
#: minimum distances of seed points in metres.
METRES_PER_DEGREE = 111_320.0

# CGCS2000's ellipsoid (GRS80).
_GEOD = Geod(ellps="GRS80")

# Cell edges are snap-rounded onto a grid this fine (relative to the outline's extent)
# before they meet the outline: near-coincident edges (co-circular seeds, power cells
# computed from both sides) merge instead of leaving sliver faces.
_EDGE_GRID_RELATIVE = 1e-10

# Vertices of a neighbour closer than this to a segment (relative to the extent) are taken
# to lie on it. Noding places intersection points within a few ulps (1e-15 relative) of
# the segment they split; 1e-11 relative is 0.1 mm on a 100 km district.
_ON_SEGMENT_RELATIVE = 1e-11

Region = Polygon | MultiPolygon


# --------------------------------------------------------------------------- frames


class _Frame:
    """The locally isotropic plane: ``X = (lon - x0) * kx``, ``Y = lat - y0``."""

    def __init__(self, outline: Region, geographic: bool) -> None:
        minx, miny, maxx, maxy = outline.bounds
        self.x0 = (minx + maxx) / 2.0
        self.y0 = (miny + maxy) / 2.0
        self.kx = math.cos(math.radians(self.y0)) if geographic else 1.0
        self.geographic = geographic
        self.extent = max(maxx - minx, maxy - miny, 1e-300)

    def forward(self, xy: np.ndarray) -> np.ndarray:
        xy = np.asarray(xy, dtype=float)
        return np.column_stack(((xy[:, 0] - self.x0) * self.kx, xy[:, 1] - self.y0))

    def backward(self, xy: np.ndarray) -> np.ndarray:
        xy = np.asarray(xy, dtype=float)
        return np.column_stack((xy[:, 0] / self.kx + self.x0, xy[:, 1] + self.y0))

    def metres_to_plane(self, metres: float) -> float:
        return metres / METRES_PER_DEGREE if self.geographic else metres


# --------------------------------------------------------------------------- validation


def _check_outline(outline: Any) -> Region:
    if not isinstance(outline, (Polygon, MultiPolygon)) or outline.is_empty:
        raise InvalidGeometry(
            "分区轮廓必须是非空的面（Polygon/MultiPolygon）",
            "the outline to partition must be a non-empty Polygon or MultiPolygon",
        )
    if not outline.is_valid:
        raise InvalidGeometry(
            f"分区轮廓无效：{shapely.is_valid_reason(outline)}",
            f"the outline to partition is invalid: {shapely.is_valid_reason(outline)}",
        )
    return outline


def _check_seeds(outline: Region, seeds: Any) -> np.ndarray:
    points = np.asarray(seeds, dtype=float)
    if points.ndim != 2 or points.shape[1] != 2 or len(points) == 0:
        raise InvalidInput(
            "种子点必须是 n×2 的坐标数组（n ≥ 1）",
            "seeds must be an n×2 array of coordinates (n ≥ 1)",
        )
    if not np.isfinite(points).all():
        raise InvalidInput("种子点坐标必须是有限数", "seed coordinates must be finite")
    if len(np.unique(points, axis=0)) != len(points):
        raise InvalidInput("种子点不能重复", "seeds must be distinct")
    inside = shapely.covers(outline, shapely.points(points))
    if not inside.all():
        first = int(np.flatnonzero(~inside)[0])
        raise InvalidInput(
            f"第 {first} 个种子点不在分区轮廓内",
            f"seed {first} lies outside the outline",
        )
    return points


# --------------------------------------------------------------------------- cell edges


def _voronoi_edges(plane_seeds: np.ndarray, envelope: Polygon) -> Any:
    return shapely.voronoi_polygons(
        shapely.multipoints(plane_seeds), extend_to=envelope, only_edges=True
    )


def _clip_half_plane(
    ring: list[tuple[float, float]], nx: float, ny: float, offset: float
) -> list[tuple[float, float]]:
    """Keep the part of a convex ring (open list of vertices) where ``n · p <= offset``.

    Plain Python floats: the rings have a handful of vertices, where numpy's per-call
    overhead would dominate.
    """
    values = [x * nx + y * ny - offset for x, y in ring]
    if max(values) <= 0.0:
        return ring
    if min(values) > 0.0:
        return []
    out = []
    count = len(ring)
    for k in range(count):
        (x0, y0), v0 = ring[k], values[k]
        (x1, y1), v1 = ring[(k + 1) % count], values[(k + 1) % count]
        if v0 <= 0.0:
            out.append((x0, y0))
        if (v0 <= 0.0) != (v1 <= 0.0):
            t = v0 / (v0 - v1)
            out.append((x0 + t * (x1 - x0), y0 + t * (y1 - y0)))
    return out


def _power_cells(plane_seeds: np.ndarray, power: np.ndarray, box: np.ndarray) -> list[Polygon]:
    """Power-diagram (weighted Voronoi) cells clipped to a box, by half-plane clipping.

    The cell of seed i is where ``|p - s_i|² - w_i`` is smallest; its border with j is the
    line ``2 p·(s_j - s_i) = |s_j|² - |s_i|² - w_j + w_i``. Half-planes are applied
    nearest line first, and clipping stops once the next line lies beyond the cell's
    farthest vertex: no further line can cut it.
    """
    squared = (plane_seeds**2).sum(axis=1)
    box_ring = [(float(x), float(y)) for x, y in box]
    rings = []
    for i in range(len(plane_seeds)):
        sx, sy = float(plane_seeds[i, 0]), float(plane_seeds[i, 1])
        normals = 2.0 * (plane_seeds - plane_seeds[i])
        offsets = squared - squared[i] - power + power[i]
        lengths = np.hypot(normals[:, 0], normals[:, 1])
        lengths[i] = 1.0
        # Signed distance from seed i to each border line (negative: i is beyond it).
        reach = (offsets - normals @ plane_seeds[i]) / lengths
        reach[i] = np.inf
        order = np.argsort(reach, kind="stable").tolist()
        reach_list, nx, ny, off = reach.tolist(), normals[:, 0].tolist(), normals[:, 1].tolist(), offsets.tolist()
        ring = box_ring
        radius2 = max((x - sx) ** 2 + (y - sy) ** 2 for x, y in ring)
        for j in order:
            reach_j = reach_list[j]
            if reach_j >= 0.0 and reach_j * reach_j >= radius2:
                break
            ring = _clip_half_plane(ring, nx[j], ny[j], off[j])
            if not ring:
                break
            radius2 = max((x - sx) ** 2 + (y - sy) ** 2 for x, y in ring)
        rings.append(ring)
    return [Polygon(ring) if len(ring) >= 3 else Polygon() for ring in rings]


def _fit_power(
    plane_seeds: np.ndarray,
    plane_outline: Region,
    shares: np.ndarray,
    box: np.ndarray,
    iterations: int = 60,
    bounded: bool = True,
    initial: np.ndarray | None = None,
    tolerance: float = 5e-3,
) -> np.ndarray:
    """Power weights whose cells, clipped to the outline, approach the target shares.

    A disc-shaped cell grows by about ``π/2 · δ`` in area when its weight grows by ``δ``;
    half that step damps the iteration. The best iterate (smallest worst relative error)
    is returned, so the result never gets worse than unweighted Voronoi.
    """
    # Areas only steer the weights: a simplified outline (0.01 % of its extent) is
    # plenty and makes each round several times cheaper.
    minx, miny, maxx, maxy = plane_outline.bounds
    plane_outline = shapely.simplify(plane_outline, 1e-4 * max(maxx - minx, maxy - miny))
    shapely.prepare(plane_outline)
    total = plane_outline.area
    targets = shares / shares.sum() * total
    power = np.zeros(len(plane_seeds)) if initial is None else initial.copy()
    # Keep every seed well inside its own cell: seed i stays in its cell while
    # w_j - w_i <= d_ij² for all j, which |w_i| <= 0.4 · (nearest-neighbour distance)²
    # guarantees with room to spare. Without the bound a small unit's cell can slide off
    # its seed and become a thin strip between two large neighbours.
    gaps = np.hypot(*(plane_seeds[:, None, :] - plane_seeds[None, :, :]).transpose(2, 0, 1))
    np.fill_diagonal(gaps, np.inf)
    bound = 0.4 * gaps.min(axis=1) ** 2
    best, best_error = power.copy(), math.inf
    stalled = 0
    for _ in range(iterations):
        cells = _power_cells(plane_seeds, power, box)
        areas = shapely.area(shapely.intersection(np.array(cells, dtype=object), plane_outline))
        error = float(np.max(np.abs(areas - targets) / targets))
        if error < best_error * 0.99:
            stalled = 0
        else:
            stalled += 1
        if error < best_error:
            best, best_error = power.copy(), error
        # Done when close enough, or when the bound on the weights holds the fit back.
        if error < tolerance or stalled >= 4:
            break
        power = power + (targets - areas) / math.pi
        power = power - power.mean()
        if bounded:
            power = np.clip(power, -bound, bound)
    return best


def _cell_edges(
    frame: _Frame, outline: Region, seeds: np.ndarray, shares: np.ndarray | None
) -> tuple[Any, np.ndarray]:
    """The cell edges (noded, in outline coordinates) and the power weights used."""
    plane_seeds = frame.forward(seeds)
    power = np.zeros(len(seeds))
    if len(seeds) == 1:
        return None, power
    plane_outline = shapely.transform(outline, frame.forward)
    box = _plane_box(plane_outline, plane_seeds)
    if shares is None:
        edges = _voronoi_edges(plane_seeds, Polygon(box))
    else:
        power = _fit_power(plane_seeds, plane_outline, shares, box)
        cells = [c for c in _power_cells(plane_seeds, power, box) if not c.is_empty]
        edges = shapely.boundary(np.array(cells, dtype=object))
        edges = shapely.union_all(edges)
    grid = _EDGE_GRID_RELATIVE * frame.extent * max(frame.kx, 1e-12)
    edges = shapely.union_all(shapely.get_parts(edges), grid_size=grid)
    return shapely.transform(edges, frame.backward), power


# --------------------------------------------------------------------------- face graph


def _segments(geom: Polygon) -> list[tuple[tuple[float, float], tuple[float, float]]]:
    out = []
    for ring in (geom.exterior, *geom.interiors):
        coords = [tuple(c) for c in np.asarray(ring.coords)[:, :2].tolist()]
        out.extend(itertools.pairwise(coords))
    return out


def _adjacency(faces: Sequence[Polygon], frame: _Frame) -> list[dict[int, float]]:
    """Length (in the isotropic plane) of the border each pair of faces shares."""
    owners: dict[tuple, list[int]] = defaultdict(list)
    lengths: dict[tuple, float] = {}
    for index, face in enumerate(faces):
        for a, b in _segments(face):
            key = (a, b) if a <= b else (b, a)
            owners[key].append(index)
            if key not in lengths:
                lengths[key] = math.hypot((b[0] - a[0]) * frame.kx, b[1] - a[1])
    adjacency: list[dict[int, float]] = [defaultdict(float) for _ in faces]
    for key, indices in owners.items():
        if len(indices) == 2 and indices[0] != indices[1]:
            first, second = indices
            adjacency[first][second] += lengths[key]
            adjacency[second][first] += lengths[key]
    return adjacency


def _components(members: list[int], adjacency: list[dict[int, float]]) -> list[list[int]]:
    """Edge-connected components of a set of faces, each sorted, in order of first face."""
    remaining = set(members)
    components = []
    for start in sorted(members):
        if start not in remaining:
            continue
        remaining.discard(start)
        stack, component = [start], [start]
        while stack:
            face = stack.pop()
            for other in adjacency[face]:
                if other in remaining:
                    remaining.discard(other)
                    stack.append(other)
                    component.append(other)
        components.append(sorted(component))
    return components


def _merge_detached(
    owner: np.ndarray,
    seed_faces: list[int | None],
    areas: np.ndarray,
    adjacency: list[dict[int, float]],
    count: int,
) -> np.ndarray:
    """Give every detached piece of a region to the neighbour it shares most border with.

    Outline concavities cut a Voronoi cell into pieces; only the piece holding the seed
    (or, failing that, the largest) stays. Pieces with no neighbour at all (an island of
    a MultiPolygon outline) stay where they are.
    """
    owner = owner.copy()
    for _ in range(4 * count + 10):
        changed = False
        for region in range(count):
            members = np.flatnonzero(owner == region).tolist()
            components = _components(members, adjacency)
            if len(components) <= 1:
                continue
            seed_face = seed_faces[region]
            main = next((c for c in components if seed_face in c), None)
            if main is None:
                main = max(components, key=lambda c: (areas[c].sum(), -c[0]))
            for component in components:
                if component is main:
                    continue
                border: dict[int, float] = defaultdict(float)
                for face in component:
                    for other, length in adjacency[face].items():
                        if owner[other] != region:
                            border[int(owner[other])] += length
                if border:
                    target = max(sorted(border), key=lambda r: border[r])
                    owner[component] = target
                    changed = True
        if not changed:
            break
    return owner


def _union_faces(faces: list[Polygon]) -> Region:
    if len(faces) == 1:
        return faces[0]
    merged = shapely.coverage_union_all(np.array(faces, dtype=object))
    if isinstance(merged, (Polygon, MultiPolygon)):
        return merged
    polygons = [g for g in shapely.get_parts(merged) if isinstance(g, Polygon)]
    return MultiPolygon(polygons)


# --------------------------------------------------------------------------- public API


def partition(
    outline: Region,
    seeds: Any,
    *,
    weights: Any = None,
    geographic: bool = True,
) -> list[Region]:
    """Cut ``outline`` into one region per seed, tiling it exactly.

    Regions are Voronoi cells of the seeds (power cells when ``weights`` are given)
    restricted to the outline, built from one planar graph so that neighbouring regions
    share identical vertices along their common border and the outline's own vertices
    are kept unchanged. A piece of a cell cut off from its seed by a concavity of the
    outline goes to the neighbour it shares the longest border with, so every region is
    a single polygon unless the outline itself is in several parts.

    Parameters
    ----------
    outline
        The polygon to cut (a township, a district …): valid Polygon or MultiPolygon.
    seeds
        n×2 array of distinct points inside (or on) the outline, one per region.
    weights
        Optional relative target areas, one per seed. The power-diagram weights are
        fitted so that each region's share of the outline approaches its target (the
        fit stops at 0.5 % or after 60 rounds). The weights are bounded so that every
        seed stays well inside its own region, which limits how far a region can be
        shrunk or grown: place seeds roughly where the regions should be.
        ``None``: plain Voronoi cells.
    geographic
        ``True`` when coordinates are longitude/latitude degrees (cells are built in a
        plane where x is scaled by cos(latitude)); ``False`` for planar coordinates.

    Returns
    -------
    list of Polygon or MultiPolygon
        One region per seed, in the seeds' order; their union is the outline.

    Raises
    ------
    gridmap.errors.InvalidGeometry
        The outline is empty or invalid, or a seed ended up with no area (only possible
        with extreme ``weights``).
    gridmap.errors.InvalidInput
        Seeds are not an n×2 array of distinct finite points inside the outline.
    """
    outline = _check_outline(outline)
    points = _check_seeds(outline, seeds)
    shares = None
    if weights is not None:
        shares = np.asarray(weights, dtype=float)
        if shares.shape != (len(points),) or not (np.isfinite(shares).all() and (shares > 0).all()):
            raise InvalidInput(
                "权重必须是与种子点一一对应的正数",
                "weights must be positive numbers, one per seed",
            )
    frame = _Frame(outline, geographic)
    if len(points) == 1:
        return [outline]

    edges, power = _cell_edges(frame, outline, points, shares)
    noded = shapely.union_all([outline.boundary, edges])
    faces_all = shapely.get_parts(shapely.polygonize(shapely.get_parts(noded)))
    representative = shapely.point_on_surface(faces_all)
    shapely.prepare(outline)
    keep = shapely.contains(outline, representative)
    faces = [f for f, k in zip(faces_all, keep) if k]
    representative = representative[keep]
    if not faces:
        raise InvalidGeometry("分区轮廓无法构成面", "the outline yields no faces to partition")

    # Each face lies inside exactly one cell, so its interior point's nearest seed (in
    # the power distance) is that cell's seed.
    plane_points = frame.forward(shapely.get_coordinates(representative))
    plane_seeds = frame.forward(points)
    distance = ((plane_points[:, None, :] - plane_seeds[None, :, :]) ** 2).sum(axis=2) - power
    owner = np.argmin(distance, axis=1)

    tree = shapely.STRtree(faces)
    seed_faces: list[int | None] = [None] * len(points)
    hit_seed, hit_face = tree.query(shapely.points(points), predicate="intersects")
    for seed_index, face_index in zip(hit_seed.tolist(), hit_face.tolist()):
        if seed_faces[seed_index] is None or owner[face_index] == seed_index:
            seed_faces[seed_index] = face_index
    # A face holding a seed belongs to that seed's region when its cell says so; with
    # plain Voronoi cells that is always the case.
    adjacency = _adjacency(faces, frame)
    areas = shapely.area(np.array(faces, dtype=object))
    owner = _merge_detached(owner, seed_faces, areas, adjacency, len(points))

    regions: list[Region] = []
    for region in range(len(points)):
        members = [faces[i] for i in np.flatnonzero(owner == region)]
        if not members:
            raise InvalidGeometry(
                f"第 {region} 个种子点没有分到面积（权重过于悬殊）",
                f"seed {region} received no area (weights too extreme)",
            )
        regions.append(_union_faces(members))
    return regions


def _plane_box(plane_outline: Region, plane_seeds: np.ndarray) -> np.ndarray:
    minx, miny, maxx, maxy = plane_outline.bounds
    margin = 0.1 * max(maxx - minx, maxy - miny)
    minx = min(minx, plane_seeds[:, 0].min()) - margin
    miny = min(miny, plane_seeds[:, 1].min()) - margin
    maxx = max(maxx, plane_seeds[:, 0].max()) + margin
    maxy = max(maxy, plane_seeds[:, 1].max()) + margin
    return np.array([[minx, miny], [maxx, miny], [maxx, maxy], [minx, maxy]])


def relax_seeds(
    outline: Region,
    seeds: Any,
    *,
    weights: Any = None,
    fixed: Any = None,
    iterations: int = 8,
    step: float = 0.6,
    geographic: bool = True,
) -> np.ndarray:
    """Move seeds towards the centres of their cells (a damped Lloyd relaxation).

    Seeds placed by hand or at random give ragged cells; a few relaxation steps make the
    regions compact while keeping each near where it was put. With ``weights`` the
    cells are power cells fitted to the target shares (unbounded here: a cell that
    slides off its seed pulls the seed after it), so small units end up small *and*
    compact; then :func:`partition` with the same weights needs only small corrections.

    Parameters
    ----------
    outline
        The polygon being cut.
    seeds
        n×2 array of distinct points inside the outline.
    weights
        Optional relative target areas, as for :func:`partition`.
    fixed
        Optional booleans, one per seed: ``True`` seeds stay where they are (e.g. a city
        centre whose small units must not drift away); the others relax around them.
    iterations
        Relaxation steps.
    step
        Fraction of the way to the cell's centre moved at each step (0-1].
    geographic
        Longitude/latitude input (see :func:`partition`).

    Returns
    -------
    numpy.ndarray
        n×2 array of moved seeds, each inside the outline.
    """
    outline = _check_outline(outline)
    points = _check_seeds(outline, seeds)
    if len(points) == 1:
        return points.copy()
    shares = None if weights is None else np.asarray(weights, dtype=float)
    pinned = np.zeros(len(points), dtype=bool) if fixed is None else np.asarray(fixed, dtype=bool)
    if pinned.shape != (len(points),):
        raise InvalidInput("fixed 必须与种子点一一对应", "fixed must have one flag per seed")
    frame = _Frame(outline, geographic)
    plane_outline = shapely.transform(outline, frame.forward)
    shapely.prepare(plane_outline)
    plane = frame.forward(points)
    power = np.zeros(len(plane))
    for _ in range(iterations):
        box = _plane_box(plane_outline, plane)
        if shares is not None:
            # Warm start: the seeds moved a little, so last step's weights nearly fit.
            power = _fit_power(plane, plane_outline, shares, box, iterations=10,
                               bounded=False, initial=power, tolerance=0.02)
        cells = np.array(_power_cells(plane, power, box), dtype=object)
        pieces = shapely.intersection(cells, plane_outline)
        for index, piece in enumerate(pieces):
            if piece.is_empty or pinned[index]:
                continue
            target = shapely.centroid(piece)
            if not piece.contains(target):
                target = shapely.point_on_surface(piece)
            moved = plane[index] + step * (np.array([target.x, target.y]) - plane[index])
            if plane_outline.contains(Point(moved)):
                plane[index] = moved
    return frame.backward(plane)


def sample_seeds(
    polygon: Region,
    n: int,
    rng: np.random.Generator,
    *,
    centres: Any = None,
    spread: float | None = None,
    min_distance: float = 0.0,
    existing: Any = None,
    geographic: bool = True,
) -> np.ndarray:
    """Draw ``n`` seed points inside a polygon, optionally clustered around centres.

    Clustering the seeds of urban units (社区) around a town centre and spreading rural
    ones (村) over the whole polygon gives small urban and large rural regions.

    Parameters
    ----------
    polygon
        Where the points must lie (strictly inside).
    n
        How many points.
    rng
        The seeded generator all randomness comes from.
    centres
        Optional k×2 array; point i is drawn from a normal distribution around
        ``centres[i % k]``. ``None``: uniform over the polygon.
    spread
        Standard deviation around a centre, in metres when ``geographic`` (default: a
        tenth of the polygon's extent).
    min_distance
        Minimum distance between any two points (and to ``existing`` ones), in metres
        when ``geographic``. Halved after many failed draws, so sampling always ends.
    existing
        m×2 array of points already placed that new points keep ``min_distance`` from.
    geographic
        Longitude/latitude degrees (distances in the cos(latitude)-scaled plane).

    Returns
    -------
    numpy.ndarray
        n×2 array of points.
    """
    outline = _check_outline(polygon)
    frame = _Frame(outline, geographic)
    shapely.prepare(outline)
    minx, miny, maxx, maxy = outline.bounds
    spread_plane = (
        frame.metres_to_plane(spread) if spread is not None else 0.1 * frame.extent * frame.kx
    )
    distance_plane = frame.metres_to_plane(min_distance)
    placed_plane = (
        [] if existing is None else [p for p in frame.forward(np.asarray(existing, dtype=float))]
    )
    centre_array = None if centres is None else np.asarray(centres, dtype=float).reshape(-1, 2)
    out = []
    for index in range(n):
        failures = 0
        while True:
            if centre_array is None or failures > 400:
                candidate = np.array([rng.uniform(minx, maxx), rng.uniform(miny, maxy)])
            else:
                centre = centre_array[index % len(centre_array)]
                offset = rng.normal(0.0, spread_plane, size=2)
                candidate = centre + np.array([offset[0] / frame.kx, offset[1]])
            failures += 1
            if failures % 200 == 0:
                distance_plane /= 2.0
            if not outline.contains_properly(Point(candidate)):
                continue
            plane = frame.forward(candidate[None, :])[0]
            if placed_plane and distance_plane > 0.0:
                gaps = np.hypot(*(np.array(placed_plane) - plane).T)
                if gaps.min() < distance_plane:
                    continue
            elif placed_plane and any((plane == p).all() for p in placed_plane):
                continue
            placed_plane.append(plane)
            out.append(candidate)
            break
    return np.array(out).reshape(-1, 2)


def share_vertices(regions: Sequence[Region], *, tolerance: float | None = None) -> list[Region]:
    """Insert into every region's border the neighbours' vertices that lie on it.

    After nested partitions, children of two adjacent parents carry different crossing
    points on the common parent border (each at most a few ulps off the parent's
    segment). Inserting each side's points into the other side's segments makes the
    borders coincide vertex for vertex, so the children form one valid coverage.

    Parameters
    ----------
    regions
        Polygons or MultiPolygons of one level (e.g. all villages of a district).
    tolerance
        How close (in coordinate units) a vertex must be to a segment to be inserted;
        default ``1e-11`` × the layer's extent.

    Returns
    -------
    list of Polygon or MultiPolygon
        The regions in the same order, with the extra vertices.
    """
    geoms = np.array(list(regions), dtype=object)
    if len(geoms) < 2:
        return list(geoms)
    minx, miny, maxx, maxy = shapely.total_bounds(geoms)
    if tolerance is None:
        tolerance = _ON_SEGMENT_RELATIVE * max(maxx - minx, maxy - miny)

    # One entry per distinct vertex, remembering which regions carry it.
    coords, region_index = shapely.get_coordinates(geoms, return_index=True)
    unique, inverse = np.unique(coords, axis=0, return_inverse=True)
    carried_by: list[set[int]] = [set() for _ in range(len(unique))]
    for vertex, region in zip(inverse.ravel().tolist(), region_index.tolist()):
        carried_by[vertex].add(region)
    vertex_tree = shapely.STRtree(shapely.points(unique))

    result = []
    for index, geom in enumerate(geoms):
        polygons = []
        for polygon in shapely.get_parts(geom):
            rings = []
            for ring in (polygon.exterior, *polygon.interiors):
                rings.append(_densify_ring(np.asarray(ring.coords)[:, :2], index, unique,
                                           carried_by, vertex_tree, tolerance))
            polygons.append(Polygon(rings[0], rings[1:]))
        result.append(polygons[0] if isinstance(geom, Polygon) else MultiPolygon(polygons))
    return result


def _densify_ring(
    ring: np.ndarray,
    region: int,
    unique: np.ndarray,
    carried_by: list[set[int]],
    vertex_tree: shapely.STRtree,
    tolerance: float,
) -> np.ndarray:
    starts, ends = ring[:-1], ring[1:]
    segments = shapely.linestrings(np.stack([starts, ends], axis=1))
    segment_hit, vertex_hit = vertex_tree.query(segments, predicate="dwithin", distance=tolerance)
    extra: dict[int, list[tuple[float, int]]] = defaultdict(list)
    for segment, vertex in zip(segment_hit.tolist(), vertex_hit.tolist()):
        if region in carried_by[vertex]:
            continue
        a, b, p = starts[segment], ends[segment], unique[vertex]
        direction = b - a
        t = float((p - a) @ direction / (direction @ direction))
        if 0.0 < t < 1.0:
            extra[segment].append((t, vertex))
    if not extra:
        return ring
    out = []
    for segment in range(len(starts)):
        out.append(starts[segment])
        for _, vertex in sorted(extra.get(segment, ())):
            out.append(unique[vertex])
    out.append(ring[-1])
    return np.array(out)


def geodesic_area_m2(geom: Any) -> float:
    """Area of a lon/lat geometry on the GRS80 ellipsoid (CGCS2000), in m².

    Edges are taken as geodesics (pyproj). Non-areal parts count as zero.
    """
    if geom is None or geom.is_empty:
        return 0.0
    total = 0.0
    for part in shapely.get_parts(geom):
        if isinstance(part, Polygon):
            area, _ = _GEOD.geometry_area_perimeter(part)
            total += abs(area)
        elif isinstance(part, MultiPolygon) or part.geom_type == "GeometryCollection":
            total += geodesic_area_m2(part)
    return total


def _local_area_m2(geom: Any) -> float:
    """Area of lon/lat pieces, each scaled by the ellipsoid's m² per deg² at its latitude.

    Used for the slivers an overlay leaves (gaps, overlaps): their edges are straight in
    lon/lat, as GEOS and PostGIS ``geometry`` see them. Measuring them with geodesic
    edges instead would invent area: a vertex inserted in the middle of a straight
    800 m lon/lat edge turns a zero-area sliver into a geodesic triangle of a few m².
    """
    if geom is None or geom.is_empty:
        return 0.0
    parts = [p for p in shapely.get_parts(geom) if isinstance(p, (Polygon, MultiPolygon))]
    if not parts:
        return 0.0
    parts_array = np.array(parts, dtype=object)
    latitude = np.radians(shapely.get_y(shapely.point_on_surface(parts_array)))
    a, f = 6378137.0, 1 / 298.257222101
    e2 = f * (2 - f)
    w = 1 - e2 * np.sin(latitude) ** 2
    meridional = a * (1 - e2) / w**1.5
    prime_vertical = a / np.sqrt(w)
    per_square_degree = meridional * prime_vertical * np.cos(latitude) * (math.pi / 180) ** 2
    return float((shapely.area(parts_array) * per_square_degree).sum())


def _confirmed(operation: Any, a: Any, b: Any, measure: Any, threshold: float, grid: float) -> float:
    """``measure(operation(a, b))``, recomputed with snap-rounding when it looks too big.

    GEOS's floating-point overlay can fail on borders that are meant to coincide (a
    region edge lying 1e-17 outside the outline edge it was cut from): it has been seen
    to return a whole region as its difference with the outline. Snap-rounding on a fine
    grid is robust, so any result above ``threshold`` is confirmed that way, and the
    smaller answer wins.
    """
    value = measure(operation(a, b))
    if value > threshold:
        value = min(value, measure(operation(a, b, grid_size=grid)))
    return value


def check_partition(
    outline: Region, regions: Sequence[Region], *, geographic: bool = True
) -> dict[str, Any]:
    """Measure how exactly ``regions`` tile ``outline``.

    Parameters
    ----------
    outline
        The parent polygon.
    regions
        The children.
    geographic
        Lon/lat input, areas in m². ``False``: planar areas in squared coordinate units.

    Returns
    -------
    dict
        ``gap_area`` (outline not covered by any region), ``outside_area`` (regions'
        area outside the outline), ``overlap_max_area`` and ``overlap_total_area``
        (pairwise intersections of neighbours, found with an STRtree): overlay pieces,
        measured with straight lon/lat edges (see below). ``outline_area``,
        ``regions_area`` (sum over regions) and ``area_difference`` (their absolute
        difference): geodesic (GRS80) areas, comparable when the outline carries the
        vertices the regions add on its border (e.g. it is their union): a vertex in the
        middle of a long straight lon/lat edge shifts a geodesic area (by ~10³ m² for a
        10 km edge). ``coverage_valid`` (GEOS: no overlaps and
        neighbours' borders match vertex for vertex), ``unshared_vertices`` (vertices
        lying on a neighbour's border that the neighbour does not carry),
        ``multipart_regions``, ``empty_regions``, ``invalid_regions``, ``unit``
        (``"m2"`` or ``"planar"``).

    Notes
    -----
    Gaps and overlaps are slivers between borders that are meant to coincide. They are
    measured as GEOS computes them, with straight lon/lat edges, each piece scaled by the
    ellipsoid's m² per square degree at its latitude; a geodesic measure would report a
    few m² for a sliver of zero width wherever one side carries an extra vertex in the
    middle of a long straight edge.
    """
    if geographic:
        area, sliver_area = geodesic_area_m2, _local_area_m2
    else:
        def area(geom: Any) -> float:
            return 0.0 if geom is None else float(geom.area)

        sliver_area = area
    geoms = np.array(list(regions), dtype=object)
    minx, miny, maxx, maxy = shapely.total_bounds(np.array([outline, *geoms], dtype=object))
    extent = max(maxx - minx, maxy - miny)
    tolerance = _ON_SEGMENT_RELATIVE * extent
    # Fine, yet far above the floating-point spacing of the coordinates (GEOS refuses
    # a grid finer than the numbers can represent).
    grid = 1e-12 * max(extent, abs(minx), abs(miny), abs(maxx), abs(maxy))
    # Anything above this is confirmed with snap-rounding (see _confirmed).
    suspicious = sliver_area(outline) * 1e-12

    union = shapely.union_all(geoms)
    gap_area = _confirmed(shapely.difference, outline, union, sliver_area, suspicious, grid)
    outside_area = _confirmed(shapely.difference, union, outline, sliver_area, suspicious, grid)

    tree = shapely.STRtree(geoms)
    left, right = tree.query(geoms, predicate="intersects")
    pairs = [(i, j) for i, j in zip(left.tolist(), right.tolist()) if i < j]
    overlaps = [
        _confirmed(shapely.intersection, geoms[i], geoms[j], sliver_area, suspicious, grid)
        for i, j in pairs
    ]

    unshared = 0
    vertex_sets = [set(map(tuple, shapely.get_coordinates(g).tolist())) for g in geoms]
    for i, j in pairs:
        for first, second in ((i, j), (j, i)):
            own = np.array(sorted(vertex_sets[first] - vertex_sets[second])).reshape(-1, 2)
            if len(own):
                near = shapely.dwithin(shapely.points(own), geoms[second].boundary, tolerance)
                unshared += int(near.sum())

    outline_area = area(outline)
    regions_area = float(sum(area(g) for g in geoms))
    return {
        "unit": "m2" if geographic else "planar",
        "regions": len(geoms),
        "outline_area": outline_area,
        "regions_area": regions_area,
        "area_difference": abs(outline_area - regions_area),
        "gap_area": gap_area,
        "outside_area": outside_area,
        "overlap_max_area": max(overlaps, default=0.0),
        "overlap_total_area": float(sum(overlaps)),
        "coverage_valid": bool(shapely.coverage_is_valid(geoms)),
        "unshared_vertices": unshared,
        "multipart_regions": int(sum(isinstance(g, MultiPolygon) for g in geoms)),
        "empty_regions": int(sum(g.is_empty for g in geoms)),
        "invalid_regions": int((~shapely.is_valid(geoms)).sum()),
    }
