"""hazards, inspections, plans, patrols

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22 13:34:12.919650
"""
from alembic import op
import sqlalchemy as sa
import geoalchemy2
from geoalchemy2 import Geometry
from sqlalchemy.dialects import postgresql

revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('inspection_plan',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('township_code', sa.String(length=20), nullable=False),
    sa.Column('district_code', sa.String(length=6), nullable=False),
    sa.Column('period', sa.String(length=7), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('share', sa.Float(), nullable=False),
    sa.Column('status', sa.String(length=8), nullable=False),
    sa.Column('seed', sa.BigInteger(), nullable=True),
    sa.Column('drawn_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint("status IN ('draft', 'drawn')", name=op.f('ck_inspection_plan_status')),
    sa.CheckConstraint('share > 0 AND share <= 1', name=op.f('ck_inspection_plan_share')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_inspection_plan'))
    )
    op.create_index('ix_inspection_plan_township_code', 'inspection_plan', ['township_code'], unique=False, postgresql_ops={'township_code': 'text_pattern_ops'})
    op.create_geospatial_table('patrol',
    sa.Column('id', sa.BigInteger(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=True),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('location', Geometry(geometry_type='POINT', srid=4490, dimension=2, spatial_index=False, from_text='ST_GeomFromEWKT', name='geometry', nullable=False), nullable=False),
    sa.Column('source_crs', sa.String(length=10), nullable=False),
    sa.Column('placement', sa.String(length=10), nullable=False),
    sa.Column('grid_code', sa.String(length=20), nullable=True),
    sa.Column('home_code', sa.String(length=20), nullable=True),
    sa.Column('district_code', sa.String(length=6), nullable=True),
    sa.Column('note', sa.Text(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['app_user.id'], name=op.f('fk_patrol_user_id_app_user'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_patrol'))
    )
    op.create_index('ix_patrol_home_code_at', 'patrol', ['home_code', 'at'], unique=False, postgresql_ops={'home_code': 'text_pattern_ops'})
    op.create_index(op.f('ix_patrol_user_id'), 'patrol', ['user_id'], unique=False)
    op.create_table('inspection',
    sa.Column('id', sa.BigInteger(), nullable=False),
    sa.Column('enterprise_id', sa.BigInteger(), nullable=False),
    sa.Column('plan_id', sa.Integer(), nullable=True),
    sa.Column('inspected_on', sa.DateTime(timezone=True), nullable=False),
    sa.Column('grid_code', sa.String(length=20), nullable=True),
    sa.Column('home_code', sa.String(length=20), nullable=True),
    sa.Column('district_code', sa.String(length=6), nullable=True),
    sa.Column('findings', sa.Text(), nullable=True),
    sa.Column('case_filed', sa.Boolean(), nullable=False),
    sa.Column('fine_amount', sa.Float(), server_default=sa.text('0'), nullable=False),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint('fine_amount >= 0', name=op.f('ck_inspection_fine_amount')),
    sa.ForeignKeyConstraint(['created_by_id'], ['app_user.id'], name=op.f('fk_inspection_created_by_id_app_user'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['enterprise_id'], ['enterprise.id'], name=op.f('fk_inspection_enterprise_id_enterprise'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['plan_id'], ['inspection_plan.id'], name=op.f('fk_inspection_plan_id_inspection_plan'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_inspection'))
    )
    op.create_index(op.f('ix_inspection_district_code'), 'inspection', ['district_code'], unique=False)
    op.create_index(op.f('ix_inspection_enterprise_id'), 'inspection', ['enterprise_id'], unique=False)
    op.create_index('ix_inspection_home_code', 'inspection', ['home_code'], unique=False, postgresql_ops={'home_code': 'text_pattern_ops'})
    op.create_index(op.f('ix_inspection_plan_id'), 'inspection', ['plan_id'], unique=False)
    op.create_table('plan_target',
    sa.Column('plan_id', sa.Integer(), nullable=False),
    sa.Column('enterprise_id', sa.BigInteger(), nullable=False),
    sa.Column('selected', sa.Boolean(), server_default=sa.text('false'), nullable=False),
    sa.Column('inspector_a_id', sa.BigInteger(), nullable=True),
    sa.Column('inspector_b_id', sa.BigInteger(), nullable=True),
    sa.ForeignKeyConstraint(['enterprise_id'], ['enterprise.id'], name=op.f('fk_plan_target_enterprise_id_enterprise'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['inspector_a_id'], ['person.id'], name=op.f('fk_plan_target_inspector_a_id_person'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['inspector_b_id'], ['person.id'], name=op.f('fk_plan_target_inspector_b_id_person'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['plan_id'], ['inspection_plan.id'], name=op.f('fk_plan_target_plan_id_inspection_plan'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('plan_id', 'enterprise_id', name=op.f('pk_plan_target'))
    )
    op.create_geospatial_table('hazard',
    sa.Column('id', sa.BigInteger(), nullable=False),
    sa.Column('enterprise_id', sa.BigInteger(), nullable=True),
    sa.Column('location', Geometry(geometry_type='POINT', srid=4490, dimension=2, spatial_index=False, from_text='ST_GeomFromEWKT', name='geometry'), nullable=True),
    sa.Column('source_lon', sa.Float(), nullable=True),
    sa.Column('source_lat', sa.Float(), nullable=True),
    sa.Column('source_crs', sa.String(length=10), nullable=True),
    sa.Column('placement', sa.String(length=10), nullable=False),
    sa.Column('grid_code', sa.String(length=20), nullable=True),
    sa.Column('village_code', sa.String(length=20), nullable=True),
    sa.Column('township_code', sa.String(length=20), nullable=True),
    sa.Column('district_code', sa.String(length=6), nullable=True),
    sa.Column('home_code', sa.String(length=20), nullable=True),
    sa.Column('category', sa.String(length=40), nullable=False),
    sa.Column('grade', sa.String(length=10), nullable=False),
    sa.Column('source', sa.String(length=20), nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('status', sa.String(length=12), nullable=False),
    sa.Column('deadline', sa.DateTime(timezone=True), nullable=False),
    sa.Column('supervising_official', sa.String(length=100), nullable=True),
    sa.Column('rectification_plan', sa.Text(), nullable=True),
    sa.Column('rectifier_id', sa.Integer(), nullable=True),
    sa.Column('verifier_id', sa.Integer(), nullable=True),
    sa.Column('reported_by_id', sa.Integer(), nullable=True),
    sa.Column('tracking_code', sa.String(length=24), nullable=True),
    sa.Column('reporter_contact', sa.String(length=100), nullable=True),
    sa.Column('duplicate_of_id', sa.BigInteger(), nullable=True),
    sa.Column('inspection_id', sa.BigInteger(), nullable=True),
    sa.Column('escalation_level', sa.SmallInteger(), server_default=sa.text('0'), nullable=False),
    sa.Column('escalated_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('version', sa.Integer(), server_default=sa.text('1'), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('closed_at', sa.DateTime(timezone=True), nullable=True),
    sa.CheckConstraint("grade IN ('general', 'major')", name=op.f('ck_hazard_grade')),
    sa.CheckConstraint("placement IN ('exact', 'snapped', 'address', 'ambiguous', 'conflict', 'unplaced')", name=op.f('ck_hazard_placement')),
    sa.CheckConstraint("source IN ('inspection', 'self_report', 'public_report', 'patrol')", name=op.f('ck_hazard_source')),
    sa.CheckConstraint("status IN ('reported', 'filed', 'dispatched', 'rectifying', 'verifying', 'closed', 'rejected')", name=op.f('ck_hazard_status')),
    sa.CheckConstraint('escalation_level BETWEEN 0 AND 3', name=op.f('ck_hazard_escalation_level')),
    sa.ForeignKeyConstraint(['duplicate_of_id'], ['hazard.id'], name=op.f('fk_hazard_duplicate_of_id_hazard'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['enterprise_id'], ['enterprise.id'], name=op.f('fk_hazard_enterprise_id_enterprise'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['inspection_id'], ['inspection.id'], name=op.f('fk_hazard_inspection_id_inspection'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['rectifier_id'], ['app_user.id'], name=op.f('fk_hazard_rectifier_id_app_user'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['reported_by_id'], ['app_user.id'], name=op.f('fk_hazard_reported_by_id_app_user'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['verifier_id'], ['app_user.id'], name=op.f('fk_hazard_verifier_id_app_user'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_hazard')),
    sa.UniqueConstraint('tracking_code', name=op.f('uq_hazard_tracking_code'))
    )
    op.create_geospatial_index('idx_hazard_location', 'hazard', ['location'], unique=False, postgresql_using='gist', postgresql_ops={})
    op.create_index(op.f('ix_hazard_district_code'), 'hazard', ['district_code'], unique=False)
    op.create_index(op.f('ix_hazard_enterprise_id'), 'hazard', ['enterprise_id'], unique=False)
    op.create_index('ix_hazard_home_code', 'hazard', ['home_code'], unique=False, postgresql_ops={'home_code': 'text_pattern_ops'})
    op.create_index(op.f('ix_hazard_inspection_id'), 'hazard', ['inspection_id'], unique=False)
    op.create_index('ix_hazard_status_deadline', 'hazard', ['status', 'deadline'], unique=False)
    op.create_table('inspection_inspector',
    sa.Column('inspection_id', sa.BigInteger(), nullable=False),
    sa.Column('person_id', sa.BigInteger(), nullable=False),
    sa.ForeignKeyConstraint(['inspection_id'], ['inspection.id'], name=op.f('fk_inspection_inspector_inspection_id_inspection'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['person_id'], ['person.id'], name=op.f('fk_inspection_inspector_person_id_person'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('inspection_id', 'person_id', name=op.f('pk_inspection_inspector'))
    )
    op.create_table('hazard_attachment',
    sa.Column('id', sa.BigInteger(), nullable=False),
    sa.Column('hazard_id', sa.BigInteger(), nullable=False),
    sa.Column('kind', sa.String(length=24), nullable=False),
    sa.Column('filename', sa.String(length=200), nullable=False),
    sa.Column('content_type', sa.String(length=60), nullable=False),
    sa.Column('size', sa.Integer(), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('storage_path', sa.String(length=300), nullable=False),
    sa.Column('uploaded_by_id', sa.Integer(), nullable=True),
    sa.Column('uploaded_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint("kind IN ('before_photo', 'after_photo', 'responsibility_sheet', 'other')", name=op.f('ck_hazard_attachment_kind')),
    sa.ForeignKeyConstraint(['hazard_id'], ['hazard.id'], name=op.f('fk_hazard_attachment_hazard_id_hazard'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['uploaded_by_id'], ['app_user.id'], name=op.f('fk_hazard_attachment_uploaded_by_id_app_user'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_hazard_attachment'))
    )
    op.create_index(op.f('ix_hazard_attachment_hazard_id'), 'hazard_attachment', ['hazard_id'], unique=False)
    op.create_table('hazard_event',
    sa.Column('id', sa.BigInteger(), nullable=False),
    sa.Column('hazard_id', sa.BigInteger(), nullable=False),
    sa.Column('seq', sa.Integer(), nullable=False),
    sa.Column('action', sa.String(length=20), nullable=False),
    sa.Column('from_status', sa.String(length=12), nullable=True),
    sa.Column('to_status', sa.String(length=12), nullable=True),
    sa.Column('actor_id', sa.Integer(), nullable=True),
    sa.Column('actor_name', sa.String(length=100), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('note', sa.Text(), nullable=True),
    sa.Column('attachment_ids', postgresql.JSONB(astext_type=sa.Text()), server_default=sa.text("'[]'::jsonb"), nullable=False),
    sa.Column('data', postgresql.JSONB(astext_type=sa.Text()), server_default=sa.text("'{}'::jsonb"), nullable=False),
    sa.ForeignKeyConstraint(['actor_id'], ['app_user.id'], name=op.f('fk_hazard_event_actor_id_app_user'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['hazard_id'], ['hazard.id'], name=op.f('fk_hazard_event_hazard_id_hazard'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_hazard_event')),
    sa.UniqueConstraint('hazard_id', 'seq', name=op.f('uq_hazard_event_hazard_id_seq'))
    )
    op.create_index(op.f('ix_hazard_event_hazard_id'), 'hazard_event', ['hazard_id'], unique=False)
    # The event log is append-only: history cannot be rewritten, even by the app's own user.
    op.execute("""
        CREATE FUNCTION gridmap_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            RAISE EXCEPTION 'append-only table %', TG_TABLE_NAME USING ERRCODE = 'insufficient_privilege';
        END $$
    """)
    op.execute("CREATE TRIGGER hazard_event_append_only BEFORE UPDATE OR DELETE ON hazard_event"
               " FOR EACH ROW EXECUTE FUNCTION gridmap_refuse_change()")
    op.execute("CREATE TRIGGER hazard_event_no_truncate BEFORE TRUNCATE ON hazard_event"
               " FOR EACH STATEMENT EXECUTE FUNCTION gridmap_refuse_change()")


def downgrade() -> None:
    op.execute("DROP TRIGGER IF EXISTS hazard_event_no_truncate ON hazard_event")
    op.execute("DROP TRIGGER IF EXISTS hazard_event_append_only ON hazard_event")
    op.execute("DROP FUNCTION IF EXISTS gridmap_refuse_change()")
    op.drop_index(op.f('ix_hazard_event_hazard_id'), table_name='hazard_event')
    op.drop_table('hazard_event')
    op.drop_index(op.f('ix_hazard_attachment_hazard_id'), table_name='hazard_attachment')
    op.drop_table('hazard_attachment')
    op.drop_table('inspection_inspector')
    op.drop_index('ix_hazard_status_deadline', table_name='hazard')
    op.drop_index(op.f('ix_hazard_inspection_id'), table_name='hazard')
    op.drop_index('ix_hazard_home_code', table_name='hazard', postgresql_ops={'home_code': 'text_pattern_ops'})
    op.drop_index(op.f('ix_hazard_enterprise_id'), table_name='hazard')
    op.drop_index(op.f('ix_hazard_district_code'), table_name='hazard')
    op.drop_geospatial_index('idx_hazard_location', table_name='hazard', postgresql_using='gist', column_name='location')
    op.drop_geospatial_table('hazard')
    op.drop_table('plan_target')
    op.drop_index(op.f('ix_inspection_plan_id'), table_name='inspection')
    op.drop_index('ix_inspection_home_code', table_name='inspection', postgresql_ops={'home_code': 'text_pattern_ops'})
    op.drop_index(op.f('ix_inspection_enterprise_id'), table_name='inspection')
    op.drop_index(op.f('ix_inspection_district_code'), table_name='inspection')
    op.drop_table('inspection')
    op.drop_index(op.f('ix_patrol_user_id'), table_name='patrol')
    op.drop_index('ix_patrol_home_code_at', table_name='patrol', postgresql_ops={'home_code': 'text_pattern_ops'})
    op.drop_geospatial_table('patrol')
    op.drop_index('ix_inspection_plan_township_code', table_name='inspection_plan', postgresql_ops={'township_code': 'text_pattern_ops'})
    op.drop_table('inspection_plan')
