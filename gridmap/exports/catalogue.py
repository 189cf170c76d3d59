"""The layer catalogue: what an export or an OGC API collection holds, field by field.

Layers (ASCII-safe names, Chinese titles):

====================  =====================  ==========================================
layer                 title                  rows
====================  =====================  ==========================================
``grids_district``    区县网格                grids of one level of the boundary set
``grids_township``    街道/镇网格              (one layer per level present)
``grids_direct``      区级直辖网格
``grids_village``     村/社区网格
``grids_micro``       微网格
``enterprises``       生产经营单位            enterprises (一企一档), point or no geometry
``hazards``           隐患                    hazards, point or no geometry
``persons``           网格人员                attribute table: people with a role in the subtree
``role_assignments``  网格职责                attribute table: person × grid × role
====================  =====================  ==========================================

Every field has an English snake_case ``name`` (GeoPackage, GeoJSON, OGC API, English
CSV headers), a ``short`` name of at most 10 characters (Shapefile), a Chinese label
``zh`` (CSV/XLSX headers, GeoPackage column titles, KML) and an English description.
Coded values (level, sector, risk level, status …) come with a ``…_zh`` field holding
their Chinese name.

Every layer is read by one SQL statement assembled from the pieces below only — no
identifier ever comes from a request. Rows are restricted to a subtree (grid codes that
start with ``CODE``) and to the caller's scope; the OGC API adds property filters, a
bbox and paging, always as bound parameters.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from decimal import Decimal

from sqlalchemy import text
from sqlalchemy.orm import Session

from gridmap.auth import Scope
from gridmap.codes import LEVEL_NAMES_ZH, LEVELS, subtree_sql
from gridmap.errors import InvalidInput
from gridmap.models import ROLE_NAMES_ZH
from gridmap.taxonomy import (
    RISK_LEVELS,
    SCALES,
    Taxonomy,
    load_hazard_categories,
    load_sectors,
)

#: China Standard Time: every time in an export is written in it (ISO 8601, +08:00).
CST = timezone(timedelta(hours=8))

PLACEMENT_NAMES_ZH = {"exact": "坐标落格", "snapped": "就近吸附落格", "address": "地址匹配落格",
                      "ambiguous": "地址对应多个村", "conflict": "坐标与地址不符",
                      "unplaced": "未落格"}
HAZARD_GRADE_NAMES_ZH = {"general": "一般隐患", "major": "重大隐患"}
HAZARD_SOURCE_NAMES_ZH = {"inspection": "执法检查", "self_report": "企业自查",
                          "public_report": "群众举报", "patrol": "网格巡查"}
HAZARD_STATE_NAMES_ZH = {"reported": "已上报", "filed": "已立案", "dispatched": "已派遣",
                         "rectifying": "整改中", "verifying": "待核查", "closed": "已结案",
                         "rejected": "不予立案"}
_OPEN_STATES = "('reported', 'filed', 'dispatched', 'rectifying', 'verifying')"
LEVEL_NAMES_EN = {"district": "District", "township": "Township", "direct": "District direct",
                  "village": "Village", "micro": "Micro"}


@dataclass(frozen=True)
class Labels:
    """The taxonomies that turn coded values into Chinese names."""

    sectors: Taxonomy
    hazard_categories: Taxonomy

    @classmethod
    def load(cls, sectors_file: str | None = None, hazard_categories_file: str | None = None) -> Labels:
        """The deployment's taxonomies (files from ``TaxonomySettings``), defaults otherwise."""
        return cls(load_sectors(sectors_file or None), load_hazard_categories(hazard_categories_file or None))


def _label(taxonomy: Taxonomy, value: str | None) -> str | None:
    if value is None:
        return None
    try:
        return taxonomy.label(value)
    except InvalidInput:
        # A category dropped from a deployment's taxonomy still exports its stored id.
        return value


@dataclass(frozen=True)
class Field:
    """One attribute of a layer.

    ``sql`` is the expression selected (None for a value derived in Python from the
    row); ``derive`` post-processes the row (``derive(row, labels)``); ``type`` is
    ``str``, ``int``, ``float``, ``bool`` or ``datetime`` (written as ISO 8601 text in
    China Standard Time). ``filterable`` fields are OGC API query parameters;
    ``tabular_only`` fields (longitude/latitude columns) appear only where the format
    has no geometry of its own (CSV, XLSX).
    """

    name: str
    short: str
    zh: str
    en: str
    type: str = "str"
    sql: str | None = None
    derive: Callable[[dict, Labels], object] | None = None
    filterable: bool = False
    tabular_only: bool = False


