"""`tenderbot demo`: a whole tender, end to end, on this machine, with no configuration."""

from __future__ import annotations

import logging
from pathlib import Path

import click

from bot.cli.common import run
from bot.demo import DEMO_DATABASE, DEMO_MAILS, DemoStepFailed, fresh_database, run_demo


@click.command("demo", help="Eine ganze Ausschreibung lokal durchspielen (ohne Slack-Konto).")
@click.option(
    "--database",
    type=click.Path(dir_okay=False, path_type=Path),
    default=DEMO_DATABASE,
    show_default=True,
    help="SQLite-Datei der Demo; wird bei jedem Lauf neu angelegt.",
)
@click.option("--verbose", is_flag=True, help="Auch die Protokollzeilen der App zeigen.")
def demo(database: Path, verbose: bool) -> None:
    logging.basicConfig(level=logging.INFO if verbose else logging.ERROR)
    url = fresh_database(database)
    try:
        run(run_demo(url, click.echo, mails=database.parent / DEMO_MAILS))
    except DemoStepFailed as error:
        raise click.ClickException(f"Demo abgebrochen: {error}") from None
    click.echo("")
    click.echo(f"Fertig. Die Demo-Datenbank liegt in {database}.")
