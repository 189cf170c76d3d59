"""``gridmap sample load DIR``: load a generated set through the user's import paths.

A sample directory holds boundary files per level (``district``, ``townships``,
``direct``, ``villages``, ``micro`` as ``.geojson`` or ``.gpkg``), ``persons.csv`` and
``enterprises.csv`` and ``hazards.csv`` (a hazard register, ``gridmap import hazards``). Boundaries go through
:func:`gridmap.boundaries.import_boundaries` into a pending set that is activated at the
end; persons, enterprises and hazards through their importers, exactly as ``gridmap
import …`` runs them — with the deployment's taxonomies (``GRIDMAP_TAXONOMY_*``), so a
custom sector or hazard category loads as it would from the command line. Loading is idempotent: when the active boundary set already holds these
boundary files (same names and sha256), the boundaries are left alone, and the person and
enterprise imports are upserts that change nothing the second time.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from pathlib import Path

from sqlalchemy.orm import Session

from gridmap.boundaries import activate, active_set, file_sha256, import_boundaries
from gridmap.errors import InvalidInput
from gridmap.settings import Settings

LEVEL_FILES = (("district", ("district", "districts")), ("township", ("townships", "township")),
               ("direct", ("direct", "directs")), ("village", ("villages", "village")),
               ("micro", ("micro", "micros")))


def boundary_files(directory: Path) -> list[tuple[str, Path]]:
    """(level, file) pairs in load order."""
    found = []
    for level, stems in LEVEL_FILES:
        for stem in stems:
            for suffix in (".geojson", ".gpkg"):
                candidate = directory / f"{stem}{suffix}"
                if candidate.exists():
                    found.append((level, candidate))
                    break
            else:
                continue
            break
    return found


def _already_active(session: Session, files: list[tuple[str, Path]]) -> bool:
    current = active_set(session)
    if current is None:
        return False
    loaded = {(e.get("source"), e.get("level"), e.get("sha256")) for e in current.imports}
    return all((path.name, level, file_sha256(path)) in loaded for level, path in files)


def load_sample(session_factory: Callable[[], AbstractContextManager[Session]], directory: Path, *,
                settings: Settings, log: Callable[[str], None] = print) -> dict:
    """Load a sample directory; returns what was done."""
    from gridmap.enterprises import import_enterprises
    from gridmap.persons import import_persons
    from gridmap.taxonomy import load_hazard_categories, load_sectors

    directory = Path(directory)
    files = boundary_files(directory)
    if not files:
        raise InvalidInput(f"目录 {directory} 中没有边界文件（district.geojson 等）",
                           f"directory {directory} holds no boundary files (district.geojson, …)")
    summary: dict = {"directory": str(directory)}
    with session_factory() as session:
        if _already_active(session, files):
            summary["boundaries"] = "unchanged"
            log("边界未变，跳过 / boundaries already active, skipped")
        else:
            set_id = None
            for level, path in files:
                report = import_boundaries(session, path, level=level, settings=settings.imports)
                set_id = report.set_id
                log(f"边界 / boundaries: {path.name} → {report.features} {level} grids (set {set_id})")
            activate(session, set_id, commit=True)
            summary["boundaries"] = {"set_id": set_id, "files": [p.name for _, p in files]}
            log(f"边界版本 {set_id} 已生效 / boundary set {set_id} activated")
    persons = directory / "persons.csv"
    if persons.exists():
        with session_factory() as session:
            report = import_persons(session, persons, settings=settings.imports)
        summary["persons"] = report.as_dict()
        log(f"人员 / persons: {report.rows} rows, {report.persons_added} added, {report.roles_added} roles added")
    enterprises = directory / "enterprises.csv"
    if enterprises.exists():
        with session_factory() as session:
            report = import_enterprises(session, enterprises, settings=settings.imports,
                                        tolerance_m=settings.placement.snap_tolerance_m,
                                        sectors=load_sectors(settings.taxonomy.sectors_file),
                                        write_rejects_file=False)
        summary["enterprises"] = {k: v for k, v in report.as_dict().items() if k not in ("rejected", "warnings")}
        log(f"企业 / enterprises: {report.rows} rows, {report.added} added, {report.updated} updated, "
            f"{len(report.rejected)} rejected; placements {report.placements}")
    hazards = directory / "hazards.csv"
    if hazards.exists():
        from gridmap.hazards import import_hazards

        with session_factory() as session:
            report = import_hazards(session, hazards, settings=settings.hazards, import_settings=settings.imports,
                                    tolerance_m=settings.placement.snap_tolerance_m,
                                    categories=load_hazard_categories(settings.taxonomy.hazard_categories_file))
        summary["hazards"] = {k: v for k, v in report.items() if k != "rejected"} | {"rejected": len(report["rejected"])}
        log(f"隐患 / hazards: {report['rows']} rows, {report['added']} added, {report['unchanged']} already there, "
            f"{len(report['rejected'])} rejected")
    summary["coverage"] = refresh_coverage(session_factory, settings=settings, log=log)
    return summary


def refresh_coverage(session_factory, *, settings: Settings, log: Callable[[str], None] = print) -> dict:
    """Run the coverage check of every district of the active set and keep the scores the
    map colours by (``grid_status``, ``coverage_problem``)."""
    from sqlalchemy import select

    from gridmap.coverage import coverage_report, store_report
    from gridmap.models import Grid

    results = {}
    with session_factory() as session:
        current = active_set(session)
        districts = session.scalars(select(Grid.code).where(Grid.set_id == current.id, Grid.level == "district")
                                    .order_by(Grid.code)).all()
        for code in districts:
            report = coverage_report(session, code, set_id=current.id, settings=settings.coverage)
            store_report(session, report)
            results[code] = {"score": report["score"], "status": report["status"]}
            log(f"覆盖检查 / coverage {code}: score {report['score']} ({report['status']})")
    return results
