"""double-random draw records its inspector pool and target list

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-06
"""
from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql


revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # The seed alone does not reproduce a draw once staffing changes: record its inputs.
    op.add_column("inspection_plan", sa.Column("draw_record", postgresql.JSONB(), nullable=True))


def downgrade() -> None:
    op.drop_column("inspection_plan", "draw_record")
