"""audit log, application role

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-22 13:55:00
"""
from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None

#: Audited tables and the columns that identify a row in the log.
AUDITED = {
    "boundary_set": ("id",), "grid": ("set_id", "code"), "person": ("id",),
    "role_assignment": ("id",), "enterprise": ("uscc",), "hazard": ("id",),
    "hazard_attachment": ("id",), "inspection": ("id",), "inspection_inspector": ("inspection_id", "person_id"),
    "inspection_plan": ("id",), "plan_target": ("plan_id", "enterprise_id"), "patrol": ("id",),
    "app_user": ("username",),
}

# Row-level audit trigger: the request context (actor, route …) comes from the
# transaction-local setting gridmap.audit (JSON) that gridmap.audit.set_context writes;
# bulk imports switch rows off with gridmap.audit_skip and write one summary instead.
# Geometry (large; its change shows in the source coordinates), password hashes and
# bookkeeping columns are left out; an UPDATE records only the columns that changed.
AUDIT_FUNCTION = """
CREATE FUNCTION gridmap_audit() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    ctx jsonb := COALESCE(NULLIF(current_setting('gridmap.audit', true), '')::jsonb, '{}'::jsonb);
    strip text[] := ARRAY['geom', 'geom_3857', 'geom_3857_low', 'location', 'location_3857',
                          'password_hash', 'version', 'updated_at'];
    old_j jsonb;
    new_j jsonb;
    before_j jsonb;
    after_j jsonb;
    object_key text;
BEGIN
    IF current_setting('gridmap.audit_skip', true) = 'on' THEN
        RETURN NULL;
    END IF;
    IF TG_OP <> 'INSERT' THEN old_j := to_jsonb(OLD) - strip; END IF;
    IF TG_OP <> 'DELETE' THEN new_j := to_jsonb(NEW) - strip; END IF;
    IF TG_OP = 'UPDATE' THEN
        SELECT jsonb_object_agg(key, old_j -> key), jsonb_object_agg(key, value)
          INTO before_j, after_j
          FROM jsonb_each(new_j) WHERE new_j -> key IS DISTINCT FROM old_j -> key;
        IF after_j IS NULL THEN
            RETURN NULL;
        END IF;
    ELSE
        before_j := old_j;
        after_j := new_j;
    END IF;
    SELECT string_agg(COALESCE(COALESCE(new_j, old_j) ->> c, ''), ':') INTO object_key FROM unnest(TG_ARGV) AS c;
    INSERT INTO audit_log (actor, actor_id, role, method, route, client, action, object_type, object_id, before, after)
    VALUES (COALESCE(ctx ->> 'actor', 'db:' || session_user), (ctx ->> 'actor_id')::int, ctx ->> 'role',
            ctx ->> 'method', ctx ->> 'route', ctx ->> 'client', lower(TG_OP), TG_TABLE_NAME, object_key,
            before_j, after_j);
    RETURN NULL;
END $$
"""

# The role the web application runs as (SET ROLE after connecting): it may read and write
# the data but never rewrite history (audit_log, hazard_event). Created when the migrating
# user may create roles; otherwise the triggers alone keep the logs append-only.
APP_ROLE = """
DO $$
DECLARE t text;
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'gridmap_app') THEN
        BEGIN
            CREATE ROLE gridmap_app NOLOGIN;
        EXCEPTION WHEN insufficient_privilege THEN
            RAISE NOTICE 'cannot create role gridmap_app; logs stay append-only by trigger only';
            RETURN;
        END;
    END IF;
    EXECUTE 'GRANT USAGE ON SCHEMA public TO gridmap_app';
    FOR t IN SELECT tablename FROM pg_tables WHERE schemaname = 'public' AND tableowner = current_user LOOP
        EXECUTE format('GRANT SELECT, INSERT, UPDATE, DELETE ON %I TO gridmap_app', t);
    END LOOP;
    FOR t IN SELECT sequencename FROM pg_sequences WHERE schemaname = 'public' AND sequenceowner = current_user LOOP
        EXECUTE format('GRANT USAGE, SELECT, UPDATE ON SEQUENCE %I TO gridmap_app', t);
    END LOOP;
    EXECUTE 'REVOKE UPDATE, DELETE, TRUNCATE ON audit_log, hazard_event FROM gridmap_app';
    EXECUTE 'ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO gridmap_app';
    EXECUTE 'ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT USAGE, SELECT, UPDATE ON SEQUENCES TO gridmap_app';
END $$
"""

