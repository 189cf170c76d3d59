"""The command-centre dashboard in headless Chromium, on the Pizhou sample.

Two scenarios, as a person would use the dashboard:

* the command centre logs in, sees the district, toggles layers, drills into 运河街道 and
  one of its villages, reads the side panel (responsible persons by role, enterprise
  counts, open and overdue hazards), searches an enterprise and lands on it, switches to
  English, and looks at it on a wall screen (1920×1080) and on a laptop (1366×768);
* the township leader of 官湖镇 logs in and finds nothing of any other township: not on
  the map, not in the search.

Expected figures come from the sample's own files (``metadata.json``, ``persons.csv``),
not from the API under test. Every request the page makes must stay on the live server:
the dashboard works with no internet. Screenshots go to ``artifacts/``.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from urllib.parse import urlparse

import httpx
import pytest

from tests.live_server import ARTIFACTS_DIR, GUANHU, PIZHOU_DIR, YUNHE

pytestmark = pytest.mark.browser

WALL = {"width": 1920, "height": 1080}
LAPTOP = {"width": 1366, "height": 768}
TIMEOUT_MS = 15_000


def _metadata() -> dict:
    return json.loads((PIZHOU_DIR / "metadata.json").read_text(encoding="utf-8"))


def _township(code: str) -> dict:
    return next(t for t in _metadata()["townships"] if t["code"] == code)


def _person(grid_code: str, role: str) -> str:
    with (PIZHOU_DIR / "persons.csv").open(encoding="utf-8") as fh:
        return next(row["name"] for row in csv.DictReader(fh)
                    if row["grid_code"] == grid_code and row["role"] == role)


@contextmanager
def _api(base_url: str, account: dict) -> Iterator[httpx.Client]:
    """An API client logged in as ``account`` (for setting the scene, not for asserting)."""
    with httpx.Client(base_url=base_url, trust_env=False, timeout=10) as client:
        answer = client.post("/api/v1/auth/token",
                             data={"username": account["username"], "password": account["password"]})
        answer.raise_for_status()
        client.headers["Authorization"] = f"Bearer {answer.json()['access_token']}"
        yield client


def _hazard_counts(client: httpx.Client, grid: str) -> dict[str, int]:
    """Open and overdue hazards of a grid's subtree, as the API counts them now."""
    def count(**params) -> int:
        return client.get("/api/v1/hazards", params={"grid": grid, "limit": 1, **params}).json()["count"]

    return {"open": count() - count(status="closed") - count(status="rejected"),
            "overdue": count(overdue="true")}


def _an_enterprise(client: httpx.Client, grid: str) -> dict:
    """An enterprise placed by its coordinates somewhere in ``grid``."""
    return client.get("/api/v1/enterprises",
                      params={"grid": grid, "placement": "exact", "limit": 1}).json()["data"][0]


def _report_hazards(client: httpx.Client, enterprise: dict) -> None:
    """Two new open hazards at the enterprise, one of them overdue."""
    for deadline in (datetime.now(UTC) - timedelta(days=3), None):
        body = {"lon": enterprise["lon"], "lat": enterprise["lat"], "crs": "cgcs2000",
                "enterprise_uscc": enterprise["uscc"], "category": "fire_exit_blocked",
                "description": "安全出口堵塞（浏览器测试）"}
        if deadline:
            body["deadline"] = deadline.isoformat()
        client.post("/api/v1/hazards", json=body).raise_for_status()


class OffsiteGuard:
    """Records every request a page makes that does not go to the live server."""

    def __init__(self, base_url: str) -> None:
        self.host = urlparse(base_url).netloc
        self.offsite: list[str] = []

    def __call__(self, request) -> None:
        url = urlparse(request.url)
        if url.scheme in ("data", "blob", "about"):
            return
        if url.netloc != self.host or url.hostname not in ("127.0.0.1", "localhost"):
            self.offsite.append(request.url)


