"""The commands of the ``gridmap`` CLI (the foundation ones; later modules add theirs)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Optional

import typer

from gridmap.cli import JsonOpt, app, context, emit, err, out
from gridmap.codes import LEVELS
from gridmap.errors import InvalidInput

db_app = typer.Typer(help="数据库 / database set-up.", no_args_is_help=True)
import_app = typer.Typer(help="导入 / import files.", no_args_is_help=True)
boundaries_app = typer.Typer(help="边界版本 / boundary sets.", no_args_is_help=True)
users_app = typer.Typer(help="账号 / user accounts.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(import_app, name="import")
app.add_typer(boundaries_app, name="boundaries")
app.add_typer(users_app, name="users")

CRS_CHOICES = ("wgs84", "cgcs2000", "gcj02", "bd09")


def _crs_option(value: Optional[str]) -> Optional[str]:
    if value is None:
        return None
    from gridmap.coords import parse_crs

    return parse_crs(value)


# ----------------------------------------------------------------------------- db

@db_app.command("up")
def db_up(ctx: typer.Context,
          main_only: Annotated[bool, typer.Option("--main-only", help="不准备测试库 / skip the test database")] = False) -> None:
    """准备数据库：启动、安装 PostGIS、建库、迁移 / make PostgreSQL + PostGIS ready and migrate."""
    from gridmap.dbsetup import database_up

    database_up(context(ctx).settings, lambda line: err.print(line, markup=False),
                include_test=not main_only)


# ------------------------------------------------------------------------ imports

@import_app.command("boundaries")
def import_boundaries(
    ctx: typer.Context,
    file: Annotated[Path, typer.Argument(help="GeoJSON / GeoPackage / Shapefile (.shp or .zip)")],
    level: Annotated[str, typer.Option(help="district | township | direct | village | micro")],
    crs: Annotated[Optional[str], typer.Option(help="wgs84 | cgcs2000 | gcj02 | bd09 (when the file cannot say)")] = None,
    code_field: Annotated[Optional[str], typer.Option(help="编码字段 / code field")] = None,
    name_field: Annotated[Optional[str], typer.Option(help="名称字段 / name field")] = None,
    parent_field: Annotated[Optional[str], typer.Option(help="上级编码字段 / parent code field")] = None,
    population_field: Annotated[Optional[str], typer.Option(help="人口字段 / population field")] = None,
    activate: Annotated[bool, typer.Option("--activate", help="导入后立即生效 / activate the set afterwards")] = False,
    set_name: Annotated[Optional[str], typer.Option(help="待定版本名称（默认按导入文件命名）/ name the pending set (default: after its files)")] = None,
    as_json: JsonOpt = False,
) -> None:
    """导入网格边界到待定版本 / import one level of grid boundaries into the pending set."""
    from gridmap.boundaries import import_boundaries as run

    if level not in LEVELS:
        raise InvalidInput(f"未知层级 {level}（可选：{', '.join(LEVELS)}）",
                           f"unknown level {level} (one of: {', '.join(LEVELS)})")
    cli = context(ctx)
    with cli.session() as session:
        report = run(session, file, level=level, crs=_crs_option(crs), code_field=code_field,
                     name_field=name_field, parent_field=parent_field,
                     population_field=population_field, activate_after=activate,
                     settings=cli.settings.imports, set_name=set_name)

    def human() -> None:
        out.print(f"已导入 {report.features} 个{level}网格到边界版本 {report.set_id}（新增 {report.added}，替换 {report.replaced}）"
                  f" / imported {report.features} {level} grids into boundary set {report.set_id} "
                  f"({report.added} added, {report.replaced} replaced); CRS {report.crs_in}", markup=False)
        for item in report.repaired:
            out.print(f"  已修复 / repaired row {item['row']} {item['code']}: {item['reason']}", markup=False)
        if report.activated:
            out.print(f"边界版本 {report.set_id} 已生效 / boundary set {report.set_id} is now active", markup=False)
        else:
            out.print(f"待定版本，生效请运行 / pending; to activate: gridmap boundaries activate {report.set_id} --commit",
                      markup=False)

    emit(report.as_dict(), as_json, human)


@import_app.command("persons")
def import_persons(
    ctx: typer.Context,
    file: Annotated[Path, typer.Argument(help="CSV / XLSX: grid_code,name,role,phone,certificate_no,full_time")],
    as_json: JsonOpt = False,
) -> None:
    """导入人员与网格职责 / import persons and their roles in grids."""
    from gridmap.persons import import_persons as run

    cli = context(ctx)
    with cli.session() as session:
        report = run(session, file, settings=cli.settings.imports)

    def human() -> None:
        out.print(f"{report.rows} 行：新增人员 {report.persons_added}，更新 {report.persons_updated}，"
                  f"新增职责 {report.roles_added}，未变 {report.roles_unchanged} / {report.rows} rows: "
                  f"{report.persons_added} persons added, {report.persons_updated} updated, "
                  f"{report.roles_added} roles added, {report.roles_unchanged} unchanged", markup=False)

    emit(report.as_dict(), as_json, human)


# --------------------------------------------------------------------- boundaries

@boundaries_app.command("list")
def boundaries_list(ctx: typer.Context, as_json: JsonOpt = False) -> None:
    """列出边界版本 / list boundary sets."""
    from gridmap.boundaries import list_sets

    with context(ctx).session() as session:
        sets = list_sets(session)

    statuses = {"active": "生效 active", "pending": "待定 pending", "retired": "停用 retired"}

    def human() -> None:
        if not sets:
            out.print("尚无边界版本 / no boundary sets yet", markup=False)
        for s in sets:
            out.print(f"{s['id']:>4}  [{statuses.get(s['status'], s['status'])}]  {s['grids']:>7} grids  "
                      f"名称 / name: {s['name']}  created {s['created_at']}  "
                      f"activated {s['activated_at'] or '-'}", markup=False)

    emit(sets, as_json, human)


@boundaries_app.command("activate")
def boundaries_activate(
    ctx: typer.Context,
    set_id: Annotated[int, typer.Argument(help="边界版本编号 / boundary set id")],
    commit: Annotated[bool, typer.Option("--commit", help="真正生效（默认只预览）/ really activate (default: dry run)")] = False,
    as_json: JsonOpt = False,
) -> None:
    """使边界版本生效（默认预演）/ make a boundary set the active one (dry run by default)."""
    from gridmap.boundaries import activate

    with context(ctx).session() as session:
        report = activate(session, set_id, commit=commit)

    def human() -> None:
        verb = "已生效 / activated" if commit else "预演 / dry run"
        out.print(f"{verb}: 边界版本 {report.set_id}（上一版本 {report.previous_set_id or '-'}）：新增 {len(report.added)}，"
                  f"删除 {len(report.removed)}，变化 {len(report.changed)}，不变 {report.unchanged} / set "
                  f"{report.set_id} vs {report.previous_set_id or 'none'}: {len(report.added)} added, "
                  f"{len(report.removed)} removed, {len(report.changed)} changed, {report.unchanged} unchanged",
                  markup=False)
        for label, codes in (("+", report.added), ("-", report.removed), ("~", report.changed)):
            for code in codes[:20]:
                out.print(f"  {label} {code}", markup=False)
            if len(codes) > 20:
                out.print(f"  {label} … {len(codes) - 20} more", markup=False)
        if not commit:
            out.print(f"确认请加 --commit / to apply: gridmap boundaries activate {set_id} --commit", markup=False)
        else:
            out.print("企业需按新边界重新落格 / re-place enterprises: gridmap assign", markup=False)

    emit(report.as_dict(), as_json, human)


@boundaries_app.command("discard")
def boundaries_discard(ctx: typer.Context,
                       set_id: Annotated[int, typer.Argument(help="待定版本编号 / pending set id")]) -> None:
    """丢弃待定版本 / discard a pending boundary set."""
    from gridmap.boundaries import discard_pending

    with context(ctx).session() as session:
        discard_pending(session, set_id)
    out.print(f"已丢弃边界版本 {set_id} / discarded boundary set {set_id}", markup=False)


# -------------------------------------------------------------------------- users

@users_app.command("add")
def users_add(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="用户名 / username")],
    role: Annotated[str, typer.Option(help="admin | township_leader | grid_staff | authority")],
    scope: Annotated[Optional[str], typer.Option(help="范围网格编码 / scope grid code")] = None,
    password_stdin: Annotated[bool, typer.Option("--password-stdin", help="从标准输入读取密码 / read the password from stdin")] = False,
) -> None:
    """新增账号 / add a user account."""
    from gridmap.auth import create_user

    if not password_stdin:
        raise InvalidInput("请用 --password-stdin 从标准输入提供密码",
                           "give the password on standard input with --password-stdin")
    password = sys.stdin.readline().rstrip("\r\n")
    cli = context(ctx)
    with cli.session() as session:
        user = create_user(session, name, role=role, password=password, scope=scope,
                           settings=cli.settings.auth)
        label = f"{user.username} ({user.role}{', ' + user.scope_code if user.scope_code else ''})"
    out.print(f"已添加用户 / user added: {label}", markup=False)


@users_app.command("list")
def users_list(ctx: typer.Context, as_json: JsonOpt = False) -> None:
    """列出账号 / list user accounts."""
    from sqlalchemy import select

    from gridmap.models import User

    with context(ctx).session() as session:
        users = [{"username": u.username, "role": u.role, "scope": u.scope_code, "active": u.active}
                 for u in session.scalars(select(User).order_by(User.username))]

    def human() -> None:
        for u in users:
            out.print(f"{u['username']:<20} {u['role']:<16} {u['scope'] or '-':<14} "
                      f"{'active' if u['active'] else 'disabled'}", markup=False)

    emit(users, as_json, human)


# -------------------------------------------------------------------------- serve

def ensure_can_listen(host: str, port: int) -> None:
    """Raise :class:`InvalidInput` unless a server can listen on ``host:port``.

    uvicorn reports a busy port or a foreign address as an English log line and exit
    status 3; trying the bind first turns them into the usual one-line error. The test
    socket is closed at once (``SO_REUSEADDR``, like uvicorn's, so a port in TIME_WAIT is
    not called busy).
    """
    import errno
    import socket

    if not 1 <= port <= 65535:
        raise InvalidInput(f"端口 {port} 超出 1-65535", f"port {port} is outside 1-65535")
    try:
        family, kind, proto, _name, address = socket.getaddrinfo(
            host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)[0]
    except (socket.gaierror, UnicodeError):
        raise InvalidInput(f"监听地址 {host} 无法解析", f"cannot resolve the bind address {host}") from None
    with socket.socket(family, kind, proto) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(address)
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                raise InvalidInput(f"端口 {port} 已被占用（{host}:{port}），请换一个端口（--port）",
                                   f"port {port} is already in use on {host}; choose another with --port") from None
            if exc.errno == errno.EADDRNOTAVAIL:
                raise InvalidInput(f"监听地址 {host} 不属于本机", f"{host} is not an address of this machine") from None
            if exc.errno == errno.EACCES:
                raise InvalidInput(f"无权监听端口 {port}（1024 以下需要 root）",
                                   f"no permission to listen on port {port} (below 1024 needs root)") from None
            raise InvalidInput(f"无法监听 {host}:{port}", f"cannot listen on {host}:{port}") from None


@app.command("serve")
def serve(
    ctx: typer.Context,
    host: Annotated[str, typer.Option(help="监听地址 / bind address")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="端口 / port")] = 8000,
    workers: Annotated[int, typer.Option(help="进程数 / worker processes")] = 1,
) -> None:
    """启动 Web 服务与指挥中心大屏 / run the API and the dashboard."""
    import uvicorn

    from gridmap.db import parse_database_url

    parse_database_url(context(ctx).settings.db.url)  # before uvicorn, which would print a traceback
    ensure_can_listen(host, port)
    uvicorn.run("api.main:create_app", factory=True, host=host, port=port, workers=workers,
                log_level="warning", access_log=False)


@import_app.command("enterprises")
def import_enterprises(
    ctx: typer.Context,
    file: Annotated[Path, typer.Argument(help="CSV / XLSX 企业名录 / enterprise register")],
    crs: Annotated[Optional[str], typer.Option(help="默认坐标系 / default coordinate system: wgs84 | cgcs2000 | gcj02 | bd09")] = None,
    as_json: JsonOpt = False,
) -> int:
    """导入企业名录并落格 / import an enterprise register and place every enterprise.

    Exit status 0 when every row was imported, 3 when some rows were rejected (the good
    ones are imported; the rejected ones are in FILE.rejects.csv).
    """
    from gridmap.enterprises import import_enterprises as run
    from gridmap.taxonomy import load_sectors

    cli = context(ctx)
    with cli.session() as session:
        report = run(session, file, crs=_crs_option(crs), settings=cli.settings.imports,
                     tolerance_m=cli.settings.placement.snap_tolerance_m,
                     sectors=load_sectors(cli.settings.taxonomy.sectors_file))

    def human() -> None:
        rejected_rows = len({r["row"] for r in report.rejected})
        out.print(f"{report.rows} 行：新增 {report.added}，更新 {report.updated}，未变 {report.unchanged}，"
                  f"拒绝 {rejected_rows} / {report.rows} rows: {report.added} added, {report.updated} "
                  f"updated, {report.unchanged} unchanged, {rejected_rows} rejected", markup=False)
        labels = {"exact": "坐标落格 exact", "snapped": "就近吸附 snapped", "address": "地址匹配 address",
                  "ambiguous": "地址多义 ambiguous", "conflict": "地址与坐标不符 conflict", "unplaced": "未落格 unplaced"}
        for kind, label in labels.items():
            if report.placements.get(kind):
                out.print(f"  {label}: {report.placements[kind]}", markup=False)
        if report.warnings:
            out.print(f"  警告 / warnings: {len(report.warnings)}（如 / e.g. row {report.warnings[0]['row']}: "
                      f"{report.warnings[0]['reason_en']}）", markup=False)
        if report.rejects_file:
            out.print(f"  被拒绝的行见 / rejected rows listed in {report.rejects_file}", markup=False)

    emit(report.as_dict(), as_json, human)
    return 3 if report.rejected else 0


@app.command("assign")
def assign_command(
    ctx: typer.Context,
    district: Annotated[Optional[str], typer.Option(help="只处理该区县 / only this district's enterprises")] = None,
    as_json: JsonOpt = False,
) -> None:
    """企业按生效边界重新落格 / re-place every enterprise against the active boundary set."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from gridmap.assign import assign

    cli = context(ctx)
    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  console=err, disable=as_json) as bar:
        task = bar.add_task("落格 / placing", total=None)

        def progress(stage: str, done: int, total: int) -> None:
            bar.update(task, completed=done, total=total,
                       description="落格 / placing" if stage == "placing" else "密度 / density")

        with cli.session() as session:
            summary = assign(session, district=district, tolerance_m=cli.settings.placement.snap_tolerance_m,
                             progress=progress)

    def human() -> None:
        out.print(f"边界版本 {summary['set_id']}：{summary['enterprises']} 家企业重新落格，{summary['changed']} 家变化 / "
                  f"set {summary['set_id']}: {summary['enterprises']} enterprises placed again, "
                  f"{summary['changed']} changed, in {summary['seconds']} s", markup=False)
        for kind, count in sorted(summary["by_placement"].items()):
            out.print(f"  {kind}: {count}", markup=False)

    emit(summary, as_json, human)
