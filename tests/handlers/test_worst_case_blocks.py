"""Every Block Kit builder over worst-case input, checked as Slack checks it.

Long names, 60 offers, 10 attachments with 255-character names, 4,000-character texts and
texts full of the characters Slack escapes: each payload must pass slack_sdk's models
(``Block.parse(...).to_dict()`` and ``View(...).to_dict()`` run their validators on every
nested element) and the limits of ``bot.localslack.limits``, the same checker the local
Slack refuses payloads with. And no text a person wrote may be cut off on the way.
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from slack_sdk.models.blocks import Block
from slack_sdk.models.views import View

import handlers.blocks
from bot.localslack.limits import message_problems, view_problems
from handlers.blocks.base import escape, notice
from handlers.blocks.budget import budget_message
from handlers.blocks.help import HELP, help_message
from handlers.blocks.history import PAGE_ACTIONS_BLOCK as HISTORY_PAGES_BLOCK
from handlers.blocks.history import history_message
from handlers.blocks.home import (
    BackofficeHome,
    BrokerHome,
    OpenTender,
    backoffice_home,
    broker_home,
    stranger_home,
)
from handlers.blocks.modals import StartPrefill, field_errors, offer_modal, start_modal
from handlers.blocks.offers import SUMMARY_BLOCK as OFFERS_SUMMARY_BLOCK
from handlers.blocks.offers import offer_selected, offers_message
from handlers.blocks.restart import no_offers_notice
from handlers.blocks.tenders import (
    RISK_MORE_BLOCK,
    backoffice_card,
    broker_card,
    risk_modal,
    tender_list,
)
from handlers.blocks.threads import ephemeral, mirrored_posts, query_modal
from store.budget import Statement
from store.models import Attachment, Broker, LedgerEntry, Message, Offer, ProductLine, Tender
from store.tender_queries import OfferOverview, TenderLine, TenderList
from tests.blocks import block, block_text, find_block, sections_text

BERLIN = ZoneInfo("Europe/Berlin")
TODAY = date(2026, 11, 23)
AT = datetime(2026, 11, 23, 9, 15, tzinfo=UTC)


def text_of(length: int, unit: str = "Lager & Büro <Halle> mit Backstube, Café ") -> str:
    return (unit * (length // len(unit) + 1))[:length].strip() + "."


LONG_NAME = text_of(200, "Bäckerei <Korn> & Söhne ")
# What a user can type into each field, at its limit, with the characters Slack escapes.
TEXTS = {
    "mixed": text_of(4000),
    "escapes": "&<>" * 1333,  # every character grows to four or five when escaped
    "one-word": "x" * 4000,
    "paragraphs": "\n\n".join(text_of(390) for _ in range(10)),
}
FILE_NAMES = [f"{n:02d}-" + text_of(240, "Schadenliste & Fotos ") + ".pdf" for n in range(10)]


def tender(description: str, status: str = "open") -> Tender:
    return Tender(
        id=1,
        reference="AS-2026-0001",
        product_line=ProductLine(id=1, product="haftpflicht"),
        broker_id=1,
        status=status,
        reason=text_of(2000),
        customer_name=LONG_NAME,
        risk={"deductible": "1000", "prior_claims": description[:2000], "description": description},
        selected_offer_id=None,
    )


BROKER = Broker(id=1, name=LONG_NAME, number="4711")


def offers(count: int, source: str) -> list[Offer]:
    return [
        Offer(
            id=n + (1000 if source == "tender" else 0),
            source=source,
            insurer=text_of(200, "Versicherer & Söhne <AG> "),
            premium_cents=99_999_999_99,
            valid_until=TODAY + timedelta(days=n - 10),
        )
        for n in range(count)
    ]


def history_of(body: str, count: int) -> list[Message]:
    return [
        Message(
            author_name=LONG_NAME,
            role="broker" if n % 2 else "backoffice",
            body=body,
            internal=n % 5 == 0,
            created_at=AT,
            edited_at=AT if n % 3 == 0 else None,
            deleted_at=None,
            attachments=[Attachment(name=name) for name in FILE_NAMES],
        )
        for n in range(count)
    ]


def valid_message(payload: dict[str, Any]) -> dict[str, Any]:
    assert message_problems(payload) == []
    for item in payload["blocks"]:
        parsed = Block.parse(item)
        assert parsed is not None
        parsed.to_dict()
    return payload


def valid_view(view: dict[str, Any]) -> dict[str, Any]:
    assert view_problems(view) == []
    View(**view).to_dict()
    return view


# -- every builder, over every worst case --------------------------------------------------


@pytest.mark.parametrize("kind", TEXTS)
def test_it_keeps_the_tender_cards_within_slacks_limits_and_shows_the_whole_risk(
    kind: str,
) -> None:
    for status in ("open", "no_offers"):
        started = tender(TEXTS[kind], status)
        for card in (backoffice_card(started, BROKER, offer_count=60), broker_card(started)):
            valid_message(card)
        modal = valid_view(risk_modal(started))
        # The card shows all of it, or the modal behind "mehr anzeigen" does.
        whole = sections_text([broker_card(started)])
        if escape(TEXTS[kind]) not in whole.replace("*Risikobeschreibung*\n", ""):
            assert find_block(broker_card(started), RISK_MORE_BLOCK) is not None
            whole = sections_text([modal])
        assert escape(TEXTS[kind]) in whole.replace("*Risikobeschreibung*\n", "")
        assert escape(started.reason or "") in whole


@pytest.mark.parametrize("kind", TEXTS)
def test_it_keeps_cards_and_history_with_ten_long_named_start_documents_within_limits(
    kind: str,
) -> None:
    """Rule T1: ten documents of 255-character names next to the longest risk."""
    documents = [Attachment(name=name, size=20 * 1024 * 1024) for name in FILE_NAMES]
    started = tender(TEXTS[kind])
    for card in (
        backoffice_card(started, BROKER, offer_count=60, documents=documents),
        broker_card(started, documents=documents),
    ):
        shown = sections_text([valid_message(card)])
        assert all(escape(name) in shown for name in FILE_NAMES)
    for messages in ([], history_of(TEXTS[kind], 12)):
        first = valid_message(
            history_message("AS-2026-0001", messages, BERLIN, documents=documents)
        )
        assert all(escape(name) in sections_text([first]) for name in FILE_NAMES)


def test_it_keeps_the_tender_list_within_slacks_limits() -> None:
    line = TenderLine("AS-2026-0001", "haftpflicht", LONG_NAME, "open")
    valid_message(tender_list(TenderList(True, [line] * 60)))
    valid_message(tender_list(TenderList(False, [])))


@pytest.mark.parametrize("broker_view", [True, False])
def test_it_shows_every_one_of_60_offers_over_pages(broker_view: bool) -> None:
    overview = OfferOverview(
        tender=tender(TEXTS["mixed"]),
        calculator=offers(30, "calculator"),
        from_tender=offers(30, "tender"),
    )
    seen: list[str] = []
    page, pages = 1, 1
    while page <= pages:
        payload = valid_message(
            offers_message(overview, today=TODAY, broker_view=broker_view, page=page)
        )
        summary = block_text(payload, OFFERS_SUMMARY_BLOCK)
        assert "60 Angebote" in summary
        pages = int(summary.rsplit(" von ", 1)[1])
        seen += [
            item["text"]["text"]
            for item in payload["blocks"]
            if item["type"] == "section" and "Jahresbeitrag" in item["text"]["text"]
        ]
        page += 1
    assert pages == 3
    assert len(seen) == 60
    valid_message(offer_selected(tender(TEXTS["mixed"]), offers(1, "tender")[0]))


@pytest.mark.parametrize("kind", TEXTS)
def test_it_shows_a_whole_history_of_long_messages_over_pages(kind: str) -> None:
    messages = history_of(TEXTS[kind], 12)
    first = valid_message(history_message("AS-2026-0001", messages, BERLIN))
    pages = int(first["text"].rsplit(" von ", 1)[1].rstrip(")"))
    payloads = [first] + [
        valid_message(history_message("AS-2026-0001", messages, BERLIN, page=page))
        for page in range(2, pages + 1)
    ]
    assert pages > 1
    assert sections_text(payloads).count(escape(TEXTS[kind])) == 12
    assert all(block(payload, HISTORY_PAGES_BLOCK)["type"] == "actions" for payload in payloads)
    valid_message(history_message("AS-2026-0001", [], BERLIN))


@pytest.mark.parametrize("kind", [*TEXTS, "40000"])
def test_it_mirrors_a_long_thread_message_whole(kind: str) -> None:
    body = TEXTS.get(kind) or text_of(40_000)
    posts = mirrored_posts(
        author_name=LONG_NAME,
        role="broker",
        body=body,
        reference="AS-2026-0001",
        file_names=FILE_NAMES,
        icon_url="https://avatars.example/U0ANNA.png",
        edited=True,
    )
    for post in posts:
        valid_message(post)
    assert sections_text(posts).startswith(escape(body))
    for name in FILE_NAMES:
        assert escape(name) in sections_text(posts)


def test_it_keeps_the_modals_within_slacks_limits() -> None:
    valid_view(start_modal())
    # A tender stored before the 3000 limit may hold 4,000 characters (T9 restart).
    old = TEXTS["mixed"]
    valid_view(
        start_modal(StartPrefill("AS-2026-0001", "haftpflicht", LONG_NAME, "1.000", old, old, old))
    )
    valid_view(offer_modal("AS-2026-0001", LONG_NAME, "Betriebshaftpflicht"))
    valid_view(query_modal("AS-2026-0001"))
    valid_view(query_modal("AS-2026-0001", internal=True))
    assert field_errors({"description": "Angabe „Risikobeschreibung“: höchstens 3000 Zeichen."})


def test_it_keeps_the_home_tabs_within_slacks_limits() -> None:
    open_tenders = [OpenTender(tender(TEXTS["mixed"]), 60) for _ in range(40)]
    newest = [("AS-2026-0001", offer) for offer in offers(40, "tender")]
    balance = Decimal("-99999999.99")
    valid_view(
        broker_home(BrokerHome(LONG_NAME, open_tenders, newest, balance, balance), today=TODAY)
    )
    valid_view(backoffice_home(BackofficeHome(open_tenders)))
    valid_view(stranger_home(TEXTS["mixed"][:2000]))


def test_it_keeps_budget_help_and_notices_within_slacks_limits() -> None:
    entries = [
        LedgerEntry(
            amount_cents=-99_999_999_99,
            kind="correction",
            reference=LONG_NAME[:64],
            note=text_of(250),
            created_at=AT,
        )
        for _ in range(10)
    ]
    valid_message(budget_message(Statement(Decimal("1"), Decimal("2"), entries), BERLIN))
    for command in HELP:
        valid_message(help_message(command))
    valid_message(no_offers_notice("AS-2026-0001"))
    valid_message(notice(escape(TEXTS["mixed"][:2900])))
    valid_message(ephemeral(escape(TEXTS["mixed"][:2900])))


# -- the list above really is every builder --------------------------------------------------

COVERED: dict[str, Callable[..., Any]] = {
    builder.__name__: builder
    for builder in (
        backoffice_card,
        broker_card,
        risk_modal,
        tender_list,
        offers_message,
        offer_selected,
        history_message,
        mirrored_posts,
        start_modal,
        offer_modal,
        field_errors,
        query_modal,
        broker_home,
        backoffice_home,
        stranger_home,
        budget_message,
        help_message,
        notice,
        ephemeral,
        no_offers_notice,
    )
}
# Parts of a payload, checked inside the builders that use them.
PARTS = {
    "message",
    "button",
    "confirm_dialog",
    "actions",
    "fields",
    "header",
    "section",
    "plain",
    "mrkdwn",
}


def test_it_covers_every_builder_in_handlers_blocks() -> None:
    """A new builder returning a payload fails here until the worst cases above run it."""
    builders = set()
    for module_info in pkgutil.iter_modules(handlers.blocks.__path__):
        module = importlib.import_module(f"handlers.blocks.{module_info.name}")
        for name, function in inspect.getmembers(module, inspect.isfunction):
            returns = function.__annotations__.get("return")
            public = not name.startswith("_")
            if public and function.__module__ == module.__name__ and returns == "dict[str, Any]":
                builders.add(name)
    assert builders - PARTS - set(COVERED) == set()
