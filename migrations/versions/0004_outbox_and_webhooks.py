"""Outbox/event feed, webhook subscriptions and deliveries.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23
"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

Json = sa.JSON().with_variant(JSONB(), "postgresql")
Ts = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "event",
        sa.Column("seq", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("id", sa.String(36), nullable=False, unique=True),
        sa.Column("type", sa.String(100), nullable=False),
        sa.Column("case_id", sa.String(36), nullable=True),
        sa.Column("process_key", sa.String(200), nullable=False),
        sa.Column("time", Ts, nullable=False),
        sa.Column("data", Json, nullable=False),
    )
    op.create_index("ix_event_case", "event", ["case_id", "seq"])
    op.create_index("ix_event_type_seq", "event", ["type", "seq"])
    op.create_table(
        "webhook_subscription",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("url", sa.String(2000), nullable=False),
        sa.Column("secret", sa.String(200), nullable=False),
        sa.Column("event_types", Json, nullable=False),
        sa.Column("process_keys", Json, nullable=False),
        sa.Column("created_by", sa.String(200), nullable=False),
        sa.Column("created_at", Ts, nullable=False),
        sa.Column("active", sa.Boolean, nullable=False),
    )
    op.create_table(
        "webhook_delivery",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("subscription_id", sa.String(36),
                  sa.ForeignKey("webhook_subscription.id", ondelete="CASCADE"), nullable=False),
        sa.Column("event_seq", sa.Integer, sa.ForeignKey("event.seq", ondelete="CASCADE"), nullable=False),
        sa.Column("case_id", sa.String(36), nullable=False),
        sa.Column("state", sa.String(20), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("next_attempt_at", Ts, nullable=False),
        sa.Column("last_status", sa.Integer, nullable=True),
        sa.Column("last_error", sa.Text, nullable=True),
        sa.Column("delivered_at", Ts, nullable=True),
    )
    op.create_index("ix_delivery_due", "webhook_delivery", ["state", "next_attempt_at"])
    op.create_index("ix_delivery_order", "webhook_delivery", ["subscription_id", "case_id", "state", "event_seq"])


def downgrade() -> None:
    for table in ("webhook_delivery", "webhook_subscription", "event"):
        op.drop_table(table)
