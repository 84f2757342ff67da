"""A started tender of broker Anna with both card threads, as the commands engineer posts them."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from store.db import transaction
from store.models import Broker, Tender, ThreadLink
from tests.conftest import BACKOFFICE_CHANNEL
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
