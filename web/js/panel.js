// The right-hand side panel: one grid's card (who is responsible, enterprises, hazards,
// coverage problems, assessment figures, child grids), or a list behind a KPI.
// Sections render as their data arrives; every section is an element with data-section,
// and the panel keeps the answers so a language switch re-renders without refetching.

import { fill, h } from "./dom.js";
import { describeFailure, formatNumber, t } from "../i18n.js";
import { sectorLabel } from "./overlays.js";

const RESPONSIBILITY = ["lead_official", "first_responsible", "liaison", "deputy_responsible", "direct_responsible"];
const FIELD_STAFF = ["grid_manager", "info_collector", "supervisor", "safety_officer", "patrol_officer"];
const RISKS = ["major", "high", "medium", "low"];
const PERSONS_SHOWN = 6;
const STATS_FIGURES = ["enterprises_inspected", "inspections", "hazards_found", "rectified", "rectification_rate",
  "overdue", "cases_filed", "fines"];

const chip = (cls, text) => h("span.chip", { class: cls }, text);
const figure = (label, value, { alert = false, key } = {}) => h("div.figure", {
  class: alert ? "alert" : "",
  dataset: key ? { figure: key, value: String(value ?? "") } : {},
}, h("div.value", value === null || value === undefined ? t("common.none") : formatNumber(value)), h("div.label", label));
const block = (key, title, ...content) => h("section.block", { dataset: { section: key } }, h("h3", title), ...content);
const pct = (value) => (value === null || value === undefined ? t("common.none") : `${formatNumber(value * 100, 1)}%`);
const m2 = (value) => formatNumber(value, 0);

export class Panel {
  /**
   * element: the <aside>; handlers: onSelect(code), onEnterprise(uscc), onFeature(feature),
   * onBack(), statusOf(code) → status, statsLink(code) → href, categoryLabel(id) → text.
   */
  constructor(element, handlers) {
    this.element = element;
    this.handlers = handlers;
    this.view = null;
  }

  rerender() {
    if (this.view) this.view();
  }

  empty() {
    this.view = () => fill(this.element, h("div.panel-empty", t("panel.empty")));
    this.view();
  }

  /**
   * detail: /grids/{code}; sources: {ledger, hazards, coverage, stats} promises (null when
   * not applicable). Resolved values are kept for re-rendering.
   */
  showGrid(detail, sources) {
    const answers = {};
    const token = {};
    this.token = token;
    const render = () => {
      if (this.token !== token) return;
      fill(this.element,
        this.head(detail, answers.coverage),
        this.persons(detail),
        this.section("enterprises", t("panel.enterprises"), answers, "ledger", (ledger) => this.enterprises(detail, ledger, answers.coverage)),
        this.section("hazards", t("panel.hazards"), answers, "hazards", (hz) => this.hazards(hz)),
        this.section("coverage", t("panel.coverage"), answers, "coverage", (report) => this.coverage(report)),
        this.section("stats", t("panel.stats"), answers, "stats", (stats) => this.stats(detail, stats)),
        detail.children_count ? this.section("children", t("panel.children"), answers, "children", (list) => this.children(list)) : null);
      this.element.dataset.gridCode = detail.code;
    };
    this.view = render;
    render();
    for (const [key, promise] of Object.entries(sources)) {
      if (!promise) {
        answers[key] = { value: null };
        continue;
      }
      promise.then((value) => { answers[key] = { value }; }, (error) => { answers[key] = { error }; })
        .then(() => render());
    }
  }

  section(key, title, answers, source, renderer) {
    const answer = answers[source];
    if (!answer) return block(key, title, h("div.loading", t("app.loading")));
    if (answer.error) {
      // A route this server does not have yet (404) hides the section instead of alarming anyone.
      if (answer.error.status === 404) return null;
      return block(key, title, h("div.error", t("panel.error", { message: answer.error.message })));
    }
    const content = renderer(answer.value);
    return content === null ? null : block(key, title, content);
  }

