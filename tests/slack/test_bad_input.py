"""Bad input at the HTTP edge: correctly signed but malformed, oversized, unknown — a 4xx or a
quiet 200, never a 500, and nothing written."""

from __future__ import annotations

import hashlib
import hmac
import logging
import time
from typing import Any

import aiohttp
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.http import MAX_BODY_BYTES
from bot.localslack import LocalSlack, SignedSender
from bot.localslack.running import RunningApp
from store.models import Broker, Message, Tender
from tests.handlers.scenario import STRANGER
from tests.slack.conftest import SIGNING_SECRET

FORM = "application/x-www-form-urlencoded"
JSON = "application/json"

MALFORMED = [
    pytest.param(b'{"type": "event_callback", "event": {', JSON, id="truncated-json"),
    pytest.param(b"[1, 2, 3]", JSON, id="json-array"),
    pytest.param(b'"nur ein Text"', JSON, id="json-string"),
    pytest.param(b'{"type": "event_callback", "text": "Gr\xfc\xdfe"}', JSON, id="latin-1-json"),
    pytest.param(b"command=%2Fangebote&text=Gr\xfc\xdfe", FORM, id="latin-1-form"),
    pytest.param(b"payload=%7Bnot-json", FORM, id="payload-not-json"),
    pytest.param(b"payload=%5B1%5D", FORM, id="payload-array"),
    pytest.param(b'{"type": "block_actions", "actions": "x"}', JSON, id="actions-not-a-list"),
    pytest.param(
        b"payload=%7B%22type%22%3A%22block_actions%22%2C%22actions%22%3A5%7D",
        FORM,
        id="payload-actions-a-number",
    ),
]


async def post_raw(
    served: RunningApp, body: bytes, content_type: str, *, signed: bool = True
) -> tuple[int, str]:
    stamp = str(int(time.time()))
    # Computed here, as Slack does, over the raw bytes: slack_sdk signs only UTF-8 text.
    secret = (SIGNING_SECRET if signed else "another secret").encode()
    digest = hmac.new(secret, b"v0:" + stamp.encode() + b":" + body, hashlib.sha256)
    headers = {
        "Content-Type": content_type,
        "X-Slack-Request-Timestamp": stamp,
        "X-Slack-Signature": f"v0={digest.hexdigest()}",
    }
    async with (
        aiohttp.ClientSession() as http,
        http.post(f"{served.base_url}/slack/events", data=body, headers=headers) as response,
    ):
        return response.status, await response.text()


async def row_counts(sessions: async_sessionmaker[AsyncSession]) -> tuple[int, ...]:
    async with sessions() as session:
        return tuple(
            [
                int(await session.scalar(select(func.count()).select_from(table)) or 0)
                for table in (Broker, Tender, Message)
            ]
        )


@pytest.mark.parametrize(("body", "content_type"), MALFORMED)
async def test_it_answers_a_signed_malformed_body_with_400_and_writes_nothing(
    served: RunningApp,
    sessions: async_sessionmaker[AsyncSession],
    slack: LocalSlack,
    body: bytes,
    content_type: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    before = await row_counts(sessions)
    caplog.set_level(logging.WARNING, logger="tenderbot.http")

    status, text = await post_raw(served, body, content_type)

    assert (status, text) == (400, '{"error": "malformed request"}')
    assert await row_counts(sessions) == before
    # Bolt may have asked who it is (auth.test); nothing was posted, opened or updated.
    assert [call.method for call in slack.calls() if call.method != "auth.test"] == []
    refusals = [r for r in caplog.records if "refused a signed Slack request" in r.getMessage()]
    assert len(refusals) == 1
    assert "\n" not in refusals[0].getMessage()


@pytest.mark.parametrize(("body", "content_type"), MALFORMED)
async def test_it_answers_an_unsigned_malformed_body_with_401(
    served: RunningApp, body: bytes, content_type: str
) -> None:
    status, _text = await post_raw(served, body, content_type, signed=False)

    assert status == 401


async def test_it_refuses_an_oversized_body_with_413(
    served: RunningApp, sessions: async_sessionmaker[AsyncSession]
) -> None:
    before = await row_counts(sessions)
    body = b"command=%2Fangebote&text=" + b"A" * MAX_BODY_BYTES

    status, _text = await post_raw(served, body, FORM)

    assert status == 413
    assert await row_counts(sessions) == before


async def test_it_acknowledges_an_event_type_it_has_no_listener_for_and_logs_it(
    slack_request: SignedSender, slack: LocalSlack, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="tenderbot.http")

    response = await slack_request.send_event(
        {"type": "star_added", "user": "U0ANNA"}, event_id="EvUnknown1"
    )

    # 200, not Bolt's 404: Slack would retry a 404 three times for nothing.
    assert response.status == 200
    assert any(
        "no listener for Slack event star_added (EvUnknown1)" in record.getMessage()
        for record in caplog.records
    )
    assert slack.calls("chat.postMessage") == []


async def test_it_answers_an_unknown_user_in_german_and_writes_nothing(
    slack_request: SignedSender, slack: LocalSlack, sessions: async_sessionmaker[AsyncSession]
) -> None:
    before = await row_counts(sessions)

    response = await slack_request.send_command(STRANGER, "/angebote", "AS-2026-0001")

    assert response.status == 200
    await slack.wait_for(lambda: len(slack.responses(STRANGER)) == 1)
    answer: dict[str, Any] = slack.responses(STRANGER)[0]
    assert "Vermittler" in str(answer.get("text", "")) + str(answer.get("blocks", ""))
    assert await row_counts(sessions) == before


async def test_it_ignores_a_message_in_a_channel_that_is_no_tender_thread(
    slack_request: SignedSender, slack: LocalSlack, sessions: async_sessionmaker[AsyncSession]
) -> None:
    before = await row_counts(sessions)

    response = await slack_request.send_event(
        {
            "type": "message",
            "channel": "C0UNKNOWN",
            "user": STRANGER,
            "text": "Hallo?",
            "thread_ts": "1767000000.000900",
            "ts": "1767000000.000901",
            "channel_type": "channel",
        }
    )

    assert response.status == 200
    await slack.settle()
    assert await row_counts(sessions) == before
    assert slack.calls("chat.postMessage") == []
