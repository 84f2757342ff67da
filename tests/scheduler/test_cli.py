"""`tenderbot fiv import`, `budget distribute` and `scheduler --once` as an operator uses them."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from bot.cli.main import cli
from store.models import Broker


@pytest.fixture
def tenderbot(
    database_url: str, search_path: str | None
) -> Callable[..., Coroutine[Any, Any, Result]]:
    env = {"TENDERBOT_DATABASE_URL": database_url}
    if search_path:
        env["TENDERBOT_DATABASE_SCHEMA"] = search_path

    async def invoke(*args: str) -> Result:
        # The commands call asyncio.run themselves, so they get a thread of their own.
        return await asyncio.to_thread(CliRunner().invoke, cli, list(args), env=env)

    return invoke


Tenderbot = Callable[..., Coroutine[Any, Any, Result]]


def fiv_file(tmp_path: Path, *rows: str) -> str:
    path = tmp_path / "fiv.csv"
    path.write_text(
        "\n".join(["vermittlernummer;jahr;sparte;zugangsart;beitrag", *rows]) + "\n",
        encoding="utf-8",
    )
    return str(path)


async def test_it_refuses_a_bad_file_with_line_numbers_and_exit_code_1(
    tenderbot: Tenderbot, tmp_path: Path, anna: Broker
) -> None:
    path = fiv_file(tmp_path, "4711;2025;sach;1;1.000,00", "4711;2025;sach;1;1.000.00")

    result = await tenderbot("fiv", "import", path)

    assert result.exit_code == 1
    assert "Zeile 3: Beitrag „1.000.00“ ist kein Betrag" in result.stderr
    assert "Traceback" not in result.output


async def test_it_imports_good_rows_with_skip_invalid_and_distributes_by_hand_once(
    tenderbot: Tenderbot, tmp_path: Path, anna: Broker
) -> None:
    path = fiv_file(
        tmp_path, "4711;2025;sach;1;1.000,00", "4711;2025;sach;X;1,00", "9999;2025;sach;1;5,00"
    )

    imported = await tenderbot("fiv", "import", path, "--skip-invalid")
    first = await tenderbot("budget", "distribute", "--year", "2026")
    second = await tenderbot("budget", "distribute", "--year", "2026")
    shown = await tenderbot("budget", "show", "--broker", "4711")

    assert imported.exit_code == 0, imported.output
    assert "2 Zeilen übernommen (2 Vermittler-Jahr-Paare ersetzt" in imported.stdout
    # Not a terminal: progress as plain lines on stderr, the summary alone on stdout.
    assert "FIV-Import fiv.csv: 100 %" in imported.stderr
    assert "%" not in imported.stdout
    assert "Benachrichtigungen 2026: 100 %" in first.stderr
    assert "Zeile 3: Zugangsart „X“" in imported.stderr
    assert first.exit_code == 0, first.output
    assert "Budget 2026 verteilt: 1 Vermittler, zusammen 30,00" in first.stdout
    assert "unbekannt und wurden nicht bedacht: 9999" in first.stderr
    assert second.exit_code == 0
    assert "bereits" in second.stdout and "nichts gebucht" in second.stdout
    assert "Konzeptrabattkonto 4711: 30,00" in shown.stdout


async def test_it_runs_the_daily_steps_once_from_the_command_line(
    tenderbot: Tenderbot, anna: Broker
) -> None:
    result = await tenderbot("scheduler", "--once")

    assert result.exit_code == 0, result.output
    assert "Ablauf-Erinnerungen: 0 Angebote." in result.stdout
