"""Migrations and the declared schema agree on both databases: no drift, no forgotten revision."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine

from drawdown.store.engine import normalize_url
from drawdown.store.migrate import upgrade
from drawdown.store.schema import metadata


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_migrated_database_matches_schema(database_factory, backend: str) -> None:
    engine = create_engine(normalize_url(database_factory(backend)))
    upgrade(engine)
    upgrade(engine)  # a second run is a no-op
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), metadata)
    engine.dispose()
    assert diff == []
