from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from bot.cli.main import cli
from tests.conftest import ANNA, broker_add_args


@pytest.fixture
def runner(cli_database: None) -> CliRunner:
    return CliRunner()


def test_it_adds_lists_and_shows_a_broker_budget(runner: CliRunner) -> None:
    added = runner.invoke(cli, broker_add_args(ANNA))
    assert added.exit_code == 0, added.output
    listed = runner.invoke(cli, ["broker", "list"])
    assert "4711\tU0ANNA\tAnna Adler" in listed.output
    shown = runner.invoke(cli, ["budget", "show", "--broker", "4711", "--json"])
    assert json.loads(shown.output) == {
        "broker": "4711",
        "balance": "0.00",
        "credit_limit": "0.00",
        "entries": [],
    }


def test_it_refuses_a_duplicate_broker_in_german(runner: CliRunner) -> None:
    args = broker_add_args(ANNA)
    runner.invoke(cli, args)
    again = runner.invoke(cli, args)
    assert again.exit_code == 1
    assert "bereits eingetragen" in again.output
    assert "Traceback" not in again.output


def test_it_imports_brokers_from_csv_all_or_nothing(runner: CliRunner, tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text(
        "slack_user;nummer;name;email;cc\n"
        "U0ANNA;4711;Anna Adler;anna@makler-adler.example;\n"
        "U0CARLA;4712;Carla;keine-adresse;\n",
        encoding="utf-8",
    )
    refused = runner.invoke(cli, ["broker", "import", str(bad)])
    assert refused.exit_code == 1
    assert "Zeile 3" in refused.output
    assert "Noch keine Vermittler" in runner.invoke(cli, ["broker", "list"]).output
    good = tmp_path / "good.csv"
    good.write_text(
        "slack_user;nummer;name;email;cc\n"
        "U0ANNA;4711;Anna Adler;anna@makler-adler.example;a@x.example|b@x.example\n",
        encoding="utf-8",
    )
    assert runner.invoke(cli, ["broker", "import", str(good)]).exit_code == 0
    assert "CC: a@x.example, b@x.example" in runner.invoke(cli, ["broker", "list"]).output


def test_it_stops_on_a_wrong_setting_with_one_line_naming_it(
    runner: CliRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SMTP_PORT", "fünfundzwanzig")
    result = runner.invoke(cli, ["broker", "list"])
    assert result.exit_code == 2
    assert result.output.strip().splitlines() == [
        "tenderbot: invalid setting SMTP_PORT: Input should be a valid integer, "
        "unable to parse string as an integer"
    ]


def test_it_keeps_secrets_out_of_the_settings_repr(monkeypatch: pytest.MonkeyPatch) -> None:
    from bot.settings import load_settings

    monkeypatch.setenv("SMTP_PASSWORD", "geheim123")
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-geheim")
    monkeypatch.setenv("TENDERBOT_DATABASE_URL", "postgresql+asyncpg://u:pw-geheim@db/x")
    settings = load_settings()
    assert "geheim" not in repr(settings)
    assert "geheim" not in settings.database_url_for_logs


@pytest.mark.parametrize(
    "command",
    [
        ["broker", "list"],
        ["budget", "show", "--broker", "4711"],
        ["budget", "distribute", "--year", "2026"],
        ["queue"],
        ["queue", "flush"],
        ["scheduler", "--once"],
    ],
    ids=" ".join,
)
def test_it_tells_the_operator_to_migrate_a_database_without_schema(
    tmp_path: Path, command: list[str]
) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path}/new.db"

    result = CliRunner().invoke(cli, command, env={"TENDERBOT_DATABASE_URL": url})

    assert result.exit_code == 1
    assert "is at no schema, expected" in result.output
    assert "tenderbot db upgrade" in result.output
    assert "Traceback" not in result.output


def test_it_names_an_unreachable_database_in_one_line() -> None:
    url = "postgresql+asyncpg://postgres@127.0.0.1:1/test"

    result = CliRunner().invoke(cli, ["broker", "list"], env={"TENDERBOT_DATABASE_URL": url})

    assert result.exit_code == 1
    assert result.output.startswith(f"Error: database {url} unreachable: ")
    assert "Traceback" not in result.output
