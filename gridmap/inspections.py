"""Enforcement inspections (执法检查), inspection plans and the double-random draw (双随机).

Inspections
-----------
An inspection records one visit to one enterprise (by USCC, in the user's scope — 404
otherwise) by **at least two distinct certified inspectors** (持证执法). A certified
inspector is a :class:`~gridmap.models.Person` with a non-empty ``certificate_no``
(执法证号), the same reading as the coverage report's. It carries the findings, whether a
case was filed (立案), the fine (罚款, ≥ 0) and, optionally, the plan it belongs to — the
enterprise must then be a *selected* target of that drawn plan and the inspection must
fall in the plan's period. ``inspected_on`` defaults to now and may not lie in the future
(five minutes of clock skew are tolerated). The hazards found (``hazards``) are created
through :func:`gridmap.hazards.create_hazard` with source ``inspection``, the enterprise's
location and ``inspection_id`` set, so findings become hazards in the closed loop; their
default deadline runs from the inspection date (限期整改 starts with the inspection), not
from the time the record was typed in. The inspection, its inspectors and its hazards
are written together or not at all. ``grid_code``/``home_code``/``district_code`` are
copied from the enterprise as it is placed at recording time. Writer roles only (admin,
township_leader, grid_staff), within their scope.

Plans
-----
A plan belongs to a township (or a district direct grid, 区级直辖网格) in the user's
scope and to a period, ``YYYY`` or ``YYYYQn``. Its target list is fixed when it is
created: the given USCCs, or else every enterprise whose ``home_code`` lies in the
township and whose placement is neither ``unplaced`` nor ``ambiguous`` — those have no
known bottom-level grid, so neither an inspector nor the conflict-of-interest rule could
be applied to them (they show in the coverage report's lists instead). Status ``draft``
→ ``drawn``.

The double-random draw (双随机)
-------------------------------
``k = ceil(share × n)`` of the ``n`` targets are chosen with ``random.Random(seed)`` over
the targets **sorted by USCC**; then, for each chosen enterprise in USCC order, two
distinct inspectors are drawn with the same generator from the eligible part of the
inspector pool (sorted by person id). The same seed and the same target list and pool
therefore always give the same draw. The seed is the one given, or a fresh random
63-bit one; it is recorded on the plan, and returned as a decimal string because a
63-bit integer does not survive a JavaScript number.

* **Pool**: certified persons holding any role in the plan's township subtree
  (``role_assignment.grid_code`` starting with the township code) or at the district
  level (``grid_code`` equal to the district code).
* **Conflict of interest (回避)**: an inspector is never assigned to an enterprise
  located in a grid where they hold any role; "the grid" is the enterprise's bottom-level
  grid and its village (a role at ``enterprise.grid_code`` or ``enterprise.village_code``).
  Township- and district-level roles do not disqualify: those people supervise every
  enterprise of the township, and excluding them would leave no inspectors at all.
* Fewer than two eligible inspectors for a chosen enterprise is a 409 naming it; nothing
  is written.
* **Redraw**: a drawn plan is drawn again only by an admin passing ``force``, and only
  while no inspection has been recorded under it (409 otherwise) — a redraw would
  otherwise let anyone re-roll an unwelcome result, and would orphan recorded
  inspections. A redraw runs on today's target list and pool, and records them anew.
* **Record and verification**: the seed alone reproduces nothing once staffing changes
  (one more certified officer in the pool shifts almost every pair), so the draw records
  its inputs on the plan (``draw_record``): the targets in draw order (id, USCC, the grid
  codes of the conflict rule) and the pool in draw order (person id, the grid codes they
  held roles in). :func:`verify_draw` (``gridmap plans verify``) re-runs the draw from
  the recorded seed, share, targets and pool and compares it with the recorded
  selections and pairs. ``GET /api/v1/plans/{id}`` shows the seed and the pool.

Completion rate (完成率) = selected targets with at least one inspection recorded under
the plan / selected targets (``None`` before the draw).

Times: timestamps without a time zone are China Standard Time (UTC+8, :data:`CHINA_TZ`),
and periods and dates are calendar days in that zone — the users' clock.
"""

from __future__ import annotations

import math
import random
import re
import secrets
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, timezone

from sqlalchemy import exists, func, insert, or_, select, update
from sqlalchemy.orm import Session

