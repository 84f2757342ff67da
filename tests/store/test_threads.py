"""The card threads of a tender (M1): recorded when the cards are posted, found both ways."""

from __future__ import annotations

import pytest
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from store.db import transaction
from store.models import Broker, Tender
from store.threads import (
    BACKOFFICE,
    BROKER,
    record_thread,
    reference_for_thread,
    tender_for_thread,
    thread_link_at,
    thread_links_of,
    thread_of,
)
from tests.conftest import BACKOFFICE_CHANNEL
from tests.store.helpers import started_tender

ANNAS_DM = "D0ANNA"


async def record_both_threads(sessions: async_sessionmaker[AsyncSession], tender: Tender) -> None:
    """Both cards of ``tender`` posted: .000100 in the backoffice channel, .000200 in the DM."""
    async with transaction(sessions) as session:
        await record_thread(session, tender.id, BACKOFFICE, BACKOFFICE_CHANNEL, "1700000000.000100")
        await record_thread(session, tender.id, BROKER, ANNAS_DM, "1700000000.000200")


async def test_it_finds_anna_s_tender_from_either_card_thread(
    sessions: async_sessionmaker[AsyncSession], anna: Broker
) -> None:
    tender = await started_tender(sessions, anna)
    other = await started_tender(sessions, anna, customer_name="Metzgerei Wurst")
    await record_both_threads(sessions, tender)
    async with transaction(sessions) as session:
        await record_thread(session, other.id, BACKOFFICE, BACKOFFICE_CHANNEL, "1700000000.000300")

    async with transaction(sessions) as session:
        in_channel = await tender_for_thread(session, BACKOFFICE_CHANNEL, "1700000000.000100")
        in_dm = await tender_for_thread(session, ANNAS_DM, "1700000000.000200")
        card = await thread_of(session, tender.id, BROKER)
        no_broker_card = await thread_of(session, other.id, BROKER)
    assert in_channel is not None and in_channel.reference == tender.reference
    assert in_dm is not None and in_dm.reference == tender.reference
    assert card is not None and (card.channel, card.ts) == (ANNAS_DM, "1700000000.000200")
    assert no_broker_card is None


async def test_it_narrows_the_lookup_to_one_card_side(
    sessions: async_sessionmaker[AsyncSession], anna: Broker
) -> None:
    tender = await started_tender(sessions, anna)
    async with transaction(sessions) as session:
        await record_thread(session, tender.id, BROKER, ANNAS_DM, "1700000000.000200")

    async with transaction(sessions) as session:
        as_backoffice = await tender_for_thread(
            session, ANNAS_DM, "1700000000.000200", side=BACKOFFICE
        )
        as_broker = await tender_for_thread(session, ANNAS_DM, "1700000000.000200", side=BROKER)
        unknown = await tender_for_thread(session, ANNAS_DM, "1700000000.999999")
    assert as_backoffice is None
    assert as_broker is not None and as_broker.id == tender.id
    assert unknown is None


async def test_it_keeps_one_card_per_side_of_a_tender(
    sessions: async_sessionmaker[AsyncSession], anna: Broker
) -> None:
    # rule M1: one conversation per tender, so one thread per side
    tender = await started_tender(sessions, anna)
    async with transaction(sessions) as session:
        await record_thread(session, tender.id, BACKOFFICE, BACKOFFICE_CHANNEL, "1700000000.000100")
    with pytest.raises(IntegrityError):
        async with transaction(sessions) as session:
            await record_thread(
                session, tender.id, BACKOFFICE, BACKOFFICE_CHANNEL, "1700000000.000500"
            )


async def test_it_gives_the_internal_note_shortcut_only_the_backoffice_thread_reference(
    sessions: async_sessionmaker[AsyncSession], anna: Broker
) -> None:
    tender = await started_tender(sessions, anna)
    await record_both_threads(sessions, tender)

    async with sessions() as session:
        in_channel = await reference_for_thread(
            session, BACKOFFICE_CHANNEL, "1700000000.000100", side=BACKOFFICE
        )
        in_dm = await reference_for_thread(session, ANNAS_DM, "1700000000.000200", side=BACKOFFICE)
        any_side = await reference_for_thread(session, ANNAS_DM, "1700000000.000200")
    assert in_channel == tender.reference
    assert in_dm is None
    assert any_side == tender.reference


async def test_it_finds_a_card_thread_by_its_slack_place_and_both_threads_of_a_tender(
    sessions: async_sessionmaker[AsyncSession], anna: Broker
) -> None:
    tender = await started_tender(sessions, anna)
    await record_both_threads(sessions, tender)

    async with sessions() as session:
        link = await thread_link_at(session, ANNAS_DM, "1700000000.000200")
        elsewhere = await thread_link_at(session, ANNAS_DM, "1700000000.000100")
        both = await thread_links_of(session, tender.id)
    assert link is not None and (link.tender_id, link.side) == (tender.id, BROKER)
    assert elsewhere is None
    assert {side: (t.channel, t.ts) for side, t in both.items()} == {
        BACKOFFICE: (BACKOFFICE_CHANNEL, "1700000000.000100"),
        BROKER: (ANNAS_DM, "1700000000.000200"),
    }
