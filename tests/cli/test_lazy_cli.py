"""The CLI imports only what a command needs: `--help` and `rabatt` stay free of the app,
and of click too (bot.cli.quick answers them)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import click
import pytest

from bot.cli.main import COMMANDS, cli
from store.migrate import upgrade

HEAVY = ("slack_bolt", "slack_sdk", "sqlalchemy", "aiohttp", "alembic", "asyncpg", "aiosqlite")


def imported_modules(*args: str, env: dict[str, str] | None = None) -> set[str]:
    """Run the console script's entry point in a fresh interpreter; the modules it imported."""
    completed = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", "from bot.cli.main import main; main()", *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env=env,
    )
    assert completed.returncode == 0, completed.stderr[-2000:]
    modules = set()
    for line in completed.stderr.splitlines():
        if line.startswith("import time:") and "|" in line:
            modules.add(line.rsplit("|", 1)[1].strip())
    return modules


def heavy_among(modules: set[str]) -> set[str]:
    return {name for name in modules if name.split(".")[0] in HEAVY}


@pytest.mark.parametrize(
    "args",
    [("--help",), ("rabatt", "hilfe"), ("rabatt", "risikobonus klasse=durchschnitt wunsch=15")],
)
def test_it_answers_help_and_rabatt_without_importing_the_app(args: tuple[str, ...]) -> None:
    modules = imported_modules(*args)
    assert "bot.cli.main" in modules  # the probe sees imports at all
    assert heavy_among(modules) == set()
    assert "click" not in modules


def test_it_imports_click_for_what_only_click_answers() -> None:
    # The click guard above can fail: the command's own help goes through click.
    modules = imported_modules("rabatt", "--help")
    assert "click" in modules
    assert heavy_among(modules) == set()


def test_it_imports_the_database_layer_for_a_database_command() -> None:
    # The guard above can fail: a command that needs SQLAlchemy shows up in the same probe.
    assert "sqlalchemy" in heavy_among(imported_modules("db", "--help"))


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_it_lists_each_command_with_the_first_sentence_of_its_own_help(name: str) -> None:
    command = COMMANDS[name].load()
    assert command.help is not None
    assert command.help.startswith(COMMANDS[name].summary)
    with click.Context(cli) as ctx:
        assert cli.get_command(ctx, name) is command


def test_it_imports_figures_without_alembic_or_the_models(tmp_path: Path) -> None:
    """Backoffice Bernd's yearly FIV import checks the schema and asks whether a distribution
    waits (B2) without Alembic or the ORM models: both only lengthen its start."""
    url = f"sqlite+aiosqlite:///{tmp_path / 'fiv.db'}"
    upgrade(url)
    figures = tmp_path / "fiv.csv"
    figures.write_text("vermittlernummer;jahr;sparte;zugangsart;beitrag\n4711;2025;sach;1;1,00\n")
    environment = {**os.environ, "TENDERBOT_DATABASE_URL": url}
    environment.pop("TENDERBOT_DATABASE_SCHEMA", None)

    modules = imported_modules("fiv", "import", str(figures), env=environment)

    assert "store.fiv" in modules  # the probe saw the import run
    assert "alembic" not in heavy_among(modules)
    assert "store.models" not in modules


def test_it_leaves_a_finished_command_s_objects_to_the_end_of_the_process() -> None:
    """No last garbage collection over everything a command made (see bot.cli.main)."""
    probe = (
        "import atexit, gc, sys\n"
        "atexit.register(lambda: print('frozen', gc.get_freeze_count() > 0))\n"
        "from bot.cli.main import main\n"
        "sys.argv = ['tenderbot', '--help']\n"
        "main()\n"
    )
    completed = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=False
    )
    assert completed.returncode == 0, completed.stderr[-2000:]
    assert "frozen True" in completed.stdout
