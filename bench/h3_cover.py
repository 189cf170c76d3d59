"""Measurement behind a design choice of gridmap/spatial/pip.py: an H3 interior-cell
cover versus the raster of :class:`~gridmap.spatial.pip.GridIndex`.

Issue 4 offered two fast paths: "shapely 2 STRtree over numpy arrays, or an H3
interior-cell cover with exact tests only on boundary cells — measure and choose". Both
answer most points with one lookup and test only the points near a border exactly; they
differ in the lookup. This script times, on the same villages and points:

* **H3 cover**: the H3 cell of every point (``h3.latlng_to_cell``, one Python call per
  point: h3-py has no vectorised form), then a sorted-array lookup of the cells wholly
  inside one village (``h3shape_to_cells_experimental(…, contain="full")``), at the
  resolution whose hexagons are about as large as the raster's cells;
* **GridIndex**: the build, and :meth:`~gridmap.spatial.pip.GridIndex.covering` (raster
  lookup plus the exact path).

The H3 path's *lookup alone* (before any exact test) is compared with the raster's whole
answer. Usage::

    python bench/h3_cover.py --data /work/bench-data/jiangsu [--points 200000] [--record]
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path

import numpy as np
import shapely

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.assign import load_inputs
from bench.common import publish


def h3_interior_cover(geoms, resolution: int) -> tuple[np.ndarray, np.ndarray, float]:
    """Sorted cells wholly inside one village and that village's index; seconds to build."""
    import h3

    started = time.perf_counter()
    cells, owners = [], []
    for i, geom in enumerate(geoms):
        for part in shapely.get_parts(geom):
            shape = h3.geo_to_h3shape(part.__geo_interface__)
            inside = h3.h3shape_to_cells_experimental(shape, resolution, contain="full")
            cells += [h3.str_to_int(c) for c in inside]
            owners += [i] * len(inside)
    order = np.argsort(cells)
    return np.asarray(cells, dtype=np.uint64)[order], np.asarray(owners)[order], time.perf_counter() - started


def main() -> None:
    import h3

    from gridmap.spatial.pip import GridIndex

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=Path("/work/bench-data/jiangsu"))
    parser.add_argument("--points", type=int, default=1_000_000)
    parser.add_argument("--record", action="store_true")
    args = parser.parse_args()
    codes, geoms, x, y = load_inputs(args.data)
    x, y = x[: args.points], y[: args.points]
    n = len(x)

    started = time.perf_counter()
    index = GridIndex(list(codes), geoms)
    build_s = time.perf_counter() - started
    started = time.perf_counter()
    index.covering(x, y)
    covering_s = time.perf_counter() - started
    # The resolution whose hexagons are about as large as the raster's cells.
    cell_km2 = (index.cell_deg * 111.32) ** 2 * math.cos(math.radians(float(np.mean(y))))
    resolution = min(range(5, 14), key=lambda r: abs(math.log(h3.average_hexagon_area(r, "km^2") / cell_km2)))
    cells, _owners, cover_s = h3_interior_cover(geoms, resolution)
    started = time.perf_counter()
    point_cells = np.fromiter((h3.str_to_int(h3.latlng_to_cell(b, a, resolution)) for a, b in zip(x.tolist(), y.tolist())),
                              dtype=np.uint64, count=n)
    cell_s = time.perf_counter() - started
    started = time.perf_counter()
    at = np.clip(np.searchsorted(cells, point_cells), 0, len(cells) - 1)
    interior = cells[at] == point_cells
    lookup_s = time.perf_counter() - started
    lines = [
        "| path | build s | per million points s | answered by the lookup |",
        "|---|---|---|---|",
        (f"| GridIndex raster ({index.raster_shape[1]}×{index.raster_shape[0]} cells of {index.cell_deg:.1e}°) | "
         f"{build_s:.2f} | {covering_s / n * 1e6:.2f} (the whole answer, exact path included) | "
         f"{index.resolution_counts(x, y)['raster'] / n:.0%} |"),
        (f"| H3 interior cover, resolution {resolution} ({len(cells):,} interior cells) | {cover_s:.2f} | "
         f"{(cell_s + lookup_s) / n * 1e6:.2f} (cell ids {cell_s / n * 1e6:.2f} + lookup "
         f"{lookup_s / n * 1e6:.2f}; the exact path still to come) | {interior.mean():.0%} |"),
        "",
        f"- {n:,} points, {len(codes):,} villages from `{args.data}`",
    ]
    body = "\n".join(lines)
    publish("H3 interior cover vs the GridIndex raster (bench/h3_cover.py)", body, record=args.record)


if __name__ == "__main__":
    main()
