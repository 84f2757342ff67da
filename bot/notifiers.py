"""Assemble the outbox notifiers from the settings (the only place that knows both)."""

from __future__ import annotations

from pathlib import Path

from slack_sdk.web.async_client import AsyncWebClient

from bot.settings import Settings
from notifications import LocalSinkNotifier, Notifier, SlackDmNotifier, SmtpConfig, SmtpNotifier
from notifications.local_sink import DEFAULT_DIRECTORY
from notifications.replies import ReplyAddresses
from store.reply_tokens import ReplyTokens


def smtp_config(settings: Settings) -> SmtpConfig | None:
    """None without SMTP_HOST: e-mails then go to .eml files instead."""
    if not settings.smtp_host:
        return None
    return SmtpConfig(
        host=settings.smtp_host,
        port=settings.smtp_port,
        username=settings.smtp_username,
        password=(settings.smtp_password.get_secret_value() if settings.smtp_password else None),
        starttls_required=settings.starttls_required,
        mail_from=settings.mail_from,
        implicit_tls=settings.smtp_port == 465,
    )


def reply_tokens(settings: Settings) -> ReplyTokens | None:
    """None without TENDERBOT_REPLY_DOMAIN (the settings demand a secret with it)."""
    if settings.reply_domain is None or settings.reply_secret is None:
        return None
    return ReplyTokens(settings.reply_secret.get_secret_value())


def reply_addresses(settings: Settings) -> ReplyAddresses | None:
    tokens = reply_tokens(settings)
    if tokens is None or settings.reply_domain is None:
        return None
    return ReplyAddresses(domain=settings.reply_domain, tokens=tokens)


def build_notifiers(
    settings: Settings,
    slack_client: AsyncWebClient | None,
    *,
    eml_directory: Path = DEFAULT_DIRECTORY,
) -> list[Notifier]:
    """E-mail always (SMTP, or .eml files without SMTP_HOST); Slack when there is a client.

    Without a Slack client the Slack rows simply stay pending until a process with one
    flushes them.
    """
    config = smtp_config(settings)
    replies = reply_addresses(settings)
    email: Notifier = (
        SmtpNotifier(config, replies=replies)
        if config is not None
        else LocalSinkNotifier(eml_directory, mail_from=settings.mail_from, replies=replies)
    )
    notifiers = [email]
    if slack_client is not None:
        notifiers.append(SlackDmNotifier(slack_client))
    return notifiers
