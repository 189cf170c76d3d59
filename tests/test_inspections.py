"""Inspections (执法检查) and the double-random draw (双随机): the two-certified-inspectors
rule, findings → hazards, scope, fines; reproducible draws, the share, the
conflict-of-interest rule (回避), the 409 on a small pool, plan completion."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import settings as hsettings
from hypothesis import strategies as st
from sqlalchemy import func, select, text

from gridmap.auth import Scope
from gridmap.errors import Conflict
from gridmap.inspections import (
    DrawTarget,
    Inspector,
    create_plan,
    draw_assignments,
    draw_plan,
    selection_size,
    verify_draw,
)
from gridmap.models import Enterprise, Hazard, Inspection, InspectionPlan, PlanTarget
from gridmap.uscc import make_uscc
from tests.factories import make_person

VILLAGE_LON = {"320382102001": 117.925, "320382102002": 117.975, "320382103001": 118.025,
               "320382103002": 118.075}
WHEN = "2025-05-20T10:00:00+08:00"


def make_enterprise(session, rng: random.Random, village: str | None, *, placement: str = "exact",
                    home_code: str | None = None, name: str = "企业") -> Enterprise:
    """An enterprise placed in ``village`` (a box of the toy district), without the placement engine."""
    located = village is not None
    enterprise = Enterprise(
        uscc=make_uscc(rng, "320382"), name=name, placement=placement,
        grid_code=village, village_code=village, township_code=village[:9] if village else None,
        district_code="320382", home_code=village if located else home_code,
        location=f"SRID=4490;POINT({VILLAGE_LON[village]} 34.35)" if located else None)
    session.add(enterprise)
    session.flush()
    return enterprise


@pytest.fixture
def world(session, toy_district):
    """Township A: 6 enterprises per village, plus one unplaced and one ambiguous (never
    targets); township B: one enterprise per village. Inspectors: P1, P2 (village A1
    roles), P3 (village A2), P4 (township A), P5 (district) are the pool of A; P6 holds a
    role in B1 only; P7 has no certificate, P8 a blank one."""
    rng = random.Random(2025)
    a1 = [make_enterprise(session, rng, "320382102001", name=f"甲村企业{i}") for i in range(6)]
    a2 = [make_enterprise(session, rng, "320382102002", name=f"乙社区企业{i}") for i in range(6)]
    make_enterprise(session, rng, None, placement="unplaced", home_code="320382")
    make_enterprise(session, rng, None, placement="ambiguous", home_code="320382102")
    b1 = make_enterprise(session, rng, "320382103001", name="丙村企业")
    b2 = make_enterprise(session, rng, "320382103002", name="丁村企业")
    people = {
        "P1": make_person(session, grid_code="320382102001", role="patrol_officer", name="李一", certificate_no="JS-001"),
        "P2": make_person(session, grid_code="320382102001", role="first_responsible", name="李二", certificate_no="JS-002"),
        "P3": make_person(session, grid_code="320382102002", role="grid_manager", name="王三", certificate_no="JS-003"),
        "P4": make_person(session, grid_code="320382102", role="safety_officer", name="赵四", certificate_no="JS-004"),
        "P5": make_person(session, grid_code="320382", role="supervisor", name="钱五", certificate_no="JS-005"),
        "P6": make_person(session, grid_code="320382103001", role="patrol_officer", name="孙六", certificate_no="JS-006"),
        "P7": make_person(session, grid_code="320382102", role="safety_officer", name="周七"),
        "P8": make_person(session, grid_code="320382102", role="safety_officer", name="吴八", certificate_no="  "),
    }
    return {"a1": a1, "a2": a2, "b1": b1, "b2": b2, "people": people}


def _inspect(client, headers, uscc, inspectors, **values):
    body = {"enterprise_uscc": uscc, "inspectors": inspectors, "inspected_on": WHEN, "findings": "消防通道堵塞",
            **values}
    return client.post("/api/v1/inspections", json=body, headers=headers)


# ----------------------------------------------------------------------- inspections

def test_two_distinct_certified_inspectors_are_required(client, world, login):
    admin = login()
    p = {k: v.id for k, v in world["people"].items()}
    uscc = world["a1"][0].uscc
    for inspectors, why in (([p["P1"]], "one inspector"), ([p["P1"], p["P1"]], "the same person twice"),
                            ([p["P1"], p["P7"]], "no certificate"), ([p["P1"], p["P8"]], "a blank certificate"),
                            ([p["P1"], 999_999], "unknown person")):
        response = _inspect(client, admin, uscc, inspectors)
        assert response.status_code == 422, why
        assert " / " in response.json()["message"], "one-line bilingual message"
    ok = _inspect(client, admin, uscc, [p["P1"], p["P4"]], case_filed=True, fine_amount=5000)
    assert ok.status_code == 201, ok.text
    body = ok.json()
    assert [i["name"] for i in body["inspectors"]] == ["李一", "赵四"]
    assert (body["grid_code"], body["case_filed"], body["fine_amount"]) == ("320382102001", True, 5000.0)
    assert datetime.fromisoformat(body["inspected_on"]) == datetime(2025, 5, 20, 2, 0, tzinfo=UTC)


def test_findings_become_hazards_linked_to_the_inspection(client, session, world, login):
    leader = login("township_leader", "320382102")
    p = world["people"]
    enterprise = world["a2"][0]
    response = _inspect(client, leader, enterprise.uscc, [p["P3"].id, p["P5"].id], hazards=[
        {"category": "fire_exit_blocked", "description": "安全出口堵塞"},
        {"category": "chemical_storage", "grade": "major", "description": "危化品超量储存",
         "supervising_official": "赵四", "rectification_plan": "限期清理"}])
    assert response.status_code == 201, response.text
    body = response.json()
    assert [(h["grade"], h["status"]) for h in body["hazards"]] == [("general", "reported"), ("major", "reported")]
    stored = session.scalars(select(Hazard).where(Hazard.inspection_id == body["id"]).order_by(Hazard.id)).all()
    assert [h.source for h in stored] == ["inspection", "inspection"]
    assert {h.enterprise_id for h in stored} == {enterprise.id}
    assert {h.grid_code for h in stored} == {"320382102002"}, "placed where the enterprise is"
    inspected = datetime.fromisoformat(WHEN)
    assert stored[0].deadline == inspected + timedelta(days=30), "the deadline runs from the inspection"
    assert stored[1].deadline == inspected + timedelta(days=90)
    detail = client.get(f"/api/v1/hazards/{stored[0].id}", headers=leader).json()
    assert detail["enterprise_uscc"] == enterprise.uscc
    again = client.get(f"/api/v1/inspections/{body['id']}", headers=leader).json()
    assert [h["id"] for h in again["hazards"]] == [h.id for h in stored]


def test_a_bad_finding_leaves_nothing_behind(client, session, world, login):
    admin = login()
    p = world["people"]
    response = _inspect(client, admin, world["a1"][0].uscc, [p["P3"].id, p["P4"].id], hazards=[
        {"category": "fire_exit_blocked", "description": "好的"},
        {"category": "no_such_category", "description": "坏的"}])
    assert response.status_code == 422
    assert session.scalar(select(func.count()).select_from(Inspection)) == 0
    assert session.scalar(select(func.count()).select_from(Hazard)) == 0


def test_inspection_scope_roles_and_bad_input(client, world, login):
    p = world["people"]
    pair = [p["P4"].id, p["P5"].id]
    mine, theirs = world["a1"][0].uscc, world["b1"].uscc
    leader_b = login("township_leader", "320382103")
    assert _inspect(client, leader_b, mine, pair).status_code == 404, "enterprise outside the scope"
    assert _inspect(client, login("authority", "320382"), mine, pair).status_code == 403
    assert _inspect(client, login(), "91320382NOTAUSCC0X", pair).status_code == 404
    admin = login()
    assert _inspect(client, admin, mine, pair, fine_amount=-1).status_code == 422
    assert _inspect(client, admin, mine, pair, inspected_on="2099-01-01T00:00:00+08:00").status_code == 422
    assert _inspect(client, admin, mine, pair, grid_code="320382103001").status_code == 422, "extra fields"
    created = _inspect(client, admin, mine, pair).json()["id"]
    _inspect(client, admin, theirs, pair, inspected_on="2025-03-01T09:00:00+08:00")
    assert client.get(f"/api/v1/inspections/{created}", headers=leader_b).status_code == 404
    listed = client.get("/api/v1/inspections", headers=leader_b).json()
    assert [i["enterprise_uscc"] for i in listed["data"]] == [theirs]
    everything = client.get("/api/v1/inspections", headers=admin).json()
    assert everything["count"] == 2
    in_may = client.get("/api/v1/inspections", params={"from": "2025-05-01", "to": "2025-06-01"}, headers=admin)
    assert [i["enterprise_uscc"] for i in in_may.json()["data"]] == [mine]
    by_grid = client.get("/api/v1/inspections", params={"grid": "320382103"}, headers=admin).json()
    assert by_grid["count"] == 1
    assert client.get("/api/v1/inspections", params={"from": "2025-06-01", "to": "2025-05-01"},
                      headers=admin).status_code == 422


# -------------------------------------------------------------------------- plans

def _plan(client, headers, township="320382102", **values):
    body = {"township_code": township, "period": "2025Q2", "name": "二季度双随机抽查", "share": 0.5, **values}
    return client.post("/api/v1/plans", json=body, headers=headers)


def _draw(client, headers, plan_id, **body):
    return client.post(f"/api/v1/plans/{plan_id}/draw", json=body, headers=headers)


def _result(plan: dict) -> list[tuple]:
    return [(t["uscc"], t["inspector_a"]["id"], t["inspector_b"]["id"]) for t in plan["targets"] if t["selected"]]


def test_plan_targets_are_the_gridded_enterprises_of_the_township(client, world, login):
    admin = login()
    created = _plan(client, admin)
    assert created.status_code == 201, created.text
    plan = created.json()
    expected = sorted(e.uscc for e in world["a1"] + world["a2"])
    assert [t["uscc"] for t in plan["targets"]] == expected, "no unplaced/ambiguous, nothing from B"
    assert (plan["status"], plan["seed"], plan["completion"], plan["township_name"]) == ("draft", None, None, "邳城镇")
    chosen = _plan(client, admin, usccs=[world["a1"][0].uscc, world["a1"][1].uscc]).json()
    assert len(chosen["targets"]) == 2
    assert _plan(client, admin, usccs=[world["b1"].uscc]).status_code == 422, "not in the township"
    assert _plan(client, admin, period="2025Q5").status_code == 422
    assert _plan(client, admin, period="25").status_code == 422
    assert _plan(client, admin, share=0).status_code == 422
    assert _plan(client, admin, share=1.5).status_code == 422
    assert _plan(client, admin, township="320382102001").status_code == 422, "a village is not a township"
    assert _plan(client, login("township_leader", "320382103")).status_code == 404
    assert _plan(client, login("authority", "320382")).status_code == 403
    leader = login("township_leader", "320382102")
    assert client.get(f"/api/v1/plans/{plan['id']}", headers=leader).status_code == 200
    assert client.get(f"/api/v1/plans/{plan['id']}", headers=login("township_leader", "320382103")).status_code == 404
    assert client.get("/api/v1/plans", params={"township": "320382102"}, headers=leader).json()["count"] == 2


def test_draw_is_reproducible_from_the_recorded_seed(client, world, login):
    admin = login()
    plan_id = _plan(client, admin).json()["id"]
    first = _draw(client, admin, plan_id, seed=12345)
    assert first.status_code == 200, first.text
    drawn = first.json()
    assert (drawn["status"], drawn["seed"], drawn["selected_count"]) == ("drawn", "12345", 6)
    again = _draw(client, admin, plan_id, seed=int(drawn["seed"]), force=True).json()
    assert _result(again) == _result(drawn), "same seed, same targets → same selection and pairs"
    other = _draw(client, admin, plan_id, seed=12346, force=True).json()
    assert _result(other) != _result(drawn)
    # Without a seed one is generated, recorded, and reproduces the draw.
    fresh = _draw(client, admin, plan_id, force=True).json()
    assert 0 <= int(fresh["seed"]) < 2**63
    replay = _draw(client, admin, plan_id, seed=fresh["seed"], force=True).json()
    assert _result(replay) == _result(fresh)
    # A second plan over the same targets drawn with the same seed agrees too.
    twin = _plan(client, admin).json()["id"]
    assert _result(_draw(client, admin, twin, seed=12345).json()) == _result(drawn)


def test_redraw_rules(client, world, login):
    leader = login("township_leader", "320382102")
    plan_id = _plan(client, leader).json()["id"]
    assert _draw(client, login("authority", "320382"), plan_id).status_code == 403
    assert _draw(client, login("township_leader", "320382103"), plan_id).status_code == 404
    assert _draw(client, leader, plan_id, seed=1).status_code == 200
    assert _draw(client, leader, plan_id, seed=2).status_code == 409, "already drawn"
    assert _draw(client, leader, plan_id, seed=2, force=True).status_code == 403, "force is for admins"
    assert _draw(client, leader, plan_id, seed=-1).status_code == 422
    assert _draw(client, leader, plan_id, seed=1, extra=True).status_code == 422


@pytest.mark.parametrize("share,expected", [(0.25, 3), (0.3, 4), (0.5, 6), (0.01, 1), (1.0, 12)])
def test_draw_selects_ceil_share_of_the_targets(client, world, login, share, expected):
    admin = login()
    plan_id = _plan(client, admin).json()["id"]
    drawn = _draw(client, admin, plan_id, share=share, seed=7).json()
    assert drawn["selected_count"] == expected == len(_result(drawn))
    assert drawn["share"] == share, "the share used is recorded"


def test_conflict_of_interest_is_never_violated(session, world):
    """Over many seeds, no selected enterprise gets an inspector holding a role in its grid
    or village; township- and district-level staff and other villages' staff do serve."""
    scope = Scope.everything()
    plan = create_plan(session, {"township_code": "320382102", "period": "2025", "name": "全年", "share": 1.0},
                       scope=scope)
    served: set[int] = set()
    for seed in range(12):
        draw_plan(session, plan.id, scope=scope, seed=seed, force=True)
        violations = session.execute(text(
            """
            SELECT e.uscc, r.person_id FROM plan_target t
            JOIN enterprise e ON e.id = t.enterprise_id
            JOIN role_assignment r ON r.person_id IN (t.inspector_a_id, t.inspector_b_id)
                 AND r.grid_code IN (e.grid_code, e.village_code)
            WHERE t.plan_id = :plan AND t.selected
            """), {"plan": plan.id}).all()
        assert violations == [], seed
        rows = session.execute(select(PlanTarget.inspector_a_id, PlanTarget.inspector_b_id)
                               .where(PlanTarget.plan_id == plan.id, PlanTarget.selected)).all()
        assert len(rows) == 12 and all(a is not None and b is not None and a != b for a, b in rows)
        served |= {i for row in rows for i in row}
    people = world["people"]
    assert served == {people[k].id for k in ("P1", "P2", "P3", "P4", "P5")}, \
        "the pool is the township's and district's certified staff, nobody else"


