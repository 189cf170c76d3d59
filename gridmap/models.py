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
from sqlalchemy.dialects.postgresql import JSONB
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
