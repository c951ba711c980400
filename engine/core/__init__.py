"""The floor: models, database, migrations, settings, clock, errors, logs, paging, role names; imports nothing above."""
