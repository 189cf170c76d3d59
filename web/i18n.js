// Every string the dashboard shows, in zh-CN (default) and English.
// Static markup names its string with data-i18n / data-i18n-placeholder / data-i18n-title;
// scripts call t(key, {name: value}). Data (grid, person, enterprise names) is shown as stored.

const STORAGE_KEY = "gridmap.lang";

const DICT = {
  zh: {
    "app.title": "安全生产网格化监管",
    "app.subtitle": "网格化信息指挥中心",
    "app.loading": "正在加载…",
    "app.synthetic": "示例数据：边界为合成数据",
    "lang.switch": "EN",
    "lang.switch.title": "Switch to English",
    "nav.stats": "考核统计表",
    "nav.docs": "接口文档",
    "user.logout": "退出",
    "user.role.admin": "指挥中心",
    "user.role.township_leader": "街镇领导",
    "user.role.grid_staff": "网格员",
    "user.role.authority": "上级部门",

    "login.title": "登录",
    "login.username": "用户名",
    "login.password": "密码",
    "login.submit": "登录",
    "login.busy": "正在登录…",
    "login.expired": "登录已失效，请重新登录",
    "login.hint": "安全生产网格化监管平台 · 仅限授权人员使用",

    "search.placeholder": "搜索企业名称或统一社会信用代码",
    "search.none": "没有找到匹配的企业",
    "search.more": "共 {count} 家，仅显示前 {shown} 家",
    "search.no_location": "该企业没有坐标，已定位到所在网格",
    "search.unplaced": "该企业未落格，无法在地图上定位",

    "map.zoom_in": "放大",
    "map.zoom_out": "缩小",
    "layers.title": "图层",
    "layers.grids": "网格边界（按覆盖评分着色）",
    "layers.coverage": "覆盖缺口 / 重叠",
    "layers.enterprises": "企业",
    "layers.hazards": "隐患",
    "layers.density": "H3 密度",
    "layers.basemap": "底图",
    "layers.loading": "加载中",
    "layers.error": "加载失败",
    "layers.zoom_in": "放大查看",
    "density.metric": "密度指标",
    "density.enterprises": "企业数（家/km²）",
    "density.enterprises_weighted": "风险加权企业（/km²）",
    "density.hazards_weighted": "未闭环隐患（加权，/km²）",

    "legend.title": "图例",
    "legend.status": "网格覆盖评分",
    "legend.coverage": "覆盖问题",
    "legend.gap": "缺口（未被下级网格覆盖）",
    "legend.overlap": "重叠（两个网格重复划定）",
    "legend.outside_parent": "越界（超出上级网格）",
    "legend.risk": "企业风险等级",
    "legend.aggregated": "圆圈大小 = 企业数（放大后显示单个企业）",
    "legend.hazards": "隐患",
    "legend.hazard.open": "未闭环",
    "legend.hazard.overdue": "逾期",
    "legend.hazard.closed": "已闭环",
    "legend.density": "H3 密度",
    "legend.density.overdue": "红框：含逾期隐患",
    "legend.selected": "当前选中",

    "status.ok": "正常",
    "status.warning": "预警",
    "status.problem": "问题",
    "status.unknown": "未评估",
    "status.score": "评分 {score}",

    "level.district": "区县",
    "level.township": "街道/镇",
    "level.direct": "区级直辖网格",
    "level.village": "村/社区",
    "level.micro": "微网格",

    "kpi.scope": "统计范围",
    "kpi.enterprises": "企业总数",
    "kpi.unplaced": "未落格企业",
    "kpi.placement_review": "落格待核实",
    "kpi.overdue": "逾期隐患",
    "kpi.open": "未闭环隐患",
    "kpi.gaps": "覆盖缺口",
    "kpi.overlaps": "网格重叠",
    "kpi.understaffed": "人员不足网格",
    "kpi.area": "{area} m²",

    "panel.empty": "点击地图上的网格查看详情",
    "panel.population": "人口",
    "panel.area": "面积",
    "panel.code": "编码",
    "panel.km2": "{value} km²",
    "panel.persons": "网格责任人与网格力量",
    "panel.persons.none": "未登记人员",
    "panel.persons.more": "另 {count} 人…",
    "panel.full_time": "专职",
    "panel.certificate": "执法证",
    "panel.enterprises": "企业",
    "panel.enterprises.total": "企业总数",
    "panel.by_risk": "按风险等级",
    "panel.by_sector": "按行业",
    "panel.hazards": "隐患",
    "panel.hazards.open": "未闭环",
    "panel.hazards.overdue": "逾期",
    "panel.hazards.total": "累计",
    "panel.hazards.overdue_list": "逾期隐患",
    "panel.hazards.none_overdue": "无逾期隐患",
    "panel.hazards.deadline": "期限 {date}",
    "panel.coverage": "覆盖问题",
    "panel.coverage.none": "未发现覆盖问题",
    "panel.coverage.gaps": "缺口 {count} 处，{area} m²",
    "panel.coverage.overlaps": "重叠 {count} 处，{area} m²",
    "panel.coverage.outside": "越界 {count} 处，{area} m²",
    "panel.coverage.no_first": "无第一责任人的网格：{count}",
    "panel.coverage.villages_short": "巡查员不足的村/社区：{count}",
    "panel.coverage.village_short": "{name}：巡查员 {actual}/{required}",
    "panel.coverage.townships_short": "安全员配备不达标的街镇：{count}",
    "panel.coverage.township_rule": "{name}：{text}",
    "panel.coverage.boundaries_ok": "边界：无缺口、重叠或越界",
    "panel.coverage.enterprise_issues": "落格异常企业",
    "panel.coverage.stale": "{days} 天内无检查/巡查/隐患记录的网格：{count}",
    "panel.coverage.penalties": "扣分项",
    "panel.stats": "考核统计",
    "panel.stats.rank": "街镇排名 第 {rank} / {total}",
    "panel.stats.period": "{from} 至 {to}",
    "panel.stats.table": "查看考核统计表",
    "panel.stats.ranking": "街镇排名（整改率）",
    "panel.children": "下级网格",
    "panel.children.count": "{count} 家企业",
    "panel.error": "加载失败：{message}",
    "panel.back": "返回上级",

    "penalty.coverage": "边界覆盖",
    "penalty.first_responsible": "无第一责任人",
    "penalty.staffing": "人员配备",
    "penalty.enterprises": "企业落格",
    "penalty.stale": "长期无活动",

    // The same sentences as gridmap.coverage.FAILURE_TEXTS (the report and the CLI).
    "part.safety_staff": "安全员按常住人口配备不足：应有 {required} 名，实有 {actual} 名，缺 {missing} 名",
    "part.full_time_safety_staff": "辖区企业数达到专职配备标准，专职安全员不足：应有 {required} 名，实有 {actual} 名，缺 {missing} 名",
    "part.director": "“1+2+N”队伍缺负责人：没有专职的具体责任人（“1”）",
    "part.certified_professionals": "“1+2+N”队伍持执法证专业人员不足：应有 {required} 名，实有 {actual} 名，缺 {missing} 名",
    "part.team_size": "“1+2+N”队伍安全员总数不足：应有 {required} 名，实有 {actual} 名，缺 {missing} 名",

    "stats.enterprises_inspected": "检查企业数",
    "stats.inspections": "检查次数",
    "stats.hazards_found": "发现隐患",
    "stats.rectified": "已整改销号",
    "stats.rectification_rate": "整改率",
    "stats.overdue": "逾期未改",
    "stats.cases_filed": "立案数",
    "stats.fines": "罚款（元）",
    "stats.plan_completion": "计划完成率",
    "grade.green": "绿",
    "grade.yellow": "黄",
    "grade.red": "红",
    "grade.none": "无隐患",

    "role.lead_official": "挂点领导",
    "role.first_responsible": "第一责任人",
    "role.liaison": "联点责任人",
    "role.deputy_responsible": "分管责任人",
    "role.direct_responsible": "具体责任人",
    "role.grid_manager": "网格管理员",
    "role.info_collector": "民情员",
    "role.supervisor": "监督员",
    "role.safety_officer": "安全员",
    "role.patrol_officer": "巡查员",

    "risk.major": "重大风险",
    "risk.high": "较大风险",
    "risk.medium": "一般风险",
    "risk.low": "低风险",
    "risk.none": "未评定",

    "placement.exact": "坐标落格",
    "placement.snapped": "吸附落格",
    "placement.address": "地址落格",
    "placement.ambiguous": "地址歧义",
    "placement.conflict": "坐标与地址不符",
    "placement.unplaced": "未落格",

    "sector.hazardous_chemicals": "危险化学品",
    "sector.metal_smelting": "金属冶炼",
    "sector.dust_explosion": "粉尘涉爆",
    "sector.construction": "建筑施工",
    "sector.road_transport": "道路运输",
    "sector.crowded_places": "人员密集场所",
    "sector.fireworks": "烟花爆竹",
    "sector.non_coal_mines": "非煤矿山",
    "sector.cold_storage": "冷库",
    "sector.gas_stations": "加油站",
    "sector.gas": "燃气",
    "sector.general_manufacturing": "一般制造业",
    "sector.other": "其他",

    "hazard.status.reported": "已上报",
    "hazard.status.filed": "已立案",
    "hazard.status.dispatched": "已派遣",
    "hazard.status.rectifying": "整改中",
    "hazard.status.verifying": "待核查",
    "hazard.status.closed": "已结案",
    "hazard.status.rejected": "不予立案",
    "hazard.grade.general": "一般隐患",
    "hazard.grade.major": "重大隐患",
    "hazard.overdue": "逾期",
    "hazard.grade": "等级",
    "hazard.state": "状态",

    "enterprise.uscc": "统一社会信用代码",
    "enterprise.sector": "行业",
    "enterprise.risk": "风险等级",
    "enterprise.placement": "落格",
    "enterprise.grid": "所在网格",
    "enterprise.address": "地址",
    "enterprise.department": "主管部门",
    "enterprise.show_grid": "查看所在网格",
    "enterprise.count": "{count} 家企业",
    "hazard.count": "{count} 处未闭环隐患（{overdue} 处逾期）",
    "density.cell": "H3 第 {res} 级单元",
    "density.tooltip": "企业 {enterprises} 家（加权 {weighted}）；未闭环隐患 {hazards}，逾期 {overdue}",

    "error.network": "无法连接服务器",
    "error.generic": "请求失败（{status}）",
    "common.none": "—",
    "common.list_sep": "，",
    "common.yes": "是",
    "common.no": "否",
  },
  en: {
    "app.title": "Work-Safety Grid Supervision",
    "app.subtitle": "Grid Command Centre",
    "app.loading": "Loading…",
    "app.synthetic": "Sample data: synthetic boundaries",
    "lang.switch": "中文",
    "lang.switch.title": "切换到中文",
    "nav.stats": "Assessment table",
    "nav.docs": "API docs",
    "user.logout": "Log out",
    "user.role.admin": "Command centre",
    "user.role.township_leader": "Township leader",
    "user.role.grid_staff": "Grid staff",
    "user.role.authority": "Authority",

    "login.title": "Log in",
    "login.username": "Username",
    "login.password": "Password",
    "login.submit": "Log in",
    "login.busy": "Logging in…",
    "login.expired": "Your session has expired; please log in again",
    "login.hint": "Work-safety grid supervision · authorised staff only",

    "search.placeholder": "Search enterprises by name or USCC",
    "search.none": "No matching enterprise",
    "search.more": "{count} found, showing the first {shown}",
    "search.no_location": "No coordinates: showing the enterprise's grid",
    "search.unplaced": "This enterprise is not placed in any grid",

    "map.zoom_in": "Zoom in",
    "map.zoom_out": "Zoom out",
    "layers.title": "Layers",
    "layers.grids": "Grids (coloured by coverage score)",
    "layers.coverage": "Coverage gaps / overlaps",
    "layers.enterprises": "Enterprises",
    "layers.hazards": "Hazards",
    "layers.density": "H3 density",
    "layers.basemap": "Basemap",
    "layers.loading": "loading",
    "layers.error": "failed to load",
    "layers.zoom_in": "zoom in",
    "density.metric": "Density of",
    "density.enterprises": "Enterprises (per km²)",
    "density.enterprises_weighted": "Risk-weighted enterprises (per km²)",
    "density.hazards_weighted": "Open hazards, weighted (per km²)",

    "legend.title": "Legend",
    "legend.status": "Grid coverage score",
    "legend.coverage": "Coverage problems",
    "legend.gap": "Gap (not covered by any child grid)",
    "legend.overlap": "Overlap (claimed by two grids)",
    "legend.outside_parent": "Outside its parent grid",
    "legend.risk": "Enterprise risk level",
    "legend.aggregated": "Circle size = enterprises (zoom in for single ones)",
    "legend.hazards": "Hazards",
    "legend.hazard.open": "open",
    "legend.hazard.overdue": "overdue",
    "legend.hazard.closed": "closed",
    "legend.density": "H3 density",
    "legend.density.overdue": "Red outline: has overdue hazards",
    "legend.selected": "Selected",

    "status.ok": "OK",
    "status.warning": "Warning",
    "status.problem": "Problem",
    "status.unknown": "Not assessed",
    "status.score": "Score {score}",

    "level.district": "District",
    "level.township": "Township",
    "level.direct": "District direct grid",
    "level.village": "Village",
    "level.micro": "Micro-grid",

    "kpi.scope": "Figures for",
    "kpi.enterprises": "Enterprises",
    "kpi.unplaced": "Unplaced enterprises",
    "kpi.placement_review": "Placement to check",
    "kpi.overdue": "Overdue hazards",
    "kpi.open": "Open hazards",
    "kpi.gaps": "Coverage gaps",
    "kpi.overlaps": "Grid overlaps",
    "kpi.understaffed": "Understaffed grids",
    "kpi.area": "{area} m²",

    "panel.empty": "Click a grid on the map for its details",
    "panel.population": "Population",
    "panel.area": "Area",
    "panel.code": "Code",
    "panel.km2": "{value} km²",
    "panel.persons": "Responsible persons and field staff",
    "panel.persons.none": "No one registered",
    "panel.persons.more": "{count} more…",
    "panel.full_time": "full-time",
    "panel.certificate": "certificate",
    "panel.enterprises": "Enterprises",
    "panel.enterprises.total": "Enterprises",
    "panel.by_risk": "By risk level",
    "panel.by_sector": "By sector",
    "panel.hazards": "Hazards",
    "panel.hazards.open": "Open",
    "panel.hazards.overdue": "Overdue",
    "panel.hazards.total": "All time",
    "panel.hazards.overdue_list": "Overdue hazards",
    "panel.hazards.none_overdue": "No overdue hazards",
    "panel.hazards.deadline": "due {date}",
    "panel.coverage": "Coverage problems",
    "panel.coverage.none": "No coverage problems found",
    "panel.coverage.gaps": "{count} gaps, {area} m²",
    "panel.coverage.overlaps": "{count} overlaps, {area} m²",
    "panel.coverage.outside": "{count} outside the parent, {area} m²",
    "panel.coverage.no_first": "Grids without a first responsible person: {count}",
    "panel.coverage.villages_short": "Villages short of patrol officers: {count}",
    "panel.coverage.village_short": "{name}: {actual}/{required} patrol officers",
    "panel.coverage.townships_short": "Townships short of safety staff: {count}",
    "panel.coverage.township_rule": "{name}: {text}",
    "panel.coverage.boundaries_ok": "Boundaries: no gaps, overlaps or areas outside the parent",
    "panel.coverage.enterprise_issues": "Enterprises with placement problems",
    "panel.coverage.stale": "Grids without inspection, patrol or hazard in {days} days: {count}",
    "panel.coverage.penalties": "Penalties",
    "panel.stats": "Assessment",
    "panel.stats.rank": "Township rank {rank} of {total}",
    "panel.stats.period": "{from} to {to}",
    "panel.stats.table": "Open the assessment table",
    "panel.stats.ranking": "Township ranking (rectification rate)",
    "panel.children": "Child grids",
    "panel.children.count": "{count} enterprises",
    "panel.error": "Failed to load: {message}",
    "panel.back": "Up one level",

    "penalty.coverage": "Boundary coverage",
    "penalty.first_responsible": "No first responsible",
    "penalty.staffing": "Staffing",
    "penalty.enterprises": "Enterprise placement",
    "penalty.stale": "No recent activity",

    "part.safety_staff": "too few safety staff for the population: {required} required, {actual} in post, {missing} missing",
    "part.full_time_safety_staff": "too few full-time safety staff for the enterprises: {required} required, {actual} in post, {missing} missing",
    "part.director": "the \"1+2+N\" team has no director: no full-time directly responsible person (the \"1\")",
    "part.certified_professionals": "the \"1+2+N\" team lacks certified professionals: {required} required, {actual} in post, {missing} missing",
    "part.team_size": "the \"1+2+N\" team is too small: {required} safety staff required, {actual} in post, {missing} missing",

    "stats.enterprises_inspected": "Enterprises inspected",
    "stats.inspections": "Inspections",
    "stats.hazards_found": "Hazards found",
    "stats.rectified": "Rectified",
    "stats.rectification_rate": "Rectification rate",
    "stats.overdue": "Overdue",
    "stats.cases_filed": "Cases filed",
    "stats.fines": "Fines (yuan)",
    "stats.plan_completion": "Plan completion",
    "grade.green": "green",
    "grade.yellow": "yellow",
    "grade.red": "red",
    "grade.none": "no hazards",

    "role.lead_official": "Lead official",
    "role.first_responsible": "First responsible",
    "role.liaison": "Liaison",
    "role.deputy_responsible": "Deputy responsible",
    "role.direct_responsible": "Directly responsible",
    "role.grid_manager": "Grid manager",
    "role.info_collector": "Information collector",
    "role.supervisor": "Supervisor",
    "role.safety_officer": "Safety officer",
    "role.patrol_officer": "Patrol officer",

    "risk.major": "Major",
    "risk.high": "High",
    "risk.medium": "Medium",
    "risk.low": "Low",
    "risk.none": "Not rated",

    "placement.exact": "By coordinates",
    "placement.snapped": "Snapped",
    "placement.address": "By address",
    "placement.ambiguous": "Ambiguous address",
    "placement.conflict": "Address disagrees",
    "placement.unplaced": "Unplaced",

    "sector.hazardous_chemicals": "Hazardous chemicals",
    "sector.metal_smelting": "Metal smelting",
    "sector.dust_explosion": "Dust explosion risk",
    "sector.construction": "Construction",
    "sector.road_transport": "Road transport",
    "sector.crowded_places": "Crowded places",
    "sector.fireworks": "Fireworks",
    "sector.non_coal_mines": "Non-coal mines",
    "sector.cold_storage": "Cold storage",
    "sector.gas_stations": "Gas stations",
    "sector.gas": "Gas supply",
    "sector.general_manufacturing": "General manufacturing",
    "sector.other": "Other",

    "hazard.status.reported": "Reported",
    "hazard.status.filed": "Filed",
    "hazard.status.dispatched": "Dispatched",
    "hazard.status.rectifying": "Rectifying",
    "hazard.status.verifying": "Verifying",
    "hazard.status.closed": "Closed",
    "hazard.status.rejected": "Rejected",
    "hazard.grade.general": "General hazard",
    "hazard.grade.major": "Major hazard",
    "hazard.overdue": "Overdue",
    "hazard.grade": "Grade",
    "hazard.state": "Status",

    "enterprise.uscc": "USCC",
    "enterprise.sector": "Sector",
    "enterprise.risk": "Risk level",
    "enterprise.placement": "Placement",
    "enterprise.grid": "Grid",
    "enterprise.address": "Address",
    "enterprise.department": "Department",
    "enterprise.show_grid": "Show its grid",
    "enterprise.count": "{count} enterprises",
    "hazard.count": "{count} open hazards ({overdue} overdue)",
    "density.cell": "H3 cell, resolution {res}",
    "density.tooltip": "{enterprises} enterprises (weighted {weighted}); {hazards} open hazards, {overdue} overdue",

    "error.network": "Cannot reach the server",
    "error.generic": "Request failed ({status})",
    "common.none": "—",
    "common.list_sep": ", ",
    "common.yes": "yes",
    "common.no": "no",
  },
};

