"""A started tender of broker Anna with both card threads, as the commands engineer posts them."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from store.db import transaction
from store.mirroring import Refused, Stored, WrittenInThread, write_in_thread
from store.models import Broker, Message, Tender, ThreadLink
from tests.conftest import BACKOFFICE_CHANNEL, BACKOFFICE_USERS, BERND
from tests.store.helpers import started_tender

ANNA_DM = "D0ANNA"
BACKOFFICE_CARD_TS = "1767000000.000100"
BROKER_CARD_TS = "1767000000.000200"


@dataclass(frozen=True)
class Threads:
    tender: Tender
    backoffice: ThreadLink
    broker: ThreadLink


@pytest.fixture
async def threads(sessions: async_sessionmaker[AsyncSession], anna: Broker) -> Threads:
    tender = await started_tender(sessions, anna)
    async with transaction(sessions) as session:
        backoffice = ThreadLink(
            tender_id=tender.id,
            side="backoffice",
            channel=BACKOFFICE_CHANNEL,
            ts=BACKOFFICE_CARD_TS,
        )
        broker = ThreadLink(tender_id=tender.id, side="broker", channel=ANNA_DM, ts=BROKER_CARD_TS)
        session.add_all([backoffice, broker])
    return Threads(tender=tender, backoffice=backoffice, broker=broker)


def written(link: ThreadLink, user: str, text: str, ts: str, *, name: str = "") -> WrittenInThread:
    """``user`` writes ``text`` at ``ts`` in the thread of ``link``'s card; the event id
    follows from the ts, so writing the same ts again is Slack's retry."""
    return WrittenInThread(
        event_id=f"Ev{ts}",
        channel=link.channel,
        thread_ts=link.ts,
        ts=ts,
        user=user,
        text=text,
        name=name,
    )


async def write(
    sessions: async_sessionmaker[AsyncSession], link: ThreadLink, user: str, text: str, ts: str
) -> Stored | Refused | None:
    name = "Bernd Backoffice" if user == BERND else ""
    return await write_in_thread(
        sessions, written(link, user, text, ts, name=name), BACKOFFICE_USERS
    )


async def stored_message(sessions: async_sessionmaker[AsyncSession], outcome: object) -> Message:
    assert isinstance(outcome, Stored), outcome
    async with sessions() as session:
        message = await session.get(Message, outcome.message_id)
    assert message is not None
    return message
