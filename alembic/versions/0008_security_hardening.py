"""audit and login-role hardening

The web application now logs in as ``gridmap_app`` (LOGIN, not a superuser, owning
nothing) instead of logging in as the owner and then ``SET ROLE gridmap_app``: a
``RESET ROLE`` can no longer climb back to a superuser, and ``session_replication_role``
(which switches triggers off) is out of its reach. The per-row audit trigger honours
``gridmap.audit_skip`` (bulk imports write one summary instead of a row per record) only
when the writing role owns the table — the app role may set the flag, but its writes are
logged anyway. ``grid_status`` and ``coverage_problem`` (kept by coverage refreshes) get
one summary entry per statement: which operation, how many rows, the top grid code.

Roles belong to the whole cluster, not to one database: the downgrade leaves
``gridmap_app`` able to log in (other databases of the cluster may be serving with it) and
restores the previous trigger function only (the grants are the same as 0005's).

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-06
"""
import importlib.util
from pathlib import Path

from alembic import op

revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None

# Created when missing (0005 could not, or ran before the role was wanted as a login),
# made a plain login role otherwise; the grants of 0005 are (re)applied, as 0005 may have
# skipped them. Without CREATEROLE the notice says so and the API refuses to start until
# an administrator creates the role (README, "Security").
APP_LOGIN = """
DO $$
DECLARE t text;
BEGIN
    BEGIN
        IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'gridmap_app') THEN
            CREATE ROLE gridmap_app LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS;
        ELSE
            ALTER ROLE gridmap_app LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS;
        END IF;
    EXCEPTION WHEN insufficient_privilege THEN
        RAISE NOTICE 'cannot create or alter role gridmap_app: an administrator must create it (LOGIN)';
    END;
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'gridmap_app') THEN
        RETURN;
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

_SKIP_FOR_ANYONE = "IF current_setting('gridmap.audit_skip', true) = 'on' THEN"
# The table's owner (the CLI's bulk imports, migrations) may skip the per-row log; any
# other role's rows are logged whatever the flag says.
_SKIP_FOR_OWNER = ("IF current_setting('gridmap.audit_skip', true) = 'on'"
                   " AND pg_has_role(current_user, (SELECT relowner FROM pg_class WHERE oid = TG_RELID), 'USAGE') THEN")

# One summary entry per statement on the tables a coverage refresh rewrites wholesale
# (hundreds of thousands of rows for a province): operation, row count, boundary sets and
# the top grid code (the shortest code among the rows: the refreshed grid). Transition
# tables need one trigger per event.
STATEMENT_FUNCTION = """
CREATE FUNCTION gridmap_audit_statement() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    ctx jsonb := COALESCE(NULLIF(current_setting('gridmap.audit', true), '')::jsonb, '{}'::jsonb);
    row_count bigint;
    top_code text;
    set_ids jsonb;
BEGIN
    EXECUTE format('SELECT count(*), (array_agg(%1$I ORDER BY length(%1$I), %1$I))[1], jsonb_agg(DISTINCT set_id)'
                   ' FROM changed', TG_ARGV[0]) INTO row_count, top_code, set_ids;
    IF row_count = 0 THEN
        RETURN NULL;
    END IF;
    INSERT INTO audit_log (actor, actor_id, role, method, route, client, action, object_type, object_id, after)
    VALUES (COALESCE(ctx ->> 'actor', 'db:' || session_user), (ctx ->> 'actor_id')::int, ctx ->> 'role',
            ctx ->> 'method', ctx ->> 'route', ctx ->> 'client', 'bulk', TG_TABLE_NAME, top_code,
            jsonb_build_object('operation', lower(TG_OP), 'rows', row_count, 'set_ids', set_ids));
    RETURN NULL;
END $$
"""
#: Tables summarised per statement and the column holding their grid code.
SUMMARISED = {"grid_status": "code", "coverage_problem": "parent_code"}
_TRANSITION = {"INSERT": "NEW", "UPDATE": "NEW", "DELETE": "OLD"}


def _audit_function_0005() -> str:
    """The per-row trigger function as migration 0005 created it."""
    spec = importlib.util.spec_from_file_location("gridmap_migration_0005", Path(__file__).with_name("0005_audit.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert _SKIP_FOR_ANYONE in module.AUDIT_FUNCTION
    return module.AUDIT_FUNCTION.replace("CREATE FUNCTION", "CREATE OR REPLACE FUNCTION", 1)


def upgrade() -> None:
    op.execute(APP_LOGIN)
    op.execute(_audit_function_0005().replace(_SKIP_FOR_ANYONE, _SKIP_FOR_OWNER))
    op.execute(STATEMENT_FUNCTION)
    for table, code_column in SUMMARISED.items():
        for event, image in _TRANSITION.items():
            op.execute(f"CREATE TRIGGER {table}_audit_{event.lower()} AFTER {event} ON {table}"
                       f" REFERENCING {image} TABLE AS changed"
                       f" FOR EACH STATEMENT EXECUTE FUNCTION gridmap_audit_statement('{code_column}')")


def downgrade() -> None:
    for table in SUMMARISED:
        for event in _TRANSITION:
            op.execute(f"DROP TRIGGER IF EXISTS {table}_audit_{event.lower()} ON {table}")
    op.execute("DROP FUNCTION IF EXISTS gridmap_audit_statement()")
    op.execute(_audit_function_0005())
