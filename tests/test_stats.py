"""Assessment statistics (考核) on a hand-built dataset whose figures are worked out by hand.

Period: the first half of 2025, [2025-01-01, 2025-07-01) China Standard Time; ``overdue`` is
measured at NOW = 2025-08-01 00:00 (core tests) — the API and CLI tests use the real clock.

======================  ===========  ============  ==========  =========
figure                  A 320382102  B 320382103   Z01 direct  C …104
======================  ===========  ============  ==========  =========
inspections (ent.)      3 (2)        1 (1)         0           0
hazards found (g/m)     4 (3/1)      2 (1/1)       2 (2/0)     0
closed of found         3            2             1           0
rectified in period     4 (+1 old)   2             1           0
rate → grade            0.75 yellow  1.0 green     0.5 red     — none
overdue at NOW          1            0             0           0
cases, fines            1, 5000      1, 1200.5     0, 0        0, 0
plan completion         1/2          —             —           —
======================  ===========  ============  ==========  =========

Plus one hazard known only at district level (counted in the district's total only), and
records just outside the period on both sides (never counted).
"""

from __future__ import annotations

import json
import random
from datetime import date, datetime

import pytest
from shapely.geometry import box

from gridmap.auth import Scope
from gridmap.boundaries import add_grid
from gridmap.inspections import CHINA_TZ
from gridmap.models import Enterprise, Hazard, Inspection, InspectionPlan, PlanTarget
from gridmap.settings import StatsSettings
from gridmap.stats import assessment, ranking_key
from gridmap.uscc import make_uscc

NOW = datetime(2025, 8, 1, tzinfo=CHINA_TZ)
FROM, TO = date(2025, 1, 1), date(2025, 7, 1)
A, B, Z, C = "320382102", "320382103", "320382Z01", "320382104"
A1, A2, B1, B2 = "320382102001", "320382102002", "320382103001", "320382103002"


def t(text: str) -> datetime:
    """A China Standard Time timestamp, ``YYYY-MM-DD`` or ``YYYY-MM-DD HH:MM``."""
    return datetime.fromisoformat(text).replace(tzinfo=CHINA_TZ)


@pytest.fixture
def dataset(session, toy_district):
    add_grid(session, set_id=toy_district.id, code=Z, name="高新区直辖网格", level="direct",
             geom=box(118.10, 34.30, 118.12, 34.32))
    add_grid(session, set_id=toy_district.id, code=C, name="空白镇", level="township",
             geom=box(118.12, 34.30, 118.14, 34.32))
    rng = random.Random(11)

    def enterprise(code: str) -> Enterprise:
        village = code if len(code) == 12 else None
        row = Enterprise(uscc=make_uscc(rng, "320382"), name=f"企业{code}", placement="exact", grid_code=code,
                         village_code=village, township_code=code[:9] if village else None,
                         district_code="320382", home_code=code)
        session.add(row)
        session.flush()
        return row

    e = {"A1": enterprise(A1), "A1b": enterprise(A1), "A2": enterprise(A2), "B1": enterprise(B1),
         "Z": enterprise(Z)}

    def plan(period: str, status: str, targets: dict[str, bool]) -> InspectionPlan:
        row = InspectionPlan(township_code=A, district_code="320382", period=period, name=period, share=0.5,
                             status=status, seed=1 if status == "drawn" else None)
        session.add(row)
        session.flush()
        for key, selected in targets.items():
            session.add(PlanTarget(plan_id=row.id, enterprise_id=e[key].id, selected=selected))
        session.flush()
        return row

    plan_q1 = plan("2025Q1", "drawn", {"A1": True, "A2": True, "A1b": False})
    plan("2024Q4", "drawn", {"A1b": True})
    plan("2025", "draft", {"A1": False})

    def inspection(key: str, when: str, *, case: bool = False, fine: float = 0.0, plan_id=None) -> None:
        row = e[key]
        session.add(Inspection(enterprise_id=row.id, inspected_on=t(when), grid_code=row.grid_code,
                               home_code=row.home_code, district_code="320382", case_filed=case,
                               fine_amount=fine, plan_id=plan_id))

    inspection("A1", "2025-01-01 00:00", case=True, fine=5000)   # the first instant of the period
    inspection("A1", "2025-03-05 10:00", plan_id=plan_q1.id)
    inspection("A2", "2025-04-10 10:00")
    inspection("A1b", "2024-12-31 23:59")                        # just before
    inspection("A1b", "2025-07-01 00:00")                        # the first instant after
    inspection("B1", "2025-02-01 09:00", case=True, fine=1200.5)

    def hazard(home: str, created: str, *, grade: str = "general", status: str = "reported",
               closed: str | None = None, deadline: str = "2026-12-31") -> None:
        village = home if len(home) == 12 else None
        session.add(Hazard(
            category="fire_exit_blocked", grade=grade, source="inspection", description="隐患", status=status,
            deadline=t(deadline), created_at=t(created), updated_at=t(created),
            closed_at=t(closed) if closed else None, placement="exact" if home != "320382" else "unplaced",
            grid_code=home if home != "320382" else None, village_code=village,
            township_code=home[:9] if village else None, district_code="320382", home_code=home))

    hazard(A1, "2025-02-01", status="closed", closed="2025-03-01")
    hazard(A1, "2025-02-10", status="closed", closed="2025-04-01")
    hazard(A2, "2025-03-01", grade="major", status="closed", closed="2025-05-01")
    hazard(A2, "2025-05-01", status="rectifying", deadline="2025-06-01")        # overdue at NOW
    hazard(A1, "2024-11-01", status="closed", closed="2025-02-15")              # found before, rectified in
    hazard(A1, "2025-03-01", status="rejected")                                 # not a hazard: never counted
    hazard(A1, "2025-07-05", deadline="2025-08-20")                             # found after the period
    hazard(B1, "2025-01-15", status="closed", closed="2025-01-20")
    hazard(B2, "2025-02-01", grade="major", status="closed", closed="2025-02-10")
    hazard(Z, "2025-03-01", status="closed", closed="2025-03-20")
    hazard(Z, "2025-06-20", status="closed", closed="2025-07-10")               # closed after the period
    hazard("320382", "2025-03-01", deadline="2025-12-01")                       # district level only
    session.flush()
    return e


