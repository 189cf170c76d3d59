// The Leaflet map: panes in drawing order, the optional basemap, colour scales, and the
// view mirrored into data attributes on #map (data-zoom, data-center) for people and tests.

import { t } from "../i18n.js";

export const STATUS_COLOURS = { ok: "#1fbf7a", warning: "#ffb52e", problem: "#ff5f3a", unknown: "#6b7d95" };
/**
 * Fill opacity of a grid by status. Problems are what the map is for, so they are filled
 * strongly enough to read as their colour on the dark map (at 0.38 the amber turned olive
 * and the red maroon); "ok" stays light so the problems stand out. The legend draws each
 * swatch at the same opacity over the map's background (fillSwatch), so both match.
 */
export const STATUS_FILL_OPACITY = { ok: 0.3, warning: 0.8, problem: 0.8, unknown: 0.35 };
/** The map's background under the district (the centre of #map's gradient, --map-bg). */
export const MAP_BACKGROUND = "#0b1d33";
export const RISK_COLOURS = { major: "#e5322d", high: "#f28c28", medium: "#f2d027", low: "#3b8ff2", "": "#9aa7b8" };
export const RED = "#ff2d2d";
export const SELECTED = "#2fd3ff";

// Panes (z-index): density under the grids, coverage problems over them, points on top.
const PANES = { density: 350, grids: 410, coverage: 450, points: 620 };

export function createMap(element) {
  const config = window.GRIDMAP_CONFIG || {};
  const map = L.map(element, {
    zoomControl: false,
    attributionControl: Boolean(config.basemap),
    preferCanvas: false,
    minZoom: 5,
    maxZoom: 18,
    zoomSnap: 0.25,
    worldCopyJump: false,
  });
  for (const [name, zIndex] of Object.entries(PANES)) {
    map.createPane(name).style.zIndex = String(zIndex);
  }
  L.control.zoom({ position: "bottomright", zoomInTitle: t("map.zoom_in"), zoomOutTitle: t("map.zoom_out") }).addTo(map);
  L.control.scale({ position: "bottomright", imperial: false }).addTo(map);
  map.renderers = Object.fromEntries(Object.keys(PANES).map((pane) => [pane, L.svg({ pane, padding: 0.3 })]));

  const mirror = () => {
    const centre = map.getCenter();
    element.dataset.zoom = map.getZoom().toFixed(2);
    element.dataset.center = `${centre.lat.toFixed(6)},${centre.lng.toFixed(6)}`;
    element.classList.toggle("show-village-labels", map.getZoom() >= 12.5);
  };
  map.on("moveend zoomend", mirror);
  map.whenReady(mirror);
  return map;
}

/** The configured basemap as a Leaflet layer, or null when none is configured. */
export function basemapLayer() {
  const config = window.GRIDMAP_CONFIG || {};
  if (!config.basemap) return null;
  return L.tileLayer(config.basemap, {
    attribution: config.basemapAttribution || "",
    maxZoom: config.basemapMaxZoom || 18,
    crossOrigin: false,
  });
}

/** minx,miny,maxx,maxy of the visible map clipped to `limit` (L.LatLngBounds), or null. */
export function viewBbox(map, limit) {
  let bounds = map.getBounds();
  if (limit) {
    const south = Math.max(bounds.getSouth(), limit.getSouth());
    const north = Math.min(bounds.getNorth(), limit.getNorth());
    const west = Math.max(bounds.getWest(), limit.getWest());
    const east = Math.min(bounds.getEast(), limit.getEast());
    if (south >= north || west >= east) return null;
    bounds = L.latLngBounds([south, west], [north, east]);
  }
  return [bounds.getWest(), bounds.getSouth(), bounds.getEast(), bounds.getNorth()]
    .map((v) => v.toFixed(6)).join(",");
}

export function statusLabel(status) {
  return t(`status.${status || "unknown"}`);
}

/** Re-label Leaflet's own controls after a language switch. */
export function relabelControls(element) {
  element.querySelector(".leaflet-control-zoom-in")?.setAttribute("title", t("map.zoom_in"));
  element.querySelector(".leaflet-control-zoom-out")?.setAttribute("title", t("map.zoom_out"));
}

/** CSS background painting `colour` at `opacity` over the map's background: a legend swatch
 * that looks like the translucent fill on the map. */
export function fillSwatch(colour, opacity) {
  const [r, g, b] = [1, 3, 5].map((i) => parseInt(colour.slice(i, i + 2), 16));
  const layer = `rgba(${r}, ${g}, ${b}, ${opacity})`;
  return `linear-gradient(${layer}, ${layer}), ${MAP_BACKGROUND}`;
}
