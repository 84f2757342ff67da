"""The mirrored post and the query modal as whole dicts: a layout change is one visible diff."""

from __future__ import annotations

from handlers.blocks.threads import INTERNAL_BLOCK, NOTES_BLOCK, mirrored_posts, query_modal
from tests.blocks import block, block_text


def test_it_attributes_a_mirrored_post_to_its_author_and_escapes_the_text() -> None:
    (post,) = mirrored_posts(
        author_name="Anna Adler",
        role="broker",
        body="Schaden <5.000 € & @here",
        reference="AS-2026-0001",
        file_names=["liste.pdf"],
        icon_url="https://avatars.example/U0ANNA.png",
        edited=True,
    )
    assert post == {
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
                "block_id": "mirror_notes",
            },
        ],
    }


def test_it_marks_an_internal_note_and_names_a_file_only_post() -> None:
    (post,) = mirrored_posts(
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
                "block_id": "mirror_notes",
            }
        ],
    }


def test_it_builds_the_query_modal_with_the_internal_box_preset_for_the_shortcut() -> None:
    modal = query_modal("AS-2026-0001", internal=True)
    assert (modal["callback_id"], modal["private_metadata"]) == (
        "tender_query_submit",
        "AS-2026-0001",
    )
    checkbox = block(modal, INTERNAL_BLOCK)["element"]
    assert checkbox["initial_options"] == checkbox["options"]
    assert [option["value"] for option in checkbox["options"]] == ["internal"]
    assert "initial_options" not in block(query_modal("AS-2026-0001"), INTERNAL_BLOCK)["element"]


def test_it_mirrors_a_long_message_whole_over_sections_cut_between_words() -> None:
    body = " ".join(f"Wort{n:04d}" for n in range(390))  # 3,509 characters
    (post,) = mirrored_posts(
        author_name="Anna Adler", role="broker", body=body, reference="AS-2026-0001"
    )
    texts = [block["text"]["text"] for block in post["blocks"] if block["type"] == "section"]
    assert len(texts) == 2
    assert all(len(text) <= 3000 for text in texts)
    assert "".join(texts) == body
    assert texts[0].endswith(" ") and texts[1].startswith("Wort")


def test_it_goes_on_in_numbered_posts_past_what_one_message_holds() -> None:
    body = "\n\n".join(f"Absatz {n}: " + "Schaden & Vorschaden " * 40 for n in range(40))
    posts = mirrored_posts(
        author_name="Anna Adler", role="broker", body=body, reference="AS-2026-0001"
    )
    assert len(posts) == 4
    texts = [b["text"]["text"] for p in posts for b in p["blocks"] if b["type"] == "section"]
    assert "".join(texts) == body.replace("&", "&amp;")
    assert [block_text(p, NOTES_BLOCK) for p in posts] == [
        f"*Anna Adler (Vermittler)* · AS-2026-0001 · Teil {n} von 4" for n in range(1, 5)
    ]
    assert posts[1]["text"] == "Anna Adler (Vermittler) (Teil 2 von 4)"
