"""Tender cards, offer overview and tender list, compared as whole Block Kit dicts."""

from __future__ import annotations

from datetime import date

import pytest

from handlers.blocks.offers import (
    CALCULATOR_GROUP_BLOCK,
    offer_block_id,
    offer_selected,
    offers_message,
    parse_select_value,
    select_value,
)
from handlers.blocks.tenders import (
    CARD_HEADER_BLOCK,
    CARD_NOTE_BLOCK,
    CARD_STATUS_BLOCK,
    backoffice_card,
    broker_card,
    tender_list,
)
from handlers.parsing import InputError
from store.models import Broker, Offer, Tender
from store.tender_queries import OfferOverview, TenderLine, TenderList
from tests.blocks import block, block_text
from tests.handlers.conftest import make_tender

NBSP = "\xa0"


def plain(text: str) -> dict[str, object]:
    return {"type": "plain_text", "text": text, "emoji": True}


def test_it_shows_the_backoffice_the_frozen_risk_with_three_buttons(
    anna_broker: Broker,
) -> None:
    """Rules T5, T3; user text is escaped."""
    tender = make_tender(reason="Kunde will <Vergleich>")
    assert backoffice_card(tender, anna_broker) == {
        "text": "Neue Ausschreibung AS-2026-0001 von Anna Adler: Betriebshaftpflicht für "
        "Bäckerei &lt;Korn&gt; &amp; Söhne",
        "blocks": [
            {
                "type": "header",
                "text": plain("Ausschreibung AS-2026-0001"),
                "block_id": "tender_card_header",
            },
            {
                "type": "section",
                "text": {
                    "type": "mrkdwn",
                    "text": "*Anna Adler* (Vermittler 4711) bittet um Angebote.\nStatus: *läuft*",
                },
                "block_id": "tender_card_status",
            },
            {
                "type": "section",
                "fields": [
                    {"type": "mrkdwn", "text": "*Kunde*\nBäckerei &lt;Korn&gt; &amp; Söhne"},
                    {"type": "mrkdwn", "text": "*Sparte*\nBetriebshaftpflicht"},
                    {"type": "mrkdwn", "text": f"*Selbstbeteiligung*\n1.000,00{NBSP}€"},
                    {"type": "mrkdwn", "text": "*Vorschäden*\nkeine"},
                ],
            },
            {
                "type": "section",
                "text": {"type": "mrkdwn", "text": "*Risikobeschreibung*\nBackstube"},
            },
            {
                "type": "section",
                "text": {
                    "type": "mrkdwn",
                    "text": "*Grund für weitere Angebote*\nKunde will &lt;Vergleich&gt;",
                },
            },
            {
                "type": "context",
                "elements": [
                    {
                        "type": "mrkdwn",
                        "text": "Die Risikodaten sind eingefroren (T3). Rückfragen an den "
                        "Vermittler schreiben Sie im Thread dieser Nachricht.",
                    }
                ],
                "block_id": "tender_card_note",
            },
            {
                "type": "actions",
                "block_id": "tender_card_actions",
                "elements": [
                    {
                        "type": "button",
                        "text": plain("Angebot einstellen"),
                        "action_id": "tender_offer_open",
                        "value": "AS-2026-0001",
                        "style": "primary",
                    },
                    {
                        "type": "button",
                        "text": plain("Rückfrage stellen"),
                        "action_id": "tender_query_open",
                        "value": "AS-2026-0001",
                    },
                    {
                        "type": "button",
                        "text": plain("Keine Angebote"),
                        "action_id": "tender_no_offers",
                        "value": "AS-2026-0001",
                        "style": "danger",
                        "confirm": {
                            "title": plain("Keine Angebote?"),
                            "text": {
                                "type": "mrkdwn",
                                "text": "Der Vermittler erfährt, dass für AS-2026-0001 kein "
                                "Versicherer anbieten konnte. Die Ausschreibung wird damit "
                                "abgeschlossen.",
                            },
                            "confirm": plain("Ja, melden"),
                            "deny": plain("Abbrechen"),
                            "style": "danger",
                        },
                    },
                ],
            },
        ],
    }


def test_it_drops_the_buttons_from_a_finished_tender_card(anna_broker: Broker) -> None:
    """Rule T9: after „keine Angebote“ nothing is left to do on the card."""
    card = backoffice_card(make_tender(status="no_offers"), anna_broker)
    assert [block["type"] for block in card["blocks"]] == [
        "header",
        "section",
        "section",
        "section",
        "context",
    ]
    assert block_text(card, CARD_STATUS_BLOCK).endswith("Status: *keine Angebote*")


