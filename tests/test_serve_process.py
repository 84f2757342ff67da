"""``tenderbot serve`` as operators run it: a real process on PostgreSQL in its own schema.

SIGTERM in the middle of a burst of signed ``/angebot`` requests: every request answered 200
has its offer, the process exits 0 within 10 s, and its JSON log lines carry no secret.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.localslack import LocalSlack, SignedSender
from store.brokers import add_broker
from store.db import make_engine, make_sessionmaker, transaction
from store.migrate import upgrade
from store.models import Offer
from tests.conftest import ANNA, BERND, POSTGRES_URL, add_personas
from tests.fresh_schema import fresh_schema
from tests.notifications.helpers import enqueue_offer_mail
from tests.slack.test_observability import sample
from tests.store.helpers import started_tender

pytestmark = pytest.mark.postgres_only

SIGNING_SECRET = "sigterm-test-signing-secret"
BOT_TOKEN = "xoxb-sigterm-test-token"
BURST = 50
SIGTERM_AFTER = 15
EXIT_SECONDS = 10.0
TENDERBOT = str(Path(sys.executable).with_name("tenderbot"))


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def serve_env(schema: str, slack: LocalSlack) -> dict[str, str]:
    return {
        **os.environ,
        "TENDERBOT_DATABASE_URL": POSTGRES_URL,
        "TENDERBOT_DATABASE_SCHEMA": schema,
        "SLACK_BOT_TOKEN": BOT_TOKEN,
        "SLACK_SIGNING_SECRET": SIGNING_SECRET,
        "SLACK_API_URL": slack.url,
        "TENDERBOT_BACKOFFICE_USERS": BERND,
        "TENDERBOT_LOG_FORMAT": "json",
    }


@pytest.fixture
async def schema_sessions() -> AsyncIterator[tuple[str, async_sessionmaker[AsyncSession]]]:
    async with fresh_schema() as schema:
        await asyncio.to_thread(upgrade, POSTGRES_URL, search_path=schema)
        engine = make_engine(POSTGRES_URL, search_path=schema)
        try:
            yield schema, make_sessionmaker(engine)
        finally:
            await engine.dispose()


async def wait_ready(base_url: str, process: asyncio.subprocess.Process) -> None:
    deadline = time.monotonic() + 30
    async with aiohttp.ClientSession() as http:
        while time.monotonic() < deadline:
            assert process.returncode is None, "tenderbot serve ended before it was ready"
            try:
                async with http.get(f"{base_url}/readyz") as response:
                    if response.status == 200:
                        return
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.1)
    raise AssertionError("tenderbot serve did not become ready within 30 s")


async def test_it_keeps_every_acknowledged_offer_when_sigterm_arrives_mid_burst(
    schema_sessions: tuple[str, async_sessionmaker[AsyncSession]], tmp_path: Path
) -> None:
    schema, sessions = schema_sessions
    async with transaction(sessions) as session:
        anna = await add_broker(session, ANNA)
    tender = await started_tender(sessions, anna)
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    async with LocalSlack() as slack:
        add_personas(slack)
        process = await asyncio.create_subprocess_exec(
            TENDERBOT,
            "serve",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            env=serve_env(schema, slack),
            cwd=tmp_path,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE,
        )
        try:
            await wait_ready(base_url, process)
            sender = SignedSender(f"{base_url}/slack/events", SIGNING_SECRET, slack)
            answered: list[int] = []

            async def offer(number: int) -> None:
                command = (
                    f"{tender.reference} versicherer=Versicherer-{number:02d} "
                    f"beitrag=1.{number:03d},00 gueltig-bis=31.12.2099"
                )
                try:
                    response = await sender.send_command(BERND, "/angebot", command)
                except aiohttp.ClientError:
                    return  # refused once the socket closed: never acknowledged
                if response.status == 200:
                    answered.append(number)
                    if len(answered) == SIGTERM_AFTER:
                        process.send_signal(signal.SIGTERM)

            async with sender:
                await asyncio.gather(*(offer(number) for number in range(BURST)))
            started = time.monotonic()
            stderr = await asyncio.wait_for(process.stderr.read(), EXIT_SECONDS)  # type: ignore[union-attr]
            code = await asyncio.wait_for(process.wait(), EXIT_SECONDS)
            waited = time.monotonic() - started
        finally:
            if process.returncode is None:
                process.kill()
                await process.wait()

    async with sessions() as session:
        stored = set(await session.scalars(select(Offer.insurer)))
    lost = [number for number in answered if f"Versicherer-{number:02d}" not in stored]
    shutdown = [line for line in stderr.decode().splitlines() if "shutdown" in line]
    assert len(answered) >= SIGTERM_AFTER
    assert lost == [], shutdown
    assert code == 0
    assert waited < EXIT_SECONDS
    lines = stderr.decode().splitlines()
    assert lines
    records = [json.loads(line) for line in lines]
    assert any("stopping" in record["message"] for record in records)
    assert SIGNING_SECRET not in stderr.decode()
    assert BOT_TOKEN not in stderr.decode()
    # The schema setting was honoured: the offers are in this run's schema, nowhere else.
    async with sessions() as session:
        assert await session.scalar(text("SELECT current_schema()")) == schema


async def test_it_shows_the_schedulers_own_deliveries_and_stops_cleanly_on_sigterm(
    schema_sessions: tuple[str, async_sessionmaker[AsyncSession]], tmp_path: Path
) -> None:
    schema, sessions = schema_sessions
    async with transaction(sessions) as session:
        anna = await add_broker(session, ANNA)
        await enqueue_offer_mail(session, anna)
    port = free_port()
    env = {
        **os.environ,
        "TENDERBOT_DATABASE_URL": POSTGRES_URL,
        "TENDERBOT_DATABASE_SCHEMA": schema,
        "TENDERBOT_LOG_FORMAT": "json",
    }
    env.pop("SLACK_BOT_TOKEN", None)
    process = await asyncio.create_subprocess_exec(
        TENDERBOT,
        "scheduler",
        "--metrics-port",
        str(port),
        env=env,
        cwd=tmp_path,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )
    try:
        base_url = f"http://127.0.0.1:{port}"
        await wait_ready(base_url, process)
        delivered = 0.0
        deadline = time.monotonic() + 30
        async with aiohttp.ClientSession() as http:
            while delivered < 1 and time.monotonic() < deadline:
                async with http.get(f"{base_url}/metrics") as response:
                    exposition = await response.text()
                delivered = sample(exposition, "tenderbot_deliveries_total", kind="email")
                await asyncio.sleep(0.2)
        process.send_signal(signal.SIGTERM)
        code = await asyncio.wait_for(process.wait(), EXIT_SECONDS)
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()

    assert delivered == 1
    assert code == 0
    assert len(list((tmp_path / "outbox").glob("*.eml"))) == 1