from gridmap.auth import Scope
from gridmap.boundaries import require_active_set
from gridmap.codes import level_of_code, validate_code
from gridmap.errors import Conflict, IllegalTransition, InvalidInput, NotFound
from gridmap.hazards import create_hazard, default_deadline
from gridmap.models import (
    Enterprise,
    Grid,
    Hazard,
    Inspection,
    InspectionInspector,
    InspectionPlan,
    Person,
    PlanTarget,
    RoleAssignment,
    User,
)
from gridmap.settings import HazardSettings
from gridmap.taxonomy import Taxonomy
from gridmap.uscc import validate_uscc

#: China Standard Time (no daylight saving): how naive timestamps and calendar dates are read.
CHINA_TZ = timezone(timedelta(hours=8), "CST")
#: How far in the future a client clock may put a record before it is refused.
CLOCK_SKEW = timedelta(minutes=5)
#: Placements without a bottom-level grid: never put on a plan's target list.
UNGRIDDED = ("unplaced", "ambiguous")
_PERIOD = re.compile(r"(\d{4})(?:Q([1-4]))?")
_CERTIFIED = func.length(func.btrim(func.coalesce(Person.certificate_no, ""))) > 0


# --------------------------------------------------------------------------- times

def _now() -> datetime:
    return datetime.now(UTC)


def as_aware(moment: datetime) -> datetime:
    """``moment`` with a time zone: naive timestamps are China Standard Time.

    >>> as_aware(datetime(2026, 3, 1, 9, 0)).isoformat()
    '2026-03-01T09:00:00+08:00'
    """
    return moment.replace(tzinfo=CHINA_TZ) if moment.tzinfo is None else moment


def day_start(day: date) -> datetime:
    """Midnight at the start of ``day`` in China Standard Time."""
    return datetime(day.year, day.month, day.day, tzinfo=CHINA_TZ)


def parse_period(period: object) -> str:
    """Validate a plan period: ``YYYY`` (a year) or ``YYYYQn`` (a quarter).

    >>> parse_period(" 2026q3 ")
    '2026Q3'
    """
    text = str(period or "").strip().upper()
    match = _PERIOD.fullmatch(text)
    if match is None or not 2000 <= int(match.group(1)) <= 2100:
        raise InvalidInput(f"计划周期 {text!r} 格式不正确，应为年份（如 2026）或季度（如 2026Q3）",
                           f"plan period {text!r} must be a year (2026) or a quarter (2026Q3), 2000-2100")
    return text


def period_dates(period: str) -> tuple[date, date]:
    """First day and the day after the last day of a period.

    >>> period_dates("2026Q4")
    (datetime.date(2026, 10, 1), datetime.date(2027, 1, 1))
    """
    match = _PERIOD.fullmatch(parse_period(period))
    year, quarter = int(match.group(1)), match.group(2)
    if quarter is None:
        return date(year, 1, 1), date(year + 1, 1, 1)
    first_month = 3 * (int(quarter) - 1) + 1
    end = date(year + 1, 1, 1) if first_month == 10 else date(year, first_month + 3, 1)
    return date(year, first_month, 1), end


def periods_overlapping(start: date, end: date) -> list[str]:
    """Every year and quarter period that overlaps the days ``[start, end)``.

    >>> periods_overlapping(date(2026, 3, 15), date(2026, 4, 2))
    ['2026', '2026Q1', '2026Q2']
    """
    found = []
    for year in range(max(start.year, 2000), min((end - timedelta(days=1)).year, 2100) + 1):
        for period in [str(year)] + [f"{year}Q{q}" for q in range(1, 5)]:
            first, after = period_dates(period)
            if first < end and after > start:
                found.append(period)
    return found


# ------------------------------------------------------------------------- helpers

def _enterprise(session: Session, uscc: object, scope: Scope) -> Enterprise:
    try:
        code = validate_uscc(str(uscc or ""))
    except InvalidInput:
        raise NotFound("企业不存在", "enterprise not found") from None
    enterprise = session.scalar(select(Enterprise).where(Enterprise.uscc == code))
    if enterprise is None or not scope.allows(enterprise.home_code):
        raise NotFound(f"企业 {code} 不存在", f"enterprise {code} not found")
    return enterprise


def _certified_inspectors(session: Session, person_ids: list) -> list[Person]:
    ids = []
    for value in person_ids or []:
        if isinstance(value, bool) or not isinstance(value, int):
            raise InvalidInput("检查人员应为人员编号", "inspectors must be person ids")
        if value not in ids:
            ids.append(value)
    found = {p.id: p for p in session.scalars(select(Person).where(Person.id.in_(ids)))} if ids else {}
    missing = [i for i in ids if i not in found]
    if missing:
        raise InvalidInput(f"检查人员 {missing} 不存在", f"inspectors {missing} do not exist")
    uncertified = [found[i] for i in ids if not (found[i].certificate_no or "").strip()]
    if uncertified:
        # Ids only: naming persons would let a user look up names outside their scope.
        raise InvalidInput(f"检查人员 {[p.id for p in uncertified]} 无执法证，不能执法检查（持证执法）",
                           f"inspectors {[p.id for p in uncertified]} hold no enforcement certificate")
    if len(ids) < 2:
        raise InvalidInput("执法检查须由至少 2 名持证执法人员进行",
                           "an inspection needs at least 2 distinct certified inspectors")
    return [found[i] for i in ids]


