"""Rule B2: the yearly run waits for the base year's FIV figures instead of claiming the year
on an empty base, tells the backoffice once a day, and runs once the figures are in."""

from __future__ import annotations

import asyncio
from pathlib import Path

import time_machine
from click.testing import CliRunner
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.cli.main import cli
from bot.scheduler import run_budget_distribution
from bot.settings import Settings
from store.models import Broker
from tests.conftest import BACKOFFICE_CHANNEL
from tests.scheduler.conftest import balance_cents, berlin, outbox


async def test_it_waits_for_the_figures_tells_the_backoffice_daily_and_runs_after_the_import(
    settings: Settings,
    sessions: async_sessionmaker[AsyncSession],
    anna: Broker,
    database_url: str,
    search_path: str | None,
    tmp_path: Path,
) -> None:
    first = await run_budget_distribution(settings, sessions, berlin(2026, 7, 1, 0, 5))
    again = await run_budget_distribution(settings, sessions, berlin(2026, 7, 1, 1, 5))
    next_day = await run_budget_distribution(settings, sessions, berlin(2026, 7, 2, 0, 5))

    assert first is not None and first.waiting and not first.ran
    assert again is not None and again.waiting
    assert next_day is not None and next_day.waiting
    notices = await outbox(sessions, "budget_waiting")
    assert [(row.kind, row.recipient, row.context["date"]) for row in notices] == [
        ("slack", BACKOFFICE_CHANNEL, "2026-07-01"),
        ("slack", BACKOFFICE_CHANNEL, "2026-07-02"),
    ]

    figures = tmp_path / "fiv.csv"
    figures.write_text(
        "vermittlernummer;jahr;sparte;zugangsart;beitrag;position\n"
        "4711;2025;sach;1;10.000,00;FirmenKonzept\n"
        "4711;2025;haft;1;5.000,00;Privat\n",
        encoding="utf-8",
    )
    env = {"TENDERBOT_DATABASE_URL": database_url, "TENDERBOT_TIMEZONE": "Europe/Berlin"}
    if search_path:
        env["TENDERBOT_DATABASE_SCHEMA"] = search_path
    with time_machine.travel(berlin(2026, 7, 2, 9), tick=True):
        imported = await asyncio.to_thread(
            CliRunner().invoke, cli, ["fiv", "import", str(figures)], env=env
        )
        repeated = await asyncio.to_thread(
            CliRunner().invoke, cli, ["fiv", "import", str(figures)], env=env
        )

    assert imported.exit_code == 0, imported.output
    assert "1 Zeile anderer Positionen als FirmenKonzept nicht berücksichtigt" in imported.stdout
    assert "Budget 2026 verteilt: 1 Vermittler, zusammen 300,00" in imported.stdout
    assert "verteilt" not in repeated.stdout
    assert await balance_cents(sessions, anna.id) == 30000
    later = await run_budget_distribution(settings, sessions, berlin(2026, 7, 3, 0, 5))
    assert later is not None and not later.ran and not later.waiting
    assert len(await outbox(sessions, "budget_waiting")) == 2
