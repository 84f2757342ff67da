"""Services name the input at fault (``DomainError.field``), so a form can mark that input."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
import time_machine
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from store.db import transaction
from store.errors import DomainError, InvalidInput
from store.models import Broker
from store.tenders import add_offer, start_tender
from tests.conftest import BERND_ACTOR
from tests.store.helpers import broker_actor, start_request, started_tender

TODAY = date(2026, 11, 23)


@pytest.mark.parametrize(
    ("insurer", "premium", "valid_until", "field"),
    [
        ("  ", Decimal("100"), date(2026, 12, 31), "insurer"),
        ("A" * 201, Decimal("100"), date(2026, 12, 31), "insurer"),
        ("Allianz", Decimal("0"), date(2026, 12, 31), "premium"),
        ("Allianz", Decimal("100"), date(2026, 11, 22), "valid_until"),
    ],
    ids=["blank_insurer", "insurer_too_long", "free", "already_expired"],
)
@time_machine.travel("2026-11-23 10:00:00+01:00", tick=False)
async def test_it_names_the_offer_field_backoffice_bernd_got_wrong(
    sessions: async_sessionmaker[AsyncSession],
    anna: Broker,
    insurer: str,
    premium: Decimal,
    valid_until: date,
    field: str,
) -> None:
    tender = await started_tender(sessions, anna)
    with pytest.raises(InvalidInput) as refused:
        async with transaction(sessions) as session:
            await add_offer(
                session,
                BERND_ACTOR,
                tender.reference,
                insurer=insurer,
                premium=premium,
                valid_until=valid_until,
                today=TODAY,
            )
    assert (refused.value.code, refused.value.field) == ("invalid_input", field)


async def test_it_names_the_product_line_of_a_running_tender(
    sessions: async_sessionmaker[AsyncSession], anna: Broker
) -> None:
    tender = await started_tender(sessions, anna)
    with pytest.raises(DomainError) as running:
        async with transaction(sessions) as session:
            await start_tender(
                session, broker_actor(anna), start_request(product_line_id=tender.product_line_id)
            )
    assert (running.value.code, running.value.field) == ("already_done", "product")


def test_it_leaves_the_field_open_where_no_input_is_at_fault() -> None:
    error = InvalidInput("Leere Nachrichten werden nicht gesendet.")
    assert error.field is None
    assert str(error) == "[invalid_input] Leere Nachrichten werden nicht gesendet."
