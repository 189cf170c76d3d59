"""map layers: web mercator columns, h3 density, grid status, coverage problems

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-22 13:39:46.759135
"""
from alembic import op
import sqlalchemy as sa
import geoalchemy2
from geoalchemy2 import Geometry
from sqlalchemy.dialects import postgresql

revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('enterprise_density',
    sa.Column('res', sa.SmallInteger(), nullable=False),
    sa.Column('cell', sa.BigInteger(), nullable=False),
    sa.Column('home_code', sa.String(length=20), nullable=False),
    sa.Column('district_code', sa.String(length=6), nullable=False),
    sa.Column('enterprises', sa.Integer(), nullable=False),
    sa.Column('weighted', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('res', 'cell', 'home_code', name=op.f('pk_enterprise_density'))
    )
    op.create_index(op.f('ix_enterprise_density_district_code'), 'enterprise_density', ['district_code'], unique=False)
    op.create_geospatial_table('h3_cell',
    sa.Column('res', sa.SmallInteger(), nullable=False),
    sa.Column('cell', sa.BigInteger(), nullable=False),
    sa.Column('lon', sa.Float(), nullable=False),
    sa.Column('lat', sa.Float(), nullable=False),
    sa.Column('geom', Geometry(geometry_type='POLYGON', srid=4490, dimension=2, spatial_index=False, from_text='ST_GeomFromEWKT', name='geometry', nullable=False), nullable=False),
    sa.Column('geom_3857', Geometry(geometry_type='POLYGON', srid=3857, dimension=2, spatial_index=False, from_text='ST_GeomFromEWKT', name='geometry'), sa.Computed('ST_Transform(geom, 3857)', persisted=True), nullable=True),
    sa.PrimaryKeyConstraint('res', 'cell', name=op.f('pk_h3_cell'))
    )
    op.create_geospatial_index('idx_h3_cell_geom_3857', 'h3_cell', ['geom_3857'], unique=False, postgresql_using='gist', postgresql_ops={})
    op.create_geospatial_table('coverage_problem',
    sa.Column('id', sa.BigInteger(), nullable=False),
    sa.Column('set_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('parent_code', sa.String(length=20), nullable=False),
    sa.Column('codes', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.Column('area_m2', sa.Float(), nullable=False),
    sa.Column('geom', Geometry(geometry_type='MULTIPOLYGON', srid=4490, dimension=2, spatial_index=False, from_text='ST_GeomFromEWKT', name='geometry', nullable=False), nullable=False),
    sa.Column('geom_3857', Geometry(geometry_type='MULTIPOLYGON', srid=3857, dimension=2, spatial_index=False, from_text='ST_GeomFromEWKT', name='geometry'), sa.Computed('ST_Transform(geom, 3857)', persisted=True), nullable=True),
    sa.Column('computed_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint("kind IN ('gap', 'overlap', 'outside_parent')", name=op.f('ck_coverage_problem_kind')),
    sa.ForeignKeyConstraint(['set_id'], ['boundary_set.id'], name=op.f('fk_coverage_problem_set_id_boundary_set'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_coverage_problem'))
    )
    op.create_geospatial_index('idx_coverage_problem_geom_3857', 'coverage_problem', ['geom_3857'], unique=False, postgresql_using='gist', postgresql_ops={})
    op.create_index('ix_coverage_problem_parent_code', 'coverage_problem', ['parent_code'], unique=False, postgresql_ops={'parent_code': 'text_pattern_ops'})
    op.create_index(op.f('ix_coverage_problem_set_id'), 'coverage_problem', ['set_id'], unique=False)
    op.create_table('grid_status',
    sa.Column('set_id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=20), nullable=False),
    sa.Column('score', sa.Float(), nullable=False),
    sa.Column('status', sa.String(length=10), nullable=False),
    sa.Column('problems', postgresql.JSONB(astext_type=sa.Text()), server_default=sa.text("'{}'::jsonb"), nullable=False),
    sa.Column('computed_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.ForeignKeyConstraint(['set_id'], ['boundary_set.id'], name=op.f('fk_grid_status_set_id_boundary_set'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('set_id', 'code', name=op.f('pk_grid_status'))
    )
    op.add_geospatial_column('enterprise', sa.Column('location_3857', Geometry(geometry_type='POINT', srid=3857, dimension=2, spatial_index=False, from_text='ST_GeomFromEWKT', name='geometry'), sa.Computed('ST_Transform(location, 3857)', persisted=True), nullable=True))
    op.add_column('enterprise', sa.Column('h3_r9', sa.BigInteger(), nullable=True))
    op.create_geospatial_index('idx_enterprise_location_3857', 'enterprise', ['location_3857'], unique=False, postgresql_using='gist', postgresql_ops={})
    op.add_geospatial_column('grid', sa.Column('geom_3857', Geometry(geometry_type='MULTIPOLYGON', srid=3857, dimension=2, spatial_index=False, from_text='ST_GeomFromEWKT', name='geometry'), sa.Computed('ST_Transform(geom, 3857)', persisted=True), nullable=True))
    op.add_geospatial_column('grid', sa.Column('geom_3857_low', Geometry(srid=3857, dimension=2, spatial_index=False, from_text='ST_GeomFromEWKT', name='geometry'), sa.Computed('ST_SimplifyPreserveTopology(ST_Transform(geom, 3857), 10.0)', persisted=True), nullable=True))
    op.create_geospatial_index('idx_grid_geom_3857', 'grid', ['geom_3857'], unique=False, postgresql_using='gist', postgresql_ops={})
    op.create_geospatial_index('idx_grid_geom_3857_low', 'grid', ['geom_3857_low'], unique=False, postgresql_using='gist', postgresql_ops={})
    op.add_geospatial_column('hazard', sa.Column('location_3857', Geometry(geometry_type='POINT', srid=3857, dimension=2, spatial_index=False, from_text='ST_GeomFromEWKT', name='geometry'), sa.Computed('ST_Transform(location, 3857)', persisted=True), nullable=True))
    op.add_column('hazard', sa.Column('h3_cells', postgresql.ARRAY(sa.BigInteger()), nullable=True))
    op.create_geospatial_index('idx_hazard_location_3857', 'hazard', ['location_3857'], unique=False, postgresql_using='gist', postgresql_ops={})


def downgrade() -> None:
    op.drop_geospatial_index('idx_hazard_location_3857', table_name='hazard', postgresql_using='gist', column_name='location_3857')
    op.drop_column('hazard', 'h3_cells')
    op.drop_geospatial_column('hazard', 'location_3857')
    op.drop_geospatial_index('idx_grid_geom_3857_low', table_name='grid', postgresql_using='gist', column_name='geom_3857_low')
    op.drop_geospatial_index('idx_grid_geom_3857', table_name='grid', postgresql_using='gist', column_name='geom_3857')
    op.drop_geospatial_column('grid', 'geom_3857_low')
    op.drop_geospatial_column('grid', 'geom_3857')
    op.drop_geospatial_index('idx_enterprise_location_3857', table_name='enterprise', postgresql_using='gist', column_name='location_3857')
    op.drop_column('enterprise', 'h3_r9')
    op.drop_geospatial_column('enterprise', 'location_3857')
    op.drop_table('grid_status')
    op.drop_index(op.f('ix_coverage_problem_set_id'), table_name='coverage_problem')
    op.drop_index('ix_coverage_problem_parent_code', table_name='coverage_problem', postgresql_ops={'parent_code': 'text_pattern_ops'})
    op.drop_geospatial_index('idx_coverage_problem_geom_3857', table_name='coverage_problem', postgresql_using='gist', column_name='geom_3857')
    op.drop_geospatial_table('coverage_problem')
    op.drop_geospatial_index('idx_h3_cell_geom_3857', table_name='h3_cell', postgresql_using='gist', column_name='geom_3857')
    op.drop_geospatial_table('h3_cell')
    op.drop_index(op.f('ix_enterprise_density_district_code'), table_name='enterprise_density')
    op.drop_table('enterprise_density')
