"""``beratung=…`` names the platform's consultation, so T2 applies to its calculator offers."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from handlers.requests import parse_start_text
from store.calculator import CalculatorOfferData, record_calculator_offer
from store.db import transaction
from store.errors import NotFound, ReasonRequired
from store.models import Broker
from tests.store.helpers import started_tender


async def calculator_offer(
    sessions: async_sessionmaker[AsyncSession], consultation: str = "B-2026-0815"
) -> None:
    async with transaction(sessions) as session:
        await record_calculator_offer(
            session,
            CalculatorOfferData(
                consultation_id=consultation,
                product="haftpflicht",
                insurer="Rheinland Versicherung",
                premium=Decimal("980.00"),
                valid_until=date(2027, 3, 31),
                offer_id="TR-1",
                broker_number="4711",
                customer_name="Platform-Kunde",
            ),
        )


async def test_it_requires_a_reason_when_the_named_consultation_has_calculator_offers(
    sessions: async_sessionmaker[AsyncSession], anna: Broker
) -> None:
    # rule T2: the tender's customer name differs; the consultation id links them.
    await calculator_offer(sessions)

    with pytest.raises(ReasonRequired):
        await started_tender(sessions, anna, consultation="B-2026-0815")
    tender = await started_tender(
        sessions, anna, consultation="B-2026-0815", reason="Deckungssumme zu niedrig"
    )

    assert tender.reason == "Deckungssumme zu niedrig"
    assert tender.product_line.recalculation_locked  # rule T6


async def test_it_refuses_another_brokers_consultation(
    sessions: async_sessionmaker[AsyncSession], anna: Broker, carla: Broker
) -> None:
    await calculator_offer(sessions)

    with pytest.raises(NotFound) as refused:
        await started_tender(sessions, carla, consultation="B-2026-0815", reason="x")
    assert refused.value.field == "consultation"


def test_it_reads_beratung_in_the_start_command() -> None:
    request = parse_start_text(
        'sparte=haftpflicht kunde="Korn" vorschaeden=keine beschreibung="Backstube" '
        "beratung=B-2026-0815"
    )
    assert request.consultation == "B-2026-0815"
