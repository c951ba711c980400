"""Linked cases: a case started from another (the ladder's samverkan starting HLT or Västbas).

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23
"""
import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "case_link",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("from_case_id", sa.String(36), sa.ForeignKey("case.id", ondelete="CASCADE"), nullable=False),
        sa.Column("to_case_id", sa.String(36), sa.ForeignKey("case.id", ondelete="CASCADE"), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_case_link_from", "case_link", ["from_case_id"])
    op.create_index("ix_case_link_to", "case_link", ["to_case_id"])


def downgrade() -> None:
    op.drop_table("case_link")