def test_pool_too_small_is_409_naming_the_enterprise_and_writes_nothing(client, session, world, login):
    admin = login()
    # Township B's pool: P6 (role in B1) and P5 (district). B1's enterprise can only get P5.
    plan_id = _plan(client, admin, township="320382103", share=1.0).json()["id"]
    refused = _draw(client, admin, plan_id, seed=3)
    assert refused.status_code == 409
    assert world["b1"].uscc in refused.json()["message"] and "丙村企业" in refused.json()["message"]
    plan = session.get(InspectionPlan, plan_id)
    session.refresh(plan)
    assert (plan.status, plan.seed) == ("draft", None)
    assert session.scalar(select(func.count()).select_from(PlanTarget)
                          .where(PlanTarget.plan_id == plan_id, PlanTarget.selected)) == 0
    # Adding one more certified township-level inspector makes the draw possible.
    make_person(session, grid_code="320382103", role="safety_officer", name="郑九", certificate_no="JS-009")
    assert _draw(client, admin, plan_id, seed=3).status_code == 200


def test_completion_rate_after_recording_inspections(client, world, login):
    admin = login()
    plan_id = _plan(client, admin, share=0.25).json()["id"]
    drawn = _draw(client, admin, plan_id, seed=99).json()
    selected = [t for t in drawn["targets"] if t["selected"]]
    assert len(selected) == 3 and drawn["completion"] == 0.0
    for target in selected[:2]:
        pair = [target["inspector_a"]["id"], target["inspector_b"]["id"]]
        response = _inspect(client, admin, target["uscc"], pair, plan_id=plan_id)
        assert response.status_code == 201, response.text
    # A second visit to the same enterprise does not count twice.
    first = selected[0]
    _inspect(client, admin, first["uscc"], [first["inspector_a"]["id"], first["inspector_b"]["id"]],
             plan_id=plan_id, inspected_on="2025-06-01T09:00:00+08:00")
    detail = client.get(f"/api/v1/plans/{plan_id}", headers=admin).json()
    assert (detail["selected_count"], detail["inspected_count"], detail["completion"]) == (3, 2, 0.6667)
    assert len([t for t in detail["targets"] if t["inspection_ids"]]) == 2
    unselected = next(t for t in drawn["targets"] if not t["selected"])
    pair = [world["people"]["P4"].id, world["people"]["P5"].id]
    assert _inspect(client, admin, unselected["uscc"], pair, plan_id=plan_id).status_code == 422
    assert _inspect(client, admin, selected[2]["uscc"], pair, plan_id=plan_id,
                    inspected_on="2025-07-01T09:00:00+08:00").status_code == 422, "outside 2025Q2"
    assert _draw(client, admin, plan_id, seed=5, force=True).status_code == 409, "inspections recorded"
    listed = client.get("/api/v1/plans", headers=admin).json()["data"][0]
    assert (listed["id"], listed["completion"], listed["targets_count"]) == (plan_id, 0.6667, 12)


