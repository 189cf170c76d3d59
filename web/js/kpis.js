// The figures across the top of the map: what the command centre acts on, for the grid
// selected on the map — the user's whole area until they drill down, then the township or
// village they opened (named at the start of the strip, so a figure is never read as the
// district's when it is a village's). Each card carries data-kpi and data-value; the strip
// carries data-kpi-code.

import { fill, h } from "./dom.js";
import { formatNumber, t } from "../i18n.js";

/**
 * grid: {code, name} the figures are for; report: its coverage report (or null while
 * loading); hazards: {open, overdue} (or null); onPick(kind) opens the matching list.
 */
export function renderKpis(element, { grid, report, hazards, onPick }) {
  const enterprises = report?.enterprises;
  const placement = enterprises?.by_placement || {};
  const understaffed = report ? report.villages_understaffed.length + report.townships_understaffed.length
    + report.no_first_responsible.length : null;
  const cards = [
    { kind: "enterprises", label: "kpi.enterprises", value: enterprises?.total },
    { kind: "unplaced", label: "kpi.unplaced", value: enterprises ? placement.unplaced || 0 : null, alert: true },
    { kind: "placement_review", label: "kpi.placement_review",
      value: enterprises ? (placement.ambiguous || 0) + (placement.conflict || 0) : null, alert: true },
    { kind: "overdue", label: "kpi.overdue", value: hazards?.overdue, alert: true,
      detail: hazards ? `${t("kpi.open")} ${formatNumber(hazards.open)}` : null },
    { kind: "gaps", label: "kpi.gaps", value: report?.gaps.count, alert: true,
      detail: report ? t("kpi.area", { area: formatNumber(report.gaps.area_m2) }) : null },
    { kind: "overlaps", label: "kpi.overlaps", value: report?.overlaps.count, alert: true,
      detail: report ? t("kpi.area", { area: formatNumber(report.overlaps.area_m2) }) : null },
    { kind: "understaffed", label: "kpi.understaffed", value: understaffed, alert: true },
  ];
  element.dataset.kpiCode = grid?.code || "";
  const scope = h("div.kpi-scope", { title: grid ? `${grid.name} ${grid.code}` : "" },
    h("span", t("kpi.scope")), h("b", grid ? grid.name : "…"));
  fill(element, scope, cards.map((card) => {
    const known = card.value !== null && card.value !== undefined;
    const cls = known && card.alert ? (card.value > 0 ? "alert" : "good") : "";
    return h("button.kpi", {
      type: "button",
      class: cls,
      dataset: { kpi: card.kind, value: known ? String(card.value) : "" },
      onclick: () => onPick(card.kind),
    },
    h("div.value", known ? formatNumber(card.value) : "…"),
    h("div.label", t(card.label)),
    card.detail ? h("div.detail", card.detail) : null);
  }));
}
