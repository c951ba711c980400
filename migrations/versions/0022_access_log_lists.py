"""A list read is one access-log row naming the cases it returned: the names live in `access_log_case`,
append-only like the log itself, indexed by case so a case's log still finds the row.

Revision ID: 0022
Revises: 0017
Create Date: 2026-12-01
"""
import sqlalchemy as sa
from alembic import op

revision = "0022"
down_revision = "0020"
branch_labels = None
depends_on = None

_PG_GUARD = """
CREATE TRIGGER access_log_case_no_update BEFORE UPDATE OR DELETE ON access_log_case
    FOR EACH ROW EXECUTE FUNCTION access_log_append_only();
CREATE TRIGGER access_log_case_no_truncate BEFORE TRUNCATE ON access_log_case
    FOR EACH STATEMENT EXECUTE FUNCTION access_log_append_only();
"""
_SQLITE_GUARD = [
    "CREATE TRIGGER access_log_case_no_update BEFORE UPDATE ON access_log_case "
    "BEGIN SELECT RAISE(ABORT, 'access_log is append-only'); END",
    "CREATE TRIGGER access_log_case_no_delete BEFORE DELETE ON access_log_case "
    "BEGIN SELECT RAISE(ABORT, 'access_log is append-only'); END",
]


def upgrade() -> None:
    op.create_table(
        "access_log_case",
        sa.Column("entry_id", sa.Integer, sa.ForeignKey("access_log.id"), primary_key=True),
        sa.Column("case_id", sa.String(36), primary_key=True),
    )
    op.create_index("ix_access_log_case_case", "access_log_case", ["case_id", "entry_id"])
    if op.get_bind().dialect.name == "postgresql":
        op.execute(_PG_GUARD)
    else:
        for statement in _SQLITE_GUARD:
            op.execute(statement)


def downgrade() -> None:
    # The older schema names one case per row: each list row is written again once per case it named
    # (appending is all the log allows), so every case's log keeps its reads.
    op.execute("INSERT INTO access_log (at, \"user\", agency, roles, client, case_id, action, what) "
               "SELECT l.at, l.\"user\", l.agency, l.roles, l.client, c.case_id, l.action, l.what "
               "FROM access_log l JOIN access_log_case c ON c.entry_id = l.id ORDER BY l.id, c.case_id")
    op.drop_table("access_log_case")  # its triggers go with it
