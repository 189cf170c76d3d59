"""The database schema (SQLAlchemy 2 + GeoAlchemy2). Created only through Alembic.

Geometries are stored in CGCS2000 geographic coordinates (EPSG:4490). Grids are
versioned MapIt-style: every grid row belongs to a :class:`BoundarySet`; imports land in
the one *pending* set, ``gridmap boundaries activate`` makes it the *active* one, and the
set it replaces is *retired* but stays queryable by id. Everything else (people's roles,
enterprises, hazards) refers to grids by **code**, not by row, so it survives a change of
boundaries. Every table carries a ``district_code`` so the data can be sharded by district.
"""

from __future__ import annotations

from datetime import datetime

from geoalchemy2 import Geometry
from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Computed,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

SRID = 4490

NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

#: 网格责任人 (responsibility) and 网格力量 (field staff) roles, in DESIGN.md's order.
ROLES = (
    "lead_official",
    "first_responsible",
    "liaison",
    "deputy_responsible",
    "direct_responsible",
    "grid_manager",
    "info_collector",
    "supervisor",
    "safety_officer",
    "patrol_officer",
)
ROLE_NAMES_ZH = {
    "lead_official": "挂点领导",
    "first_responsible": "第一责任人",
    "liaison": "联点责任人",
    "deputy_responsible": "分管责任人",
    "direct_responsible": "具体责任人",
    "grid_manager": "网格管理员",
    "info_collector": "民情员",
    "supervisor": "监督员",
    "safety_officer": "安全员",
    "patrol_officer": "巡查员",
}
USER_ROLES = ("admin", "township_leader", "grid_staff", "authority")
SET_STATUSES = ("pending", "active", "retired")
PLACEMENTS = ("exact", "snapped", "address", "ambiguous", "conflict", "unplaced")


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class BoundarySet(Base):
    """A version of the grid boundaries (MapIt's *generation*)."""

    __tablename__ = "boundary_set"
    __table_args__ = (
        CheckConstraint(_in("status", SET_STATUSES), name="status"),
        # At most one active and one pending set at any time.
        Index("uq_boundary_set_one_active", "status", unique=True,
              postgresql_where=text("status = 'active'")),
        Index("uq_boundary_set_one_pending", "status", unique=True,
              postgresql_where=text("status = 'pending'")),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(10), default="pending")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    activated_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    #: One entry per imported file: name, level, CRS, counts, repairs.
    imports: Mapped[list] = mapped_column(JSONB, default=list, server_default=text("'[]'::jsonb"))

    grids: Mapped[list[Grid]] = relationship(back_populates="boundary_set", passive_deletes=True)