def _open_dashboard(browser, base_url: str, viewport: dict, account: dict):
    context = browser.new_context(viewport=viewport, locale="zh-CN")
    guard = OffsiteGuard(base_url)
    context.on("request", guard)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.set_default_timeout(TIMEOUT_MS)
    page.goto(base_url + "/")
    login = page.locator("dialog#login")
    login.wait_for(state="visible")
    page.fill("#login-username", account["username"])
    page.fill("#login-password", account["password"])
    page.click("#login-submit")
    page.wait_for_selector('body[data-ready="true"]')
    assert not login.is_visible()
    return context, page, guard, errors


def _click_label(page, code: str) -> None:
    """Click a grid where a person would: on its name (labels let clicks through to the polygon)."""
    label = page.locator(f'.grid-label[data-grid-code="{code}"]')
    box = label.bounding_box()
    assert box, f"the label of {code} is not on screen"
    page.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)


def _wait_layer(page, key: str, state: str = "shown") -> int:
    row = page.locator(f'.layer-row[data-layer="{key}"][data-state="{state}"]')
    row.wait_for()
    count = row.get_attribute("data-count")
    return int(count) if count else 0


def _toggle(page, key: str, on: bool) -> None:
    checkbox = page.locator(f'.layer-row[data-layer="{key}"] input[type="checkbox"]')
    checkbox.set_checked(on)


def _figure(page, section: str, key: str) -> int:
    value = page.locator(f'#panel [data-section="{section}"] [data-figure="{key}"]')
    value.wait_for()
    return int(value.get_attribute("data-value"))


def _settle(page) -> None:
    """Let Leaflet's fade and zoom animations finish before a screenshot or a measurement."""
    page.wait_for_function("""() => [...document.querySelectorAll('.leaflet-popup')]
        .every(p => getComputedStyle(p).opacity === '1')""")
    page.wait_for_timeout(300)


def _map_view(page) -> tuple[float, float, float]:
    element = page.locator("#map")
    lat, lon = (float(v) for v in element.get_attribute("data-center").split(","))
    return float(element.get_attribute("data-zoom")), lat, lon


