"""Hazards (隐患) and their six-step closed loop (六步闭环).

States: ``reported → filed → dispatched → rectifying → verifying → closed`` (上报 → 立案 →
派遣 → 处置 → 核查 → 结案), plus ``rejected`` (not a hazard, or a duplicate of another,
linked both ways) and ``verifying → rectifying`` when verification fails.

Who may do what (role, and always within the user's scope):

=====================  ==============================  ===========================
transition             roles                           requires
=====================  ==============================  ===========================
reported → filed       admin, township_leader          major: supervising official
                                                       and rectification plan
                                                       (挂牌督办)
reported/filed →       admin, township_leader          a note, or ``duplicate_of``
rejected                                               (an original that is not
                                                       itself rejected)
filed → dispatched     admin, township_leader
dispatched →           admin, township_leader,
rectifying             grid_staff
rectifying →           admin, township_leader,         the actor is the rectifier
verifying              grid_staff
verifying → closed     admin, township_leader          after photo (major: also the
                                                       responsibility sheet); the
                                                       verifier is none of the
                                                       rectifiers (below)
verifying →            admin, township_leader          a note (why it failed)
rectifying
=====================  ==============================  ===========================

Which fields a transition may change (:data:`FIELD_RULES`); a field given at another step
is refused with 422, by another role with 403:

======================  ==========================================  ====================
field                   at                                          roles
======================  ==========================================  ====================
category, grade         reported → filed                            admin, township_leader
supervising_official,   reported → filed                            admin, township_leader
rectification_plan
deadline                reported → filed, filed → dispatched,       admin, township_leader
                        verifying → rectifying (a new deadline
                        for the second round, with its note)
======================  ==========================================  ====================

Every field a transition changes is recorded in the event's ``data["changes"]`` as
``{field: {"old": …, "new": …}}``. Re-grading at filing without an explicit deadline
recomputes the default deadline for the new grade from the report time (the inspection
date for an inspection's finding), marked ``"default": true``. When a hazard is created,
only leaders may give an explicit deadline (grid staff get the default by grade), except
for an inspection's findings, whose deadline is the inspection's 限期整改 order.

The rectifiers of a hazard are everyone who moved it ``dispatched → rectifying`` or
``rectifying → verifying`` in any round (read from the event log); none of them may close
it. A leader who sent it back after a failed verification is not a rectifier. A hazard
imported in ``verifying`` has no recorded rectifier (the import is not a person), so any
leader may verify it.

Anything else is an illegal transition (HTTP 409); a legal one by the wrong role is 403;
a hazard outside the user's scope is 404. Every change is an event in the append-only
``hazard_event`` log, written in the same transaction as the hazard row, whose
``version`` counts the events.

Concurrency: a transition reads the hazard's version, then locks the row (``SELECT … FOR
UPDATE``); when the version moved while it waited for the lock, someone else changed the
hazard in between and the transition is refused with 409 (reload and decide again) — so of
two concurrent transitions exactly one wins, even towards different states, and nothing
is lost. A client may also send the ``version`` it saw (optimistic concurrency): a
different current version is a 409 as well. Attachments only take the lock (two photos
uploaded at once are both kept).
"""

from __future__ import annotations

import hashlib
import math
import re
import secrets
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

from sqlalchemy import func, select, text, update
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from gridmap import coords
from gridmap.auth import Scope
from gridmap.boundaries import require_active_set
from gridmap.density import RESOLUTIONS, ensure_cells, hazard_cells, parent
from gridmap.errors import (
    Conflict,
    Forbidden,
    GridmapError,
    IllegalTransition,
    InvalidFile,
    InvalidInput,
    NotFound,
    TooLarge,
)
from gridmap.models import (
    ATTACHMENT_KINDS,
    HAZARD_GRADES,
    HAZARD_SOURCES,
    Enterprise,
    Grid,
    Hazard,
    HazardAttachment,
    HazardEvent,
    Inspection,
    User,
)
from gridmap.placement import place_records
from gridmap.queries.grids import persons_by_role
from gridmap.settings import HazardSettings
from gridmap.taxonomy import DEFAULT_HAZARD_CATEGORIES, HAZARD_GROUPS, Taxonomy, load_hazard_categories
from gridmap.uscc import validate_uscc

STATE_NAMES_ZH = {"reported": "已上报", "filed": "已立案", "dispatched": "已派遣", "rectifying": "整改中",
                  "verifying": "待核查", "closed": "已结案", "rejected": "不予立案"}
OPEN_STATES = ("reported", "filed", "dispatched", "rectifying", "verifying")
_LEADERS = ("admin", "township_leader")
_FIELD = ("admin", "township_leader", "grid_staff")
TRANSITIONS: dict[tuple[str, str], tuple[str, ...]] = {
    ("reported", "filed"): _LEADERS,
    ("reported", "rejected"): _LEADERS,
    ("filed", "rejected"): _LEADERS,
    ("filed", "dispatched"): _LEADERS,
    ("dispatched", "rectifying"): _FIELD,
    ("rectifying", "verifying"): _FIELD,
    ("verifying", "closed"): _LEADERS,
    ("verifying", "rectifying"): _LEADERS,
}
_FILING = (("reported", "filed"),)
#: Which transitions may change which field, and which roles may: ``{field: (steps, roles)}``.
FIELD_RULES: dict[str, tuple[tuple[tuple[str, str], ...], tuple[str, ...]]] = {
    "category": (_FILING, _LEADERS),
    "grade": (_FILING, _LEADERS),
    "supervising_official": (_FILING, _LEADERS),
    "rectification_plan": (_FILING, _LEADERS),
    "deadline": (_FILING + (("filed", "dispatched"), ("verifying", "rectifying")), _LEADERS),
}
_FIELD_NAMES = {"category": ("类别", "category"), "grade": ("等级", "grade"),
                "supervising_official": ("督办人", "supervising official"),
                "rectification_plan": ("整改方案", "rectification plan"), "deadline": ("整改期限", "deadline")}
