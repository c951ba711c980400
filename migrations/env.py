"""Alembic environment: the URL comes from the caller's config or SAMVERKA_DATABASE_URL."""
from alembic import context

from engine.core.db import make_engine
from engine.core.models import Base
from engine.core.settings import get_settings

config = context.config
url = config.get_main_option("sqlalchemy.url") or get_settings().resolved_database_url()

if context.is_offline_mode():
    context.configure(url=url, target_metadata=Base.metadata, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()
else:
    engine = make_engine(url)
    with engine.connect() as connection:
        sqlite = connection.dialect.name == "sqlite"
        if sqlite:
            # Batch migrations rebuild a SQLite table by dropping it: with foreign keys on, that cascades and
            # deletes the rows of every table referring to it (a downgrade lost the case history). Off while
            # migrating (the pragma works outside a transaction only), then every reference is checked.
            connection.exec_driver_sql("PRAGMA foreign_keys=OFF")
            connection.commit()
        context.configure(connection=connection, target_metadata=Base.metadata)
        with context.begin_transaction():
            context.run_migrations()
        if sqlite and (broken := connection.exec_driver_sql("PRAGMA foreign_key_check").fetchall()):
            raise RuntimeError(f"the migration left rows referring to nothing: {broken[:5]}")
    engine.dispose()