  head(detail, coverageAnswer) {
    const crumbs = [...detail.parents, detail];
    const report = coverageAnswer?.value;
    const status = report?.status || this.handlers.statusOf(detail.code);
    return h("div.grid-head",
      h("nav.crumbs", crumbs.map((g, i) => [
        i ? h("span.sep", "›") : null,
        g.code === detail.code ? h("span", g.name)
          : h("button", { type: "button", onclick: () => this.handlers.onSelect(g.code) }, g.name),
      ])),
      h("h2", { dataset: { gridName: detail.name } }, detail.name),
      h("div.meta",
        chip("level", t(`level.${detail.level}`)),
        chip(status, report ? `${t(`status.${status}`)} · ${t("status.score", { score: formatNumber(report.score, 1) })}` : t(`status.${status}`)),
        h("span", `${t("panel.code")} `, h("b", detail.code)),
        detail.synthetic ? chip("unknown", t("app.synthetic")) : null,
        detail.population ? h("span", `${t("panel.population")} `, h("b", formatNumber(detail.population))) : null,
        h("span", `${t("panel.area")} `, h("b", t("panel.km2", { value: formatNumber(detail.area_m2 / 1e6, 2) })))));
  }

  persons(detail) {
    const rows = [];
    for (const role of [...RESPONSIBILITY, ...FIELD_STAFF]) {
      const people = detail.persons[role];
      if (!people?.length) continue;
      const person = (p) => h("span.person",
        h("span.name", p.name),
        p.phone ? h("span.phone", p.phone) : null,
        p.full_time ? h("span.tag", t("panel.full_time")) : null,
        p.certificate_no ? h("span.tag", { title: p.certificate_no }, t("panel.certificate")) : null);
      // A township has dozens of safety officers: show a few, the rest on demand.
      const shown = people.length > PERSONS_SHOWN + 1 ? people.slice(0, PERSONS_SHOWN) : people;
      const rest = people.slice(shown.length);
      const more = rest.length ? h("button.link", {
        type: "button",
        onclick: (e) => e.currentTarget.replaceWith(...rest.map(person)),
      }, t("panel.persons.more", { count: rest.length })) : null;
      rows.push(h("dt", { dataset: { role } }, t(`role.${role}`), h("span.muted", ` ${people.length}`)),
        h("dd", { dataset: { role } }, shown.map(person), more));
    }
    return block("persons", t("panel.persons"),
      rows.length ? h("dl.persons", rows) : h("div.muted", t("panel.persons.none")));
  }

  enterprises(detail, ledger, coverageAnswer) {
    // Without a ledger (district level) the coverage report's total also counts the
    // enterprises no grid holds, which belong to the district.
    const total = ledger ? ledger.total : coverageAnswer?.value?.enterprises?.total ?? detail.enterprise_count;
    const byPlacement = ledger?.by_placement || coverageAnswer?.value?.enterprises?.by_placement || {};
    const figures = h("div.figures",
      figure(t("panel.enterprises.total"), total, { key: "enterprises" }),
      figure(t("placement.unplaced"), byPlacement.unplaced || 0, { alert: (byPlacement.unplaced || 0) > 0, key: "unplaced" }),
      figure(t("kpi.placement_review"), (byPlacement.ambiguous || 0) + (byPlacement.conflict || 0),
        { alert: (byPlacement.ambiguous || 0) + (byPlacement.conflict || 0) > 0, key: "placement_review" }));
    if (!ledger) return figures;
    const risks = h("div.risks", [...RISKS, "none"].filter((r) => ledger.by_risk[r] || (r === "none" && ledger.by_risk[""]))
      .map((r) => h("span.risk", { class: r, dataset: { risk: r } }, `${t(`risk.${r}`)} ${formatNumber(ledger.by_risk[r] ?? ledger.by_risk[""])}`)));
    const zhNames = Object.keys(ledger.by_sector_zh || {});
    const sectors = Object.entries(ledger.by_sector).map(([id, n], i) => [id, n, zhNames[i]]).sort((a, b) => b[1] - a[1]);
    const max = Math.max(1, ...sectors.map((s) => s[1]));
    return h("div", figures,
      h("div.sub-title", t("panel.by_risk")), risks,
      h("div.sub-title", t("panel.by_sector")),
      h("div.bars", sectors.map(([id, n, zh]) => [
        h("span", sectorLabel(id, zh)),
        h("span.bar", h("i", { style: { width: `${(100 * n) / max}%` } })),
        h("span.n", { dataset: { sector: id } }, formatNumber(n))])));
  }

