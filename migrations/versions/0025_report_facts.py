"""Report facts: what each step means for the measures, written in the same transaction as its history.

Revision ID: 0025
Revises: 0024
Create Date: 2026-12-01
"""
import sqlalchemy as sa
from alembic import op

revision = "0025"
down_revision = "0024"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "report_fact",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("case_id", sa.String(36), sa.ForeignKey("case.id", ondelete="CASCADE"), nullable=False),
        sa.Column("process_key", sa.String(200), nullable=False),
        sa.Column("process_version_id", sa.Integer, nullable=False),
        sa.Column("unit", sa.String(200), nullable=True),
        sa.Column("agency", sa.String(100), nullable=True),
        sa.Column("measure", sa.String(60), nullable=False),
        sa.Column("day", sa.Date, nullable=False),
        sa.Column("task_id", sa.String(36), nullable=True),
        sa.Column("detail", sa.String(200), nullable=True),
        sa.Column("outcome", sa.String(100), nullable=True),
        sa.Column("value", sa.Integer, nullable=True),
    )
    # A report reads one process over a span of days; the case index serves replacing a case's fact.
    op.create_index("ix_report_fact_process_measure_day", "report_fact", ["process_key", "measure", "day"])
    op.create_index("ix_report_fact_case", "report_fact", ["case_id", "measure"])


    # Per day, the count of each kind of fact (by unit, agency, version, detail, outcome and, where a measure
    # needs it, value): what a report sums. A step adds rows of its own (folded = false) in its transaction,
    # never updating a shared one, so no step waits on another's row lock; a worker folds them into one per key.
    op.create_table(
        "report_daily",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("process_key", sa.String(200), nullable=False),
        sa.Column("measure", sa.String(60), nullable=False),
        sa.Column("day", sa.Date, nullable=False),
        sa.Column("unit", sa.String(200), nullable=False),
        sa.Column("agency", sa.String(100), nullable=False),
        sa.Column("process_version_id", sa.Integer, nullable=False),
        sa.Column("detail", sa.String(200), nullable=False),
        sa.Column("outcome", sa.String(100), nullable=False),
        sa.Column("value", sa.Integer, nullable=False),
        sa.Column("count", sa.Integer, nullable=False),
        sa.Column("folded", sa.Boolean, nullable=False, server_default=sa.false()),
    )
    op.create_index("ix_report_daily", "report_daily", ["process_key", "measure", "day", "unit", "agency",
                                                        "process_version_id", "detail", "outcome", "value"])
    op.create_index("ix_report_daily_unfolded", "report_daily", ["folded", "id"])


def downgrade() -> None:
    op.drop_index("ix_report_daily_unfolded", table_name="report_daily")
    op.drop_index("ix_report_daily", table_name="report_daily")
    op.drop_table("report_daily")
    op.drop_index("ix_report_fact_case", table_name="report_fact")
    op.drop_index("ix_report_fact_process_measure_day", table_name="report_fact")
    op.drop_table("report_fact")
