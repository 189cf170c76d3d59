"""``gridmap hazards …`` and ``gridmap escalate``: the operator's side of the loop."""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from gridmap.cli import app, context, emit, out
from gridmap.cli.commands import import_app
from gridmap.errors import NotFound

hazards_app = typer.Typer(help="隐患 / hazards.", no_args_is_help=True)
app.add_typer(hazards_app, name="hazards")
JsonOpt = Annotated[bool, typer.Option("--json", help="只输出 JSON / print only JSON on stdout")]


def _line(h: dict) -> str:
    late = " 逾期/overdue" if h["overdue"] else ""
    return (f"#{h['id']:<6} {h['status_zh']}({h['status']}) {h['grade']:<7} {h['grid_code'] or '-':<14} "
            f"{h['category']:<22} {h['description'][:30]}{late}")


@hazards_app.command("list")
def hazards_list(ctx: typer.Context,
                 grid: Annotated[Optional[str], typer.Option(help="网格编码 / grid code")] = None,
                 status: Annotated[Optional[str], typer.Option(help="状态 / status")] = None,
                 overdue: Annotated[bool, typer.Option("--overdue", help="只看逾期 / overdue only")] = False,
                 limit: Annotated[int, typer.Option(help="条数 / rows")] = 50,
                 as_json: JsonOpt = False) -> None:
    """隐患列表 / list hazards."""
    from gridmap.auth import Scope
    from gridmap.hazards import list_hazards

    with context(ctx).session() as session:
        data, count = list_hazards(session, scope=Scope.everything(), grid=grid, status=status,
                                   overdue=True if overdue else None, limit=limit)

    def human() -> None:
        out.print(f"共 {count} 条 / {count} hazards", markup=False)
        for h in data:
            out.print(_line(h), markup=False)

    emit({"data": data, "count": count}, as_json, human)


@hazards_app.command("show")
def hazards_show(ctx: typer.Context, hazard_id: Annotated[int, typer.Argument()], as_json: JsonOpt = False) -> None:
    """隐患详情与处置记录 / a hazard with its events."""
    from gridmap.auth import Scope
    from gridmap.hazards import hazard_detail

    with context(ctx).session() as session:
        detail = hazard_detail(session, hazard_id, Scope.everything())

    def human() -> None:
        out.print(_line(detail), markup=False)
        for e in detail["events"]:
            arrow = f"{e['from_status'] or ''}→{e['to_status'] or ''}" if e["to_status"] else ""
            out.print(f"  {e['seq']:>3} {e['at']:%Y-%m-%d %H:%M} {e['actor']:<12} {e['action']:<16} {arrow} {e['note'] or ''}",
                      markup=False)

    emit(detail, as_json, human)


@hazards_app.command("transition")
def hazards_transition(ctx: typer.Context, hazard_id: Annotated[int, typer.Argument()],
                       to: Annotated[str, typer.Option("--to", help="目标状态 / target state")],
                       actor: Annotated[str, typer.Option("--as", help="以该用户身份操作 / act as this user")],
                       note: Annotated[Optional[str], typer.Option(help="说明 / note")] = None,
                       duplicate_of: Annotated[Optional[int], typer.Option(help="重复的隐患 / duplicate of")] = None,
                       as_json: JsonOpt = False) -> None:
    """流转隐患 / move a hazard to another state, as a named user (their role and scope apply)."""
    from sqlalchemy import select

    from gridmap.auth import Scope
    from gridmap.hazards import hazard_public, transition
    from gridmap.models import User

    with context(ctx).session() as session:
        user = session.scalar(select(User).where(User.username == actor, User.active))
        if user is None:
            raise NotFound(f"用户 {actor} 不存在或已停用", f"user {actor} does not exist or is disabled")
        hazard = hazard_public(transition(session, hazard_id, to=to, actor=user, scope=Scope.of(user),
                                          note=note, duplicate_of=duplicate_of))
    emit(hazard, as_json, lambda: out.print(_line(hazard), markup=False))


@app.command("escalate")
def escalate(ctx: typer.Context, as_json: JsonOpt = False) -> None:
    """逾期隐患逐级升级 / escalate each overdue hazard one level up the grid hierarchy."""
    from gridmap.hazards import escalate_overdue

    cli = context(ctx)
    with cli.session() as session:
        done = escalate_overdue(session, settings=cli.settings.hazards)

    def human() -> None:
        out.print(f"升级 {len(done)} 条逾期隐患 / escalated {len(done)} overdue hazards", markup=False)
        for item in done:
            people = "、".join(p["name"] for p in item["responsible"]) or "-"
            out.print(f"  #{item['hazard_id']} → {item['target_name'] or item['target_code']} "
                      f"(level {item['level']}, {item['overdue_days']} 天逾期) 责任人 {people}", markup=False)

    emit(done, as_json, human)


@import_app.command("hazards")
def import_hazards_command(
    ctx: typer.Context,
    file: Annotated[str, typer.Argument(help="CSV / XLSX 隐患台账 / hazard register from another system")],
    as_json: JsonOpt = False,
) -> int:
    """导入隐患台账 / import a hazard register (exit 3 when rows were rejected)."""
    from pathlib import Path

    from gridmap.enterprises import write_rejects
    from gridmap.hazards import import_hazards

    cli = context(ctx)
    path = Path(file)
    with cli.session() as session:
        report = import_hazards(session, path, settings=cli.settings.hazards, import_settings=cli.settings.imports,
                                tolerance_m=cli.settings.placement.snap_tolerance_m)
    rejects = path.with_name(f"{path.stem}.rejects.csv")
    if report["rejected"]:
        write_rejects(rejects, report["rejected"])
    elif rejects.exists():
        rejects.unlink()

    def human() -> None:
        rows = len({r["row"] for r in report["rejected"]})
        out.print(f"{report['rows']} 行：新增 {report['added']}，已有 {report['unchanged']}，拒绝 {rows} / "
                  f"{report['rows']} rows: {report['added']} added, {report['unchanged']} already there, "
                  f"{rows} rejected; by status {report['by_status']}", markup=False)
        if report["rejected"]:
            out.print(f"  被拒绝的行见 / rejected rows listed in {rejects}", markup=False)

    emit(report, as_json, human)
    return 3 if report["rejected"] else 0
