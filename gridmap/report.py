"""``gridmap report township CODE -o FILE.html``: the page a township leader prints or sends.

A single self-contained HTML file: a folium (Leaflet) map of the township's grids
coloured by coverage status, its enterprises (coloured by placement), its open hazards
and its coverage problems, plus summary tables (staffing by village, enterprises by
sector and placement, problems to fix). Leaflet's JavaScript and CSS are inlined from
the copy vendored in ``web/vendor`` and folium's CDN defaults are removed, so the file
opens offline (a government intranet, an e-mail attachment); no basemap is used — the
grid boundaries are the map. Statuses use the dashboard's words
(:data:`gridmap.coverage.STATUS_NAMES`), staffing failures say what is missing
(:func:`gridmap.coverage.describe_failure`), sectors are named by the deployment's
taxonomy, and the scale bar is metric only.
"""

from __future__ import annotations

import base64
import html
import json
import re
from datetime import datetime
from pathlib import Path
from typing import ClassVar

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from gridmap.auth import Scope
from gridmap.boundaries import require_active_set
from gridmap.codes import level_of_code
from gridmap.coverage import STATUS_NAMES, coverage_report, describe_failure
from gridmap.errors import InvalidInput, NotFound
from gridmap.models import ROLE_NAMES_ZH, Grid
from gridmap.queries.grids import persons_by_role
from gridmap.settings import CoverageSettings
from gridmap.taxonomy import Taxonomy, load_sectors

VENDOR = Path(__file__).resolve().parents[1] / "web" / "vendor" / "leaflet"
STATUS_COLOURS = {"ok": "#2e7d32", "warning": "#f9a825", "problem": "#c62828", "unknown": "#78909c"}
PLACEMENT_COLOURS = {"exact": "#1565c0", "address": "#6a1b9a", "snapped": "#ef6c00", "conflict": "#d81b60",
                     "ambiguous": "#8d6e63", "unplaced": "#212121"}
PLACEMENT_ZH = {"exact": "坐标落格", "address": "地址落格", "snapped": "就近吸附", "conflict": "地址与坐标不符",
                "ambiguous": "地址多义", "unplaced": "未落格"}
STATUS_ZH = {status: names[0] for status, names in STATUS_NAMES.items()}
#: Coverage problems as the dashboard's legend names them: (word, what it means).
PROBLEM_ZH = {"gaps": ("缺口", "未被下级网格覆盖"), "overlaps": ("重叠", "两个网格重复划定"),
              "outside_parent": ("越界", "超出上级网格")}


def _leaflet_assets() -> tuple[str, str]:
    """Leaflet's JS and CSS, the CSS with its images inlined as data URIs."""
    try:
        js = (VENDOR / "leaflet.js").read_text(encoding="utf-8")
        css = (VENDOR / "leaflet.css").read_text(encoding="utf-8")
    except OSError:
        raise NotFound("缺少随附的 Leaflet（web/vendor/leaflet）", "the vendored Leaflet (web/vendor/leaflet) is missing") from None

    def inline(match: re.Match) -> str:
        image = VENDOR / match.group(1)
        if not image.exists():
            return "none"
        return "url(data:image/png;base64," + base64.b64encode(image.read_bytes()).decode() + ")"

    css = re.sub(r"url\((images/[\w\-.]+\.png)\)", inline, css)
    return js, css


def _offline_map(bounds):
    import folium
    from branca.element import MacroElement
    from jinja2 import Template

    class OfflineMap(folium.Map):
        # No CDN: Leaflet is inlined below; folium's jQuery/Bootstrap/awesome-markers are
        # not needed for polygons, circle markers, tooltips and popups.
        default_js: ClassVar[list] = []
        default_css: ClassVar[list] = []

    class MetricScale(MacroElement):
        # folium's control_scale shows miles and feet too; a Chinese report is metric.
        _template = Template("""{% macro script(this, kwargs) %}
            L.control.scale({imperial: false, metric: true}).addTo({{ this._parent.get_name() }});
        {% endmacro %}""")

    fmap = OfflineMap(location=[(bounds[1] + bounds[3]) / 2, (bounds[0] + bounds[2]) / 2], zoom_start=12,
                      tiles=None, control_scale=False, prefer_canvas=False)
    MetricScale().add_to(fmap)
    js, css = _leaflet_assets()
    fmap.get_root().header.add_child(folium.Element(f"<style>{css}</style>"), name="leaflet_css")
    fmap.get_root().header.add_child(folium.Element(f"<script>{js}</script>"), name="leaflet_js")
    # folium builds popup content with jQuery's $(html)[0]; this is all of jQuery it needs.
    fmap.get_root().header.add_child(folium.Element(
        "<script>window.$ = window.$ || function (markup) { var t = document.createElement('template');"
        " t.innerHTML = String(markup).trim(); return [t.content.firstChild]; };</script>"), name="dollar_shim")
    fmap.fit_bounds([[bounds[1], bounds[0]], [bounds[3], bounds[2]]])
    return fmap


