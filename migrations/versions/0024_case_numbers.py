"""A human case number per process and year (HLT-2026-0042) beside each case's id.

Revision ID: 0024
Revises: 0017
Create Date: 2026-12-01
"""
from datetime import timezone
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from alembic import op

revision = "0024"
down_revision = "0022"
branch_labels = None
depends_on = None

PREFIXES = {"hlt": "HLT", "vastbas": "VB", "skolfranvaro": "SF"}  # as engine.casework.case_numbers


def upgrade() -> None:
    op.create_table(
        "case_number_counter",
        sa.Column("process_key", sa.String(200), primary_key=True),
        sa.Column("year", sa.Integer, primary_key=True),
        sa.Column("last", sa.Integer, nullable=False),
    )
    with op.batch_alter_table("case") as batch:
        batch.add_column(sa.Column("case_number", sa.String(60), nullable=True))
    # Cases from before get their numbers in the order they were started.
    bind = op.get_bind()
    rows = bind.execute(sa.text('SELECT id, process_key, created_at FROM "case" ORDER BY created_at, id')).all()
    counters: dict[tuple[str, int], int] = {}
    for case_id, key, created in rows:
        if isinstance(created, str):
            from datetime import datetime
            created = datetime.fromisoformat(created)
        created = created if created.tzinfo else created.replace(tzinfo=timezone.utc)
        year = created.astimezone(ZoneInfo("Europe/Stockholm")).year
        counters[(key, year)] = counters.get((key, year), 0) + 1
        number = f"{PREFIXES.get(key, key.upper()[:12])}-{year}-{counters[(key, year)]:04d}"
        bind.execute(sa.text('UPDATE "case" SET case_number = :n WHERE id = :i'), {"n": number, "i": case_id})
    for (key, year), last in counters.items():
        bind.execute(sa.text("INSERT INTO case_number_counter (process_key, year, last) VALUES (:k, :y, :l)"),
                     {"k": key, "y": year, "l": last})
    op.create_index("ux_case_number", "case", ["case_number"], unique=True)


def downgrade() -> None:
    op.drop_index("ux_case_number", table_name="case")
    with op.batch_alter_table("case") as batch:
        batch.drop_column("case_number")
    op.drop_table("case_number_counter")
