"""Enterprise books (台账): 一镇一册 (per township), 一村一册 (per village), 一部门一册
(per supervising department), with counts by sector and risk level, within the caller's
scope.

Sector names come from the deployment's taxonomy (``GRIDMAP_TAXONOMY_SECTORS_FILE``), which
the caller passes: the books must know the custom sectors the imports accepted.
"""

from __future__ import annotations

from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from gridmap.auth import Scope
from gridmap.boundaries import require_active_set
from gridmap.codes import level_of_code
from gridmap.enterprises import enterprise_public
from gridmap.errors import InvalidInput, NotFound
from gridmap.models import Enterprise, Grid
from gridmap.taxonomy import RISK_LEVELS, Taxonomy, load_sectors


def _counts(session: Session, column, where) -> dict[str, int]:
    rows = session.execute(select(column, func.count()).where(*where).group_by(column)).all()
    return {str(key) if key is not None else "unknown": n for key, n in sorted(rows, key=lambda r: (r[0] is None, str(r[0])))}


def _sector_label(sectors: Taxonomy, sector: str) -> str:
    """The Chinese name of a stored sector; its id when the taxonomy no longer has it
    (a taxonomy file edited after the import must not make the book unreadable)."""
    try:
        return sectors.label(sector)
    except InvalidInput:
        return sector


def _book(session: Session, where: list, *, sectors: Taxonomy, limit: int, offset: int) -> dict:
    total = session.scalar(select(func.count()).select_from(Enterprise).where(*where))
    rows = session.execute(
        select(Enterprise, func.ST_X(Enterprise.location), func.ST_Y(Enterprise.location))
        .where(*where).order_by(Enterprise.grid_code, Enterprise.name, Enterprise.uscc)
        .limit(limit).offset(offset)).all()
    by_sector = _counts(session, Enterprise.sector, where)
    return {
        "total": total,
        "by_sector": by_sector,
        "by_sector_zh": {_sector_label(sectors, k): v for k, v in by_sector.items() if k != "unknown"},
        "by_risk": _counts(session, Enterprise.risk_level, where),
        "by_risk_zh": {RISK_LEVELS[k][0] if k in RISK_LEVELS else "未评定": v
                       for k, v in _counts(session, Enterprise.risk_level, where).items()},
        "by_placement": _counts(session, Enterprise.placement, where),
        "enterprises": [enterprise_public(e, (x, y) if x is not None else None) for e, x, y in rows],
    }


def grid_ledger(session: Session, *, code: str, level: str, scope: Scope, sectors: Taxonomy | None = None,
                limit: int = 500, offset: int = 0) -> dict:
    """一镇一册 / 一村一册: the enterprises of a township or village (``sectors``: the
    configured taxonomy, default the built-in one)."""
    scope.require(code, "网格", "grid")
    if level_of_code(code) not in ((level,) if level != "township" else ("township", "direct")):
        raise NotFound(f"{code} 不是{'街道/镇' if level == 'township' else '村/社区'}编码",
                       f"{code} is not a {level} code")
    boundary_set = require_active_set(session)
    grid = session.scalar(select(Grid).where(Grid.set_id == boundary_set.id, Grid.code == code))
    if grid is None:
        raise NotFound(f"网格 {code} 不存在", f"grid {code} not found")
    where = [Enterprise.home_code.startswith(code, autoescape=True)]
    book = _book(session, where, sectors=sectors or load_sectors(), limit=limit, offset=offset)
    children = session.execute(
        select(Grid.code, Grid.name).where(Grid.set_id == boundary_set.id, Grid.parent_code == code)
        .order_by(Grid.code)).all()
    per_child = dict(session.execute(
        select(func.left(Enterprise.home_code, len(code) + 3), func.count())
        .where(*where).group_by(text("1"))).all())
    return {
        "code": grid.code, "name": grid.name, "level": grid.level, "set_id": boundary_set.id,
        **book,
        "by_child": [{"code": c, "name": n, "count": per_child.get(c, 0)} for c, n in children],
    }


def department_ledger(session: Session, *, department: str, scope: Scope, sectors: Taxonomy | None = None,
                      limit: int = 500, offset: int = 0) -> dict:
    """一部门一册: the enterprises a supervising department is responsible for (in scope)."""
    where = [Enterprise.department == department]
    if scope.code is not None:
        where.append(scope.filter(Enterprise.home_code))
    book = _book(session, where, sectors=sectors or load_sectors(), limit=limit, offset=offset)
    if book["total"] == 0:
        raise NotFound(f"部门 {department} 没有企业", f"department {department} has no enterprises")
    by_township = _counts(session, Enterprise.township_code, where)
    return {"department": department, **book, "by_township": by_township}


def departments(session: Session, *, scope: Scope) -> list[dict]:
    where = [Enterprise.department.is_not(None)]
    if scope.code is not None:
        where.append(scope.filter(Enterprise.home_code))
    rows = session.execute(select(Enterprise.department, func.count()).where(*where)
                           .group_by(Enterprise.department).order_by(Enterprise.department)).all()
    return [{"department": d, "count": n} for d, n in rows]
