"""`tenderbot rabatt` through the real click group."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

import pricing
from bot.cli.main import cli
from bot.cli.rabatt import KOMBI_RATES_ENV

UMSTELLUNG = (
    "umstellung sparte=sach renta=40 alt=1000 neu=1500 risikobonus=10 tarifjahr=2015 "
    "monate=24 geschaeft=ersatz segment=ja"
)
EXAMPLE_TABLE = Path(pricing.__file__).parent / "kombi_rates.example.toml"


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


def test_it_prints_the_german_answer_with_its_bounds(runner: CliRunner) -> None:
    # P4c worked example.
    result = runner.invoke(cli, ["rabatt", UMSTELLUNG])
    assert result.exit_code == 0, result.output
    assert "*Umstellungsnachlass (Sach): höchstens 25,92\xa0%*" in result.stdout
    assert "Höchstsatz (P4b): 40\xa0%" in result.stdout
    assert "Untergrenze (P4c): 1.000,00\xa0€" in result.stdout
    assert "• P4a – " in result.stdout


def test_it_accepts_the_query_as_separate_shell_words(runner: CliRunner) -> None:
    result = runner.invoke(cli, ["rabatt", *UMSTELLUNG.split()])
    assert result.exit_code == 0, result.output
    assert "25,92\xa0%" in result.stdout


def test_it_prints_one_json_object(runner: CliRunner) -> None:
    # P4c worked example.
    result = runner.invoke(cli, ["rabatt", "--json", UMSTELLUNG])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["eligible"] is True
    assert data["needed"] is True
    assert data["max_percent"] == "25.92"
    assert data["premium_after"] == "1350.00"
    assert data["floor"] == "1000.00"
    assert data["cap"] == "40.00"
    assert {"rule": "P4b", "text": "Vorvertragsrenta bis 50 %: in Sach höchstens 40\xa0%."} in data[
        "reasons"
    ]


def test_it_exits_0_for_an_answered_refusal(runner: CliRunner) -> None:
    # P4 precondition: 5 months is too young, still an answer.
    result = runner.invoke(cli, ["rabatt", "--json", UMSTELLUNG.replace("monate=24", "monate=5")])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["eligible"] is False
    assert data["max_percent"] == "0.00"
    assert data["floor"] is None


def test_it_exits_2_with_the_german_message_for_a_query_that_does_not_parse(
    runner: CliRunner,
) -> None:
    result = runner.invoke(cli, ["rabatt", "--json", UMSTELLUNG.replace("renta=40", "rente=40")])
    assert result.exit_code == 2
    assert result.stdout == ""
    assert "Unbekanntes Wort „rente“" in result.stderr
    assert "Beispiel: `umstellung" in result.stderr


def test_it_reads_the_kombi_table_from_the_option(runner: CliRunner) -> None:
    # P1 with the shipped example table: two lines → 5 %.
    result = runner.invoke(
        cli, ["rabatt", "--json", "--kombi-table", str(EXAMPLE_TABLE), "kombi sach haft"]
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["rate"] == "5.00"
    assert data["example_table"] is True


def test_it_reads_the_kombi_table_from_the_environment(runner: CliRunner) -> None:
    result = runner.invoke(
        cli,
        ["rabatt", "--json", "kombi sach haft rs beitrag=1.000 €"],
        env={KOMBI_RATES_ENV: str(EXAMPLE_TABLE)},
    )
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["nachlass"] == "100.00"


def test_it_says_kombi_rates_are_not_configured_without_a_table(runner: CliRunner) -> None:
    result = runner.invoke(cli, ["rabatt", "kombi sach haft"], env={KOMBI_RATES_ENV: ""})
    assert result.exit_code == 0, result.output
    assert "nicht konfiguriert" in result.stdout


def test_it_reports_a_broken_kombi_table(runner: CliRunner, tmp_path: Path) -> None:
    broken = tmp_path / "rates.toml"
    broken.write_text("[saetze]\n1 = 0\n", encoding="utf-8")
    result = runner.invoke(cli, ["rabatt", "--kombi-table", str(broken), "kombi sach haft"])
    assert result.exit_code == 1
    assert "Satz für 2, 3 Branche(n) fehlt" in result.stderr


def test_it_ignores_the_kombi_table_for_other_questions(runner: CliRunner, tmp_path: Path) -> None:
    # A broken rate file must not block an Umstellung answer.
    result = runner.invoke(
        cli, ["rabatt", "--kombi-table", str(tmp_path / "missing.toml"), UMSTELLUNG]
    )
    assert result.exit_code == 0, result.output
