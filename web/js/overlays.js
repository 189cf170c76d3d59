// The switchable overlays besides the grids:
//   coverage     gaps / overlaps / outside-parent polygons from the coverage report (red);
//   enterprises  GeoJSON for the visible bbox: single points from z12, H3 aggregates below;
//   hazards      the same for hazards;
//   density      H3 hexagons as vector tiles (Leaflet.VectorGrid), coloured per km² so the
//                legend means the same at every zoom (the H3 resolution follows the zoom).
// Each overlay has: key, active, state (hidden|loading|shown|error), count, setActive().

import { api, authHeaders, query } from "./api.js";
import { h } from "./dom.js";
import { formatNumber, t } from "../i18n.js";
import { RED, RISK_COLOURS, viewBbox } from "./map.js";

class Overlay {
  constructor(key, map, onChange) {
    this.key = key;
    this.map = map;
    this.onChange = onChange;
    this.active = false;
    this.state = "hidden";
    this.count = null;
    this.note = null;
  }

  setActive(active) {
    this.active = active;
    if (active) this.show();
    else {
      this.hide();
      this.state = "hidden";
      this.count = null;
      this.note = null;
    }
    this.onChange(this);
  }

  set(state, count = this.count, note = null) {
    this.state = state;
    this.count = count;
    this.note = note;
    this.onChange(this);
  }
}

// ---------------------------------------------------------------- coverage problems

const COVERAGE_STYLES = {
  gap: { color: RED, weight: 2, dashArray: "", fillColor: "url(#gap-hatch)", fillOpacity: 1 },
  overlap: { color: RED, weight: 2.5, dashArray: "", fillColor: RED, fillOpacity: 0.7 },
  outside_parent: { color: RED, weight: 2, dashArray: "6 4", fillColor: RED, fillOpacity: 0.25 },
};

export class CoverageOverlay extends Overlay {
  constructor(map, onChange) {
    super("coverage", map, onChange);
    this.layer = L.featureGroup();
    this.report = null;
  }

  /** The root's coverage report: draws its gap, overlap and outside-parent features. */
  setReport(report) {
    this.report = report;
    this.layer.clearLayers();
    const sections = { gap: report.gaps, overlap: report.overlaps, outside_parent: report.outside_parent };
    let count = 0;
    for (const [kind, section] of Object.entries(sections)) {
      for (const feature of section?.features || []) {
        const polygon = L.geoJSON(feature, {
          pane: "coverage",
          renderer: this.map.renderers.coverage,
          style: () => COVERAGE_STYLES[kind],
        });
        polygon.eachLayer((layer) => {
          const p = feature.properties || {};
          const codes = Array.isArray(p.codes) ? p.codes.join(" × ") : p.code || p.parent_code || "";
          layer.bindTooltip(() => h("span", `${t(`legend.${kind}`)} · ${codes} · ${formatNumber(p.area_m2, 1)} m²`),
            { sticky: true });
          layer.on("add", () => {
            const el = layer.getElement();
            if (el) {
              el.dataset.coverageKind = kind;
              el.dataset.parentCode = p.parent_code || "";
            }
          });
        });
        polygon.addTo(this.layer);
        count += 1;
      }
    }
    if (this.active) this.set("shown", count);
    else this.count = count;
  }

  show() {
    this.layer.addTo(this.map);
    if (this.report) this.state = "shown";
    else this.state = "loading";
    this.count = this.layer.getLayers().length;
  }

  hide() {
    this.layer.remove();
  }
}

// ---------------------------------------------------------------- points by bbox

function popupList(title, rows) {
  return h("div", h("h4", title), h("dl", rows.flatMap(([label, value]) => [h("dt", label), h("dd", value ?? t("common.none"))])));
}

export function enterprisePopup(e) {
  return popupList(e.name, [
    [t("enterprise.uscc"), e.uscc],
    [t("enterprise.sector"), sectorLabel(e.sector)],
    [t("enterprise.risk"), e.risk_level ? t(`risk.${e.risk_level}`) : t("risk.none")],
    [t("enterprise.placement"), e.placement ? t(`placement.${e.placement}`) : null],
    [t("enterprise.grid"), e.grid_code || null],
    ...(e.department ? [[t("enterprise.department"), e.department]] : []),
  ]);
}

export function sectorLabel(sector, fallback) {
  if (!sector) return t("common.none");
  const key = `sector.${sector}`;
  const text = t(key);
  return text === key ? fallback || sector : text;
}

