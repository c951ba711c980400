"""The directory of people (issuer + subject, agency, units, roles; kept from sign-in or SCIM), case units,
and case participants identified by issuer + subject instead of a bare user name.

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-01
"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None

JSON = sa.JSON().with_variant(JSONB(), "postgresql")
TS = sa.DateTime(timezone=True)
LOCAL_ISSUER = "samverka"  # participants recorded before this revision signed in with the embedded tokens


def upgrade() -> None:
    op.create_table(
        "person",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("issuer", sa.String(500), nullable=False),
        sa.Column("subject", sa.String(200), nullable=False),
        sa.Column("user_name", sa.String(200), nullable=False),
        sa.Column("display_name", sa.String(500), nullable=True),
        sa.Column("agency", sa.String(100), nullable=True),
        sa.Column("units", JSON, nullable=False),
        sa.Column("roles", JSON, nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("managed_by", sa.String(20), nullable=False),
        sa.Column("external_id", sa.String(200), nullable=True),
        sa.Column("attributes", JSON, nullable=True),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        sa.UniqueConstraint("issuer", "subject", name="uq_person_issuer_subject"),
    )
    op.create_index("ix_person_user_name", "person", ["user_name"])
    with op.batch_alter_table("case") as batch:
        batch.add_column(sa.Column("unit", sa.String(200), nullable=True))
    with op.batch_alter_table("user_task") as batch:
        batch.add_column(sa.Column("assignee_id", sa.String(200), nullable=True))
        batch.add_column(sa.Column("seat", sa.String(20), nullable=True))
    # Claims made before people had keys are not anyone's: the next one who may act takes the task again.
    with op.batch_alter_table("case_participant") as batch:
        batch.add_column(sa.Column("issuer", sa.String(500), nullable=False, server_default=LOCAL_ISSUER))
        batch.add_column(sa.Column("subject", sa.String(200), nullable=True))
    op.execute('UPDATE case_participant SET subject = "user"')
    with op.batch_alter_table("case_participant") as batch:
        batch.alter_column("subject", existing_type=sa.String(200), nullable=False)
        batch.alter_column("issuer", existing_type=sa.String(500), server_default=None)
        batch.drop_constraint("uq_case_participant", type_="unique")
        batch.create_unique_constraint("uq_case_participant", ["case_id", "issuer", "subject", "role"])
        batch.drop_index("ix_case_participant_user")
        batch.create_index("ix_case_participant_person", ["issuer", "subject", "case_id"])


def downgrade() -> None:
    with op.batch_alter_table("case_participant") as batch:
        batch.drop_index("ix_case_participant_person")
        batch.create_index("ix_case_participant_user", ["user", "case_id"])
        batch.drop_constraint("uq_case_participant", type_="unique")
        batch.create_unique_constraint("uq_case_participant", ["case_id", "user", "role"])
        batch.drop_column("subject")
        batch.drop_column("issuer")
    with op.batch_alter_table("user_task") as batch:
        batch.drop_column("seat")
        batch.drop_column("assignee_id")
    with op.batch_alter_table("case") as batch:
        batch.drop_column("unit")
    op.drop_index("ix_person_user_name", "person")
    op.drop_table("person")
