"""The ``gridmap`` command line.

Every command prints a summary a person can read; ``--json`` prints only a JSON
document on stdout for machines. Errors are one line on stderr (Chinese / English) with
a non-zero exit status: 1 for a refused operation, 2 for a usage mistake; unexpected
failures print a generic line and leave the traceback in ``$GRIDMAP_LOG`` (default
``~/.cache/gridmap/gridmap.log``).
"""

from __future__ import annotations

import json
import logging
import os
import sys
import traceback
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Annotated

import typer

try:  # typer >= 0.26 vendors click
    from typer._click import exceptions as click_exceptions
except ImportError:  # pragma: no cover - older typer on plain click
    from click import exceptions as click_exceptions
from rich.console import Console
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.orm import Session

from gridmap.errors import GridmapError, ImportRejected, InvalidInput, NotFound
from gridmap.settings import Settings, for_local_files, load_settings

app = typer.Typer(
    name="gridmap",
    help="gridmap — 安全生产网格化监管 GIS 平台 / grid-based work-safety supervision GIS.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)
out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)


@dataclass
class CliContext:
    """What commands need: settings and a way to open a unit of work."""

    #: The CLI reads the operator's own files: the upload cap of the API does not apply
    #: to them (``GRIDMAP_IMPORT_MAX_LOCAL_FILE_BYTES`` does).
    settings: Settings = field(default_factory=lambda: for_local_files(load_settings()))
    session_factory: Callable[[], AbstractContextManager[Session]] | None = None
    _engine: object = None

    def session(self) -> AbstractContextManager[Session]:
        if self.session_factory is not None:
            return self.session_factory()
        return self._default_session()

    @contextmanager
    def _default_session(self) -> Iterator[Session]:
        from gridmap.db import check_connection, make_engine, make_sessionmaker, session_scope

        if self._engine is None:
            self._engine = make_engine(self.settings.db.url, self.settings.db,
                                       application_name="gridmap-cli")
            check_connection(self._engine)
        with session_scope(make_sessionmaker(self._engine)) as session:
            from gridmap.audit import cli_context

            cli_context(session, " ".join(sys.argv[1:3]) or "gridmap")
            yield session


def context(ctx: typer.Context) -> CliContext:
    if ctx.obj is None:
        ctx.obj = CliContext()
    root = ctx.find_root()
    if root.obj is None:
        root.obj = ctx.obj
    return root.obj


def emit(data: object, as_json: bool, human: Callable[[], None]) -> None:
    """Print ``data`` as JSON (stdout only) or call ``human`` for the readable form."""
    if as_json:
        sys.stdout.write(json.dumps(data, ensure_ascii=False, indent=2, default=str) + "\n")
    else:
        human()


#: The ``--json`` option of every command that prints a result.
JsonOpt = Annotated[bool, typer.Option("--json", help="只输出 JSON / print only JSON on stdout")]
#: The ``--as`` option of commands that change records as a named user.
ActorOpt = Annotated[str, typer.Option("--as", help="以该用户身份操作（其角色与范围生效）/ act as this user")]


def acting_user(session: Session, username: str):
    """The active user named ``username`` (the ``--as`` of write commands): their role and
    scope apply exactly as in the API, and the records name them."""
    from sqlalchemy import select

    from gridmap.models import User

    user = session.scalar(select(User).where(User.username == username, User.active))
    if user is None:
        raise NotFound(f"用户 {username} 不存在或已停用", f"user {username} does not exist or is disabled")
    return user


def parse_day(value: str | None, option: str) -> date | None:
    """A ``YYYY-MM-DD`` option value (None stays None); a bad one is a one-line error."""
    if value is None:
        return None
    try:
        return date.fromisoformat(value.strip())
    except ValueError:
        raise InvalidInput(f"{option} 应为日期 YYYY-MM-DD，收到 {value!r}",
                           f"{option} must be a date YYYY-MM-DD, got {value!r}") from None


def _log_path() -> Path:
    return Path(os.environ.get("GRIDMAP_LOG", Path.home() / ".cache" / "gridmap" / "gridmap.log"))


def _print_error(exc: GridmapError) -> None:
    err.print(f"错误 / error: {exc.message}", markup=False)
    # The first line already names the first bad row: list the rows when there are more.
    if isinstance(exc, ImportRejected) and isinstance(exc.detail, list) and len(exc.detail) > 1:
        for item in exc.detail:
            where = f"第 {item.get('row')} 行 / row {item.get('row')}"
            column = item.get("field") or item.get("code") or ""
            err.print(f"  {where} [{column}]: {item.get('reason_zh')} / {item.get('reason_en')}",
                      markup=False)


def invoke(argv: list[str] | None = None, *, obj: CliContext | None = None) -> int:
    """Run the CLI and return its exit status (used by :func:`main` and by tests)."""
    from gridmap.cli import (  # noqa: F401  (registers the commands)
        commands,
        coverage,
        demo,
        export,
        hazards,
        inspections,
        report,
        sample,
        stats,
    )

    try:
        result = app(args=argv, prog_name="gridmap", standalone_mode=False, obj=obj)
        return result if isinstance(result, int) else 0
    except GridmapError as exc:
        _print_error(exc)
        return 1
    except click_exceptions.NoArgsIsHelpError as exc:
        err.print(exc.ctx.get_help() if exc.ctx else str(exc), markup=False)
        return 2
    except click_exceptions.UsageError as exc:
        err.print(f"用法错误 / usage error: {exc.format_message()} (gridmap --help)", markup=False)
        return 2
    except typer.Exit as exc:
        return exc.exit_code
    except typer.Abort:
        err.print("已取消 / aborted", markup=False)
        return 130
    except (OperationalError, DBAPIError) as exc:
        from gridmap.db import is_connection_error, is_missing_table, schema_missing

        _log_exception()
        if is_connection_error(exc):
            err.print("错误 / error: 数据库连接中断，请检查数据库后重试 / the database connection "
                      "failed; check the database and retry", markup=False)
        elif is_missing_table(exc):
            err.print(f"错误 / error: {schema_missing().message}", markup=False)
        else:
            err.print("错误 / error: 数据库操作失败，详情见日志 / a database operation failed; "
                      f"details in {_log_path()}", markup=False)
        return 1
    except KeyboardInterrupt:
        err.print("已中断 / interrupted", markup=False)
        return 130
    except Exception:
        _log_exception()
        err.print(f"错误 / error: 意外错误，详情见 {_log_path()} / unexpected error, details in "
                  f"{_log_path()}", markup=False)
        return 1


def _log_exception() -> None:
    path = _log_path()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("a", encoding="utf-8") as fh:
            fh.write(traceback.format_exc() + "\n")
    except OSError:
        logging.getLogger("gridmap").exception("unexpected error")


def main() -> None:
    sys.exit(invoke(sys.argv[1:]))
