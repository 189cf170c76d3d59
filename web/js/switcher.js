// The layer switcher: one row per layer with its state and what it holds, so an operator
// sees at a glance that a layer is loading, empty or failed. Rows carry data-layer,
// data-state and data-count.

import { fill, h } from "./dom.js";
import { formatNumber, t } from "../i18n.js";
import { DENSITY_METRICS } from "./overlays.js";

const LABELS = {
  grids: "layers.grids",
  coverage: "layers.coverage",
  enterprises: "layers.enterprises",
  hazards: "layers.hazards",
  density: "layers.density",
  basemap: "layers.basemap",
};

export function renderSwitcher(element, layers) {
  const rows = layers.map((layer) => {
    const note = layer.state === "loading" ? t("layers.loading")
      : layer.state === "error" ? t("layers.error")
        : layer.active && layer.count !== null && layer.count !== undefined
          ? formatNumber(layer.count) + (layer.note ? ` · ${layer.note}` : "") : "";
    const checkbox = h("input", {
      type: "checkbox",
      name: layer.key,
      checked: layer.active,
      onchange: (e) => layer.setActive(e.target.checked),
    });
    const row = h("div.layer-row", {
      dataset: { layer: layer.key, state: layer.active ? layer.state : "hidden", count: String(layer.count ?? "") },
    }, h("label", checkbox, h("span", t(LABELS[layer.key])), h("span.layer-note", note)));
    if (layer.key === "density" && layer.active) {
      row.append(h("select", {
        "aria-label": t("density.metric"),
        onchange: (e) => layer.setMetric(e.target.value),
      }, Object.keys(DENSITY_METRICS).map((metric) =>
        h("option", { value: metric, selected: metric === layer.metric }, t(`density.${metric}`)))));
    }
    return row;
  });
  fill(element, h("h3", t("layers.title")), rows);
}
