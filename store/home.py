"""What the App Home shows one person, read in one transaction: their open tenders with the
newest offers and, for a broker, the Konzeptrabatt account (B5)."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from store.actors import Actor, resolve_actor
from store.budget import Statement, statement
from store.db import transaction
from store.tender_queries import HomeSummary, home_summary


@dataclass(frozen=True)
class Home:
    actor: Actor
    summary: HomeSummary
    account: Statement | None  # None for the backoffice, which has no account


async def home_of(
    sessions: async_sessionmaker[AsyncSession],
    slack_user_id: str,
    backoffice_users: Collection[str],
    *,
    limit: int,
    entries: int,
) -> Home:
    """Raises NotABroker for a stranger."""
    async with transaction(sessions) as session:
        actor = await resolve_actor(session, slack_user_id, backoffice_users)
        summary = await home_summary(session, actor, limit)
        account = None
        if actor.broker_id is not None:
            account = await statement(session, actor.broker_id, limit=entries)
    return Home(actor, summary, account)
