"""`tenderbot queue`: an operator lists, requeues and flushes notifications."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from click.testing import CliRunner

from bot.cli.main import cli
from store.brokers import add_broker
from store.db import make_engine, make_sessionmaker, transaction
from store.outbox import enqueue, enqueue_for_broker
from tests.conftest import ANNA
from tests.notifications.helpers import OFFER_CONTEXT


@pytest.fixture
def runner(cli_database: None, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> CliRunner:
    for variable in ("SMTP_HOST", "SLACK_BOT_TOKEN", "SLACK_API_URL"):
        monkeypatch.delenv(variable, raising=False)
    # No SMTP_HOST: e-mails land in ./outbox, and no stray .env is read.
    monkeypatch.chdir(tmp_path)
    return CliRunner()


def _enqueue_for_anna(database_url: str, search_path: str | None) -> tuple[list[int], int]:
    """Anna's offer e-mails plus one row whose context cannot be rendered."""

    async def work() -> tuple[list[int], int]:
        engine = make_engine(database_url, search_path=search_path)
        try:
            async with transaction(make_sessionmaker(engine)) as session:
                anna = await add_broker(session, ANNA)
                good = await enqueue_for_broker(session, anna, "offer_available", OFFER_CONTEXT)
                broken = await enqueue(
                    session,
                    channel="email",
                    recipient=anna.email,
                    template="offer_available",
                    context={**OFFER_CONTEXT, "premium": "zwölf Euro"},
                )
                assert broken is not None
                return good, broken
        finally:
            await engine.dispose()

    return asyncio.run(work())


def test_it_flushes_to_eml_files_lists_the_dead_row_and_requeues_it(
    runner: CliRunner, database_url: str, search_path: str | None, tmp_path: Path
) -> None:
    _good, broken = _enqueue_for_anna(database_url, search_path)

    before = runner.invoke(cli, ["queue"])
    flushed = runner.invoke(cli, ["queue", "flush"])
    after = runner.invoke(cli, ["queue"])
    dead = runner.invoke(cli, ["queue", "dead"])
    only_slack = runner.invoke(cli, ["queue", "--kind", "slack"])
    retried = runner.invoke(cli, ["queue", "retry", str(broken)])
    again = runner.invoke(cli, ["queue", "retry", str(broken)])

    assert before.exit_code == 0, before.output
    assert before.output.count("wartend") == 4
    assert flushed.exit_code == 0, flushed.output
    assert "Gesendet: 2, später erneut: 0, Dead-Letter: 1" in flushed.output
    assert f"#{broken}: cannot render" in flushed.output
    assert len(list((tmp_path / "outbox").glob("*.eml"))) == 2
    # The Slack DM waits: this process has no Slack token.
    assert f"#{broken}  Dead-Letter  email → anna@makler-adler.example" in after.output
    assert "slack → U0ANNA" in after.output
    assert dead.output.startswith("Dead-Letter nach Art – email: 1")
    assert f"#{broken}  Dead-Letter  email" in dead.output
    assert "letzter Fehler: cannot render" in dead.output
    assert "email →" not in only_slack.output and "slack → U0ANNA" in only_slack.output
    assert retried.exit_code == 0, retried.output
    assert f"Eintrag #{broken} (email → anna@makler-adler.example) wird erneut gesendet." in (
        retried.output
    )
    assert again.exit_code == 1
    assert "nicht im Dead-Letter (Status: pending)" in again.output


def test_it_answers_an_unknown_row_in_german_without_a_traceback(runner: CliRunner) -> None:
    result = runner.invoke(cli, ["queue", "retry", "999"])

    assert result.exit_code == 1
    assert "Fehler: Es gibt keinen Eintrag der Warteschlange 999." in result.output
    assert "Traceback" not in result.output


def test_it_says_the_queue_is_empty(runner: CliRunner) -> None:
    result = runner.invoke(cli, ["queue"])

    assert result.exit_code == 0
    assert "Die Warteschlange ist leer" in result.output
