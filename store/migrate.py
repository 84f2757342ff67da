"""Apply the Alembic migrations: the only source of the schema."""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from alembic.config import Config

MIGRATIONS = Path(__file__).parent / "migrations"
# `revision = "…"` and `down_revision = "…"` (or a tuple, or None) as every script states them.
_REVISION_LINE = re.compile(r"^(revision|down_revision)\b[^=]*=(.*)$", re.MULTILINE)
_QUOTED = re.compile(r"""["']([^"']+)["']""")


def alembic_config(url: str, *, search_path: str | None = None) -> Config:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    if search_path:
        config.set_main_option("search_path", search_path)
    return config


def upgrade(url: str, revision: str = "head", *, search_path: str | None = None) -> None:
    """Blocking: run from a thread or before the event loop starts."""
    from alembic import command

    command.upgrade(alembic_config(url, search_path=search_path), revision)


def heads(url: str) -> list[str]:
    from alembic.script import ScriptDirectory

    return list(ScriptDirectory.from_config(alembic_config(url)).get_heads())


def script_heads() -> list[str]:
    """What ``heads`` answers, read from the scripts' text: a command that only checks the
    schema before its work need not import Alembic, a quarter of a second or more of every
    start (tests/test_db.py holds the two answers equal)."""
    revisions: set[str] = set()
    replaced: set[str] = set()
    for script in (MIGRATIONS / "versions").glob("*.py"):
        for name, value in _REVISION_LINE.findall(script.read_text(encoding="utf-8")):
            found = _QUOTED.findall(value)
            (revisions if name == "revision" else replaced).update(found)
    return sorted(revisions - replaced)
