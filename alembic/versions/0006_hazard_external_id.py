"""hazard external id for imported registers

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-22 14:02:01.368478
"""
from alembic import op
import sqlalchemy as sa
import geoalchemy2


revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column('hazard', sa.Column('external_id', sa.String(length=40), nullable=True))
    op.create_unique_constraint(op.f('uq_hazard_external_id'), 'hazard', ['external_id'])


def downgrade() -> None:
    op.drop_constraint(op.f('uq_hazard_external_id'), 'hazard', type_='unique')
    op.drop_column('hazard', 'external_id')
