"""The feed's cursor is a position given to events after they commit, in commit order.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-01
"""
import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("event") as batch:
        batch.add_column(sa.Column("position", sa.Integer, nullable=True))
    op.execute("UPDATE event SET position = seq")  # every event already here has committed
    op.create_index("uq_event_position", "event", ["position"], unique=True)
    op.create_index("ix_event_unpositioned", "event", ["seq"], postgresql_where=sa.text("position IS NULL"),
                    sqlite_where=sa.text("position IS NULL"))


def downgrade() -> None:
    op.drop_index("ix_event_unpositioned", table_name="event")
    op.drop_index("uq_event_position", table_name="event")
    with op.batch_alter_table("event") as batch:
        batch.drop_column("position")