def _grid_names(session: Session, codes: set[str]) -> dict[str, str]:
    codes = {c for c in codes if c}
    if not codes:
        return {}
    boundary_set = require_active_set(session)
    return dict(session.execute(select(Grid.code, Grid.name)
                                .where(Grid.set_id == boundary_set.id, Grid.code.in_(codes))).all())


# --------------------------------------------------------------------- inspections

def create_inspection(session: Session, values: dict, *, actor: User | None, scope: Scope,
                      hazard_settings: HazardSettings, categories: Taxonomy | None = None,
                      now: datetime | None = None) -> Inspection:
    """Record an inspection (and the hazards it found); see the module docstring for the rules.

    Parameters
    ----------
    values
        ``enterprise_uscc``; ``inspectors`` (person ids, ≥ 2 distinct certified);
        optional ``inspected_on`` (default now), ``findings``, ``case_filed``,
        ``fine_amount`` (≥ 0), ``plan_id`` and ``hazards`` (each: ``category``,
        ``grade``, ``description``, optional ``deadline``, ``supervising_official``,
        ``rectification_plan``).
    actor, scope
        Who records it; the enterprise must be in ``scope`` and the role a writer.
    hazard_settings, categories
        Passed on to :func:`gridmap.hazards.create_hazard`.

    Returns
    -------
    Inspection
        The flushed row; :func:`inspection_detail` gives its public form.
    """
    scope.require_write()
    now = now or _now()
    enterprise = _enterprise(session, values.get("enterprise_uscc"), scope)
    inspected_on = as_aware(values.get("inspected_on") or now)
    if inspected_on > now + CLOCK_SKEW:
        raise InvalidInput("检查时间不能晚于当前时间", "the inspection time cannot be in the future")
    inspectors = _certified_inspectors(session, values.get("inspectors") or [])
    try:
        fine = float(values.get("fine_amount") or 0.0)
    except (TypeError, ValueError):
        fine = math.nan
    if not math.isfinite(fine) or fine < 0:
        raise InvalidInput("罚款金额应为不小于 0 的数", "the fine must be a number ≥ 0")
    plan_id = values.get("plan_id")
    if plan_id is not None:
        plan = session.get(InspectionPlan, plan_id)
        if plan is None or not scope.allows(plan.township_code):
            raise NotFound(f"检查计划 {plan_id} 不存在", f"inspection plan {plan_id} not found")
        selected = session.scalar(select(PlanTarget.selected).where(
            PlanTarget.plan_id == plan.id, PlanTarget.enterprise_id == enterprise.id))
        if plan.status != "drawn" or not selected:
            raise InvalidInput(f"企业 {enterprise.uscc} 不是计划 {plan.id} 抽中的检查对象",
                               f"enterprise {enterprise.uscc} is not a selected target of plan {plan.id}")
        first, after = period_dates(plan.period)
        if not day_start(first) <= inspected_on < day_start(after):
            raise InvalidInput(f"检查时间不在计划周期 {plan.period} 内",
                               f"the inspection date is outside the plan period {plan.period}")
    found = list(values.get("hazards") or [])
    findings = (values.get("findings") or "").strip() or None

    # All or nothing: a bad hazard leaves neither the inspection nor its other hazards.
    with session.begin_nested():
        inspection = Inspection(
            enterprise_id=enterprise.id, plan_id=plan_id, inspected_on=inspected_on,
            grid_code=enterprise.grid_code, home_code=enterprise.home_code,
            district_code=enterprise.district_code, findings=findings,
            case_filed=bool(values.get("case_filed")), fine_amount=fine,
            created_by_id=actor.id if actor else None)
        session.add(inspection)
        session.flush()
        session.execute(insert(InspectionInspector),
                        [{"inspection_id": inspection.id, "person_id": p.id} for p in inspectors])
        for item in found:
            grade = item.get("grade") or "general"
            deadline = item.get("deadline")
            if deadline is None and grade in ("general", "major"):
                deadline = default_deadline(grade, hazard_settings, inspected_on)
            create_hazard(session, {
                "enterprise_uscc": enterprise.uscc, "source": "inspection", "inspection_id": inspection.id,
                "category": item.get("category"), "grade": grade, "description": item.get("description"),
                "deadline": as_aware(deadline) if deadline else None,
                "supervising_official": item.get("supervising_official"),
                "rectification_plan": item.get("rectification_plan"),
            }, actor=actor, scope=scope, settings=hazard_settings, categories=categories)
    return inspection


