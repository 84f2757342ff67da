"""What each person sees in Slack, as readable text, from the local Slack's record of calls."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from bot.localslack.render import render_message, render_view
from bot.localslack.server import LocalSlack
from bot.localslack.state import Call


@dataclass
class Transcript:
    """Reads the calls made since the last ``new_entries`` and says who saw what."""

    slack: LocalSlack
    names: dict[str, str]
    backoffice_channel: str
    _cursor: int = 0
    _dialog_owner: dict[str, str] = field(default_factory=dict)

    def where(self, channel: str) -> str:
        if channel == self.backoffice_channel:
            return "#backoffice"
        if channel.startswith("D"):
            return f"DM mit {self.name('U' + channel[1:])}"
        return f"#{channel}"

    def name(self, user: str) -> str:
        return self.names.get(user, user)

    def new_entries(self, actor: str | None = None) -> list[tuple[str, str]]:
        """(heading, text) per visible change; dialogs are shown to ``actor``, who opened them."""
        calls = self.slack.calls()[self._cursor :]
        self._cursor += len(calls)
        entries: list[tuple[str, str]] = []
        for call in calls:
            entry = self._entry(call, actor)
            if entry is not None:
                entries.append(entry)
        return entries

    def _entry(self, call: Call, actor: str | None) -> tuple[str, str] | None:
        if call.status != 200 or not call.response.get("ok", False):
            if call.method in ("upload", "download"):
                return None
            error = call.response.get("error") or f"HTTP {call.status}"
            return (f"Slack lehnt {call.method} ab", str(error))
        params = call.params
        if call.method == "chat.postMessage":
            message = call.response.get("message", {})
            heading = self.where(str(call.response.get("channel", "")))
            if message.get("thread_ts"):
                heading += " (im Thread)"
            author = message.get("username")
            text = render_message(message, self.names)
            return heading, f"{author}: {text}" if author else text
        if call.method == "chat.update":
            updated = {**params, "blocks": _loaded(params.get("blocks"))}
            return f"{self.where(str(params.get('channel')))} (aktualisiert)", render_message(
                updated, self.names
            )
        if call.method == "chat.delete":
            return self.where(str(params.get("channel"))), "(Nachricht gelöscht)"
        if call.method == "chat.postEphemeral":
            user = self.name(str(params.get("user")))
            heading = f"{self.where(str(params.get('channel')))}, nur für {user} sichtbar"
            message = {**params, "blocks": _loaded(params.get("blocks"))}
            return heading, render_message(message, self.names)
        if call.method in ("response_url", "ack"):
            user = self.name(str(call.response.get("user")))
            visible = (
                "für alle sichtbar"
                if params.get("response_type") == "in_channel"
                else f"nur für {user} sichtbar"
            )
            heading = f"{self.where(str(call.response.get('channel')))}, {visible}"
            message = {**params, "blocks": _loaded(params.get("blocks"))}
            return heading, render_message(message, self.names)
        if call.method in ("views.open", "views.push", "views.update"):
            view = call.response.get("view", {})
            owner = self._dialog_owner.setdefault(str(view.get("id")), actor or "")
            return f"Dialog für {self.name(owner)}", render_view(view, self.names)
        if call.method == "views.publish":
            user = self.name(str(params.get("user_id")))
            return f"App Home von {user}", render_view(call.response.get("view", {}), self.names)
        if call.method == "files.completeUploadExternal":
            channel = str(params.get("channel_id") or "")
            names = ", ".join(f.get("name", "") for f in call.response.get("files", []))
            return self.where(channel), f"📎 Datei geteilt: {names}"
        if call.method == "reactions.add":
            return self.where(str(params.get("channel"))), f"Reaktion :{params.get('name')}:"
        return None


def _loaded(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str) and value else value
