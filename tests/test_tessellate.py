"""Exact partitions (gridmap.sample.tessellate): no gap, no overlap, shared vertices."""

from __future__ import annotations

import math

import numpy as np
import pytest
import shapely
import shapely.affinity
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from shapely import MultiPolygon, Polygon, box

from gridmap.errors import InvalidGeometry, InvalidInput
from gridmap.sample.tessellate import (
    check_partition,
    partition,
    relax_seeds,
    sample_seeds,
    share_vertices,
)

# A U-shaped outline: two arms joined at the bottom, the notch between them open at the top.
U_SHAPE = Polygon([(0, 0), (3, 0), (3, 3), (2, 3), (2, 1), (1, 1), (1, 3), (0, 3)])
SQUARE_WITH_HOLE = Polygon(box(0, 0, 4, 4).exterior.coords, [box(1.5, 1.5, 2.5, 2.5).exterior.coords])


def _vertices(geom) -> set[tuple[float, float]]:
    return set(map(tuple, shapely.get_coordinates(geom).tolist()))


def _vertices_on(geom, other) -> set[tuple[float, float]]:
    """Vertices of ``geom`` that lie on the border of ``other``."""
    own = np.array(sorted(_vertices(geom)))
    on = shapely.dwithin(shapely.points(own), other.boundary, 1e-12)
    return set(map(tuple, own[on].tolist()))


def _area(operation, a, b, grid):
    """Overlay area; a non-zero answer is confirmed with snap-rounding, because GEOS's
    floating overlay can mistake an edge lying 1e-17 outside its twin for a whole
    polygon outside (seen with GEOS 3.14)."""
    area = operation(a, b).area
    return min(area, operation(a, b, grid_size=grid).area) if area > 0 else area


def assert_exact_tiling(outline, regions, *, relative=1e-9):
    """The house definition of an exact partition, checked independently of check_partition."""
    geoms = np.array(regions, dtype=object)
    minx, miny, maxx, maxy = outline.bounds
    grid = 1e-12 * max(maxx - minx, maxy - miny, abs(minx), abs(miny), abs(maxx), abs(maxy))
    union = shapely.union_all(geoms)
    assert abs(union.area - outline.area) <= relative * outline.area
    assert _area(shapely.difference, outline, union, grid) <= relative * outline.area
    for region in regions:
        assert _area(shapely.difference, region, outline, grid) <= relative * outline.area
        assert region.is_valid and not region.is_empty
    shared_borders = 0
    for i in range(len(regions)):
        for j in range(i + 1, len(regions)):
            a, b = regions[i], regions[j]
            assert _area(shapely.intersection, a, b, grid) <= relative * relative * outline.area
            border = shapely.intersection(a.boundary, b.boundary).length
            if border > 0:
                shared_borders += 1
                # Neighbours carry the same vertices along the border they share.
                assert _vertices_on(a, b) == _vertices_on(b, a)
    assert shapely.coverage_is_valid(geoms)
    return shared_borders


def test_square_cut_into_quadrants():
    square = box(0, 0, 2, 2)
    seeds = [[0.5, 0.5], [1.5, 0.5], [0.5, 1.5], [1.5, 1.5]]
    regions = partition(square, seeds, geographic=False)
    assert [shapely.normalize(r).equals_exact(shapely.normalize(q), 1e-12) for r, q in zip(
        regions, [box(0, 0, 1, 1), box(1, 0, 2, 1), box(0, 1, 1, 2), box(1, 1, 2, 2)])] == [True] * 4
    assert assert_exact_tiling(square, regions) == 4
    # The outline's corners are kept exactly.
    assert _vertices(square) <= set().union(*map(_vertices, regions))