# ------------------------------------------------------------ the draw as a function

def test_selection_size_is_ceil_without_float_noise():
    assert [selection_size(s, 10) for s in (0.1, 0.2, 0.3, 0.7, 0.71)] == [1, 2, 3, 7, 8]


@st.composite
def draw_inputs(draw):
    villages = [f"V{i}" for i in range(draw(st.integers(1, 4)))]
    targets = [DrawTarget(i, f"U{i:04d}", f"企业{i}", frozenset({draw(st.sampled_from(villages))}))
               for i in range(draw(st.integers(1, 30)))]
    pool = [Inspector(100 + i, f"P{i}", frozenset(draw(st.sets(st.sampled_from(villages), max_size=2))))
            for i in range(draw(st.integers(0, 8)))]
    return targets, pool, draw(st.floats(0.01, 1.0)), draw(st.integers(0, 2**63 - 1))


@hsettings(max_examples=200, deadline=None)
@given(draw_inputs())
def test_draw_property(inputs):
    """Any input: either a 409, or exactly ceil(share·n) distinct enterprises, each with two
    distinct pool members holding no role in its grid — and the same again for the seed,
    whatever order the inputs come in."""
    targets, pool, share, seed = inputs
    try:
        result = draw_assignments(targets, pool, share=share, seed=seed)
    except Conflict:
        eligible = [sum(1 for p in pool if not (p.role_codes & t.conflict_codes)) for t in targets]
        assert len(pool) < 2 or min(eligible) < 2
        return
    by_id = {t.enterprise_id: t for t in targets}
    roles = {p.person_id: p.role_codes for p in pool}
    assert len(result) == selection_size(share, len(targets)) == len({a.enterprise_id for a in result})
    for assignment in result:
        first, second = assignment.inspector_ids
        assert first != second and first in roles and second in roles
        assert not (roles[first] | roles[second]) & by_id[assignment.enterprise_id].conflict_codes
    assert draw_assignments(list(reversed(targets)), list(reversed(pool)), share=share, seed=seed) == result


