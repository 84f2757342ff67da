"""bot/notifiers.py: which notifiers the settings give."""

from __future__ import annotations

from pathlib import Path

from slack_sdk.http_retry.builtin_async_handlers import AsyncRateLimitErrorRetryHandler

from bot.notifiers import build_notifiers
from bot.settings import load_settings
from bot.slack_client import slack_client_for
from notifications import LocalSinkNotifier, SlackDmNotifier, SmtpNotifier


def test_it_sends_through_smtp_with_required_starttls_to_a_remote_relay() -> None:
    settings = load_settings(
        SMTP_HOST="mail.makler-plattform.example",
        SMTP_PORT=587,
        SMTP_USERNAME="tenderbot",
        SMTP_PASSWORD="geheim",
        MAIL_FROM="tenderbot@makler-plattform.example",
    )

    [email] = build_notifiers(settings, None)

    assert isinstance(email, SmtpNotifier)
    assert email.config.starttls_required is True
    assert email.config.password == "geheim"
    assert "geheim" not in repr(email.config)
    assert email.config.mail_from == "tenderbot@makler-plattform.example"


def test_it_lets_smtp_starttls_false_switch_tls_off_for_a_local_relay() -> None:
    settings = load_settings(SMTP_HOST="localhost", SMTP_PORT=1025)

    [email] = build_notifiers(settings, None)

    assert isinstance(email, SmtpNotifier)
    assert email.config.starttls_required is False


def test_it_writes_eml_files_without_smtp_host_and_adds_slack_with_a_token(
    tmp_path: Path,
) -> None:
    settings = load_settings(
        SMTP_HOST=None, SLACK_BOT_TOKEN="xoxb-test", SLACK_API_URL="http://127.0.0.1:9/api"
    )
    client = slack_client_for(settings)
    assert client is not None

    email, slack = build_notifiers(settings, client, eml_directory=tmp_path)

    assert isinstance(email, LocalSinkNotifier)
    assert email.directory == tmp_path
    assert isinstance(slack, SlackDmNotifier)
    assert client.base_url == "http://127.0.0.1:9/api/"
    # The scheduler's and mail-in's client waits out rate limits like the app's.
    assert any(isinstance(h, AsyncRateLimitErrorRetryHandler) for h in client.retry_handlers)


def test_it_builds_no_slack_client_without_a_bot_token() -> None:
    assert slack_client_for(load_settings(SLACK_BOT_TOKEN=None)) is None