_STEP_NAMES = {("reported", "filed"): ("立案", "filing"), ("filed", "dispatched"): ("派遣", "dispatching"),
               ("verifying", "rectifying"): ("核查不通过退回", "sending back after a failed verification")}
#: The built-in ``unclassified`` (待分类): what a public tip-off arrives as, whatever the
#: deployment's category file lists, until the command centre files it.
_UNCLASSIFIED = Taxonomy(tuple(c for c in DEFAULT_HAZARD_CATEGORIES if c.id == "unclassified"))
_MAGIC = {b"\xff\xd8\xff": "image/jpeg", b"\x89PNG\r\n\x1a\n": "image/png", b"%PDF-": "application/pdf"}
_SYSTEM = "system"
#: Deadlines without a time zone are China Standard Time (like every time the API takes).
_CHINA_TZ = timezone(timedelta(hours=8), "CST")


def _now() -> datetime:
    return datetime.now(UTC)


def is_overdue(hazard: Hazard, now: datetime | None = None) -> bool:
    return hazard.status in OPEN_STATES and hazard.deadline < (now or _now())


# ------------------------------------------------------------------------ creation

def default_deadline(grade: str, settings: HazardSettings, start: datetime | None = None) -> datetime:
    days = settings.deadline_days_major if grade == "major" else settings.deadline_days_general
    return (start or _now()) + timedelta(days=days)


def _add_event(session: Session, hazard: Hazard, seq: int, *, action: str, actor: User | None,
               from_status: str | None = None, to_status: str | None = None, note: str | None = None,
               attachment_ids: list[int] | None = None, data: dict | None = None,
               at: datetime | None = None) -> HazardEvent:
    event = HazardEvent(hazard_id=hazard.id, seq=seq, action=action, from_status=from_status,
                        to_status=to_status, actor_id=actor.id if actor else None,
                        actor_name=actor.username if actor else _SYSTEM, note=note,
                        attachment_ids=attachment_ids or [], data=data or {})
    if at is not None:
        event.at = at
    session.add(event)
    session.flush()
    return event


def _jsonable(value: object) -> object:
    """A field value as the event log keeps it: times in UTC, ISO 8601."""
    return value.astimezone(UTC).isoformat() if isinstance(value, datetime) else value


def _bump(session: Session, hazard_id: int, **values) -> int:
    """Advance the hazard's version (the event sequence) under its row lock."""
    return session.execute(
        update(Hazard).where(Hazard.id == hazard_id)
        .values(version=Hazard.version + 1, updated_at=func.now(), **values)
        .returning(Hazard.version)
    ).scalar_one()


