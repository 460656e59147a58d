"""Migrations: from empty to head and one step down, on SQLite and PostgreSQL; the models and
the migrations describe the same schema."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect

from bot.store.db import engine_for
from bot.store.migrate import (
    MIGRATIONS_DIR,
    current_revision,
    downgrade,
    head_revision,
    upgrade,
)
from bot.store.models import Base
from tests.conftest import BACKENDS

pytestmark = pytest.mark.parametrize("empty_db_url", BACKENDS, indirect=True)


def tables(url: str) -> set[str]:
    engine = engine_for(url)
    engine.dispose()  # forget cached schema state between migrations
    return set(inspect(engine).get_table_names()) - {"alembic_version"}


def unique_constraints(url: str, table: str) -> list[list[str]]:
    engine = engine_for(url)
    engine.dispose()
    return [c["column_names"] for c in inspect(engine).get_unique_constraints(table)]


def indexes(url: str, table: str) -> set[str]:
    engine = engine_for(url)
    engine.dispose()
    return {index["name"] for index in inspect(engine).get_indexes(table)}


def revisions_newest_first() -> list[str]:
    script = ScriptDirectory(str(MIGRATIONS_DIR))
    return [r.revision for r in script.walk_revisions()]


def test_upgrade_from_empty_then_downgrade_one_step(empty_db_url):
    assert tables(empty_db_url) == set()
    upgrade(empty_db_url)
    assert current_revision(empty_db_url) == head_revision()
    assert tables(empty_db_url) == set(Base.metadata.tables)

    downgrade(empty_db_url, "-1")
    assert current_revision(empty_db_url) == revisions_newest_first()[1]
    # 0010 added the citizens' channel link codes (0009 the channels' accounts and pauses)
    links = {"citizen_link_codes", "citizen_link_failures"}
    assert not links & tables(empty_db_url)
    assert {"channel_accounts", "channel_pauses"} <= tables(empty_db_url)
    upgrade(empty_db_url)
    assert current_revision(empty_db_url) == head_revision()
    assert links <= tables(empty_db_url)


def test_every_step_goes_down_and_up_again(empty_db_url):
    upgrade(empty_db_url)
    for expected in revisions_newest_first()[1:] + [None]:
        downgrade(empty_db_url, "-1")
        assert current_revision(empty_db_url) == expected
    assert tables(empty_db_url) == set()
    upgrade(empty_db_url)
    assert tables(empty_db_url) == set(Base.metadata.tables)


def test_models_match_migrations(empty_db_url):
    upgrade(empty_db_url)
    with engine_for(empty_db_url).connect() as connection:
        diff = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    assert diff == []
