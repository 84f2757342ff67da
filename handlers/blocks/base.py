"""Block Kit building blocks: plain data in, the dict Slack expects out. No API calls.

Every text that came from a user goes through ``escape`` before it lands in a field.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from handlers.blocks.split import pack, split_text

# The builders' one escape, shared with the DM notices; re-exported for the builders.
from pricing.slack_text import escape as escape

Block = dict[str, Any]

# Section texts are limited to 3000 characters, section fields to 2000, headers to 150.
SECTION_LIMIT = 3000
FIELD_LIMIT = 2000


def truncate(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def plain(text: str) -> dict[str, Any]:
    return {"type": "plain_text", "text": text, "emoji": True}


def mrkdwn(text: str) -> dict[str, Any]:
    return {"type": "mrkdwn", "text": text}


def header(text: str, *, block_id: str | None = None) -> Block:
    block: Block = {"type": "header", "text": plain(truncate(text, 150))}
    if block_id is not None:
        block["block_id"] = block_id
    return block


def section(text: str, *, accessory: Block | None = None, block_id: str | None = None) -> Block:
    block: Block = {"type": "section", "text": mrkdwn(truncate(text, SECTION_LIMIT))}
    if accessory is not None:
        block["accessory"] = accessory
    if block_id is not None:
        block["block_id"] = block_id
    return block


def line_sections(lines: Sequence[str]) -> list[Block]:
    """Lines grouped into as few sections as the 3000-character limit allows; a longer line
    goes on over the next sections, so nothing is cut off."""
    return [_whole_section(text) for text in pack(list(lines), SECTION_LIMIT) if text.strip()]


def text_sections(text: str) -> list[Block]:
    """Text (already escaped) over as many sections as it needs, cut between words."""
    return [_whole_section(piece) for piece in split_text(text, SECTION_LIMIT) if piece.strip()]


def _whole_section(text: str) -> Block:
    return {"type": "section", "text": mrkdwn(text)}


def field_text(label: str, value: str) -> str:
    return f"*{label}*\n{value}"


def fits_field(label: str, value: str) -> bool:
    return len(field_text(label, value)) <= FIELD_LIMIT


def fields(pairs: Sequence[tuple[str, str]]) -> Block:
    """Label/value pairs (values already escaped), at most ten per section; a value too
    long for a field goes in ``labelled_sections`` instead (see ``fits_field``)."""
    return {
        "type": "section",
        "fields": [
            mrkdwn(truncate(field_text(label, value), FIELD_LIMIT)) for label, value in pairs[:10]
        ],
    }


def labelled_sections(label: str, value: str) -> list[Block]:
    """A bold label over a value (already escaped) of any length: all of it is shown."""
    return text_sections(field_text(label, value))


def context(text: str, *, block_id: str | None = None) -> Block:
    block: Block = {"type": "context", "elements": [mrkdwn(text)]}
    if block_id is not None:
        block["block_id"] = block_id
    return block


def divider() -> Block:
    return {"type": "divider"}


def button(
    text: str,
    action_id: str,
    value: str,
    *,
    style: str | None = None,
    confirm: Block | None = None,
) -> Block:
    element: Block = {
        "type": "button",
        "text": plain(text),
        "action_id": action_id,
        "value": value,
    }
    if style is not None:
        element["style"] = style
    if confirm is not None:
        element["confirm"] = confirm
    return element


def confirm_dialog(title: str, text: str, yes: str, no: str = "Abbrechen") -> Block:
    return {
        "title": plain(title),
        "text": mrkdwn(text),
        "confirm": plain(yes),
        "deny": plain(no),
        "style": "danger",
    }


def actions(block_id: str, *elements: Block) -> Block:
    return {"type": "actions", "block_id": block_id, "elements": list(elements)}


def message(text: str, blocks: Sequence[Block]) -> dict[str, Any]:
    """A message payload; ``text`` is the notification/fallback text (already escaped)."""
    return {"text": text, "blocks": list(blocks)}


def notice(text: str) -> dict[str, Any]:
    """A reply in sections: confirmations, refusals, errors (text already escaped)."""
    return message(truncate(text, SECTION_LIMIT), text_sections(text))
