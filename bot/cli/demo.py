"""`tenderbot demo`: a whole tender, end to end, on this machine, with no configuration."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from pathlib import Path

import click

from bot.cli.common import run
from bot.demo import DEMO_DATABASE, DEMO_MAILS, DemoStepFailed, fresh_database, run_demo
from bot.http import until_stopped
from bot.logs import setup_logging
from bot.settings import ConfigurationError, Settings, load_settings


@click.command("demo", help="Eine ganze Ausschreibung lokal durchspielen (ohne Slack-Konto).")
@click.option(
    "--database",
    type=click.Path(dir_okay=False, path_type=Path),
    default=DEMO_DATABASE,
    show_default=True,
    help="SQLite-Datei der Demo; wird bei jedem Lauf neu angelegt.",
)
@click.option("--verbose", is_flag=True, help="Auch die Protokollzeilen der App zeigen.")
@click.option(
    "--keep-serving",
    is_flag=True,
    help="Danach weiterlaufen (z. B. für curl …/metrics), bis Strg+C.",
)
@click.option(
    "--port",
    type=click.IntRange(0, 65535),
    default=0,
    help="Port der App (0: ein freier).",
)
def demo(database: Path, verbose: bool, keep_serving: bool, port: int) -> None:
    setup_logging(_settings(), level=logging.INFO if verbose else logging.ERROR)
    url = fresh_database(database)
    try:
        with contextlib.suppress(KeyboardInterrupt):
            run(_demo(url, database, port, keep_serving))
    except DemoStepFailed as error:
        raise click.ClickException(f"Demo abgebrochen: {error}") from None
    click.echo("")
    click.echo(f"Fertig. Die Demo-Datenbank liegt in {database}.")


def _settings() -> Settings:
    # The demo needs no configuration; only the log format is taken from it when it loads.
    try:
        return load_settings()
    except ConfigurationError:
        return Settings.model_construct()


async def _demo(url: str, database: Path, port: int, keep_serving: bool) -> None:
    stop = asyncio.Event() if keep_serving else None
    waiting = asyncio.create_task(until_stopped(stop)) if stop is not None else None
    try:
        await run_demo(
            url, click.echo, mails=database.parent / DEMO_MAILS, port=port, keep_serving=stop
        )
    finally:
        if waiting is not None:
            waiting.cancel()
