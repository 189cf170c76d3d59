"""``gridmap stats CODE``: the assessment table (考核) and the township ranking."""

from __future__ import annotations

from typing import Annotated

import typer
from rich import box
from rich.console import Console
from rich.table import Table

from gridmap.cli import JsonOpt, app, context, emit, out, parse_day

_GRADE_STYLE = {"green": "green", "yellow": "yellow", "red": "red", "none": "dim"}


def _rate(value: float | None) -> str:
    return "—" if value is None else f"{value:.1%}"


#: Column headers: Chinese over a short English label.
_HEADERS = (("排名", "rank"), ("编码", "code"), ("名称", "name"), ("检查企业", "ent."), ("检查次数", "insp."),
            ("隐患（一般/重大）", "hazards (gen/maj)"), ("整改销号", "rectified"), ("整改率", "rate"),
            ("逾期", "overdue"), ("立案", "cases"), ("罚款（元）", "fines"), ("计划完成", "plan"), ("等级", "grade"))


def _table(title: str, rows: list[dict], ranked: bool) -> Table:
    table = Table(title=title, title_justify="left", box=box.SIMPLE_HEAD, pad_edge=False)
    for index, (zh, en) in enumerate(_HEADERS):
        if index == 0 and not ranked:
            continue
        table.add_column(f"{zh}\n{en}", justify="left" if index in (1, 2, 12) else "right", no_wrap=True)
    for row in rows:
        style = _GRADE_STYLE[row["grade"]]
        cells = [row["code"], row["name"] or "-", str(row["enterprises_inspected"]), str(row["inspections"]),
                 f"{row['hazards_found']} ({row['hazards_general']}/{row['hazards_major']})",
                 str(row["rectified"]), _rate(row["rectification_rate"]), str(row["overdue"]),
                 str(row["cases_filed"]), f"{row['fines']:,.2f}", _rate(row["plan_completion"]),
                 f"[{style}]{row['grade']}[/{style}]"]
        table.add_row(*([str(row["rank"])] if ranked else []), *cells)
    return table


@app.command("stats")
def stats(
    ctx: typer.Context,
    code: Annotated[str, typer.Argument(help="网格编码（区县、街道/镇或村）/ grid code (district, township, village)")],
    date_from: Annotated[str | None, typer.Option("--from", help="起始日期（含）YYYY-MM-DD，默认本年 1 月 1 日 / first day")] = None,
    date_to: Annotated[str | None, typer.Option("--to", help="截止日期（不含）YYYY-MM-DD / day after the last")] = None,
    villages: Annotated[bool, typer.Option("--villages", help="同时列出各村/社区 / also list the villages")] = False,
    as_json: JsonOpt = False,
) -> None:
    """考核统计与街镇排名 / assessment: inspections, hazards, rectification rate, overdue,
    cases, fines and plan completion per township, ranked with colour grades."""
    from gridmap.auth import Scope
    from gridmap.stats import assessment

    cli = context(ctx)
    start, end = parse_day(date_from, "--from"), parse_day(date_to, "--to")
    with cli.session() as session:
        report = assessment(session, code, scope=Scope.everything(), settings=cli.settings.stats,
                            date_from=start, date_to=end)

    def human() -> None:
        total = report["total"]
        out.print(f"考核统计 / assessment {report['code']} {report['name']}  "
                  f"{report['from']} – {report['to']}（不含 / exclusive）", markup=False)
        out.print(f"合计 / total: 检查 {total['inspections']} 次（{total['enterprises_inspected']} 家企业）, "
                  f"隐患 {total['hazards_found']}（重大 {total['hazards_major']}）, 整改率 "
                  f"{_rate(total['rectification_rate'])}, 逾期 {total['overdue']}, 立案 {total['cases_filed']}, "
                  f"罚款 {total['fines']:,.2f} 元 / inspections {total['inspections']}, hazards "
                  f"{total['hazards_found']}, rate {_rate(total['rectification_rate'])}, overdue {total['overdue']}",
                  markup=False)
        thresholds = report["thresholds"]
        out.print(f"等级 / grades: green ≥ {thresholds['green_rate']:.0%}, yellow ≥ {thresholds['yellow_rate']:.0%}, "
                  "red below, none = no hazards", markup=False)
        # Piped output is not squeezed to 80 columns; a terminal gets its own width.
        console = out if out.is_terminal else Console(width=160, highlight=False)
        if report["townships"]:
            console.print(_table("街镇排名 / township ranking", report["townships"], True))
        if villages and report["villages"]:
            console.print(_table("村/社区 / villages", report["villages"], False))

    emit(report, as_json, human)
