"""Coordinate systems used for Chinese map data, and guards for user-supplied coordinates.

gridmap stores every geometry in **CGCS2000 geographic** (EPSG:4490, 2000国家大地坐标系).
CGCS2000 and WGS84 (EPSG:4326) differ by centimetres to a few decimetres at most (the two
realisations share their definition of the ellipsoid axes to within 0.1 mm and their
frames to within a few centimetres at epoch 2000), far below the accuracy of any enterprise
location the platform receives; this module therefore treats them as **numerically equal**:
converting between them is the identity.

Data arrives in one of four coordinate systems (:data:`COORD_SYSTEMS`):

``wgs84``
    GPS receivers, 天地图 (Tianditu), OpenStreetMap, international tools.
``cgcs2000``
    official survey data (国家2000).
``gcj02``
    国测局坐标 / "Mars coordinates" (火星坐标): Amap (高德), Tencent (腾讯). WGS84 with a
    deliberate, smooth, non-linear offset of 100-700 m.
``bd09``
    Baidu (百度) longitude/latitude: GCJ-02 with a further offset of a few hundred metres.
    (Not Baidu's Mercator metres, ``bd09mc``, which are rejected.)

The forward offsets (WGS84 → GCJ-02 → BD-09) are the published algorithm (constants
``a = 6378245.0``, ``ee = 0.00669342162296594323``, ``x_pi = pi * 3000 / 180``) as implemented
by the widely used converters (e.g. wandergis/coordtransform), and agree with them to
floating-point precision. The inverses are **exact**: they iterate the forward function
to a fixed point (change < 1e-10 degrees, i.e. about 0.01 mm) instead of the common
one-step approximation, whose error reaches a few metres.

As the published converters do, the GCJ-02 offset is applied only inside the box
73.66 < lon < 135.05, 3.86 < lat < 53.55 (:data:`GCJ02_REGION`); points outside it are
returned unchanged by the WGS84 ↔ GCJ-02 functions. Because the offset jumps at that box's
edges, round trips are exact only for points farther than the offset (about 0.01°) from
its edges; all of China's populated land lies well inside it. The BD-09 offset, like the
published converters, is applied everywhere.

Every function accepts Python floats or numpy arrays (of equal or broadcastable shapes)
and returns the same kind: floats for scalars, ``float64`` arrays otherwise. All of them
are vectorised; none loops over points in Python.
"""

from __future__ import annotations

import functools
import json
import math
import re
import unicodedata
from pathlib import Path
from typing import Any

import numpy as np
import shapely
from pyproj import Geod

from gridmap.errors import OutsideChina, UnknownCRS

__all__ = [
    "CHINA_BBOX",
    "CHINA_OUTLINE_PATH",
    "COORD_SYSTEMS",
    "GCJ02_REGION",
    "REASONS",
    "bd09_to_gcj02",
    "bd09_to_wgs84",
    "check_lonlat",
    "china_outline",
    "classify_lonlat",
    "format_coordinate",
    "from_cgcs2000",
    "gcj02_to_bd09",
    "gcj02_to_wgs84",
    "geodesic_distance_m",
    "in_china",
    "in_gcj02_region",
    "parse_crs",
    "to_cgcs2000",
    "transform_geometry",
    "wgs84_to_bd09",
    "wgs84_to_gcj02",
]

#: The coordinate systems the platform accepts, by canonical name.
COORD_SYSTEMS: tuple[str, ...] = ("wgs84", "cgcs2000", "gcj02", "bd09")

#: China's extent, as (min_lon, min_lat, max_lon, max_lat), inclusive: the fast pre-check of
#: :func:`in_china`. It covers the mainland from the Pamirs (73.5°E) to the Heixiazi island
#: (135.08°E) and from Mohe (53.56°N) down to Zengmu Ansha (曾母暗沙, 3.97°N) in the South
#: China Sea. It also holds much of Korea, Mongolia and Vietnam: the outline decides.
CHINA_BBOX: tuple[float, float, float, float] = (73.4, 3.8, 135.1, 53.6)

