"""Alembic environment: always run programmatically by `workbench.store.db` on a connection it provides.

There is no alembic.ini: `db.alembic_config` builds the Config in code and passes the open connection in
`config.attributes["connection"]`, so migrations run on exactly the engine (and pragmas) the application uses.
"""

from __future__ import annotations

from alembic import context

from workbench.store.schema import Base

connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=Base.metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
