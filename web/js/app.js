// The command-centre dashboard: log in, draw the user's area (the root grid: their scope, or
// the district), colour it by the coverage engine's scores, drill down on click, and keep
// the side panel, KPIs, layer switcher and legend in step. Everything comes from the public
// API; the server applies the user's scope, so a township leader only ever receives their
// own township.

import { $, fill, h } from "./dom.js";
import { ApiError, api, forget, onUnauthorised, query, savedUser, token } from "./api.js";
import { askLogin } from "./auth.js";
import { applyI18n, describeFailure, formatNumber, lang, onLangChange, setLang, t } from "../i18n.js";
import { basemapLayer, createMap, relabelControls } from "./map.js";
import { GridLayer } from "./grids.js";
import {
  BasemapOverlay, CoverageOverlay, DensityOverlay, EnterpriseOverlay, HazardOverlay, enterprisePopup,
} from "./overlays.js";
import { renderSwitcher } from "./switcher.js";
import { renderLegend } from "./legend.js";
import { renderKpis } from "./kpis.js";
import { Panel } from "./panel.js";
import { setupSearch } from "./search.js";

const state = {
  user: null,
  root: null, // /grids/{root}
  rootBounds: null,
  report: null, // coverage report of the root (colours the grids)
  reportPromise: null,
  statsPromise: null,
  kpi: { grid: null, report: null, hazards: null }, // what the KPI strip shows: the selected grid's figures
  categories: new Map(), // hazard category id → {zh, en}
  selected: null,
};

let map;
let grids;
let overlays = [];
let panel;
let searchMarker = null;

// ------------------------------------------------------------------ start-up

async function main() {
  applyI18n();
  const toggle = () => setLang(lang() === "zh" ? "en" : "zh");
  $("#lang-toggle").addEventListener("click", toggle);
  $("#login-lang").addEventListener("click", toggle);
  $("#logout").addEventListener("click", () => {
    forget();
    location.reload();
  });
  let relogin = null;
  onUnauthorised(() => {
    // Several requests fail at once when a token expires: one dialog, one reload.
    if (relogin) return;
    forget();
    relogin = askLogin({ expired: true }).then(() => location.reload());
  });

  let user = token() ? savedUser() : null;
  if (user) {
    try {
      user = await api("/api/v1/auth/me");
    } catch (error) {
      if (!(error instanceof ApiError) || error.status !== 401) throw error;
      return; // the 401 listener shows the login dialog
    }
  } else {
    user = await askLogin();
  }
  await start(user);
}

async function start(user) {
  state.user = user;
  showUser();
  map = createMap($("#map"));
  panel = new Panel($("#panel"), {
    onSelect: (code) => select(code),
    onEnterprise: (uscc) => showEnterprise(uscc),
    onFeature: (feature) => showFeature(feature),
    onBack: () => select(state.selected || state.root.code),
    statusOf: (code) => grids.statusOf(code),
    statsLink,
    categoryLabel,
  });
  api("/api/v1/hazard-categories").then((list) => {
    state.categories = new Map(list.map((c) => [c.id, c]));
    panel.rerender();
  }, () => {});
  grids = new GridLayer(map, { onSelect: (code) => select(code), onChange: refreshControls });
  grids.group.addTo(map);
  const limit = () => state.rootBounds;
  const coverage = new CoverageOverlay(map, refreshControls);
  const density = new DensityOverlay(map, (layer) => {
    grids.setDimmed(layer.active);
    refreshControls();
  });
  overlays = [grids, coverage, new EnterpriseOverlay(map, refreshControls, limit),
    new HazardOverlay(map, refreshControls, limit, categoryLabel), density];
  const basemap = basemapLayer();
  if (basemap) {
    const layer = new BasemapOverlay(map, refreshControls, basemap);
    overlays.push(layer);
    layer.setActive(true);
  }
  onLangChange(() => {
    showUser();
    relabelControls($("#map"));
    if (searchMarker?.isPopupOpen()) searchMarker.getPopup().update();
    refreshControls();
    renderKpiStrip();
    panel.rerender();
  });
  setupSearch($("#search"), $("#search-results"), { onPick: (enterprise) => showEnterprise(enterprise.uscc) });
  refreshControls();
  renderKpiStrip();

  const rootCode = user.scope || (await firstDistrict());
  const [root, feature] = await Promise.all([api(`/api/v1/grids/${rootCode}`), api(`/api/v1/grids/${rootCode}/geojson`)]);
  state.root = root;
  fill($("#root-name"), `· ${root.name}`);
  showUser();
  state.rootBounds = (await grids.setRoot(feature)).pad(0.05);
  map.fitBounds(grids.bounds(root.code), { padding: [20, 20], animate: false });
  grids.state = "shown";
  coverage.setActive(true);

  state.reportPromise = api(`/api/v1/coverage/${root.code}`);
  state.statsPromise = api(`/api/v1/stats/${root.code}`);
  state.reportPromise.then((report) => {
    state.report = report;
    grids.setScores(new Map(report.grids.map((g) => [g.code, g])));
    coverage.setReport(report);
    renderKpiStrip();
    panel.rerender();
  }, (error) => toast(t("panel.error", { message: error.message })));
  await select(root.code, { fit: false });
  document.body.dataset.ready = "true";
}

