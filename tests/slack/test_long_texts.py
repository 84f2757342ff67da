"""Nothing a person wrote is lost on the way through Slack's limits, end to end.

Signed events and commands to the real app, against the local Slack that refuses what Slack
refuses (the ``slack`` fixture fails a test on any refused payload).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import date
from decimal import Decimal

import pytest
import time_machine
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.localslack import LocalSlack, SignedSender
from bot.personas import ANNA
from handlers.blocks.base import escape
from handlers.blocks.history import PAGE_ACTIONS_BLOCK as HISTORY_PAGES_BLOCK
from handlers.blocks.offers import PAGE_ACTIONS_BLOCK as OFFERS_PAGES_BLOCK
from handlers.blocks.offers import SUMMARY_BLOCK as OFFERS_SUMMARY_BLOCK
from handlers.blocks.tenders import RISK_HEADING_BLOCK, RISK_MORE_BLOCK
from handlers.blocks.threads import NOTES_BLOCK
from store.db import transaction
from store.models import Broker, Message, ThreadLink
from store.tenders import add_offer
from tests.blocks import block, block_text, find_block, sections_text
from tests.conftest import BACKOFFICE_CHANNEL, BERND, BERND_ACTOR
from tests.handlers.scenario import (
    TenderThreads,
    bot_posts,
    bot_replies,
    command_reply,
    eventually,
    response_to,
    start_tender,
    write,
)


@pytest.fixture(autouse=True)
def november_2026() -> Iterator[None]:
    with time_machine.travel("2026-11-23 10:00 +01:00", tick=True):
        yield


def long_text(length: int, seed: str = "Rückfrage") -> str:
    """German prose with paragraphs and characters Slack escapes, exactly ``length`` long."""
    sentence = f"{seed}: Lager & Büro <Halle 3> mit 12 Mitarbeitern, Sprinkler seit 2019. "
    paragraph = sentence * 6 + "\n\n"
    return (paragraph * (length // len(paragraph) + 1))[:length].rstrip() + "."


@pytest.fixture
def links(tender: TenderThreads) -> tuple[str, ThreadLink, ThreadLink]:
    return tender.reference, tender.backoffice, tender.broker


async def test_it_mirrors_a_3500_character_message_whole_both_ways(
    links: tuple[str, ThreadLink, ThreadLink],
    slack: LocalSlack,
    slack_request: SignedSender,
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    # rules M3, M4: 3,500 characters reached the other side with 2,626 before
    _reference, backoffice, broker = links
    question = long_text(3500, "Rückfrage")
    await write(slack, slack_request, BERND, backoffice, question)
    [to_anna] = await bot_replies(slack, broker, 1)
    answer = long_text(3500, "Antwort")
    await write(slack, slack_request, ANNA, broker, answer)
    [to_bernd] = await bot_replies(slack, backoffice, 1)

    for post, text in ((to_anna, question), (to_bernd, answer)):
        sections = [block for block in post["blocks"] if block["type"] == "section"]
        assert len(sections) == 2
        assert sections_text([post]) == escape(text)
        # cut between words, not inside one
        assert sections[0]["text"]["text"][-1].isspace()
    async with sessions() as session:
        bodies = list(await session.scalars(select(Message.body).order_by(Message.id)))
    assert bodies == [question, answer]


async def test_it_mirrors_a_40000_character_message_in_numbered_posts_in_order(
    links: tuple[str, ThreadLink, ThreadLink], slack: LocalSlack, slack_request: SignedSender
) -> None:
    _reference, backoffice, broker = links
    text = long_text(40_000)
    await write(slack, slack_request, BERND, backoffice, text)
    posts = await bot_replies(slack, broker, 5)
    assert len(posts) == 5
    assert sections_text(posts) == escape(text)
    assert [block_text(post, NOTES_BLOCK).split(" · ")[2] for post in posts] == [
        f"Teil {n} von 5" for n in range(1, 6)
    ]


async def delivered(sessions: async_sessionmaker[AsyncSession]) -> bool:
    async with sessions() as session:
        states = list(await session.scalars(select(Message.delivery_state)))
    return bool(states) and "pending" not in states


async def test_it_replaces_and_deletes_the_continuations_of_an_edited_long_message(
    links: tuple[str, ThreadLink, ThreadLink],
    slack: LocalSlack,
    slack_request: SignedSender,
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    # rule M4: the other side shows what the writer sees, also after an edit or a deletion
    _reference, backoffice, broker = links
    ts = await write(slack, slack_request, BERND, backoffice, long_text(40_000))
    await bot_replies(slack, broker, 5)
    # A change arriving while a delivery runs waits for the delivery worker's next round.
    await eventually(lambda: delivered(sessions))
    corrected = long_text(20_000, "Korrektur")
    edit = {
        "type": "message",
        "subtype": "message_changed",
        "channel": backoffice.channel,
        "hidden": True,
        "message": {
            "type": "message",
            "user": BERND,
            "text": corrected,
            "ts": ts,
            "thread_ts": backoffice.ts,
            "edited": {"user": BERND, "ts": "1795000000.000001"},
        },
        "ts": "1795000000.000002",
    }
    await slack_request.send_event(edit)

    def shows_correction() -> bool:
        posts = bot_posts(slack, broker)
        return len(posts) == 3 and sections_text(posts) == escape(corrected)

    await slack.wait_for(shows_correction)
    await eventually(lambda: delivered(sessions))
    deletion = {
        "type": "message",
        "subtype": "message_deleted",
        "channel": backoffice.channel,
        "hidden": True,
        "deleted_ts": ts,
        "previous_message": {
            "type": "message",
            "user": BERND,
            "ts": ts,
            "thread_ts": backoffice.ts,
        },
        "ts": "1795000000.000003",
    }
    await slack_request.send_event(deletion)
    await slack.wait_for(lambda: bot_posts(slack, broker) == [])


async def test_it_shows_the_whole_history_in_verlauf_paged_with_weiter(
    links: tuple[str, ThreadLink, ThreadLink], slack: LocalSlack, slack_request: SignedSender
) -> None:
    # rule M4
    reference, backoffice, broker = links
    texts = [long_text(3500, f"Nachricht {n}") for n in range(6)]
    for n, text in enumerate(texts):
        await write(
            slack,
            slack_request,
            BERND if n % 2 == 0 else ANNA,
            backoffice if n % 2 == 0 else broker,
            text,
        )
        await bot_replies(slack, broker if n % 2 == 0 else backoffice, n // 2 + 1)

    before = len(slack.responses(ANNA))
    pages = [await command_reply(slack_request, slack, ANNA, "/verlauf", reference)]
    while (page_buttons := find_block(pages[-1], HISTORY_PAGES_BLOCK)) is not None:
        buttons = page_buttons["elements"]
        weiter = [button for button in buttons if button["text"]["text"] == "Weiter"]
        if not weiter:
            break
        await slack_request.send_button(
            ANNA, weiter[0]["action_id"], weiter[0]["value"], block_id=HISTORY_PAGES_BLOCK
        )
        pages.append(await response_to(slack, ANNA, before + len(pages) + 1))

    assert len(pages) == 3
    assert pages[0]["text"] == f"Verlauf {reference}: 6 Nachrichten (Seite 1 von 3)"
    shown = sections_text(pages)
    for text in texts:
        assert escape(text) in shown


async def test_it_lists_every_offer_with_their_count_and_more_on_the_next_page(
    links: tuple[str, ThreadLink, ThreadLink],
    slack: LocalSlack,
    slack_request: SignedSender,
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    # rules T7, T8: 20 per group were shown before, the rest hidden without a word
    reference, _backoffice, _broker = links
    async with transaction(sessions) as session:
        for n in range(25):
            await add_offer(
                session,
                BERND_ACTOR,
                reference,
                insurer=f"Versicherer {n:02d}",
                premium=Decimal(1000 + n),
                valid_until=date(2026, 12, 31),
                today=date(2026, 11, 23),
            )
    before = len(slack.responses(ANNA))
    first = await command_reply(slack_request, slack, ANNA, "/angebote", reference)
    assert "25 Angebote · Seite 1 von 2" in block_text(first, OFFERS_SUMMARY_BLOCK)
    [more] = block(first, OFFERS_PAGES_BLOCK)["elements"]
    assert more["text"]["text"] == "Weitere Angebote anzeigen"
    await slack_request.send_button(
        ANNA, more["action_id"], more["value"], block_id=OFFERS_PAGES_BLOCK
    )
    second = await response_to(slack, ANNA, before + 2)
    assert "Seite 2 von 2" in block_text(second, OFFERS_SUMMARY_BLOCK)
    listed = sections_text([first, second])
    assert [f"Versicherer {n:02d}" in listed for n in range(25)] == [True] * 25


async def test_it_opens_the_whole_risk_from_a_card_that_shows_only_its_beginning(
    anna: Broker,
    slack: LocalSlack,
    slack_request: SignedSender,
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    # T3: the frozen risk, whole; escaped it is too long for one Slack message
    description = "<&> " * 750  # 3000 characters, 10,500 once escaped
    text = f'neu sparte=sach kunde="Lager & Co" vorschaeden=keine beschreibung="{description}"'
    reference = await start_tender(slack_request, slack, sessions, text=text)
    card = slack.messages(BACKOFFICE_CHANNEL)[-1]
    [more] = block(card, RISK_MORE_BLOCK)["elements"]
    await slack_request.send_button(
        BERND,
        more["action_id"],
        more["value"],
        channel=BACKOFFICE_CHANNEL,
        block_id=RISK_MORE_BLOCK,
    )
    [opened] = await slack.wait_for_calls("views.open")
    view = opened.params["view"]
    view = json.loads(view) if isinstance(view, str) else view
    assert reference in block_text(view, RISK_HEADING_BLOCK)
    assert escape(description.strip()) in sections_text([view])
