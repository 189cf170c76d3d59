"""``gridmap hazards …`` and ``gridmap escalate``: the operator's side of the loop.

Commands that change a hazard act ``--as`` a named user: that user's role and scope
apply exactly as in the API, and the events name them.
"""

from __future__ import annotations

import contextlib
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Annotated, Optional

import typer

from gridmap.cli import ActorOpt, JsonOpt, acting_user, app, context, emit, out
from gridmap.cli.commands import import_app
from gridmap.errors import InvalidFile, InvalidInput

_BEIJING = timezone(timedelta(hours=8))
hazards_app = typer.Typer(help="隐患 / hazards.", no_args_is_help=True)
app.add_typer(hazards_app, name="hazards")
DeadlineOpt = Annotated[Optional[str], typer.Option(
    help="整改期限 YYYY-MM-DD[THH:MM]，北京时间 / deadline, China Standard Time")]
OfficialOpt = Annotated[Optional[str], typer.Option(help="督办人（重大隐患）/ supervising official (major)")]
PlanOpt = Annotated[Optional[str], typer.Option("--plan", help="整改方案（重大隐患）/ rectification plan (major)")]


def _line(h: dict) -> str:
    late = " 逾期/overdue" if h["overdue"] else ""
    return (f"#{h['id']:<6} {h['status_zh']}({h['status']}) {h['grade']:<7} {h['grid_code'] or '-':<14} "
            f"{h['category']:<22} {h['description'][:30]}{late}")


def _moment(value: str | None, option: str) -> datetime | None:
    if value is None:
        return None
    try:
        return datetime.fromisoformat(value.strip())
    except ValueError:
        raise InvalidInput(f"{option} 应为 YYYY-MM-DD 或 YYYY-MM-DDTHH:MM，收到 {value!r}",
                           f"{option} must be YYYY-MM-DD or YYYY-MM-DDTHH:MM, got {value!r}") from None


def _categories(cli):
    from gridmap.taxonomy import load_hazard_categories

    return load_hazard_categories(cli.settings.taxonomy.hazard_categories_file)


def _upload(session, hazard_id: int, kind: str, file: str, *, user, settings):
    from gridmap.auth import Scope
    from gridmap.hazards import add_attachment

    path = Path(file)
    try:
        stream = path.open("rb")
    except OSError:
        raise InvalidFile(f"无法读取文件 {file}", f"cannot read the file {file}") from None
    with stream:
        return add_attachment(session, hazard_id, kind=kind, filename=path.name, stream=stream, actor=user,
                              scope=Scope.of(user), settings=settings)


def _attach_specs(specs: list[str]) -> list[tuple[str, str]]:
    pairs = []
    for spec in specs:
        kind, sep, file = spec.partition("=")
        if not sep or not kind.strip() or not file.strip():
            raise InvalidInput(f"--attach 应为 类型=文件，收到 {spec!r}", f"--attach must be KIND=FILE, got {spec!r}")
        pairs.append((kind.strip(), file.strip()))
    return pairs


def _shown(value: object) -> str:
    """A changed field's value for a person: times (kept in UTC) in Beijing time."""
    if isinstance(value, str):
        with contextlib.suppress(ValueError):
            moment = datetime.fromisoformat(value)
            if moment.tzinfo is not None:
                return moment.astimezone(_BEIJING).strftime("%Y-%m-%d %H:%M")
    return "—" if value is None else str(value)


def _show_changes(event: dict, indent: str = "  ") -> None:
    """The fields an event changed, old → new."""
    for field, change in (event.get("data") or {}).get("changes", {}).items():
        default = " (默认 / default)" if change.get("default") else ""
        out.print(f"{indent}{field}: {_shown(change['old'])} → {_shown(change['new'])}{default}", markup=False)


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
            _show_changes(e, indent="        ")

    emit(detail, as_json, human)


@hazards_app.command("categories")
def hazards_categories(ctx: typer.Context, as_json: JsonOpt = False) -> None:
    """隐患类别 / the hazard categories (编号、中文名均可用于 --category)."""
    from gridmap.hazards import hazard_categories

    data = hazard_categories(_categories(context(ctx)))

    def human() -> None:
        for c in data:
            out.print(f"{c['id']:<28} {c['zh']:<16} {c['group_zh']:<8} {c['en']}", markup=False)

    emit(data, as_json, human)


