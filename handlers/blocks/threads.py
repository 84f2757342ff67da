"""The message module in Slack: mirrored thread posts, the query modal and its notices."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from handlers.blocks.base import Block, context, escape, mrkdwn, plain, section, truncate

QUERY_MODAL_CALLBACK = "tender_query_submit"
QUERY_BLOCK = "query_body"
QUERY_INPUT = "body"
INTERNAL_BLOCK = "query_internal"
INTERNAL_INPUT = "internal"
INTERNAL_VALUE = "internal"
INTERNAL_NOTE_SHORTCUT = "tender_internal_note"

PENDING_REACTION = "hourglass_flowing_sand"

ROLE_LABELS = {"backoffice": "Backoffice", "broker": "Vermittler"}

NOT_DELIVERED_YET = (
    "Ihre Nachricht ist gespeichert, konnte aber noch nicht zugestellt werden "
    "(Slack ist gerade nicht erreichbar). Sie wird automatisch nachgereicht; "
    "⏳ an Ihrer Nachricht verschwindet, sobald sie angekommen ist."
)
EMPTY_QUERY = "Bitte schreiben Sie Ihre Rückfrage."
NOT_A_TENDER_THREAD = (
    "Interne Notizen gehören in den Thread einer Ausschreibungskarte im Backoffice-Kanal."
)


def author_label(author_name: str, role: str) -> str:
    """Who wrote it, as the mirrored post's display name: never an anonymous bot."""
    return truncate(f"{author_name} ({ROLE_LABELS.get(role, role)})", 80)


def mirrored_post(
    *,
    author_name: str,
    role: str,
    body: str,
    reference: str,
    file_names: Sequence[str] = (),
    icon_url: str | None = None,
    internal: bool = False,
    edited: bool = False,
) -> dict[str, Any]:
    """A message as the other thread shows it (rule M3), attributed to its real author."""
    label = author_label(author_name, role)
    blocks: list[Block] = []
    if body:
        blocks.append(section(escape(body)))
    notes = [f"*{escape(label)}* · {reference}"]
    if file_names:
        notes.append("📎 " + ", ".join(escape(name) for name in file_names))
    if internal:
        notes.append("🔒 Interne Notiz – nur für das Backoffice sichtbar")
    if edited:
        notes.append("_(bearbeitet)_")
    blocks.append(context(" · ".join(notes)))
    fallback = body or ("Datei: " + ", ".join(file_names) if file_names else "")
    payload: dict[str, Any] = {
        "text": truncate(f"{escape(label)}: {escape(fallback)}", 3000),
        "blocks": blocks,
        "username": label,
    }
    if icon_url:
        payload["icon_url"] = icon_url
    return payload


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
    return {"text": text, "blocks": [{"type": "section", "text": mrkdwn(text)}]}
