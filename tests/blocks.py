"""Find a Block Kit block by its ``block_id``: tests assert on what a block means, not on
where it happens to stand in the list."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

Blocks = Mapping[str, Any] | Sequence[Mapping[str, Any]]


def _blocks(payload: Blocks) -> Sequence[Mapping[str, Any]]:
    """A message, a view or a plain list of blocks."""
    if isinstance(payload, Mapping):
        return list(payload["blocks"])
    return payload


def find_block(payload: Blocks, block_id: str) -> dict[str, Any] | None:
    found = [dict(item) for item in _blocks(payload) if item.get("block_id") == block_id]
    assert len(found) <= 1, f"block_id {block_id!r} is not unique"
    return found[0] if found else None


def block(payload: Blocks, block_id: str) -> dict[str, Any]:
    """The one block with ``block_id``; fails the test when there is none."""
    found = find_block(payload, block_id)
    ids = [item.get("block_id") for item in _blocks(payload)]
    assert found is not None, f"no block {block_id!r} among {ids}"
    return found


def block_text(payload: Blocks, block_id: str) -> str:
    """The text a person reads in that block: a header's or section's text, or a context's
    elements joined."""
    found = block(payload, block_id)
    if "text" in found:
        return str(found["text"]["text"])
    return " ".join(str(element.get("text", "")) for element in found.get("elements", []))


def sections_text(payloads: Sequence[Blocks]) -> str:
    """All section texts of the messages or views, in order: the body a person reads."""
    return "".join(
        str(item["text"]["text"])
        for payload in payloads
        for item in _blocks(payload)
        if item["type"] == "section" and "text" in item
    )