@hazards_app.command("create")
def hazards_create(ctx: typer.Context,
                   category: Annotated[str, typer.Option(help="隐患类别（编号或中文名）/ category id or name")],
                   description: Annotated[str, typer.Option(help="隐患描述 / description")],
                   actor: ActorOpt,
                   lon: Annotated[Optional[float], typer.Option(help="经度 / longitude")] = None,
                   lat: Annotated[Optional[float], typer.Option(help="纬度 / latitude")] = None,
                   crs: Annotated[str, typer.Option(help="wgs84 | cgcs2000 | gcj02 | bd09")] = "wgs84",
                   enterprise: Annotated[Optional[str], typer.Option(help="企业统一社会信用代码 / enterprise USCC")] = None,
                   grade: Annotated[str, typer.Option(help="general | major")] = "general",
                   source: Annotated[str, typer.Option(
                       help="inspection | self_report | public_report | patrol")] = "inspection",
                   deadline: DeadlineOpt = None, supervising_official: OfficialOpt = None,
                   plan: PlanOpt = None, as_json: JsonOpt = False) -> None:
    """上报隐患 / record a new hazard (status reported), at a point or an enterprise."""
    from gridmap.auth import Scope
    from gridmap.hazards import create_hazard, hazard_detail

    cli = context(ctx)
    values = {"lon": lon, "lat": lat, "crs": crs, "enterprise_uscc": enterprise, "category": category,
              "grade": grade, "source": source, "description": description,
              "deadline": _moment(deadline, "--deadline"), "supervising_official": supervising_official,
              "rectification_plan": plan}
    with cli.session() as session:
        user = acting_user(session, actor)
        hazard = create_hazard(session, values, actor=user, scope=Scope.of(user), settings=cli.settings.hazards,
                               tolerance_m=cli.settings.placement.snap_tolerance_m, categories=_categories(cli))
        detail = hazard_detail(session, hazard.id, Scope.of(user))

    def human() -> None:
        out.print(f"已上报隐患 / reported hazard #{detail['id']}, 期限 / deadline "
                  f"{detail['deadline'].isoformat(timespec='minutes')}", markup=False)
        out.print(_line(detail), markup=False)

    emit(detail, as_json, human)


@hazards_app.command("transition")
def hazards_transition(ctx: typer.Context, hazard_id: Annotated[int, typer.Argument()],
                       to: Annotated[str, typer.Option("--to", help="目标状态 / target state")],
                       actor: ActorOpt,
                       note: Annotated[Optional[str], typer.Option(help="说明 / note")] = None,
                       duplicate_of: Annotated[Optional[int], typer.Option(help="重复的隐患 / duplicate of")] = None,
                       supervising_official: OfficialOpt = None, plan: PlanOpt = None,
                       grade: Annotated[Optional[str], typer.Option(help="立案时改定等级 / grade, when filing")] = None,
                       category: Annotated[Optional[str], typer.Option(help="立案时改定类别 / category, when filing")] = None,
                       deadline: DeadlineOpt = None,
                       attach: Annotated[Optional[list[str]], typer.Option(
                           help="先上传附件 类型=文件（可多次）/ upload KIND=FILE first (repeatable)")] = None,
                       version: Annotated[Optional[int], typer.Option(
                           help="您看到的版本（已变化则拒绝）/ the version you saw (refused if it moved)")] = None,
                       as_json: JsonOpt = False) -> None:
    """流转隐患 / move a hazard to another state, as a named user (their role and scope apply).

    Attachments given with --attach are uploaded first and named in the transition's
    event; if the transition is refused, no attachment is recorded either.
    """
    from gridmap.auth import Scope
    from gridmap.hazards import hazard_detail, transition

    cli = context(ctx)
    uploads = _attach_specs(attach or [])
    when = _moment(deadline, "--deadline")
    with cli.session() as session:
        user = acting_user(session, actor)
        ids = [_upload(session, hazard_id, kind, file, user=user, settings=cli.settings.hazards).id
               for kind, file in uploads]
        if ids and version is not None:
            version += len(ids)  # the uploads just made are not someone else's change
        transition(session, hazard_id, to=to, actor=user, scope=Scope.of(user), note=note,
                   attachment_ids=ids, duplicate_of=duplicate_of, supervising_official=supervising_official,
                   rectification_plan=plan, category=category, grade=grade, deadline=when, version=version,
                   categories=_categories(cli), settings=cli.settings.hazards)
        detail = hazard_detail(session, hazard_id, Scope.of(user))

    def human() -> None:
        out.print(_line(detail), markup=False)
        _show_changes(detail["events"][-1])

    emit(detail, as_json, human)


@hazards_app.command("attach")
def hazards_attach(ctx: typer.Context, hazard_id: Annotated[int, typer.Argument()],
                   kind: Annotated[str, typer.Argument(
                       help="before_photo | after_photo | responsibility_sheet | other")],
                   file: Annotated[str, typer.Argument(help="JPEG / PNG / PDF 文件 / file")],
                   actor: ActorOpt, as_json: JsonOpt = False) -> None:
    """上传附件（两照一表）/ attach a photo or the responsibility sheet to a hazard."""
    from gridmap.hazards import attachment_public

    cli = context(ctx)
    with cli.session() as session:
        user = acting_user(session, actor)
        attachment = attachment_public(session, _upload(session, hazard_id, kind, file, user=user,
                                                        settings=cli.settings.hazards))

    emit(attachment, as_json, lambda: out.print(
        f"附件 / attachment #{attachment['id']} {attachment['kind']} {attachment['content_type']} "
        f"{attachment['size']} bytes sha256 {attachment['sha256'][:16]}… → 隐患 / hazard #{hazard_id}", markup=False))


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
    from gridmap.enterprises import rejects_path, write_rejects
    from gridmap.hazards import import_hazards

    cli = context(ctx)
    path = Path(file)
    with cli.session() as session:
        report = import_hazards(session, path, settings=cli.settings.hazards, import_settings=cli.settings.imports,
                                tolerance_m=cli.settings.placement.snap_tolerance_m, categories=_categories(cli))
    rejects = rejects_path(path)
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
