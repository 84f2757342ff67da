"""The pure renderer: German texts, money and dates, escaping per output (rules N1, N2)."""

from __future__ import annotations

from typing import Any

import pytest

from notifications.render import TEMPLATES, RenderError, render

OFFER: dict[str, Any] = {
    "reference": "AS-2026-0001",
    "product": "haftpflicht",
    "product_label": "Betriebshaftpflicht",
    "insurer": "Allianz",
    "premium": "1234.50",
    "valid_until": "2026-12-31",
    "customer_name": "Bäckerei Müller GmbH",
    "broker_name": "Anna Adler",
}
QUERY: dict[str, Any] = {
    "reference": "AS-2026-0001",
    "product_label": "Betriebshaftpflicht",
    "customer_name": "Bäckerei Müller GmbH",
    "author_name": "Bernd Backoffice",
    "body": "Gab es Vorschäden seit 2021?\nBitte die Schadenhöhe nennen.",
}


def test_it_tells_broker_anna_about_a_new_offer_in_german() -> None:
    rendered = render("offer_available", OFFER)

    assert rendered.subject == "[AS-2026-0001] Neues Angebot verfügbar"
    assert "Guten Tag Anna Adler," in rendered.text
    assert "Versicherer:  Allianz" in rendered.text
    assert "Beitrag:      1.234,50\xa0€" in rendered.text
    assert "Gültig bis:   31.12.2026" in rendered.text
    assert "/angebote AS-2026-0001" in rendered.text
    assert "<strong>1.234,50\xa0€</strong>" in rendered.html
    assert "`/angebote AS-2026-0001`" in rendered.slack


def test_it_says_so_when_an_offer_has_no_expiry_date() -> None:
    rendered = render("offer_available", {**OFFER, "valid_until": None})

    assert "Gültig bis:   ohne Ablaufdatum" in rendered.text


def test_it_shows_the_start_of_a_query_and_how_to_answer_in_slack() -> None:
    rendered = render("query", QUERY)

    assert rendered.subject == "[AS-2026-0001] Rückfrage vom Backoffice"
    assert "> Gab es Vorschäden seit 2021?\n> Bitte die Schadenhöhe nennen." in rendered.text
    assert "im Thread der Ausschreibung AS-2026-0001" in rendered.text
    assert "Direktnachricht mit tenderbot" in rendered.text
    assert ">Gab es Vorschäden seit 2021?" in rendered.slack


def test_it_shortens_a_long_query_to_its_first_lines() -> None:
    body = "\n".join(f"Frage {number}" for number in range(1, 21))

    rendered = render("query", {**QUERY, "body": body})

    assert "> Frage 6 …" in rendered.text
    assert "Frage 7" not in rendered.text


def test_it_escapes_user_text_in_html_and_slack_but_not_in_plain_text() -> None:
    sneaky = {**QUERY, "body": "<script>alert(1)</script> & <@U0CARLA> <!channel>"}

    rendered = render("query", sneaky)

    assert "<script>" not in rendered.html
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; &lt;@U0CARLA&gt;" in rendered.html
    assert "<@U0CARLA>" not in rendered.slack
    assert "<!channel>" not in rendered.slack
    assert "&lt;@U0CARLA&gt; &lt;!channel&gt;" in rendered.slack
    assert "<script>alert(1)</script> & <@U0CARLA>" in rendered.text


def test_it_keeps_a_typed_broadcast_from_notifying_anyone_in_the_dm() -> None:
    # The DM escapes user text with the Block Kit builders' escape: @here stays inert.
    rendered = render("query", {**QUERY, "body": "@channel bitte @Here prüfen"})

    assert "@\u200bchannel bitte @\u200bHere prüfen" in rendered.slack
    assert "@channel bitte @Here prüfen" in rendered.text


def test_it_keeps_the_subject_on_one_line_whatever_the_context_holds() -> None:
    rendered = render("offer_available", {**OFFER, "reference": "AS-1\r\nBcc: x@evil.example"})

    assert "\n" not in rendered.subject
    assert "\r" not in rendered.subject
    assert rendered.subject == "[AS-1 Bcc: x@evil.example] Neues Angebot verfügbar"


