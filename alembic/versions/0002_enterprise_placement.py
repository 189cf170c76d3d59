"""enterprise placement: home code, placement history

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22 13:29:14.259023
"""
from alembic import op
import sqlalchemy as sa
import geoalchemy2
from sqlalchemy.dialects import postgresql

revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('enterprise_placement',
    sa.Column('id', sa.BigInteger(), nullable=False),
    sa.Column('enterprise_id', sa.BigInteger(), nullable=False),
    sa.Column('set_id', sa.Integer(), nullable=False),
    sa.Column('placement', sa.String(length=10), nullable=False),
    sa.Column('grid_code', sa.String(length=20), nullable=True),
    sa.Column('district_code', sa.String(length=6), nullable=True),
    sa.Column('detail', postgresql.JSONB(astext_type=sa.Text()), server_default=sa.text("'{}'::jsonb"), nullable=False),
    sa.Column('placed_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint("placement IN ('exact', 'snapped', 'address', 'ambiguous', 'conflict', 'unplaced')", name=op.f('ck_enterprise_placement_placement')),
    sa.ForeignKeyConstraint(['enterprise_id'], ['enterprise.id'], name=op.f('fk_enterprise_placement_enterprise_id_enterprise'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['set_id'], ['boundary_set.id'], name=op.f('fk_enterprise_placement_set_id_boundary_set'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_enterprise_placement')),
    sa.UniqueConstraint('enterprise_id', 'set_id', name=op.f('uq_enterprise_placement_enterprise_id_set_id'))
    )
    op.create_index(op.f('ix_enterprise_placement_enterprise_id'), 'enterprise_placement', ['enterprise_id'], unique=False)
    op.create_index(op.f('ix_enterprise_placement_set_id'), 'enterprise_placement', ['set_id'], unique=False)
    op.add_column('enterprise', sa.Column('home_code', sa.String(length=20), nullable=True))
    op.create_index('ix_enterprise_home_code', 'enterprise', ['home_code'], unique=False, postgresql_ops={'home_code': 'text_pattern_ops'})
    op.create_index('ix_enterprise_placement', 'enterprise', ['placement'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_enterprise_placement', table_name='enterprise')
    op.drop_index('ix_enterprise_home_code', table_name='enterprise', postgresql_ops={'home_code': 'text_pattern_ops'})
    op.drop_column('enterprise', 'home_code')
    op.drop_index(op.f('ix_enterprise_placement_set_id'), table_name='enterprise_placement')
    op.drop_index(op.f('ix_enterprise_placement_enterprise_id'), table_name='enterprise_placement')
    op.drop_table('enterprise_placement')