const listeners = new Set();
let current = (() => {
  try {
    const saved = localStorage.getItem(STORAGE_KEY);
    return saved && DICT[saved] ? saved : "zh";
  } catch {
    return "zh";
  }
})();

/** The current language: "zh" or "en". */
export function lang() {
  return current;
}

/** Translate a key, filling {placeholders}; unknown keys fall back to zh, then the key. */
export function t(key, vars = {}) {
  const text = DICT[current][key] ?? DICT.zh[key] ?? key;
  return text.replace(/\{(\w+)\}/g, (_, name) => (name in vars ? String(vars[name]) : `{${name}}`));
}

/** True when the dictionary has the key (for data-driven keys such as sectors). */
export function has(key) {
  return key in DICT[current] || key in DICT.zh;
}

/** Fill the data-i18n* attributes under root. */
export function applyI18n(root = document) {
  document.documentElement.lang = current === "zh" ? "zh-CN" : "en";
  for (const el of root.querySelectorAll("[data-i18n]")) el.textContent = t(el.dataset.i18n);
  for (const el of root.querySelectorAll("[data-i18n-placeholder]")) el.placeholder = t(el.dataset.i18nPlaceholder);
  for (const el of root.querySelectorAll("[data-i18n-title]")) el.title = t(el.dataset.i18nTitle);
}

/** Switch language, remember it, re-label the page and tell the listeners. */
export function setLang(next) {
  if (!DICT[next] || next === current) return;
  current = next;
  try {
    localStorage.setItem(STORAGE_KEY, next);
  } catch {
    /* private mode: the choice lasts for this page only */
  }
  applyI18n();
  for (const listener of listeners) listener(next);
}

/** A township staffing failure ({part, required, actual}) in words naming what is missing. */
export function describeFailure(failure) {
  return t(`part.${failure.part}`, { ...failure, missing: failure.required - failure.actual });
}

/** Call listener(lang) after every switch. */
export function onLangChange(listener) {
  listeners.add(listener);
}

/** Numbers the Chinese way or the English way. */
export function formatNumber(value, digits = 0) {
  if (value === null || value === undefined || Number.isNaN(value)) return t("common.none");
  return Number(value).toLocaleString(current === "zh" ? "zh-CN" : "en-GB", {
    maximumFractionDigits: digits,
    minimumFractionDigits: 0,
  });
}
