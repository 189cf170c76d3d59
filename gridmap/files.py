"""Reading user files safely: vector layers (GeoJSON, GeoPackage, Shapefile, zipped
Shapefile) and tables (CSV, XLSX).

Only these formats are accepted. A file's content must match its extension before GDAL
ever sees it (GDAL would otherwise open an XML file named ``.geojson`` as a VRT that
reads other files or the network), and GDAL must then open it with that format's driver;
zips — XLSX files too — are checked before extraction or parsing (entry count,
uncompressed size, compression ratio, no ``..`` or absolute names) and extracted into a
private temporary directory, never read through ``/vsizip/`` or ``/vsicurl/``. Tables are
capped by rows while they are read. GDAL's own messages go to the log (raw GDAL text is
never shown to a user).
"""

from __future__ import annotations

import contextlib
import csv
import io
import logging
import os
import re
import shutil
import tempfile
import warnings
import zipfile
from collections.abc import Iterator, MutableMapping
from dataclasses import dataclass, field
from pathlib import Path

#: Drivers that can make GDAL read other files or the network; we never need them.
SKIPPED_GDAL_DRIVERS = ("GDALG", "OGR_VRT", "VRT", "HTTP")
#: The only GDAL drivers a vector file of each accepted format may be opened with.
ALLOWED_GDAL_DRIVERS = {"geojson": "GeoJSON", "gpkg": "GPKG", "shp": "ESRI Shapefile"}


def harden_gdal_environment(environ: MutableMapping[str, str] = os.environ) -> None:
    """Put our GDAL limits into ``environ``, whatever it held before.

    Our skip list is appended to any ``GDAL_SKIP`` the user set (a value of their own must
    not bring the VRT or HTTP drivers back); network access is disabled outright. Must run
    before GDAL registers its drivers (the first import of pyogrio), hence at import.

    >>> env = {"GDAL_SKIP": "foo,VRT", "GDAL_HTTP_TIMEOUT": "60"}
    >>> harden_gdal_environment(env)
    >>> env["GDAL_SKIP"], env["GDAL_HTTP_TIMEOUT"]
    ('foo VRT GDALG OGR_VRT HTTP', '1')
    """
    skipped = environ.get("GDAL_SKIP", "").replace(",", " ").split()
    environ["GDAL_SKIP"] = " ".join(dict.fromkeys([*skipped, *SKIPPED_GDAL_DRIVERS]))
    environ["CPL_VSIL_CURL_ALLOWED_EXTENSIONS"] = ".gridmap-no-network"
    environ["GDAL_HTTP_TIMEOUT"] = "1"


harden_gdal_environment()

import numpy as np  # noqa: E402
import shapely  # noqa: E402

from gridmap.errors import InvalidFile, TooLarge  # noqa: E402
from gridmap.settings import ImportSettings  # noqa: E402

log = logging.getLogger(__name__)

VECTOR_SUFFIXES = {".geojson": "geojson", ".json": "geojson", ".gpkg": "gpkg",
                   ".shp": "shp", ".zip": "zip"}
TABLE_SUFFIXES = {".csv": "csv", ".txt": "csv", ".xlsx": "xlsx"}
_SQLITE_MAGIC = b"SQLite format 3\x00"
_ZIP_MAGIC = b"PK\x03\x04"
_SHP_MAGIC = b"\x00\x00\x27\x0a"  # file code 9994, big-endian


@dataclass
class VectorLayer:
    """Features read from a file: shapely geometries (None where missing) and fields."""

    geometries: np.ndarray
    fields: dict[str, list]
    crs: str | None
    source_format: str
    layer_name: str | None = None
    warnings: list[str] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.geometries)


def _bad(name: str, zh: str, en: str) -> InvalidFile:
    return InvalidFile(f"文件 {name} {zh}", f"file {name}: {en}")


def check_upload_size(path: Path, settings: ImportSettings) -> None:
    size = path.stat().st_size
    if size > settings.max_upload_bytes:
        raise TooLarge(
            f"文件 {path.name} 大小 {size} 字节，超过上限 {settings.max_upload_bytes} 字节",
            f"file {path.name} is {size} bytes, above the limit of {settings.max_upload_bytes}",
        )


def _local_file(path: Path) -> Path:
    text = str(path)
    if text.startswith("/vsi") or "://" in text or re.match(r"^[A-Za-z_]{2,}:", text):
        raise InvalidFile(f"只接受本地文件：{text}", f"only local files are accepted: {text}")
    if not path.exists():
        raise InvalidFile(f"文件不存在：{text}", f"file not found: {text}")
    if not path.is_file():
        raise InvalidFile(f"不是文件：{text}", f"not a regular file: {text}")
    return path