def _inspection_rows(session: Session, inspections: list[Inspection]) -> list[dict]:
    """Public form of many inspections with three queries, whatever their number."""
    ids = [i.id for i in inspections]
    inspectors: dict[int, list[dict]] = defaultdict(list)
    hazards: dict[int, list[dict]] = defaultdict(list)
    enterprises: dict[int, tuple[str, str]] = {}
    if ids:
        for inspection_id, person in session.execute(
                select(InspectionInspector.inspection_id, Person)
                .join(Person, Person.id == InspectionInspector.person_id)
                .where(InspectionInspector.inspection_id.in_(ids)).order_by(Person.id)):
            inspectors[inspection_id].append({"id": person.id, "name": person.name,
                                              "certificate_no": person.certificate_no})
        for hazard in session.scalars(select(Hazard).where(Hazard.inspection_id.in_(ids)).order_by(Hazard.id)):
            hazards[hazard.inspection_id].append({
                "id": hazard.id, "status": hazard.status, "grade": hazard.grade, "category": hazard.category,
                "description": hazard.description, "deadline": hazard.deadline})
        enterprise_ids = {i.enterprise_id for i in inspections}
        enterprises = {row.id: (row.uscc, row.name) for row in session.execute(
            select(Enterprise.id, Enterprise.uscc, Enterprise.name).where(Enterprise.id.in_(enterprise_ids)))}
    return [{
        "id": i.id, "enterprise_uscc": enterprises[i.enterprise_id][0],
        "enterprise_name": enterprises[i.enterprise_id][1], "plan_id": i.plan_id,
        "inspected_on": i.inspected_on, "grid_code": i.grid_code, "home_code": i.home_code,
        "district_code": i.district_code, "findings": i.findings, "case_filed": i.case_filed,
        "fine_amount": i.fine_amount, "inspectors": inspectors[i.id], "hazards": hazards[i.id],
        "created_at": i.created_at,
    } for i in inspections]


def inspection_detail(session: Session, inspection_id: int, scope: Scope) -> dict:
    """One inspection with its inspectors and the hazards it found (404 outside the scope)."""
    inspection = session.get(Inspection, inspection_id)
    if inspection is None or not scope.allows(inspection.home_code):
        raise NotFound("检查记录不存在", "inspection not found")
    return _inspection_rows(session, [inspection])[0]


def _date_range(column, date_from: date | None, date_to: date | None) -> list:
    if date_from and date_to and date_from >= date_to:
        raise InvalidInput("起始日期应早于截止日期", "'from' must be before 'to'")
    where = []
    if date_from:
        where.append(column >= day_start(date_from))
    if date_to:
        where.append(column < day_start(date_to))
    return where


def list_inspections(session: Session, *, scope: Scope, grid: str | None = None,
                     date_from: date | None = None, date_to: date | None = None,
                     limit: int = 100, offset: int = 0) -> tuple[list[dict], int]:
    """Inspections in the scope, optionally in a grid's subtree and on days ``[from, to)``,
    newest first."""
    where = [scope.filter(Inspection.home_code)] if scope.code else []
    if grid:
        where.append(Inspection.home_code.startswith(grid.strip(), autoescape=True))
    where += _date_range(Inspection.inspected_on, date_from, date_to)
    total = session.scalar(select(func.count()).select_from(Inspection).where(*where))
    rows = session.scalars(select(Inspection).where(*where)
                           .order_by(Inspection.inspected_on.desc(), Inspection.id.desc())
                           .limit(limit).offset(offset)).all()
    return _inspection_rows(session, list(rows)), total


# --------------------------------------------------------------------------- plans

def _plan_unit(session: Session, code: object, scope: Scope) -> Grid:
    code = validate_code(code)
    if level_of_code(code) not in ("township", "direct"):
        raise InvalidInput(f"计划须属于街道/镇或区级直辖网格，{code} 不是",
                           f"a plan belongs to a township or a district direct grid; {code} is neither")
    boundary_set = require_active_set(session)
    grid = session.scalar(select(Grid).where(Grid.set_id == boundary_set.id, Grid.code == code))
    # Outside the scope answers like a grid that does not exist: no probing for codes.
    if grid is None or not scope.allows(code):
        raise NotFound(f"网格 {code} 不存在", f"grid {code} not found")
    return grid