def create_hazard(session: Session, values: dict, *, actor: User | None, scope: Scope,
                  settings: HazardSettings, tolerance_m: float = 50.0,
                  categories: Taxonomy | None = None, public: bool = False) -> Hazard:
    """Record a new hazard (status ``reported``), placed into its grid like an enterprise.

    ``values``: ``lon``/``lat``/``crs`` and/or ``enterprise_uscc``; ``category``,
    ``grade``, ``source`` (staff may enter a hotline or walk-in report as
    ``public_report`` themselves), ``description``; optional ``deadline`` (leaders, or an
    inspection's finding), ``supervising_official``, ``rectification_plan``,
    ``inspection_id``. ``categories`` is the deployment's hazard taxonomy (default: the
    built-in one); ``unclassified`` is always accepted.
    """
    categories = categories or load_hazard_categories()
    if not public:
        scope.require_write()
    description = (values.get("description") or "").strip()
    if not description:
        raise InvalidInput("隐患描述不能为空", "the description is required")
    grade = values.get("grade") or "general"
    if grade not in HAZARD_GRADES:
        raise InvalidInput(f"隐患等级应为 general 或 major，收到 {grade!r}", f"grade must be general or major, got {grade!r}")
    source = values.get("source") or ("public_report" if public else "inspection")
    if source not in HAZARD_SOURCES:
        raise InvalidInput(f"未知来源 {source!r}", f"unknown source {source!r} (one of {', '.join(HAZARD_SOURCES)})")
    category = _parse_category(categories, values.get("category") or ("unclassified" if public else ""))
    if category is None:
        raise _unknown_category(values.get("category"))

    enterprise = None
    if values.get("enterprise_uscc"):
        try:
            uscc = validate_uscc(values["enterprise_uscc"])
        except InvalidInput:
            raise NotFound("企业不存在", "enterprise not found") from None
        enterprise = session.scalar(select(Enterprise).where(Enterprise.uscc == uscc))
        if enterprise is None or not scope.allows(enterprise.home_code):
            raise NotFound("企业不存在", "enterprise not found")
    lon, lat = values.get("lon"), values.get("lat")
    system = coords.parse_crs(values.get("crs"))
    if (lon is None) != (lat is None):
        raise InvalidInput("经度和纬度只填了一个", "only one of longitude and latitude is given")
    if lon is None and enterprise is None:
        raise InvalidInput("需要位置（经纬度）或企业统一社会信用代码", "a location (lon/lat) or an enterprise USCC is required")

    boundary_set = require_active_set(session)
    hazard = Hazard(category=category.id, grade=grade, source=source, description=description[:4000],
                    status="reported", enterprise_id=enterprise.id if enterprise else None,
                    reported_by_id=actor.id if actor else None, version=1,
                    supervising_official=values.get("supervising_official"),
                    rectification_plan=values.get("rectification_plan"),
                    inspection_id=values.get("inspection_id"),
                    reporter_contact=values.get("reporter_contact"))
    if lon is not None:
        coords.check_lonlat(float(lon), float(lat))
        x, y = coords.to_cgcs2000(float(lon), float(lat), system)
        placed = place_records(session, set_id=boundary_set.id, lon=[x], lat=[y], addresses=[None],
                               tolerance_m=tolerance_m)[0]
        hazard.source_lon, hazard.source_lat, hazard.source_crs = float(lon), float(lat), system
        hazard.location = f"SRID=4490;POINT({float(x)!r} {float(y)!r})"
        hazard.h3_cells = hazard_cells(float(x), float(y))
        hazard.placement = placed.placement
        for key in ("grid_code", "village_code", "township_code", "district_code"):
            setattr(hazard, key, getattr(placed, key))
        hazard.home_code = placed.home_code
    else:
        hazard.placement = enterprise.placement
        hazard.grid_code = enterprise.grid_code
        hazard.village_code = enterprise.village_code
        hazard.township_code = enterprise.township_code
        hazard.district_code = enterprise.district_code
        hazard.home_code = enterprise.home_code
        hazard.location = enterprise.location
        if enterprise.h3_r9 is not None:
            hazard.h3_cells = [parent(enterprise.h3_r9, res) for res in RESOLUTIONS]
    if not public and not scope.allows(hazard.home_code):
        raise Forbidden("隐患位置不在您的管辖范围内", "the hazard lies outside your scope")
    deadline = values.get("deadline")
    if deadline is not None and actor is not None and scope.role not in _LEADERS and not values.get("inspection_id"):
        raise Forbidden("只有管理员和镇街领导可以指定整改期限（默认按等级）",
                        "only admins and township leaders may set a deadline (the default follows the grade)")
    if deadline is not None and deadline.tzinfo is None:
        deadline = deadline.replace(tzinfo=_CHINA_TZ)
    reported_at = values.get("reported_at")
    hazard.deadline = deadline or default_deadline(grade, settings, reported_at)
    if reported_at is not None:
        hazard.created_at = hazard.updated_at = reported_at
    session.add(hazard)
    session.flush()
    if hazard.h3_cells:
        ensure_cells(session, {res: {cell} for res, cell in zip(RESOLUTIONS, hazard.h3_cells)})
    _add_event(session, hazard, 1, action="create", actor=actor, to_status="reported",
               data={"source": source, "grade": grade, "category": category.id,
                     "deadline": _jsonable(hazard.deadline)}, at=reported_at)
    return hazard


def _unknown_category(value: str | None) -> InvalidInput:
    return InvalidInput(
        f"未知隐患类别 {value!r}（可选类别见 gridmap hazards categories 或 GET /api/v1/hazard-categories）",
        f"unknown hazard category {value!r} (see `gridmap hazards categories` or GET /api/v1/hazard-categories)")


def _parse_category(categories: Taxonomy, value: str | None):
    return categories.parse(value) or _UNCLASSIFIED.parse(value)


# ---------------------------------------------------------------------- transitions

def _locked(session: Session, hazard_id: int) -> Hazard | None:
    """The hazard row under ``SELECT … FOR UPDATE``; waiting too long for the lock, or a
    deadlock with another transaction, is a 409 (retry), not a server error."""
    try:
        session.execute(text("SET LOCAL lock_timeout = '5s'"))
        return session.scalar(select(Hazard).where(Hazard.id == hazard_id)
                              .with_for_update().execution_options(populate_existing=True))
    except OperationalError as exc:
        if getattr(getattr(exc, "orig", None), "sqlstate", "") in ("55P03", "40P01"):
            raise Conflict("该隐患正被他人处理，请稍后重试", "the hazard is being changed by someone else; retry") from None
        raise


def _lock(session: Session, hazard_id: int, scope: Scope, *, expected_version: int | None = None,
          refuse_if_changed: bool = True) -> Hazard:
    """Lock the hazard for a change (see "Concurrency" in the module docstring)."""
    seen = session.scalar(select(Hazard.version).where(Hazard.id == hazard_id)) if refuse_if_changed else None
    hazard = _locked(session, hazard_id)
    if hazard is None or not scope.allows(hazard.home_code):
        raise NotFound("隐患不存在", "hazard not found")
    if expected_version is not None and hazard.version != expected_version:
        raise Conflict(f"隐患 {hazard_id} 已被他人修改（版本 {hazard.version}，您看到的是 {expected_version}），请刷新后重试",
                       f"hazard {hazard_id} was changed by someone else (version {hazard.version}, "
                       f"you saw {expected_version}); reload it and retry")
    if seen is not None and hazard.version != seen:
        raise Conflict(f"隐患 {hazard_id} 刚被他人修改，请刷新后重试",
                       f"hazard {hazard_id} was just changed by someone else; reload it and retry")
    return hazard


def _attachments(session: Session, hazard_id: int) -> list[HazardAttachment]:
    return list(session.scalars(select(HazardAttachment).where(HazardAttachment.hazard_id == hazard_id)
                                .order_by(HazardAttachment.id)))


