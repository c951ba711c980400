"""Timer store: what a timer does, when the worker should try it, and failed attempts; history details.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23
"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

Json = sa.JSON().with_variant(JSONB(), "postgresql")
Ts = sa.DateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table("timer") as batch:
        batch.add_column(sa.Column("process_key", sa.String(200), nullable=False, server_default=""))
        batch.add_column(sa.Column("kind", sa.String(30), nullable=False, server_default="intermediate"))
        batch.add_column(sa.Column("effect", sa.String(30), nullable=False, server_default="continues"))
        batch.add_column(sa.Column("leads_to", Json, nullable=False, server_default="[]"))
        batch.add_column(sa.Column("expression", sa.String(500), nullable=False, server_default=""))
        batch.add_column(sa.Column("repeats", sa.Boolean, nullable=False, server_default=sa.false()))
        batch.add_column(sa.Column("fire_at", Ts, nullable=True))
        batch.add_column(sa.Column("attempts", sa.Integer, nullable=False, server_default="0"))
        batch.add_column(sa.Column("last_error", sa.Text, nullable=True))
        batch.drop_index("ix_timer_due")
    op.execute("UPDATE timer SET fire_at = due_at")
    with op.batch_alter_table("timer") as batch:
        batch.alter_column("fire_at", existing_type=Ts, nullable=False)
        for column in ("process_key", "kind", "effect", "leads_to", "expression", "repeats", "attempts"):
            batch.alter_column(column, server_default=None)
    # The worker's only query: due rows in fire order, so its cost follows the due ones, not all open cases.
    op.create_index("ix_timer_fire_at", "timer", ["fire_at"])
    with op.batch_alter_table("history_entry") as batch:
        batch.add_column(sa.Column("details", Json, nullable=True))
    op.create_index("ix_user_task_group_due", "user_task", ["candidate_group", "state", "due_at"])


def downgrade() -> None:
    op.drop_index("ix_user_task_group_due", "user_task")
    with op.batch_alter_table("history_entry") as batch:
        batch.drop_column("details")
    op.drop_index("ix_timer_fire_at", "timer")
    with op.batch_alter_table("timer") as batch:
        for column in ("process_key", "kind", "effect", "leads_to", "expression", "repeats", "fire_at", "attempts",
                       "last_error"):
            batch.drop_column(column)
        batch.create_index("ix_timer_due", ["due_at"])
