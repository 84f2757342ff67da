"""Block Kit as plain text: what a person would read in Slack, for the demo and console."""

from __future__ import annotations

import html
import re
from collections.abc import Iterable
from typing import Any

DIVIDER = "─" * 40
_LINK = re.compile(r"<([^<>|]+)\|([^<>]+)>")
_BARE = re.compile(r"<([^<>]+)>")


def mrkdwn(text: str, names: dict[str, str] | None = None) -> str:
    """Slack's markup to plain text: links show their label, mentions a name."""
    names = names or {}

    def link(match: re.Match[str]) -> str:
        target, label = match.group(1), match.group(2)
        return label if target.startswith(("@", "#", "!")) else f"{label} ({target})"

    def bare(match: re.Match[str]) -> str:
        target = match.group(1)
        if target.startswith("@"):
            return "@" + names.get(target[1:], target[1:])
        if target.startswith("#"):
            return "#" + target[1:].split("|")[0]
        if target.startswith("!"):
            return "@" + target[1:]
        return target

    return html.unescape(_BARE.sub(bare, _LINK.sub(link, text)))


def _text(obj: Any, names: dict[str, str] | None = None) -> str:
    if isinstance(obj, dict):
        if obj.get("type") == "image":
            return f"[Bild: {obj.get('alt_text', '')}]"
        value = str(obj.get("text", ""))
        return mrkdwn(value, names) if obj.get("type") == "mrkdwn" else html.unescape(value)
    return "" if obj is None else str(obj)


def _element(element: dict[str, Any]) -> str:
    kind = element.get("type", "")
    if kind == "button":
        return f"[{_text(element.get('text'))}]"
    if kind in ("static_select", "external_select", "users_select", "conversations_select"):
        chosen = element.get("initial_option")
        label = _text(chosen["text"]) if chosen else _text(element.get("placeholder")) or "…"
        return f"[Auswahl: {label} ▾]"
    if kind == "overflow":
        return "[⋯]"
    if kind == "datepicker":
        return f"[Datum: {element.get('initial_date') or '…'}]"
    if kind == "checkboxes":
        return " ".join(f"☐ {_text(option.get('text'))}" for option in element.get("options", []))
    if kind == "plain_text_input":
        initial = element.get("initial_value") or _text(element.get("placeholder"))
        return f"[{initial or '…'}]"
    if kind == "file_input":
        return "[Datei wählen]"
    return f"[{kind}]"


def _rich_text(element: dict[str, Any]) -> str:
    parts: list[str] = []
    for part in element.get("elements", []):
        if "elements" in part:
            parts.append(_rich_text(part))
        elif part.get("type") == "user":
            parts.append("@" + str(part.get("user_id", "")))
        elif part.get("type") == "link":
            parts.append(str(part.get("text") or part.get("url", "")))
        else:
            parts.append(str(part.get("text", "")))
    return "".join(parts)


def render_block(block: dict[str, Any], names: dict[str, str] | None = None) -> list[str]:
    kind = block.get("type")
    if kind == "header":
        return [f"== {_text(block.get('text'))} =="]
    if kind == "divider":
        return [DIVIDER]
    if kind == "section":
        lines = _text(block.get("text"), names).splitlines() if block.get("text") else []
        fields = [_text(field, names).replace("\n", " ") for field in block.get("fields", [])]
        lines.extend(f"  {field}" for field in fields)
        accessory = block.get("accessory")
        if isinstance(accessory, dict):
            lines.append(f"  {_element(accessory)}")
        return lines
    if kind == "context":
        return ["  " + " · ".join(_text(e, names) for e in block.get("elements", []))]
    if kind == "actions":
        return ["  " + " ".join(_element(e) for e in block.get("elements", []))]
    if kind == "input":
        hint = f" ({_text(block.get('hint'))})" if block.get("hint") else ""
        optional = " (optional)" if block.get("optional") else ""
        label = _text(block.get("label"))
        return [f"{label}{optional}: {_element(block.get('element', {}))}{hint}"]
    if kind == "image":
        return [f"[Bild: {block.get('alt_text', '')}]"]
    if kind == "rich_text":
        return _rich_text(block).splitlines()
    return [f"[{kind}]"]


def render_blocks(
    blocks: Iterable[dict[str, Any]] | None,
    fallback: str = "",
    names: dict[str, str] | None = None,
) -> str:
    """The blocks as text; without blocks the message's ``text`` is what people read."""
    lines = [line for block in blocks or [] for line in render_block(block, names)]
    if not lines:
        return mrkdwn(fallback, names)
    return "\n".join(lines)


def render_message(message: dict[str, Any], names: dict[str, str] | None = None) -> str:
    body = render_blocks(message.get("blocks"), str(message.get("text") or ""), names)
    files = [f"📎 {f.get('title') or f.get('name')}" for f in message.get("files", [])]
    return "\n".join(part for part in [body, *files] if part)


def render_view(view: dict[str, Any], names: dict[str, str] | None = None) -> str:
    title = _text(view.get("title")) or ("App Home" if view.get("type") == "home" else "Dialog")
    lines = [f"┌ {title}", render_blocks(view.get("blocks"), "", names)]
    buttons = [f"[{_text(view[key])}]" for key in ("close", "submit") if view.get(key)]
    if buttons:
        lines.append(" ".join(buttons))
    return "\n".join(lines)