def _check_fields(given: dict, current: str, to: str, role: str) -> None:
    """Refuse a field this role may not change, or not at this step (:data:`FIELD_RULES`)."""
    for name in given:
        steps, roles = FIELD_RULES[name]
        zh, en = _FIELD_NAMES[name]
        if role not in roles:
            raise Forbidden(f"角色 {role} 不能修改{zh}", f"role {role} may not change the {en}")
        if (current, to) not in steps:
            where_zh = "、".join(_STEP_NAMES[s][0] for s in steps)
            where_en = ", ".join(_STEP_NAMES[s][1] for s in steps)
            raise InvalidInput(f"{zh}只能在{where_zh}时修改（当前 {current} → {to}）",
                               f"the {en} can only be changed when {where_en} (not {current} → {to})")


def _rectifiers(session: Session, hazard_id: int) -> set[int]:
    """Users who moved the hazard ``dispatched → rectifying`` or ``→ verifying``, any round."""
    started = (HazardEvent.from_status == "dispatched") & (HazardEvent.to_status == "rectifying")
    return set(session.scalars(select(HazardEvent.actor_id).where(
        HazardEvent.hazard_id == hazard_id, HazardEvent.action == "transition",
        HazardEvent.actor_id.is_not(None), started | (HazardEvent.to_status == "verifying"))))


def _report_time(session: Session, hazard: Hazard) -> datetime:
    """When the deadline runs from: the inspection date for an inspection's finding,
    else the time the hazard was reported."""
    if hazard.inspection_id is not None:
        inspected_on = session.scalar(select(Inspection.inspected_on).where(Inspection.id == hazard.inspection_id))
        if inspected_on is not None:
            return inspected_on
    return hazard.created_at


def _field_values(session: Session, hazard: Hazard, given: dict, categories: Taxonomy | None,
                  settings: HazardSettings | None) -> dict:
    """The checked new values of the fields a transition gives; a re-grading without a
    deadline brings the new grade's default deadline, counted from the report time."""
    values: dict = {}
    if "category" in given:
        found = _parse_category(categories or load_hazard_categories(), given["category"])
        if found is None:
            raise _unknown_category(given["category"])
        values["category"] = found.id
    if "grade" in given:
        if given["grade"] not in HAZARD_GRADES:
            raise InvalidInput("隐患等级应为 general 或 major", "grade must be general or major")
        values["grade"] = given["grade"]
    if "supervising_official" in given:
        values["supervising_official"] = given["supervising_official"][:100]
    if "rectification_plan" in given:
        values["rectification_plan"] = given["rectification_plan"]
    if "deadline" in given:
        deadline = given["deadline"]
        values["deadline"] = deadline if deadline.tzinfo else deadline.replace(tzinfo=_CHINA_TZ)
        if values["deadline"] <= hazard.created_at:
            raise InvalidInput("整改期限不能早于隐患上报时间", "the deadline cannot be before the hazard was reported")
    elif values.get("grade", hazard.grade) != hazard.grade:
        values["deadline"] = default_deadline(values["grade"], settings or HazardSettings(),
                                              _report_time(session, hazard))
    return values


def transition(session: Session, hazard_id: int, *, to: str, actor: User, scope: Scope,
               note: str | None = None, attachment_ids: list[int] | None = None,
               duplicate_of: int | None = None, supervising_official: str | None = None,
               rectification_plan: str | None = None, category: str | None = None,
               grade: str | None = None, deadline: datetime | None = None,
               version: int | None = None, categories: Taxonomy | None = None,
               settings: HazardSettings | None = None) -> Hazard:
    """Move a hazard to state ``to``; see the module docstring for the rules.

    ``version`` is the hazard version the caller saw (optional; 409 when it moved).
    ``settings`` gives the default deadlines a re-grading at filing recomputes (default:
    read from the environment).
    """
    hazard = _lock(session, hazard_id, scope, expected_version=version)
    current = hazard.status
    allowed_roles = TRANSITIONS.get((current, to))
    if allowed_roles is None:
        targets = [t for (f, t) in TRANSITIONS if f == current]
        allowed = "、".join(targets) if targets else "无"
        raise IllegalTransition(
            f"隐患 {hazard_id} 当前为“{STATE_NAMES_ZH.get(current, current)}”，不能转为 {to}（可转为：{allowed}）",
            f"hazard {hazard_id} is {current}; it cannot go to {to} (allowed: {', '.join(targets) or 'none'})")
    if scope.role not in allowed_roles:
        raise Forbidden(f"角色 {scope.role} 不能执行 {current} → {to}",
                        f"role {scope.role} may not move a hazard from {current} to {to}")
    note = (note or "").strip() or None
    attachment_ids = list(attachment_ids or [])
    own = {a.id: a for a in _attachments(session, hazard.id)}
    foreign = [a for a in attachment_ids if a not in own]
    if foreign:
        raise InvalidInput(f"附件 {foreign} 不属于该隐患", f"attachments {foreign} do not belong to this hazard")

    given = {name: value for name, value in (
        ("category", category), ("grade", grade), ("deadline", deadline),
        ("supervising_official", (supervising_official or "").strip() or None),
        ("rectification_plan", (rectification_plan or "").strip() or None)) if value is not None}
    _check_fields(given, current, to, scope.role)
    changes: dict = {"status": to}
    changed: dict = {}
    for name, value in _field_values(session, hazard, given, categories, settings).items():
        if value != getattr(hazard, name):
            changes[name] = value
            changed[name] = {"old": _jsonable(getattr(hazard, name)), "new": _jsonable(value)}
    if "deadline" in changed and "deadline" not in given:
        changed["deadline"]["default"] = True
    data: dict = {"changes": changed} if changed else {}

    effective_grade = changes.get("grade", hazard.grade)
    if to == "filed" and effective_grade == "major" and not (
            changes.get("supervising_official", hazard.supervising_official)
            and changes.get("rectification_plan", hazard.rectification_plan)):
        raise InvalidInput("重大隐患立案须指定督办人并提交整改方案（挂牌督办）",
                           "a major hazard needs a supervising official and a rectification plan to be filed")
    if to == "rejected":
        if duplicate_of is not None:
            if duplicate_of == hazard.id:
                raise InvalidInput("不能标记为自身的重复", "a hazard cannot duplicate itself")
            original = _locked(session, duplicate_of)
            if original is None or not scope.allows(original.home_code):
                raise NotFound(f"隐患 {duplicate_of} 不存在", f"hazard {duplicate_of} not found")
            if original.status == "rejected":
                raise InvalidInput(f"隐患 {duplicate_of} 本身已不予立案，请关联到原始隐患",
                                   f"hazard {duplicate_of} is itself rejected; link to the original hazard instead")
            changes["duplicate_of_id"] = duplicate_of
            data["duplicate_of"] = duplicate_of
        elif not note:
            raise InvalidInput("不予立案须说明理由或指明重复的隐患", "rejecting needs a note or the hazard it duplicates")
    elif duplicate_of is not None:
        raise InvalidInput("duplicate_of 只用于不予立案", "duplicate_of is only for rejecting")
    if current == "verifying" and to == "rectifying" and not note:
        raise InvalidInput("核查不通过须说明理由", "a failed verification needs a note saying why")
    if to == "verifying":
        changes["rectifier_id"] = actor.id
    if to == "closed":
        kinds = {a.kind for a in own.values()}
        if "after_photo" not in kinds:
            raise InvalidInput("结案须上传整改后照片（两照一表）", "closing needs the after photo (两照一表)")
        if effective_grade == "major" and "responsibility_sheet" not in kinds:
            raise InvalidInput("重大隐患结案须上传整改责任表", "closing a major hazard needs the responsibility sheet")
        if actor.id in _rectifiers(session, hazard.id):
            raise Forbidden("核查人不能是整改人（任何一轮）", "the verifier must not be a rectifier of any round")
        changes["verifier_id"] = actor.id
        changes["closed_at"] = func.now()

    seq = _bump(session, hazard.id, **changes)
    _add_event(session, hazard, seq, action="transition", actor=actor, from_status=current, to_status=to,
               note=note, attachment_ids=attachment_ids, data=data)
    if to == "rejected" and duplicate_of is not None:
        # The other side of the link: the original records that this one duplicates it.
        other_seq = _bump(session, duplicate_of)
        _add_event(session, session.get(Hazard, duplicate_of), other_seq, action="duplicate_linked",
                   actor=actor, data={"duplicate": hazard.id})
    session.refresh(hazard)
    return hazard


