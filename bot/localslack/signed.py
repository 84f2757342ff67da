"""Requests exactly as Slack sends them to the app: signed slash commands, actions, events.

Shared by the scenario tests, the demo, the console and the benchmark, so all of them exercise
the same path as production: HTTP → signature check → Bolt → listener.
"""

from __future__ import annotations

import json
import secrets
import time
from dataclasses import dataclass
from types import TracebackType
from typing import Any
from urllib.parse import urlencode

import aiohttp
from slack_sdk.signature import SignatureVerifier

from bot.localslack.limits import message_problems, view_problems
from bot.localslack.server import LocalSlack
from bot.localslack.state import TEAM_ID, dm_channel_for

API_APP_ID = "A0TENDERBOT"


@dataclass(frozen=True)
class SlackResponse:
    """The app's HTTP answer: status and body (an ack's text, a view's response_action …)."""

    status: int
    text: str

    def json(self) -> Any:
        return json.loads(self.text) if self.text else None


class SignedSender:
    """Sends signed requests to the app's ``/slack/events`` endpoint."""

    def __init__(self, events_url: str, signing_secret: str, slack: LocalSlack) -> None:
        self.events_url = events_url
        self.slack = slack
        self._verifier = SignatureVerifier(signing_secret)
        self._http: aiohttp.ClientSession | None = None

    async def __aenter__(self) -> SignedSender:
        self._http = aiohttp.ClientSession()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.close()

    async def close(self) -> None:
        if self._http is not None:
            await self._http.close()
            self._http = None

    def signed_headers(self, body: str, *, timestamp: int | None = None) -> dict[str, str]:
        stamp = str(timestamp if timestamp is not None else int(time.time()))
        signature = self._verifier.generate_signature(timestamp=stamp, body=body) or ""
        return {"X-Slack-Request-Timestamp": stamp, "X-Slack-Signature": signature}

    async def post(
        self, body: str, content_type: str, headers: dict[str, str] | None = None
    ) -> SlackResponse:
        """POST a raw body; ``headers`` replaces the signature headers (for refusal tests)."""
        if self._http is None:
            self._http = aiohttp.ClientSession()
        all_headers: dict[str, str] = {"Content-Type": content_type}
        all_headers.update(headers if headers is not None else self.signed_headers(body))
        async with self._http.post(
            self.events_url, data=body.encode("utf-8"), headers=all_headers
        ) as response:
            answer = SlackResponse(response.status, await response.text())
        await self._check_ack(answer)
        return answer

    async def _check_ack(self, answer: SlackResponse) -> None:
        """An ack may carry a message or a view; Slack shows it only within its limits."""
        try:
            body = answer.json()
        except ValueError:
            return
        if not isinstance(body, dict):
            return
        problems: list[str] = []
        if "blocks" in body or "text" in body:
            problems = message_problems(body)
        view = body.get("view")
        if body.get("response_action") in ("update", "push") and isinstance(view, dict):
            problems = view_problems(view)
        if problems:
            await self.slack.record_refused_ack(body, problems)

    async def post_form(self, fields: dict[str, str]) -> SlackResponse:
        return await self.post(urlencode(fields), "application/x-www-form-urlencoded")

    async def post_json(
        self, payload: dict[str, Any], extra_headers: dict[str, str] | None = None
    ) -> SlackResponse:
        body = json.dumps(payload)
        headers = self.signed_headers(body)
        headers.update(extra_headers or {})
        return await self.post(body, "application/json", headers)

    # -- what Slack sends --------------------------------------------------------------------

    def command_body(
        self, user_id: str, command: str, text: str = "", *, channel_id: str | None = None
    ) -> dict[str, str]:
        channel = channel_id or dm_channel_for(user_id)
        return {
            "token": "verification-token",
            "team_id": TEAM_ID,
            "team_domain": "tenderbot-local",
            "channel_id": channel,
            "channel_name": "directmessage" if channel.startswith("D") else "backoffice",
            "user_id": user_id,
            "user_name": user_id.lower(),
            "command": command,
            # As Slack sends it: &, < and > of what the person typed arrive escaped.
            "text": text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;"),
            "api_app_id": API_APP_ID,
            "is_enterprise_install": "false",
            "response_url": self.slack.response_url(user_id, channel),
            "trigger_id": _trigger_id(),
        }

    async def send_command(
        self, user_id: str, command: str, text: str = "", *, channel_id: str | None = None
    ) -> SlackResponse:
        body = self.command_body(user_id, command, text, channel_id=channel_id)
        answer = await self.post_form(body)
        shown = _ack_message(answer)
        if shown is not None:
            await self.slack.show_command_ack(user_id, body["channel_id"], shown)
        return answer

    def interactive_payload(self, user_id: str, payload: dict[str, Any]) -> dict[str, Any]:
        """Fill in what Slack adds to every interactive payload; ``payload`` wins."""
        channel = _nested(payload, "channel", "id") or _nested(payload, "container", "channel_id")
        message_ts = _nested(payload, "message", "ts") or _nested(
            payload, "container", "message_ts"
        )
        base: dict[str, Any] = {
            "type": "block_actions",
            "team": {"id": TEAM_ID, "domain": "tenderbot-local"},
            "user": {"id": user_id, "username": user_id.lower(), "team_id": TEAM_ID},
            "api_app_id": API_APP_ID,
            "token": "verification-token",
            "trigger_id": _trigger_id(),
            "is_enterprise_install": False,
        }
        if channel:
            base["response_url"] = self.slack.response_url(user_id, str(channel), message_ts)
        return {**base, **payload}

    async def send_action(self, user_id: str, payload: dict[str, Any]) -> SlackResponse:
        body = self.interactive_payload(user_id, payload)
        return await self.post_form({"payload": json.dumps(body)})

    async def send_button(
        self,
        user_id: str,
        action_id: str,
        value: str,
        *,
        channel: str | None = None,
        message: dict[str, Any] | None = None,
        block_id: str = "actions",
    ) -> SlackResponse:
        """Click a button on a message (e.g. a tender card) as ``user_id``."""
        channel = channel or dm_channel_for(user_id)
        payload: dict[str, Any] = {
            "actions": [
                {
                    "type": "button",
                    "action_id": action_id,
                    "block_id": block_id,
                    "value": value,
                    "action_ts": f"{time.time():.6f}",
                }
            ],
            "channel": {"id": channel, "name": channel},
            "container": {"type": "message", "channel_id": channel, "is_ephemeral": False},
        }
        if message is not None:
            payload["message"] = message
            payload["container"]["message_ts"] = message["ts"]
        return await self.send_action(user_id, payload)

    async def send_view_submission(self, user_id: str, view: dict[str, Any]) -> SlackResponse:
        view = {
            "id": "V0SUBMITTED",
            "team_id": TEAM_ID,
            "type": "modal",
            "private_metadata": "",
            "state": {"values": {}},
            "hash": f"{time.time():.6f}",
            "app_id": API_APP_ID,
            **view,
        }
        body = self.interactive_payload(
            user_id, {"type": "view_submission", "view": view, "response_urls": []}
        )
        return await self.post_form({"payload": json.dumps(body)})

    async def send_event(
        self,
        event: dict[str, Any],
        *,
        event_id: str | None = None,
        retry_num: int | None = None,
        retry_reason: str = "http_timeout",
    ) -> SlackResponse:
        payload = {
            "token": "verification-token",
            "team_id": TEAM_ID,
            "api_app_id": API_APP_ID,
            "event": {"event_ts": f"{time.time():.6f}", **event},
            "type": "event_callback",
            "event_id": event_id or "Ev" + secrets.token_hex(5).upper(),
            "event_time": int(time.time()),
            "authorizations": [{"team_id": TEAM_ID, "user_id": "U0TENDERBOT", "is_bot": True}],
        }
        headers: dict[str, str] = {}
        if retry_num is not None:
            headers = {"X-Slack-Retry-Num": str(retry_num), "X-Slack-Retry-Reason": retry_reason}
        return await self.post_json(payload, headers)

    async def send_message(
        self, user_id: str, channel: str, text: str, *, thread_ts: str | None = None
    ) -> SlackResponse:
        """A user writes in a channel or thread: Slack stores it, then sends the event."""
        event: dict[str, Any] = {
            "type": "message",
            "channel": channel,
            "user": user_id,
            # Slack stores and sends message text with &, < and > escaped.
            "text": text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;"),
            "channel_type": "im" if channel.startswith("D") else "channel",
        }
        if thread_ts:
            event["thread_ts"] = thread_ts
        posted = self.slack.state.post(channel, dict(event))
        event["ts"] = posted["ts"]
        return await self.send_event(event)


def _ack_message(answer: SlackResponse) -> dict[str, Any] | None:
    """The message an ack carries, if Slack would show it (HTTP 200, within the limits)."""
    if answer.status != 200:
        return None
    try:
        body = answer.json()
    except ValueError:
        return None
    if not isinstance(body, dict) or not ("text" in body or "blocks" in body):
        return None
    return None if message_problems(body) else body


def _trigger_id() -> str:
    return f"{int(time.time())}.{secrets.randbelow(10**12)}.{secrets.token_hex(16)}"


def _nested(payload: dict[str, Any], outer: str, inner: str) -> Any:
    value = payload.get(outer)
    return value.get(inner) if isinstance(value, dict) else None
