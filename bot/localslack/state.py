"""What the local Slack remembers: users, channels and their messages, files, views, homes."""

from __future__ import annotations

import hashlib
import secrets
import time
from dataclasses import dataclass, field
from typing import Any

BOT_USER_ID = "U0TENDERBOT"
BOT_ID = "B0TENDERBOT"
TEAM_ID = "T0TENDER"
DEFAULT_BACKOFFICE = "C0BACKOFFICE"


@dataclass
class Call:
    """One request the app made, as the local Slack received it."""

    method: str
    # Query string, form fields and JSON body merged, as Slack itself reads them.
    params: dict[str, Any]
    json: dict[str, Any] | None
    form: dict[str, str]
    headers: dict[str, str]
    status: int = 200
    response: dict[str, Any] = field(default_factory=dict)
    # Why the local Slack refused the payload, as Slack words it (see bot.localslack.limits).
    problems: list[str] = field(default_factory=list)
    # The client's address and port: calls over one kept-alive connection share it.
    peer: str = ""


@dataclass
class StoredFile:
    id: str
    name: str
    mimetype: str
    content: bytes
    user: str
    title: str = ""
    shared_in: list[tuple[str, str | None]] = field(default_factory=list)
    # Picked in a file input of one of the app's views: the app may read it though it was
    # shared nowhere, as in Slack.
    from_file_input: bool = False

    def visible_to_bot(self) -> bool:
        """Slack lets the bot see its own files, files shared where it is, and file inputs'."""
        return self.user == BOT_USER_ID or bool(self.shared_in) or self.from_file_input

    def as_dict(self, root: str) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "title": self.title or self.name,
            "mimetype": self.mimetype,
            "filetype": self.name.rsplit(".", 1)[-1] if "." in self.name else "binary",
            "size": len(self.content),
            "user": self.user,
            "url_private": f"{root}files/{self.id}/{self.name}",
            "url_private_download": f"{root}files/{self.id}/{self.name}?download=1",
            "sha256": hashlib.sha256(self.content).hexdigest(),
        }


class TsClock:
    """Slack timestamps: seconds.microseconds, strictly increasing even under a frozen clock."""

    def __init__(self) -> None:
        self._last = 0

    def next(self) -> str:
        now = int(time.time() * 1_000_000)
        self._last = max(now, self._last + 1)
        seconds, micros = divmod(self._last, 1_000_000)
        return f"{seconds}.{micros:06d}"


@dataclass(frozen=True)
class ResponseTarget:
    """Where a slash command's or action's ``response_url`` leads."""

    user: str
    channel: str
    message_ts: str | None = None


def dm_channel_for(user_id: str) -> str:
    """The app's DM with a user: deterministic so tests and the console can name it."""
    return "D" + user_id[1:] if user_id.startswith(("U", "W")) else user_id


@dataclass
class SlackState:
    users: dict[str, dict[str, Any]] = field(default_factory=dict)
    # channel -> messages in posting order; replies carry thread_ts.
    channels: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    ephemerals: list[dict[str, Any]] = field(default_factory=list)
    responses: list[dict[str, Any]] = field(default_factory=list)
    files: dict[str, StoredFile] = field(default_factory=dict)
    views: dict[str, dict[str, Any]] = field(default_factory=dict)
    homes: dict[str, dict[str, Any]] = field(default_factory=dict)
    # channel id -> {"name", "members", "private"} for conversations.info; the default
    # backoffice channel has the bot invited.
    conversations: dict[str, dict[str, Any]] = field(
        default_factory=lambda: {
            DEFAULT_BACKOFFICE: {"name": "backoffice", "members": {BOT_USER_ID}}
        }
    )
    # response_url token -> what its posts change
    response_targets: dict[str, ResponseTarget] = field(default_factory=dict)
    # Where the server answers, for the URLs in file objects; set when it starts.
    root: str = ""
    clock: TsClock = field(default_factory=TsClock)
    _counter: int = 0

    def new_id(self, prefix: str) -> str:
        self._counter += 1
        return f"{prefix}0{self._counter:08d}"

    def new_token(self) -> str:
        """An unguessable token, as in a real ``response_url``."""
        return secrets.token_hex(8)

    def find(self, channel: str, ts: str) -> dict[str, Any] | None:
        for message in self.channels.get(channel, []):
            if message["ts"] == ts:
                return message
        return None

    def post(self, channel: str, message: dict[str, Any]) -> dict[str, Any]:
        message["ts"] = self.clock.next()
        message.setdefault("type", "message")
        thread_ts = message.get("thread_ts")
        if thread_ts:
            parent = self.find(channel, thread_ts)
            if parent is not None:
                parent.setdefault("thread_ts", parent["ts"])
                parent["reply_count"] = parent.get("reply_count", 0) + 1
        self.channels.setdefault(channel, []).append(message)
        # A message with files shares them where it is posted.
        for raw in message.get("files") or ():
            shared = self.files.get(str(raw.get("id"))) if isinstance(raw, dict) else None
            if shared is not None:
                shared.shared_in.append((channel, thread_ts))
        return message

    def thread(self, channel: str, thread_ts: str) -> list[dict[str, Any]]:
        return [
            message
            for message in self.channels.get(channel, [])
            if message["ts"] == thread_ts or message.get("thread_ts") == thread_ts
        ]

    def add_user(
        self, user_id: str, name: str, image: str | None = None, *, is_bot: bool = False
    ) -> None:
        avatar = image or f"https://avatars.example/{user_id}.png"
        self.users[user_id] = {
            "id": user_id,
            "team_id": TEAM_ID,
            "name": name.lower().replace(" ", "."),
            "real_name": name,
            "is_bot": is_bot,
            "profile": {
                "real_name": name,
                "display_name": name,
                "image_48": avatar,
                "image_72": avatar,
                "image_192": avatar,
            },
        }

    def add_channel(self, channel: str, name: str, *, bot_member: bool, private: bool) -> None:
        members = {BOT_USER_ID} if bot_member else set()
        self.conversations[channel] = {"name": name, "members": members, "private": private}

    def add_file(
        self,
        name: str,
        content: bytes,
        mimetype: str,
        *,
        user: str,
        file_id: str | None = None,
        from_file_input: bool = False,
    ) -> StoredFile:
        stored = StoredFile(
            id=file_id or self.new_id("F"),
            name=name,
            mimetype=mimetype,
            content=content,
            user=user,
            from_file_input=from_file_input,
        )
        self.files[stored.id] = stored
        return stored