  hazards(hz) {
    const list = hz.overdueList.length
      ? h("ul.plain", hz.overdueList.map((x) => h("li.bad", { dataset: { hazardId: String(x.id) } },
        `#${x.id} ${this.handlers.categoryLabel(x.category)} · ${t(`hazard.status.${x.status}`)} · `
        + t("panel.hazards.deadline", { date: x.deadline.slice(0, 10) }))))
      : h("div.muted", t("panel.hazards.none_overdue"));
    return h("div",
      h("div.figures",
        figure(t("panel.hazards.open"), hz.open, { key: "hazards_open" }),
        figure(t("panel.hazards.overdue"), hz.overdue, { alert: hz.overdue > 0, key: "hazards_overdue" }),
        figure(t("panel.hazards.total"), hz.total, { key: "hazards_total" })),
      h("div.sub-title", t("panel.hazards.overdue_list")), list);
  }

  /**
   * The grid's coverage problems. One rule keeps it consistent: every penalty in the score
   * is explained by a listed problem (stale grids too), and "no coverage problems" is said
   * only when nothing is listed and nothing is deducted. Clean boundaries with other
   * problems say so in a line of their own.
   */
  coverage(report) {
    const items = [];
    const names = new Map(report.grids.map((g) => [g.code, g.name]));
    const penalties = Object.entries(report.grids[0]?.penalties || {}).filter(([, v]) => v > 0);
    if (penalties.length) {
      items.push(h("li", { dataset: { penalties: penalties.map(([k]) => k).join(" ") } }, `${t("panel.coverage.penalties")}: `,
        penalties.map(([k, v]) => `${t(`penalty.${k}`)} −${formatNumber(v, 1)}`).join(t("common.list_sep"))));
    }
    const geometry = report.gaps.count + report.overlaps.count + report.outside_parent.count;
    for (const [key, section] of [["gaps", report.gaps], ["overlaps", report.overlaps], ["outside", report.outside_parent]]) {
      if (!section.count) continue;
      items.push(h("li.bad", { dataset: { problem: key } },
        h("button.link", { type: "button", onclick: () => section.features.forEach((f) => this.handlers.onFeature(f)) },
          t(`panel.coverage.${key}`, { count: formatNumber(section.count), area: m2(section.area_m2) }))));
    }
    if (report.no_first_responsible.length) {
      items.push(h("li.bad", { dataset: { problem: "no_first_responsible" } },
        t("panel.coverage.no_first", { count: report.no_first_responsible.length }), " ",
        h("span.muted", report.no_first_responsible.slice(0, 6).map((c) => names.get(c) || c).join(t("common.list_sep")))));
    }
    if (report.villages_understaffed.length) {
      items.push(h("li.bad", { dataset: { problem: "villages_understaffed" } },
        t("panel.coverage.villages_short", { count: report.villages_understaffed.length }),
        h("ul.plain", report.villages_understaffed.slice(0, 8).map((v) => h("li",
          h("button.link", { type: "button", onclick: () => this.handlers.onSelect(v.code) },
            t("panel.coverage.village_short", { name: v.name, actual: v.patrol_officers, required: v.required })))))));
    }
    if (report.townships_understaffed.length) {
      items.push(h("li.bad", { dataset: { problem: "townships_understaffed" } },
        t("panel.coverage.townships_short", { count: report.townships_understaffed.length }),
        h("ul.plain", report.townships_understaffed.flatMap((tw) => tw.failures.map((f) => h("li",
          h("button.link", { type: "button", onclick: () => this.handlers.onSelect(tw.code) },
            t("panel.coverage.township_rule", { name: tw.name, text: describeFailure(f) }))))))));
    }
    const issues = ["unplaced", "conflict", "ambiguous", "snapped"].flatMap((kind) =>
      (report.enterprises[kind] || []).map((e) => ({ ...e, kind })));
    if (issues.length) {
      items.push(h("li.bad", { dataset: { problem: "enterprises" } },
        `${t("panel.coverage.enterprise_issues")}: ${issues.length}`,
        h("ul.plain", issues.slice(0, 8).map((e) => h("li",
          h("button.link", { type: "button", onclick: () => this.handlers.onEnterprise(e.uscc) }, e.name),
          h("span.muted", ` · ${t(`placement.${e.kind}`)}`))))));
    }
    if (report.stale?.available && report.stale.grids.length) {
      items.push(h("li.bad", { dataset: { problem: "stale" } },
        t("panel.coverage.stale", { days: report.stale.days, count: report.stale.grids.length })));
    }
    if (!items.length) return h("div.muted", { dataset: { verdict: "none" } }, t("panel.coverage.none"));
    if (!geometry) items.unshift(h("li.muted", { dataset: { verdict: "boundaries_ok" } }, t("panel.coverage.boundaries_ok")));
    return h("ul.plain", items);
  }