def _table(headers: list[str], rows: list[list], cls: str = "") -> str:
    head = "".join(f"<th>{html.escape(str(h))}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in row) + "</tr>" for row in rows)
    return f'<table class="{cls}"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


def _coverage_rows(report: dict, names: dict[str, str]) -> list[list[str]]:
    """One row per gap, overlap or outside piece: kind, the grids concerned (both codes of
    an overlap; the parent of a gap; the child sticking out), the parent, area in m²."""
    def named(code: str) -> str:
        return f"{code} {names[code]}" if code in names else code

    rows = []
    for key in ("gaps", "overlaps", "outside_parent"):
        for feature in report[key]["features"]:
            props = feature["properties"]
            codes = props.get("codes") or [props.get("code") or props["parent_code"]]
            rows.append(["{}（{}）".format(*PROBLEM_ZH[key]), " × ".join(named(c) for c in codes), named(props["parent_code"]),
                         f"{props['area_m2']:,.1f}"])
    return rows


def township_report(session: Session, code: str, *, scope: Scope | None = None,
                    settings: CoverageSettings | None = None, sectors: Taxonomy | None = None,
                    now: datetime | None = None) -> str:
    """The HTML of a township's report (see the module docstring).

    ``sectors``: the deployment's sector taxonomy (``settings.taxonomy.sectors_file``);
    the built-in one when None.
    """
    import folium

    scope = scope or Scope.everything()
    if level_of_code(code) not in ("township", "direct"):
        raise InvalidInput(f"{code} 不是街道/镇编码", f"{code} is not a township code")
    scope.require(code, "网格", "grid")
    boundary_set = require_active_set(session)
    township = session.scalar(select(Grid).where(Grid.set_id == boundary_set.id, Grid.code == code))
    if township is None:
        raise NotFound(f"网格 {code} 不存在", f"grid {code} not found")
    report = coverage_report(session, code, set_id=boundary_set.id, scope=scope, settings=settings, now=now)
    status_by_code = {g["code"]: g for g in report["grids"]}
    grids = session.execute(text(
        "SELECT code, name, level, population, ST_AsGeoJSON(geom, 6, 0) FROM grid"
        " WHERE set_id = :s AND code LIKE :p ORDER BY code"), {"s": boundary_set.id, "p": code + "%"}).all()
    bounds = session.execute(text("SELECT ST_XMin(geom), ST_YMin(geom), ST_XMax(geom), ST_YMax(geom) FROM grid"
                                  " WHERE set_id = :s AND code = :c"), {"s": boundary_set.id, "c": code}).one()
    people = persons_by_role(session=session, codes=[g[0] for g in grids])
    fmap = _offline_map(bounds)

    layer = folium.FeatureGroup(name="网格（按覆盖状态着色）", show=True)
    for grid_code, name, level, population, geometry in grids:
        info = status_by_code.get(grid_code, {"score": None, "status": "unknown"})
        roles = people.get(grid_code, {})
        lines = [f"<b>{html.escape(name)}</b>（{grid_code}）", f"评分 {info['score']}（{STATUS_ZH[info['status']]}）",
                 f"人口 {population or '—'}"]
        for role in ("first_responsible", "lead_official", "grid_manager", "patrol_officer", "safety_officer"):
            if roles.get(role):
                lines.append(f"{ROLE_NAMES_ZH[role]}：" + "、".join(
                    f"{html.escape(p['name'])} {p['phone'] or ''}" for p in roles[role]))
        colour = STATUS_COLOURS[info["status"]]
        folium.GeoJson(
            json.loads(geometry), name=grid_code,
            style_function=(lambda _f, c=colour, lv=level: {
                "color": "#263238" if lv == "township" else "#455a64", "weight": 3 if lv == "township" else 1,
                "fillColor": c, "fillOpacity": 0.05 if lv == "township" else 0.3}),
            tooltip=folium.Tooltip(f"{name}（{STATUS_ZH[info['status']]}）"),
            popup=folium.Popup("<br>".join(lines), max_width=360),
        ).add_to(layer)
    layer.add_to(fmap)

    problems = folium.FeatureGroup(name="覆盖问题（缺口/重叠/越界）", show=True)
    for key, (word, _meaning) in PROBLEM_ZH.items():
        for feature in report[key]["features"]:
            props = feature["properties"]
            folium.GeoJson(feature["geometry"], style_function=lambda _f: {"color": "#b71c1c", "weight": 2,
                                                                          "fillColor": "#e53935", "fillOpacity": 0.6},
                           tooltip=f"{word} {props['area_m2']:,.0f} m²").add_to(problems)
    problems.add_to(fmap)

    enterprises = session.execute(text(
        "SELECT uscc, name, sector, risk_level, placement, ST_X(location), ST_Y(location) FROM enterprise"
        " WHERE home_code LIKE :p ORDER BY uscc"), {"p": code + "%"}).all()
    sectors = sectors or load_sectors()
    points = folium.FeatureGroup(name="企业（按落格结果着色）", show=True)
    for uscc, name, sector, risk, placement, lon, lat in enterprises:
        if lon is None:
            continue
        folium.CircleMarker([lat, lon], radius=4, color=PLACEMENT_COLOURS[placement], fill=True, fill_opacity=0.9,
                            weight=1, tooltip=f"{name}（{sectors.label(sector)}，{PLACEMENT_ZH[placement]}）",
                            popup=folium.Popup(f"{html.escape(name)}<br>{uscc}", max_width=300)).add_to(points)
    points.add_to(fmap)

    hazards = session.execute(text(
        "SELECT id, grade, status, description, ST_X(location), ST_Y(location), deadline < now() FROM hazard"
        " WHERE home_code LIKE :p AND status IN ('reported','filed','dispatched','rectifying','verifying')"
        " ORDER BY id"), {"p": code + "%"}).all()
    open_layer = folium.FeatureGroup(name="未结案隐患", show=True)
    for hazard_id, grade, status, description, lon, lat, overdue in hazards:
        if lon is None:
            continue
        colour = "#b71c1c" if overdue else "#e65100"
        icon = folium.DivIcon(html=f'<div style="color:{colour};font-size:18px;line-height:18px">▲</div>',
                              icon_size=(18, 18), icon_anchor=(9, 9))
        folium.Marker([lat, lon], icon=icon,
                      tooltip=f"隐患 #{hazard_id}（{'重大' if grade == 'major' else '一般'}"
                              f"{'，已逾期' if overdue else ''}）：{description[:30]}").add_to(open_layer)
    open_layer.add_to(fmap)
    folium.LayerControl(collapsed=False).add_to(fmap)

    by_placement = report["enterprises"]["by_placement"]
    sector_counts: dict[str, int] = {}
    for row in enterprises:
        sector_counts[sectors.label(row[2])] = sector_counts.get(sectors.label(row[2]), 0) + 1
    village_rows = []
    for grid_code, name, level, population, _ in grids:
        if level == "township":
            continue
        roles = people.get(grid_code, {})
        first = "、".join(p["name"] for p in roles.get("first_responsible", [])) or "（缺）"
        info = status_by_code.get(grid_code, {"score": "", "status": "unknown"})
        village_rows.append([grid_code, name, population or "", first, len(roles.get("patrol_officer", [])),
                             info["score"], STATUS_ZH[info["status"]]])
    understaffed = [[t["code"], t["name"], describe_failure(f)]
                    for t in report["townships_understaffed"] for f in t["failures"]]
    coverage_rows = _coverage_rows(report, {grid[0]: grid[1] for grid in grids})
    short = [[v["code"], v["name"], v["patrol_officers"], v["required"]] for v in report["villages_understaffed"]]
    problem_rows = [[e["uscc"], e["name"], PLACEMENT_ZH[kind]] for kind in ("unplaced", "conflict", "ambiguous", "snapped")
                    for e in report["enterprises"][kind]]
    overdue = sum(1 for h in hazards if h[6])
    generated = (now or datetime.now()).strftime("%Y-%m-%d %H:%M")
    synthetic = session.scalar(select(Grid.synthetic).where(Grid.set_id == boundary_set.id, Grid.code == code))
    summary = f"""
    <div class="report">
      <h1>{html.escape(township.name)} 安全生产网格化监管报告</h1>
      <p class="meta">网格编码 {code} · 边界版本 {boundary_set.id} · 生成于 {generated}
         {'· 示例数据：网格边界为合成数据' if synthetic else ''}</p>
      <div class="kpis">
        <div><b>{report['score']}</b><span>覆盖评分（{STATUS_ZH[report['status']]}）</span></div>
        <div><b>{len(village_rows)}</b><span>村/社区网格</span></div>
        <div><b>{township.population or '—'}</b><span>人口</span></div>
        <div><b>{report['enterprises']['total']}</b><span>企业</span></div>
        <div><b>{by_placement.get('unplaced', 0) + by_placement.get('conflict', 0) + by_placement.get('ambiguous', 0)}</b><span>待核实企业</span></div>
        <div><b>{len(hazards)}</b><span>未结案隐患（逾期 {overdue}）</span></div>
        <div><b>{report['gaps']['count'] + report['overlaps']['count'] + report['outside_parent']['count']}</b><span>覆盖问题</span></div>
      </div>
      <h2>需要处理的问题</h2>
      {_table(['类型', '涉及网格', '所在上级网格', '面积（m²）'], coverage_rows, 'warn coverage') if coverage_rows
       else '<p>网格边界无缺口、重叠或越界。</p>'}
      {_table(['编码', '名称', '人员配备问题'], understaffed, 'warn') if understaffed else '<p>街道/镇人员配备达标。</p>'}
      {_table(['编码', '村/社区', '巡查员', '应有'], short, 'warn') if short else '<p>各村/社区巡查员配备达标。</p>'}
      {_table(['统一社会信用代码', '企业', '落格情况'], problem_rows, 'warn') if problem_rows else '<p>所有企业均已落格。</p>'}
      <h2>村/社区网格与责任人</h2>
      {_table(['编码', '名称', '人口', '第一责任人', '巡查员人数', '评分', '状态'], village_rows)}
      <h2>企业行业分布</h2>
      {_table(['行业', '企业数'], sorted(sector_counts.items(), key=lambda kv: -kv[1]))}
      <h2>落格结果</h2>
      {_table(['落格结果', '企业数'], [[PLACEMENT_ZH[k], v] for k, v in by_placement.items()])}
    </div>"""
    style = """<style>
      body{font-family:"PingFang SC","Microsoft YaHei","Noto Sans CJK SC",sans-serif;margin:0}
      .folium-map{height:70vh!important;position:relative!important}
      .report{padding:16px 24px;max-width:1200px}
      .report h1{margin:8px 0;font-size:24px}.report h2{font-size:18px;margin-top:24px;border-bottom:2px solid #263238}
      .meta{color:#555}.kpis{display:flex;flex-wrap:wrap;gap:12px}
      .kpis div{background:#eceff1;padding:10px 14px;border-radius:6px;min-width:120px}
      .kpis b{display:block;font-size:22px}.kpis span{color:#455a64;font-size:13px}
      table{border-collapse:collapse;margin:8px 0;width:100%;font-size:13px}
      th,td{border:1px solid #cfd8dc;padding:4px 8px;text-align:left}th{background:#eceff1}
      table.warn th{background:#ffebee}
      @media print{.folium-map{height:60vh!important;page-break-after:always}}
    </style>"""
    root = fmap.get_root()
    root.header.add_child(folium.Element(style), name="report_style")
    root.title = f"{township.name} 网格化监管报告"
    page = root.render()
    # The map first, the summary tables under it.
    page = re.sub(r'(<div class="folium-map" id="[^"]+" ?>\s*</div>)', lambda m: m.group(1) + summary, page, count=1)
    page = page.replace("<head>", '<head>\n<meta charset="utf-8">\n<meta name="generator" content="gridmap">', 1)
    return page


def external_references(page: str) -> list[str]:
    """URLs the page would fetch from the network (scripts, stylesheets, images, CSS
    ``url()``): must be none for the page to open offline."""
    patterns = (r"""<script[^>]*\ssrc\s*=\s*["']((?:https?:)?//[^"']+)""",
                r"""<link[^>]*\shref\s*=\s*["']((?:https?:)?//[^"']+)""",
                r"""<img[^>]*\ssrc\s*=\s*["']((?:https?:)?//[^"']+)""",
                r"""url\(\s*["']?((?:https?:)?//[^"')]+)""")
    return [url for pattern in patterns for url in re.findall(pattern, page)]
