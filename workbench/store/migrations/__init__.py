"""Alembic migrations of the project file, shipped inside the package and run by `workbench.store.db`."""