# ---------------------------------------------------------------------- attachments

def _sniff(head: bytes) -> str | None:
    for magic, kind in _MAGIC.items():
        if head.startswith(magic):
            return kind
    return None


def add_attachment(session: Session, hazard_id: int, *, kind: str, filename: str, stream,
                   actor: User | None, scope: Scope, settings: HazardSettings, public: bool = False
                   ) -> HazardAttachment:
    """Store an attachment (content-addressed by sha256) and record it as an event."""
    if kind not in ATTACHMENT_KINDS:
        raise InvalidInput(f"未知附件类型 {kind!r}", f"unknown attachment kind {kind!r} (one of {', '.join(ATTACHMENT_KINDS)})")
    if not public:
        scope.require_write()
    reach = scope if not public else Scope.everything()

    def refuse_when_ended(hazard: Hazard | None) -> Hazard:
        if hazard is None or not reach.allows(hazard.home_code):
            raise NotFound("隐患不存在", "hazard not found")
        if hazard.status in ("closed", "rejected"):
            raise IllegalTransition("已结案或不予立案的隐患不能再添加附件",
                                    "a closed or rejected hazard takes no more attachments")
        return hazard

    # Checked once before the file is copied and again under the row lock, which is taken
    # only after the copy so a large file never holds up the hazard's transitions.
    refuse_when_ended(session.get(Hazard, hazard_id))
    directory = Path(settings.attachment_dir)
    directory.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha256()
    size = 0
    head = b""
    tmp = directory / f".upload-{secrets.token_hex(8)}"
    try:
        with tmp.open("wb") as fh:
            while chunk := stream.read(1 << 16):
                size += len(chunk)
                if size > settings.attachment_max_bytes:
                    raise TooLarge(f"附件超过上限 {settings.attachment_max_bytes} 字节",
                                   f"the attachment exceeds {settings.attachment_max_bytes} bytes")
                if len(head) < 16:
                    head += chunk[:16]
                digest.update(chunk)
                fh.write(chunk)
        content_type = _sniff(head)
        if size == 0 or content_type is None or content_type not in settings.attachment_types:
            raise InvalidFile("附件须为 JPEG、PNG 图片或 PDF 文件", "attachments must be JPEG or PNG images or PDF files")
        sha = digest.hexdigest()
        target = directory / sha[:2] / sha
        target.parent.mkdir(parents=True, exist_ok=True)
        if target.exists():
            tmp.unlink()
        else:
            tmp.replace(target)
    finally:
        if tmp.exists():
            tmp.unlink()
    hazard = refuse_when_ended(_lock(session, hazard_id, reach, refuse_if_changed=False))
    safe_name = re.sub(r"[^\w.\-\u4e00-\u9fff]", "_", Path(filename or "file").name)[:200] or "file"
    attachment = HazardAttachment(hazard_id=hazard.id, kind=kind, filename=safe_name, content_type=content_type,
                                  size=size, sha256=sha, storage_path=f"{sha[:2]}/{sha}",
                                  uploaded_by_id=actor.id if actor else None)
    session.add(attachment)
    session.flush()
    seq = _bump(session, hazard.id)
    _add_event(session, hazard, seq, action="attach", actor=actor, attachment_ids=[attachment.id],
               data={"kind": kind, "sha256": sha, "size": size})
    return attachment


