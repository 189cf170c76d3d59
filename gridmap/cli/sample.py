"""``gridmap sample …``: generate and load sample data."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from gridmap.cli import app, context, emit, err, out

sample_app = typer.Typer(help="示例数据 / sample data.", no_args_is_help=True)
app.add_typer(sample_app, name="sample")

REPO = Path(__file__).resolve().parents[2]
PIZHOU_DIR = REPO / "data" / "boundaries" / "pizhou"


@sample_app.command("pizhou")
def sample_pizhou(
    out_dir: Annotated[Path, typer.Option("--out", help="输出目录 / output directory")] = PIZHOU_DIR,
    seed: Annotated[int, typer.Option(help="随机种子 / seed")] = 320382,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """生成邳州示例（可逐字节复现）/ regenerate the Pizhou sample (byte-for-byte reproducible)."""
    from gridmap.sample.pizhou import generate

    summary = generate(Path(out_dir), seed=seed)
    emit(summary, as_json, lambda: out.print(f"已生成 / generated {out_dir}: {summary}", markup=False))


@sample_app.command("load")
def sample_load(
    ctx: typer.Context,
    directory: Annotated[Path, typer.Argument(help="示例目录 / sample directory")] = PIZHOU_DIR,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """通过导入命令加载示例 / load a sample set through the import commands."""
    from gridmap.sample.load import load_sample

    cli = context(ctx)
    summary = load_sample(cli.session, directory, settings=cli.settings,
                          log=(lambda line: err.print(line, markup=False)))
    emit(summary, as_json, lambda: out.print(f"已加载 / loaded {directory}", markup=False))