def _head(path: Path, n: int = 1 << 20) -> bytes:
    with path.open("rb") as fh:
        return fh.read(n)


def _check_geojson(path: Path) -> None:
    head = _head(path)
    stripped = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    if not stripped.startswith(b"{"):
        raise _bad(path.name, "不是 GeoJSON（内容不是 JSON 对象）",
                   "is not GeoJSON (the content is not a JSON object)")
    if b"gdal_streamed_alg" in head or b"gdal_alg" in head:
        raise _bad(path.name, "不是 GeoJSON", "is not GeoJSON")
    if not re.search(rb'"type"\s*:\s*"(FeatureCollection|Feature)"', head):
        raise _bad(path.name, "不是 GeoJSON 要素集合（缺少 \"type\": \"FeatureCollection\"）",
                   'is not a GeoJSON FeatureCollection (no "type": "FeatureCollection")')


def check_zip(path: Path, settings: ImportSettings) -> list[zipfile.ZipInfo]:
    """Validate a zip before anything is extracted; return its file entries."""
    if _head(path, 4) != _ZIP_MAGIC:
        raise _bad(path.name, "不是 zip 压缩包", "is not a zip archive")
    try:
        with zipfile.ZipFile(path) as archive:
            entries = [e for e in archive.infolist() if not e.is_dir()]
            if len(entries) > settings.max_zip_entries:
                raise _bad(path.name, f"包含 {len(entries)} 个文件，超过上限 {settings.max_zip_entries}",
                           f"holds {len(entries)} files, above the limit of {settings.max_zip_entries}")
            total = sum(e.file_size for e in entries)
            if total > settings.max_zip_uncompressed_bytes:
                raise TooLarge(f"压缩包 {path.name} 解压后 {total} 字节，超过上限",
                               f"zip {path.name} expands to {total} bytes, above the limit")
            for entry in entries:
                name = entry.filename
                if name.startswith(("/", "\\")) or ".." in Path(name).parts or re.match(r"^[A-Za-z]:", name):
                    raise _bad(path.name, f"包含不安全的路径 {name!r}",
                               f"contains an unsafe path {name!r}")
                if entry.compress_size and entry.file_size / entry.compress_size > settings.max_zip_ratio:
                    raise _bad(path.name, f"中的 {name} 压缩比异常（疑似压缩炸弹）",
                               f"entry {name} has an abnormal compression ratio (zip bomb?)")
            bad = archive.testzip()
            if bad is not None:
                raise _bad(path.name, f"已损坏（{bad} 校验失败）", f"is corrupt (CRC error in {bad})")
            return entries
    except zipfile.BadZipFile:
        raise _bad(path.name, "已损坏或不完整（无法读取 zip 目录）",
                   "is truncated or corrupt (cannot read the zip directory)") from None
    except (EOFError, zipfile.LargeZipFile, NotImplementedError, OSError):
        raise _bad(path.name, "已损坏或不完整", "is truncated or corrupt") from None


def _shapefile_parts(shp: Path, display: str) -> None:
    missing = [ext for ext in (".shx", ".dbf")
               if not any(shp.with_suffix(s).exists() for s in (ext, ext.upper()))]
    if missing:
        raise _bad(display, f"缺少 Shapefile 组成文件 {', '.join(missing)}",
                   f"lacks the Shapefile part(s) {', '.join(missing)}")
    if _head(shp, 4) != _SHP_MAGIC:
        raise _bad(display, "不是有效的 Shapefile（.shp 文件头错误）",
                   "is not a valid Shapefile (bad .shp header)")


@contextlib.contextmanager
def vector_source(path: Path, settings: ImportSettings) -> Iterator[tuple[Path, str]]:
    """Yield a local path GDAL may open and its format, after every safety check."""
    path = _local_file(Path(path))
    fmt = VECTOR_SUFFIXES.get(path.suffix.lower())
    if fmt is None:
        raise _bad(path.name, "格式不支持（接受 GeoJSON、GeoPackage、Shapefile 或其 zip）",
                   "has an unsupported format (GeoJSON, GeoPackage, Shapefile or zipped Shapefile)")
    check_upload_size(path, settings)
    if fmt == "geojson":
        _check_geojson(path)
        yield path, fmt
    elif fmt == "gpkg":
        if _head(path, 16) != _SQLITE_MAGIC:
            raise _bad(path.name, "不是 GeoPackage", "is not a GeoPackage")
        yield path, fmt
    elif fmt == "shp":
        _shapefile_parts(path, path.name)
        yield path, fmt
    else:
        entries = check_zip(path, settings)
        shps = [e for e in entries if e.filename.lower().endswith(".shp")
                and not Path(e.filename).name.startswith("._")]
        if len(shps) != 1:
            raise _bad(path.name, f"应恰好包含一个 .shp 文件（找到 {len(shps)} 个）",
                       f"must contain exactly one .shp file (found {len(shps)})")
        tmp = Path(tempfile.mkdtemp(prefix="gridmap-zip-"))
        try:
            with zipfile.ZipFile(path) as archive:
                stem = shps[0].filename[:-4]
                for entry in entries:
                    if entry.filename[: len(stem)] == stem and len(entry.filename) - len(stem) <= 5:
                        target = tmp / Path(entry.filename).name
                        with archive.open(entry) as src, target.open("wb") as dst:
                            shutil.copyfileobj(src, dst)
            shp = tmp / Path(shps[0].filename).name
            _shapefile_parts(shp, path.name)
            yield shp, "shp"
        finally:
            shutil.rmtree(tmp, ignore_errors=True)