def attachment_file(session: Session, attachment_id: int, *, scope: Scope, settings: HazardSettings
                    ) -> tuple[HazardAttachment, Path]:
    attachment = session.get(HazardAttachment, attachment_id)
    hazard = session.get(Hazard, attachment.hazard_id) if attachment else None
    if attachment is None or hazard is None or not scope.allows(hazard.home_code):
        raise NotFound("附件不存在", "attachment not found")
    return attachment, Path(settings.attachment_dir) / attachment.storage_path


# ------------------------------------------------------------------------ escalation

def escalate_overdue(session: Session, *, settings: HazardSettings, now: datetime | None = None,
                     scope: Scope | None = None) -> list[dict]:
    """Escalate every overdue hazard one level up the grid hierarchy (village → township →
    district responsible person), at most once per ``escalation_interval_days``; each
    escalation is an event naming the level, the grid and its first-responsible persons."""
    now = now or _now()
    scope = scope or Scope.everything()
    interval = timedelta(days=settings.escalation_interval_days)
    where = [Hazard.status.in_(OPEN_STATES), Hazard.deadline < now, Hazard.escalation_level < 2,
             (Hazard.escalated_at.is_(None)) | (Hazard.escalated_at < now - interval)]
    if scope.code is not None:
        where.append(scope.filter(Hazard.home_code))
    candidates = session.scalars(select(Hazard.id).where(*where).order_by(Hazard.id)).all()
    boundary_set = require_active_set(session)
    done = []
    for hazard_id in candidates:
        hazard = session.scalar(select(Hazard).where(Hazard.id == hazard_id).with_for_update(skip_locked=True)
                                .execution_options(populate_existing=True))
        if hazard is None or not (hazard.status in OPEN_STATES and hazard.deadline < now):
            continue
        level = hazard.escalation_level + 1
        target = hazard.township_code if level == 1 and hazard.township_code else hazard.district_code
        if level == 1 and not hazard.township_code:
            level = 2
        if target is None:
            continue
        name = session.scalar(select(Grid.name).where(Grid.set_id == boundary_set.id, Grid.code == target))
        responsible = persons_by_role(session=session, codes=[target])[target].get("first_responsible", [])
        seq = _bump(session, hazard.id, escalation_level=level, escalated_at=now)
        data = {"level": level, "target_code": target, "target_name": name,
                "responsible": [{"name": p["name"], "phone": p["phone"]} for p in responsible],
                "deadline": hazard.deadline.isoformat(), "overdue_days": (now - hazard.deadline).days}
        _add_event(session, hazard, seq, action="escalate", actor=None, data=data,
                   note=f"逾期未整改，升级至{name or target} / overdue, escalated to {target}")
        done.append({"hazard_id": hazard.id, **data})
    return done


# -------------------------------------------------------------------------- reading

def hazard_public(hazard: Hazard, now: datetime | None = None) -> dict:
    return {
        "id": hazard.id, "status": hazard.status, "status_zh": STATE_NAMES_ZH[hazard.status],
        "category": hazard.category, "grade": hazard.grade, "source": hazard.source,
        "description": hazard.description, "deadline": hazard.deadline, "overdue": is_overdue(hazard, now),
        "placement": hazard.placement, "grid_code": hazard.grid_code, "village_code": hazard.village_code,
        "township_code": hazard.township_code, "district_code": hazard.district_code,
        "source_lon": hazard.source_lon, "source_lat": hazard.source_lat, "source_crs": hazard.source_crs,
        "supervising_official": hazard.supervising_official, "rectification_plan": hazard.rectification_plan,
        "escalation_level": hazard.escalation_level, "duplicate_of": hazard.duplicate_of_id,
        "created_at": hazard.created_at, "updated_at": hazard.updated_at, "closed_at": hazard.closed_at,
        "version": hazard.version,
    }


def hazard_detail(session: Session, hazard_id: int, scope: Scope) -> dict:
    hazard = session.get(Hazard, hazard_id)
    if hazard is None or not scope.allows(hazard.home_code):
        raise NotFound("隐患不存在", "hazard not found")
    events = session.scalars(select(HazardEvent).where(HazardEvent.hazard_id == hazard.id).order_by(HazardEvent.seq))
    duplicates = session.scalars(select(Hazard.id).where(Hazard.duplicate_of_id == hazard.id).order_by(Hazard.id)).all()
    uscc = session.scalar(select(Enterprise.uscc).where(Enterprise.id == hazard.enterprise_id)) if hazard.enterprise_id else None
    return {
        **hazard_public(hazard), "enterprise_uscc": uscc, "duplicates": list(duplicates),
        "events": [{"seq": e.seq, "action": e.action, "from_status": e.from_status, "to_status": e.to_status,
                    "actor": e.actor_name, "at": e.at, "note": e.note, "attachment_ids": e.attachment_ids,
                    "data": e.data} for e in events],
        "attachments": [_attachment_row(a) for a in _attachments(session, hazard.id)],
    }


def _attachment_row(attachment: HazardAttachment) -> dict:
    return {"id": attachment.id, "kind": attachment.kind, "filename": attachment.filename,
            "content_type": attachment.content_type, "size": attachment.size, "sha256": attachment.sha256,
            "uploaded_at": attachment.uploaded_at}