def test_command_centre_drills_down_and_finds_an_enterprise(browser, live_server, demo_users):
    ARTIFACTS_DIR.mkdir(exist_ok=True)
    meta = _metadata()
    yunhe = _township(YUNHE)
    sample_hazards = meta["hazards"]["by_status"]
    open_in_sample = sum(sample_hazards.values()) - sample_hazards.get("closed", 0) - sample_hazards.get("rejected", 0)
    with _api(live_server, demo_users["admin"]) as client:
        # Overdue depends on today's date: the API's count before the test adds its own is
        # the baseline; the open ones are known from the sample.
        hazard_site = _an_enterprise(client, YUNHE)
        overdue_before = _hazard_counts(client, "320382")["overdue"]
        yunhe_before = _hazard_counts(client, YUNHE)
        village_before = _hazard_counts(client, hazard_site["grid_code"])
        _report_hazards(client, hazard_site)
        target = _an_enterprise(client, GUANHU)

    context, page, guard, errors = _open_dashboard(browser, live_server, WALL, demo_users["admin"])
    try:
        # The district: every township drawn and named, the figures the centre acts on.
        assert page.locator("h1").inner_text() == "安全生产网格化监管"
        townships = page.locator('path[data-role="child"][data-level="township"]')
        assert townships.count() == len(meta["townships"])
        assert page.locator('.grid-label[data-grid-code="320382002"]').inner_text() == "运河街道"
        kpi = page.locator('[data-kpi="enterprises"]')
        page.wait_for_selector('[data-kpi="enterprises"][data-value]:not([data-value=""])')
        assert int(kpi.get_attribute("data-value")) == meta["files"]["enterprises.csv"]["rows"]
        page.wait_for_selector(f'[data-kpi="overdue"][data-value="{overdue_before + 1}"]')
        assert "逾期隐患" in page.locator('[data-kpi="overdue"]').inner_text()
        assert f"未闭环隐患 {open_in_sample + 2:,}" in page.locator('[data-kpi="overdue"]').inner_text()
        assert page.locator("#stats-link").get_attribute("href") == "stats.html?code=320382"
        start_zoom, _, _ = _map_view(page)

        # Layers: each toggle changes what is drawn.
        _toggle(page, "density", True)
        assert _wait_layer(page, "density") > 0
        assert page.locator(".leaflet-density-pane path").count() > 0
        assert page.locator('#legend [data-legend="density"]').is_visible()
        _toggle(page, "density", False)
        assert page.locator(".leaflet-density-pane path").count() == 0

        _toggle(page, "enterprises", True)
        assert _wait_layer(page, "enterprises") > 0
        assert page.locator('path[data-overlay="enterprises"]').count() > 0
        _toggle(page, "enterprises", False)
        assert page.locator('path[data-overlay="enterprises"]').count() == 0

        _toggle(page, "hazards", True)
        assert _wait_layer(page, "hazards") > 0
        assert page.locator('path[data-overlay="hazards"]').count() > 0
        _toggle(page, "hazards", False)
        assert page.locator('path[data-overlay="hazards"]').count() == 0

        _toggle(page, "grids", False)
        assert page.locator("path[data-grid-code]").count() == 0
        _toggle(page, "grids", True)
        assert townships.count() == len(meta["townships"])

        # Drill into 运河街道: its villages appear, the panel says who is responsible and
        # what is there.
        _click_label(page, YUNHE)
        page.wait_for_selector(f'#panel[data-grid-code="{YUNHE}"]')
        villages = page.locator('path[data-level="village"]')
        villages.first.wait_for()
        assert villages.count() == yunhe["villages"]
        codes = villages.evaluate_all("paths => paths.map(p => p.dataset.gridCode)")
        assert all(code.startswith(YUNHE) for code in codes)
        page.wait_for_function("z => parseFloat(document.querySelector('#map').dataset.zoom) > z",
                               arg=start_zoom + 1)
        panel = page.locator("#panel")
        assert panel.locator("h2").inner_text() == "运河街道"
        first_responsible = panel.locator('dd[data-role="first_responsible"]')
        assert _person(YUNHE, "first_responsible") in first_responsible.inner_text()
        assert "第一责任人" in panel.locator('dt[data-role="first_responsible"]').inner_text()
        assert _figure(page, "enterprises", "enterprises") == yunhe["enterprises"]
        assert panel.locator('[data-section="enterprises"] .risk').count() >= 2
        assert _figure(page, "hazards", "hazards_open") == yunhe_before["open"] + 2
        assert _figure(page, "hazards", "hazards_overdue") == yunhe_before["overdue"] + 1
        assert panel.locator('[data-section="hazards"] li[data-hazard-id]').count() >= 1
        page.wait_for_selector('#panel [data-section="coverage"] ul, #panel [data-section="coverage"] .muted')
        stats = page.locator('#panel [data-section="stats"]')
        stats.wait_for()
        assert "整改率" in stats.inner_text()
        page.screenshot(path=str(ARTIFACTS_DIR / "dashboard-admin-1920x1080.png"))

        # …and into the village where the hazards are.
        village = hazard_site["grid_code"]
        _click_label(page, village)
        page.wait_for_selector(f'#panel[data-grid-code="{village}"]')
        assert _person(village, "first_responsible") in first_responsible.inner_text()
        assert _figure(page, "hazards", "hazards_open") == village_before["open"] + 2
        assert _figure(page, "hazards", "hazards_overdue") == village_before["overdue"] + 1
        # The newest overdue hazard is listed first, by its category's name (not its id).
        newest = panel.locator('[data-section="hazards"] li[data-hazard-id]').first
        page.wait_for_function("""() => document.querySelector('#panel li[data-hazard-id]')
            .textContent.includes('安全出口')""")
        assert "fire_exit_blocked" not in newest.inner_text()
        assert "运河街道" in panel.locator("nav.crumbs").inner_text()

        # Search an enterprise of another township by name: the map flies to it.
        page.fill("#search", target["name"])
        page.locator(f'#search-results li[data-uscc="{target["uscc"]}"]').click()
        popup = page.locator(".leaflet-popup-content")
        popup.wait_for()
        assert target["name"] in popup.inner_text()
        assert target["uscc"] in popup.inner_text()
        page.wait_for_selector(f'#map[data-focus-uscc="{target["uscc"]}"]')
        page.wait_for_selector(f'#panel[data-grid-code="{target["grid_code"]}"]')
        zoom, lat, lon = _map_view(page)
        assert zoom == pytest.approx(16, abs=0.01)
        assert lat == pytest.approx(target["lat"], abs=1e-4)
        assert lon == pytest.approx(target["lon"], abs=1e-4)

        _settle(page)
        page.screenshot(path=str(ARTIFACTS_DIR / "dashboard-admin-search-1920x1080.png"))

        # English, then back.
        page.click("#lang-toggle")
        assert page.locator("h1").inner_text() == "Work-Safety Grid Supervision"
        assert "First responsible" in panel.inner_text()
        assert "Enterprises" in page.locator('[data-kpi="enterprises"]').inner_text()
        page.click("#lang-toggle")
        assert page.locator("h1").inner_text() == "安全生产网格化监管"

        # The same screen on a laptop: map and panel side by side, nothing off-screen.
        page.set_viewport_size(LAPTOP)
        _settle(page)
        map_box = page.locator("#map").bounding_box()
        panel_box = panel.bounding_box()
        assert map_box["width"] > 2 * panel_box["width"]
        assert panel_box["x"] + panel_box["width"] <= LAPTOP["width"] + 1
        assert page.locator("#search").is_visible()
        page.screenshot(path=str(ARTIFACTS_DIR / "dashboard-admin-1366x768.png"))

        assert not errors, errors
        assert not guard.offsite, f"requests left the server: {guard.offsite}"
    finally:
        context.close()