/** The assessment table page (stats.html) for a grid, in the current language. */
function statsLink(code) {
  return `stats.html${query({ code, lang: lang() === "en" ? "en" : null })}`;
}

function categoryLabel(id) {
  const category = state.categories.get(id);
  return category ? category[lang()] || category.zh : id;
}

async function firstDistrict() {
  const districts = await api(`/api/v1/grids${query({ level: "district", limit: 50 })}`);
  if (!districts.data.length) throw new Error("no district");
  return districts.data[0].code;
}

function showUser() {
  if (state.root) $("#stats-link").href = statsLink(state.root.code);
  const badge = $("#user-badge");
  const { user } = state;
  if (!user) return;
  fill(badge, h("b", user.username), ` · ${t(`user.role.${user.role}`)}`);
  badge.hidden = false;
  $("#logout").hidden = false;
}

function refreshControls() {
  renderSwitcher($("#layer-switcher"), overlays);
  renderLegend($("#legend"), overlays);
  // Popups pan clear of the switcher/legend column (Leaflet reads the option when it pans).
  L.Popup.prototype.options.autoPanPaddingTopLeft = L.point(controlsWidth() + 12, 12);
}

/** Width of the column of controls over the left of the map (0 when hidden). */
function controlsWidth() {
  const column = $("#map-controls");
  return column ? column.offsetLeft + column.offsetWidth : 0;
}

function renderKpiStrip() {
  renderKpis($("#kpis"), { ...state.kpi, onPick: showKpiList });
}

// ------------------------------------------------------------------ selection

async function select(code, { fit = true } = {}) {
  state.selected = code;
  document.body.dataset.selected = code;
  let detail;
  try {
    detail = await api(`/api/v1/grids/${code}`);
  } catch (error) {
    toast(error.message);
    return;
  }
  if (state.selected !== code) return;
  const isRoot = code === state.root.code;
  const ledgerLevel = detail.level === "township" || detail.level === "village" ? detail.level : null;
  const ledger = ledgerLevel ? api(`/api/v1/ledgers/${ledgerLevel}/${code}${query({ limit: 1 })}`) : null;
  const children = detail.children_count
    ? Promise.all([api(`/api/v1/grids${query({ parent: code, limit: 1000 })}`), ledger ? ledger.catch(() => null) : null])
      .then(([list, led]) => {
        const counts = new Map((led?.by_child || []).map((c) => [c.code, c.count]));
        return list.data.map((g) => ({ code: g.code, name: g.name, count: counts.get(g.code) ?? (led ? 0 : undefined) }));
      })
    : null;
  const hazards = hazardCounts(code);
  const coverage = isRoot && state.reportPromise ? state.reportPromise : api(`/api/v1/coverage/${code}`);
  // The KPI strip follows the selection: the same answers as the panel's.
  const kpi = { grid: { code, name: detail.name }, report: null, hazards: null };
  state.kpi = kpi;
  renderKpiStrip();
  for (const [key, promise] of [["report", coverage], ["hazards", hazards]]) {
    promise.then((value) => {
      kpi[key] = value;
      if (state.kpi === kpi) renderKpiStrip();
    }, () => {});
  }
  panel.showGrid(detail, {
    ledger: ledger ? ledger.catch(() => null) : null,
    hazards,
    coverage,
    stats: state.statsPromise ? state.statsPromise.then((assessment) => ({ assessment, row: statsRow(assessment, code) })) : null,
    children,
  });
  try {
    await grids.showPath(detail);
  } catch (error) {
    toast(error.message);
  }
  if (fit && state.selected === code) {
    const bounds = grids.bounds(code);
    // Leave room for the layer switcher and legend on the left.
    if (bounds) map.fitBounds(bounds, { paddingTopLeft: [controlsWidth() + 10, 30], paddingBottomRight: [30, 30], maxZoom: 16 });
  }
}