def _share(value: object) -> float:
    try:
        share = float(value)
    except (TypeError, ValueError):
        share = math.nan
    if not (math.isfinite(share) and 0 < share <= 1):
        raise InvalidInput("抽查比例应大于 0 且不超过 1", "the share must be greater than 0 and at most 1")
    return share


def create_plan(session: Session, values: dict, *, scope: Scope) -> InspectionPlan:
    """Create an inspection plan (status ``draft``) with its target list.

    Parameters
    ----------
    values
        ``township_code`` (a township or direct grid in the scope), ``period``
        (``YYYY``/``YYYYQn``), ``name``, optional ``share`` (default 0.2) and
        ``usccs`` (explicit targets; default: every gridded enterprise of the township).
    """
    scope.require_write()
    unit = _plan_unit(session, values.get("township_code"), scope)
    period = parse_period(values.get("period"))
    name = (values.get("name") or "").strip()
    if not name or len(name) > 200:
        raise InvalidInput("计划名称不能为空（最多 200 字）", "the plan name is required (200 characters at most)")
    share = _share(0.2 if values.get("share") is None else values["share"])
    usccs = values.get("usccs")
    if usccs is not None:
        codes: list[str] = []
        for raw in usccs:
            code = validate_uscc(str(raw))
            if code not in codes:
                codes.append(code)
        if not codes:
            raise InvalidInput("检查对象清单为空", "the target list is empty")
        rows = {e.uscc: e for e in session.scalars(select(Enterprise).where(Enterprise.uscc.in_(codes)))}
        missing = [c for c in codes if c not in rows or not scope.allows(rows[c].home_code)]
        if missing:
            raise NotFound(f"企业 {', '.join(missing[:5])} 不存在", f"enterprises {', '.join(missing[:5])} not found")
        outside = [c for c in codes if not (rows[c].home_code or "").startswith(unit.code)
                   or rows[c].placement in UNGRIDDED or not rows[c].grid_code]
        if outside:
            raise InvalidInput(f"企业 {', '.join(outside[:5])} 不在 {unit.code} 的网格内（或未落格）",
                               f"enterprises {', '.join(outside[:5])} are not placed in a grid of {unit.code}")
        target_ids = [rows[c].id for c in codes]
    else:
        target_ids = list(session.scalars(select(Enterprise.id).where(
            Enterprise.home_code.startswith(unit.code, autoescape=True), Enterprise.placement.not_in(UNGRIDDED), Enterprise.grid_code.is_not(None))))
        if not target_ids:
            raise InvalidInput(f"{unit.name}（{unit.code}）没有已落格的企业，无法建立检查计划",
                               f"{unit.code} has no enterprise placed in a grid to put on a plan")
    plan = InspectionPlan(township_code=unit.code, district_code=unit.code[:6], period=period, name=name,
                          share=share, status="draft")
    session.add(plan)
    session.flush()
    session.execute(insert(PlanTarget), [{"plan_id": plan.id, "enterprise_id": i, "selected": False}
                                         for i in target_ids])
    return plan


@dataclass(frozen=True)
class DrawTarget:
    """An enterprise on a plan, with the grid codes its inspectors may hold no role in."""

    enterprise_id: int
    uscc: str
    name: str
    conflict_codes: frozenset[str]


@dataclass(frozen=True)
class Inspector:
    """A certified person of the pool, with every grid code they hold a role in."""

    person_id: int
    name: str
    role_codes: frozenset[str]


@dataclass(frozen=True)
class Assignment:
    """One drawn enterprise and its pair of inspectors (in the order drawn)."""

    enterprise_id: int
    uscc: str
    inspector_ids: tuple[int, int]


def selection_size(share: float, n: int) -> int:
    """``ceil(share × n)``, immune to float noise, at least 1 when there are targets.

    >>> selection_size(0.3, 10), selection_size(0.25, 10), selection_size(1.0, 7), selection_size(0.5, 0)
    (3, 3, 7, 0)
    """
    if n <= 0:
        return 0
    return min(n, max(1, math.ceil(round(share * n, 9))))


