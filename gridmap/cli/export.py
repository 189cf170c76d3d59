"""``gridmap export CODE``: GIS files for higher authorities (GeoPackage, Shapefile, GeoJSON,
KML, CSV, XLSX ledgers)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from gridmap.cli import JsonOpt, app, context, emit, err, out
from gridmap.errors import InvalidInput

_BY_SUFFIX = {".gpkg": "gpkg", ".geojson": "geojson", ".json": "geojson", ".kml": "kml", ".csv": "csv",
              ".xlsx": "xlsx"}
_FORMAT_NAMES = {"gpkg": "GeoPackage", "shp": "Shapefile (zip)", "geojson": "GeoJSON", "kml": "KML",
                 "csv": "CSV", "xlsx": "XLSX"}


def _format(fmt: str | None, output: Path | None) -> str:
    if fmt:
        return fmt.strip().lower()
    if output is not None and output.suffix.lower() in _BY_SUFFIX:
        return _BY_SUFFIX[output.suffix.lower()]
    raise InvalidInput("请用 --format 指定格式（gpkg, shp, geojson, kml, csv, xlsx）",
                       "give the format with --format (gpkg, shp, geojson, kml, csv, xlsx)")


@app.command("export")
def export_command(
    ctx: typer.Context,
    code: Annotated[str, typer.Argument(help="网格编码，导出其下级全部 / grid code whose subtree is exported")],
    fmt: Annotated[str | None, typer.Option("--format", "-f", help="gpkg | shp | geojson | kml | csv | xlsx（默认按 -o 的扩展名）")] = None,
    output: Annotated[Path | None, typer.Option("--output", "-o", help="输出文件或目录（默认当前目录，自动命名）/ output file or directory")] = None,
    layers: Annotated[str | None, typer.Option(help="grids,persons,enterprises,hazards（默认全部 / default all）")] = None,
    crs: Annotated[str | None, typer.Option(help="4490（CGCS2000，默认）| 4326；GeoJSON/KML 固定 4326")] = None,
    set_id: Annotated[int | None, typer.Option("--set", min=1, help="边界版本（默认生效版本）/ boundary set id")] = None,
    scope: Annotated[str | None, typer.Option(help="只导出该网格范围内的数据（默认全部）/ restrict to this grid's scope")] = None,
    lang: Annotated[str, typer.Option(help="CSV/XLSX 表头语言 zh | en")] = "zh",
    book: Annotated[str | None, typer.Option(help="XLSX 台账：township（一镇一册）| village（一村一册）| department（一部门一册）")] = None,
    as_json: JsonOpt = False,
) -> None:
    """导出 GIS 数据给上级部门 / export GIS data for higher authorities.

    Shapefile is always a zip; CSV and GeoJSON are a zip when several layers are exported
    (name the output *.zip, or pick one layer with --layers).
    """
    from gridmap.auth import Scope
    from gridmap.codes import validate_code
    from gridmap.export import download_name, expected_suffixes, plan_export, write_export
    from gridmap.exports.catalogue import Labels

    cli = context(ctx)
    fmt = _format(fmt, output)
    who = Scope.everything() if scope is None else Scope(code=validate_code(scope), role="authority",
                                                        username="gridmap-cli")
    labels = Labels.load(cli.settings.taxonomy.sectors_file, cli.settings.taxonomy.hazard_categories_file)
    with cli.session() as session:
        plan = plan_export(session, code, scope=who, fmt=fmt, set_id=set_id, layers=layers, crs=crs, labels=labels)
        if output is None or output.is_dir():
            target = (output or Path.cwd()) / download_name(plan, fmt)
        else:
            target = output
            suffixes = expected_suffixes(plan, fmt)
            if not target.name.lower().endswith(suffixes):
                raise InvalidInput(
                    f"输出文件应以 {' 或 '.join(suffixes)} 结尾（{fmt} 导出 {len(plan.layers)} 个图层）；"
                    "或用 --layers 只选一个图层",
                    f"the output file should end with {' or '.join(suffixes)} ({fmt} export of "
                    f"{len(plan.layers)} layers); or pick one layer with --layers")
        if as_json:
            result = write_export(session, plan, fmt, target, lang=lang, book=book)
        else:
            with err.status(f"导出中 / exporting {plan.total_rows} rows …"):
                result = write_export(session, plan, fmt, target, lang=lang, book=book)

    def human() -> None:
        line = lambda text: out.print(text, markup=False)
        zipped = "，zip" if result.zipped else ""
        line(f"已导出 / exported {plan.code} {plan.name} → {result.path} "
             f"（{_FORMAT_NAMES[fmt]}{zipped}，EPSG:{plan.crs}，边界版本 / boundary set {plan.set_id}）")
        for layer in plan.layers:
            line(f"  {layer.spec.name:<18} {layer.spec.title_zh} / {layer.spec.title_en}: {layer.rows}")
        zh, en = plan.synthetic_statement
        line(f"  {zh}")
        line(f"  {en}")

    emit(result.as_dict(), as_json, human)