function statsRow(assessment, code) {
  if (assessment.code === code) {
    const rank = assessment.townships.find((r) => r.code === code)?.rank;
    return { ...assessment.total, rank };
  }
  return assessment.townships.find((r) => r.code === code) || assessment.villages.find((r) => r.code === code) || null;
}

/** Open, overdue and all hazards of a grid's subtree, with the overdue ones listed. */
async function hazardCounts(code) {
  const count = (params) => api(`/api/v1/hazards${query({ grid: code, limit: 1, ...params })}`).then((r) => r.count);
  const [all, closed, rejected, overdue] = await Promise.all([
    count({}), count({ status: "closed" }), count({ status: "rejected" }),
    api(`/api/v1/hazards${query({ grid: code, overdue: true, limit: 5 })}`),
  ]);
  return { total: all, open: all - closed - rejected, overdue: overdue.count, overdueList: overdue.data };
}

// ------------------------------------------------------------------ enterprises

async function showEnterprise(uscc) {
  try {
    flyToEnterprise(await api(`/api/v1/enterprises/${encodeURIComponent(uscc)}`));
  } catch (error) {
    toast(error.message);
  }
}

/** Fly to an enterprise, mark it, and open its grid (who is responsible for it) in the panel. */
async function flyToEnterprise(enterprise) {
  searchMarker?.remove();
  if (enterprise.grid_code && enterprise.grid_code.startsWith(state.root.code)) {
    select(enterprise.grid_code, { fit: false });
  }
  const content = () => {
    const box = enterprisePopup(enterprise);
    if (enterprise.address) box.querySelector("dl").append(h("dt", t("enterprise.address")), h("dd", enterprise.address));
    if (enterprise.grid_code) {
      box.append(h("button.link", { type: "button", onclick: () => select(enterprise.grid_code) }, t("enterprise.show_grid")));
    }
    return box;
  };
  let target;
  let zoom = 16;
  if (enterprise.lon !== null && enterprise.lon !== undefined && enterprise.lat !== null) {
    target = L.latLng(enterprise.lat, enterprise.lon);
  } else if (enterprise.grid_code) {
    try {
      const feature = await api(`/api/v1/grids/${enterprise.grid_code}/geojson`);
      const bounds = L.geoJSON(feature).getBounds();
      target = bounds.getCenter();
      zoom = Math.min(map.getBoundsZoom(bounds), 16);
      toast(t("search.no_location"));
    } catch (error) {
      toast(error.message);
      return;
    }
  } else {
    toast(t("search.unplaced"));
    return;
  }
  searchMarker = L.marker(target, {
    icon: L.divIcon({ className: "", html: '<div class="search-pin"></div>', iconSize: [22, 22], iconAnchor: [11, 11] }),
    pane: "points",
    zIndexOffset: 1000,
  }).addTo(map);
  searchMarker.bindPopup(content, { offset: [0, -8], autoPan: false });
  const el = searchMarker.getElement();
  if (el) el.dataset.uscc = enterprise.uscc;
  $("#map").dataset.focusUscc = enterprise.uscc;
  map.once("moveend", () => searchMarker?.openPopup());
  map.flyTo(target, zoom, { duration: 0.8 });
}