class Grid(Base):
    """A grid (网格) of one boundary set: district, township, direct grid, village, micro."""

    __tablename__ = "grid"
    __table_args__ = (
        UniqueConstraint("set_id", "code"),
        CheckConstraint(
            "level IN ('district', 'township', 'direct', 'village', 'micro')", name="level"
        ),
        CheckConstraint("population IS NULL OR population >= 0", name="population"),
        Index("ix_grid_set_id_parent_code", "set_id", "parent_code"),
        Index("ix_grid_set_id_level", "set_id", "level"),
        Index("ix_grid_code_pattern", "code", postgresql_ops={"code": "text_pattern_ops"}),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    set_id: Mapped[int] = mapped_column(ForeignKey("boundary_set.id", ondelete="CASCADE"))
    code: Mapped[str] = mapped_column(String(20))
    name: Mapped[str] = mapped_column(String(200))
    level: Mapped[str] = mapped_column(String(10))
    parent_code: Mapped[str | None] = mapped_column(String(20))
    district_code: Mapped[str] = mapped_column(String(6))
    population: Mapped[int | None] = mapped_column(Integer)
    #: Geodesic area on the CGCS2000 ellipsoid, square metres.
    area_m2: Mapped[float] = mapped_column(Float)
    #: True for generated (sample) polygons, which must say so in every export.
    synthetic: Mapped[bool] = mapped_column(Boolean, default=False, server_default=text("false"))
    #: A grid without children in its set: where enterprises and hazards are placed.
    is_leaf: Mapped[bool] = mapped_column(Boolean, default=True, server_default=text("true"))
    properties: Mapped[dict] = mapped_column(JSONB, default=dict, server_default=text("'{}'::jsonb"))
    geom = mapped_column(Geometry("MULTIPOLYGON", srid=SRID, spatial_index=True), nullable=False)
    #: Web Mercator copies for vector tiles, kept by PostgreSQL itself: exact, and
    #: simplified (10 m) for low zooms.
    geom_3857 = mapped_column(Geometry("MULTIPOLYGON", srid=3857, spatial_index=True),
                              Computed("ST_Transform(geom, 3857)", persisted=True))
    geom_3857_low = mapped_column(Geometry("GEOMETRY", srid=3857, spatial_index=True),
                                  Computed("ST_SimplifyPreserveTopology(ST_Transform(geom, 3857), 10.0)", persisted=True))

    boundary_set: Mapped[BoundarySet] = relationship(back_populates="grids")


class Person(Base):
    """A responsible person or member of the grid staff (网格员)."""

    __tablename__ = "person"
    __table_args__ = (
        Index("uq_person_phone", "phone", unique=True, postgresql_where=text("phone IS NOT NULL")),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    phone: Mapped[str | None] = mapped_column(String(20))
    #: Enforcement certificate (执法证) number; only certified staff inspect and penalise.
    certificate_no: Mapped[str | None] = mapped_column(String(40))
    full_time: Mapped[bool] = mapped_column(Boolean, default=False)
    district_code: Mapped[str | None] = mapped_column(String(6), index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())

    roles: Mapped[list[RoleAssignment]] = relationship(back_populates="person", passive_deletes=True)


class RoleAssignment(Base):
    """A person's role in a grid (by grid code, so it survives new boundaries)."""

    __tablename__ = "role_assignment"
    __table_args__ = (
        UniqueConstraint("person_id", "grid_code", "role"),
        CheckConstraint(_in("role", ROLES), name="role"),
        Index("ix_role_assignment_grid_code", "grid_code", postgresql_ops={"grid_code": "text_pattern_ops"}),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("person.id", ondelete="CASCADE"), index=True)
    grid_code: Mapped[str] = mapped_column(String(20))
    role: Mapped[str] = mapped_column(String(30))
    district_code: Mapped[str] = mapped_column(String(6))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())

    person: Mapped[Person] = relationship(back_populates="roles")


class Enterprise(Base):
    """A production or business unit (生产经营单位), one record per USCC (一企一档)."""

    __tablename__ = "enterprise"
    __table_args__ = (
        CheckConstraint("uscc ~ '^[0-9A-HJ-NPQRTUWXY]{18}$'", name="uscc_format"),
        CheckConstraint(_in("placement", PLACEMENTS), name="placement"),
        CheckConstraint("scale IS NULL OR scale IN ('above', 'below')", name="scale"),
        CheckConstraint(
            "risk_level IS NULL OR risk_level IN ('major', 'high', 'medium', 'low')",
            name="risk_level",
        ),
        CheckConstraint("safety_class IS NULL OR safety_class IN ('A', 'B', 'C')", name="safety_class"),
        CheckConstraint(
            "major_hazard_grade IS NULL OR major_hazard_grade BETWEEN 1 AND 4",
            name="major_hazard_grade",
        ),
        Index("ix_enterprise_grid_code", "grid_code", postgresql_ops={"grid_code": "text_pattern_ops"}),
        Index("ix_enterprise_home_code", "home_code", postgresql_ops={"home_code": "text_pattern_ops"}),
        Index("ix_enterprise_placement", "placement"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    #: 统一社会信用代码, GB 32100-2015, check digit verified on the way in.
    uscc: Mapped[str] = mapped_column(String(18), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    address: Mapped[str | None] = mapped_column(String(400))
    sector: Mapped[str] = mapped_column(String(40), default="other")
    #: The sector as written in the source when it was not in the taxonomy.
    sector_raw: Mapped[str | None] = mapped_column(String(100))
    #: 规上 (above designated size) / 规下 (below).
    scale: Mapped[str | None] = mapped_column(String(10))
    risk_level: Mapped[str | None] = mapped_column(String(10))
    safety_class: Mapped[str | None] = mapped_column(String(1))
    major_hazard_grade: Mapped[int | None] = mapped_column(SmallInteger)
    #: 行业主管部门 (supervising department), the key of 一部门一册.
    department: Mapped[str | None] = mapped_column(String(100), index=True)
    #: Location in CGCS2000, converted from the coordinates as given.
    location = mapped_column(Geometry("POINT", srid=SRID, spatial_index=True), nullable=True)
    location_3857 = mapped_column(Geometry("POINT", srid=3857, spatial_index=True),
                                  Computed("ST_Transform(location, 3857)", persisted=True))
    #: H3 cell (resolution 9) of the location, for density aggregation.
    h3_r9: Mapped[int | None] = mapped_column(BigInteger)
    #: Coordinates exactly as given, and the system they were declared in.
    source_lon: Mapped[float | None] = mapped_column(Float)
    source_lat: Mapped[float | None] = mapped_column(Float)
    source_crs: Mapped[str | None] = mapped_column(String(10))
    placement: Mapped[str] = mapped_column(String(10), default="unplaced")
    #: The deepest grid code known for the enterprise (bottom-level grid when placed, the
    #: township when only that is known): what scope checks compare against.
    home_code: Mapped[str | None] = mapped_column(String(20))
    #: Bottom-level grid, and the grid codes at every level above it.
    grid_code: Mapped[str | None] = mapped_column(String(20))
    village_code: Mapped[str | None] = mapped_column(String(20))
    township_code: Mapped[str | None] = mapped_column(String(20))
    district_code: Mapped[str | None] = mapped_column(String(6), index=True)
    #: Why: candidates when ambiguous, both names when conflicting, distance when snapped.
    placement_detail: Mapped[dict] = mapped_column(JSONB, default=dict, server_default=text("'{}'::jsonb"))
    placed_set_id: Mapped[int | None] = mapped_column(ForeignKey("boundary_set.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), onupdate=func.now()
    )


class EnterprisePlacement(Base):
    """Where an enterprise was placed against one boundary set (history per set)."""

    __tablename__ = "enterprise_placement"
    __table_args__ = (
        UniqueConstraint("enterprise_id", "set_id"),
        CheckConstraint(_in("placement", PLACEMENTS), name="placement"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    enterprise_id: Mapped[int] = mapped_column(ForeignKey("enterprise.id", ondelete="CASCADE"), index=True)
    set_id: Mapped[int] = mapped_column(ForeignKey("boundary_set.id", ondelete="CASCADE"), index=True)
    placement: Mapped[str] = mapped_column(String(10))
    grid_code: Mapped[str | None] = mapped_column(String(20))
    district_code: Mapped[str | None] = mapped_column(String(6))
    detail: Mapped[dict] = mapped_column(JSONB, default=dict, server_default=text("'{}'::jsonb"))
    placed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class User(Base):
    """A login. ``scope_code`` limits what the user sees to one grid's subtree."""

    __tablename__ = "app_user"
    __table_args__ = (
        CheckConstraint(_in("role", USER_ROLES), name="role"),
        CheckConstraint(
            "role IN ('admin', 'authority') OR scope_code IS NOT NULL", name="scoped_roles"
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    password_hash: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(20))
    scope_code: Mapped[str | None] = mapped_column(String(20))
    active: Mapped[bool] = mapped_column(Boolean, default=True, server_default=text("true"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class AppSecret(Base):
    """Installation-wide secrets generated on first use (e.g. the token signing key)."""

    __tablename__ = "app_secret"

    name: Mapped[str] = mapped_column(String(40), primary_key=True)
    value: Mapped[str] = mapped_column(Text)


# --------------------------------------------------------------------- hazards (隐患)

HAZARD_STATES = ("reported", "filed", "dispatched", "rectifying", "verifying", "closed", "rejected")
HAZARD_GRADES = ("general", "major")
HAZARD_SOURCES = ("inspection", "self_report", "public_report", "patrol")
ATTACHMENT_KINDS = ("before_photo", "after_photo", "responsibility_sheet", "other")


class Hazard(Base):
    """A hazard (隐患) driven through the six-step closed loop (六步闭环).

    ``status`` is kept consistent with the append-only :class:`HazardEvent` log: every
    change of status is one event written in the same transaction. ``version`` counts
    the events; a transition that finds it moved while waiting for the row lock (or
    different from the version the client saw) is refused, so of two concurrent
    transitions exactly one wins.
    """

    __tablename__ = "hazard"
    __table_args__ = (
        CheckConstraint(_in("status", HAZARD_STATES), name="status"),
        CheckConstraint(_in("grade", HAZARD_GRADES), name="grade"),
        CheckConstraint(_in("source", HAZARD_SOURCES), name="source"),
        CheckConstraint(_in("placement", PLACEMENTS), name="placement"),
        CheckConstraint("escalation_level BETWEEN 0 AND 3", name="escalation_level"),
        Index("ix_hazard_home_code", "home_code", postgresql_ops={"home_code": "text_pattern_ops"}),
        Index("ix_hazard_status_deadline", "status", "deadline"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    enterprise_id: Mapped[int | None] = mapped_column(ForeignKey("enterprise.id", ondelete="SET NULL"), index=True)
    location = mapped_column(Geometry("POINT", srid=SRID, spatial_index=True), nullable=True)
    location_3857 = mapped_column(Geometry("POINT", srid=3857, spatial_index=True),
                                  Computed("ST_Transform(location, 3857)", persisted=True))
    #: H3 cells of the location at resolutions 4..9 (index 1 = resolution 4), so the
    #: density layer can group open hazards per hexagon in SQL.
    h3_cells: Mapped[list | None] = mapped_column(ARRAY(BigInteger))
    source_lon: Mapped[float | None] = mapped_column(Float)
    source_lat: Mapped[float | None] = mapped_column(Float)
    source_crs: Mapped[str | None] = mapped_column(String(10))
    placement: Mapped[str] = mapped_column(String(10), default="unplaced")
    grid_code: Mapped[str | None] = mapped_column(String(20))
    village_code: Mapped[str | None] = mapped_column(String(20))
    township_code: Mapped[str | None] = mapped_column(String(20))
    district_code: Mapped[str | None] = mapped_column(String(6), index=True)
    home_code: Mapped[str | None] = mapped_column(String(20))
    category: Mapped[str] = mapped_column(String(40))
    grade: Mapped[str] = mapped_column(String(10), default="general")
    source: Mapped[str] = mapped_column(String(20))
    description: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(12), default="reported")
    deadline: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    #: 挂牌督办: a major hazard needs a supervising official and a rectification plan.
    supervising_official: Mapped[str | None] = mapped_column(String(100))
    rectification_plan: Mapped[str | None] = mapped_column(Text)
    #: The user who submitted the rectification (rectifying → verifying) and who verified.
    rectifier_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id", ondelete="SET NULL"))
    verifier_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id", ondelete="SET NULL"))
    reported_by_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id", ondelete="SET NULL"))
    #: Public tip-offs (举报): the code the reporter uses to follow the status.
    tracking_code: Mapped[str | None] = mapped_column(String(24), unique=True)
    #: The record's number in the system it was imported from (隐患台账编号), if any.
    external_id: Mapped[str | None] = mapped_column(String(40), unique=True)
    reporter_contact: Mapped[str | None] = mapped_column(String(100))
    duplicate_of_id: Mapped[int | None] = mapped_column(ForeignKey("hazard.id", ondelete="SET NULL"))
    inspection_id: Mapped[int | None] = mapped_column(ForeignKey("inspection.id", ondelete="SET NULL"), index=True)
    #: 0 = the hazard's own grid; 1 = township; 2 = district (escalations done).
    escalation_level: Mapped[int] = mapped_column(SmallInteger, default=0, server_default=text("0"))
    escalated_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    version: Mapped[int] = mapped_column(Integer, default=1, server_default=text("1"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    closed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class HazardEvent(Base):
    """One step of a hazard's life; append-only (a trigger refuses UPDATE and DELETE)."""

    __tablename__ = "hazard_event"
    __table_args__ = (UniqueConstraint("hazard_id", "seq"),)

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    hazard_id: Mapped[int] = mapped_column(ForeignKey("hazard.id", ondelete="RESTRICT"), index=True)
    seq: Mapped[int] = mapped_column(Integer)
    action: Mapped[str] = mapped_column(String(20))
    from_status: Mapped[str | None] = mapped_column(String(12))
    to_status: Mapped[str | None] = mapped_column(String(12))
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id", ondelete="SET NULL"))
    actor_name: Mapped[str] = mapped_column(String(100))
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    note: Mapped[str | None] = mapped_column(Text)
    attachment_ids: Mapped[list] = mapped_column(JSONB, default=list, server_default=text("'[]'::jsonb"))
    data: Mapped[dict] = mapped_column(JSONB, default=dict, server_default=text("'{}'::jsonb"))


class HazardAttachment(Base):
    """两照一表: before photo, after photo, rectification responsibility sheet (and others)."""

    __tablename__ = "hazard_attachment"
    __table_args__ = (CheckConstraint(_in("kind", ATTACHMENT_KINDS), name="kind"),)

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    hazard_id: Mapped[int] = mapped_column(ForeignKey("hazard.id", ondelete="RESTRICT"), index=True)
    kind: Mapped[str] = mapped_column(String(24))
    filename: Mapped[str] = mapped_column(String(200))
    content_type: Mapped[str] = mapped_column(String(60))
    size: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    storage_path: Mapped[str] = mapped_column(String(300))
    uploaded_by_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id", ondelete="SET NULL"))
    uploaded_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


# ---------------------------------------------------------- inspections (执法检查)

class Inspection(Base):
    """An enforcement inspection of one enterprise by at least two certified inspectors."""

    __tablename__ = "inspection"
    __table_args__ = (
        CheckConstraint("fine_amount >= 0", name="fine_amount"),
        Index("ix_inspection_home_code", "home_code", postgresql_ops={"home_code": "text_pattern_ops"}),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    enterprise_id: Mapped[int] = mapped_column(ForeignKey("enterprise.id", ondelete="RESTRICT"), index=True)
    plan_id: Mapped[int | None] = mapped_column(ForeignKey("inspection_plan.id", ondelete="SET NULL"), index=True)
    inspected_on: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    grid_code: Mapped[str | None] = mapped_column(String(20))
    home_code: Mapped[str | None] = mapped_column(String(20))
    district_code: Mapped[str | None] = mapped_column(String(6), index=True)
    findings: Mapped[str | None] = mapped_column(Text)
    #: 立案: an administrative case was filed.
    case_filed: Mapped[bool] = mapped_column(Boolean, default=False)
    fine_amount: Mapped[float] = mapped_column(Float, default=0.0, server_default=text("0"))
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class InspectionInspector(Base):
    __tablename__ = "inspection_inspector"

    inspection_id: Mapped[int] = mapped_column(ForeignKey("inspection.id", ondelete="CASCADE"), primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("person.id", ondelete="RESTRICT"), primary_key=True)


class InspectionPlan(Base):
    """A township's inspection plan for a quarter or a year, with its target list and
    the double-random draw (双随机), reproducible from the recorded seed and inputs."""

    __tablename__ = "inspection_plan"
    __table_args__ = (
        CheckConstraint("share > 0 AND share <= 1", name="share"),
        CheckConstraint("status IN ('draft', 'drawn')", name="status"),
        Index("ix_inspection_plan_township_code", "township_code",
              postgresql_ops={"township_code": "text_pattern_ops"}),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    township_code: Mapped[str] = mapped_column(String(20))
    district_code: Mapped[str] = mapped_column(String(6))
    #: ``2026`` (year) or ``2026Q3`` (quarter).
    period: Mapped[str] = mapped_column(String(7))
    name: Mapped[str] = mapped_column(String(200))
    share: Mapped[float] = mapped_column(Float, default=0.2)
    status: Mapped[str] = mapped_column(String(8), default="draft")
    seed: Mapped[int | None] = mapped_column(BigInteger)
    drawn_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    #: What the draw ran on, so it can be re-run after staffing changes:
    #: ``{"targets": [{"enterprise_id", "uscc", "conflict_codes"}…], "pool": [{"person_id",
    #: "role_codes"}…]}`` in the draw's order. NULL before the draw (and for plans drawn
    #: before migration 0009). Deferred: lists of plans do not need it.
    draw_record: Mapped[dict | None] = mapped_column(JSONB, deferred=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class PlanTarget(Base):
    """An enterprise on a plan's target list; the draw selects some and pairs inspectors."""

    __tablename__ = "plan_target"

    plan_id: Mapped[int] = mapped_column(ForeignKey("inspection_plan.id", ondelete="CASCADE"), primary_key=True)
    enterprise_id: Mapped[int] = mapped_column(ForeignKey("enterprise.id", ondelete="CASCADE"), primary_key=True)
    selected: Mapped[bool] = mapped_column(Boolean, default=False, server_default=text("false"))
    inspector_a_id: Mapped[int | None] = mapped_column(ForeignKey("person.id", ondelete="SET NULL"))
    inspector_b_id: Mapped[int | None] = mapped_column(ForeignKey("person.id", ondelete="SET NULL"))


class Patrol(Base):
    """A grid staff check-in (巡查打卡): counts as activity for the grid."""

    __tablename__ = "patrol"
    __table_args__ = (
        Index("ix_patrol_home_code_at", "home_code", "at", postgresql_ops={"home_code": "text_pattern_ops"}),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id", ondelete="SET NULL"), index=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    location = mapped_column(Geometry("POINT", srid=SRID, spatial_index=False), nullable=False)
    source_crs: Mapped[str] = mapped_column(String(10))
    placement: Mapped[str] = mapped_column(String(10))
    grid_code: Mapped[str | None] = mapped_column(String(20))
    home_code: Mapped[str | None] = mapped_column(String(20))
    district_code: Mapped[str | None] = mapped_column(String(6))
    note: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


# ------------------------------------------------------------------ map layers

class EnterpriseDensity(Base):
    """Enterprises aggregated per H3 cell and home grid, for low-zoom tiles and the
    density layer; rebuilt per district after imports and re-placement."""

    __tablename__ = "enterprise_density"

    res: Mapped[int] = mapped_column(SmallInteger, primary_key=True)
    cell: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    home_code: Mapped[str] = mapped_column(String(20), primary_key=True)
    district_code: Mapped[str] = mapped_column(String(6), index=True)
    enterprises: Mapped[int] = mapped_column(Integer)
    #: Enterprises weighted by risk level (major 4, high 3, medium 2, low/none 1).
    weighted: Mapped[int] = mapped_column(Integer)


class H3Cell(Base):
    """Hexagon shapes of the H3 cells in use (Web Mercator), for tiles and GeoJSON."""

    __tablename__ = "h3_cell"
    # One GiST index per resolution: a tile asks for one resolution, and a single index
    # over all six made PostgreSQL intersect 57,000 cells of every size with a btree.
    __table_args__ = tuple(
        Index(f"ix_h3_cell_geom_3857_r{res}", "geom_3857", postgresql_using="gist",
              postgresql_where=text(f"res = {res}"))
        for res in (4, 5, 6, 7, 8, 9)
    )

    res: Mapped[int] = mapped_column(SmallInteger, primary_key=True)
    cell: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    lon: Mapped[float] = mapped_column(Float)
    lat: Mapped[float] = mapped_column(Float)
    geom = mapped_column(Geometry("POLYGON", srid=SRID, spatial_index=False), nullable=False)
    geom_3857 = mapped_column(Geometry("POLYGON", srid=3857, spatial_index=False),
                              Computed("ST_Transform(geom, 3857)", persisted=True))


class GridStatus(Base):
    """The latest coverage score and status of each grid (what the map colours by)."""

    __tablename__ = "grid_status"

    set_id: Mapped[int] = mapped_column(ForeignKey("boundary_set.id", ondelete="CASCADE"), primary_key=True)
    code: Mapped[str] = mapped_column(String(20), primary_key=True)
    score: Mapped[float] = mapped_column(Float)
    status: Mapped[str] = mapped_column(String(10))
    problems: Mapped[dict] = mapped_column(JSONB, default=dict, server_default=text("'{}'::jsonb"))
    computed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class CoverageProblem(Base):
    """Gap, overlap and outside-parent polygons found by the last coverage run."""

    __tablename__ = "coverage_problem"
    __table_args__ = (
        CheckConstraint("kind IN ('gap', 'overlap', 'outside_parent')", name="kind"),
        Index("ix_coverage_problem_parent_code", "parent_code", postgresql_ops={"parent_code": "text_pattern_ops"}),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    set_id: Mapped[int] = mapped_column(ForeignKey("boundary_set.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    parent_code: Mapped[str] = mapped_column(String(20))
    codes: Mapped[list] = mapped_column(JSONB, default=list)
    area_m2: Mapped[float] = mapped_column(Float)
    geom = mapped_column(Geometry("MULTIPOLYGON", srid=SRID, spatial_index=False), nullable=False)
    geom_3857 = mapped_column(Geometry("MULTIPOLYGON", srid=3857, spatial_index=True),
                              Computed("ST_Transform(geom, 3857)", persisted=True))
    computed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


# ------------------------------------------------------------------------ audit

class AuditLog(Base):
    """Every write: who, when, through which route, on what, with before/after values.

    Written by database triggers (``gridmap_audit()``, migration 0005) so no write path can
    forget it; the request context (actor, route) comes from transaction-local settings
    that the API and the CLI set (:mod:`gridmap.audit`). Append-only: the application's
    database role may insert and read but not update or delete, and a trigger refuses
    UPDATE, DELETE and TRUNCATE for everyone.
    """

    __tablename__ = "audit_log"
    __table_args__ = (
        Index("ix_audit_log_object", "object_type", "object_id"),
        Index("ix_audit_log_at", "at"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.clock_timestamp())
    actor: Mapped[str] = mapped_column(String(100))
    actor_id: Mapped[int | None] = mapped_column(Integer)
    role: Mapped[str | None] = mapped_column(String(20))
    method: Mapped[str | None] = mapped_column(String(10))
    route: Mapped[str | None] = mapped_column(String(200))
    client: Mapped[str | None] = mapped_column(String(64))
    #: insert | update | delete | bulk (a summary of a bulk import)
    action: Mapped[str] = mapped_column(String(10))
    object_type: Mapped[str] = mapped_column(String(40))
    object_id: Mapped[str | None] = mapped_column(String(64))
    before: Mapped[dict | None] = mapped_column(JSONB)
    after: Mapped[dict | None] = mapped_column(JSONB)
