"""``gridmap demo``: the sample district loaded, demo accounts, the server, the URLs."""

from __future__ import annotations

from typing import Annotated

import typer

from gridmap.cli import app, context, err, out

#: Demo accounts (created only when missing; change or disable them for real use).
DEMO_USERS = (
    ("admin", "admin", None, "gridmap-admin"),
    ("authority", "authority", "320382", "gridmap-authority"),
    ("yunhe", "township_leader", "320382002", "gridmap-yunhe"),
    ("guanhu", "township_leader", "320382103", "gridmap-guanhu"),
)


@app.command("demo")
def demo(
    ctx: typer.Context,
    host: Annotated[str, typer.Option(help="监听地址 / bind address")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="端口 / port")] = 8000,
    no_serve: Annotated[bool, typer.Option("--no-serve", help="只准备数据不启动服务 / prepare only")] = False,
) -> None:
    """加载示例区县并启动服务 / load the sample district and run the server."""
    from sqlalchemy import select

    from gridmap.auth import create_user
    from gridmap.cli.sample import PIZHOU_DIR
    from gridmap.models import User
    from gridmap.sample.load import load_sample

    cli = context(ctx)
    if not no_serve:
        # A busy port is said before minutes of loading, not by uvicorn after them.
        from gridmap.cli.commands import ensure_can_listen

        ensure_can_listen(host, port)
    load_sample(cli.session, PIZHOU_DIR, settings=cli.settings,
                log=(lambda line: err.print(line, markup=False)))
    with cli.session() as session:
        for username, role, scope, password in DEMO_USERS:
            if not session.scalar(select(User.id).where(User.username == username)):
                create_user(session, username, role=role, scope=scope, password=password,
                            settings=cli.settings.auth)
    base = f"http://{host}:{port}"
    out.print(f"指挥中心大屏 / dashboard:  {base}/", markup=False)
    out.print(f"接口文档 / API docs:        {base}/docs", markup=False)
    out.print(f"健康检查 / health:          {base}/healthz", markup=False)
    for username, role, scope, password in DEMO_USERS:
        out.print(f"演示账号 / demo login:      {username} / {password} ({role}{', ' + scope if scope else ''})",
                  markup=False)
    if no_serve:
        return
    err.print("Ctrl-C 停止 / Ctrl-C stops the server", markup=False)
    import uvicorn

    uvicorn.run("api.main:create_app", factory=True, host=host, port=port, log_level="warning")
