"""Reading user files safely: vector layers (GeoJSON, GeoPackage, Shapefile, zipped
Shapefile) and tables (CSV, XLSX).

Only these formats are accepted. A file's content must match its extension before GDAL
ever sees it (GDAL would otherwise open an XML file named ``.geojson`` as a VRT that
reads other files or the network); zips are checked before extraction (entry count,
uncompressed size, compression ratio, no ``..`` or absolute names) and extracted into a
private temporary directory, never read through ``/vsizip/`` or ``/vsicurl/``.
"""

from __future__ import annotations

import contextlib
import csv
import io
import os
import re
import shutil
import tempfile
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

# Drivers that can make GDAL read other files or the network; we never need them. Must be
# set before GDAL registers its drivers (first import of pyogrio).
os.environ.setdefault("GDAL_SKIP", "GDALG OGR_VRT VRT HTTP")
os.environ.setdefault("CPL_VSIL_CURL_ALLOWED_EXTENSIONS", ".gridmap-no-network")
os.environ.setdefault("GDAL_HTTP_TIMEOUT", "1")

import numpy as np  # noqa: E402
import shapely  # noqa: E402

from gridmap.errors import InvalidFile, TooLarge  # noqa: E402
from gridmap.settings import ImportSettings  # noqa: E402

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


def read_vector(path: Path, settings: ImportSettings, *, layer: str | None = None) -> VectorLayer:
    """Read one layer of a vector file into shapely geometries and field lists."""
    import pyogrio
    from pyogrio import raw

    with vector_source(path, settings) as (local, fmt):
        try:
            layers = pyogrio.list_layers(local)
            if layer is None and len(layers) > 1:
                polygon_layers = [str(name) for name, kind in layers
                                  if kind and "polygon" in str(kind).lower()]
                if len(polygon_layers) != 1:
                    names = ", ".join(str(n) for n, _ in layers)
                    raise _bad(Path(path).name, f"包含多个图层（{names}），请指定图层",
                               f"has several layers ({names}); name one")
                layer = polygon_layers[0]
            encoding = "UTF-8" if fmt == "shp" and not local.with_suffix(".cpg").exists() else None
            meta, _, wkb, field_data = raw.read(local, layer=layer, encoding=encoding, force_2d=True)
        except InvalidFile:
            raise
        except Exception:
            label = {"geojson": "GeoJSON", "gpkg": "GeoPackage", "shp": "Shapefile"}[fmt]
            raise _bad(Path(path).name, f"无法读取：不是有效的 {label} 或已损坏",
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
    XLSX is read with openpyxl under defusedxml (no entity expansion).
    """
    path = _local_file(Path(path))
    fmt = TABLE_SUFFIXES.get(path.suffix.lower())
    if fmt is None:
        raise _bad(path.name, "格式不支持（接受 CSV 或 XLSX）", "has an unsupported format (CSV or XLSX)")
    check_upload_size(path, settings)
    if fmt == "csv":
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
            rows = [list(r) for r in csv.reader(io.StringIO(text, newline=""), dialect)]
        except csv.Error:
            raise _bad(path.name, "无法按 CSV 解析（引号或换行不匹配）",
                       "cannot be parsed as CSV (unbalanced quotes or line breaks)") from None
    else:
        rows = _read_xlsx(path)
    rows = [r for r in rows if any(cell.strip() for cell in r)]
    if not rows:
        raise _bad(path.name, "是空的（没有表头）", "is empty (no header row)")
    if len(rows) - 1 > settings.max_rows:
        raise TooLarge(f"文件 {path.name} 有 {len(rows) - 1} 行，超过上限 {settings.max_rows}",
                       f"file {path.name} has {len(rows) - 1} rows, above the limit {settings.max_rows}")
    header = [h.strip().lstrip("\ufeff") for h in rows[0]]
    return header, rows[1:]


def _read_xlsx(path: Path) -> list[list[str]]:
    import openpyxl
    from openpyxl.xml import DEFUSEDXML

    # openpyxl parses through defusedxml (no entity expansion) whenever it is installed.
    assert DEFUSEDXML, "defusedxml must be installed to read XLSX safely"

    if _head(path, 4) != _ZIP_MAGIC:
        raise _bad(path.name, "不是 XLSX 文件", "is not an XLSX file")
    try:
        book = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except Exception:
        raise _bad(path.name, "无法读取：不是有效的 XLSX 或已损坏",
                   "cannot be read: not a valid XLSX or damaged") from None
    try:
        sheet = book.worksheets[0]
        rows = []
        for values in sheet.iter_rows(values_only=True):
            rows.append(["" if v is None else _cell_text(v) for v in values])
        return rows
    finally:
        book.close()


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