  stats(detail, stats) {
    if (!stats) return null;
    const { assessment, row } = stats;
    if (!row) return null;
    const figures = h("div.figures", STATS_FIGURES.map((key) => figure(
      t(`stats.${key}`),
      key === "rectification_rate" ? null : row[key],
      { alert: key === "overdue" && row[key] > 0, key: `stats_${key}` })));
    // The rate is a percentage, not a count.
    const rate = figures.querySelector('[data-figure="stats_rectification_rate"] .value');
    if (rate) rate.textContent = pct(row.rectification_rate);
    const head = h("div.meta",
      chip(`grade-${row.grade}`, t(`grade.${row.grade}`)), " ",
      row.rank && assessment.townships.length > 1
        ? h("span", { dataset: { rank: String(row.rank) } }, t("panel.stats.rank", { rank: row.rank, total: assessment.townships.length }))
        : null, " ",
      h("span.muted", t("panel.stats.period", { from: assessment.from, to: assessment.to })));
    const parts = [head, figures];
    if (detail.code === assessment.code && assessment.townships.length > 1) {
      parts.push(h("div.sub-title", t("panel.stats.ranking")), h("table.ranking", h("tbody",
        assessment.townships.slice(0, 10).map((tw) => h("tr",
          h("td.n", String(tw.rank)),
          h("td", h("button.link", { type: "button", onclick: () => this.handlers.onSelect(tw.code) }, tw.name)),
          h("td.n", pct(tw.rectification_rate)),
          h("td", chip(`grade-${tw.grade}`, t(`grade.${tw.grade}`))))))));
    }
    parts.push(h("p", h("a", { href: this.handlers.statsLink(detail.code) }, t("panel.stats.table"))));
    return h("div", parts);
  }

  children(list) {
    if (!list?.length) return null;
    return h("div.children", list.map((c) => h("button", {
      type: "button",
      class: this.handlers.statusOf(c.code),
      dataset: { childCode: c.code },
      title: c.count !== undefined ? t("panel.children.count", { count: c.count }) : c.name,
      onclick: () => this.handlers.onSelect(c.code),
    }, h("span", c.name), c.count !== undefined ? h("span.n", formatNumber(c.count)) : null)));
  }

  /** A list behind a KPI: title, items [{text, sub, onClick}]. */
  showList(kind, title, items, note) {
    this.token = {};
    this.view = () => fill(this.element,
      h("div.grid-head", h("nav.crumbs", h("button", { type: "button", onclick: () => this.handlers.onBack() }, `‹ ${t("panel.back")}`)),
        h("h2", title())),
      h("section.block", { dataset: { section: `list-${kind}` } },
        note ? h("div.muted", note()) : null,
        items().length ? h("ul.plain", items().map((item) => h("li", { class: item.bad ? "bad" : "" },
          item.onClick ? h("button.link", { type: "button", onclick: item.onClick }, item.text) : item.text,
          item.sub ? h("div.muted", item.sub) : null)))
          : h("div.muted", t("panel.coverage.none"))));
    this.view();
  }
}
