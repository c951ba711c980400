"""A user task's parts: one seat's contribution to a task another seat completes (IFO's part of Västbas'
bedömning, each HLT key person's part of the meeting's decision), declared as the task's `part` properties.

Revision ID: 0026
Revises: 0024
Create Date: 2026-12-01
"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0026"
down_revision = "0024"
branch_labels = None
depends_on = None

_JSON = sa.JSON().with_variant(JSONB(), "postgresql")


def upgrade() -> None:
    op.create_table(
        "task_part",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("task_id", sa.String(36), sa.ForeignKey("user_task.id", ondelete="CASCADE"), nullable=False),
        sa.Column("case_id", sa.String(36), sa.ForeignKey("case.id", ondelete="CASCADE"), nullable=False),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("role", sa.String(200), nullable=False),
        sa.Column("seat", sa.String(20), nullable=True),
        sa.Column("agency", sa.String(100), nullable=True),
        sa.Column("required", sa.Boolean, nullable=False),
        sa.Column("form_key", sa.String(200), nullable=True),
        sa.Column("state", sa.String(20), nullable=False),
        sa.Column("data", _JSON, nullable=True),
        sa.Column("done_by", sa.String(200), nullable=True),
        sa.Column("done_by_id", sa.String(200), nullable=True),
        sa.Column("done_agency", sa.String(100), nullable=True),
        sa.Column("done_at", sa.DateTime(timezone=True), nullable=True),
        sa.UniqueConstraint("task_id", "name", name="uq_task_part"),
    )
    op.create_index("ix_task_part_case", "task_part", ["case_id"])
    op.create_index("ix_task_part_role_state", "task_part", ["role", "state"])


def downgrade() -> None:
    op.drop_index("ix_task_part_role_state", table_name="task_part")
    op.drop_index("ix_task_part_case", table_name="task_part")
    op.drop_table("task_part")