def _zh(source: str, names: dict[str, str]) -> Callable[[dict, Labels], object]:
    return lambda row, labels: names.get(row[source], row[source]) if row[source] is not None else None


@dataclass(frozen=True)
class LayerSpec:
    """A layer: its fields and the SQL pieces that read it.

    ``from_sql`` and ``where`` templates may hold ``{subtree:COLUMN}``, replaced by the
    subtree and scope condition on that grid-code column.
    """

    name: str
    kind: str
    title_zh: str
    title_en: str
    description_zh: str
    description_en: str
    geometry_type: str | None
    fields: tuple[Field, ...]
    id_field: str
    from_sql: str
    where: tuple[str, ...]
    order_by: str
    geom: str | None = None
    geom_3857: str | None = None
    #: Column compared with the OGC ``datetime`` parameter.
    time_column: str | None = None
    level: str | None = None

    def field(self, name: str) -> Field:
        for candidate in self.fields:
            if candidate.name == name:
                return candidate
        raise KeyError(name)

    def output_fields(self, *, tabular: bool) -> tuple[Field, ...]:
        """The fields a format writes: with the lon/lat columns only for tabular ones."""
        return tuple(f for f in self.fields if tabular or not f.tabular_only)

    @property
    def filterable(self) -> dict[str, Field]:
        return {f.name: f for f in self.fields if f.filterable}


# ------------------------------------------------------------------------- grids

_FIRST_RESPONSIBLE = ("(SELECT string_agg(p.name, '、' ORDER BY p.name, p.id) FROM role_assignment r "
                      "JOIN person p ON p.id = r.person_id "
                      "WHERE r.grid_code = g.code AND r.role = 'first_responsible')")
_FIRST_RESPONSIBLE_PHONE = ("(SELECT string_agg(COALESCE(p.phone, '-'), '、' ORDER BY p.name, p.id) "
                            "FROM role_assignment r JOIN person p ON p.id = r.person_id "
                            "WHERE r.grid_code = g.code AND r.role = 'first_responsible')")
# The subtree of a grid is "home codes starting with its code"; written as a range so
# the text_pattern_ops index on home_code serves it ('~' sorts after digits and 'Z').
_ENTERPRISE_COUNT = ("(SELECT count(*) FROM enterprise e "
                     "WHERE e.home_code ~>=~ g.code AND e.home_code ~<~ (g.code || '~'))")

GRID_FIELDS: tuple[Field, ...] = (
    Field("code", "code", "网格编码", "grid code (GB/T 2260 and extensions)", sql="g.code", filterable=True),
    Field("name", "name", "网格名称", "grid name", sql="g.name", filterable=True),
    Field("level", "level", "层级", "level: district, township, direct, village, micro", sql="g.level",
          filterable=True),
    Field("level_zh", "level_zh", "层级名称", "level in Chinese", derive=_zh("level", LEVEL_NAMES_ZH)),
    Field("parent_code", "parent", "上级网格编码", "parent grid code", sql="g.parent_code", filterable=True),
    Field("district_code", "district", "区县编码", "district code", sql="g.district_code", filterable=True),
    Field("population", "population", "人口", "resident population", "int", sql="g.population"),
    Field("area_m2", "area_m2", "面积（平方米）", "geodesic area on the CGCS2000 ellipsoid, m²", "float",
          sql="round(g.area_m2::numeric, 1)::float8"),
    Field("synthetic", "synthetic", "合成边界", "true: a generated sample polygon, not an official boundary",
          "bool", sql="g.synthetic", filterable=True),
    Field("is_leaf", "is_leaf", "末级网格", "true: a bottom-level grid, where enterprises are placed", "bool",
          sql="g.is_leaf", filterable=True),
    Field("first_responsible", "first_resp", "第一责任人", "first responsible person(s) of the grid",
          sql=_FIRST_RESPONSIBLE),
    Field("first_responsible_phone", "fr_phone", "第一责任人电话", "their phone number(s), same order",
          sql=_FIRST_RESPONSIBLE_PHONE),
    Field("enterprises", "ent_count", "企业数", "enterprises placed in the grid or below it", "int",
          sql=_ENTERPRISE_COUNT),
)


