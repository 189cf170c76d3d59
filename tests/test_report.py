"""The township leader's report: one HTML file that opens offline and says what to fix."""

from __future__ import annotations

import json
import random
import re
from pathlib import Path

import pytest
from shapely.geometry import box

from gridmap.auth import Scope
from gridmap.boundaries import add_grid, refresh_leaves
from gridmap.coverage import FAILURE_TEXTS, STATUS_NAMES
from gridmap.enterprises import save_enterprise
from gridmap.errors import InvalidInput, NotFound
from gridmap.report import external_references, township_report
from gridmap.uscc import make_uscc
from tests.factories import make_person, make_set

I18N = Path(__file__).resolve().parents[1] / "web" / "i18n.js"


@pytest.fixture
def township_page(session, toy_district):
    make_person(session, grid_code="320382102001", role="first_responsible", name="李娜", phone="13800000002")
    make_person(session, grid_code="320382102001", role="patrol_officer", name="赵敏")
    rng = random.Random(5)
    save_enterprise(session, {"uscc": make_uscc(rng, "320382"), "name": "邳州银杏木业有限公司", "lon": 117.93,
                              "lat": 34.35, "sector": "粉尘涉爆"}, scope=Scope.everything())
    save_enterprise(session, {"uscc": make_uscc(rng, "320382"), "name": "地址冲突厂", "lon": 117.93, "lat": 34.35,
                              "address": "邳州市邳城镇乙社区"}, scope=Scope.everything())
    return township_report(session, "320382102")


def test_report_content(township_page):
    page = township_page
    assert external_references(page) == [], "must open offline"
    for text in ("邳城镇 安全生产网格化监管报告", "甲村", "乙社区", "李娜", "邳州银杏木业有限公司", "粉尘涉爆",
                 "地址与坐标不符", "巡查员"):
        assert text in page, text
    # 乙社区 has no first responsible and 甲村 only one patrol officer: both are listed.
    assert "（缺）" in page and "320382102001" in page
    assert "L.map(" in page and "leaflet" in page.lower()


def test_staffing_failures_say_what_is_missing_in_chinese(township_page):
    """邳城镇 (population 20,000) has no safety staff and no director: each rule broken is a
    sentence naming the missing part, never the rule's identifier."""
    page = township_page
    for text in ("安全员按常住人口配备不足：应有 2 名，实有 0 名，缺 2 名",
                 "“1+2+N”队伍缺负责人：没有专职的具体责任人（“1”）",
                 "“1+2+N”队伍持执法证专业人员不足：应有 2 名，实有 0 名，缺 2 名"):
        assert text in page, text
    for identifier in ("staff_per_population", "team_1_2_n", "full_time_for_enterprises", "certified_professionals"):
        assert identifier not in page, identifier


def test_status_words_are_the_dashboards(township_page):
    """One word per status everywhere: the report, the CLI (STATUS_NAMES) and web/i18n.js."""
    source = I18N.read_text(encoding="utf-8")
    zh, en = source.split("\n  en: {", 1)
    for status, (word_zh, word_en) in STATUS_NAMES.items():
        assert f'"status.{status}": "{word_zh}"' in zh, status
        assert f'"status.{status}": "{word_en}"' in en, status
    for part in FAILURE_TEXTS:
        assert f'"part.{part}":' in zh and f'"part.{part}":' in en, part
    assert "关注" not in township_page and "未检查" not in township_page


def test_scale_bar_is_metric_only(township_page):
    assert re.findall(r"L\.control\.scale\(([^)]*)\)", township_page) == ["{imperial: false, metric: true}"]


