"""The documents given at a tender's start (rule T1), as one line on cards and in /verlauf."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from handlers.blocks.base import escape, line_sections


class Document(Protocol):
    name: str
    size: int


def size_text(size: int) -> str:
    if size < 1024:
        return f"{size} B"
    if size < 1024 * 1024:
        return f"{round(size / 1024)} KB"
    return f"{size / (1024 * 1024):.1f} MB".replace(".", ",")


def documents_texts(documents: Sequence[Document]) -> list[str]:
    """``*Dokumente*`` and one line per file, in as few section texts as Slack's 3000
    characters per section allow (ten escaped 255-character names need two)."""
    lines = [f"📎 {escape(document.name)} ({size_text(document.size)})" for document in documents]
    return [block["text"]["text"] for block in line_sections(["*Dokumente*", *lines])]