def grid_layer(level: str) -> LayerSpec:
    """The layer of the grids of one level (``grids_township`` …)."""
    if level not in LEVELS:
        raise InvalidInput(f"未知层级 {level}", f"unknown level {level}")
    zh = LEVEL_NAMES_ZH[level]
    return LayerSpec(
        name=f"grids_{level}", kind="grids", level=level,
        title_zh=f"{zh}网格", title_en=f"{LEVEL_NAMES_EN[level]} grids",
        description_zh=f"{zh}级网格边界（CGCS2000），含上级编码、人口、面积、第一责任人和企业数；"
                       "synthetic 为真表示样例合成边界，非官方界线",
        description_en=f"{LEVEL_NAMES_EN[level].lower()} grid boundaries (CGCS2000) with parent code, "
                       "population, area, first responsible person and enterprise count; synthetic=true "
                       "marks generated sample polygons, not official boundaries",
        geometry_type="MultiPolygon", fields=GRID_FIELDS, id_field="code",
        from_sql="grid g", where=("g.set_id = :set_id", "g.level = :level", "{subtree:g.code}"),
        order_by="g.code", geom="g.geom", geom_3857="g.geom_3857",
    )


# ------------------------------------------------------------------- enterprises

def _sector_zh(row: dict, labels: Labels) -> str | None:
    return _label(labels.sectors, row["sector"])


ENTERPRISE_FIELDS: tuple[Field, ...] = (
    Field("uscc", "uscc", "统一社会信用代码", "unified social credit code (GB 32100-2015)", sql="e.uscc",
          filterable=True),
    Field("name", "name", "企业名称", "enterprise name", sql="e.name", filterable=True),
    Field("address", "address", "地址", "address", sql="e.address"),
    Field("sector", "sector", "行业类别代码", "sector id", sql="e.sector", filterable=True),
    Field("sector_zh", "sector_zh", "行业类别", "sector in Chinese", derive=_sector_zh),
    Field("scale", "scale", "企业规模代码", "above/below designated size", sql="e.scale", filterable=True),
    Field("scale_zh", "scale_zh", "企业规模", "规上/规下",
          derive=_zh("scale", {k: v[0] for k, v in SCALES.items()})),
    Field("risk_level", "risk", "风险等级代码", "risk level: major, high, medium, low", sql="e.risk_level",
          filterable=True),
    Field("risk_level_zh", "risk_zh", "风险等级", "risk level in Chinese (红橙黄蓝)",
          derive=_zh("risk_level", {k: v[0] for k, v in RISK_LEVELS.items()})),
    Field("safety_class", "safe_class", "安全分类", "safety class A/B/C", sql="e.safety_class", filterable=True),
    Field("major_hazard_grade", "mh_grade", "重大危险源等级", "major hazard installation grade 1-4", "int",
          sql="e.major_hazard_grade", filterable=True),
    Field("department", "dept", "行业主管部门", "supervising department (一部门一册)", sql="e.department",
          filterable=True),
    Field("placement", "placement", "落格方式代码", "how the enterprise was placed", sql="e.placement",
          filterable=True),
    Field("placement_zh", "place_zh", "落格方式", "placement in Chinese", derive=_zh("placement", PLACEMENT_NAMES_ZH)),
    Field("grid_code", "grid_code", "所在网格编码", "bottom-level grid", sql="e.grid_code", filterable=True),
    Field("grid_name", "grid_name", "所在网格", "bottom-level grid name", sql="gg.name"),
    Field("village_code", "village", "村/社区编码", "village code", sql="e.village_code", filterable=True),
    Field("village_name", "vill_name", "村/社区", "village name", sql="gv.name"),
    Field("township_code", "township", "街道/镇编码", "township code", sql="e.township_code", filterable=True),
    Field("township_name", "town_name", "街道/镇", "township name", sql="gt.name"),
    Field("district_code", "district", "区县编码", "district code", sql="e.district_code", filterable=True),
    Field("lon", "lon", "经度", "longitude (CGCS2000 / WGS84 degrees)", "float", sql="ST_X(e.location)",
          tabular_only=True),
    Field("lat", "lat", "纬度", "latitude (CGCS2000 / WGS84 degrees)", "float", sql="ST_Y(e.location)",
          tabular_only=True),
    Field("updated_at", "updated", "更新时间", "last change of the record", "datetime", sql="e.updated_at"),
)

