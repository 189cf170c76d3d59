"""``gridmap report township CODE -o FILE.html``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from gridmap.cli import app, context, out

report_app = typer.Typer(help="报告 / reports.", no_args_is_help=True)
app.add_typer(report_app, name="report")


@report_app.command("township")
def township(
    ctx: typer.Context,
    code: Annotated[str, typer.Argument(help="街道/镇编码 / township code")],
    output: Annotated[Path, typer.Option("-o", "--output", help="输出 HTML 文件 / output HTML file")],
) -> None:
    """街道/镇网格化监管报告（离线可打开的单个 HTML 文件）/ a township leader's report (one offline HTML file)."""
    from gridmap.report import township_report
    from gridmap.taxonomy import load_sectors

    cli = context(ctx)
    sectors = load_sectors(cli.settings.taxonomy.sectors_file)
    with cli.session() as session:
        page = township_report(session, code, settings=cli.settings.coverage, sectors=sectors)
    output.write_text(page, encoding="utf-8")
    out.print(f"已生成报告 / report written: {output} ({len(page.encode()) // 1024} KB)", markup=False)
