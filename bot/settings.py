"""Configuration from the environment and an optional `.env` file."""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path
from typing import Annotated, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, SecretStr, ValidationError, ValidationInfo, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict
from sqlalchemy.engine import make_url

from store.db import MAX_OVERFLOW, POOL_SIZE

DEFAULT_DATABASE_URL = "sqlite+aiosqlite:///tenderbot.db"
_LABEL = r"[a-z0-9](?:[a-z0-9-]*[a-z0-9])?"
_DOMAIN = re.compile(rf"{_LABEL}(?:\.{_LABEL})+")


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_file=".env", env_file_encoding="utf-8", extra="ignore", populate_by_name=True
    )

    # Kept out of the repr: a PostgreSQL URL may carry a password.
    database_url: str = Field(DEFAULT_DATABASE_URL, alias="TENDERBOT_DATABASE_URL", repr=False)
    # PostgreSQL only: run in this schema instead of the user's default search_path.
    database_schema: str | None = Field(None, alias="TENDERBOT_DATABASE_SCHEMA")
    # Connections each process keeps (pool) and may open on top under load (overflow): every
    # process can hold pool + overflow connections, and all processes together must stay
    # below PostgreSQL's max_connections. At least 2: a tender start still holds its
    # connection when the card delivery right after it opens a second one.
    database_pool_size: int = Field(POOL_SIZE, alias="TENDERBOT_DATABASE_POOL_SIZE", ge=2, le=1000)
    database_max_overflow: int = Field(
        MAX_OVERFLOW, alias="TENDERBOT_DATABASE_MAX_OVERFLOW", ge=0, le=1000
    )
    slack_bot_token: SecretStr | None = Field(None, alias="SLACK_BOT_TOKEN")
    slack_signing_secret: SecretStr | None = Field(None, alias="SLACK_SIGNING_SECRET")
    slack_app_token: SecretStr | None = Field(None, alias="SLACK_APP_TOKEN")
    slack_api_url: str | None = Field(None, alias="SLACK_API_URL")
    # Verifies POST /platform/events; unset, the endpoint is off (404).
    platform_secret: SecretStr | None = Field(None, alias="TENDERBOT_PLATFORM_SECRET")
    backoffice_channel: str = Field("C0BACKOFFICE", alias="TENDERBOT_BACKOFFICE_CHANNEL")
    backoffice_users: Annotated[frozenset[str], NoDecode] = Field(
        frozenset(), alias="TENDERBOT_BACKOFFICE_USERS"
    )
    smtp_host: str | None = Field(None, alias="SMTP_HOST")
    smtp_port: int = Field(25, alias="SMTP_PORT", ge=1, le=65535)
    smtp_username: str | None = Field(None, alias="SMTP_USERNAME")
    smtp_password: SecretStr | None = Field(None, alias="SMTP_PASSWORD")
    # None: decided by the host (on for anything that is not local).
    smtp_starttls: bool | None = Field(None, alias="SMTP_STARTTLS")
    mail_from: str = Field("tenderbot@localhost", alias="MAIL_FROM")
    timezone: str = Field("Europe/Berlin", alias="TENDERBOT_TIMEZONE")
    port: int = Field(3000, alias="TENDERBOT_PORT", ge=1, le=65535)
    kombi_rates_path: Path | None = Field(None, alias="TENDERBOT_KOMBI_RATES")
    # rule B2: the yearly Konzeptrabatt distribution day as MM-DD, in `timezone`.
    budget_day: str = Field("07-01", alias="TENDERBOT_BUDGET_DAY")
    # rule T10: remind brokers this many days before an offer runs out.
    reminder_days: Annotated[tuple[int, ...], NoDecode] = Field(
        (7, 1), alias="TENDERBOT_REMINDER_DAYS"
    )
    # rule T10: the contact details of the brokers' start page, for an expired offer where
    # no message module is open (e.g. "Backoffice Sach, 0221 123 456, backoffice@…").
    contact: str | None = Field(None, alias="TENDERBOT_CONTACT", max_length=500)
    # "json": one JSON object per log line, for a log collector.
    log_format: Literal["plain", "json"] = Field("plain", alias="TENDERBOT_LOG_FORMAT")
    # rule T9: list tenders without offers for the backoffice after this many working days.
    followup_workdays: int = Field(5, alias="TENDERBOT_FOLLOWUP_WORKDAYS", ge=1, le=60)
    # Answer by e-mail: notices inviting an answer carry antwort+<token>@<reply_domain>, and
    # `tenderbot mail-in` takes the answers; the secret signs the tokens.
    reply_domain: str | None = Field(None, alias="TENDERBOT_REPLY_DOMAIN")
    # Checked even when unset: the reply domain needs it.
    reply_secret: SecretStr | None = Field(
        None, alias="TENDERBOT_REPLY_SECRET", validate_default=True
    )
    # The queue: first retry after about this long (doubling, with jitter), and how often a
    # worker looks for due rows besides the deliveries right after a commit.
    queue_retry_seconds: float = Field(30, alias="TENDERBOT_QUEUE_RETRY_SECONDS", gt=0, le=3600)
    queue_poll_seconds: float = Field(10, alias="TENDERBOT_QUEUE_POLL_SECONDS", gt=0, le=600)

    @field_validator("backoffice_users", mode="before")
    @classmethod
    def _split_users(cls, value: object) -> object:
        if isinstance(value, str):
            return frozenset(part.strip() for part in value.split(",") if part.strip())
        return value

    @field_validator("contact")
    @classmethod
    def _one_line(cls, value: str | None) -> str | None:
        return " ".join(value.split()) or None if value is not None else None

    @field_validator("budget_day")
    @classmethod
    def _month_day(cls, value: str) -> str:
        try:
            # 2025 is no leap year: a 29 February budget day would be skipped in most years.
            date.fromisoformat(f"2025-{value.strip()}")
        except ValueError as error:
            raise ValueError(f"expected MM-DD such as 07-01, got {value!r}") from error
        return value.strip()

    @field_validator("reminder_days", mode="before")
    @classmethod
    def _split_days(cls, value: object) -> object:
        if isinstance(value, str):
            parts = [part.strip() for part in value.split(",") if part.strip()]
            if not all(part.isdigit() for part in parts):
                raise ValueError(f"expected whole days separated by commas, got {value!r}")
            value = [int(part) for part in parts]
        if isinstance(value, list | tuple):
            if not value or any(int(day) < 0 for day in value):
                raise ValueError("expected at least one lead time of 0 days or more")
            return tuple(sorted({int(day) for day in value}, reverse=True))
        return value

    @field_validator("reply_domain")
    @classmethod
    def _domain(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        domain = value.strip().lower()
        if not _DOMAIN.fullmatch(domain):
            raise ValueError(f"expected a mail domain such as antwort.example.org, got {value!r}")
        return domain

    @field_validator("reply_secret")
    @classmethod
    def _secret_with_domain(cls, value: SecretStr | None, info: ValidationInfo) -> SecretStr | None:
        if info.data.get("reply_domain") is None:
            return value
        if value is None or len(value.get_secret_value()) < 16:
            raise ValueError("needs at least 16 characters when TENDERBOT_REPLY_DOMAIN is set")
        return value

    @field_validator("database_url")
    @classmethod
    def _known_driver(cls, value: str) -> str:
        if not value.startswith(("sqlite+aiosqlite://", "postgresql+asyncpg://")):
            raise ValueError("must start with sqlite+aiosqlite:// or postgresql+asyncpg://")
        return value

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as error:
            raise ValueError(f"unknown time zone {value!r}") from error
        return value

    @property
    def database_pooling(self) -> dict[str, int]:
        """``make_engine``'s pool arguments."""
        return {"pool_size": self.database_pool_size, "max_overflow": self.database_max_overflow}

    @property
    def database_url_for_logs(self) -> str:
        return make_url(self.database_url).render_as_string(hide_password=True)

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def budget_month_day(self) -> tuple[int, int]:
        month, day = self.budget_day.split("-")
        return int(month), int(day)

    @property
    def starttls_required(self) -> bool:
        if self.smtp_starttls is not None:
            return self.smtp_starttls
        return self.smtp_host not in (None, "localhost", "127.0.0.1", "::1")


class ConfigurationError(Exception):
    """A setting is wrong; the message is one line that names the variable."""


def load_settings(**overrides: object) -> Settings:
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as error:
        first = error.errors()[0]
        variable = ".".join(str(part) for part in first["loc"]) or "configuration"
        raise ConfigurationError(f"invalid setting {variable}: {first['msg']}") from None
