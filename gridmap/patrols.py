"""Patrol check-ins (巡查打卡) by grid staff.

A check-in is a point and a time. The point is declared in WGS84, CGCS2000, GCJ-02 or
BD-09, converted to CGCS2000 and placed into its bottom-level grid with the SQL path of
:func:`gridmap.placement.place_records` (the same rules as enterprises: exact, or snapped
within the tolerance; the smallest code on a shared border). The stored ``grid_code`` is
what the coverage report's ``stale`` check reads as activity in that grid
(:data:`gridmap.coverage.ACTIVITY_TABLES`).

Rules:

* any writer role (admin, township_leader, grid_staff) may check in; ``authority`` is
  read-only (403);
* the point must fall in a grid (422 otherwise) **and in the user's own scope**: a grid
  staff member checking in outside their area is refused with 403 — a check-in is proof
  of presence in one's own grids, and one elsewhere would mark a stranger's grid active;
* ``at`` defaults to now; it may be at most 5 minutes ahead of the server's clock (phone
  clocks drift) and at most 7 days old (a phone that was offline may upload late, but a
  check-in is not a way to backfill a patrol log); a timestamp without a time zone is
  China Standard Time.
"""

from __future__ import annotations

import math
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from gridmap import coords
from gridmap.auth import Scope
from gridmap.boundaries import require_active_set
from gridmap.errors import Forbidden, InvalidInput
from gridmap.inspections import CLOCK_SKEW, as_aware, day_start
from gridmap.models import Patrol, User
from gridmap.placement import place_records

#: How old a check-in may be when it reaches the server.
MAX_AGE = timedelta(days=7)


def _now() -> datetime:
    return datetime.now(UTC)


def create_patrol(session: Session, values: dict, *, actor: User | None, scope: Scope,
                  tolerance_m: float = 50.0, now: datetime | None = None) -> Patrol:
    """Record a check-in at a point; see the module docstring for the rules.

    Parameters
    ----------
    values
        ``lon``, ``lat``, ``crs`` (default ``wgs84``), optional ``at`` and ``note``.
    actor, scope
        Who checks in; the point must lie in ``scope``.
    tolerance_m
        Snapping tolerance of the placement (metres).

    Returns
    -------
    Patrol
        The flushed row, with ``grid_code``/``home_code`` of the grid it landed in.
    """
    scope.require_write()
    now = now or _now()
    lon, lat = values.get("lon"), values.get("lat")
    if lon is None or lat is None:
        raise InvalidInput("请提供打卡位置（经纬度）", "the check-in needs a location (lon/lat)")
    system = coords.parse_crs(values.get("crs"))
    coords.check_lonlat(lon, lat)
    at = as_aware(values.get("at") or now)
    if at > now + CLOCK_SKEW:
        raise InvalidInput("打卡时间不能晚于当前时间", "the check-in time cannot be in the future")
    if at < now - MAX_AGE:
        raise InvalidInput(f"打卡时间不能早于 {MAX_AGE.days} 天前", f"the check-in cannot be older than {MAX_AGE.days} days")
    x, y = coords.to_cgcs2000(float(lon), float(lat), system)
    if not (math.isfinite(x) and math.isfinite(y)):
        raise InvalidInput("坐标无法转换", "the coordinates cannot be converted")
    boundary_set = require_active_set(session)
    placed = place_records(session, set_id=boundary_set.id, lon=[x], lat=[y], addresses=[None],
                           tolerance_m=tolerance_m)[0]
    if placed.grid_code is None:
        raise InvalidInput("打卡位置不在任何网格内", "the check-in point lies in no grid")
    if not scope.allows(placed.home_code):
        # Not naming the grid: it is someone else's, and its code is not the caller's to see.
        raise Forbidden("打卡位置不在您的管辖网格内", "the check-in point lies outside your grids")
    note = (values.get("note") or "").strip()[:1000] or None
    patrol = Patrol(user_id=actor.id if actor else None, at=at, location=f"SRID=4490;POINT({float(x)!r} {float(y)!r})",
                    source_crs=system, placement=placed.placement, grid_code=placed.grid_code,
                    home_code=placed.home_code, district_code=placed.district_code, note=note)
    session.add(patrol)
    session.flush()
    return patrol


def _public(patrol: Patrol, lon: float, lat: float, username: str | None) -> dict:
    return {"id": patrol.id, "at": patrol.at, "lon": lon, "lat": lat, "source_crs": patrol.source_crs,
            "placement": patrol.placement, "grid_code": patrol.grid_code, "home_code": patrol.home_code,
            "district_code": patrol.district_code, "note": patrol.note, "username": username,
            "created_at": patrol.created_at}


def _query(where: list):
    return (select(Patrol, func.ST_X(Patrol.location), func.ST_Y(Patrol.location), User.username)
            .outerjoin(User, User.id == Patrol.user_id).where(*where))


def patrol_detail(session: Session, patrol_id: int) -> dict:
    """One check-in (no scope check: for the author, right after recording it)."""
    patrol, lon, lat, username = session.execute(_query([Patrol.id == patrol_id])).one()
    return _public(patrol, lon, lat, username)


def list_patrols(session: Session, *, scope: Scope, grid: str | None = None,
                 date_from: date | None = None, date_to: date | None = None,
                 limit: int = 100, offset: int = 0) -> tuple[list[dict], int]:
    """Check-ins in the scope, optionally in a grid's subtree and on days ``[from, to)``
    (China Standard Time), newest first; points in CGCS2000."""
    where = [scope.filter(Patrol.home_code)] if scope.code else []
    if grid:
        where.append(Patrol.home_code.startswith(grid.strip(), autoescape=True))
    if date_from and date_to and date_from >= date_to:
        raise InvalidInput("起始日期应早于截止日期", "'from' must be before 'to'")
    if date_from:
        where.append(Patrol.at >= day_start(date_from))
    if date_to:
        where.append(Patrol.at < day_start(date_to))
    total = session.scalar(select(func.count()).select_from(Patrol).where(*where))
    rows = session.execute(_query(where).order_by(Patrol.at.desc(), Patrol.id.desc())
                           .limit(limit).offset(offset)).all()
    return [_public(p, x, y, u) for p, x, y, u in rows], total


__all__ = ["MAX_AGE", "create_patrol", "list_patrols", "patrol_detail"]
