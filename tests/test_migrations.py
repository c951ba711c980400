"""The Alembic migrations build exactly the schema the models describe, and every one goes down and up again
with data in place, on both backends."""
from __future__ import annotations

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect, text
from test_hlt import HLT_MOTET, SAMORDNARE, to_follow_up
from test_personnummer import PNR

from engine.core.db import make_engine
from engine.core.migrate import alembic_config, current_revision
from engine.core.models import Base


def test_migrated_schema_matches_models(db_url):
    engine = make_engine(db_url)
    with engine.connect() as connection:
        diff = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    engine.dispose()
    assert diff == []


def _rows(db_url: str) -> dict[str, int]:
    engine = make_engine(db_url)
    with engine.connect() as connection:
        tables = [t for t in inspect(connection).get_table_names() if t != "alembic_version"]
        counts = {t: connection.execute(text(f'SELECT count(*) FROM "{t}"')).scalar_one() for t in tables}
    engine.dispose()
    return counts


def test_every_downgrade_runs_with_data_in_place_and_the_upgrade_runs_again(product, db_url):
    with product.client("hugo", *HLT_MOTET) as motet, product.client("sam", *SAMORDNARE) as samordnare, \
            product.client("ivar", "integrator") as ivar, product.client("sys", "systemforvaltare") as admin:
        case_id = to_follow_up(motet, samordnare)
        motet.post("/cases", json={"process_key": "hlt", "barn_personnummer": PNR})
        samordnare.post(f"/cases/{case_id}/messages", json={"name": "samtycke_aterkallat", "data": {}},
                        headers={"Idempotency-Key": "k1"})
        assert ivar.post("/webhooks", json={"url": "https://mottagare.example/hook"}).status_code == 201
        assert admin.post("/api-keys", json={"name": "n", "scopes": ["events"]}).status_code == 201
    product.app.state.db.dispose()  # the server's pooled connections, so nothing holds a table
    before = _rows(db_url)
    assert all(before[t] for t in ("case", "history_entry", "user_task", "event", "access_log", "child", "api_key"))
    config = alembic_config(db_url)
    script = ScriptDirectory.from_config(config)
    revisions = [r.revision for r in script.walk_revisions()]  # newest first
    assert len(revisions) >= 7
    for revision in revisions:
        below = script.get_revision(revision).down_revision
        command.downgrade(config, below or "base")
        assert current_revision(db_url) == below, f"downgrade of {revision}"
        kept = _rows(db_url)
        command.upgrade(config, "head")
        assert current_revision(db_url) == revisions[0], f"upgrade again after the downgrade of {revision}"
        if below:  # the tables the downgrade kept keep their rows, through the downgrade and the upgrade
            after = _rows(db_url)
            assert {t: n for t, n in after.items() if t in kept} == kept, revision
            assert kept["case"] == before["case"] and kept["history_entry"] == before["history_entry"], revision
    engine = make_engine(db_url)
    with engine.connect() as connection:
        assert compare_metadata(MigrationContext.configure(connection), Base.metadata) == []
    engine.dispose()


def test_going_below_0022_keeps_each_cases_list_reads_as_rows_of_its_own(product, db_url):
    with product.client("hugo", *HLT_MOTET) as motet:
        first = motet.post("/cases", json={"process_key": "hlt"}).json()["id"]
        second = motet.post("/cases", json={"process_key": "hlt"}).json()["id"]
        assert motet.get("/cases").status_code == 200  # one row naming both
    product.app.state.db.dispose()
    config = alembic_config(db_url)
    command.downgrade(config, "0017")
    engine = make_engine(db_url)
    with engine.connect() as connection:
        listed = connection.execute(text("SELECT case_id FROM access_log WHERE what = 'case list' "
                                         "AND case_id IS NOT NULL")).scalars().all()
    engine.dispose()
    assert sorted(listed) == sorted([first, second]), "the older schema's one row per case"
    command.upgrade(config, "head")
