"""``gridmap hazards create|transition|attach``, ``gridmap escalate`` and ``gridmap import
hazards`` as a command-centre operator runs them: summaries, --json, one-line errors."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from gridmap.auth import create_user
from gridmap.models import Hazard, HazardEvent
from gridmap.settings import HazardSettings
from tests.factories import make_person

JPEG = b"\xff\xd8\xff\xe0" + b"2" * 120
PDF = b"%PDF-1.4\n" + b"2" * 120


@pytest.fixture
def operators(session, settings, toy_district, tmp_path):
    settings.hazards = HazardSettings(attachment_dir=str(tmp_path / "attachments"))
    for name, role, scope in (("centre", "admin", None), ("lead", "township_leader", "320382102"),
                              ("staff", "grid_staff", "320382102001")):
        create_user(session, name, role=role, scope=scope, password="password-123", settings=settings.auth)
    (tmp_path / "after.jpg").write_bytes(JPEG)
    (tmp_path / "sheet.pdf").write_bytes(PDF)
    return tmp_path


def _one_line_error(code, out, err, text):
    assert code == 1 and out == "", (code, out, err)
    assert len(err.strip().splitlines()) == 1 and text in err and "Traceback" not in err, err


def _create(cli, *extra):
    return cli("hazards", "create", "--lon", "117.93", "--lat", "34.35", "--category", "fire_other",
               "--description", "消防通道堵塞", *extra)


def test_operator_files_a_major_hazard_and_closes_the_loop(cli, session, operators):
    code, out, err = _create(cli, "--grade", "major", "--as", "centre")
    assert code == 0, err
    assert "reported hazard #" in out and "320382102001" in out
    hazard_id = session.scalar(select(Hazard.id).order_by(Hazard.id.desc()))
    _one_line_error(*cli("hazards", "transition", str(hazard_id), "--to", "filed", "--as", "lead"),
                    "supervising official")
    code, out, err = cli("hazards", "transition", str(hazard_id), "--to", "filed", "--as", "lead",
                         "--supervising-official", "王副镇长", "--plan", "三十日内完成改造", "--deadline", "2031-06-30")
    assert code == 0, err
    assert "已立案(filed)" in out and "deadline:" in out and "→ 2031-06-30 00:00" in out  # shown in Beijing time, as given
    hazard = session.get(Hazard, hazard_id)
    assert (hazard.supervising_official, hazard.rectification_plan) == ("王副镇长", "三十日内完成改造")
    for to, who in (("dispatched", "lead"), ("rectifying", "staff")):
        assert cli("hazards", "transition", str(hazard_id), "--to", to, "--as", who)[0] == 0
    code, out, err = cli("hazards", "transition", str(hazard_id), "--to", "verifying", "--as", "staff",
                         "--attach", f"after_photo={operators / 'after.jpg'}",
                         "--attach", f"responsibility_sheet={operators / 'sheet.pdf'}", "--json")
    assert code == 0, err
    detail = json.loads(out)
    assert detail["status"] == "verifying" and len(detail["events"][-1]["attachment_ids"]) == 2
    assert {a["kind"] for a in detail["attachments"]} == {"after_photo", "responsibility_sheet"}
    code, out, err = cli("hazards", "transition", str(hazard_id), "--to", "closed", "--as", "lead",
                         "--note", "核查合格", "--json")
    assert code == 0 and json.loads(out)["status"] == "closed", err


def test_transition_refusals_are_one_line(cli, session, operators):
    assert _create(cli, "--as", "staff")[0] == 0
    hazard_id = session.scalar(select(Hazard.id).order_by(Hazard.id.desc()))
    _one_line_error(*cli("hazards", "transition", str(hazard_id), "--to", "closed", "--as", "lead"),
                    "cannot go to closed")
    _one_line_error(*cli("hazards", "transition", str(hazard_id), "--to", "filed", "--as", "nobody"),
                    "does not exist")
    _one_line_error(*cli("hazards", "transition", str(hazard_id), "--to", "filed", "--as", "lead",
                         "--deadline", "next week"), "--deadline must be")
    _one_line_error(*cli("hazards", "transition", str(hazard_id), "--to", "filed", "--as", "lead",
                         "--attach", "after_photo"), "KIND=FILE")
    _one_line_error(*cli("hazards", "transition", str(hazard_id), "--to", "filed", "--as", "lead",
                         "--version", "7"), "you saw 7")
    _one_line_error(*cli("hazards", "transition", str(hazard_id), "--to", "filed", "--as", "lead",
                         "--attach", f"before_photo={operators / 'missing.jpg'}"), "cannot read the file")
    assert session.get(Hazard, hazard_id).status == "reported"
    _one_line_error(*_create(cli, "--as", "staff", "--deadline", "2035-01-01"), "may set a deadline")
    # The version seen before this command's own uploads still holds.
    code, out, err = cli("hazards", "transition", str(hazard_id), "--to", "filed", "--as", "lead", "--version", "1",
                         "--attach", f"before_photo={operators / 'after.jpg'}", "--json")
    assert code == 0 and json.loads(out)["version"] == 3, err


def test_attach_command(cli, session, operators):
    assert _create(cli, "--as", "staff")[0] == 0
    hazard_id = session.scalar(select(Hazard.id).order_by(Hazard.id.desc()))
    code, out, err = cli("hazards", "attach", str(hazard_id), "before_photo", str(operators / "after.jpg"),
                         "--as", "staff")
    assert code == 0 and "image/jpeg" in out and f"hazard #{hazard_id}" in out, err
    code, out, _ = cli("hazards", "attach", str(hazard_id), "other", str(operators / "sheet.pdf"),
                       "--as", "staff", "--json")
    assert json.loads(out)["hazard_version"] == 3
    _one_line_error(*cli("hazards", "attach", str(hazard_id), "selfie", str(operators / "after.jpg"),
                         "--as", "staff"), "unknown attachment kind")
    (operators / "note.txt").write_text("not a photo")
    _one_line_error(*cli("hazards", "attach", str(hazard_id), "other", str(operators / "note.txt"),
                         "--as", "staff"), "JPEG or PNG")


def test_escalate_command_escalates(cli, session, operators):
    make_person(session, grid_code="320382102", role="first_responsible", name="镇长甲", phone="13900000001")
    assert _create(cli, "--as", "centre", "--deadline", "2025-01-01")[0] == 0
    late = session.scalar(select(Hazard.id).order_by(Hazard.id.desc()))
    assert _create(cli, "--as", "centre")[0] == 0
    code, out, err = cli("escalate")
    assert code == 0, err
    assert "escalated 1 overdue hazards" in out and f"#{late}" in out and "镇长甲" in out
    assert session.get(Hazard, late).escalation_level == 1
    last = session.scalars(select(HazardEvent).where(HazardEvent.hazard_id == late).order_by(HazardEvent.seq)).all()[-1]
    assert (last.action, last.data["target_code"]) == ("escalate", "320382102")
    code, out, _ = cli("escalate", "--json")
    assert code == 0 and json.loads(out) == [], "once per interval"


def test_import_uses_the_configured_taxonomy_and_the_major_rule(cli, session, settings, operators):
    categories = operators / "categories.json"
    categories.write_text('[{"id": "mine_gas", "zh": "瓦斯超限", "en": "Gas over limit", "group": "other"}]',
                          encoding="utf-8")
    settings.taxonomy.hazard_categories_file = str(categories)
    register = operators / "register.csv"
    register.write_text(
        "原系统编号,经度,纬度,隐患类别,隐患等级,隐患描述,状态,上报时间,督办人,整改方案\n"
        "H-1,117.93,34.35,瓦斯超限,一般,瓦斯超限,已立案,2026-03-01,,\n"
        "H-2,117.93,34.35,fire_other,一般,消防,已立案,2026-03-01,,\n"
        "H-3,117.93,34.35,瓦斯超限,重大,重大隐患无督办,已立案,2026-03-01,,\n"
        "H-4,117.93,34.35,瓦斯超限,重大,重大隐患有督办,整改中,2026-03-01,王副镇长,方案\n"
        "H-5,117.93,34.35,瓦斯超限,重大,尚未立案,已上报,2026-03-01,,\n", encoding="utf-8")
    code, out, err = cli("import", "hazards", str(register), "--json")
    assert code == 3, err
    report = json.loads(out)
    assert report["added"] == 3
    rejected = {r["row"]: r for r in report["rejected"]}
    assert set(rejected) == {3, 4}
    assert "unknown hazard category" in rejected[3]["reason_en"]
    assert rejected[4]["field"] == "supervising_official" and "挂牌督办" in rejected[4]["reason_zh"]
    assert set(session.scalars(select(Hazard.category).where(Hazard.external_id.is_not(None)))) == {"mine_gas"}


def test_create_at_an_enterprise_and_bad_places(cli, session, operators):
    import random

    from tests.test_inspections import make_enterprise

    enterprise = make_enterprise(session, random.Random(3), "320382102002", name="乙社区化工厂")
    code, out, err = cli("hazards", "create", "--enterprise", enterprise.uscc, "--category", "chemical_storage",
                         "--description", "危化品混存", "--source", "public_report", "--as", "lead", "--json")
    assert code == 0, err
    created = json.loads(out)
    assert (created["enterprise_uscc"], created["grid_code"], created["source"]) == \
        (enterprise.uscc, "320382102002", "public_report")
    _one_line_error(*_create(cli, "--as", "lead", "--crs", "utm"), "error:")
    _one_line_error(*cli("hazards", "create", "--category", "fire_other", "--description", "无位置", "--as", "lead"),
                    "a location (lon/lat) or an enterprise USCC is required")
    _one_line_error(*_create(cli, "--as", "staff", "--lon", "118.07"), "outside your scope")


def test_categories_lists_the_configured_taxonomy_and_unknown_ones_point_to_it(cli, settings, operators):
    categories = operators / "categories.json"
    categories.write_text('[{"id": "mine_gas", "zh": "瓦斯超限", "en": "Gas over limit", "group": "other"}]',
                          encoding="utf-8")
    settings.taxonomy.hazard_categories_file = str(categories)
    code, out, _ = cli("hazards", "categories", "--json")
    assert code == 0 and [c["id"] for c in json.loads(out)] == ["mine_gas"]
    code, out, _ = cli("hazards", "categories")
    assert code == 0 and "瓦斯超限" in out and "fire_other" not in out
    _one_line_error(*_create(cli, "--as", "centre")[:3], "gridmap hazards categories")
