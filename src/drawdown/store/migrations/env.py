"""Alembic environment: runs migrations on the connection `drawdown migrate` hands in."""

from __future__ import annotations

from alembic import context

from drawdown.store.schema import metadata

connection = context.config.attributes.get("connection")
assert connection is not None, "run migrations through drawdown.store.migrate"
context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