ENTERPRISES = LayerSpec(
    name="enterprises", kind="enterprises", title_zh="生产经营单位", title_en="Enterprises",
    description_zh="企业一企一档：统一社会信用代码、行业、规模、风险等级、主管部门与所在网格；"
                   "仅按地址落格或未落格的企业没有坐标（几何为空）",
    description_en="enterprise register: USCC, sector, scale, risk level, department and grid; enterprises "
                   "placed by address only or not placed have no point (empty geometry)",
    geometry_type="Point", fields=ENTERPRISE_FIELDS, id_field="uscc",
    from_sql=("enterprise e "
              "LEFT JOIN grid gg ON gg.set_id = :set_id AND gg.code = e.grid_code "
              "LEFT JOIN grid gv ON gv.set_id = :set_id AND gv.code = e.village_code "
              "LEFT JOIN grid gt ON gt.set_id = :set_id AND gt.code = e.township_code"),
    where=("{subtree:e.home_code}",), order_by="e.home_code, e.uscc",
    geom="e.location", geom_3857="e.location_3857", time_column="e.updated_at",
)


# ----------------------------------------------------------------------- hazards

def _category_zh(row: dict, labels: Labels) -> str | None:
    return _label(labels.hazard_categories, row["category"])


HAZARD_FIELDS: tuple[Field, ...] = (
    Field("id", "id", "隐患编号", "hazard id", "int", sql="h.id"),
    Field("category", "category", "隐患类别代码", "category id", sql="h.category", filterable=True),
    Field("category_zh", "cat_zh", "隐患类别", "category in Chinese", derive=_category_zh),
    Field("grade", "grade", "隐患等级代码", "general or major", sql="h.grade", filterable=True),
    Field("grade_zh", "grade_zh", "隐患等级", "一般隐患/重大隐患", derive=_zh("grade", HAZARD_GRADE_NAMES_ZH)),
    Field("source", "source", "来源代码", "inspection, self_report, public_report, patrol", sql="h.source",
          filterable=True),
    Field("source_zh", "source_zh", "来源", "source in Chinese", derive=_zh("source", HAZARD_SOURCE_NAMES_ZH)),
    Field("status", "status", "状态代码", "state in the six-step loop", sql="h.status", filterable=True),
    Field("status_zh", "status_zh", "状态", "state in Chinese", derive=_zh("status", HAZARD_STATE_NAMES_ZH)),
    Field("description", "descr", "隐患描述", "description", sql="h.description"),
    Field("deadline", "deadline", "整改期限", "rectification deadline", "datetime", sql="h.deadline"),
    Field("overdue", "overdue", "是否逾期", "open past its deadline at export time", "bool",
          sql=f"(h.status IN {_OPEN_STATES} AND h.deadline < :now)", filterable=True),
    Field("escalation_level", "escalation", "督办层级", "0 grid, 1 township, 2 district", "int",
          sql="h.escalation_level"),
    Field("supervising_official", "supervisor", "挂牌督办责任人", "supervising official (major hazards)",
          sql="h.supervising_official"),
    Field("rectification_plan", "rect_plan", "整改方案", "rectification plan (major hazards)",
          sql="h.rectification_plan"),
    Field("enterprise_uscc", "ent_uscc", "企业统一社会信用代码", "USCC of the enterprise concerned",
          sql="he.uscc", filterable=True),
    Field("enterprise_name", "ent_name", "企业名称", "enterprise concerned", sql="he.name"),
    Field("placement", "placement", "落格方式代码", "how the hazard was placed", sql="h.placement"),
    Field("placement_zh", "place_zh", "落格方式", "placement in Chinese", derive=_zh("placement", PLACEMENT_NAMES_ZH)),
    Field("grid_code", "grid_code", "所在网格编码", "bottom-level grid", sql="h.grid_code", filterable=True),
    Field("village_code", "village", "村/社区编码", "village code", sql="h.village_code", filterable=True),
    Field("township_code", "township", "街道/镇编码", "township code", sql="h.township_code", filterable=True),
    Field("district_code", "district", "区县编码", "district code", sql="h.district_code", filterable=True),
    Field("lon", "lon", "经度", "longitude (CGCS2000 / WGS84 degrees)", "float", sql="ST_X(h.location)",
          tabular_only=True),
    Field("lat", "lat", "纬度", "latitude (CGCS2000 / WGS84 degrees)", "float", sql="ST_Y(h.location)",
          tabular_only=True),
    Field("created_at", "created", "上报时间", "reported at", "datetime", sql="h.created_at"),
    Field("closed_at", "closed", "结案时间", "closed at", "datetime", sql="h.closed_at"),
)