def _report(session, code="320382", settings=None, **kwargs):
    kwargs.setdefault("date_from", FROM)
    kwargs.setdefault("date_to", TO)
    return assessment(session, code, scope=Scope.everything(), settings=settings or StatsSettings(),
                      now=NOW, **kwargs)


FIGURES = ("enterprises_inspected", "inspections", "hazards_found", "hazards_general", "hazards_major",
           "closed_of_found", "rectified", "rectification_rate", "overdue", "cases_filed", "fines",
           "plan_selected", "plan_inspected", "plan_completion", "grade")


def _figures(row: dict) -> tuple:
    return tuple(row[k] for k in FIGURES)


def test_township_figures_ranking_and_grades(session, dataset):
    report = _report(session)
    rows = {r["code"]: r for r in report["townships"]}
    #                      ent insp found gen maj closed rect rate   over cases fines    sel done compl  grade
    assert _figures(rows[A]) == (2, 3, 4, 3, 1, 3, 4, 0.75, 1, 1, 5000.0, 2, 1, 0.5, "yellow")
    assert _figures(rows[B]) == (1, 1, 2, 1, 1, 2, 2, 1.0, 0, 1, 1200.5, 0, 0, None, "green")
    assert _figures(rows[Z]) == (0, 0, 2, 2, 0, 1, 1, 0.5, 0, 0, 0.0, 0, 0, None, "red")
    assert _figures(rows[C]) == (0, 0, 0, 0, 0, 0, 0, None, 0, 0, 0.0, 0, 0, None, "none")
    assert [(r["rank"], r["code"], r["name"]) for r in report["townships"]] == [
        (1, B, "官湖镇"), (2, A, "邳城镇"), (3, Z, "高新区直辖网格"), (4, C, "空白镇")]
    # The district's own row also holds the hazard known only at district level.
    assert _figures(report["total"]) == (3, 4, 9, 7, 2, 6, 7, 0.6667, 1, 2, 6200.5, 2, 1, 0.5, "red")
    assert (report["from"], report["to"], report["name"]) == (FROM, TO, "邳州市")
    labels = {c["key"]: (c["zh"], c["en"]) for c in report["columns"]}
    assert labels["rectification_rate"] == ("整改率", "rectification rate") and labels["fines"][0] == "罚款（元）"


