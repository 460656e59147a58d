"""Alembic environment: URL from the caller (bot.store.migrate) or from the settings."""

from __future__ import annotations

from alembic import context

from bot.store.db import engine_for
from bot.store.models import Base

config = context.config


def _url() -> str:
    url = config.attributes.get("database_url")
    if url:
        return url
    from bot.settings import load_settings

    return load_settings().effective_database_url


def run_migrations_online() -> None:
    engine = engine_for(_url())
    with engine.connect() as connection:
        context.configure(
            connection=connection,
            target_metadata=Base.metadata,
            render_as_batch=connection.dialect.name == "sqlite",
            compare_type=True,
        )
        with context.begin_transaction():
            context.run_migrations()
        connection.commit()


def run_migrations_offline() -> None:
    context.configure(url=_url(), target_metadata=Base.metadata, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