class BboxOverlay extends Overlay {
  constructor(key, map, onChange, limit) {
    super(key, map, onChange);
    this.layer = L.featureGroup();
    this.limit = limit; // () => L.LatLngBounds of the root, to keep bboxes small
    this.controller = null;
    this.reload = () => this.load();
  }

  show() {
    this.layer.addTo(this.map);
    this.map.on("moveend", this.reload);
    this.load();
  }

  hide() {
    this.map.off("moveend", this.reload);
    this.controller?.abort();
    this.layer.clearLayers();
    this.layer.remove();
  }

  async load() {
    if (!this.active) return;
    const bbox = viewBbox(this.map, this.limit());
    if (!bbox) {
      this.layer.clearLayers();
      this.set("shown", 0);
      return;
    }
    this.controller?.abort();
    const controller = new AbortController();
    this.controller = controller;
    this.set("loading");
    try {
      const zoom = Math.round(this.map.getZoom());
      const collection = await api(`/api/v1/layers/${this.key}${query({ bbox, zoom })}`, { signal: controller.signal });
      if (controller.signal.aborted || !this.active) return;
      const aggregated = collection.name.endsWith("_aggregated");
      // A point whose popup is open stays as it is: removing it would close the popup the
      // moment the map pans (Leaflet pans to show a popup, and every pan reloads).
      const open = aggregated ? null : this.layer.getLayers().find((m) => m.featureKey && m.isPopupOpen());
      this.layer.eachLayer((marker) => marker !== open && this.layer.removeLayer(marker));
      for (const feature of collection.features) {
        if (open && this.keyOf(feature) === open.featureKey) continue;
        const marker = this.draw(feature, aggregated);
        if (!aggregated) marker.featureKey = this.keyOf(feature);
        marker.addTo(this.layer);
      }
      this.layer.getLayers().forEach((marker) => marker.bringToFront && marker.bringToFront());
      const total = aggregated ? collection.features.reduce((n, f) => n + (f.properties.count || 0), 0) : collection.features.length;
      this.set("shown", total, aggregated ? t("layers.zoom_in") : null);
      this.aggregated = aggregated;
      this.onChange(this);
    } catch (error) {
      if (error.name !== "AbortError") this.set("error", null);
    }
  }

  marker(feature, options) {
    const [lon, lat] = feature.geometry.coordinates;
    const marker = L.circleMarker([lat, lon], { pane: "points", renderer: this.map.renderers.points, ...options });
    marker.on("add", () => {
      const el = marker.getElement();
      if (el) el.dataset.overlay = this.key;
    });
    return marker;
  }

  aggregate(feature, label, colour) {
    const count = feature.properties.count || 0;
    const marker = this.marker(feature, {
      radius: 5 + Math.sqrt(count) * 1.7,
      color: "#ffffff",
      weight: 1,
      fillColor: colour,
      fillOpacity: 0.75,
    });
    marker.bindTooltip(h("span", label), { direction: "top" });
    marker.on("click", () => this.map.setView(marker.getLatLng(), Math.min(this.map.getZoom() + 2, 16)));
    return marker;
  }
}

export class EnterpriseOverlay extends BboxOverlay {
  constructor(map, onChange, limit) {
    super("enterprises", map, onChange, limit);
  }

  keyOf(feature) {
    return feature.properties.uscc;
  }

  draw(feature, aggregated) {
    const p = feature.properties;
    if (aggregated) return this.aggregate(feature, t("enterprise.count", { count: p.count }), "#1fa6d6");
    const marker = this.marker(feature, {
      radius: 5,
      color: "#0b1526",
      weight: 1,
      fillColor: RISK_COLOURS[p.risk_level] || RISK_COLOURS[""],
      fillOpacity: 0.95,
    });
    marker.on("add", () => {
      const el = marker.getElement();
      if (el) Object.assign(el.dataset, { uscc: p.uscc, enterpriseGrid: p.grid_code || "" });
    });
    marker.bindPopup(() => enterprisePopup(p));
    return marker;
  }
}

export class HazardOverlay extends BboxOverlay {
  constructor(map, onChange, limit, categoryLabel = (id) => id) {
    super("hazards", map, onChange, limit);
    this.categoryLabel = categoryLabel;
  }

  keyOf(feature) {
    return feature.properties.id;
  }

