"""The message module in Slack: mirrored thread posts, the query modal and its notices."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from handlers.blocks.base import (
    SECTION_LIMIT,
    Block,
    context,
    escape,
    plain,
    section,
    text_sections,
    truncate,
)
from handlers.blocks.split import pack, paginate, split_text

QUERY_MODAL_CALLBACK = "tender_query_submit"
QUERY_BLOCK = "query_body"
QUERY_INPUT = "body"
INTERNAL_BLOCK = "query_internal"
INTERNAL_INPUT = "internal"
INTERNAL_VALUE = "internal"
INTERNAL_NOTE_SHORTCUT = "tender_internal_note"
# The line under a mirrored post: author, reference, part, files, internal, edited.
NOTES_BLOCK = "mirror_notes"

PENDING_REACTION = "hourglass_flowing_sand"

# What one mirrored post holds: Slack refuses a message with much more than 12,000
# characters of block text (msg_blocks_too_long); the rest goes on in the next post.
POST_TEXT = 11_000
POST_SECTIONS = 45

ROLE_LABELS = {"backoffice": "Backoffice", "broker": "Vermittler"}
# How a message came when not written in Slack.
VIA_LABELS = {"email": "✉️ per E-Mail"}

NOT_DELIVERED_YET = (
    "Ihre Nachricht ist gespeichert, konnte aber noch nicht zugestellt werden "
    "(Slack ist gerade nicht erreichbar). Sie wird automatisch nachgereicht; "
    "⏳ an Ihrer Nachricht verschwindet, sobald sie angekommen ist."
)
# Rule M4: after a closed tender's notice, where to turn now.
CLOSED_VIA_CONTACT = "Bitte wenden Sie sich an: {contact}"
CLOSED_VIA_START_PAGE = "Bitte wenden Sie sich an die Kontaktdaten auf Ihrer Startseite."
EMPTY_QUERY = "Bitte schreiben Sie Ihre Rückfrage."
NOT_A_TENDER_THREAD = (
    "Interne Notizen gehören in den Thread einer Ausschreibungskarte im Backoffice-Kanal."
)


def closed_notice(refusal: str, contact: str | None) -> str:
    """Rule M4: the store's refusal for a closed tender's thread, then the configured contact
    (TENDERBOT_CONTACT), or the start page without one; escaped for Slack."""
    turn_to = CLOSED_VIA_CONTACT.format(contact=contact) if contact else CLOSED_VIA_START_PAGE
    return escape(f"{refusal} {turn_to}")


def author_label(author_name: str, role: str) -> str:
    """Who wrote it, as the mirrored post's display name: never an anonymous bot."""
    return truncate(f"{author_name} ({ROLE_LABELS.get(role, role)})", 80)


def mirrored_posts(
    *,
    author_name: str,
    role: str,
    body: str,
    reference: str,
    file_names: Sequence[str] = (),
    icon_url: str | None = None,
    internal: bool = False,
    edited: bool = False,
    via: str | None = None,
) -> list[dict[str, Any]]:
    """A message as the other thread shows it (rule M3), attributed to its real author.

    The whole body, never cut: over as many sections as it needs, and past what one Slack
    message holds, over continuation posts ("Teil 2 von 3") to be posted in this order.
    """
    label = author_label(author_name, role)
    pieces = [piece for piece in split_text(escape(body), SECTION_LIMIT) if piece.strip()]
    attached = "📎 " + ", ".join(escape(name) for name in file_names) if file_names else ""
    if len(attached) > SECTION_LIMIT // 2:
        # Too many or too long names for the context line: listed in sections of their own.
        pieces += pack([f"📎 {escape(name)}" for name in file_names], SECTION_LIMIT)
        attached = f"📎 {len(file_names)} Dateien"
    parts = paginate(pieces, POST_TEXT, POST_SECTIONS) if pieces else [[]]
    fallback = escape(body or ("Datei: " + ", ".join(file_names) if file_names else ""))
    posts: list[dict[str, Any]] = []
    for number, part in enumerate(parts, start=1):
        notes = [f"*{escape(label)}* · {reference}"]
        if len(parts) > 1:
            notes.append(f"Teil {number} von {len(parts)}")
        if via in VIA_LABELS:
            notes.append(VIA_LABELS[via])
        if attached:
            notes.append(attached)
        if internal:
            notes.append("🔒 Interne Notiz – nur für das Backoffice sichtbar")
        if edited:
            notes.append("_(bearbeitet)_")
        text = f"{escape(label)}: {fallback}"
        if number > 1:
            text = f"{escape(label)} (Teil {number} von {len(parts)})"
        payload: dict[str, Any] = {
            "text": truncate(text, SECTION_LIMIT),
            "blocks": [
                *(section(piece) for piece in part),
                context(" · ".join(notes), block_id=NOTES_BLOCK),
            ],
            "username": label,
        }
        if icon_url:
            payload["icon_url"] = icon_url
        posts.append(payload)
    return posts


def query_modal(reference: str, *, internal: bool = False) -> dict[str, Any]:
    """The "Rückfrage stellen" modal on the backoffice card (rules M2, M5)."""
    checkbox: Block = {
        "type": "checkboxes",
        "action_id": INTERNAL_INPUT,
        "options": [
            {
                "text": plain("Interne Notiz"),
                "description": plain("Bleibt im Backoffice-Thread, der Vermittler sieht sie nie."),
                "value": INTERNAL_VALUE,
            }
        ],
    }
    if internal:
        checkbox["initial_options"] = checkbox["options"]
    return {
        "type": "modal",
        "callback_id": QUERY_MODAL_CALLBACK,
        "private_metadata": reference,
        "title": plain("Rückfrage stellen"),
        "submit": plain("Senden"),
        "close": plain("Abbrechen"),
        "blocks": [
            section(
                f"Rückfrage zur Ausschreibung *{reference}*. Der Vermittler erhält sie im "
                "Thread seiner Anfragebestätigung und per E-Mail."
            ),
            {
                "type": "input",
                "block_id": QUERY_BLOCK,
                "label": plain("Ihre Rückfrage"),
                "element": {
                    "type": "plain_text_input",
                    "action_id": QUERY_INPUT,
                    "multiline": True,
                    "max_length": 3000,
                    "placeholder": plain("z. B. Gab es Vorschäden über 5.000 €?"),
                },
            },
            {
                "type": "input",
                "block_id": INTERNAL_BLOCK,
                "optional": True,
                "label": plain("Sichtbarkeit"),
                "element": checkbox,
            },
        ],
    }


def ephemeral(text: str) -> dict[str, Any]:
    """A note only the writer sees (text already escaped)."""
    return {"text": truncate(text, SECTION_LIMIT), "blocks": text_sections(text)}
