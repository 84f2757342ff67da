"""`tenderbot console`: a scripted stdin plays Slack users against the real app."""

from __future__ import annotations

import io
from datetime import UTC, datetime

import time_machine
from click.testing import CliRunner
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.cli.main import cli
from bot.console import run_console
from bot.settings import Settings
from store.models import Broker, Tender, ThreadLink

START = (
    '/ausschreibung neu sparte=haftpflicht kunde="Bäckerei Korn GmbH" sb=1.000 '
    'vorschaeden=keine beschreibung="Backstube mit Café"'
)


async def play(
    slack_settings: Settings, sessions: async_sessionmaker[AsyncSession], script: str
) -> list[str]:
    lines: list[str] = []
    await run_console(slack_settings, sessions, "anna", io.StringIO(script), lines.append)
    return lines


async def test_it_starts_a_tender_as_broker_anna_and_follows_its_thread_as_bernd(
    slack_settings: Settings, sessions: async_sessionmaker[AsyncSession], anna: Broker
) -> None:
    script = f"{START}\n:as bernd\nthread AS-2026-0001\n:ende\n/budget\n"

    # The reference carries the year the tender starts in (T4).
    with time_machine.travel(datetime(2026, 11, 23, 9, 30, tzinfo=UTC), tick=True):
        lines = await play(slack_settings, sessions, script)

    async with sessions() as session:
        tender = await session.scalar(select(Tender))
        link = await session.scalar(select(ThreadLink).where(ThreadLink.side == "backoffice"))
    assert tender is not None and tender.reference == "AS-2026-0001"  # rule T4
    assert link is not None
    assert f"Anna Adler> {START}" in lines
    assert "Sie sind jetzt Bernd Backoffice (U0BERND)." in lines
    assert "Im Thread von AS-2026-0001 (#backoffice)." in lines
    # The card Anna's command produced is shown as the backoffice sees it (rule T5).
    assert "┄ #backoffice" in lines
    # Nothing after :ende runs.
    assert not any("/budget" in line for line in lines)


async def test_it_shows_answers_that_come_back_in_the_ack(
    slack_settings: Settings, sessions: async_sessionmaker[AsyncSession], anna: Broker
) -> None:
    # /budget and /ausschreibung liste answer in the ack itself; Slack shows that message
    # to the person who typed the command (rule B5), so the console must too.
    lines = await play(slack_settings, sessions, "/budget\n/ausschreibung liste\n")

    assert "┄ DM mit Anna Adler, nur für Anna Adler sichtbar" in lines
    assert any("Ihr Konzeptrabattkonto" in line for line in lines)
    assert any("Ihre Ausschreibungen" in line for line in lines)


async def test_it_explains_unknown_people_and_threads_in_german_and_goes_on(
    slack_settings: Settings, sessions: async_sessionmaker[AsyncSession], anna: Broker
) -> None:
    script = ":as zorro\nthread AS-2099-0001\n:as carla\n"

    lines = await play(slack_settings, sessions, script)

    assert (
        "  Unbekannte Person „zorro“. Bekannt: anna, carla, bernd, beate "
        "oder eine Slack-ID wie U0ANNA." in lines
    )
    assert any(line.startswith("  Für AS-2099-0001 gibt es keinen Thread") for line in lines)
    assert lines[-1] == "Sie sind jetzt Carla Clausen (U0CARLA)."


def test_it_refuses_an_unknown_person_on_the_command_line_without_a_traceback() -> None:
    result = CliRunner().invoke(cli, ["console", "--as", "zorro"])

    assert result.exit_code == 1
    assert "Unbekannte Person „zorro“" in result.output
    assert "Traceback" not in result.output
