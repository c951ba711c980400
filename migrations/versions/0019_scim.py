"""SCIM 2.0 provisioning: the Users and Groups as the identity provider sent them (the directory's person
rows hold what samverka acts on).

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-01
"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None

JSON = sa.JSON().with_variant(JSONB(), "postgresql")
TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "scim_resource",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("kind", sa.String(10), nullable=False),
        sa.Column("name_key", sa.String(500), nullable=False),
        sa.Column("external_id", sa.String(200), nullable=True),
        sa.Column("body", JSON, nullable=False),
        sa.Column("version", sa.String(64), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
    )
    op.create_index("ix_scim_resource_name", "scim_resource", ["kind", "name_key"])
    op.create_index("ix_scim_resource_external_id", "scim_resource", ["kind", "external_id"])


def downgrade() -> None:
    op.drop_index("ix_scim_resource_external_id", "scim_resource")
    op.drop_index("ix_scim_resource_name", "scim_resource")
    op.drop_table("scim_resource")
