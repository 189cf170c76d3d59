"""per-resolution spatial indexes on h3 cells

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-22 15:13:13.512805
"""
from alembic import op
import sqlalchemy as sa
import geoalchemy2


revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_geospatial_index(op.f('idx_h3_cell_geom_3857'), table_name='h3_cell', postgresql_using='gist', column_name='geom_3857')
    op.create_geospatial_index('ix_h3_cell_geom_3857_r4', 'h3_cell', ['geom_3857'], unique=False, postgresql_using='gist', postgresql_where=sa.text('res = 4'), postgresql_ops={})
    op.create_geospatial_index('ix_h3_cell_geom_3857_r5', 'h3_cell', ['geom_3857'], unique=False, postgresql_using='gist', postgresql_where=sa.text('res = 5'), postgresql_ops={})
    op.create_geospatial_index('ix_h3_cell_geom_3857_r6', 'h3_cell', ['geom_3857'], unique=False, postgresql_using='gist', postgresql_where=sa.text('res = 6'), postgresql_ops={})
    op.create_geospatial_index('ix_h3_cell_geom_3857_r7', 'h3_cell', ['geom_3857'], unique=False, postgresql_using='gist', postgresql_where=sa.text('res = 7'), postgresql_ops={})
    op.create_geospatial_index('ix_h3_cell_geom_3857_r8', 'h3_cell', ['geom_3857'], unique=False, postgresql_using='gist', postgresql_where=sa.text('res = 8'), postgresql_ops={})
    op.create_geospatial_index('ix_h3_cell_geom_3857_r9', 'h3_cell', ['geom_3857'], unique=False, postgresql_using='gist', postgresql_where=sa.text('res = 9'), postgresql_ops={})


def downgrade() -> None:
    op.drop_geospatial_index('ix_h3_cell_geom_3857_r9', table_name='h3_cell', postgresql_using='gist', postgresql_where=sa.text('res = 9'), column_name='geom_3857')
    op.drop_geospatial_index('ix_h3_cell_geom_3857_r8', table_name='h3_cell', postgresql_using='gist', postgresql_where=sa.text('res = 8'), column_name='geom_3857')
    op.drop_geospatial_index('ix_h3_cell_geom_3857_r7', table_name='h3_cell', postgresql_using='gist', postgresql_where=sa.text('res = 7'), column_name='geom_3857')
    op.drop_geospatial_index('ix_h3_cell_geom_3857_r6', table_name='h3_cell', postgresql_using='gist', postgresql_where=sa.text('res = 6'), column_name='geom_3857')
    op.drop_geospatial_index('ix_h3_cell_geom_3857_r5', table_name='h3_cell', postgresql_using='gist', postgresql_where=sa.text('res = 5'), column_name='geom_3857')
    op.drop_geospatial_index('ix_h3_cell_geom_3857_r4', table_name='h3_cell', postgresql_using='gist', postgresql_where=sa.text('res = 4'), column_name='geom_3857')
    op.create_geospatial_index(op.f('idx_h3_cell_geom_3857'), 'h3_cell', ['geom_3857'], unique=False, postgresql_using='gist', postgresql_ops={})