def test_concavity_piece_goes_to_the_neighbour():
    seeds = np.array([[0.5, 2.8], [1.5, 0.3], [2.5, 0.6]])
    # Plain Voronoi: the top-left seed's cell reaches across the notch into the right arm.
    cells = shapely.get_parts(shapely.voronoi_polygons(shapely.multipoints(seeds), extend_to=U_SHAPE))
    top_left = next(c for c in cells if c.contains(shapely.Point(seeds[0])))
    assert isinstance(shapely.intersection(top_left, U_SHAPE), MultiPolygon)

    regions = partition(U_SHAPE, seeds, geographic=False)
    assert all(isinstance(r, Polygon) for r in regions)
    assert all(r.contains(shapely.Point(s)) for r, s in zip(regions, seeds))
    # The detached corner (top of the right arm) joined the right-arm region.
    assert regions[2].contains(shapely.Point(2.5, 2.9))
    assert_exact_tiling(U_SHAPE, regions)


def test_polygon_with_hole_leaves_the_hole_uncovered():
    seeds = [[0.5, 0.5], [3.5, 0.5], [0.5, 3.5], [3.5, 3.5], [2.0, 0.8], [2.0, 3.2]]
    regions = partition(SQUARE_WITH_HOLE, seeds, geographic=False)
    assert_exact_tiling(SQUARE_WITH_HOLE, regions)
    assert not any(r.intersects(shapely.Point(2, 2)) for r in regions)
    assert sum(r.area for r in regions) == pytest.approx(15.0, rel=1e-12)


def test_one_seed_returns_the_outline():
    assert partition(U_SHAPE, [[0.5, 0.5]], geographic=False) == [U_SHAPE]


def test_weights_give_regions_their_share():
    square = box(0, 0, 10, 10)
    seeds = np.array([[2.0, 2.0], [8.0, 2.0], [2.0, 8.0], [8.0, 8.0], [5.0, 5.0]])
    weights = np.array([1.0, 1.0, 1.0, 1.0, 0.4])
    relaxed = relax_seeds(square, seeds, weights=weights, geographic=False)
    regions = partition(square, relaxed, weights=weights, geographic=False)
    shares = np.array([r.area for r in regions]) / 100.0
    assert shares == pytest.approx(weights / weights.sum(), rel=0.05)
    assert all(r.contains(shapely.Point(s)) for r, s in zip(regions, relaxed))
    assert_exact_tiling(square, regions)


def test_geographic_partition_keeps_lonlat_vertices():
    township = Polygon([(117.9, 34.3), (118.0, 34.3), (118.02, 34.38), (117.95, 34.41), (117.9, 34.36)])
    seeds = sample_seeds(township, 12, np.random.default_rng(5), min_distance=1500.0)
    regions = partition(township, seeds)
    assert_exact_tiling(township, regions)
    report = check_partition(township, regions)
    assert report["gap_area"] < 1e-3 and report["overlap_max_area"] == 0.0  # m²
    assert report["coverage_valid"] and report["unshared_vertices"] == 0
    # Geodesic areas agree once the outline carries the vertices the regions added on it.
    with_nodes = shapely.coverage_union_all(np.array(regions, dtype=object))
    assert check_partition(with_nodes, regions)["area_difference"] < 1e-3


def test_nested_children_of_neighbours_share_vertices_after_share_vertices():
    square = box(117.9, 34.3, 118.0, 34.4)
    rng = np.random.default_rng(11)
    parents = partition(square, sample_seeds(square, 5, rng, min_distance=2000.0))
    children = []
    for parent in parents:
        children.extend(partition(parent, sample_seeds(parent, 8, rng, min_distance=500.0)))
    # Each parent added its own crossing points to the common borders ...
    assert check_partition(square, children)["unshared_vertices"] > 0
    shared = share_vertices(children)
    report = check_partition(square, shared)
    # ... which share_vertices makes common to both sides.
    assert report["unshared_vertices"] == 0 and report["coverage_valid"]
    assert report["overlap_max_area"] == 0.0 and report["gap_area"] < 1e-3
    assert_exact_tiling(square, shared)


