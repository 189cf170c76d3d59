"""The command-centre dashboard in headless Chromium, on the Pizhou sample.

Three scenarios, as a person would use the dashboard:

* the command centre logs in, sees the district, toggles layers (the coverage layer with a
  gap planted in the test's copy of the sample), drills into 运河街道 and one of its
  villages, reads the side panel (responsible persons by role, enterprise counts, open and
  overdue hazards, coverage problems consistent with the score's deductions) and the KPI
  strip (which follows the selection), searches an enterprise by USCC and another by name
  and lands on each, switches to English and opens the assessment table in English;
* the same dashboard on a 1280×720 and a 1366×768 laptop and a 1920×1080 wall screen, in
  both languages, with every layer on: every layer checkbox can be clicked (hit test),
  the legend never covers the switcher, no KPI label is cut off, no two grid names
  overlap, and an enterprise's popup opens clear of the controls;
* the township leader of 官湖镇 logs in and finds nothing of any other township: not on
  the map (grids and enterprise points), not in the search.

Expected figures come from the sample's own files (``metadata.json``, ``persons.csv``),
not from the API under test. Every request the page makes must stay on the live server
(the dashboard works with no internet) and succeed: a console error, a failed request or
an HTTP error answer fails the test. Screenshots go to ``artifacts/``.
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
from sqlalchemy import create_engine, text
from sqlalchemy.pool import NullPool

from tests.live_server import ARTIFACTS_DIR, GUANHU, PIZHOU_DIR, YUNHE

pytestmark = pytest.mark.browser

WALL = {"width": 1920, "height": 1080}
LAPTOP = {"width": 1366, "height": 768}
SMALL_LAPTOP = {"width": 1280, "height": 720}
TIMEOUT_MS = 15_000
LAYERS = ("grids", "coverage", "enterprises", "hazards", "density")


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


def _plant_gap(database_url: str, village: str) -> None:
    """Shrink a village to 90 % around its centre in the test's own copy of the sample:
    its township gets one gap (the ring left uncovered) that the coverage layer draws."""
    engine = create_engine(database_url, poolclass=NullPool)
    try:
        with engine.begin() as conn:
            conn.execute(text("""
                UPDATE grid SET geom = ST_Multi(ST_Translate(ST_Scale(ST_Translate(geom,
                    -ST_X(ST_Centroid(geom)), -ST_Y(ST_Centroid(geom))), 0.9, 0.9),
                    ST_X(ST_Centroid(geom)), ST_Y(ST_Centroid(geom))))
                WHERE code = :code AND set_id = (SELECT id FROM boundary_set WHERE status = 'active')
            """), {"code": village})
    finally:
        engine.dispose()


class PageWatch:
    """What went wrong on a page: requests that left the live server, failed requests, HTTP
    error answers, console errors and uncaught exceptions. ``problems()`` must stay empty.

    Requests the dashboard cancels on purpose (a layer's stale bbox request when the map
    moves on, a search overtaken by the next keystroke) fail with ``net::ERR_ABORTED``;
    those are not problems.
    """

    CANCELLED_ON_PURPOSE = ("/api/v1/layers/", "/api/v1/enterprises?q=", "/tiles/")

    def __init__(self, base_url: str) -> None:
        self.host = urlparse(base_url).netloc
        self.offsite: list[str] = []
        self.failed: list[str] = []
        self.http_errors: list[str] = []
        self.console: list[str] = []
        self.exceptions: list[str] = []

    def attach(self, context, page) -> None:
        context.on("request", self._request)
        page.on("requestfailed", self._failed)
        page.on("response", self._response)
        page.on("console", lambda message: message.type == "error" and self.console.append(message.text))
        page.on("pageerror", lambda error: self.exceptions.append(str(error)))

    def _request(self, request) -> None:
        url = urlparse(request.url)
        if url.scheme in ("data", "blob", "about"):
            return
        if url.netloc != self.host or url.hostname not in ("127.0.0.1", "localhost"):
            self.offsite.append(request.url)

    def _failed(self, request) -> None:
        path = request.url.removeprefix(f"http://{self.host}")
        if request.failure == "net::ERR_ABORTED" and path.startswith(self.CANCELLED_ON_PURPOSE):
            return
        self.failed.append(f"{request.url}: {request.failure}")

    def _response(self, response) -> None:
        if response.status >= 400:
            self.http_errors.append(f"{response.status} {response.url}")

    def problems(self) -> dict[str, list[str]]:
        found = {"requests that left the server": self.offsite, "failed requests": self.failed,
                 "HTTP errors": self.http_errors, "console errors": self.console,
                 "uncaught exceptions": self.exceptions}
        return {what: items for what, items in found.items() if items}


def _open_dashboard(browser, base_url: str, viewport: dict, account: dict):
    context = browser.new_context(viewport=viewport, locale="zh-CN")
    page = context.new_page()
    watch = PageWatch(base_url)
    watch.attach(context, page)
    page.set_default_timeout(TIMEOUT_MS)
    page.goto(base_url + "/")
    login = page.locator("dialog#login")
    login.wait_for(state="visible")
    page.fill("#login-username", account["username"])
    page.fill("#login-password", account["password"])
    page.click("#login-submit")
    page.wait_for_selector('body[data-ready="true"]')
    assert not login.is_visible()
    return context, page, watch


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


def _search(page, text: str, enterprise: dict) -> None:
    """Type into the search box, pick the enterprise, and wait until the map has flown to it
    with its popup open and its village in the panel."""
    page.fill("#search", text)
    page.locator(f'#search-results li[data-uscc="{enterprise["uscc"]}"]').click()
    page.wait_for_selector(f'#map[data-focus-uscc="{enterprise["uscc"]}"]')
    page.wait_for_function("""uscc => [...document.querySelectorAll('.leaflet-popup-content')]
        .some((popup) => popup.textContent.includes(uscc))""", arg=enterprise["uscc"])
    popup = page.locator(".leaflet-popup-content")
    assert popup.count() == 1 and enterprise["name"] in popup.inner_text()
    page.wait_for_selector(f'#panel[data-grid-code="{enterprise["grid_code"]}"]')
    zoom, lat, lon = _map_view(page)
    assert zoom == pytest.approx(16, abs=0.01)
    assert lat == pytest.approx(enterprise["lat"], abs=1e-4)
    assert lon == pytest.approx(enterprise["lon"], abs=1e-4)


def _unclickable_controls(page) -> list[str]:
    """Layer checkboxes (and the density metric menu) that a click at their centre would
    not reach because something lies on top of them."""
    return page.evaluate("""() => [...document.querySelectorAll(
            '#layer-switcher input[type=checkbox], #layer-switcher select')].filter((control) => {
        const r = control.getBoundingClientRect();
        const hit = document.elementFromPoint(r.x + r.width / 2, r.y + r.height / 2);
        return !(hit === control || (hit && control.closest('label')?.contains(hit)));
    }).map((control) => control.name || control.tagName)""")


def _boxes_overlap(a: dict | None, b: dict | None) -> bool:
    return bool(a and b) and (a["x"] < b["x"] + b["width"] and b["x"] < a["x"] + a["width"]
                              and a["y"] < b["y"] + b["height"] and b["y"] < a["y"] + a["height"])


def _cut_off_kpi_text(page) -> list[str]:
    """KPI labels and details whose text does not fit their box (ellipsis or clipping)."""
    return page.evaluate("""() => [...document.querySelectorAll('.kpi .label, .kpi .detail, .kpi-scope b')]
        .filter((e) => e.scrollWidth > e.clientWidth + 1 || e.scrollHeight > e.clientHeight + 1
                     || e.getBoundingClientRect().right > e.closest('.kpi, .kpi-scope').getBoundingClientRect().right + 1)
        .map((e) => e.textContent)""")


def _overlapping_labels(page) -> list[str]:
    """Pairs of grid names that are both visible on the map and overlap."""
    return page.evaluate("""() => {
        const map = document.querySelector('#map').getBoundingClientRect();
        const shown = [...document.querySelectorAll('.grid-label')]
            .filter((e) => getComputedStyle(e).visibility === 'visible')
            .map((e) => [e.textContent, e.getBoundingClientRect()])
            .filter(([, r]) => r.right > map.left && r.left < map.right && r.bottom > map.top && r.top < map.bottom);
        const pairs = [];
        shown.forEach(([a, r], i) => shown.slice(i + 1).forEach(([b, q]) => {
            if (r.left < q.right - 1 && q.left < r.right - 1 && r.top < q.bottom - 1 && q.top < r.bottom - 1) pairs.push(`${a} × ${b}`);
        }));
        return pairs;
    }""")


def _popup_covered_at(page) -> list[str]:
    """Points of the open popup (corners, centre) where something else is on top of it."""
    return page.evaluate("""() => {
        const popup = document.querySelector('.leaflet-popup-content-wrapper');
        const r = popup.getBoundingClientRect();
        const points = {centre: [r.x + r.width / 2, r.y + r.height / 2], 'top left': [r.left + 4, r.top + 4],
                        'top right': [r.right - 4, r.top + 4], 'bottom left': [r.left + 4, r.bottom - 4],
                        'bottom right': [r.right - 4, r.bottom - 4]};
        return Object.entries(points).filter(([, [x, y]]) => {
            const hit = document.elementFromPoint(x, y);
            return !(hit && hit.closest('.leaflet-popup'));
        }).map(([name]) => name);
    }""")


def _open_leftmost_enterprise(page) -> str:
    """Click the enterprise point nearest the controls column that a click can reach; returns
    its USCC once its popup is open and the map has panned."""
    uscc = page.evaluate("""() => {
        const reachable = [...document.querySelectorAll('path[data-overlay="enterprises"][data-uscc]')]
            .map((p) => [p, p.getBoundingClientRect()])
            .filter(([p, r]) => r.width > 0 && document.elementFromPoint(r.x + r.width / 2, r.y + r.height / 2) === p)
            .sort((a, b) => a[1].x - b[1].x);
        return reachable.length ? reachable[0][0].dataset.uscc : null;
    }""")
    assert uscc, "no enterprise point on screen"
    box = page.locator(f'path[data-overlay="enterprises"][data-uscc="{uscc}"]').bounding_box()
    page.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    page.locator(".leaflet-popup-content").wait_for()
    page.wait_for_function("uscc => document.querySelector('.leaflet-popup-content').textContent.includes(uscc)",
                           arg=uscc)
    _settle(page)
    page.wait_for_timeout(400)  # the pan that brings the popup into view
    return uscc


def test_command_centre_drills_down_and_finds_an_enterprise(browser, live_server, pizhou_database, demo_users):
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
        by_uscc = client.get("/api/v1/enterprises", params={"grid": "320382106", "placement": "exact",
                                                            "limit": 1}).json()["data"][0]
        gap_village = client.get("/api/v1/grids", params={"parent": GUANHU, "limit": 1}).json()["data"][0]["code"]
    _plant_gap(pizhou_database, gap_village)

    context, page, watch = _open_dashboard(browser, live_server, WALL, demo_users["admin"])
    try:
        # The district: every township drawn and named, the figures the centre acts on.
        assert page.locator("h1").inner_text() == "安全生产网格化监管"
        townships = page.locator('path[data-role="child"][data-level="township"]')
        assert townships.count() == len(meta["townships"])
        assert page.locator('.grid-label[data-grid-code="320382002"]').inner_text() == "运河街道"
        kpi = page.locator('[data-kpi="enterprises"]')
        page.wait_for_selector('[data-kpi="enterprises"][data-value]:not([data-value=""])')
        assert page.locator("#kpis").get_attribute("data-kpi-code") == "320382"
        assert "邳州市" in page.locator(".kpi-scope").inner_text()
        assert int(kpi.get_attribute("data-value")) == meta["files"]["enterprises.csv"]["rows"]
        page.wait_for_selector(f'[data-kpi="overdue"][data-value="{overdue_before + 1}"]')
        assert "逾期隐患" in page.locator('[data-kpi="overdue"]').inner_text()
        assert f"未闭环隐患 {open_in_sample + 2:,}" in page.locator('[data-kpi="overdue"]').inner_text()
        assert page.locator('[data-kpi="gaps"]').get_attribute("data-value") == "1"
        assert page.locator("#stats-link").get_attribute("href") == "stats.html?code=320382"
        start_zoom, _, _ = _map_view(page)

        # Layers: each toggle changes what is drawn.
        gaps = page.locator('path[data-coverage-kind="gap"]')
        assert _wait_layer(page, "coverage") == 1 and gaps.count() == 1
        assert gaps.get_attribute("data-parent-code") == GUANHU
        assert page.locator('#legend [data-legend="coverage"]').is_visible()
        _toggle(page, "coverage", False)
        assert gaps.count() == 0 and page.locator('#legend [data-legend="coverage"]').count() == 0
        _toggle(page, "coverage", True)
        assert _wait_layer(page, "coverage") == 1 and gaps.count() == 1

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
        # what is there, and the KPI strip now counts 运河街道.
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
        page.wait_for_selector(f'#kpis[data-kpi-code="{YUNHE}"] [data-kpi="enterprises"][data-value="{yunhe["enterprises"]}"]')
        page.wait_for_selector(f'[data-kpi="overdue"][data-value="{yunhe_before["overdue"] + 1}"]')
        assert "运河街道" in page.locator(".kpi-scope").inner_text()
        page.wait_for_selector('#panel [data-section="coverage"] ul, #panel [data-section="coverage"] .muted')
        stats = page.locator('#panel [data-section="stats"]')
        stats.wait_for()
        assert "整改率" in stats.inner_text()
        page.screenshot(path=str(ARTIFACTS_DIR / "dashboard-admin-1920x1080.png"))

        # …and into the village where the hazards are. Its coverage section explains every
        # deduction of its score and never calls a grid with deductions problem-free.
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
        coverage = panel.locator('[data-section="coverage"]')
        coverage.locator("ul, .muted").first.wait_for()
        deducted = coverage.locator("[data-penalties]")
        if deducted.count():
            assert "未发现覆盖问题" not in coverage.inner_text()
            for penalty in deducted.get_attribute("data-penalties").split():
                explained = {"coverage": "gaps,overlaps,outside", "first_responsible": "no_first_responsible",
                             "staffing": "villages_understaffed,townships_understaffed",
                             "enterprises": "enterprises", "stale": "stale"}[penalty]
                assert any(coverage.locator(f'li.bad[data-problem="{kind}"]').count()
                           for kind in explained.split(",")), penalty
        page.wait_for_selector(f'#kpis[data-kpi-code="{village}"]')

        # Search an enterprise by its USCC, then another by name: the map flies to each.
        _search(page, by_uscc["uscc"], by_uscc)
        _search(page, target["name"], target)
        assert not _popup_covered_at(page)
        _settle(page)
        page.screenshot(path=str(ARTIFACTS_DIR / "dashboard-admin-search-1920x1080.png"))

        # English, and the assessment table follows the dashboard's language.
        page.click("#lang-toggle")
        assert page.locator("h1").inner_text() == "Work-Safety Grid Supervision"
        assert "First responsible" in panel.inner_text()
        assert "Enterprises" in page.locator('[data-kpi="enterprises"]').inner_text()
        page.click("#stats-link")
        page.wait_for_selector("table caption")
        assert page.locator("caption").first.inner_text() == "Township ranking"
        page.goto(live_server + "/stats.html")  # no ?lang=: the choice made on the dashboard
        page.wait_for_selector("table caption")
        assert page.locator("caption").first.inner_text() == "Township ranking"
        page.click("#lang")  # back to Chinese here: the dashboard follows
        page.wait_for_selector("table caption")
        assert page.locator("caption").first.inner_text() == "街镇排名"
        page.goto(live_server + "/")
        page.wait_for_selector('body[data-ready="true"]')
        assert page.locator("h1").inner_text() == "安全生产网格化监管"

        assert not watch.problems(), watch.problems()
    finally:
        context.close()


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_controls_stay_usable_on_laptops_and_the_wall_screen(browser, live_server, demo_users, lang):
    """With every layer on, at 1280×720, 1366×768 and 1920×1080: the legend never covers the
    layer switcher (each checkbox answers a click), no KPI text is cut off, no two grid
    names overlap in 运河街道's dense villages, and an enterprise's popup opens clear of the
    controls column."""
    ARTIFACTS_DIR.mkdir(exist_ok=True)
    context, page, watch = _open_dashboard(browser, live_server, SMALL_LAPTOP, demo_users["admin"])
    try:
        if lang == "en":
            page.click("#lang-toggle")
            assert page.locator("h1").inner_text() == "Work-Safety Grid Supervision"
        page.wait_for_selector('[data-kpi="gaps"][data-value]:not([data-value=""])')
        for key in LAYERS:
            _toggle(page, key, True)
            _wait_layer(page, key)
        for viewport in (SMALL_LAPTOP, LAPTOP, WALL):
            size = f"{viewport['width']}x{viewport['height']}"
            page.set_viewport_size(viewport)
            # Back to the district, then into 运河街道, so the map fits this screen.
            page.locator("#panel nav.crumbs button, #panel nav.crumbs span").first.click()
            page.wait_for_selector('#panel[data-grid-code="320382"]')
            page.locator(f'#panel [data-child-code="{YUNHE}"]').click()
            page.wait_for_selector(f'#panel[data-grid-code="{YUNHE}"]')
            page.locator('path[data-level="village"]').first.wait_for()
            for key in LAYERS:
                _wait_layer(page, key)
            _settle(page)

            assert not _unclickable_controls(page), (size, _unclickable_controls(page))
            switcher = page.locator("#layer-switcher").bounding_box()
            legend = page.locator("#legend").bounding_box()
            assert not _boxes_overlap(switcher, legend), (size, switcher, legend)
            map_box = page.locator("#map").bounding_box()
            assert legend["y"] + legend["height"] <= map_box["y"] + map_box["height"] + 1, size
            assert not _cut_off_kpi_text(page), (size, _cut_off_kpi_text(page))
            assert not _overlapping_labels(page), (size, _overlapping_labels(page))
            # Map and panel side by side, nothing off-screen.
            panel_box = page.locator("#panel").bounding_box()
            assert map_box["width"] > 2 * panel_box["width"], size
            assert panel_box["x"] + panel_box["width"] <= viewport["width"] + 1, size
            assert page.locator("#search").is_visible()
            page.screenshot(path=str(ARTIFACTS_DIR / f"dashboard-layers-{lang}-{size}.png"))

            # The legend folds to its title and back.
            page.click("#legend .legend-toggle")
            assert not page.locator('#legend [data-legend="density"]').is_visible()
            page.click("#legend .legend-toggle")
            assert page.locator('#legend [data-legend="density"]').is_visible()

            _open_leftmost_enterprise(page)
            assert not _popup_covered_at(page), (size, _popup_covered_at(page))
            page.screenshot(path=str(ARTIFACTS_DIR / f"dashboard-popup-{lang}-{size}.png"))
            page.locator(".leaflet-popup-close-button").click()
            page.locator(".leaflet-popup").wait_for(state="detached")
        assert not watch.problems(), watch.problems()
    finally:
        context.close()


def test_township_leader_sees_only_their_township(browser, live_server, demo_users):
    ARTIFACTS_DIR.mkdir(exist_ok=True)
    meta = _metadata()
    guanhu = _township(GUANHU)
    others = [t for t in meta["townships"] if t["code"] != GUANHU]
    with _api(live_server, demo_users["admin"]) as client:
        elsewhere = _an_enterprise(client, YUNHE)

    context, page, watch = _open_dashboard(browser, live_server, LAPTOP, demo_users["guanhu_leader"])
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

        # Layers bring nothing from elsewhere either: zoomed into a village, every
        # enterprise point drawn belongs to 官湖镇.
        _toggle(page, "enterprises", True)
        assert _wait_layer(page, "enterprises") > 0
        first_village = villages.first.get_attribute("data-grid-code")
        _click_label(page, first_village)
        page.wait_for_selector(f'#panel[data-grid-code="{first_village}"]')
        page.wait_for_function("() => parseFloat(document.querySelector('#map').dataset.zoom) >= 12")
        _wait_layer(page, "enterprises")
        page.wait_for_selector('path[data-overlay="enterprises"][data-uscc]')
        homes = page.locator('path[data-overlay="enterprises"][data-uscc]').evaluate_all(
            "els => els.map(e => e.dataset.enterpriseGrid)")
        assert homes and all(code.startswith(GUANHU) for code in homes), homes
        _toggle(page, "grids", False)
        _toggle(page, "grids", True)
        drawn = page.locator("[data-grid-code]").evaluate_all("els => els.map(e => e.dataset.gridCode)")
        assert all(code.startswith(GUANHU) for code in drawn)

        # An enterprise of 运河街道 cannot be found, by name or by USCC.
        for text in (elsewhere["name"], elsewhere["uscc"]):
            page.fill("#search", text)
            page.locator("#search-results li.note").wait_for()
            assert page.locator("#search-results li[data-uscc]").count() == 0
            assert "没有找到匹配的企业" in page.locator("#search-results").inner_text()
            page.fill("#search", "")

        page.screenshot(path=str(ARTIFACTS_DIR / "dashboard-township-leader-1366x768.png"))
        assert not watch.problems(), watch.problems()
    finally:
        context.close()
