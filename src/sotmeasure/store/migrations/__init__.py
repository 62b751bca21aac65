"""Alembic migration scripts (package data, so that an installed sotmeasure can migrate)."""
