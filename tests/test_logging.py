"""One logging setup for every command: JSON lines with the work's context, never a secret."""

from __future__ import annotations

import asyncio
import io
import json
import logging
from collections.abc import Iterator

import pytest

from bot.logs import setup_logging
from bot.settings import ConfigurationError, Settings, load_settings
from store.logcontext import bind, bound, fields

BOT_TOKEN = "xoxb-1111-2222-geheimnis"
SIGNING_SECRET = "8f14e45fceea167a5a36dedd4bea2543"
APP_TOKEN = "xapp-1-A0-3333-geheim"
SMTP_PASSWORD = "smtp-Passwort-99"
DB_PASSWORD = "pg-Passwort-77"


def settings(log_format: str) -> Settings:
    return load_settings(
        database_url=f"postgresql+asyncpg://tenderbot:{DB_PASSWORD}@db.example:5432/tenderbot",
        slack_bot_token=BOT_TOKEN,
        slack_signing_secret=SIGNING_SECRET,
        slack_app_token=APP_TOKEN,
        smtp_password=SMTP_PASSWORD,
        log_format=log_format,
    )


@pytest.fixture
def restore_root() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


def log_everything(logger: logging.Logger) -> None:
    with bound(reference="AS-2026-0007", slack_request="Ev0SIGTERM", queue_row=42):
        logger.info("posting with token %s to %s", BOT_TOKEN, "C0BACKOFFICE")
        logger.warning(
            "connect failed: postgresql+asyncpg://tenderbot:%s@db.example/tenderbot", DB_PASSWORD
        )
        try:
            raise RuntimeError(f"SMTP AUTH refused for {SMTP_PASSWORD}, signed {SIGNING_SECRET}")
        except RuntimeError:
            logger.exception("delivery crashed (app token %s)", APP_TOKEN)
    logger.info("an unrelated token xoxp-9999-8888 turns up")


@pytest.mark.usefixtures("restore_root")
def test_it_writes_one_json_object_per_line_with_the_context_and_no_secret() -> None:
    stream = io.StringIO()
    setup_logging(settings("json"), stream=stream)

    log_everything(logging.getLogger("tenderbot.test"))

    output = stream.getvalue()
    lines = output.splitlines()
    records = [json.loads(line) for line in lines]
    assert len(records) == 4
    first = records[0]
    assert first["level"] == "INFO"
    assert first["logger"] == "tenderbot.test"
    assert first["message"] == "posting with token *** to C0BACKOFFICE"
    assert first["time"]
    for record in records[:3]:
        assert record["reference"] == "AS-2026-0007"
        assert record["slack_request"] == "Ev0SIGTERM"
        assert record["queue_row"] == "42"
    assert "reference" not in records[3]
    assert "Traceback" in records[2]["exc_info"]
    for secret in (BOT_TOKEN, SIGNING_SECRET, APP_TOKEN, SMTP_PASSWORD, DB_PASSWORD, "9999-8888"):
        assert secret not in output


@pytest.mark.usefixtures("restore_root")
def test_it_masks_secrets_in_plain_lines_too_and_names_the_context() -> None:
    stream = io.StringIO()
    setup_logging(settings("plain"), stream=stream)

    log_everything(logging.getLogger("tenderbot.test"))

    output = stream.getvalue()
    assert "posting with token *** to C0BACKOFFICE [" in output
    assert "reference=AS-2026-0007" in output
    for secret in (BOT_TOKEN, SIGNING_SECRET, APP_TOKEN, SMTP_PASSWORD, DB_PASSWORD):
        assert secret not in output


@pytest.mark.usefixtures("restore_root")
def test_it_replaces_its_own_handler_when_set_up_twice() -> None:
    first, second = io.StringIO(), io.StringIO()
    setup_logging(settings("json"), stream=first)
    setup_logging(settings("json"), stream=second)

    logging.getLogger("tenderbot.test").warning("once")

    assert first.getvalue() == ""
    assert len(second.getvalue().splitlines()) == 1


async def test_it_keeps_bound_fields_to_the_task_that_bound_them() -> None:
    async def request(reference: str) -> dict[str, str]:
        bind(reference=reference)
        await asyncio.sleep(0)
        return dict(fields())

    first, second = await asyncio.gather(request("AS-2026-0001"), request("AS-2026-0002"))

    assert (first, second) == ({"reference": "AS-2026-0001"}, {"reference": "AS-2026-0002"})
    assert dict(fields()) == {}


def test_it_refuses_an_unknown_log_format_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("TENDERBOT_LOG_FORMAT", "xml")

    with pytest.raises(ConfigurationError, match="TENDERBOT_LOG_FORMAT"):
        load_settings()
