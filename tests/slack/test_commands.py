"""Slash commands and card buttons through the real app over HTTP, against the local Slack.

Each test sends what Slack sends (signed), then checks what the local Slack received and
what the store holds.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from decimal import Decimal

import pytest
import time_machine
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.localslack import LocalSlack, SignedSender
from bot.personas import ANNA, CARLA
from handlers.blocks.help import HEADER_BLOCK as HELP_HEADER_BLOCK
from handlers.blocks.offers import offer_block_id
from handlers.blocks.restart import RESTART_BLOCK
from handlers.blocks.tenders import CARD_ACTIONS_BLOCK, CARD_HEADER_BLOCK
from store.bookings import charge_policy
from store.budget import post_entry, set_credit_limit
from store.conversation import post_message
from store.db import transaction
from store.models import Broker, QueueRow, Tender
from store.tenders import add_offer, close_tender
from tests.blocks import block, block_text
from tests.conftest import BACKOFFICE_CHANNEL, BERND, BERND_ACTOR
from tests.handlers.scenario import (
    CARLA_START_TEXT,
    STRANGER,
    all_text,
    calculator_offer_for,
    command_reply,
    load_tender,
    start_tender,
    thread_links,
)

NOT_YOURS = "Diese Ausschreibung gibt es nicht oder sie gehört nicht zu Ihren Ausschreibungen."


@pytest.fixture(autouse=True)
def november_2026() -> Iterator[None]:
    with time_machine.travel("2026-11-23 10:00 +01:00", tick=True):
        yield


async def tender_count(sessions: async_sessionmaker[AsyncSession]) -> int:
    async with sessions() as session:
        return int(await session.scalar(select(func.count()).select_from(Tender)) or 0)


async def bernd_adds_offer(
    sessions: async_sessionmaker[AsyncSession],
    reference: str,
    insurer: str = "Allianz",
    premium: str = "1234.50",
) -> int:
    async with transaction(sessions) as session:
        offer = await add_offer(
            session,
            BERND_ACTOR,
            reference,
            insurer=insurer,
            premium=Decimal(premium),
            valid_until=date(2026, 12, 31),
            today=date(2026, 11, 23),
        )
        return offer.id


# -- /ausschreibung ------------------------------------------------------------------------


async def test_it_starts_a_tender_from_text_and_posts_both_cards(
    anna: Broker,
    slack: LocalSlack,
    slack_request: SignedSender,
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    """Rules T1, T3, T4, T5: frozen risk, confirmation to Anna, card to the backoffice."""
    reference = await start_tender(slack_request, slack, sessions)

    assert reference == "AS-2026-0001"
    assert "Ihre Ausschreibung *AS-2026-0001* ist gestartet" in slack.responses(ANNA)[0]["text"]
    [card] = slack.messages(BACKOFFICE_CHANNEL)
    assert block_text(card, CARD_HEADER_BLOCK) == "Ausschreibung AS-2026-0001"
    assert "Backstube mit Café, 12 Mitarbeiter" in all_text(card)
    actions = block(card, CARD_ACTIONS_BLOCK)["elements"]
    assert [(a["action_id"], a["value"]) for a in actions] == [
        ("tender_offer_open", "AS-2026-0001"),
        ("tender_query_open", "AS-2026-0001"),
        ("tender_no_offers", "AS-2026-0001"),
    ]
    [confirmation] = slack.messages("D0ANNA")
    assert block_text(confirmation, CARD_HEADER_BLOCK) == "Anfragebestätigung AS-2026-0001"
    assert slack.calls("conversations.open")[0].params["users"] == ANNA

    tender = await load_tender(sessions, reference)
    assert tender.risk == {
        "deductible": "1000",
        "prior_claims": "keine",
        "description": "Backstube mit Café, 12 Mitarbeiter",
    }
    links = {
        link.side: (link.tender_id, link.channel, link.ts) for link in await thread_links(sessions)
    }
    assert links == {
        "backoffice": (tender.id, BACKOFFICE_CHANNEL, card["ts"]),
        "broker": (tender.id, "D0ANNA", confirmation["ts"]),
    }


async def test_it_stores_what_anna_typed_although_slack_sends_ampersands_escaped(
    anna: Broker,
    slack: LocalSlack,
    slack_request: SignedSender,
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    text = (
        'neu sparte=haftpflicht kunde="Müller & Söhne <GmbH>" vorschaeden=keine '
        "beschreibung=„Lager & Büro, Tore > 4 m“"
    )
    reference = await start_tender(slack_request, slack, sessions, ANNA, text)

    tender = await load_tender(sessions, reference)
    assert tender.customer_name == "Müller & Söhne <GmbH>"
    assert tender.risk["description"] == "Lager & Büro, Tore > 4 m"
    # Shown as typed: escaped once for Slack, not twice.
    [card] = slack.messages(BACKOFFICE_CHANNEL)
    assert "Müller &amp; Söhne &lt;GmbH&gt;" in str(card["blocks"])
    assert "&amp;amp;" not in str(card["blocks"])


async def test_it_lists_anna_s_tenders_and_all_open_ones_for_the_backoffice(
    anna: Broker,
    carla: Broker,
    slack: LocalSlack,
    slack_request: SignedSender,
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    await start_tender(slack_request, slack, sessions)
    await start_tender(slack_request, slack, sessions, CARLA, CARLA_START_TEXT)

    anna_list = await command_reply(slack_request, slack, ANNA, "/ausschreibung", "liste")
    assert "AS-2026-0001" in all_text(anna_list)
    assert "AS-2026-0002" not in all_text(anna_list)
    assert "_läuft_" in all_text(anna_list)

    bernd_list = await command_reply(slack_request, slack, BERND, "/ausschreibung", "liste")
    assert "Offene Ausschreibungen" in all_text(bernd_list)
    assert "AS-2026-0001" in all_text(bernd_list)
    assert "AS-2026-0002" in all_text(bernd_list)


async def test_it_answers_the_list_in_the_ack_without_a_response_url_post(
    anna: Broker,
    slack: LocalSlack,
    slack_request: SignedSender,
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    await start_tender(slack_request, slack, sessions)
    replies_before = len(slack.calls("response_url"))

    response = await slack_request.send_command(ANNA, "/ausschreibung", "liste")

    answer = response.json()
    assert answer["response_type"] == "ephemeral"
    assert "AS-2026-0001" in all_text(answer)
    assert len(slack.calls("response_url")) == replies_before


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("neu sparte=sach kunde=Korn", "Es fehlt: vorschaeden=…, beschreibung=…"),
        ("neu sparte=kfz kunde=Korn vorschaeden=keine beschreibung=x", "Sparte „kfz“ kenne ich"),
        ('neu kunde="Korn', "Anführungszeichen wurde nicht geschlossen"),
        ("neu farbe=rot", "Unbekanntes Feld „farbe“"),
        ("starten", "„starten“ kenne ich bei /ausschreibung nicht"),
    ],
)
async def test_it_answers_malformed_text_with_a_specific_german_message(
    anna: Broker,
    slack: LocalSlack,
    slack_request: SignedSender,
    sessions: async_sessionmaker[AsyncSession],
    text: str,
    expected: str,
) -> None:
    reply = await command_reply(slack_request, slack, ANNA, "/ausschreibung", text)

    assert expected in reply["text"]
    assert await tender_count(sessions) == 0
    assert slack.calls("chat.postMessage") == []


async def test_it_requires_a_reason_by_text_when_calculator_offers_exist(
    anna: Broker,
    slack: LocalSlack,
    slack_request: SignedSender,
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    """Rule T2 (the service decides; the reply is its German sentence)."""
    await calculator_offer_for(sessions, anna, "Korn", "sach")
    base = "neu sparte=sach kunde=Korn vorschaeden=keine beschreibung=Lager"

    refused = await command_reply(slack_request, slack, ANNA, "/ausschreibung", base)
    assert "Grund an" in refused["text"]
    assert await tender_count(sessions) == 0

    accepted = await command_reply(
        slack_request, slack, ANNA, "/ausschreibung", base + ' grund="Kunde will Vergleich"'
    )
    assert "AS-2026-0001" in accepted["text"]
    assert (await load_tender(sessions, "AS-2026-0001")).reason == "Kunde will Vergleich"


async def test_it_escapes_user_text_on_the_cards(
    anna: Broker,
    slack: LocalSlack,
    slack_request: SignedSender,
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    await start_tender(
        slack_request,
        slack,
        sessions,
        text='neu sparte=sach kunde="<!channel> & Co" vorschaeden=@here '
        'beschreibung="<https://evil.example|Angebot> <@U0BERND>"',
    )
    card = all_text(slack.messages(BACKOFFICE_CHANNEL)[0])
    assert "<!channel>" not in card
    assert "<https://evil.example" not in card
    assert "<@U0BERND>" not in card
    assert "&lt;!channel&gt; &amp; Co" in card
    assert "@\u200bhere" in card


async def test_it_politely_turns_away_an_unknown_slack_user(
    slack: LocalSlack, slack_request: SignedSender, sessions: async_sessionmaker[AsyncSession]
) -> None:
    for command, text in [
        ("/ausschreibung", "liste"),
        ("/angebote", "AS-2026-0001"),
        ("/budget", ""),
        ("/verlauf", "AS-2026-0001"),
        ("/rabatt", "hilfe"),
    ]:
        reply = await command_reply(slack_request, slack, STRANGER, command, text)
        assert "nicht als Vermittler bei tenderbot eingetragen" in reply["text"], command
    assert await tender_count(sessions) == 0


@pytest.mark.parametrize(
    ("command", "title"),
    [
        ("/ausschreibung", "/ausschreibung – Hilfe"),
        ("/angebote", "/angebote – Hilfe"),
        ("/angebot", "/angebot – Hilfe"),
        ("/budget", "/budget – Hilfe"),
        ("/verlauf", "/verlauf – Hilfe"),
    ],
)
async def test_it_explains_each_command_on_hilfe(
    anna: Broker, slack: LocalSlack, slack_request: SignedSender, command: str, title: str
) -> None:
    reply = await command_reply(slack_request, slack, ANNA, command, "hilfe")
    assert block_text(reply, HELP_HEADER_BLOCK) == title


# -- /angebote and „Auswählen“ -------------------------------------------------------------


async def test_it_shows_offers_marked_by_source_and_selects_one(
    anna: Broker,
    slack: LocalSlack,
    slack_request: SignedSender,
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    """Rules T7, T8: tender offers marked, validity shown, selection closes the tender."""
    reference = await start_tender(slack_request, slack, sessions)
    offer_id = await bernd_adds_offer(sessions, reference)

    overview = await command_reply(slack_request, slack, ANNA, "/angebote", reference.lower())
    text = all_text(overview)
    assert "🟢 aus Ausschreibung · *Allianz* – 1.234,50\xa0€ Jahresbeitrag" in text
    assert "gültig bis 31.12.2026" in text
    offer_block = block(overview, offer_block_id(offer_id))
    assert offer_block["accessory"]["action_id"] == "offer_select"
    assert offer_block["accessory"]["value"] == f"{reference}|{offer_id}"

    await slack_request.send_button(
        ANNA, "offer_select", f"{reference}|{offer_id}", block_id=offer_block["block_id"]
    )
    updated = await command_response(slack, 2)
    assert "✅ *ausgewählt*" in all_text(updated)
    assert "offer_select" not in all_text(updated)
    confirmation = await command_response(slack, 3)
    overview_call, confirmation_call = slack.calls("response_url")[-2:]
    assert overview_call.params["replace_original"] in (True, "true")
    assert confirmation_call.params["replace_original"] in (False, "false")
    assert confirmation["text"] == (
        f"✅ Sie haben für {reference} das Angebot von *Allianz* (1.234,50\xa0€ Jahresbeitrag) "
        "ausgewählt. Die Ausschreibung ist damit abgeschlossen; weiter geht es mit Antrag oder "
        "Deckungsauftrag."
    )

    tender = await load_tender(sessions, reference)
    assert (tender.status, tender.selected_offer_id) == ("selected", offer_id)
    await slack.wait_for(
        lambda: "Angebot ausgewählt" in all_text(slack.messages(BACKOFFICE_CHANNEL)[0])
    )


async def command_response(slack: LocalSlack, count: int) -> dict[str, object]:
    await slack.wait_for(lambda: len(slack.responses(ANNA)) >= count + 1)
    return slack.responses(ANNA)[count]


async def test_it_refuses_carla_anna_s_tender_without_revealing_it(
    anna: Broker,
    carla: Broker,
    slack: LocalSlack,
    slack_request: SignedSender,
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    reference = await start_tender(slack_request, slack, sessions)
    offer_id = await bernd_adds_offer(sessions, reference)

    for command in ("/angebote", "/verlauf"):
        reply = await command_reply(slack_request, slack, CARLA, command, reference)
        assert reply["text"] == NOT_YOURS
        assert "Korn" not in all_text(reply)
    unknown = await command_reply(slack_request, slack, CARLA, "/angebote", "AS-2026-0999")
    assert unknown["text"] == NOT_YOURS

    await slack_request.send_button(CARLA, "offer_select", f"{reference}|{offer_id}")
    await slack.wait_for(lambda: len(slack.responses(CARLA)) == 4)
    assert slack.responses(CARLA)[-1]["text"] == NOT_YOURS
    assert (await load_tender(sessions, reference)).status == "open"


async def test_it_tells_the_backoffice_which_reference_does_not_exist(
    slack: LocalSlack, slack_request: SignedSender
) -> None:
    reply = await command_reply(slack_request, slack, BERND, "/angebote", "AS-2026-0999")
    assert reply["text"] == "Eine Ausschreibung AS-2026-0999 gibt es nicht."
    malformed = await command_reply(slack_request, slack, BERND, "/angebote", "0999")
    assert "„0999“ ist keine Ausschreibungsnummer" in malformed["text"]


# -- /angebot (backoffice) and the card buttons --------------------------------------------


async def test_it_lets_bernd_add_an_offer_by_text_and_queues_the_broker_notice(
    anna: Broker,
    slack: LocalSlack,
    slack_request: SignedSender,
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    """Rules T7, N1: the offer is stored as a tender offer and Anna is told."""
    reference = await start_tender(slack_request, slack, sessions)

    reply = await command_reply(
        slack_request,
        slack,
        BERND,
        "/angebot",
        f"{reference} versicherer=„HDI Global“ beitrag=1.234,50 gueltig-bis=31.12.2026",
    )

    assert "Angebot von *HDI Global* (1.234,50\xa0€) für AS-2026-0001 eingestellt" in reply["text"]
    [offer] = (await load_tender(sessions, reference)).offers
    assert (offer.source, offer.insurer, offer.premium_cents, offer.valid_until) == (
        "tender",
        "HDI Global",
        123450,
        date(2026, 12, 31),
    )
    async with sessions() as session:
        templates = set(
            await session.scalars(
                select(QueueRow.template).where(QueueRow.kind.in_(("email", "slack")))
            )
        )
    assert templates == {"offer_available"}
    await slack.wait_for_calls("chat.update")
    [card] = slack.messages(BACKOFFICE_CHANNEL)
    assert "Status: *läuft* · Angebote eingestellt: 1" in all_text(card)


async def test_it_refuses_a_broker_using_angebot(
    anna: Broker,
    slack: LocalSlack,
    slack_request: SignedSender,
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    reference = await start_tender(slack_request, slack, sessions)
    reply = await command_reply(
        slack_request,
        slack,
        ANNA,
        "/angebot",
        f"{reference} versicherer=Allianz beitrag=100 gueltig-bis=31.12.2026",
    )
    assert reply["text"] == "Angebote einstellen ist dem Backoffice vorbehalten."
    assert (await load_tender(sessions, reference)).offers == []


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "AS-2026-0001 versicherer=Allianz beitrag=viel gueltig-bis=31.12.2026",
            "„viel“ ist kein Betrag",
        ),
        ("AS-2026-0001 versicherer=Allianz beitrag=100 gueltig-bis=31.02.2027", "gibt es nicht"),
        (
            "AS-2026-0001 versicherer=Allianz beitrag=100 gueltig-bis=01.01.2020",
            "bereits abgelaufen",
        ),
        ("AS-2026-0001 versicherer=Allianz beitrag=0 gueltig-bis=31.12.2026", "größer als 0"),
        ("AS-2026-0001 versicherer=Allianz", "Es fehlt: beitrag=…, gueltig-bis=…"),
    ],
)
async def test_it_refuses_bad_offer_text_with_a_specific_message(
    anna: Broker,
    slack: LocalSlack,
    slack_request: SignedSender,
    sessions: async_sessionmaker[AsyncSession],
    text: str,
    expected: str,
) -> None:
    reference = await start_tender(slack_request, slack, sessions)
    reply = await command_reply(slack_request, slack, BERND, "/angebot", text)
    assert expected in reply["text"]
    assert (await load_tender(sessions, reference)).offers == []


async def test_it_marks_no_offers_from_the_card_and_tells_anna(
    anna: Broker,
    slack: LocalSlack,
    slack_request: SignedSender,
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    """Rule T9: the tender is closed as „keine Angebote“, Anna gets a DM, the card loses its
    buttons."""
    reference = await start_tender(slack_request, slack, sessions)
    [card] = slack.messages(BACKOFFICE_CHANNEL)

    await slack_request.send_button(
        BERND, "tender_no_offers", reference, channel=BACKOFFICE_CHANNEL, message=card
    )
    await slack.wait_for(lambda: len(slack.messages("D0ANNA")) == 2)

    notice = slack.messages("D0ANNA")[1]
    assert "konnte leider kein Versicherer ein Angebot abgeben" in notice["text"]
    restart = block(notice, RESTART_BLOCK)
    assert restart["elements"][0]["text"]["text"] == "Neue Ausschreibung mit angepassten Daten"
    assert restart["elements"][0]["value"] == reference
    assert (await load_tender(sessions, reference)).status == "no_offers"
    [updated] = slack.messages(BACKOFFICE_CHANNEL)
    assert "Status: *keine Angebote*" in all_text(updated)
    assert all(block["type"] != "actions" for block in updated["blocks"])


async def test_it_refuses_the_no_offers_button_to_a_broker(
    anna: Broker,
    slack: LocalSlack,
    slack_request: SignedSender,
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    reference = await start_tender(slack_request, slack, sessions)
    await slack_request.send_button(ANNA, "tender_no_offers", reference)
    await slack.wait_for(lambda: len(slack.responses(ANNA)) == 2)
    assert "dem Backoffice vorbehalten" in slack.responses(ANNA)[1]["text"]
    assert (await load_tender(sessions, reference)).status == "open"


# -- /rabatt, /budget, /verlauf ------------------------------------------------------------


async def test_it_answers_rabatt_with_anna_s_real_konzept_account(
    anna: Broker,
    slack: LocalSlack,
    slack_request: SignedSender,
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    """Rule P3: the balance comes from the ledger, not from the query text."""
    async with transaction(sessions) as session:
        await post_entry(session, anna.id, 40000, "distribution", "2026")
        await set_credit_limit(session, anna.id, Decimal("100"))

    reply = await command_reply(
        slack_request, slack, ANNA, "/rabatt", "konzept betrag=450 saldo=99999 geschaeft=neu"
    )

    assert "*Konzeptrabatt 450,00\xa0€: gedeckt*" in reply["text"]
    assert "Verfügbar: 500,00\xa0€" in reply["text"]


async def test_it_answers_a_malformed_rabatt_query_in_german(
    anna: Broker, slack: LocalSlack, slack_request: SignedSender
) -> None:
    reply = await command_reply(slack_request, slack, ANNA, "/rabatt", "umstelung alt=1")
    assert "Unbekannte Anfrage „umstelung“" in reply["text"]


async def test_it_shows_anna_her_budget_and_latest_bookings(
    anna: Broker,
    slack: LocalSlack,
    slack_request: SignedSender,
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    """Rule B5."""
    async with transaction(sessions) as session:
        await post_entry(session, anna.id, 150000, "distribution", "2026", "3 % von 50.000 €")

    reply = await command_reply(slack_request, slack, ANNA, "/budget")

    text = all_text(reply)
    assert "*Saldo*\\n1.500,00\xa0€" in text
    assert "Budgetzuteilung · *+1.500,00\xa0€* · 2026" in text


async def test_it_tells_the_backoffice_there_is_no_budget_of_its_own(
    slack: LocalSlack, slack_request: SignedSender
) -> None:
    reply = await command_reply(slack_request, slack, BERND, "/budget")
    assert "das Backoffice hat keins" in reply["text"]
    assert "`/budget 4711`" in reply["text"]


async def test_it_shows_bernd_any_broker_s_account_with_policy_and_tender(
    anna: Broker,
    slack: LocalSlack,
    slack_request: SignedSender,
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    async with transaction(sessions) as session:
        await post_entry(session, anna.id, 40000, "distribution", "2026")
        await charge_policy(session, anna, "P-100", Decimal("250"), tender_reference=None)

    reply = await command_reply(slack_request, slack, BERND, "/budget", "4711")

    text = all_text(reply)
    assert "Konzeptrabattkonto Anna Adler (4711)" in text
    assert "Konzeptrabatt gewährt · *-250,00\xa0€* · Police P-100" in text


async def test_it_shows_a_broker_only_her_own_account(
    anna: Broker,
    carla: Broker,
    slack: LocalSlack,
    slack_request: SignedSender,
) -> None:
    other = await command_reply(slack_request, slack, ANNA, "/budget", "4712")
    own = await command_reply(slack_request, slack, ANNA, "/budget", "4711")

    assert "nur Ihr eigenes Konzeptrabattkonto" in other["text"]
    assert "Ihr Konzeptrabattkonto" in all_text(own)


async def test_it_shows_the_history_after_close_without_internal_notes_to_anna(
    anna: Broker,
    slack: LocalSlack,
    slack_request: SignedSender,
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    """Rule M4: the whole history stays readable after close; brokers never see notes."""
    reference = await start_tender(slack_request, slack, sessions)
    async with transaction(sessions) as session:
        await post_message(session, BERND_ACTOR, reference, "Bitte Fotos der Backstube")
        await post_message(session, BERND_ACTOR, reference, "Versicherer zögert", internal=True)
        await close_tender(session, BERND_ACTOR, reference)

    anna_view = all_text(await command_reply(slack_request, slack, ANNA, "/verlauf", reference))
    assert "Bitte Fotos der Backstube" in anna_view
    assert "Versicherer zögert" not in anna_view

    bernd_view = all_text(await command_reply(slack_request, slack, BERND, "/verlauf", reference))
    assert "🔒" in bernd_view
    assert "Versicherer zögert" in bernd_view
