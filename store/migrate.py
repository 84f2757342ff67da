"""Apply the Alembic migrations: the only source of the schema."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config

MIGRATIONS = Path(__file__).parent / "migrations"


def alembic_config(url: str, *, search_path: str | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    if search_path:
        config.set_main_option("search_path", search_path)
    return config


def upgrade(url: str, revision: str = "head", *, search_path: str | None = None) -> None:
    """Blocking: run from a thread or before the event loop starts."""
    command.upgrade(alembic_config(url, search_path=search_path), revision)


def heads(url: str) -> list[str]:
    from alembic.script import ScriptDirectory

    return list(ScriptDirectory.from_config(alembic_config(url)).get_heads())