HAZARDS = LayerSpec(
    name="hazards", kind="hazards", title_zh="隐患", title_en="Hazards",
    description_zh="隐患及其六步闭环状态（上报、立案、派遣、处置、核查、结案），含整改期限与是否逾期；"
                   "不含举报人联系方式",
    description_en="hazards with their state in the six-step loop, deadline and overdue flag; reporters' "
                   "contacts are not exported",
    geometry_type="Point", fields=HAZARD_FIELDS, id_field="id",
    from_sql="hazard h LEFT JOIN enterprise he ON he.id = h.enterprise_id",
    where=("{subtree:h.home_code}",), order_by="h.id",
    geom="h.location", geom_3857="h.location_3857", time_column="h.created_at",
)


# ------------------------------------------------------------------ persons, roles

def _roles(row: dict, labels: Labels) -> str | None:
    raw = row["roles"]
    if not raw:
        return None
    parts = []
    for item in raw.split(";"):
        role, code, name = item.split("|", 2)
        parts.append(f"{ROLE_NAMES_ZH.get(role, role)}·{name or code}（{code}）")
    return "、".join(parts)


PERSON_FIELDS: tuple[Field, ...] = (
    Field("person_id", "person_id", "人员编号", "person id", "int", sql="p.id"),
    Field("name", "name", "姓名", "name", sql="p.name"),
    Field("phone", "phone", "联系电话", "phone", sql="p.phone"),
    Field("certificate_no", "cert_no", "执法证号", "enforcement certificate number", sql="p.certificate_no"),
    Field("full_time", "full_time", "专职", "full-time safety staff", "bool", sql="p.full_time"),
    Field("roles", "roles", "网格职责", "roles in the exported grids: role·grid (code)", sql="pr.roles",
          derive=_roles),
)

PERSONS = LayerSpec(
    name="persons", kind="persons", title_zh="网格人员", title_en="Persons",
    description_zh="在导出范围内网格担任职责的人员（网格责任人与网格力量），含联系电话、执法证号",
    description_en="people holding a role in the exported grids, with phone and enforcement certificate",
    geometry_type=None, fields=PERSON_FIELDS, id_field="person_id",
    # One grouped pass over the role assignments of the subtree (not a subquery per person).
    from_sql=("person p JOIN (SELECT r.person_id, string_agg(r.role || '|' || r.grid_code || '|' || "
              "COALESCE(rg.name, ''), ';' ORDER BY r.grid_code, r.role) AS roles FROM role_assignment r "
              "LEFT JOIN grid rg ON rg.set_id = :set_id AND rg.code = r.grid_code "
              "WHERE {subtree:r.grid_code} GROUP BY r.person_id) pr ON pr.person_id = p.id"),
    where=(), order_by="p.id",
)

ROLE_FIELDS: tuple[Field, ...] = (
    Field("id", "id", "职责编号", "role assignment id", "int", sql="r.id"),
    Field("person_id", "person_id", "人员编号", "person id (persons.person_id)", "int", sql="r.person_id"),
    Field("person_name", "person", "姓名", "name", sql="p.name"),
    Field("phone", "phone", "联系电话", "phone", sql="p.phone"),
    Field("grid_code", "grid_code", "网格编码", "grid code", sql="r.grid_code"),
    Field("grid_name", "grid_name", "网格名称", "grid name", sql="rg.name"),
    Field("grid_level", "grid_level", "网格层级", "grid level", sql="rg.level"),
    Field("role", "role", "职责代码", "role id", sql="r.role"),
    Field("role_zh", "role_zh", "职责", "role in Chinese (挂点领导、第一责任人 …)", derive=_zh("role", ROLE_NAMES_ZH)),
)

ROLE_ASSIGNMENTS = LayerSpec(
    name="role_assignments", kind="role_assignments", title_zh="网格职责", title_en="Role assignments",
    description_zh="一格多员、责任到人：每行一人在一个网格的一项职责（网格责任人与网格力量）",
    description_en="one row per person, grid and role (responsibility and field staff)",
    geometry_type=None, fields=ROLE_FIELDS, id_field="id",
    from_sql=("role_assignment r JOIN person p ON p.id = r.person_id "
              "LEFT JOIN grid rg ON rg.set_id = :set_id AND rg.code = r.grid_code"),
    where=("{subtree:r.grid_code}",), order_by="r.grid_code, r.role, r.id",
)