@pytest.fixture
def township_with_gap_and_overlap(session):
    """邳城镇 whose villages overlap by 0.01° (甲村 × 乙社区) and leave a 0.01° strip uncovered."""
    boundary_set = make_set(session)
    add_grid(session, set_id=boundary_set.id, code="320382", name="邳州市", level="district",
             geom=box(117.90, 34.30, 118.00, 34.40))
    add_grid(session, set_id=boundary_set.id, code="320382102", name="邳城镇", level="township",
             geom=box(117.90, 34.30, 118.00, 34.40), population=5000)
    add_grid(session, set_id=boundary_set.id, code="320382102001", name="甲村", level="village",
             geom=box(117.90, 34.30, 117.96, 34.40))
    add_grid(session, set_id=boundary_set.id, code="320382102002", name="乙社区", level="village",
             geom=box(117.95, 34.30, 117.99, 34.40))
    refresh_leaves(session, boundary_set.id)
    return boundary_set


def _table_rows(page: str, caption_cell: str) -> list[list[str]]:
    """Rows (cell texts) of the report table whose header has ``caption_cell``."""
    for table in re.findall(r"<table[^>]*>.*?</table>", page, flags=re.DOTALL):
        if f"<th>{caption_cell}</th>" in table:
            return [re.findall(r"<td>(.*?)</td>", row) for row in re.findall(r"<tr>(.*?)</tr>", table)[1:]]
    return []


def test_coverage_problems_table(session, township_with_gap_and_overlap):
    page = township_report(session, "320382102")
    rows = _table_rows(page, "面积（m²）")
    kinds = sorted(row[0] for row in rows)
    assert kinds == ["缺口（未被下级网格覆盖）", "重叠（两个网格重复划定）"], rows
    overlap = next(row for row in rows if row[0].startswith("重叠"))
    assert overlap[1] == "320382102001 甲村 × 320382102002 乙社区" and overlap[2] == "320382102 邳城镇"
    gap = next(row for row in rows if row[0].startswith("缺口"))
    # 0.01° × 0.1° at 34.35° N: about 920 m × 11,090 m.
    for row in (overlap, gap):
        assert float(row[3].replace(",", "")) == pytest.approx(10.2e6, rel=0.02), row


def test_report_uses_the_configured_sector_taxonomy(cli, settings, township_page, tmp_path):
    """The CLI passes ``settings.taxonomy.sectors_file`` on: a deployment's own sector
    names appear in the report."""
    taxonomy = tmp_path / "sectors.json"
    taxonomy.write_text(json.dumps([{"id": "dust_explosion", "zh": "粉尘爆炸危险场所（本地分类）",
                                     "en": "Dust explosion (local)", "aliases": ["粉尘涉爆"]}],
                                   ensure_ascii=False), encoding="utf-8")
    settings.taxonomy.sectors_file = str(taxonomy)
    output = tmp_path / "report.html"
    code, _out, err = cli("report", "township", "320382102", "-o", str(output))
    assert code == 0, err
    assert "粉尘爆炸危险场所（本地分类）" in output.read_text(encoding="utf-8")


def test_report_refuses_bad_codes(session, toy_district):
    with pytest.raises(InvalidInput):
        township_report(session, "320382102001")
    with pytest.raises(NotFound):
        township_report(session, "320382102", scope=Scope(code="320382103", role="township_leader"))


@pytest.mark.browser
def test_report_renders_in_chromium_without_network(township_page, browser, tmp_path):
    path = tmp_path / "report.html"
    path.write_text(township_page, encoding="utf-8")
    page = browser.new_page(viewport={"width": 1366, "height": 900})
    requests, errors = [], []
    page.on("request", lambda r: requests.append(r.url))
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(path.as_uri())
    page.wait_for_selector("path.leaflet-interactive")
    assert errors == []
    assert [u for u in requests if not u.startswith(("file:", "data:"))] == []
    assert page.locator("path.leaflet-interactive").count() >= 3  # township + villages
    assert page.locator(".leaflet-control-layers").count() == 1
    scale = page.locator(".leaflet-control-scale-line")
    assert scale.count() == 1 and re.search(r"\d+ k?m$", scale.inner_text()), scale.all_inner_texts()
    page.close()
