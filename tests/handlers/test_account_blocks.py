"""Budget, history, home tab and modals, compared as whole Block Kit dicts."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

from handlers.blocks.budget import budget_message, entry_line
from handlers.blocks.help import HEADER_BLOCK as HELP_HEADER_BLOCK
from handlers.blocks.help import HELP, help_message
from handlers.blocks.history import history_message
from handlers.blocks.home import (
    BackofficeHome,
    BrokerHome,
    OpenTender,
    backoffice_home,
    broker_home,
)
from handlers.blocks.modals import offer_modal, start_modal
from store.budget import Statement
from store.models import Attachment, LedgerEntry, Message, Offer, Tender
from tests.blocks import block

BERLIN = ZoneInfo("Europe/Berlin")
NBSP = "\xa0"


def plain(text: str) -> dict[str, object]:
    return {"type": "plain_text", "text": text, "emoji": True}


def mrkdwn_section(text: str) -> dict[str, object]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text}}


def context(text: str) -> dict[str, object]:
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": text}]}


def test_it_shows_balance_credit_and_bookings() -> None:
    """Rule B5."""
    entries = [
        LedgerEntry(
            amount_cents=-25000,
            kind="charge",
            reference="V-<1>",
            note=None,
            created_at=datetime(2026, 9, 1, 22, 30, tzinfo=UTC),
        ),
        LedgerEntry(
            amount_cents=150000,
            kind="distribution",
            reference="2026",
            note="3 % von 50.000 €",
            created_at=datetime(2026, 7, 1, 8, 0, tzinfo=UTC),
        ),
    ]
    statement = Statement(balance=Decimal("1250.00"), credit_limit=Decimal("500"), entries=entries)
    assert budget_message(statement, BERLIN) == {
        "text": f"Konzeptrabattkonto: Saldo 1.250,00{NBSP}€, verfügbar 1.750,00{NBSP}€",
        "blocks": [
            {"type": "header", "text": plain("Ihr Konzeptrabattkonto")},
            {
                "type": "section",
                "fields": [
                    {"type": "mrkdwn", "text": f"*Saldo*\n1.250,00{NBSP}€"},
                    {"type": "mrkdwn", "text": f"*Kreditrahmen*\n500,00{NBSP}€"},
                    {"type": "mrkdwn", "text": f"*Verfügbar inkl. Kredit*\n1.750,00{NBSP}€"},
                ],
            },
            mrkdwn_section(
                "*Letzte Buchungen*\n"
                f"• 02.09.2026 · Konzeptrabatt gewährt · *-250,00{NBSP}€* · Police V-&lt;1&gt;\n"
                f"• 01.07.2026 · Budgetzuteilung · *+1.500,00{NBSP}€* · 2026 – _3 % von 50.000 €_"
            ),
            context(
                "Das neue Budget wird einmal jährlich zur Jahresmitte zugeteilt (3 % des "
                "FirmenKonzept-Neugeschäfts des Vorjahres); Restbudget wird übertragen. "
                "Reicht das Konto nicht, wenden Sie sich an Ihre Geschäftsstelle."
            ),
        ],
    }


def test_it_shows_a_credit_booking_as_kreditrahmen_gesetzt_without_its_internal_id() -> None:
    credit = LedgerEntry(
        amount_cents=0,
        kind="credit",
        reference="cli-0123abcd",
        note=f"Kreditrahmen 0,00{NBSP}€ → 500,00{NBSP}€ (Plattform)",
        tender_reference=None,
        created_at=datetime(2026, 9, 1, 8, 0, tzinfo=UTC),
    )

    assert entry_line(credit, BERLIN) == (
        f"• 01.09.2026 · Kreditrahmen gesetzt · *0,00{NBSP}€* – "
        f"_Kreditrahmen 0,00{NBSP}€ → 500,00{NBSP}€ (Plattform)_"
    )


def test_it_shows_the_whole_history_with_edits_deletions_and_attachments() -> None:
    """Rule M4; internal notes are marked (the service hides them from brokers)."""
    at = datetime(2026, 11, 23, 9, 15, tzinfo=UTC)
    question = Message(
        author_name="Bernd Backoffice",
        role="backoffice",
        body="Bitte <Fotos> schicken",
        internal=False,
        created_at=at,
        edited_at=at,
        deleted_at=None,
        attachments=[],
    )
    note = Message(
        author_name="Bernd Backoffice",
        role="backoffice",
        body="Versicherer zögert",
        internal=True,
        created_at=at,
        edited_at=None,
        deleted_at=None,
        attachments=[],
    )
    answer = Message(
        author_name="Anna Adler",
        role="broker",
        body="Anbei",
        internal=False,
        created_at=at,
        edited_at=None,
        deleted_at=at,
        attachments=[Attachment(name="backstube.jpg")],
    )
    assert history_message("AS-2026-0001", [question, note, answer], BERLIN) == {
        "text": "Verlauf AS-2026-0001: 3 Nachrichten",
        "blocks": [
            {"type": "header", "text": plain("Verlauf AS-2026-0001")},
            mrkdwn_section(
                "*Bernd Backoffice* (Backoffice) · 23.11.2026 10:15\n"
                "Bitte &lt;Fotos&gt; schicken _(bearbeitet)_\n\n"
                "🔒 *Bernd Backoffice* (Backoffice) · 23.11.2026 10:15 · _interne Notiz_\n"
                "Versicherer zögert\n\n"
                "*Anna Adler* (Vermittler) · 23.11.2026 10:15\n"
                "~Anbei~ _(gelöscht)_\n📎 backstube.jpg\n"
            ),
        ],
    }


def test_it_explains_an_empty_history() -> None:
    text = (
        "Zu AS-2026-0001 gibt es noch keine Nachrichten. Das Nachrichtenmodul öffnet das "
        "Backoffice mit seiner ersten Rückfrage."
    )
    assert history_message("AS-2026-0001", [], BERLIN) == {
        "text": text,
        "blocks": [{"type": "header", "text": plain("Verlauf AS-2026-0001")}, context(text)],
    }


def test_it_gives_the_broker_a_home_with_tenders_offers_and_budget(
    tender: Tender, allianz: Offer
) -> None:
    data = BrokerHome(
        name="Anna Adler",
        open_tenders=[OpenTender(tender, 1)],
        newest_offers=[("AS-2026-0001", allianz)],
        balance=Decimal("-100"),
        credit_limit=Decimal("500"),
    )
    assert broker_home(data, today=date(2026, 11, 23)) == {
        "type": "home",
        "blocks": [
            {
                "type": "header",
                "text": plain("Ausschreibungen – Anna Adler"),
                "block_id": "home_header",
            },
            mrkdwn_section("*Offene Ausschreibungen*"),
            mrkdwn_section(
                "• *AS-2026-0001* – Betriebshaftpflicht für Bäckerei &lt;Korn&gt; &amp; Söhne "
                "· 1 Angebot"
            ),
            {"type": "divider"},
            mrkdwn_section("*Neueste Angebote*"),
            mrkdwn_section(
                f"AS-2026-0001 · 🟢 aus Ausschreibung · *Allianz* – 1.234,50{NBSP}€ "
                "Jahresbeitrag\ngültig bis 31.12.2026"
            ),
            context("Auswählen: `/angebote AS-…`"),
            {"type": "divider"},
            mrkdwn_section("*Konzeptrabattkonto*"),
            {
                "type": "section",
                "fields": [
                    {"type": "mrkdwn", "text": f"*Saldo*\n-100,00{NBSP}€"},
                    {"type": "mrkdwn", "text": f"*Verfügbar inkl. Kredit*\n400,00{NBSP}€"},
                ],
            },
            context("Buchungen: `/budget` · Rabattfragen: `/rabatt hilfe`"),
        ],
    }


def test_it_gives_the_backoffice_a_home_with_offer_counts(tender: Tender) -> None:
    assert backoffice_home(BackofficeHome([OpenTender(tender, 2)])) == {
        "type": "home",
        "blocks": [
            {
                "type": "header",
                "text": plain("Backoffice – Ausschreibungen"),
                "block_id": "home_header",
            },
            mrkdwn_section("*Offene Ausschreibungen*"),
            mrkdwn_section(
                "• *AS-2026-0001* – Betriebshaftpflicht für Bäckerei &lt;Korn&gt; &amp; Söhne "
                "· 2 Angebote"
            ),
            context("Angebot einstellen: `/angebot AS-…` · Übersicht: `/angebote AS-…`"),
        ],
    }


def test_it_builds_the_offer_modal_with_the_reference_in_private_metadata() -> None:
    def text_input(block_id: str, label: str, placeholder: str) -> dict[str, object]:
        return {
            "type": "input",
            "block_id": block_id,
            "label": plain(label),
            "element": {
                "type": "plain_text_input",
                "multiline": False,
                "max_length": 200 if block_id == "insurer" else 20,
                "placeholder": plain(placeholder),
                "action_id": "value",
            },
            "optional": False,
        }

    assert offer_modal("AS-2026-0001", "Korn & Co", "Betriebshaftpflicht") == {
        "type": "modal",
        "callback_id": "tender_offer",
        "title": plain("Angebot einstellen"),
        "submit": plain("Einstellen"),
        "close": plain("Abbrechen"),
        "blocks": [
            context("*AS-2026-0001* · Betriebshaftpflicht für Korn &amp; Co"),
            text_input("insurer", "Versicherer", "z. B. Allianz"),
            text_input("premium", "Jahresbeitrag (€)", "z. B. 1.234,50"),
            {
                "type": "input",
                "block_id": "valid_until",
                "label": plain("Gültig bis"),
                "element": {
                    "type": "datepicker",
                    "placeholder": plain("Datum wählen"),
                    "action_id": "value",
                },
                "optional": False,
            },
        ],
        "private_metadata": "AS-2026-0001",
    }


def test_it_asks_for_every_risk_field_in_the_start_modal_and_the_reason_optionally() -> None:
    """Rules T1, T2: the reason and the consultation are optional; the service decides."""
    view = start_modal()
    inputs = {block["block_id"]: block for block in view["blocks"] if block["type"] == "input"}
    assert list(inputs) == [
        "product",
        "customer",
        "deductible",
        "prior_claims",
        "description",
        "reason",
        "documents",
        "consultation",
    ]
    assert inputs["documents"]["element"] == {
        "type": "file_input",
        "max_files": 10,
        "action_id": "value",
    }
    assert [option["value"] for option in inputs["product"]["element"]["options"]] == [
        "sach",
        "inhalt",
        "gebaeude",
        "haftpflicht",
        "rechtsschutz",
        "cyber",
    ]
    assert {block_id for block_id, block in inputs.items() if block["optional"]} == {
        "deductible",
        "reason",
        "documents",
        "consultation",
    }
    assert view["callback_id"] == "tender_start"
    assert view["title"] == plain("Ausschreibung starten")


def test_it_has_help_for_every_command() -> None:
    for command in ("/ausschreibung", "/angebote", "/angebot", "/budget", "/verlauf"):
        assert block(help_message(command), HELP_HEADER_BLOCK) == {
            "type": "header",
            "text": plain(f"{command} – Hilfe"),
            "block_id": HELP_HEADER_BLOCK,
        }
    assert set(HELP) == {"/ausschreibung", "/angebote", "/angebot", "/budget", "/verlauf"}
