"""Apply the Alembic migrations in migrations/ to a database, and say what that did."""
from __future__ import annotations

from dataclasses import dataclass

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from sqlalchemy.engine import make_url

from engine.core.db import make_engine
from engine.core.settings import DATA


def alembic_config(database_url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(DATA / "migrations"))
    config.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    return config


@dataclass(frozen=True)
class Upgrade:
    """What one upgrade did: the revision before (None: the database was new) and after."""

    database: str
    before: str | None
    after: str

    def describe(self) -> str:
        """One line for the operator: created, upgraded or already up to date."""
        if self.before is None:
            return f"created the database at revision {self.after} ({self.database})"
        if self.before != self.after:
            return f"upgraded the database from revision {self.before} to {self.after} ({self.database})"
        return f"the database is up to date at revision {self.after} ({self.database})"


def current_revision(database_url: str) -> str | None:
    """The database's Alembic revision, or None for a database that has none yet."""
    engine = make_engine(database_url)
    try:
        with engine.connect() as connection:
            return MigrationContext.configure(connection).get_current_revision()
    finally:
        engine.dispose()


def upgrade(database_url: str) -> Upgrade:
    """Bring the database at `database_url` to the newest schema."""
    before = current_revision(database_url)
    command.upgrade(alembic_config(database_url), "head")
    shown = make_url(database_url).render_as_string(hide_password=True)
    return Upgrade(shown, before, current_revision(database_url) or "base")
