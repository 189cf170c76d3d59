// The legend follows the layers that are on.

import { fill, h } from "./dom.js";
import { formatNumber, t } from "../i18n.js";
import { RED, RISK_COLOURS, SELECTED, STATUS_COLOURS } from "./map.js";
import { DENSITY_COLOURS, DENSITY_METRICS } from "./overlays.js";

const row = (swatch, label) => h("div.row", swatch, h("span", label));
const box = (colour, extra = {}) => h("span.swatch", { style: { background: colour, ...extra } });
const dot = (colour, extra = {}) => h("span.swatch.dot", { style: { background: colour, ...extra } });

export function renderLegend(element, layers) {
  const on = Object.fromEntries(layers.map((l) => [l.key, l]));
  const sections = [];
  if (on.grids?.active) {
    sections.push(h("section", { dataset: { legend: "grids" } }, h("h4", t("legend.status")),
      ["ok", "warning", "problem", "unknown"].map((s) => row(box(STATUS_COLOURS[s]), t(`status.${s}`))),
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
      labels.map((label, i) => row(box(DENSITY_COLOURS[i]), label)),
      row(box("transparent", { border: `2px solid ${RED}` }), t("legend.density.overdue"))));
  }
  fill(element, h("h3", t("legend.title")), sections);
  element.hidden = sections.length === 0;
}
