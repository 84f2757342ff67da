"""`tenderbot serve` (HTTP) and `tenderbot socket` (Socket Mode)."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Coroutine
from typing import Any

import click
from sqlalchemy.exc import SQLAlchemyError

from bot.cli.common import database_problem, run, settings_or_exit
from bot.http import serve
from bot.logs import setup_logging
from bot.settings import ConfigurationError, Settings
from bot.socket import app_token, serve_socket

MIGRATE_HELP = "Vor dem Start alle Migrationen anwenden (sonst: Abbruch bei altem Schema)."


def _run_server(settings: Settings, coroutine: Coroutine[Any, Any, None]) -> None:
    """Operator errors become one clear line and a non-zero exit, never a traceback."""
    try:
        with contextlib.suppress(KeyboardInterrupt):
            run(coroutine)
    except ConfigurationError as error:
        click.echo(f"tenderbot: {error}", err=True)
        sys.exit(2)
    except SQLAlchemyError as error:
        raise click.ClickException(database_problem(settings, "unavailable", error)) from None
    except OSError as error:
        raise click.ClickException(f"cannot start: {error}") from None


@click.command(
    "serve", help="Slack-App über HTTP bereitstellen (POST /slack/events, GET /healthz)."
)
@click.option("--host", default="0.0.0.0", show_default=True, help="Adresse zum Lauschen.")
@click.option("--port", type=click.IntRange(1, 65535), default=None, help="Port (TENDERBOT_PORT).")
@click.option("--migrate", is_flag=True, help=MIGRATE_HELP)
def serve_command(host: str, port: int | None, migrate: bool) -> None:
    settings = settings_or_exit()
    setup_logging(settings)
    bound = port or settings.port
    click.echo(f"tenderbot hört auf http://{host}:{bound}/slack/events – beenden mit Strg+C.")
    _run_server(settings, serve(settings, host, bound, migrate=migrate))


@click.command("socket", help="Slack-App über Socket Mode verbinden (braucht SLACK_APP_TOKEN).")
@click.option("--migrate", is_flag=True, help=MIGRATE_HELP)
def socket_command(migrate: bool) -> None:
    settings = settings_or_exit()
    try:
        app_token(settings)
    except ConfigurationError as error:
        click.echo(f"tenderbot: {error}", err=True)
        sys.exit(2)
    setup_logging(settings)
    click.echo("tenderbot verbindet sich über Socket Mode – beenden mit Strg+C.")
    _run_server(settings, serve_socket(settings, migrate=migrate))