@contextlib.contextmanager
def _gdal_messages(name: str) -> Iterator[None]:
    """Keep GDAL's warnings (pyogrio raises them as ``RuntimeWarning``) out of the user's
    terminal: they are raw GDAL text, so they go to the log, and the user sees our own
    message when the read fails."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            yield
        finally:
            for warning in caught:
                log.info("GDAL reading %s: %s", name, warning.message)


def _require_safe_gdal(name: str) -> None:
    """Refuse to let GDAL open anything if the drivers we skip are registered after all
    (pyogrio imported before this module, with another environment)."""
    import pyogrio

    present = sorted(set(SKIPPED_GDAL_DRIVERS) & set(pyogrio.list_drivers()))
    if present:
        log.info("GDAL drivers %s are registered; GDAL_SKIP came too late", present)
        raise _bad(name, "无法安全读取（GDAL 配置不安全，请联系管理员）",
                   "cannot be read safely (GDAL is not configured safely; tell the administrator)")


def read_vector(path: Path, settings: ImportSettings, *, layer: str | None = None) -> VectorLayer:
    """Read one layer of a vector file into shapely geometries and field lists.

    Three locks keep GDAL to the formats we accept: the content is sniffed before GDAL
    sees the file, the VRT/HTTP drivers are not registered, and the file must have been
    opened by the one driver its format allows (:data:`ALLOWED_GDAL_DRIVERS`).
    """
    import pyogrio
    from pyogrio import raw

    name = Path(path).name
    with vector_source(path, settings) as (local, fmt), _gdal_messages(name):
        _require_safe_gdal(name)
        label = {"geojson": "GeoJSON", "gpkg": "GeoPackage", "shp": "Shapefile"}[fmt]
        try:
            driver = pyogrio.read_info(local)["driver"]
            if driver != ALLOWED_GDAL_DRIVERS[fmt]:
                log.info("%s opened by GDAL driver %s, not %s", name, driver, ALLOWED_GDAL_DRIVERS[fmt])
                raise _bad(name, f"不是有效的 {label}", f"is not a valid {label}")
            layers = pyogrio.list_layers(local)
            if layer is None and len(layers) > 1:
                polygon_layers = [str(n) for n, kind in layers
                                  if kind and "polygon" in str(kind).lower()]
                if len(polygon_layers) != 1:
                    names = ", ".join(str(n) for n, _ in layers)
                    raise _bad(name, f"包含多个图层（{names}），请指定图层",
                               f"has several layers ({names}); name one")
                layer = polygon_layers[0]
            encoding = "UTF-8" if fmt == "shp" and not local.with_suffix(".cpg").exists() else None
            meta, _, wkb, field_data = raw.read(local, layer=layer, encoding=encoding, force_2d=True)
        except InvalidFile:
            raise
        except Exception:
            raise _bad(name, f"无法读取：不是有效的 {label} 或已损坏",
                       f"cannot be read: not a valid {label} or damaged") from None
    geometries = np.array([None] * len(field_data[0]) if field_data else [], dtype=object)
    if wkb is not None:
        geometries = np.empty(len(wkb), dtype=object)
        for i, blob in enumerate(wkb):
            if blob is None:
                geometries[i] = None
                continue
            try:
                geometries[i] = shapely.from_wkb(blob)
            except shapely.errors.GEOSException:
                geometries[i] = None
    names = [str(n) for n in meta["fields"]]
    fields = {name: list(values) for name, values in zip(names, field_data)}
    return VectorLayer(geometries=geometries, fields=fields, crs=meta.get("crs"),
                       source_format=fmt, layer_name=layer)


# ---------------------------------------------------------------------------- tables

def _decode(data: bytes, name: str) -> str:
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise _bad(name, "编码无法识别（请使用 UTF-8 或 GBK）", "has an unknown text encoding (use UTF-8 or GBK)")


def read_table(path: Path, settings: ImportSettings) -> tuple[list[str], list[list[str]]]:
    """Read a CSV or XLSX file into a header and rows of strings.

    CSV may be UTF-8 (with or without BOM) or GBK/GB18030, as Excel writes it in China.
    XLSX is a zip: it passes :func:`check_zip` (entries, size, compression ratio) before
    openpyxl reads it, under defusedxml (no entity expansion). Rows are counted while they
    are read: past ``settings.max_rows`` the read stops at once with :class:`TooLarge`,
    so a file that expands to millions of rows is never held in memory.
    """
    path = _local_file(Path(path))
    fmt = TABLE_SUFFIXES.get(path.suffix.lower())
    if fmt is None:
        raise _bad(path.name, "格式不支持（接受 CSV 或 XLSX）", "has an unsupported format (CSV or XLSX)")
    check_upload_size(path, settings)
    rows: list[list[str]] = []
    with contextlib.closing(_csv_rows(path) if fmt == "csv" else _xlsx_rows(path, settings)) as raw_rows:
        for row in raw_rows:
            if not any(cell.strip() for cell in row):
                continue
            if len(rows) > settings.max_rows:  # the header plus max_rows rows already
                raise TooLarge(f"文件 {path.name} 超过 {settings.max_rows} 行的上限，已停止读取",
                               f"file {path.name} has more than {settings.max_rows} rows, the limit; reading stopped")
            rows.append(row)
    if not rows:
        raise _bad(path.name, "是空的（没有表头）", "is empty (no header row)")
    header = [h.strip().lstrip("\ufeff") for h in rows[0]]
    return header, rows[1:]


def _csv_rows(path: Path) -> Iterator[list[str]]:
    data = path.read_bytes()
    if b"\x00" in data[:4096]:
        raise _bad(path.name, "不是文本 CSV 文件", "is not a text CSV file")
    text = _decode(data, path.name)
    try:
        dialect = csv.Sniffer().sniff(text[:4096], delimiters=",\t;")
    except csv.Error:
        dialect = csv.excel
    try:
        # newline="", as the csv module requires: a bare CR (old Mac files) ends a row
        # instead of failing; whatever it still cannot parse is the file's fault.
        yield from csv.reader(io.StringIO(text, newline=""), dialect)
    except csv.Error:
        raise _bad(path.name, "无法按 CSV 解析（引号或换行不匹配）",
                   "cannot be parsed as CSV (unbalanced quotes or line breaks)") from None


def _xlsx_rows(path: Path, settings: ImportSettings) -> Iterator[list[str]]:
    import openpyxl
    from openpyxl.xml import DEFUSEDXML

    # openpyxl parses through defusedxml (no entity expansion) whenever it is installed.
    assert DEFUSEDXML, "defusedxml must be installed to read XLSX safely"

    if _head(path, 4) != _ZIP_MAGIC:
        raise _bad(path.name, "不是 XLSX 文件", "is not an XLSX file")
    check_zip(path, settings)
    try:
        book = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except Exception:
        raise _damaged_xlsx(path) from None
    try:
        sheet = book.worksheets[0]
        # Rows as long as their cells, not as wide as the dimension the file declares
        # (A1:XFD1048576 would pad every row to 16,384 cells).
        sheet.reset_dimensions()
        for values in sheet.iter_rows(values_only=True):
            yield ["" if v is None else _cell_text(v) for v in values]
    except Exception:
        # The sheet is parsed as it is read: broken XML far down the file shows up here.
        raise _damaged_xlsx(path) from None
    finally:
        book.close()


def _damaged_xlsx(path: Path) -> InvalidFile:
    return _bad(path.name, "无法读取：不是有效的 XLSX 或已损坏", "cannot be read: not a valid XLSX or damaged")


def _cell_text(value: object) -> str:
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    return str(value)


def map_columns(header: list[str], aliases: dict[str, tuple[str, ...]], *, name: str,
                required: tuple[str, ...]) -> dict[str, int]:
    """Map canonical column names to indexes using English or Chinese aliases."""
    normalised = [h.strip().lower().replace(" ", "") for h in header]
    found: dict[str, int] = {}
    for canonical, names in aliases.items():
        for alias in (canonical, *names):
            key = alias.lower().replace(" ", "")
            if key in normalised:
                found[canonical] = normalised.index(key)
                break
    missing = [c for c in required if c not in found]
    if missing:
        raise _bad(name, f"缺少列：{', '.join(missing)}（表头为：{', '.join(header)}）",
                   f"lacks the column(s) {', '.join(missing)} (header is: {', '.join(header)})")
    return found
