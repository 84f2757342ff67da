"""The whole message history of a tender (rule M4), readable also after close."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from zoneinfo import ZoneInfo

from handlers.blocks.base import Block, context, escape, header, line_sections, message
from store.models import Message

# Header, context and a truncation note leave room for this many text sections.
MAX_SECTIONS = 45
ROLE_LABELS = {"broker": "Vermittler", "backoffice": "Backoffice"}


def message_line(item: Message, zone: ZoneInfo) -> str:
    when = item.created_at.astimezone(zone).strftime("%d.%m.%Y %H:%M")
    role = ROLE_LABELS.get(item.role, item.role)
    head = f"*{escape(item.author_name)}* ({role}) · {when}"
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


def history_message(reference: str, messages: Sequence[Message], zone: ZoneInfo) -> dict[str, Any]:
    title = f"Verlauf {reference}"
    if not messages:
        text = (
            f"Zu {reference} gibt es noch keine Nachrichten. Das Nachrichtenmodul öffnet "
            "das Backoffice mit seiner ersten Rückfrage."
        )
        return message(text, [header(title), context(text)])
    sections = line_sections([message_line(item, zone) + "\n" for item in messages])
    blocks: list[Block] = [header(title)]
    if len(sections) > MAX_SECTIONS:
        blocks.append(context("Der Verlauf ist lang; hier stehen die neuesten Nachrichten."))
        sections = sections[-MAX_SECTIONS:]
    blocks.extend(sections)
    return message(f"{title}: {len(messages)} Nachrichten", blocks)
