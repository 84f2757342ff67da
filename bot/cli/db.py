"""`tenderbot db upgrade`: bring the database to the newest migration."""

from __future__ import annotations

import click
from sqlalchemy.exc import SQLAlchemyError

from bot.cli.common import settings_or_exit
from store.migrate import upgrade


@click.group(help="Datenbank verwalten.")
def db() -> None:
    pass


@db.command("upgrade", help="Alle Alembic-Migrationen anwenden (SQLite und PostgreSQL).")
def db_upgrade() -> None:
    settings = settings_or_exit()
    try:
        upgrade(settings.database_url, search_path=settings.database_schema)
    except (SQLAlchemyError, OSError) as error:
        raise click.ClickException(
            f"migration failed on {settings.database_url_for_logs}: {error}"
        ) from None
    click.echo(f"Datenbank aktuell: {settings.database_url_for_logs}")