def test_check_partition_reports_gaps_overlaps_and_outside():
    square = box(0, 0, 2, 2)
    broken = [box(0, 0, 1.2, 2), box(1, 0, 2, 1.5), box(1.5, 1.5, 2.5, 2)]
    report = check_partition(square, broken, geographic=False)
    assert report["overlap_max_area"] == pytest.approx(0.2 * 1.5)
    assert report["gap_area"] == pytest.approx(0.3 * 0.5)
    assert report["outside_area"] == pytest.approx(0.5 * 0.5)
    assert not report["coverage_valid"]


def test_sample_seeds_inside_spaced_and_reproducible():
    first = sample_seeds(U_SHAPE, 30, np.random.default_rng(3), min_distance=0.2, geographic=False)
    second = sample_seeds(U_SHAPE, 30, np.random.default_rng(3), min_distance=0.2, geographic=False)
    assert np.array_equal(first, second)
    assert shapely.contains(U_SHAPE, shapely.points(first)).all()
    gaps = np.hypot(*(first[:, None, :] - first[None, :, :]).transpose(2, 0, 1))
    np.fill_diagonal(gaps, np.inf)
    assert gaps.min() >= 0.2


def test_sample_seeds_cluster_around_centres():
    square = box(0, 0, 10, 10)
    points = sample_seeds(square, 40, np.random.default_rng(8), centres=[[2, 2]], spread=0.5,
                          geographic=False)
    assert np.median(np.hypot(points[:, 0] - 2, points[:, 1] - 2)) < 1.0


def test_bad_inputs_are_user_errors():
    with pytest.raises(InvalidInput):
        partition(box(0, 0, 1, 1), [[2.0, 2.0]], geographic=False)
    with pytest.raises(InvalidInput):
        partition(box(0, 0, 1, 1), [[0.5, 0.5], [0.5, 0.5]], geographic=False)
    with pytest.raises(InvalidGeometry):
        bow_tie = Polygon([(0, 0), (1, 1), (1, 0), (0, 1)])
        partition(bow_tie, [[0.5, 0.25]], geographic=False)
    with pytest.raises(InvalidInput):
        partition(box(0, 0, 1, 1), [[0.2, 0.2], [0.8, 0.8]], weights=[1.0, -1.0], geographic=False)


def _star(rng: np.random.Generator, vertices: int) -> Polygon:
    """A random star-shaped (often concave) polygon around the origin."""
    angles = np.sort(rng.uniform(0, 2 * math.pi, vertices))
    radii = rng.uniform(0.3, 1.0, vertices)
    return Polygon(np.column_stack((radii * np.cos(angles), radii * np.sin(angles))))


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 2**32 - 1), vertices=st.integers(5, 40), count=st.integers(1, 25))
def test_random_partitions_are_exact(seed, vertices, count):
    rng = np.random.default_rng(seed)
    outline = _star(rng, vertices)
    if not outline.is_valid or outline.area < 0.05:
        outline = shapely.convex_hull(outline)
    seeds = sample_seeds(outline, count, rng, geographic=False)
    regions = partition(outline, seeds, geographic=False)
    assert len(regions) == count
    assert_exact_tiling(outline, regions)
    # The outline's own vertices survive untouched.
    assert _vertices(outline) <= set().union(*map(_vertices, regions))


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 2**32 - 1), parents=st.integers(2, 6), children=st.integers(2, 9))
def test_random_nested_partitions_form_one_coverage(seed, parents, children):
    rng = np.random.default_rng(seed)
    outline = shapely.affinity.translate(shapely.affinity.scale(_star(rng, 24), 0.1, 0.1), 118.0, 34.3)
    if not outline.is_valid:
        outline = shapely.convex_hull(outline)
    tops = partition(outline, sample_seeds(outline, parents, rng))
    leaves = []
    for top in tops:
        leaves.extend(partition(top, sample_seeds(top, children, rng)))
    leaves = share_vertices(leaves)
    report = check_partition(outline, leaves)
    assert report["coverage_valid"] and report["unshared_vertices"] == 0
    assert report["overlap_max_area"] < 1e-6  # m²
    assert report["gap_area"] < 1e-3 and report["outside_area"] < 1e-3
