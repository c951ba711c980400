"""Engine core: process versions, cases, user tasks, timers, history.

Revision ID: 0001
Revises:
Create Date: 2026-11-22
"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

Json = sa.JSON().with_variant(JSONB(), "postgresql")
Ts = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "process_version",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("key", sa.String(200), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("name", sa.String(500), nullable=False),
        sa.Column("content_hash", sa.String(64), nullable=False),
        sa.Column("files", Json, nullable=False),
        sa.Column("deployed_at", Ts, nullable=False),
        sa.Column("deployed_by", sa.String(200), nullable=False),
        sa.UniqueConstraint("key", "version", name="uq_process_version_key_version"),
        sa.UniqueConstraint("key", "content_hash", name="uq_process_version_key_hash"),
    )
    op.create_table(
        "case",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("process_key", sa.String(200), nullable=False),
        sa.Column("process_version_id", sa.Integer, sa.ForeignKey("process_version.id"), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("data", Json, nullable=False),
        sa.Column("state", sa.Text, nullable=False),
        sa.Column("serializer_version", sa.String(20), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("created_at", Ts, nullable=False),
        sa.Column("updated_at", Ts, nullable=False),
        sa.Column("closed_at", Ts, nullable=True),
        sa.Column("created_by", sa.String(200), nullable=False),
    )
    op.create_index("ix_case_process_status_created", "case", ["process_key", "status", "created_at", "id"])
    op.create_index("ix_case_created", "case", ["created_at", "id"])
    op.create_table(
        "user_task",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("case_id", sa.String(36), sa.ForeignKey("case.id", ondelete="CASCADE"), nullable=False),
        sa.Column("process_key", sa.String(200), nullable=False),
        sa.Column("element_id", sa.String(200), nullable=False),
        sa.Column("name", sa.String(500), nullable=False),
        sa.Column("candidate_group", sa.String(200), nullable=True),
        sa.Column("form_key", sa.String(200), nullable=True),
        sa.Column("state", sa.String(20), nullable=False),
        sa.Column("assignee", sa.String(200), nullable=True),
        sa.Column("due_at", Ts, nullable=True),
        sa.Column("created_at", Ts, nullable=False),
        sa.Column("completed_at", Ts, nullable=True),
        sa.Column("completed_by", sa.String(200), nullable=True),
    )
    op.create_index("ix_user_task_state_group", "user_task", ["state", "candidate_group"])
    op.create_index("ix_user_task_state_due", "user_task", ["state", "due_at"])
    op.create_index("ix_user_task_assignee", "user_task", ["assignee"])
    op.create_index("ix_user_task_case", "user_task", ["case_id"])
    op.create_table(
        "timer",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("case_id", sa.String(36), sa.ForeignKey("case.id", ondelete="CASCADE"), nullable=False),
        sa.Column("element_id", sa.String(200), nullable=False),
        sa.Column("name", sa.String(500), nullable=False),
        sa.Column("attached_to", sa.String(36), nullable=True),
        sa.Column("interrupting", sa.Boolean, nullable=False),
        sa.Column("due_at", Ts, nullable=False),
    )
    op.create_index("ix_timer_due", "timer", ["due_at"])
    op.create_index("ix_timer_case", "timer", ["case_id"])
    op.create_table(
        "history_entry",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("case_id", sa.String(36), sa.ForeignKey("case.id", ondelete="CASCADE"), nullable=False),
        sa.Column("at", Ts, nullable=False),
        sa.Column("event", sa.String(40), nullable=False),
        sa.Column("element_id", sa.String(200), nullable=True),
        sa.Column("element_name", sa.String(500), nullable=True),
        sa.Column("element_type", sa.String(100), nullable=True),
        sa.Column("task_id", sa.String(36), nullable=True),
        sa.Column("actor_user", sa.String(200), nullable=False),
        sa.Column("actor_agency", sa.String(100), nullable=True),
        sa.Column("actor_roles", Json, nullable=False),
        sa.Column("data_changes", Json, nullable=True),
    )
    op.create_index("ix_history_case", "history_entry", ["case_id", "id"])


def downgrade() -> None:
    for table in ("history_entry", "timer", "user_task", "case", "process_version"):
        op.drop_table(table)
