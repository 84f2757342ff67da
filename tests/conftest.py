"""Shared fixtures: a migrated database (SQLite or PostgreSQL) and the personas.

The database comes from ``TENDERBOT_DATABASE_URL``: unset → a SQLite file per test;
a PostgreSQL URL → one schema per test session (so parallel runs never collide), emptied
before each test.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, date, datetime, time
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
import time_machine
from hypothesis import settings as hypothesis_settings
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bot import personas
from store.actors import Actor
from store.brokers import BrokerData, add_broker
from store.db import is_postgres, make_engine, make_sessionmaker, transaction
from store.migrate import upgrade
from store.models import Base, Broker

# Property tests check what is computed, not how fast: speed is measured in bench/. Without
# this, Hypothesis fails an example that took over 200 ms, which a loaded CI machine reaches.
hypothesis_settings.register_profile("tenderbot", deadline=None)
hypothesis_settings.load_profile("tenderbot")

if TYPE_CHECKING:
    from bot.localslack import LocalSlack

POSTGRES_URL = os.environ.get("TENDERBOT_DATABASE_URL", "")
ON_POSTGRES = is_postgres(POSTGRES_URL) if POSTGRES_URL else False

# The personas are bot.personas's (the console and the demo play the same people); here
# they get what the store needs of them.
ANNA = BrokerData(
    slack_user_id=personas.ANNA,
    number="4711",
    name=personas.NAMES[personas.ANNA],
    email="anna@makler-adler.example",
    cc_emails=("assistenz@makler-adler.example",),
)
CARLA = BrokerData(
    slack_user_id=personas.CARLA,
    number="4712",
    name=personas.NAMES[personas.CARLA],
    email="carla@clausen-versicherungen.example",
)
BERND = personas.BERND  # backoffice
BEATE = personas.BEATE  # backoffice
BERND_ACTOR = Actor(slack_user_id=BERND, role="backoffice", name=personas.NAMES[BERND])
BEATE_ACTOR = Actor(slack_user_id=BEATE, role="backoffice", name=personas.NAMES[BEATE])
BACKOFFICE_USERS = personas.BACKOFFICE
BACKOFFICE_CHANNEL = "C0BACKOFFICE"


def broker_add_args(broker: BrokerData = ANNA, **changes: object) -> list[str]:
    """``tenderbot broker add …`` for a persona; ``changes`` (name=…, cc_emails=()) override."""
    data = broker.model_copy(update=changes)
    args = ["broker", "add", "--slack-user", data.slack_user_id, "--nummer", data.number]
    args += ["--name", data.name, "--email", str(data.email)]
    for cc in data.cc_emails:
        args += ["--cc", str(cc)]
    return args


def add_personas(slack: LocalSlack) -> None:
    """Give a local Slack the personas' user profiles, as the console and the demo do."""
    for user, name in personas.NAMES.items():
        slack.add_user(user, name)


def pytest_configure(config: pytest.Config) -> None:
    # Runs the whole suite on another day (TENDERBOT_TEST_TODAY=2027-01-04), to prove no
    # test leans on the day it was written: dates in tests are fixed or frozen, never "today".
    today = os.environ.get("TENDERBOT_TEST_TODAY")
    if today:
        moment = datetime.combine(date.fromisoformat(today), time(9, 30), tzinfo=UTC)
        time_machine.travel(moment, tick=True).start()


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if ON_POSTGRES:
        return
    # These tests need row locks and real concurrency; CI runs them on PostgreSQL.
    marker = pytest.mark.skip(reason="needs PostgreSQL (set TENDERBOT_DATABASE_URL)")
    for item in items:
        if "postgres_only" in item.keywords:
            item.add_marker(marker)


@pytest.fixture(scope="session")
def _database_template(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    """Migrate once per session: a template SQLite file, or a fresh PostgreSQL schema."""
    if ON_POSTGRES:
        schema = f"t_{uuid.uuid4().hex[:12]}"

        async def create_schema() -> None:
            engine = make_engine(POSTGRES_URL)
            async with engine.begin() as connection:
                await connection.execute(text(f'CREATE SCHEMA "{schema}"'))
            await engine.dispose()

        async def drop_schema() -> None:
            engine = make_engine(POSTGRES_URL)
            async with engine.begin() as connection:
                await connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
            await engine.dispose()

        asyncio.run(create_schema())
        upgrade(POSTGRES_URL, search_path=schema)
        yield POSTGRES_URL, schema
        asyncio.run(drop_schema())
    else:
        template = tmp_path_factory.mktemp("db") / "template.db"
        upgrade(f"sqlite+aiosqlite:///{template}")
        yield str(template), ""


@pytest.fixture
def database_url(_database_template: tuple[str, str], tmp_path: Path) -> str:
    location, _schema = _database_template
    if ON_POSTGRES:
        return location
    copy = tmp_path / "tenderbot.db"
    shutil.copyfile(location, copy)
    return f"sqlite+aiosqlite:///{copy}"


@pytest.fixture
def search_path(_database_template: tuple[str, str]) -> str | None:
    return _database_template[1] or None


@pytest.fixture
async def engine(database_url: str, search_path: str | None) -> AsyncIterator[AsyncEngine]:
    engine = make_engine(database_url, search_path=search_path)
    if ON_POSTGRES:
        tables = ", ".join(f'"{table.name}"' for table in Base.metadata.sorted_tables)
        async with engine.begin() as connection:
            await connection.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
    yield engine
    await engine.dispose()


@pytest.fixture
def cli_database(
    engine: AsyncEngine, database_url: str, search_path: str | None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The CLI, run in-process, uses this test's database (and schema on PostgreSQL).

    Depends on ``engine`` so that PostgreSQL tables are emptied first."""
    monkeypatch.setenv("TENDERBOT_DATABASE_URL", database_url)
    if search_path:
        monkeypatch.setenv("TENDERBOT_DATABASE_SCHEMA", search_path)


@pytest.fixture
def sessions(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return make_sessionmaker(engine)


@pytest.fixture
async def anna(sessions: async_sessionmaker[AsyncSession]) -> Broker:
    """Broker Anna Adler (4711), with an assistant on CC."""
    async with transaction(sessions) as session:
        return await add_broker(session, ANNA)


@pytest.fixture
async def carla(sessions: async_sessionmaker[AsyncSession]) -> Broker:
    """Broker Carla Clausen (4712): another broker, for cross-broker attempts."""
    async with transaction(sessions) as session:
        return await add_broker(session, CARLA)
