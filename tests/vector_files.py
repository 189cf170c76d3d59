"""Writing small vector files for import tests (through pyogrio, like a real GIS would)."""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np
import shapely
from pyogrio import raw


def write_layer(path: Path, records: list[dict], *, crs: str | None = "EPSG:4326",
                driver: str | None = None, geometry_type: str = "Polygon") -> Path:
    """Write ``records`` (dicts with a ``geometry`` shapely value) to ``path``."""
    path = Path(path)
    fields = [k for k in records[0] if k != "geometry"]
    data = []
    for name in fields:
        values = [r.get(name) for r in records]
        if all(isinstance(v, int) or v is None for v in values) and any(v is not None for v in values):
            data.append(np.array([v if v is not None else 0 for v in values], dtype=np.int64))
        else:
            data.append(np.array(["" if v is None else str(v) for v in values], dtype=object))
    geometry = np.array([None if r["geometry"] is None else shapely.to_wkb(r["geometry"])
                         for r in records], dtype=object)
    raw.write(path, geometry, data, fields, driver=driver, geometry_type=geometry_type,
              crs=crs, encoding="UTF-8")
    return path


def zip_shapefile(shp: Path, target: Path, *, skip: tuple[str, ...] = ()) -> Path:
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as archive:
        for part in sorted(shp.parent.glob(shp.stem + ".*")):
            if part.suffix.lower() in skip:
                continue
            archive.write(part, part.name)
    return target
