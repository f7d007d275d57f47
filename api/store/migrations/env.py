"""Alembic environment of the voice store.

Always run through `api/store/migrate.py` (at API start-up, or `python -m api.store.migrate`),
which hands over an open connection in `config.attributes["connection"]`, inside the transaction
that holds the migration lock.
"""

from __future__ import annotations

from alembic import context
from sqlmodel import SQLModel

import api.store.batch_table  # (registers the batches table)
import api.store.job_table  # (registers the jobs table)
import api.store.key_table  # (registers the api_keys table)
import api.store.tables  # noqa: F401  (registers the tables on SQLModel.metadata)

connection = context.config.attributes.get("connection")
if connection is None:
    raise SystemExit("run migrations with `python -m api.store.migrate`, not the alembic command")
context.configure(
    connection=connection,
    target_metadata=SQLModel.metadata,
    # SQLite cannot ALTER most things: Alembic rebuilds the table ("batch") instead.
    render_as_batch=connection.dialect.name == "sqlite",
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