def test_village_rows(session, dataset):
    villages = {r["code"]: r for r in _report(session)["villages"]}
    assert list(villages) == [A1, A2, B1, B2]
    assert _figures(villages[A1]) == (1, 2, 2, 2, 0, 2, 3, 1.0, 0, 1, 5000.0, 1, 1, 1.0, "green")
    assert _figures(villages[A2]) == (1, 1, 2, 1, 1, 1, 1, 0.5, 1, 0, 0.0, 1, 0, 0.0, "red")
    assert _figures(villages[B2]) == (0, 0, 1, 0, 1, 1, 1, 1.0, 0, 0, 0.0, 0, 0, None, "green")
    assert (villages[A1]["name"], villages[A1]["township_code"]) == ("甲村", A)
    township = _report(session, A)
    assert [r["code"] for r in township["townships"]] == [A] and [r["code"] for r in township["villages"]] == [A1, A2]
    assert _figures(township["total"]) == _figures({**township["townships"][0]})
    village = _report(session, A2)
    assert village["townships"] == [] and [r["code"] for r in village["villages"]] == [A2]
    assert _figures(village["total"]) == _figures(villages[A2])


def test_records_outside_the_period_are_not_counted(session, dataset):
    rows = {r["code"]: r for r in _report(session, date_from=date(2024, 1, 1), date_to=date(2025, 1, 1))["townships"]}
    # Only the inspection a minute before 2025, the hazard found in 2024 (closed only in
    # 2025, so not within this period) and the 2024Q4 plan. Overdue is a snapshot at NOW.
    assert _figures(rows[A]) == (1, 1, 1, 1, 0, 0, 0, 0.0, 1, 0, 0.0, 1, 0, 0.0, "red")
    assert _figures(rows[B])[:8] == (0, 0, 0, 0, 0, 0, 0, None)
    later = {r["code"]: r for r in _report(session, date_from=date(2025, 7, 1), date_to=date(2025, 8, 1))["townships"]}
    assert (later[A]["inspections"], later[A]["hazards_found"], later[Z]["rectified"]) == (1, 1, 1)


def test_default_period_is_the_current_calendar_year(session, dataset):
    report = assessment(session, "320382", scope=Scope.everything(), settings=StatsSettings(), now=NOW)
    assert (report["from"], report["to"]) == (date(2025, 1, 1), date(2026, 1, 1))
    assert {r["code"]: r["hazards_found"] for r in report["townships"]}[A] == 5, "the July hazard too"
    only_from = _report(session, date_from=date(2025, 3, 1), date_to=None)
    assert (only_from["from"], only_from["to"]) == (date(2025, 3, 1), date(2026, 1, 1))


def test_thresholds_are_configurable(session, dataset):
    report = _report(session, settings=StatsSettings(green_rate=0.7, yellow_rate=0.5))
    assert [(r["code"], r["grade"]) for r in report["townships"]] == [
        (B, "green"), (A, "green"), (Z, "yellow"), (C, "none")]
    assert report["thresholds"] == {"green_rate": 0.7, "yellow_rate": 0.5}


def test_ranking_ties_go_to_fewer_overdue_then_code():
    rows = [{"code": "3", "rectification_rate": 0.8, "overdue": 0}, {"code": "2", "rectification_rate": 0.8, "overdue": 2},
            {"code": "1", "rectification_rate": None, "overdue": 0}, {"code": "4", "rectification_rate": 0.8, "overdue": 0},
            {"code": "5", "rectification_rate": 0.0, "overdue": 0}]
    assert [r["code"] for r in sorted(rows, key=ranking_key)] == ["3", "4", "2", "5", "1"]