def test_township_leader_sees_only_their_township(browser, live_server, demo_users):
    ARTIFACTS_DIR.mkdir(exist_ok=True)
    meta = _metadata()
    guanhu = _township(GUANHU)
    others = [t for t in meta["townships"] if t["code"] != GUANHU]
    with _api(live_server, demo_users["admin"]) as client:
        elsewhere = _an_enterprise(client, YUNHE)

    context, page, guard, errors = _open_dashboard(browser, live_server, LAPTOP, demo_users["guanhu_leader"])
    try:
        panel = page.locator("#panel")
        assert panel.locator("h2").inner_text() == "官湖镇"
        villages = page.locator('path[data-level="village"]')
        assert villages.count() == guanhu["villages"]
        drawn = page.locator("[data-grid-code]").evaluate_all("els => els.map(e => e.dataset.gridCode)")
        assert drawn and all(code.startswith(GUANHU) for code in drawn), drawn
        assert page.locator('[data-level="township"]').evaluate_all(
            "els => els.map(e => e.dataset.gridCode)") == [GUANHU]
        map_text = page.locator("#map").inner_text()
        assert not [t["name"] for t in others if t["name"] in map_text]
        assert _person(GUANHU, "first_responsible") in panel.locator('dd[data-role="first_responsible"]').inner_text()
        page.wait_for_selector('[data-kpi="enterprises"][data-value]:not([data-value=""])')
        assert int(page.locator('[data-kpi="enterprises"]').get_attribute("data-value")) == guanhu["enterprises"]

        # Layers bring nothing from elsewhere either.
        _toggle(page, "enterprises", True)
        assert _wait_layer(page, "enterprises") > 0
        _toggle(page, "grids", False)
        _toggle(page, "grids", True)
        drawn = page.locator("[data-grid-code]").evaluate_all("els => els.map(e => e.dataset.gridCode)")
        assert all(code.startswith(GUANHU) for code in drawn)

        # An enterprise of 运河街道 cannot be found.
        page.fill("#search", elsewhere["name"])
        page.locator("#search-results li.note").wait_for()
        assert page.locator("#search-results li[data-uscc]").count() == 0
        assert "没有找到匹配的企业" in page.locator("#search-results").inner_text()

        page.screenshot(path=str(ARTIFACTS_DIR / "dashboard-township-leader-1366x768.png"))
        assert not errors, errors
        assert not guard.offsite, f"requests left the server: {guard.offsite}"
    finally:
        context.close()