def test_it_confirms_the_request_to_the_broker_with_the_reference(tender: Tender) -> None:
    """Rule T4."""
    card = broker_card(tender)
    assert card["text"] == (
        "Anfragebestätigung AS-2026-0001: Betriebshaftpflicht für Bäckerei &lt;Korn&gt; &amp; Söhne"
    )
    assert block(card, CARD_HEADER_BLOCK) == {
        "type": "header",
        "text": plain("Anfragebestätigung AS-2026-0001"),
        "block_id": CARD_HEADER_BLOCK,
    }
    assert block(card, CARD_STATUS_BLOCK) == {
        "type": "section",
        "text": {
            "type": "mrkdwn",
            "text": "Ihre Ausschreibung *AS-2026-0001* ist beim Backoffice eingegangen. Sobald "
            "Angebote vorliegen, erhalten Sie eine Nachricht und eine E-Mail.\nStatus: *läuft*",
        },
        "block_id": CARD_STATUS_BLOCK,
    }
    assert block(card, CARD_NOTE_BLOCK) == {
        "type": "context",
        "elements": [
            {
                "type": "mrkdwn",
                "text": "Angebote ansehen: `/angebote AS-2026-0001` · Verlauf: "
                "`/verlauf AS-2026-0001` · Rückfragen des Backoffice erscheinen im Thread "
                "dieser Nachricht.",
            }
        ],
        "block_id": CARD_NOTE_BLOCK,
    }
    assert all(item["type"] != "actions" for item in card["blocks"])


def test_it_marks_tender_offers_apart_from_calculator_offers(
    tender: Tender, allianz: Offer, hdi_expired: Offer, calculator_offer: Offer
) -> None:
    """Rules T7, T8, T10: marker, validity, a select button except on expired offers."""
    overview = OfferOverview(
        tender=tender, calculator=[calculator_offer], from_tender=[allianz, hdi_expired]
    )
    assert offers_message(overview, today=date(2026, 11, 23), broker_view=True) == {
        "text": "Angebote zu AS-2026-0001: Betriebshaftpflicht für Bäckerei &lt;Korn&gt; "
        "&amp; Söhne",
        "blocks": [
            {
                "type": "header",
                "text": plain("Angebote zu AS-2026-0001"),
                "block_id": "offers_header",
            },
            {
                "type": "section",
                "text": {
                    "type": "mrkdwn",
                    "text": "Betriebshaftpflicht für *Bäckerei &lt;Korn&gt; &amp; Söhne* · "
                    "Status: *läuft* · 3 Angebote",
                },
                "block_id": "offers_summary",
            },
            {"type": "divider"},
            {
                "type": "section",
                "text": {"type": "mrkdwn", "text": "*Angebote aus der Ausschreibung*"},
                "block_id": "offers_from_tender",
            },
            {
                "type": "section",
                "text": {
                    "type": "mrkdwn",
                    "text": f"🟢 aus Ausschreibung · *Allianz* – 1.234,50{NBSP}€ Jahresbeitrag\n"
                    "gültig bis 31.12.2026",
                },
                "accessory": {
                    "type": "button",
                    "text": plain("Auswählen"),
                    "action_id": "offer_select",
                    "value": "AS-2026-0001|7",
                    "style": "primary",
                },
                "block_id": "offer_7",
            },
            {
                "type": "section",
                "text": {
                    "type": "mrkdwn",
                    "text": f"🟢 aus Ausschreibung · *HDI* – 999,00{NBSP}€ Jahresbeitrag\n"
                    "gültig bis 01.11.2026 – _abgelaufen_",
                },
                "block_id": "offer_8",
            },
            {"type": "divider"},
            {
                "type": "section",
                "text": {"type": "mrkdwn", "text": "*Angebote aus dem Tarifrechner*"},
                "block_id": "offers_from_calculator",
            },
            {
                "type": "section",
                "text": {
                    "type": "mrkdwn",
                    "text": f"⚪ Tarifrechner · *Tarifrechner AG* – 1.500,00{NBSP}€ Jahresbeitrag",
                },
                "accessory": {
                    "type": "button",
                    "text": plain("Auswählen"),
                    "action_id": "offer_select",
                    "value": "AS-2026-0001|3",
                    "style": "primary",
                },
                "block_id": "offer_3",
            },
            {
                "type": "context",
                "elements": [
                    {
                        "type": "mrkdwn",
                        "text": "Abgelaufene Angebote können nicht ausgewählt werden – bitten Sie "
                        "das Backoffice im Thread Ihrer Anfragebestätigung, den Versicherer zu "
                        "kontaktieren (T10).",
                    }
                ],
            },
        ],
    }


