"""``POST /platform/events``: the broker platform's signed events (policy system, calculator).

Signed like Slack's requests, with its own secret: ``X-Tenderbot-Timestamp`` (Unix seconds)
and ``X-Tenderbot-Signature: v1=<hex HMAC-SHA256 of "v1:{timestamp}:{raw body}">``. A wrong
signature or a timestamp more than five minutes off is answered 401 before anything is read.
Then: parse into one validated event, apply it with one service call, render its answer.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import time
from collections.abc import Awaitable, Callable

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from store.platform import apply_event
from store.platform_events import EventInvalid, parse_event

logger = logging.getLogger("tenderbot.platform")

PLATFORM_PATH = "/platform/events"
TIMESTAMP_HEADER = "X-Tenderbot-Timestamp"
SIGNATURE_HEADER = "X-Tenderbot-Signature"
MAX_SKEW_SECONDS = 5 * 60
# Events are small JSON objects; anything larger is not one of them.
MAX_BODY_BYTES = 64 * 1024


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """The signature the platform sends: ``v1=`` and the hex HMAC-SHA256 of v1:{ts}:{body}."""
    base = b"v1:" + timestamp.encode() + b":" + body
    return "v1=" + hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()


def signature_problem(
    secret: str, timestamp: str | None, signature: str | None, body: bytes, now: float
) -> str | None:
    """Why the request is not the platform's, in one line for the log; None if it is."""
    if not timestamp or not signature:
        return "timestamp or signature header missing"
    if not timestamp.isdigit():
        return "timestamp is not Unix seconds"
    if abs(now - int(timestamp)) > MAX_SKEW_SECONDS:
        return "timestamp more than 5 minutes off"
    if not hmac.compare_digest(sign(secret, timestamp, body), signature.strip()):
        return "signature does not match"
    return None


def _dumps(value: object) -> str:
    # German messages readable in a terminal and a log, not as \u escapes.
    return json.dumps(value, ensure_ascii=False)


def _unauthorized() -> web.Response:
    return web.json_response(
        {"code": "invalid_signature", "message": "Signatur ungültig oder Zeitstempel veraltet."},
        status=401,
        dumps=_dumps,
    )


def platform_handler(
    secret: str, sessions: async_sessionmaker[AsyncSession]
) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    async def handle(request: web.Request) -> web.StreamResponse:
        if request.content_length is not None and request.content_length > MAX_BODY_BYTES:
            return web.json_response(
                {"errors": [{"field": "body", "message": "zu groß für ein Ereignis"}]},
                status=413,
            )
        body = await request.read()
        problem = signature_problem(
            secret,
            request.headers.get(TIMESTAMP_HEADER),
            request.headers.get(SIGNATURE_HEADER),
            body,
            time.time(),
        )
        if problem is not None:
            logger.warning("platform event refused (401): %s", problem)
            return _unauthorized()
        try:
            event = parse_event(body)
        except EventInvalid as invalid:
            return web.json_response(invalid.to_json(), status=422, dumps=_dumps)
        outcome = await apply_event(sessions, event)
        return web.json_response(outcome.body, status=outcome.http_status, dumps=_dumps)

    return handle