#: China's land outline, simplified and widened by about 3-6 km (see
#: ``scripts/make_china_outline.py`` and ``data/SOURCES.md``): what "in China" means for
#: the input guards. It includes Hainan, Taiwan, Hong Kong, Macau and the islands of the
#: South China Sea; a point a few km off the coast or across a land border still passes
#: (the district outlines decide where it belongs), a point in Seoul, Ulaanbaatar or Hanoi
#: does not.
CHINA_OUTLINE_PATH = Path(__file__).resolve().parents[1] / "data" / "china" / "outline.geojson"

#: Where the published GCJ-02 algorithm applies its offset, as (min_lon, min_lat, max_lon,
#: max_lat), exclusive bounds.
GCJ02_REGION: tuple[float, float, float, float] = (73.66, 3.86, 135.05, 53.55)

#: Reason per :func:`classify_lonlat` code, as (Chinese, English) one-liners for rejects files.
REASONS: dict[str, tuple[str, str]] = {
    "ok": ("坐标有效", "coordinates are valid"),
    "not_finite": (
        "经纬度不是有效数字（空值或无穷大）",
        "longitude/latitude is not a finite number (empty, NaN or infinite)",
    ),
    "out_of_range": (
        "经纬度超出取值范围（经度 -180~180，纬度 -90~90）",
        "longitude/latitude out of range (longitude -180..180, latitude -90..90)",
    ),
    "swapped": (
        "经纬度可能颠倒（交换后位于中国境内）",
        "longitude and latitude look swapped (swapped they fall inside China)",
    ),
    "outside_china": (
        "坐标不在中国范围内（中国陆地轮廓外扩数公里）",
        "coordinates outside China (its land outline widened by a few km)",
    ),
}

# Krasovsky 1940 ellipsoid as used by the GCJ-02 algorithm, and the BD-09 rotation factor.
_A = 6378245.0
_EE = 0.00669342162296594323
_X_PI = math.pi * 3000.0 / 180.0

# Fixed-point iteration of the inverses: the forward offsets have a Jacobian within ~0.3 %
# of the identity, so each step gains 2-3 digits and 4-6 steps reach 1e-10 degrees; the
# bound only protects against pathological input.
_TOLERANCE_DEG = 1e-10
_MAX_ITERATIONS = 30

_GEOD = Geod(ellps="GRS80")  # CGCS2000's ellipsoid; differs from WGS84's by 0.1 mm in b


# --------------------------------------------------------------------------- helpers


def _as_arrays(lon: Any, lat: Any) -> tuple[np.ndarray, np.ndarray, bool]:
    """Return float64 arrays broadcast together, and whether both inputs were scalars."""
    scalar = np.ndim(lon) == 0 and np.ndim(lat) == 0
    lon_arr, lat_arr = np.broadcast_arrays(
        np.asarray(lon, dtype=np.float64), np.asarray(lat, dtype=np.float64)
    )
    # broadcast_arrays returns read-only views; callers never write into them.
    return lon_arr, lat_arr, scalar


def _result(lon: np.ndarray, lat: np.ndarray, scalar: bool) -> tuple[Any, Any]:
    if scalar:
        return float(lon), float(lat)
    return np.array(lon, dtype=np.float64), np.array(lat, dtype=np.float64)


def _in_box(lon: np.ndarray, lat: np.ndarray, box: tuple[float, float, float, float]) -> np.ndarray:
    min_lon, min_lat, max_lon, max_lat = box
    return (lon >= min_lon) & (lon <= max_lon) & (lat >= min_lat) & (lat <= max_lat)