  draw(feature, aggregated) {
    const p = feature.properties;
    if (aggregated) {
      return this.aggregate(feature, t("hazard.count", { count: p.count, overdue: p.overdue || 0 }),
        p.overdue ? RED : "#f28c28");
    }
    const open = !["closed", "rejected"].includes(p.status);
    const marker = this.marker(feature, {
      radius: p.grade === "major" ? 8 : 6,
      color: p.overdue ? RED : "#ffffff",
      weight: p.overdue ? 3 : 1,
      fillColor: open ? (p.overdue ? RED : "#f28c28") : "#6b7d95",
      fillOpacity: 0.9,
    });
    marker.bindPopup(() => popupList(`#${p.id} ${this.categoryLabel(p.category)}`, [
      [t("hazard.grade"), t(`hazard.grade.${p.grade}`)],
      [t("hazard.state"), t(`hazard.status.${p.status}`)],
      [t("hazard.overdue"), p.overdue ? t("common.yes") : t("common.no")],
      [t("enterprise.grid"), p.grid_code || null],
    ]));
    return marker;
  }
}

// ---------------------------------------------------------------- H3 density (vector tiles)

/** Average hexagon area (km²) per H3 resolution, to turn counts into densities. */
const H3_AREA_KM2 = { 4: 1770.347654, 5: 252.903858, 6: 36.129062, 7: 5.161293, 8: 0.737328, 9: 0.105333, 10: 0.015048 };
export const DENSITY_COLOURS = ["#ffffb2", "#fed976", "#feb24c", "#fd8d3c", "#f03b20", "#bd0026"];
export const DENSITY_FILL_OPACITY = 0.8;
export const DENSITY_METRICS = {
  enterprises: { property: "enterprises", breaks: [0.5, 1, 2, 5, 10] },
  enterprises_weighted: { property: "enterprises_weighted", breaks: [1, 2, 4, 10, 20] },
  hazards_weighted: { property: "hazards_weighted", breaks: [0.2, 0.5, 1, 2, 5] },
};

export class DensityOverlay extends Overlay {
  constructor(map, onChange) {
    super("density", map, onChange);
    this.metric = "enterprises_weighted";
    this.layer = null;
    this.cells = 0;
  }

  _create() {
    const layer = L.vectorGrid.protobuf("/tiles/density/{z}/{x}/{y}.mvt", {
      pane: "density",
      rendererFactory: L.svg.tile,
      interactive: false,
      maxNativeZoom: 16,
      fetchOptions: { headers: authHeaders(), credentials: "same-origin" },
      vectorTileLayerStyles: { density: (props) => this.style(props) },
    });
    layer.on("loading", () => this.set("loading", this.count));
    layer.on("load", () => {
      const pane = this.map.getPane("density");
      this.set("shown", pane ? pane.querySelectorAll("path").length : null);
    });
    layer.on("tileerror", () => this.set("error", null));
    return layer;
  }

  style(props) {
    const metric = DENSITY_METRICS[this.metric];
    const value = (props[metric.property] || 0) / (H3_AREA_KM2[props.res] || 1);
    const hidden = value <= 0;
    const index = metric.breaks.findIndex((b) => value < b);
    const colour = DENSITY_COLOURS[index === -1 ? DENSITY_COLOURS.length - 1 : index];
    return {
      fill: !hidden,
      fillColor: colour,
      fillOpacity: hidden ? 0 : DENSITY_FILL_OPACITY,
      stroke: props.hazards_overdue > 0 || !hidden,
      color: props.hazards_overdue > 0 ? RED : "rgba(7,17,31,0.5)",
      weight: props.hazards_overdue > 0 ? 2 : 0.5,
    };
  }

  setMetric(metric) {
    if (!DENSITY_METRICS[metric]) return;
    this.metric = metric;
    // Re-adding instead of redraw(): Leaflet 1.9's GridLayer.redraw() asks for tiles at
    // the map's fractional zoom (z=10.75), which no tile server has.
    if (this.layer && this.active) {
      this.layer.remove();
      this.layer.addTo(this.map);
    }
    this.onChange(this);
  }

  show() {
    if (!this.layer) this.layer = this._create();
    this.layer.addTo(this.map);
  }

  hide() {
    this.layer?.remove();
  }
}

// ---------------------------------------------------------------- basemap

export class BasemapOverlay extends Overlay {
  constructor(map, onChange, layer) {
    super("basemap", map, onChange);
    this.layer = layer;
  }

  show() {
    this.layer.addTo(this.map);
    this.layer.bringToBack();
    this.state = "shown";
  }

  hide() {
    this.layer.remove();
  }
}
