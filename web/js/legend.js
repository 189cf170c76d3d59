// The legend follows the layers that are on. It sits under the layer switcher in one
// column (css .map-controls), scrolls when the map is short, and folds to its title
// (remembered in localStorage["gridmap.legend"]). Translucent map fills are drawn as the
// map draws them (fillSwatch): the colour at the same opacity over the map's background.

import { fill, h } from "./dom.js";
import { formatNumber, t } from "../i18n.js";
import { RED, RISK_COLOURS, SELECTED, STATUS_COLOURS, STATUS_FILL_OPACITY, fillSwatch } from "./map.js";
import { DENSITY_COLOURS, DENSITY_FILL_OPACITY, DENSITY_METRICS } from "./overlays.js";

const FOLD_KEY = "gridmap.legend";
const row = (swatch, label) => h("div.row", swatch, h("span", label));
const box = (colour, extra = {}) => h("span.swatch", { style: { background: colour, ...extra } });
const fillBox = (colour, opacity) => h("span.swatch.fill", { style: { background: fillSwatch(colour, opacity) } });
const dot = (colour, extra = {}) => h("span.swatch.dot", { style: { background: colour, ...extra } });

let folded = (() => {
  try {
    return localStorage.getItem(FOLD_KEY) === "folded";
  } catch {
    return false;
  }
})();

export function renderLegend(element, layers) {
  const on = Object.fromEntries(layers.map((l) => [l.key, l]));
  const sections = [];
  if (on.grids?.active) {
    sections.push(h("section", { dataset: { legend: "grids" } }, h("h4", t("legend.status")),
      ["ok", "warning", "problem", "unknown"].map((s) => row(fillBox(STATUS_COLOURS[s], STATUS_FILL_OPACITY[s]), t(`status.${s}`))),
      row(box("transparent", { border: `2px solid ${SELECTED}` }), t("legend.selected"))));
  }
  if (on.coverage?.active) {
    sections.push(h("section", { dataset: { legend: "coverage" } }, h("h4", t("legend.coverage")),
      row(h("span.swatch.gap"), t("legend.gap")),
      row(h("span.swatch.overlap"), t("legend.overlap")),
      row(h("span.swatch.outside"), t("legend.outside_parent"))));
  }
  if (on.enterprises?.active) {
    sections.push(h("section", { dataset: { legend: "enterprises" } }, h("h4", t("legend.risk")),
      ["major", "high", "medium", "low"].map((r) => row(dot(RISK_COLOURS[r]), t(`risk.${r}`))),
      on.enterprises.aggregated ? h("div.row.muted", t("legend.aggregated")) : null));
  }
  if (on.hazards?.active) {
    sections.push(h("section", { dataset: { legend: "hazards" } }, h("h4", t("legend.hazards")),
      row(dot("#f28c28"), t("legend.hazard.open")),
      row(dot(RED, { border: `2px solid ${RED}` }), t("legend.hazard.overdue")),
      row(dot("#6b7d95"), t("legend.hazard.closed"))));
  }
  if (on.density?.active) {
    const metric = DENSITY_METRICS[on.density.metric];
    const b = metric.breaks;
    const labels = [`< ${formatNumber(b[0], 1)}`,
      ...b.slice(0, -1).map((v, i) => `${formatNumber(v, 1)} – ${formatNumber(b[i + 1], 1)}`),
      `≥ ${formatNumber(b[b.length - 1], 1)}`];
    sections.push(h("section", { dataset: { legend: "density" } },
      h("h4", `${t("legend.density")} · ${t(`density.${on.density.metric}`)}`),
      labels.map((label, i) => row(fillBox(DENSITY_COLOURS[i], DENSITY_FILL_OPACITY), label)),
      row(box("transparent", { border: `2px solid ${RED}` }), t("legend.density.overdue"))));
  }
  const toggle = h("button.legend-toggle", {
    type: "button",
    "aria-expanded": String(!folded),
    onclick: () => {
      folded = !folded;
      try {
        localStorage.setItem(FOLD_KEY, folded ? "folded" : "open");
      } catch {
        /* private mode: folded for this page only */
      }
      renderLegend(element, layers);
    },
  }, t("legend.title"));
  fill(element, h("h3", toggle), sections);
  element.classList.toggle("folded", folded);
  element.hidden = sections.length === 0;
}
