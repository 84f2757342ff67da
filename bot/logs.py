"""One logging setup for every command: plain lines, or JSON with ``TENDERBOT_LOG_FORMAT=json``.

Each record carries the fields bound in ``store.logcontext`` (tender reference, Slack
request/event id, queue row id, job) and never a secret: the configured tokens, passwords
and the database URL's password are masked in the finished line, whatever logged them.
"""

from __future__ import annotations

import logging
import re
import sys
from typing import TextIO

from pythonjsonlogger.json import JsonFormatter
from sqlalchemy.engine import make_url

from bot.settings import Settings
from store.logcontext import fields

HANDLER_NAME = "tenderbot"
PLAIN = "%(asctime)s %(levelname)s %(name)s: %(message)s"
MASK = "***"
# Tokens that look like Slack's, even when they are not the configured ones.
SLACK_TOKEN = re.compile(r"\b(xox[abprse]|xapp)-[A-Za-z0-9-]+")


class ContextFilter(logging.Filter):
    """Copies the bound context fields onto the record (as attributes, for the JSON keys)."""

    def filter(self, record: logging.LogRecord) -> bool:
        bound = fields()
        record.context = " ".join(f"{key}={value}" for key, value in bound.items())
        for key, value in bound.items():
            if not hasattr(record, key):
                setattr(record, key, value)
        return True


class _Masking:
    def __init__(self, secrets: list[str]) -> None:
        # Longest first: one secret may contain another (a URL and its password).
        self.secrets = sorted({secret for secret in secrets if len(secret) >= 4}, key=len)[::-1]

    def mask(self, text: str) -> str:
        for secret in self.secrets:
            text = text.replace(secret, MASK)
        return SLACK_TOKEN.sub(lambda match: f"{match.group(1)}-{MASK}", text)


class PlainFormatter(logging.Formatter):
    def __init__(self, masking: _Masking) -> None:
        super().__init__(PLAIN)
        self.masking = masking

    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        context = getattr(record, "context", "")
        return self.masking.mask(f"{text} [{context}]" if context else text)


class JsonLineFormatter(JsonFormatter):
    def __init__(self, masking: _Masking) -> None:
        super().__init__(
            "%(asctime)s %(levelname)s %(name)s %(message)s",
            rename_fields={"asctime": "time", "levelname": "level", "name": "logger"},
            reserved_attrs=[*_RESERVED, "context"],
        )
        self.masking = masking

    def format(self, record: logging.LogRecord) -> str:
        # One line per record: a traceback goes into the "exc_info" field, escaped.
        return self.masking.mask(super().format(record))


_RESERVED = [*logging.LogRecord("", 0, "", 0, "", None, None).__dict__, "message", "asctime"]


def secrets_of(settings: Settings) -> list[str]:
    values = [
        secret.get_secret_value()
        for secret in (
            settings.slack_bot_token,
            settings.slack_signing_secret,
            settings.slack_app_token,
            settings.smtp_password,
            settings.reply_secret,
        )
        if secret is not None
    ]
    password = make_url(settings.database_url).password
    if password:
        values.append(str(password))
    return values


def setup_logging(
    settings: Settings,
    *,
    level: int = logging.INFO,
    stream: TextIO | None = None,
    formatter: logging.Formatter | None = None,
) -> logging.Handler:
    """Replace the root handlers with ours; ``formatter`` overrides the plain format (the
    console's one-line log), ``TENDERBOT_LOG_FORMAT=json`` overrides both."""
    masking = _Masking(secrets_of(settings))
    handler = logging.StreamHandler(stream or sys.stderr)
    chosen: logging.Formatter
    if settings.log_format == "json":
        chosen = JsonLineFormatter(masking)
    elif formatter is not None:
        chosen = _MaskedWrapper(formatter, masking)
    else:
        chosen = PlainFormatter(masking)
    handler.setFormatter(chosen)
    handler.addFilter(ContextFilter())
    handler.set_name(HANDLER_NAME)
    root = logging.getLogger()
    # Only our own earlier handler goes (a command run twice in one process, tests); others
    # (a test runner's capture) stay.
    for old in list(root.handlers):
        if old.get_name() == HANDLER_NAME:
            root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    return handler


class _MaskedWrapper(logging.Formatter):
    def __init__(self, inner: logging.Formatter, masking: _Masking) -> None:
        super().__init__()
        self.inner = inner
        self.masking = masking

    def format(self, record: logging.LogRecord) -> str:
        return self.masking.mask(self.inner.format(record))