def test_stats_api_scope_and_errors(client, dataset, login):
    admin = login()
    response = client.get("/api/v1/stats/320382", params={"from": "2025-01-01", "to": "2025-07-01"}, headers=admin)
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["from"], body["to"]) == ("2025-01-01", "2025-07-01")
    assert [(r["code"], r["grade"]) for r in body["townships"]] == [(B, "green"), (A, "yellow"), (Z, "red"), (C, "none")]
    by_code = {r["code"]: r for r in body["townships"]}
    # With today's clock the hazard found in July 2025 is overdue too.
    assert (by_code[A]["hazards_found"], by_code[A]["overdue"], by_code[A]["fines"]) == (4, 2, 5000.0)
    assert body["grades"]["yellow"] == {"zh": "黄", "en": "yellow"}
    leader = login("township_leader", A)
    assert client.get("/api/v1/stats/320382", headers=leader).status_code == 404
    own = client.get(f"/api/v1/stats/{A}", params={"from": "2025-01-01", "to": "2025-07-01"}, headers=leader).json()
    assert [r["code"] for r in own["villages"]] == [A1, A2]
    assert client.get("/api/v1/stats/320382", headers=login("authority", "320382")).status_code == 200
    assert client.get("/api/v1/stats/320382999", headers=admin).status_code == 404
    assert client.get("/api/v1/stats/not-a-code", headers=admin).status_code == 422
    assert client.get("/api/v1/stats/320382", params={"from": "2025-07-01", "to": "2025-01-01"},
                      headers=admin).status_code == 422
    assert client.get("/api/v1/stats/320382", params={"from": "yesterday"}, headers=admin).status_code == 422
    assert client.get("/api/v1/stats/320382").status_code == 401


def test_cli_json_and_table(cli, dataset):
    code, out, err = cli("stats", "320382", "--from", "2025-01-01", "--to", "2025-07-01", "--json")
    assert code == 0, err
    report = json.loads(out)
    assert [r["code"] for r in report["townships"]] == [B, A, Z, C]
    assert report["townships"][1]["rectification_rate"] == 0.75 and report["total"]["cases_filed"] == 2
    code, out, _ = cli("stats", "320382", "--from", "2025-01-01", "--to", "2025-07-01", "--villages")
    assert code == 0
    assert "街镇排名" in out and "邳城镇" in out and "75.0%" in out and "甲村" in out
    code, _, err = cli("stats", "320382", "--from", "2025-13-01")
    assert code == 1 and "--from" in err


def test_statistics_use_a_fixed_number_of_queries(session, dataset, engine):
    """Grouped SQL, not a query per grid: the count does not grow with the grids."""
    from sqlalchemy import event

    statements: list[str] = []

    def count(conn, cursor, statement, *args):
        statements.append(statement)

    event.listen(engine, "before_cursor_execute", count)
    try:
        _report(session)
    finally:
        event.remove(engine, "before_cursor_execute", count)
    assert len(statements) <= 6, statements


@pytest.mark.browser
def test_stats_page_renders_the_ranking(live_server, demo_users, browser):
    """web/stats.html with the token the dashboard stored: Chinese headers and colour
    grades by default, English with ?lang=en."""
    import urllib.parse
    import urllib.request

    admin = demo_users["admin"]
    form = urllib.parse.urlencode({"username": admin["username"], "password": admin["password"]}).encode()
    with urllib.request.urlopen(f"{live_server}/api/v1/auth/token", data=form, timeout=10) as response:
        token = json.loads(response.read())["access_token"]
    page = browser.new_page()
    try:
        page.add_init_script(f"localStorage.setItem('gridmap.token', {json.dumps(token)})")
        page.goto(f"{live_server}/stats.html")
        page.wait_for_selector("table tbody tr")
        headers = page.locator("table").first.locator("th").all_inner_texts()
        assert headers[:3] == ["排名", "编码", "名称"] and "整改率" in headers
        assert "320382" in page.locator("#subtitle").inner_text()
        rows = page.locator("table").first.locator("tbody tr")
        assert rows.count() > 10, "every township of the sample, plus the total"
        assert rows.first.locator(".grade").inner_text() in ("绿", "黄", "红", "无隐患")
        page.goto(f"{live_server}/stats.html?code=320382103&lang=en")
        page.wait_for_selector("table tbody tr")
        assert "rectification rate" in page.locator("table").first.locator("th").all_inner_texts()
        assert page.locator("caption").first.inner_text() == "Township ranking"
        page.evaluate("localStorage.clear()")
        page.add_init_script("localStorage.clear()")
        page.goto(f"{live_server}/stats.html")
        page.wait_for_function("document.getElementById('error').textContent.length > 0")
        assert "登录" in page.locator("#error").inner_text()
    finally:
        page.close()
