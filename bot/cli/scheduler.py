"""`tenderbot scheduler`: the background schedule on its own, until Ctrl-C."""

from __future__ import annotations

import contextlib

import click
from slack_sdk.web.async_client import AsyncWebClient
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.background import start_background
from bot.cli.common import database, run, settings_or_exit
from bot.http import build_probe_app, start_web_app, until_stopped
from bot.logs import setup_logging
from bot.scheduler import run_daily_steps
from bot.settings import Settings
from bot.slack_client import kept_alive, slack_client_for
from pricing.formats import format_cents


async def _serve(settings: Settings, metrics_port: int | None) -> None:
    async with database(settings) as sessions:
        runner = None
        if metrics_port is not None:
            # Its own counters (this process's deliveries) for Prometheus, and the probes.
            probes = build_probe_app(settings, sessions)
            runner, bound = await start_web_app(probes, "0.0.0.0", metrics_port)
            click.echo(f"Metriken: http://0.0.0.0:{bound}/metrics")
        try:
            await _run_schedule(settings, sessions)
        finally:
            if runner is not None:
                await runner.cleanup()


async def _run_schedule(settings: Settings, sessions: async_sessionmaker[AsyncSession]) -> None:
    # E-mail always; Slack DMs only with a bot token, else they wait for `tenderbot serve`.
    client = slack_client_for(settings)
    async with kept_alive(client):
        await _run_background(settings, sessions, client)


async def _run_background(
    settings: Settings, sessions: async_sessionmaker[AsyncSession], client: AsyncWebClient | None
) -> None:
    background = start_background(settings, sessions, client)
    click.echo(
        f"Zeitplan läuft ({settings.timezone}, Budget-Stichtag {settings.budget_day}, "
        f"Erinnerungen {', '.join(map(str, settings.reminder_days))} Tage vorher). "
        "Beenden mit Strg+C."
    )
    for job in background.scheduler.get_jobs():
        click.echo(f"  {job.name}: {job.trigger}")
    try:
        await until_stopped()
    finally:
        await background.stop()
        click.echo("Zeitplan beendet.")


async def _once(settings: Settings) -> list[str]:
    async with database(settings) as sessions:
        budget, reminders, followup = await run_daily_steps(settings, sessions)
    lines: list[str] = []
    if budget is None:
        lines.append(f"Budget: Stichtag {settings.budget_day} noch nicht erreicht.")
    elif budget.ran:
        lines.append(
            f"Budget {budget.year}: {budget.brokers} Vermittler, "
            f"{format_cents(budget.total_cents)}."
        )
    else:
        lines.append(f"Budget {budget.year}: bereits verteilt.")
    lines.append(f"Ablauf-Erinnerungen: {reminders.offers} Angebote.")
    lines.append(
        "Nachfassen: " + (", ".join(followup.references) if followup.queued else "nichts fällig.")
    )
    return lines


@click.command(help="Zeitplan starten: Budget (B1–B3), Erinnerungen (T10), Nachfassen (T9).")
@click.option(
    "--once",
    is_flag=True,
    help="Die fälligen Tagesschritte einmal ausführen und beenden (z. B. aus cron).",
)
@click.option(
    "--metrics-port",
    type=click.IntRange(0, 65535),
    default=None,
    help="GET /metrics, /healthz und /readyz auf diesem Port anbieten.",
)
def scheduler(once: bool, metrics_port: int | None) -> None:
    settings = settings_or_exit()
    setup_logging(settings)
    if once:
        for line in run(_once(settings)):
            click.echo(line)
        return
    with contextlib.suppress(KeyboardInterrupt):
        run(_serve(settings, metrics_port))