/** Zoom to a coverage problem, with the grids around it drawn (the panel stays as it is). */
async function showFeature(feature) {
  const coverage = overlays.find((o) => o.key === "coverage");
  if (!coverage.active) coverage.setActive(true);
  map.fitBounds(L.geoJSON(feature).getBounds(), { padding: [60, 60], maxZoom: 17 });
  const parent = feature.properties?.parent_code;
  if (parent && parent.startsWith(state.root.code)) {
    try {
      await grids.showPath(await api(`/api/v1/grids/${parent}`));
    } catch (error) {
      toast(error.message);
    }
  }
}

// ------------------------------------------------------------------ KPI lists

function showKpiList(kind) {
  const { grid, report } = state.kpi;
  if (kind === "enterprises" || !report && kind !== "overdue") {
    select(grid?.code || state.root.code);
    return;
  }
  const enterpriseItems = (kinds) => () => kinds.flatMap((k) => report.enterprises[k].map((e) => ({
    text: e.name, sub: `${e.uscc} · ${t(`placement.${k}`)}`, bad: true, onClick: () => showEnterprise(e.uscc),
  })));
  const featureItems = (section, kindKey) => () => section.features.map((f) => ({
    text: `${t(kindKey)} · ${(f.properties.codes || [f.properties.code || f.properties.parent_code]).join(" × ")}`,
    sub: `${formatNumber(f.properties.area_m2, 1)} m²`,
    bad: true,
    onClick: () => showFeature(f),
  }));
  const lists = {
    unplaced: [() => t("kpi.unplaced"), enterpriseItems(["unplaced"])],
    placement_review: [() => t("kpi.placement_review"), enterpriseItems(["ambiguous", "conflict"])],
    gaps: [() => t("kpi.gaps"), featureItems(report?.gaps, "legend.gap")],
    overlaps: [() => t("kpi.overlaps"), featureItems(report?.overlaps, "legend.overlap")],
    understaffed: [() => t("kpi.understaffed"), () => [
      ...report.no_first_responsible.map((code) => ({
        text: `${code} · ${t("penalty.first_responsible")}`, bad: true, onClick: () => select(code),
      })),
      ...report.villages_understaffed.map((v) => ({
        text: t("panel.coverage.village_short", { name: v.name, actual: v.patrol_officers, required: v.required }),
        bad: true, onClick: () => select(v.code),
      })),
      ...report.townships_understaffed.flatMap((tw) => tw.failures.map((f) => ({
        text: t("panel.coverage.township_rule", { name: tw.name, text: describeFailure(f) }),
        bad: true, onClick: () => select(tw.code),
      }))),
    ]],
  };
  if (kind === "overdue") {
    api(`/api/v1/hazards${query({ grid: grid.code, overdue: true, limit: 200 })}`).then((result) => {
      panel.showList(kind, () => t("kpi.overdue"), () => result.data.map((x) => ({
        text: `#${x.id} ${categoryLabel(x.category)} · ${t(`hazard.status.${x.status}`)}`,
        sub: `${x.grid_code || ""} · ${t("panel.hazards.deadline", { date: x.deadline.slice(0, 10) })}`,
        bad: true,
        onClick: x.grid_code ? () => select(x.grid_code) : null,
      })));
    }, (error) => toast(error.message));
    return;
  }
  const [title, items] = lists[kind];
  panel.showList(kind, title, items);
}

// ------------------------------------------------------------------ messages

let toastTimer;
function toast(message) {
  const el = $("#toast");
  el.textContent = message;
  el.hidden = false;
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => { el.hidden = true; }, 4000);
}

main().catch((error) => {
  console.error(error);
  toast(error.message || String(error));
  document.body.dataset.ready = "error";
});
