// The Leaflet map: panes in drawing order, the optional basemap, colour scales, and the
// view mirrored into data attributes on #map (data-zoom, data-center) for people and tests.

import { t } from "../i18n.js";

export const STATUS_COLOURS = { ok: "#1fbf7a", warning: "#ffb52e", problem: "#ff5f3a", unknown: "#6b7d95" };
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
