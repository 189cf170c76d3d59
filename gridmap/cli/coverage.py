"""``gridmap coverage CODE``: the coverage report of a grid and its subtree."""

from __future__ import annotations

from typing import Annotated

import typer

from gridmap.cli import JsonOpt, app, context, emit, out

_SHOWN = 10


def _codes(codes: list[str]) -> str:
    more = f" … (+{len(codes) - _SHOWN})" if len(codes) > _SHOWN else ""
    return ", ".join(codes[:_SHOWN]) + more


@app.command("coverage")
def coverage(
    ctx: typer.Context,
    code: Annotated[str, typer.Argument(help="网格编码 / grid code (district, township, village …)")],
    set_id: Annotated[int | None, typer.Option("--set", min=1, help="边界版本编号（默认生效版本）/ boundary set id (default: active)")] = None,
    store: Annotated[bool, typer.Option("--store/--no-store", help="保存评分供地图着色 / keep scores for the map")] = True,
    as_json: JsonOpt = False,
) -> None:
    """覆盖检查：缺口、重叠、越界、人员配备、企业落格、评分 / coverage report: gaps,
    overlaps, outside parent, staffing, enterprise placement, score per grid."""
    from gridmap.coverage import STATUS_NAMES, coverage_report, describe_failure, store_report

    cli = context(ctx)
    with cli.session() as session:
        report = coverage_report(session, code, set_id=set_id, settings=cli.settings.coverage)
        if store:
            store_report(session, report)

    def human() -> None:
        def line(text: str) -> None:
            out.print(text, markup=False)

        def status(key: str) -> str:
            return " / ".join(STATUS_NAMES[key])

        summary = report["summary"]
        line(f"覆盖检查 / coverage {report['code']} {report['name']} ({report['level']}), "
             f"边界版本 / set {report['set_id']}: 评分 / score {report['score']} ({status(report['status'])}); "
             f"{summary['grids']} grids: {summary['ok']} {status('ok')}, {summary['warning']} {status('warning')}, "
             f"{summary['problem']} {status('problem')}")
        for key, zh in (("gaps", "缺口"), ("overlaps", "重叠"), ("outside_parent", "越界")):
            section = report[key]
            line(f"  {zh} / {key}: {section['count']}, {section['area_m2']:,.1f} m²")
            for feature in section["features"][:_SHOWN]:
                props = feature["properties"]
                what = " × ".join(props["codes"]) + " " if "codes" in props else \
                    props["code"] + " " if "code" in props else ""
                line(f"    {what}(in {props['parent_code']}): {props['area_m2']:,.1f} m²")
        slivers = report["slivers"]
        line(f"  忽略的细缝 / slivers below {slivers['tolerance_m2']} m²: {slivers['count']}, "
             f"{slivers['area_m2']:.6f} m²")
        missing = report["no_first_responsible"]
        line(f"  无第一责任人 / no first responsible: {len(missing)}"
             + (f" ({_codes(missing)})" if missing else ""))
        villages = report["villages_understaffed"]
        line(f"  巡查员不足的村/社区 / villages short of patrol officers: {len(villages)}")
        for village in villages[:_SHOWN]:
            line(f"    {village['code']} {village['name']}: {village['patrol_officers']}/{village['required']}")
        townships = report["townships_understaffed"]
        line(f"  安全员配备不达标的街道/镇 / townships short of staff: {len(townships)}")
        for township in townships[:_SHOWN]:
            line(f"    {township['code']} {township['name']}:")
            for failure in township["failures"]:
                line(f"      {describe_failure(failure)} / {describe_failure(failure, 'en')}")
        enterprises = report["enterprises"]
        placed = ", ".join(f"{k} {v}" for k, v in enterprises["by_placement"].items() if v)
        line(f"  企业 / enterprises: {enterprises['total']}" + (f" ({placed})" if placed else ""))
        for kind in ("unplaced", "conflict", "ambiguous", "snapped"):
            if enterprises[kind]:
                line(f"    {kind}: {_codes([e['uscc'] for e in enterprises[kind]])}")
        stale = report["stale"]
        if stale["available"]:
            line(f"  超过 {stale['days']} 天无活动 / no activity in {stale['days']} days: {len(stale['grids'])}")
        else:
            line("  活动记录（检查/巡查/隐患）尚未启用 / stale check unavailable: no activity records yet")
        worst = sorted((g for g in report["grids"] if g["status"] != "ok"), key=lambda g: (g["score"], g["code"]))
        if worst:
            line("  评分最低 / lowest scores:")
            for grid in worst[:_SHOWN]:
                reasons = ", ".join(f"{k} -{v:g}" for k, v in grid["penalties"].items() if v)
                line(f"    {grid['score']:>5} {STATUS_NAMES[grid['status']][0]} {grid['code']} {grid['name']}: {reasons}")

    emit(report, as_json, human)
