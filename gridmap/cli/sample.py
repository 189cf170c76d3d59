"""``gridmap sample …``: generate and load sample data."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from gridmap.cli import JsonOpt, app, context, emit, err, out

sample_app = typer.Typer(help="示例数据 / sample data.", no_args_is_help=True)
app.add_typer(sample_app, name="sample")

REPO = Path(__file__).resolve().parents[2]
PIZHOU_DIR = REPO / "data" / "boundaries" / "pizhou"


@sample_app.command("pizhou")
def sample_pizhou(
    out_dir: Annotated[Path, typer.Option("--out", help="输出目录 / output directory")] = PIZHOU_DIR,
    seed: Annotated[int, typer.Option(help="随机种子 / seed")] = 320382,
    as_json: JsonOpt = False,
) -> None:
    """生成邳州示例（可逐字节复现）/ regenerate the Pizhou sample (byte-for-byte reproducible)."""
    from gridmap.sample.pizhou import generate

    summary = generate(Path(out_dir), seed=seed)
    emit(summary, as_json, lambda: out.print(f"已生成 / generated {out_dir}: {summary}", markup=False))


@sample_app.command("load")
def sample_load(
    ctx: typer.Context,
    directory: Annotated[Path, typer.Argument(help="示例目录 / sample directory")] = PIZHOU_DIR,
    as_json: JsonOpt = False,
) -> None:
    """通过导入命令加载示例 / load a sample set through the import commands."""
    from gridmap.sample.load import load_sample

    cli = context(ctx)
    summary = load_sample(cli.session, directory, settings=cli.settings,
                          log=(lambda line: err.print(line, markup=False)))
    emit(summary, as_json, lambda: out.print(f"已加载 / loaded {directory}", markup=False))


@sample_app.command("synth")
def sample_synth(
    out_dir: Annotated[Path, typer.Option("--out", help="输出目录 / output directory")],
    province: Annotated[str | None, typer.Option(help="省级代码，如 32 / province code, e.g. 32")] = None,
    districts: Annotated[str | None, typer.Option(
        help="前 N 个区县或 all（无 --province 时为全国）/ first N districts or all (nationwide without --province)")] = None,
    townships_per_district: Annotated[int | None, typer.Option(
        help="每个区县最多取前 T 个街道/镇 / keep the first T townships of each district")] = None,
    villages_per_township: Annotated[int | None, typer.Option(
        help="每个街道/镇恰好 K 个村/社区（截取或补足）/ exactly K villages per township (cut or padded)")] = None,
    enterprises: Annotated[int | None, typer.Option(
        help="企业总数（默认每个村/社区 16 家）/ total enterprises (default 16 per village)")] = None,
    seed: Annotated[int, typer.Option(help="随机种子 / seed")] = 2978,
    plant_defects: Annotated[bool, typer.Option(
        "--plant-defects", help="埋设已知缺陷并写入 metadata.json / plant known defects, listed in metadata.json")] = False,
    workers: Annotated[int, typer.Option(help="并行进程数 / parallel processes")] = 1,
    as_json: JsonOpt = False,
) -> None:
    """生成合成区域（省级、全国规模）/ generate a synthetic region (province or national scale)."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from gridmap.sample.synth import generate

    with Progress(TextColumn("区县 / districts"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  console=err, transient=True, disable=as_json) as bar:
        task = bar.add_task("synth", total=None)

        def progress(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        summary = generate(Path(out_dir), province=province, districts=districts,
                           townships_per_district=townships_per_district,
                           villages_per_township=villages_per_township, enterprises=enterprises,
                           seed=seed, plant_defects=plant_defects, workers=workers, progress=progress)

    def human() -> None:
        megabytes = summary["total_bytes"] / 1e6
        out.print(
            f"已生成 / generated {summary['out_dir']}: {summary['districts']} 区县 districts, "
            f"{summary['townships']} 街道/镇 townships, {summary['villages']} 村/社区 villages, "
            f"{summary['enterprises']} 企业 enterprises, {summary['person_rows']} 人员行 person rows; "
            f"{megabytes:.1f} MB in {summary['seconds']} s (peak RSS {summary['peak_rss_mb']} MB)",
            markup=False,
        )
        if summary["defects"]:
            planted = ", ".join(f"{kind} {count}" for kind, count in summary["defects"].items())
            out.print(f"埋设缺陷 / planted defects: {planted}（见 / see metadata.json）", markup=False)

    emit(summary, as_json, human)
