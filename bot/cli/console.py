"""`tenderbot console --as anna`: Slack at the prompt, against a local Slack and database."""

from __future__ import annotations

import logging
import sys

import click
from sqlalchemy.exc import SQLAlchemyError

from bot.cli.common import database_problem, run, settings_or_exit
from bot.console import ConsoleInputError, resolve_user, run_console
from bot.http import open_database
from bot.logs import setup_logging
from bot.settings import Settings


async def _console(settings: Settings, user: str, migrate: bool) -> None:
    engine, sessions = await open_database(settings, migrate=migrate)
    interactive = sys.stdin.isatty()
    try:
        await run_console(
            settings,
            sessions,
            user,
            sys.stdin,
            click.echo,
            prompt=(lambda text: click.echo(text, nl=False)) if interactive else None,
        )
    finally:
        await engine.dispose()


@click.command("console", help="Als Slack-Nutzer tippen – gegen ein lokales Slack und die App.")
@click.option(
    "--as",
    "user",
    default="anna",
    show_default=True,
    help="Person: anna, carla, bernd, beate oder eine Slack-ID (U…).",
)
@click.option("--migrate", is_flag=True, help="Vor dem Start alle Migrationen anwenden.")
@click.option("--verbose", is_flag=True, help="Protokollzeilen der App mit Tracebacks zeigen.")
def console(user: str, migrate: bool, verbose: bool) -> None:
    settings = settings_or_exit()
    _quiet_logs(settings, verbose)
    try:
        resolve_user(user)
        run(_console(settings, user, migrate))
    except ConsoleInputError as error:
        raise click.ClickException(str(error)) from None
    except SQLAlchemyError as error:
        raise click.ClickException(database_problem(settings, "unavailable", error)) from None


class _OneLine(logging.Formatter):
    """Log lines without tracebacks: the console is for reading what Slack users see."""

    def formatException(self, ei: object) -> str:
        return ""

    def format(self, record: logging.LogRecord) -> str:
        record.exc_text = ""
        text = super().format(record)
        if record.exc_info and record.exc_info[1] is not None:
            text += f" ({type(record.exc_info[1]).__name__}: {record.exc_info[1]})"
        return text


def _quiet_logs(settings: Settings, verbose: bool) -> None:
    setup_logging(
        settings,
        level=logging.INFO if verbose else logging.WARNING,
        formatter=None if verbose else _OneLine("  [log] %(levelname)s %(name)s: %(message)s"),
    )
