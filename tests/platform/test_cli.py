"""`tenderbot platform send/import` and `tenderbot budget charge/storno/credit`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from bot.cli.main import cli
from tests.conftest import ANNA, broker_add_args
from tests.platform.conftest import event_bytes


@pytest.fixture
def runner(cli_database: None) -> CliRunner:
    runner = CliRunner()
    added = runner.invoke(cli, broker_add_args(ANNA, cc_emails=()))
    assert added.exit_code == 0, added.output
    return runner


def grant(runner: CliRunner, amount: str) -> None:
    granted = runner.invoke(cli, ["budget", "credit", "--broker", "4711", "--betrag", amount])
    assert granted.exit_code == 0, granted.output


def charge(event_id: str, policy: str, amount: str) -> str:
    data = {"broker_number": "4711", "policy_number": policy, "konzeptrabatt": amount}
    return event_bytes(event_id, "policy.issued", data).decode()


def test_it_sends_one_event_from_stdin_like_the_endpoint(runner: CliRunner) -> None:
    grant(runner, "400")

    first = runner.invoke(cli, ["platform", "send", "-"], input=charge("e-1", "P-1", "250,00"))
    again = runner.invoke(cli, ["platform", "send", "-"], input=charge("e-1", "P-1", "250,00"))
    refused = runner.invoke(cli, ["platform", "send", "-"], input=charge("e-2", "P-2", "500"))

    assert first.exit_code == 0, first.output
    assert json.loads(first.output)["balance"] == "-250.00"
    assert json.loads(again.output)["status"] == "duplicate"
    assert refused.exit_code == 1
    answer = json.loads(refused.output)
    assert (answer["http_status"], answer["code"]) == (409, "not_covered")


def test_it_imports_a_file_of_events_each_once_and_names_refused_lines(
    runner: CliRunner, tmp_path: Path
) -> None:
    grant(runner, "300,00")
    events = tmp_path / "events.jsonl"
    lines = [
        charge("e-1", "P-1", "100.00"),
        "",
        charge("e-2", "P-2", "zu viel"),
        charge("e-3", "P-3", "500.00"),
        charge("e-1", "P-1", "100.00"),
        event_bytes(
            "e-4", "policy.cancelled", {"policy_number": "P-1", "from_inception": True}
        ).decode(),
    ]
    events.write_text("\n".join(lines) + "\n", encoding="utf-8")

    result = runner.invoke(cli, ["platform", "import", str(events)])
    repeated = runner.invoke(cli, ["platform", "import", str(events)])

    assert result.exit_code == 1
    assert "2 gebucht, 0 vermerkt, 1 bereits bekannt, 2 abgelehnt." in result.output
    assert "Zeile 3: 422 invalid: data.konzeptrabatt:" in result.output
    refusal = "Zeile 4: 409 not_covered: Guthaben -100,00\xa0€ plus Kredit 300,00\xa0€"
    assert refusal in result.output
    assert "0 gebucht, 0 vermerkt, 3 bereits bekannt, 2 abgelehnt." in repeated.output
    shown = runner.invoke(cli, ["budget", "show", "--broker", "4711", "--json"])
    assert json.loads(shown.output)["balance"] == "0.00"


def test_it_books_by_hand_in_german_amounts(runner: CliRunner) -> None:
    credited = runner.invoke(cli, ["budget", "credit", "--broker", "4711", "--betrag", "200,00"])
    malformed = runner.invoke(
        cli, ["budget", "charge", "--broker", "4711", "--police", "P-9", "--betrag", "1.50,00"]
    )
    charged = runner.invoke(
        cli, ["budget", "charge", "--broker", "4711", "--police", "P-9", "--betrag", "250,00"]
    )
    charged_within = runner.invoke(
        cli, ["budget", "charge", "--broker", "4711", "--police", "P-8", "--betrag", "150,00"]
    )
    storno = runner.invoke(cli, ["budget", "storno", "--police", "P-8"])
    twice = runner.invoke(cli, ["budget", "storno", "--police", "P-8"])

    assert credited.exit_code == 0, credited.output
    assert "Kreditrahmen auf 200,00\xa0€ gesetzt." in credited.output
    assert malformed.exit_code == 1
    assert "kein Betrag wie 250,00" in malformed.output
    assert charged.exit_code == 1
    assert "nicht policiert" in charged.output
    assert charged_within.exit_code == 0, charged_within.output
    assert "Saldo -150,00" in charged_within.output
    assert storno.exit_code == 0, storno.output
    assert "gutgeschrieben" in storno.output
    assert twice.exit_code == 1
    assert "bereits gutgeschrieben" in twice.output
    shown = json.loads(runner.invoke(cli, ["budget", "show", "--broker", "4711", "--json"]).output)
    assert shown["balance"] == "0.00"
    assert [entry["kind"] for entry in shown["entries"]] == ["storno", "charge", "credit"]


def test_it_shows_the_credit_booking_as_kreditrahmen_gesetzt_without_its_internal_id(
    runner: CliRunner,
) -> None:
    grant(runner, "200,00")

    shown = runner.invoke(cli, ["budget", "show", "--broker", "4711"])

    assert shown.exit_code == 0, shown.output
    [booking] = [line for line in shown.output.splitlines() if "Kreditrahmen gesetzt" in line]
    assert booking.rstrip().endswith("Kreditrahmen gesetzt")
    assert "cli-" not in shown.output and "credit" not in shown.output
