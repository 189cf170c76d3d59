"""The township leader's report: one HTML file that opens offline and says what to fix."""

from __future__ import annotations

import random

import pytest

from gridmap.auth import Scope
from gridmap.enterprises import save_enterprise
from gridmap.errors import InvalidInput, NotFound
from gridmap.report import external_references, township_report
from gridmap.uscc import make_uscc
from tests.factories import make_person


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
    page.close()
