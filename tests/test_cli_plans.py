"""``gridmap plans create|list|show|draw|verify`` and ``gridmap inspections list``."""

from __future__ import annotations

import json
import random
from datetime import datetime

import pytest
from sqlalchemy import select, text

from gridmap.auth import create_user
from tests.factories import make_person
from tests.test_inspections import make_enterprise


@pytest.fixture
def township(session, settings, toy_district):
    rng = random.Random(7)
    for village in ("320382102001", "320382102002"):
        for i in range(3):
            make_enterprise(session, rng, village, name=f"企业{village[-1]}{i}")
    for code, name in (("320382102001", "李一"), ("320382102002", "王三"), ("320382102", "赵四"), ("320382", "钱五")):
        make_person(session, grid_code=code, role="safety_officer", name=name, certificate_no=f"JS-{name}")
    create_user(session, "lead", role="township_leader", scope="320382102", password="password-123",
                settings=settings.auth)
    create_user(session, "city", role="authority", scope="320382", password="password-123", settings=settings.auth)


def _plan_id(out: str) -> int:
    return json.loads(out)["id"]


def test_create_draw_show_list_verify(cli, session, township):
    code, out, err = cli("plans", "create", "320382102", "2026Q3", "三季度双随机", "--share", "0.5", "--as", "lead",
                         "--json")
    assert code == 0, err
    plan_id = _plan_id(out)
    assert json.loads(out)["targets_count"] == 6 and json.loads(out)["status"] == "draft"
    code, out, err = cli("plans", "draw", str(plan_id), "--as", "lead", "--seed", "42")
    assert code == 0, err
    assert "drawn" in out and "seed 42" in out and "pool (4)" in out and out.count(" + ") == 3
    code, out, _ = cli("plans", "show", str(plan_id), "--json")
    shown = json.loads(out)
    assert shown["seed"] == "42" and len(shown["pool"]) == 4 and shown["selected_count"] == 3
    code, out, _ = cli("plans", "list")
    assert code == 0 and "1 plans" in out and "三季度双随机" in out
    # A new certified officer joins the township: the recorded draw still verifies.
    make_person(session, grid_code="320382102", role="safety_officer", name="新人", certificate_no="JS-new")
    code, out, err = cli("plans", "verify", str(plan_id))
    assert code == 0, err
    assert "identical" in out and "3 selected" in out
    session.execute(text("UPDATE plan_target SET inspector_a_id = inspector_b_id, inspector_b_id = inspector_a_id "
                         "WHERE plan_id = :p AND selected"), {"p": plan_id})
    code, out, _ = cli("plans", "verify", str(plan_id), "--json")
    assert code == 1 and json.loads(out)["identical"] is False and len(json.loads(out)["differences"]) == 3


def test_plan_refusals_are_one_line(cli, township):
    cases = [
        (("plans", "create", "320382102", "2026Q5", "坏周期", "--as", "lead"), "quarter"),
        (("plans", "create", "320382102", "2026", "只读", "--as", "city"), "read-only"),
        (("plans", "draw", "999999", "--as", "lead"), "not found"),
        (("plans", "verify", "999999"), "not found"),
    ]
    for args, text_ in cases:
        code, out, err = cli(*args)
        assert code == 1 and len(err.strip().splitlines()) == 1 and text_ in err, (args, err)
    code, out, _ = cli("plans", "create", "320382102", "2026", "全年", "--as", "lead", "--json")
    plan_id = _plan_id(out)
    code, _, err = cli("plans", "verify", str(plan_id))
    assert code == 1 and "has not been drawn" in err
    assert cli("plans", "draw", str(plan_id), "--as", "lead")[0] == 0
    code, _, err = cli("plans", "draw", str(plan_id), "--as", "lead")
    assert code == 1 and "already drawn" in err


def test_inspections_list(cli, session, township):
    from gridmap.auth import Scope
    from gridmap.inspections import create_inspection
    from gridmap.models import Enterprise, Person
    from gridmap.settings import HazardSettings

    uscc = session.scalar(select(Enterprise.uscc).order_by(Enterprise.uscc))
    inspectors = list(session.scalars(select(Person.id).order_by(Person.id).limit(2)))
    create_inspection(session, {"enterprise_uscc": uscc, "inspectors": inspectors, "case_filed": True,
                                "fine_amount": 5000, "inspected_on": datetime(2026, 3, 2, 10, 0)},
                      actor=None, scope=Scope.everything(), hazard_settings=HazardSettings())
    code, out, err = cli("inspections", "list", "--from", "2026-01-01")
    assert code == 0, err
    assert "1 inspections" in out and uscc in out and "李一、王三" in out and "5,000.00" in out and "立案" in out
    code, out, _ = cli("inspections", "list", "--from", "2026-04-01", "--json")
    assert json.loads(out)["count"] == 0
    code, _, err = cli("inspections", "list", "--from", "yesterday")
    assert code == 1 and "YYYY-MM-DD" in err
