"""Assessment statistics (考核): per township and per village, for a period.

:func:`assessment` answers, for a grid ``CODE`` (the district, a township or a village)
and the days ``[from, to)`` (China Standard Time; default the current calendar year),
one row for ``CODE`` itself, one per township-level unit (townships and district direct
grids, 区级直辖网格) and one per village in its subtree, with these figures:

``enterprises_inspected``
    distinct enterprises with an inspection in the period;
``inspections``, ``cases_filed`` (立案), ``fines`` (罚款, yuan)
    inspections in the period, those that filed a case, and the sum of their fines;
``hazards_found`` (``hazards_general`` + ``hazards_major``)
    hazards created in the period, except the ``rejected`` ones (not a hazard, or a
    duplicate of another: counting them would punish a grid for a tip-off it weeded out);
``rectified``
    hazards closed (结案) in the period, whenever they were found;
``closed_of_found``
    hazards found in the period and closed before its end;
``rectification_rate`` (整改率)
    ``closed_of_found / hazards_found``; ``None`` (shown "—") when nothing was found —
    a grid with no hazards has no rate, it is graded ``none`` and ranked last. Counting
    closures up to the period's end (not up to today) keeps a closed period's figures
    fixed once it is over;
``overdue`` (逾期)
    hazards open *now* past their deadline — a snapshot, whatever period is asked for:
    the backlog is what the assessment must show;
``plan_completion`` (计划完成率)
    for drawn inspection plans whose period overlaps ``[from, to)``: selected targets
    (by the enterprise's current grid) with an inspection recorded under the plan /
    selected targets; ``None`` without any.

Records are attributed by their stored ``home_code``: micro-grids roll up into their
village, villages into their township. Records known only at district level (unplaced
enterprises, hazards outside every grid) count in ``CODE``'s own row but in no township.

The township rows are ranked by rectification rate (highest first; no rate last), ties
broken by fewer overdue hazards, then by code; each row gets a colour grade: ``green``
(rate ≥ ``green_rate``), ``yellow`` (≥ ``yellow_rate``), ``red`` otherwise, ``none``
without hazards (thresholds from :class:`~gridmap.settings.StatsSettings`). Every figure
comes from three grouped SQL queries (``GROUPING SETS``: the whole, per township, per
village), however many grids there are.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from gridmap.auth import Scope
from gridmap.boundaries import require_active_set
from gridmap.codes import level_of_code, validate_code
from gridmap.errors import InvalidInput, NotFound
from gridmap.hazards import OPEN_STATES
from gridmap.inspections import CHINA_TZ, day_start, periods_overlapping
from gridmap.models import Grid
from gridmap.settings import StatsSettings

#: Columns of the assessment table, in display order: key, Chinese, English.
COLUMNS: tuple[tuple[str, str, str], ...] = (
    ("rank", "排名", "rank"),
    ("code", "编码", "code"),
    ("name", "名称", "name"),
    ("enterprises_inspected", "检查企业数", "enterprises inspected"),
    ("inspections", "检查次数", "inspections"),
    ("hazards_found", "发现隐患", "hazards found"),
    ("hazards_general", "一般隐患", "general"),
    ("hazards_major", "重大隐患", "major"),
    ("rectified", "已整改销号", "rectified"),
    ("rectification_rate", "整改率", "rectification rate"),
    ("overdue", "逾期未改", "overdue"),
    ("cases_filed", "立案数", "cases filed"),
    ("fines", "罚款（元）", "fines (yuan)"),
    ("plan_completion", "计划完成率", "plan completion"),
    ("grade", "等级", "grade"),
)
#: Colour grades: key → (Chinese, English).
GRADES = {"green": ("绿", "green"), "yellow": ("黄", "yellow"), "red": ("红", "red"),
          "none": ("无隐患", "no hazards")}

# Attribution keys of a home_code: its township-level unit and its village. Direct grids
# (district + Z + digits) have no children; everything else extends the 9-digit township.
_KEYS = ("CASE WHEN {c} ~ '^[0-9]{{6}}Z' THEN substring({c} from '^[0-9]{{6}}Z[0-9]+') "
         "WHEN {c} ~ '^[0-9]{{9}}' THEN left({c}, 9) END AS tkey, "
         "CASE WHEN {c} ~ '^[0-9]{{12}}' THEN left({c}, 12) END AS vkey")
_GROUPED = "SELECT GROUPING(tkey, vkey) AS g, tkey, vkey, {aggregates} FROM r GROUP BY GROUPING SETS ((), (tkey), (vkey))"

_INSPECTIONS = "WITH r AS (SELECT " + _KEYS.format(c="i.home_code") + """,
        i.enterprise_id, i.case_filed, i.fine_amount
    FROM inspection i
    WHERE i.home_code LIKE :prefix AND i.inspected_on >= :start AND i.inspected_on < :end
) """ + _GROUPED.format(aggregates="""count(DISTINCT enterprise_id) AS enterprises_inspected,
    count(*) AS inspections, count(*) FILTER (WHERE case_filed) AS cases_filed,
    coalesce(sum(fine_amount), 0) AS fines""")

_HAZARDS = "WITH r AS (SELECT " + _KEYS.format(c="h.home_code") + """,
        h.grade, h.status, h.closed_at, h.deadline,
        (h.created_at >= :start AND h.created_at < :end AND h.status <> 'rejected') AS found
    FROM hazard h
    WHERE h.home_code LIKE :prefix
      AND ((h.created_at >= :start AND h.created_at < :end)
           OR (h.closed_at >= :start AND h.closed_at < :end)
           OR (h.status = ANY(CAST(:open AS text[])) AND h.deadline < :now))
) """ + _GROUPED.format(aggregates="""count(*) FILTER (WHERE found) AS hazards_found,
    count(*) FILTER (WHERE found AND grade = 'general') AS hazards_general,
    count(*) FILTER (WHERE found AND grade = 'major') AS hazards_major,
    count(*) FILTER (WHERE found AND status = 'closed' AND closed_at < :end) AS closed_of_found,
    count(*) FILTER (WHERE status = 'closed' AND closed_at >= :start AND closed_at < :end) AS rectified,
    count(*) FILTER (WHERE status = ANY(CAST(:open AS text[])) AND deadline < :now) AS overdue""")

_PLANS = "WITH r AS (SELECT " + _KEYS.format(c="e.home_code") + """,
        EXISTS (SELECT 1 FROM inspection i
                WHERE i.plan_id = t.plan_id AND i.enterprise_id = t.enterprise_id) AS done
    FROM plan_target t
    JOIN inspection_plan p ON p.id = t.plan_id
    JOIN enterprise e ON e.id = t.enterprise_id
    WHERE t.selected AND p.status = 'drawn' AND p.period = ANY(CAST(:periods AS text[])) AND e.home_code LIKE :prefix
) """ + _GROUPED.format(aggregates="count(*) AS plan_selected, count(*) FILTER (WHERE done) AS plan_inspected")

_ZERO = {"enterprises_inspected": 0, "inspections": 0, "cases_filed": 0, "fines": 0.0,
         "hazards_found": 0, "hazards_general": 0, "hazards_major": 0, "closed_of_found": 0,
         "rectified": 0, "overdue": 0, "plan_selected": 0, "plan_inspected": 0}


def grade_of(rate: float | None, settings: StatsSettings) -> str:
    """Colour grade of a rectification rate.

    >>> s = StatsSettings(green_rate=0.9, yellow_rate=0.7)
    >>> [grade_of(r, s) for r in (0.95, 0.9, 0.75, 0.5, None)]
    ['green', 'green', 'yellow', 'red', 'none']
    """
    if rate is None:
        return "none"
    if rate >= settings.green_rate:
        return "green"
    if rate >= settings.yellow_rate:
        return "yellow"
    return "red"


def _period(date_from: date | None, date_to: date | None, now: datetime) -> tuple[date, date]:
    """``[start, end)``: as given; a missing bound is the start (or end) of the calendar year
    of the other one; neither given: the current calendar year (China Standard Time)."""
    for given in (date_from, date_to):
        if given is not None and not 1990 <= given.year <= 2200:
            raise InvalidInput(f"日期 {given} 超出范围（1990-2200 年）", f"date {given} is out of range (1990-2200)")
    if date_from is None and date_to is None:
        year = now.astimezone(CHINA_TZ).year
        start, end = date(year, 1, 1), date(year + 1, 1, 1)
    elif date_to is None:
        start, end = date_from, date(date_from.year + 1, 1, 1)
    elif date_from is None:
        start, end = date((date_to - timedelta(days=1)).year, 1, 1), date_to
    else:
        start, end = date_from, date_to
    if start >= end:
        raise InvalidInput("起始日期应早于截止日期", "'from' must be before 'to'")
    if end.year - start.year > 50:
        raise InvalidInput("统计区间不能超过 50 年", "the period cannot be longer than 50 years")
    return start, end


def _finish(code: str, name: str | None, level: str | None, counts: dict, settings: StatsSettings) -> dict:
    found = counts["hazards_found"]
    rate = round(counts["closed_of_found"] / found, 4) if found else None
    selected = counts["plan_selected"]
    return {
        "code": code, "name": name, "level": level,
        **{k: counts[k] for k in ("enterprises_inspected", "inspections", "hazards_found", "hazards_general",
                                  "hazards_major", "rectified", "closed_of_found")},
        "rectification_rate": rate, "overdue": counts["overdue"], "cases_filed": counts["cases_filed"],
        "fines": round(float(counts["fines"]), 2), "plan_selected": selected,
        "plan_inspected": counts["plan_inspected"],
        "plan_completion": round(counts["plan_inspected"] / selected, 4) if selected else None,
        "grade": grade_of(rate, settings),
    }


def ranking_key(row: dict) -> tuple:
    """Order of the township ranking: rate (highest first, none last), overdue, code."""
    rate = row["rectification_rate"]
    return (rate is None, -(rate or 0.0), row["overdue"], row["code"])


def assessment(session: Session, code: str, *, scope: Scope, settings: StatsSettings,
               date_from: date | None = None, date_to: date | None = None,
               now: datetime | None = None) -> dict:
    """The assessment table of ``code``'s subtree for the days ``[date_from, date_to)``.

    Parameters
    ----------
    code
        A grid of the active boundary set inside the caller's scope (404 otherwise).
    settings
        The colour-grade thresholds.
    date_from, date_to
        Calendar days in China Standard Time, ``date_to`` exclusive; default the current
        calendar year; with one bound only, the other is the start (or end) of that
        bound's calendar year.
    now
        The instant ``overdue`` is measured at (default: now).

    Returns
    -------
    dict
        ``code``, ``name``, ``level``, ``set_id``, ``from``, ``to``, ``thresholds``,
        ``columns`` (key, zh, en), ``grades``, ``total`` (the row of ``code``),
        ``townships`` (ranked, with ``rank``) and ``villages`` (by code).
    """
    now = now or datetime.now(UTC)
    code = validate_code(code)
    scope.require(code, "网格", "grid")
    boundary_set = require_active_set(session)
    root = session.scalar(select(Grid).where(Grid.set_id == boundary_set.id, Grid.code == code))
    if root is None:
        raise NotFound(f"网格 {code} 在生效边界中不存在", f"grid {code} is not in the active boundary set")
    start, end = _period(date_from, date_to, now)
    params = {"prefix": code + "%", "start": day_start(start), "end": day_start(end), "now": now,
              "open": list(OPEN_STATES), "periods": periods_overlapping(start, end)}

    # key: None for the whole, ("t", code) per township-level unit, ("v", code) per village.
    counts: dict[tuple[str, str] | None, dict] = {}
    for sql in (_INSPECTIONS, _HAZARDS, _PLANS):
        for row in session.execute(text(sql), params).mappings():
            if row["g"] == 3:
                key = None
            elif row["g"] == 1:
                key = ("t", row["tkey"]) if row["tkey"] else "skip"
            else:
                key = ("v", row["vkey"]) if row["vkey"] else "skip"
            if key == "skip" or (key is not None and not key[1].startswith(code)):
                continue  # a record above every unit, or a unit above ``code`` itself
            counts.setdefault(key, dict(_ZERO)).update(
                {k: v for k, v in row.items() if k not in ("g", "tkey", "vkey")})

    units = session.execute(
        select(Grid.code, Grid.name, Grid.level).where(
            Grid.set_id == boundary_set.id, Grid.code.startswith(code, autoescape=True),
            Grid.level.in_(("township", "direct", "village")))).all()
    known = {(("v" if level == "village" else "t"), unit_code): (name, level) for unit_code, name, level in units}
    for key in counts:
        if key is not None and key not in known:
            # Records of a grid the active boundaries no longer have: shown, unnamed.
            known[key] = (None, level_of_code(key[1]))

    rows = {key: _finish(key[1], name, level, counts.get(key, _ZERO), settings)
            for key, (name, level) in known.items()}
    townships = sorted((r for k, r in rows.items() if k[0] == "t"), key=ranking_key)
    for rank, row in enumerate(townships, start=1):
        row["rank"] = rank
    villages = sorted((r for k, r in rows.items() if k[0] == "v"), key=lambda r: r["code"])
    for row in villages:
        row["township_code"] = row["code"][:9]
    return {
        "code": code, "name": root.name, "level": root.level, "set_id": boundary_set.id,
        "from": start, "to": end, "generated_at": now,
        "thresholds": {"green_rate": settings.green_rate, "yellow_rate": settings.yellow_rate},
        "columns": [{"key": k, "zh": zh, "en": en} for k, zh, en in COLUMNS],
        "grades": {k: {"zh": zh, "en": en} for k, (zh, en) in GRADES.items()},
        "total": _finish(code, root.name, root.level, counts.get(None, _ZERO), settings),
        "townships": townships,
        "villages": villages,
    }


__all__ = ["COLUMNS", "GRADES", "assessment", "grade_of", "ranking_key"]