def test_inspected_on_defaults_to_now(client, world, login):
    p = world["people"]
    before = datetime.now(UTC)
    body = {"enterprise_uscc": world["a1"][0].uscc, "inspectors": [p["P3"].id, p["P4"].id]}
    response = client.post("/api/v1/inspections", json=body, headers=login())
    assert response.status_code == 201
    assert before - timedelta(seconds=1) <= datetime.fromisoformat(response.json()["inspected_on"]) <= datetime.now(UTC)


def test_a_draw_is_verified_from_its_record_after_staffing_changes(client, session, world, login):
    """The seed alone does not survive a new certified officer; the recorded pool does."""
    admin = login()
    plan_id = _plan(client, admin, share=1.0).json()["id"]
    drawn = _draw(client, admin, plan_id, seed=2025).json()
    people = world["people"]
    pool = [people[k].id for k in ("P1", "P2", "P3", "P4", "P5")]
    assert (drawn["seed"], drawn["pool"]) == ("2025", pool)
    assert client.get(f"/api/v1/plans/{plan_id}", headers=admin).json()["pool"] == pool
    make_person(session, grid_code="320382102", role="safety_officer", name="新来的", certificate_no="JS-010")
    result = verify_draw(session, plan_id, scope=Scope.everything())
    assert (result["identical"], result["selected"], result["differences"]) == (True, 12, [])
    # The same seed on today's pool gives another draw: that is why the pool is recorded.
    twin = _plan(client, admin, share=1.0).json()["id"]
    assert _result(_draw(client, admin, twin, seed=2025).json()) != _result(drawn)
    # A tampered pair is found.
    first = next(t for t in drawn["targets"] if t["selected"])
    session.execute(text("UPDATE plan_target SET inspector_b_id = :p FROM enterprise e "
                         "WHERE e.id = plan_target.enterprise_id AND plan_target.plan_id = :plan AND e.uscc = :u"),
                    {"p": people["P6"].id, "plan": plan_id, "u": first["uscc"]})
    tampered = verify_draw(session, plan_id, scope=Scope.everything())
    assert tampered["identical"] is False
    assert tampered["differences"] == [{"uscc": first["uscc"],
                                        "recorded": (first["inspector_a"]["id"], people["P6"].id),
                                        "reproduced": (first["inspector_a"]["id"], first["inspector_b"]["id"])}]


def test_verify_refuses_undrawn_and_unrecorded_plans(client, session, world, login):
    from gridmap.errors import IllegalTransition, NotFound

    admin = login()
    plan_id = _plan(client, admin).json()["id"]
    with pytest.raises(IllegalTransition):
        verify_draw(session, plan_id, scope=Scope.everything())
    _draw(client, admin, plan_id, seed=1)
    with pytest.raises(NotFound):
        verify_draw(session, plan_id, scope=Scope(code="320382103", role="township_leader"))
    session.execute(text("UPDATE inspection_plan SET draw_record = NULL WHERE id = :i"), {"i": plan_id})
    session.expire_all()
    with pytest.raises(Conflict, match="before draws recorded their pool"):
        verify_draw(session, plan_id, scope=Scope.everything())
    assert client.get(f"/api/v1/plans/{plan_id}", headers=admin).json()["pool"] is None