@pytest.mark.parametrize(
    ("days_left", "phrase"), [(7, "in 7 Tagen"), (1, "in 1 Tag"), (0, "heute")]
)
def test_it_reminds_of_an_expiring_offer_with_the_advice_of_rule_t10(
    days_left: int, phrase: str
) -> None:
    context = {
        "reference": "AS-2026-0001",
        "insurer": "Allianz",
        "premium": "980.00",
        "valid_until": "2026-12-31",
        "days_left": days_left,
        "product_label": "Betriebshaftpflicht",
        "customer_name": "Bäckerei Müller GmbH",
    }

    rendered = render("offer_expiring", context)
    via_module = render("offer_expiring", {**context, "conversation_open": True})
    no_module = render("offer_expiring", {**context, "conversation_open": False})

    assert rendered.subject == f"[AS-2026-0001] Angebot läuft {phrase} ab"
    assert "Nachrichtenmodul" in via_module.text
    assert "Startseite" not in via_module.text
    assert "Kontaktdaten auf Ihrer Startseite" in no_module.text
    assert "Nachrichtenmodul" not in no_module.text


def test_it_announces_the_budget_with_german_amounts_rule_b2() -> None:
    rendered = render("budget_distributed", {"year": 2026, "amount": "300", "balance": "-12.5"})

    assert rendered.subject == "Ihr Konzeptrabatt-Budget 2026 ist zugeteilt"
    assert "Neues Budget:      300,00\xa0€" in rendered.text
    assert "Neuer Kontostand:  -12,50\xa0€" in rendered.text


def test_it_lists_tenders_without_offers_for_the_backoffice_rule_t9() -> None:
    tenders = [
        {
            "reference": "AS-2026-0001",
            "product_label": "Cyberversicherung",
            "customer_name": "Bäckerei Müller GmbH",
            "broker_name": "Anna Adler",
            "started_on": "2026-11-02",
            "workdays_without_offer": 5,
        },
        {"reference": "AS-2026-0002"},
    ]

    rendered = render("backoffice_followup", {"tenders": tenders})

    assert rendered.slack.splitlines()[1:] == [
        "• *AS-2026-0001* · Cyberversicherung · Kunde: Bäckerei Müller GmbH · "
        "Vermittler: Anna Adler · gestartet am 02.11.2026 · 5 Arbeitstage ohne Angebot",
        "• *AS-2026-0002*",
    ]


@pytest.mark.parametrize("premium", [1234.5, "zwölf", "NaN"])
def test_it_refuses_money_that_is_not_an_exact_decimal(premium: object) -> None:
    with pytest.raises(RenderError, match=r"money|amount"):
        render("offer_available", {**OFFER, "premium": premium})


def test_it_names_missing_context_and_unknown_templates() -> None:
    with pytest.raises(RenderError, match="needs insurer"):
        render("offer_available", {**OFFER, "insurer": None})
    with pytest.raises(RenderError, match="unknown template 'angebot'"):
        render("angebot", OFFER)


def test_it_knows_every_template_the_services_and_the_scheduler_enqueue() -> None:
    assert set(TEMPLATES) == {
        "offer_available",
        "query",
        "offer_expiring",
        "budget_distributed",
        "backoffice_followup",
        "dead_letter",
        "budget_booking",
        "budget_waiting",
    }


@pytest.mark.parametrize(
    ("kind", "amount", "first_line"),
    [
        (
            "charge",
            "250.00",
            "Konzeptrabatt 250,00\u00a0€ für Police P-100 (Ausschreibung AS-2026-0001) gebucht.",
        ),
        ("storno", "250.00", "Storno ab Beginn: 250,00\u00a0€ für Police P-100 gutgeschrieben."),
        ("credit", "0.00", "Ihr Kreditrahmen beträgt jetzt 500,00\u00a0€."),
    ],
)
def test_it_tells_the_broker_every_booking_with_the_new_balance(
    kind: str, amount: str, first_line: str
) -> None:
    context = {
        "kind": kind,
        "amount": amount,
        "balance": "-150.00",
        "credit_limit": "500.00",
        "available": "350.00",
        "policy_number": "P-100",
        "tender_reference": "AS-2026-0001",
        "broker_name": "Anna Adler",
    }

    rendered = render("budget_booking", context)

    assert rendered.slack.splitlines()[0] == f":receipt: *{first_line}*"
    assert "Neuer Kontostand:        -150,00\u00a0€" in rendered.text
    assert first_line in rendered.text
    assert rendered.subject.startswith("Konzeptrabattkonto: ")


def test_it_renders_only_the_parts_a_channel_sends() -> None:
    for_email = render("offer_available", OFFER, channel="email")
    for_slack = render("offer_available", OFFER, channel="slack")

    assert for_email.slack == ""
    assert for_email.subject == "[AS-2026-0001] Neues Angebot verfügbar"
    assert (for_slack.subject, for_slack.text, for_slack.html) == ("", "", "")
    assert for_slack.slack == render("offer_available", OFFER).slack
