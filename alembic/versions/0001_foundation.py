"""foundation: boundary sets, grids, persons, enterprises, users

Revision ID: 0001
Revises: 
Create Date: 2026-11-22 13:21:45.006744
"""
from alembic import op
import sqlalchemy as sa
import geoalchemy2
from geoalchemy2 import Geometry
from sqlalchemy.dialects import postgresql

revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('app_secret',
    sa.Column('name', sa.String(length=40), nullable=False),
    sa.Column('value', sa.Text(), nullable=False),
    sa.PrimaryKeyConstraint('name', name=op.f('pk_app_secret'))
    )
    op.create_table('app_user',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('username', sa.String(length=64), nullable=False),
    sa.Column('password_hash', sa.String(length=200), nullable=False),
    sa.Column('role', sa.String(length=20), nullable=False),
    sa.Column('scope_code', sa.String(length=20), nullable=True),
    sa.Column('active', sa.Boolean(), server_default=sa.text('true'), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint("role IN ('admin', 'authority') OR scope_code IS NOT NULL", name=op.f('ck_app_user_scoped_roles')),
    sa.CheckConstraint("role IN ('admin', 'township_leader', 'grid_staff', 'authority')", name=op.f('ck_app_user_role')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_app_user')),
    sa.UniqueConstraint('username', name=op.f('uq_app_user_username'))
    )
    op.create_table('boundary_set',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('status', sa.String(length=10), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('activated_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('imports', postgresql.JSONB(astext_type=sa.Text()), server_default=sa.text("'[]'::jsonb"), nullable=False),
    sa.CheckConstraint("status IN ('pending', 'active', 'retired')", name=op.f('ck_boundary_set_status')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_boundary_set'))
    )
    op.create_index('uq_boundary_set_one_active', 'boundary_set', ['status'], unique=True, postgresql_where=sa.text("status = 'active'"))
    op.create_index('uq_boundary_set_one_pending', 'boundary_set', ['status'], unique=True, postgresql_where=sa.text("status = 'pending'"))
    op.create_table('person',
    sa.Column('id', sa.BigInteger(), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('phone', sa.String(length=20), nullable=True),
    sa.Column('certificate_no', sa.String(length=40), nullable=True),
    sa.Column('full_time', sa.Boolean(), nullable=False),
    sa.Column('district_code', sa.String(length=6), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_person'))
    )
    op.create_index(op.f('ix_person_district_code'), 'person', ['district_code'], unique=False)
    op.create_index('uq_person_phone', 'person', ['phone'], unique=True, postgresql_where=sa.text('phone IS NOT NULL'))
    op.create_geospatial_table('enterprise',
    sa.Column('id', sa.BigInteger(), nullable=False),
    sa.Column('uscc', sa.String(length=18), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('address', sa.String(length=400), nullable=True),
    sa.Column('sector', sa.String(length=40), nullable=False),
    sa.Column('sector_raw', sa.String(length=100), nullable=True),
    sa.Column('scale', sa.String(length=10), nullable=True),
    sa.Column('risk_level', sa.String(length=10), nullable=True),
    sa.Column('safety_class', sa.String(length=1), nullable=True),
    sa.Column('major_hazard_grade', sa.SmallInteger(), nullable=True),
    sa.Column('department', sa.String(length=100), nullable=True),
    sa.Column('location', Geometry(geometry_type='POINT', srid=4490, dimension=2, spatial_index=False, from_text='ST_GeomFromEWKT', name='geometry'), nullable=True),
    sa.Column('source_lon', sa.Float(), nullable=True),
    sa.Column('source_lat', sa.Float(), nullable=True),
    sa.Column('source_crs', sa.String(length=10), nullable=True),
    sa.Column('placement', sa.String(length=10), nullable=False),
    sa.Column('grid_code', sa.String(length=20), nullable=True),
    sa.Column('village_code', sa.String(length=20), nullable=True),
    sa.Column('township_code', sa.String(length=20), nullable=True),
    sa.Column('district_code', sa.String(length=6), nullable=True),
    sa.Column('placement_detail', postgresql.JSONB(astext_type=sa.Text()), server_default=sa.text("'{}'::jsonb"), nullable=False),
    sa.Column('placed_set_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint("placement IN ('exact', 'snapped', 'address', 'ambiguous', 'conflict', 'unplaced')", name=op.f('ck_enterprise_placement')),
    sa.CheckConstraint("risk_level IS NULL OR risk_level IN ('major', 'high', 'medium', 'low')", name=op.f('ck_enterprise_risk_level')),
    sa.CheckConstraint("safety_class IS NULL OR safety_class IN ('A', 'B', 'C')", name=op.f('ck_enterprise_safety_class')),
    sa.CheckConstraint("scale IS NULL OR scale IN ('above', 'below')", name=op.f('ck_enterprise_scale')),
    sa.CheckConstraint("uscc ~ '^[0-9A-HJ-NPQRTUWXY]{18}$'", name=op.f('ck_enterprise_uscc_format')),
    sa.CheckConstraint('major_hazard_grade IS NULL OR major_hazard_grade BETWEEN 1 AND 4', name=op.f('ck_enterprise_major_hazard_grade')),
    sa.ForeignKeyConstraint(['placed_set_id'], ['boundary_set.id'], name=op.f('fk_enterprise_placed_set_id_boundary_set'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_enterprise')),
    sa.UniqueConstraint('uscc', name=op.f('uq_enterprise_uscc'))
    )
    op.create_geospatial_index('idx_enterprise_location', 'enterprise', ['location'], unique=False, postgresql_using='gist', postgresql_ops={})
    op.create_index(op.f('ix_enterprise_department'), 'enterprise', ['department'], unique=False)
    op.create_index(op.f('ix_enterprise_district_code'), 'enterprise', ['district_code'], unique=False)
    op.create_index('ix_enterprise_grid_code', 'enterprise', ['grid_code'], unique=False, postgresql_ops={'grid_code': 'text_pattern_ops'})
    op.create_geospatial_table('grid',
    sa.Column('id', sa.BigInteger(), nullable=False),
    sa.Column('set_id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=20), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('level', sa.String(length=10), nullable=False),
    sa.Column('parent_code', sa.String(length=20), nullable=True),
    sa.Column('district_code', sa.String(length=6), nullable=False),
    sa.Column('population', sa.Integer(), nullable=True),
    sa.Column('area_m2', sa.Float(), nullable=False),
    sa.Column('synthetic', sa.Boolean(), server_default=sa.text('false'), nullable=False),
    sa.Column('is_leaf', sa.Boolean(), server_default=sa.text('true'), nullable=False),
    sa.Column('properties', postgresql.JSONB(astext_type=sa.Text()), server_default=sa.text("'{}'::jsonb"), nullable=False),
    sa.Column('geom', Geometry(geometry_type='MULTIPOLYGON', srid=4490, dimension=2, spatial_index=False, from_text='ST_GeomFromEWKT', name='geometry', nullable=False), nullable=False),
    sa.CheckConstraint("level IN ('district', 'township', 'direct', 'village', 'micro')", name=op.f('ck_grid_level')),
    sa.CheckConstraint('population IS NULL OR population >= 0', name=op.f('ck_grid_population')),
    sa.ForeignKeyConstraint(['set_id'], ['boundary_set.id'], name=op.f('fk_grid_set_id_boundary_set'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_grid')),
    sa.UniqueConstraint('set_id', 'code', name=op.f('uq_grid_set_id_code'))
    )
    op.create_geospatial_index('idx_grid_geom', 'grid', ['geom'], unique=False, postgresql_using='gist', postgresql_ops={})
    op.create_index('ix_grid_code_pattern', 'grid', ['code'], unique=False, postgresql_ops={'code': 'text_pattern_ops'})
    op.create_index('ix_grid_set_id_level', 'grid', ['set_id', 'level'], unique=False)
    op.create_index('ix_grid_set_id_parent_code', 'grid', ['set_id', 'parent_code'], unique=False)
    op.create_table('role_assignment',
    sa.Column('id', sa.BigInteger(), nullable=False),
    sa.Column('person_id', sa.BigInteger(), nullable=False),
    sa.Column('grid_code', sa.String(length=20), nullable=False),
    sa.Column('role', sa.String(length=30), nullable=False),
    sa.Column('district_code', sa.String(length=6), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint("role IN ('lead_official', 'first_responsible', 'liaison', 'deputy_responsible', 'direct_responsible', 'grid_manager', 'info_collector', 'supervisor', 'safety_officer', 'patrol_officer')", name=op.f('ck_role_assignment_role')),
    sa.ForeignKeyConstraint(['person_id'], ['person.id'], name=op.f('fk_role_assignment_person_id_person'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_role_assignment')),
    sa.UniqueConstraint('person_id', 'grid_code', 'role', name=op.f('uq_role_assignment_person_id_grid_code_role'))
    )
    op.create_index('ix_role_assignment_grid_code', 'role_assignment', ['grid_code'], unique=False, postgresql_ops={'grid_code': 'text_pattern_ops'})
    op.create_index(op.f('ix_role_assignment_person_id'), 'role_assignment', ['person_id'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_role_assignment_person_id'), table_name='role_assignment')
    op.drop_index('ix_role_assignment_grid_code', table_name='role_assignment', postgresql_ops={'grid_code': 'text_pattern_ops'})
    op.drop_table('role_assignment')
    op.drop_index('ix_grid_set_id_parent_code', table_name='grid')
    op.drop_index('ix_grid_set_id_level', table_name='grid')
    op.drop_index('ix_grid_code_pattern', table_name='grid', postgresql_ops={'code': 'text_pattern_ops'})
    op.drop_geospatial_index('idx_grid_geom', table_name='grid', postgresql_using='gist', column_name='geom')
    op.drop_geospatial_table('grid')
    op.drop_index('ix_enterprise_grid_code', table_name='enterprise', postgresql_ops={'grid_code': 'text_pattern_ops'})
    op.drop_index(op.f('ix_enterprise_district_code'), table_name='enterprise')
    op.drop_index(op.f('ix_enterprise_department'), table_name='enterprise')
    op.drop_geospatial_index('idx_enterprise_location', table_name='enterprise', postgresql_using='gist', column_name='location')
    op.drop_geospatial_table('enterprise')
    op.drop_index('uq_person_phone', table_name='person', postgresql_where=sa.text('phone IS NOT NULL'))
    op.drop_index(op.f('ix_person_district_code'), table_name='person')
    op.drop_table('person')
    op.drop_index('uq_boundary_set_one_pending', table_name='boundary_set', postgresql_where=sa.text("status = 'pending'"))
    op.drop_index('uq_boundary_set_one_active', table_name='boundary_set', postgresql_where=sa.text("status = 'active'"))
    op.drop_table('boundary_set')
    op.drop_table('app_user')
    op.drop_table('app_secret')
