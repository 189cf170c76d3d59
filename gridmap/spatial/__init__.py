"""Spatial engines that run in Python beside PostGIS.

:mod:`gridmap.spatial.pip` places millions of points into bottom-level grids (末级网格)
with exactly the answers PostGIS gives (``ST_Covers`` plus the smallest-code border rule,
and geodesic snapping), only faster.
"""

from gridmap.spatial.pip import GridIndex

__all__ = ["GridIndex"]