APP_ROLE_REVOKE = """
DO $$
DECLARE t text;
BEGIN
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'gridmap_app') THEN
        EXECUTE 'ALTER DEFAULT PRIVILEGES IN SCHEMA public REVOKE ALL ON TABLES FROM gridmap_app';
        EXECUTE 'ALTER DEFAULT PRIVILEGES IN SCHEMA public REVOKE ALL ON SEQUENCES FROM gridmap_app';
        FOR t IN SELECT tablename FROM pg_tables WHERE schemaname = 'public' AND tableowner = current_user LOOP
            EXECUTE format('REVOKE ALL ON %I FROM gridmap_app', t);
        END LOOP;
        FOR t IN SELECT sequencename FROM pg_sequences WHERE schemaname = 'public' AND sequenceowner = current_user LOOP
            EXECUTE format('REVOKE ALL ON SEQUENCE %I FROM gridmap_app', t);
        END LOOP;
        EXECUTE 'REVOKE USAGE ON SCHEMA public FROM gridmap_app';
    END IF;
END $$
"""


def upgrade() -> None:
    op.create_table('audit_log',
    sa.Column('id', sa.BigInteger(), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), server_default=sa.text('clock_timestamp()'), nullable=False),
    sa.Column('actor', sa.String(length=100), nullable=False),
    sa.Column('actor_id', sa.Integer(), nullable=True),
    sa.Column('role', sa.String(length=20), nullable=True),
    sa.Column('method', sa.String(length=10), nullable=True),
    sa.Column('route', sa.String(length=200), nullable=True),
    sa.Column('client', sa.String(length=64), nullable=True),
    sa.Column('action', sa.String(length=10), nullable=False),
    sa.Column('object_type', sa.String(length=40), nullable=False),
    sa.Column('object_id', sa.String(length=64), nullable=True),
    sa.Column('before', postgresql.JSONB(astext_type=sa.Text()), nullable=True),
    sa.Column('after', postgresql.JSONB(astext_type=sa.Text()), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_audit_log'))
    )
    op.create_index('ix_audit_log_at', 'audit_log', ['at'], unique=False)
    op.create_index('ix_audit_log_object', 'audit_log', ['object_type', 'object_id'], unique=False)
    op.execute(AUDIT_FUNCTION)
    for table, key in AUDITED.items():
        args = ", ".join(f"'{k}'" for k in key)
        op.execute(f"CREATE TRIGGER {table}_audit AFTER INSERT OR UPDATE OR DELETE ON {table}"
                   f" FOR EACH ROW EXECUTE FUNCTION gridmap_audit({args})")
    op.execute("CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log"
               " FOR EACH ROW EXECUTE FUNCTION gridmap_refuse_change()")
    op.execute("CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log"
               " FOR EACH STATEMENT EXECUTE FUNCTION gridmap_refuse_change()")
    op.execute(APP_ROLE)


def downgrade() -> None:
    op.execute(APP_ROLE_REVOKE)
    op.execute("DROP TRIGGER IF EXISTS audit_log_no_truncate ON audit_log")
    op.execute("DROP TRIGGER IF EXISTS audit_log_append_only ON audit_log")
    for table in AUDITED:
        op.execute(f"DROP TRIGGER IF EXISTS {table}_audit ON {table}")
    op.execute("DROP FUNCTION IF EXISTS gridmap_audit()")
    op.drop_index('ix_audit_log_object', table_name='audit_log')
    op.drop_index('ix_audit_log_at', table_name='audit_log')
    op.drop_table('audit_log')
