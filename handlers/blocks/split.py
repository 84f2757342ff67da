"""Long text cut into pieces Slack takes, without losing a character.

Pure functions: the builders (tender cards, ``/verlauf``, mirrored thread posts) and the
delivery of thread messages call them, whatever carries the pieces to Slack.
"""

from __future__ import annotations

import re

# Cut points from best to worst: a paragraph, a line, a word; a hard cut only without them.
_BREAKS = ("\n\n", "\n", " ")
# An escaped character (``&amp;``, ``&lt;``, ``&gt;``) must stay whole at a hard cut.
_ENTITY_TAIL = re.compile(r"&[a-z]{0,3}$")


def split_text(text: str, limit: int) -> list[str]:
    """``text`` in pieces of at most ``limit`` characters, in order.

    ``"".join(pieces) == text``: the whitespace at a cut stays at the end of the earlier
    piece. A cut falls after a blank line, a line end or a space where one exists in the
    second half of the window, so words are cut only when a single word is longer than
    half of ``limit``; even then never inside an escaped ``&amp;``/``&lt;``/``&gt;``.
    """
    if limit < 8:
        raise ValueError(f"limit {limit} is too small to split text sensibly")
    pieces: list[str] = []
    rest = text
    while len(rest) > limit:
        cut = _cut_point(rest, limit)
        pieces.append(rest[:cut])
        rest = rest[cut:]
    if rest or not pieces:
        pieces.append(rest)
    return pieces


def _cut_point(text: str, limit: int) -> int:
    window = text[:limit]
    for mark in _BREAKS:
        found = window.rfind(mark, limit // 2)
        if found != -1:
            return found + len(mark)
    tail = _ENTITY_TAIL.search(window)
    return tail.start() if tail is not None else limit


def pack(pieces: list[str], limit: int, separator: str = "\n") -> list[str]:
    """Consecutive pieces joined with ``separator`` into texts of at most ``limit``.

    A piece longer than ``limit`` is split (``split_text``) and goes on in the next text.
    Every character is kept in order: a separator is left out only where a new text starts
    between two pieces (the next section is a new line anyway), never inside a piece.
    """
    packed: list[str] = []
    current: str | None = None
    for piece in pieces:
        for index, part in enumerate(split_text(piece, limit)):
            joint = separator if index == 0 else ""
            if current is None:
                current = part
            elif len(current) + len(joint) + len(part) <= limit:
                current = f"{current}{joint}{part}"
            else:
                packed.append(current)
                current = part
    if current is not None:
        packed.append(current)
    return packed


def paginate(texts: list[str], budget: int, most: int) -> list[list[str]]:
    """Consecutive texts grouped into pages of at most ``most`` texts and ``budget``
    characters in all (a longer text gets a page of its own); never an empty page."""
    pages: list[list[str]] = [[]]
    size = 0
    for text in texts:
        page = pages[-1]
        if page and (len(page) >= most or size + len(text) > budget):
            pages.append([])
            page, size = pages[-1], 0
        page.append(text)
        size += len(text)
    return pages
