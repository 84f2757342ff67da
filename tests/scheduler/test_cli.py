"""`tenderbot fiv import`, `budget distribute` and `scheduler --once` as an operator uses them.

The CLI reads the database from TENDERBOT_DATABASE_URL alone; the per-session PostgreSQL
schema of the test run cannot be expressed there, so these run on SQLite only. The services
behind them run on both databases in the other test modules.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from bot.cli.main import cli
from store.models import Broker
from tests.conftest import ON_POSTGRES

pytestmark = pytest.mark.skipif(ON_POSTGRES, reason="the CLI has no search_path setting")


async def tenderbot(database_url: str, *args: str) -> Result:
    runner = CliRunner()
    # The commands call asyncio.run themselves, so they get a thread of their own.
    return await asyncio.to_thread(
        runner.invoke, cli, list(args), env={"TENDERBOT_DATABASE_URL": database_url}
    )


def fiv_file(tmp_path: Path, *rows: str) -> str:
    path = tmp_path / "fiv.csv"
    path.write_text(
        "\n".join(["vermittlernummer;jahr;sparte;zugangsart;beitrag", *rows]) + "\n",
        encoding="utf-8",
    )
    return str(path)


async def test_it_refuses_a_bad_file_with_line_numbers_and_exit_code_1(
    database_url: str, tmp_path: Path, anna: Broker
) -> None:
    path = fiv_file(tmp_path, "4711;2025;sach;1;1.000,00", "4711;2025;sach;1;1.000.00")

    result = await tenderbot(database_url, "fiv", "import", path)

    assert result.exit_code == 1
    assert "Zeile 3: Beitrag „1.000.00“ ist kein Betrag" in result.stderr
    assert "Traceback" not in result.output


async def test_it_imports_good_rows_with_skip_invalid_and_distributes_by_hand_once(
    database_url: str, tmp_path: Path, anna: Broker
) -> None:
    path = fiv_file(
        tmp_path, "4711;2025;sach;1;1.000,00", "4711;2025;sach;X;1,00", "9999;2025;sach;1;5,00"
    )

    imported = await tenderbot(database_url, "fiv", "import", path, "--skip-invalid")
    first = await tenderbot(database_url, "budget", "distribute", "--year", "2026")
    second = await tenderbot(database_url, "budget", "distribute", "--year", "2026")
    shown = await tenderbot(database_url, "budget", "show", "--broker", "4711")

    assert imported.exit_code == 0, imported.output
    assert "2 Zeilen übernommen" in imported.stdout
    assert "Zeile 3: Zugangsart „X“" in imported.stderr
    assert first.exit_code == 0, first.output
    assert "Budget 2026 verteilt: 1 Vermittler, zusammen 30,00" in first.stdout
    assert "unbekannt und wurden nicht bedacht: 9999" in first.stderr
    assert second.exit_code == 0
    assert "bereits" in second.stdout and "nichts gebucht" in second.stdout
    assert "Konzeptrabattkonto 4711: 30,00" in shown.stdout


async def test_it_runs_the_daily_steps_once_from_the_command_line(
    database_url: str, anna: Broker
) -> None:
    result = await tenderbot(database_url, "scheduler", "--once")

    assert result.exit_code == 0, result.output
    assert "Ablauf-Erinnerungen: 0 Angebote." in result.stdout
