// Grid polygons with drill-down: the root's outline, its children, and the children of every
// grid on the selected path (district → township → village). Polygons are GeoJSON from
// /api/v1/layers/grids (clickable SVG paths); each path and label carries data-grid-code.
// Names are permanent labels; where they would overlap (a dense township's villages on a
// laptop), the less important one is hidden until zooming in makes room (declutter()).

import { api, query } from "./api.js";
import { h } from "./dom.js";
import { SELECTED, STATUS_COLOURS, STATUS_FILL_OPACITY } from "./map.js";

/** Levels drawn inside a grid of each level. */
export const CHILD_LEVELS = { district: "township,direct", township: "village", direct: "micro", village: "micro" };
/** Whose label wins when two overlap (lower first). */
const LEVEL_RANK = { district: 0, township: 1, direct: 1, village: 2, micro: 3 };

export class GridLayer {
  constructor(map, { onSelect, onChange }) {
    this.key = "grids";
    this.map = map;
    this.onSelect = onSelect;
    this.onChange = onChange || (() => {});
    this.group = L.featureGroup();
    this.polygons = new Map(); // code → L.Polygon (root and every loaded child)
    this.childLayers = new Map(); // parent code → L.GeoJSON of its children
    this.scores = new Map(); // code → {score, status} from the coverage report
    this.path = []; // codes from the root to the selection
    this.dimmed = false;
    this.active = true;
    this.state = "loading";
    this.count = 0;
    const declutter = () => requestAnimationFrame(() => this.declutter());
    map.on("zoomend moveend resize", declutter);
  }

  /** Draw the root grid (a GeoJSON Feature) and its children; returns its bounds. */
  async setRoot(feature) {
    this.group.clearLayers();
    this.polygons.clear();
    this.childLayers.clear();
    const outline = L.geoJSON(feature, {
      pane: "grids",
      renderer: this.map.renderers.grids,
      interactive: false,
      style: () => ({ color: SELECTED, weight: 2.5, fill: false, opacity: 0.9 }),
    });
    outline.eachLayer((layer) => this._tag(layer, feature.properties, "root"));
    outline.addTo(this.group);
    this.rootCode = feature.properties.code;
    this.rootLevel = feature.properties.level;
    this.polygons.set(this.rootCode, outline.getLayers()[0]);
    this.path = [this.rootCode];
    await this._ensureChildren(this.rootCode, this.rootLevel);
    this.count = this.polygons.size;
    this._restyle();
    return outline.getBounds();
  }

  setActive(active) {
    this.active = active;
    if (active) this.group.addTo(this.map);
    else this.group.remove();
    this.onChange(this);
  }

  /** Colour by the coverage engine's scores: Map code → {score, status}. */
  setScores(scores) {
    this.scores = scores;
    this._restyle();
  }

  /** Faint fills, so a layer underneath (density) shows through. */
  setDimmed(dimmed) {
    this.dimmed = dimmed;
    this._restyle();
  }

  statusOf(code, fallback = "unknown") {
    return this.scores.get(code)?.status || fallback;
  }

  bounds(code) {
    const polygon = this.polygons.get(code);
    return polygon ? polygon.getBounds() : null;
  }

  /** Show the path root → … → detail (a /grids/{code} answer), loading children as needed. */
  async showPath(detail) {
    const codes = [...detail.parents.map((p) => p.code), detail.code].filter((c) => c.startsWith(this.rootCode));
    const levels = Object.fromEntries([...detail.parents.map((p) => [p.code, p.level]), [detail.code, detail.level]]);
    this.path = codes;
    this.state = "loading";
    this.onChange(this);
    try {
      for (const code of codes) {
        const isSelected = code === detail.code;
        if (isSelected && detail.children_count === 0) break;
        await this._ensureChildren(code, levels[code]);
      }
      this.state = "shown";
    } catch (error) {
      this.state = "error";
      throw error;
    } finally {
      // Children of grids that left the path go; the root's children always stay.
      for (const [parent, layer] of this.childLayers) {
        if (parent !== this.rootCode && !codes.includes(parent)) {
          this.group.removeLayer(layer);
          layer.eachLayer((l) => this.polygons.delete(l.feature.properties.code));
          this.childLayers.delete(parent);
        }
      }
      this.count = this.polygons.size;
      this._restyle();
      this.onChange(this);
    }
  }