def _in_gcj02_region(lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
    min_lon, min_lat, max_lon, max_lat = GCJ02_REGION
    # Strict bounds, as in the published converters; NaN compares False, so it is "outside".
    return (lon > min_lon) & (lon < max_lon) & (lat > min_lat) & (lat < max_lat)


def in_gcj02_region(lon: Any, lat: Any) -> Any:
    """Whether the GCJ-02 offset applies at a point (inside :data:`GCJ02_REGION`).

    Parameters
    ----------
    lon, lat
        Longitude and latitude in degrees (floats or arrays).

    Returns
    -------
    bool or numpy.ndarray of bool

    Examples
    --------
    >>> in_gcj02_region(117.96, 34.33), in_gcj02_region(139.7, 35.7)
    (True, False)
    """
    lon_arr, lat_arr, scalar = _as_arrays(lon, lat)
    inside = _in_gcj02_region(lon_arr, lat_arr)
    return bool(inside) if scalar else inside


def _gcj02_offset(lon: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """GCJ-02 minus WGS84 at WGS84 point (lon, lat), in degrees, ignoring the region box."""
    x = lon - 105.0
    y = lat - 35.0
    sqrt_abs_x = np.sqrt(np.abs(x))
    common = (20.0 * np.sin(6.0 * x * np.pi) + 20.0 * np.sin(2.0 * x * np.pi)) * 2.0 / 3.0
    d_lat = -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * sqrt_abs_x
    d_lat = d_lat + common
    d_lat = d_lat + (20.0 * np.sin(y * np.pi) + 40.0 * np.sin(y / 3.0 * np.pi)) * 2.0 / 3.0
    d_lat = d_lat + (160.0 * np.sin(y / 12.0 * np.pi) + 320 * np.sin(y * np.pi / 30.0)) * 2.0 / 3.0
    d_lon = 300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * sqrt_abs_x
    d_lon = d_lon + common
    d_lon = d_lon + (20.0 * np.sin(x * np.pi) + 40.0 * np.sin(x / 3.0 * np.pi)) * 2.0 / 3.0
    d_lon = (
        d_lon + (150.0 * np.sin(x / 12.0 * np.pi) + 300.0 * np.sin(x / 30.0 * np.pi)) * 2.0 / 3.0
    )

    rad_lat = lat / 180.0 * np.pi
    magic = 1.0 - _EE * np.sin(rad_lat) ** 2
    sqrt_magic = np.sqrt(magic)
    d_lat = (d_lat * 180.0) / ((_A * (1.0 - _EE)) / (magic * sqrt_magic) * np.pi)
    d_lon = (d_lon * 180.0) / (_A / sqrt_magic * np.cos(rad_lat) * np.pi)
    return d_lon, d_lat


def _bd09_forward(lon: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    z = np.sqrt(lon * lon + lat * lat) + 0.00002 * np.sin(lat * _X_PI)
    theta = np.arctan2(lat, lon) + 0.000003 * np.cos(lon * _X_PI)
    return z * np.cos(theta) + 0.0065, z * np.sin(theta) + 0.006


def _bd09_approximate_inverse(lon: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    x = lon - 0.0065
    y = lat - 0.006
    z = np.sqrt(x * x + y * y) - 0.00002 * np.sin(y * _X_PI)
    theta = np.arctan2(y, x) - 0.000003 * np.cos(x * _X_PI)
    return z * np.cos(theta), z * np.sin(theta)


def _converged(step_lon: np.ndarray, step_lat: np.ndarray) -> bool:
    # NaN steps (NaN input) count as converged: they never will, and stay NaN.
    step = np.fmax(np.abs(step_lon), np.abs(step_lat))
    return not np.any(step >= _TOLERANCE_DEG)


# --------------------------------------------------------------------------- WGS84 <-> GCJ-02


def wgs84_to_gcj02(lon: Any, lat: Any) -> tuple[Any, Any]:
    """Convert WGS84 (or CGCS2000) longitude/latitude to GCJ-02 (火星坐标, Amap/Tencent).

    Points outside :data:`GCJ02_REGION` are returned unchanged.

    Parameters
    ----------
    lon, lat
        Degrees; floats or numpy arrays of equal shape.

    Returns
    -------
    (lon, lat)
        GCJ-02 degrees, same kind as the input.

    Examples
    --------
    >>> wgs84_to_gcj02(116.404, 39.915)
    (116.41024449916938, 39.91640428150164)
    """
    lon_arr, lat_arr, scalar = _as_arrays(lon, lat)
    d_lon, d_lat = _gcj02_offset(lon_arr, lat_arr)
    inside = _in_gcj02_region(lon_arr, lat_arr)
    return _result(
        np.where(inside, lon_arr + d_lon, lon_arr),
        np.where(inside, lat_arr + d_lat, lat_arr),
        scalar,
    )


def gcj02_to_wgs84(lon: Any, lat: Any) -> tuple[Any, Any]:
    """Convert GCJ-02 longitude/latitude to WGS84 (= CGCS2000), exactly.

    Solves ``wgs84_to_gcj02(w) == g`` by fixed-point iteration ``w <- g - offset(w)``
    until the step is below 1e-10 degrees (at most 30 steps; 4-6 in practice), so the
    round trip GCJ-02 → WGS84 → GCJ-02 is exact to well under a millimetre. The common
    one-step formula ``2 g - wgs84_to_gcj02(g)`` is off by up to a few metres.

    Points outside :data:`GCJ02_REGION` are returned unchanged.

    Parameters
    ----------
    lon, lat
        GCJ-02 degrees; floats or numpy arrays of equal shape.

    Returns
    -------
    (lon, lat)
        WGS84 degrees, same kind as the input.

    Examples
    --------
    >>> lon, lat = gcj02_to_wgs84(*wgs84_to_gcj02(117.96, 34.33))
    >>> round(lon, 9), round(lat, 9)
    (117.96, 34.33)
    """
    lon_arr, lat_arr, scalar = _as_arrays(lon, lat)
    inside = _in_gcj02_region(lon_arr, lat_arr)
    w_lon, w_lat = lon_arr, lat_arr
    for _ in range(_MAX_ITERATIONS):
        d_lon, d_lat = _gcj02_offset(w_lon, w_lat)
        next_lon, next_lat = lon_arr - d_lon, lat_arr - d_lat
        step_lon, step_lat = next_lon - w_lon, next_lat - w_lat
        w_lon, w_lat = next_lon, next_lat
        if _converged(step_lon, step_lat):
            break
    return _result(
        np.where(inside, w_lon, lon_arr),
        np.where(inside, w_lat, lat_arr),
        scalar,
    )


# --------------------------------------------------------------------------- GCJ-02 <-> BD-09


def gcj02_to_bd09(lon: Any, lat: Any) -> tuple[Any, Any]:
    """Convert GCJ-02 longitude/latitude to BD-09 (Baidu, 百度经纬度).

    Parameters
    ----------
    lon, lat
        GCJ-02 degrees; floats or numpy arrays of equal shape.

    Returns
    -------
    (lon, lat)
        BD-09 degrees, same kind as the input.

    Examples
    --------
    >>> gcj02_to_bd09(116.404, 39.915)
    (116.41036949371029, 39.92133699351021)
    """
    lon_arr, lat_arr, scalar = _as_arrays(lon, lat)
    return _result(*_bd09_forward(lon_arr, lat_arr), scalar)


def bd09_to_gcj02(lon: Any, lat: Any) -> tuple[Any, Any]:
    """Convert BD-09 (Baidu) longitude/latitude to GCJ-02, exactly.

    Starts from the usual closed-form approximation and refines it by fixed-point
    iteration ``g <- g + (bd - gcj02_to_bd09(g))`` until the step is below 1e-10 degrees,
    so that BD-09 → GCJ-02 → BD-09 round trips are exact to well under a millimetre.

    Parameters
    ----------
    lon, lat
        BD-09 degrees; floats or numpy arrays of equal shape.

    Returns
    -------
    (lon, lat)
        GCJ-02 degrees, same kind as the input.
    """
    lon_arr, lat_arr, scalar = _as_arrays(lon, lat)
    g_lon, g_lat = _bd09_approximate_inverse(lon_arr, lat_arr)
    for _ in range(_MAX_ITERATIONS):
        b_lon, b_lat = _bd09_forward(g_lon, g_lat)
        step_lon, step_lat = lon_arr - b_lon, lat_arr - b_lat
        g_lon, g_lat = g_lon + step_lon, g_lat + step_lat
        if _converged(step_lon, step_lat):
            break
    return _result(g_lon, g_lat, scalar)


def wgs84_to_bd09(lon: Any, lat: Any) -> tuple[Any, Any]:
    """Convert WGS84 (or CGCS2000) longitude/latitude to BD-09 (via GCJ-02).

    Examples
    --------
    >>> lon, lat = wgs84_to_bd09(117.96, 34.33)
    >>> round(lon, 3), round(lat, 3)
    (117.972, 34.335)
    """
    return gcj02_to_bd09(*wgs84_to_gcj02(lon, lat))


def bd09_to_wgs84(lon: Any, lat: Any) -> tuple[Any, Any]:
    """Convert BD-09 (Baidu) longitude/latitude to WGS84 (= CGCS2000), exactly (via GCJ-02)."""
    return gcj02_to_wgs84(*bd09_to_gcj02(lon, lat))


# --------------------------------------------------------------------------- CRS names

_SPELLINGS_BY_SYSTEM: dict[str, tuple[str, ...]] = {
    "wgs84": (
        "wgs84", "wgs1984", "wgs", "gps", "epsg4326", "4326", "crs84", "ogccrs84", "世界大地",
        "地球",
    ),
    # Tianditu (天地图) publishes CGCS2000; numerically the same as wgs84 anyway.
    "cgcs2000": (
        "cgcs2000", "cgcs", "epsg4490", "4490", "2000", "国家2000", "中国2000", "2000国家大地",
        "国家大地2000", "天地图",
    ),
    "gcj02": (
        "gcj02", "gcj2", "gcj", "amap", "autonavi", "gaode", "tencent", "qq", "mars", "高德",
        "火星", "腾讯", "国测局", "谷歌中国", "googlecn",
    ),
    "bd09": ("bd09", "bd09ll", "bd", "baidu", "百度"),
}  # fmt: skip
# Keys are user spellings after _crs_key(): lower case, no spaces/punctuation/suffixes.
_CRS_SPELLINGS: dict[str, str] = {
    spelling: system for system, spellings in _SPELLINGS_BY_SYSTEM.items() for spelling in spellings
}

_CRS_SUFFIXES = ("坐标系统", "坐标系", "坐标", "经纬度", "地图", "系统", "系")
_CRS_URI = re.compile(
    r"^(?:urn:ogc:def:crs:(?:epsg|ogc):[\d.]*:|https?://www\.opengis\.net/def/crs/(?:epsg|ogc)/[\d.]+/)"
    r"(?P<code>[a-z0-9]+)$"
)
_ACCEPTED_ZH = (
    "wgs84（EPSG:4326）、cgcs2000（EPSG:4490，国家2000）、gcj02（高德/腾讯）、bd09（百度）"
)
_ACCEPTED_EN = "wgs84 (EPSG:4326), cgcs2000 (EPSG:4490), gcj02 (Amap/Tencent), bd09 (Baidu)"


def _crs_key(text: str) -> str:
    # NFKC turns full-width input (ＷＧＳ８４, ＥＰＳＧ：４３２６) into ASCII.
    key = unicodedata.normalize("NFKC", text).strip().lower()
    match = _CRS_URI.match(key)
    if match:
        key = match.group("code")
    key = re.sub(r"[\s\-_:.()（）/]+", "", key)
    # Peel 坐标/坐标系/地图… one at a time, stopping at a known name (天地图 is one).
    while key not in _CRS_SPELLINGS:
        suffix = next((s for s in _CRS_SUFFIXES if key.endswith(s) and key != s), None)
        if suffix is None:
            break
        key = key[: -len(suffix)]
    return key


def _unknown_crs(value: object) -> UnknownCRS:
    shown = str(value)
    if len(shown) > 40:
        shown = shown[:40] + "…"
    return UnknownCRS(
        f"不支持的坐标系“{shown}”，可用：{_ACCEPTED_ZH}",
        f"unknown coordinate system {shown!r}; accepted: {_ACCEPTED_EN}",
    )


def parse_crs(value: str | int | None, default: str | None = "wgs84") -> str:
    """Normalise a user's name for a coordinate system to one of :data:`COORD_SYSTEMS`.

    Case, spaces, hyphens and full-width characters do not matter, and Chinese suffixes
    such as 坐标/坐标系/经纬度/地图 are ignored, so ``"WGS-84"``, ``"EPSG:4326"``,
    ``4326``, ``"OGC:CRS84"``, ``"WGS84坐标"`` all mean ``"wgs84"``; ``"国家2000"`` and
    ``"EPSG:4490"`` mean ``"cgcs2000"``; ``"高德"``, ``"火星"``, ``"腾讯"``, ``"gcj-02"``
    mean ``"gcj02"``; ``"百度"``, ``"bd09ll"`` mean ``"bd09"``. OGC URNs and
    ``http://www.opengis.net/def/crs/...`` URIs are understood.

    Parameters
    ----------
    value
        The user's spelling, an EPSG code as int, or None/empty for ``default``.
    default
        What an empty value means (itself normalised).

    Returns
    -------
    str
        One of ``"wgs84"``, ``"cgcs2000"``, ``"gcj02"``, ``"bd09"``.

    Raises
    ------
    gridmap.errors.UnknownCRS
        For anything else, naming the accepted values (e.g. Baidu Mercator ``bd09mc``,
        which is in metres and is not accepted).

    Examples
    --------
    >>> parse_crs("EPSG:4490"), parse_crs("高德坐标"), parse_crs(None)
    ('cgcs2000', 'gcj02', 'wgs84')
    """
    if value is None or (isinstance(value, str) and not value.strip()):
        if default is None or (isinstance(default, str) and not default.strip()):
            raise UnknownCRS(
                f"未指定坐标系，可用：{_ACCEPTED_ZH}",
                f"no coordinate system given; accepted: {_ACCEPTED_EN}",
            )
        return parse_crs(default, default=None)
    if isinstance(value, bool) or not isinstance(value, (str, int, np.integer)):
        raise _unknown_crs(value)
    canonical = _CRS_SPELLINGS.get(_crs_key(str(value)))
    if canonical is None:
        raise _unknown_crs(value)
    return canonical


# --------------------------------------------------------------------------- to/from storage


def to_cgcs2000(lon: Any, lat: Any, crs: str | int | None) -> tuple[Any, Any]:
    """Convert coordinates in ``crs`` to the storage system, CGCS2000 (= WGS84 numerically).

    Parameters
    ----------
    lon, lat
        Degrees in ``crs``; floats or numpy arrays of equal shape.
    crs
        Any spelling :func:`parse_crs` accepts.

    Returns
    -------
    (lon, lat)
        CGCS2000 degrees, same kind as the input.

    Examples
    --------
    >>> lon, lat = to_cgcs2000(116.41024449916938, 39.91640428150164, "高德")
    >>> round(lon, 9), round(lat, 9)
    (116.404, 39.915)
    """
    system = parse_crs(crs)
    if system == "gcj02":
        return gcj02_to_wgs84(lon, lat)
    if system == "bd09":
        return bd09_to_wgs84(lon, lat)
    lon_arr, lat_arr, scalar = _as_arrays(lon, lat)
    return _result(lon_arr, lat_arr, scalar)


def from_cgcs2000(lon: Any, lat: Any, crs: str | int | None) -> tuple[Any, Any]:
    """Convert CGCS2000 coordinates to ``crs`` (the inverse of :func:`to_cgcs2000`).

    Examples
    --------
    >>> from_cgcs2000(116.404, 39.915, "gcj02")
    (116.41024449916938, 39.91640428150164)
    """
    system = parse_crs(crs)
    if system == "gcj02":
        return wgs84_to_gcj02(lon, lat)
    if system == "bd09":
        return wgs84_to_bd09(lon, lat)
    lon_arr, lat_arr, scalar = _as_arrays(lon, lat)
    return _result(lon_arr, lat_arr, scalar)


def transform_geometry(
    geom: Any, crs_from: str | int | None, crs_to: str | int | None = "cgcs2000"
) -> Any:
    """Convert a shapely geometry (or array of geometries) between coordinate systems.

    Every vertex moves exactly as the point functions move it; Z values are kept.
    Between ``wgs84`` and ``cgcs2000`` this is the identity and the input is returned.

    Parameters
    ----------
    geom
        A shapely geometry or an array of them (``None`` entries pass through).
    crs_from, crs_to
        Any spellings :func:`parse_crs` accepts; ``crs_to`` defaults to the storage system.

    Returns
    -------
    shapely geometry or numpy.ndarray
        Same kind as ``geom``.

    Examples
    --------
    >>> from shapely import Point
    >>> transform_geometry(Point(116.404, 39.915), "wgs84", "gcj02")
    <POINT (116.41 39.916)>
    """
    source = parse_crs(crs_from)
    target = parse_crs(crs_to)
    storage = {"wgs84", "cgcs2000"}
    if source == target or (source in storage and target in storage):
        return geom

    def convert(coords: np.ndarray) -> np.ndarray:
        lon, lat = to_cgcs2000(coords[:, 0], coords[:, 1], source)
        lon, lat = from_cgcs2000(lon, lat, target)
        out = coords.copy()
        out[:, 0] = lon
        out[:, 1] = lat
        return out

    # include_z=True keeps each geometry's own dimensionality (2-D stays 2-D).
    return shapely.transform(geom, convert, include_z=True)


# --------------------------------------------------------------------------- input guards


@functools.cache
def china_outline() -> shapely.MultiPolygon:
    """The outline :func:`in_china` tests against (:data:`CHINA_OUTLINE_PATH`), prepared."""
    with CHINA_OUTLINE_PATH.open(encoding="utf-8") as fh:
        document = json.load(fh)
    outline = shapely.from_geojson(json.dumps(document["features"][0]["geometry"]))
    shapely.prepare(outline)
    return outline


def in_china(lon: Any, lat: Any) -> Any:
    """Whether points lie in China (:data:`CHINA_OUTLINE_PATH`, widened by a few km).

    Vectorised: a box test first (:data:`CHINA_BBOX`), then GEOS's indexed
    point-in-polygon on the prepared outline for the points inside the box, about 0.2 s
    per million points.

    Parameters
    ----------
    lon, lat
        Degrees (CGCS2000/WGS84; GCJ-02 and BD-09 are within the widening); floats or
        numpy arrays of equal shape. NaN is not in China.

    Returns
    -------
    bool or numpy.ndarray of bool

    Examples
    --------
    >>> in_china([117.96, 126.98, 109.51], [34.33, 37.57, 18.25]).tolist()  # Pizhou, Seoul, Sanya
    [True, False, True]
    """
    lon_arr, lat_arr, scalar = _as_arrays(lon, lat)
    inside = np.array(_in_box(lon_arr, lat_arr, CHINA_BBOX))  # an array even for scalars
    if inside.any():
        candidates = np.flatnonzero(inside)
        inside.flat[candidates] = shapely.contains_xy(
            china_outline(), lon_arr.flat[candidates], lat_arr.flat[candidates])
    return bool(inside) if scalar else inside


def classify_lonlat(lon: Any, lat: Any) -> np.ndarray:
    """Classify user-supplied longitude/latitude pairs before they are stored.

    Codes (see :data:`REASONS` for the reasons shown to users):

    ``"ok"``
        in China (:func:`in_china`: the widened outline, not just its bounding box).
    ``"not_finite"``
        NaN or infinite (an empty spreadsheet cell becomes NaN).
    ``"swapped"``
        outside China, but (lat, lon) would be inside: the columns were exchanged.
    ``"out_of_range"``
        ``|lon| > 180`` or ``|lat| > 90``, not explained by a swap.
    ``"outside_china"``
        a valid position elsewhere on Earth (Seoul, Ulaanbaatar, Hanoi, the open sea).

    Parameters
    ----------
    lon, lat
        Degrees; floats or numpy arrays of equal shape.

    Returns
    -------
    numpy.ndarray of str
        One code per point, with the inputs' broadcast shape (0-d for two scalars).

    Examples
    --------
    >>> classify_lonlat([117.96, 34.33, 139.7, np.nan], [34.33, 117.96, 35.7, 34.0]).tolist()
    ['ok', 'swapped', 'outside_china', 'not_finite']
    """
    lon_arr, lat_arr, _ = _as_arrays(lon, lat)
    codes = np.full(lon_arr.shape, "outside_china", dtype="<U13")
    finite = np.isfinite(lon_arr) & np.isfinite(lat_arr)
    out_of_range = (np.abs(lon_arr) > 180.0) | (np.abs(lat_arr) > 90.0)
    inside = np.asarray(in_china(lon_arr, lat_arr))
    swapped = ~inside & np.asarray(in_china(lat_arr, lon_arr))
    # Later assignments win: the order encodes the precedence of the reasons.
    codes[out_of_range] = "out_of_range"
    codes[swapped] = "swapped"
    codes[inside] = "ok"
    codes[~finite] = "not_finite"
    return codes


def format_coordinate(value: float) -> str:
    """A coordinate for a message: at most 6 decimals, no trailing zeros, and a bounded
    length (``1e300`` must not print 300 digits).

    >>> format_coordinate(117.95), format_coordinate(2e300)
    ('117.95', '2e+300')
    """
    value = float(value)
    if not math.isfinite(value) or abs(value) >= 1e6:
        return f"{value:.6g}"
    return f"{value:.6f}".rstrip("0").rstrip(".")


def check_lonlat(lon: float, lat: float) -> None:
    """Raise if a single longitude/latitude pair is not a position in China.

    Parameters
    ----------
    lon, lat
        Degrees.

    Raises
    ------
    gridmap.errors.OutsideChina
        With a bilingual one-line message naming the problem (the :data:`REASONS`
        entry plus the values); a swap is named explicitly, e.g. ``经纬度可能颠倒（纬度
        117.96 超出范围；…） / longitude and latitude look swapped (latitude 117.96 is
        out of range; …)``.

    Examples
    --------
    >>> check_lonlat(117.96, 34.33)
    >>> check_lonlat(34.33, 117.96)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    gridmap.errors.OutsideChina: 经纬度可能颠倒（纬度 117.96 超出范围；...） / longitude and ...
    """
    try:
        lon_f, lat_f = float(lon), float(lat)
    except (TypeError, ValueError):
        lon_f, lat_f = math.nan, math.nan
    code = str(classify_lonlat(lon_f, lat_f))
    if code == "ok":
        return
    where = f"{format_coordinate(lon_f)}, {format_coordinate(lat_f)}"
    if code == "swapped":
        if abs(lat_f) > 90.0:
            zh_why, en_why = (
                f"纬度 {format_coordinate(lat_f)} 超出范围",
                f"latitude {format_coordinate(lat_f)} is out of range",
            )
        else:
            zh_why, en_why = f"坐标 {where} 在中国范围外", f"{where} is outside China"
        raise OutsideChina(
            f"经纬度可能颠倒（{zh_why}；按经度 {format_coordinate(lat_f)}、纬度 {format_coordinate(lon_f)} 则位于中国境内）",
            f"longitude and latitude look swapped ({en_why}; "
            f"as lon {format_coordinate(lat_f)}, lat {format_coordinate(lon_f)} it lies in China)",
        )
    if code == "not_finite":
        # Show what the user typed (it may not be a number at all), shortened.
        shown = f"{str(lon)[:20]}, {str(lat)[:20]}"
        zh, en = REASONS[code]
        raise OutsideChina(f"{zh}：{shown}", f"{en}: {shown}")
    zh, en = REASONS[code]
    raise OutsideChina(f"{zh}：{where}", f"{en}: {where}")


# --------------------------------------------------------------------------- distances


def geodesic_distance_m(lon1: Any, lat1: Any, lon2: Any, lat2: Any) -> Any:
    """Geodesic distance in metres on the GRS80 ellipsoid (CGCS2000's), vectorised.

    Parameters
    ----------
    lon1, lat1, lon2, lat2
        Degrees; floats or numpy arrays of broadcastable shapes.

    Returns
    -------
    float or numpy.ndarray
        Metres (NaN where an input is NaN).

    Examples
    --------
    >>> round(geodesic_distance_m(117.0, 34.0, 117.0, 35.0))
    110931
    """
    arrays = np.broadcast_arrays(
        *(np.asarray(v, dtype=np.float64) for v in (lon1, lat1, lon2, lat2))
    )
    scalar = all(np.ndim(v) == 0 for v in (lon1, lat1, lon2, lat2))
    flat = [np.ascontiguousarray(a).ravel() for a in arrays]
    _, _, distance = _GEOD.inv(*flat)
    distance = np.asarray(distance, dtype=np.float64).reshape(arrays[0].shape)
    return float(distance) if scalar else distance