def draw_assignments(targets: list[DrawTarget], pool: list[Inspector], *, share: float,
                     seed: int) -> list[Assignment]:
    """The double-random draw (双随机) itself: pure, deterministic in ``seed``.

    The generator is :class:`random.Random` (Mersenne Twister) seeded with the integer,
    whose sequence is stable across CPython releases. Targets are sorted by USCC and the pool by person id first, so the inputs' order does
    not matter. Raises :class:`~gridmap.errors.Conflict` (nothing to write) when a chosen
    enterprise has fewer than two eligible inspectors.

    >>> t = [DrawTarget(i, f"U{i}", f"企业{i}", frozenset({"V1"})) for i in range(4)]
    >>> p = [Inspector(i, f"P{i}", frozenset()) for i in range(3)]
    >>> draw_assignments(t, p, share=0.5, seed=7) == draw_assignments(t[::-1], p, share=0.5, seed=7)
    True
    """
    targets = sorted(targets, key=lambda t: t.uscc)
    pool = sorted(pool, key=lambda p: p.person_id)
    if not targets:
        raise Conflict("计划没有检查对象，无法抽取", "the plan has no targets to draw from")
    if len(pool) < 2:
        raise Conflict(f"持证执法人员库只有 {len(pool)} 人，至少需要 2 人",
                       f"the pool has {len(pool)} certified inspectors; at least 2 are needed")
    rng = random.Random(seed)
    chosen = sorted(rng.sample(range(len(targets)), selection_size(share, len(targets))))
    assignments = []
    short = []
    for index in chosen:
        target = targets[index]
        eligible = [p for p in pool if not (p.role_codes & target.conflict_codes)]
        if len(eligible) < 2:
            short.append(target)
            continue
        first, second = rng.sample(eligible, 2)
        assignments.append(Assignment(target.enterprise_id, target.uscc, (first.person_id, second.person_id)))
    if short:
        first = short[0]
        more_zh = f"等 {len(short)} 家企业" if len(short) > 1 else ""
        more_en = f" and {len(short) - 1} more" if len(short) > 1 else ""
        raise Conflict(
            f"企业 {first.name}（{first.uscc}）{more_zh}回避后可派的持证执法人员不足 2 人",
            f"fewer than 2 certified inspectors are eligible for {first.uscc} {first.name}{more_en} "
            "after the conflict-of-interest rule",
            detail=[{"uscc": t.uscc, "name": t.name} for t in short])
    return assignments


def inspector_pool(session: Session, township_code: str) -> list[Inspector]:
    """Certified persons with a role in the township's subtree or at its district level,
    sorted by person id, each with all the grid codes they hold roles in."""
    district = township_code[:6]
    in_area = exists().where(RoleAssignment.person_id == Person.id,
                             or_(RoleAssignment.grid_code.startswith(township_code, autoescape=True),
                                 RoleAssignment.grid_code == district))
    people = session.execute(select(Person.id, Person.name).where(_CERTIFIED, in_area).order_by(Person.id)).all()
    codes: dict[int, set[str]] = defaultdict(set)
    if people:
        for person_id, grid_code in session.execute(
                select(RoleAssignment.person_id, RoleAssignment.grid_code)
                .where(RoleAssignment.person_id.in_([p.id for p in people]))):
            codes[person_id].add(grid_code)
    return [Inspector(p.id, p.name, frozenset(codes[p.id])) for p in people]


def _draw_targets(session: Session, plan_id: int) -> list[DrawTarget]:
    rows = session.execute(
        select(Enterprise.id, Enterprise.uscc, Enterprise.name, Enterprise.grid_code, Enterprise.village_code)
        .join(PlanTarget, PlanTarget.enterprise_id == Enterprise.id)
        .where(PlanTarget.plan_id == plan_id).order_by(Enterprise.uscc)).all()
    return [DrawTarget(r.id, r.uscc, r.name, frozenset(c for c in (r.grid_code, r.village_code) if c))
            for r in rows]


def _get_plan(session: Session, plan_id: int, scope: Scope, *, lock: bool = False) -> InspectionPlan:
    query = select(InspectionPlan).where(InspectionPlan.id == plan_id)
    if lock:
        query = query.with_for_update().execution_options(populate_existing=True)
    plan = session.scalar(query)
    if plan is None or not scope.allows(plan.township_code):
        raise NotFound(f"检查计划 {plan_id} 不存在", f"inspection plan {plan_id} not found")
    return plan