  async _ensureChildren(code, level) {
    if (this.childLayers.has(code) || !CHILD_LEVELS[level]) return;
    const bounds = this.bounds(code);
    if (!bounds) return;
    const bbox = bounds.pad(0.02).toBBoxString();
    const collection = await api(`/api/v1/layers/grids${query({ level: CHILD_LEVELS[level], bbox })}`);
    const children = collection.features.filter((f) => f.properties.parent_code === code);
    if (!children.length) return;
    const layer = L.geoJSON({ type: "FeatureCollection", features: children }, {
      pane: "grids",
      renderer: this.map.renderers.grids,
      style: (feature) => this._style(feature),
      onEachFeature: (feature, polygon) => {
        const props = feature.properties;
        this._tag(polygon, props, "child");
        this.polygons.set(props.code, polygon);
        // An element, not a string: Leaflet would parse a string as HTML.
        polygon.bindTooltip(h("span", props.name), {
          permanent: true,
          direction: "center",
          interactive: false,
          className: `grid-label ${props.level}`,
        });
        polygon.on("tooltipopen", (e) => {
          const el = e.tooltip.getElement();
          if (el) el.dataset.gridCode = props.code;
        });
        polygon.on("click", (e) => {
          L.DomEvent.stopPropagation(e);
          this.onSelect(props.code);
        });
      },
    });
    this.childLayers.set(code, layer);
    layer.addTo(this.group);
  }

  _tag(layer, props, role) {
    const mark = () => {
      const el = layer.getElement && layer.getElement();
      if (!el) return;
      el.dataset.gridCode = props.code;
      el.dataset.level = props.level;
      el.dataset.role = role;
    };
    layer.on("add", mark);
    if (layer._map) mark();
  }

  _style(feature) {
    const { code, level, status } = feature.properties;
    const state = this.statusOf(code, status);
    const colour = STATUS_COLOURS[state] || STATUS_COLOURS.unknown;
    const onPath = this.path.includes(code);
    const opened = onPath && this.childLayers.has(code);
    const drilled = this.path.length > 1 && feature.properties.parent_code === this.rootCode;
    let fillOpacity = STATUS_FILL_OPACITY[state] ?? STATUS_FILL_OPACITY.unknown;
    if (opened) fillOpacity = 0.04; // its children carry the colours
    else if (drilled && !onPath) fillOpacity *= 0.45; // the siblings of the grid being looked at recede
    if (this.dimmed) fillOpacity *= 0.25;
    return {
      color: onPath ? SELECTED : level === "township" || level === "direct" ? "#a9d8ff" : "#d2e4f6",
      weight: onPath ? 3 : level === "township" || level === "direct" ? 1.4 : 0.8,
      opacity: 0.95,
      fillColor: colour,
      fillOpacity,
    };
  }

  /**
   * Hide (class "crowded") every label that would overlap a more important one: labels on
   * the selected path first, then higher levels (townships before villages), then larger
   * grids on screen. Village labels below the zoom at which #map shows them are skipped.
   */
  declutter() {
    const container = this.map.getContainer();
    const villagesShown = container.classList.contains("show-village-labels");
    const labels = [];
    for (const [code, polygon] of this.polygons) {
      const tooltip = polygon.getTooltip();
      const element = tooltip && tooltip.isOpen() ? tooltip.getElement() : null;
      if (!element) continue;
      const level = polygon.feature.properties.level;
      if ((level === "village" || level === "micro") && !villagesShown) {
        element.classList.remove("crowded");
        continue;
      }
      const size = this.map.latLngToContainerPoint(polygon.getBounds().getNorthEast())
        .subtract(this.map.latLngToContainerPoint(polygon.getBounds().getSouthWest()));
      labels.push({
        element,
        rank: [this.path.includes(code) ? 0 : 1, LEVEL_RANK[level] ?? 9, -Math.abs(size.x * size.y)],
        rect: element.getBoundingClientRect(),
      });
    }
    labels.sort((a, b) => a.rank[0] - b.rank[0] || a.rank[1] - b.rank[1] || a.rank[2] - b.rank[2]);
    const kept = [];
    const overlaps = (a, b) => a.left < b.right + 2 && b.left < a.right + 2 && a.top < b.bottom + 1 && b.top < a.bottom + 1;
    for (const label of labels) {
      const crowded = kept.some((rect) => overlaps(rect, label.rect));
      label.element.classList.toggle("crowded", crowded);
      if (!crowded) kept.push(label.rect);
    }
  }

  _restyle() {
    for (const [parent, layer] of this.childLayers) {
      layer.setStyle((feature) => this._style(feature));
      layer.eachLayer((polygon) => {
        const props = polygon.feature.properties;
        const el = polygon.getElement && polygon.getElement();
        if (el) el.dataset.status = this.statusOf(props.code, props.status);
        // An opened grid's own label would sit on top of its children's labels.
        const opened = this.path.includes(props.code) && this.childLayers.has(props.code);
        if (opened) polygon.closeTooltip();
        else if (polygon._map && !polygon.isTooltipOpen()) polygon.openTooltip();
      });
      // Draw order: a grid's children over it, and the selected outline over its siblings.
      if (parent !== this.rootCode && this.path.includes(parent)) layer.bringToFront();
      layer.eachLayer((polygon) => {
        if (polygon._map && this.path.includes(polygon.feature.properties.code)) polygon.bringToFront();
      });
    }
    requestAnimationFrame(() => this.declutter());
  }
}
