"""Incidents, suspension and migration jobs: cases that outlive their model.

Revision ID: 0020
Revises: 0017
Create Date: 2026-12-01
"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0020"
down_revision = "0019"
branch_labels = None
depends_on = None

JSON = sa.JSON().with_variant(JSONB(), "postgresql")
TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table("case") as batch:
        batch.add_column(sa.Column("incident_id", sa.String(36), nullable=True))
        batch.add_column(sa.Column("suspended_at", TS, nullable=True))
        batch.add_column(sa.Column("held_messages", JSON, nullable=True))
    op.create_table(
        "incident",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("case_id", sa.String(36), sa.ForeignKey("case.id", ondelete="CASCADE"), nullable=False),
        sa.Column("process_key", sa.String(200), nullable=False),
        sa.Column("process_version_id", sa.Integer, nullable=False),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("task_id", sa.String(36), nullable=True),
        sa.Column("element_id", sa.String(200), nullable=True),
        sa.Column("element_name", sa.String(500), nullable=True),
        sa.Column("element_type", sa.String(100), nullable=True),
        sa.Column("error", sa.Text, nullable=False),
        sa.Column("error_type", sa.String(100), nullable=False),
        sa.Column("data", JSON, nullable=False),
        sa.Column("state", sa.String(20), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        sa.Column("resolved_at", TS, nullable=True),
        sa.Column("resolved_by", sa.String(200), nullable=True),
    )
    op.create_index("ix_incident_process_state", "incident", ["process_key", "state", "created_at", "id"])
    op.create_index("ix_incident_case", "incident", ["case_id"])
    op.create_table(
        "migration_job",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("process_key", sa.String(200), nullable=False),
        sa.Column("from_version", sa.Integer, nullable=True),
        sa.Column("to_version", sa.Integer, nullable=False),
        sa.Column("mapping", JSON, nullable=False),
        sa.Column("principal", JSON, nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("total", sa.Integer, nullable=False),
        sa.Column("processed", sa.Integer, nullable=False),
        sa.Column("moved", sa.Integer, nullable=False),
        sa.Column("refused", JSON, nullable=False),
        sa.Column("cursor", sa.String(36), nullable=True),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("started_at", TS, nullable=True),
        sa.Column("finished_at", TS, nullable=True),
        sa.Column("lease_until", TS, nullable=True),
    )
    op.create_index("ix_migration_job_status", "migration_job", ["status", "created_at"])


def downgrade() -> None:
    op.drop_index("ix_migration_job_status", table_name="migration_job")
    op.drop_table("migration_job")
    op.drop_index("ix_incident_case", table_name="incident")
    op.drop_index("ix_incident_process_state", table_name="incident")
    op.drop_table("incident")
    with op.batch_alter_table("case") as batch:
        batch.drop_column("held_messages")
        batch.drop_column("suspended_at")
        batch.drop_column("incident_id")