def draw_plan(session: Session, plan_id: int, *, scope: Scope, share: float | None = None,
              seed: int | None = None, force: bool = False, now: datetime | None = None) -> InspectionPlan:
    """Run the double-random draw of a plan and record it (seed, share, selections, pairs).

    Parameters
    ----------
    share
        Overrides (and replaces) the plan's share.
    seed
        The seed to use (0 ≤ seed < 2⁶³); default a fresh random one. Recorded.
    force
        Redraw a drawn plan (admins only, and only before any inspection under it).
    """
    scope.require_write()
    plan = _get_plan(session, plan_id, scope, lock=True)
    if plan.status == "drawn":
        if not force:
            raise IllegalTransition(f"计划 {plan.id} 已抽取（种子 {plan.seed}）；重新抽取须管理员强制执行",
                                    f"plan {plan.id} is already drawn (seed {plan.seed}); "
                                    "only an admin can redraw it with force")
        scope.require_admin()
        if session.scalar(select(func.count()).select_from(Inspection).where(Inspection.plan_id == plan.id)):
            raise Conflict(f"计划 {plan.id} 已有检查记录，不能重新抽取",
                           f"plan {plan.id} already has inspections recorded; it cannot be redrawn")
    share = _share(share) if share is not None else plan.share
    if seed is None:
        seed = secrets.randbits(63)
    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed < 2**63:
        raise InvalidInput("随机种子应为 0 到 2^63-1 之间的整数", "the seed must be an integer from 0 to 2^63-1")
    targets = sorted(_draw_targets(session, plan.id), key=lambda t: t.uscc)
    pool = inspector_pool(session, plan.township_code)
    assignments = draw_assignments(targets, pool, share=share, seed=seed)
    session.execute(update(PlanTarget).where(PlanTarget.plan_id == plan.id)
                    .values(selected=False, inspector_a_id=None, inspector_b_id=None))
    session.execute(update(PlanTarget), [
        {"plan_id": plan.id, "enterprise_id": a.enterprise_id, "selected": True,
         "inspector_a_id": a.inspector_ids[0], "inspector_b_id": a.inspector_ids[1]} for a in assignments])
    plan.share, plan.seed, plan.status, plan.drawn_at = share, seed, "drawn", now or _now()
    plan.draw_record = {
        "targets": [{"enterprise_id": t.enterprise_id, "uscc": t.uscc, "conflict_codes": sorted(t.conflict_codes)}
                    for t in targets],
        "pool": [{"person_id": p.person_id, "role_codes": sorted(p.role_codes)} for p in pool],
    }
    session.flush()
    return plan


def verify_draw(session: Session, plan_id: int, *, scope: Scope) -> dict:
    """Re-run a plan's draw from what it recorded (seed, share, targets, pool) and compare.

    Returns ``{"plan_id", "seed", "selected", "identical", "differences"}``; each
    difference names a USCC with the recorded and the reproduced pair (``None`` when not
    selected on that side). Later changes of staff, roles or enterprises do not matter:
    only the record is used.
    """
    plan = _get_plan(session, plan_id, scope)
    if plan.status != "drawn":
        raise IllegalTransition(f"计划 {plan.id} 尚未抽取", f"plan {plan.id} has not been drawn")
    if plan.draw_record is None:
        raise Conflict(f"计划 {plan.id} 抽取时未记录人员库（早于 0009 版本），无法复现",
                       f"plan {plan.id} was drawn before draws recorded their pool; it cannot be reproduced")
    record = plan.draw_record
    targets = [DrawTarget(t["enterprise_id"], t["uscc"], t["uscc"], frozenset(t["conflict_codes"]))
               for t in record["targets"]]
    pool = [Inspector(p["person_id"], str(p["person_id"]), frozenset(p["role_codes"])) for p in record["pool"]]
    reproduced = {a.enterprise_id: a.inspector_ids
                  for a in draw_assignments(targets, pool, share=plan.share, seed=plan.seed)}
    recorded = {enterprise_id: (a, b) for enterprise_id, a, b in session.execute(
        select(PlanTarget.enterprise_id, PlanTarget.inspector_a_id, PlanTarget.inspector_b_id)
        .where(PlanTarget.plan_id == plan.id, PlanTarget.selected))}
    differences = [{"uscc": t.uscc, "recorded": recorded.get(t.enterprise_id),
                    "reproduced": reproduced.get(t.enterprise_id)}
                   for t in targets if recorded.get(t.enterprise_id) != reproduced.get(t.enterprise_id)]
    return {"plan_id": plan.id, "seed": str(plan.seed), "selected": len(recorded),
            "identical": not differences, "differences": differences}


def plan_completion(session: Session, plan_ids: list[int]) -> dict[int, tuple[int, int]]:
    """``{plan_id: (selected, inspected)}``: selected targets, and those with at least one
    inspection recorded under the plan. One grouped query."""
    if not plan_ids:
        return {}
    inspected = exists().where(Inspection.plan_id == PlanTarget.plan_id,
                               Inspection.enterprise_id == PlanTarget.enterprise_id)
    rows = session.execute(
        select(PlanTarget.plan_id, func.count(), func.count().filter(inspected))
        .where(PlanTarget.plan_id.in_(plan_ids), PlanTarget.selected).group_by(PlanTarget.plan_id)).all()
    return {plan_id: (selected, done) for plan_id, selected, done in rows}