def test_it_shows_the_selected_offer_without_buttons(tender: Tender, allianz: Offer) -> None:
    tender.status = "selected"
    tender.selected_offer_id = allianz.id
    overview = OfferOverview(tender=tender, calculator=[], from_tender=[allianz])
    overview_message = offers_message(overview, today=date(2026, 11, 23), broker_view=True)
    assert block(overview_message, offer_block_id(allianz.id)) == {
        "type": "section",
        "text": {
            "type": "mrkdwn",
            "text": f"🟢 aus Ausschreibung · *Allianz* – 1.234,50{NBSP}€ Jahresbeitrag\n"
            "gültig bis 31.12.2026\n✅ *ausgewählt*",
        },
        "block_id": offer_block_id(allianz.id),
    }
    assert block(overview_message, CALCULATOR_GROUP_BLOCK) == {
        "type": "section",
        "text": {
            "type": "mrkdwn",
            "text": "*Angebote aus dem Tarifrechner*\n_Keine Angebote aus dem Tarifrechner._",
        },
        "block_id": CALCULATOR_GROUP_BLOCK,
    }


def test_it_confirms_the_selected_offer_to_the_broker(tender: Tender, allianz: Offer) -> None:
    """Rule T8: after selecting, the broker reads that the tender is done and what follows."""
    text = (
        f"✅ Sie haben für AS-2026-0001 das Angebot von *Allianz* (1.234,50{NBSP}€ "
        "Jahresbeitrag) ausgewählt. Die Ausschreibung ist damit abgeschlossen; weiter geht es "
        "mit Antrag oder Deckungsauftrag."
    )
    assert offer_selected(tender, allianz) == {
        "text": text,
        "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": text}}],
    }


def test_it_gives_the_backoffice_no_select_buttons(tender: Tender, allianz: Offer) -> None:
    """Rule T8: selecting is the broker's step."""
    overview = OfferOverview(tender=tender, calculator=[], from_tender=[allianz])
    blocks = offers_message(overview, today=date(2026, 11, 23), broker_view=False)["blocks"]
    assert not any("accessory" in block for block in blocks)


def test_it_lists_tenders_with_their_status() -> None:
    line = TenderLine("AS-2026-0001", "haftpflicht", "Bäckerei <Korn> & Söhne", "open")
    assert tender_list(TenderList(False, [line])) == {
        "text": "Ihre Ausschreibungen: 1",
        "blocks": [
            {"type": "header", "text": plain("Ihre Ausschreibungen")},
            {
                "type": "section",
                "text": {
                    "type": "mrkdwn",
                    "text": "• *AS-2026-0001* – Betriebshaftpflicht für Bäckerei &lt;Korn&gt; "
                    "&amp; Söhne – _läuft_",
                },
            },
            {"type": "divider"},
            {
                "type": "context",
                "elements": [
                    {
                        "type": "mrkdwn",
                        "text": "Angebote: `/angebote AS-…` · Verlauf: `/verlauf AS-…`",
                    }
                ],
            },
        ],
    }


def test_it_says_so_when_a_broker_has_no_tenders() -> None:
    text = "Sie haben noch keine Ausschreibung gestartet. Neue Ausschreibung: `/ausschreibung`"
    assert tender_list(TenderList(False, [])) == {
        "text": text,
        "blocks": [
            {"type": "header", "text": plain("Ihre Ausschreibungen")},
            {"type": "section", "text": {"type": "mrkdwn", "text": text}},
        ],
    }


def test_it_reads_the_select_button_value_and_refuses_a_forged_one() -> None:
    assert parse_select_value(select_value("AS-2026-0001", 7)) == ("AS-2026-0001", 7)
    with pytest.raises(InputError, match="nicht zuordnen"):
        parse_select_value("AS-2026-0001|DROP")
    with pytest.raises(InputError, match="keine Ausschreibungsnummer"):
        parse_select_value("<!here>|7")


def test_it_counts_the_offers_on_the_backoffice_card(tender: Tender, anna_broker: Broker) -> None:
    card = backoffice_card(tender, anna_broker, offer_count=2)
    assert block(card, CARD_STATUS_BLOCK) == {
        "type": "section",
        "text": {
            "type": "mrkdwn",
            "text": "*Anna Adler* (Vermittler 4711) bittet um Angebote.\n"
            "Status: *läuft* · Angebote eingestellt: 2",
        },
        "block_id": CARD_STATUS_BLOCK,
    }
