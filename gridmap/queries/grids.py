"""Grid lookups: listing, detail, responsible persons, point location.

Every function names the boundary set it reads (``set_id``); callers pass the active
set's id unless the user asked for an older one.
"""

from __future__ import annotations

import json

from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from gridmap.auth import Scope
from gridmap.codes import LEVELS
from gridmap.db import in_array
from gridmap.errors import InvalidInput, NotFound
from gridmap.models import ROLES, Enterprise, Grid, Person, RoleAssignment

_LEVEL_ORDER = func.array_position(text("ARRAY['district','township','direct','village','micro']::varchar[]"), Grid.level)


def grid_summary(grid: Grid) -> dict:
    return {
        "code": grid.code, "name": grid.name, "level": grid.level,
        "parent_code": grid.parent_code, "population": grid.population,
        "area_m2": round(grid.area_m2, 1), "synthetic": grid.synthetic, "set_id": grid.set_id,
        "is_leaf": grid.is_leaf,
    }


def list_grids(*, session: Session, set_id: int, scope: Scope, level: str | None = None,
               parent: str | None = None, q: str | None = None, limit: int = 100,
               offset: int = 0) -> tuple[list[dict], int]:
    """Grids of a set inside the scope, filtered by level, parent and name/code text."""
    if level is not None and level not in LEVELS:
        raise InvalidInput(f"未知层级 {level}", f"unknown level {level}")
    where = [Grid.set_id == set_id, scope.filter(Grid.code)]
    if level:
        where.append(Grid.level == level)
    if parent:
        where.append(Grid.parent_code == parent)
    if q:
        pattern = f"%{q.strip()}%"
        where.append(Grid.name.ilike(pattern) | Grid.code.startswith(q.strip(), autoescape=True))
    total = session.scalar(select(func.count()).select_from(Grid).where(*where))
    rows = session.scalars(
        select(Grid).where(*where).order_by(_LEVEL_ORDER, Grid.code).limit(limit).offset(offset)
    ).all()
    return [grid_summary(g) for g in rows], total


def get_grid(*, session: Session, set_id: int, code: str, scope: Scope) -> Grid:
    scope.require(code, "网格", "grid")
    grid = session.scalar(select(Grid).where(Grid.set_id == set_id, Grid.code == code))
    if grid is None:
        raise NotFound(f"网格 {code} 不存在", f"grid {code} not found")
    return grid


def persons_by_role(*, session: Session, codes: list[str]) -> dict[str, dict[str, list[dict]]]:
    """For each grid code, its people grouped by role (roles in the glossary's order)."""
    result: dict[str, dict[str, list[dict]]] = {c: {} for c in codes}
    if not codes:
        return result
    rows = session.execute(
        select(RoleAssignment.grid_code, RoleAssignment.role, Person)
        .join(Person, Person.id == RoleAssignment.person_id)
        .where(in_array(RoleAssignment.grid_code, codes))
        .order_by(RoleAssignment.grid_code, RoleAssignment.role, Person.name, Person.id)
    ).all()
    for code, role, person in rows:
        result[code].setdefault(role, []).append({
            "id": person.id, "name": person.name, "phone": person.phone,
            "certificate_no": person.certificate_no, "full_time": person.full_time,
        })
    order = {r: i for i, r in enumerate(ROLES)}
    return {c: dict(sorted(roles.items(), key=lambda kv: order[kv[0]])) for c, roles in result.items()}


def grid_detail(*, session: Session, set_id: int, code: str, scope: Scope) -> dict:
    """Properties, parent chain (within scope), children count, persons, enterprise count."""
    grid = get_grid(session=session, set_id=set_id, code=code, scope=scope)
    chain = []
    parent_code = grid.parent_code
    while parent_code and scope.allows(parent_code):
        parent = session.scalar(select(Grid).where(Grid.set_id == set_id, Grid.code == parent_code))
        if parent is None:
            break
        chain.insert(0, {"code": parent.code, "name": parent.name, "level": parent.level})
        parent_code = parent.parent_code
    children = session.scalar(
        select(func.count()).select_from(Grid).where(Grid.set_id == set_id, Grid.parent_code == code)
    )
    enterprises = session.scalar(
        select(func.count()).select_from(Enterprise).where(Enterprise.grid_code.startswith(code, autoescape=True))
    )
    return {
        **grid_summary(grid),
        "parents": chain,
        "children_count": children,
        "persons": persons_by_role(session=session, codes=[code])[code],
        "enterprise_count": enterprises,
    }


def grid_feature(*, session: Session, set_id: int, code: str, scope: Scope) -> dict:
    """The grid as a GeoJSON Feature (RFC 7946 lon/lat; CGCS2000 = WGS84 at metre level)."""
    grid = get_grid(session=session, set_id=set_id, code=code, scope=scope)
    # Options 0: no "crs" member, which RFC 7946 removed (PostGIS adds one for SRID 4490).
    geometry = session.scalar(select(func.ST_AsGeoJSON(Grid.geom, 7, 0)).where(Grid.id == grid.id))
    return {"type": "Feature", "id": grid.code, "properties": grid_summary(grid),
            "geometry": json.loads(geometry)}


def locate(*, session: Session, set_id: int, lon: float, lat: float, scope: Scope) -> list[dict]:
    """Every grid of the set covering a CGCS2000 point (MapIt's point lookup), inside the
    scope, ordered by level (district first) and then by code.

    A point on a shared border or vertex is covered by every grid that touches it, and
    all of them are returned. Enterprise placement (:mod:`gridmap.placement`) picks one:
    the smallest code (``COLLATE "C"``) — the first grid of each level here.
    """
    rows = session.scalars(
        select(Grid)
        .where(Grid.set_id == set_id, scope.filter(Grid.code),
               func.ST_Covers(Grid.geom, func.ST_SetSRID(func.ST_MakePoint(lon, lat), 4490)))
        .order_by(_LEVEL_ORDER, Grid.code.collate("C"))
    ).all()
    people = persons_by_role(session=session, codes=[g.code for g in rows])
    return [{**grid_summary(g), "persons": people[g.code]} for g in rows]
