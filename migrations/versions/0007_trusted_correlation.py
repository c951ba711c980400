"""Correlation that reaches one case: keys per process and unique among open cases; absence reports
identified by (school, pupil, period); absence imports as jobs.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01
"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

JSON = sa.JSON().with_variant(JSONB(), "postgresql")
TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table("case_correlation") as batch:
        batch.add_column(sa.Column("process_key", sa.String(200), nullable=True))
    # A closed case is found by no message, so its keys go; an open one's keys name its process.
    op.execute("DELETE FROM case_correlation WHERE case_id IN (SELECT id FROM \"case\" WHERE status <> 'open')")
    op.execute("UPDATE case_correlation SET process_key = "
               "(SELECT process_key FROM \"case\" WHERE \"case\".id = case_correlation.case_id)")
    with op.batch_alter_table("case_correlation") as batch:
        batch.alter_column("process_key", existing_type=sa.String(200), nullable=False)
    # Where two open cases of one process already claim one key, the older keeps it (and the other, none).
    op.execute("DELETE FROM case_correlation WHERE EXISTS (SELECT 1 FROM case_correlation older "
               "JOIN \"case\" o ON o.id = older.case_id JOIN \"case\" n ON n.id = case_correlation.case_id "
               "WHERE older.process_key = case_correlation.process_key AND older.key = case_correlation.key "
               "AND older.value = case_correlation.value AND older.case_id <> case_correlation.case_id "
               "AND (o.created_at < n.created_at OR (o.created_at = n.created_at AND o.id < n.id)))")
    op.create_index("uq_case_correlation_open_key", "case_correlation", ["process_key", "key", "value"], unique=True)
    op.create_table(
        "absence_report",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("school", sa.String(200), nullable=False),
        sa.Column("pupil", sa.String(200), nullable=False),
        sa.Column("period_start", sa.Date, nullable=False),
        sa.Column("period_end", sa.Date, nullable=False),
        sa.Column("case_id", sa.String(36), sa.ForeignKey("case.id", ondelete="CASCADE"), nullable=False),
        sa.Column("figures", JSON, nullable=False),
        sa.Column("received_at", TS, nullable=False),
        sa.Column("corrected_at", TS, nullable=True),
        sa.Column("corrections", sa.Integer, nullable=False, server_default="0"),
        sa.UniqueConstraint("school", "pupil", "period_start", "period_end", name="uq_absence_report_period"),
    )
    op.create_index("ix_absence_report_case", "absence_report", ["case_id"])
    op.create_table(
        "import_job",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("owner", sa.String(200), nullable=False),
        sa.Column("principal", JSON, nullable=False),
        sa.Column("request", JSON, nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("total", sa.Integer, nullable=False),
        sa.Column("processed", sa.Integer, nullable=False, server_default="0"),
        sa.Column("result", JSON, nullable=True),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("started_at", TS, nullable=True),
        sa.Column("finished_at", TS, nullable=True),
        sa.Column("lease_until", TS, nullable=True),
    )
    op.create_index("ix_import_job_status", "import_job", ["status", "created_at"])


def downgrade() -> None:
    op.drop_table("import_job")
    op.drop_table("absence_report")
    op.drop_index("uq_case_correlation_open_key", table_name="case_correlation")
    with op.batch_alter_table("case_correlation") as batch:
        batch.drop_column("process_key")