def _plan_summary(plan: InspectionPlan, names: dict[str, str], targets: int,
                  completion: tuple[int, int] | None) -> dict:
    selected, inspected = completion or (0, 0)
    first, after = period_dates(plan.period)
    return {
        "id": plan.id, "township_code": plan.township_code, "township_name": names.get(plan.township_code),
        "district_code": plan.district_code, "period": plan.period, "period_start": first,
        "period_end": after, "name": plan.name, "share": plan.share, "status": plan.status,
        "seed": str(plan.seed) if plan.seed is not None else None, "drawn_at": plan.drawn_at,
        "created_at": plan.created_at, "targets_count": targets, "selected_count": selected,
        "inspected_count": inspected,
        "completion": round(inspected / selected, 4) if plan.status == "drawn" and selected else None,
    }


def list_plans(session: Session, *, scope: Scope, township: str | None = None, limit: int = 100,
               offset: int = 0) -> tuple[list[dict], int]:
    """Plans of the townships in the scope (optionally one township's), newest first."""
    where = [scope.filter(InspectionPlan.township_code)] if scope.code else []
    if township:
        where.append(InspectionPlan.township_code.startswith(township.strip(), autoescape=True))
    total = session.scalar(select(func.count()).select_from(InspectionPlan).where(*where))
    plans = session.scalars(select(InspectionPlan).where(*where)
                            .order_by(InspectionPlan.id.desc()).limit(limit).offset(offset)).all()
    ids = [p.id for p in plans]
    counts = dict(session.execute(select(PlanTarget.plan_id, func.count()).where(PlanTarget.plan_id.in_(ids))
                                  .group_by(PlanTarget.plan_id)).all()) if ids else {}
    completion = plan_completion(session, ids)
    names = _grid_names(session, {p.township_code for p in plans})
    return [_plan_summary(p, names, counts.get(p.id, 0), completion.get(p.id)) for p in plans], total


def plan_detail(session: Session, plan_id: int, scope: Scope) -> dict:
    """A plan with its targets (selected or not, the drawn inspector pair, inspected or
    not) and the recorded inspector pool of its draw, person ids in draw order."""
    plan = _get_plan(session, plan_id, scope)
    persons = {}
    rows = session.execute(
        select(PlanTarget, Enterprise.uscc, Enterprise.name, Enterprise.grid_code, Enterprise.village_code)
        .join(Enterprise, Enterprise.id == PlanTarget.enterprise_id)
        .where(PlanTarget.plan_id == plan.id).order_by(Enterprise.uscc)).all()
    person_ids = {i for row in rows for i in (row[0].inspector_a_id, row[0].inspector_b_id) if i}
    if person_ids:
        persons = {p.id: {"id": p.id, "name": p.name, "certificate_no": p.certificate_no}
                   for p in session.scalars(select(Person).where(Person.id.in_(person_ids)))}
    inspections: dict[int, list[int]] = defaultdict(list)
    for enterprise_id, inspection_id in session.execute(
            select(Inspection.enterprise_id, Inspection.id).where(Inspection.plan_id == plan.id)
            .order_by(Inspection.id)):
        inspections[enterprise_id].append(inspection_id)
    names = _grid_names(session, {plan.township_code})
    summary = _plan_summary(plan, names, len(rows), plan_completion(session, [plan.id]).get(plan.id))
    # The pool in draw order: with the seed, what the draw can be reproduced from.
    summary["pool"] = [p["person_id"] for p in plan.draw_record["pool"]] if plan.draw_record else None
    summary["targets"] = [{
        "uscc": uscc, "name": name, "grid_code": grid_code, "village_code": village_code,
        "selected": target.selected, "inspector_a": persons.get(target.inspector_a_id),
        "inspector_b": persons.get(target.inspector_b_id),
        "inspection_ids": inspections.get(target.enterprise_id, []),
    } for target, uscc, name, grid_code, village_code in rows]
    return summary


__all__ = [
    "CHINA_TZ",
    "Assignment",
    "DrawTarget",
    "Inspector",
    "as_aware",
    "create_inspection",
    "create_plan",
    "day_start",
    "draw_assignments",
    "draw_plan",
    "inspection_detail",
    "inspector_pool",
    "list_inspections",
    "list_plans",
    "parse_period",
    "period_dates",
    "periods_overlapping",
    "plan_completion",
    "plan_detail",
    "selection_size",
    "verify_draw",
]
