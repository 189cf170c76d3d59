"""``gridmap plans …`` (inspection plans and the double-random draw, 双随机) and
``gridmap inspections list``.

``plans verify`` re-runs a recorded draw from its seed, share, targets and pool and
exits 1 when the result differs from what was recorded.
"""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from gridmap.cli import ActorOpt, JsonOpt, acting_user, app, context, emit, out, parse_day

plans_app = typer.Typer(help="检查计划与双随机抽取 / inspection plans and the double-random draw.",
                        no_args_is_help=True)
inspections_app = typer.Typer(help="执法检查 / inspections.", no_args_is_help=True)
app.add_typer(plans_app, name="plans")
app.add_typer(inspections_app, name="inspections")


def _summary(plan: dict) -> str:
    done = "—" if plan["completion"] is None else f"{plan['completion']:.0%}"
    seed = f" seed {plan['seed']}" if plan["seed"] else ""
    return (f"#{plan['id']:<5} {plan['township_code']} {plan['township_name'] or ''} {plan['period']:<7} "
            f"{plan['status']:<6} 对象/targets {plan['targets_count']}, 抽中/selected {plan['selected_count']}, "
            f"完成/done {done}{seed}  {plan['name']}")


def _person(ref: dict | None) -> str:
    return f"{ref['name']}({ref['id']})" if ref else "-"


def _show_plan(detail: dict) -> None:
    out.print(_summary(detail), markup=False)
    if detail["pool"] is not None:
        out.print(f"  人员库 / pool ({len(detail['pool'])}): {', '.join(map(str, detail['pool']))}", markup=False)
    for target in detail["targets"]:
        if target["selected"]:
            out.print(f"  {target['uscc']} {target['name']:<20} {target['grid_code'] or '-':<14} "
                      f"{_person(target['inspector_a'])} + {_person(target['inspector_b'])}"
                      f"{' 已检查/inspected' if target['inspection_ids'] else ''}", markup=False)


@plans_app.command("list")
def plans_list(ctx: typer.Context,
               township: Annotated[Optional[str], typer.Option(help="街道/镇编码 / township code")] = None,
               limit: Annotated[int, typer.Option(help="条数 / rows")] = 50, as_json: JsonOpt = False) -> None:
    """检查计划列表 / list inspection plans, newest first."""
    from gridmap.auth import Scope
    from gridmap.inspections import list_plans

    with context(ctx).session() as session:
        data, count = list_plans(session, scope=Scope.everything(), township=township, limit=limit)

    def human() -> None:
        out.print(f"共 {count} 个计划 / {count} plans", markup=False)
        for plan in data:
            out.print(_summary(plan), markup=False)

    emit({"data": data, "count": count}, as_json, human)


@plans_app.command("show")
def plans_show(ctx: typer.Context, plan_id: Annotated[int, typer.Argument()], as_json: JsonOpt = False) -> None:
    """检查计划：抽中的企业与执法人员 / a plan with its draw (selected enterprises and pairs)."""
    from gridmap.auth import Scope
    from gridmap.inspections import plan_detail

    with context(ctx).session() as session:
        detail = plan_detail(session, plan_id, Scope.everything())
    emit(detail, as_json, lambda: _show_plan(detail))


@plans_app.command("create")
def plans_create(ctx: typer.Context,
                 township: Annotated[str, typer.Argument(help="街道/镇（或区级直辖网格）编码 / township code")],
                 period: Annotated[str, typer.Argument(help="2026 或 2026Q3 / a year or a quarter")],
                 name: Annotated[str, typer.Argument(help="计划名称 / plan name")],
                 actor: ActorOpt,
                 share: Annotated[float, typer.Option(help="抽查比例 / share drawn")] = 0.2,
                 uscc: Annotated[Optional[list[str]], typer.Option(
                     help="检查对象（可多次；默认该镇全部已落格企业）/ a target (repeatable)")] = None,
                 as_json: JsonOpt = False) -> None:
    """新建检查计划 / create an inspection plan (draft) with its target list."""
    from gridmap.auth import Scope
    from gridmap.inspections import create_plan, plan_detail

    with context(ctx).session() as session:
        user = acting_user(session, actor)
        plan = create_plan(session, {"township_code": township, "period": period, "name": name, "share": share,
                                     "usccs": uscc or None}, scope=Scope.of(user))
        detail = plan_detail(session, plan.id, Scope.of(user))
    emit(detail, as_json, lambda: out.print(_summary(detail), markup=False))


