"""Access control: case participants, consent state and data origin, the append-only access log,
API keys, children's identity numbers (keyed hash + ciphertext) and culling.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-23
"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

JSON = sa.JSON().with_variant(JSONB(), "postgresql")
TS = sa.DateTime(timezone=True)

# The access log is append-only for everyone who connects, the application included.
_PG_GUARD = """
CREATE FUNCTION access_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'access_log is append-only';
END $$;
CREATE TRIGGER access_log_no_update BEFORE UPDATE OR DELETE ON access_log
    FOR EACH ROW EXECUTE FUNCTION access_log_append_only();
CREATE TRIGGER access_log_no_truncate BEFORE TRUNCATE ON access_log
    FOR EACH STATEMENT EXECUTE FUNCTION access_log_append_only();
"""
_SQLITE_GUARD = [
    "CREATE TRIGGER access_log_no_update BEFORE UPDATE ON access_log "
    "BEGIN SELECT RAISE(ABORT, 'access_log is append-only'); END",
    "CREATE TRIGGER access_log_no_delete BEFORE DELETE ON access_log "
    "BEGIN SELECT RAISE(ABORT, 'access_log is append-only'); END",
]


def upgrade() -> None:
    op.create_table(
        "child",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("pnr_hash", sa.String(64), nullable=False, unique=True),
        sa.Column("pnr_cipher", sa.Text(), nullable=False),
        sa.Column("created_at", TS, nullable=False),
    )
    with op.batch_alter_table("case") as batch:
        batch.add_column(sa.Column("child_id", sa.String(36), sa.ForeignKey("child.id", name="fk_case_child",
                                                                              ondelete="SET NULL"), nullable=True))
        batch.add_column(sa.Column("data_origin", JSON, nullable=False, server_default="{}"))
        batch.add_column(sa.Column("consent", JSON, nullable=True))
        batch.add_column(sa.Column("culled_at", TS, nullable=True))
    op.create_index("ix_case_closed", "case", ["closed_at"])
    op.create_table(
        "case_participant",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("case_id", sa.String(36), sa.ForeignKey("case.id", ondelete="CASCADE"), nullable=False),
        sa.Column("user", sa.String(200), nullable=False),
        sa.Column("agency", sa.String(100), nullable=False),
        sa.Column("role", sa.String(200), nullable=False),
        sa.Column("source", sa.String(20), nullable=False),
        sa.Column("added_at", TS, nullable=False),
        sa.Column("added_by", sa.String(200), nullable=False),
        sa.UniqueConstraint("case_id", "user", "role", name="uq_case_participant"),
    )
    op.create_index("ix_case_participant_user", "case_participant", ["user", "case_id"])
    op.create_table(
        "access_log",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("at", TS, nullable=False),
        sa.Column("user", sa.String(200), nullable=False),
        sa.Column("agency", sa.String(100), nullable=True),
        sa.Column("roles", JSON, nullable=False),
        sa.Column("client", sa.String(200), nullable=False),
        sa.Column("case_id", sa.String(36), nullable=True),
        sa.Column("action", sa.String(20), nullable=False),
        sa.Column("what", sa.String(200), nullable=False),
    )
    op.create_index("ix_access_log_case", "access_log", ["case_id", "id"])
    if op.get_bind().dialect.name == "postgresql":
        op.execute(_PG_GUARD)
    else:
        for statement in _SQLITE_GUARD:
            op.execute(statement)
    op.create_table(
        "api_key",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("secret_hash", sa.String(64), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("agency", sa.String(100), nullable=True),
        sa.Column("roles", JSON, nullable=False),
        sa.Column("scopes", JSON, nullable=False),
        sa.Column("created_by", sa.String(200), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("expires_at", TS, nullable=True),
        sa.Column("revoked_at", TS, nullable=True),
    )


def downgrade() -> None:
    op.drop_table("api_key")
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TABLE access_log; DROP FUNCTION access_log_append_only()")
    else:
        op.drop_table("access_log")
    op.drop_table("case_participant")
    op.drop_index("ix_case_closed", "case")
    with op.batch_alter_table("case") as batch:
        batch.drop_column("culled_at")
        batch.drop_column("consent")
        batch.drop_column("data_origin")
        batch.drop_column("child_id")
    op.drop_table("child")
