"""``TENDERBOT_DATABASE_SCHEMA`` is honoured by every command that opens the database.

Each test runs the real command (click's runner, or a process) against a schema of its own
and looks for a broker whose name exists only there: a command on the default schema would
not find her. ``serve`` is proven in tests/test_serve_process.py (its offers land there).
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import text

from bot.cli.main import cli
from store.db import make_engine
from tests.conftest import ANNA, POSTGRES_URL, broker_add_args
from tests.fresh_schema import fresh_schema
from tests.slack.test_console import START

pytestmark = pytest.mark.postgres_only


@pytest.fixture
def schema() -> Iterator[str]:
    """A fresh, empty schema; created and dropped on loops of their own (the test is sync)."""
    holder: list[str] = []
    stop = asyncio.Event()

    async def hold() -> None:
        async with fresh_schema() as name:
            holder.append(name)
            ready.set()
            await stop.wait()

    loop = asyncio.new_event_loop()
    ready = asyncio.Event()
    task = loop.create_task(hold())
    loop.run_until_complete(ready.wait())
    try:
        yield holder[0]
    finally:
        stop.set()
        loop.run_until_complete(task)
        loop.close()


def invoke(schema: str, *args: str, stdin: str | None = None) -> str:
    env = {
        "TENDERBOT_DATABASE_URL": POSTGRES_URL,
        "TENDERBOT_DATABASE_SCHEMA": schema,
        "TENDERBOT_BACKOFFICE_USERS": "U0BERND",
    }
    result = CliRunner().invoke(cli, list(args), env=env, input=stdin, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


def tables_in(schema: str) -> set[str]:
    async def read() -> set[str]:
        engine = make_engine(POSTGRES_URL)
        try:
            async with engine.connect() as connection:
                rows = await connection.execute(
                    text("SELECT tablename FROM pg_tables WHERE schemaname = :schema"),
                    {"schema": schema},
                )
                return {row[0] for row in rows}
        finally:
            await engine.dispose()

    return asyncio.run(read())


def count_in(schema: str, table: str) -> int:
    async def read() -> int:
        engine = make_engine(POSTGRES_URL)
        try:
            async with engine.connect() as connection:
                counted = await connection.scalar(
                    text(f'SELECT count(*) FROM "{schema}"."{table}"')
                )
                return int(counted or 0)
        finally:
            await engine.dispose()

    return asyncio.run(read())


def migrated_with_broker(schema: str) -> str:
    """``db upgrade`` and ``broker add`` into ``schema``; returns the broker's unique name."""
    invoke(schema, "db", "upgrade")
    name = f"Anna Schema-{uuid.uuid4().hex[:6]}"
    invoke(schema, *broker_add_args(ANNA, name=name, cc_emails=()))
    return name


def test_it_migrates_and_adds_brokers_in_the_configured_schema(schema: str) -> None:
    name = migrated_with_broker(schema)

    assert {"alembic_version", "brokers", "queue"} <= tables_in(schema)
    assert name in invoke(schema, "broker", "list")


def test_it_runs_the_daily_steps_budget_and_queue_in_the_configured_schema(schema: str) -> None:
    migrated_with_broker(schema)

    assert "Ablauf-Erinnerungen" in invoke(schema, "scheduler", "--once")
    assert "4711" in invoke(schema, "budget", "show", "--broker", "4711")
    invoke(schema, "queue")


def test_it_runs_the_console_in_the_configured_schema(schema: str) -> None:
    migrated_with_broker(schema)

    # Only a broker of this schema may start a tender; the tender is written there.
    invoke(schema, "console", "--as", "U0ANNA", stdin=START + "\n")

    assert count_in(schema, "tenders") == 1


def test_it_migrates_the_configured_schema_when_socket_mode_starts(
    schema: str, tmp_path: Path
) -> None:
    env = {
        **os.environ,
        "TENDERBOT_DATABASE_URL": POSTGRES_URL,
        "TENDERBOT_DATABASE_SCHEMA": schema,
        "SLACK_APP_TOKEN": "xapp-1-socket-test",
        "SLACK_BOT_TOKEN": "xoxb-socket-test",
        # Nothing listens here: it keeps trying to connect after the database was opened.
        "SLACK_API_URL": "http://127.0.0.1:9/api/",
    }
    tenderbot = str(Path(sys.executable).with_name("tenderbot"))
    process = subprocess.Popen(
        [tenderbot, "socket", "--migrate"],
        env=env,
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 30
        while "alembic_version" not in tables_in(schema) and time.monotonic() < deadline:
            time.sleep(0.2)
    finally:
        process.terminate()
        process.wait(timeout=15)

    assert {"alembic_version", "brokers", "queue"} <= tables_in(schema)