@plans_app.command("draw")
def plans_draw(ctx: typer.Context, plan_id: Annotated[int, typer.Argument()], actor: ActorOpt,
               seed: Annotated[Optional[int], typer.Option(help="随机种子（默认随机并记录）/ seed (default: random, recorded)")] = None,
               share: Annotated[Optional[float], typer.Option(help="抽查比例（默认按计划）/ share (default: the plan's)")] = None,
               force: Annotated[bool, typer.Option("--force", help="重新抽取（仅管理员）/ redraw (admins only)")] = False,
               as_json: JsonOpt = False) -> None:
    """双随机抽取 / run the double-random draw of a plan and record it."""
    from gridmap.auth import Scope
    from gridmap.inspections import draw_plan, plan_detail

    with context(ctx).session() as session:
        user = acting_user(session, actor)
        draw_plan(session, plan_id, scope=Scope.of(user), share=share, seed=seed, force=force)
        detail = plan_detail(session, plan_id, Scope.of(user))
    emit(detail, as_json, lambda: _show_plan(detail))


@plans_app.command("verify")
def plans_verify(ctx: typer.Context, plan_id: Annotated[int, typer.Argument()], as_json: JsonOpt = False) -> int:
    """复核抽取 / re-run a plan's draw from its recorded seed and pool (exit 1 when different)."""
    from gridmap.auth import Scope
    from gridmap.inspections import verify_draw

    with context(ctx).session() as session:
        result = verify_draw(session, plan_id, scope=Scope.everything())

    def human() -> None:
        if result["identical"]:
            out.print(f"计划 #{plan_id} 的抽取可复现：与记录一致（{result['selected']} 家，种子 {result['seed']}）/ "
                      f"identical: the recorded draw is reproduced ({result['selected']} selected)", markup=False)
            return
        out.print(f"计划 #{plan_id} 的抽取与记录不一致：{len(result['differences'])} 处 / different: "
                  f"{len(result['differences'])} enterprises differ from the record", markup=False)
        for item in result["differences"]:
            out.print(f"  {item['uscc']}: 记录/recorded {item['recorded']} 复现/reproduced {item['reproduced']}",
                      markup=False)

    emit(result, as_json, human)
    return 0 if result["identical"] else 1


@inspections_app.command("list")
def inspections_list(ctx: typer.Context,
                     grid: Annotated[Optional[str], typer.Option(help="网格编码 / grid code")] = None,
                     date_from: Annotated[Optional[str], typer.Option("--from", help="起始日期（含）YYYY-MM-DD")] = None,
                     date_to: Annotated[Optional[str], typer.Option("--to", help="截止日期（不含）YYYY-MM-DD")] = None,
                     limit: Annotated[int, typer.Option(help="条数 / rows")] = 50, as_json: JsonOpt = False) -> None:
    """执法检查列表 / list inspections, newest first."""
    from gridmap.auth import Scope
    from gridmap.inspections import list_inspections

    with context(ctx).session() as session:
        data, count = list_inspections(session, scope=Scope.everything(), grid=grid,
                                       date_from=parse_day(date_from, "--from"), date_to=parse_day(date_to, "--to"),
                                       limit=limit)

    def human() -> None:
        out.print(f"共 {count} 次检查 / {count} inspections", markup=False)
        for item in data:
            people = "、".join(p["name"] for p in item["inspectors"])
            case = " 立案/case" if item["case_filed"] else ""
            out.print(f"#{item['id']:<6} {item['inspected_on']:%Y-%m-%d} {item['enterprise_uscc']} "
                      f"{item['enterprise_name']:<20} {people} 隐患/hazards {len(item['hazards'])}{case} "
                      f"罚款/fine {item['fine_amount']:,.2f}", markup=False)

    emit({"data": data, "count": count}, as_json, human)
