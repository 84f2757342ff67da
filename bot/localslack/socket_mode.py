"""Slack's Socket Mode, locally: ``apps.connections.open`` hands out a ws:// URL, the
WebSocket greets with ``hello``, then carries envelopes to the app and its acks back.

The protocol as Slack runs it: each envelope is ``{envelope_id, type, payload,
accepts_response_payload}`` with type ``slash_commands``, ``events_api`` or
``interactive``; the app answers each with ``{"envelope_id": …}`` (plus ``payload`` where
the envelope accepts one) within three seconds.
"""

from __future__ import annotations

import asyncio
import json
import secrets
import uuid
from dataclasses import dataclass, field
from typing import Any

from aiohttp import WSMsgType, web

from bot.localslack.state import TEAM_ID

SOCKET_PATH = "/socket-mode"
ACK_SECONDS = 3.0
APP_ID = "A0TENDERBOT"


@dataclass
class SocketMode:
    """Tickets handed out by apps.connections.open, the open connections, and the acks."""

    tickets: set[str] = field(default_factory=set)
    connections: list[web.WebSocketResponse] = field(default_factory=list)
    acks: list[dict[str, Any]] = field(default_factory=list)
    _waiting: dict[str, asyncio.Future[dict[str, Any]]] = field(default_factory=dict)
    _connected: asyncio.Event = field(default_factory=asyncio.Event)

    def open_connection(self, root: str) -> dict[str, Any]:
        ticket = secrets.token_hex(8)
        self.tickets.add(ticket)
        url = root.replace("http://", "ws://", 1) + SOCKET_PATH.lstrip("/")
        return {"ok": True, "url": f"{url}?ticket={ticket}"}

    async def handle(self, request: web.Request) -> web.StreamResponse:
        ticket = request.query.get("ticket", "")
        if ticket not in self.tickets:
            return web.Response(status=401, text="invalid ticket")
        self.tickets.discard(ticket)  # one connection per ticket, as in Slack
        socket = web.WebSocketResponse(autoping=True)
        await socket.prepare(request)
        self.connections.append(socket)
        await socket.send_json(
            {
                "type": "hello",
                "num_connections": len(self.connections),
                "debug_info": {"host": "localslack", "approximate_connection_time": 3600},
                "connection_info": {"app_id": APP_ID},
            }
        )
        self._connected.set()
        try:
            async for message in socket:
                if message.type == WSMsgType.TEXT:
                    self._receive(json.loads(message.data))
        finally:
            self.connections.remove(socket)
            if not self.connections:
                self._connected.clear()
        return socket

    def _receive(self, data: Any) -> None:
        if not isinstance(data, dict) or "envelope_id" not in data:
            return
        self.acks.append(data)
        waiting = self._waiting.pop(str(data["envelope_id"]), None)
        if waiting is not None and not waiting.done():
            waiting.set_result(data)

    async def wait_connected(self, seconds: float = 30.0) -> None:
        async with asyncio.timeout(seconds):
            await self._connected.wait()

    async def send(
        self, kind: str, payload: dict[str, Any], *, accepts_response_payload: bool = False
    ) -> dict[str, Any]:
        """Send one envelope over the newest connection; returns the app's ack, or raises
        TimeoutError when none came within Slack's three seconds."""
        if not self.connections:
            raise ConnectionError("no Socket Mode connection is open")
        envelope_id = str(uuid.uuid4())
        ack: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._waiting[envelope_id] = ack
        await self.connections[-1].send_json(
            {
                "envelope_id": envelope_id,
                "type": kind,
                "payload": payload,
                "accepts_response_payload": accepts_response_payload,
            }
        )
        try:
            async with asyncio.timeout(ACK_SECONDS):
                return await ack
        finally:
            self._waiting.pop(envelope_id, None)

    async def close(self) -> None:
        for socket in list(self.connections):
            await socket.close()


def events_api_payload(event: dict[str, Any], event_id: str | None = None) -> dict[str, Any]:
    """What an ``events_api`` envelope carries: the Events API callback, as over HTTP."""
    return {
        "token": "verification-token",
        "team_id": TEAM_ID,
        "api_app_id": APP_ID,
        "event": event,
        "type": "event_callback",
        "event_id": event_id or "Ev" + secrets.token_hex(5).upper(),
        "event_time": int(event.get("event_ts", "0").split(".")[0] or 0),
        "authorizations": [{"team_id": TEAM_ID, "user_id": "U0TENDERBOT", "is_bot": True}],
    }
