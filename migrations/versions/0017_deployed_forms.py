"""Forms and document templates deployed with each process version.

Revision ID: 0017
Revises: 0008
Create Date: 2026-12-01
"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0017"
down_revision = "0008"
branch_labels = None
depends_on = None

JSON = sa.JSON().with_variant(JSONB(), "postgresql")


def upgrade() -> None:
    # NULL for versions deployed before forms came with the model: they keep reading the server's forms folder.
    with op.batch_alter_table("process_version") as batch:
        batch.add_column(sa.Column("resources", JSON, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("process_version") as batch:
        batch.drop_column("resources")