def attachment_public(session: Session, attachment: HazardAttachment) -> dict:
    """An uploaded attachment, with the hazard's version after the upload (what a client
    sends as ``version`` with its next transition)."""
    version = session.scalar(select(Hazard.version).where(Hazard.id == attachment.hazard_id))
    return {**_attachment_row(attachment), "hazard_version": version}


def list_hazards(session: Session, *, scope: Scope, grid: str | None = None, status: str | None = None,
                 overdue: bool | None = None, grade: str | None = None, limit: int = 100, offset: int = 0
                 ) -> tuple[list[dict], int]:
    now = _now()
    where = [scope.filter(Hazard.home_code)] if scope.code else []
    if grid:
        where.append(Hazard.home_code.startswith(grid, autoescape=True))
    if status:
        if status not in STATE_NAMES_ZH:
            raise InvalidInput(f"未知状态 {status}", f"unknown status {status}")
        where.append(Hazard.status == status)
    if grade:
        where.append(Hazard.grade == grade)
    if overdue is not None:
        late = Hazard.status.in_(OPEN_STATES) & (Hazard.deadline < now)
        where.append(late if overdue else ~late)
    total = session.scalar(select(func.count()).select_from(Hazard).where(*where))
    rows = session.scalars(select(Hazard).where(*where).order_by(Hazard.id.desc()).limit(limit).offset(offset)).all()
    return [hazard_public(h, now) for h in rows], total


# ------------------------------------------------------------------- public tip-offs

_TRACKING_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"


def submit_tipoff(session: Session, *, lon: float, lat: float, crs: str | None, description: str,
                  contact: str | None, settings: HazardSettings, tolerance_m: float = 50.0,
                  categories: Taxonomy | None = None) -> Hazard:
    """A public tip-off (举报): enters as ``reported``, source ``public_report``; returns the
    hazard, whose ``tracking_code`` lets the reporter follow its status and nothing else."""
    if not description or not description.strip():
        raise InvalidInput("请描述隐患情况", "please describe the hazard")
    if len(description) > 2000:
        raise InvalidInput("描述过长（最多 2000 字）", "the description is too long (2000 characters at most)")
    if lon is None or lat is None or not (math.isfinite(lon) and math.isfinite(lat)):
        raise InvalidInput("请提供位置（经纬度）", "please give the location (lon/lat)")
    hazard = create_hazard(session, {"lon": lon, "lat": lat, "crs": crs, "description": description,
                                     "source": "public_report", "category": "unclassified",
                                     "reporter_contact": (contact or "").strip()[:100] or None},
                           actor=None, scope=Scope.everything(), settings=settings,
                           tolerance_m=tolerance_m, categories=categories, public=True)
    code = "JB" + "".join(secrets.choice(_TRACKING_ALPHABET) for _ in range(12))
    hazard.tracking_code = code
    session.flush()
    return hazard


def tipoff_status(session: Session, tracking_code: str) -> dict:
    hazard = session.scalar(select(Hazard).where(Hazard.tracking_code == tracking_code.strip().upper()))
    if hazard is None:
        raise NotFound("查询码不存在", "unknown tracking code")
    return {"tracking_code": hazard.tracking_code, "status": hazard.status,
            "status_zh": STATE_NAMES_ZH[hazard.status], "updated_at": hazard.updated_at}


def hazard_categories(categories: Taxonomy | None = None) -> list[dict]:
    categories = categories or load_hazard_categories()
    return [{"id": c.id, "zh": c.zh, "en": c.en, "group": c.group,
             "group_zh": HAZARD_GROUPS.get(c.group or "other", ("其他", "Other"))[0]} for c in categories.categories]


__all__ = ["create_hazard", "transition", "add_attachment", "attachment_public", "escalate_overdue",
           "hazard_detail", "list_hazards", "submit_tipoff", "tipoff_status", "TRANSITIONS", "FIELD_RULES",
           "STATE_NAMES_ZH"]


# ------------------------------------------------------------- register import (台账)

HAZARD_COLUMNS = {
    "external_id": ("原系统编号", "隐患编号", "编号", "id"),
    "enterprise_uscc": ("统一社会信用代码", "企业信用代码", "uscc"),
    "lon": ("经度", "longitude", "lng"),
    "lat": ("纬度", "latitude"),
    "coord_system": ("坐标系", "crs"),
    "category": ("隐患类别", "类别"),
    "grade": ("隐患等级", "等级"),
    "source": ("来源", "隐患来源"),
    "description": ("隐患描述", "描述", "内容"),
    "status": ("状态", "处置状态"),
    "reported_at": ("上报时间", "发现时间"),
    "deadline": ("整改期限", "期限"),
    "closed_at": ("结案时间",),
    "supervising_official": ("督办人", "督办领导"),
    "rectification_plan": ("整改方案",),
}
_GRADE_WORDS = {"general": "general", "一般": "general", "一般隐患": "general",
                "major": "major", "重大": "major", "重大隐患": "major"}
_SOURCE_WORDS = {"inspection": "inspection", "执法检查": "inspection", "检查": "inspection",
                 "self_report": "self_report", "企业自查": "self_report", "自查": "self_report",
                 "public_report": "public_report", "群众举报": "public_report", "举报": "public_report",
                 "patrol": "patrol", "网格巡查": "patrol", "巡查": "patrol"}
_STATE_WORDS = {**{s: s for s in STATE_NAMES_ZH}, **{zh: s for s, zh in STATE_NAMES_ZH.items()},
                "待立案": "reported", "整改完成待核查": "verifying", "已整改": "closed", "已销号": "closed"}


