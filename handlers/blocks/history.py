"""The whole message history of a tender (rule M4), readable also after close."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from zoneinfo import ZoneInfo

from handlers.blocks.base import (
    Block,
    actions,
    button,
    context,
    escape,
    header,
    line_sections,
    message,
    section,
)
from handlers.blocks.documents import Document, documents_texts
from handlers.blocks.split import paginate
from handlers.blocks.threads import VIA_LABELS
from handlers.parsing import InputError, parse_reference
from pricing.formats import format_datetime
from store.models import Message

# Slack refuses a message whose blocks hold much more than 12,000 characters in all
# (``msg_blocks_too_long``), whatever the block count: a longer history goes on over pages.
PAGE_TEXT = 11_000
PAGE_SECTIONS = 40
NEXT_PAGE_ACTION = "history_page_next"
PREVIOUS_PAGE_ACTION = "history_page_previous"
PAGE_ACTIONS_BLOCK = "history_pages"
ROLE_LABELS = {"broker": "Vermittler", "backoffice": "Backoffice"}


def message_line(item: Message, zone: ZoneInfo) -> str:
    when = format_datetime(item.created_at.astimezone(zone))
    role = ROLE_LABELS.get(item.role, item.role)
    head = f"*{escape(item.author_name)}* ({role}) · {when}"
    if item.via in VIA_LABELS:
        head += f" · {VIA_LABELS[item.via]}"
    if item.internal:
        head = f"🔒 {head} · _interne Notiz_"
    body = escape(item.body)
    if item.deleted_at is not None:
        body = f"~{body}~ _(gelöscht)_" if body else "_(gelöscht)_"
    elif item.edited_at is not None:
        body += " _(bearbeitet)_"
    lines = [head, body] if body else [head]
    lines.extend(f"📎 {escape(attachment.name)}" for attachment in item.attachments)
    return "\n".join(lines)


def page_value(reference: str, page: int) -> str:
    return f"{reference}|{page}"


def parse_page_value(value: str) -> tuple[str, int]:
    reference, _, page = value.partition("|")
    if not page.isdigit() or int(page) < 1:
        raise InputError("Diese Seite kann ich nicht zuordnen. Bitte `/verlauf` neu aufrufen.")
    return parse_reference(reference), int(page)


def history_message(
    reference: str,
    messages: Sequence[Message],
    zone: ZoneInfo,
    *,
    page: int = 1,
    documents: Sequence[Document] = (),
) -> dict[str, Any]:
    """Rule M4: every message, oldest first, each in full; over pages with "Weiter" when
    the history does not fit one Slack message. The documents given at start (T1) open
    the history."""
    title = f"Verlauf {reference}"
    start = documents_texts(documents) if documents else []
    if not messages:
        text = (
            f"Zu {reference} gibt es noch keine Nachrichten. Das Nachrichtenmodul öffnet "
            "das Backoffice mit seiner ersten Rückfrage."
        )
        return message(text, [header(title), *map(section, start), context(text)])
    lines = [message_line(item, zone) + "\n" for item in messages]
    texts = start + [block["text"]["text"] for block in line_sections(lines)]
    pages = paginate(texts, PAGE_TEXT, PAGE_SECTIONS)
    page = min(max(page, 1), len(pages))
    blocks: list[Block] = [header(title)]
    if len(pages) > 1:
        blocks.append(context(f"{len(messages)} Nachrichten · Seite {page} von {len(pages)}"))
    blocks.extend(section(text) for text in pages[page - 1])
    if len(pages) > 1:
        buttons: list[Block] = []
        if page > 1:
            buttons.append(button("Zurück", PREVIOUS_PAGE_ACTION, page_value(reference, page - 1)))
        if page < len(pages):
            buttons.append(
                button("Weiter", NEXT_PAGE_ACTION, page_value(reference, page + 1), style="primary")
            )
        blocks.append(actions(PAGE_ACTIONS_BLOCK, *buttons))
    suffix = f" (Seite {page} von {len(pages)})" if len(pages) > 1 else ""
    return message(f"{title}: {len(messages)} Nachrichten{suffix}", blocks)