# ---------------------------------------------------------------------- queries

class _Subtree:
    """Formats ``{subtree:COLUMN}`` into the subtree-and-scope condition on COLUMN."""

    def __init__(self, prefix: str | None, scope: Scope) -> None:
        self.prefix = prefix
        self.scope = scope

    def __format__(self, column: str) -> str:
        parts = []
        if self.prefix is not None:
            parts.append(subtree_sql(column, self.prefix, "prefix")[0])
        if self.scope.code is not None:
            parts.append(subtree_sql(column, self.scope.code, "scope_prefix")[0])
        return "(" + " AND ".join(parts) + ")" if parts else "TRUE"


@dataclass
class LayerQuery:
    """The SQL reading one layer: fixed pieces from the spec plus bound parameters.

    ``prefix`` restricts rows to a subtree (None: no restriction beyond the scope).
    Further conditions (``add``) must be built from catalogue expressions only.
    """

    spec: LayerSpec
    set_id: int
    scope: Scope
    prefix: str | None = None
    now: datetime | None = None
    conditions: list[str] = field(default_factory=list)
    params: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        subtree = _Subtree(self.prefix, self.scope)
        self.params.update({"set_id": self.set_id, "now": self.now or datetime.now(CST)})
        if self.spec.level:
            self.params["level"] = self.spec.level
        if self.prefix is not None:
            self.params.update(subtree_sql("", self.prefix, "prefix")[1])
        if self.scope.code is not None:
            self.params.update(subtree_sql("", self.scope.code, "scope_prefix")[1])
        self._format = lambda sql: sql.format(subtree=subtree)
        self.conditions = [self._format(w) for w in self.spec.where] + list(self.conditions)

    def add(self, condition: str, **params) -> None:
        self.conditions.append(condition)
        self.params.update(params)

    @property
    def where_sql(self) -> str:
        return " AND ".join(self.conditions) or "TRUE"

    @property
    def from_sql(self) -> str:
        return self._format(self.spec.from_sql)

    def count_sql(self) -> str:
        return f"SELECT count(*) FROM {self.from_sql} WHERE {self.where_sql}"

    def select_sql(self, *, geometry: str | None = None, paged: bool = False) -> str:
        """SELECT of every SQL field (and ``geometry`` AS geometry), ordered by the spec."""
        columns = [f"{self._format(f.sql)} AS {f.name}" for f in self.spec.fields if f.sql]
        if geometry:
            columns.append(f"{geometry} AS geometry")
        sql = (f"SELECT {', '.join(columns)} FROM {self.from_sql} WHERE {self.where_sql} "
               f"ORDER BY {self.spec.order_by}")
        if paged:
            sql += " LIMIT :limit OFFSET :offset"
        return sql

    def count(self, session: Session) -> int:
        return int(session.execute(text(self.count_sql()), self.params).scalar_one())


def finish_row(spec: LayerSpec, row: dict, labels: Labels) -> dict:
    """Python values of a row: numbers as int/float, times as ISO 8601 (+08:00), derived
    labels filled in."""
    out = {}
    for f in spec.fields:
        value = row.get(f.name)
        if isinstance(value, Decimal):
            value = float(value)
        if f.type == "datetime" and isinstance(value, datetime):
            value = value.astimezone(CST).isoformat(timespec="seconds")
        out[f.name] = value
    source = dict(out)
    for f in spec.fields:
        if f.derive is not None:
            out[f.name] = f.derive(source, labels)
    return out


def read_rows(session: Session, query: LayerQuery, labels: Labels, *, geometry: str | None = None,
              chunk: int = 5000) -> Iterator[list[tuple[dict, object]]]:
    """Stream a layer in chunks of ``(properties, geometry)`` pairs, every field filled.

    A server-side cursor keeps memory flat whatever the layer's size.
    """
    sql = query.select_sql(geometry=geometry)
    result = session.execute(text(sql).execution_options(stream_results=True, yield_per=chunk), query.params)
    for partition in result.mappings().partitions(chunk):
        yield [(finish_row(query.spec, dict(m), labels), m.get("geometry")) for m in partition]


#: The attribute tables and point layers, by name.
FIXED_LAYERS: dict[str, LayerSpec] = {spec.name: spec for spec in (ENTERPRISES, HAZARDS, PERSONS, ROLE_ASSIGNMENTS)}
