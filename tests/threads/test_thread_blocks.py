"""The mirrored post and the query modal as whole dicts: a layout change is one visible diff."""

from __future__ import annotations

from handlers.blocks.threads import mirrored_post, query_modal


def test_it_attributes_a_mirrored_post_to_its_author_and_escapes_the_text() -> None:
    assert mirrored_post(
        author_name="Anna Adler",
        role="broker",
        body="Schaden <5.000 € & @here",
        reference="AS-2026-0001",
        file_names=["liste.pdf"],
        icon_url="https://avatars.example/U0ANNA.png",
        edited=True,
    ) == {
        "text": "Anna Adler (Vermittler): Schaden &lt;5.000 € &amp; @\u200bhere",
        "username": "Anna Adler (Vermittler)",
        "icon_url": "https://avatars.example/U0ANNA.png",
        "blocks": [
            {
                "type": "section",
                "text": {"type": "mrkdwn", "text": "Schaden &lt;5.000 € &amp; @\u200bhere"},
            },
            {
                "type": "context",
                "elements": [
                    {
                        "type": "mrkdwn",
                        "text": "*Anna Adler (Vermittler)* · AS-2026-0001 · 📎 liste.pdf · "
                        "_(bearbeitet)_",
                    }
                ],
            },
        ],
    }


def test_it_marks_an_internal_note_and_names_a_file_only_post() -> None:
    post = mirrored_post(
        author_name="Bernd Backoffice",
        role="backoffice",
        body="",
        reference="AS-2026-0001",
        file_names=["foto.jpg"],
        internal=True,
    )
    assert post == {
        "text": "Bernd Backoffice (Backoffice): Datei: foto.jpg",
        "username": "Bernd Backoffice (Backoffice)",
        "blocks": [
            {
                "type": "context",
                "elements": [
                    {
                        "type": "mrkdwn",
                        "text": "*Bernd Backoffice (Backoffice)* · AS-2026-0001 · 📎 foto.jpg · "
                        "🔒 Interne Notiz – nur für das Backoffice sichtbar",
                    }
                ],
            }
        ],
    }


def test_it_builds_the_query_modal_with_the_internal_box_preset_for_the_shortcut() -> None:
    modal = query_modal("AS-2026-0001", internal=True)
    assert (modal["callback_id"], modal["private_metadata"]) == (
        "tender_query_submit",
        "AS-2026-0001",
    )
    checkbox = modal["blocks"][2]["element"]
    assert checkbox["initial_options"] == checkbox["options"]
    assert [option["value"] for option in checkbox["options"]] == ["internal"]
    assert "initial_options" not in query_modal("AS-2026-0001")["blocks"][2]["element"]
