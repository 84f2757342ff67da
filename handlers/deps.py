"""What the Slack listeners need from the composition root, as plain values."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from slack_sdk.web.async_client import AsyncWebClient
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker


@dataclass(frozen=True)
class Deps:
    sessions: async_sessionmaker[AsyncSession]
    backoffice_users: frozenset[str]
    backoffice_channel: str
    zone: ZoneInfo
    # Path-free: bot/ reads the TOML file named in settings and passes the parsed table text.
    kombi_rates_toml: str | None = None
    # rule T10: the start page's contact details (TENDERBOT_CONTACT), None when not set.
    contact: str | None = None
    # Delivers committed queue rows right away and returns how many are left for the worker
    # (bot/ wires the queue worker in); None: they all wait for the worker's next round.
    deliver: Callable[[AsyncWebClient, Sequence[int]], Awaitable[int]] | None = None
