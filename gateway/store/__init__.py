"""Durable state: SQLAlchemy Core schema, Alembic migrations, and one module per aggregate."""