def _parse_time(value: str) -> datetime | None:
    value = value.strip()
    if not value:
        return None
    for fmt in ("%Y-%m-%dT%H:%M:%S%z", "%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%d", "%Y/%m/%d"):
        try:
            parsed = datetime.strptime(value, fmt)
        except ValueError:
            continue
        # Registers are kept in China Standard Time.
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone(timedelta(hours=8)))
    raise ValueError(value)


def import_hazards(session: Session, path: Path, *, settings: HazardSettings, import_settings=None,
                   tolerance_m: float = 50.0, categories: Taxonomy | None = None) -> dict:
    """Import a hazard register (隐患台账) from another system: one hazard per row, in the
    state the register gives, with its dates; the loop's history before the import is
    recorded as one ``import`` event. Rows are keyed by ``external_id``: a row already
    imported is left alone, so re-importing a file changes nothing. Bad rows are reported
    (row, field, reason) and the good ones imported, like the enterprise register.

    Imported closed hazards come without the two photos (the old system keeps them);
    that is what the ``import`` event says. A major hazard in a state past ``reported``
    (other than ``rejected``) must name its supervising official and rectification plan,
    as filing it here would have required; such a row without them is rejected.
    ``categories`` is the deployment's hazard taxonomy.
    """
    from gridmap.files import map_columns, read_table
    from gridmap.settings import ImportSettings

    categories = categories or load_hazard_categories()
    header, rows = read_table(Path(path), import_settings or ImportSettings())
    cols = map_columns(header, HAZARD_COLUMNS, name=Path(path).name,
                       required=("external_id", "category", "description", "status", "reported_at"))
    existing = set(session.scalars(select(Hazard.external_id).where(Hazard.external_id.is_not(None))))
    report = {"rows": len(rows), "added": 0, "unchanged": 0, "rejected": [], "by_status": {}}
    everything = Scope.everything()
    seen: set[str] = set()
    for index, values in enumerate(rows):
        row = index + 2
        cell = {key: (values[i].strip() if i < len(values) else "") for key, i in cols.items()}
        problems = []
        external_id = cell.get("external_id", "")
        if not external_id or len(external_id) > 40:
            problems.append(("external_id", "编号为空或过长", "the id is empty or too long"))
        elif external_id in seen:
            problems.append(("external_id", "编号重复", "duplicate id"))
        seen.add(external_id)
        status = _STATE_WORDS.get(cell.get("status", ""))
        grade = _GRADE_WORDS.get(cell.get("grade", "") or "general")
        source = _SOURCE_WORDS.get(cell.get("source", "") or "inspection")
        for column, value, word in (("status", status, cell.get("status")), ("grade", grade, cell.get("grade")),
                                    ("source", source, cell.get("source"))):
            if value is None:
                problems.append((column, f"无法识别 {word!r}", f"{word!r} is not recognised"))
        times = {}
        for column in ("reported_at", "deadline", "closed_at"):
            try:
                times[column] = _parse_time(cell.get(column, ""))
            except ValueError:
                problems.append((column, f"时间 {cell.get(column)!r} 无法解析", f"time {cell.get(column)!r} cannot be parsed"))
        if status == "closed" and not problems and times.get("closed_at") is None:
            problems.append(("closed_at", "已结案须有结案时间", "a closed hazard needs its closing time"))
        if grade == "major" and status not in (None, "reported", "rejected") and not (
                cell.get("supervising_official") and cell.get("rectification_plan")):
            problems.append(("supervising_official", "重大隐患立案后须有督办人和整改方案（挂牌督办）",
                             "a major hazard past reported needs its supervising official and rectification plan"))
        if problems:
            for column, zh, en in problems:
                report["rejected"].append({"row": row, "field": column, "reason_zh": zh, "reason_en": en})
            continue
        if external_id in existing:
            report["unchanged"] += 1
            continue
        lon = lat = None
        if cell.get("lon") or cell.get("lat"):
            try:
                lon, lat = float(cell.get("lon", "")), float(cell.get("lat", ""))
            except ValueError:
                report["rejected"].append({"row": row, "field": "lon/lat", "reason_zh": "坐标无法解析",
                                           "reason_en": "coordinates cannot be parsed"})
                continue
        reported_at = times["reported_at"]
        values_for_create = {
            "lon": lon, "lat": lat, "crs": cell.get("coord_system") or "wgs84",
            "enterprise_uscc": cell.get("enterprise_uscc") or None, "category": cell["category"],
            "grade": grade, "source": source, "description": cell["description"],
            "deadline": times["deadline"] or default_deadline(grade, settings, reported_at),
            "supervising_official": cell.get("supervising_official") or None,
            "rectification_plan": cell.get("rectification_plan") or None,
            "reported_at": reported_at,
        }
        try:
            with session.begin_nested():
                hazard = create_hazard(session, values_for_create, actor=None, scope=everything,
                                       settings=settings, tolerance_m=tolerance_m, categories=categories)
                last = times["closed_at"] if status == "closed" else reported_at
                session.execute(
                    update(Hazard).where(Hazard.id == hazard.id).values(
                        external_id=external_id, status=status, updated_at=last,
                        closed_at=times["closed_at"] if status == "closed" else None,
                        version=2 if status != "reported" else 1))
                if status != "reported":
                    _add_event(session, hazard, 2, action="import", actor=None, from_status="reported",
                               to_status=status, note="从原系统台账导入 / imported from the previous register",
                               data={"external_id": external_id, "file": Path(path).name}, at=last)
        except GridmapError as exc:
            report["rejected"].append({"row": row, "field": "row", "reason_zh": exc.zh, "reason_en": exc.en})
            continue
        existing.add(external_id)
        report["added"] += 1
        report["by_status"][status] = report["by_status"].get(status, 0) + 1
    return report
