"""Alembic environment: always run with a connection handed in by core.store.upgrade."""

from alembic import context

from core.store.tables import metadata

connection = context.config.attributes.get("connection")
if connection is None:  # pragma: no cover - only reached when alembic is run by hand
    raise SystemExit("run migrations through core.store.open_store(), not the alembic command")

context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
